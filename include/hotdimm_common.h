/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by the module, hotdimmctl and the unit tests.
 *
 * The pure-logic files (parse.c, blocks.c, accounting.c, vmem_proto.c)
 * include only this header and their own, so that they compile unchanged in
 * the kernel and in userspace.
 */
#ifndef HOTDIMM_COMMON_H
#define HOTDIMM_COMMON_H

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
/* Kernel type names for the shared code (userspace has only <stdint.h>). */
#define u64 uint64_t
#define u32 uint32_t
#define u16 uint16_t
#define u8 uint8_t
#ifndef U64_MAX
#define U64_MAX UINT64_MAX
#endif
#ifndef U32_MAX
#define U32_MAX UINT32_MAX
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#endif

/* Names that the module, the tool and the tests agree on. */
#define HOTDIMM_DRIVER_NAME	"hotdimm"
#define HOTDIMM_RESOURCE_NAME	"System RAM (hotdimm)"
#define HOTDIMM_SYSFS_DEVICES	"/sys/bus/platform/devices"
#define HOTDIMM_SYSFS_PARAMS	"/sys/module/hotdimm/parameters"

#endif /* HOTDIMM_COMMON_H */

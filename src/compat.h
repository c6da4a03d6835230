/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place for kernel-version and configuration differences. Each shim
 * names the kernel version and the change it covers. Supported: 5.15+
 * (memory groups), tested on 6.1 and 6.12.
 *
 * HOTDIMM_KV is the target kernel's KERNEL_VERSION(major, minor, 0), set by
 * Kbuild from kbuild's VERSION and PATCHLEVEL.
 */
#ifndef HOTDIMM_COMPAT_H
#define HOTDIMM_COMPAT_H

#include <linux/version.h>
#include <linux/memory_hotplug.h>
#include <linux/mmzone.h>
#include <linux/platform_device.h>
#include <linux/sizes.h>

#if KERNEL_VERSION(5, 15, 0) > HOTDIMM_KV
#error "hotdimm needs Linux 5.15 or newer (memory groups, MHP_NID_IS_MGID)"
#endif

/*
 * 6.3 added platform_driver.remove_new (void); 6.11 made .remove itself
 * return void. Write remove() as void and let this pick the field.
 */
#if KERNEL_VERSION(6, 3, 0) > HOTDIMM_KV
#define HOTDIMM_DEFINE_PLATFORM_REMOVE(fn)				\
	static int fn##_compat(struct platform_device *pdev)		\
	{								\
		fn(pdev);						\
		return 0;						\
	}
#define HOTDIMM_PLATFORM_REMOVE(fn)	.remove = fn##_compat
#elif KERNEL_VERSION(6, 11, 0) > HOTDIMM_KV
#define HOTDIMM_DEFINE_PLATFORM_REMOVE(fn)
#define HOTDIMM_PLATFORM_REMOVE(fn)	.remove_new = fn
#else
#define HOTDIMM_DEFINE_PLATFORM_REMOVE(fn)
#define HOTDIMM_PLATFORM_REMOVE(fn)	.remove = fn
#endif

/* zone->cma_pages exists only with CONFIG_CMA (5.10+). */
static inline unsigned long hotdimm_zone_cma_pages(const struct zone *zone)
{
#ifdef CONFIG_CMA
	return zone->cma_pages;
#else
	return 0;
#endif
}

/*
 * x86: is every page of [start, start + size) RAM in the firmware's memory
 * map (also when mem= hid it from Linux)? e820__mapped_all() is not
 * exported, e820__mapped_raw_any() is: ask it page by page.
 */
#ifdef CONFIG_X86
#include <asm/e820/api.h>
#include <linux/sched.h>
static inline bool hotdimm_firmware_ram(u64 start, u64 size)
{
	u64 a;

	for (a = start; a < start + size; a += PAGE_SIZE) {
		if (!e820__mapped_raw_any(a, a + PAGE_SIZE, E820_TYPE_RAM))
			return false;
		if (!(a & (SZ_128M - 1)))
			cond_resched();
	}
	return true;
}
#else
static inline bool hotdimm_firmware_ram(u64 start, u64 size)
{
	return true;
}
#endif

/* 6.2 renamed del_timer_sync() to timer_delete_sync() (old name gone in 6.15). */
#if KERNEL_VERSION(6, 2, 0) > HOTDIMM_KV
#define hotdimm_timer_delete_sync(t)	del_timer_sync(t)
#else
#define hotdimm_timer_delete_sync(t)	timer_delete_sync(t)
#endif

#endif /* HOTDIMM_COMPAT_H */

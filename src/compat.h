/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place for kernel-version and configuration differences. Each shim
 * names the kernel version and the change it covers. Supported: 5.15+
 * (memory groups), tested on 6.1, 6.12 and 7.3. Where a backport could
 * make a version number lie, Kbuild probes the headers and defines
 * HOTDIMM_HAVE_*.
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

/* 6.16 renamed from_timer() to timer_container_of() (probed by Kbuild). */
#ifndef HOTDIMM_HAVE_TIMER_CONTAINER_OF
#define timer_container_of(var, t, field)	from_timer(var, t, field)
#endif

/* 6.2 renamed del_timer_sync() to timer_delete_sync() (old name gone in 6.15). */
#if KERNEL_VERSION(6, 2, 0) > HOTDIMM_KV
#define hotdimm_timer_delete_sync(t)	del_timer_sync(t)
#else
#define hotdimm_timer_delete_sync(t)	timer_delete_sync(t)
#endif

#endif /* HOTDIMM_COMPAT_H */

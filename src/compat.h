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
#include <linux/gfp.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/page-flags.h>
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

/* 6.16 (probed by Kbuild): alloc_contig_range() takes acr_flags_t, not a migratetype. */
#ifdef HOTDIMM_HAVE_ACR_FLAGS
#define hotdimm_alloc_contig_range(s, e) \
	alloc_contig_range(s, e, ACR_FLAGS_NONE, GFP_KERNEL)
#else
#define hotdimm_alloc_contig_range(s, e) \
	alloc_contig_range(s, e, MIGRATE_MOVABLE, GFP_KERNEL)
#endif

/*
 * 6.13 added const bin_attribute callbacks (read_new, bin_attrs_new); 6.16
 * made .read and .bin_attrs themselves const (probed by Kbuild). Declare
 * binary attributes, their read() and their group list with this.
 */
#ifdef HOTDIMM_HAVE_CONST_BIN_ATTR
#define HOTDIMM_BIN_CONST	const
#else
#define HOTDIMM_BIN_CONST
#endif

/*
 * 6.11 initialises hotplugged memmaps as PageOffline, not PageReserved
 * (probed by Kbuild). Before, pages kept from the buddy at onlining must be
 * marked PageOffline (and unreserved, or offlining sees them as unmovable).
 */
#ifndef HOTDIMM_HAVE_ONLINE_PAGEOFFLINE
static inline void hotdimm_keep_fresh_pages(unsigned long pfn, unsigned long nr)
{
	page_offline_begin();
	for (; nr--; pfn++) {
		__SetPageOffline(pfn_to_page(pfn));
		ClearPageReserved(pfn_to_page(pfn));
	}
	page_offline_end();
}

static inline void hotdimm_release_fresh_pages(unsigned long pfn, unsigned long nr)
{
	for (; nr--; pfn++)
		__ClearPageOffline(pfn_to_page(pfn));
}
#else
/* Already PageOffline; generic_online_page() clears it. */
static inline void hotdimm_keep_fresh_pages(unsigned long pfn, unsigned long nr)
{
}

static inline void hotdimm_release_fresh_pages(unsigned long pfn, unsigned long nr)
{
}
#endif

/*
 * 6.11 makes offline_pages() leave PageOffline pages out of the managed
 * count (probed by Kbuild). Before, it takes all pages off it, so the
 * count of our holes must be given back at MEM_GOING_OFFLINE (and taken
 * again at MEM_CANCEL_OFFLINE).
 */
#ifndef HOTDIMM_HAVE_OFFLINE_UNMANAGED
static inline void hotdimm_offline_adjust_managed(unsigned long pfn, unsigned long nr,
						  bool undo)
{
	adjust_managed_page_count(pfn_to_page(pfn), undo ? -(long)nr : (long)nr);
}
#else
static inline void hotdimm_offline_adjust_managed(unsigned long pfn, unsigned long nr,
						  bool undo)
{
}
#endif

#endif /* HOTDIMM_COMPAT_H */

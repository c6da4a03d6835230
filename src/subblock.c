// SPDX-License-Identifier: GPL-2.0
/*
 * Sub-block mechanism: plugging and unplugging parts of a memory block that
 * is online, so that the host gets back every free sub-block (2 MiB on
 * x86-64) of a block that cannot be offlined as a whole, and a request is
 * honoured to the sub-block. The worker (core.c) decides which sub-blocks;
 * this file only knows how.
 *
 * A sub-block that is not plugged at the transport (a "hole") of an online
 * block has pages that hotdimm owns: PageOffline, reference count 1, never
 * in the buddy allocator, not counted as managed memory. Nothing reads or
 * writes them (/proc/kcore, hibernation images and dump tools skip
 * PageOffline pages). Holes come from two places:
 *  - unplug of an online sub-block: alloc_contig_range() migrates its data
 *    away and hands us the pages ("fake offline"), then the transport
 *    unplugs it; undone with free_contig_range() when the host refuses;
 *  - onlining a block that is only partly plugged: the online-page callback
 *    keeps the holes' pages away from the buddy allocator ("fresh" holes,
 *    later released with generic_online_page()). There is one such callback
 *    in the whole system; when another driver (the in-tree virtio_mem,
 *    hv_balloon) holds it, blocks with holes are never onlined: new blocks
 *    are plugged whole and their tail unplugged once online.
 * The memory notifier (online.c) drops our reference to the holes' pages at
 * MEM_GOING_OFFLINE, so that a block with holes can still be offlined, and
 * takes it back at MEM_CANCEL_OFFLINE.
 */
#include <linux/gfp.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/page_ref.h>

#include "compat.h"
#include "hotdimm.h"

/* The online-page callback is ours (set at load, restored at unload). */
static bool hd_have_callback;

bool hotdimm_sb_have_callback(void)
{
	return hd_have_callback;
}

static u64 hd_sb_addr(const struct hotdimm_dev *hd, u64 idx, unsigned int sb)
{
	return hd->start + idx * hd->block_size + (u64)sb * hd->sb_size;
}

/* Mark pages we took from the buddy allocator as ours. */
static void hd_set_offline(unsigned long pfn, unsigned long nr)
{
	page_offline_begin();
	for (; nr--; pfn++)
		__SetPageOffline(pfn_to_page(pfn));
	page_offline_end();
}

static void hd_clear_offline(unsigned long pfn, unsigned long nr)
{
	for (; nr--; pfn++)
		__ClearPageOffline(pfn_to_page(pfn));
}

/*
 * Take sub-block @sb of online block @idx from Linux and unplug it at the
 * transport. Returns 0, -EBUSY when its pages cannot be migrated now,
 * -ENOMEM, or the transport's error (everything undone then).
 *
 * Context: the device's worker, no spinlock held.
 */
int hotdimm_sb_unplug_online(struct hotdimm_dev *hd, u64 idx, unsigned int sb)
{
	u64 addr = hd_sb_addr(hd, idx, sb);
	unsigned long pfn = PHYS_PFN(addr), nr = hd->sb_size >> PAGE_SHIFT;
	bool movable = is_zone_movable_page(pfn_to_page(pfn));
	int ret, tries;

	/* ZONE_MOVABLE promises migration: retry transient failures there. */
	for (tries = 0; tries < (movable ? 3 : 1); tries++) {
		ret = hotdimm_alloc_contig_range(pfn, pfn + nr);
		if (!ret || ret == -ENOMEM)
			break;
	}
	if (ret)
		return ret == -ENOMEM ? ret : -EBUSY;
	hd_set_offline(pfn, nr);
	adjust_managed_page_count(pfn_to_page(pfn), -(long)nr);

	ret = hd->ops->unplug ? hd->ops->unplug(hd, addr, hd->sb_size) : 0;
	if (ret) {
		hd_clear_offline(pfn, nr);
		free_contig_range(pfn, nr);
		adjust_managed_page_count(pfn_to_page(pfn), nr);
		return ret;
	}
	spin_lock(&hd->lock);
	hotdimm_block_set_holes(&hd->bk, idx, hd->bk.b[idx].holes | BIT_ULL(sb));
	spin_unlock(&hd->lock);
	return 0;
}

/*
 * Plug hole @sb of block @idx at the transport and, if the block is online,
 * give its pages to the buddy allocator. Context as above.
 */
int hotdimm_sb_plug(struct hotdimm_dev *hd, u64 idx, unsigned int sb)
{
	u64 addr = hd_sb_addr(hd, idx, sb);
	unsigned long pfn = PHYS_PFN(addr), nr = hd->sb_size >> PAGE_SHIFT;
	bool online, fresh;
	unsigned long i, chunk;
	int ret;

	ret = hd->ops->plug ? hd->ops->plug(hd, addr, hd->sb_size) : 0;
	if (ret)
		return ret;
	spin_lock(&hd->lock);
	online = hd->bk.b[idx].state == HOTDIMM_BLOCK_KERNEL ||
		 hd->bk.b[idx].state == HOTDIMM_BLOCK_MOVABLE;
	fresh = hd->bk.b[idx].fresh & BIT_ULL(sb);
	hotdimm_block_set_holes(&hd->bk, idx, hd->bk.b[idx].holes & ~BIT_ULL(sb));
	spin_unlock(&hd->lock);
	/*
	 * An offline block keeps its pages offline; onlining initialises
	 * them. While we hold the pages (reference 1), the block cannot go
	 * offline under us.
	 */
	if (!online)
		return 0;
	if (fresh) {
		/* Never onlined: the way onlining would have done it. */
		chunk = min_t(unsigned long, nr, MAX_ORDER_NR_PAGES);
		for (i = 0; i < nr; i += chunk) {
			hotdimm_release_fresh_pages(pfn + i, chunk);
			generic_online_page(pfn_to_page(pfn + i), ilog2(chunk));
		}
		return 0;
	}
	hd_clear_offline(pfn, nr);
	free_contig_range(pfn, nr);
	adjust_managed_page_count(pfn_to_page(pfn), nr);
	return 0;
}

/*
 * Online-page callback: hand plugged parts of a range to the buddy
 * allocator, keep holes of hotdimm blocks ("fresh" holes). Called by
 * online_pages() with the hotplug locks held; takes only spinlocks.
 */
static void hd_online_page_cb(struct page *page, unsigned int order)
{
	u64 addr = PFN_PHYS(page_to_pfn(page)), end = addr + (PAGE_SIZE << order);
	unsigned long chunk_pages;
	struct hotdimm_dev *hd;
	u64 holes = 0, idx, a;

	spin_lock(&hotdimm_devs_lock);
	hd = hotdimm_find_dev(addr);
	if (hd) {
		idx = (addr - hd->start) / hd->block_size;
		spin_lock(&hd->lock);
		holes = hd->bk.b[idx].holes;
		hd->bk.b[idx].fresh = holes;
		spin_unlock(&hd->lock);
	}
	spin_unlock(&hotdimm_devs_lock);
	if (!holes) {
		generic_online_page(page, order);
		return;
	}
	/* Sub-blocks are pageblock aligned: so is every chunk. */
	chunk_pages = min_t(unsigned long, 1UL << order, hd->sb_size >> PAGE_SHIFT);
	for (a = addr; a < end; a += PFN_PHYS(chunk_pages)) {
		unsigned int sb = (a - hd->start - idx * hd->block_size) / hd->sb_size;

		if (holes & BIT_ULL(sb))
			hotdimm_keep_fresh_pages(PHYS_PFN(a), chunk_pages);
		else
			generic_online_page(pfn_to_page(PHYS_PFN(a)),
					    ilog2(chunk_pages));
	}
}

/*
 * MEM_GOING_OFFLINE of a block with @holes: drop our reference to their
 * pages so that offlining treats them as free; MEM_CANCEL_OFFLINE (@undo)
 * takes it back. Called from the memory notifier under hd->lock.
 */
void hotdimm_sb_going_offline(struct hotdimm_dev *hd, u64 idx, u64 holes,
			      bool undo)
{
	unsigned long nr = hd->sb_size >> PAGE_SHIFT, pfn, i;
	unsigned int sb;

	for (sb = 0; sb < hd->bk.sb_per_block; sb++) {
		if (!(holes & BIT_ULL(sb)))
			continue;
		pfn = PHYS_PFN(hd_sb_addr(hd, idx, sb));
		hotdimm_offline_adjust_managed(pfn, nr, undo);
		for (i = 0; i < nr; i++) {
			struct page *page = pfn_to_page(pfn + i);

			if (undo)
				page_ref_inc(page);
			else if (WARN_ON_ONCE(!page_ref_dec_and_test(page)))
				dump_page(page, "hotdimm: unplugged page referenced");
		}
	}
}

int hotdimm_sb_init(void)
{
	int ret = set_online_page_callback(hd_online_page_cb);

	hd_have_callback = !ret;
	if (ret)
		pr_info("the online-page callback belongs to another driver (virtio_mem or hv_balloon loaded first): blocks are added whole, partial blocks only by unplugging parts of online blocks\n");
	return 0;
}

void hotdimm_sb_exit(void)
{
	if (hd_have_callback)
		restore_online_page_callback(hd_online_page_cb);
	hd_have_callback = false;
}

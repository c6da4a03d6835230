// SPDX-License-Identifier: GPL-2.0
/*
 * Sub-block mechanism: plugging and unplugging parts of a memory block, so
 * that the host gets back every free sub-block (the larger of a pageblock
 * and the device block; 2 MiB on x86-64 with QEMU's default virtio-mem) of
 * a block that cannot be offlined as a whole, and a request is honoured to
 * the sub-block. The worker (core.c) decides which sub-blocks; this file
 * only knows how.
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
 * The memory notifier (hotplug.c) drops our reference to the holes' pages
 * at MEM_GOING_OFFLINE, so that a block with holes can still be offlined,
 * and takes it back at MEM_CANCEL_OFFLINE. Every function here that
 * changes a block's holes does so under hd->hotplug_lock, after reading
 * the block's state under it: Linux cannot online or offline the block in
 * between (hotplug.c has the lock contract).
 */
#include <linux/gfp.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>

#include "compat.h"
#include "hotdimm.h"

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
 * Take @hd's hotplug lock and read block @idx's state and holes under it.
 * Returns 0 (the lock is held) or -EINTR.
 */
static int hd_sb_begin(struct hotdimm_dev *hd, u64 idx, u8 *state, u64 *holes)
{
	int ret = hotdimm_hotplug_lock(hd);

	if (ret)
		return ret;
	spin_lock(&hd->lock);
	*state = hd->bk.b[idx].state;
	*holes = hd->bk.b[idx].holes;
	spin_unlock(&hd->lock);
	return 0;
}

/*
 * Plug (@plug) or unplug the runs of sub-blocks of block @idx in @mask at
 * the transport, one request per run. No pages are involved.
 *
 * Context: the device's worker, no spinlock held.
 */
int hotdimm_transport_runs(struct hotdimm_dev *hd, u64 idx, u64 mask, bool plug)
{
	int (*op)(struct hotdimm_dev *hd, u64 addr, u64 size) =
		plug ? hd->ops->plug : hd->ops->unplug;
	unsigned int sb = 0, n = hd->bk.sb_per_block, end;
	int ret;

	if (!op)
		return 0;
	while (sb < n) {
		if (!(mask & BIT_ULL(sb))) {
			sb++;
			continue;
		}
		for (end = sb; end < n && (mask & BIT_ULL(end)); end++)
			;
		ret = op(hd, hotdimm_sb_addr(hd, idx, sb),
			 (u64)(end - sb) * hd->sb_size);
		if (ret)
			return ret;
		sb = end;
	}
	return 0;
}

/*
 * Plug block @idx, which is UNPLUGGED, at the transport but for @holes,
 * and record it PLUGGED with those holes and @pins, the sub-blocks that
 * will hold its memmap. Returns 0, -EINTR, or the transport's error
 * (nothing recorded then).
 *
 * Context: the device's worker, no hotdimm lock held.
 */
int hotdimm_sb_plug_block(struct hotdimm_dev *hd, u64 idx, u64 holes, u64 pins)
{
	/* Another block's transition may hold the device's lock. */
	int ret = hotdimm_hotplug_lock(hd);

	if (ret)
		return ret;
	ret = hotdimm_transport_runs(hd, idx, hotdimm_sb_mask(&hd->bk) & ~holes,
				     true);
	if (!ret) {
		spin_lock(&hd->lock);
		hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_PLUGGED);
		hotdimm_set_holes(hd, idx, holes);
		hd->bk.b[idx].pinned = pins;
		spin_unlock(&hd->lock);
	}
	mutex_unlock(&hd->hotplug_lock);
	return ret;
}

/*
 * Take sub-block @sb of online block @idx from Linux and unplug it at the
 * transport. Returns 0, -EBUSY when its pages cannot be migrated now or
 * Linux is taking the block offline,
 * -ENOMEM, -EINTR when the block is no longer online (Linux offlined it
 * while we waited for the lock: the worker decides again) or the wait was
 * interrupted, or the transport's error (everything undone then).
 *
 * Context: the device's worker, no hotdimm lock held.
 */
int hotdimm_sb_unplug_online(struct hotdimm_dev *hd, u64 idx, unsigned int sb)
{
	u64 addr = hotdimm_sb_addr(hd, idx, sb), holes;
	unsigned long pfn = PHYS_PFN(addr), nr = hd->sb_size >> PAGE_SHIFT;
	bool movable;
	int ret, tries;
	u8 state;

	ret = hd_sb_begin(hd, idx, &state, &holes);
	if (ret)
		return ret;
	if (!hotdimm_state_online(state) || (holes & BIT_ULL(sb))) {
		dev_dbg(hd->dev, "block %llu: no longer online, not unplugging its parts\n",
			idx);
		ret = -EINTR;
		goto out;
	}
	/*
	 * An offline that Linux started has isolated the block's pageblocks
	 * before its MEM_GOING_OFFLINE waits for our lock, and a failing
	 * alloc_contig_range() undoes every isolation in its range, also one
	 * it did not make: the offline would then loop forever. Leave a block
	 * alone once Linux marked it going offline.
	 */
	if (!hotdimm_block_linux_online(hd, idx)) {
		dev_dbg(hd->dev, "block %llu: going offline, not unplugging its parts\n",
			idx);
		ret = -EBUSY;
		goto out;
	}
	/* ZONE_MOVABLE promises migration: retry transient failures there. */
	movable = is_zone_movable_page(pfn_to_page(pfn));
	for (tries = 0; tries < (movable ? 3 : 1); tries++) {
		ret = hotdimm_alloc_contig_range(pfn, pfn + nr);
		if (!ret || ret == -ENOMEM)
			break;
	}
	if (ret) {
		ret = ret == -ENOMEM ? ret : -EBUSY;
		goto out;
	}
	hd_set_offline(pfn, nr);
	adjust_managed_page_count(pfn_to_page(pfn), -(long)nr);

	ret = hd->ops->unplug ? hd->ops->unplug(hd, addr, hd->sb_size) : 0;
	if (ret) {
		hd_clear_offline(pfn, nr);
		free_contig_range(pfn, nr);
		adjust_managed_page_count(pfn_to_page(pfn), nr);
		goto out;
	}
	spin_lock(&hd->lock);
	hotdimm_set_holes(hd, idx, holes | BIT_ULL(sb));
	spin_unlock(&hd->lock);
out:
	mutex_unlock(&hd->hotplug_lock);
	return ret;
}

/*
 * Plug hole @sb of block @idx at the transport and, if the block is online,
 * give its pages to the buddy allocator. An offline block keeps its pages
 * offline: onlining initialises them. Returns 0 (also when it was no
 * longer a hole) or the transport's error. Context as above.
 */
int hotdimm_sb_plug(struct hotdimm_dev *hd, u64 idx, unsigned int sb)
{
	u64 addr = hotdimm_sb_addr(hd, idx, sb), holes;
	unsigned long pfn = PHYS_PFN(addr), nr = hd->sb_size >> PAGE_SHIFT;
	unsigned long i, chunk;
	bool fresh;
	u8 state;
	int ret;

	ret = hd_sb_begin(hd, idx, &state, &holes);
	if (ret)
		return ret;
	if (!(holes & BIT_ULL(sb)))
		goto out;
	ret = hd->ops->plug ? hd->ops->plug(hd, addr, hd->sb_size) : 0;
	if (ret)
		goto out;
	spin_lock(&hd->lock);
	fresh = hd->bk.b[idx].fresh & BIT_ULL(sb);
	hotdimm_set_holes(hd, idx, holes & ~BIT_ULL(sb));
	spin_unlock(&hd->lock);
	if (!hotdimm_state_online(state))
		goto out;
	if (fresh) {
		/* Never onlined: the way onlining would have done it. */
		chunk = min_t(unsigned long, nr, MAX_ORDER_NR_PAGES);
		for (i = 0; i < nr; i += chunk) {
			hotdimm_release_fresh_pages(pfn + i, chunk);
			generic_online_page(pfn_to_page(pfn + i), ilog2(chunk));
		}
		goto out;
	}
	hd_clear_offline(pfn, nr);
	free_contig_range(pfn, nr);
	adjust_managed_page_count(pfn_to_page(pfn), nr);
out:
	mutex_unlock(&hd->hotplug_lock);
	return ret;
}

/*
 * Unplug the sub-blocks in @mask of block @idx, which has no pages in use:
 * plugged at the transport but not in Linux (PLUGGED), or offline. They
 * become holes; no pages are involved (onlining keeps holes out of the
 * buddy allocator). Returns 0, -EINTR when the block is in neither state
 * any more (the worker decides again), or the transport's error. Context
 * as above.
 */
int hotdimm_sb_trim(struct hotdimm_dev *hd, u64 idx, u64 mask)
{
	u64 holes;
	u8 state;
	int ret;

	ret = hd_sb_begin(hd, idx, &state, &holes);
	if (ret)
		return ret;
	if (state != HOTDIMM_BLOCK_PLUGGED && state != HOTDIMM_BLOCK_OFFLINE) {
		ret = -EINTR;
		goto out;
	}
	mask &= ~holes;
	ret = hotdimm_transport_runs(hd, idx, mask, false);
	if (ret)
		goto out;
	spin_lock(&hd->lock);
	hotdimm_set_holes(hd, idx, holes | mask);
	/* Nothing plugged left: a block out of Linux is unplugged. */
	if (state == HOTDIMM_BLOCK_PLUGGED &&
	    hd->bk.b[idx].holes == hotdimm_sb_mask(&hd->bk))
		hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_UNPLUGGED);
	spin_unlock(&hd->lock);
out:
	mutex_unlock(&hd->hotplug_lock);
	return ret;
}

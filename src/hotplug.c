// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's online and offline of hotdimm's memory blocks, and what runs
 * inside them: the memory notifier, the online-page callback and the
 * watchdog of hotdimm's own offline attempts.
 *
 * Onlining and offlining a block are two-phase, and anyone may start them
 * (an administrator, chmem, udev rules, the kernel's auto-online, the
 * notifier error injector, hotdimm's worker):
 *
 *   MEM_GOING_ONLINE  -> online-page callback -> MEM_ONLINE  | MEM_CANCEL_ONLINE
 *   MEM_GOING_OFFLINE -> isolation, migration -> MEM_OFFLINE | MEM_CANCEL_OFFLINE
 *
 * Offlining may migrate for seconds, looping while a page is pinned. The
 * kernel runs one such transition at a time (mem_hotplug_lock is held for
 * writing from MEM_GOING_* to the end), by one task.
 *
 * Lock contract of hd->hotplug_lock (a mutex per device):
 *  - The memory notifier takes it at MEM_GOING_ONLINE / MEM_GOING_OFFLINE
 *    of one of the device's blocks and releases it when that transition
 *    ends (MEM_ONLINE, MEM_OFFLINE, MEM_CANCEL_*): the span. A CANCEL whose
 *    GOING it did not take (another notifier refused first, or it refused
 *    itself) changes nothing.
 *  - The worker takes it around each plug or unplug of sub-blocks of a
 *    block (subblock.c) and re-reads the block's state under it: a block's
 *    holes never change while Linux onlines or offlines it.
 *  - Linux isolates a block's pageblocks before MEM_GOING_OFFLINE, i.e.
 *    before it waits for this lock; a failing alloc_contig_range() undoes
 *    every isolation in its range, also one it did not make. So the worker
 *    also leaves a block alone once Linux's memory block says it is going
 *    offline (hotdimm_block_linux_online(), read under this lock).
 *  - Nobody holds it across hotdimm's own onlining (sysfs),
 *    add_memory_driver_managed() or offline_and_remove_memory(): those
 *    enter the notifier themselves.
 *  - Order: device hotplug lock, mem_hotplug_lock, hd->hotplug_lock,
 *    hd->lock.
 *
 * What it covers: the holes of the blocks in Linux (hotdimm_set_holes()),
 * their "fresh" mask, and the reference counts of the holes' pages. Those are 1
 * (ours) while the block is online; the notifier drops them to 0 at
 * MEM_GOING_OFFLINE, so that offlining treats them as free, and takes them
 * back at MEM_CANCEL_OFFLINE. The span fields hd->span_idx and
 * hd->span_dropped are written only by the notifier (transitions are
 * serialized by the kernel), and so is hd_onlining below.
 */
#include <linux/lockdep.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/page_ref.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "hotdimm.h"

/*
 * One offline attempt of the worker may isolate and migrate for this long
 * before it is abandoned (waiting for the hotplug locks does not count).
 */
#define HOTDIMM_OFFLINE_TIMEOUT	(10 * HZ)

/* The online-page callback is ours (set at load, restored at unload). */
static bool hd_have_callback;

/*
 * The device one of whose blocks is between MEM_GOING_ONLINE and the end
 * of that onlining, for the online-page callback (which is given only a
 * page). Written by the memory notifier, read by the callback inside the
 * same transition, by the same task.
 */
static struct hotdimm_dev *hd_onlining;

bool hotdimm_have_callback(void)
{
	return hd_have_callback;
}

static enum hotdimm_block_state hd_zone_state(unsigned long pfn)
{
	return page_zonenum(pfn_to_page(pfn)) == ZONE_MOVABLE ?
	       HOTDIMM_BLOCK_MOVABLE : HOTDIMM_BLOCK_KERNEL;
}

static enum hotdimm_zone hd_zone_of(enum hotdimm_block_state state)
{
	return state == HOTDIMM_BLOCK_MOVABLE ? HOTDIMM_ZONE_MOVABLE :
	       HOTDIMM_ZONE_KERNEL;
}

static const char *hd_zone_name(enum hotdimm_zone zone)
{
	return zone == HOTDIMM_ZONE_MOVABLE ? "movable" : "kernel";
}

/*
 * The worker's side of the lock contract: take @hd's hotplug lock, waiting
 * for a transition of one of its blocks to end. An administrator's offline
 * may migrate for minutes: the wait is interruptible so that it does not
 * count as a hung task (the worker gets no signal but the watchdog's,
 * which is armed only inside its own offline). Returns 0 or -EINTR.
 */
int hotdimm_hotplug_lock(struct hotdimm_dev *hd)
{
	if (mutex_trylock(&hd->hotplug_lock))
		return 0;
	dev_dbg(hd->dev, "waiting for the kernel's online or offline of block %lld\n",
		READ_ONCE(hd->span_idx));
	if (!mutex_lock_interruptible(&hd->hotplug_lock))
		return 0;
	flush_signals(current);
	return -EINTR;
}

/*
 * The single writer of a block's holes in the module. Caller holds
 * hd->hotplug_lock (nothing may online or offline the block meanwhile) and
 * hd->lock (others read the counters).
 */
void hotdimm_set_holes(struct hotdimm_dev *hd, u64 idx, u64 holes)
{
	lockdep_assert_held(&hd->hotplug_lock);
	lockdep_assert_held(&hd->lock);
	hotdimm_block_set_holes(&hd->bk, idx, holes);
}

/*
 * Drop (@undo false) or take back our reference to the pages of @holes of
 * block @idx, and adjust the managed page count as the kernel's offlining
 * expects. Inside a span of @hd: hd->hotplug_lock held.
 */
static void hd_hole_refs(struct hotdimm_dev *hd, u64 idx, u64 holes, bool undo)
{
	unsigned long nr = hd->sb_size >> PAGE_SHIFT, pfn, i;
	unsigned int sb;

	lockdep_assert_held(&hd->hotplug_lock);
	for (sb = 0; sb < hd->bk.sb_per_block; sb++) {
		if (!(holes & BIT_ULL(sb)))
			continue;
		pfn = PHYS_PFN(hotdimm_sb_addr(hd, idx, sb));
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

/*
 * MEM_GOING_ONLINE / MEM_GOING_OFFLINE of block @idx: take the device's
 * hotplug lock for the whole transition, or refuse it. Returns the
 * notifier's answer; on NOTIFY_OK the lock stays held (hd_span_end()
 * releases it).
 */
static int hd_span_begin(struct hotdimm_dev *hd, u64 idx, unsigned long action,
			 unsigned long start_pfn)
{
	enum hotdimm_block_state zone;
	struct hotdimm_block *b;
	const char *refuse = NULL;
	bool drop = false;
	u64 holes;

	if (!mutex_trylock(&hd->hotplug_lock)) {
		dev_dbg(hd->dev, "block %llu: %s waits for hotdimm's sub-block work\n",
			idx, action == MEM_GOING_ONLINE ? "onlining" : "offlining");
		mutex_lock(&hd->hotplug_lock);
	}
	spin_lock(&hd->lock);
	b = &hd->bk.b[idx];
	holes = b->holes;
	if (hd->removing) {
		refuse = "the device is being removed";
	} else if (action == MEM_GOING_ONLINE) {
		zone = hd_zone_state(start_pfn);
		/*
		 * Without the online-page callback, onlining would hand the
		 * holes' pages (unplugged at the transport) to the buddy
		 * allocator. hotdimm fills the holes first.
		 */
		if (holes && !hd_have_callback)
			refuse = "it has holes, and another driver has the online-page callback";
		else if (b->want != HOTDIMM_ZONE_NONE && hd_zone_of(zone) != b->want)
			refuse = b->want == HOTDIMM_ZONE_MOVABLE ?
				 "hotdimm onlines it as movable" :
				 "hotdimm onlines it as kernel";
	} else {
		/* The watchdog bounds the worker's own attempts only. */
		if (current == hd->worker)
			mod_timer(&hd->offline_timer,
				  jiffies + HOTDIMM_OFFLINE_TIMEOUT);
		drop = holes && hotdimm_state_online(b->state);
	}
	spin_unlock(&hd->lock);
	if (refuse) {
		mutex_unlock(&hd->hotplug_lock);
		dev_dbg(hd->dev, "block %llu: refusing to %s it: %s\n", idx,
			action == MEM_GOING_ONLINE ? "online" : "offline", refuse);
		return NOTIFY_BAD;
	}
	if (drop)
		hd_hole_refs(hd, idx, holes, false);
	WRITE_ONCE(hd->span_idx, idx);
	hd->span_dropped = drop;
	if (action == MEM_GOING_ONLINE)
		hd_onlining = hd;
	return NOTIFY_OK;
}

/* The end of the transition of block @idx: record it, release the lock. */
static void hd_span_end(struct hotdimm_dev *hd, u64 idx, unsigned long action,
			unsigned long start_pfn)
{
	enum hotdimm_block_state zone;
	struct hotdimm_block *b;

	/* A CANCEL whose GOING this notifier refused or never saw. */
	if (hd->span_idx != (long long)idx)
		return;
	lockdep_assert_held(&hd->hotplug_lock);
	if (action == MEM_CANCEL_OFFLINE && hd->span_dropped)
		hd_hole_refs(hd, idx, hd->bk.b[idx].holes, true);
	spin_lock(&hd->lock);
	b = &hd->bk.b[idx];
	if (action == MEM_ONLINE && b->state >= HOTDIMM_BLOCK_OFFLINE) {
		zone = hd_zone_state(start_pfn);
		hotdimm_block_set(&hd->bk, idx, zone);
		dev_dbg(hd->dev, "block %llu online (%s)\n", idx,
			hd_zone_name(hd_zone_of(zone)));
	} else if (action == MEM_OFFLINE && b->state >= HOTDIMM_BLOCK_OFFLINE) {
		hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_OFFLINE);
		dev_dbg(hd->dev, "block %llu offline\n", idx);
	}
	spin_unlock(&hd->lock);
	WRITE_ONCE(hd->span_idx, -1);
	hd->span_dropped = false;
	if (hd_onlining == hd)
		hd_onlining = NULL;
	mutex_unlock(&hd->hotplug_lock);
}

/* One notifier per device: unregistering it waits for a running call. */
static int hd_memory_notify(struct notifier_block *nb, unsigned long action,
			    void *arg)
{
	struct hotdimm_dev *hd = container_of(nb, struct hotdimm_dev, memory_nb);
	const struct memory_notify *mn = arg;
	u64 addr = PFN_PHYS(mn->start_pfn), idx;

	if (addr < hd->start || addr - hd->start >= hd->size)
		return NOTIFY_DONE;
	/* With memmap_on_memory, start_pfn lies past the block's memmap. */
	idx = (addr - hd->start) / hd->block_size;
	switch (action) {
	case MEM_GOING_ONLINE:
	case MEM_GOING_OFFLINE:
		return hd_span_begin(hd, idx, action, mn->start_pfn);
	case MEM_ONLINE:
	case MEM_OFFLINE:
	case MEM_CANCEL_ONLINE:
	case MEM_CANCEL_OFFLINE:
		hd_span_end(hd, idx, action, mn->start_pfn);
		return NOTIFY_OK;
	}
	return NOTIFY_DONE;
}

/*
 * Online-page callback: hand plugged parts of a range to the buddy
 * allocator, keep the holes of hotdimm blocks ("fresh" holes). Called by
 * online_pages() inside a span, between MEM_GOING_ONLINE and MEM_ONLINE.
 */
static void hd_online_page_cb(struct page *page, unsigned int order)
{
	u64 addr = PFN_PHYS(page_to_pfn(page)), end = addr + (PAGE_SIZE << order);
	struct hotdimm_dev *hd = hd_onlining;
	unsigned long chunk_pages;
	u64 holes, idx, a;

	if (!hd || addr < hd->start || addr - hd->start >= hd->size) {
		generic_online_page(page, order);
		return;
	}
	lockdep_assert_held(&hd->hotplug_lock);
	idx = (addr - hd->start) / hd->block_size;
	holes = hd->bk.b[idx].holes;
	hd->bk.b[idx].fresh = holes;
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
 * The offline watchdog. It bounds isolation and migration only: the
 * notifier arms it at MEM_GOING_OFFLINE of a block the worker offlines,
 * after offline_and_remove_memory() got the kernel's hotplug locks, so
 * time spent waiting for them (another device's worker, an administrator's
 * online or offline) does not count. offline_pages() checks
 * signal_pending() in its migration loop and returns -EINTR: the signal
 * is how the attempt is abandoned.
 */
static void hd_offline_timeout(struct timer_list *t)
{
	struct hotdimm_dev *hd = timer_container_of(hd, t, offline_timer);

	WRITE_ONCE(hd->offline_timed_out, true);
	send_sig(SIGUSR1, hd->worker, 1);
}

/*
 * Offline block @idx and remove it from Linux, within the watchdog's bound.
 * Returns 0, -ETIMEDOUT when the watchdog ended it, or the kernel's error
 * (the block is then back in the state it was in).
 *
 * Context: the device's worker (it allowed SIGUSR1), no hotdimm lock held.
 */
int hotdimm_remove_memory(struct hotdimm_dev *hd, u64 idx)
{
	u64 addr = hd->start + idx * hd->block_size;
	int ret;

	might_sleep();
	lockdep_assert_not_held(&hd->hotplug_lock);
	WRITE_ONCE(hd->offline_timed_out, false);
	ret = offline_and_remove_memory(addr, hd->block_size);
	hotdimm_timer_delete_sync(&hd->offline_timer);
	flush_signals(current);
	if (ret && READ_ONCE(hd->offline_timed_out))
		ret = -ETIMEDOUT;
	return ret;
}

/* From probe, before any memory of @hd is added. */
int hotdimm_hotplug_register(struct hotdimm_dev *hd)
{
	mutex_init(&hd->hotplug_lock);
	WRITE_ONCE(hd->span_idx, -1);
	timer_setup(&hd->offline_timer, hd_offline_timeout, 0);
	hd->memory_nb.notifier_call = hd_memory_notify;
	/* Refuse a wrong zone before other notifiers prepare the block. */
	hd->memory_nb.priority = 100;
	return register_memory_notifier(&hd->memory_nb);
}

/*
 * From remove, after the worker stopped. Waits for a transition of one of
 * @hd's blocks to end and refuses new ones until the notifier is gone.
 * Blocks that stay in Linux keep their holes' pages referenced: nobody
 * can offline them any more, and nothing ever touches those pages.
 */
void hotdimm_hotplug_unregister(struct hotdimm_dev *hd)
{
	mutex_lock(&hd->hotplug_lock);
	hd->removing = true;
	mutex_unlock(&hd->hotplug_lock);
	unregister_memory_notifier(&hd->memory_nb);
	hotdimm_timer_delete_sync(&hd->offline_timer);
	mutex_destroy(&hd->hotplug_lock);
}

int hotdimm_hotplug_init(void)
{
	int ret = set_online_page_callback(hd_online_page_cb);

	hd_have_callback = !ret;
	if (ret)
		pr_info("the online-page callback belongs to another driver (virtio_mem or hv_balloon loaded first): blocks are added whole, partial blocks only by unplugging parts of online blocks\n");
	return 0;
}

void hotdimm_hotplug_exit(void)
{
	if (hd_have_callback)
		restore_online_page_callback(hd_online_page_cb);
	hd_have_callback = false;
}

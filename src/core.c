// SPDX-License-Identifier: GPL-2.0
/*
 * Device core: the hotdimm platform driver. Each device owns a physical
 * range carved into Linux memory blocks; a worker thread per device moves
 * the plugged size toward the requested size one block at a time:
 *
 *   grow:   transport plug -> add_memory_driver_managed() -> online in the
 *           zone the accounting chose (online.c)
 *   shrink: offline_and_remove_memory() -> transport unplug (hotplug.c);
 *           where a block cannot go whole, sub-block by sub-block
 *           (subblock.c): alloc_contig_range() migrates the data away first
 *
 * Memory leaves Linux only after its data was migrated away; an attempt
 * that cannot migrate fails and changes nothing.
 */
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/lockdep.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "compat.h"
#include "hotdimm.h"

LIST_HEAD(hotdimm_devs);
DEFINE_SPINLOCK(hotdimm_devs_lock);
static DEFINE_IDA(hotdimm_ida);

/* Backoff for a block that failed: 1 s, doubling, at most 60 s. */
#define HOTDIMM_BACKOFF_BASE	HZ
#define HOTDIMM_BACKOFF_MAX	(60 * HZ)
/* While unloading, give each block this many offline attempts. */
#define HOTDIMM_DRAIN_TRIES	3

static u64 hd_addr(const struct hotdimm_dev *hd, u64 idx)
{
	return hd->start + idx * hd->block_size;
}

static u64 hd_mib(u64 bytes)
{
	return bytes >> 20;
}

/* Callers hold hd->lock. */
static void hd_status(struct hotdimm_dev *hd, const char *fmt, ...)
	__printf(2, 3);
static void hd_status(struct hotdimm_dev *hd, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(hd->status, sizeof(hd->status), fmt, args);
	va_end(args);
}

void hotdimm_set_status(struct hotdimm_dev *hd, const char *fmt, ...)
{
	va_list args;

	spin_lock(&hd->lock);
	va_start(args, fmt);
	vsnprintf(hd->note, sizeof(hd->note), fmt, args);
	va_end(args);
	spin_unlock(&hd->lock);
}

void hotdimm_get_status(struct hotdimm_dev *hd, char *buf, size_t len)
{
	spin_lock(&hd->lock);
	if (hd->note[0])
		snprintf(buf, len, "%s; %s", hd->status, hd->note);
	else
		snprintf(buf, len, "%s", hd->status);
	spin_unlock(&hd->lock);
}

void hotdimm_kick(struct hotdimm_dev *hd)
{
	WRITE_ONCE(hd->kick, true);
	wake_up(&hd->wq);
}

void hotdimm_set_requested(struct hotdimm_dev *hd, u64 bytes)
{
	u64 target = min(bytes, hd->size), i;

	target -= target % hd->sb_size;
	spin_lock(&hd->lock);
	/*
	 * Blocks out of Linux but still plugged at the transport back off
	 * from a failed unplug or add; a new request may want them the other
	 * way, so their next attempt is due at once.
	 */
	if (target != hd->requested)
		for (i = 0; i < hd->bk.nr; i++)
			if (hd->bk.b[i].state == HOTDIMM_BLOCK_PLUGGED)
				hotdimm_block_clear_backoff(&hd->bk, i);
	hd->requested = target;
	hd->broken = false;
	if (target != bytes)
		snprintf(hd->note, sizeof(hd->note),
			 "requested %llu bytes %s, using %llu MiB",
			 bytes, bytes > hd->size ?
			 "exceeds the region" : "is not a multiple of the device block",
			 hd_mib(target));
	else
		hd->note[0] = '\0';
	spin_unlock(&hd->lock);
	dev_dbg(hd->dev, "requested size %llu MiB (asked %llu bytes)\n",
		hd_mib(target), bytes);
	hotdimm_kick(hd);
}

void hotdimm_ratio_changed(void)
{
	struct hotdimm_dev *hd;

	spin_lock(&hotdimm_devs_lock);
	list_for_each_entry(hd, &hotdimm_devs, node) {
		spin_lock(&hd->lock);
		if (!hd->ratio_set)
			hd->ratio = READ_ONCE(hotdimm_movable_ratio);
		spin_unlock(&hd->lock);
	}
	spin_unlock(&hotdimm_devs_lock);
}

/*
 * A failed operation on block @idx: classify it (the one place that does)
 * and decide what the worker does next. Returns the worker's delay.
 *
 * What "give up" means depends on the direction. Growing stops (the device
 * is "broken") until the requested size changes: plugging more would fail
 * the same way. Shrinking never stops, because the host wants that memory
 * back: the block is retried every HOTDIMM_BACKOFF_MAX. Either way the
 * error is logged once; repeats of the same failure go to the debug log.
 *
 * Called from the worker, hd->lock not held.
 */
static long hd_failed(struct hotdimm_dev *hd, u64 idx, const char *what,
		      int err, bool shrinking)
{
	u64 now = get_jiffies_64();
	long delay = 0;
	bool repeat;

	spin_lock(&hd->lock);
	/* Said already for this block, unless it got further in between. */
	repeat = hd->bk.b[idx].err == err;
	hd->bk.b[idx].err = err;
	hd->last_err = err;
	hd->last_err_block = idx;
	hd->last_err_what = what;
	switch (hotdimm_classify_error(err)) {
	case HOTDIMM_ERR_RETRY_NOW:
		dev_dbg(hd->dev, "%s of block %llu interrupted, retrying\n",
			what, idx);
		break;
	case HOTDIMM_ERR_RETRY_BACKOFF:
		hotdimm_block_backoff(&hd->bk, idx, now, HOTDIMM_BACKOFF_BASE,
				      HOTDIMM_BACKOFF_MAX);
		delay = (long)(hd->bk.b[idx].retry_at - now);
		hd_status(hd, "retrying: %s of block %llu: %s (attempt %u)",
			  what, idx, hotdimm_error_str(err),
			  hd->bk.b[idx].fails);
		dev_dbg(hd->dev, "%s of block %llu failed (%d), retry in %u ms\n",
			what, idx, err, jiffies_to_msecs(delay));
		break;
	case HOTDIMM_ERR_GIVE_UP:
		if (shrinking) {
			hotdimm_block_backoff(&hd->bk, idx, now,
					      HOTDIMM_BACKOFF_MAX,
					      HOTDIMM_BACKOFF_MAX);
			hd_status(hd,
				  "retrying: %s of block %llu failed: %s (%d); retrying every %u s",
				  what, idx, hotdimm_error_str(err), err,
				  jiffies_to_msecs(HOTDIMM_BACKOFF_MAX) / 1000);
		} else {
			hd->broken = true;
			hd_status(hd, "broken: %s of block %llu failed: %s (%d)",
				  what, idx, hotdimm_error_str(err), err);
			delay = MAX_SCHEDULE_TIMEOUT;
		}
		if (repeat)
			dev_dbg(hd->dev, "%s of block %llu failed again (%d)\n",
				what, idx, err);
		else if (shrinking)
			dev_err(hd->dev,
				"%s of block %llu at %#llx failed: %s (%d); retrying every %u s (the kernel log above may say why)\n",
				what, idx, hd_addr(hd, idx),
				hotdimm_error_str(err), err,
				jiffies_to_msecs(HOTDIMM_BACKOFF_MAX) / 1000);
		else
			dev_err(hd->dev,
				"%s of block %llu at %#llx failed: %s (%d); not growing further until the requested size changes\n",
				what, idx, hd_addr(hd, idx),
				hotdimm_error_str(err), err);
		break;
	}
	spin_unlock(&hd->lock);
	return delay;
}

/* Online an added block into @zone. Called from the worker. */
static long hd_online(struct hotdimm_dev *hd, u64 idx, enum hotdimm_zone zone)
{
	int ret = hotdimm_online_block(hd, idx, zone);
	u8 state;

	spin_lock(&hd->lock);
	state = hd->bk.b[idx].state;
	if (state == HOTDIMM_BLOCK_KERNEL || state == HOTDIMM_BLOCK_MOVABLE) {
		/* Steering done (by us or by whoever won the race). */
		hd->bk.b[idx].want = HOTDIMM_ZONE_NONE;
		hotdimm_block_clear_backoff(&hd->bk, idx);
		spin_unlock(&hd->lock);
		return 0;
	}
	if (!ret)
		ret = -EAGAIN;
	if (hotdimm_classify_error(ret) == HOTDIMM_ERR_GIVE_UP) {
		/* Leave the block offline; an administrator may online it. */
		hd->bk.b[idx].want = HOTDIMM_ZONE_NONE;
		hd_status(hd, "block %llu stays offline: onlining failed: %s",
			  idx, hotdimm_error_str(ret));
		spin_unlock(&hd->lock);
		dev_warn(hd->dev,
			 "block %llu stays offline: onlining failed (%d); online it by hand through /sys/devices/system/memory\n",
			 idx, ret);
		return 0;
	}
	spin_unlock(&hd->lock);
	return hd_failed(hd, idx, "online", ret, false);
}

static void hd_decision_dbg(struct hotdimm_dev *hd, u64 idx,
			    const struct hotdimm_acct_input *in,
			    enum hotdimm_zone zone)
{
	static const char * const names[] = {
		[HOTDIMM_ZONE_NONE] = "system's choice",
		[HOTDIMM_ZONE_KERNEL] = "kernel",
		[HOTDIMM_ZONE_MOVABLE] = "movable",
	};

	dev_dbg(hd->dev,
		"block %llu: zone %s (policy %s, ratio %u%%: boot kernel %llu cma %llu other movable %llu others need %llu; device kernel %llu movable %llu; pages)\n",
		idx, names[zone], hotdimm_policy_name(in->policy), in->ratio,
		in->total.kernel_early, in->total.cma, in->total.movable_other,
		in->total.others_req_kernel, in->total.dev_kernel,
		in->total.dev_movable);
}

/*
 * Fill up to @need holes of block @idx, lowest first. A block that is not
 * online and cannot be onlined with holes (no online-page callback) gets
 * all of them. Called from the worker.
 */
static long hd_fill(struct hotdimm_dev *hd, u64 idx, u64 need)
{
	unsigned int sb;
	u64 holes;
	u8 state;
	int ret;

	spin_lock(&hd->lock);
	holes = hd->bk.b[idx].holes;
	state = hd->bk.b[idx].state;
	spin_unlock(&hd->lock);
	if (state < HOTDIMM_BLOCK_KERNEL && !hotdimm_have_callback())
		need = U64_MAX;
	for (sb = 0; sb < hd->bk.sb_per_block && need; sb++) {
		if (!(holes & BIT_ULL(sb)))
			continue;
		ret = hotdimm_sb_plug(hd, idx, sb);
		if (ret)
			return hd_failed(hd, idx, "plug", ret, false);
		need--;
	}
	dev_dbg(hd->dev, "block %llu: holes filled, %u of %u sub-blocks plugged\n",
		idx, hotdimm_block_plugged_sb(&hd->bk, idx), hd->bk.sb_per_block);
	return 0;
}

/*
 * Sub-blocks that hold a new block's memmap with memmap_on_memory: always
 * plugged, never unplugged. The block records them when it is plugged,
 * and adds itself with its memmap on it only then (the parameter may
 * change meanwhile).
 */
static u64 hd_memmap_pins(const struct hotdimm_dev *hd)
{
	u64 bytes = (hd->block_size >> PAGE_SHIFT) * sizeof(struct page);
	u64 n = DIV_ROUND_UP(bytes, hd->sb_size);

	if (!READ_ONCE(hotdimm_memmap_on_memory))
		return 0;
	return n >= 64 ? U64_MAX : BIT_ULL(n) - 1;
}

/*
 * Add block @idx to Linux: an UNPLUGGED block is plugged first, by up to
 * @need sub-blocks; a PLUGGED one (at the transport, not in Linux) is
 * added as it is. A new block is plugged only as far as needed when the
 * online-page callback keeps its holes out of the buddy allocator;
 * otherwise it is plugged whole (unless the transport refuses to plug
 * beyond the request) and the worker unplugs its tail once online.
 * Called from the worker.
 */
static long hd_grow(struct hotdimm_dev *hd, u64 idx, u64 need)
{
	struct hotdimm_acct_input in;
	enum hotdimm_zone zone;
	mhp_t flags = MHP_NID_IS_MGID;
	u64 full = hotdimm_sb_mask(&hd->bk), holes = 0, pins;
	u64 addr = hd_addr(hd, idx);
	u8 state;
	int ret;

	spin_lock(&hd->lock);
	state = hd->bk.b[idx].state;
	spin_unlock(&hd->lock);

	if (state == HOTDIMM_BLOCK_UNPLUGGED) {
		pins = hd_memmap_pins(hd);
		if (need < hd->bk.sb_per_block && hotdimm_have_callback()) {
			holes = full & ~(BIT_ULL(need) - 1) & ~pins;
		} else if (need < hd->bk.sb_per_block && hd->ops->exact_plug) {
			/* Cannot plug it whole and trim it: stop short. */
			spin_lock(&hd->lock);
			hd_status(hd,
				  "ok; %llu MiB short: a partly plugged block needs the online-page callback, which another driver holds",
				  hd_mib(need * hd->sb_size));
			spin_unlock(&hd->lock);
			return MAX_SCHEDULE_TIMEOUT;
		}
		ret = hotdimm_sb_plug_block(hd, idx, holes, pins);
		if (ret)
			return hd_failed(hd, idx, "plug", ret, false);
	}

	hotdimm_acct_gather(hd, &in);
	zone = hotdimm_acct_decide(&in);
	hd_decision_dbg(hd, idx, &in, zone);

	/* From here on the memory notifier treats the block as ours. */
	spin_lock(&hd->lock);
	hd->bk.b[idx].want = zone;
	hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_OFFLINE);
	/* The memmap goes where the block said it could when plugged. */
	if (hd->bk.b[idx].pinned)
		flags |= MHP_MEMMAP_ON_MEMORY;
	spin_unlock(&hd->lock);

	/* Adding may online it: the memory notifier takes this lock. */
	lockdep_assert_not_held(&hd->hotplug_lock);
	ret = add_memory_driver_managed(hd->mgid, addr, hd->block_size,
					hd->resource_name, flags);
	/*
	 * -EEXIST is also what the kernel returns when allocating the
	 * resource fails (__request_region() returns NULL for both): with no
	 * resource in the way it was memory, and is retried as such.
	 */
	if (ret == -EEXIST &&
	    region_intersects(addr, hd->block_size, IORESOURCE_MEM,
			      IORES_DESC_NONE) == REGION_DISJOINT)
		ret = -ENOMEM;
	if (ret) {
		spin_lock(&hd->lock);
		hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_PLUGGED);
		hd->bk.b[idx].want = HOTDIMM_ZONE_NONE;
		spin_unlock(&hd->lock);
		return hd_failed(hd, idx, "add", ret, false);
	}
	dev_dbg(hd->dev, "block %llu added at %#llx (%u of %u sub-blocks plugged)\n",
		idx, addr, hotdimm_block_plugged_sb(&hd->bk, idx),
		hd->bk.sb_per_block);
	if (zone == HOTDIMM_ZONE_NONE)
		return 0;
	return hd_online(hd, idx, zone);
}

/*
 * Take block @idx out of Linux and give it back to the transport. Called
 * from the worker only (the offline watchdog signals it).
 */
static int hd_remove_block(struct hotdimm_dev *hd, u64 idx, const char **stage)
{
	u8 state;
	int ret;

	spin_lock(&hd->lock);
	state = hd->bk.b[idx].state;
	spin_unlock(&hd->lock);

	*stage = "offline";
	if (state != HOTDIMM_BLOCK_PLUGGED) {
		ret = hotdimm_remove_memory(hd, idx);
		if (ret)
			return ret;
		spin_lock(&hd->lock);
		hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_PLUGGED);
		spin_unlock(&hd->lock);
		dev_dbg(hd->dev, "block %llu offlined and removed\n", idx);
	}
	*stage = "unplug";
	ret = hotdimm_transport_runs(hd, idx, hotdimm_sb_mask(&hd->bk) &
				     ~hd->bk.b[idx].holes, false);
	if (ret)
		return ret;
	spin_lock(&hd->lock);
	hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_UNPLUGGED);
	hotdimm_block_clear_backoff(&hd->bk, idx);
	spin_unlock(&hd->lock);
	return 0;
}

/* Earliest retry among blocks in backoff, as a delay. hd->lock held. */
static long hd_next_retry(struct hotdimm_dev *hd, u64 now)
{
	u64 i, first = U64_MAX;

	for (i = 0; i < hd->bk.nr; i++) {
		const struct hotdimm_block *b = &hd->bk.b[i];

		if (b->state != HOTDIMM_BLOCK_UNPLUGGED && b->retry_at > now &&
		    b->retry_at < first)
			first = b->retry_at;
	}
	if (first == U64_MAX)
		return MAX_SCHEDULE_TIMEOUT;
	return (long)(first - now);
}

/*
 * Unplug up to @excess sub-blocks of online block @idx, from the top: the
 * free and movable parts of a block that cannot go as a whole. Sub-blocks
 * that are busy now are skipped. Returns how many went; *@err says why
 * the others did not (-EBUSY, or the error that stopped it). Called from
 * the worker.
 */
static unsigned int hd_unplug_parts(struct hotdimm_dev *hd, u64 idx,
				    u64 excess, int *err)
{
	unsigned int sb = hd->bk.sb_per_block, freed = 0, busy = 0;
	bool online;
	u64 skip;
	int ret = 0;

	spin_lock(&hd->lock);
	online = hotdimm_state_online(hd->bk.b[idx].state);
	skip = hd->bk.b[idx].holes | hd->bk.b[idx].pinned;
	spin_unlock(&hd->lock);
	*err = -EBUSY;
	/*
	 * Only an online block: pages of an offline one are not ours to
	 * take. Linux may offline it while we work on it: each sub-block is
	 * taken under the hotplug lock, which reads the state again.
	 */
	if (!online)
		return 0;
	while (sb-- && excess) {
		if (skip & BIT_ULL(sb))
			continue;
		ret = hotdimm_sb_unplug_online(hd, idx, sb);
		if (ret == -EBUSY) {
			busy++;
			continue;
		}
		if (ret) {
			*err = ret;
			break;
		}
		freed++;
		excess--;
	}
	dev_dbg(hd->dev, "block %llu: %u sub-blocks unplugged, %u busy%s\n",
		idx, freed, busy, *err != -EBUSY ? ", stopped by an error" : "");
	return freed;
}

/*
 * While unloading, block @idx failed to go (@err) for the
 * HOTDIMM_DRAIN_TRIES-th time: give up on it for the rest of the unload,
 * so that remove() returns; it says what stays. Returns true when given
 * up. From the worker.
 */
static bool hd_drain_give_up(struct hotdimm_dev *hd, u64 idx, int err)
{
	bool give_up;

	if (!hd->draining)
		return false;
	spin_lock(&hd->lock);
	give_up = hd->bk.b[idx].fails + 1 >= HOTDIMM_DRAIN_TRIES;
	if (give_up)
		hd->bk.b[idx].retry_at = U64_MAX;
	spin_unlock(&hd->lock);
	if (give_up)
		dev_dbg(hd->dev, "unload: block %llu stays (%d)\n", idx, err);
	return give_up;
}

/*
 * No block can go whole, and block @idx has no pages in use: it is plugged
 * at the transport but not in Linux (the host answered busy to its unplug,
 * then asked for part of it again), or in Linux but offline (an
 * administrator offlined it). Unplug its top @excess sub-blocks at the
 * transport. Without the online-page callback a block with holes cannot be
 * onlined: a PLUGGED block is added whole instead, and its excess is
 * unplugged once it is online. From the worker.
 */
static long hd_trim(struct hotdimm_dev *hd, u64 idx, u64 excess)
{
	u64 mask;
	u8 state;
	int ret;

	spin_lock(&hd->lock);
	state = hd->bk.b[idx].state;
	mask = hotdimm_block_take_mask(&hd->bk, idx, excess);
	spin_unlock(&hd->lock);
	if (state == HOTDIMM_BLOCK_PLUGGED && !hotdimm_have_callback())
		return hd_grow(hd, idx, 0);
	ret = hotdimm_sb_trim(hd, idx, mask);
	if (ret)
		return hd_failed(hd, idx, "unplug", ret, true);
	dev_dbg(hd->dev, "block %llu: %u sub-blocks unplugged while %s\n",
		idx, hotdimm_popcount(mask),
		state == HOTDIMM_BLOCK_PLUGGED ? "not in Linux" : "offline");
	return 0;
}

/*
 * Shrink toward @target sub-blocks (@plugged are plugged now). Whole blocks
 * go first (the fast path: offline_and_remove_memory()); a block that cannot
 * go, or is larger than what is left to give back, gives back sub-blocks.
 * Once no more than @target sub-blocks are in Linux, only blocks waiting for
 * the transport's unplug are retried: memory is never taken out of Linux
 * beyond what was asked, even while the host keeps answering busy. Called
 * from the worker.
 */
static long hd_shrink(struct hotdimm_dev *hd, u64 target, u64 plugged)
{
	u64 now = get_jiffies_64(), excess = plugged - target, in_linux;
	struct hotdimm_acct_input in;
	bool kernel_ok, plugged_only;
	long long idx, part = -1, trim = -1;
	const char *stage;
	long delay;
	u8 state;
	int ret;

	hotdimm_acct_gather(hd, &in);
	kernel_ok = hd->draining || hotdimm_acct_may_remove_kernel(&in);

	spin_lock(&hd->lock);
	in_linux = hotdimm_blocks_in_linux_sb(&hd->bk);
	plugged_only = in_linux <= target;
	idx = hotdimm_blocks_pick_remove(&hd->bk, now, kernel_ok, plugged_only,
					 excess);
	if (idx < 0)
		trim = hotdimm_blocks_pick_trim(&hd->bk, now, plugged_only);
	if (trim >= 0) {
		spin_unlock(&hd->lock);
		return hd_trim(hd, trim, excess);
	}
	if (idx < 0 && !plugged_only)
		part = hotdimm_blocks_pick_partial(&hd->bk, now, kernel_ok);
	if (idx < 0 && part < 0) {
		/* Every candidate waits for its backoff: say why. */
		delay = hd_next_retry(hd, now);
		if (!kernel_ok && hd->bk.count[HOTDIMM_BLOCK_KERNEL])
			hd_status(hd,
				  "retrying: kernel blocks wait for busy movable blocks to keep movable_ratio");
		else
			hd_status(hd,
				  "retrying: %s of block %llu: %s; next attempt in %u s",
				  hd->last_err_what, hd->last_err_block,
				  hotdimm_error_str(hd->last_err),
				  delay == MAX_SCHEDULE_TIMEOUT ? 0 :
				  jiffies_to_msecs(delay) / 1000);
		spin_unlock(&hd->lock);
		return delay;
	}
	state = idx >= 0 ? hd->bk.b[idx].state : 0;
	spin_unlock(&hd->lock);
	if (idx < 0) {
		if (hd_unplug_parts(hd, part, excess, &ret))
			return 0;
		return hd_failed(hd, part, "unplug part", ret, true);
	}

	ret = hd_remove_block(hd, idx, &stage);
	if (!ret)
		return 0;
	if (hd_drain_give_up(hd, idx, ret))
		return 0;
	/*
	 * An online block that cannot go as a whole gives back what it can,
	 * before it backs off (while unloading nothing is given back in
	 * parts: the block stays in use anyway).
	 */
	/* Only a block still online: the unplug stage fails after removal. */
	spin_lock(&hd->lock);
	state = hd->bk.b[idx].state;
	spin_unlock(&hd->lock);
	if (!hd->draining && (state == HOTDIMM_BLOCK_KERNEL ||
			      state == HOTDIMM_BLOCK_MOVABLE) &&
	    hotdimm_classify_error(ret) == HOTDIMM_ERR_RETRY_BACKOFF &&
	    (state == HOTDIMM_BLOCK_MOVABLE || kernel_ok)) {
		int err;

		hd_unplug_parts(hd, idx, excess, &err);
	}
	hd_failed(hd, idx, stage, ret, true);
	/* Other candidates may be ready right away. */
	return 0;
}

/* Remove block @idx that has no device block plugged. From the worker. */
static long hd_remove_empty(struct hotdimm_dev *hd, u64 idx)
{
	const char *stage;
	int ret;

	ret = hd_remove_block(hd, idx, &stage);
	if (!ret)
		dev_dbg(hd->dev, "block %llu: nothing plugged left, removed\n", idx);
	else if (!hd_drain_give_up(hd, idx, ret))
		hd_failed(hd, idx, stage, ret, true);
	return 0;
}

/*
 * One step toward the requested size. Returns how long the worker may
 * sleep: 0 to step again at once, MAX_SCHEDULE_TIMEOUT when converged.
 * Called from the worker.
 */
static long hd_step(struct hotdimm_dev *hd)
{
	u64 now = get_jiffies_64();
	u64 target, plugged, in_linux, i;
	long long steer = -1, waiting = -1, empty = -1, grow;
	enum hotdimm_zone want = HOTDIMM_ZONE_NONE;
	unsigned int next_s;
	long delay;

	spin_lock(&hd->lock);
	if (hd->draining && !hd->drain_started) {
		/* Every block gets its HOTDIMM_DRAIN_TRIES from scratch. */
		for (i = 0; i < hd->bk.nr; i++)
			hotdimm_block_clear_backoff(&hd->bk, i);
		hd->drain_started = true;
	}
	target = hd->draining ? 0 : hd->requested / hd->sb_size;
	plugged = hotdimm_blocks_plugged_sb(&hd->bk);
	/*
	 * A block in Linux that has nothing plugged left (every device block
	 * was unplugged while the rest of it was busy) goes as a whole.
	 */
	for (i = 0; i < hd->bk.nr; i++) {
		const struct hotdimm_block *b = &hd->bk.b[i];

		if (b->state < HOTDIMM_BLOCK_OFFLINE ||
		    b->holes != hotdimm_sb_mask(&hd->bk))
			continue;
		if (b->retry_at <= now) {
			spin_unlock(&hd->lock);
			return hd_remove_empty(hd, i);
		}
		empty = i;
	}
	if (plugged > target) {
		hd_status(hd, "unplugging: %llu of %llu MiB plugged, target %llu MiB",
			  hd_mib(plugged * hd->sb_size), hd_mib(hd->size),
			  hd_mib(target * hd->sb_size));
		spin_unlock(&hd->lock);
		return hd_shrink(hd, target, plugged);
	}
	for (i = 0; i < hd->bk.nr; i++) {
		const struct hotdimm_block *b = &hd->bk.b[i];

		if (b->state != HOTDIMM_BLOCK_OFFLINE ||
		    b->want == HOTDIMM_ZONE_NONE)
			continue;
		if (b->retry_at <= now) {
			steer = i;
			want = b->want;
			break;
		}
		waiting = i;
	}
	if (steer >= 0) {
		spin_unlock(&hd->lock);
		return hd_online(hd, steer, want);
	}
	/*
	 * Converge on what is in Linux: a block plugged at the transport but
	 * not added (a failed add, or an unplug the host refused before the
	 * request grew again) is added before anything new is plugged.
	 */
	in_linux = hotdimm_blocks_in_linux_sb(&hd->bk);
	if (in_linux < target && !hd->broken) {
		bool fill = false;

		grow = hotdimm_blocks_pick_add(&hd->bk, now, false);
		/* Without the callback, its holes must be filled first. */
		if (grow >= 0 && hd->bk.b[grow].holes &&
		    !hotdimm_have_callback())
			fill = true;
		if (grow < 0 && plugged < target) {
			grow = hotdimm_blocks_pick_fill(&hd->bk);
			fill = grow >= 0;
			if (!fill)
				grow = hotdimm_blocks_pick_add(&hd->bk, now, true);
		}
		if (grow >= 0) {
			u64 need = target > plugged ? target - plugged : 0;

			hd_status(hd, "plugging: %llu of %llu MiB plugged, target %llu MiB",
				  hd_mib(plugged * hd->sb_size), hd_mib(hd->size),
				  hd_mib(target * hd->sb_size));
			spin_unlock(&hd->lock);
			if (fill)
				return hd_fill(hd, grow, need);
			return hd_grow(hd, grow, need);
		}
	}
	delay = hd_next_retry(hd, now);
	next_s = delay == MAX_SCHEDULE_TIMEOUT ? 0 :
		 jiffies_to_msecs(delay) / 1000;
	if (empty >= 0)
		/* Nothing plugged in it, but its removal failed: not done yet. */
		hd_status(hd, "retrying: removal of block %lld (empty): %s; next attempt in %u s",
			  empty, hotdimm_error_str(hd->last_err), next_s);
	else if (waiting >= 0)
		/* Plugged, but a block still waits to be onlined. */
		hd_status(hd, "retrying: online of block %lld: %s; next attempt in %u s",
			  waiting, hotdimm_error_str(hd->last_err), next_s);
	else if (in_linux < target && !hd->broken)
		/* Plugged at the transport, waiting to be added. */
		hd_status(hd, "retrying: %s of block %llu: %s; next attempt in %u s",
			  hd->last_err_what, hd->last_err_block,
			  hotdimm_error_str(hd->last_err), next_s);
	else if (!hd->broken)
		hd_status(hd, "ok");
	spin_unlock(&hd->lock);
	return delay;
}

/* Nothing left to take out while draining (given-up blocks excluded)? */
static bool hd_drained(struct hotdimm_dev *hd)
{
	bool done;

	spin_lock(&hd->lock);
	done = hotdimm_blocks_pick_remove(&hd->bk, U64_MAX - 1, true,
					  false, U64_MAX) < 0;
	spin_unlock(&hd->lock);
	return done;
}

static int hd_worker(void *data)
{
	struct hotdimm_dev *hd = data;
	long delay;

	/* The offline watchdog interrupts offline_pages() with SIGUSR1. */
	allow_signal(SIGUSR1);
	while (!kthread_should_stop()) {
		WRITE_ONCE(hd->kick, false);
		/* Order the kick reset before reading the request. */
		smp_mb();
		delay = hd_step(hd);
		if (READ_ONCE(hd->draining) && hd_drained(hd)) {
			complete(&hd->drained);
			delay = MAX_SCHEDULE_TIMEOUT;
		}
		if (!delay) {
			cond_resched();
			continue;
		}
		wait_event_idle_timeout(hd->wq, READ_ONCE(hd->kick) ||
					kthread_should_stop(), delay);
	}
	return 0;
}

static int hd_probe(struct platform_device *pdev)
{
	const struct hotdimm_pdata *pd = dev_get_platdata(&pdev->dev);
	struct hotdimm_block *blocks;
	struct hotdimm_dev *hd;
	u64 nr;
	int ret;

	if (!pd || !pd->ops || !pd->size)
		return -EINVAL;
	hd = kzalloc(sizeof(*hd), GFP_KERNEL);
	if (!hd)
		return -ENOMEM;
	hd->dev = &pdev->dev;
	hd->ops = pd->ops;
	hd->priv = pd->priv;
	hd->start = pd->start;
	hd->size = pd->size;
	hd->block_size = memory_block_size_bytes();
	hd->nid = pd->nid == NUMA_NO_NODE ?
		  memory_add_physaddr_to_nid(pd->start) : pd->nid;
	hd->ratio = READ_ONCE(hotdimm_movable_ratio);
	spin_lock_init(&hd->lock);
	init_waitqueue_head(&hd->wq);
	init_completion(&hd->drained);
	strscpy(hd->status, "starting", sizeof(hd->status));

	/*
	 * Sub-block: a pageblock (the unit of page isolation), at least the
	 * transport's granularity, and at most 64 per block (one bitmap word).
	 */
	hd->sb_size = max3((u64)pageblock_nr_pages << PAGE_SHIFT,
			   pd->granularity, hd->block_size / 64);
	hd->sb_size = min(hd->sb_size, hd->block_size);
	nr = hd->size / hd->block_size;
	blocks = kvcalloc(nr, sizeof(*blocks), GFP_KERNEL);
	if (!blocks) {
		ret = -ENOMEM;
		goto err_free_dev;
	}
	hotdimm_blocks_init(&hd->bk, blocks, nr, hd->block_size / hd->sb_size);

	/* The resource keeps pointing at this name while memory is added. */
	hd->resource_name = kstrdup(HOTDIMM_RESOURCE_NAME, GFP_KERNEL);
	if (!hd->resource_name) {
		ret = -ENOMEM;
		goto err_free_blocks;
	}

	ret = memory_group_register_dynamic(hd->nid, PHYS_PFN(hd->block_size));
	if (ret < 0) {
		dev_err(&pdev->dev, "cannot register a memory group on node %d: %d\n",
			hd->nid, ret);
		goto err_free_name;
	}
	hd->mgid = ret;
	ret = hotdimm_hotplug_register(hd);
	if (ret) {
		dev_err(&pdev->dev, "cannot register a memory notifier: %d\n", ret);
		goto err_unregister_group;
	}
	hotdimm_set_requested(hd, pd->requested);

	platform_set_drvdata(pdev, hd);
	spin_lock(&hotdimm_devs_lock);
	list_add_tail(&hd->node, &hotdimm_devs);
	spin_unlock(&hotdimm_devs_lock);

	hd->worker = kthread_run(hd_worker, hd, "hotdimm/%d", pdev->id);
	if (IS_ERR(hd->worker)) {
		ret = PTR_ERR(hd->worker);
		goto err_unlist;
	}
	dev_info(&pdev->dev,
		 "%s: %llu MiB at [%#llx-%#llx], node %d, %llu blocks of %llu MiB\n",
		 hd->ops->name, hd_mib(hd->size), hd->start,
		 hd->start + hd->size - 1, hd->nid, nr, hd_mib(hd->block_size));
	return 0;

err_unlist:
	spin_lock(&hotdimm_devs_lock);
	list_del(&hd->node);
	spin_unlock(&hotdimm_devs_lock);
	hotdimm_hotplug_unregister(hd);
err_unregister_group:
	memory_group_unregister(hd->mgid);
err_free_name:
	kfree(hd->resource_name);
err_free_blocks:
	kvfree(blocks);
err_free_dev:
	kfree(hd);
	return ret;
}

/*
 * Take all memory out through the worker (it owns the offline watchdog),
 * then stop it and the memory notifier. Blocks that cannot be offlined stay online: the kernel then
 * still references the memory group and the resource name, so both are
 * left allocated on purpose; nothing of the module's code stays reachable.
 */
static void hd_remove(struct platform_device *pdev)
{
	struct hotdimm_dev *hd = platform_get_drvdata(pdev);
	u64 left, in_linux;

	WRITE_ONCE(hd->draining, true);
	hotdimm_kick(hd);
	/* Wake up now and then, so a long unload is not a hung task. */
	while (!wait_for_completion_timeout(&hd->drained, 10 * HZ))
		dev_info(&pdev->dev, "unload: still taking memory out\n");
	kthread_stop(hd->worker);
	hotdimm_hotplug_unregister(hd);

	spin_lock(&hotdimm_devs_lock);
	list_del(&hd->node);
	spin_unlock(&hotdimm_devs_lock);

	in_linux = hotdimm_blocks_in_linux(&hd->bk);
	left = hotdimm_blocks_state_sb(&hd->bk, HOTDIMM_BLOCK_PLUGGED);
	if (left)
		dev_warn(&pdev->dev,
			 "%llu MiB are out of Linux but the %s transport did not unplug them\n",
			 hd_mib(left * hd->sb_size), hd->ops->name);
	if (in_linux) {
		char map[64];

		hotdimm_blocks_map(&hd->bk, map, sizeof(map));
		dev_warn(&pdev->dev,
			 "%llu MiB could not be offlined and stay in use (blocks %s%s); the memory remains usable until reboot\n",
			 hd_mib(in_linux * hd->block_size), map,
			 hd->bk.nr >= sizeof(map) ? "..." : "");
	} else {
		memory_group_unregister(hd->mgid);
		kfree(hd->resource_name);
	}
	kvfree(hd->bk.b);
	kfree(hd);
}

HOTDIMM_DEFINE_PLATFORM_REMOVE(hd_remove)

static struct platform_driver hotdimm_driver = {
	.probe = hd_probe,
	HOTDIMM_PLATFORM_REMOVE(hd_remove),
	.driver = {
		.name = HOTDIMM_DRIVER_NAME,
		.dev_groups = hotdimm_dev_groups,
		/* Unbinding through sysfs would unplug memory behind our back. */
		.suppress_bind_attrs = true,
		/*
		 * hotdimm_register_device() learns from pdev->dev.driver whether
		 * probe worked; also with async_probe=1 it must have run.
		 */
		.probe_type = PROBE_FORCE_SYNCHRONOUS,
	},
};

int hotdimm_check_region(u64 start, u64 size, const char *who,
			 const char *hint)
{
	struct hotdimm_dev *hd;
	int ret = 0;

	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("%s: [%#llx-%#llx] overlaps System RAM the kernel already uses%s\n",
		       who, start, start + size - 1, hint);
		return -EBUSY;
	}
	spin_lock(&hotdimm_devs_lock);
	list_for_each_entry(hd, &hotdimm_devs, node) {
		if (start < hd->start + hd->size && hd->start < start + size) {
			ret = -EBUSY;
			break;
		}
	}
	spin_unlock(&hotdimm_devs_lock);
	if (ret)
		pr_err("%s: [%#llx-%#llx] overlaps an existing hotdimm device\n",
		       who, start, start + size - 1);
	return ret;
}

int hotdimm_register_device(struct device *parent,
			    const struct hotdimm_pdata *pdata,
			    struct platform_device **out)
{
	struct platform_device_info info = {
		.parent = parent,
		.name = HOTDIMM_DRIVER_NAME,
		.data = pdata,
		.size_data = sizeof(*pdata),
	};
	struct platform_device *pdev;
	int id;

	id = ida_alloc(&hotdimm_ida, GFP_KERNEL);
	if (id < 0)
		return id;
	info.id = id;
	pdev = platform_device_register_full(&info);
	if (IS_ERR(pdev)) {
		ida_free(&hotdimm_ida, id);
		return PTR_ERR(pdev);
	}
	/* Probe is forced synchronous; an unbound device means it failed. */
	if (!READ_ONCE(pdev->dev.driver)) {
		platform_device_unregister(pdev);
		ida_free(&hotdimm_ida, id);
		return -ENODEV;
	}
	*out = pdev;
	return 0;
}

void hotdimm_unregister_device(struct platform_device *pdev)
{
	int id = pdev->id;

	platform_device_unregister(pdev);
	ida_free(&hotdimm_ida, id);
}

int hotdimm_core_init(void)
{
	return platform_driver_register(&hotdimm_driver);
}

void hotdimm_core_exit(void)
{
	platform_driver_unregister(&hotdimm_driver);
}

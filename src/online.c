// SPDX-License-Identifier: GPL-2.0
/*
 * Zone-steered onlining: the one place that decides how hotdimm's memory
 * blocks get online in the zone the accounting chose.
 *
 * Why this is needed: a module cannot pass a zone to
 * add_memory_driver_managed(), and the functions that online a block in a
 * given zone (device_online(), online_pages(), zone_for_pfn_range()) are not
 * exported to modules. Left alone, a new block either stays offline
 * (auto_online_blocks=offline, Debian's 6.1 default) or is onlined by the
 * kernel's own policy (often ZONE_NORMAL, from where it cannot be taken back).
 *
 * What it relies on (verified in guests on 6.1, 6.12 and 7.3):
 *  1. A memory notifier sees MEM_GOING_ONLINE after the zone has been
 *     assigned; NOTIFY_BAD cancels that onlining cleanly and the block stays
 *     offline. While the driver steers a block (block->want is set), an
 *     onlining into any other zone is refused: this catches the kernel's
 *     auto-onlining inside add_memory_driver_managed() and udev rules.
 *  2. Writing "online_movable" / "online_kernel" to the block's sysfs state
 *     file from a kernel thread onlines it into that zone. The file is
 *     opened through hotdimm's own internal sysfs mount: a kernel thread's
 *     root need not be the one where userspace mounted /sys (since 7.x it
 *     is not, and a process may have none). The store handler
 *     only trylocks the device hotplug lock and, when contended, returns
 *     -ERESTARTNOINTR with TIF_SIGPENDING set on the caller: we flush the
 *     signal and retry. This must not run under any lock the hotplug path
 *     takes (the notifier takes hotdimm_devs_lock and hd->lock), nor from a
 *     notifier.
 *  3. MEM_ONLINE / MEM_OFFLINE tell the real zone of every block, whoever
 *     onlined or offlined it: an administrator's choice is recorded, never
 *     undone (steering ends once a block is online).
 *  4. Blocks with holes (subblock.c): MEM_GOING_OFFLINE / MEM_CANCEL_OFFLINE
 *     drop and retake our reference to the holes' pages; MEM_GOING_ONLINE
 *     is refused while a block has holes and the online-page callback is
 *     not ours.
 *
 * When the kernel grows an API to add memory into a given zone, (2) and the
 * refusal in (1) collapse into that call.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "hotdimm.h"

/* How long to keep retrying a contended device hotplug lock. */
#define HOTDIMM_ONLINE_TRIES	2000

/* An internal mount of sysfs, independent of anyone's root directory. */
static struct vfsmount *hd_sysfs;

/*
 * Open @path (relative to the sysfs root, e.g. "devices/system/memory")
 * through the internal mount. Any context that may sleep.
 */
struct file *hotdimm_sysfs_open(const char *path, int flags)
{
	return file_open_root_mnt(hd_sysfs, path, flags, 0);
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

/* Caller holds hotdimm_devs_lock. */
static int hd_memory_notify(struct notifier_block *nb, unsigned long action,
			    void *arg)
{
	const struct memory_notify *mn = arg;
	u64 addr = PFN_PHYS(mn->start_pfn);
	enum hotdimm_block_state zone;
	struct hotdimm_block *b;
	struct hotdimm_dev *hd;
	int ret = NOTIFY_OK;
	u64 idx;

	if (action != MEM_GOING_ONLINE && action != MEM_ONLINE &&
	    action != MEM_OFFLINE && action != MEM_GOING_OFFLINE &&
	    action != MEM_CANCEL_OFFLINE)
		return NOTIFY_OK;

	spin_lock(&hotdimm_devs_lock);
	hd = hotdimm_find_dev(addr);
	if (!hd)
		goto out;
	/* With memmap_on_memory, start_pfn lies past the block's memmap. */
	idx = (addr - hd->start) / hd->block_size;
	spin_lock(&hd->lock);
	b = &hd->bk.b[idx];
	switch (action) {
	case MEM_GOING_ONLINE:
		/*
		 * Without the online-page callback, onlining would hand the
		 * holes' pages (unplugged at the transport) to the buddy
		 * allocator: refuse it. hotdimm fills the holes first.
		 */
		if (b->holes && !hotdimm_sb_have_callback()) {
			dev_dbg(hd->dev, "block %llu: refusing to online it with unplugged parts\n",
				idx);
			ret = NOTIFY_BAD;
			break;
		}
		zone = hd_zone_state(mn->start_pfn);
		if (b->want == HOTDIMM_ZONE_NONE)
			break;
		if (hd_zone_of(zone) != b->want) {
			dev_dbg(hd->dev,
				"block %llu: refusing to online into the %s zone, hotdimm onlines it as %s\n",
				idx, zone == HOTDIMM_BLOCK_MOVABLE ?
				"movable" : "kernel",
				b->want == HOTDIMM_ZONE_MOVABLE ?
				"movable" : "kernel");
			ret = NOTIFY_BAD;
		}
		break;
	case MEM_ONLINE:
		zone = hd_zone_state(mn->start_pfn);
		/* Only blocks the driver added; others are not ours yet. */
		if (b->state >= HOTDIMM_BLOCK_OFFLINE) {
			hotdimm_block_set(&hd->bk, idx, zone);
			dev_dbg(hd->dev, "block %llu online (%s)\n", idx,
				zone == HOTDIMM_BLOCK_MOVABLE ? "movable" : "kernel");
		}
		break;
	case MEM_GOING_OFFLINE:
		if (b->state >= HOTDIMM_BLOCK_OFFLINE)
			hotdimm_offline_begins(hd);
		fallthrough;
	case MEM_CANCEL_OFFLINE:
		if (b->holes && b->state > HOTDIMM_BLOCK_OFFLINE)
			hotdimm_sb_going_offline(hd, idx, b->holes,
						 action == MEM_CANCEL_OFFLINE);
		break;
	case MEM_OFFLINE:
		if (b->state >= HOTDIMM_BLOCK_OFFLINE) {
			hotdimm_block_set(&hd->bk, idx, HOTDIMM_BLOCK_OFFLINE);
			dev_dbg(hd->dev, "block %llu offline\n", idx);
		}
		break;
	}
	spin_unlock(&hd->lock);
out:
	spin_unlock(&hotdimm_devs_lock);
	return ret;
}

static struct notifier_block hd_memory_nb = {
	.notifier_call = hd_memory_notify,
	/* Refuse a wrong zone before other notifiers prepare the block. */
	.priority = 100,
};

/*
 * Online block @idx of @hd into @zone through its sysfs state file.
 *
 * Context: the device's worker thread, no spinlock held.
 * Returns 0, or a negative errno for hotdimm_classify_error(); -EINVAL also
 * when the block was already online (the caller checks the real state).
 */
int hotdimm_online_block(struct hotdimm_dev *hd, u64 idx, enum hotdimm_zone zone)
{
	const char *val = zone == HOTDIMM_ZONE_MOVABLE ?
			  "online_movable" : "online_kernel";
	u64 addr = hd->start + idx * hd->block_size;
	struct file *f;
	char path[64];
	ssize_t ret;
	int tries;

	snprintf(path, sizeof(path), "devices/system/memory/memory%llu/state",
		 addr / memory_block_size_bytes());
	f = hotdimm_sysfs_open(path, O_WRONLY);
	if (IS_ERR(f)) {
		dev_err(hd->dev, "cannot open /sys/%s: %ld\n", path, PTR_ERR(f));
		return PTR_ERR(f);
	}
	for (tries = 0; tries < HOTDIMM_ONLINE_TRIES; tries++) {
		loff_t pos = 0;

		ret = kernel_write(f, val, strlen(val), &pos);
		if (ret != -ERESTARTNOINTR && ret != -EINTR &&
		    ret != -ERESTARTSYS)
			break;
		/* Device hotplug lock contended: the store asked for a restart. */
		flush_signals(current);
		cond_resched();
	}
	filp_close(f, NULL);
	if (ret < 0) {
		/* -EINVAL also when it is online already (auto-onlining). */
		dev_dbg(hd->dev, "block %llu: writing %s returned %zd\n", idx,
			val, ret);
		return tries == HOTDIMM_ONLINE_TRIES ? -EBUSY : ret;
	}
	dev_dbg(hd->dev, "block %llu: onlined with %s\n", idx, val);
	return 0;
}

int hotdimm_online_init(void)
{
	struct file_system_type *sysfs = get_fs_type("sysfs");
	int ret;

	if (!sysfs) {
		pr_err("no sysfs in this kernel; hotdimm needs it to online memory\n");
		return -ENODEV;
	}
	/* sysfs is built in: get_fs_type() took no module reference. */
	hd_sysfs = kern_mount(sysfs);
	if (IS_ERR(hd_sysfs)) {
		ret = PTR_ERR(hd_sysfs);
		pr_err("cannot mount sysfs internally: %d\n", ret);
		return ret;
	}
	ret = register_memory_notifier(&hd_memory_nb);
	if (ret)
		goto err_unmount;
	return 0;

err_unmount:
	kern_unmount(hd_sysfs);
	return ret;
}

void hotdimm_online_exit(void)
{
	unregister_memory_notifier(&hd_memory_nb);
	kern_unmount(hd_sysfs);
}

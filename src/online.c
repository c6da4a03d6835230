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
 *     offline. While the driver steers a block (block->want is set), the
 *     notifier (hotplug.c) refuses an onlining into any other zone: this
 *     catches the kernel's auto-onlining inside add_memory_driver_managed()
 *     and udev rules.
 *  2. Writing "online_movable" / "online_kernel" to the block's sysfs state
 *     file from a kernel thread onlines it into that zone. The file is
 *     opened through hotdimm's own internal sysfs mount: a kernel thread's
 *     root need not be the one where userspace mounted /sys (since 7.x it
 *     is not, and a process may have none). The store handler
 *     only trylocks the device hotplug lock and, when contended, returns
 *     -ERESTARTNOINTR with TIF_SIGPENDING set on the caller: we flush the
 *     signal and retry. This must not run under any lock the hotplug path
 *     takes (the notifier takes hd->hotplug_lock and hd->lock), nor from a
 *     notifier.
 *  3. MEM_ONLINE / MEM_OFFLINE tell the real zone of every block, whoever
 *     onlined or offlined it: an administrator's choice is recorded, never
 *     undone (steering ends once a block is online).
 *  4. Blocks with holes (subblock.c, hotplug.c): MEM_GOING_OFFLINE /
 *     MEM_CANCEL_OFFLINE drop and retake our reference to the holes' pages;
 *     MEM_GOING_ONLINE is refused while a block has holes and the
 *     online-page callback is not ours.
 *
 * When the kernel grows an API to add memory into a given zone, (2) and the
 * refusal in (1) collapse into that call.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
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

/*
 * Open the sysfs state file of block @idx of @hd; its path (relative to
 * the sysfs root) goes to @path.
 */
static struct file *hd_open_state(struct hotdimm_dev *hd, u64 idx, int flags,
				  char (*path)[64])
{
	u64 addr = hd->start + idx * hd->block_size;

	snprintf(*path, sizeof(*path), "devices/system/memory/memory%llu/state",
		 addr / memory_block_size_bytes());
	return hotdimm_sysfs_open(*path, flags);
}

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
	struct file *f;
	char path[64];
	ssize_t ret;
	int tries;

	/* Onlining enters the memory notifier, which takes this lock. */
	lockdep_assert_not_held(&hd->hotplug_lock);
	f = hd_open_state(hd, idx, O_WRONLY, &path);
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

/*
 * Is block @idx of @hd online as far as Linux's memory block device says
 * ("online"; not "offline" nor "going-offline")? Linux marks a block
 * going-offline before it isolates its pageblocks, and only then calls the
 * memory notifier. Returns true or false; false also when the state cannot
 * be read.
 *
 * Context: the device's worker; may sleep.
 */
bool hotdimm_block_linux_online(struct hotdimm_dev *hd, u64 idx)
{
	char path[64], buf[16] = "";
	struct file *f;
	loff_t pos = 0;
	ssize_t n;

	f = hd_open_state(hd, idx, O_RDONLY, &path);
	if (IS_ERR(f))
		return false;
	n = kernel_read(f, buf, sizeof(buf) - 1, &pos);
	filp_close(f, NULL);
	return n > 0 && !strncmp(buf, "online\n", 7);
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
	return 0;
}

void hotdimm_online_exit(void)
{
	kern_unmount(hd_sysfs);
}

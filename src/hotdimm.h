/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hotdimm internal interfaces: device core, transports, onlining, sysfs.
 */
#ifndef HOTDIMM_H
#define HOTDIMM_H

#include <linux/completion.h>
#include <linux/device.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/platform_device.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/wait.h>

#include "hotdimm_acct.h"
#include "hotdimm_blocks.h"
#include "hotdimm_common.h"

struct hotdimm_dev;

/**
 * struct hotdimm_transport_ops - what a transport does for the core
 * @name:   "virtio-mem" or "emulated"; shown in the transport attribute
 * @plug:   make [@addr, @addr + @size) usable before the core adds it to
 *          Linux (virtio-mem: PLUG requests). Called from the device worker
 *          with no core lock held; may sleep. Returns 0 or a negative errno
 *          that hotdimm_classify_error() understands.
 * @unplug: give the range back after the core removed it from Linux.
 *          Same context and return convention as @plug.
 * @resizable: the requested_size attribute is writable (emulated only).
 * @exact_plug: the transport refuses to plug beyond the request (virtio-mem
 *          NACKs), so a block cannot be plugged whole and trimmed later.
 *
 * @plug and @unplug may be NULL when the transport needs no protocol.
 */
struct hotdimm_transport_ops {
	const char *name;
	int (*plug)(struct hotdimm_dev *hd, u64 addr, u64 size);
	int (*unplug)(struct hotdimm_dev *hd, u64 addr, u64 size);
	bool resizable;
	bool exact_plug;
};

/**
 * struct hotdimm_pdata - platform data a transport passes to the core
 * @ops:       transport operations
 * @priv:      transport private pointer, available as hd->priv
 * @start:     region start (aligned to the memory block size)
 * @size:      region size (a multiple of the memory block size)
 * @nid:       NUMA node, or NUMA_NO_NODE to derive it from the address
 * @requested: initial requested size in bytes
 * @granularity: smallest range the transport plugs (virtio-mem: the device
 *             block size), or 0 for any page-aligned range
 */
struct hotdimm_pdata {
	const struct hotdimm_transport_ops *ops;
	void *priv;
	u64 start;
	u64 size;
	int nid;
	u64 requested;
	u64 granularity;
};

#define HOTDIMM_STATUS_LEN	128

/**
 * struct hotdimm_dev - one memory device
 *
 * Locking (outermost first; hotplug.c has the full contract):
 * - The kernel's device hotplug lock and mem_hotplug_lock: held by whoever
 *   onlines or offlines a block (an administrator, udev, hotdimm's worker
 *   through sysfs or offline_and_remove_memory()).
 * - @hotplug_lock (mutex): one span of the kernel's two-phase online or
 *   offline of one of this device's blocks (the memory notifier holds it
 *   from MEM_GOING_* to the end of the transition), or one sub-block plug
 *   or unplug of a block in Linux by the worker. It covers the holes of
 *   blocks in Linux and everything the online-page callback and the
 *   notifier do with their pages. The worker never holds it across its own
 *   onlining, add_memory_driver_managed() or offline_and_remove_memory():
 *   those enter the notifier themselves.
 * - @lock (spinlock): the block bookkeeping others read (@bk), @requested,
 *   @broken, the status fields and @ratio; single reads and updates only.
 *   Nothing under it sleeps or calls into memory hotplug.
 * - hotdimm_devs_lock (global spinlock): the device list; outside @lock.
 * Memory operations of a device (plug, add, online, offline, remove,
 * unplug) are started only by its worker thread, one at a time; remove()
 * lets the worker drain the device and stops it before freeing anything.
 */
struct hotdimm_dev {
	struct device *dev;
	const struct hotdimm_transport_ops *ops;
	void *priv;
	struct list_head node;		/* on hotdimm_devs */

	u64 start;
	u64 size;
	u64 block_size;			/* memory_block_size_bytes() */
	u64 sb_size;			/* sub-block: block_size / bk.sb_per_block */
	int nid;
	int mgid;			/* memory group id */
	const char *resource_name;	/* kept alive while memory is added */

	struct mutex hotplug_lock;	/* see Locking above */
	struct notifier_block memory_nb;	/* hotplug.c */
	long long span_idx;		/* block in a kernel transition, or -1 */
	bool span_dropped;		/* its holes' references were dropped */
	bool removing;			/* refuse new transitions (hotplug.c) */
	spinlock_t lock;		/* see Locking above */
	struct hotdimm_blocks bk;
	u64 requested;			/* bytes, as the transport/user asked */
	u32 ratio;			/* per-device movable_ratio */
	bool ratio_set;			/* written via sysfs: ignore the param */
	bool broken;			/* gave up growing until the next resize */
	int last_err;			/* last failure, for the status */
	u64 last_err_block;
	const char *last_err_what;
	char status[HOTDIMM_STATUS_LEN];	/* what the worker does */
	char note[HOTDIMM_STATUS_LEN];		/* set by hotdimm_set_status() */

	struct task_struct *worker;
	wait_queue_head_t wq;
	bool kick;
	bool draining;			/* remove(): take everything out */
	bool drain_started;		/* worker saw draining (worker only) */
	struct completion drained;
	struct timer_list offline_timer; /* bounds one offline attempt */
	bool offline_timed_out;
};

/* Is a block in @state online (in a zone)? */
static inline bool hotdimm_state_online(u8 state)
{
	return state == HOTDIMM_BLOCK_KERNEL || state == HOTDIMM_BLOCK_MOVABLE;
}

/* Physical address of sub-block @sb of block @idx. */
static inline u64 hotdimm_sb_addr(const struct hotdimm_dev *hd, u64 idx,
				  unsigned int sb)
{
	return hd->start + idx * hd->block_size + (u64)sb * hd->sb_size;
}

/* Module parameters (main.c). */
extern unsigned int hotdimm_movable_ratio;
extern bool hotdimm_numa_aware;
extern int hotdimm_online_policy;
extern bool hotdimm_memmap_on_memory;

/* Device list (core.c), walked by the zone statistics. */
extern struct list_head hotdimm_devs;
extern spinlock_t hotdimm_devs_lock;

/* core.c */
int hotdimm_core_init(void);
/* movable_ratio module parameter changed: update devices that follow it. */
void hotdimm_ratio_changed(void);
void hotdimm_core_exit(void);
/* Set the target size (bytes; rounded down to sub-blocks) and wake the worker. */
void hotdimm_set_requested(struct hotdimm_dev *hd, u64 bytes);
void hotdimm_kick(struct hotdimm_dev *hd);
/*
 * A transport's note shown after the core's state in the status attribute
 * (e.g. "host request of 300 MiB rounded down to 256 MiB"); "" clears it.
 */
void hotdimm_set_status(struct hotdimm_dev *hd, const char *fmt, ...)
	__printf(2, 3);
/* Fill @buf with "state[; note]"; takes hd->lock. */
void hotdimm_get_status(struct hotdimm_dev *hd, char *buf, size_t len);
/* Allocate a platform device id shared by all transports. */
int hotdimm_register_device(struct device *parent,
			    const struct hotdimm_pdata *pdata,
			    struct platform_device **out);
void hotdimm_unregister_device(struct platform_device *pdev);
/*
 * Refuse ranges that overlap RAM Linux already has or another device.
 * @hint follows the RAM message, e.g. " (hide it with mem=...)".
 */
int hotdimm_check_region(u64 start, u64 size, const char *who,
			 const char *hint);

/* zones.c: the system's zone statistics for the accounting. */
void hotdimm_acct_gather(struct hotdimm_dev *hd, struct hotdimm_acct_input *in);

/* online.c: the zone-steering mechanism. */
int hotdimm_online_init(void);
void hotdimm_online_exit(void);
struct file *hotdimm_sysfs_open(const char *path, int flags);
int hotdimm_online_block(struct hotdimm_dev *hd, u64 idx,
			 enum hotdimm_zone zone);
bool hotdimm_block_linux_online(struct hotdimm_dev *hd, u64 idx);

/* hotplug.c: the kernel's transitions of hotdimm's blocks, as spans. */
int hotdimm_hotplug_init(void);
void hotdimm_hotplug_exit(void);
bool hotdimm_have_callback(void);
int hotdimm_hotplug_lock(struct hotdimm_dev *hd);
int hotdimm_hotplug_register(struct hotdimm_dev *hd);
void hotdimm_hotplug_unregister(struct hotdimm_dev *hd);
int hotdimm_remove_memory(struct hotdimm_dev *hd, u64 idx);
void hotdimm_set_holes(struct hotdimm_dev *hd, u64 idx, u64 holes);

/* subblock.c: plugging and unplugging parts of blocks. */
int hotdimm_transport_runs(struct hotdimm_dev *hd, u64 idx, u64 mask,
			   bool plug);
int hotdimm_sb_unplug_online(struct hotdimm_dev *hd, u64 idx, unsigned int sb);
int hotdimm_sb_plug(struct hotdimm_dev *hd, u64 idx, unsigned int sb);
int hotdimm_sb_plug_block(struct hotdimm_dev *hd, u64 idx, u64 holes,
			  u64 pins);
int hotdimm_sb_trim(struct hotdimm_dev *hd, u64 idx, u64 mask);

/* sysfs.c */
extern const struct attribute_group *hotdimm_dev_groups[];

/* emulated.c */
int hotdimm_emulated_init(const char *dimms);
void hotdimm_emulated_exit(void);

/* virtio_mem.c */
int hotdimm_virtio_init(void);
void hotdimm_virtio_exit(void);

#endif /* HOTDIMM_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Block bookkeeping: the state of each Linux memory block of a device, the
 * counters derived from it, the order in which blocks are added and removed,
 * and the classification of errors. Pure logic, shared with the unit tests.
 */
#ifndef HOTDIMM_BLOCKS_H
#define HOTDIMM_BLOCKS_H

#include "hotdimm_common.h"

/*
 * enum hotdimm_block_state - where one memory block of a device stands
 * @HOTDIMM_BLOCK_UNPLUGGED: not plugged at the transport, unknown to Linux.
 *	Shown as '-'.
 * @HOTDIMM_BLOCK_PLUGGED:   plugged at the transport (the host backs it) but
 *	not added to Linux yet, or its add failed. Shown as 'o'.
 * @HOTDIMM_BLOCK_OFFLINE:   added to Linux (a memoryN device exists), offline.
 *	Shown as 'o'.
 * @HOTDIMM_BLOCK_KERNEL:    online in a kernel zone (ZONE_NORMAL...). 'K'.
 * @HOTDIMM_BLOCK_MOVABLE:   online in ZONE_MOVABLE. 'M'.
 *
 * Transitions: UNPLUGGED -> PLUGGED -> OFFLINE -> KERNEL|MOVABLE and back.
 * The state is only ever changed through hotdimm_block_set(), which keeps
 * the per-state counters exact.
 */
enum hotdimm_block_state {
	HOTDIMM_BLOCK_UNPLUGGED = 0,
	HOTDIMM_BLOCK_PLUGGED,
	HOTDIMM_BLOCK_OFFLINE,
	HOTDIMM_BLOCK_KERNEL,
	HOTDIMM_BLOCK_MOVABLE,
	HOTDIMM_BLOCK_NR_STATES,
};

/* Zone a block should be (or is) onlined to. */
enum hotdimm_zone {
	HOTDIMM_ZONE_NONE = 0,	/* no preference: leave it to the system */
	HOTDIMM_ZONE_KERNEL,
	HOTDIMM_ZONE_MOVABLE,
};

struct hotdimm_block {
	u8 state;	/* enum hotdimm_block_state */
	u8 want;	/* enum hotdimm_zone while the driver steers onlining */
	u16 fails;	/* consecutive failed removal attempts */
	u64 seq;	/* when it was added: larger is newer */
	u64 retry_at;	/* do not retry removal before this tick */
};

struct hotdimm_blocks {
	u64 nr;
	u64 count[HOTDIMM_BLOCK_NR_STATES];
	u64 next_seq;
	struct hotdimm_block *b;
};

/* @arr must hold @nr entries; all blocks start UNPLUGGED. */
void hotdimm_blocks_init(struct hotdimm_blocks *bk, struct hotdimm_block *arr,
			 u64 nr);

/* The single setter of a block's state; keeps counters and add order. */
void hotdimm_block_set(struct hotdimm_blocks *bk, u64 idx,
		       enum hotdimm_block_state state);

/* Blocks that are plugged at the transport (anything but UNPLUGGED). */
u64 hotdimm_blocks_plugged(const struct hotdimm_blocks *bk);

/* '-', 'o', 'K' or 'M'. */
char hotdimm_block_char(enum hotdimm_block_state state);

/*
 * Writes one character per block plus a NUL into @buf (at most @len bytes,
 * truncating). Returns the number of characters written, without the NUL.
 */
size_t hotdimm_blocks_map(const struct hotdimm_blocks *bk, char *buf,
			  size_t len);

/*
 * Next block to grow by: a block already PLUGGED (add it), else the lowest
 * UNPLUGGED one. Returns the index, or -1 when every block is in use.
 */
long long hotdimm_blocks_pick_add(const struct hotdimm_blocks *bk);

/*
 * Next block to shrink by, in this order: PLUGGED, then OFFLINE, then
 * MOVABLE, then KERNEL (only if @kernel_ok), newest first within each
 * state; blocks whose retry_at lies after @now are skipped. With
 * @plugged_only, only PLUGGED blocks (out of Linux, waiting for the
 * transport to unplug them) are candidates. Returns the index, or -1 when
 * no candidate is ready.
 */
long long hotdimm_blocks_pick_remove(const struct hotdimm_blocks *bk, u64 now,
				     bool kernel_ok, bool plugged_only);

/* Blocks added to Linux (OFFLINE, KERNEL or MOVABLE). */
u64 hotdimm_blocks_in_linux(const struct hotdimm_blocks *bk);

/*
 * Record a failed removal of block @idx at @now: the next attempt waits
 * @base << fails ticks, at most @max.
 */
void hotdimm_block_backoff(struct hotdimm_blocks *bk, u64 idx, u64 now,
			   u64 base, u64 max);

/* Forget earlier failures of block @idx (it was removed or re-added). */
void hotdimm_block_clear_backoff(struct hotdimm_blocks *bk, u64 idx);

/*
 * What to do after an operation failed with @err (a negative errno), the
 * one place where errors are classified:
 */
enum hotdimm_err_action {
	HOTDIMM_ERR_RETRY_NOW,		/* transient (interrupted): again at once */
	HOTDIMM_ERR_RETRY_BACKOFF,	/* busy, out of memory: wait, retry */
	HOTDIMM_ERR_GIVE_UP,		/* configuration or device fault */
};

enum hotdimm_err_action hotdimm_classify_error(int err);

/* "busy", "out of memory", "device error"...: for the status attribute. */
const char *hotdimm_error_str(int err);

#endif /* HOTDIMM_BLOCKS_H */

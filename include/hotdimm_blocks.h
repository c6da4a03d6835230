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
 *
 * Sub-blocks: a block is split into sb_per_block (at most 64) sub-blocks of
 * max(pageblock, device block, block / 64) bytes, 2 MiB on x86-64. A block
 * that is not UNPLUGGED may have "holes": sub-blocks that are not plugged
 * at the transport. Their pages belong to hotdimm (PageOffline, never in the
 * buddy allocator, not counted as managed memory) and must never be read or
 * written. A block with holes is shown as 'k' (kernel zone), 'm' (movable)
 * or 'p' (offline or not added). The holes are only ever changed through
 * hotdimm_block_set_holes(), which keeps the per-state hole counters exact.
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

/*
 * One per memory block of a device (8192 for 1 TiB): fields ordered so that
 * the entry has no padding (48 bytes on 64-bit).
 */
struct hotdimm_block {
	u8 state;	/* enum hotdimm_block_state */
	u8 want;	/* enum hotdimm_zone while the driver steers onlining */
	u16 fails;	/* consecutive failed removal attempts */
	int err;	/* the error that made it back off (logged once) */
	u64 seq;	/* when it was added: larger is newer */
	u64 retry_at;	/* do not retry removal before this tick */
	u64 holes;	/* sub-blocks not plugged at the transport (bit i) */
	u64 fresh;	/* holes whose pages never went to the buddy allocator */
	u64 pinned;	/* sub-blocks that must stay plugged (memmap on them) */
};

struct hotdimm_blocks {
	u64 nr;
	unsigned int sb_per_block;		/* 1..64 */
	u64 count[HOTDIMM_BLOCK_NR_STATES];	/* blocks per state */
	u64 holes[HOTDIMM_BLOCK_NR_STATES];	/* hole sub-blocks per state */
	u64 next_seq;
	u64 gen;	/* bumped whenever a block's map character may change */
	struct hotdimm_block *b;
};

/*
 * @arr must hold @nr entries of @sb_per_block (1..64) sub-blocks each; all
 * blocks start UNPLUGGED.
 */
void hotdimm_blocks_init(struct hotdimm_blocks *bk, struct hotdimm_block *arr,
			 u64 nr, unsigned int sb_per_block);

/* Mask with one bit per sub-block of a block. */
u64 hotdimm_sb_mask(const struct hotdimm_blocks *bk);

/* Number of bits set in @mask. */
unsigned int hotdimm_popcount(u64 mask);

/*
 * The single setter of a block's holes (bits of sub-blocks not plugged at
 * the transport); keeps the per-state hole counters. Only for blocks that
 * are not UNPLUGGED (an UNPLUGGED block has no holes: nothing is plugged).
 */
void hotdimm_block_set_holes(struct hotdimm_blocks *bk, u64 idx, u64 holes);

/* Sub-blocks plugged at the transport: in block @idx, in all blocks, in
 * blocks of @state.
 */
unsigned int hotdimm_block_plugged_sb(const struct hotdimm_blocks *bk, u64 idx);
u64 hotdimm_blocks_plugged_sb(const struct hotdimm_blocks *bk);
u64 hotdimm_blocks_state_sb(const struct hotdimm_blocks *bk,
			    enum hotdimm_block_state state);

/*
 * Block whose holes to fill when growing: an online block with holes
 * (lowest first), else an offline or not added one. -1 when none.
 */
long long hotdimm_blocks_pick_fill(const struct hotdimm_blocks *bk);

/*
 * Online block to take sub-blocks from when no whole block can go: blocks
 * with holes first (finish what was started), then MOVABLE, then KERNEL
 * (only if @kernel_ok), newest first; skipping blocks in backoff at @now
 * and blocks with nothing left to take (everything plugged is pinned).
 * -1 when none.
 */
long long hotdimm_blocks_pick_partial(const struct hotdimm_blocks *bk, u64 now,
				      bool kernel_ok);

/*
 * Block to unplug some sub-blocks of at the transport alone (no pages in
 * use), when no block can go whole: a PLUGGED one (plugged, not in Linux),
 * else, unless @plugged_only, an OFFLINE one (in Linux, offline); the
 * newest out of backoff at @now with something left to take. -1 when none.
 */
long long hotdimm_blocks_pick_trim(const struct hotdimm_blocks *bk, u64 now,
				   bool plugged_only);

/*
 * The top @n sub-blocks of block @idx that are plugged and not pinned (as
 * a mask; fewer when it has fewer).
 */
u64 hotdimm_block_take_mask(const struct hotdimm_blocks *bk, u64 idx, u64 n);

/* The single setter of a block's state; keeps counters and add order. */
void hotdimm_block_set(struct hotdimm_blocks *bk, u64 idx,
		       enum hotdimm_block_state state);

/* Blocks that are plugged at the transport (anything but UNPLUGGED). */
u64 hotdimm_blocks_plugged(const struct hotdimm_blocks *bk);

/* '-', 'o', 'K' or 'M'; with holes 'p', 'k' or 'm'. */
char hotdimm_block_char(enum hotdimm_block_state state, bool holes);

/*
 * Writes one character per block plus a NUL into @buf (at most @len bytes,
 * truncating). Returns the number of characters written, without the NUL.
 */
size_t hotdimm_blocks_map(const struct hotdimm_blocks *bk, char *buf,
			  size_t len);

/*
 * The complete block map as text, in runs (the block_map sysfs file):
 *
 *	blocks NR generation GEN\n
 *	FIRST[-LAST]:C FIRST[-LAST]:C ...\n
 *	generation GEN\n
 *
 * One run per stretch of blocks showing the same character C (see
 * hotdimm_block_char()), indices decimal from 0, runs in order, separated by
 * one space, covering every block. GEN is bk->gen; a reader that gets the
 * text in several pieces knows it is one consistent map when both GENs are
 * equal (bk->gen only grows).
 *
 * Writes bytes [@pos, @pos + @len) of that text into @buf (no NUL) and
 * returns how many (0 at or after the end). Costs O(blocks), whatever @pos.
 */
size_t hotdimm_blocks_map_runs(const struct hotdimm_blocks *bk, u64 pos,
			       char *buf, size_t len);

/* Length in bytes of the whole text hotdimm_blocks_map_runs() produces. */
u64 hotdimm_blocks_map_runs_len(const struct hotdimm_blocks *bk);

/*
 * Next block to grow by: a block already PLUGGED whose retry_at is not
 * after @now (plugged at the transport but not in Linux: add it), else,
 * if @new_ok, the lowest UNPLUGGED one. Returns the index, or -1.
 */
long long hotdimm_blocks_pick_add(const struct hotdimm_blocks *bk, u64 now,
				  bool new_ok);

/*
 * Next block to shrink by, in this order: PLUGGED, then OFFLINE, then
 * MOVABLE, then KERNEL (only if @kernel_ok), newest first within each
 * state; blocks whose retry_at lies after @now, and blocks with more than
 * @max_sb sub-blocks plugged, are skipped. With @plugged_only, only PLUGGED
 * blocks (out of Linux, waiting for the transport to unplug them) are
 * candidates. Returns the index, or -1 when no candidate is ready.
 */
long long hotdimm_blocks_pick_remove(const struct hotdimm_blocks *bk, u64 now,
				     bool kernel_ok, bool plugged_only,
				     u64 max_sb);

/* Blocks added to Linux (OFFLINE, KERNEL or MOVABLE). */
u64 hotdimm_blocks_in_linux(const struct hotdimm_blocks *bk);
/* Plugged sub-blocks of the blocks added to Linux. */
u64 hotdimm_blocks_in_linux_sb(const struct hotdimm_blocks *bk);

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

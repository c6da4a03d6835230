// SPDX-License-Identifier: GPL-2.0
/*
 * Block bookkeeping and error classification. Pure logic: this file
 * compiles unchanged in the module and in the unit tests.
 */
#include "hotdimm_blocks.h"

/* Kernel-internal errno values that userspace headers do not define. */
#ifndef ERESTARTSYS
#define ERESTARTSYS	512
#endif
#ifndef ERESTARTNOINTR
#define ERESTARTNOINTR	513
#endif

void hotdimm_blocks_init(struct hotdimm_blocks *bk, struct hotdimm_block *arr,
			 u64 nr)
{
	u64 i;

	bk->nr = nr;
	bk->b = arr;
	bk->next_seq = 1;
	for (i = 0; i < HOTDIMM_BLOCK_NR_STATES; i++)
		bk->count[i] = 0;
	bk->count[HOTDIMM_BLOCK_UNPLUGGED] = nr;
	for (i = 0; i < nr; i++) {
		arr[i].state = HOTDIMM_BLOCK_UNPLUGGED;
		arr[i].want = HOTDIMM_ZONE_NONE;
		arr[i].fails = 0;
		arr[i].seq = 0;
		arr[i].retry_at = 0;
	}
}

void hotdimm_block_set(struct hotdimm_blocks *bk, u64 idx,
		       enum hotdimm_block_state state)
{
	struct hotdimm_block *b = &bk->b[idx];

	if (b->state == state)
		return;
	/* Entering Linux (added) makes the block the newest one. */
	if (b->state <= HOTDIMM_BLOCK_PLUGGED && state > HOTDIMM_BLOCK_PLUGGED)
		b->seq = bk->next_seq++;
	if (state == HOTDIMM_BLOCK_UNPLUGGED) {
		b->seq = 0;
		b->want = HOTDIMM_ZONE_NONE;
	}
	bk->count[b->state]--;
	bk->count[state]++;
	b->state = state;
}

u64 hotdimm_blocks_plugged(const struct hotdimm_blocks *bk)
{
	return bk->nr - bk->count[HOTDIMM_BLOCK_UNPLUGGED];
}

char hotdimm_block_char(enum hotdimm_block_state state)
{
	switch (state) {
	case HOTDIMM_BLOCK_UNPLUGGED:
		return '-';
	case HOTDIMM_BLOCK_PLUGGED:
	case HOTDIMM_BLOCK_OFFLINE:
		return 'o';
	case HOTDIMM_BLOCK_KERNEL:
		return 'K';
	case HOTDIMM_BLOCK_MOVABLE:
		return 'M';
	default:
		return '?';
	}
}

size_t hotdimm_blocks_map(const struct hotdimm_blocks *bk, char *buf,
			  size_t len)
{
	size_t i;

	if (!len)
		return 0;
	for (i = 0; i < bk->nr && i + 1 < len; i++)
		buf[i] = hotdimm_block_char(bk->b[i].state);
	buf[i] = '\0';
	return i;
}

long long hotdimm_blocks_pick_add(const struct hotdimm_blocks *bk)
{
	long long first_free = -1;
	u64 i;

	for (i = 0; i < bk->nr; i++) {
		if (bk->b[i].state == HOTDIMM_BLOCK_PLUGGED)
			return (long long)i;
		if (first_free < 0 && bk->b[i].state == HOTDIMM_BLOCK_UNPLUGGED)
			first_free = (long long)i;
	}
	return first_free;
}

u64 hotdimm_blocks_in_linux(const struct hotdimm_blocks *bk)
{
	return bk->count[HOTDIMM_BLOCK_OFFLINE] +
	       bk->count[HOTDIMM_BLOCK_KERNEL] +
	       bk->count[HOTDIMM_BLOCK_MOVABLE];
}

long long hotdimm_blocks_pick_remove(const struct hotdimm_blocks *bk, u64 now,
				     bool kernel_ok, bool plugged_only)
{
	static const u8 order[] = {
		HOTDIMM_BLOCK_PLUGGED, HOTDIMM_BLOCK_OFFLINE,
		HOTDIMM_BLOCK_MOVABLE, HOTDIMM_BLOCK_KERNEL,
	};
	size_t k;
	u64 i;

	for (k = 0; k < ARRAY_SIZE(order); k++) {
		long long best = -1;
		u64 best_seq = 0;

		if (order[k] == HOTDIMM_BLOCK_KERNEL && !kernel_ok)
			break;
		if (order[k] != HOTDIMM_BLOCK_PLUGGED && plugged_only)
			break;
		if (!bk->count[order[k]])
			continue;
		for (i = 0; i < bk->nr; i++) {
			const struct hotdimm_block *b = &bk->b[i];

			if (b->state != order[k] || b->retry_at > now)
				continue;
			if (best < 0 || b->seq >= best_seq) {
				best = (long long)i;
				best_seq = b->seq;
			}
		}
		if (best >= 0)
			return best;
	}
	return -1;
}

void hotdimm_block_backoff(struct hotdimm_blocks *bk, u64 idx, u64 now,
			   u64 base, u64 max)
{
	struct hotdimm_block *b = &bk->b[idx];
	u64 delay = base;
	unsigned int i;

	for (i = 0; i < b->fails && delay < max; i++)
		delay <<= 1;
	if (delay > max)
		delay = max;
	if (b->fails < 0xffff)
		b->fails++;
	b->retry_at = now + delay;
}

void hotdimm_block_clear_backoff(struct hotdimm_blocks *bk, u64 idx)
{
	bk->b[idx].fails = 0;
	bk->b[idx].retry_at = 0;
}

enum hotdimm_err_action hotdimm_classify_error(int err)
{
	switch (-err) {
	case EINTR:
	case ERESTARTSYS:
	case ERESTARTNOINTR:
		return HOTDIMM_ERR_RETRY_NOW;
	case EBUSY:
	case EAGAIN:
	case ENOMEM:
	case ETIMEDOUT:
		return HOTDIMM_ERR_RETRY_BACKOFF;
	default:
		return HOTDIMM_ERR_GIVE_UP;
	}
}

const char *hotdimm_error_str(int err)
{
	switch (-err) {
	case 0:
		return "ok";
	case EINTR:
	case ERESTARTSYS:
	case ERESTARTNOINTR:
		return "interrupted";
	case EBUSY:
		return "busy";
	case EAGAIN:
		return "try again (device or request changed)";
	case ENOMEM:
		return "out of memory";
	case ETIMEDOUT:
		return "timed out";
	case EIO:
		return "device error";
	case EINVAL:
		return "invalid argument";
	case EEXIST:
		return "range already in use";
	case ENOSPC:
		return "no space for the memory map";
	case ERANGE:
		return "out of range";
	default:
		return "error";
	}
}

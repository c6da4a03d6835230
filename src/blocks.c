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
			 u64 nr, unsigned int sb_per_block)
{
	u64 i;

	bk->nr = nr;
	bk->b = arr;
	bk->next_seq = 1;
	bk->gen = 0;
	bk->sb_per_block = sb_per_block < 1 ? 1 :
			   sb_per_block > 64 ? 64 : sb_per_block;
	for (i = 0; i < HOTDIMM_BLOCK_NR_STATES; i++) {
		bk->count[i] = 0;
		bk->holes[i] = 0;
	}
	bk->count[HOTDIMM_BLOCK_UNPLUGGED] = nr;
	for (i = 0; i < nr; i++) {
		arr[i].state = HOTDIMM_BLOCK_UNPLUGGED;
		arr[i].want = HOTDIMM_ZONE_NONE;
		arr[i].fails = 0;
		arr[i].seq = 0;
		arr[i].retry_at = 0;
		arr[i].err = 0;
		arr[i].holes = 0;
		arr[i].fresh = 0;
		arr[i].pinned = 0;
	}
}

u64 hotdimm_sb_mask(const struct hotdimm_blocks *bk)
{
	return bk->sb_per_block >= 64 ? U64_MAX :
	       (((u64)1 << bk->sb_per_block) - 1);
}

unsigned int hotdimm_popcount(u64 mask)
{
	unsigned int n = 0;

	while (mask) {
		mask &= mask - 1;
		n++;
	}
	return n;
}

void hotdimm_block_set_holes(struct hotdimm_blocks *bk, u64 idx, u64 holes)
{
	struct hotdimm_block *b = &bk->b[idx];

	if (b->state == HOTDIMM_BLOCK_UNPLUGGED)
		holes = 0;
	holes &= hotdimm_sb_mask(bk);
	bk->holes[b->state] -= hotdimm_popcount(b->holes);
	bk->holes[b->state] += hotdimm_popcount(holes);
	if (!b->holes != !holes)
		bk->gen++;
	b->holes = holes;
	b->fresh &= holes;
}

unsigned int hotdimm_block_plugged_sb(const struct hotdimm_blocks *bk, u64 idx)
{
	const struct hotdimm_block *b = &bk->b[idx];

	if (b->state == HOTDIMM_BLOCK_UNPLUGGED)
		return 0;
	return bk->sb_per_block - hotdimm_popcount(b->holes);
}

u64 hotdimm_blocks_state_sb(const struct hotdimm_blocks *bk,
			    enum hotdimm_block_state state)
{
	if (state == HOTDIMM_BLOCK_UNPLUGGED)
		return 0;
	return bk->count[state] * bk->sb_per_block - bk->holes[state];
}

u64 hotdimm_blocks_plugged_sb(const struct hotdimm_blocks *bk)
{
	u64 n = 0;
	int s;

	for (s = HOTDIMM_BLOCK_PLUGGED; s < HOTDIMM_BLOCK_NR_STATES; s++)
		n += hotdimm_blocks_state_sb(bk, s);
	return n;
}

long long hotdimm_blocks_pick_fill(const struct hotdimm_blocks *bk)
{
	long long other = -1;
	u64 i;

	for (i = 0; i < bk->nr; i++) {
		const struct hotdimm_block *b = &bk->b[i];

		if (b->state == HOTDIMM_BLOCK_UNPLUGGED || !b->holes)
			continue;
		if (b->state == HOTDIMM_BLOCK_KERNEL ||
		    b->state == HOTDIMM_BLOCK_MOVABLE)
			return (long long)i;
		if (other < 0)
			other = (long long)i;
	}
	return other;
}

/*
 * The newest block in @state that is out of backoff at @now, has at most
 * @max_sb sub-blocks plugged, has holes if @holes_only, and has something
 * left to unplug if @takeable. -1 when none.
 */
static long long newest_ready(const struct hotdimm_blocks *bk, u8 state,
			      u64 now, u64 max_sb, bool holes_only,
			      bool takeable)
{
	u64 full = hotdimm_sb_mask(bk), i, best_seq = 0;
	long long best = -1;

	for (i = 0; i < bk->nr; i++) {
		const struct hotdimm_block *b = &bk->b[i];

		if (b->state != state || b->retry_at > now)
			continue;
		if (hotdimm_block_plugged_sb(bk, i) > max_sb)
			continue;
		if (holes_only && !b->holes)
			continue;
		if (takeable && ((b->holes | b->pinned) & full) == full)
			continue;
		if (best < 0 || b->seq >= best_seq) {
			best = (long long)i;
			best_seq = b->seq;
		}
	}
	return best;
}

long long hotdimm_blocks_pick_partial(const struct hotdimm_blocks *bk, u64 now,
				      bool kernel_ok)
{
	static const u8 order[] = {
		HOTDIMM_BLOCK_MOVABLE, HOTDIMM_BLOCK_KERNEL,
	};
	int pass;
	size_t k;

	/* Pass 0: blocks that already have holes; pass 1: any. */
	for (pass = 0; pass < 2; pass++) {
		for (k = 0; k < ARRAY_SIZE(order); k++) {
			long long best;

			if (order[k] == HOTDIMM_BLOCK_KERNEL && !kernel_ok)
				break;
			best = newest_ready(bk, order[k], now, U64_MAX, !pass, true);
			if (best >= 0)
				return best;
		}
	}
	return -1;
}

long long hotdimm_blocks_pick_trim(const struct hotdimm_blocks *bk, u64 now,
				   bool plugged_only)
{
	long long best;

	best = newest_ready(bk, HOTDIMM_BLOCK_PLUGGED, now, U64_MAX, false, true);
	if (best < 0 && !plugged_only)
		best = newest_ready(bk, HOTDIMM_BLOCK_OFFLINE, now, U64_MAX,
				    false, true);
	return best;
}

u64 hotdimm_block_take_mask(const struct hotdimm_blocks *bk, u64 idx, u64 n)
{
	const struct hotdimm_block *b = &bk->b[idx];
	unsigned int sb = bk->sb_per_block;
	u64 mask = 0;

	if (b->state == HOTDIMM_BLOCK_UNPLUGGED)
		return 0;
	while (sb-- && n) {
		if ((b->holes | b->pinned) & ((u64)1 << sb))
			continue;
		mask |= (u64)1 << sb;
		n--;
	}
	return mask;
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
		hotdimm_block_set_holes(bk, idx, 0);
		b->pinned = 0;
	}
	bk->holes[b->state] -= hotdimm_popcount(b->holes);
	bk->holes[state] += hotdimm_popcount(b->holes);
	bk->count[b->state]--;
	bk->count[state]++;
	b->state = state;
	bk->gen++;
}

u64 hotdimm_blocks_plugged(const struct hotdimm_blocks *bk)
{
	return bk->nr - bk->count[HOTDIMM_BLOCK_UNPLUGGED];
}

char hotdimm_block_char(enum hotdimm_block_state state, bool holes)
{
	switch (state) {
	case HOTDIMM_BLOCK_UNPLUGGED:
		return '-';
	case HOTDIMM_BLOCK_PLUGGED:
	case HOTDIMM_BLOCK_OFFLINE:
		return holes ? 'p' : 'o';
	case HOTDIMM_BLOCK_KERNEL:
		return holes ? 'k' : 'K';
	case HOTDIMM_BLOCK_MOVABLE:
		return holes ? 'm' : 'M';
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
		buf[i] = hotdimm_block_char(bk->b[i].state, bk->b[i].holes);
	buf[i] = '\0';
	return i;
}

/*
 * Copies the part of a piece of text that falls into the window
 * [pos, pos + len) of the whole text; @off is where the piece starts.
 */
struct map_window {
	char *buf;
	u64 pos;
	size_t len;
	u64 off;	/* bytes of the whole text produced so far */
	size_t done;	/* bytes copied into buf */
};

static void win_put(struct map_window *w, const char *s, size_t n)
{
	u64 end = w->pos + w->len;
	size_t i;

	/* Entirely before or after the window: only count it. */
	if (w->off + n <= w->pos || w->off >= end) {
		w->off += n;
		return;
	}
	for (i = 0; i < n; i++, w->off++) {
		if (w->off >= w->pos && w->off < end)
			w->buf[w->done++] = s[i];
	}
}

/* Decimal digits of @v into @out (at least 21 bytes); returns the count. */
static size_t fmt_u64(char *out, u64 v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = '0' + (char)(v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void win_u64(struct map_window *w, u64 v)
{
	char d[21];

	win_put(w, d, fmt_u64(d, v));
}

static void win_str(struct map_window *w, const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	win_put(w, s, n);
}

/* One run "FIRST[-LAST]:C", preceded by a space unless it is the first. */
static void win_run(struct map_window *w, u64 first, u64 last, char c)
{
	char t[2 * 21 + 4];
	size_t n = 0;

	if (first)
		t[n++] = ' ';
	n += fmt_u64(t + n, first);
	if (last != first) {
		t[n++] = '-';
		n += fmt_u64(t + n, last);
	}
	t[n++] = ':';
	t[n++] = c;
	win_put(w, t, n);
}

static void map_runs(const struct hotdimm_blocks *bk, struct map_window *w)
{
	u64 i, first = 0;
	char c = 0;

	win_str(w, "blocks ");
	win_u64(w, bk->nr);
	win_str(w, " generation ");
	win_u64(w, bk->gen);
	win_str(w, "\n");
	for (i = 0; i < bk->nr; i++) {
		char ci = hotdimm_block_char(bk->b[i].state, bk->b[i].holes);

		if (i && ci != c) {
			win_run(w, first, i - 1, c);
			/* Nothing more to copy: the rest only counts bytes. */
			if (w->len && w->done == w->len)
				return;
			first = i;
		}
		c = ci;
	}
	if (bk->nr)
		win_run(w, first, bk->nr - 1, c);
	win_str(w, "\ngeneration ");
	win_u64(w, bk->gen);
	win_str(w, "\n");
}

size_t hotdimm_blocks_map_runs(const struct hotdimm_blocks *bk, u64 pos,
			       char *buf, size_t len)
{
	struct map_window w = { .buf = buf, .pos = pos, .len = len };

	if (!len)
		return 0;
	map_runs(bk, &w);
	return w.done;
}

u64 hotdimm_blocks_map_runs_len(const struct hotdimm_blocks *bk)
{
	struct map_window w = { .buf = NULL, .pos = U64_MAX, .len = 0 };

	map_runs(bk, &w);
	return w.off;
}

long long hotdimm_blocks_pick_add(const struct hotdimm_blocks *bk, u64 now,
				  bool new_ok)
{
	long long first_free = -1;
	u64 i;

	for (i = 0; i < bk->nr; i++) {
		const struct hotdimm_block *b = &bk->b[i];

		if (b->state == HOTDIMM_BLOCK_PLUGGED && b->retry_at <= now)
			return (long long)i;
		if (new_ok && first_free < 0 &&
		    b->state == HOTDIMM_BLOCK_UNPLUGGED)
			first_free = (long long)i;
	}
	return first_free;
}

u64 hotdimm_blocks_in_linux_sb(const struct hotdimm_blocks *bk)
{
	return hotdimm_blocks_state_sb(bk, HOTDIMM_BLOCK_OFFLINE) +
	       hotdimm_blocks_state_sb(bk, HOTDIMM_BLOCK_KERNEL) +
	       hotdimm_blocks_state_sb(bk, HOTDIMM_BLOCK_MOVABLE);
}

u64 hotdimm_blocks_in_linux(const struct hotdimm_blocks *bk)
{
	return bk->count[HOTDIMM_BLOCK_OFFLINE] +
	       bk->count[HOTDIMM_BLOCK_KERNEL] +
	       bk->count[HOTDIMM_BLOCK_MOVABLE];
}

long long hotdimm_blocks_pick_remove(const struct hotdimm_blocks *bk, u64 now,
				     bool kernel_ok, bool plugged_only,
				     u64 max_sb)
{
	static const u8 order[] = {
		HOTDIMM_BLOCK_PLUGGED, HOTDIMM_BLOCK_OFFLINE,
		HOTDIMM_BLOCK_MOVABLE, HOTDIMM_BLOCK_KERNEL,
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(order); k++) {
		long long best;

		if (order[k] == HOTDIMM_BLOCK_KERNEL && !kernel_ok)
			break;
		if (order[k] != HOTDIMM_BLOCK_PLUGGED && plugged_only)
			break;
		if (!bk->count[order[k]])
			continue;
		best = newest_ready(bk, order[k], now, max_sb, false, false);
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
	bk->b[idx].err = 0;
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

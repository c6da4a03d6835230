// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests: the worker's picking converges at sub-block granularity
 * (src/blocks.c). A model of the worker's step with a host that answers
 * every request runs from every combination of block states, holes and
 * pins of a small device, for every target: it must reach the target
 * (plugged == in Linux == target) without ever taking out of Linux more
 * than was asked, and without a step that finds nothing to do.
 */
#include <string.h>

#include "check.h"
#include "hotdimm_blocks.h"

#define NR	3
#define SB	4
#define FULL	((1u << SB) - 1)
#define STEPS	64

/* Holes a block may have: none, the top one, the top two, all but one. */
static const u64 hole_choices[] = { 0, 0x8, 0xc, 0xe };

/*
 * One step of the worker's decision (core.c, hd_step/hd_shrink) with every
 * operation succeeding. Returns 1 after doing something, 0 when converged,
 * -1 when it found nothing to do short of the target, -2 when it took more
 * out of Linux than asked.
 */
static int step(struct hotdimm_blocks *bk, u64 target)
{
	u64 plugged = hotdimm_blocks_plugged_sb(bk);
	u64 linux_sb = hotdimm_blocks_in_linux_sb(bk);
	long long idx;

	if (plugged > target) {
		u64 excess = plugged - target;
		int plugged_only = linux_sb <= target;

		idx = hotdimm_blocks_pick_remove(bk, 0, 1, plugged_only, excess);
		if (idx >= 0) {
			hotdimm_block_set(bk, idx, HOTDIMM_BLOCK_UNPLUGGED);
		} else if ((idx = hotdimm_blocks_pick_trim(bk, 0, plugged_only)) >= 0) {
			u64 mask = hotdimm_block_take_mask(bk, idx, excess);

			if (!mask)
				return -1;
			hotdimm_block_set_holes(bk, idx, bk->b[idx].holes | mask);
			if (bk->b[idx].holes == hotdimm_sb_mask(bk))
				hotdimm_block_set(bk, idx, HOTDIMM_BLOCK_UNPLUGGED);
		} else if (plugged_only) {
			return -1;
		} else {
			idx = hotdimm_blocks_pick_partial(bk, 0, 1);
			if (idx < 0)
				return -1;
			hotdimm_block_set_holes(bk, idx, bk->b[idx].holes |
						hotdimm_block_take_mask(bk, idx, excess));
		}
		if (hotdimm_blocks_in_linux_sb(bk) < target &&
		    hotdimm_blocks_in_linux_sb(bk) < linux_sb)
			return -2;
		return 1;
	}
	if (linux_sb < target) {
		u64 need = target - plugged;

		idx = hotdimm_blocks_pick_add(bk, 0, 0);
		if (idx >= 0) {
			hotdimm_block_set(bk, idx, HOTDIMM_BLOCK_MOVABLE);
			return 1;
		}
		if (plugged >= target)
			return -1;
		idx = hotdimm_blocks_pick_fill(bk);
		if (idx >= 0) {
			u64 holes = bk->b[idx].holes;
			unsigned int sb;

			for (sb = 0; sb < SB && need; sb++) {
				if (holes & ((u64)1 << sb)) {
					holes &= ~((u64)1 << sb);
					need--;
				}
			}
			hotdimm_block_set_holes(bk, idx, holes);
			return 1;
		}
		idx = hotdimm_blocks_pick_add(bk, 0, 1);
		if (idx < 0)
			return -1;
		hotdimm_block_set(bk, idx, HOTDIMM_BLOCK_PLUGGED);
		if (need < SB)
			hotdimm_block_set_holes(bk, idx, FULL & ~(((u64)1 << need) - 1));
		hotdimm_block_set(bk, idx, HOTDIMM_BLOCK_MOVABLE);
		return 1;
	}
	/* in_linux_sb == plugged == target, or in Linux beyond the target */
	return linux_sb == target && plugged == target ? 0 : -1;
}

static void describe(char *buf, size_t len, const struct hotdimm_block *b)
{
	size_t i, n = 0;

	for (i = 0; i < NR && n + 16 < len; i++)
		n += snprintf(buf + n, len - n, "%u/%llx/%llx ", b[i].state,
			      (unsigned long long)b[i].holes,
			      (unsigned long long)b[i].pinned);
}

int main(void)
{
	const unsigned int nh = sizeof(hole_choices) / sizeof(hole_choices[0]);
	unsigned long cases = 0, stuck = 0, overshoot = 0, slow = 0;
	char first_bad[256] = "";
	struct hotdimm_block arr[NR], start[NR];
	struct hotdimm_blocks bk;
	unsigned int combo, ncombo = 1, i;
	u64 target;

	for (i = 0; i < NR; i++)
		ncombo *= HOTDIMM_BLOCK_NR_STATES * nh * 2;
	for (combo = 0; combo < ncombo; combo++) {
		unsigned int c = combo;

		hotdimm_blocks_init(&bk, arr, NR, SB);
		for (i = 0; i < NR; i++) {
			u8 state = c % HOTDIMM_BLOCK_NR_STATES;
			u64 holes = hole_choices[(c / HOTDIMM_BLOCK_NR_STATES) % nh];
			int pin = (c / (HOTDIMM_BLOCK_NR_STATES * nh)) % 2;

			c /= HOTDIMM_BLOCK_NR_STATES * nh * 2;
			if (state == HOTDIMM_BLOCK_UNPLUGGED && (holes || pin))
				break;
			/* A pinned sub-block (the memmap) is never a hole. */
			if (pin && (holes & 1))
				break;
			hotdimm_block_set(&bk, i, state);
			hotdimm_block_set_holes(&bk, i, holes);
			arr[i].pinned = pin ? 1 : 0;
		}
		if (i < NR)
			continue;
		memcpy(start, arr, sizeof(arr));
		for (target = 0; target <= NR * SB; target++) {
			int n, r = 1;

			memcpy(arr, start, sizeof(arr));
			hotdimm_blocks_init(&bk, arr, NR, SB);
			for (i = 0; i < NR; i++) {
				hotdimm_block_set(&bk, i, start[i].state);
				hotdimm_block_set_holes(&bk, i, start[i].holes);
				arr[i].pinned = start[i].pinned;
			}
			cases++;
			for (n = 0; n < STEPS && r == 1; n++)
				r = step(&bk, target);
			if (r == 1)
				slow++;
			else if (r == -1)
				stuck++;
			else if (r == -2)
				overshoot++;
			if (r && !first_bad[0]) {
				int k = snprintf(first_bad, sizeof(first_bad),
						 "target %llu from ",
						 (unsigned long long)target);

				describe(first_bad + k, sizeof(first_bad) - k, start);
			}
		}
	}
	CHECK("converge: every start and target converges (host answers)",
	      !stuck && !slow, "%lu of %lu stuck, %lu not within %d steps; first: %s",
	      stuck, cases, slow, STEPS, first_bad);
	CHECK("converge: never takes more out of Linux than asked",
	      !overshoot, "%lu of %lu; first: %s", overshoot, cases, first_bad);

	/* The reported case: 4 blocks plugged, two left Linux while the host
	 * was busy, then a request one sub-block above what is in Linux. */
	{
		struct hotdimm_block a4[4];
		struct hotdimm_blocks b4;
		long long t;
		u64 m;

		hotdimm_blocks_init(&b4, a4, 4, 64);
		hotdimm_block_set(&b4, 0, HOTDIMM_BLOCK_MOVABLE);
		hotdimm_block_set(&b4, 1, HOTDIMM_BLOCK_MOVABLE);
		hotdimm_block_set(&b4, 2, HOTDIMM_BLOCK_PLUGGED);
		hotdimm_block_set(&b4, 3, HOTDIMM_BLOCK_PLUGGED);
		/* target 129 of 256 plugged: one whole PLUGGED block goes ... */
		t = hotdimm_blocks_pick_remove(&b4, 0, 1, 1, 127);
		CHECK("converge 258M: a PLUGGED block goes whole", t == 3 || t == 2,
		      "got %lld", t);
		hotdimm_block_set(&b4, t, HOTDIMM_BLOCK_UNPLUGGED);
		/* ... then 63 of the other's 64 exceed: none fits whole */
		t = hotdimm_blocks_pick_remove(&b4, 0, 1, 1, 63);
		CHECK("converge 258M: no block fits whole", t == -1, "got %lld", t);
		t = hotdimm_blocks_pick_trim(&b4, 0, 1);
		CHECK("converge 258M: the PLUGGED block is trimmed", t == 2, "got %lld", t);
		m = hotdimm_block_take_mask(&b4, 2, 63);
		CHECK("converge 258M: its top 63 sub-blocks",
		      m == (~0ULL << 1), "mask %llx", (unsigned long long)m);
		a4[2].pinned = 1;
		m = hotdimm_block_take_mask(&b4, 2, 64);
		CHECK("take_mask never takes a pinned sub-block", !(m & 1) &&
		      hotdimm_popcount(m) == 63, "mask %llx", (unsigned long long)m);
	}
	return check_failed;
}

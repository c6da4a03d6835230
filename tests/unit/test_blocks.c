// SPDX-License-Identifier: GPL-2.0
/* Unit tests: block bookkeeping and error classification (src/blocks.c). */
#include <string.h>

#include "check.h"
#include "hotdimm_blocks.h"

#define NR 8

static int counts_ok(const struct hotdimm_blocks *bk)
{
	u64 c[HOTDIMM_BLOCK_NR_STATES] = { 0 }, i, sum = 0;

	for (i = 0; i < bk->nr; i++)
		c[bk->b[i].state]++;
	for (i = 0; i < HOTDIMM_BLOCK_NR_STATES; i++) {
		if (c[i] != bk->count[i])
			return 0;
		sum += bk->count[i];
	}
	return sum == bk->nr;
}

int main(void)
{
	struct hotdimm_block arr[NR];
	struct hotdimm_blocks bk;
	char map[NR + 1], small[4];
	long long idx;

	hotdimm_blocks_init(&bk, arr, NR, 64);
	CHECK("init all unplugged", bk.count[HOTDIMM_BLOCK_UNPLUGGED] == NR &&
	      hotdimm_blocks_plugged(&bk) == 0, "unplugged %llu",
	      (unsigned long long)bk.count[HOTDIMM_BLOCK_UNPLUGGED]);
	CHECK("pick_add empty device -> 0",
	      hotdimm_blocks_pick_add(&bk, 0, 1) == 0,
	      "got %lld", hotdimm_blocks_pick_add(&bk, 0, 1));
	CHECK("pick_add without new blocks -> none",
	      hotdimm_blocks_pick_add(&bk, 0, 0) == -1,
	      "got %lld", hotdimm_blocks_pick_add(&bk, 0, 0));
	CHECK("pick_remove empty device -> none",
	      hotdimm_blocks_pick_remove(&bk, 0, 1, 0, U64_MAX) == -1, "got %lld",
	      hotdimm_blocks_pick_remove(&bk, 0, 1, 0, U64_MAX));

	/* 0: kernel, 1: movable, 2: movable, 3: offline, 4: plugged */
	hotdimm_block_set(&bk, 0, HOTDIMM_BLOCK_PLUGGED);
	hotdimm_block_set(&bk, 0, HOTDIMM_BLOCK_OFFLINE);
	hotdimm_block_set(&bk, 0, HOTDIMM_BLOCK_KERNEL);
	hotdimm_block_set(&bk, 1, HOTDIMM_BLOCK_OFFLINE);
	hotdimm_block_set(&bk, 1, HOTDIMM_BLOCK_MOVABLE);
	hotdimm_block_set(&bk, 2, HOTDIMM_BLOCK_OFFLINE);
	hotdimm_block_set(&bk, 2, HOTDIMM_BLOCK_MOVABLE);
	hotdimm_block_set(&bk, 3, HOTDIMM_BLOCK_OFFLINE);
	hotdimm_block_set(&bk, 4, HOTDIMM_BLOCK_PLUGGED);
	CHECK("counters follow the setter", counts_ok(&bk) &&
	      bk.count[HOTDIMM_BLOCK_MOVABLE] == 2 &&
	      bk.count[HOTDIMM_BLOCK_KERNEL] == 1 &&
	      hotdimm_blocks_plugged(&bk) == 5, "counts wrong");
	CHECK("seq grows with each add", arr[0].seq < arr[1].seq &&
	      arr[1].seq < arr[2].seq && arr[2].seq < arr[3].seq &&
	      arr[4].seq == 0, "seq %llu %llu %llu %llu %llu",
	      (unsigned long long)arr[0].seq, (unsigned long long)arr[1].seq,
	      (unsigned long long)arr[2].seq, (unsigned long long)arr[3].seq,
	      (unsigned long long)arr[4].seq);
	hotdimm_block_set(&bk, 1, HOTDIMM_BLOCK_OFFLINE);
	hotdimm_block_set(&bk, 1, HOTDIMM_BLOCK_MOVABLE);
	CHECK("offline/online keeps the add order", arr[1].seq < arr[2].seq,
	      "seq %llu vs %llu", (unsigned long long)arr[1].seq,
	      (unsigned long long)arr[2].seq);
	hotdimm_block_set(&bk, 3, HOTDIMM_BLOCK_OFFLINE);
	CHECK("setting the same state is a no-op", counts_ok(&bk), "counts");

	hotdimm_blocks_map(&bk, map, sizeof(map));
	CHECK("block map", strcmp(map, "KMMoo---") == 0, "map '%s'", map);
	hotdimm_blocks_map(&bk, small, sizeof(small));
	CHECK("block map truncates", strcmp(small, "KMM") == 0, "map '%s'",
	      small);
	CHECK("block chars", hotdimm_block_char(HOTDIMM_BLOCK_UNPLUGGED, 0) == '-' &&
	      hotdimm_block_char(HOTDIMM_BLOCK_PLUGGED, 0) == 'o' &&
	      hotdimm_block_char(HOTDIMM_BLOCK_KERNEL, 0) == 'K' &&
	      hotdimm_block_char(HOTDIMM_BLOCK_MOVABLE, 0) == 'M', "chars");

	idx = hotdimm_blocks_pick_add(&bk, 0, 1);
	CHECK("pick_add prefers a plugged block", idx == 4, "got %lld", idx);
	idx = hotdimm_blocks_pick_add(&bk, 0, 0);
	CHECK("pick_add re-adds a plugged block without new ones", idx == 4,
	      "got %lld", idx);
	CHECK("in_linux_sb counts plugged sub-blocks in Linux",
	      hotdimm_blocks_in_linux_sb(&bk) == 4 * bk.sb_per_block,
	      "got %llu", (unsigned long long)hotdimm_blocks_in_linux_sb(&bk));
	hotdimm_block_backoff(&bk, 4, 0, 10, 1000);
	idx = hotdimm_blocks_pick_add(&bk, 5, 0);
	CHECK("pick_add honours the backoff of a plugged block", idx == -1,
	      "got %lld", idx);
	idx = hotdimm_blocks_pick_add(&bk, 5, 1);
	CHECK("pick_add takes a free block while the plugged one waits",
	      idx == 5, "got %lld", idx);
	hotdimm_block_clear_backoff(&bk, 4);
	idx = hotdimm_blocks_pick_remove(&bk, 0, 1, 0, U64_MAX);
	CHECK("pick_remove: plugged first", idx == 4, "got %lld", idx);
	CHECK("in_linux counts added blocks", hotdimm_blocks_in_linux(&bk) == 4,
	      "got %llu", (unsigned long long)hotdimm_blocks_in_linux(&bk));
	hotdimm_block_backoff(&bk, 4, 0, 10, 1000);
	idx = hotdimm_blocks_pick_remove(&bk, 0, 1, 1, U64_MAX);
	CHECK("pick_remove plugged_only: none ready", idx == -1, "got %lld", idx);
	idx = hotdimm_blocks_pick_remove(&bk, 10, 1, 1, U64_MAX);
	CHECK("pick_remove plugged_only: after backoff", idx == 4, "got %lld",
	      idx);
	hotdimm_block_clear_backoff(&bk, 4);
	hotdimm_block_set(&bk, 4, HOTDIMM_BLOCK_UNPLUGGED);
	CHECK("pick_add lowest free", hotdimm_blocks_pick_add(&bk, 0, 1) == 4,
	      "got %lld", hotdimm_blocks_pick_add(&bk, 0, 1));
	idx = hotdimm_blocks_pick_remove(&bk, 0, 1, 0, U64_MAX);
	CHECK("pick_remove: offline next", idx == 3, "got %lld", idx);
	hotdimm_block_set(&bk, 3, HOTDIMM_BLOCK_UNPLUGGED);
	idx = hotdimm_blocks_pick_remove(&bk, 0, 1, 0, U64_MAX);
	CHECK("pick_remove: newest movable", idx == 2, "got %lld", idx);

	hotdimm_block_backoff(&bk, 2, 100, 10, 1000);
	CHECK("backoff first delay", arr[2].retry_at == 110 && arr[2].fails == 1,
	      "retry_at %llu", (unsigned long long)arr[2].retry_at);
	idx = hotdimm_blocks_pick_remove(&bk, 105, 1, 0, U64_MAX);
	CHECK("pick_remove skips a block in backoff", idx == 1, "got %lld", idx);
	idx = hotdimm_blocks_pick_remove(&bk, 110, 1, 0, U64_MAX);
	CHECK("pick_remove retries after backoff", idx == 2, "got %lld", idx);
	hotdimm_block_backoff(&bk, 2, 200, 10, 1000);
	CHECK("backoff doubles", arr[2].retry_at == 220, "retry_at %llu",
	      (unsigned long long)arr[2].retry_at);
	for (int i = 0; i < 20; i++)
		hotdimm_block_backoff(&bk, 2, 200, 10, 1000);
	CHECK("backoff capped", arr[2].retry_at == 1200, "retry_at %llu",
	      (unsigned long long)arr[2].retry_at);
	hotdimm_block_clear_backoff(&bk, 2);
	CHECK("clear backoff", arr[2].retry_at == 0 && arr[2].fails == 0,
	      "retry_at %llu", (unsigned long long)arr[2].retry_at);

	hotdimm_block_set(&bk, 1, HOTDIMM_BLOCK_UNPLUGGED);
	hotdimm_block_set(&bk, 2, HOTDIMM_BLOCK_UNPLUGGED);
	idx = hotdimm_blocks_pick_remove(&bk, 0, 0, 0, U64_MAX);
	CHECK("pick_remove: kernel not allowed", idx == -1, "got %lld", idx);
	idx = hotdimm_blocks_pick_remove(&bk, 0, 1, 0, U64_MAX);
	CHECK("pick_remove: kernel last", idx == 0, "got %lld", idx);
	CHECK("unplug resets seq and want", arr[1].seq == 0 &&
	      arr[1].want == HOTDIMM_ZONE_NONE, "seq %llu",
	      (unsigned long long)arr[1].seq);

	/* --- sub-blocks ------------------------------------------------ */
	{
		struct hotdimm_block a2[4];
		struct hotdimm_blocks b2;

		hotdimm_blocks_init(&b2, a2, 4, 64);
		CHECK("sb mask of 64", hotdimm_sb_mask(&b2) == U64_MAX, "mask");
		hotdimm_blocks_init(&b2, a2, 4, 16);
		CHECK("sb mask of 16", hotdimm_sb_mask(&b2) == 0xffff, "mask %llx",
		      (unsigned long long)hotdimm_sb_mask(&b2));
		CHECK("popcount", hotdimm_popcount(0xf0f0) == 8 &&
		      hotdimm_popcount(U64_MAX) == 64 && hotdimm_popcount(0) == 0,
		      "popcount");
		hotdimm_block_set_holes(&b2, 0, 0x3);
		CHECK("unplugged block gets no holes", a2[0].holes == 0 &&
		      hotdimm_blocks_plugged_sb(&b2) == 0, "holes %llx",
		      (unsigned long long)a2[0].holes);
		hotdimm_block_set(&b2, 0, HOTDIMM_BLOCK_PLUGGED);
		hotdimm_block_set_holes(&b2, 0, 0xfffe);	/* 1 of 16 plugged */
		CHECK("partly plugged block counts its sub-blocks",
		      hotdimm_block_plugged_sb(&b2, 0) == 1 &&
		      hotdimm_blocks_plugged_sb(&b2) == 1 &&
		      b2.holes[HOTDIMM_BLOCK_PLUGGED] == 15, "sb %u total %llu",
		      hotdimm_block_plugged_sb(&b2, 0),
		      (unsigned long long)hotdimm_blocks_plugged_sb(&b2));
		hotdimm_block_set(&b2, 0, HOTDIMM_BLOCK_OFFLINE);
		hotdimm_block_set(&b2, 0, HOTDIMM_BLOCK_KERNEL);
		CHECK("holes move with the state",
		      b2.holes[HOTDIMM_BLOCK_PLUGGED] == 0 &&
		      b2.holes[HOTDIMM_BLOCK_KERNEL] == 15 &&
		      hotdimm_blocks_state_sb(&b2, HOTDIMM_BLOCK_KERNEL) == 1,
		      "kernel holes %llu",
		      (unsigned long long)b2.holes[HOTDIMM_BLOCK_KERNEL]);
		hotdimm_block_set(&b2, 1, HOTDIMM_BLOCK_PLUGGED);
		hotdimm_block_set(&b2, 1, HOTDIMM_BLOCK_OFFLINE);
		hotdimm_block_set(&b2, 1, HOTDIMM_BLOCK_MOVABLE);
		hotdimm_blocks_map(&b2, map, sizeof(map));
		CHECK("map shows partial blocks", strcmp(map, "kM--") == 0,
		      "'%s'", map);
		CHECK("pick_remove honours max_sb",
		      hotdimm_blocks_pick_remove(&b2, 0, 1, 0, 15) == 0 &&
		      hotdimm_blocks_pick_remove(&b2, 0, 1, 0, 16) == 1,
		      "got %lld / %lld",
		      hotdimm_blocks_pick_remove(&b2, 0, 1, 0, 15),
		      hotdimm_blocks_pick_remove(&b2, 0, 1, 0, 16));
		CHECK("pick_partial: block with holes first",
		      hotdimm_blocks_pick_partial(&b2, 0, 1) == 0, "got %lld",
		      hotdimm_blocks_pick_partial(&b2, 0, 1));
		CHECK("pick_partial: kernel gated",
		      hotdimm_blocks_pick_partial(&b2, 0, 0) == 1, "got %lld",
		      hotdimm_blocks_pick_partial(&b2, 0, 0));
		CHECK("pick_fill: online block with holes",
		      hotdimm_blocks_pick_fill(&b2) == 0, "got %lld",
		      hotdimm_blocks_pick_fill(&b2));
		a2[1].pinned = 1;
		hotdimm_block_set_holes(&b2, 1, 0xfffe);
		CHECK("pick_partial skips a block with only pinned sub-blocks",
		      hotdimm_blocks_pick_partial(&b2, 0, 0) == -1, "got %lld",
		      hotdimm_blocks_pick_partial(&b2, 0, 0));
		hotdimm_block_set_holes(&b2, 0, 0);
		hotdimm_block_set(&b2, 1, HOTDIMM_BLOCK_UNPLUGGED);
		CHECK("unplug clears holes and pins", a2[1].holes == 0 &&
		      a2[1].pinned == 0 && b2.holes[HOTDIMM_BLOCK_MOVABLE] == 0 &&
		      hotdimm_blocks_plugged_sb(&b2) == 16 &&
		      hotdimm_blocks_pick_fill(&b2) == -1, "total %llu",
		      (unsigned long long)hotdimm_blocks_plugged_sb(&b2));
		CHECK("partial chars", hotdimm_block_char(HOTDIMM_BLOCK_KERNEL, 1) == 'k' &&
		      hotdimm_block_char(HOTDIMM_BLOCK_MOVABLE, 1) == 'm' &&
		      hotdimm_block_char(HOTDIMM_BLOCK_OFFLINE, 1) == 'p', "chars");
	}

	CHECK("classify EBUSY backoff",
	      hotdimm_classify_error(-EBUSY) == HOTDIMM_ERR_RETRY_BACKOFF, "x");
	CHECK("classify ENOMEM backoff",
	      hotdimm_classify_error(-ENOMEM) == HOTDIMM_ERR_RETRY_BACKOFF, "x");
	CHECK("classify EAGAIN backoff",
	      hotdimm_classify_error(-EAGAIN) == HOTDIMM_ERR_RETRY_BACKOFF, "x");
	CHECK("classify EINTR retry now",
	      hotdimm_classify_error(-EINTR) == HOTDIMM_ERR_RETRY_NOW, "x");
	CHECK("classify ERESTARTNOINTR retry now",
	      hotdimm_classify_error(-513) == HOTDIMM_ERR_RETRY_NOW, "x");
	CHECK("classify EIO give up",
	      hotdimm_classify_error(-EIO) == HOTDIMM_ERR_GIVE_UP, "x");
	CHECK("classify EINVAL give up",
	      hotdimm_classify_error(-EINVAL) == HOTDIMM_ERR_GIVE_UP, "x");
	CHECK("error strings", strcmp(hotdimm_error_str(-EBUSY), "busy") == 0,
	      "'%s'", hotdimm_error_str(-EBUSY));
	return check_failed;
}

// SPDX-License-Identifier: GPL-2.0
/* Unit tests: block bookkeeping and error classification (src/blocks.c). */
#include <stdlib.h>
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

/* The whole run-length map, read in pieces of @chunk bytes as sysfs does. */
static char *runs_read(const struct hotdimm_blocks *bk, size_t chunk,
		       size_t *total)
{
	size_t cap = 1 << 22, n = 0, got;
	char *out = malloc(cap);

	while ((got = hotdimm_blocks_map_runs(bk, n, out + n, chunk)) > 0) {
		n += got;
		if (n + chunk > cap)
			break;
	}
	*total = n;
	out[n] = '\0';
	return out;
}

/*
 * Expands the runs line of @text back to one character per block; returns
 * 0 when the text is malformed (gaps, overlaps, bad header, GEN mismatch).
 */
static int runs_expand(const char *text, char *map, size_t cap)
{
	unsigned long long nr, gen, gen2, first, last, next = 0;
	const char *p;
	int used;
	char c;

	if (sscanf(text, "blocks %llu generation %llu\n%n", &nr, &gen, &used) != 2 ||
	    nr >= cap)
		return 0;
	p = text + used;
	while (*p != '\n') {
		if (sscanf(p, "%llu-%llu:%c%n", &first, &last, &c, &used) != 3) {
			if (sscanf(p, "%llu:%c%n", &first, &c, &used) != 2)
				return 0;
			last = first;
		}
		if (first != next || last < first || last >= nr)
			return 0;
		memset(map + first, c, last - first + 1);
		next = last + 1;
		p += used;
		if (*p == ' ')
			p++;
	}
	map[next] = '\0';
	if (sscanf(p, "\ngeneration %llu\n%n", &gen2, &used) != 1 ||
	    p[used] || gen2 != gen)
		return 0;
	return next == nr;
}

int main(void)
{
	struct hotdimm_block arr[NR];
	struct hotdimm_blocks bk;
	char map[NR + 1], small[4];
	long long idx;

	CHECK("a block entry is 48 bytes (1 TiB: 384 KiB)",
	      sizeof(struct hotdimm_block) == 48, "%zu", sizeof(struct hotdimm_block));
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

	/* --- run-length map (block_map) ------------------------------- */
	{
		char want[128], got[128], tiny[5];
		size_t n;

		snprintf(want, sizeof(want),
			 "blocks 8 generation %llu\n0:K 1-7:-\ngeneration %llu\n",
			 (unsigned long long)bk.gen, (unsigned long long)bk.gen);
		n = hotdimm_blocks_map_runs(&bk, 0, got, sizeof(got));
		got[n] = '\0';
		CHECK("runs: small map", strcmp(got, want) == 0, "'%s'", got);
		CHECK("runs: length", hotdimm_blocks_map_runs_len(&bk) == strlen(want),
		      "len %llu want %zu",
		      (unsigned long long)hotdimm_blocks_map_runs_len(&bk), strlen(want));
		n = hotdimm_blocks_map_runs(&bk, 3, tiny, 4);
		CHECK("runs: window in the middle", n == 4 && !memcmp(tiny, want + 3, 4),
		      "n %zu '%.4s'", n, tiny);
		n = hotdimm_blocks_map_runs(&bk, strlen(want) - 2, tiny, 4);
		CHECK("runs: window at the end", n == 2 && !memcmp(tiny, want + strlen(want) - 2, 2),
		      "n %zu", n);
		CHECK("runs: after the end", hotdimm_blocks_map_runs(&bk, strlen(want), tiny, 4) == 0 &&
		      hotdimm_blocks_map_runs(&bk, 1000, tiny, 4) == 0, "not 0");
	}
	{
		unsigned long long g = bk.gen;

		hotdimm_block_set(&bk, 0, HOTDIMM_BLOCK_KERNEL);
		CHECK("runs: same state keeps the generation", bk.gen == g, "gen %llu",
		      (unsigned long long)bk.gen);
		hotdimm_block_set(&bk, 5, HOTDIMM_BLOCK_PLUGGED);
		CHECK("runs: a state change bumps the generation", bk.gen > g, "gen %llu",
		      (unsigned long long)bk.gen);
		hotdimm_block_set(&bk, 5, HOTDIMM_BLOCK_UNPLUGGED);
	}
	/* 1 TiB (8192 blocks of 128 MiB) and 16 TiB, typical and worst case. */
	{
		static const size_t chunks[] = { 4096, 4095, 13, 100000 };
		static const unsigned long long sizes[] = { 8192, 131072 };
		size_t s, k, total;

		for (s = 0; s < 2; s++) {
			u64 nr = sizes[s], i;
			struct hotdimm_block *a = calloc(nr, sizeof(*a));
			struct hotdimm_blocks big;
			char *flat = malloc(nr + 1), *exp = malloc(nr + 1), *text;
			char want[256], name[96];
			int ok;

			hotdimm_blocks_init(&big, a, nr, 64);
			for (i = 0; i < 24; i++) {
				hotdimm_block_set(&big, i, HOTDIMM_BLOCK_OFFLINE);
				hotdimm_block_set(&big, i, HOTDIMM_BLOCK_MOVABLE);
			}
			hotdimm_block_set(&big, 24, HOTDIMM_BLOCK_OFFLINE);
			hotdimm_block_set(&big, 24, HOTDIMM_BLOCK_KERNEL);
			snprintf(want, sizeof(want),
				 "blocks %llu generation 50\n0-23:M 24:K 25-%llu:-\ngeneration 50\n",
				 (unsigned long long)nr, (unsigned long long)nr - 1);
			text = runs_read(&big, 4096, &total);
			snprintf(name, sizeof(name), "runs: %llu blocks, exact text", (unsigned long long)nr);
			CHECK(name, strcmp(text, want) == 0, "'%s'", text);
			free(text);

			/* Worst case: every block differs from its neighbour. */
			for (i = 0; i < nr; i++) {
				hotdimm_block_set(&big, i, HOTDIMM_BLOCK_OFFLINE);
				hotdimm_block_set(&big, i, i % 2 ? HOTDIMM_BLOCK_KERNEL :
						  HOTDIMM_BLOCK_MOVABLE);
				if (i % 3 == 0)
					hotdimm_block_set_holes(&big, i, 1);
			}
			hotdimm_blocks_map(&big, exp, nr + 1);
			/* 16 TiB: page-sized pieces only (each costs O(blocks)). */
			for (k = 0; k < (s ? 1 : ARRAY_SIZE(chunks)); k++) {
				text = runs_read(&big, chunks[k], &total);
				ok = runs_expand(text, flat, nr + 1) && strcmp(flat, exp) == 0 &&
				     total == hotdimm_blocks_map_runs_len(&big);
				snprintf(name, sizeof(name),
					 "runs: %llu blocks alternating, read in %zu-byte pieces, complete",
					 (unsigned long long)nr, chunks[k]);
				CHECK(name, ok, "total %zu len %llu", total,
				      (unsigned long long)hotdimm_blocks_map_runs_len(&big));
				free(text);
			}
			/* A map taken while blocks change shows differing GENs. */
			{
				size_t n1;
				char *t = malloc(1 << 22);

				n1 = hotdimm_blocks_map_runs(&big, 0, t, 4096);
				hotdimm_block_set(&big, nr - 1, HOTDIMM_BLOCK_UNPLUGGED);
				while ((total = hotdimm_blocks_map_runs(&big, n1, t + n1, 4096)) > 0)
					n1 += total;
				t[n1] = '\0';
				snprintf(name, sizeof(name), "runs: %llu blocks, torn read detected",
					 (unsigned long long)nr);
				CHECK(name, !runs_expand(t, flat, nr + 1), "accepted");
				free(t);
			}
			free(a);
			free(flat);
			free(exp);
		}
	}

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

// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests: per-device auto-movable accounting (src/accounting.c).
 * Page counts: G = 1 GiB, B = one 128 MiB memory block (4 KiB pages).
 */
#include <string.h>

#include "check.h"
#include "hotdimm_acct.h"

#define G	262144ULL
#define B	32768ULL
#define NONE	HOTDIMM_ZONE_NONE
#define KERN	HOTDIMM_ZONE_KERNEL
#define MOVE	HOTDIMM_ZONE_MOVABLE
#define AUTO	HOTDIMM_POLICY_AUTO_MOVABLE

struct acase {
	const char *name;
	enum hotdimm_policy policy;
	u32 ratio;
	bool numa_aware;
	struct hotdimm_acct_scope node;	/* used when numa_aware; else = total */
	struct hotdimm_acct_scope total;
	enum hotdimm_zone want;
};

#define S(...) ((struct hotdimm_acct_scope){ __VA_ARGS__ })

static const struct acase cases[] = {
	{ "policy movable ignores the ratio", HOTDIMM_POLICY_MOVABLE, 0, 0,
	  S(0), S(.kernel_early = G), MOVE },
	{ "policy kernel", HOTDIMM_POLICY_KERNEL, 301, 0, S(0),
	  S(.kernel_early = G), KERN },
	{ "policy system does not steer", HOTDIMM_POLICY_SYSTEM, 301, 0, S(0),
	  S(.kernel_early = G), NONE },
	{ "ratio 0 never movable", AUTO, 0, 0, S(0), S(.kernel_early = 64 * G),
	  KERN },
	{ "301: first block movable", AUTO, 301, 0, S(0), S(.kernel_early = G),
	  MOVE },
	{ "301: 24th block still fits", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .dev_movable = 23 * B), MOVE },
	{ "301: 25th block exceeds", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .dev_movable = 24 * B), KERN },
	{ "301: own kernel block allows more", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .dev_kernel = B, .dev_movable = 24 * B), MOVE },
	{ "301: own kernel 10 blocks, 54 movable fits", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .dev_kernel = 10 * B, .dev_movable = 53 * B),
	  MOVE },
	{ "301: own kernel 10 blocks, 55 movable exceeds", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .dev_kernel = 10 * B, .dev_movable = 54 * B),
	  KERN },
	{ "100: equal is allowed", AUTO, 100, 0, S(0),
	  S(.kernel_early = G, .dev_movable = 7 * B), MOVE },
	{ "100: one more is not", AUTO, 100, 0, S(0),
	  S(.kernel_early = G, .dev_movable = 8 * B), KERN },
	{ "1: tiny ratio", AUTO, 1, 0, S(0), S(.kernel_early = G), KERN },
	{ "1: tiny ratio, big kernel", AUTO, 1, 0, S(0),
	  S(.kernel_early = 100 * B), MOVE },
	{ "U32_MAX ratio", AUTO, 0xffffffffu, 0, S(0),
	  S(.kernel_early = G, .dev_movable = 1ULL << 40), MOVE },
	{ "U32_MAX ratio, 2^40 kernel saturates", AUTO, 0xffffffffu, 0, S(0),
	  S(.kernel_early = 1ULL << 40, .dev_movable = 1ULL << 60), MOVE },
	{ "near 2^40 pages fits", AUTO, 301, 0, S(0),
	  S(.kernel_early = 1ULL << 40, .dev_movable = 3ULL << 40), MOVE },
	{ "near 2^40 pages exceeds", AUTO, 301, 0, S(0),
	  S(.kernel_early = 1ULL << 40,
	    .dev_movable = (3ULL << 40) + (1ULL << 40) / 100), KERN },
	{ "huge counts do not overflow", AUTO, 301, 0, S(0),
	  S(.kernel_early = ~0ULL, .dev_kernel = ~0ULL, .dev_movable = 1ULL << 62),
	  MOVE },
	{ "others' movable consumes boot kernel", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .others_req_kernel = G), KERN },
	{ "others use half of boot kernel: fits", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .others_req_kernel = G / 2, .dev_movable = 11 * B),
	  MOVE },
	{ "others use half of boot kernel: exceeds", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .others_req_kernel = G / 2, .dev_movable = 12 * B),
	  KERN },
	{ "another device's kernel does not help", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .others_req_kernel = 0, .dev_movable = 24 * B),
	  KERN },
	{ "non-hotdimm ZONE_MOVABLE counts", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .movable_other = 3 * G), KERN },
	{ "CMA counts as movable: fits", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .cma = G / 4, .dev_movable = 15 * B), MOVE },
	{ "CMA counts as movable: exceeds", AUTO, 301, 0, S(0),
	  S(.kernel_early = G, .cma = G / 4, .dev_movable = 16 * B), KERN },
	{ "NUMA aware: node without kernel memory", AUTO, 301, 1,
	  S(.kernel_early = 0), S(.kernel_early = G), KERN },
	{ "NUMA unaware: same layout goes movable", AUTO, 301, 0,
	  S(.kernel_early = 0), S(.kernel_early = G), MOVE },
	{ "NUMA aware: both scopes allow", AUTO, 301, 1,
	  S(.kernel_early = G / 2), S(.kernel_early = G), MOVE },
	{ "NUMA aware: node ok, system exhausted", AUTO, 301, 1,
	  S(.kernel_early = G), S(.kernel_early = G, .others_req_kernel = G),
	  KERN },
	{ "NUMA aware: own kernel on a memoryless node", AUTO, 301, 1,
	  S(.kernel_early = 0, .dev_kernel = B),
	  S(.kernel_early = G, .dev_kernel = B), MOVE },
	{ "NUMA aware: two nodes, other node's kernel does not help", AUTO, 301,
	  1, S(.kernel_early = G / 16, .dev_movable = B),
	  S(.kernel_early = 2 * G, .dev_movable = B), KERN },
};

static void decide_case(const struct acase *c)
{
	struct hotdimm_acct_input in = {
		.policy = c->policy,
		.ratio = c->ratio,
		.numa_aware = c->numa_aware,
		.node = c->numa_aware ? c->node : c->total,
		.total = c->total,
		.nr_pages = B,
	};
	enum hotdimm_zone got = hotdimm_acct_decide(&in);
	char name[128];

	snprintf(name, sizeof(name), "acct %s", c->name);
	CHECK(name, got == c->want, "zone %d, want %d", got, c->want);
}

/* The README's worked example: a 1 GiB guest plugs 8 GiB in one device. */
static void greedy_case(void)
{
	struct hotdimm_acct_input in = {
		.policy = AUTO, .ratio = 301, .numa_aware = 1, .nr_pages = B,
	};
	int i, kernel = 0, movable = 0;

	in.total.kernel_early = G;
	for (i = 0; i < 64; i++) {
		in.node = in.total;
		if (hotdimm_acct_decide(&in) == MOVE) {
			in.total.dev_movable += B;
			movable++;
		} else {
			in.total.dev_kernel += B;
			kernel++;
		}
	}
	CHECK("acct 1 GiB + 8 GiB at 301% -> 10 K / 54 M",
	      kernel == 10 && movable == 54, "got %d K / %d M", kernel, movable);
	CHECK("acct 1 GiB + 8 GiB stays within the ratio",
	      (u64)movable * B * 100 <= 301 * (G + (u64)kernel * B),
	      "movable %d kernel %d", movable, kernel);
}

int main(void)
{
	struct hotdimm_acct_input in = { .ratio = 301, .nr_pages = B };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		decide_case(&cases[i]);
	greedy_case();

	CHECK("req_kernel covers movable", hotdimm_acct_req_kernel(0, 301, 301) == 100,
	      "got %llu", (unsigned long long)hotdimm_acct_req_kernel(0, 301, 301));
	CHECK("req_kernel own kernel suffices",
	      hotdimm_acct_req_kernel(200, 301, 301) == 0, "got %llu",
	      (unsigned long long)hotdimm_acct_req_kernel(200, 301, 301));
	CHECK("req_kernel ratio 0 needs nothing",
	      hotdimm_acct_req_kernel(0, G, 0) == 0, "nonzero");
	CHECK("req_kernel saturates", hotdimm_acct_req_kernel(0, 1ULL << 62, 1) ==
	      ~0ULL, "got %llu",
	      (unsigned long long)hotdimm_acct_req_kernel(0, 1ULL << 62, 1));

	in.total = S(.kernel_early = G, .dev_kernel = 10 * B);
	in.node = in.total;
	CHECK("remove kernel: no movable left", hotdimm_acct_may_remove_kernel(&in),
	      "refused");
	in.total.dev_movable = 54 * B;
	in.node = in.total;
	CHECK("remove kernel: would break the ratio",
	      !hotdimm_acct_may_remove_kernel(&in), "allowed");
	in.total.dev_movable = 20 * B;
	in.node = in.total;
	CHECK("remove kernel: ratio still holds",
	      hotdimm_acct_may_remove_kernel(&in), "refused");

	CHECK("policy parse auto-movable\\n",
	      hotdimm_policy_parse("auto-movable\n", 13) == AUTO, "x");
	CHECK("policy parse system", hotdimm_policy_parse("system", 6) ==
	      HOTDIMM_POLICY_SYSTEM, "x");
	CHECK("policy parse prefix rejected",
	      hotdimm_policy_parse("movabl", 6) == -EINVAL, "x");
	CHECK("policy parse empty rejected", hotdimm_policy_parse("", 0) == -EINVAL,
	      "x");
	CHECK("policy parse garbage rejected",
	      hotdimm_policy_parse("bogus", 5) == -EINVAL, "x");
	CHECK("policy names", strcmp(hotdimm_policy_name(HOTDIMM_POLICY_KERNEL),
				     "kernel") == 0, "x");
	return check_failed;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device auto-movable accounting (see include/hotdimm_acct.h for the
 * semantics). Pure logic: this file compiles unchanged in the module and in
 * the unit tests.
 */
#include "hotdimm_acct.h"

static const char * const hotdimm_policy_names[HOTDIMM_POLICY_NR] = {
	[HOTDIMM_POLICY_AUTO_MOVABLE] = "auto-movable",
	[HOTDIMM_POLICY_MOVABLE] = "movable",
	[HOTDIMM_POLICY_KERNEL] = "kernel",
	[HOTDIMM_POLICY_SYSTEM] = "system",
};

const char *hotdimm_policy_name(enum hotdimm_policy policy)
{
	if ((unsigned int)policy >= HOTDIMM_POLICY_NR)
		return "invalid";
	return hotdimm_policy_names[policy];
}

int hotdimm_policy_parse(const char *s, size_t len)
{
	int p;

	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	for (p = 0; p < HOTDIMM_POLICY_NR; p++) {
		const char *name = hotdimm_policy_names[p];
		size_t i;

		for (i = 0; i < len && name[i] && name[i] == s[i]; i++)
			;
		if (i == len && !name[i])
			return p;
	}
	return -EINVAL;
}

static u64 sat_sub(u64 a, u64 b)
{
	return a > b ? a - b : 0;
}

static u64 sat_add(u64 a, u64 b)
{
	return a > U64_MAX - b ? U64_MAX : a + b;
}

/* a * ratio / 100 without overflow (saturating at U64_MAX). */
static u64 scale_ratio(u64 a, u32 ratio)
{
	u64 q = a / 100, r = a % 100;

	if (ratio && q > U64_MAX / ratio)
		return U64_MAX;
	return sat_add(q * ratio, r * ratio / 100);
}

u64 hotdimm_acct_req_kernel(u64 kernel, u64 movable, u32 ratio)
{
	u64 need;

	if (!ratio)
		return 0;
	/* movable * 100 / ratio, rounded down, saturating. */
	if (movable / ratio > U64_MAX / 100)
		return U64_MAX;
	need = sat_add(movable / ratio * 100, (movable % ratio) * 100 / ratio);
	return sat_sub(need, kernel);
}

bool hotdimm_acct_movable_ok(const struct hotdimm_acct_scope *s, u32 ratio,
			     u64 extra)
{
	u64 kernel, movable;

	/* Boot kernel memory: CMA is movable, others' needs are taken. */
	kernel = sat_sub(s->kernel_early, s->cma);
	kernel = sat_sub(kernel, s->others_req_kernel);
	/* This device's own kernel memory backs its own movable memory. */
	kernel = sat_add(kernel, s->dev_kernel);

	movable = sat_add(s->movable_other, s->cma);
	movable = sat_add(movable, s->dev_movable);
	movable = sat_add(movable, extra);

	return movable <= scale_ratio(kernel, ratio);
}

enum hotdimm_zone hotdimm_acct_decide(const struct hotdimm_acct_input *in)
{
	switch (in->policy) {
	case HOTDIMM_POLICY_MOVABLE:
		return HOTDIMM_ZONE_MOVABLE;
	case HOTDIMM_POLICY_KERNEL:
		return HOTDIMM_ZONE_KERNEL;
	case HOTDIMM_POLICY_SYSTEM:
		return HOTDIMM_ZONE_NONE;
	default:
		break;
	}
	if (!in->ratio)
		return HOTDIMM_ZONE_KERNEL;
	if (in->numa_aware &&
	    !hotdimm_acct_movable_ok(&in->node, in->ratio, in->nr_pages))
		return HOTDIMM_ZONE_KERNEL;
	if (!hotdimm_acct_movable_ok(&in->total, in->ratio, in->nr_pages))
		return HOTDIMM_ZONE_KERNEL;
	return HOTDIMM_ZONE_MOVABLE;
}

static bool remove_kernel_ok(const struct hotdimm_acct_scope *s, u32 ratio,
			     u64 nr_pages)
{
	struct hotdimm_acct_scope after = *s;

	after.dev_kernel = sat_sub(after.dev_kernel, nr_pages);
	return hotdimm_acct_movable_ok(&after, ratio, 0);
}

bool hotdimm_acct_may_remove_kernel(const struct hotdimm_acct_input *in)
{
	if (!in->total.dev_movable)
		return true;
	if (in->numa_aware && !remove_kernel_ok(&in->node, in->ratio,
						in->nr_pages))
		return false;
	return remove_kernel_ok(&in->total, in->ratio, in->nr_pages);
}

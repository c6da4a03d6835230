/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-device auto-movable accounting: which zone the next block of a device
 * goes to. Pure logic, shared with the unit tests.
 *
 * Semantics follow the kernel's "auto-movable" online policy
 * (Documentation/admin-guide/mm/memory-hotplug.rst), applied per device:
 *
 *  - MOVABLE memory may be at most ratio% of the KERNEL memory that backs
 *    it. Backing memory is kernel-zone memory present since boot (CMA inside
 *    it counts as movable, not kernel).
 *  - Each hotdimm device is like a dynamic memory group: its own kernel-zone
 *    memory backs more movable memory in that same device only. Movable
 *    memory of *other* devices that their own kernel memory does not cover
 *    consumes boot kernel memory (others_req_kernel).
 *  - ZONE_MOVABLE memory not owned by any hotdimm device consumes boot
 *    kernel memory too.
 *  - With numa_aware, the check is made for the device's node and for the
 *    whole system; both must allow it.
 *
 * All sizes are page counts (u64); no intermediate result overflows.
 */
#ifndef HOTDIMM_ACCT_H
#define HOTDIMM_ACCT_H

#include "hotdimm_common.h"
#include "hotdimm_blocks.h"

enum hotdimm_policy {
	HOTDIMM_POLICY_AUTO_MOVABLE = 0,
	HOTDIMM_POLICY_MOVABLE,
	HOTDIMM_POLICY_KERNEL,
	HOTDIMM_POLICY_SYSTEM,
	HOTDIMM_POLICY_NR,
};

#define HOTDIMM_DEFAULT_RATIO	301

/* "auto-movable", "movable", "kernel", "system". */
const char *hotdimm_policy_name(enum hotdimm_policy policy);

/* Returns the policy for @s (@len chars, trailing newline ignored), or -EINVAL. */
int hotdimm_policy_parse(const char *s, size_t len);

/* One scope of the accounting: one NUMA node, or the whole system. */
struct hotdimm_acct_scope {
	u64 kernel_early;	/* kernel-zone pages present since boot, CMA incl. */
	u64 cma;		/* CMA pages among kernel_early */
	u64 movable_other;	/* ZONE_MOVABLE pages no hotdimm device owns */
	u64 others_req_kernel;	/* boot kernel pages other devices need */
	u64 dev_kernel;		/* this device's kernel-zone pages */
	u64 dev_movable;	/* this device's ZONE_MOVABLE pages */
};

struct hotdimm_acct_input {
	enum hotdimm_policy policy;
	u32 ratio;		/* MOVABLE:KERNEL in percent; 0: never movable */
	bool numa_aware;
	struct hotdimm_acct_scope node;
	struct hotdimm_acct_scope total;
	u64 nr_pages;		/* size of the block to decide for */
};

/*
 * Boot kernel pages a device with @kernel and @movable pages needs so that
 * its movable memory stays within @ratio: movable * 100 / ratio - kernel,
 * at least 0. A device with ratio 0 needs nothing (like the kernel's policy,
 * which skips groups when the ratio is 0).
 */
u64 hotdimm_acct_req_kernel(u64 kernel, u64 movable, u32 ratio);

/* Would @extra more movable pages of the device keep @s within @ratio? */
bool hotdimm_acct_movable_ok(const struct hotdimm_acct_scope *s, u32 ratio,
			     u64 extra);

/*
 * Zone for the next block: HOTDIMM_ZONE_MOVABLE or _KERNEL, or
 * HOTDIMM_ZONE_NONE for the "system" policy (do not steer).
 */
enum hotdimm_zone hotdimm_acct_decide(const struct hotdimm_acct_input *in);

/*
 * May a kernel block of @in->nr_pages pages be removed from the device
 * without leaving its remaining movable memory beyond the ratio?
 * Always true when the device has no movable memory.
 */
bool hotdimm_acct_may_remove_kernel(const struct hotdimm_acct_input *in);

#endif /* HOTDIMM_ACCT_H */

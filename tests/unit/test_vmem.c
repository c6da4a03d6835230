// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests: virtio-mem protocol rules (src/vmem_proto.c). The device is
 * simulated only as far as the logic under test reads it: a config whose
 * fields a host update changes between two reads.
 */
#include "check.h"
#include "hotdimm_vmem.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/*
 * A host that grows the request from 1 GiB to 3 GiB (and the usable region
 * with it, as QEMU does) while the guest reads, after the guest read
 * usable_region_size and before it reads requested_size: the update
 * @updates_left times.
 */
struct fake_dev {
	struct hotdimm_vmem_cfg cfg;
	u32 gen;
	unsigned int updates_left;
	unsigned int reads;
};

static u32 fake_gen(void *ctx)
{
	return ((struct fake_dev *)ctx)->gen;
}

static void fake_read(void *ctx, struct hotdimm_vmem_cfg *cfg)
{
	struct fake_dev *d = ctx;

	d->reads++;
	cfg->usable = d->cfg.usable;
	if (d->updates_left) {
		d->updates_left--;
		d->cfg.requested += GiB;
		d->cfg.usable = d->cfg.requested + 256 * MiB;
		d->gen++;
	}
	cfg->requested = d->cfg.requested;
}

static const struct hotdimm_vmem_cfg_ops fake_ops = {
	.generation = fake_gen,
	.read = fake_read,
};

int main(void)
{
	struct fake_dev d = {
		.cfg = { .usable = GiB + 256 * MiB, .requested = GiB },
		.updates_left = 2,
	};
	struct hotdimm_vmem_cfg cfg;
	int ret;

	CHECK("STATE response needs the state field",
	      hotdimm_vmem_resp_len(true) == 10, "got %u",
	      hotdimm_vmem_resp_len(true));
	CHECK("a 2-byte STATE response is short",
	      2 < hotdimm_vmem_resp_len(true), "accepted");
	CHECK("other responses need the type",
	      hotdimm_vmem_resp_len(false) == 2, "got %u",
	      hotdimm_vmem_resp_len(false));

	/* One pass would mix the old usable size with the new request. */
	ret = hotdimm_vmem_read_cfg(&fake_ops, &d, &cfg);
	CHECK("config read across host updates succeeds", ret == 0, "ret %d",
	      ret);
	CHECK("config snapshot is one config", cfg.usable == d.cfg.usable &&
	      cfg.requested == d.cfg.requested,
	      "usable %llu requested %llu, device %llu/%llu",
	      (unsigned long long)cfg.usable,
	      (unsigned long long)cfg.requested,
	      (unsigned long long)d.cfg.usable,
	      (unsigned long long)d.cfg.requested);
	CHECK("config snapshot is valid",
	      hotdimm_vmem_check_cfg(8 * GiB, &cfg) == NULL, "%s",
	      hotdimm_vmem_check_cfg(8 * GiB, &cfg));
	CHECK("config re-read once per host update", d.reads == 3,
	      "%u reads", d.reads);

	d.updates_left = HOTDIMM_VMEM_CFG_TRIES;
	d.cfg.requested = GiB;
	d.cfg.usable = GiB + 256 * MiB;
	ret = hotdimm_vmem_read_cfg(&fake_ops, &d, &cfg);
	CHECK("a config that never settles is left for later", ret == -EAGAIN,
	      "ret %d", ret);

	cfg.usable = 9 * GiB;
	cfg.requested = GiB;
	CHECK("usable beyond the region is refused",
	      hotdimm_vmem_check_cfg(8 * GiB, &cfg) != NULL, "accepted");
	cfg.usable = 2 * GiB;
	cfg.requested = 3 * GiB;
	CHECK("request beyond the usable region is refused",
	      hotdimm_vmem_check_cfg(8 * GiB, &cfg) != NULL, "accepted");
	CHECK("short UNPLUG, STATE unplugged: done",
	      hotdimm_vmem_unplug_verdict(1) == HOTDIMM_VMEM_UNPLUG_DONE, "no");
	CHECK("short UNPLUG, STATE plugged: not done, pages may come back",
	      hotdimm_vmem_unplug_verdict(0) == HOTDIMM_VMEM_UNPLUG_NOT_DONE, "no");
	CHECK("short UNPLUG, STATE mixed: never given back",
	      hotdimm_vmem_unplug_verdict(2) == HOTDIMM_VMEM_UNPLUG_RETRY, "no");
	CHECK("short UNPLUG, STATE failed: never given back",
	      hotdimm_vmem_unplug_verdict(-5) == HOTDIMM_VMEM_UNPLUG_RETRY, "no");
	return check_failed;
}

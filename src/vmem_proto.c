// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mem protocol rules that need no device. Pure logic: this file
 * compiles unchanged in the module and in the unit tests.
 */
#include "hotdimm_vmem.h"

u32 hotdimm_vmem_resp_len(bool state_request)
{
	return state_request ? HOTDIMM_VMEM_RESP_STATE_LEN :
	       HOTDIMM_VMEM_RESP_TYPE_LEN;
}

enum hotdimm_vmem_unplug_verdict hotdimm_vmem_unplug_verdict(int state)
{
	switch (state) {
	case 0:		/* VIRTIO_MEM_STATE_PLUGGED */
		return HOTDIMM_VMEM_UNPLUG_NOT_DONE;
	case 1:		/* VIRTIO_MEM_STATE_UNPLUGGED */
		return HOTDIMM_VMEM_UNPLUG_DONE;
	default:	/* mixed, or unknown */
		return HOTDIMM_VMEM_UNPLUG_RETRY;
	}
}

int hotdimm_vmem_read_cfg(const struct hotdimm_vmem_cfg_ops *ops, void *ctx,
			  struct hotdimm_vmem_cfg *cfg)
{
	unsigned int tries;
	u32 gen;

	for (tries = 0; tries < HOTDIMM_VMEM_CFG_TRIES; tries++) {
		gen = ops->generation(ctx);
		ops->read(ctx, cfg);
		if (ops->generation(ctx) == gen)
			return 0;
	}
	return -EAGAIN;
}

const char *hotdimm_vmem_check_cfg(u64 region_size,
				   const struct hotdimm_vmem_cfg *cfg)
{
	if (cfg->usable > region_size)
		return "usable_region_size exceeds region_size";
	if (cfg->requested > cfg->usable)
		return "requested_size exceeds usable_region_size";
	return NULL;
}

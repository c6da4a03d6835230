/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-mem protocol rules that need no device: how long a response must
 * be, how to read the changing config fields as one snapshot, and which
 * config values make sense.
 *
 * Pure logic: shared by the module (virtio_mem.c) and the unit tests.
 */
#ifndef HOTDIMM_VMEM_H
#define HOTDIMM_VMEM_H

#include "hotdimm_common.h"

/* struct virtio_mem_resp: u16 type, u16 padding[3], then u16 state. */
#define HOTDIMM_VMEM_RESP_TYPE_LEN	2
#define HOTDIMM_VMEM_RESP_STATE_LEN	10

/*
 * Bytes a response must have: a STATE response carries the state after
 * the type, so a shorter one says nothing (its state would read as 0,
 * PLUGGED); other responses carry only the type.
 */
u32 hotdimm_vmem_resp_len(bool state_request);

/*
 * After an UNPLUG whose response was short, the device may or may not have
 * acted; a STATE of the range says. What the driver does with the range:
 */
enum hotdimm_vmem_unplug_verdict {
	HOTDIMM_VMEM_UNPLUG_DONE,	/* all unplugged: as if acknowledged */
	HOTDIMM_VMEM_UNPLUG_NOT_DONE,	/* all still plugged: a failed UNPLUG */
	/* partly, or STATE failed: unplug each device block, never use it */
	HOTDIMM_VMEM_UNPLUG_RETRY,
};

/*
 * @state: the STATE answer (0 plugged, 1 unplugged, 2 mixed, as in the
 * virtio spec) or a negative errno when STATE itself failed.
 */
enum hotdimm_vmem_unplug_verdict hotdimm_vmem_unplug_verdict(int state);

/* The config fields the host changes at runtime. */
struct hotdimm_vmem_cfg {
	u64 usable;		/* usable_region_size */
	u64 requested;		/* requested_size */
};

struct hotdimm_vmem_cfg_ops {
	/* The config generation (0 when the transport has none). */
	u32 (*generation)(void *ctx);
	void (*read)(void *ctx, struct hotdimm_vmem_cfg *cfg);
};

/* Snapshots tried before a config that keeps changing is left for later. */
#define HOTDIMM_VMEM_CFG_TRIES	100

/*
 * Read the fields until the generation is the same before and after: a
 * snapshot of one config, never fields of two. Returns 0, or -EAGAIN when
 * the host changed the config during every one of HOTDIMM_VMEM_CFG_TRIES
 * reads (its next config interrupt brings the final values).
 */
int hotdimm_vmem_read_cfg(const struct hotdimm_vmem_cfg_ops *ops, void *ctx,
			  struct hotdimm_vmem_cfg *cfg);

/*
 * Check a snapshot against the fixed region size. Returns NULL when it
 * makes sense, else the reason (naming the field).
 */
const char *hotdimm_vmem_check_cfg(u64 region_size,
				   const struct hotdimm_vmem_cfg *cfg);

#endif /* HOTDIMM_VMEM_H */

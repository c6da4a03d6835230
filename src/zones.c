// SPDX-License-Identifier: GPL-2.0
/*
 * Inputs of the accounting (accounting.c): the system's zones, read the way
 * the kernel's auto-movable policy reads them, and every hotdimm device's
 * own kernel/movable memory.
 */
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>

#include "compat.h"
#include "hotdimm.h"

static void hd_scope_add_node(struct hotdimm_acct_scope *s, u64 *movable,
			      int nid)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	int z;

	for (z = 0; z < MAX_NR_ZONES; z++) {
		struct zone *zone = &pgdat->node_zones[z];

		if (!populated_zone(zone))
			continue;
		if (zone_idx(zone) == ZONE_MOVABLE) {
			*movable += zone->present_pages;
		} else {
			s->kernel_early += zone->present_early_pages;
			s->cma += hotdimm_zone_cma_pages(zone);
		}
	}
}

/*
 * Called without any hotdimm lock held; takes hotdimm_devs_lock and each
 * device's lock. The numbers are a snapshot: zones change under us, which
 * only matters for one block's decision.
 */
void hotdimm_acct_gather(struct hotdimm_dev *hd, struct hotdimm_acct_input *in)
{
	u64 zone_movable_node = 0, zone_movable_total = 0;
	u64 dev_movable_node = 0, dev_movable_total = 0;
	struct hotdimm_dev *o;
	int nid;

	memset(in, 0, sizeof(*in));
	in->policy = READ_ONCE(hotdimm_online_policy);
	in->numa_aware = READ_ONCE(hotdimm_numa_aware);
	in->nr_pages = PHYS_PFN(hd->block_size);

	for_each_online_node(nid) {
		hd_scope_add_node(&in->total, &zone_movable_total, nid);
		if (nid == hd->nid)
			hd_scope_add_node(&in->node, &zone_movable_node, nid);
	}

	spin_lock(&hotdimm_devs_lock);
	list_for_each_entry(o, &hotdimm_devs, node) {
		u64 pages = PHYS_PFN(o->sb_size), kernel, movable, req;
		bool same_node = o->nid == hd->nid;
		u32 ratio;

		spin_lock(&o->lock);
		kernel = hotdimm_blocks_state_sb(&o->bk, HOTDIMM_BLOCK_KERNEL) * pages;
		movable = hotdimm_blocks_state_sb(&o->bk, HOTDIMM_BLOCK_MOVABLE) * pages;
		ratio = o->ratio;
		spin_unlock(&o->lock);

		dev_movable_total += movable;
		if (same_node)
			dev_movable_node += movable;
		if (o == hd) {
			in->ratio = ratio;
			in->total.dev_kernel = kernel;
			in->total.dev_movable = movable;
			in->node.dev_kernel = kernel;
			in->node.dev_movable = movable;
			continue;
		}
		req = hotdimm_acct_req_kernel(kernel, movable, ratio);
		in->total.others_req_kernel += req;
		if (same_node)
			in->node.others_req_kernel += req;
	}
	spin_unlock(&hotdimm_devs_lock);

	in->total.movable_other = zone_movable_total > dev_movable_total ?
				  zone_movable_total - dev_movable_total : 0;
	in->node.movable_other = zone_movable_node > dev_movable_node ?
				 zone_movable_node - dev_movable_node : 0;
}

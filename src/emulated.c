// SPDX-License-Identifier: GPL-2.0
/*
 * Emulated DIMM transport: DIMMs over RAM the firmware has but the kernel
 * does not use (boot with mem=). Given by the dimms= module parameter,
 * resized through the requested_size sysfs attribute. There is no
 * hypervisor protocol: plug and unplug are no-ops.
 *
 * Every entry is validated before any device is created, so a bad list
 * changes nothing and fails the module load.
 */
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/range.h>

#include "compat.h"
#include "hotdimm.h"
#include "hotdimm_parse.h"

static const struct hotdimm_transport_ops hd_emulated_ops = {
	.name = "emulated",
	.resizable = true,
};

static struct platform_device *hd_emulated[HOTDIMM_MAX_DIMMS];
static unsigned int hd_emulated_nr;

/* Checks that need the running kernel; the pure ones are in parse.c. */
static int hd_emulated_check(const struct hotdimm_range *r, unsigned int i)
{
	u64 bs = memory_block_size_bytes(), a;
	char who[32];

	snprintf(who, sizeof(who), "dimms entry %u", i);
	for (a = r->start; a < r->start + r->size; a += bs) {
		if (!hotdimm_firmware_ram(a, bs)) {
			pr_err("%s (%llu MiB@%#llx): [%#llx-%#llx] is not all RAM in the firmware memory map (reserved or a hole); give RAM that mem= hid from the kernel\n",
			       who, r->size >> 20, r->start, a, a + bs - 1);
			return -EINVAL;
		}
	}
	return hotdimm_check_region(r->start, r->size, who,
				    " (hide it with mem= or pick another range)");
}

int hotdimm_emulated_init(const char *dimms)
{
	struct hotdimm_range ranges[HOTDIMM_MAX_DIMMS];
	struct range pluggable = mhp_get_pluggable_range(true);
	u64 bs = memory_block_size_bytes();
	unsigned int nr, bad, i;
	int ret;

	if (!dimms || !*dimms)
		return 0;
	ret = hotdimm_parse_dimms(dimms, ranges, &nr, &bad);
	if (ret == -E2BIG) {
		pr_err("dimms: more than %d entries\n", HOTDIMM_MAX_DIMMS);
		return -EINVAL;
	}
	if (ret) {
		pr_err("dimms entry %u: %s in '%s': use SIZE@START, e.g. 1G@0x40000000\n",
		       bad, ret == -ERANGE ? "a number does not fit in 64 bits" :
		       "cannot parse", dimms);
		return ret == -ERANGE ? -ERANGE : -EINVAL;
	}
	for (i = 0; i < nr; i++) {
		enum hotdimm_range_error err;

		err = hotdimm_check_range(ranges, i, bs, pluggable.end + 1);
		if (err != HOTDIMM_RANGE_OK) {
			pr_err("dimms entry %u (%llu MiB@%#llx): %s (memory block size %llu MiB)\n",
			       i, ranges[i].size >> 20, ranges[i].start,
			       hotdimm_range_error_str(err), bs >> 20);
			return err == HOTDIMM_RANGE_OVERFLOW ? -ERANGE : -EINVAL;
		}
		ret = hd_emulated_check(&ranges[i], i);
		if (ret)
			return ret;
	}

	for (i = 0; i < nr; i++) {
		struct hotdimm_pdata pdata = {
			.ops = &hd_emulated_ops,
			.start = ranges[i].start,
			.size = ranges[i].size,
			.nid = NUMA_NO_NODE,
			.requested = 0,
		};

		ret = hotdimm_register_device(NULL, &pdata, &hd_emulated[i]);
		if (ret) {
			pr_err("dimms entry %u: cannot create the device: %d\n",
			       i, ret);
			goto err_unregister;
		}
		hd_emulated_nr = i + 1;
	}
	return 0;

err_unregister:
	hotdimm_emulated_exit();
	return ret;
}

void hotdimm_emulated_exit(void)
{
	while (hd_emulated_nr) {
		hd_emulated_nr--;
		hotdimm_unregister_device(hd_emulated[hd_emulated_nr]);
		hd_emulated[hd_emulated_nr] = NULL;
	}
}

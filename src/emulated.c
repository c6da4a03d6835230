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
#include <linux/fs.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/range.h>
#include <linux/slab.h>

#include "compat.h"
#include "hotdimm.h"
#include "hotdimm_parse.h"

static const struct hotdimm_transport_ops hd_emulated_ops = {
	.name = "emulated",
	.resizable = true,
};

static struct platform_device *hd_emulated[HOTDIMM_MAX_DIMMS];
static unsigned int hd_emulated_nr;

/*
 * Is all of [start, start + size) RAM in the firmware's memory map, also
 * when mem= hid it from the kernel? Adding anything else (an MMIO hole, a
 * reserved range) as System RAM would crash the guest.
 *
 * The map the firmware gave (x86: e820 before mem= trimmed it) is what
 * /sys/firmware/memmap/N/{start,end,type} shows (CONFIG_FIRMWARE_MEMMAP);
 * the kernel exports no function that reads it on every supported kernel
 * (e820__mapped_raw_any() is reserved to KVM's modules since 6.19), so it
 * is read from there, through hotdimm's internal sysfs mount: N counts up
 * from 0, "end" is inclusive.
 */
#define HD_FWMAP "firmware/memmap"
#define HD_FWMAP_MAX 512

static int hd_fwmap_read(unsigned int n, const char *name, char *buf, size_t len)
{
	char path[64];
	struct file *f;
	loff_t pos = 0;
	ssize_t ret;

	snprintf(path, sizeof(path), HD_FWMAP "/%u/%s", n, name);
	f = hotdimm_sysfs_open(path, O_RDONLY);
	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = kernel_read(f, buf, len - 1, &pos);
	filp_close(f, NULL);
	if (ret < 0)
		return ret;
	buf[ret] = '\0';
	strim(buf);
	return 0;
}

/* The firmware's RAM ranges ([start, end] inclusive); count or -errno. */
static int hd_fwmap_ram(struct range *ram, unsigned int max)
{
	unsigned int n, nr = 0;
	char buf[32];
	u64 start, end;
	int ret;

	for (n = 0; n < HD_FWMAP_MAX; n++) {
		ret = hd_fwmap_read(n, "type", buf, sizeof(buf));
		if (ret == -ENOENT)
			break;
		if (ret)
			return ret;
		if (strcmp(buf, "System RAM"))
			continue;
		ret = hd_fwmap_read(n, "start", buf, sizeof(buf));
		if (!ret)
			ret = kstrtou64(buf, 0, &start);
		if (!ret)
			ret = hd_fwmap_read(n, "end", buf, sizeof(buf));
		if (!ret)
			ret = kstrtou64(buf, 0, &end);
		if (ret)
			return ret;
		if (nr == max)
			return -E2BIG;
		ram[nr].start = start;
		ram[nr].end = end;
		nr++;
	}
	return n ? nr : -ENOENT;
}

/* Is [start, start + size) covered by the (possibly adjacent) ranges? */
static bool hd_covered(const struct range *ram, unsigned int nr, u64 start, u64 size)
{
	u64 cur = start, last = start + size - 1;
	unsigned int i;
	bool moved = true;

	while (moved) {
		moved = false;
		for (i = 0; i < nr; i++) {
			if (ram[i].start <= cur && cur <= ram[i].end) {
				if (ram[i].end >= last)
					return true;
				cur = ram[i].end + 1;
				moved = true;
			}
		}
	}
	return false;
}

/* Checks that need the running kernel; the pure ones are in parse.c. */
static int hd_emulated_check(const struct range *ram, unsigned int nr_ram,
			     const struct hotdimm_range *r, unsigned int i)
{
	u64 bs = memory_block_size_bytes(), a;
	char who[32];

	snprintf(who, sizeof(who), "dimms entry %u", i);
	for (a = r->start; a < r->start + r->size; a += bs) {
		if (!hd_covered(ram, nr_ram, a, bs)) {
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
	struct range *ram;
	int ret, nr_ram;

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
	ram = kcalloc(HD_FWMAP_MAX, sizeof(*ram), GFP_KERNEL);
	if (!ram)
		return -ENOMEM;
	nr_ram = hd_fwmap_ram(ram, HD_FWMAP_MAX);
	if (nr_ram < 0) {
		pr_err("dimms: cannot read the firmware memory map from /sys/%s (%d); emulated DIMMs need CONFIG_FIRMWARE_MEMMAP\n",
		       HD_FWMAP, nr_ram);
		kfree(ram);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < nr; i++) {
		enum hotdimm_range_error err;

		err = hotdimm_check_range(ranges, i, bs, pluggable.end + 1);
		if (err != HOTDIMM_RANGE_OK) {
			pr_err("dimms entry %u (%llu MiB@%#llx): %s (memory block size %llu MiB)\n",
			       i, ranges[i].size >> 20, ranges[i].start,
			       hotdimm_range_error_str(err), bs >> 20);
			kfree(ram);
			return err == HOTDIMM_RANGE_OVERFLOW ? -ERANGE : -EINVAL;
		}
		ret = hd_emulated_check(ram, nr_ram, &ranges[i], i);
		if (ret) {
			kfree(ram);
			return ret;
		}
	}
	kfree(ram);

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

// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device sysfs attributes (/sys/bus/platform/devices/hotdimm.N/).
 * Names and units are an interface (README, "sysfs interface"): sizes in
 * decimal bytes, region_start in 0x hex, blocks one character per memory
 * block.
 */
#include <linux/device.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "compat.h"
#include "hotdimm.h"
#include "hotdimm_parse.h"

static struct hotdimm_dev *hd_of(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t transport_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%s\n", hd_of(dev)->ops->name);
}
static DEVICE_ATTR_RO(transport);

static ssize_t region_start_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%llx\n", hd_of(dev)->start);
}
static DEVICE_ATTR_RO(region_start);

static ssize_t region_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", hd_of(dev)->size);
}
static DEVICE_ATTR_RO(region_size);

static ssize_t block_size_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", hd_of(dev)->block_size);
}
static DEVICE_ATTR_RO(block_size);

static ssize_t node_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%d\n", hd_of(dev)->nid);
}
static DEVICE_ATTR_RO(node);

static ssize_t requested_size_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct hotdimm_dev *hd = hd_of(dev);
	u64 val;

	spin_lock(&hd->lock);
	val = hd->requested;
	spin_unlock(&hd->lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t requested_size_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	struct hotdimm_dev *hd = hd_of(dev);
	u64 val;

	if (!hd->ops->resizable)
		return -EPERM;
	if (hotdimm_parse_size(buf, count, &val))
		return -EINVAL;
	if (val > hd->size) {
		dev_dbg(dev, "requested_size %llu beyond the region (%llu)\n",
			val, hd->size);
		return -EINVAL;
	}
	hotdimm_set_requested(hd, val);
	return count;
}
static DEVICE_ATTR_RW(requested_size);

/* Size in bytes of the device's blocks in @state. */
static ssize_t hd_count_show(struct device *dev, char *buf,
			     enum hotdimm_block_state state)
{
	struct hotdimm_dev *hd = hd_of(dev);
	u64 n;

	spin_lock(&hd->lock);
	n = hotdimm_blocks_state_sb(&hd->bk, state);
	if (state == HOTDIMM_BLOCK_OFFLINE)
		n += hotdimm_blocks_state_sb(&hd->bk, HOTDIMM_BLOCK_PLUGGED);
	spin_unlock(&hd->lock);
	return sysfs_emit(buf, "%llu\n", n * hd->sb_size);
}

static ssize_t plugged_size_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct hotdimm_dev *hd = hd_of(dev);
	u64 n;

	spin_lock(&hd->lock);
	n = hotdimm_blocks_plugged_sb(&hd->bk);
	spin_unlock(&hd->lock);
	return sysfs_emit(buf, "%llu\n", n * hd->sb_size);
}
static DEVICE_ATTR_RO(plugged_size);

/*
 * One line "INDEX PLUGGED_BYTES" per partly plugged block, lowest first
 * ("" when there is none); cut at a page, and then the last line says so.
 */
static ssize_t partial_blocks_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct hotdimm_dev *hd = hd_of(dev);
	ssize_t len = 0;
	u64 i;

	spin_lock(&hd->lock);
	for (i = 0; i < hd->bk.nr; i++) {
		if (hd->bk.b[i].state == HOTDIMM_BLOCK_UNPLUGGED ||
		    !hd->bk.b[i].holes)
			continue;
		if (len > PAGE_SIZE - 64) {
			len += sysfs_emit_at(buf, len, "truncated\n");
			break;
		}
		len += sysfs_emit_at(buf, len, "%llu %llu\n", i,
				     (u64)hotdimm_block_plugged_sb(&hd->bk, i) *
				     hd->sb_size);
	}
	spin_unlock(&hd->lock);
	return len;
}
static DEVICE_ATTR_RO(partial_blocks);

/* The unit of plugging: a sub-block (at least the transport's device block). */
static ssize_t device_block_size_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", hd_of(dev)->sb_size);
}
static DEVICE_ATTR_RO(device_block_size);

static ssize_t kernel_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return hd_count_show(dev, buf, HOTDIMM_BLOCK_KERNEL);
}
static DEVICE_ATTR_RO(kernel_size);

static ssize_t movable_size_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return hd_count_show(dev, buf, HOTDIMM_BLOCK_MOVABLE);
}
static DEVICE_ATTR_RO(movable_size);

static ssize_t offline_size_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return hd_count_show(dev, buf, HOTDIMM_BLOCK_OFFLINE);
}
static DEVICE_ATTR_RO(offline_size);

static ssize_t movable_ratio_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct hotdimm_dev *hd = hd_of(dev);
	u32 ratio;

	spin_lock(&hd->lock);
	ratio = hd->ratio;
	spin_unlock(&hd->lock);
	return sysfs_emit(buf, "%u\n", ratio);
}

static ssize_t movable_ratio_store(struct device *dev,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	struct hotdimm_dev *hd = hd_of(dev);
	unsigned int ratio;

	if (kstrtouint(buf, 0, &ratio))
		return -EINVAL;
	spin_lock(&hd->lock);
	hd->ratio = ratio;
	hd->ratio_set = true;
	spin_unlock(&hd->lock);
	dev_dbg(dev, "movable_ratio set to %u%%\n", ratio);
	/* A shrink may have waited for the ratio. */
	hotdimm_kick(hd);
	return count;
}
static DEVICE_ATTR_RW(movable_ratio);

/*
 * One character per block and a newline. sysfs takes less than a page from
 * a show() (it cuts PAGE_SIZE to PAGE_SIZE - 1), enough for 4094 blocks
 * (almost 512 GiB); a larger device's map does not fit and the read fails
 * with EFBIG rather than showing part of it: block_map has it.
 */
static ssize_t blocks_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct hotdimm_dev *hd = hd_of(dev);
	size_t n;

	if (hd->bk.nr + 1 >= PAGE_SIZE)
		return -EFBIG;
	spin_lock(&hd->lock);
	n = hotdimm_blocks_map(&hd->bk, buf, PAGE_SIZE - 1);
	spin_unlock(&hd->lock);
	buf[n++] = '\n';
	return n;
}
static DEVICE_ATTR_RO(blocks);

/*
 * block_map: the complete map in runs at any size (hotdimm_blocks_map_runs()
 * describes the text). A binary attribute, so that it is not limited to a
 * page: sysfs reads it in pieces of at most a page, each made from the
 * current state under hd->lock; the generation on its first and last line
 * tells a reader whether all pieces saw the same map.
 */
static ssize_t block_map_read(struct file *file, struct kobject *kobj,
			      HOTDIMM_BIN_CONST struct bin_attribute *attr,
			      char *buf, loff_t pos, size_t count)
{
	struct hotdimm_dev *hd = hd_of(kobj_to_dev(kobj));
	size_t n;

	if (pos < 0)
		return -EINVAL;
	spin_lock(&hd->lock);
	n = hotdimm_blocks_map_runs(&hd->bk, pos, buf, count);
	spin_unlock(&hd->lock);
	return n;
}

static HOTDIMM_BIN_CONST struct bin_attribute bin_attr_block_map = {
	.attr = { .name = "block_map", .mode = 0444 },
	.read = block_map_read,
};

static HOTDIMM_BIN_CONST struct bin_attribute *HOTDIMM_BIN_CONST hotdimm_dev_bin_attrs[] = {
	&bin_attr_block_map,
	NULL,
};

static ssize_t status_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	char status[2 * HOTDIMM_STATUS_LEN + 2];

	hotdimm_get_status(hd_of(dev), status, sizeof(status));
	return sysfs_emit(buf, "%s\n", status);
}
static DEVICE_ATTR_RO(status);

static struct attribute *hotdimm_dev_attrs[] = {
	&dev_attr_transport.attr,
	&dev_attr_region_start.attr,
	&dev_attr_region_size.attr,
	&dev_attr_block_size.attr,
	&dev_attr_device_block_size.attr,
	&dev_attr_partial_blocks.attr,
	&dev_attr_node.attr,
	&dev_attr_requested_size.attr,
	&dev_attr_plugged_size.attr,
	&dev_attr_kernel_size.attr,
	&dev_attr_movable_size.attr,
	&dev_attr_offline_size.attr,
	&dev_attr_movable_ratio.attr,
	&dev_attr_blocks.attr,
	&dev_attr_status.attr,
	NULL,
};

/* requested_size is read-only where the host decides (virtio-mem). */
static umode_t hotdimm_attr_visible(struct kobject *kobj, struct attribute *a,
				    int n)
{
	struct hotdimm_dev *hd = hd_of(kobj_to_dev(kobj));

	if (a == &dev_attr_requested_size.attr && !hd->ops->resizable)
		return 0444;
	return a->mode;
}

static const struct attribute_group hotdimm_dev_group = {
	.attrs = hotdimm_dev_attrs,
	.bin_attrs = hotdimm_dev_bin_attrs,
	.is_visible = hotdimm_attr_visible,
};

const struct attribute_group *hotdimm_dev_groups[] = {
	&hotdimm_dev_group,
	NULL,
};

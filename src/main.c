// SPDX-License-Identifier: GPL-2.0
/*
 * hotdimm: hot(un)pluggable memory for virtual machines.
 *
 * Module entry: parameters, and bringing up/tearing down the parts in
 * order: onlining (memory notifier), the platform driver (device core),
 * then the transports that create devices (emulated DIMMs, virtio-mem).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "hotdimm.h"

static char *dimms;
module_param(dimms, charp, 0444);
MODULE_PARM_DESC(dimms,
		 "Emulated DIMMs over RAM hidden with mem=: SIZE@START[,SIZE@START...], e.g. 1G@0x40000000 (load time only)");

unsigned int hotdimm_movable_ratio = HOTDIMM_DEFAULT_RATIO;

static int hotdimm_ratio_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_uint(val, kp);

	if (!ret)
		hotdimm_ratio_changed();
	return ret;
}

static const struct kernel_param_ops hotdimm_ratio_ops = {
	.set = hotdimm_ratio_set,
	.get = param_get_uint,
};

module_param_cb(movable_ratio, &hotdimm_ratio_ops, &hotdimm_movable_ratio,
		0644);
MODULE_PARM_DESC(movable_ratio,
		 "MOVABLE:KERNEL ratio in percent for auto-movable placement (default 301; 0: never movable). Applies to devices without their own movable_ratio");

bool hotdimm_numa_aware = true;
module_param_named(numa_aware, hotdimm_numa_aware, bool, 0644);
MODULE_PARM_DESC(numa_aware,
		 "Apply movable_ratio per NUMA node as well as system-wide (default Y)");

int hotdimm_online_policy = HOTDIMM_POLICY_AUTO_MOVABLE;

static int hotdimm_policy_set(const char *val, const struct kernel_param *kp)
{
	int p = hotdimm_policy_parse(val, strlen(val));

	if (p < 0) {
		pr_err("online_policy: '%s' is not one of auto-movable, movable, kernel, system\n",
		       val);
		return -EINVAL;
	}
	WRITE_ONCE(hotdimm_online_policy, p);
	return 0;
}

static int hotdimm_policy_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  hotdimm_policy_name(READ_ONCE(hotdimm_online_policy)));
}

static const struct kernel_param_ops hotdimm_policy_ops = {
	.set = hotdimm_policy_set,
	.get = hotdimm_policy_get,
};

module_param_cb(online_policy, &hotdimm_policy_ops, NULL, 0644);
MODULE_PARM_DESC(online_policy,
		 "Zone placement of new blocks: auto-movable (default), movable, kernel, system (leave onlining to the system, only account)");

bool hotdimm_memmap_on_memory;
module_param_named(memmap_on_memory, hotdimm_memmap_on_memory, bool, 0644);
MODULE_PARM_DESC(memmap_on_memory,
		 "Place the memmap of new blocks on the blocks themselves, when the kernel supports it (default N)");

static int __init hotdimm_init(void)
{
	int ret;

	ret = hotdimm_online_init();
	if (ret)
		return ret;
	ret = hotdimm_hotplug_init();
	if (ret)
		goto err_online;
	ret = hotdimm_core_init();
	if (ret)
		goto err_hotplug;
	ret = hotdimm_emulated_init(dimms);
	if (ret)
		goto err_core;
	ret = hotdimm_virtio_init();
	if (ret)
		goto err_emulated;
	pr_info("version %s loaded (online_policy=%s movable_ratio=%u numa_aware=%d)\n",
		HOTDIMM_VERSION, hotdimm_policy_name(hotdimm_online_policy),
		hotdimm_movable_ratio, hotdimm_numa_aware);
	return 0;

err_emulated:
	hotdimm_emulated_exit();
err_core:
	hotdimm_core_exit();
err_hotplug:
	hotdimm_hotplug_exit();
err_online:
	hotdimm_online_exit();
	return ret;
}

static void __exit hotdimm_exit(void)
{
	hotdimm_virtio_exit();
	hotdimm_emulated_exit();
	hotdimm_core_exit();
	hotdimm_hotplug_exit();
	hotdimm_online_exit();
	pr_info("unloaded\n");
}

module_init(hotdimm_init);
module_exit(hotdimm_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(HOTDIMM_VERSION);
MODULE_AUTHOR("The hotdimm developers");
MODULE_DESCRIPTION("Hot(un)pluggable memory for virtual machines: virtio-mem and emulated DIMMs with per-device zone placement");

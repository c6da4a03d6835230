// SPDX-License-Identifier: GPL-2.0
/*
 * hotdimmctl: main(), help texts and command dispatch.
 */
#include <string.h>

#include "hotdimmctl.h"

static const char help_main[] =
	"Usage: hotdimmctl COMMAND [ARGS...]\n"
	"       hotdimmctl --help | --version\n"
	"\n"
	"Load, inspect, tune and resize hotdimm, the hot(un)pluggable memory\n"
	"driver.\n"
	"\n"
	"Commands:\n"
	"  load [--module PATH] [PARAM=VALUE...]\n"
	"                       load the module with parameters\n"
	"  unload [--force-unplug] [--timeout SECONDS]\n"
	"                       unplug what can be unplugged, then unload\n"
	"  status [DEVICE] [--json] [--bytes]\n"
	"                       show devices (and one device's block map)\n"
	"  resize DEVICE SIZE [--wait[=SECONDS]]\n"
	"                       set an emulated device's requested size\n"
	"  set [DEVICE] ratio=N | policy=P | numa_aware=Y|N\n"
	"                       change a per-device or module-wide setting\n"
	"  help [COMMAND]       show help for a command\n"
	"\n"
	"'hotdimmctl COMMAND --help' explains each command.\n"
	"\n"
	"Environment:\n"
	"  HOTDIMM_SYSFS_ROOT   prefix for /sys and /proc paths (testing)\n"
	"  HOTDIMMCTL_DEBUG     set to show libkmod's log\n"
	"\n"
	"Exit status: 0 ok, 1 the operation failed, 2 usage error.\n";

static const char help_load[] =
	"Usage: hotdimmctl load [--module PATH] [PARAM=VALUE...]\n"
	"\n"
	"Load the hotdimm module through libkmod. Without --module, the module\n"
	"is found like modprobe finds it (modules.dep of the running kernel,\n"
	"dependencies loaded first, /etc/modprobe.d options applied). With\n"
	"--module PATH (-m PATH), that .ko file is loaded after the modules it\n"
	"depends on.\n"
	"\n"
	"Parameters (see /sys/module/hotdimm/parameters once loaded):\n"
	"  dimms=SIZE@START[,...]   emulated DIMMs over RAM hidden with mem=\n"
	"  movable_ratio=N          MOVABLE:KERNEL ratio in percent (301)\n"
	"  numa_aware=Y|N           apply the ratio per NUMA node too (Y)\n"
	"  online_policy=P          auto-movable, movable, kernel or system\n"
	"  memmap_on_memory=Y|N     memmap inside hot-added memory (N)\n"
	"\n"
	"A parameter the module does not know is refused before loading; a\n"
	"value the kernel rejects is reported by name with the kernel's log\n"
	"lines. Either way the module is not left loaded.\n"
	"\n"
	"Example: hotdimmctl load --module ./hotdimm.ko dimms=1G@0x40000000\n"
	"\n"
	"Exit status: 0 loaded, 1 not loaded, 2 usage error.\n";

static const char help_unload[] =
	"Usage: hotdimmctl unload [--force-unplug] [--timeout SECONDS]\n"
	"\n"
	"Set every emulated device's requested size to 0 and wait (at most\n"
	"--timeout seconds, default 60) until their memory is unplugged, then\n"
	"remove the module. Devices that still hold memory (blocks that could\n"
	"not be offlined, or virtio-mem memory the host has not taken back) are\n"
	"reported and the module stays loaded, unless --force-unplug is given:\n"
	"then the module is removed anyway and takes back what it can. Memory\n"
	"ranges still in /proc/iomem afterwards are reported.\n"
	"\n"
	"Exit status: 0 unloaded with nothing left behind, 1 failed or memory\n"
	"stayed, 2 usage error.\n";

static const char help_status[] =
	"Usage: hotdimmctl status [DEVICE] [--json] [--bytes]\n"
	"\n"
	"One row per device: name, transport, NUMA node, physical region, its\n"
	"size, memory block size, requested and plugged size, how much of it is\n"
	"in a kernel zone, ZONE_MOVABLE or offline, the movable ratio and the\n"
	"device's status. With DEVICE (hotdimm.N or N), also its block map (one\n"
	"cell per memory block: K kernel, M movable, o plugged but offline,\n"
	"- unplugged) and the module parameters in force.\n"
	"\n"
	"  --json      machine-readable output; sizes in bytes, keys named like\n"
	"              the sysfs attributes\n"
	"  --bytes, -b sizes in bytes instead of K/M/G/T\n"
	"\n"
	"Exit status: 0 ok, 1 module not loaded or no such device, 2 usage\n"
	"error.\n";

static const char help_resize[] =
	"Usage: hotdimmctl resize DEVICE SIZE [--wait[=SECONDS]] [--bytes]\n"
	"\n"
	"Set the requested size of an emulated device. SIZE is bytes, 0x hex,\n"
	"or a number with a K, M, G or T suffix (binary multiples); the device\n"
	"rounds it down to its device block (2 MiB). With --wait, wait until the\n"
	"plugged size equals the requested size and the memory is online, or\n"
	"until SECONDS (default 120) pass; progress is shown on a terminal.\n"
	"\n"
	"virtio-mem devices are resized by the host (hotdimm-qmp), not here.\n"
	"\n"
	"Exit status: 0 ok, 1 failed, timed out or device broken, 2 usage error.\n";

static const char help_set[] =
	"Usage: hotdimmctl set [DEVICE] ratio=N | policy=P | numa_aware=Y|N\n"
	"\n"
	"Without DEVICE, change module-wide settings (any combination):\n"
	"  ratio=N         movable_ratio, MOVABLE:KERNEL in percent (0: no\n"
	"                  movable memory)\n"
	"  policy=P        online_policy: auto-movable, movable, kernel, system\n"
	"  numa_aware=Y|N  apply the ratio per NUMA node too\n"
	"With DEVICE (hotdimm.N or N), change that device's ratio only.\n"
	"Changes apply to the next block that is plugged.\n"
	"\n"
	"Exit status: 0 ok, 1 failed (the kernel refused), 2 usage error.\n";

static void usage(FILE *f, enum hdctl_cmd cmd)
{
	switch (cmd) {
	case HDCTL_CMD_LOAD:
		fputs(help_load, f);
		break;
	case HDCTL_CMD_UNLOAD:
		fputs(help_unload, f);
		break;
	case HDCTL_CMD_STATUS:
		fputs(help_status, f);
		break;
	case HDCTL_CMD_RESIZE:
		fputs(help_resize, f);
		break;
	case HDCTL_CMD_SET:
		fputs(help_set, f);
		break;
	default:
		fputs(help_main, f);
		break;
	}
}

int main(int argc, char **argv)
{
	struct hdctl_args a;
	char err[512];

	if (hdctl_parse_args(argc, argv, &a, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", HDCTL_PROG, err);
		if (a.cmd != HDCTL_CMD_NONE && a.cmd != HDCTL_CMD_HELP)
			fprintf(stderr, "Try '%s %s --help'.\n", HDCTL_PROG,
				hdctl_cmd_name(a.cmd));
		else
			fprintf(stderr, "Try '%s --help'.\n", HDCTL_PROG);
		return HDCTL_EXIT_USAGE;
	}
	if (a.help) {
		usage(stdout, a.cmd);
		return HDCTL_EXIT_OK;
	}
	switch (a.cmd) {
	case HDCTL_CMD_HELP:
		usage(stdout, a.help_for);
		return HDCTL_EXIT_OK;
	case HDCTL_CMD_VERSION:
		printf("%s %s\n", HDCTL_PROG, HOTDIMM_VERSION);
		return HDCTL_EXIT_OK;
	case HDCTL_CMD_LOAD:
		return hdctl_cmd_load(&a);
	case HDCTL_CMD_UNLOAD:
		return hdctl_cmd_unload(&a);
	case HDCTL_CMD_STATUS:
		return hdctl_cmd_status(&a);
	case HDCTL_CMD_RESIZE:
		return hdctl_cmd_resize(&a);
	case HDCTL_CMD_SET:
		return hdctl_cmd_set(&a);
	default:
		usage(stderr, HDCTL_CMD_NONE);
		return HDCTL_EXIT_USAGE;
	}
}

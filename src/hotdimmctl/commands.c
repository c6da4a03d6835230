// SPDX-License-Identifier: GPL-2.0
/*
 * status, resize and set: everything that only needs sysfs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hotdimmctl.h"

#define BAR_CELLS	64	/* memory blocks per line of the block map */

void hdctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", HDCTL_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

double hdctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void hdctl_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int hdctl_not_loaded(void)
{
	hdctl_err("the %s module is not loaded (hotdimmctl load ...)",
		  HDCTL_MODULE);
	return HDCTL_EXIT_FAIL;
}

int hdctl_find_device(const char *given, struct hdctl_dev *d)
{
	char name[64];

	if (hdctl_dev_normalize(given, name, sizeof(name))) {
		hdctl_err("invalid device name '%s' (expected %s.N)", given,
			  HOTDIMM_DRIVER_NAME);
		return -EINVAL;
	}
	if (hdctl_dev_read(name, d)) {
		struct hdctl_dev *devs;
		size_t n, i;

		hdctl_err("no such device: %s", name);
		if (!hdctl_dev_list(&devs, &n)) {
			fprintf(stderr, "  devices:%s", n ? "" : " none");
			for (i = 0; i < n; i++)
				fprintf(stderr, " %s", devs[i].name);
			fputc('\n', stderr);
			hdctl_dev_list_free(devs, n);
		}
		return -ENOENT;
	}
	return 0;
}

/* ---- status ------------------------------------------------------------ */

#define NCOLS 13
static const char *const status_header[NCOLS] = {
	"DEVICE", "TRANSPORT", "NODE", "REGION", "SIZE", "BLOCK",
	"REQUESTED", "PLUGGED", "KERNEL", "MOVABLE", "OFFLINE", "RATIO",
	"STATUS",
};

static const char *cell_size(const struct hdctl_dev *d, unsigned int bit,
			     u64 v, bool bytes, char *buf, size_t len)
{
	if (!(d->valid & bit))
		return "?";
	return hdctl_fmt_size(v, bytes, buf, len);
}

static int table_row(struct hdctl_table *t, const struct hdctl_dev *d,
		     bool bytes)
{
	char node[24], region[48], sz[8][32], ratio[16];
	const char *row[NCOLS];

	if (d->valid & HDF_NODE)
		snprintf(node, sizeof(node), "%lld", d->node);
	else
		snprintf(node, sizeof(node), "?");
	if ((d->valid & (HDF_REGION_START | HDF_REGION_SIZE)) ==
	    (HDF_REGION_START | HDF_REGION_SIZE) && d->region_size)
		snprintf(region, sizeof(region), "0x%llx-0x%llx",
			 (unsigned long long)d->region_start,
			 (unsigned long long)(d->region_start +
					      d->region_size - 1));
	else if (d->valid & HDF_REGION_START)
		snprintf(region, sizeof(region), "0x%llx",
			 (unsigned long long)d->region_start);
	else
		snprintf(region, sizeof(region), "?");
	if (d->valid & HDF_RATIO)
		snprintf(ratio, sizeof(ratio), "%u", d->ratio);
	else
		snprintf(ratio, sizeof(ratio), "?");

	row[0] = d->name;
	row[1] = d->transport[0] ? d->transport : "?";
	row[2] = node;
	row[3] = region;
	row[4] = cell_size(d, HDF_REGION_SIZE, d->region_size, bytes, sz[0], 32);
	row[5] = cell_size(d, HDF_BLOCK_SIZE, d->block_size, bytes, sz[1], 32);
	row[6] = cell_size(d, HDF_REQUESTED, d->requested, bytes, sz[2], 32);
	row[7] = cell_size(d, HDF_PLUGGED, d->plugged, bytes, sz[3], 32);
	row[8] = cell_size(d, HDF_KERNEL, d->kernel, bytes, sz[4], 32);
	row[9] = cell_size(d, HDF_MOVABLE, d->movable, bytes, sz[5], 32);
	row[10] = cell_size(d, HDF_OFFLINE, d->offline, bytes, sz[6], 32);
	row[11] = ratio;
	row[12] = d->status[0] ? d->status : "?";
	return hdctl_table_add(t, row);
}

/*
 * Partly plugged blocks: what each still holds, and what it gave back
 * (partial_blocks: "INDEX PLUGGED_BYTES" lines).
 */
static void print_partial(const struct hdctl_dev *d, bool bytes)
{
	const char *p = d->partial;
	char a[32], b[32];

	if (!p || !*p || !(d->valid & HDF_BLOCK_SIZE))
		return;
	printf("partly plugged blocks (device block %s):\n",
	       hdctl_fmt_size(d->device_block_size, bytes, a, sizeof(a)));
	while (*p) {
		unsigned long long idx, plugged;
		int used = 0;

		if (sscanf(p, "%llu %llu%n", &idx, &plugged, &used) != 2) {
			printf("  %s", p);
			break;
		}
		printf("  block %llu: %s plugged, %s unplugged\n", idx,
		       hdctl_fmt_size(plugged, bytes, a, sizeof(a)),
		       hdctl_fmt_size(d->block_size - plugged, bytes, b,
				      sizeof(b)));
		p += used;
		while (*p == '\n')
			p++;
	}
}

/* Up to this many blocks the map is drawn, one character per block. */
#define BAR_MAX_BLOCKS	512

/* Large devices: one line per run, "FIRST-LAST  C  ADDRESS  SIZE". */
static void print_block_runs(const struct hdctl_dev *d, bool bytes)
{
	size_t n = strlen(d->blocks), i = 0, j, runs = 0;
	char sz[32];

	for (i = 0; i < n; i = j + 1, runs++)
		for (j = i; j + 1 < n && d->blocks[j + 1] == d->blocks[i]; j++)
			;
	printf("  %zu runs (block_map: %s)\n", runs, d->runs ? d->runs : "?");
	for (i = 0; i < n; i = j + 1) {
		char span[48];

		for (j = i; j + 1 < n && d->blocks[j + 1] == d->blocks[i]; j++)
			;

		if (i == j)
			snprintf(span, sizeof(span), "%zu", i);
		else
			snprintf(span, sizeof(span), "%zu-%zu", i, j);
		printf("  %13s  %c", span, d->blocks[i]);
		if ((d->valid & (HDF_REGION_START | HDF_BLOCK_SIZE)) ==
		    (HDF_REGION_START | HDF_BLOCK_SIZE)) {
			hdctl_fmt_size((u64)(j - i + 1) * d->block_size, bytes,
				       sz, sizeof(sz));
			printf("  0x%012llx  %s",
			       (unsigned long long)(d->region_start +
						    (u64)i * d->block_size), sz);
		}
		printf("\n");
	}
}

static void print_block_map(const struct hdctl_dev *d, bool bytes)
{
	size_t n = d->blocks ? strlen(d->blocks) : 0, i;
	char bs[32];

	if (!d->blocks) {
		printf("\nblocks: unknown\n");
		return;
	}
	printf("\nblocks: %zu x %s   K kernel  M movable  o offline  - unplugged\n",
	       n, cell_size(d, HDF_BLOCK_SIZE, d->block_size, bytes, bs,
			    sizeof(bs)));
	printf("        (k, m, p: partly plugged kernel, movable, offline)\n");
	if (n > BAR_MAX_BLOCKS) {
		print_block_runs(d, bytes);
		print_partial(d, bytes);
		return;
	}
	for (i = 0; i < n; i += BAR_CELLS) {
		size_t len = n - i < BAR_CELLS ? n - i : BAR_CELLS;

		if ((d->valid & (HDF_REGION_START | HDF_BLOCK_SIZE)) ==
		    (HDF_REGION_START | HDF_BLOCK_SIZE))
			printf("  0x%012llx ", (unsigned long long)
			       (d->region_start + (u64)i * d->block_size));
		else
			printf("  %6zu ", i);
		printf("[%.*s]\n", (int)len, d->blocks + i);
	}
	print_partial(d, bytes);
}

static void print_params(const struct hdctl_param *p, size_t n)
{
	size_t i, w = 0;

	printf("\nmodule parameters:\n");
	for (i = 0; i < n; i++)
		if (strlen(p[i].name) > w)
			w = strlen(p[i].name);
	for (i = 0; i < n; i++) {
		if (p[i].value)
			printf("  %-*s  %s\n", (int)w, p[i].name, p[i].value);
		else
			printf("  %-*s  (unreadable: %s)\n", (int)w, p[i].name,
			       strerror(-p[i].err));
	}
	if (!n)
		printf("  (none)\n");
}

static bool param_is_bool(const char *name)
{
	return !strcmp(name, "numa_aware") ||
	       !strcmp(name, "memmap_on_memory");
}

static void json_params(struct hdctl_json *j, const struct hdctl_param *p,
			size_t n)
{
	size_t i;

	hdctl_json_obj_begin(j, "parameters");
	for (i = 0; i < n; i++) {
		const char *v = p[i].value;
		u32 num;

		if (!v)
			hdctl_json_null(j, p[i].name);
		else if (param_is_bool(p[i].name) && hdctl_parse_bool(v) >= 0)
			hdctl_json_bool(j, p[i].name, hdctl_parse_bool(v));
		else if (!strcmp(p[i].name, "movable_ratio") &&
			 !hdctl_parse_u32(v, &num))
			hdctl_json_u64(j, p[i].name, num);
		else
			hdctl_json_str(j, p[i].name, v);
	}
	hdctl_json_obj_end(j);
}

static void json_field(struct hdctl_json *j, const struct hdctl_dev *d,
		       const char *key, unsigned int bit, u64 v)
{
	if (d->valid & bit)
		hdctl_json_u64(j, key, v);
	else
		hdctl_json_null(j, key);
}

static void json_device(struct hdctl_json *j, const struct hdctl_dev *d)
{
	hdctl_json_obj_begin(j, NULL);
	hdctl_json_str(j, "name", d->name);
	if (d->transport[0])
		hdctl_json_str(j, "transport", d->transport);
	else
		hdctl_json_null(j, "transport");
	if (d->valid & HDF_NODE)
		hdctl_json_i64(j, "node", d->node);
	else
		hdctl_json_null(j, "node");
	json_field(j, d, "region_start", HDF_REGION_START, d->region_start);
	json_field(j, d, "region_size", HDF_REGION_SIZE, d->region_size);
	json_field(j, d, "block_size", HDF_BLOCK_SIZE, d->block_size);
	json_field(j, d, "requested_size", HDF_REQUESTED, d->requested);
	json_field(j, d, "plugged_size", HDF_PLUGGED, d->plugged);
	json_field(j, d, "kernel_size", HDF_KERNEL, d->kernel);
	json_field(j, d, "movable_size", HDF_MOVABLE, d->movable);
	json_field(j, d, "offline_size", HDF_OFFLINE, d->offline);
	json_field(j, d, "movable_ratio", HDF_RATIO, d->ratio);
	if (d->device_block_size)
		hdctl_json_u64(j, "device_block_size", d->device_block_size);
	else
		hdctl_json_null(j, "device_block_size");
	if (d->blocks)
		hdctl_json_str(j, "blocks", d->blocks);
	else
		hdctl_json_null(j, "blocks");
	if (d->runs)
		hdctl_json_str(j, "block_map", d->runs);
	else
		hdctl_json_null(j, "block_map");
	if (d->status[0])
		hdctl_json_str(j, "status", d->status);
	else
		hdctl_json_null(j, "status");
	hdctl_json_obj_end(j);
}

int hdctl_cmd_status(const struct hdctl_args *a)
{
	struct hdctl_param *params = NULL;
	struct hdctl_dev *devs = NULL, one;
	size_t ndevs = 0, nparams = 0, i;
	bool loaded = hdctl_module_loaded();
	bool have_one = false;
	int ret = HDCTL_EXIT_OK, err;

	if (!loaded) {
		if (a->json) {
			struct hdctl_json j;

			hdctl_json_init(&j, stdout);
			hdctl_json_obj_begin(&j, NULL);
			hdctl_json_str(&j, "version", HOTDIMM_VERSION);
			hdctl_json_bool(&j, "module_loaded", false);
			hdctl_json_obj_begin(&j, "parameters");
			hdctl_json_obj_end(&j);
			hdctl_json_arr_begin(&j, "devices");
			hdctl_json_arr_end(&j);
			hdctl_json_obj_end(&j);
			hdctl_json_finish(&j);
		}
		return hdctl_not_loaded();
	}

	if (a->device) {
		if (hdctl_find_device(a->device, &one))
			return HDCTL_EXIT_FAIL;
		have_one = true;
		devs = &one;
		ndevs = 1;
	} else {
		err = hdctl_dev_list(&devs, &ndevs);
		if (err) {
			hdctl_err("reading %s: %s", HOTDIMM_SYSFS_DEVICES,
				  strerror(-err));
			return HDCTL_EXIT_FAIL;
		}
	}
	err = hdctl_params_read(&params, &nparams);
	if (err) {
		hdctl_err("reading %s: %s", HOTDIMM_SYSFS_PARAMS,
			  strerror(-err));
		ret = HDCTL_EXIT_FAIL;
	}

	if (a->json) {
		struct hdctl_json j;

		hdctl_json_init(&j, stdout);
		hdctl_json_obj_begin(&j, NULL);
		hdctl_json_str(&j, "version", HOTDIMM_VERSION);
		hdctl_json_bool(&j, "module_loaded", true);
		json_params(&j, params, nparams);
		hdctl_json_arr_begin(&j, "devices");
		for (i = 0; i < ndevs; i++)
			json_device(&j, &devs[i]);
		hdctl_json_arr_end(&j);
		hdctl_json_obj_end(&j);
		hdctl_json_finish(&j);
	} else {
		struct hdctl_table t;

		if (hdctl_table_init(&t, NCOLS, status_header)) {
			ret = HDCTL_EXIT_FAIL;
			goto out;
		}
		for (i = 0; i < ndevs; i++)
			if (table_row(&t, &devs[i], a->bytes))
				ret = HDCTL_EXIT_FAIL;
		hdctl_table_print(&t, stdout);
		hdctl_table_free(&t);
		if (!ndevs)
			printf("(no %s devices)\n", HOTDIMM_DRIVER_NAME);
		if (have_one) {
			print_block_map(&one, a->bytes);
			print_params(params, nparams);
		}
	}
out:
	hdctl_params_free(params, nparams);
	if (have_one)
		hdctl_dev_release(&one);
	else
		hdctl_dev_list_free(devs, ndevs);
	if (fflush(stdout) || ferror(stdout))
		ret = HDCTL_EXIT_FAIL;
	return ret;
}

/* ---- resize ------------------------------------------------------------- */

static bool policy_is_system(void)
{
	char path[4096], buf[64];

	if (hdctl_path(path, sizeof(path), "%s/online_policy",
		       HOTDIMM_SYSFS_PARAMS))
		return false;
	return hdctl_read_file(path, buf, sizeof(buf)) > 0 &&
	       !strcmp(buf, "system");
}

static void progress(const struct hdctl_dev *d, double elapsed, bool bytes)
{
	char p[32], r[32], k[32], m[32];
	int width = 30, fill = 0, i;

	if (d->region_size)
		fill = (int)((double)d->plugged * width / (double)d->region_size);
	if (fill > width)
		fill = width;
	printf("\r\033[K%s: plugged %s of %s [", d->name,
	       hdctl_fmt_size(d->plugged, bytes, p, sizeof(p)),
	       hdctl_fmt_size(d->requested, bytes, r, sizeof(r)));
	for (i = 0; i < width; i++)
		putchar(i < fill ? '#' : '.');
	printf("] kernel %s movable %s  %.0fs",
	       hdctl_fmt_size(d->kernel, bytes, k, sizeof(k)),
	       hdctl_fmt_size(d->movable, bytes, m, sizeof(m)), elapsed);
	fflush(stdout);
}

/* A device has reached its target size (and onlined it, unless "system"). */
static bool dev_settled(const struct hdctl_dev *d, bool system_policy)
{
	return d->plugged == d->requested && (!d->offline || system_policy);
}

static const char *virtio_hint =
	"the host resizes virtio-mem devices: on the host run\n"
	"  hotdimm-qmp QMP_SOCKET resize DEVICE_ID SIZE --wait\n"
	"(QMP: qom-set DEVICE_ID requested-size SIZE)";

int hdctl_cmd_resize(const struct hdctl_args *a)
{
	char path[4096], val[32], sz[4][32], name[64];
	bool tty, system_policy;
	struct hdctl_dev d;
	double t0;
	u64 old, unit;
	int err;

	if (!hdctl_module_loaded())
		return hdctl_not_loaded();
	if (hdctl_find_device(a->device, &d))
		return HDCTL_EXIT_FAIL;
	if (!strcmp(d.transport, "virtio-mem")) {
		hdctl_err("%s is a virtio-mem device; %s", d.name, virtio_hint);
		goto fail;
	}
	if (strcmp(d.transport, "emulated")) {
		hdctl_err("%s: transport '%s' cannot be resized from the guest",
			  d.name, d.transport);
		goto fail;
	}
	if ((d.valid & HDF_REGION_SIZE) && a->size > d.region_size) {
		hdctl_err("%s: %s is larger than the device (%s)", d.name,
			  a->size_str, hdctl_fmt_size(d.region_size, a->bytes,
						      sz[0], sizeof(sz[0])));
		goto fail;
	}
	/* The unit the device plugs in: its device block (older modules: blocks). */
	unit = d.device_block_size ? d.device_block_size :
	       (d.valid & HDF_BLOCK_SIZE) ? d.block_size : 0;
	if (unit && a->size % unit)
		fprintf(stderr,
			"%s: note: %s is not a multiple of the device block size %s; the device rounds it down\n",
			HDCTL_PROG, a->size_str,
			hdctl_fmt_size(unit, false, sz[0], sizeof(sz[0])));

	old = d.requested;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)a->size);
	hdctl_dev_attr_path(path, sizeof(path), d.name, "requested_size");
	err = hdctl_write_file(path, val);
	if (err) {
		hdctl_err("%s: setting requested_size to %s failed: %s",
			  d.name, a->size_str, strerror(-err));
		goto fail;
	}
	snprintf(name, sizeof(name), "%s", d.name);
	hdctl_dev_release(&d);
	if (hdctl_dev_read(name, &d)) {
		hdctl_err("%s disappeared", name);
		return HDCTL_EXIT_FAIL;
	}
	printf("%s: requested %s (was %s), plugged %s\n", d.name,
	       hdctl_fmt_size(d.requested, a->bytes, sz[0], sizeof(sz[0])),
	       hdctl_fmt_size(old, a->bytes, sz[1], sizeof(sz[1])),
	       hdctl_fmt_size(d.plugged, a->bytes, sz[2], sizeof(sz[2])));
	if (!a->wait) {
		hdctl_dev_release(&d);
		return HDCTL_EXIT_OK;
	}

	tty = isatty(STDOUT_FILENO);
	system_policy = policy_is_system();
	t0 = hdctl_now();
	for (;;) {
		double el = hdctl_now() - t0;

		if (dev_settled(&d, system_policy))
			break;
		if (!strncmp(d.status, "broken", 6)) {
			if (tty)
				printf("\r\033[K");
			hdctl_err("%s: %s", d.name, d.status);
			goto fail;
		}
		if (el >= a->wait_secs) {
			if (tty)
				printf("\r\033[K");
			hdctl_err("%s: timed out after %us: plugged %s of requested %s (offline %s), status: %s, blocks: %s",
				  d.name, a->wait_secs,
				  hdctl_fmt_size(d.plugged, a->bytes, sz[0], 32),
				  hdctl_fmt_size(d.requested, a->bytes, sz[1], 32),
				  hdctl_fmt_size(d.offline, a->bytes, sz[2], 32),
				  d.status, hdctl_dev_map_text(&d));
			goto fail;
		}
		if (tty)
			progress(&d, el, a->bytes);
		hdctl_sleep_ms(100);
		hdctl_dev_release(&d);
		if (hdctl_dev_read(name, &d)) {
			if (tty)
				printf("\r\033[K");
			hdctl_err("%s disappeared", name);
			return HDCTL_EXIT_FAIL;
		}
	}
	if (tty)
		printf("\r\033[K");
	printf("%s: plugged %s (kernel %s, movable %s, offline %s) after %.1fs\n",
	       d.name, hdctl_fmt_size(d.plugged, a->bytes, sz[0], 32),
	       hdctl_fmt_size(d.kernel, a->bytes, sz[1], 32),
	       hdctl_fmt_size(d.movable, a->bytes, sz[2], 32),
	       hdctl_fmt_size(d.offline, a->bytes, sz[3], 32),
	       hdctl_now() - t0);
	hdctl_dev_release(&d);
	return HDCTL_EXIT_OK;
fail:
	hdctl_dev_release(&d);
	return HDCTL_EXIT_FAIL;
}

/* ---- set ---------------------------------------------------------------- */

static int set_one(const char *what, const char *path, const char *val)
{
	char old[128], now[128];
	int err;

	if (hdctl_read_file(path, old, sizeof(old)) < 0)
		snprintf(old, sizeof(old), "?");
	err = hdctl_write_file(path, val);
	if (err == -ENOENT) {
		hdctl_err("%s: no such setting (%s)", what, path);
		return HDCTL_EXIT_FAIL;
	}
	if (err == -EACCES || err == -EPERM) {
		hdctl_err("%s: not writable (%s)", what, strerror(-err));
		return HDCTL_EXIT_FAIL;
	}
	if (err) {
		hdctl_err("%s: the kernel rejected %s: %s", what, val,
			  strerror(-err));
		return HDCTL_EXIT_FAIL;
	}
	if (hdctl_read_file(path, now, sizeof(now)) < 0)
		snprintf(now, sizeof(now), "?");
	printf("%s: %s -> %s\n", what, old, now);
	return HDCTL_EXIT_OK;
}

int hdctl_cmd_set(const struct hdctl_args *a)
{
	char path[4096], what[128], val[32];
	int ret = HDCTL_EXIT_OK;

	if (!hdctl_module_loaded())
		return hdctl_not_loaded();
	if (a->device) {
		struct hdctl_dev d;

		if (hdctl_find_device(a->device, &d))
			return HDCTL_EXIT_FAIL;
		snprintf(what, sizeof(what), "%s movable_ratio", d.name);
		snprintf(val, sizeof(val), "%u", a->ratio);
		hdctl_dev_attr_path(path, sizeof(path), d.name,
				    "movable_ratio");
		ret = set_one(what, path, val);
		hdctl_dev_release(&d);
		return ret;
	}
	if (a->set_ratio) {
		snprintf(val, sizeof(val), "%u", a->ratio);
		hdctl_path(path, sizeof(path), "%s/movable_ratio",
			   HOTDIMM_SYSFS_PARAMS);
		if (set_one("movable_ratio", path, val))
			ret = HDCTL_EXIT_FAIL;
	}
	if (a->policy) {
		hdctl_path(path, sizeof(path), "%s/online_policy",
			   HOTDIMM_SYSFS_PARAMS);
		if (set_one("online_policy", path, a->policy))
			ret = HDCTL_EXIT_FAIL;
	}
	if (a->set_numa) {
		hdctl_path(path, sizeof(path), "%s/numa_aware",
			   HOTDIMM_SYSFS_PARAMS);
		if (set_one("numa_aware", path, a->numa_aware ? "Y" : "N"))
			ret = HDCTL_EXIT_FAIL;
	}
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hotdimmctl: load, inspect, tune and resize hotdimm from userspace.
 *
 * Files:
 *   hotdimmctl.c  main(), help texts, command dispatch
 *   args.c        command line parsing (pure, unit-tested)
 *   output.c      size formatting, JSON writer, table layout (pure)
 *   sysfs.c       reading/writing the module's sysfs and /proc files
 *   kmsg.c        reading the kernel log to report the kernel's answer
 *   commands.c    status, resize, set
 *   module.c      load, unload (libkmod)
 */
#ifndef HOTDIMMCTL_H
#define HOTDIMMCTL_H

#include <stdarg.h>
#include <stdio.h>

#include "hotdimm_common.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif
/* The kernel's <linux/compiler_attributes.h> spelling, for userspace. */
#define HDCTL_ATTRIBUTE		__attribute__
#ifndef __printf
#define __printf(a, b)		HDCTL_ATTRIBUTE((format(printf, a, b)))
#endif

#ifndef HOTDIMM_VERSION
#define HOTDIMM_VERSION "unknown"
#endif

#define HDCTL_PROG		"hotdimmctl"
#define HDCTL_MODULE		HOTDIMM_DRIVER_NAME

/* Exit codes (documented in --help and README). */
#define HDCTL_EXIT_OK		0
#define HDCTL_EXIT_FAIL		1
#define HDCTL_EXIT_USAGE	2

/* Default timeouts in seconds. */
#define HDCTL_DEFAULT_WAIT	120
#define HDCTL_DEFAULT_UNLOAD	60
#define HDCTL_MAX_SECONDS	86400
#define HDCTL_MAX_PARAMS	32

/* ---- args.c ---------------------------------------------------------- */

enum hdctl_cmd {
	HDCTL_CMD_NONE = 0,
	HDCTL_CMD_LOAD,
	HDCTL_CMD_UNLOAD,
	HDCTL_CMD_STATUS,
	HDCTL_CMD_RESIZE,
	HDCTL_CMD_SET,
	HDCTL_CMD_HELP,		/* "hotdimmctl --help" or "help [CMD]" */
	HDCTL_CMD_VERSION,
};

struct hdctl_args {
	enum hdctl_cmd cmd;
	enum hdctl_cmd help_for;	/* HDCTL_CMD_HELP: which command */
	bool help;			/* --help given for cmd */

	/* load */
	const char *module_path;	/* --module PATH, or NULL: look up */
	const char *params[HDCTL_MAX_PARAMS];	/* PARAM[=VALUE] (argv) */
	int nparams;

	/* unload */
	bool force_unplug;
	unsigned int timeout;		/* seconds; unload --timeout */

	/* status, resize, set */
	const char *device;		/* as given, or NULL */
	bool json;
	bool bytes;

	/* resize */
	const char *size_str;
	u64 size;
	bool wait;
	unsigned int wait_secs;

	/* set */
	bool set_ratio;
	u32 ratio;
	const char *policy;		/* validated name, or NULL */
	bool set_numa;
	bool numa_aware;
};

/*
 * Parse argv. Returns 0 with @a filled in, or -1 with a one-line message in
 * @err (usage error, exit code 2). Pointers in @a point into @argv.
 */
int hdctl_parse_args(int argc, char *const argv[], struct hdctl_args *a,
		     char *err, size_t errlen);
const char *hdctl_cmd_name(enum hdctl_cmd cmd);

/* Parse "Y"/"N"-style booleans; returns 0/1, or -1 for garbage. */
int hdctl_parse_bool(const char *s);
/* Parse a decimal u32 (no sign, no suffix); returns 0 or -1. */
int hdctl_parse_u32(const char *s, u32 *out);

/* ---- output.c -------------------------------------------------------- */

/*
 * Human-readable binary size ("0", "512B", "128M", "1.5G"), or the plain
 * decimal number when @bytes. Returns @buf.
 */
char *hdctl_fmt_size(u64 v, bool bytes, char *buf, size_t len);

/* Minimal streaming JSON writer producing indented output. */
#define HDCTL_JSON_MAX_DEPTH	8
struct hdctl_json {
	FILE *f;
	int depth;
	bool first[HDCTL_JSON_MAX_DEPTH];
	bool in_obj[HDCTL_JSON_MAX_DEPTH];
};

void hdctl_json_init(struct hdctl_json *j, FILE *f);
/* @key is NULL for array elements and the top-level value. */
void hdctl_json_obj_begin(struct hdctl_json *j, const char *key);
void hdctl_json_obj_end(struct hdctl_json *j);
void hdctl_json_arr_begin(struct hdctl_json *j, const char *key);
void hdctl_json_arr_end(struct hdctl_json *j);
void hdctl_json_str(struct hdctl_json *j, const char *key, const char *v);
void hdctl_json_u64(struct hdctl_json *j, const char *key, u64 v);
void hdctl_json_i64(struct hdctl_json *j, const char *key, long long v);
void hdctl_json_bool(struct hdctl_json *j, const char *key, bool v);
void hdctl_json_null(struct hdctl_json *j, const char *key);
void hdctl_json_finish(struct hdctl_json *j);
/* Write @s as a JSON string literal (with quotes). */
void hdctl_json_escape(FILE *f, const char *s);

/* A table of strings, printed with aligned columns. */
struct hdctl_table {
	size_t ncols;
	size_t nrows;		/* including the header row */
	char **cells;		/* nrows * ncols, malloc'ed */
};

int hdctl_table_init(struct hdctl_table *t, size_t ncols,
		     const char *const *header);
/* Append a row of @t->ncols cells (copied). Returns 0 or -ENOMEM. */
int hdctl_table_add(struct hdctl_table *t, const char *const *row);
void hdctl_table_print(const struct hdctl_table *t, FILE *f);
void hdctl_table_free(struct hdctl_table *t);

/* ---- sysfs.c --------------------------------------------------------- */

/* Prefix for /sys and /proc paths: $HOTDIMM_SYSFS_ROOT, default "". */
const char *hdctl_root(void);
/* Build root + printf(fmt). Returns 0, or -ENAMETOOLONG. */
__printf(3, 4)
int hdctl_path(char *buf, size_t len, const char *fmt, ...);
/*
 * Read a whole small file into @buf (NUL-terminated, trailing newlines
 * removed). Returns the length, or -errno.
 */
int hdctl_read_file(const char *path, char *buf, size_t len);
/* Read a file of any size; *out is malloc'ed. Returns 0 or -errno. */
int hdctl_read_file_alloc(const char *path, char **out);
/* write() @val to @path in one call. Returns 0 or -errno. */
int hdctl_write_file(const char *path, const char *val);

bool hdctl_module_loaded(void);

enum hdctl_dev_field {
	HDF_REGION_START = 1 << 0,
	HDF_REGION_SIZE = 1 << 1,
	HDF_BLOCK_SIZE = 1 << 2,
	HDF_NODE = 1 << 3,
	HDF_REQUESTED = 1 << 4,
	HDF_PLUGGED = 1 << 5,
	HDF_KERNEL = 1 << 6,
	HDF_MOVABLE = 1 << 7,
	HDF_OFFLINE = 1 << 8,
	HDF_RATIO = 1 << 9,
};

struct hdctl_dev {
	char name[64];			/* "hotdimm.N" */
	long id;			/* N */
	char transport[32];		/* "" if unreadable */
	unsigned int valid;		/* HDF_* of the fields below */
	u64 region_start, region_size, block_size;
	u64 requested, plugged, kernel, movable, offline;
	long long node;
	u32 ratio;
	char *blocks;			/* one char per block, malloc'ed, or NULL */
	char *runs;			/* the same as "0-23:M 24:K ...", or NULL */
	char *partial;			/* partial_blocks, malloc'ed, or NULL */
	u64 device_block_size;		/* 0 if unreadable */
	char status[256];		/* "" if unreadable */
};

/* Is @name "hotdimm.N"? Returns N, or -1. */
long hdctl_dev_id(const char *name);
/*
 * Turn a user's DEVICE ("hotdimm.3" or "3") into "hotdimm.3" in @out.
 * Returns 0 or -EINVAL.
 */
int hdctl_dev_normalize(const char *in, char *out, size_t len);
/*
 * Parse the block_map text ("blocks NR generation G\n" runs "\ngeneration
 * G\n") into one character per block (@map, malloc'ed, NUL-terminated) and
 * the runs line (@runs, malloc'ed). Returns 0, -EAGAIN when the two
 * generations differ (read while the map changed: read it again), -EINVAL
 * when malformed or not covering every block, -ENOMEM.
 */
int hdctl_block_map_parse(const char *text, char **map, char **runs);
/*
 * The runs of a one-character-per-block @map ("0-23:M 24:K 25-63:-") into
 * @buf; when they do not fit, as many whole runs as fit and "...".
 */
void hdctl_block_runs(const char *map, char *buf, size_t len);
/* For messages: the map as characters up to 128 blocks, else its runs. */
const char *hdctl_dev_map_text(const struct hdctl_dev *d);
/* Read all attributes of device @name. Returns 0, or -ENOENT. */
int hdctl_dev_read(const char *name, struct hdctl_dev *d);
void hdctl_dev_release(struct hdctl_dev *d);
/* All hotdimm.N devices, sorted by N. Returns 0 or -errno. */
int hdctl_dev_list(struct hdctl_dev **devs, size_t *n);
void hdctl_dev_list_free(struct hdctl_dev *devs, size_t n);
/* Path of attribute @attr of device @name. */
int hdctl_dev_attr_path(char *buf, size_t len, const char *name,
			const char *attr);

struct hdctl_param {
	char name[64];
	char *value;			/* malloc'ed, or NULL if unreadable */
	int err;			/* -errno when value is NULL */
};

/* The module's parameters, sorted by name. Returns 0 or -errno. */
int hdctl_params_read(struct hdctl_param **params, size_t *n);
void hdctl_params_free(struct hdctl_param *params, size_t n);
/* Parameter value (a pointer into @params) or NULL. */
const char *hdctl_param_get(const struct hdctl_param *params, size_t n,
			    const char *name);

/*
 * Ranges named HOTDIMM_RESOURCE_NAME in /proc/iomem. Returns the number
 * found (filling up to @max), or -errno.
 */
int hdctl_iomem_ranges(u64 *starts, u64 *ends, int max);
/* Parse one /proc/iomem line; returns 1 if it is a hotdimm range. */
int hdctl_iomem_parse_line(const char *line, u64 *start, u64 *end);

/* ---- kmsg.c ---------------------------------------------------------- */

/* Kernel log reader that sees only messages logged after _open(). */
struct hdctl_kmsg {
	int fd;				/* /dev/kmsg, or -1 */
	char *snapshot;			/* klogctl fallback */
	size_t snap_len;
};

void hdctl_kmsg_open(struct hdctl_kmsg *k);
/*
 * New kernel messages since _open() (or the last _collect()) that contain
 * @filter, as a malloc'ed array of malloc'ed strings. Returns the count.
 */
size_t hdctl_kmsg_collect(struct hdctl_kmsg *k, const char *filter,
			  char ***lines);
void hdctl_kmsg_close(struct hdctl_kmsg *k);
void hdctl_lines_free(char **lines, size_t n);
/*
 * Parse a /dev/kmsg record ("prio,seq,usec,flags;text\n KEY=val...") into
 * its message text. Returns the text length, or -1 if malformed.
 */
int hdctl_kmsg_parse_record(const char *rec, size_t len, char *out,
			    size_t outlen);
/*
 * If @msg names a parameter the way the kernel does ("parameter 'x'",
 * "parameter `x'"), copy the name to @out and return 1.
 */
int hdctl_kmsg_param_name(const char *msg, char *out, size_t outlen);

/* ---- commands.c / module.c ------------------------------------------- */

int hdctl_cmd_status(const struct hdctl_args *a);
int hdctl_cmd_resize(const struct hdctl_args *a);
int hdctl_cmd_set(const struct hdctl_args *a);
int hdctl_cmd_load(const struct hdctl_args *a);
int hdctl_cmd_unload(const struct hdctl_args *a);

/* Shared helpers (commands.c). */
__printf(1, 2) void hdctl_err(const char *fmt, ...);
double hdctl_now(void);
void hdctl_sleep_ms(unsigned int ms);
/* Find device @given (normalised); prints an error when missing. */
int hdctl_find_device(const char *given, struct hdctl_dev *d);
/* Print "the hotdimm module is not loaded" and return HDCTL_EXIT_FAIL. */
int hdctl_not_loaded(void);

#endif /* HOTDIMMCTL_H */

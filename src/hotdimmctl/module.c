// SPDX-License-Identifier: GPL-2.0
/*
 * load and unload, through libkmod.
 *
 * The kernel accepts a module with a parameter it does not know (it only
 * logs "hotdimm: unknown parameter 'x' ignored"), so names are checked
 * against the module's modinfo first, and the kernel log is read after the
 * insertion as a second line of defence. Bad values make init_module()
 * fail; the kernel's log lines are what tells which parameter and why.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <libkmod.h>

#include "hotdimmctl.h"

#define KERNEL_FILTER	HDCTL_MODULE	/* kernel lines worth showing */

static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	if (!getenv("HOTDIMMCTL_DEBUG"))
		return;
	fprintf(stderr, "libkmod: ");
	vfprintf(stderr, format, args);
}

static struct kmod_ctx *ctx_new(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (!ctx) {
		hdctl_err("libkmod: cannot create a context");
		return NULL;
	}
	kmod_set_log_fn(ctx, kmod_log, NULL);
	return ctx;
}

/* Kernel parameter names: '-' and '_' are the same character. */
static bool param_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i];
		char y = b[i] == '-' ? '_' : b[i];

		if (x != y)
			return false;
	}
	return true;
}

struct modinfo {
	char **parms;		/* parameter names */
	size_t nparms;
	char *depends;		/* "a,b" or NULL */
	char *version;
};

static void modinfo_free(struct modinfo *mi)
{
	hdctl_lines_free(mi->parms, mi->nparms);
	free(mi->depends);
	free(mi->version);
	memset(mi, 0, sizeof(*mi));
}

static void modinfo_add_parm(struct modinfo *mi, const char *v)
{
	size_t len = strcspn(v, ":"), i;
	char **np;

	for (i = 0; i < mi->nparms; i++)
		if (param_eq(mi->parms[i], strlen(mi->parms[i]), v, len))
			return;
	np = realloc(mi->parms, (mi->nparms + 1) * sizeof(*np));
	if (!np)
		return;
	mi->parms = np;
	np[mi->nparms] = strndup(v, len);
	if (np[mi->nparms])
		mi->nparms++;
}

static void modinfo_read(struct kmod_module *mod, struct modinfo *mi)
{
	struct kmod_list *info = NULL, *l;

	memset(mi, 0, sizeof(*mi));
	if (kmod_module_get_info(mod, &info) < 0)
		return;
	kmod_list_foreach(l, info) {
		const char *k = kmod_module_info_get_key(l);
		const char *v = kmod_module_info_get_value(l);

		if (!k || !v)
			continue;
		if (!strcmp(k, "parm") || !strcmp(k, "parmtype"))
			modinfo_add_parm(mi, v);
		else if (!strcmp(k, "depends") && *v && !mi->depends)
			mi->depends = strdup(v);
		else if (!strcmp(k, "version") && !mi->version)
			mi->version = strdup(v);
	}
	kmod_module_info_free_list(info);
}

/* Given parameter words, the first unknown one (or NULL). */
static const char *unknown_param(const struct hdctl_args *a,
				 const struct modinfo *mi)
{
	int i;
	size_t j;

	if (!mi->nparms)
		return NULL;	/* no modinfo: let the kernel judge */
	for (i = 0; i < a->nparams; i++) {
		const char *p = a->params[i];
		size_t len = strcspn(p, "=");
		/* the kernel handles these for every module */
		bool found = param_eq(p, len, "dyndbg", 6) ||
			     param_eq(p, len, "async_probe", 11);

		for (j = 0; j < mi->nparms && !found; j++)
			found = param_eq(mi->parms[j], strlen(mi->parms[j]),
					 p, len);
		if (!found)
			return p;
	}
	return NULL;
}

/* "a=1 b=\"x y\"": the kernel's own quoting rules. */
static char *build_options(const struct hdctl_args *a)
{
	size_t len = 1;
	char *opts, *o;
	int i;

	for (i = 0; i < a->nparams; i++)
		len += strlen(a->params[i]) + 3;
	opts = malloc(len);
	if (!opts)
		return NULL;
	o = opts;
	for (i = 0; i < a->nparams; i++) {
		const char *p = a->params[i];
		const char *eq = strchr(p, '=');

		if (i)
			*o++ = ' ';
		if (eq && strpbrk(eq + 1, " \t") && !strchr(eq + 1, '"')) {
			size_t k = (size_t)(eq - p) + 1;

			memcpy(o, p, k);
			o += k;
			o += sprintf(o, "\"%s\"", eq + 1);
		} else {
			o += sprintf(o, "%s", p);
		}
	}
	*o = '\0';
	return opts;
}

/* Kernel lines worth showing: not the taint notices of every load. */
static void print_kernel_lines(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strstr(lines[i], "taints kernel") ||
		    strstr(lines[i], "tainting kernel"))
			continue;
		fprintf(stderr, "  kernel: %s\n", lines[i]);
	}
}

static bool is_ident(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/*
 * The parameter the kernel's lines are about: a name the kernel quotes,
 * else a given parameter whose name appears as a word in a line.
 */
static int blamed_param(const struct hdctl_args *a, char **lines, size_t n,
			char *out, size_t outlen)
{
	char word[128];
	size_t i;
	int p;

	for (i = 0; i < n; i++)
		if (hdctl_kmsg_param_name(lines[i], out, outlen))
			return 1;
	for (p = 0; p < a->nparams; p++) {
		size_t len = strcspn(a->params[p], "=");

		if (len >= sizeof(word))
			continue;
		memcpy(word, a->params[p], len);
		word[len] = '\0';
		for (i = 0; i < n; i++) {
			const char *hit = lines[i];

			while ((hit = strstr(hit, word))) {
				if ((hit == lines[i] || !is_ident(hit[-1])) &&
				    !is_ident(hit[len])) {
					snprintf(out, outlen, "%s", word);
					return 1;
				}
				hit++;
			}
		}
	}
	return 0;
}

/* The PARAM=VALUE word for parameter @name, or NULL. */
static const char *given_param(const struct hdctl_args *a, const char *name)
{
	int i;

	for (i = 0; i < a->nparams; i++)
		if (param_eq(a->params[i], strcspn(a->params[i], "="), name,
			     strlen(name)))
			return a->params[i];
	return NULL;
}

/* Load the modules @mi->depends names unless they are loaded already. */
static void load_depends(struct kmod_ctx *ctx, const struct modinfo *mi)
{
	char *deps, *name, *save = NULL;

	if (!mi->depends)
		return;
	deps = strdup(mi->depends);
	if (!deps)
		return;
	for (name = strtok_r(deps, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		struct kmod_list *list = NULL, *l;
		char path[4096];
		int err = -ENOENT;

		if (!hdctl_path(path, sizeof(path), "/sys/module/%s", name) &&
		    !access(path, F_OK))
			continue;
		if (kmod_module_new_from_lookup(ctx, name, &list) >= 0) {
			kmod_list_foreach(l, list) {
				struct kmod_module *m = kmod_module_get_module(l);

				err = kmod_module_probe_insert_module(m, 0, NULL,
								      NULL, NULL,
								      NULL);
				kmod_module_unref(m);
				if (!err)
					break;
			}
			kmod_module_unref_list(list);
		}
		if (err)
			fprintf(stderr,
				"%s: warning: could not load dependency %s: %s\n",
				HDCTL_PROG, name, strerror(-err));
	}
	free(deps);
}

static struct kmod_module *find_module(struct kmod_ctx *ctx,
				       const char *path)
{
	struct kmod_module *mod = NULL;
	struct kmod_list *list = NULL;
	struct utsname u;
	int err;

	if (path) {
		if (access(path, R_OK)) {
			hdctl_err("cannot read module %s: %s", path,
				  strerror(errno));
			return NULL;
		}
		err = kmod_module_new_from_path(ctx, path, &mod);
		if (err < 0) {
			hdctl_err("cannot use module %s: %s", path,
				  strerror(-err));
			return NULL;
		}
		return mod;
	}
	err = kmod_module_new_from_lookup(ctx, HDCTL_MODULE, &list);
	if (err >= 0 && list) {
		mod = kmod_module_get_module(list);
		kmod_module_unref_list(list);
	}
	if (!mod || !kmod_module_get_path(mod)) {
		if (mod)
			kmod_module_unref(mod);
		uname(&u);
		hdctl_err("module %s not found for kernel %s (install it with 'make install' or DKMS, or pass --module PATH)",
			  HDCTL_MODULE, u.release);
		return NULL;
	}
	return mod;
}

static void print_loaded(const char *from, const char *opts)
{
	struct hdctl_dev *devs;
	size_t n, i;
	char sz[2][32];

	printf("%s loaded from %s%s%s%s\n", HDCTL_MODULE, from,
	       *opts ? " (" : "", opts, *opts ? ")" : "");
	if (hdctl_dev_list(&devs, &n))
		return;
	for (i = 0; i < n; i++)
		printf("  %s  %s  %s at 0x%llx, requested %s\n", devs[i].name,
		       devs[i].transport,
		       hdctl_fmt_size(devs[i].region_size, false, sz[0], 32),
		       (unsigned long long)devs[i].region_start,
		       hdctl_fmt_size(devs[i].requested, false, sz[1], 32));
	if (!n)
		printf("  no devices yet\n");
	hdctl_dev_list_free(devs, n);
}

int hdctl_cmd_load(const struct hdctl_args *a)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	struct hdctl_kmsg km;
	struct modinfo mi;
	char **lines = NULL, name[128];
	size_t nlines = 0, j;
	const char *bad, *from;
	int ret = HDCTL_EXIT_FAIL, err;
	char *opts = NULL;

	if (hdctl_module_loaded()) {
		hdctl_err("%s is already loaded (hotdimmctl unload first)",
			  HDCTL_MODULE);
		return HDCTL_EXIT_FAIL;
	}
	ctx = ctx_new();
	if (!ctx)
		return HDCTL_EXIT_FAIL;
	mod = find_module(ctx, a->module_path);
	if (!mod)
		goto out_ctx;
	from = kmod_module_get_path(mod);
	if (!from)
		from = a->module_path ? a->module_path : HDCTL_MODULE;

	modinfo_read(mod, &mi);
	bad = unknown_param(a, &mi);
	if (bad) {
		hdctl_err("unknown parameter '%.*s' for %s: not loaded",
			  (int)strcspn(bad, "="), bad, HDCTL_MODULE);
		fprintf(stderr, "  the module's parameters:");
		for (j = 0; j < mi.nparms; j++)
			fprintf(stderr, " %s", mi.parms[j]);
		fputc('\n', stderr);
		goto out_mi;
	}
	if (mi.version && strcmp(mi.version, HOTDIMM_VERSION))
		fprintf(stderr,
			"%s: warning: module version %s, hotdimmctl version %s\n",
			HDCTL_PROG, mi.version, HOTDIMM_VERSION);
	opts = build_options(a);
	if (!opts) {
		hdctl_err("out of memory");
		goto out_mi;
	}

	hdctl_kmsg_open(&km);
	if (a->module_path) {
		load_depends(ctx, &mi);
		err = kmod_module_insert_module(mod, 0, opts);
	} else {
		err = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
						      opts, NULL, NULL, NULL);
	}
	nlines = hdctl_kmsg_collect(&km, KERNEL_FILTER, &lines);
	hdctl_kmsg_close(&km);

	if (err < 0) {
		const char *what = strerror(-err);

		if (err == -EEXIST)
			what = "already loaded";
		else if (err == -ENOEXEC)
			what = "invalid module format (built for another kernel?)";
		else if (err == -ENOENT)
			what = "unknown symbol (a module it needs is not loaded)";
		if (blamed_param(a, lines, nlines, name, sizeof(name))) {
			const char *given = given_param(a, name);

			hdctl_err("%s rejected parameter '%s'%s%s%s: %s",
				  HDCTL_MODULE, name, given ? " (" : "",
				  given ? given : "", given ? ")" : "", what);
		} else {
			hdctl_err("loading %s failed: %s", from, what);
		}
		print_kernel_lines(lines, nlines);
		goto out_lines;
	}

	/* Loaded; but did the kernel ignore a parameter? */
	for (j = 0; j < nlines; j++) {
		if (!strstr(lines[j], "unknown parameter"))
			continue;
		if (!hdctl_kmsg_param_name(lines[j], name, sizeof(name)))
			snprintf(name, sizeof(name), "?");
		hdctl_err("unknown parameter '%s' for %s: unloading it again",
			  name, HDCTL_MODULE);
		print_kernel_lines(lines, nlines);
		err = kmod_module_remove_module(mod, 0);
		if (err < 0)
			hdctl_err("removing %s failed: %s", HDCTL_MODULE,
				  strerror(-err));
		goto out_lines;
	}
	print_loaded(from, opts);
	ret = HDCTL_EXIT_OK;

out_lines:
	hdctl_lines_free(lines, nlines);
	free(opts);
out_mi:
	modinfo_free(&mi);
	kmod_module_unref(mod);
out_ctx:
	kmod_unref(ctx);
	return ret;
}

/* ---- unload ------------------------------------------------------------- */

static bool is_emulated(const struct hdctl_dev *d)
{
	return !strcmp(d->transport, "emulated");
}

/* Emulated devices that still hold memory; progress on a terminal. */
static size_t wait_unplugged(unsigned int timeout, bool tty)
{
	double t0 = hdctl_now();
	struct hdctl_dev *devs;
	size_t n, i, busy;
	char sz[32];

	for (;;) {
		if (hdctl_dev_list(&devs, &n))
			return 0;
		busy = 0;
		for (i = 0; i < n; i++)
			if (is_emulated(&devs[i]) &&
			    (devs[i].plugged || !(devs[i].valid & HDF_PLUGGED)))
				busy++;
		if (tty && busy) {
			printf("\r\033[Kunplugging:");
			for (i = 0; i < n; i++)
				if (is_emulated(&devs[i]))
					printf(" %s %s", devs[i].name,
					       hdctl_fmt_size(devs[i].plugged,
							      false, sz,
							      sizeof(sz)));
			printf("  %.0fs", hdctl_now() - t0);
			fflush(stdout);
		}
		hdctl_dev_list_free(devs, n);
		if (!busy || hdctl_now() - t0 >= timeout)
			break;
		hdctl_sleep_ms(100);
	}
	if (tty)
		printf("\r\033[K");
	return busy;
}

static int remove_module(void)
{
	struct kmod_module *mod = NULL;
	struct hdctl_kmsg km;
	struct kmod_ctx *ctx;
	char **lines = NULL;
	size_t nlines;
	int err, tries;

	ctx = ctx_new();
	if (!ctx)
		return -ENOMEM;
	err = kmod_module_new_from_name(ctx, HDCTL_MODULE, &mod);
	if (err < 0) {
		kmod_unref(ctx);
		return err;
	}
	hdctl_kmsg_open(&km);
	for (tries = 0; tries < 50; tries++) {
		err = kmod_module_remove_module(mod, 0);
		if (err != -EAGAIN)
			break;
		hdctl_sleep_ms(100);
	}
	nlines = hdctl_kmsg_collect(&km, KERNEL_FILTER, &lines);
	hdctl_kmsg_close(&km);
	if (err < 0) {
		hdctl_err("removing %s failed: %s%s", HDCTL_MODULE,
			  strerror(-err),
			  err == -EBUSY ? " (it is in use)" : "");
		print_kernel_lines(lines, nlines);
	}
	hdctl_lines_free(lines, nlines);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return err;
}

int hdctl_cmd_unload(const struct hdctl_args *a)
{
	struct hdctl_dev *devs;
	size_t n, i, stayed = 0;
	bool tty = isatty(STDOUT_FILENO);
	u64 starts[64], ends[64];
	char path[4096], sz[3][32];
	int err, nr;

	if (!hdctl_module_loaded()) {
		hdctl_err("%s is not loaded", HDCTL_MODULE);
		return HDCTL_EXIT_FAIL;
	}

	/* 1. ask every emulated device for size 0 */
	err = hdctl_dev_list(&devs, &n);
	if (err) {
		hdctl_err("reading %s: %s", HOTDIMM_SYSFS_DEVICES,
			  strerror(-err));
		return HDCTL_EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		if (!is_emulated(&devs[i]) ||
		    (!devs[i].requested && (devs[i].valid & HDF_REQUESTED)))
			continue;
		hdctl_dev_attr_path(path, sizeof(path), devs[i].name,
				    "requested_size");
		err = hdctl_write_file(path, "0");
		if (err)
			hdctl_err("%s: setting requested_size to 0 failed: %s",
				  devs[i].name, strerror(-err));
	}
	hdctl_dev_list_free(devs, n);

	/* 2. wait, then see what stayed */
	wait_unplugged(a->timeout, tty);
	err = hdctl_dev_list(&devs, &n);
	if (err)
		n = 0;
	for (i = 0; i < n; i++) {
		const struct hdctl_dev *d = &devs[i];

		if (!d->plugged)
			continue;
		stayed++;
		if (is_emulated(d))
			fprintf(stderr,
				"%s: %s: %s stayed plugged (kernel %s, movable %s), status: %s, blocks: %s\n",
				HDCTL_PROG, d->name,
				hdctl_fmt_size(d->plugged, false, sz[0], 32),
				hdctl_fmt_size(d->kernel, false, sz[1], 32),
				hdctl_fmt_size(d->movable, false, sz[2], 32),
				d->status, hdctl_dev_map_text(d));
		else
			fprintf(stderr,
				"%s: %s: %s plugged by the host (%s); resize it to 0 from the host first\n",
				HDCTL_PROG, d->name,
				hdctl_fmt_size(d->plugged, false, sz[0], 32),
				d->transport);
	}
	hdctl_dev_list_free(devs, n);
	if (stayed && !a->force_unplug) {
		hdctl_err("not unloading: %zu device(s) still hold memory (retry, or use --force-unplug to unload anyway)",
			  stayed);
		return HDCTL_EXIT_FAIL;
	}

	/* 3. remove the module */
	if (remove_module())
		return HDCTL_EXIT_FAIL;

	/* 4. anything the module could not take back? */
	nr = hdctl_iomem_ranges(starts, ends, 64);
	if (nr > 0) {
		int k;

		for (k = 0; k < nr && k < 64; k++)
			fprintf(stderr,
				"%s: stayed in the system: 0x%llx-0x%llx (%s) \"%s\"\n",
				HDCTL_PROG, (unsigned long long)starts[k],
				(unsigned long long)ends[k],
				hdctl_fmt_size(ends[k] - starts[k] + 1, false,
					       sz[0], 32),
				HOTDIMM_RESOURCE_NAME);
		printf("%s unloaded; %d memory range(s) stayed\n",
		       HDCTL_MODULE, nr);
		return HDCTL_EXIT_FAIL;
	}
	printf("%s unloaded%s\n", HDCTL_MODULE,
	       stayed ? " (forced; the module released the remaining memory)" :
			", all memory unplugged");
	return HDCTL_EXIT_OK;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Reading and writing hotdimm's sysfs attributes (README, "sysfs
 * interface") and /proc/iomem. Every path is prefixed with $HOTDIMM_SYSFS_ROOT so that the
 * tests can point the tool at a fake tree.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotdimm_parse.h"
#include "hotdimmctl.h"

const char *hdctl_root(void)
{
	const char *r = getenv("HOTDIMM_SYSFS_ROOT");

	return r ? r : "";
}

int hdctl_path(char *buf, size_t len, const char *fmt, ...)
{
	size_t rl;
	va_list ap;
	int n;

	rl = (size_t)snprintf(buf, len, "%s", hdctl_root());
	if (rl >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	n = vsnprintf(buf + rl, len - rl, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - rl)
		return -ENAMETOOLONG;
	return 0;
}

static void chomp(char *s, size_t *len)
{
	while (*len && (s[*len - 1] == '\n' || s[*len - 1] == ' '))
		s[--*len] = '\0';
}

int hdctl_read_file(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	int fd, err;

	if (!len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			close(fd);
			return err;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	chomp(buf, &got);
	return (int)got;
}

int hdctl_read_file_alloc(const char *path, char **out)
{
	size_t cap = 4096, got = 0;
	char *buf, *nb;
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (got + 1 >= cap) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto fail;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	return 0;
fail:
	close(fd);
	free(buf);
	return err;
}

int hdctl_write_file(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = write(fd, val, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

bool hdctl_module_loaded(void)
{
	char path[4096];
	struct stat st;

	if (hdctl_path(path, sizeof(path), "/sys/module/%s", HDCTL_MODULE))
		return false;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* ---- devices --------------------------------------------------------- */

long hdctl_dev_id(const char *name)
{
	size_t pl = strlen(HOTDIMM_DRIVER_NAME);
	const char *p;
	long id = 0;

	if (strncmp(name, HOTDIMM_DRIVER_NAME, pl) || name[pl] != '.')
		return -1;
	p = name + pl + 1;
	if (!*p)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || id > 100000000)
			return -1;
		id = id * 10 + (*p - '0');
	}
	return id;
}

int hdctl_dev_normalize(const char *in, char *out, size_t len)
{
	int n;

	if (hdctl_dev_id(in) >= 0) {
		n = snprintf(out, len, "%s", in);
	} else {
		const char *p = in;

		if (!*p)
			return -EINVAL;
		for (; *p; p++)
			if (*p < '0' || *p > '9')
				return -EINVAL;
		n = snprintf(out, len, "%s.%s", HOTDIMM_DRIVER_NAME, in);
	}
	if (n < 0 || (size_t)n >= len || hdctl_dev_id(out) < 0)
		return -EINVAL;
	return 0;
}

int hdctl_dev_attr_path(char *buf, size_t len, const char *name,
			const char *attr)
{
	return hdctl_path(buf, len, "%s/%s/%s", HOTDIMM_SYSFS_DEVICES, name,
			  attr);
}

static int read_attr(const char *name, const char *attr, char *buf,
		     size_t len)
{
	char path[4096];
	int ret;

	ret = hdctl_dev_attr_path(path, sizeof(path), name, attr);
	if (ret)
		return ret;
	return hdctl_read_file(path, buf, len);
}

static void read_u64(struct hdctl_dev *d, const char *attr, u64 *out,
		     unsigned int bit)
{
	char buf[64];
	int n = read_attr(d->name, attr, buf, sizeof(buf));

	if (n > 0 && !hotdimm_parse_size(buf, (size_t)n, out))
		d->valid |= bit;
}

int hdctl_block_map_parse(const char *text, char **map, char **runs)
{
	unsigned long long nr, gen, gen2, first, last, next = 0;
	const char *p, *line, *eol;
	char *m = NULL, *r = NULL, c, *end;
	int used = 0;

	*map = NULL;
	*runs = NULL;
	if (sscanf(text, "blocks %llu generation %llu%n", &nr, &gen, &used) != 2 ||
	    text[used] != '\n' || nr > (1ULL << 32))
		return -EINVAL;
	line = text + used + 1;
	eol = strchr(line, '\n');
	if (!eol)
		return -EINVAL;
	if (sscanf(eol, "\ngeneration %llu%n", &gen2, &used) != 1 ||
	    strcmp(eol + used, "\n"))
		return -EINVAL;
	if (gen2 != gen)
		return -EAGAIN;
	m = malloc(nr + 1);
	r = strndup(line, eol - line);
	if (!m || !r)
		goto nomem;
	for (p = line; p < eol; ) {
		first = strtoull(p, &end, 10);
		if (end == p)
			goto bad;
		last = first;
		if (*end == '-') {
			p = end + 1;
			last = strtoull(p, &end, 10);
			if (end == p)
				goto bad;
		}
		if (end[0] != ':' || !end[1] || !strchr("-oKMpkm", end[1]))
			goto bad;
		c = end[1];
		if (first != next || last < first || last >= nr)
			goto bad;
		memset(m + first, c, last - first + 1);
		next = last + 1;
		p = end + 2;
		if (p < eol && *p++ != ' ')
			goto bad;
	}
	if (next != nr)
		goto bad;
	m[nr] = '\0';
	*map = m;
	*runs = r;
	return 0;
bad:
	free(m);
	free(r);
	return -EINVAL;
nomem:
	free(m);
	free(r);
	return -ENOMEM;
}

void hdctl_block_runs(const char *map, char *buf, size_t len)
{
	size_t i = 0, j, n = strlen(map), at = 0;
	char run[64];
	int k;

	if (!len)
		return;
	buf[0] = '\0';
	while (i < n) {
		for (j = i; j + 1 < n && map[j + 1] == map[i]; j++)
			;
		if (i == j)
			k = snprintf(run, sizeof(run), "%s%zu:%c", i ? " " : "", i, map[i]);
		else
			k = snprintf(run, sizeof(run), "%s%zu-%zu:%c", i ? " " : "", i, j,
				     map[i]);
		/* Room for this run and, unless it is the last, " ...". */
		if (at + k + (j + 1 < n ? 4 : 0) >= len) {
			if (at + 4 < len)
				snprintf(buf + at, len - at, " ...");
			return;
		}
		memcpy(buf + at, run, k + 1);
		at += k;
		i = j + 1;
	}
}

const char *hdctl_dev_map_text(const struct hdctl_dev *d)
{
	if (!d->blocks)
		return "?";
	if (strlen(d->blocks) <= 128 || !d->runs)
		return d->blocks;
	return d->runs;
}

/*
 * The complete map: block_map (any size; read again while it changes),
 * or on modules without it the blocks file.
 */
static void read_block_map(const char *name, struct hdctl_dev *d)
{
	char path[PATH_MAX], *text;
	int tries, err = -ENOENT;

	if (!hdctl_dev_attr_path(path, sizeof(path), name, "block_map")) {
		for (tries = 0; tries < 5; tries++) {
			if (hdctl_read_file_alloc(path, &text))
				break;
			err = hdctl_block_map_parse(text, &d->blocks, &d->runs);
			free(text);
			if (err != -EAGAIN)
				break;
		}
		if (!err)
			return;
	}
	if (!hdctl_dev_attr_path(path, sizeof(path), name, "blocks") &&
	    !hdctl_read_file_alloc(path, &d->blocks)) {
		size_t l = strlen(d->blocks);

		chomp(d->blocks, &l);
		/* A run takes at most two indices, '-', ':', a letter, ' '. */
		d->runs = malloc(l * 24 + 16);
		if (d->runs)
			hdctl_block_runs(d->blocks, d->runs, l * 24 + 16);
	}
}

int hdctl_dev_read(const char *name, struct hdctl_dev *d)
{
	char path[4096], buf[64];
	struct stat st;
	int n;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->id = hdctl_dev_id(name);
	if (hdctl_path(path, sizeof(path), "%s/%s", HOTDIMM_SYSFS_DEVICES,
		       name) || stat(path, &st) || d->id < 0)
		return -ENOENT;

	if (read_attr(name, "transport", d->transport,
		      sizeof(d->transport)) < 0)
		d->transport[0] = '\0';
	read_u64(d, "region_start", &d->region_start, HDF_REGION_START);
	read_u64(d, "region_size", &d->region_size, HDF_REGION_SIZE);
	read_u64(d, "block_size", &d->block_size, HDF_BLOCK_SIZE);
	read_u64(d, "requested_size", &d->requested, HDF_REQUESTED);
	read_u64(d, "plugged_size", &d->plugged, HDF_PLUGGED);
	read_u64(d, "kernel_size", &d->kernel, HDF_KERNEL);
	read_u64(d, "movable_size", &d->movable, HDF_MOVABLE);
	read_u64(d, "offline_size", &d->offline, HDF_OFFLINE);

	n = read_attr(name, "node", buf, sizeof(buf));
	if (n > 0) {
		char *end;
		long long v = strtoll(buf, &end, 10);

		if (end != buf && !*end) {
			d->node = v;
			d->valid |= HDF_NODE;
		}
	}
	n = read_attr(name, "movable_ratio", buf, sizeof(buf));
	if (n > 0 && !hdctl_parse_u32(buf, &d->ratio))
		d->valid |= HDF_RATIO;

	if (read_attr(name, "status", d->status, sizeof(d->status)) < 0)
		d->status[0] = '\0';
	read_block_map(name, d);
	/* Newer modules: the unit of plugging and the partly plugged blocks. */
	n = read_attr(name, "device_block_size", buf, sizeof(buf));
	if (n <= 0 || hotdimm_parse_size(buf, (size_t)n, &d->device_block_size))
		d->device_block_size = 0;
	if (!hdctl_dev_attr_path(path, sizeof(path), name, "partial_blocks") &&
	    hdctl_read_file_alloc(path, &d->partial))
		d->partial = NULL;
	return 0;
}

void hdctl_dev_release(struct hdctl_dev *d)
{
	free(d->blocks);
	d->blocks = NULL;
	free(d->runs);
	d->runs = NULL;
	free(d->partial);
	d->partial = NULL;
}

static int cmp_dev(const void *a, const void *b)
{
	const struct hdctl_dev *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int hdctl_dev_list(struct hdctl_dev **devs, size_t *n)
{
	struct hdctl_dev *arr = NULL, *na;
	char path[4096];
	struct dirent *de;
	size_t cnt = 0;
	DIR *dir;

	*devs = NULL;
	*n = 0;
	if (hdctl_path(path, sizeof(path), "%s", HOTDIMM_SYSFS_DEVICES))
		return -ENAMETOOLONG;
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		if (hdctl_dev_id(de->d_name) < 0)
			continue;
		na = realloc(arr, (cnt + 1) * sizeof(*arr));
		if (!na) {
			closedir(dir);
			hdctl_dev_list_free(arr, cnt);
			return -ENOMEM;
		}
		arr = na;
		if (hdctl_dev_read(de->d_name, &arr[cnt]))
			continue;
		cnt++;
	}
	closedir(dir);
	if (cnt)
		qsort(arr, cnt, sizeof(*arr), cmp_dev);
	*devs = arr;
	*n = cnt;
	return 0;
}

void hdctl_dev_list_free(struct hdctl_dev *devs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		hdctl_dev_release(&devs[i]);
	free(devs);
}

/* ---- module parameters ------------------------------------------------ */

static int cmp_param(const void *a, const void *b)
{
	const struct hdctl_param *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int hdctl_params_read(struct hdctl_param **params, size_t *n)
{
	struct hdctl_param *arr = NULL, *na;
	char dpath[4096], path[4096 + 256];
	struct dirent *de;
	size_t cnt = 0;
	DIR *dir;

	*params = NULL;
	*n = 0;
	if (hdctl_path(dpath, sizeof(dpath), "%s", HOTDIMM_SYSFS_PARAMS))
		return -ENAMETOOLONG;
	dir = opendir(dpath);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		struct hdctl_param *p;
		int ret;

		if (de->d_name[0] == '.' ||
		    strlen(de->d_name) >= sizeof(arr->name))
			continue;
		na = realloc(arr, (cnt + 1) * sizeof(*arr));
		if (!na) {
			closedir(dir);
			hdctl_params_free(arr, cnt);
			return -ENOMEM;
		}
		arr = na;
		p = &arr[cnt++];
		memset(p, 0, sizeof(*p));
		memcpy(p->name, de->d_name, strlen(de->d_name) + 1);
		snprintf(path, sizeof(path), "%s/%s", dpath, de->d_name);
		ret = hdctl_read_file_alloc(path, &p->value);
		if (ret) {
			p->err = ret;
		} else {
			size_t l = strlen(p->value);

			chomp(p->value, &l);
		}
	}
	closedir(dir);
	if (cnt)
		qsort(arr, cnt, sizeof(*arr), cmp_param);
	*params = arr;
	*n = cnt;
	return 0;
}

void hdctl_params_free(struct hdctl_param *params, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(params[i].value);
	free(params);
}

const char *hdctl_param_get(const struct hdctl_param *params, size_t n,
			    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(params[i].name, name))
			return params[i].value;
	return NULL;
}

/* ---- /proc/iomem ------------------------------------------------------- */

int hdctl_iomem_parse_line(const char *line, u64 *start, u64 *end)
{
	unsigned long long s, e;
	const char *name;
	size_t nl;
	int off = 0;

	while (*line == ' ')
		line++;
	if (sscanf(line, "%llx-%llx : %n", &s, &e, &off) != 2 || !off)
		return 0;
	name = line + off;
	nl = strlen(HOTDIMM_RESOURCE_NAME);
	if (strncmp(name, HOTDIMM_RESOURCE_NAME, nl) ||
	    (name[nl] != '\0' && name[nl] != '\n'))
		return 0;
	*start = s;
	*end = e;
	return 1;
}

int hdctl_iomem_ranges(u64 *starts, u64 *ends, int max)
{
	char path[4096], *text, *line, *save = NULL;
	int ret, cnt = 0;

	ret = hdctl_path(path, sizeof(path), "/proc/iomem");
	if (ret)
		return ret;
	ret = hdctl_read_file_alloc(path, &text);
	if (ret)
		return ret;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		u64 s, e;

		if (!hdctl_iomem_parse_line(line, &s, &e))
			continue;
		if (cnt < max) {
			starts[cnt] = s;
			ends[cnt] = e;
		}
		cnt++;
	}
	free(text);
	return cnt;
}

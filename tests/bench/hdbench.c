// SPDX-License-Identifier: GPL-2.0
/*
 * hdbench: guest-side helper of hotdimm's benchmark (scripts/bench.sh,
 * tests/bench/bench.py). Built statically on the host, put at /bin/hdbench
 * in the guest's initramfs. Timing is taken inside the guest so that the
 * command channel's latency never enters a measurement; every driver
 * configuration is measured with exactly the same code.
 *
 *   hdbench wait --target-kb KB [--irq NAME | --write PATH=VALUE]
 *                [--timeout S] [--stall S] [--interval-us US]
 *                [--armed FILE] [--trace FILE] [--out FILE]
 *
 *     Starts the clock at the request and stops it when MemTotal
 *     (/proc/meminfo) equals KB:
 *       --irq NAME       the request is the first increment of interrupt
 *                        NAME in /proc/interrupts (the virtio-mem device's
 *                        config-change interrupt, which QEMU raises when QMP
 *                        changes requested-size); the host sends the QMP
 *                        command once FILE (--armed) exists.
 *       --write P=V      the request is this helper writing V to P (the
 *                        emulated DIMM's requested_size); the clock starts
 *                        just before write().
 *     --stall S gives up early when MemTotal has not changed for S seconds
 *     (counted from the request, then from the last change); --trace FILE
 *     records "seconds kB" at every MemTotal change; --out FILE writes the
 *     result there (atomically, by rename) instead of to stdout, so that a
 *     caller that started the helper in the background can wait for FILE.
 *     The poll interval is --interval-us (default 1000) at first and then
 *     1/1000 of the time elapsed, at most 10 ms.
 *     Prints key=value lines: stalled, done (1 when KB was reached), elapsed (s from
 *     request to done, or to the timeout), first (s from request to the
 *     first MemTotal change), last (s from request to the last change),
 *     start_kb, end_kb, polls. Exit 0 when done, 1 on timeout, 2 on error.
 *
 *   hdbench fill --dir D [--files N] [--file-size B] [--cache-mb M]
 *                [--anon-mb A] [--ready FILE]
 *
 *     The "under load" workload: N small files of B bytes in D/small
 *     (tmpfs: an inode and a dentry each in kernel slab, plus a page of
 *     file data), M MiB of file data in D/cache (page cache of big files)
 *     and A MiB of anonymous memory, every page written. Prints what it
 *     made and how long it took, creates FILE, then holds the anonymous
 *     memory until SIGTERM/SIGINT (run it in the background).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void die(const char *what)
{
	fprintf(stderr, "hdbench: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Read a whole (small) proc file through an open fd into buf. */
static ssize_t slurp(int fd, char *buf, size_t len)
{
	ssize_t n, got = 0;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!n)
			break;
		got += n;
	}
	buf[got] = '\0';
	return got;
}

static long memtotal_kb(int fd)
{
	char buf[512];
	char *p;

	/* MemTotal is the first line: a short read is enough. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		die("lseek /proc/meminfo");
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		die("read /proc/meminfo");
	buf[sizeof(buf) - 1] = '\0';
	p = strstr(buf, "MemTotal:");
	if (!p) {
		errno = EINVAL;
		die("no MemTotal in /proc/meminfo");
	}
	return strtol(p + 9, NULL, 10);
}

/* Sum of the per-CPU counts of the /proc/interrupts line named @name. */
static long long irq_count(int fd, const char *name)
{
	static char buf[1 << 16];
	size_t nlen = strlen(name);
	char *line, *next;

	if (slurp(fd, buf, sizeof(buf)) < 0)
		die("read /proc/interrupts");
	for (line = buf; line && *line; line = next) {
		char *end = strchr(line, '\n'), *p, *q;
		long long sum = 0;

		next = end ? end + 1 : NULL;
		if (end)
			*end = '\0';
		/* The name is the last field. */
		q = line + strlen(line);
		while (q > line && q[-1] == ' ')
			q--;
		if ((size_t)(q - line) < nlen + 1 || strncmp(q - nlen, name, nlen) ||
		    q[-(long)nlen - 1] != ' ')
			continue;
		p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		for (;;) {
			char *e;
			long long v = strtoll(p, &e, 10);

			if (e == p)
				break;
			sum += v;
			p = e;
		}
		return sum;
	}
	return -1;
}

/*
 * The result goes to stdout, or to @path atomically (a temporary file
 * renamed at the end): a caller that started the helper in the background
 * waits for @path to appear.
 */
static FILE *result_open(const char *path)
{
	char tmp[512];
	FILE *f;

	if (!path)
		return stdout;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die(tmp);
	return f;
}

static void result_close(const char *path, FILE *f)
{
	char tmp[512];

	if (!path) {
		fflush(f);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fclose(f);
	if (rename(tmp, path))
		die(path);
}

static int cmd_wait(int argc, char **argv)
{
	long target = -1, interval = 1000, cur, start_kb, prev;
	const char *irq = NULL, *write_spec = NULL, *armed = NULL;
	const char *trace_path = NULL, *stall_s = NULL, *out_path = NULL;
	FILE *trace = NULL, *res;
	double stall = 0;
	double timeout = 120, t0, t, first = -1, last = -1;
	long long base = 0;
	long polls = 0;
	int mfd, ifd = -1, i, done = 0, stalled = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "hdbench wait: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--target-kb")) {
			target = atol(v);
		} else if (!strcmp(a, "--irq")) {
			irq = v;
		} else if (!strcmp(a, "--write")) {
			write_spec = v;
		} else if (!strcmp(a, "--timeout")) {
			timeout = atof(v);
		} else if (!strcmp(a, "--interval-us")) {
			interval = atol(v);
		} else if (!strcmp(a, "--armed")) {
			armed = v;
		} else if (!strcmp(a, "--trace")) {
			trace_path = v;
		} else if (!strcmp(a, "--stall")) {
			stall_s = v;
		} else if (!strcmp(a, "--out")) {
			out_path = v;
		} else {
			fprintf(stderr, "hdbench wait: unknown option %s\n", a);
			return 2;
		}
		i++;
	}
	if (target < 0 || (!irq == !write_spec)) {
		fprintf(stderr, "hdbench wait: need --target-kb and one of --irq, --write\n");
		return 2;
	}
	if (stall_s)
		stall = atof(stall_s);
	if (trace_path) {
		trace = fopen(trace_path, "w");
		if (!trace)
			die(trace_path);
	}
	mfd = open("/proc/meminfo", O_RDONLY);
	if (mfd < 0)
		die("/proc/meminfo");
	start_kb = memtotal_kb(mfd);
	prev = start_kb;

	if (irq) {
		ifd = open("/proc/interrupts", O_RDONLY);
		if (ifd < 0)
			die("/proc/interrupts");
		base = irq_count(ifd, irq);
		if (base < 0) {
			fprintf(stderr, "hdbench wait: no interrupt named %s\n", irq);
			return 2;
		}
	}
	if (armed) {
		int fd = open(armed, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			die(armed);
		close(fd);
	}

	if (irq) {
		/* Wait (up to the timeout) for the host's request. */
		double limit = now() + timeout;

		while (irq_count(ifd, irq) == base) {
			if (now() > limit) {
				fprintf(stderr, "hdbench wait: interrupt %s never came\n", irq);
				res = result_open(out_path);
				fprintf(res, "error=no-request\ndone=0\n");
				result_close(out_path, res);
				return 1;
			}
			sleep_us(interval);
		}
		t0 = now();
	} else {
		char path[256];
		const char *eq = strchr(write_spec, '=');
		int fd;

		if (!eq || (size_t)(eq - write_spec) >= sizeof(path)) {
			fprintf(stderr, "hdbench wait: --write wants PATH=VALUE\n");
			return 2;
		}
		memcpy(path, write_spec, eq - write_spec);
		path[eq - write_spec] = '\0';
		fd = open(path, O_WRONLY);
		if (fd < 0)
			die(path);
		t0 = now();
		if (write(fd, eq + 1, strlen(eq + 1)) < 0)
			die(path);
		close(fd);
	}

	for (;;) {
		cur = memtotal_kb(mfd);
		t = now();
		polls++;
		if (cur != prev) {
			if (first < 0)
				first = t - t0;
			last = t - t0;
			prev = cur;
			if (trace)
				fprintf(trace, "%.6f %ld\n", t - t0, cur);
		}
		if (cur == target) {
			done = 1;
			break;
		}
		if (t - t0 > timeout)
			break;
		/* No change for --stall seconds (after the first): stuck. */
		if (stall > 0 && t - t0 - (last < 0 ? 0 : last) > stall) {
			stalled = 1;
			break;
		}
		/*
		 * Poll every --interval-us at first; for long waits, every
		 * 1/1000 of the time elapsed so far (at most 10 ms), so that the
		 * poller's own cost stays small against what it measures.
		 */
		{
			long us = (long)((t - t0) * 1000.0);

			sleep_us(us > interval ? (us < 10000 ? us : 10000) : interval);
		}
	}
	if (trace)
		fclose(trace);
	res = result_open(out_path);
	fprintf(res, "stalled=%d\ndone=%d\nelapsed=%.6f\n", stalled, done, t - t0);
	fprintf(res, "first=%.6f\nlast=%.6f\n", first, last);
	fprintf(res, "start_kb=%ld\nend_kb=%ld\npolls=%ld\n", start_kb, cur, polls);
	result_close(out_path, res);
	return done ? 0 : 1;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void mkdir_p(const char *p)
{
	if (mkdir(p, 0755) && errno != EEXIST)
		die(p);
}

static int cmd_fill(int argc, char **argv)
{
	long files = 0, fsize = 1024, cache_mb = 0, anon_mb = 0, n;
	const char *dir = NULL, *ready = NULL;
	char path[512], *buf, *anon = NULL;
	double t0, t_files, t_cache, t_anon;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "hdbench fill: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--dir")) {
			dir = v;
		} else if (!strcmp(a, "--files")) {
			files = atol(v);
		} else if (!strcmp(a, "--file-size")) {
			fsize = atol(v);
		} else if (!strcmp(a, "--cache-mb")) {
			cache_mb = atol(v);
		} else if (!strcmp(a, "--anon-mb")) {
			anon_mb = atol(v);
		} else if (!strcmp(a, "--ready")) {
			ready = v;
		} else {
			fprintf(stderr, "hdbench fill: unknown option %s\n", a);
			return 2;
		}
		i++;
	}
	if (!dir || fsize < 1 || fsize > (long)(1 << 20)) {
		fprintf(stderr, "hdbench fill: need --dir; --file-size 1..1M\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	buf = malloc(1 << 20);
	if (!buf)
		die("malloc");
	for (n = 0; n < (1 << 20); n++)
		buf[n] = (char)(n * 131 + 7);

	t0 = now();
	snprintf(path, sizeof(path), "%s/small", dir);
	mkdir_p(path);
	for (n = 0; n < files; n++) {
		int fd;

		/* 1000 files per directory: dentries, inodes and dirs in slab. */
		if (n % 1000 == 0) {
			snprintf(path, sizeof(path), "%s/small/%ld", dir, n / 1000);
			mkdir_p(path);
		}
		snprintf(path, sizeof(path), "%s/small/%ld/f%ld", dir, n / 1000, n);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die(path);
		buf[0] = (char)n;
		if (write(fd, buf, fsize) != fsize)
			die(path);
		close(fd);
	}
	t_files = now();

	snprintf(path, sizeof(path), "%s/cache", dir);
	mkdir_p(path);
	for (n = 0; n < cache_mb; n += 16) {
		long k, chunk = cache_mb - n < 16 ? cache_mb - n : 16;
		int fd;

		snprintf(path, sizeof(path), "%s/cache/c%ld", dir, n / 16);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die(path);
		for (k = 0; k < chunk; k++)
			if (write(fd, buf, 1 << 20) != 1 << 20)
				die(path);
		close(fd);
	}
	t_cache = now();

	if (anon_mb) {
		size_t len = (size_t)anon_mb << 20, off;

		anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (anon == MAP_FAILED)
			die("mmap");
		for (off = 0; off < len; off += PAGE)
			anon[off] = (char)(off >> 12) | 1;
	}
	t_anon = now();

	printf("files=%ld file_size=%ld cache_mb=%ld anon_mb=%ld "
	       "t_files=%.3f t_cache=%.3f t_anon=%.3f\n",
	       files, fsize, cache_mb, anon_mb, t_files - t0, t_cache - t_files,
	       t_anon - t_cache);
	fflush(stdout);
	if (ready) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			die(ready);
		close(fd);
	}
	while (!stop)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "wait"))
		return cmd_wait(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "fill"))
		return cmd_fill(argc - 2, argv + 2);
	fprintf(stderr,
		"usage: hdbench wait --target-kb KB (--irq NAME | --write PATH=VALUE) [--timeout S] [--stall S]\n"
		"                    [--interval-us US] [--armed FILE] [--trace FILE] [--out FILE]\n"
		"       hdbench fill --dir D [--files N] [--file-size B] [--cache-mb M] [--anon-mb A] [--ready FILE]\n");
	return 2;
}

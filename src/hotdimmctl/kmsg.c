// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's answer: messages logged while we loaded the module.
 *
 * /dev/kmsg is read from its end (only new records), falling back to a
 * before/after comparison of klogctl()'s buffer when /dev/kmsg is missing.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#include "hotdimmctl.h"

#define SYSLOG_ACTION_READ_ALL		3
#define SYSLOG_ACTION_SIZE_BUFFER	10

static char *klog_read(size_t *len)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	char *buf;
	int n;

	if (size <= 0)
		size = 1 << 20;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return NULL;
	n = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

void hdctl_kmsg_open(struct hdctl_kmsg *k)
{
	memset(k, 0, sizeof(*k));
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd >= 0) {
		if (lseek(k->fd, 0, SEEK_END) >= 0)
			return;
		close(k->fd);
		k->fd = -1;
	}
	k->snapshot = klog_read(&k->snap_len);
}

void hdctl_kmsg_close(struct hdctl_kmsg *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	free(k->snapshot);
	k->snapshot = NULL;
}

int hdctl_kmsg_parse_record(const char *rec, size_t len, char *out,
			    size_t outlen)
{
	const char *semi = memchr(rec, ';', len);
	const char *p, *end;
	size_t n = 0;

	if (!semi || !outlen)
		return -1;
	for (p = rec; p < semi; p++)
		if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '-' ||
		      *p == '+' || *p == 'c'))
			return -1;
	p = semi + 1;
	end = memchr(p, '\n', len - (size_t)(p - rec));
	if (!end)
		end = rec + len;
	/* Unescape "\xNN" (the kernel escapes non-printable bytes). */
	while (p < end && n + 1 < outlen) {
		if (p + 3 < end && p[0] == '\\' && p[1] == 'x') {
			char hex[3] = { p[2], p[3], 0 };
			char *e;
			long v = strtol(hex, &e, 16);

			if (!*e) {
				out[n++] = v >= 0x20 && v < 0x7f ? (char)v : '?';
				p += 4;
				continue;
			}
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	return (int)n;
}

static int add_line(char ***lines, size_t *n, const char *s, size_t len)
{
	char **nl = realloc(*lines, (*n + 1) * sizeof(**lines));

	if (!nl)
		return -ENOMEM;
	*lines = nl;
	nl[*n] = strndup(s, len);
	if (!nl[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static size_t collect_kmsg(struct hdctl_kmsg *k, const char *filter,
			   char ***lines)
{
	char rec[8192], msg[8192];
	size_t n = 0;

	for (;;) {
		ssize_t r = read(k->fd, rec, sizeof(rec) - 1);
		int l;

		if (r < 0) {
			if (errno == EINTR || errno == EPIPE)
				continue;	/* EPIPE: records were lost */
			break;			/* EAGAIN: no more */
		}
		if (!r)
			break;
		l = hdctl_kmsg_parse_record(rec, (size_t)r, msg, sizeof(msg));
		if (l < 0 || (filter && !strstr(msg, filter)))
			continue;
		if (add_line(lines, &n, msg, (size_t)l))
			break;
	}
	return n;
}

/* klogctl fallback: the text after the old snapshot's tail, line by line. */
static size_t collect_klog(struct hdctl_kmsg *k, const char *filter,
			   char ***lines)
{
	size_t len = 0, n = 0, off = 0, tail;
	char *now = klog_read(&len), *work, *p, *eol;

	if (!now)
		return 0;
	work = malloc(len + 1);
	if (!work) {
		free(now);
		return 0;
	}
	memcpy(work, now, len + 1);
	if (k->snapshot && k->snap_len) {
		tail = k->snap_len < 256 ? k->snap_len : 256;
		if (len >= k->snap_len &&
		    !memcmp(now, k->snapshot, k->snap_len)) {
			off = k->snap_len;
		} else {
			/* the buffer wrapped: find the old tail */
			const char *t = k->snapshot + k->snap_len - tail;

			for (p = now; p + tail <= now + len; p++)
				if (!memcmp(p, t, tail))
					off = (size_t)(p - now) + tail;
		}
	}
	for (p = work + off; p < work + len; p = eol + 1) {
		const char *msg = p;

		eol = memchr(p, '\n', (size_t)(work + len - p));
		if (!eol)
			eol = work + len;
		*eol = '\0';
		/* "<4>[    1.234] text" */
		if (*msg == '<' && strchr(msg, '>'))
			msg = strchr(msg, '>') + 1;
		if (*msg == '[' && strchr(msg, ']')) {
			msg = strchr(msg, ']') + 1;
			while (*msg == ' ')
				msg++;
		}
		if (*msg && (!filter || strstr(msg, filter)))
			if (add_line(lines, &n, msg, strlen(msg)))
				break;
	}
	free(work);
	free(k->snapshot);
	k->snapshot = now;
	k->snap_len = len;
	return n;
}

size_t hdctl_kmsg_collect(struct hdctl_kmsg *k, const char *filter,
			  char ***lines)
{
	*lines = NULL;
	if (k->fd >= 0)
		return collect_kmsg(k, filter, lines);
	return collect_klog(k, filter, lines);
}

void hdctl_lines_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

int hdctl_kmsg_param_name(const char *msg, char *out, size_t outlen)
{
	static const char *const marks[] = { "parameter '", "parameter `" };
	size_t i, n;

	for (i = 0; i < 2; i++) {
		const char *p = strstr(msg, marks[i]);

		if (!p)
			continue;
		p += strlen(marks[i]);
		n = strcspn(p, "'`");
		if (!n || !p[n] || n >= outlen)
			continue;
		memcpy(out, p, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

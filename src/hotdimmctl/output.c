// SPDX-License-Identifier: GPL-2.0
/*
 * Output helpers: human-readable sizes, a small JSON writer, aligned
 * tables. Pure (they only write to the FILE they are given).
 */
#include <stdlib.h>
#include <string.h>

#include "hotdimmctl.h"

char *hdctl_fmt_size(u64 v, bool bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned int u = 0;
	u64 whole, rem, tenths;

	if (bytes || v < 1024) {
		snprintf(buf, len, bytes || !v ? "%llu" : "%lluB",
			 (unsigned long long)v);
		return buf;
	}
	while (u < 6 && v >> (10 * (u + 1)))
		u++;
	whole = v >> (10 * u);
	rem = v & ((1ULL << (10 * u)) - 1);
	if (!rem) {
		snprintf(buf, len, "%llu%c", (unsigned long long)whole,
			 units[u]);
		return buf;
	}
	/* rem < 2^60, so rem * 10 cannot overflow */
	tenths = (rem * 10 + (1ULL << (10 * u - 1))) >> (10 * u);
	if (tenths == 10) {
		whole++;
		tenths = 0;
		if (whole == 1024 && u < 6) {
			whole = 1;
			u++;
		}
	}
	snprintf(buf, len, "%llu.%llu%c", (unsigned long long)whole,
		 (unsigned long long)tenths, units[u]);
	return buf;
}

/* ---- JSON ------------------------------------------------------------ */

void hdctl_json_init(struct hdctl_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

void hdctl_json_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void indent(struct hdctl_json *j)
{
	int i;

	for (i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator, indentation and key before a value. */
static void value_prefix(struct hdctl_json *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		fputc('\n', j->f);
		indent(j);
	}
	j->first[j->depth] = false;
	if (key && j->depth > 0 && j->in_obj[j->depth]) {
		hdctl_json_escape(j->f, key);
		fputs(": ", j->f);
	}
}

static void open_container(struct hdctl_json *j, const char *key, char c,
			   bool obj)
{
	value_prefix(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < HDCTL_JSON_MAX_DEPTH) {
		j->depth++;
		j->first[j->depth] = true;
		j->in_obj[j->depth] = obj;
	}
}

static void close_container(struct hdctl_json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty) {
		fputc('\n', j->f);
		indent(j);
	}
	fputc(c, j->f);
}

void hdctl_json_obj_begin(struct hdctl_json *j, const char *key)
{
	open_container(j, key, '{', true);
}

void hdctl_json_obj_end(struct hdctl_json *j)
{
	close_container(j, '}');
}

void hdctl_json_arr_begin(struct hdctl_json *j, const char *key)
{
	open_container(j, key, '[', false);
}

void hdctl_json_arr_end(struct hdctl_json *j)
{
	close_container(j, ']');
}

void hdctl_json_str(struct hdctl_json *j, const char *key, const char *v)
{
	value_prefix(j, key);
	hdctl_json_escape(j->f, v);
}

void hdctl_json_u64(struct hdctl_json *j, const char *key, u64 v)
{
	value_prefix(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void hdctl_json_i64(struct hdctl_json *j, const char *key, long long v)
{
	value_prefix(j, key);
	fprintf(j->f, "%lld", v);
}

void hdctl_json_bool(struct hdctl_json *j, const char *key, bool v)
{
	value_prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void hdctl_json_null(struct hdctl_json *j, const char *key)
{
	value_prefix(j, key);
	fputs("null", j->f);
}

void hdctl_json_finish(struct hdctl_json *j)
{
	fputc('\n', j->f);
}

/* ---- tables ---------------------------------------------------------- */

int hdctl_table_init(struct hdctl_table *t, size_t ncols,
		     const char *const *header)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
	return hdctl_table_add(t, header);
}

int hdctl_table_add(struct hdctl_table *t, const char *const *row)
{
	char **cells;
	size_t c;

	cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	t->cells = cells;
	cells += t->nrows * t->ncols;
	for (c = 0; c < t->ncols; c++) {
		cells[c] = strdup(row[c] ? row[c] : "");
		if (!cells[c]) {
			while (c--)
				free(cells[c]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

void hdctl_table_print(const struct hdctl_table *t, FILE *f)
{
	size_t *w, r, c;

	w = calloc(t->ncols ? t->ncols : 1, sizeof(*w));
	if (!w)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols)
				fputs(s, f);
			else
				fprintf(f, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', f);
	}
	free(w);
}

void hdctl_table_free(struct hdctl_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

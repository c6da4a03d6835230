// SPDX-License-Identifier: GPL-2.0
/*
 * Size and emulated-DIMM list parsing. Pure logic: this file compiles
 * unchanged in the module, in hotdimmctl and in the unit tests.
 */
#include "hotdimm_parse.h"

static bool hd_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static int hd_digit(char c, unsigned int base)
{
	unsigned int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return v < base ? (int)v : -1;
}

static int hd_shift_for(char c)
{
	switch (c) {
	case 'k': case 'K':
		return 10;
	case 'm': case 'M':
		return 20;
	case 'g': case 'G':
		return 30;
	case 't': case 'T':
		return 40;
	case 'p': case 'P':
		return 50;
	case 'e': case 'E':
		return 60;
	default:
		return -1;
	}
}

int hotdimm_parse_size(const char *s, size_t len, u64 *out)
{
	unsigned int base = 10;
	size_t i = 0, digits = 0;
	u64 val = 0;
	int shift = 0;

	while (len && hd_isspace(s[len - 1]))
		len--;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (; i < len; i++, digits++) {
		int d = hd_digit(s[i], base);

		if (d < 0)
			break;
		if (val > (U64_MAX - (u64)d) / base)
			return -ERANGE;
		val = val * base + (u64)d;
	}
	if (!digits)
		return -EINVAL;
	if (i < len) {
		shift = hd_shift_for(s[i]);
		/* "0x10G" would be ambiguous with hex digits: no suffix on hex */
		if (shift < 0 || base == 16)
			return -EINVAL;
		i++;
		if (i < len && (s[i] == 'i' || s[i] == 'I'))
			i++;
		if (i < len && (s[i] == 'b' || s[i] == 'B'))
			i++;
		if (i != len)
			return -EINVAL;
	}
	if (shift && val > (U64_MAX >> shift))
		return -ERANGE;
	*out = val << shift;
	return 0;
}

int hotdimm_parse_dimms(const char *s, struct hotdimm_range *ranges,
			unsigned int *nr, unsigned int *bad_idx)
{
	unsigned int n = 0;
	size_t len = 0;

	*nr = 0;
	*bad_idx = 0;
	while (s[len])
		len++;
	while (len && hd_isspace(s[len - 1]))
		len--;
	if (!len)
		return 0;

	for (;;) {
		size_t end = 0, at = 0;
		bool have_at = false;
		int ret;

		while (end < len && s[end] != ',') {
			if (s[end] == '@' && !have_at) {
				at = end;
				have_at = true;
			}
			end++;
		}
		*bad_idx = n;
		if (n >= HOTDIMM_MAX_DIMMS)
			return -E2BIG;
		if (!have_at)
			return -EINVAL;
		ret = hotdimm_parse_size(s, at, &ranges[n].size);
		if (!ret)
			ret = hotdimm_parse_size(s + at + 1, end - at - 1,
						 &ranges[n].start);
		if (ret)
			return ret;
		n++;
		*nr = n;
		if (end == len)
			return 0;
		s += end + 1;
		len -= end + 1;
	}
}

enum hotdimm_range_error hotdimm_check_range(const struct hotdimm_range *ranges,
					     unsigned int idx, u64 block_size,
					     u64 limit)
{
	const struct hotdimm_range *r = &ranges[idx];
	unsigned int i;

	if (!r->size)
		return HOTDIMM_RANGE_EMPTY;
	if (r->start > U64_MAX - r->size || r->start + r->size > limit)
		return HOTDIMM_RANGE_OVERFLOW;
	if ((r->start | r->size) & (block_size - 1))
		return HOTDIMM_RANGE_UNALIGNED;
	for (i = 0; i < idx; i++) {
		const struct hotdimm_range *o = &ranges[i];

		if (r->start < o->start + o->size && o->start < r->start + r->size)
			return HOTDIMM_RANGE_DUPLICATE;
	}
	return HOTDIMM_RANGE_OK;
}

const char *hotdimm_range_error_str(enum hotdimm_range_error err)
{
	switch (err) {
	case HOTDIMM_RANGE_OK:
		return "ok";
	case HOTDIMM_RANGE_EMPTY:
		return "empty (size 0)";
	case HOTDIMM_RANGE_UNALIGNED:
		return "not aligned to the memory block size";
	case HOTDIMM_RANGE_OVERFLOW:
		return "beyond the hot-pluggable physical address range";
	case HOTDIMM_RANGE_DUPLICATE:
		return "overlaps another DIMM";
	}
	return "invalid";
}

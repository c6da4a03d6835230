/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing and validation of sizes and emulated DIMM lists.
 *
 * Pure logic: shared by the module (dimms= and sysfs writes), hotdimmctl and
 * the unit tests.
 */
#ifndef HOTDIMM_PARSE_H
#define HOTDIMM_PARSE_H

#include "hotdimm_common.h"

#define HOTDIMM_MAX_DIMMS	16

struct hotdimm_range {
	u64 start;
	u64 size;
};

/*
 * hotdimm_parse_size - parse "1073741824", "0x40000000", "512M", "1G", "2T"
 * @s:   string, not necessarily NUL-terminated at @len
 * @len: number of characters to look at; a trailing newline is ignored
 * @out: result in bytes
 *
 * Suffixes K, M, G, T (upper or lower case, optional trailing "B" or "iB")
 * are binary multiples. Returns 0, -EINVAL for garbage or an empty string,
 * -ERANGE when the value does not fit in 64 bits.
 */
int hotdimm_parse_size(const char *s, size_t len, u64 *out);

/*
 * hotdimm_parse_dimms - parse "SIZE@START[,SIZE@START...]"
 * @s:       the list
 * @ranges:  array of at least HOTDIMM_MAX_DIMMS entries
 * @nr:      number of entries parsed
 * @bad_idx: on error, the 0-based index of the offending entry
 *
 * Returns 0, -EINVAL for a malformed entry, -ERANGE for an overflowing
 * number, -E2BIG for more than HOTDIMM_MAX_DIMMS entries.
 */
int hotdimm_parse_dimms(const char *s, struct hotdimm_range *ranges,
			unsigned int *nr, unsigned int *bad_idx);

enum hotdimm_range_error {
	HOTDIMM_RANGE_OK = 0,
	HOTDIMM_RANGE_EMPTY,		/* size is 0 */
	HOTDIMM_RANGE_UNALIGNED,	/* start or size not block-aligned */
	HOTDIMM_RANGE_OVERFLOW,		/* start + size wraps or passes limit */
	HOTDIMM_RANGE_DUPLICATE,	/* overlaps an earlier entry */
};

/*
 * hotdimm_check_range - validate entry @idx of @ranges
 * @block_size: Linux memory block size (a power of two)
 * @limit:      first address that cannot be hot-added (exclusive end)
 *
 * Checks the entry on its own and against entries 0..@idx-1.
 */
enum hotdimm_range_error hotdimm_check_range(const struct hotdimm_range *ranges,
					     unsigned int idx, u64 block_size,
					     u64 limit);

/* Short human-readable reason for a range error, e.g. "not block-aligned". */
const char *hotdimm_range_error_str(enum hotdimm_range_error err);

#endif /* HOTDIMM_PARSE_H */

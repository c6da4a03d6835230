// SPDX-License-Identifier: GPL-2.0
/* Unit tests: size parsing, DIMM lists, range validation (src/parse.c). */
#include <string.h>

#include "check.h"
#include "hotdimm_parse.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define BS (128 * MiB)

static void size_case(const char *s, int want_ret, unsigned long long want)
{
	char name[96];
	u64 v = 0;
	int ret = hotdimm_parse_size(s, strlen(s), &v);

	snprintf(name, sizeof(name), "parse_size '%.*s%s'",
		 (int)strcspn(s, "\n"), s, strchr(s, '\n') ? "\\n" : "");
	if (want_ret)
		CHECK(name, ret == want_ret, "ret %d, want %d", ret, want_ret);
	else
		CHECK(name, ret == 0 && v == want, "ret %d value %llu, want %llu",
		      ret, (unsigned long long)v, want);
}

static void dimms_case(const char *s, int want_ret, unsigned int want_nr,
		       unsigned int want_bad)
{
	struct hotdimm_range r[HOTDIMM_MAX_DIMMS];
	unsigned int nr = 99, bad = 99;
	char name[96];
	int ret = hotdimm_parse_dimms(s, r, &nr, &bad);

	snprintf(name, sizeof(name), "parse_dimms '%.60s'", s);
	if (want_ret)
		CHECK(name, ret == want_ret && bad == want_bad,
		      "ret %d bad %u, want %d bad %u", ret, bad, want_ret,
		      want_bad);
	else
		CHECK(name, ret == 0 && nr == want_nr, "ret %d nr %u, want nr %u",
		      ret, nr, want_nr);
}

static void range_case(const char *name, const struct hotdimm_range *r,
		       unsigned int idx, enum hotdimm_range_error want)
{
	enum hotdimm_range_error got = hotdimm_check_range(r, idx, BS, 1ULL << 46);

	CHECK(name, got == want, "got %d (%s), want %d", got,
	      hotdimm_range_error_str(got), want);
}

int main(void)
{
	struct hotdimm_range r[4];
	struct hotdimm_range one[HOTDIMM_MAX_DIMMS];
	unsigned int nr, bad;
	char longlist[512];
	int i;

	size_case("0", 0, 0);
	size_case("4096", 0, 4096);
	size_case("0x40000000", 0, GiB);
	size_case("0X10", 0, 16);
	size_case("512M", 0, 512 * MiB);
	size_case("512m", 0, 512 * MiB);
	size_case("1G", 0, GiB);
	size_case("1GiB", 0, GiB);
	size_case("1GB", 0, GiB);
	size_case("2T", 0, 2ULL << 40);
	size_case("64K", 0, 64 << 10);
	size_case("1G\n", 0, GiB);
	size_case("18446744073709551615", 0, ~0ULL);
	size_case("18446744073709551616", -ERANGE, 0);
	size_case("16E", -ERANGE, 0);
	size_case("17179869184G", -ERANGE, 0);
	size_case("", -EINVAL, 0);
	size_case("\n", -EINVAL, 0);
	size_case("G", -EINVAL, 0);
	size_case("-1", -EINVAL, 0);
	size_case("1X", -EINVAL, 0);
	size_case("1GG", -EINVAL, 0);
	size_case("1 G", -EINVAL, 0);
	size_case("0x", -EINVAL, 0);
	size_case("0x10G", -EINVAL, 0);
	size_case("12abc", -EINVAL, 0);

	dimms_case("1G@0x40000000", 0, 1, 0);
	dimms_case("512M@0x40000000,1G@0x80000000", 0, 2, 0);
	dimms_case("", 0, 0, 0);
	dimms_case("1G", -EINVAL, 0, 0);
	dimms_case("1G@0x40000000,junk", -EINVAL, 0, 1);
	dimms_case("1G@0x40000000,,1G@0x80000000", -EINVAL, 0, 1);
	dimms_case("1G@", -EINVAL, 0, 0);
	dimms_case("@0x40000000", -EINVAL, 0, 0);
	dimms_case("1G@0x40000000@1", -EINVAL, 0, 0);
	dimms_case("16E@0x40000000", -ERANGE, 0, 0);
	longlist[0] = '\0';
	for (i = 0; i < HOTDIMM_MAX_DIMMS + 1; i++)
		snprintf(longlist + strlen(longlist),
			 sizeof(longlist) - strlen(longlist), "%s128M@%d",
			 i ? "," : "", i);
	dimms_case(longlist, -E2BIG, 0, HOTDIMM_MAX_DIMMS);

	hotdimm_parse_dimms("1G@0x40000000", one, &nr, &bad);
	CHECK("parse_dimms values", one[0].size == GiB && one[0].start == GiB,
	      "size %llu start %llu", (unsigned long long)one[0].size,
	      (unsigned long long)one[0].start);

	r[0] = (struct hotdimm_range){ .start = GiB, .size = GiB };
	range_case("range ok", r, 0, HOTDIMM_RANGE_OK);
	r[0] = (struct hotdimm_range){ .start = GiB, .size = 0 };
	range_case("range empty", r, 0, HOTDIMM_RANGE_EMPTY);
	r[0] = (struct hotdimm_range){ .start = GiB, .size = 100 * MiB };
	range_case("range size unaligned", r, 0, HOTDIMM_RANGE_UNALIGNED);
	r[0] = (struct hotdimm_range){ .start = GiB + MiB, .size = BS };
	range_case("range start unaligned", r, 0, HOTDIMM_RANGE_UNALIGNED);
	r[0] = (struct hotdimm_range){ .start = ~0ULL - BS + 1, .size = 2 * BS };
	range_case("range wraps", r, 0, HOTDIMM_RANGE_OVERFLOW);
	r[0] = (struct hotdimm_range){ .start = 1ULL << 46, .size = BS };
	range_case("range beyond limit", r, 0, HOTDIMM_RANGE_OVERFLOW);
	r[0] = (struct hotdimm_range){ .start = GiB, .size = GiB };
	r[1] = (struct hotdimm_range){ .start = GiB + BS, .size = BS };
	range_case("range overlaps earlier", r, 1, HOTDIMM_RANGE_DUPLICATE);
	r[1] = (struct hotdimm_range){ .start = GiB, .size = GiB };
	range_case("range duplicate", r, 1, HOTDIMM_RANGE_DUPLICATE);
	r[1] = (struct hotdimm_range){ .start = 2 * GiB, .size = GiB };
	range_case("range adjacent ok", r, 1, HOTDIMM_RANGE_OK);

	return check_failed;
}

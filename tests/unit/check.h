/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal unit-test reporting: one "PASS name" / "FAIL name: why" a check. */
#ifndef HOTDIMM_CHECK_H
#define HOTDIMM_CHECK_H

#include <stdio.h>

static int check_failed;

#define CHECK(name, cond, ...)						\
	do {								\
		if (cond) {						\
			printf("PASS %s\n", name);			\
		} else {						\
			printf("FAIL %s: ", name);			\
			printf(__VA_ARGS__);				\
			printf(" (%s:%d)\n", __FILE__, __LINE__);	\
			check_failed = 1;				\
		}							\
	} while (0)

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * memhold: guest helper for hotdimm's tests. Holds anonymous memory filled
 * with a known pattern while the test unplugs memory, then verifies it.
 *
 *   memhold MIB [START END]
 *
 * Maps MIB MiB of anonymous memory, writes a pattern into every 64-bit word
 * and prints "ready pages=N inrange=M" where M counts the pages whose
 * physical address (from /proc/self/pagemap; needs root) lies in
 * [START, END). Then waits for SIGUSR1, verifies every word and prints
 * "verify ok inrange=M" (exit 0) or "verify bad words=N first=OFFSET"
 * (exit 1). SIGTERM ends it without verifying (exit 2).
 *
 * Built statically by tests/guest/run and put at /bin/memhold.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL

static uint64_t pattern(uint64_t i)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	return x ^ 0x686f7464696d6d00ULL;
}

static long count_in_range(const void *buf, size_t len, uint64_t start,
			   uint64_t end)
{
	size_t npages = len / PAGE, i;
	uint64_t first = (uintptr_t)buf / PAGE;
	uint64_t ent[512];
	long in = 0;
	int fd;

	if (end <= start)
		return 0;
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -1;
	for (i = 0; i < npages; i += 512) {
		size_t n = npages - i < 512 ? npages - i : 512, j;
		ssize_t r = pread(fd, ent, n * 8, (first + i) * 8);

		if (r != (ssize_t)(n * 8)) {
			close(fd);
			return -1;
		}
		for (j = 0; j < n; j++) {
			uint64_t pfn = ent[j] & ((1ULL << 55) - 1);

			if (!(ent[j] >> 63) || !pfn)
				continue;
			if (pfn * PAGE >= start && pfn * PAGE < end)
				in++;
		}
	}
	close(fd);
	return in;
}

int main(int argc, char **argv)
{
	uint64_t start = 0, end = 0, *w, nwords, i, bad = 0, first_bad = 0;
	sigset_t set;
	size_t len;
	int sig;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: memhold MIB [START END]\n");
		return 2;
	}
	len = strtoull(argv[1], NULL, 0) << 20;
	if (argc == 4) {
		start = strtoull(argv[2], NULL, 0);
		end = strtoull(argv[3], NULL, 0);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	w = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		perror("memhold: mmap");
		return 2;
	}
	nwords = len / 8;
	for (i = 0; i < nwords; i++)
		w[i] = pattern(i);
	printf("ready pages=%zu inrange=%ld\n", len / PAGE,
	       count_in_range(w, len, start, end));
	fflush(stdout);

	if (sigwait(&set, &sig) || sig != SIGUSR1)
		return 2;
	for (i = 0; i < nwords; i++) {
		if (w[i] != pattern(i)) {
			if (!bad)
				first_bad = i * 8;
			bad++;
		}
	}
	if (bad) {
		printf("verify bad words=%" PRIu64 " first=%" PRIu64 "\n", bad,
		       first_bad);
		return 1;
	}
	printf("verify ok inrange=%ld\n", count_in_range(w, len, start, end));
	return 0;
}

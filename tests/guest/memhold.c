// SPDX-License-Identifier: GPL-2.0
/*
 * memhold: guest helper for hotdimm's tests. Holds anonymous memory filled
 * with a known pattern while the test unplugs memory, then verifies it.
 *
 *   memhold [--pin] MIB [START END]
 *
 * Maps MIB MiB of anonymous memory, writes a pattern into every 64-bit word
 * and prints "ready pages=N inrange=M" where M counts the pages whose
 * physical address (from /proc/self/pagemap; needs root) lies in
 * [START, END). Then waits for SIGUSR1, verifies every word and prints
 * "verify ok inrange=M" (exit 0) or "verify bad words=N first=OFFSET"
 * (exit 1). SIGTERM ends it without verifying (exit 2).
 *
 * --pin: also vmsplice() up to PIN_MAX of the pages in [START, END) into a
 * pipe that is never read, and print "pinned=N" on the ready line. The
 * pipe holds a reference to each of them until memhold exits, so page
 * migration fails for them and offlining their memory block keeps retrying
 * (holding the kernel's hotplug locks) until the offlining task gets a
 * signal: the way tests make an administrator's offline take long.
 *
 * Built statically by tests/guest/run and put at /bin/memhold.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096UL
#define PIN_MAX 64

static uint64_t pattern(uint64_t i)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	return x ^ 0x686f7464696d6d00ULL;
}

/*
 * Pages of @buf whose physical address lies in [@start, @end); with @pipefd
 * >= 0, up to PIN_MAX of them are also spliced into that pipe (*@pinned).
 */
static long count_in_range(const void *buf, size_t len, uint64_t start,
			   uint64_t end, int pipefd, long *pinned)
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
			if (pfn * PAGE < start || pfn * PAGE >= end)
				continue;
			in++;
			if (pipefd >= 0 && *pinned < PIN_MAX) {
				struct iovec iov = {
					.iov_base = (char *)buf + (i + j) * PAGE,
					.iov_len = PAGE,
				};

				if (vmsplice(pipefd, &iov, 1, 0) == (ssize_t)PAGE)
					(*pinned)++;
			}
		}
	}
	close(fd);
	return in;
}

int main(int argc, char **argv)
{
	uint64_t start = 0, end = 0, *w, nwords, i, bad = 0, first_bad = 0;
	int sig, pipefd[2] = { -1, -1 };
	long pinned = 0, in;
	sigset_t set;
	size_t len;

	if (argc > 1 && !strcmp(argv[1], "--pin")) {
		if (pipe(pipefd)) {
			perror("memhold: pipe");
			return 2;
		}
		/* Room for PIN_MAX pages: one pipe buffer each. */
		fcntl(pipefd[1], F_SETPIPE_SZ, PIN_MAX * PAGE);
		argc--;
		argv++;
	}
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: memhold [--pin] MIB [START END]\n");
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
	in = count_in_range(w, len, start, end, pipefd[1], &pinned);
	if (pipefd[1] >= 0)
		printf("ready pages=%zu inrange=%ld pinned=%ld\n", len / PAGE, in,
		       pinned);
	else
		printf("ready pages=%zu inrange=%ld\n", len / PAGE, in);
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
	printf("verify ok inrange=%ld\n",
	       count_in_range(w, len, start, end, -1, &pinned));
	return 0;
}

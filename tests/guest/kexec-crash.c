// SPDX-License-Identifier: GPL-2.0
/*
 * kexec-crash: guest helper for hotdimm's kdump test. Loads a kernel and
 * initramfs as the crash kernel with kexec_file_load(), so that a panic
 * boots it (kdump), without kexec-tools.
 *
 *   kexec-crash KERNEL INITRD CMDLINE
 *
 * Exit status: 0 loaded, 1 the kernel refused (the error is printed), 2
 * bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int kfd, ifd;
	long ret;

	if (argc != 4) {
		fprintf(stderr, "usage: kexec-crash KERNEL INITRD CMDLINE\n");
		return 2;
	}
	kfd = open(argv[1], O_RDONLY);
	ifd = open(argv[2], O_RDONLY);
	if (kfd < 0 || ifd < 0) {
		fprintf(stderr, "kexec-crash: cannot open %s: %s\n",
			kfd < 0 ? argv[1] : argv[2], strerror(errno));
		return 2;
	}
	/* The command line length includes its NUL. */
	ret = syscall(SYS_kexec_file_load, kfd, ifd, strlen(argv[3]) + 1,
		      argv[3], (unsigned long)KEXEC_FILE_ON_CRASH);
	if (ret) {
		fprintf(stderr, "kexec-crash: kexec_file_load: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

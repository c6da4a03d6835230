# SPDX-License-Identifier: GPL-2.0
#
# hotdimm: user-facing wrapper around kbuild (see Kbuild), the tools and
# the test suite.
#
#   make [KDIR=...]        build hotdimm.ko (and hotdimmctl)
#   make check             unit, build, lint, DKMS and guest tests
#   make soak              random resizes under load and the race lane
#                          (administrator online/offline racing resizes),
#                          1000 per transport and kernel (RESIZES=, SEED=,
#                          KERNEL= to change)
#   make check-debug       guest tests (and the short soak) on the debug
#                          kernel (KASAN, lockdep, kmemleak; built once;
#                          resumes an interrupted run, FRESH=1 restarts)
#   make demo              boot a guest and grow/shrink an emulated DIMM
#   make bench             side-by-side benchmark against virtio_mem
#   make install           install module (+ depmod), modprobe config, tools,
#                          man pages
#   make deb               Debian packages in build/deb/ (scripts/mkdeb.sh)
#   make clean

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)

# KDIR: the running kernel's build dir, else the newest installed Debian
# headers (this lets the module build on a host whose own kernel has no
# headers, e.g. a CI container).
KVER ?= $(shell uname -r)
KDIR ?= $(shell if [ -d /lib/modules/$(KVER)/build ]; then \
		echo /lib/modules/$(KVER)/build; \
	else \
		ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1; \
	fi)

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

.PHONY: all module tools check check-debug soak unit demo bench install \
	install-tools uninstall clean deps deb

all: module tools

module:
	@if [ -z "$(KDIR)" ] || [ ! -d "$(KDIR)" ]; then \
		echo "hotdimm: no kernel build dir; install linux-headers-$$(uname -r) or set KDIR=" >&2; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tools:
	$(MAKE) -C src/hotdimmctl

deps:
	scripts/deps.sh

check:
	tests/run

RESIZES ?= 1000
soak:
	HOTDIMM_SOAK_RESIZES=$(RESIZES) HOTDIMM_RACE_ITERS=$(RESIZES) \
		$(if $(SEED),HOTDIMM_SOAK_SEED=$(SEED) HOTDIMM_RACE_SEED=$(SEED)) \
		tests/guest/run -k soak -k race-lane $(if $(KERNEL),--kernel $(KERNEL))

# ARGS: extra tests/guest/run arguments, e.g. make check-debug ARGS="-k faults";
# it resumes an interrupted run of the same tree, FRESH=1 starts over.
check-debug:
	scripts/check-debug.sh $(if $(FRESH),--fresh) $(ARGS)

unit:
	tests/run unit

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

deb:
	scripts/mkdeb.sh

# `make install` installs for the kernel of KDIR, which need not be the
# running one (e.g. `make install KVER=6.12.95+deb12-amd64`). Its release is
# UTS_RELEASE from KDIR's include/generated/utsrelease.h, i.e. what the
# module's vermagic says and `uname -r` prints under that kernel; only when
# that header is missing, include/config/kernel.release. (Debian's 6.1
# headers have "6.1.192" in kernel.release but "6.1.0-56-amd64" in
# utsrelease.h; the latter is the /lib/modules directory.) The module goes
# to /lib/modules/<release>/updates/ (searched before the kernel's own
# modules); depmod runs for that release unless DESTDIR stages the install
# elsewhere (packagers run depmod on the target).
KRELEASE = $(or $(shell sed -n 's/.*UTS_RELEASE "\(.*\)".*/\1/p' \
		$(KDIR)/include/generated/utsrelease.h 2>/dev/null), \
	$(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null))
MODDIR = $(DESTDIR)/lib/modules/$(KRELEASE)/updates

install: module tools
	@if [ -z "$(KRELEASE)" ]; then \
		echo "hotdimm: cannot read $(KDIR)/include/config/kernel.release" >&2; \
		exit 1; \
	fi
	rm -f $(MODDIR)/hotdimm.ko*
	install -D -m 644 hotdimm.ko $(MODDIR)/hotdimm.ko
	install -D -m 644 scripts/hotdimm-modprobe.conf $(DESTDIR)/etc/modprobe.d/hotdimm.conf
	$(MAKE) install-tools
	@if [ -z "$(DESTDIR)" ]; then \
		echo "depmod -a $(KRELEASE)"; depmod -a $(KRELEASE); \
	else \
		echo "hotdimm: DESTDIR set, run depmod $(KRELEASE) on the target"; \
	fi

install-tools:
	$(MAKE) -C src/hotdimmctl install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	install -D -m 755 scripts/hotdimm-qmp $(DESTDIR)$(PREFIX)/bin/hotdimm-qmp
	install -D -m 644 man/hotdimmctl.8 $(DESTDIR)$(MANDIR)/man8/hotdimmctl.8
	install -D -m 644 man/hotdimm-qmp.1 $(DESTDIR)$(MANDIR)/man1/hotdimm-qmp.1
	install -D -m 644 man/hotdimm.4 $(DESTDIR)$(MANDIR)/man4/hotdimm.4

uninstall:
	rm -f $(MODDIR)/hotdimm.ko*
	@if [ -z "$(DESTDIR)" ] && [ -n "$(KRELEASE)" ]; then depmod -a $(KRELEASE); fi
	rm -f $(DESTDIR)/etc/modprobe.d/hotdimm.conf
	rm -f $(DESTDIR)$(PREFIX)/bin/hotdimmctl $(DESTDIR)$(PREFIX)/bin/hotdimm-qmp
	rm -f $(DESTDIR)$(MANDIR)/man8/hotdimmctl.8 $(DESTDIR)$(MANDIR)/man1/hotdimm-qmp.1 \
		$(DESTDIR)$(MANDIR)/man4/hotdimm.4

# Works without any kernel headers too (kbuild's clean needs KDIR; the rm
# covers what an in-tree build leaves when KDIR is gone).
clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; \
	fi
	rm -f *.o *.ko *.mod *.mod.c .*.cmd .module-common.o modules.order \
		Module.symvers src/*.o src/.*.cmd src/*.mod.c
	@if [ -f src/hotdimmctl/Makefile ]; then $(MAKE) -C src/hotdimmctl clean; fi
	rm -rf build

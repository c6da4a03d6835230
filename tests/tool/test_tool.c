// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for hotdimmctl's pure parts: size parsing (the module's own
 * src/parse.c) and formatting, argument parsing, kernel log parsing,
 * /proc/iomem parsing, device names and the JSON writer.
 *
 * Prints one "PASS <name>" or "FAIL <name>: <reason>" line per group and
 * exits 1 if any group failed.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hotdimm_parse.h"
#include "hotdimmctl.h"

static int failed_groups;
static const char *group;
static char first_err[512];
static int group_fails;

static void begin(const char *name)
{
	group = name;
	group_fails = 0;
	first_err[0] = '\0';
}

static void end(void)
{
	if (group_fails) {
		printf("FAIL tool-unit-%s: %s%s\n", group, first_err,
		       group_fails > 1 ? " (and more)" : "");
		failed_groups++;
	} else {
		printf("PASS tool-unit-%s\n", group);
	}
}

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	if (!group_fails++) {
		va_start(ap, fmt);
		vsnprintf(first_err, sizeof(first_err), fmt, ap);
		va_end(ap);
	}
}

/* ---- sizes ----------------------------------------------------------- */

static int psize(const char *s, u64 *v)
{
	return hotdimm_parse_size(s, strlen(s), v);
}

static void expect_size(const char *s, u64 want)
{
	u64 v = 0;
	int ret = psize(s, &v);

	check(!ret && v == want, "parse_size(\"%s\") = %d/%llu, want %llu", s,
	      ret, (unsigned long long)v, (unsigned long long)want);
}

static void expect_size_err(const char *s, int want)
{
	u64 v = 12345;
	int ret = psize(s, &v);

	check(ret == want && v == 12345,
	      "parse_size(\"%s\") = %d, want %d (value untouched)", s, ret,
	      want);
}

static void test_size_parse(void)
{
	begin("size-parse-suffixes");
	expect_size("0", 0);
	expect_size("1", 1);
	expect_size("1073741824", 1ULL << 30);
	expect_size("1K", 1ULL << 10);
	expect_size("1k", 1ULL << 10);
	expect_size("512M", 512ULL << 20);
	expect_size("512m", 512ULL << 20);
	expect_size("1G", 1ULL << 30);
	expect_size("3g", 3ULL << 30);
	expect_size("2T", 2ULL << 40);
	expect_size("1GB", 1ULL << 30);
	expect_size("1GiB", 1ULL << 30);
	expect_size("128MiB", 128ULL << 20);
	expect_size("1G\n", 1ULL << 30);
	expect_size("0G", 0);
	end();

	begin("size-parse-hex");
	expect_size("0x40000000", 0x40000000ULL);
	expect_size("0X40000000", 0x40000000ULL);
	expect_size("0xffffffffffffffff", U64_MAX);
	expect_size("0x0", 0);
	expect_size_err("0x", -EINVAL);
	expect_size_err("0x10G", -EINVAL);
	end();

	begin("size-parse-overflow");
	expect_size("18446744073709551615", U64_MAX);
	expect_size_err("18446744073709551616", -ERANGE);
	expect_size_err("99999999999999999999999", -ERANGE);
	expect_size_err("0x10000000000000000", -ERANGE);
	expect_size("16777215T", 16777215ULL << 40);
	expect_size_err("16777216T", -ERANGE);
	expect_size_err("17179869184G", -ERANGE);
	end();

	begin("size-parse-garbage");
	expect_size_err("", -EINVAL);
	expect_size_err("G", -EINVAL);
	expect_size_err("abc", -EINVAL);
	expect_size_err("1X", -EINVAL);
	expect_size_err("1GG", -EINVAL);
	expect_size_err("1G5", -EINVAL);
	expect_size_err("-1", -EINVAL);
	expect_size_err("+1", -EINVAL);
	expect_size_err(" 1", -EINVAL);
	expect_size_err("1.5G", -EINVAL);
	expect_size_err("1 G", -EINVAL);
	expect_size_err("1Gx", -EINVAL);
	expect_size_err("\n", -EINVAL);
	end();
}

static void expect_fmt(u64 v, bool bytes, const char *want)
{
	char buf[32];

	hdctl_fmt_size(v, bytes, buf, sizeof(buf));
	check(!strcmp(buf, want), "fmt_size(%llu%s) = \"%s\", want \"%s\"",
	      (unsigned long long)v, bytes ? ", bytes" : "", buf, want);
}

static void test_size_format(void)
{
	static const u64 round_trip[] = {
		0, 1, 1023, 1024, 4096, 128ULL << 20, 1ULL << 30,
		3ULL << 30, 1ULL << 40, 5ULL << 50, 1ULL << 60,
	};
	size_t i;

	begin("size-format");
	expect_fmt(0, false, "0");
	expect_fmt(1, false, "1B");
	expect_fmt(1023, false, "1023B");
	expect_fmt(1024, false, "1K");
	expect_fmt(1536, false, "1.5K");
	expect_fmt(128ULL << 20, false, "128M");
	expect_fmt(1ULL << 30, false, "1G");
	expect_fmt(1536ULL << 20, false, "1.5G");
	expect_fmt(1500ULL << 20, false, "1.5G");
	expect_fmt((1ULL << 30) - 1, false, "1.0G");
	expect_fmt(2ULL << 40, false, "2T");
	expect_fmt((1ULL << 40) - (1ULL << 20), false, "1.0T");
	expect_fmt(U64_MAX, false, "16.0E");
	expect_fmt(1ULL << 60, false, "1E");
	expect_fmt(1073741824, true, "1073741824");
	expect_fmt(0, true, "0");
	expect_fmt(U64_MAX, true, "18446744073709551615");
	end();

	begin("size-format-parse-roundtrip");
	for (i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
		char buf[32];
		u64 v;
		size_t l;

		hdctl_fmt_size(round_trip[i], false, buf, sizeof(buf));
		l = strlen(buf);
		/* "1023B" is not a parse_size spelling: drop the B */
		if (l && buf[l - 1] == 'B')
			buf[--l] = '\0';
		check(!psize(buf, &v) && v == round_trip[i],
		      "%llu -> \"%s\" does not parse back",
		      (unsigned long long)round_trip[i], buf);
	}
	end();
}

/* ---- args ---------------------------------------------------------------- */

#define ARGV(...) ((char *const[]){ "hotdimmctl", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "hotdimmctl", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(a, err, ...) \
	hdctl_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (a), (err), sizeof(err))

static void expect_usage(int argc, char *const argv[], const char *needle)
{
	struct hdctl_args a;
	char err[512];
	int ret = hdctl_parse_args(argc, argv, &a, err, sizeof(err));

	check(ret == -1 && strstr(err, needle),
	      "'%s %s ...' gave %d \"%s\", want a usage error with \"%s\"",
	      argc > 1 ? argv[1] : "", argc > 2 ? argv[2] : "", ret, err,
	      needle);
}

#define USAGE(needle, ...) expect_usage(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), needle)

static void test_args(void)
{
	struct hdctl_args a;
	char err[512];
	int ret;

	begin("args-global");
	ret = hdctl_parse_args(1, ARGV(NULL), &a, err, sizeof(err));
	check(ret == -1 && strstr(err, "no command"), "no args: %d %s", ret,
	      err);
	ret = PARSE(&a, err, "--version");
	check(!ret && a.cmd == HDCTL_CMD_VERSION, "--version");
	ret = PARSE(&a, err, "-V");
	check(!ret && a.cmd == HDCTL_CMD_VERSION, "-V");
	ret = PARSE(&a, err, "--help");
	check(!ret && a.cmd == HDCTL_CMD_HELP &&
	      a.help_for == HDCTL_CMD_NONE, "--help");
	ret = PARSE(&a, err, "help", "resize");
	check(!ret && a.cmd == HDCTL_CMD_HELP &&
	      a.help_for == HDCTL_CMD_RESIZE, "help resize");
	USAGE("unknown command", "frobnicate");
	USAGE("unknown option", "--frob");
	USAGE("unknown command", "help", "frob");
	end();

	begin("args-help-every-command");
	{
		static const char *const cmds[] = {
			"load", "unload", "status", "resize", "set",
		};
		static const enum hdctl_cmd ids[] = {
			HDCTL_CMD_LOAD, HDCTL_CMD_UNLOAD, HDCTL_CMD_STATUS,
			HDCTL_CMD_RESIZE, HDCTL_CMD_SET,
		};
		size_t i;

		for (i = 0; i < 5; i++) {
			char *argv[] = { "hotdimmctl", (char *)cmds[i],
					 "--help", NULL };
			char *argv2[] = { "hotdimmctl", (char *)cmds[i],
					  "bogus=1", "-h", NULL };

			ret = hdctl_parse_args(3, argv, &a, err, sizeof(err));
			check(!ret && a.cmd == ids[i] && a.help,
			      "%s --help", cmds[i]);
			ret = hdctl_parse_args(4, argv2, &a, err, sizeof(err));
			check(!ret && a.cmd == ids[i] && a.help,
			      "%s bogus=1 -h", cmds[i]);
		}
	}
	end();

	begin("args-load");
	ret = PARSE(&a, err, "load");
	check(!ret && a.cmd == HDCTL_CMD_LOAD && !a.nparams &&
	      !a.module_path, "load");
	ret = PARSE(&a, err, "load", "--module", "/hotdimm.ko",
		    "dimms=1G@0x40000000", "movable_ratio=0");
	check(!ret && a.module_path && !strcmp(a.module_path, "/hotdimm.ko") &&
	      a.nparams == 2 && !strcmp(a.params[0], "dimms=1G@0x40000000") &&
	      !strcmp(a.params[1], "movable_ratio=0"), "load --module: %s",
	      err);
	ret = PARSE(&a, err, "load", "dimms=1G@0x40000000", "--module=x.ko",
		    "numa_aware");
	check(!ret && !strcmp(a.module_path, "x.ko") && a.nparams == 2 &&
	      !strcmp(a.params[1], "numa_aware"), "load --module=: %s", err);
	ret = PARSE(&a, err, "load", "-m", "x.ko", "online_policy=kernel");
	check(!ret && !strcmp(a.module_path, "x.ko") && a.nparams == 1,
	      "load -m: %s", err);
	ret = PARSE(&a, err, "load", "--", "dimms=1G@0x40000000");
	check(!ret && a.nparams == 1, "load --: %s", err);
	USAGE("needs a PATH", "load", "--module");
	USAGE("empty module path", "load", "--module=");
	USAGE("expected PARAM=VALUE", "load", "=5");
	USAGE("expected PARAM=VALUE", "load", "bad name=1");
	USAGE("expected PARAM=VALUE", "load", "a.b=1");
	USAGE("unknown option", "load", "--force");
	end();

	begin("args-unload");
	ret = PARSE(&a, err, "unload");
	check(!ret && a.cmd == HDCTL_CMD_UNLOAD && !a.force_unplug &&
	      a.timeout == HDCTL_DEFAULT_UNLOAD, "unload");
	ret = PARSE(&a, err, "unload", "--force-unplug", "--timeout", "5");
	check(!ret && a.force_unplug && a.timeout == 5, "unload force: %s",
	      err);
	ret = PARSE(&a, err, "unload", "--timeout=7");
	check(!ret && a.timeout == 7, "unload --timeout=7: %s", err);
	USAGE("invalid timeout", "unload", "--timeout=0");
	USAGE("invalid timeout", "unload", "--timeout=x");
	USAGE("needs SECONDS", "unload", "--timeout");
	USAGE("unexpected argument", "unload", "hotdimm.0");
	USAGE("unknown option", "unload", "--force");
	end();

	begin("args-status");
	ret = PARSE(&a, err, "status");
	check(!ret && a.cmd == HDCTL_CMD_STATUS && !a.device && !a.json &&
	      !a.bytes, "status");
	ret = PARSE(&a, err, "status", "hotdimm.0", "--json", "--bytes");
	check(!ret && !strcmp(a.device, "hotdimm.0") && a.json && a.bytes,
	      "status hotdimm.0 --json --bytes: %s", err);
	ret = PARSE(&a, err, "status", "-b", "3");
	check(!ret && !strcmp(a.device, "3") && a.bytes, "status -b 3");
	USAGE("unexpected argument", "status", "hotdimm.0", "hotdimm.1");
	USAGE("unknown option", "status", "--jason");
	USAGE("unknown option", "status", "--json=1");
	end();

	begin("args-resize");
	ret = PARSE(&a, err, "resize", "hotdimm.0", "1G");
	check(!ret && a.cmd == HDCTL_CMD_RESIZE && a.size == 1ULL << 30 &&
	      !a.wait, "resize: %s", err);
	ret = PARSE(&a, err, "resize", "hotdimm.0", "512M", "--wait");
	check(!ret && a.size == 512ULL << 20 && a.wait &&
	      a.wait_secs == HDCTL_DEFAULT_WAIT, "resize --wait: %s", err);
	ret = PARSE(&a, err, "resize", "--wait=30", "0", "0x8000000");
	check(!ret && a.wait && a.wait_secs == 30 && a.size == 0x8000000 &&
	      !strcmp(a.device, "0"), "resize --wait=30: %s", err);
	USAGE("expected DEVICE SIZE", "resize");
	USAGE("expected DEVICE SIZE", "resize", "hotdimm.0");
	USAGE("invalid size 'lots'", "resize", "hotdimm.0", "lots");
	USAGE("invalid size '-1G'", "resize", "hotdimm.0", "--", "-1G");
	USAGE("unknown option '-1G'", "resize", "hotdimm.0", "-1G");
	USAGE("too large", "resize", "hotdimm.0", "99999999999999999999");
	USAGE("too large", "resize", "hotdimm.0", "16777216T");
	USAGE("invalid --wait", "resize", "hotdimm.0", "1G", "--wait=0");
	USAGE("invalid --wait", "resize", "hotdimm.0", "1G", "--wait=abc");
	USAGE("invalid --wait", "resize", "hotdimm.0", "1G", "--wait=99999999");
	USAGE("unexpected argument", "resize", "hotdimm.0", "1G", "2G");
	end();

	begin("args-set");
	ret = PARSE(&a, err, "set", "ratio=0");
	check(!ret && a.cmd == HDCTL_CMD_SET && a.set_ratio && a.ratio == 0 &&
	      !a.device && !a.policy && !a.set_numa, "set ratio=0: %s", err);
	ret = PARSE(&a, err, "set", "hotdimm.1", "ratio=4294967295");
	check(!ret && a.set_ratio && a.ratio == 4294967295U &&
	      !strcmp(a.device, "hotdimm.1"), "set dev ratio: %s", err);
	ret = PARSE(&a, err, "set", "policy=movable", "numa_aware=N",
		    "movable_ratio=150");
	check(!ret && a.policy && !strcmp(a.policy, "movable") &&
	      a.set_numa && !a.numa_aware && a.ratio == 150,
	      "set all: %s", err);
	ret = PARSE(&a, err, "set", "online_policy=auto-movable",
		    "numa_aware=yes");
	check(!ret && !strcmp(a.policy, "auto-movable") && a.numa_aware,
	      "set online_policy: %s", err);
	USAGE("expected ratio=N", "set");
	USAGE("expected ratio=N", "set", "hotdimm.0");
	USAGE("invalid ratio", "set", "ratio=-1");
	USAGE("invalid ratio", "set", "ratio=4294967296");
	USAGE("invalid ratio", "set", "ratio=");
	USAGE("invalid ratio", "set", "ratio=1G");
	USAGE("invalid policy", "set", "policy=fast");
	USAGE("invalid policy", "set", "policy=");
	USAGE("invalid numa_aware", "set", "numa_aware=maybe");
	USAGE("unknown setting", "set", "speed=3");
	USAGE("given twice", "set", "ratio=1", "ratio=2");
	USAGE("module-wide", "set", "hotdimm.0", "policy=kernel");
	USAGE("module-wide", "set", "hotdimm.0", "numa_aware=Y");
	USAGE("DEVICE comes first", "set", "ratio=1", "hotdimm.0");
	USAGE("unknown option", "set", "--ratio=1");
	end();
}

static void test_numbers(void)
{
	u32 v;

	begin("parse-bool-u32");
	check(hdctl_parse_bool("Y") == 1 && hdctl_parse_bool("y") == 1 &&
	      hdctl_parse_bool("1") == 1 && hdctl_parse_bool("true") == 1,
	      "true spellings");
	check(hdctl_parse_bool("N") == 0 && hdctl_parse_bool("0") == 0 &&
	      hdctl_parse_bool("off") == 0, "false spellings");
	check(hdctl_parse_bool("") == -1 && hdctl_parse_bool("YES!") == -1,
	      "bool garbage");
	check(!hdctl_parse_u32("0", &v) && v == 0, "u32 0");
	check(!hdctl_parse_u32("4294967295", &v) && v == 4294967295U,
	      "u32 max");
	check(hdctl_parse_u32("4294967296", &v) == -1, "u32 overflow");
	check(hdctl_parse_u32("99999999999999999999999", &v) == -1,
	      "u32 long overflow");
	check(hdctl_parse_u32("", &v) == -1 && hdctl_parse_u32("1x", &v) == -1 &&
	      hdctl_parse_u32(" 1", &v) == -1, "u32 garbage");
	end();
}

/* ---- devices, kmsg, iomem -------------------------------------------------- */

static void test_names(void)
{
	char out[64];

	begin("device-names");
	check(hdctl_dev_id("hotdimm.0") == 0, "hotdimm.0");
	check(hdctl_dev_id("hotdimm.12") == 12, "hotdimm.12");
	check(hdctl_dev_id("hotdimm.") == -1, "hotdimm.");
	check(hdctl_dev_id("hotdimm.x") == -1, "hotdimm.x");
	check(hdctl_dev_id("hotdimm0") == -1, "hotdimm0");
	check(hdctl_dev_id("virtio0") == -1, "virtio0");
	check(hdctl_dev_id("hotdimm.99999999999999") == -1, "huge id");
	check(!hdctl_dev_normalize("3", out, sizeof(out)) &&
	      !strcmp(out, "hotdimm.3"), "normalize 3 -> %s", out);
	check(!hdctl_dev_normalize("hotdimm.4", out, sizeof(out)) &&
	      !strcmp(out, "hotdimm.4"), "normalize hotdimm.4");
	check(hdctl_dev_normalize("", out, sizeof(out)) == -EINVAL,
	      "normalize empty");
	check(hdctl_dev_normalize("../x", out, sizeof(out)) == -EINVAL,
	      "normalize ../x");
	check(hdctl_dev_normalize("hotdimm.0/../../x", out, sizeof(out)) ==
	      -EINVAL, "normalize traversal");
	end();
}

static void test_kmsg(void)
{
	char out[256];
	const char *r;
	int n;

	begin("kmsg-records");
	r = "4,1234,5678901,-;hotdimm: unknown parameter 'bogus' ignored\n";
	n = hdctl_kmsg_parse_record(r, strlen(r), out, sizeof(out));
	check(n > 0 && !strcmp(out, "hotdimm: unknown parameter 'bogus' ignored"),
	      "plain record: %d \"%s\"", n, out);
	r = "3,99,100,c;hotdimm: a\\x09b\n SUBSYSTEM=platform\n DEVICE=+platform:hotdimm.0\n";
	n = hdctl_kmsg_parse_record(r, strlen(r), out, sizeof(out));
	check(n > 0 && !strcmp(out, "hotdimm: a?b"),
	      "escaped record with dictionary: \"%s\"", out);
	r = "no semicolon here";
	check(hdctl_kmsg_parse_record(r, strlen(r), out, sizeof(out)) == -1,
	      "malformed record accepted");
	r = "6,1,2,-;";
	n = hdctl_kmsg_parse_record(r, strlen(r), out, sizeof(out));
	check(n == 0 && !out[0], "empty record");
	r = "6,1,2,-;0123456789";
	n = hdctl_kmsg_parse_record(r, strlen(r), out, 5);
	check(n == 4 && !strcmp(out, "0123"), "truncation: %d %s", n, out);
	end();

	begin("kmsg-param-names");
	check(hdctl_kmsg_param_name("hotdimm: unknown parameter 'bogus' ignored",
				    out, sizeof(out)) && !strcmp(out, "bogus"),
	      "unknown parameter");
	check(hdctl_kmsg_param_name("hotdimm: `abc' invalid for parameter `movable_ratio'",
				    out, sizeof(out)) &&
	      !strcmp(out, "movable_ratio"), "6.1 style: %s", out);
	check(hdctl_kmsg_param_name("hotdimm: 'abc' invalid for parameter 'numa_aware'",
				    out, sizeof(out)) &&
	      !strcmp(out, "numa_aware"), "new style: %s", out);
	check(!hdctl_kmsg_param_name("hotdimm: dimms: entry 0: not aligned",
				     out, sizeof(out)), "no quoted name");
	check(!hdctl_kmsg_param_name("parameter 'unterminated", out,
				     sizeof(out)), "unterminated");
	end();
}

static void test_iomem(void)
{
	u64 s = 0, e = 0;

	begin("iomem-lines");
	check(hdctl_iomem_parse_line("  40000000-47ffffff : System RAM (hotdimm)",
				     &s, &e) == 1 &&
	      s == 0x40000000 && e == 0x47ffffff, "hotdimm range");
	check(hdctl_iomem_parse_line("100000000-2ffffffff : System RAM (hotdimm)\n",
				     &s, &e) == 1 && s == 0x100000000ULL,
	      "top-level range");
	check(!hdctl_iomem_parse_line("00100000-3fffffff : System RAM", &s, &e),
	      "plain System RAM");
	check(!hdctl_iomem_parse_line("  40000000-47ffffff : System RAM (kmem)",
				      &s, &e), "kmem");
	check(!hdctl_iomem_parse_line("40000000-47ffffff : System RAM (hotdimm) x",
				      &s, &e), "suffix");
	check(!hdctl_iomem_parse_line("garbage", &s, &e), "garbage");
	end();
}

/* ---- JSON / tables ------------------------------------------------------------ */

static char *capture(void (*fn)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fn(f);
	fclose(f);
	return buf;
}

static void json_sample(FILE *f)
{
	struct hdctl_json j;

	hdctl_json_init(&j, f);
	hdctl_json_obj_begin(&j, NULL);
	hdctl_json_str(&j, "s", "a\"b\\c\n\t\x01");
	hdctl_json_u64(&j, "big", U64_MAX);
	hdctl_json_i64(&j, "neg", -1);
	hdctl_json_bool(&j, "t", true);
	hdctl_json_null(&j, "n");
	hdctl_json_obj_begin(&j, "empty");
	hdctl_json_obj_end(&j);
	hdctl_json_arr_begin(&j, "arr");
	hdctl_json_u64(&j, NULL, 1);
	hdctl_json_obj_begin(&j, NULL);
	hdctl_json_bool(&j, "f", false);
	hdctl_json_obj_end(&j);
	hdctl_json_arr_end(&j);
	hdctl_json_obj_end(&j);
	hdctl_json_finish(&j);
}

static void table_sample(FILE *f)
{
	static const char *const h[] = { "A", "LONGER", "C" };
	static const char *const r[] = { "xyz", "1", "last" };
	struct hdctl_table t;

	hdctl_table_init(&t, 3, h);
	hdctl_table_add(&t, r);
	hdctl_table_print(&t, f);
	hdctl_table_free(&t);
}

static void test_json(void)
{
	const char *want =
		"{\n"
		"  \"s\": \"a\\\"b\\\\c\\n\\t\\u0001\",\n"
		"  \"big\": 18446744073709551615,\n"
		"  \"neg\": -1,\n"
		"  \"t\": true,\n"
		"  \"n\": null,\n"
		"  \"empty\": {},\n"
		"  \"arr\": [\n"
		"    1,\n"
		"    {\n"
		"      \"f\": false\n"
		"    }\n"
		"  ]\n"
		"}\n";
	char *got = capture(json_sample);

	begin("json-writer");
	check(got && !strcmp(got, want), "got:\n%s", got ? got : "(null)");
	free(got);
	end();

	begin("table-layout");
	got = capture(table_sample);
	check(got && !strcmp(got, "A    LONGER  C\nxyz  1       last\n"),
	      "got:\n%s", got ? got : "(null)");
	free(got);
	end();
}

int main(int argc, char **argv)
{
	/* "--json-sample" prints the JSON sample for a python validity check */
	if (argc > 1 && !strcmp(argv[1], "--json-sample")) {
		json_sample(stdout);
		return 0;
	}
	test_size_parse();
	test_size_format();
	test_args();
	test_numbers();
	test_names();
	test_kmsg();
	test_iomem();
	test_json();
	return failed_groups ? 1 : 0;
}

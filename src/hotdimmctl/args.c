// SPDX-License-Identifier: GPL-2.0
/*
 * Command line parsing. Pure: no I/O, so the unit tests can drive it.
 */
#include <string.h>

#include "hotdimm_acct.h"
#include "hotdimm_parse.h"
#include "hotdimmctl.h"

static const char *const cmd_names[] = {
	[HDCTL_CMD_NONE] = "",
	[HDCTL_CMD_LOAD] = "load",
	[HDCTL_CMD_UNLOAD] = "unload",
	[HDCTL_CMD_STATUS] = "status",
	[HDCTL_CMD_RESIZE] = "resize",
	[HDCTL_CMD_SET] = "set",
	[HDCTL_CMD_HELP] = "help",
	[HDCTL_CMD_VERSION] = "version",
};

const char *hdctl_cmd_name(enum hdctl_cmd cmd)
{
	if ((unsigned int)cmd >= ARRAY_SIZE(cmd_names))
		return "";
	return cmd_names[cmd];
}

static enum hdctl_cmd cmd_lookup(const char *s)
{
	int c;

	for (c = HDCTL_CMD_LOAD; c <= HDCTL_CMD_SET; c++)
		if (!strcmp(s, cmd_names[c]))
			return (enum hdctl_cmd)c;
	if (!strcmp(s, "help"))
		return HDCTL_CMD_HELP;
	return HDCTL_CMD_NONE;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg);
	return -1;
}

int hdctl_parse_bool(const char *s)
{
	static const char *const yes[] = { "Y", "y", "1", "yes", "true", "on" };
	static const char *const no[] = { "N", "n", "0", "no", "false", "off" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -1;
}

int hdctl_parse_u32(const char *s, u32 *out)
{
	u64 v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (u64)(*s - '0');
		if (v > U32_MAX)
			return -1;
	}
	*out = (u32)v;
	return 0;
}

static int parse_seconds(const char *s, unsigned int *out)
{
	u32 v;

	if (hdctl_parse_u32(s, &v) || v == 0 || v > HDCTL_MAX_SECONDS)
		return -1;
	*out = v;
	return 0;
}

/*
 * Does @arg spell option @name, as "--name" or "--name=VALUE"?
 * Returns 1 and sets *val to the text after '=' (or NULL).
 */
static int opt_is(const char *arg, const char *name, const char **val)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n))
		return 0;
	if (arg[n] == '\0') {
		*val = NULL;
		return 1;
	}
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	return 0;
}

/* Module parameter names as the kernel allows them: [A-Za-z0-9_-]+ */
static bool valid_param_name(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int parse_assignment(struct hdctl_args *a, const char *arg, char *err,
			    size_t errlen)
{
	const char *eq = strchr(arg, '=');
	const char *val;
	size_t klen;
	int b;

	if (!eq || eq == arg)
		return fail(err, errlen,
			    "set: expected ratio=N, policy=P or numa_aware=Y|N, got '%s'",
			    arg);
	klen = (size_t)(eq - arg);
	val = eq + 1;
	if ((klen == 5 && !strncmp(arg, "ratio", 5)) ||
	    (klen == 13 && !strncmp(arg, "movable_ratio", 13))) {
		if (a->set_ratio)
			return fail(err, errlen, "set: %s given twice", "ratio");
		if (hdctl_parse_u32(val, &a->ratio))
			return fail(err, errlen,
				    "set: invalid ratio '%s' (a percentage 0..4294967295)",
				    val);
		a->set_ratio = true;
	} else if ((klen == 6 && !strncmp(arg, "policy", 6)) ||
		   (klen == 13 && !strncmp(arg, "online_policy", 13))) {
		int p;

		if (a->policy)
			return fail(err, errlen, "set: %s given twice", "policy");
		p = hotdimm_policy_parse(val, strlen(val));
		if (p < 0 || !*val)
			return fail(err, errlen,
				    "set: invalid policy '%s' (auto-movable, movable, kernel or system)",
				    val);
		a->policy = hotdimm_policy_name((enum hotdimm_policy)p);
	} else if (klen == 10 && !strncmp(arg, "numa_aware", 10)) {
		if (a->set_numa)
			return fail(err, errlen, "set: %s given twice",
				    "numa_aware");
		b = hdctl_parse_bool(val);
		if (b < 0)
			return fail(err, errlen,
				    "set: invalid numa_aware '%s' (Y or N)", val);
		a->set_numa = true;
		a->numa_aware = b;
	} else {
		return fail(err, errlen,
			    "set: unknown setting '%s' (ratio, policy or numa_aware)",
			    arg);
	}
	return 0;
}

static int parse_size_arg(struct hdctl_args *a, const char *s, char *err,
			  size_t errlen)
{
	int ret = hotdimm_parse_size(s, strlen(s), &a->size);

	if (ret == -ERANGE)
		return fail(err, errlen, "resize: size '%s' is too large", s);
	if (ret)
		return fail(err, errlen,
			    "resize: invalid size '%s' (e.g. 1073741824, 0x40000000, 512M, 1G)",
			    s);
	a->size_str = s;
	return 0;
}

/* One positional argument of command @a->cmd. */
static int parse_positional(struct hdctl_args *a, char *const argv[], int i,
			    int *npos, char *err, size_t errlen)
{
	const char *arg = argv[i];

	switch (a->cmd) {
	case HDCTL_CMD_LOAD: {
		const char *eq = strchr(arg, '=');
		size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);

		if (!valid_param_name(arg, klen))
			return fail(err, errlen,
				    "load: expected PARAM=VALUE, got '%s'", arg);
		if (a->nparams >= HDCTL_MAX_PARAMS)
			return fail(err, errlen,
				    "load: too many parameters ('%s')", arg);
		a->params[a->nparams++] = arg;
		return 0;
	}
	case HDCTL_CMD_STATUS:
		if (*npos >= 1)
			return fail(err, errlen,
				    "status: unexpected argument '%s'", arg);
		a->device = arg;
		break;
	case HDCTL_CMD_RESIZE:
		if (*npos == 0) {
			a->device = arg;
		} else if (*npos == 1) {
			if (parse_size_arg(a, arg, err, errlen))
				return -1;
		} else {
			return fail(err, errlen,
				    "resize: unexpected argument '%s'", arg);
		}
		break;
	case HDCTL_CMD_SET:
		if (strchr(arg, '='))
			return parse_assignment(a, arg, err, errlen);
		if (*npos >= 1 || a->set_ratio || a->policy || a->set_numa)
			return fail(err, errlen,
				    "set: unexpected argument '%s' (DEVICE comes first)",
				    arg);
		a->device = arg;
		break;
	case HDCTL_CMD_HELP:
		if (*npos >= 1)
			return fail(err, errlen, "help: unexpected argument '%s'",
				    arg);
		a->help_for = cmd_lookup(arg);
		if (a->help_for == HDCTL_CMD_NONE ||
		    a->help_for == HDCTL_CMD_HELP)
			return fail(err, errlen, "help: unknown command '%s'",
				    arg);
		break;
	default:
		return fail(err, errlen, "%s: unexpected argument", hdctl_cmd_name(a->cmd));
	}
	(*npos)++;
	return 0;
}

/* One option of command @a->cmd; may consume argv[*i + 1]. */
static int parse_option(struct hdctl_args *a, int argc, char *const argv[],
			int *i, char *err, size_t errlen)
{
	const char *arg = argv[*i];
	const char *val;

	switch (a->cmd) {
	case HDCTL_CMD_LOAD:
		if (!strcmp(arg, "-m"))
			val = NULL;
		if (!strcmp(arg, "-m") || opt_is(arg, "--module", &val)) {
			if (!val) {
				if (*i + 1 >= argc)
					return fail(err, errlen,
						    "load: %s needs a PATH", arg);
				val = argv[++*i];
			}
			if (!*val)
				return fail(err, errlen,
					    "load: empty module path%s", "");
			a->module_path = val;
			return 0;
		}
		break;
	case HDCTL_CMD_UNLOAD:
		if (!strcmp(arg, "--force-unplug")) {
			a->force_unplug = true;
			return 0;
		}
		if (opt_is(arg, "--timeout", &val)) {
			if (!val) {
				if (*i + 1 >= argc)
					return fail(err, errlen,
						    "unload: %s needs SECONDS", arg);
				val = argv[++*i];
			}
			if (parse_seconds(val, &a->timeout))
				return fail(err, errlen,
					    "unload: invalid timeout '%s' (seconds, 1..86400)",
					    val);
			return 0;
		}
		break;
	case HDCTL_CMD_STATUS:
		if (!strcmp(arg, "--json")) {
			a->json = true;
			return 0;
		}
		if (!strcmp(arg, "--bytes") || !strcmp(arg, "-b")) {
			a->bytes = true;
			return 0;
		}
		break;
	case HDCTL_CMD_RESIZE:
		if (opt_is(arg, "--wait", &val)) {
			a->wait = true;
			if (val && parse_seconds(val, &a->wait_secs))
				return fail(err, errlen,
					    "resize: invalid --wait timeout '%s' (seconds, 1..86400)",
					    val);
			return 0;
		}
		if (!strcmp(arg, "--bytes") || !strcmp(arg, "-b")) {
			a->bytes = true;
			return 0;
		}
		break;
	case HDCTL_CMD_SET:
	case HDCTL_CMD_HELP:
	default:
		break;
	}
	return fail(err, errlen, "unknown option '%s'", arg);
}

static bool is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

int hdctl_parse_args(int argc, char *const argv[], struct hdctl_args *a,
		     char *err, size_t errlen)
{
	bool opts_done = false;
	int i, cmd_idx, npos = 0;

	memset(a, 0, sizeof(*a));
	a->timeout = HDCTL_DEFAULT_UNLOAD;
	a->wait_secs = HDCTL_DEFAULT_WAIT;
	if (errlen)
		err[0] = '\0';

	/* Global options, then the command. */
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (is_help(arg)) {
			a->cmd = HDCTL_CMD_HELP;
			return 0;
		}
		if (!strcmp(arg, "--version") || !strcmp(arg, "-V")) {
			a->cmd = HDCTL_CMD_VERSION;
			return 0;
		}
		if (arg[0] == '-')
			return fail(err, errlen, "unknown option '%s'", arg);
		a->cmd = cmd_lookup(arg);
		if (a->cmd == HDCTL_CMD_NONE)
			return fail(err, errlen, "unknown command '%s'", arg);
		break;
	}
	if (a->cmd == HDCTL_CMD_NONE)
		return fail(err, errlen, "no command given%s", "");

	/* "--help" anywhere before "--" wins over everything else. */
	cmd_idx = i;
	for (i++; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (is_help(argv[i])) {
			a->help = true;
			return 0;
		}
	}

	for (i = cmd_idx + 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!opts_done && !strcmp(arg, "--")) {
			opts_done = true;
			continue;
		}
		if (!opts_done && arg[0] == '-' && arg[1] != '\0') {
			if (parse_option(a, argc, argv, &i, err, errlen))
				return -1;
			continue;
		}
		if (parse_positional(a, argv, i, &npos, err, errlen))
			return -1;
	}

	switch (a->cmd) {
	case HDCTL_CMD_RESIZE:
		if (!a->device || !a->size_str)
			return fail(err, errlen,
				    "resize: expected DEVICE SIZE%s", "");
		break;
	case HDCTL_CMD_SET:
		if (!a->set_ratio && !a->policy && !a->set_numa)
			return fail(err, errlen,
				    "set: expected ratio=N, policy=P or numa_aware=Y|N%s",
				    "");
		if (a->device && (a->policy || a->set_numa))
			return fail(err, errlen,
				    "set: only ratio is per device; policy and numa_aware are module-wide (omit %s)",
				    a->device);
		break;
	case HDCTL_CMD_HELP:
		if (!npos)
			a->help_for = HDCTL_CMD_NONE;
		break;
	default:
		break;
	}
	return 0;
}

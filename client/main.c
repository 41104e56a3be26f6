/* ephssh: command dispatch, the common options, and the helpers every
 * command shares (messages with the documented exit codes, CA calls). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ephssh.h"
#include "err.h"
#include "out.h"
#include "runtime.h"
#include "util.h"

/* In the order people meet them. */
static const struct ephssh_cmd *const cmds[] = {
    &ephssh_cmd_request,
    &ephssh_cmd_fetch,
    &ephssh_cmd_status,
    &ephssh_cmd_done,
    &ephssh_cmd_list,
    &ephssh_cmd_show,
    &ephssh_cmd_ssh,
    &ephssh_cmd_approve,
    &ephssh_cmd_deny,
    &ephssh_cmd_cancel,
    &ephssh_cmd_review,
    &ephssh_cmd_revoke,
    &ephssh_cmd_login,
    &ephssh_cmd_logout,
    NULL,
};

static const char common_options[] =
    "      --json             print one JSON document on stdout (for scripts)\n"
    "      --config FILE      read FILE instead of " EPHSSH_SYSTEM_CONFIG "\n"
    "                         and ~/.config/ephssh/config\n"
    "      --ca URL           the CA: unix:PATH or https://HOST[:PORT]\n"
    "      --version          show the version\n"
    "  -h, --help             show this help\n";

static void
version(void)
{
	printf("ephssh %s\n", PACKAGE_VERSION);
}

static void
general_help(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: ephssh [--json] [--config FILE] [--ca URL] COMMAND [ARGS]\n"
	    "       ephssh --help | --version\n\n"
	    "Just-in-time SSH access: ask the CA for a certificate for a task, approve\n"
	    "others' requests, and end a grant when the work is done.\n\nCommands:\n");
	for (i = 0; cmds[i] != NULL; i++)
		fprintf(f, "  %-9s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f,
	    "\nRun 'ephssh COMMAND --help' for a command's options; see ephssh(1).\n"
	    "Exit status: 0 success, 1 denied or failed, 2 usage, 3 CA unreachable,\n"
	    "4 timed out waiting, 5 not authorised.\n");
}

static void
cmd_help(const struct ephssh_cmd *cmd)
{
	printf("usage: ephssh %s %s\n\n%c%s.\n\nOptions:\n%s%s", cmd->name, cmd->usage,
	    toupper((unsigned char)cmd->summary[0]), cmd->summary + 1, cmd->options,
	    common_options);
}

/* ------------------------------------------------------------ messages */

static void
vmsg(struct ephssh *e, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s", e->prog);
	if (e->cmd != NULL)
		fprintf(stderr, " %s", e->cmd);
	fputs(": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
ephssh_error(struct ephssh *e, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(e, fmt, ap);
	va_end(ap);
	return rc;
}

int
ephssh_usage_error(const struct ephssh_cmd *cmd, struct ephssh *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(e, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: ephssh %s %s\n", cmd->name, cmd->usage);
	return EPHSSH_EXIT_USAGE;
}

void
ephssh_note(struct ephssh *e, const char *fmt, ...)
{
	va_list ap;

	if (e->json)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ephssh_print_json(struct ephssh *e, const json_t *o)
{
	(void)e;
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_SORT_KEYS) != 0 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return EPHSSH_EXIT_FAIL;
	return EPHSSH_EXIT_OK;
}

const char *
ephssh_jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
ephssh_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 18 || s[0] != 'r' || s[1] != '-')
		return 0;
	for (i = 2; i < 18; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* ------------------------------------------------------------- options */

enum { OPT_JSON = 0x1000, OPT_CONFIG, OPT_CA, OPT_VERSION, OPT_HELP };

static const struct option common_long[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"ca", required_argument, NULL, OPT_CA},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
};

#define NCOMMON (sizeof(common_long) / sizeof(common_long[0]))

/* Apply one common option; 1 when it was one, 0 when not. */
static int
common_opt(struct ephssh *e, int c, const char *arg, const struct ephssh_cmd *cmd, int *rc)
{
	switch (c) {
	case OPT_JSON: e->json = 1; return 1;
	case OPT_CONFIG:
		if (e->config_file != NULL && strcmp(e->config_file, arg) != 0) {
			*rc = cmd != NULL
			    ? ephssh_usage_error(cmd, e, "--config given twice")
			    : ephssh_error(e, EPHSSH_EXIT_USAGE, "--config given twice");
			return -1;
		}
		e->config_file = arg;
		return 1;
	case OPT_CA:
		if (e->ca_flag != NULL && strcmp(e->ca_flag, arg) != 0) {
			*rc = cmd != NULL ? ephssh_usage_error(cmd, e, "--ca given twice")
			                  : ephssh_error(e, EPHSSH_EXIT_USAGE, "--ca given twice");
			return -1;
		}
		e->ca_flag = arg;
		return 1;
	default: return 0;
	}
}

static int
bad_option(const struct ephssh_cmd *cmd, struct ephssh *e, int c, char **argv)
{
	const char *tok = optind > 0 ? argv[optind - 1] : NULL;
	const char *what = c == ':' ? "option requires an argument" : "unknown option";

	if (tok != NULL && strncmp(tok, "--", 2) == 0)
		return ephssh_usage_error(cmd, e, "%s: '%s'", what, tok);
	if (optopt > ' ' && optopt < 0x7f)
		return ephssh_usage_error(cmd, e, "%s: '-%c'", what, optopt);
	return ephssh_usage_error(cmd, e, "%s: '%s'", what, tok ? tok : "?");
}

int
ephssh_getopt(const struct ephssh_cmd *cmd, struct ephssh *e, int argc, char **argv,
    const char *shortopts, const struct option *longopts, int *rc)
{
	/* The command's table and ours, built once per command. */
	static struct option merged[64];
	static const struct option *built_for;
	static char shorts[64];
	size_t n = 0, i;
	int c, k;

	if (built_for != longopts || merged[0].name == NULL) {
		for (i = 0; longopts != NULL && longopts[i].name != NULL && n < 64 - NCOMMON - 1;
		     i++)
			merged[n++] = longopts[i];
		for (i = 0; i < NCOMMON; i++)
			merged[n++] = common_long[i];
		memset(&merged[n], 0, sizeof(merged[n]));
		/* A leading '+' (stop at the first operand: a command's own
		 * arguments follow, as after ssh's HOST) must open the string. */
		if (shortopts != NULL && shortopts[0] == '+')
			snprintf(shorts, sizeof(shorts), "+:h%s", shortopts + 1);
		else
			snprintf(
			    shorts, sizeof(shorts), ":h%s", shortopts != NULL ? shortopts : "");
		built_for = longopts;
	}
	for (;;) {
		c = getopt_long(argc, argv, shorts, merged, NULL);
		if (c == -1)
			return -1;
		if (c == 'h' || c == OPT_HELP) {
			cmd_help(cmd);
			*rc = EPHSSH_EXIT_OK;
			return EPHSSH_GETOPT_DONE;
		}
		if (c == OPT_VERSION) {
			version();
			*rc = EPHSSH_EXIT_OK;
			return EPHSSH_GETOPT_DONE;
		}
		if (c == '?' || c == ':') {
			*rc = bad_option(cmd, e, c, argv);
			return EPHSSH_GETOPT_DONE;
		}
		if ((k = common_opt(e, c, optarg, cmd, rc)) < 0)
			return EPHSSH_GETOPT_DONE;
		if (k == 0)
			return c;
	}
}

/* ------------------------------------------------------------- the CA */

int
ephssh_config(struct ephssh *e)
{
	char *why = NULL;
	const char *sys = getenv("EPHSSH_SYSTEM_CONFIG_FOR_TESTS");

	if (e->conf_loaded)
		return EPHSSH_EXIT_OK;
	if (ephssh_conf_load(sys, e->config_file, e->ca_flag, &e->conf, &why) != EPH_OK) {
		ephssh_error(e, EPHSSH_EXIT_FAIL, "configuration: %s", why ? why : "unreadable");
		free(why);
		return EPHSSH_EXIT_FAIL;
	}
	e->conf_loaded = 1;
	return EPHSSH_EXIT_OK;
}

struct capi *
ephssh_api(struct ephssh *e, int *rc)
{
	char *token = NULL;
	int64_t expires = 0;
	int r;

	if (e->api != NULL)
		return e->api;
	if ((*rc = ephssh_config(e)) != EPHSSH_EXIT_OK)
		return NULL;
	if (strncmp(e->conf.ca, "https://", 8) == 0)
		(void)token_load(e->conf.ca, &token, &expires);
	r = capi_open(&e->conf, token, &e->api);
	eph_free_secret_str(token);
	if (r != EPH_OK) {
		*rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s: %s", e->conf.ca, eph_strerror(r));
		return NULL;
	}
	return e->api;
}

int
ephssh_exit_for_status(long status)
{
	if (status >= 200 && status < 300)
		return EPHSSH_EXIT_OK;
	if (status == 401 || status == 403)
		return EPHSSH_EXIT_NOTAUTH;
	return EPHSSH_EXIT_FAIL;
}

int
ephssh_call(struct ephssh *e, const char *method, const char *path, json_t *body,
    const long *ok_status, struct capi_result *res)
{
	struct capi *a;
	size_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	res->error = "";
	res->detail = "";
	if ((a = ephssh_api(e, &rc)) == NULL)
		return rc;
	if (capi_call(a, method, path, body, res) != EPH_OK) {
		switch (res->outcome) {
		case CAPI_UNREACHABLE:
			return ephssh_error(e, EPHSSH_EXIT_UNREACHABLE, "%s", res->why);
		case CAPI_TLS:
			return ephssh_error(e, EPHSSH_EXIT_UNREACHABLE,
			    "%s (check ca_bundle in the configuration)", res->why);
		default: return ephssh_error(e, EPHSSH_EXIT_FAIL, "%s", res->why);
		}
	}
	if (res->status >= 200 && res->status < 300)
		return EPHSSH_EXIT_OK;
	for (i = 0; ok_status != NULL && ok_status[i] != 0; i++)
		if (ok_status[i] == res->status)
			return EPHSSH_EXIT_OK;
	if (res->status == 401) {
		if (capi_is_tls(a))
			return ephssh_error(e, EPHSSH_EXIT_NOTAUTH,
			    "not logged in to %s, or the session expired: run 'ephssh login'",
			    capi_address(a));
		return ephssh_error(
		    e, EPHSSH_EXIT_NOTAUTH, "%s", res->detail[0] ? res->detail : "not authorised");
	}
	if (res->status == 503)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "the CA cannot record anything now: %s",
		    res->detail[0] ? res->detail : "unavailable");
	if (res->detail[0] != '\0')
		return ephssh_error(e, ephssh_exit_for_status(res->status), "%s", res->detail);
	return ephssh_error(e, ephssh_exit_for_status(res->status), "the CA answered %ld%s%s",
	    res->status, res->error[0] ? ": " : "", res->error);
}

void
ephssh_close(struct ephssh *e)
{
	capi_close(e->api);
	e->api = NULL;
	ephssh_conf_clear(&e->conf);
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	struct ephssh e;
	const struct ephssh_cmd *cmd = NULL;
	int rc = EPHSSH_EXIT_OK, c, k, i;

	memset(&e, 0, sizeof(e));
	e.prog = "ephssh";
	e.tty = isatty(STDOUT_FILENO);
	e.err_tty = isatty(STDERR_FILENO);
	e.color = out_color_ok(STDOUT_FILENO);
	signal(SIGPIPE, SIG_IGN);

	/* Options before the command: the common ones only. */
	opterr = 0;
	for (;;) {
		static const char shorts[] = "+:hV";
		static struct option lo[NCOMMON + 1];

		if (lo[0].name == NULL)
			for (i = 0; i < (int)NCOMMON; i++)
				lo[i] = common_long[i];
		c = getopt_long(argc, argv, shorts, lo, NULL);
		if (c == -1)
			break;
		if (c == 'h' || c == OPT_HELP) {
			general_help(stdout);
			return EPHSSH_EXIT_OK;
		}
		if (c == 'V' || c == OPT_VERSION) {
			version();
			return EPHSSH_EXIT_OK;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "ephssh: %s: '%s'\n",
			    c == ':' ? "option requires an argument" : "unknown option",
			    argv[optind - 1]);
			general_help(stderr);
			return EPHSSH_EXIT_USAGE;
		}
		if ((k = common_opt(&e, c, optarg, NULL, &rc)) < 0)
			return rc;
	}
	if (optind >= argc) {
		general_help(stderr);
		return EPHSSH_EXIT_USAGE;
	}
	for (i = 0; cmds[i] != NULL; i++)
		if (strcmp(cmds[i]->name, argv[optind]) == 0)
			cmd = cmds[i];
	if (cmd == NULL && strcmp(argv[optind], "help") == 0) {
		if (optind + 1 < argc) {
			for (i = 0; cmds[i] != NULL; i++)
				if (strcmp(cmds[i]->name, argv[optind + 1]) == 0) {
					cmd_help(cmds[i]);
					return EPHSSH_EXIT_OK;
				}
		}
		general_help(stdout);
		return EPHSSH_EXIT_OK;
	}
	if (cmd == NULL) {
		fprintf(
		    stderr, "ephssh: unknown command '%s'; run 'ephssh --help'\n", argv[optind]);
		return EPHSSH_EXIT_USAGE;
	}
	e.cmd = cmd->name;
	argc -= optind;
	argv += optind;
	optind = 0; /* getopt_long: start afresh (GNU: 0 reinitialises) */
	rc = cmd->fn(cmd, &e, argc, argv);
	ephssh_close(&e);
	return rc;
}

/*
 * ephssh: the command table, the context every command gets, and the
 * helpers they share (messages with the documented exit codes, common
 * options). Each cmd_*.c defines its commands next to the options they
 * parse; main.c lists them.
 */
#ifndef EPHSSH_H
#define EPHSSH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <getopt.h>
#include <jansson.h>

#include "capi.h"
#include "conf.h"

/* Exit codes, as ephssh(1) documents them. */
#define EPHSSH_EXIT_OK 0
#define EPHSSH_EXIT_FAIL 1 /* denied, or failed */
#define EPHSSH_EXIT_USAGE 2 /* bad command line */
#define EPHSSH_EXIT_UNREACHABLE 3 /* the CA cannot be reached */
#define EPHSSH_EXIT_TIMEOUT 4 /* timed out waiting (approval, expiry) */
#define EPHSSH_EXIT_NOTAUTH 5 /* not authorised: not logged in, forbidden */

/* What every command runs with: the resolved configuration, the output
 * mode, and the CA connection (opened on first use). */
struct ephssh {
	const char *prog; /* "ephssh" */
	const char *cmd; /* the command's name, for messages */
	struct ephssh_conf conf;
	const char *config_file; /* --config */
	const char *ca_flag; /* --ca */
	int json; /* --json: one JSON document on stdout, nothing else */
	int tty; /* stdout is a terminal */
	int err_tty; /* stderr is a terminal */
	int color; /* colour allowed on stdout (a TTY, no NO_COLOR) */
	int conf_loaded;
	struct capi *api;
};

struct ephssh_cmd {
	const char *name;
	int (*fn)(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv);
	const char *usage; /* synopsis after "ephssh NAME " */
	const char *summary; /* one line for "ephssh --help" */
	const char *options; /* the command's own option lines for --help */
};

extern const struct ephssh_cmd ephssh_cmd_show;
extern const struct ephssh_cmd ephssh_cmd_request;
extern const struct ephssh_cmd ephssh_cmd_fetch;
extern const struct ephssh_cmd ephssh_cmd_done;
extern const struct ephssh_cmd ephssh_cmd_status;
/* cmd_decide.c, cmd_list.c, cmd_login.c */
extern const struct ephssh_cmd ephssh_cmd_approve;
extern const struct ephssh_cmd ephssh_cmd_deny;
extern const struct ephssh_cmd ephssh_cmd_cancel;
extern const struct ephssh_cmd ephssh_cmd_review;
extern const struct ephssh_cmd ephssh_cmd_revoke;
extern const struct ephssh_cmd ephssh_cmd_list;
extern const struct ephssh_cmd ephssh_cmd_login;
extern const struct ephssh_cmd ephssh_cmd_logout;
extern const struct ephssh_cmd ephssh_cmd_ssh;

/*
 * getopt_long over the command's own options (shortopts/longopts, which
 * must not use the values below; a leading '+' stops at the first
 * operand, for commands whose operands take options of their own, like
 * ssh's remote command) plus the common ones, which it handles
 * itself: -h/--help (prints the command's help, returns EPHSSH_GETOPT_DONE
 * with *rc = 0), --version (likewise), --json, --config FILE, --ca URL.
 * Returns the next option of the command's own, -1 at the end (optind
 * at the first operand), or EPHSSH_GETOPT_DONE with *rc set (help,
 * version or a usage error already reported).
 */
#define EPHSSH_GETOPT_DONE (-2)
int ephssh_getopt(const struct ephssh_cmd *cmd, struct ephssh *e, int argc, char **argv,
    const char *shortopts, const struct option *longopts, int *rc);

/* Load the configuration (once): --config / --ca over the files over the
 * defaults. EPHSSH_EXIT_OK or EPHSSH_EXIT_FAIL (reported). */
int ephssh_config(struct ephssh *e);

/* The CA connection, opened on first use (configuration loaded first).
 * NULL after reporting why (*rc the exit code). */
struct capi *ephssh_api(struct ephssh *e, int *rc);

/*
 * One call to the CA with the common error handling: on an HTTP answer
 * in 2xx, EPHSSH_EXIT_OK and res->body; otherwise the one-line message
 * (CA unreachable with address and cause, TLS failure, not logged in,
 * the API's detail) on stderr, and the exit code for it. res is always
 * filled (cleared by the caller). what ("approve r-...") starts the
 * message. Statuses listed in ok_status (0-terminated, may be NULL) count
 * as answers too (a 403 denial that carries the request object).
 */
int ephssh_call(struct ephssh *e, const char *method, const char *path, json_t *body,
    const long *ok_status, struct capi_result *res);

/* "ephssh CMD: message" on stderr; each returns the exit code given. */
int ephssh_error(struct ephssh *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ephssh_usage_error(const struct ephssh_cmd *cmd, struct ephssh *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Progress and notes for people (stderr), never with --json. */
void ephssh_note(struct ephssh *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code for an HTTP status the CA answered. */
int ephssh_exit_for_status(long status);

/* The string member k of JSON object o; NULL when absent or not a string. */
const char *ephssh_jstr(const json_t *o, const char *k);

/* Is s a well-formed request id ("r-" + 16 lower-case hex)? */
int ephssh_id_valid(const char *s);

/* Print o as the command's JSON output (one line); EPHSSH_EXIT_OK, or
 * EPHSSH_EXIT_FAIL when it cannot be written. */
int ephssh_print_json(struct ephssh *e, const json_t *o);

void ephssh_close(struct ephssh *e);

#endif

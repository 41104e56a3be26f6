/* sshca: command dispatch, help and the small helpers every command
 * shares (messages with consistent exit codes, option errors, display). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "fileio.h"
#include "key.h"
#include "policy.h"
#include "sshca.h"
#include "util.h"

static int cmd_help(const struct sshca_cmd *self, int argc, char **argv);

static const struct sshca_cmd sshca_cmd_help = {
    "help", cmd_help, "[COMMAND]", "show the commands, or one command's options", ""};

/* Help first, then the commands in the order an operator meets them. */
static const struct sshca_cmd *const sshca_cmds[] = {
    &sshca_cmd_help,
    &sshca_cmd_init,
    &sshca_cmd_pubkey,
    &sshca_cmd_sign,
    &sshca_cmd_krl,
    &sshca_cmd_inspect,
    &sshca_cmd_policy,
    &sshca_cmd_check_config,
    &sshca_cmd_audit,
    &sshca_cmd_serve,
    NULL,
};

static const struct sshca_cmd *
cmd_lookup(const char *name)
{
	size_t i;

	for (i = 0; sshca_cmds[i] != NULL; i++) {
		if (strcmp(sshca_cmds[i]->name, name) == 0)
			return sshca_cmds[i];
	}
	return NULL;
}

static void
usage_line(FILE *f)
{
	fprintf(f, "usage: sshca [--help | --version] COMMAND [ARGS]\n");
}

static void
general_help(FILE *f)
{
	size_t i;

	usage_line(f);
	fprintf(f,
	    "\nAdministration of an ephssh SSH certificate authority, and its "
	    "daemon.\n\nCommands:\n");
	for (i = 0; sshca_cmds[i] != NULL; i++)
		fprintf(f, "  %-12s %s\n", sshca_cmds[i]->name, sshca_cmds[i]->summary);
	fprintf(f, "\nRun 'sshca COMMAND --help' for a command's options.\n");
}

const char *
sshca_strerror(int r)
{
	if (r == EPH_ERR_IO && errno != 0)
		return strerror(errno);
	if (r == EPH_ERR_PERM)
		return "unsafe ownership or permissions: it must be owned by root or you and "
		       "not open to group or others (keys: chmod 600; other files: chmod go-w)";
	return eph_strerror(r);
}

int
sshca_opt_once(const struct sshca_cmd *cmd, const char **slot, const char *name, const char *value)
{
	if (*slot != NULL)
		return sshca_usage_error(cmd, "%s given twice", name);
	*slot = value;
	return SSHCA_EXIT_OK;
}

int
sshca_help(const struct sshca_cmd *cmd)
{
	printf("usage: sshca %s %s\n\n%c%s.\n\nOptions:\n%s"
	       "  -h, --help             show this help\n",
	    cmd->name, cmd->usage, toupper((unsigned char)cmd->summary[0]), cmd->summary + 1,
	    cmd->options);
	return SSHCA_EXIT_OK;
}

int
sshca_usage_error(const struct sshca_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sshca %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: sshca %s %s\n", cmd->name, cmd->usage);
	return SSHCA_EXIT_USAGE;
}

int
sshca_fail(const struct sshca_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sshca %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return SSHCA_EXIT_FAIL;
}

int
sshca_bad_option(const struct sshca_cmd *cmd, int c, char **argv)
{
	const char *tok = optind > 0 ? argv[optind - 1] : NULL;
	const char *what = c == ':' ? "option requires an argument" : "unknown option";
	const char *what_long = c == ':' ? what : "unknown or ambiguous option";

	/*
	 * getopt_long leaves the offending long option in argv[optind - 1];
	 * a short one may sit inside a group, so name it by optopt.
	 */
	if (tok != NULL && strncmp(tok, "--", 2) == 0)
		return sshca_usage_error(cmd, "%s: '%s'", what_long, tok);
	if (optopt > ' ' && optopt < 0x7f)
		return sshca_usage_error(cmd, "%s: '-%c'", what, optopt);
	return sshca_usage_error(cmd, "%s: '%s'", what, tok ? tok : "?");
}

int
sshca_opt_duration(const struct sshca_cmd *cmd, const char *opt, const char *arg, uint64_t *out)
{
	if (parse_duration(arg, out) != EPH_OK)
		return sshca_usage_error(cmd,
		    "%s: bad duration '%s' (use seconds or a sequence like 90s, 5m, 2h, 1h30m)",
		    opt, arg);
	return EPH_OK;
}

int
sshca_opt_u64(const struct sshca_cmd *cmd, const char *opt, const char *arg, uint64_t min,
    uint64_t max, uint64_t *out)
{
	int r;

	if ((r = parse_u64(arg, out)) != EPH_OK)
		return sshca_usage_error(
		    cmd, "%s: bad number '%s': %s", opt, arg, sshca_strerror(r));
	if (*out < min || *out > max)
		return sshca_usage_error(cmd, "%s: %s is out of range (%llu to %llu)", opt, arg,
		    (unsigned long long)min, (unsigned long long)max);
	return EPH_OK;
}

void
sshca_format_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = t > INT64_MAX ? (time_t)INT64_MAX : (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "UNKNOWN-TIME");
}

void
sshca_format_validity(const struct cert *c, char *buf, size_t len)
{
	char from[64], to[64];

	if (c->valid_after == 0 && c->valid_before == CERT_FOREVER) {
		snprintf(buf, len, "forever");
		return;
	}
	sshca_format_time(c->valid_after, from, sizeof(from));
	sshca_format_time(c->valid_before, to, sizeof(to));
	if (c->valid_after == 0)
		snprintf(buf, len, "before %s", to);
	else if (c->valid_before == CERT_FOREVER)
		snprintf(buf, len, "after %s", from);
	else
		snprintf(buf, len, "from %s to %s", from, to);
}

const char *
sshca_key_shortname(enum key_type t)
{
	switch (t) {
	case KEY_ED25519: return "ED25519";
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384:
	case KEY_ECDSA_P521: return "ECDSA";
	case KEY_RSA: return "RSA";
	case KEY_SK_ED25519: return "ED25519-SK";
	case KEY_SK_ECDSA_P256: return "ECDSA-SK";
	default: return "unknown";
	}
}

unsigned
sshca_key_display_bits(const struct key *k)
{
	/* ssh-keygen -l counts the 32-byte Ed25519 public key as 256 bits. */
	if (k->type == KEY_ED25519)
		return 256;
	return key_bits(k);
}

int
sshca_load_public_or_private(const char *path, struct key **out, const char **what)
{
	struct key *pub = NULL, *priv = NULL;
	size_t len = strlen(path);
	int r;

	*out = NULL;
	if ((r = key_load_public(path, &pub, NULL)) != EPH_OK) {
		if (len >= 4 && strcmp(path + len - 4, ".pub") == 0) {
			*what = "cannot load public key";
			goto out;
		}
		if ((r = key_load_private(path, &priv)) != EPH_OK) {
			*what = "cannot load key";
			goto out;
		}
		if ((r = key_dup_public(priv, &pub)) != EPH_OK) {
			*what = "cannot copy public key";
			goto out;
		}
	}
	/* Every caller wants a CA key; we never sign or verify with FIDO keys. */
	if (key_type_is_sk(pub->type)) {
		r = EPH_ERR_KEYTYPE;
		*what = "cannot use a FIDO key as the CA key";
		goto out;
	}
	*out = pub;
	pub = NULL;
	r = EPH_OK;
out:
	key_free(pub);
	key_free(priv);
	return r;
}

void
sshca_print_warnings(const struct policy_errors *w)
{
	size_t i;

	for (i = 0; w != NULL && i < w->n; i++) {
		if (w->v[i].line > 0)
			fprintf(stderr, "%s:%d: warning: %s\n", w->v[i].file, w->v[i].line,
			    w->v[i].msg);
		else
			fprintf(stderr, "%s: warning: %s\n", w->v[i].file, w->v[i].msg);
	}
}

int
sshca_read_text(const char *path, char **out)
{
	struct buf b;
	char *s = NULL;
	int r;

	*out = NULL;
	buf_init(&b);
	if ((r = file_read_all(path, SSHCA_TEXT_FILE_MAX, 0, &b)) != EPH_OK)
		goto out;
	if (b.len != 0 && memchr(b.d, '\0', b.len) != NULL) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((s = malloc(b.len + 1)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if (b.len != 0)
		memcpy(s, b.d, b.len);
	s[b.len] = '\0';
	*out = s;
	r = EPH_OK;
out:
	buf_free(&b);
	return r;
}

static int
cmd_help(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct sshca_cmd *cmd;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': return sshca_help(self);
		default: return sshca_bad_option(self, c, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		general_help(stdout);
		return SSHCA_EXIT_OK;
	}
	if (argc > 1)
		return sshca_usage_error(self, "too many arguments");
	if ((cmd = cmd_lookup(argv[0])) == NULL)
		return sshca_usage_error(self, "unknown command '%s'", argv[0]);
	return sshca_help(cmd);
}

int
main(int argc, char **argv)
{
	const struct sshca_cmd *cmd;
	const char *arg;
	int ret;

	if (argc < 2) {
		general_help(stderr);
		return SSHCA_EXIT_USAGE;
	}
	arg = argv[1];
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		general_help(stdout);
		ret = SSHCA_EXIT_OK;
	} else if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
		printf("sshca (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		ret = SSHCA_EXIT_OK;
	} else if (arg[0] == '-') {
		fprintf(stderr, "sshca: unknown option '%s'\n", arg);
		usage_line(stderr);
		return SSHCA_EXIT_USAGE;
	} else if ((cmd = cmd_lookup(arg)) == NULL) {
		fprintf(stderr, "sshca: unknown command '%s'\n", arg);
		general_help(stderr);
		return SSHCA_EXIT_USAGE;
	} else
		ret = cmd->fn(cmd, argc - 1, argv + 1);

	/* A full disk or closed pipe on stdout must not look like success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sshca: write error on standard output: %s\n", strerror(errno));
		if (ret == SSHCA_EXIT_OK)
			ret = SSHCA_EXIT_FAIL;
	}
	return ret;
}

/* sshca check-config: validate ca.conf and everything it names (the CA
 * keys, the policy, the KRL, the TLS files) before the CA service relies on them, and
 * dump the effective configuration. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caconf.h"
#include "err.h"
#include "key.h"
#include "krl.h"
#include "policy.h"
#include "sshca.h"
#include "util.h"

static int cmd_check_config(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_check_config = {"check-config", cmd_check_config,
    "[-f CACONF] [-T]", "check ca.conf, the CA key, the policy and the KRL it names",
    "  -f, --config CACONF    the CA configuration (default\n"
    "                         " CACONF_DEFAULT_PATH ")\n"
    "  -T, --dump             print the effective configuration, one\n"
    "                         \"key value\" line per key, defaults filled in\n"};

/* Problems found in the files ca.conf names, counted as they are shown. */
struct checker {
	const struct ca_conf *cc;
	size_t nerrors;
};

/* "ca.conf:line: message" (or "ca.conf: message" for a default), on
 * stderr, in the form the loaders use. */
static void __attribute__((format(printf, 3, 4)))
report(struct checker *k, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: ", k->cc->file, line);
	else
		fprintf(stderr, "%s: ", k->cc->file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	k->nerrors++;
}

static void
report_errors(struct checker *k, const struct policy_errors *e)
{
	char *text;

	if ((text = policy_errors_format(e)) == NULL) {
		report(k, 0, "%zu errors (out of memory formatting them)", e->n);
		return;
	}
	fputs(text, stderr);
	if (*text != '\0' && text[strlen(text) - 1] != '\n')
		fputc('\n', stderr);
	free(text);
	k->nerrors += e->n;
}

/*
 * A CA key (ca_key, ca_key_next) must load, and only its owner may read
 * it: key_load_private refuses it otherwise, but says only "permission";
 * say which rule. *loaded: the key, for comparing the two.
 */
static void
check_ca_key(struct checker *k, const char *name, const char *path, int line, char **summary,
    struct key **loaded)
{
	struct key *key = NULL;
	struct stat st;
	char *fp = NULL;
	int r;

	if (lstat(path, &st) != 0) {
		report(k, line, "%s %s: %s", name, path, strerror(errno));
		goto out;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		report(k, line, "%s %s: not a regular file%s", name, path,
		    S_ISLNK(st.st_mode) ? " (symbolic links are refused)" : "");
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		report(k, line, "%s %s: owned by uid %lu, not by root or uid %lu", name, path,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		report(k, line, "%s %s: mode %04o lets group or others at it; chmod 600 it", name,
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((r = key_load_private(path, &key)) != EPH_OK) {
		report(k, line, "%s %s: cannot load: %s", name, path,
		    r == EPH_ERR_FORMAT ? "not a PKCS#8 PEM private key" : sshca_strerror(r));
		goto out;
	}
	if ((r = key_fingerprint(key, &fp)) != EPH_OK) {
		report(k, line, "%s %s: fingerprint: %s", name, path, sshca_strerror(r));
		goto out;
	}
	if (summary != NULL &&
	    asprintf(summary, "CA key %s %s", sshca_key_shortname(key->type), fp) == -1) {
		*summary = NULL;
		report(k, 0, "out of memory");
	}
	*loaded = key;
	key = NULL;
out:
	key_free(key);
	free(fp);
}

/* Both CA keys, and the next one must be a different key. */
static void
check_ca_keys(struct checker *k, char **summary)
{
	const struct ca_conf *cc = k->cc;
	struct key *cur = NULL, *next = NULL;

	check_ca_key(k, "ca_key", cc->ca_key, cc->ca_key_line, summary, &cur);
	if (cc->ca_key_next != NULL)
		check_ca_key(k, "ca_key_next", cc->ca_key_next, cc->ca_key_next_line, NULL, &next);
	if (cur != NULL && next != NULL && key_equal_public(cur, next))
		report(k, cc->ca_key_next_line,
		    "ca_key_next %s: the same key as ca_key; rotation needs a new key (sshca "
		    "init)",
		    cc->ca_key_next);
	key_free(cur);
	key_free(next);
}

/*
 * The TLS files must be regular files; the key readable only by its
 * owner (root or us). Their contents are the TLS library's to judge.
 */
static void
check_tls_file(struct checker *k, const char *name, const char *path, int line, int secret)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		report(k, line, "tls %s %s: %s", name, path, strerror(errno));
		return;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		report(k, line, "tls %s %s: not a regular file%s", name, path,
		    S_ISLNK(st.st_mode) ? " (symbolic links are refused)" : "");
		return;
	}
	if (secret && st.st_uid != 0 && st.st_uid != geteuid()) {
		report(k, line, "tls %s %s: owned by uid %lu, not by root or uid %lu", name, path,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		return;
	}
	if (secret && (st.st_mode & 077) != 0)
		report(k, line, "tls %s %s: mode %04o lets group or others at it; chmod 600 it",
		    name, path, (unsigned)(st.st_mode & 07777));
	else if (!secret && (st.st_mode & 022) != 0)
		report(k, line, "tls %s %s: mode %04o lets group or others write it", name, path,
		    (unsigned)(st.st_mode & 07777));
}

static void
check_tls(struct checker *k)
{
	const struct ca_tls *t = k->cc->tls;

	if (t == NULL)
		return;
	check_tls_file(k, "certificate", t->certificate, t->certificate_line, 0);
	check_tls_file(k, "key", t->key, t->key_line, 1);
}

/* The policy must load, and its ceiling must fit under the CA's own. */
static void
check_policy(struct checker *k, char **summary)
{
	const struct ca_conf *cc = k->cc;
	struct policy_errors errs = {NULL, 0};
	struct policy *p = NULL;
	char ours[32], theirs[32];
	int r;

	if ((r = policy_load(cc->policy, &p, &errs)) != EPH_OK) {
		if (errs.n != 0)
			report_errors(k, &errs);
		else
			report(k, cc->policy_line, "policy %s: %s", cc->policy, sshca_strerror(r));
		goto out;
	}
	sshca_print_warnings(&p->warnings);
	if (p->max_ttl > cc->max_ttl) {
		format_duration(cc->max_ttl, ours, sizeof(ours));
		format_duration(p->max_ttl, theirs, sizeof(theirs));
		report(k, cc->max_ttl_line,
		    "max_ttl %s%s is below the defaults.max_ttl %s of the policy %s", ours,
		    cc->max_ttl_line == 0 ? " (the default)" : "", theirs, cc->policy);
		goto out;
	}
	if (asprintf(summary, "policy %s: %zu task%s, %zu group%s, %zu hostgroup%s", cc->policy,
	        p->ntasks, p->ntasks == 1 ? "" : "s", p->ngroups, p->ngroups == 1 ? "" : "s",
	        p->nhostgroups, p->nhostgroups == 1 ? "" : "s") == -1) {
		*summary = NULL;
		report(k, 0, "out of memory");
	}
out:
	policy_free(p);
	policy_errors_clear(&errs);
}

/*
 * The CA rewrites the KRL itself, so it need not exist yet; but when it
 * does it must parse, and the directory it goes in must exist.
 */
static void
check_krl(struct checker *k)
{
	const struct ca_conf *cc = k->cc;
	struct krl *krl = NULL;
	struct stat st;
	char *copy = NULL, *dir;
	int r, line = cc->revoked_keys_line;

	if (cc->revoked_keys == NULL)
		return;
	if (lstat(cc->revoked_keys, &st) != 0) {
		if (errno != ENOENT) {
			report(k, line, "revoked_keys %s: %s", cc->revoked_keys, strerror(errno));
			goto out;
		}
		if ((copy = strdup(cc->revoked_keys)) == NULL) {
			report(k, 0, "out of memory");
			goto out;
		}
		dir = dirname(copy);
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			report(k, line, "revoked_keys %s: directory %s does not exist",
			    cc->revoked_keys, dir);
		goto out;
	}
	if ((r = krl_load(cc->revoked_keys, &krl)) != EPH_OK)
		report(k, line, "revoked_keys %s: cannot load: %s", cc->revoked_keys,
		    r == EPH_ERR_PERM ? "writable by group or others, or owned by someone else"
		                      : sshca_strerror(r));
out:
	krl_free(krl);
	free(copy);
}

static int
cmd_check_config(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"dump", no_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_errors errs = {NULL, 0};
	struct ca_conf *cc = NULL;
	struct checker k;
	const char *path = NULL;
	char *key_summary = NULL, *policy_summary = NULL, *text;
	int c, r, dump = 0, ret = SSHCA_EXIT_USAGE;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:Th", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (path != NULL) {
				sshca_usage_error(self, "--config given twice");
				goto out;
			}
			path = optarg;
			break;
		case 'T': dump = 1; break;
		case 'h': ret = sshca_help(self); goto out;
		default: ret = sshca_bad_option(self, c, argv); goto out;
		}
	}
	if (optind < argc) {
		sshca_usage_error(self, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (path == NULL)
		path = CACONF_DEFAULT_PATH;

	ret = SSHCA_EXIT_FAIL;
	if ((r = caconf_load(path, &cc, &errs)) != EPH_OK) {
		if (errs.n == 0)
			sshca_fail(self, "%s: %s", path, sshca_strerror(r));
		else if ((text = policy_errors_format(&errs)) == NULL)
			sshca_fail(self, "%s: out of memory", path);
		else {
			fputs(text, stderr);
			if (*text != '\0' && text[strlen(text) - 1] != '\n')
				fputc('\n', stderr);
			free(text);
			sshca_fail(
			    self, "%s: %zu %s", path, errs.n, errs.n == 1 ? "error" : "errors");
		}
		goto out;
	}
	/* Each check runs whatever the others found: one run shows all. */
	k.cc = cc;
	k.nerrors = 0;
	check_ca_keys(&k, &key_summary);
	check_policy(&k, &policy_summary);
	check_krl(&k);
	check_tls(&k);
	if (k.nerrors != 0) {
		sshca_fail(
		    self, "%s: %zu %s", path, k.nerrors, k.nerrors == 1 ? "error" : "errors");
		goto out;
	}
	if (dump)
		caconf_dump(cc, stdout);
	else
		printf("%s: OK: %s, %s\n", path, key_summary, policy_summary);
	ret = SSHCA_EXIT_OK;
out:
	caconf_free(cc);
	policy_errors_clear(&errs);
	free(key_summary);
	free(policy_summary);
	return ret;
}

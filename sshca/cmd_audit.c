/* sshca audit: check the CA's hash-chained audit log (verify) and print
 * the records of one grant (show), reading the store without writing. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "caconf.h"
#include "err.h"
#include "policy.h"
#include "sshca.h"
#include "store.h"
#include "util.h"

static int cmd_audit(const struct sshca_cmd *self, int argc, char **argv);

#define AUDIT_OPT_CONFIG                                                                           \
	"  -f, --config CACONF    the CA configuration naming the database\n"                      \
	"                         (default " CACONF_DEFAULT_PATH ")\n"                             \
	"  -d, --database FILE    read this database instead (a copy, a backup)\n"

const struct sshca_cmd sshca_cmd_audit = {"audit", cmd_audit,
    "verify [-f CACONF | -d DB]\n"
    "       sshca audit show [-f CACONF | -d DB] [--json] ID|SERIAL",
    "verify the audit log's hash chain, or show one grant's records",
    "  verify                 recompute the hash chain; exit 0 with\n"
    "                         \"OK: N records\", 1 naming the first broken record\n"
    "  show                   print the audit records of one request (by its\n"
    "                         id r-...) or of the grant with that serial\n"};

static const struct sshca_cmd audit_verify_cmd = {"audit verify", NULL, "[-f CACONF | -d DB]",
    "recompute the audit log's hash chain from the stored rows (not\n"
    "trusting the table's triggers) and name the first record that was\n"
    "edited, deleted or inserted.\n"
    "Exit status: 0 intact, 1 broken or unreadable, 2 a usage error",
    AUDIT_OPT_CONFIG};

static const struct sshca_cmd audit_show_cmd = {"audit show", NULL,
    "[-f CACONF | -d DB] [--json] ID|SERIAL",
    "print the audit records of one request, given its id (r-...) or the\n"
    "serial of its certificate, oldest first.\n"
    "Exit status: 0 shown, 1 no such grant or unreadable, 2 a usage error",
    AUDIT_OPT_CONFIG "  -j, --json             one JSON array of the records\n"};

struct audit_args {
	const char *config, *database;
	int json;
	int help;
};

static int
audit_parse(const struct sshca_cmd *self, int argc, char **argv, struct audit_args *a, int json_ok)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"database", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while (
	    (c = getopt_long(argc, argv, json_ok ? ":f:d:jh" : ":f:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if ((r = sshca_opt_once(self, &a->config, "-f", optarg)) != SSHCA_EXIT_OK)
				return r;
			break;
		case 'd':
			if ((r = sshca_opt_once(self, &a->database, "-d", optarg)) != SSHCA_EXIT_OK)
				return r;
			break;
		case 'j':
			if (!json_ok)
				return sshca_usage_error(self, "unknown option '--json'");
			a->json = 1;
			break;
		case 'h': a->help = 1; return SSHCA_EXIT_OK;
		default: return sshca_bad_option(self, c, argv);
		}
	}
	if (a->config != NULL && a->database != NULL)
		return sshca_usage_error(self, "-f and -d exclude each other");
	return SSHCA_EXIT_OK;
}

/* The store named by -d, or by ca.conf's database key, opened read-only. */
static int
audit_open(const struct sshca_cmd *self, const struct audit_args *a, struct store **st)
{
	struct policy_errors errs = {NULL, 0};
	struct ca_conf *cc = NULL;
	struct store_opts o;
	const char *path = a->config != NULL ? a->config : CACONF_DEFAULT_PATH;
	char *text;
	int r, ret = SSHCA_EXIT_FAIL;

	*st = NULL;
	memset(&o, 0, sizeof(o));
	o.read_only = 1;
	o.no_log = 1;
	if (a->database != NULL) {
		o.database = a->database;
	} else {
		if ((r = caconf_load(path, &cc, &errs)) != EPH_OK) {
			if (errs.n == 0) {
				sshca_fail(self, "%s: %s", path, sshca_strerror(r));
			} else if ((text = policy_errors_format(&errs)) != NULL) {
				fputs(text, stderr);
				free(text);
				sshca_fail(self, "%s: %zu %s", path, errs.n,
				    errs.n == 1 ? "error" : "errors");
			} else {
				sshca_fail(self, "%s: out of memory", path);
			}
			goto out;
		}
		o.database = cc->database;
	}
	if ((r = store_open(&o, st)) != EPH_OK) {
		sshca_fail(self, "%s: cannot open the database: %s", o.database,
		    r == EPH_ERR_FORMAT ? "not an sshca database of this version"
		                        : sshca_strerror(r));
		goto out;
	}
	ret = SSHCA_EXIT_OK;
out:
	caconf_free(cc);
	policy_errors_clear(&errs);
	return ret;
}

static int
audit_verify(const struct sshca_cmd *self, int argc, char **argv)
{
	struct audit_args a;
	struct audit_chain ch;
	struct store *st = NULL;
	int r, ret;

	if ((ret = audit_parse(self, argc, argv, &a, 0)) != SSHCA_EXIT_OK)
		return ret;
	if (a.help)
		return sshca_help(self);
	if (optind != argc)
		return sshca_usage_error(self, "unexpected argument '%s'", argv[optind]);
	if ((ret = audit_open(self, &a, &st)) != SSHCA_EXIT_OK)
		return ret;
	ret = SSHCA_EXIT_FAIL;
	if ((r = store_audit_verify(st, &ch)) == EPH_ERR_TAMPERED) {
		sshca_fail(self, "BROKEN: %s (%llu records before it verify)", ch.problem,
		    (unsigned long long)ch.count);
		goto out;
	}
	if (r != EPH_OK) {
		sshca_fail(
		    self, "cannot read the audit log: %s: %s", eph_strerror(r), store_errmsg(st));
		goto out;
	}
	printf("OK: %llu record%s\n", (unsigned long long)ch.count, ch.count == 1 ? "" : "s");
	ret = SSHCA_EXIT_OK;
out:
	store_close(st);
	return ret;
}

static json_t *
record_json(const struct audit_record *rec)
{
	char hex[AUDIT_HASH_HEX + 1];
	json_t *o = json_object(), *d;

	if (o == NULL)
		return NULL;
	audit_hash_hex(rec->hash, hex);
	/* details is JSON as the store wrote it; an edited row may not be. */
	if ((d = json_loads(rec->details, 0, NULL)) == NULL)
		d = json_string(rec->details);
	if (json_object_set_new(o, "seq", json_integer((json_int_t)rec->seq)) != 0 ||
	    json_object_set_new(o, "time", json_integer((json_int_t)rec->time)) != 0 ||
	    json_object_set_new(o, "type", json_string(rec->type)) != 0 ||
	    json_object_set_new(o, "request_id", json_string(rec->request_id)) != 0 ||
	    json_object_set_new(o, "serial", json_integer((json_int_t)rec->serial)) != 0 ||
	    json_object_set_new(o, "actor", json_string(rec->actor)) != 0 ||
	    json_object_set_new(o, "details", d) != 0 ||
	    json_object_set_new(o, "hash", json_string(hex)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
show_json(const struct audit_list *l)
{
	json_t *a = json_array(), *o;
	char *text = NULL;
	size_t i;
	int ret = SSHCA_EXIT_FAIL;

	if (a == NULL)
		goto out;
	for (i = 0; i < l->n; i++)
		if ((o = record_json(&l->v[i])) == NULL || json_array_append_new(a, o) != 0)
			goto out;
	if ((text = json_dumps(a, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	printf("%s\n", text);
	ret = SSHCA_EXIT_OK;
out:
	free(text);
	json_decref(a);
	return ret;
}

static void
show_text(const struct audit_list *l)
{
	char when[64];
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct audit_record *rec = &l->v[i];

		sshca_format_time(rec->time < 0 ? 0 : (uint64_t)rec->time, when, sizeof(when));
		printf("%llu %s %-11s %s", (unsigned long long)rec->seq, when, rec->type,
		    rec->request_id[0] != '\0' ? rec->request_id : "-");
		if (rec->serial != 0)
			printf(" serial=%llu", (unsigned long long)rec->serial);
		printf(" by=%s %s\n", rec->actor, rec->details);
	}
}

static int
audit_show(const struct sshca_cmd *self, int argc, char **argv)
{
	struct audit_args a;
	struct audit_query q;
	struct audit_list l = {NULL, 0};
	struct store *st = NULL;
	const char *what;
	int r, ret;

	if ((ret = audit_parse(self, argc, argv, &a, 1)) != SSHCA_EXIT_OK)
		return ret;
	if (a.help)
		return sshca_help(self);
	if (optind >= argc)
		return sshca_usage_error(self, "a request id (r-...) or a serial is required");
	if (optind + 1 < argc)
		return sshca_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
	what = argv[optind];
	memset(&q, 0, sizeof(q));
	if (strncmp(what, "r-", 2) == 0)
		q.request_id = what;
	else if (parse_u64(what, &q.serial) != EPH_OK || q.serial == 0)
		return sshca_usage_error(
		    self, "'%s' is neither a request id (r-...) nor a serial", what);
	if ((ret = audit_open(self, &a, &st)) != SSHCA_EXIT_OK)
		return ret;
	ret = SSHCA_EXIT_FAIL;
	if ((r = store_audit_list(st, &q, &l)) == EPH_ERR_NOTFOUND || (r == EPH_OK && l.n == 0)) {
		sshca_fail(
		    self, "no audit records for %s %s", q.request_id ? "request" : "serial", what);
		goto out;
	}
	if (r != EPH_OK) {
		sshca_fail(
		    self, "cannot read the audit log: %s: %s", eph_strerror(r), store_errmsg(st));
		goto out;
	}
	if (a.json) {
		if ((ret = show_json(&l)) != SSHCA_EXIT_OK)
			sshca_fail(self, "out of memory");
		goto out;
	}
	show_text(&l);
	ret = SSHCA_EXIT_OK;
out:
	audit_list_free(&l);
	store_close(st);
	return ret;
}

static int
cmd_audit(const struct sshca_cmd *self, int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		return sshca_usage_error(self, "a subcommand is required: verify or show");
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
		return sshca_help(self);
	if (strcmp(sub, "verify") == 0)
		return audit_verify(&audit_verify_cmd, argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return audit_show(&audit_show_cmd, argc - 1, argv + 1);
	return sshca_usage_error(self, "unknown subcommand '%s' (verify or show)", sub);
}

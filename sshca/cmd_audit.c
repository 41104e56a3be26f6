/* sshca audit: check the CA's hash-chained audit log (verify), print the
 * records of one grant (show), and join them with the hosts' records of
 * that grant into one chronological view (timeline), reading the store
 * without writing. */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "caconf.h"
#include "err.h"
#include "hostlog.h"
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
    "       sshca audit show [-f CACONF | -d DB] [--json] ID|SERIAL\n"
    "       sshca audit timeline ID|SERIAL [-f CACONF | -d DB] [--journal-dir DIR]...\n"
    "                            [--syslog FILE]... [--json]",
    "verify the audit log's hash chain, show one grant's records, or its timeline",
    "  verify                 recompute the hash chain; exit 0 with\n"
    "                         \"OK: N records\", 1 naming the first broken record\n"
    "  show                   print the audit records of one request (by its\n"
    "                         id r-...) or of the grant with that serial\n"
    "  timeline               one chronological view of a grant: the CA's\n"
    "                         records and the hosts' (journal or syslog);\n"
    "                         exit 1 with ALARM lines for a host record of a\n"
    "                         serial this CA never issued to that grant\n"};

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

static const struct sshca_cmd audit_timeline_cmd = {"audit timeline", NULL,
    "ID|SERIAL [-f CACONF | -d DB] [--journal-dir DIR]... [--syslog FILE]... [--json]",
    "print one grant from request to last session in time order: the CA's\n"
    "audit records joined with the hosts' records (ephemeral-principals and\n"
    "pam_ephemeral) that name its serial or grant id, read from the local\n"
    "journal, or from each --journal-dir and --syslog given. Times are UTC.\n"
    "Lines: TIME HOST EVENT WHO WHAT, after a header naming the grant and\n"
    "before a summary of the hosts seen; a host record of a serial this CA\n"
    "never issued to the grant is an ALARM line.\n"
    "Exit status: 0 clean, 1 an alarm, no such grant, or an unreadable\n"
    "journal or file, 2 a usage error",
    AUDIT_OPT_CONFIG
    "      --journal-dir DIR  read the journal files in DIR (systemd-journal-remote's\n"
    "                         output); repeatable\n"
    "      --syslog FILE      read a syslog file (traditional or RFC 3339 stamps;\n"
    "                         a stamp without a year gets the one nearest the\n"
    "                         request, in the local time zone); repeatable\n"
    "  -j, --json             one JSON object per line, alarms as \"event\":\"alarm\"\n"};

enum audit_mode { AUDIT_MODE_VERIFY, AUDIT_MODE_SHOW, AUDIT_MODE_TIMELINE };

#define OPT_JOURNAL_DIR 256
#define OPT_SYSLOG 257

struct audit_args {
	const char *config, *database;
	int json;
	int help;
	/* timeline: the places to read host records from (argv strings) */
	const char **journal_dirs, **syslogs;
	size_t njournal_dirs, nsyslogs;
};

static void
audit_args_free(struct audit_args *a)
{
	free(a->journal_dirs);
	free(a->syslogs);
	a->journal_dirs = a->syslogs = NULL;
}

static int
audit_parse(
    const struct sshca_cmd *self, int argc, char **argv, struct audit_args *a, enum audit_mode mode)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"database", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"journal-dir", required_argument, NULL, OPT_JOURNAL_DIR},
	    {"syslog", required_argument, NULL, OPT_SYSLOG},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	memset(a, 0, sizeof(*a));
	if (mode == AUDIT_MODE_TIMELINE &&
	    ((a->journal_dirs = calloc((size_t)argc, sizeof(char *))) == NULL ||
	        (a->syslogs = calloc((size_t)argc, sizeof(char *))) == NULL)) {
		audit_args_free(a);
		return sshca_fail(self, "out of memory");
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, mode != AUDIT_MODE_VERIFY ? ":f:d:jh" : ":f:d:h",
	            longopts, NULL)) != -1) {
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
			if (mode == AUDIT_MODE_VERIFY)
				return sshca_usage_error(self, "unknown option '--json'");
			a->json = 1;
			break;
		case OPT_JOURNAL_DIR:
		case OPT_SYSLOG:
			if (mode != AUDIT_MODE_TIMELINE)
				return sshca_usage_error(self, "unknown option '%s'",
				    c == OPT_SYSLOG ? "--syslog" : "--journal-dir");
			if (*optarg == '\0')
				return sshca_usage_error(self, "%s needs a path",
				    c == OPT_SYSLOG ? "--syslog" : "--journal-dir");
			if (c == OPT_SYSLOG)
				a->syslogs[a->nsyslogs++] = optarg;
			else
				a->journal_dirs[a->njournal_dirs++] = optarg;
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

	if ((ret = audit_parse(self, argc, argv, &a, AUDIT_MODE_VERIFY)) != SSHCA_EXIT_OK)
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

/* The grant an argument names: a request id (r-...) or a serial. */
static int
audit_target(const struct sshca_cmd *self, const char *what, struct audit_query *q)
{
	memset(q, 0, sizeof(*q));
	if (strncmp(what, "r-", 2) == 0)
		q->request_id = what;
	else if (parse_u64(what, &q->serial) != EPH_OK || q->serial == 0)
		return sshca_usage_error(
		    self, "'%s' is neither a request id (r-...) nor a serial", what);
	return SSHCA_EXIT_OK;
}

/*
 * The audit records of the grant q names, as show and timeline both read
 * them. A grant the store does not know: SSHCA_EXIT_FAIL after a
 * message, or with missing_ok SSHCA_EXIT_OK and l empty.
 */
static int
audit_records(const struct sshca_cmd *self, struct store *st, const struct audit_query *q,
    const char *what, int missing_ok, struct audit_list *l)
{
	int r;

	l->v = NULL;
	l->n = 0;
	if ((r = store_audit_list(st, q, l)) == EPH_ERR_NOTFOUND || (r == EPH_OK && l->n == 0)) {
		if (missing_ok)
			return SSHCA_EXIT_OK;
		return sshca_fail(
		    self, "no audit records for %s %s", q->request_id ? "request" : "serial", what);
	}
	if (r != EPH_OK)
		return sshca_fail(
		    self, "cannot read the audit log: %s: %s", eph_strerror(r), store_errmsg(st));
	return SSHCA_EXIT_OK;
}

static int
audit_show(const struct sshca_cmd *self, int argc, char **argv)
{
	struct audit_args a;
	struct audit_query q;
	struct audit_list l = {NULL, 0};
	struct store *st = NULL;
	int ret;

	if ((ret = audit_parse(self, argc, argv, &a, AUDIT_MODE_SHOW)) != SSHCA_EXIT_OK)
		return ret;
	if (a.help)
		return sshca_help(self);
	if (optind >= argc)
		return sshca_usage_error(self, "a request id (r-...) or a serial is required");
	if (optind + 1 < argc)
		return sshca_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
	if ((ret = audit_target(self, argv[optind], &q)) != SSHCA_EXIT_OK)
		return ret;
	if ((ret = audit_open(self, &a, &st)) != SSHCA_EXIT_OK)
		return ret;
	if ((ret = audit_records(self, st, &q, argv[optind], 0, &l)) != SSHCA_EXIT_OK)
		goto out;
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

/* ------------------------------------------------------------ timeline */

/* One line of the timeline: a CA record or a host record. */
struct tl_entry {
	uint64_t usec;
	size_t order; /* input order: ties keep it */
	const struct audit_record *ca; /* one of these two */
	const struct hostlog_rec *host;
	const char *event;
	char *who, *what;
};

/* A host record that does not belong to the grant it names. */
struct tl_alarm {
	const struct tl_entry *e;
	char *why;
};

struct timeline {
	const struct store_request *rq; /* NULL: the store does not know the grant */
	const char *what; /* the argument */
	struct tl_entry *v;
	size_t n;
	struct tl_alarm *alarms;
	size_t nalarms;
	size_t nca, nhost;
};

static void
timeline_free(struct timeline *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].who);
		free(t->v[i].what);
	}
	for (i = 0; i < t->nalarms; i++)
		free(t->alarms[i].why);
	free(t->v);
	free(t->alarms);
	t->v = NULL;
	t->alarms = NULL;
	t->n = t->nalarms = 0;
}

/* "2026-12-01T11:00:00Z" */
static void
utc_time(uint64_t usec, char *buf, size_t len)
{
	time_t tt = (time_t)(usec / 1000000u);
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "UNKNOWN-TIME");
}

/* A growing ", "-separated phrase; NULL after an allocation failure. */
static char *phrase_add(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *
phrase_add(char *s, const char *fmt, ...)
{
	char *part = NULL, *joined = NULL;
	va_list ap;
	int r;

	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	r = vasprintf(&part, fmt, ap);
	va_end(ap);
	if (r < 0) {
		free(s);
		return NULL;
	}
	if (*part == '\0') {
		free(part);
		return s;
	}
	if (asprintf(&joined, "%s%s%s", s, *s != '\0' ? ", " : "", part) < 0)
		joined = NULL;
	free(s);
	free(part);
	return joined;
}

static const char *
jstr_or(json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : dflt;
}

/* "db01,db02" of a JSON array of strings. */
static char *
jstr_join(json_t *a, const char *sep)
{
	char *s = strdup(""), *n;
	size_t i;

	for (i = 0; s != NULL && i < json_array_size(a); i++) {
		const char *v = json_string_value(json_array_get(a, i));

		if (v == NULL)
			continue;
		if (asprintf(&n, "%s%s%s", s, *s != '\0' ? sep : "", v) < 0)
			n = NULL;
		free(s);
		s = n;
	}
	return s;
}

/* The event word and what of a CA record, from its type and details. */
static const char *
ca_event(const struct audit_record *rec, const struct store_request *rq)
{
	enum audit_type t;

	if (audit_type_parse(rec->type, &t) != EPH_OK)
		return rec->type;
	switch (t) {
	case AUDIT_REQUEST: return "requested";
	case AUDIT_BREAK_GLASS: return "break-glass";
	case AUDIT_APPROVE: return "approved";
	case AUDIT_DENY: return "denied";
	case AUDIT_CANCEL: return "cancelled";
	case AUDIT_ISSUE: return "issued";
	/* ephssh done is the requester revoking their own grant */
	case AUDIT_REVOKE:
		return rq != NULL && strcmp(rec->actor, rq->requester) == 0 ? "done" : "revoked";
	case AUDIT_EXPIRE: return "request-expired";
	case AUDIT_REVIEW: return "reviewed";
	default: return rec->type;
	}
}

static char *
ca_what(const struct audit_record *rec)
{
	json_t *d = json_loads(rec->details, 0, NULL), *dec, *rs;
	enum audit_type t;
	char *s = strdup(""), *j = NULL, when[32];
	size_t i;

	if (d == NULL || !json_is_object(d) || audit_type_parse(rec->type, &t) != EPH_OK) {
		free(s);
		s = strdup(rec->details);
		goto out;
	}
	switch (t) {
	case AUDIT_REQUEST:
	case AUDIT_BREAK_GLASS:
		j = jstr_join(json_object_get(d, "hosts"), ",");
		s = phrase_add(s, "%s on %s", jstr_or(d, "task", "?"), j != NULL ? j : "?");
		if (json_is_string(json_object_get(d, "login_as")))
			s = phrase_add(s, "as %s", jstr_or(d, "login_as", ""));
		if (json_integer_value(json_object_get(d, "ttl")) > 0)
			s = phrase_add(s, "for %lld s",
			    (long long)json_integer_value(json_object_get(d, "ttl")));
		s = phrase_add(s, "reason \"%s\"", jstr_or(d, "reason", ""));
		dec = json_object_get(d, "decision");
		if (json_is_object(dec)) {
			s = phrase_add(s, "policy %s", jstr_or(dec, "result", "?"));
			rs = json_object_get(dec, "reasons");
			for (i = 0; i < json_array_size(rs); i++)
				s = phrase_add(s, "%s", jstr_or(json_array_get(rs, i), "text", ""));
		}
		break;
	case AUDIT_APPROVE:
		s = phrase_add(s, "approval %lld",
		    (long long)json_integer_value(json_object_get(d, "approvals")));
		s = phrase_add(s, "%s", jstr_or(d, "comment", ""));
		break;
	case AUDIT_ISSUE:
		j = jstr_join(json_object_get(d, "principals"), " ");
		utc_time(
		    (uint64_t)json_integer_value(json_object_get(d, "valid_before")) * 1000000u,
		    when, sizeof(when));
		s = phrase_add(
		    s, "serial %lld", (long long)json_integer_value(json_object_get(d, "serial")));
		s = phrase_add(s, "%s", j != NULL ? j : "");
		s = phrase_add(s, "valid until %s", when);
		break;
	case AUDIT_EXPIRE: s = phrase_add(s, "pending past its deadline"); break;
	case AUDIT_REVIEW:
		s = phrase_add(s, "review closed");
		s = phrase_add(s, "%s", jstr_or(d, "comment", ""));
		break;
	default:
		/* deny, cancel, revoke: the reason given */
		s = phrase_add(s, "%s", jstr_or(d, "reason", ""));
		break;
	}
out:
	free(j);
	json_decref(d);
	return s;
}

static char *
host_what(const struct hostlog_rec *h, enum hostlog_event ev)
{
	const char *reason = hostlog_get(h, "EPH_REASON"), *serial = hostlog_get(h, "EPH_SERIAL"),
	           *rhost = hostlog_get(h, "EPH_RHOST"), *pid = hostlog_get(h, "EPH_SSHD_PID"), *v;
	char *s = strdup("");

	switch (ev) {
	case HOSTLOG_LOGIN_ACCEPTED:
		if (serial != NULL)
			s = phrase_add(s, "serial %s", serial);
		if ((v = hostlog_get(h, "EPH_LOGIN_AS")) != NULL)
			s = phrase_add(s, "as %s", v);
		break;
	case HOSTLOG_SESSION_START:
		if (rhost != NULL)
			s = phrase_add(s, "from %s", rhost);
		if (pid != NULL)
			s = phrase_add(s, "sshd %s", pid);
		if ((v = hostlog_get(h, "EPH_LOGINS")) != NULL)
			s = phrase_add(s, "login %s", v);
		break;
	case HOSTLOG_SESSION_END:
		if ((v = hostlog_get(h, "EPH_DURATION")) != NULL)
			s = phrase_add(s, "after %s s", v);
		break;
	case HOSTLOG_SESSION_TERMINATED:
		s = phrase_add(s, "%s", reason != NULL ? reason : "");
		if ((v = hostlog_get(h, "EPH_LAG")) != NULL)
			s = phrase_add(s, "%s s after expiry", v);
		if (pid != NULL)
			s = phrase_add(s, "sshd %s", pid);
		break;
	default:
		/* refusals and anything else: why, and what is known */
		s = phrase_add(s, "%s", reason != NULL ? reason : "");
		if (serial != NULL)
			s = phrase_add(s, "serial %s", serial);
		if (rhost != NULL)
			s = phrase_add(s, "from %s", rhost);
		if (pid != NULL)
			s = phrase_add(s, "sshd %s", pid);
		break;
	}
	return s;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct tl_entry *x = a, *y = b;

	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int alarm_add(struct timeline *t, const struct tl_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
alarm_add(struct timeline *t, const struct tl_entry *e, const char *fmt, ...)
{
	struct tl_alarm *na;
	char *why = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (r < 0 || (na = realloc(t->alarms, (t->nalarms + 1) * sizeof(*na))) == NULL) {
		if (r >= 0)
			free(why);
		return EPH_ERR_NOMEM;
	}
	t->alarms = na;
	t->alarms[t->nalarms].e = e;
	t->alarms[t->nalarms].why = why;
	t->nalarms++;
	return EPH_OK;
}

/*
 * Does a host record belong to the grant? Its serial must be the one the
 * CA issued to this grant, and its grant id this grant's: anything else
 * is a certificate the CA's records cannot account for.
 */
static int
host_check(struct store *st, struct timeline *t, const struct tl_entry *e)
{
	const char *s = hostlog_get(e->host, "EPH_SERIAL"), *g = hostlog_get(e->host, "EPH_GRANT");
	const struct store_request *rq = t->rq;
	struct store_request *other = NULL;
	uint64_t serial;
	int r;

	if (s == NULL) {
		if (rq == NULL)
			return alarm_add(
			    t, e, "grant %s is unknown to this CA", g != NULL ? g : "?");
		return EPH_OK;
	}
	if (parse_u64(s, &serial) != EPH_OK)
		return alarm_add(t, e, "malformed serial \"%s\"", s);
	if (rq != NULL && rq->serial != 0 && serial == rq->serial) {
		if (g != NULL && strcmp(g, rq->id) != 0)
			return alarm_add(
			    t, e, "serial %s is %s's, but the record names grant %s", s, rq->id, g);
		return EPH_OK;
	}
	if ((r = store_get_by_serial(st, serial, &other)) == EPH_ERR_NOTFOUND)
		return alarm_add(t, e, "serial %s was never issued by this CA", s);
	if (r != EPH_OK)
		return r;
	r = alarm_add(t, e, "serial %s belongs to %s, not to grant %s", s, other->id,
	    g != NULL ? g : (rq != NULL ? rq->id : "?"));
	store_request_free(other);
	return r;
}

static int
timeline_build(struct store *st, struct timeline *t, const struct audit_list *ca,
    const struct hostlog_list *hl)
{
	struct tl_entry *e;
	size_t i;
	int r;

	if ((t->v = calloc(ca->n + hl->n + 1, sizeof(*t->v))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < ca->n; i++) {
		e = &t->v[t->n];
		e->order = t->n++;
		e->ca = &ca->v[i];
		e->usec = ca->v[i].time < 0 ? 0 : (uint64_t)ca->v[i].time * 1000000u;
		e->event = ca_event(e->ca, t->rq);
		if ((e->who = strdup(e->ca->actor)) == NULL || (e->what = ca_what(e->ca)) == NULL)
			return EPH_ERR_NOMEM;
		t->nca++;
	}
	for (i = 0; i < hl->n; i++) {
		enum hostlog_event ev = hostlog_event_of(&hl->v[i]);
		const char *u = hostlog_get(&hl->v[i], "EPH_USER");

		e = &t->v[t->n];
		e->order = t->n++;
		e->host = &hl->v[i];
		e->usec = e->host->usec;
		e->event = hostlog_event_name(ev);
		if ((e->who = strdup(u != NULL ? u : "")) == NULL ||
		    (e->what = host_what(e->host, ev)) == NULL)
			return EPH_ERR_NOMEM;
		t->nhost++;
	}
	qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
	for (i = 0; i < t->n; i++)
		if (t->v[i].host != NULL && (r = host_check(st, t, &t->v[i])) != EPH_OK)
			return r;
	return EPH_OK;
}

static const char *
entry_host(const struct tl_entry *e)
{
	return e->ca != NULL ? "ca" : e->host->host[0] != '\0' ? e->host->host : "-";
}

static const char *
dash(const char *s)
{
	return s != NULL && *s != '\0' ? s : "-";
}

static void
timeline_text(const struct timeline *t)
{
	const struct store_request *rq = t->rq;
	char when[32];
	int hw = 4, ew = 5, ww = 3;
	size_t i, k, nhosts = 0, first;

	if (rq != NULL && rq->serial != 0)
		printf("grant %s serial %llu task %s requester %s state %s\n", rq->id,
		    (unsigned long long)rq->serial, rq->task, rq->requester,
		    store_state_name(rq->state));
	else if (rq != NULL)
		printf("grant %s serial none task %s requester %s state %s\n", rq->id, rq->task,
		    rq->requester, store_state_name(rq->state));
	else
		printf("grant %s: unknown to this CA\n", t->what);
	for (i = 0; i < t->n; i++) {
		const struct tl_entry *e = &t->v[i];

		if ((int)strlen(entry_host(e)) > hw)
			hw = (int)strlen(entry_host(e));
		if ((int)strlen(e->event) > ew)
			ew = (int)strlen(e->event);
		if ((int)strlen(dash(e->who)) > ww)
			ww = (int)strlen(dash(e->who));
	}
	for (i = 0; i < t->n; i++) {
		const struct tl_entry *e = &t->v[i];

		utc_time(e->usec, when, sizeof(when));
		printf("%s  %-*s  %-*s  %-*s  %s\n", when, hw, entry_host(e), ew, e->event, ww,
		    dash(e->who), dash(e->what));
	}
	printf("summary: %zu CA record%s, %zu host record%s\n", t->nca, t->nca == 1 ? "" : "s",
	    t->nhost, t->nhost == 1 ? "" : "s");
	/* Each host once, in the order it first appears, with its count. */
	printf("hosts:");
	for (i = 0; i < t->n; i++) {
		size_t count = 0;

		if (t->v[i].host == NULL)
			continue;
		for (first = 0; first < i; first++)
			if (t->v[first].host != NULL &&
			    strcmp(entry_host(&t->v[first]), entry_host(&t->v[i])) == 0)
				break;
		if (first < i)
			continue;
		for (k = i; k < t->n; k++)
			if (t->v[k].host != NULL &&
			    strcmp(entry_host(&t->v[k]), entry_host(&t->v[i])) == 0)
				count++;
		printf("%s %s (%zu record%s)", nhosts++ > 0 ? "," : "", entry_host(&t->v[i]), count,
		    count == 1 ? "" : "s");
	}
	printf("%s\n", nhosts == 0 ? " no host records" : "");
	for (i = 0; i < t->nalarms; i++) {
		const struct tl_entry *e = t->alarms[i].e;

		utc_time(e->usec, when, sizeof(when));
		printf("ALARM: %s %s %s by %s: %s (%s)\n", when, entry_host(e), e->event,
		    dash(e->who), t->alarms[i].why, e->host->source);
	}
}

/* The shared fields of a line's object, and a host record's EPH_*. */
static json_t *
entry_json(const struct tl_entry *e, const char *event, const char *what)
{
	json_t *o = json_object();
	char when[32];
	size_t i;
	int bad = o == NULL;

	utc_time(e->usec, when, sizeof(when));
	bad = bad || json_object_set_new(o, "time", json_string(when)) != 0 ||
	    json_object_set_new(o, "host", json_string(entry_host(e))) != 0 ||
	    json_object_set_new(o, "event", json_string(event)) != 0 ||
	    json_object_set_new(o, "who", json_string(e->who)) != 0 ||
	    json_object_set_new(o, "what", json_string(what)) != 0 ||
	    json_object_set_new(o, "source", json_string(e->ca != NULL ? "ca" : e->host->source)) !=
	        0;
	if (!bad && e->ca != NULL)
		bad = json_object_set_new(o, "seq", json_integer((json_int_t)e->ca->seq)) != 0 ||
		    json_object_set_new(o, "type", json_string(e->ca->type)) != 0 ||
		    json_object_set_new(o, "request_id", json_string(e->ca->request_id)) != 0 ||
		    json_object_set_new(o, "serial", json_integer((json_int_t)e->ca->serial)) != 0;
	for (i = 0; !bad && e->host != NULL && i < e->host->nf; i++)
		bad = json_object_set_new(
		          o, e->host->f[i].name, json_string(e->host->f[i].value)) != 0;
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
json_line(json_t *o)
{
	char *text;

	if (o == NULL)
		return EPH_ERR_NOMEM;
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return EPH_ERR_NOMEM;
	printf("%s\n", text);
	free(text);
	return EPH_OK;
}

static int
timeline_json(const struct timeline *t)
{
	json_t *o;
	size_t i;
	int r;

	for (i = 0; i < t->n; i++)
		if ((r = json_line(entry_json(&t->v[i], t->v[i].event, dash(t->v[i].what)))) !=
		    EPH_OK)
			return r;
	for (i = 0; i < t->nalarms; i++) {
		if ((o = entry_json(t->alarms[i].e, "alarm", t->alarms[i].why)) != NULL &&
		    json_object_set_new(o, "record_event", json_string(t->alarms[i].e->event)) !=
		        0) {
			json_decref(o);
			o = NULL;
		}
		if ((r = json_line(o)) != EPH_OK)
			return r;
	}
	return EPH_OK;
}

static int
audit_timeline(const struct sshca_cmd *self, int argc, char **argv)
{
	struct audit_args a;
	struct audit_query q;
	struct audit_list l = {NULL, 0};
	struct hostlog_list hl = {NULL, 0};
	struct hostlog_match m;
	struct timeline t;
	struct store_request *rq = NULL;
	struct store *st = NULL;
	const char *what;
	char why[512];
	int64_t ref;
	size_t i;
	int r, ret;

	memset(&t, 0, sizeof(t));
	if ((ret = audit_parse(self, argc, argv, &a, AUDIT_MODE_TIMELINE)) != SSHCA_EXIT_OK)
		goto done;
	if (a.help) {
		ret = sshca_help(self);
		goto done;
	}
	if (optind >= argc) {
		ret = sshca_usage_error(self, "a request id (r-...) or a serial is required");
		goto done;
	}
	if (optind + 1 < argc) {
		ret = sshca_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
		goto done;
	}
	what = argv[optind];
	if ((ret = audit_target(self, what, &q)) != SSHCA_EXIT_OK ||
	    (ret = audit_open(self, &a, &st)) != SSHCA_EXIT_OK)
		goto done;
	ret = SSHCA_EXIT_FAIL;
	r = q.request_id != NULL ? store_get_request(st, q.request_id, &rq)
	                         : store_get_by_serial(st, q.serial, &rq);
	if (r != EPH_OK && r != EPH_ERR_NOTFOUND) {
		sshca_fail(
		    self, "cannot read the store: %s: %s", eph_strerror(r), store_errmsg(st));
		goto done;
	}
	if (rq != NULL && audit_records(self, st, &q, what, 1, &l) != SSHCA_EXIT_OK)
		goto done;

	/* The host records name the grant's serial or its id. */
	memset(&m, 0, sizeof(m));
	m.serial = rq != NULL ? rq->serial : q.serial;
	m.grant = rq != NULL ? rq->id : q.request_id;
	ref = rq != NULL ? rq->created : (int64_t)time(NULL);
	for (i = 0; i < a.njournal_dirs; i++)
		if (hostlog_read_journal(a.journal_dirs[i], &m, &hl, why, sizeof(why)) != EPH_OK) {
			sshca_fail(self, "%s", why);
			goto done;
		}
	for (i = 0; i < a.nsyslogs; i++)
		if (hostlog_read_syslog(a.syslogs[i], &m, ref, &hl, why, sizeof(why)) != EPH_OK) {
			sshca_fail(self, "%s", why);
			goto done;
		}
	if (a.njournal_dirs == 0 && a.nsyslogs == 0 &&
	    hostlog_read_journal(NULL, &m, &hl, why, sizeof(why)) != EPH_OK) {
		sshca_fail(self, "%s", why);
		goto done;
	}
	if (rq == NULL && hl.n == 0) {
		sshca_fail(self, "no such grant: the CA has no %s %s and no host records name it",
		    q.request_id != NULL ? "request" : "serial", what);
		goto done;
	}

	t.rq = rq;
	t.what = what;
	if ((r = timeline_build(st, &t, &l, &hl)) != EPH_OK) {
		sshca_fail(self, "%s", r == EPH_ERR_NOMEM ? "out of memory" : store_errmsg(st));
		goto done;
	}
	if (a.json) {
		if (timeline_json(&t) != EPH_OK) {
			sshca_fail(self, "out of memory");
			goto done;
		}
	} else {
		timeline_text(&t);
	}
	if (fflush(stdout) != 0) {
		sshca_fail(self, "cannot write the timeline");
		goto done;
	}
	ret = t.nalarms > 0 ? SSHCA_EXIT_FAIL : SSHCA_EXIT_OK;
done:
	timeline_free(&t);
	hostlog_list_free(&hl);
	audit_list_free(&l);
	store_request_free(rq);
	store_close(st);
	audit_args_free(&a);
	return ret;
}

static int
cmd_audit(const struct sshca_cmd *self, int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		return sshca_usage_error(
		    self, "a subcommand is required: verify, show or timeline");
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
		return sshca_help(self);
	if (strcmp(sub, "verify") == 0)
		return audit_verify(&audit_verify_cmd, argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return audit_show(&audit_show_cmd, argc - 1, argv + 1);
	if (strcmp(sub, "timeline") == 0)
		return audit_timeline(&audit_timeline_cmd, argc - 1, argv + 1);
	return sshca_usage_error(self, "unknown subcommand '%s' (verify, show or timeline)", sub);
}

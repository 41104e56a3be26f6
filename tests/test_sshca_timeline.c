/* Tests for sshca audit timeline: a CA store written through the store
 * API on an injected clock (request, approval, issuance, done), host
 * records of that grant, of another grant and of a serial the CA never
 * issued turned into journal files by systemd-journal-remote and into
 * syslog files in both stamp formats (lines made by lib/log.c itself),
 * then the built sshca run on them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "events.h"
#include "log.h"
#include "store.h"
#include "testutil.h"

#define SSHCA tu_sshca()
#define JOURNAL_REMOTE "/lib/systemd/systemd-journal-remote"
#define PUBKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
#define T0 1796122800 /* 2026-12-01T11:00:00Z */
#define FORGED_SERIAL "999999"

static int64_t now;

static int64_t
fx_clock(void *ctx)
{
	(void)ctx;
	return now;
}

struct fx {
	char *dir;
	char ga[STORE_ID_LEN + 1], gb[STORE_ID_LEN + 1], gc[STORE_ID_LEN + 1];
	char gd[STORE_ID_LEN + 1];
	char sa[24], sb[24], sc[24];
};

static struct fx *fixture; /* for the record templates' placeholders */

#define run(f, out, ...) tu_run_in((f)->dir, (out), __VA_ARGS__)

/* A host record: when (ms after T0), the machine, the syslog tag and
 * the eph_log call its program makes. "$GA", "$SA", ... stand for the
 * fixture's grant ids and serials. */
struct hrec {
	int64_t ms;
	const char *hostname; /* _HOSTNAME, and the syslog line's host */
	const char *tag; /* syslog TAG */
	const char *pam; /* pam_syslog's prefix; NULL for the others */
	const char *msgid;
	const char *msg;
	const char *f[20][2];
};

static const char *
subst(const char *v)
{
	if (strcmp(v, "$GA") == 0)
		return fixture->ga;
	if (strcmp(v, "$GB") == 0)
		return fixture->gb;
	if (strcmp(v, "$SA") == 0)
		return fixture->sa;
	if (strcmp(v, "$SB") == 0)
		return fixture->sb;
	return v;
}

#define PRI "SYSLOG_IDENTIFIER", "ephemeral-principals"
#define PAM "SYSLOG_IDENTIFIER", "pam_ephemeral"

/* Grant A on db01 and db02, grant B on db01, a CA record naming A's
 * serial (not a host's: never shown), and a session of a serial the CA
 * never issued on db03. Out of time order on purpose. */
static const struct hrec host_records[] = {
    {200100, "db01.example.com", "ephemeral-principals[701]", NULL, HOST_MSGID_PRINCIPALS_ACCEPTED,
        "accepted certificate for postgres: ok",
        {{"EPH_DECISION", "accepted"}, {"EPH_REASON", "ok"}, {"EPH_USER", "postgres"},
            {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"}, {"EPH_TASK", "db-maint"},
            {"EPH_REQUESTER", "alice"}, {"EPH_APPROVERS", "bob"},
            {"EPH_LOGIN_AS", "post gres \"x\"\\y"}, {PRI}, {"EPH_HOST", "db01"}}},
    {200400, "db01.example.com", "sshd[4242]",
        "pam_ephemeral(sshd:session): ", HOST_MSGID_PAM_SESSION_START,
        "session start for postgres: grant $GA serial $SA task db-maint requester alice",
        {{"EPH_DECISION", "accepted"}, {"EPH_REASON", "ok"}, {"EPH_USER", "postgres"},
            {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"}, {"EPH_TASK", "db-maint"},
            {"EPH_REQUESTER", "alice"}, {"EPH_APPROVERS", "bob"}, {PAM}, {"EPH_RHOST", "10.0.0.5"},
            {"EPH_TTY", "ssh"}, {"EPH_SSHD_PID", "4242"}, {"EPH_LOGINS", "1"},
            {"EPH_WATCHDOG", "yes"}, {"EPH_HOST", "db01"}}},
    {210000, "db01.example.com", "ephemeral-principals[702]", NULL, HOST_MSGID_PRINCIPALS_ACCEPTED,
        "accepted certificate for root: ok",
        {{"EPH_DECISION", "accepted"}, {"EPH_REASON", "ok"}, {"EPH_USER", "root"},
            {"EPH_SERIAL", "$SB"}, {"EPH_GRANT", "$GB"}, {PRI}, {"EPH_HOST", "db01"}}},
    {215000, "ca.example.com", "sshca[9]", NULL, "921272c52c3236c9247b5703e386027f",
        "issued serial $SA",
        {{"SYSLOG_IDENTIFIER", "sshca"}, {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"}}},
    /* No EPH_HOST: the host column falls back to _HOSTNAME / the line's. */
    {260000, "db02", "ephemeral-principals[88]", NULL, HOST_MSGID_PRINCIPALS_REFUSED,
        "refused certificate for postgres: not for this host (X=1 Y=\"2\")",
        {{"EPH_DECISION", "refused"}, {"EPH_REASON", "wrong_host"}, {"EPH_USER", "postgres"},
            {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"}, {PRI}}},
    {300000, "db01.example.com", "sshd[4300]", "pam_ephemeral(sshd:session): ",
        HOST_MSGID_PAM_REFUSED, "session refused for postgres: max_logins: 1 of 1 used",
        {{"EPH_DECISION", "refused"}, {"EPH_REASON", "max_logins"}, {"EPH_USER", "postgres"},
            {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"}, {PAM}, {"EPH_RHOST", "10.0.0.6"},
            {"EPH_SSHD_PID", "4300"}, {"EPH_HOST", "db01"}}},
    {400000, "db03", "sshd[13]", "pam_ephemeral(sshd:session): ", HOST_MSGID_PAM_SESSION_START,
        "session start for root: grant r-ffffffffffffffff serial " FORGED_SERIAL,
        {{"EPH_DECISION", "accepted"}, {"EPH_REASON", "ok"}, {"EPH_USER", "root"},
            {"EPH_SERIAL", FORGED_SERIAL}, {"EPH_GRANT", "r-ffffffffffffffff"}, {PAM},
            {"EPH_RHOST", "203.0.113.9"}, {"EPH_SSHD_PID", "13"}, {"EPH_HOST", "db03"}}},
    {500000, "db01.example.com", "sshd[4242]", "pam_ephemeral(sshd:session): ",
        HOST_MSGID_PAM_SESSION_END, "session end for postgres: grant $GA serial $SA after 300 s",
        {{PAM}, {"EPH_USER", "postgres"}, {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"},
            {"EPH_DURATION", "300"}, {"EPH_HOST", "db01"}}},
    {730250, "db01.example.com", "pam_ephemeral[4400]", NULL, HOST_MSGID_PAM_SESSION_TERMINATED,
        "session terminated for postgres: grant $GA serial $SA: expired: past valid_before",
        {{PAM}, {"EPH_DECISION", "terminated"}, {"EPH_REASON", "expired"}, {"EPH_USER", "postgres"},
            {"EPH_SERIAL", "$SA"}, {"EPH_GRANT", "$GA"}, {"EPH_TASK", "db-maint"},
            {"EPH_REQUESTER", "alice"}, {"EPH_SSHD_PID", "4401"}, {"EPH_HOST", "db01"},
            {"EPH_LAG", "10"}}},
};

/* A record naming grant A with a serial the CA never issued. */
static const struct hrec forged_records[] = {
    {350000, "db02", "sshd[77]", "pam_ephemeral(sshd:session): ", HOST_MSGID_PAM_SESSION_START,
        "session start for postgres",
        {{"EPH_DECISION", "accepted"}, {"EPH_USER", "postgres"}, {"EPH_SERIAL", "777"},
            {"EPH_GRANT", "$GA"}, {PAM}, {"EPH_HOST", "db02"}}},
};

static char *
expand(const char *text)
{
	const char *keys[] = {"$GA", "$SA"};
	char *s = strdup(text), *p, *n;
	size_t k;

	for (k = 0; k < 2; k++)
		while (s != NULL && (p = strstr(s, keys[k])) != NULL) {
			if (asprintf(&n, "%.*s%s%s", (int)(p - s), s, subst(keys[k]), p + 3) < 0)
				n = NULL;
			free(s);
			s = n;
		}
	assert_non_null(s);
	return s;
}

static char last_line[8192];

static void
sink(int priority, const char *line, void *ctx)
{
	(void)priority;
	(void)ctx;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

/* One record in journal export format (what jrecv.py writes). */
static void
export_rec(FILE *f, const struct hrec *h)
{
	char *msg = expand(h->msg);
	size_t i;

	fprintf(f, "__REALTIME_TIMESTAMP=%lld\n_HOSTNAME=%s\n_PID=1\nMESSAGE=%s\nPRIORITY=6\n",
	    (long long)T0 * 1000000 + h->ms * 1000, h->hostname, msg);
	fprintf(f, "MESSAGE_ID=%s\n", h->msgid);
	for (i = 0; i < 20 && h->f[i][0] != NULL; i++)
		fprintf(f, "%s=%s\n", h->f[i][0], subst(h->f[i][1]));
	fprintf(f, "\n");
	free(msg);
}

/* The same record as the syslog line our logger writes, behind rsyslog's
 * traditional or RFC 3339 stamp. */
static void
syslog_rec(FILE *f, const struct hrec *h, int rfc3339)
{
	struct log_field lf[20];
	char *msg = expand(h->msg), when[64];
	time_t t = (time_t)(T0 + h->ms / 1000);
	struct tm tm;
	size_t i;

	for (i = 0; i < 20 && h->f[i][0] != NULL; i++)
		lf[i] = (struct log_field){h->f[i][0], subst(h->f[i][1])};
	eph_log_set_journal(0);
	eph_log_set_syslog(sink, NULL);
	assert_int_equal(eph_log(LOG_INFO, h->msgid, lf, i, "%s", msg), EPH_OK);
	eph_log_set_syslog(NULL, NULL);
	gmtime_r(&t, &tm);
	if (rfc3339) {
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(f, "%s.%06lld+00:00", when, (long long)(h->ms % 1000) * 1000);
	} else {
		strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
		fprintf(f, "%s", when);
	}
	fprintf(f, " %s %s: %s%s\n", h->hostname, h->tag, h->pam != NULL ? h->pam : "", last_line);
	free(msg);
}

static void
write_export(struct fx *f, const char *name, const struct hrec *v, size_t n)
{
	char *p = tu_path(f->dir, "%s", name);
	FILE *fp = fopen(p, "w");
	size_t i;

	assert_non_null(fp);
	for (i = 0; i < n; i++)
		export_rec(fp, &v[i]);
	assert_int_equal(fclose(fp), 0);
	free(p);
}

/* The records of v, alternately in the two stamp formats (odd ones
 * RFC 3339) or all in one, with other programs' lines between. */
static void
write_syslog(struct fx *f, const char *name, const struct hrec *v, size_t n, int mode)
{
	char *p = tu_path(f->dir, "%s", name);
	FILE *fp = fopen(p, "w");
	size_t i;

	assert_non_null(fp);
	for (i = 0; i < n; i++) {
		fprintf(fp,
		    "Dec  1 11:0%zu:00 db01 CRON[1%zu]: (root) CMD (run-parts EPH_SERIAL=%s)\n",
		    i % 10, i, f->sa);
		fprintf(fp,
		    "2026-12-01T11:00:0%zu+00:00 db01 sshd[4242]: Accepted publickey for "
		    "postgres: ED25519-CERT ID eph:%s:alice:db-maint serial %s\n",
		    i % 10, f->ga, f->sa);
		syslog_rec(fp, &v[i], mode == 2 ? (int)(i % 2) : mode);
	}
	fprintf(fp, "garbage\n\n Dec 1\n");
	assert_int_equal(fclose(fp), 0);
	free(p);
}

static void
put(struct store *st, const char *who, const char *reason, char *id)
{
	static char *hosts[] = {"db01", "db02"};
	struct store_event ev = {AUDIT_REQUEST, who, NULL, NULL, 0};
	struct store_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_PENDING;
	rq.task = "db-maint";
	rq.hosts = hosts;
	rq.nhosts = 2;
	rq.requester = (char *)who;
	rq.requester_uid = 1000;
	rq.reason = (char *)reason;
	rq.ttl = 600;
	rq.public_key = PUBKEY;
	rq.decision = "{\"result\":\"pending\",\"reasons\":[{\"kind\":\"allow\",\"text\":\"task "
	              "db-maint allows alice\"},{\"kind\":\"approval\",\"text\":\"needs 1 of "
	              "@leads\"}]}";
	rq.expires = T0 + 1800;
	assert_int_equal(store_put_request(st, &rq, &ev), EPH_OK);
	memcpy(id, rq.id, sizeof(rq.id));
}

static void
issue(struct store *st, const char *id, char *serial_text)
{
	static const char *const pr[] = {"eph:db-maint@db01", "eph:db-maint@db02"};
	static const struct store_event ev = {AUDIT_ISSUE, NULL, NULL, NULL, 0};
	struct store_cert c;
	uint64_t serial;

	assert_int_equal(store_serial_alloc(st, &serial), EPH_OK);
	memset(&c, 0, sizeof(c));
	c.serial = serial;
	c.certificate = "ssh-ed25519-cert-v01@openssh.com AAAA";
	c.valid_after = (uint64_t)now - 60;
	c.valid_before = (uint64_t)now + 600;
	c.principals = pr;
	c.nprincipals = 2;
	assert_int_equal(store_issue(st, id, &c, &ev), EPH_OK);
	snprintf(serial_text, 24, "%llu", (unsigned long long)serial);
}

static int
setup(void **state)
{
	static const struct store_event ev_ok = {AUDIT_APPROVE, "bob", NULL, NULL, 0};
	static const struct store_event ev_done = {AUDIT_REVOKE, "alice", "task complete", NULL, 0};
	static const struct store_event ev_deny = {AUDIT_DENY, "carol", "not now", NULL, 0};
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts o;
	struct store *st = NULL;
	char *db, *hwm, *out = NULL;

	assert_non_null(f);
	fixture = f;
	f->dir = tu_mkdtemp();
	db = tu_path(f->dir, "ca.db");
	hwm = tu_path(f->dir, "krl.serial");
	memset(&o, 0, sizeof(o));
	o.database = db;
	o.serial_file = hwm;
	o.no_log = 1;
	o.clock = fx_clock;
	now = T0;
	assert_int_equal(store_open(&o, &st), EPH_OK);
	put(st, "alice", "INC-4711 vacuum", f->ga);
	now = T0 + 10;
	put(st, "dave", "INC-4712", f->gb);
	now = T0 + 60;
	assert_int_equal(store_add_approval(st, f->ga, "bob", 1001, "ok", &ev_ok, NULL), EPH_OK);
	assert_int_equal(store_add_approval(st, f->gb, "bob", 1001, "", &ev_ok, NULL), EPH_OK);
	now = T0 + 120;
	issue(st, f->ga, f->sa);
	now = T0 + 130;
	issue(st, f->gb, f->sb);
	now = T0 + 900;
	assert_int_equal(store_set_state(st, f->ga, STORE_ISSUED, STORE_REVOKED, &ev_done), EPH_OK);
	/* Grant C: issued, never used. */
	now = T0 + 1000;
	put(st, "alice", "INC-4713", f->gc);
	assert_int_equal(store_add_approval(st, f->gc, "bob", 1001, "", &ev_ok, NULL), EPH_OK);
	issue(st, f->gc, f->sc);
	/* Grant D: denied, so no serial. */
	now = T0 + 1100;
	put(st, "alice", "INC-4714", f->gd);
	now = T0 + 1160;
	assert_int_equal(store_set_state(st, f->gd, STORE_PENDING, STORE_DENIED, &ev_deny), EPH_OK);
	store_close(st);
	free(db);
	free(hwm);

	write_export(
	    f, "hosts.export", host_records, sizeof(host_records) / sizeof(host_records[0]));
	write_export(
	    f, "forged.export", forged_records, sizeof(forged_records) / sizeof(forged_records[0]));
	if (run(f, &out,
	        "mkdir j1 j2 empty && " JOURNAL_REMOTE
	        " -o j1/remote.journal hosts.export && " JOURNAL_REMOTE
	        " -o j2/remote.journal forged.export") != 0)
		fail_msg("systemd-journal-remote: %s", out);
	free(out);
	write_syslog(
	    f, "trad.log", host_records, sizeof(host_records) / sizeof(host_records[0]), 0);
	write_syslog(f, "rfc.log", host_records, sizeof(host_records) / sizeof(host_records[0]), 1);
	write_syslog(
	    f, "mixed.log", host_records, sizeof(host_records) / sizeof(host_records[0]), 2);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Grant A's timeline as the journal and the syslog files both give it. */
static char *
want_a(const struct fx *f)
{
	char *s = NULL;

	if (asprintf(&s,
	        "grant %s serial %s task db-maint requester alice state revoked\n"
	        "2026-12-01T11:00:00Z  ca    requested           alice     db-maint on db01,db02, "
	        "for 600 s, reason \"INC-4711 vacuum\", policy pending, task db-maint allows "
	        "alice, needs 1 of @leads\n"
	        "2026-12-01T11:01:00Z  ca    approved            bob       approval 1, ok\n"
	        "2026-12-01T11:02:00Z  ca    issued              sshca     serial %s, "
	        "eph:db-maint@db01 eph:db-maint@db02, valid until 2026-12-01T11:12:00Z\n"
	        "2026-12-01T11:03:20Z  db01  login-accepted      postgres  serial %s, as post "
	        "gres \"x\"\\y\n"
	        "2026-12-01T11:03:20Z  db01  session-start       postgres  from 10.0.0.5, sshd "
	        "4242, login 1\n"
	        "2026-12-01T11:04:20Z  db02  login-refused       postgres  wrong_host, serial %s\n"
	        "2026-12-01T11:05:00Z  db01  session-refused     postgres  max_logins, serial %s, "
	        "from 10.0.0.6, sshd 4300\n"
	        "2026-12-01T11:08:20Z  db01  session-end         postgres  after 300 s\n"
	        "2026-12-01T11:12:10Z  db01  session-terminated  postgres  expired, 10 s after "
	        "expiry, sshd 4401\n"
	        "2026-12-01T11:15:00Z  ca    done                alice     task complete\n"
	        "summary: 4 CA records, 6 host records\n"
	        "hosts: db01 (5 records), db02 (1 record)\n",
	        f->ga, f->sa, f->sa, f->sa, f->sa, f->sa) < 0)
		fail_msg("out of memory");
	return s;
}

static void
test_journal_text(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *want = want_a(f);

	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir j1 2>&1", SSHCA, f->ga), 0);
	assert_string_equal(out, want);
	free(out);
	/* By the serial: the same grant, the same view. */
	assert_int_equal(
	    run(f, &out, "%s audit timeline -d ca.db --journal-dir j1 %s 2>&1", SSHCA, f->sa), 0);
	assert_string_equal(out, want);
	free(out);
	free(want);
}

/* Each line one object: the order of events, the shared fields, and the
 * raw EPH_* fields of the host records. */
static void
test_journal_json(void **state)
{
	static const char *const events[] = {"requested", "approved", "issued", "login-accepted",
	    "session-start", "login-refused", "session-refused", "session-end",
	    "session-terminated", "done"};
	struct fx *f = *state;
	char *out = NULL, *line, *save = NULL;
	size_t n = 0;

	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir j1 --json 2>/dev/null", SSHCA,
	        f->ga),
	    0);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);

		if (o == NULL)
			fail_msg("not JSON: %s: %s", line, err.text);
		assert_true(n < sizeof(events) / sizeof(events[0]));
		assert_string_equal(json_string_value(json_object_get(o, "event")), events[n]);
		assert_non_null(json_string_value(json_object_get(o, "time")));
		assert_non_null(json_string_value(json_object_get(o, "who")));
		assert_non_null(json_string_value(json_object_get(o, "what")));
		if (n < 3 || n == 9) {
			assert_string_equal(json_string_value(json_object_get(o, "host")), "ca");
			assert_string_equal(json_string_value(json_object_get(o, "source")), "ca");
			assert_string_equal(
			    json_string_value(json_object_get(o, "request_id")), f->ga);
		} else {
			assert_string_equal(
			    json_string_value(json_object_get(o, "source")), "journal:j1");
			assert_string_equal(
			    json_string_value(json_object_get(o, "EPH_SERIAL")), f->sa);
			assert_string_equal(
			    json_string_value(json_object_get(o, "EPH_GRANT")), f->ga);
		}
		if (n == 0)
			assert_string_equal(
			    json_string_value(json_object_get(o, "time")), "2026-12-01T11:00:00Z");
		if (n == 3) {
			assert_string_equal(json_string_value(json_object_get(o, "host")), "db01");
			assert_string_equal(json_string_value(json_object_get(o, "EPH_LOGIN_AS")),
			    "post gres \"x\"\\y");
			assert_string_equal(
			    json_string_value(json_object_get(o, "EPH_APPROVERS")), "bob");
		}
		if (n == 4) {
			assert_string_equal(
			    json_string_value(json_object_get(o, "EPH_RHOST")), "10.0.0.5");
			assert_string_equal(
			    json_string_value(json_object_get(o, "EPH_SSHD_PID")), "4242");
			assert_string_equal(
			    json_string_value(json_object_get(o, "time")), "2026-12-01T11:03:20Z");
		}
		if (n == 5) /* no EPH_HOST: journald's _HOSTNAME */
			assert_string_equal(json_string_value(json_object_get(o, "host")), "db02");
		if (n == 7)
			assert_string_equal(
			    json_string_value(json_object_get(o, "EPH_DURATION")), "300");
		if (n == 8)
			assert_string_equal(json_string_value(json_object_get(o, "EPH_LAG")), "10");
		assert_null(json_object_get(o, "summary"));
		json_decref(o);
		n++;
	}
	assert_int_equal(n, sizeof(events) / sizeof(events[0]));
	free(out);
}

/* A serial the CA never issued that a host let in: ALARM, exit 1. */
static void
test_alarm_unissued(void **state)
{
	struct fx *f = *state;
	char *out = NULL;
	json_t *o;

	assert_int_equal(
	    run(f, &out, "%s audit timeline " FORGED_SERIAL " -d ca.db --journal-dir j1 2>&1",
	        SSHCA),
	    1);
	assert_string_equal(out,
	    "grant " FORGED_SERIAL ": unknown to this CA\n"
	    "2026-12-01T11:06:40Z  db03  session-start  root  from 203.0.113.9, sshd 13\n"
	    "summary: 0 CA records, 1 host record\n"
	    "hosts: db03 (1 record)\n"
	    "ALARM: 2026-12-01T11:06:40Z db03 session-start by root: serial " FORGED_SERIAL
	    " was never issued by this CA (journal:j1)\n");
	free(out);
	assert_int_equal(run(f, &out,
	                     "%s audit timeline " FORGED_SERIAL
	                     " -d ca.db --journal-dir j1 --json 2>/dev/null | tail -n 1",
	                     SSHCA),
	    0);
	assert_non_null(o = json_loads(out, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(o, "event")), "alarm");
	assert_string_equal(json_string_value(json_object_get(o, "record_event")), "session-start");
	assert_string_equal(json_string_value(json_object_get(o, "host")), "db03");
	assert_string_equal(json_string_value(json_object_get(o, "EPH_SERIAL")), FORGED_SERIAL);
	tu_assert_contains(json_string_value(json_object_get(o, "what")), "never issued");
	json_decref(o);
	free(out);
	/* The same record by its grant id, which the CA never recorded. */
	assert_int_equal(
	    run(f, &out, "%s audit timeline r-ffffffffffffffff -d ca.db --journal-dir j1 2>&1",
	        SSHCA),
	    1);
	tu_assert_contains(out,
	    "ALARM: 2026-12-01T11:06:40Z db03 session-start by root: serial " FORGED_SERIAL
	    " was never issued");
	free(out);
}

/* A host record that names grant A with another serial, from a second
 * journal directory. */
static void
test_alarm_forged(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir j1 --journal-dir j2 2>&1",
	        SSHCA, f->ga),
	    1);
	tu_assert_contains(out, "2026-12-01T11:05:50Z  db02  session-start ");
	tu_assert_contains(out,
	    "hosts: db01 (5 records), db02 (2 records)\n"
	    "ALARM: 2026-12-01T11:05:50Z db02 session-start by postgres: "
	    "serial 777 was never issued by this CA (journal:j2)\n");
	free(out);
	/* Grant B's serial under grant A's id. */
	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir j1 2>&1", SSHCA, f->gb), 0);
	tu_assert_contains(out, "hosts: db01 (1 record)\n");
	tu_assert_not_contains(out, "ALARM");
	free(out);
}

/* The same timeline from syslog files: traditional stamps, RFC 3339
 * stamps, and both in one file. */
static void
test_syslog(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *want = want_a(f);
	const char *files[] = {"trad.log", "rfc.log", "mixed.log"};
	size_t i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    run(f, &out, "TZ=UTC %s audit timeline %s -d ca.db --syslog %s 2>&1", SSHCA,
		        f->ga, files[i]),
		    0);
		assert_string_equal(out, want);
		free(out);
	}
	/* Two files, one record each way: each record twice. */
	assert_int_equal(run(f, &out,
	                     "TZ=UTC %s audit timeline %s -d ca.db --syslog trad.log --syslog "
	                     "rfc.log --json 2>&1 | grep -c '\"source\":\"syslog:'",
	                     SSHCA, f->ga),
	    0);
	assert_string_equal(out, "12\n");
	free(out);
	/* A syslog line's raw fields, unquoted as put_kv quoted them. */
	assert_int_equal(run(f, &out,
	                     "TZ=UTC %s audit timeline %s -d ca.db --syslog rfc.log --json 2>&1 | "
	                     "grep login-accepted",
	                     SSHCA, f->ga),
	    0);
	tu_assert_contains(out, "\"EPH_LOGIN_AS\":\"post gres \\\"x\\\"\\\\y\"");
	tu_assert_contains(out, "\"source\":\"syslog:rfc.log:");
	free(out);
	/* Traditional stamps are local time: another zone moves them. */
	assert_int_equal(
	    run(f, &out, "TZ=UTC-1 %s audit timeline %s -d ca.db --syslog trad.log 2>&1", SSHCA,
	        f->ga),
	    0);
	tu_assert_contains(out, "2026-12-01T10:03:20Z  db01  login-accepted ");
	free(out);
	/* The unissued serial from syslog too. */
	assert_int_equal(
	    run(f, &out,
	        "TZ=UTC %s audit timeline " FORGED_SERIAL " -d ca.db --syslog mixed.log 2>&1",
	        SSHCA),
	    1);
	tu_assert_contains(out,
	    "ALARM: 2026-12-01T11:06:40Z db03 session-start by root: serial " FORGED_SERIAL
	    " was never issued by this CA (syslog:mixed.log:");
	free(out);
	free(want);
}

static void
test_no_host_records(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir j1 --syslog trad.log 2>&1",
	        SSHCA, f->gc),
	    0);
	tu_assert_contains(out, "state issued\n");
	tu_assert_contains(out, "  ca    issued ");
	tu_assert_contains(out, "summary: 3 CA records, 0 host records\nhosts: no host records\n");
	tu_assert_not_contains(out, "ALARM");
	free(out);
	/* Neither option: the local journal (this machine's, which has
	 * nothing of this grant; or no journal at all). */
	assert_int_equal(run(f, &out, "%s audit timeline %s -d ca.db 2>&1", SSHCA, f->gc), 0);
	tu_assert_contains(out, "summary: 3 CA records, 0 host records\nhosts: no host records\n");
	free(out);
}

static void
test_denied(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *want = NULL;

	if (asprintf(&want,
	        "grant %s serial none task db-maint requester alice state denied\n"
	        "2026-12-01T11:18:20Z  ca    requested  alice  db-maint on db01,db02, for 600 s, "
	        "reason \"INC-4714\", policy pending, task db-maint allows alice, needs 1 of "
	        "@leads\n"
	        "2026-12-01T11:19:20Z  ca    denied     carol  not now\n"
	        "summary: 2 CA records, 0 host records\n"
	        "hosts: no host records\n",
	        f->gd) < 0)
		fail_msg("out of memory");
	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir j1 2>&1", SSHCA, f->gd), 0);
	assert_string_equal(out, want);
	free(out);
	free(want);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *args;
		int status;
		const char *want;
	} cases[] = {
	    {"audit timeline -d ca.db", 2, "a request id (r-...) or a serial is required"},
	    {"audit timeline xyz -d ca.db", 2, "'xyz' is neither a request id"},
	    {"audit timeline 0 -d ca.db", 2, "'0' is neither a request id"},
	    {"audit timeline 5 6 -d ca.db", 2, "unexpected argument '6'"},
	    {"audit timeline 5 -d ca.db -f ca.conf", 2, "-f and -d exclude each other"},
	    {"audit timeline 5 -d ca.db --bogus", 2, "usage: sshca audit timeline"},
	    {"audit timeline 5 -d ca.db --journal-dir", 2, "usage: sshca audit timeline"},
	    {"audit timeline 5 -d ca.db --syslog ''", 2, "--syslog needs a path"},
	    {"audit show 5 -d ca.db --journal-dir j1", 2, "unknown option '--journal-dir'"},
	    {"audit verify -d ca.db --syslog x", 2, "unknown option '--syslog'"},
	    {"audit timeline r-0000000000000000 -d ca.db --journal-dir j1", 1,
	        "no such grant: the CA has no request r-0000000000000000 and no host records"},
	    {"audit timeline 424242 -d ca.db --syslog trad.log", 1,
	        "no such grant: the CA has no serial 424242"},
	    {"audit timeline 5 -d ca.db --journal-dir missing", 1, "missing: No such file"},
	    {"audit timeline 5 -d ca.db --journal-dir empty", 1,
	        "empty: no journal files (*.journal) in it"},
	    {"audit timeline 5 -d ca.db --journal-dir hosts.export", 1,
	        "hosts.export: Not a directory"},
	    {"audit timeline 5 -d ca.db --journal-dir j1 --syslog missing.log", 1,
	        "missing.log: No such file"},
	    {"audit timeline 5 -d ca.db --syslog j1", 1, "j1: not a regular file"},
	    {"audit timeline 5 -d nowhere.db --syslog trad.log", 1, "cannot open the database"},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = run(f, &out, "%s %s 2>&1", SSHCA, cases[i].args);

		if (st != cases[i].status || strstr(out, cases[i].want) == NULL)
			fail_msg("sshca %s: exit %d, want %d and \"%s\":\n%s", cases[i].args, st,
			    cases[i].status, cases[i].want, out);
		free(out);
	}
	/* A journal file that cannot be read (root reads through modes: a
	 * dangling link stands in for it). */
	assert_int_equal(run(f, NULL, "mkdir bad && ln -s nowhere bad/x.journal"), 0);
	assert_int_equal(
	    run(f, &out, "%s audit timeline %s -d ca.db --journal-dir bad 2>&1", SSHCA, f->ga), 1);
	tu_assert_contains(out, "bad/x.journal: No such file");
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_text),
	    cmocka_unit_test(test_journal_json),
	    cmocka_unit_test(test_alarm_unissued),
	    cmocka_unit_test(test_alarm_forged),
	    cmocka_unit_test(test_syslog),
	    cmocka_unit_test(test_no_host_records),
	    cmocka_unit_test(test_denied),
	    cmocka_unit_test(test_errors),
	};

	if (access(JOURNAL_REMOTE, X_OK) != 0) {
		fprintf(stderr, "skipped: no %s\n", JOURNAL_REMOTE);
		return 77;
	}
	tu_init(argc, argv);
	return cmocka_run_group_tests_name("sshca audit timeline", tests, setup, teardown);
}

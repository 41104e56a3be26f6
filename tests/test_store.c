/* Tests for the CA store: a real SQLite file in a temp dir per test, every
 * call, compare-and-set conflicts, serials that never repeat (reopen,
 * restored backup, floor), the audit chain against tampering with the
 * triggers dropped, group commit, logging after commit, and a kill -9 in
 * the middle of a stream of writes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "testutil.h"

#define PUBKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
#define DECISION "{\"allowed\":true,\"approvals_required\":2,\"reasons\":[]}"

struct fx {
	char *dir, *db, *hwm;
	int64_t now;
	struct store *st;
};

static int64_t
fx_clock(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static struct store_opts
fx_opts(struct fx *f)
{
	struct store_opts o;

	memset(&o, 0, sizeof(o));
	o.database = f->db;
	o.serial_file = f->hwm;
	o.serial_block = 10;
	o.no_log = 1;
	o.clock = fx_clock;
	o.clock_ctx = f;
	return o;
}

static void
fx_open(struct fx *f)
{
	struct store_opts o = fx_opts(f);
	int r;

	if ((r = store_open(&o, &f->st)) != EPH_OK)
		fail_msg("store_open: %s", eph_strerror(r));
}

static void
fx_reopen(struct fx *f)
{
	store_close(f->st);
	f->st = NULL;
	fx_open(f);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	f->db = tu_path(f->dir, "ca.db");
	f->hwm = tu_path(f->dir, "revoked.krl.serial");
	f->now = 1795428000;
	fx_open(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f->hwm);
	free(f);
	return 0;
}

static const struct store_event ev_request = {AUDIT_REQUEST, "alice", NULL, NULL, 0};
static const struct store_event ev_approve = {AUDIT_APPROVE, "bob", NULL, NULL, 0};
static const struct store_event ev_deny = {AUDIT_DENY, "bob", "not now", NULL, 0};
static const struct store_event ev_cancel = {AUDIT_CANCEL, "alice", NULL, NULL, 0};
static const struct store_event ev_issue = {AUDIT_ISSUE, "sshca", NULL, "{\"note\":1}", 0};
static const struct store_event ev_revoke = {AUDIT_REVOKE, "alice", "done", NULL, 0};
static const struct store_event ev_expire = {AUDIT_EXPIRE, NULL, NULL, NULL, 0};
static const struct store_event ev_review = {AUDIT_REVIEW, "carol", NULL, NULL, 0};
static const struct store_event ev_bg = {AUDIT_BREAK_GLASS, "alice", "INC-1", NULL, 0};

/* A pending request by requester for task; its id into id. */
static void
put(struct fx *f, const char *requester, const char *task, int break_glass,
    char id[STORE_ID_LEN + 1])
{
	static char *hosts[] = {"db01", "db02"};
	struct store_request rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_PENDING;
	rq.task = (char *)task;
	rq.hosts = hosts;
	rq.nhosts = 2;
	rq.requester = (char *)requester;
	rq.requester_uid = 1000;
	rq.reason = "INC-4711 vacuum";
	rq.public_key = PUBKEY;
	rq.ttl = 600;
	rq.decision = DECISION;
	rq.expires = f->now + 3600;
	rq.break_glass = break_glass;
	r = store_put_request(f->st, &rq, break_glass ? &ev_bg : &ev_request);
	if (r != EPH_OK)
		fail_msg("store_put_request: %s: %s", eph_strerror(r), store_errmsg(f->st));
	assert_int_equal(strlen(rq.id), STORE_ID_LEN);
	memcpy(id, rq.id, STORE_ID_LEN + 1);
}

/* Issue id with a fresh serial; returns it. */
static uint64_t
issue(struct fx *f, const char *id)
{
	static const char *const pr[] = {"eph:db-maint@db01", "eph:db-maint@db02"};
	struct store_cert c;
	uint64_t serial;
	int r;

	assert_int_equal(store_serial_alloc(f->st, &serial), EPH_OK);
	memset(&c, 0, sizeof(c));
	c.serial = serial;
	c.certificate = "ssh-ed25519-cert-v01@openssh.com AAAA";
	c.valid_after = (uint64_t)f->now - 60;
	c.valid_before = (uint64_t)f->now + 600;
	c.principals = pr;
	c.nprincipals = 2;
	c.login_as = "postgres";
	if ((r = store_issue(f->st, id, &c, &ev_issue)) != EPH_OK)
		fail_msg("store_issue: %s: %s", eph_strerror(r), store_errmsg(f->st));
	return serial;
}

/* The request with id in a list (several may share a creation time). */
static struct store_request *
find(const struct store_request_list *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->id, id) == 0)
			return l->v[i];
	fail_msg("%s not listed", id);
	return NULL;
}

static void
assert_verifies(struct fx *f, uint64_t records)
{
	struct audit_chain ch;
	int r;

	if ((r = store_audit_verify(f->st, &ch)) != EPH_OK)
		fail_msg("audit verify: %s: %s", eph_strerror(r), ch.problem);
	assert_int_equal(ch.count, records);
}

/* ------------------------------------------------------------ open */

static void
test_open_safely(void **state)
{
	struct fx *f = *state;
	struct store_opts o = fx_opts(f);
	struct store *st = NULL;
	struct stat sb;
	char *link = tu_path(f->dir, "link.db"), *sub = tu_path(f->dir, "open");
	char *subdb = tu_path(sub, "ca.db");

	assert_int_equal(stat(f->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* Writable by others, a symlink, a directory others can write. */
	assert_int_equal(chmod(f->db, 0620), 0);
	assert_int_equal(store_open(&o, &st), EPH_ERR_PERM);
	assert_int_equal(chmod(f->db, 0600), 0);
	assert_int_equal(symlink(f->db, link), 0);
	o.database = link;
	assert_int_equal(store_open(&o, &st), EPH_ERR_PERM);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	o.database = subdb;
	assert_int_equal(store_open(&o, &st), EPH_ERR_PERM);
	assert_int_equal(access(subdb, F_OK), -1);
	o.database = f->dir; /* a directory */
	assert_int_equal(store_open(&o, &st), EPH_ERR_PERM);

	o.database = "postgresql://ca@db/ca";
	assert_int_equal(store_open(&o, &st), EPH_ERR_INVAL);
	o.database = f->db;
	o.serial_file = NULL;
	assert_int_equal(store_open(&o, &st), EPH_ERR_INVAL);
	/* Read-only never creates. */
	o.read_only = 1;
	o.database = subdb;
	assert_int_equal(store_open(&o, &st), EPH_ERR_PERM);
	assert_null(st);

	/* A schema from a newer sshca is left alone. */
	store_close(f->st);
	f->st = NULL;
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
		assert_int_equal(
		    sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}
	o = fx_opts(f);
	assert_int_equal(store_open(&o, &st), EPH_ERR_FORMAT);
	free(link);
	free(sub);
	free(subdb);
}

/* Health: a writable store on a roomy file system is fine; one opened
 * read-only (or made read-only) says so without writing anything. */
static void
test_health(void **state)
{
	struct fx *f = *state;
	struct store_opts o = fx_opts(f);
	struct store *ro = NULL;
	char why[256];

	assert_int_equal(store_health(f->st, why, sizeof(why)), EPH_OK);
	assert_string_equal(why, "");
	o.read_only = 1;
	assert_int_equal(store_open(&o, &ro), EPH_OK);
	assert_int_equal(store_health(ro, why, sizeof(why)), EPH_ERR_STORE_FULL);
	tu_assert_contains(why, "is read-only");
	store_close(ro);
	assert_int_equal(store_health(NULL, why, sizeof(why)), EPH_ERR_INVAL);
}

static void
test_open_pragmas(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	sqlite3_stmt *s;

	/* WAL is a property of the file: another connection sees it. */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 4);
	sqlite3_finalize(s);
	/* The active-grants limit is a covered range, not a scan of every
	 * request the requester ever made (store_count_active's query). */
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "EXPLAIN QUERY PLAN SELECT count(*) FROM requests WHERE requester = ?1"
	                     " AND state = 'issued' AND valid_before > ?2",
	                     -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_non_null(
	    strstr((const char *)sqlite3_column_text(s, 3), "COVERING INDEX requests_active"));
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* Reopening applies no migration twice. */
	fx_reopen(f);
}

/* ------------------------------------------------------- requests */

static void
test_put_get(void **state)
{
	struct fx *f = *state;
	struct store_request rq, *got = NULL;
	char id[STORE_ID_LEN + 1];
	static char *hosts[] = {"web01"};

	put(f, "alice", "db-maint", 0, id);
	assert_memory_equal(id, "r-", 2);
	assert_int_equal(store_get_request(f->st, id, &got), EPH_OK);
	assert_string_equal(got->id, id);
	assert_int_equal(got->state, STORE_PENDING);
	assert_string_equal(got->task, "db-maint");
	assert_int_equal(got->nhosts, 2);
	assert_string_equal(got->hosts[1], "db02");
	assert_string_equal(got->requester, "alice");
	assert_int_equal(got->requester_uid, 1000);
	assert_string_equal(got->reason, "INC-4711 vacuum");
	assert_string_equal(got->public_key, PUBKEY);
	assert_null(got->source_address);
	assert_null(got->login_as);
	assert_int_equal(got->ttl, 600);
	assert_int_equal(got->created, f->now);
	assert_int_equal(got->expires, f->now + 3600);
	assert_string_equal(got->decision, DECISION);
	assert_int_equal(got->serial, 0);
	assert_null(got->certificate);
	assert_int_equal(got->review, STORE_REVIEW_NONE);
	assert_int_equal(got->napprovals, 0);
	store_request_free(got);
	assert_int_equal(store_get_request(f->st, "r-0000000000000000", &got), EPH_ERR_NOTFOUND);
	assert_null(got);

	/* A denied request is recorded too, with its source and login. */
	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_DENIED;
	rq.task = "web";
	rq.hosts = hosts;
	rq.nhosts = 1;
	rq.requester = "mallory";
	rq.requester_uid = 1666;
	rq.public_key = PUBKEY;
	rq.decision = "{\"allowed\":false}";
	rq.source_address = "192.0.2.7";
	rq.login_as = "www-data";
	assert_int_equal(store_put_request(f->st, &rq, &ev_request), EPH_OK);
	assert_int_equal(store_get_request(f->st, rq.id, &got), EPH_OK);
	assert_int_equal(got->state, STORE_DENIED);
	assert_string_equal(got->source_address, "192.0.2.7");
	assert_string_equal(got->login_as, "www-data");
	assert_string_equal(got->reason, "");
	store_request_free(got);
	/* The same id twice. */
	assert_int_equal(store_put_request(f->st, &rq, &ev_request), EPH_ERR_EXISTS);

	/* Refused before anything is written. */
	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_PENDING;
	rq.requester = "alice";
	rq.public_key = PUBKEY;
	rq.decision = DECISION;
	assert_int_equal(store_put_request(f->st, &rq, &ev_request), EPH_ERR_INVAL); /* no task */
	rq.task = "t";
	rq.state = STORE_ISSUED;
	assert_int_equal(store_put_request(f->st, &rq, &ev_request), EPH_ERR_INVAL);
	rq.state = STORE_PENDING;
	rq.decision = "not json";
	assert_int_equal(store_put_request(f->st, &rq, &ev_request), EPH_ERR_INVAL);
	rq.decision = DECISION;
	assert_int_equal(store_put_request(f->st, &rq, NULL), EPH_ERR_INVAL);
	assert_string_equal(rq.id, "");
	assert_verifies(f, 2);
}

static void
test_ids_random(void **state)
{
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
	size_t i;

	assert_int_equal(store_new_id(a), EPH_OK);
	assert_int_equal(store_new_id(b), EPH_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), STORE_ID_LEN);
	for (i = 2; i < STORE_ID_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
}

static void
test_names(void **state)
{
	enum store_state s;
	enum audit_type t;
	unsigned i;

	for (i = 0; i < STORE_NSTATES; i++) {
		assert_int_equal(store_state_parse(store_state_name(i), &s), EPH_OK);
		assert_int_equal(s, i);
	}
	assert_int_equal(store_state_parse("approved", &s), EPH_ERR_INVAL);
	for (i = 0; i < AUDIT_NTYPES; i++) {
		const char *id = audit_type_message_id(i);

		assert_int_equal(audit_type_parse(audit_type_name(i), &t), EPH_OK);
		assert_int_equal(t, i);
		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	}
	assert_string_equal(audit_type_name(AUDIT_BREAK_GLASS), "break_glass");
	assert_int_equal(audit_type_priority(AUDIT_BREAK_GLASS), LOG_ALERT);
	assert_string_equal(store_review_name(STORE_REVIEW_OPEN), "open");
}

/* ------------------------------------------------------ approvals */

static void
test_approvals(void **state)
{
	struct fx *f = *state;
	struct store_request *got = NULL;
	char id[STORE_ID_LEN + 1];
	size_t n = 99;

	put(f, "alice", "db-maint", 0, id);
	f->now += 5;
	assert_int_equal(store_add_approval(f->st, id, "bob", 1001, "ok", &ev_approve, &n), EPH_OK);
	assert_int_equal(n, 1);
	/* Twice by the same uid (also under another name) counts once. */
	assert_int_equal(store_add_approval(f->st, id, "bob", 1001, "again", &ev_approve, &n),
	    EPH_ERR_DUPLICATE);
	assert_int_equal(store_add_approval(f->st, id, "bobby", 1001, NULL, &ev_approve, NULL),
	    EPH_ERR_DUPLICATE);
	assert_int_equal(
	    store_add_approval(f->st, id, "carol", 1002, NULL, &ev_approve, &n), EPH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_get_request(f->st, id, &got), EPH_OK);
	assert_int_equal(got->napprovals, 2);
	assert_string_equal(got->approvals[0].user, "bob");
	assert_int_equal(got->approvals[0].uid, 1001);
	assert_int_equal(got->approvals[0].at, f->now);
	assert_string_equal(got->approvals[0].comment, "ok");
	assert_string_equal(got->approvals[1].comment, "");
	store_request_free(got);

	assert_int_equal(
	    store_add_approval(f->st, "r-0000000000000000", "bob", 1001, NULL, &ev_approve, NULL),
	    EPH_ERR_NOTFOUND);
	assert_int_equal(
	    store_add_approval(f->st, id, "", 1003, NULL, &ev_approve, NULL), EPH_ERR_INVAL);
	/* Decided: no more approvals. */
	assert_int_equal(store_set_state(f->st, id, STORE_PENDING, STORE_DENIED, &ev_deny), EPH_OK);
	assert_int_equal(
	    store_add_approval(f->st, id, "dave", 1004, NULL, &ev_approve, NULL), EPH_ERR_CONFLICT);
	/* request, 2 approvals, deny: the duplicates left no record. */
	assert_verifies(f, 4);
}

/* A denial keeps its denier, reason and time with the request: an
 * approver's, the policy's (no denier), and one made before the columns
 * were (schema 3), filled in from its deny record by the migration. */
static void
test_denial(void **state)
{
	struct fx *f = *state;
	static const struct store_event ev_policy = {AUDIT_DENY, "sshca", "db09: no", NULL, 0};
	static const struct store_event ev_created = {AUDIT_REQUEST, "alice", "no reason", NULL, 0};
	struct store_request rq, *got = NULL;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
	static char *hosts[] = {"db09"};
	sqlite3 *db;

	put(f, "alice", "db-maint", 0, a);
	put(f, "alice", "db-maint", 0, b);
	assert_int_equal(store_get_request(f->st, a, &got), EPH_OK);
	assert_null(got->denied_by);
	assert_null(got->deny_reason);
	assert_int_equal(got->denied_at, 0);
	store_request_free(got);
	f->now += 60;
	assert_int_equal(store_set_state(f->st, a, STORE_PENDING, STORE_DENIED, &ev_deny), EPH_OK);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_PENDING, STORE_DENIED, &ev_policy), EPH_OK);
	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_DENIED;
	rq.task = "db-maint";
	rq.hosts = hosts;
	rq.nhosts = 1;
	rq.requester = "alice";
	rq.requester_uid = 1000;
	rq.public_key = PUBKEY;
	rq.decision = DECISION;
	assert_int_equal(store_put_request(f->st, &rq, &ev_created), EPH_OK);
	memcpy(c, rq.id, sizeof(c));

	assert_int_equal(store_get_request(f->st, a, &got), EPH_OK);
	assert_string_equal(got->denied_by, "bob");
	assert_string_equal(got->deny_reason, "not now");
	assert_int_equal(got->denied_at, f->now);
	store_request_free(got);
	assert_int_equal(store_get_request(f->st, b, &got), EPH_OK);
	assert_null(got->denied_by);
	assert_string_equal(got->deny_reason, "db09: no");
	store_request_free(got);
	assert_int_equal(store_get_request(f->st, c, &got), EPH_OK);
	assert_null(got->denied_by);
	assert_string_equal(got->deny_reason, "no reason");
	assert_int_equal(got->denied_at, f->now);
	store_request_free(got);

	/* Back to schema 3, as an older sshca left it. */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "ALTER TABLE requests DROP COLUMN denied_by;"
	                     "ALTER TABLE requests DROP COLUMN deny_reason;"
	                     "ALTER TABLE requests DROP COLUMN denied_at;"
	                     "DELETE FROM schema_version WHERE version = 4;",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	fx_open(f);
	assert_int_equal(store_get_request(f->st, a, &got), EPH_OK);
	assert_string_equal(got->denied_by, "bob");
	assert_string_equal(got->deny_reason, "not now");
	assert_int_equal(got->denied_at, f->now);
	store_request_free(got);
	assert_int_equal(store_get_request(f->st, b, &got), EPH_OK);
	assert_null(got->denied_by);
	assert_string_equal(got->deny_reason, "db09: no");
	store_request_free(got);
	/* Denied at creation: no deny record to fill it from. */
	assert_int_equal(store_get_request(f->st, c, &got), EPH_OK);
	assert_null(got->denied_by);
	assert_null(got->deny_reason);
	store_request_free(got);
	put(f, "alice", "db-maint", 0, b);
	assert_int_equal(store_get_request(f->st, b, &got), EPH_OK);
	assert_null(got->denied_by);
	store_request_free(got);
	assert_verifies(f, 6);
}

/* ---------------------------------------------------- transitions */

static void
test_state_cas(void **state)
{
	struct fx *f = *state;
	struct store_request *got = NULL;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];

	put(f, "alice", "db-maint", 0, a);
	put(f, "alice", "db-maint", 0, b);
	f->now += 10;
	assert_int_equal(
	    store_set_state(f->st, a, STORE_PENDING, STORE_CANCELLED, &ev_cancel), EPH_OK);
	/* The loser of a race sees a conflict, and nothing changes. */
	assert_int_equal(
	    store_set_state(f->st, a, STORE_PENDING, STORE_EXPIRED, &ev_expire), EPH_ERR_CONFLICT);
	assert_int_equal(store_get_request(f->st, a, &got), EPH_OK);
	assert_int_equal(got->state, STORE_CANCELLED);
	assert_int_equal(got->updated, f->now);
	store_request_free(got);
	/* Moves the state machine does not have. */
	assert_int_equal(
	    store_set_state(f->st, b, STORE_PENDING, STORE_ISSUED, &ev_issue), EPH_ERR_INVAL);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_PENDING, STORE_REVOKED, &ev_revoke), EPH_ERR_INVAL);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_CANCELLED, STORE_PENDING, &ev_revoke), EPH_ERR_INVAL);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_ERR_CONFLICT);
	assert_int_equal(
	    store_set_state(f->st, "r-0000000000000000", STORE_PENDING, STORE_DENIED, &ev_deny),
	    EPH_ERR_NOTFOUND);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_PENDING, STORE_DENIED, NULL), EPH_ERR_INVAL);
	assert_verifies(f, 3);
}

static void
test_issue_revoke(void **state)
{
	struct fx *f = *state;
	struct store_request *got = NULL;
	struct store_cert c;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], d[STORE_ID_LEN + 1];
	uint64_t sa, sb, *krl = NULL, n = 0, spare;
	size_t nkrl = 0;

	put(f, "alice", "db-maint", 0, a);
	put(f, "alice", "db-maint", 0, b);
	put(f, "bob", "db-maint", 0, d);
	sa = issue(f, a);
	assert_int_equal(sa, 1);
	sb = issue(f, b);
	assert_int_equal(sb, 2);
	assert_int_equal(store_get_by_serial(f->st, sa, &got), EPH_OK);
	assert_string_equal(got->id, a);
	assert_int_equal(got->state, STORE_ISSUED);
	assert_string_equal(got->certificate, "ssh-ed25519-cert-v01@openssh.com AAAA");
	assert_int_equal(got->valid_after, f->now - 60);
	assert_int_equal(got->valid_before, f->now + 600);
	assert_int_equal(got->nprincipals, 2);
	assert_string_equal(got->principals[0], "eph:db-maint@db01");
	assert_string_equal(got->issued_login_as, "postgres");
	store_request_free(got);
	assert_int_equal(store_get_by_serial(f->st, 77, &got), EPH_ERR_NOTFOUND);

	/* Issued twice, a serial twice, a serial never allocated. */
	memset(&c, 0, sizeof(c));
	c.certificate = "x";
	c.serial = sa;
	assert_int_equal(store_issue(f->st, a, &c, &ev_issue), EPH_ERR_CONFLICT);
	assert_int_equal(store_issue(f->st, d, &c, &ev_issue), EPH_ERR_DUPLICATE);
	c.serial = 999;
	assert_int_equal(store_issue(f->st, d, &c, &ev_issue), EPH_ERR_RANGE);
	c.serial = 0;
	assert_int_equal(store_issue(f->st, d, &c, &ev_issue), EPH_ERR_RANGE);
	assert_int_equal(store_serial_alloc(f->st, &spare), EPH_OK);
	c.serial = spare;
	assert_int_equal(store_issue(f->st, "r-0000000000000000", &c, &ev_issue), EPH_ERR_NOTFOUND);
	c.certificate = NULL;
	assert_int_equal(store_issue(f->st, d, &c, &ev_issue), EPH_ERR_INVAL);

	assert_int_equal(store_count_active(f->st, "alice", f->now, 0, &n), EPH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_count_since(f->st, "alice", f->now, 0, &n), EPH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_count_since(f->st, "alice", f->now + 1, 0, &n), EPH_OK);
	assert_int_equal(n, 0);
	/* A cap stops the count: a limit check needs "at least cap". */
	assert_int_equal(store_count_active(f->st, "alice", f->now, 1, &n), EPH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_count_since(f->st, "alice", f->now, 1, &n), EPH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_count_since(f->st, "alice", f->now, 3, &n), EPH_OK);
	assert_int_equal(n, 2);

	/* Revoked and still valid: in the KRL; once expired: dropped. */
	assert_int_equal(
	    store_set_state(f->st, b, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_OK);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_ERR_CONFLICT);
	assert_int_equal(store_krl_serials(f->st, f->now, &krl, &nkrl), EPH_OK);
	assert_int_equal(nkrl, 1);
	assert_int_equal(krl[0], sb);
	free(krl);
	assert_int_equal(store_krl_serials(f->st, f->now + 600, &krl, &nkrl), EPH_OK);
	assert_int_equal(nkrl, 0);
	assert_null(krl);
	assert_int_equal(store_count_active(f->st, "alice", f->now, 0, &n), EPH_OK);
	assert_int_equal(n, 1);
	/* 3 requests, 2 issues, 1 revoke. */
	assert_verifies(f, 6);
}

static void
test_list_overdue(void **state)
{
	struct fx *f = *state;
	struct store_request_list l;
	struct store_filter flt = STORE_FILTER_ANY;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];

	put(f, "alice", "db-maint", 0, a);
	f->now += 100;
	put(f, "bob", "db-maint", 0, b);
	put(f, "alice", "web", 0, c);
	assert_int_equal(
	    store_add_approval(f->st, b, "carol", 1002, NULL, &ev_approve, NULL), EPH_OK);
	issue(f, c);

	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0]->id, a); /* oldest first */
	assert_int_equal(find(&l, b)->napprovals, 1);
	store_request_list_free(&l);
	flt.state = STORE_PENDING;
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 2);
	store_request_list_free(&l);
	flt.requester = "alice";
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->id, a);
	store_request_list_free(&l);
	flt.state = -1;
	flt.task = "web";
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->id, c);
	store_request_list_free(&l);
	flt.requester = NULL;
	flt.task = NULL;
	flt.limit = 2;
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 2);
	store_request_list_free(&l);
	flt.limit = 0;
	flt.state = 42;
	assert_int_equal(store_list(f->st, &flt, &l), EPH_ERR_INVAL);

	/* a's deadline passes first. */
	assert_int_equal(store_list_overdue(f->st, f->now + 3500, &l), EPH_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->id, a);
	store_request_list_free(&l);
	assert_int_equal(store_list_overdue(f->st, f->now + 3600, &l), EPH_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(
	    store_set_state(f->st, l.v[0]->id, STORE_PENDING, STORE_EXPIRED, &ev_expire), EPH_OK);
	store_request_list_free(&l);
	assert_int_equal(store_list_overdue(f->st, f->now + 3600, &l), EPH_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->id, b);
	store_request_list_free(&l);
}

static void
test_break_glass_review(void **state)
{
	struct fx *f = *state;
	struct store_request *got = NULL;
	struct store_request_list l;
	struct store_filter flt = STORE_FILTER_ANY;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];

	put(f, "alice", "firefight", 1, a);
	put(f, "alice", "db-maint", 0, b);
	issue(f, a);
	flt.review = STORE_REVIEW_OPEN;
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->id, a);
	assert_int_equal(l.v[0]->break_glass, 1);
	store_request_list_free(&l);
	f->now += 30;
	assert_int_equal(store_review_close(f->st, a, "carol", "looked fine", &ev_review), EPH_OK);
	assert_int_equal(store_review_close(f->st, a, "dave", NULL, &ev_review), EPH_ERR_CONFLICT);
	assert_int_equal(store_review_close(f->st, b, "dave", NULL, &ev_review), EPH_ERR_CONFLICT);
	assert_int_equal(store_review_close(f->st, "r-0000000000000000", "dave", NULL, &ev_review),
	    EPH_ERR_NOTFOUND);
	assert_int_equal(store_get_request(f->st, a, &got), EPH_OK);
	assert_int_equal(got->review, STORE_REVIEW_CLOSED);
	assert_string_equal(got->review_by, "carol");
	assert_string_equal(got->review_comment, "looked fine");
	assert_int_equal(got->review_at, f->now);
	store_request_free(got);
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 0);
	store_request_list_free(&l);
	assert_verifies(f, 4);
}

/* ---------------------------------------------------- group commit */

static void
test_group_commit(void **state)
{
	struct fx *f = *state;
	struct store_request_list l;
	struct store_filter flt = STORE_FILTER_ANY;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
	uint64_t serial;

	assert_int_equal(store_begin(f->st), EPH_OK);
	assert_int_equal(store_begin(f->st), EPH_ERR_INVAL);
	put(f, "alice", "db-maint", 0, a);
	put(f, "bob", "db-maint", 0, b);
	/* One change fails inside the group: only it is undone. */
	assert_int_equal(
	    store_set_state(f->st, a, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_ERR_CONFLICT);
	assert_int_equal(
	    store_add_approval(f->st, b, "carol", 1002, NULL, &ev_approve, NULL), EPH_OK);
	serial = issue(f, a);
	assert_int_equal(store_commit(f->st), EPH_OK);
	assert_int_equal(store_commit(f->st), EPH_ERR_INVAL);
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 2);
	store_request_list_free(&l);
	assert_verifies(f, 4);

	/* A rolled-back group leaves nothing, and its serial stays used. */
	assert_int_equal(store_begin(f->st), EPH_OK);
	put(f, "carol", "db-maint", 0, c);
	assert_int_equal(
	    store_set_state(f->st, b, STORE_PENDING, STORE_CANCELLED, &ev_cancel), EPH_OK);
	assert_int_equal(issue(f, c), serial + 1);
	store_rollback(f->st);
	assert_int_equal(store_list(f->st, &flt, &l), EPH_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(find(&l, b)->state, STORE_PENDING);
	store_request_list_free(&l);
	assert_verifies(f, 4);
	put(f, "carol", "db-maint", 0, c);
	assert_int_equal(issue(f, c), serial + 2);
	assert_verifies(f, 6);
	/* Verify inside a group sees the group's records. */
	assert_int_equal(store_begin(f->st), EPH_OK);
	put(f, "dave", "db-maint", 0, c);
	assert_verifies(f, 7);
	assert_int_equal(store_commit(f->st), EPH_OK);
}

/* The buckets of one snapshot: cumulative, never decreasing, bounds
 * ascending to +Inf, whose count is every commit. */
static void
assert_histogram(const struct store_stats *ss)
{
	size_t b;

	for (b = 0; b + 1 < STORE_COMMIT_NBUCKETS; b++) {
		assert_true(ss->commit_le_us[b] < ss->commit_le_us[b + 1]);
		assert_true(ss->commit_bucket[b] <= ss->commit_bucket[b + 1]);
	}
	assert_int_equal(ss->commit_le_us[STORE_COMMIT_NBUCKETS - 1], UINT64_MAX);
	assert_int_equal(ss->commit_bucket[STORE_COMMIT_NBUCKETS - 1], ss->commits);
}

/* Every durable commit is counted once: a change's own, a group's (one
 * for all its changes); a failed change, a rolled-back group and reads
 * count nothing. */
static void
test_commit_stats(void **state)
{
	struct fx *f = *state;
	struct store_stats s0, s1, s2;
	struct store_request *rq = NULL;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
	size_t i;

	store_stats(f->st, &s0);
	assert_histogram(&s0);
	put(f, "alice", "db-maint", 0, a);
	put(f, "bob", "db-maint", 0, b);
	(void)issue(f, a);
	store_stats(f->st, &s1);
	assert_histogram(&s1);
	assert_int_equal(s1.commits, s0.commits + 3);
	for (i = 0; i < STORE_COMMIT_NBUCKETS; i++)
		assert_true(s1.commit_bucket[i] >= s0.commit_bucket[i]);
	assert_true(s1.commit_ns_sum >= s0.commit_ns_sum);
	assert_int_equal(s1.commit_failures, 0);

	/* A refused change and a read: no commit. */
	assert_int_equal(store_set_state(f->st, a, STORE_PENDING, STORE_CANCELLED, &ev_cancel),
	    EPH_ERR_CONFLICT);
	assert_int_equal(store_get_request(f->st, b, &rq), EPH_OK);
	store_request_free(rq);
	store_stats(f->st, &s2);
	assert_int_equal(s2.commits, s1.commits);

	/* A group of two changes is one commit; a rolled-back one none. */
	assert_int_equal(store_begin(f->st), EPH_OK);
	assert_int_equal(
	    store_add_approval(f->st, b, "carol", 1002, NULL, &ev_approve, NULL), EPH_OK);
	assert_int_equal(store_set_state(f->st, b, STORE_PENDING, STORE_DENIED, &ev_deny), EPH_OK);
	assert_int_equal(store_commit(f->st), EPH_OK);
	assert_int_equal(store_begin(f->st), EPH_OK);
	assert_int_equal(
	    store_set_state(f->st, a, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_OK);
	store_rollback(f->st);
	store_stats(f->st, &s2);
	assert_histogram(&s2);
	assert_int_equal(s2.commits, s1.commits + 1);
	assert_int_equal(s2.commit_failures, 0);
	store_stats(NULL, &s2);
	assert_int_equal(s2.commits, 0);
}

/* ------------------------------------------------- read-only recovery */

/* File modes bind only a user that is not root: the scenario runs in a
 * child as nobody when the tests run as root. It reports the line of its
 * first failed check (cmocka's asserts belong to the parent). */
#define RO_CHECK(c)                                                                                \
	do {                                                                                       \
		if (!(c))                                                                          \
			return __LINE__;                                                           \
	} while (0)

static int
ro_put(struct store *st)
{
	static char *hosts[] = {"db01"};
	struct store_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_PENDING;
	rq.task = "db-maint";
	rq.hosts = hosts;
	rq.nhosts = 1;
	rq.requester = "alice";
	rq.requester_uid = 1000;
	rq.public_key = PUBKEY;
	rq.decision = DECISION;
	rq.expires = (int64_t)time(NULL) + 3600;
	return store_put_request(st, &rq, &ev_request);
}

static size_t
ro_count(struct store *st)
{
	struct store_filter flt = STORE_FILTER_ANY;
	struct store_request_list l;
	size_t n;

	if (store_list(st, &flt, &l) != EPH_OK)
		return (size_t)-1;
	n = l.n;
	store_request_list_free(&l);
	return n;
}

/* The database and its -wal and -shm, where they are. */
static int
ro_chmod(const char *db, mode_t m)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[4096];
	size_t i;

	for (i = 0; i < 3; i++) {
		(void)snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
		if (chmod(p, m) != 0 && errno != ENOENT)
			return -1;
	}
	return 0;
}

static int
ro_scenario(const char *dir)
{
	struct store_opts o;
	struct store *st = NULL;
	struct store_stats ss;
	struct audit_chain ch;
	char db[4096], hwm[4096], moved[4096], why[256];
	uint64_t s1, s2, s3;
	int fd;

	(void)snprintf(db, sizeof(db), "%s/ca.db", dir);
	(void)snprintf(hwm, sizeof(hwm), "%s/ca.db.serial", dir);
	(void)snprintf(moved, sizeof(moved), "%s/moved.db", dir);
	memset(&o, 0, sizeof(o));
	o.database = db;
	o.serial_file = hwm;
	o.serial_block = 2;
	o.no_log = 1;
	RO_CHECK(store_open(&o, &st) == EPH_OK);
	RO_CHECK(ro_put(st) == EPH_OK);
	RO_CHECK(store_serial_alloc(st, &s1) == EPH_OK);
	store_close(st);

	/* Opened on a file mode 0400: SQLite gives a read-only connection.
	 * Reads are served, writes refused, nothing written. */
	RO_CHECK(ro_chmod(db, 0400) == 0);
	RO_CHECK(store_open(&o, &st) == EPH_OK);
	RO_CHECK(store_health(st, why, sizeof(why)) == EPH_ERR_STORE_FULL);
	RO_CHECK(strstr(why, "read-only") != NULL);
	RO_CHECK(ro_put(st) == EPH_ERR_STORE_FULL);
	RO_CHECK(store_begin(st) == EPH_ERR_STORE_FULL);
	RO_CHECK(ro_count(st) == 1);
	RO_CHECK(store_serial_alloc(st, &s2) == EPH_OK && s2 > s1);
	/* Writable again: the next write reopens the connection itself. */
	RO_CHECK(ro_chmod(db, 0600) == 0);
	RO_CHECK(ro_put(st) == EPH_OK);
	RO_CHECK(ro_count(st) == 2);
	store_stats(st, &ss);
	RO_CHECK(ss.reopens == 1);
	RO_CHECK(store_health(st, why, sizeof(why)) == EPH_OK);
	/* The serial state is the handle's: no serial again after the reopen. */
	RO_CHECK(store_serial_alloc(st, &s3) == EPH_OK && s3 > s2);

	/* Read-only while open: the connection's descriptors could still
	 * write; the store does not. Then store_health recovers it. */
	RO_CHECK(ro_chmod(db, 0400) == 0);
	RO_CHECK(ro_put(st) == EPH_ERR_STORE_FULL);
	RO_CHECK(store_health(st, why, sizeof(why)) == EPH_ERR_STORE_FULL);
	RO_CHECK(strstr(why, "read-only") != NULL);
	RO_CHECK(ro_count(st) == 2);
	RO_CHECK(ro_chmod(db, 0600) == 0);
	RO_CHECK(store_health(st, why, sizeof(why)) == EPH_OK);
	RO_CHECK(ro_put(st) == EPH_OK);
	RO_CHECK(ro_count(st) == 3);
	RO_CHECK(store_audit_verify(st, &ch) == EPH_OK && ch.count == 3);

	/* Another file put in its place is not opened: a restart decides. */
	RO_CHECK(ro_chmod(db, 0400) == 0);
	RO_CHECK(ro_put(st) == EPH_ERR_STORE_FULL);
	RO_CHECK(rename(db, moved) == 0);
	RO_CHECK((fd = open(db, O_RDWR | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	RO_CHECK(ro_chmod(db, 0600) == 0);
	RO_CHECK(store_health(st, why, sizeof(why)) == EPH_ERR_STORE_FULL);
	RO_CHECK(strstr(why, "not the file") != NULL);
	RO_CHECK(ro_put(st) == EPH_ERR_STORE_FULL);
	RO_CHECK(ro_count(st) == 3);
	store_stats(st, &ss);
	RO_CHECK(ss.reopens == 2);
	store_close(st);
	return 0;
}

static void
test_read_only_recovery(void **state)
{
	char *dir = tu_mkdtemp();
	struct passwd *pw;
	int status, line = 0, p[2];
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		line = ro_scenario(dir);
		goto out;
	}
	if ((pw = getpwnam("nobody")) == NULL) {
		tu_rmrf(dir);
		free(dir);
		skip();
	}
	assert_int_equal(chown(dir, pw->pw_uid, pw->pw_gid), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			line = -1;
		else
			line = ro_scenario(dir);
		_exit(write(p[1], &line, sizeof(line)) == (ssize_t)sizeof(line) ? 0 : 1);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &line, sizeof(line)), (ssize_t)sizeof(line));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (line == -1)
		fail_msg("read-only recovery: cannot become nobody");
out:
	tu_rmrf(dir);
	free(dir);
	if (line != 0)
		fail_msg("read-only recovery%s: the check at line %d failed",
		    geteuid() == 0 ? " (as nobody)" : "", line);
}

/* ---------------------------------------------------------- serials */

static uint64_t
hwm_value(struct fx *f)
{
	char *t = tu_read_file(f->hwm, NULL);
	uint64_t v;

	assert_non_null(t);
	v = strtoull(t, NULL, 10);
	free(t);
	return v;
}

static void
cp(const char *from, const char *to)
{
	assert_int_equal(
	    tu_run(NULL, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", from, to, to, to), 0);
}

static void
test_serials(void **state)
{
	struct fx *f = *state;
	char id[STORE_ID_LEN + 1];
	char *backup = tu_path(f->dir, "backup.db");
	struct store_opts o;
	uint64_t s, last = 0, i;

	/* Nothing reserved before the first serial. */
	assert_int_equal(access(f->hwm, F_OK), -1);
	for (i = 0; i < 3; i++) {
		put(f, "alice", "t", 0, id);
		s = issue(f, id);
		assert_true(s > last);
		last = s;
	}
	assert_int_equal(last, 3);
	assert_int_equal(hwm_value(f), 10); /* a block of 10 reserved at once */
	fx_reopen(f);
	cp(f->db, backup); /* a backup with serials 1..3 */

	/* After a restart the next block starts above the reserved one. */
	put(f, "alice", "t", 0, id);
	s = issue(f, id);
	assert_int_equal(s, 11);
	assert_int_equal(hwm_value(f), 20);
	for (i = 0; i < 12; i++) {
		put(f, "alice", "t", 0, id);
		last = issue(f, id);
	}
	assert_int_equal(last, 23);
	assert_int_equal(hwm_value(f), 30);

	/* The old backup restored: the high-water file keeps us above. */
	store_close(f->st);
	f->st = NULL;
	cp(backup, f->db);
	fx_open(f);
	put(f, "alice", "t", 0, id);
	assert_int_equal(issue(f, id), 31);

	/* The high-water file lost: the database keeps us above what it
	 * stored (serials reserved but never stored are what the file is
	 * for: keep it, next to the KRL). */
	assert_int_equal(unlink(f->hwm), 0);
	fx_reopen(f);
	put(f, "alice", "t", 0, id);
	assert_int_equal(issue(f, id), 32);

	/* Both lost (a fresh database): the caller's floor (the KRL). */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(tu_run(NULL, "rm -f '%s' '%s'*", f->hwm, f->db), 0);
	o = fx_opts(f);
	o.serial_floor = 5000;
	assert_int_equal(store_open(&o, &f->st), EPH_OK);
	put(f, "alice", "t", 0, id);
	assert_int_equal(issue(f, id), 5001);
	assert_int_equal(hwm_value(f), 5010);

	/* A damaged or unsafe high-water file stops the store. */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(tu_write_file(f->hwm, "12x\n", 4, 0600), 0);
	assert_int_equal(store_open(&o, &f->st), EPH_ERR_FORMAT);
	assert_int_equal(tu_write_file(f->hwm, "6000\n", 5, 0666), 0);
	assert_int_equal(chmod(f->hwm, 0666), 0);
	assert_int_equal(store_open(&o, &f->st), EPH_ERR_PERM);
	assert_int_equal(chmod(f->hwm, 0644), 0);
	assert_int_equal(store_open(&o, &f->st), EPH_OK);
	assert_int_equal(store_serial_alloc(f->st, &s), EPH_OK);
	assert_int_equal(s, 6001);
	/* Cannot write the high-water file: no serial. */
	assert_int_equal(store_serial_alloc(f->st, &s), EPH_OK);
	{
		char *dir = f->dir;

		for (i = 0; i < 8; i++)
			assert_int_equal(store_serial_alloc(f->st, &s), EPH_OK);
		assert_int_equal(s, 6010);
		if (geteuid() != 0) {
			assert_int_equal(chmod(dir, 0500), 0);
			assert_int_equal(store_serial_alloc(f->st, &s), EPH_ERR_IO);
			assert_int_equal(s, 0);
			assert_int_equal(chmod(dir, 0700), 0);
			assert_int_equal(store_serial_alloc(f->st, &s), EPH_OK);
			assert_int_equal(s, 6011);
		}
	}
	free(backup);
}

/* ------------------------------------------------------------ audit */

/* Run SQL on the database behind the store's back, as an attacker. */
static int
attack(struct fx *f, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;
	int rc;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	sqlite3_free(err);
	sqlite3_close(db);
	return rc;
}

/* Five records: request, 2 approvals, issue, revoke. */
static void
five_records(struct fx *f)
{
	char id[STORE_ID_LEN + 1];

	put(f, "alice", "db-maint", 0, id);
	assert_int_equal(
	    store_add_approval(f->st, id, "bob", 1001, NULL, &ev_approve, NULL), EPH_OK);
	assert_int_equal(
	    store_add_approval(f->st, id, "carol", 1002, NULL, &ev_approve, NULL), EPH_OK);
	issue(f, id);
	assert_int_equal(
	    store_set_state(f->st, id, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_OK);
	assert_verifies(f, 5);
	store_close(f->st);
	f->st = NULL;
}

static void
expect_broken(struct fx *f, uint64_t seq, const char *what)
{
	struct audit_chain ch;
	struct store_opts o = fx_opts(f);
	struct store *st = NULL;

	o.read_only = 1;
	assert_int_equal(store_open(&o, &st), EPH_OK);
	assert_int_equal(store_audit_verify(st, &ch), EPH_ERR_TAMPERED);
	store_close(st);
	if (ch.bad_seq != seq || strstr(ch.problem, what) == NULL)
		fail_msg("want record %llu '%s', got %llu '%s'", (unsigned long long)seq, what,
		    (unsigned long long)ch.bad_seq, ch.problem);
}

#define DROP "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"

static void
test_audit_triggers(void **state)
{
	struct fx *f = *state;

	five_records(f);
	assert_int_not_equal(attack(f, "UPDATE audit SET actor = 'x' WHERE seq = 2"), SQLITE_OK);
	assert_int_not_equal(attack(f, "DELETE FROM audit WHERE seq = 2"), SQLITE_OK);
	fx_open(f);
	assert_verifies(f, 5);
}

static void
test_audit_edited(void **state)
{
	struct fx *f = *state;

	five_records(f);
	assert_int_equal(
	    attack(f, DROP "UPDATE audit SET actor = 'mallory' WHERE seq = 3"), SQLITE_OK);
	expect_broken(f, 3, "does not match its hash (edited");
}

static void
test_audit_edited_details(void **state)
{
	struct fx *f = *state;

	five_records(f);
	assert_int_equal(
	    attack(
	        f, DROP "UPDATE audit SET details = replace(details, 'eph:', 'xyz') WHERE seq = 4"),
	    SQLITE_OK);
	expect_broken(f, 4, "edited");
}

static void
test_audit_deleted(void **state)
{
	struct fx *f = *state;

	five_records(f);
	assert_int_equal(attack(f, DROP "DELETE FROM audit WHERE seq = 2"), SQLITE_OK);
	expect_broken(f, 2, "record 2 is missing (deleted)");
}

static void
test_audit_deleted_renumbered(void **state)
{
	struct fx *f = *state;

	/* Deleted, and the later rows renumbered to hide the gap. */
	five_records(f);
	assert_int_equal(attack(f,
	                     DROP "DELETE FROM audit WHERE seq = 2;"
	                          "UPDATE audit SET seq = seq - 1 WHERE seq > 2;"),
	    SQLITE_OK);
	expect_broken(f, 2, "does not follow the previous record");
}

static void
test_audit_truncated(void **state)
{
	struct fx *f = *state;

	five_records(f);
	assert_int_equal(attack(f, DROP "DELETE FROM audit WHERE seq >= 4"), SQLITE_OK);
	expect_broken(f, 4, "truncated");
}

static void
test_audit_inserted(void **state)
{
	struct fx *f = *state;

	/* A copy of record 2 inserted after 2, the rest moved up. */
	five_records(f);
	assert_int_equal(attack(f,
	                     DROP "UPDATE audit SET seq = seq + 10 WHERE seq > 2;"
	                          "UPDATE audit SET seq = seq - 9 WHERE seq > 10;"
	                          "INSERT INTO audit SELECT 3, time, type, request_id,"
	                          " serial, actor, details, hash, hash FROM audit"
	                          " WHERE seq = 2;"),
	    SQLITE_OK);
	expect_broken(f, 3, "record 3 does not match its hash (edited, or inserted)");
}

static void
test_audit_appended(void **state)
{
	struct fx *f = *state;
	struct audit_record rec;
	char sql[1024], hex[AUDIT_HASH_HEX + 1], prev[AUDIT_HASH_HEX + 1];
	sqlite3 *db;
	sqlite3_stmt *s;

	/* A record appended with a correct hash (the chain has no secret)
	 * but not through the store: the head the store kept disagrees. */
	five_records(f);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = 5", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(prev, sizeof(prev), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	memset(&rec, 0, sizeof(rec));
	rec.seq = 6;
	rec.time = f->now;
	rec.type = "issue";
	rec.request_id = "r-1111111111111111";
	rec.serial = 99;
	rec.actor = "sshca";
	rec.details = "{}";
	assert_int_equal(audit_hash_parse(prev, rec.prev), EPH_OK);
	assert_int_equal(audit_record_hash(&rec, rec.hash), EPH_OK);
	audit_hash_hex(rec.hash, hex);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO audit VALUES (6, %lld, 'issue', 'r-1111111111111111', 99, 'sshca', '{}',"
	    " '%s', '%s')",
	    (long long)f->now, prev, hex);
	assert_int_equal(attack(f, sql), SQLITE_OK);
	expect_broken(f, 6, "not written by the store");
}

static void
test_audit_list(void **state)
{
	struct fx *f = *state;
	struct audit_list l;
	struct audit_query q;
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
	uint64_t serial;

	put(f, "alice", "db-maint", 0, a);
	put(f, "bob", "db-maint", 0, b);
	assert_int_equal(
	    store_add_approval(f->st, a, "carol", 1002, "fine", &ev_approve, NULL), EPH_OK);
	serial = issue(f, a);
	memset(&q, 0, sizeof(q));
	q.request_id = a;
	assert_int_equal(store_audit_list(f->st, &q, &l), EPH_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].type, "request");
	assert_string_equal(l.v[0].actor, "alice");
	tu_assert_contains(l.v[0].details, "\"task\":\"db-maint\"");
	tu_assert_contains(l.v[0].details, "\"decision\":{\"allowed\":true");
	tu_assert_contains(l.v[0].details, "\"key_fingerprint\":\"SHA256:");
	assert_string_equal(l.v[1].type, "approve");
	tu_assert_contains(l.v[1].details, "\"comment\":\"fine\"");
	assert_string_equal(l.v[2].type, "issue");
	assert_int_equal(l.v[2].serial, serial);
	assert_string_equal(l.v[2].actor, "sshca");
	/* The store's facts and the caller's extra key. */
	tu_assert_contains(l.v[2].details, "\"note\":1");
	tu_assert_contains(l.v[2].details, "\"principals\":[\"eph:db-maint@db01\"");
	tu_assert_contains(l.v[2].details, "\"valid_before\":");
	assert_int_equal(l.v[2].time, f->now);
	audit_list_free(&l);
	memset(&q, 0, sizeof(q));
	q.serial = serial;
	assert_int_equal(store_audit_list(f->st, &q, &l), EPH_OK);
	assert_int_equal(l.n, 3);
	audit_list_free(&l);
	q.serial = 12345;
	assert_int_equal(store_audit_list(f->st, &q, &l), EPH_ERR_NOTFOUND);
	memset(&q, 0, sizeof(q));
	q.since_seq = 2;
	q.limit = 1;
	assert_int_equal(store_audit_list(f->st, &q, &l), EPH_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].seq, 3);
	audit_list_free(&l);
	/* Details must be a JSON object. */
	{
		struct store_event bad = {AUDIT_CANCEL, "bob", NULL, "[1]", 0};

		assert_int_equal(
		    store_set_state(f->st, b, STORE_PENDING, STORE_CANCELLED, &bad), EPH_ERR_INVAL);
	}
	assert_verifies(f, 4);
}

/* ---------------------------------------------------------- logging */

struct captured {
	char lines[64][1024];
	int prio[64];
	size_t n;
};

static void
capture(int priority, const char *line, void *ctx)
{
	struct captured *c = ctx;

	if (c->n < 64) {
		snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", line);
		c->prio[c->n++] = priority;
	}
}

static void
test_logged_after_commit(void **state)
{
	struct fx *f = *state;
	struct store_opts o = fx_opts(f);
	struct captured *c = calloc(1, sizeof(*c));
	char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
	uint64_t serial;

	assert_non_null(c);
	store_close(f->st);
	o.no_log = 0;
	assert_int_equal(store_open(&o, &f->st), EPH_OK);
	eph_log_set_journal(0);
	eph_log_set_syslog(capture, c);

	put(f, "alice", "db-maint", 0, a);
	assert_int_equal(c->n, 1);
	tu_assert_contains(c->lines[0], "EPH_EVENT=request");
	tu_assert_contains(c->lines[0], a);
	tu_assert_contains(c->lines[0], "EPH_TASK=db-maint");
	tu_assert_contains(c->lines[0], "EPH_REQUESTER=alice");
	tu_assert_contains(c->lines[0], "EPH_HOST=db01,db02");
	tu_assert_contains(c->lines[0], "EPH_DECISION=pending");
	tu_assert_contains(c->lines[0], "EPH_AUDIT_SEQ=1");
	assert_int_equal(c->prio[0], LOG_INFO);

	/* In a group: nothing until the commit, then one line each. */
	assert_int_equal(store_begin(f->st), EPH_OK);
	assert_int_equal(
	    store_add_approval(f->st, a, "bob", 1001, NULL, &ev_approve, NULL), EPH_OK);
	assert_int_equal(
	    store_add_approval(f->st, a, "carol", 1002, NULL, &ev_approve, NULL), EPH_OK);
	serial = issue(f, a);
	assert_int_equal(c->n, 1);
	assert_int_equal(store_commit(f->st), EPH_OK);
	assert_int_equal(c->n, 4);
	tu_assert_contains(c->lines[3], "EPH_EVENT=issue");
	tu_assert_contains(c->lines[3], "EPH_APPROVERS=bob,carol");
	tu_assert_contains(c->lines[3], "EPH_PRINCIPALS=eph:db-maint@db01,eph:db-maint@db02");
	assert_int_equal(c->prio[3], LOG_NOTICE);
	(void)serial;
	tu_assert_contains(c->lines[3], "EPH_SERIAL=1");

	/* Rolled back or failed: never logged. */
	assert_int_equal(store_begin(f->st), EPH_OK);
	put(f, "alice", "db-maint", 0, b);
	store_rollback(f->st);
	assert_int_equal(store_set_state(f->st, a, STORE_PENDING, STORE_CANCELLED, &ev_cancel),
	    EPH_ERR_CONFLICT);
	assert_int_equal(c->n, 4);

	assert_int_equal(
	    store_set_state(f->st, a, STORE_ISSUED, STORE_REVOKED, &ev_revoke), EPH_OK);
	assert_int_equal(c->n, 5);
	tu_assert_contains(c->lines[4], "EPH_REASON=done");
	tu_assert_contains(c->lines[4], "EPH_DECISION=revoked");
	put(f, "dave", "firefight", 1, b);
	assert_int_equal(c->n, 6);
	assert_int_equal(c->prio[5], LOG_ALERT);
	tu_assert_contains(c->lines[5], "EPH_EVENT=break_glass");
	eph_log_set_syslog(NULL, NULL);
	eph_log_set_journal(-1);
	free(c);
}

/* ------------------------------------------------------------ crash */

/*
 * A child writes requests and issuances as fast as it can and reports
 * each id after its commit returned; the parent kills it (-9) at a
 * random point. Everything reported must be there, the chain must
 * verify, and no serial may come back.
 */
static void
test_crash(void **state)
{
	struct fx *f = *state;
	char(*ids)[STORE_ID_LEN + 2] = calloc(4096, sizeof(*ids));
	uint64_t reported_max = 0, s;
	size_t n = 0, i, want;
	int p[2], status;
	pid_t pid;
	FILE *in;
	char line[64];

	assert_non_null(ids);
	store_close(f->st);
	f->st = NULL;
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	want = 20 + (size_t)(rand() % 200);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char id[STORE_ID_LEN + 1];
		char out[64];
		int k;

		close(p[0]);
		fx_open(f);
		for (k = 0; k < 100000; k++) {
			put(f, "alice", "db-maint", 0, id);
			s = k % 2 == 0 ? issue(f, id) : 0;
			snprintf(out, sizeof(out), "%s %llu\n", id, (unsigned long long)s);
			if (write(p[1], out, strlen(out)) < 0)
				_exit(3);
		}
		_exit(0);
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	assert_non_null(in);
	while (n < want && fgets(line, sizeof(line), in) != NULL) {
		unsigned long long v = 0;

		assert_int_equal(sscanf(line, "%18s %llu", ids[n], &v), 2);
		if (v > reported_max)
			reported_max = v;
		n++;
	}
	kill(pid, SIGKILL);
	/* What was written before the kill landed is also reported. */
	while (n < 4096 && fgets(line, sizeof(line), in) != NULL) {
		unsigned long long v = 0;

		if (sscanf(line, "%18s %llu", ids[n], &v) == 2) {
			if (v > reported_max)
				reported_max = v;
			n++;
		}
	}
	fclose(in);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(n >= want);

	fx_open(f);
	for (i = 0; i < n; i++) {
		struct store_request *got = NULL;

		if (store_get_request(f->st, ids[i], &got) != EPH_OK)
			fail_msg("request %s reported committed is lost", ids[i]);
		store_request_free(got);
	}
	{
		struct audit_chain ch;

		assert_int_equal(store_audit_verify(f->st, &ch), EPH_OK);
		assert_true(ch.count >= n);
	}
	assert_int_equal(store_serial_alloc(f->st, &s), EPH_OK);
	assert_true(s > reported_max);
	free(ids);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_safely, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_pragmas, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
	    cmocka_unit_test(test_ids_random),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_approvals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_stats, setup, teardown),
	    cmocka_unit_test(test_read_only_recovery),
	    cmocka_unit_test_setup_teardown(test_denial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_cas, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_issue_revoke, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_overdue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_break_glass_review, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_serials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_triggers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_edited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_edited_details, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_deleted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_deleted_renumbered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_inserted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_appended, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logged_after_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

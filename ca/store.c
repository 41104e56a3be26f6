/*
 * The SQLite backend of store.h: schema and migrations, compare-and-set
 * transitions committed with their audit record, group commit through
 * savepoints, serial allocation guarded by a high-water file, and the
 * events logged once their transaction is durable.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "audit.h"
#include "buf.h"
#include "err.h"
#include "fileio.h"
#include "key.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define SCHEMA_VERSION 4
#define STMT_CACHE 48
#define SERIAL_MAX ((uint64_t)INT64_MAX)
#define SERIAL_FILE_MAX 64
#define STORE_ACTOR_CA "sshca"

/* One event waiting for its transaction to commit before it is logged. */
struct pending_log {
	int priority;
	enum audit_type type;
	char *fields[20]; /* "NAME=value" pairs split at '=' when sent */
	size_t nfields;
	char *msg;
};

struct store {
	sqlite3 *db;
	char *path;
	char *serial_file;
	int read_only, no_log;
	store_clock_fn clock;
	void *clock_ctx;
	uint32_t serial_block;
	uint64_t serial_first; /* first serial this handle may hand out */
	uint64_t serial_next; /* next to hand out; never goes back */
	uint64_t serial_reserved; /* highest serial in the high-water file */
	int batch; /* inside store_begin */
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	struct pending_log *logs;
	size_t nlogs, caplogs;
	/* store_stats; commit_hist is not cumulative. */
	uint64_t n_commits, n_commit_failures, commit_ns;
	uint64_t commit_hist[STORE_COMMIT_NBUCKETS];
	/* Read-only recovery: the file opened, and while degraded why no
	 * write is tried (store_writable). */
	dev_t dev;
	ino_t ino;
	int busy_timeout_ms;
	int degraded;
	char why[256];
	uint64_t n_reopens;
};

/* Commit latency bucket bounds in microseconds (the last is +Inf). */
static const uint64_t commit_le_us[STORE_COMMIT_NBUCKETS - 1] = {
    500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 250000, 1000000};

static int store_writable(struct store *st);

static const char *const state_names[STORE_NSTATES] = {
    [STORE_PENDING] = "pending",
    [STORE_ISSUED] = "issued",
    [STORE_DENIED] = "denied",
    [STORE_EXPIRED] = "expired",
    [STORE_CANCELLED] = "cancelled",
    [STORE_REVOKED] = "revoked",
};

static const char *const review_names[] = {"none", "open", "closed"};

/* ------------------------------------------------------------ schema */

/* Migration i takes the schema from version i to i + 1. Never edit one
 * that has shipped; append a new one. */
static const char *const migrations[SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value NOT NULL);"
    "INSERT INTO meta VALUES ('serial_last', 0), ('audit_seq', 0), ('audit_hash', '');"
    "CREATE TABLE requests ("
    " id TEXT PRIMARY KEY,"
    " state TEXT NOT NULL CHECK (state IN"
    "  ('pending','issued','denied','expired','cancelled','revoked')),"
    " task TEXT NOT NULL, hosts TEXT NOT NULL,"
    " requester TEXT NOT NULL, requester_uid INTEGER NOT NULL,"
    " reason TEXT NOT NULL, public_key TEXT NOT NULL, source_address TEXT,"
    " ttl INTEGER NOT NULL, login_as TEXT, break_glass INTEGER NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " decision TEXT NOT NULL,"
    " serial INTEGER UNIQUE, certificate TEXT, valid_after INTEGER, valid_before INTEGER,"
    " principals TEXT, issued_login_as TEXT,"
    " review TEXT NOT NULL CHECK (review IN ('none','open','closed')),"
    " review_by TEXT, review_comment TEXT, review_at INTEGER);"
    "CREATE INDEX requests_state ON requests (state, expires);"
    "CREATE INDEX requests_requester ON requests (requester, created);"
    "CREATE TABLE approvals ("
    " seq INTEGER PRIMARY KEY,"
    " request_id TEXT NOT NULL REFERENCES requests (id),"
    " user TEXT NOT NULL, uid INTEGER NOT NULL, at INTEGER NOT NULL, comment TEXT NOT NULL,"
    " UNIQUE (request_id, uid));"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, type TEXT NOT NULL,"
    " request_id TEXT NOT NULL, serial INTEGER NOT NULL, actor TEXT NOT NULL,"
    " details TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_request ON audit (request_id);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    /* 1 -> 2: the active-grants limit is checked on every create; through
     * requests_requester it read every row the requester ever had (a
     * table scan growing without end). This covers it with a range over
     * the unexpired issued grants alone. */
    "CREATE INDEX requests_active ON requests (requester, state, valid_before);",
    /* 2 -> 3: TLS login sessions, by the SHA-256 of their token. */
    "CREATE TABLE sessions ("
    " token_hash TEXT PRIMARY KEY,"
    " user TEXT NOT NULL, uid INTEGER NOT NULL, address TEXT NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_expires ON sessions (expires);",
    /* 3 -> 4: a denial's denier, reason and time, which the request's
     * object shows its requester. Requests denied before are filled in
     * from their deny record (a denial at creation had none: its reasons
     * are the decision's). */
    "ALTER TABLE requests ADD COLUMN denied_by TEXT;"
    "ALTER TABLE requests ADD COLUMN deny_reason TEXT;"
    "ALTER TABLE requests ADD COLUMN denied_at INTEGER;"
    "UPDATE requests SET"
    " denied_by = (SELECT nullif(a.actor, 'sshca') FROM audit a WHERE a.request_id = requests.id"
    "  AND a.type = 'deny' ORDER BY a.seq DESC LIMIT 1),"
    " deny_reason = (SELECT json_extract(a.details, '$.reason') FROM audit a"
    "  WHERE a.request_id = requests.id AND a.type = 'deny' AND json_valid(a.details)"
    "  ORDER BY a.seq DESC LIMIT 1),"
    " denied_at = updated"
    " WHERE state = 'denied';",
};

/* ------------------------------------------------------------ helpers */

const char *
store_state_name(enum store_state s)
{
	if ((unsigned)s >= STORE_NSTATES)
		return "unknown";
	return state_names[s];
}

int
store_state_parse(const char *name, enum store_state *out)
{
	unsigned i;

	for (i = 0; name != NULL && i < STORE_NSTATES; i++) {
		if (strcmp(state_names[i], name) == 0) {
			*out = (enum store_state)i;
			return EPH_OK;
		}
	}
	return EPH_ERR_INVAL;
}

const char *
store_review_name(enum store_review r)
{
	if ((unsigned)r > STORE_REVIEW_CLOSED)
		return "unknown";
	return review_names[r];
}

static int
review_parse(const char *name, enum store_review *out)
{
	unsigned i;

	for (i = 0; name != NULL && i <= STORE_REVIEW_CLOSED; i++) {
		if (strcmp(review_names[i], name) == 0) {
			*out = (enum store_review)i;
			return EPH_OK;
		}
	}
	return EPH_ERR_FORMAT;
}

static int64_t
store_now(const struct store *st)
{
	if (st->clock != NULL)
		return st->clock(st->clock_ctx);
	return (int64_t)time(NULL);
}

/* An SQLite result code as one of ours. */
static int
sql_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return EPH_OK;
	case SQLITE_NOMEM: return EPH_ERR_NOMEM;
	case SQLITE_FULL:
	case SQLITE_READONLY: return EPH_ERR_STORE_FULL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return EPH_ERR_BUSY;
	case SQLITE_CONSTRAINT: return EPH_ERR_DUPLICATE;
	case SQLITE_PERM:
	case SQLITE_AUTH: return EPH_ERR_PERM;
	default: return EPH_ERR_STORE;
	}
}

const char *
store_errmsg(const struct store *st)
{
	if (st == NULL || st->db == NULL)
		return "no database";
	return sqlite3_errmsg(st->db);
}

int
store_health(struct store *st, char *why, size_t len)
{
	struct statvfs vfs;
	uint64_t avail;

	if (why != NULL && len > 0)
		why[0] = '\0';
	if (st == NULL || st->db == NULL)
		return EPH_ERR_INVAL;
	/* Outside a group this also recovers a connection left read-only. */
	if (store_writable(st) != EPH_OK) {
		if (why != NULL && st->why[0] != '\0')
			snprintf(why, len, "%s", st->why);
		else if (why != NULL)
			snprintf(why, len, "the database %s is read-only", st->path);
		return EPH_ERR_STORE_FULL;
	}
	/* The WAL absorbs a few writes on a full volume: say so before the
	 * first commit fails, not after. */
	if (statvfs(st->path, &vfs) != 0) {
		if (why != NULL)
			snprintf(why, len, "%s: %s", st->path, strerror(errno));
		return EPH_ERR_STORE;
	}
	avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	if (avail < STORE_MIN_FREE) {
		if (why != NULL)
			snprintf(why, len, "the database's file system has %llu KiB free",
			    (unsigned long long)(avail / 1024));
		return EPH_ERR_STORE_FULL;
	}
	return EPH_OK;
}

static int
exec(struct store *st, const char *sql)
{
	return sql_err(sqlite3_exec(st->db, sql, NULL, NULL, NULL));
}

/* A prepared statement for a literal SQL text, reset and unbound. The
 * cache is keyed by the literal's address: each call site has its own. */
static int
stmt(struct store *st, const char *sql, sqlite3_stmt **out)
{
	size_t i;
	int rc;

	for (i = 0; i < STMT_CACHE && st->cache[i].sql != NULL; i++) {
		if (st->cache[i].sql == sql) {
			sqlite3_reset(st->cache[i].stmt);
			sqlite3_clear_bindings(st->cache[i].stmt);
			*out = st->cache[i].stmt;
			return EPH_OK;
		}
	}
	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL)) != SQLITE_OK)
		return sql_err(rc);
	if (i < STMT_CACHE) {
		st->cache[i].sql = sql;
		st->cache[i].stmt = *out;
	}
	return EPH_OK;
}

/* Done with a statement from stmt(): reset it, or finalize an uncached one. */
static void
stmt_done(struct store *st, sqlite3_stmt *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < STMT_CACHE && st->cache[i].sql != NULL; i++) {
		if (st->cache[i].stmt == s) {
			sqlite3_reset(s);
			return;
		}
	}
	sqlite3_finalize(s);
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		return sql_err(sqlite3_bind_null(s, i));
	return sql_err(sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT));
}

static int
bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	if (v > (uint64_t)INT64_MAX)
		return EPH_ERR_RANGE;
	return sql_err(sqlite3_bind_int64(s, i, (sqlite3_int64)v));
}

static int
bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
	return sql_err(sqlite3_bind_int64(s, i, (sqlite3_int64)v));
}

/* Run a statement that returns no rows. */
static int
step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return EPH_OK;
	if (rc == SQLITE_ROW)
		return EPH_ERR_STORE;
	return sql_err(rc);
}

/* A column as a new string; NULL stays NULL. *nomem set on failure. */
static char *
col_str(sqlite3_stmt *s, int i, int *nomem)
{
	const unsigned char *v = sqlite3_column_text(s, i);
	char *c;

	if (v == NULL)
		return NULL;
	if ((c = strdup((const char *)v)) == NULL)
		*nomem = 1;
	return c;
}

/* Like col_str, but "" for NULL. */
static char *
col_str0(sqlite3_stmt *s, int i, int *nomem)
{
	char *c = col_str(s, i, nomem);

	if (c == NULL && !*nomem && (c = strdup("")) == NULL)
		*nomem = 1;
	return c;
}

static uint64_t
col_u64(sqlite3_stmt *s, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(s, i);

	return v < 0 ? 0 : (uint64_t)v;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* A string list as a JSON array text. */
static int
strv_to_json(const char *const *v, size_t n, char **out)
{
	json_t *a = json_array();
	size_t i;
	int r = EPH_ERR_NOMEM;

	*out = NULL;
	if (a == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL) {
			r = EPH_ERR_INVAL;
			goto out;
		}
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			/* json_string refuses invalid UTF-8 */
			r = EPH_ERR_INVAL;
			goto out;
		}
	}
	if ((*out = json_dumps(a, JSON_COMPACT)) == NULL)
		goto out;
	r = EPH_OK;
out:
	json_decref(a);
	return r;
}

static int
strv_from_json(const char *text, char ***out, size_t *n)
{
	json_t *a = NULL;
	char **v = NULL;
	size_t i, len = 0;
	int r = EPH_ERR_FORMAT;

	*out = NULL;
	*n = 0;
	if (text == NULL)
		return EPH_OK;
	if ((a = json_loads(text, 0, NULL)) == NULL || !json_is_array(a))
		goto out;
	len = json_array_size(a);
	if (len > 0 && (v = calloc(len, sizeof(*v))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < len; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL)
			goto out;
		if ((v[i] = strdup(s)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
	}
	*out = v;
	*n = len;
	v = NULL;
	r = EPH_OK;
out:
	free_strv(v, len);
	json_decref(a);
	return r;
}

/* ------------------------------------------------------ logging queue */

static void
pending_log_clear(struct pending_log *p)
{
	size_t i;

	for (i = 0; i < p->nfields; i++)
		free(p->fields[i]);
	free(p->msg);
	memset(p, 0, sizeof(*p));
}

static void
logs_drop(struct store *st, size_t keep)
{
	while (st->nlogs > keep)
		pending_log_clear(&st->logs[--st->nlogs]);
}

static void
logs_flush(struct store *st)
{
	struct log_field f[16];
	size_t i, j;

	for (i = 0; i < st->nlogs; i++) {
		struct pending_log *p = &st->logs[i];

		for (j = 0; j < p->nfields; j++) {
			char *eq = strchr(p->fields[j], '=');

			*eq = '\0';
			f[j].name = p->fields[j];
			f[j].value = eq + 1;
		}
		/* A lost log line never undoes a committed change. */
		(void)eph_log(
		    p->priority, audit_type_message_id(p->type), f, p->nfields, "%s", p->msg);
	}
	logs_drop(st, 0);
}

static int
log_field(struct pending_log *p, const char *name, const char *value)
{
	if (value == NULL || p->nfields >= sizeof(p->fields) / sizeof(p->fields[0]))
		return EPH_OK;
	if (asprintf(&p->fields[p->nfields], "%s=%s", name, value) < 0)
		return EPH_ERR_NOMEM;
	p->nfields++;
	return EPH_OK;
}

/* "a,b,c" of a string list; NULL when empty. */
static char *
join(char *const *v, size_t n, int *nomem)
{
	struct buf b;
	char *s = NULL;
	size_t i;
	int r = EPH_OK;

	if (n == 0)
		return NULL;
	buf_init(&b);
	for (i = 0; i < n && r == EPH_OK; i++) {
		if (i > 0)
			r = buf_put(&b, ",", 1);
		if (r == EPH_OK)
			r = buf_put(&b, v[i], strlen(v[i]));
	}
	if (r == EPH_OK)
		r = buf_put_u8(&b, 0);
	if (r == EPH_OK && (s = strdup((const char *)b.d)) == NULL)
		r = EPH_ERR_NOMEM;
	if (r != EPH_OK)
		*nomem = 1;
	buf_free(&b);
	return s;
}

/* ------------------------------------------------------- transactions */

/* The last SQLite call failed because the connection cannot write (it was
 * opened read-only, or its -shm or journal could not be written): the
 * next write opens it afresh once the files are writable. */
static void
note_read_only(struct store *st)
{
	if ((sqlite3_extended_errcode(st->db) & 0xff) != SQLITE_READONLY || st->degraded)
		return;
	st->degraded = 1;
	(void)snprintf(st->why, sizeof(st->why), "the database %s is read-only", st->path);
	if (!st->no_log)
		(void)eph_log(LOG_ERR, NULL, NULL, 0,
		    "store: %s: %s; writes are refused until it can be written", st->path,
		    sqlite3_errmsg(st->db));
}

/* COMMIT, timed into the commit histogram. */
static int
commit_timed(struct store *st)
{
	struct timespec t0, t1;
	int64_t ns;
	size_t b;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = exec(st, "COMMIT");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != EPH_OK) {
		st->n_commit_failures++;
		note_read_only(st);
		return r;
	}
	ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
	if (ns < 0)
		ns = 0;
	for (b = 0; b + 1 < STORE_COMMIT_NBUCKETS; b++)
		if ((uint64_t)ns <= commit_le_us[b] * 1000u)
			break;
	st->commit_hist[b]++;
	st->n_commits++;
	st->commit_ns += (uint64_t)ns;
	return EPH_OK;
}

void
store_stats(struct store *st, struct store_stats *out)
{
	uint64_t cum = 0;
	size_t b;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return;
	for (b = 0; b < STORE_COMMIT_NBUCKETS; b++) {
		cum += st->commit_hist[b];
		out->commit_bucket[b] = cum;
		out->commit_le_us[b] = b + 1 < STORE_COMMIT_NBUCKETS ? commit_le_us[b] : UINT64_MAX;
	}
	out->commits = st->n_commits;
	out->commit_ns_sum = st->commit_ns;
	out->commit_failures = st->n_commit_failures;
	out->reopens = st->n_reopens;
}

/* Each change runs between op_begin and op_end: alone, its own
 * transaction; inside a group, a savepoint that can fail by itself. */
static int
op_begin(struct store *st, size_t *mark)
{
	int r;

	*mark = st->nlogs;
	if ((r = store_writable(st)) != EPH_OK)
		return r;
	return exec(st, st->batch ? "SAVEPOINT op" : "BEGIN IMMEDIATE");
}

static int
op_end(struct store *st, size_t mark, int r)
{
	int rc;

	if (r != EPH_OK)
		note_read_only(st);
	if (st->batch) {
		if (r != EPH_OK) {
			exec(st, "ROLLBACK TO op");
			logs_drop(st, mark);
		}
		if ((rc = exec(st, "RELEASE op")) != EPH_OK && r == EPH_OK) {
			logs_drop(st, mark);
			r = rc;
		}
		return r;
	}
	if (r == EPH_OK && (r = commit_timed(st)) == EPH_OK) {
		logs_flush(st);
		return EPH_OK;
	}
	if (!sqlite3_get_autocommit(st->db))
		exec(st, "ROLLBACK");
	logs_drop(st, mark);
	return r;
}

int
store_begin(struct store *st)
{
	int r;

	if (st->batch)
		return EPH_ERR_INVAL;
	if ((r = store_writable(st)) != EPH_OK)
		return r;
	if ((r = exec(st, "BEGIN IMMEDIATE")) != EPH_OK)
		return r;
	st->batch = 1;
	return EPH_OK;
}

int
store_commit(struct store *st)
{
	int r;

	if (!st->batch)
		return EPH_ERR_INVAL;
	st->batch = 0;
	if ((r = commit_timed(st)) != EPH_OK) {
		if (!sqlite3_get_autocommit(st->db))
			exec(st, "ROLLBACK");
		logs_drop(st, 0);
		return r;
	}
	logs_flush(st);
	return EPH_OK;
}

void
store_rollback(struct store *st)
{
	if (!st->batch)
		return;
	st->batch = 0;
	if (!sqlite3_get_autocommit(st->db))
		exec(st, "ROLLBACK");
	logs_drop(st, 0);
}

/* -------------------------------------------------------------- audit */

static const char sql_audit_head[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char sql_audit_insert[] =
    "INSERT INTO audit (seq, time, type, request_id, serial, actor, details, prev, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_meta_set[] = "UPDATE meta SET value = ?2 WHERE name = ?1";
static const char sql_meta_get[] = "SELECT value FROM meta WHERE name = ?";

/* Merge the caller's details (a JSON object text or NULL) under the
 * store's own facts, which win. Takes ownership of facts. */
static int
details_text(json_t *facts, const char *extra, char **out)
{
	json_t *x = NULL;
	int r = EPH_ERR_INVAL;

	*out = NULL;
	if (facts == NULL)
		return EPH_ERR_NOMEM;
	if (extra != NULL) {
		if ((x = json_loads(extra, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
		    !json_is_object(x))
			goto out;
		if (json_object_update_missing(facts, x) != 0) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
	}
	r = EPH_ERR_NOMEM;
	if ((*out = json_dumps(facts, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	r = EPH_OK;
out:
	json_decref(x);
	json_decref(facts);
	return r;
}

/* What the log line says beyond the audit record's own fields. */
struct log_facts {
	const char *task, *requester, *decision, *hosts, *approvers, *principals;
	const char *user, *rhost; /* sessions: who logged in, from where */
	uint64_t valid_before;
};

/*
 * Append one record to the chain (inside the caller's transaction) and
 * queue its log line for after the commit. Takes ownership of facts.
 */
static int
audit_append(struct store *st, const struct store_event *ev, const char *request_id,
    uint64_t serial, json_t *facts, const struct log_facts *lf)
{
	struct audit_record rec;
	struct pending_log *p;
	sqlite3_stmt *s = NULL;
	char hex[AUDIT_HASH_HEX + 1], prevhex[AUDIT_HASH_HEX + 1], num[32], vb[32];
	const char *actor = ev->actor != NULL && ev->actor[0] != '\0' ? ev->actor : STORE_ACTOR_CA;
	int r, rc;

	memset(&rec, 0, sizeof(rec));
	if ((unsigned)ev->type >= AUDIT_NTYPES) {
		json_decref(facts);
		return EPH_ERR_INVAL;
	}
	if ((r = details_text(facts, ev->details, &rec.details)) != EPH_OK)
		goto out;
	if ((r = stmt(st, sql_audit_head, &s)) != EPH_OK)
		goto out;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rec.seq = col_u64(s, 0) + 1;
		if ((r = audit_hash_parse((const char *)sqlite3_column_text(s, 1), rec.prev)) !=
		    EPH_OK) {
			/* Keep appending after a damaged row: verify reports it. */
			memset(rec.prev, 0xff, sizeof(rec.prev));
		}
	} else if (rc == SQLITE_DONE) {
		rec.seq = 1;
	} else {
		r = sql_err(rc);
		goto out;
	}
	stmt_done(st, s);
	s = NULL;
	rec.time = store_now(st);
	rec.serial = serial;
	r = EPH_ERR_NOMEM;
	if ((rec.type = strdup(audit_type_name(ev->type))) == NULL ||
	    (rec.request_id = strdup(request_id != NULL ? request_id : "")) == NULL ||
	    (rec.actor = strdup(actor)) == NULL)
		goto out;
	if ((r = audit_record_hash(&rec, rec.hash)) != EPH_OK)
		goto out;
	audit_hash_hex(rec.hash, hex);
	audit_hash_hex(rec.prev, prevhex);
	if ((r = stmt(st, sql_audit_insert, &s)) != EPH_OK ||
	    (r = bind_u64(s, 1, rec.seq)) != EPH_OK || (r = bind_i64(s, 2, rec.time)) != EPH_OK ||
	    (r = bind_text(s, 3, rec.type)) != EPH_OK ||
	    (r = bind_text(s, 4, rec.request_id)) != EPH_OK ||
	    (r = bind_u64(s, 5, rec.serial)) != EPH_OK ||
	    (r = bind_text(s, 6, rec.actor)) != EPH_OK ||
	    (r = bind_text(s, 7, rec.details)) != EPH_OK ||
	    (r = bind_text(s, 8, prevhex)) != EPH_OK || (r = bind_text(s, 9, hex)) != EPH_OK ||
	    (r = step_done(s)) != EPH_OK)
		goto out;
	stmt_done(st, s);
	s = NULL;
	/* The head kept apart from the rows catches a truncated tail. */
	if ((r = stmt(st, sql_meta_set, &s)) != EPH_OK ||
	    (r = bind_text(s, 1, "audit_seq")) != EPH_OK ||
	    (r = bind_u64(s, 2, rec.seq)) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out;
	stmt_done(st, s);
	s = NULL;
	if ((r = stmt(st, sql_meta_set, &s)) != EPH_OK ||
	    (r = bind_text(s, 1, "audit_hash")) != EPH_OK || (r = bind_text(s, 2, hex)) != EPH_OK ||
	    (r = step_done(s)) != EPH_OK)
		goto out;

	if (st->no_log) {
		r = EPH_OK;
		goto out;
	}
	if (st->nlogs == st->caplogs) {
		size_t ncap = st->caplogs ? 2 * st->caplogs : 16;
		struct pending_log *nl = realloc(st->logs, ncap * sizeof(*nl));

		if (nl == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		st->logs = nl;
		st->caplogs = ncap;
	}
	p = &st->logs[st->nlogs++];
	memset(p, 0, sizeof(*p));
	p->type = ev->type;
	p->priority = ev->priority != 0 ? ev->priority : audit_type_priority(ev->type);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)serial);
	snprintf(vb, sizeof(vb), "%llu", (unsigned long long)lf->valid_before);
	if ((r = log_field(p, "EPH_EVENT", rec.type)) != EPH_OK ||
	    (r = log_field(p, "EPH_GRANT", request_id)) != EPH_OK ||
	    (r = log_field(p, "EPH_SERIAL", serial != 0 ? num : NULL)) != EPH_OK ||
	    (r = log_field(p, "EPH_TASK", lf->task)) != EPH_OK ||
	    (r = log_field(p, "EPH_REQUESTER", lf->requester)) != EPH_OK ||
	    (r = log_field(p, "EPH_HOST", lf->hosts)) != EPH_OK ||
	    (r = log_field(p, "EPH_APPROVERS", lf->approvers)) != EPH_OK ||
	    (r = log_field(p, "EPH_DECISION", lf->decision)) != EPH_OK ||
	    (r = log_field(p, "EPH_REASON", ev->reason)) != EPH_OK ||
	    (r = log_field(p, "EPH_ACTOR", actor)) != EPH_OK ||
	    (r = log_field(p, "EPH_PRINCIPALS", lf->principals)) != EPH_OK ||
	    (r = log_field(p, "EPH_USER", lf->user)) != EPH_OK ||
	    (r = log_field(p, "EPH_RHOST", lf->rhost)) != EPH_OK ||
	    (r = log_field(p, "EPH_VALID_BEFORE", lf->valid_before != 0 ? vb : NULL)) != EPH_OK)
		goto out;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)rec.seq);
	/* The chain head in the journal anchors the table: a rewritten
	 * chain no longer matches what the journal saw. */
	if ((r = log_field(p, "EPH_AUDIT_SEQ", num)) != EPH_OK ||
	    (r = log_field(p, "EPH_AUDIT_HASH", hex)) != EPH_OK)
		goto out;
	if (asprintf(&p->msg, "%s %s by %s%s%s%s%s", rec.type,
	        request_id != NULL ? request_id : "-", actor, lf->task ? " task " : "",
	        lf->task ? lf->task : "", lf->decision ? ": " : "",
	        lf->decision ? lf->decision : "") < 0) {
		p->msg = NULL;
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = EPH_OK;
out:
	stmt_done(st, s);
	audit_record_clear(&rec);
	return r;
}

/* ------------------------------------------------------------ reading */

#define REQ_COLS                                                                                   \
	"id, state, task, hosts, requester, requester_uid, reason, public_key, source_address,"    \
	" ttl, login_as, break_glass, created, expires, updated, decision, serial, certificate,"   \
	" valid_after, valid_before, principals, issued_login_as, review, review_by,"              \
	" review_comment, review_at, denied_by, deny_reason, denied_at"

void
store_request_free(struct store_request *rq)
{
	size_t i;

	if (rq == NULL)
		return;
	free(rq->task);
	free_strv(rq->hosts, rq->nhosts);
	free(rq->requester);
	free(rq->reason);
	free(rq->public_key);
	free(rq->source_address);
	free(rq->login_as);
	free(rq->decision);
	free(rq->certificate);
	free_strv(rq->principals, rq->nprincipals);
	free(rq->issued_login_as);
	free(rq->review_by);
	free(rq->review_comment);
	free(rq->denied_by);
	free(rq->deny_reason);
	for (i = 0; i < rq->napprovals; i++) {
		free(rq->approvals[i].user);
		free(rq->approvals[i].comment);
	}
	free(rq->approvals);
	free(rq);
}

void
store_request_list_free(struct store_request_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		store_request_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const char sql_approvals[] =
    "SELECT user, uid, at, comment FROM approvals WHERE request_id = ? ORDER BY seq";

static int
load_approvals(struct store *st, struct store_request *rq)
{
	sqlite3_stmt *s = NULL;
	struct store_approval *a;
	int r, rc, nomem = 0;

	if ((r = stmt(st, sql_approvals, &s)) != EPH_OK || (r = bind_text(s, 1, rq->id)) != EPH_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((a = realloc(rq->approvals, (rq->napprovals + 1) * sizeof(*a))) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		rq->approvals = a;
		a = &rq->approvals[rq->napprovals++];
		a->user = col_str0(s, 0, &nomem);
		a->uid = (uid_t)sqlite3_column_int64(s, 1);
		a->at = sqlite3_column_int64(s, 2);
		a->comment = col_str0(s, 3, &nomem);
		if (nomem) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
	}
	r = sql_err(rc);
out:
	stmt_done(st, s);
	return r;
}

/* One row of REQ_COLS into a new struct, approvals included. */
static int
row_request(struct store *st, sqlite3_stmt *s, struct store_request **out)
{
	struct store_request *rq;
	const char *id = (const char *)sqlite3_column_text(s, 0);
	char *hosts = NULL, *principals = NULL, *state = NULL, *review = NULL;
	int nomem = 0, r = EPH_ERR_NOMEM;

	*out = NULL;
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return EPH_ERR_NOMEM;
	if (id == NULL || strlen(id) > STORE_ID_LEN) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	memcpy(rq->id, id, strlen(id) + 1);
	state = col_str(s, 1, &nomem);
	rq->task = col_str0(s, 2, &nomem);
	hosts = col_str(s, 3, &nomem);
	rq->requester = col_str0(s, 4, &nomem);
	rq->requester_uid = (uid_t)sqlite3_column_int64(s, 5);
	rq->reason = col_str0(s, 6, &nomem);
	rq->public_key = col_str0(s, 7, &nomem);
	rq->source_address = col_str(s, 8, &nomem);
	rq->ttl = col_u64(s, 9);
	rq->login_as = col_str(s, 10, &nomem);
	rq->break_glass = sqlite3_column_int(s, 11) != 0;
	rq->created = sqlite3_column_int64(s, 12);
	rq->expires = sqlite3_column_int64(s, 13);
	rq->updated = sqlite3_column_int64(s, 14);
	rq->decision = col_str0(s, 15, &nomem);
	rq->serial = col_u64(s, 16);
	rq->certificate = col_str(s, 17, &nomem);
	rq->valid_after = col_u64(s, 18);
	rq->valid_before = col_u64(s, 19);
	principals = col_str(s, 20, &nomem);
	rq->issued_login_as = col_str(s, 21, &nomem);
	review = col_str(s, 22, &nomem);
	rq->review_by = col_str(s, 23, &nomem);
	rq->review_comment = col_str(s, 24, &nomem);
	rq->review_at = sqlite3_column_int64(s, 25);
	rq->denied_by = col_str(s, 26, &nomem);
	rq->deny_reason = col_str(s, 27, &nomem);
	rq->denied_at = sqlite3_column_int64(s, 28);
	if (nomem)
		goto out;
	if (store_state_parse(state, &rq->state) != EPH_OK ||
	    review_parse(review, &rq->review) != EPH_OK) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = strv_from_json(hosts, &rq->hosts, &rq->nhosts)) != EPH_OK ||
	    (r = strv_from_json(principals, &rq->principals, &rq->nprincipals)) != EPH_OK)
		goto out;
	*out = rq;
	rq = NULL;
	r = EPH_OK;
out:
	free(hosts);
	free(principals);
	free(state);
	free(review);
	store_request_free(rq);
	return r;
}

/* All rows of a prepared REQ_COLS query, then their approvals (after the
 * query is done, since approvals use their own statement). */
static int
collect(struct store *st, sqlite3_stmt *s, struct store_request_list *out)
{
	struct store_request *rq, **nv;
	size_t i;
	int r, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = row_request(st, s, &rq)) != EPH_OK)
			return r;
		if ((nv = realloc(out->v, (out->n + 1) * sizeof(*nv))) == NULL) {
			store_request_free(rq);
			return EPH_ERR_NOMEM;
		}
		out->v = nv;
		out->v[out->n++] = rq;
	}
	if (rc != SQLITE_DONE)
		return sql_err(rc);
	sqlite3_reset(s);
	for (i = 0; i < out->n; i++)
		if ((r = load_approvals(st, out->v[i])) != EPH_OK)
			return r;
	return EPH_OK;
}

static int
get_one(struct store *st, sqlite3_stmt *s, struct store_request **out)
{
	struct store_request_list l = {NULL, 0};
	int r;

	*out = NULL;
	if ((r = collect(st, s, &l)) != EPH_OK)
		goto out;
	if (l.n == 0) {
		r = EPH_ERR_NOTFOUND;
		goto out;
	}
	*out = l.v[0];
	l.v[0] = NULL;
	r = EPH_OK;
out:
	store_request_list_free(&l);
	return r;
}

static const char sql_get_id[] = "SELECT " REQ_COLS " FROM requests WHERE id = ?";
static const char sql_get_serial[] = "SELECT " REQ_COLS " FROM requests WHERE serial = ?";

int
store_get_request(struct store *st, const char *id, struct store_request **out)
{
	sqlite3_stmt *s = NULL;
	int r;

	*out = NULL;
	if (id == NULL)
		return EPH_ERR_INVAL;
	if ((r = stmt(st, sql_get_id, &s)) == EPH_OK && (r = bind_text(s, 1, id)) == EPH_OK)
		r = get_one(st, s, out);
	stmt_done(st, s);
	return r;
}

int
store_get_by_serial(struct store *st, uint64_t serial, struct store_request **out)
{
	sqlite3_stmt *s = NULL;
	int r;

	*out = NULL;
	if (serial == 0 || serial > SERIAL_MAX)
		return EPH_ERR_NOTFOUND;
	if ((r = stmt(st, sql_get_serial, &s)) == EPH_OK && (r = bind_u64(s, 1, serial)) == EPH_OK)
		r = get_one(st, s, out);
	stmt_done(st, s);
	return r;
}

static const char sql_list[] = "SELECT " REQ_COLS " FROM requests"
                               " WHERE (?1 IS NULL OR state = ?1)"
                               " AND (?2 IS NULL OR requester = ?2)"
                               " AND (?3 IS NULL OR task = ?3)"
                               " AND (?4 IS NULL OR review = ?4)"
                               " ORDER BY created, id LIMIT ?5";

int
store_list(struct store *st, const struct store_filter *f, struct store_request_list *out)
{
	sqlite3_stmt *s = NULL;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((f->state >= 0 && f->state >= STORE_NSTATES) || f->review > STORE_REVIEW_CLOSED)
		return EPH_ERR_INVAL;
	if ((r = stmt(st, sql_list, &s)) != EPH_OK ||
	    (r = bind_text(s, 1,
	         f->state >= 0 ? store_state_name((enum store_state)f->state) : NULL)) != EPH_OK ||
	    (r = bind_text(s, 2, f->requester)) != EPH_OK ||
	    (r = bind_text(s, 3, f->task)) != EPH_OK ||
	    (r = bind_text(
	         s, 4, f->review >= 0 ? store_review_name((enum store_review)f->review) : NULL)) !=
	        EPH_OK ||
	    (r = bind_i64(s, 5, f->limit == 0 ? -1 : (int64_t)f->limit)) != EPH_OK)
		goto out;
	r = collect(st, s, out);
out:
	stmt_done(st, s);
	if (r != EPH_OK)
		store_request_list_free(out);
	return r;
}

static const char sql_overdue[] = "SELECT " REQ_COLS " FROM requests"
                                  " WHERE state = 'pending' AND expires <= ? ORDER BY expires, id";

int
store_list_overdue(struct store *st, int64_t now, struct store_request_list *out)
{
	sqlite3_stmt *s = NULL;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = stmt(st, sql_overdue, &s)) == EPH_OK && (r = bind_i64(s, 1, now)) == EPH_OK)
		r = collect(st, s, out);
	stmt_done(st, s);
	if (r != EPH_OK)
		store_request_list_free(out);
	return r;
}

static const char sql_krl[] = "SELECT serial FROM requests"
                              " WHERE state = 'revoked' AND serial IS NOT NULL AND valid_before > ?"
                              " ORDER BY serial";

int
store_krl_serials(struct store *st, int64_t now, uint64_t **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	uint64_t *v = NULL, *nv;
	size_t len = 0;
	int r, rc;

	*out = NULL;
	*n = 0;
	if ((r = stmt(st, sql_krl, &s)) != EPH_OK || (r = bind_i64(s, 1, now)) != EPH_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = realloc(v, (len + 1) * sizeof(*v))) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		v = nv;
		v[len++] = col_u64(s, 0);
	}
	if ((r = sql_err(rc)) != EPH_OK)
		goto out;
	*out = v;
	*n = len;
	v = NULL;
	r = EPH_OK;
out:
	free(v);
	stmt_done(st, s);
	return r;
}

static int
count_query(
    struct store *st, const char *sql, const char *requester, int64_t t, uint64_t cap, uint64_t *n)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	*n = 0;
	if (cap > (uint64_t)INT64_MAX)
		cap = 0;
	if ((r = stmt(st, sql, &s)) != EPH_OK || (r = bind_text(s, 1, requester)) != EPH_OK ||
	    (r = bind_i64(s, 2, t)) != EPH_OK ||
	    (r = bind_i64(s, 3, cap > 0 ? (int64_t)cap : -1)) != EPH_OK)
		goto out;
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? EPH_ERR_STORE : sql_err(rc);
		goto out;
	}
	*n = col_u64(s, 0);
	r = EPH_OK;
out:
	stmt_done(st, s);
	return r;
}

/* The inner LIMIT stops the index walk at the cap: a limit check needs
 * to know "at least cap", not how far beyond. */
static const char sql_count_active[] =
    "SELECT count(*) FROM (SELECT 1 FROM requests WHERE requester = ?1"
    " AND state = 'issued' AND valid_before > ?2 LIMIT ?3)";
static const char sql_count_since[] =
    "SELECT count(*) FROM (SELECT 1 FROM requests WHERE requester = ?1 AND created >= ?2 LIMIT ?3)";

int
store_count_active(struct store *st, const char *requester, int64_t now, uint64_t cap, uint64_t *n)
{
	return count_query(st, sql_count_active, requester, now, cap, n);
}

int
store_count_since(struct store *st, const char *requester, int64_t since, uint64_t cap, uint64_t *n)
{
	return count_query(st, sql_count_since, requester, since, cap, n);
}

/* The requests_active index is ordered by valid_before: the first entry. */
static const char sql_first_expiry[] = "SELECT min(valid_before) FROM requests WHERE requester = ?1"
                                       " AND state = 'issued' AND valid_before > ?2";

int
store_first_expiry(struct store *st, const char *requester, int64_t now, int64_t *valid_before)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	*valid_before = 0;
	if ((r = stmt(st, sql_first_expiry, &s)) != EPH_OK ||
	    (r = bind_text(s, 1, requester)) != EPH_OK || (r = bind_i64(s, 2, now)) != EPH_OK)
		goto out;
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? EPH_ERR_STORE : sql_err(rc);
		goto out;
	}
	*valid_before = sqlite3_column_type(s, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 0);
	r = EPH_OK;
out:
	stmt_done(st, s);
	return r;
}

/* ------------------------------------------------------------ changes */

int
store_new_id(char id[STORE_ID_LEN + 1])
{
	uint8_t rnd[8];
	size_t i;

	id[0] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return EPH_ERR_CRYPTO;
	memcpy(id, "r-", 2);
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 + 2 * i, 3, "%02x", rnd[i]);
	explicit_bzero(rnd, sizeof(rnd));
	return EPH_OK;
}

/* The request as the audit record of its creation shows it. */
static json_t *
request_facts(const struct store_request *rq)
{
	json_t *o = json_object(), *hosts = json_array(), *dec;
	struct key *k = NULL;
	char *fp = NULL;
	size_t i;

	if (o == NULL || hosts == NULL)
		goto fail;
	for (i = 0; i < rq->nhosts; i++)
		if (json_array_append_new(hosts, json_string(rq->hosts[i])) != 0)
			goto fail;
	if (json_object_set_new(o, "hosts", hosts) != 0) {
		hosts = NULL;
		goto fail;
	}
	hosts = NULL;
	/* A key the policy refused may not parse: the line itself is kept. */
	if (key_parse_public_line(rq->public_key, &k, NULL) == EPH_OK &&
	    key_fingerprint(k, &fp) == EPH_OK)
		json_object_set_new(o, "key_fingerprint", json_string(fp));
	dec = json_loads(rq->decision, 0, NULL);
	if (json_object_set_new(o, "task", json_string(rq->task)) != 0 ||
	    json_object_set_new(o, "requester", json_string(rq->requester)) != 0 ||
	    json_object_set_new(o, "requester_uid", json_integer((json_int_t)rq->requester_uid)) !=
	        0 ||
	    json_object_set_new(o, "reason", json_string(rq->reason ? rq->reason : "")) != 0 ||
	    json_object_set_new(o, "public_key", json_string(rq->public_key)) != 0 ||
	    json_object_set_new(o, "source_address",
	        rq->source_address ? json_string(rq->source_address) : json_null()) != 0 ||
	    json_object_set_new(o, "ttl", json_integer((json_int_t)rq->ttl)) != 0 ||
	    json_object_set_new(
	        o, "login_as", rq->login_as ? json_string(rq->login_as) : json_null()) != 0 ||
	    json_object_set_new(o, "break_glass", json_boolean(rq->break_glass)) != 0 ||
	    json_object_set_new(o, "state", json_string(store_state_name(rq->state))) != 0 ||
	    json_object_set_new(o, "expires", json_integer((json_int_t)rq->expires)) != 0 ||
	    json_object_set_new(o, "decision", dec != NULL ? dec : json_string(rq->decision)) != 0)
		goto fail;
	free(fp);
	key_free(k);
	return o;
fail:
	free(fp);
	key_free(k);
	json_decref(hosts);
	json_decref(o);
	return NULL;
}

static int
str_ok(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static const char sql_insert_request[] =
    "INSERT INTO requests (id, state, task, hosts, requester, requester_uid, reason,"
    " public_key, source_address, ttl, login_as, break_glass, created, expires, updated,"
    " decision, review, deny_reason, denied_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

int
store_put_request(struct store *st, struct store_request *rq, const struct store_event *ev)
{
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	json_t *dec = NULL;
	char *hosts = NULL, *hostlist = NULL;
	size_t mark;
	int r, nomem = 0, gen = rq->id[0] == '\0', denied = rq->state == STORE_DENIED;

	if (ev == NULL || (rq->state != STORE_PENDING && rq->state != STORE_DENIED) ||
	    !str_ok(rq->task) || !str_ok(rq->requester) || !str_ok(rq->public_key) ||
	    !str_ok(rq->decision) || rq->serial != 0 || rq->certificate != NULL ||
	    rq->nprincipals != 0 || rq->napprovals != 0 || rq->nhosts > STORE_MAX_HOSTS ||
	    rq->ttl > (uint64_t)INT64_MAX)
		return EPH_ERR_INVAL;
	/* The decision is read back as JSON: refuse what would not be. */
	if ((dec = json_loads(rq->decision, 0, NULL)) == NULL)
		return EPH_ERR_INVAL;
	json_decref(dec);
	if (gen && (r = store_new_id(rq->id)) != EPH_OK)
		return r;
	if (rq->created == 0)
		rq->created = store_now(st);
	rq->updated = rq->created;
	rq->review = rq->break_glass ? STORE_REVIEW_OPEN : STORE_REVIEW_NONE;
	if ((r = strv_to_json((const char *const *)rq->hosts, rq->nhosts, &hosts)) != EPH_OK)
		goto fail;
	if ((r = op_begin(st, &mark)) != EPH_OK)
		goto fail;
	if ((r = stmt(st, sql_insert_request, &s)) != EPH_OK ||
	    (r = bind_text(s, 1, rq->id)) != EPH_OK ||
	    (r = bind_text(s, 2, store_state_name(rq->state))) != EPH_OK ||
	    (r = bind_text(s, 3, rq->task)) != EPH_OK || (r = bind_text(s, 4, hosts)) != EPH_OK ||
	    (r = bind_text(s, 5, rq->requester)) != EPH_OK ||
	    (r = bind_i64(s, 6, (int64_t)rq->requester_uid)) != EPH_OK ||
	    (r = bind_text(s, 7, rq->reason != NULL ? rq->reason : "")) != EPH_OK ||
	    (r = bind_text(s, 8, rq->public_key)) != EPH_OK ||
	    (r = bind_text(s, 9, rq->source_address)) != EPH_OK ||
	    (r = bind_u64(s, 10, rq->ttl)) != EPH_OK ||
	    (r = bind_text(s, 11, rq->login_as)) != EPH_OK ||
	    (r = bind_i64(s, 12, rq->break_glass ? 1 : 0)) != EPH_OK ||
	    (r = bind_i64(s, 13, rq->created)) != EPH_OK ||
	    (r = bind_i64(s, 14, rq->expires)) != EPH_OK ||
	    (r = bind_i64(s, 15, rq->updated)) != EPH_OK ||
	    (r = bind_text(s, 16, rq->decision)) != EPH_OK ||
	    (r = bind_text(s, 17, store_review_name(rq->review))) != EPH_OK ||
	    (r = bind_text(s, 18, denied ? ev->reason : NULL)) != EPH_OK ||
	    (r = denied ? bind_i64(s, 19, rq->created) : bind_text(s, 19, NULL)) != EPH_OK)
		goto out;
	if ((r = step_done(s)) != EPH_OK) {
		if (r == EPH_ERR_DUPLICATE)
			r = EPH_ERR_EXISTS;
		goto out;
	}
	stmt_done(st, s);
	s = NULL;
	memset(&lf, 0, sizeof(lf));
	hostlist = join(rq->hosts, rq->nhosts, &nomem);
	if (nomem) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	lf.task = rq->task;
	lf.requester = rq->requester;
	lf.hosts = hostlist;
	lf.decision = store_state_name(rq->state);
	r = audit_append(st, ev, rq->id, 0, request_facts(rq), &lf);
out:
	stmt_done(st, s);
	r = op_end(st, mark, r);
fail:
	free(hosts);
	free(hostlist);
	if (r != EPH_OK && gen)
		rq->id[0] = '\0';
	return r;
}

/* Facts every change of an existing request logs, from the stored row. */
struct req_log {
	struct store_request *rq;
	char *hosts, *approvers;
};

static void
req_log_free(struct req_log *l)
{
	store_request_free(l->rq);
	free(l->hosts);
	free(l->approvers);
}

static int
req_log_load(struct store *st, const char *id, struct req_log *l, struct log_facts *lf)
{
	char **names = NULL;
	size_t i;
	int r, nomem = 0;

	memset(l, 0, sizeof(*l));
	memset(lf, 0, sizeof(*lf));
	if ((r = store_get_request(st, id, &l->rq)) != EPH_OK)
		return r;
	if (l->rq->napprovals > 0 && (names = calloc(l->rq->napprovals, sizeof(*names))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < l->rq->napprovals; i++)
		names[i] = l->rq->approvals[i].user;
	l->approvers = join(names, l->rq->napprovals, &nomem);
	l->hosts = join(l->rq->hosts, l->rq->nhosts, &nomem);
	free(names);
	if (nomem)
		return EPH_ERR_NOMEM;
	lf->task = l->rq->task;
	lf->requester = l->rq->requester;
	lf->hosts = l->hosts;
	lf->approvers = l->approvers;
	lf->decision = store_state_name(l->rq->state);
	return EPH_OK;
}

static const char sql_add_approval[] =
    "INSERT OR IGNORE INTO approvals (request_id, user, uid, at, comment) VALUES (?, ?, ?, ?, ?)";

int
store_add_approval(struct store *st, const char *id, const char *user, uid_t uid,
    const char *comment, const struct store_event *ev, size_t *napprovals)
{
	struct req_log l;
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	json_t *facts;
	size_t mark;
	int r;

	memset(&l, 0, sizeof(l));
	if (id == NULL || !str_ok(user) || ev == NULL)
		return EPH_ERR_INVAL;
	if ((r = op_begin(st, &mark)) != EPH_OK)
		return r;
	if ((r = store_get_request(st, id, &l.rq)) != EPH_OK)
		goto out;
	if (l.rq->state != STORE_PENDING) {
		r = EPH_ERR_CONFLICT;
		goto out;
	}
	store_request_free(l.rq);
	l.rq = NULL;
	if ((r = stmt(st, sql_add_approval, &s)) != EPH_OK || (r = bind_text(s, 1, id)) != EPH_OK ||
	    (r = bind_text(s, 2, user)) != EPH_OK || (r = bind_i64(s, 3, (int64_t)uid)) != EPH_OK ||
	    (r = bind_i64(s, 4, store_now(st))) != EPH_OK ||
	    (r = bind_text(s, 5, comment != NULL ? comment : "")) != EPH_OK ||
	    (r = step_done(s)) != EPH_OK)
		goto out;
	if (sqlite3_changes(st->db) == 0) {
		r = EPH_ERR_DUPLICATE;
		goto out;
	}
	stmt_done(st, s);
	s = NULL;
	if ((r = req_log_load(st, id, &l, &lf)) != EPH_OK)
		goto out;
	lf.decision = "approved";
	if ((facts = json_object()) == NULL ||
	    json_object_set_new(facts, "user", json_string(user)) != 0 ||
	    json_object_set_new(facts, "uid", json_integer((json_int_t)uid)) != 0 ||
	    json_object_set_new(facts, "comment", json_string(comment != NULL ? comment : "")) !=
	        0 ||
	    json_object_set_new(facts, "approvals", json_integer((json_int_t)l.rq->napprovals)) !=
	        0) {
		json_decref(facts);
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r = audit_append(st, ev, id, 0, facts, &lf)) != EPH_OK)
		goto out;
	if (napprovals != NULL)
		*napprovals = l.rq->napprovals;
	r = EPH_OK;
out:
	stmt_done(st, s);
	req_log_free(&l);
	return op_end(st, mark, r);
}

static int
move_allowed(enum store_state from, enum store_state to)
{
	if (from == STORE_PENDING)
		return to == STORE_DENIED || to == STORE_EXPIRED || to == STORE_CANCELLED;
	return from == STORE_ISSUED && to == STORE_REVOKED;
}

/* Who denied, as the request keeps it: NULL for the CA's own (the
 * policy), as the audit record's actor "sshca" means. */
static const char *
denier(const struct store_event *ev)
{
	if (!str_ok(ev->actor) || strcmp(ev->actor, STORE_ACTOR_CA) == 0)
		return NULL;
	return ev->actor;
}

static const char sql_set_state[] =
    "UPDATE requests SET state = ?3, updated = ?4 WHERE id = ?1 AND state = ?2";
static const char sql_set_denial[] =
    "UPDATE requests SET denied_by = ?2, deny_reason = ?3, denied_at = ?4 WHERE id = ?1";
static const char sql_exists[] = "SELECT 1 FROM requests WHERE id = ?";

/* After a compare-and-set changed nothing: no such request, or a lost race. */
static int
cas_failed(struct store *st, const char *id)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if ((r = stmt(st, sql_exists, &s)) == EPH_OK && (r = bind_text(s, 1, id)) == EPH_OK) {
		rc = sqlite3_step(s);
		r = rc == SQLITE_ROW    ? EPH_ERR_CONFLICT
		    : rc == SQLITE_DONE ? EPH_ERR_NOTFOUND
		                        : sql_err(rc);
	}
	stmt_done(st, s);
	return r;
}

int
store_set_state(struct store *st, const char *id, enum store_state from, enum store_state to,
    const struct store_event *ev)
{
	struct req_log l;
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	json_t *facts;
	size_t mark;
	int r;

	memset(&l, 0, sizeof(l));
	if (id == NULL || ev == NULL || (unsigned)from >= STORE_NSTATES ||
	    (unsigned)to >= STORE_NSTATES || !move_allowed(from, to))
		return EPH_ERR_INVAL;
	if ((r = op_begin(st, &mark)) != EPH_OK)
		return r;
	if ((r = stmt(st, sql_set_state, &s)) != EPH_OK || (r = bind_text(s, 1, id)) != EPH_OK ||
	    (r = bind_text(s, 2, store_state_name(from))) != EPH_OK ||
	    (r = bind_text(s, 3, store_state_name(to))) != EPH_OK ||
	    (r = bind_i64(s, 4, store_now(st))) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out;
	stmt_done(st, s);
	s = NULL;
	if (sqlite3_changes(st->db) == 0) {
		r = cas_failed(st, id);
		goto out;
	}
	if (to == STORE_DENIED) {
		if ((r = stmt(st, sql_set_denial, &s)) != EPH_OK ||
		    (r = bind_text(s, 1, id)) != EPH_OK ||
		    (r = bind_text(s, 2, denier(ev))) != EPH_OK ||
		    (r = bind_text(s, 3, ev->reason)) != EPH_OK ||
		    (r = bind_i64(s, 4, store_now(st))) != EPH_OK || (r = step_done(s)) != EPH_OK)
			goto out;
		stmt_done(st, s);
		s = NULL;
	}
	if ((r = req_log_load(st, id, &l, &lf)) != EPH_OK)
		goto out;
	if (to == STORE_REVOKED)
		lf.valid_before = l.rq->valid_before;
	if ((facts = json_object()) == NULL ||
	    json_object_set_new(facts, "from", json_string(store_state_name(from))) != 0 ||
	    json_object_set_new(facts, "to", json_string(store_state_name(to))) != 0 ||
	    json_object_set_new(
	        facts, "reason", ev->reason ? json_string(ev->reason) : json_null()) != 0) {
		json_decref(facts);
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = audit_append(st, ev, id, l.rq->serial, facts, &lf);
out:
	stmt_done(st, s);
	req_log_free(&l);
	return op_end(st, mark, r);
}

static const char sql_issue[] =
    "UPDATE requests SET state = 'issued', updated = ?2, serial = ?3, certificate = ?4,"
    " valid_after = ?5, valid_before = ?6, principals = ?7, issued_login_as = ?8"
    " WHERE id = ?1 AND state = 'pending'";
static const char sql_serial_last[] =
    "UPDATE meta SET value = max(value, ?) WHERE name = 'serial_last'";

int
store_issue(
    struct store *st, const char *id, const struct store_cert *c, const struct store_event *ev)
{
	struct req_log l;
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	json_t *facts = NULL, *pr = NULL;
	struct key *k = NULL;
	char *principals = NULL, *plist = NULL, *fp = NULL;
	size_t i, mark;
	int r, nomem = 0;

	memset(&l, 0, sizeof(l));
	if (id == NULL || ev == NULL || c == NULL || !str_ok(c->certificate) ||
	    c->nprincipals > STORE_MAX_PRINCIPALS ||
	    (c->nprincipals > 0 && c->principals == NULL) || c->valid_after > (uint64_t)INT64_MAX ||
	    c->valid_before > (uint64_t)INT64_MAX || c->valid_before < c->valid_after)
		return EPH_ERR_INVAL;
	/* Only serials this handle handed out: an old or invented one could
	 * collide with a certificate outside this database. */
	if (c->serial == 0 || c->serial < st->serial_first || c->serial >= st->serial_next)
		return EPH_ERR_RANGE;
	if ((r = strv_to_json(c->principals, c->nprincipals, &principals)) != EPH_OK)
		return r;
	if ((r = op_begin(st, &mark)) != EPH_OK)
		goto fail;
	if ((r = stmt(st, sql_issue, &s)) != EPH_OK || (r = bind_text(s, 1, id)) != EPH_OK ||
	    (r = bind_i64(s, 2, store_now(st))) != EPH_OK ||
	    (r = bind_u64(s, 3, c->serial)) != EPH_OK ||
	    (r = bind_text(s, 4, c->certificate)) != EPH_OK ||
	    (r = bind_u64(s, 5, c->valid_after)) != EPH_OK ||
	    (r = bind_u64(s, 6, c->valid_before)) != EPH_OK ||
	    (r = bind_text(s, 7, principals)) != EPH_OK ||
	    (r = bind_text(s, 8, c->login_as)) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out; /* a serial stored before: EPH_ERR_DUPLICATE */
	stmt_done(st, s);
	s = NULL;
	if (sqlite3_changes(st->db) == 0) {
		r = cas_failed(st, id);
		goto out;
	}
	if ((r = stmt(st, sql_serial_last, &s)) != EPH_OK ||
	    (r = bind_u64(s, 1, c->serial)) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out;
	stmt_done(st, s);
	s = NULL;
	if ((r = req_log_load(st, id, &l, &lf)) != EPH_OK)
		goto out;
	plist = join(l.rq->principals, l.rq->nprincipals, &nomem);
	r = EPH_ERR_NOMEM;
	if (nomem || (facts = json_object()) == NULL || (pr = json_array()) == NULL)
		goto out;
	for (i = 0; i < c->nprincipals; i++)
		if (json_array_append_new(pr, json_string(c->principals[i])) != 0)
			goto out;
	if (json_object_set_new(facts, "principals", pr) != 0) {
		pr = NULL;
		goto out;
	}
	pr = NULL;
	if (key_parse_public_line(l.rq->public_key, &k, NULL) == EPH_OK &&
	    key_fingerprint(k, &fp) == EPH_OK)
		json_object_set_new(facts, "key_fingerprint", json_string(fp));
	if (json_object_set_new(facts, "serial", json_integer((json_int_t)c->serial)) != 0 ||
	    json_object_set_new(facts, "valid_after", json_integer((json_int_t)c->valid_after)) !=
	        0 ||
	    json_object_set_new(facts, "valid_before", json_integer((json_int_t)c->valid_before)) !=
	        0 ||
	    json_object_set_new(
	        facts, "login_as", c->login_as ? json_string(c->login_as) : json_null()) != 0 ||
	    json_object_set_new(facts, "certificate", json_string(c->certificate)) != 0)
		goto out;
	lf.principals = plist;
	lf.valid_before = c->valid_before;
	r = audit_append(st, ev, id, c->serial, facts, &lf);
	facts = NULL;
out:
	json_decref(facts);
	json_decref(pr);
	stmt_done(st, s);
	req_log_free(&l);
	r = op_end(st, mark, r);
fail:
	key_free(k);
	free(fp);
	free(plist);
	free(principals);
	return r;
}

static const char sql_review[] =
    "UPDATE requests SET review = 'closed', review_by = ?2, review_comment = ?3,"
    " review_at = ?4 WHERE id = ?1 AND review = 'open'";

int
store_review_close(struct store *st, const char *id, const char *by, const char *comment,
    const struct store_event *ev)
{
	struct req_log l;
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	json_t *facts;
	size_t mark;
	int r;

	memset(&l, 0, sizeof(l));
	if (id == NULL || !str_ok(by) || ev == NULL)
		return EPH_ERR_INVAL;
	if ((r = op_begin(st, &mark)) != EPH_OK)
		return r;
	if ((r = stmt(st, sql_review, &s)) != EPH_OK || (r = bind_text(s, 1, id)) != EPH_OK ||
	    (r = bind_text(s, 2, by)) != EPH_OK ||
	    (r = bind_text(s, 3, comment != NULL ? comment : "")) != EPH_OK ||
	    (r = bind_i64(s, 4, store_now(st))) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out;
	stmt_done(st, s);
	s = NULL;
	if (sqlite3_changes(st->db) == 0) {
		r = cas_failed(st, id);
		goto out;
	}
	if ((r = req_log_load(st, id, &l, &lf)) != EPH_OK)
		goto out;
	lf.decision = "review closed";
	if ((facts = json_object()) == NULL ||
	    json_object_set_new(facts, "by", json_string(by)) != 0 ||
	    json_object_set_new(facts, "comment", json_string(comment != NULL ? comment : "")) !=
	        0) {
		json_decref(facts);
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = audit_append(st, ev, id, l.rq->serial, facts, &lf);
out:
	stmt_done(st, s);
	req_log_free(&l);
	return op_end(st, mark, r);
}

/* ----------------------------------------------------------- sessions */

static const char sql_session_put[] =
    "INSERT INTO sessions (token_hash, user, uid, address, created, expires, revoked)"
    " VALUES (?, ?, ?, ?, ?, ?, 0)";
static const char sql_session_get[] =
    "SELECT user, uid, address, created, expires, revoked FROM sessions WHERE token_hash = ?";
static const char sql_session_revoke[] =
    "UPDATE sessions SET revoked = 1 WHERE token_hash = ? AND revoked = 0";
static const char sql_session_purge[] = "DELETE FROM sessions WHERE expires < ?";

/* What a session's audit record says about it (never the token or its
 * hash: the hash would let a reader of the log probe for tokens). */
static json_t *
session_facts(const char *user, uid_t uid, const char *address, int64_t expires)
{
	json_t *f = json_object();

	if (f == NULL || json_object_set_new(f, "user", json_string(user)) != 0 ||
	    json_object_set_new(f, "uid", json_integer((json_int_t)uid)) != 0 ||
	    json_object_set_new(f, "address", json_string(address)) != 0 ||
	    (expires != 0 && json_object_set_new(f, "expires", json_integer(expires)) != 0)) {
		json_decref(f);
		return NULL;
	}
	return f;
}

int
store_put_session(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_session *ss, const struct store_event *ev)
{
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	char hex[AUDIT_HASH_HEX + 1];
	json_t *facts;
	size_t mark;
	int r, rc;

	if (hash == NULL || ss == NULL || ev == NULL || !str_ok(ss->user) ||
	    memchr(ss->address, '\0', sizeof(ss->address)) == NULL)
		return EPH_ERR_INVAL;
	memset(&lf, 0, sizeof(lf));
	audit_hash_hex(hash, hex);
	if ((r = op_begin(st, &mark)) != EPH_OK)
		return r;
	if ((r = stmt(st, sql_session_put, &s)) != EPH_OK || (r = bind_text(s, 1, hex)) != EPH_OK ||
	    (r = bind_text(s, 2, ss->user)) != EPH_OK ||
	    (r = bind_i64(s, 3, (int64_t)ss->uid)) != EPH_OK ||
	    (r = bind_text(s, 4, ss->address)) != EPH_OK ||
	    (r = bind_i64(s, 5, ss->created)) != EPH_OK ||
	    (r = bind_i64(s, 6, ss->expires)) != EPH_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT) {
		r = EPH_ERR_EXISTS;
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = sql_err(rc);
		goto out;
	}
	stmt_done(st, s);
	s = NULL;
	lf.user = ss->user;
	lf.rhost = ss->address[0] != '\0' ? ss->address : NULL;
	lf.decision = "session opened";
	if ((facts = session_facts(ss->user, ss->uid, ss->address, ss->expires)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = audit_append(st, ev, NULL, 0, facts, &lf);
out:
	stmt_done(st, s);
	eph_wipe(hex, sizeof(hex));
	return op_end(st, mark, r);
}

int
store_get_session(
    struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_session *out)
{
	sqlite3_stmt *s = NULL;
	char hex[AUDIT_HASH_HEX + 1];
	const char *u, *a;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if (hash == NULL)
		return EPH_ERR_INVAL;
	audit_hash_hex(hash, hex);
	if ((r = stmt(st, sql_session_get, &s)) != EPH_OK || (r = bind_text(s, 1, hex)) != EPH_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = EPH_ERR_NOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sql_err(rc);
		goto out;
	}
	u = (const char *)sqlite3_column_text(s, 0);
	a = (const char *)sqlite3_column_text(s, 2);
	r = EPH_ERR_FORMAT;
	if (u == NULL || a == NULL || strlen(u) >= sizeof(out->user) ||
	    strlen(a) >= sizeof(out->address))
		goto out;
	memcpy(out->user, u, strlen(u) + 1);
	memcpy(out->address, a, strlen(a) + 1);
	out->uid = (uid_t)sqlite3_column_int64(s, 1);
	out->created = sqlite3_column_int64(s, 3);
	out->expires = sqlite3_column_int64(s, 4);
	out->revoked = sqlite3_column_int64(s, 5) != 0;
	r = EPH_OK;
out:
	stmt_done(st, s);
	eph_wipe(hex, sizeof(hex));
	if (r != EPH_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

int
store_revoke_session(
    struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], const struct store_event *ev)
{
	struct store_session ss;
	struct log_facts lf;
	sqlite3_stmt *s = NULL;
	char hex[AUDIT_HASH_HEX + 1];
	json_t *facts;
	size_t mark;
	int r;

	if (hash == NULL || ev == NULL)
		return EPH_ERR_INVAL;
	memset(&lf, 0, sizeof(lf));
	audit_hash_hex(hash, hex);
	if ((r = op_begin(st, &mark)) != EPH_OK)
		return r;
	if ((r = store_get_session(st, hash, &ss)) != EPH_OK)
		goto out;
	if ((r = stmt(st, sql_session_revoke, &s)) != EPH_OK ||
	    (r = bind_text(s, 1, hex)) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out;
	stmt_done(st, s);
	s = NULL;
	if (sqlite3_changes(st->db) == 0) {
		r = EPH_ERR_NOTFOUND;
		goto out;
	}
	lf.user = ss.user;
	lf.rhost = ss.address[0] != '\0' ? ss.address : NULL;
	lf.decision = "session ended";
	if ((facts = session_facts(ss.user, ss.uid, ss.address, 0)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = audit_append(st, ev, NULL, 0, facts, &lf);
out:
	stmt_done(st, s);
	eph_wipe(hex, sizeof(hex));
	return op_end(st, mark, r);
}

int
store_purge_sessions(struct store *st, int64_t before, size_t *n)
{
	sqlite3_stmt *s = NULL;
	size_t mark;
	int r;

	if (n != NULL)
		*n = 0;
	if ((r = op_begin(st, &mark)) != EPH_OK)
		return r;
	if ((r = stmt(st, sql_session_purge, &s)) != EPH_OK ||
	    (r = bind_i64(s, 1, before)) != EPH_OK || (r = step_done(s)) != EPH_OK)
		goto out;
	if (n != NULL)
		*n = (size_t)sqlite3_changes(st->db);
	r = EPH_OK;
out:
	stmt_done(st, s);
	return op_end(st, mark, r);
}

int
store_note(struct store *st, const struct store_event *ev, const char *user, const char *rhost)
{
	struct log_facts lf;
	json_t *facts;
	size_t mark;
	int r;

	if (ev == NULL || !str_ok(user) || rhost == NULL)
		return EPH_ERR_INVAL;
	memset(&lf, 0, sizeof(lf));
	lf.user = user;
	lf.rhost = rhost[0] != '\0' ? rhost : NULL;
	lf.decision = ev->reason;
	if ((facts = session_facts(user, (uid_t)-1, rhost, 0)) == NULL)
		return EPH_ERR_NOMEM;
	json_object_del(facts, "uid");
	if ((r = op_begin(st, &mark)) != EPH_OK) {
		json_decref(facts);
		return r;
	}
	r = audit_append(st, ev, NULL, 0, facts, &lf);
	return op_end(st, mark, r);
}

/* ------------------------------------------------------------ serials */

static int
serial_file_read(const char *path, uint64_t *out)
{
	struct buf b;
	char text[SERIAL_FILE_MAX + 1];
	int r;

	*out = 0;
	buf_init(&b);
	if ((r = file_read_all(path, SERIAL_FILE_MAX, FILE_CHECK_TRUSTED, &b)) != EPH_OK) {
		if (r == EPH_ERR_IO && errno == ENOENT)
			r = EPH_OK; /* first start: written before the first serial */
		goto out;
	}
	memcpy(text, b.d, b.len);
	text[b.len] = '\0';
	if (b.len > 0 && text[b.len - 1] == '\n')
		text[b.len - 1] = '\0';
	if (parse_u64(text, out) != EPH_OK || *out > SERIAL_MAX) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	r = EPH_OK;
out:
	buf_free(&b);
	return r;
}

int
store_serial_alloc(struct store *st, uint64_t *serial)
{
	char text[32];
	uint64_t upto;
	int n, r;

	*serial = 0;
	if (st->read_only || st->serial_file == NULL)
		return EPH_ERR_INVAL;
	if (st->serial_next == 0 || st->serial_next > SERIAL_MAX)
		return EPH_ERR_RANGE;
	if (st->serial_next > st->serial_reserved) {
		upto = st->serial_next + st->serial_block - 1;
		if (upto > SERIAL_MAX || upto < st->serial_next)
			upto = SERIAL_MAX;
		n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)upto);
		/* Durable before the serial exists anywhere else. */
		if ((r = file_write_atomic(st->serial_file, text, (size_t)n, 0644, 0)) != EPH_OK)
			return r;
		st->serial_reserved = upto;
	}
	*serial = st->serial_next++;
	return EPH_OK;
}

static int
meta_u64(struct store *st, const char *name, uint64_t *out)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	*out = 0;
	if ((r = stmt(st, sql_meta_get, &s)) != EPH_OK || (r = bind_text(s, 1, name)) != EPH_OK)
		goto out;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = col_u64(s, 0);
	r = rc == SQLITE_ROW || rc == SQLITE_DONE ? EPH_OK : sql_err(rc);
out:
	stmt_done(st, s);
	return r;
}

static const char sql_max_serial[] = "SELECT coalesce(max(serial), 0) FROM requests";

static int
serial_init(struct store *st, uint64_t floor)
{
	sqlite3_stmt *s = NULL;
	uint64_t db_last = 0, hwm = 0, top = 0, m;
	int r, rc;

	if ((r = meta_u64(st, "serial_last", &db_last)) != EPH_OK)
		return r;
	if ((r = stmt(st, sql_max_serial, &s)) != EPH_OK)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		top = col_u64(s, 0);
	stmt_done(st, s);
	if (rc != SQLITE_ROW)
		return sql_err(rc);
	if ((r = serial_file_read(st->serial_file, &hwm)) != EPH_OK)
		return r;
	m = db_last;
	if (hwm > m)
		m = hwm;
	if (floor > m)
		m = floor;
	if (top > m)
		m = top;
	if (m >= SERIAL_MAX)
		return EPH_ERR_RANGE;
	st->serial_next = st->serial_first = m + 1;
	st->serial_reserved = m; /* the next allocation reserves a new block */
	return EPH_OK;
}

/* --------------------------------------------------------------- open */

static int
schema_version(struct store *st, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	*v = 0;
	rc = sqlite3_prepare_v2(st->db,
	    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", -1,
	    &s, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return EPH_OK;
	if (rc != SQLITE_ROW)
		return sql_err(rc);
	if ((rc = sqlite3_prepare_v2(
	         st->db, "SELECT max(version) FROM schema_version", -1, &s, NULL)) != SQLITE_OK)
		return sql_err(rc);
	rc = sqlite3_step(s);
	r = rc == SQLITE_ROW ? EPH_OK : sql_err(rc);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return r;
}

static int
migrate(struct store *st)
{
	char sql[64];
	int64_t v;
	int r;

	if (st->read_only) {
		if ((r = schema_version(st, &v)) != EPH_OK)
			return r;
		return v == SCHEMA_VERSION ? EPH_OK : EPH_ERR_FORMAT;
	}
	if ((r = exec(st, "BEGIN IMMEDIATE")) != EPH_OK)
		return r;
	if ((r = schema_version(st, &v)) != EPH_OK)
		goto out;
	if (v > SCHEMA_VERSION || v < 0) {
		r = EPH_ERR_FORMAT; /* written by a newer sshca: do not touch */
		goto out;
	}
	if (v == 0 &&
	    (r = exec(st, "CREATE TABLE schema_version (version INTEGER NOT NULL);")) != EPH_OK)
		goto out;
	for (; v < SCHEMA_VERSION; v++) {
		if ((r = exec(st, migrations[v])) != EPH_OK)
			goto out;
		snprintf(
		    sql, sizeof(sql), "INSERT INTO schema_version VALUES (%lld)", (long long)v + 1);
		if ((r = exec(st, sql)) != EPH_OK)
			goto out;
	}
	r = exec(st, "COMMIT");
out:
	if (r != EPH_OK && !sqlite3_get_autocommit(st->db))
		exec(st, "ROLLBACK");
	return r;
}

/* The directory must not let others replace the file under us. */
static int
check_dir(const char *path)
{
	struct stat sb;
	char *copy;
	int r = EPH_ERR_NOMEM;

	if ((copy = strdup(path)) == NULL)
		return r;
	if (stat(dirname(copy), &sb) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	r = EPH_ERR_PERM;
	if (!S_ISDIR(sb.st_mode) || (sb.st_mode & S_IWOTH) != 0)
		goto out;
	r = EPH_OK;
out:
	free(copy);
	return r;
}

static int
check_file(const struct stat *sb, int read_only)
{
	if (S_ISLNK(sb->st_mode) || !S_ISREG(sb->st_mode))
		return EPH_ERR_PERM;
	if ((sb->st_mode & 022) != 0)
		return EPH_ERR_PERM;
	/* Root may read (audit verify) a database the daemon's user owns. */
	if (sb->st_uid != geteuid() && !(read_only && (geteuid() == 0 || sb->st_uid == 0)))
		return EPH_ERR_PERM;
	return EPH_OK;
}

/*
 * Connect st->db to st->path, the file st->dev/st->ino, and set it up:
 * pragmas and the schema check (migrating it when writable). Used by
 * store_open and again by store_reconnect, so both take the same path.
 */
static int
db_connect(struct store *st)
{
	struct stat after;
	char pragma[64];
	int r, rc, flags;

	flags = (st->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
	if ((rc = sqlite3_open_v2(st->path, &st->db, flags, NULL)) != SQLITE_OK)
		return rc == SQLITE_CANTOPEN ? EPH_ERR_IO : sql_err(rc);
	/* The file checked is the file opened. */
	if (lstat(st->path, &after) != 0 || after.st_dev != st->dev || after.st_ino != st->ino)
		return EPH_ERR_PERM;
	snprintf(pragma, sizeof(pragma), "PRAGMA busy_timeout = %d", st->busy_timeout_ms);
	if ((r = exec(st, pragma)) != EPH_OK ||
	    (r = exec(st, "PRAGMA trusted_schema = OFF")) != EPH_OK ||
	    (r = exec(st, "PRAGMA foreign_keys = ON")) != EPH_OK)
		return r;
	if (!st->read_only &&
	    ((r = exec(st, "PRAGMA journal_mode = WAL")) != EPH_OK ||
	        (r = exec(st, "PRAGMA synchronous = FULL")) != EPH_OK))
		return r;
	return migrate(st);
}

/* May this process write the database, and its -wal and -shm where they
 * exist (SQLite makes missing ones with the database's mode)? */
static int
files_writable(const struct store *st)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[PATH_MAX];
	size_t i;
	int n;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		n = snprintf(p, sizeof(p), "%s%s", st->path, suffix[i]);
		if (n < 0 || (size_t)n >= sizeof(p))
			return 0;
		if (faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) != 0 && (i == 0 || errno != ENOENT))
			return 0;
	}
	return 1;
}

/* The statement cache, emptied into saved (for a reconnect). */
struct stmt_cache {
	const char *sql[STMT_CACHE];
	sqlite3_stmt *stmt[STMT_CACHE];
	size_t n;
};

static void
cache_take(struct store *st, struct stmt_cache *c)
{
	size_t i;

	for (c->n = 0, i = 0; i < STMT_CACHE && st->cache[i].sql != NULL; i++, c->n++) {
		c->sql[i] = st->cache[i].sql;
		c->stmt[i] = st->cache[i].stmt;
	}
	memset(st->cache, 0, sizeof(st->cache));
}

static void
cache_finalize(struct stmt_cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		sqlite3_finalize(c->stmt[i]);
	c->n = 0;
}

/*
 * Replace the connection with a new one to the same file, set up as
 * store_open sets it up; the old one stays when that fails. The serial
 * state is the handle's and stays as it is: the next serial never goes
 * back. Never inside a group.
 */
static int
store_reconnect(struct store *st)
{
	struct stmt_cache old_cache, new_cache;
	sqlite3 *old = st->db;
	struct stat sb;
	size_t i;
	int r;

	if (st->batch)
		return EPH_ERR_INVAL;
	/* Only the file opened at the start, and only while it is safe. */
	if (lstat(st->path, &sb) != 0 || sb.st_dev != st->dev || sb.st_ino != st->ino) {
		(void)snprintf(st->why, sizeof(st->why),
		    "the database %s is not the file sshca opened; restart it", st->path);
		return EPH_ERR_PERM;
	}
	if ((r = check_file(&sb, 0)) != EPH_OK) {
		(void)snprintf(st->why, sizeof(st->why),
		    "the database %s is not safe to open (its owner or mode)", st->path);
		return r;
	}
	cache_take(st, &old_cache);
	st->db = NULL;
	if ((r = db_connect(st)) != EPH_OK) {
		(void)snprintf(st->why, sizeof(st->why), "the database %s cannot be reopened: %s",
		    st->path, st->db != NULL ? sqlite3_errmsg(st->db) : eph_strerror(r));
		cache_take(st, &new_cache);
		cache_finalize(&new_cache);
		sqlite3_close(st->db);
		st->db = old;
		for (i = 0; i < old_cache.n; i++) {
			st->cache[i].sql = old_cache.sql[i];
			st->cache[i].stmt = old_cache.stmt[i];
		}
		return r;
	}
	cache_finalize(&old_cache);
	sqlite3_close(old);
	st->n_reopens++;
	return EPH_OK;
}

/*
 * Before every write outside a group (and in store_health): fail closed
 * while this process may not write the database files (an open
 * connection would go on writing through its descriptors after a chmod),
 * and once it may again, reopen a connection SQLite opened or left
 * read-only. Inside a group only the check: the group keeps its
 * connection.
 */
static int
store_writable(struct store *st)
{
	struct statvfs vfs;

	if (st->read_only)
		return EPH_ERR_STORE_FULL;
	/* A volume nearly full is refused before SQLite tries: the WAL
	 * would absorb some writes and fail others, at random. */
	if (statvfs(st->path, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize < STORE_MIN_FREE) {
		(void)snprintf(st->why, sizeof(st->why),
		    "the database's file system has %llu KiB free",
		    (unsigned long long)((uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize / 1024));
		return EPH_ERR_STORE_FULL;
	}
	if (!st->degraded)
		st->why[0] = '\0';
	if (!files_writable(st)) {
		if (!st->degraded && !st->no_log)
			(void)eph_log(LOG_ERR, NULL, NULL, 0,
			    "store: %s cannot be written (%s); writes are refused until it can",
			    st->path, strerror(errno));
		if (!st->degraded)
			(void)snprintf(
			    st->why, sizeof(st->why), "the database %s is read-only", st->path);
		st->degraded = 1;
		return EPH_ERR_STORE_FULL;
	}
	if (st->batch || (!st->degraded && sqlite3_db_readonly(st->db, "main") != 1))
		return EPH_OK;
	if (store_reconnect(st) != EPH_OK) {
		st->degraded = 1;
		return EPH_ERR_STORE_FULL;
	}
	st->degraded = 0;
	st->why[0] = '\0';
	if (!st->no_log)
		(void)eph_log(LOG_NOTICE, NULL, NULL, 0,
		    "store: %s can be written again: reopened, writes resume", st->path);
	return EPH_OK;
}

int
store_open(const struct store_opts *o, struct store **out)
{
	struct store *st = NULL;
	struct stat before;
	int fd, r;

	*out = NULL;
	if (o == NULL || !str_ok(o->database) || (!o->read_only && !str_ok(o->serial_file)))
		return EPH_ERR_INVAL;
	if (strncmp(o->database, "postgres", 8) == 0 || strstr(o->database, "://") != NULL)
		return EPH_ERR_INVAL; /* no such backend yet */
	if ((r = check_dir(o->database)) != EPH_OK)
		return r;
	if (lstat(o->database, &before) != 0) {
		if (errno != ENOENT || o->read_only)
			return EPH_ERR_IO;
		fd = open(o->database, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return EPH_ERR_IO;
		close(fd);
		if (lstat(o->database, &before) != 0)
			return EPH_ERR_IO;
	}
	if ((r = check_file(&before, o->read_only)) != EPH_OK)
		return r;

	r = EPH_ERR_NOMEM;
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(o->database)) == NULL ||
	    (o->serial_file != NULL && (st->serial_file = strdup(o->serial_file)) == NULL))
		goto out;
	st->read_only = o->read_only;
	st->no_log = o->no_log;
	st->dev = before.st_dev;
	st->ino = before.st_ino;
	st->busy_timeout_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : STORE_BUSY_TIMEOUT_MS;
	st->clock = o->clock;
	st->clock_ctx = o->clock_ctx;
	st->serial_block = o->serial_block != 0 ? o->serial_block : STORE_SERIAL_BLOCK;
	if ((r = db_connect(st)) != EPH_OK)
		goto out;
	if (!o->read_only && (r = serial_init(st, o->serial_floor)) != EPH_OK)
		goto out;
	*out = st;
	st = NULL;
	r = EPH_OK;
out:
	store_close(st);
	return r;
}

void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	if (st->batch)
		store_rollback(st);
	for (i = 0; i < STMT_CACHE && st->cache[i].sql != NULL; i++)
		sqlite3_finalize(st->cache[i].stmt);
	if (st->db != NULL)
		sqlite3_close(st->db);
	logs_drop(st, 0);
	free(st->logs);
	free(st->path);
	free(st->serial_file);
	free(st);
}

/* -------------------------------------------------------------- audit */

void
audit_list_free(struct audit_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		audit_record_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* One audit row (seq, time, type, request_id, serial, actor, details,
 * prev, hash) as stored. A hash column that is not 64 hex digits reads
 * as zeros: the chain check then reports the row. */
static int
row_audit(sqlite3_stmt *s, struct audit_record *rec)
{
	int nomem = 0;

	memset(rec, 0, sizeof(*rec));
	rec->seq = col_u64(s, 0);
	rec->time = sqlite3_column_int64(s, 1);
	rec->type = col_str0(s, 2, &nomem);
	rec->request_id = col_str0(s, 3, &nomem);
	rec->serial = col_u64(s, 4);
	rec->actor = col_str0(s, 5, &nomem);
	rec->details = col_str0(s, 6, &nomem);
	if (nomem) {
		audit_record_clear(rec);
		return EPH_ERR_NOMEM;
	}
	if (audit_hash_parse((const char *)sqlite3_column_text(s, 7), rec->prev) != EPH_OK)
		memset(rec->prev, 0xee, sizeof(rec->prev));
	if (audit_hash_parse((const char *)sqlite3_column_text(s, 8), rec->hash) != EPH_OK)
		memset(rec->hash, 0xee, sizeof(rec->hash));
	return EPH_OK;
}

#define AUDIT_COLS "seq, time, type, request_id, serial, actor, details, prev, hash"

static const char sql_audit_list[] =
    "SELECT " AUDIT_COLS " FROM audit WHERE seq > ?1 AND (?2 IS NULL OR request_id = ?2)"
    " ORDER BY seq LIMIT ?3";
static const char sql_serial_id[] = "SELECT id FROM requests WHERE serial = ?";

int
store_audit_list(struct store *st, const struct audit_query *q, struct audit_list *out)
{
	sqlite3_stmt *s = NULL;
	struct audit_record *nv;
	char *byserial = NULL;
	const char *rid = q->request_id;
	int r, rc, nomem = 0;

	out->v = NULL;
	out->n = 0;
	if (q->serial != 0) {
		if ((r = stmt(st, sql_serial_id, &s)) != EPH_OK ||
		    (r = bind_u64(s, 1, q->serial)) != EPH_OK)
			goto out;
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			r = EPH_ERR_NOTFOUND;
			goto out;
		}
		if (rc != SQLITE_ROW) {
			r = sql_err(rc);
			goto out;
		}
		if ((byserial = col_str(s, 0, &nomem)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		rid = byserial;
		stmt_done(st, s);
		s = NULL;
	}
	if ((r = stmt(st, sql_audit_list, &s)) != EPH_OK ||
	    (r = bind_u64(s, 1, q->since_seq)) != EPH_OK || (r = bind_text(s, 2, rid)) != EPH_OK ||
	    (r = bind_i64(s, 3, q->limit == 0 ? -1 : (int64_t)q->limit)) != EPH_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = realloc(out->v, (out->n + 1) * sizeof(*nv))) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		out->v = nv;
		if ((r = row_audit(s, &out->v[out->n])) != EPH_OK)
			goto out;
		out->n++;
	}
	if ((r = sql_err(rc)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	stmt_done(st, s);
	free(byserial);
	if (r != EPH_OK)
		audit_list_free(out);
	return r;
}

static const char sql_audit_all[] = "SELECT " AUDIT_COLS " FROM audit ORDER BY seq";

int
store_audit_verify(struct store *st, struct audit_chain *ch)
{
	struct audit_record rec;
	sqlite3_stmt *s = NULL;
	uint8_t head[AUDIT_HASH_LEN];
	const unsigned char *hh;
	uint64_t head_seq = 0;
	int r, rc, have_head = 0, own_tx = !st->batch;

	audit_chain_init(ch);
	/* One read transaction: the rows and the head from one snapshot. */
	if (own_tx && (r = exec(st, "BEGIN")) != EPH_OK)
		return r;
	if ((r = meta_u64(st, "audit_seq", &head_seq)) != EPH_OK)
		goto out;
	if ((r = stmt(st, sql_meta_get, &s)) != EPH_OK ||
	    (r = bind_text(s, 1, "audit_hash")) != EPH_OK)
		goto out;
	if (sqlite3_step(s) == SQLITE_ROW && (hh = sqlite3_column_text(s, 0)) != NULL &&
	    audit_hash_parse((const char *)hh, head) == EPH_OK)
		have_head = 1;
	stmt_done(st, s);
	s = NULL;
	if ((r = stmt(st, sql_audit_all, &s)) != EPH_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = row_audit(s, &rec)) != EPH_OK)
			goto out;
		r = audit_chain_step(ch, &rec);
		audit_record_clear(&rec);
		if (r != EPH_OK)
			goto out;
	}
	if ((r = sql_err(rc)) != EPH_OK)
		goto out;
	r = audit_chain_end(ch, head_seq, have_head ? head : NULL);
out:
	stmt_done(st, s);
	if (own_tx)
		exec(st, "COMMIT");
	return r;
}

/*
 * The CA's durable state behind one small interface: requests, their
 * approvals, issued certificates, serial allocation and the hash-chained
 * audit log. Nothing here names a backend: the workflow code sees only
 * struct store and store_*(). SQLite (store.c) is the one backend now; a
 * PostgreSQL one implements the same functions later.
 *
 * Rules every backend keeps, and the workflow can rely on:
 *  - Every function that changes a request takes the audit event that
 *    explains it, and commits the change and its audit record in one
 *    transaction: there is no way to change state without a record.
 *  - State changes are compare-and-set: the caller names the state it
 *    expects; if the stored state differs, nothing is written and the
 *    call returns EPH_ERR_CONFLICT (HTTP 409).
 *  - After a commit, each event is logged once through eph_log() (journald
 *    + syslog) with its MESSAGE_ID (audit.h) and EPH_* fields; a logging
 *    failure never undoes or fails the commit.
 *  - Serials are allocated by the store, never reused, across restarts,
 *    crashes and restores of an older database.
 *
 * One struct store is used by one thread at a time (lock around it, or
 * give each thread nothing but a queue to the owner). One process
 * allocates serials for a database (the daemon); other processes (sshca
 * audit) may open it read-only at the same time.
 */
#ifndef SSHCA_STORE_H
#define SSHCA_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"

#define STORE_DEFAULT_DATABASE LOCALSTATEDIR "/lib/ephemeral/ca.db"
#define STORE_ID_LEN 18 /* "r-" + 16 lower-case hex digits */
#define STORE_SERIAL_BLOCK 1000u /* serials reserved per high-water write */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_MAX_HOSTS 256
#define STORE_MAX_PRINCIPALS 256

/* Request states. Allowed moves (store_set_state / store_issue):
 * pending -> issued | denied | expired | cancelled; issued -> revoked.
 * denied, expired, cancelled and revoked are final. */
enum store_state {
	STORE_PENDING = 0,
	STORE_ISSUED,
	STORE_DENIED,
	STORE_EXPIRED,
	STORE_CANCELLED,
	STORE_REVOKED,
	STORE_NSTATES
};

/* Break-glass review: NONE for ordinary requests; OPEN from creation of a
 * break-glass request until store_review_close. */
enum store_review { STORE_REVIEW_NONE = 0, STORE_REVIEW_OPEN, STORE_REVIEW_CLOSED };

/* "pending", "issued", ... / "none", "open", "closed"; parse: EPH_OK or
 * EPH_ERR_INVAL. */
const char *store_state_name(enum store_state s);
int store_state_parse(const char *name, enum store_state *out);
const char *store_review_name(enum store_review r);

/* Clock, injected so tests control time; seconds since the epoch. */
typedef int64_t (*store_clock_fn)(void *ctx);

struct store_opts {
	/* A file path; "postgresql://..." is refused (EPH_ERR_INVAL) until
	 * that backend lands. */
	const char *database;
	/* High-water mark of reserved serials, outside the database, e.g.
	 * "<revoked_keys>.serial". Required unless read_only. */
	const char *serial_file;
	/* Serials start above this too (e.g. the KRL's highest serial). */
	uint64_t serial_floor;
	/* Serials reserved per high-water file write; 0: STORE_SERIAL_BLOCK. */
	uint32_t serial_block;
	/* 0: STORE_BUSY_TIMEOUT_MS. */
	int busy_timeout_ms;
	/* Open an existing database without writing (sshca audit). */
	int read_only;
	/* Do not eph_log() committed events (tests, offline tools). */
	int no_log;
	store_clock_fn clock; /* NULL: time(NULL) */
	void *clock_ctx;
};

struct store;

/*
 * Open (creating with mode 0600 when missing and not read_only) the
 * database, apply schema migrations, and set the next serial to
 * max(database counter, high-water file, serial_floor, highest stored
 * serial) + 1. Refused: a symlink, a non-regular file, a file not owned
 * by the effective uid or writable by group/other, a directory writable
 * by others (EPH_ERR_PERM); a schema newer than this code (EPH_ERR_FORMAT);
 * an unreadable or malformed high-water file (EPH_ERR_IO / EPH_ERR_FORMAT;
 * a missing one is fine and gets written before the first serial).
 * The database is WAL with synchronous=FULL and a busy timeout.
 */
int store_open(const struct store_opts *o, struct store **out);
void store_close(struct store *st);

/* Below this much free space the store refuses to write (EPH_ERR_STORE_FULL)
 * and reports itself unable to. */
#define STORE_MIN_FREE (1024u * 1024u)

/*
 * Can the store still write? EPH_OK; EPH_ERR_STORE_FULL with why when the
 * database is read-only or its file system has less than STORE_MIN_FREE
 * bytes free; EPH_ERR_STORE when that cannot be told. Writes nothing.
 *
 * Read-only is: opened read_only; or this process may not write the
 * database or its -wal / -shm (access(2) as the effective user, checked
 * before every write too, which then fails with EPH_ERR_STORE_FULL and
 * writes nothing); or SQLite refused a write as read-only. The store
 * recovers by itself: once the files are writable again, the next write
 * (or store_health) outside a group reopens the connection the way
 * store_open does (same file, pragmas, schema check), keeping the serial
 * state. A database file replaced meanwhile is not reopened (restart).
 */
int store_health(struct store *st, char *why, size_t len);

/* A human sentence about the last backend error of st ("database or disk
 * is full", ...), for logs next to eph_strerror(); never NULL. */
const char *store_errmsg(const struct store *st);

/*
 * Group commit. Between store_begin and store_commit every change joins
 * one transaction and one fsync; each change still succeeds or fails on
 * its own (a failed one is undone alone, the others stay in the group).
 * Events are logged after store_commit succeeds; store_rollback drops
 * the whole group and its events. Without store_begin each change commits
 * by itself. Groups do not nest (EPH_ERR_INVAL). A caller answers none of
 * the grouped requests before store_commit returned EPH_OK.
 */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * What the store has done since it was opened, for GET /metrics. The
 * counters are kept by whoever holds the store (its one thread at a
 * time): read them under the same lock as every other call.
 */
#define STORE_COMMIT_NBUCKETS 11
struct store_stats {
	/* Durable commits (a group's, or a change's own) and their latency:
	 * commit_bucket[i] counts those that took at most commit_le_us[i]
	 * microseconds (cumulative, as Prometheus has it; the last bound is
	 * UINT64_MAX, +Inf, and its count is commits). */
	uint64_t commits;
	uint64_t commit_le_us[STORE_COMMIT_NBUCKETS];
	uint64_t commit_bucket[STORE_COMMIT_NBUCKETS];
	uint64_t commit_ns_sum;
	uint64_t commit_failures; /* COMMITs that failed: nothing of theirs kept */
	uint64_t reopens; /* connections reopened once a read-only database was writable */
};

void store_stats(struct store *st, struct store_stats *out);

/* ---------------------------------------------------------------- data */

struct store_approval {
	char *user;
	uid_t uid;
	int64_t at;
	char *comment; /* "" when none */
};

/*
 * One request and everything known about it. Strings read from the store
 * are never NULL except where noted; the store owns nothing of a struct
 * it returns (free with store_request_free).
 */
struct store_request {
	char id[STORE_ID_LEN + 1]; /* "r-" + 16 hex */
	enum store_state state;
	char *task;
	char **hosts; /* as requested */
	size_t nhosts;
	char *requester; /* user name, as resolved by the caller */
	uid_t requester_uid;
	char *reason;
	char *public_key; /* "type base64" (comment dropped or kept, as given) */
	char *source_address; /* the caller's address; NULL: none (Unix socket) */
	uint64_t ttl; /* requested, seconds; 0: the task's */
	char *login_as; /* requested local account; NULL: none */
	int break_glass;
	int64_t created;
	int64_t expires; /* pending deadline */
	int64_t updated; /* last state change */
	char *decision; /* the policy decision with its reasons, JSON text */

	/* Once issued (serial 0 and NULLs before). */
	uint64_t serial;
	char *certificate; /* the OpenSSH certificate line */
	uint64_t valid_after, valid_before;
	char **principals;
	size_t nprincipals;
	char *issued_login_as; /* the account the certificate binds; NULL none */

	/* Break-glass review. */
	enum store_review review;
	char *review_by; /* NULL until closed */
	char *review_comment;
	int64_t review_at;

	/* A denial: who (NULL: the policy), why and when; NULLs and 0
	 * unless denied. */
	char *denied_by;
	char *deny_reason;
	int64_t denied_at;

	/* Approvals in the order they were counted (filled by every get and
	 * list call). */
	struct store_approval *approvals;
	size_t napprovals;
};

void store_request_free(struct store_request *rq);

struct store_request_list {
	struct store_request **v;
	size_t n;
};

void store_request_list_free(struct store_request_list *l);

/*
 * The audit side of a change. The store adds the time, request id,
 * serial and its own facts about the change (the stored request, the
 * from/to states, the approval, the certificate's serial, principals,
 * validity and key fingerprint) to details, so the caller cannot forget
 * them. Caller keys in details never override the store's.
 */
struct store_event {
	enum audit_type type;
	const char *actor; /* who caused it: a user name, "sshca" for the CA */
	const char *reason; /* deny/revoke reason or comment; may be NULL */
	const char *details; /* extra JSON object text; NULL: none */
	int priority; /* syslog priority; 0: audit_type_priority(type) */
};

/* ------------------------------------------------------------ changes */

/* A fresh unguessable id: "r-" + 16 hex from OpenSSL RAND_bytes
 * (buffer of STORE_ID_LEN + 1). EPH_ERR_CRYPTO when RAND fails. */
int store_new_id(char id[STORE_ID_LEN + 1]);

/*
 * Record a new request. rq->state must be STORE_PENDING or STORE_DENIED
 * (a denied request is recorded too); task, requester, public_key and
 * decision are required. An empty rq->id gets a fresh one (written
 * back); created defaults to now and updated to created; rq->review is
 * set to OPEN when break_glass. Issued fields must be empty (issue with
 * store_issue). ev is usually AUDIT_REQUEST or AUDIT_BREAK_GLASS. A
 * denied one keeps ev->reason as its deny_reason (denied_by NULL: the
 * policy denied it). EPH_ERR_EXISTS when the id is taken.
 */
int store_put_request(struct store *st, struct store_request *rq, const struct store_event *ev);

/*
 * Count an approval of a pending request. EPH_ERR_NOTFOUND (no such
 * request), EPH_ERR_CONFLICT (not pending), EPH_ERR_DUPLICATE (this uid
 * already approved: nothing is written, so racing double approvals count
 * once). On EPH_OK, *napprovals (if non-NULL) is the number of distinct
 * approvals now stored.
 */
int store_add_approval(struct store *st, const char *id, const char *user, uid_t uid,
    const char *comment, const struct store_event *ev, size_t *napprovals);

/*
 * Compare-and-set a request's state: from -> to, for deny, cancel,
 * expire and revoke (not issue: store_issue). To STORE_DENIED the
 * request keeps ev->actor as denied_by (NULL for the CA's "sshca" or
 * none) and ev->reason as deny_reason. EPH_ERR_NOTFOUND,
 * EPH_ERR_CONFLICT when the stored state is not from, EPH_ERR_INVAL for a
 * move the state machine does not allow.
 */
int store_set_state(struct store *st, const char *id, enum store_state from, enum store_state to,
    const struct store_event *ev);

/* The certificate of an issuance. serial must come from
 * store_serial_alloc on this handle and not be used before. */
struct store_cert {
	uint64_t serial;
	const char *certificate;
	uint64_t valid_after, valid_before;
	const char *const *principals;
	size_t nprincipals;
	const char *login_as; /* NULL: none */
};

/*
 * pending -> issued with the certificate, and its audit record (ev
 * usually AUDIT_ISSUE). EPH_ERR_NOTFOUND, EPH_ERR_CONFLICT (not pending),
 * EPH_ERR_RANGE (serial not allocated by this handle), EPH_ERR_DUPLICATE
 * (serial already stored).
 */
int store_issue(
    struct store *st, const char *id, const struct store_cert *c, const struct store_event *ev);

/* Close a break-glass review: open -> closed, by user. EPH_ERR_NOTFOUND,
 * EPH_ERR_CONFLICT (no open review). ev usually AUDIT_REVIEW. */
int store_review_close(struct store *st, const char *id, const char *by, const char *comment,
    const struct store_event *ev);

/*
 * Allocate the next serial. The high-water file is rewritten atomically
 * and fsync'd before a serial past the reserved block is handed out (so
 * once per serial_block serials); a serial returned is never returned
 * again, even when the certificate is never stored. EPH_ERR_IO when the
 * high-water file cannot be written: no serial then. EPH_ERR_RANGE at
 * 2^63.
 */
int store_serial_alloc(struct store *st, uint64_t *serial);

/* ------------------------------------------------------------ queries */

/* EPH_ERR_NOTFOUND when there is none. */
int store_get_request(struct store *st, const char *id, struct store_request **out);
int store_get_by_serial(struct store *st, uint64_t serial, struct store_request **out);

/* Filters for store_list: NULL / -1 / 0 mean "any". */
struct store_filter {
	int state; /* an enum store_state, or -1 */
	const char *requester;
	const char *task;
	int review; /* an enum store_review, or -1 */
	size_t limit; /* 0: no limit */
};
#define STORE_FILTER_ANY                                                                           \
	{                                                                                          \
		-1, NULL, NULL, -1, 0                                                              \
	}

/* Matching requests, oldest first. */
int store_list(struct store *st, const struct store_filter *f, struct store_request_list *out);

/* Pending requests whose deadline is at or before now (expire each with
 * store_set_state(PENDING -> EXPIRED); a racing approval makes that a
 * harmless EPH_ERR_CONFLICT). */
int store_list_overdue(struct store *st, int64_t now, struct store_request_list *out);

/* Serials for the KRL: revoked grants whose certificates are still valid
 * (valid_before > now), ascending. *out is malloc'd (NULL when n is 0). */
int store_krl_serials(struct store *st, int64_t now, uint64_t **out, size_t *n);

/* For per-requester limits: issued, unrevoked grants with valid_before >
 * now; and requests created at or after since. Each counts at most cap
 * (0: all), so a check against a limit costs the limit, not the table. */
int store_count_active(
    struct store *st, const char *requester, int64_t now, uint64_t cap, uint64_t *n);
int store_count_since(
    struct store *st, const char *requester, int64_t since, uint64_t cap, uint64_t *n);
/* The earliest valid_before > now of the requester's issued, unrevoked
 * grants (0: none): until then store_count_active cannot go down. */
int store_first_expiry(struct store *st, const char *requester, int64_t now, int64_t *valid_before);

/* ----------------------------------------------------------- sessions */

/*
 * TLS login sessions (ca/session.c). The store keeps only the SHA-256 of
 * a token, never the token itself: a copy of the database opens no
 * session. Opening, refusing and ending a session are audit events like
 * any other (AUDIT_LOGIN, AUDIT_LOGIN_FAILED, AUDIT_LOGOUT), committed
 * with the change; request_id "" in the record.
 */
#define STORE_TOKEN_HASH_LEN 32 /* SHA-256 */

struct store_session {
	char user[257]; /* as NSS spells it */
	uid_t uid;
	char address[64]; /* the caller's IP address at login */
	int64_t created;
	int64_t expires; /* refused at or after this time */
	int revoked; /* ended by logout */
};

/* Store a new session under hash, and its AUDIT_LOGIN record (the store
 * adds user, uid, address and expiry to the details). EPH_ERR_EXISTS
 * when the hash is taken (a token collision: mint another). */
int store_put_session(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_session *s, const struct store_event *ev);

/* The session stored under hash, whatever its expiry or revocation
 * (the caller decides); EPH_ERR_NOTFOUND when there is none. */
int store_get_session(
    struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_session *out);

/* End a session early (logout), with its audit record. EPH_ERR_NOTFOUND
 * when there is no such session or it is already revoked. */
int store_revoke_session(
    struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], const struct store_event *ev);

/* Drop sessions that expired before before (no audit: their end was
 * known when they were opened); *n (if non-NULL) how many. */
int store_purge_sessions(struct store *st, int64_t before, size_t *n);

/* An audit record that changes no row (a refused login by user from
 * rhost, "" when unknown); ev->reason says why. */
int store_note(struct store *st, const struct store_event *ev, const char *user, const char *rhost);

/* -------------------------------------------------------------- audit */

struct audit_list {
	struct audit_record *v;
	size_t n;
};

void audit_list_free(struct audit_list *l);

/* Audit records in seq order: of one request (request_id non-NULL), of
 * the request holding serial (serial non-zero), or all after since_seq;
 * at most limit (0: all). */
struct audit_query {
	const char *request_id;
	uint64_t serial;
	uint64_t since_seq;
	size_t limit;
};

int store_audit_list(struct store *st, const struct audit_query *q, struct audit_list *out);

/*
 * Recompute the whole chain from the rows as stored (not trusting the
 * table's triggers, which an attacker can drop). EPH_OK with
 * ch->count records, or EPH_ERR_TAMPERED with ch->bad_seq / ch->problem.
 */
int store_audit_verify(struct store *st, struct audit_chain *ch);

#endif

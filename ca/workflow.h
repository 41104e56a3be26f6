/*
 * The CA's workflow engine: the rules that turn an authenticated request,
 * the policy and approvals into a stored decision and, when complete, a
 * certificate from the signer; revocation with the KRL; break-glass with
 * its review; who may see what. No HTTP and no main loop: the daemon
 * calls these functions from its front end (they are thread-safe: one
 * lock serialises their use of the store, since one struct store serves
 * one thread at a time; a create's policy evaluation and its signature
 * happen outside it). Commits are grouped (ca/group.h): a change made
 * while others wait for the lock shares their commit, and no caller is
 * answered before the commit that made its change (or what it read)
 * durable; a failed commit is a 503 for each of them.
 *
 * Rules kept here (each has a test in tests/test_workflow.c):
 *  - A request is evaluated by the policy on creation and again on every
 *    approval, with every stored approval: the policy in force then wins
 *    (a reloaded policy that now denies ends the request as denied).
 *  - Issuance only from a stored request whose evaluation says issue:
 *    serial from the store, certificate from the signer (which evaluates
 *    again), stored with store_issue before anything is answered.
 *  - The requester never approves, reviews or denies their own request
 *    (compared by uid); only people the policy lets approve the task do;
 *    the store counts one approval per uid.
 *  - Every change goes through the store with its audit event; denied
 *    requests are stored too. Over a limit (ca.conf limits) nothing is
 *    stored.
 *
 * Errors and their HTTP meaning: EPH_ERR_INVAL / EPH_ERR_FORMAT /
 * EPH_ERR_KEYTYPE / EPH_ERR_WEAKKEY / EPH_ERR_TOOLARGE 400 (why says
 * what), EPH_ERR_FORBIDDEN 403 (a create the policy denied: 403 with the
 * stored request object), EPH_ERR_NOTFOUND 404 (also a request the caller
 * may not see), EPH_ERR_CONFLICT 409, EPH_ERR_LIMIT 429,
 * EPH_ERR_STORE_FULL / EPH_ERR_BUSY 503, anything else 500.
 *
 * The request object (workflow_reply.object), as GET /v1/requests/{id}:
 *   { "id", "state", "task", "hosts": [...], "requester", "reason",
 *     "created", "expires",
 *     "approvals": { "required", "valid", "from": [...],
 *                    "by": [ { "user", "at", "comment" } ] },
 *     "reasons": [ { "kind", "rule", "text", "line" } ],
 *     once issued (also when revoked): "certificate", "serial",
 *       "valid_after", "valid_before", "principals": [...], "login_as",
 *     break-glass: "break_glass": true,
 *       "review": { "state": "open"|"closed", "by", "at", "comment" } }
 * Times are RFC 3339 UTC strings ("2026-11-23T10:00:00Z"): readable in
 * a terminal and unambiguous; serial is a JSON integer (serials stay
 * below 2^63). "reason" is null when none was given; "reasons" are the
 * policy's at creation. "valid" counts the approvals that meet the
 * policy now (pending: re-evaluated; otherwise the stored ones).
 */
#ifndef SSHCA_WORKFLOW_H
#define SSHCA_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "caconf.h"
#include "signer.h"
#include "store.h"
#include "webhook.h"

#define WORKFLOW_WHY_MAX 512
#define WORKFLOW_MAX_TEXT 1024 /* a reason or comment */
#define WORKFLOW_MAX_ADDRESS 64 /* a caller's IP address text */
#define WORKFLOW_LIST_MAX 1000 /* requests one list answers */
#define WORKFLOW_AUDIT_MAX 1000 /* audit records one call answers */
#define WORKFLOW_ACTOR "sshca" /* the actor of the CA's own events */
/* A KRL range at least this wide is carried over whole at open rather
 * than looked up serial by serial (the CA never writes one). */
#define WORKFLOW_KRL_CARRY_WIDE 65536u

/*
 * Who is calling, as the front authenticated them. user is the canonical
 * account name and uid its uid (SO_PEERCRED, or the TLS session's PAM
 * user resolved through NSS): people are told apart by uid. groups are
 * the caller's Unix groups (policy_unix_groups). source_address is the
 * peer's IP address, NULL on the Unix socket (where a task that binds
 * source-address to the requester is denied). admin / auditor: from
 * workflow_caller_roles.
 */
struct workflow_caller {
	const char *user;
	uid_t uid;
	const char *const *groups;
	size_t ngroups;
	const char *source_address;
	int admin;
	int auditor;
};

/* Set c->admin / c->auditor from ca.conf admins / auditors (a user name,
 * or "%group" matched against c->groups). */
void workflow_caller_roles(const struct ca_conf *cc, struct workflow_caller *c);

/* Clock, injected (tests); seconds since the epoch. */
typedef int64_t (*workflow_clock_fn)(void *ctx);

/*
 * The Unix groups of someone who is not the caller (the requester at an
 * approval, earlier approvers), for re-evaluation: current, so that
 * someone removed from a group no longer counts. *groups (policy_strv_free)
 * and *n. EPH_ERR_NOTFOUND for an unknown account: a requester NSS no
 * longer knows is denied, an approver no longer counts.
 */
typedef int (*workflow_groups_fn)(
    void *ctx, const char *user, uid_t uid, char ***groups, size_t *n);

struct workflow_opts {
	const struct ca_conf *cc; /* kept by pointer: outlives the workflow */
	struct store *store; /* open; used only under the workflow's lock */
	struct signer *signer; /* started */
	workflow_clock_fn clock; /* NULL: time(NULL) */
	void *clock_ctx;
	workflow_groups_fn groups; /* NULL: policy_unix_groups */
	void *groups_ctx;
	/* Webhook delivery tuning (tests); NULL: defaults. No thread is
	 * started when ca.conf has no webhooks. */
	const struct webhook_opts *webhook;
};

struct workflow;

/*
 * Load the policy (ca.conf policy), start the webhooks, read the KRL's
 * version and rewrite it from the store (so a revocation committed just
 * before a crash reaches the KRL). Serials the old KRL revokes that the
 * store does not have as revoked or expired (a restored older database)
 * stay revoked in every KRL written. On a policy that does not load:
 * EPH_ERR_FORMAT (or _IO / _PERM) with every file:line error in *why (to
 * free; may be NULL otherwise).
 */
int workflow_open(const struct workflow_opts *o, struct workflow **out, char **why);
/* Stop the webhooks (deliveries due within a second still go) and free
 * w; the store and signer stay the caller's. */
void workflow_close(struct workflow *w);

/*
 * Reload the policy and the signer's. A policy that does not load keeps
 * the old one in force in both, and returns EPH_ERR_FORMAT (or the
 * file's error) with every file:line error in *why (to free). Should the
 * signer fail where this copy loaded (the file changed in between), its
 * error is returned: it keeps its old policy and refuses whatever that
 * does not issue, so the mismatch can only refuse, never sign more.
 */
int workflow_reload(struct workflow *w, char **why);
/* Policy generations loaded so far (1 after open). */
uint64_t workflow_policy_generation(struct workflow *w);
/* Pending requests this workflow has expired since open: by the sweep,
 * by a list, and on touch (a read, an approval) past their deadline. */
uint64_t workflow_expired_count(struct workflow *w);

/* The store under the workflow's lock, for the parts that keep their own
 * rows in it (TLS sessions, ca/session.c): every workflow_store_lock is
 * followed by workflow_store_unlock on the same thread, with no other
 * workflow call in between. The lock commits any open group first, so
 * the caller's own changes commit one by one, before it answers. */
struct store *workflow_store_lock(struct workflow *w);
void workflow_store_unlock(struct workflow *w);

/* ------------------------------------------------------------ replies */

struct workflow_reply {
	json_t *object; /* the answer (request object, list, ...); may be set on errors */
	char why[WORKFLOW_WHY_MAX]; /* on an error: what, for the client ("" when nothing) */
};

void workflow_reply_clear(struct workflow_reply *r);

/* ----------------------------------------------------------- requests */

/* POST /v1/requests */
struct workflow_new {
	const char *task;
	const char *const *hosts; /* "db01.example.com" or "@hostgroup" */
	size_t nhosts;
	uint64_t ttl; /* seconds; 0: the task's default */
	const char *reason; /* NULL or "": none */
	const char *public_key; /* an OpenSSH public key line */
	const char *login_as; /* NULL: the task's default */
};

/*
 * Create a request: check the key (400 with why), the limits (429), the
 * policy; store it pending or denied (with the decision and reasons);
 * when the policy says issue (no approvals needed, or break-glass), issue
 * at once. EPH_OK with the object (pending or issued); EPH_ERR_FORBIDDEN with
 * the stored denied object; webhooks pending / denied / break-glass.
 * Break-glass is stored and signed at LOG_ALERT and opens a review.
 */
int workflow_request_create(struct workflow *w, const struct workflow_caller *c,
    const struct workflow_new *in, struct workflow_reply *r);

/*
 * Approve (comment may be NULL). EPH_ERR_CONFLICT unless pending (an
 * overdue one is expired first); EPH_ERR_FORBIDDEN for the requester and for
 * anyone the policy does not let approve the task; a second approval by
 * the same uid changes nothing and answers EPH_OK. Then the policy is
 * evaluated with every approval: issue -> issued now; deny (a reloaded
 * policy) -> denied, EPH_ERR_FORBIDDEN with the object.
 */
int workflow_request_approve(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *comment, struct workflow_reply *r);

/* Deny (final): by someone who may approve the task (not the requester)
 * or an admin; reason required (EPH_ERR_INVAL). webhook denied. */
int workflow_request_deny(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *reason, struct workflow_reply *r);

/* Cancel: the requester, while pending. */
int workflow_request_cancel(
    struct workflow *w, const struct workflow_caller *c, const char *id, struct workflow_reply *r);

/*
 * Revoke an issued grant (reason may be NULL): the requester ("task
 * done"), an admin, or someone who may approve the task. Then the KRL is
 * rewritten; if that fails the revocation stays stored and the error is
 * returned (the next rewrite, at the latest on restart, includes it).
 * webhook revoked.
 */
int workflow_request_revoke(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *reason, struct workflow_reply *r);

/* Close a break-glass review: anyone who may approve the task, or an
 * admin, except the requester. EPH_ERR_CONFLICT when no review is open. */
int workflow_request_review(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *comment, struct workflow_reply *r);

/* One request: to its requester, anyone who may approve its task,
 * admins and auditors; EPH_ERR_NOTFOUND to anyone else. A pending one
 * past its deadline is expired first (as the sweep would), so it never
 * reads as pending; a list does the same. */
int workflow_request_get(
    struct workflow *w, const struct workflow_caller *c, const char *id, struct workflow_reply *r);

/* GET /v1/requests?state=&mine=&task= */
struct workflow_query {
	int state; /* an enum store_state, or -1 for any */
	int mine; /* only the caller's own */
	const char *task; /* NULL: any */
	/* STORE_REVIEW_OPEN or _CLOSED: break-glass requests with their
	 * review so; STORE_REVIEW_NONE (0): any request. */
	int review;
};

/*
 * {"requests": [objects...]}, oldest first, at most WORKFLOW_LIST_MAX:
 * admins and auditors see every request, others their own, the pending
 * ones they may approve and the break-glass ones whose review is open
 * and theirs to close.
 */
int workflow_request_list(struct workflow *w, const struct workflow_caller *c,
    const struct workflow_query *q, struct workflow_reply *r);

/* {"records": [{seq, time, type, request_id, serial, actor, details,
 * prev, hash}], "next": SEQ} after since (at most WORKFLOW_AUDIT_MAX;
 * next is the since for the following page): admins and auditors. */
int workflow_audit(
    struct workflow *w, const struct workflow_caller *c, uint64_t since, struct workflow_reply *r);

/* Can the CA serve and write? EPH_OK; else the store's answer
 * (store_health: read-only, full, or a read that fails) with why. */
int workflow_health(struct workflow *w, char *why, size_t len);

/* Expire every pending request past its deadline (AUDIT_EXPIRE), and
 * rewrite the KRL when serials in it have expired. *n (may be NULL):
 * requests expired. The daemon calls it every few seconds. */
int workflow_expire(struct workflow *w, size_t *n);

/* ----------------------------------------------------------------- KRL */

/* The current KRL (a copy; free *data) and its version, for GET /v1/krl
 * and its ETag. */
int workflow_krl(struct workflow *w, uint8_t **data, size_t *len, uint64_t *version);

#endif

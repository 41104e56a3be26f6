/* The workflow engine: requests, approvals, issuance, revocation, review
 * and visibility over the store, the signer and the policy (workflow.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "fileio.h"
#include "grant.h"
#include "group.h"
#include "key.h"
#include "krl.h"
#include "log.h"
#include "policy.h"
#include "webhook.h"
#include "workflow.h"

#define KRL_COMMENT "ephssh sshca"
#define RATE_WINDOW 60 /* seconds of limits.requests_per_minute */
#define WEBHOOK_DRAIN_MS 1000u

struct workflow {
	const struct ca_conf *cc;
	struct store *st;
	struct signer *sg;
	workflow_clock_fn clock;
	void *clock_ctx;
	workflow_groups_fn groups;
	void *groups_ctx;

	pthread_mutex_t mu;
	struct group grp; /* group commit of the store under mu */
	struct policy *policy; /* in force, under mu: cur->p */
	/* The policy in force for work outside mu (a create's evaluation),
	 * under pmu; a reload swaps it, the last holder frees the old. */
	pthread_mutex_t pmu;
	struct held_policy *cur;
	uint64_t generation;
	uint64_t expired; /* requests this workflow expired, any path; under mu */
	struct webhook *wh;
	struct key **ca; /* CA public keys: the KRL revokes serials of each */
	size_t nca;
	/* The KRL as last written, the serials in it, and its version. */
	uint8_t *krl;
	size_t krl_len;
	uint64_t krl_version;
	uint64_t *krl_serials;
	size_t nkrl_serials;
	/* Revocations the KRL file had at open that the store cannot account
	 * for (a restored older database): kept in every KRL written. */
	struct krl_serial_range *carry;
	size_t ncarry;
	/* Recent requesters' requests per second of the rate window: the
	 * store's count walks every request of the window, each time. */
	struct rate_slot *rates;
	size_t nrates;
	uint64_t rate_tick; /* for least-recently-used eviction */
};

#define RATE_SLOTS 256

/* One requester's requests in each second of the last RATE_WINDOW,
 * seeded from the store on first sight and counted here after. This
 * workflow is the only writer of requests. */
struct rate_slot {
	char *user;
	int64_t second[RATE_WINDOW]; /* which second bucket i counts */
	uint64_t count[RATE_WINDOW];
	uint64_t used;
	/* Active grants as the store counted them, kept up by each issuance
	 * until the first of them expires (or one is revoked): counting
	 * them is a walk over all of them. */
	int active_known;
	uint64_t active;
	int64_t active_until; /* first valid_before among them; 0: none */
	/* Issuances being signed outside the lock: counted as active until
	 * recorded (or given up). */
	uint64_t inflight;
};

static void active_note(struct workflow *w, const char *user, int64_t valid_before);

struct held_policy {
	struct policy *p;
	unsigned refs; /* under pmu */
};

/*
 * Everyone a (re-)evaluation names, with the Unix groups looked up for
 * them; the same arrays feed policy_eval and the signer. Owns its memory.
 */
struct people {
	char **req_groups;
	size_t nreq_groups;
	int req_owned; /* req_groups is ours (else the caller's) */
	enum policy_identity req_id;
	struct policy_approval *apps;
	size_t napps;
	char ***app_groups; /* per entry of apps, owned (NULL: the caller's) */
	size_t *napp_groups;
};

/* ------------------------------------------------------------ helpers */

static int64_t
wf_now(const struct workflow *w)
{
	return w->clock != NULL ? w->clock(w->clock_ctx) : (int64_t)time(NULL);
}

static void __attribute__((format(printf, 2, 3)))
reply_why(struct workflow_reply *r, const char *fmt, ...)
{
	va_list ap;

	if (r == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

void
workflow_reply_clear(struct workflow_reply *r)
{
	if (r == NULL)
		return;
	json_decref(r->object);
	r->object = NULL;
	r->why[0] = '\0';
}

static int
default_groups(void *ctx, const char *user, uid_t uid, char ***groups, size_t *n)
{
	(void)ctx;
	(void)uid;
	return policy_unix_groups(user, groups, n);
}

static int
lookup_groups(struct workflow *w, const char *user, uid_t uid, char ***groups, size_t *n)
{
	*groups = NULL;
	*n = 0;
	if (w->groups != NULL)
		return w->groups(w->groups_ctx, user, uid, groups, n);
	return default_groups(NULL, user, uid, groups, n);
}

static int
rfc3339(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, n, "%lld", (long long)t);
		return EPH_ERR_RANGE;
	}
	return EPH_OK;
}

static json_t *
jtime(int64_t t)
{
	char s[40];

	rfc3339(t, s, sizeof(s));
	return json_string(s);
}

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

static json_t *
jstrv(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* A compact JSON text of o (consumed); NULL when out of memory. */
static char *
json_text(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return s;
}

static struct policy_approval
caller_approval(const struct workflow_caller *c)
{
	struct policy_approval a;

	memset(&a, 0, sizeof(a));
	a.user = c->user;
	a.groups = c->groups;
	a.ngroups = c->ngroups;
	a.id = POLICY_ID_RESOLVED;
	a.uid = c->uid;
	return a;
}

static int
person_in(const struct ca_person *v, size_t n, const struct workflow_caller *c)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (!v[i].unix_group) {
			if (c->user != NULL && strcmp(v[i].name, c->user) == 0)
				return 1;
			continue;
		}
		for (j = 0; j < c->ngroups; j++)
			if (c->groups[j] != NULL && strcmp(v[i].name, c->groups[j]) == 0)
				return 1;
	}
	return 0;
}

void
workflow_caller_roles(const struct ca_conf *cc, struct workflow_caller *c)
{
	c->admin = person_in(cc->admins, cc->nadmins, c);
	c->auditor = person_in(cc->auditors, cc->nauditors, c);
}

static int text_ok(const char *s, size_t max, int allow_empty);

static int
caller_valid(const struct workflow_caller *c, struct workflow_reply *r)
{
	const char *p;

	if (c == NULL || c->user == NULL || (c->ngroups > 0 && c->groups == NULL)) {
		reply_why(r, "no caller");
		return EPH_ERR_INVAL;
	}
	if ((p = policy_identity_problem(c->user)) != NULL) {
		reply_why(r, "caller name: %s", p);
		return EPH_ERR_INVAL;
	}
	if (c->source_address != NULL && !text_ok(c->source_address, WORKFLOW_MAX_ADDRESS, 0)) {
		reply_why(r, "caller address: malformed");
		return EPH_ERR_INVAL;
	}
	return EPH_OK;
}

static int
is_requester(const struct store_request *rq, const struct workflow_caller *c)
{
	return c->uid == rq->requester_uid;
}

/* May c approve (or review, or deny) rq under the policy in force? */
static int
may_approve(const struct workflow *w, const struct store_request *rq,
    const struct workflow_caller *c, const char **why)
{
	struct policy_approval a = caller_approval(c);
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (is_requester(rq, c)) {
		*why = "the requester cannot approve their own request";
		return 0;
	}
	return policy_may_approve(w->policy, rq->task, rq->requester, &a, why) == EPH_OK;
}

static int
may_see(const struct workflow *w, const struct store_request *rq, const struct workflow_caller *c)
{
	return c->admin || c->auditor || is_requester(rq, c) || may_approve(w, rq, c, NULL);
}

/* Map the store's answer to what a client is told. */
static int
store_fail(struct workflow_reply *r, int e, const struct workflow *w, const char *what)
{
	switch (e) {
	case EPH_ERR_NOTFOUND: reply_why(r, "no such request"); break;
	case EPH_ERR_CONFLICT: reply_why(r, "%s: the request changed meanwhile", what); break;
	case EPH_ERR_STORE_FULL:
	case EPH_ERR_BUSY: reply_why(r, "the CA cannot record anything now; retry later"); break;
	default:
		reply_why(r, "%s: %s", what, eph_strerror(e));
		eph_log(LOG_ERR, NULL, NULL, 0, "workflow: %s: %s (%s)", what, eph_strerror(e),
		    store_errmsg(w->st));
		break;
	}
	return e;
}

/* ----------------------------------------------------------- people */

static void
people_clear(struct people *p)
{
	size_t i;

	if (p->req_owned)
		policy_strv_free(p->req_groups, p->nreq_groups);
	for (i = 0; i < p->napps; i++) {
		if (p->app_groups != NULL && p->app_groups[i] != NULL)
			policy_strv_free(p->app_groups[i], p->napp_groups[i]);
	}
	free(p->apps);
	free(p->app_groups);
	free(p->napp_groups);
	memset(p, 0, sizeof(*p));
}

/*
 * The requester's groups and every stored approval of rq with current
 * groups: c's own when c is that person (their groups as authenticated),
 * else looked up. An approver NSS no longer knows does not count; a
 * requester it no longer knows is POLICY_ID_UNKNOWN (a deny).
 */
static int
people_build(struct workflow *w, const struct store_request *rq, const struct workflow_caller *c,
    struct people *p)
{
	size_t i;
	int e;

	memset(p, 0, sizeof(*p));
	p->req_id = POLICY_ID_RESOLVED;
	if (c != NULL && is_requester(rq, c)) {
		p->req_groups = (char **)(uintptr_t)c->groups;
		p->nreq_groups = c->ngroups;
	} else {
		e = lookup_groups(
		    w, rq->requester, rq->requester_uid, &p->req_groups, &p->nreq_groups);
		if (e == EPH_ERR_NOTFOUND)
			p->req_id = POLICY_ID_UNKNOWN;
		else if (e != EPH_OK)
			return e;
		p->req_owned = 1;
	}
	if (rq->napprovals == 0)
		return EPH_OK;
	if ((p->apps = calloc(rq->napprovals, sizeof(*p->apps))) == NULL ||
	    (p->app_groups = calloc(rq->napprovals, sizeof(*p->app_groups))) == NULL ||
	    (p->napp_groups = calloc(rq->napprovals, sizeof(*p->napp_groups))) == NULL) {
		people_clear(p);
		return EPH_ERR_NOMEM;
	}
	for (i = 0; i < rq->napprovals; i++) {
		const struct store_approval *sa = &rq->approvals[i];
		struct policy_approval *a = &p->apps[p->napps];

		a->user = sa->user;
		a->uid = sa->uid;
		a->id = POLICY_ID_RESOLVED;
		if (c != NULL && c->uid == sa->uid) {
			a->groups = c->groups;
			a->ngroups = c->ngroups;
		} else {
			e = lookup_groups(w, sa->user, sa->uid, &p->app_groups[p->napps],
			    &p->napp_groups[p->napps]);
			if (e == EPH_ERR_NOTFOUND)
				continue;
			if (e != EPH_OK) {
				people_clear(p);
				return e;
			}
			a->groups = (const char *const *)p->app_groups[p->napps];
			a->ngroups = p->napp_groups[p->napps];
		}
		p->napps++;
	}
	return EPH_OK;
}

/* ----------------------------------------------------------- evaluation */

static void
policy_request_fill(const struct workflow *w, const struct store_request *rq,
    const struct people *p, struct policy_request *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->requester = rq->requester;
	pr->groups = (const char *const *)p->req_groups;
	pr->ngroups = p->nreq_groups;
	pr->task = rq->task;
	pr->hosts = (const char *const *)rq->hosts;
	pr->nhosts = rq->nhosts;
	pr->ttl = rq->ttl;
	pr->reason = rq->reason;
	pr->source_address = rq->source_address;
	pr->approvals = p->apps;
	pr->napprovals = p->napps;
	pr->ca_max_ttl = w->cc->max_ttl;
	pr->login_as = rq->login_as;
	pr->requester_id = p->req_id;
	pr->requester_uid = rq->requester_uid;
}

static int
evaluate_with(const struct policy *pol, struct workflow *w, const struct store_request *rq,
    const struct people *p, struct policy_decision *d)
{
	struct policy_request pr;

	policy_request_fill(w, rq, p, &pr);
	return policy_eval(pol, &pr, (time_t)wf_now(w), d);
}

static int
evaluate(struct workflow *w, const struct store_request *rq, const struct people *p,
    struct policy_decision *d)
{
	return evaluate_with(w->policy, w, rq, p, d);
}

/* The policy in force, held for use outside mu; policy_put when done. */
static struct held_policy *
policy_get(struct workflow *w)
{
	struct held_policy *pr;

	pthread_mutex_lock(&w->pmu);
	pr = w->cur;
	pr->refs++;
	pthread_mutex_unlock(&w->pmu);
	return pr;
}

static void
policy_put(struct workflow *w, struct held_policy *pr)
{
	unsigned left;

	if (pr == NULL)
		return;
	pthread_mutex_lock(&w->pmu);
	left = --pr->refs;
	pthread_mutex_unlock(&w->pmu);
	if (left == 0) {
		policy_free(pr->p);
		free(pr);
	}
}

/* "text; text" of the deny reasons of d, for an event's reason. */
static char *
deny_text(const struct policy_decision *d)
{
	struct buf b;
	size_t i;
	char *s = NULL;
	int e = EPH_OK;

	buf_init(&b);
	for (i = 0; e == EPH_OK && i < d->nreasons; i++) {
		if (d->reasons[i].kind != POLICY_REASON_DENY)
			continue;
		if (b.len > 0)
			e = buf_put(&b, "; ", 2);
		if (e == EPH_OK)
			e = buf_put(&b, d->reasons[i].text, strlen(d->reasons[i].text));
	}
	if (e == EPH_OK && b.len == 0)
		e = buf_put(&b, "denied by the policy", 20);
	if (e == EPH_OK && (s = malloc(b.len + 1)) != NULL) {
		memcpy(s, b.d, b.len);
		s[b.len] = '\0';
	}
	buf_free(&b);
	return s;
}

/* -------------------------------------------------------------- objects */

static json_t *
approvals_object(struct workflow *w, const struct store_request *rq, const json_t *dec)
{
	const json_t *ap = json_object_get(dec, "approvals");
	json_t *o = json_object(), *by = json_array(), *from;
	json_int_t required = json_integer_value(json_object_get(ap, "required"));
	json_int_t valid;
	size_t i;

	if (o == NULL || by == NULL)
		goto fail;
	from = json_object_get(ap, "approver_sets");
	for (i = 0; i < rq->napprovals; i++) {
		const struct store_approval *a = &rq->approvals[i];
		json_t *e = json_object();

		if (e == NULL || json_array_append_new(by, e) != 0 ||
		    json_object_set_new(e, "user", json_string(a->user)) != 0 ||
		    json_object_set_new(e, "at", jtime(a->at)) != 0 ||
		    json_object_set_new(e, "comment", json_string(a->comment)) != 0)
			goto fail;
	}
	valid = (json_int_t)rq->napprovals < required ? (json_int_t)rq->napprovals : required;
	if (rq->state == STORE_PENDING && w->policy != NULL) {
		struct policy_decision d;
		struct people p;

		memset(&d, 0, sizeof(d));
		if (people_build(w, rq, NULL, &p) == EPH_OK) {
			if (evaluate(w, rq, &p, &d) == EPH_OK && d.result != POLICY_DENY) {
				valid = (json_int_t)d.approvals_valid;
				required = (json_int_t)d.approvals_required;
			}
			policy_decision_clear(&d);
			people_clear(&p);
		}
	}
	if (json_object_set_new(o, "required", json_integer(required)) != 0 ||
	    json_object_set_new(o, "valid", json_integer(valid)) != 0 ||
	    json_object_set_new(o, "from", from != NULL ? json_copy(from) : json_array()) != 0 ||
	    json_object_set_new(o, "by", by) != 0) {
		by = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(by);
	json_decref(o);
	return NULL;
}

static json_t *
reasons_array(const json_t *dec)
{
	const json_t *v = json_object_get(dec, "reasons"), *e;
	json_t *a = json_array();
	size_t i;

	if (a == NULL || !json_is_array(v))
		return a;
	json_array_foreach(v, i, e)
	{
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(a, o) != 0 ||
		    json_object_set(o, "kind", json_object_get(e, "kind")) != 0 ||
		    json_object_set(o, "rule", json_object_get(e, "rule")) != 0 ||
		    json_object_set(o, "text", json_object_get(e, "text")) != 0 ||
		    json_object_set(o, "line", json_object_get(e, "line")) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The request object of workflow.h; NULL when out of memory. */
static json_t *
request_object(struct workflow *w, const struct store_request *rq)
{
	json_t *o = json_object(), *dec = json_loads(rq->decision, 0, NULL);
	int bad = o == NULL;

	bad = bad || json_object_set_new(o, "id", json_string(rq->id)) != 0 ||
	    json_object_set_new(o, "state", json_string(store_state_name(rq->state))) != 0 ||
	    json_object_set_new(o, "task", json_string(rq->task)) != 0 ||
	    json_object_set_new(o, "hosts", jstrv(rq->hosts, rq->nhosts)) != 0 ||
	    json_object_set_new(o, "requester", json_string(rq->requester)) != 0 ||
	    json_object_set_new(o, "reason", jstr_or_null(rq->reason)) != 0 ||
	    json_object_set_new(o, "created", jtime(rq->created)) != 0 ||
	    json_object_set_new(o, "expires", jtime(rq->expires)) != 0 ||
	    json_object_set_new(o, "approvals", approvals_object(w, rq, dec)) != 0 ||
	    json_object_set_new(o, "reasons", reasons_array(dec)) != 0;
	if (!bad && rq->serial != 0)
		bad = json_object_set_new(o, "certificate", json_string(rq->certificate)) != 0 ||
		    json_object_set_new(o, "serial", json_integer((json_int_t)rq->serial)) != 0 ||
		    json_object_set_new(o, "valid_after", jtime((int64_t)rq->valid_after)) != 0 ||
		    json_object_set_new(o, "valid_before", jtime((int64_t)rq->valid_before)) != 0 ||
		    json_object_set_new(o, "principals", jstrv(rq->principals, rq->nprincipals)) !=
		        0 ||
		    json_object_set_new(o, "login_as", jstr_or_null(rq->issued_login_as)) != 0;
	if (!bad && rq->state == STORE_DENIED) {
		json_t *dn = json_object();

		bad = json_object_set_new(o, "denial", dn) != 0 ||
		    json_object_set_new(dn, "by", jstr_or_null(rq->denied_by)) != 0 ||
		    json_object_set_new(
		        dn, "at", jtime(rq->denied_at != 0 ? rq->denied_at : rq->updated)) != 0 ||
		    json_object_set_new(dn, "reason", jstr_or_null(rq->deny_reason)) != 0;
	}
	if (!bad && rq->break_glass) {
		json_t *rv = json_object();

		bad = json_object_set_new(o, "break_glass", json_true()) != 0 ||
		    json_object_set_new(o, "review", rv) != 0 ||
		    json_object_set_new(rv, "state", json_string(store_review_name(rq->review))) !=
		        0 ||
		    json_object_set_new(rv, "by", jstr_or_null(rq->review_by)) != 0 ||
		    json_object_set_new(rv, "at",
		        rq->review == STORE_REVIEW_CLOSED ? jtime(rq->review_at) : json_null()) !=
		        0 ||
		    json_object_set_new(rv, "comment", jstr_or_null(rq->review_comment)) != 0;
	}
	json_decref(dec);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Re-read rq's row and answer its object in r. */
static int
reply_request(struct workflow *w, const char *id, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	int e;

	if ((e = store_get_request(w->st, id, &rq)) != EPH_OK)
		return store_fail(r, e, w, "read back");
	json_decref(r->object);
	if ((r->object = request_object(w, rq)) == NULL)
		e = EPH_ERR_NOMEM;
	store_request_free(rq);
	return e;
}

/* ---------------------------------------------------------- group commit */

static int
group_begin_cb(void *ctx)
{
	struct workflow *w = ctx;

	return store_begin(w->st);
}

static int
group_commit_cb(void *ctx)
{
	struct workflow *w = ctx;
	int e = store_commit(w->st);

	if (e != EPH_OK)
		eph_log(LOG_ERR, NULL, NULL, 0,
		    "workflow: a group of %zu changes not committed: %s (%s)", w->grp.n,
		    eph_strerror(e), store_errmsg(w->st));
	return e;
}

/*
 * Webhook bodies made under the lock (the request as the caller changed
 * it) and posted only once that change is durable: nobody hears of a
 * decision that might still be undone.
 */
#define OUTBOX_MAX 3

struct outbox {
	size_t n;
	enum ca_event event[OUTBOX_MAX];
	char *body[OUTBOX_MAX];
	char id[OUTBOX_MAX][STORE_ID_LEN + 1];
};

static void
notify(struct workflow *w, struct outbox *ob, enum ca_event event, const struct store_request *rq)
{
	json_t *o;
	char *body;

	if (w->wh == NULL || ob->n == OUTBOX_MAX)
		return;
	o = json_object();
	if (o == NULL ||
	    json_object_set_new(o, "event", json_string(caconf_event_name(event))) != 0 ||
	    json_object_set_new(o, "time", jtime(wf_now(w))) != 0 ||
	    json_object_set_new(o, "request", request_object(w, rq)) != 0) {
		json_decref(o);
		return;
	}
	if ((body = json_text(o)) == NULL)
		return;
	ob->event[ob->n] = event;
	ob->body[ob->n] = body;
	snprintf(ob->id[ob->n], sizeof(ob->id[ob->n]), "%s", rq->id);
	ob->n++;
}

static void
notify_id(struct workflow *w, struct outbox *ob, enum ca_event event, const char *id)
{
	struct store_request *rq = NULL;

	if (w->wh == NULL || store_get_request(w->st, id, &rq) != EPH_OK)
		return;
	notify(w, ob, event, rq);
	store_request_free(rq);
}

/* Post what ob holds when durable, drop it otherwise (best effort:
 * nothing here fails the caller). */
static void
outbox_send(struct workflow *w, struct outbox *ob, int durable)
{
	size_t i;

	for (i = 0; i < ob->n; i++) {
		if (durable && webhook_post(w->wh, ob->event[i], ob->body[i]) != EPH_OK)
			eph_log(LOG_WARNING, NULL, NULL, 0, "webhook %s for %s: not queued",
			    caconf_event_name(ob->event[i]), ob->id[i]);
		free(ob->body[i]);
	}
	ob->n = 0;
}

/* What a caller is told when the commit of its group failed: nothing it
 * did or read is on record, so none of it is answered. */
static int
commit_fail(struct workflow_reply *r, int e)
{
	workflow_reply_clear(r);
	if (e == EPH_ERR_STORE_FULL || e == EPH_ERR_BUSY)
		reply_why(r, "the CA cannot record anything now; retry later");
	else
		reply_why(r, "record: %s", eph_strerror(e));
	return e;
}

/*
 * Leave the lock once what the caller did and saw is durable (group.h);
 * e is the caller's result, returned unless the commit failed. The
 * outbox (may be NULL) goes out after a good commit.
 */
static int
wf_unlock(struct workflow *w, struct workflow_reply *r, int e, struct outbox *ob)
{
	int ce = group_unlock(&w->grp);

	if (ob != NULL)
		outbox_send(w, ob, ce == EPH_OK);
	if (ce != EPH_OK)
		return commit_fail(r, ce);
	return e;
}

/* Take the lock for a change: the change joins the open group (or opens
 * one; when that fails it commits alone, or fails on its own). */
static void
wf_lock_write(struct workflow *w)
{
	group_lock(&w->grp);
	group_join(&w->grp);
}

/* ------------------------------------------------------------------ KRL */

static int
serials_equal(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Rebuild the KRL from the store (serials of revoked grants still valid)
 * and write it atomically when it changed (or always with force). */
static int
krl_rebuild(struct workflow *w, int force)
{
	struct krl *k = NULL;
	struct buf b;
	uint64_t *serials = NULL;
	size_t n = 0, i, j;
	int64_t now = wf_now(w);
	int e;

	buf_init(&b);
	if ((e = store_krl_serials(w->st, now, &serials, &n)) != EPH_OK)
		goto out;
	if (!force && w->krl != NULL && serials_equal(serials, n, w->krl_serials, w->nkrl_serials))
		goto out;
	if ((e = krl_new(&k)) != EPH_OK)
		goto out;
	krl_set_version(k, w->krl_version + 1);
	krl_set_generated_date(k, (uint64_t)now);
	if ((e = krl_set_comment(k, KRL_COMMENT)) != EPH_OK)
		goto out;
	for (i = 0; i < w->nca; i++) {
		for (j = 0; j < n; j++)
			if ((e = krl_add_serial(k, w->ca[i], serials[j])) != EPH_OK)
				goto out;
		for (j = 0; j < w->ncarry; j++)
			if ((e = krl_add_serial_range(
			         k, w->ca[i], w->carry[j].lo, w->carry[j].hi)) != EPH_OK)
				goto out;
	}
	if ((e = krl_serialize(k, &b)) != EPH_OK)
		goto out;
	if (w->cc->revoked_keys != NULL &&
	    (e = file_write_atomic(w->cc->revoked_keys, b.d, b.len, 0644, 0)) != EPH_OK) {
		eph_log(LOG_ERR, NULL, NULL, 0, "KRL %s: cannot write: %s", w->cc->revoked_keys,
		    eph_strerror(e));
		goto out;
	}
	free(w->krl);
	if ((w->krl = malloc(b.len > 0 ? b.len : 1)) == NULL) {
		w->krl_len = 0;
		e = EPH_ERR_NOMEM;
		goto out;
	}
	memcpy(w->krl, b.d, b.len);
	w->krl_len = b.len;
	w->krl_version++;
	free(w->krl_serials);
	w->krl_serials = serials;
	w->nkrl_serials = n;
	serials = NULL;
	eph_log(LOG_INFO, NULL, NULL, 0, "KRL version %llu: %zu serials",
	    (unsigned long long)w->krl_version, n);
	e = EPH_OK;
out:
	buf_free(&b);
	krl_free(k);
	free(serials);
	return e;
}

int
workflow_krl(struct workflow *w, uint8_t **data, size_t *len, uint64_t *version)
{
	int e = EPH_ERR_NOMEM;

	*data = NULL;
	*len = 0;
	/* Not counted as queued (group.h): the KRL is rebuilt only from
	 * durable revocations, so there is no group to wait for. */
	pthread_mutex_lock(&w->mu);
	if (w->krl == NULL) {
		e = EPH_ERR_NOTFOUND;
		goto out;
	}
	if ((*data = malloc(w->krl_len > 0 ? w->krl_len : 1)) == NULL)
		goto out;
	memcpy(*data, w->krl, w->krl_len);
	*len = w->krl_len;
	if (version != NULL)
		*version = w->krl_version;
	e = EPH_OK;
out:
	pthread_mutex_unlock(&w->mu);
	return e;
}

/* --------------------------------------------------------------- issue */

/*
 * Is the signer's certificate the one we asked for: signed by one of our
 * CA keys, a user certificate with our serial, for the stored key, with
 * exactly the principals of the decision? The signature itself is not
 * checked: the signer is ours, and a signature checked against the key
 * inside the certificate would prove nothing about it.
 */
static int
signed_as_asked(const struct workflow *w, const struct store_request *rq,
    const struct policy_decision *d, uint64_t serial, const struct cert *cert)
{
	char *line = NULL;
	size_t i, j;
	int e = EPH_ERR_CA_MISMATCH;

	for (i = 0; i < w->nca; i++)
		if (cert_check_ca(cert, w->ca[i]) == EPH_OK)
			break;
	if (i == w->nca)
		goto out;
	e = EPH_ERR_FORMAT;
	if (cert->type != CERT_TYPE_USER || cert->serial != serial ||
	    cert->nprincipals != d->nprincipals)
		goto out;
	for (i = 0; i < d->nprincipals; i++) {
		for (j = 0; j < cert->nprincipals; j++)
			if (strcmp(d->principals[i], cert->principals[j]) == 0)
				break;
		if (j == cert->nprincipals)
			goto out;
	}
	if ((e = key_format_public_line(cert->key, NULL, &line)) != EPH_OK)
		goto out;
	if (strcmp(line, rq->public_key) != 0) {
		e = EPH_ERR_FORMAT;
		goto out;
	}
	e = EPH_OK;
out:
	free(line);
	return e;
}

/* A certificate the signer made for a request, checked, before it is
 * stored. */
struct signed_cert {
	uint64_t serial;
	struct signer_result res;
	struct cert *cert;
};

static void
signed_cert_clear(struct signed_cert *sc)
{
	cert_free(sc->cert);
	signer_result_clear(&sc->res);
	memset(sc, 0, sizeof(*sc));
}

/*
 * Have the signer sign rq (evaluated to issue with p and d) under serial,
 * and check that what came back is what was asked. Touches no store and
 * no workflow state but the immutable: safe outside the lock.
 */
static int
sign_request(struct workflow *w, const struct store_request *rq, const struct people *p,
    const struct policy_decision *d, uint64_t serial, struct signed_cert *out,
    struct workflow_reply *r)
{
	struct signer_request sr;
	int e;

	memset(out, 0, sizeof(*out));
	out->serial = serial;
	memset(&sr, 0, sizeof(sr));
	sr.id = rq->id;
	sr.task = rq->task;
	sr.requester = rq->requester;
	sr.requester_id = p->req_id;
	sr.requester_uid = rq->requester_uid;
	sr.groups = (const char *const *)p->req_groups;
	sr.ngroups = p->nreq_groups;
	sr.hosts = (const char *const *)rq->hosts;
	sr.nhosts = rq->nhosts;
	sr.ttl = rq->ttl;
	sr.reason = rq->reason;
	sr.source_address = rq->source_address;
	sr.login_as = rq->login_as;
	sr.approvals = p->apps;
	sr.napprovals = p->napps;
	sr.public_key = rq->public_key;
	sr.serial = serial;
	sr.now = (uint64_t)wf_now(w);
	if ((e = signer_sign(w->sg, &sr, &out->res)) != EPH_OK) {
		reply_why(r, "the signer refused: %s",
		    out->res.why != NULL ? out->res.why : eph_strerror(e));
		eph_log(LOG_ERR, NULL, NULL, 0, "request %s: serial %llu not signed: %s", rq->id,
		    (unsigned long long)serial, r->why);
		return e;
	}
	if ((e = cert_decode_line(out->res.certificate, &out->cert)) != EPH_OK) {
		reply_why(r, "the signer's certificate does not parse");
		return e;
	}
	if ((e = signed_as_asked(w, rq, d, serial, out->cert)) != EPH_OK) {
		reply_why(r, "the signer's certificate is not the one asked for");
		eph_log(LOG_ERR, NULL, NULL, 0, "request %s: serial %llu: %s", rq->id,
		    (unsigned long long)serial, r->why);
		return e;
	}
	return EPH_OK;
}

/* Store the checked certificate sc of pending request rq with its
 * audit record. */
static int
record_issue(struct workflow *w, const struct store_request *rq, const struct signed_cert *sc,
    const char *actor, struct workflow_reply *r)
{
	const struct cert *cert = sc->cert;
	const struct cert_opt *ext = cert_find_extension(cert, GRANT_EXTENSION);
	struct store_cert c;
	struct store_event ev;
	struct grant g;
	const uint8_t *v;
	size_t vn;
	char *details = NULL;
	json_t *dj;
	int e;

	memset(&g, 0, sizeof(g));
	if (ext == NULL || cert_opt_value(ext, &v, &vn) != EPH_OK ||
	    grant_decode(v, vn, &g) != EPH_OK || g.id == NULL || strcmp(g.id, rq->id) != 0) {
		reply_why(r, "the signer's certificate has no grant for this request");
		e = EPH_ERR_FORMAT;
		goto out;
	}
	dj = json_object();
	if (dj == NULL ||
	    json_object_set_new(dj, "signer_counter", json_integer((json_int_t)sc->res.counter)) !=
	        0 ||
	    json_object_set_new(dj, "key_id", json_string(cert->key_id)) != 0 ||
	    json_object_set_new(dj, "approvers", jstrv(g.approvers, g.napprovers)) != 0) {
		json_decref(dj);
		e = EPH_ERR_NOMEM;
		goto out;
	}
	if ((details = json_text(dj)) == NULL) {
		e = EPH_ERR_NOMEM;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.serial = sc->serial;
	c.certificate = sc->res.certificate;
	c.valid_after = cert->valid_after;
	c.valid_before = cert->valid_before;
	c.principals = (const char *const *)cert->principals;
	c.nprincipals = cert->nprincipals;
	c.login_as = g.login_as;
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_ISSUE;
	ev.actor = actor;
	ev.priority = rq->break_glass ? LOG_ALERT : 0;
	ev.details = details;
	if ((e = store_issue(w->st, rq->id, &c, &ev)) != EPH_OK) {
		/* The certificate is never answered without its record. */
		store_fail(r, e, w, "issue");
		goto out;
	}
	active_note(w, rq->requester, (int64_t)c.valid_before);
out:
	grant_clear(&g);
	free(details);
	return e;
}

/*
 * Sign rq (pending, evaluated to issue with p) and store the certificate.
 * The request stays pending when the signer refuses (its why in r).
 */
static int
issue(struct workflow *w, const struct store_request *rq, const struct people *p,
    const struct policy_decision *d, const char *actor, struct workflow_reply *r)
{
	struct signed_cert sc;
	uint64_t serial = 0;
	int e;

	memset(&sc, 0, sizeof(sc));
	if ((e = store_serial_alloc(w->st, &serial)) != EPH_OK)
		return store_fail(r, e, w, "serial");
	if ((e = sign_request(w, rq, p, d, serial, &sc, r)) == EPH_OK)
		e = record_issue(w, rq, &sc, actor, r);
	signed_cert_clear(&sc);
	return e;
}

/*
 * Evaluate stored request id with every approval and act: issue, deny
 * (by the policy in force), or leave pending. The caller (c, may be NULL)
 * is the actor. Answers the object in r, or (grouped non-NULL) the
 * request as stored in *grouped, for request_object outside the lock;
 * EPH_ERR_FORBIDDEN when denied, with the denial's webhook in ob.
 */
static int
settle(struct workflow *w, const char *id, const struct workflow_caller *c,
    struct workflow_reply *r, struct store_request **grouped, struct outbox *ob)
{
	struct store_request *rq = NULL;
	struct policy_decision d;
	struct people p;
	struct store_event ev;
	char *text = NULL, *dj = NULL;
	int e, denied = 0;

	memset(&d, 0, sizeof(d));
	memset(&p, 0, sizeof(p));
	if ((e = store_get_request(w->st, id, &rq)) != EPH_OK)
		return store_fail(r, e, w, "read");
	if (rq->state != STORE_PENDING)
		goto answer;
	if ((e = people_build(w, rq, c, &p)) != EPH_OK || (e = evaluate(w, rq, &p, &d)) != EPH_OK) {
		reply_why(r, "evaluation: %s", eph_strerror(e));
		goto out;
	}
	if (d.result == POLICY_ISSUE) {
		if ((e = issue(w, rq, &p, &d, c != NULL ? c->user : WORKFLOW_ACTOR, r)) != EPH_OK)
			goto out;
	} else if (d.result == POLICY_DENY) {
		if ((text = deny_text(&d)) == NULL ||
		    (e = policy_decision_to_json(&d, &dj)) != EPH_OK) {
			e = EPH_ERR_NOMEM;
			goto out;
		}
		memset(&ev, 0, sizeof(ev));
		ev.type = AUDIT_DENY;
		ev.actor = WORKFLOW_ACTOR;
		ev.reason = text;
		ev.details = dj;
		if ((e = store_set_state(w->st, id, STORE_PENDING, STORE_DENIED, &ev)) != EPH_OK) {
			store_fail(r, e, w, "deny");
			goto out;
		}
		denied = 1;
		reply_why(r, "denied by the policy in force: %s", text);
	}
answer:
	if (grouped != NULL) {
		if ((e = store_get_request(w->st, id, grouped)) != EPH_OK) {
			store_fail(r, e, w, "read back");
			goto out;
		}
	} else if ((e = reply_request(w, id, r)) != EPH_OK)
		goto out;
	if (denied) {
		notify_id(w, ob, CA_EVENT_DENIED, id);
		e = EPH_ERR_FORBIDDEN;
		goto out;
	}
	e = EPH_OK;
out:
	free(text);
	free(dj);
	policy_decision_clear(&d);
	people_clear(&p);
	store_request_free(rq);
	return e;
}

/* A pending request past its deadline is expired on touch, so that no
 * approval lands on it between sweeps. 1 when it was (or is) expired. */
static int
expire_if_overdue(struct workflow *w, struct store_request *rq)
{
	struct store_event ev;

	if (rq->state != STORE_PENDING || wf_now(w) < rq->expires)
		return rq->state == STORE_EXPIRED;
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_EXPIRE;
	ev.actor = WORKFLOW_ACTOR;
	if (store_set_state(w->st, rq->id, STORE_PENDING, STORE_EXPIRED, &ev) == EPH_OK) {
		rq->state = STORE_EXPIRED;
		w->expired++;
	}
	return 1;
}

/*
 * Under the lock, for a read: a pending request past its deadline is
 * expired first, as the sweep would (durably, with its audit record), so
 * that no answer calls pending what nobody can approve any more. Should
 * the store refuse the write (read-only), it is answered as expired all
 * the same, and the sweep records it once it can.
 */
static void
expire_on_read(struct workflow *w, struct store_request *rq)
{
	if (rq->state != STORE_PENDING || wf_now(w) < rq->expires)
		return;
	(void)group_join(&w->grp); /* a change: durable before it is answered */
	(void)expire_if_overdue(w, rq);
	if (rq->state != STORE_EXPIRED)
		eph_log(LOG_WARNING, NULL, NULL, 0,
		    "workflow: %s is past its deadline but could not be expired yet", rq->id);
	rq->state = STORE_EXPIRED;
}

/*
 * Under the lock: expire every pending request past its deadline (the
 * sweep's work; a read that lists requests does it first too). *n: how
 * many were.
 */
static int
expire_overdue(struct workflow *w, size_t *n)
{
	struct store_request_list l = {NULL, 0};
	struct store_event ev;
	size_t i;
	int e;

	*n = 0;
	if ((e = store_list_overdue(w->st, wf_now(w), &l)) != EPH_OK)
		goto out;
	if (l.n > 0)
		(void)group_join(&w->grp);
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_EXPIRE;
	ev.actor = WORKFLOW_ACTOR;
	for (i = 0; i < l.n; i++) {
		e = store_set_state(w->st, l.v[i]->id, STORE_PENDING, STORE_EXPIRED, &ev);
		if (e == EPH_ERR_CONFLICT) /* approved or cancelled meanwhile */
			continue;
		if (e != EPH_OK)
			goto out;
		(*n)++;
		w->expired++;
	}
	e = EPH_OK;
out:
	store_request_list_free(&l);
	return e;
}

/* ----------------------------------------------------------- lifecycle */

static int
load_ca_keys(struct workflow *w)
{
	char **lines = NULL;
	size_t n = 0, i;
	int e;

	if ((e = signer_pubkeys(w->sg, &lines, &n)) != EPH_OK)
		return e;
	if (n == 0 || (w->ca = calloc(n, sizeof(*w->ca))) == NULL) {
		e = n == 0 ? EPH_ERR_INVAL : EPH_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((e = key_parse_public_line(lines[i], &w->ca[i], NULL)) != EPH_OK)
			goto out;
		w->nca++;
	}
	e = EPH_OK;
out:
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return e;
}

/* Add [lo, hi] to the carried ranges, merging with the last one. */
static int
carry_add(struct workflow *w, uint64_t lo, uint64_t hi)
{
	struct krl_serial_range *v;

	if (w->ncarry > 0 && w->carry[w->ncarry - 1].hi != UINT64_MAX &&
	    lo <= w->carry[w->ncarry - 1].hi + 1) {
		if (hi > w->carry[w->ncarry - 1].hi)
			w->carry[w->ncarry - 1].hi = hi;
		return EPH_OK;
	}
	if ((v = reallocarray(w->carry, w->ncarry + 1, sizeof(*v))) == NULL)
		return EPH_ERR_NOMEM;
	w->carry = v;
	w->carry[w->ncarry].lo = lo;
	w->carry[w->ncarry].hi = hi;
	w->ncarry++;
	return EPH_OK;
}

/*
 * Does the store account for serial s being in the KRL? It does when it
 * has the grant as revoked (it will write it itself) or as expired (it may
 * be dropped). Anything else -- a serial it never saw, or a grant it has
 * as still issued -- is a revocation it lost (a restored older database):
 * dropping it would let a revoked certificate back in.
 */
static int
carry_needed(struct workflow *w, uint64_t s, int64_t now, int *needed)
{
	struct store_request *rq = NULL;
	int e;

	*needed = 1;
	if ((e = store_get_by_serial(w->st, s, &rq)) == EPH_ERR_NOTFOUND)
		return EPH_OK;
	if (e != EPH_OK)
		return e;
	if (rq->state == STORE_REVOKED || (int64_t)rq->valid_before <= now)
		*needed = 0;
	else
		eph_log(LOG_WARNING, NULL, NULL, 0,
		    "KRL %s revokes serial %llu of %s, which the store has as %s: kept revoked",
		    w->cc->revoked_keys, (unsigned long long)s, rq->id,
		    store_state_name(rq->state));
	store_request_free(rq);
	return EPH_OK;
}

/*
 * The KRL file as it stands: its version (0 when there is none), and the
 * revocations in it the store cannot account for, which every KRL written
 * from now on keeps. A range too wide to look at serial by serial (none
 * the CA writes itself) is kept whole.
 */
static int
krl_file_load(struct workflow *w)
{
	struct krl *k = NULL;
	struct krl_serial_range *v = NULL;
	int64_t now = wf_now(w);
	size_t n = 0, i;
	uint64_t s, first = 0;
	int e, needed, open_run;

	w->krl_version = 0;
	if (w->cc->revoked_keys == NULL)
		return EPH_OK;
	errno = 0;
	if ((e = krl_load(w->cc->revoked_keys, &k)) != EPH_OK)
		return e == EPH_ERR_IO && errno == ENOENT ? EPH_OK : e;
	w->krl_version = krl_version(k);
	if ((e = krl_serial_ranges(k, &v, &n)) != EPH_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (v[i].hi - v[i].lo >= WORKFLOW_KRL_CARRY_WIDE) {
			if ((e = carry_add(w, v[i].lo, v[i].hi)) != EPH_OK)
				goto out;
			continue;
		}
		open_run = 0;
		for (s = v[i].lo;; s++) {
			if ((e = carry_needed(w, s, now, &needed)) != EPH_OK)
				goto out;
			if (needed && !open_run) {
				first = s;
				open_run = 1;
			} else if (!needed && open_run) {
				if ((e = carry_add(w, first, s - 1)) != EPH_OK)
					goto out;
				open_run = 0;
			}
			if (s == v[i].hi)
				break;
		}
		if (open_run && (e = carry_add(w, first, v[i].hi)) != EPH_OK)
			goto out;
	}
	if (w->ncarry > 0)
		eph_log(LOG_WARNING, NULL, NULL, 0,
		    "KRL %s: %zu range(s) of revoked serials the store does not account for are "
		    "kept (restored an older database?)",
		    w->cc->revoked_keys, w->ncarry);
	e = EPH_OK;
out:
	free(v);
	krl_free(k);
	return e;
}

static void
workflow_free(struct workflow *w)
{
	size_t i;

	if (w == NULL)
		return;
	webhook_stop(w->wh, WEBHOOK_DRAIN_MS);
	if (w->cur != NULL)
		policy_put(w, w->cur);
	else
		policy_free(w->policy);
	for (i = 0; i < w->nca; i++)
		key_free(w->ca[i]);
	free(w->ca);
	free(w->krl);
	free(w->krl_serials);
	free(w->carry);
	for (i = 0; i < w->nrates; i++)
		free(w->rates[i].user);
	free(w->rates);
	group_destroy(&w->grp);
	pthread_mutex_destroy(&w->pmu);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int
workflow_open(const struct workflow_opts *o, struct workflow **out, char **why)
{
	struct policy_errors errs = {NULL, 0};
	struct workflow *w = NULL;
	int e;

	*out = NULL;
	if (why != NULL)
		*why = NULL;
	if (o == NULL || o->cc == NULL || o->store == NULL || o->signer == NULL ||
	    o->cc->policy == NULL)
		return EPH_ERR_INVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return EPH_ERR_NOMEM;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return EPH_ERR_IO;
	}
	if (pthread_mutex_init(&w->pmu, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return EPH_ERR_IO;
	}
	if (group_init(&w->grp, &w->mu, 0, group_begin_cb, group_commit_cb, w) != EPH_OK) {
		pthread_mutex_destroy(&w->pmu);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return EPH_ERR_NOMEM;
	}
	w->cc = o->cc;
	w->st = o->store;
	w->sg = o->signer;
	w->clock = o->clock;
	w->clock_ctx = o->clock_ctx;
	w->groups = o->groups;
	w->groups_ctx = o->groups_ctx;
	if ((e = policy_load(o->cc->policy, &w->policy, &errs)) != EPH_OK) {
		if (why != NULL)
			*why = policy_errors_format(&errs);
		goto out;
	}
	if ((w->cur = calloc(1, sizeof(*w->cur))) == NULL) {
		e = EPH_ERR_NOMEM;
		goto out;
	}
	w->cur->p = w->policy;
	w->cur->refs = 1;
	w->generation = 1;
	if ((e = load_ca_keys(w)) != EPH_OK) {
		if (why != NULL)
			*why = strdup("cannot read the CA public keys from the signer");
		goto out;
	}
	if ((e = krl_file_load(w)) != EPH_OK) {
		if (why != NULL &&
		    asprintf(why, "%s: %s", o->cc->revoked_keys, eph_strerror(e)) < 0)
			*why = NULL;
		goto out;
	}
	if ((e = krl_rebuild(w, 1)) != EPH_OK) {
		if (why != NULL && asprintf(why, "KRL: %s", eph_strerror(e)) < 0)
			*why = NULL;
		goto out;
	}
	if (o->cc->nwebhooks > 0 &&
	    (e = webhook_start(o->cc->webhooks, o->cc->nwebhooks, o->webhook, &w->wh)) != EPH_OK) {
		if (why != NULL)
			*why = strdup("cannot start the webhooks");
		goto out;
	}
	*out = w;
	w = NULL;
	e = EPH_OK;
out:
	policy_errors_clear(&errs);
	workflow_free(w);
	return e;
}

void
workflow_close(struct workflow *w)
{
	workflow_free(w);
}

int
workflow_reload(struct workflow *w, char **why)
{
	struct policy_errors errs = {NULL, 0};
	struct policy *p = NULL;
	struct held_policy *ref, *old;
	int e;

	*why = NULL;
	/* Load outside the lock: requests go on with the old policy meanwhile. */
	if ((e = policy_load(w->cc->policy, &p, &errs)) != EPH_OK) {
		*why = policy_errors_format(&errs);
		policy_errors_clear(&errs);
		eph_log(LOG_ERR, NULL, NULL, 0, "policy %s not reloaded, the old one stays: %s",
		    w->cc->policy, *why != NULL ? *why : eph_strerror(e));
		return e;
	}
	policy_errors_clear(&errs);
	if ((ref = calloc(1, sizeof(*ref))) == NULL) {
		policy_free(p);
		return EPH_ERR_NOMEM;
	}
	ref->p = p;
	ref->refs = 1;
	pthread_mutex_lock(&w->mu);
	pthread_mutex_lock(&w->pmu);
	old = w->cur;
	w->cur = ref;
	w->policy = p;
	pthread_mutex_unlock(&w->pmu);
	w->generation++;
	/* The signer reads the same file: it evaluates what this copy does,
	 * and refuses anything else, so a race between the two loads only
	 * ever refuses. */
	e = signer_reload(w->sg, why);
	pthread_mutex_unlock(&w->mu);
	policy_put(w, old);
	if (e != EPH_OK)
		eph_log(LOG_ERR, NULL, NULL, 0, "signer: policy not reloaded: %s",
		    *why != NULL ? *why : eph_strerror(e));
	return e;
}

uint64_t
workflow_expired_count(struct workflow *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->mu);
	n = w->expired;
	pthread_mutex_unlock(&w->mu);
	return n;
}

uint64_t
workflow_policy_generation(struct workflow *w)
{
	uint64_t g;

	pthread_mutex_lock(&w->mu);
	g = w->generation;
	pthread_mutex_unlock(&w->mu);
	return g;
}

struct store *
workflow_store_lock(struct workflow *w)
{
	group_lock(&w->grp);
	/* The caller's rows commit one by one, answered at once: none may
	 * ride in a group still open (its members hear of the commit). */
	group_flush(&w->grp);
	return w->st;
}

void
workflow_store_unlock(struct workflow *w)
{
	group_unlock(&w->grp);
}

/* ------------------------------------------------------------- create */

static int
text_ok(const char *s, size_t max, int allow_empty)
{
	json_t *t;
	size_t i, n;

	if (s == NULL)
		return allow_empty;
	if ((n = strlen(s)) > max || (n == 0 && !allow_empty))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return 0;
	/* Everything stored is answered as JSON later: refuse now what
	 * jansson would refuse then (invalid UTF-8). */
	if ((t = json_stringn(s, n)) == NULL)
		return 0;
	json_decref(t);
	return 1;
}

static int
create_validate(const struct workflow_new *in, struct workflow_reply *r)
{
	size_t i;

	if (in == NULL || !text_ok(in->task, POLICY_MAX_NAME_LEN, 0)) {
		reply_why(r, "task: missing or malformed");
		return EPH_ERR_INVAL;
	}
	if (in->nhosts == 0 || in->hosts == NULL) {
		reply_why(r, "hosts: at least one host");
		return EPH_ERR_INVAL;
	}
	if (in->nhosts > POLICY_MAX_REQUEST_HOSTS) {
		reply_why(r, "hosts: more than %u", POLICY_MAX_REQUEST_HOSTS);
		return EPH_ERR_INVAL;
	}
	for (i = 0; i < in->nhosts; i++)
		if (!text_ok(in->hosts[i], POLICY_MAX_NAME_LEN, 0)) {
			reply_why(r, "hosts: entry %zu is empty or malformed", i + 1);
			return EPH_ERR_INVAL;
		}
	if (!text_ok(in->reason, WORKFLOW_MAX_TEXT, 1)) {
		reply_why(r, "reason: over %u bytes or with control characters", WORKFLOW_MAX_TEXT);
		return EPH_ERR_INVAL;
	}
	if (in->ttl > POLICY_MAX_TTL_LIMIT) {
		reply_why(r, "ttl: over a week");
		return EPH_ERR_INVAL;
	}
	if (in->login_as != NULL && !grant_user_name_valid(in->login_as)) {
		reply_why(r, "login_as: not an account name");
		return EPH_ERR_INVAL;
	}
	if (in->public_key == NULL) {
		reply_why(r, "public_key: missing");
		return EPH_ERR_INVAL;
	}
	return EPH_OK;
}

static size_t
rate_bucket(int64_t t)
{
	int64_t m = t % RATE_WINDOW;

	return (size_t)(m < 0 ? m + RATE_WINDOW : m);
}

/* The slot of user, seeded from the store when new (or evicted). */
static int
rate_slot_get(struct workflow *w, const char *user, int64_t now, struct rate_slot **out)
{
	struct rate_slot *rs = NULL;
	uint64_t cum[RATE_WINDOW + 1];
	char *name;
	size_t i;
	int e;

	*out = NULL;
	for (i = 0; i < w->nrates; i++)
		if (strcmp(w->rates[i].user, user) == 0) {
			w->rates[i].used = ++w->rate_tick;
			*out = &w->rates[i];
			return EPH_OK;
		}
	/* cum[k]: requests since now - k; bucket of second now - k holds
	 * cum[k] - cum[k - 1]. Once per requester, not per request. */
	cum[0] = 0;
	for (i = 0; i < RATE_WINDOW; i++)
		if ((e = store_count_since(w->st, user, now - (int64_t)i, 0, &cum[i + 1])) !=
		    EPH_OK)
			return e;
	if ((name = strdup(user)) == NULL)
		return EPH_ERR_NOMEM;
	if (w->rates == NULL && (w->rates = calloc(RATE_SLOTS, sizeof(*w->rates))) == NULL) {
		free(name);
		return EPH_ERR_NOMEM;
	}
	if (w->nrates < RATE_SLOTS) {
		rs = &w->rates[w->nrates++];
	} else {
		/* The least recently used, unless it has issuances in flight. */
		rs = NULL;
		for (i = 0; i < w->nrates; i++)
			if (w->rates[i].inflight == 0 &&
			    (rs == NULL || w->rates[i].used < rs->used))
				rs = &w->rates[i];
		if (rs == NULL) {
			free(name);
			return EPH_ERR_BUSY;
		}
		free(rs->user);
	}
	memset(rs, 0, sizeof(*rs));
	rs->user = name;
	for (i = 0; i < RATE_WINDOW; i++) {
		int64_t t = now - (int64_t)i;

		rs->second[rate_bucket(t)] = t;
		rs->count[rate_bucket(t)] = cum[i + 1] >= cum[i] ? cum[i + 1] - cum[i] : 0;
	}
	rs->used = ++w->rate_tick;
	*out = rs;
	return EPH_OK;
}

static int
active_count(struct workflow *w, struct rate_slot *rs, int64_t now, uint64_t *n)
{
	int e;

	if (!rs->active_known || (rs->active_until != 0 && now >= rs->active_until)) {
		rs->active_known = 0;
		if ((e = store_count_active(w->st, rs->user, now, 0, &rs->active)) != EPH_OK ||
		    (e = store_first_expiry(w->st, rs->user, now, &rs->active_until)) != EPH_OK)
			return e;
		rs->active_known = 1;
	}
	*n = rs->active;
	return EPH_OK;
}

/* A grant of user valid before valid_before was issued (recorded, or in
 * a group about to commit: one counted too many only refuses early). */
static void
active_note(struct workflow *w, const char *user, int64_t valid_before)
{
	size_t i;

	for (i = 0; i < w->nrates; i++) {
		struct rate_slot *rs = &w->rates[i];

		if (strcmp(rs->user, user) != 0 || !rs->active_known)
			continue;
		rs->active++;
		if (rs->active_until == 0 || valid_before < rs->active_until)
			rs->active_until = valid_before;
	}
}

/* An issuance of user is being signed (delta 1) or is done (-1). */
static void
inflight_add(struct workflow *w, const char *user, int delta)
{
	struct rate_slot *rs;

	if (w->cc->active_grants == 0 || rate_slot_get(w, user, wf_now(w), &rs) != EPH_OK)
		return;
	if (delta > 0)
		rs->inflight++;
	else if (rs->inflight > 0)
		rs->inflight--;
}

/* A grant of user was revoked: count again on the next check. */
static void
active_forget(struct workflow *w, const char *user)
{
	size_t i;

	for (i = 0; i < w->nrates; i++)
		if (strcmp(w->rates[i].user, user) == 0)
			w->rates[i].active_known = 0;
}

static uint64_t
rate_count(const struct rate_slot *rs, int64_t now)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < RATE_WINDOW; i++)
		if (rs->second[i] <= now && rs->second[i] > now - RATE_WINDOW)
			n += rs->count[i];
	return n;
}

/* A request of user was recorded at now (or may have been: counting one
 * too many only refuses early). */
static void
rate_note(struct workflow *w, const char *user, int64_t now)
{
	struct rate_slot *rs;
	size_t b = rate_bucket(now);

	if (w->cc->requests_per_minute == 0 || rate_slot_get(w, user, now, &rs) != EPH_OK)
		return;
	if (rs->second[b] != now) {
		rs->second[b] = now;
		rs->count[b] = 0;
	}
	rs->count[b]++;
}

/* r's object from the stored row *rq, which is freed; *e becomes
 * EPH_ERR_NOMEM when the object cannot be built. */
static void
answer_object(struct workflow *w, struct store_request **rq, struct workflow_reply *r, int *e)
{
	json_decref(r->object);
	if ((r->object = request_object(w, *rq)) == NULL)
		*e = EPH_ERR_NOMEM;
	store_request_free(*rq);
	*rq = NULL;
}

static int
check_limits(struct workflow *w, const struct workflow_caller *c, struct workflow_reply *r)
{
	struct rate_slot *rs;
	int64_t now = wf_now(w);
	uint64_t n = 0;
	int e;

	if (w->cc->active_grants > 0) {
		if ((e = rate_slot_get(w, c->user, now, &rs)) != EPH_OK ||
		    (e = active_count(w, rs, now, &n)) != EPH_OK)
			return store_fail(r, e, w, "limits");
		n += rs->inflight;
		if (n >= w->cc->active_grants) {
			reply_why(r, "%llu active grants: the limit is %llu", (unsigned long long)n,
			    (unsigned long long)w->cc->active_grants);
			return EPH_ERR_LIMIT;
		}
	}
	if (w->cc->requests_per_minute > 0) {
		if ((e = rate_slot_get(w, c->user, now, &rs)) != EPH_OK)
			return store_fail(r, e, w, "limits");
		n = rate_count(rs, now);
		if (n >= w->cc->requests_per_minute) {
			reply_why(r, "%llu requests in the last minute: the limit is %llu",
			    (unsigned long long)n, (unsigned long long)w->cc->requests_per_minute);
			return EPH_ERR_LIMIT;
		}
	}
	return EPH_OK;
}

/*
 * An issuance at once, its slow parts outside the lock: the limits are
 * checked and a serial reserved under it, the signer signs without it,
 * and the request and its certificate join the open group together.
 * Should the signer refuse because the policy was reloaded meanwhile, the
 * request is settled again under the lock with the policy now in force.
 * *locked: the lock is held on return (the record phase was reached).
 */
static int
create_issue(struct workflow *w, const struct workflow_caller *c, struct store_request *rq,
    const struct people *p, const struct policy_decision *d, const struct held_policy *hp,
    const struct store_event *ev, struct workflow_reply *r, struct store_request **answer,
    struct outbox *ob, int *locked)
{
	struct signed_cert sc;
	uint64_t serial = 0;
	int e, se;

	*locked = 0;
	memset(&sc, 0, sizeof(sc));
	if ((e = store_new_id(rq->id)) != EPH_OK)
		return e;
	/* Not counted as queued (group.h): nothing here joins a group. */
	pthread_mutex_lock(&w->mu);
	if ((e = check_limits(w, c, r)) == EPH_OK &&
	    (e = store_serial_alloc(w->st, &serial)) != EPH_OK)
		store_fail(r, e, w, "serial");
	if (e == EPH_OK) {
		rate_note(w, c->user, rq->created);
		inflight_add(w, c->user, 1);
	}
	pthread_mutex_unlock(&w->mu);
	if (e != EPH_OK)
		return e;

	se = sign_request(w, rq, p, d, serial, &sc, r);

	wf_lock_write(w);
	*locked = 1;
	inflight_add(w, c->user, -1);
	if ((e = store_put_request(w->st, rq, ev)) != EPH_OK) {
		store_fail(r, e, w, "record");
		goto out;
	}
	if (se == EPH_OK)
		e = record_issue(w, rq, &sc, c->user, r);
	else if (hp->p != w->policy)
		e = settle(w, rq->id, c, r, answer, ob);
	else
		e = se; /* stays pending; the signer's why in r */
	/* The glass is broken once the request is on record, and the hook
	 * describes it as this call leaves it: issued, with its serial and
	 * validity (or still pending should the signer have refused). It
	 * goes out with the outbox, after the commit. */
	if (rq->break_glass)
		notify_id(w, ob, CA_EVENT_BREAK_GLASS, rq->id);
	if (e == EPH_OK && *answer == NULL &&
	    (e = store_get_request(w->st, rq->id, answer)) != EPH_OK)
		store_fail(r, e, w, "read back");
out:
	signed_cert_clear(&sc);
	return e;
}

int
workflow_request_create(struct workflow *w, const struct workflow_caller *c,
    const struct workflow_new *in, struct workflow_reply *r)
{
	struct store_request rq;
	struct policy_decision d;
	struct people p;
	struct store_event ev;
	struct store_request *answer = NULL;
	struct held_policy *hp = NULL;
	struct outbox ob = {0};
	struct key *key = NULL;
	const char *kwhy = NULL;
	char *line = NULL, *dj = NULL, *text = NULL;
	int64_t now;
	int e, ce, locked = 0;

	memset(&rq, 0, sizeof(rq));
	memset(&d, 0, sizeof(d));
	memset(&p, 0, sizeof(p));
	workflow_reply_clear(r);
	if ((e = caller_valid(c, r)) != EPH_OK || (e = create_validate(in, r)) != EPH_OK)
		return e;
	if ((e = signer_check_user_key(in->public_key, &key, &kwhy)) != EPH_OK) {
		reply_why(r, "public_key: %s", kwhy != NULL ? kwhy : eph_strerror(e));
		return e;
	}
	/* The key as stored and signed: type and base64, the comment dropped. */
	if ((e = key_format_public_line(key, NULL, &line)) != EPH_OK)
		goto out_unlocked;

	/* Evaluated outside the lock, with the policy in force now. The
	 * caller is the requester: their groups are the caller's, so this
	 * asks NSS nothing. */
	hp = policy_get(w);
	now = wf_now(w);
	rq.state = STORE_PENDING;
	rq.task = (char *)(uintptr_t)in->task;
	rq.hosts = (char **)(uintptr_t)in->hosts;
	rq.nhosts = in->nhosts;
	rq.requester = (char *)(uintptr_t)c->user;
	rq.requester_uid = c->uid;
	rq.reason = (char *)(uintptr_t)(in->reason != NULL ? in->reason : "");
	rq.public_key = line;
	rq.source_address = (char *)(uintptr_t)c->source_address;
	rq.ttl = in->ttl;
	rq.login_as = (char *)(uintptr_t)in->login_as;
	rq.created = now;
	if ((e = people_build(w, &rq, c, &p)) != EPH_OK ||
	    (e = evaluate_with(hp->p, w, &rq, &p, &d)) != EPH_OK) {
		reply_why(r, "evaluation: %s", eph_strerror(e));
		goto out_unlocked;
	}
	if ((e = policy_decision_to_json(&d, &dj)) != EPH_OK)
		goto out_unlocked;
	rq.decision = dj;
	rq.state = d.result == POLICY_DENY ? STORE_DENIED : STORE_PENDING;
	rq.break_glass = d.result != POLICY_DENY && d.break_glass;
	rq.expires =
	    now + (int64_t)(d.pending_timeout > 0 ? d.pending_timeout : hp->p->pending_timeout);
	memset(&ev, 0, sizeof(ev));
	ev.type = rq.break_glass ? AUDIT_BREAK_GLASS : AUDIT_REQUEST;
	ev.actor = c->user;
	ev.priority = rq.break_glass ? LOG_ALERT : 0;
	if (d.result == POLICY_DENY) {
		if ((text = deny_text(&d)) == NULL) {
			e = EPH_ERR_NOMEM;
			goto out_unlocked;
		}
		ev.reason = text;
	}
	if (d.result == POLICY_ISSUE) {
		e = create_issue(w, c, &rq, &p, &d, hp, &ev, r, &answer, &ob, &locked);
		if (!locked)
			goto out_unlocked;
		goto out;
	}

	wf_lock_write(w);
	if ((e = check_limits(w, c, r)) != EPH_OK)
		goto out;
	if ((e = store_put_request(w->st, &rq, &ev)) != EPH_OK) {
		store_fail(r, e, w, "record");
		goto out;
	}
	rate_note(w, c->user, now);
	if (rq.break_glass)
		notify_id(w, &ob, CA_EVENT_BREAK_GLASS, rq.id);
	if (d.result == POLICY_DENY) {
		reply_why(r, "denied by the policy: %s", text);
		if ((e = reply_request(w, rq.id, r)) == EPH_OK) {
			notify_id(w, &ob, CA_EVENT_DENIED, rq.id);
			e = EPH_ERR_FORBIDDEN;
		}
		goto out;
	}
	if ((e = reply_request(w, rq.id, r)) != EPH_OK)
		goto out;
	notify_id(w, &ob, CA_EVENT_PENDING, rq.id);
	e = EPH_OK;
out:
	/* A decided request's JSON needs only its row: built outside the
	 * lock. A pending one's reads the policy in force: under it. */
	if (answer != NULL && answer->state == STORE_PENDING)
		answer_object(w, &answer, r, &e);
	if ((ce = group_unlock(&w->grp)) != EPH_OK) {
		/* Neither the request nor its certificate is on record:
		 * answer neither. */
		store_request_free(answer);
		answer = NULL;
		e = commit_fail(r, ce);
	}
	outbox_send(w, &ob, ce == EPH_OK);
	if (answer != NULL)
		answer_object(w, &answer, r, &e);
out_unlocked:
	policy_put(w, hp);
	people_clear(&p);
	policy_decision_clear(&d);
	key_free(key);
	free(line);
	free(dj);
	free(text);
	return e;
}

/* ---------------------------------------------------- changes by id */

static int
load_request(
    struct workflow *w, const char *id, struct store_request **rq, struct workflow_reply *r)
{
	int e;

	*rq = NULL;
	if (id == NULL || strlen(id) != STORE_ID_LEN) {
		reply_why(r, "no such request");
		return EPH_ERR_NOTFOUND;
	}
	if ((e = store_get_request(w->st, id, rq)) != EPH_OK)
		return store_fail(r, e, w, "read");
	return EPH_OK;
}

/* Load id for an action of c; EPH_ERR_NOTFOUND also for a request c
 * may not see. */
static int
load_visible(struct workflow *w, const struct workflow_caller *c, const char *id,
    struct store_request **rq, struct workflow_reply *r)
{
	int e;

	if ((e = load_request(w, id, rq, r)) != EPH_OK)
		return e;
	if (!may_see(w, *rq, c)) {
		store_request_free(*rq);
		*rq = NULL;
		reply_why(r, "no such request");
		return EPH_ERR_NOTFOUND;
	}
	return EPH_OK;
}

static int
conflict(struct workflow_reply *r, const struct store_request *rq, const char *what)
{
	reply_why(r, "cannot %s a request that is %s", what, store_state_name(rq->state));
	return EPH_ERR_CONFLICT;
}

/* The start of every action on a request: a fresh reply, a valid caller,
 * and its text (a comment or reason; field NULL: none) checked. */
static int
action_begin(const struct workflow_caller *c, const char *text, const char *field, int required,
    struct workflow_reply *r)
{
	int e;

	workflow_reply_clear(r);
	if ((e = caller_valid(c, r)) != EPH_OK)
		return e;
	if (field == NULL)
		return EPH_OK;
	if (required && (text == NULL || *text == '\0')) {
		reply_why(r, "%s: required", field);
		return EPH_ERR_INVAL;
	}
	if (!text_ok(text, WORKFLOW_MAX_TEXT, 1)) {
		reply_why(
		    r, "%s: over %u bytes or with control characters", field, WORKFLOW_MAX_TEXT);
		return EPH_ERR_INVAL;
	}
	return EPH_OK;
}

int
workflow_request_approve(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *comment, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	struct store_event ev;
	struct outbox ob = {0};
	const char *why = NULL;
	int e;

	if ((e = action_begin(c, comment, "comment", 0, r)) != EPH_OK)
		return e;
	wf_lock_write(w);
	if ((e = load_request(w, id, &rq, r)) != EPH_OK)
		goto out;
	if (rq->state == STORE_PENDING && wf_now(w) < rq->expires &&
	    policy_find_task(w->policy, rq->task) == NULL) {
		/* A reloaded policy without the task: nobody can approve it
		 * any more, so the policy in force denies it now. */
		e = settle(w, rq->id, c, r, NULL, &ob);
		if (!may_see(w, rq, c)) {
			json_decref(r->object);
			r->object = NULL;
		}
		if (e == EPH_OK)
			e = EPH_ERR_FORBIDDEN;
		goto out;
	}
	if (!may_see(w, rq, c)) {
		reply_why(r, "no such request");
		e = EPH_ERR_NOTFOUND;
		goto out;
	}
	if (is_requester(rq, c)) {
		reply_why(r, "the requester cannot approve their own request");
		e = EPH_ERR_FORBIDDEN;
		goto out;
	}
	if (!may_approve(w, rq, c, &why)) {
		reply_why(r, "%s may not approve %s: %s", c->user, rq->task, why);
		e = EPH_ERR_FORBIDDEN;
		goto out;
	}
	if (rq->state != STORE_PENDING || expire_if_overdue(w, rq)) {
		e = conflict(r, rq, "approve");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_APPROVE;
	ev.actor = c->user;
	ev.reason = comment;
	e = store_add_approval(
	    w->st, rq->id, c->user, c->uid, comment != NULL ? comment : "", &ev, NULL);
	if (e == EPH_ERR_DUPLICATE) {
		/* The same person twice counts once; nothing changed. */
		e = reply_request(w, rq->id, r);
		goto out;
	}
	if (e != EPH_OK) {
		store_fail(r, e, w, "approve");
		goto out;
	}
	e = settle(w, rq->id, c, r, NULL, &ob);
out:
	e = wf_unlock(w, r, e, &ob);
	store_request_free(rq);
	return e;
}

/* Deny and review are for someone other than the requester: an admin, or
 * anyone who may approve the task. */
static int
may_decide(
    const struct workflow *w, const struct store_request *rq, const struct workflow_caller *c)
{
	return !is_requester(rq, c) && (c->admin || may_approve(w, rq, c, NULL));
}

/* may_decide, saying in r why not. */
static int
check_decider(struct workflow *w, const struct store_request *rq, const struct workflow_caller *c,
    const char *self_why, const char *verb, struct workflow_reply *r)
{
	const char *why = NULL;

	if (is_requester(rq, c)) {
		reply_why(r, "%s", self_why);
		return EPH_ERR_FORBIDDEN;
	}
	if (!c->admin && !may_approve(w, rq, c, &why)) {
		reply_why(r, "%s may not %s %s: %s", c->user, verb, rq->task, why);
		return EPH_ERR_FORBIDDEN;
	}
	return EPH_OK;
}

int
workflow_request_deny(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *reason, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	struct store_event ev;
	struct outbox ob = {0};
	int e;

	if ((e = action_begin(c, reason, "reason", 1, r)) != EPH_OK)
		return e;
	wf_lock_write(w);
	if ((e = load_visible(w, c, id, &rq, r)) != EPH_OK)
		goto out;
	if ((e = check_decider(w, rq, c, "the requester cancels, not denies", "deny", r)) != EPH_OK)
		goto out;
	if (rq->state != STORE_PENDING || expire_if_overdue(w, rq)) {
		e = conflict(r, rq, "deny");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_DENY;
	ev.actor = c->user;
	ev.reason = reason;
	if ((e = store_set_state(w->st, rq->id, STORE_PENDING, STORE_DENIED, &ev)) != EPH_OK) {
		store_fail(r, e, w, "deny");
		goto out;
	}
	if ((e = reply_request(w, rq->id, r)) != EPH_OK)
		goto out;
	notify_id(w, &ob, CA_EVENT_DENIED, rq->id);
	e = EPH_OK;
out:
	e = wf_unlock(w, r, e, &ob);
	store_request_free(rq);
	return e;
}

int
workflow_request_cancel(
    struct workflow *w, const struct workflow_caller *c, const char *id, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	struct store_event ev;
	int e;

	workflow_reply_clear(r);
	if ((e = caller_valid(c, r)) != EPH_OK)
		return e;
	wf_lock_write(w);
	if ((e = load_visible(w, c, id, &rq, r)) != EPH_OK)
		goto out;
	if (!is_requester(rq, c)) {
		reply_why(r, "only the requester cancels a request");
		e = EPH_ERR_FORBIDDEN;
		goto out;
	}
	if (rq->state != STORE_PENDING || expire_if_overdue(w, rq)) {
		e = conflict(r, rq, "cancel");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_CANCEL;
	ev.actor = c->user;
	if ((e = store_set_state(w->st, rq->id, STORE_PENDING, STORE_CANCELLED, &ev)) != EPH_OK) {
		store_fail(r, e, w, "cancel");
		goto out;
	}
	e = reply_request(w, rq->id, r);
out:
	e = wf_unlock(w, r, e, NULL);
	store_request_free(rq);
	return e;
}

int
workflow_request_revoke(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *reason, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	struct store_event ev;
	struct outbox ob = {0};
	int e;

	if ((e = action_begin(c, reason, "reason", 0, r)) != EPH_OK)
		return e;
	wf_lock_write(w);
	if ((e = load_visible(w, c, id, &rq, r)) != EPH_OK)
		goto out;
	if (!is_requester(rq, c) && !c->admin && !may_approve(w, rq, c, NULL)) {
		reply_why(r, "only the requester, an admin or an approver of %s revokes", rq->task);
		e = EPH_ERR_FORBIDDEN;
		goto out;
	}
	if (rq->state != STORE_ISSUED) {
		e = conflict(r, rq, "revoke");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_REVOKE;
	ev.actor = c->user;
	ev.reason = reason != NULL && *reason != '\0' ? reason : NULL;
	active_forget(w, rq->requester);
	if ((e = store_set_state(w->st, rq->id, STORE_ISSUED, STORE_REVOKED, &ev)) != EPH_OK) {
		store_fail(r, e, w, "revoke");
		goto out;
	}
	notify_id(w, &ob, CA_EVENT_REVOKED, rq->id);
	/* The revocation is durable before the KRL says so: the KRL never
	 * names a serial the store could still call issued. */
	if ((e = group_flush(&w->grp)) != EPH_OK) {
		commit_fail(r, e);
		goto out;
	}
	if ((e = krl_rebuild(w, 0)) != EPH_OK) {
		reply_why(r, "revoked, but the KRL was not rewritten: %s", eph_strerror(e));
		goto out;
	}
	e = reply_request(w, rq->id, r);
out:
	e = wf_unlock(w, r, e, &ob);
	store_request_free(rq);
	return e;
}

int
workflow_request_review(struct workflow *w, const struct workflow_caller *c, const char *id,
    const char *comment, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	struct store_event ev;
	int e;

	if ((e = action_begin(c, comment, "comment", 0, r)) != EPH_OK)
		return e;
	wf_lock_write(w);
	if ((e = load_visible(w, c, id, &rq, r)) != EPH_OK)
		goto out;
	if ((e = check_decider(w, rq, c, "someone other than the requester closes the review",
	         "review", r)) != EPH_OK)
		goto out;
	if (rq->review != STORE_REVIEW_OPEN) {
		reply_why(r, "no open review");
		e = EPH_ERR_CONFLICT;
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_REVIEW;
	ev.actor = c->user;
	ev.reason = comment;
	if ((e = store_review_close(w->st, rq->id, c->user, comment != NULL ? comment : "", &ev)) !=
	    EPH_OK) {
		store_fail(r, e, w, "review");
		goto out;
	}
	e = reply_request(w, rq->id, r);
out:
	e = wf_unlock(w, r, e, NULL);
	store_request_free(rq);
	return e;
}

/* ------------------------------------------------------------- reading */

int
workflow_request_get(
    struct workflow *w, const struct workflow_caller *c, const char *id, struct workflow_reply *r)
{
	struct store_request *rq = NULL;
	int e;

	workflow_reply_clear(r);
	if ((e = caller_valid(c, r)) != EPH_OK)
		return e;
	group_lock(&w->grp);
	if ((e = load_visible(w, c, id, &rq, r)) != EPH_OK)
		goto out;
	expire_on_read(w, rq);
	if ((r->object = request_object(w, rq)) == NULL) {
		e = EPH_ERR_NOMEM;
		goto out;
	}
	e = EPH_OK;
out:
	e = wf_unlock(w, r, e, NULL);
	store_request_free(rq);
	return e;
}

int
workflow_request_list(struct workflow *w, const struct workflow_caller *c,
    const struct workflow_query *q, struct workflow_reply *r)
{
	struct store_filter f = STORE_FILTER_ANY;
	struct store_request_list l = {NULL, 0};
	json_t *o = NULL, *a;
	size_t i, n = 0, expired;
	int e;

	workflow_reply_clear(r);
	if ((e = caller_valid(c, r)) != EPH_OK)
		return e;
	if (q != NULL) {
		if (q->state < -1 || q->state >= (int)STORE_NSTATES) {
			reply_why(r, "state: unknown");
			return EPH_ERR_INVAL;
		}
		if (q->review != STORE_REVIEW_NONE && q->review != STORE_REVIEW_OPEN &&
		    q->review != STORE_REVIEW_CLOSED) {
			reply_why(r, "review: unknown");
			return EPH_ERR_INVAL;
		}
		f.state = q->state;
		f.task = q->task;
		if (q->review != STORE_REVIEW_NONE)
			f.review = q->review;
		if (q->mine)
			f.requester = c->user;
	}
	group_lock(&w->grp);
	/* None listed as pending that is past its deadline. */
	if ((e = expire_overdue(w, &expired)) != EPH_OK)
		eph_log(LOG_WARNING, NULL, NULL, 0, "workflow: list: expiring overdue requests: %s",
		    eph_strerror(e));
	if ((e = store_list(w->st, &f, &l)) != EPH_OK) {
		store_fail(r, e, w, "list");
		goto out;
	}
	e = EPH_ERR_NOMEM;
	if ((o = json_object()) == NULL || (a = json_array()) == NULL ||
	    json_object_set_new(o, "requests", a) != 0)
		goto out;
	for (i = 0; i < l.n && n < WORKFLOW_LIST_MAX; i++) {
		struct store_request *rq = l.v[i];
		json_t *ro;

		if (q != NULL && q->mine && !is_requester(rq, c))
			continue;
		/* Past its deadline though the store could not expire it
		 * (read-only): answered as expired, as a GET would be. */
		if (rq->state == STORE_PENDING && wf_now(w) >= rq->expires) {
			rq->state = STORE_EXPIRED;
			if (f.state >= 0 && f.state != (int)STORE_EXPIRED)
				continue;
		}
		/* What c has to act on: pending requests to approve, and
		 * break-glass reviews to close (as check_decider decides). */
		if (!c->admin && !c->auditor && !is_requester(rq, c) &&
		    !(rq->state == STORE_PENDING && may_approve(w, rq, c, NULL)) &&
		    !(rq->review == STORE_REVIEW_OPEN && may_decide(w, rq, c)))
			continue;
		if ((ro = request_object(w, rq)) == NULL || json_array_append_new(a, ro) != 0)
			goto out;
		n++;
	}
	if (i < l.n && json_object_set_new(o, "truncated", json_true()) != 0)
		goto out;
	r->object = o;
	o = NULL;
	e = EPH_OK;
out:
	e = wf_unlock(w, r, e, NULL);
	json_decref(o);
	store_request_list_free(&l);
	return e;
}

int
workflow_audit(
    struct workflow *w, const struct workflow_caller *c, uint64_t since, struct workflow_reply *r)
{
	struct audit_query q;
	struct audit_list l = {NULL, 0};
	json_t *o = NULL, *a;
	uint64_t next = since;
	size_t i;
	int e;

	workflow_reply_clear(r);
	if ((e = caller_valid(c, r)) != EPH_OK)
		return e;
	if (!c->admin && !c->auditor) {
		reply_why(r, "the audit log is for admins and auditors");
		return EPH_ERR_FORBIDDEN;
	}
	memset(&q, 0, sizeof(q));
	q.since_seq = since;
	q.limit = WORKFLOW_AUDIT_MAX;
	group_lock(&w->grp);
	if ((e = store_audit_list(w->st, &q, &l)) != EPH_OK) {
		store_fail(r, e, w, "audit");
		goto out;
	}
	e = EPH_ERR_NOMEM;
	if ((o = json_object()) == NULL || (a = json_array()) == NULL ||
	    json_object_set_new(o, "records", a) != 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		const struct audit_record *ar = &l.v[i];
		char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
		json_t *ro = json_object(), *det = json_loads(ar->details, 0, NULL);

		audit_hash_hex(ar->prev, prev);
		audit_hash_hex(ar->hash, hash);
		if (ro == NULL || json_array_append_new(a, ro) != 0 ||
		    json_object_set_new(ro, "seq", json_integer((json_int_t)ar->seq)) != 0 ||
		    json_object_set_new(ro, "time", jtime(ar->time)) != 0 ||
		    json_object_set_new(ro, "type", json_string(ar->type)) != 0 ||
		    json_object_set_new(ro, "request_id", jstr_or_null(ar->request_id)) != 0 ||
		    json_object_set_new(ro, "serial",
		        ar->serial != 0 ? json_integer((json_int_t)ar->serial) : json_null()) !=
		        0 ||
		    json_object_set_new(ro, "actor", json_string(ar->actor)) != 0 ||
		    json_object_set_new(
		        ro, "details", det != NULL ? det : json_string(ar->details)) != 0 ||
		    json_object_set_new(ro, "prev", json_string(prev)) != 0 ||
		    json_object_set_new(ro, "hash", json_string(hash)) != 0)
			goto out;
		next = ar->seq;
	}
	if (json_object_set_new(o, "next", json_integer((json_int_t)next)) != 0)
		goto out;
	r->object = o;
	o = NULL;
	e = EPH_OK;
out:
	e = wf_unlock(w, r, e, NULL);
	json_decref(o);
	audit_list_free(&l);
	return e;
}

/* --------------------------------------------------------------- sweep */

int
workflow_health(struct workflow *w, char *why, size_t len)
{
	struct store_request_list l = {NULL, 0};
	struct store_filter f = STORE_FILTER_ANY;
	int e, ce;

	if (why != NULL && len > 0)
		why[0] = '\0';
	if (w == NULL)
		return EPH_ERR_INVAL;
	f.limit = 1;
	group_lock(&w->grp);
	if ((e = store_list(w->st, &f, &l)) != EPH_OK) {
		if (why != NULL)
			snprintf(why, len, "the store does not answer: %s", eph_strerror(e));
	} else
		e = store_health(w->st, why, len);
	if ((ce = group_unlock(&w->grp)) != EPH_OK && e == EPH_OK) {
		e = ce;
		if (why != NULL)
			snprintf(why, len, "the store cannot commit: %s", eph_strerror(e));
	}
	store_request_list_free(&l);
	return e;
}

int
workflow_expire(struct workflow *w, size_t *n)
{
	size_t done = 0;
	int e, ce;

	if (n != NULL)
		*n = 0;
	wf_lock_write(w);
	if ((e = expire_overdue(w, &done)) == EPH_OK)
		e = krl_rebuild(w, 0);
	if ((ce = group_unlock(&w->grp)) != EPH_OK) {
		e = ce;
		done = 0;
	}
	if (n != NULL)
		*n = done;
	return e;
}

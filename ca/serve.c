/* sshca serve: the HTTP front's backend over the workflow engine, and the
 * daemon's start-up order, main loop and shutdown. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "caconf.h"
#include "daemon.h"
#include "err.h"
#include "fileio.h"
#include "krl.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "serve.h"
#include "session.h"
#include "signer.h"
#include "store.h"
#include "util.h"
#include "workflow.h"

#define COUNT(b, field) __atomic_fetch_add(&(b)->n.field, 1, __ATOMIC_RELAXED)
#define LOAD(b, field) __atomic_load_n(&(b)->n.field, __ATOMIC_RELAXED)

/* ------------------------------------------------------------- logging */

/* The daemon's own messages: a line on stderr (gone to /dev/null once
 * detached) and one record in journald / syslog. Under systemd standard
 * error is the journal, where the record already is: no line there then
 * (stderr_is_journal, set once before any thread starts). */
static int stderr_is_journal;

static void __attribute__((format(printf, 2, 3))) serve_log(int priority, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!stderr_is_journal)
		fprintf(stderr, "sshca serve: %s\n", msg);
	eph_log(priority, NULL, NULL, 0, "%s", msg);
}

/* Every line of a multi-line error text (a policy's file:line errors). */
static void
serve_log_lines(int priority, const char *prefix, const char *text)
{
	const char *p = text, *nl;

	if (text == NULL || *text == '\0')
		return;
	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if (nl > p)
			serve_log(priority, "%s%.*s", prefix, (int)(nl - p), p);
		p = *nl == '\n' ? nl + 1 : nl;
	}
}

/* ------------------------------------------------------------- caller */

/* A struct workflow_caller and the group list it points into. */
struct caller {
	struct workflow_caller wc;
	char **groups;
	size_t ngroups;
};

static void
caller_clear(struct caller *c)
{
	if (c->groups != NULL)
		policy_strv_free(c->groups, c->ngroups);
	memset(c, 0, sizeof(*c));
}

/* The front's caller as the workflow sees it: Unix groups looked up now
 * (so a change of membership counts at once), roles from ca.conf. */
static int
caller_map(
    struct serve_backend *b, const struct ca_caller *cc, struct caller *c, struct ca_reply *r)
{
	int e;

	memset(c, 0, sizeof(*c));
	if (cc == NULL || !cc->authenticated || cc->user[0] == '\0') {
		ca_reply_detail(r, "no authenticated caller");
		return EPH_ERR_UNAUTHENTICATED;
	}
	e = policy_unix_groups(cc->user, &c->groups, &c->ngroups);
	if (e == EPH_ERR_NOTFOUND) {
		c->groups = NULL;
		c->ngroups = 0;
	} else if (e != EPH_OK) {
		ca_reply_detail(r, "cannot look up the groups of %s", cc->user);
		return e;
	}
	c->wc.user = cc->user;
	c->wc.uid = cc->uid;
	c->wc.groups = (const char *const *)c->groups;
	c->wc.ngroups = c->ngroups;
	c->wc.source_address = cc->address[0] != '\0' ? cc->address : NULL;
	workflow_caller_roles(b->cc, &c->wc);
	return EPH_OK;
}

/* The workflow's answer as the front's: the object (also on an error:
 * a denied request's) and the why. */
static int
reply_pass(struct serve_backend *b, int e, struct workflow_reply *wr, struct ca_reply *r)
{
	r->body = wr->object;
	wr->object = NULL;
	if (wr->why[0] != '\0')
		ca_reply_detail(r, "%s", wr->why);
	if (e != EPH_OK)
		COUNT(b, refused);
	return e;
}

static const char *
reply_state(const struct ca_reply *r)
{
	const char *s =
	    r->body != NULL ? json_string_value(json_object_get(r->body, "state")) : NULL;

	return s != NULL ? s : "";
}

/* ------------------------------------------------------------ backend */

static int
be_request_create(
    void *ctx, const struct ca_caller *cc, const struct ca_request_input *in, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	struct workflow_reply wr;
	struct workflow_new nw;
	struct caller c;
	const char *st;
	int e;

	memset(&wr, 0, sizeof(wr));
	if ((e = caller_map(b, cc, &c, r)) != EPH_OK) {
		COUNT(b, refused);
		return e;
	}
	memset(&nw, 0, sizeof(nw));
	nw.task = in->task;
	nw.hosts = (const char *const *)in->hosts;
	nw.nhosts = in->nhosts;
	nw.ttl = in->ttl;
	nw.reason = in->reason;
	nw.public_key = in->public_key;
	nw.login_as = in->login_as;
	e = workflow_request_create(b->wf, &c.wc, &nw, &wr);
	caller_clear(&c);
	e = reply_pass(b, e, &wr, r);
	st = reply_state(r);
	if (e == EPH_OK || e == EPH_ERR_FORBIDDEN) {
		if (*st != '\0')
			COUNT(b, created);
		if (strcmp(st, "pending") == 0)
			COUNT(b, pending);
		else if (strcmp(st, "denied") == 0)
			COUNT(b, denied);
		else if (strcmp(st, "issued") == 0) {
			COUNT(b, issued_at_once);
			COUNT(b, issuances);
		}
	}
	return e;
}

static int
be_request_get(void *ctx, const struct ca_caller *cc, const char *id, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	struct workflow_reply wr;
	struct caller c;
	int e;

	memset(&wr, 0, sizeof(wr));
	if ((e = caller_map(b, cc, &c, r)) != EPH_OK)
		return e;
	e = workflow_request_get(b->wf, &c.wc, id, &wr);
	caller_clear(&c);
	return reply_pass(b, e, &wr, r);
}

static int
be_request_list(
    void *ctx, const struct ca_caller *cc, const struct ca_list_query *q, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	struct workflow_reply wr;
	struct workflow_query wq;
	struct caller c;
	int e;

	memset(&wr, 0, sizeof(wr));
	memset(&wq, 0, sizeof(wq));
	/* enum ca_request_state is enum store_state shifted by one, ANY = 0. */
	switch (q->state) {
	case CA_STATE_ANY: wq.state = -1; break;
	case CA_STATE_PENDING: wq.state = STORE_PENDING; break;
	case CA_STATE_ISSUED: wq.state = STORE_ISSUED; break;
	case CA_STATE_DENIED: wq.state = STORE_DENIED; break;
	case CA_STATE_EXPIRED: wq.state = STORE_EXPIRED; break;
	case CA_STATE_CANCELLED: wq.state = STORE_CANCELLED; break;
	case CA_STATE_REVOKED: wq.state = STORE_REVOKED; break;
	default: ca_reply_detail(r, "unknown state"); return EPH_ERR_INVAL;
	}
	wq.mine = q->mine;
	wq.task = q->task[0] != '\0' ? q->task : NULL;
	wq.review = q->review == CA_REVIEW_OPEN ? STORE_REVIEW_OPEN
	    : q->review == CA_REVIEW_CLOSED     ? STORE_REVIEW_CLOSED
	                                        : STORE_REVIEW_NONE;
	if ((e = caller_map(b, cc, &c, r)) != EPH_OK)
		return e;
	e = workflow_request_list(b->wf, &c.wc, &wq, &wr);
	caller_clear(&c);
	return reply_pass(b, e, &wr, r);
}

enum action { ACT_APPROVE, ACT_DENY, ACT_CANCEL, ACT_REVOKE, ACT_REVIEW };

static int
be_action(struct serve_backend *b, enum action a, const struct ca_caller *cc, const char *id,
    const char *text, struct ca_reply *r)
{
	struct workflow_reply wr;
	struct caller c;
	int e = EPH_ERR_INVAL;

	memset(&wr, 0, sizeof(wr));
	if ((e = caller_map(b, cc, &c, r)) != EPH_OK)
		return e;
	switch (a) {
	case ACT_APPROVE: e = workflow_request_approve(b->wf, &c.wc, id, text, &wr); break;
	case ACT_DENY: e = workflow_request_deny(b->wf, &c.wc, id, text, &wr); break;
	case ACT_CANCEL: e = workflow_request_cancel(b->wf, &c.wc, id, &wr); break;
	case ACT_REVOKE: e = workflow_request_revoke(b->wf, &c.wc, id, text, &wr); break;
	case ACT_REVIEW: e = workflow_request_review(b->wf, &c.wc, id, text, &wr); break;
	}
	caller_clear(&c);
	e = reply_pass(b, e, &wr, r);
	if (e != EPH_OK)
		return e;
	switch (a) {
	case ACT_APPROVE:
		COUNT(b, approvals);
		if (strcmp(reply_state(r), "issued") == 0)
			COUNT(b, issuances);
		break;
	case ACT_DENY: COUNT(b, denials); break;
	case ACT_CANCEL: COUNT(b, cancellations); break;
	case ACT_REVOKE: COUNT(b, revocations); break;
	case ACT_REVIEW: COUNT(b, reviews); break;
	}
	return e;
}

static int
be_request_approve(
    void *ctx, const struct ca_caller *c, const char *id, const char *text, struct ca_reply *r)
{
	return be_action(ctx, ACT_APPROVE, c, id, text, r);
}

static int
be_request_deny(
    void *ctx, const struct ca_caller *c, const char *id, const char *text, struct ca_reply *r)
{
	return be_action(ctx, ACT_DENY, c, id, text, r);
}

static int
be_request_cancel(
    void *ctx, const struct ca_caller *c, const char *id, const char *text, struct ca_reply *r)
{
	(void)text;
	return be_action(ctx, ACT_CANCEL, c, id, NULL, r);
}

static int
be_request_revoke(
    void *ctx, const struct ca_caller *c, const char *id, const char *text, struct ca_reply *r)
{
	return be_action(ctx, ACT_REVOKE, c, id, text, r);
}

static int
be_request_review(
    void *ctx, const struct ca_caller *c, const char *id, const char *text, struct ca_reply *r)
{
	return be_action(ctx, ACT_REVIEW, c, id, text, r);
}

static int
be_krl_get(void *ctx, struct ca_krl *out)
{
	struct serve_backend *b = ctx;

	return workflow_krl(b->wf, &out->data, &out->len, &out->version);
}

static int
be_ca_pub(void *ctx, char **text)
{
	struct serve_backend *b = ctx;
	struct buf o;
	char **lines = NULL;
	size_t n = 0, i;
	int e;

	*text = NULL;
	buf_init(&o);
	if ((e = signer_pubkeys(b->signer, &lines, &n)) != EPH_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((e = buf_put(&o, lines[i], strlen(lines[i]))) != EPH_OK ||
		    (e = buf_put(&o, "\n", 1)) != EPH_OK)
			goto out;
	}
	if ((e = buf_put(&o, "", 1)) != EPH_OK)
		goto out;
	if ((*text = strdup((const char *)o.d)) == NULL) {
		e = EPH_ERR_NOMEM;
		goto out;
	}
	e = EPH_OK;
out:
	for (i = 0; lines != NULL && i < n; i++)
		free(lines[i]);
	free(lines);
	buf_free(&o);
	return e;
}

static int
be_audit_since(void *ctx, const struct ca_caller *cc, uint64_t since, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	struct workflow_reply wr;
	struct caller c;
	int e;

	memset(&wr, 0, sizeof(wr));
	if ((e = caller_map(b, cc, &c, r)) != EPH_OK)
		return e;
	e = workflow_audit(b->wf, &c.wc, since, &wr);
	caller_clear(&c);
	return reply_pass(b, e, &wr, r);
}

/* The CA can serve when the signer answers and the store answers a
 * query under the workflow's lock (the CA's own auditor view of an
 * empty page of the audit log). */
static int
be_health(void *ctx, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	char why[256];
	uint64_t sigs, gen;
	int e;

	if (!signer_alive(b->signer) || signer_ping(b->signer, &sigs, &gen) != EPH_OK) {
		ca_reply_detail(r, "the signer does not answer");
		return EPH_ERR_STORE_FULL;
	}
	/* Serving and writing: a read answers and nothing stops a write. */
	if ((e = workflow_health(b->wf, why, sizeof(why))) != EPH_OK) {
		ca_reply_detail(r, "%s", why[0] != '\0' ? why : eph_strerror(e));
		return EPH_ERR_STORE_FULL;
	}
	r->body = json_pack("{s:s}", "status", "ok");
	return EPH_OK;
}

static int
metric(struct buf *o, const char *name, const char *type, const char *help, const char *labels,
    uint64_t v)
{
	char line[512];
	int n;

	if (type != NULL) {
		n = snprintf(
		    line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
		if (n < 0 || (size_t)n >= sizeof(line) || buf_put(o, line, (size_t)n) != EPH_OK)
			return EPH_ERR_NOMEM;
	}
	n = snprintf(line, sizeof(line), "%s%s%s%s %llu\n", name, labels ? "{" : "",
	    labels ? labels : "", labels ? "}" : "", (unsigned long long)v);
	if (n < 0 || (size_t)n >= sizeof(line))
		return EPH_ERR_TOOLARGE;
	return buf_put(o, line, (size_t)n);
}

/* The store's commit latency histogram, read under the workflow's lock
 * (the store's counters are its holder's). */
static int
store_metrics(struct serve_backend *b, struct buf *o)
{
	struct store_stats ss;
	struct store *st;
	size_t i;
	int e;

	st = workflow_store_lock(b->wf);
	store_stats(st, &ss);
	workflow_store_unlock(b->wf);
	if ((e = buf_printf(o,
	         "# HELP sshca_store_commit_seconds Durable store commits (a "
	         "group's or a single change's), by how long COMMIT took.\n"
	         "# TYPE sshca_store_commit_seconds histogram\n")) != EPH_OK)
		return e;
	for (i = 0; i < STORE_COMMIT_NBUCKETS; i++) {
		if (i + 1 < STORE_COMMIT_NBUCKETS)
			e = buf_printf(o, "sshca_store_commit_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)ss.commit_le_us[i] / 1e6,
			    (unsigned long long)ss.commit_bucket[i]);
		else
			e = buf_printf(o, "sshca_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)ss.commit_bucket[i]);
		if (e != EPH_OK)
			return e;
	}
	if ((e = buf_printf(o, "sshca_store_commit_seconds_sum %.6f\n",
	         (double)ss.commit_ns_sum / 1e9)) != EPH_OK ||
	    (e = buf_printf(o, "sshca_store_commit_seconds_count %llu\n",
	         (unsigned long long)ss.commits)) != EPH_OK)
		return e;
	if ((e = metric(o, "sshca_store_commit_failures_total", "counter",
	         "Store commits that failed (nothing of theirs was kept).", NULL,
	         ss.commit_failures)) != EPH_OK)
		return e;
	return metric(o, "sshca_store_reopens_total", "counter",
	    "Database connections reopened once a read-only database could be written again.", NULL,
	    ss.reopens);
}

static int
be_metrics(void *ctx, struct buf *o)
{
	struct serve_backend *b = ctx;
	uint64_t sigs = 0, gen = 0;
	int e = EPH_OK, up;

	up = signer_alive(b->signer) && signer_ping(b->signer, &sigs, &gen) == EPH_OK;
	if ((e = metric(o, "sshca_requests_created_total", "counter",
	         "Requests stored, by the state they were created in.", "state=\"pending\"",
	         LOAD(b, pending))) != EPH_OK ||
	    (e = metric(o, "sshca_requests_created_total", NULL, NULL, "state=\"issued\"",
	         LOAD(b, issued_at_once))) != EPH_OK ||
	    (e = metric(o, "sshca_requests_created_total", NULL, NULL, "state=\"denied\"",
	         LOAD(b, denied))) != EPH_OK ||
	    (e = metric(o, "sshca_approvals_total", "counter", "Approvals accepted.", NULL,
	         LOAD(b, approvals))) != EPH_OK ||
	    (e = metric(o, "sshca_issuances_total", "counter", "Certificates handed out.", NULL,
	         LOAD(b, issuances))) != EPH_OK ||
	    (e = metric(o, "sshca_revocations_total", "counter", "Grants revoked.", NULL,
	         LOAD(b, revocations))) != EPH_OK ||
	    (e = metric(o, "sshca_denials_total", "counter", "Requests denied by an approver.",
	         NULL, LOAD(b, denials))) != EPH_OK ||
	    (e = metric(o, "sshca_cancellations_total", "counter", "Requests cancelled.", NULL,
	         LOAD(b, cancellations))) != EPH_OK ||
	    (e = metric(o, "sshca_reviews_total", "counter", "Break-glass reviews closed.", NULL,
	         LOAD(b, reviews))) != EPH_OK ||
	    (e = metric(o, "sshca_expired_total", "counter",
	         "Pending requests expired past their deadline (by the sweep, or on a read or "
	         "an action).",
	         NULL, workflow_expired_count(b->wf))) != EPH_OK ||
	    (e = metric(o, "sshca_logins_total", "counter", "TLS logins, by result.",
	         "result=\"ok\"", LOAD(b, logins))) != EPH_OK ||
	    (e = metric(o, "sshca_logins_total", NULL, NULL, "result=\"refused\"",
	         LOAD(b, login_failures))) != EPH_OK ||
	    (e = metric(o, "sshca_logouts_total", "counter", "TLS sessions ended by logout.", NULL,
	         LOAD(b, logouts))) != EPH_OK ||
	    (e = metric(o, "sshca_backend_errors_total", "counter",
	         "Backend calls answered with an error.", NULL, LOAD(b, refused))) != EPH_OK ||
	    (e = metric(o, "sshca_signer_up", "gauge", "1 while the signer answers.", NULL,
	         (uint64_t)up)) != EPH_OK ||
	    (e = metric(o, "sshca_signer_signatures_total", "counter",
	         "Signatures the signer reports (since it started).", NULL, sigs)) != EPH_OK ||
	    (e = metric(o, "sshca_policy_generation", "gauge", "Policy loads so far.", NULL,
	         workflow_policy_generation(b->wf))) != EPH_OK ||
	    (e = store_metrics(b, o)) != EPH_OK)
		return e;
	return EPH_OK;
}

/* Wipe the secrets a login input still holds (a refusal before PAM). */
static void
login_input_wipe(const struct ca_login_input *in)
{
	size_t i;

	if (in->password != NULL)
		eph_wipe(in->password, strlen(in->password));
	for (i = 0; i < in->nanswers; i++)
		eph_wipe(in->answers[i], strlen(in->answers[i]));
}

/* A prompt or message as JSON: text that is not UTF-8 is shown as ASCII
 * with '?' for every other byte (PAM modules may speak Latin-1). */
static json_t *
login_msg_json(const struct session_msg *m)
{
	const char *style = m->style == SESSION_PROMPT_ECHO_OFF ? "echo_off"
	    : m->style == SESSION_PROMPT_ECHO_ON                ? "echo_on"
	    : m->style == SESSION_ERROR_MSG                     ? "error"
	                                                        : "info";
	json_t *o, *t;
	char *ascii;
	size_t i;

	if ((t = json_string(m->text)) == NULL) {
		if ((ascii = strdup(m->text)) == NULL)
			return NULL;
		for (i = 0; ascii[i] != '\0'; i++)
			if ((unsigned char)ascii[i] >= 0x80)
				ascii[i] = '?';
		t = json_string(ascii);
		free(ascii);
		if (t == NULL)
			return NULL;
	}
	if ((o = json_pack("{s:s, s:o}", "style", style, "text", t)) == NULL)
		return NULL;
	return o;
}

/* {"conversation": ID, "prompts": [...], "messages": [...]} */
static json_t *
login_step_json(const struct session_step *st)
{
	json_t *o, *p, *m, *v;
	size_t i;

	if ((o = json_object()) == NULL)
		return NULL;
	p = json_array();
	m = json_array();
	if (json_object_set_new(o, "conversation", json_string(st->conversation)) != 0 ||
	    json_object_set_new(o, "prompts", p) != 0 || json_object_set_new(o, "messages", m) != 0)
		goto fail;
	for (i = 0; i < st->nprompts; i++)
		if ((v = login_msg_json(&st->prompts[i])) == NULL ||
		    json_array_append_new(p, v) != 0)
			goto fail;
	for (i = 0; i < st->nmessages; i++)
		if ((v = login_msg_json(&st->messages[i])) == NULL ||
		    json_array_append_new(m, v) != 0)
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/*
 * POST /v1/login: over TLS only (the Unix socket knows its peers). One
 * step with a password, or a conversation (started with the user alone,
 * resumed with its id and the answers) whose prompts go back to the
 * caller until PAM is done.
 */
static int
be_login(void *ctx, const struct ca_caller *cc, const struct ca_login_input *in, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	struct session_token tok;
	struct session_step step;
	struct store_session info;
	int e;

	memset(&tok, 0, sizeof(tok));
	memset(&step, 0, sizeof(step));
	if (cc == NULL || cc->via != CA_VIA_TLS) {
		login_input_wipe(in);
		ca_reply_detail(r,
		    "log in over TLS; the Unix socket identifies callers by their "
		    "peer credentials");
		COUNT(b, refused);
		return EPH_ERR_INVAL;
	}
	if (b->sessions == NULL) {
		login_input_wipe(in);
		ca_reply_detail(r, "sessions are not available");
		COUNT(b, refused);
		return EPH_ERR_STORE_FULL;
	}
	if (in->password != NULL)
		e = session_login(b->sessions, in->user, in->password, cc->address, &tok, &info,
		    r->detail, sizeof(r->detail));
	else if (in->conversation[0] != '\0')
		e = session_conv_answer(b->sessions, in->conversation, cc->address, in->answers,
		    in->nanswers, &step, &tok, &info, r->detail, sizeof(r->detail));
	else
		e = session_conv_start(b->sessions, in->user, cc->address, &step, &tok, &info,
		    r->detail, sizeof(r->detail));
	if (e != EPH_OK) {
		if (e == EPH_ERR_UNAUTHENTICATED && strcmp(r->detail, "login refused") == 0)
			COUNT(b, login_failures);
		COUNT(b, refused);
		goto out;
	}
	if (step.nprompts > 0) {
		if ((r->body = login_step_json(&step)) == NULL)
			e = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r->body = json_pack("{s:s, s:s, s:I}", "token", tok.text, "user", info.user, "expires",
	         (json_int_t)info.expires)) == NULL) {
		e = EPH_ERR_NOMEM;
		goto out;
	}
	COUNT(b, logins);
	e = EPH_OK;
out:
	session_step_clear(&step);
	session_token_wipe(&tok);
	return e;
}

static int
be_session_check(void *ctx, const char *token, struct ca_caller *c)
{
	struct serve_backend *b = ctx;
	struct store_session info;
	int e;

	if (b->sessions == NULL)
		return EPH_ERR_UNAUTHENTICATED;
	if ((e = session_check(b->sessions, token, &info)) != EPH_OK)
		return e == EPH_ERR_UNAUTHENTICATED ? e : EPH_ERR_STORE_FULL;
	if (strlen(info.user) >= sizeof(c->user))
		return EPH_ERR_UNAUTHENTICATED;
	memcpy(c->user, info.user, strlen(info.user) + 1);
	c->uid = info.uid;
	return EPH_OK;
}

/* POST /v1/logout: the session of the token the front checked. */
static int
be_logout(void *ctx, const struct ca_caller *cc, const char *token, struct ca_reply *r)
{
	struct serve_backend *b = ctx;
	int e;

	if (cc == NULL || cc->via != CA_VIA_TLS || token == NULL) {
		ca_reply_detail(r,
		    "there is no session to end on the Unix socket: its callers are known by "
		    "their peer credentials");
		COUNT(b, refused);
		return EPH_ERR_INVAL;
	}
	if (b->sessions == NULL) {
		COUNT(b, refused);
		return EPH_ERR_UNAUTHENTICATED;
	}
	if ((e = session_logout(b->sessions, token)) != EPH_OK) {
		if (e == EPH_ERR_STORE_FULL)
			ca_reply_detail(r, "the session store cannot be written");
		COUNT(b, refused);
		return e;
	}
	if ((r->body = json_pack("{s:b}", "ok", 1)) == NULL)
		return EPH_ERR_NOMEM;
	COUNT(b, logouts);
	return EPH_OK;
}

struct store *
serve_store_lock(void *ctx)
{
	struct serve_backend *b = ctx;

	return workflow_store_lock(b->wf);
}

void
serve_store_unlock(void *ctx)
{
	struct serve_backend *b = ctx;

	workflow_store_unlock(b->wf);
}

const struct ca_api_backend serve_api_backend = {
    .request_create = be_request_create,
    .request_get = be_request_get,
    .request_list = be_request_list,
    .request_approve = be_request_approve,
    .request_deny = be_request_deny,
    .request_cancel = be_request_cancel,
    .request_revoke = be_request_revoke,
    .request_review = be_request_review,
    .krl_get = be_krl_get,
    .ca_pub = be_ca_pub,
    .audit_since = be_audit_since,
    .health = be_health,
    .metrics = be_metrics,
    .login = be_login,
    .session_check = be_session_check,
    .logout = be_logout,
};

/* ------------------------------------------------------------- daemon */

/* The highest serial the KRL at path revokes; 0 when there is no KRL yet.
 * Read as root before the CA user takes over, so the file may be the CA
 * user's (it writes it) or root's, and nobody else may write it. A KRL
 * that does not parse stops the start: the hosts refuse it too. */
static int
krl_floor(const char *path, uid_t ca_uid, uint64_t *floor)
{
	struct krl *k = NULL;
	struct stat st;
	struct buf b;
	int e;

	*floor = 0;
	buf_init(&b);
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return EPH_OK;
		serve_log(LOG_ERR, "revoked_keys %s: %s", path, strerror(errno));
		return EPH_ERR_IO;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != ca_uid) ||
	    (st.st_mode & 022) != 0) {
		serve_log(LOG_ERR,
		    "revoked_keys %s: must be a regular file of root or the CA user that "
		    "group and others cannot write",
		    path);
		return EPH_ERR_PERM;
	}
	if ((e = file_read_all(path, KRL_MAX_SIZE, 0, &b)) != EPH_OK ||
	    (e = krl_parse(b.d, b.len, &k)) != EPH_OK) {
		serve_log(LOG_ERR, "revoked_keys %s: %s (fix or remove it)", path,
		    e == EPH_ERR_IO ? strerror(errno) : eph_strerror(e));
		buf_free(&b);
		return e;
	}
	buf_free(&b);
	*floor = krl_max_serial(k);
	krl_free(k);
	return EPH_OK;
}

/* The directory part of path into dir ("." when none). */
static int
dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return snprintf(dir, len, ".") < (int)len ? EPH_OK : EPH_ERR_TOOLARGE;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return EPH_ERR_TOOLARGE;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return EPH_OK;
}

/* The directory of a socket or pid file, as /run/ephemeral: made 0755
 * when missing (its parent must exist), owned by the CA user so that it
 * can remove its socket on the way out. */
static int
runtime_dir(const char *path, uid_t uid, gid_t gid, int chown_it)
{
	char dir[PATH_MAX];
	struct stat sb;
	int e;

	if ((e = dir_of(path, dir, sizeof(dir))) != EPH_OK)
		return e;
	if (stat(dir, &sb) == 0)
		return S_ISDIR(sb.st_mode) ? EPH_OK : EPH_ERR_EXISTS;
	if (errno != ENOENT)
		return EPH_ERR_IO;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return EPH_ERR_IO;
	if (chown_it && chown(dir, uid, gid) != 0)
		return EPH_ERR_IO;
	return EPH_OK;
}

/* Is a live daemon holding the pid file? Checked before detaching, so
 * that "already running" reaches the terminal (the pid file itself is
 * written, and locked, by the detached process). */
static int
pidfile_busy(const char *path, long *holder)
{
	char text[32];
	ssize_t n;
	int fd, busy = 0;

	*holder = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		busy = 1;
		if ((n = read(fd, text, sizeof(text) - 1)) > 0) {
			text[n] = '\0';
			*holder = strtol(text, NULL, 10);
		}
	}
	close(fd);
	return busy;
}

/* "<revoked_keys>.serial", or "<database>.serial" when there is no KRL. */
static char *
serial_file_path(const struct ca_conf *cc)
{
	char *p = NULL;

	if (asprintf(&p, "%s.serial", cc->revoked_keys != NULL ? cc->revoked_keys : cc->database) <
	    0)
		return NULL;
	return p;
}

struct serve_state {
	struct ca_conf *cc;
	struct signer *signer;
	struct store *store;
	struct workflow *wf;
	struct http_server *http;
	struct session *sessions;
	struct serve_backend be;
	int sigfd;
	int ready_fd;
	int pid_fd;
	const char *pid_file;
};

static void
serve_close(struct serve_state *s, unsigned grace)
{
	/* Conversations first: no HTTP worker may be left waiting for PAM
	 * while the front drains. */
	session_shutdown(s->sessions);
	if (s->http != NULL) {
		http_server_stop(s->http, grace);
		http_server_free(s->http);
	}
	session_free(s->sessions);
	if (s->wf != NULL)
		workflow_close(s->wf);
	if (s->store != NULL)
		store_close(s->store);
	if (s->signer != NULL)
		signer_stop(s->signer, 5000, NULL);
	if (s->pid_fd >= 0)
		daemon_pidfile_remove(s->pid_file, s->pid_fd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	caconf_free(s->cc);
}

static void
sweep(struct serve_state *s)
{
	int e;

	if ((e = workflow_expire(s->wf, NULL)) != EPH_OK)
		serve_log(LOG_WARNING, "expiry sweep: %s", eph_strerror(e));
	if (s->sessions != NULL && (e = session_purge(s->sessions, NULL)) != EPH_OK)
		serve_log(LOG_WARNING, "session sweep: %s", eph_strerror(e));
}

static void
reload(struct serve_state *s)
{
	char *why = NULL;
	int e;

	daemon_notify_reloading();
	if ((e = workflow_reload(s->wf, &why)) != EPH_OK) {
		serve_log(LOG_ERR, "%s: not reloaded (%s); the old policy stays in force",
		    s->cc->policy, eph_strerror(e));
		serve_log_lines(LOG_ERR, "", why);
	} else {
		serve_log(LOG_NOTICE, "%s: reloaded (generation %llu)", s->cc->policy,
		    (unsigned long long)workflow_policy_generation(s->wf));
	}
	free(why);
	daemon_notify_ready("serving");
}

/* Serve until a stop signal (0) or the signer's death (1). */
static int
serve_loop(struct serve_state *s, unsigned sweep_ms)
{
	struct pollfd p[2];
	struct timespec now;
	int64_t next, t;
	int sig, n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	next = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + sweep_ms;
	for (;;) {
		p[0].fd = s->sigfd;
		p[0].events = POLLIN;
		/* Only hang-ups: the signer's replies are read by the
		 * workers, never here. */
		p[1].fd = signer_fd(s->signer);
		p[1].events = 0;
		p[0].revents = p[1].revents = 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = next - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
		n = poll(p, 2, t < 0 ? 0 : (int)t);
		if (n < 0 && errno != EINTR) {
			serve_log(LOG_ERR, "poll: %s", strerror(errno));
			return 1;
		}
		if ((p[1].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 ||
		    !signer_alive(s->signer)) {
			serve_log(LOG_CRIT, "the signer (pid %ld) is gone; stopping",
			    (long)signer_pid(s->signer));
			return 1;
		}
		if ((p[0].revents & POLLIN) != 0) {
			while ((sig = daemon_signals_read(s->sigfd)) != 0) {
				if (sig == SIGHUP) {
					reload(s);
				} else if (sig == SIGTERM || sig == SIGINT) {
					serve_log(LOG_NOTICE, "%s: stopping",
					    sig == SIGTERM ? "SIGTERM" : "SIGINT");
					return 0;
				}
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 >= next) {
			sweep(s);
			next = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + sweep_ms;
		}
	}
}

int
serve_run(const char *caconf_path, const struct serve_opts *o)
{
	struct serve_opts def;
	struct serve_state s;
	struct policy_errors errs = {NULL, 0};
	struct http_config hc;
	struct store_opts so;
	uint64_t krl_max = 0;
	struct workflow_opts wo;
	struct session_opts sopt;
	char why1[512], *why = NULL, *text, *serial_file = NULL;
	uid_t uid = getuid();
	gid_t gid = getgid();
	int e, ret = 1, as_root = geteuid() == 0, stopped = 0;
	pid_t holder = 0;
	long busy_pid = 0;

	if (o == NULL) {
		memset(&def, 0, sizeof(def));
		o = &def;
	}
	memset(&s, 0, sizeof(s));
	s.sigfd = s.ready_fd = s.pid_fd = -1;
	s.pid_file = o->pid_file != NULL ? o->pid_file : SERVE_DEFAULT_PID_FILE;
	stderr_is_journal = eph_log_stderr_is_journal();
	if (caconf_path == NULL)
		caconf_path = CACONF_DEFAULT_PATH;

	/* 1. ca.conf: every file:line error on stderr. */
	if ((e = caconf_load(caconf_path, &s.cc, &errs)) != EPH_OK) {
		if (errs.n > 0 && (text = policy_errors_format(&errs)) != NULL) {
			fputs(text, stderr);
			if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
				fputc('\n', stderr);
			free(text);
		} else {
			serve_log(LOG_ERR, "%s: %s", caconf_path,
			    e == EPH_ERR_IO ? strerror(errno) : eph_strerror(e));
		}
		policy_errors_clear(&errs);
		return 1;
	}
	policy_errors_clear(&errs);
	/* The CA user, known before anything forks or binds. */
	if (as_root) {
		if ((e = daemon_lookup_user(s.cc->user, &uid, &gid)) != EPH_OK) {
			serve_log(LOG_ERR, "%s: user \"%s\" (ca.conf user) does not exist",
			    caconf_path, s.cc->user);
			goto out;
		}
	}
	/* 2. Detach before anything binds; the original process waits for
	 * ready_fd and exits 0 or 1 with us. */
	if ((o->daemonize || o->pid_file != NULL) && pidfile_busy(s.pid_file, &busy_pid)) {
		serve_log(LOG_ERR, "%s: already running as pid %ld", s.pid_file, busy_pid);
		goto out;
	}
	if (o->daemonize && (e = daemon_detach(&s.ready_fd)) != EPH_OK) {
		serve_log(LOG_ERR, "cannot detach: %s", eph_strerror(e));
		goto out;
	}
	/* 3. Signals blocked and the signer forked before any thread. */
	if ((e = daemon_signals_open(&s.sigfd)) != EPH_OK) {
		serve_log(LOG_ERR, "signals: %s", eph_strerror(e));
		goto out;
	}
	if ((e = signer_start(s.cc, NULL, &s.signer, &why)) != EPH_OK) {
		/* The signer's own words: one line per problem it found. */
		if (why != NULL && *why != '\0')
			serve_log_lines(LOG_ERR, "signer: ", why);
		else
			serve_log(LOG_ERR, "signer: %s", eph_strerror(e));
		goto out;
	}
	if (o->daemonize || o->pid_file != NULL) {
		if ((e = runtime_dir(s.pid_file, uid, gid, as_root)) != EPH_OK ||
		    (e = daemon_pidfile_write(s.pid_file, getpid(), &s.pid_fd, &holder)) !=
		        EPH_OK) {
			if (e == EPH_ERR_EXISTS && holder > 0)
				serve_log(LOG_ERR, "%s: already running as pid %ld", s.pid_file,
				    (long)holder);
			else
				serve_log(LOG_ERR, "%s: %s", s.pid_file,
				    e == EPH_ERR_IO ? strerror(errno) : eph_strerror(e));
			goto out;
		}
	}
	/* 4. The listeners, as root. */
	if ((e = runtime_dir(s.cc->socket, uid, gid, as_root)) != EPH_OK) {
		serve_log(LOG_ERR, "%s: cannot make its directory: %s", s.cc->socket,
		    e == EPH_ERR_IO ? strerror(errno) : eph_strerror(e));
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.socket_path = s.cc->socket;
	if (s.cc->tls != NULL) {
		hc.tls_listen = s.cc->tls->listen;
		hc.tls_certificate = s.cc->tls->certificate;
		hc.tls_key = s.cc->tls->key;
	}
	s.be.cc = s.cc;
	s.be.signer = s.signer;
	why1[0] = '\0';
	if ((e = http_server_open(&hc, &serve_api_backend, &s.be, &s.http, why1, sizeof(why1))) !=
	    EPH_OK) {
		serve_log(LOG_ERR, "listen: %s", why1[0] != '\0' ? why1 : eph_strerror(e));
		goto out;
	}
	/* Serials start above any the KRL already revokes (a CA that lost
	 * its database and its high-water file must not reuse them). */
	if (s.cc->revoked_keys != NULL &&
	    (e = krl_floor(s.cc->revoked_keys, uid, &krl_max)) != EPH_OK)
		goto out;
	/* 5. The CA user from here on. */
	if ((e = daemon_drop_privileges(uid, gid)) != EPH_OK) {
		serve_log(LOG_ERR, "cannot become %s (uid %ld): %s", s.cc->user, (long)uid,
		    eph_strerror(e));
		goto out;
	}
	/* 6. The store, owned by the CA user. */
	if ((serial_file = serial_file_path(s.cc)) == NULL)
		goto out;
	memset(&so, 0, sizeof(so));
	so.database = s.cc->database;
	so.serial_file = serial_file;
	so.serial_floor = krl_max;
	if ((e = store_open(&so, &s.store)) != EPH_OK) {
		serve_log(LOG_ERR, "database %s: cannot open it as %s: %s", s.cc->database,
		    as_root ? s.cc->user : "the invoking user",
		    e == EPH_ERR_PERM ? "it must be a file owned by the CA user, not open to "
		                        "group or others, in a directory others cannot write"
		        : e == EPH_ERR_IO && errno != 0 ? strerror(errno)
		                                        : eph_strerror(e));
		goto out;
	}
	/* 7. The workflow (and its webhooks). */
	memset(&wo, 0, sizeof(wo));
	wo.cc = s.cc;
	wo.store = s.store;
	wo.signer = s.signer;
	if ((e = workflow_open(&wo, &s.wf, &why)) != EPH_OK) {
		serve_log(LOG_ERR, "workflow: %s", eph_strerror(e));
		serve_log_lines(LOG_ERR, "", why);
		goto out;
	}
	s.be.wf = s.wf;
	/* 8. TLS logins, through the CA's own PAM service. */
	if (s.cc->tls != NULL) {
		memset(&sopt, 0, sizeof(sopt));
		sopt.service = o->pam_service;
		sopt.ttl = s.cc->login_ttl;
		sopt.lock = serve_store_lock;
		sopt.unlock = serve_store_unlock;
		sopt.lock_ctx = &s.be;
		if ((e = session_new(&sopt, &s.sessions)) != EPH_OK) {
			serve_log(LOG_ERR, "sessions: %s", eph_strerror(e));
			goto out;
		}
		s.be.sessions = s.sessions;
	}
	/* 9. Serve. */
	if ((e = http_server_start(s.http)) != EPH_OK) {
		serve_log(LOG_ERR, "cannot start serving: %s", eph_strerror(e));
		goto out;
	}
	serve_log(LOG_NOTICE, "serving on %s%s%s as %s (pid %ld)", s.cc->socket,
	    s.cc->tls != NULL ? " and " : "", s.cc->tls != NULL ? s.cc->tls->listen : "",
	    as_root ? s.cc->user : "the invoking user", (long)getpid());
	daemon_notify_ready("serving");
	if (s.ready_fd >= 0) {
		daemon_detach_ready(s.ready_fd, 1);
		s.ready_fd = -1;
	}
	ret = serve_loop(&s, o->sweep_ms != 0 ? o->sweep_ms : SERVE_DEFAULT_SWEEP_MS);
	daemon_notify_stopping();
	stopped = 1;
out:
	free(why);
	free(serial_file);
	if (s.ready_fd >= 0)
		daemon_detach_ready(s.ready_fd, 0);
	serve_close(&s, stopped ? (o->grace != 0 ? o->grace : SERVE_DEFAULT_GRACE) : 0);
	if (stopped && ret == 0)
		eph_log(LOG_NOTICE, NULL, NULL, 0, "stopped");
	return ret;
}

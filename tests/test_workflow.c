/* Tests for the workflow engine (ca/workflow.c) over a temp SQLite store,
 * a real forked signer, a temp policy and an injected clock shared with
 * the signer process; the KRL is checked with ssh-keygen -Q and webhooks
 * with a small HTTP listener on 127.0.0.1. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "caconf.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "log.h"
#include "signer.h"
#include "store.h"
#include "testutil.h"
#include "webhook.h"
#include "workflow.h"

static const char policy_text[] =
    "defaults = { max_ttl = \"1h\"; pending_timeout = \"30m\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\", \"%oncall\" ]; dba = [ \"dba1\" ]; };\n"
    "tasks = (\n"
    "  { name = \"ping\"; requesters = [ \"alice\", \"bob\" ]; hosts = [ \"web01.example.com\" ];\n"
    "    login_as = \"deploy\"; default_ttl = \"10m\"; },\n"
    "  { name = \"db\"; requesters = [ \"alice\" ]; approvers = [ \"@leads\" ]; approvals = 2;\n"
    "    hosts = [ \"db01.example.com\" ]; login_as = \"postgres\"; require_reason = true; },\n"
    "  { name = \"split\"; requesters = [ \"alice\" ];\n"
    "    approvals = ( { from = [ \"@leads\" ]; count = 1; }, { from = [ \"@dba\" ]; count = 1; } "
    ");\n"
    "    hosts = [ \"db01.example.com\" ]; login_as = \"postgres\"; },\n"
    "  { name = \"glass\"; break_glass = true; requesters = [ \"alice\" ]; approvers = [ "
    "\"@leads\" ];\n"
    "    hosts = [ \"db01.example.com\" ]; login_as = \"root\"; max_ttl = \"5m\"; require_reason = "
    "true; },\n"
    "  { name = \"bound\"; requesters = [ \"alice\" ]; hosts = [ \"web01.example.com\" ];\n"
    "    login_as = \"deploy\"; source_address = \"requester\"; }\n"
    ");\n";

/* Everyone the tests know: a tiny NSS. */
static const struct person {
	const char *name;
	uid_t uid;
	const char *groups[3];
} people[] = {
    {"alice", 1001, {"staff", NULL, NULL}},
    {"bob", 1002, {"staff", NULL, NULL}},
    {"carol", 1003, {"staff", NULL, NULL}},
    {"dave", 1004, {NULL, NULL, NULL}},
    {"erin", 1005, {"oncall", NULL, NULL}},
    {"admin1", 1006, {NULL, NULL, NULL}},
    {"mallory", 1007, {"staff", NULL, NULL}},
    {"aud", 1008, {"audit", NULL, NULL}},
    {"dba1", 1009, {NULL, NULL, NULL}},
};

static const struct person *
person(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(people) / sizeof(people[0]); i++)
		if (strcmp(people[i].name, name) == 0)
			return &people[i];
	fail_msg("unknown person %s", name);
	abort();
}

static size_t
ngroups(const struct person *p)
{
	size_t n = 0;

	while (n < 3 && p->groups[n] != NULL)
		n++;
	return n;
}

static int
fx_groups(void *ctx, const char *user, uid_t uid, char ***groups, size_t *n)
{
	size_t i, j;

	(void)ctx;
	for (i = 0; i < sizeof(people) / sizeof(people[0]); i++) {
		const struct person *p = &people[i];

		if (strcmp(p->name, user) != 0 || p->uid != uid)
			continue;
		*n = ngroups(p);
		if ((*groups = calloc(*n + 1, sizeof(char *))) == NULL)
			return EPH_ERR_NOMEM;
		for (j = 0; j < *n; j++)
			(*groups)[j] = strdup(p->groups[j]);
		return EPH_OK;
	}
	return EPH_ERR_NOTFOUND;
}

/* The clock, in memory shared with the signer process (forked from us). */
static int64_t *shared_now;

static time_t
signer_clock(void)
{
	return (time_t)*shared_now;
}

static int64_t
fx_clock(void *ctx)
{
	(void)ctx;
	return *shared_now;
}

struct fx {
	char *dir;
	struct ca_conf *cc;
	struct key *ca;
	struct key *user;
	char *user_line;
	struct signer *sg;
	struct store *st;
	struct workflow *w;
	struct webhook_opts who;
	int store_log; /* let the store log its records */
	const char *limits; /* ca.conf limits line; NULL: the tests' usual */
};

/* Lines logged at LOG_ALERT in this process (the store's records when
 * a test turns its logging on). */
static char alerts[8192];

static void
sink(int priority, const char *line, void *ctx)
{
	(void)ctx;
	if ((priority & LOG_PRIMASK) == LOG_ALERT &&
	    strlen(alerts) + strlen(line) + 2 < sizeof(alerts)) {
		strcat(alerts, line);
		strcat(alerts, "\n");
	}
}

static void
write_policy(struct fx *f, const char *text)
{
	char *p = tu_path(f->dir, "policy.conf");

	assert_int_equal(tu_write_file(p, text, strlen(text), 0644), 0);
	free(p);
}

static void
write_conf(struct fx *f, const char *extra)
{
	struct policy_errors errs = {NULL, 0};
	char *p = tu_path(f->dir, "ca.conf"), *text = NULL;

	if (asprintf(&text,
	        "ca_key = \"%s/ca\";\npolicy = \"%s/policy.conf\";\nrevoked_keys = \"%s/krl\";\n"
	        "database = \"%s/ca.db\";\nadmins = [ \"admin1\" ];\nauditors = [ \"%%audit\" ];\n"
	        "%s\n%s",
	        f->dir, f->dir, f->dir, f->dir,
	        f->limits != NULL ? f->limits
	                          : "limits = { active_grants = 4; requests_per_minute = 8; };",
	        extra) < 0)
		fail_msg("out of memory");
	assert_int_equal(tu_write_file(p, text, strlen(text), 0644), 0);
	caconf_free(f->cc);
	f->cc = NULL;
	if (caconf_load(p, &f->cc, &errs) != EPH_OK)
		fail_msg("ca.conf: %s", errs.n ? errs.v[0].msg : "?");
	free(p);
	free(text);
}

static void
open_store(struct fx *f)
{
	struct store_opts o;
	char *hwm = tu_path(f->dir, "krl.serial");
	int r;

	memset(&o, 0, sizeof(o));
	o.database = f->cc->database;
	o.serial_file = hwm;
	o.serial_block = 10;
	o.no_log = !f->store_log;
	o.clock = fx_clock;
	if ((r = store_open(&o, &f->st)) != EPH_OK)
		fail_msg("store_open: %s", eph_strerror(r));
	free(hwm);
}

static void
open_workflow(struct fx *f)
{
	struct workflow_opts o;
	char *why = NULL;
	int r;

	memset(&o, 0, sizeof(o));
	o.cc = f->cc;
	o.store = f->st;
	o.signer = f->sg;
	o.clock = fx_clock;
	o.groups = fx_groups;
	o.webhook = &f->who;
	if ((r = workflow_open(&o, &f->w, &why)) != EPH_OK)
		fail_msg("workflow_open: %s: %s", eph_strerror(r), why ? why : "");
	assert_null(why);
}

/* Start everything with ca.conf extra. */
static void
start(struct fx *f, const char *extra)
{
	struct signer_options so = {signer_clock};
	char *why = NULL;
	int r;

	write_conf(f, extra);
	if ((r = signer_start(f->cc, &so, &f->sg, &why)) != EPH_OK)
		fail_msg("signer_start: %s: %s", eph_strerror(r), why ? why : "");
	open_store(f);
	open_workflow(f);
}

static void
stop(struct fx *f)
{
	workflow_close(f->w);
	f->w = NULL;
	store_close(f->st);
	f->st = NULL;
	if (f->sg != NULL)
		signer_stop(f->sg, 5000, NULL);
	f->sg = NULL;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *p;

	assert_non_null(f);
	if (shared_now == NULL) {
		shared_now = mmap(NULL, sizeof(*shared_now), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(shared_now != MAP_FAILED);
	}
	*shared_now = (int64_t)time(NULL);
	f->dir = tu_mkdtemp();
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->ca), EPH_OK);
	p = tu_path(f->dir, "ca");
	assert_int_equal(key_save_private(f->ca, p), EPH_OK);
	free(p);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->user), EPH_OK);
	assert_int_equal(key_format_public_line(f->user, "alice@laptop", &f->user_line), EPH_OK);
	write_policy(f, policy_text);
	f->who.backoff_ms = 20;
	f->who.timeout_ms = 2000;
	eph_log_set_journal(0);
	eph_log_set_syslog(sink, NULL);
	*state = f;
	return 0;
}

static int
setup_started(void **state)
{
	setup(state);
	start(*state, "");
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	stop(f);
	caconf_free(f->cc);
	key_free(f->ca);
	key_free(f->user);
	free(f->user_line);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static struct workflow_caller
caller(struct fx *f, const char *name, const char *addr)
{
	const struct person *p = person(name);
	struct workflow_caller c;

	memset(&c, 0, sizeof(c));
	c.user = p->name;
	c.uid = p->uid;
	c.groups = p->groups;
	c.ngroups = ngroups(p);
	c.source_address = addr;
	workflow_caller_roles(f->cc, &c);
	return c;
}

/* Create a request as name; returns the code, the id in id (when the
 * object came back) and the reply (cleared by the caller). */
static int
create(struct fx *f, const char *name, const char *task, const char *reason,
    struct workflow_reply *r, char *id)
{
	const char *hosts[] = {strcmp(task, "ping") == 0 || strcmp(task, "bound") == 0
	        ? "web01.example.com"
	        : "db01.example.com"};
	struct workflow_new in;
	struct workflow_caller c = caller(f, name, NULL);
	int e;

	memset(&in, 0, sizeof(in));
	in.task = task;
	in.hosts = hosts;
	in.nhosts = 1;
	in.reason = reason;
	in.public_key = f->user_line;
	e = workflow_request_create(f->w, &c, &in, r);
	if (id != NULL) {
		id[0] = '\0';
		if (r->object != NULL)
			snprintf(id, STORE_ID_LEN + 1, "%s",
			    json_string_value(json_object_get(r->object, "id")));
	}
	return e;
}

static const char *
state_of(const struct workflow_reply *r)
{
	return json_string_value(json_object_get(r->object, "state"));
}

static json_int_t
approvals_field(const struct workflow_reply *r, const char *k)
{
	return json_integer_value(json_object_get(json_object_get(r->object, "approvals"), k));
}

static int
act(struct fx *f, const char *name,
    int (*fn)(struct workflow *, const struct workflow_caller *, const char *, const char *,
        struct workflow_reply *),
    const char *id, const char *text, struct workflow_reply *r)
{
	struct workflow_caller c = caller(f, name, NULL);

	workflow_reply_clear(r);
	return fn(f->w, &c, id, text, r);
}

static int
cancel(struct fx *f, const char *name, const char *id, struct workflow_reply *r)
{
	struct workflow_caller c = caller(f, name, NULL);

	workflow_reply_clear(r);
	return workflow_request_cancel(f->w, &c, id, r);
}

static int
get(struct fx *f, const char *name, const char *id, struct workflow_reply *r)
{
	struct workflow_caller c = caller(f, name, NULL);

	workflow_reply_clear(r);
	return workflow_request_get(f->w, &c, id, r);
}

/* The issued certificate of r: verified against the CA, the request's
 * key and the injected now; caller frees. */
static struct cert *
issued_cert(struct fx *f, const struct workflow_reply *r)
{
	const char *line = json_string_value(json_object_get(r->object, "certificate"));
	struct cert *c = NULL;

	assert_non_null(line);
	assert_string_equal(state_of(r), "issued");
	assert_int_equal(cert_parse_line(line, &c, NULL), EPH_OK);
	assert_int_equal(cert_check_ca(c, f->ca), EPH_OK);
	assert_int_equal(cert_check_validity(c, (uint64_t)*shared_now), EPH_OK);
	assert_true(key_equal_public(c->key, f->user));
	assert_int_equal(
	    c->serial, (uint64_t)json_integer_value(json_object_get(r->object, "serial")));
	return c;
}

static void
grant_of(const struct cert *c, struct grant *g)
{
	const struct cert_opt *o = cert_find_extension(c, GRANT_EXTENSION);
	const uint8_t *v;
	size_t n;

	assert_non_null(o);
	assert_int_equal(cert_opt_value(o, &v, &n), EPH_OK);
	memset(g, 0, sizeof(*g));
	assert_int_equal(grant_decode(v, n, g), EPH_OK);
}

static int
has_approver(const struct grant *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->napprovers; i++)
		if (strcmp(g->approvers[i], name) == 0)
			return 1;
	return 0;
}

/* -------------------------------------------------------------- tests */

static void
test_auto_issue(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id[STORE_ID_LEN + 1], *kid = NULL;
	struct cert *c;
	struct grant g;

	assert_int_equal(create(f, "alice", "ping", NULL, &r, id), EPH_OK);
	c = issued_cert(f, &r);
	if (asprintf(&kid, "eph:%s:alice:ping", id) < 0)
		fail_msg("oom");
	assert_string_equal(c->key_id, kid);
	assert_int_equal(c->nprincipals, 1);
	assert_string_equal(c->principals[0], "eph:ping@web01.example.com");
	assert_int_equal(c->valid_before - (uint64_t)*shared_now, 600);
	grant_of(c, &g);
	assert_string_equal(g.id, id);
	assert_string_equal(g.login_as, "deploy");
	assert_string_equal(g.requester, "alice");
	assert_int_equal(g.napprovers, 0);
	grant_clear(&g);
	cert_free(c);
	free(kid);
	/* The object as the issue describes it. */
	assert_string_equal(json_string_value(json_object_get(r.object, "login_as")), "deploy");
	assert_string_equal(json_string_value(json_object_get(r.object, "requester")), "alice");
	assert_true(json_is_null(json_object_get(r.object, "reason")));
	assert_int_equal(approvals_field(&r, "required"), 0);
	assert_true(json_array_size(json_object_get(r.object, "reasons")) > 0);
	assert_non_null(strchr(json_string_value(json_object_get(r.object, "created")), 'T'));
	assert_null(json_object_get(r.object, "review"));
	workflow_reply_clear(&r);
	/* The same from a get, by the requester. */
	assert_int_equal(get(f, "alice", id, &r), EPH_OK);
	assert_string_equal(state_of(&r), "issued");
	workflow_reply_clear(&r);
}

static void
test_bad_key(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	struct workflow_caller c = caller(f, "alice", NULL);
	const char *hosts[] = {"web01.example.com"};
	struct workflow_new in;
	char *certline;
	int e;

	memset(&in, 0, sizeof(in));
	in.task = "ping";
	in.hosts = hosts;
	in.nhosts = 1;
	in.public_key = "ssh-ed25519 not-base64!";
	e = workflow_request_create(f->w, &c, &in, &r);
	assert_true(e == EPH_ERR_FORMAT || e == EPH_ERR_INVAL);
	tu_assert_contains(r.why, "public_key");
	assert_null(r.object);
	/* A certificate is not a key to sign. */
	assert_int_equal(create(f, "alice", "ping", NULL, &r, NULL), EPH_OK);
	certline = strdup(json_string_value(json_object_get(r.object, "certificate")));
	workflow_reply_clear(&r);
	in.public_key = certline;
	assert_int_equal(workflow_request_create(f->w, &c, &in, &r), EPH_ERR_KEYTYPE);
	tu_assert_contains(r.why, "public_key: ");
	free(certline);
	/* Invalid UTF-8 in a reason is refused before anything is stored. */
	in.public_key = f->user_line;
	in.reason = "INC-\xff";
	assert_int_equal(workflow_request_create(f->w, &c, &in, &r), EPH_ERR_INVAL);
	tu_assert_contains(r.why, "reason");
	in.reason = NULL;
	/* Nor no hosts. */
	in.nhosts = 0;
	assert_int_equal(workflow_request_create(f->w, &c, &in, &r), EPH_ERR_INVAL);
	tu_assert_contains(r.why, "hosts");
	workflow_reply_clear(&r);
}

static void
test_two_approvers(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id[STORE_ID_LEN + 1];
	struct cert *c;
	struct grant g;

	assert_int_equal(create(f, "alice", "db", "INC-1 vacuum", &r, id), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	assert_int_equal(approvals_field(&r, "required"), 2);
	assert_int_equal(approvals_field(&r, "valid"), 0);
	assert_string_equal(
	    json_string_value(
	        json_array_get(json_object_get(json_object_get(r.object, "approvals"), "from"), 0)),
	    "@leads");
	assert_null(json_object_get(r.object, "certificate"));
	/* Self-approval and non-approvers are refused. */
	assert_int_equal(
	    act(f, "alice", workflow_request_approve, id, NULL, &r), EPH_ERR_FORBIDDEN);
	tu_assert_contains(r.why, "own request");
	assert_int_equal(
	    act(f, "mallory", workflow_request_approve, id, NULL, &r), EPH_ERR_NOTFOUND);
	/* admin sees it but is no approver of db. */
	assert_int_equal(
	    act(f, "admin1", workflow_request_approve, id, NULL, &r), EPH_ERR_FORBIDDEN);
	tu_assert_contains(r.why, "not an approver");
	/* The same approver twice counts once. */
	assert_int_equal(act(f, "carol", workflow_request_approve, id, "ok", &r), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	assert_int_equal(approvals_field(&r, "valid"), 1);
	assert_int_equal(act(f, "carol", workflow_request_approve, id, "again", &r), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	assert_int_equal(approvals_field(&r, "valid"), 1);
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(r.object, "approvals"), "by")), 1);
	/* erin approves through the Unix group %oncall. */
	assert_int_equal(act(f, "erin", workflow_request_approve, id, NULL, &r), EPH_OK);
	c = issued_cert(f, &r);
	grant_of(c, &g);
	assert_true(has_approver(&g, "carol"));
	assert_true(has_approver(&g, "erin"));
	assert_int_equal(g.napprovers, 2);
	assert_string_equal(g.login_as, "postgres");
	grant_clear(&g);
	cert_free(c);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(json_object_get(r.object, "approvals"), "by"), 0),
	        "comment")),
	    "ok");
	/* Approving a decided request is a conflict. */
	assert_int_equal(act(f, "dave", workflow_request_approve, id, NULL, &r), EPH_ERR_CONFLICT);
	workflow_reply_clear(&r);
}

static void
test_clauses(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id[STORE_ID_LEN + 1];
	struct cert *c;

	assert_int_equal(create(f, "alice", "split", NULL, &r, id), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	assert_int_equal(act(f, "carol", workflow_request_approve, id, NULL, &r), EPH_OK);
	/* A second lead meets no clause that is still open. */
	assert_int_equal(act(f, "dave", workflow_request_approve, id, NULL, &r), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	assert_int_equal(approvals_field(&r, "valid"), 1);
	assert_int_equal(act(f, "dba1", workflow_request_approve, id, NULL, &r), EPH_OK);
	c = issued_cert(f, &r);
	cert_free(c);
	workflow_reply_clear(&r);
}

/* The denial of r's object: by (NULL: the policy's, with some reason)
 * and, when given, its reason. */
static void
assert_denial(const struct workflow_reply *r, const char *by, const char *reason)
{
	const json_t *dn = json_object_get(r->object, "denial");

	assert_true(json_is_object(dn));
	if (by != NULL)
		assert_string_equal(json_string_value(json_object_get(dn, "by")), by);
	else
		assert_true(json_is_null(json_object_get(dn, "by")));
	if (reason != NULL)
		assert_string_equal(json_string_value(json_object_get(dn, "reason")), reason);
	else
		assert_true(json_is_string(json_object_get(dn, "reason")));
	assert_true(json_is_string(json_object_get(dn, "at")));
}

static void
test_deny_final(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id[STORE_ID_LEN + 1], *s;

	assert_int_equal(create(f, "alice", "db", "INC-2", &r, id), EPH_OK);
	assert_int_equal(act(f, "alice", workflow_request_deny, id, "no", &r), EPH_ERR_FORBIDDEN);
	assert_int_equal(act(f, "mallory", workflow_request_deny, id, "no", &r), EPH_ERR_NOTFOUND);
	assert_int_equal(act(f, "carol", workflow_request_deny, id, NULL, &r), EPH_ERR_INVAL);
	assert_string_equal(r.why, "reason: required");
	assert_int_equal(act(f, "carol", workflow_request_deny, id, "a\nb", &r), EPH_ERR_INVAL);
	tu_assert_contains(r.why, "control characters");
	assert_int_equal(act(f, "carol", workflow_request_deny, id, "not today", &r), EPH_OK);
	assert_string_equal(state_of(&r), "denied");
	assert_denial(&r, "carol", "not today");
	/* The requester reads who denied it and why. */
	assert_int_equal(get(f, "alice", id, &r), EPH_OK);
	assert_denial(&r, "carol", "not today");
	assert_int_equal(act(f, "dave", workflow_request_approve, id, NULL, &r), EPH_ERR_CONFLICT);
	assert_int_equal(act(f, "dave", workflow_request_deny, id, "x", &r), EPH_ERR_CONFLICT);
	assert_int_equal(cancel(f, "alice", id, &r), EPH_ERR_CONFLICT);
	/* An admin may deny too. */
	assert_int_equal(create(f, "alice", "db", "INC-3", &r, id), EPH_OK);
	assert_int_equal(act(f, "admin1", workflow_request_deny, id, "freeze", &r), EPH_OK);
	assert_string_equal(state_of(&r), "denied");
	assert_denial(&r, "admin1", "freeze");
	/* A request the policy denies is recorded, answered 403 with its
	 * reasons: db needs a reason. */
	assert_int_equal(create(f, "alice", "db", NULL, &r, id), EPH_ERR_FORBIDDEN);
	assert_string_equal(state_of(&r), "denied");
	s = json_dumps(json_object_get(r.object, "reasons"), 0);
	tu_assert_contains(s, "\"rule\": \"reason\"");
	free(s);
	assert_denial(&r, NULL, NULL);
	assert_int_equal(get(f, "alice", id, &r), EPH_OK);
	assert_string_equal(state_of(&r), "denied");
	assert_denial(&r, NULL, NULL);
	/* A request that is not denied has no denial. */
	assert_int_equal(create(f, "alice", "db", "INC-4", &r, id), EPH_OK);
	assert_null(json_object_get(r.object, "denial"));
	workflow_reply_clear(&r);
}

static void
test_cancel(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id[STORE_ID_LEN + 1];

	assert_int_equal(create(f, "alice", "db", "INC-4", &r, id), EPH_OK);
	assert_int_equal(cancel(f, "carol", id, &r), EPH_ERR_FORBIDDEN);
	assert_int_equal(cancel(f, "admin1", id, &r), EPH_ERR_FORBIDDEN);
	assert_int_equal(cancel(f, "mallory", id, &r), EPH_ERR_NOTFOUND);
	assert_int_equal(cancel(f, "alice", id, &r), EPH_OK);
	assert_string_equal(state_of(&r), "cancelled");
	assert_int_equal(cancel(f, "alice", id, &r), EPH_ERR_CONFLICT);
	assert_int_equal(act(f, "carol", workflow_request_approve, id, NULL, &r), EPH_ERR_CONFLICT);
	/* An issued grant is revoked, not cancelled. */
	assert_int_equal(create(f, "alice", "ping", NULL, &r, id), EPH_OK);
	assert_int_equal(cancel(f, "alice", id, &r), EPH_ERR_CONFLICT);
	workflow_reply_clear(&r);
}

static void
test_expiry(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
	size_t n = 99;

	assert_int_equal(create(f, "alice", "db", "INC-5", &r, id1), EPH_OK);
	assert_int_equal(create(f, "alice", "db", "INC-6", &r, id2), EPH_OK);
	assert_int_equal(act(f, "carol", workflow_request_approve, id1, NULL, &r), EPH_OK);
	*shared_now += 29 * 60;
	assert_int_equal(workflow_expire(f->w, &n), EPH_OK);
	assert_int_equal(n, 0);
	*shared_now += 60;
	/* Approving an overdue request expires it: a conflict. */
	assert_int_equal(act(f, "dave", workflow_request_approve, id1, NULL, &r), EPH_ERR_CONFLICT);
	assert_int_equal(get(f, "alice", id1, &r), EPH_OK);
	assert_string_equal(state_of(&r), "expired");
	/* The sweep expires the other. */
	assert_int_equal(workflow_expire(f->w, &n), EPH_OK);
	assert_int_equal(n, 1);
	/* The approval's expiry and the sweep's: both counted. */
	assert_int_equal(workflow_expired_count(f->w), 2);
	assert_int_equal(get(f, "alice", id2, &r), EPH_OK);
	assert_string_equal(state_of(&r), "expired");
	assert_int_equal(
	    act(f, "carol", workflow_request_approve, id2, NULL, &r), EPH_ERR_CONFLICT);
	workflow_reply_clear(&r);
}

/* The number of audit records of type about request id. */
static size_t
audit_count(struct fx *f, const char *type, const char *id)
{
	struct workflow_reply r = {NULL, ""};
	struct workflow_caller c = caller(f, "aud", NULL);
	const json_t *v;
	size_t i, n = 0;

	assert_int_equal(workflow_audit(f->w, &c, 0, &r), EPH_OK);
	json_array_foreach(json_object_get(r.object, "records"), i,
	    v) if (strcmp(json_string_value(json_object_get(v, "type")), type) == 0 &&
	    strcmp(json_string_value(json_object_get(v, "request_id")), id) == 0) n++;
	workflow_reply_clear(&r);
	return n;
}

/* A read of a pending request past its deadline never says pending: GET
 * expires it (durably, with its record) as the sweep would, and so does
 * a list, before the sweep comes. */
static void
test_expiry_on_read(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	struct workflow_query q = {STORE_PENDING, 0, NULL, STORE_REVIEW_NONE};
	struct workflow_caller c;
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
	size_t n = 99;

	assert_int_equal(create(f, "alice", "db", "INC-5", &r, id1), EPH_OK);
	assert_int_equal(create(f, "alice", "db", "INC-6", &r, id2), EPH_OK);
	*shared_now += 29 * 60;
	assert_int_equal(get(f, "alice", id1, &r), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	*shared_now += 60;
	/* At the deadline: expired by the read, once. */
	assert_int_equal(get(f, "alice", id1, &r), EPH_OK);
	assert_string_equal(state_of(&r), "expired");
	assert_int_equal(audit_count(f, "expire", id1), 1);
	assert_int_equal(get(f, "carol", id1, &r), EPH_OK);
	assert_string_equal(state_of(&r), "expired");
	assert_int_equal(audit_count(f, "expire", id1), 1);
	assert_int_equal(
	    act(f, "carol", workflow_request_approve, id1, NULL, &r), EPH_ERR_CONFLICT);
	/* A list of pending requests has neither; the expired list both. */
	c = caller(f, "carol", NULL);
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 0);
	assert_int_equal(audit_count(f, "expire", id2), 1);
	c = caller(f, "alice", NULL);
	q.state = STORE_EXPIRED;
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 2);
	/* Nothing left for the sweep. */
	assert_int_equal(workflow_expire(f->w, &n), EPH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(audit_count(f, "expire", id2), 1);
	/* The read's expiry and the list's, once each (sshca_expired_total). */
	assert_int_equal(workflow_expired_count(f->w), 2);
	workflow_reply_clear(&r);
}

static void
test_reload_wins(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1], *why = NULL, *text, *at;
	uint64_t gen = workflow_policy_generation(f->w);

	assert_int_equal(create(f, "alice", "db", "INC-7", &r, id1), EPH_OK);
	assert_int_equal(create(f, "alice", "split", NULL, &r, id2), EPH_OK);
	assert_int_equal(act(f, "carol", workflow_request_approve, id1, NULL, &r), EPH_OK);
	assert_int_equal(act(f, "carol", workflow_request_approve, id2, NULL, &r), EPH_OK);

	/* A broken policy keeps the old one and says every file:line. */
	write_policy(f, "tasks = 5;\nbogus = 1;\n");
	assert_int_not_equal(workflow_reload(f->w, &why), EPH_OK);
	assert_non_null(why);
	tu_assert_contains(why, "policy.conf:1");
	free(why);
	why = NULL;
	assert_int_equal(workflow_policy_generation(f->w), gen);

	/* db now needs three approvals and split is gone. */
	text = strdup(policy_text);
	at = strstr(text, "approvals = 2;");
	assert_non_null(at);
	at[12] = '3';
	at = strstr(text, "name = \"split\"");
	memcpy(at, "name = \"spl1t\"", 14);
	write_policy(f, text);
	free(text);
	assert_int_equal(workflow_reload(f->w, &why), EPH_OK);
	assert_null(why);
	assert_int_equal(workflow_policy_generation(f->w), gen + 1);
	/* The second approval no longer completes db. */
	assert_int_equal(act(f, "dave", workflow_request_approve, id1, NULL, &r), EPH_OK);
	assert_string_equal(state_of(&r), "pending");
	assert_int_equal(approvals_field(&r, "required"), 3);
	assert_int_equal(approvals_field(&r, "valid"), 2);
	assert_int_equal(act(f, "erin", workflow_request_approve, id1, NULL, &r), EPH_OK);
	assert_string_equal(state_of(&r), "issued");
	/* The last approval of a task no longer in the policy denies it. */
	assert_int_equal(
	    act(f, "dba1", workflow_request_approve, id2, NULL, &r), EPH_ERR_FORBIDDEN);
	assert_int_equal(get(f, "alice", id2, &r), EPH_OK);
	assert_string_equal(state_of(&r), "denied");
	assert_null(json_object_get(r.object, "certificate"));
	assert_denial(&r, NULL, NULL);
	tu_assert_contains(
	    json_string_value(json_object_get(json_object_get(r.object, "denial"), "reason")),
	    "task");
	workflow_reply_clear(&r);
}

static void
test_revoke(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1], id3[STORE_ID_LEN + 1], *out = NULL;
	char *krl = tu_path(f->dir, "krl"), *certf = tu_path(f->dir, "cert.pub");
	const char *line;
	uint8_t *data = NULL, *file;
	size_t len = 0, flen = 0;
	uint64_t v0 = 0, v1 = 0;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(workflow_krl(f->w, &data, &len, &v0), EPH_OK);
	free(data);
	assert_int_equal(create(f, "alice", "ping", NULL, &r, id1), EPH_OK);
	line = json_string_value(json_object_get(r.object, "certificate"));
	assert_int_equal(tu_write_file(certf, line, strlen(line), 0644), 0);
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 0);
	tu_assert_contains(out, ": ok");
	free(out);
	/* Others may not revoke (they do not even see it). */
	assert_int_equal(
	    act(f, "mallory", workflow_request_revoke, id1, "x", &r), EPH_ERR_NOTFOUND);
	assert_int_equal(act(f, "bob", workflow_request_revoke, id1, "x", &r), EPH_ERR_NOTFOUND);
	assert_int_equal(act(f, "aud", workflow_request_revoke, id1, "x", &r), EPH_ERR_FORBIDDEN);
	assert_int_equal(act(f, "alice", workflow_request_revoke, id1, "task done", &r), EPH_OK);
	assert_string_equal(state_of(&r), "revoked");
	assert_int_equal(act(f, "alice", workflow_request_revoke, id1, NULL, &r), EPH_ERR_CONFLICT);
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 1);
	tu_assert_contains(out, "REVOKED");
	free(out);
	/* What GET /v1/krl serves is the file, one version up. */
	assert_int_equal(workflow_krl(f->w, &data, &len, &v1), EPH_OK);
	assert_int_equal(v1, v0 + 1);
	file = (uint8_t *)tu_read_file(krl, &flen);
	assert_int_equal(flen, len);
	assert_memory_equal(file, data, len);
	free(file);
	free(data);
	/* An admin, and an approver of the task. */
	assert_int_equal(create(f, "bob", "ping", NULL, &r, id2), EPH_OK);
	assert_int_equal(act(f, "admin1", workflow_request_revoke, id2, NULL, &r), EPH_OK);
	assert_int_equal(create(f, "alice", "db", "INC-8", &r, id3), EPH_OK);
	assert_int_equal(act(f, "carol", workflow_request_revoke, id3, NULL, &r), EPH_ERR_CONFLICT);
	assert_int_equal(act(f, "carol", workflow_request_approve, id3, NULL, &r), EPH_OK);
	assert_int_equal(act(f, "dave", workflow_request_approve, id3, NULL, &r), EPH_OK);
	assert_string_equal(state_of(&r), "issued");
	assert_int_equal(act(f, "erin", workflow_request_revoke, id3, "done", &r), EPH_OK);
	assert_string_equal(state_of(&r), "revoked");
	assert_int_equal(workflow_krl(f->w, &data, &len, &v1), EPH_OK);
	assert_int_equal(v1, v0 + 3);
	free(data);
	/* Once every revoked certificate has expired, the KRL drops them. */
	*shared_now += 2 * 3600;
	assert_int_equal(workflow_expire(f->w, NULL), EPH_OK);
	assert_int_equal(workflow_krl(f->w, &data, &len, &v1), EPH_OK);
	assert_int_equal(v1, v0 + 4);
	free(data);
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 0);
	free(out);
	/* Reopening rewrites it from the store, a version up. */
	workflow_close(f->w);
	open_workflow(f);
	assert_int_equal(workflow_krl(f->w, &data, &len, &v1), EPH_OK);
	assert_int_equal(v1, v0 + 5);
	free(data);
	free(krl);
	free(certf);
	workflow_reply_clear(&r);
}

/* ------------------------------------------------ a webhook listener */

struct listener {
	int fd;
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t mu;
	int fail_first; /* answer 500 to this many posts */
	int posts;
	char bodies[16384];
};

static void *
listener_loop(void *arg)
{
	struct listener *l = arg;
	int c;

	while ((c = accept(l->fd, NULL, NULL)) >= 0) {
		char buf[65536];
		size_t n = 0;
		ssize_t k;
		char *hdr_end = NULL, *cl;
		size_t want = 0;

		while (n < sizeof(buf) - 1 && (k = read(c, buf + n, sizeof(buf) - 1 - n)) > 0) {
			n += (size_t)k;
			buf[n] = '\0';
			if (hdr_end == NULL && (hdr_end = strstr(buf, "\r\n\r\n")) != NULL) {
				cl = strcasestr(buf, "Content-Length:");
				want = (size_t)(hdr_end + 4 - buf) +
				    (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0);
			}
			if (hdr_end != NULL && n >= want)
				break;
		}
		pthread_mutex_lock(&l->mu);
		l->posts++;
		if (hdr_end != NULL &&
		    strlen(l->bodies) + strlen(hdr_end + 4) + 2 < sizeof(l->bodies)) {
			strcat(l->bodies, hdr_end + 4);
			strcat(l->bodies, "\n");
		}
		if (l->posts <= l->fail_first) {
			static const char no[] =
			    "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!write(c, no, sizeof(no) - 1);
		} else {
			static const char ok[] =
			    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!write(c, ok, sizeof(ok) - 1);
		}
		pthread_mutex_unlock(&l->mu);
		close(c);
	}
	return NULL;
}

static void
listener_start(struct listener *l, int fail_first)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(l, 0, sizeof(*l));
	l->fail_first = fail_first;
	pthread_mutex_init(&l->mu, NULL);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l->fd, 16), 0);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&sin, &sl), 0);
	l->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&l->thread, NULL, listener_loop, l), 0);
}

static void
listener_stop(struct listener *l)
{
	shutdown(l->fd, SHUT_RDWR);
	close(l->fd);
	pthread_join(l->thread, NULL);
	pthread_mutex_destroy(&l->mu);
}

/* Wait (real time, at most 10 s) until the listener got n posts. */
static int
listener_wait(struct listener *l, int n)
{
	int i, got = 0;

	for (i = 0; i < 1000; i++) {
		pthread_mutex_lock(&l->mu);
		got = l->posts;
		pthread_mutex_unlock(&l->mu);
		if (got >= n)
			break;
		usleep(10000);
	}
	return got;
}

/* Is id in user's GET /v1/requests (review: a STORE_REVIEW_* filter)? */
static int
listed(struct fx *f, const char *user, int review, const char *id)
{
	struct workflow_query q = {-1, 0, NULL, review};
	struct workflow_reply r = {NULL, ""};
	struct workflow_caller c = caller(f, user, NULL);
	const json_t *v;
	size_t i;
	int found = 0;

	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	json_array_foreach(json_object_get(r.object, "requests"), i,
	    v) if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0) found = 1;
	workflow_reply_clear(&r);
	return found;
}

/* The break-glass hook among bodies (one a line) tells of the grant as
 * issued: its state, serial, validity and certificate, not the pending
 * request it was a moment before. */
static void
glass_hook_issued(const char *bodies, json_int_t serial)
{
	const char *p = strstr(bodies, "\"event\":\"break-glass\""), *b, *end;
	json_t *o, *rq;

	assert_non_null(p);
	for (b = p; b > bodies && b[-1] != '\n'; b--)
		;
	end = strchr(p, '\n');
	assert_non_null(end);
	o = json_loadb(b, (size_t)(end - b), 0, NULL);
	assert_non_null(o);
	rq = json_object_get(o, "request");
	assert_string_equal(json_string_value(json_object_get(rq, "state")), "issued");
	assert_int_equal(json_integer_value(json_object_get(rq, "serial")), serial);
	assert_true(json_is_string(json_object_get(rq, "valid_before")));
	assert_true(json_is_string(json_object_get(rq, "certificate")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(rq, "review"), "state")), "open");
	json_decref(o);
}

static void
test_break_glass(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	struct listener l;
	char id[STORE_ID_LEN + 1], extra[256];
	const json_t *rv;
	struct cert *c;
	json_int_t serial;

	listener_start(&l, 1);
	f->store_log = 1;
	alerts[0] = '\0';
	snprintf(extra, sizeof(extra),
	    "webhooks = ( { url = \"http://127.0.0.1:%u/hook\"; events = [ \"break-glass\", "
	    "\"denied\" ]; } );\n",
	    l.port);
	start(f, extra);
	/* Without a reason: denied (and the denied webhook fires). */
	assert_int_equal(create(f, "alice", "glass", NULL, &r, id), EPH_ERR_FORBIDDEN);
	/* With one: issued at once, review open. */
	assert_int_equal(create(f, "alice", "glass", "INC-9 db down", &r, id), EPH_OK);
	c = issued_cert(f, &r);
	assert_true(c->valid_before - (uint64_t)*shared_now <= 300);
	cert_free(c);
	assert_true(json_is_true(json_object_get(r.object, "break_glass")));
	serial = json_integer_value(json_object_get(r.object, "serial"));
	assert_true(serial > 0);
	/* Recorded at LOG_ALERT: the request and its issuance. */
	tu_assert_contains(alerts, id);
	tu_assert_contains(alerts, "break");
	rv = json_object_get(r.object, "review");
	assert_string_equal(json_string_value(json_object_get(rv, "state")), "open");
	/* The requester cannot close their own review; a non-approver not
	 * either; a lead can, once. */
	assert_int_equal(
	    act(f, "alice", workflow_request_review, id, "fine", &r), EPH_ERR_FORBIDDEN);
	assert_int_equal(
	    act(f, "mallory", workflow_request_review, id, NULL, &r), EPH_ERR_NOTFOUND);
	/* The open review is listed to those who may close it, with or
	 * without ?review=open; to the requester as their own; to nobody
	 * else. */
	assert_true(listed(f, "dave", STORE_REVIEW_NONE, id));
	assert_true(listed(f, "dave", STORE_REVIEW_OPEN, id));
	assert_false(listed(f, "dave", STORE_REVIEW_CLOSED, id));
	assert_true(listed(f, "alice", STORE_REVIEW_OPEN, id));
	assert_false(listed(f, "mallory", STORE_REVIEW_NONE, id));
	assert_false(listed(f, "mallory", STORE_REVIEW_OPEN, id));
	assert_int_equal(act(f, "dave", workflow_request_review, id, "checked", &r), EPH_OK);
	/* Closed, it is no longer the approvers' to act on. */
	assert_false(listed(f, "dave", STORE_REVIEW_NONE, id));
	assert_false(listed(f, "carol", STORE_REVIEW_OPEN, id));
	assert_true(listed(f, "alice", STORE_REVIEW_CLOSED, id));
	assert_true(listed(f, "admin1", STORE_REVIEW_CLOSED, id));
	rv = json_object_get(r.object, "review");
	assert_string_equal(json_string_value(json_object_get(rv, "state")), "closed");
	assert_string_equal(json_string_value(json_object_get(rv, "by")), "dave");
	assert_int_equal(act(f, "carol", workflow_request_review, id, NULL, &r), EPH_ERR_CONFLICT);
	/* Reviews are for break-glass grants only. */
	assert_int_equal(create(f, "alice", "ping", NULL, &r, NULL), EPH_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.object, "id")));
	assert_int_equal(act(f, "admin1", workflow_request_review, id, NULL, &r), EPH_ERR_CONFLICT);
	/* The webhooks: denied (answered 500, then retried) and
	 * break-glass; nothing for ping. */
	assert_true(listener_wait(&l, 3) >= 3);
	workflow_close(f->w);
	f->w = NULL;
	pthread_mutex_lock(&l.mu);
	tu_assert_contains(l.bodies, "\"event\":\"denied\"");
	tu_assert_contains(l.bodies, "\"event\":\"break-glass\"");
	tu_assert_contains(l.bodies, "INC-9 db down");
	tu_assert_not_contains(l.bodies, "\"task\":\"ping\"");
	assert_int_equal(l.posts, 3);
	glass_hook_issued(l.bodies, serial);
	pthread_mutex_unlock(&l.mu);
	listener_stop(&l);
	workflow_reply_clear(&r);
}

static void
test_webhook_queue(void **state)
{
	struct ca_webhook hook = {(char *)"http://127.0.0.1:1/none", CA_EVENT_REVOKED, 1};
	struct webhook_opts o = {2, 2, 10, 500};
	struct webhook_stats st;
	struct webhook *wh = NULL;
	int i;

	(void)state;
	assert_int_equal(webhook_start(&hook, 1, &o, &wh), EPH_OK);
	/* Not wanted by the hook: nothing queued. */
	assert_int_equal(webhook_post(wh, CA_EVENT_PENDING, "{}"), EPH_OK);
	assert_int_equal(webhook_post(wh, CA_EVENT_REVOKED, "{}"), EPH_OK);
	assert_int_equal(webhook_post(wh, CA_EVENT_REVOKED, "{}"), EPH_OK);
	/* The queue holds two: the third is dropped, never waited for. */
	assert_int_equal(webhook_post(wh, CA_EVENT_REVOKED, "{}"), EPH_ERR_LIMIT);
	for (i = 0; i < 500; i++) {
		webhook_get_stats(wh, &st);
		if (st.failed == 2)
			break;
		usleep(10000);
	}
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.attempts, 4);
	webhook_stop(wh, 0);
}

static void
test_limits(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id[STORE_ID_LEN + 1];
	int i;

	/* active_grants = 4 for bob. */
	for (i = 0; i < 4; i++)
		assert_int_equal(create(f, "bob", "ping", NULL, &r, id), EPH_OK);
	assert_int_equal(create(f, "bob", "ping", NULL, &r, NULL), EPH_ERR_LIMIT);
	tu_assert_contains(r.why, "active grants");
	assert_null(r.object);
	/* A revoked grant no longer counts (the workflow counts in memory). */
	assert_int_equal(act(f, "bob", workflow_request_revoke, id, "done", &r), EPH_OK);
	assert_int_equal(create(f, "bob", "ping", NULL, &r, NULL), EPH_OK);
	assert_int_equal(create(f, "bob", "ping", NULL, &r, NULL), EPH_ERR_LIMIT);
	/* requests_per_minute = 8 for alice (denied ones count too). */
	for (i = 0; i < 4; i++)
		assert_int_equal(create(f, "alice", "db", "x", &r, NULL), EPH_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(create(f, "alice", "db", NULL, &r, NULL), EPH_ERR_FORBIDDEN);
	assert_int_equal(create(f, "alice", "db", "x", &r, NULL), EPH_ERR_LIMIT);
	tu_assert_contains(r.why, "last minute");
	*shared_now += 60;
	assert_int_equal(create(f, "alice", "db", "x", &r, NULL), EPH_OK);
	/* Grants that expired no longer count. */
	*shared_now += 3600;
	assert_int_equal(create(f, "bob", "ping", NULL, &r, NULL), EPH_OK);
	workflow_reply_clear(&r);
}

/* ------------------------------------------------- concurrent callers */

#define BURST_THREADS 8
#define BURST_EACH 12

struct burst {
	struct fx *f;
	const char *who;
	pthread_t t;
	int code[BURST_EACH];
	uint64_t serial[BURST_EACH];
	char id[BURST_EACH][STORE_ID_LEN + 1];
};

static void *
burst_run(void *arg)
{
	struct burst *b = arg;
	size_t i;

	/* No cmocka asserts off the main thread: checked after the join. */
	for (i = 0; i < BURST_EACH; i++) {
		struct workflow_reply r = {NULL, ""};

		b->code[i] = create(b->f, b->who, "ping", NULL, &r, b->id[i]);
		b->serial[i] = (uint64_t)json_integer_value(json_object_get(r.object, "serial"));
		workflow_reply_clear(&r);
	}
	return NULL;
}

static void
burst(struct fx *f, const char *who, struct burst *b)
{
	size_t i;

	for (i = 0; i < BURST_THREADS; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].f = f;
		b[i].who = who;
		assert_int_equal(pthread_create(&b[i].t, NULL, burst_run, &b[i]), 0);
	}
	for (i = 0; i < BURST_THREADS; i++)
		assert_int_equal(pthread_join(b[i].t, NULL), 0);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Many callers at once, their commits grouped: every certificate
 * answered is stored as issued under its serial with its issue record,
 * no serial twice, and the chain verifies.
 */
static void
test_concurrent_issuance(void **state)
{
	struct fx *f = *state;
	struct burst b[BURST_THREADS];
	uint64_t serials[BURST_THREADS * BURST_EACH];
	struct audit_chain ch;
	size_t i, j, n = 0;

	f->limits = "limits = { active_grants = 1000; requests_per_minute = 1000; };";
	start(f, "");
	burst(f, "alice", b);
	for (i = 0; i < BURST_THREADS; i++)
		for (j = 0; j < BURST_EACH; j++) {
			struct store_request *rq = NULL;
			struct audit_query q;
			struct audit_list l = {NULL, 0};
			size_t k, issues = 0;

			assert_int_equal(b[i].code[j], EPH_OK);
			assert_true(b[i].serial[j] > 0);
			serials[n++] = b[i].serial[j];
			assert_int_equal(store_get_request(f->st, b[i].id[j], &rq), EPH_OK);
			assert_int_equal(rq->state, STORE_ISSUED);
			assert_int_equal(rq->serial, b[i].serial[j]);
			store_request_free(rq);
			memset(&q, 0, sizeof(q));
			q.serial = b[i].serial[j];
			assert_int_equal(store_audit_list(f->st, &q, &l), EPH_OK);
			for (k = 0; k < l.n; k++)
				issues += strcmp(l.v[k].type, "issue") == 0;
			assert_int_equal(issues, 1);
			audit_list_free(&l);
		}
	qsort(serials, n, sizeof(serials[0]), cmp_u64);
	for (i = 1; i < n; i++)
		assert_true(serials[i] > serials[i - 1]);
	memset(&ch, 0, sizeof(ch));
	assert_int_equal(store_audit_verify(f->st, &ch), EPH_OK);
	assert_true(ch.count >= 2 * n);
}

/* The active-grants limit holds against callers racing for the last
 * slots, though signing happens outside the workflow's lock. */
static void
test_concurrent_limit(void **state)
{
	struct fx *f = *state;
	struct burst b[BURST_THREADS];
	size_t i, j, ok = 0, limited = 0;

	f->limits = "limits = { active_grants = 5; requests_per_minute = 1000; };";
	start(f, "");
	burst(f, "bob", b);
	for (i = 0; i < BURST_THREADS; i++)
		for (j = 0; j < BURST_EACH; j++) {
			if (b[i].code[j] == EPH_OK)
				ok++;
			else if (b[i].code[j] == EPH_ERR_LIMIT)
				limited++;
			else
				fail_msg("create: %s", eph_strerror(b[i].code[j]));
		}
	assert_int_equal(ok, 5);
	assert_int_equal(limited, BURST_THREADS * BURST_EACH - 5);
}

static void
test_restart(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
	json_int_t s0, s1;

	assert_int_equal(create(f, "alice", "ping", NULL, &r, NULL), EPH_OK);
	s0 = json_integer_value(json_object_get(r.object, "serial"));
	assert_int_equal(create(f, "alice", "db", "INC-10", &r, id1), EPH_OK);
	assert_int_equal(create(f, "alice", "split", NULL, &r, id2), EPH_OK);
	assert_int_equal(act(f, "carol", workflow_request_approve, id1, NULL, &r), EPH_OK);
	workflow_close(f->w);
	f->w = NULL;
	store_close(f->st);
	f->st = NULL;
	open_store(f);
	open_workflow(f);
	assert_int_equal(act(f, "erin", workflow_request_approve, id1, NULL, &r), EPH_OK);
	assert_string_equal(state_of(&r), "issued");
	s1 = json_integer_value(json_object_get(r.object, "serial"));
	assert_true(s1 > s0);
	assert_int_equal(act(f, "dave", workflow_request_approve, id2, NULL, &r), EPH_OK);
	assert_int_equal(act(f, "dba1", workflow_request_approve, id2, NULL, &r), EPH_OK);
	assert_string_equal(state_of(&r), "issued");
	assert_true(json_integer_value(json_object_get(r.object, "serial")) > s1);
	workflow_reply_clear(&r);
}

/* A restored older database does not un-revoke: revocations in the KRL
 * that the store does not have (a grant it has as issued, a serial it
 * never saw) stay in every KRL written. */
static void
test_restored_backup_keeps_revocations(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1], *out = NULL;
	char *krl = tu_path(f->dir, "krl"), *certf = tu_path(f->dir, "cert.pub");
	char *backup = tu_path(f->dir, "backup.db");
	const char *line;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(create(f, "alice", "ping", NULL, &r, id1), EPH_OK);
	line = json_string_value(json_object_get(r.object, "certificate"));
	assert_int_equal(tu_write_file(certf, line, strlen(line), 0644), 0);
	/* The backup: taken while the certificate is still only issued. */
	workflow_close(f->w);
	f->w = NULL;
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(tu_run(NULL, "cp '%s' '%s'", f->cc->database, backup), 0);
	open_store(f);
	open_workflow(f);
	assert_int_equal(act(f, "alice", workflow_request_revoke, id1, "lost laptop", &r), EPH_OK);
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 1);
	free(out);
	/* Disaster: the database is restored from the backup. */
	workflow_close(f->w);
	f->w = NULL;
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(tu_run(NULL, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", backup,
	                     f->cc->database, f->cc->database, f->cc->database),
	    0);
	open_store(f);
	open_workflow(f);
	{
		struct workflow_caller c = caller(f, "alice", NULL);

		workflow_reply_clear(&r);
		assert_int_equal(workflow_request_get(f->w, &c, id1, &r), EPH_OK);
		assert_string_equal(state_of(&r), "issued");
	}
	/* Still revoked, in the file and in what is served, and after the
	 * next rewrite too. */
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 1);
	tu_assert_contains(out, "REVOKED");
	free(out);
	assert_int_equal(create(f, "bob", "ping", NULL, &r, id2), EPH_OK);
	assert_int_equal(act(f, "admin1", workflow_request_revoke, id2, NULL, &r), EPH_OK);
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 1);
	free(out);
	/* With the database gone altogether, the same. */
	workflow_close(f->w);
	f->w = NULL;
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(tu_run(NULL, "rm -f '%s' '%s-wal' '%s-shm'", f->cc->database,
	                     f->cc->database, f->cc->database),
	    0);
	open_store(f);
	open_workflow(f);
	assert_int_equal(tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), krl, certf), 1);
	free(out);
	workflow_reply_clear(&r);
	free(krl);
	free(certf);
	free(backup);
}

static void
test_unix_socket_source(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	struct workflow_caller c = caller(f, "alice", NULL);
	const char *hosts[] = {"web01.example.com"};
	struct workflow_new in;
	const struct cert_opt *o;
	const uint8_t *v;
	size_t n;
	struct cert *cert;
	char *s;

	memset(&in, 0, sizeof(in));
	in.task = "bound";
	in.hosts = hosts;
	in.nhosts = 1;
	in.public_key = f->user_line;
	assert_int_equal(workflow_request_create(f->w, &c, &in, &r), EPH_ERR_FORBIDDEN);
	assert_string_equal(state_of(&r), "denied");
	s = json_dumps(json_object_get(r.object, "reasons"), 0);
	tu_assert_contains(s, "\"rule\": \"source_address\"");
	tu_assert_contains(s, "\"kind\": \"deny\"");
	free(s);
	tu_assert_contains(r.why, "denied by the policy");
	/* Over TLS the CA sees the address and binds it. */
	c.source_address = "192.0.2.7";
	workflow_reply_clear(&r);
	assert_int_equal(workflow_request_create(f->w, &c, &in, &r), EPH_OK);
	cert = issued_cert(f, &r);
	assert_non_null(o = cert_find_critical(cert, CERT_OPT_SOURCE_ADDRESS));
	assert_int_equal(cert_opt_value(o, &v, &n), EPH_OK);
	assert_int_equal(n, 9);
	assert_memory_equal(v, "192.0.2.7", 9);
	cert_free(cert);
	workflow_reply_clear(&r);
}

static void
test_visibility(void **state)
{
	struct fx *f = *state;
	struct workflow_reply r = {NULL, ""};
	struct workflow_query q = {-1, 0, NULL, STORE_REVIEW_NONE};
	struct workflow_caller c;
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
	const json_t *a;

	assert_int_equal(create(f, "alice", "db", "INC-11", &r, id1), EPH_OK);
	assert_int_equal(create(f, "bob", "ping", NULL, &r, id2), EPH_OK);
	/* Everyone sees their own; approvers the pending ones they may
	 * approve; auditors and admins everything; nobody else anything. */
	c = caller(f, "alice", NULL);
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 1);
	c = caller(f, "carol", NULL);
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	a = json_object_get(r.object, "requests");
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "id")), id1);
	q.mine = 1;
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 0);
	q.mine = 0;
	c = caller(f, "mallory", NULL);
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 0);
	assert_int_equal(get(f, "mallory", id1, &r), EPH_ERR_NOTFOUND);
	assert_int_equal(get(f, "mallory", "r-0000000000000000", &r), EPH_ERR_NOTFOUND);
	assert_int_equal(get(f, "mallory", "../etc", &r), EPH_ERR_NOTFOUND);
	c = caller(f, "aud", NULL);
	assert_true(c.auditor);
	assert_false(c.admin);
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 2);
	q.state = STORE_PENDING;
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 1);
	q.state = -1;
	q.task = "ping";
	c = caller(f, "admin1", NULL);
	assert_true(c.admin);
	assert_int_equal(workflow_request_list(f->w, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "requests")), 1);
	assert_int_equal(get(f, "admin1", id1, &r), EPH_OK);
	/* The audit log: admins and auditors only. */
	c = caller(f, "alice", NULL);
	assert_int_equal(workflow_audit(f->w, &c, 0, &r), EPH_ERR_FORBIDDEN);
	c = caller(f, "aud", NULL);
	assert_int_equal(workflow_audit(f->w, &c, 0, &r), EPH_OK);
	a = json_object_get(r.object, "records");
	/* request, request + issue */
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 2), "type")), "issue");
	assert_int_equal(json_integer_value(json_object_get(r.object, "next")), 3);
	assert_int_equal(workflow_audit(f->w, &c, 2, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.object, "records")), 1);
	workflow_reply_clear(&r);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_auto_issue, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_key, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_two_approvers, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_clauses, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_deny_final, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry_on_read, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_wins, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_break_glass, setup, teardown),
	    cmocka_unit_test(test_webhook_queue),
	    cmocka_unit_test_setup_teardown(test_limits, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_restart, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_issuance, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restored_backup_keeps_revocations, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_unix_socket_source, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_visibility, setup_started, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

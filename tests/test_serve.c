/* sshca serve's backend (ca/serve.c) over a real signer, store and
 * workflow: callers mapped, replies passed through, the public routes and
 * the metrics. The daemon as a whole is tests/e2e/ca_serve.sh. */
#include "config.h"

#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <setjmp.h>

#include <cmocka.h>

#include "api.h"
#include "buf.h"
#include "caconf.h"
#include "err.h"
#include "serve.h"
#include "session.h"
#include "signer.h"
#include "store.h"
#include "testutil.h"
#include "workflow.h"

struct fx {
	char *dir;
	char me[256];
	char *pub;
	struct ca_conf *cc;
	struct signer *sg;
	struct store *st;
	struct workflow *wf;
	struct serve_backend be;
};

static int
setup(void **state)
{
	struct policy_errors errs = {NULL, 0};
	struct fx *f = calloc(1, sizeof(*f));
	struct passwd *pw = getpwuid(getuid());
	struct store_opts so;
	char *text = NULL, *p, *out = NULL, *why = NULL;
	size_t n;

	assert_non_null(f);
	assert_non_null(pw);
	snprintf(f->me, sizeof(f->me), "%s", pw->pw_name);
	f->dir = tu_mkdtemp();
	assert_int_equal(tu_run(&out, "'%s' init --key '%s/ca'", tu_sshca(), f->dir), 0);
	free(out);
	assert_int_equal(
	    tu_run(&out, "'%s' -q -t ed25519 -N '' -f '%s/user'", tu_ssh_keygen(), f->dir), 0);
	free(out);
	p = tu_path(f->dir, "user.pub");
	f->pub = tu_read_file(p, &n);
	free(p);
	assert_non_null(f->pub);
	*strchr(strchr(f->pub, ' ') + 1, ' ') = '\0'; /* "TYPE BASE64" */

	assert_true(asprintf(&text,
	                "tasks = ( { name = \"ping\"; requesters = [ \"%s\" ];\n"
	                "  hosts = [ \"web01.example.com\" ]; login_as = \"deploy\"; } );\n",
	                f->me) > 0);
	p = tu_path(f->dir, "policy.conf");
	assert_int_equal(tu_write_file(p, text, strlen(text), 0644), 0);
	free(p);
	free(text);
	assert_true(asprintf(&text,
	                "ca_key = \"%s/ca\";\npolicy = \"%s/policy.conf\";\n"
	                "revoked_keys = \"%s/krl\";\ndatabase = \"%s/ca.db\";\n",
	                f->dir, f->dir, f->dir, f->dir) > 0);
	p = tu_path(f->dir, "ca.conf");
	assert_int_equal(tu_write_file(p, text, strlen(text), 0644), 0);
	assert_int_equal(caconf_load(p, &f->cc, &errs), EPH_OK);
	free(p);
	free(text);

	assert_int_equal(signer_start(f->cc, NULL, &f->sg, &why), EPH_OK);
	memset(&so, 0, sizeof(so));
	so.database = f->cc->database;
	p = tu_path(f->dir, "krl.serial");
	so.serial_file = p;
	so.no_log = 1;
	assert_int_equal(store_open(&so, &f->st), EPH_OK);
	free(p);
	{
		struct workflow_opts wo;

		memset(&wo, 0, sizeof(wo));
		wo.cc = f->cc;
		wo.store = f->st;
		wo.signer = f->sg;
		assert_int_equal(workflow_open(&wo, &f->wf, &why), EPH_OK);
	}
	f->be.cc = f->cc;
	f->be.wf = f->wf;
	f->be.signer = f->sg;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	workflow_close(f->wf);
	store_close(f->st);
	signer_stop(f->sg, 5000, NULL);
	caconf_free(f->cc);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->pub);
	free(f);
	return 0;
}

static void
caller_me(const struct fx *f, struct ca_caller *c)
{
	memset(c, 0, sizeof(*c));
	c->via = CA_VIA_UNIX;
	c->authenticated = 1;
	snprintf(c->user, sizeof(c->user), "%s", f->me);
	c->uid = getuid();
	c->gid = getgid();
	c->pid = getpid();
}

static void
test_backend(void **state)
{
	struct fx *f = *state;
	const struct ca_api_backend *be = &serve_api_backend;
	struct ca_request_input in;
	struct ca_list_query q;
	struct ca_caller c;
	struct ca_reply r;
	struct ca_krl krl;
	struct buf m;
	char *hosts[] = {"web01.example.com"}, *text = NULL, id[API_ID_LEN + 1];

	assert_non_null(be->login);
	assert_non_null(be->session_check);

	caller_me(f, &c);
	memset(&in, 0, sizeof(in));
	in.task = "ping";
	in.hosts = hosts;
	in.nhosts = 1;
	in.public_key = f->pub;
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_create(&f->be, &c, &in, &r), EPH_OK);
	assert_non_null(r.body);
	assert_string_equal(json_string_value(json_object_get(r.body, "state")), "issued");
	assert_string_equal(json_string_value(json_object_get(r.body, "requester")), f->me);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.body, "id")));
	json_decref(r.body);

	/* The caller's own request, and the list. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_get(&f->be, &c, id, &r), EPH_OK);
	json_decref(r.body);
	memset(&q, 0, sizeof(q));
	q.state = CA_STATE_ISSUED;
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_list(&f->be, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.body, "requests")), 1);
	json_decref(r.body);
	q.state = CA_STATE_PENDING;
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_list(&f->be, &c, &q, &r), EPH_OK);
	assert_int_equal(json_array_size(json_object_get(r.body, "requests")), 0);
	json_decref(r.body);

	/* An unknown id is a 404 with the workflow's words. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_get(&f->be, &c, "r-0000000000000000", &r), EPH_ERR_NOTFOUND);
	assert_true(r.detail[0] != '\0');
	json_decref(r.body);

	/* No caller, no request. */
	c.authenticated = 0;
	c.user[0] = '\0';
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_create(&f->be, &c, &in, &r), EPH_ERR_UNAUTHENTICATED);
	json_decref(r.body);
	caller_me(f, &c);

	/* Revoke: the KRL's version moves. */
	memset(&krl, 0, sizeof(krl));
	assert_int_equal(be->krl_get(&f->be, &krl), EPH_OK);
	free(krl.data);
	{
		uint64_t v0 = krl.version;

		memset(&r, 0, sizeof(r));
		assert_int_equal(be->request_revoke(&f->be, &c, id, "done", &r), EPH_OK);
		assert_string_equal(json_string_value(json_object_get(r.body, "state")), "revoked");
		json_decref(r.body);
		memset(&krl, 0, sizeof(krl));
		assert_int_equal(be->krl_get(&f->be, &krl), EPH_OK);
		assert_true(krl.version > v0);
		assert_true(krl.len > 0);
		free(krl.data);
	}

	/* Public routes. */
	assert_int_equal(be->ca_pub(&f->be, &text), EPH_OK);
	assert_memory_equal(text, "ssh-ed25519 ", 12);
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->health(&f->be, &r), EPH_OK);
	json_decref(r.body);
	buf_init(&m);
	assert_int_equal(be->metrics(&f->be, &m), EPH_OK);
	assert_int_equal(buf_put(&m, "", 1), EPH_OK);
	tu_assert_contains((const char *)m.d, "\nsshca_issuances_total 1\n");
	tu_assert_contains((const char *)m.d, "\nsshca_signer_signatures_total 1\n");
	tu_assert_contains((const char *)m.d, "\nsshca_revocations_total 1\n");
	tu_assert_contains((const char *)m.d, "sshca_requests_created_total{state=\"issued\"} 1\n");
	/* The store's commits: how many the workflow makes of an issuance
	 * and a revocation is its business; that they are counted is ours. */
	tu_assert_contains((const char *)m.d, "# TYPE sshca_store_commit_seconds histogram\n");
	tu_assert_contains(
	    (const char *)m.d, "\nsshca_store_commit_seconds_bucket{le=\"0.0005\"} ");
	tu_assert_contains((const char *)m.d, "\nsshca_store_commit_seconds_bucket{le=\"1\"} ");
	tu_assert_contains((const char *)m.d, "\nsshca_store_commit_seconds_sum ");
	tu_assert_contains((const char *)m.d, "\nsshca_store_commit_failures_total 0\n");
	{
		const char *inf =
		    strstr((const char *)m.d, "sshca_store_commit_seconds_bucket{le=\"+Inf\"} ");
		const char *cnt = strstr((const char *)m.d, "\nsshca_store_commit_seconds_count ");
		unsigned long long ninf, ncount;

		assert_non_null(inf);
		assert_non_null(cnt);
		ninf = strtoull(strchr(inf, '}') + 2, NULL, 10);
		ncount = strtoull(cnt + strlen("\nsshca_store_commit_seconds_count "), NULL, 10);
		assert_true(ncount >= 2); /* the issuance's and the revocation's */
		assert_int_equal(ninf, ncount);
	}
	buf_free(&m);

	/* The audit log is for admins and auditors. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->audit_since(&f->be, &c, 0, &r), EPH_ERR_FORBIDDEN);
	json_decref(r.body);
}

/* Login and session_check through the adapter: a login over the Unix
 * socket is refused, without sessions nothing opens, a refused password
 * is a 401, and a stored session's token makes a TLS caller with the
 * same powers as the Unix one (PAM itself: tests/test_session.c). */
static void
test_login_wiring(void **state)
{
	struct fx *f = *state;
	const struct ca_api_backend *be = &serve_api_backend;
	static const char token[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct store_event ev = {AUDIT_LOGIN, NULL, NULL, NULL, 0};
	struct session_opts so;
	struct store_session ss;
	struct ca_login_input lin;
	struct ca_request_input in;
	struct ca_caller c;
	struct ca_reply r;
	char pw[] = "not the password", *hosts[] = {"web01.example.com"};
	uint8_t h[STORE_TOKEN_HASH_LEN];
	unsigned hl = 0;

	memset(&lin, 0, sizeof(lin));
	lin.user = f->me;
	lin.password = pw;
	memset(&r, 0, sizeof(r));
	caller_me(f, &c);
	assert_int_equal(be->login(&f->be, &c, &lin, &r), EPH_ERR_INVAL);
	tu_assert_contains(r.detail, "over TLS");
	assert_int_equal(pw[0], '\0');

	memset(&c, 0, sizeof(c));
	c.via = CA_VIA_TLS;
	c.uid = (uid_t)-1;
	snprintf(c.address, sizeof(c.address), "192.0.2.9");
	memset(&r, 0, sizeof(r));
	snprintf(pw, sizeof(pw), "not the password");
	assert_int_equal(be->login(&f->be, &c, &lin, &r), EPH_ERR_STORE_FULL);
	assert_int_equal(be->session_check(&f->be, token, &c), EPH_ERR_UNAUTHENTICATED);

	memset(&so, 0, sizeof(so));
	so.service = "sshca-ephtest-no-such-service";
	so.fail_delay_ms = 1;
	so.lock = serve_store_lock;
	so.unlock = serve_store_unlock;
	so.lock_ctx = &f->be;
	assert_int_equal(session_new(&so, &f->be.sessions), EPH_OK);
	memset(&r, 0, sizeof(r));
	snprintf(pw, sizeof(pw), "not the password");
	assert_int_equal(be->login(&f->be, &c, &lin, &r), EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(r.detail, "login refused");
	assert_null(r.body);

	/* A session as a login stores it. */
	assert_int_equal(be->session_check(&f->be, token, &c), EPH_ERR_UNAUTHENTICATED);
	memset(&ss, 0, sizeof(ss));
	snprintf(ss.user, sizeof(ss.user), "%s", f->me);
	ss.uid = getuid();
	ss.created = (int64_t)time(NULL);
	ss.expires = ss.created + 60;
	assert_int_equal(EVP_Digest(token, strlen(token), h, &hl, EVP_sha256(), NULL), 1);
	assert_int_equal(store_put_session(f->st, h, &ss, &ev), EPH_OK);
	assert_int_equal(be->session_check(&f->be, token, &c), EPH_OK);
	assert_string_equal(c.user, f->me);
	assert_int_equal(c.uid, getuid());
	c.authenticated = 1;
	memset(&in, 0, sizeof(in));
	in.task = "ping";
	in.hosts = hosts;
	in.nhosts = 1;
	in.public_key = f->pub;
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->request_create(&f->be, &c, &in, &r), EPH_OK);
	assert_string_equal(json_string_value(json_object_get(r.body, "state")), "issued");
	assert_string_equal(json_string_value(json_object_get(r.body, "requester")), f->me);
	json_decref(r.body);
	session_free(f->be.sessions);
	f->be.sessions = NULL;
}

/* Logout through the adapter: refused on the Unix socket, ends a TLS
 * session once (its token is then refused, a second logout too), and
 * leaves a logout record in the audit chain. */
static void
test_logout(void **state)
{
	struct fx *f = *state;
	const struct ca_api_backend *be = &serve_api_backend;
	static const char token[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct store_event ev = {AUDIT_LOGIN, NULL, NULL, NULL, 0};
	struct audit_query aq = {NULL, 0, 0, 0};
	struct audit_list al = {NULL, 0};
	struct audit_chain ch;
	struct session_opts so;
	struct store_session ss;
	struct ca_caller c;
	struct ca_reply r;
	struct buf m;
	uint8_t h[STORE_TOKEN_HASH_LEN];
	unsigned hl = 0;
	size_t i, nlogout = 0;

	assert_non_null(be->logout);
	caller_me(f, &c);
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->logout(&f->be, &c, NULL, &r), EPH_ERR_INVAL);
	tu_assert_contains(r.detail, "no session to end on the Unix socket");
	assert_null(r.body);

	memset(&so, 0, sizeof(so));
	so.service = "sshca-ephtest-no-such-service";
	so.lock = serve_store_lock;
	so.unlock = serve_store_unlock;
	so.lock_ctx = &f->be;
	assert_int_equal(session_new(&so, &f->be.sessions), EPH_OK);
	memset(&ss, 0, sizeof(ss));
	snprintf(ss.user, sizeof(ss.user), "%s", f->me);
	ss.uid = getuid();
	ss.created = (int64_t)time(NULL);
	ss.expires = ss.created + 60;
	assert_int_equal(EVP_Digest(token, strlen(token), h, &hl, EVP_sha256(), NULL), 1);
	assert_int_equal(store_put_session(f->st, h, &ss, &ev), EPH_OK);

	memset(&c, 0, sizeof(c));
	c.via = CA_VIA_TLS;
	assert_int_equal(be->session_check(&f->be, token, &c), EPH_OK);
	c.authenticated = 1;
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->logout(&f->be, &c, token, &r), EPH_OK);
	assert_true(json_is_true(json_object_get(r.body, "ok")));
	json_decref(r.body);
	/* Ended: the token opens nothing, and cannot end it again. */
	assert_int_equal(be->session_check(&f->be, token, &c), EPH_ERR_UNAUTHENTICATED);
	memset(&r, 0, sizeof(r));
	assert_int_equal(be->logout(&f->be, &c, token, &r), EPH_ERR_UNAUTHENTICATED);
	json_decref(r.body);

	assert_int_equal(store_audit_list(f->st, &aq, &al), EPH_OK);
	for (i = 0; i < al.n; i++)
		if (strcmp(al.v[i].type, "logout") == 0) {
			nlogout++;
			assert_string_equal(al.v[i].actor, f->me);
		}
	assert_int_equal(nlogout, 1);
	audit_list_free(&al);
	assert_int_equal(store_audit_verify(f->st, &ch), EPH_OK);

	buf_init(&m);
	assert_int_equal(be->metrics(&f->be, &m), EPH_OK);
	assert_int_equal(buf_put(&m, "", 1), EPH_OK);
	tu_assert_contains((const char *)m.d, "\nsshca_logouts_total 1\n");
	buf_free(&m);
	session_free(f->be.sessions);
	f->be.sessions = NULL;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_backend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_wiring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logout, setup, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

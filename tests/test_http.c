/* The HTTP front (ca/http.c, ca/api.c): the pure validators, then the real
 * server on a temp Unix socket (and a loopback TLS port) with a fake
 * backend that records its calls, driven with libcurl and raw sockets. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api.h"
#include "b64.h"
#include "buf.h"
#include "err.h"
#include "http.h"
#include "key.h"
#include "testutil.h"

/* ----------------------------------------------------------- the fake */

struct fake {
	pthread_mutex_t mu;
	char last[64]; /* the member last called */
	unsigned calls;
	struct ca_caller caller;
	char id[API_ID_LEN + 1];
	char text[API_MAX_TEXT + 1];
	int text_null;
	struct ca_list_query lq;
	uint64_t since;
	char task[API_MAX_NAME + 1];
	size_t nhosts;
	char host0[API_MAX_NAME + 2];
	uint64_t ttl;
	char public_key[1024];
	char login_user[64];
	char logout_token[64];
	int logout_token_null;
	/* What to answer. */
	int ret;
	const char *ret_detail;
	int ret_with_body;
	const char *ret_error; /* an "error" the body brings itself */
	uint64_t krl_version;
	unsigned delay_ms; /* request_get sleeps this long */
};

static struct fake fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
fake_reset(void)
{
	pthread_mutex_lock(&fake.mu);
	memset(fake.last, 0, sizeof(fake.last));
	fake.calls = 0;
	memset(&fake.caller, 0, sizeof(fake.caller));
	fake.id[0] = fake.text[0] = fake.task[0] = fake.host0[0] = '\0';
	fake.text_null = 0;
	fake.ret = EPH_OK;
	fake.ret_detail = NULL;
	fake.ret_with_body = 0;
	fake.ret_error = NULL;
	fake.krl_version = 7;
	fake.delay_ms = 0;
	fake.logout_token[0] = '\0';
	fake.logout_token_null = 0;
	pthread_mutex_unlock(&fake.mu);
}

static void
fake_record(const char *what, const struct ca_caller *c)
{
	pthread_mutex_lock(&fake.mu);
	(void)snprintf(fake.last, sizeof(fake.last), "%s", what);
	fake.calls++;
	if (c != NULL)
		fake.caller = *c;
	pthread_mutex_unlock(&fake.mu);
}

static int
fake_answer(struct ca_reply *r, const char *what, const char *id)
{
	if (fake.ret_detail != NULL)
		ca_reply_detail(r, "%s", fake.ret_detail);
	if (fake.ret == EPH_OK || fake.ret_with_body)
		r->body = json_pack(
		    "{s:s, s:s}", "id", id != NULL ? id : "r-00000000000000aa", "called", what);
	if (fake.ret_error != NULL && r->body != NULL)
		(void)json_object_set_new(r->body, "error", json_string(fake.ret_error));
	return fake.ret;
}

static int
fk_create(
    void *ctx, const struct ca_caller *c, const struct ca_request_input *in, struct ca_reply *r)
{
	fake_record("create", c);
	pthread_mutex_lock(&fake.mu);
	(void)snprintf(fake.task, sizeof(fake.task), "%s", in->task);
	fake.nhosts = in->nhosts;
	(void)snprintf(fake.host0, sizeof(fake.host0), "%s", in->hosts[0]);
	fake.ttl = in->ttl;
	(void)snprintf(fake.public_key, sizeof(fake.public_key), "%s", in->public_key);
	(void)snprintf(fake.text, sizeof(fake.text), "%s", in->reason ? in->reason : "");
	pthread_mutex_unlock(&fake.mu);
	return fake_answer(r, "create", "r-0123456789abcdef");
}

static int
fk_get(void *ctx, const struct ca_caller *c, const char *id, struct ca_reply *r)
{
	fake_record("get", c);
	if (fake.delay_ms > 0)
		usleep(fake.delay_ms * 1000u);
	pthread_mutex_lock(&fake.mu);
	(void)snprintf(fake.id, sizeof(fake.id), "%s", id);
	pthread_mutex_unlock(&fake.mu);
	return fake_answer(r, "get", id);
}

static int
fk_list(void *ctx, const struct ca_caller *c, const struct ca_list_query *q, struct ca_reply *r)
{
	fake_record("list", c);
	pthread_mutex_lock(&fake.mu);
	fake.lq = *q;
	pthread_mutex_unlock(&fake.mu);
	if (fake.ret != EPH_OK)
		return fake_answer(r, "list", NULL);
	r->body = json_pack("{s:[]}", "requests");
	return EPH_OK;
}

static int
fk_action(const char *what, const struct ca_caller *c, const char *id, const char *text,
    struct ca_reply *r)
{
	fake_record(what, c);
	pthread_mutex_lock(&fake.mu);
	(void)snprintf(fake.id, sizeof(fake.id), "%s", id);
	fake.text_null = text == NULL;
	(void)snprintf(fake.text, sizeof(fake.text), "%s", text != NULL ? text : "");
	pthread_mutex_unlock(&fake.mu);
	return fake_answer(r, what, id);
}

static int
fk_approve(void *ctx, const struct ca_caller *c, const char *id, const char *t, struct ca_reply *r)
{
	return fk_action("approve", c, id, t, r);
}
static int
fk_deny(void *ctx, const struct ca_caller *c, const char *id, const char *t, struct ca_reply *r)
{
	return fk_action("deny", c, id, t, r);
}
static int
fk_cancel(void *ctx, const struct ca_caller *c, const char *id, const char *t, struct ca_reply *r)
{
	return fk_action("cancel", c, id, t, r);
}
static int
fk_revoke(void *ctx, const struct ca_caller *c, const char *id, const char *t, struct ca_reply *r)
{
	return fk_action("revoke", c, id, t, r);
}
static int
fk_review(void *ctx, const struct ca_caller *c, const char *id, const char *t, struct ca_reply *r)
{
	return fk_action("review", c, id, t, r);
}

static int
fk_krl(void *ctx, struct ca_krl *out)
{
	static const uint8_t blob[] = {'S', 'S', 'H', 'K', 'R', 'L', '\n', 0, 1, 2, 3};

	fake_record("krl", NULL);
	if ((out->data = malloc(sizeof(blob))) == NULL)
		return EPH_ERR_NOMEM;
	memcpy(out->data, blob, sizeof(blob));
	out->len = sizeof(blob);
	out->version = fake.krl_version;
	return EPH_OK;
}

static int
fk_ca_pub(void *ctx, char **text)
{
	fake_record("ca_pub", NULL);
	*text = strdup("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake ca\n");
	return *text != NULL ? EPH_OK : EPH_ERR_NOMEM;
}

static int
fk_audit(void *ctx, const struct ca_caller *c, uint64_t since, struct ca_reply *r)
{
	fake_record("audit", c);
	pthread_mutex_lock(&fake.mu);
	fake.since = since;
	pthread_mutex_unlock(&fake.mu);
	r->body = json_pack("{s:[], s:I}", "records", "next", (json_int_t)since);
	return EPH_OK;
}

static int
fk_health(void *ctx, struct ca_reply *r)
{
	fake_record("health", NULL);
	if (fake.ret != EPH_OK)
		return fake_answer(r, "health", NULL);
	r->body = json_pack("{s:s}", "status", "ok");
	return EPH_OK;
}

static int
fk_metrics(void *ctx, struct buf *out)
{
	static const char m[] = "# TYPE sshca_issued_total counter\nsshca_issued_total 42\n";

	return buf_put(out, m, sizeof(m) - 1);
}

static int
fk_login(void *ctx, const struct ca_caller *c, const struct ca_login_input *in, struct ca_reply *r)
{
	fake_record("login", c);
	pthread_mutex_lock(&fake.mu);
	(void)snprintf(fake.login_user, sizeof(fake.login_user), "%s", in->user);
	pthread_mutex_unlock(&fake.mu);
	if (strcmp(in->password, "secret") != 0) {
		ca_reply_detail(r, "wrong user or password");
		return EPH_ERR_UNAUTHENTICATED;
	}
	r->body = json_pack("{s:s, s:I}", "token", "good-token", "expires", (json_int_t)1);
	return EPH_OK;
}

static int
fk_session(void *ctx, const char *token, struct ca_caller *c)
{
	if (strcmp(token, "good-token") != 0)
		return EPH_ERR_UNAUTHENTICATED;
	(void)snprintf(c->user, sizeof(c->user), "alice");
	c->uid = 1234;
	return EPH_OK;
}

/* As serve.c answers: no session on the Unix socket. */
static int
fk_logout(void *ctx, const struct ca_caller *c, const char *token, struct ca_reply *r)
{
	fake_record("logout", c);
	pthread_mutex_lock(&fake.mu);
	fake.logout_token_null = token == NULL;
	(void)snprintf(fake.logout_token, sizeof(fake.logout_token), "%s", token ? token : "");
	pthread_mutex_unlock(&fake.mu);
	if (token == NULL) {
		ca_reply_detail(r, "there is no session to end on the Unix socket");
		return EPH_ERR_INVAL;
	}
	r->body = json_pack("{s:b}", "ok", 1);
	return EPH_OK;
}

static const struct ca_api_backend fake_backend = {
    .request_create = fk_create,
    .request_get = fk_get,
    .request_list = fk_list,
    .request_approve = fk_approve,
    .request_deny = fk_deny,
    .request_cancel = fk_cancel,
    .request_revoke = fk_revoke,
    .request_review = fk_review,
    .krl_get = fk_krl,
    .ca_pub = fk_ca_pub,
    .audit_since = fk_audit,
    .health = fk_health,
    .metrics = fk_metrics,
    .login = fk_login,
    .session_check = fk_session,
    .logout = fk_logout,
};

/* ------------------------------------------------------------ fixtures */

struct env {
	char *dir;
	char *sock;
	struct http_server *srv;
	char *ed_line; /* an Ed25519 public key line */
};

static struct env *G;

static char *
ed25519_line(void)
{
	struct key *k = NULL;
	char *line = NULL;

	assert_int_equal(key_generate(KEY_ED25519, 0, &k), EPH_OK);
	assert_int_equal(key_format_public_line(k, "test@host", &line), EPH_OK);
	key_free(k);
	return line;
}

static int
group_setup(void **state)
{
	struct http_config cfg = {0};
	struct env *e = calloc(1, sizeof(*e));
	char why[256];

	if (e == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_ALL);
	e->dir = tu_mkdtemp();
	e->sock = tu_path(e->dir, "sshca.sock");
	cfg.socket_path = e->sock;
	cfg.threads = 2;
	cfg.timeout = 1;
	if (http_server_open(&cfg, &fake_backend, NULL, &e->srv, why, sizeof(why)) != EPH_OK) {
		fprintf(stderr, "http_server_open: %s\n", why);
		return -1;
	}
	if (http_server_start(e->srv) != EPH_OK)
		return -1;
	e->ed_line = ed25519_line();
	G = e;
	*state = e;
	return 0;
}

static int
group_teardown(void **state)
{
	struct env *e = *state;

	http_server_free(e->srv);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->sock);
	free(e->ed_line);
	free(e);
	curl_global_cleanup();
	return 0;
}

static int
test_setup(void **state)
{
	fake_reset();
	return 0;
}

static int
dir_setup(void **state)
{
	fake_reset();
	return tu_dir_setup(state);
}

/* -------------------------------------------------------- curl helper */

struct resp {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	char headers[8192];
	size_t hlen;
	json_t *json;
	CURLcode rc;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	char *nb = realloc(r->body, r->len + sz * n + 1);

	if (nb == NULL)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, p, sz * n);
	r->len += sz * n;
	r->body[r->len] = '\0';
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;

	if (r->hlen + len < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, p, len);
		r->hlen += len;
		r->headers[r->hlen] = '\0';
	}
	return len;
}

static void
resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * One request. body NULL: none. ctype NULL with a body: application/json.
 * hdr: extra header lines (NULL-terminated) or NULL. url: a full URL for
 * TLS (sock NULL), else a path on the Unix socket.
 */
static void
req_full(const char *sock, const char *method, const char *url, const char *ctype, const void *body,
    size_t n, const char *const *hdr, const char *cainfo, struct resp *r)
{
	struct curl_slist *h = NULL;
	char full[1024], ct[128];
	CURL *c = curl_easy_init();

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	if (sock != NULL) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
		(void)snprintf(full, sizeof(full), "http://localhost%s", url);
	} else {
		(void)snprintf(full, sizeof(full), "%s", url);
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		(void)snprintf(
		    ct, sizeof(ct), "Content-Type: %s", ctype != NULL ? ctype : "application/json");
		h = curl_slist_append(h, ct);
	}
	for (; hdr != NULL && *hdr != NULL; hdr++)
		h = curl_slist_append(h, *hdr);
	if (h != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (cainfo != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->body != NULL)
		r->json = json_loads(r->body, 0, NULL);
}

static void
req(const char *method, const char *path, const char *body, struct resp *r)
{
	req_full(G->sock, method, path, NULL, body, body != NULL ? strlen(body) : 0, NULL, NULL, r);
	assert_int_equal(r->rc, CURLE_OK);
}

static const char *
jstr(const struct resp *r, const char *key)
{
	json_t *v = json_object_get(r->json, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* An error answer: status, the JSON error shape, and detail holding what. */
static void
expect_error(const struct resp *r, long status, const char *token, const char *detail_has)
{
	if (r->status != status)
		fail_msg("status %ld, expected %ld; body %s", r->status, status,
		    r->body != NULL ? r->body : "(none)");
	assert_non_null(r->json);
	assert_string_equal(jstr(r, "error"), token);
	assert_true(json_is_string(json_object_get(r->json, "detail")));
	if (detail_has != NULL)
		tu_assert_contains(jstr(r, "detail"), detail_has);
}

/* (noinline: GCC 12 misreads asprintf's out-pointer as dangling) */
static __attribute__((noinline)) char *
create_body(const char *extra_fields)
{
	char *b = NULL;

	if (asprintf(&b,
	        "{\"task\": \"db-maint\", \"hosts\": [\"DB01.example.com\", \"@db\"], "
	        "\"ttl\": \"10m\", \"reason\": \"INC-4711 vacuum\", \"public_key\": \"%s\"%s}",
	        G->ed_line, extra_fields != NULL ? extra_fields : "") < 0)
		fail();
	return b;
}

/* ------------------------------------------------------ pure: paths etc. */

static void
test_id_valid(void **state)
{
	assert_true(api_id_valid("r-0123456789abcdef"));
	assert_false(api_id_valid("r-0123456789ABCDEF"));
	assert_false(api_id_valid("r-0123456789abcde"));
	assert_false(api_id_valid("r-0123456789abcdef0"));
	assert_false(api_id_valid("x-0123456789abcdef"));
	assert_false(api_id_valid("r-0123456789abcdeg"));
	assert_false(api_id_valid(""));
	assert_false(api_id_valid(NULL));
}

static void
test_path_parse(void **state)
{
	struct api_path p;
	char d[API_DETAIL_MAX];

	assert_int_equal(api_path_parse("/v1/requests", &p, d, sizeof(d)), EPH_OK);
	assert_int_equal(p.route, API_ROUTE_REQUESTS);
	assert_int_equal(api_path_parse("/v1/requests/r-0123456789abcdef", &p, d, sizeof(d)), 0);
	assert_int_equal(p.route, API_ROUTE_REQUEST);
	assert_string_equal(p.id, "r-0123456789abcdef");
	assert_int_equal(
	    api_path_parse("/v1/requests/r-0123456789abcdef/revoke", &p, d, sizeof(d)), 0);
	assert_int_equal(p.route, API_ROUTE_REVOKE);
	assert_int_equal(
	    api_path_parse("/v1/requests/r-12/approve", &p, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "malformed request id \"r-12\"");
	assert_int_equal(api_path_parse("/v1/requests/r-0123456789abcdef/frob", &p, d, sizeof(d)),
	    EPH_ERR_NOTFOUND);
	assert_int_equal(api_path_parse("/v1/requests/", &p, d, sizeof(d)), EPH_ERR_INVAL);
	assert_int_equal(
	    api_path_parse("/v1/requests/r-0123456789abcdef/", &p, d, sizeof(d)), EPH_ERR_NOTFOUND);
	assert_int_equal(api_path_parse("/v1/krl/", &p, d, sizeof(d)), EPH_ERR_NOTFOUND);
	assert_int_equal(api_path_parse("/v1/%6brl", &p, d, sizeof(d)), EPH_ERR_NOTFOUND);
	assert_int_equal(api_path_parse("/", &p, d, sizeof(d)), EPH_ERR_NOTFOUND);
	assert_int_equal(api_path_parse("/metrics", &p, d, sizeof(d)), EPH_OK);
	assert_int_equal(p.route, API_ROUTE_METRICS);
	assert_string_equal(api_route_allow(API_ROUTE_REQUESTS), "GET, HEAD, POST");
	assert_string_equal(api_route_allow(API_ROUTE_APPROVE), "POST");
	assert_string_equal(api_route_allow(API_ROUTE_KRL), "GET, HEAD");
	assert_false(api_route_needs_auth(API_ROUTE_KRL));
	assert_true(api_route_needs_auth(API_ROUTE_AUDIT));
	assert_int_equal(api_path_parse("/v1/logout", &p, d, sizeof(d)), EPH_OK);
	assert_int_equal(p.route, API_ROUTE_LOGOUT);
	assert_string_equal(api_route_allow(API_ROUTE_LOGOUT), "POST");
	assert_true(api_route_needs_auth(API_ROUTE_LOGOUT));
	assert_string_equal(api_route_name(API_ROUTE_LOGOUT), "/v1/logout");
}

static void
test_query_parse(void **state)
{
	struct api_query q;
	struct ca_list_query lq;
	uint64_t since;
	char s[256], d[API_DETAIL_MAX];

	strcpy(s, "state=pending&mine=1&task=db-maint");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_OK);
	assert_int_equal(lq.state, CA_STATE_PENDING);
	assert_int_equal(lq.mine, 1);
	assert_string_equal(lq.task, "db-maint");

	assert_int_equal(lq.review, CA_REVIEW_ANY);

	strcpy(s, "task=db%2Dmaint");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_OK);
	assert_string_equal(lq.task, "db-maint");

	strcpy(s, "review=open");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_OK);
	assert_int_equal(lq.review, CA_REVIEW_OPEN);
	strcpy(s, "review=closed&state=issued");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_OK);
	assert_int_equal(lq.review, CA_REVIEW_CLOSED);
	assert_int_equal(lq.state, CA_STATE_ISSUED);
	strcpy(s, "review=none");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "unknown review \"none\": expected open or closed");

	strcpy(s, "state=bogus");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "unknown state \"bogus\"");
	strcpy(s, "colour=red");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "unknown query argument \"colour\"");
	strcpy(s, "mine=1&mine=0");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "given twice");
	strcpy(s, "task=a%00b");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	strcpy(s, "task=a%zz");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	strcpy(s, "task=a+b");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	strcpy(s, "mine");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	strcpy(s, "mine=yes");
	api_query_split(s, &q);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);
	strcpy(s, "a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q");
	api_query_split(s, &q);
	assert_true(q.overflow);
	assert_int_equal(api_list_query_parse(&q, &lq, d, sizeof(d)), EPH_ERR_INVAL);

	strcpy(s, "since=42");
	api_query_split(s, &q);
	assert_int_equal(api_audit_query_parse(&q, &since, d, sizeof(d)), EPH_OK);
	assert_int_equal(since, 42);
	strcpy(s, "since=-1");
	api_query_split(s, &q);
	assert_int_equal(api_audit_query_parse(&q, &since, d, sizeof(d)), EPH_ERR_INVAL);
	strcpy(s, "");
	api_query_split(s, &q);
	assert_int_equal(api_audit_query_parse(&q, &since, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "since: required");
	assert_int_equal(api_no_query(&q, d, sizeof(d)), EPH_OK);
	strcpy(s, "x=1");
	api_query_split(s, &q);
	assert_int_equal(api_no_query(&q, d, sizeof(d)), EPH_ERR_INVAL);
}

static void
test_bearer_parse(void **state)
{
	char tok[API_MAX_TOKEN + 1];

	assert_int_equal(api_bearer_parse("Bearer abc-DEF_1.2", tok, sizeof(tok)), EPH_OK);
	assert_string_equal(tok, "abc-DEF_1.2");
	assert_int_equal(api_bearer_parse("bearer  xyz ", tok, sizeof(tok)), EPH_OK);
	assert_string_equal(tok, "xyz");
	assert_int_equal(api_bearer_parse(NULL, tok, sizeof(tok)), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(
	    api_bearer_parse("Basic eHg6eXk=", tok, sizeof(tok)), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(api_bearer_parse("Bearer ", tok, sizeof(tok)), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(api_bearer_parse("Bearer a b", tok, sizeof(tok)), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(
	    api_bearer_parse("Bearer a\"b", tok, sizeof(tok)), EPH_ERR_UNAUTHENTICATED);
}

static void
test_status_map(void **state)
{
	assert_int_equal(api_http_status(EPH_ERR_INVAL), 400);
	assert_int_equal(api_http_status(EPH_ERR_WEAKKEY), 400);
	assert_int_equal(api_http_status(EPH_ERR_UNAUTHENTICATED), 401);
	assert_int_equal(api_http_status(EPH_ERR_FORBIDDEN), 403);
	assert_int_equal(api_http_status(EPH_ERR_NOTFOUND), 404);
	assert_int_equal(api_http_status(EPH_ERR_CONFLICT), 409);
	assert_int_equal(api_http_status(EPH_ERR_LIMIT), 429);
	assert_int_equal(api_http_status(EPH_ERR_STORE_FULL), 503);
	assert_int_equal(api_http_status(EPH_ERR_BUSY), 503);
	assert_int_equal(api_http_status(EPH_ERR_IO), 500);
	assert_int_equal(api_http_status(EPH_ERR_PERM), 500);
	assert_string_equal(api_error_token(409), "conflict");
	assert_string_equal(api_error_token(599), "internal");
}

/* A public key line of type name around an arbitrary blob that starts
 * with that name: what a certificate or a DSA key line looks like to a
 * parser that stops at the type. */
static char *
fake_key_line(const char *name)
{
	struct buf b;
	char *enc, *line = NULL;

	buf_init(&b);
	assert_int_equal(buf_put_cstring(&b, name), EPH_OK);
	assert_int_equal(buf_put_string(&b, "xxxxxxxx", 8), EPH_OK);
	enc = b64_encode(b.d, b.len);
	assert_non_null(enc);
	assert_true(asprintf(&line, "%s %s c", name, enc) > 0);
	free(enc);
	buf_free(&b);
	return line;
}

static void
test_public_key_check(void **state)
{
	struct key *k = NULL;
	char d[API_DETAIL_MAX], *line, *out = NULL;
	int rc;

	assert_int_equal(api_public_key_check(G->ed_line, &k, d, sizeof(d)), EPH_OK);
	key_free(k);
	assert_int_equal(api_public_key_check("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"
	                                      "-----END OPENSSH PRIVATE KEY-----\n",
	                     &k, d, sizeof(d)),
	    EPH_ERR_KEYTYPE);
	tu_assert_contains(d, "private key");
	line = fake_key_line("ssh-ed25519-cert-v01@openssh.com");
	assert_int_equal(api_public_key_check(line, &k, d, sizeof(d)), EPH_ERR_KEYTYPE);
	tu_assert_contains(d, "certificate");
	free(line);
	line = fake_key_line("ssh-dss");
	assert_int_equal(api_public_key_check(line, &k, d, sizeof(d)), EPH_ERR_KEYTYPE);
	tu_assert_contains(d, "DSA");
	free(line);
	line = fake_key_line("ssh-foo");
	assert_int_equal(api_public_key_check(line, &k, d, sizeof(d)), EPH_ERR_KEYTYPE);
	tu_assert_contains(d, "\"ssh-foo\" is not accepted");
	free(line);
	assert_int_not_equal(api_public_key_check("ssh-ed25519 !!!", &k, d, sizeof(d)), EPH_OK);
	assert_int_not_equal(api_public_key_check("hello", &k, d, sizeof(d)), EPH_OK);
	/* A short RSA key parses (OpenSSH's floor is 1024) and is refused. */
	if (tu_ssh_keygen() != NULL) {
		char *dir = tu_mkdtemp(), *p = tu_path(dir, "k");

		rc = tu_run(NULL, "'%s' -q -t rsa -b 1024 -N '' -f '%s'", tu_ssh_keygen(), p);
		assert_int_equal(rc, 0);
		free(p);
		p = tu_path(dir, "k.pub");
		line = tu_read_file(p, NULL);
		assert_non_null(line);
		assert_int_equal(api_public_key_check(line, &k, d, sizeof(d)), EPH_ERR_WEAKKEY);
		tu_assert_contains(d, "RSA key of 1024 bits");
		free(line);
		free(p);
		tu_rmrf(dir);
		free(dir);
	}
	/* A FIDO key is accepted. */
	assert_int_equal(key_generate(KEY_ED25519, 0, &k), EPH_OK);
	line = tu_sk_line(k, "ssh:", "sk");
	key_free(k);
	k = NULL;
	assert_int_equal(api_public_key_check(line, &k, d, sizeof(d)), EPH_OK);
	assert_int_equal(k->type, KEY_SK_ED25519);
	key_free(k);
	free(line);
	free(out);
}

/* Parse a body as POST /v1/requests would. */
static int
parse_create(const char *text, char *d, size_t dlen)
{
	struct ca_request_input in;
	json_t *j = NULL;
	int r;

	if ((r = api_body_load(text, strlen(text), 0, &j, d, dlen)) != EPH_OK)
		return r;
	r = api_request_parse(j, &in, d, dlen);
	if (r == EPH_OK)
		api_request_free(&in);
	json_decref(j);
	return r;
}

/* Field by field on an otherwise good body. */
static void
request_parse_fields(void)
{
	char d[API_DETAIL_MAX];
	size_t i;

	{
		static const struct {
			const char *from, *to, *has;
		} cases[] = {
		    {"\"10m\"", "\"10 minutes\"", "ttl: expected a duration"},
		    {"\"10m\"", "\"0\"", "ttl: expected a duration"},
		    {"\"10m\"", "600", "ttl: expected a string"},
		    {"[\"DB01.example.com\", \"@db\"]", "\"db01\"", "hosts: expected an array"},
		    {"[\"DB01.example.com\", \"@db\"]", "[]", "hosts: empty"},
		    {"[\"DB01.example.com\", \"@db\"]", "[\"db01\", 2]",
		        "hosts[1]: expected a string"},
		    {"[\"DB01.example.com\", \"@db\"]", "[\"db01\", \"DB01\"]",
		        "hosts[1]: listed twice"},
		    {"[\"DB01.example.com\", \"@db\"]", "[\"db 01\"]", "hosts[0]:"},
		    {"[\"DB01.example.com\", \"@db\"]", "[\"@\"]", "hosts[0]: \"@\" must be"},
		    {"[\"DB01.example.com\", \"@db\"]", "[\"*.example.com\"]", "hosts[0]:"},
		    {"\"INC-4711 vacuum\"", "\"line\\nbreak\"", "reason: control character"},
		    {"\"INC-4711 vacuum\"", "{}", "reason: expected a string"},
		};
		char *good = create_body(NULL), *t;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			size_t off;

			assert_non_null(strstr(good, cases[i].from));
			off = (size_t)(strstr(good, cases[i].from) - good);
			assert_true(asprintf(&t, "%.*s%s%s", (int)off, good, cases[i].to,
			                good + off + strlen(cases[i].from)) > 0);
			if (parse_create(t, d, sizeof(d)) == EPH_OK)
				fail_msg("accepted: %s", t);
			if (strstr(d, cases[i].has) == NULL)
				fail_msg("%s: detail \"%s\" lacks \"%s\"", t, d, cases[i].has);
			free(t);
		}
		free(good);
	}
}

static void
test_request_parse(void **state)
{
	struct ca_request_input in;
	char d[API_DETAIL_MAX], *b, hosts[8192];
	json_t *j;
	size_t i, n;

	b = create_body(NULL);
	assert_int_equal(api_body_load(b, strlen(b), 0, &j, d, sizeof(d)), EPH_OK);
	assert_int_equal(api_request_parse(j, &in, d, sizeof(d)), EPH_OK);
	assert_string_equal(in.task, "db-maint");
	assert_int_equal(in.nhosts, 2);
	assert_string_equal(in.hosts[0], "db01.example.com");
	assert_string_equal(in.hosts[1], "@db");
	assert_int_equal(in.ttl, 600);
	assert_string_equal(in.reason, "INC-4711 vacuum");
	assert_null(in.login_as);
	assert_int_equal(in.key->type, KEY_ED25519);
	assert_int_equal(strncmp(in.public_key, "ssh-ed25519 AAAA", 16), 0);
	assert_null(strstr(in.public_key, "test@host"));
	api_request_free(&in);
	json_decref(j);
	free(b);

#define BAD(text, has)                                                                             \
	do {                                                                                       \
		assert_int_not_equal(parse_create(text, d, sizeof(d)), EPH_OK);                    \
		tu_assert_contains(d, has);                                                        \
	} while (0)
	BAD("", "body is required");
	BAD("[1]", "must be a JSON object");
	BAD("{\"task\": ", "malformed JSON");
	BAD("{\"task\": \"a\", \"task\": \"b\"}", "malformed JSON");
	BAD("{\"task\": \"a\\u0000b\"}", "malformed JSON");
	BAD("{\"colour\": \"red\"}", "unknown field \"colour\"");
	BAD("{\"task\": 1}", "task: expected a string");
	BAD("{\"task\": null}", "task: expected a string");
	BAD("{\"task\": \"\"}", "task: empty");
	BAD("{\"task\": \"a b\"}", "task: expected a task name");
	BAD("{\"task\": \"t\"}", "public_key: required");
	b = create_body(", \"login_as\": \"bad:name\"");
	BAD(b, "login_as:");
	free(b);
	request_parse_fields();
	/* The host cap. */
	n = 0;
	for (i = 0; i <= 64; i++)
		n += (size_t)snprintf(hosts + n, sizeof(hosts) - n, "%s\"h%zu\"", i ? "," : "", i);
	assert_true(asprintf(&b, "{\"task\":\"t\",\"hosts\":[%s],\"public_key\":\"%s\"}", hosts,
	                G->ed_line) > 0);
	BAD(b, "hosts: more than 64");
	free(b);
	/* A long reason. */
	{
		char big[API_MAX_TEXT + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_true(
		    asprintf(&b, "{\"task\":\"t\",\"hosts\":[\"h\"],\"reason\":\"%s\"}", big) > 0);
		BAD(b, "reason: longer than 1024");
		free(b);
	}
#undef BAD
}

static void
test_action_login_parse(void **state)
{
	struct ca_login_input li;
	const char *t;
	char d[API_DETAIL_MAX];
	json_t *j;

	assert_int_equal(api_body_load("", 0, 1, &j, d, sizeof(d)), EPH_OK);
	assert_int_equal(api_action_parse(j, "comment", 0, &t, d, sizeof(d)), EPH_OK);
	assert_null(t);
	assert_int_equal(api_action_parse(j, "reason", 1, &t, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "reason: required");
	json_decref(j);
	assert_int_equal(api_body_load("{\"comment\":\"ok\"}", 16, 1, &j, d, sizeof(d)), EPH_OK);
	assert_int_equal(api_action_parse(j, "comment", 0, &t, d, sizeof(d)), EPH_OK);
	assert_string_equal(t, "ok");
	assert_int_equal(api_action_parse(j, "reason", 0, &t, d, sizeof(d)), EPH_ERR_INVAL);
	tu_assert_contains(d, "unknown field \"comment\"");
	assert_int_equal(api_action_parse(j, NULL, 0, &t, d, sizeof(d)), EPH_ERR_INVAL);
	json_decref(j);
	assert_int_equal(
	    api_body_load("{\"user\":\"bob\",\"password\":\"pw\"}", 30, 0, &j, d, sizeof(d)),
	    EPH_OK);
	assert_int_equal(api_login_parse(j, &li, d, sizeof(d)), EPH_OK);
	assert_string_equal(li.user, "bob");
	assert_string_equal(li.password, "pw");
	api_login_free(&li);
	json_decref(j);
	/* The user alone starts a conversation. */
	assert_int_equal(api_body_load("{\"user\":\"bob\"}", 14, 0, &j, d, sizeof(d)), EPH_OK);
	assert_int_equal(api_login_parse(j, &li, d, sizeof(d)), EPH_OK);
	assert_string_equal(li.user, "bob");
	assert_null(li.password);
	assert_string_equal(li.conversation, "");
	api_login_free(&li);
	json_decref(j);
}

/* A login body through the parser: EPH_OK or the detail holding want. */
static int
login_body(const char *text, struct ca_login_input *li, const char *want)
{
	char d[API_DETAIL_MAX] = "";
	json_t *j;
	int r;

	assert_int_equal(api_body_load(text, strlen(text), 0, &j, d, sizeof(d)), EPH_OK);
	r = api_login_parse(j, li, d, sizeof(d));
	if (want != NULL) {
		assert_int_equal(r, EPH_ERR_INVAL);
		tu_assert_contains(d, want);
	}
	api_login_body_wipe(j);
	json_decref(j);
	return r;
}

static void
test_login_conversation_parse(void **state)
{
	static const char id[] = "c-0123456789abcdef0123456789abcdef";
	struct ca_login_input li;
	char text[4096], *p;
	size_t i;
	json_t *j;
	char d[API_DETAIL_MAX];

	(void)state;
	snprintf(text, sizeof(text),
	    "{\"conversation\": \"%s\", \"answers\": [\"pw\", \"\", \"a\\tb\"]}", id);
	assert_int_equal(login_body(text, &li, NULL), EPH_OK);
	assert_string_equal(li.conversation, id);
	assert_null(li.user);
	assert_null(li.password);
	assert_int_equal(li.nanswers, 3);
	assert_string_equal(li.answers[0], "pw");
	assert_string_equal(li.answers[1], "");
	assert_string_equal(li.answers[2], "a\tb");
	api_login_free(&li);
	snprintf(text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": []}", id);
	assert_int_equal(login_body(text, &li, NULL), EPH_OK);
	assert_int_equal(li.nanswers, 0);
	api_login_free(&li);
	/* UTF-8 beyond ASCII is an answer like any other. */
	snprintf(text, sizeof(text),
	    "{\"conversation\": \"%s\", \"answers\": [\"gr\u00fc\u00df\"]}", id);
	assert_int_equal(login_body(text, &li, NULL), EPH_OK);
	assert_string_equal(li.answers[0], "gr\xc3\xbc\xc3\x9f");
	api_login_free(&li);

	login_body(
	    "{\"conversation\": \"c-0123\", \"answers\": []}", &li, "conversation: expected");
	login_body("{\"conversation\": \"c-0123456789ABCDEF0123456789abcdef\", \"answers\": []}",
	    &li, "conversation: expected");
	snprintf(text, sizeof(text), "{\"conversation\": \"%s\"}", id);
	login_body(text, &li, "answers: required");
	snprintf(text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": \"pw\"}", id);
	login_body(text, &li, "answers: expected an array");
	snprintf(text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": [1]}", id);
	login_body(text, &li, "answers[0]: expected a string");
	snprintf(
	    text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": [\"a\", \"b\\n\"]}", id);
	login_body(text, &li, "answers[1]: control character");
	/* (A NUL in an answer never gets this far: api_body_load refuses it.) */
	snprintf(
	    text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": [\"a\\u0000b\"]}", id);
	assert_int_equal(api_body_load(text, strlen(text), 0, &j, d, sizeof(d)), EPH_ERR_FORMAT);
	snprintf(text, sizeof(text),
	    "{\"conversation\": \"%s\", \"answers\": [], \"user\": \"bob\"}", id);
	login_body(text, &li, "without user or password");
	login_body("{\"user\": \"bob\", \"answers\": []}", &li, "answers: only with conversation");
	/* More than API_MAX_ANSWERS, and an answer over its cap. */
	p = text + snprintf(text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": [", id);
	for (i = 0; i <= API_MAX_ANSWERS; i++)
		p += snprintf(p, 8, "%s\"x\"", i > 0 ? "," : "");
	snprintf(p, 4, "]}");
	login_body(text, &li, "answers: more than 32");
	p = text + snprintf(text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": [\"", id);
	memset(p, 'x', API_MAX_ANSWER + 1);
	snprintf(p + API_MAX_ANSWER + 1, 4, "\"]}");
	login_body(text, &li, "answers[0]: longer than");

	/* The body's secrets are wiped in place. */
	snprintf(text, sizeof(text), "{\"conversation\": \"%s\", \"answers\": [\"sekrit\"]}", id);
	assert_int_equal(api_body_load(text, strlen(text), 0, &j, d, sizeof(d)), EPH_OK);
	api_login_body_wipe(j);
	assert_int_equal(
	    json_string_value(json_array_get(json_object_get(j, "answers"), 0))[0], '\0');
	json_decref(j);
	assert_int_equal(
	    api_body_load("{\"user\":\"bob\",\"password\":\"pw\"}", 30, 0, &j, d, sizeof(d)),
	    EPH_OK);
	api_login_body_wipe(j);
	assert_int_equal(json_string_value(json_object_get(j, "password"))[0], '\0');
	json_decref(j);
	assert_true(api_conv_id_valid(id));
	assert_false(api_conv_id_valid("r-0123456789abcdef"));
}

/* ------------------------------------------------------- over the socket */

static const char *
my_user(void)
{
	static char name[256];
	struct passwd *pw = getpwuid(getuid());

	assert_non_null(pw);
	(void)snprintf(name, sizeof(name), "%s", pw->pw_name);
	return name;
}

static void
test_routes(void **state)
{
	struct resp r;
	char *b;

	b = create_body(NULL);
	req("POST", "/v1/requests", b, &r);
	free(b);
	assert_int_equal(r.status, 201);
	assert_string_equal(fake.last, "create");
	assert_string_equal(fake.task, "db-maint");
	assert_int_equal(fake.nhosts, 2);
	assert_string_equal(fake.host0, "db01.example.com");
	assert_int_equal(fake.ttl, 600);
	assert_string_equal(jstr(&r, "id"), "r-0123456789abcdef");
	tu_assert_contains(r.headers, "Content-Type: application/json");
	resp_free(&r);

	req("GET", "/v1/requests/r-00000000000000ff", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "get");
	assert_string_equal(fake.id, "r-00000000000000ff");
	resp_free(&r);

	req("GET", "/v1/requests?state=pending&mine=1&task=db-maint", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "list");
	assert_int_equal(fake.lq.state, CA_STATE_PENDING);
	assert_int_equal(fake.lq.mine, 1);
	assert_string_equal(fake.lq.task, "db-maint");
	assert_true(json_is_array(json_object_get(r.json, "requests")));
	resp_free(&r);
	req("GET", "/v1/requests", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(fake.lq.state, CA_STATE_ANY);
	assert_int_equal(fake.lq.mine, 0);
	resp_free(&r);

	req("POST", "/v1/requests/r-00000000000000ff/approve", "{\"comment\": \"lgtm\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "approve");
	assert_string_equal(fake.text, "lgtm");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/approve", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(fake.text_null);
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/deny", "{\"reason\": \"no\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "deny");
	assert_string_equal(fake.text, "no");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/cancel", "{}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "cancel");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/revoke", "{\"reason\": \"done\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "revoke");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/review", "{\"comment\": \"seen\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "review");
	resp_free(&r);

	req("GET", "/v1/ca.pub", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake ca\n");
	tu_assert_contains(r.headers, "Content-Type: text/plain");
	resp_free(&r);
	req("GET", "/v1/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "status"), "ok");
	resp_free(&r);
	req("GET", "/v1/audit?since=17", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "audit");
	assert_int_equal(fake.since, 17);
	resp_free(&r);
	req("POST", "/v1/login", "{\"user\": \"bob\", \"password\": \"secret\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.login_user, "bob");
	assert_string_equal(jstr(&r, "token"), "good-token");
	resp_free(&r);
	req("POST", "/v1/login", "{\"user\": \"bob\", \"password\": \"nope\"}", &r);
	expect_error(&r, 401, "unauthenticated", "wrong user or password");
	resp_free(&r);
	req("HEAD", "/v1/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	resp_free(&r);
	/* The Unix socket has no session to end: the backend says so. */
	req("POST", "/v1/logout", NULL, &r);
	expect_error(&r, 400, "bad_request", "no session to end on the Unix socket");
	assert_string_equal(fake.last, "logout");
	assert_true(fake.logout_token_null);
	assert_int_equal(fake.caller.via, CA_VIA_UNIX);
	resp_free(&r);
	req("POST", "/v1/logout", "{\"all\": true}", &r);
	expect_error(&r, 400, "bad_request", "unknown field \"all\"");
	resp_free(&r);
}

static void
test_peercred(void **state)
{
	struct resp r;

	req("GET", "/v1/requests/r-00000000000000ff", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(fake.caller.via, CA_VIA_UNIX);
	assert_true(fake.caller.authenticated);
	assert_int_equal(fake.caller.uid, getuid());
	assert_int_equal(fake.caller.gid, getgid());
	assert_int_equal(fake.caller.pid, getpid());
	assert_string_equal(fake.caller.user, my_user());
	assert_string_equal(fake.caller.address, "");
	resp_free(&r);
}

static void
test_method_errors(void **state)
{
	struct resp r;

	req("DELETE", "/v1/requests", NULL, &r);
	expect_error(&r, 405, "method_not_allowed", "/v1/requests takes GET, HEAD, POST");
	tu_assert_contains(r.headers, "Allow: GET, HEAD, POST");
	resp_free(&r);
	req("GET", "/v1/requests/r-00000000000000ff/approve", NULL, &r);
	expect_error(&r, 405, "method_not_allowed", NULL);
	tu_assert_contains(r.headers, "Allow: POST");
	resp_free(&r);
	req("POST", "/v1/krl", "{}", &r);
	expect_error(&r, 405, "method_not_allowed", NULL);
	tu_assert_contains(r.headers, "Allow: GET, HEAD");
	resp_free(&r);
	req("PUT", "/v1/requests/r-00000000000000ff", "{}", &r);
	expect_error(&r, 405, "method_not_allowed", NULL);
	resp_free(&r);
	req("GET", "/v1/login", NULL, &r);
	expect_error(&r, 405, "method_not_allowed", NULL);
	resp_free(&r);
	req("GET", "/v1/logout", NULL, &r);
	expect_error(&r, 405, "method_not_allowed", NULL);
	tu_assert_contains(r.headers, "Allow: POST");
	resp_free(&r);
	assert_int_equal(fake.calls, 0);
}

static void
test_unknown_paths(void **state)
{
	struct resp r;

	req("GET", "/v2/requests", NULL, &r);
	expect_error(&r, 404, "not_found", "no such path");
	resp_free(&r);
	req("GET", "/", NULL, &r);
	expect_error(&r, 404, "not_found", NULL);
	resp_free(&r);
	req("GET", "/v1/requests/r-00000000000000ff/frob", NULL, &r);
	expect_error(&r, 404, "not_found", NULL);
	resp_free(&r);
	req("GET", "/v1/krl%00", NULL, &r);
	expect_error(&r, 404, "not_found", NULL);
	resp_free(&r);
	/* A malformed id is the client's mistake, not an unknown one. */
	req("GET", "/v1/requests/r-0123", NULL, &r);
	expect_error(&r, 400, "bad_request", "malformed request id \"r-0123\"");
	resp_free(&r);
	req("POST", "/v1/requests/R-00000000000000FF/approve", "{}", &r);
	expect_error(&r, 400, "bad_request", "malformed request id");
	resp_free(&r);
	req("GET", "/v1/requests/r-00000000000000f%30", NULL, &r);
	expect_error(&r, 400, "bad_request", NULL);
	resp_free(&r);
	assert_int_equal(fake.calls, 0);
	/* A well-formed id the backend does not know. */
	fake.ret = EPH_ERR_NOTFOUND;
	fake.ret_detail = "no request r-00000000000000ff";
	req("GET", "/v1/requests/r-00000000000000ff", NULL, &r);
	expect_error(&r, 404, "not_found", "no request r-00000000000000ff");
	resp_free(&r);
}

static void
test_bad_bodies(void **state)
{
	struct resp r;
	char *b;
	static const char nul_body[] = "{\"task\": \"a\0b\"}";

	req("POST", "/v1/requests", "{\"task\": ", &r);
	expect_error(&r, 400, "bad_request", "malformed JSON at line 1");
	resp_free(&r);
	b = create_body(", \"admin\": true");
	req("POST", "/v1/requests", b, &r);
	free(b);
	expect_error(&r, 400, "bad_request", "unknown field \"admin\"");
	resp_free(&r);
	req("POST", "/v1/requests", "{\"task\": [\"x\"]}", &r);
	expect_error(&r, 400, "bad_request", "task: expected a string");
	resp_free(&r);
	req_full(
	    G->sock, "POST", "/v1/requests", NULL, nul_body, sizeof(nul_body) - 1, NULL, NULL, &r);
	expect_error(&r, 400, "bad_request", "NUL byte");
	resp_free(&r);
	req("POST", "/v1/requests", "{\"task\": \"a\\u0000b\"}", &r);
	expect_error(&r, 400, "bad_request", "malformed JSON");
	resp_free(&r);
	req("POST", "/v1/requests", "", &r);
	expect_error(&r, 400, "bad_request", "body is required");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/deny", "{}", &r);
	expect_error(&r, 400, "bad_request", "reason: required");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/cancel", "{\"reason\": \"x\"}", &r);
	expect_error(&r, 400, "bad_request", "unknown field \"reason\"");
	resp_free(&r);
	req("POST", "/v1/requests/r-00000000000000ff/approve", "\"lgtm\"", &r);
	expect_error(&r, 400, "bad_request", "JSON object");
	resp_free(&r);
	/* Not JSON by its content type. */
	req_full(G->sock, "POST", "/v1/requests", "application/x-www-form-urlencoded", "a=b", 3,
	    NULL, NULL, &r);
	expect_error(&r, 415, "unsupported_media_type", NULL);
	resp_free(&r);
	/* A bad query. */
	req("GET", "/v1/requests?state=maybe", NULL, &r);
	expect_error(&r, 400, "bad_request", "unknown state");
	resp_free(&r);
	req("GET", "/v1/requests?state=pending&x=1", NULL, &r);
	expect_error(&r, 400, "bad_request", "unknown query argument \"x\"");
	resp_free(&r);
	req("GET", "/v1/healthz?verbose=1", NULL, &r);
	expect_error(&r, 400, "bad_request", "unknown query argument");
	resp_free(&r);
	req("GET", "/v1/audit", NULL, &r);
	expect_error(&r, 400, "bad_request", "since: required");
	resp_free(&r);
	/* A private key sent by mistake. */
	req("POST", "/v1/requests",
	    "{\"task\":\"t\",\"hosts\":[\"h\"],\"public_key\":\"-----BEGIN OPENSSH PRIVATE "
	    "KEY-----\\nb3Bl\\n-----END OPENSSH PRIVATE KEY-----\\n\"}",
	    &r);
	expect_error(&r, 400, "bad_request", "private key");
	resp_free(&r);
	assert_int_equal(fake.calls, 0);
}

static void
test_backend_errors(void **state)
{
	static const struct {
		int err;
		long status;
		const char *token;
	} cases[] = {
	    {EPH_ERR_INVAL, 400, "bad_request"},
	    {EPH_ERR_FORBIDDEN, 403, "forbidden"},
	    {EPH_ERR_NOTFOUND, 404, "not_found"},
	    {EPH_ERR_CONFLICT, 409, "conflict"},
	    {EPH_ERR_LIMIT, 429, "too_many_requests"},
	    {EPH_ERR_STORE_FULL, 503, "unavailable"},
	    {EPH_ERR_IO, 500, "internal"},
	    {EPH_ERR_CRYPTO, 500, "internal"},
	};
	struct resp r;
	size_t i;
	char *b;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake.ret = cases[i].err;
		fake.ret_detail = "what the backend says";
		req("POST", "/v1/requests/r-00000000000000ff/approve", "{}", &r);
		expect_error(&r, cases[i].status, cases[i].token,
		    cases[i].status == 500 ? "internal error" : "what the backend says");
		if (cases[i].status == 500)
			tu_assert_not_contains(r.body, "what the backend says");
		resp_free(&r);
	}
	/* A recorded denial: 403 with the request object, plus the error. */
	fake.ret = EPH_ERR_FORBIDDEN;
	fake.ret_detail = "denied by policy";
	fake.ret_with_body = 1;
	b = create_body(NULL);
	req("POST", "/v1/requests", b, &r);
	free(b);
	expect_error(&r, 403, "forbidden", "denied by policy");
	assert_string_equal(jstr(&r, "id"), "r-0123456789abcdef");
	assert_string_equal(jstr(&r, "called"), "create");
	resp_free(&r);
	/* Health reports 503 when the store cannot write. */
	fake.ret = EPH_ERR_STORE_FULL;
	fake.ret_detail = "database is read-only";
	fake.ret_with_body = 0;
	req("GET", "/v1/healthz", NULL, &r);
	expect_error(&r, 503, "unavailable", "read-only");
	resp_free(&r);
}

static void
test_krl_etag(void **state)
{
	static const char *const inm[] = {"If-None-Match: \"7\"", NULL};
	static const char *const stale[] = {"If-None-Match: \"6\"", NULL};
	struct resp r;

	req("GET", "/v1/krl", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 11);
	assert_memory_equal(r.body, "SSHKRL\n\0\1\2\3", 11);
	tu_assert_contains(r.headers, "Content-Type: application/octet-stream");
	tu_assert_contains(r.headers, "ETag: \"7\"");
	resp_free(&r);
	req_full(G->sock, "GET", "/v1/krl", NULL, NULL, 0, inm, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.len, 0);
	tu_assert_contains(r.headers, "ETag: \"7\"");
	resp_free(&r);
	req_full(G->sock, "GET", "/v1/krl", NULL, NULL, 0, stale, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 11);
	resp_free(&r);
	fake.krl_version = 8;
	req_full(G->sock, "GET", "/v1/krl", NULL, NULL, 0, inm, NULL, &r);
	assert_int_equal(r.status, 200);
	tu_assert_contains(r.headers, "ETag: \"8\"");
	resp_free(&r);
}

/* ---------------------------------------------------------- raw sockets */

static int
raw_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {10, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read until the server closes (0, or ECONNRESET); -1 on a timeout. */
static ssize_t
raw_read_all(int fd, char *out, size_t max)
{
	size_t n = 0;
	ssize_t k;

	for (;;) {
		k = recv(fd, out + n, max - 1 - n, 0);
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			break;
		if (k < 0)
			return -1;
		n += (size_t)k;
		if (n + 1 >= max)
			break;
	}
	out[n] = '\0';
	return (ssize_t)n;
}

static void
assert_still_serves(void)
{
	struct resp r;

	req("GET", "/v1/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

static void
test_big_body(void **state)
{
	static const char head[] = "POST /v1/requests HTTP/1.1\r\nHost: x\r\n"
	                           "Content-Type: application/json\r\n"
	                           "Content-Length: 10485760\r\n\r\n";
	char chunk[65536], out[4096];
	size_t sent = 0;
	ssize_t k;
	struct resp r;
	char *big;
	int fd;

	/* Announced: refused at the headers, and the connection closed. */
	fd = raw_connect(G->sock);
	assert_int_equal(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(head) - 1);
	memset(chunk, ' ', sizeof(chunk));
	while (sent < 10485760) {
		k = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	k = raw_read_all(fd, out, sizeof(out));
	assert_true(k > 0);
	tu_assert_contains(out, "HTTP/1.1 413");
	tu_assert_contains(out, "\"error\":\"body_too_large\"");
	close(fd);
	assert_still_serves();

	/* With libcurl, the whole 10 MB offered. */
	big = malloc(10485760);
	assert_non_null(big);
	memset(big, 'a', 10485760);
	req_full(G->sock, "POST", "/v1/requests", NULL, big, 10485760, NULL, NULL, &r);
	assert_int_equal(r.status, 413);
	resp_free(&r);
	assert_still_serves();

	/* Chunked, so the size shows only as it arrives. */
	{
		static const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};

		req_full(G->sock, "POST", "/v1/requests", NULL, big, 10485760, chunked, NULL, &r);
		/* Answered 413, or cut off. */
		assert_true(r.status == 413 || r.rc != CURLE_OK);
		resp_free(&r);
	}
	free(big);
	assert_still_serves();
	assert_int_equal(fake.calls, 3); /* the health checks only */
}

static void
test_slow_client(void **state)
{
	static const char half[] =
	    "POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
	    "Content-Type: application/json\r\n\r\n{\"task\":";
	struct timespec t0, t1;
	char out[4096];
	ssize_t k;
	int fd, fd2;

	fd = raw_connect(G->sock);
	fd2 = raw_connect(G->sock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(half) - 1);
	assert_int_equal(send(fd2, "GET /v1/hea", 11, MSG_NOSIGNAL), 11);
	/* Meanwhile the server serves others. */
	assert_still_serves();
	k = raw_read_all(fd, out, sizeof(out));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(k >= 0); /* closed by the server, not our 10 s timeout */
	assert_true(t1.tv_sec - t0.tv_sec < 8);
	k = raw_read_all(fd2, out, sizeof(out));
	assert_true(k >= 0);
	close(fd);
	close(fd2);
	assert_still_serves();
	assert_int_equal(fake.calls, 2);
}

static void
test_keepalive(void **state)
{
	static const char two[] = "GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	                          "GET /v1/ca.pub HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char out[8192];
	int fd = raw_connect(G->sock);

	assert_int_equal(send(fd, two, sizeof(two) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(two) - 1);
	assert_true(raw_read_all(fd, out, sizeof(out)) > 0);
	close(fd);
	tu_assert_contains(out, "\"status\":\"ok\"");
	tu_assert_contains(out, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake ca");
	assert_int_equal(fake.calls, 2);
}

static void
test_big_headers(void **state)
{
	char *line, *h[2];
	struct resp r;

	line = malloc(70000);
	assert_non_null(line);
	memcpy(line, "X-Big: ", 7);
	memset(line + 7, 'a', 70000 - 8);
	line[70000 - 1] = '\0';
	h[0] = line;
	h[1] = NULL;
	req_full(G->sock, "GET", "/v1/healthz", NULL, NULL, 0, (const char *const *)h, NULL, &r);
	assert_true(r.status >= 400 || r.rc != CURLE_OK);
	resp_free(&r);
	free(line);
	assert_still_serves();
}

static void
test_metrics(void **state)
{
	struct resp r;
	char *b;
	const char *p;
	unsigned long before = 0, after = 0;
	static const char key[] =
	    "sshca_http_requests_total{route=\"/v1/ca.pub\",method=\"GET\",status=\"200\"} ";

	req("GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	if ((p = strstr(r.body, key)) != NULL)
		before = strtoul(p + sizeof(key) - 1, NULL, 10);
	resp_free(&r);
	for (int i = 0; i < 3; i++) {
		req("GET", "/v1/ca.pub", NULL, &r);
		resp_free(&r);
	}
	req("DELETE", "/v1/ca.pub", NULL, &r);
	resp_free(&r);
	b = create_body(", \"x\": 1");
	req("POST", "/v1/requests", b, &r);
	free(b);
	resp_free(&r);
	/* request_end runs after the response is sent: let it. */
	usleep(100000);
	req("GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	tu_assert_contains(r.headers, "Content-Type: text/plain; version=0.0.4");
	p = strstr(r.body, key);
	assert_non_null(p);
	after = strtoul(p + sizeof(key) - 1, NULL, 10);
	assert_int_equal(after, before + 3);
	tu_assert_contains(r.body,
	    "sshca_http_requests_total{route=\"/v1/ca.pub\",method=\"other\",status=\"405\"}");
	tu_assert_contains(r.body,
	    "sshca_http_requests_total{route=\"/v1/requests\",method=\"POST\",status=\"400\"}");
	tu_assert_contains(r.body, "sshca_http_request_duration_seconds_bucket{le=\"+Inf\"}");
	tu_assert_contains(r.body, "sshca_http_request_duration_seconds_count");
	tu_assert_contains(r.body, "# TYPE sshca_http_request_duration_seconds histogram");
	/* The backend's lines follow the front's. */
	tu_assert_contains(r.body, "\nsshca_issued_total 42\n");
	resp_free(&r);
}

/* The value of the sample line that starts with key (name and labels), or
 * 0 when there is none. */
static unsigned long
sample(const char *body, const char *key)
{
	const char *p = body;
	size_t n = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if ((p == body || p[-1] == '\n') && p[n] == ' ')
			return strtoul(p + n + 1, NULL, 10);
		p += n;
	}
	return 0;
}

/* Error answers counted by their JSON code: from the front (404, 400,
 * 405, 413), from the backend (503), and a code the front does not know
 * (a backend body's own) as "other". */
static void
test_error_metrics(void **state)
{
	static const char *const codes[] = {"not_found", "bad_request", "method_not_allowed",
	    "unavailable", "body_too_large", "other", "conflict"};
	static const unsigned long want[] = {1, 2, 1, 1, 0, 1, 0};
	unsigned long before[7];
	char key[96];
	struct resp r;
	size_t i;

	req("GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	tu_assert_contains(r.body, "# TYPE sshca_errors_total counter\n");
	for (i = 0; i < 7; i++) {
		(void)snprintf(key, sizeof(key), "sshca_errors_total{code=\"%s\"}", codes[i]);
		/* Every code has its line, zero or not. */
		tu_assert_contains(r.body, key);
		before[i] = sample(r.body, key);
	}
	resp_free(&r);
	req("GET", "/v2/nothing", NULL, &r);
	expect_error(&r, 404, "not_found", NULL);
	resp_free(&r);
	req("GET", "/v1/requests/r-12", NULL, &r);
	expect_error(&r, 400, "bad_request", NULL);
	resp_free(&r);
	req("GET", "/v1/healthz?x=1", NULL, &r);
	expect_error(&r, 400, "bad_request", NULL);
	resp_free(&r);
	req("PUT", "/v1/krl", NULL, &r);
	expect_error(&r, 405, "method_not_allowed", NULL);
	resp_free(&r);
	fake.ret = EPH_ERR_STORE_FULL;
	req("GET", "/v1/healthz", NULL, &r);
	expect_error(&r, 503, "unavailable", NULL);
	resp_free(&r);
	fake.ret = EPH_ERR_CONFLICT;
	fake.ret_with_body = 1;
	fake.ret_error = "made_up_by_the_backend";
	req("POST", "/v1/requests/r-00000000000000ff/approve", "{}", &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(jstr(&r, "error"), "made_up_by_the_backend");
	resp_free(&r);
	fake_reset();
	req("GET", "/metrics", NULL, &r);
	for (i = 0; i < 7; i++) {
		(void)snprintf(key, sizeof(key), "sshca_errors_total{code=\"%s\"}", codes[i]);
		if (sample(r.body, key) != before[i] + want[i])
			fail_msg(
			    "%s: %lu, expected %lu", key, sample(r.body, key), before[i] + want[i]);
	}
	tu_assert_not_contains(r.body, "made_up_by_the_backend");
	resp_free(&r);
}

/* ------------------------------------------------- servers of their own */

static void
test_socket_path(void **state)
{
	const char *dir = *state;
	struct http_config cfg = {0};
	struct http_server *s = NULL, *s2 = NULL;
	char why[256], *p = tu_path(dir, "sock"), *f = tu_path(dir, "file");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	/* Not a socket: refused, left alone. */
	assert_int_equal(tu_write_file(f, "x", 1, 0600), 0);
	cfg.socket_path = f;
	assert_int_equal(
	    http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_ERR_EXISTS);
	tu_assert_contains(why, "not a socket");
	assert_int_equal(lstat(f, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* A stale socket (nobody listening) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cfg.socket_path = p;
	assert_int_equal(http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_OK);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);
	/* A live one is not. */
	assert_int_equal(
	    http_server_open(&cfg, &fake_backend, NULL, &s2, why, sizeof(why)), EPH_ERR_EXISTS);
	tu_assert_contains(why, "another server");
	assert_int_equal(http_server_start(s), EPH_OK);
	http_server_stop(s, 1);
	/* Stopped, it removes its socket. */
	assert_int_not_equal(lstat(p, &st), 0);
	http_server_free(s);
	/* Relative and overlong paths. */
	cfg.socket_path = "rel.sock";
	assert_int_equal(
	    http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_ERR_INVAL);
	free(p);
	free(f);
}

static void
test_not_implemented(void **state)
{
	const char *dir = *state;
	static const struct ca_api_backend empty = {0};
	struct http_config cfg = {0};
	struct http_server *s = NULL;
	char why[256], *p = tu_path(dir, "sock");
	struct resp r;

	cfg.socket_path = p;
	assert_int_equal(http_server_open(&cfg, &empty, NULL, &s, why, sizeof(why)), EPH_OK);
	assert_int_equal(http_server_start(s), EPH_OK);
	req_full(p, "GET", "/v1/healthz", NULL, NULL, 0, NULL, NULL, &r);
	expect_error(&r, 501, "not_implemented", NULL);
	resp_free(&r);
	req_full(p, "POST", "/v1/logout", NULL, NULL, 0, NULL, NULL, &r);
	expect_error(&r, 501, "not_implemented", NULL);
	resp_free(&r);
	req_full(p, "GET", "/metrics", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_free(s);
	free(p);
}

static void
test_tls(void **state)
{
	const char *dir = *state;
	struct http_config cfg = {0};
	struct http_server *s = NULL;
	char why[256], url[128], *crt = tu_path(dir, "crt.pem"), *key = tu_path(dir, "key.pem");
	static const char *const good[] = {"Authorization: Bearer good-token", NULL};
	static const char *const bad[] = {"Authorization: Bearer bad-token", NULL};
	struct resp r;
	unsigned port;
	int rc;

	if (access("/usr/bin/openssl", X_OK) != 0)
		skip();
	rc = tu_run(NULL,
	    "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout key.pem -out crt.pem -days 1 -subj /CN=localhost "
	    "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null && chmod 600 key.pem",
	    dir);
	assert_int_equal(rc, 0);
	cfg.tls_listen = "127.0.0.1:0";
	cfg.tls_certificate = crt;
	cfg.tls_key = key;
	cfg.threads = 1;
	/* The key must be private. */
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(
	    http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_ERR_PERM);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_OK);
	port = http_server_tls_port(s);
	assert_true(port > 0);
	assert_int_equal(http_server_start(s), EPH_OK);

	(void)snprintf(
	    url, sizeof(url), "https://127.0.0.1:%u/v1/requests/r-00000000000000ff", port);
	req_full(NULL, "GET", url, NULL, NULL, 0, NULL, crt, &r);
	assert_int_equal(r.rc, CURLE_OK);
	expect_error(&r, 401, "unauthenticated", "Authorization: Bearer");
	tu_assert_contains(r.headers, "WWW-Authenticate: Bearer");
	resp_free(&r);
	req_full(NULL, "GET", url, NULL, NULL, 0, bad, crt, &r);
	expect_error(&r, 401, "unauthenticated", "unknown or has expired");
	resp_free(&r);
	assert_int_equal(fake.calls, 0);
	req_full(NULL, "GET", url, NULL, NULL, 0, good, crt, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(fake.last, "get");
	assert_int_equal(fake.caller.via, CA_VIA_TLS);
	assert_true(fake.caller.authenticated);
	assert_string_equal(fake.caller.user, "alice");
	assert_int_equal(fake.caller.uid, 1234);
	assert_string_equal(fake.caller.address, "127.0.0.1");
	resp_free(&r);
	/* Public routes need no session; login gets the caller's address. */
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/krl", port);
	req_full(NULL, "GET", url, NULL, NULL, 0, NULL, crt, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/login", port);
	req_full(NULL, "POST", url, NULL, "{\"user\":\"alice\",\"password\":\"secret\"}", 36, NULL,
	    crt, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "token"), "good-token");
	assert_false(fake.caller.authenticated);
	assert_string_equal(fake.caller.address, "127.0.0.1");
	resp_free(&r);
	/* Logout: a token the backend refuses never reaches logout; a good
	 * one is handed over with the caller it names. */
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/logout", port);
	fake_reset();
	req_full(NULL, "POST", url, NULL, NULL, 0, bad, crt, &r);
	expect_error(&r, 401, "unauthenticated", "unknown or has expired");
	resp_free(&r);
	req_full(NULL, "POST", url, NULL, NULL, 0, NULL, crt, &r);
	expect_error(&r, 401, "unauthenticated", "Authorization: Bearer");
	resp_free(&r);
	assert_int_equal(fake.calls, 0);
	req_full(NULL, "POST", url, NULL, NULL, 0, good, crt, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_string_equal(fake.last, "logout");
	assert_false(fake.logout_token_null);
	assert_string_equal(fake.logout_token, "good-token");
	assert_int_equal(fake.caller.via, CA_VIA_TLS);
	assert_string_equal(fake.caller.user, "alice");
	resp_free(&r);
	/* Plain HTTP on the TLS port gets nothing useful. */
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/krl", port);
	req_full(NULL, "GET", url, NULL, NULL, 0, NULL, NULL, &r);
	assert_true(r.rc != CURLE_OK || r.status != 200);
	resp_free(&r);
	http_server_free(s);
	free(crt);
	free(key);
}

/* Several clients at once against a pool of two threads. */
struct par {
	const char *sock;
	int ok;
};

static void *
par_client(void *arg)
{
	struct par *p = arg;
	struct resp r;
	int i;

	for (i = 0; i < 20; i++) {
		req_full(p->sock, "GET", "/v1/requests/r-00000000000000ff", NULL, NULL, 0, NULL,
		    NULL, &r);
		if (r.rc == CURLE_OK && r.status == 200)
			p->ok++;
		resp_free(&r);
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	pthread_t t[8];
	struct par p[8];
	int i;

	for (i = 0; i < 8; i++) {
		p[i].sock = G->sock;
		p[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, par_client, &p[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].ok, 20);
	}
	assert_int_equal(fake.calls, 160);
}

static void
test_connection_limit(void **state)
{
	const char *dir = *state;
	struct http_config cfg = {0};
	struct http_server *s = NULL;
	static const char get[] =
	    "GET /v1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char why[256], out[1024], *p = tu_path(dir, "sock");
	struct timeval tv = {1, 0};
	struct resp r;
	int a, b, c;

	cfg.socket_path = p;
	cfg.threads = 1;
	cfg.max_connections = 2;
	cfg.timeout = 5;
	assert_int_equal(http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_OK);
	assert_int_equal(http_server_start(s), EPH_OK);
	a = raw_connect(p);
	b = raw_connect(p);
	/* Both are taken before the third arrives, which waits unserved in
	 * the listen backlog until a slot is free. */
	usleep(200000);
	c = raw_connect(p);
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(send(c, get, sizeof(get) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(get) - 1);
	assert_true(recv(c, out, sizeof(out), 0) < 0);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(a);
	close(b);
	tv.tv_sec = 5;
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_true(raw_read_all(c, out, sizeof(out)) > 0);
	tu_assert_contains(out, "HTTP/1.1 200");
	close(c);
	req_full(p, "GET", "/v1/healthz", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_free(s);
	free(p);
}

struct slow_get {
	const char *sock;
	long status;
};

static void *
slow_get_client(void *arg)
{
	struct slow_get *g = arg;
	struct resp r;

	req_full(g->sock, "GET", "/v1/requests/r-00000000000000ff", NULL, NULL, 0, NULL, NULL, &r);
	g->status = r.rc == CURLE_OK ? r.status : -1;
	resp_free(&r);
	return NULL;
}

static void
test_graceful_stop(void **state)
{
	const char *dir = *state;
	struct http_config cfg = {0};
	struct http_server *s = NULL;
	char why[256], *p = tu_path(dir, "sock");
	struct slow_get g = {p, 0};
	struct stat st;
	pthread_t t;

	cfg.socket_path = p;
	cfg.threads = 2;
	assert_int_equal(http_server_open(&cfg, &fake_backend, NULL, &s, why, sizeof(why)), EPH_OK);
	assert_int_equal(http_server_start(s), EPH_OK);
	fake.delay_ms = 500;
	assert_int_equal(pthread_create(&t, NULL, slow_get_client, &g), 0);
	usleep(200000); /* the request is in the backend */
	http_server_stop(s, 5);
	pthread_join(t, NULL);
	/* The request in flight was answered; nothing is listening now. */
	assert_int_equal(g.status, 200);
	assert_int_not_equal(lstat(p, &st), 0);
	http_server_free(s);
	free(p);
}

/* The real curl(1), as an operator would use it. */
static void
test_curl_cli(void **state)
{
	char *out = NULL, *b;
	int rc;

	if (access("/usr/bin/curl", X_OK) != 0)
		skip();
	rc = tu_run(&out, "curl -sS --unix-socket '%s' http://localhost/v1/healthz", G->sock);
	assert_int_equal(rc, 0);
	tu_assert_contains(out, "{\"status\":\"ok\"}");
	free(out);
	b = tu_path(G->dir, "body.json");
	{
		char *body = create_body(NULL);

		assert_int_equal(tu_write_file(b, body, strlen(body), 0600), 0);
		free(body);
	}
	rc = tu_run(&out,
	    "curl -sS -w '%%{http_code}' --unix-socket '%s' -H 'Content-Type: application/json' "
	    "--data-binary @'%s' http://localhost/v1/requests",
	    G->sock, b);
	assert_int_equal(rc, 0);
	tu_assert_contains(out, "\"id\":\"r-0123456789abcdef\"");
	tu_assert_contains(out, "201");
	free(out);
	/* Form-encoded, as curl -d sends by default: 415. */
	rc = tu_run(&out,
	    "curl -sS -w '%%{http_code}' --unix-socket '%s' -d @'%s' http://localhost/v1/requests",
	    G->sock, b);
	assert_int_equal(rc, 0);
	tu_assert_contains(out, "415");
	free(out);
	free(b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_valid),
	    cmocka_unit_test(test_path_parse),
	    cmocka_unit_test(test_query_parse),
	    cmocka_unit_test(test_bearer_parse),
	    cmocka_unit_test(test_status_map),
	    cmocka_unit_test(test_public_key_check),
	    cmocka_unit_test(test_request_parse),
	    cmocka_unit_test(test_action_login_parse),
	    cmocka_unit_test(test_login_conversation_parse),
	    cmocka_unit_test_setup(test_routes, test_setup),
	    cmocka_unit_test_setup(test_peercred, test_setup),
	    cmocka_unit_test_setup(test_method_errors, test_setup),
	    cmocka_unit_test_setup(test_unknown_paths, test_setup),
	    cmocka_unit_test_setup(test_bad_bodies, test_setup),
	    cmocka_unit_test_setup(test_backend_errors, test_setup),
	    cmocka_unit_test_setup(test_krl_etag, test_setup),
	    cmocka_unit_test_setup(test_big_body, test_setup),
	    cmocka_unit_test_setup(test_slow_client, test_setup),
	    cmocka_unit_test_setup(test_keepalive, test_setup),
	    cmocka_unit_test_setup(test_big_headers, test_setup),
	    cmocka_unit_test_setup(test_metrics, test_setup),
	    cmocka_unit_test_setup(test_error_metrics, test_setup),
	    cmocka_unit_test_setup(test_concurrent, test_setup),
	    cmocka_unit_test_setup_teardown(test_socket_path, dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_not_implemented, dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_tls, dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_connection_limit, dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_graceful_stop, dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup(test_curl_cli, test_setup),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("http", tests, group_setup, group_teardown);
}

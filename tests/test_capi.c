/* The client's API calls (client/capi.c) against a small HTTP server of
 * the test's own on a Unix socket: what each kind of answer comes to,
 * what is sent, and what never reaches the terminal. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "../client/capi.h"
#include "../client/conf.h"
#include "err.h"
#include "testutil.h"

/* One canned answer per connection, and what the request looked like. */
struct server {
	char path[108];
	int fd;
	pthread_t t;
	const char *answer; /* the whole HTTP response */
	size_t answer_len;
	char request[8192]; /* what arrived */
};

static void *
serve_one(void *arg)
{
	struct server *s = arg;
	size_t got = 0;
	int c;

	if ((c = accept(s->fd, NULL, NULL)) < 0)
		return NULL;
	/* Read until the end of the headers and the body they announce. */
	for (;;) {
		ssize_t n = read(c, s->request + got, sizeof(s->request) - 1 - got);
		char *end, *cl;

		if (n <= 0)
			break;
		got += (size_t)n;
		s->request[got] = '\0';
		if ((end = strstr(s->request, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(s->request, "Content-Length:");
		if (cl == NULL || cl > end ||
		    got >= (size_t)(end + 4 - s->request) + (size_t)atol(cl + 15))
			break;
	}
	if (write(c, s->answer, s->answer_len) < 0)
		(void)0;
	close(c);
	return NULL;
}

static void
server_start(struct server *s, const char *dir, const char *answer, size_t len)
{
	struct sockaddr_un sa;

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s/ca.sock", dir);
	s->answer = answer;
	s->answer_len = len;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	unlink(s->path);
	assert_true((s->fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->fd, 4), 0);
	assert_int_equal(pthread_create(&s->t, NULL, serve_one, s), 0);
}

static void
server_stop(struct server *s)
{
	pthread_join(s->t, NULL);
	close(s->fd);
	unlink(s->path);
}

/* A whole HTTP answer with a right Content-Length (static buffer). */
static const char *
answer_of(const char *status, const char *ctype, const char *body)
{
	static char a[4096];

	snprintf(a, sizeof(a),
	    "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    status, ctype, strlen(body), body);
	return a;
}

/* Call GET /v1/x (or POST with body) against an answer. */
static int
call(const char *dir, const char *answer, size_t len, const char *token, const json_t *body,
    struct server *s, struct capi_result *res)
{
	struct ephssh_conf c;
	struct capi *a = NULL;
	char ca[160];
	int r;

	server_start(s, dir, answer, len);
	memset(&c, 0, sizeof(c));
	snprintf(ca, sizeof(ca), "unix:%s", s->path);
	c.ca = ca;
	c.connect_timeout = 5;
	assert_int_equal(capi_open(&c, token, &a), EPH_OK);
	r = capi_call(a, body != NULL ? "POST" : "GET", "/v1/x", body, res);
	capi_close(a);
	server_stop(s);
	return r;
}

static void
test_json_error(void **state)
{
	char *dir = tu_mkdtemp();
	struct server s;
	struct capi_result res;
	json_t *body = json_pack("{s:s}", "comment", "ok");
	const char *answer = answer_of("409 Conflict", "application/json",
	    "{\"error\": \"conflict\", \"detail\": \"already issued\"}");

	(void)state;

	/* A proxy in the environment does not take the socket's calls. */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	assert_int_equal(call(dir, answer, strlen(answer), "secret-token", body, &s, &res), EPH_OK);
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	assert_int_equal(res.outcome, CAPI_ANSWERED);
	assert_int_equal(res.status, 409);
	assert_string_equal(res.error, "conflict");
	assert_string_equal(res.detail, "already issued");
	/* Sent as JSON, with its type; on the socket no token goes out. */
	assert_non_null(strstr(s.request, "POST /v1/x HTTP/1.1"));
	assert_non_null(strcasestr(s.request, "Content-Type: application/json"));
	assert_non_null(strstr(s.request, "{\"comment\":\"ok\"}"));
	assert_null(strstr(s.request, "secret-token"));
	assert_null(strcasestr(s.request, "Authorization"));
	capi_result_clear(&res);
	json_decref(body);
	tu_rmrf(dir);
	free(dir);
}

static void
test_control_characters_defanged(void **state)
{
	const char *answer = answer_of("200 OK", "application/json",
	    "{\"detail\": \"a\\u001b]0;x\\u0007b\", \"v\": [\"\\u009bc\", {\"k\": \"\\n\"}]}");
	char *dir = tu_mkdtemp();
	struct server s;
	struct capi_result res;
	const json_t *v;

	(void)state;
	assert_int_equal(call(dir, answer, strlen(answer), NULL, NULL, &s, &res), EPH_OK);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.detail, "a?]0;x?b");
	v = json_object_get(res.body, "v");
	assert_string_equal(json_string_value(json_array_get(v, 0)), "??c");
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "k")), "?");
	capi_result_clear(&res);
	tu_rmrf(dir);
	free(dir);
}

static void
test_not_json(void **state)
{
	static const char raw[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
	    "Connection: close\r\n\r\nssh-ed25519 ";
	static const char bad[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                          "Content-Length: 5\r\nConnection: close\r\n\r\n{\"a\":";
	static const char notobj[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                             "Content-Length: 2\r\nConnection: close\r\n\r\n[]";
	char *dir = tu_mkdtemp();
	struct server s;
	struct capi_result res;

	(void)state;
	assert_int_equal(call(dir, raw, strlen(raw), NULL, NULL, &s, &res), EPH_OK);
	assert_null(res.body);
	assert_int_equal(res.raw_len, 12);
	assert_string_equal(res.raw, "ssh-ed25519 ");
	capi_result_clear(&res);
	assert_int_equal(call(dir, bad, strlen(bad), NULL, NULL, &s, &res), EPH_ERR_FORMAT);
	assert_int_equal(res.outcome, CAPI_BAD_ANSWER);
	tu_assert_contains(res.why, "malformed JSON");
	capi_result_clear(&res);
	assert_int_equal(call(dir, notobj, strlen(notobj), NULL, NULL, &s, &res), EPH_ERR_FORMAT);
	assert_int_equal(res.outcome, CAPI_BAD_ANSWER);
	capi_result_clear(&res);
	tu_rmrf(dir);
	free(dir);
}

static void
test_too_big(void **state)
{
	size_t n = CAPI_MAX_BODY + 4096, hl;
	char *answer = malloc(n + 200);
	char *dir = tu_mkdtemp();
	struct server s;
	struct capi_result res;

	(void)state;
	assert_non_null(answer);
	hl = (size_t)snprintf(answer, 200,
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n",
	    n);
	memset(answer + hl, ' ', n);
	assert_int_equal(call(dir, answer, hl + n, NULL, NULL, &s, &res), EPH_ERR_IO);
	assert_int_equal(res.outcome, CAPI_BAD_ANSWER);
	tu_assert_contains(res.why, "an answer over");
	capi_result_clear(&res);
	free(answer);
	tu_rmrf(dir);
	free(dir);
}

static void
test_unreachable(void **state)
{
	struct ephssh_conf c;
	struct capi *a = NULL;
	struct capi_result res;
	char *dir = tu_mkdtemp(), ca[200];

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(ca, sizeof(ca), "unix:%s/none.sock", dir);
	c.ca = ca;
	assert_int_equal(capi_open(&c, NULL, &a), EPH_OK);
	assert_int_equal(capi_call(a, "GET", "/v1/x", NULL, &res), EPH_ERR_IO);
	assert_int_equal(res.outcome, CAPI_UNREACHABLE);
	/* The address and the system's reason, not curl's "port 80". */
	tu_assert_contains(res.why, ca);
	tu_assert_contains(res.why, "No such file or directory");
	assert_null(strstr(res.why, "port 80"));
	capi_result_clear(&res);
	assert_int_equal(capi_call(a, "GET", "no-slash", NULL, &res), EPH_ERR_INVAL);
	capi_result_clear(&res);
	capi_close(a);
	tu_rmrf(dir);
	free(dir);
}

static void
test_ca_problem(void **state)
{
	(void)state;
	assert_null(ephssh_ca_problem("unix:/run/ephemeral/sshca.sock"));
	assert_null(ephssh_ca_problem("https://ca.example.com:8443"));
	assert_null(ephssh_ca_problem("https://ca.example.com/"));
	tu_assert_contains(ephssh_ca_problem("http://ca.example.com"), "plain http");
	tu_assert_contains(ephssh_ca_problem("unix:relative.sock"), "absolute");
	tu_assert_contains(ephssh_ca_problem("ftp://x"), "unix: or https://");
	tu_assert_contains(ephssh_ca_problem("https://"), "host name");
	tu_assert_contains(ephssh_ca_problem("https://ca/x?y"), "plain");
	assert_non_null(ephssh_ca_problem(""));
	assert_non_null(ephssh_ca_problem(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_error),
	    cmocka_unit_test(test_control_characters_defanged),
	    cmocka_unit_test(test_not_json),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_ca_problem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The HTTP front of sshca serve: listeners, libmicrohttpd daemons, caller
 * identity, body collection under caps, routing to the backend, error
 * bodies, and the front's own metrics. Validation lives in api.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "err.h"
#include "fileio.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "util.h"

/* ------------------------------------------------------------- metrics */

/* The statuses counted one by one; anything else is "other". */
static const unsigned metric_statuses[] = {
    200, 201, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 501, 503};
#define N_STATUS (sizeof(metric_statuses) / sizeof(metric_statuses[0]) + 1)
#define N_METHOD 3
/* Latency bucket bounds in microseconds (the last is +Inf). */
static const uint64_t metric_buckets_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};
#define N_BUCKET (sizeof(metric_buckets_us) / sizeof(metric_buckets_us[0]) + 1)
/* Error answers are counted by their "error" code: the tokens
 * api_error_token gives these statuses, and "other" for anything else,
 * so that no client can make a new label. */
static const unsigned metric_error_statuses[] = {
    400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 501, 503};
#define N_ERROR (sizeof(metric_error_statuses) / sizeof(metric_error_statuses[0]) + 1)

struct http_metrics {
	uint64_t requests[API_ROUTE_COUNT][N_METHOD][N_STATUS];
	uint64_t latency[N_BUCKET]; /* not cumulative; summed when printed */
	uint64_t errors[N_ERROR]; /* error answers by their "error" code */
	uint64_t latency_sum_us;
	uint64_t latency_count;
	uint64_t connections_total;
	int64_t connections_open;
	uint64_t body_too_large;
	uint64_t timeouts;
};

static size_t
status_index(unsigned status)
{
	size_t i;

	for (i = 0; i + 1 < N_STATUS; i++)
		if (metric_statuses[i] == status)
			return i;
	return N_STATUS - 1;
}

static size_t
error_index(const char *code)
{
	size_t i;

	for (i = 0; code != NULL && i + 1 < N_ERROR; i++)
		if (strcmp(code, api_error_token(metric_error_statuses[i])) == 0)
			return i;
	return N_ERROR - 1;
}

static void
metrics_count(struct http_metrics *m, enum api_route route, enum api_method method, unsigned status,
    uint64_t us)
{
	size_t b;

	if ((unsigned)route >= API_ROUTE_COUNT)
		route = API_ROUTE_NONE;
	__atomic_fetch_add(&m->requests[route][method][status_index(status)], 1, __ATOMIC_RELAXED);
	for (b = 0; b + 1 < N_BUCKET; b++)
		if (us <= metric_buckets_us[b])
			break;
	__atomic_fetch_add(&m->latency[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->latency_sum_us, us, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->latency_count, 1, __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------- the server */

struct http_server;

/* One listener: its socket and its libmicrohttpd daemon. */
struct listener {
	struct http_server *srv;
	enum ca_via via;
	int fd;
	struct MHD_Daemon *d;
};

struct http_server {
	struct http_config cfg;
	const struct ca_api_backend *be;
	void *be_ctx;
	char *socket_path; /* the Unix socket we created, to unlink */
	dev_t socket_dev;
	ino_t socket_ino;
	struct listener unix_l, tls_l;
	char *tls_cert, *tls_key; /* PEM text; the key is wiped on free */
	size_t tls_key_len;
	unsigned tls_port;
	int running;
	int64_t inflight;
	struct http_metrics m;
};

/* Per connection: who is at the other end, found once. */
struct conn {
	struct ca_caller caller;
	const char *problem; /* why the Unix peer has no identity, or NULL */
};

/* Per request. */
struct req {
	struct timespec start;
	int started;
	int too_large;
	int counted;
	enum api_route route;
	enum api_method method;
	unsigned status;
	struct buf body;
	struct http_metrics *m; /* the server's */
};

static uint64_t
elapsed_us(const struct timespec *t0)
{
	struct timespec t1;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
	return us < 0 ? 0 : (uint64_t)us;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	(void)eph_log(LOG_NOTICE, NULL, NULL, 0, "http: %s", line);
}

/* No route needs an escape, and decoding "%00" would cut the path: the
 * path and query arrive as sent, and api.c decodes query values itself. */
static size_t
unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* Called at the start of every request: its context and start time. */
static void *
request_begin(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct listener *l = cls;
	struct req *rq;

	(void)uri;
	(void)mc;
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &rq->start);
	buf_init(&rq->body);
	rq->m = &l->srv->m;
	__atomic_fetch_add(&l->srv->inflight, 1, __ATOMIC_RELAXED);
	return rq;
}

static void
request_end(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct listener *l = cls;
	struct req *rq = *con_cls;

	(void)mc;
	if (rq == NULL)
		return;
	if (rq->status != 0)
		metrics_count(
		    &l->srv->m, rq->route, rq->method, rq->status, elapsed_us(&rq->start));
	if (t == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		__atomic_fetch_add(&l->srv->m.timeouts, 1, __ATOMIC_RELAXED);
	/* The body may hold a password (POST /v1/login): buf_free wipes. */
	buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
	__atomic_fetch_sub(&l->srv->inflight, 1, __ATOMIC_RELAXED);
}

/* The Unix peer's identity from SO_PEERCRED, resolved once. */
static void
conn_peercred(struct conn *cn, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	struct passwd pw, *res = NULL;
	char *pwbuf = NULL, *nb;
	size_t pwlen = 1024;
	int e;

	cn->caller.uid = (uid_t)-1;
	cn->caller.gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 || len != sizeof(uc)) {
		cn->problem = "the peer's credentials could not be read";
		return;
	}
	cn->caller.uid = uc.uid;
	cn->caller.gid = uc.gid;
	cn->caller.pid = uc.pid;
	/* NSS entries have no fixed size: grow on ERANGE, up to a cap. */
	for (;;) {
		if ((nb = realloc(pwbuf, pwlen)) == NULL) {
			cn->problem = "out of memory";
			goto out;
		}
		pwbuf = nb;
		if ((e = getpwuid_r(uc.uid, &pw, pwbuf, pwlen, &res)) != ERANGE || pwlen >= 65536)
			break;
		pwlen *= 2;
	}
	if (e != 0 || res == NULL) {
		cn->problem = "the peer's uid has no user name";
		goto out;
	}
	if (strlen(pw.pw_name) > API_USER_MAX || policy_identity_problem(pw.pw_name) != NULL) {
		cn->problem = "the peer's user name is not usable";
		goto out;
	}
	memcpy(cn->caller.user, pw.pw_name, strlen(pw.pw_name) + 1);
	cn->caller.authenticated = 1;
out:
	free(pwbuf);
}

static void
conn_address(struct conn *cn, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;
	struct in_addr v4;

	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    cn->caller.address, sizeof(cn->caller.address));
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(&v4, &s6->sin6_addr.s6_addr[12], 4);
			(void)inet_ntop(
			    AF_INET, &v4, cn->caller.address, sizeof(cn->caller.address));
		} else {
			(void)inet_ntop(AF_INET6, &s6->sin6_addr, cn->caller.address,
			    sizeof(cn->caller.address));
		}
	}
}

static void
connection_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *cn;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (*socket_context != NULL) {
			free(*socket_context);
			*socket_context = NULL;
			__atomic_fetch_sub(&l->srv->m.connections_open, 1, __ATOMIC_RELAXED);
		}
		return;
	}
	if ((cn = calloc(1, sizeof(*cn))) == NULL)
		return; /* every request then answers 500 */
	cn->caller.via = l->via;
	cn->caller.uid = (uid_t)-1;
	cn->caller.gid = (gid_t)-1;
	if (l->via == CA_VIA_UNIX) {
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL)
			cn->problem = "the connection has no socket";
		else
			conn_peercred(cn, ci->connect_fd);
	} else {
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		conn_address(cn, ci != NULL ? ci->client_addr : NULL);
	}
	*socket_context = cn;
	__atomic_fetch_add(&l->srv->m.connections_total, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->srv->m.connections_open, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result
respond(struct MHD_Connection *mc, struct req *rq, unsigned status, const char *ctype, char *data,
    size_t len, const char *allow, const char *etag, int close)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	if (ctype != NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	(void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (allow != NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (etag != NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (status == 401)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (close)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		rq->status = status;
	return ret;
}

/* j (consumed) as one compact JSON line ending in '\n'; NULL when out of
 * memory. */
static char *
json_line(json_t *j, size_t *n)
{
	char *text = json_dumps(j, JSON_COMPACT), *t2;

	json_decref(j);
	if (text == NULL)
		return NULL;
	*n = strlen(text);
	/* json_dumps allocates exactly: make room for the newline. */
	if ((t2 = realloc(text, *n + 2)) == NULL) {
		free(text);
		return NULL;
	}
	t2[(*n)++] = '\n';
	t2[*n] = '\0';
	return t2;
}

static enum MHD_Result
respond_json(struct MHD_Connection *mc, struct req *rq, unsigned status, json_t *j)
{
	char *text;
	size_t n;

	if ((text = json_line(j, &n)) == NULL)
		return MHD_NO;
	return respond(mc, rq, status, "application/json", text, n, NULL, NULL, 0);
}

/* {"error": TOKEN, "detail": detail}, or body with both added. */
static enum MHD_Result
respond_error_full(struct MHD_Connection *mc, struct req *rq, unsigned status, const char *detail,
    json_t *body, const char *allow, int close)
{
	enum MHD_Result ret;
	char *text;
	size_t n, code;

	if (body == NULL || !json_is_object(body)) {
		json_decref(body);
		body = json_object();
	}
	if (body == NULL)
		return MHD_NO;
	if (json_object_get(body, "error") == NULL)
		(void)json_object_set_new(body, "error", json_string(api_error_token(status)));
	if (json_object_get(body, "detail") == NULL)
		(void)json_object_set_new(body, "detail",
		    json_string(detail != NULL && *detail != '\0' ? detail : "error"));
	/* Every error body is made here: count it by the code it carries. */
	code = error_index(json_string_value(json_object_get(body, "error")));
	if ((text = json_line(body, &n)) == NULL)
		return MHD_NO;
	ret = respond(mc, rq, status, "application/json", text, n, allow, NULL, close);
	if (ret == MHD_YES)
		__atomic_fetch_add(&rq->m->errors[code], 1, __ATOMIC_RELAXED);
	return ret;
}

static enum MHD_Result
respond_error(struct MHD_Connection *mc, struct req *rq, unsigned status, const char *detail)
{
	return respond_error_full(mc, rq, status, detail, NULL, NULL, 0);
}

/* A backend's answer: its body on success, else the mapped error. */
static enum MHD_Result
respond_backend(
    struct MHD_Connection *mc, struct req *rq, int r, struct ca_reply *rep, unsigned ok_status)
{
	unsigned status = api_http_status(r);
	json_t *body = rep->body;

	rep->body = NULL;
	if (r == EPH_OK) {
		if (body == NULL)
			body = json_object();
		if (body == NULL)
			return MHD_NO;
		return respond_json(mc, rq, ok_status, body);
	}
	if (status == 500) {
		/* What failed inside stays in the log. */
		(void)eph_log(LOG_ERR, NULL, NULL, 0, "http: %s %s: %s%s%s",
		    rq->method == API_METHOD_POST ? "POST" : "GET", api_route_name(rq->route),
		    eph_strerror(r), rep->detail[0] != '\0' ? ": " : "", rep->detail);
		json_decref(body);
		return respond_error(mc, rq, 500, "internal error");
	}
	return respond_error_full(
	    mc, rq, status, rep->detail[0] != '\0' ? rep->detail : eph_strerror(r), body, NULL, 0);
}

/* ---------------------------------------------------------------- routes */

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct api_query *q = cls;

	(void)kind;
	if (q->n == API_MAX_QUERY_ARGS) {
		q->overflow = 1;
		return MHD_NO;
	}
	q->arg[q->n].key = key;
	q->arg[q->n].value = value;
	q->n++;
	return MHD_YES;
}

static void
query_collect(struct MHD_Connection *mc, struct api_query *q)
{
	memset(q, 0, sizeof(*q));
	(void)MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, query_arg, q);
}

static int
is_json_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (ct == NULL || strncasecmp(ct, json, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The caller for this request: the connection's, or over TLS what the
 * bearer token says. EPH_OK, or an HTTP status to answer with. */
static unsigned
request_caller(struct listener *l, struct conn *cn, struct MHD_Connection *mc, int need,
    struct ca_caller *c, const char **why)
{
	char tok[API_MAX_TOKEN + 1];
	const char *h;
	int r;

	*c = cn->caller;
	if (!need)
		return 0;
	if (l->via == CA_VIA_UNIX) {
		if (!c->authenticated) {
			*why = cn->problem != NULL ? cn->problem : "unknown peer";
			return 403;
		}
		return 0;
	}
	c->authenticated = 0;
	c->user[0] = '\0';
	h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (api_bearer_parse(h, tok, sizeof(tok)) != EPH_OK) {
		eph_wipe(tok, sizeof(tok));
		*why = "an \"Authorization: Bearer TOKEN\" header from POST /v1/login is required";
		return 401;
	}
	if (l->srv->be->session_check == NULL) {
		eph_wipe(tok, sizeof(tok));
		*why = "sessions are not available";
		return 401;
	}
	r = l->srv->be->session_check(l->srv->be_ctx, tok, c);
	eph_wipe(tok, sizeof(tok));
	if (r != EPH_OK || c->user[0] == '\0' || memchr(c->user, '\0', sizeof(c->user)) == NULL) {
		c->authenticated = 0;
		if (r == EPH_ERR_STORE_FULL) {
			*why = "the session store is unavailable";
			return 503;
		}
		*why = "the session token is unknown or has expired";
		return 401;
	}
	c->via = CA_VIA_TLS;
	c->authenticated = 1;
	return 0;
}

static enum MHD_Result
route_krl(struct listener *l, struct MHD_Connection *mc, struct req *rq)
{
	struct ca_krl krl = {0};
	char etag[32];
	const char *inm;
	int r;

	if ((r = l->srv->be->krl_get(l->srv->be_ctx, &krl)) != EPH_OK) {
		struct ca_reply rep = {0};

		free(krl.data);
		return respond_backend(mc, rq, r, &rep, 200);
	}
	(void)snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long long)krl.version);
	inm = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm != NULL &&
	    (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0 ||
	        (strncmp(inm, "W/", 2) == 0 && strcmp(inm + 2, etag) == 0))) {
		free(krl.data);
		return respond(mc, rq, 304, NULL, NULL, 0, NULL, etag, 0);
	}
	if (krl.data == NULL && krl.len != 0)
		return respond_error(mc, rq, 500, "internal error");
	return respond(
	    mc, rq, 200, "application/octet-stream", (char *)krl.data, krl.len, NULL, etag, 0);
}

static enum MHD_Result
route_text(struct listener *l, struct MHD_Connection *mc, struct req *rq)
{
	struct ca_reply rep = {0};
	struct buf b;
	char *text = NULL;
	int r;

	if (rq->route == API_ROUTE_CA_PUB) {
		if ((r = l->srv->be->ca_pub(l->srv->be_ctx, &text)) != EPH_OK || text == NULL) {
			free(text);
			return respond_backend(mc, rq, r != EPH_OK ? r : EPH_ERR_IO, &rep, 200);
		}
		return respond(
		    mc, rq, 200, "text/plain; charset=utf-8", text, strlen(text), NULL, NULL, 0);
	}
	/* /metrics: ours, then the backend's. */
	buf_init(&b);
	r = http_server_metrics(l->srv, &b);
	if (r == EPH_OK && l->srv->be->metrics != NULL)
		r = l->srv->be->metrics(l->srv->be_ctx, &b);
	if (r == EPH_OK)
		r = buf_put(&b, "", 1);
	if (r != EPH_OK) {
		buf_free(&b);
		return respond_backend(mc, rq, r, &rep, 200);
	}
	/* buf owns b.d; hand it to MHD. */
	return respond(mc, rq, 200, "text/plain; version=0.0.4; charset=utf-8", (char *)b.d,
	    b.len - 1, NULL, NULL, 0);
}

/* POST /v1/logout: over TLS the token request_caller accepted (read
 * again: it was wiped there), over the Unix socket none. */
static enum MHD_Result
route_logout(struct listener *l, struct MHD_Connection *mc, struct req *rq,
    const struct ca_caller *caller, struct ca_reply *rep)
{
	char tok[API_MAX_TOKEN + 1];
	const char *h;
	int r;

	if (l->via == CA_VIA_UNIX) {
		r = l->srv->be->logout(l->srv->be_ctx, caller, NULL, rep);
		return respond_backend(mc, rq, r, rep, 200);
	}
	h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (api_bearer_parse(h, tok, sizeof(tok)) != EPH_OK) {
		eph_wipe(tok, sizeof(tok));
		return respond_error(mc, rq, 401, "the session token is unknown or has expired");
	}
	r = l->srv->be->logout(l->srv->be_ctx, caller, tok, rep);
	eph_wipe(tok, sizeof(tok));
	if (r == EPH_ERR_UNAUTHENTICATED)
		ca_reply_detail(rep, "the session token is unknown or has expired");
	return respond_backend(mc, rq, r, rep, 200);
}

/* Is the backend member for this route set? */
static int
route_implemented(const struct ca_api_backend *be, enum api_route route, enum api_method m)
{
	switch (route) {
	case API_ROUTE_REQUESTS:
		return m == API_METHOD_POST ? be->request_create != NULL : be->request_list != NULL;
	case API_ROUTE_REQUEST: return be->request_get != NULL;
	case API_ROUTE_APPROVE: return be->request_approve != NULL;
	case API_ROUTE_DENY: return be->request_deny != NULL;
	case API_ROUTE_CANCEL: return be->request_cancel != NULL;
	case API_ROUTE_REVOKE: return be->request_revoke != NULL;
	case API_ROUTE_REVIEW: return be->request_review != NULL;
	case API_ROUTE_KRL: return be->krl_get != NULL;
	case API_ROUTE_CA_PUB: return be->ca_pub != NULL;
	case API_ROUTE_HEALTHZ: return be->health != NULL;
	case API_ROUTE_METRICS: return 1;
	case API_ROUTE_AUDIT: return be->audit_since != NULL;
	case API_ROUTE_LOGIN: return be->login != NULL;
	case API_ROUTE_LOGOUT: return be->logout != NULL && be->session_check != NULL;
	case API_ROUTE_NONE:
	case API_ROUTE_COUNT: break;
	}
	return 0;
}

/* The whole request is in: validate what it carries and call the backend. */
static enum MHD_Result
dispatch(struct listener *l, struct conn *cn, struct MHD_Connection *mc, struct req *rq,
    const struct api_path *path)
{
	const struct ca_api_backend *be = l->srv->be;
	void *ctx = l->srv->be_ctx;
	struct ca_reply rep = {0};
	struct ca_request_input rin;
	struct ca_list_query lq;
	struct ca_login_input lin;
	struct ca_caller caller;
	struct api_query q;
	char detail[API_DETAIL_MAX] = "";
	const char *why = NULL, *text, *ct;
	json_t *body = NULL;
	unsigned status;
	uint64_t since;
	enum MHD_Result ret;
	int r = EPH_ERR_INVAL;

	if (!route_implemented(be, rq->route, rq->method))
		return respond_error(mc, rq, 501, "this server does not offer it");
	if ((status = request_caller(l, cn, mc, api_route_needs_auth(rq->route), &caller, &why)) !=
	    0)
		return respond_error(mc, rq, status, why);
	query_collect(mc, &q);
	if (rq->route == API_ROUTE_REQUESTS && rq->method == API_METHOD_GET)
		r = api_list_query_parse(&q, &lq, detail, sizeof(detail));
	else if (rq->route == API_ROUTE_AUDIT)
		r = api_audit_query_parse(&q, &since, detail, sizeof(detail));
	else
		r = api_no_query(&q, detail, sizeof(detail));
	if (r != EPH_OK)
		return respond_error(mc, rq, 400, detail);
	if (rq->method == API_METHOD_POST) {
		ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (rq->body.len > 0 && !is_json_type(ct))
			return respond_error(
			    mc, rq, 415, "the body must be sent as Content-Type: application/json");
		if ((r = api_body_load(rq->body.d, rq->body.len,
		         rq->route != API_ROUTE_REQUESTS && rq->route != API_ROUTE_LOGIN, &body,
		         detail, sizeof(detail))) != EPH_OK)
			return respond_error(mc, rq, r == EPH_ERR_NOMEM ? 500 : 400, detail);
	}
	switch (rq->route) {
	case API_ROUTE_REQUESTS:
		if (rq->method == API_METHOD_GET) {
			r = be->request_list(ctx, &caller, &lq, &rep);
			ret = respond_backend(mc, rq, r, &rep, 200);
			break;
		}
		if ((r = api_request_parse(body, &rin, detail, sizeof(detail))) != EPH_OK) {
			ret = respond_error(mc, rq, r == EPH_ERR_NOMEM ? 500 : 400, detail);
			break;
		}
		r = be->request_create(ctx, &caller, &rin, &rep);
		api_request_free(&rin);
		ret = respond_backend(mc, rq, r, &rep, 201);
		break;
	case API_ROUTE_REQUEST:
		r = be->request_get(ctx, &caller, path->id, &rep);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_APPROVE:
	case API_ROUTE_REVIEW:
		if ((r = api_action_parse(body, "comment", 0, &text, detail, sizeof(detail))) !=
		    EPH_OK) {
			ret = respond_error(mc, rq, 400, detail);
			break;
		}
		r = (rq->route == API_ROUTE_APPROVE ? be->request_approve : be->request_review)(
		    ctx, &caller, path->id, text, &rep);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_DENY:
	case API_ROUTE_REVOKE:
		if ((r = api_action_parse(body, "reason", rq->route == API_ROUTE_DENY, &text,
		         detail, sizeof(detail))) != EPH_OK) {
			ret = respond_error(mc, rq, 400, detail);
			break;
		}
		r = (rq->route == API_ROUTE_DENY ? be->request_deny : be->request_revoke)(
		    ctx, &caller, path->id, text, &rep);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_CANCEL:
		if ((r = api_action_parse(body, NULL, 0, &text, detail, sizeof(detail))) !=
		    EPH_OK) {
			ret = respond_error(mc, rq, 400, detail);
			break;
		}
		r = be->request_cancel(ctx, &caller, path->id, NULL, &rep);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_KRL: ret = route_krl(l, mc, rq); break;
	case API_ROUTE_CA_PUB:
	case API_ROUTE_METRICS: ret = route_text(l, mc, rq); break;
	case API_ROUTE_HEALTHZ:
		r = be->health(ctx, &rep);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_AUDIT:
		r = be->audit_since(ctx, &caller, since, &rep);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_LOGIN:
		r = api_login_parse(body, &lin, detail, sizeof(detail));
		/* The parsed copies are the only ones left. */
		api_login_body_wipe(body);
		if (r != EPH_OK) {
			ret = respond_error(mc, rq, r == EPH_ERR_NOMEM ? 500 : 400, detail);
			break;
		}
		r = be->login(ctx, &caller, &lin, &rep);
		api_login_free(&lin);
		ret = respond_backend(mc, rq, r, &rep, 200);
		break;
	case API_ROUTE_LOGOUT:
		if ((r = api_action_parse(body, NULL, 0, &text, detail, sizeof(detail))) !=
		    EPH_OK) {
			ret = respond_error(mc, rq, 400, detail);
			break;
		}
		ret = route_logout(l, mc, rq, &caller, &rep);
		break;
	case API_ROUTE_NONE:
	case API_ROUTE_COUNT:
	default: ret = respond_error(mc, rq, 404, "no such path"); break;
	}
	json_decref(rep.body);
	json_decref(body);
	return ret;
}

/* The first call for a request: refuse early what can be refused on the
 * request line and headers alone. MHD_YES with rq->status 0 to go on. */
static enum MHD_Result
request_start(struct listener *l, struct MHD_Connection *mc, struct req *rq, const char *url,
    const char *method, struct api_path *path)
{
	char detail[API_DETAIL_MAX] = "";
	const char *cl;
	uint64_t n;
	int r;

	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		rq->method = API_METHOD_GET;
	else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		rq->method = API_METHOD_POST;
	else
		rq->method = API_METHOD_OTHER;
	r = api_path_parse(url, path, detail, sizeof(detail));
	rq->route = path->route;
	if (r == EPH_ERR_NOTFOUND)
		return respond_error(mc, rq, 404, "no such path");
	if (r != EPH_OK)
		return respond_error(mc, rq, 400, detail);
	if ((api_route_methods(rq->route) & (1u << rq->method)) == 0 ||
	    rq->method == API_METHOD_OTHER) {
		(void)snprintf(detail, sizeof(detail), "%s takes %s", api_route_name(rq->route),
		    api_route_allow(rq->route));
		return respond_error_full(mc, rq, 405, detail, NULL, api_route_allow(rq->route), 0);
	}
	cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && parse_u64(cl, &n) == EPH_OK && n > l->srv->cfg.max_body) {
		rq->too_large = 1;
		__atomic_fetch_add(&l->srv->m.body_too_large, 1, __ATOMIC_RELAXED);
		(void)snprintf(detail, sizeof(detail), "the body is larger than %zu bytes",
		    l->srv->cfg.max_body);
		return respond_error_full(mc, rq, 413, detail, NULL, NULL, 1);
	}
	return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct req *rq = *con_cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *cn;
	struct api_path path;
	char detail[API_DETAIL_MAX];

	(void)version;
	if (rq == NULL)
		return MHD_NO; /* out of memory at request_begin */
	if (rq->status != 0) {
		/* Answered early; MHD closes after the response. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!rq->started) {
		rq->started = 1;
		return request_start(l, mc, rq, url, method, &path);
	}
	if (*upload_data_size != 0) {
		if (rq->too_large || rq->body.len + *upload_data_size > l->srv->cfg.max_body) {
			if (!rq->too_large)
				__atomic_fetch_add(&l->srv->m.body_too_large, 1, __ATOMIC_RELAXED);
			rq->too_large = 1;
			(void)snprintf(detail, sizeof(detail), "the body is larger than %zu bytes",
			    l->srv->cfg.max_body);
			*upload_data_size = 0;
			if (respond_error_full(mc, rq, 413, detail, NULL, NULL, 1) == MHD_YES)
				return MHD_YES;
			/* Too late to answer: drop the connection. */
			rq->status = 413;
			return MHD_NO;
		}
		if (buf_put(&rq->body, upload_data, *upload_data_size) != EPH_OK)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (api_path_parse(url, &path, NULL, 0) != EPH_OK)
		return respond_error(mc, rq, 404, "no such path");
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cn = ci != NULL ? ci->socket_context : NULL;
	if (cn == NULL)
		return respond_error(mc, rq, 500, "internal error");
	return dispatch(l, cn, mc, rq, &path);
}

/* ------------------------------------------------------------- listeners */

static void why_set(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static int
unix_listen(struct http_server *s, const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd = -1, probe = -1, r = EPH_ERR_IO;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		why_set(why, whylen, "socket %s: expected an absolute path under %zu bytes", path,
		    sizeof(sa.sun_path));
		return EPH_ERR_INVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			why_set(why, whylen, "socket %s: exists and is not a socket", path);
			return EPH_ERR_EXISTS;
		}
		/* A socket someone still listens on is not stale. */
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			why_set(why, whylen, "socket: %s", strerror(errno));
			return EPH_ERR_IO;
		}
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			why_set(why, whylen, "socket %s: another server is listening on it", path);
			return EPH_ERR_EXISTS;
		}
		close(probe);
		if (unlink(path) != 0 && errno != ENOENT) {
			why_set(why, whylen, "socket %s: cannot remove the stale socket: %s", path,
			    strerror(errno));
			return EPH_ERR_IO;
		}
	} else if (errno != ENOENT) {
		why_set(why, whylen, "socket %s: %s", path, strerror(errno));
		return EPH_ERR_IO;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		why_set(why, whylen, "socket: %s", strerror(errno));
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		why_set(why, whylen, "socket %s: bind: %s", path, strerror(errno));
		goto out;
	}
	/* Every local user may connect: SO_PEERCRED says who they are. */
	if (chmod(path, 0666) != 0 || lstat(path, &st) != 0) {
		why_set(why, whylen, "socket %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
	if (listen(fd, 128) != 0) {
		why_set(why, whylen, "socket %s: listen: %s", path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
	if ((s->socket_path = strdup(path)) == NULL) {
		(void)unlink(path);
		r = EPH_ERR_NOMEM;
		goto out;
	}
	s->socket_dev = st.st_dev;
	s->socket_ino = st.st_ino;
	s->unix_l.fd = fd;
	fd = -1;
	r = EPH_OK;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* "ADDR:PORT", "[V6]:PORT" or "*:PORT" into a socket address. */
static int
tcp_addr_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon, *h0 = spec, *h1;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if ((colon = strrchr(spec, ':')) == NULL || parse_u64(colon + 1, &port) != EPH_OK ||
	    port > 65535)
		return EPH_ERR_INVAL;
	h1 = colon;
	if (spec[0] == '[') {
		if (colon == spec || colon[-1] != ']')
			return EPH_ERR_INVAL;
		h0 = spec + 1;
		h1 = colon - 1;
	}
	if ((size_t)(h1 - h0) >= sizeof(host))
		return EPH_ERR_INVAL;
	memcpy(host, h0, (size_t)(h1 - h0));
	host[h1 - h0] = '\0';
	if (strcmp(host, "*") == 0 || strcmp(host, "") == 0) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		return EPH_ERR_INVAL;
	}
	return EPH_OK;
}

static int
tcp_listen(struct http_server *s, const char *spec, char *why, size_t whylen)
{
	struct sockaddr_storage ss, bound;
	socklen_t len, blen = sizeof(bound);
	int fd = -1, one = 1, zero = 0, r = EPH_ERR_IO;

	if (tcp_addr_parse(spec, &ss, &len) != EPH_OK) {
		why_set(why, whylen, "tls listen \"%s\": expected ADDR:PORT, [ADDR]:PORT or *:PORT",
		    spec);
		return EPH_ERR_INVAL;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		why_set(why, whylen, "tls listen %s: socket: %s", spec, strerror(errno));
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
		why_set(why, whylen, "tls listen %s: %s", spec, strerror(errno));
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		s->tls_port =
		    ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
		                                     : ((struct sockaddr_in6 *)&bound)->sin6_port);
	s->tls_l.fd = fd;
	fd = -1;
	r = EPH_OK;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* A PEM file as a NUL-terminated string. */
static int
pem_read(const char *path, unsigned checks, char **out, size_t *outlen, char *why, size_t whylen)
{
	struct buf b;
	int r;

	*out = NULL;
	buf_init(&b);
	if ((r = file_read_all(path, HTTP_MAX_TLS_FILE, checks, &b)) != EPH_OK ||
	    (r = buf_put(&b, "", 1)) != EPH_OK) {
		why_set(why, whylen, "%s: %s%s%s", path, eph_strerror(r),
		    r == EPH_ERR_IO ? ": " : "", r == EPH_ERR_IO ? strerror(errno) : "");
		if (b.d != NULL)
			eph_wipe(b.d, b.len);
		buf_free(&b);
		return r;
	}
	*out = (char *)b.d;
	*outlen = b.len;
	return EPH_OK;
}

int
http_server_open(const struct http_config *cfg, const struct ca_api_backend *be, void *be_ctx,
    struct http_server **out, char *why, size_t whylen)
{
	struct http_server *s;
	int r = EPH_ERR_NOMEM;

	*out = NULL;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (be == NULL || (cfg->socket_path == NULL && cfg->tls_listen == NULL) ||
	    (cfg->tls_listen != NULL && (cfg->tls_certificate == NULL || cfg->tls_key == NULL))) {
		why_set(why, whylen, "no listener, or TLS without its certificate and key");
		return EPH_ERR_INVAL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return EPH_ERR_NOMEM;
	s->cfg = *cfg;
	s->cfg.socket_path = s->cfg.tls_listen = s->cfg.tls_certificate = s->cfg.tls_key = NULL;
	if (s->cfg.threads == 0)
		s->cfg.threads = HTTP_DEFAULT_THREADS;
	if (s->cfg.max_connections == 0)
		s->cfg.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
	if (s->cfg.max_connections < s->cfg.threads)
		s->cfg.max_connections = s->cfg.threads;
	if (s->cfg.max_per_ip == 0)
		s->cfg.max_per_ip = HTTP_DEFAULT_MAX_PER_IP;
	if (s->cfg.timeout == 0)
		s->cfg.timeout = HTTP_DEFAULT_TIMEOUT;
	if (s->cfg.connection_memory == 0)
		s->cfg.connection_memory = HTTP_DEFAULT_CONNECTION_MEMORY;
	if (s->cfg.max_body == 0 || s->cfg.max_body > API_MAX_BODY)
		s->cfg.max_body = API_MAX_BODY;
	s->be = be;
	s->be_ctx = be_ctx;
	s->unix_l.fd = s->tls_l.fd = -1;
	s->unix_l.srv = s->tls_l.srv = s;
	s->unix_l.via = CA_VIA_UNIX;
	s->tls_l.via = CA_VIA_TLS;
	if (cfg->tls_listen != NULL) {
		if ((r = pem_read(cfg->tls_certificate, FILE_CHECK_TRUSTED, &s->tls_cert,
		         &(size_t){0}, why, whylen)) != EPH_OK ||
		    (r = pem_read(cfg->tls_key, FILE_CHECK_TRUSTED | FILE_CHECK_SECRET, &s->tls_key,
		         &s->tls_key_len, why, whylen)) != EPH_OK)
			goto out;
	}
	if (cfg->socket_path != NULL &&
	    (r = unix_listen(s, cfg->socket_path, why, whylen)) != EPH_OK)
		goto out;
	if (cfg->tls_listen != NULL && (r = tcp_listen(s, cfg->tls_listen, why, whylen)) != EPH_OK)
		goto out;
	*out = s;
	s = NULL;
	r = EPH_OK;
out:
	http_server_free(s);
	return r;
}

static int
daemon_start(struct http_server *s, struct listener *l)
{
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[24];
	size_t n = 0;

#define OPT(o, v, p)                                                                               \
	do {                                                                                       \
		opts[n].option = (o);                                                              \
		opts[n].value = (intptr_t)(v);                                                     \
		opts[n].ptr_value = (p);                                                           \
		n++;                                                                               \
	} while (0)
	/* First, or libmicrohttpd warns that it is not (once per listener
	 * and worker thread) and logs what the options before it say through
	 * its own logger. */
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (void *)mhd_logger, NULL);
	OPT(MHD_OPTION_LISTEN_SOCKET, l->fd, NULL);
	if (s->cfg.threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.connection_memory, NULL);
	OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, (void *)unescape_none, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (void *)request_begin, l);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (void *)request_end, l);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (void *)connection_notify, l);
	if (l->via == CA_VIA_TLS) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_per_ip, NULL);
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
		    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE");
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	l->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, access_handler, l, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (l->d == NULL) {
		(void)eph_log(LOG_ERR, NULL, NULL, 0, "http: cannot start the %s listener",
		    l->via == CA_VIA_UNIX ? "Unix socket" : "TLS");
		return EPH_ERR_IO;
	}
	return EPH_OK;
}

int
http_server_start(struct http_server *s)
{
	int r;

	if (s->running)
		return EPH_ERR_INVAL;
	if (s->unix_l.fd >= 0 && (r = daemon_start(s, &s->unix_l)) != EPH_OK)
		goto out;
	if (s->tls_l.fd >= 0 && (r = daemon_start(s, &s->tls_l)) != EPH_OK)
		goto out;
	s->running = 1;
	r = EPH_OK;
out:
	if (r != EPH_OK) {
		if (s->unix_l.d != NULL) {
			MHD_stop_daemon(s->unix_l.d);
			s->unix_l.d = NULL;
			s->unix_l.fd = -1; /* MHD closed it */
		}
	}
	return r;
}

static void
listener_close(struct listener *l)
{
	if (l->d != NULL) {
		MHD_stop_daemon(l->d);
		l->d = NULL;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

void
http_server_stop(struct http_server *s, unsigned grace)
{
	struct timespec t0, nap = {0, 10 * 1000 * 1000};
	struct stat st;
	MHD_socket fd;

	if (s == NULL)
		return;
	/* Quiesced, MHD hands the listening socket back (closed below). */
	if (s->unix_l.d != NULL && (fd = MHD_quiesce_daemon(s->unix_l.d)) != MHD_INVALID_SOCKET)
		s->unix_l.fd = fd;
	else if (s->unix_l.d != NULL)
		s->unix_l.fd = -1;
	if (s->tls_l.d != NULL && (fd = MHD_quiesce_daemon(s->tls_l.d)) != MHD_INVALID_SOCKET)
		s->tls_l.fd = fd;
	else if (s->tls_l.d != NULL)
		s->tls_l.fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (s->running && __atomic_load_n(&s->inflight, __ATOMIC_RELAXED) > 0 &&
	    elapsed_us(&t0) < (uint64_t)grace * 1000000u)
		nanosleep(&nap, NULL);
	listener_close(&s->unix_l);
	listener_close(&s->tls_l);
	s->running = 0;
	/* Only the socket we made: not one a successor bound since. */
	if (s->socket_path != NULL) {
		if (lstat(s->socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == s->socket_dev && st.st_ino == s->socket_ino)
			(void)unlink(s->socket_path);
		free(s->socket_path);
		s->socket_path = NULL;
	}
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	http_server_stop(s, 0);
	free(s->tls_cert);
	if (s->tls_key != NULL) {
		eph_wipe(s->tls_key, s->tls_key_len);
		free(s->tls_key);
	}
	free(s);
}

unsigned
http_server_tls_port(const struct http_server *s)
{
	return s->tls_port;
}

int
http_server_metrics(struct http_server *s, struct buf *out)
{
	static const char *const methods[N_METHOD] = {"other", "GET", "POST"};
	struct http_metrics *m = &s->m;
	uint64_t v, cum = 0;
	size_t rt, me, st, b;
	char code[8];
	int r;

#define P(...)                                                                                     \
	do {                                                                                       \
		if ((r = buf_printf(out, __VA_ARGS__)) != EPH_OK)                                  \
			return r;                                                                  \
	} while (0)
	P("# HELP sshca_http_requests_total HTTP requests answered, by route, method and "
	  "status.\n");
	P("# TYPE sshca_http_requests_total counter\n");
	for (rt = 0; rt < API_ROUTE_COUNT; rt++)
		for (me = 0; me < N_METHOD; me++)
			for (st = 0; st < N_STATUS; st++) {
				v = __atomic_load_n(&m->requests[rt][me][st], __ATOMIC_RELAXED);
				if (v == 0)
					continue;
				if (st + 1 < N_STATUS)
					(void)snprintf(
					    code, sizeof(code), "%u", metric_statuses[st]);
				else
					(void)snprintf(code, sizeof(code), "other");
				P("sshca_http_requests_total{route=\"%s\",method=\"%s\",status=\"%"
				  "s\"} "
				  "%llu\n",
				    api_route_name((enum api_route)rt), methods[me], code,
				    (unsigned long long)v);
			}
	P("# HELP sshca_http_request_duration_seconds Time from request line to response.\n");
	P("# TYPE sshca_http_request_duration_seconds histogram\n");
	for (b = 0; b < N_BUCKET; b++) {
		cum += __atomic_load_n(&m->latency[b], __ATOMIC_RELAXED);
		if (b + 1 < N_BUCKET)
			P("sshca_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)metric_buckets_us[b] / 1e6, (unsigned long long)cum);
		else
			P("sshca_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	P("sshca_http_request_duration_seconds_sum %.6f\n",
	    (double)__atomic_load_n(&m->latency_sum_us, __ATOMIC_RELAXED) / 1e6);
	P("sshca_http_request_duration_seconds_count %llu\n",
	    (unsigned long long)__atomic_load_n(&m->latency_count, __ATOMIC_RELAXED));
	P("# HELP sshca_errors_total Error answers (4xx, 5xx) sent, by their JSON \"error\" "
	  "code.\n");
	P("# TYPE sshca_errors_total counter\n");
	for (b = 0; b < N_ERROR; b++)
		P("sshca_errors_total{code=\"%s\"} %llu\n",
		    b + 1 < N_ERROR ? api_error_token(metric_error_statuses[b]) : "other",
		    (unsigned long long)__atomic_load_n(&m->errors[b], __ATOMIC_RELAXED));
	P("# HELP sshca_http_connections_total Connections accepted.\n");
	P("# TYPE sshca_http_connections_total counter\n");
	P("sshca_http_connections_total %llu\n",
	    (unsigned long long)__atomic_load_n(&m->connections_total, __ATOMIC_RELAXED));
	P("# HELP sshca_http_connections_open Connections open now.\n");
	P("# TYPE sshca_http_connections_open gauge\n");
	P("sshca_http_connections_open %lld\n",
	    (long long)__atomic_load_n(&m->connections_open, __ATOMIC_RELAXED));
	P("# HELP sshca_http_body_too_large_total Requests refused for a body over the cap.\n");
	P("# TYPE sshca_http_body_too_large_total counter\n");
	P("sshca_http_body_too_large_total %llu\n",
	    (unsigned long long)__atomic_load_n(&m->body_too_large, __ATOMIC_RELAXED));
	P("# HELP sshca_http_timeouts_total Requests ended by the slow-client timeout.\n");
	P("# TYPE sshca_http_timeouts_total counter\n");
	P("sshca_http_timeouts_total %llu\n",
	    (unsigned long long)__atomic_load_n(&m->timeouts, __ATOMIC_RELAXED));
#undef P
	return EPH_OK;
}

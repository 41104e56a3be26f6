/* The CA's HTTP API as the front (ca/http.c) sees it: who is calling, the
 * validated inputs of every route, the backend interface the front calls,
 * and the pure parsers that turn paths, queries and JSON bodies into those
 * inputs (unit-tested and fuzzed without a server). */
#ifndef SSHCA_API_H
#define SSHCA_API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "buf.h"
#include "key.h"

/* Caps on what a client may send. */
#define API_MAX_BODY (64u * 1024u) /* a request body; more is a 413 */
#define API_ID_LEN 18 /* "r-" + 16 lowercase hex digits */
#define API_MAX_NAME 253 /* a task, host or login name (POLICY_MAX_NAME_LEN) */
#define API_MAX_TEXT 1024 /* a reason or comment, bytes of UTF-8 */
#define API_MAX_TTL_TEXT 32 /* "1h30m" */
#define API_MAX_PUBKEY_LINE 16384 /* an OpenSSH public key line */
#define API_MAX_QUERY_ARGS 16
#define API_MAX_QUERY_VALUE 512
#define API_MAX_TOKEN 512 /* a bearer token */
#define API_MAX_PASSWORD 1024
#define API_MAX_ANSWER 1024 /* one answer to a PAM prompt, bytes of UTF-8 */
#define API_MAX_ANSWERS 32 /* answers in one call (PAM_MAX_NUM_MSG) */
#define API_CONV_ID_LEN 34 /* "c-" + 32 lowercase hex digits */
#define API_DETAIL_MAX 256 /* an error's "detail" text */
#define API_USER_MAX 256 /* a user name */

/* ------------------------------------------------------------- caller */

enum ca_via {
	CA_VIA_UNIX = 1, /* the Unix socket: identified by SO_PEERCRED */
	CA_VIA_TLS, /* TCP+TLS: identified by a bearer session token */
};

/*
 * Who is calling. Over the Unix socket the front fills it from
 * SO_PEERCRED once per connection (user resolved with getpwuid_r); over
 * TLS from the backend's session_check. Unix groups are not resolved
 * here: the backend looks them up by user name (policy_unix_groups) when
 * it evaluates the policy, so they are current for every decision.
 */
struct ca_caller {
	enum ca_via via;
	int authenticated; /* user is set */
	char user[API_USER_MAX + 1]; /* "" when not authenticated */
	uid_t uid; /* Unix: the peer's uid; TLS: as session_check set it, or -1 */
	gid_t gid; /* Unix: the peer's primary gid; else -1 */
	pid_t pid; /* Unix: the peer's pid (for logs only); else 0 */
	/* TLS: the peer's IP address ("192.0.2.1", "2001:db8::1"; IPv4-mapped
	 * addresses as IPv4). Unix: "" (the CA cannot see an origin). */
	char address[64];
};

/* -------------------------------------------------------------- inputs */

/* POST /v1/requests. Every string is NUL-free, within its cap, and valid
 * UTF-8; names are as described in docs/api.md. */
struct ca_request_input {
	char *task;
	char **hosts; /* host names (lower-cased) or "@hostgroup" */
	size_t nhosts; /* 1 .. POLICY_MAX_REQUEST_HOSTS */
	uint64_t ttl; /* seconds; 0 when not given (the task's default) */
	char *reason; /* NULL when not given */
	char *login_as; /* NULL when not given (the task's default) */
	char *public_key; /* the key line re-encoded: "TYPE BASE64", no comment */
	struct key *key; /* parsed: Ed25519, ECDSA, RSA >= 2048 or sk- */
};

/* GET /v1/requests?state=&mine=1&task= */
enum ca_request_state {
	CA_STATE_ANY = 0,
	CA_STATE_PENDING,
	CA_STATE_ISSUED,
	CA_STATE_DENIED,
	CA_STATE_EXPIRED,
	CA_STATE_CANCELLED,
	CA_STATE_REVOKED,
};
/* A break-glass review, as GET /v1/requests?review= asks for it. */
enum ca_review {
	CA_REVIEW_ANY = 0,
	CA_REVIEW_OPEN,
	CA_REVIEW_CLOSED,
};

struct ca_list_query {
	enum ca_request_state state; /* CA_STATE_ANY: every state */
	int mine; /* only the caller's own requests */
	char task[API_MAX_NAME + 1]; /* "" for every task */
	enum ca_review review; /* CA_REVIEW_ANY: break-glass or not */
};

/*
 * POST /v1/login over TLS, in one of three forms:
 *   one step            user and password;
 *   a conversation      user alone: PAM's prompts are relayed;
 *   its next step       conversation and answers.
 * password and answers are secrets: wiped by api_login_free.
 */
struct ca_login_input {
	char *user; /* NULL when resuming a conversation */
	char *password; /* NULL unless one step */
	char conversation[API_CONV_ID_LEN + 1]; /* "" unless resuming */
	char **answers; /* resuming: nanswers strings, each may be "" */
	size_t nanswers; /* 0 .. API_MAX_ANSWERS */
};

/* -------------------------------------------------------------- output */

/*
 * What a backend call answers besides its return code. On EPH_OK, body is
 * the response object (the front takes ownership and sends it). On an
 * error, detail says what went wrong in words a client can act on (the
 * front sends {"error": TOKEN, "detail": detail}); a body set on an error
 * is sent instead, with "error" and "detail" added (a denied request's
 * object with its reasons, answered 403).
 */
struct ca_reply {
	json_t *body;
	char detail[API_DETAIL_MAX];
};

/* printf into r->detail (truncated to fit). */
void ca_reply_detail(struct ca_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The current KRL, as GET /v1/krl serves it. */
struct ca_krl {
	uint8_t *data; /* malloc'd; the front frees it */
	size_t len;
	uint64_t version; /* bumped on every rewrite; the ETag */
};

/*
 * The backend: what the front calls once a request is parsed, validated
 * and its caller known. Return EPH_OK or a negative EPH_ERR_*, which the
 * front maps to an HTTP status (api_http_status):
 *   EPH_ERR_INVAL/FORMAT/KEYTYPE/WEAKKEY/RANGE/TOOLARGE/... 400,
 *   EPH_ERR_UNAUTHENTICATED 401, EPH_ERR_FORBIDDEN 403, EPH_ERR_NOTFOUND
 *   404, EPH_ERR_CONFLICT 409, EPH_ERR_LIMIT 429, EPH_ERR_STORE_FULL or BUSY 503,
 *   anything else 500 (its detail is logged, not sent).
 * A NULL member answers 501: the route is not offered by this server.
 *
 * Threading: the front calls the backend from its worker threads
 * (http_config.threads per listener, each an epoll loop over its share of
 * the connections), so members are called concurrently and must be
 * thread-safe; at most threads x listeners calls run at once. Each call
 * is synchronous and may block (a store commit), holding up only the
 * connections of its thread. Calls for one connection never overlap.
 * Inputs are valid only during the call.
 */
struct ca_api_backend {
	/* POST /v1/requests: 201 with the request object; a denial recorded
	 * with its reasons: EPH_ERR_FORBIDDEN with the object in body. */
	int (*request_create)(void *ctx, const struct ca_caller *c,
	    const struct ca_request_input *in, struct ca_reply *r);
	/* GET /v1/requests/{id} */
	int (*request_get)(
	    void *ctx, const struct ca_caller *c, const char *id, struct ca_reply *r);
	/* GET /v1/requests?...: body {"requests": [...]} */
	int (*request_list)(void *ctx, const struct ca_caller *c, const struct ca_list_query *q,
	    struct ca_reply *r);
	/* POST /v1/requests/{id}/ACTION: text is the body's "comment"
	 * (approve, review) or "reason" (deny: required; revoke), NULL when
	 * not given, and always NULL for cancel. Body: the request object. */
	int (*request_approve)(void *ctx, const struct ca_caller *c, const char *id,
	    const char *text, struct ca_reply *r);
	int (*request_deny)(void *ctx, const struct ca_caller *c, const char *id, const char *text,
	    struct ca_reply *r);
	int (*request_cancel)(void *ctx, const struct ca_caller *c, const char *id,
	    const char *text, struct ca_reply *r);
	int (*request_revoke)(void *ctx, const struct ca_caller *c, const char *id,
	    const char *text, struct ca_reply *r);
	int (*request_review)(void *ctx, const struct ca_caller *c, const char *id,
	    const char *text, struct ca_reply *r);
	/* GET /v1/krl: public (hosts fetch it without a session). */
	int (*krl_get)(void *ctx, struct ca_krl *out);
	/* GET /v1/ca.pub: public; one OpenSSH key line per CA key, each
	 * ending in "\n", in *text (malloc'd, the front frees it). */
	int (*ca_pub)(void *ctx, char **text);
	/* GET /v1/audit?since=SEQ: body {"records": [...], ...} */
	int (*audit_since)(
	    void *ctx, const struct ca_caller *c, uint64_t since, struct ca_reply *r);
	/* GET /v1/healthz: public; EPH_OK (200) when the CA can serve and
	 * write, EPH_ERR_STORE_FULL (503) otherwise; body optional. */
	int (*health)(void *ctx, struct ca_reply *r);
	/* GET /metrics: public; append Prometheus text exposition lines
	 * (each ending in "\n") after the front's own. */
	int (*metrics)(void *ctx, struct buf *out);
	/* POST /v1/login: body {"token": "...", "user": "...", "expires": T}
	 * once logged in, or {"conversation", "prompts", "messages"} while
	 * PAM asks (docs/api.md). c is the caller as the front knows it (over
	 * TLS unauthenticated). */
	int (*login)(void *ctx, const struct ca_caller *c, const struct ca_login_input *in,
	    struct ca_reply *r);
	/* Every authenticated route over TLS: the bearer token (a secret:
	 * compare it in constant time, never log it). EPH_OK with
	 * c->user/c->uid set (the front sets authenticated), or
	 * EPH_ERR_UNAUTHENTICATED (401). */
	int (*session_check)(void *ctx, const char *token, struct ca_caller *c);
	/* POST /v1/logout: end the caller's session. Over TLS token is the
	 * bearer token session_check accepted (a secret, as there), c the
	 * caller it gave; over the Unix socket token is NULL (there is no
	 * session to end: EPH_ERR_INVAL). EPH_OK ends it (body {"ok": true});
	 * EPH_ERR_UNAUTHENTICATED when it is no longer live. */
	int (*logout)(void *ctx, const struct ca_caller *c, const char *token, struct ca_reply *r);
};

/* -------------------------------------------------------------- routes */

enum api_route {
	API_ROUTE_NONE = 0, /* unknown path: 404 */
	API_ROUTE_REQUESTS, /* /v1/requests: POST create, GET list */
	API_ROUTE_REQUEST, /* /v1/requests/{id}: GET */
	API_ROUTE_APPROVE, /* /v1/requests/{id}/approve: POST */
	API_ROUTE_DENY,
	API_ROUTE_CANCEL,
	API_ROUTE_REVOKE,
	API_ROUTE_REVIEW,
	API_ROUTE_KRL, /* /v1/krl: GET */
	API_ROUTE_CA_PUB, /* /v1/ca.pub: GET */
	API_ROUTE_HEALTHZ, /* /v1/healthz: GET */
	API_ROUTE_METRICS, /* /metrics: GET */
	API_ROUTE_AUDIT, /* /v1/audit: GET */
	API_ROUTE_LOGIN, /* /v1/login: POST */
	API_ROUTE_LOGOUT, /* /v1/logout: POST */
	API_ROUTE_COUNT,
};

enum api_method {
	API_METHOD_OTHER = 0,
	API_METHOD_GET, /* and HEAD */
	API_METHOD_POST,
};

/* A path matched against the route table. */
struct api_path {
	enum api_route route;
	char id[API_ID_LEN + 1]; /* routes with {id}: the validated id */
};

/* Is s exactly "r-" + 16 lowercase hex digits? */
int api_id_valid(const char *s);

/*
 * Match a request path (raw, not percent-decoded: no route needs an
 * escape, so '%' is refused). EPH_OK with p set; EPH_ERR_NOTFOUND for a
 * path no route has (404); EPH_ERR_INVAL with detail for a route whose
 * {id} is malformed (400).
 */
int api_path_parse(const char *path, struct api_path *p, char *detail, size_t dlen);

/* The methods a route takes: API_METHOD_GET or API_METHOD_POST bits. */
unsigned api_route_methods(enum api_route r);
/* "GET, HEAD" / "POST" / "GET, HEAD, POST" for the Allow header. */
const char *api_route_allow(enum api_route r);
/* The route's template for metrics labels ("/v1/requests/{id}/approve"). */
const char *api_route_name(enum api_route r);
/* Does the route need an authenticated caller? */
int api_route_needs_auth(enum api_route r);

/* -------------------------------------------------------------- queries */

/* Query arguments as the front received them (raw, still
 * percent-encoded); value NULL for "?key" without '='. */
struct api_query {
	struct {
		const char *key;
		const char *value;
	} arg[API_MAX_QUERY_ARGS];
	size_t n;
	int overflow; /* more than API_MAX_QUERY_ARGS were sent */
};

/* Split "a=1&b=2" in place (s is modified) into q (tests and fuzzing;
 * the server fills q from libmicrohttpd). */
void api_query_split(char *s, struct api_query *q);

/* Percent-decode src into dst (dlen bytes with its NUL); "%00", bad
 * escapes and anything longer than dlen - 1 are EPH_ERR_FORMAT /
 * EPH_ERR_TOOLARGE. '+' stays '+'. */
int api_query_decode(const char *src, char *dst, size_t dlen);

/* GET /v1/requests: state, mine, task; nothing else. */
int api_list_query_parse(
    const struct api_query *q, struct ca_list_query *out, char *detail, size_t dlen);
/* GET /v1/audit: since (required, a decimal >= 0); nothing else. */
int api_audit_query_parse(const struct api_query *q, uint64_t *since, char *detail, size_t dlen);
/* Routes that take no query: any argument is a 400. */
int api_no_query(const struct api_query *q, char *detail, size_t dlen);

/* --------------------------------------------------------------- bodies */

/* Load a JSON object body strictly: no NUL bytes, duplicate keys refused,
 * an object at the top. An empty body gives an empty object when
 * empty_ok. EPH_ERR_FORMAT with detail (jansson's line:column). */
int api_body_load(const void *d, size_t n, int empty_ok, json_t **out, char *detail, size_t dlen);

/* POST /v1/requests body into in (api_request_free releases it). */
int api_request_parse(const json_t *body, struct ca_request_input *in, char *detail, size_t dlen);
void api_request_free(struct ca_request_input *in);

/*
 * The one optional (or required) text field an action takes: field is
 * "comment" or "reason", or NULL when the action takes none (cancel: an
 * empty object). *text points into body (NULL when absent).
 */
int api_action_parse(const json_t *body, const char *field, int required, const char **text,
    char *detail, size_t dlen);

/* POST /v1/login body: {"user", "password"}, {"user"} or
 * {"conversation", "answers"}. */
int api_login_parse(const json_t *body, struct ca_login_input *in, char *detail, size_t dlen);
void api_login_free(struct ca_login_input *in);
/* Wipe the secrets (password, answers) inside a login body before it is
 * released: jansson frees strings without clearing them. */
void api_login_body_wipe(json_t *body);
/* Is s exactly "c-" + 32 lowercase hex digits? */
int api_conv_id_valid(const char *s);

/* Check a public key line as a request may carry it: a plain OpenSSH
 * public key (not a certificate, not a private key) of an accepted type
 * and size. EPH_OK with *out; else an error with detail saying why. */
int api_public_key_check(const char *line, struct key **out, char *detail, size_t dlen);

/* The token of an "Authorization: Bearer TOKEN" header value into tok
 * (API_MAX_TOKEN + 1 bytes): base64url / hex characters only.
 * EPH_ERR_UNAUTHENTICATED when absent or malformed. */
int api_bearer_parse(const char *header, char *tok, size_t toklen);

/* ---------------------------------------------------------------- errors */

/* HTTP status for a backend return code (see struct ca_api_backend). */
unsigned api_http_status(int err);
/* The "error" token for an HTTP status: "bad_request", "not_found", ... */
const char *api_error_token(unsigned status);

#endif

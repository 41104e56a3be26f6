/*
 * The client side of the CA's HTTP API (docs/api.md) over libcurl: the
 * Unix socket (CURLOPT_UNIX_SOCKET_PATH) or HTTPS with the configured
 * trust store, a bearer token on TLS, JSON in and out. One handle, kept
 * alive across calls.
 */
#ifndef EPHSSH_CAPI_H
#define EPHSSH_CAPI_H

#include <stddef.h>

#include <jansson.h>

#include "conf.h"

#define CAPI_MAX_BODY (4u * 1024u * 1024u) /* the most of an answer read */

/* What one call came to. */
enum capi_outcome {
	CAPI_ANSWERED = 0, /* an HTTP status arrived (status, body) */
	CAPI_UNREACHABLE, /* no connection: refused, no socket, no route, DNS, timeout */
	CAPI_TLS, /* the TLS handshake or the CA's certificate failed */
	CAPI_BAD_ANSWER, /* an answer that is not HTTP, too big, or not the JSON promised */
	CAPI_LOCAL, /* out of memory, a bad argument */
};

struct capi_result {
	enum capi_outcome outcome;
	long status; /* HTTP status; 0 when none */
	json_t *body; /* the parsed JSON answer, NULL when none (or not JSON) */
	const char *error; /* the API's "error" token ("" when none); points into body */
	const char *detail; /* the API's "detail" ("" when none); points into body */
	char why[512]; /* outcome != CAPI_ANSWERED: what failed, one line */
	char *raw; /* the answer's bytes when not JSON (GET /v1/ca.pub); NUL-ended */
	size_t raw_len;
};

void capi_result_clear(struct capi_result *r);

struct capi;

/* A handle for the CA c->ca. token: the session token for TLS (NULL:
 * none). EPH_OK or EPH_ERR_NOMEM / EPH_ERR_INVAL. */
int capi_open(const struct ephssh_conf *c, const char *token, struct capi **out);
void capi_close(struct capi *a);
/* Replace the bearer token (NULL: none). */
int capi_set_token(struct capi *a, const char *token);
/* Is this handle talking TLS (a token matters)? */
int capi_is_tls(const struct capi *a);
/* The address as configured, for messages. */
const char *capi_address(const struct capi *a);

/*
 * method ("GET", "POST") path ("/v1/requests/r-...") with body (NULL:
 * none; sent as application/json). Fills res; returns EPH_OK when an
 * HTTP status arrived (whatever it is), else an EPH_ERR_* with res->why.
 */
int capi_call(struct capi *a, const char *method, const char *path, const json_t *body,
    struct capi_result *res);

/* Percent-encode s for a query value into a new string (NULL: no memory). */
char *capi_escape(struct capi *a, const char *s);

#endif

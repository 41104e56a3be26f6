/* Fetching the CA's KRL for ephemeral-krl-sync with libcurl: which URLs
 * are allowed, and one conditional GET with bounded size and time. */
#ifndef EPH_KRLFETCH_H
#define EPH_KRLFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The CA's route, for unix:/path (the CA host's own socket). */
#define KRLFETCH_UNIX_PATH "/v1/krl"
#define KRLFETCH_CONNECT_TIMEOUT 10L /* seconds, at most */
#define KRLFETCH_DEFAULT_TIMEOUT 30L /* seconds, the whole transfer */

enum krlfetch_kind {
	KRLFETCH_HTTPS, /* verified against the system store or a bundle */
	KRLFETCH_HTTP, /* loopback only: nothing protects it in transit */
	KRLFETCH_FILE, /* file:///path, read directly, never by libcurl */
	KRLFETCH_UNIX, /* unix:/path: GET /v1/krl on the CA's Unix socket */
};

/*
 * Is url one ephemeral-krl-sync fetches from? A KRL is not signed: who
 * can change it in transit can un-revoke certificates. So https://, or
 * http:// to a loopback address (127.0.0.0/8, ::1, localhost) only,
 * file:// with an absolute path, or unix: with an absolute socket path;
 * no user name or password in the URL. EPH_ERR_FORMAT with a reason in
 * why (NUL-terminated, size n) when not. Needs curl_global_init.
 */
int krlfetch_url_check(const char *url, enum krlfetch_kind *kind, char *why, size_t n);

struct krlfetch_opts {
	const char *url;
	const char *ca_bundle; /* https: CA certificates file; NULL: system store */
	long timeout; /* seconds for the whole fetch; 0: KRLFETCH_DEFAULT_TIMEOUT */
	int conditional; /* send If-None-Match with version */
	uint64_t version;
	size_t max; /* largest body taken */
};

enum krlfetch_status {
	KRLFETCH_BODY, /* 200 (or a file): the body is in body */
	KRLFETCH_NOT_MODIFIED, /* 304 to our If-None-Match */
};

struct krlfetch_result {
	enum krlfetch_status status;
	struct buf body;
	long http_code; /* 0 for a file */
	char why[512]; /* on failure: what went wrong, for the log */
};

/*
 * Fetch the KRL. Any failure (a refused URL, DNS, connection, TLS, a
 * timeout, a status other than 200 / 304, a 304 that was not asked for,
 * a body over max, an http:// peer that is not loopback) is an error
 * (EPH_ERR_IO, EPH_ERR_FORMAT, EPH_ERR_TOOLARGE or EPH_ERR_NOMEM) with
 * the reason in r->why. r->body is the caller's to free either way.
 */
int krlfetch_get(const struct krlfetch_opts *o, struct krlfetch_result *r);
void krlfetch_result_free(struct krlfetch_result *r);

#endif

/* The CA's HTTP front: libmicrohttpd on a Unix socket (callers known by
 * SO_PEERCRED) and optionally TCP+TLS (callers known by a bearer session
 * token), routing validated requests to a struct ca_api_backend. */
#ifndef SSHCA_HTTP_H
#define SSHCA_HTTP_H

#include <stddef.h>

#include "api.h"

#define HTTP_DEFAULT_THREADS 8
#define HTTP_DEFAULT_MAX_CONNECTIONS 512
#define HTTP_DEFAULT_MAX_PER_IP 32
#define HTTP_DEFAULT_TIMEOUT 30 /* seconds a connection may sit idle or stall */
#define HTTP_DEFAULT_CONNECTION_MEMORY (32u * 1024u) /* per connection: headers */
#define HTTP_MAX_TLS_FILE (1024u * 1024u)

struct http_config {
	/* The Unix listener: created mode 0666; a stale socket is replaced,
	 * anything else at the path (or a live listener) is refused. NULL:
	 * none. */
	const char *socket_path;
	/* TCP+TLS: "ADDR:PORT" ("127.0.0.1:8443", "[::1]:8443", "*:8443"),
	 * with PEM certificate (chain) and key files. NULL: none. */
	const char *tls_listen;
	const char *tls_certificate;
	const char *tls_key;
	/* Caps; 0 picks the HTTP_DEFAULT_* value. threads: worker threads
	 * per listener, each running an epoll loop over its connections. */
	unsigned threads;
	unsigned max_connections; /* per listener */
	unsigned max_per_ip; /* TLS only: a Unix peer has no address */
	unsigned timeout; /* seconds */
	size_t connection_memory; /* bytes; bounds the request line + headers */
	size_t max_body; /* bytes; 0: API_MAX_BODY. More is a 413 */
};

struct http_server;

/*
 * Create the listeners (bind as root, before privileges are dropped) and
 * read the TLS files (the key must not be readable by group/other). No
 * thread runs yet. EPH_OK, EPH_ERR_EXISTS (something else at the socket
 * path, or a live server on it), EPH_ERR_IO (errno), EPH_ERR_PERM,
 * EPH_ERR_INVAL (a bad tls_listen or a path too long). why, when not
 * NULL, gets one line saying what failed.
 */
int http_server_open(const struct http_config *cfg, const struct ca_api_backend *be, void *be_ctx,
    struct http_server **out, char *why, size_t whylen);

/* Start serving (worker threads); the backend is called from now on. */
int http_server_start(struct http_server *s);

/*
 * Stop accepting, let requests in flight finish for up to grace seconds,
 * then close every connection and join the threads; the backend is not
 * called after it returns. Unlinks the socket it created.
 */
void http_server_stop(struct http_server *s, unsigned grace);

/* Stop (no grace) if running, and free. */
void http_server_free(struct http_server *s);

/* The TLS listener's port (after open; useful with port 0), or 0. */
unsigned http_server_tls_port(const struct http_server *s);

/* The front's own metrics (requests by route, method and status; a
 * latency histogram; connections) as Prometheus text appended to out. */
int http_server_metrics(struct http_server *s, struct buf *out);

#endif

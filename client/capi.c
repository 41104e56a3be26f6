/* The CA's HTTP API over libcurl (capi.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "capi.h"
#include "err.h"
#include "util.h"

struct capi {
	CURL *c;
	char *address; /* as configured */
	char *base; /* URL prefix: "http://localhost" for the socket, the https URL */
	char *socket; /* unix: path, NULL for https */
	char *bundle;
	long connect_timeout;
	char *auth; /* "Authorization: Bearer ..." (a secret) */
};

static int curl_ready;

void
capi_result_clear(struct capi_result *r)
{
	if (r == NULL)
		return;
	json_decref(r->body);
	free(r->raw);
	memset(r, 0, sizeof(*r));
	r->error = "";
	r->detail = "";
}

int
capi_open(const struct ephssh_conf *conf, const char *token, struct capi **out)
{
	struct capi *a;
	int r = EPH_ERR_NOMEM;

	*out = NULL;
	if (conf == NULL || conf->ca == NULL)
		return EPH_ERR_INVAL;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return EPH_ERR_NOMEM;
		curl_ready = 1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return EPH_ERR_NOMEM;
	if ((a->address = strdup(conf->ca)) == NULL)
		goto fail;
	if (strncmp(conf->ca, "unix:", 5) == 0) {
		if ((a->socket = strdup(conf->ca + 5)) == NULL ||
		    (a->base = strdup("http://localhost")) == NULL)
			goto fail;
	} else if (strncmp(conf->ca, "https://", 8) == 0) {
		if ((a->base = strdup(conf->ca)) == NULL)
			goto fail;
	} else {
		r = EPH_ERR_INVAL;
		goto fail;
	}
	if (conf->ca_bundle != NULL && (a->bundle = strdup(conf->ca_bundle)) == NULL)
		goto fail;
	a->connect_timeout = (long)(conf->connect_timeout > 0 ? conf->connect_timeout : 10);
	if ((a->c = curl_easy_init()) == NULL)
		goto fail;
	if ((r = capi_set_token(a, token)) != EPH_OK)
		goto fail;
	*out = a;
	return EPH_OK;
fail:
	capi_close(a);
	return r;
}

void
capi_close(struct capi *a)
{
	if (a == NULL)
		return;
	if (a->c != NULL)
		curl_easy_cleanup(a->c);
	free(a->address);
	free(a->base);
	free(a->socket);
	free(a->bundle);
	eph_free_secret_str(a->auth);
	free(a);
}

int
capi_set_token(struct capi *a, const char *token)
{
	char *h = NULL;

	if (token != NULL && asprintf(&h, "Authorization: Bearer %s", token) < 0)
		return EPH_ERR_NOMEM;
	eph_free_secret_str(a->auth);
	a->auth = h;
	return EPH_OK;
}

int
capi_is_tls(const struct capi *a)
{
	return a->socket == NULL;
}

const char *
capi_address(const struct capi *a)
{
	return a->address;
}

char *
capi_escape(struct capi *a, const char *s)
{
	char *e = curl_easy_escape(a->c, s, 0), *copy;

	if (e == NULL)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}

/* ------------------------------------------------------------- a call */

struct sink {
	struct buf b;
	int too_big;
};

static size_t
on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;

	if (s->b.len + len > CAPI_MAX_BODY) {
		s->too_big = 1;
		return 0; /* curl aborts the transfer */
	}
	if (buf_put(&s->b, p, len) != EPH_OK)
		return 0;
	return len;
}

/* The outcome of a curl failure, and a sentence about it. */
static enum capi_outcome
classify(struct capi *a, CURLcode cc, const char *errbuf, struct capi_result *res)
{
	const char *what = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
	enum capi_outcome o;
	long oserr = 0;

	/* On the socket, curl's text names "localhost port 80": the system's
	 * reason says more ("No such file or directory"). */
	if (a->socket != NULL && curl_easy_getinfo(a->c, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK &&
	    oserr != 0)
		what = strerror((int)oserr);

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING: o = CAPI_UNREACHABLE; break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED: o = CAPI_TLS; break;
	case CURLE_WRITE_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_PARTIAL_FILE:
	case CURLE_BAD_CONTENT_ENCODING: o = CAPI_BAD_ANSWER; break;
	case CURLE_OUT_OF_MEMORY: o = CAPI_LOCAL; break;
	default: o = CAPI_UNREACHABLE; break;
	}
	if (o == CAPI_TLS)
		snprintf(res->why, sizeof(res->why), "TLS with %s failed: %s", a->address, what);
	else if (o == CAPI_UNREACHABLE)
		snprintf(
		    res->why, sizeof(res->why), "cannot reach the CA at %s: %s", a->address, what);
	else
		snprintf(res->why, sizeof(res->why), "%s: %s", a->address, what);
	return o;
}

/* Does s hold a C0 or C1 control character or DEL (as UTF-8)? */
static int
has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 1;
	return 0;
}

/*
 * Replace control characters in every string of v with '?': nothing the
 * CA (or whoever answers in its place) sends can drive the user's
 * terminal when a command prints it. --json output escapes them anyway.
 */
static int
defang(json_t *v, int depth)
{
	const char *k;
	json_t *x;
	size_t i;

	if (depth > 32)
		return -1;
	if (json_is_string(v) && has_control(json_string_value(v))) {
		char *c = strdup(json_string_value(v));
		unsigned char *p;
		int r;

		if (c == NULL)
			return -1;
		for (p = (unsigned char *)c; *p != '\0'; p++) {
			if (*p < 0x20 || *p == 0x7f)
				*p = '?';
			else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
				p[0] = '?';
				p[1] = '?';
			}
		}
		r = json_string_set(v, c);
		free(c);
		return r;
	}
	if (json_is_array(v))
		json_array_foreach(v, i, x) if (defang(x, depth + 1) != 0) return -1;
	if (json_is_object(v))
		json_object_foreach(v, k, x) if (defang(x, depth + 1) != 0) return -1;
	return 0;
}

int
capi_call(struct capi *a, const char *method, const char *path, const json_t *body,
    struct capi_result *res)
{
	struct curl_slist *hdrs = NULL, *h;
	struct sink s;
	char errbuf[CURL_ERROR_SIZE];
	char *url = NULL, *text = NULL;
	const char *ctype = NULL;
	CURLcode cc;
	int r = EPH_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	res->error = "";
	res->detail = "";
	buf_init(&s.b);
	s.too_big = 0;
	errbuf[0] = '\0';
	if (path == NULL || path[0] != '/') {
		res->outcome = CAPI_LOCAL;
		snprintf(res->why, sizeof(res->why), "bad path");
		return EPH_ERR_INVAL;
	}
	if (asprintf(&url, "%s%s", a->base, path) < 0) {
		url = NULL;
		goto local;
	}
	curl_easy_reset(a->c);
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			goto local;
		if ((h = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL)
			goto local;
		hdrs = h;
	}
	if ((h = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
		goto local;
	hdrs = h;
	/* The token only where it protects something: over TLS. */
	if (a->auth != NULL && capi_is_tls(a)) {
		if ((h = curl_slist_append(hdrs, a->auth)) == NULL)
			goto local;
		hdrs = h;
	}
	if (curl_easy_setopt(a->c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_CONNECTTIMEOUT, a->connect_timeout) != CURLE_OK ||
	    /* A stuck CA is not waited on forever; waiting for approval is
	     * many short calls. */
	    curl_easy_setopt(a->c, CURLOPT_TIMEOUT, 120L) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_PROTOCOLS_STR, a->socket != NULL ? "http" : "https") !=
	        CURLE_OK ||
	    curl_easy_setopt(a->c, CURLOPT_USERAGENT, "ephssh/" PACKAGE_VERSION) != CURLE_OK)
		goto local;
	/* The Unix socket never goes through a proxy. Over https the
	 * environment's https_proxy / no_proxy apply as they do for curl(1):
	 * a proxy sees a CONNECT tunnel, never the token or the answers. */
	if (a->socket != NULL && curl_easy_setopt(a->c, CURLOPT_PROXY, "") != CURLE_OK)
		goto local;
	if (a->socket != NULL &&
	    curl_easy_setopt(a->c, CURLOPT_UNIX_SOCKET_PATH, a->socket) != CURLE_OK)
		goto local;
	if (a->socket == NULL) {
		if (curl_easy_setopt(a->c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
		    curl_easy_setopt(a->c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
		    curl_easy_setopt(a->c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) !=
		        CURLE_OK)
			goto local;
		if (a->bundle != NULL &&
		    curl_easy_setopt(a->c, CURLOPT_CAINFO, a->bundle) != CURLE_OK)
			goto local;
	}
	if (strcmp(method, "POST") == 0) {
		if (curl_easy_setopt(a->c, CURLOPT_POST, 1L) != CURLE_OK ||
		    curl_easy_setopt(a->c, CURLOPT_POSTFIELDS, text != NULL ? text : "") !=
		        CURLE_OK ||
		    curl_easy_setopt(
		        a->c, CURLOPT_POSTFIELDSIZE, (long)(text ? strlen(text) : 0)) != CURLE_OK)
			goto local;
	} else if (strcmp(method, "GET") != 0) {
		if (curl_easy_setopt(a->c, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
			goto local;
	}
	cc = curl_easy_perform(a->c);
	if (cc != CURLE_OK) {
		if (s.too_big) {
			res->outcome = CAPI_BAD_ANSWER;
			snprintf(res->why, sizeof(res->why), "%s: an answer over %u bytes",
			    a->address, CAPI_MAX_BODY);
		} else
			res->outcome = classify(a, cc, errbuf, res);
		r = res->outcome == CAPI_LOCAL ? EPH_ERR_NOMEM : EPH_ERR_IO;
		goto out;
	}
	curl_easy_getinfo(a->c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_getinfo(a->c, CURLINFO_CONTENT_TYPE, &ctype);
	res->outcome = CAPI_ANSWERED;
	if (ctype != NULL && strncmp(ctype, "application/json", 16) == 0) {
		json_error_t je;

		res->body = json_loadb((const char *)s.b.d, s.b.len, JSON_REJECT_DUPLICATES, &je);
		if (res->body == NULL || !json_is_object(res->body) || defang(res->body, 0) != 0) {
			json_decref(res->body);
			res->body = NULL;
			res->outcome = CAPI_BAD_ANSWER;
			snprintf(res->why, sizeof(res->why), "%s answered %ld with malformed JSON",
			    a->address, res->status);
			r = EPH_ERR_FORMAT;
			goto out;
		}
		if (json_is_string(json_object_get(res->body, "error")))
			res->error = json_string_value(json_object_get(res->body, "error"));
		if (json_is_string(json_object_get(res->body, "detail")))
			res->detail = json_string_value(json_object_get(res->body, "detail"));
	} else {
		if ((res->raw = malloc(s.b.len + 1)) == NULL)
			goto local;
		memcpy(res->raw, s.b.d, s.b.len);
		res->raw[s.b.len] = '\0';
		res->raw_len = s.b.len;
	}
	r = EPH_OK;
	goto out;
local:
	res->outcome = CAPI_LOCAL;
	snprintf(res->why, sizeof(res->why), "out of memory");
	r = EPH_ERR_NOMEM;
out:
	/* curl_slist_append copied the token's header: wipe the copy too. */
	for (h = hdrs; h != NULL; h = h->next)
		if (h->data != NULL && strncmp(h->data, "Authorization:", 14) == 0)
			eph_wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
	free(url);
	/* A login's body holds a password, its answer a token. */
	eph_free_secret_str(text);
	if (s.b.d != NULL)
		eph_wipe(s.b.d, s.b.len);
	buf_free(&s.b);
	return r;
}

/* One conditional GET of the CA's KRL with libcurl (or a read of a
 * file:// URL), bounded in size and time, from URLs that keep it intact. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "fileio.h"
#include "krlfetch.h"

/* The URL libcurl fetches for unix:/path; the host name is not looked up. */
#define KRLFETCH_UNIX_URL "http://localhost" KRLFETCH_UNIX_PATH
/* How much of an error body the log shows. */
#define KRLFETCH_EXCERPT 200

static void __attribute__((format(printf, 3, 4))) say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || n == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

/* 127.0.0.0/8, ::1 (bracketed or not) or localhost, which libcurl
 * resolves to loopback itself; the peer address is checked again after
 * connecting. */
static int
host_is_loopback(const char *host)
{
	char v6[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;
	size_t len = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if (len - 2 >= sizeof(v6))
			return 0;
		memcpy(v6, host + 1, len - 2);
		v6[len - 2] = '\0';
		host = v6;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* The decoded path of a file:// URL (heap), which must be absolute. */
static int
file_url_path(CURLU *u, char **path)
{
	char *p = NULL;

	*path = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &p, CURLU_URLDECODE) != CURLUE_OK)
		return EPH_ERR_FORMAT;
	if (p[0] != '/' || p[1] == '\0') {
		curl_free(p);
		return EPH_ERR_FORMAT;
	}
	*path = p;
	return EPH_OK;
}

/* Parse url and sort it; *path: a file:// URL's decoded path (heap). */
static int
url_classify(const char *url, enum krlfetch_kind *kind, char **path, char *why, size_t n)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL;
	int r = EPH_ERR_FORMAT;
	CURLUcode uc;

	*path = NULL;
	if (strncmp(url, "unix:", 5) == 0) {
		if (url[5] != '/' || url[6] == '\0') {
			say(why, n, "'%s': unix: needs an absolute socket path", url);
			goto out;
		}
		*kind = KRLFETCH_UNIX;
		r = EPH_OK;
		goto out;
	}
	if ((u = curl_url()) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if (strpbrk(url, " \t\r\n") != NULL ||
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		say(why, n, "'%s' is not a URL", url);
		goto out;
	}
	uc = curl_url_get(u, CURLUPART_USER, &user, 0);
	if (uc == CURLUE_OK) {
		say(why, n, "'%s': a URL with a user name or password is refused", url);
		goto out;
	}
	uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (strcasecmp(scheme, "https") == 0) {
		if (uc != CURLUE_OK || *host == '\0') {
			say(why, n, "'%s': no host", url);
			goto out;
		}
		*kind = KRLFETCH_HTTPS;
	} else if (strcasecmp(scheme, "http") == 0) {
		if (uc != CURLUE_OK || !host_is_loopback(host)) {
			say(why, n,
			    "'%s': http:// only to a loopback address (a KRL is not signed: "
			    "use https://)",
			    url);
			goto out;
		}
		*kind = KRLFETCH_HTTP;
	} else if (strcasecmp(scheme, "file") == 0) {
		if (uc == CURLUE_OK && *host != '\0' && strcasecmp(host, "localhost") != 0) {
			say(why, n, "'%s': a file:// URL names no other host", url);
			goto out;
		}
		if (file_url_path(u, path) != EPH_OK) {
			say(why, n, "'%s': file:// needs an absolute path", url);
			goto out;
		}
		*kind = KRLFETCH_FILE;
	} else {
		say(why, n, "'%s': not an https://, http://, file:// or unix: URL", url);
		goto out;
	}
	r = EPH_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return r;
}

int
krlfetch_url_check(const char *url, enum krlfetch_kind *kind, char *why, size_t n)
{
	char *path = NULL;
	int r;

	if (why != NULL && n > 0)
		why[0] = '\0';
	r = url_classify(url, kind, &path, why, n);
	curl_free(path);
	return r;
}

struct sink {
	struct buf *b;
	size_t max;
	int toolarge;
};

static size_t
on_data(char *d, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;

	if (n > s->max - s->b->len) {
		s->toolarge = 1;
		return 0;
	}
	if (buf_put(s->b, d, n) != EPH_OK)
		return 0;
	return n;
}

/* Printable ASCII of an error body, for the log. */
static void
excerpt(const struct buf *b, char *out, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < b->len && i < KRLFETCH_EXCERPT && j + 1 < n; i++)
		out[j++] = b->d[i] >= ' ' && b->d[i] < 0x7f ? (char)b->d[i] : ' ';
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
}

static int
fetch_file(const char *path, size_t max, struct krlfetch_result *r)
{
	int e;

	errno = 0;
	/* Not FILE_CHECK_TRUSTED: on the CA host the file is the CA user's. */
	if ((e = file_read_all(path, max, 0, &r->body)) == EPH_OK) {
		r->status = KRLFETCH_BODY;
		return EPH_OK;
	}
	if (e == EPH_ERR_TOOLARGE)
		say(r->why, sizeof(r->why), "%s: more than %zu bytes", path, max);
	else if (e == EPH_ERR_IO && errno != 0)
		say(r->why, sizeof(r->why), "%s: %s", path, strerror(errno));
	else
		say(r->why, sizeof(r->why), "%s: %s", path, eph_strerror(e));
	return e;
}

/* Every option of the one request; 0 when libcurl took them all. */
static int
setup(CURL *c, const struct krlfetch_opts *o, enum krlfetch_kind kind, struct curl_slist *hdrs,
    struct sink *s, char *errbuf)
{
	long timeout = o->timeout > 0 ? o->timeout : KRLFETCH_DEFAULT_TIMEOUT;
	long connect = timeout < KRLFETCH_CONNECT_TIMEOUT ? timeout : KRLFETCH_CONNECT_TIMEOUT;

	if (curl_easy_setopt(c, CURLOPT_URL, kind == KRLFETCH_UNIX ? KRLFETCH_UNIX_URL : o->url) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, kind == KRLFETCH_HTTPS ? "https" : "http") !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "ephemeral-krl-sync/" PACKAGE_VERSION) !=
	        CURLE_OK)
		return -1;
	/* A proxy would take loopback traffic off the host. */
	if (kind != KRLFETCH_HTTPS && curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK)
		return -1;
	if (kind == KRLFETCH_UNIX &&
	    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->url + 5) != CURLE_OK)
		return -1;
	if (kind == KRLFETCH_HTTPS &&
	    (curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) !=
	            CURLE_OK ||
	        (o->ca_bundle != NULL &&
	            curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_bundle) != CURLE_OK)))
		return -1;
	return 0;
}

int
krlfetch_get(const struct krlfetch_opts *o, struct krlfetch_result *r)
{
	char errbuf[CURL_ERROR_SIZE], inm[64], text[KRLFETCH_EXCERPT + 1], *path = NULL, *ip = NULL;
	struct curl_slist *hdrs = NULL, *h;
	struct sink s;
	enum krlfetch_kind kind;
	CURL *c = NULL;
	CURLcode cc;
	int e;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	errbuf[0] = '\0';
	if ((e = url_classify(o->url, &kind, &path, r->why, sizeof(r->why))) != EPH_OK)
		goto out;
	if (kind == KRLFETCH_FILE) {
		e = fetch_file(path, o->max, r);
		goto out;
	}
	e = EPH_ERR_NOMEM;
	if ((c = curl_easy_init()) == NULL)
		goto out;
	if (o->conditional) {
		(void)snprintf(
		    inm, sizeof(inm), "If-None-Match: \"%llu\"", (unsigned long long)o->version);
		if ((h = curl_slist_append(hdrs, inm)) == NULL)
			goto out;
		hdrs = h;
	}
	/* A KRL is already compact; no decompression, so no bombs. */
	if ((h = curl_slist_append(hdrs, "Accept: application/octet-stream")) == NULL)
		goto out;
	hdrs = h;
	s.b = &r->body;
	s.max = o->max;
	s.toolarge = 0;
	if (setup(c, o, kind, hdrs, &s, errbuf) != 0) {
		e = EPH_ERR_INVAL;
		say(r->why, sizeof(r->why), "libcurl refused an option (too old?)");
		goto out;
	}
	cc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http_code);
	if (s.toolarge || cc == CURLE_FILESIZE_EXCEEDED) {
		e = EPH_ERR_TOOLARGE;
		say(r->why, sizeof(r->why), "%s: the KRL is over %zu bytes", o->url, o->max);
		goto out;
	}
	if (cc != CURLE_OK) {
		e = EPH_ERR_IO;
		/* libcurl's own words name "localhost port 80" for a socket. */
		say(r->why, sizeof(r->why), "%s: %s", o->url,
		    errbuf[0] != '\0' && kind != KRLFETCH_UNIX ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	e = EPH_ERR_FORMAT;
	if (kind == KRLFETCH_HTTP &&
	    (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || ip == NULL ||
	        !host_is_loopback(ip))) {
		buf_free(&r->body);
		say(r->why, sizeof(r->why), "%s: http:// reached %s, not a loopback address",
		    o->url, ip != NULL ? ip : "an unknown address");
		goto out;
	}
	if (r->http_code == 304) {
		if (!o->conditional) {
			say(r->why, sizeof(r->why), "%s: 304 Not Modified to a plain GET", o->url);
			goto out;
		}
		buf_free(&r->body);
		r->status = KRLFETCH_NOT_MODIFIED;
	} else if (r->http_code == 200) {
		r->status = KRLFETCH_BODY;
	} else {
		e = EPH_ERR_IO;
		excerpt(&r->body, text, sizeof(text));
		say(r->why, sizeof(r->why), "%s: HTTP %ld%s%s", o->url, r->http_code,
		    text[0] != '\0' ? ": " : "", text);
		goto out;
	}
	e = EPH_OK;
out:
	curl_free(path);
	curl_slist_free_all(hdrs);
	if (c != NULL)
		curl_easy_cleanup(c);
	return e;
}

void
krlfetch_result_free(struct krlfetch_result *r)
{
	buf_free(&r->body);
}

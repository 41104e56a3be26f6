/* The API's pure half: the route table, query and JSON body validation,
 * and the mapping of error codes to HTTP statuses. No I/O, no server. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "match.h"
#include "policy.h"
#include "util.h"

void
ca_reply_detail(struct ca_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static void detail_set(char *detail, size_t dlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
detail_set(char *detail, size_t dlen, const char *fmt, ...)
{
	va_list ap;

	if (detail == NULL || dlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(detail, dlen, fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------------------- routes */

static const struct {
	enum api_route route;
	const char *name;
	unsigned methods;
	int auth;
} route_table[] = {
    {API_ROUTE_NONE, "other", 0, 0},
    {API_ROUTE_REQUESTS, "/v1/requests", (1u << API_METHOD_GET) | (1u << API_METHOD_POST), 1},
    {API_ROUTE_REQUEST, "/v1/requests/{id}", 1u << API_METHOD_GET, 1},
    {API_ROUTE_APPROVE, "/v1/requests/{id}/approve", 1u << API_METHOD_POST, 1},
    {API_ROUTE_DENY, "/v1/requests/{id}/deny", 1u << API_METHOD_POST, 1},
    {API_ROUTE_CANCEL, "/v1/requests/{id}/cancel", 1u << API_METHOD_POST, 1},
    {API_ROUTE_REVOKE, "/v1/requests/{id}/revoke", 1u << API_METHOD_POST, 1},
    {API_ROUTE_REVIEW, "/v1/requests/{id}/review", 1u << API_METHOD_POST, 1},
    {API_ROUTE_KRL, "/v1/krl", 1u << API_METHOD_GET, 0},
    {API_ROUTE_CA_PUB, "/v1/ca.pub", 1u << API_METHOD_GET, 0},
    {API_ROUTE_HEALTHZ, "/v1/healthz", 1u << API_METHOD_GET, 0},
    {API_ROUTE_METRICS, "/metrics", 1u << API_METHOD_GET, 0},
    {API_ROUTE_AUDIT, "/v1/audit", 1u << API_METHOD_GET, 1},
    {API_ROUTE_LOGIN, "/v1/login", 1u << API_METHOD_POST, 0},
    {API_ROUTE_LOGOUT, "/v1/logout", 1u << API_METHOD_POST, 1},
};

_Static_assert(sizeof(route_table) / sizeof(route_table[0]) == API_ROUTE_COUNT,
    "route_table has one row per enum api_route, in its order");

/* The actions under /v1/requests/{id}/. */
static const struct {
	const char *name;
	enum api_route route;
} action_table[] = {
    {"approve", API_ROUTE_APPROVE},
    {"deny", API_ROUTE_DENY},
    {"cancel", API_ROUTE_CANCEL},
    {"revoke", API_ROUTE_REVOKE},
    {"review", API_ROUTE_REVIEW},
};

/* Fixed paths. */
static const struct {
	const char *path;
	enum api_route route;
} path_table[] = {
    {"/v1/requests", API_ROUTE_REQUESTS},
    {"/v1/krl", API_ROUTE_KRL},
    {"/v1/ca.pub", API_ROUTE_CA_PUB},
    {"/v1/healthz", API_ROUTE_HEALTHZ},
    {"/metrics", API_ROUTE_METRICS},
    {"/v1/audit", API_ROUTE_AUDIT},
    {"/v1/login", API_ROUTE_LOGIN},
    {"/v1/logout", API_ROUTE_LOGOUT},
};

unsigned
api_route_methods(enum api_route r)
{
	if ((unsigned)r >= API_ROUTE_COUNT)
		return 0;
	return route_table[r].methods;
}

const char *
api_route_allow(enum api_route r)
{
	unsigned m = api_route_methods(r);

	if (m == ((1u << API_METHOD_GET) | (1u << API_METHOD_POST)))
		return "GET, HEAD, POST";
	if (m == (1u << API_METHOD_POST))
		return "POST";
	if (m == (1u << API_METHOD_GET))
		return "GET, HEAD";
	return "";
}

const char *
api_route_name(enum api_route r)
{
	if ((unsigned)r >= API_ROUTE_COUNT)
		return "other";
	return route_table[r].name;
}

int
api_route_needs_auth(enum api_route r)
{
	if ((unsigned)r >= API_ROUTE_COUNT)
		return 1;
	return route_table[r].auth;
}

static int
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int
api_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] != 'r' || s[1] != '-')
		return 0;
	for (i = 2; i < API_ID_LEN; i++)
		if (!is_lower_hex(s[i]))
			return 0;
	return s[API_ID_LEN] == '\0';
}

/* Printable ASCII copy of untrusted text for a detail message. */
static void
safe_copy(char *dst, size_t dlen, const char *src, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && src[i] != '\0' && j + 1 < dlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[j++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	if (dlen > 0)
		dst[j] = '\0';
}

int
api_path_parse(const char *path, struct api_path *p, char *detail, size_t dlen)
{
	static const char prefix[] = "/v1/requests/";
	const char *rest, *slash;
	char shown[40];
	size_t i, idlen;

	memset(p, 0, sizeof(*p));
	if (path == NULL)
		return EPH_ERR_NOTFOUND;
	for (i = 0; i < sizeof(path_table) / sizeof(path_table[0]); i++)
		if (strcmp(path, path_table[i].path) == 0) {
			p->route = path_table[i].route;
			return EPH_OK;
		}
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return EPH_ERR_NOTFOUND;
	rest = path + sizeof(prefix) - 1;
	slash = strchr(rest, '/');
	idlen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (slash == NULL) {
		p->route = API_ROUTE_REQUEST;
	} else {
		for (i = 0; i < sizeof(action_table) / sizeof(action_table[0]); i++)
			if (strcmp(slash + 1, action_table[i].name) == 0)
				p->route = action_table[i].route;
		if (p->route == API_ROUTE_NONE)
			return EPH_ERR_NOTFOUND;
	}
	if (idlen != API_ID_LEN || strncmp(rest, "r-", 2) != 0) {
		safe_copy(shown, sizeof(shown), rest, idlen);
		detail_set(detail, dlen,
		    "malformed request id \"%s\": expected \"r-\" and 16 lowercase hex digits",
		    shown);
		p->route = API_ROUTE_NONE;
		return EPH_ERR_INVAL;
	}
	memcpy(p->id, rest, API_ID_LEN);
	p->id[API_ID_LEN] = '\0';
	if (!api_id_valid(p->id)) {
		safe_copy(shown, sizeof(shown), rest, idlen);
		detail_set(detail, dlen,
		    "malformed request id \"%s\": expected \"r-\" and 16 lowercase hex digits",
		    shown);
		memset(p, 0, sizeof(*p));
		return EPH_ERR_INVAL;
	}
	return EPH_OK;
}

/* -------------------------------------------------------------- queries */

void
api_query_split(char *s, struct api_query *q)
{
	char *amp, *eq;

	memset(q, 0, sizeof(*q));
	while (s != NULL && *s != '\0') {
		if ((amp = strchr(s, '&')) != NULL)
			*amp = '\0';
		if (*s != '\0') {
			if (q->n == API_MAX_QUERY_ARGS) {
				q->overflow = 1;
				return;
			}
			q->arg[q->n].key = s;
			q->arg[q->n].value = NULL;
			if ((eq = strchr(s, '=')) != NULL) {
				*eq = '\0';
				q->arg[q->n].value = eq + 1;
			}
			q->n++;
		}
		s = amp != NULL ? amp + 1 : NULL;
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
api_query_decode(const char *src, char *dst, size_t dlen)
{
	size_t i = 0, j = 0;
	int hi, lo;

	if (dlen == 0)
		return EPH_ERR_TOOLARGE;
	while (src[i] != '\0') {
		char c = src[i];

		if (c == '%') {
			if ((hi = hexval(src[i + 1])) < 0 || (lo = hexval(src[i + 2])) < 0)
				return EPH_ERR_FORMAT;
			c = (char)((hi << 4) | lo);
			if (c == '\0')
				return EPH_ERR_FORMAT;
			i += 3;
		} else {
			i++;
		}
		if (j + 1 >= dlen)
			return EPH_ERR_TOOLARGE;
		dst[j++] = c;
	}
	dst[j] = '\0';
	return EPH_OK;
}

/*
 * The decoded value of each known key, in order of keys[]; unknown and
 * repeated keys are refused. vals[i] gets "" when the key is absent and
 * present[i] says which were given.
 */
static int
query_collect(const struct api_query *q, const char *const *keys, size_t nkeys,
    char vals[][API_MAX_QUERY_VALUE + 1], int *present, char *detail, size_t dlen)
{
	char key[64], shown[64];
	size_t i, k;
	int r;

	for (k = 0; k < nkeys; k++) {
		vals[k][0] = '\0';
		present[k] = 0;
	}
	if (q->overflow) {
		detail_set(detail, dlen, "more than %u query arguments", API_MAX_QUERY_ARGS);
		return EPH_ERR_INVAL;
	}
	for (i = 0; i < q->n; i++) {
		if (api_query_decode(q->arg[i].key, key, sizeof(key)) != EPH_OK) {
			safe_copy(shown, sizeof(shown), q->arg[i].key, 32);
			detail_set(detail, dlen, "unknown query argument \"%s\"", shown);
			return EPH_ERR_INVAL;
		}
		for (k = 0; k < nkeys; k++)
			if (strcmp(key, keys[k]) == 0)
				break;
		if (k == nkeys) {
			safe_copy(shown, sizeof(shown), key, 32);
			detail_set(detail, dlen, "unknown query argument \"%s\"", shown);
			return EPH_ERR_INVAL;
		}
		if (present[k]) {
			detail_set(detail, dlen, "query argument \"%s\" given twice", keys[k]);
			return EPH_ERR_INVAL;
		}
		present[k] = 1;
		if (q->arg[i].value == NULL) {
			detail_set(detail, dlen, "query argument \"%s\" has no value", keys[k]);
			return EPH_ERR_INVAL;
		}
		if ((r = api_query_decode(q->arg[i].value, vals[k], API_MAX_QUERY_VALUE + 1)) !=
		    EPH_OK) {
			detail_set(detail, dlen, "query argument \"%s\": %s", keys[k],
			    r == EPH_ERR_TOOLARGE ? "value too long" : "bad %-escape or NUL byte");
			return EPH_ERR_INVAL;
		}
	}
	return EPH_OK;
}

static const char *const state_names[] = {
    "", "pending", "issued", "denied", "expired", "cancelled", "revoked"};

/* A task or hostgroup name: what the policy's names may hold. */
static int
name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > API_MAX_NAME)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

int
api_list_query_parse(
    const struct api_query *q, struct ca_list_query *out, char *detail, size_t dlen)
{
	static const char *const keys[] = {"state", "mine", "task", "review"};
	char vals[4][API_MAX_QUERY_VALUE + 1], shown[64];
	int present[4], r;
	size_t i;

	memset(out, 0, sizeof(*out));
	if ((r = query_collect(q, keys, 4, vals, present, detail, dlen)) != EPH_OK)
		return r;
	if (present[0]) {
		for (i = 1; i < sizeof(state_names) / sizeof(state_names[0]); i++)
			if (strcmp(vals[0], state_names[i]) == 0)
				out->state = (enum ca_request_state)i;
		if (out->state == CA_STATE_ANY) {
			safe_copy(shown, sizeof(shown), vals[0], 32);
			detail_set(detail, dlen,
			    "unknown state \"%s\": expected pending, issued, denied, expired, "
			    "cancelled or revoked",
			    shown);
			return EPH_ERR_INVAL;
		}
	}
	if (present[1]) {
		if (strcmp(vals[1], "1") == 0 || strcmp(vals[1], "true") == 0) {
			out->mine = 1;
		} else if (strcmp(vals[1], "0") == 0 || strcmp(vals[1], "false") == 0) {
			out->mine = 0;
		} else {
			detail_set(detail, dlen, "mine: expected 1 or 0");
			return EPH_ERR_INVAL;
		}
	}
	if (present[2]) {
		if (!name_valid(vals[2])) {
			detail_set(detail, dlen,
			    "task: expected a task name (letters, digits, '_', '-', '.')");
			return EPH_ERR_INVAL;
		}
		memcpy(out->task, vals[2], strlen(vals[2]) + 1);
	}
	if (present[3]) {
		if (strcmp(vals[3], "open") == 0) {
			out->review = CA_REVIEW_OPEN;
		} else if (strcmp(vals[3], "closed") == 0) {
			out->review = CA_REVIEW_CLOSED;
		} else {
			safe_copy(shown, sizeof(shown), vals[3], 32);
			detail_set(
			    detail, dlen, "unknown review \"%s\": expected open or closed", shown);
			return EPH_ERR_INVAL;
		}
	}
	return EPH_OK;
}

int
api_audit_query_parse(const struct api_query *q, uint64_t *since, char *detail, size_t dlen)
{
	static const char *const keys[] = {"since"};
	char vals[1][API_MAX_QUERY_VALUE + 1];
	int present[1], r;

	*since = 0;
	if ((r = query_collect(q, keys, 1, vals, present, detail, dlen)) != EPH_OK)
		return r;
	if (!present[0]) {
		detail_set(detail, dlen, "since: required (the last sequence number seen, or 0)");
		return EPH_ERR_INVAL;
	}
	if (parse_u64(vals[0], since) != EPH_OK) {
		detail_set(detail, dlen, "since: expected a decimal sequence number");
		return EPH_ERR_INVAL;
	}
	return EPH_OK;
}

int
api_no_query(const struct api_query *q, char *detail, size_t dlen)
{
	char vals[1][API_MAX_QUERY_VALUE + 1];
	int present[1];

	return query_collect(q, NULL, 0, vals, present, detail, dlen);
}

/* --------------------------------------------------------------- bodies */

int
api_body_load(const void *d, size_t n, int empty_ok, json_t **out, char *detail, size_t dlen)
{
	json_error_t jerr;
	json_t *j = NULL;
	size_t i;
	int r = EPH_ERR_FORMAT;

	*out = NULL;
	if (n > API_MAX_BODY) {
		detail_set(detail, dlen, "body larger than %u bytes", API_MAX_BODY);
		return EPH_ERR_TOOLARGE;
	}
	/* Whitespace alone counts as empty. */
	for (i = 0; i < n; i++) {
		char c = ((const char *)d)[i];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
	}
	if (i == n) {
		if (!empty_ok) {
			detail_set(detail, dlen, "a JSON object body is required");
			goto out;
		}
		if ((j = json_object()) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		*out = j;
		return EPH_OK;
	}
	if (memchr(d, '\0', n) != NULL) {
		detail_set(detail, dlen, "NUL byte in the body");
		goto out;
	}
	if ((j = json_loadb(d, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr)) == NULL) {
		detail_set(detail, dlen, "malformed JSON at line %d, column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(j)) {
		detail_set(detail, dlen, "the body must be a JSON object");
		goto out;
	}
	*out = j;
	j = NULL;
	r = EPH_OK;
out:
	json_decref(j);
	return r;
}

/* No field but the allowed ones: name the first one that is not. */
static int
fields_known(const json_t *body, const char *const *allowed, size_t n, char *detail, size_t dlen)
{
	const char *key;
	json_t *v;
	char shown[64];
	size_t i;

	json_object_foreach((json_t *)body, key, v)
	{
		for (i = 0; i < n; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (i == n) {
			safe_copy(shown, sizeof(shown), key, 48);
			detail_set(detail, dlen, "unknown field \"%s\"", shown);
			return EPH_ERR_INVAL;
		}
	}
	return EPH_OK;
}

/*
 * A string member: absent is *s NULL (an error when required); anything
 * but a string, an empty string, more than max bytes, or a control
 * character is refused; text 1 allows a tab, 2 also line ends (a key
 * line, which its own parser checks).
 */
static int
get_string(const json_t *body, const char *name, int required, size_t max, int text, const char **s,
    char *detail, size_t dlen)
{
	json_t *v = json_object_get(body, name);
	const unsigned char *p;
	size_t len;

	*s = NULL;
	if (v == NULL) {
		if (!required)
			return EPH_OK;
		detail_set(detail, dlen, "%s: required", name);
		return EPH_ERR_INVAL;
	}
	if (!json_is_string(v)) {
		detail_set(detail, dlen, "%s: expected a string", name);
		return EPH_ERR_INVAL;
	}
	len = json_string_length(v);
	if (len == 0) {
		detail_set(detail, dlen, "%s: empty", name);
		return EPH_ERR_INVAL;
	}
	if (len > max) {
		detail_set(detail, dlen, "%s: longer than %zu bytes", name, max);
		return EPH_ERR_INVAL;
	}
	if (strlen(json_string_value(v)) != len) {
		detail_set(detail, dlen, "%s: NUL character", name);
		return EPH_ERR_INVAL;
	}
	for (p = (const unsigned char *)json_string_value(v); *p != '\0'; p++)
		if ((*p < 0x20 && !(text >= 1 && *p == '\t') &&
		        !(text >= 2 && (*p == '\n' || *p == '\r'))) ||
		    *p == 0x7f) {
			detail_set(detail, dlen, "%s: control character", name);
			return EPH_ERR_INVAL;
		}
	*s = json_string_value(v);
	return EPH_OK;
}

/* A host name (lower-cased into out) or "@hostgroup". */
static int
host_check(const char *s, char *out, size_t outlen, char *detail, size_t dlen, size_t idx)
{
	char lower[API_MAX_NAME + 2];
	const char *why = NULL;
	size_t n = strlen(s);

	if (n > API_MAX_NAME + 1 || n + 1 > outlen) {
		detail_set(detail, dlen, "hosts[%zu]: longer than %u bytes", idx, API_MAX_NAME);
		return EPH_ERR_INVAL;
	}
	if (s[0] == '@') {
		if (!name_valid(s + 1)) {
			detail_set(detail, dlen,
			    "hosts[%zu]: \"@\" must be followed by a hostgroup name", idx);
			return EPH_ERR_INVAL;
		}
		memcpy(out, s, n + 1);
		return EPH_OK;
	}
	if (policy_host_name_check(s, 0, lower, &why) != 0) {
		detail_set(
		    detail, dlen, "hosts[%zu]: %s", idx, why != NULL ? why : "bad host name");
		return EPH_ERR_INVAL;
	}
	memcpy(out, lower, strlen(lower) + 1);
	return EPH_OK;
}

int
api_public_key_check(const char *line, struct key **out, char *detail, size_t dlen)
{
	struct key *k = NULL;
	char *type = NULL, shown[72];
	struct buf blob;
	int r, is_cert = 0;
	enum key_type t;
	unsigned bits;

	*out = NULL;
	buf_init(&blob);
	if (strstr(line, "PRIVATE KEY") != NULL) {
		detail_set(detail, dlen,
		    "public_key: this is a private key; send the public key line "
		    "(the .pub file), never the private key");
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (strlen(line) > API_MAX_PUBKEY_LINE) {
		detail_set(detail, dlen, "public_key: longer than %u bytes", API_MAX_PUBKEY_LINE);
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if ((r = publine_parse(line, &type, &blob, NULL)) != EPH_OK) {
		detail_set(detail, dlen,
		    "public_key: not an OpenSSH public key line (\"TYPE BASE64 [COMMENT]\")");
		goto out;
	}
	t = key_type_from_name(type, &is_cert);
	safe_copy(shown, sizeof(shown), type, 64);
	if (is_cert) {
		detail_set(detail, dlen,
		    "public_key: this is a certificate (%s); send the plain public key", shown);
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (t == KEY_UNSPEC) {
		if (strcmp(type, "ssh-dss") == 0)
			detail_set(
			    detail, dlen, "public_key: DSA keys are not accepted; use Ed25519");
		else
			detail_set(detail, dlen,
			    "public_key: key type \"%s\" is not accepted (Ed25519, ECDSA, RSA, "
			    "sk-ssh-ed25519, sk-ecdsa)",
			    shown);
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = key_from_blob(blob.d, blob.len, &k)) != EPH_OK) {
		detail_set(detail, dlen, "public_key: the %s key does not parse (%s)", shown,
		    eph_strerror(r));
		goto out;
	}
	if (k->type == KEY_RSA && (bits = key_bits(k)) < KEY_RSA_MIN_GEN_BITS) {
		detail_set(detail, dlen, "public_key: RSA key of %u bits; at least %u are required",
		    bits, KEY_RSA_MIN_GEN_BITS);
		r = EPH_ERR_WEAKKEY;
		goto out;
	}
	*out = k;
	k = NULL;
	r = EPH_OK;
out:
	key_free(k);
	free(type);
	buf_free(&blob);
	return r;
}

void
api_request_free(struct ca_request_input *in)
{
	size_t i;

	if (in == NULL)
		return;
	free(in->task);
	for (i = 0; i < in->nhosts; i++)
		free(in->hosts[i]);
	free(in->hosts);
	free(in->reason);
	free(in->login_as);
	free(in->public_key);
	key_free(in->key);
	memset(in, 0, sizeof(*in));
}

int
api_request_parse(const json_t *body, struct ca_request_input *in, char *detail, size_t dlen)
{
	static const char *const fields[] = {
	    "task", "hosts", "ttl", "reason", "public_key", "login_as"};
	const char *task, *ttl, *reason, *pk, *login_as, *h;
	char host[API_MAX_NAME + 2];
	json_t *hosts, *v;
	size_t i, j;
	int r;

	memset(in, 0, sizeof(*in));
	if ((r = fields_known(body, fields, sizeof(fields) / sizeof(fields[0]), detail, dlen)) !=
	    EPH_OK)
		goto out;
	r = EPH_ERR_INVAL;
	if (get_string(body, "task", 1, API_MAX_NAME, 0, &task, detail, dlen) != EPH_OK)
		goto out;
	if (!name_valid(task)) {
		detail_set(
		    detail, dlen, "task: expected a task name (letters, digits, '_', '-', '.')");
		goto out;
	}
	if (get_string(body, "ttl", 0, API_MAX_TTL_TEXT, 0, &ttl, detail, dlen) != EPH_OK)
		goto out;
	if (ttl != NULL && (parse_duration(ttl, &in->ttl) != EPH_OK || in->ttl == 0)) {
		detail_set(detail, dlen, "ttl: expected a duration such as \"10m\" or \"1h30m\"");
		goto out;
	}
	if (get_string(body, "reason", 0, API_MAX_TEXT, 1, &reason, detail, dlen) != EPH_OK)
		goto out;
	if (get_string(body, "login_as", 0, API_MAX_NAME, 0, &login_as, detail, dlen) != EPH_OK)
		goto out;
	if (login_as != NULL && policy_identity_problem(login_as) != NULL) {
		detail_set(detail, dlen, "login_as: %s", policy_identity_problem(login_as));
		goto out;
	}
	if (get_string(body, "public_key", 1, API_MAX_PUBKEY_LINE, 2, &pk, detail, dlen) != EPH_OK)
		goto out;
	hosts = json_object_get(body, "hosts");
	if (hosts == NULL) {
		detail_set(detail, dlen, "hosts: required");
		goto out;
	}
	if (!json_is_array(hosts)) {
		detail_set(detail, dlen, "hosts: expected an array of host names");
		goto out;
	}
	if (json_array_size(hosts) == 0) {
		detail_set(detail, dlen, "hosts: empty");
		goto out;
	}
	if (json_array_size(hosts) > POLICY_MAX_REQUEST_HOSTS) {
		detail_set(detail, dlen, "hosts: more than %u", POLICY_MAX_REQUEST_HOSTS);
		goto out;
	}
	if ((in->hosts = calloc(json_array_size(hosts), sizeof(char *))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(hosts, i, v)
	{
		if (!json_is_string(v)) {
			detail_set(detail, dlen, "hosts[%zu]: expected a string", i);
			goto out;
		}
		h = json_string_value(v);
		if (strlen(h) != json_string_length(v)) {
			detail_set(detail, dlen, "hosts[%zu]: NUL character", i);
			goto out;
		}
		if (host_check(h, host, sizeof(host), detail, dlen, i) != EPH_OK)
			goto out;
		for (j = 0; j < in->nhosts; j++)
			if (strcmp(in->hosts[j], host) == 0) {
				detail_set(detail, dlen, "hosts[%zu]: listed twice", i);
				goto out;
			}
		if ((in->hosts[in->nhosts] = strdup(host)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		in->nhosts++;
	}
	if ((r = api_public_key_check(pk, &in->key, detail, dlen)) != EPH_OK) {
		r = EPH_ERR_INVAL;
		goto out;
	}
	r = EPH_ERR_NOMEM;
	if ((in->task = strdup(task)) == NULL ||
	    (r = key_format_public_line(in->key, NULL, &in->public_key)) != EPH_OK)
		goto out;
	if ((reason != NULL && (in->reason = strdup(reason)) == NULL) ||
	    (login_as != NULL && (in->login_as = strdup(login_as)) == NULL)) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = EPH_OK;
out:
	if (r != EPH_OK)
		api_request_free(in);
	return r;
}

int
api_action_parse(const json_t *body, const char *field, int required, const char **text,
    char *detail, size_t dlen)
{
	const char *fields[1];
	int r;

	*text = NULL;
	fields[0] = field;
	if ((r = fields_known(body, fields, field != NULL ? 1 : 0, detail, dlen)) != EPH_OK)
		return r;
	if (field == NULL)
		return EPH_OK;
	return get_string(body, field, required, API_MAX_TEXT, 1, text, detail, dlen);
}

void
api_login_free(struct ca_login_input *in)
{
	size_t i;

	if (in == NULL)
		return;
	free(in->user);
	eph_free_secret_str(in->password);
	for (i = 0; in->answers != NULL && i < in->nanswers; i++)
		eph_free_secret_str(in->answers[i]);
	free(in->answers);
	memset(in, 0, sizeof(*in));
}

static void
json_string_wipe(json_t *v)
{
	if (json_is_string(v))
		eph_wipe((char *)(uintptr_t)json_string_value(v), json_string_length(v));
}

void
api_login_body_wipe(json_t *body)
{
	json_t *v;
	size_t i;

	if (!json_is_object(body))
		return;
	json_string_wipe(json_object_get(body, "password"));
	json_array_foreach(json_object_get(body, "answers"), i, v)
	{
		json_string_wipe(v);
	}
}

int
api_conv_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || strnlen(s, API_CONV_ID_LEN + 1) != API_CONV_ID_LEN || s[0] != 'c' ||
	    s[1] != '-')
		return 0;
	for (i = 2; i < API_CONV_ID_LEN; i++)
		if (!is_lower_hex(s[i]))
			return 0;
	return 1;
}

/* The answers of a conversation step: an array of at most
 * API_MAX_ANSWERS strings, each NUL- and control-free but for a tab, at
 * most API_MAX_ANSWER bytes, and possibly empty (the PAM stack decides
 * what an empty answer is worth). */
static int
answers_parse(const json_t *body, struct ca_login_input *in, char *detail, size_t dlen)
{
	const json_t *a = json_object_get(body, "answers");
	const unsigned char *p;
	json_t *v;
	size_t i, len;

	if (a == NULL) {
		detail_set(detail, dlen, "answers: required with conversation");
		return EPH_ERR_INVAL;
	}
	if (!json_is_array(a)) {
		detail_set(detail, dlen, "answers: expected an array of strings");
		return EPH_ERR_INVAL;
	}
	if (json_array_size(a) > API_MAX_ANSWERS) {
		detail_set(detail, dlen, "answers: more than %u", API_MAX_ANSWERS);
		return EPH_ERR_INVAL;
	}
	if ((in->answers = calloc(json_array_size(a) + 1, sizeof(char *))) == NULL)
		return EPH_ERR_NOMEM;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			detail_set(detail, dlen, "answers[%zu]: expected a string", i);
			return EPH_ERR_INVAL;
		}
		len = json_string_length(v);
		if (len > API_MAX_ANSWER) {
			detail_set(
			    detail, dlen, "answers[%zu]: longer than %u bytes", i, API_MAX_ANSWER);
			return EPH_ERR_INVAL;
		}
		if (strlen(json_string_value(v)) != len) {
			detail_set(detail, dlen, "answers[%zu]: NUL character", i);
			return EPH_ERR_INVAL;
		}
		for (p = (const unsigned char *)json_string_value(v); *p != '\0'; p++)
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
				detail_set(detail, dlen, "answers[%zu]: control character", i);
				return EPH_ERR_INVAL;
			}
		if ((in->answers[i] = strdup(json_string_value(v))) == NULL)
			return EPH_ERR_NOMEM;
		in->nanswers++;
	}
	return EPH_OK;
}

int
api_login_parse(const json_t *body, struct ca_login_input *in, char *detail, size_t dlen)
{
	static const char *const fields[] = {"user", "password", "conversation", "answers"};
	const char *user, *password, *conv;
	int r;

	memset(in, 0, sizeof(*in));
	if ((r = fields_known(body, fields, sizeof(fields) / sizeof(fields[0]), detail, dlen)) !=
	    EPH_OK)
		goto out;
	r = EPH_ERR_INVAL;
	if (get_string(body, "conversation", 0, API_CONV_ID_LEN + 1, 0, &conv, detail, dlen) !=
	    EPH_OK)
		goto out;
	if (conv != NULL) {
		if (!api_conv_id_valid(conv)) {
			detail_set(detail, dlen,
			    "conversation: expected \"c-\" and 32 lowercase hex digits");
			goto out;
		}
		if (json_object_get(body, "user") != NULL ||
		    json_object_get(body, "password") != NULL) {
			detail_set(detail, dlen,
			    "conversation: answers go alone, without user or password");
			goto out;
		}
		memcpy(in->conversation, conv, API_CONV_ID_LEN + 1);
		r = answers_parse(body, in, detail, dlen);
		goto out;
	}
	if (json_object_get(body, "answers") != NULL) {
		detail_set(detail, dlen, "answers: only with conversation");
		goto out;
	}
	if (get_string(body, "user", 1, API_USER_MAX, 0, &user, detail, dlen) != EPH_OK)
		goto out;
	if (policy_identity_problem(user) != NULL) {
		detail_set(detail, dlen, "user: %s", policy_identity_problem(user));
		goto out;
	}
	if (get_string(body, "password", 0, API_MAX_PASSWORD, 1, &password, detail, dlen) != EPH_OK)
		goto out;
	r = EPH_ERR_NOMEM;
	if ((in->user = strdup(user)) == NULL ||
	    (password != NULL && (in->password = strdup(password)) == NULL))
		goto out;
	r = EPH_OK;
out:
	if (r != EPH_OK)
		api_login_free(in);
	return r;
}

int
api_bearer_parse(const char *header, char *tok, size_t toklen)
{
	static const char scheme[] = "Bearer ";
	size_t i, n;

	if (toklen > 0)
		tok[0] = '\0';
	if (header == NULL || strncasecmp(header, scheme, sizeof(scheme) - 1) != 0)
		return EPH_ERR_UNAUTHENTICATED;
	header += sizeof(scheme) - 1;
	while (*header == ' ')
		header++;
	n = strlen(header);
	while (n > 0 && header[n - 1] == ' ')
		n--;
	if (n == 0 || n > API_MAX_TOKEN || n + 1 > toklen)
		return EPH_ERR_UNAUTHENTICATED;
	for (i = 0; i < n; i++) {
		char c = header[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
		        c == '='))
			return EPH_ERR_UNAUTHENTICATED;
	}
	memcpy(tok, header, n);
	tok[n] = '\0';
	return EPH_OK;
}

/* --------------------------------------------------------------- errors */

unsigned
api_http_status(int err)
{
	switch (err) {
	case EPH_OK: return 200;
	case EPH_ERR_INVAL:
	case EPH_ERR_TRUNCATED:
	case EPH_ERR_TOOLARGE:
	case EPH_ERR_FORMAT:
	case EPH_ERR_TRAILING:
	case EPH_ERR_KEYTYPE:
	case EPH_ERR_RANGE:
	case EPH_ERR_DUPLICATE:
	case EPH_ERR_WEAKKEY: return 400;
	case EPH_ERR_UNAUTHENTICATED: return 401;
	case EPH_ERR_FORBIDDEN: return 403;
	case EPH_ERR_NOTFOUND: return 404;
	case EPH_ERR_CONFLICT:
	case EPH_ERR_EXPIRED: return 409;
	case EPH_ERR_LIMIT: return 429;
	case EPH_ERR_BUSY:
	case EPH_ERR_STORE_FULL: return 503;
	}
	return 500;
}

const char *
api_error_token(unsigned status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthenticated";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "body_too_large";
	case 415: return "unsupported_media_type";
	case 429: return "too_many_requests";
	case 501: return "not_implemented";
	case 503: return "unavailable";
	}
	return "internal";
}

/*
 * SSH_AUTH_INFO_0 parsing. The value comes through the PAM environment,
 * which pam_env lets a user write, so it is read as hostile text: one
 * pass, every length checked against what remains and against a cap.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authinfo.h"
#include "err.h"

#define CERT_SUFFIX "-cert-v01@openssh.com"

void
authinfo_clear(struct authinfo *ai)
{
	size_t i;

	if (ai == NULL)
		return;
	for (i = 0; i < ai->n; i++) {
		free(ai->v[i].method);
		free(ai->v[i].key_type);
		free(ai->v[i].key_b64);
		free(ai->v[i].info);
	}
	free(ai->v);
	ai->v = NULL;
	ai->n = 0;
}

static int
is_lower_token(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

static int
is_name_char(char ch)
{
	return is_lower_token(ch) || (ch >= 'A' && ch <= 'Z') || ch == '@' || ch == '.' ||
	    ch == '_';
}

static int
is_b64_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	    ch == '+' || ch == '/';
}

/* The length of the field at p (up to a space or the end of the line). */
static size_t
field_len(const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);

	return sp != NULL ? (size_t)(sp - p) : n;
}

static int
method_ok(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || n > AUTHINFO_MAX_METHOD)
		return 0;
	for (; i < n && p[i] != '/'; i++)
		if (!is_lower_token(p[i]))
			return 0;
	if (i == 0)
		return 0;
	if (i == n)
		return 1;
	/* "/submethod": not empty, no second '/'. */
	if (++i == n)
		return 0;
	for (; i < n; i++)
		if (!is_name_char(p[i]))
			return 0;
	return 1;
}

static int
b64_text_ok(const char *p, size_t n)
{
	size_t i, pad = 0;

	if (n == 0 || n % 4 != 0)
		return 0;
	while (pad < 2 && p[n - 1 - pad] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!is_b64_char(p[i]))
			return 0;
	return 1;
}

static int
ends_with(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	return n > sl && memcmp(s + n - sl, suffix, sl) == 0;
}

/* One line (without its '\n') into m. */
static int
parse_line(const char *p, size_t n, struct authinfo_method *m)
{
	size_t len, i;

	memset(m, 0, sizeof(*m));
	if (n == 0)
		return EPH_ERR_FORMAT;
	if (n > AUTHINFO_MAX_LINE)
		return EPH_ERR_TOOLARGE;
	for (i = 0; i < n; i++)
		if (p[i] < ' ' || p[i] > '~')
			return EPH_ERR_FORMAT;
	len = field_len(p, n);
	if (!method_ok(p, len))
		return EPH_ERR_FORMAT;
	if ((m->method = strndup(p, len)) == NULL)
		return EPH_ERR_NOMEM;
	p += len;
	n -= len;
	if (strcmp(m->method, "publickey") == 0 || strcmp(m->method, "hostbased") == 0) {
		/* " type base64" */
		if (n < 2 || p[0] != ' ')
			return EPH_ERR_FORMAT;
		p++, n--;
		len = field_len(p, n);
		if (len == 0 || len > AUTHINFO_MAX_METHOD)
			return EPH_ERR_FORMAT;
		for (i = 0; i < len; i++)
			if (!is_name_char(p[i]))
				return EPH_ERR_FORMAT;
		if ((m->key_type = strndup(p, len)) == NULL)
			return EPH_ERR_NOMEM;
		m->is_cert = ends_with(p, len, CERT_SUFFIX);
		p += len;
		n -= len;
		if (n < 2 || p[0] != ' ')
			return EPH_ERR_FORMAT;
		p++, n--;
		len = field_len(p, n);
		if (!b64_text_ok(p, len))
			return EPH_ERR_FORMAT;
		if ((m->key_b64 = strndup(p, len)) == NULL)
			return EPH_ERR_NOMEM;
		p += len;
		n -= len;
	}
	if (n == 0)
		return EPH_OK;
	/* " info": one space, then something. */
	if (n < 2 || p[0] != ' ' || p[1] == ' ')
		return EPH_ERR_FORMAT;
	if ((m->info = strndup(p + 1, n - 1)) == NULL)
		return EPH_ERR_NOMEM;
	return EPH_OK;
}

int
authinfo_parse(const char *s, struct authinfo *out)
{
	struct authinfo ai = {NULL, 0};
	const char *p, *nl;
	size_t len, left;
	int r = EPH_ERR_INVAL;

	if (out == NULL)
		return EPH_ERR_INVAL;
	out->v = NULL;
	out->n = 0;
	if (s == NULL)
		goto out;
	if ((len = strnlen(s, AUTHINFO_MAX_SIZE + 1)) > AUTHINFO_MAX_SIZE) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if ((ai.v = calloc(AUTHINFO_MAX_LINES, sizeof(*ai.v))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	for (p = s, left = len; left > 0; left -= (size_t)(nl - p) + 1, p = nl + 1) {
		if ((nl = memchr(p, '\n', left)) == NULL) {
			r = EPH_ERR_FORMAT; /* sshd ends every line */
			goto out;
		}
		if (ai.n == AUTHINFO_MAX_LINES) {
			r = EPH_ERR_TOOLARGE;
			goto out;
		}
		/* Counted before parsing, so a half-filled entry is freed. */
		r = parse_line(p, (size_t)(nl - p), &ai.v[ai.n++]);
		if (r != EPH_OK)
			goto out;
	}
	*out = ai;
	ai.v = NULL;
	ai.n = 0;
	r = EPH_OK;
out:
	authinfo_clear(&ai);
	return r;
}

int
authinfo_find_cert(const struct authinfo *ai, const struct authinfo_method **out)
{
	const struct authinfo_method *found = NULL;
	size_t i;

	if (ai == NULL || out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	for (i = 0; i < ai->n; i++) {
		if (strcmp(ai->v[i].method, "publickey") != 0 || !ai->v[i].is_cert)
			continue;
		if (found != NULL)
			return EPH_ERR_DUPLICATE;
		found = &ai->v[i];
	}
	if (found == NULL)
		return EPH_ERR_NOTFOUND;
	*out = found;
	return EPH_OK;
}

/*
 * The grant@ephssh extension value: encoding, strict decoding and the
 * reason digest. Hosts decode it from certificates they did not make, so
 * every field is capped and must be printable text.
 *
 * Wire form: uint32 version, string id, string task, string requester,
 * string login_as, uint32 count, count x string approver, string reason
 * digest (empty or 32 bytes), uint32 max_logins.
 *
 * id, task, requester and approvers join the key id
 * "eph:<id>:<requester>:<task>" and log lines, so they hold no ':' and no
 * space; login_as is a plain account name.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "grant.h"
#include "util.h"

/*
 * Printable UTF-8: minimal encodings only, no surrogates, nothing past
 * U+10FFFF, and no C0/C1 control or DEL, so a field is safe in log lines
 * and key ids.
 */
static int
text_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp, min;
	size_t i, more;

	while (*p != '\0') {
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			more = 1;
			min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			more = 2;
			min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			more = 3;
			min = 0x10000;
		} else
			return 0;
		for (i = 1; i <= more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		p += more + 1;
	}
	return 1;
}

/* A name field: present, non-empty, capped, printable, and nothing that
 * would split the key id or a key=value log line. */
static int
field_check(const char *s)
{
	size_t len;

	if (s == NULL)
		return EPH_ERR_INVAL;
	len = strlen(s);
	if (len == 0 || !text_valid(s) || strpbrk(s, ": ") != NULL)
		return EPH_ERR_INVAL;
	if (len > GRANT_MAX_FIELD_LEN)
		return EPH_ERR_TOOLARGE;
	return EPH_OK;
}

int
grant_user_name_valid(const char *s)
{
	size_t i, len;

	if (s == NULL || (len = strlen(s)) == 0 || len > GRANT_MAX_FIELD_LEN || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
			continue;
		if ((ch == '@' && i > 0) || (ch == '$' && i > 0 && i == len - 1))
			continue;
		return 0;
	}
	return 1;
}

static int
login_check(const char *s)
{
	if (s != NULL && strlen(s) > GRANT_MAX_FIELD_LEN)
		return EPH_ERR_TOOLARGE;
	return grant_user_name_valid(s) ? EPH_OK : EPH_ERR_INVAL;
}

/*
 * Approvers are distinct people other than the requester: a grant that
 * says otherwise was not made by a CA following policy.
 */
static int
approvers_check(const struct grant *g)
{
	size_t i, j;
	int r;

	if (g->napprovers > GRANT_MAX_APPROVERS)
		return EPH_ERR_TOOLARGE;
	if (g->napprovers > 0 && g->approvers == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; i < g->napprovers; i++) {
		if ((r = field_check(g->approvers[i])) != EPH_OK)
			return r;
		if (strcmp(g->approvers[i], g->requester) == 0)
			return EPH_ERR_INVAL;
		for (j = 0; j < i; j++)
			if (strcmp(g->approvers[i], g->approvers[j]) == 0)
				return EPH_ERR_DUPLICATE;
	}
	return EPH_OK;
}

int
grant_encode(const struct grant *g, struct buf *out)
{
	struct buf b;
	size_t i;
	int r;

	buf_init(&b);
	if (g == NULL || out == NULL) {
		r = EPH_ERR_INVAL;
		goto out;
	}
	if ((r = field_check(g->id)) != EPH_OK || (r = field_check(g->task)) != EPH_OK ||
	    (r = field_check(g->requester)) != EPH_OK || (r = login_check(g->login_as)) != EPH_OK ||
	    (r = approvers_check(g)) != EPH_OK)
		goto out;
	if ((r = buf_put_u32(&b, GRANT_VERSION)) != EPH_OK ||
	    (r = buf_put_cstring(&b, g->id)) != EPH_OK ||
	    (r = buf_put_cstring(&b, g->task)) != EPH_OK ||
	    (r = buf_put_cstring(&b, g->requester)) != EPH_OK ||
	    (r = buf_put_cstring(&b, g->login_as)) != EPH_OK ||
	    (r = buf_put_u32(&b, (uint32_t)g->napprovers)) != EPH_OK)
		goto out;
	for (i = 0; i < g->napprovers; i++)
		if ((r = buf_put_cstring(&b, g->approvers[i])) != EPH_OK)
			goto out;
	if ((r = buf_put_string(
	         &b, g->reason_digest, g->has_reason_digest ? GRANT_DIGEST_LEN : 0)) != EPH_OK ||
	    (r = buf_put_u32(&b, g->max_logins)) != EPH_OK)
		goto out;
	if (b.len > GRANT_MAX_SIZE) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if ((r = buf_put(out, b.d, b.len)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&b);
	return r;
}

/* A decoded text field; bad text is a malformed grant. */
static int
get_field(struct buf *b, char **out)
{
	int r;

	if ((r = buf_get_cstring(b, out, GRANT_MAX_FIELD_LEN)) != EPH_OK)
		return r;
	if (field_check(*out) != EPH_OK) {
		free(*out);
		*out = NULL;
		return EPH_ERR_FORMAT;
	}
	return EPH_OK;
}

int
grant_decode(const uint8_t *d, size_t n, struct grant *out)
{
	struct grant g;
	struct buf b;
	const uint8_t *dig;
	size_t diglen;
	uint32_t version, count, i;
	int r;

	memset(&g, 0, sizeof(g));
	if (out == NULL || (d == NULL && n != 0))
		return EPH_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (n > GRANT_MAX_SIZE)
		return EPH_ERR_TOOLARGE;
	buf_init_view(&b, d, n);
	if ((r = buf_get_u32(&b, &version)) != EPH_OK)
		goto out;
	if (version != GRANT_VERSION) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = get_field(&b, &g.id)) != EPH_OK || (r = get_field(&b, &g.task)) != EPH_OK ||
	    (r = get_field(&b, &g.requester)) != EPH_OK ||
	    (r = buf_get_cstring(&b, &g.login_as, GRANT_MAX_FIELD_LEN)) != EPH_OK)
		goto out;
	if (!grant_user_name_valid(g.login_as)) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_get_u32(&b, &count)) != EPH_OK)
		goto out;
	if (count > GRANT_MAX_APPROVERS) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if (count > 0 && (g.approvers = calloc(count, sizeof(*g.approvers))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if ((r = get_field(&b, &g.approvers[i])) != EPH_OK)
			goto out;
		g.napprovers++;
	}
	if ((r = approvers_check(&g)) != EPH_OK) {
		r = r == EPH_ERR_DUPLICATE ? r : EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_get_string(&b, &dig, &diglen, GRANT_DIGEST_LEN)) != EPH_OK)
		goto out;
	if (diglen != 0 && diglen != GRANT_DIGEST_LEN) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if (diglen == GRANT_DIGEST_LEN) {
		memcpy(g.reason_digest, dig, GRANT_DIGEST_LEN);
		g.has_reason_digest = 1;
	}
	if ((r = buf_get_u32(&b, &g.max_logins)) != EPH_OK)
		goto out;
	if (buf_remaining(&b) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	*out = g;
	memset(&g, 0, sizeof(g));
	r = EPH_OK;
out:
	grant_clear(&g);
	return r;
}

int
grant_set_reason(struct grant *g, const char *reason)
{
	unsigned int len = 0;

	if (g == NULL || reason == NULL)
		return EPH_ERR_INVAL;
	if (EVP_Digest(reason, strlen(reason), g->reason_digest, &len, EVP_sha256(), NULL) != 1 ||
	    len != GRANT_DIGEST_LEN) {
		eph_wipe(g->reason_digest, sizeof(g->reason_digest));
		g->has_reason_digest = 0;
		return EPH_ERR_CRYPTO;
	}
	g->has_reason_digest = 1;
	return EPH_OK;
}

void
grant_clear(struct grant *g)
{
	size_t i;

	if (g == NULL)
		return;
	free(g->id);
	free(g->task);
	free(g->requester);
	free(g->login_as);
	for (i = 0; i < g->napprovers; i++)
		free(g->approvers[i]);
	free(g->approvers);
	memset(g, 0, sizeof(*g));
}

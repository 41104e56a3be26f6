/* Audit event types and the hash chain: the canonical encoding of a
 * record, its SHA-256 link to the previous one, and the check that walks
 * a chain and names the first record that does not fit. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <openssl/evp.h>

#include "audit.h"
#include "buf.h"
#include "err.h"

static const struct {
	const char *name;
	const char *msgid;
	int priority;
} audit_types[AUDIT_NTYPES] = {
    [AUDIT_REQUEST] = {"request", AUDIT_MSGID_REQUEST, LOG_INFO},
    [AUDIT_APPROVE] = {"approve", AUDIT_MSGID_APPROVE, LOG_INFO},
    [AUDIT_DENY] = {"deny", AUDIT_MSGID_DENY, LOG_NOTICE},
    [AUDIT_CANCEL] = {"cancel", AUDIT_MSGID_CANCEL, LOG_INFO},
    [AUDIT_ISSUE] = {"issue", AUDIT_MSGID_ISSUE, LOG_NOTICE},
    [AUDIT_REVOKE] = {"revoke", AUDIT_MSGID_REVOKE, LOG_NOTICE},
    [AUDIT_EXPIRE] = {"expire", AUDIT_MSGID_EXPIRE, LOG_INFO},
    [AUDIT_REVIEW] = {"review", AUDIT_MSGID_REVIEW, LOG_INFO},
    [AUDIT_BREAK_GLASS] = {"break_glass", AUDIT_MSGID_BREAK_GLASS, LOG_ALERT},
    [AUDIT_LOGIN] = {"login", AUDIT_MSGID_LOGIN, LOG_INFO},
    [AUDIT_LOGIN_FAILED] = {"login_failed", AUDIT_MSGID_LOGIN_FAILED, LOG_WARNING},
    [AUDIT_LOGOUT] = {"logout", AUDIT_MSGID_LOGOUT, LOG_INFO},
};

const char *
audit_type_name(enum audit_type t)
{
	if ((unsigned)t >= AUDIT_NTYPES)
		return "unknown";
	return audit_types[t].name;
}

int
audit_type_parse(const char *name, enum audit_type *out)
{
	unsigned i;

	for (i = 0; name != NULL && i < AUDIT_NTYPES; i++) {
		if (strcmp(audit_types[i].name, name) == 0) {
			*out = (enum audit_type)i;
			return EPH_OK;
		}
	}
	return EPH_ERR_INVAL;
}

const char *
audit_type_message_id(enum audit_type t)
{
	if ((unsigned)t >= AUDIT_NTYPES)
		return NULL;
	return audit_types[t].msgid;
}

int
audit_type_priority(enum audit_type t)
{
	if ((unsigned)t >= AUDIT_NTYPES)
		return LOG_INFO;
	return audit_types[t].priority;
}

void
audit_record_clear(struct audit_record *r)
{
	if (r == NULL)
		return;
	free(r->type);
	free(r->request_id);
	free(r->actor);
	free(r->details);
	memset(r, 0, sizeof(*r));
}

static int
put_str(struct buf *b, const char *s)
{
	return buf_put_cstring(b, s != NULL ? s : "");
}

int
audit_record_hash(const struct audit_record *r, uint8_t out[AUDIT_HASH_LEN])
{
	struct buf b;
	unsigned int len = 0;
	int ret;

	buf_init(&b);
	if ((ret = buf_put(&b, r->prev, AUDIT_HASH_LEN)) != EPH_OK ||
	    (ret = put_str(&b, "ephssh-audit-v1")) != EPH_OK ||
	    (ret = buf_put_u64(&b, r->seq)) != EPH_OK ||
	    (ret = buf_put_u64(&b, (uint64_t)r->time)) != EPH_OK ||
	    (ret = put_str(&b, r->type)) != EPH_OK ||
	    (ret = put_str(&b, r->request_id)) != EPH_OK ||
	    (ret = buf_put_u64(&b, r->serial)) != EPH_OK ||
	    (ret = put_str(&b, r->actor)) != EPH_OK || (ret = put_str(&b, r->details)) != EPH_OK)
		goto out;
	ret = EPH_ERR_CRYPTO;
	if (EVP_Digest(b.d, b.len, out, &len, EVP_sha256(), NULL) != 1 || len != AUDIT_HASH_LEN)
		goto out;
	ret = EPH_OK;
out:
	buf_free(&b);
	return ret;
}

void
audit_hash_hex(const uint8_t h[AUDIT_HASH_LEN], char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < AUDIT_HASH_LEN; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 0xf];
	}
	hex[AUDIT_HASH_HEX] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
audit_hash_parse(const char *hex, uint8_t h[AUDIT_HASH_LEN])
{
	size_t i;
	int hi, lo;

	if (hex == NULL || strlen(hex) != AUDIT_HASH_HEX)
		return EPH_ERR_FORMAT;
	for (i = 0; i < AUDIT_HASH_LEN; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 || (lo = hexval(hex[2 * i + 1])) < 0)
			return EPH_ERR_FORMAT;
		h[i] = (uint8_t)(hi << 4 | lo);
	}
	return EPH_OK;
}

void
audit_chain_init(struct audit_chain *ch)
{
	memset(ch, 0, sizeof(*ch));
}

/* Every message names the record first: "record N ...". */
static int
chain_broken(struct audit_chain *ch, uint64_t seq, const char *what)
{
	ch->bad_seq = seq;
	snprintf(ch->problem, sizeof(ch->problem), "record %llu %s", (unsigned long long)seq, what);
	return EPH_ERR_TAMPERED;
}

int
audit_chain_step(struct audit_chain *ch, const struct audit_record *r)
{
	uint8_t h[AUDIT_HASH_LEN];
	int ret;

	if (ch->bad_seq != 0)
		return EPH_ERR_TAMPERED;
	/* Order matters: a gap says "deleted" more precisely than the prev
	 * link that the gap also breaks. */
	if (r->seq != ch->last_seq + 1) {
		if (r->seq > ch->last_seq + 1 && ch->last_seq + 1 == r->seq - 1)
			return chain_broken(ch, ch->last_seq + 1, "is missing (deleted)");
		if (r->seq > ch->last_seq + 1)
			return chain_broken(
			    ch, ch->last_seq + 1, "and the following are missing (deleted)");
		return chain_broken(ch, r->seq, "is out of order");
	}
	if (memcmp(r->prev, ch->last_hash, AUDIT_HASH_LEN) != 0)
		return chain_broken(ch, r->seq,
		    "does not follow the previous record (a record was inserted "
		    "or deleted before it)");
	if ((ret = audit_record_hash(r, h)) != EPH_OK)
		return ret;
	if (memcmp(h, r->hash, AUDIT_HASH_LEN) != 0)
		return chain_broken(ch, r->seq, "does not match its hash (edited, or inserted)");
	ch->count++;
	ch->last_seq = r->seq;
	memcpy(ch->last_hash, r->hash, AUDIT_HASH_LEN);
	return EPH_OK;
}

int
audit_chain_end(struct audit_chain *ch, uint64_t head_seq, const uint8_t *head_hash)
{
	if (ch->bad_seq != 0)
		return EPH_ERR_TAMPERED;
	if (head_seq > ch->last_seq)
		return chain_broken(
		    ch, ch->last_seq + 1, "and the following are missing (the log was truncated)");
	if (head_seq < ch->last_seq)
		return chain_broken(
		    ch, head_seq + 1, "and the following were not written by the store (appended)");
	if (head_seq != 0 && head_seq == ch->last_seq && head_hash != NULL &&
	    memcmp(head_hash, ch->last_hash, AUDIT_HASH_LEN) != 0)
		return chain_broken(
		    ch, head_seq, "is not the last record the store wrote (rewritten)");
	return EPH_OK;
}

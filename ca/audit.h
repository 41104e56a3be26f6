/* The CA's audit events: their types, stable journald MESSAGE_IDs, the
 * canonical record encoding and the hash chain over it. Backend-neutral:
 * the SQLite store (store.c) and any later backend share this file, so a
 * chain written by one verifies with the same code as another. */
#ifndef SSHCA_AUDIT_H
#define SSHCA_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_LEN 32 /* SHA-256 */
#define AUDIT_HASH_HEX (2 * AUDIT_HASH_LEN)

/* Every kind of audit record. The names (audit_type_name) are what the
 * table stores and what the hash covers: never rename one. */
enum audit_type {
	AUDIT_REQUEST = 0, /* request received, with the policy verdict */
	AUDIT_APPROVE, /* one approval counted */
	AUDIT_DENY, /* denied by an approver (final) */
	AUDIT_CANCEL, /* cancelled by the requester while pending */
	AUDIT_ISSUE, /* certificate issued: serial, principals, validity */
	AUDIT_REVOKE, /* issued grant revoked */
	AUDIT_EXPIRE, /* pending request passed its deadline */
	AUDIT_REVIEW, /* break-glass review closed */
	AUDIT_BREAK_GLASS, /* break-glass request received (issued at once) */
	AUDIT_LOGIN, /* POST /v1/login accepted: a session opened */
	AUDIT_LOGIN_FAILED, /* POST /v1/login refused by PAM (or NSS) */
	AUDIT_LOGOUT, /* POST /v1/logout: a session ended early */
	AUDIT_NTYPES
};

/*
 * Stable journald MESSAGE_IDs, one per event type (journalctl
 * MESSAGE_ID=...). Random 128-bit values chosen once; never change
 * one, only add.
 */
#define AUDIT_MSGID_REQUEST "7884e6fff5c8480ca4b40d6c9aa165df"
#define AUDIT_MSGID_APPROVE "2bda300227515b5340670ba13da01972"
#define AUDIT_MSGID_DENY "abd2a65b580ca9df2865a48c3c569d82"
#define AUDIT_MSGID_CANCEL "c2bfe3e1f3d1f05e3e4c891e6b731efe"
#define AUDIT_MSGID_ISSUE "921272c52c3236c9247b5703e386027f"
#define AUDIT_MSGID_REVOKE "dc7b091ae4039fa22b62775fca697885"
#define AUDIT_MSGID_EXPIRE "14d2daf891a4ad709e234e2c591efad2"
#define AUDIT_MSGID_REVIEW "6f466d148e376c5c6f0ffb8fe93f068f"
#define AUDIT_MSGID_BREAK_GLASS "627025b82d55a4bb16ef9e0291ca227d"
#define AUDIT_MSGID_LOGIN "d837e7c3a74ab1bcefae7ab4a90d89b7"
#define AUDIT_MSGID_LOGIN_FAILED "799b66f7a6cc3b862ffefbfa7b612216"
#define AUDIT_MSGID_LOGOUT "8d04df655611c360a82b38f373bf4b19"

/* "request", "approve", ... ("unknown" when out of range). */
const char *audit_type_name(enum audit_type t);
/* The inverse; EPH_ERR_INVAL for an unknown name. */
int audit_type_parse(const char *name, enum audit_type *out);
const char *audit_type_message_id(enum audit_type t);
/* Default syslog priority of a type: LOG_ALERT for break-glass,
 * LOG_NOTICE for issue/revoke/deny, LOG_WARNING for a failed login,
 * LOG_INFO otherwise. */
int audit_type_priority(enum audit_type t);

/* One audit record as stored. Strings are never NULL once read. */
struct audit_record {
	uint64_t seq; /* 1, 2, 3, ... without gaps */
	int64_t time; /* seconds since the epoch (the store's clock) */
	char *type; /* audit_type_name() text, kept as stored */
	char *request_id; /* "" when the event concerns no request */
	uint64_t serial; /* 0 if none */
	char *actor; /* who caused it: a user name, or "sshca" */
	char *details; /* a JSON object, compact, sorted keys */
	uint8_t prev[AUDIT_HASH_LEN]; /* hash of record seq-1 (zeros for 1) */
	uint8_t hash[AUDIT_HASH_LEN];
};

void audit_record_clear(struct audit_record *r);

/*
 * hash = SHA-256(prev || encoding), where the encoding is the SSH wire
 * form of: string "ephssh-audit-v1", uint64 seq, uint64 time, string
 * type, string request_id, uint64 serial, string actor, string details.
 * Length prefixes make the encoding unambiguous: no two different records
 * encode alike. Fills r->hash from r->prev and the fields.
 */
int audit_record_hash(const struct audit_record *r, uint8_t out[AUDIT_HASH_LEN]);

/* Lower-case hex of a hash into hex (AUDIT_HASH_HEX + 1 bytes), and back
 * (EPH_ERR_FORMAT unless exactly 64 hex digits). */
void audit_hash_hex(const uint8_t h[AUDIT_HASH_LEN], char *hex);
int audit_hash_parse(const char *hex, uint8_t h[AUDIT_HASH_LEN]);

/*
 * Incremental chain check, fed the records in seq order (any backend).
 * audit_chain_step returns EPH_OK or EPH_ERR_TAMPERED with ch->bad_seq
 * and ch->problem naming the first broken record: a gap in seq (a row
 * deleted), a prev that is not the previous record's hash (a row
 * inserted or deleted), or a hash that does not match the fields (a row
 * edited). audit_chain_end checks the last record against the head the
 * store kept (head_seq 0: none), catching a truncated tail.
 */
struct audit_chain {
	uint64_t count; /* records checked so far */
	uint64_t last_seq;
	uint8_t last_hash[AUDIT_HASH_LEN];
	uint64_t bad_seq; /* first broken record, 0 if none */
	char problem[160];
};

void audit_chain_init(struct audit_chain *ch);
int audit_chain_step(struct audit_chain *ch, const struct audit_record *r);
int audit_chain_end(struct audit_chain *ch, uint64_t head_seq, const uint8_t *head_hash);

#endif

/* OpenSSH Key Revocation Lists (PROTOCOL.krl): build, serialise with the
 * smallest encoding, parse, and query. */
#ifndef EPH_KRL_H
#define EPH_KRL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cert.h"
#include "key.h"

#define KRL_MAX_SIZE (BUF_MAX_SIZE) /* whole file */
/* Revoked serial ranges + key ids + key hashes held by one KRL. */
#define KRL_MAX_ENTRIES 1000000
/* Distinct CA keys (certificate sections) in one KRL. */
#define KRL_MAX_CAS 1024
/* Widest serial bitmap: OpenSSH refuses an mpint over 16384 bits. */
#define KRL_BITMAP_MAX_BITS 16384

/* Section types (PROTOCOL.krl). */
#define KRL_SECTION_CERTIFICATES 1
#define KRL_SECTION_EXPLICIT_KEY 2
#define KRL_SECTION_FINGERPRINT_SHA1 3
#define KRL_SECTION_SIGNATURE 4
#define KRL_SECTION_FINGERPRINT_SHA256 5
#define KRL_SECTION_EXTENSION 255
/* Subsections of KRL_SECTION_CERTIFICATES. */
#define KRL_SECTION_CERT_SERIAL_LIST 0x20
#define KRL_SECTION_CERT_SERIAL_RANGE 0x21
#define KRL_SECTION_CERT_SERIAL_BITMAP 0x22
#define KRL_SECTION_CERT_KEY_ID 0x23
#define KRL_SECTION_CERT_EXTENSION 0x39

struct krl;

/* An empty KRL dated now (krl_set_generated_date to inject the time). */
int krl_new(struct krl **out);
void krl_free(struct krl *k);

void krl_set_version(struct krl *k, uint64_t version);
void krl_set_generated_date(struct krl *k, uint64_t when);
int krl_set_comment(struct krl *k, const char *comment);
uint64_t krl_version(const struct krl *k);
uint64_t krl_generated_date(const struct krl *k);
const char *krl_comment(const struct krl *k);

/* Revoke certificates by serial / inclusive serial range / key id, for
 * the certificates of one CA (ca NULL: any CA). Serial 0 is refused;
 * EPH_ERR_TOOLARGE past KRL_MAX_ENTRIES or KRL_MAX_CAS. */
int krl_add_serial(struct krl *k, const struct key *ca, uint64_t serial);
int krl_add_serial_range(struct krl *k, const struct key *ca, uint64_t lo, uint64_t hi);
int krl_add_key_id(struct krl *k, const struct key *ca, const char *key_id);
/* Revoke a plain key (and every certificate of it, and everything it
 * signed as a CA) by the SHA-256 hash of its public blob. */
int krl_add_key(struct krl *k, const struct key *key);

/* Append the binary KRL; serial sections use the smallest of list,
 * range and bitmap encodings, as ssh-keygen does (same bytes), except
 * that bitmaps stop at KRL_BITMAP_MAX_BITS: ssh-keygen writes wider ones
 * that OpenSSH then refuses to read. */
int krl_serialize(const struct krl *k, struct buf *out);
/*
 * Parse a binary KRL. Whatever OpenSSH 9.2's sshd refuses is an error:
 * unknown or malformed sections, trailing data, a CA key that does not
 * parse (EPH_ERR_KEYTYPE for an unknown type), and extension sections
 * and subsections, critical or not (EPH_ERR_UNKNOWN_OPTION). Stricter
 * than sshd, so are unsorted or duplicate serial lists and hashes, empty
 * sections, non-minimal bitmaps, signature sections, certificates as CA
 * keys, and more than KRL_MAX_ENTRIES entries or KRL_MAX_CAS CA keys.
 * A well-formed DSA or security key CA is kept but matches nothing.
 * Explicit key sections are kept as the SHA-256 of each key (and written
 * back so).
 */
int krl_parse(const uint8_t *d, size_t n, struct krl **out);
/* Read a KRL file (refused when writable by group/other). */
int krl_load(const char *path, struct krl **out);

/* The highest serial the KRL revokes, under any CA (0 when none): a CA
 * that lost its state starts its serials above it. */
uint64_t krl_max_serial(const struct krl *k);

/* An inclusive range of revoked serials. */
struct krl_serial_range {
	uint64_t lo, hi;
};

/* Every serial the KRL revokes, under any CA, as sorted, merged ranges
 * (*out malloc'd, NULL when *n is 0). */
int krl_serial_ranges(const struct krl *k, struct krl_serial_range **out, size_t *n);

/* EPH_ERR_REVOKED when the certificate (by serial or key id, for its CA
 * or any CA), its key, or its CA key is revoked; EPH_OK when not. */
int krl_check_cert(const struct krl *k, const struct cert *c);
/* Same for a plain key. */
int krl_check_key(const struct krl *k, const struct key *key);

#endif

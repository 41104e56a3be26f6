/* Bounds-checked SSH wire buffer (RFC 4251 types): every read checks the
 * length against what remains and against a caller's cap. */
#ifndef EPH_BUF_H
#define EPH_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

/* Hard cap on the size of any buffer. */
#define BUF_MAX_SIZE (16u * 1024u * 1024u)

/*
 * A growable byte buffer with a read offset. Writers append at len;
 * readers consume from off. A read-only view (buf_init_view) points at
 * memory it does not own. Owned memory is wiped when freed or grown, so
 * a buf may hold secrets.
 */
struct buf {
	uint8_t *d;
	size_t len; /* bytes written */
	size_t off; /* bytes consumed by readers */
	size_t cap; /* bytes allocated; 0 for a view */
	int view; /* 1 when d is not ours */
};

void buf_init(struct buf *b);
void buf_init_view(struct buf *b, const uint8_t *d, size_t len);
/* Wipe and release; b is left empty and reusable. */
void buf_free(struct buf *b);
/* Drop contents (wiped), keep allocation. */
void buf_reset(struct buf *b);

size_t buf_remaining(const struct buf *b);
const uint8_t *buf_ptr(const struct buf *b); /* at the read offset */
int buf_reserve(struct buf *b, size_t n);

int buf_put(struct buf *b, const void *d, size_t n);
/* Append formatted text (no NUL), at most 511 bytes of it: EPH_ERR_TOOLARGE
 * when the text would be longer (nothing appended). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u32(struct buf *b, uint32_t v);
int buf_put_u64(struct buf *b, uint64_t v);
int buf_put_string(struct buf *b, const void *d, size_t n);
int buf_put_cstring(struct buf *b, const char *s);
/* The unread contents of src as one string. */
int buf_put_stringb(struct buf *b, const struct buf *src);
/* mpint (RFC 4251) of a non-negative BIGNUM. */
int buf_put_bignum2(struct buf *b, const BIGNUM *bn);
/* mpint of a non-negative big-endian magnitude (leading zeros dropped). */
int buf_put_bignum2_bytes(struct buf *b, const uint8_t *d, size_t n);

int buf_get_u8(struct buf *b, uint8_t *v);
int buf_get_u32(struct buf *b, uint32_t *v);
int buf_get_u64(struct buf *b, uint64_t *v);
int buf_skip(struct buf *b, size_t n);
/* Copy n raw bytes out. */
int buf_get(struct buf *b, void *out, size_t n);
/* A string, as a pointer into b (no copy; valid while b is). Fails with
 * EPH_ERR_TOOLARGE when its length exceeds max. */
int buf_get_string(struct buf *b, const uint8_t **p, size_t *n, size_t max);
/* A string as a read-only view (sub-buffer) into b. */
int buf_get_stringb(struct buf *b, struct buf *sub, size_t max);
/* A string as a new NUL-terminated heap copy; refuses embedded NULs. */
int buf_get_cstring(struct buf *b, char **out, size_t max);
/* A string that must equal s exactly. */
int buf_get_expect_cstring(struct buf *b, const char *s);
/* A non-negative, minimally encoded mpint of at most maxbytes bytes of
 * magnitude, as a pointer to the magnitude (leading zero stripped). */
int buf_get_bignum2_bytes(struct buf *b, const uint8_t **p, size_t *n, size_t maxbytes);
int buf_get_bignum2(struct buf *b, BIGNUM **out, size_t maxbytes);

#endif

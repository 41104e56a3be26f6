/* Bounds-checked SSH wire buffer. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "buf.h"
#include "err.h"
#include "util.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_init_view(struct buf *b, const uint8_t *d, size_t len)
{
	memset(b, 0, sizeof(*b));
	/* A view never writes through d; the cast only fits the struct. */
	b->d = (uint8_t *)d;
	b->len = len;
	b->view = 1;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	if (!b->view && b->d != NULL) {
		eph_wipe(b->d, b->cap);
		free(b->d);
	}
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	if (!b->view && b->d != NULL)
		eph_wipe(b->d, b->len);
	b->len = 0;
	b->off = 0;
}

size_t
buf_remaining(const struct buf *b)
{
	return b->len - b->off;
}

const uint8_t *
buf_ptr(const struct buf *b)
{
	return b->d == NULL ? (const uint8_t *)"" : b->d + b->off;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, ncap;
	uint8_t *nd;

	if (b->view)
		return EPH_ERR_INVAL;
	if (n > BUF_MAX_SIZE || b->len > BUF_MAX_SIZE - n)
		return EPH_ERR_TOOLARGE;
	want = b->len + n;
	if (want <= b->cap)
		return EPH_OK;
	ncap = b->cap < 256 ? 256 : b->cap;
	while (ncap < want)
		ncap = ncap > BUF_MAX_SIZE / 2 ? BUF_MAX_SIZE : ncap * 2;
	/* Not realloc: the old block may hold secrets and must be wiped. */
	if ((nd = malloc(ncap)) == NULL)
		return EPH_ERR_NOMEM;
	if (b->d != NULL) {
		memcpy(nd, b->d, b->len);
		eph_wipe(b->d, b->cap);
		free(b->d);
	}
	b->d = nd;
	b->cap = ncap;
	return EPH_OK;
}

int
buf_put(struct buf *b, const void *d, size_t n)
{
	int r;

	if (n == 0)
		return EPH_OK;
	if ((r = buf_reserve(b, n)) != EPH_OK)
		return r;
	memcpy(b->d + b->len, d, n);
	b->len += n;
	return EPH_OK;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return EPH_ERR_TOOLARGE;
	return buf_put(b, line, (size_t)n);
}

int
buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	return buf_put(b, x, sizeof(x));
}

int
buf_put_u64(struct buf *b, uint64_t v)
{
	int r;

	if ((r = buf_put_u32(b, (uint32_t)(v >> 32))) != EPH_OK)
		return r;
	return buf_put_u32(b, (uint32_t)v);
}

int
buf_put_string(struct buf *b, const void *d, size_t n)
{
	int r;

	if (n > BUF_MAX_SIZE)
		return EPH_ERR_TOOLARGE;
	if ((r = buf_reserve(b, 4 + n)) != EPH_OK)
		return r;
	if ((r = buf_put_u32(b, (uint32_t)n)) != EPH_OK)
		return r;
	return buf_put(b, d, n);
}

int
buf_put_cstring(struct buf *b, const char *s)
{
	if (s == NULL)
		return EPH_ERR_INVAL;
	return buf_put_string(b, s, strlen(s));
}

int
buf_put_stringb(struct buf *b, const struct buf *src)
{
	return buf_put_string(b, buf_ptr(src), buf_remaining(src));
}

int
buf_put_bignum2_bytes(struct buf *b, const uint8_t *d, size_t n)
{
	int r, pad;

	while (n > 0 && *d == 0) {
		d++;
		n--;
	}
	/* A set top bit would read as negative: prepend a zero byte. */
	pad = n > 0 && (d[0] & 0x80) != 0;
	if (n > BUF_MAX_SIZE - 1)
		return EPH_ERR_TOOLARGE;
	if ((r = buf_put_u32(b, (uint32_t)(n + (size_t)pad))) != EPH_OK)
		return r;
	if (pad && (r = buf_put_u8(b, 0)) != EPH_OK)
		return r;
	return buf_put(b, d, n);
}

int
buf_put_bignum2(struct buf *b, const BIGNUM *bn)
{
	uint8_t *tmp;
	int n, r;

	if (bn == NULL || BN_is_negative(bn))
		return EPH_ERR_INVAL;
	n = BN_num_bytes(bn);
	if (n < 0 || (size_t)n > BUF_MAX_SIZE)
		return EPH_ERR_TOOLARGE;
	if ((tmp = malloc((size_t)n + 1)) == NULL)
		return EPH_ERR_NOMEM;
	if (BN_bn2bin(bn, tmp) != n) {
		r = EPH_ERR_CRYPTO;
		goto out;
	}
	r = buf_put_bignum2_bytes(b, tmp, (size_t)n);
out:
	/* The number may be a private exponent. */
	eph_wipe(tmp, (size_t)n + 1);
	free(tmp);
	return r;
}

static int
need(const struct buf *b, size_t n)
{
	return buf_remaining(b) < n ? EPH_ERR_TRUNCATED : EPH_OK;
}

int
buf_get(struct buf *b, void *out, size_t n)
{
	int r;

	if ((r = need(b, n)) != EPH_OK)
		return r;
	if (n > 0 && out != NULL)
		memcpy(out, b->d + b->off, n);
	b->off += n;
	return EPH_OK;
}

int
buf_skip(struct buf *b, size_t n)
{
	return buf_get(b, NULL, n);
}

int
buf_get_u8(struct buf *b, uint8_t *v)
{
	return buf_get(b, v, 1);
}

int
buf_get_u32(struct buf *b, uint32_t *v)
{
	const uint8_t *p;
	int r;

	if ((r = need(b, 4)) != EPH_OK)
		return r;
	p = b->d + b->off;
	if (v != NULL)
		*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
		    (uint32_t)p[3];
	b->off += 4;
	return EPH_OK;
}

int
buf_get_u64(struct buf *b, uint64_t *v)
{
	uint32_t hi, lo;
	int r;

	if ((r = need(b, 8)) != EPH_OK)
		return r;
	buf_get_u32(b, &hi);
	buf_get_u32(b, &lo);
	if (v != NULL)
		*v = (uint64_t)hi << 32 | lo;
	return EPH_OK;
}

int
buf_get_string(struct buf *b, const uint8_t **p, size_t *n, size_t max)
{
	uint32_t len;
	size_t save = b->off;
	int r;

	if ((r = buf_get_u32(b, &len)) != EPH_OK)
		return r;
	if (len > max) {
		b->off = save;
		return EPH_ERR_TOOLARGE;
	}
	if ((r = need(b, len)) != EPH_OK) {
		b->off = save;
		return r;
	}
	if (p != NULL)
		*p = b->d + b->off;
	if (n != NULL)
		*n = len;
	b->off += len;
	return EPH_OK;
}

int
buf_get_stringb(struct buf *b, struct buf *sub, size_t max)
{
	const uint8_t *p;
	size_t n;
	int r;

	if ((r = buf_get_string(b, &p, &n, max)) != EPH_OK)
		return r;
	buf_init_view(sub, p, n);
	return EPH_OK;
}

int
buf_get_cstring(struct buf *b, char **out, size_t max)
{
	const uint8_t *p;
	size_t n, save = b->off;
	char *s;
	int r;

	*out = NULL;
	if ((r = buf_get_string(b, &p, &n, max)) != EPH_OK)
		return r;
	if (memchr(p, '\0', n) != NULL) {
		b->off = save;
		return EPH_ERR_FORMAT;
	}
	if ((s = malloc(n + 1)) == NULL) {
		b->off = save;
		return EPH_ERR_NOMEM;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return EPH_OK;
}

int
buf_get_expect_cstring(struct buf *b, const char *s)
{
	const uint8_t *p;
	size_t n, save = b->off;
	int r;

	if ((r = buf_get_string(b, &p, &n, strlen(s))) != EPH_OK)
		return r == EPH_ERR_TOOLARGE ? EPH_ERR_FORMAT : r;
	if (n != strlen(s) || memcmp(p, s, n) != 0) {
		b->off = save;
		return EPH_ERR_FORMAT;
	}
	return EPH_OK;
}

int
buf_get_bignum2_bytes(struct buf *b, const uint8_t **p, size_t *n, size_t maxbytes)
{
	const uint8_t *d;
	size_t len, save = b->off;
	int r;

	/* One extra byte for the sign-padding zero. */
	if ((r = buf_get_string(b, &d, &len, maxbytes + 1)) != EPH_OK)
		return r;
	r = EPH_ERR_FORMAT;
	if (len > 0 && (d[0] & 0x80) != 0)
		goto fail; /* negative */
	if (len > 1 && d[0] == 0 && (d[1] & 0x80) == 0)
		goto fail; /* not minimal */
	if (len == 1 && d[0] == 0)
		goto fail; /* zero is the empty string */
	if (len > 0 && d[0] == 0) {
		d++;
		len--;
	}
	if (len > maxbytes) {
		r = EPH_ERR_TOOLARGE;
		goto fail;
	}
	if (p != NULL)
		*p = d;
	if (n != NULL)
		*n = len;
	return EPH_OK;
fail:
	b->off = save;
	return r;
}

int
buf_get_bignum2(struct buf *b, BIGNUM **out, size_t maxbytes)
{
	const uint8_t *d;
	size_t n, save = b->off;
	BIGNUM *bn;
	int r;

	*out = NULL;
	if ((r = buf_get_bignum2_bytes(b, &d, &n, maxbytes)) != EPH_OK)
		return r;
	if ((bn = BN_bin2bn(d, (int)n, NULL)) == NULL) {
		b->off = save;
		return EPH_ERR_NOMEM;
	}
	*out = bn;
	return EPH_OK;
}

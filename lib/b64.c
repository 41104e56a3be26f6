/* Base64 on OpenSSL's codec, with the strictness a key parser wants. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64.h"
#include "err.h"

char *
b64_encode(const uint8_t *d, size_t n)
{
	size_t outlen;
	char *out;

	if (n > BUF_MAX_SIZE)
		return NULL;
	outlen = 4 * ((n + 2) / 3) + 1;
	if ((out = malloc(outlen)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, d, (int)n);
	return out;
}

/* The 6-bit value of an alphabet character, -1 for any other byte. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *s, size_t n, struct buf *out)
{
	size_t i, pad = 0, dlen;
	int r, got;

	if (n == 0 || n % 4 != 0)
		return EPH_ERR_FORMAT;
	if (n > BUF_MAX_SIZE)
		return EPH_ERR_TOOLARGE;
	/* EVP_DecodeBlock skips whitespace and is lax about '='; check first. */
	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i < n - 2)
				return EPH_ERR_FORMAT;
			pad++;
		} else if (pad > 0 || b64_value(s[i]) < 0) {
			return EPH_ERR_FORMAT;
		}
	}
	/*
	 * The bits past the last whole byte must be zero, as OpenSSH's
	 * b64_pton demands: otherwise one blob has several spellings and a
	 * comparison of key or certificate lines could be sidestepped.
	 */
	if ((pad == 1 && (b64_value(s[n - 2]) & 0x03) != 0) ||
	    (pad == 2 && (b64_value(s[n - 3]) & 0x0f) != 0))
		return EPH_ERR_FORMAT;
	dlen = n / 4 * 3;
	if ((r = buf_reserve(out, dlen)) != EPH_OK)
		return r;
	got = EVP_DecodeBlock(out->d + out->len, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got != dlen)
		return EPH_ERR_FORMAT;
	out->len += dlen - pad;
	return EPH_OK;
}

/* Base64 as OpenSSH writes it in public key and certificate lines. */
#ifndef EPH_B64_H
#define EPH_B64_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* New NUL-terminated base64 text of d, or NULL when out of memory. */
char *b64_encode(const uint8_t *d, size_t n);
/* Strict decode of n characters (no whitespace, padding required) appended
 * to out. EPH_ERR_FORMAT on any non-alphabet byte, bad padding or
 * non-zero bits before the padding (non-canonical text). */
int b64_decode(const char *s, size_t n, struct buf *out);

#endif

/* Small shared helpers: secret wiping and strict number / duration parsing. */
#ifndef EPH_UTIL_H
#define EPH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wipe secret material; the one primitive every owner of a secret uses. */
void eph_wipe(void *p, size_t n);

/* Free a NUL-terminated secret string after wiping it. */
void eph_free_secret_str(char *s);

/* Strict unsigned decimal: no sign, no spaces, no trailing junk, no
 * overflow. Returns EPH_OK, EPH_ERR_FORMAT or EPH_ERR_RANGE. */
int parse_u64(const char *s, uint64_t *out);

/* Duration like ssh-keygen's: "90", "90s", "5m", "2h", "1d", "1w" or a
 * sequence "1h30m". Result in seconds. Rejects empty, junk, overflow. */
int parse_duration(const char *s, uint64_t *secs);

/* Format seconds as a compact duration ("1h30m", "45s"); buf >= 32. */
void format_duration(uint64_t secs, char *buf, size_t len);

#endif

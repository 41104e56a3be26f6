/* The grant@ephssh certificate extension: who asked for what, who
 * approved it, and how often it may be used. */
#ifndef EPH_GRANT_H
#define EPH_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define GRANT_EXTENSION "grant@ephssh"
#define GRANT_VERSION 1
#define GRANT_MAX_APPROVERS 32
#define GRANT_MAX_FIELD_LEN 256
#define GRANT_DIGEST_LEN 32 /* SHA-256 */
/* Largest encoding: it must fit one double-wrapped extension value
 * (CERT_MAX_OPTION_DATA_LEN less the 4-byte string length). */
#define GRANT_MAX_SIZE 4092

struct grant {
	char *id;
	char *task;
	char *requester;
	char *login_as; /* the one local account the grant admits */
	char **approvers;
	size_t napprovers;
	uint8_t reason_digest[GRANT_DIGEST_LEN]; /* SHA-256 of ticket/reason */
	int has_reason_digest;
	uint32_t max_logins; /* 0 = unlimited */
};

/* Is s a local account name a grant may carry in login_as: letters,
 * digits, '.', '_', '-', '@' (not first), '$' (last only), not starting
 * with '-', at most GRANT_MAX_FIELD_LEN bytes? */
int grant_user_name_valid(const char *s);

/* Value bytes to pass to cert_add_extension(c, GRANT_EXTENSION, ...). */
int grant_encode(const struct grant *g, struct buf *out);
/* Parse an extension value (as unwrapped by cert_opt_value); refuses
 * unknown versions, trailing data, oversize fields. */
int grant_decode(const uint8_t *d, size_t n, struct grant *out);
/* SHA-256 of a reason text into g->reason_digest. */
int grant_set_reason(struct grant *g, const char *reason);
void grant_clear(struct grant *g);

#endif

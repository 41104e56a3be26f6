/* ssh-agent protocol client (draft-miller-ssh-agent): add an identity
 * (key, optionally with its certificate) with a lifetime, list, remove,
 * sign. */
#ifndef EPH_AGENT_H
#define EPH_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cert.h"
#include "key.h"

#define AGENT_MAX_MSG (256u * 1024u) /* either direction, body only */
#define AGENT_MAX_IDENTITIES 1024
#define AGENT_MAX_BLOB (64u * 1024u) /* one identity's key or cert blob */
#define AGENT_MAX_COMMENT 4096u
#define AGENT_TIMEOUT_MS 30000 /* default per request */

struct agent;

struct agent_identity {
	uint8_t *blob; /* public key or certificate blob */
	size_t len;
	char *comment;
};

/*
 * Connect to sock (NULL: $SSH_AUTH_SOCK). EPH_ERR_NOTFOUND if unset or
 * empty; EPH_ERR_IO (errno kept) when the socket cannot be reached.
 */
int agent_connect(const char *sock, struct agent **out);
void agent_close(struct agent *a);
/*
 * Bound on one whole request and its reply (AGENT_TIMEOUT_MS by default),
 * so a wedged agent cannot hang the caller: EPH_ERR_IO with errno
 * ETIMEDOUT. After any transport or framing error the connection is
 * dropped and later calls fail with EPH_ERR_IO (ENOTCONN).
 */
int agent_set_timeout(struct agent *a, int timeout_ms);

/*
 * Add key (a private key) alone or with its certificate (cert may be
 * NULL). lifetime in seconds (0: no limit); confirm asks ssh-agent to
 * confirm each use. EPH_ERR_AGENT when the agent refuses.
 */
int agent_add_identity(struct agent *a, const struct key *key, const struct cert *cert,
    const char *comment, uint32_t lifetime, int confirm);
int agent_list(struct agent *a, struct agent_identity **ids, size_t *n);
void agent_identities_free(struct agent_identity *ids, size_t n);
/* Remove the identity with this public key or certificate blob. */
int agent_remove(struct agent *a, const uint8_t *blob, size_t len);
/*
 * Sign data with the identity blob; the SSH signature blob is appended to
 * sig. flags: AGENT_RSA_SHA2_256 / _512 for RSA keys (0 means _512: SHA-1
 * is never asked for); other keys take 0. The algorithm in the agent's
 * answer must be the one asked for, else EPH_ERR_SIGNATURE.
 */
int agent_sign(struct agent *a, const uint8_t *blob, size_t len, const uint8_t *data, size_t n,
    uint32_t flags, struct buf *sig);

#define AGENT_RSA_SHA2_256 0x02
#define AGENT_RSA_SHA2_512 0x04

#endif

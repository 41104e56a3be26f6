/*
 * Where a granted key goes on the requester's machine: into the running
 * ssh-agent with the certificate's lifetime, or written with its
 * certificate into a directory (--write DIR), or kept 0600 under the
 * runtime directory while its request waits (--no-wait, Ctrl-C). No CA
 * calls here; every time is passed in, so expiry is tested without
 * sleeping.
 */
#ifndef EPHSSH_KEYS_H
#define EPHSSH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "buf.h"
#include "cert.h"
#include "key.h"

/* How far ahead of this clock a certificate's start may be before we say
 * the clocks disagree (the CA already backdates valid_after by its own
 * clock_skew). */
#define KEYS_CLOCK_SLACK 30

/* What to tell someone without an agent. */
#define KEYS_AGENT_HINT "start one with 'eval $(ssh-agent)', or use --write DIR"

/*
 * The agent at $SSH_AUTH_SOCK. EPH_ERR_NOTFOUND when the variable is
 * unset or empty, EPH_ERR_IO when the socket cannot be reached; why says
 * which, with KEYS_AGENT_HINT.
 */
int keys_agent_open(struct agent **out, char *why, size_t len);

/*
 * Is c usable with k at now? EPH_ERR_INVAL when c certifies another key;
 * EPH_ERR_EXPIRED when valid_before <= now (why: by how much, the least
 * clock skew that explains it). *warn (may be NULL) gets a sentence when
 * valid_after is more than KEYS_CLOCK_SLACK ahead of now (still EPH_OK:
 * the hosts' clocks decide), else "".
 */
int keys_check_cert(const struct cert *c, const struct key *k, int64_t now, char *why, size_t len,
    char *warn, size_t warn_len);

/* Seconds the agent should keep the identity: valid_before - now, capped
 * to what the protocol carries; 0 when already expired. */
uint32_t keys_lifetime(const struct cert *c, int64_t now);

/* Add k with its certificate, lifetime keys_lifetime (keys_check_cert
 * first). EPH_ERR_AGENT (why: refused, maybe locked) or EPH_ERR_IO. */
int keys_agent_add(struct agent *a, const struct key *k, const struct cert *c, const char *comment,
    int64_t now, char *why, size_t len);

/* Remove the certificate and the plain key of its subject, each when the
 * agent has it. *removed: how many identities went. */
int keys_agent_remove(struct agent *a, const struct cert *c, int *removed);

/* Does the agent's list (from agent_list) hold the certificate blob? */
int keys_listed(const struct agent_identity *ids, size_t n, const uint8_t *blob, size_t len);

/*
 * DIR for --write: made 0700 when missing (its parent must exist);
 * refused (EPH_ERR_PERM, why) when it is not a directory, not ours, or
 * writable by group or others.
 */
int keys_write_dir_check(const char *dir, char *why, size_t len);

/*
 * DIR/NAME (the key, OpenSSH format) and DIR/NAME-cert.pub, both 0600,
 * neither replacing a file. *key_path and *cert_path are malloc'd. On
 * failure nothing is left behind.
 */
int keys_write(const char *dir, const char *name, const struct key *k, const struct cert *c,
    char **key_path, char **cert_path, char *why, size_t len);

/*
 * The key of a request waiting to be fetched, 0600 under the runtime
 * directory, kept until deadline (seconds): "pending-ID.DEADLINE.key".
 * keys_pending_load: EPH_ERR_NOTFOUND when there is none (or it is past
 * its deadline at now: then it is deleted).
 */
int keys_pending_save(
    const char *id, const struct key *k, int64_t deadline, char **path, char *why, size_t len);
int keys_pending_load(const char *id, int64_t now, struct key **k, char *why, size_t len);
/* Delete the saved key of id; EPH_OK also when there was none. */
int keys_pending_remove(const char *id);
/* Delete every saved key past its deadline; how many went (or < 0). */
int keys_pending_sweep(int64_t now);

#endif

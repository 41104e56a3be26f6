/*
 * ephssh's private files under $XDG_RUNTIME_DIR/ephssh (0700, the
 * user's own; never a world-readable place): the TLS session token per
 * CA, and keys waiting for a request approved after --no-wait.
 */
#ifndef EPHSSH_RUNTIME_H
#define EPHSSH_RUNTIME_H

#include <stdint.h>

/*
 * The directory, made 0700 when missing. Refused (EPH_ERR_NOTFOUND with
 * why) when XDG_RUNTIME_DIR is unset or not absolute; EPH_ERR_PERM when
 * it or the directory is not the user's own or is open to others.
 * *out is malloc'd.
 */
int runtime_dir(char **out, char *why, size_t len);

/* "<dir>/<name>" in the runtime directory (made as runtime_dir). */
int runtime_path(const char *name, char **out, char *why, size_t len);

/* The cached session token for the CA address ca: EPH_OK with *token
 * (malloc'd, a secret: eph_free_secret_str) and *expires; EPH_ERR_NOTFOUND
 * when none, or expired (then it is deleted). */
int token_load(const char *ca, char **token, int64_t *expires);
/* Cache token (0600, replacing any). */
int token_save(const char *ca, const char *token, int64_t expires, char *why, size_t len);
/* Forget the token of ca; EPH_OK also when there was none. */
int token_remove(const char *ca);

#endif

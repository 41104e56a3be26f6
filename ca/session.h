/*
 * TLS login sessions: a caller's password checked through the CA's own
 * PAM service (so the site's LDAP / Kerberos / OTP stack decides), an
 * opaque token minted once and handed back, and the check of that token
 * on every later request. The store keeps only SHA-256(token).
 */
#ifndef SSHCA_SESSION_H
#define SSHCA_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

#define SESSION_DEFAULT_SERVICE "sshca"
#define SESSION_DEFAULT_TTL (8u * 3600u) /* ca.conf login_ttl's default */
#define SESSION_DEFAULT_FAIL_DELAY_MS 1000u
#define SESSION_TOKEN_BYTES 32 /* from OpenSSL RAND_bytes */
#define SESSION_TOKEN_LEN (2 * SESSION_TOKEN_BYTES) /* lower-case hex */

/* A token as minted: the one owner of the secret. session_token_wipe
 * on every path once it has been sent. */
struct session_token {
	char text[SESSION_TOKEN_LEN + 1];
};

void session_token_wipe(struct session_token *t);

typedef int64_t (*session_clock_fn)(void *ctx);

struct session_opts {
	/* The PAM service; NULL: SESSION_DEFAULT_SERVICE. Only tests name
	 * another (sshca serve --pam-service). */
	const char *service;
	uint64_t ttl; /* seconds a session lives; 0: SESSION_DEFAULT_TTL */
	/* A refused login answers no sooner than this after it started, the
	 * same for a wrong password and an unknown user (PAM modules' own
	 * delays are replaced by it); 0: SESSION_DEFAULT_FAIL_DELAY_MS. */
	unsigned fail_delay_ms;
	/* The store and its lock: lock returns the store held for the
	 * caller until unlock. Taken only around store calls, never while
	 * PAM runs. */
	struct store *(*lock)(void *ctx);
	void (*unlock)(void *ctx);
	void *lock_ctx;
	session_clock_fn clock; /* NULL: time(NULL) */
	void *clock_ctx;
};

struct session;

int session_new(const struct session_opts *o, struct session **out);
void session_free(struct session *s);

/*
 * Authenticate user with password through PAM (pam_authenticate, then
 * pam_acct_mgmt; PAM_RHOST is rhost when not ""), resolve the account
 * PAM settled on through NSS, and open a session for it: *tok gets the
 * token (shown to the caller once), *info what was stored. password is
 * wiped here on every path. A refusal of any kind is
 * EPH_ERR_UNAUTHENTICATED with one detail for all ("login refused"): the
 * real cause goes only to the audit log, with user and address, never
 * the password. EPH_ERR_STORE_FULL (or another store error) when the
 * session cannot be stored.
 */
int session_login(struct session *s, const char *user, char *password, const char *rhost,
    struct session_token *tok, struct store_session *info, char *detail, size_t dlen);

/*
 * The session of a presented token: EPH_OK with *info (user as NSS
 * spells it, uid), EPH_ERR_UNAUTHENTICATED for a malformed, unknown,
 * expired or revoked token or an account NSS no longer knows by that
 * uid; a store error as it came.
 */
int session_check(struct session *s, const char *token, struct store_session *info);

/* End the session of token early. EPH_ERR_UNAUTHENTICATED when there is
 * no live one. */
int session_logout(struct session *s, const char *token);

/* Drop expired sessions from the store; *n (if non-NULL) how many. */
int session_purge(struct session *s, size_t *n);

#endif

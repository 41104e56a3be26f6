/*
 * TLS login sessions: a caller authenticated through the CA's own PAM
 * service (so the site's LDAP / Kerberos / OTP stack decides) either in
 * one step with a password or through a conversation whose prompts are
 * relayed to the caller, an opaque token minted once and handed back, and
 * the check of that token on every later request. The store keeps only
 * SHA-256(token).
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
#define SESSION_DEFAULT_CONV_MAX 32u /* conversations open at once */
#define SESSION_CONV_MAX_PER_ADDRESS 4u /* of those, from one address */
#define SESSION_DEFAULT_CONV_LIFE_MS 120000u /* a conversation's whole life */
#define SESSION_DEFAULT_CONV_ANSWER_MS 60000u /* waiting for one set of answers */
#define SESSION_CONV_ID_BYTES 16 /* from OpenSSL RAND_bytes */
#define SESSION_CONV_ID_LEN (2 + 2 * SESSION_CONV_ID_BYTES) /* "c-" + lower-case hex */
#define SESSION_CONV_MAX_ITEMS 32 /* prompts, and messages, in one step (PAM_MAX_NUM_MSG) */
#define SESSION_MSG_MAX 512 /* bytes of a prompt or message kept (PAM_MAX_MSG_SIZE) */

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
	/* Conversations (session_conv_start): how many may be open at once
	 * (0: SESSION_DEFAULT_CONV_MAX), how long one lives in all and how
	 * long it waits for one set of answers (0: the defaults). Tests make
	 * them short. */
	unsigned conv_max;
	unsigned conv_life_ms;
	unsigned conv_answer_ms;
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

/* Drop expired sessions from the store, and forget conversations that
 * have ended; *n (if non-NULL) how many sessions. */
int session_purge(struct session *s, size_t *n);

/* ------------------------------------------------------- conversations */

enum session_msg_style {
	SESSION_PROMPT_ECHO_OFF = 1, /* a secret: the caller does not show it */
	SESSION_PROMPT_ECHO_ON,
	SESSION_TEXT_INFO,
	SESSION_ERROR_MSG,
};

/* A prompt or message as PAM gave it; text is at most SESSION_MSG_MAX
 * bytes, never NULL. */
struct session_msg {
	enum session_msg_style style;
	char *text;
};

/* What a conversation asks: the prompts of one PAM conversation call, in
 * order, and the messages (info, error) PAM showed since the last answer.
 * session_step_clear releases it. */
struct session_step {
	char conversation[SESSION_CONV_ID_LEN + 1]; /* "c-" + 32 hex */
	struct session_msg *prompts;
	size_t nprompts; /* 1 .. SESSION_CONV_MAX_ITEMS; 0 when none (logged in) */
	struct session_msg *messages;
	size_t nmessages; /* 0 .. SESSION_CONV_MAX_ITEMS; more are dropped */
};

void session_step_clear(struct session_step *st);

/*
 * Start a conversation for user from rhost: pam_authenticate then
 * pam_acct_mgmt run in a thread of their own whose conversation function
 * hands the prompts here and waits for session_conv_answer. EPH_OK with
 * either step->nprompts > 0 (the id and what to ask) or, when PAM asked
 * nothing, step->nprompts == 0 and *tok / *info as from session_login.
 * A refusal is EPH_ERR_UNAUTHENTICATED "login refused" (no sooner than
 * fail_delay_ms after the start; the cause in the audit log);
 * EPH_ERR_BUSY when conv_max conversations are open or the CA is
 * stopping (detail says which).
 */
int session_conv_start(struct session *s, const char *user, const char *rhost,
    struct session_step *step, struct session_token *tok, struct store_session *info, char *detail,
    size_t dlen);

/*
 * Answer the prompts of conversation id, asked of rhost: exactly as many
 * answers as prompts, in their order (each string, which may be empty,
 * is wiped here on every path). The same outcomes as session_conv_start,
 * and EPH_ERR_UNAUTHENTICATED for an id that is unknown, has ended, timed
 * out, is not waiting for answers or was started from another address;
 * EPH_ERR_INVAL for the wrong number of answers (the conversation still
 * waits for the right number).
 */
int session_conv_answer(struct session *s, const char *id, const char *rhost, char *const *answers,
    size_t n, struct session_step *step, struct session_token *tok, struct store_session *info,
    char *detail, size_t dlen);

/* Conversations open now (those that have ended are forgotten first). */
size_t session_conv_open(struct session *s);

/*
 * Stop taking conversations (session_conv_start is EPH_ERR_BUSY from
 * now on), end every open one (a waiting PAM conversation call returns
 * PAM_CONV_ERR; a caller waiting for PAM gets EPH_ERR_BUSY) and join
 * their threads. session_free does it too; the daemon calls it before it
 * stops its HTTP workers, so that none of them waits for PAM.
 */
void session_shutdown(struct session *s);

#endif

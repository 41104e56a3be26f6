/* TLS login sessions: PAM authentication through the CA's service, token
 * minting, and the token check, over the store's sessions table. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <security/pam_appl.h>

#include "audit.h"
#include "err.h"
#include "log.h"
#include "session.h"
#include "store.h"
#include "util.h"

#define TOKEN_MINT_TRIES 4 /* a collision of 256-bit tokens is a broken RAND */
#define PW_BUF_MAX (1u << 20)

struct session {
	char *service;
	uint64_t ttl;
	unsigned fail_delay_ms;
	struct store *(*lock)(void *ctx);
	void (*unlock)(void *ctx);
	void *lock_ctx;
	session_clock_fn clock;
	void *clock_ctx;
};

void
session_token_wipe(struct session_token *t)
{
	if (t != NULL)
		eph_wipe(t, sizeof(*t));
}

int
session_new(const struct session_opts *o, struct session **out)
{
	struct session *s;

	*out = NULL;
	if (o == NULL || o->lock == NULL || o->unlock == NULL)
		return EPH_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return EPH_ERR_NOMEM;
	if ((s->service = strdup(o->service != NULL ? o->service : SESSION_DEFAULT_SERVICE)) ==
	    NULL) {
		free(s);
		return EPH_ERR_NOMEM;
	}
	s->ttl = o->ttl != 0 ? o->ttl : SESSION_DEFAULT_TTL;
	s->fail_delay_ms = o->fail_delay_ms != 0 ? o->fail_delay_ms : SESSION_DEFAULT_FAIL_DELAY_MS;
	s->lock = o->lock;
	s->unlock = o->unlock;
	s->lock_ctx = o->lock_ctx;
	s->clock = o->clock;
	s->clock_ctx = o->clock_ctx;
	*out = s;
	return EPH_OK;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	free(s->service);
	free(s);
}

static int64_t
session_now(const struct session *s)
{
	return s->clock != NULL ? s->clock(s->clock_ctx) : (int64_t)time(NULL);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------------- PAM */

/* What the conversation answers with: the one secret it holds. */
struct conv_data {
	const char *password;
	unsigned prompts;
};

/*
 * Answer every password prompt (PAM_PROMPT_ECHO_OFF: a stack of several
 * modules may each ask, as with sshd's password authentication) with the
 * password; accept informational and error text silently; refuse
 * anything that wants other input (PAM_PROMPT_ECHO_ON, binary prompts):
 * an OTP or a changed password cannot come through POST /v1/login.
 */
static int
conv_password(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
	struct conv_data *cd = appdata;
	struct pam_response *r;
	int i;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG || cd == NULL)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (cd->password == NULL || ++cd->prompts > 8)
				goto fail;
			if ((r[i].resp = strdup(cd->password)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO: break;
		default: goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++) {
		if (r[i].resp != NULL)
			eph_free_secret_str(r[i].resp);
	}
	free(r);
	return PAM_CONV_ERR;
}

/* Modules' own delays (pam_unix's 2 s) are replaced by session_login's
 * one delay, the same for every cause of failure. */
static void
fail_delay_none(int retval, unsigned usec_delay, void *appdata)
{
	(void)retval;
	(void)usec_delay;
	(void)appdata;
}

/*
 * pam_authenticate + pam_acct_mgmt for user. EPH_OK with the account
 * name PAM settled on in pam_user; else EPH_ERR_UNAUTHENTICATED with
 * the cause (for the log) in why.
 */
static int
pam_check(const struct session *s, const char *user, const char *password, const char *rhost,
    char *pam_user, size_t plen, char *why, size_t wlen)
{
	struct conv_data cd = {password, 0};
	struct pam_conv conv = {conv_password, &cd};
	pam_handle_t *ph = NULL;
	const void *item = NULL;
	const char *step = "pam_start";
	int rc, r = EPH_ERR_UNAUTHENTICATED;

	pam_user[0] = '\0';
	if ((rc = pam_start(s->service, user, &conv, &ph)) != PAM_SUCCESS) {
		snprintf(why, wlen, "pam_start(%s) failed: %d", s->service, rc);
		ph = NULL;
		goto out;
	}
	step = "pam_set_item";
	if ((rhost[0] != '\0' && (rc = pam_set_item(ph, PAM_RHOST, rhost)) != PAM_SUCCESS) ||
	    (rc = pam_set_item(ph, PAM_FAIL_DELAY, (const void *)fail_delay_none)) != PAM_SUCCESS)
		goto pam_fail;
	step = "authentication";
	if ((rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK)) != PAM_SUCCESS)
		goto pam_fail;
	step = "account";
	if ((rc = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK)) != PAM_SUCCESS)
		goto pam_fail;
	step = "PAM_USER";
	if ((rc = pam_get_item(ph, PAM_USER, &item)) != PAM_SUCCESS)
		goto pam_fail;
	if (item == NULL || *(const char *)item == '\0' || strlen(item) >= plen) {
		snprintf(why, wlen, "PAM left no usable user name");
		goto out;
	}
	memcpy(pam_user, item, strlen(item) + 1);
	r = EPH_OK;
	goto out;
pam_fail:
	snprintf(why, wlen, "%s: %s", step, pam_strerror(ph, rc));
out:
	if (ph != NULL)
		pam_end(ph, r == EPH_OK ? PAM_SUCCESS : rc);
	return r;
}

/* The account through NSS: its canonical name and uid. */
static int
nss_account(const char *user, char *name, size_t nlen, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL, *nb;
	size_t blen = 1024;
	int rc, r = EPH_ERR_NOTFOUND;

	for (;;) {
		if ((nb = realloc(buf, blen)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		buf = nb;
		rc = getpwnam_r(user, &pw, buf, blen, &res);
		if (rc == ERANGE && blen < PW_BUF_MAX) {
			blen *= 2;
			continue;
		}
		break;
	}
	if (rc != 0 || res == NULL || res->pw_name == NULL || strlen(res->pw_name) >= nlen)
		goto out;
	memcpy(name, res->pw_name, strlen(res->pw_name) + 1);
	*uid = res->pw_uid;
	r = EPH_OK;
out:
	free(buf);
	return r;
}

/* -------------------------------------------------------------- tokens */

static int
token_hash(const char *token, uint8_t h[STORE_TOKEN_HASH_LEN])
{
	unsigned n = 0;

	if (EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL) != 1 ||
	    n != STORE_TOKEN_HASH_LEN)
		return EPH_ERR_CRYPTO;
	return EPH_OK;
}

static int
token_mint(struct session_token *t)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[SESSION_TOKEN_BYTES];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		eph_wipe(raw, sizeof(raw));
		return EPH_ERR_CRYPTO;
	}
	for (i = 0; i < sizeof(raw); i++) {
		t->text[2 * i] = hex[raw[i] >> 4];
		t->text[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	t->text[SESSION_TOKEN_LEN] = '\0';
	eph_wipe(raw, sizeof(raw));
	return EPH_OK;
}

/* Only what token_mint can make: anything else is refused unseen. */
static int
token_wellformed(const char *token)
{
	size_t i;

	if (token == NULL || strnlen(token, SESSION_TOKEN_LEN + 1) != SESSION_TOKEN_LEN)
		return 0;
	for (i = 0; i < SESSION_TOKEN_LEN; i++) {
		if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* --------------------------------------------------------------- login */

/* Record a refusal (audit + log): user and address, never the password. */
static void
note_failure(struct session *s, const char *user, const char *rhost, const char *why)
{
	struct store_event ev;
	struct store *st;
	int e;

	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_LOGIN_FAILED;
	ev.actor = user;
	ev.reason = why;
	st = s->lock(s->lock_ctx);
	e = store_note(st, &ev, user, rhost);
	s->unlock(s->lock_ctx);
	if (e != EPH_OK)
		eph_log(LOG_WARNING, NULL, NULL, 0,
		    "login refused for %s from %s: %s (not in the audit log: %s)", user,
		    rhost[0] != '\0' ? rhost : "-", why, eph_strerror(e));
}

int
session_login(struct session *s, const char *user, char *password, const char *rhost,
    struct session_token *tok, struct store_session *info, char *detail, size_t dlen)
{
	struct store_session ss;
	struct store_event ev;
	struct store *st;
	uint8_t h[STORE_TOKEN_HASH_LEN];
	char pam_user[sizeof(ss.user)], why[256];
	int64_t started = mono_ms(), left;
	int e = EPH_ERR_UNAUTHENTICATED, tries;
	struct timespec ts;

	memset(&ss, 0, sizeof(ss));
	memset(h, 0, sizeof(h));
	why[0] = '\0';
	if (tok != NULL)
		session_token_wipe(tok);
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (detail != NULL && dlen > 0)
		detail[0] = '\0';
	if (rhost == NULL)
		rhost = "";
	if (s == NULL || user == NULL || user[0] == '\0' || password == NULL || tok == NULL ||
	    strlen(rhost) >= sizeof(ss.address)) {
		e = EPH_ERR_INVAL;
		goto out;
	}
	if (password[0] == '\0') {
		snprintf(why, sizeof(why), "empty password");
		goto refused;
	}
	if (pam_check(s, user, password, rhost, pam_user, sizeof(pam_user), why, sizeof(why)) !=
	    EPH_OK)
		goto refused;
	eph_wipe(password, strlen(password));
	if (nss_account(pam_user, ss.user, sizeof(ss.user), &ss.uid) != EPH_OK) {
		snprintf(why, sizeof(why), "PAM accepted %s but NSS does not know the account",
		    pam_user);
		goto refused;
	}
	memcpy(ss.address, rhost, strlen(rhost) + 1);
	ss.created = session_now(s);
	ss.expires = ss.created + (int64_t)s->ttl;
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_LOGIN;
	ev.actor = ss.user;
	for (tries = 0; tries < TOKEN_MINT_TRIES; tries++) {
		if ((e = token_mint(tok)) != EPH_OK || (e = token_hash(tok->text, h)) != EPH_OK)
			goto out;
		st = s->lock(s->lock_ctx);
		e = store_put_session(st, h, &ss, &ev);
		s->unlock(s->lock_ctx);
		if (e != EPH_ERR_EXISTS)
			break;
	}
	if (e != EPH_OK) {
		if (detail != NULL)
			snprintf(detail, dlen, "the session could not be stored");
		goto out;
	}
	if (info != NULL)
		*info = ss;
	e = EPH_OK;
	goto out;
refused:
	eph_wipe(password, strlen(password));
	note_failure(s, user, rhost, why);
	e = EPH_ERR_UNAUTHENTICATED;
	if (detail != NULL)
		snprintf(detail, dlen, "login refused");
	/* The same answer time whatever failed, PAM's or NSS's. */
	left = (int64_t)s->fail_delay_ms - (mono_ms() - started);
	if (left > 0) {
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
out:
	if (password != NULL)
		eph_wipe(password, strlen(password));
	eph_wipe(h, sizeof(h));
	if (e != EPH_OK && tok != NULL)
		session_token_wipe(tok);
	return e;
}

/* --------------------------------------------------------------- check */

int
session_check(struct session *s, const char *token, struct store_session *info)
{
	struct store_session ss;
	struct store *st;
	uint8_t h[STORE_TOKEN_HASH_LEN];
	char name[sizeof(ss.user)];
	uid_t uid;
	int e = EPH_ERR_UNAUTHENTICATED;

	memset(&ss, 0, sizeof(ss));
	memset(h, 0, sizeof(h));
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (s == NULL || !token_wellformed(token))
		goto out;
	/* Looked up by its hash: the index sees a digest, so the time a
	 * lookup takes says nothing about how near a guess came. */
	if ((e = token_hash(token, h)) != EPH_OK)
		goto out;
	st = s->lock(s->lock_ctx);
	e = store_get_session(st, h, &ss);
	s->unlock(s->lock_ctx);
	if (e == EPH_ERR_NOTFOUND) {
		e = EPH_ERR_UNAUTHENTICATED;
		goto out;
	}
	if (e != EPH_OK)
		goto out;
	e = EPH_ERR_UNAUTHENTICATED;
	if (ss.revoked || session_now(s) >= ss.expires)
		goto out;
	/* A deleted or renumbered account loses its sessions at once. */
	if (nss_account(ss.user, name, sizeof(name), &uid) != EPH_OK || uid != ss.uid ||
	    strcmp(name, ss.user) != 0)
		goto out;
	if (info != NULL)
		*info = ss;
	e = EPH_OK;
out:
	eph_wipe(h, sizeof(h));
	return e;
}

int
session_logout(struct session *s, const char *token)
{
	struct store_session ss;
	struct store_event ev;
	struct store *st;
	uint8_t h[STORE_TOKEN_HASH_LEN];
	int e;

	memset(h, 0, sizeof(h));
	if ((e = session_check(s, token, &ss)) != EPH_OK)
		goto out;
	if ((e = token_hash(token, h)) != EPH_OK)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_LOGOUT;
	ev.actor = ss.user;
	st = s->lock(s->lock_ctx);
	e = store_revoke_session(st, h, &ev);
	s->unlock(s->lock_ctx);
	if (e == EPH_ERR_NOTFOUND)
		e = EPH_ERR_UNAUTHENTICATED;
out:
	eph_wipe(h, sizeof(h));
	return e;
}

int
session_purge(struct session *s, size_t *n)
{
	struct store *st;
	int64_t now = session_now(s);
	int e;

	st = s->lock(s->lock_ctx);
	e = store_purge_sessions(st, now, n);
	s->unlock(s->lock_ctx);
	return e;
}

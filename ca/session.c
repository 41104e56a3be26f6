/* TLS login sessions: PAM authentication through the CA's service (in one
 * step with a password, or as a relayed conversation run by a thread of
 * its own), token minting, and the token check, over the store's sessions
 * table. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
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

struct conv;

struct session {
	char *service;
	uint64_t ttl;
	unsigned fail_delay_ms;
	struct store *(*lock)(void *ctx);
	void (*unlock)(void *ctx);
	void *lock_ctx;
	session_clock_fn clock;
	void *clock_ctx;
	unsigned conv_max, conv_life_ms, conv_answer_ms;
	/* The open conversations: mu guards the list and every member of
	 * each; cv (CLOCK_MONOTONIC) is broadcast whenever one changes. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conv *convs;
	size_t nconvs;
	int closing; /* session_shutdown: no new conversations */
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
	pthread_condattr_t ca;

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
	if (pthread_condattr_init(&ca) != 0) {
		free(s->service);
		free(s);
		return EPH_ERR_NOMEM;
	}
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&s->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(s->service);
		free(s);
		return EPH_ERR_NOMEM;
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->mu, NULL);
	s->conv_max = o->conv_max != 0 ? o->conv_max : SESSION_DEFAULT_CONV_MAX;
	s->conv_life_ms = o->conv_life_ms != 0 ? o->conv_life_ms : SESSION_DEFAULT_CONV_LIFE_MS;
	s->conv_answer_ms =
	    o->conv_answer_ms != 0 ? o->conv_answer_ms : SESSION_DEFAULT_CONV_ANSWER_MS;
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
	session_shutdown(s);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
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
 * pam_authenticate + pam_acct_mgmt for user through conv, with flags
 * (PAM_DISALLOW_NULL_AUTHTOK, and PAM_SILENT or not). EPH_OK with the
 * account name PAM settled on in pam_user; else EPH_ERR_UNAUTHENTICATED
 * with the cause (for the log) in why.
 */
static int
pam_check(const struct session *s, const char *user, const struct pam_conv *conv, int flags,
    const char *rhost, char *pam_user, size_t plen, char *why, size_t wlen)
{
	pam_handle_t *ph = NULL;
	const void *item = NULL;
	const char *step = "pam_start";
	int rc, r = EPH_ERR_UNAUTHENTICATED;

	pam_user[0] = '\0';
	if ((rc = pam_start(s->service, user, conv, &ph)) != PAM_SUCCESS) {
		snprintf(why, wlen, "pam_start(%s) failed: %d", s->service, rc);
		ph = NULL;
		goto out;
	}
	step = "pam_set_item";
	if ((rhost[0] != '\0' && (rc = pam_set_item(ph, PAM_RHOST, rhost)) != PAM_SUCCESS) ||
	    (rc = pam_set_item(ph, PAM_FAIL_DELAY, (const void *)fail_delay_none)) != PAM_SUCCESS)
		goto pam_fail;
	step = "authentication";
	if ((rc = pam_authenticate(ph, flags)) != PAM_SUCCESS)
		goto pam_fail;
	step = "account";
	if ((rc = pam_acct_mgmt(ph, flags)) != PAM_SUCCESS)
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

/*
 * What follows a PAM verdict: for an accepted pam_user (non-NULL), its
 * account through NSS and a new session in the store (*tok, *info);
 * otherwise, or when NSS does not know the account, the refusal noted
 * with why and EPH_ERR_UNAUTHENTICATED "login refused". The caller keeps
 * the fail delay.
 */
static int
login_complete(struct session *s, const char *user, const char *rhost, const char *pam_user,
    const char *why, struct session_token *tok, struct store_session *info, char *detail,
    size_t dlen)
{
	struct store_session ss;
	struct store_event ev;
	struct store *st;
	uint8_t h[STORE_TOKEN_HASH_LEN];
	char nss_why[256 + sizeof(ss.user)];
	int e = EPH_ERR_UNAUTHENTICATED, tries;

	memset(&ss, 0, sizeof(ss));
	memset(h, 0, sizeof(h));
	if (pam_user == NULL)
		goto refused;
	if (nss_account(pam_user, ss.user, sizeof(ss.user), &ss.uid) != EPH_OK) {
		snprintf(nss_why, sizeof(nss_why),
		    "PAM accepted %s but NSS does not know the account", pam_user);
		why = nss_why;
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
	note_failure(s, user, rhost, why);
	e = EPH_ERR_UNAUTHENTICATED;
	if (detail != NULL)
		snprintf(detail, dlen, "login refused");
out:
	eph_wipe(h, sizeof(h));
	if (e != EPH_OK)
		session_token_wipe(tok);
	return e;
}

/* Sleep until started + the fail delay: the same answer time whatever
 * failed, PAM's or NSS's. */
static void
fail_delay(const struct session *s, int64_t started)
{
	int64_t left = (int64_t)s->fail_delay_ms - (mono_ms() - started);
	struct timespec ts;

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
session_login(struct session *s, const char *user, char *password, const char *rhost,
    struct session_token *tok, struct store_session *info, char *detail, size_t dlen)
{
	struct conv_data cd = {password, 0};
	struct pam_conv conv = {conv_password, &cd};
	char pam_user[sizeof(info->user)], why[256];
	int64_t started = mono_ms();
	int e = EPH_ERR_INVAL, accepted = 0;

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
	    strlen(rhost) >= sizeof(info->address))
		goto out;
	if (password[0] == '\0')
		snprintf(why, sizeof(why), "empty password");
	else
		accepted = pam_check(s, user, &conv, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK, rhost,
		               pam_user, sizeof(pam_user), why, sizeof(why)) == EPH_OK;
	eph_wipe(password, strlen(password));
	e = login_complete(
	    s, user, rhost, accepted ? pam_user : NULL, why, tok, info, detail, dlen);
	if (e == EPH_ERR_UNAUTHENTICATED)
		fail_delay(s, started);
out:
	if (password != NULL)
		eph_wipe(password, strlen(password));
	if (e != EPH_OK && tok != NULL)
		session_token_wipe(tok);
	return e;
}

/* -------------------------------------------------------- conversations */

enum conv_state {
	CONV_RUNNING, /* PAM runs (or has answers to take); a caller may wait */
	CONV_ASKING, /* PAM waits for the answers to the prompts in hand */
	CONV_DONE, /* PAM and the session are done: result, tok, info */
};

/*
 * One conversation: its PAM thread and what passes between it and the
 * HTTP calls, all under s->mu. The answers are the only secrets; they
 * are moved into PAM's responses or wiped.
 */
struct conv {
	struct conv *next;
	struct session *s;
	char id[SESSION_CONV_ID_LEN + 1];
	char user[sizeof(((struct store_session *)0)->user)];
	char rhost[sizeof(((struct store_session *)0)->address)];
	pthread_t thread;
	int64_t started, end; /* mono_ms: its start, the end of its life */
	enum conv_state state;
	int attached; /* an HTTP call waits on it */
	int cancelled; /* PAM's next (or current) conversation call fails */
	int committing; /* PAM accepted: the session is being stored */
	struct session_msg *prompts, *msgs; /* for the next step */
	size_t nprompts, nmsgs;
	size_t asked; /* prompts handed out, the answers expected */
	char **answers; /* handed in, for the PAM thread to take */
	size_t nanswers;
	char why[128]; /* why it was cancelled, for the audit log */
	int result;
	struct session_token tok;
	struct store_session info;
};

static void
msgs_free(struct session_msg *m, size_t n)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < n; i++)
		free(m[i].text);
	free(m);
}

void
session_step_clear(struct session_step *st)
{
	if (st == NULL)
		return;
	msgs_free(st->prompts, st->nprompts);
	msgs_free(st->messages, st->nmessages);
	memset(st, 0, sizeof(*st));
}

static void
answers_free(char **a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		if (a[i] != NULL)
			eph_free_secret_str(a[i]);
	free(a);
}

static void
conv_free(struct conv *c)
{
	if (c == NULL)
		return;
	msgs_free(c->prompts, c->nprompts);
	msgs_free(c->msgs, c->nmsgs);
	answers_free(c->answers, c->nanswers);
	session_token_wipe(&c->tok);
	free(c);
}

/* Append a copy of text (at most SESSION_MSG_MAX bytes) to *v. Past the
 * cap the message is dropped: EPH_OK all the same. */
static int
msg_add(struct session_msg **v, size_t *n, enum session_msg_style style, const char *text)
{
	struct session_msg *nv;

	if (*n >= SESSION_CONV_MAX_ITEMS)
		return EPH_OK;
	if ((nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL)
		return EPH_ERR_NOMEM;
	*v = nv;
	if ((nv[*n].text = strndup(text != NULL ? text : "", SESSION_MSG_MAX)) == NULL)
		return EPH_ERR_NOMEM;
	nv[*n].style = style;
	(*n)++;
	return EPH_OK;
}

/* Wait on s->cv until the monotonic time until_ms; ETIMEDOUT after it. */
static int
cv_wait_until(struct session *s, int64_t until_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(until_ms / 1000);
	ts.tv_nsec = (long)(until_ms % 1000) * 1000000L;
	return pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/*
 * The PAM thread's conversation: info and error text is kept for the
 * next step; prompts are handed to the HTTP side and the thread waits
 * (at most conv_answer_ms, and not past the conversation's end) for
 * session_conv_answer. Binary prompts, a timeout and shutdown are
 * PAM_CONV_ERR.
 */
static int
conv_relay(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
	struct conv *c = appdata;
	struct session *s = c->s;
	struct pam_response *r;
	size_t k, nprompts = 0;
	int64_t until;
	int i, rc = PAM_CONV_ERR, e = EPH_OK;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG || c == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON: nprompts++; break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO: break;
		default: return PAM_CONV_ERR;
		}
	}
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	pthread_mutex_lock(&s->mu);
	if (c->cancelled)
		goto out;
	for (i = 0; i < n && e == EPH_OK; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			e = msg_add(
			    &c->prompts, &c->nprompts, SESSION_PROMPT_ECHO_OFF, msg[i]->msg);
			break;
		case PAM_PROMPT_ECHO_ON:
			e = msg_add(&c->prompts, &c->nprompts, SESSION_PROMPT_ECHO_ON, msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			e = msg_add(&c->msgs, &c->nmsgs, SESSION_ERROR_MSG, msg[i]->msg);
			break;
		default: e = msg_add(&c->msgs, &c->nmsgs, SESSION_TEXT_INFO, msg[i]->msg); break;
		}
	}
	if (e != EPH_OK) {
		rc = PAM_BUF_ERR;
		goto out;
	}
	if (nprompts == 0) {
		rc = PAM_SUCCESS;
		goto out;
	}
	c->state = CONV_ASKING;
	pthread_cond_broadcast(&s->cv);
	until = mono_ms() + (int64_t)s->conv_answer_ms;
	if (until > c->end)
		until = c->end;
	while (c->answers == NULL && !c->cancelled) {
		if (cv_wait_until(s, until) == ETIMEDOUT && c->answers == NULL && !c->cancelled) {
			c->cancelled = 1;
			snprintf(c->why, sizeof(c->why), "conversation: no answer within %u ms",
			    until == c->end ? s->conv_life_ms : s->conv_answer_ms);
		}
	}
	if (c->cancelled || c->nanswers != nprompts)
		goto out;
	for (i = 0, k = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = c->answers[k];
		c->answers[k++] = NULL;
	}
	answers_free(c->answers, c->nanswers);
	c->answers = NULL;
	c->nanswers = 0;
	rc = PAM_SUCCESS;
out:
	if (rc != PAM_SUCCESS && c->why[0] == '\0' && c->cancelled)
		snprintf(c->why, sizeof(c->why), "conversation: ended (the CA is stopping)");
	pthread_mutex_unlock(&s->mu);
	if (rc == PAM_SUCCESS) {
		*resp = r;
		return PAM_SUCCESS;
	}
	for (i = 0; i < n; i++)
		if (r[i].resp != NULL)
			eph_free_secret_str(r[i].resp);
	free(r);
	return rc;
}

/* The thread of one conversation: PAM, then the session or the refusal
 * (noted in the audit log), then CONV_DONE for whoever waits. */
static void *
conv_thread(void *arg)
{
	struct conv *c = arg;
	struct session *s = c->s;
	struct pam_conv pc = {conv_relay, c};
	struct session_token tok;
	struct store_session info;
	char pam_user[sizeof(info.user)], why[256];
	int accepted, e;

	memset(&tok, 0, sizeof(tok));
	memset(&info, 0, sizeof(info));
	why[0] = '\0';
	/* Not PAM_SILENT: what modules have to say reaches the caller. */
	accepted = pam_check(s, c->user, &pc, PAM_DISALLOW_NULL_AUTHTOK, c->rhost, pam_user,
	               sizeof(pam_user), why, sizeof(why)) == EPH_OK;
	pthread_mutex_lock(&s->mu);
	if (c->why[0] != '\0')
		snprintf(why, sizeof(why), "%s", c->why);
	if (accepted && c->cancelled) {
		accepted = 0;
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "conversation: ended before PAM finished");
	}
	/* From here the caller waiting for it waits for the store too. */
	c->committing = accepted;
	pthread_mutex_unlock(&s->mu);
	e = login_complete(
	    s, c->user, c->rhost, accepted ? pam_user : NULL, why, &tok, &info, NULL, 0);
	pthread_mutex_lock(&s->mu);
	c->result = e;
	c->tok = tok;
	c->info = info;
	c->state = CONV_DONE;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	session_token_wipe(&tok);
	return NULL;
}

/* Unlink the conversations that are done and that no call waits on, and
 * join and free them (with s->mu not held). */
static void
conv_reap(struct session *s)
{
	struct conv **pp, *c, *dead = NULL;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->convs; (c = *pp) != NULL;) {
		if (c->state == CONV_DONE && !c->attached) {
			*pp = c->next;
			c->next = dead;
			dead = c;
			s->nconvs--;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&s->mu);
	while ((c = dead) != NULL) {
		dead = c->next;
		pthread_join(c->thread, NULL);
		conv_free(c);
	}
}

static int
conv_id_mint(char id[SESSION_CONV_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[SESSION_CONV_ID_BYTES];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return EPH_ERR_CRYPTO;
	id[0] = 'c';
	id[1] = '-';
	for (i = 0; i < sizeof(raw); i++) {
		id[2 + 2 * i] = hex[raw[i] >> 4];
		id[2 + 2 * i + 1] = hex[raw[i] & 0x0f];
	}
	id[SESSION_CONV_ID_LEN] = '\0';
	eph_wipe(raw, sizeof(raw));
	return EPH_OK;
}

/* The open conversation of id, compared in constant time (an id is a
 * capability); NULL when none. With s->mu held. */
static struct conv *
conv_find(struct session *s, const char *id)
{
	struct conv *c, *found = NULL;

	if (id == NULL || strnlen(id, SESSION_CONV_ID_LEN + 1) != SESSION_CONV_ID_LEN)
		return NULL;
	for (c = s->convs; c != NULL; c = c->next)
		if (CRYPTO_memcmp(c->id, id, SESSION_CONV_ID_LEN) == 0)
			found = c;
	return found;
}

/*
 * With s->mu held and c attached: wait while PAM runs, then say what came
 * of it and detach. EPH_OK with the prompts in *step or, when done, the
 * session in *tok and *info; a refusal sets *delay_from. A conversation
 * that outlives its life while PAM runs is cancelled here (PAM's next
 * conversation call fails) unless its session is being stored.
 */
static int
conv_await(struct session *s, struct conv *c, struct session_step *step, struct session_token *tok,
    struct store_session *info, char *detail, size_t dlen, int64_t *delay_from)
{
	int e;

	while (c->state == CONV_RUNNING && (!c->cancelled || c->committing)) {
		if (c->committing) {
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		if (cv_wait_until(s, c->end) == ETIMEDOUT && c->state == CONV_RUNNING &&
		    !c->committing && !c->cancelled) {
			c->cancelled = 1;
			snprintf(c->why, sizeof(c->why),
			    "conversation: PAM did not finish within %u ms", s->conv_life_ms);
		}
	}
	c->attached = 0;
	pthread_cond_broadcast(&s->cv);
	if (c->state == CONV_DONE) {
		e = c->result;
		if (e == EPH_OK) {
			*tok = c->tok;
			if (info != NULL)
				*info = c->info;
		} else if (e == EPH_ERR_UNAUTHENTICATED) {
			snprintf(detail, dlen, "login refused");
			*delay_from = c->started;
		} else {
			snprintf(detail, dlen, "the session could not be stored");
		}
		session_token_wipe(&c->tok);
		return e;
	}
	if (c->state == CONV_ASKING && !c->cancelled) {
		memcpy(step->conversation, c->id, sizeof(step->conversation));
		step->prompts = c->prompts;
		step->nprompts = c->nprompts;
		step->messages = c->msgs;
		step->nmessages = c->nmsgs;
		c->prompts = c->msgs = NULL;
		c->nprompts = c->nmsgs = 0;
		c->asked = step->nprompts;
		return EPH_OK;
	}
	if (s->closing) {
		snprintf(detail, dlen, "the CA is stopping; log in again once it is back");
		return EPH_ERR_BUSY;
	}
	snprintf(detail, dlen, "login refused");
	*delay_from = c->started;
	return EPH_ERR_UNAUTHENTICATED;
}

/* Clear the outputs every conversation call fills. */
static void
conv_outputs_clear(struct session_step *step, struct session_token *tok, struct store_session *info,
    char *detail, size_t dlen)
{
	if (step != NULL)
		memset(step, 0, sizeof(*step));
	if (tok != NULL)
		session_token_wipe(tok);
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (detail != NULL && dlen > 0)
		detail[0] = '\0';
}

int
session_conv_start(struct session *s, const char *user, const char *rhost,
    struct session_step *step, struct session_token *tok, struct store_session *info, char *detail,
    size_t dlen)
{
	struct conv *c = NULL, *o;
	int64_t delay_from = -1;
	int e = EPH_ERR_INVAL, linked = 0;

	conv_outputs_clear(step, tok, info, detail, dlen);
	if (rhost == NULL)
		rhost = "";
	if (s == NULL || user == NULL || user[0] == '\0' || step == NULL || tok == NULL ||
	    detail == NULL || strlen(user) >= sizeof(c->user) || strlen(rhost) >= sizeof(c->rhost))
		return EPH_ERR_INVAL;
	conv_reap(s);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return EPH_ERR_NOMEM;
	c->s = s;
	memcpy(c->user, user, strlen(user) + 1);
	memcpy(c->rhost, rhost, strlen(rhost) + 1);
	pthread_mutex_lock(&s->mu);
	if (s->closing) {
		snprintf(detail, dlen, "the CA is stopping; log in again once it is back");
		e = EPH_ERR_BUSY;
		goto out;
	}
	if (s->nconvs >= s->conv_max) {
		snprintf(detail, dlen,
		    "%zu logins are in progress, the most this CA takes; try "
		    "again in a minute",
		    s->nconvs);
		e = EPH_ERR_BUSY;
		goto out;
	}
	/* One address cannot hold every slot (and block everyone's logins
	 * for a conversation's lifetime). */
	{
		unsigned same = 0;

		for (o = s->convs; o != NULL; o = o->next)
			same += strcmp(o->rhost, c->rhost) == 0;
		if (same >= SESSION_CONV_MAX_PER_ADDRESS) {
			snprintf(detail, dlen,
			    "%u logins from %s are in progress already; finish or abandon "
			    "one first",
			    same, c->rhost[0] != '\0' ? c->rhost : "this address");
			e = EPH_ERR_BUSY;
			goto out;
		}
	}
	do {
		if ((e = conv_id_mint(c->id)) != EPH_OK)
			goto out;
		for (o = s->convs; o != NULL && strcmp(o->id, c->id) != 0; o = o->next)
			;
	} while (o != NULL);
	c->started = mono_ms();
	c->end = c->started + (int64_t)s->conv_life_ms;
	c->state = CONV_RUNNING;
	c->attached = 1;
	if (pthread_create(&c->thread, NULL, conv_thread, c) != 0) {
		snprintf(detail, dlen, "no thread for the login; try again in a minute");
		e = EPH_ERR_BUSY;
		goto out;
	}
	c->next = s->convs;
	s->convs = c;
	s->nconvs++;
	linked = 1;
	e = conv_await(s, c, step, tok, info, detail, dlen, &delay_from);
out:
	pthread_mutex_unlock(&s->mu);
	if (!linked)
		conv_free(c);
	else
		conv_reap(s);
	if (delay_from >= 0)
		fail_delay(s, delay_from);
	if (e != EPH_OK)
		session_token_wipe(tok);
	return e;
}

/* Copies of the n answers, whose originals are wiped; NULL when out of
 * memory. */
static char **
answers_take(char *const *answers, size_t n)
{
	char **copy;
	size_t i;

	if ((copy = calloc(n > 0 ? n : 1, sizeof(*copy))) != NULL)
		for (i = 0; i < n; i++)
			if ((copy[i] = strdup(answers[i])) == NULL) {
				answers_free(copy, n);
				copy = NULL;
				break;
			}
	for (i = 0; i < n; i++)
		eph_wipe(answers[i], strlen(answers[i]));
	return copy;
}

int
session_conv_answer(struct session *s, const char *id, const char *rhost, char *const *answers,
    size_t n, struct session_step *step, struct session_token *tok, struct store_session *info,
    char *detail, size_t dlen)
{
	struct conv *c;
	char **copy = NULL;
	int64_t delay_from = -1;
	size_t i;
	int e;

	conv_outputs_clear(step, tok, info, detail, dlen);
	if (rhost == NULL)
		rhost = "";
	if (n > 0 && answers == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (answers[i] == NULL) {
			/* Refused, but the originals are wiped all the same. */
			for (i = 0; i < n; i++)
				if (answers[i] != NULL)
					eph_wipe(answers[i], strlen(answers[i]));
			return EPH_ERR_INVAL;
		}
	if ((copy = answers_take(answers, n)) == NULL)
		return EPH_ERR_NOMEM;
	if (s == NULL || step == NULL || tok == NULL || detail == NULL) {
		answers_free(copy, n);
		return EPH_ERR_INVAL;
	}
	conv_reap(s);
	pthread_mutex_lock(&s->mu);
	c = conv_find(s, id);
	/* Another address's conversation is as unknown as one never made. */
	if (c == NULL || strcmp(c->rhost, rhost) != 0 || c->state != CONV_ASKING || c->attached ||
	    c->cancelled) {
		snprintf(detail, dlen,
		    "no such login conversation (it ended or timed out): log in again");
		e = EPH_ERR_UNAUTHENTICATED;
		goto out;
	}
	if (n != c->asked) {
		snprintf(detail, dlen, "answers: %zu given for %zu prompts", n, c->asked);
		e = EPH_ERR_INVAL;
		goto out;
	}
	c->answers = copy;
	c->nanswers = n;
	copy = NULL;
	c->state = CONV_RUNNING;
	c->attached = 1;
	pthread_cond_broadcast(&s->cv);
	e = conv_await(s, c, step, tok, info, detail, dlen, &delay_from);
out:
	pthread_mutex_unlock(&s->mu);
	answers_free(copy, n);
	conv_reap(s);
	if (delay_from >= 0)
		fail_delay(s, delay_from);
	if (e != EPH_OK)
		session_token_wipe(tok);
	return e;
}

size_t
session_conv_open(struct session *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	conv_reap(s);
	pthread_mutex_lock(&s->mu);
	n = s->nconvs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void
session_shutdown(struct session *s)
{
	struct conv *c;
	size_t left;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	for (c = s->convs; c != NULL; c = c->next)
		c->cancelled = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* Each thread ends once PAM returns (its modules' own timeouts bound
	 * that) and each waiting call leaves at the broadcast. */
	for (;;) {
		conv_reap(s);
		pthread_mutex_lock(&s->mu);
		left = s->nconvs;
		for (c = s->convs; c != NULL; c = c->next)
			if (c->state == CONV_DONE && !c->attached)
				break;
		if (left > 0 && c == NULL)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
		if (left == 0)
			break;
	}
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

	conv_reap(s);
	st = s->lock(s->lock_ctx);
	e = store_purge_sessions(st, now, n);
	s->unlock(s->lock_ctx);
	return e;
}

/* Tests for TLS login sessions (ca/session.c) against the real Linux-PAM
 * under pam_wrapper: a private "sshca" service using pam_matrix and its
 * password file, "sshca-otp" (pam_matrix, then our pam_testotp asking a
 * one-time code) and "sshca-pin" (pam_testotp asking a PIN and the code
 * in one call) for the relayed conversations, a temp SQLite store, an
 * injected clock. The binary re-executes itself with
 * LD_PRELOAD=libpam_wrapper.so, which must be in place before the
 * process starts. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "audit.h"
#include "err.h"
#include "session.h"
#include "store.h"
#include "testutil.h"

#define GOOD_PW "correct horse battery staple"
#define GOOD_CODE "123456"
#define GOOD_PIN "4321"
#define OTP_INFO "Enter the one-time code from your token."
#define RHOST "192.0.2.7"
#define GHOST "ephghost-no-such-account"
#define API_DETAIL 256

static char me[256]; /* the account running the test: NSS knows it */
static uid_t my_uid;

struct fx {
	char *dir, *db;
	struct store *st;
	pthread_mutex_t mu;
	int64_t now;
	struct session *s;
};

static struct store *
fx_lock(void *ctx)
{
	struct fx *f = ctx;

	pthread_mutex_lock(&f->mu);
	return f->st;
}

static void
fx_unlock(void *ctx)
{
	pthread_mutex_unlock(&((struct fx *)ctx)->mu);
}

static int64_t
fx_clock(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts so;
	struct session_opts o;
	char *hwm;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	f->db = tu_path(f->dir, "ca.db");
	hwm = tu_path(f->dir, "ca.db.serial");
	f->now = 1795428000;
	pthread_mutex_init(&f->mu, NULL);
	memset(&so, 0, sizeof(so));
	so.database = f->db;
	so.serial_file = hwm;
	so.no_log = 1;
	so.clock = fx_clock;
	so.clock_ctx = f;
	assert_int_equal(store_open(&so, &f->st), EPH_OK);
	free(hwm);
	memset(&o, 0, sizeof(o));
	o.ttl = 3600;
	o.fail_delay_ms = 1;
	o.lock = fx_lock;
	o.unlock = fx_unlock;
	o.lock_ctx = f;
	o.clock = fx_clock;
	o.clock_ctx = f;
	assert_int_equal(session_new(&o, &f->s), EPH_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	session_free(f->s);
	store_close(f->st);
	pthread_mutex_destroy(&f->mu);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

/* session_login with a heap copy of pw (which it must wipe). */
static int
login(struct fx *f, const char *user, const char *pw, struct session_token *tok,
    struct store_session *info, char *detail)
{
	size_t n = strlen(pw), i;
	char *copy = strdup(pw);
	int r;

	assert_non_null(copy);
	r = session_login(f->s, user, copy, "192.0.2.7", tok, info, detail, API_DETAIL);
	for (i = 0; i < n; i++)
		assert_int_equal(copy[i], '\0');
	free(copy);
	return r;
}
/* The audit records of the store, as "type:actor" lines. */
static char *
audit_types(struct fx *f)
{
	struct audit_query q = {NULL, 0, 0, 0};
	struct audit_list l = {NULL, 0};
	struct buf b;
	size_t i;
	char *s;

	buf_init(&b);
	assert_int_equal(store_audit_list(f->st, &q, &l), EPH_OK);
	for (i = 0; i < l.n; i++) {
		assert_int_equal(buf_put(&b, l.v[i].type, strlen(l.v[i].type)), EPH_OK);
		assert_int_equal(buf_put(&b, ":", 1), EPH_OK);
		assert_int_equal(buf_put(&b, l.v[i].actor, strlen(l.v[i].actor)), EPH_OK);
		assert_int_equal(buf_put(&b, " ", 1), EPH_OK);
		assert_int_equal(buf_put(&b, l.v[i].details, strlen(l.v[i].details)), EPH_OK);
		assert_int_equal(buf_put(&b, "\n", 1), EPH_OK);
	}
	assert_int_equal(buf_put(&b, "", 1), EPH_OK);
	s = strdup((const char *)b.d);
	buf_free(&b);
	audit_list_free(&l);
	return s;
}

static void
test_good_password(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	struct store_session info, chk;
	char detail[API_DETAIL] = "", *a;
	struct audit_chain ch;

	assert_int_equal(login(f, me, GOOD_PW, &tok, &info, detail), EPH_OK);
	assert_int_equal(strlen(tok.text), SESSION_TOKEN_LEN);
	assert_int_equal(strspn(tok.text, "0123456789abcdef"), SESSION_TOKEN_LEN);
	assert_string_equal(info.user, me);
	assert_int_equal(info.uid, my_uid);
	assert_string_equal(info.address, "192.0.2.7");
	assert_int_equal(info.created, f->now);
	assert_int_equal(info.expires, f->now + 3600);

	assert_int_equal(session_check(f->s, tok.text, &chk), EPH_OK);
	assert_string_equal(chk.user, me);
	assert_int_equal(chk.uid, my_uid);

	/* Each login is a new session with its own token. */
	{
		struct session_token t2;

		assert_int_equal(login(f, me, GOOD_PW, &t2, NULL, detail), EPH_OK);
		assert_string_not_equal(t2.text, tok.text);
		assert_int_equal(session_check(f->s, t2.text, NULL), EPH_OK);
		session_token_wipe(&t2);
		assert_int_equal(t2.text[0], '\0');
	}

	a = audit_types(f);
	tu_assert_contains(a, "login:");
	tu_assert_contains(a, "\"address\":\"192.0.2.7\"");
	tu_assert_not_contains(a, tok.text);
	free(a);
	memset(&ch, 0, sizeof(ch));
	assert_int_equal(store_audit_verify(f->st, &ch), EPH_OK);
	assert_int_equal(ch.count, 2);
	session_token_wipe(&tok);
}

static void
test_wrong_password(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	char detail[API_DETAIL] = "", *a;

	assert_int_equal(login(f, me, "Correct horse battery staple", &tok, NULL, detail),
	    EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(detail, "login refused");
	assert_int_equal(tok.text[0], '\0');
	assert_int_equal(login(f, me, "", &tok, NULL, detail), EPH_ERR_UNAUTHENTICATED);
	a = audit_types(f);
	tu_assert_contains(a, "login_failed:");
	tu_assert_contains(a, me);
	tu_assert_not_contains(a, "orrect horse");
	tu_assert_not_contains(a, "\nlogin:");
	free(a);
}

static void
test_unknown_user(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	char detail[API_DETAIL] = "", *a;

	/* Unknown to PAM: the same answer as a wrong password. */
	assert_int_equal(
	    login(f, "nobody-at-all-here", GOOD_PW, &tok, NULL, detail), EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(detail, "login refused");
	/* Known to PAM, not to NSS: no session for an account the CA
	 * cannot resolve (no uid, no groups). */
	assert_int_equal(login(f, GHOST, GOOD_PW, &tok, NULL, detail), EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(detail, "login refused");
	a = audit_types(f);
	tu_assert_contains(a, "login_failed:nobody-at-all-here");
	tu_assert_contains(a, "login_failed:" GHOST);
	free(a);
}

static void
test_check_refusals(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	struct store_session info;
	char detail[API_DETAIL], bad[SESSION_TOKEN_LEN + 2];

	assert_int_equal(login(f, me, GOOD_PW, &tok, NULL, detail), EPH_OK);
	/* Malformed, unknown, truncated, upper-cased. */
	assert_int_equal(session_check(f->s, NULL, &info), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(session_check(f->s, "", &info), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(session_check(f->s, "not-a-token", &info), EPH_ERR_UNAUTHENTICATED);
	memcpy(bad, tok.text, sizeof(tok.text));
	bad[0] = bad[0] == '0' ? '1' : '0';
	assert_int_equal(session_check(f->s, bad, &info), EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(info.user, "");
	memcpy(bad, tok.text, sizeof(tok.text));
	bad[SESSION_TOKEN_LEN - 1] = '\0';
	assert_int_equal(session_check(f->s, bad, &info), EPH_ERR_UNAUTHENTICATED);
	memcpy(bad, tok.text, sizeof(tok.text));
	bad[SESSION_TOKEN_LEN] = 'a';
	bad[SESSION_TOKEN_LEN + 1] = '\0';
	assert_int_equal(session_check(f->s, bad, &info), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(session_check(f->s, tok.text, &info), EPH_OK);
	/* Logout ends it, once. */
	assert_int_equal(session_logout(f->s, tok.text), EPH_OK);
	assert_int_equal(session_check(f->s, tok.text, &info), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(session_logout(f->s, tok.text), EPH_ERR_UNAUTHENTICATED);
	session_token_wipe(&tok);
}

static void
test_expiry(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	struct store_session info;
	char detail[API_DETAIL];
	size_t n = 99;

	assert_int_equal(login(f, me, GOOD_PW, &tok, &info, detail), EPH_OK);
	f->now += 3599;
	assert_int_equal(session_check(f->s, tok.text, NULL), EPH_OK);
	f->now += 1;
	assert_int_equal(session_check(f->s, tok.text, NULL), EPH_ERR_UNAUTHENTICATED);
	/* A clock set back does not revive what was purged. */
	f->now += 1;
	assert_int_equal(session_purge(f->s, &n), EPH_OK);
	assert_int_equal(n, 1);
	f->now -= 100;
	assert_int_equal(session_check(f->s, tok.text, NULL), EPH_ERR_UNAUTHENTICATED);
	session_token_wipe(&tok);
}

static void
test_only_hash_stored(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	char detail[API_DETAIL], hex[2 * 32 + 1], *text, *dbfile, *wal;
	uint8_t h[32];
	unsigned hl = 0, i;
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t n = 0;

	assert_int_equal(login(f, me, GOOD_PW, &tok, NULL, detail), EPH_OK);
	assert_int_equal(EVP_Digest(tok.text, strlen(tok.text), h, &hl, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT token_hash, user, uid, address, created, expires, revoked"
	                     " FROM sessions",
	                     -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), hex);
	assert_string_equal((const char *)sqlite3_column_text(s, 1), me);
	assert_int_equal(sqlite3_column_int64(s, 2), my_uid);
	assert_string_equal((const char *)sqlite3_column_text(s, 3), "192.0.2.7");
	assert_int_equal(sqlite3_column_int64(s, 4), f->now);
	assert_int_equal(sqlite3_column_int64(s, 5), f->now + 3600);
	assert_int_equal(sqlite3_column_int64(s, 6), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* Not the token, nor the password, anywhere in the files. */
	dbfile = tu_read_file(f->db, &n);
	assert_non_null(dbfile);
	assert_null(memmem(dbfile, n, tok.text, SESSION_TOKEN_LEN));
	assert_null(memmem(dbfile, n, GOOD_PW, strlen(GOOD_PW)));
	free(dbfile);
	wal = tu_path(f->dir, "ca.db-wal");
	if ((text = tu_read_file(wal, &n)) != NULL) {
		assert_null(memmem(text, n, tok.text, SESSION_TOKEN_LEN));
		assert_null(memmem(text, n, GOOD_PW, strlen(GOOD_PW)));
		free(text);
	}
	free(wal);
	session_token_wipe(&tok);
}

static void
test_fail_delay(void **state)
{
	struct fx *f = *state;
	struct session_opts o;
	struct session *slow;
	struct session_token tok;
	struct timespec a, b;
	char *pw, detail[API_DETAIL];
	int64_t ms;

	memset(&o, 0, sizeof(o));
	o.fail_delay_ms = 300;
	o.lock = fx_lock;
	o.unlock = fx_unlock;
	o.lock_ctx = f;
	assert_int_equal(session_new(&o, &slow), EPH_OK);
	pw = strdup("wrong");
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(session_login(slow, me, pw, "", &tok, NULL, detail, sizeof(detail)),
	    EPH_ERR_UNAUTHENTICATED);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 290);
	assert_int_equal(pw[0], '\0');
	free(pw);
	/* A good login is not held up. */
	pw = strdup(GOOD_PW);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(
	    session_login(slow, me, pw, "", &tok, NULL, detail, sizeof(detail)), EPH_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms < 290);
	free(pw);
	session_token_wipe(&tok);
	session_free(slow);
}

static void
test_bad_args(void **state)
{
	struct fx *f = *state;
	struct session_token tok;
	char detail[API_DETAIL], *pw = strdup("x");
	struct session_opts o;
	struct session *s;

	memset(&o, 0, sizeof(o));
	assert_int_equal(session_new(&o, &s), EPH_ERR_INVAL);
	assert_null(s);
	assert_int_equal(
	    session_login(f->s, "", pw, "", &tok, NULL, detail, sizeof(detail)), EPH_ERR_INVAL);
	assert_int_equal(pw[0], '\0');
	free(pw);
}

/* ------------------------------------------------------ conversations */

/* A session over service with the conversation limits given (0: the
 * defaults), sharing the fixture's store. */
static struct session *
conv_session(struct fx *f, const char *service, unsigned max, unsigned answer_ms)
{
	struct session_opts o;
	struct session *s = NULL;

	memset(&o, 0, sizeof(o));
	o.service = service;
	o.ttl = 3600;
	o.fail_delay_ms = 1;
	o.lock = fx_lock;
	o.unlock = fx_unlock;
	o.lock_ctx = f;
	o.clock = fx_clock;
	o.clock_ctx = f;
	o.conv_max = max;
	o.conv_answer_ms = answer_ms;
	assert_int_equal(session_new(&o, &s), EPH_OK);
	return s;
}

/* session_conv_answer from rhost with heap copies of the n answers
 * (which it must wipe). */
static int
conv_answer(struct session *s, const char *id, const char *rhost, const char *const *answers,
    size_t n, struct session_step *st, struct session_token *tok, char *detail)
{
	char *copy[4];
	size_t i, j;
	int r;

	assert_true(n <= 4);
	for (i = 0; i < n; i++)
		assert_non_null(copy[i] = strdup(answers[i]));
	r = session_conv_answer(s, id, rhost, copy, n, st, tok, NULL, detail, API_DETAIL);
	for (i = 0; i < n; i++) {
		for (j = 0; j < strlen(answers[i]); j++)
			assert_int_equal(copy[i][j], '\0');
		free(copy[i]);
	}
	return r;
}

static void
assert_prompt(
    const struct session_step *st, size_t i, enum session_msg_style style, const char *text)
{
	assert_true(i < st->nprompts);
	assert_int_equal(st->prompts[i].style, style);
	if (text != NULL)
		assert_string_equal(st->prompts[i].text, text);
}

/* Start a conversation on s and answer the password prompt: the step
 * that asks the code is in *st. */
static void
conv_to_code(struct session *s, struct session_step *st, char *detail)
{
	struct session_token tok;
	const char *pw[] = {GOOD_PW};
	char id[SESSION_CONV_ID_LEN + 1];

	assert_int_equal(
	    session_conv_start(s, me, RHOST, st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	assert_int_equal(st->nprompts, 1);
	assert_prompt(st, 0, SESSION_PROMPT_ECHO_OFF, NULL);
	assert_int_equal(st->nmessages, 0);
	assert_int_equal(strlen(st->conversation), SESSION_CONV_ID_LEN);
	assert_memory_equal(st->conversation, "c-", 2);
	assert_int_equal(strspn(st->conversation + 2, "0123456789abcdef"), 32);
	memcpy(id, st->conversation, sizeof(id));
	session_step_clear(st);
	assert_int_equal(conv_answer(s, id, RHOST, pw, 1, st, &tok, detail), EPH_OK);
	assert_string_equal(st->conversation, id);
	assert_int_equal(st->nprompts, 1);
	assert_prompt(st, 0, SESSION_PROMPT_ECHO_ON, "One-time code: ");
	assert_int_equal(st->nmessages, 1);
	assert_int_equal(st->messages[0].style, SESSION_TEXT_INFO);
	assert_string_equal(st->messages[0].text, OTP_INFO);
}

static void
test_conv_otp(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 0);
	struct session_step st;
	struct session_token tok;
	struct store_session chk;
	const char *code[] = {GOOD_CODE};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1], *a;

	conv_to_code(s, &st, detail);
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	assert_int_equal(conv_answer(s, id, RHOST, code, 1, &st, &tok, detail), EPH_OK);
	assert_int_equal(st.nprompts, 0);
	assert_int_equal(strlen(tok.text), SESSION_TOKEN_LEN);
	assert_int_equal(session_check(s, tok.text, &chk), EPH_OK);
	assert_string_equal(chk.user, me);
	assert_string_equal(chk.address, RHOST);
	/* Done: the id is forgotten. */
	assert_int_equal(session_conv_open(s), 0);
	assert_int_equal(
	    conv_answer(s, id, RHOST, code, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	a = audit_types(f);
	tu_assert_contains(a, "login:");
	tu_assert_not_contains(a, "login_failed");
	tu_assert_not_contains(a, GOOD_PW);
	tu_assert_not_contains(a, GOOD_CODE);
	free(a);
	session_token_wipe(&tok);
	session_free(s);
}

static void
test_conv_password_only(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, NULL, 0, 0);
	struct session_step st;
	struct session_token tok;
	const char *pw[] = {GOOD_PW};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1];

	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	assert_int_equal(st.nprompts, 1);
	assert_prompt(&st, 0, SESSION_PROMPT_ECHO_OFF, NULL);
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	assert_int_equal(conv_answer(s, id, RHOST, pw, 1, &st, &tok, detail), EPH_OK);
	assert_int_equal(st.nprompts, 0);
	assert_int_equal(session_check(s, tok.text, NULL), EPH_OK);
	session_token_wipe(&tok);
	session_free(s);
}

static void
test_conv_wrong_code(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 0);
	struct session_step st;
	struct session_token tok;
	const char *code[] = {"654321"};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1], *a;

	conv_to_code(s, &st, detail);
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	assert_int_equal(
	    conv_answer(s, id, RHOST, code, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(detail, "login refused");
	assert_int_equal(tok.text[0], '\0');
	assert_int_equal(st.nprompts, 0);
	assert_int_equal(session_conv_open(s), 0);
	a = audit_types(f);
	tu_assert_contains(a, "login_failed:");
	tu_assert_not_contains(a, "\nlogin:");
	tu_assert_not_contains(a, "654321");
	free(a);
	session_free(s);
}

static void
test_conv_answer_count(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-pin", 0, 0);
	struct session_step st;
	struct session_token tok;
	const char *one[] = {GOOD_PIN}, *three[] = {GOOD_PIN, GOOD_CODE, "x"};
	const char *two[] = {GOOD_PIN, GOOD_CODE};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1];

	/* Two prompts of one PAM conversation call, in one step. */
	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	assert_int_equal(st.nprompts, 2);
	assert_prompt(&st, 0, SESSION_PROMPT_ECHO_OFF, "PIN: ");
	assert_prompt(&st, 1, SESSION_PROMPT_ECHO_ON, "One-time code: ");
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	assert_int_equal(conv_answer(s, id, RHOST, one, 1, &st, &tok, detail), EPH_ERR_INVAL);
	tu_assert_contains(detail, "1 given for 2 prompts");
	assert_int_equal(conv_answer(s, id, RHOST, three, 3, &st, &tok, detail), EPH_ERR_INVAL);
	assert_int_equal(conv_answer(s, id, RHOST, NULL, 0, &st, &tok, detail), EPH_ERR_INVAL);
	/* The conversation still waits for the right number. */
	assert_int_equal(conv_answer(s, id, RHOST, two, 2, &st, &tok, detail), EPH_OK);
	assert_int_equal(st.nprompts, 0);
	assert_int_equal(session_check(s, tok.text, NULL), EPH_OK);
	session_token_wipe(&tok);
	session_free(s);
}

static void
test_conv_unknown_id(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 0);
	struct session_step st;
	struct session_token tok;
	const char *pw[] = {GOOD_PW};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1];

	assert_int_equal(
	    conv_answer(s, "c-0123456789abcdef0123456789abcdef", RHOST, pw, 1, &st, &tok, detail),
	    EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(
	    conv_answer(s, "c-short", RHOST, pw, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	/* The right id from another address is as unknown. */
	assert_int_equal(
	    conv_answer(s, id, "192.0.2.99", pw, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	tu_assert_contains(detail, "no such login conversation");
	assert_int_equal(conv_answer(s, id, "", pw, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	/* ... and did not disturb it. */
	assert_int_equal(conv_answer(s, id, RHOST, pw, 1, &st, &tok, detail), EPH_OK);
	assert_prompt(&st, 0, SESSION_PROMPT_ECHO_ON, "One-time code: ");
	session_step_clear(&st);
	session_free(s);
}

static void
test_conv_timeout(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 50);
	struct session_step st;
	struct session_token tok;
	const char *pw[] = {GOOD_PW};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1], *a;
	int i;

	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	/* Left unanswered, it ends by itself (a bounded wait, no timing). */
	for (i = 0; i < 1000 && session_conv_open(s) > 0; i++)
		usleep(10000);
	assert_int_equal(session_conv_open(s), 0);
	assert_int_equal(
	    conv_answer(s, id, RHOST, pw, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	a = audit_types(f);
	tu_assert_contains(a, "login_failed:");
	free(a);
	session_free(s);
}

static void
test_single_step_otp_refused(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 0);
	struct session_token tok;
	char detail[API_DETAIL], *pw = strdup(GOOD_PW);

	/* The one-step form answers passwords only: the code prompt refuses. */
	assert_non_null(pw);
	assert_int_equal(session_login(s, me, pw, RHOST, &tok, NULL, detail, sizeof(detail)),
	    EPH_ERR_UNAUTHENTICATED);
	assert_string_equal(detail, "login refused");
	assert_int_equal(pw[0], '\0');
	free(pw);
	session_free(s);
}

static void
test_conv_too_many(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 2, 0);
	struct session_step st;
	struct session_token tok;
	char detail[API_DETAIL];
	int i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(
		    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
		session_step_clear(&st);
	}
	assert_int_equal(session_conv_open(s), 2);
	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_ERR_BUSY);
	tu_assert_contains(detail, "logins are in progress");
	assert_int_equal(st.nprompts, 0);
	session_free(s);
}

/* One address holds at most SESSION_CONV_MAX_PER_ADDRESS of the slots;
 * another still gets one. */
static void
test_conv_per_address(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 0);
	struct session_step st;
	struct session_token tok;
	char detail[API_DETAIL];
	unsigned i;

	for (i = 0; i < SESSION_CONV_MAX_PER_ADDRESS; i++) {
		assert_int_equal(
		    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
		session_step_clear(&st);
	}
	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_ERR_BUSY);
	tu_assert_contains(detail, "in progress already");
	assert_int_equal(
	    session_conv_start(s, me, "192.0.2.99", &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	session_step_clear(&st);
	assert_int_equal(session_conv_open(s), SESSION_CONV_MAX_PER_ADDRESS + 1);
	session_free(s);
}

static void
test_conv_shutdown(void **state)
{
	struct fx *f = *state;
	struct session *s = conv_session(f, "sshca-otp", 0, 0);
	struct session_step st;
	struct session_token tok;
	const char *pw[] = {GOOD_PW};
	char detail[API_DETAIL], id[SESSION_CONV_ID_LEN + 1], *a;

	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_OK);
	memcpy(id, st.conversation, sizeof(id));
	session_step_clear(&st);
	/* Ends the waiting PAM call and joins the thread (the default
	 * answer wait is a minute: returning at all is the proof). */
	session_shutdown(s);
	assert_int_equal(session_conv_open(s), 0);
	assert_int_equal(
	    conv_answer(s, id, RHOST, pw, 1, &st, &tok, detail), EPH_ERR_UNAUTHENTICATED);
	assert_int_equal(
	    session_conv_start(s, me, RHOST, &st, &tok, NULL, detail, API_DETAIL), EPH_ERR_BUSY);
	tu_assert_contains(detail, "stopping");
	a = audit_types(f);
	tu_assert_contains(a, "login_failed:");
	free(a);
	session_free(s);
}

/* ----------------------------------------------------------- harness */

/* Service name in dir over its own pam_matrix password file (it takes a
 * user's line only for the service that line names): pam_matrix's
 * password check when password, then pam_testotp with otp_args, then
 * pam_matrix's account check. */
static int
write_otp_service(const char *dir, const char *name, int password, const char *otp_args)
{
	char *passdb = NULL, *svc, *text = NULL, *first = NULL;
	int r = -1;

	svc = tu_path(dir, "%s", name);
	if (asprintf(&passdb, "%s.passdb", svc) < 0) {
		passdb = NULL;
		goto out;
	}
	if (asprintf(&text, "%s:%s:%s\n", me, GOOD_PW, name) < 0 ||
	    tu_write_file(passdb, text, strlen(text), 0600) != 0)
		goto out;
	free(text);
	text = NULL;
	if (asprintf(&first, "auth required %s passdb=%s\n", PAM_MATRIX_SO, passdb) < 0) {
		first = NULL;
		goto out;
	}
	if (asprintf(&text, "%sauth required %s %s\naccount required %s passdb=%s\n",
	        password ? first : "", PAM_TESTOTP_SO, otp_args, PAM_MATRIX_SO, passdb) < 0 ||
	    tu_write_file(svc, text, strlen(text), 0644) != 0)
		goto out;
	r = 0;
out:
	free(first);
	free(text);
	free(passdb);
	free(svc);
	return r;
}

/* Set up the private PAM world and run ourselves again inside it. */
static int
reexec_under_pam_wrapper(char **argv)
{
	char *dir, *svc, *passdb, *text = NULL, *asan = NULL;
	const char *old;

	if (access(PAM_WRAPPER_SO, R_OK) != 0 || access(PAM_MATRIX_SO, R_OK) != 0) {
		fprintf(stderr, "test_session: pam_wrapper not installed; skipped\n");
		return 77;
	}
	if (access(PAM_TESTOTP_SO, R_OK) != 0) {
		fprintf(stderr, "test_session: %s not built\n", PAM_TESTOTP_SO);
		return 99;
	}
	dir = tu_mkdtemp();
	passdb = tu_path(dir, "passdb");
	svc = tu_path(dir, "sshca");
	if (asprintf(&text, "%s:%s:sshca\n%s:%s:sshca\n", me, GOOD_PW, GHOST, GOOD_PW) < 0 ||
	    tu_write_file(passdb, text, strlen(text), 0600) != 0)
		return 99;
	free(text);
	if (asprintf(&text, "auth required %s passdb=%s\naccount required %s passdb=%s\n",
	        PAM_MATRIX_SO, passdb, PAM_MATRIX_SO, passdb) < 0 ||
	    tu_write_file(svc, text, strlen(text), 0644) != 0)
		return 99;
	free(text);
	/* A password, then a one-time code with a message before it; and a
	 * PIN and the code asked in one conversation call. */
	if (write_otp_service(dir, "sshca-otp", 1, "code=" GOOD_CODE " info") != 0 ||
	    write_otp_service(dir, "sshca-pin", 0, "code=" GOOD_CODE " pin=" GOOD_PIN) != 0)
		return 99;
	/* Linux-PAM reads "other" as the fallback: one that refuses. */
	free(svc);
	svc = tu_path(dir, "other");
	if (asprintf(&text,
	        "auth required %s passdb=/dev/null\naccount required %s passdb=/dev/null\n",
	        PAM_MATRIX_SO, PAM_MATRIX_SO) < 0 ||
	    tu_write_file(svc, text, strlen(text), 0644) != 0)
		return 99;
	free(text);
	setenv("EPH_SESSION_TEST_DIR", dir, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
	setenv("LD_PRELOAD", PAM_WRAPPER_SO, 1);
	/* Sanitizers refuse libpam dlopen'd with RTLD_DEEPBIND; pam_wrapper
	 * 1.1.4 reads the switch under uid_wrapper's name. */
	setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	/* Under ASan the preload comes first: let it. */
	old = getenv("ASAN_OPTIONS");
	if (asprintf(&asan, "%s%sverify_asan_link_order=0", old != NULL ? old : "",
	        old != NULL && *old != '\0' ? ":" : "") < 0)
		return 99;
	setenv("ASAN_OPTIONS", asan, 1);
	free(asan);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "test_session: re-exec: %s\n", strerror(errno));
	tu_rmrf(dir);
	return 99;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_hash_stored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fail_delay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_otp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_password_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_wrong_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_answer_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_unknown_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_step_otp_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_too_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_per_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conv_shutdown, setup, teardown),
	};
	struct passwd *pw = getpwuid(getuid());
	const char *dir;
	int rc;

	if (pw == NULL || strlen(pw->pw_name) >= sizeof(me)) {
		fprintf(stderr, "test_session: who am I?\n");
		return 99;
	}
	snprintf(me, sizeof(me), "%s", pw->pw_name);
	my_uid = pw->pw_uid;
	if ((dir = getenv("EPH_SESSION_TEST_DIR")) == NULL || getenv("PAM_WRAPPER") == NULL)
		return reexec_under_pam_wrapper(argv);
	tu_init(argc, argv);
	rc = cmocka_run_group_tests_name("session", tests, NULL, NULL);
	tu_rmrf(dir);
	return rc;
}

/*
 * ephssh login / logout: a session with a CA over TLS. login relays the
 * CA's PAM conversation to the terminal (POST /v1/login with the user
 * alone, then the answers to each set of prompts: messages shown, each
 * prompt asked on /dev/tty with echo off or on as PAM wants, the terminal
 * restored on every path, a signal included) until it gets a token, or
 * with --password-stdin sends one password in one step; the token is
 * cached 0600 under $XDG_RUNTIME_DIR until it expires. logout ends the
 * session at the CA and forgets the token. On the Unix socket there is
 * nothing to do: the CA knows its peers by their uid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ephssh.h"
#include "err.h"
#include "out.h"
#include "runtime.h"
#include "util.h"

#define LOGIN_PASSWORD_MAX 1024 /* the CA's cap on a password or an answer (docs/api.md) */
#define LOGIN_TOKEN_LEN 64
#define LOGIN_CONV_ID_LEN 34 /* "c-" + 32 hex */
#define LOGIN_MAX_PROMPTS 32 /* in one step (the CA's cap) */
#define READ_INTERRUPTED 1 /* read_line: a signal came */

/* A password or an answer while it exists: one owner, wiped on every
 * path. */
struct login_secret {
	char pw[LOGIN_PASSWORD_MAX + 2];
	size_t len;
};

static void
secret_wipe(struct login_secret *s)
{
	eph_wipe(s->pw, sizeof(s->pw));
	s->len = 0;
}

/* The signals that end a prompt: caught so the terminal is restored
 * first, then raised again with their default action. */
static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NPROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))
static volatile sig_atomic_t prompt_signal;

static void
on_prompt_signal(int sig)
{
	prompt_signal = sig;
}

/*
 * One line from fd into s (the newline dropped). EPH_OK, EPH_ERR_RANGE
 * when it is over the cap, READ_INTERRUPTED when a signal came, EPH_ERR_IO.
 */
static int
read_line(int fd, struct login_secret *s)
{
	char ch;
	ssize_t n;

	s->len = 0;
	for (;;) {
		if (prompt_signal != 0)
			return READ_INTERRUPTED;
		n = read(fd, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return EPH_ERR_IO;
		if (n == 0 || ch == '\n' || ch == '\r')
			break;
		if (s->len >= LOGIN_PASSWORD_MAX) {
			/* the rest of the line is read and dropped */
			while ((n = read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r')
				;
			ch = 0;
			secret_wipe(s);
			return EPH_ERR_RANGE;
		}
		s->pw[s->len++] = ch;
	}
	ch = 0;
	s->pw[s->len] = '\0';
	return EPH_OK;
}

/* The terminal the conversation is held on; its failure to open says
 * how scripts log in. */
static int
tty_open(struct ephssh *e, int *fd)
{
	if ((*fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return ephssh_error(e, EPHSSH_EXIT_FAIL,
		    "no terminal to ask for the password on (/dev/tty: %s); scripts use "
		    "--password-stdin",
		    strerror(errno));
	return EPHSSH_EXIT_OK;
}

/* Text from the CA on the terminal: control characters (an escape
 * sequence the CA's PAM stack might send) shown as '?', but line ends
 * and tabs. */
static void
tty_put_text(int fd, const char *text)
{
	char c;

	for (; *text != '\0'; text++) {
		c = *text;
		if (((unsigned char)c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			c = '?';
		(void)!write(fd, &c, 1);
	}
}

/* Ask prompt (already on the terminal's text, the CA's part sanitised) on
 * fd, echo off unless echo. On a signal the terminal is restored and the
 * signal raised again (the process ends as it would have). */
static int
ask_tty(struct ephssh *e, int fd, const char *prefix, const char *prompt, int echo,
    struct login_secret *s)
{
	struct sigaction sa, old[NPROMPT_SIGNALS];
	struct termios saved, quiet;
	int r = EPH_OK, restore = 0, sig;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_prompt_signal; /* no SA_RESTART: read() returns */
	sigemptyset(&sa.sa_mask);
	prompt_signal = 0;
	for (i = 0; i < NPROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &sa, &old[i]);
	if (!echo && tcgetattr(fd, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = 1;
	}
	if (write(fd, prefix, strlen(prefix)) < 0)
		r = EPH_ERR_IO;
	tty_put_text(fd, prompt);
	if (r == EPH_OK)
		r = read_line(fd, s);
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &saved);
	if (!echo)
		(void)!write(fd, "\n", 1);
	for (i = 0; i < NPROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &old[i], NULL);
	if ((sig = prompt_signal) != 0) {
		secret_wipe(s);
		raise(sig);
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "interrupted");
	}
	if (r == EPH_ERR_RANGE)
		return ephssh_error(
		    e, EPHSSH_EXIT_FAIL, "the answer is over %d bytes", LOGIN_PASSWORD_MAX);
	if (r != EPH_OK)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "reading the answer: %s", strerror(errno));
	return EPHSSH_EXIT_OK;
}

static int
stdin_password(struct ephssh *e, struct login_secret *s)
{
	int r;

	prompt_signal = 0;
	if ((r = read_line(STDIN_FILENO, s)) == EPH_ERR_RANGE)
		return ephssh_error(
		    e, EPHSSH_EXIT_FAIL, "the password is over %d bytes", LOGIN_PASSWORD_MAX);
	if (r != EPH_OK)
		return ephssh_error(
		    e, EPHSSH_EXIT_FAIL, "reading the password from stdin: %s", strerror(errno));
	return EPHSSH_EXIT_OK;
}

static int
token_ok(const char *t)
{
	size_t i;

	if (t == NULL || strlen(t) != LOGIN_TOKEN_LEN)
		return 0;
	for (i = 0; i < LOGIN_TOKEN_LEN; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return 0;
	return 1;
}

/* Wipe a secret string jansson holds before the value is freed. */
static void
json_wipe_string(json_t *v)
{
	if (json_is_string(v))
		eph_wipe((char *)(uintptr_t)json_string_value(v), json_string_length(v));
}

/* The line (or JSON) for a Unix-socket CA: no session there. */
static int
socket_nothing(struct ephssh *e, const char *what)
{
	json_t *o;
	int rc;

	if (!e->json) {
		printf("%s: nothing to %s: on its Unix socket the CA knows you by your uid\n",
		    e->conf.ca, what);
		return EPHSSH_EXIT_OK;
	}
	if (strcmp(what, "log in") == 0)
		o = json_pack("{ss sn sn}", "ca", e->conf.ca, "user", "expires");
	else
		o = json_pack("{ss sb}", "ca", e->conf.ca, "ended", 0);
	if (o == NULL)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
	rc = ephssh_print_json(e, o);
	json_decref(o);
	return rc;
}

/* The answers while they exist (static: never on a stack frame left
 * behind), wiped as soon as each is in the request, and on every path. */
static struct login_secret conv_answers[LOGIN_MAX_PROMPTS];

static void
json_wipe_array(json_t *a)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		json_wipe_string(v);
	}
}

/* A prompt or message object: its style is one of styles, its text a
 * string. */
static int
step_item_ok(const json_t *v, const char *s1, const char *s2)
{
	const char *style = json_string_value(json_object_get(v, "style"));

	return style != NULL && (strcmp(style, s1) == 0 || strcmp(style, s2) == 0) &&
	    json_is_string(json_object_get(v, "text"));
}

/* Does the CA's answer ask for more: 1 for a well-formed conversation
 * step, 0 for an answer that is no step (the final one), -1 for a step
 * this client cannot follow. */
static int
step_check(const json_t *b)
{
	const char *id = json_string_value(json_object_get(b, "conversation"));
	const json_t *p = json_object_get(b, "prompts"), *m = json_object_get(b, "messages");
	json_t *v;
	size_t i;

	if (json_object_get(b, "conversation") == NULL)
		return 0;
	if (id == NULL || strlen(id) != LOGIN_CONV_ID_LEN || strncmp(id, "c-", 2) != 0 ||
	    strspn(id + 2, "0123456789abcdef") != LOGIN_CONV_ID_LEN - 2 || !json_is_array(p) ||
	    json_array_size(p) == 0 || json_array_size(p) > LOGIN_MAX_PROMPTS ||
	    (m != NULL && !json_is_array(m)))
		return -1;
	json_array_foreach(p, i, v)
	{
		if (!step_item_ok(v, "echo_off", "echo_on"))
			return -1;
	}
	json_array_foreach(m, i, v)
	{
		if (!step_item_ok(v, "info", "error"))
			return -1;
	}
	return 1;
}

/*
 * The CA's PAM conversation on the terminal: POST /v1/login with the user
 * alone, then, while the CA asks, its messages shown and its prompts
 * asked (each after prefix), and the answers sent. res holds the CA's
 * last answer (a session, or a 401) on EPHSSH_EXIT_OK.
 */
static int
login_converse(struct ephssh *e, const char *user, const char *prefix, struct capi_result *res)
{
	static const long handled[] = {401, 0};
	json_t *body = NULL, *answers = NULL, *v, *sv;
	const char *text;
	int fd = -1, rc, step;
	size_t i, n;

	if ((rc = tty_open(e, &fd)) != EPHSSH_EXIT_OK)
		return rc;
	if ((body = json_pack("{ss}", "user", user)) == NULL) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
		goto out;
	}
	for (;;) {
		capi_result_clear(res);
		rc = ephssh_call(e, "POST", "/v1/login", body, handled, res);
		json_wipe_array(answers);
		json_decref(answers);
		json_decref(body);
		body = answers = NULL;
		if (rc != EPHSSH_EXIT_OK)
			goto out;
		if (res->status != 200 || (step = step_check(res->body)) == 0)
			break;
		if (step < 0) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "%s answered the login with prompts this client cannot follow",
			    e->conf.ca);
			goto out;
		}
		json_array_foreach(json_object_get(res->body, "messages"), i, v)
		{
			text = json_string_value(json_object_get(v, "text"));
			tty_put_text(fd, text);
			if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
				(void)!write(fd, "\n", 1);
		}
		/* answers: a reference of ours too, to wipe what the body held. */
		body = json_object();
		answers = json_array();
		if (body == NULL || answers == NULL ||
		    json_object_set_new(body, "conversation",
		        json_incref(json_object_get(res->body, "conversation"))) != 0 ||
		    json_object_set(body, "answers", answers) != 0) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
			goto out;
		}
		n = json_array_size(json_object_get(res->body, "prompts"));
		for (i = 0; i < n; i++) {
			v = json_array_get(json_object_get(res->body, "prompts"), i);
			if ((rc = ask_tty(e, fd, prefix,
			         json_string_value(json_object_get(v, "text")),
			         strcmp(json_string_value(json_object_get(v, "style")),
			             "echo_on") == 0,
			         &conv_answers[i])) != EPHSSH_EXIT_OK)
				goto out;
			sv = json_stringn(conv_answers[i].pw, conv_answers[i].len);
			secret_wipe(&conv_answers[i]);
			if (sv == NULL || json_array_append_new(answers, sv) != 0) {
				rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
				    "out of memory (or an answer that is not UTF-8)");
				goto out;
			}
		}
	}
	rc = EPHSSH_EXIT_OK;
out:
	for (i = 0; i < LOGIN_MAX_PROMPTS; i++)
		secret_wipe(&conv_answers[i]);
	json_wipe_array(answers);
	json_decref(answers);
	json_decref(body);
	close(fd);
	return rc;
}

static int
cmd_login(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	enum { OPT_USER = 1, OPT_PASSWORD_STDIN };
	static const struct option lo[] = {
	    {"user", required_argument, NULL, OPT_USER},
	    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	    {NULL, 0, NULL, 0},
	};
	static const long handled[] = {401, 0};
	static struct login_secret secret; /* static: never on a stack frame left behind */
	struct capi_result res;
	struct capi *a;
	const struct passwd *pw;
	const char *user = NULL, *token;
	char prompt[EPHSSH_MAX_CONFIG_URL + 600], why[512], until[64];
	json_t *body = NULL, *pwv = NULL, *o = NULL;
	json_int_t expires;
	int c, rc = EPHSSH_EXIT_OK, from_stdin = 0;

	memset(&res, 0, sizeof(res));
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1) {
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
		if (c == OPT_USER)
			user = optarg;
		else if (c == OPT_PASSWORD_STDIN)
			from_stdin = 1;
	}
	if (optind != argc)
		return ephssh_usage_error(self, e, "unexpected argument '%s'", argv[optind]);
	if (user != NULL &&
	    (user[0] == '\0' || strlen(user) > 256 || strpbrk(user, " \t\r\n:") != NULL))
		return ephssh_usage_error(self, e, "--user: '%s' is not a user name", user);
	if ((rc = ephssh_config(e)) != EPHSSH_EXIT_OK)
		return rc;
	if (strncmp(e->conf.ca, "unix:", 5) == 0)
		return socket_nothing(e, "log in");
	if (user == NULL) {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_name == NULL)
			return ephssh_usage_error(
			    self, e, "uid %u has no name: give --user NAME", (unsigned)getuid());
		user = pw->pw_name;
	}
	if ((a = ephssh_api(e, &rc)) == NULL)
		return rc;
	/* A cached token has no business on a login. */
	if (capi_set_token(a, NULL) != EPH_OK)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");

	if (!from_stdin) {
		/* The CA's prompts ("Password: ") do not say who asks for what. */
		snprintf(prompt, sizeof(prompt), "(%s at %s) ", user, e->conf.ca);
		if ((rc = login_converse(e, user, prompt, &res)) != EPHSSH_EXIT_OK)
			goto out;
	} else {
		if ((rc = stdin_password(e, &secret)) != EPHSSH_EXIT_OK)
			goto out;
		if (secret.len == 0) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "an empty password: nothing sent");
			goto out;
		}
		if ((body = json_object()) == NULL ||
		    json_object_set_new(body, "user", json_string(user)) ||
		    (pwv = json_stringn(secret.pw, secret.len)) == NULL ||
		    json_object_set(body, "password", pwv) != 0) {
			rc = ephssh_error(
			    e, EPHSSH_EXIT_FAIL, "out of memory (or a password that is not UTF-8)");
			goto out;
		}
		secret_wipe(&secret);
		rc = ephssh_call(e, "POST", "/v1/login", body, handled, &res);
		json_wipe_string(pwv);
		if (rc != EPHSSH_EXIT_OK)
			goto out;
	}
	if (res.status == 401) {
		rc = ephssh_error(e, EPHSSH_EXIT_NOTAUTH,
		    "login refused for %s at %s (a wrong password or code, an unknown user, an "
		    "account that may not log in, or a prompt left unanswered too long)",
		    user, e->conf.ca);
		goto out;
	}
	token = json_string_value(json_object_get(res.body, "token"));
	expires = json_integer_value(json_object_get(res.body, "expires"));
	if (!token_ok(token) || expires <= (json_int_t)time(NULL)) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
		    "%s answered the login without a usable session", e->conf.ca);
		goto out;
	}
	if (token_save(e->conf.ca, token, (int64_t)expires, why, sizeof(why)) != EPH_OK) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "the session token was not kept: %s", why);
		goto out;
	}
	if (json_is_string(json_object_get(res.body, "user")))
		user = json_string_value(json_object_get(res.body, "user"));
	if (e->json) {
		if ((o = json_pack("{ss ss sI}", "ca", e->conf.ca, "user", user, "expires",
		         expires)) == NULL) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
			goto out;
		}
		rc = ephssh_print_json(e, o);
		goto out;
	}
	{
		char t[32];
		time_t tt = (time_t)expires;
		struct tm tm;

		if (gmtime_r(&tt, &tm) != NULL &&
		    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			out_time(t, until, sizeof(until));
		else
			snprintf(until, sizeof(until), "%lld", (long long)expires);
	}
	printf("logged in to %s as %s until %s\n", e->conf.ca, user, until);
	rc = EPHSSH_EXIT_OK;
out:
	secret_wipe(&secret);
	json_wipe_string(pwv);
	json_decref(pwv);
	json_decref(body);
	json_wipe_string(json_object_get(res.body, "token"));
	capi_result_clear(&res);
	json_decref(o);
	return rc;
}

static int
cmd_logout(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {{NULL, 0, NULL, 0}};
	static const long handled[] = {401, 0};
	struct capi_result res;
	char *token = NULL;
	int64_t expires = 0;
	json_t *o = NULL;
	int c, rc = EPHSSH_EXIT_OK, ended = 0;

	memset(&res, 0, sizeof(res));
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1)
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
	if (optind != argc)
		return ephssh_usage_error(self, e, "unexpected argument '%s'", argv[optind]);
	if ((rc = ephssh_config(e)) != EPHSSH_EXIT_OK)
		return rc;
	if (strncmp(e->conf.ca, "unix:", 5) == 0)
		return socket_nothing(e, "log out of");
	if (token_load(e->conf.ca, &token, &expires) != EPH_OK) {
		(void)token_remove(e->conf.ca);
		if (!e->json)
			printf("not logged in to %s: nothing to end\n", e->conf.ca);
		goto report;
	}
	eph_free_secret_str(token);
	token = NULL;
	/* ephssh_api sends the cached token. */
	rc = ephssh_call(e, "POST", "/v1/logout", NULL, handled, &res);
	/* Whatever the CA said, the token leaves this machine: a session
	 * nobody holds a token of ends by itself. */
	if (token_remove(e->conf.ca) != EPH_OK && rc == EPHSSH_EXIT_OK)
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "the cached token could not be removed");
	if (rc == EPHSSH_EXIT_UNREACHABLE)
		ephssh_note(e,
		    "the token is removed from this machine; the session at the CA ends "
		    "by itself when it expires");
	if (rc != EPHSSH_EXIT_OK)
		goto out;
	ended = res.status != 401;
	if (!e->json)
		printf(ended ? "logged out of %s\n" : "the session at %s had already ended\n",
		    e->conf.ca);
report:
	if (e->json) {
		if ((o = json_pack("{ss sb}", "ca", e->conf.ca, "ended", ended)) == NULL) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
			goto out;
		}
		rc = ephssh_print_json(e, o);
	}
out:
	capi_result_clear(&res);
	json_decref(o);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_login = {"login", cmd_login, "[OPTIONS]",
    "log in to a CA over TLS; the session token is kept under $XDG_RUNTIME_DIR",
    "      --user NAME        the account to log in as (default: yours)\n"
    "      --password-stdin   send one password read from stdin, for scripts (no prompts)\n"};
const struct ephssh_cmd ephssh_cmd_logout = {"logout", cmd_logout, "[OPTIONS]",
    "end the session with a CA over TLS and forget its token", ""};

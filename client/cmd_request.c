/*
 * ephssh request TASK and ephssh fetch ID: a fresh key, the request, the
 * wait for approval (one live line; Ctrl-C asks whether to cancel), and
 * the certificate into the agent or a directory. The private key exists
 * only in memory, in the agent, in --write DIR, or 0600 under the
 * runtime directory while its request waits to be fetched.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "ephssh.h"
#include "err.h"
#include "key.h"
#include "keys.h"
#include "out.h"
#include "runtime.h"
#include "util.h"

#define POLL_SECONDS 2 /* between GETs while waiting */
/* How long a saved key outlives its request's approval deadline when the
 * ttl is the task's (unknown here): the longest a grant approved at the
 * last moment could still need it. */
#define PENDING_KEEP_DEFAULT 86400

/* What the command was asked, shared by request and fetch. */
struct want {
	const char *write_dir; /* --write DIR, NULL: the agent */
	uint64_t ttl; /* asked for (0: the task's) */
};

static volatile sig_atomic_t got_sigint;

static void
on_sigint(int sig)
{
	(void)sig;
	got_sigint = 1;
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static int
is_state(const json_t *o, const char *s)
{
	const char *st = ephssh_jstr(o, "state");

	return st != NULL && strcmp(st, s) == 0;
}

/* Who denied it and why: an approver's reason, else the policy's deny
 * reasons, one per line on stderr. */
static void
print_denial(struct ephssh *e, const json_t *o)
{
	const json_t *rs = json_object_get(o, "reasons"), *v, *dn = json_object_get(o, "denial");
	const char *id = ephssh_jstr(o, "id"), *by = ephssh_jstr(dn, "by"),
	           *why = ephssh_jstr(dn, "reason");
	size_t i;
	int any = 0;

	if (id == NULL)
		id = "the request";
	if (by != NULL) {
		ephssh_error(e, EPHSSH_EXIT_FAIL, "%s was denied by %s%s%s", id, by,
		    why != NULL ? ": " : "", why != NULL ? why : "");
		return;
	}
	json_array_foreach(rs, i, v)
	{
		const char *kind = ephssh_jstr(v, "kind"), *text = ephssh_jstr(v, "text"),
		           *rule = ephssh_jstr(v, "rule");
		json_int_t ln = json_integer_value(json_object_get(v, "line"));

		if (kind == NULL || strcmp(kind, "deny") != 0)
			continue;
		if (!any)
			ephssh_error(e, EPHSSH_EXIT_FAIL, "%s denied by policy:", id);
		any = 1;
		fprintf(stderr, "  %s", text != NULL ? text : "?");
		if (rule != NULL && ln > 0)
			fprintf(stderr, " (%s, policy line %lld)", rule, (long long)ln);
		else if (rule != NULL)
			fprintf(stderr, " (%s)", rule);
		fputc('\n', stderr);
	}
	/* Denied by a policy reloaded since: its reason is the denial's. */
	if (!any)
		ephssh_error(e, EPHSSH_EXIT_FAIL, "%s was denied%s%s", id,
		    why != NULL ? " by the policy: " : "", why != NULL ? why : "");
}

/* A denial because the policy has no such task: its reason's text, which
 * names the nearest task this requester may ask for when one is near
 * ("no task named \"dbmaint\" (did you mean db-maint?)"); NULL when the
 * denial is for something else. */
static const char *
unknown_task(const json_t *o)
{
	const json_t *rs = json_object_get(o, "reasons"), *v;
	size_t i;

	json_array_foreach(rs, i, v)
	{
		const char *kind = ephssh_jstr(v, "kind"), *rule = ephssh_jstr(v, "rule"),
		           *text = ephssh_jstr(v, "text");

		if (kind != NULL && strcmp(kind, "deny") == 0 && rule != NULL &&
		    strcmp(rule, "task") == 0 && text != NULL && strncmp(text, "no task", 7) == 0)
			return text;
	}
	return NULL;
}

/* "1 more approval from @leads" */
static void
waiting_for(const json_t *o, char *buf, size_t len)
{
	const json_t *ap = json_object_get(o, "approvals"), *from = json_object_get(ap, "from"), *v;
	json_int_t need = json_integer_value(json_object_get(ap, "required")) -
	    json_integer_value(json_object_get(ap, "valid"));
	size_t i, n;

	if (need < 1)
		need = 1;
	n = (size_t)snprintf(
	    buf, len, "waiting for %lld more approval%s", (long long)need, need == 1 ? "" : "s");
	json_array_foreach(from, i, v)
	{
		if (!json_is_string(v) || n >= len)
			continue;
		n += (size_t)snprintf(
		    buf + n, len - n, "%s%s", i == 0 ? " from " : ", ", json_string_value(v));
	}
}

/* "r-7f3a…" for the live line. */
static void
short_id(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%.6s\xe2\x80\xa6", id != NULL ? id : "?");
}

/* The request object plus what this run did with the key: the --json
 * answer. */
static int
print_result(struct ephssh *e, const json_t *o, int agent, const char *key_path,
    const char *cert_path, const char *pending_key)
{
	json_t *out = json_deep_copy(o), *w = json_array();
	int rc = EPHSSH_EXIT_FAIL;

	if (out == NULL || w == NULL)
		goto out;
	if (key_path != NULL &&
	    (json_array_append_new(w, json_string(key_path)) != 0 ||
	        json_array_append_new(w, json_string(cert_path)) != 0))
		goto out;
	if (json_object_set_new(out, "agent", json_boolean(agent)) != 0 ||
	    json_object_set(out, "written", w) != 0 ||
	    (pending_key != NULL &&
	        json_object_set_new(out, "pending_key", json_string(pending_key)) != 0))
		goto out;
	rc = ephssh_print_json(e, out);
out:
	json_decref(w);
	json_decref(out);
	return rc;
}

/* The deadline of a saved key: the request's approval deadline plus the
 * longest its grant may then live. */
static int64_t
pending_deadline(const json_t *o, const struct want *w)
{
	int64_t exp = 0;

	if (out_parse_time(ephssh_jstr(o, "expires"), &exp) != 0)
		exp = now_s() + 3600;
	return exp + (w->ttl > 0 ? (int64_t)w->ttl + 60 : PENDING_KEEP_DEFAULT);
}

/*
 * Keep the key for 'ephssh fetch' and say how. When it cannot be kept,
 * the request is useless: it is cancelled rather than left in approvers'
 * queues. rc is the code to return when the key is kept.
 */
static int
leave_pending(struct ephssh *e, const json_t *o, const struct key *k, const struct want *w, int rc,
    const char *why_left)
{
	char why[512], path[64];
	char *saved = NULL;
	const char *id = ephssh_jstr(o, "id");
	struct capi_result res;
	int r;

	if ((r = keys_pending_save(id, k, pending_deadline(o, w), &saved, why, sizeof(why))) !=
	    EPH_OK) {
		ephssh_error(e, EPHSSH_EXIT_FAIL,
		    "cannot keep the key for later (%s): cancelling %s", why, id);
		snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
		if (ephssh_call(e, "POST", path, NULL, NULL, &res) == EPHSSH_EXIT_OK)
			ephssh_note(e, "%s cancelled", id);
		capi_result_clear(&res);
		return EPHSSH_EXIT_FAIL;
	}
	if (e->json)
		(void)print_result(e, o, 0, NULL, NULL, saved);
	else {
		char wait[256];

		waiting_for(o, wait, sizeof(wait));
		printf("%s %s: %s\n", id, why_left, wait);
		printf("its key waits in %s; once approved: ephssh fetch %s%s%s\n", saved, id,
		    w->write_dir != NULL ? " --write " : "",
		    w->write_dir != NULL ? w->write_dir : "");
		fflush(stdout);
	}
	free(saved);
	return rc;
}

/* "ssh postgres@db01.example.com" for each named host (a @group has no
 * one name to connect to). */
static void
print_ssh_lines(const json_t *o, const char *key_path)
{
	const json_t *hosts = json_object_get(o, "hosts"), *v;
	const char *as = ephssh_jstr(o, "login_as");
	size_t i;

	json_array_foreach(hosts, i, v)
	{
		const char *h = json_is_string(v) ? json_string_value(v) : NULL;

		if (h == NULL || h[0] == '@')
			continue;
		if (key_path != NULL)
			printf("  ssh -i %s %s%s%s\n", key_path, as ? as : "", as ? "@" : "", h);
		else
			printf("  ssh %s%s%s\n", as ? as : "", as ? "@" : "", h);
	}
}

/*
 * An issued request's certificate with key k: into the agent, or into
 * w->write_dir. *spent: the key has no further use (delivered, or its
 * certificate cannot be used), so a saved copy may go.
 */
static int
deliver(struct ephssh *e, const json_t *o, const struct key *k, const struct want *w, int *spent)
{
	const char *id = ephssh_jstr(o, "id"), *line = ephssh_jstr(o, "certificate"),
	           *as = ephssh_jstr(o, "login_as");
	const json_t *hosts = json_object_get(o, "hosts"), *v;
	struct cert *c = NULL;
	struct agent *a = NULL;
	char why[512], warn[256], until[64], left[32], comment[64];
	char *kp = NULL, *cp = NULL;
	int64_t now = now_s();
	size_t i;
	int r, rc = EPHSSH_EXIT_FAIL;

	*spent = 0;
	if (line == NULL || (r = cert_parse_line(line, &c, NULL)) != EPH_OK) {
		ephssh_error(e, EPHSSH_EXIT_FAIL, "%s: the CA's certificate does not parse (%s)",
		    id, line == NULL ? "none in the answer" : eph_strerror(r));
		*spent = 1;
		goto out;
	}
	if (keys_check_cert(c, k, now, why, sizeof(why), warn, sizeof(warn)) != EPH_OK) {
		ephssh_error(e, EPHSSH_EXIT_FAIL, "%s: %s", id, why);
		*spent = 1;
		goto out;
	}
	if (w->write_dir != NULL) {
		if (keys_write(w->write_dir, id, k, c, &kp, &cp, why, sizeof(why)) != EPH_OK) {
			ephssh_error(e, EPHSSH_EXIT_FAIL, "cannot write the key: %s", why);
			goto out;
		}
	} else {
		if (keys_agent_open(&a, why, sizeof(why)) != EPH_OK) {
			ephssh_error(e, EPHSSH_EXIT_FAIL, "%s", why);
			goto out;
		}
		snprintf(comment, sizeof(comment), "ephssh:%s", id);
		if (keys_agent_add(a, k, c, comment, now, why, sizeof(why)) != EPH_OK) {
			ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "%s: %s; the key is not kept anywhere (end the grant: ephssh done %s)",
			    id, why, id);
			goto out;
		}
	}
	*spent = 1;
	if (warn[0] != '\0')
		ephssh_error(e, EPHSSH_EXIT_OK, "%s: %s", id, warn);
	if (e->json) {
		rc = print_result(e, o, a != NULL, kp, cp, NULL);
		goto out;
	}
	out_time(ephssh_jstr(o, "valid_before"), until, sizeof(until));
	out_left((int64_t)keys_lifetime(c, now), left, sizeof(left));
	printf("%s issued: ", id);
	json_array_foreach(hosts, i, v)
	    printf("%s%s", i > 0 ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
	printf(" as %s until %s (%s left)\n", as ? as : "?", until, left);
	if (kp != NULL)
		printf("wrote %s and %s (mode 0600), nothing added to an agent; connect with:\n",
		    kp, cp);
	else
		printf("key and certificate are in your ssh-agent until then; connect with:\n");
	print_ssh_lines(o, kp);
	rc = fflush(stdout) == 0 ? EPHSSH_EXIT_OK : EPHSSH_EXIT_FAIL;
out:
	agent_close(a);
	cert_free(c);
	free(kp);
	free(cp);
	return rc;
}

/* A request that is neither pending nor issued: say what became of it. */
static int
settled(struct ephssh *e, const json_t *o)
{
	const char *id = ephssh_jstr(o, "id"), *st = ephssh_jstr(o, "state");
	int rc = EPHSSH_EXIT_FAIL;

	if (is_state(o, "denied"))
		print_denial(e, o);
	else if (is_state(o, "expired"))
		rc = ephssh_error(e, EPHSSH_EXIT_TIMEOUT, "%s expired before it was approved", id);
	else
		ephssh_error(e, EPHSSH_EXIT_FAIL, "%s was %s", id, st ? st : "?");
	/* Denied, expired, cancelled, revoked: a saved key has no use left. */
	if (id != NULL)
		keys_pending_remove(id);
	if (e->json)
		(void)print_result(e, o, 0, NULL, NULL, NULL);
	return rc;
}

/* Read one answer line from the terminal: 1 for yes, 0 for anything
 * else, -1 when a second Ctrl-C (EINTR) or the end of input came first
 * (no newline was echoed). */
static int
ask_yes(void)
{
	char c, first = '\0';
	int got = 0;

	got_sigint = 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, &c, 1);

		if (n != 1 || got_sigint)
			return -1;
		if (c == '\n')
			break;
		if (!got && c != ' ')
			first = c;
		got = 1;
	}
	return first == 'y' || first == 'Y';
}

#define WAIT_ISSUED (-1) /* internal: the wait ended in an issued request */

/* Ctrl-C while waiting for *o. */
static int
interrupted(struct ephssh *e, json_t **o, const struct key *k, const struct want *w)
{
	const char *id = ephssh_jstr(*o, "id");
	struct capi_result res;
	char path[64];
	int rc, yes;

	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO) || e->json)
		return leave_pending(e, *o, k, w, EPHSSH_EXIT_FAIL, "left pending");
	fprintf(stderr, "cancel the request %s? [y/N] ", id);
	fflush(stderr);
	if ((yes = ask_yes()) != 1) {
		if (yes < 0)
			fputc('\n', stderr);
		return leave_pending(e, *o, k, w, EPHSSH_EXIT_FAIL, "left pending");
	}
	snprintf(path, sizeof(path), "/v1/requests/%s/cancel", id);
	rc = ephssh_call(e, "POST", path, NULL, (const long[]){409, 0}, &res);
	if (rc == EPHSSH_EXIT_OK && res.status == 409) {
		/* Decided meanwhile: what it became decides. */
		capi_result_clear(&res);
		snprintf(path, sizeof(path), "/v1/requests/%s", id);
		if ((rc = ephssh_call(e, "GET", path, NULL, NULL, &res)) != EPHSSH_EXIT_OK)
			goto out;
		json_decref(*o);
		*o = json_incref(res.body);
		rc = is_state(*o, "issued") ? WAIT_ISSUED : settled(e, *o);
		goto out;
	}
	if (rc != EPHSSH_EXIT_OK)
		goto out;
	keys_pending_remove(id);
	if (e->json)
		(void)print_result(e, res.body, 0, NULL, NULL, NULL);
	else
		printf("%s cancelled\n", id);
	rc = EPHSSH_EXIT_FAIL;
out:
	capi_result_clear(&res);
	return rc;
}

static int64_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/*
 * Wait for pending request *o (replaced by each newer answer).
 * WAIT_ISSUED when it was issued; otherwise the exit code, reported.
 */
static int
wait_for(struct ephssh *e, json_t **o, const struct key *k, const struct want *w)
{
	struct sigaction sa, old;
	struct status_line sl;
	struct capi_result res;
	char path[64], what[256], sid[16], id[32];
	int64_t start = mono_s(), next = start + POLL_SECONDS, expires = 0, el, polled = now_s();
	int rc;

	snprintf(id, sizeof(id), "%s", ephssh_jstr(*o, "id") != NULL ? ephssh_jstr(*o, "id") : "?");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint; /* no SA_RESTART: the sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	got_sigint = 0;
	status_init(&sl, e->err_tty);
	snprintf(path, sizeof(path), "/v1/requests/%s", id);
	short_id(id, sid, sizeof(sid));
	for (;;) {
		struct timespec one = {1, 0};

		if (got_sigint) {
			status_done(&sl);
			rc = interrupted(e, o, k, w);
			break;
		}
		if (mono_s() >= next) {
			rc = ephssh_call(e, "GET", path, NULL, NULL, &res);
			if (rc != EPHSSH_EXIT_OK) {
				capi_result_clear(&res);
				status_done(&sl);
				/* The CA may come back: keep what is needed to fetch. */
				if (rc == EPHSSH_EXIT_UNREACHABLE)
					rc = leave_pending(e, *o, k, w, rc, "may still be pending");
				break;
			}
			json_decref(*o);
			*o = json_incref(res.body);
			capi_result_clear(&res);
			next = mono_s() + POLL_SECONDS;
			polled = now_s();
			if (!is_state(*o, "pending")) {
				status_done(&sl);
				rc = is_state(*o, "issued") ? WAIT_ISSUED : settled(e, *o);
				break;
			}
		}
		/* Pending past its deadline: expired, whether or not the CA's
		 * sweep has marked it yet; but only once an answer from after
		 * the deadline says pending still (a last-second approval must
		 * not cost the key). */
		if (out_parse_time(ephssh_jstr(*o, "expires"), &expires) == 0 &&
		    now_s() >= expires && polled < expires) {
			next = mono_s();
			continue;
		}
		if (out_parse_time(ephssh_jstr(*o, "expires"), &expires) == 0 &&
		    polled >= expires) {
			status_done(&sl);
			rc = ephssh_error(
			    e, EPHSSH_EXIT_TIMEOUT, "%s expired before it was approved", id);
			keys_pending_remove(id);
			break;
		}
		el = mono_s() - start;
		if (e->conf.wait_timeout > 0 && el >= (int64_t)e->conf.wait_timeout) {
			char t[32];

			status_done(&sl);
			out_left(el, t, sizeof(t));
			ephssh_error(
			    e, EPHSSH_EXIT_TIMEOUT, "gave up waiting after %s (wait_timeout)", t);
			rc = leave_pending(e, *o, k, w, EPHSSH_EXIT_TIMEOUT, "still pending");
			break;
		}
		if (!e->json) {
			waiting_for(*o, what, sizeof(what));
			if (sl.tty)
				status_show(&sl, "%s \xc2\xb7 %lld:%02lld \xc2\xb7 %s", what,
				    (long long)(el / 60), (long long)(el % 60), sid);
			else
				status_show(&sl, "%s \xc2\xb7 %s", what, id);
		}
		nanosleep(&one, NULL);
	}
	sigaction(SIGINT, &old, NULL);
	return rc;
}

/* Before anything is sent: somewhere to put the key. */
static int
precheck(struct ephssh *e, const struct want *w)
{
	struct agent *a = NULL;
	char why[512];

	if (w->write_dir != NULL) {
		if (keys_write_dir_check(w->write_dir, why, sizeof(why)) != EPH_OK)
			return ephssh_error(e, EPHSSH_EXIT_FAIL, "--write: %s", why);
		return EPHSSH_EXIT_OK;
	}
	if (keys_agent_open(&a, why, sizeof(why)) != EPH_OK)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "%s", why);
	agent_close(a);
	return EPHSSH_EXIT_OK;
}

/* The object is issued: deliver. WAIT_ISSUED from a wait comes here. */
static int
finish(struct ephssh *e, const json_t *o, const struct key *k, const struct want *w)
{
	int spent, rc = deliver(e, o, k, w, &spent);

	if (spent)
		keys_pending_remove(ephssh_jstr(o, "id"));
	return rc;
}

/* ------------------------------------------------------------- request */

enum { OPT_HOST = 1, OPT_TTL, OPT_REASON, OPT_NO_WAIT, OPT_WRITE, OPT_LOGIN_AS, OPT_WAIT };

static int
cmd_request(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"host", required_argument, NULL, OPT_HOST},
	    {"ttl", required_argument, NULL, OPT_TTL},
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {"write", required_argument, NULL, OPT_WRITE},
	    {"login-as", required_argument, NULL, OPT_LOGIN_AS},
	    {NULL, 0, NULL, 0},
	};
	struct want w = {NULL, 0};
	struct capi_result res;
	struct key *k = NULL;
	json_t *hosts = json_array(), *body = NULL, *o = NULL;
	const char *reason = NULL, *login_as = NULL, *task, *notask;
	char *pub = NULL, why[512], ttl[32];
	int c, rc = EPHSSH_EXIT_OK, no_wait = 0, ttl_flag = 0;

	memset(&res, 0, sizeof(res));
	if (hosts == NULL)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1) {
		switch (c) {
		case EPHSSH_GETOPT_DONE: goto out;
		case OPT_HOST:
			if (*optarg == '\0') {
				rc = ephssh_usage_error(self, e, "--host needs a host name");
				goto out;
			}
			json_array_append_new(hosts, json_string(optarg));
			break;
		case OPT_TTL:
			if (parse_duration(optarg, &w.ttl) != EPH_OK || w.ttl == 0) {
				rc = ephssh_usage_error(
				    self, e, "--ttl '%s' is not a duration (10m, 1h30m)", optarg);
				goto out;
			}
			ttl_flag = 1;
			break;
		case OPT_REASON: reason = optarg; break;
		case OPT_NO_WAIT: no_wait = 1; break;
		case OPT_WRITE: w.write_dir = optarg; break;
		case OPT_LOGIN_AS: login_as = optarg; break;
		default: rc = ephssh_usage_error(self, e, "unexpected option"); goto out;
		}
	}
	if (optind >= argc) {
		rc = ephssh_usage_error(self, e, "a task name is needed");
		goto out;
	}
	if (optind + 1 != argc) {
		rc = ephssh_usage_error(self, e, "one task only (hosts go after --host)");
		goto out;
	}
	task = argv[optind];
	if (json_array_size(hosts) == 0) {
		rc = ephssh_usage_error(self, e, "name the hosts: --host HOST (one or more)");
		goto out;
	}
	if ((rc = ephssh_config(e)) != EPHSSH_EXIT_OK)
		goto out;
	if (!ttl_flag)
		w.ttl = e->conf.ttl;
	(void)keys_pending_sweep(now_s());
	if ((rc = precheck(e, &w)) != EPHSSH_EXIT_OK)
		goto out;
	if (no_wait) {
		char *dir = NULL;

		if (runtime_dir(&dir, why, sizeof(why)) != EPH_OK) {
			rc = ephssh_error(
			    e, EPHSSH_EXIT_FAIL, "--no-wait keeps the key meanwhile: %s", why);
			goto out;
		}
		free(dir);
	}

	if (key_generate(KEY_ED25519, 0, &k) != EPH_OK ||
	    key_format_public_line(k, NULL, &pub) != EPH_OK) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "cannot make a key");
		goto out;
	}
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "task", json_string(task)) != 0 ||
	    json_object_set(body, "hosts", hosts) != 0 ||
	    json_object_set_new(body, "public_key", json_string(pub)) != 0 ||
	    (reason != NULL && json_object_set_new(body, "reason", json_string(reason)) != 0) ||
	    (login_as != NULL &&
	        json_object_set_new(body, "login_as", json_string(login_as)) != 0)) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (w.ttl > 0) {
		format_duration(w.ttl, ttl, sizeof(ttl));
		if (json_object_set_new(body, "ttl", json_string(ttl)) != 0) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
			goto out;
		}
	}
	if ((rc = ephssh_call(e, "POST", "/v1/requests", body, (const long[]){403, 0}, &res)) !=
	    EPHSSH_EXIT_OK)
		goto out;
	o = json_incref(res.body);
	if (o == NULL || ephssh_jstr(o, "id") == NULL || ephssh_jstr(o, "state") == NULL) {
		/* A 403 without a request: the caller may not ask at all. */
		rc = ephssh_error(e, res.status == 403 ? EPHSSH_EXIT_NOTAUTH : EPHSSH_EXIT_FAIL,
		    "%s", res.detail[0] ? res.detail : "the CA's answer holds no request");
		goto out;
	}
	if (is_state(o, "denied") && (notask = unknown_task(o)) != NULL) {
		const char *near = strstr(notask, "(did you mean ");

		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "unknown task '%s'%s%.*s (%s)", task,
		    near != NULL ? ": " : "", near != NULL ? (int)(strlen(near) - 2) : 0,
		    near != NULL ? near + 1 : "", ephssh_jstr(o, "id"));
		if (e->json)
			(void)print_result(e, o, 0, NULL, NULL, NULL);
		goto out;
	}
	if (is_state(o, "pending")) {
		if (no_wait) {
			rc = leave_pending(e, o, k, &w, EPHSSH_EXIT_OK, "is pending");
			goto out;
		}
		if ((rc = wait_for(e, &o, k, &w)) != WAIT_ISSUED)
			goto out;
	}
	if (is_state(o, "issued"))
		rc = finish(e, o, k, &w);
	else
		rc = settled(e, o);
out:
	key_free(k); /* the secret is wiped by OpenSSL */
	free(pub);
	json_decref(o);
	json_decref(body);
	json_decref(hosts);
	capi_result_clear(&res);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_request = {"request", cmd_request,
    "[OPTIONS] TASK --host HOST...",
    "ask for a certificate for TASK, wait for approval, load it into ssh-agent",
    "      --host HOST        a host (or @hostgroup) to reach; repeat for more\n"
    "      --ttl DURATION     how long the certificate should live (10m, 1h30m;\n"
    "                         default: ttl in the configuration, else the task's)\n"
    "      --reason TEXT      why (some tasks require one)\n"
    "      --login-as USER    the account to log in as (default: the task's first)\n"
    "      --no-wait          send and return; pick it up later with 'ephssh fetch'\n"
    "      --write DIR        write key and certificate into DIR (0600) instead of\n"
    "                         adding them to ssh-agent\n"};

/* --------------------------------------------------------------- fetch */

static int
cmd_fetch(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"write", required_argument, NULL, OPT_WRITE},
	    {"wait", no_argument, NULL, OPT_WAIT},
	    {NULL, 0, NULL, 0},
	};
	struct want w = {NULL, 0};
	struct capi_result res;
	struct key *k = NULL;
	json_t *o = NULL;
	const char *id;
	char path[64], why[512];
	int c, rc = EPHSSH_EXIT_OK, wait = 0, r;

	memset(&res, 0, sizeof(res));
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1) {
		switch (c) {
		case EPHSSH_GETOPT_DONE: return rc;
		case OPT_WRITE: w.write_dir = optarg; break;
		case OPT_WAIT: wait = 1; break;
		default: return ephssh_usage_error(self, e, "unexpected option");
		}
	}
	if (optind + 1 != argc)
		return ephssh_usage_error(
		    self, e, optind >= argc ? "a request id is needed" : "one request id only");
	id = argv[optind];
	if (!ephssh_id_valid(id))
		return ephssh_usage_error(
		    self, e, "'%s' is not a request id (r- and 16 hex digits)", id);
	if ((rc = ephssh_config(e)) != EPHSSH_EXIT_OK)
		return rc;
	w.ttl = e->conf.ttl;
	(void)keys_pending_sweep(now_s());
	if ((rc = precheck(e, &w)) != EPHSSH_EXIT_OK)
		return rc;
	if ((r = keys_pending_load(id, now_s(), &k, why, sizeof(why))) != EPH_OK) {
		if (r == EPH_ERR_NOTFOUND)
			return ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "%s (made with 'ephssh request --no-wait' on another machine or "
			    "session, "
			    "fetched already, or past its time)",
			    why);
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "%s", why);
	}
	snprintf(path, sizeof(path), "/v1/requests/%s", id);
	if ((rc = ephssh_call(e, "GET", path, NULL, NULL, &res)) != EPHSSH_EXIT_OK)
		goto out;
	o = json_incref(res.body);
	if (is_state(o, "pending")) {
		if (!wait) {
			char what[256];

			waiting_for(o, what, sizeof(what));
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "%s is still pending: %s; fetch it once approved (or add --wait)", id,
			    what);
			if (e->json)
				(void)print_result(e, o, 0, NULL, NULL, NULL);
			goto out;
		}
		if ((rc = wait_for(e, &o, k, &w)) != WAIT_ISSUED)
			goto out;
	}
	if (is_state(o, "issued"))
		rc = finish(e, o, k, &w);
	else
		rc = settled(e, o);
out:
	key_free(k);
	json_decref(o);
	capi_result_clear(&res);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_fetch = {"fetch", cmd_fetch, "[OPTIONS] ID",
    "pick up a request approved after 'request --no-wait'",
    "      --wait             wait for approval when it is still pending\n"
    "      --write DIR        write key and certificate into DIR (0600) instead of\n"
    "                         adding them to ssh-agent\n"};

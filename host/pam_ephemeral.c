/*
 * pam_ephemeral.so: the session check of an ephemeral certificate login.
 * "session required pam_ephemeral.so [conf=FILE] [debug]", before
 * pam_env (which lets a user set SSH_AUTH_INFO_0): the certificate in
 * SSH_AUTH_INFO_0 must pass the host's check now, be the one
 * ephemeral-principals recorded for this sshd connection, and stay
 * within its grant's max_logins on this host.
 *
 * With host.conf's session_end (the default) each session it opens gets
 * a watchdog, ephemeral-watchdog, that ends the session when the
 * certificate expires or its serial appears in the KRL; a session whose
 * watchdog cannot be started is refused.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_SESSION
#define PAM_SM_ACCOUNT
#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "authinfo.h"
#include "err.h"
#include "events.h"
#include "hostcheck.h"
#include "log.h"
#include "logins.h"
#include "policy.h"
#include "spool.h"

#define IDENT "pam_ephemeral"
#define DEFAULT_CONF SYSCONFDIR "/ephemeral/host.conf"
#define DEFAULT_WATCHDOG EPHLIBEXECDIR "/ephemeral-watchdog"
#define WATCHDOG_FD 3 /* the control socket, in the watchdog */
#define WATCHDOG_WAIT_MS 5000 /* for its "ok" */
#define DATA_NAME "pam_ephemeral_session"
#define AUTH_INFO_VAR "SSH_AUTH_INFO_0"

#define MSG_NOT_PRESENTED "Access denied: the certificate was not the one presented to sshd."
#define MSG_MAX_LOGINS "Access denied: this certificate has been used for all its logins."
#define MSG_NOT_EPHEMERAL "Access denied: this host accepts only ephemeral certificate logins."
#define MSG_MALFORMED "Access denied: the login's authentication record is malformed."
#define MSG_SYSTEM "Access denied: the login could not be checked."

struct args {
	const char *conf;
	const char *watchdog;
	int debug;
#ifdef EPH_TEST
	/* The tests' clock; compiled only into the test build. */
	int has_now;
	uint64_t now;
#endif
};

/* What close_session needs of the session open_session allowed. */
struct session {
	uint64_t start;
	uint64_t serial;
	char grant[GRANT_MAX_FIELD_LEN + 1];
	char user[GRANT_MAX_FIELD_LEN + 1];
	char host[256];
	int lifeline; /* the watchdog's control socket, -1 without one */
};

static void
to_pam_syslog(int priority, const char *line, void *ctx)
{
	pam_syslog((pam_handle_t *)ctx, priority, "%s", line);
}

/* Unknown arguments are configuration errors: logged once, fail closed. */
static int
parse_args(pam_handle_t *pamh, int argc, const char **argv, struct args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->conf = DEFAULT_CONF;
	a->watchdog = DEFAULT_WATCHDOG;
	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "conf=", 5) == 0 && argv[i][5] != '\0')
			a->conf = argv[i] + 5;
		else if (strncmp(argv[i], "watchdog=", 9) == 0 && argv[i][9] == '/')
			a->watchdog = argv[i] + 9;
		else if (strcmp(argv[i], "debug") == 0)
			a->debug = 1;
#ifdef EPH_TEST
		else if (strncmp(argv[i], "test_now=", 9) == 0) {
			char *end;

			a->now = strtoull(argv[i] + 9, &end, 10);
			if (*end != '\0' || end == argv[i] + 9)
				goto bad;
			a->has_now = 1;
		}
#endif
		else
			goto bad;
	}
	return 0;
bad:
	pam_syslog(pamh, LOG_ERR, "unknown or malformed argument \"%s\"", argv[i]);
	return -1;
}

static uint64_t
clock_now(const struct args *a)
{
#ifdef EPH_TEST
	if (a->has_now)
		return a->now;
#else
	(void)a;
#endif
	return (uint64_t)time(NULL);
}

static const char *
item_str(pam_handle_t *pamh, int item)
{
	const void *v = NULL;

	if (pam_get_item(pamh, item, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

static int
service_watched(const struct host_conf *hc, const char *service)
{
	size_t i;

	if (service == NULL)
		return 1; /* cannot tell: check it */
	for (i = 0; i < hc->nservices; i++)
		if (strcmp(hc->services[i], service) == 0)
			return 1;
	return 0;
}

/* This host's name for the records (host.conf's first name), as
 * ephemeral-principals logs it: an auditor's timeline joins on it. */
static const char *
host_of(const struct host_conf *hc)
{
	return hc != NULL && hc->nnames > 0 ? hc->names[0] : NULL;
}

/* A refusal before or beside the certificate check. */
static void
log_refused(pam_handle_t *pamh, const struct host_conf *hc, const char *user, const char *reason,
    const struct hostcheck_result *res, const char *fmt_detail)
{
	struct log_field f[HOSTCHECK_LOG_FIELDS + 6];
	struct hostcheck_log hl;
	char pid[24];
	size_t n = 0, i;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (res != NULL) {
		hostcheck_log_fields(res, user, &hl);
		for (i = 0; i < hl.n; i++) {
			f[n] = hl.f[i];
			/* The reason is ours when the check itself passed. */
			if (strcmp(f[n].name, "EPH_REASON") == 0)
				f[n].value = reason;
			if (strcmp(f[n].name, "EPH_DECISION") == 0)
				f[n].value = "refused";
			n++;
		}
	} else {
		f[n++] = (struct log_field){"EPH_DECISION", "refused"};
		f[n++] = (struct log_field){"EPH_REASON", reason};
		f[n++] = (struct log_field){"EPH_USER", user};
	}
	f[n++] = (struct log_field){"SYSLOG_IDENTIFIER", IDENT};
	f[n++] = (struct log_field){"EPH_RHOST", item_str(pamh, PAM_RHOST)};
	f[n++] = (struct log_field){"EPH_SSHD_PID", pid};
	f[n++] = (struct log_field){"EPH_HOST", host_of(hc)};
	(void)eph_log(LOG_WARNING, HOST_MSGID_PAM_REFUSED, f, n, "session refused for %s: %s: %s",
	    user != NULL ? user : "(unknown)", reason, fmt_detail);
}

static void
cleanup_session(pam_handle_t *pamh, void *data, int error_status)
{
	struct session *s = data;

	(void)pamh;
	(void)error_status;
	if (s->lifeline >= 0)
		close(s->lifeline);
	free(s);
}

#ifndef EPH_TEST
/* sshd's rule for what it runs as root: a regular executable file,
 * it and every folder above it root-owned and not writable by group or
 * others. (The tests' build runs the watchdog from the build tree.) */
static int
watchdog_path_safe(const char *path, char *why, size_t len)
{
	char real[PATH_MAX], *p;
	struct stat st;

	if (realpath(path, real) == NULL || stat(real, &st) != 0) {
		snprintf(why, len, "watchdog %.200s: %s", path, strerror(errno));
		return 0;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		snprintf(why, len, "watchdog %.200s is not an executable file", path);
		return 0;
	}
	for (;;) {
		if (stat(real, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0) {
			snprintf(why, len,
			    "watchdog %.120s: %.120s is not root-owned or writable by group or "
			    "others",
			    path, real);
			return 0;
		}
		if (strcmp(real, "/") == 0)
			return 1;
		if ((p = strrchr(real, '/')) == real)
			p[1] = '\0';
		else
			*p = '\0';
	}
}
#endif

/* In the child: detach (a session of its own, then a second fork so
 * the watchdog is nobody's child here), reset what sshd set for itself
 * and start the watchdog with the control socket as WATCHDOG_FD. */
static void __attribute__((noreturn)) watchdog_exec(const char *path, char *const argv[], int fd)
{
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	struct sigaction dfl;
	sigset_t none;
	int sig, null;

	if (setsid() < 0)
		_exit(1);
	switch (fork()) {
	case -1: _exit(1);
	case 0: break;
	default: _exit(0);
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	if (fd != WATCHDOG_FD ? dup2(fd, WATCHDOG_FD) < 0 : fcntl(fd, F_SETFD, 0) < 0)
		_exit(1);
	if ((null = open("/dev/null", O_RDWR)) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(1);
#ifdef HAVE_CLOSE_RANGE
	if (close_range(WATCHDOG_FD + 1, ~0u, 0) != 0)
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);

		for (fd = WATCHDOG_FD + 1; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			(void)close(fd);
	}
	if (chdir("/") != 0)
		_exit(1);
	umask(022);
	execve(path, argv, envp);
	_exit(127);
}

/* Write all of text to fd (never SIGPIPE: that would end sshd). */
static int
send_all(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Start this session's watchdog and wait for its "ok": it then watches
 * the certificate m for the sshd process we run in. *fd_out gets the
 * lifeline the session keeps open; why gets the reason of a failure.
 */
static int
watchdog_start(const struct args *a, const char *user, const struct authinfo_method *m, int *fd_out,
    char *why, size_t len)
{
	char pid[24], reply[256], *line = NULL;
	char *argv[] = {
	    (char *)a->watchdog, "-f", (char *)a->conf, "--pid", pid, "--user", (char *)user, NULL};
	size_t got = 0;
	pid_t child, w;
	int sv[2] = {-1, -1}, st = 0, rc = -1;
	uint64_t waited = 0;

	*fd_out = -1;
#ifndef EPH_TEST
	if (!watchdog_path_safe(a->watchdog, why, len))
		return -1;
#endif
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (asprintf(&line, "%s %s\n", m->key_type, m->key_b64) < 0) {
		line = NULL;
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(why, len, "socketpair: %s", strerror(errno));
		goto out;
	}
	if ((child = fork()) < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0)
		watchdog_exec(a->watchdog, argv, sv[1]);
	close(sv[1]);
	sv[1] = -1;
	while ((w = waitpid(child, &st, 0)) < 0 && errno == EINTR)
		;
	if (w == child && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		snprintf(why, len, "watchdog %s: could not detach it", a->watchdog);
		goto out;
	}
	if (send_all(sv[0], line) != 0) {
		snprintf(why, len, "watchdog %s did not start (not executable?)", a->watchdog);
		goto out;
	}
	while (got < sizeof(reply) - 1 && memchr(reply, '\n', got) == NULL) {
		struct pollfd p = {sv[0], POLLIN, 0};
		ssize_t n;
		int pr;

		if (waited >= WATCHDOG_WAIT_MS) {
			snprintf(why, len, "watchdog %s did not answer within %d s", a->watchdog,
			    WATCHDOG_WAIT_MS / 1000);
			goto out;
		}
		if ((pr = poll(&p, 1, 100)) < 0 && errno != EINTR) {
			snprintf(why, len, "poll: %s", strerror(errno));
			goto out;
		}
		if (pr <= 0) {
			waited += 100;
			continue;
		}
		if ((n = read(sv[0], reply + got, sizeof(reply) - 1 - got)) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, len, "watchdog %s exited without an answer (not executable?)",
			    a->watchdog);
			goto out;
		}
		got += (size_t)n;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (strcmp(reply, "ok") != 0) {
		snprintf(why, len, "watchdog %s: %.200s", a->watchdog, reply);
		goto out;
	}
	*fd_out = sv[0];
	sv[0] = -1;
	rc = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(line);
	return rc;
}

static int
start_session(pam_handle_t *pamh, const struct host_conf *hc, const struct hostcheck_result *res,
    const char *user, uint64_t now, uint64_t logins, int lifeline)
{
	struct log_field f[HOSTCHECK_LOG_FIELDS + 8];
	struct hostcheck_log hl;
	struct session *s;
	char pid[24], nlogins[24];
	size_t n;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		if (lifeline >= 0)
			close(lifeline);
		return PAM_BUF_ERR;
	}
	s->lifeline = lifeline;
	s->start = now;
	s->serial = res->serial;
	snprintf(s->grant, sizeof(s->grant), "%s", res->grant.id != NULL ? res->grant.id : "");
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->host, sizeof(s->host), "%s", host_of(hc) != NULL ? host_of(hc) : "");
	if (pam_set_data(pamh, DATA_NAME, s, cleanup_session) != PAM_SUCCESS) {
		cleanup_session(pamh, s, 0);
		return PAM_BUF_ERR;
	}
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(nlogins, sizeof(nlogins), "%" PRIu64, logins);
	hostcheck_log_fields(res, user, &hl);
	memcpy(f, hl.f, hl.n * sizeof(f[0]));
	n = hl.n;
	f[n++] = (struct log_field){"SYSLOG_IDENTIFIER", IDENT};
	f[n++] = (struct log_field){"EPH_RHOST", item_str(pamh, PAM_RHOST)};
	f[n++] = (struct log_field){"EPH_TTY", item_str(pamh, PAM_TTY)};
	f[n++] = (struct log_field){"EPH_SSHD_PID", pid};
	f[n++] = (struct log_field){"EPH_LOGINS", logins > 0 ? nlogins : NULL};
	f[n++] = (struct log_field){"EPH_WATCHDOG", lifeline >= 0 ? "yes" : "no"};
	f[n++] = (struct log_field){"EPH_HOST", host_of(hc)};
	(void)eph_log(LOG_INFO, HOST_MSGID_PAM_SESSION_START, f, n,
	    "session start for %s: grant %s serial %" PRIu64 " task %s requester %s approvers %s",
	    user, s->grant, res->serial, res->grant.task != NULL ? res->grant.task : "",
	    res->grant.requester != NULL ? res->grant.requester : "",
	    res->approvers != NULL ? res->approvers : "");
	return PAM_SUCCESS;
}

static int
refuse(pam_handle_t *pamh, const char *msg)
{
	(void)pam_error(pamh, "%s", msg);
	return PAM_PERM_DENIED;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct args a;
	struct host_conf *hc = NULL;
	struct policy_errors errs = {NULL, 0};
	struct authinfo ai = {NULL, 0};
	const struct authinfo_method *m = NULL;
	struct hostcheck_request req;
	struct hostcheck_result res;
	struct spool_conn conn;
	const char *user = NULL, *info;
	char *why = NULL;
	char why_wd[HOSTCHECK_DETAIL_MAX];
	uint64_t now, logins = 0;
	int have_res = 0, lifeline = -1, r, rv = PAM_SESSION_ERR;

	(void)flags;
	eph_log_set_syslog(to_pam_syslog, pamh);
	if (parse_args(pamh, argc, argv, &a) != 0)
		goto out;
	now = clock_now(&a);
	if (hostconf_load(a.conf, &hc, &errs) != EPH_OK) {
		why = policy_errors_format(&errs);
		pam_syslog(pamh, LOG_ERR, "%s: %s", a.conf, why != NULL ? why : "cannot load");
		rv = PAM_SYSTEM_ERR;
		goto out;
	}
	if (!service_watched(hc, item_str(pamh, PAM_SERVICE))) {
		rv = PAM_IGNORE;
		goto out;
	}
	if (pam_get_item(pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS || user == NULL ||
	    *user == '\0') {
		pam_syslog(pamh, LOG_ERR, "no PAM_USER");
		rv = PAM_SESSION_ERR;
		goto out;
	}
	info = pam_getenv(pamh, AUTH_INFO_VAR);
	if ((r = authinfo_parse(info != NULL ? info : "", &ai)) != EPH_OK) {
		rv = r == EPH_ERR_NOMEM ? PAM_BUF_ERR : refuse(pamh, MSG_MALFORMED);
		log_refused(pamh, hc, user, "malformed_auth_info", NULL, eph_strerror(r));
		goto out;
	}
	if ((r = authinfo_find_cert(&ai, &m)) == EPH_ERR_NOTFOUND) {
		/* No certificate in the variable, yet sshd's own check of this
		 * connection accepted one (the spool has it): sshd is not
		 * exposing it (ExposeAuthInfo no) or something removed it.
		 * Never let that skip the checks below. */
		struct spool_entry se;
		size_t nse = 0;

		if (spool_conn_of(getpid(), &conn) == EPH_OK &&
		    spool_read(hc->state_dir, &conn, &se, 1, &nse) == EPH_OK && nse > 0) {
			rv = refuse(pamh, MSG_SYSTEM);
			log_refused(pamh, hc, user, "no_auth_info", NULL,
			    "ephemeral-principals accepted a certificate on this connection "
			    "but " AUTH_INFO_VAR
			    " names none: set ExposeAuthInfo yes in sshd_config");
			goto out;
		}
		if (hc->non_ephemeral == HOST_NON_EPHEMERAL_IGNORE) {
			if (a.debug)
				pam_syslog(
				    pamh, LOG_DEBUG, "no certificate login for %s: ignored", user);
			rv = PAM_IGNORE;
			goto out;
		}
		rv = refuse(pamh, MSG_NOT_EPHEMERAL);
		log_refused(
		    pamh, hc, user, "not_ephemeral", NULL, "no certificate in " AUTH_INFO_VAR);
		goto out;
	}
	if (r != EPH_OK) {
		rv = refuse(pamh, MSG_MALFORMED);
		log_refused(pamh, hc, user, "malformed_auth_info", NULL, eph_strerror(r));
		goto out;
	}

	req = (struct hostcheck_request){hc, user, m->key_type, m->key_b64, now};
	have_res = 1;
	if (hostcheck_cert(&req, &res) != HOSTCHECK_OK) {
		rv = res.decision == HOSTCHECK_SYSTEM
		    ? PAM_SYSTEM_ERR
		    : refuse(pamh, hostcheck_user_message(res.decision));
		log_refused(
		    pamh, hc, user, hostcheck_decision_name(res.decision), &res, res.detail);
		goto out;
	}
	/* The variable alone proves nothing (pam_env lets a user set it):
	 * sshd's own check of this connection must have seen this serial. */
	if ((r = spool_conn_of(getpid(), &conn)) == EPH_OK) {
		r = spool_lookup(hc->state_dir, &conn, user, res.serial);
		/* Checked once: the entry has served (a later session of this
		 * connection would need sshd to check a certificate again). */
		(void)spool_remove(hc->state_dir, &conn);
	}
	if (r != EPH_OK && r != EPH_ERR_NOTFOUND) {
		/* Not the user's doing: the spool or /proc could not be read. */
		rv = refuse(pamh, MSG_SYSTEM);
		log_refused(pamh, hc, user, "spool", &res,
		    "the spool could not be read: state_dir/" SPOOL_SUBDIR
		    " must be owned by the AuthorizedPrincipalsCommandUser, mode 0700, and /proc "
		    "mounted without hidepid");
		goto out;
	}
	if (r != EPH_OK) {
		rv = refuse(pamh, MSG_NOT_PRESENTED);
		log_refused(pamh, hc, user, "not_presented", &res, eph_strerror(r));
		goto out;
	}
	/* The watchdog before the count: a session that cannot be ended in
	 * time is refused without using up a login. */
	if (hc->session_end &&
	    watchdog_start(&a, user, m, &lifeline, why_wd, sizeof(why_wd)) != 0) {
		rv = refuse(pamh, MSG_SYSTEM);
		/* Say what to do: the watchdog in place, or no session end. */
		snprintf(why_wd + strlen(why_wd), sizeof(why_wd) - strlen(why_wd),
		    "; without it the session could outlive its grant: put ephemeral-watchdog in "
		    "place, or set session_end = false in host.conf");
		log_refused(pamh, hc, user, "watchdog", &res, why_wd);
		goto out;
	}
	if (res.grant.max_logins > 0) {
		r = logins_take(hc->state_dir, res.serial, res.grant.max_logins, &logins);
		if (r == EPH_ERR_RANGE) {
			rv = refuse(pamh, MSG_MAX_LOGINS);
			log_refused(pamh, hc, user, "max_logins", &res, "max_logins used up");
			goto out;
		}
		if (r != EPH_OK) {
			rv = refuse(pamh, MSG_SYSTEM);
			log_refused(pamh, hc, user, "login_count", &res, eph_strerror(r));
			goto out;
		}
	}
	rv = start_session(pamh, hc, &res, user, now, logins, lifeline);
	lifeline = -1; /* the session's now (or closed) */
out:
	/* A refused session's watchdog reads end-of-file and exits. */
	if (lifeline >= 0)
		close(lifeline);
	if (have_res)
		hostcheck_result_clear(&res);
	authinfo_clear(&ai);
	policy_errors_clear(&errs);
	free(why);
	hostconf_free(hc);
	eph_log_set_syslog(NULL, NULL);
	return rv;
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct args a;
	const void *d = NULL;
	struct session *s;
	char serial[24], dur[24];
	uint64_t now;

	(void)flags;
	if (parse_args(pamh, argc, argv, &a) != 0)
		return PAM_SESSION_ERR;
	if (pam_get_data(pamh, DATA_NAME, &d) != PAM_SUCCESS || d == NULL)
		return PAM_IGNORE;
	s = (struct session *)d;
	now = clock_now(&a);
	snprintf(serial, sizeof(serial), "%" PRIu64, s->serial);
	snprintf(dur, sizeof(dur), "%" PRIu64, now > s->start ? now - s->start : 0);
	const struct log_field f[] = {
	    {"SYSLOG_IDENTIFIER", IDENT},
	    {"EPH_USER", s->user},
	    {"EPH_SERIAL", serial},
	    {"EPH_GRANT", s->grant},
	    {"EPH_DURATION", dur},
	    {"EPH_HOST", s->host[0] != '\0' ? s->host : NULL},
	};
	eph_log_set_syslog(to_pam_syslog, pamh);
	(void)eph_log(LOG_INFO, HOST_MSGID_PAM_SESSION_END, f, sizeof(f) / sizeof(f[0]),
	    "session end for %s: grant %s serial %s after %s s", s->user, s->grant, serial, dur);
	eph_log_set_syslog(NULL, NULL);
	/* The watchdog's lifeline: it exits now rather than at sshd's exit. */
	if (s->lifeline >= 0) {
		close(s->lifeline);
		s->lifeline = -1;
	}
	return PAM_SUCCESS;
}

/*
 * sshd runs no PAM auth for a publickey login and runs account before
 * SSH_AUTH_INFO_0 exists, so neither phase can see the certificate: the
 * whole decision is in the session phase, and these entry points stay
 * out of the stack's result.
 */
PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return pam_sm_setcred(pamh, flags, argc, argv);
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return pam_sm_setcred(pamh, flags, argc, argv);
}

/*
 * ephemeral-watchdog: ends one ephemeral session when its certificate
 * expires or is revoked. pam_ephemeral starts it (detached, in a session
 * of its own) for each session it opens, with a control socket as fd 3:
 * the module writes "CERTTYPE BASE64\n", the watchdog answers "ok\n"
 * once it watches (or "error TEXT\n"), and the socket then stays open
 * as the session's lifeline: when sshd's process closes it (PAM's
 * close_session, or its exit), the watchdog exits without a word.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "b64.h"
#include "cert.h"
#include "err.h"
#include "events.h"
#include "grant.h"
#include "key.h"
#include "log.h"
#include "policy.h"
#include "spool.h"
#include "watchdog.h"

#define IDENT "ephemeral-watchdog"
#define LOG_IDENT "pam_ephemeral" /* it acts for the module */
#define DEFAULT_CONF SYSCONFDIR "/ephemeral/host.conf"
#define CONTROL_FD 3
#define HANDSHAKE_MS 5000

#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " IDENT " [-f FILE] --pid PID --user USER [--krl-interval SECONDS]\n"
	    "       " IDENT " --help | --version\n"
	    "\n"
	    "Started by pam_ephemeral for each session it opens (host.conf session_end),\n"
	    "with its control socket as file descriptor 3; not meant to be run by hand.\n"
	    "Ends the session of sshd process PID (SIGTERM, then SIGKILL after %d s)\n"
	    "when the certificate expires or host.conf's revoked_keys revokes it, and\n"
	    "exits as soon as the session ends by itself.\n"
	    "\n"
	    "  -f, --config FILE        host.conf (default " DEFAULT_CONF ")\n"
	    "      --pid PID            the sshd process that ran the PAM session\n"
	    "      --user USER          the session's local account\n"
	    "      --krl-interval SECS  how often to look at the KRL file (default %d)\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            the version\n",
	    WATCHDOG_GRACE, WATCHDOG_KRL_INTERVAL);
}

/* One line from the control socket within the handshake's time. */
static int
read_line(int fd, char *buf, size_t cap)
{
	uint64_t deadline = (uint64_t)time(NULL) + HANDSHAKE_MS / 1000;
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t got;

		if ((uint64_t)time(NULL) > deadline)
			return EPH_ERR_IO;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((got = read(fd, buf + n, cap - 1 - n)) < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return EPH_ERR_IO;
		n += (size_t)got;
		if (memchr(buf, '\n', n) != NULL) {
			*(char *)memchr(buf, '\n', n) = '\0';
			return EPH_OK;
		}
	}
	return EPH_ERR_TOOLARGE;
}

static void
answer(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static int
refuse(int fd, const char *why)
{
	char line[512];

	snprintf(line, sizeof(line), "error %s\n", why);
	answer(fd, line);
	return 1;
}

static int
parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v <= 1 || v > 0x3fffffffL)
		return -1;
	*out = (pid_t)v;
	return 0;
}

static void
log_terminated(enum watchdog_end end, const char *detail, const char *host, const char *user,
    pid_t pid, const struct cert *c, const struct grant *g)
{
	char serial[24], spid[24], vb[24], lag[24];
	uint64_t now = (uint64_t)time(NULL);

	snprintf(serial, sizeof(serial), "%" PRIu64, c->serial);
	snprintf(spid, sizeof(spid), "%ld", (long)pid);
	snprintf(vb, sizeof(vb), "%" PRIu64, c->valid_before);
	snprintf(lag, sizeof(lag), "%" PRIu64, now > c->valid_before ? now - c->valid_before : 0);
	const struct log_field f[] = {
	    {"SYSLOG_IDENTIFIER", LOG_IDENT},
	    {"EPH_DECISION", "terminated"},
	    {"EPH_REASON", watchdog_end_name(end)},
	    {"EPH_USER", user},
	    {"EPH_SERIAL", serial},
	    {"EPH_KEY_ID", c->key_id},
	    {"EPH_GRANT", g->id},
	    {"EPH_TASK", g->task},
	    {"EPH_REQUESTER", g->requester},
	    {"EPH_VALID_BEFORE", vb},
	    {"EPH_SSHD_PID", spid},
	    {"EPH_HOST", host},
	    {"EPH_LAG", end == WATCHDOG_EXPIRED ? lag : NULL},
	};
	(void)eph_log(end == WATCHDOG_EXPIRED ? LOG_NOTICE : LOG_WARNING,
	    HOST_MSGID_PAM_SESSION_TERMINATED, f, sizeof(f) / sizeof(f[0]),
	    "session terminated for %s: grant %s serial %s: %s: %s", user,
	    g->id != NULL ? g->id : "", serial, watchdog_end_name(end), detail);
}

/* After the end: what it took, when more than SIGTERM did. */
static void
log_ended(
    const char *host, const char *user, const struct cert *c, const struct watchdog_ended *ended)
{
	char serial[24], sig[24], killed[24], told[24];

	snprintf(serial, sizeof(serial), "%" PRIu64, c->serial);
	snprintf(sig, sizeof(sig), "%zu", ended->signalled);
	snprintf(killed, sizeof(killed), "%zu", ended->killed);
	snprintf(told, sizeof(told), "%zu", ended->notified);
	const struct log_field f[] = {
	    {"SYSLOG_IDENTIFIER", LOG_IDENT},
	    {"EPH_USER", user},
	    {"EPH_SERIAL", serial},
	    {"EPH_HOST", host},
	    {"EPH_SIGNALLED", sig},
	    {"EPH_KILLED", killed},
	    {"EPH_NOTIFIED", told},
	};
	(void)eph_log(LOG_WARNING, NULL, f, sizeof(f) / sizeof(f[0]),
	    "session of %s (serial %s) ended: %zu processes did not leave on SIGTERM/SIGHUP "
	    "within %d s and were killed",
	    user, serial, ended->killed, WATCHDOG_GRACE);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"pid", required_argument, NULL, 'p'},
	    {"user", required_argument, NULL, 'u'},
	    {"krl-interval", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static char line[WATCHDOG_LINE_MAX];
	struct policy_errors errs = {NULL, 0};
	struct host_conf *hc = NULL;
	struct cert *c = NULL;
	struct grant g;
	struct buf blob;
	struct spool_conn conn;
	struct watchdog_watch w;
	struct watchdog_ended ended;
	struct passwd *pw;
	struct stat st;
	const struct cert_opt *o;
	const char *conf = DEFAULT_CONF, *user = NULL, *type, *host;
	char *sp, detail[512], notice[256];
	unsigned interval = WATCHDOG_KRL_INTERVAL;
	pid_t pid = 0;
	uid_t uid;
	enum watchdog_end end;
	int ch, r, rc = 1;

	memset(&g, 0, sizeof(g));
	buf_init(&blob);
	if (OPENSSL_init_crypto(
	        OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL) != 1)
		return 1;
	while ((ch = getopt_long(argc, argv, "+f:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': conf = optarg; break;
		case 'p':
			if (parse_pid(optarg, &pid) != 0) {
				fprintf(stderr, IDENT ": --pid: not a process id: %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'u': user = optarg; break;
		case 'k': {
			char *rest;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &rest, 10);
			if (errno != 0 || *rest != '\0' || v < 1 || v > 60) {
				fprintf(stderr, IDENT ": --krl-interval: 1 to 60 seconds\n");
				return EXIT_USAGE;
			}
			interval = (unsigned)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf(IDENT " " PACKAGE_VERSION "\n"); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || pid == 0 || user == NULL) {
		fprintf(stderr, IDENT ": --pid and --user are required, and nothing else\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (fstat(CONTROL_FD, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
		    IDENT ": no control socket on descriptor %d: pam_ephemeral starts "
		          "this program, not a person\n",
		    CONTROL_FD);
		return EXIT_USAGE;
	}
	openlog(LOG_IDENT, LOG_PID, LOG_AUTHPRIV);

	if ((r = read_line(CONTROL_FD, line, sizeof(line))) != EPH_OK)
		return refuse(CONTROL_FD, "no certificate from the module");
	if ((sp = strchr(line, ' ')) == NULL)
		return refuse(CONTROL_FD, "malformed handshake");
	*sp = '\0';
	if ((r = b64_decode(sp + 1, strlen(sp + 1), &blob)) != EPH_OK ||
	    (r = cert_parse(blob.d, blob.len, &c)) != EPH_OK) {
		buf_free(&blob);
		return refuse(CONTROL_FD, "the certificate does not parse");
	}
	buf_free(&blob);
	type = key_cert_type_name(c->key->type);
	if (type == NULL || strcmp(type, line) != 0) {
		rc = refuse(CONTROL_FD, "the certificate is not of its stated type");
		goto out;
	}
	if ((o = cert_find_extension(c, GRANT_EXTENSION)) != NULL) {
		const uint8_t *p;
		size_t n;

		if (cert_opt_value(o, &p, &n) != EPH_OK || grant_decode(p, n, &g) != EPH_OK)
			memset(&g, 0, sizeof(g));
	}
	if ((r = hostconf_load(conf, &hc, &errs)) != EPH_OK) {
		rc = refuse(CONTROL_FD, "host.conf does not load");
		goto out;
	}
	if ((pw = getpwnam(user)) == NULL) {
		rc = refuse(CONTROL_FD, "no such local account");
		goto out;
	}
	uid = pw->pw_uid;
	if (spool_conn_of(pid, &conn) != EPH_OK) {
		rc = refuse(CONTROL_FD, "the sshd process is not there");
		goto out;
	}
	answer(CONTROL_FD, "ok\n");

	w = (struct watchdog_watch){
	    pid, conn.start, CONTROL_FD, c, hc->revoked_keys, interval * 1000u};
	end = watchdog_watch(&w, detail, sizeof(detail));
	rc = 0;
	if (end == WATCHDOG_GONE)
		goto out;
	snprintf(notice, sizeof(notice),
	    "\r\n\aephemeral: the grant of this session %s; the session ends now.\r\n",
	    end == WATCHDOG_EXPIRED       ? "has expired"
	        : end == WATCHDOG_REVOKED ? "was revoked"
	                                  : "can no longer be checked");
	/* The decision first, so a log read in order has the cause before
	 * the session's end that sshd then logs. */
	host = hc->nnames > 0 ? hc->names[0] : NULL;
	log_terminated(end, detail, host, user, pid, c, &g);
	if (watchdog_end_session(pid, conn.start, uid, notice, WATCHDOG_GRACE * 1000u, &ended) ==
	        EPH_OK &&
	    ended.killed > 0)
		log_ended(host, user, c, &ended);
out:
	grant_clear(&g);
	cert_free(c);
	hostconf_free(hc);
	policy_errors_clear(&errs);
	return rc;
}

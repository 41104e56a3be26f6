/* ephemeral-krl-sync: keep the host's KRL (host.conf revoked_keys, sshd's
 * RevokedKeys) in step with the CA's, failing closed; or, with --init,
 * write an empty one so sshd accepts certificates before the first sync. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "err.h"
#include "krlfetch.h"
#include "krlstate.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define PROG "ephemeral-krl-sync"
#define DEFAULT_HOST_CONF SYSCONFDIR "/ephemeral/host.conf"

/* Stable journald MESSAGE_IDs (journalctl MESSAGE_ID=...): random
 * 128-bit values chosen once; never change one. */
#define KRLSYNC_MSGID_UPDATED "801f18cbc42889bfcf0615bb9c81770b"
#define KRLSYNC_MSGID_UNCHANGED "b3cd606f860cd794a8fc7028251fa59c"
#define KRLSYNC_MSGID_REFUSED "376f0d9aed66f794dfd7cc474f19bede"
#define KRLSYNC_MSGID_FAILED "f8f3bbb3eb96f5ced22e0ab86d4a8af8"
#define KRLSYNC_MSGID_INIT "c060bdac39ccab79f974694347b624a3"

/* Exit codes. */
#define EXIT_SYNC_OK 0 /* updated, unchanged, or --init done */
#define EXIT_SYNC_FAIL 1 /* nothing replaced: the KRL in place stays */
#define EXIT_SYNC_USAGE 2 /* bad arguments or host.conf */

#define MAX_TIMEOUT 3600

struct args {
	const char *conf;
	const char *url;
	const char *ca_bundle;
	long timeout;
	int init;
	int if_configured;
	int quiet;
};

struct run {
	const struct args *a;
	const char *krl; /* revoked_keys */
	const char *url;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-f HOST.CONF] [--url URL] [--ca-bundle FILE]\n"
	    "                          [--timeout SECONDS] [--if-configured] [--quiet]\n"
	    "       " PROG " [-f HOST.CONF] --init [--quiet]\n"
	    "       " PROG " --help | --version\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	       "Fetch the CA's key revocation list and put it in place of host.conf's\n"
	       "revoked_keys (sshd's RevokedKeys) atomically. A KRL that does not parse,\n"
	       "is older than the one in place, or cannot be fetched is refused: the KRL\n"
	       "in place stays and the exit status is 1. Runs from a timer every minute.\n"
	       "\n"
	       "sshd refuses every certificate login while the RevokedKeys file is missing:\n"
	       "run '" PROG " --init' once when setting a host up.\n"
	       "\n"
	       "Options:\n"
	       "  -f, --config FILE    host.conf (default " DEFAULT_HOST_CONF ")\n"
	       "  -u, --url URL        where the KRL is (default: host.conf krl_url):\n"
	       "                       https://HOST[:PORT]/v1/krl, http:// to a loopback\n"
	       "                       address only, file:///PATH, or unix:/SOCKET for the\n"
	       "                       CA's own socket on the CA host\n"
	       "      --ca-bundle FILE https: trust these CA certificates (PEM) instead of\n"
	       "                       the system's\n"
	       "      --timeout SECONDS  give up on the fetch after this long (default %ld;\n"
	       "                       connecting: at most %ld)\n"
	       "      --init           write an empty KRL (version 0) when there is none,\n"
	       "                       and fetch nothing; an existing file is left alone\n"
	       "      --if-configured  without --url, and host.conf has no krl_url: do\n"
	       "                       nothing and exit 0 (the cron line, on a host not\n"
	       "                       set up yet)\n"
	       "  -q, --quiet          nothing on stderr (the log still has every run)\n"
	       "  -h, --help           show this help\n"
	       "      --version        show the version\n"
	       "\n"
	       "Exit status: 0 updated, unchanged, --init done, or nothing to do\n"
	       "(--if-configured); 1 nothing was replaced\n"
	       "(fetch failed or KRL refused); 2 bad arguments or host.conf.\n",
	    KRLFETCH_DEFAULT_TIMEOUT, KRLFETCH_CONNECT_TIMEOUT);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EXIT_SYNC_USAGE;
}

/* One event: the log record, and the same words on stderr unless quiet.
 * SYSLOG_IDENTIFIER by hand: sd_journal_send sets none, and
 * journalctl -t matches only it. */
static void __attribute__((format(printf, 6, 7))) report(const struct run *run, int prio,
    const char *msgid, const struct log_field *extra, size_t nextra, const char *fmt, ...)
{
	struct log_field f[8];
	char *msg = NULL;
	size_t n = 0, i;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		msg = NULL;
	f[n++] = (struct log_field){"SYSLOG_IDENTIFIER", PROG};
	f[n++] = (struct log_field){"EPH_KRL_FILE", run->krl};
	f[n++] = (struct log_field){"EPH_KRL_URL", run->url};
	for (i = 0; i < nextra && n < sizeof(f) / sizeof(f[0]); i++)
		f[n++] = extra[i];
	(void)eph_log(prio, msgid, f, n, "%s", msg != NULL ? msg : fmt);
	if (!run->a->quiet)
		fprintf(stderr, PROG ": %s\n", msg != NULL ? msg : fmt);
	free(msg);
}

/* A failure: what failed and why; kept says the KRL in place stays. */
static void
report_failed(const struct run *run, const char *what, const char *why, int kept)
{
	struct log_field f[] = {{"EPH_REASON", why}};

	if (kept)
		report(run, LOG_ERR, KRLSYNC_MSGID_FAILED, f, 1, "%s: %s; %s kept", what, why,
		    run->krl);
	else
		report(run, LOG_ERR, KRLSYNC_MSGID_FAILED, f, 1, "%s: %s; nothing done", what, why);
}

static const char *
errno_or(int r)
{
	return r == EPH_ERR_IO && errno != 0 ? strerror(errno) : eph_strerror(r);
}

static int
do_init(const struct run *run)
{
	int created = 0, r;

	if ((r = krlsync_init(run->krl, (uint64_t)time(NULL), &created)) != EPH_OK) {
		report_failed(run, "--init: cannot write an empty KRL", errno_or(r), 0);
		return EXIT_SYNC_FAIL;
	}
	if (created)
		report(run, LOG_NOTICE, KRLSYNC_MSGID_INIT, NULL, 0,
		    "%s: wrote an empty KRL (version 0); the next sync replaces it", run->krl);
	else
		report(
		    run, LOG_INFO, KRLSYNC_MSGID_INIT, NULL, 0, "%s exists: left alone", run->krl);
	return EXIT_SYNC_OK;
}

static int
do_sync(const struct run *run)
{
	struct krlsync_current cur;
	struct krlsync_decision d;
	struct krlfetch_opts o = {0};
	struct krlfetch_result res;
	char vnew[24], vold[24], nser[24], why[600];
	int r, rc = EXIT_SYNC_FAIL;

	memset(&res, 0, sizeof(res));
	buf_init(&res.body);
	if ((r = krlsync_current_read(run->krl, &cur)) != EPH_OK) {
		report_failed(run, "cannot read the KRL in place", eph_strerror(r), 1);
		goto out;
	}
	if (!cur.present && !cur.missing) {
		(void)snprintf(why, sizeof(why), "%s",
		    cur.err == EPH_ERR_IO && cur.sys_errno != 0 ? strerror(cur.sys_errno)
		                                                : eph_strerror(cur.err));
		report(run, LOG_WARNING, NULL, (struct log_field[]){{"EPH_REASON", why}}, 1,
		    "the KRL in place %s is unusable (%s): the CA's replaces it", run->krl, why);
	}
	(void)snprintf(vold, sizeof(vold), "%llu", (unsigned long long)cur.version);
	o.url = run->url;
	o.ca_bundle = run->a->ca_bundle;
	o.timeout = run->a->timeout;
	o.conditional = cur.present;
	o.version = cur.version;
	o.max = KRLSYNC_MAX_SIZE;
	if (krlfetch_get(&o, &res) != EPH_OK) {
		report_failed(run, "fetch failed", res.why, 1);
		goto out;
	}
	if (res.status == KRLFETCH_NOT_MODIFIED) {
		/* LOG_DEBUG: this is every host, every minute. */
		report(run, LOG_DEBUG, KRLSYNC_MSGID_UNCHANGED,
		    (struct log_field[]){{"EPH_KRL_VERSION", vold}}, 1,
		    "KRL version %s is current (not modified)", vold);
		rc = EXIT_SYNC_OK;
		goto out;
	}
	if ((r = krlsync_decide(&cur, res.body.d, res.body.len, &d)) != EPH_OK) {
		report_failed(run, "cannot check the fetched KRL", eph_strerror(r), 1);
		goto out;
	}
	(void)snprintf(vnew, sizeof(vnew), "%llu", (unsigned long long)d.version);
	(void)snprintf(nser, sizeof(nser), "%llu", (unsigned long long)d.serials);
	switch (d.verdict) {
	case KRLSYNC_REPLACE: break;
	case KRLSYNC_SAME:
		report(run, LOG_DEBUG, KRLSYNC_MSGID_UNCHANGED,
		    (struct log_field[]){{"EPH_KRL_VERSION", vold}}, 1,
		    "KRL version %s is current (same bytes)", vold);
		rc = EXIT_SYNC_OK;
		goto out;
	case KRLSYNC_REFUSE_OLDER:
		(void)snprintf(why, sizeof(why),
		    "version %s is older than version %s in place (a replayed KRL must not "
		    "un-revoke)",
		    vnew, vold);
		break;
	case KRLSYNC_REFUSE_CONFLICT:
		(void)snprintf(why, sizeof(why),
		    "version %s differs from the KRL in place of the same version", vnew);
		break;
	case KRLSYNC_REFUSE_MALFORMED:
		(void)snprintf(why, sizeof(why), "%zu bytes that are not a KRL: %s", res.body.len,
		    eph_strerror(d.err));
		break;
	case KRLSYNC_REFUSE_TOOLARGE:
		(void)snprintf(
		    why, sizeof(why), "%zu bytes, over %u", res.body.len, KRLSYNC_MAX_SIZE);
		break;
	}
	if (d.verdict != KRLSYNC_REPLACE) {
		report(run, LOG_ERR, KRLSYNC_MSGID_REFUSED,
		    (struct log_field[]){{"EPH_REASON", why},
		        {"EPH_KRL_VERSION", d.err == 0 ? vnew : NULL},
		        {"EPH_KRL_OLD_VERSION", cur.present ? vold : NULL}},
		    3, "refused the CA's KRL: %s; %s kept", why, run->krl);
		goto out;
	}
	if ((r = krlsync_install(run->krl, res.body.d, res.body.len)) != EPH_OK) {
		report_failed(run, "cannot write the KRL", errno_or(r), 1);
		goto out;
	}
	report(run, LOG_NOTICE, KRLSYNC_MSGID_UPDATED,
	    (struct log_field[]){{"EPH_KRL_VERSION", vnew},
	        {"EPH_KRL_OLD_VERSION", cur.present ? vold : NULL}, {"EPH_KRL_SERIALS", nser}},
	    3, "%s: KRL version %s%s%s, serials revoked: %s", run->krl, vnew,
	    cur.present ? ", was " : " (none usable before)", cur.present ? vold : "", nser);
	rc = EXIT_SYNC_OK;
out:
	krlfetch_result_free(&res);
	krlsync_current_free(&cur);
	return rc;
}

enum { OPT_CA_BUNDLE = 0x1000, OPT_TIMEOUT, OPT_INIT, OPT_IF_CONFIGURED, OPT_VERSION };

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'f'},
    {"url", required_argument, NULL, 'u'},
    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"init", no_argument, NULL, OPT_INIT},
    {"if-configured", no_argument, NULL, OPT_IF_CONFIGURED},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int
parse_args(int argc, char **argv, struct args *a, int *done)
{
	const char **slot;
	uint64_t t;
	int c;

	*done = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:u:qh", longopts, NULL)) != -1) {
		slot = NULL;
		switch (c) {
		case 'f': slot = &a->conf; break;
		case 'u': slot = &a->url; break;
		case OPT_CA_BUNDLE: slot = &a->ca_bundle; break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, &t) != EPH_OK || t == 0 || t > MAX_TIMEOUT)
				return usage_error("--timeout: '%s' is not a number of seconds "
				                   "from 1 to %d",
				    optarg, MAX_TIMEOUT);
			a->timeout = (long)t;
			break;
		case OPT_INIT: a->init = 1; break;
		case OPT_IF_CONFIGURED: a->if_configured = 1; break;
		case 'q': a->quiet = 1; break;
		case 'h':
			help();
			*done = 1;
			return EXIT_SYNC_OK;
		case OPT_VERSION:
			printf(PROG " %s\n", PACKAGE_VERSION);
			*done = 1;
			return EXIT_SYNC_OK;
		case ':': return usage_error("option requires an argument: '%s'", argv[optind - 1]);
		default: return usage_error("unknown option: '%s'", argv[optind - 1]);
		}
		if (slot != NULL) {
			if (*slot != NULL)
				return usage_error("'%s' given twice", argv[optind - 1]);
			*slot = optarg;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument: '%s'", argv[optind]);
	if (a->init && (a->url != NULL || a->ca_bundle != NULL || a->timeout != 0))
		return usage_error("--init fetches nothing: no --url, --ca-bundle or --timeout");
	if (a->init && a->if_configured)
		return usage_error("--if-configured is for a sync, not --init");
	if (a->ca_bundle != NULL && a->ca_bundle[0] != '/')
		return usage_error("--ca-bundle: '%s' is not an absolute path", a->ca_bundle);
	if (a->conf == NULL)
		a->conf = DEFAULT_HOST_CONF;
	return EXIT_SYNC_OK;
}

int
main(int argc, char **argv)
{
	struct policy_errors errs = {0};
	struct host_conf *hc = NULL;
	struct args a = {0};
	struct run run = {0};
	enum krlfetch_kind kind;
	char why[512], *text;
	int rc, done, lock = -1, waited = 0, r, curl_on = 0;

	if ((rc = parse_args(argc, argv, &a, &done)) != EXIT_SYNC_OK || done)
		return rc;
	openlog(PROG, LOG_PID, LOG_AUTHPRIV);
	run.a = &a;
	rc = EXIT_SYNC_USAGE;
	if ((r = hostconf_load(a.conf, &hc, &errs)) != EPH_OK) {
		text = policy_errors_format(&errs);
		if (text != NULL && *text != '\0')
			(void)snprintf(why, sizeof(why), "%s", text);
		else
			(void)snprintf(why, sizeof(why), "%s: %s", a.conf, errno_or(r));
		free(text);
		why[strcspn(why, "\n")] = '\0';
		report_failed(&run, "cannot load host.conf", why, 0);
		goto out;
	}
	run.krl = hc->revoked_keys;
	if (!a.init) {
		run.url = a.url != NULL ? a.url : hc->krl_url;
		if (run.url == NULL && a.if_configured) {
			/* A host not set up yet (the package's cron line):
			 * nothing to fetch, and nothing to say every minute.
			 * ephemeral-setup warns about a missing krl_url. */
			rc = EXIT_SYNC_OK;
			goto out;
		}
		if (run.url == NULL) {
			report_failed(&run, "no URL", "no --url and no krl_url in host.conf", 0);
			goto out;
		}
		if (krlfetch_url_check(run.url, &kind, why, sizeof(why)) != EPH_OK) {
			report_failed(&run, "refused URL", why, 0);
			goto out;
		}
		/* Only once there is something to fetch (not for --init, nor
		 * for the cron line's every-minute no-op). */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			report_failed(&run, "libcurl", "it would not initialise", 0);
			rc = EXIT_SYNC_FAIL;
			goto out;
		}
		curl_on = 1;
	}
	rc = EXIT_SYNC_FAIL;
	if ((r = krlsync_lock(run.krl, &lock, &waited)) != EPH_OK) {
		(void)snprintf(why, sizeof(why), "%s.lock: %s", run.krl, errno_or(r));
		report_failed(&run, "cannot lock", why, 1);
		goto out;
	}
	if (waited && !a.quiet)
		fprintf(stderr, PROG ": waited for another run to finish\n");
	rc = a.init ? do_init(&run) : do_sync(&run);
out:
	if (lock >= 0)
		close(lock);
	hostconf_free(hc);
	policy_errors_clear(&errs);
	if (curl_on)
		curl_global_cleanup();
	closelog();
	return rc;
}

/*
 * ephemeral-principals: sshd's AuthorizedPrincipalsCommand
 * ("ephemeral-principals -f host.conf %u %t %k"). Prints the principals
 * host.conf accepts for the local user when the certificate passes the
 * host's check, records it in the spool for pam_ephemeral, and logs one
 * record either way. Prints nothing at all on a refusal: sshd then finds
 * no principal (and it also ignores the output of a command that exits
 * non-zero).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "err.h"
#include "events.h"
#include "grant.h"
#include "hostcheck.h"
#include "log.h"
#include "policy.h"
#include "spool.h"

#define DEFAULT_CONF SYSCONFDIR "/ephemeral/host.conf"
#define IDENT "ephemeral-principals"

#define EXIT_ACCEPTED 0
#define EXIT_REFUSED 1
#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " IDENT " [-f FILE] USER CERTTYPE BASE64CERT\n"
	    "       " IDENT " [-f FILE] -T\n"
	    "       " IDENT " --help | --version\n"
	    "\n"
	    "sshd's AuthorizedPrincipalsCommand for ephssh certificates:\n"
	    "  AuthorizedPrincipalsCommand /usr/libexec/ephemeral/" IDENT
	    " -f /etc/ephemeral/host.conf %%u %%t %%k\n"
	    "Prints the principals host.conf accepts for USER when the certificate\n"
	    "(CA, validity, KRL, grant@ephssh task and login_as) is good for USER on\n"
	    "this host, and nothing otherwise; logs one record either way.\n"
	    "\n"
	    "  -f, --config FILE  host.conf (default " DEFAULT_CONF ")\n"
	    "  -T, --dump         check host.conf and print its settings, defaults\n"
	    "                     included, one \"key value\" per line (as sshd -T)\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      the version\n"
	    "\n"
	    "Exit: 0 accepted (-T: host.conf is good), 1 refused, nothing printed\n"
	    "(-T: host.conf does not load, every error on stderr), 2 usage error.\n");
}

/* One record for a refusal before any certificate was looked at. */
static void
log_early(const char *user, const char *reason, const char *what, const char *detail)
{
	const struct log_field f[] = {
	    {"SYSLOG_IDENTIFIER", IDENT},
	    {"EPH_DECISION", "refused"},
	    {"EPH_REASON", reason},
	    {"EPH_USER", user},
	};

	(void)eph_log(LOG_ERR, HOST_MSGID_PRINCIPALS_REFUSED, f, sizeof(f) / sizeof(f[0]),
	    "refused: %s%s", what, detail);
}

static void
log_result(const struct host_conf *hc, const char *user, const struct hostcheck_result *res)
{
	struct log_field f[HOSTCHECK_LOG_FIELDS + 2];
	struct hostcheck_log hl;
	size_t n;
	int prio;

	hostcheck_log_fields(res, user, &hl);
	memcpy(f, hl.f, hl.n * sizeof(f[0]));
	n = hl.n;
	f[n++] = (struct log_field){"SYSLOG_IDENTIFIER", IDENT};
	f[n++] = (struct log_field){"EPH_HOST", hc->nnames > 0 ? hc->names[0] : NULL};
	if (res->decision == HOSTCHECK_OK) {
		(void)eph_log(LOG_INFO, HOST_MSGID_PRINCIPALS_ACCEPTED, f, n,
		    "accepted certificate serial %llu for %s: %s", (unsigned long long)res->serial,
		    user, res->detail);
		return;
	}
	switch (res->decision) {
	case HOSTCHECK_SYSTEM:
	case HOSTCHECK_CA_KEYS_UNREADABLE:
	case HOSTCHECK_KRL_UNREADABLE: prio = LOG_ERR; break;
	default: prio = LOG_WARNING; break;
	}
	(void)eph_log(prio, HOST_MSGID_PRINCIPALS_REFUSED, f, n, "refused certificate for %s: %s",
	    user, res->detail);
}

/* The spool entry pam_ephemeral cross-checks. A failure is logged and
 * does not change sshd's answer: the module refuses a session whose
 * serial it cannot find, so nothing fails open. */
static void
record(
    const struct host_conf *hc, const char *user, const struct hostcheck_result *res, uint64_t now)
{
	struct spool_conn conn;
	int r;

	if ((r = spool_conn_of(getppid(), &conn)) == EPH_OK)
		r = spool_record(hc->state_dir, &conn, user, res->serial, now);
	if (r != EPH_OK) {
		char serial[24];
		const struct log_field f[] = {
		    {"SYSLOG_IDENTIFIER", IDENT},
		    {"EPH_USER", user},
		    {"EPH_SERIAL", serial},
		    {"EPH_REASON", "spool"},
		};

		snprintf(serial, sizeof(serial), "%llu", (unsigned long long)res->serial);
		(void)eph_log(LOG_ERR, NULL, f, sizeof(f) / sizeof(f[0]),
		    "cannot record serial %s for %s in %s/" SPOOL_SUBDIR ": %s", serial, user,
		    hc->state_dir, eph_strerror(r));
	}
}

/* -T: the settings as loaded, a "key value" line each (lists: values
 * separated by spaces; krl_url only when set; accept: a line per entry,
 * its task and then its users). */
static int
dump(const char *conf)
{
	struct policy_errors errs = {NULL, 0};
	struct host_conf *hc = NULL;
	char *text;
	size_t i, j;
	int r;

	if ((r = hostconf_load(conf, &hc, &errs)) != EPH_OK) {
		text = policy_errors_format(&errs);
		if (text != NULL && *text != '\0')
			fputs(text, stderr);
		else
			fprintf(stderr, IDENT ": %s: %s\n", conf, eph_strerror(r));
		free(text);
		policy_errors_clear(&errs);
		return EXIT_REFUSED;
	}
	printf("host.names");
	for (i = 0; i < hc->nnames; i++)
		printf(" %s", hc->names[i]);
	printf("\nhost.groups");
	for (i = 0; i < hc->ngroups; i++)
		printf(" %s", hc->groups[i]);
	printf("\ntrusted_ca_keys %s\nrevoked_keys %s\n", hc->trusted_ca_keys, hc->revoked_keys);
	if (hc->krl_url != NULL)
		printf("krl_url %s\n", hc->krl_url);
	printf("state_dir %s\nnon_ephemeral %s\nsession_end %s\nservices", hc->state_dir,
	    hc->non_ephemeral == HOST_NON_EPHEMERAL_DENY ? "deny" : "ignore",
	    hc->session_end ? "true" : "false");
	for (i = 0; i < hc->nservices; i++)
		printf(" %s", hc->services[i]);
	printf("\n");
	for (i = 0; i < hc->naccept; i++) {
		printf("accept %s", hc->accept[i].task);
		for (j = 0; j < hc->accept[i].nusers; j++)
			printf(" %s", hc->accept[i].users[j]);
		printf("\n");
	}
	hostconf_free(hc);
	return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_ACCEPTED : EXIT_REFUSED;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"dump", no_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_errors errs = {NULL, 0};
	struct hostcheck_request req;
	struct hostcheck_result res;
	struct host_conf *hc = NULL;
	const char *conf = DEFAULT_CONF, *user;
	uint64_t now;
	size_t i;
	int c, r, rc = EXIT_REFUSED, want_dump = 0;

	/* Run twice per login, so OpenSSL does no more than it must: nothing
	 * here is configured through openssl.cnf, no error text is shown,
	 * and the process exits right after its answer. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
	            OPENSSL_INIT_NO_ATEXIT,
	        NULL) != 1)
		return EXIT_REFUSED;
	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "+f:ThV", opts, NULL)) != -1) {
		switch (c) {
		case 'f': conf = optarg; break;
		case 'T': want_dump = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf(IDENT " " PACKAGE_VERSION "\n"); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (want_dump) {
		if (argc != optind) {
			fprintf(stderr, IDENT ": -T takes no other argument\n");
			usage(stderr);
			return EXIT_USAGE;
		}
		return dump(conf);
	}
	if (argc - optind != 3) {
		fprintf(stderr, IDENT ": expected USER CERTTYPE BASE64CERT (sshd's %%u %%t %%k)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	user = argv[optind];
	if (!grant_user_name_valid(user)) {
		log_early(NULL, "malformed", "the user argument is not an account name", "");
		goto out;
	}
	if ((r = hostconf_load(conf, &hc, &errs)) != EPH_OK) {
		char *text = policy_errors_format(&errs), *p;

		/* One event, one line. */
		for (p = text; p != NULL && *p != '\0'; p++)
			if (*p == '\n')
				*p = p[1] != '\0' ? ';' : '\0';
		log_early(user, "config",
		    "host.conf unusable: ", text != NULL && *text != '\0' ? text : eph_strerror(r));
		free(text);
		goto out;
	}

	now = (uint64_t)time(NULL);
	memset(&req, 0, sizeof(req));
	req.hc = hc;
	req.user = user;
	req.cert_type = argv[optind + 1];
	req.cert_b64 = argv[optind + 2];
	req.now = now;
	hostcheck_cert(&req, &res);
	log_result(hc, user, &res);
	if (res.decision != HOSTCHECK_OK)
		goto out;

	record(hc, user, &res, now);
	for (i = 0; i < res.nprincipals; i++)
		if (printf("%s\n", res.principals[i]) < 0)
			goto out;
	if (fflush(stdout) != 0)
		goto out;
	/* After the answer, and at most once a minute (sshd waits for our
	 * exit, twice per login): entries of connections that are gone.
	 * pam_ephemeral removes each entry it has checked. */
	(void)spool_clean_due(hc->state_dir, SPOOL_SWEEP_INTERVAL, NULL);
	rc = EXIT_ACCEPTED;
out:
	hostcheck_result_clear(&res);
	hostconf_free(hc);
	policy_errors_clear(&errs);
	return rc;
}

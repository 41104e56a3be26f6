/*
 * make bench helper: the wall time of one PAM session open + close of
 * pam_ephemeral.so in this process, against a stack of pam_permit.so
 * alone run the same way in the same run (rounds alternate the two).
 * Each iteration is what sshd's monitor does per login: pam_start, the
 * items and SSH_AUTH_INFO_0, open, close, pam_end; the spool entry
 * ephemeral-principals would have written is recorded before each one,
 * outside the timed part. Private service files (pam_start_confdir), a
 * certificate signed here with a grant@ephssh extension (max_logins 0),
 * a temp host.conf and state_dir; the local user is the current one.
 * usage: bench_pamopen MODULE.so N [WATCHDOG]; prints
 * "module_open_close_us X", "permit_open_close_us Y", and with WATCHDOG
 * (a root-owned path, as the module insists) the module with host.conf's
 * session_end on, "module_watchdog_open_close_us Z": each session starts
 * its ephemeral-watchdog, waits for its "ok", and closes its lifeline.
 * Exit 77 without pam_start_confdir.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#ifdef HAVE_PAM_START_CONFDIR
#include <fcntl.h>
#include <ftw.h>

#include "b64.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "krl.h"
#include "spool.h"

#define HOST "bench.example.com"
#define SERVICE "ephbench"
#define SERVICE_REF "ephbench-permit"
#define SERVICE_WD "ephbench-watchdog"
#define SERIAL 1
#define ROUNDS 10

struct bench {
	char dir[64];
	char confdir[128], state[128], conf[128], conf_wd[128], ca_path[128], krl_path[128];
	const char *user;
	char *info; /* SSH_AUTH_INFO_0=... */
};

static int
write_file(const char *path, const void *d, size_t n)
{
	int fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		return -1;
	if (n > 0 && write(fd, d, n) != (ssize_t)n)
		rc = -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

static int
write_text(const char *path, const char *text)
{
	return write_file(path, text, strlen(text));
}

/* The CA, an empty KRL, host.conf, the service files, and the
 * certificate of the login in b->info. */
static int
bench_setup(struct bench *b, const char *module, const char *watchdog)
{
	struct key *ca = NULL, *user = NULL;
	struct cert *c = NULL;
	struct krl *k = NULL;
	struct grant g;
	struct buf kb, gb;
	char *line = NULL, *b64 = NULL, *text = NULL, path[192], *approvers[] = {"approver"};
	uint64_t now = (uint64_t)time(NULL);
	int rc = -1, i;

	buf_init(&kb);
	buf_init(&gb);
	snprintf(b->confdir, sizeof(b->confdir), "%s/pam.d", b->dir);
	snprintf(b->state, sizeof(b->state), "%s/state", b->dir);
	snprintf(b->conf, sizeof(b->conf), "%s/host.conf", b->dir);
	snprintf(b->conf_wd, sizeof(b->conf_wd), "%s/host-watchdog.conf", b->dir);
	snprintf(b->ca_path, sizeof(b->ca_path), "%s/ca.pub", b->dir);
	snprintf(b->krl_path, sizeof(b->krl_path), "%s/revoked.krl", b->dir);
	snprintf(path, sizeof(path), "%s/" SPOOL_SUBDIR, b->state);
	if (chmod(b->dir, 0755) != 0 || mkdir(b->confdir, 0755) != 0 ||
	    mkdir(b->state, 0755) != 0 || mkdir(path, 0700) != 0)
		goto out;
	if (key_generate(KEY_ED25519, 0, &ca) != EPH_OK ||
	    key_generate(KEY_ED25519, 0, &user) != EPH_OK ||
	    key_format_public_line(ca, "ca", &line) != EPH_OK || write_text(b->ca_path, line) != 0)
		goto out;
	if (krl_new(&k) != EPH_OK || krl_serialize(k, &kb) != EPH_OK ||
	    write_file(b->krl_path, kb.d, kb.len) != 0)
		goto out;
	/* The module alone (session_end off), and with its watchdog. */
	for (i = 0; i < 2; i++) {
		if (asprintf(&text,
		        "host = { names = [ \"" HOST "\" ]; };\n"
		        "trusted_ca_keys = \"%s\";\nrevoked_keys = \"%s\";\nstate_dir = \"%s\";\n"
		        "services = [ \"" SERVICE "\", \"" SERVICE_WD "\" ];\nsession_end = %s;\n"
		        "accept = ( { task = \"bench\"; users = [ \"%s\" ]; } );\n",
		        b->ca_path, b->krl_path, b->state, i == 0 ? "false" : "true",
		        b->user) < 0 ||
		    write_text(i == 0 ? b->conf : b->conf_wd, text) != 0)
			goto out;
		free(text);
		text = NULL;
	}
	if (watchdog != NULL) {
		snprintf(path, sizeof(path), "%s/" SERVICE_WD, b->confdir);
		if (asprintf(&text,
		        "session required %s conf=%s watchdog=%s\nsession required pam_permit.so\n",
		        module, b->conf_wd, watchdog) < 0 ||
		    write_text(path, text) != 0)
			goto out;
		free(text);
		text = NULL;
	}
	snprintf(path, sizeof(path), "%s/" SERVICE, b->confdir);
	if (asprintf(&text, "session required %s conf=%s\nsession required pam_permit.so\n", module,
	        b->conf) < 0 ||
	    write_text(path, text) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/" SERVICE_REF, b->confdir);
	if (write_text(path, "session required pam_permit.so\n") != 0)
		goto out;

	if (cert_new(&c) != EPH_OK || cert_set_key(c, user) != EPH_OK)
		goto out;
	c->type = CERT_TYPE_USER;
	c->serial = SERIAL;
	if ((c->key_id = strdup("eph:g-1:bench:bench")) == NULL)
		goto out;
	c->valid_after = now - 60;
	c->valid_before = now + 86400;
	memset(&g, 0, sizeof(g));
	g.id = "g-1";
	g.task = "bench";
	g.requester = "bench";
	g.login_as = (char *)b->user;
	g.approvers = approvers;
	g.napprovers = 1;
	g.max_logins = 0;
	if (cert_add_principal(c, "eph:bench@" HOST) != EPH_OK ||
	    cert_add_default_extensions(c) != EPH_OK || grant_encode(&g, &gb) != EPH_OK ||
	    cert_add_extension(c, GRANT_EXTENSION, gb.d, gb.len) != EPH_OK ||
	    cert_sign(c, ca, NULL) != EPH_OK || (b64 = b64_encode(c->blob.d, c->blob.len)) == NULL)
		goto out;
	if (asprintf(&b->info, "SSH_AUTH_INFO_0=publickey %s %s\n", key_cert_type_name(KEY_ED25519),
	        b64) < 0) {
		b->info = NULL;
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(line);
	free(b64);
	cert_free(c);
	krl_free(k);
	key_free(ca);
	key_free(user);
	buf_free(&kb);
	buf_free(&gb);
	return rc;
}

/* The module's pam_error text of the last session. */
static char said[512];

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *ctx)
{
	int i;

	(void)ctx;
	if ((*resp = calloc((size_t)n, sizeof(**resp))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_ERROR_MSG)
			snprintf(said, sizeof(said), "%s", msg[i]->msg);
	return PAM_SUCCESS;
}

static double
elapsed_us(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) * 1e6 + (double)(t1->tv_nsec - t0->tv_nsec) / 1e3;
}

/* One login's session as sshd's monitor runs it, its wall time added to
 * *us: the open's (or the close's) PAM result. */
static int
session_run(const struct bench *b, const char *service, double *us)
{
	struct pam_conv c = {conv, NULL};
	struct timespec t0, t1;
	pam_handle_t *pamh = NULL;
	int rv;

	said[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rv = pam_start_confdir(service, b->user, &c, b->confdir, &pamh)) != PAM_SUCCESS)
		return rv;
	if ((rv = pam_set_item(pamh, PAM_RHOST, "127.0.0.1")) == PAM_SUCCESS &&
	    (rv = pam_set_item(pamh, PAM_TTY, "ssh")) == PAM_SUCCESS &&
	    (rv = pam_putenv(pamh, b->info)) == PAM_SUCCESS &&
	    (rv = pam_open_session(pamh, 0)) == PAM_SUCCESS)
		rv = pam_close_session(pamh, 0);
	pam_end(pamh, rv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*us += elapsed_us(&t0, &t1);
	return rv;
}

static int
session_once(const struct bench *b, const char *service, double *us)
{
	int rv = session_run(b, service, us);

	if (rv != PAM_SUCCESS)
		fprintf(stderr, "bench_pamopen: %s session: %s%s%s\n", service,
		    pam_strerror(NULL, rv), said[0] != '\0' ? ": " : "", said);
	return rv == PAM_SUCCESS ? 0 : -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct spool_conn self;
	struct passwd *pw;
	double mod_us = 0, ref_us = 0, wd_us = 0;
	const char *watchdog = argc == 4 ? argv[3] : NULL;
	long i, r, n, per;
	int rc = 1;

	if ((argc != 3 && argc != 4) || (n = strtol(argv[2], NULL, 10)) < ROUNDS) {
		fprintf(stderr, "usage: bench_pamopen MODULE.so N [WATCHDOG] (N >= %d)\n", ROUNDS);
		return 2;
	}
	memset(&b, 0, sizeof(b));
	if ((pw = getpwuid(getuid())) == NULL || (b.user = strdup(pw->pw_name)) == NULL) {
		fprintf(stderr, "bench_pamopen: who am I?\n");
		return 1;
	}
	snprintf(b.dir, sizeof(b.dir), "/tmp/eph-pamopen.XXXXXX");
	if (mkdtemp(b.dir) == NULL) {
		perror("bench_pamopen: mkdtemp");
		return 1;
	}
	if (bench_setup(&b, argv[1], watchdog) != 0 || spool_conn_of(getpid(), &self) != EPH_OK) {
		fprintf(stderr, "bench_pamopen: setup failed in %s\n", b.dir);
		goto out;
	}
	per = n / ROUNDS;
	/* Untimed: one of each (the module's first load), and proof that the
	 * module checks: the entry it used is gone, and a session without
	 * one is refused. */
	if (spool_record(b.state, &self, b.user, SERIAL, (uint64_t)time(NULL)) != EPH_OK ||
	    session_once(&b, SERVICE, &mod_us) != 0 || session_once(&b, SERVICE_REF, &ref_us) != 0)
		goto out;
	if (spool_lookup(b.state, &self, b.user, SERIAL) != EPH_ERR_NOTFOUND ||
	    session_run(&b, SERVICE, &mod_us) != PAM_PERM_DENIED) {
		fprintf(
		    stderr, "bench_pamopen: the module let a session without its spool entry in\n");
		goto out;
	}
	if (watchdog != NULL &&
	    (spool_record(b.state, &self, b.user, SERIAL, (uint64_t)time(NULL)) != EPH_OK ||
	        session_once(&b, SERVICE_WD, &wd_us) != 0))
		goto out;
	mod_us = ref_us = wd_us = 0;
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < per; i++)
			if (spool_record(b.state, &self, b.user, SERIAL, (uint64_t)time(NULL)) !=
			        EPH_OK ||
			    session_once(&b, SERVICE, &mod_us) != 0)
				goto out;
		for (i = 0; i < per; i++)
			if (session_once(&b, SERVICE_REF, &ref_us) != 0)
				goto out;
		for (i = 0; i < per && watchdog != NULL; i++)
			if (spool_record(b.state, &self, b.user, SERIAL, (uint64_t)time(NULL)) !=
			        EPH_OK ||
			    session_once(&b, SERVICE_WD, &wd_us) != 0)
				goto out;
	}
	printf("opens %ld\n", per * ROUNDS);
	printf("module_open_close_us %.1f\n", mod_us / (double)(per * ROUNDS));
	printf("permit_open_close_us %.1f\n", ref_us / (double)(per * ROUNDS));
	if (watchdog != NULL)
		printf("module_watchdog_open_close_us %.1f\n", wd_us / (double)(per * ROUNDS));
	rc = 0;
out:
	free(b.info);
	free((char *)b.user);
	if (b.dir[0] != '\0' && nftw(b.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_pamopen: could not remove %s\n", b.dir);
	return rc;
}

#else /* !HAVE_PAM_START_CONFDIR */

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("skipped: Linux-PAM has no pam_start_confdir (1.4 or later needed)\n");
	return 77;
}

#endif

/*
 * Tests for pam_ephemeral.so under pam_wrapper: the real Linux-PAM runs
 * private service files naming the built modules (the test build with
 * an injected clock, and the production build on the real clock with a
 * certificate from the built sshca). Every refusal and the success path,
 * and the production module's exports.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "b64.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "krl.h"
#include "spool.h"
#include "testutil.h"

#define NOW 1800000000u
#define NOW_S "1800000000"
#define HOST "db01.example.com"
#define CERT_TYPE "ssh-ed25519-cert-v01@openssh.com"
#define WATCHDOG_BIN TOP_BUILDDIR "/host/ephemeral-watchdog"

static const char *world;
/* The account running the tests: the watchdog looks its sessions'
 * account up, so those tests log in as one that exists. */
static char me[64];

/* What pam_debug answers after the module ignored a session. */
#define IGNORED PAM_NO_MODULE_DATA /* the service files and host.conf */

struct fx {
	char *state, *conf;
	struct key *ca, *rogue, *user;
	char *ca_path, *krl_path;
	struct spool_conn self;
};

struct spec {
	uint64_t serial; /* default 42 */
	const char *task; /* default db-maint */
	uint64_t valid_after, valid_before;
	uint32_t max_logins; /* default 0: unlimited */
	const struct key *ca;
	const char *principal; /* default eph:db-maint@HOST */
	const char *login_as; /* default postgres */
	int no_grant; /* no grant@ephssh at all */
	int bad_grant; /* grant@ephssh that does not decode */
};

static void
write_krl(struct fx *f, const uint64_t *serials, size_t n)
{
	tu_write_krl(f->krl_path, f->ca, serials, n);
}

static void
write_hostconf(struct fx *f, const char *extra)
{
	char *text;

	assert_true(
	    asprintf(&text,
	        "host = { names = [ \"" HOST "\" ]; };\n"
	        "trusted_ca_keys = \"%s\";\nrevoked_keys = \"%s\";\n"
	        "state_dir = \"%s\";\nservices = [ \"sshd\", \"sshd-prod\", \"sshd-wd\", "
	        "\"sshd-wd-missing\", \"sshd-prod-wd\" ];\n%s\n%s\n"
	        "accept = ( { task = \"db-maint\"; users = [ \"postgres\", \"%s\" ]; } );\n",
	        f->ca_path, f->krl_path, f->state,
	        /* The watchdog only where a test asks for it. */
	        strstr(extra, "session_end") == NULL ? "session_end = false;" : "", extra, me) > 0);
	assert_int_equal(tu_write_file(f->conf, text, strlen(text), 0644), 0);
	free(text);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *line, *spool;

	assert_non_null(f);
	f->state = tu_mkdtemp();
	assert_int_equal(chmod(f->state, 0755), 0);
	spool = tu_path(f->state, SPOOL_SUBDIR);
	assert_int_equal(mkdir(spool, 0700), 0);
	free(spool);
	f->conf = tu_path(world, "host.conf");
	f->ca_path = tu_path(f->state, "ca.pub");
	f->krl_path = tu_path(f->state, "revoked.krl");
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->ca), EPH_OK);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->rogue), EPH_OK);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->user), EPH_OK);
	assert_int_equal(key_format_public_line(f->ca, "ca", &line), EPH_OK);
	assert_int_equal(tu_write_file(f->ca_path, line, strlen(line), 0644), 0);
	free(line);
	write_krl(f, NULL, 0);
	write_hostconf(f, "");
	assert_int_equal(spool_conn_of(getpid(), &f->self), EPH_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	key_free(f->ca);
	key_free(f->rogue);
	key_free(f->user);
	tu_rmrf(f->state);
	free(f->state);
	free(f->conf);
	free(f->ca_path);
	free(f->krl_path);
	free(f);
	return 0;
}

/* SSH_AUTH_INFO_0 for a signed certificate as sshd writes it. */
static char *
make_authinfo(struct fx *f, const struct spec *s)
{
	struct cert *c = NULL;
	struct grant g;
	struct buf val;
	char *b64, *out, *approvers[] = {"bob", "carol"};

	buf_init(&val);
	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_set_key(c, f->user), EPH_OK);
	c->type = CERT_TYPE_USER;
	c->serial = s->serial != 0 ? s->serial : 42;
	assert_non_null(c->key_id = strdup("eph:g-42:alice:db-maint"));
	c->valid_after = s->valid_after != 0 ? s->valid_after : NOW - 60;
	c->valid_before = s->valid_before != 0 ? s->valid_before : NOW + 300;
	assert_int_equal(
	    cert_add_principal(c, s->principal != NULL ? s->principal : "eph:db-maint@" HOST),
	    EPH_OK);
	memset(&g, 0, sizeof(g));
	g.id = "g-42";
	g.task = (char *)(s->task != NULL ? s->task : "db-maint");
	g.requester = "alice";
	g.login_as = (char *)(s->login_as != NULL ? s->login_as : "postgres");
	g.approvers = approvers;
	g.napprovers = 2;
	g.max_logins = s->max_logins;
	assert_int_equal(grant_encode(&g, &val), EPH_OK);
	if (!s->no_grant)
		assert_int_equal(cert_add_extension(c, GRANT_EXTENSION, val.d, val.len), EPH_OK);
	if (s->bad_grant) {
		/* libephcore issues no grant a host cannot read: spoil it
		 * after the check (string length, then uint32 version). */
		struct cert_opt *o = (struct cert_opt *)cert_find_extension(c, GRANT_EXTENSION);

		assert_non_null(o);
		assert_true(o->len > 8);
		o->data[7] = 9;
	}
	assert_int_equal(cert_sign(c, s->ca != NULL ? s->ca : f->ca, NULL), EPH_OK);
	assert_non_null(b64 = b64_encode(c->blob.d, c->blob.len));
	assert_true(asprintf(&out, "publickey " CERT_TYPE " %s\n", b64) > 0);
	free(b64);
	cert_free(c);
	buf_free(&val);
	return out;
}

static void
spool(struct fx *f, const char *user, uint64_t serial)
{
	assert_int_equal(spool_record(f->state, &f->self, user, serial, NOW), EPH_OK);
}

/* pam_error's text of the last session open. */
static char said[512];

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *ctx)
{
	int i;

	(void)ctx;
	*resp = calloc((size_t)n, sizeof(**resp));
	if (*resp == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_ERROR_MSG)
			snprintf(said, sizeof(said), "%s", msg[i]->msg);
	return PAM_SUCCESS;
}

/* Open (and, when that succeeds, close) a session of service for user
 * with SSH_AUTH_INFO_0 = info (NULL: unset); the open's result. */
static int
open_session(const char *service, const char *user, const char *info)
{
	struct pam_conv c = {conv, NULL};
	pam_handle_t *pamh = NULL;
	char *env;
	int rv;

	said[0] = '\0';
	assert_int_equal(pam_start(service, user, &c, &pamh), PAM_SUCCESS);
	assert_int_equal(pam_set_item(pamh, PAM_RHOST, "192.0.2.7"), PAM_SUCCESS);
	assert_int_equal(pam_set_item(pamh, PAM_TTY, "/dev/pts/3"), PAM_SUCCESS);
	if (info != NULL) {
		assert_true(asprintf(&env, "SSH_AUTH_INFO_0=%s", info) > 0);
		assert_int_equal(pam_putenv(pamh, env), PAM_SUCCESS);
		free(env);
	}
	rv = pam_open_session(pamh, 0);
	if (rv == IGNORED)
		rv = PAM_IGNORE;
	if (rv == PAM_SUCCESS)
		assert_int_equal(pam_close_session(pamh, 0), PAM_SUCCESS);
	pam_end(pamh, rv);
	return rv;
}

/* The refusal of spec s (spooled as presented) for postgres. */
static void
assert_refused(struct fx *f, const struct spec *s, const char *msg_part)
{
	char *info = make_authinfo(f, s);

	spool(f, "postgres", s->serial != 0 ? s->serial : 42);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	if (msg_part != NULL && strstr(said, msg_part) == NULL)
		fail_msg("pam_error said \"%s\", not \"%s\"", said, msg_part);
	assert_true(said[0] != '\0');
	free(info);
}

static void
test_ok(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	char *info = make_authinfo(f, &s);

	spool(f, "postgres", 42);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_SUCCESS);
	assert_string_equal(said, "");
	free(info);
}

static void
test_not_in_spool(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	char *info = make_authinfo(f, &s);

	/* Nothing recorded for this connection. */
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	assert_non_null(strstr(said, "not the one presented to sshd"));
	/* Another serial, and this serial for another account. */
	spool(f, "postgres", 43);
	spool(f, "admin", 42);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	assert_non_null(strstr(said, "not the one presented to sshd"));
	free(info);
}

static void
test_expired(void **state)
{
	struct spec s = {.valid_after = NOW - 600, .valid_before = NOW - 1};

	assert_refused(*state, &s, NULL);
}

static void
test_not_yet_valid(void **state)
{
	struct spec s = {.valid_after = NOW + 10, .valid_before = NOW + 600};

	assert_refused(*state, &s, NULL);
}

static void
test_wrong_ca(void **state)
{
	struct fx *f = *state;
	struct spec s = {.ca = f->rogue};

	assert_refused(f, &s, NULL);
}

static void
test_revoked(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	const uint64_t serials[] = {42};

	write_krl(f, serials, 1);
	assert_refused(f, &s, NULL);
}

static void
test_wrong_user(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	char *info = make_authinfo(f, &s);

	/* Presented for root too: the check itself refuses root. */
	spool(f, "root", 42);
	assert_int_equal(open_session("sshd", "root", info), PAM_PERM_DENIED);
	assert_true(said[0] != '\0');
	free(info);
}

/* A certificate whose principals name another host. */
static void
test_wrong_host(void **state)
{
	struct spec s = {.principal = "eph:db-maint@db99.example.com"};

	assert_refused(*state, &s, NULL);
}

/* The grant's login_as is not the account logging in. */
static void
test_login_as_mismatch(void **state)
{
	struct spec s = {.login_as = "deploy"};

	assert_refused(*state, &s, NULL);
}

/* No grant@ephssh, or one that does not decode. */
static void
test_grant_missing_or_malformed(void **state)
{
	struct spec none = {.no_grant = 1}, bad = {.bad_grant = 1, .serial = 43};

	assert_refused(*state, &none, NULL);
	assert_refused(*state, &bad, NULL);
}

static void
test_task_not_accepted(void **state)
{
	struct spec s = {.task = "web-deploy"};

	assert_refused(*state, &s, NULL);
}

static void
test_max_logins(void **state)
{
	struct fx *f = *state;
	struct spec s = {.serial = 77, .max_logins = 1};
	char *info = make_authinfo(f, &s), *path, *text;

	spool(f, "postgres", 77);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_SUCCESS);
	path = tu_path(f->state, "logins/77");
	assert_non_null(text = tu_read_file(path, NULL));
	assert_string_equal(text, "00000000000000000001\n");
	free(text);
	/* Each login is a connection of its own, presented to sshd anew
	 * (the module removes an entry once it has checked it). */
	spool(f, "postgres", 77);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	assert_non_null(strstr(said, "all its logins"));
	/* A count that does not parse is never reset. */
	assert_int_equal(tu_write_file(path, "x\n", 2, 0600), 0);
	spool(f, "postgres", 77);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	free(path);
	free(info);
}

/* An entry serves one session: checked, it is removed, and a second
 * session on the same connection without a new check is refused. */
static void
test_spool_entry_used_once(void **state)
{
	struct fx *f = *state;
	struct spec s = {.serial = 79};
	char *info = make_authinfo(f, &s);

	spool(f, "postgres", 79);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_SUCCESS);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	free(info);
}

static void
test_max_logins_two(void **state)
{
	struct fx *f = *state;
	struct spec s = {.serial = 78, .max_logins = 2};
	char *info = make_authinfo(f, &s);

	spool(f, "postgres", 78);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_SUCCESS);
	spool(f, "postgres", 78);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_SUCCESS);
	spool(f, "postgres", 78);
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	free(info);
}

static void
test_malformed_authinfo(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	char *info = make_authinfo(f, &s);

	spool(f, "postgres", 42);
	info[strlen(info) - 1] = '\0'; /* no final newline */
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	assert_int_equal(open_session("sshd", "postgres", "publickey  x\n"), PAM_PERM_DENIED);
	/* A tampered blob: one base64 character changed. */
	info[strlen(info) / 2] = info[strlen(info) / 2] == 'A' ? 'B' : 'A';
	strcat(info, "\n");
	assert_int_equal(open_session("sshd", "postgres", info), PAM_PERM_DENIED);
	free(info);
}

static void
test_plain_key(void **state)
{
	struct fx *f = *state;
	const char *plain = "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n";

	/* non_ephemeral = "ignore" (the default): existing logins work. */
	assert_int_equal(open_session("sshd", "postgres", plain), PAM_IGNORE);
	assert_int_equal(open_session("sshd", "postgres", NULL), PAM_IGNORE);
	write_hostconf(f, "non_ephemeral = \"deny\";");
	assert_int_equal(open_session("sshd", "postgres", plain), PAM_PERM_DENIED);
	assert_true(said[0] != '\0');
	assert_int_equal(open_session("sshd", "postgres", "password\n"), PAM_PERM_DENIED);
	assert_int_equal(open_session("sshd", "postgres", NULL), PAM_PERM_DENIED);
}

/* sshd accepted a certificate on this connection (the spool has it) but
 * SSH_AUTH_INFO_0 holds none (ExposeAuthInfo no, or removed): refused
 * even under "ignore", never let through unchecked. */
static void
test_certificate_hidden(void **state)
{
	struct fx *f = *state;

	spool(f, "postgres", 42);
	assert_int_equal(open_session("sshd", "postgres", NULL), PAM_PERM_DENIED);
	assert_true(said[0] != '\0');
	spool(f, "postgres", 42);
	assert_int_equal(open_session("sshd", "postgres",
	                     "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n"),
	    PAM_PERM_DENIED);
}

static void
test_other_service(void **state)
{
	struct fx *f = *state;

	write_hostconf(f, "non_ephemeral = \"deny\";");
	assert_int_equal(open_session("cron", "postgres", NULL), PAM_IGNORE);
}

static void
test_bad_args(void **state)
{
	(void)state;
	assert_int_equal(open_session("sshd-badarg", "postgres", NULL), PAM_SESSION_ERR);
	assert_int_equal(open_session("sshd-noconf", "postgres", NULL), PAM_SYSTEM_ERR);
}

/* The production module on the real clock with a certificate from
 * sshca sign; it knows no test_now=. */
static void
test_production_sshca(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *path, *line, *p, *info;

	if (tu_run_in(f->state, &out,
	        "%s init --key sca >/dev/null && %s pubkey --key sca >ca.pub && "
	        "%s init --key user >/dev/null && %s pubkey --key user >user.pub && "
	        "%s sign --key sca --principals eph:db-maint@" HOST " --ttl 5m --serial 9 "
	        "--key-id eph:g-9:alice:db-maint --grant-id g-9 --task db-maint "
	        "--requester alice --login-as postgres --approver bob --max-logins 1 "
	        "--reason INC-1 user.pub && %s krl --key ca.pub -o revoked.krl",
	        tu_sshca(), tu_sshca(), tu_sshca(), tu_sshca(), tu_sshca(), tu_sshca()) != 0)
		fail_msg("sshca: %s", out);
	free(out);
	path = tu_path(f->state, "user-cert.pub");
	assert_non_null(line = tu_read_file(path, NULL));
	free(path);
	assert_non_null(p = strchr(line, ' '));
	*p = '\0';
	p[1 + strcspn(p + 1, " \n")] = '\0';
	assert_true(asprintf(&info, "publickey %s %s\n", line, p + 1) > 0);
	spool(f, "postgres", 9);
	assert_int_equal(open_session("sshd-prod", "postgres", info), PAM_SUCCESS);
	assert_int_equal(open_session("sshd-prod", "postgres", info), PAM_PERM_DENIED);
	assert_int_equal(open_session("sshd-prod-testnow", "postgres", info), PAM_SESSION_ERR);
	free(info);
	free(line);
}

/* The installed module exports pam_sm_* and nothing else. */
static void
test_exports(void **state)
{
	void *h;
	char *out = NULL, *l, *save = NULL;
	int n = 0;

	(void)state;
	assert_non_null(h = dlopen(PAM_EPHEMERAL_SO, RTLD_NOW | RTLD_LOCAL));
	assert_non_null(dlsym(h, "pam_sm_open_session"));
	assert_non_null(dlsym(h, "pam_sm_close_session"));
	assert_non_null(dlsym(h, "pam_sm_acct_mgmt"));
	assert_null(dlsym(h, "hostcheck_cert"));
	assert_null(dlsym(h, "logins_take"));
	assert_null(dlsym(h, "eph_log"));
	assert_null(dlsym(h, "parse_args"));
	dlclose(h);
	if (tu_run_in(".", &out, "nm -D --defined-only %s", PAM_EPHEMERAL_SO) != 0)
		fail_msg("nm: %s", out);
	for (l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		const char *sym = strrchr(l, ' ');

		sym = sym != NULL ? sym + 1 : l;
		if (strncmp(sym, "pam_sm_", 7) != 0)
			fail_msg("exported: %s", l);
		n++;
	}
	assert_int_equal(n, 5);
	free(out);
}

/* ------------------------------------------------------ the watchdog */

/* Is there an ephemeral-watchdog watching process pid ("--pid" "PID"
 * among its arguments)? */
static int
watchdog_of(pid_t pid)
{
	char want[64], path[300], buf[4096];
	struct dirent *de;
	size_t wl, n, i;
	DIR *d;
	int found = 0;

	wl = (size_t)snprintf(want, sizeof(want), "--pid%c%ld", '\0', (long)pid) + 1;
	assert_non_null(d = opendir("/proc"));
	while (!found && (de = readdir(d)) != NULL) {
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || (fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		if (strstr(buf, "ephemeral-watchdog") == NULL)
			continue;
		for (i = 0; i + wl <= n; i++)
			found |= memcmp(buf + i, want, wl) == 0;
	}
	closedir(d);
	return found;
}

static int
wait_no_watchdog(pid_t pid, unsigned ms)
{
	unsigned waited = 0;

	while (watchdog_of(pid)) {
		if (waited >= ms)
			return 0;
		tu_sleep_ms(50);
		waited += 50;
	}
	return 1;
}

/* A certificate on the real clock (the watchdog runs on it). */
static char *
live_authinfo(struct fx *f, uint64_t serial, unsigned ttl)
{
	struct spec s = {.serial = serial,
	    .valid_after = (uint64_t)time(NULL) - 60,
	    .valid_before = (uint64_t)time(NULL) + ttl,
	    .max_logins = 1,
	    .login_as = me};

	return make_authinfo(f, &s);
}

/*
 * In a child playing sshd's process: open a session of service (closed
 * at once when close_now, else left open), report the open's result on
 * fd, then wait to be ended.
 */
static pid_t
session_child(
    struct fx *f, const char *service, const char *info, uint64_t serial, int close_now, int fd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct pam_conv c = {conv, NULL};
		struct spool_conn self;
		pam_handle_t *pamh = NULL;
		char *env = NULL;
		int rv;

		if (spool_conn_of(getpid(), &self) != EPH_OK ||
		    spool_record(f->state, &self, me, serial, NOW) != EPH_OK ||
		    pam_start(service, me, &c, &pamh) != PAM_SUCCESS ||
		    asprintf(&env, "SSH_AUTH_INFO_0=%s", info) < 0 ||
		    pam_putenv(pamh, env) != PAM_SUCCESS)
			_exit(90);
		rv = pam_open_session(pamh, 0);
		if (rv == PAM_SUCCESS && close_now) {
			(void)pam_close_session(pamh, 0);
			pam_end(pamh, PAM_SUCCESS);
		}
		if (write(fd, &rv, sizeof(rv)) != (ssize_t)sizeof(rv))
			_exit(91);
		for (;;)
			sleep(60);
	}
	return pid;
}

static int
child_result(int fd)
{
	int rv = -1;

	assert_int_equal(read(fd, &rv, sizeof(rv)), (ssize_t)sizeof(rv));
	return rv;
}

/* An open session outlives its certificate by no more than a few
 * seconds: the watchdog ends sshd's process, then itself. */
static void
test_watchdog_expiry(void **state)
{
	struct fx *f = *state;
	char *info = live_authinfo(f, 90, 3);
	int p[2], st = 0, waited = 0;
	pid_t pid;

	write_hostconf(f, "session_end = true;");
	assert_int_equal(pipe(p), 0);
	pid = session_child(f, "sshd-wd", info, 90, 0, p[1]);
	assert_int_equal(child_result(p[0]), PAM_SUCCESS);
	assert_true(watchdog_of(pid));
	while (waitpid(pid, &st, WNOHANG) == 0 && waited < 15000) {
		tu_sleep_ms(100);
		waited += 100;
	}
	if (waited >= 15000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("the session outlived its certificate");
	}
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_true(wait_no_watchdog(pid, 5000));
	close(p[0]);
	close(p[1]);
	free(info);
}

/* A session closed normally: its watchdog exits at once (the lifeline),
 * while the process that ran it lives on. */
static void
test_watchdog_lifeline(void **state)
{
	struct fx *f = *state;
	char *info = live_authinfo(f, 91, 600);
	int p[2];
	pid_t pid;

	write_hostconf(f, "session_end = true;");
	assert_int_equal(pipe(p), 0);
	pid = session_child(f, "sshd-wd", info, 91, 1, p[1]);
	assert_int_equal(child_result(p[0]), PAM_SUCCESS);
	assert_true(wait_no_watchdog(pid, 3000));
	assert_int_equal(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	free(info);
}

/* No watchdog, no session, and no login used up by the attempt. */
static void
test_watchdog_missing(void **state)
{
	struct fx *f = *state;
	char *info = live_authinfo(f, 92, 600), *path;
	int p[2];
	pid_t pid;

	write_hostconf(f, "session_end = true;");
	spool(f, me, 92);
	assert_int_equal(open_session("sshd-wd-missing", me, info), PAM_PERM_DENIED);
	assert_non_null(strstr(said, "could not be checked"));
	path = tu_path(f->state, "logins/92");
	assert_int_equal(access(path, F_OK), -1);
	/* With its watchdog the same certificate logs in, once. */
	assert_int_equal(pipe(p), 0);
	pid = session_child(f, "sshd-wd", info, 92, 1, p[1]);
	assert_int_equal(child_result(p[0]), PAM_SUCCESS);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(access(path, F_OK), 0);
	close(p[0]);
	close(p[1]);
	free(path);
	free(info);
}

/* The production module runs a watchdog only from a root-owned path in
 * root-owned folders, as sshd does its commands: a copy in the test's
 * folder under /tmp is refused (and so is anything as non-root). */
static void
test_watchdog_unsafe_path(void **state)
{
	struct fx *f = *state;
	char *info = live_authinfo(f, 93, 600), *copy = tu_path(world, "ephemeral-watchdog"), *out;

	assert_int_equal(tu_run(&out, "cp %s %s && chmod 0755 %s", WATCHDOG_BIN, copy, copy), 0);
	free(out);
	write_hostconf(f, "session_end = true;");
	spool(f, me, 93);
	assert_int_equal(open_session("sshd-prod-wd", me, info), PAM_PERM_DENIED);
	assert_non_null(strstr(said, "could not be checked"));
	free(copy);
	free(info);
}

static int
write_service(const char *name, const char *line)
{
	char *path = tu_path(world, "%s", name);
	int r = tu_write_file(path, line, strlen(line), 0644);

	free(path);
	return r;
}

static int
reexec_under_pam_wrapper(char **argv)
{
	char *dir, *text = NULL, *asan = NULL, *wd = NULL;
	const char *old;

	if (access(PAM_WRAPPER_SO, R_OK) != 0) {
		fprintf(stderr, "test_pam_ephemeral: pam_wrapper not installed; skipped\n");
		return 77;
	}
	dir = tu_mkdtemp();
	world = dir;
/* The stack's result alone cannot tell PAM_IGNORE (Linux-PAM turns a
 * stack that only ignores into PAM_PERM_DENIED): the module's ignore
 * falls through to pam_debug's IGNORED, everything else ends the stack. */
#define SVC(name, so, args)                                                                        \
	(asprintf(&text,                                                                           \
	     "session [success=done ignore=ignore default=die] %s conf=%s/host.conf %s\n"          \
	     "session required pam_debug.so open_session=no_module_data\n",                        \
	     so, dir, args) < 0 ||                                                                 \
	    write_service(name, text) != 0)
	if (SVC("sshd", PAM_EPHEMERAL_TEST_SO, "test_now=" NOW_S))
		return 99;
	free(text);
	if (SVC("cron", PAM_EPHEMERAL_TEST_SO, "test_now=" NOW_S))
		return 99;
	free(text);
	if (SVC("sshd-badarg", PAM_EPHEMERAL_TEST_SO, "debug bogus"))
		return 99;
	free(text);
	if (SVC("sshd-wd", PAM_EPHEMERAL_TEST_SO, "watchdog=" WATCHDOG_BIN))
		return 99;
	free(text);
	if (SVC("sshd-wd-missing", PAM_EPHEMERAL_TEST_SO,
	        "watchdog=/nonexistent/ephemeral-watchdog"))
		return 99;
	free(text);
	if (asprintf(&wd, "watchdog=%s/ephemeral-watchdog", dir) < 0 ||
	    SVC("sshd-prod-wd", PAM_EPHEMERAL_SO, wd))
		return 99;
	free(text);
	free(wd);
	if (SVC("sshd-prod", PAM_EPHEMERAL_SO, "debug"))
		return 99;
	free(text);
	if (SVC("sshd-prod-testnow", PAM_EPHEMERAL_SO, "test_now=" NOW_S))
		return 99;
	free(text);
	if (asprintf(&text, "session required %s conf=%s/missing.conf\n", PAM_EPHEMERAL_TEST_SO,
	        dir) < 0 ||
	    write_service("sshd-noconf", text) != 0)
		return 99;
	free(text);
#undef SVC
	setenv("EPH_PAMEPH_TEST_DIR", dir, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
	setenv("LD_PRELOAD", PAM_WRAPPER_SO, 1);
	setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	old = getenv("ASAN_OPTIONS");
	if (asprintf(&asan, "%s%sverify_asan_link_order=0", old != NULL ? old : "",
	        old != NULL && *old != '\0' ? ":" : "") < 0)
		return 99;
	setenv("ASAN_OPTIONS", asan, 1);
	free(asan);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "test_pam_ephemeral: re-exec: %s\n", strerror(errno));
	tu_rmrf(dir);
	return 99;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_in_spool, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_yet_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_task_not_accepted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_as_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grant_missing_or_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_logins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_logins_two, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_entry_used_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_authinfo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_certificate_hidden, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_service, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_production_sshca, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_lifeline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_unsafe_path, setup, teardown),
	};
	int rc;

	if ((world = getenv("EPH_PAMEPH_TEST_DIR")) == NULL || getenv("PAM_WRAPPER") == NULL)
		return reexec_under_pam_wrapper(argv);
	{
		struct passwd *pw = getpwuid(getuid());

		if (pw == NULL) {
			fprintf(stderr, "test_pam_ephemeral: who am I?\n");
			return 99;
		}
		snprintf(me, sizeof(me), "%s", pw->pw_name);
	}
	tu_init(argc, argv);
	rc = cmocka_run_group_tests_name("pam_ephemeral", tests, NULL, NULL);
	tu_rmrf(world);
	return rc;
}

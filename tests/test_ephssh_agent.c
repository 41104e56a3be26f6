/* Tests for ephssh's key handling (client/keys.c) against a real
 * ssh-agent started per test, with ssh-add and ssh-keygen as the
 * oracles: key + certificate with the certificate's lifetime, removal,
 * a locked agent's refusal, no agent, the clock checks, --write files and
 * modes, and the store of keys waiting to be fetched. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "../client/keys.h"
#include "agent.h"
#include "cert.h"
#include "err.h"
#include "key.h"

#define ID "r-0123456789abcdef"

struct fx {
	char *dir;
	char *sock;
	char *xdg; /* XDG_RUNTIME_DIR for the pending store */
	pid_t agent_pid;
	struct agent *a;
	struct key *ca;
	struct key *k; /* the requester's key */
};

static int
have_agent_tools(void)
{
	return SSH_AGENT_PATH[0] != '\0' && access(SSH_AGENT_PATH, X_OK) == 0 &&
	    SSH_ADD_PATH[0] != '\0' && access(SSH_ADD_PATH, X_OK) == 0;
}

#define REQUIRE_AGENT(fx)                                                                          \
	do {                                                                                       \
		if ((fx)->agent_pid <= 0)                                                          \
			skip();                                                                    \
	} while (0)

/* ssh-agent on a socket in the temp dir, and our connection to it. */
static void
start_agent(struct fx *fx)
{
	fx->sock = tu_path(fx->dir, "agent.sock");
	tu_agent_start(fx->sock, &fx->agent_pid);
	if (agent_connect(fx->sock, &fx->a) != EPH_OK)
		fail_msg("cannot connect to ssh-agent on %s", fx->sock);
	setenv("SSH_AUTH_SOCK", fx->sock, 1);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->agent_pid = -1;
	fx->dir = tu_mkdtemp();
	fx->xdg = tu_path(fx->dir, "xdg");
	if (mkdir(fx->xdg, 0700) != 0)
		return -1;
	setenv("XDG_RUNTIME_DIR", fx->xdg, 1);
	unsetenv("SSH_AUTH_SOCK");
	if (key_generate(KEY_ED25519, 0, &fx->ca) != EPH_OK ||
	    key_generate(KEY_ED25519, 0, &fx->k) != EPH_OK)
		return -1;
	alarm(30);
	if (have_agent_tools())
		start_agent(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	alarm(0);
	agent_close(fx->a);
	if (fx->agent_pid > 0) {
		kill(fx->agent_pid, SIGTERM);
		while (waitpid(fx->agent_pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	unsetenv("SSH_AUTH_SOCK");
	unsetenv("XDG_RUNTIME_DIR");
	tu_rmrf(fx->dir);
	key_free(fx->ca);
	key_free(fx->k);
	free(fx->dir);
	free(fx->sock);
	free(fx->xdg);
	free(fx);
	return 0;
}

/* A user certificate for subject valid [after, before), signed by the
 * fixture's CA, as the CA issues them. */
static struct cert *
new_cert(struct fx *fx, const struct key *subject, uint64_t after, uint64_t before)
{
	struct cert *c = NULL;

	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_set_key(c, subject), EPH_OK);
	assert_int_equal(cert_add_principal(c, "eph:db@db01.example.com"), EPH_OK);
	assert_int_equal(cert_add_extension(c, "permit-pty", NULL, 0), EPH_OK);
	c->key_id = strdup("eph:" ID ":alice:db");
	assert_non_null(c->key_id);
	c->serial = 4711;
	c->valid_after = after;
	c->valid_before = before;
	assert_int_equal(cert_sign(c, fx->ca, NULL), EPH_OK);
	return c;
}

static int
ssh_add(struct fx *fx, char **out, const char *args)
{
	return tu_run(out, "SSH_AUTH_SOCK='%s' '%s' %s", fx->sock, SSH_ADD_PATH, args);
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* ---------------------------------------------------------- the agent */

static void
test_add_with_lifetime(void **state)
{
	struct fx *fx = *state;
	uint64_t now = (uint64_t)time(NULL);
	struct cert *c = new_cert(fx, fx->k, now - 60, now + 600);
	struct agent_identity *ids = NULL;
	char why[256], *line = NULL, *out = NULL;
	size_t n = 0;

	REQUIRE_AGENT(fx);
	assert_int_equal(keys_lifetime(c, (int64_t)now), 600);
	assert_int_equal(keys_lifetime(c, (int64_t)now + 599), 1);
	assert_int_equal(keys_lifetime(c, (int64_t)now + 600), 0);
	assert_int_equal(
	    keys_agent_add(fx->a, fx->k, c, "ephssh:" ID, (int64_t)now, why, sizeof(why)), EPH_OK);
	/* ssh-add sees the certificate line, with our comment, and no bare key. */
	assert_int_equal(cert_format_line(c, "ephssh:" ID, &line), EPH_OK);
	assert_int_equal(ssh_add(fx, &out, "-L"), 0);
	if (!has_line(out, line))
		fail_msg("ssh-add -L:\n%s\nlacks:\n%s", out, line);
	free(out);
	assert_int_equal(ssh_add(fx, &out, "-l"), 0);
	tu_assert_contains(out, "ED25519-CERT");
	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_OK);
	assert_int_equal(n, 1);
	assert_true(keys_listed(ids, n, c->blob.d, c->blob.len));
	agent_identities_free(ids, n);
	free(out);
	free(line);
	cert_free(c);
}

/* The lifetime is the certificate's: the agent drops it when it ends. */
static void
test_agent_drops_at_valid_before(void **state)
{
	struct fx *fx = *state;
	uint64_t now = (uint64_t)time(NULL);
	struct cert *c = new_cert(fx, fx->k, now - 60, now + 2);
	struct agent_identity *ids = NULL;
	char why[256];
	size_t n = 1;
	int i;

	REQUIRE_AGENT(fx);
	assert_int_equal(
	    keys_agent_add(fx->a, fx->k, c, "short", (int64_t)now, why, sizeof(why)), EPH_OK);
	/* Without a lifetime it would stay: wait (bounded) for it to go. */
	for (i = 0; i < 100 && n > 0; i++) {
		agent_identities_free(ids, n);
		ids = NULL;
		assert_int_equal(agent_list(fx->a, &ids, &n), EPH_OK);
		if (n > 0)
			tu_sleep_ms(100);
	}
	agent_identities_free(ids, n);
	assert_int_equal(n, 0);
	cert_free(c);
}

static void
test_remove_cert_and_plain_key(void **state)
{
	struct fx *fx = *state;
	uint64_t now = (uint64_t)time(NULL);
	struct cert *c = new_cert(fx, fx->k, now - 60, now + 600);
	struct cert *other = NULL;
	struct key *k2 = NULL;
	char why[256], *out = NULL;
	int removed = -1;

	REQUIRE_AGENT(fx);
	/* Someone else's grant in the same agent stays. */
	assert_int_equal(key_generate(KEY_ED25519, 0, &k2), EPH_OK);
	other = new_cert(fx, k2, now - 60, now + 600);
	assert_int_equal(
	    keys_agent_add(fx->a, k2, other, "other", (int64_t)now, why, sizeof(why)), EPH_OK);
	assert_int_equal(
	    keys_agent_add(fx->a, fx->k, c, "mine", (int64_t)now, why, sizeof(why)), EPH_OK);
	assert_int_equal(agent_add_identity(fx->a, fx->k, NULL, "plain", 0, 0), EPH_OK);
	assert_int_equal(keys_agent_remove(fx->a, c, &removed), EPH_OK);
	assert_int_equal(removed, 2);
	assert_int_equal(ssh_add(fx, &out, "-l"), 0);
	tu_assert_contains(out, "other");
	tu_assert_not_contains(out, "mine");
	tu_assert_not_contains(out, "plain");
	free(out);
	/* Again: nothing to remove is not an error. */
	assert_int_equal(keys_agent_remove(fx->a, c, &removed), EPH_OK);
	assert_int_equal(removed, 0);
	cert_free(c);
	cert_free(other);
	key_free(k2);
}

/* A locked agent refuses the key; nothing of it is left in the agent. */
static void
test_locked_agent_refuses(void **state)
{
	struct fx *fx = *state;
	uint64_t now = (uint64_t)time(NULL);
	struct cert *c = new_cert(fx, fx->k, now - 60, now + 600);
	char why[256], *askpass = tu_path(fx->dir, "askpass"), *out = NULL;
	static const char script[] = "#!/bin/sh\necho lock-pw\n";

	REQUIRE_AGENT(fx);
	assert_int_equal(tu_write_file(askpass, script, sizeof(script) - 1, 0700), 0);
	if (tu_run(&out,
	        "SSH_AUTH_SOCK='%s' SSH_ASKPASS='%s' SSH_ASKPASS_REQUIRE=force "
	        "DISPLAY=:0 '%s' -x </dev/null",
	        fx->sock, askpass, SSH_ADD_PATH) != 0)
		fail_msg("ssh-add -x: %s", out);
	free(out);
	assert_int_equal(
	    keys_agent_add(fx->a, fx->k, c, "x", (int64_t)now, why, sizeof(why)), EPH_ERR_AGENT);
	tu_assert_contains(why, "refused");
	tu_assert_contains(why, "ssh-add -X");
	/* Unlocked, it holds nothing of ours. */
	assert_int_equal(tu_run(&out,
	                     "SSH_AUTH_SOCK='%s' SSH_ASKPASS='%s' SSH_ASKPASS_REQUIRE=force "
	                     "DISPLAY=:0 '%s' -X </dev/null",
	                     fx->sock, askpass, SSH_ADD_PATH),
	    0);
	free(out);
	assert_int_equal(ssh_add(fx, &out, "-l"), 1);
	free(out);
	free(askpass);
	cert_free(c);
}

static void
test_no_agent(void **state)
{
	struct fx *fx = *state;
	struct agent *a = NULL;
	char why[512], *bogus = tu_path(fx->dir, "no.sock");

	unsetenv("SSH_AUTH_SOCK");
	assert_int_equal(keys_agent_open(&a, why, sizeof(why)), EPH_ERR_NOTFOUND);
	assert_null(a);
	tu_assert_contains(why, "SSH_AUTH_SOCK is not set");
	tu_assert_contains(why, "eval $(ssh-agent)");
	tu_assert_contains(why, "--write DIR");
	setenv("SSH_AUTH_SOCK", bogus, 1);
	assert_int_equal(keys_agent_open(&a, why, sizeof(why)), EPH_ERR_IO);
	tu_assert_contains(why, bogus);
	tu_assert_contains(why, "eval $(ssh-agent)");
	free(bogus);
}

/* ------------------------------------------------------ the clock checks */

static void
test_check_cert_clock(void **state)
{
	struct fx *fx = *state;
	const uint64_t t = 1800000000;
	struct cert *c = new_cert(fx, fx->k, t - 60, t + 600);
	struct key *k2 = NULL;
	char why[512], warn[256];

	assert_int_equal(
	    keys_check_cert(c, fx->k, (int64_t)t, why, sizeof(why), warn, sizeof(warn)), EPH_OK);
	assert_string_equal(warn, "");
	/* Expired on arrival: by how much this clock is ahead. */
	assert_int_equal(
	    keys_check_cert(c, fx->k, (int64_t)t + 900, why, sizeof(why), warn, sizeof(warn)),
	    EPH_ERR_EXPIRED);
	tu_assert_contains(why, "already expired");
	tu_assert_contains(why, "at least 5m 0s ahead");
	assert_int_equal(
	    keys_check_cert(c, fx->k, (int64_t)t + 600, why, sizeof(why), warn, sizeof(warn)),
	    EPH_ERR_EXPIRED);
	/* Not yet valid beyond the slack: loaded, with a word about the clock. */
	assert_int_equal(keys_check_cert(c, fx->k, (int64_t)t - 60 - KEYS_CLOCK_SLACK, why,
	                     sizeof(why), warn, sizeof(warn)),
	    EPH_OK);
	assert_string_equal(warn, "");
	assert_int_equal(
	    keys_check_cert(c, fx->k, (int64_t)t - 660, why, sizeof(why), warn, sizeof(warn)),
	    EPH_OK);
	tu_assert_contains(warn, "at least 10m 0s behind");
	/* A certificate for another key. */
	assert_int_equal(key_generate(KEY_ED25519, 0, &k2), EPH_OK);
	assert_int_equal(keys_check_cert(c, k2, (int64_t)t, why, sizeof(why), warn, sizeof(warn)),
	    EPH_ERR_INVAL);
	key_free(k2);
	cert_free(c);
}

/* --------------------------------------------------------------- --write */

static void
test_write_files(void **state)
{
	struct fx *fx = *state;
	uint64_t now = (uint64_t)time(NULL);
	struct cert *c = new_cert(fx, fx->k, now - 60, now + 600);
	char why[512], *dir = tu_path(fx->dir, "keys"), *kp = NULL, *cp = NULL, *out = NULL;
	char *pub = NULL, *line = NULL, *k2 = NULL, *c2 = NULL;
	struct stat st;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(keys_write(dir, ID, fx->k, c, &kp, &cp, why, sizeof(why)), EPH_OK);
	assert_int_equal(lstat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(kp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(cp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	tu_assert_contains(cp, ID "-cert.pub");
	/* OpenSSH reads the private key: its public half is ours. */
	assert_int_equal(tu_run(&out, "'%s' -y -f '%s'", tu_ssh_keygen(), kp), 0);
	assert_int_equal(key_format_public_line(fx->k, NULL, &pub), EPH_OK);
	tu_assert_contains(out, pub);
	free(out);
	/* And the certificate file is the certificate. */
	assert_int_equal(tu_run(&out, "'%s' -L -f '%s'", tu_ssh_keygen(), cp), 0);
	tu_assert_contains(out, "Serial: 4711");
	tu_assert_contains(out, "eph:db@db01.example.com");
	free(out);
	assert_int_equal(cert_format_line(c, ID, &line), EPH_OK);
	out = tu_read_file(cp, NULL);
	assert_non_null(out);
	tu_assert_contains(out, line);
	free(out);
	/* Never over an existing file; nothing half-written is left. */
	assert_int_equal(unlink(cp), 0);
	assert_int_not_equal(keys_write(dir, ID, fx->k, c, &k2, &c2, why, sizeof(why)), EPH_OK);
	assert_null(k2);
	assert_int_equal(access(cp, F_OK), -1);
	free(kp);
	free(cp);
	free(pub);
	free(line);
	free(dir);
	cert_free(c);
}

static void
test_write_dir_refused(void **state)
{
	struct fx *fx = *state;
	uint64_t now = (uint64_t)time(NULL);
	struct cert *c = new_cert(fx, fx->k, now - 60, now + 600);
	char why[512], *dir = tu_path(fx->dir, "open"), *file = tu_path(fx->dir, "file");
	char *kp = NULL, *cp = NULL, *none = tu_path(fx->dir, "no/such/dir");

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(keys_write(dir, ID, fx->k, c, &kp, &cp, why, sizeof(why)), EPH_ERR_PERM);
	tu_assert_contains(why, "writable by its group");
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(keys_write_dir_check(dir, why, sizeof(why)), EPH_ERR_PERM);
	tu_assert_contains(why, "writable by everyone");
	assert_int_equal(tu_write_file(file, "x", 1, 0600), 0);
	assert_int_equal(keys_write_dir_check(file, why, sizeof(why)), EPH_ERR_PERM);
	tu_assert_contains(why, "not a directory");
	assert_int_equal(keys_write_dir_check(none, why, sizeof(why)), EPH_ERR_IO);
	/* Read-only for others is fine: the files are 0600. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(keys_write_dir_check(dir, why, sizeof(why)), EPH_OK);
	if (geteuid() == 0) {
		/* Not ours: made by another user. */
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(keys_write_dir_check(dir, why, sizeof(why)), EPH_ERR_PERM);
		tu_assert_contains(why, "not your own");
	}
	free(dir);
	free(file);
	free(none);
	cert_free(c);
}

/* ------------------------------------------------------ the pending store */

static void
test_pending_store(void **state)
{
	struct fx *fx = *state;
	const int64_t t = 1800000000;
	char why[512], *path = NULL, *expect = NULL, *d = NULL;
	struct key *back = NULL;
	struct stat st;

	assert_int_equal(keys_pending_save(ID, fx->k, t + 100, &path, why, sizeof(why)), EPH_OK);
	expect = tu_path(fx->xdg, "ephssh/pending-" ID ".%lld.key", (long long)(t + 100));
	assert_string_equal(path, expect);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	d = tu_path(fx->xdg, "ephssh");
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Loaded before its deadline: the same key. */
	assert_int_equal(keys_pending_load(ID, t + 99, &back, why, sizeof(why)), EPH_OK);
	assert_true(key_equal_public(back, fx->k));
	key_free(back);
	back = NULL;
	/* Another id has none. */
	assert_int_equal(
	    keys_pending_load("r-fedcba9876543210", t, &back, why, sizeof(why)), EPH_ERR_NOTFOUND);
	tu_assert_contains(why, "no saved key for r-fedcba9876543210");
	/* A sweep before the deadline keeps it; at the deadline it goes. */
	assert_int_equal(keys_pending_sweep(t + 99), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(keys_pending_sweep(t + 100), 1);
	assert_int_equal(access(path, F_OK), -1);
	/* Saved again and loaded past its deadline: not found, and deleted. */
	free(path);
	assert_int_equal(keys_pending_save(ID, fx->k, t + 100, &path, why, sizeof(why)), EPH_OK);
	assert_int_equal(keys_pending_load(ID, t + 100, &back, why, sizeof(why)), EPH_ERR_NOTFOUND);
	assert_null(back);
	assert_int_equal(access(path, F_OK), -1);
	/* Saved, then removed once fetched. */
	free(path);
	assert_int_equal(keys_pending_save(ID, fx->k, t + 100, &path, why, sizeof(why)), EPH_OK);
	assert_int_equal(keys_pending_remove(ID), EPH_OK);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(keys_pending_remove(ID), EPH_OK);
	/* A group-readable key file is refused, not used. */
	free(path);
	assert_int_equal(keys_pending_save(ID, fx->k, t + 100, &path, why, sizeof(why)), EPH_OK);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_not_equal(keys_pending_load(ID, t, &back, why, sizeof(why)), EPH_OK);
	assert_null(back);
	free(path);
	free(expect);
	free(d);
}

/* No private runtime directory: nothing is saved anywhere else. */
static void
test_pending_needs_private_dir(void **state)
{
	struct fx *fx = *state;
	char why[512], *path = NULL;

	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(
	    keys_pending_save(ID, fx->k, 100, &path, why, sizeof(why)), EPH_ERR_NOTFOUND);
	assert_null(path);
	tu_assert_contains(why, "XDG_RUNTIME_DIR");
	assert_int_equal(chmod(fx->xdg, 0755), 0);
	setenv("XDG_RUNTIME_DIR", fx->xdg, 1);
	assert_int_equal(keys_pending_save(ID, fx->k, 100, &path, why, sizeof(why)), EPH_ERR_PERM);
	assert_null(path);
}

/* The private key file format OpenSSH reads, line by line. */
static void
test_openssh_format(void **state)
{
	struct fx *fx = *state;
	struct buf b;
	char *text;

	(void)fx;
	buf_init(&b);
	assert_int_equal(key_format_private_openssh(fx->k, "c", &b), EPH_OK);
	text = calloc(1, b.len + 1);
	assert_non_null(text);
	memcpy(text, b.d, b.len);
	assert_int_equal(strncmp(text, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
	tu_assert_contains(text, "\n-----END OPENSSH PRIVATE KEY-----\n");
	/* "openssh-key-v1\0" + "none" begins every unencrypted key. */
	tu_assert_contains(text, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
	free(text);
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_with_lifetime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_drops_at_valid_before, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_cert_and_plain_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locked_agent_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_cert_clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_dir_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_needs_private_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_openssh_format, setup, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

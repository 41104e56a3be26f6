/*
 * Tests for the session watchdog: watchdog_watch (expiry on time, the
 * KRL looked at and fail-closed, the lifeline and the process) and
 * watchdog_end_session on a fake sshd session of real processes (a
 * session leader, a "shell" in a session of its own, a child that
 * ignores SIGTERM and SIGHUP, an orphan left in the shell's session, and
 * a bystander that must survive), then the built ephemeral-watchdog:
 * its handshake, its lifeline and its refusals.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "cert.h"
#include "err.h"
#include "key.h"
#include "krl.h"
#include "testutil.h"
#include "watchdog.h"

#define WATCHDOG_BIN TOP_BUILDDIR "/host/ephemeral-watchdog"
#define CERT_TYPE "ssh-ed25519-cert-v01@openssh.com"

struct fx {
	char *dir, *krl_path, *conf;
	struct key *ca, *user;
	struct cert *cert;
	pid_t kids[8];
	size_t nkids;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Gone: no such process, or a zombie (pid 1 here may never reap it). */
static int
gone(pid_t pid)
{
	char path[64], text[512], *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 1;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	return (p = strrchr(text, ')')) != NULL && (p[2] == 'Z' || p[2] == 'X');
}

static int
wait_gone(pid_t pid, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (!gone(pid)) {
		if (now_ms() > end)
			return 0;
		tu_sleep_ms(20);
	}
	return 1;
}

static uint64_t
start_of(pid_t pid)
{
	char path[64], text[1024], *p, *tok, *save = NULL;
	FILE *fp;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_non_null(p = strrchr(text, ')'));
	for (i = 3, tok = strtok_r(p + 2, " ", &save); tok != NULL && i < 22;
	     i++, tok = strtok_r(NULL, " ", &save))
		;
	assert_non_null(tok);
	return strtoull(tok, NULL, 10);
}

static void
write_krl(struct fx *f, const uint64_t *serials, size_t n)
{
	tu_write_krl(f->krl_path, f->ca, serials, n);
}

static void
make_cert(struct fx *f, uint64_t valid_before)
{
	cert_free(f->cert);
	f->cert = NULL;
	assert_int_equal(cert_new(&f->cert), EPH_OK);
	assert_int_equal(cert_set_key(f->cert, f->user), EPH_OK);
	f->cert->type = CERT_TYPE_USER;
	f->cert->serial = 42;
	assert_non_null(f->cert->key_id = strdup("eph:g-42:alice:db-maint"));
	f->cert->valid_after = (uint64_t)time(NULL) - 60;
	f->cert->valid_before = valid_before;
	assert_int_equal(cert_add_principal(f->cert, "eph:db-maint@db01.example.com"), EPH_OK);
	assert_int_equal(cert_sign(f->cert, f->ca, NULL), EPH_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *text, *ca_path, *line;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	f->krl_path = tu_path(f->dir, "revoked.krl");
	f->conf = tu_path(f->dir, "host.conf");
	ca_path = tu_path(f->dir, "ca.pub");
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->ca), EPH_OK);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->user), EPH_OK);
	assert_int_equal(key_format_public_line(f->ca, "ca", &line), EPH_OK);
	assert_int_equal(tu_write_file(ca_path, line, strlen(line), 0644), 0);
	free(line);
	write_krl(f, NULL, 0);
	assert_true(asprintf(&text,
	                "host = { names = [ \"db01.example.com\" ]; };\n"
	                "trusted_ca_keys = \"%s\";\nrevoked_keys = \"%s\";\nstate_dir = \"%s\";\n"
	                "accept = ( { task = \"db-maint\"; users = [ \"postgres\" ]; } );\n",
	                ca_path, f->krl_path, f->dir) > 0);
	assert_int_equal(tu_write_file(f->conf, text, strlen(text), 0644), 0);
	free(text);
	free(ca_path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < f->nkids; i++)
		if (f->kids[i] > 0) {
			kill(f->kids[i], SIGKILL);
			waitpid(f->kids[i], NULL, 0);
		}
	cert_free(f->cert);
	key_free(f->ca);
	key_free(f->user);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->krl_path);
	free(f->conf);
	free(f);
	return 0;
}

/* A child that sleeps until killed, reaped at teardown. */
static pid_t
sleeper(struct fx *f)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	f->kids[f->nkids++] = pid;
	return pid;
}

struct tagged {
	char tag;
	pid_t pid;
};

static void
say(int fd, char tag)
{
	struct tagged t = {tag, getpid()};

	if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
		_exit(9);
}

/*
 * A fake sshd session: 'a' (setsid, like sshd's connection process),
 * its child 'b' (setsid, like a login shell), b's child 'c' that ignores
 * SIGTERM and SIGHUP, and 'd', forked by b through a process that exits
 * (so init's, still in b's session). pids[] in that order.
 */
static void
fake_session(struct fx *f, pid_t pids[4])
{
	int p[2];
	pid_t a;
	size_t i;

	assert_int_equal(pipe(p), 0);
	if ((a = fork()) == 0) {
		close(p[0]);
		if (setsid() < 0)
			_exit(9);
		if (fork() == 0) {
			pid_t x;

			if (setsid() < 0)
				_exit(9);
			if (fork() == 0) {
				signal(SIGTERM, SIG_IGN);
				signal(SIGHUP, SIG_IGN);
				say(p[1], 'c');
				for (;;)
					pause();
			}
			if ((x = fork()) == 0) {
				if (fork() == 0) {
					say(p[1], 'd');
					for (;;)
						pause();
				}
				_exit(0);
			}
			waitpid(x, NULL, 0);
			say(p[1], 'b');
			for (;;)
				pause();
		}
		say(p[1], 'a');
		for (;;)
			pause();
	}
	assert_true(a > 0);
	f->kids[f->nkids++] = a;
	close(p[1]);
	memset(pids, 0, 4 * sizeof(pids[0]));
	for (i = 0; i < 4; i++) {
		struct tagged t;

		assert_int_equal(read(p[0], &t, sizeof(t)), (ssize_t)sizeof(t));
		assert_true(t.tag >= 'a' && t.tag <= 'd');
		pids[t.tag - 'a'] = t.pid;
	}
	close(p[0]);
	assert_int_equal(pids[0], a);
}

static void
test_expires_on_time(void **state)
{
	struct fx *f = *state;
	struct watchdog_watch w;
	uint64_t vb = (uint64_t)time(NULL) + 2, t;
	char detail[256];
	int sv[2];
	pid_t pid = sleeper(f);

	make_cert(f, vb);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Bytes on the lifeline are not its end. */
	assert_int_equal(write(sv[1], "x", 1), 1);
	w = (struct watchdog_watch){pid, start_of(pid), sv[0], f->cert, f->krl_path, 300};
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_EXPIRED);
	t = now_ms();
	/* Never before valid_before, and well inside the 5 s allowed. */
	assert_true(t >= vb * 1000u);
	if (t > vb * 1000u + 5000u)
		fail_msg("expired %llu ms late", (unsigned long long)(t - vb * 1000u));
	tu_assert_contains(detail, "serial 42");
	close(sv[0]);
	close(sv[1]);
}

static void
test_lifeline_and_process(void **state)
{
	struct fx *f = *state;
	struct watchdog_watch w;
	char detail[256];
	int sv[2], st;
	pid_t pid = sleeper(f);

	make_cert(f, (uint64_t)time(NULL) + 600);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	w = (struct watchdog_watch){pid, start_of(pid), sv[0], f->cert, f->krl_path, 300};
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_GONE);
	tu_assert_contains(detail, "closed");
	close(sv[0]);
	/* No lifeline: the process's end is noticed. */
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	f->kids[f->nkids - 1] = 0;
	w.lifeline = -1;
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_GONE);
	tu_assert_contains(detail, "gone");
	/* Another process with the same pid is not the session's. */
	pid = sleeper(f);
	w = (struct watchdog_watch){pid, start_of(pid) + 1, -1, f->cert, f->krl_path, 300};
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_GONE);
}

static void
test_revoked_while_watching(void **state)
{
	struct fx *f = *state;
	struct watchdog_watch w;
	const uint64_t other = 7, serials[] = {7, 42};
	char detail[256];
	int sv[2];
	pid_t pid = sleeper(f), writer;
	uint64_t t0;

	make_cert(f, (uint64_t)time(NULL) + 60);
	write_krl(f, &other, 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* The KRL is replaced (a new file renamed over it) a second in. */
	if ((writer = fork()) == 0) {
		tu_sleep_ms(1000);
		write_krl(f, serials, 2);
		_exit(0);
	}
	t0 = now_ms();
	w = (struct watchdog_watch){pid, start_of(pid), sv[0], f->cert, f->krl_path, 200};
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_REVOKED);
	assert_true(now_ms() - t0 >= 1000);
	tu_assert_contains(detail, "revoked");
	assert_int_equal(waitpid(writer, NULL, 0), writer);
	close(sv[0]);
	close(sv[1]);
}

static void
test_krl_unusable(void **state)
{
	struct fx *f = *state;
	struct watchdog_watch w;
	char detail[256], *bad = tu_path(f->dir, "bad.krl");
	int sv[2];
	pid_t pid = sleeper(f), fixer;

	make_cert(f, (uint64_t)time(NULL) + 60);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Missing: two looks, then the session ends. */
	assert_int_equal(unlink(f->krl_path), 0);
	w = (struct watchdog_watch){pid, start_of(pid), sv[0], f->cert, f->krl_path, 200};
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_KRL_UNREADABLE);
	tu_assert_contains(detail, f->krl_path);
	/* Not a KRL. */
	assert_int_equal(tu_write_file(bad, "not a krl\n", 10, 0644), 0);
	w.krl_path = bad;
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_KRL_UNREADABLE);
	/* One bad look between good ones is not the end: missing at the
	 * first look (1 s), back before the second (2 s); the certificate
	 * then expires (3 s). */
	make_cert(f, (uint64_t)time(NULL) + 4);
	w.cert = f->cert;
	w.krl_path = f->krl_path;
	w.krl_interval_ms = 1000;
	if ((fixer = fork()) == 0) {
		tu_sleep_ms(1500);
		write_krl(f, NULL, 0);
		_exit(0);
	}
	assert_int_equal(watchdog_watch(&w, detail, sizeof(detail)), WATCHDOG_EXPIRED);
	assert_int_equal(waitpid(fixer, NULL, 0), fixer);
	close(sv[0]);
	close(sv[1]);
	free(bad);
}

static void
test_end_session(void **state)
{
	struct fx *f = *state;
	struct watchdog_ended e;
	pid_t s[4], bystander = sleeper(f);
	size_t i;

	fake_session(f, s);
	assert_int_equal(
	    watchdog_end_session(s[0], start_of(s[0]), getuid(), NULL, 1000, &e), EPH_OK);
	for (i = 0; i < 4; i++)
		if (!wait_gone(s[i], 2000))
			fail_msg("process %c (%ld) of the session is still there", (int)('a' + i),
			    (long)s[i]);
	/* a, b, c and d were told to go; c ignored it and was killed. */
	assert_true(e.signalled >= 4);
	assert_true(e.killed >= 1);
	/* The test's own session (sshd's listener's, here) is left alone. */
	assert_false(gone(bystander));
	assert_false(gone(getpid()));
	/* Already gone: said so, nothing done. */
	assert_int_equal(
	    watchdog_end_session(s[1], 12345, getuid(), NULL, 1000, &e), EPH_ERR_NOTFOUND);
	assert_int_equal(e.signalled, 0);
}

/* The built watchdog with a control socket as fd 3; *ctl is ours. */
static pid_t
spawn(const char *conf, pid_t target, const char *user, int *ctl)
{
	int sv[2];
	char spid[24];
	pid_t pid;

	snprintf(spid, sizeof(spid), "%ld", (long)target);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		if (dup2(sv[1], 3) < 0)
			_exit(99);
		execl(WATCHDOG_BIN, "ephemeral-watchdog", "-f", conf, "--pid", spid, "--user", user,
		    "--krl-interval", "1", (char *)NULL);
		_exit(98);
	}
	assert_true(pid > 0);
	close(sv[1]);
	*ctl = sv[0];
	return pid;
}

static void
handshake(struct fx *f, int ctl, const char *want)
{
	char *b64, *line, reply[256];
	ssize_t n;

	assert_non_null(b64 = b64_encode(f->cert->blob.d, f->cert->blob.len));
	assert_true(asprintf(&line, CERT_TYPE " %s\n", b64) > 0);
	assert_int_equal(write(ctl, line, strlen(line)), (ssize_t)strlen(line));
	n = read(ctl, reply, sizeof(reply) - 1);
	assert_true(n > 0);
	reply[n] = '\0';
	if (strncmp(reply, want, strlen(want)) != 0)
		fail_msg("watchdog answered \"%s\", not \"%s...\"", reply, want);
	free(b64);
	free(line);
}

static int
exit_code(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static const char *
me(void)
{
	static char name[64];
	char *out = NULL;

	if (name[0] == '\0') {
		assert_int_equal(tu_run(&out, "id -un"), 0);
		snprintf(name, sizeof(name), "%s", out);
		name[strcspn(name, "\n")] = '\0';
		free(out);
	}
	return name;
}

static void
test_binary(void **state)
{
	struct fx *f = *state;
	pid_t s[4], wd, target = sleeper(f);
	int ctl;
	size_t i;

	/* Lifeline closed: exits at once, the session untouched. */
	make_cert(f, (uint64_t)time(NULL) + 600);
	wd = spawn(f->conf, target, me(), &ctl);
	handshake(f, ctl, "ok");
	close(ctl);
	assert_int_equal(exit_code(wd), 0);
	assert_false(gone(target));

	/* Expiry: the whole fake session ends, and so does the watchdog. */
	make_cert(f, (uint64_t)time(NULL) + 2);
	fake_session(f, s);
	wd = spawn(f->conf, s[0], me(), &ctl);
	handshake(f, ctl, "ok");
	assert_int_equal(exit_code(wd), 0);
	for (i = 0; i < 4; i++)
		assert_true(wait_gone(s[i], 2000));
	close(ctl);

	/* Revocation, looked at every second (--krl-interval 1). */
	make_cert(f, (uint64_t)time(NULL) + 600);
	target = sleeper(f);
	wd = spawn(f->conf, target, me(), &ctl);
	handshake(f, ctl, "ok");
	{
		const uint64_t serials[] = {42};

		write_krl(f, serials, 1);
	}
	assert_int_equal(exit_code(wd), 0);
	assert_true(wait_gone(target, 2000));
	close(ctl);
	write_krl(f, NULL, 0);

	/* Refusals: answered "error ...", exit 1, nobody touched. */
	target = sleeper(f);
	wd = spawn(f->conf, target, "no-such-user-eph", &ctl);
	handshake(f, ctl, "error no such local account");
	assert_int_equal(exit_code(wd), 1);
	close(ctl);
	wd = spawn("/nonexistent/host.conf", target, me(), &ctl);
	handshake(f, ctl, "error host.conf");
	assert_int_equal(exit_code(wd), 1);
	close(ctl);
	wd = spawn(f->conf, target, me(), &ctl);
	assert_int_equal(write(ctl, "garbage\n", 8), 8);
	assert_int_equal(exit_code(wd), 1);
	close(ctl);
	assert_false(gone(target));
}

static void
test_binary_usage(void **state)
{
	char *out = NULL;

	(void)state;
	/* Run by hand: no control socket on fd 3. */
	assert_int_equal(tu_run(&out, "%s --pid 1234 --user root 3>&-", WATCHDOG_BIN), 2);
	tu_assert_contains(out, "pam_ephemeral starts this program");
	free(out);
	assert_int_equal(tu_run(&out, "%s --user root", WATCHDOG_BIN), 2);
	free(out);
	assert_int_equal(tu_run(&out, "%s --pid 1 --user root", WATCHDOG_BIN), 2);
	free(out);
	assert_int_equal(tu_run(&out, "%s --help", WATCHDOG_BIN), 0);
	tu_assert_contains(out, "--krl-interval");
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_expires_on_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifeline_and_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_while_watching, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_krl_unusable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_end_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
	    cmocka_unit_test(test_binary_usage),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("watchdog", tests, NULL, NULL);
}

/* Tests for the process side of sshca serve: pid file locking, signals
 * through a signalfd, sd_notify, detaching, and dropping root for good. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "err.h"

#include "testutil.h"

static void
test_pidfile(void **state)
{
	const char *dir = *state;
	char *path = tu_path(dir, "sshca.pid"), *text;
	pid_t holder = -1;
	int fd = -1, fd2 = -1;

	assert_int_equal(daemon_pidfile_write(path, 4242, &fd, &holder), EPH_OK);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_non_null(text = tu_read_file(path, NULL));
	assert_string_equal(text, "4242\n");
	free(text);
	/* A second daemon is refused and told who holds it. */
	assert_int_equal(daemon_pidfile_write(path, 4343, &fd2, &holder), EPH_ERR_EXISTS);
	assert_int_equal(fd2, -1);
	assert_int_equal(holder, 4242);
	daemon_pidfile_remove(path, fd);
	assert_int_equal(access(path, F_OK), -1);
	/* A stale file nobody holds is taken over, and shorter text fits. */
	assert_int_equal(tu_write_file(path, "9999999\n", 8, 0644), 0);
	assert_int_equal(daemon_pidfile_write(path, 7, &fd, NULL), EPH_OK);
	assert_non_null(text = tu_read_file(path, NULL));
	assert_string_equal(text, "7\n");
	free(text);
	daemon_pidfile_remove(path, fd);
	/* Not through a symbolic link. */
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(daemon_pidfile_write(path, 7, &fd, NULL), EPH_ERR_IO);
	free(path);
}

static void
test_signals(void **state)
{
	sigset_t old, set;
	int fd = -1;

	(void)state;
	sigprocmask(SIG_SETMASK, NULL, &old);
	assert_int_equal(daemon_signals_open(&fd), EPH_OK);
	assert_int_equal(daemon_signals_read(fd), 0);
	/* Blocked, so delivered to the fd rather than killing us. */
	assert_int_equal(raise(SIGHUP), 0);
	assert_int_equal(daemon_signals_read(fd), SIGHUP);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(daemon_signals_read(fd), SIGTERM);
	assert_int_equal(daemon_signals_read(fd), 0);
	sigprocmask(SIG_SETMASK, NULL, &set);
	assert_true(sigismember(&set, SIGINT));
	close(fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
}

static void
test_notify(void **state)
{
	const char *dir = *state;
	char *path = tu_path(dir, "notify");
	struct sockaddr_un sa;
	char buf[256];
	ssize_t n;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	assert_true((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	daemon_notify_ready("serving on /run/ephemeral/sshca.sock");
	assert_true((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=serving on /run/ephemeral/sshca.sock");
	daemon_notify_reloading();
	assert_true((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "RELOADING=1");
	daemon_notify_stopping();
	assert_true((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "STOPPING=1");
	/* Without NOTIFY_SOCKET: nothing is sent, nothing fails. */
	unsetenv("NOTIFY_SOCKET");
	daemon_notify_ready(NULL);
	assert_true(recv(s, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	close(s);
	free(path);
}

/* In a child: detach; the daemon writes what it sees, then says ok. */
static int
detach_run(const char *out, int ok)
{
	pid_t pid;
	int status, fd = -1;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		FILE *f;
		struct stat st;

		if (daemon_detach(&fd) != EPH_OK)
			_exit(2);
		/* Here only in the daemon. */
		if ((f = fopen(out, "w")) == NULL)
			_exit(3);
		fprintf(f, "sid_is_self=%d stdin_null=%d cwd_root=%d\n", getsid(0) == getpid(),
		    fstat(0, &st) == 0 && S_ISCHR(st.st_mode), access("./etc", F_OK) == 0);
		fclose(f);
		daemon_detach_ready(fd, ok);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_detach(void **state)
{
	const char *dir = *state;
	char *out = tu_path(dir, "daemon.out"), *text = NULL;
	int i;

	/* The original process exits only once the daemon said how it went. */
	assert_int_equal(detach_run(out, 1), 0);
	assert_non_null(text = tu_read_file(out, NULL));
	/* Not a session leader (it cannot get a terminal back), stdin is
	 * /dev/null, and it runs in /. */
	assert_string_equal(text, "sid_is_self=0 stdin_null=1 cwd_root=1\n");
	free(text);
	unlink(out);
	assert_int_equal(detach_run(out, 0), 1);
	/* The failed daemon wrote its file before saying so. */
	for (i = 0; i < 100 && access(out, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(out, F_OK), 0);
	free(out);
}

/* The sets of /proc/self/status, after a drop of capabilities or privileges. */
static int
caps_all_zero(int with_bound)
{
	static const char *names[] = {"CapInh:", "CapPrm:", "CapEff:", "CapAmb:", "CapBnd:"};
	char *text = tu_read_file("/proc/self/status", NULL), *at;
	unsigned long long v;
	size_t i;
	int ok = text != NULL;

	for (i = 0; ok && i < (with_bound ? 5u : 4u); i++)
		ok = (at = strstr(text, names[i])) != NULL &&
		    sscanf(at + strlen(names[i]), " %llx", &v) == 1 && v == 0;
	free(text);
	return ok;
}

static void
test_drop_privileges(void **state)
{
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(daemon_lookup_user("no-such-user-ephssh", &uid, &gid), EPH_ERR_NOTFOUND);
	assert_int_equal(daemon_lookup_user("root", &uid, &gid), EPH_OK);
	assert_int_equal(uid, 0);
	if (geteuid() != 0 || daemon_lookup_user("nobody", &uid, &gid) != EPH_OK)
		skip();
	if ((pid = fork()) == 0) {
		/* Root by hand has CAP_SETPCAP: the bounding set goes too. */
		int root = !daemon_capabilities_none();

		if (daemon_drop_privileges(uid, gid) != EPH_OK)
			_exit(2);
		if (!caps_all_zero(root))
			_exit(8);
		if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
			_exit(3);
		if (getgroups(0, NULL) != 0)
			_exit(4);
		if (setuid(0) == 0 || seteuid(0) == 0 || open("/etc/shadow", O_RDONLY) >= 0)
			_exit(5);
		if (!daemon_capabilities_none())
			_exit(7);
		/* Asking again for where it already is: fine. */
		if (daemon_drop_privileges(uid, gid) != EPH_OK)
			_exit(6);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_drop_capabilities(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	if ((pid = fork()) == 0) {
		/* Root by hand has CAP_SETPCAP, so the bound goes too. */
		int root = geteuid() == 0 && !daemon_capabilities_none();

		if (daemon_drop_capabilities() != EPH_OK)
			_exit(2);
		if (!daemon_capabilities_none() || !caps_all_zero(root))
			_exit(3);
		if (geteuid() == 0 && (setuid(1) == 0 || setgroups(0, NULL) == 0))
			_exit(4); /* uid 0 without CAP_SETUID, CAP_SETGID */
		/* Nothing to give up the second time: fine. */
		if (daemon_drop_capabilities() != EPH_OK)
			_exit(5);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pidfile, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_signals),
	    cmocka_unit_test_setup_teardown(test_notify, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_detach, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_drop_privileges),
	    cmocka_unit_test(test_drop_capabilities),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sshca serve as a process: privileges, pid file, detaching, signals and
 * sd_notify (see daemon.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "err.h"

int
daemon_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = sz > 0 ? (size_t)sz : 16384;
	int r, e;

	if (name == NULL || uid == NULL || gid == NULL)
		return EPH_ERR_INVAL;
	for (;;) {
		if ((buf = malloc(len)) == NULL)
			return EPH_ERR_NOMEM;
		e = getpwnam_r(name, &pw, buf, len, &res);
		if (e != ERANGE || len >= 1024 * 1024)
			break;
		free(buf);
		buf = NULL;
		len *= 4;
	}
	r = EPH_ERR_NOTFOUND;
	if (e != 0 || res == NULL)
		goto out;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	r = EPH_OK;
out:
	free(buf);
	return r;
}

/* The raw capget/capset calls (no libcap for two system calls): version 3,
 * two 32-bit halves. */
static int
caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};

	return syscall(SYS_capget, &h, d) == 0 ? EPH_OK : EPH_ERR_PERM;
}

int
daemon_capabilities_none(void)
{
	struct __user_cap_data_struct d[2];
	int i;

	if (caps_get(d) != EPH_OK)
		return 0;
	for (i = 0; i < 2; i++)
		if (d[i].effective != 0 || d[i].permitted != 0 || d[i].inheritable != 0)
			return 0;
	/* Ambient capabilities are a subset of permitted ones: none left. */
	return 1;
}

/* Empty the bounding set when CAP_SETPCAP allows it (root by hand, and
 * sshca.service, which lists it for this), and prove it empty. Without
 * CAP_SETPCAP it is left as it is: with nothing permitted and no exec,
 * what is in it cannot be raised. The effective and permitted sets are
 * untouched: a drop of the uid can follow. */
static int
drop_bounding_set(const struct __user_cap_data_struct d[2])
{
	int c;

	if ((d[0].effective & (1u << CAP_SETPCAP)) == 0)
		return EPH_OK;
	for (c = 0; prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) >= 0; c++)
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) != 0 ||
		    prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) != 0)
			return EPH_ERR_PERM;
	return EPH_OK;
}

int
daemon_drop_capabilities(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (caps_get(d) != EPH_OK || drop_bounding_set(d) != EPH_OK)
		return EPH_ERR_PERM;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return EPH_ERR_PERM;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) != 0)
		return EPH_ERR_PERM;
	return daemon_capabilities_none() ? EPH_OK : EPH_ERR_PERM;
}

int
daemon_drop_privileges(uid_t uid, gid_t gid)
{
	struct __user_cap_data_struct d[2];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return EPH_ERR_PERM;
	if (ru == uid && eu == uid && su == uid && rg == gid && eg == gid && sg == gid &&
	    (eu != 0 || getgroups(0, NULL) == 0))
		return EPH_OK; /* already there (a non-root user keeps its groups) */
	/* The bounding set first, while CAP_SETPCAP is there (the uid change
	 * clears it): nothing this process or a child does can regain one. */
	if (caps_get(d) != EPH_OK || drop_bounding_set(d) != EPH_OK)
		return EPH_ERR_PERM;
	/* Groups first: after setuid there is no right left to drop them. */
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		return EPH_ERR_PERM;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return EPH_ERR_PERM;
	/* Prove it cannot be undone. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return EPH_ERR_PERM;
	if (gid != 0 && uid != 0 && (setgid(0) == 0 || setegid(0) == 0))
		return EPH_ERR_PERM;
	/* Leaving uid 0 clears every capability (unless SECBIT_KEEP_CAPS
	 * said otherwise): make sure none came along. */
	if (uid != 0 && !daemon_capabilities_none())
		return EPH_ERR_PERM;
	return EPH_OK;
}

/* The pid in an existing pid file, 0 when unreadable. */
static pid_t
pidfile_holder(int fd)
{
	char buf[32];
	ssize_t n;
	long v;
	char *end;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || v <= 0)
		return 0;
	return (pid_t)v;
}

int
daemon_pidfile_write(const char *path, pid_t pid, int *fd, pid_t *holder)
{
	char text[32];
	struct stat st;
	int f, n, r = EPH_ERR_IO;

	if (holder != NULL)
		*holder = 0;
	if (path == NULL || fd == NULL)
		return EPH_ERR_INVAL;
	*fd = -1;
	if ((f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		return EPH_ERR_IO;
	if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto out;
	}
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			if (holder != NULL)
				*holder = pidfile_holder(f);
			r = EPH_ERR_EXISTS;
		}
		goto out;
	}
	n = snprintf(text, sizeof(text), "%ld\n", (long)pid);
	if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)n, 0) != n || fsync(f) != 0)
		goto out;
	*fd = f;
	f = -1;
	r = EPH_OK;
out:
	if (f >= 0)
		close(f);
	return r;
}

void
daemon_pidfile_remove(const char *path, int fd)
{
	if (fd < 0)
		return;
	/* Unlink while still holding the lock: no other daemon can be
	 * between its own lock and write. */
	if (path != NULL)
		unlink(path);
	close(fd);
}

int
daemon_detach(int *ready_fd)
{
	int p[2], devnull, status;
	char ok = 0;
	pid_t pid;
	ssize_t n;

	if (ready_fd == NULL)
		return EPH_ERR_INVAL;
	*ready_fd = -1;
	if (pipe2(p, O_CLOEXEC) != 0)
		return EPH_ERR_IO;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return EPH_ERR_IO;
	}
	if (pid > 0) {
		/* The original process: exit as the daemon's startup went. */
		close(p[1]);
		do
			n = read(p[0], &ok, 1);
		while (n < 0 && errno == EINTR);
		waitpid(pid, &status, 0);
		_exit(n == 1 && ok == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	if ((pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* the session leader; the grandchild is the daemon */
	if (chdir("/") != 0)
		_exit(1);
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || dup2(devnull, 0) < 0 ||
	    dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		_exit(1);
	if (devnull > 2)
		close(devnull);
	*ready_fd = p[1];
	return EPH_OK;
}

void
daemon_detach_ready(int ready_fd, int ok)
{
	char c = ok ? 1 : 0;
	ssize_t n;

	if (ready_fd < 0)
		return;
	do
		n = write(ready_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(ready_fd);
}

int
daemon_signals_open(int *fd)
{
	sigset_t set;
	struct sigaction sa;
	int f;

	if (fd == NULL)
		return EPH_ERR_INVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return EPH_ERR_IO;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return EPH_ERR_IO;
	if ((f = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return EPH_ERR_IO;
	*fd = f;
	return EPH_OK;
}

int
daemon_signals_read(int fd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	do
		n = read(fd, &si, sizeof(si));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

void
daemon_notify_ready(const char *status)
{
	if (status != NULL)
		sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	else
		sd_notify(0, "READY=1");
}

void
daemon_notify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void
daemon_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

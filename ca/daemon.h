/*
 * The process side of sshca serve: running as the unprivileged user after
 * binding, the pid file, detaching with --daemon, telling systemd where
 * it stands (sd_notify), and the signals it acts on. Nothing here knows
 * HTTP, the store or the policy.
 */
#ifndef SSHCA_DAEMON_H
#define SSHCA_DAEMON_H

#include <sys/types.h>

/* The account the network side runs as: uid, primary gid. EPH_ERR_NOTFOUND
 * when NSS does not know it. */
int daemon_lookup_user(const char *name, uid_t *uid, gid_t *gid);

/*
 * Become uid/gid for good: the bounding set emptied when CAP_SETPCAP
 * allows it, supplementary groups dropped, real, effective and saved ids
 * all set, and then proved: getting root back must fail and, for a uid
 * other than 0, no capability may be left.
 * EPH_ERR_PERM when any step fails (the process must then exit: it is in
 * an unknown state). A no-op success when already running as uid/gid
 * (a daemon started by a non-root user runs as itself, groups and all).
 */
int daemon_drop_privileges(uid_t uid, gid_t gid);

/*
 * Give up every capability while keeping the uid (the signer, root for
 * good, once it has read its key): effective, permitted, inheritable and
 * ambient sets emptied, and the bounding set too when CAP_SETPCAP allows
 * it (root by hand, and sshca.service, whose CapabilityBoundingSet= lists
 * it for this). EPH_ERR_PERM when any step fails or a capability is left.
 */
int daemon_drop_capabilities(void);
/* 1 when the effective, permitted and inheritable sets are all empty. */
int daemon_capabilities_none(void);

/*
 * Write "pid\n" to path, created 0644, and keep it locked (flock) for the
 * life of the process so a second daemon is refused: EPH_ERR_EXISTS when
 * another live process holds it (*holder, if non-NULL, its pid or 0). A
 * stale file (no lock held) is taken over. *fd is the open, locked file;
 * daemon_pidfile_remove closes and unlinks it.
 */
int daemon_pidfile_write(const char *path, pid_t pid, int *fd, pid_t *holder);
void daemon_pidfile_remove(const char *path, int fd);

/*
 * Detach: fork, setsid, fork again, chdir("/"), stdin/stdout/stderr to
 * /dev/null. The original process waits until the daemon reports it is
 * ready (daemon_detach_ready) or failed, and exits 0 or 1 accordingly,
 * so "sshca serve --daemon" fails visibly when startup fails. Returns in
 * the daemon only; *ready_fd is what daemon_detach_ready writes to.
 */
int daemon_detach(int *ready_fd);
/* Tell the waiting original process: ok (exit 0) or not (exit 1). */
void daemon_detach_ready(int ready_fd, int ok);

/*
 * The signals the daemon acts on (SIGHUP: reload; SIGTERM, SIGINT: stop)
 * as a signalfd to poll. They are blocked in the calling thread, so call
 * this before starting any thread: every thread inherits the mask and
 * none takes them asynchronously. SIGPIPE is ignored.
 */
int daemon_signals_open(int *fd);
/* The next pending signal (SIGHUP, SIGTERM, SIGINT), 0 when none. */
int daemon_signals_read(int fd);

/*
 * sd_notify wrappers: READY=1 with a STATUS line, RELOADING=1 and then
 * READY=1 again, STOPPING=1. Without $NOTIFY_SOCKET they do nothing.
 */
void daemon_notify_ready(const char *status);
void daemon_notify_reloading(void);
void daemon_notify_stopping(void);

#endif

/*
 * The session watchdog's two halves: watching (clock, KRL file, the
 * lifeline and the process) and ending a session (the sshd process, its
 * descendants and what they left in their sessions). See watchdog.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "krl.h"
#include "watchdog.h"

#define PROC_STAT_MAX 2048
#define PROC_MAX 65536 /* processes looked at in one scan */
#define ANCESTORS_MAX 64
#define POLL_STEP_MS 100

const char *
watchdog_end_name(enum watchdog_end e)
{
	switch (e) {
	case WATCHDOG_GONE: return "gone";
	case WATCHDOG_EXPIRED: return "expired";
	case WATCHDOG_REVOKED: return "revoked";
	case WATCHDOG_KRL_UNREADABLE: return "krl_unreadable";
	}
	return "unknown";
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct proc {
	pid_t pid, ppid, sid;
	uint64_t start;
	uid_t uid;
	dev_t tty;
	int mark;
};

static int read_proc(int pfd, pid_t pid, struct proc *out, int want_uid);

/* Is pid still the process that started at start, and not a zombie
 * (which is gone but for its parent's wait)? */
static int
same_process(pid_t pid, uint64_t start)
{
	struct proc p;

	return read_proc(AT_FDCWD, pid, &p, 0) == 0 && p.start == start;
}

/* ------------------------------------------------------------ watching */

/* What identifies one version of the KRL file. */
struct krl_seen {
	int valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static int
krl_unchanged(const struct krl_seen *s, const struct stat *st)
{
	return s->valid && s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
	    s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    s->ctime.tv_sec == st->st_ctim.tv_sec && s->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* EPH_OK: not revoked; EPH_ERR_REVOKED; anything else: unusable. */
static int
krl_look(const struct watchdog_watch *w, struct krl_seen *seen, char *detail, size_t len)
{
	struct krl *k = NULL;
	struct stat st;
	int r;

	if (w->krl_path == NULL) {
		snprintf(detail, len, "host.conf names no revoked_keys");
		return EPH_ERR_INVAL;
	}
	if (stat(w->krl_path, &st) != 0) {
		snprintf(detail, len, "revoked_keys %s: %s", w->krl_path, strerror(errno));
		seen->valid = 0;
		return EPH_ERR_IO;
	}
	if (krl_unchanged(seen, &st))
		return EPH_OK;
	seen->valid = 0;
	if ((r = krl_load(w->krl_path, &k)) != EPH_OK) {
		snprintf(detail, len, "revoked_keys %s: %s", w->krl_path, eph_strerror(r));
		return r;
	}
	r = krl_check_cert(k, w->cert);
	krl_free(k);
	if (r == EPH_ERR_REVOKED) {
		snprintf(detail, len, "serial %llu (key id \"%s\") is revoked by %s",
		    (unsigned long long)w->cert->serial, w->cert->key_id, w->krl_path);
		return r;
	}
	if (r != EPH_OK) {
		snprintf(detail, len, "revoked_keys %s: %s", w->krl_path, eph_strerror(r));
		return r;
	}
	*seen = (struct krl_seen){1, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
	return EPH_OK;
}

/* Has the lifeline reached end-of-file (or failed)? Bytes on it are
 * read and ignored: only its closing means anything. */
static int
lifeline_closed(int fd)
{
	char b[256];
	ssize_t n;

	n = read(fd, b, sizeof(b));
	if (n > 0)
		return 0;
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return 1;
}

enum watchdog_end
watchdog_watch(const struct watchdog_watch *w, char *detail, size_t len)
{
	struct krl_seen seen = {0};
	uint64_t interval =
	    w->krl_interval_ms > 0 ? w->krl_interval_ms : (uint64_t)WATCHDOG_KRL_INTERVAL * 1000u;
	uint64_t expires_ms, next_krl, t;
	int failed = 0, r;

	detail[0] = '\0';
	/* valid_before is exclusive: at valid_before the certificate is out. */
	expires_ms = w->cert->valid_before >= UINT64_MAX / 1000u ? UINT64_MAX
	                                                         : w->cert->valid_before * 1000u;
	next_krl = now_ms() + interval;
	for (;;) {
		struct pollfd p = {w->lifeline, POLLIN, 0};
		uint64_t wait;

		t = now_ms();
		if (t >= expires_ms) {
			snprintf(detail, len, "serial %llu (key id \"%s\") expired at %llu",
			    (unsigned long long)w->cert->serial, w->cert->key_id,
			    (unsigned long long)w->cert->valid_before);
			return WATCHDOG_EXPIRED;
		}
		if (t >= next_krl) {
			r = krl_look(w, &seen, detail, len);
			if (r == EPH_ERR_REVOKED)
				return WATCHDOG_REVOKED;
			if (r != EPH_OK && failed)
				return WATCHDOG_KRL_UNREADABLE;
			failed = r != EPH_OK;
			if (!failed)
				detail[0] = '\0';
			next_krl = t + interval;
		}
		if (!same_process(w->pid, w->start)) {
			snprintf(detail, len, "sshd process %ld is gone", (long)w->pid);
			return WATCHDOG_GONE;
		}
		wait = next_krl - t;
		if (expires_ms - t < wait)
			wait = expires_ms - t;
		if (w->lifeline < 0) {
			struct timespec ts = {
			    (time_t)(wait / 1000u), (long)(wait % 1000u) * 1000000L};

			(void)nanosleep(&ts, NULL);
			continue;
		}
		r = poll(&p, 1, (int)wait);
		if (r < 0 && errno != EINTR) {
			snprintf(detail, len, "poll: %s", strerror(errno));
			return WATCHDOG_GONE;
		}
		if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0 &&
		    ((p.revents & POLLNVAL) != 0 || lifeline_closed(w->lifeline))) {
			snprintf(detail, len, "the session closed");
			return WATCHDOG_GONE;
		}
	}
}

/* ------------------------------------------------------------- ending */

struct table {
	struct proc *v;
	size_t n, cap;
};

/* /proc/PID/NAME (pfd: /proc, or AT_FDCWD) as a string, at most cap-1
 * bytes of it. */
static int
read_proc_file(int pfd, pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s%ld/%s", pfd == AT_FDCWD ? "/proc/" : "", (long)pid, name);
	if ((fd = openat(pfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* One /proc/PID/stat: "pid (comm) state ppid pgrp session tty_nr ...
 * starttime(22)"; comm may hold anything, so fields count from the last
 * ')'. Zombies are left out: they are gone but for their parent. */
static int
read_proc(int pfd, pid_t pid, struct proc *out, int want_uid)
{
	char text[PROC_STAT_MAX + 1], *p, *tok, *save = NULL;
	unsigned long long v[23];
	int i;

	if (read_proc_file(pfd, pid, "stat", text, sizeof(text)) != 0)
		return -1;
	if ((p = strrchr(text, ')')) == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return -1;
	for (i = 3, tok = strtok_r(p + 2, " ", &save); tok != NULL && i <= 22;
	     i++, tok = strtok_r(NULL, " ", &save)) {
		char *end;

		if (i == 3)
			continue;
		errno = 0;
		v[i] = strtoull(tok, &end, 10);
		if (*end != '\0' || errno != 0)
			return -1;
	}
	if (i <= 22)
		return -1;
	out->pid = pid;
	out->ppid = (pid_t)v[4];
	out->sid = (pid_t)v[6];
	out->tty = (dev_t)v[7];
	out->start = v[22];
	out->mark = 0;
	out->uid = (uid_t)-1;
	if (!want_uid)
		return 0;
	/* The real uid from status: /proc's files of a process that is not
	 * dumpable (ssh-agent, setuid programs) are root's, whoever runs it. */
	if (read_proc_file(pfd, pid, "status", text, sizeof(text)) != 0)
		return -1;
	if ((p = strstr(text, "\nUid:\t")) == NULL)
		return -1;
	errno = 0;
	v[0] = strtoull(p + 6, &tok, 10);
	if (errno != 0 || tok == p + 6)
		return -1;
	out->uid = (uid_t)v[0];
	return 0;
}

static int
scan(struct table *t)
{
	struct dirent *de;
	DIR *d;
	int pfd;

	t->n = 0;
	if ((pfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return EPH_ERR_IO;
	if ((d = fdopendir(pfd)) == NULL) {
		close(pfd);
		return EPH_ERR_IO;
	}
	while ((de = readdir(d)) != NULL && t->n < PROC_MAX) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (t->n == t->cap) {
			size_t cap = t->cap != 0 ? t->cap * 2 : 256;
			struct proc *v = realloc(t->v, cap * sizeof(*v));

			if (v == NULL) {
				closedir(d);
				return EPH_ERR_NOMEM;
			}
			t->v = v;
			t->cap = cap;
		}
		if (read_proc(dirfd(d), (pid_t)strtol(de->d_name, NULL, 10), &t->v[t->n], 1) == 0)
			t->n++;
	}
	closedir(d);
	return EPH_OK;
}

static struct proc *
find(struct table *t, pid_t pid)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].pid == pid)
			return &t->v[i];
	return NULL;
}

struct sids {
	pid_t v[256];
	size_t n;
};

static int
sids_has(const struct sids *s, pid_t sid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == sid)
			return 1;
	return 0;
}

static void
sids_add(struct sids *s, pid_t sid)
{
	if (sid > 0 && !sids_has(s, sid) && s->n < sizeof(s->v) / sizeof(s->v[0]))
		s->v[s->n++] = sid;
}

/*
 * Mark the session's processes in t: root and its descendants (mark 1),
 * then uid's processes in the sessions those descendants are in (mark
 * 2), leaving out every session of root's ancestors. sessions gets the
 * sessions found (kept across scans).
 */
static void
mark_session(struct table *t, struct proc *root, uid_t uid, struct sids *sessions)
{
	struct sids outside = {{0}, 0};
	struct proc *a;
	size_t i, steps;
	int more;

	for (a = find(t, root->ppid), steps = 0;
	     a != NULL && steps<ANCESTORS_MAX; a = a->pid> 1 ? find(t, a->ppid) : NULL, steps++)
		sids_add(&outside, a->sid);
	root->mark = 1;
	do {
		more = 0;
		for (i = 0; i < t->n; i++) {
			struct proc *p = &t->v[i], *parent;

			if (p->mark || p->pid == getpid() || p->pid <= 1)
				continue;
			if ((parent = find(t, p->ppid)) != NULL && parent->mark == 1) {
				p->mark = 1;
				more = 1;
			}
		}
	} while (more);
	for (i = 0; i < t->n; i++)
		if (t->v[i].mark == 1 && !sids_has(&outside, t->v[i].sid))
			sids_add(sessions, t->v[i].sid);
	for (i = 0; i < t->n; i++) {
		struct proc *p = &t->v[i];

		if (!p->mark && p->uid == uid && p->pid > 1 && p->pid != getpid() &&
		    sids_has(sessions, p->sid) && !sids_has(&outside, p->sid))
			p->mark = 2;
	}
}

static int
signal_if_same(const struct proc *p, int sig)
{
	if (!same_process(p->pid, p->start))
		return 0;
	return kill(p->pid, sig) == 0;
}

/* The notice on each terminal of uid's marked processes: a pts or tty
 * device that is still that terminal and owned by uid. */
static size_t
notify(const struct table *t, uid_t uid, const char *notice)
{
	dev_t done[16];
	size_t ndone = 0, i, j, told = 0;

	for (i = 0; i < t->n && notice != NULL; i++) {
		const struct proc *p = &t->v[i];
		char path[64];
		struct stat st;
		int fd, seen = 0;

		if (!p->mark || p->tty == 0 || p->uid != uid)
			continue;
		for (j = 0; j < ndone; j++)
			seen |= done[j] == p->tty;
		if (seen || ndone == sizeof(done) / sizeof(done[0]))
			continue;
		done[ndone++] = p->tty;
		if (major(p->tty) >= 136 && major(p->tty) <= 143)
			snprintf(path, sizeof(path), "/dev/pts/%u",
			    (major(p->tty) - 136) * 256 + minor(p->tty));
		else
			continue;
		if ((fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == p->tty &&
		    st.st_uid == uid && write(fd, notice, strlen(notice)) > 0)
			told++;
		close(fd);
	}
	return told;
}

int
watchdog_end_session(pid_t pid, uint64_t start, uid_t uid, const char *notice, unsigned grace_ms,
    struct watchdog_ended *out)
{
	struct table t = {NULL, 0, 0};
	struct sids sessions = {{0}, 0};
	struct proc *root;
	uint64_t deadline;
	size_t i, alive;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = scan(&t)) != EPH_OK)
		goto out;
	if ((root = find(&t, pid)) == NULL || root->start != start) {
		r = EPH_ERR_NOTFOUND;
		goto out;
	}
	mark_session(&t, root, uid, &sessions);
	/* A moment for sshd to carry the notice to the client before the
	 * terminal closes. */
	if ((out->notified = notify(&t, uid, notice)) > 0) {
		struct timespec ts = {0, 300 * 1000000L};

		(void)nanosleep(&ts, NULL);
	}
	/* sshd's process first: it ends the session its own way (the
	 * terminal closed, close_session run, utmp written). */
	if (signal_if_same(root, SIGTERM))
		out->signalled++;
	for (i = 0; i < t.n; i++) {
		struct proc *p = &t.v[i];

		if (!p->mark || p == root)
			continue;
		/* Either may end it (a login shell ignores SIGTERM). */
		if (signal_if_same(p, SIGTERM) | signal_if_same(p, SIGHUP))
			out->signalled++;
		(void)signal_if_same(p, SIGCONT);
	}
	deadline = now_ms() + grace_ms;
	do {
		struct timespec ts = {0, POLL_STEP_MS * 1000000L};

		alive = 0;
		for (i = 0; i < t.n; i++)
			if (t.v[i].mark && same_process(t.v[i].pid, t.v[i].start))
				alive++;
		if (alive == 0)
			break;
		(void)nanosleep(&ts, NULL);
	} while (now_ms() < deadline);
	for (i = 0; i < t.n; i++)
		if (t.v[i].mark && signal_if_same(&t.v[i], SIGKILL))
			out->killed++;
	/* What was forked meanwhile: uid's processes left in the sessions. */
	if (scan(&t) == EPH_OK)
		for (i = 0; i < t.n; i++) {
			struct proc *p = &t.v[i];

			if (p->uid == uid && p->pid > 1 && p->pid != getpid() &&
			    sids_has(&sessions, p->sid) && signal_if_same(p, SIGKILL))
				out->killed++;
		}
	r = EPH_OK;
out:
	free(t.v);
	return r;
}

/*
 * The principals spool on disk: one small file per sshd connection under
 * state_dir/spool, written by the unprivileged principals command and
 * read by root, so every open is relative to a checked directory
 * descriptor and refuses links (see spool.h for the layout).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "grant.h"
#include "spool.h"
#include "util.h"

#define SPOOL_MAGIC "ephspool 1"
#define SPOOL_NAME_MAX 64
#define PROC_STAT_MAX 2048

int
spool_conn_of(pid_t pid, struct spool_conn *out)
{
	char path[64], text[PROC_STAT_MAX + 1], *p, *tok, *save = NULL;
	ssize_t n;
	int fd, i, r = EPH_ERR_FORMAT;
	uint64_t start;

	if (out == NULL || pid <= 0)
		return EPH_ERR_INVAL;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT || errno == ESRCH ? EPH_ERR_NOTFOUND : EPH_ERR_IO;
	n = read(fd, text, PROC_STAT_MAX);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? EPH_ERR_NOTFOUND : EPH_ERR_IO;
	text[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, even ')'. */
	if ((p = strrchr(text, ')')) == NULL || p[1] != ' ')
		return EPH_ERR_FORMAT;
	/* Field 3 (state) is the first after comm; starttime is field 22. */
	for (i = 3, tok = strtok_r(p + 2, " ", &save); tok != NULL && i < 22;
	     i++, tok = strtok_r(NULL, " ", &save))
		;
	if (tok != NULL && (r = parse_u64(tok, &start)) == EPH_OK) {
		out->pid = pid;
		out->start = start;
	}
	return r;
}

static void
entry_name(const struct spool_conn *conn, char *out, size_t len)
{
	snprintf(out, len, "%ld-%llu", (long)conn->pid, (unsigned long long)conn->start);
}

/*
 * state_dir/spool as a directory descriptor. state_dir: owned by root or
 * us; neither writable by group/other; with owner_only the spool must be
 * ours (the writer). *owner gets the spool's owner, whose files readers
 * accept.
 */
static int
open_spool(const char *state_dir, int owner_only, int *dfd_out, uid_t *owner)
{
	struct stat st;
	int sfd = -1, dfd = -1, r = EPH_ERR_IO;

	*dfd_out = -1;
	if (state_dir == NULL || state_dir[0] != '/')
		return EPH_ERR_INVAL;
	if ((sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		goto out;
	if (fstat(sfd, &st) != 0)
		goto out;
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
		r = EPH_ERR_PERM;
		goto out;
	}
	if ((dfd = openat(sfd, SPOOL_SUBDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		goto out;
	if (fstat(dfd, &st) != 0)
		goto out;
	if ((st.st_mode & 022) != 0 || (owner_only && st.st_uid != geteuid())) {
		r = EPH_ERR_PERM;
		goto out;
	}
	*owner = st.st_uid;
	*dfd_out = dfd;
	dfd = -1;
	r = EPH_OK;
out:
	/* A link (or anything but a directory) where a directory belongs. */
	if (r == EPH_ERR_IO && (errno == ELOOP || errno == ENOTDIR))
		r = EPH_ERR_PERM;
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	return r;
}

/* One line "WHEN SERIAL USER" (NUL-terminated, no '\n'). */
static int
parse_entry(char *line, struct spool_entry *e)
{
	char *serial, *user;
	int r;

	if ((serial = strchr(line, ' ')) == NULL)
		return EPH_ERR_FORMAT;
	*serial++ = '\0';
	if ((user = strchr(serial, ' ')) == NULL)
		return EPH_ERR_FORMAT;
	*user++ = '\0';
	if ((r = parse_u64(line, &e->when)) != EPH_OK ||
	    (r = parse_u64(serial, &e->serial)) != EPH_OK)
		return EPH_ERR_FORMAT;
	if (e->serial == 0 || !grant_user_name_valid(user) || strlen(user) >= sizeof(e->user))
		return EPH_ERR_FORMAT;
	memcpy(e->user, user, strlen(user) + 1);
	return EPH_OK;
}

static int
parse_spool(char *text, const struct spool_conn *conn, struct spool_entry *v, size_t max, size_t *n)
{
	char header[SPOOL_NAME_MAX + 32], *line, *nl;

	*n = 0;
	snprintf(header, sizeof(header), SPOOL_MAGIC " %ld %llu", (long)conn->pid,
	    (unsigned long long)conn->start);
	if ((nl = strchr(text, '\n')) == NULL)
		return EPH_ERR_FORMAT;
	*nl = '\0';
	if (strcmp(text, header) != 0)
		return EPH_ERR_FORMAT;
	for (line = nl + 1; *line != '\0'; line = nl + 1) {
		struct spool_entry e;

		if ((nl = strchr(line, '\n')) == NULL)
			return EPH_ERR_FORMAT;
		*nl = '\0';
		if (*n == SPOOL_MAX_ENTRIES)
			return EPH_ERR_TOOLARGE;
		if (parse_entry(line, &e) != EPH_OK)
			return EPH_ERR_FORMAT;
		if (*n < max)
			v[*n] = e;
		(*n)++;
	}
	if (*n == 0)
		return EPH_ERR_FORMAT;
	if (*n > max)
		*n = max;
	return EPH_OK;
}

/* Read and parse conn's file in dfd: a regular file of the spool's owner
 * with one link, not writable by group/other, at most SPOOL_MAX_SIZE. */
static int
read_spool(int dfd, uid_t owner, const struct spool_conn *conn, struct spool_entry *v, size_t max,
    size_t *n)
{
	char name[SPOOL_NAME_MAX], text[SPOOL_MAX_SIZE + 2];
	struct stat st;
	size_t len = 0;
	ssize_t got;
	int fd, r = EPH_ERR_IO;

	*n = 0;
	entry_name(conn, name, sizeof(name));
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return EPH_ERR_NOTFOUND;
		return errno == ELOOP ? EPH_ERR_PERM : EPH_ERR_IO;
	}
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_uid != owner || st.st_nlink != 1 ||
	    (st.st_mode & 022) != 0) {
		r = EPH_ERR_PERM;
		goto out;
	}
	if (st.st_size > SPOOL_MAX_SIZE) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	/* The size may change under us: read one byte past the cap. */
	while (len <= SPOOL_MAX_SIZE) {
		got = read(fd, text + len, SPOOL_MAX_SIZE + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > SPOOL_MAX_SIZE) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	r = parse_spool(text, conn, v, max, n);
out:
	close(fd);
	return r;
}

int
spool_read(const char *state_dir, const struct spool_conn *conn, struct spool_entry *v, size_t max,
    size_t *n)
{
	uid_t owner;
	int dfd, r;

	if (n == NULL)
		return EPH_ERR_INVAL;
	*n = 0;
	if (conn == NULL || (v == NULL && max > 0))
		return EPH_ERR_INVAL;
	if ((r = open_spool(state_dir, 0, &dfd, &owner)) != EPH_OK)
		return r;
	r = read_spool(dfd, owner, conn, v, max, n);
	close(dfd);
	return r;
}

int
spool_lookup(
    const char *state_dir, const struct spool_conn *conn, const char *user, uint64_t serial)
{
	struct spool_entry v[SPOOL_MAX_ENTRIES];
	size_t i, n;
	int r;

	if (user == NULL)
		return EPH_ERR_INVAL;
	if ((r = spool_read(state_dir, conn, v, SPOOL_MAX_ENTRIES, &n)) != EPH_OK)
		return r;
	for (i = 0; i < n; i++)
		if (v[i].serial == serial && strcmp(v[i].user, user) == 0)
			return EPH_OK;
	return EPH_ERR_NOTFOUND;
}

static int
write_all(int fd, const char *d, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, d, n)) < 0) {
			if (errno == EINTR)
				continue;
			return EPH_ERR_IO;
		}
		d += w;
		n -= (size_t)w;
	}
	return EPH_OK;
}

int
spool_record(const char *state_dir, const struct spool_conn *conn, const char *user,
    uint64_t serial, uint64_t now)
{
	struct spool_entry v[SPOOL_MAX_ENTRIES + 1];
	char name[SPOOL_NAME_MAX], tmp[SPOOL_NAME_MAX + 32], text[SPOOL_MAX_SIZE];
	size_t i, k, n = 0, len, first;
	uid_t owner;
	int dfd = -1, fd = -1, r, made_tmp = 0;

	if (conn == NULL || conn->pid <= 0 || user == NULL || !grant_user_name_valid(user) ||
	    strlen(user) >= sizeof(v[0].user) || serial == 0)
		return EPH_ERR_INVAL;
	if ((r = open_spool(state_dir, 1, &dfd, &owner)) != EPH_OK)
		return r;
	/* Whatever stands there and does not read back (a link, garbage, an
	 * earlier process's pid) is replaced: rename does not follow it. */
	if (read_spool(dfd, owner, conn, v, SPOOL_MAX_ENTRIES, &n) != EPH_OK)
		n = 0;
	for (i = 0, k = 0; i < n; i++)
		if (!(v[i].serial == serial && strcmp(v[i].user, user) == 0))
			v[k++] = v[i];
	n = k;
	v[n].when = now;
	v[n].serial = serial;
	memcpy(v[n].user, user, strlen(user) + 1);
	n++;
	first = n > SPOOL_MAX_ENTRIES ? n - SPOOL_MAX_ENTRIES : 0;

	len = (size_t)snprintf(text, sizeof(text), SPOOL_MAGIC " %ld %llu\n", (long)conn->pid,
	    (unsigned long long)conn->start);
	for (i = first; i < n; i++) {
		int w = snprintf(text + len, sizeof(text) - len, "%llu %llu %s\n",
		    (unsigned long long)v[i].when, (unsigned long long)v[i].serial, v[i].user);

		if (w < 0 || (size_t)w >= sizeof(text) - len) {
			r = EPH_ERR_TOOLARGE;
			goto out;
		}
		len += (size_t)w;
	}

	entry_name(conn, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".%s.%ld", name, (long)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* Left by a writer that died with our pid. */
		(void)unlinkat(dfd, tmp, 0);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	made_tmp = 1;
	if ((r = write_all(fd, text, len)) != EPH_OK)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		r = EPH_ERR_IO;
		goto out;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	made_tmp = 0;
	r = EPH_OK;
out:
	if (fd >= 0)
		close(fd);
	if (made_tmp) {
		int e = errno;

		(void)unlinkat(dfd, tmp, 0);
		errno = e;
	}
	close(dfd);
	return r;
}

int
spool_remove(const char *state_dir, const struct spool_conn *conn)
{
	char name[SPOOL_NAME_MAX];
	uid_t owner;
	int dfd, r = EPH_OK;

	if (conn == NULL)
		return EPH_ERR_INVAL;
	if ((r = open_spool(state_dir, 0, &dfd, &owner)) != EPH_OK)
		return r;
	entry_name(conn, name, sizeof(name));
	if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
		r = EPH_ERR_IO;
	close(dfd);
	return r;
}

/* "PID-START" (or, with tmp, ".PID-START.WRITER") into its numbers. */
static int
parse_name(const char *s, int tmp, struct spool_conn *conn, pid_t *writer)
{
	char copy[SPOOL_NAME_MAX + 32], *dash, *dot = NULL;
	uint64_t pid, w = 0;

	if (strlen(s) >= sizeof(copy))
		return 0;
	if (tmp) {
		if (s[0] != '.')
			return 0;
		s++;
	}
	memcpy(copy, s, strlen(s) + 1);
	if ((dash = strchr(copy, '-')) == NULL)
		return 0;
	*dash++ = '\0';
	if (tmp) {
		if ((dot = strchr(dash, '.')) == NULL)
			return 0;
		*dot++ = '\0';
		if (parse_u64(dot, &w) != EPH_OK || w == 0 || w > INT32_MAX)
			return 0;
		*writer = (pid_t)w;
	}
	if (parse_u64(copy, &pid) != EPH_OK || pid == 0 || pid > INT32_MAX ||
	    parse_u64(dash, &conn->start) != EPH_OK)
		return 0;
	conn->pid = (pid_t)pid;
	return 1;
}

static int
pid_gone(pid_t pid)
{
	return kill(pid, 0) != 0 && errno == ESRCH;
}

int
spool_clean(const char *state_dir, size_t *removed)
{
	struct spool_conn conn, now;
	struct dirent *de;
	DIR *d = NULL;
	size_t seen = 0, count = 0;
	uid_t owner;
	pid_t writer;
	int dfd, fd, r;

	if (removed != NULL)
		*removed = 0;
	if ((r = open_spool(state_dir, 0, &dfd, &owner)) != EPH_OK)
		return r;
	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		close(dfd);
		return EPH_ERR_IO;
	}
	while ((de = readdir(d)) != NULL && seen++ < SPOOL_CLEAN_MAX) {
		int stale = 0;

		if (parse_name(de->d_name, 0, &conn, &writer)) {
			r = spool_conn_of(conn.pid, &now);
			stale = r == EPH_ERR_NOTFOUND || (r == EPH_OK && now.start != conn.start);
		} else if (parse_name(de->d_name, 1, &conn, &writer)) {
			stale = pid_gone(writer);
		}
		if (stale && unlinkat(dfd, de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	close(dfd);
	if (removed != NULL)
		*removed = count;
	return EPH_OK;
}

int
spool_clean_due(const char *state_dir, unsigned interval, size_t *removed)
{
	struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	struct stat st;
	uid_t owner;
	int dfd, fd, r;

	if (removed != NULL)
		*removed = 0;
	if ((r = open_spool(state_dir, 0, &dfd, &owner)) != EPH_OK)
		return r;
	if (fstatat(dfd, SPOOL_SWEPT, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (int64_t)time(NULL) - (int64_t)st.st_mtime < (int64_t)interval &&
	    (int64_t)st.st_mtime <= (int64_t)time(NULL)) {
		close(dfd);
		return EPH_OK;
	}
	/* Stamp first: a concurrent call sees the sweep as done. */
	fd = openat(
	    dfd, SPOOL_SWEPT, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd >= 0) {
		(void)futimens(fd, ts);
		close(fd);
	}
	close(dfd);
	return spool_clean(state_dir, removed);
}

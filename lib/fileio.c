/* File access for keys, certificates and KRLs: no symlinks, ownership
 * and mode checks on what we trust, and atomic replacement on write. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"

int
file_read_all(const char *path, size_t max, unsigned checks, struct buf *out)
{
	struct stat st;
	size_t start = out->len;
	ssize_t got;
	int fd, r, saved;

	if (path == NULL)
		return EPH_ERR_INVAL;
	/*
	 * A FIFO would block open() (and read()) for ever, and opening a
	 * device can have effects: look first, then open without blocking
	 * and check again what was opened (the name may have changed).
	 */
	if (lstat(path, &st) != 0)
		return EPH_ERR_IO;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return EPH_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return EPH_ERR_IO;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return EPH_ERR_IO;
	if (fstat(fd, &st) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		r = EPH_ERR_IO;
		goto out;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	r = EPH_ERR_PERM;
	if (checks != 0 && st.st_uid != 0 && st.st_uid != geteuid())
		goto out;
	if ((checks & FILE_CHECK_TRUSTED) && (st.st_mode & 022) != 0)
		goto out;
	if ((checks & FILE_CHECK_SECRET) && (st.st_mode & 077) != 0)
		goto out;
	if ((size_t)st.st_size > max) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	for (;;) {
		size_t room = max - (out->len - start);
		uint8_t probe;

		if (room > 4096)
			room = 4096;
		/* At the limit: one probe byte tells EOF from an overlong file. */
		if (room == 0) {
			got = read(fd, &probe, 1);
		} else {
			if ((r = buf_reserve(out, room)) != EPH_OK)
				goto out;
			got = read(fd, out->d + out->len, room);
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = EPH_ERR_IO;
			goto out;
		}
		if (got == 0)
			break;
		if (room == 0) {
			r = EPH_ERR_TOOLARGE;
			goto out;
		}
		out->len += (size_t)got;
	}
	r = EPH_OK;
out:
	saved = errno;
	if (r != EPH_OK && out->len > start) {
		/* May be a private key: wipe what we read. */
		explicit_bzero(out->d + start, out->len - start);
		out->len = start;
	}
	close(fd);
	errno = saved;
	return r;
}

static int
write_full(int fd, const void *d, size_t n)
{
	const uint8_t *p = d;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path so the rename itself is durable. */
static int
sync_parent(const char *path)
{
	char *copy, *dir;
	int fd, rc;

	if ((copy = strdup(path)) == NULL)
		return -1;
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
file_write_atomic(const char *path, const void *d, size_t n, mode_t mode, unsigned flags)
{
	char *tmp = NULL;
	int fd = -1, r = EPH_ERR_IO, saved;
	size_t len;

	if (path == NULL || (d == NULL && n > 0))
		return EPH_ERR_INVAL;
	len = strlen(path) + sizeof(".XXXXXX");
	if ((tmp = malloc(len)) == NULL)
		return EPH_ERR_NOMEM;
	snprintf(tmp, len, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		free(tmp);
		return EPH_ERR_IO;
	}
	if (fchmod(fd, mode) != 0 || write_full(fd, d, n) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (flags & FILE_NO_REPLACE) {
		/* link() fails with EEXIST instead of replacing. */
		if (link(tmp, path) != 0) {
			r = errno == EEXIST ? EPH_ERR_EXISTS : EPH_ERR_IO;
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		goto out;
	}
	if (sync_parent(path) != 0)
		goto out;
	r = EPH_OK;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (r != EPH_OK)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return r;
}

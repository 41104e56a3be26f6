/* The per-serial login counts under state_dir/logins (logins.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "logins.h"

#define COUNT_LEN 21 /* 20 digits and '\n' */

static int
dir_safe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return EPH_ERR_IO;
	if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022) != 0)
		return EPH_ERR_PERM;
	return EPH_OK;
}

/* state_dir/logins as a checked directory descriptor, made if missing. */
static int
open_logins(const char *state_dir, int *out)
{
	int sfd = -1, dfd = -1, r;

	*out = -1;
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	if ((r = dir_safe(sfd)) != EPH_OK)
		goto out;
	if (mkdirat(sfd, LOGINS_SUBDIR, 0700) == 0)
		(void)fsync(sfd);
	else if (errno != EEXIST) {
		r = EPH_ERR_IO;
		goto out;
	}
	dfd = openat(sfd, LOGINS_SUBDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = errno == ELOOP || errno == ENOTDIR ? EPH_ERR_PERM : EPH_ERR_IO;
		goto out;
	}
	if ((r = dir_safe(dfd)) != EPH_OK)
		goto out;
	*out = dfd;
	dfd = -1;
	r = EPH_OK;
out:
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	return r;
}

/* The count in buf (n bytes): empty is 0 (created, never written). */
static int
parse_count(const char *buf, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	*out = 0;
	if (n == 0)
		return EPH_OK;
	if (n != COUNT_LEN || buf[COUNT_LEN - 1] != '\n')
		return EPH_ERR_FORMAT;
	for (i = 0; i < COUNT_LEN - 1; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return EPH_ERR_FORMAT;
		if (v > (UINT64_MAX - 9) / 10)
			return EPH_ERR_FORMAT;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	*out = v;
	return EPH_OK;
}

int
logins_take(const char *state_dir, uint64_t serial, uint32_t max, uint64_t *count)
{
	char name[24], buf[COUNT_LEN + 1];
	struct stat st;
	uint64_t v = 0;
	ssize_t got;
	int dfd = -1, fd = -1, created = 0, r;

	*count = 0;
	if ((r = open_logins(state_dir, &dfd)) != EPH_OK)
		goto out;
	snprintf(name, sizeof(name), "%" PRIu64, serial);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		created = 1;
	else if (errno == EEXIST)
		fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ELOOP ? EPH_ERR_PERM : EPH_ERR_IO;
		goto out;
	}
	if (created)
		(void)fsync(dfd);
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
	    (st.st_mode & 077) != 0) {
		r = EPH_ERR_PERM;
		goto out;
	}
	if ((got = pread(fd, buf, sizeof(buf), 0)) < 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	if ((r = parse_count(buf, (size_t)got, &v)) != EPH_OK)
		goto out;
	*count = v;
	if (v >= max) {
		r = EPH_ERR_RANGE;
		goto out;
	}
	v++;
	snprintf(buf, sizeof(buf), "%020" PRIu64 "\n", v);
	if (pwrite(fd, buf, COUNT_LEN, 0) != COUNT_LEN || fsync(fd) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	*count = v;
	r = EPH_OK;
out:
	if (fd >= 0)
		close(fd); /* releases the lock */
	if (dfd >= 0)
		close(dfd);
	return r;
}

/* The KRL in place for ephemeral-krl-sync: reading it, the decision on a
 * fetched one, the atomic replacement, --init and the lock. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fileio.h"
#include "krl.h"
#include "krlstate.h"

#define KRLSYNC_INIT_COMMENT "empty KRL from ephemeral-krl-sync --init"

int
krlsync_current_read(const char *path, struct krlsync_current *cur)
{
	struct krl *k = NULL;
	int r;

	memset(cur, 0, sizeof(*cur));
	buf_init(&cur->bytes);
	errno = 0;
	r = file_read_all(path, KRLSYNC_MAX_SIZE, FILE_CHECK_TRUSTED, &cur->bytes);
	if (r == EPH_ERR_NOMEM)
		goto out;
	if (r != EPH_OK) {
		cur->missing = r == EPH_ERR_IO && errno == ENOENT;
		cur->err = r;
		cur->sys_errno = errno;
		buf_free(&cur->bytes);
		r = EPH_OK;
		goto out;
	}
	if ((r = krl_parse(cur->bytes.d, cur->bytes.len, &k)) != EPH_OK) {
		buf_free(&cur->bytes);
		if (r == EPH_ERR_NOMEM)
			goto out;
		cur->err = r;
		r = EPH_OK;
		goto out;
	}
	cur->version = krl_version(k);
	cur->present = 1;
	r = EPH_OK;
out:
	krl_free(k);
	return r;
}

void
krlsync_current_free(struct krlsync_current *cur)
{
	buf_free(&cur->bytes);
	memset(cur, 0, sizeof(*cur));
}

/* Serials revoked under any CA, saturating (a range may be very wide). */
static int
count_serials(const struct krl *k, uint64_t *out)
{
	struct krl_serial_range *v = NULL;
	uint64_t total = 0, width;
	size_t n = 0, i;
	int r;

	*out = 0;
	if ((r = krl_serial_ranges(k, &v, &n)) != EPH_OK)
		return r;
	for (i = 0; i < n; i++) {
		width = v[i].hi - v[i].lo;
		if (width == UINT64_MAX || total > UINT64_MAX - width - 1) {
			total = UINT64_MAX;
			break;
		}
		total += width + 1;
	}
	free(v);
	*out = total;
	return EPH_OK;
}

int
krlsync_decide(
    const struct krlsync_current *cur, const uint8_t *d, size_t n, struct krlsync_decision *out)
{
	struct krl *k = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	out->verdict = KRLSYNC_REFUSE_MALFORMED;
	if (n > KRLSYNC_MAX_SIZE) {
		out->verdict = KRLSYNC_REFUSE_TOOLARGE;
		out->err = EPH_ERR_TOOLARGE;
		r = EPH_OK;
		goto out;
	}
	if ((r = krl_parse(d, n, &k)) != EPH_OK) {
		if (r == EPH_ERR_NOMEM)
			goto out;
		out->err = r;
		r = EPH_OK;
		goto out;
	}
	out->version = krl_version(k);
	if ((r = count_serials(k, &out->serials)) != EPH_OK)
		goto out;
	if (!cur->present)
		out->verdict = KRLSYNC_REPLACE;
	else if (out->version < cur->version)
		out->verdict = KRLSYNC_REFUSE_OLDER;
	else if (out->version > cur->version)
		out->verdict = KRLSYNC_REPLACE;
	else if (cur->bytes.len == n && (n == 0 || memcmp(cur->bytes.d, d, n) == 0))
		out->verdict = KRLSYNC_SAME;
	else
		out->verdict = KRLSYNC_REFUSE_CONFLICT;
	r = EPH_OK;
out:
	krl_free(k);
	return r;
}

const char *
krlsync_verdict_name(enum krlsync_verdict v)
{
	switch (v) {
	case KRLSYNC_REPLACE: return "replace";
	case KRLSYNC_SAME: return "same";
	case KRLSYNC_REFUSE_MALFORMED: return "malformed";
	case KRLSYNC_REFUSE_TOOLARGE: return "too large";
	case KRLSYNC_REFUSE_OLDER: return "older";
	case KRLSYNC_REFUSE_CONFLICT: return "conflict";
	}
	return "unknown";
}

int
krlsync_install(const char *path, const uint8_t *d, size_t n)
{
	return file_write_atomic(path, d, n, 0644, 0);
}

int
krlsync_init(const char *path, uint64_t now, int *created)
{
	struct krl *k = NULL;
	struct buf b;
	int r;

	*created = 0;
	buf_init(&b);
	if ((r = krl_new(&k)) != EPH_OK)
		goto out;
	krl_set_version(k, 0);
	krl_set_generated_date(k, now);
	if ((r = krl_set_comment(k, KRLSYNC_INIT_COMMENT)) != EPH_OK ||
	    (r = krl_serialize(k, &b)) != EPH_OK)
		goto out;
	/* link(2), not rename(2): a KRL that appeared meanwhile stays. */
	r = file_write_atomic(path, b.d, b.len, 0644, FILE_NO_REPLACE);
	if (r == EPH_ERR_EXISTS) {
		r = EPH_OK;
		goto out;
	}
	if (r != EPH_OK)
		goto out;
	*created = 1;
	r = EPH_OK;
out:
	buf_free(&b);
	krl_free(k);
	return r;
}

int
krlsync_lock(const char *path, int *fd, int *waited)
{
	char *lock = NULL;
	int lfd = -1, r = EPH_ERR_NOMEM, saved;

	*fd = -1;
	*waited = 0;
	if (asprintf(&lock, "%s.lock", path) < 0) {
		lock = NULL;
		goto out;
	}
	r = EPH_ERR_IO;
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		goto out;
	if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK)
			goto out;
		*waited = 1;
		while (flock(lfd, LOCK_EX) != 0)
			if (errno != EINTR)
				goto out;
	}
	*fd = lfd;
	lfd = -1;
	r = EPH_OK;
out:
	saved = errno;
	if (lfd >= 0)
		close(lfd);
	free(lock);
	errno = saved;
	return r;
}

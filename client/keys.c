/* A granted key into the agent, a directory, or the pending store (keys.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "keys.h"
#include "out.h"
#include "runtime.h"
#include "util.h"

#define PENDING_PREFIX "pending-"
#define PENDING_SUFFIX ".key"

int
keys_agent_open(struct agent **out, char *why, size_t len)
{
	const char *sock = getenv("SSH_AUTH_SOCK");
	int r;

	*out = NULL;
	if (sock == NULL || *sock == '\0') {
		snprintf(why, len, "no ssh-agent (SSH_AUTH_SOCK is not set): " KEYS_AGENT_HINT);
		return EPH_ERR_NOTFOUND;
	}
	if ((r = agent_connect(sock, out)) != EPH_OK) {
		snprintf(why, len, "no ssh-agent at %s (%s): " KEYS_AGENT_HINT, sock,
		    r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r));
		return r == EPH_ERR_NOTFOUND ? EPH_ERR_NOTFOUND : EPH_ERR_IO;
	}
	return EPH_OK;
}

uint32_t
keys_lifetime(const struct cert *c, int64_t now)
{
	uint64_t left;

	if (now < 0 || c->valid_before <= (uint64_t)now)
		return 0;
	left = c->valid_before - (uint64_t)now;
	return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

int
keys_check_cert(const struct cert *c, const struct key *k, int64_t now, char *why, size_t len,
    char *warn, size_t warn_len)
{
	char t[32];

	if (warn != NULL && warn_len > 0)
		warn[0] = '\0';
	if (c->type != CERT_TYPE_USER || !key_equal_public(c->key, k)) {
		snprintf(why, len, "the CA's certificate is not a user certificate for this key");
		return EPH_ERR_INVAL;
	}
	if (keys_lifetime(c, now) == 0) {
		int64_t late = now - (int64_t)c->valid_before;

		out_left(late > 0 ? late : 1, t, sizeof(t));
		snprintf(why, len,
		    "the certificate is already expired by this machine's clock (by %s): "
		    "if it was just issued, this clock is at least %s ahead of the CA's; "
		    "check it (timedatectl)",
		    t, t);
		return EPH_ERR_EXPIRED;
	}
	if (warn != NULL && c->valid_after > (uint64_t)now + KEYS_CLOCK_SLACK) {
		out_left((int64_t)(c->valid_after - (uint64_t)now), t, sizeof(t));
		snprintf(warn, warn_len,
		    "the certificate starts %s after this machine's clock says it is now: "
		    "this clock is at least %s behind the CA's (check it: timedatectl)",
		    t, t);
	}
	return EPH_OK;
}

int
keys_agent_add(struct agent *a, const struct key *k, const struct cert *c, const char *comment,
    int64_t now, char *why, size_t len)
{
	uint32_t life = keys_lifetime(c, now);
	int r;

	if (life == 0) {
		snprintf(why, len, "the certificate is already expired");
		return EPH_ERR_EXPIRED;
	}
	if ((r = agent_add_identity(a, k, c, comment, life, 0)) == EPH_OK)
		return EPH_OK;
	if (r == EPH_ERR_AGENT)
		snprintf(why, len,
		    "the ssh-agent refused the key and certificate (is it locked? 'ssh-add -X' "
		    "unlocks it)");
	else
		snprintf(why, len, "the ssh-agent failed: %s",
		    r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r));
	return r;
}

int
keys_listed(const struct agent_identity *ids, size_t n, const uint8_t *blob, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i].len == len && memcmp(ids[i].blob, blob, len) == 0)
			return 1;
	return 0;
}

int
keys_agent_remove(struct agent *a, const struct cert *c, int *removed)
{
	struct agent_identity *ids = NULL;
	struct buf pub;
	size_t n = 0;
	int r;

	*removed = 0;
	buf_init(&pub);
	if ((r = key_put_public(c->key, &pub)) != EPH_OK)
		goto out;
	if ((r = agent_list(a, &ids, &n)) != EPH_OK)
		goto out;
	/* Only what is there: removing an absent identity is the agent's
	 * failure, not ours. */
	if (keys_listed(ids, n, c->blob.d, c->blob.len)) {
		if ((r = agent_remove(a, c->blob.d, c->blob.len)) != EPH_OK)
			goto out;
		(*removed)++;
	}
	if (keys_listed(ids, n, pub.d, pub.len)) {
		if ((r = agent_remove(a, pub.d, pub.len)) != EPH_OK)
			goto out;
		(*removed)++;
	}
	r = EPH_OK;
out:
	agent_identities_free(ids, n);
	buf_free(&pub);
	return r;
}

/* ------------------------------------------------------------ --write */

int
keys_write_dir_check(const char *dir, char *why, size_t len)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, len, "cannot make %s: %s", dir, strerror(errno));
		return EPH_ERR_IO;
	}
	if (lstat(dir, &st) != 0) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return EPH_ERR_IO;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", dir);
		return EPH_ERR_PERM;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, len, "%s is not your own directory: the key would not be yours alone",
		    dir);
		return EPH_ERR_PERM;
	}
	if ((st.st_mode & 022) != 0) {
		snprintf(why, len,
		    "%s is writable by %s (mode %04o): anyone who may write there could swap the "
		    "key; use a directory only you may write (chmod go-w)",
		    dir, (st.st_mode & 002) ? "everyone" : "its group",
		    (unsigned)(st.st_mode & 07777));
		return EPH_ERR_PERM;
	}
	return EPH_OK;
}

int
keys_write(const char *dir, const char *name, const struct key *k, const struct cert *c,
    char **key_path, char **cert_path, char *why, size_t len)
{
	struct buf pem;
	char *kp = NULL, *cp = NULL, *line = NULL, *nl = NULL;
	int r, wrote_key = 0;

	*key_path = NULL;
	*cert_path = NULL;
	buf_init(&pem);
	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')
		return EPH_ERR_INVAL;
	if ((r = keys_write_dir_check(dir, why, len)) != EPH_OK)
		return r;
	r = EPH_ERR_NOMEM;
	if (asprintf(&kp, "%s/%s", dir, name) < 0) {
		kp = NULL;
		goto fail;
	}
	if (asprintf(&cp, "%s/%s-cert.pub", dir, name) < 0) {
		cp = NULL;
		goto fail;
	}
	if ((r = key_format_private_openssh(k, name, &pem)) != EPH_OK ||
	    (r = cert_format_line(c, name, &line)) != EPH_OK) {
		snprintf(why, len, "cannot encode the key: %s", eph_strerror(r));
		goto fail;
	}
	if (asprintf(&nl, "%s\n", line) < 0) {
		nl = NULL;
		r = EPH_ERR_NOMEM;
		goto fail;
	}
	if ((r = file_write_atomic(kp, pem.d, pem.len, 0600, FILE_NO_REPLACE)) != EPH_OK) {
		snprintf(
		    why, len, "%s: %s", kp, r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r));
		goto fail;
	}
	wrote_key = 1;
	if ((r = file_write_atomic(cp, nl, strlen(nl), 0600, FILE_NO_REPLACE)) != EPH_OK) {
		snprintf(
		    why, len, "%s: %s", cp, r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r));
		goto fail;
	}
	*key_path = kp;
	*cert_path = cp;
	kp = cp = NULL;
	r = EPH_OK;
	goto out;
fail:
	if (wrote_key)
		unlink(kp);
out:
	free(kp);
	free(cp);
	free(line);
	free(nl);
	buf_free(&pem);
	return r;
}

/* ------------------------------------------------------ pending store */

/* Is name "pending-ID.DEADLINE.key"? Fills id (19 bytes) and deadline. */
static int
pending_name(const char *name, char *id, int64_t *deadline)
{
	size_t plen = sizeof(PENDING_PREFIX) - 1, n = strlen(name),
	       slen = sizeof(PENDING_SUFFIX) - 1;
	char digits[24];
	uint64_t d;

	if (n <= plen + 18 + 1 + slen || strncmp(name, PENDING_PREFIX, plen) != 0 ||
	    strcmp(name + n - slen, PENDING_SUFFIX) != 0 || name[plen + 18] != '.')
		return 0;
	memcpy(id, name + plen, 18);
	id[18] = '\0';
	n = n - slen - (plen + 19);
	if (n == 0 || n >= sizeof(digits))
		return 0;
	memcpy(digits, name + plen + 19, n);
	digits[n] = '\0';
	if (parse_u64(digits, &d) != EPH_OK || d > INT64_MAX)
		return 0;
	*deadline = (int64_t)d;
	return 1;
}

/*
 * Call fn on each saved key in the runtime directory (for id only, when
 * non-NULL). fn returns 0 to go on, 1 to stop. EPH_ERR_NOTFOUND when
 * there is no runtime directory.
 */
static int
pending_each(const char *id,
    int (*fn)(const char *dir, const char *name, const char *id, int64_t deadline, void *ctx),
    void *ctx)
{
	char why[256], nid[19], *dir = NULL;
	struct dirent *de;
	int64_t deadline;
	DIR *d;
	int r;

	if ((r = runtime_dir(&dir, why, sizeof(why))) != EPH_OK)
		return r;
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return EPH_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!pending_name(de->d_name, nid, &deadline))
			continue;
		if (id != NULL && strcmp(id, nid) != 0)
			continue;
		if (fn(dir, de->d_name, nid, deadline, ctx))
			break;
	}
	closedir(d);
	free(dir);
	return EPH_OK;
}

static void
unlink_in(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) >= 0) {
		unlink(p);
		free(p);
	}
}

int
keys_pending_save(
    const char *id, const struct key *k, int64_t deadline, char **path, char *why, size_t len)
{
	char name[64];
	int r;

	*path = NULL;
	if (strlen(id) != 18 || deadline < 0)
		return EPH_ERR_INVAL;
	(void)keys_pending_remove(id);
	snprintf(name, sizeof(name), PENDING_PREFIX "%s.%" PRId64 PENDING_SUFFIX, id, deadline);
	if ((r = runtime_path(name, path, why, len)) != EPH_OK)
		return r;
	if ((r = key_save_private(k, *path)) != EPH_OK) {
		snprintf(
		    why, len, "%s: %s", *path, r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r));
		free(*path);
		*path = NULL;
	}
	return r;
}

struct load_ctx {
	int64_t now;
	struct key *k;
	int r;
	char *why;
	size_t len;
};

static int
load_one(const char *dir, const char *name, const char *id, int64_t deadline, void *ctx)
{
	struct load_ctx *lc = ctx;
	char *p = NULL;

	(void)id;
	if (deadline <= lc->now) {
		unlink_in(dir, name);
		return 0;
	}
	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		lc->r = EPH_ERR_NOMEM;
		return 1;
	}
	if ((lc->r = key_load_private(p, &lc->k)) != EPH_OK)
		snprintf(lc->why, lc->len, "%s: %s", p,
		    lc->r == EPH_ERR_IO ? strerror(errno) : eph_strerror(lc->r));
	free(p);
	return 1;
}

int
keys_pending_load(const char *id, int64_t now, struct key **k, char *why, size_t len)
{
	struct load_ctx lc = {now, NULL, EPH_ERR_NOTFOUND, why, len};
	int r;

	*k = NULL;
	if ((r = pending_each(id, load_one, &lc)) != EPH_OK) {
		snprintf(why, len, "no saved key for %s (no private runtime directory)", id);
		return r == EPH_ERR_NOTFOUND ? EPH_ERR_NOTFOUND : r;
	}
	if (lc.r == EPH_ERR_NOTFOUND)
		snprintf(why, len, "no saved key for %s here", id);
	*k = lc.k;
	return lc.r;
}

static int
remove_one(const char *dir, const char *name, const char *id, int64_t deadline, void *ctx)
{
	(void)id;
	(void)deadline;
	(void)ctx;
	unlink_in(dir, name);
	return 0;
}

int
keys_pending_remove(const char *id)
{
	int r = pending_each(id, remove_one, NULL);

	return r == EPH_ERR_NOTFOUND ? EPH_OK : r;
}

struct sweep_ctx {
	int64_t now;
	int n;
};

static int
sweep_one(const char *dir, const char *name, const char *id, int64_t deadline, void *ctx)
{
	struct sweep_ctx *sc = ctx;

	(void)id;
	if (deadline <= sc->now) {
		unlink_in(dir, name);
		sc->n++;
	}
	return 0;
}

int
keys_pending_sweep(int64_t now)
{
	struct sweep_ctx sc = {now, 0};
	int r = pending_each(NULL, sweep_one, &sc);

	if (r == EPH_ERR_NOTFOUND || r == EPH_ERR_PERM)
		return 0;
	return r != EPH_OK ? r : sc.n;
}

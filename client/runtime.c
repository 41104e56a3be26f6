/* ephssh's private runtime files (runtime.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "buf.h"
#include "err.h"
#include "fileio.h"
#include "runtime.h"
#include "util.h"

#define TOKEN_FILE_MAX 512

/* A directory we may keep secrets in: ours, a directory, not a link,
 * nothing for group or others. */
static int
private_dir_ok(const char *p, char *why, size_t len)
{
	struct stat st;

	if (lstat(p, &st) != 0) {
		snprintf(why, len, "%s: %s", p, strerror(errno));
		return EPH_ERR_IO;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
		snprintf(why, len,
		    "%s must be a directory of your own with mode 0700 (it is %s, mode %04o)", p,
		    S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
		    (unsigned)(st.st_mode & 07777));
		return EPH_ERR_PERM;
	}
	return EPH_OK;
}

int
runtime_dir(char **out, char *why, size_t len)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	char *p = NULL;
	int r;

	*out = NULL;
	if (x == NULL || x[0] != '/') {
		snprintf(why, len,
		    "XDG_RUNTIME_DIR is not set to an absolute path: ephssh keeps its keys and "
		    "tokens only there (log in with a session manager, or use --write DIR)");
		return EPH_ERR_NOTFOUND;
	}
	if (lstat(x, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 0077) != 0) {
		snprintf(why, len,
		    "XDG_RUNTIME_DIR %s is not a directory of your own with mode 0700", x);
		return EPH_ERR_PERM;
	}
	if (asprintf(&p, "%s/ephssh", x) < 0)
		return EPH_ERR_NOMEM;
	if (mkdir(p, 0700) != 0 && errno != EEXIST) {
		snprintf(why, len, "%s: %s", p, strerror(errno));
		free(p);
		return EPH_ERR_IO;
	}
	if ((r = private_dir_ok(p, why, len)) != EPH_OK) {
		free(p);
		return r;
	}
	*out = p;
	return EPH_OK;
}

int
runtime_path(const char *name, char **out, char *why, size_t len)
{
	char *d = NULL;
	int r;

	*out = NULL;
	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')
		return EPH_ERR_INVAL;
	if ((r = runtime_dir(&d, why, len)) != EPH_OK)
		return r;
	if (asprintf(out, "%s/%s", d, name) < 0) {
		*out = NULL;
		r = EPH_ERR_NOMEM;
	}
	free(d);
	return r;
}

/* "token-" + the first 16 hex digits of SHA-256(ca): one file per CA. */
static int
token_path(const char *ca, char **out)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char name[6 + 16 + 1], why[256];
	size_t i;

	SHA256((const unsigned char *)ca, strlen(ca), h);
	memcpy(name, "token-", 6);
	for (i = 0; i < 8; i++)
		snprintf(name + 6 + 2 * i, 3, "%02x", h[i]);
	return runtime_path(name, out, why, sizeof(why));
}

int
token_load(const char *ca, char **token, int64_t *expires)
{
	struct buf b;
	char *p = NULL, *text = NULL, *sp, *nl;
	uint64_t exp;
	int r;

	*token = NULL;
	*expires = 0;
	buf_init(&b);
	if ((r = token_path(ca, &p)) != EPH_OK)
		goto out;
	if ((r = file_read_all(p, TOKEN_FILE_MAX, FILE_CHECK_SECRET, &b)) != EPH_OK) {
		if (r == EPH_ERR_IO && errno == ENOENT)
			r = EPH_ERR_NOTFOUND;
		goto out;
	}
	r = EPH_ERR_NOMEM;
	if ((text = calloc(1, b.len + 1)) == NULL)
		goto out;
	memcpy(text, b.d, b.len);
	/* "TOKEN EXPIRES\n" */
	r = EPH_ERR_FORMAT;
	if ((sp = strchr(text, ' ')) == NULL || sp == text)
		goto out;
	*sp = '\0';
	/* Strict: the token goes into an HTTP header, so only the CA's
	 * lower-case hex (a damaged file cannot put CR/LF there), and the
	 * expiry a plain number with its newline. */
	if (strspn(text, "0123456789abcdef") != strlen(text) || strlen(text) > 256)
		goto out;
	if ((nl = strchr(sp + 1, '\n')) != NULL)
		*nl = '\0';
	if (parse_u64(sp + 1, &exp) != EPH_OK || exp > INT64_MAX)
		goto out;
	if ((int64_t)exp <= (int64_t)time(NULL)) {
		unlink(p);
		r = EPH_ERR_NOTFOUND;
		goto out;
	}
	if ((*token = strdup(text)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	*expires = (int64_t)exp;
	r = EPH_OK;
out:
	if (b.d != NULL)
		eph_wipe(b.d, b.len);
	buf_free(&b);
	eph_free_secret_str(text);
	free(p);
	return r;
}

int
token_save(const char *ca, const char *token, int64_t expires, char *why, size_t len)
{
	char *p = NULL, *text = NULL;
	int n, r;

	if (strchr(token, ' ') != NULL || strchr(token, '\n') != NULL)
		return EPH_ERR_INVAL;
	if ((r = token_path(ca, &p)) != EPH_OK) {
		snprintf(why, len, "no private place for the token ($XDG_RUNTIME_DIR)");
		return r;
	}
	if ((n = asprintf(&text, "%s %lld\n", token, (long long)expires)) < 0) {
		free(p);
		return EPH_ERR_NOMEM;
	}
	if ((r = file_write_atomic(p, text, (size_t)n, 0600, 0)) != EPH_OK)
		snprintf(why, len, "%s: %s", p, eph_strerror(r));
	eph_free_secret_str(text);
	free(p);
	return r;
}

int
token_remove(const char *ca)
{
	char *p = NULL;
	int r;

	if ((r = token_path(ca, &p)) != EPH_OK)
		return r == EPH_ERR_NOTFOUND ? EPH_OK : r;
	if (unlink(p) != 0 && errno != ENOENT)
		r = EPH_ERR_IO;
	free(p);
	return r;
}

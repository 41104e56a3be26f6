/* Shared helpers for the cmocka tests. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "b64.h"
#include "err.h"
#include "testutil.h"
#include "krl.h"

void
tu_init(int argc, char **argv)
{
	const char *f = argc > 1 ? argv[1] : getenv("EPH_TEST_FILTER");

	if (f != NULL && *f != '\0')
		cmocka_set_test_filter(f);
}

char *
tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *d = NULL;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&d, "%s/ephtest.XXXXXX", base) < 0)
		fail_msg("out of memory");
	if (mkdtemp(d) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return d;
}

void
tu_rmrf(const char *dir)
{
	DIR *dp;
	struct dirent *de;
	struct stat st;
	char *p;

	if (dir == NULL || (dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			tu_rmrf(p);
		else
			unlink(p);
		free(p);
	}
	closedir(dp);
	rmdir(dir);
}

char *
tu_path(const char *dir, const char *fmt, ...)
{
	char *name = NULL, *p = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&name, fmt, ap) < 0)
		fail_msg("out of memory");
	va_end(ap);
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		fail_msg("out of memory");
	free(name);
	return p;
}

char *
tu_read_file(const char *path, size_t *n)
{
	FILE *f;
	char *d = NULL;
	size_t cap = 0, len = 0, got;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nd;

			cap = cap ? cap * 2 : 8192;
			if ((nd = realloc(d, cap)) == NULL) {
				free(d);
				fclose(f);
				return NULL;
			}
			d = nd;
		}
		got = fread(d + len, 1, 4096, f);
		len += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	d[len] = '\0';
	if (n != NULL)
		*n = len;
	return d;
}

void
tu_write_krl(const char *path, const struct key *ca, const uint64_t *serials, size_t n)
{
	struct krl *k = NULL;
	struct buf b;
	char *tmp;
	size_t i;

	buf_init(&b);
	assert_true(asprintf(&tmp, "%s.tmp", path) > 0);
	assert_int_equal(krl_new(&k), EPH_OK);
	for (i = 0; i < n; i++)
		assert_int_equal(krl_add_serial(k, ca, serials[i]), EPH_OK);
	assert_int_equal(krl_serialize(k, &b), EPH_OK);
	assert_int_equal(tu_write_file(tmp, b.d, b.len, 0644), 0);
	assert_int_equal(rename(tmp, path), 0);
	krl_free(k);
	buf_free(&b);
	free(tmp);
}

int
tu_write_file(const char *path, const void *d, size_t n, int mode)
{
	int fd, rc = 0;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return -1;
	if (n > 0 && write(fd, d, n) != (ssize_t)n)
		rc = -1;
	if (fchmod(fd, (mode_t)mode) != 0)
		rc = -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

int
tu_run(char **out, const char *fmt, ...)
{
	char *cmd = NULL, *full = NULL;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		fail_msg("out of memory");
	va_end(ap);
	if (out == NULL) {
		st = system(cmd);
		free(cmd);
	} else {
		size_t cap = 4096, len = 0, got;
		char *d = malloc(cap);

		if (d == NULL || asprintf(&full, "(%s) 2>&1 </dev/null", cmd) < 0)
			fail_msg("out of memory");
		free(cmd);
		if ((p = popen(full, "r")) == NULL)
			fail_msg("popen: %s", strerror(errno));
		free(full);
		while ((got = fread(d + len, 1, cap - len - 1, p)) > 0) {
			len += got;
			if (cap - len - 1 == 0) {
				char *nd = realloc(d, cap * 2);

				if (nd == NULL)
					fail_msg("out of memory");
				d = nd;
				cap *= 2;
			}
		}
		d[len] = '\0';
		*out = d;
		st = pclose(p);
	}
	if (st == -1)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int
tu_run_in(const char *dir, char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		fail_msg("out of memory");
	va_end(ap);
	rc = tu_run(out, "cd '%s' && %s", dir, cmd);
	if (out != NULL &&
	    (strstr(*out, "Sanitizer") != NULL || strstr(*out, "runtime error:") != NULL))
		fail_msg("%s:\n%s", cmd, *out);
	free(cmd);
	return rc;
}

void
tu_assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

void
tu_assert_not_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("did not expect \"%s\" in:\n%s", needle, hay);
}

int
tu_dir_setup(void **state)
{
	*state = tu_mkdtemp();
	return 0;
}

int
tu_dir_teardown(void **state)
{
	tu_rmrf(*state);
	free(*state);
	return 0;
}

const char *
tu_ssh_keygen(void)
{
	const char *p = SSH_KEYGEN_PATH;

	return (*p != '\0' && access(p, X_OK) == 0) ? p : NULL;
}

const char *
tu_sshca(void)
{
	return TOP_BUILDDIR "/sshca/sshca";
}

size_t
tu_ec_weak_point(const char *group, unsigned long x0, int above_order, uint8_t *pt, size_t max)
{
	EC_GROUP *g;
	EC_POINT *q;
	BN_CTX *ctx;
	BIGNUM *p, *a, *b, *x, *rhs, *y;
	size_t n;

	assert_non_null(ctx = BN_CTX_new());
	BN_CTX_start(ctx);
	p = BN_CTX_get(ctx);
	a = BN_CTX_get(ctx);
	b = BN_CTX_get(ctx);
	x = BN_CTX_get(ctx);
	rhs = BN_CTX_get(ctx);
	assert_non_null(y = BN_CTX_get(ctx));
	assert_non_null(g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(group)));
	assert_non_null(q = EC_POINT_new(g));
	assert_int_equal(EC_GROUP_get_curve(g, p, a, b, ctx), 1);
	assert_int_equal(BN_set_word(x, x0), 1);
	if (above_order)
		assert_int_equal(BN_add(x, x, EC_GROUP_get0_order(g)), 1);
	/* Walk x up until x^3 + ax + b has a square root y. */
	for (;; assert_int_equal(BN_add_word(x, 1), 1)) {
		assert_int_equal(BN_mod_sqr(rhs, x, p, ctx), 1);
		assert_int_equal(BN_mod_add(rhs, rhs, a, p, ctx), 1);
		assert_int_equal(BN_mod_mul(rhs, rhs, x, p, ctx), 1);
		assert_int_equal(BN_mod_add(rhs, rhs, b, p, ctx), 1);
		if (BN_mod_sqrt(y, rhs, p, ctx) != NULL &&
		    EC_POINT_set_affine_coordinates(g, q, x, y, ctx) == 1)
			break;
		ERR_clear_error();
	}
	n = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pt, max, ctx);
	assert_true(n > 0);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return n;
}

struct key *
tu_ec_unchecked_key(
    enum key_type t, const char *group, const uint8_t *pt, size_t n, const struct key *priv)
{
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	struct key *k;

	assert_non_null(bld = OSSL_PARAM_BLD_new());
	assert_int_equal(
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, n), 1);
	if (priv != NULL) {
		assert_int_equal(
		    EVP_PKEY_get_bn_param(priv->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
	}
	assert_non_null(params = OSSL_PARAM_BLD_to_param(bld));
	assert_non_null(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL));
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey,
	                     priv != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params),
	    1);
	assert_non_null(k = calloc(1, sizeof(*k)));
	k->type = t;
	k->pkey = pkey;
	k->has_private = priv != NULL;
	BN_clear_free(d);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return k;
}

enum key_type
tu_sk_blob(const struct key *plain, const char *app, struct buf *out)
{
	enum key_type t = plain->type == KEY_ED25519 ? KEY_SK_ED25519 : KEY_SK_ECDSA_P256;

	assert_true(plain->type == KEY_ED25519 || plain->type == KEY_ECDSA_P256);
	assert_int_equal(buf_put_cstring(out, key_type_name(t)), EPH_OK);
	assert_int_equal(key_put_public_fields(plain, out), EPH_OK);
	assert_int_equal(buf_put_cstring(out, app), EPH_OK);
	return t;
}

char *
tu_sk_line(const struct key *plain, const char *app, const char *comment)
{
	struct buf b;
	char *b64, *line = NULL;
	enum key_type t;

	buf_init(&b);
	t = tu_sk_blob(plain, app, &b);
	assert_non_null(b64 = b64_encode(b.d, b.len));
	assert_true(asprintf(&line, "%s %s %s\n", key_type_name(t), b64, comment) > 0);
	free(b64);
	buf_free(&b);
	return line;
}

void
tu_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Can a client connect to the Unix socket at path? */
static int
sock_up(const char *path)
{
	struct sockaddr_un sa;
	int fd, ok;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

void
tu_agent_start(const char *sock, pid_t *pid)
{
	int i, fd, st;

	if ((*pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (*pid == 0) {
		/* Never outlive a test run that dies (say, on the watchdog). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		unsetenv("SSH_AUTH_SOCK");
		execl(SSH_AGENT_PATH, "ssh-agent", "-D", "-a", sock, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 250; i++) {
		if (sock_up(sock))
			return;
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = -1;
			fail_msg("ssh-agent exited early (status %d)", st);
		}
		tu_sleep_ms(20);
	}
	fail_msg("ssh-agent did not come up on %s", sock);
}

void
tu_agent_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	while (waitpid(*pid, NULL, 0) == -1 && errno == EINTR)
		;
	*pid = -1;
}

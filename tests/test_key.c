/* Tests for OpenSSH keys: blobs, lines and fingerprints against
 * ssh-keygen, signatures, and PKCS#8 private key files. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "b64.h"
#include "buf.h"
#include "err.h"
#include "key.h"

#include "testutil.h"

struct kt {
	const char *cli; /* our name */
	const char *keygen; /* ssh-keygen -t / -b */
	enum key_type type;
};

static const struct kt kts[] = {
    {"ed25519", "-t ed25519", KEY_ED25519},
    {"ecdsa", "-t ecdsa -b 256", KEY_ECDSA_P256},
    {"ecdsa-p384", "-t ecdsa -b 384", KEY_ECDSA_P384},
    {"ecdsa-p521", "-t ecdsa -b 521", KEY_ECDSA_P521},
    {"rsa", "-t rsa -b 2048", KEY_RSA},
};
#define NKT (sizeof(kts) / sizeof(kts[0]))

/* The SHA256:... field of `ssh-keygen -l -f path`. */
static char *
keygen_fingerprint(const char *path)
{
	char *out = NULL, *fp, *sp;

	assert_int_equal(tu_run(&out, "%s -l -E sha256 -f %s", tu_ssh_keygen(), path), 0);
	fp = strstr(out, "SHA256:");
	assert_non_null(fp);
	sp = strchr(fp, ' ');
	assert_non_null(sp);
	*sp = '\0';
	fp = strdup(fp);
	free(out);
	return fp;
}

static void
test_names(void **state)
{
	int is_cert = -1;

	assert_int_equal(key_type_from_name("ssh-ed25519", &is_cert), KEY_ED25519);
	assert_int_equal(is_cert, 0);
	assert_int_equal(key_type_from_name("ecdsa-sha2-nistp384-cert-v01@openssh.com", &is_cert),
	    KEY_ECDSA_P384);
	assert_int_equal(is_cert, 1);
	assert_int_equal(key_type_from_name("ssh-dss", NULL), KEY_UNSPEC);
	assert_int_equal(key_type_from_name("", NULL), KEY_UNSPEC);
	assert_int_equal(key_type_from_string("ecdsa"), KEY_ECDSA_P256);
	assert_int_equal(key_type_from_string("dsa"), KEY_UNSPEC);
	assert_string_equal(key_default_sig_alg(KEY_RSA), "rsa-sha2-512");
	assert_string_equal(key_default_sig_alg(KEY_ECDSA_P521), "ecdsa-sha2-nistp521");
	assert_string_equal(key_cert_type_name(KEY_RSA), "ssh-rsa-cert-v01@openssh.com");
}

/* ssh-keygen's public keys parse, re-encode identically and give the
 * same fingerprint. */
static void
test_parse_keygen_keys(void **state)
{
	const char *dir = *state;
	size_t i;

	TU_REQUIRE_SSH_KEYGEN();
	for (i = 0; i < NKT; i++) {
		char *path = tu_path(dir, "k%zu", i), *pub = tu_path(dir, "k%zu.pub", i);
		char *line, *ours = NULL, *comment = NULL, *fp = NULL, *kfp, *nl;
		struct key *k = NULL;

		assert_int_equal(tu_run(NULL, "%s -q %s -N '' -C 'my comment %zu' -f %s",
		                     tu_ssh_keygen(), kts[i].keygen, i, path),
		    0);
		line = tu_read_file(pub, NULL);
		assert_non_null(line);
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		assert_int_equal(key_load_public(pub, &k, &comment), EPH_OK);
		assert_int_equal(k->type, kts[i].type);
		assert_false(k->has_private);
		assert_string_equal(comment, line + strlen(line) - strlen(comment));
		assert_int_equal(key_format_public_line(k, comment, &ours), EPH_OK);
		assert_string_equal(ours, line);
		assert_int_equal(key_fingerprint(k, &fp), EPH_OK);
		kfp = keygen_fingerprint(pub);
		assert_string_equal(fp, kfp);
		if (kts[i].type == KEY_RSA)
			assert_int_equal(key_bits(k), 2048);
		free(kfp);
		free(fp);
		free(ours);
		free(comment);
		free(line);
		key_free(k);
		free(path);
		free(pub);
	}
}

/* Keys we make are read by ssh-keygen with the fingerprint we compute;
 * private keys survive a save/load and sign/verify. */
static void
test_generate_save_load(void **state)
{
	const char *dir = *state;
	static const uint8_t msg[] = "message to sign";
	size_t i;

	TU_REQUIRE_SSH_KEYGEN();
	for (i = 0; i < NKT; i++) {
		char *pem = tu_path(dir, "ca%zu.pem", i), *pub = tu_path(dir, "ca%zu.pub", i);
		char *line = NULL, *fp = NULL, *kfp, *out = NULL;
		struct key *k = NULL, *l = NULL, *p = NULL;
		struct buf sig;
		struct stat st;

		assert_int_equal(key_generate(kts[i].type, 2048, &k), EPH_OK);
		assert_true(k->has_private);
		assert_int_equal(key_save_private(k, pem), EPH_OK);
		assert_int_equal(stat(pem, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(key_save_private(k, pem), EPH_ERR_EXISTS);
		assert_int_equal(key_load_private(pem, &l), EPH_OK);
		assert_int_equal(l->type, kts[i].type);
		assert_true(key_equal_public(k, l));

		assert_int_equal(key_format_public_line(k, "ca", &line), EPH_OK);
		assert_int_equal(tu_write_file(pub, line, strlen(line), 0644), 0);
		assert_int_equal(key_fingerprint(k, &fp), EPH_OK);
		kfp = keygen_fingerprint(pub);
		assert_string_equal(fp, kfp);
		if (kts[i].type != KEY_ED25519) {
			/* OpenSSH 9.2 reads PKCS#8 PEM for RSA and ECDSA. */
			char *nl;

			assert_int_equal(tu_run(&out, "%s -y -f %s", tu_ssh_keygen(), pem), 0);
			if ((nl = strchr(out, '\n')) != NULL)
				*nl = '\0';
			assert_int_equal(strncmp(out, line, strlen(out)), 0);
			free(out);
		}

		/* Sign with the loaded key, verify with the public half. */
		assert_int_equal(key_dup_public(l, &p), EPH_OK);
		assert_false(p->has_private);
		buf_init(&sig);
		assert_int_equal(key_sign(l, NULL, msg, sizeof(msg), &sig), EPH_OK);
		assert_int_equal(key_verify(p, sig.d, sig.len, msg, sizeof(msg), NULL), EPH_OK);
		assert_int_equal(
		    key_verify(p, sig.d, sig.len, msg, sizeof(msg) - 1, NULL), EPH_ERR_SIGNATURE);
		assert_int_equal(key_sign(p, NULL, msg, sizeof(msg), &sig), EPH_ERR_INVAL);
		buf_free(&sig);

		free(kfp);
		free(fp);
		free(line);
		key_free(k);
		key_free(l);
		key_free(p);
		free(pem);
		free(pub);
	}
}

static void
test_signature_tamper(void **state)
{
	static const uint8_t msg[] = "tamper with me";
	size_t i, j;

	for (i = 0; i < NKT; i++) {
		struct key *k = NULL;
		struct buf sig;
		const char *alg = NULL;

		assert_int_equal(key_generate(kts[i].type, 2048, &k), EPH_OK);
		buf_init(&sig);
		assert_int_equal(key_sign(k, NULL, msg, sizeof(msg), &sig), EPH_OK);
		assert_int_equal(key_verify(k, sig.d, sig.len, msg, sizeof(msg), &alg), EPH_OK);
		assert_string_equal(alg, key_default_sig_alg(kts[i].type));
		/* Every byte of the signature blob matters. */
		for (j = 0; j < sig.len; j++) {
			sig.d[j] ^= 0x01;
			assert_int_not_equal(
			    key_verify(k, sig.d, sig.len, msg, sizeof(msg), NULL), EPH_OK);
			sig.d[j] ^= 0x01;
		}
		/* Truncated or extended blobs. */
		assert_int_not_equal(
		    key_verify(k, sig.d, sig.len - 1, msg, sizeof(msg), NULL), EPH_OK);
		assert_int_equal(buf_put_u8(&sig, 0), EPH_OK);
		assert_int_equal(
		    key_verify(k, sig.d, sig.len, msg, sizeof(msg), NULL), EPH_ERR_TRAILING);
		buf_free(&sig);
		key_free(k);
	}
}

static void
test_rsa_algorithms(void **state)
{
	static const uint8_t msg[] = "rsa";
	struct key *k = NULL, *other = NULL;
	struct buf sig;
	const char *alg = NULL;

	assert_int_equal(key_generate(KEY_RSA, 2048, &k), EPH_OK);
	assert_int_equal(key_generate(KEY_ED25519, 0, &other), EPH_OK);
	buf_init(&sig);
	assert_int_equal(key_sign(k, "rsa-sha2-256", msg, sizeof(msg), &sig), EPH_OK);
	assert_int_equal(key_verify(k, sig.d, sig.len, msg, sizeof(msg), &alg), EPH_OK);
	assert_string_equal(alg, "rsa-sha2-256");
	/* A signature from one key does not verify under another type. */
	assert_int_equal(
	    key_verify(other, sig.d, sig.len, msg, sizeof(msg), NULL), EPH_ERR_SIGNATURE);
	buf_reset(&sig);
	/* SHA-1 is refused both ways. */
	assert_int_equal(key_sign(k, "ssh-rsa", msg, sizeof(msg), &sig), EPH_ERR_WEAKKEY);
	assert_int_equal(buf_put_cstring(&sig, "ssh-rsa"), EPH_OK);
	assert_int_equal(buf_put_string(&sig, "x", 1), EPH_OK);
	assert_int_equal(key_verify(k, sig.d, sig.len, msg, sizeof(msg), NULL), EPH_ERR_WEAKKEY);
	buf_free(&sig);
	key_free(other);
	other = NULL;
	assert_int_equal(key_generate(KEY_RSA, 1024, &other), EPH_ERR_WEAKKEY);
	assert_null(other);
	key_free(k);
}

static void
test_bad_lines(void **state)
{
	static const char *bad[] = {
	    "",
	    "ssh-ed25519",
	    "ssh-ed25519 !!!!",
	    "ssh-ed25519 AAAA",
	    /* type in the blob differs from the line's */
	    "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBNJ7n1Q0tZpq6VwHfpWcu3Sw5bAtnlSrcrQylWcWPSq",
	    /* truncated key (31 bytes) */
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAHxNJ7n1Q0tZpq6VwHfpWcu3Sw5bAtnlSrcrQylWcWPQ=",
	    /* length field says 0x7fffffff */
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5f////xNJ7n1Q0tZpq6VwHfpWcu3Sw5bAtnlSrcrQylWcWPSq",
	    /* trailing data after the key */
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBNJ7n1Q0tZpq6VwHfpWcu3Sw5bAtnlSrcrQylWcWPSqAA==",
	    "ssh-dss AAAAB3NzaC1kc3MAAAA=",
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBNJ7n1Q0tZpq6VwHfpWcu3Sw5bAtnlSrcrQylWcWPSq x\ny",
	};
	static const char *good =
	    "  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBNJ7n1Q0tZpq6VwHfpWcu3Sw5bAtnlSrcrQylWcWPSq a "
	    "b \n";
	struct key *k = NULL;
	char *comment = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(key_parse_public_line(bad[i], &k, &comment), EPH_OK);
		assert_null(k);
		assert_null(comment);
	}
	assert_int_equal(key_parse_public_line(good, &k, &comment), EPH_OK);
	assert_string_equal(comment, "a b");
	free(comment);
	key_free(k);
}

static void
test_bad_ecdsa_point(void **state)
{
	struct key *k = NULL, *bad = NULL;
	struct buf b;

	assert_int_equal(key_generate(KEY_ECDSA_P256, 0, &k), EPH_OK);
	buf_init(&b);
	assert_int_equal(key_put_public(k, &b), EPH_OK);
	/* Move the point off the curve: last byte of y. */
	b.d[b.len - 1] ^= 0x01;
	assert_int_equal(key_from_blob(b.d, b.len, &bad), EPH_ERR_FORMAT);
	assert_null(bad);
	b.d[b.len - 1] ^= 0x01;
	/* Compressed-point prefix. */
	b.d[b.len - 65] = 0x02;
	assert_int_equal(key_from_blob(b.d, b.len, &bad), EPH_ERR_FORMAT);
	buf_free(&b);
	key_free(k);
}

static void
test_private_file_checks(void **state)
{
	const char *dir = *state;
	char *pem = tu_path(dir, "ca.pem"), *lnk = tu_path(dir, "ca.link");
	char *garbage = tu_path(dir, "garbage.pem");
	struct key *k = NULL, *l = NULL;

	assert_int_equal(key_generate(KEY_ED25519, 0, &k), EPH_OK);
	assert_int_equal(key_save_private(k, pem), EPH_OK);
	assert_int_equal(chmod(pem, 0640), 0);
	assert_int_equal(key_load_private(pem, &l), EPH_ERR_PERM);
	assert_int_equal(chmod(pem, 0604), 0);
	assert_int_equal(key_load_private(pem, &l), EPH_ERR_PERM);
	assert_int_equal(chmod(pem, 0600), 0);
	assert_int_equal(symlink(pem, lnk), 0);
	assert_int_equal(key_load_private(lnk, &l), EPH_ERR_IO);
	assert_int_equal(
	    tu_write_file(garbage, "-----BEGIN PRIVATE KEY-----\nnope\n", 33, 0600), 0);
	assert_int_equal(key_load_private(garbage, &l), EPH_ERR_FORMAT);
	assert_null(l);
	assert_int_equal(key_load_private(pem, &l), EPH_OK);
	key_free(l);
	key_free(k);
	free(pem);
	free(lnk);
	free(garbage);
}

static void
test_private_fields(void **state)
{
	struct key *k = NULL;
	struct buf b;
	const uint8_t *p;
	size_t n;

	assert_int_equal(key_generate(KEY_ED25519, 0, &k), EPH_OK);
	buf_init(&b);
	assert_int_equal(key_put_private_fields(k, &b, 1), EPH_OK);
	assert_int_equal(buf_get_string(&b, &p, &n, 64), EPH_OK);
	assert_int_equal(n, 32);
	assert_int_equal(buf_get_string(&b, &p, &n, 64), EPH_OK);
	assert_int_equal(n, 64);
	assert_int_equal(buf_remaining(&b), 0);
	buf_free(&b);
	key_free(k);
}

/* The EC curves by SSH and OpenSSL names. */
static const struct {
	enum key_type type;
	const char *curve, *group;
} ec_curves[] = {
    {KEY_ECDSA_P256, "nistp256", "prime256v1"},
    {KEY_ECDSA_P384, "nistp384", "secp384r1"},
    {KEY_ECDSA_P521, "nistp521", "secp521r1"},
};

/*
 * Points on the curve that OpenSSL's key check passes but OpenSSH 9.2
 * refuses ("invalid elliptic curve value"): a small x (at most half the
 * order's bits; x = 5 is on P-256) and an x at or above order - 1 (the
 * field is larger than the group order on every NIST curve).
 */
static void
test_ec_point_openssh_checks(void **state)
{
	const char *dir = *state;
	static const struct {
		size_t curve;
		unsigned long x0;
		int above_order;
	} cases[] = {
	    {0, 5, 0},
	    {0, 0, 1},
	    {1, 2, 0},
	    {1, 0, 1},
	    {2, 1, 0},
	    {2, 0, 1},
	};
	uint8_t pt[1 + 2 * 66];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *curve = ec_curves[cases[i].curve].curve;
		const char *group = ec_curves[cases[i].curve].group;
		enum key_type t = ec_curves[cases[i].curve].type;
		char *path = tu_path(dir, "weak%zu.pub", i), *line = NULL, *out = NULL;
		struct key *k = NULL, *raw, *good = NULL;
		EVP_PKEY_CTX *ctx;
		struct buf b;
		int rc;

		n = tu_ec_weak_point(group, cases[i].x0, cases[i].above_order, pt, sizeof(pt));
		if (cases[i].x0 == 5)
			assert_int_equal(pt[32], 5); /* x = 5 exactly */
		/* OpenSSL alone takes it: this is OpenSSH's stricter rule. */
		raw = tu_ec_unchecked_key(t, group, pt, n, NULL);
		assert_non_null(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, raw->pkey, NULL));
		assert_int_equal(EVP_PKEY_public_check(ctx), 1);
		EVP_PKEY_CTX_free(ctx);
		assert_int_equal(key_check_public(raw), EPH_ERR_FORMAT);

		buf_init(&b);
		assert_int_equal(buf_put_cstring(&b, key_type_name(t)), EPH_OK);
		assert_int_equal(buf_put_cstring(&b, curve), EPH_OK);
		assert_int_equal(buf_put_string(&b, pt, n), EPH_OK);
		assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_ERR_FORMAT);
		assert_null(k);
		line = b64_encode(b.d, b.len);
		assert_non_null(line);
		assert_true(asprintf(&out, "%s %s weak\n", key_type_name(t), line) > 0);
		assert_int_equal(tu_write_file(path, out, strlen(out), 0644), 0);
		free(out);
		out = NULL;
		assert_int_equal(key_load_public(path, &k, NULL), EPH_ERR_FORMAT);
		assert_null(k);
		if (tu_ssh_keygen() != NULL) {
			rc = tu_run(&out, "%s -l -f %s", tu_ssh_keygen(), path);
			if (rc == 0 || strstr(out, "is not a public key file") == NULL)
				fail_msg("ssh-keygen took weak point %zu (rc %d): %s", i, rc, out);
			free(out);
		}
		/* A generated key of the same curve passes. */
		assert_int_equal(key_generate(t, 0, &good), EPH_OK);
		assert_int_equal(key_check_public(good), EPH_OK);
		key_free(good);
		key_free(raw);
		free(line);
		buf_free(&b);
		free(path);
	}
}

/* A PKCS#8 EC key file whose scalar is small, or whose public point is a
 * weak one, is refused as ssh-keygen -y refuses it (and a good one is
 * not). */
static void
test_ec_private_openssh_checks(void **state)
{
	const char *dir = *state;
	char *small = tu_path(dir, "small.pem"), *weakpub = tu_path(dir, "weakpub.pem");
	char *goodp = tu_path(dir, "good.pem"), *out = NULL;
	struct key *real = NULL, *k = NULL, *l = NULL;
	EC_GROUP *g;
	EC_POINT *q;
	BIGNUM *d;
	uint8_t pt[1 + 2 * 32];
	size_t n;
	EVP_PKEY_CTX *ctx;
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params;
	EVP_PKEY *pkey = NULL;

	/* d = 12345, with its true public point d*G. */
	assert_non_null(g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
	assert_non_null(q = EC_POINT_new(g));
	assert_non_null(d = BN_new());
	assert_int_equal(BN_set_word(d, 12345), 1);
	assert_int_equal(EC_POINT_mul(g, q, d, NULL, NULL, NULL), 1);
	n = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof(pt), NULL);
	assert_int_equal(n, sizeof(pt));
	assert_non_null(bld = OSSL_PARAM_BLD_new());
	assert_int_equal(
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, n), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
	assert_non_null(params = OSSL_PARAM_BLD_to_param(bld));
	assert_non_null(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL));
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params), 1);
	assert_non_null(k = calloc(1, sizeof(*k)));
	k->type = KEY_ECDSA_P256;
	k->pkey = pkey;
	k->has_private = 1;
	assert_int_equal(key_save_private(k, small), EPH_OK);
	assert_int_equal(key_load_private(small, &l), EPH_ERR_WEAKKEY);
	assert_null(l);
	key_free(k);

	/* A real scalar saved under a weak public point. */
	assert_int_equal(key_generate(KEY_ECDSA_P256, 0, &real), EPH_OK);
	assert_int_equal(key_save_private(real, goodp), EPH_OK);
	n = tu_ec_weak_point("prime256v1", 5, 0, pt, sizeof(pt));
	k = tu_ec_unchecked_key(KEY_ECDSA_P256, "prime256v1", pt, n, real);
	assert_int_equal(key_save_private(k, weakpub), EPH_OK);
	assert_int_equal(key_load_private(weakpub, &l), EPH_ERR_FORMAT);
	assert_null(l);
	assert_int_equal(key_load_private(goodp, &l), EPH_OK);
	key_free(l);

	if (tu_ssh_keygen() != NULL) {
		assert_int_equal(tu_run(&out, "%s -y -f %s", tu_ssh_keygen(), goodp), 0);
		free(out);
		assert_int_not_equal(tu_run(&out, "%s -y -f %s", tu_ssh_keygen(), small), 0);
		/* OpenSSH 9.2 reports its EC checks on PEM keys as a format error. */
		tu_assert_contains(out, "invalid format");
		free(out);
		assert_int_not_equal(tu_run(&out, "%s -y -f %s", tu_ssh_keygen(), weakpub), 0);
		tu_assert_contains(out, "invalid format");
		free(out);
	}
	key_free(k);
	key_free(real);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(d);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	free(small);
	free(weakpub);
	free(goodp);
}

/*
 * FIDO public keys (as a security key gives them; no hardware needed):
 * they parse, re-encode byte for byte, fingerprint as ssh-keygen -l
 * does (the application is part of the blob), and refuse every use
 * that needs the security key.
 */
static void
test_sk_keys(void **state)
{
	const char *dir = *state;
	static const uint8_t msg[] = "m";
	static const struct {
		enum key_type plain;
		const char *app, *label;
	} cases[] = {
	    {KEY_ED25519, "ssh:", "ED25519-SK"},
	    {KEY_ED25519, "ssh:jit-admin", "ED25519-SK"},
	    {KEY_ECDSA_P256, "ssh:", "ECDSA-SK"},
	    {KEY_ECDSA_P256, "ssh:other", "ECDSA-SK"},
	};
	struct key *first[2] = {NULL, NULL};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = tu_path(dir, "sk%zu.pub", i), *line, *ours = NULL, *comment = NULL;
		char *fp = NULL, *kfp, *out = NULL, want[64];
		struct key *plain = NULL, *k = NULL, *l = NULL, *d = NULL;
		struct buf blob, re, sig;
		enum key_type t;
		int is_cert = 0;

		/* Two applications on one key: same point, different keys. */
		if (i % 2 == 0)
			assert_int_equal(key_generate(cases[i].plain, 0, &first[i / 2]), EPH_OK);
		plain = first[i / 2];
		buf_init(&blob);
		buf_init(&re);
		buf_init(&sig);
		t = tu_sk_blob(plain, cases[i].app, &blob);
		assert_int_equal(key_type_from_name(key_type_name(t), &is_cert), t);
		assert_int_equal(is_cert, 0);
		assert_int_equal(key_type_from_name(key_cert_type_name(t), &is_cert), t);
		assert_int_equal(is_cert, 1);
		assert_true(key_type_is_sk(t));

		assert_int_equal(key_from_blob(blob.d, blob.len, &k), EPH_OK);
		assert_int_equal(k->type, t);
		assert_false(k->has_private);
		assert_string_equal(k->sk_application, cases[i].app);
		assert_int_equal(key_bits(k), 256);
		assert_int_equal(key_put_public(k, &re), EPH_OK);
		assert_int_equal(re.len, blob.len);
		assert_memory_equal(re.d, blob.d, blob.len);

		line = tu_sk_line(plain, cases[i].app, "admin@yubikey");
		assert_int_equal(tu_write_file(path, line, strlen(line), 0644), 0);
		assert_int_equal(key_load_public(path, &l, &comment), EPH_OK);
		assert_string_equal(comment, "admin@yubikey");
		assert_true(key_equal_public(k, l));
		assert_false(key_equal_public(k, plain));
		assert_int_equal(key_format_public_line(l, comment, &ours), EPH_OK);
		assert_int_equal(strlen(line), strlen(ours) + 1);
		assert_memory_equal(line, ours, strlen(ours));
		assert_int_equal(key_dup_public(k, &d), EPH_OK);
		assert_string_equal(d->sk_application, cases[i].app);
		assert_true(key_equal_public(k, d));
		if (i % 2 == 1) {
			/* The first case: same point, other application. */
			struct buf b0;
			struct key *k0 = NULL;

			buf_init(&b0);
			(void)tu_sk_blob(plain, cases[i - 1].app, &b0);
			assert_int_equal(key_from_blob(b0.d, b0.len, &k0), EPH_OK);
			assert_false(key_equal_public(k, k0));
			key_free(k0);
			buf_free(&b0);
		}

		assert_int_equal(key_fingerprint(k, &fp), EPH_OK);
		if (tu_ssh_keygen() != NULL) {
			kfp = keygen_fingerprint(path);
			assert_string_equal(fp, kfp);
			free(kfp);
			assert_int_equal(tu_run(&out, "%s -l -f %s", tu_ssh_keygen(), path), 0);
			snprintf(want, sizeof(want), " admin@yubikey (%s)\n", cases[i].label);
			tu_assert_contains(out, want);
			free(out);
		}

		/* Nothing here holds the security key. */
		assert_null(key_default_sig_alg(t));
		assert_int_equal(key_sign(k, NULL, msg, sizeof(msg), &sig), EPH_ERR_KEYTYPE);
		assert_int_equal(
		    key_sign(k, key_type_name(t), msg, sizeof(msg), &sig), EPH_ERR_KEYTYPE);
		assert_int_equal(sig.len, 0);
		assert_int_not_equal(key_put_private_fields(k, &sig, 0), EPH_OK);
		assert_int_equal(
		    key_verify(k, blob.d, blob.len, msg, sizeof(msg), NULL), EPH_ERR_KEYTYPE);
		key_free(l);
		l = NULL;
		assert_int_equal(key_generate(t, 0, &l), EPH_ERR_KEYTYPE);
		assert_null(l);

		buf_free(&blob);
		buf_free(&re);
		buf_free(&sig);
		key_free(k);
		key_free(d);
		free(fp);
		free(ours);
		free(comment);
		free(line);
		free(path);
	}
	assert_int_equal(key_type_from_string("sk-ed25519"), KEY_UNSPEC);
	assert_int_equal(key_type_from_string("ed25519-sk"), KEY_UNSPEC);
	key_free(first[0]);
	key_free(first[1]);
}

/* Malformed FIDO blobs; a weak EC point is as weak in an sk key. */
static void
test_sk_bad_blobs(void **state)
{
	struct key *ed = NULL, *k = NULL, *weak;
	struct buf b;
	char big[KEY_SK_APPLICATION_MAX + 2];
	uint8_t pt[1 + 2 * 32];
	size_t n;

	assert_int_equal(key_generate(KEY_ED25519, 0, &ed), EPH_OK);
	/* No application. */
	buf_init(&b);
	assert_int_equal(buf_put_cstring(&b, "sk-ssh-ed25519@openssh.com"), EPH_OK);
	assert_int_equal(key_put_public_fields(ed, &b), EPH_OK);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_ERR_TRUNCATED);
	assert_null(k);
	/* An application with a NUL in it. */
	assert_int_equal(buf_put_string(&b, "ssh:\0x", 6), EPH_OK);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_ERR_FORMAT);
	assert_null(k);
	buf_free(&b);
	/* Over the cap; at the cap is fine. */
	memset(big, 'a', sizeof(big));
	big[KEY_SK_APPLICATION_MAX + 1] = '\0';
	buf_init(&b);
	(void)tu_sk_blob(ed, big, &b);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_ERR_TOOLARGE);
	buf_free(&b);
	big[KEY_SK_APPLICATION_MAX] = '\0';
	buf_init(&b);
	(void)tu_sk_blob(ed, big, &b);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_OK);
	key_free(k);
	k = NULL;
	/* Trailing data. */
	assert_int_equal(buf_put_u8(&b, 0), EPH_OK);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_ERR_TRAILING);
	buf_free(&b);
	/* A P-256 point OpenSSH refuses, in an sk-ecdsa key. */
	n = tu_ec_weak_point("prime256v1", 5, 0, pt, sizeof(pt));
	weak = tu_ec_unchecked_key(KEY_ECDSA_P256, "prime256v1", pt, n, NULL);
	buf_init(&b);
	assert_int_equal(tu_sk_blob(weak, "ssh:", &b), KEY_SK_ECDSA_P256);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_ERR_FORMAT);
	assert_null(k);
	buf_free(&b);
	key_free(weak);
	key_free(ed);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_parse_keygen_keys, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_generate_save_load, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_signature_tamper),
	    cmocka_unit_test(test_rsa_algorithms),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_bad_ecdsa_point),
	    cmocka_unit_test_setup_teardown(
	        test_private_file_checks, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_private_fields),
	    cmocka_unit_test_setup_teardown(
	        test_ec_point_openssh_checks, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_ec_private_openssh_checks, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_sk_keys, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_sk_bad_blobs),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}

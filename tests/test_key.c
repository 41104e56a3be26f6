/* Tests for OpenSSH keys: blobs, lines and fingerprints against
 * ssh-keygen, signatures, and PKCS#8 private key files. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}

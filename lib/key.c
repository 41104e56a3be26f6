/* OpenSSH key types on OpenSSL 3: wire encodings, signatures, key files.
 * FIDO (sk-) keys are public only: parsed, encoded and fingerprinted. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "b64.h"
#include "err.h"
#include "fileio.h"
#include "key.h"
#include "util.h"

#define ED25519_PK_LEN 32
#define ED25519_SK_LEN 64 /* seed || public, as OpenSSH stores it */
#define ED25519_SIG_LEN 64
#define PUBLINE_MAX (1024u * 1024u) /* a certificate line, CERT_MAX_SIZE in base64 */
#define KEYFILE_MAX (64u * 1024u)

struct key_info {
	enum key_type type;
	const char *name;
	const char *cert_name;
	const char *curve; /* SSH curve name (ECDSA) */
	const char *ossl_group; /* OpenSSL group name (ECDSA) */
	const char *cli; /* NULL: not a type anything here generates */
	unsigned bits;
};

static const struct key_info key_infos[] = {
    {KEY_ED25519, "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", NULL, NULL, "ed25519", 256},
    {KEY_ECDSA_P256, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com", "nistp256",
        "prime256v1", "ecdsa", 256},
    {KEY_ECDSA_P384, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com", "nistp384",
        "secp384r1", "ecdsa-p384", 384},
    {KEY_ECDSA_P521, "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com", "nistp521",
        "secp521r1", "ecdsa-p521", 521},
    {KEY_RSA, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", NULL, NULL, "rsa", 0},
    {KEY_SK_ED25519, "sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com", NULL,
        NULL, NULL, 256},
    {KEY_SK_ECDSA_P256, "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "nistp256", "prime256v1", NULL, 256},
};

static const struct key_info *
info_of(enum key_type t)
{
	size_t i;

	for (i = 0; i < sizeof(key_infos) / sizeof(key_infos[0]); i++)
		if (key_infos[i].type == t)
			return &key_infos[i];
	return NULL;
}

static int
is_ecdsa(enum key_type t)
{
	return t == KEY_ECDSA_P256 || t == KEY_ECDSA_P384 || t == KEY_ECDSA_P521;
}

int
key_type_is_sk(enum key_type t)
{
	return t == KEY_SK_ED25519 || t == KEY_SK_ECDSA_P256;
}

/* An EC point to validate: plain ECDSA or FIDO ECDSA. */
static int
has_ec_point(enum key_type t)
{
	return is_ecdsa(t) || t == KEY_SK_ECDSA_P256;
}

const char *
key_type_name(enum key_type t)
{
	const struct key_info *ki = info_of(t);

	return ki == NULL ? "unknown" : ki->name;
}

const char *
key_cert_type_name(enum key_type t)
{
	const struct key_info *ki = info_of(t);

	return ki == NULL ? "unknown" : ki->cert_name;
}

enum key_type
key_type_from_name(const char *name, int *is_cert)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(key_infos) / sizeof(key_infos[0]); i++) {
		if (strcmp(name, key_infos[i].name) == 0) {
			if (is_cert != NULL)
				*is_cert = 0;
			return key_infos[i].type;
		}
		if (strcmp(name, key_infos[i].cert_name) == 0) {
			if (is_cert != NULL)
				*is_cert = 1;
			return key_infos[i].type;
		}
	}
	return KEY_UNSPEC;
}

enum key_type
key_type_from_string(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(key_infos) / sizeof(key_infos[0]); i++)
		if (key_infos[i].cli != NULL && strcmp(s, key_infos[i].cli) == 0)
			return key_infos[i].type;
	if (s != NULL && strcmp(s, "ecdsa-p256") == 0)
		return KEY_ECDSA_P256;
	return KEY_UNSPEC;
}

const char *
key_default_sig_alg(enum key_type t)
{
	if (key_type_is_sk(t) || info_of(t) == NULL)
		return NULL;
	return t == KEY_RSA ? "rsa-sha2-512" : key_type_name(t);
}

unsigned
key_bits(const struct key *k)
{
	const struct key_info *ki;
	int bits;

	if (k == NULL || (ki = info_of(k->type)) == NULL)
		return 0;
	if (k->type != KEY_RSA)
		return k->type == KEY_ED25519 ? 256 : ki->bits;
	bits = EVP_PKEY_get_bits(k->pkey);
	return bits < 0 ? 0 : (unsigned)bits;
}

static struct key *
key_wrap(enum key_type t, EVP_PKEY *pkey, int has_private)
{
	struct key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->type = t;
	k->pkey = pkey;
	k->has_private = has_private;
	return k;
}

void
key_free(struct key *k)
{
	if (k == NULL)
		return;
	/* EVP_PKEY_free clears the private material it owns. */
	EVP_PKEY_free(k->pkey);
	free(k->sk_application);
	free(k);
}

int
key_generate(enum key_type t, unsigned bits, struct key **out)
{
	const struct key_info *ki = info_of(t);
	EVP_PKEY *pkey = NULL;
	int r = EPH_ERR_CRYPTO;

	*out = NULL;
	if (ki == NULL || key_type_is_sk(t))
		return EPH_ERR_KEYTYPE;
	if (t == KEY_RSA) {
		if (bits == 0)
			bits = 3072;
		if (bits < KEY_RSA_MIN_GEN_BITS || bits > KEY_RSA_MAX_BITS)
			return EPH_ERR_WEAKKEY;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (t == KEY_ED25519) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ki->ossl_group);
	}
	if (pkey == NULL)
		goto out;
	if ((*out = key_wrap(t, pkey, 1)) == NULL) {
		EVP_PKEY_free(pkey);
		r = EPH_ERR_NOMEM;
		goto out;
	}
	r = EPH_OK;
out:
	return r;
}

/* ---------------------------------------------------------------- wire */

static int
get_bn(const EVP_PKEY *pkey, const char *param, BIGNUM **bn)
{
	*bn = NULL;
	return EVP_PKEY_get_bn_param(pkey, param, bn) == 1 ? EPH_OK : EPH_ERR_CRYPTO;
}

static int
put_bn_param(struct buf *b, const EVP_PKEY *pkey, const char *param)
{
	BIGNUM *bn = NULL;
	int r;

	if ((r = get_bn(pkey, param, &bn)) != EPH_OK)
		return r;
	r = buf_put_bignum2(b, bn);
	BN_clear_free(bn);
	return r;
}

static int
put_ec_point(struct buf *b, const EVP_PKEY *pkey)
{
	uint8_t pt[1 + 2 * 66];
	size_t n = 0;

	if (EVP_PKEY_get_octet_string_param(
	        pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &n) != 1)
		return EPH_ERR_CRYPTO;
	return buf_put_string(b, pt, n);
}

int
key_put_public_fields(const struct key *k, struct buf *b)
{
	const struct key_info *ki;
	uint8_t pk[ED25519_PK_LEN];
	size_t n = sizeof(pk);
	int r;

	if (k == NULL || k->pkey == NULL)
		return EPH_ERR_INVAL;
	if ((ki = info_of(k->type)) == NULL)
		return EPH_ERR_KEYTYPE;
	if (key_type_is_sk(k->type) && k->sk_application == NULL)
		return EPH_ERR_INVAL;
	switch (k->type) {
	case KEY_ED25519:
	case KEY_SK_ED25519:
		if (EVP_PKEY_get_raw_public_key(k->pkey, pk, &n) != 1 || n != sizeof(pk))
			return EPH_ERR_CRYPTO;
		if ((r = buf_put_string(b, pk, n)) != EPH_OK || k->type == KEY_ED25519)
			return r;
		return buf_put_cstring(b, k->sk_application);
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384:
	case KEY_ECDSA_P521:
	case KEY_SK_ECDSA_P256:
		if ((r = buf_put_cstring(b, ki->curve)) != EPH_OK ||
		    (r = put_ec_point(b, k->pkey)) != EPH_OK || !key_type_is_sk(k->type))
			return r;
		return buf_put_cstring(b, k->sk_application);
	case KEY_RSA:
		if ((r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_E)) != EPH_OK)
			return r;
		return put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_N);
	default: return EPH_ERR_KEYTYPE;
	}
}

int
key_put_public(const struct key *k, struct buf *b)
{
	int r;

	if (k == NULL)
		return EPH_ERR_INVAL;
	if ((r = buf_put_cstring(b, key_type_name(k->type))) != EPH_OK)
		return r;
	return key_put_public_fields(k, b);
}

/* Build a public EVP_PKEY of algorithm alg from OSSL_PARAMs and check it. */
static int
pkey_fromdata(const char *alg, OSSL_PARAM_BLD *bld, int selection, EVP_PKEY **out)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY_CTX *check = NULL;
	int r = EPH_ERR_CRYPTO;

	*out = NULL;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, selection, params) != 1) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	/*
	 * Reject points off the curve or outside the group (the full check,
	 * as OpenSSH validates EC keys) and malformed RSA values. For RSA the
	 * quick check: the full one tests n for primality, costing
	 * milliseconds per key for nothing OpenSSH asks.
	 */
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) == NULL)
		goto out;
	if ((strcmp(alg, "RSA") == 0 ? EVP_PKEY_public_check_quick(check)
	                             : EVP_PKEY_public_check(check)) != 1) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	r = EPH_OK;
out:
	if (r != EPH_OK) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	ERR_clear_error();
	return r;
}

static int
get_rsa_public(struct buf *b, EVP_PKEY **out)
{
	BIGNUM *e = NULL, *n = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int r;

	if ((r = buf_get_bignum2(b, &e, KEY_RSA_MAX_BITS / 8)) != EPH_OK ||
	    (r = buf_get_bignum2(b, &n, KEY_RSA_MAX_BITS / 8)) != EPH_OK)
		goto out;
	if (BN_num_bits(n) < KEY_RSA_MIN_BITS) {
		r = EPH_ERR_WEAKKEY;
		goto out;
	}
	if (BN_is_zero(e) || !BN_is_odd(e) || BN_num_bits(e) > 64) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	r = EPH_ERR_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	r = pkey_fromdata("RSA", bld, EVP_PKEY_PUBLIC_KEY, out);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	BN_free(n);
	return r;
}

/*
 * What OpenSSH 9.2 demands of every EC public key it reads, certificates'
 * keys included (sshkey_ec_validate_public): on the curve, not the point
 * at infinity, order * Q at infinity, and each coordinate longer than half
 * the order's bits and below order - 1. OpenSSL's key check passes points
 * with small coordinates or with x >= order; ssh-keygen and sshd refuse
 * them, so a certificate for one would be useless.
 */
static int
ec_validate_point(const struct key_info *ki, const uint8_t *pt, size_t n)
{
	EC_GROUP *group = NULL;
	EC_POINT *q = NULL, *nq = NULL;
	BN_CTX *ctx = NULL;
	BIGNUM *x, *y, *lim;
	const BIGNUM *order;
	int half, r = EPH_ERR_NOMEM;

	if (ki == NULL)
		return EPH_ERR_KEYTYPE;
	if ((ctx = BN_CTX_new()) == NULL)
		goto out;
	BN_CTX_start(ctx);
	x = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	if ((lim = BN_CTX_get(ctx)) == NULL)
		goto out;
	r = EPH_ERR_CRYPTO;
	if ((group = EC_GROUP_new_by_curve_name(OBJ_sn2nid(ki->ossl_group))) == NULL ||
	    (q = EC_POINT_new(group)) == NULL || (nq = EC_POINT_new(group)) == NULL ||
	    (order = EC_GROUP_get0_order(group)) == NULL || BN_copy(lim, order) == NULL ||
	    BN_sub_word(lim, 1) != 1)
		goto out;
	half = BN_num_bits(order) / 2;
	r = EPH_ERR_FORMAT;
	/* oct2point refuses points off the curve and coordinates >= p. */
	if (EC_POINT_oct2point(group, q, pt, n, ctx) != 1 || EC_POINT_is_at_infinity(group, q) ||
	    EC_POINT_get_affine_coordinates(group, q, x, y, ctx) != 1)
		goto out;
	if (BN_num_bits(x) <= half || BN_num_bits(y) <= half)
		goto out;
	if (BN_cmp(x, lim) >= 0 || BN_cmp(y, lim) >= 0)
		goto out;
	if (EC_POINT_mul(group, nq, NULL, q, order, ctx) != 1 ||
	    EC_POINT_is_at_infinity(group, nq) != 1)
		goto out;
	r = EPH_OK;
out:
	EC_POINT_free(nq);
	EC_POINT_free(q);
	EC_GROUP_free(group);
	if (ctx != NULL)
		BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* An EC private scalar as OpenSSH 9.2 accepts one: longer than half the
 * order's bits and below order - 1 (sshkey_ec_validate_private). */
static int
ec_validate_private(const struct key_info *ki, const EVP_PKEY *pkey)
{
	EC_GROUP *group = NULL;
	BIGNUM *d = NULL, *lim = NULL;
	const BIGNUM *order;
	int r = EPH_ERR_CRYPTO;

	if (ki == NULL)
		return EPH_ERR_KEYTYPE;
	if ((group = EC_GROUP_new_by_curve_name(OBJ_sn2nid(ki->ossl_group))) == NULL ||
	    (order = EC_GROUP_get0_order(group)) == NULL || (lim = BN_dup(order)) == NULL ||
	    BN_sub_word(lim, 1) != 1 || get_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != EPH_OK)
		goto out;
	r = EPH_ERR_WEAKKEY;
	if (BN_num_bits(d) <= BN_num_bits(order) / 2 || BN_cmp(d, lim) >= 0)
		goto out;
	r = EPH_OK;
out:
	BN_clear_free(d);
	BN_free(lim);
	EC_GROUP_free(group);
	ERR_clear_error();
	return r;
}

int
key_check_public(const struct key *k)
{
	uint8_t pt[1 + 2 * 66];
	size_t n = 0;

	if (k == NULL || k->pkey == NULL)
		return EPH_ERR_INVAL;
	if (!has_ec_point(k->type))
		return EPH_OK;
	if (EVP_PKEY_get_octet_string_param(
	        k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &n) != 1) {
		ERR_clear_error();
		return EPH_ERR_CRYPTO;
	}
	return ec_validate_point(info_of(k->type), pt, n);
}

static int
get_ec_public(enum key_type t, struct buf *b, EVP_PKEY **out)
{
	const struct key_info *ki = info_of(t);
	const uint8_t *pt;
	size_t n;
	OSSL_PARAM_BLD *bld = NULL;
	int r;

	if (ki == NULL)
		return EPH_ERR_KEYTYPE;
	if ((r = buf_get_expect_cstring(b, ki->curve)) != EPH_OK)
		return r;
	if ((r = buf_get_string(b, &pt, &n, 1 + 2 * 66)) != EPH_OK)
		return r;
	/* Uncompressed points only, of exactly the curve's size. */
	if (n != 1 + 2 * ((ki->bits + 7) / 8) || pt[0] != 0x04)
		return EPH_ERR_FORMAT;
	if ((r = ec_validate_point(ki, pt, n)) != EPH_OK)
		return r;
	r = EPH_ERR_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ki->ossl_group, 0) !=
	        1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, n) != 1)
		goto out;
	r = pkey_fromdata("EC", bld, EVP_PKEY_PUBLIC_KEY, out);
out:
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int
key_get_public_fields(enum key_type t, struct buf *b, struct key **out)
{
	EVP_PKEY *pkey = NULL;
	const uint8_t *pk;
	size_t n;
	int r;

	*out = NULL;
	switch (t) {
	case KEY_ED25519:
	case KEY_SK_ED25519:
		if ((r = buf_get_string(b, &pk, &n, ED25519_PK_LEN)) != EPH_OK)
			return r;
		if (n != ED25519_PK_LEN)
			return EPH_ERR_FORMAT;
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, n);
		if (pkey == NULL)
			return EPH_ERR_FORMAT;
		break;
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384:
	case KEY_ECDSA_P521:
	case KEY_SK_ECDSA_P256:
		if ((r = get_ec_public(t, b, &pkey)) != EPH_OK)
			return r;
		break;
	case KEY_RSA:
		if ((r = get_rsa_public(b, &pkey)) != EPH_OK)
			return r;
		break;
	default: return EPH_ERR_KEYTYPE;
	}
	if ((*out = key_wrap(t, pkey, 0)) == NULL) {
		EVP_PKEY_free(pkey);
		return EPH_ERR_NOMEM;
	}
	/* A FIDO key ends with the application it was made for; OpenSSH
	 * takes any string without a NUL ("ssh:" unless told otherwise). */
	if (key_type_is_sk(t) &&
	    (r = buf_get_cstring(b, &(*out)->sk_application, KEY_SK_APPLICATION_MAX)) != EPH_OK) {
		key_free(*out);
		*out = NULL;
		return r;
	}
	return EPH_OK;
}

int
key_from_blob(const uint8_t *d, size_t n, struct key **out)
{
	struct buf b;
	char *name = NULL;
	enum key_type t;
	int r, is_cert = 0;

	*out = NULL;
	if (n > KEY_BLOB_MAX)
		return EPH_ERR_TOOLARGE;
	buf_init_view(&b, d, n);
	if ((r = buf_get_cstring(&b, &name, 64)) != EPH_OK)
		goto out;
	if ((t = key_type_from_name(name, &is_cert)) == KEY_UNSPEC || is_cert) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = key_get_public_fields(t, &b, out)) != EPH_OK)
		goto out;
	if (buf_remaining(&b) != 0) {
		key_free(*out);
		*out = NULL;
		r = EPH_ERR_TRAILING;
		goto out;
	}
	r = EPH_OK;
out:
	free(name);
	return r;
}

int
key_dup_public(const struct key *k, struct key **out)
{
	*out = NULL;
	if (k == NULL || k->pkey == NULL)
		return EPH_ERR_INVAL;
	/*
	 * Share the OpenSSL object instead of re-importing it: importing costs
	 * as much as a quarter of an Ed25519 signature, and the CA does this
	 * for every certificate. The new handle has has_private = 0, so
	 * nothing signs or exports secrets through it; the secret itself is
	 * freed with the last reference.
	 */
	if (EVP_PKEY_up_ref(k->pkey) != 1)
		return EPH_ERR_CRYPTO;
	if ((*out = key_wrap(k->type, k->pkey, 0)) == NULL) {
		EVP_PKEY_free(k->pkey);
		return EPH_ERR_NOMEM;
	}
	if (k->sk_application != NULL &&
	    ((*out)->sk_application = strdup(k->sk_application)) == NULL) {
		key_free(*out);
		*out = NULL;
		return EPH_ERR_NOMEM;
	}
	return EPH_OK;
}

int
key_equal_public(const struct key *a, const struct key *b)
{
	struct buf ba, bb;
	int eq = 0;

	if (a == NULL || b == NULL || a->type != b->type)
		return 0;
	buf_init(&ba);
	buf_init(&bb);
	if (key_put_public(a, &ba) == EPH_OK && key_put_public(b, &bb) == EPH_OK)
		eq = ba.len == bb.len && memcmp(ba.d, bb.d, ba.len) == 0;
	buf_free(&ba);
	buf_free(&bb);
	return eq;
}

int
key_put_private_fields(const struct key *k, struct buf *b, int for_cert)
{
	uint8_t sk[ED25519_SK_LEN];
	size_t n;
	int r = EPH_ERR_INVAL;

	if (k == NULL || !k->has_private)
		return EPH_ERR_INVAL;
	switch (k->type) {
	case KEY_ED25519:
		/* OpenSSH's 64-byte secret is seed || public key. */
		n = 32;
		if (EVP_PKEY_get_raw_private_key(k->pkey, sk, &n) != 1 || n != 32) {
			r = EPH_ERR_CRYPTO;
			break;
		}
		n = 32;
		if (EVP_PKEY_get_raw_public_key(k->pkey, sk + 32, &n) != 1 || n != 32) {
			r = EPH_ERR_CRYPTO;
			break;
		}
		if ((r = buf_put_string(b, sk + 32, 32)) != EPH_OK)
			break;
		r = buf_put_string(b, sk, sizeof(sk));
		break;
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384:
	case KEY_ECDSA_P521:
		if (!for_cert && (r = key_put_public_fields(k, b)) != EPH_OK)
			break;
		r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_PRIV_KEY);
		break;
	case KEY_RSA:
		if (!for_cert &&
		    ((r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_N)) != EPH_OK ||
		        (r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_E)) != EPH_OK))
			break;
		if ((r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_D)) != EPH_OK ||
		    (r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1)) != EPH_OK ||
		    (r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1)) != EPH_OK)
			break;
		r = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR2);
		break;
	default: r = EPH_ERR_KEYTYPE;
	}
	eph_wipe(sk, sizeof(sk));
	return r;
}

/* --------------------------------------------------------- fingerprints */

int
fingerprint_sha256(const uint8_t *blob, size_t n, char **out)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	char *b64 = NULL, *s = NULL, *p;
	int r = EPH_ERR_CRYPTO;

	*out = NULL;
	if (EVP_Digest(blob, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		goto out;
	r = EPH_ERR_NOMEM;
	if ((b64 = b64_encode(md, mdlen)) == NULL)
		goto out;
	if ((p = strchr(b64, '=')) != NULL)
		*p = '\0';
	if ((s = malloc(strlen(b64) + 8)) == NULL)
		goto out;
	strcpy(s, "SHA256:");
	strcat(s, b64);
	*out = s;
	r = EPH_OK;
out:
	free(b64);
	return r;
}

int
key_fingerprint(const struct key *k, char **out)
{
	struct buf b;
	int r;

	*out = NULL;
	buf_init(&b);
	if ((r = key_put_public(k, &b)) == EPH_OK)
		r = fingerprint_sha256(b.d, b.len, out);
	buf_free(&b);
	return r;
}

/* ----------------------------------------------------------- signatures */

static const EVP_MD *
sig_md(enum key_type t, const char *alg)
{
	switch (t) {
	case KEY_ED25519: return NULL;
	case KEY_ECDSA_P256: return EVP_sha256();
	case KEY_ECDSA_P384: return EVP_sha384();
	case KEY_ECDSA_P521: return EVP_sha512();
	case KEY_RSA: return strcmp(alg, "rsa-sha2-256") == 0 ? EVP_sha256() : EVP_sha512();
	default: return NULL;
	}
}

/* The algorithm name, normalised to a static string, or NULL if the key
 * cannot make or check that kind of signature. */
static const char *
sig_alg_for(enum key_type t, const char *alg)
{
	if (t == KEY_RSA) {
		if (strcmp(alg, "rsa-sha2-512") == 0)
			return "rsa-sha2-512";
		if (strcmp(alg, "rsa-sha2-256") == 0)
			return "rsa-sha2-256";
		return NULL;
	}
	if (info_of(t) != NULL && strcmp(alg, key_type_name(t)) == 0)
		return key_type_name(t);
	return NULL;
}

int
key_sign(const struct key *k, const char *alg, const uint8_t *data, size_t n, struct buf *sig)
{
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *esig = NULL;
	const char *salg;
	const BIGNUM *er, *es;
	const unsigned char *pp;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	struct buf inner;
	int r = EPH_ERR_CRYPTO;

	buf_init(&inner);
	if (k != NULL && key_type_is_sk(k->type))
		return EPH_ERR_KEYTYPE;
	if (k == NULL || !k->has_private || sig == NULL)
		return EPH_ERR_INVAL;
	if (alg == NULL && (alg = key_default_sig_alg(k->type)) == NULL)
		return EPH_ERR_KEYTYPE;
	if ((salg = sig_alg_for(k->type, alg)) == NULL)
		return strcmp(alg, "ssh-rsa") == 0 ? EPH_ERR_WEAKKEY : EPH_ERR_KEYTYPE;
	alg = salg;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, sig_md(k->type, alg), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &rawlen, data, n) != 1)
		goto out;
	if ((raw = malloc(rawlen)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, raw, &rawlen, data, n) != 1)
		goto out;
	if (is_ecdsa(k->type)) {
		pp = raw;
		if ((esig = d2i_ECDSA_SIG(NULL, &pp, (long)rawlen)) == NULL)
			goto out;
		ECDSA_SIG_get0(esig, &er, &es);
		if ((r = buf_put_bignum2(&inner, er)) != EPH_OK ||
		    (r = buf_put_bignum2(&inner, es)) != EPH_OK)
			goto out;
	} else if ((r = buf_put(&inner, raw, rawlen)) != EPH_OK) {
		goto out;
	}
	if ((r = buf_put_cstring(sig, alg)) != EPH_OK ||
	    (r = buf_put_stringb(sig, &inner)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	ECDSA_SIG_free(esig);
	free(raw);
	buf_free(&inner);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* SSH ECDSA signature (mpint r, mpint s) to DER for OpenSSL. */
static int
ecdsa_sig_to_der(enum key_type t, const uint8_t *p, size_t n, uint8_t **der, size_t *derlen)
{
	struct buf b;
	BIGNUM *br = NULL, *bs = NULL;
	ECDSA_SIG *esig = NULL;
	unsigned char *out = NULL;
	const struct key_info *ki = info_of(t);
	size_t maxb;
	int len, r;

	*der = NULL;
	if (ki == NULL)
		return EPH_ERR_KEYTYPE;
	maxb = (ki->bits + 7) / 8;
	buf_init_view(&b, p, n);
	if ((r = buf_get_bignum2(&b, &br, maxb)) != EPH_OK ||
	    (r = buf_get_bignum2(&b, &bs, maxb)) != EPH_OK)
		goto out;
	if (buf_remaining(&b) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	r = EPH_ERR_NOMEM;
	if ((esig = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(esig, br, bs) != 1)
		goto out;
	br = bs = NULL;
	if ((len = i2d_ECDSA_SIG(esig, &out)) <= 0)
		goto out;
	*der = out;
	*derlen = (size_t)len;
	r = EPH_OK;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(esig);
	return r;
}

int
key_verify(const struct key *k, const uint8_t *sig, size_t siglen, const uint8_t *data, size_t n,
    const char **alg_out)
{
	struct buf b;
	char *alg = NULL;
	const char *salg;
	const uint8_t *raw;
	size_t rawlen, modlen;
	uint8_t *der = NULL, *padded = NULL;
	EVP_MD_CTX *ctx = NULL;
	int r;

	if (k == NULL || sig == NULL)
		return EPH_ERR_INVAL;
	if (key_type_is_sk(k->type))
		return EPH_ERR_KEYTYPE;
	buf_init_view(&b, sig, siglen);
	if ((r = buf_get_cstring(&b, &alg, 64)) != EPH_OK)
		goto out;
	if ((salg = sig_alg_for(k->type, alg)) == NULL) {
		r = strcmp(alg, "ssh-rsa") == 0 ? EPH_ERR_WEAKKEY : EPH_ERR_SIGNATURE;
		goto out;
	}
	if ((r = buf_get_string(&b, &raw, &rawlen, KEY_RSA_MAX_BITS / 8)) != EPH_OK)
		goto out;
	if (buf_remaining(&b) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	if (k->type == KEY_ED25519 && rawlen != ED25519_SIG_LEN) {
		r = EPH_ERR_SIGNATURE;
		goto out;
	}
	if (is_ecdsa(k->type)) {
		if ((r = ecdsa_sig_to_der(k->type, raw, rawlen, &der, &rawlen)) != EPH_OK)
			goto out;
		raw = der;
	}
	if (k->type == KEY_RSA) {
		/* Like OpenSSH, accept a signature shorter than the modulus
		 * by left-padding it; never a longer one. */
		modlen = (key_bits(k) + 7) / 8;
		if (rawlen > modlen || rawlen == 0) {
			r = EPH_ERR_SIGNATURE;
			goto out;
		}
		if (rawlen < modlen) {
			if ((padded = calloc(1, modlen)) == NULL) {
				r = EPH_ERR_NOMEM;
				goto out;
			}
			memcpy(padded + modlen - rawlen, raw, rawlen);
			raw = padded;
			rawlen = modlen;
		}
	}
	r = EPH_ERR_CRYPTO;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, sig_md(k->type, salg), NULL, k->pkey) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, raw, rawlen, data, n) != 1) {
		r = EPH_ERR_SIGNATURE;
		goto out;
	}
	if (alg_out != NULL)
		*alg_out = salg;
	r = EPH_OK;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	free(padded);
	free(alg);
	ERR_clear_error();
	return r;
}

/* ------------------------------------------------------------ key lines */

int
key_format_public_line(const struct key *k, const char *comment, char **out)
{
	struct buf b, line;
	char *b64 = NULL;
	int r;

	*out = NULL;
	buf_init(&b);
	buf_init(&line);
	if ((r = key_put_public(k, &b)) != EPH_OK)
		goto out;
	if ((b64 = b64_encode(b.d, b.len)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r = buf_put(&line, key_type_name(k->type), strlen(key_type_name(k->type)))) !=
	        EPH_OK ||
	    (r = buf_put(&line, " ", 1)) != EPH_OK ||
	    (r = buf_put(&line, b64, strlen(b64))) != EPH_OK)
		goto out;
	if (comment != NULL && *comment != '\0' &&
	    ((r = buf_put(&line, " ", 1)) != EPH_OK ||
	        (r = buf_put(&line, comment, strlen(comment))) != EPH_OK))
		goto out;
	if ((r = buf_put_u8(&line, 0)) != EPH_OK)
		goto out;
	*out = (char *)line.d;
	buf_init(&line);
	r = EPH_OK;
out:
	free(b64);
	buf_free(&b);
	buf_free(&line);
	return r;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
publine_parse(const char *line, char **type_out, struct buf *blob, char **comment_out)
{
	const char *p, *t0, *b0, *c0, *end;
	size_t tlen, blen, start = blob->len;
	char *type = NULL, *comment = NULL;
	struct buf view;
	int r;

	*type_out = NULL;
	if (comment_out != NULL)
		*comment_out = NULL;
	if (line == NULL)
		return EPH_ERR_INVAL;
	if (strlen(line) > PUBLINE_MAX)
		return EPH_ERR_TOOLARGE;
	for (p = line; is_space(*p); p++)
		;
	for (t0 = p; *p != '\0' && !is_space(*p); p++)
		;
	tlen = (size_t)(p - t0);
	for (; *p == ' ' || *p == '\t'; p++)
		;
	for (b0 = p; *p != '\0' && !is_space(*p); p++)
		;
	blen = (size_t)(p - b0);
	for (; *p == ' ' || *p == '\t'; p++)
		;
	c0 = p;
	end = c0 + strlen(c0);
	while (end > c0 && is_space(end[-1]))
		end--;
	if (tlen == 0 || blen == 0 || tlen > 64)
		return EPH_ERR_FORMAT;
	/* One line only: a newline may end it, nothing may follow. */
	for (p = c0; p < end; p++)
		if (*p == '\n' || *p == '\r' || *p == '\0')
			return EPH_ERR_FORMAT;
	if ((type = strndup(t0, tlen)) == NULL)
		return EPH_ERR_NOMEM;
	if ((r = b64_decode(b0, blen, blob)) != EPH_OK)
		goto out;
	buf_init_view(&view, blob->d + start, blob->len - start);
	if ((r = buf_get_expect_cstring(&view, type)) != EPH_OK) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if (comment_out != NULL && end > c0 &&
	    (comment = strndup(c0, (size_t)(end - c0))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	*type_out = type;
	type = NULL;
	if (comment_out != NULL)
		*comment_out = comment;
	comment = NULL;
	r = EPH_OK;
out:
	if (r != EPH_OK)
		blob->len = start;
	free(type);
	free(comment);
	return r;
}

int
key_parse_public_line(const char *line, struct key **out, char **comment_out)
{
	struct buf blob;
	char *type = NULL, *comment = NULL;
	int r, is_cert = 0;

	*out = NULL;
	if (comment_out != NULL)
		*comment_out = NULL;
	buf_init(&blob);
	if ((r = publine_parse(line, &type, &blob, &comment)) != EPH_OK)
		goto out;
	if (key_type_from_name(type, &is_cert) == KEY_UNSPEC || is_cert) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = key_from_blob(blob.d, blob.len, out)) != EPH_OK)
		goto out;
	if (comment_out != NULL) {
		*comment_out = comment;
		comment = NULL;
	}
	r = EPH_OK;
out:
	free(type);
	free(comment);
	buf_free(&blob);
	return r;
}

int
publine_load(const char *path, size_t max, char **line_out)
{
	struct buf b;
	char *text, *line, *nl;
	int r;

	*line_out = NULL;
	buf_init(&b);
	if ((r = file_read_all(path, max, 0, &b)) != EPH_OK)
		goto out;
	if (memchr(b.d, '\0', b.len) != NULL) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_put_u8(&b, 0)) != EPH_OK)
		goto out;
	text = (char *)b.d;
	r = EPH_ERR_NOTFOUND;
	for (line = text; *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		while (is_space(*line))
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if ((*line_out = strdup(line)) == NULL)
			r = EPH_ERR_NOMEM;
		else
			r = EPH_OK;
		break;
	}
out:
	buf_free(&b);
	return r;
}

int
key_load_public(const char *path, struct key **out, char **comment_out)
{
	char *line = NULL;
	int r;

	*out = NULL;
	if (comment_out != NULL)
		*comment_out = NULL;
	if ((r = publine_load(path, KEYFILE_MAX, &line)) != EPH_OK)
		return r;
	r = key_parse_public_line(line, out, comment_out);
	free(line);
	return r;
}

/* -------------------------------------------------------- private files */

/* Never prompt: an encrypted key file is an error here. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int
key_type_of_pkey(EVP_PKEY *pkey, enum key_type *t)
{
	char group[64];
	size_t i, n = 0;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519: *t = KEY_ED25519; return EPH_OK;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pkey) < KEY_RSA_MIN_GEN_BITS)
			return EPH_ERR_WEAKKEY;
		*t = KEY_RSA;
		return EPH_OK;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(
		        pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &n) != 1)
			return EPH_ERR_KEYTYPE;
		for (i = 0; i < sizeof(key_infos) / sizeof(key_infos[0]); i++) {
			if (key_infos[i].ossl_group != NULL && !key_type_is_sk(key_infos[i].type) &&
			    strcmp(group, key_infos[i].ossl_group) == 0) {
				*t = key_infos[i].type;
				return EPH_OK;
			}
		}
		return EPH_ERR_KEYTYPE;
	default: return EPH_ERR_KEYTYPE;
	}
}

int
key_load_private(const char *path, struct key **out)
{
	struct buf b;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	enum key_type t;
	int r;

	*out = NULL;
	buf_init(&b);
	if ((r = file_read_all(path, KEYFILE_MAX, FILE_CHECK_SECRET, &b)) != EPH_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(b.d, (int)b.len)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = key_type_of_pkey(pkey, &t)) != EPH_OK)
		goto out;
	if (is_ecdsa(t) && (r = ec_validate_private(info_of(t), pkey)) != EPH_OK)
		goto out;
	if ((*out = key_wrap(t, pkey, 1)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	pkey = NULL;
	/* The public point is read from the file, not derived from the
	 * scalar: hold it to what a parsed key must pass. */
	if ((r = key_check_public(*out)) != EPH_OK) {
		key_free(*out);
		*out = NULL;
		goto out;
	}
	r = EPH_OK;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	buf_free(&b);
	ERR_clear_error();
	return r;
}

int
key_save_private(const struct key *k, const char *path)
{
	BIO *bio = NULL;
	char *pem = NULL;
	long n;
	int r = EPH_ERR_CRYPTO;

	if (k == NULL || !k->has_private)
		return EPH_ERR_INVAL;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	if ((n = BIO_get_mem_data(bio, &pem)) <= 0)
		goto out;
	r = file_write_atomic(path, pem, (size_t)n, 0600, FILE_NO_REPLACE);
out:
	/* A secure-memory BIO wipes its buffer when freed. */
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

/* ------------------------------------------- OpenSSH private key file */

#define OPENSSH_MAGIC "openssh-key-v1"
#define OPENSSH_BLOCK 8 /* the padding block of an unencrypted key */
#define OPENSSH_LINE 70 /* ssh-keygen's line length */

int
key_format_private_openssh(const struct key *k, const char *comment, struct buf *out)
{
	struct buf blob, priv, whole;
	uint32_t check = 0;
	char *text = NULL;
	size_t i, n;
	uint8_t pad;
	int r;

	buf_init(&blob);
	buf_init(&priv);
	buf_init(&whole);
	/* The check word only tells a wrong passphrase; any value serves. */
	if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1) {
		r = EPH_ERR_CRYPTO;
		goto out;
	}
	if ((r = key_put_public(k, &blob)) != EPH_OK)
		goto out;
	if ((r = buf_put_u32(&priv, check)) != EPH_OK ||
	    (r = buf_put_u32(&priv, check)) != EPH_OK ||
	    (r = buf_put_cstring(&priv, key_type_name(k->type))) != EPH_OK ||
	    (r = key_put_private_fields(k, &priv, 0)) != EPH_OK ||
	    (r = buf_put_cstring(&priv, comment != NULL ? comment : "")) != EPH_OK)
		goto out;
	for (pad = 1; priv.len % OPENSSH_BLOCK != 0; pad++)
		if ((r = buf_put_u8(&priv, pad)) != EPH_OK)
			goto out;
	if ((r = buf_put(&whole, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC))) != EPH_OK ||
	    (r = buf_put_cstring(&whole, "none")) != EPH_OK ||
	    (r = buf_put_cstring(&whole, "none")) != EPH_OK ||
	    (r = buf_put_string(&whole, NULL, 0)) != EPH_OK ||
	    (r = buf_put_u32(&whole, 1)) != EPH_OK ||
	    (r = buf_put_stringb(&whole, &blob)) != EPH_OK ||
	    (r = buf_put_stringb(&whole, &priv)) != EPH_OK)
		goto out;
	r = EPH_ERR_NOMEM;
	if ((text = b64_encode(whole.d, whole.len)) == NULL)
		goto out;
	if ((r = buf_put(out, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36)) != EPH_OK)
		goto out;
	n = strlen(text);
	for (i = 0; i < n; i += OPENSSH_LINE)
		if ((r = buf_put(out, text + i, n - i < OPENSSH_LINE ? n - i : OPENSSH_LINE)) !=
		        EPH_OK ||
		    (r = buf_put_u8(out, '\n')) != EPH_OK)
			goto out;
	r = buf_put(out, "-----END OPENSSH PRIVATE KEY-----\n", 34);
out:
	eph_free_secret_str(text);
	buf_free(&blob);
	buf_free(&priv);
	buf_free(&whole);
	return r;
}

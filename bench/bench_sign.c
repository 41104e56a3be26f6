/* Benchmark: certificates signed per second with libephcore, next to raw
 * Ed25519 signatures per second over a message of the same size, both
 * measured in this process. Prints "name value" lines for run-bench.sh. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"

/* A realistic grant@ephssh value, encoded once. */
static struct buf grant_value;

#define BENCH_ROUNDS 5

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
make_cert(const struct key *ca, const struct key *user, uint64_t serial, size_t *signed_len)
{
	struct cert *c = NULL;
	int r;

	if ((r = cert_new(&c)) != EPH_OK)
		return r;
	c->serial = serial;
	c->valid_after = 1700000000;
	c->valid_before = 1700000600;
	if ((r = cert_set_key(c, user)) != EPH_OK ||
	    (r = cert_add_principal(c, "eph:db-maint@db01.example.com")) != EPH_OK ||
	    (r = cert_add_extension(c, "permit-pty", NULL, 0)) != EPH_OK ||
	    (r = cert_add_extension(c, GRANT_EXTENSION, grant_value.d, grant_value.len)) != EPH_OK)
		goto out;
	free(c->key_id);
	if ((c->key_id = strdup("eph:g-0001:alice:db-maint")) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r = cert_sign(c, ca, NULL)) != EPH_OK)
		goto out;
	*signed_len = c->signed_len;
out:
	cert_free(c);
	return r;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	struct key *ca = NULL, *pair = NULL, *user = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *msg = NULL, sig[64];
	size_t signed_len = 0, siglen;
	double t0, t_lib, t_raw, best_lib, best_raw;
	long i, per, round;
	char *approvers[] = {"carol", "dave"};
	struct grant g = {.id = "g-0001",
	    .task = "db-maint",
	    .requester = "alice",
	    .login_as = "postgres",
	    .approvers = approvers,
	    .napprovers = 2,
	    .max_logins = 1};

	buf_init(&grant_value);
	if (grant_set_reason(&g, "INC-4711 vacuum") != EPH_OK ||
	    grant_encode(&g, &grant_value) != EPH_OK) {
		fprintf(stderr, "bench_sign: grant_encode failed\n");
		return 1;
	}
	/* The CA only ever sees the requester's public key. */
	if (n <= 0 || key_generate(KEY_ED25519, 0, &ca) != EPH_OK ||
	    key_generate(KEY_ED25519, 0, &pair) != EPH_OK ||
	    key_dup_public(pair, &user) != EPH_OK) {
		fprintf(stderr, "bench_sign: setup failed\n");
		return 1;
	}
	/* Warm up, and learn how many bytes a certificate signature covers. */
	if (make_cert(ca, user, 1, &signed_len) != EPH_OK) {
		fprintf(stderr, "bench_sign: cert_sign failed\n");
		return 1;
	}
	if ((msg = calloc(1, signed_len)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return 1;
	/*
	 * Interleave rounds of each and keep each one's best, so frequency
	 * scaling and noise from other work hit both sides alike.
	 */
	best_lib = best_raw = 0;
	per = n / BENCH_ROUNDS > 0 ? n / BENCH_ROUNDS : 1;
	for (round = 0; round < BENCH_ROUNDS; round++) {
		t0 = now_sec();
		for (i = 0; i < per; i++)
			if (make_cert(ca, user, (uint64_t)(round * per + i) + 2, &signed_len) !=
			    EPH_OK)
				return 1;
		t_lib = now_sec() - t0;
		t0 = now_sec();
		for (i = 0; i < per; i++) {
			siglen = sizeof(sig);
			msg[0] = (unsigned char)i;
			if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, ca->pkey) != 1 ||
			    EVP_DigestSign(ctx, sig, &siglen, msg, signed_len) != 1)
				return 1;
		}
		t_raw = now_sec() - t0;
		if ((double)per / t_lib > best_lib)
			best_lib = (double)per / t_lib;
		if ((double)per / t_raw > best_raw)
			best_raw = (double)per / t_raw;
	}

	printf("certs %ld\n", n);
	printf("signed_bytes %zu\n", signed_len);
	printf("lib_certs_per_sec %.0f\n", best_lib);
	printf("raw_ed25519_signs_per_sec %.0f\n", best_raw);
	EVP_MD_CTX_free(ctx);
	free(msg);
	key_free(ca);
	key_free(user);
	key_free(pair);
	buf_free(&grant_value);
	return 0;
}

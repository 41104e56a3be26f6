/*
 * Certificates and the grant@ephssh extension, proved against ssh-keygen
 * both ways: certificates we sign must read back through ssh-keygen -L
 * exactly as we meant them, and certificates ssh-keygen signs must parse
 * and verify here. Then tampering, malformed input, validity and grants.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "b64.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "testutil.h"

#define NTYPES 5

static const enum key_type all_types[NTYPES] = {
    KEY_ED25519,
    KEY_ECDSA_P256,
    KEY_ECDSA_P384,
    KEY_ECDSA_P521,
    KEY_RSA,
};

/* Keys made once per group: RSA generation is the slow part. */
struct fixture {
	char *dir;
	struct key *keys[NTYPES]; /* ours, with private halves */
};

static struct fixture fx;

static int
group_setup(void **state)
{
	size_t i;

	fx.dir = tu_mkdtemp();
	for (i = 0; i < NTYPES; i++)
		if (key_generate(all_types[i], all_types[i] == KEY_RSA ? 2048 : 0, &fx.keys[i]) !=
		    EPH_OK)
			return -1;
	*state = &fx;
	return 0;
}

static int
group_teardown(void **state)
{
	size_t i;

	for (i = 0; i < NTYPES; i++) {
		key_free(fx.keys[i]);
		fx.keys[i] = NULL;
	}
	tu_rmrf(fx.dir);
	free(fx.dir);
	fx.dir = NULL;
	return 0;
}

static struct key *
key_of(enum key_type t)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (all_types[i] == t)
			return fx.keys[i];
	fail_msg("no key of type %d", (int)t);
	return NULL;
}

/* How ssh-keygen -L names a key type ("ED25519", "ECDSA", "RSA",
 * "ED25519-SK", "ECDSA-SK"). */
static const char *
label_of(enum key_type t)
{
	switch (t) {
	case KEY_ED25519: return "ED25519";
	case KEY_RSA: return "RSA";
	case KEY_SK_ED25519: return "ED25519-SK";
	case KEY_SK_ECDSA_P256: return "ECDSA-SK";
	default: return "ECDSA";
	}
}

/* ssh-keygen's local-time format; the tests run it with TZ=UTC. */
static void
fmt_time(uint64_t t, char *s, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(gmtime_r(&tt, &tm));
	assert_true(strftime(s, n, "%Y-%m-%dT%H:%M:%S", &tm) > 0);
}

static char *
hex_of(const uint8_t *d, size_t n)
{
	char *s = malloc(n * 2 + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		snprintf(s + i * 2, 3, "%02x", d[i]);
	s[n * 2] = '\0';
	return s;
}

/* Append printf output to a growing string. */
static void cat(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
cat(char **s, const char *fmt, ...)
{
	char *add = NULL, *n = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&add, fmt, ap) >= 0);
	va_end(ap);
	assert_true(asprintf(&n, "%s%s", *s != NULL ? *s : "", add) >= 0);
	free(*s);
	free(add);
	*s = n;
}

static void
write_cert(const struct cert *c, const char *path, const char *comment)
{
	char *line = NULL, *nl = NULL;

	assert_int_equal(cert_format_line(c, comment, &line), EPH_OK);
	assert_true(asprintf(&nl, "%s\n", line) >= 0);
	assert_int_equal(tu_write_file(path, nl, strlen(nl), 0644), 0);
	free(line);
	free(nl);
}

/* What ssh-keygen -L must print for a certificate: built from our own
 * idea of the fields, so any difference is a disagreement. */
static char *
expected_listing(const char *path, const struct cert *c)
{
	char *s = NULL, *kfp = NULL, *cafp = NULL, *hex;
	char from[64], to[64];
	const char *name;
	size_t i;

	assert_int_equal(key_fingerprint(c->key, &kfp), EPH_OK);
	assert_int_equal(key_fingerprint(c->signature_key, &cafp), EPH_OK);
	cat(&s, "%s:\n", path);
	cat(&s, "        Type: %s %s certificate\n", key_cert_type_name(c->key->type),
	    c->type == CERT_TYPE_USER ? "user" : "host");
	cat(&s, "        Public key: %s-CERT %s\n", label_of(c->key->type), kfp);
	cat(&s, "        Signing CA: %s %s (using %s)\n", label_of(c->signature_key->type), cafp,
	    c->sig_alg);
	cat(&s, "        Key ID: \"%s\"\n", c->key_id);
	cat(&s, "        Serial: %llu\n", (unsigned long long)c->serial);
	fmt_time(c->valid_after, from, sizeof(from));
	fmt_time(c->valid_before, to, sizeof(to));
	if (c->valid_after == 0 && c->valid_before == CERT_FOREVER)
		cat(&s, "        Valid: forever\n");
	else if (c->valid_after == 0)
		cat(&s, "        Valid: before %s\n", to);
	else if (c->valid_before == CERT_FOREVER)
		cat(&s, "        Valid: after %s\n", from);
	else
		cat(&s, "        Valid: from %s to %s\n", from, to);
	cat(&s, "        Principals: %s\n", c->nprincipals == 0 ? "(none)" : "");
	for (i = 0; i < c->nprincipals; i++)
		cat(&s, "                %s\n", c->principals[i]);
	cat(&s, "        Critical Options: %s\n", c->ncritical == 0 ? "(none)" : "");
	for (i = 0; i < c->ncritical; i++) {
		const uint8_t *v;
		size_t vn;

		name = c->critical[i].name;
		if (cert_opt_value(&c->critical[i], &v, &vn) == EPH_OK)
			cat(&s, "                %s %.*s\n", name, (int)vn, v);
		else
			cat(&s, "                %s\n", name);
	}
	cat(&s, "        Extensions: %s\n", c->nextensions == 0 ? "(none)" : "");
	for (i = 0; i < c->nextensions; i++) {
		name = c->extensions[i].name;
		if (strncmp(name, "permit-", 7) == 0)
			cat(&s, "                %s\n", name);
		else {
			/* ssh-keygen shows data it does not know as hex. */
			hex = hex_of(c->extensions[i].data, c->extensions[i].len);
			cat(&s, "                %s UNKNOWN OPTION: %s (len %zu)\n", name, hex,
			    c->extensions[i].len);
			free(hex);
		}
	}
	free(kfp);
	free(cafp);
	return s;
}

static void
assert_listing(const char *path, const struct cert *c)
{
	char *out = NULL, *want;
	int rc;

	rc = tu_run(&out, "TZ=UTC '%s' -L -f '%s'", tu_ssh_keygen(), path);
	want = expected_listing(path, c);
	if (rc != 0 || strcmp(out, want) != 0)
		fail_msg(
		    "ssh-keygen -L (rc %d) disagrees.\n--- got\n%s--- want\n%s", rc, out, want);
	free(out);
	free(want);
}

static void
fill_grant(struct grant *g)
{
	static char *approvers[] = {"bob", "carol"};

	memset(g, 0, sizeof(*g));
	g->id = "g-0001";
	g->task = "db-maint";
	g->requester = "alice";
	g->login_as = "postgres";
	g->approvers = approvers;
	g->napprovers = 2;
	g->max_logins = 3;
}

/* A certificate the way the CA makes one. */
static struct cert *
make_cert(const struct key *subj, const struct key *ca, const char *alg)
{
	struct cert *c = NULL;
	struct grant g;
	struct buf gb;
	static const char src[] = "10.0.0.0/8,192.168.1.7,2001:db8::/32";
	static const char cmd[] = "/usr/bin/psql -c vacuum";

	buf_init(&gb);
	fill_grant(&g);
	assert_int_equal(grant_set_reason(&g, "INC-4711 vacuum"), EPH_OK);
	assert_int_equal(grant_encode(&g, &gb), EPH_OK);
	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_set_key(c, subj), EPH_OK);
	c->serial = 0xfedcba9876543210ULL;
	c->key_id = strdup("eph:g-0001:alice:db-maint");
	c->valid_after = 1700000000;
	c->valid_before = 1700000000 + 900;
	assert_int_equal(cert_add_principal(c, "eph:db-maint@db01"), EPH_OK);
	assert_int_equal(cert_add_principal(c, "eph:db-maint@group:db"), EPH_OK);
	/* Added out of order on purpose: the list must come out sorted. */
	assert_int_equal(cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, src, strlen(src)), EPH_OK);
	assert_int_equal(cert_add_critical(c, CERT_OPT_FORCE_COMMAND, cmd, strlen(cmd)), EPH_OK);
	assert_int_equal(cert_add_extension(c, "permit-pty", NULL, 0), EPH_OK);
	assert_int_equal(cert_add_extension(c, GRANT_EXTENSION, gb.d, gb.len), EPH_OK);
	assert_int_equal(cert_sign(c, ca, alg), EPH_OK);
	buf_free(&gb);
	return c;
}

/* ------------------------------------------------ 1: ours -> ssh-keygen */

static void
test_sign_all_types_keygen_lists(void **state)
{
	size_t i, j;
	struct cert *c;
	char *path;

	TU_REQUIRE_SSH_KEYGEN();
	for (i = 0; i < NTYPES; i++) {
		for (j = 0; j < NTYPES; j++) {
			c = make_cert(fx.keys[j], fx.keys[i], NULL);
			assert_string_equal(c->sig_alg,
			    all_types[i] == KEY_RSA ? "rsa-sha2-512" : key_type_name(all_types[i]));
			assert_string_equal(c->critical[0].name, "force-command");
			assert_string_equal(c->critical[1].name, "source-address");
			path = tu_path(fx.dir, "%zu-%zu-cert.pub", i, j);
			write_cert(c, path, "subject");
			assert_listing(path, c);
			free(path);
			cert_free(c);
		}
	}
}

static void
test_sign_rsa_sha256_keygen_lists(void **state)
{
	struct cert *c;
	char *path;

	TU_REQUIRE_SSH_KEYGEN();
	c = make_cert(key_of(KEY_ED25519), key_of(KEY_RSA), "rsa-sha2-256");
	assert_string_equal(c->sig_alg, "rsa-sha2-256");
	path = tu_path(fx.dir, "rsa256-cert.pub");
	write_cert(c, path, NULL);
	assert_listing(path, c);
	free(path);
	cert_free(c);
}

/* Host certificates, no principals, defaults and the open-ended
 * validity spellings ssh-keygen prints. */
static void
test_sign_variants_keygen_lists(void **state)
{
	static const struct {
		uint32_t type;
		uint64_t va, vb;
		int defaults, verify, principals;
	} v[] = {
	    {CERT_TYPE_HOST, 0, CERT_FOREVER, 0, 0, 0},
	    {CERT_TYPE_USER, 0, 1800000000, 1, 1, 1},
	    {CERT_TYPE_USER, 1600000000, CERT_FOREVER, 1, 0, 0},
	    {CERT_TYPE_HOST, 1, 2, 0, 0, 1},
	};
	struct cert *c;
	char *path;
	size_t i;

	TU_REQUIRE_SSH_KEYGEN();
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(cert_new(&c), EPH_OK);
		assert_int_equal(cert_set_key(c, key_of(KEY_ECDSA_P256)), EPH_OK);
		c->type = v[i].type;
		c->valid_after = v[i].va;
		c->valid_before = v[i].vb;
		c->serial = i;
		c->key_id = strdup(i == 0 ? "" : "id with \"quotes\"");
		if (v[i].principals)
			assert_int_equal(cert_add_principal(c, "db01.example"), EPH_OK);
		if (v[i].defaults) {
			assert_int_equal(cert_add_default_extensions(c), EPH_OK);
			/* Idempotent. */
			assert_int_equal(cert_add_default_extensions(c), EPH_OK);
			assert_int_equal(c->nextensions, 5);
		}
		if (v[i].verify)
			assert_int_equal(
			    cert_add_critical(c, CERT_OPT_VERIFY_REQUIRED, NULL, 0), EPH_OK);
		assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_OK);
		path = tu_path(fx.dir, "variant%zu-cert.pub", i);
		write_cert(c, path, "variant");
		assert_listing(path, c);
		free(path);
		cert_free(c);
	}
}

/* Our default extensions are exactly ssh-keygen -s's. */
static void
test_default_extensions_match_keygen(void **state)
{
	struct cert *ours = NULL, *theirs = NULL;
	char *pub = NULL, *path, *ca, *user;
	size_t i;

	TU_REQUIRE_SSH_KEYGEN();
	ca = tu_path(fx.dir, "defca");
	user = tu_path(fx.dir, "defuser");
	assert_int_equal(tu_run(NULL,
	                     "'%s' -q -t ed25519 -N '' -f '%s' && "
	                     "'%s' -q -t ed25519 -N '' -f '%s' && '%s' -q -s '%s' -I x '%s.pub'",
	                     tu_ssh_keygen(), ca, tu_ssh_keygen(), user, tu_ssh_keygen(), ca, user),
	    0);
	path = tu_path(fx.dir, "defuser-cert.pub");
	assert_int_equal(cert_load(path, &theirs, NULL), EPH_OK);
	assert_int_equal(cert_new(&ours), EPH_OK);
	assert_int_equal(cert_add_default_extensions(ours), EPH_OK);
	assert_int_equal(ours->nextensions, theirs->nextensions);
	for (i = 0; i < ours->nextensions; i++) {
		assert_string_equal(ours->extensions[i].name, theirs->extensions[i].name);
		assert_int_equal(theirs->extensions[i].len, 0);
	}
	cert_free(ours);
	cert_free(theirs);
	free(pub);
	free(path);
	free(ca);
	free(user);
}

/* ------------------------------------------------ 2: ssh-keygen -> ours */

static const struct {
	const char *name;
	const char *keygen;
	enum key_type type;
} kg_types[NTYPES] = {
    {"ed25519", "-t ed25519", KEY_ED25519},
    {"p256", "-t ecdsa -b 256", KEY_ECDSA_P256},
    {"p384", "-t ecdsa -b 384", KEY_ECDSA_P384},
    {"p521", "-t ecdsa -b 521", KEY_ECDSA_P521},
    {"rsa", "-t rsa -b 2048", KEY_RSA},
};

/* CA variants: every key type, and RSA with each SHA-2 algorithm. */
static const struct {
	const char *name;
	size_t key;
	const char *flags;
	const char *alg;
} kg_cas[] = {
    {"ed25519", 0, "", "ssh-ed25519"},
    {"p256", 1, "", "ecdsa-sha2-nistp256"},
    {"p384", 2, "", "ecdsa-sha2-nistp384"},
    {"p521", 3, "", "ecdsa-sha2-nistp521"},
    {"rsa", 4, "", "rsa-sha2-512"},
    {"rsa256", 4, "-t rsa-sha2-256", "rsa-sha2-256"},
};

static char *
kg_key(const char *name)
{
	return tu_path(fx.dir, "kg-%s", name);
}

static void
kg_make_keys(void)
{
	char *k;
	size_t i;

	for (i = 0; i < NTYPES; i++) {
		k = kg_key(kg_types[i].name);
		assert_int_equal(
		    tu_run(NULL,
		        "rm -f '%s' '%s.pub'; "
		        "'%s' -q %s -N '' -C '%s-comment' -f '%s'",
		        k, k, tu_ssh_keygen(), kg_types[i].keygen, kg_types[i].name, k),
		    0);
		free(k);
	}
}

static void
test_keygen_certs_parse(void **state)
{
	static const char *want_ext[] = {"grant@ephssh", "permit-X11-forwarding",
	    "permit-agent-forwarding", "permit-port-forwarding", "permit-user-rc"};
	struct cert *c;
	struct key *subj, *ca, *other;
	char *cak, *sk, *pub, *certp, *comment, *line, *file;
	const uint8_t *v;
	size_t vn, i, j, k;

	TU_REQUIRE_SSH_KEYGEN();
	kg_make_keys();
	for (i = 0; i < sizeof(kg_cas) / sizeof(kg_cas[0]); i++) {
		for (j = 0; j < NTYPES; j++) {
			cak = kg_key(kg_types[kg_cas[i].key].name);
			sk = kg_key(kg_types[j].name);
			pub = tu_path(fx.dir, "kg-%s-%s.pub", kg_cas[i].name, kg_types[j].name);
			certp =
			    tu_path(fx.dir, "kg-%s-%s-cert.pub", kg_cas[i].name, kg_types[j].name);
			assert_int_equal(
			    tu_run(NULL,
			        "cp '%s.pub' '%s' && "
			        "TZ=UTC '%s' -q -s '%s' %s -I 'eph:g-1:alice:db-maint' "
			        "-n a,b -z 42 -V 20240101000000:20300101000000 "
			        "-O force-command=/bin/true "
			        "-O source-address=10.0.0.0/8,fd00::/8 "
			        "-O extension:grant@ephssh=xyz -O no-pty '%s'",
			        sk, pub, tu_ssh_keygen(), cak, kg_cas[i].flags, pub),
			    0);

			comment = NULL;
			assert_int_equal(cert_load(certp, &c, &comment), EPH_OK);
			assert_int_equal(c->key->type, kg_types[j].type);
			assert_int_equal(c->type, CERT_TYPE_USER);
			assert_int_equal(c->serial, 42);
			assert_string_equal(c->key_id, "eph:g-1:alice:db-maint");
			assert_int_equal(c->nprincipals, 2);
			assert_string_equal(c->principals[0], "a");
			assert_string_equal(c->principals[1], "b");
			assert_int_equal(c->valid_after, 1704067200);
			assert_int_equal(c->valid_before, 1893456000);
			assert_int_equal(c->ncritical, 2);
			assert_int_equal(
			    cert_opt_value(cert_find_critical(c, "force-command"), &v, &vn),
			    EPH_OK);
			assert_int_equal(vn, 9);
			assert_memory_equal(v, "/bin/true", 9);
			assert_int_equal(
			    cert_opt_value(cert_find_critical(c, "source-address"), &v, &vn),
			    EPH_OK);
			assert_int_equal(vn, 19);
			assert_memory_equal(v, "10.0.0.0/8,fd00::/8", 19);
			assert_int_equal(c->nextensions, 5);
			for (k = 0; k < 5; k++)
				assert_string_equal(c->extensions[k].name, want_ext[k]);
			assert_null(cert_find_extension(c, "permit-pty"));
			assert_int_equal(
			    cert_opt_value(cert_find_extension(c, GRANT_EXTENSION), &v, &vn),
			    EPH_OK);
			assert_int_equal(vn, 3);
			assert_memory_equal(v, "xyz", 3);
			assert_int_equal(
			    cert_opt_value(cert_find_extension(c, "permit-user-rc"), &v, &vn),
			    EPH_ERR_NOTFOUND);
			assert_string_equal(c->sig_alg, kg_cas[i].alg);
			assert_int_equal(c->nonce_len, 32);

			/* The subject and the CA are the keys on disk. */
			file = tu_path(fx.dir, "kg-%s.pub", kg_types[j].name);
			assert_int_equal(key_load_public(file, &subj, NULL), EPH_OK);
			assert_true(key_equal_public(c->key, subj));
			free(file);
			file = tu_path(fx.dir, "kg-%s.pub", kg_types[kg_cas[i].key].name);
			assert_int_equal(key_load_public(file, &ca, NULL), EPH_OK);
			assert_int_equal(cert_check_ca(c, ca), EPH_OK);
			/* Any other key, same type or not, is not the CA. */
			other = fx.keys[(kg_cas[i].key + 1) % NTYPES];
			assert_int_equal(cert_check_ca(c, other), EPH_ERR_CA_MISMATCH);
			assert_int_equal(cert_check_ca(c, key_of(kg_types[kg_cas[i].key].type)),
			    EPH_ERR_CA_MISMATCH);
			assert_int_equal(cert_check_ca(c, subj),
			    kg_cas[i].key == j ? EPH_OK : EPH_ERR_CA_MISMATCH);

			/* Our line is byte for byte ssh-keygen's. */
			assert_non_null(comment);
			assert_int_equal(
			    strncmp(comment, kg_types[j].name, strlen(kg_types[j].name)), 0);
			assert_string_equal(comment + strlen(kg_types[j].name), "-comment");
			assert_int_equal(cert_format_line(c, comment, &line), EPH_OK);
			free(file);
			file = tu_read_file(certp, NULL);
			assert_non_null(file);
			assert_int_equal(strlen(file), strlen(line) + 1);
			assert_memory_equal(file, line, strlen(line));

			free(line);
			free(file);
			free(comment);
			key_free(subj);
			key_free(ca);
			cert_free(c);
			free(cak);
			free(sk);
			free(pub);
			free(certp);
		}
	}
}

/* Host certificates and flag-only critical options from ssh-keygen. */
static void
test_keygen_host_cert_parses(void **state)
{
	struct cert *c = NULL;
	char *k, *certp;

	TU_REQUIRE_SSH_KEYGEN();
	k = tu_path(fx.dir, "hostkey");
	certp = tu_path(fx.dir, "hostkey-cert.pub");
	assert_int_equal(tu_run(NULL,
	                     "rm -f '%s' '%s.pub'; "
	                     "'%s' -q -t ed25519 -N '' -f '%s' && "
	                     "'%s' -q -s '%s' -h -I host -n db01,db01.example -V always:forever "
	                     "-O verify-required '%s.pub'",
	                     k, k, tu_ssh_keygen(), k, tu_ssh_keygen(), k, k),
	    0);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_int_equal(c->type, CERT_TYPE_HOST);
	assert_int_equal(c->valid_after, 0);
	assert_int_equal(c->valid_before, CERT_FOREVER);
	/* ssh-keygen adds no extensions to a host certificate. */
	assert_int_equal(c->nextensions, 0);
	assert_int_equal(c->ncritical, 1);
	assert_string_equal(c->critical[0].name, CERT_OPT_VERIFY_REQUIRED);
	assert_int_equal(c->critical[0].len, 0);
	assert_int_equal(cert_check_principal(c, "db01.example"), EPH_OK);
	assert_int_equal(cert_check_principal(c, "db02"), EPH_ERR_PRINCIPAL);
	cert_free(c);
	free(k);
	free(certp);
}

/* ------------------------------------------------------- 3: tampering */

/*
 * Flip each byte (and, with bits, each low bit) at every offset whose
 * index is a multiple of stride; the framing of the signature field is
 * always covered. Parsing an RSA or P-384/521 key costs milliseconds in
 * OpenSSL's key checks, so those types take a stride to stay fast.
 */
static void
flip_every_byte(const struct key *subj, const struct key *ca, size_t stride, int bits)
{
	struct cert *c, *bad;
	uint8_t *copy;
	size_t i, n;

	c = make_cert(subj, ca, NULL);
	n = c->blob.len;
	assert_true(c->signed_len > 0 && c->signed_len < n);
	copy = malloc(n);
	assert_non_null(copy);
	memcpy(copy, c->blob.d, n);
	/* Untouched, it parses: the failures below are the flips'. */
	assert_int_equal(cert_parse(copy, n, &bad), EPH_OK);
	cert_free(bad);
	for (i = 0; i < n; i++) {
		/* string sig { string alg, string raw }: lengths and name */
		if (i % stride != 0 &&
		    (i < c->signed_len || i >= c->signed_len + 8 + strlen(c->sig_alg) + 4))
			continue;
		copy[i] ^= 0xff;
		bad = (struct cert *)1;
		if (cert_parse(copy, n, &bad) == EPH_OK)
			fail_msg("flipped byte %zu of %zu (signed %zu) still parses", i, n,
			    c->signed_len);
		assert_null(bad);
		copy[i] ^= 0xff;
		if (!bits)
			continue;
		/* One bit, too: the smallest change there is. */
		copy[i] ^= 0x01;
		if (cert_parse(copy, n, &bad) == EPH_OK)
			fail_msg("flipped bit at %zu of %zu still parses", i, n);
		copy[i] ^= 0x01;
	}
	free(copy);
	cert_free(c);
}

static void
test_flip_every_byte_all_ca_types(void **state)
{
	/* Every offset, byte and bit, where parsing is cheap. */
	flip_every_byte(key_of(KEY_ED25519), key_of(KEY_ED25519), 1, 1);
	flip_every_byte(key_of(KEY_ECDSA_P256), key_of(KEY_ED25519), 1, 1);
	flip_every_byte(key_of(KEY_ED25519), key_of(KEY_ECDSA_P256), 1, 0);
	flip_every_byte(key_of(KEY_ED25519), key_of(KEY_ECDSA_P384), 3, 0);
	flip_every_byte(key_of(KEY_ED25519), key_of(KEY_ECDSA_P521), 3, 0);
	flip_every_byte(key_of(KEY_ED25519), key_of(KEY_RSA), 7, 0);
	flip_every_byte(key_of(KEY_RSA), key_of(KEY_ED25519), 7, 0);
}

/* The oracle verifies signatures too, so test 1 means something. */
static void
test_keygen_refuses_tampered(void **state)
{
	struct cert *c;
	char *path, *out = NULL;
	size_t at;

	TU_REQUIRE_SSH_KEYGEN();
	c = make_cert(key_of(KEY_ED25519), key_of(KEY_ED25519), NULL);
	/* A byte of the serial: still well formed, no longer signed. */
	at = 4 + strlen(key_cert_type_name(KEY_ED25519)) + 4 + c->nonce_len + 4 + 32 + 7;
	c->blob.d[at] ^= 0x01;
	path = tu_path(fx.dir, "tampered-cert.pub");
	write_cert(c, path, NULL);
	assert_int_not_equal(tu_run(&out, "'%s' -L -f '%s'", tu_ssh_keygen(), path), 0);
	free(out);
	free(path);
	cert_free(c);
}

/* ------------------------------------------------ 4: malformed input */

/* A certificate assembled field by field, so any field can be wrong
 * and the result still carries a valid signature. */
struct mk {
	const char *tname;
	const struct key *subj;
	size_t nonce_len;
	uint64_t serial;
	uint32_t ctype;
	const char *key_id;
	struct buf principals, crit, ext, reserved, trailing;
	uint64_t va, vb;
	const struct key *ca; /* signs */
	const struct key *embed; /* written as the CA key; NULL: ca */
	const struct buf *embed_raw; /* or these bytes */
	const char *alg;
	const char *alg_rename; /* rename the signature's algorithm */
};

static void
mk_init(struct mk *m, const struct key *subj, const struct key *ca)
{
	memset(m, 0, sizeof(*m));
	m->subj = subj;
	m->ca = ca;
	m->nonce_len = 32;
	m->serial = 7;
	m->ctype = CERT_TYPE_USER;
	m->key_id = "id";
	buf_init(&m->principals);
	buf_init(&m->crit);
	buf_init(&m->ext);
	buf_init(&m->reserved);
	buf_init(&m->trailing);
	assert_int_equal(buf_put_cstring(&m->principals, "alice"), EPH_OK);
	m->va = 0;
	m->vb = CERT_FOREVER;
}

static void
mk_free(struct mk *m)
{
	buf_free(&m->principals);
	buf_free(&m->crit);
	buf_free(&m->ext);
	buf_free(&m->reserved);
	buf_free(&m->trailing);
}

static void
mk_build(const struct mk *m, struct buf *out)
{
	struct buf ca, sig, sig2;
	uint8_t nonce[CERT_MAX_NONCE_LEN + 1];
	const uint8_t *raw;
	size_t rawlen;
	char *alg = NULL;

	buf_init(&ca);
	buf_init(&sig);
	buf_init(&sig2);
	memset(nonce, 0x5a, sizeof(nonce));
	assert_int_equal(
	    buf_put_cstring(out, m->tname != NULL ? m->tname : key_cert_type_name(m->subj->type)),
	    EPH_OK);
	assert_int_equal(buf_put_string(out, nonce, m->nonce_len), EPH_OK);
	assert_int_equal(key_put_public_fields(m->subj, out), EPH_OK);
	assert_int_equal(buf_put_u64(out, m->serial), EPH_OK);
	assert_int_equal(buf_put_u32(out, m->ctype), EPH_OK);
	assert_int_equal(buf_put_cstring(out, m->key_id), EPH_OK);
	assert_int_equal(buf_put_stringb(out, &m->principals), EPH_OK);
	assert_int_equal(buf_put_u64(out, m->va), EPH_OK);
	assert_int_equal(buf_put_u64(out, m->vb), EPH_OK);
	assert_int_equal(buf_put_stringb(out, &m->crit), EPH_OK);
	assert_int_equal(buf_put_stringb(out, &m->ext), EPH_OK);
	assert_int_equal(buf_put_stringb(out, &m->reserved), EPH_OK);
	if (m->embed_raw != NULL)
		assert_int_equal(buf_put_stringb(out, m->embed_raw), EPH_OK);
	else {
		assert_int_equal(key_put_public(m->embed != NULL ? m->embed : m->ca, &ca), EPH_OK);
		assert_int_equal(buf_put_stringb(out, &ca), EPH_OK);
	}
	assert_int_equal(key_sign(m->ca, m->alg, out->d, out->len, &sig), EPH_OK);
	if (m->alg_rename != NULL) {
		assert_int_equal(buf_get_cstring(&sig, &alg, 64), EPH_OK);
		assert_int_equal(buf_get_string(&sig, &raw, &rawlen, 8192), EPH_OK);
		assert_int_equal(buf_put_cstring(&sig2, m->alg_rename), EPH_OK);
		assert_int_equal(buf_put_string(&sig2, raw, rawlen), EPH_OK);
		assert_int_equal(buf_put_stringb(out, &sig2), EPH_OK);
		free(alg);
	} else
		assert_int_equal(buf_put_stringb(out, &sig), EPH_OK);
	assert_int_equal(buf_put(out, m->trailing.d, m->trailing.len), EPH_OK);
	buf_free(&ca);
	buf_free(&sig);
	buf_free(&sig2);
}

/* Build, parse, and give back the parser's verdict. */
static int
mk_parse(struct mk *m)
{
	struct buf b;
	struct cert *c = (struct cert *)1;
	int r;

	buf_init(&b);
	mk_build(m, &b);
	r = cert_parse(b.d, b.len, &c);
	if (r == EPH_OK)
		cert_free(c);
	else
		assert_null(c);
	buf_free(&b);
	mk_free(m);
	return r;
}

static void
opt_raw(struct buf *sec, const char *name, const void *d, size_t n)
{
	assert_int_equal(buf_put_cstring(sec, name), EPH_OK);
	assert_int_equal(buf_put_string(sec, d, n), EPH_OK);
}

static void
opt_flag(struct buf *sec, const char *name)
{
	opt_raw(sec, name, NULL, 0);
}

/* A valued option, wrapped the way OpenSSH does; extra bytes appended
 * inside the data when junk is non-NULL. */
static void
opt_val(struct buf *sec, const char *name, const char *val, const char *junk)
{
	struct buf w;

	buf_init(&w);
	assert_int_equal(buf_put_cstring(&w, val), EPH_OK);
	if (junk != NULL)
		assert_int_equal(buf_put(&w, junk, strlen(junk)), EPH_OK);
	opt_raw(sec, name, w.d, w.len);
	buf_free(&w);
}

static void
test_mk_control_parses(void **state)
{
	struct mk m;
	size_t i;

	/* Every CA type, with every option kind we know, is accepted. */
	for (i = 0; i < NTYPES; i++) {
		mk_init(&m, key_of(KEY_ED25519), fx.keys[i]);
		opt_val(&m.crit, "force-command", "/bin/true", NULL);
		opt_val(&m.crit, "source-address", "::/0,0.0.0.0/0", NULL);
		opt_flag(&m.crit, "verify-required");
		opt_val(&m.ext, "custom@example.com", "x", NULL);
		opt_raw(&m.ext, "custom@example.net", "unwrapped", 9);
		opt_val(&m.ext, "grant@ephssh", "x", NULL);
		opt_flag(&m.ext, "no-touch-required");
		opt_flag(&m.ext, "permit-pty");
		assert_int_equal(mk_parse(&m), EPH_OK);
	}
	mk_init(&m, key_of(KEY_ED25519), key_of(KEY_RSA));
	m.alg = "rsa-sha2-256";
	assert_int_equal(mk_parse(&m), EPH_OK);
}

static void
test_options_order_and_known(void **state)
{
	const struct key *s = key_of(KEY_ED25519), *ca = key_of(KEY_ED25519);
	struct mk m;

	mk_init(&m, s, ca);
	opt_val(&m.crit, "source-address", "10.0.0.0/8", NULL);
	opt_val(&m.crit, "force-command", "/bin/true", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_UNSORTED);

	mk_init(&m, s, ca);
	opt_val(&m.crit, "force-command", "/bin/true", NULL);
	opt_val(&m.crit, "force-command", "/bin/false", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_DUPLICATE);

	mk_init(&m, s, ca);
	opt_flag(&m.crit, "no-such-option");
	assert_int_equal(mk_parse(&m), EPH_ERR_UNKNOWN_OPTION);

	/* Extensions sshd knows, critical, are still unknown critical. */
	mk_init(&m, s, ca);
	opt_flag(&m.crit, "permit-pty");
	assert_int_equal(mk_parse(&m), EPH_ERR_UNKNOWN_OPTION);

	mk_init(&m, s, ca);
	opt_flag(&m.ext, "permit-pty");
	opt_val(&m.ext, "grant@ephssh", "x", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_UNSORTED);

	/* A flag extension repeated (ssh-keygen -O extension:permit-pty)
	 * is read; a repeat with a value, or of a critical option, is not. */
	mk_init(&m, s, ca);
	opt_flag(&m.ext, "permit-pty");
	opt_flag(&m.ext, "permit-pty");
	opt_flag(&m.ext, "permit-pty");
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	opt_val(&m.ext, "x@example.com", "1", NULL);
	opt_val(&m.ext, "x@example.com", "1", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_DUPLICATE);
	mk_init(&m, s, ca);
	opt_flag(&m.ext, "x@example.com");
	opt_val(&m.ext, "x@example.com", "1", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_DUPLICATE);
	mk_init(&m, s, ca);
	opt_flag(&m.crit, "verify-required");
	opt_flag(&m.crit, "verify-required");
	assert_int_equal(mk_parse(&m), EPH_ERR_DUPLICATE);

	/* Byte order, not locale: upper case sorts first. */
	mk_init(&m, s, ca);
	opt_flag(&m.ext, "permit-X11-forwarding");
	opt_flag(&m.ext, "permit-agent-forwarding");
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	opt_flag(&m.ext, "permit-agent-forwarding");
	opt_flag(&m.ext, "permit-X11-forwarding");
	assert_int_equal(mk_parse(&m), EPH_ERR_UNSORTED);

	mk_init(&m, s, ca);
	opt_flag(&m.ext, "");
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
}

static void
test_options_contents(void **state)
{
	static const char *bad_src[] = {"10.0.0.1/8", "bogus", "10.0.0.0/33", "1.2.3.4,",
	    ",1.2.3.4", "1.2.3.4,,5.6.7.8", "1.2.3.4, 5.6.7.8", "2001:db8::1/32", "::/129",
	    "1.2.3.4/", "/8", "fe80::1%eth0", "1.2.3.4/8/8", "1.2.3.4/-1"};
	const struct key *s = key_of(KEY_ED25519), *ca = key_of(KEY_ED25519);
	struct mk m;
	size_t i;

	/* Trailing bytes inside a double-wrapped known value. */
	mk_init(&m, s, ca);
	opt_val(&m.crit, "force-command", "/bin/true", "x");
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
	mk_init(&m, s, ca);
	opt_raw(&m.crit, "source-address",
	    "\0\0\0\x0a"
	    "10.0.0.0/8"
	    "z",
	    15);
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
	mk_init(&m, s, ca);
	opt_val(&m.ext, "grant@ephssh", "x", "y");
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
	/* Not a string at all. */
	mk_init(&m, s, ca);
	opt_raw(&m.crit, "force-command", "/bin/true", 9);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, s, ca);
	opt_raw(&m.ext, "grant@ephssh", "ab", 2);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	/* A valued option needs a value; flags carry none. */
	mk_init(&m, s, ca);
	opt_flag(&m.crit, "force-command");
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, s, ca);
	opt_val(&m.crit, "force-command", "", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, s, ca);
	opt_raw(&m.crit, "force-command", "\0\0\0\x03/b\0", 7);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, s, ca);
	opt_val(&m.crit, "verify-required", "yes", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
	mk_init(&m, s, ca);
	opt_val(&m.ext, "permit-pty", "yes", NULL);
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
	/* Junk after the last option of a section. */
	mk_init(&m, s, ca);
	opt_val(&m.crit, "force-command", "/bin/true", NULL);
	assert_int_equal(buf_put(&m.crit, "\0\0\0", 3), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, s, ca);
	opt_flag(&m.ext, "permit-pty");
	assert_int_equal(buf_put(&m.ext, "\0\0\0\x01x", 5), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, s, ca);
	assert_int_equal(buf_put(&m.principals, "\0\0", 2), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);

	for (i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		mk_init(&m, s, ca);
		opt_val(&m.crit, "source-address", bad_src[i], NULL);
		if (mk_parse(&m) != EPH_ERR_FORMAT)
			fail_msg("source-address \"%s\" accepted", bad_src[i]);
	}
}

static void
test_reserved_and_trailing(void **state)
{
	const struct key *s = key_of(KEY_ED25519), *ca = key_of(KEY_ED25519);
	struct mk m;

	mk_init(&m, s, ca);
	assert_int_equal(buf_put(&m.reserved, "r", 1), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);

	mk_init(&m, s, ca);
	assert_int_equal(buf_put(&m.trailing, "\0", 1), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);

	mk_init(&m, s, ca);
	assert_int_equal(buf_put_string(&m.trailing, "sig", 3), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
}

static void
test_type_names(void **state)
{
	const struct key *s = key_of(KEY_ED25519), *ca = key_of(KEY_ED25519);
	struct mk m;

	mk_init(&m, s, ca);
	m.tname = "ssh-ed25519";
	assert_int_equal(mk_parse(&m), EPH_ERR_CERTTYPE);
	mk_init(&m, s, ca);
	m.tname = "ssh-dss-cert-v01@openssh.com";
	assert_int_equal(mk_parse(&m), EPH_ERR_KEYTYPE);
	mk_init(&m, s, ca);
	m.tname = "ssh-ed25519-cert-v00@openssh.com";
	assert_int_equal(mk_parse(&m), EPH_ERR_KEYTYPE);
	mk_init(&m, s, ca);
	m.tname = "";
	assert_int_equal(mk_parse(&m), EPH_ERR_KEYTYPE);
	/* The name must match the key fields that follow it. */
	mk_init(&m, s, ca);
	m.tname = "ecdsa-sha2-nistp256-cert-v01@openssh.com";
	assert_int_not_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, key_of(KEY_ECDSA_P384), ca);
	m.tname = "ecdsa-sha2-nistp256-cert-v01@openssh.com";
	assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);
	mk_init(&m, key_of(KEY_RSA), ca);
	m.tname = "ssh-ed25519-cert-v01@openssh.com";
	assert_int_not_equal(mk_parse(&m), EPH_OK);

	/* Certificate type: user or host only. */
	mk_init(&m, s, ca);
	m.ctype = 0;
	assert_int_equal(mk_parse(&m), EPH_ERR_CERTTYPE);
	mk_init(&m, s, ca);
	m.ctype = 3;
	assert_int_equal(mk_parse(&m), EPH_ERR_CERTTYPE);
	mk_init(&m, s, ca);
	m.ctype = CERT_TYPE_HOST;
	assert_int_equal(mk_parse(&m), EPH_OK);
}

static void
test_signature_key_and_alg(void **state)
{
	const struct key *s = key_of(KEY_ED25519);
	struct mk m;
	struct cert *c;
	struct buf raw;
	struct key *ed2 = NULL;

	/* A certificate is no CA key. */
	c = make_cert(s, key_of(KEY_ED25519), NULL);
	buf_init_view(&raw, c->blob.d, c->blob.len);
	mk_init(&m, s, key_of(KEY_ED25519));
	m.embed_raw = &raw;
	assert_int_equal(mk_parse(&m), EPH_ERR_KEYTYPE);
	cert_free(c);
	/* Nor is a key blob with bytes after it. */
	buf_init(&raw);
	assert_int_equal(key_put_public(key_of(KEY_ED25519), &raw), EPH_OK);
	assert_int_equal(buf_put_u8(&raw, 0), EPH_OK);
	mk_init(&m, s, key_of(KEY_ED25519));
	m.embed_raw = &raw;
	assert_int_equal(mk_parse(&m), EPH_ERR_TRAILING);
	buf_free(&raw);

	/* Signed by someone other than the embedded CA. */
	assert_int_equal(key_generate(KEY_ED25519, 0, &ed2), EPH_OK);
	mk_init(&m, s, ed2);
	m.embed = key_of(KEY_ED25519);
	assert_int_equal(mk_parse(&m), EPH_ERR_SIGNATURE);
	key_free(ed2);
	/* Signature algorithm of another key type than the CA's. */
	mk_init(&m, s, key_of(KEY_ECDSA_P256));
	m.embed = key_of(KEY_ED25519);
	assert_int_equal(mk_parse(&m), EPH_ERR_SIGNATURE);
	mk_init(&m, s, key_of(KEY_ECDSA_P256));
	m.embed = key_of(KEY_ECDSA_P384);
	assert_int_equal(mk_parse(&m), EPH_ERR_SIGNATURE);
	/* Right bytes, wrong label. */
	mk_init(&m, s, key_of(KEY_ECDSA_P256));
	m.alg_rename = "ecdsa-sha2-nistp384";
	assert_int_equal(mk_parse(&m), EPH_ERR_SIGNATURE);
	mk_init(&m, s, key_of(KEY_RSA));
	m.alg = "rsa-sha2-512";
	m.alg_rename = "rsa-sha2-256";
	assert_int_equal(mk_parse(&m), EPH_ERR_SIGNATURE);
	/* SHA-1 RSA is refused whatever the bytes. */
	mk_init(&m, s, key_of(KEY_RSA));
	m.alg_rename = "ssh-rsa";
	assert_int_equal(mk_parse(&m), EPH_ERR_WEAKKEY);
}

/*
 * The parser's caps are OpenSSH's: CERT_MAX_PRINCIPALS principals and a
 * whole blob of CERT_MAX_SIZE; the tighter caps on what we issue do not
 * apply to what we read.
 */
static void
test_caps(void **state)
{
	const struct key *s = key_of(KEY_ED25519), *ca = key_of(KEY_ED25519);
	char name[64], *big;
	uint8_t *data;
	struct mk m;
	size_t i;

	assert_non_null(big = malloc(CERT_MAX_SIZE + 1));
	assert_non_null(data = malloc(CERT_MAX_SIZE));
	memset(big, 'a', CERT_MAX_SIZE);
	big[CERT_MAX_SIZE] = '\0';
	memset(data, 'd', CERT_MAX_SIZE);

	/* Key id, principal, option name and data past the issuing caps. */
	big[CERT_MAX_KEY_ID_LEN * 4] = '\0';
	mk_init(&m, s, ca);
	m.key_id = big;
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	assert_int_equal(buf_put_cstring(&m.principals, big), EPH_OK);
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	opt_flag(&m.ext, big);
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	opt_raw(&m.ext, "x@example.com", data, CERT_MAX_OPTION_DATA_LEN * 4);
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	m.nonce_len = CERT_MAX_NONCE_LEN + 1;
	assert_int_equal(mk_parse(&m), EPH_OK);
	/* An unknown critical option is unknown however long. */
	mk_init(&m, s, ca);
	opt_flag(&m.crit, big);
	assert_int_equal(mk_parse(&m), EPH_ERR_UNKNOWN_OPTION);

	/* No count cap on options but the blob's: thousands parse. */
	mk_init(&m, s, ca);
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "x%04zu@example.com", i);
		opt_flag(&m.ext, name);
	}
	assert_int_equal(mk_parse(&m), EPH_OK);

	/* The whole blob: a key id that takes it past CERT_MAX_SIZE. */
	memset(big, 'a', CERT_MAX_SIZE);
	big[CERT_MAX_SIZE - 1024] = '\0';
	mk_init(&m, s, ca);
	m.key_id = big;
	assert_int_equal(mk_parse(&m), EPH_OK);
	big[CERT_MAX_SIZE - 1024] = 'a';
	mk_init(&m, s, ca);
	m.key_id = big;
	assert_int_equal(mk_parse(&m), EPH_ERR_TOOLARGE);

	/* Principals: as many as OpenSSH takes, not one more. */
	mk_init(&m, s, ca);
	for (i = 1; i < CERT_MAX_PRINCIPALS; i++) {
		snprintf(name, sizeof(name), "p%zu", i);
		assert_int_equal(buf_put_cstring(&m.principals, name), EPH_OK);
	}
	assert_int_equal(mk_parse(&m), EPH_OK);
	mk_init(&m, s, ca);
	for (i = 1; i <= CERT_MAX_PRINCIPALS; i++) {
		snprintf(name, sizeof(name), "p%zu", i);
		assert_int_equal(buf_put_cstring(&m.principals, name), EPH_OK);
	}
	assert_int_equal(mk_parse(&m), EPH_ERR_TOOLARGE);
	free(big);
	free(data);
}

/*
 * Issue 12, item 17: certificates ssh-keygen -s makes and sshd accepts,
 * past our old caps or with a flag extension given twice, are read.
 */
static void
test_keygen_openssh_scale(void **state)
{
	struct cert *c;
	struct buf cmd;
	char *k, *pub, *certp, *longs, *out = NULL;
	size_t i;

	TU_REQUIRE_SSH_KEYGEN();
	k = tu_path(fx.dir, "scale-ca");
	pub = tu_path(fx.dir, "scale.pub");
	certp = tu_path(fx.dir, "scale-cert.pub");
	assert_int_equal(tu_run(NULL, "rm -f '%s' '%s.pub'; '%s' -q -t ed25519 -N '' -f '%s'", k, k,
	                     tu_ssh_keygen(), k),
	    0);
	assert_non_null(longs = malloc(20001));
	buf_init(&cmd);

	/* -O extension:permit-pty on top of the default permit-pty. */
	assert_int_equal(tu_run(&out,
	                     "rm -f '%s' && cp '%s.pub' '%s' && '%s' -q -s '%s' -I x -n a "
	                     "-O extension:permit-pty '%s'",
	                     certp, k, pub, tu_ssh_keygen(), k, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_int_equal(c->nextensions, 5);
	assert_non_null(cert_find_extension(c, "permit-pty"));
	/* Kept once; adding it again is still refused. */
	assert_int_equal(cert_add_extension(c, "permit-pty", NULL, 0), EPH_ERR_DUPLICATE);
	cert_free(c);

	/* A 1,500-byte key id, a 300-byte principal, a 5,000-byte value. */
	memset(longs, 'k', 1500);
	longs[1500] = '\0';
	assert_int_equal(tu_run(&out, "rm -f '%s' && '%s' -q -s '%s' -I '%s' -n a '%s'", certp,
	                     tu_ssh_keygen(), k, longs, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_int_equal(strlen(c->key_id), 1500);
	cert_free(c);
	memset(longs, 'p', 300);
	longs[300] = '\0';
	assert_int_equal(tu_run(&out, "rm -f '%s' && '%s' -q -s '%s' -I x -n 'a,%s' '%s'", certp,
	                     tu_ssh_keygen(), k, longs, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_int_equal(c->nprincipals, 2);
	assert_string_equal(c->principals[1], longs);
	assert_int_equal(cert_check_principal(c, longs), EPH_OK);
	cert_free(c);
	memset(longs, 'v', 5000);
	longs[5000] = '\0';
	assert_int_equal(tu_run(&out,
	                     "rm -f '%s' && '%s' -q -s '%s' -I x -n a "
	                     "-O extension:x@example.com='%s' '%s'",
	                     certp, tu_ssh_keygen(), k, longs, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_non_null(cert_find_extension(c, "x@example.com"));
	/* The value wrapped in a string, as OpenSSH writes it. */
	assert_int_equal(cert_find_extension(c, "x@example.com")->len, 4 + 5000);
	cert_free(c);

	/* 70 extensions, and the 256 principals ssh-keygen allows. */
	for (i = 0; i < 70; i++) {
		snprintf(longs, 64, " -O extension:e%02zu@example.com", i);
		assert_int_equal(buf_put(&cmd, longs, strlen(longs)), EPH_OK);
	}
	assert_int_equal(buf_put_u8(&cmd, 0), EPH_OK);
	assert_int_equal(tu_run(&out, "rm -f '%s' && '%s' -q -s '%s' -I x -n a %s '%s'", certp,
	                     tu_ssh_keygen(), k, (char *)cmd.d, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_int_equal(c->nextensions, 75);
	cert_free(c);
	buf_reset(&cmd);
	for (i = 0; i < CERT_MAX_PRINCIPALS; i++) {
		snprintf(longs, 64, "%sprincipal-%03zu", i > 0 ? "," : "", i);
		assert_int_equal(buf_put(&cmd, longs, strlen(longs)), EPH_OK);
	}
	assert_int_equal(buf_put_u8(&cmd, 0), EPH_OK);
	assert_int_equal(tu_run(&out, "rm -f '%s' && '%s' -q -s '%s' -I x -n '%s' '%s'", certp,
	                     tu_ssh_keygen(), k, (char *)cmd.d, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_int_equal(c->nprincipals, CERT_MAX_PRINCIPALS);
	cert_free(c);

	/* A blob over 16 KiB: a 20,000-byte key id. */
	memset(longs, 'i', 20000);
	longs[20000] = '\0';
	assert_int_equal(tu_run(&out, "rm -f '%s' && '%s' -q -s '%s' -I '%s' -n a '%s'", certp,
	                     tu_ssh_keygen(), k, longs, pub),
	    0);
	free(out);
	assert_int_equal(cert_load(certp, &c, NULL), EPH_OK);
	assert_true(c->blob.len > 20000);
	cert_free(c);

	buf_free(&cmd);
	free(longs);
	free(certp);
	free(pub);
	free(k);
}

/* Set the u32 at off to v. */
static void
poke32(uint8_t *p, size_t off, uint32_t v)
{
	p[off] = (uint8_t)(v >> 24);
	p[off + 1] = (uint8_t)(v >> 16);
	p[off + 2] = (uint8_t)(v >> 8);
	p[off + 3] = (uint8_t)v;
}

static void
test_truncated_and_oversized(void **state)
{
	struct cert *c, *bad;
	uint8_t *copy, *big;
	size_t i, j, n, off;

	for (j = 0; j < NTYPES; j++) {
		c = make_cert(fx.keys[j], key_of(KEY_ED25519), NULL);
		n = c->blob.len;
		copy = malloc(n);
		assert_non_null(copy);
		memcpy(copy, c->blob.d, n);
		/* RSA key checks are slow; every fifth length past the key. */
		for (i = 0; i < n; i++) {
			if (all_types[j] == KEY_RSA && i > 300 && i % 5 != 0)
				continue;
			bad = (struct cert *)1;
			if (cert_parse(copy, i, &bad) != EPH_ERR_TRUNCATED)
				fail_msg("type %zu truncated at %zu of %zu: not "
				         "EPH_ERR_TRUNCATED",
				    j, i, n);
			assert_null(bad);
		}
		free(copy);
		cert_free(c);
	}

	c = make_cert(key_of(KEY_ED25519), key_of(KEY_ED25519), NULL);
	n = c->blob.len;
	copy = malloc(n);
	assert_non_null(copy);
	/* Every length field in turn claims far more than is there. */
	off = 0;
	memcpy(copy, c->blob.d, n);
	poke32(copy, off, 0xffffffff); /* type name */
	assert_int_equal(cert_parse(copy, n, &bad), EPH_ERR_TOOLARGE);
	off += 4 + strlen(key_cert_type_name(KEY_ED25519));
	memcpy(copy, c->blob.d, n);
	poke32(copy, off, 0x7fffffff); /* nonce */
	assert_int_equal(cert_parse(copy, n, &bad), EPH_ERR_TOOLARGE);
	off += 4 + c->nonce_len;
	memcpy(copy, c->blob.d, n);
	poke32(copy, off, 0xffffffff); /* ed25519 key */
	assert_int_not_equal(cert_parse(copy, n, &bad), EPH_OK);
	off += 4 + 32 + 8 + 4;
	memcpy(copy, c->blob.d, n);
	poke32(copy, off, 0x80000000); /* key id */
	assert_int_equal(cert_parse(copy, n, &bad), EPH_ERR_TOOLARGE);
	off += 4 + strlen(c->key_id);
	memcpy(copy, c->blob.d, n);
	poke32(copy, off, 0xfffffff0); /* principals */
	assert_int_equal(cert_parse(copy, n, &bad), EPH_ERR_TOOLARGE);
	/* Within the caps but past the end. */
	memcpy(copy, c->blob.d, n);
	poke32(copy, off, (uint32_t)n);
	assert_int_equal(cert_parse(copy, n, &bad), EPH_ERR_TRUNCATED);
	free(copy);

	/* Over the whole-blob cap, refused before anything is read. */
	big = calloc(1, CERT_MAX_SIZE + 1);
	assert_non_null(big);
	memcpy(big, c->blob.d, n);
	assert_int_equal(cert_parse(big, CERT_MAX_SIZE + 1, &bad), EPH_ERR_TOOLARGE);
	free(big);
	cert_free(c);
}

static void
test_lines(void **state)
{
	struct cert *c, *p = NULL;
	char *line = NULL, *comment = NULL, *publine = NULL, *bad = NULL;
	char *path, *text = NULL;

	c = make_cert(key_of(KEY_ECDSA_P256), key_of(KEY_ED25519), NULL);
	assert_int_equal(cert_format_line(c, "alice@laptop", &line), EPH_OK);
	assert_int_equal(strncmp(line, "ecdsa-sha2-nistp256-cert-v01@openssh.com ", 41), 0);
	assert_int_equal(cert_parse_line(line, &p, &comment), EPH_OK);
	assert_string_equal(comment, "alice@laptop");
	assert_int_equal(p->blob.len, c->blob.len);
	assert_memory_equal(p->blob.d, c->blob.d, c->blob.len);
	cert_free(p);
	free(comment);
	comment = NULL;

	/* Whitespace and a newline around the line are fine. */
	assert_true(asprintf(&bad, "  %s \n", line) >= 0);
	assert_int_equal(cert_parse_line(bad, &p, NULL), EPH_OK);
	cert_free(p);
	free(bad);

	/* Garbage base64, in many shapes. */
	assert_int_equal(cert_parse_line("ssh-ed25519-cert-v01@openssh.com "
	                                 "!!!!",
	                     &p, NULL),
	    EPH_ERR_FORMAT);
	assert_int_equal(cert_parse_line("ssh-ed25519-cert-v01@openssh.com "
	                                 "AAAA=",
	                     &p, NULL),
	    EPH_ERR_FORMAT);
	assert_int_equal(cert_parse_line("ssh-ed25519-cert-v01@openssh.com "
	                                 "AA=A",
	                     &p, NULL),
	    EPH_ERR_FORMAT);
	assert_int_equal(
	    cert_parse_line("ssh-ed25519-cert-v01@openssh.com", &p, NULL), EPH_ERR_FORMAT);
	assert_int_equal(cert_parse_line("", &p, NULL), EPH_ERR_FORMAT);
	assert_int_equal(cert_parse_line("\n", &p, NULL), EPH_ERR_FORMAT);
	assert_null(p);
	/* The line's type must be the blob's. */
	assert_true(
	    asprintf(&bad, "ssh-ed25519-cert-v01@openssh.com %s", strchr(line, ' ') + 1) >= 0);
	assert_int_equal(cert_parse_line(bad, &p, NULL), EPH_ERR_FORMAT);
	free(bad);
	/* A damaged character in the middle of the base64. */
	bad = strdup(line);
	bad[60] = bad[60] == 'A' ? 'B' : 'A';
	assert_int_not_equal(cert_parse_line(bad, &p, NULL), EPH_OK);
	bad[60] = '*';
	assert_int_equal(cert_parse_line(bad, &p, NULL), EPH_ERR_FORMAT);
	free(bad);
	/* Two lines in one. */
	assert_true(asprintf(&bad, "%s\n%s", line, line) >= 0);
	assert_int_equal(cert_parse_line(bad, &p, NULL), EPH_ERR_FORMAT);
	free(bad);
	/* A plain key is not a certificate; neither is an unknown type. */
	assert_int_equal(key_format_public_line(key_of(KEY_ED25519), "k", &publine), EPH_OK);
	assert_int_equal(cert_parse_line(publine, &p, NULL), EPH_ERR_CERTTYPE);
	free(publine);
	assert_int_equal(
	    cert_parse_line("ssh-dss-cert-v01@openssh.com AAAA", &p, NULL), EPH_ERR_FORMAT);
	{
		struct buf b;
		char *b64;

		/* Consistent line and blob, but a type nobody knows. */
		buf_init(&b);
		assert_int_equal(buf_put_cstring(&b, "ssh-dss-cert-v01@openssh.com"), EPH_OK);
		assert_int_equal(buf_put_u32(&b, 0), EPH_OK);
		b64 = b64_encode(b.d, b.len);
		assert_non_null(b64);
		assert_true(asprintf(&bad, "ssh-dss-cert-v01@openssh.com %s x", b64) >= 0);
		assert_int_equal(cert_parse_line(bad, &p, NULL), EPH_ERR_KEYTYPE);
		free(bad);
		free(b64);
		buf_free(&b);
	}

	/* Files: comments and blank lines first are skipped. */
	path = tu_path(fx.dir, "lines-cert.pub");
	assert_true(asprintf(&text, "# a comment\n\n   \n%s\n", line) >= 0);
	assert_int_equal(tu_write_file(path, text, strlen(text), 0644), 0);
	assert_int_equal(cert_load(path, &p, &comment), EPH_OK);
	assert_string_equal(comment, "alice@laptop");
	cert_free(p);
	free(comment);
	free(text);
	assert_int_equal(tu_write_file(path, "# nothing\n", 10, 0644), 0);
	assert_int_equal(cert_load(path, &p, NULL), EPH_ERR_NOTFOUND);
	assert_int_equal(tu_write_file(path, "\0", 1, 0644), 0);
	assert_int_equal(cert_load(path, &p, NULL), EPH_ERR_FORMAT);
	free(path);
	path = tu_path(fx.dir, "does-not-exist");
	assert_int_equal(cert_load(path, &p, NULL), EPH_ERR_IO);
	assert_null(p);
	free(path);
	free(line);
	cert_free(c);
}

/* ------------------------------------------------ building and signing */

static void
test_build_api(void **state)
{
	struct cert *c;
	const uint8_t *v;
	size_t vn;
	char *line = NULL;
	char big[CERT_MAX_PRINCIPAL_LEN + 2];

	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(c->type, CERT_TYPE_USER);
	assert_int_equal(c->nonce_len, 32);
	/* Nothing to sign without a subject. */
	assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_ERR_INVAL);
	assert_int_equal(cert_set_key(c, key_of(KEY_ED25519)), EPH_OK);
	assert_int_equal(c->key->has_private, 0);

	assert_int_equal(cert_add_principal(c, "alice"), EPH_OK);
	assert_int_equal(cert_add_principal(c, "alice"), EPH_ERR_DUPLICATE);
	assert_int_equal(cert_add_principal(c, ""), EPH_ERR_INVAL);
	memset(big, 'p', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cert_add_principal(c, big), EPH_ERR_TOOLARGE);

	assert_int_equal(cert_add_critical(c, "no-such", NULL, 0), EPH_ERR_UNKNOWN_OPTION);
	assert_int_equal(cert_add_critical(c, "permit-pty", NULL, 0), EPH_ERR_UNKNOWN_OPTION);
	assert_int_equal(cert_add_critical(c, CERT_OPT_FORCE_COMMAND, NULL, 0), EPH_ERR_INVAL);
	assert_int_equal(cert_add_critical(c, CERT_OPT_FORCE_COMMAND, "", 0), EPH_ERR_INVAL);
	assert_int_equal(cert_add_critical(c, CERT_OPT_FORCE_COMMAND, "a\0b", 3), EPH_ERR_INVAL);
	assert_int_equal(cert_add_critical(c, CERT_OPT_VERIFY_REQUIRED, "x", 1), EPH_ERR_INVAL);
	assert_int_equal(
	    cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, "10.0.0.1/8", 10), EPH_ERR_FORMAT);
	/* Values are bytes, not C strings: nothing reads past n (ASan). */
	{
		char *exact = malloc(10);

		assert_non_null(exact);
		memcpy(exact, "10.0.0.0/8", 10);
		assert_int_equal(cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, exact, 9),
		    EPH_ERR_FORMAT); /* "10.0.0.0/" */
		assert_int_equal(cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, exact, 10), EPH_OK);
		free(exact);
		cert_free(c);
		assert_int_equal(cert_new(&c), EPH_OK);
		assert_int_equal(cert_set_key(c, key_of(KEY_ED25519)), EPH_OK);
	}
	memset(big, 'n', sizeof(big));
	big[CERT_MAX_OPTION_NAME_LEN + 1] = '\0';
	assert_int_equal(cert_add_extension(c, big, NULL, 0), EPH_ERR_TOOLARGE);
	assert_int_equal(cert_add_critical(c, CERT_OPT_VERIFY_REQUIRED, NULL, 0), EPH_OK);
	assert_int_equal(cert_add_critical(c, CERT_OPT_FORCE_COMMAND, "/x", 2), EPH_OK);
	assert_int_equal(cert_add_critical(c, CERT_OPT_FORCE_COMMAND, "/y", 2), EPH_ERR_DUPLICATE);
	assert_int_equal(cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, "127.0.0.1", 9), EPH_OK);
	assert_string_equal(c->critical[0].name, CERT_OPT_FORCE_COMMAND);
	assert_string_equal(c->critical[1].name, CERT_OPT_SOURCE_ADDRESS);
	assert_string_equal(c->critical[2].name, CERT_OPT_VERIFY_REQUIRED);
	assert_int_equal(
	    cert_opt_value(cert_find_critical(c, CERT_OPT_FORCE_COMMAND), &v, &vn), EPH_OK);
	assert_int_equal(vn, 2);
	assert_memory_equal(v, "/x", 2);
	assert_int_equal(cert_opt_value(cert_find_critical(c, CERT_OPT_VERIFY_REQUIRED), &v, &vn),
	    EPH_ERR_NOTFOUND);
	assert_null(cert_find_critical(c, "nope"));

	assert_int_equal(cert_add_extension(c, "permit-pty", "x", 1), EPH_ERR_INVAL);
	assert_int_equal(cert_add_extension(c, GRANT_EXTENSION, NULL, 0), EPH_ERR_INVAL);
	assert_int_equal(cert_add_extension(c, "", NULL, 0), EPH_ERR_INVAL);
	/* A grant the hosts could not decode is never issued. */
	assert_int_equal(cert_add_extension(c, GRANT_EXTENSION, "xyz", 3), EPH_ERR_FORMAT);
	assert_null(cert_find_extension(c, GRANT_EXTENSION));
	assert_int_equal(cert_add_extension(c, "z@example.com", "v", 1), EPH_OK);
	assert_int_equal(cert_add_extension(c, "permit-pty", NULL, 0), EPH_OK);
	assert_int_equal(cert_add_extension(c, "permit-pty", NULL, 0), EPH_ERR_DUPLICATE);
	assert_int_equal(cert_add_extension(c, "a@example.com", NULL, 0), EPH_OK);
	assert_string_equal(c->extensions[0].name, "a@example.com");
	assert_string_equal(c->extensions[1].name, "permit-pty");
	assert_string_equal(c->extensions[2].name, "z@example.com");

	/* Unsigned: no line yet. */
	assert_int_equal(cert_format_line(c, NULL, &line), EPH_ERR_INVAL);
	/* An empty validity interval is refused, like ssh-keygen does. */
	c->valid_after = 10;
	c->valid_before = 10;
	assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_ERR_INVAL);
	c->valid_before = 11;
	/* Only a private key signs; algorithms must suit it. */
	assert_int_equal(cert_sign(c, c->key, NULL), EPH_ERR_INVAL);
	assert_int_equal(cert_sign(c, key_of(KEY_RSA), "ssh-rsa"), EPH_ERR_WEAKKEY);
	assert_int_equal(cert_sign(c, key_of(KEY_ECDSA_P256), "ssh-ed25519"), EPH_ERR_KEYTYPE);
	assert_int_equal(
	    cert_sign(c, key_of(KEY_ECDSA_P256), "ecdsa-sha2-nistp384"), EPH_ERR_KEYTYPE);
	c->type = 3;
	assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_ERR_INVAL);
	c->type = CERT_TYPE_USER;
	/* key_id NULL signs as the empty string. */
	assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_OK);
	assert_true(key_equal_public(c->signature_key, key_of(KEY_ED25519)));
	assert_int_equal(c->signature_key->has_private, 0);
	assert_int_equal(cert_check_ca(c, key_of(KEY_ED25519)), EPH_OK);
	assert_int_equal(cert_format_line(c, "a\nb", &line), EPH_ERR_INVAL);
	assert_int_equal(cert_format_line(c, NULL, &line), EPH_OK);
	free(line);
	/* A change unsigns it. */
	assert_int_equal(cert_add_principal(c, "bob"), EPH_OK);
	assert_int_equal(cert_format_line(c, NULL, &line), EPH_ERR_INVAL);
	cert_free(c);

	/* Two certificates never share a nonce. */
	{
		struct cert *a, *b;

		assert_int_equal(cert_new(&a), EPH_OK);
		assert_int_equal(cert_new(&b), EPH_OK);
		assert_memory_not_equal(a->nonce, b->nonce, 32);
		cert_free(a);
		cert_free(b);
	}
}

/* Our source-address check agrees with ssh-keygen's on every case. */
static void
test_source_address_matches_keygen(void **state)
{
	static const char *cases[] = {"10.0.0.0/8", "192.168.1.7", "0.0.0.0/0", "::/0", "::1",
	    "2001:db8::/32", "::ffff:10.0.0.1", "10.0.0.0/8,172.16.0.0/12,fd00::/8", "10.0.0.1/8",
	    "10.0.0.0/33", "2001:db8::1/32", "::/129", "1.2.3.4/", "1.2.3.4,", ",1.2.3.4",
	    "1.2.3.4,,5.6.7.8", "1.2.3.4 ", "host.example", "fe80::1%lo", "1.2.3.4/8/8",
	    "256.1.1.1", "10.0.0.0/8,bogus"};
	static const char *aton[] = {"10.1", "010.0.0.0/8", "1.2.3.04"};
	struct cert *c;
	char *k, *out = NULL;
	size_t i;
	int ours, theirs;

	TU_REQUIRE_SSH_KEYGEN();
	k = tu_path(fx.dir, "srckey");
	assert_int_equal(tu_run(NULL,
	                     "rm -f '%s' '%s.pub'; '%s' -q -t ed25519 "
	                     "-N '' -f '%s'",
	                     k, k, tu_ssh_keygen(), k),
	    0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cert_new(&c), EPH_OK);
		ours = cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, cases[i], strlen(cases[i])) ==
		    EPH_OK;
		cert_free(c);
		theirs = tu_run(&out,
		             "'%s' -q -s '%s' -I x -O "
		             "'source-address=%s' '%s.pub'",
		             tu_ssh_keygen(), k, cases[i], k) == 0;
		free(out);
		if (ours != theirs)
			fail_msg("source-address \"%s\": ours %d, ssh-keygen %d", cases[i], ours,
			    theirs);
	}
	/*
	 * Deliberately stricter: getaddrinfo takes inet_aton's shorthand,
	 * where "010" is octal 8; we take only inet_pton's dotted quads.
	 */
	for (i = 0; i < sizeof(aton) / sizeof(aton[0]); i++) {
		assert_int_equal(cert_new(&c), EPH_OK);
		assert_int_equal(
		    cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, aton[i], strlen(aton[i])),
		    EPH_ERR_FORMAT);
		cert_free(c);
		assert_int_equal(tu_run(&out,
		                     "'%s' -q -s '%s' -I x -O "
		                     "'source-address=%s' '%s.pub'",
		                     tu_ssh_keygen(), k, aton[i], k),
		    0);
		free(out);
	}
	free(k);
}

/* ----------------------------------------- 5: validity and principals */

static void
test_validity_and_principals(void **state)
{
	struct cert *c, *p;

	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_set_key(c, key_of(KEY_ED25519)), EPH_OK);
	c->valid_after = 1000;
	c->valid_before = 2000;
	assert_int_equal(cert_add_principal(c, "eph:db-maint@db01"), EPH_OK);
	assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_OK);
	assert_int_equal(cert_parse(c->blob.d, c->blob.len, &p), EPH_OK);
	assert_int_equal(cert_check_validity(p, 0), EPH_ERR_NOTYETVALID);
	assert_int_equal(cert_check_validity(p, 999), EPH_ERR_NOTYETVALID);
	assert_int_equal(cert_check_validity(p, 1000), EPH_OK);
	assert_int_equal(cert_check_validity(p, 1999), EPH_OK);
	assert_int_equal(cert_check_validity(p, 2000), EPH_ERR_EXPIRED);
	assert_int_equal(cert_check_validity(p, UINT64_MAX), EPH_ERR_EXPIRED);

	assert_int_equal(cert_check_principal(p, "eph:db-maint@db01"), EPH_OK);
	assert_int_equal(cert_check_principal(p, "eph:db-maint@db0"), EPH_ERR_PRINCIPAL);
	assert_int_equal(cert_check_principal(p, "eph:db-maint@db011"), EPH_ERR_PRINCIPAL);
	assert_int_equal(cert_check_principal(p, "EPH:db-maint@db01"), EPH_ERR_PRINCIPAL);
	assert_int_equal(cert_check_principal(p, "*"), EPH_ERR_PRINCIPAL);
	assert_int_equal(cert_check_principal(p, ""), EPH_ERR_PRINCIPAL);
	cert_free(p);
	cert_free(c);

	/* Forever is forever. */
	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_check_validity(c, 0), EPH_OK);
	assert_int_equal(cert_check_validity(c, UINT64_MAX - 1), EPH_OK);
	assert_int_equal(cert_check_principal(c, "anyone"), EPH_ERR_PRINCIPAL);
	cert_free(c);
}

/* ------------------------------------------------------------- grants */

static void
test_grant_round_trip(void **state)
{
	struct cert *c, *p;
	struct grant g, d;
	struct buf b;
	const uint8_t *v;
	size_t vn, i;
	char *hex, *out = NULL;

	fill_grant(&g);
	assert_int_equal(grant_set_reason(&g, "INC-4711 vacuum"), EPH_OK);
	assert_int_equal(g.has_reason_digest, 1);
	/* Cross-check the digest with coreutils. */
	hex = hex_of(g.reason_digest, GRANT_DIGEST_LEN);
	if (tu_run(&out, "printf %%s 'INC-4711 vacuum' | sha256sum") == 0)
		assert_int_equal(strncmp(out, hex, 64), 0);
	free(out);
	free(hex);

	c = make_cert(key_of(KEY_ED25519), key_of(KEY_ED25519), NULL);
	assert_int_equal(cert_parse(c->blob.d, c->blob.len, &p), EPH_OK);
	assert_int_equal(cert_opt_value(cert_find_extension(p, GRANT_EXTENSION), &v, &vn), EPH_OK);
	assert_int_equal(grant_decode(v, vn, &d), EPH_OK);
	assert_string_equal(d.id, g.id);
	assert_string_equal(d.task, g.task);
	assert_string_equal(d.requester, g.requester);
	assert_string_equal(d.login_as, "postgres");
	assert_int_equal(d.napprovers, g.napprovers);
	for (i = 0; i < d.napprovers; i++)
		assert_string_equal(d.approvers[i], g.approvers[i]);
	assert_int_equal(d.has_reason_digest, 1);
	assert_memory_equal(d.reason_digest, g.reason_digest, GRANT_DIGEST_LEN);
	assert_int_equal(d.max_logins, 3);
	grant_clear(&d);
	assert_null(d.id);
	grant_clear(&d);
	cert_free(p);
	cert_free(c);

	/* No approvers, no digest, UTF-8 text. */
	memset(&g, 0, sizeof(g));
	g.id = "g-2";
	g.task = "break-glass";
	g.requester = "J\xc3\xb6rg\xe2\x82\xac\xf0\x9f\x94\x91";
	g.login_as = "svc$";
	buf_init(&b);
	assert_int_equal(grant_encode(&g, &b), EPH_OK);
	assert_int_equal(grant_decode(b.d, b.len, &d), EPH_OK);
	assert_string_equal(d.requester, g.requester);
	assert_string_equal(d.login_as, "svc$");
	assert_int_equal(d.napprovers, 0);
	assert_null(d.approvers);
	assert_int_equal(d.has_reason_digest, 0);
	assert_int_equal(d.max_logins, 0);
	grant_clear(&d);
	buf_free(&b);
}

static void
grant_bytes_as(struct buf *b, uint32_t version, const char *id, const char *login, uint32_t count,
    const char **approvers, size_t diglen, int trailing)
{
	uint8_t dig[64];
	uint32_t i;

	memset(dig, 0xab, sizeof(dig));
	buf_init(b);
	assert_int_equal(buf_put_u32(b, version), EPH_OK);
	assert_int_equal(buf_put_cstring(b, id), EPH_OK);
	assert_int_equal(buf_put_cstring(b, "task"), EPH_OK);
	assert_int_equal(buf_put_cstring(b, "alice"), EPH_OK);
	assert_int_equal(buf_put_cstring(b, login), EPH_OK);
	assert_int_equal(buf_put_u32(b, count), EPH_OK);
	for (i = 0; approvers != NULL && approvers[i] != NULL; i++)
		assert_int_equal(buf_put_cstring(b, approvers[i]), EPH_OK);
	assert_int_equal(buf_put_string(b, dig, diglen), EPH_OK);
	assert_int_equal(buf_put_u32(b, 5), EPH_OK);
	if (trailing)
		assert_int_equal(buf_put_u8(b, 0), EPH_OK);
}

static void
grant_bytes(struct buf *b, uint32_t version, const char *id, uint32_t count, const char **approvers,
    size_t diglen, int trailing)
{
	grant_bytes_as(b, version, id, "postgres", count, approvers, diglen, trailing);
}

static int
grant_try(struct buf *b)
{
	struct grant g;
	int r;

	r = grant_decode(b->d, b->len, &g);
	if (r == EPH_OK)
		grant_clear(&g);
	else
		assert_null(g.id);
	buf_free(b);
	return r;
}

static void
test_grant_malformed(void **state)
{
	static const char *two[] = {"bob", "carol", NULL};
	static const char *dup[] = {"bob", "bob", NULL};
	static const char *self[] = {"alice", NULL};
	static const char *bad_text[] = {"", "a\tb", "a\nb", "\x7f", "\xc3", "\xc0\x80",
	    "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "\xc2\x85",
	    "\xf8\x88\x80\x80\x80"};
	const char *many[GRANT_MAX_APPROVERS + 2];
	char names[GRANT_MAX_APPROVERS + 1][8], longf[GRANT_MAX_FIELD_LEN + 2];
	struct buf b, enc;
	struct grant g, out;
	size_t i;

	grant_bytes(&b, 1, "g", 2, two, 32, 0);
	assert_int_equal(grant_try(&b), EPH_OK);
	grant_bytes(&b, 1, "g", 2, two, 0, 0);
	assert_int_equal(grant_try(&b), EPH_OK);
	/* Truncated at every length. */
	grant_bytes(&b, 1, "g", 2, two, 32, 0);
	for (i = 0; i < b.len; i++)
		assert_int_equal(grant_decode(b.d, i, &out), EPH_ERR_TRUNCATED);
	buf_free(&b);
	grant_bytes(&b, 2, "g", 2, two, 32, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	grant_bytes(&b, 0, "g", 2, two, 32, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	grant_bytes(&b, 1, "g", 2, two, 32, 1);
	assert_int_equal(grant_try(&b), EPH_ERR_TRAILING);
	grant_bytes(&b, 1, "g", 2, two, 31, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	grant_bytes(&b, 1, "g", 2, two, 33, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_TOOLARGE);
	grant_bytes(&b, 1, "g", 3, two, 32, 0);
	assert_int_not_equal(grant_try(&b), EPH_OK);
	grant_bytes(&b, 1, "g", GRANT_MAX_APPROVERS + 1, two, 32, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_TOOLARGE);
	grant_bytes(&b, 1, "g", 0xffffffff, NULL, 32, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_TOOLARGE);
	grant_bytes(&b, 1, "g", 2, dup, 32, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_DUPLICATE);
	grant_bytes(&b, 1, "g", 1, self, 32, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	memset(longf, 'x', sizeof(longf));
	longf[GRANT_MAX_FIELD_LEN + 1] = '\0';
	grant_bytes(&b, 1, longf, 0, NULL, 0, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_TOOLARGE);
	longf[GRANT_MAX_FIELD_LEN] = '\0';
	grant_bytes(&b, 1, longf, 0, NULL, 0, 0);
	assert_int_equal(grant_try(&b), EPH_OK);
	for (i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		grant_bytes(&b, 1, bad_text[i], 0, NULL, 0, 0);
		if (grant_try(&b) != EPH_ERR_FORMAT)
			fail_msg("grant field %zu accepted", i);
	}
	/* The key id joins on ':' and log lines split on ' '. */
	grant_bytes(&b, 1, "g:1", 0, NULL, 0, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	grant_bytes(&b, 1, "g 1", 0, NULL, 0, 0);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	{
		static const char *colon[] = {"bo:b", NULL};

		grant_bytes(&b, 1, "g", 1, colon, 0, 0);
		assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	}
	/* login_as is one account name, and a grant without it is no grant. */
	{
		static const char *bad_login[] = {
		    "", "-root", "ro ot", "root:x", "@r", "a$b", "r\xc3\xb6t", "root\n", "../root"};

		for (i = 0; i < sizeof(bad_login) / sizeof(bad_login[0]); i++) {
			grant_bytes_as(&b, 1, "g", bad_login[i], 0, NULL, 0, 0);
			if (grant_try(&b) != EPH_ERR_FORMAT)
				fail_msg("login_as \"%s\" accepted", bad_login[i]);
		}
		grant_bytes_as(&b, 1, "g", "svc.db-1_x@ad$", 0, NULL, 0, 0);
		assert_int_equal(grant_try(&b), EPH_OK);
	}
	/* An embedded NUL. */
	buf_init(&b);
	assert_int_equal(buf_put_u32(&b, 1), EPH_OK);
	assert_int_equal(buf_put_string(&b, "a\0b", 3), EPH_OK);
	assert_int_equal(grant_try(&b), EPH_ERR_FORMAT);
	assert_int_equal(grant_decode(NULL, 0, &out), EPH_ERR_TRUNCATED);

	/* The encoder refuses what the decoder would. */
	buf_init(&enc);
	fill_grant(&g);
	g.id = "";
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	g.id = "a\x1b[31m";
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	g.id = NULL;
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	fill_grant(&g);
	g.login_as = NULL;
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	g.login_as = "root postgres";
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	g.login_as = "-oProxyCommand";
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	fill_grant(&g);
	g.requester = "al:ice";
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	assert_int_equal(enc.len, 0);
	fill_grant(&g);
	g.id = longf;
	longf[GRANT_MAX_FIELD_LEN] = 'x';
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_TOOLARGE);
	fill_grant(&g);
	g.approvers = (char **)dup;
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_DUPLICATE);
	g.approvers = (char **)self;
	g.napprovers = 1;
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_INVAL);
	for (i = 0; i <= GRANT_MAX_APPROVERS; i++) {
		snprintf(names[i], sizeof(names[i]), "u%zu", i);
		many[i] = names[i];
	}
	many[GRANT_MAX_APPROVERS + 1] = NULL;
	g.approvers = (char **)many;
	g.napprovers = GRANT_MAX_APPROVERS + 1;
	assert_int_equal(grant_encode(&g, &enc), EPH_ERR_TOOLARGE);
	g.napprovers = GRANT_MAX_APPROVERS;
	assert_int_equal(grant_encode(&g, &enc), EPH_OK);
	assert_int_equal(grant_decode(enc.d, enc.len, &out), EPH_OK);
	assert_int_equal(out.napprovers, GRANT_MAX_APPROVERS);
	grant_clear(&out);
	/* Every field at its cap is more than one extension value holds. */
	buf_reset(&enc);
	{
		static char fields[GRANT_MAX_APPROVERS][GRANT_MAX_FIELD_LEN + 1];
		char *ptrs[GRANT_MAX_APPROVERS];

		for (i = 0; i < GRANT_MAX_APPROVERS; i++) {
			memset(fields[i], 'a', GRANT_MAX_FIELD_LEN);
			fields[i][0] = (char)('A' + i);
			fields[i][GRANT_MAX_FIELD_LEN] = '\0';
			ptrs[i] = fields[i];
		}
		g.approvers = ptrs;
		assert_int_equal(grant_encode(&g, &enc), EPH_ERR_TOOLARGE);
	}
	assert_int_equal(enc.len, 0);
	buf_free(&enc);
	/* Too big for the decoder too. */
	buf_init(&b);
	assert_int_equal(buf_reserve(&b, GRANT_MAX_SIZE + 1), EPH_OK);
	memset(b.d, 0, GRANT_MAX_SIZE + 1);
	b.len = GRANT_MAX_SIZE + 1;
	assert_int_equal(grant_try(&b), EPH_ERR_TOOLARGE);
}

/* ------------------------------------------- weak EC keys (OpenSSH 9.2) */

/* Write a raw certificate blob as a line and run ssh-keygen -L on it. */
static int
keygen_list_blob(const struct buf *b, const char *type, const char *name, char **out)
{
	char *b64 = b64_encode(b->d, b->len), *path = tu_path(fx.dir, "%s", name), *line = NULL;
	int rc;

	assert_non_null(b64);
	assert_true(asprintf(&line, "%s %s\n", type, b64) > 0);
	assert_int_equal(tu_write_file(path, line, strlen(line), 0644), 0);
	rc = tu_run(out, "TZ=UTC '%s' -L -f '%s'", tu_ssh_keygen(), path);
	free(line);
	free(path);
	free(b64);
	return rc;
}

/*
 * P-256 points on the curve that OpenSSL accepts and OpenSSH refuses (x =
 * 5; x above the group order): never certified, never signed with, and a
 * certificate carrying one, as subject or as CA, does not parse, just as
 * ssh-keygen -L refuses it.
 */
static void
test_weak_ec_keys_refused(void **state)
{
	static const struct {
		unsigned long x0;
		int above_order;
	} pts[] = {{5, 0}, {0, 1}};
	const struct key *good = key_of(KEY_ECDSA_P256);
	uint8_t pt[1 + 2 * 32];
	struct cert *c;
	struct key *weak, *weakca;
	struct mk m;
	struct buf b;
	char *out = NULL;
	size_t i, n;

	for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		n = tu_ec_weak_point("prime256v1", pts[i].x0, pts[i].above_order, pt, sizeof(pt));
		weak = tu_ec_unchecked_key(KEY_ECDSA_P256, "prime256v1", pt, n, NULL);
		/* Signs with good's scalar, under the weak public point. */
		weakca = tu_ec_unchecked_key(KEY_ECDSA_P256, "prime256v1", pt, n, good);

		assert_int_equal(cert_new(&c), EPH_OK);
		assert_int_equal(cert_add_principal(c, "alice"), EPH_OK);
		c->valid_before = 1;
		assert_int_equal(cert_set_key(c, weak), EPH_OK);
		assert_int_equal(cert_sign(c, key_of(KEY_ED25519), NULL), EPH_ERR_FORMAT);
		assert_int_equal(c->blob.len, 0);
		assert_int_equal(cert_set_key(c, key_of(KEY_ED25519)), EPH_OK);
		assert_int_equal(cert_sign(c, weakca, NULL), EPH_ERR_FORMAT);
		assert_int_equal(c->blob.len, 0);
		assert_int_equal(cert_sign(c, good, NULL), EPH_OK);
		cert_free(c);

		/* Weak subject, good CA. */
		mk_init(&m, weak, key_of(KEY_ED25519));
		buf_init(&b);
		mk_build(&m, &b);
		if (tu_ssh_keygen() != NULL) {
			assert_int_not_equal(
			    keygen_list_blob(
			        &b, key_cert_type_name(KEY_ECDSA_P256), "weak-subj.pub", &out),
			    0);
			tu_assert_contains(out, "invalid elliptic curve value");
			free(out);
		}
		buf_free(&b);
		assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);

		/* Good subject, weak CA key embedded (the signature is good's). */
		mk_init(&m, key_of(KEY_ED25519), good);
		m.embed = weakca;
		buf_init(&b);
		mk_build(&m, &b);
		if (tu_ssh_keygen() != NULL) {
			assert_int_not_equal(keygen_list_blob(&b, key_cert_type_name(KEY_ED25519),
			                         "weak-ca.pub", &out),
			    0);
			tu_assert_contains(out, "invalid certificate signing key");
			free(out);
		}
		buf_free(&b);
		assert_int_equal(mk_parse(&m), EPH_ERR_FORMAT);

		/* The same certificates with good keys parse and list. */
		mk_init(&m, good, good);
		buf_init(&b);
		mk_build(&m, &b);
		if (tu_ssh_keygen() != NULL) {
			assert_int_equal(keygen_list_blob(&b, key_cert_type_name(KEY_ECDSA_P256),
			                     "good.pub", &out),
			    0);
			free(out);
		}
		buf_free(&b);
		assert_int_equal(mk_parse(&m), EPH_OK);
		key_free(weak);
		key_free(weakca);
	}
}

/* ------------------------------------------------ FIDO (sk) subject keys */

/* FIDO public keys on fx's Ed25519 and P-256 points, as parsed keys. */
static struct key *
sk_key(enum key_type plain, const char *app)
{
	struct key *k = NULL;
	struct buf b;

	buf_init(&b);
	(void)tu_sk_blob(key_of(plain), app, &b);
	assert_int_equal(key_from_blob(b.d, b.len, &k), EPH_OK);
	buf_free(&b);
	return k;
}

/*
 * Our certificates of FIDO keys, by every CA type, read back through
 * ssh-keygen -L field by field, and through our parser with the
 * application intact; ssh-keygen -s certificates of FIDO keys parse and
 * verify here, byte for byte.
 */
static void
test_sk_subject_certs(void **state)
{
	static const enum key_type plains[] = {KEY_ED25519, KEY_ECDSA_P256};
	struct key *sk, *pub;
	struct cert *c, *back;
	char *path, *pubp, *certp, *line, *file, *comment;
	size_t i, j;

	TU_REQUIRE_SSH_KEYGEN();
	for (j = 0; j < 2; j++) {
		sk = sk_key(plains[j], "ssh:");
		for (i = 0; i < NTYPES; i++) {
			c = make_cert(sk, fx.keys[i], NULL);
			assert_string_equal(key_cert_type_name(c->key->type),
			    j == 0 ? "sk-ssh-ed25519-cert-v01@openssh.com"
			           : "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com");
			path = tu_path(fx.dir, "sk%zu-%zu-cert.pub", j, i);
			write_cert(c, path, "admin@yubikey");
			assert_listing(path, c);
			assert_int_equal(cert_parse(c->blob.d, c->blob.len, &back), EPH_OK);
			assert_int_equal(back->key->type, sk->type);
			assert_string_equal(back->key->sk_application, "ssh:");
			assert_true(key_equal_public(back->key, sk));
			assert_int_equal(cert_check_ca(back, fx.keys[i]), EPH_OK);
			cert_free(back);
			cert_free(c);
			free(path);
		}
		key_free(sk);
	}

	/* ssh-keygen -s, every CA variant, on sk keys written by us. */
	kg_make_keys();
	for (i = 0; i < sizeof(kg_cas) / sizeof(kg_cas[0]); i++) {
		for (j = 0; j < 2; j++) {
			char *cak = kg_key(kg_types[kg_cas[i].key].name);

			pubp = tu_path(fx.dir, "kgsk-%s-%zu.pub", kg_cas[i].name, j);
			certp = tu_path(fx.dir, "kgsk-%s-%zu-cert.pub", kg_cas[i].name, j);
			line = tu_sk_line(key_of(plains[j]), "ssh:work", "admin@yubikey");
			assert_int_equal(tu_write_file(pubp, line, strlen(line), 0644), 0);
			free(line);
			assert_int_equal(tu_run(NULL,
			                     "'%s' -q -s '%s' %s -I sk-id -n alice -z 9 "
			                     "-V 20240101000000:20300101000000 '%s'",
			                     tu_ssh_keygen(), cak, kg_cas[i].flags, pubp),
			    0);
			comment = NULL;
			assert_int_equal(cert_load(certp, &c, &comment), EPH_OK);
			assert_true(key_type_is_sk(c->key->type));
			assert_string_equal(c->key->sk_application, "ssh:work");
			assert_string_equal(c->key_id, "sk-id");
			assert_int_equal(c->serial, 9);
			assert_string_equal(c->sig_alg, kg_cas[i].alg);
			assert_int_equal(key_load_public(pubp, &pub, NULL), EPH_OK);
			assert_true(key_equal_public(c->key, pub));
			key_free(pub);
			free(pubp);
			pubp = tu_path(fx.dir, "kg-%s.pub", kg_types[kg_cas[i].key].name);
			assert_int_equal(key_load_public(pubp, &pub, NULL), EPH_OK);
			assert_int_equal(cert_check_ca(c, pub), EPH_OK);
			key_free(pub);
			/* ssh-keygen -L and we agree on every field. */
			assert_listing(certp, c);
			assert_int_equal(cert_format_line(c, comment, &line), EPH_OK);
			file = tu_read_file(certp, NULL);
			assert_non_null(file);
			assert_int_equal(strlen(file), strlen(line) + 1);
			assert_memory_equal(file, line, strlen(line));
			free(file);
			free(line);
			free(comment);
			cert_free(c);
			free(pubp);
			free(certp);
			free(cak);
		}
	}
}

/* A FIDO key is never a CA key here: not to sign with, not embedded as
 * the signer of a certificate we parse. */
static void
test_sk_never_ca(void **state)
{
	struct key *sk = sk_key(KEY_ED25519, "ssh:");
	struct cert *c;
	struct mk m;

	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_add_principal(c, "alice"), EPH_OK);
	c->valid_before = 1;
	assert_int_equal(cert_set_key(c, key_of(KEY_ED25519)), EPH_OK);
	assert_int_equal(cert_sign(c, sk, NULL), EPH_ERR_KEYTYPE);
	sk->has_private = 1; /* even when it claims to hold the secret */
	assert_int_equal(cert_sign(c, sk, NULL), EPH_ERR_KEYTYPE);
	sk->has_private = 0;
	assert_int_equal(c->blob.len, 0);
	cert_free(c);

	mk_init(&m, key_of(KEY_ED25519), key_of(KEY_ED25519));
	m.embed = sk;
	assert_int_equal(mk_parse(&m), EPH_ERR_KEYTYPE);
	/* The same FIDO key as the subject is fine. */
	mk_init(&m, sk, key_of(KEY_ED25519));
	assert_int_equal(mk_parse(&m), EPH_OK);
	key_free(sk);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_all_types_keygen_lists),
	    cmocka_unit_test(test_sign_rsa_sha256_keygen_lists),
	    cmocka_unit_test(test_sign_variants_keygen_lists),
	    cmocka_unit_test(test_default_extensions_match_keygen),
	    cmocka_unit_test(test_keygen_certs_parse),
	    cmocka_unit_test(test_keygen_host_cert_parses),
	    cmocka_unit_test(test_keygen_refuses_tampered),
	    cmocka_unit_test(test_source_address_matches_keygen),
	    cmocka_unit_test(test_flip_every_byte_all_ca_types),
	    cmocka_unit_test(test_mk_control_parses),
	    cmocka_unit_test(test_options_order_and_known),
	    cmocka_unit_test(test_options_contents),
	    cmocka_unit_test(test_reserved_and_trailing),
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_signature_key_and_alg),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_keygen_openssh_scale),
	    cmocka_unit_test(test_truncated_and_oversized),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_build_api),
	    cmocka_unit_test(test_validity_and_principals),
	    cmocka_unit_test(test_grant_round_trip),
	    cmocka_unit_test(test_grant_malformed),
	    cmocka_unit_test(test_weak_ec_keys_refused),
	    cmocka_unit_test(test_sk_subject_certs),
	    cmocka_unit_test(test_sk_never_ca),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("cert", tests, group_setup, group_teardown);
}

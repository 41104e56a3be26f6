/* Tests for KRLs: ours read by ssh-keygen -Q, ssh-keygen -k's read by
 * us, the compact encoding, round trips, and malformed input. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "key.h"
#include "krl.h"

#include "testutil.h"

/* ------------------------------------------------------------ fixture */

enum { CA, CA2 }; /* signers */
enum { USER, USER2, USER3 }; /* subjects */

struct tcert {
	const char *name;
	int ca;
	int subject;
	uint64_t serial;
	const char *id;
};

/* Certificates made by ssh-keygen -s in the fixture. */
static const struct tcert tcerts[] = {
    {"c1", CA, USER, 1, "s1"},
    {"c5", CA, USER, 5, "s5"},
    {"c6", CA, USER, 6, "s6"},
    {"c99", CA, USER, 99, "s99"},
    {"c100", CA, USER, 100, "s100"},
    {"c150", CA, USER, 150, "s150"},
    {"c200", CA, USER, 200, "s200"},
    {"c201", CA, USER, 201, "s201"},
    {"c999", CA, USER, 999, "s999"},
    {"c1000", CA, USER, 1000, "s1000"},
    {"c1001", CA, USER, 1001, "s1001"},
    {"c1002", CA, USER, 1002, "s1002"},
    {"c1399", CA, USER, 1399, "s1399"},
    {"c1400", CA, USER, 1400, "s1400"},
    {"c1401", CA, USER, 1401, "s1401"},
    {"alice", CA, USER, 0, "alice"},
    {"bob", CA, USER, 7, "bob"},
    {"carol", CA, USER, 8, "carol"},
    {"x5", CA2, USER, 5, "x5"},
    {"x150", CA2, USER, 150, "x150"},
    {"xcarol", CA2, USER, 9, "carol"},
    {"u2", CA, USER2, 3000, "u2"},
    {"u3", CA, USER3, 3001, "u3"},
};
#define NCERTS (sizeof(tcerts) / sizeof(tcerts[0]))

static const char *const signer_names[] = {"ca", "ca2"};
static const char *const subject_names[] = {"user", "user2", "user3"};

struct fx {
	char *dir;
	struct key *signer[2];
	struct key *subject[3];
	char *signer_line[2]; /* "type base64" of the public keys */
	char *subject_line[3];
	struct cert *cert[NCERTS];
	char *cert_path[NCERTS];
};

/* The public key text of path without its comment, for spec files. */
static char *
key_text(const char *path)
{
	char *s, *sp;

	assert_non_null(s = tu_read_file(path, NULL));
	/* type SP base64 [SP comment] */
	sp = strchr(s, ' ');
	assert_non_null(sp);
	if ((sp = strchr(sp + 1, ' ')) != NULL || (sp = strchr(s, '\n')) != NULL)
		*sp = '\0';
	return s;
}

static int
fx_setup(void **state)
{
	static const char *const signer_type[] = {"-t ed25519", "-t ecdsa -b 256"};
	static const char *const subject_type[] = {"-t ed25519", "-t ed25519", "-t ecdsa -b 384"};
	struct fx *fx;
	char *p;
	size_t i;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	*state = fx;
	if (tu_ssh_keygen() == NULL)
		return 0; /* every test here skips */
	fx->dir = tu_mkdtemp();
	for (i = 0; i < 2; i++) {
		if (tu_run(NULL, "%s -q %s -N '' -C '' -f %s/%s", tu_ssh_keygen(), signer_type[i],
		        fx->dir, signer_names[i]) != 0)
			return -1;
		p = tu_path(fx->dir, "%s.pub", signer_names[i]);
		if (key_load_public(p, &fx->signer[i], NULL) != EPH_OK)
			return -1;
		fx->signer_line[i] = key_text(p);
		free(p);
	}
	for (i = 0; i < 3; i++) {
		if (tu_run(NULL, "%s -q %s -N '' -C '' -f %s/%s", tu_ssh_keygen(), subject_type[i],
		        fx->dir, subject_names[i]) != 0)
			return -1;
		p = tu_path(fx->dir, "%s.pub", subject_names[i]);
		if (key_load_public(p, &fx->subject[i], NULL) != EPH_OK)
			return -1;
		fx->subject_line[i] = key_text(p);
		free(p);
	}
	for (i = 0; i < NCERTS; i++) {
		const struct tcert *t = &tcerts[i];

		if (tu_run(NULL,
		        "cd %s && cp %s.pub %s.pub && %s -q -s %s -I %s "
		        "-z %llu -n root %s.pub",
		        fx->dir, subject_names[t->subject], t->name, tu_ssh_keygen(),
		        signer_names[t->ca], t->id, (unsigned long long)t->serial, t->name) != 0)
			return -1;
		fx->cert_path[i] = tu_path(fx->dir, "%s-cert.pub", t->name);
		if (cert_load(fx->cert_path[i], &fx->cert[i], NULL) != EPH_OK)
			return -1;
	}
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	size_t i;

	if (fx == NULL)
		return 0;
	for (i = 0; i < 2; i++) {
		key_free(fx->signer[i]);
		free(fx->signer_line[i]);
	}
	for (i = 0; i < 3; i++) {
		key_free(fx->subject[i]);
		free(fx->subject_line[i]);
	}
	for (i = 0; i < NCERTS; i++) {
		cert_free(fx->cert[i]);
		free(fx->cert_path[i]);
	}
	if (fx->dir != NULL) {
		tu_rmrf(fx->dir);
		free(fx->dir);
	}
	free(fx);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* ssh-keygen -Q's verdict on cert path from its output: 1 revoked, 0 ok. */
static int
keygen_verdict(const char *out, const char *path)
{
	size_t n = strlen(path);
	const char *line = out, *nl;

	while (*line != '\0') {
		nl = strchr(line, '\n');
		if (strncmp(line, path, n) == 0 && line[n] == ' ') {
			if (strstr(line, ": REVOKED") != NULL &&
			    (nl == NULL || strstr(line, ": REVOKED") < nl))
				return 1;
			if (strstr(line, ": ok") != NULL &&
			    (nl == NULL || strstr(line, ": ok") < nl))
				return 0;
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return -1;
}

/*
 * Every fixture certificate against the KRL file: ssh-keygen -Q, our
 * parser (krl_load + krl_check_cert) and the expectation (the names in
 * revoked) must all agree.
 */
static void
check_all(struct fx *fx, const char *krlpath, const char *revoked)
{
	struct krl *k = NULL;
	struct buf cmd;
	char *out = NULL;
	size_t i;
	int rc, want, kg, lib;

	buf_init(&cmd);
	for (i = 0; i < NCERTS; i++) {
		assert_int_equal(buf_put(&cmd, " ", 1), EPH_OK);
		assert_int_equal(buf_put(&cmd, fx->cert_path[i], strlen(fx->cert_path[i])), EPH_OK);
	}
	assert_int_equal(buf_put_u8(&cmd, 0), EPH_OK);
	rc = tu_run(&out, "%s -Q -f %s%s", tu_ssh_keygen(), krlpath, (char *)cmd.d);
	if (rc != 0 && rc != 1)
		fail_msg("ssh-keygen -Q -f %s: exit %d: %s", krlpath, rc, out);
	assert_int_equal(krl_load(krlpath, &k), EPH_OK);
	for (i = 0; i < NCERTS; i++) {
		want = in_list(revoked, tcerts[i].name);
		kg = keygen_verdict(out, fx->cert_path[i]);
		rc = krl_check_cert(k, fx->cert[i]);
		lib = rc == EPH_ERR_REVOKED ? 1 : rc == EPH_OK ? 0 : rc;
		if (kg != want || lib != want)
			fail_msg("%s (serial %llu, id %s): want %d, ssh-keygen %d, "
			         "lib %d",
			    tcerts[i].name, (unsigned long long)tcerts[i].serial, tcerts[i].id,
			    want, kg, lib);
	}
	krl_free(k);
	free(out);
	buf_free(&cmd);
}

static char *
write_krl(struct fx *fx, const char *name, const struct krl *k)
{
	struct buf b;
	char *p = tu_path(fx->dir, "%s", name);

	buf_init(&b);
	assert_int_equal(krl_serialize(k, &b), EPH_OK);
	assert_int_equal(tu_write_file(p, b.d, b.len, 0644), 0);
	buf_free(&b);
	return p;
}

static void
write_text(const char *path, const char *s)
{
	assert_int_equal(tu_write_file(path, s, strlen(s), 0644), 0);
}

/* Run ssh-keygen with these arguments; it must succeed. */
static void keygen_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
keygen_ok(const char *fmt, ...)
{
	char *out = NULL, *args = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	assert_true(vasprintf(&args, fmt, ap) > 0);
	va_end(ap);
	rc = tu_run(&out, "%s %s", tu_ssh_keygen(), args);
	if (rc != 0)
		fail_msg("ssh-keygen %s: exit %d: %s", args, rc, out);
	free(out);
	free(args);
}

/* Skip past the KRL header; returns the offset of the first section. */
static size_t
skip_header(struct buf *b)
{
	assert_int_equal(buf_skip(b, 8 + 4 + 8 + 8 + 8), EPH_OK);
	assert_int_equal(buf_get_string(b, NULL, NULL, KRL_MAX_SIZE), EPH_OK);
	assert_int_equal(buf_get_string(b, NULL, NULL, KRL_MAX_SIZE), EPH_OK);
	return b->off;
}

static void appendf(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
appendf(struct buf *out, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(tmp));
	if (out->len > 0)
		assert_int_equal(buf_put(out, " ", 1), EPH_OK);
	assert_int_equal(buf_put(out, tmp, (size_t)n), EPH_OK);
}

/*
 * The section layout of a KRL, read independently of krl.c: "Ck" / "C*"
 * for a certificate section of one CA / any CA, then its subsections
 * "L1,2" (list), "R100-200" (range), "B1000+401" (bitmap offset + bits),
 * "I2" (key ids); "H1:n" and "H256:n" for hash sections, "E:n" for
 * explicit keys.
 */
static char *
describe(const uint8_t *d, size_t n)
{
	struct buf b, sect, sub, out;
	const uint8_t *p;
	size_t len, cnt, bits;
	uint64_t x, y;
	uint8_t type;
	char *s;

	buf_init_view(&b, d, n);
	buf_init(&out);
	skip_header(&b);
	while (buf_remaining(&b) > 0) {
		assert_int_equal(buf_get_u8(&b, &type), EPH_OK);
		assert_int_equal(buf_get_stringb(&b, &sect, KRL_MAX_SIZE), EPH_OK);
		if (type != KRL_SECTION_CERTIFICATES) {
			for (cnt = 0; buf_remaining(&sect) > 0; cnt++)
				assert_int_equal(
				    buf_get_string(&sect, NULL, NULL, KRL_MAX_SIZE), EPH_OK);
			appendf(&out, "%s:%zu",
			    type == KRL_SECTION_EXPLICIT_KEY           ? "E"
			        : type == KRL_SECTION_FINGERPRINT_SHA1 ? "H1"
			                                               : "H256",
			    cnt);
			continue;
		}
		assert_int_equal(buf_get_string(&sect, NULL, &len, KRL_MAX_SIZE), EPH_OK);
		appendf(&out, "C%s", len == 0 ? "*" : "k");
		assert_int_equal(buf_get_string(&sect, NULL, NULL, KRL_MAX_SIZE), EPH_OK);
		while (buf_remaining(&sect) > 0) {
			assert_int_equal(buf_get_u8(&sect, &type), EPH_OK);
			assert_int_equal(buf_get_stringb(&sect, &sub, KRL_MAX_SIZE), EPH_OK);
			switch (type) {
			case KRL_SECTION_CERT_SERIAL_LIST: {
				struct buf l;

				buf_init(&l);
				while (buf_remaining(&sub) > 0) {
					char num[32];

					assert_int_equal(buf_get_u64(&sub, &x), EPH_OK);
					snprintf(num, sizeof(num), "%s%llu", l.len ? "," : "L",
					    (unsigned long long)x);
					assert_int_equal(buf_put(&l, num, strlen(num)), EPH_OK);
				}
				assert_int_equal(buf_put_u8(&l, 0), EPH_OK);
				appendf(&out, "%s", (char *)l.d);
				buf_free(&l);
				break;
			}
			case KRL_SECTION_CERT_SERIAL_RANGE:
				assert_int_equal(buf_get_u64(&sub, &x), EPH_OK);
				assert_int_equal(buf_get_u64(&sub, &y), EPH_OK);
				appendf(&out, "R%llu-%llu", (unsigned long long)x,
				    (unsigned long long)y);
				break;
			case KRL_SECTION_CERT_SERIAL_BITMAP:
				assert_int_equal(buf_get_u64(&sub, &x), EPH_OK);
				assert_int_equal(
				    buf_get_bignum2_bytes(&sub, &p, &len, KRL_MAX_SIZE), EPH_OK);
				assert_true(len > 0);
				for (bits = len * 8; !(p[0] & (1u << ((bits - 1) % 8))); bits--)
					;
				appendf(&out, "B%llu+%zu", (unsigned long long)x, bits);
				break;
			case KRL_SECTION_CERT_KEY_ID:
				for (cnt = 0; buf_remaining(&sub) > 0; cnt++)
					assert_int_equal(
					    buf_get_string(&sub, NULL, NULL, KRL_MAX_SIZE), EPH_OK);
				appendf(&out, "I%zu", cnt);
				break;
			default: fail_msg("subsection type %u", type);
			}
			assert_int_equal(buf_remaining(&sub), 0);
		}
	}
	assert_int_equal(buf_put_u8(&out, 0), EPH_OK);
	s = strdup((char *)out.d);
	buf_free(&out);
	return s;
}

static char *
describe_file(const char *path)
{
	size_t n;
	char *d = tu_read_file(path, &n), *s;

	assert_non_null(d);
	s = describe((uint8_t *)d, n);
	free(d);
	return s;
}

/* ------------------------------------------------- lib -> ssh-keygen */

/* Serial 5, 100-200, every other serial of 1000..1400 and key id bob
 * for CA; key id carol for any CA; user2's key by SHA-256. */
static struct krl *
make_krl_a(struct fx *fx)
{
	struct krl *k;
	uint64_t s;

	assert_int_equal(krl_new(&k), EPH_OK);
	krl_set_generated_date(k, 1700000000);
	assert_int_equal(krl_add_serial(k, fx->signer[CA], 5), EPH_OK);
	assert_int_equal(krl_add_serial_range(k, fx->signer[CA], 100, 200), EPH_OK);
	for (s = 1000; s <= 1400; s += 2)
		assert_int_equal(krl_add_serial(k, fx->signer[CA], s), EPH_OK);
	assert_int_equal(krl_add_key_id(k, fx->signer[CA], "bob"), EPH_OK);
	assert_int_equal(krl_add_key_id(k, NULL, "carol"), EPH_OK);
	assert_int_equal(krl_add_key(k, fx->subject[USER2]), EPH_OK);
	return k;
}

#define REVOKED_A "c5 c100 c150 c200 c1000 c1002 c1400 bob carol xcarol u2"

static void
test_lib_krl_read_by_keygen(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	char *p, *desc;

	TU_REQUIRE_SSH_KEYGEN();
	k = make_krl_a(fx);
	p = write_krl(fx, "a.krl", k);
	check_all(fx, p, REVOKED_A);
	/* A list for 5, one range for 100-200, one 401-bit bitmap for the
	 * evens of 1000..1400, then key ids; any-CA ids; one SHA-256. */
	desc = describe_file(p);
	assert_string_equal(desc, "Ck L5 R100-200 B1000+401 I1 C* I1 H256:1");
	free(desc);
	free(p);
	krl_free(k);
}

/* The same revocations through ssh-keygen -k: ours is no larger, and in
 * fact the same bytes apart from the generation date. */
static void
test_lib_krl_as_compact_as_keygen(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	struct buf spec;
	char *p, *ours, *theirs, *spec1, *spec2, *spec3, *ca;
	const char *tail = "serial: 100-200\nid: bob\nserial: 5\n";
	size_t on, tn;
	uint64_t s;
	char line[64];

	TU_REQUIRE_SSH_KEYGEN();
	buf_init(&spec);
	/* Out of order on purpose: ssh-keygen sorts, so do we. */
	for (s = 1400; s >= 1000; s -= 2) {
		snprintf(line, sizeof(line), "serial: %llu\n", (unsigned long long)s);
		assert_int_equal(buf_put(&spec, line, strlen(line)), EPH_OK);
	}
	assert_int_equal(buf_put(&spec, tail, strlen(tail) + 1), EPH_OK);
	spec1 = tu_path(fx->dir, "spec1");
	spec2 = tu_path(fx->dir, "spec2");
	spec3 = tu_path(fx->dir, "spec3");
	write_text(spec1, (char *)spec.d);
	write_text(spec2, "id: carol\n");
	assert_true(asprintf(&p, "sha256: %s\n", fx->subject_line[USER2]) > 0);
	write_text(spec3, p);
	free(p);
	ca = tu_path(fx->dir, "ca.pub");
	p = tu_path(fx->dir, "keygen-a.krl");
	keygen_ok("-q -k -f %s -s %s %s", p, ca, spec1);
	keygen_ok("-q -k -u -f %s -s none %s", p, spec2);
	keygen_ok("-q -k -u -f %s %s", p, spec3);
	check_all(fx, p, REVOKED_A);

	k = make_krl_a(fx);
	free(write_krl(fx, "a.krl", k));
	free(p);
	p = tu_path(fx->dir, "a.krl");
	ours = tu_read_file(p, &on);
	free(p);
	p = tu_path(fx->dir, "keygen-a.krl");
	theirs = tu_read_file(p, &tn);
	assert_non_null(ours);
	assert_non_null(theirs);
	assert_true(on <= tn);
	assert_int_equal(on, tn);
	/* Bytes 20..27 are the generation date. */
	assert_memory_equal(ours, theirs, 20);
	assert_memory_equal(ours + 28, theirs + 28, on - 28);

	free(ours);
	free(theirs);
	free(p);
	free(ca);
	free(spec1);
	free(spec2);
	free(spec3);
	buf_free(&spec);
	krl_free(k);
}

/*
 * A pseudo-random mix of single serials, short and long runs and gaps of
 * every size: ssh-keygen -k and krl_serialize choose the same encodings,
 * byte for byte (apart from the date).
 */
static void
test_lib_matches_keygen_mixed(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	struct buf spec, ours;
	char *p, *specp, *ca, *theirs, line[64];
	uint64_t lo = 0, len, x = 12345;
	size_t i, tn;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(krl_new(&k), EPH_OK);
	krl_set_generated_date(k, 1700000000);
	buf_init(&spec);
	buf_init(&ours);
	for (i = 0; i < 3000; i++) {
		/* A fixed LCG: the same serials on every run. */
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		lo += 2 + (x >> 33) % ((x >> 20) % 4 == 0 ? 400 : 40);
		len = (x >> 40) % 10 == 0 ? (x >> 44) % 300 : (x >> 40) % 10 == 1 ? 1 : 0;
		if (len == 0)
			snprintf(line, sizeof(line), "serial: %llu\n", (unsigned long long)lo);
		else
			snprintf(line, sizeof(line), "serial: %llu-%llu\n", (unsigned long long)lo,
			    (unsigned long long)(lo + len));
		assert_int_equal(buf_put(&spec, line, strlen(line)), EPH_OK);
		assert_int_equal(krl_add_serial_range(k, fx->signer[CA], lo, lo + len), EPH_OK);
		lo += len;
	}
	assert_int_equal(buf_put_u8(&spec, 0), EPH_OK);
	specp = tu_path(fx->dir, "spec-mixed");
	write_text(specp, (char *)spec.d);
	ca = tu_path(fx->dir, "ca.pub");
	p = tu_path(fx->dir, "keygen-mixed.krl");
	keygen_ok("-q -k -f %s -s %s %s", p, ca, specp);
	assert_non_null(theirs = tu_read_file(p, &tn));
	assert_int_equal(krl_serialize(k, &ours), EPH_OK);
	assert_true(ours.len <= tn);
	assert_int_equal(ours.len, tn);
	assert_memory_equal(ours.d, theirs, 20);
	assert_memory_equal(ours.d + 28, theirs + 28, tn - 28);
	free(theirs);
	free(p);
	free(ca);
	free(specp);
	buf_free(&spec);
	buf_free(&ours);
	krl_free(k);
}

/*
 * Every odd serial of 1..100000: ssh-keygen -k writes this as one huge
 * bitmap its own parser refuses ("bignum is too large"); ours splits the
 * bitmaps at 16384 bits, and ssh-keygen reads the result.
 */
static void
test_lib_bitmaps_stay_readable(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	char *p, *desc, *tok;
	uint64_t s;
	unsigned long long off;
	size_t bits, nbitmaps = 0;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(krl_new(&k), EPH_OK);
	for (s = 1; s <= 100000; s += 2)
		assert_int_equal(krl_add_serial(k, fx->signer[CA], s), EPH_OK);
	p = write_krl(fx, "odd.krl", k);
	check_all(fx, p, "c1 c5 c99 c201 c999 c1001 c1399 c1401 bob u3");
	desc = describe_file(p);
	for (tok = strtok(desc, " "); tok != NULL; tok = strtok(NULL, " ")) {
		if (*tok != 'B')
			continue;
		assert_int_equal(sscanf(tok, "B%llu+%zu", &off, &bits), 2);
		assert_true(bits <= KRL_BITMAP_MAX_BITS);
		nbitmaps++;
	}
	/* 100000 serials in at most 16384-bit windows. */
	assert_true(nbitmaps >= 100000 / KRL_BITMAP_MAX_BITS + 1);
	assert_true(nbitmaps <= 100000 / KRL_BITMAP_MAX_BITS + 2);
	free(desc);
	free(p);
	krl_free(k);
}

/* ------------------------------------------------- ssh-keygen -> lib */

static void
test_keygen_krl_read_by_lib(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	char *p, *spec, *ca, *text, *desc;

	TU_REQUIRE_SSH_KEYGEN();
	spec = tu_path(fx->dir, "specd");
	assert_true(
	    asprintf(&text,
	        "# revocations by serial, id and key\n"
	        "serial: 1\n"
	        "serial: 10-150\n"
	        "serial: 1000\nserial: 1001\nserial: 1002\n"
	        "serial: 1399\nserial: 1401\nserial: 5000\n"
	        "id: alice\n"
	        "sha256: %s\n"
	        "key: %s\n"
	        "sha1: %s\n",
	        fx->subject_line[USER2], fx->subject_line[USER3], fx->signer_line[CA2]) > 0);
	write_text(spec, text);
	free(text);
	ca = tu_path(fx->dir, "ca.pub");
	p = tu_path(fx->dir, "keygen-d.krl");
	keygen_ok("-q -k -z 42 -f %s -s %s %s", p, ca, spec);
	/* Every kind of section ssh-keygen writes: list, range, bitmap, key
	 * id, explicit key, SHA-1 and SHA-256. */
	desc = describe_file(p);
	assert_string_equal(desc, "Ck B1+1 R10-150 B1000+3 B1399+3 L5000 I1 E:1 H1:1 H256:1");
	free(desc);
	check_all(fx, p,
	    "c1 c99 c100 c150 alice u2 u3 x5 x150 xcarol "
	    "c1000 c1001 c1002 c1399 c1401");
	assert_int_equal(krl_load(p, &k), EPH_OK);
	assert_int_equal(krl_version(k), 42);
	assert_true(krl_generated_date(k) > 1600000000);
	assert_int_equal(krl_check_key(k, fx->subject[USER3]), EPH_ERR_REVOKED);
	assert_int_equal(krl_check_key(k, fx->subject[USER2]), EPH_ERR_REVOKED);
	assert_int_equal(krl_check_key(k, fx->signer[CA2]), EPH_ERR_REVOKED);
	assert_int_equal(krl_check_key(k, fx->subject[USER]), EPH_OK);
	assert_int_equal(krl_check_key(k, fx->signer[CA]), EPH_OK);
	krl_free(k);
	free(p);
	free(ca);
	free(spec);
}

/* ssh-keygen -k with key and certificate files, -u updates, -s none
 * (any CA) and a comment. */
static void
test_keygen_krl_files_and_any_ca(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	char *p, *spec, *user3, *bob;

	TU_REQUIRE_SSH_KEYGEN();
	p = tu_path(fx->dir, "keygen-e.krl");
	user3 = tu_path(fx->dir, "user3.pub");
	bob = tu_path(fx->dir, "bob-cert.pub");
	spec = tu_path(fx->dir, "spece");
	write_text(spec, "serial: 150\nid: carol\n");
	keygen_ok("-q -k -z 7 -f %s %s", p, user3);
	/* A certificate file revokes its serial under its CA. */
	keygen_ok("-q -k -u -f %s %s", p, bob);
	keygen_ok("-q -k -u -f %s -s none %s", p, spec);
	check_all(fx, p, "u3 bob c150 x150 carol xcarol");
	assert_int_equal(krl_load(p, &k), EPH_OK);
	assert_int_equal(krl_version(k), 7);
	assert_string_equal(krl_comment(k), "");
	krl_free(k);

	keygen_ok("-q -k -f %s -z 1 -s none %s", p, spec);
	keygen_ok("-q -k -u -f %s -z 9 %s", p, user3);
	assert_int_equal(krl_load(p, &k), EPH_OK);
	assert_int_equal(krl_version(k), 9);
	krl_free(k);
	free(p);
	free(spec);
	free(user3);
	free(bob);
}

/* ------------------------------------------------------- round trips */

static void
roundtrip_same(const uint8_t *d, size_t n, struct buf *out)
{
	struct krl *k = NULL, *k2 = NULL;
	struct buf again;

	buf_init(&again);
	assert_int_equal(krl_parse(d, n, &k), EPH_OK);
	assert_int_equal(krl_serialize(k, out), EPH_OK);
	assert_int_equal(krl_parse(out->d, out->len, &k2), EPH_OK);
	assert_int_equal(krl_serialize(k2, &again), EPH_OK);
	assert_int_equal(out->len, again.len);
	assert_memory_equal(out->d, again.d, out->len);
	assert_int_equal(krl_version(k), krl_version(k2));
	assert_int_equal(krl_generated_date(k), krl_generated_date(k2));
	assert_string_equal(krl_comment(k), krl_comment(k2));
	krl_free(k);
	krl_free(k2);
	buf_free(&again);
}

static void
test_roundtrip_lib(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	struct buf b, out;

	TU_REQUIRE_SSH_KEYGEN();
	k = make_krl_a(fx);
	krl_set_version(k, 1234);
	assert_int_equal(krl_set_comment(k, "grants revoked by sshca"), EPH_OK);
	buf_init(&b);
	buf_init(&out);
	assert_int_equal(krl_serialize(k, &b), EPH_OK);
	roundtrip_same(b.d, b.len, &out);
	/* Ours is already canonical: parsing and writing changes nothing. */
	assert_int_equal(out.len, b.len);
	assert_memory_equal(out.d, b.d, b.len);
	krl_free(k);
	assert_int_equal(krl_parse(out.d, out.len, &k), EPH_OK);
	assert_int_equal(krl_version(k), 1234);
	assert_int_equal(krl_generated_date(k), 1700000000);
	assert_string_equal(krl_comment(k), "grants revoked by sshca");
	krl_free(k);
	buf_free(&b);
	buf_free(&out);
}

/* ssh-keygen's KRL, parsed and written by us, means the same to
 * ssh-keygen (explicit keys become SHA-256 entries; SHA-1 stays). */
static void
test_roundtrip_keygen(void **state)
{
	struct fx *fx = *state;
	struct buf out;
	char *p, *d, *desc;
	size_t n;

	TU_REQUIRE_SSH_KEYGEN();
	/* Made by test_keygen_krl_read_by_lib (cmocka runs in order). */
	p = tu_path(fx->dir, "keygen-d.krl");
	if ((d = tu_read_file(p, &n)) == NULL)
		skip();
	free(p);
	buf_init(&out);
	roundtrip_same((uint8_t *)d, n, &out);
	p = tu_path(fx->dir, "rt-d.krl");
	assert_int_equal(tu_write_file(p, out.d, out.len, 0644), 0);
	desc = describe(out.d, out.len);
	assert_non_null(strstr(desc, "I1 H1:1 H256:2"));
	assert_null(strstr(desc, "E:"));
	check_all(fx, p,
	    "c1 c99 c100 c150 alice u2 u3 x5 x150 xcarol "
	    "c1000 c1001 c1002 c1399 c1401");
	free(desc);
	free(p);
	free(d);
	buf_free(&out);
}

/* ------------------------------------------------------- API checks */

static void
test_api(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	struct cert c;
	struct buf b;
	char *desc;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(krl_new(&k), EPH_OK);
	assert_int_equal(krl_add_serial(k, NULL, 0), EPH_ERR_INVAL);
	assert_int_equal(krl_add_serial_range(k, NULL, 0, 5), EPH_ERR_INVAL);
	assert_int_equal(krl_add_serial_range(k, NULL, 6, 5), EPH_ERR_INVAL);
	assert_int_equal(krl_add_key_id(k, NULL, NULL), EPH_ERR_INVAL);

	/* Adjacent and overlapping serials merge into one run. */
	assert_int_equal(krl_add_serial(k, fx->signer[CA], 7), EPH_OK);
	assert_int_equal(krl_add_serial(k, fx->signer[CA], 5), EPH_OK);
	assert_int_equal(krl_add_serial(k, fx->signer[CA], 6), EPH_OK);
	assert_int_equal(krl_add_serial_range(k, fx->signer[CA], 40, 100), EPH_OK);
	assert_int_equal(krl_add_serial_range(k, fx->signer[CA], 20, 30), EPH_OK);
	assert_int_equal(krl_add_serial_range(k, fx->signer[CA], 8, 45), EPH_OK);
	assert_int_equal(krl_add_key_id(k, fx->signer[CA], "b"), EPH_OK);
	assert_int_equal(krl_add_key_id(k, fx->signer[CA], "a"), EPH_OK);
	assert_int_equal(krl_add_key_id(k, fx->signer[CA], "b"), EPH_OK);
	assert_int_equal(krl_add_key(k, fx->subject[USER2]), EPH_OK);
	assert_int_equal(krl_add_key(k, fx->subject[USER2]), EPH_OK);
	buf_init(&b);
	assert_int_equal(krl_serialize(k, &b), EPH_OK);
	desc = describe(b.d, b.len);
	assert_string_equal(desc, "Ck R5-100 I2 H256:1");
	free(desc);
	buf_free(&b);

	/* A hand-made certificate: serial, id and CA are what is matched. */
	memset(&c, 0, sizeof(c));
	c.key = fx->subject[USER];
	c.signature_key = fx->signer[CA];
	c.key_id = (char *)"z";
	c.serial = 4;
	assert_int_equal(krl_check_cert(k, &c), EPH_OK);
	c.serial = 5;
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	c.serial = 100;
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	c.serial = 101;
	assert_int_equal(krl_check_cert(k, &c), EPH_OK);
	c.key_id = (char *)"a";
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	c.signature_key = fx->signer[CA2];
	assert_int_equal(krl_check_cert(k, &c), EPH_OK);
	c.serial = 5;
	assert_int_equal(krl_check_cert(k, &c), EPH_OK);
	c.key = fx->subject[USER2];
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	/* Revoking a CA key revokes everything it signed. */
	c.key = fx->subject[USER];
	assert_int_equal(krl_add_key(k, fx->signer[CA2]), EPH_OK);
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	c.signature_key = NULL;
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_INVAL);
	c.signature_key = fx->signer[CA2];
	c.key_id = NULL;
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_INVAL);

	/* The whole serial space. */
	c.signature_key = fx->signer[CA];
	assert_int_equal(krl_add_serial_range(k, NULL, 1, UINT64_MAX), EPH_OK);
	c.key_id = (char *)"z";
	c.serial = UINT64_MAX;
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	c.serial = 0; /* "no serial" is never revoked by serial */
	assert_int_equal(krl_check_cert(k, &c), EPH_OK);
	assert_int_equal(krl_add_serial_range(k, NULL, 10, UINT64_MAX), EPH_OK);
	assert_int_equal(krl_add_serial(k, NULL, UINT64_MAX), EPH_OK);

	assert_int_equal(krl_set_comment(k, "x"), EPH_OK);
	assert_string_equal(krl_comment(k), "x");
	assert_int_equal(krl_set_comment(k, NULL), EPH_OK);
	assert_string_equal(krl_comment(k), "");
	krl_free(k);
	krl_free(NULL);
}

/* The entry cap bounds memory for built and parsed KRLs alike. */
static void
test_entry_cap(void **state)
{
	struct krl *k;
	struct buf b, list;
	uint64_t s;
	size_t i;

	(void)state;
	assert_int_equal(krl_new(&k), EPH_OK);
	for (i = 0; i < KRL_MAX_ENTRIES; i++)
		assert_int_equal(krl_add_serial(k, NULL, 2 * (uint64_t)i + 3), EPH_OK);
	assert_int_equal(krl_add_serial(k, NULL, 1), EPH_ERR_TOOLARGE);
	assert_int_equal(krl_add_key_id(k, NULL, "x"), EPH_ERR_TOOLARGE);
	/* Filling a gap merges two runs into one: allowed, and frees one. */
	assert_int_equal(krl_add_serial(k, NULL, 4), EPH_OK);
	assert_int_equal(krl_add_key_id(k, NULL, "x"), EPH_OK);
	krl_free(k);

	/* A list of KRL_MAX_ENTRIES + 1 separate serials. */
	buf_init(&b);
	buf_init(&list);
	assert_int_equal(buf_put(&b, "SSHKRL\n\0", 8), EPH_OK);
	assert_int_equal(buf_put_u32(&b, 1), EPH_OK);
	assert_int_equal(buf_put_u64(&b, 0), EPH_OK);
	assert_int_equal(buf_put_u64(&b, 0), EPH_OK);
	assert_int_equal(buf_put_u64(&b, 0), EPH_OK);
	assert_int_equal(buf_put_string(&b, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_string(&b, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_string(&list, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_string(&list, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&list, KRL_SECTION_CERT_SERIAL_LIST), EPH_OK);
	assert_int_equal(buf_put_u32(&list, (uint32_t)(8 * (KRL_MAX_ENTRIES + 1))), EPH_OK);
	for (s = 1; s <= KRL_MAX_ENTRIES + 1; s++)
		assert_int_equal(buf_put_u64(&list, 2 * s), EPH_OK);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &list), EPH_OK);
	assert_int_equal(krl_parse(b.d, b.len, &k), EPH_ERR_TOOLARGE);
	assert_null(k);
	buf_free(&b);
	buf_free(&list);
}

static void
test_load_checks(void **state)
{
	struct fx *fx = *state;
	struct krl *k;
	char *p, *missing;

	TU_REQUIRE_SSH_KEYGEN();
	k = make_krl_a(fx);
	p = write_krl(fx, "perm.krl", k);
	krl_free(k);
	assert_int_equal(krl_load(p, &k), EPH_OK);
	krl_free(k);
	/* Anyone could have written revocations out of it. */
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(krl_load(p, &k), EPH_ERR_PERM);
	assert_null(k);
	missing = tu_path(fx->dir, "missing.krl");
	assert_int_equal(krl_load(missing, &k), EPH_ERR_IO);
	free(missing);
	free(p);
}

/* ------------------------------------------------------- malformed */

static void
put_header(struct buf *b)
{
	assert_int_equal(buf_put(b, "SSHKRL\n\0", 8), EPH_OK);
	assert_int_equal(buf_put_u32(b, 1), EPH_OK);
	assert_int_equal(buf_put_u64(b, 1), EPH_OK);
	assert_int_equal(buf_put_u64(b, 1700000000), EPH_OK);
	assert_int_equal(buf_put_u64(b, 0), EPH_OK);
	assert_int_equal(buf_put_string(b, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_cstring(b, "test"), EPH_OK);
}

/* Parse a header plus one any-CA certificate section holding one
 * subsection of type st with body (n bytes). */
static int
parse_cert_sub(uint8_t st, const void *body, size_t n)
{
	struct buf b, sect;
	struct krl *k = NULL;
	int r;

	buf_init(&b);
	buf_init(&sect);
	put_header(&b);
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&sect, st), EPH_OK);
	assert_int_equal(buf_put_string(&sect, body, n), EPH_OK);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &sect), EPH_OK);
	r = krl_parse(b.d, b.len, &k);
	if (r != EPH_OK)
		assert_null(k);
	krl_free(k);
	buf_free(&b);
	buf_free(&sect);
	return r;
}

static int
parse_section(uint8_t type, const void *body, size_t n)
{
	struct buf b;
	struct krl *k = NULL;
	int r;

	buf_init(&b);
	put_header(&b);
	assert_int_equal(buf_put_u8(&b, type), EPH_OK);
	assert_int_equal(buf_put_string(&b, body, n), EPH_OK);
	r = krl_parse(b.d, b.len, &k);
	if (r != EPH_OK)
		assert_null(k);
	krl_free(k);
	buf_free(&b);
	return r;
}

static void
u64s(struct buf *b, size_t n, const uint64_t *v)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_put_u64(b, v[i]), EPH_OK);
}

static void
test_malformed_header(void **state)
{
	struct buf b;
	struct krl *k = NULL;
	uint8_t *d;

	(void)state;
	buf_init(&b);
	put_header(&b);
	assert_int_equal(krl_parse(b.d, b.len, &k), EPH_OK);
	assert_int_equal(krl_version(k), 1);
	assert_string_equal(krl_comment(k), "test");
	krl_free(k);
	k = NULL;

	assert_int_equal(krl_parse(NULL, 0, &k), EPH_ERR_TRUNCATED);
	d = malloc(b.len);
	assert_non_null(d);
	memcpy(d, b.d, b.len);
	d[0] = 'X';
	assert_int_equal(krl_parse(d, b.len, &k), EPH_ERR_FORMAT);
	memcpy(d, b.d, b.len);
	d[7] = '\n'; /* magic without its NUL */
	assert_int_equal(krl_parse(d, b.len, &k), EPH_ERR_FORMAT);
	memcpy(d, b.d, b.len);
	d[11] = 2; /* format version 2 */
	assert_int_equal(krl_parse(d, b.len, &k), EPH_ERR_FORMAT);
	memcpy(d, b.d, b.len);
	d[36] = 0xff; /* reserved string length */
	assert_int_not_equal(krl_parse(d, b.len, &k), EPH_OK);
	assert_null(k);
	free(d);

	/* Trailing junk after the header: a section type with no body. */
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(krl_parse(b.d, b.len, &k), EPH_ERR_TRUNCATED);
	/* A section length past the end. */
	assert_int_equal(buf_put_u32(&b, 0xffffffffu), EPH_OK);
	assert_int_not_equal(krl_parse(b.d, b.len, &k), EPH_OK);
	assert_null(k);
	/* Over the size cap. */
	assert_int_equal(krl_parse(b.d, KRL_MAX_SIZE + 1, &k), EPH_ERR_TOOLARGE);
	buf_free(&b);
}

static void
test_malformed_sections(void **state)
{
	struct buf body;
	uint8_t h[2][32];
	static const uint64_t ok_list[] = {3, 5, 9};
	static const uint64_t unsorted[] = {5, 3};
	static const uint64_t dup[] = {5, 5};
	static const uint64_t zero[] = {0};
	static const uint64_t ok_range[] = {10, 20};
	static const uint64_t bad_range[] = {20, 10};
	static const uint64_t zero_range[] = {0, 10};
	static const uint64_t long_range[] = {10, 20, 30};
	uint8_t mag[KRL_BITMAP_MAX_BITS / 8 + 2];

	(void)state;
	buf_init(&body);

	/* Serial lists: ascending, no zero, whole u64s only. */
	u64s(&body, 3, ok_list);
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_SERIAL_LIST, body.d, body.len), EPH_OK);
	u64s(&body, 2, unsorted);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_LIST, body.d, body.len), EPH_ERR_UNSORTED);
	u64s(&body, 2, dup);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_LIST, body.d, body.len), EPH_ERR_UNSORTED);
	u64s(&body, 1, zero);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_LIST, body.d, body.len), EPH_ERR_FORMAT);
	u64s(&body, 3, ok_list);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_LIST, body.d, body.len - 1), EPH_ERR_TRUNCATED);

	/* Ranges: exactly one, lo <= hi, lo > 0. */
	u64s(&body, 2, ok_range);
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_SERIAL_RANGE, body.d, body.len), EPH_OK);
	u64s(&body, 2, bad_range);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_RANGE, body.d, body.len), EPH_ERR_FORMAT);
	u64s(&body, 2, zero_range);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_RANGE, body.d, body.len), EPH_ERR_FORMAT);
	u64s(&body, 3, long_range);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_RANGE, body.d, body.len), EPH_ERR_TRAILING);

	/* Bitmaps: bounded, minimal, no serial 0, no wrap past 2^64. */
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, 100), EPH_OK);
	memset(mag, 0x55, sizeof(mag));
	assert_int_equal(buf_put_bignum2_bytes(&body, mag, KRL_BITMAP_MAX_BITS / 8), EPH_OK);
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_OK);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, 100), EPH_OK);
	assert_int_equal(buf_put_bignum2_bytes(&body, mag, KRL_BITMAP_MAX_BITS / 8 + 1), EPH_OK);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_ERR_TOOLARGE);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, 0), EPH_OK);
	assert_int_equal(buf_put_bignum2_bytes(&body, (const uint8_t *)"\x02", 1), EPH_OK);
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_OK);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, 0), EPH_OK);
	assert_int_equal(buf_put_bignum2_bytes(&body, (const uint8_t *)"\x01", 1), EPH_OK);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, UINT64_MAX - 1), EPH_OK);
	assert_int_equal(buf_put_bignum2_bytes(&body, (const uint8_t *)"\x03", 1), EPH_OK);
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_OK);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, UINT64_MAX - 1), EPH_OK);
	assert_int_equal(buf_put_bignum2_bytes(&body, (const uint8_t *)"\x05", 1), EPH_OK);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, 100), EPH_OK);
	assert_int_equal(buf_put_string(&body, "\x00\x01", 2), EPH_OK); /* not minimal */
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_u64(&body, 100), EPH_OK);
	assert_int_equal(buf_put_string(&body, "\x01", 1), EPH_OK);
	assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_SERIAL_BITMAP, body.d, body.len), EPH_ERR_TRAILING);

	/* Key ids: at least one, no NUL inside. */
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_KEY_ID, NULL, 0), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_string(&body, "a\0b", 3), EPH_OK);
	assert_int_equal(parse_cert_sub(KRL_SECTION_CERT_KEY_ID, body.d, body.len), EPH_ERR_FORMAT);

	/* Unknown subsection; extensions, critical or not, as sshd 9.2. */
	assert_int_equal(parse_cert_sub(0x24, NULL, 0), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_cstring(&body, "x@example.com"), EPH_OK);
	assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
	assert_int_equal(buf_put_string(&body, "v", 1), EPH_OK);
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_EXTENSION, body.d, body.len), EPH_ERR_UNKNOWN_OPTION);
	assert_int_equal(
	    parse_section(KRL_SECTION_EXTENSION, body.d, body.len), EPH_ERR_UNKNOWN_OPTION);
	body.d[4 + 13] = 1;
	assert_int_equal(
	    parse_cert_sub(KRL_SECTION_CERT_EXTENSION, body.d, body.len), EPH_ERR_UNKNOWN_OPTION);
	assert_int_equal(
	    parse_section(KRL_SECTION_EXTENSION, body.d, body.len), EPH_ERR_UNKNOWN_OPTION);

	/* Top level: unknown types and signatures are refused. */
	assert_int_equal(parse_section(6, NULL, 0), EPH_ERR_FORMAT);
	assert_int_equal(parse_section(0, NULL, 0), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_string(&body, "k", 1), EPH_OK);
	assert_int_equal(parse_section(KRL_SECTION_SIGNATURE, body.d, body.len), EPH_ERR_FORMAT);

	/* Hash sections: right width, ascending, not empty. */
	memset(h[0], 0x11, sizeof(h[0]));
	memset(h[1], 0x22, sizeof(h[1]));
	buf_reset(&body);
	assert_int_equal(buf_put_string(&body, h[0], 32), EPH_OK);
	assert_int_equal(buf_put_string(&body, h[1], 32), EPH_OK);
	assert_int_equal(parse_section(KRL_SECTION_FINGERPRINT_SHA256, body.d, body.len), EPH_OK);
	assert_int_equal(
	    parse_section(KRL_SECTION_FINGERPRINT_SHA1, body.d, body.len), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_string(&body, h[1], 32), EPH_OK);
	assert_int_equal(buf_put_string(&body, h[0], 32), EPH_OK);
	assert_int_equal(
	    parse_section(KRL_SECTION_FINGERPRINT_SHA256, body.d, body.len), EPH_ERR_UNSORTED);
	buf_reset(&body);
	assert_int_equal(buf_put_string(&body, h[0], 31), EPH_OK);
	assert_int_equal(
	    parse_section(KRL_SECTION_FINGERPRINT_SHA256, body.d, body.len), EPH_ERR_FORMAT);
	buf_reset(&body);
	assert_int_equal(buf_put_string(&body, h[0], 20), EPH_OK);
	assert_int_equal(parse_section(KRL_SECTION_FINGERPRINT_SHA1, body.d, body.len), EPH_OK);
	assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
	assert_int_equal(
	    parse_section(KRL_SECTION_FINGERPRINT_SHA1, body.d, body.len), EPH_ERR_TRUNCATED);
	assert_int_equal(parse_section(KRL_SECTION_FINGERPRINT_SHA256, NULL, 0), EPH_ERR_FORMAT);
	assert_int_equal(parse_section(KRL_SECTION_EXPLICIT_KEY, NULL, 0), EPH_ERR_FORMAT);

	buf_free(&body);
}

static void
test_malformed_ca_key(void **state)
{
	struct fx *fx = *state;
	struct buf b, sect, blob, sub;
	struct krl *k = NULL;
	struct cert c;
	static const uint64_t serial5[] = {5};
	int i;

	TU_REQUIRE_SSH_KEYGEN();
	buf_init(&b);
	buf_init(&sect);
	buf_init(&blob);
	buf_init(&sub);
	u64s(&sub, 1, serial5);

	/* Oversize CA key blob. */
	put_header(&b);
	assert_int_equal(buf_put_u32(&sect, KEY_BLOB_MAX + 1), EPH_OK);
	assert_int_equal(buf_reserve(&sect, KEY_BLOB_MAX + 1), EPH_OK);
	memset(sect.d + sect.len, 'a', KEY_BLOB_MAX + 1);
	sect.len += KEY_BLOB_MAX + 1;
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &sect), EPH_OK);
	assert_int_equal(krl_parse(b.d, b.len, &k), EPH_ERR_TOOLARGE);

	/* A broken key of a known type is an error. */
	buf_reset(&b);
	buf_reset(&sect);
	put_header(&b);
	assert_int_equal(buf_put_cstring(&blob, "ssh-ed25519"), EPH_OK);
	assert_int_equal(buf_put_string(&blob, "short", 5), EPH_OK);
	assert_int_equal(buf_put_stringb(&sect, &blob), EPH_OK);
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &sect), EPH_OK);
	assert_int_not_equal(krl_parse(b.d, b.len, &k), EPH_OK);
	assert_null(k);

	/*
	 * A well-formed CA of a type sshd reads but we do not implement is
	 * kept (and written back) but matches nothing: refusing the KRL
	 * would refuse logins sshd allows.
	 */
	buf_reset(&b);
	buf_reset(&sect);
	buf_reset(&blob);
	put_header(&b);
	assert_int_equal(buf_put_cstring(&blob, "ssh-dss"), EPH_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(buf_put_string(&blob, "\x05", 1), EPH_OK);
	assert_int_equal(buf_put_stringb(&sect, &blob), EPH_OK);
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&sect, KRL_SECTION_CERT_SERIAL_LIST), EPH_OK);
	assert_int_equal(buf_put_stringb(&sect, &sub), EPH_OK);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &sect), EPH_OK);
	assert_int_equal(krl_parse(b.d, b.len, &k), EPH_OK);
	memset(&c, 0, sizeof(c));
	c.key = fx->subject[USER];
	c.signature_key = fx->signer[CA];
	c.key_id = (char *)"x";
	c.serial = 5;
	assert_int_equal(krl_check_cert(k, &c), EPH_OK);
	buf_reset(&blob);
	assert_int_equal(krl_serialize(k, &blob), EPH_OK);
	assert_int_equal(blob.len, b.len);
	assert_memory_equal(blob.d, b.d, b.len);
	krl_free(k);
	k = NULL;

	/* Two sections for the same CA merge. */
	buf_reset(&b);
	buf_reset(&blob);
	put_header(&b);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	buf_reset(&sect);
	assert_int_equal(key_put_public(fx->signer[CA], &blob), EPH_OK);
	assert_int_equal(buf_put_stringb(&sect, &blob), EPH_OK);
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&sect, KRL_SECTION_CERT_SERIAL_LIST), EPH_OK);
	assert_int_equal(buf_put_stringb(&sect, &sub), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &sect), EPH_OK);
	assert_int_equal(buf_put_u8(&b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(&b, &sect), EPH_OK);
	assert_int_equal(krl_parse(b.d, b.len, &k), EPH_OK);
	assert_int_equal(krl_check_cert(k, &c), EPH_ERR_REVOKED);
	buf_reset(&blob);
	assert_int_equal(krl_serialize(k, &blob), EPH_OK);
	assert_int_equal(blob.len, b.len - 1 - 4 - sect.len);
	krl_free(k);

	buf_free(&b);
	buf_free(&sect);
	buf_free(&blob);
	buf_free(&sub);
}

/* A KRL revoking serial 5 of the CA whose public key blob is ca (NULL:
 * any CA), with an extra section (type xtype, body xbody) when xtype. */
static void
krl_for_ca(struct buf *b, const struct buf *ca, uint8_t xtype, const struct buf *xbody)
{
	static const uint64_t serial5[] = {5};
	struct buf sect, sub;

	buf_init(&sect);
	buf_init(&sub);
	buf_reset(b);
	put_header(b);
	u64s(&sub, 1, serial5);
	assert_int_equal(
	    buf_put_string(&sect, ca != NULL ? ca->d : NULL, ca != NULL ? ca->len : 0), EPH_OK);
	assert_int_equal(buf_put_string(&sect, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_u8(&sect, KRL_SECTION_CERT_SERIAL_LIST), EPH_OK);
	assert_int_equal(buf_put_stringb(&sect, &sub), EPH_OK);
	if (xtype == KRL_SECTION_CERT_EXTENSION) {
		assert_int_equal(buf_put_u8(&sect, xtype), EPH_OK);
		assert_int_equal(buf_put_stringb(&sect, xbody), EPH_OK);
	}
	assert_int_equal(buf_put_u8(b, KRL_SECTION_CERTIFICATES), EPH_OK);
	assert_int_equal(buf_put_stringb(b, &sect), EPH_OK);
	if (xtype != 0 && xtype != KRL_SECTION_CERT_EXTENSION) {
		assert_int_equal(buf_put_u8(b, xtype), EPH_OK);
		assert_int_equal(buf_put_stringb(b, xbody), EPH_OK);
	}
	buf_free(&sect);
	buf_free(&sub);
}

/* The public key blob of a .pub file in the fixture dir. */
static void
pub_blob(struct fx *fx, const char *name, struct buf *blob)
{
	char *p = tu_path(fx->dir, "%s", name), *line, *type = NULL;

	assert_non_null(line = tu_read_file(p, NULL));
	buf_reset(blob);
	assert_int_equal(publine_parse(line, &type, blob, NULL), EPH_OK);
	free(type);
	free(line);
	free(p);
}

/*
 * The KRL in b, as a file, must be accepted or refused by ssh-keygen -Q
 * (sshd's own parser, exit 255 on a bad file) and by krl_load alike; when
 * accepted, both must agree on certificate c5 (revoked when revoked).
 */
static void
assert_krl_like_keygen(
    struct fx *fx, const char *what, const struct buf *b, int accept, int revoked)
{
	char *p = tu_path(fx->dir, "case.krl"), *out = NULL;
	struct krl *k = NULL;
	int rc, r;

	assert_int_equal(tu_write_file(p, b->d, b->len, 0644), 0);
	rc = tu_run(&out, "%s -Q -f %s %s", tu_ssh_keygen(), p, fx->cert_path[1]);
	r = krl_load(p, &k);
	if ((rc == 0 || rc == 1) != accept || (r == EPH_OK) != accept)
		fail_msg("%s: want %s; ssh-keygen -Q exit %d, krl_load %d\n%s", what,
		    accept ? "accepted" : "refused", rc, r, out);
	if (accept) {
		assert_int_equal(rc, revoked);
		assert_int_equal(
		    krl_check_cert(k, fx->cert[1]), revoked ? EPH_ERR_REVOKED : EPH_OK);
	} else
		assert_null(k);
	krl_free(k);
	free(out);
	free(p);
}

/*
 * Issue 12, item 14: a KRL whose CA key does not parse, or that holds an
 * extension section, is refused whole, as sshd 9.2 refuses it; never
 * read as if its revocations were not there.
 */
static void
test_bad_ca_key_fails_closed(void **state)
{
	struct fx *fx = *state;
	struct buf b, ca, x;
	char *p, *spec, *d;
	size_t n, i;
	uint8_t big[97];

	TU_REQUIRE_SSH_KEYGEN();
	buf_init(&b);
	buf_init(&ca);
	buf_init(&x);

	/* The report's case: one byte of ssh-keygen's own KRL changed. */
	p = tu_path(fx->dir, "kg5.krl");
	spec = tu_path(fx->dir, "kg5.spec");
	write_text(spec, "serial: 5\n");
	keygen_ok("-q -k -f %s -s %s/ca.pub %s", p, fx->dir, spec);
	assert_non_null(d = tu_read_file(p, &n));
	buf_reset(&b);
	assert_int_equal(buf_put(&b, d, n), EPH_OK);
	assert_krl_like_keygen(fx, "ssh-keygen's KRL", &b, 1, 1);
	for (i = 0; i + 11 <= n && memcmp(b.d + i, "ssh-ed25519", 11) != 0; i++)
		;
	assert_true(i + 11 <= n);
	b.d[i + 10] = '8';
	assert_krl_like_keygen(fx, "CA key type ssh-ed25518", &b, 0, 0);
	free(d);
	free(spec);
	free(p);

	/* Types sshd reads and we do not implement: kept, match nothing. */
	keygen_ok("-q -t dsa -N '' -C '' -f %s/dsa", fx->dir);
	pub_blob(fx, "dsa.pub", &ca);
	krl_for_ca(&b, &ca, 0, NULL);
	assert_krl_like_keygen(fx, "DSA CA", &b, 1, 0);
	buf_reset(&x);
	assert_int_equal(buf_put(&x, ca.d, ca.len), EPH_OK);
	assert_int_equal(buf_put_u8(&x, 0), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "DSA CA with a trailing byte", &b, 0, 0);
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "ssh-dss"), EPH_OK);
	assert_int_equal(buf_put_string(&x, "p", 1), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "DSA CA of one mpint", &b, 0, 0);
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "ssh-dss"), EPH_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(buf_put_string(&x, i == 2 ? "\x85" : "\x05", 1), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "DSA CA with a negative mpint", &b, 0, 0);

	/* Security key CAs, made from the fixture's plain keys. */
	pub_blob(fx, "user.pub", &ca);
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "sk-ssh-ed25519@openssh.com"), EPH_OK);
	assert_int_equal(buf_put(&x, ca.d + 4 + 11, ca.len - 4 - 11), EPH_OK);
	assert_int_equal(buf_put_cstring(&x, "ssh:"), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "sk-ssh-ed25519 CA", &b, 1, 0);
	x.len -= 4 + 4; /* no application string */
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "sk-ssh-ed25519 CA without application", &b, 0, 0);
	pub_blob(fx, "ca2.pub", &ca);
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "sk-ecdsa-sha2-nistp256@openssh.com"), EPH_OK);
	assert_int_equal(buf_put(&x, ca.d + 4 + 19, ca.len - 4 - 19), EPH_OK);
	assert_int_equal(buf_put_cstring(&x, "ssh:"), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "sk-ecdsa CA", &b, 1, 0);
	x.d[x.len - 4 - 4 - 1] ^= 1; /* last byte of the point: off the curve */
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "sk-ecdsa CA off the curve", &b, 0, 0);

	/* Keys sshd refuses: unknown type, RSA under 1024 bits. */
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "ssh-foo@example.com"), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "unknown CA key type", &b, 0, 0);
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "ssh-rsa"), EPH_OK);
	assert_int_equal(buf_put_string(&x, "\x01\x00\x01", 3), EPH_OK);
	memset(big, 0xc5, sizeof(big));
	big[0] = 0;
	assert_int_equal(buf_put_string(&x, big, sizeof(big)), EPH_OK);
	krl_for_ca(&b, &x, 0, NULL);
	assert_krl_like_keygen(fx, "768-bit RSA CA", &b, 0, 0);

	/* Extension sections, not critical: sshd 9.2 refuses them too. */
	buf_reset(&x);
	assert_int_equal(buf_put_cstring(&x, "x@example.com"), EPH_OK);
	assert_int_equal(buf_put_u8(&x, 0), EPH_OK);
	assert_int_equal(buf_put_string(&x, NULL, 0), EPH_OK);
	krl_for_ca(&b, NULL, 0, NULL);
	assert_krl_like_keygen(fx, "any-CA section", &b, 1, 1);
	krl_for_ca(&b, NULL, KRL_SECTION_EXTENSION, &x);
	assert_krl_like_keygen(fx, "extension section", &b, 0, 0);
	krl_for_ca(&b, NULL, KRL_SECTION_CERT_EXTENSION, &x);
	assert_krl_like_keygen(fx, "extension subsection", &b, 0, 0);

	buf_free(&b);
	buf_free(&ca);
	buf_free(&x);
}

/* Every prefix of a real KRL is refused unless it ends exactly at a
 * section boundary (where it is a smaller valid KRL); every single-byte
 * corruption parses or fails cleanly. */
static void
test_truncation_and_corruption(void **state)
{
	struct fx *fx = *state;
	struct krl *k, *k2;
	struct buf b, v, out;
	size_t bounds[64], nb = 0, i, j, len;
	uint8_t *d, type;
	int r, boundary;

	TU_REQUIRE_SSH_KEYGEN();
	k = make_krl_a(fx);
	buf_init(&b);
	assert_int_equal(krl_serialize(k, &b), EPH_OK);
	krl_free(k);
	buf_init_view(&v, b.d, b.len);
	bounds[nb++] = skip_header(&v);
	while (buf_remaining(&v) > 0) {
		assert_int_equal(buf_get_u8(&v, &type), EPH_OK);
		assert_int_equal(buf_get_string(&v, NULL, NULL, KRL_MAX_SIZE), EPH_OK);
		bounds[nb++] = v.off;
	}
	assert_int_equal(nb, 4);
	for (len = 0; len < b.len; len++) {
		/* Exact-size copy so that ASan sees any over-read. */
		d = malloc(len ? len : 1);
		assert_non_null(d);
		memcpy(d, b.d, len);
		for (boundary = 0, j = 0; j < nb; j++)
			boundary |= bounds[j] == len;
		k = NULL;
		r = krl_parse(d, len, &k);
		if (boundary)
			assert_int_equal(r, EPH_OK);
		else if (r == EPH_OK)
			fail_msg("prefix of %zu bytes parsed", len);
		krl_free(k);
		free(d);
	}

	d = malloc(b.len);
	assert_non_null(d);
	for (i = 0; i < b.len; i++) {
		memcpy(d, b.d, b.len);
		d[i] ^= (uint8_t)(1u << (i % 8));
		k = NULL;
		if (krl_parse(d, b.len, &k) != EPH_OK)
			continue;
		/* Whatever parses re-serialises to something that parses. */
		buf_init(&out);
		assert_int_equal(krl_serialize(k, &out), EPH_OK);
		assert_int_equal(krl_parse(out.d, out.len, &k2), EPH_OK);
		krl_free(k2);
		krl_free(k);
		buf_free(&out);
	}
	free(d);
	buf_free(&b);
}

/* Every revoked serial, over all CAs, merged: what a CA that lost its
 * database keeps revoked, and starts its serials above. */
static void
test_serial_ranges(void **state)
{
	struct fx *fx = *state;
	struct krl_serial_range *v = NULL;
	struct krl *k, *back;
	struct buf b;
	size_t n = 0;

	assert_int_equal(krl_new(&k), EPH_OK);
	assert_int_equal(krl_max_serial(k), 0);
	assert_int_equal(krl_serial_ranges(k, &v, &n), EPH_OK);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(krl_add_serial_range(k, fx->signer[CA], 5, 100), EPH_OK);
	assert_int_equal(krl_add_serial(k, fx->signer[CA2], 101), EPH_OK);
	assert_int_equal(krl_add_serial(k, NULL, 3), EPH_OK);
	assert_int_equal(krl_add_serial(k, NULL, 500), EPH_OK);
	assert_int_equal(krl_add_key_id(k, fx->signer[CA], "x"), EPH_OK);
	assert_int_equal(krl_max_serial(k), 500);
	/* The same after a round trip through the file format. */
	buf_init(&b);
	assert_int_equal(krl_serialize(k, &b), EPH_OK);
	assert_int_equal(krl_parse(b.d, b.len, &back), EPH_OK);
	buf_free(&b);
	assert_int_equal(krl_max_serial(back), 500);
	assert_int_equal(krl_serial_ranges(back, &v, &n), EPH_OK);
	assert_int_equal(n, 3);
	assert_true(v[0].lo == 3 && v[0].hi == 3);
	assert_true(v[1].lo == 5 && v[1].hi == 101);
	assert_true(v[2].lo == 500 && v[2].hi == 500);
	free(v);
	assert_int_equal(krl_max_serial(NULL), 0);
	assert_int_equal(krl_serial_ranges(NULL, &v, &n), EPH_ERR_INVAL);
	krl_free(back);
	krl_free(k);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest interop[] = {
	    cmocka_unit_test(test_lib_krl_read_by_keygen),
	    cmocka_unit_test(test_lib_krl_as_compact_as_keygen),
	    cmocka_unit_test(test_lib_matches_keygen_mixed),
	    cmocka_unit_test(test_lib_bitmaps_stay_readable),
	    cmocka_unit_test(test_keygen_krl_read_by_lib),
	    cmocka_unit_test(test_keygen_krl_files_and_any_ca),
	    cmocka_unit_test(test_roundtrip_lib),
	    cmocka_unit_test(test_roundtrip_keygen),
	    cmocka_unit_test(test_api),
	    cmocka_unit_test(test_serial_ranges),
	    cmocka_unit_test(test_load_checks),
	    cmocka_unit_test(test_malformed_ca_key),
	    cmocka_unit_test(test_bad_ca_key_fails_closed),
	    cmocka_unit_test(test_truncation_and_corruption),
	};
	const struct CMUnitTest parser[] = {
	    cmocka_unit_test(test_malformed_header),
	    cmocka_unit_test(test_malformed_sections),
	    cmocka_unit_test(test_entry_cap),
	};
	int fails;

	tu_init(argc, argv);
	fails = cmocka_run_group_tests_name("krl_interop", interop, fx_setup, fx_teardown);
	fails += cmocka_run_group_tests_name("krl_parser", parser, NULL, NULL);
	return fails;
}

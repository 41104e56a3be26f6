/*
 * Tests for the host's certificate check (host/hostcheck.c), the
 * SSH_AUTH_INFO_0 parser (host/authinfo.c) and ephemeral-principals as a
 * program: every refusal and the success path with an injected clock,
 * certificates made with libephcore and with the built sshca.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "authinfo.h"
#include "b64.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "hostcheck.h"
#include "key.h"
#include "krl.h"
#include "log.h"
#include "policy.h"
#include "testutil.h"

#define NOW 1800000000u
#define HOST "db01.example.com"
#define PRINCIPALS TOP_BUILDDIR "/host/ephemeral-principals"

struct fx {
	char *dir;
	struct key *ca, *ca2, *rogue, *user;
	struct host_conf *hc;
	char *ca_path, *krl_path;
};

/* What a test certificate carries; zero fields take the defaults. */
struct spec {
	uint64_t serial;
	const char *principal; /* default eph:db-maint@HOST */
	const char *task; /* default db-maint */
	const char *login_as; /* default postgres */
	uint64_t valid_after, valid_before; /* default NOW - 60, NOW + 300 */
	int no_grant;
	int bad_grant_version; /* a grant of an unknown version */
	uint32_t type; /* default user */
	const struct key *ca; /* default f->ca */
};

static void
write_krl(struct fx *f, const uint64_t *serials, size_t n)
{
	tu_write_krl(f->krl_path, f->ca, serials, n);
}

static void
write_ca_keys(struct fx *f, const char *text)
{
	assert_int_equal(tu_write_file(f->ca_path, text, strlen(text), 0644), 0);
}

static char *
pub_line(const struct key *k, const char *comment)
{
	char *line = NULL;

	assert_int_equal(key_format_public_line(k, comment, &line), EPH_OK);
	return line;
}

static void
load_hostconf(struct fx *f, const char *accept)
{
	char *text;
	struct policy_errors errs = {NULL, 0};

	hostconf_free(f->hc);
	f->hc = NULL;
	assert_true(asprintf(&text,
	                "host = { names = [ \"" HOST "\" ]; groups = [ \"db\" ]; };\n"
	                "trusted_ca_keys = \"%s\";\nrevoked_keys = \"%s\";\n"
	                "state_dir = \"%s\";\naccept = ( %s );\n",
	                f->ca_path, f->krl_path, f->dir, accept) > 0);
	if (hostconf_load_string(text, "host.conf", &f->hc, &errs) != EPH_OK)
		fail_msg("host.conf: %s", policy_errors_format(&errs));
	free(text);
}

#define DEFAULT_ACCEPT                                                                             \
	"{ task = \"db-maint\"; users = [ \"postgres\", \"admin\" ]; },"                           \
	"{ task = \"break-glass\"; users = [ \"root\" ]; }"

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *l1, *l2, *text;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->ca), EPH_OK);
	assert_int_equal(key_generate(KEY_ECDSA_P256, 0, &f->ca2), EPH_OK);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->rogue), EPH_OK);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->user), EPH_OK);
	f->ca_path = tu_path(f->dir, "ca.pub");
	f->krl_path = tu_path(f->dir, "revoked.krl");
	l1 = pub_line(f->ca, "ca");
	l2 = pub_line(f->ca2, "next-ca");
	assert_true(asprintf(&text, "# the CA, and the next one\n\n%s\n%s\n", l1, l2) > 0);
	write_ca_keys(f, text);
	free(text);
	free(l1);
	free(l2);
	write_krl(f, NULL, 0);
	load_hostconf(f, DEFAULT_ACCEPT);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	hostconf_free(f->hc);
	key_free(f->ca);
	key_free(f->ca2);
	key_free(f->rogue);
	key_free(f->user);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->ca_path);
	free(f->krl_path);
	free(f);
	return 0;
}

/* A signed certificate as sshd's %k gives it (base64 of the blob). */
static char *
make_cert(struct fx *f, const struct spec *s)
{
	struct cert *c = NULL;
	struct grant g;
	struct buf val;
	char *b64, *approvers[] = {"bob", "carol"};

	buf_init(&val);
	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_set_key(c, f->user), EPH_OK);
	c->type = s->type != 0 ? s->type : CERT_TYPE_USER;
	c->serial = s->serial != 0 ? s->serial : 42;
	assert_non_null(c->key_id = strdup("eph:g-42:alice:db-maint"));
	c->valid_after = s->valid_after != 0 ? s->valid_after : NOW - 60;
	c->valid_before = s->valid_before != 0 ? s->valid_before : NOW + 300;
	assert_int_equal(
	    cert_add_principal(c, s->principal != NULL ? s->principal : "eph:db-maint@" HOST),
	    EPH_OK);
	if (!s->no_grant) {
		memset(&g, 0, sizeof(g));
		g.id = "g-42";
		g.task = (char *)(s->task != NULL ? s->task : "db-maint");
		g.requester = "alice";
		g.login_as = (char *)(s->login_as != NULL ? s->login_as : "postgres");
		g.approvers = approvers;
		g.napprovers = 2;
		g.max_logins = 1;
		assert_int_equal(grant_encode(&g, &val), EPH_OK);
		assert_int_equal(cert_add_extension(c, GRANT_EXTENSION, val.d, val.len), EPH_OK);
		/* libephcore issues no grant a host cannot read: spoil it
		 * after the check (string length, then uint32 version). */
		if (s->bad_grant_version) {
			struct cert_opt *o =
			    (struct cert_opt *)cert_find_extension(c, GRANT_EXTENSION);

			assert_non_null(o);
			assert_true(o->len > 8);
			o->data[7] = 9;
		}
	}
	assert_int_equal(cert_sign(c, s->ca != NULL ? s->ca : f->ca, NULL), EPH_OK);
	b64 = b64_encode(c->blob.d, c->blob.len);
	assert_non_null(b64);
	cert_free(c);
	buf_free(&val);
	return b64;
}

static enum hostcheck_decision
check_as(
    struct fx *f, const char *user, const char *b64, uint64_t now, struct hostcheck_result *res)
{
	struct hostcheck_request req = {f->hc, user, "ssh-ed25519-cert-v01@openssh.com", b64, now};

	return hostcheck_cert(&req, res);
}

/* The decision for spec s as user at NOW; res cleared. */
static enum hostcheck_decision
decide(struct fx *f, const struct spec *s, const char *user)
{
	struct hostcheck_result res;
	char *b64 = make_cert(f, s);
	enum hostcheck_decision d = check_as(f, user, b64, NOW, &res);

	/* Every refusal says something precise for the log. */
	if (d != HOSTCHECK_OK)
		assert_true(strlen(res.detail) > 0);
	assert_int_equal(res.decision, d);
	hostcheck_result_clear(&res);
	free(b64);
	return d;
}

/* ------------------------------------------------------------ success */

static void
test_ok(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	struct hostcheck_result res;
	char *b64 = make_cert(f, &s);

	assert_int_equal(check_as(f, "postgres", b64, NOW, &res), HOSTCHECK_OK);
	assert_int_equal(res.err, EPH_OK);
	assert_true(res.has_cert);
	assert_true(res.has_grant);
	assert_int_equal(res.serial, 42);
	assert_string_equal(res.key_id, "eph:g-42:alice:db-maint");
	assert_string_equal(res.grant.id, "g-42");
	assert_string_equal(res.grant.task, "db-maint");
	assert_string_equal(res.grant.requester, "alice");
	assert_string_equal(res.grant.login_as, "postgres");
	assert_string_equal(res.approvers, "bob,carol");
	assert_int_equal(res.grant.max_logins, 1);
	assert_int_equal(res.valid_before, NOW + 300);
	assert_true(strncmp(res.ca_fingerprint, "SHA256:", 7) == 0);
	assert_int_equal(res.nprincipals, 2);
	assert_string_equal(res.principals[0], "eph:db-maint@db01.example.com");
	assert_string_equal(res.principals[1], "eph:db-maint@group:db");
	hostcheck_result_clear(&res);

	/* The edges of the window: valid_after itself, the last second. */
	assert_int_equal(check_as(f, "postgres", b64, NOW - 60, &res), HOSTCHECK_OK);
	hostcheck_result_clear(&res);
	assert_int_equal(check_as(f, "postgres", b64, NOW + 299, &res), HOSTCHECK_OK);
	hostcheck_result_clear(&res);
	/* No type given (cert_type NULL) is not compared. */
	{
		struct hostcheck_request req = {f->hc, "postgres", NULL, b64, NOW};

		assert_int_equal(hostcheck_cert(&req, &res), HOSTCHECK_OK);
		hostcheck_result_clear(&res);
	}
	free(b64);
}

/* A principal for one of the host's groups names the host too. */
static void
test_ok_group_principal(void **state)
{
	struct fx *f = *state;
	struct spec s = {.principal = "eph:db-maint@group:db"};

	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_OK);
}

/* Rotation: a certificate of the second key in trusted_ca_keys. */
static void
test_ok_second_ca_key(void **state)
{
	struct fx *f = *state;
	struct spec s = {.ca = NULL};
	struct hostcheck_result res;
	char *b64;

	s.ca = f->ca2;
	b64 = make_cert(f, &s);
	assert_int_equal(check_as(f, "postgres", b64, NOW, &res), HOSTCHECK_OK);
	hostcheck_result_clear(&res);
	free(b64);
}

/* ----------------------------------------------------------- refusals */

static void
test_validity(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	struct hostcheck_result res;
	char *b64 = make_cert(f, &s);

	assert_int_equal(check_as(f, "postgres", b64, NOW + 300, &res), HOSTCHECK_EXPIRED);
	assert_int_equal(res.err, EPH_ERR_EXPIRED);
	/* The facts are there for the log. */
	assert_true(res.has_cert);
	assert_int_equal(res.serial, 42);
	tu_assert_contains(res.detail, "valid from");
	hostcheck_result_clear(&res);
	assert_int_equal(check_as(f, "postgres", b64, NOW - 61, &res), HOSTCHECK_NOT_YET_VALID);
	hostcheck_result_clear(&res);
	free(b64);
}

static void
test_wrong_ca(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	struct hostcheck_result res;
	char *b64;

	s.ca = f->rogue;
	b64 = make_cert(f, &s);
	assert_int_equal(check_as(f, "postgres", b64, NOW, &res), HOSTCHECK_WRONG_CA);
	tu_assert_contains(res.detail, f->ca_path);
	hostcheck_result_clear(&res);
	free(b64);
}

/* A flipped bit anywhere the signature covers, or in the signature. */
static void
test_tampered(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	struct hostcheck_result res;
	struct buf blob;
	char *b64 = make_cert(f, &s), *bad;
	size_t at[2], i;

	buf_init(&blob);
	assert_int_equal(b64_decode(b64, strlen(b64), &blob), EPH_OK);
	at[0] = blob.len - 1; /* the signature */
	/* Inside the signed body: a letter of the key id. */
	{
		const uint8_t *k = memmem(blob.d, blob.len, "eph:g-42", 8);

		assert_non_null(k);
		at[1] = (size_t)(k - blob.d) + 4;
	}
	for (i = 0; i < 2; i++) {
		blob.d[at[i]] ^= 0x01;
		bad = b64_encode(blob.d, blob.len);
		assert_non_null(bad);
		assert_int_equal(check_as(f, "postgres", bad, NOW, &res), HOSTCHECK_BAD_SIGNATURE);
		/* Nothing from an unverified certificate is reported. */
		assert_false(res.has_cert);
		assert_false(res.has_grant);
		hostcheck_result_clear(&res);
		free(bad);
		blob.d[at[i]] ^= 0x01;
	}
	buf_free(&blob);
	free(b64);
}

static void
test_revoked(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	uint64_t serials[] = {41, 42};

	write_krl(f, serials, 2);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_REVOKED);
	serials[1] = 43;
	write_krl(f, serials, 2);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_OK);
}

/* Fail closed: no usable KRL, no usable CA keys. */
static void
test_unreadable_files(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	char *l;

	assert_int_equal(unlink(f->krl_path), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_KRL_UNREADABLE);
	assert_int_equal(tu_write_file(f->krl_path, "", 0, 0644), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_KRL_UNREADABLE);
	assert_int_equal(tu_write_file(f->krl_path, "SSHKRL\n\0garbage", 15, 0644), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_KRL_UNREADABLE);
	write_krl(f, NULL, 0);
	assert_int_equal(chmod(f->krl_path, 0666), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_KRL_UNREADABLE);
	assert_int_equal(chmod(f->krl_path, 0644), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_OK);

	assert_int_equal(chmod(f->ca_path, 0666), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_CA_KEYS_UNREADABLE);
	write_ca_keys(f, "# nothing but comments\n\nnot a key\n");
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_CA_KEYS_UNREADABLE);
	/* An unreadable line next to the right key is ignored. */
	l = pub_line(f->ca, NULL);
	{
		char *text;

		assert_true(asprintf(&text, "ssh-ed25519 AAAA!!\n  %s\r\n", l) > 0);
		write_ca_keys(f, text);
		free(text);
	}
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_OK);
	free(l);
	assert_int_equal(unlink(f->ca_path), 0);
	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_CA_KEYS_UNREADABLE);
}

static void
test_grant_missing_or_malformed(void **state)
{
	struct fx *f = *state;
	struct spec s = {.no_grant = 1};
	struct spec bad = {.bad_grant_version = 1};

	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_NO_GRANT);
	assert_int_equal(decide(f, &bad, "postgres"), HOSTCHECK_BAD_GRANT);
}

static void
test_task_not_accepted(void **state)
{
	struct fx *f = *state;
	struct spec s = {.task = "web-deploy", .principal = "eph:web-deploy@" HOST};

	assert_int_equal(decide(f, &s, "postgres"), HOSTCHECK_TASK_NOT_ACCEPTED);
}

/* The same certificate for another host; a principal of another task. */
static void
test_wrong_host(void **state)
{
	struct fx *f = *state;
	struct spec other = {.principal = "eph:db-maint@db02.example.com"};
	struct spec group = {.principal = "eph:db-maint@group:web"};
	struct spec task = {.principal = "eph:break-glass@" HOST};
	struct spec prefix = {.principal = "eph:db-maint@db01.example.com.evil"};

	assert_int_equal(decide(f, &other, "postgres"), HOSTCHECK_WRONG_HOST);
	assert_int_equal(decide(f, &group, "postgres"), HOSTCHECK_WRONG_HOST);
	assert_int_equal(decide(f, &task, "postgres"), HOSTCHECK_WRONG_HOST);
	assert_int_equal(decide(f, &prefix, "postgres"), HOSTCHECK_WRONG_HOST);
}

/* The grant's login_as is the one account: another is refused even when
 * host.conf would accept the task for it. */
static void
test_login_as_mismatch(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};

	assert_int_equal(decide(f, &s, "admin"), HOSTCHECK_LOGIN_AS_MISMATCH);
	assert_int_equal(decide(f, &s, "root"), HOSTCHECK_LOGIN_AS_MISMATCH);
}

/* The grant names the account, host.conf does not accept the task for it. */
static void
test_user_not_accepted(void **state)
{
	struct fx *f = *state;
	struct spec s = {.login_as = "root"};

	assert_int_equal(decide(f, &s, "root"), HOSTCHECK_USER_NOT_ACCEPTED);
	load_hostconf(f, "{ task = \"db-maint\"; users = [ \"root\" ]; }");
	assert_int_equal(decide(f, &s, "root"), HOSTCHECK_OK);
}

static void
test_malformed(void **state)
{
	struct fx *f = *state;
	struct spec s = {0}, host = {.type = CERT_TYPE_HOST};
	struct hostcheck_result res;
	struct hostcheck_request req = {
	    f->hc, "postgres", "ssh-rsa-cert-v01@openssh.com", NULL, NOW};
	char *b64 = make_cert(f, &s), *big;
	const char *bad[] = {"", "AAAA", "not base64!", "AAAAC3NzaC1lZDI1NTE5", "=AAA"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check_as(f, "postgres", bad[i], NOW, &res), HOSTCHECK_MALFORMED);
		hostcheck_result_clear(&res);
	}
	/* Truncated. */
	b64[strlen(b64) - 8] = '\0';
	assert_int_equal(check_as(f, "postgres", b64, NOW, &res), HOSTCHECK_MALFORMED);
	hostcheck_result_clear(&res);
	free(b64);
	/* %t is not the blob's type. */
	b64 = make_cert(f, &s);
	req.cert_b64 = b64;
	assert_int_equal(hostcheck_cert(&req, &res), HOSTCHECK_MALFORMED);
	hostcheck_result_clear(&res);
	free(b64);
	/* A plain key is no certificate. */
	{
		struct buf pub;

		buf_init(&pub);
		assert_int_equal(key_put_public(f->user, &pub), EPH_OK);
		b64 = b64_encode(pub.d, pub.len);
		assert_int_equal(check_as(f, "postgres", b64, NOW, &res), HOSTCHECK_MALFORMED);
		hostcheck_result_clear(&res);
		free(b64);
		buf_free(&pub);
	}
	/* Over the cap, refused before decoding. */
	assert_non_null(big = malloc(400 * 1024));
	memset(big, 'A', 400 * 1024 - 1);
	big[400 * 1024 - 1] = '\0';
	assert_int_equal(check_as(f, "postgres", big, NOW, &res), HOSTCHECK_MALFORMED);
	assert_int_equal(res.err, EPH_ERR_TOOLARGE);
	hostcheck_result_clear(&res);
	free(big);
	assert_int_equal(decide(f, &host, "postgres"), HOSTCHECK_NOT_USER_CERT);
	/* Missing arguments are a local failure, never an acceptance. */
	req.cert_b64 = NULL;
	assert_int_equal(hostcheck_cert(&req, &res), HOSTCHECK_SYSTEM);
	hostcheck_result_clear(&res);
	assert_int_equal(hostcheck_cert(NULL, &res), HOSTCHECK_SYSTEM);
	hostcheck_result_clear(&res);
}

static void
test_names_and_messages(void **state)
{
	unsigned d;

	(void)state;
	for (d = HOSTCHECK_OK; d <= HOSTCHECK_SYSTEM; d++) {
		const char *name = hostcheck_decision_name((enum hostcheck_decision)d);
		const char *msg = hostcheck_user_message((enum hostcheck_decision)d);

		assert_string_not_equal(name, "unknown");
		/* Nothing internal for the person logging in. */
		assert_null(strchr(msg, '/'));
		assert_null(strstr(msg, "host.conf"));
		assert_null(strstr(msg, "krl"));
	}
	assert_string_equal(hostcheck_decision_name(HOSTCHECK_EXPIRED), "expired");
	assert_string_equal(hostcheck_decision_name((enum hostcheck_decision)999), "unknown");
	assert_string_equal(hostcheck_user_message((enum hostcheck_decision)999), "access denied");
}

static char logged[4096];

static void
sink(int priority, const char *line, void *ctx)
{
	(void)priority;
	(void)ctx;
	snprintf(logged, sizeof(logged), "%s", line);
}

/* The log fields of a refusal carry the certificate's and grant's facts. */
static void
test_log_fields(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	struct hostcheck_result res;
	struct hostcheck_log hl;
	char *b64 = make_cert(f, &s);

	assert_int_equal(check_as(f, "admin", b64, NOW, &res), HOSTCHECK_LOGIN_AS_MISMATCH);
	hostcheck_log_fields(&res, "admin", &hl);
	eph_log_set_journal(0);
	eph_log_set_syslog(sink, NULL);
	assert_int_equal(eph_log(LOG_WARNING, NULL, hl.f, hl.n, "refused: %s", res.detail), EPH_OK);
	eph_log_set_syslog(NULL, NULL);
	tu_assert_contains(logged, "EPH_DECISION=refused");
	tu_assert_contains(logged, "EPH_REASON=login_as_mismatch");
	tu_assert_contains(logged, "EPH_USER=admin");
	tu_assert_contains(logged, "EPH_SERIAL=42");
	tu_assert_contains(logged, "EPH_GRANT=g-42");
	tu_assert_contains(logged, "EPH_TASK=db-maint");
	tu_assert_contains(logged, "EPH_REQUESTER=alice");
	tu_assert_contains(logged, "EPH_APPROVERS=bob,carol");
	tu_assert_contains(logged, "EPH_LOGIN_AS=postgres");
	tu_assert_contains(logged, "EPH_KEY_ID=eph:g-42:alice:db-maint");
	hostcheck_result_clear(&res);

	/* Before the signature verifies, no certificate facts. */
	assert_int_equal(check_as(f, "admin", "AAAA", NOW, &res), HOSTCHECK_MALFORMED);
	hostcheck_log_fields(&res, "admin", &hl);
	eph_log_set_syslog(sink, NULL);
	assert_int_equal(eph_log(LOG_WARNING, NULL, hl.f, hl.n, "refused"), EPH_OK);
	eph_log_set_syslog(NULL, NULL);
	tu_assert_contains(logged, "EPH_REASON=malformed");
	tu_assert_not_contains(logged, "EPH_SERIAL");
	hostcheck_result_clear(&res);
	free(b64);
}

/* ------------------------------------------- sshca sign and sshca krl */

static void
test_sshca_certificates(void **state)
{
	struct fx *f = *state;
	struct hostcheck_result res;
	char *out = NULL, *line, *p, *b64, *path;
	uint64_t now = (uint64_t)time(NULL);

	if (tu_run_in(f->dir, &out,
	        "%s init --key sca >/dev/null && %s pubkey --key sca >ca.pub && "
	        "%s init --key user >/dev/null && %s pubkey --key user >user.pub && "
	        "%s sign --key sca --principals eph:db-maint@" HOST " --ttl 5m --serial 7 "
	        "--key-id eph:g-7:alice:db-maint --grant-id g-7 --task db-maint "
	        "--requester alice --login-as postgres --approver bob --max-logins 1 "
	        "--reason INC-1 user.pub && %s krl --key ca.pub -o revoked.krl",
	        tu_sshca(), tu_sshca(), tu_sshca(), tu_sshca(), tu_sshca(), tu_sshca()) != 0)
		fail_msg("sshca: %s", out);
	free(out);
	path = tu_path(f->dir, "user-cert.pub");
	line = tu_read_file(path, NULL);
	free(path);
	assert_non_null(line);
	assert_non_null(p = strchr(line, ' '));
	b64 = p + 1;
	b64[strcspn(b64, " \n")] = '\0';
	assert_int_equal(check_as(f, "postgres", b64, now, &res), HOSTCHECK_OK);
	assert_int_equal(res.serial, 7);
	assert_string_equal(res.grant.id, "g-7");
	assert_string_equal(res.approvers, "bob");
	hostcheck_result_clear(&res);
	assert_int_equal(check_as(f, "postgres", b64, now + 301, &res), HOSTCHECK_EXPIRED);
	hostcheck_result_clear(&res);

	if (tu_run_in(f->dir, &out, "%s krl --key ca.pub --serial 7 -o revoked.krl", tu_sshca()) !=
	    0)
		fail_msg("sshca krl: %s", out);
	free(out);
	assert_int_equal(check_as(f, "postgres", b64, now, &res), HOSTCHECK_REVOKED);
	hostcheck_result_clear(&res);
	/* ssh-keygen's KRL, when there is one, says the same. */
	if (tu_ssh_keygen() != NULL) {
		if (tu_run_in(f->dir, &out,
		        "echo 'serial: 7' >spec && %s -q -k -f revoked.krl -s ca.pub spec",
		        tu_ssh_keygen()) != 0)
			fail_msg("ssh-keygen -k: %s", out);
		free(out);
		assert_int_equal(check_as(f, "postgres", b64, now, &res), HOSTCHECK_REVOKED);
		hostcheck_result_clear(&res);
	}
	free(line);
}

/* ------------------------------------------------------ SSH_AUTH_INFO_0 */

static void
test_authinfo_sshd(void **state)
{
	struct fx *f = *state;
	struct spec s = {0};
	struct authinfo ai;
	const struct authinfo_method *m;
	struct hostcheck_result res;
	struct hostcheck_request req;
	char *b64 = make_cert(f, &s), *text;

	/* What sshd 9.2 sets after a certificate login. */
	assert_true(asprintf(&text, "publickey ssh-ed25519-cert-v01@openssh.com %s\n", b64) > 0);
	assert_int_equal(authinfo_parse(text, &ai), EPH_OK);
	assert_int_equal(ai.n, 1);
	assert_string_equal(ai.v[0].method, "publickey");
	assert_true(ai.v[0].is_cert);
	assert_null(ai.v[0].info);
	assert_int_equal(authinfo_find_cert(&ai, &m), EPH_OK);
	req = (struct hostcheck_request){f->hc, "postgres", m->key_type, m->key_b64, NOW};
	assert_int_equal(hostcheck_cert(&req, &res), HOSTCHECK_OK);
	hostcheck_result_clear(&res);
	authinfo_clear(&ai);
	free(text);

	/* AuthenticationMethods publickey,password / keyboard-interactive. */
	assert_true(asprintf(&text,
	                "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n"
	                "password\nkeyboard-interactive/pam\n"
	                "publickey ssh-ed25519-cert-v01@openssh.com %s\n",
	                b64) > 0);
	assert_int_equal(authinfo_parse(text, &ai), EPH_OK);
	assert_int_equal(ai.n, 4);
	assert_false(ai.v[0].is_cert);
	assert_null(ai.v[1].key_type);
	assert_string_equal(ai.v[2].method, "keyboard-interactive/pam");
	assert_int_equal(authinfo_find_cert(&ai, &m), EPH_OK);
	assert_ptr_equal(m, &ai.v[3]);
	authinfo_clear(&ai);
	free(text);

	/* Two certificates: ambiguous. */
	assert_true(asprintf(&text,
	                "publickey ssh-ed25519-cert-v01@openssh.com %s\n"
	                "publickey ssh-ed25519-cert-v01@openssh.com %s\n",
	                b64, b64) > 0);
	assert_int_equal(authinfo_parse(text, &ai), EPH_OK);
	assert_int_equal(authinfo_find_cert(&ai, &m), EPH_ERR_DUPLICATE);
	assert_null(m);
	authinfo_clear(&ai);
	free(text);

	/* A security key's info after the key; a plain-key login; nothing. */
	assert_int_equal(authinfo_parse("publickey sk-ssh-ed25519@openssh.com AAAA signature "
	                                "count = 5\n",
	                     &ai),
	    EPH_OK);
	assert_string_equal(ai.v[0].info, "signature count = 5");
	assert_int_equal(authinfo_find_cert(&ai, &m), EPH_ERR_NOTFOUND);
	authinfo_clear(&ai);
	assert_int_equal(authinfo_parse("", &ai), EPH_OK);
	assert_int_equal(ai.n, 0);
	assert_int_equal(authinfo_find_cert(&ai, &m), EPH_ERR_NOTFOUND);
	authinfo_clear(&ai);
	free(b64);
}

static void
test_authinfo_malformed(void **state)
{
	static const char *const bad[] = {
	    "publickey ssh-ed25519-cert-v01@openssh.com AAAA", /* no final newline */
	    "\n", /* empty line */
	    "password\n\npassword\n",
	    "publickey  ssh-ed25519 AAAA\n", /* two spaces */
	    "publickey ssh-ed25519  AAAA\n",
	    "publickey ssh-ed25519 AAAA \n", /* trailing space */
	    "publickey ssh-ed25519\n", /* no key */
	    "publickey\n",
	    "publickey ssh-ed25519 AAA\n", /* not a multiple of 4 */
	    "publickey ssh-ed25519 AA=A\n", /* padding inside */
	    "publickey ssh-ed25519 A===\n",
	    "publickey ssh-ed25519 AA*A\n",
	    "publickey ssh ed25519 AAAA\n", /* key type not a token */
	    "publickey ssh-ed25519\tAAAA\n",
	    "Publickey ssh-ed25519 AAAA\n", /* method not lower case */
	    "password\x01\n", /* a control character */
	    "password\r\n", /* CR */
	    "password/\n",
	    "/pam\n",
	    "keyboard-interactive/pam/x\n",
	    "password\xc3\xa9\n", /* not ASCII */
	    " password\n",
	};
	struct authinfo ai;
	char *many, *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = authinfo_parse(bad[i], &ai);

		if (r == EPH_OK)
			fail_msg("accepted: %s", bad[i]);
		assert_null(ai.v);
		assert_int_equal(ai.n, 0);
	}
	assert_int_equal(authinfo_parse(NULL, &ai), EPH_ERR_INVAL);
	assert_int_equal(authinfo_parse("", NULL), EPH_ERR_INVAL);
	/* Too many lines. */
	assert_non_null(many = malloc(AUTHINFO_MAX_LINES * 9 + 16));
	for (p = many, i = 0; i < AUTHINFO_MAX_LINES + 1; i++, p += 9)
		memcpy(p, "password\n", 9);
	*p = '\0';
	assert_int_equal(authinfo_parse(many, &ai), EPH_ERR_TOOLARGE);
	/* Exactly the cap is fine. */
	many[AUTHINFO_MAX_LINES * 9] = '\0';
	assert_int_equal(authinfo_parse(many, &ai), EPH_OK);
	assert_int_equal(ai.n, AUTHINFO_MAX_LINES);
	authinfo_clear(&ai);
	free(many);
	/* A line over its cap, and a value over the whole cap. */
	assert_non_null(many = malloc(AUTHINFO_MAX_SIZE + 2));
	memcpy(many, "publickey ssh-ed25519 ", 22);
	memset(many + 22, 'A', AUTHINFO_MAX_LINE);
	many[22 + AUTHINFO_MAX_LINE] = '\n';
	many[23 + AUTHINFO_MAX_LINE] = '\0';
	assert_int_equal(authinfo_parse(many, &ai), EPH_ERR_TOOLARGE);
	memset(many, 'a', AUTHINFO_MAX_SIZE + 1);
	many[AUTHINFO_MAX_SIZE + 1] = '\0';
	assert_int_equal(authinfo_parse(many, &ai), EPH_ERR_TOOLARGE);
	free(many);
}

/* ------------------------------------------------ ephemeral-principals */

static int
run_principals(struct fx *f, char **out, const char *user, const char *type, const char *b64)
{
	char *conf = tu_path(f->dir, "host.conf");
	int rc;

	rc = tu_run_in(f->dir, out, "%s -f '%s' '%s' '%s' '%s' 2>/dev/null", PRINCIPALS, conf, user,
	    type, b64);
	free(conf);
	return rc;
}

/* The host.conf of the fixture as a file, with its spool. */
static void
write_hostconf_file(struct fx *f)
{
	char *text, *p = tu_path(f->dir, "host.conf"), *spool = tu_path(f->dir, "spool");

	assert_true(asprintf(&text,
	                "host = { names = [ \"" HOST "\" ]; groups = [ \"db\" ]; };\n"
	                "trusted_ca_keys = \"%s\";\nrevoked_keys = \"%s\";\n"
	                "state_dir = \"%s\";\naccept = ( " DEFAULT_ACCEPT " );\n",
	                f->ca_path, f->krl_path, f->dir) > 0);
	assert_int_equal(tu_write_file(p, text, strlen(text), 0644), 0);
	assert_int_equal(mkdir(spool, 0700), 0);
	free(text);
	free(p);
	free(spool);
}

static void
test_cli(void **state)
{
	struct fx *f = *state;
	struct spec s = {0}, exp;
	char *out = NULL, *b64, *listing = NULL;
	uint64_t now = (uint64_t)time(NULL);

	write_hostconf_file(f);
	s.valid_after = now - 60;
	s.valid_before = now + 300;
	b64 = make_cert(f, &s);
	assert_int_equal(
	    run_principals(f, &out, "postgres", "ssh-ed25519-cert-v01@openssh.com", b64), 0);
	assert_string_equal(out, "eph:db-maint@db01.example.com\neph:db-maint@group:db\n");
	free(out);
	/* The spool has this connection's entry (the shell that ran it). */
	assert_int_equal(tu_run_in(f->dir, &listing, "cat spool/[0-9]*"), 0);
	tu_assert_contains(listing, "ephspool 1 ");
	tu_assert_contains(listing, " 42 postgres\n");
	free(listing);

	/* Refused: nothing at all on stdout, exit 1. */
	assert_int_equal(
	    run_principals(f, &out, "admin", "ssh-ed25519-cert-v01@openssh.com", b64), 1);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(
	    run_principals(f, &out, "postgres", "ssh-ed25519-cert-v01@openssh.com", "AAAA"), 1);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(run_principals(f, &out, "no such user", "x", b64), 1);
	assert_string_equal(out, "");
	free(out);
	free(b64);
	exp = s;
	exp.valid_after = now - 600;
	exp.valid_before = now - 300;
	b64 = make_cert(f, &exp);
	assert_int_equal(
	    run_principals(f, &out, "postgres", "ssh-ed25519-cert-v01@openssh.com", b64), 1);
	assert_string_equal(out, "");
	free(out);
	free(b64);

	/* An unusable host.conf refuses. */
	assert_int_equal(
	    tu_run_in(f->dir, &out, "%s -f /nonexistent postgres t AAAA 2>/dev/null", PRINCIPALS),
	    1);
	assert_string_equal(out, "");
	free(out);

	/* -T: the settings as loaded, defaults included; a broken host.conf
	 * is exit 1 with its file:line error, and -T takes no arguments. */
	assert_int_equal(tu_run_in(f->dir, &out, "%s -f '%s/host.conf' -T", PRINCIPALS, f->dir), 0);
	tu_assert_contains(out, "host.names " HOST "\nhost.groups db\n");
	tu_assert_contains(out, "\nnon_ephemeral ignore\nsession_end true\nservices sshd\n");
	tu_assert_contains(out, "\naccept db-maint postgres");
	assert_null(strstr(out, "krl_url"));
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out,
	                     "echo 'krl_url = \"https://ca.example.com/v1/krl\";' >>host.conf"),
	    0);
	free(out);
	assert_int_equal(
	    tu_run_in(f->dir, &out, "%s --dump -f '%s/host.conf'", PRINCIPALS, f->dir), 0);
	tu_assert_contains(out, "\nkrl_url https://ca.example.com/v1/krl\n");
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out, "echo 'bogus = 1;' >>host.conf"), 0);
	free(out);
	assert_int_equal(
	    tu_run_in(f->dir, &out, "%s -f '%s/host.conf' -T 2>&1", PRINCIPALS, f->dir), 1);
	tu_assert_contains(out, "host.conf:");
	tu_assert_contains(out, "bogus");
	assert_null(strstr(out, "trusted_ca_keys "));
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out, "%s -T extra 2>&1", PRINCIPALS), 2);
	tu_assert_contains(out, "-T takes no other argument");
	free(out);

	/* Usage. */
	assert_int_equal(tu_run_in(f->dir, &out, "%s --help", PRINCIPALS), 0);
	tu_assert_contains(out, "usage: ephemeral-principals [-f FILE] USER CERTTYPE BASE64CERT");
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out, "%s postgres t 2>&1", PRINCIPALS), 2);
	tu_assert_contains(out, "usage:");
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out, "%s --bogus a b c 2>&1", PRINCIPALS), 2);
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out, "%s a b c d 2>/dev/null", PRINCIPALS), 2);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(tu_run_in(f->dir, &out, "%s --version", PRINCIPALS), 0);
	tu_assert_contains(out, PACKAGE_VERSION);
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest check[] = {
	    cmocka_unit_test_setup_teardown(test_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ok_group_principal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ok_second_ca_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grant_missing_or_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_task_not_accepted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_as_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_not_accepted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test(test_names_and_messages),
	    cmocka_unit_test_setup_teardown(test_log_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sshca_certificates, setup, teardown),
	};
	const struct CMUnitTest authinfo[] = {
	    cmocka_unit_test_setup_teardown(test_authinfo_sshd, setup, teardown),
	    cmocka_unit_test(test_authinfo_malformed),
	};
	const struct CMUnitTest cli[] = {
	    cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
	};
	int fails;

	tu_init(argc, argv);
	fails = cmocka_run_group_tests_name("hostcheck", check, NULL, NULL);
	fails += cmocka_run_group_tests_name("authinfo", authinfo, NULL, NULL);
	fails += cmocka_run_group_tests_name("principals_cli", cli, NULL, NULL);
	return fails;
}

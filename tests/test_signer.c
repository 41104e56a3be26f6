/* Tests for the signer process (ca/signer.c): a real forked signer with a
 * temp CA key and policy, checked with lib/cert.h and ssh-keygen -L. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "caconf.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "log.h"
#include "signer.h"
#include "testutil.h"
#include "util.h"

/* Mon 2026-11-23 10:00 UTC: the signer's clock and the requests' now. */
#define NOW 1795428000

static const char policy_text[] =
    "defaults = { max_ttl = \"30m\"; pending_timeout = \"1h\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\" ]; };\n"
    "hostgroups = { web = { hosts = [ \"web01.example.com\", \"web02.example.com\" ]; }; };\n"
    "tasks = (\n"
    "  { name = \"deploy\"; requesters = [ \"alice\" ]; hosts = [ \"@web\" ];\n"
    "    login_as = \"deploy\"; default_ttl = \"10m\"; max_ttl = \"15m\"; max_logins = 2;\n"
    "    command = \"/usr/bin/deploy\"; },\n"
    "  { name = \"db\"; requesters = [ \"alice\" ]; approvers = [ \"@leads\" ];\n"
    "    approvals = 2; hosts = [ \"db01.example.com\" ]; login_as = [ \"postgres\", "
    "\"barman\" ];\n"
    "    max_ttl = \"20m\"; require_reason = true; source_address = \"requester\"; },\n"
    "  { name = \"glass\"; break_glass = true; requesters = [ \"alice\" ];\n"
    "    hosts = [ \"db01.example.com\" ]; login_as = \"root\"; max_ttl = \"5m\";\n"
    "    require_reason = true; }\n"
    ");\n";

struct fx {
	char *dir;
	char *log; /* where the log sink writes, one line per record */
	struct key *ca;
	struct key *user;
	char *user_line;
	struct ca_conf *cc;
	struct signer *s;
};

static time_t
fixed_clock(void)
{
	return NOW;
}

/* The syslog sink: in the signer process too (it is inherited through
 * fork), so what the signer logs lands in the file before it answers. */
static void
sink(int priority, const char *line, void *ctx)
{
	FILE *f = fopen((const char *)ctx, "a");

	if (f == NULL)
		return;
	fprintf(f, "<%d> %s\n", priority & LOG_PRIMASK, line);
	fclose(f);
}

static void
write_conf(struct fx *f, const char *extra)
{
	struct policy_errors errs = {NULL, 0};
	char *path = tu_path(f->dir, "ca.conf"), *text = NULL;

	if (asprintf(&text, "ca_key = \"%s/ca\";\npolicy = \"%s/policy.conf\";\n%s", f->dir, f->dir,
	        extra) < 0)
		fail_msg("out of memory");
	assert_int_equal(tu_write_file(path, text, strlen(text), 0644), 0);
	caconf_free(f->cc);
	f->cc = NULL;
	if (caconf_load(path, &f->cc, &errs) != EPH_OK)
		fail_msg("ca.conf: %s", errs.n ? errs.v[0].msg : "?");
	free(path);
	free(text);
}

static void
write_policy(struct fx *f, const char *text)
{
	char *path = tu_path(f->dir, "policy.conf");

	assert_int_equal(tu_write_file(path, text, strlen(text), 0644), 0);
	free(path);
}

static void
start(struct fx *f)
{
	struct signer_options o = {fixed_clock};
	char *why = NULL;
	int r;

	if ((r = signer_start(f->cc, &o, &f->s, &why)) != EPH_OK)
		fail_msg("signer_start: %s: %s", eph_strerror(r), why ? why : "");
	assert_null(why);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *p;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	f->log = tu_path(f->dir, "log");
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->ca), EPH_OK);
	p = tu_path(f->dir, "ca");
	assert_int_equal(key_save_private(f->ca, p), EPH_OK);
	free(p);
	assert_int_equal(key_generate(KEY_ED25519, 0, &f->user), EPH_OK);
	assert_int_equal(key_format_public_line(f->user, "alice@laptop", &f->user_line), EPH_OK);
	write_policy(f, policy_text);
	write_conf(f, "");
	eph_log_set_journal(0);
	eph_log_set_syslog(sink, f->log);
	*state = f;
	return 0;
}

static int
setup_started(void **state)
{
	setup(state);
	start(*state);
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->s != NULL)
		assert_int_equal(signer_stop(f->s, 10000, NULL), EPH_OK);
	eph_log_set_syslog(NULL, NULL);
	caconf_free(f->cc);
	key_free(f->ca);
	key_free(f->user);
	free(f->user_line);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->log);
	free(f);
	return 0;
}

static const char *const web01[] = {"web01.example.com"};
static const char *const db01[] = {"db01.example.com"};

/* A request for deploy on web01 by alice, as the store would send it. */
static struct signer_request
deploy_request(const struct fx *f, uint64_t serial)
{
	struct signer_request q;

	memset(&q, 0, sizeof(q));
	q.id = "r-0123456789abcdef";
	q.task = "deploy";
	q.requester = "alice";
	q.hosts = web01;
	q.nhosts = 1;
	q.public_key = f->user_line;
	q.serial = serial;
	q.now = NOW;
	return q;
}

static struct cert *
parse_cert(const struct fx *f, const char *line)
{
	struct cert *c = NULL;

	assert_non_null(line);
	assert_int_equal(cert_parse_line(line, &c, NULL), EPH_OK);
	assert_int_equal(cert_check_ca(c, f->ca), EPH_OK);
	return c;
}

static void
decode_grant(const struct cert *c, struct grant *g)
{
	const struct cert_opt *o = cert_find_extension(c, GRANT_EXTENSION);
	const uint8_t *p;
	size_t n;

	assert_non_null(o);
	assert_int_equal(cert_opt_value(o, &p, &n), EPH_OK);
	assert_int_equal(grant_decode(p, n, g), EPH_OK);
}

/* --------------------------------------------------------------- sign */

static void
test_sign_deploy(void **state)
{
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 7);
	struct signer_result res;
	struct grant g;
	struct cert *c;
	char *path, *out = NULL;
	const uint8_t *p;
	size_t n;

	q.reason = "release 4.2";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	assert_int_equal(res.counter, 1);
	assert_null(res.why);
	c = parse_cert(f, res.certificate);
	assert_int_equal(c->type, CERT_TYPE_USER);
	assert_int_equal(c->serial, 7);
	assert_string_equal(c->key_id, "eph:r-0123456789abcdef:alice:deploy");
	assert_int_equal(c->nprincipals, 1);
	assert_string_equal(c->principals[0], "eph:deploy@web01.example.com");
	assert_int_equal(c->valid_after, NOW - 60);
	assert_int_equal(c->valid_before, NOW + 600); /* default_ttl */
	assert_true(key_equal_public(c->key, f->user));
	assert_non_null(cert_find_critical(c, CERT_OPT_FORCE_COMMAND));
	assert_int_equal(
	    cert_opt_value(cert_find_critical(c, CERT_OPT_FORCE_COMMAND), &p, &n), EPH_OK);
	assert_memory_equal(p, "/usr/bin/deploy", n);
	assert_null(cert_find_critical(c, CERT_OPT_SOURCE_ADDRESS));
	/* A task with a command gets no pty, and nothing forwards. */
	assert_null(cert_find_extension(c, "permit-pty"));
	assert_null(cert_find_extension(c, "permit-agent-forwarding"));
	assert_null(cert_find_extension(c, "permit-port-forwarding"));
	decode_grant(c, &g);
	assert_string_equal(g.id, "r-0123456789abcdef");
	assert_string_equal(g.task, "deploy");
	assert_string_equal(g.requester, "alice");
	assert_string_equal(g.login_as, "deploy");
	assert_int_equal(g.napprovers, 0);
	assert_int_equal(g.max_logins, 2);
	assert_true(g.has_reason_digest);
	grant_clear(&g);

	/* The real ssh-keygen reads it the same way. */
	if (tu_ssh_keygen() != NULL) {
		path = tu_path(f->dir, "alice-cert.pub");
		assert_int_equal(
		    tu_write_file(path, res.certificate, strlen(res.certificate), 0644), 0);
		assert_int_equal(tu_run(&out, "%s -L -f '%s'", tu_ssh_keygen(), path), 0);
		tu_assert_contains(out, "ssh-ed25519-cert-v01@openssh.com user certificate");
		tu_assert_contains(out, "Key ID: \"eph:r-0123456789abcdef:alice:deploy\"");
		tu_assert_contains(out, "Serial: 7");
		tu_assert_contains(out, "eph:deploy@web01.example.com");
		tu_assert_contains(out, "force-command /usr/bin/deploy");
		tu_assert_contains(out, "grant@ephssh");
		free(out);
		free(path);
	}
	cert_free(c);
	signer_result_clear(&res);

	/* The counter goes on. */
	q.serial = 8;
	q.hosts = (const char *const[]){"web01.example.com", "web02.example.com"};
	q.nhosts = 2;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	assert_int_equal(res.counter, 2);
	c = parse_cert(f, res.certificate);
	assert_int_equal(c->nprincipals, 2);
	assert_string_equal(c->principals[0], "eph:deploy@web01.example.com");
	assert_string_equal(c->principals[1], "eph:deploy@web02.example.com");
	cert_free(c);
	signer_result_clear(&res);
}

static void
test_sign_approvals(void **state)
{
	static const char *const leads[] = {"leads"};
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 20);
	struct policy_approval apps[3];
	struct signer_result res;
	struct grant g;
	struct cert *c;
	const uint8_t *p;
	size_t n;

	memset(apps, 0, sizeof(apps));
	apps[0].user = "carol";
	apps[1].user = "dave";
	apps[2].user = "alice"; /* the requester: never counts */
	q.task = "db";
	q.hosts = db01;
	q.reason = "INC-4711";
	q.source_address = "192.0.2.10";
	q.login_as = "barman";

	/* One approval of two: pending, refused. */
	q.approvals = apps;
	q.napprovals = 1;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	assert_null(res.certificate);
	tu_assert_contains(res.why, "pending (1 of 2 approvals)");
	signer_result_clear(&res);
	/* The requester approving their own request adds nothing, nor does
	 * someone outside the approvers whatever groups they claim. */
	apps[1].user = "mallory";
	apps[1].groups = leads;
	apps[1].ngroups = 1;
	q.approvals = apps;
	q.napprovals = 3;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	tu_assert_contains(res.why, "pending (1 of 2 approvals)");
	signer_result_clear(&res);

	apps[1].user = "dave";
	apps[1].groups = NULL;
	apps[1].ngroups = 0;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	assert_int_equal(res.counter, 1);
	c = parse_cert(f, res.certificate);
	assert_string_equal(c->principals[0], "eph:db@db01.example.com");
	assert_int_equal(
	    cert_opt_value(cert_find_critical(c, CERT_OPT_SOURCE_ADDRESS), &p, &n), EPH_OK);
	assert_memory_equal(p, "192.0.2.10", n);
	assert_non_null(cert_find_extension(c, "permit-pty"));
	assert_int_equal(c->valid_before - NOW, 20 * 60);
	decode_grant(c, &g);
	assert_string_equal(g.login_as, "barman");
	assert_int_equal(g.napprovers, 2);
	assert_string_equal(g.approvers[0], "carol");
	assert_string_equal(g.approvers[1], "dave");
	grant_clear(&g);
	cert_free(c);
	signer_result_clear(&res);
}

/* The signer decides by its own policy, whatever the caller thinks. */
static void
test_sign_policy_refusals(void **state)
{
	static const char *const other[] = {"db01.example.com"};
	static const char *const many[] = {"web01.example.com", "db01.example.com"};
	struct fx *f = *state;
	struct signer_request q;
	struct signer_result res;
	struct cert *c;

	q = deploy_request(f, 30);
	q.requester = "bob";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	tu_assert_contains(res.why, "the policy says deny");
	tu_assert_contains(res.why, "bob");
	signer_result_clear(&res);

	q = deploy_request(f, 31);
	q.hosts = other;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	tu_assert_contains(res.why, "db01.example.com");
	signer_result_clear(&res);
	q.hosts = many;
	q.nhosts = 2;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	signer_result_clear(&res);

	q = deploy_request(f, 32);
	q.task = "no-such-task";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	signer_result_clear(&res);

	/* A reason is required for db, and a break-glass needs one too. */
	q = deploy_request(f, 33);
	q.task = "glass";
	q.hosts = db01;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	signer_result_clear(&res);

	/* A TTL above the task's maximum is clamped, not refused. */
	q = deploy_request(f, 34);
	q.ttl = 7200;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	c = parse_cert(f, res.certificate);
	assert_int_equal(c->valid_before - NOW, 15 * 60);
	cert_free(c);
	signer_result_clear(&res);
	/* And by ca.conf max_ttl below it. */
	signer_stop(f->s, 10000, NULL);
	f->s = NULL;
	write_conf(f, "max_ttl = \"5m\";\n");
	start(f);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	c = parse_cert(f, res.certificate);
	assert_int_equal(c->valid_before - NOW, 5 * 60);
	cert_free(c);
	signer_result_clear(&res);

	/* A task that binds the source address, with none known. */
	q = deploy_request(f, 35);
	q.task = "db";
	q.hosts = db01;
	q.reason = "x";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	signer_result_clear(&res);

	/* A request for another time than the signer's. */
	q = deploy_request(f, 36);
	q.now = NOW + SIGNER_MAX_DRIFT + 1;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_RANGE);
	tu_assert_contains(res.why, "from the signer's clock");
	signer_result_clear(&res);
	q.now = NOW - 86400;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_RANGE);
	signer_result_clear(&res);
	q.now = NOW + SIGNER_MAX_DRIFT;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	c = parse_cert(f, res.certificate);
	assert_int_equal(c->valid_after, NOW + SIGNER_MAX_DRIFT - 60);
	cert_free(c);
	signer_result_clear(&res);

	/* Fields the signer cannot use. */
	q = deploy_request(f, 0);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_INVAL);
	signer_result_clear(&res);
	q = deploy_request(f, 37);
	q.id = "r:1";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_INVAL);
	tu_assert_contains(res.why, "request id");
	signer_result_clear(&res);

	/* Refusals do not count as signatures, and the channel stays. */
	assert_true(signer_alive(f->s));
	q = deploy_request(f, 38);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	assert_int_equal(res.counter, 3);
	signer_result_clear(&res);
}

/* Each accepted and refused kind of public key, through the signer. */
static void
test_sign_key_types(void **state)
{
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 40);
	struct signer_result res;
	struct key *k = NULL;
	struct buf b;
	char *line = NULL, *cmd = NULL, *out = NULL;
	const char *why;
	struct cert *c;
	static const struct {
		enum key_type t;
		unsigned bits;
	} good[] = {{KEY_ECDSA_P256, 0}, {KEY_ECDSA_P384, 0}, {KEY_ECDSA_P521, 0}, {KEY_RSA, 2048}};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(key_generate(good[i].t, good[i].bits, &k), EPH_OK);
		assert_int_equal(key_format_public_line(k, NULL, &line), EPH_OK);
		q.public_key = line;
		q.serial = 40 + i;
		assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
		c = parse_cert(f, res.certificate);
		assert_true(key_equal_public(c->key, k));
		cert_free(c);
		signer_result_clear(&res);
		key_free(k);
		free(line);
	}
	/* A FIDO key. */
	line = tu_sk_line(f->user, "ssh:", "sk");
	q.public_key = line;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	tu_assert_contains(res.certificate, "sk-ssh-ed25519-cert-v01@openssh.com ");
	signer_result_clear(&res);
	free(line);

	/* Short RSA. */
	if (tu_ssh_keygen() != NULL) {
		assert_int_equal(tu_run(&out, "%s -q -t rsa -b 1024 -N '' -f '%s/rsa1024' 2>&1",
		                     tu_ssh_keygen(), f->dir),
		    0);
		free(out);
		cmd = tu_path(f->dir, "rsa1024.pub");
		line = tu_read_file(cmd, NULL);
		assert_non_null(line);
		q.public_key = line;
		assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_WEAKKEY);
		tu_assert_contains(res.why, "shorter than 2048 bits");
		signer_result_clear(&res);
		free(line);
		free(cmd);
	}
	/* DSA, made by hand (OpenSSH no longer makes them). */
	buf_init(&b);
	assert_int_equal(buf_put_cstring(&b, "ssh-dss"), EPH_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(buf_put_bignum2_bytes(&b, (const uint8_t *)"\x7f\x01\x02", 3), 0);
	{
		static const char tbl[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		struct buf l;
		size_t j;
		uint32_t v;

		buf_init(&l);
		assert_int_equal(buf_put(&l, "ssh-dss ", 8), 0);
		for (j = 0; j < b.len; j += 3) {
			char o[4];

			v = (uint32_t)b.d[j] << 16;
			if (j + 1 < b.len)
				v |= (uint32_t)b.d[j + 1] << 8;
			if (j + 2 < b.len)
				v |= b.d[j + 2];
			o[0] = tbl[(v >> 18) & 63];
			o[1] = tbl[(v >> 12) & 63];
			o[2] = j + 1 < b.len ? tbl[(v >> 6) & 63] : '=';
			o[3] = j + 2 < b.len ? tbl[v & 63] : '=';
			assert_int_equal(buf_put(&l, o, 4), 0);
		}
		assert_int_equal(buf_put_u8(&l, 0), 0);
		q.public_key = (const char *)l.d;
		assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_KEYTYPE);
		tu_assert_contains(res.why, "DSA is refused");
		signer_result_clear(&res);
		buf_free(&l);
	}
	buf_free(&b);

	/* A certificate, a private key, garbage. */
	q.public_key = f->user_line;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	line = res.certificate;
	res.certificate = NULL;
	signer_result_clear(&res);
	q.public_key = line;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_KEYTYPE);
	tu_assert_contains(res.why, "a certificate");
	signer_result_clear(&res);
	free(line);
	cmd = tu_path(f->dir, "ca");
	line = tu_read_file(cmd, NULL);
	free(cmd);
	q.public_key = line;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_FORMAT);
	tu_assert_contains(res.why, "a private key");
	signer_result_clear(&res);
	assert_int_equal(signer_check_user_key(line, NULL, &why), EPH_ERR_FORMAT);
	eph_wipe(line, strlen(line));
	free(line);
	q.public_key = "ssh-ed25519 not-base64!";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_FORMAT);
	signer_result_clear(&res);
	q.public_key = "ssh-foo AAAAB3NzaC1yc2E=";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_FORMAT);
	signer_result_clear(&res);
	assert_true(signer_alive(f->s));
}

/* ---------------------------------------------------------------- log */

static void
test_log_record(void **state)
{
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 77);
	struct signer_result res;
	char *log, *fp = NULL, *want = NULL;

	assert_int_equal(key_fingerprint(f->user, &fp), EPH_OK);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	/* Written by the signer before it answered: already there. */
	log = tu_read_file(f->log, NULL);
	assert_non_null(log);
	tu_assert_contains(log, "signer: started with CA key SHA256:");
	tu_assert_contains(log, "<5> signer: signed serial 77 ");
	tu_assert_contains(log, " EPH_GRANT=r-0123456789abcdef EPH_SERIAL=77 ");
	tu_assert_contains(log, " EPH_KEY_ID=eph:r-0123456789abcdef:alice:deploy ");
	tu_assert_contains(log, " EPH_PRINCIPALS=eph:deploy@web01.example.com ");
	if (asprintf(&want, " EPH_VALID_AFTER=%d EPH_VALID_BEFORE=%d EPH_FINGERPRINT=%s ", NOW - 60,
	        NOW + 600, fp) < 0)
		fail_msg("out of memory");
	tu_assert_contains(log, want);
	tu_assert_contains(log, " EPH_SIGNER_COUNTER=1 ");
	free(want);
	free(log);
	signer_result_clear(&res);

	/* Refusals are logged; break-glass signatures at LOG_ALERT. */
	q.requester = "bob";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	signer_result_clear(&res);
	q = deploy_request(f, 78);
	q.task = "glass";
	q.hosts = db01;
	q.reason = "db on fire";
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	signer_result_clear(&res);
	log = tu_read_file(f->log, NULL);
	tu_assert_contains(log, "<4> signer: refused serial 77 for bob task deploy: ");
	tu_assert_contains(log, "EPH_DECISION=refused");
	tu_assert_contains(log, "<1> signer: signed serial 78 ");
	tu_assert_contains(log, "EPH_BREAK_GLASS=1");
	tu_assert_contains(log, " EPH_SIGNER_COUNTER=2 ");
	free(log);
	free(fp);
}

/* ---------------------------------------------------- key, pubkeys */

/* The key is read once, by the signer: gone afterwards, it still signs;
 * and one the signer may not read stops it starting. */
static void
test_key_only_in_signer(void **state)
{
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 90);
	struct signer_result res;
	char *p = tu_path(f->dir, "ca"), *why = NULL;
	struct signer *s = NULL;
	char **lines;
	size_t n;

	start(f);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	signer_result_clear(&res);
	assert_int_equal(signer_pubkeys(f->s, &lines, &n), EPH_OK);
	assert_int_equal(n, 1);
	free(lines[0]);
	free(lines);

	/* Readable by others: refused by the signer, which says why. */
	assert_int_equal(key_save_private(f->ca, p), EPH_OK);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(signer_start(f->cc, NULL, &s, &why), EPH_ERR_PERM);
	assert_null(s);
	assert_non_null(why);
	tu_assert_contains(why, "ca_key ");
	tu_assert_contains(why, "/ca: ");
	free(why);
	/* A broken policy likewise, with its file:line. */
	assert_int_equal(chmod(p, 0600), 0);
	write_policy(f, "tasks = 5;\n");
	assert_int_equal(signer_start(f->cc, NULL, &s, &why), EPH_ERR_FORMAT);
	tu_assert_contains(why, "policy.conf:1: ");
	free(why);
	free(p);
}

static void
test_pubkeys(void **state)
{
	struct fx *f = *state;
	struct key *next = NULL;
	char **lines, *want = NULL, *p, *extra = NULL;
	size_t n;

	start(f);
	assert_int_equal(signer_pubkeys(f->s, &lines, &n), EPH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(key_format_public_line(f->ca, NULL, &want), EPH_OK);
	assert_string_equal(lines[0], want);
	free(lines[0]);
	free(lines);
	assert_int_equal(signer_stop(f->s, 10000, NULL), EPH_OK);
	f->s = NULL;

	assert_int_equal(key_generate(KEY_ECDSA_P256, 0, &next), EPH_OK);
	p = tu_path(f->dir, "next");
	assert_int_equal(key_save_private(next, p), EPH_OK);
	if (asprintf(&extra, "ca_key_next = \"%s\";\n", p) < 0)
		fail_msg("out of memory");
	write_conf(f, extra);
	start(f);
	assert_int_equal(signer_pubkeys(f->s, &lines, &n), EPH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], want);
	free(want);
	assert_int_equal(key_format_public_line(next, NULL, &want), EPH_OK);
	assert_string_equal(lines[1], want);
	free(lines[0]);
	free(lines[1]);
	free(lines);
	free(want);
	free(extra);
	free(p);
	key_free(next);
}

/* ------------------------------------------------------------ reload */

static void
test_reload(void **state)
{
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 100);
	struct signer_result res;
	uint64_t sigs, gen, want;
	char *why = NULL, *text, *p;
	int i;

	assert_int_equal(signer_ping(f->s, &sigs, &gen), EPH_OK);
	assert_int_equal(sigs, 0);
	assert_int_equal(gen, 1);
	/* Alice is no longer a requester: in force only once reloaded. */
	p = strstr(policy_text, "\"alice\" ]; hosts = [ \"@web\" ]");
	assert_non_null(p);
	text = strdup(policy_text);
	memcpy(text + (p - policy_text), "\"erin\"  ", 8);
	write_policy(f, text);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	signer_result_clear(&res);

	/* A broken policy: the old one stays, and the errors come back. */
	write_policy(f, "tasks = 5;\n");
	assert_int_equal(signer_reload(f->s, &why), EPH_ERR_FORMAT);
	tu_assert_contains(why, "policy.conf:1: ");
	free(why);
	q.serial = 101;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	signer_result_clear(&res);
	write_policy(f, text);
	assert_int_equal(signer_reload(f->s, &why), EPH_OK);
	assert_null(why);
	assert_int_equal(signer_ping(f->s, &sigs, &gen), EPH_OK);
	assert_int_equal(sigs, 2);
	assert_int_equal(gen, 2);
	q.serial = 102;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_PERM);
	signer_result_clear(&res);

	/* SIGHUP reloads too. */
	write_policy(f, policy_text);
	assert_int_equal(kill(signer_pid(f->s), SIGHUP), 0);
	want = 3;
	for (i = 0; i < 500; i++) {
		assert_int_equal(signer_ping(f->s, NULL, &gen), EPH_OK);
		if (gen == want)
			break;
		usleep(10000);
	}
	assert_int_equal(gen, want);
	q.serial = 103;
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_OK);
	signer_result_clear(&res);
	free(text);
}

/* --------------------------------------------------------- malformed */

/* Each malformed message ends the signer (status SIGNER_EXIT_PROTOCOL),
 * unanswered, with a log line; the parent then sees EPH_ERR_IO. */
static void
test_malformed(void **state)
{
	struct fx *f = *state;
	struct signer_request q = deploy_request(f, 5);
	struct signer_result res;
	struct buf good, b;
	uint8_t reply[64];
	char *big, *log;
	size_t i;
	int status;
	ssize_t n;

	buf_init(&good);
	buf_init(&b);
	/* A well-formed SIGN, for cutting and extending. */
	assert_int_equal(buf_put_u8(&good, SIGNER_MSG_SIGN), 0);
	assert_int_equal(buf_put_cstring(&good, "r-1"), 0);
	assert_int_equal(buf_put_cstring(&good, "deploy"), 0);
	assert_int_equal(buf_put_cstring(&good, "alice"), 0);
	assert_int_equal(buf_put_u8(&good, 0), 0);
	assert_int_equal(buf_put_u32(&good, 1000), 0);
	assert_int_equal(buf_put_u32(&good, 0), 0);
	assert_int_equal(buf_put_u32(&good, 1), 0);
	assert_int_equal(buf_put_cstring(&good, "web01.example.com"), 0);
	assert_int_equal(buf_put_u64(&good, 0), 0);
	assert_int_equal(buf_put_cstring(&good, ""), 0);
	assert_int_equal(buf_put_cstring(&good, ""), 0);
	assert_int_equal(buf_put_cstring(&good, ""), 0);
	assert_int_equal(buf_put_u32(&good, 0), 0);
	assert_int_equal(buf_put_cstring(&good, f->user_line), 0);
	assert_int_equal(buf_put_u64(&good, 5), 0);
	assert_int_equal(buf_put_u64(&good, NOW), 0);

	/* By hand, it signs. */
	start(f);
	assert_int_equal(send(signer_fd(f->s), good.d, good.len, 0), (ssize_t)good.len);
	n = recv(signer_fd(f->s), reply, sizeof(reply), MSG_TRUNC);
	assert_true(n > 1);
	assert_int_equal(reply[0], SIGNER_REPLY_OK);
	signer_stop(f->s, 10000, &status);
	f->s = NULL;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), SIGNER_EXIT_OK);

	big = calloc(1, SIGNER_MAX_MSG + 10);
	assert_non_null(big);
	big[0] = SIGNER_MSG_PING;
	for (i = 0; i < 9; i++) {
		start(f);
		buf_reset(&b);
		switch (i) {
		case 0: assert_int_equal(buf_put_u8(&b, 99), 0); break; /* unknown type */
		case 1: assert_int_equal(buf_put_u8(&b, SIGNER_REPLY_OK), 0); break;
		case 2: /* trailing byte after PING */
			assert_int_equal(buf_put_u8(&b, SIGNER_MSG_PING), 0);
			assert_int_equal(buf_put_u8(&b, 0), 0);
			break;
		case 3: /* SIGN cut short */
			assert_int_equal(buf_put(&b, good.d, good.len - 1), 0);
			break;
		case 4: /* SIGN with a byte too many */
			assert_int_equal(buf_put(&b, good.d, good.len), 0);
			assert_int_equal(buf_put_u8(&b, 0), 0);
			break;
		case 5: /* a string length beyond the packet */
			assert_int_equal(buf_put_u8(&b, SIGNER_MSG_SIGN), 0);
			assert_int_equal(buf_put_u32(&b, 0xffffffffu), 0);
			break;
		case 6: /* NUL inside a name */
			assert_int_equal(buf_put_u8(&b, SIGNER_MSG_SIGN), 0);
			assert_int_equal(buf_put_string(&b, "r\0x", 3), 0);
			break;
		case 7: /* a packet over SIGNER_MAX_MSG */
			assert_int_equal(buf_put(&b, big, SIGNER_MAX_MSG + 1), 0);
			break;
		case 8: /* an empty packet */ break;
		}
		assert_int_equal(send(signer_fd(f->s), b.len ? b.d : (const uint8_t *)"", b.len, 0),
		    (ssize_t)b.len);
		/* No answer: end of file. */
		n = recv(signer_fd(f->s), reply, sizeof(reply), 0);
		if (n != 0)
			fail_msg(
			    "case %zu: recv %zd (%s)", i, n, n < 0 ? strerror(errno) : "answered");
		assert_int_equal(signer_ping(f->s, NULL, NULL), EPH_ERR_IO);
		assert_false(signer_alive(f->s));
		assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_IO);
		signer_stop(f->s, 10000, &status);
		f->s = NULL;
		assert_true(WIFEXITED(status));
		/* An empty packet reads as end of file on SOCK_SEQPACKET: the
		 * signer ends as when the parent closes. */
		if (WEXITSTATUS(status) != (i == 8 ? SIGNER_EXIT_OK : SIGNER_EXIT_PROTOCOL))
			fail_msg("case %zu: exit %d", i, WEXITSTATUS(status));
	}
	log = tu_read_file(f->log, NULL);
	tu_assert_contains(log, "signer: malformed request (");
	free(log);
	free(big);
	buf_free(&b);
	buf_free(&good);

	/* A caller's own over-long field is refused before it is sent. */
	start(f);
	q.reason = big = calloc(1, SIGNER_MAX_FIELD + 2);
	memset(big, 'x', SIGNER_MAX_FIELD + 1);
	assert_int_equal(signer_sign(f->s, &q, &res), EPH_ERR_INVAL);
	assert_true(signer_alive(f->s));
	free(big);
}

/* ------------------------------------------------------------ the fds */

/* A listener the parent holds is not kept by the signer: once the parent
 * closes it, nothing accepts on it. */
static void
test_no_listener_in_signer(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sun;
	int l, c;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/l.sock", f->dir);
	l = socket(AF_UNIX, SOCK_STREAM, 0); /* no CLOEXEC: it would survive fork */
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 5), 0);
	start(f);
	close(l);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(c);
	assert_int_equal(signer_ping(f->s, NULL, NULL), EPH_OK);
}

/* The hex value of a "Cap...:" line of /proc/PID/status. */
static unsigned long long
proc_cap(pid_t pid, const char *name)
{
	char path[64], *text, *at;
	unsigned long long v;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	assert_non_null(text = tu_read_file(path, NULL));
	at = strstr(text, name);
	assert_non_null(at);
	assert_int_equal(sscanf(at + strlen(name), " %llx", &v), 1);
	free(text);
	return v;
}

static void
test_no_capabilities_in_signer(void **state)
{
	struct fx *f = *state;
	uint64_t gen = 0;
	char *why = NULL;
	pid_t pid;

	start(f);
	pid = signer_pid(f->s);
	assert_int_equal(proc_cap(pid, "CapEff:"), 0);
	assert_int_equal(proc_cap(pid, "CapPrm:"), 0);
	assert_int_equal(proc_cap(pid, "CapInh:"), 0);
	assert_int_equal(proc_cap(pid, "CapAmb:"), 0);
	/* Root with CAP_SETPCAP (make check as root) empties the bound too. */
	if ((proc_cap(getpid(), "CapEff:") & (1ull << 8)) != 0)
		assert_int_equal(proc_cap(pid, "CapBnd:"), 0);
	/* And it still reads its policy, as the owner of the file. */
	assert_int_equal(signer_reload(f->s, &why), EPH_OK);
	assert_null(why);
	assert_int_equal(signer_ping(f->s, NULL, &gen), EPH_OK);
	assert_int_equal(gen, 2);
}

static void
test_stop(void **state)
{
	struct fx *f = *state;
	int status;

	start(f);
	assert_int_equal(signer_stop(f->s, 10000, &status), EPH_OK);
	f->s = NULL;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), SIGNER_EXIT_OK);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sign_deploy, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_approvals, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_policy_refusals, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_key_types, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_log_record, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_key_only_in_signer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pubkeys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup_started, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_listener_in_signer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_capabilities_in_signer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};

	tu_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("signer", tests, NULL, NULL);
}

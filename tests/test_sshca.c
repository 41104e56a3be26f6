/* Tests for the sshca command line: the built binary run in temp dirs,
 * its output and files checked against ssh-keygen -L / -Q / -l. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "key.h"
#include "testutil.h"

#define SKEW_DEFAULT 60

struct fx {
	char *dir;
};

/* Run a shell command inside the fixture's dir. */
#define run(f, out, ...) tu_run_in((f)->dir, (out), __VA_ARGS__)

#define SSHCA tu_sshca()

static char *
slurp(struct fx *f, const char *name)
{
	char *p = tu_path(f->dir, "%s", name), *d;

	d = tu_read_file(p, NULL);
	free(p);
	return d;
}

static int
exists(struct fx *f, const char *name)
{
	char *p = tu_path(f->dir, "%s", name);
	struct stat st;
	int rc = lstat(p, &st) == 0;

	free(p);
	return rc;
}

static mode_t
mode_of(struct fx *f, const char *name)
{
	char *p = tu_path(f->dir, "%s", name);
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

/* A CA key "ca" (Ed25519) and a user key "user.pub" in a fresh dir. */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *out = NULL;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	if (run(f, &out, "%s init --key ca", SSHCA) != 0)
		fail_msg("sshca init: %s", out);
	free(out);
	if (run(f, &out, "%s init --key user --comment alice@laptop", SSHCA) != 0)
		fail_msg("sshca init user: %s", out);
	free(out);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS" in UTC to seconds. */
static time_t
parse_utc(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(end);
	return timegm(&tm);
}

/* The from/to times of the "Valid:" line of ssh-keygen -L (TZ=UTC). */
static void
valid_window(const char *listing, time_t *from, time_t *to)
{
	const char *v = strstr(listing, "Valid: from ");
	const char *t;

	assert_non_null(v);
	*from = parse_utc(v + strlen("Valid: from "));
	t = strstr(v, " to ");
	assert_non_null(t);
	*to = parse_utc(t + 4);
}

/*
 * sshca inspect output without the lines ssh-keygen -L does not print
 * (the grant block, the signature and trusted-CA lines), so the rest
 * can be compared byte for byte.
 */
static char *
strip_extras(const char *s)
{
	char *out = calloc(1, strlen(s) + 1), *o = out;
	const char *line = s, *nl;
	size_t len;
	int in_grant = 0;

	assert_non_null(out);
	while (*line != '\0') {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line + 1) : strlen(line);

		if (in_grant && strncmp(line, "                ", 16) == 0)
			goto next;
		in_grant = 0;
		if (strncmp(line, "        Grant (", 15) == 0) {
			in_grant = 1;
			goto next;
		}
		if (strncmp(line, "        Signature: ", 19) == 0 ||
		    strncmp(line, "        Trusted CA: ", 20) == 0)
			goto next;
		memcpy(o, line, len);
		o += len;
	next:
		line += len;
	}
	*o = '\0';
	return out;
}

/* ------------------------------------------------------------ dispatch */

static void
test_help(void **state)
{
	static const char *cmds[] = {
	    "help", "init", "pubkey", "sign", "krl", "inspect", "policy", "check-config"};
	struct fx *f = *state;
	char *out = NULL, want[64];
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(want, sizeof(want), "usage: sshca %s ", cmds[i]);
		assert_int_equal(run(f, &out, "%s %s --help 2>/dev/null", SSHCA, cmds[i]), 0);
		assert_true(strncmp(out, want, strlen(want)) == 0);
		tu_assert_contains(out, "--help");
		free(out);
		assert_int_equal(run(f, &out, "%s %s -h 2>/dev/null", SSHCA, cmds[i]), 0);
		assert_true(strncmp(out, want, strlen(want)) == 0);
		free(out);
		assert_int_equal(run(f, &out, "%s help %s 2>/dev/null", SSHCA, cmds[i]), 0);
		assert_true(strncmp(out, want, strlen(want)) == 0);
		free(out);
	}
	/* --help wins even with other (incomplete) options around it. */
	assert_int_equal(run(f, &out, "%s sign --serial 5 --help", SSHCA), 0);
	tu_assert_contains(out, "usage: sshca sign");
	free(out);

	assert_int_equal(run(f, &out, "%s --help 2>/dev/null", SSHCA), 0);
	tu_assert_contains(out, "usage: sshca");
	for (i = 1; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		tu_assert_contains(out, cmds[i]);
	free(out);
	assert_int_equal(run(f, &out, "%s help 2>/dev/null", SSHCA), 0);
	tu_assert_contains(out, "Commands:");
	free(out);
	assert_int_equal(run(f, &out, "%s --version 2>/dev/null", SSHCA), 0);
	tu_assert_contains(out, PACKAGE_VERSION);
	free(out);
}

static void
test_unknown_command(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, &out, "%s frobnicate >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "unknown command 'frobnicate'");
	tu_assert_contains(out, "usage: sshca");
	free(out);
	assert_int_equal(run(f, &out, "%s >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "usage: sshca");
	free(out);
	assert_int_equal(run(f, &out, "%s --frob >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "'--frob'");
	free(out);
	assert_int_equal(run(f, &out, "%s help frobnicate >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "unknown command 'frobnicate'");
	free(out);

	/* Unknown options name themselves, then the command's usage. */
	assert_int_equal(run(f, &out, "%s sign --bogus user.pub >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "sshca sign: unknown or ambiguous option: '--bogus'");
	tu_assert_contains(out, "usage: sshca sign");
	free(out);
	/* "--no" could be --no-pty or --no-default-extensions. */
	assert_int_equal(run(f, &out, "%s sign --no user.pub >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "ambiguous option: '--no'");
	free(out);
	assert_int_equal(run(f, &out, "%s sign --no-pty=1 user.pub >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "'--no-pty=1'");
	free(out);
	assert_int_equal(run(f, &out, "%s init -x >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "'-x'");
	free(out);
	assert_int_equal(run(f, &out, "%s krl --query >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "requires an argument: '--query'");
	free(out);
	assert_int_equal(run(f, &out, "%s inspect >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "CERT.pub is required");
	free(out);
	assert_int_equal(run(f, &out, "%s pubkey --key ca extra >/dev/null", SSHCA), 2);
	tu_assert_contains(out, "unexpected argument 'extra'");
	free(out);
}

/* -------------------------------------------------------- init, pubkey */

static void
test_init_all_types(void **state)
{
	static const struct {
		const char *type;
		const char *prefix;
		const char *bits_and_name;
	} types[] = {
	    {"ed25519", "ssh-ed25519 ", "(ED25519)"},
	    {"ecdsa", "ecdsa-sha2-nistp256 ", "(ECDSA)"},
	    {"ecdsa-p384", "ecdsa-sha2-nistp384 ", "(ECDSA)"},
	    {"ecdsa-p521", "ecdsa-sha2-nistp521 ", "(ECDSA)"},
	    {"rsa", "ssh-rsa ", "(RSA)"},
	};
	struct fx *f = *state;
	char *out = NULL, *kg = NULL, *pub, *pk, name[64], last[512];
	const char *nl;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(name, sizeof(name), "k-%s", types[i].type);
		assert_int_equal(run(f, &out, "%s init --key %s --type %s --comment 'test %s' 2>&1",
		                     SSHCA, name, types[i].type, types[i].type),
		    0);
		assert_int_equal(mode_of(f, name), 0600);
		assert_true(exists(f, name));
		snprintf(last, sizeof(last), "%s.pub", name);
		assert_int_equal(mode_of(f, last), 0644);
		pub = slurp(f, last);
		assert_non_null(pub);
		assert_true(strncmp(pub, types[i].prefix, strlen(types[i].prefix)) == 0);
		snprintf(last, sizeof(last), " test %s\n", types[i].type);
		tu_assert_contains(pub, last);
		tu_assert_contains(out, types[i].bits_and_name);

		/* pubkey prints the .pub line, from the private key or .pub. */
		assert_int_equal(run(f, &pk, "%s pubkey --key %s 2>/dev/null", SSHCA, name), 0);
		assert_string_equal(pk, pub);
		free(pk);
		assert_int_equal(run(f, &pk, "%s pubkey --key %s.pub 2>/dev/null", SSHCA, name), 0);
		assert_string_equal(pk, pub);
		free(pk);
		assert_int_equal(
		    run(f, &pk, "%s pubkey --key %s -C other 2>/dev/null", SSHCA, name), 0);
		tu_assert_contains(pk, " other\n");
		free(pk);

		/* The fingerprint line is ssh-keygen -l's, for the same key. */
		if (tu_ssh_keygen() != NULL) {
			assert_int_equal(run(f, &kg, "%s -l -f %s.pub", tu_ssh_keygen(), name), 0);
			nl = out + strlen(out) - 1;
			while (nl > out && nl[-1] != '\n')
				nl--;
			assert_string_equal(nl, kg);
			free(kg);
		}
		free(pub);
		free(out);
	}
	/* A comment from a .pub that holds another key is not borrowed. */
	assert_int_equal(run(f, NULL, "cp user.pub k-ed25519.pub"), 0);
	assert_int_equal(run(f, &pk, "%s pubkey --key k-ed25519 2>/dev/null", SSHCA), 0);
	assert_true(strstr(pk, "alice") == NULL);
	assert_true(strncmp(pk, "ssh-ed25519 ", 12) == 0);
	free(pk);

	/* Bad types and sizes are usage errors and make nothing. */
	assert_int_equal(run(f, &out, "%s init --key x --type dsa", SSHCA), 2);
	tu_assert_contains(out, "unknown key type 'dsa'");
	free(out);
	assert_int_equal(run(f, &out, "%s init --key x --type rsa --bits 1024", SSHCA), 2);
	tu_assert_contains(out, "--bits");
	free(out);
	assert_int_equal(run(f, &out, "%s init --key x --bits 4096", SSHCA), 2);
	tu_assert_contains(out, "only to --type rsa");
	free(out);
	assert_int_equal(run(f, &out, "%s init --type ed25519", SSHCA), 2);
	tu_assert_contains(out, "--key FILE is required");
	free(out);
	assert_false(exists(f, "x"));
	assert_false(exists(f, "x.pub"));
	assert_int_equal(run(f, &out, "%s pubkey --key nonexistent", SSHCA), 1);
	tu_assert_contains(out, "nonexistent");
	free(out);
}

static void
test_init_refuses_overwrite(void **state)
{
	struct fx *f = *state;
	char *before, *before_pub, *after, *out = NULL;

	before = slurp(f, "ca");
	before_pub = slurp(f, "ca.pub");
	assert_int_equal(run(f, &out, "%s init --key ca", SSHCA), 1);
	tu_assert_contains(out, "ca already exists; refusing to overwrite");
	free(out);
	after = slurp(f, "ca");
	assert_string_equal(before, after);
	free(after);
	after = slurp(f, "ca.pub");
	assert_string_equal(before_pub, after);
	free(after);
	assert_int_equal(mode_of(f, "ca"), 0600);

	/* Only the .pub exists: refused, and no private key left behind. */
	assert_int_equal(run(f, NULL, "echo junk > lone.pub"), 0);
	assert_int_equal(run(f, &out, "%s init --key lone", SSHCA), 1);
	tu_assert_contains(out, "lone.pub already exists");
	free(out);
	assert_false(exists(f, "lone"));
	/* A symlink in the way is refused too, not followed. */
	assert_int_equal(run(f, NULL, "ln -s /nonexistent/target link"), 0);
	assert_int_equal(run(f, &out, "%s init --key link", SSHCA), 1);
	free(out);
	free(before);
	free(before_pub);
}

/* ---------------------------------------------------------------- sign */

static void
test_sign_refuses_group_readable_key(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, NULL, "chmod 0640 ca"), 0);
	assert_int_equal(run(f, &out,
	                     "%s sign --key ca --principals a "
	                     "--ttl 5m --serial 1 --key-id x user.pub",
	                     SSHCA),
	    1);
	tu_assert_contains(out, "sshca sign: cannot load CA key ca:");
	tu_assert_contains(out, "permissions");
	free(out);
	assert_false(exists(f, "user-cert.pub"));
	assert_int_equal(run(f, NULL, "chmod 0604 ca"), 0);
	assert_int_equal(run(f, &out,
	                     "%s sign --key ca --principals a "
	                     "--ttl 5m --serial 1 --key-id x user.pub",
	                     SSHCA),
	    1);
	free(out);
	assert_int_equal(run(f, NULL, "chmod 0600 ca"), 0);
	assert_int_equal(run(f, &out,
	                     "%s sign --key ca --principals a "
	                     "--ttl 5m --serial 1 --key-id x user.pub",
	                     SSHCA),
	    0);
	free(out);
	assert_true(exists(f, "user-cert.pub"));
}

static void
test_sign_matches_ssh_keygen(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *list = NULL, *cert;
	time_t t0, t1, from, to;

	TU_REQUIRE_SSH_KEYGEN();
	t0 = time(NULL);
	assert_int_equal(run(f, &out,
	                     "%s sign --key ca --principals "
	                     "eph:db-maint@db01,root --ttl 5m --serial 4711 --key-id "
	                     "'eph:g-1:alice:db-maint' --source-address 10.0.0.0/8,2001:db8::/32 "
	                     "--force-command '/usr/bin/vacuumdb --all' --no-pty "
	                     "--extension foo@example.com=bar --extension flag@example.com "
	                     "user.pub",
	                     SSHCA),
	    0);
	t1 = time(NULL);
	tu_assert_contains(out,
	    "Signed user key user-cert.pub: id \"eph:g-1:alice:db-maint\" serial 4711 for "
	    "eph:db-maint@db01,root valid from ");
	free(out);
	assert_int_equal(mode_of(f, "user-cert.pub"), 0644);
	cert = slurp(f, "user-cert.pub");
	assert_true(strncmp(cert, "ssh-ed25519-cert-v01@openssh.com ", 33) == 0);
	tu_assert_contains(cert, " alice@laptop\n");
	free(cert);

	assert_int_equal(run(f, &list, "TZ=UTC %s -L -f user-cert.pub", tu_ssh_keygen()), 0);
	tu_assert_contains(list, "Type: ssh-ed25519-cert-v01@openssh.com user certificate\n");
	tu_assert_contains(list, "Key ID: \"eph:g-1:alice:db-maint\"\n");
	tu_assert_contains(list, "Serial: 4711\n");
	tu_assert_contains(list,
	    "Principals: \n"
	    "                eph:db-maint@db01\n"
	    "                root\n"
	    "        Critical Options: \n"
	    "                force-command /usr/bin/vacuumdb --all\n"
	    "                source-address 10.0.0.0/8,2001:db8::/32\n"
	    "        Extensions: \n"
	    "                flag@example.com UNKNOWN FLAG OPTION\n"
	    "                foo@example.com UNKNOWN OPTION: 00000003626172 (len 7)\n"
	    "                permit-X11-forwarding\n"
	    "                permit-agent-forwarding\n"
	    "                permit-port-forwarding\n"
	    "                permit-user-rc\n");
	assert_true(strstr(list, "permit-pty") == NULL);
	valid_window(list, &from, &to);
	assert_int_equal(to - from, 5 * 60 + SKEW_DEFAULT);
	assert_true(from >= t0 - SKEW_DEFAULT && from <= t1 - SKEW_DEFAULT);
	free(list);

	/* Its CA is ours: ssh-keygen's fingerprint of ca.pub appears. */
	assert_int_equal(run(f, &out, "%s -l -f ca.pub | cut -d' ' -f2", tu_ssh_keygen()), 0);
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(run(f, &list, "%s -L -f user-cert.pub", tu_ssh_keygen()), 0);
	tu_assert_contains(list, out);
	free(out);
	free(list);

	/* Defaults, -o, other skew, another subject key type. */
	assert_int_equal(run(f, NULL, "%s -q -t ecdsa -N '' -C bob -f bob", tu_ssh_keygen()), 0);
	assert_int_equal(run(f, &out,
	                     "%s sign -k ca -n bob -z 7 -I id7 "
	                     "--ttl 90s --skew 0 -o custom.crt bob.pub",
	                     SSHCA),
	    0);
	free(out);
	assert_false(exists(f, "bob-cert.pub"));
	assert_int_equal(run(f, &list, "TZ=UTC %s -L -f custom.crt", tu_ssh_keygen()), 0);
	tu_assert_contains(list, "ecdsa-sha2-nistp256-cert-v01@openssh.com user");
	tu_assert_contains(list, "Critical Options: (none)\n");
	tu_assert_contains(list, "                permit-pty\n");
	valid_window(list, &from, &to);
	assert_int_equal(to - from, 90);
	free(list);

	assert_int_equal(run(f, &out,
	                     "%s sign -k ca -n bob -z 8 -I id8 "
	                     "--ttl 1h --no-default-extensions --extension permit-pty bob.pub",
	                     SSHCA),
	    0);
	free(out);
	assert_int_equal(run(f, &list, "%s -L -f bob-cert.pub", tu_ssh_keygen()), 0);
	tu_assert_contains(list, "Extensions: \n                permit-pty\n");
	assert_true(strstr(list, "permit-user-rc") == NULL);
	free(list);

	/* Signing again replaces the certificate. */
	assert_int_equal(
	    run(f, &out, "%s sign -k ca -n bob -z 9 -I id9 --ttl 1h bob.pub", SSHCA), 0);
	free(out);
	assert_int_equal(run(f, &list, "%s -L -f bob-cert.pub", tu_ssh_keygen()), 0);
	tu_assert_contains(list, "Serial: 9\n");
	free(list);
}

static void
test_sign_ttl_limits(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 25h user.pub", SSHCA), 2);
	tu_assert_contains(out, "--ttl 25h is over the");
	tu_assert_contains(out, "refusing");
	free(out);
	assert_int_equal(
	    run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 2h --max-ttl 1h user.pub", SSHCA), 2);
	tu_assert_contains(out, "over the 1h limit");
	free(out);
	assert_int_equal(run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 0 user.pub", SSHCA), 2);
	tu_assert_contains(out, "--ttl must be more than 0");
	free(out);
	assert_int_equal(
	    run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 5m --skew 2d user.pub", SSHCA), 2);
	tu_assert_contains(out, "--skew");
	free(out);
	assert_false(exists(f, "user-cert.pub"));

	/* Exactly the limit is fine, and the limit can be raised. */
	assert_int_equal(run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 24h user.pub", SSHCA), 0);
	free(out);
	assert_int_equal(
	    run(f, &out, "%s sign -k ca -n a -z 2 -I x --ttl 48h --max-ttl 2d user.pub", SSHCA), 0);
	free(out);
}

static void
test_sign_required_options(void **state)
{
	static const struct {
		const char *args;
		const char *msg;
	} cases[] = {
	    {"-k ca -n a -I x --ttl 5m", "--serial is required"},
	    {"-k ca -z 1 -I x --ttl 5m", "--principals is required"},
	    {"-k ca -n a -z 1 --ttl 5m", "--key-id is required"},
	    {"-k ca -n a -z 1 -I x", "--ttl is required"},
	    {"-n a -z 1 -I x --ttl 5m", "--key CAKEY is required"},
	    {"-k ca -n a, -z 1 -I x --ttl 5m", "--principals 'a,'"},
	    {"-k ca -n a,,b -z 1 -I x --ttl 5m", "--principals 'a,,b'"},
	    {"-k ca -n '' -z 1 -I x --ttl 5m", "--principals ''"},
	    {"-k ca -n 'a b' -z 1 -I x --ttl 5m", "spaces"},
	    {"-k ca -n a,a -z 1 -I x --ttl 5m", "listed twice"},
	    {"-k ca -n a -z 0 -I x --ttl 5m", "--serial: 0 is out of range"},
	    {"-k ca -n a -z -3 -I x --ttl 5m", "--serial: bad number"},
	    {"-k ca -n a -z 18446744073709551616 -I x --ttl 5m", "--serial: bad number"},
	    {"-k ca -n a -z 1 -z 2 -I x --ttl 5m", "--serial given twice"},
	    {"-k ca -n a -z 1 -I '' --ttl 5m", "--key-id: empty"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --source-address 10.0.0.1/8", "--source-address"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --source-address nonsense", "--source-address"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --source-address 10.0.0.0/33", "--source-address"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --task t", "need --grant-id"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t",
	        "needs --task, --requester and --login-as"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t --requester al",
	        "needs --task, --requester and --login-as"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --login-as root", "need --grant-id"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t --requester al --login-as al "
	     "--approver al",
	        "cannot approve"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t "
	     "--requester al --login-as al --max-logins 4294967296",
	        "--max-logins"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t --requester al --login-as 'r t'",
	        "--login-as 'r t': not an account name"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t --requester al --login-as -x",
	        "--login-as '-x': not an account name"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g --task t --requester a:l --login-as al",
	        "--requester: empty, too long, or has spaces, ':'"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --grant-id g:1 --task t --requester al --login-as al",
	        "--grant-id: empty, too long, or has spaces, ':'"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --extension grant@ephssh=x", "use --grant-id"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --extension permit-pty", "already present"},
	    {"-k ca -n a -z 1 -I x --ttl 5m --no-pty "
	     "--no-default-extensions --extension permit-pty",
	        "contradicts"},
	    {"-k ca -n a -z 1 -I x --ttl 5m -o user.pub user.pub", "overwrite"},
	    {"-k ca -n a -z 1 -I x --ttl 5m -o ca user.pub", "overwrite"},
	    {"-k ca -n a -z 1 -I x --ttl 5m user.pub extra", "unexpected argument 'extra'"},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = run(f, &out, "%s sign %s%s", SSHCA, cases[i].args,
		    strstr(cases[i].args, "user.pub") ? "" : " user.pub");
		if (rc != 2 || strstr(out, cases[i].msg) == NULL)
			fail_msg("sign %s: exit %d, want 2 and \"%s\":\n%s", cases[i].args, rc,
			    cases[i].msg, out);
		tu_assert_contains(out, "usage: sshca sign");
		free(out);
		assert_false(exists(f, "user-cert.pub"));
	}
	assert_int_equal(run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 5m", SSHCA), 2);
	tu_assert_contains(out, "USER.pub is required");
	free(out);
	/* Runtime failures are 1 and name the file. */
	assert_int_equal(
	    run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 5m missing.pub", SSHCA), 1);
	tu_assert_contains(out, "missing.pub");
	free(out);
	assert_int_equal(
	    run(f, &out, "%s sign -k nokey -n a -z 1 -I x --ttl 5m user.pub", SSHCA), 1);
	tu_assert_contains(out, "cannot load CA key nokey");
	free(out);
}

static void
test_sign_bad_duration(void **state)
{
	static const char *const bad[] = {
	    "--ttl 5x",
	    "--ttl ''",
	    "--ttl 1.5h",
	    "--ttl -5m",
	    "--ttl '5 m'",
	    "--ttl 99999999999999999999",
	    "--ttl 5m --skew -1",
	    "--ttl 5m --skew 1y",
	    "--ttl 5m --max-ttl 1.5h",
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = run(f, &out, "%s sign -k ca -n a -z 1 -I x %s user.pub", SSHCA, bad[i]);
		if (rc != 2 || strstr(out, "bad duration") == NULL)
			fail_msg("%s: exit %d:\n%s", bad[i], rc, out);
		free(out);
	}
	assert_false(exists(f, "user-cert.pub"));
}

/* ----------------------------------------------------------------- krl */

/* Certificates 5, 10 and 20 (key id "id-20") from ca; 5 also from ca2. */
static void
make_certs(struct fx *f)
{
	static const unsigned serials[] = {5, 10, 20};
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		assert_int_equal(run(f, &out,
		                     "%s sign -k ca -n a -z %u "
		                     "-I id-%u --ttl 1h -o c%u.pub user.pub",
		                     SSHCA, serials[i], serials[i], serials[i]),
		    0);
		free(out);
	}
	assert_int_equal(run(f, &out,
	                     "%s init --key ca2 --type ecdsa && "
	                     "%s sign -k ca2 -n a -z 5 -I id-5 --ttl 1h -o other5.pub user.pub",
	                     SSHCA, SSHCA),
	    0);
	free(out);
}

/* sshca krl --query and ssh-keygen -Q give the same lines and status. */
static void
assert_query_agrees(struct fx *f, const char *krl, const char *files)
{
	char *ours = NULL, *theirs = NULL;
	int rc_ours, rc_theirs;

	rc_ours = run(f, &ours, "%s krl --query %s %s", SSHCA, krl, files);
	rc_theirs = run(f, &theirs, "%s -Q -f %s %s", tu_ssh_keygen(), krl, files);
	if (rc_ours != rc_theirs || strcmp(ours, theirs) != 0)
		fail_msg("krl %s, %s:\nsshca (exit %d):\n%sssh-keygen (exit %d):\n%s", krl, files,
		    rc_ours, ours, rc_theirs, theirs);
	free(ours);
	free(theirs);
}

static void
test_krl_agrees_with_ssh_keygen(void **state)
{
	struct fx *f = *state;
	char *out = NULL;
	const char *all = "c5.pub c10.pub c20.pub other5.pub user.pub";

	TU_REQUIRE_SSH_KEYGEN();
	make_certs(f);

	/* From the public key alone, serial 5 and range 8-12. */
	assert_int_equal(
	    run(f, &out, "%s krl --key ca.pub --serial 5 --serial 8-12 -o k1", SSHCA), 0);
	free(out);
	assert_int_equal(mode_of(f, "k1"), 0644);
	assert_int_equal(run(f, &out, "%s -Q -l -f k1", tu_ssh_keygen()), 0);
	tu_assert_contains(out, "serial: 5\n");
	tu_assert_contains(out, "serial: 8-12\n");
	free(out);
	assert_query_agrees(f, "k1", all);
	assert_int_equal(run(f, &out, "%s krl --query k1 %s", SSHCA, all), 1);
	tu_assert_contains(out,
	    "c5.pub (alice@laptop): REVOKED\n"
	    "c10.pub (alice@laptop): REVOKED\n"
	    "c20.pub (alice@laptop): ok\n"
	    "other5.pub (alice@laptop): ok\n"
	    "user.pub (alice@laptop): ok\n");
	free(out);

	/* From the private key, by key id, with version and comment. */
	assert_int_equal(
	    run(f, &out, "%s krl -k ca --key-id id-20 --krl-version 42 -C 'test list' -o k2",
	        SSHCA),
	    0);
	free(out);
	assert_int_equal(run(f, &out, "%s -Q -l -f k2", tu_ssh_keygen()), 0);
	tu_assert_contains(out, "# KRL version 42\n");
	tu_assert_contains(out, "# Comment: test list\n");
	tu_assert_contains(out, "id: id-20\n");
	free(out);
	assert_query_agrees(f, "k2", all);

	/* Any CA: serial 5 of both CAs. */
	assert_int_equal(run(f, &out, "%s krl --any-ca --serial 5 -o k3", SSHCA), 0);
	free(out);
	assert_query_agrees(f, "k3", all);
	assert_int_equal(run(f, &out, "%s krl --query k3 other5.pub", SSHCA), 1);
	free(out);

	/* --update adds to the list and keeps its version. */
	assert_int_equal(run(f, &out, "%s krl -k ca.pub --serial 20 --update -o k2", SSHCA), 0);
	free(out);
	assert_int_equal(run(f, &out, "%s -Q -l -f k2", tu_ssh_keygen()), 0);
	tu_assert_contains(out, "# KRL version 42\n");
	free(out);
	assert_query_agrees(f, "k2", all);

	/* An empty list revokes nothing; a KRL from ssh-keygen reads too. */
	assert_int_equal(run(f, &out, "%s krl -k ca -o k4", SSHCA), 0);
	free(out);
	assert_query_agrees(f, "k4", all);
	assert_int_equal(
	    run(f, &out, "printf 'serial: 10-20\\n' > spec && %s -k -f k5 -s ca.pub spec",
	        tu_ssh_keygen()),
	    0);
	free(out);
	assert_query_agrees(f, "k5", all);

	/* Usage errors. */
	assert_int_equal(run(f, &out, "%s krl -k ca --serial 0 -o k6", SSHCA), 2);
	tu_assert_contains(out, "serial 0 cannot be revoked");
	free(out);
	assert_int_equal(run(f, &out, "%s krl -k ca --serial 9-3 -o k6", SSHCA), 2);
	tu_assert_contains(out, "A <= B");
	free(out);
	assert_int_equal(run(f, &out, "%s krl -k ca --serial x -o k6", SSHCA), 2);
	free(out);
	assert_int_equal(run(f, &out, "%s krl --serial 1 -o k6", SSHCA), 2);
	tu_assert_contains(out, "exactly one of --key CAKEY and --any-ca");
	free(out);
	assert_int_equal(run(f, &out, "%s krl -k ca --serial 1", SSHCA), 2);
	tu_assert_contains(out, "-o FILE is required");
	free(out);
	assert_int_equal(run(f, &out, "%s krl -k nokey --serial 1 -o k6", SSHCA), 1);
	tu_assert_contains(out, "nokey");
	free(out);
	assert_false(exists(f, "k6"));
}

static void
test_krl_query_exit_codes(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	make_certs(f);
	assert_int_equal(run(f, &out, "%s krl -k ca.pub --serial 10 -o krl", SSHCA), 0);
	free(out);

	assert_int_equal(run(f, &out, "%s krl --query krl c5.pub c20.pub", SSHCA), 0);
	assert_string_equal(out,
	    "c5.pub (alice@laptop): ok\n"
	    "c20.pub (alice@laptop): ok\n");
	free(out);
	assert_int_equal(run(f, &out, "%s krl -Q krl c5.pub c10.pub", SSHCA), 1);
	tu_assert_contains(out, "c10.pub (alice@laptop): REVOKED\n");
	free(out);
	/* No comment, no parenthesis. */
	assert_int_equal(
	    run(f, &out, "cut -d' ' -f1,2 c10.pub > bare.pub && %s krl --query krl bare.pub",
	        SSHCA),
	    1);
	assert_string_equal(out, "bare.pub: REVOKED\n");
	free(out);

	/* Anything unreadable is 2, never 0. */
	assert_int_equal(run(f, &out, "%s krl --query krl missing.pub", SSHCA), 2);
	tu_assert_contains(out, "missing.pub");
	free(out);
	assert_int_equal(run(f, &out, "%s krl --query krl c5.pub missing.pub", SSHCA), 2);
	free(out);
	assert_int_equal(run(f, &out, "%s krl --query nokrl c5.pub", SSHCA), 2);
	tu_assert_contains(out, "cannot load KRL nokrl");
	free(out);
	assert_int_equal(run(f, &out,
	                     "cp krl open.krl && chmod 0666 open.krl "
	                     "&& %s krl --query open.krl c5.pub",
	                     SSHCA),
	    2);
	tu_assert_contains(out, "permissions");
	free(out);
	assert_int_equal(
	    run(f, &out, "echo garbage > bad.krl && %s krl --query bad.krl c5.pub", SSHCA), 2);
	free(out);
	assert_int_equal(
	    run(f, &out, "head -c 20 krl > short.krl && %s krl --query short.krl c5.pub", SSHCA),
	    2);
	free(out);
	assert_int_equal(
	    run(f, &out, "echo garbage > g.pub && %s krl --query krl g.pub", SSHCA), 2);
	free(out);
	/* One byte of the CA key type changed: sshd and ssh-keygen -Q refuse
	 * the file, and so do we; never "ok" for the revoked c5. */
	assert_int_equal(run(f, &out,
	                     "%s krl -k ca.pub --serial 5 -o c5.krl && LC_ALL=C sed "
	                     "'s/ssh-ed25519/ssh-ed25518/' c5.krl > corrupt.krl && "
	                     "chmod 0644 corrupt.krl && ! cmp -s c5.krl corrupt.krl && "
	                     "%s krl --query corrupt.krl c5.pub",
	                     SSHCA, SSHCA),
	    2);
	tu_assert_contains(out, "cannot load KRL corrupt.krl");
	tu_assert_not_contains(out, ": ok");
	free(out);
	if (tu_ssh_keygen() != NULL) {
		assert_int_equal(run(f, &out, "%s -Q -f corrupt.krl c5.pub", tu_ssh_keygen()), 255);
		free(out);
		assert_int_equal(run(f, &out, "%s -Q -f c5.krl c5.pub", tu_ssh_keygen()), 1);
		free(out);
	}
	assert_int_equal(run(f, &out, "%s krl --query krl", SSHCA), 2);
	tu_assert_contains(out, "at least one");
	free(out);
	assert_int_equal(run(f, &out, "%s krl --query krl -o x c5.pub", SSHCA), 2);
	tu_assert_contains(out, "--query takes no other options");
	free(out);
}

/* ------------------------------------------------------------- inspect */

/* Both listings in UTC: ours must be ssh-keygen's plus our own lines. */
static void
assert_inspect_agrees(struct fx *f, const char *file)
{
	char *ours = NULL, *theirs = NULL, *stripped;

	assert_int_equal(run(f, &ours, "TZ=UTC %s inspect %s", SSHCA, file), 0);
	assert_int_equal(run(f, &theirs, "TZ=UTC %s -L -f %s", tu_ssh_keygen(), file), 0);
	stripped = strip_extras(ours);
	if (strcmp(stripped, theirs) != 0)
		fail_msg("sshca inspect %s:\n%s\nssh-keygen -L:\n%s", file, ours, theirs);
	tu_assert_contains(ours, "        Signature: good");
	free(stripped);
	free(ours);
	free(theirs);
}

static void
test_inspect_matches_ssh_keygen(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(
	    run(f, &out,
	        "%s sign -k ca -n eph:db@db01,root -z 99 "
	        "-I 'eph:g-7:alice:db' --ttl 10m --source-address 192.0.2.0/24 "
	        "--force-command /bin/true --extension x@example.com=y "
	        "--grant-id g-7 --task db --requester alice --login-as postgres --approver bob "
	        "--approver carol --reason 'INC-4711 vacuum' --max-logins 3 user.pub",
	        SSHCA),
	    0);
	free(out);
	assert_inspect_agrees(f, "user-cert.pub");
	assert_int_equal(run(f, &out, "TZ=UTC %s inspect user-cert.pub", SSHCA), 0);
	/* The grant block, with the reason only as its SHA-256. */
	tu_assert_contains(out,
	    "        Grant (grant@ephssh):\n"
	    "                ID: g-7\n"
	    "                Task: db\n"
	    "                Requester: alice\n"
	    "                Login as: postgres\n"
	    "                Approvers: bob, carol\n"
	    "                Reason digest: SHA256:");
	tu_assert_contains(out, "                Max logins: 3\n");
	assert_true(strstr(out, "INC-4711") == NULL);
	free(out);
	assert_int_equal(run(f, &out,
	                     "printf 'INC-4711 vacuum' | sha256sum | "
	                     "cut -d' ' -f1 > digest && TZ=UTC %s inspect user-cert.pub | "
	                     "grep -F \"SHA256:$(cat digest)\"",
	                     SSHCA),
	    0);
	free(out);

	/* No options, no extensions: the "(none)" lines. */
	assert_int_equal(run(f, &out,
	                     "%s sign -k ca -n a -z 1 -I plain "
	                     "--ttl 1h --no-default-extensions -o plain-cert.pub user.pub",
	                     SSHCA),
	    0);
	free(out);
	assert_inspect_agrees(f, "plain-cert.pub");
	assert_int_equal(run(f, &out, "%s inspect plain-cert.pub", SSHCA), 0);
	assert_true(strstr(out, "Grant") == NULL);
	free(out);

	/* Other CA key types. */
	assert_int_equal(run(f, &out,
	                     "%s init --key ca384 --type ecdsa-p384 && "
	                     "%s sign -k ca384 -n a -z 2 -I x --ttl 1h -o p384-cert.pub user.pub "
	                     "&& %s init --key carsa --type rsa --bits 2048 && "
	                     "%s sign -k carsa -n a -z 3 -I y --ttl 1h -o rsa-cert.pub user.pub",
	                     SSHCA, SSHCA, SSHCA, SSHCA),
	    0);
	free(out);
	assert_inspect_agrees(f, "p384-cert.pub");
	assert_inspect_agrees(f, "rsa-cert.pub");

	/* Made by ssh-keygen, with a host certificate and a second line. */
	assert_int_equal(run(f, &out,
	                     "%s -q -t ed25519 -N '' -f kgca && "
	                     "%s -q -s kgca -I kg -n h1,h2 -z 77 -V -5m:+1h "
	                     "-O verify-required user.pub && mv user-cert.pub kg-cert.pub && "
	                     "%s -q -s kgca -I host -h -n db01 -V -5m:+1h user.pub && "
	                     "cat user-cert.pub >> kg-cert.pub",
	                     tu_ssh_keygen(), tu_ssh_keygen(), tu_ssh_keygen()),
	    0);
	free(out);
	assert_inspect_agrees(f, "kg-cert.pub");
	assert_int_equal(run(f, &out, "%s inspect kg-cert.pub", SSHCA), 0);
	tu_assert_contains(out, "kg-cert.pub:2:\n");
	tu_assert_contains(out, "host certificate");
	free(out);

	/* --ca: ours signed it, another CA did not. */
	assert_int_equal(run(f, &out, "%s inspect --ca ca.pub plain-cert.pub", SSHCA), 0);
	tu_assert_contains(out, "Trusted CA: yes");
	free(out);
	assert_int_equal(run(f, &out, "%s inspect --ca ca plain-cert.pub", SSHCA), 0);
	free(out);
	assert_int_equal(run(f, &out, "%s inspect --ca carsa.pub plain-cert.pub", SSHCA), 1);
	tu_assert_contains(out, "not signed by the --ca key");
	free(out);
}

/*
 * FIDO (sk-) user keys: sshca sign certifies them, ssh-keygen -L reads the
 * certificates, and sshca inspect shows ours and ssh-keygen's exactly as
 * ssh-keygen -L does. They are refused where a CA key is wanted.
 */
static void
test_sign_inspect_sk_keys(void **state)
{
	static const struct {
		enum key_type plain;
		const char *name, *type, *label;
	} sks[] = {
	    {KEY_ED25519, "sked", "sk-ssh-ed25519-cert-v01@openssh.com", "ED25519-SK-CERT"},
	    {KEY_ECDSA_P256, "skec", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
	        "ECDSA-SK-CERT"},
	};
	struct fx *f = *state;
	char *out = NULL, *list = NULL, *line, *path, *cert, want[128];
	struct key *k = NULL;
	size_t i;

	TU_REQUIRE_SSH_KEYGEN();
	for (i = 0; i < sizeof(sks) / sizeof(sks[0]); i++) {
		assert_int_equal(key_generate(sks[i].plain, 0, &k), EPH_OK);
		line = tu_sk_line(k, "ssh:", "admin@yubikey");
		key_free(k);
		path = tu_path(f->dir, "%s.pub", sks[i].name);
		assert_int_equal(tu_write_file(path, line, strlen(line), 0644), 0);
		free(path);
		free(line);

		assert_int_equal(
		    run(f, &out, "%s sign -k ca -n alice -z 11 -I eph:g-1:alice:t --ttl 10m %s.pub",
		        SSHCA, sks[i].name),
		    0);
		free(out);
		snprintf(want, sizeof(want), "%s-cert.pub", sks[i].name);
		cert = slurp(f, want);
		assert_non_null(cert);
		assert_int_equal(strncmp(cert, sks[i].type, strlen(sks[i].type)), 0);
		tu_assert_contains(cert, " admin@yubikey\n");
		free(cert);

		/* ssh-keygen -L: its type, and the fingerprint ssh-keygen -l gives. */
		assert_int_equal(
		    run(f, &out, "%s -l -f %s.pub | cut -d' ' -f2", tu_ssh_keygen(), sks[i].name),
		    0);
		out[strcspn(out, "\n")] = '\0';
		assert_int_equal(
		    run(f, &list, "%s -L -f %s-cert.pub", tu_ssh_keygen(), sks[i].name), 0);
		snprintf(want, sizeof(want), "Type: %s user certificate\n", sks[i].type);
		tu_assert_contains(list, want);
		snprintf(want, sizeof(want), "Public key: %s %s\n", sks[i].label, out);
		tu_assert_contains(list, want);
		free(list);
		free(out);
		snprintf(want, sizeof(want), "%s-cert.pub", sks[i].name);
		assert_inspect_agrees(f, want);

		/* ssh-keygen's certificate of the same key. */
		assert_int_equal(run(f, &out,
		                     "rm -f kgca kgca.pub && %s -q -t ecdsa -N '' -f kgca && "
		                     "%s -q -s kgca -I kg -n bob -z 12 -V -5m:+1h "
		                     "-O no-touch-required %s.pub",
		                     tu_ssh_keygen(), tu_ssh_keygen(), sks[i].name),
		    0);
		free(out);
		assert_inspect_agrees(f, want);

		/* Never a CA key. */
		assert_int_equal(run(f, &out, "%s inspect --ca %s.pub %s-cert.pub", SSHCA,
		                     sks[i].name, sks[i].name),
		    1);
		tu_assert_contains(out, "cannot use a FIDO key as the CA key");
		free(out);
		assert_int_equal(
		    run(f, &out, "%s krl --key %s.pub --serial 1 -o k.krl", SSHCA, sks[i].name), 1);
		tu_assert_contains(out, "cannot use a FIDO key as the CA key");
		free(out);
		assert_int_equal(run(f, &out, "%s pubkey --key %s.pub", SSHCA, sks[i].name), 1);
		tu_assert_contains(out, "cannot use a FIDO key as the CA key");
		free(out);
	}
}

static void
test_inspect_garbage(void **state)
{
	static const struct {
		const char *make;
		const char *msg;
	} cases[] = {
	    {"echo garbage > x.pub", "x.pub:1: not a valid certificate"},
	    {": > x.pub", "x.pub: no certificate found"},
	    {"printf '# only a comment\\n\\n' > x.pub", "no certificate"},
	    {"head -c 200 c.pub > x.pub", "x.pub:1:"},
	    {"cut -c1-300 c.pub > x.pub", "x.pub:1:"},
	    {"cp user.pub x.pub", "x.pub:1: a plain key, not a certificate"},
	    {"head -c 4096 /dev/urandom > x.pub", "x.pub"},
	    {"printf 'ssh-ed25519-cert-v01@openssh.com AAAA\\n' > x.pub", "x.pub:1:"},
	    {"printf 'ssh-ed25519-cert-v01@openssh.com !!!!\\n' > x.pub", "x.pub:1:"},
	    /* One changed byte no longer matches the signature. */
	    {"awk '{print $2}' c.pub | base64 -d > blob && "
	     "printf '\\001' | dd of=blob bs=1 seek=100 conv=notrunc "
	     "2>/dev/null && printf 'ssh-ed25519-cert-v01@openssh.com %s\\n' "
	     "\"$(base64 -w0 blob)\" > x.pub",
	        "x.pub:1: not a valid certificate: signature"},
	    {"rm -f x.pub", "cannot read x.pub"},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;
	int rc;

	assert_int_equal(
	    run(f, &out, "%s sign -k ca -n a -z 1 -I x --ttl 1h -o c.pub user.pub", SSHCA), 0);
	free(out);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(f, NULL, "%s", cases[i].make), 0);
		rc = run(f, &out, "%s inspect x.pub", SSHCA);
		if (rc != 1 || strstr(out, cases[i].msg) == NULL ||
		    strstr(out, "sshca inspect: ") == NULL)
			fail_msg("%s: exit %d, want 1 and \"%s\":\n%s", cases[i].make, rc,
			    cases[i].msg, out);
		free(out);
	}
	/* A good certificate is still shown next to a bad file. */
	assert_int_equal(run(f, NULL, "echo garbage > x.pub"), 0);
	assert_int_equal(run(f, &out, "%s inspect c.pub x.pub", SSHCA), 1);
	tu_assert_contains(out, "c.pub:\n        Type: ");
	free(out);
}

/* Certificates ssh-keygen -s makes past our issuing caps, or with a flag
 * extension given twice, are shown and queried like any other. */
static void
test_inspect_and_query_keygen_scale(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(run(f, &out,
	                     "%s -q -t ed25519 -N '' -f kgca && "
	                     "%s -q -s kgca -I \"$(head -c 20000 /dev/zero | tr '\\0' i)\" "
	                     "-n a -z 5 -O extension:permit-pty user.pub && "
	                     "%s krl -k kgca.pub --serial 5 -o k.krl",
	                     tu_ssh_keygen(), tu_ssh_keygen(), SSHCA),
	    0);
	free(out);
	assert_int_equal(run(f, &out, "%s inspect user-cert.pub", SSHCA), 0);
	tu_assert_contains(out, "Key ID: \"iiiiiiii");
	tu_assert_contains(out, "                permit-pty\n");
	tu_assert_contains(out, "Signature: good");
	free(out);
	assert_int_equal(run(f, &out, "%s krl --query k.krl user-cert.pub", SSHCA), 1);
	tu_assert_contains(out, "user-cert.pub (alice@laptop): REVOKED\n");
	free(out);
	assert_int_equal(run(f, &out, "%s -Q -f k.krl user-cert.pub", tu_ssh_keygen()), 1);
	free(out);
}

/*
 * Control codes in certificate text are escaped byte by byte: C0, DEL,
 * C1 (U+009B is a terminal's CSI) and bytes that are not UTF-8 (a stray
 * 0xff, an overlong 0xc0 0x9b); other UTF-8 is printed as it is.
 */
static void
test_inspect_escapes_controls(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	TU_REQUIRE_SSH_KEYGEN();
	assert_int_equal(run(f, &out,
	                     "%s -q -t ed25519 -N '' -f kgca && "
	                     "%s -q -s kgca -I \"$(printf 'a\\033b\\302\\233c\\377d\\303\\251e"
	                     "\\300\\233f')\" -n \"$(printf 'p\\302\\205q')\" -V -5m:+1h "
	                     "-O extension:\"$(printf 'x\\302\\237@example.com')\" user.pub",
	                     tu_ssh_keygen(), tu_ssh_keygen()),
	    0);
	free(out);
	assert_int_equal(run(f, &out, "%s inspect user-cert.pub", SSHCA), 0);
	tu_assert_contains(out,
	    "Key ID: \"a\\x1bb\\xc2\\x9bc\\xffd\xc3\xa9"
	    "e\\xc0\\x9bf\"");
	tu_assert_contains(out, "                p\\xc2\\x85q\n");
	tu_assert_contains(out, "                x\\xc2\\x9f@example.com UNKNOWN FLAG OPTION\n");
	tu_assert_not_contains(out, "\xc2\x9b");
	tu_assert_not_contains(out, "\xc2\x85");
	tu_assert_not_contains(out, "\xc2\x9f");
	tu_assert_not_contains(out, "\xff");
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_all_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_refuses_overwrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_refuses_group_readable_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_matches_ssh_keygen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_ttl_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_required_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_bad_duration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_krl_agrees_with_ssh_keygen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_krl_query_exit_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inspect_matches_ssh_keygen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_inspect_sk_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inspect_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inspect_escapes_controls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inspect_and_query_keygen_scale, setup, teardown),
	};

	tu_init(argc, argv);
	if (access(tu_sshca(), X_OK) != 0) {
		fprintf(stderr, "%s not built\n", tu_sshca());
		return 77;
	}
	return cmocka_run_group_tests_name("sshca", tests, NULL, NULL);
}

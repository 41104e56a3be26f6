/*
 * Tests for the ephssh client without a CA: configuration precedence and
 * errors (client/conf.c), CA addresses, tables and times (client/out.c),
 * the token cache (client/runtime.c), and the built binary's command line
 * (usage errors, help, version, ids, an unreachable CA, login and logout
 * without a session) and its manual page.
 */
#include "config.h"

#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../client/conf.h"
#include "../client/out.h"
#include "../client/runtime.h"
#include "err.h"
#include "testutil.h"

#define EPHSSH TOP_BUILDDIR "/client/ephssh"
#define MANPAGE TOP_SRCDIR "/client/ephssh.1"

/* A temp dir that is also XDG_CONFIG_HOME, XDG_RUNTIME_DIR's parent and
 * where the "system" file lives; nothing of the real host is read. */
struct fx {
	char *dir;
	char *sys; /* dir/system.conf (absent unless a test writes it) */
	char *user; /* dir/xdg/ephssh/config */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *p;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	f->sys = tu_path(f->dir, "system.conf");
	f->user = tu_path(f->dir, "xdg/ephssh/config");
	p = tu_path(f->dir, "xdg");
	assert_int_equal(mkdir(p, 0700), 0);
	setenv("XDG_CONFIG_HOME", p, 1);
	free(p);
	p = tu_path(f->dir, "xdg/ephssh");
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = tu_path(f->dir, "run");
	assert_int_equal(mkdir(p, 0700), 0);
	setenv("XDG_RUNTIME_DIR", p, 1);
	free(p);
	setenv("EPHSSH_SYSTEM_CONFIG_FOR_TESTS", f->sys, 1);
	unsetenv("COLUMNS");
	setenv("NO_COLOR", "1", 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f->sys);
	free(f->user);
	free(f);
	return 0;
}

static void
write_conf(const char *path, const char *text)
{
	assert_int_equal(tu_write_file(path, text, strlen(text), 0644), 0);
}

/* ------------------------------------------------------- configuration */

static void
test_conf_defaults(void **state)
{
	struct fx *f = *state;
	struct ephssh_conf c;
	char *why = NULL;

	assert_int_equal(ephssh_conf_load(f->sys, NULL, NULL, &c, &why), EPH_OK);
	assert_string_equal(c.ca, EPHSSH_DEFAULT_CA);
	assert_int_equal(c.ca_from, EPHSSH_SRC_DEFAULT);
	assert_null(c.ca_bundle);
	assert_int_equal(c.connect_timeout, EPHSSH_DEFAULT_CONNECT_TIMEOUT);
	assert_int_equal(c.wait_timeout, 0);
	assert_int_equal(c.ttl, 0);
	assert_string_equal(c.user_file, f->user);
	ephssh_conf_clear(&c);
}

/* flag > user > system > default, key by key. */
static void
test_conf_precedence(void **state)
{
	struct fx *f = *state;
	struct ephssh_conf c;
	char *why = NULL;

	write_conf(
	    f->sys, "ca = \"unix:/run/sys.sock\";\nttl = \"5m\";\nconnect_timeout = \"20s\";\n");
	assert_int_equal(ephssh_conf_load(f->sys, NULL, NULL, &c, &why), EPH_OK);
	assert_string_equal(c.ca, "unix:/run/sys.sock");
	assert_int_equal(c.ca_from, EPHSSH_SRC_SYSTEM);
	assert_int_equal(c.ttl, 300);
	ephssh_conf_clear(&c);

	write_conf(f->user, "ca = \"https://ca.example.com:8443/\";\nconnect_timeout = \"3s\";\n");
	assert_int_equal(ephssh_conf_load(f->sys, NULL, NULL, &c, &why), EPH_OK);
	assert_string_equal(c.ca, "https://ca.example.com:8443"); /* the '/' dropped */
	assert_int_equal(c.ca_from, EPHSSH_SRC_USER);
	assert_int_equal(c.connect_timeout, 3); /* the user's */
	assert_int_equal(c.ttl, 300); /* the system's: the user file has none */
	ephssh_conf_clear(&c);

	assert_int_equal(ephssh_conf_load(f->sys, NULL, "unix:/tmp/flag.sock", &c, &why), EPH_OK);
	assert_string_equal(c.ca, "unix:/tmp/flag.sock");
	assert_int_equal(c.ca_from, EPHSSH_SRC_FLAG);
	assert_int_equal(c.connect_timeout, 3);
	ephssh_conf_clear(&c);
}

/* --config FILE replaces both files (and must exist). */
static void
test_conf_config_file(void **state)
{
	struct fx *f = *state;
	struct ephssh_conf c;
	char *why = NULL, *only = tu_path(f->dir, "only.conf");

	write_conf(f->sys, "ttl = \"5m\";\n");
	write_conf(f->user, "ca = \"unix:/run/user.sock\";\n");
	write_conf(only, "wait_timeout = \"1h\";\n");
	assert_int_equal(ephssh_conf_load(f->sys, only, NULL, &c, &why), EPH_OK);
	assert_string_equal(c.ca, EPHSSH_DEFAULT_CA);
	assert_int_equal(c.wait_timeout, 3600);
	assert_int_equal(c.ttl, 0);
	ephssh_conf_clear(&c);
	assert_int_equal(unlink(only), 0);
	assert_int_not_equal(ephssh_conf_load(f->sys, only, NULL, &c, &why), EPH_OK);
	assert_non_null(why);
	tu_assert_contains(why, "only.conf");
	free(why);
	free(only);
}

/* A relative XDG_CONFIG_HOME is ignored: ~/.config is used. */
static void
test_conf_home_fallback(void **state)
{
	struct fx *f = *state;
	struct ephssh_conf c;
	char *why = NULL, *home = tu_path(f->dir, "home"), *want;
	const char *old = getenv("XDG_CONFIG_HOME");
	char *saved = strdup(old);

	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	setenv("HOME", home, 1);
	assert_int_equal(ephssh_conf_load(f->sys, NULL, NULL, &c, &why), EPH_OK);
	want = tu_path(home, ".config/ephssh/config");
	assert_string_equal(c.user_file, want);
	ephssh_conf_clear(&c);
	setenv("XDG_CONFIG_HOME", saved, 1);
	free(saved);
	free(want);
	free(home);
}

/* Each bad value is named with file:line; a bad --ca says so. */
static void
test_conf_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"ca = \"unix:/ok\";\ncolour = true;\n", "system.conf:2"},
	    {"ca = \"http://ca.example.com\";\n", "plain http is refused"},
	    {"\n\nca = \"unix:relative\";\n", "system.conf:3"},
	    {"connect_timeout = \"1h\";\n", "system.conf:1"},
	    {"ttl = \"soon\";\n", "system.conf:1"},
	    {"ca_bundle = \"relative.crt\";\n", "ca_bundle: needs an absolute path"},
	    {"ca = 5;\n", "system.conf:1"},
	    {"ca = \"unix:/x\"\nttl = ;\n", "system.conf:"},
	};
	struct fx *f = *state;
	struct ephssh_conf c;
	char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_conf(f->sys, cases[i].text);
		why = NULL;
		if (ephssh_conf_load(f->sys, NULL, NULL, &c, &why) == EPH_OK)
			fail_msg("accepted: %s", cases[i].text);
		assert_non_null(why);
		tu_assert_contains(why, cases[i].want);
		free(why);
	}
	/* the user file's errors too, with its own name */
	write_conf(f->sys, "ttl = \"5m\";\n");
	write_conf(f->user, "\nwait = \"1m\";\n");
	why = NULL;
	assert_int_not_equal(ephssh_conf_load(f->sys, NULL, NULL, &c, &why), EPH_OK);
	tu_assert_contains(why, "ephssh/config:2");
	free(why);
	unlink(f->user);
	/* a file others may write is refused */
	write_conf(f->sys, "ttl = \"5m\";\n");
	assert_int_equal(chmod(f->sys, 0666), 0);
	why = NULL;
	assert_int_not_equal(ephssh_conf_load(f->sys, NULL, NULL, &c, &why), EPH_OK);
	tu_assert_contains(why, "unsafe");
	free(why);
	unlink(f->sys);
	why = NULL;
	assert_int_not_equal(ephssh_conf_load(f->sys, NULL, "http://x", &c, &why), EPH_OK);
	tu_assert_contains(why, "--ca 'http://x'");
	free(why);
}

static void
test_ca_problem(void **state)
{
	char longpath[200];

	(void)state;
	assert_null(ephssh_ca_problem("unix:/run/ephemeral/sshca.sock"));
	assert_null(ephssh_ca_problem("https://ca.example.com"));
	assert_null(ephssh_ca_problem("https://ca.example.com:8443/"));
	assert_null(ephssh_ca_problem("https://127.0.0.1:8443"));
	assert_non_null(ephssh_ca_problem(NULL));
	assert_non_null(ephssh_ca_problem(""));
	assert_non_null(strstr(ephssh_ca_problem("unix:run/x.sock"), "absolute"));
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_non_null(strstr(ephssh_ca_problem(longpath), "too long"));
	assert_non_null(strstr(ephssh_ca_problem("https://"), "host name"));
	assert_non_null(strstr(ephssh_ca_problem("https://:8443"), "host name"));
	assert_non_null(strstr(ephssh_ca_problem("https:///x"), "host name"));
	assert_non_null(ephssh_ca_problem("https://ca.example.com/?x=1"));
	assert_non_null(ephssh_ca_problem("https://ca example.com"));
	assert_non_null(strstr(ephssh_ca_problem("http://ca.example.com"), "plain http"));
	assert_non_null(strstr(ephssh_ca_problem("ca.example.com"), "unix: or https://"));
	assert_non_null(ephssh_ca_problem("ftp://ca.example.com"));
}

/* ---------------------------------------------------------------- out */

/* out_table into a string. */
static char *
table(const char *const *h, size_t ncols, const char *const *cells, size_t nrows, int width,
    unsigned shrink)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	out_table(m, h, ncols, cells, nrows, width, shrink);
	assert_int_equal(fclose(m), 0);
	return buf;
}

/* Display width of a line (code points). */
static size_t
line_width(const char *s, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

static void
test_table_plain(void **state)
{
	static const char *const h[] = {"ID", "TASK", "HOSTS"};
	static const char *const cells[] = {"r-1", "db", "db01,db02", "r-2", NULL, "web01"};
	char *t;

	(void)state;
	t = table(h, 3, cells, 2, 0, 0);
	assert_string_equal(t,
	    "ID   TASK  HOSTS\n"
	    "r-1  db    db01,db02\n"
	    "r-2  -     web01\n");
	free(t);
	/* wide enough: nothing cut */
	t = table(h, 3, cells, 2, 80, 0x6);
	tu_assert_not_contains(t, "\xe2\x80\xa6");
	free(t);
}

/* Only the marked columns are cut, the widest first, to the width. */
static void
test_table_shrink(void **state)
{
	static const char *const h[] = {"ID", "TASK", "REQUESTER", "HOSTS", "STATE"};
	static const char *const cells[] = {"r-0123456789abcdef", "database-maintenance", "alice",
	    "db01.example.com,db02.example.com,db03.example.com", "pending"};
	char *t, *line, *nl;
	size_t w;

	(void)state;
	t = table(h, 5, cells, 1, 70, (1u << 1) | (1u << 3));
	for (line = t; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		w = line_width(line, (size_t)(nl - line));
		if (w > 70)
			fail_msg("a line of %zu > 70:\n%s", w, t);
		assert_true(nl == line || nl[-1] != ' '); /* no trailing blanks */
	}
	tu_assert_contains(t, "r-0123456789abcdef"); /* the id is never cut */
	tu_assert_contains(t, "alice");
	tu_assert_contains(t, "pending");
	tu_assert_contains(t, "\xe2\x80\xa6");
	tu_assert_not_contains(t, "db03.example.com");
	free(t);

	/* a little too wide: only the widest marked column (hosts) is cut */
	t = table(h, 5, cells, 1, 90, (1u << 1) | (1u << 3));
	for (line = t; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		assert_true(line_width(line, (size_t)(nl - line)) <= 90);
	tu_assert_contains(t, "database-maintenance");
	tu_assert_contains(t, "db01.example.com,db02.ex");
	tu_assert_contains(t, "\xe2\x80\xa6");
	tu_assert_not_contains(t, "db03.example.com");
	free(t);

	/* narrower: both marked columns give way, never under 4 */
	t = table(h, 5, cells, 1, 20, (1u << 1) | (1u << 3));
	tu_assert_contains(t, "r-0123456789abcdef");
	tu_assert_contains(t, "REQUESTER");
	tu_assert_contains(t, "dat\xe2\x80\xa6");
	tu_assert_contains(t, "db0\xe2\x80\xa6");
	free(t);
}

static void
test_out_left(void **state)
{
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {{-5, "expired"}, {0, "expired"}, {1, "1s"}, {59, "59s"}, {60, "1m 0s"},
	    {599, "9m 59s"}, {3600, "1h 0m"}, {3723, "1h 2m"}, {86400, "1d 0h"}, {90061, "1d 1h"}};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out_left(cases[i].s, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static void
test_out_time(void **state)
{
	char buf[64];
	int64_t t;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	out_time("2026-12-01T07:40:00Z", buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-01 07:40 UTC");
	out_time("yesterday", buf, sizeof(buf));
	assert_string_equal(buf, "yesterday");
	out_time(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	assert_int_equal(out_parse_time("2026-12-01T07:40:00Z", &t), 0);
	assert_int_equal(t, 1796110800);
	assert_int_not_equal(out_parse_time("2026-12-01T07:40:00Z junk", &t), 0);
	assert_int_not_equal(out_parse_time("2026-12-01 07:40", &t), 0);
	unsetenv("TZ");
	tzset();
}

/* ------------------------------------------------------- token cache */

static void
test_token_cache(void **state)
{
	struct fx *f = *state;
	char why[256], *tok = NULL, *p;
	int64_t exp = 0;
	struct stat st;
	const char *ca = "https://ca.example.com:8443";
	const char *t = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	assert_int_equal(token_load(ca, &tok, &exp), EPH_ERR_NOTFOUND);
	assert_int_equal(token_save(ca, t, (int64_t)time(NULL) + 3600, why, sizeof(why)), EPH_OK);
	assert_int_equal(token_load(ca, &tok, &exp), EPH_OK);
	assert_string_equal(tok, t);
	assert_true(exp > (int64_t)time(NULL));
	free(tok);
	/* one file per CA */
	assert_int_equal(token_load("https://other.example.com", &tok, &exp), EPH_ERR_NOTFOUND);
	p = tu_path(f->dir, "run/ephssh");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	assert_int_equal(
	    tu_run(NULL, "test \"$(stat -c %%a %s/run/ephssh/token-*)\" = 600", f->dir), 0);
	assert_int_equal(token_remove(ca), EPH_OK);
	assert_int_equal(token_load(ca, &tok, &exp), EPH_ERR_NOTFOUND);
	assert_int_equal(token_remove(ca), EPH_OK);
	/* an expired token is gone when found */
	assert_int_equal(token_save(ca, t, (int64_t)time(NULL) - 1, why, sizeof(why)), EPH_OK);
	assert_int_equal(token_load(ca, &tok, &exp), EPH_ERR_NOTFOUND);
	assert_int_not_equal(tu_run(NULL, "ls %s/run/ephssh/token-* >/dev/null 2>&1", f->dir), 0);
	/* A damaged file cannot put anything but hex into the header, nor a
	 * sloppy expiry pass. */
	assert_int_equal(token_save(ca, t, (int64_t)time(NULL) + 3600, why, sizeof(why)), EPH_OK);
	assert_int_equal(
	    tu_run(NULL, "f=$(ls %s/run/ephssh/token-*) && printf 'ab\r\nX: y 99999999999\n' >$f",
	        f->dir),
	    0);
	assert_int_equal(token_load(ca, &tok, &exp), EPH_ERR_FORMAT);
	assert_int_equal(
	    tu_run(
	        NULL, "f=$(ls %s/run/ephssh/token-*) && printf 'abcd 99999999999x\n' >$f", f->dir),
	    0);
	assert_int_equal(token_load(ca, &tok, &exp), EPH_ERR_FORMAT);
	assert_int_equal(token_remove(ca), EPH_OK);
	/* nowhere private: refused */
	p = tu_path(f->dir, "run");
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_not_equal(token_save(ca, t, (int64_t)time(NULL) + 60, why, sizeof(why)), EPH_OK);
	assert_int_equal(chmod(p, 0700), 0);
	free(p);
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_not_equal(token_save(ca, t, (int64_t)time(NULL) + 60, why, sizeof(why)), EPH_OK);
}

/* ------------------------------------------------------ the binary */

/* Run ephssh with args (shell words); its combined output in *out. */
#define ephssh(f, out, ...) tu_run_in((f)->dir, (out), EPHSSH " " __VA_ARGS__)

static void
test_cli_help_version(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(ephssh(f, &out, "--help"), 0);
	tu_assert_contains(out, "usage: ephssh");
	tu_assert_contains(out, "  approve ");
	tu_assert_contains(out, "  list ");
	tu_assert_contains(out, "  login ");
	tu_assert_contains(out, "5 not authorised");
	free(out);
	assert_int_equal(ephssh(f, &out, "--version"), 0);
	assert_string_equal(out, "ephssh " PACKAGE_VERSION "\n");
	free(out);
	assert_int_equal(ephssh(f, &out, "approve --help"), 0);
	tu_assert_contains(out, "usage: ephssh approve [OPTIONS] ID");
	tu_assert_contains(out, "--comment TEXT");
	tu_assert_contains(out, "--ca URL");
	free(out);
	assert_int_equal(ephssh(f, &out, "help deny"), 0);
	tu_assert_contains(out, "--reason TEXT");
	free(out);
	assert_int_equal(ephssh(f, &out, "list --version"), 0);
	tu_assert_contains(out, PACKAGE_VERSION);
	free(out);
}

/* Usage errors: exit 2, one message, then the usage line. */
static void
test_cli_usage(void **state)
{
	static const struct {
		const char *args, *want;
		int usage; /* the command's usage line follows */
	} cases[] = {
	    {"", "usage: ephssh", 1},
	    {"frobnicate", "unknown command 'frobnicate'", 0},
	    {"--frob list", "unknown option: '--frob'", 1},
	    {"--ca unix:/a --ca unix:/b list", "--ca given twice", 0},
	    {"list --ca unix:/a --ca unix:/b", "--ca given twice", 1},
	    {"--config /a list --config /b", "--config given twice", 1},
	    {"approve", "a request id is needed", 1},
	    {"approve r-0123456789abcdef r-0123456789abcdef", "one request id only", 1},
	    {"approve nonsense", "'nonsense' is not a request id", 1},
	    {"approve r-0123456789ABCDEF", "is not a request id", 1},
	    {"approve r-0123456789abcde", "is not a request id", 1},
	    {"show x-0123456789abcdef", "is not a request id", 1},
	    {"approve --frob r-0123456789abcdef", "unknown option: '--frob'", 1},
	    {"approve r-0123456789abcdef --comment", "option requires an argument: '--comment'", 1},
	    {"approve --comment a --comment b r-0123456789abcdef", "--comment given twice", 1},
	    {"approve --comment '' r-0123456789abcdef", "--comment: empty", 1},
	    {"approve --reason x r-0123456789abcdef", "unknown option: '--reason'", 1},
	    {"deny r-0123456789abcdef", "--reason TEXT is required", 1},
	    {"revoke r-0123456789abcdef", "--reason TEXT is required", 1},
	    {"cancel --comment x r-0123456789abcdef", "unknown option", 1},
	    {"review nonsense", "is not a request id", 1},
	    {"list --pending --mine", "--pending and --mine exclude each other", 1},
	    {"list --all --active", "--all and --active exclude each other", 1},
	    {"list r-0123456789abcdef", "unexpected argument", 1},
	    {"login extra", "unexpected argument 'extra'", 1},
	    {"login --user ''", "is not a user name", 1},
	    {"logout --user x", "unknown option", 1},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ephssh(f, &out, "%s", cases[i].args);

		if (rc != 2)
			fail_msg("ephssh %s: exit %d, not 2:\n%s", cases[i].args, rc, out);
		tu_assert_contains(out, cases[i].want);
		if (cases[i].usage && strstr(out, "usage: ephssh") == NULL)
			fail_msg("ephssh %s: no usage:\n%s", cases[i].args, out);
		free(out);
	}
	/* the same --ca twice is one --ca */
	assert_int_equal(
	    ephssh(f, &out,
	        "--ca unix:/nonexistent/s --ca unix:/nonexistent/s show r-0123456789abcdef"),
	    3);
	free(out);
	/* nothing on stdout for a usage error, even with --json */
	assert_int_equal(ephssh(f, &out, "--json list --mine --all 2>/dev/null"), 2);
	assert_string_equal(out, "");
	free(out);
}

/* Configuration and connection failures: one line each, the right code. */
static void
test_cli_failures(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *bad = tu_path(f->dir, "bad.conf");

	write_conf(bad, "ca = \"unix:/x\";\nbogus = 1;\n");
	assert_int_equal(ephssh(f, &out, "--config %s list", bad), 1);
	tu_assert_contains(out, "ephssh list: configuration: ");
	tu_assert_contains(out, "bad.conf:2");
	free(out);
	assert_int_equal(
	    ephssh(f, &out, "--ca http://ca.example.com approve r-0123456789abcdef"), 1);
	tu_assert_contains(out, "plain http is refused");
	free(out);
	/* the system file of the tests is read */
	write_conf(f->sys, "ca = \"unix:/nonexistent/from-system.sock\";\n");
	assert_int_equal(ephssh(f, &out, "list"), 3);
	tu_assert_contains(out, "cannot reach the CA at unix:/nonexistent/from-system.sock");
	free(out);
	/* ... and the user's over it, and --ca over both */
	write_conf(f->user, "ca = \"unix:/nonexistent/from-user.sock\";\n");
	assert_int_equal(ephssh(f, &out, "approve r-0123456789abcdef"), 3);
	tu_assert_contains(
	    out, "ephssh approve: cannot reach the CA at unix:/nonexistent/from-user.sock");
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);
	assert_int_equal(ephssh(f, &out,
	                     "--ca unix:/nonexistent/flag.sock deny --reason x "
	                     "r-0123456789abcdef"),
	    3);
	tu_assert_contains(out, "unix:/nonexistent/flag.sock: No such file or directory");
	free(out);
	/* with --json, nothing on stdout when it fails */
	assert_int_equal(ephssh(f, &out, "--json list 2>/dev/null"), 3);
	assert_string_equal(out, "");
	free(out);
	/* a TCP port nobody listens on */
	assert_int_equal(ephssh(f, &out, "--ca https://127.0.0.1:1 list --all"), 3);
	tu_assert_contains(out, "cannot reach the CA at https://127.0.0.1:1");
	free(out);
	free(bad);
}

/* login and logout where no network is needed. */
static void
test_cli_login_logout(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(ephssh(f, &out, "--ca unix:/nonexistent/s login"), 0);
	tu_assert_contains(out, "nothing to log in");
	free(out);
	assert_int_equal(ephssh(f, &out, "--ca unix:/nonexistent/s --json logout"), 0);
	assert_string_equal(out, "{\"ca\":\"unix:/nonexistent/s\",\"ended\":false}\n");
	free(out);
	assert_int_equal(ephssh(f, &out, "--ca https://127.0.0.1:1 logout"), 0);
	tu_assert_contains(out, "not logged in to https://127.0.0.1:1: nothing to end");
	free(out);
	/* the password read first, then the CA not reached */
	assert_int_equal(tu_run_in(f->dir, &out,
	                     "printf 'secret\\n' | " EPHSSH
	                     " --ca https://127.0.0.1:1 login --user alice --password-stdin"),
	    3);
	tu_assert_contains(out, "cannot reach the CA at https://127.0.0.1:1");
	tu_assert_not_contains(out, "secret");
	free(out);
	assert_int_equal(ephssh(f, &out,
	                     "--ca https://127.0.0.1:1 login --user alice "
	                     "--password-stdin </dev/null"),
	    1);
	tu_assert_contains(out, "an empty password: nothing sent");
	free(out);
	/* no terminal (a new session has none): says how scripts do it */
	if (tu_run(NULL, "command -v setsid >/dev/null 2>&1") == 0) {
		assert_int_equal(
		    tu_run_in(f->dir, &out,
		        "setsid -w " EPHSSH " --ca https://127.0.0.1:1 login --user alice"),
		    1);
		tu_assert_contains(out, "no terminal to ask for the password on");
		tu_assert_contains(out, "--password-stdin");
		free(out);
	}
}

/* The manual: silent under groff -ww, and naming every command. */
static void
test_manpage(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *help = NULL, *line, *nl;

	if (tu_run(NULL, "command -v groff >/dev/null 2>&1") != 0)
		skip();
	assert_int_equal(tu_run(&out, "groff -ww -z -mdoc %s", MANPAGE), 0);
	assert_string_equal(out, "");
	free(out);
	out = tu_read_file(MANPAGE, NULL);
	assert_non_null(out);
	assert_int_equal(ephssh(f, &help, "--help"), 0);
	line = strstr(help, "Commands:\n");
	assert_non_null(line);
	for (line = strchr(line, '\n') + 1; line[0] == ' ' && line[1] == ' '; line = nl + 1) {
		char name[32], want[48];

		nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_int_equal(sscanf(line, " %31s", name), 1);
		snprintf(want, sizeof(want), "\n.Cm %s\n", name);
		tu_assert_contains(out, want);
	}
	tu_assert_contains(out, ".Sh EXIT STATUS");
	tu_assert_contains(out, ".Sh JSON OUTPUT");
	tu_assert_contains(out, ".Sh EXAMPLES");
	free(help);
	free(out);
}

/* Colour only on a terminal, never with NO_COLOR (not empty) or a dumb
 * TERM; tables cut only on a terminal. */
static void
test_color_and_width(void **state)
{
	FILE *ft, *fp;
	int m, t, pfd[2];

	(void)state;
	assert_int_equal(openpty(&m, &t, NULL, NULL, NULL), 0);
	assert_int_equal(pipe(pfd), 0);
	setenv("TERM", "xterm", 1);
	unsetenv("NO_COLOR");
	assert_int_equal(out_color_ok(t), 1);
	assert_int_equal(out_color_ok(pfd[1]), 0);
	setenv("NO_COLOR", "", 1); /* empty: as unset (no-color.org) */
	assert_int_equal(out_color_ok(t), 1);
	setenv("NO_COLOR", "1", 1);
	assert_int_equal(out_color_ok(t), 0);
	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	assert_int_equal(out_color_ok(t), 0);
	assert_string_equal(out_red(0), "");
	assert_string_equal(out_reset(0), "");
	assert_string_equal(out_red(1), "\033[31m");
	setenv("NO_COLOR", "1", 1);
	ft = fdopen(dup(t), "w");
	fp = fdopen(dup(pfd[1]), "w");
	assert_non_null(ft);
	assert_non_null(fp);
	setenv("COLUMNS", "57", 1);
	assert_int_equal(out_width(ft), 57);
	assert_int_equal(out_width(fp), 0);
	unsetenv("COLUMNS");
	fclose(ft);
	fclose(fp);
	close(m);
	close(t);
	close(pfd[0]);
	close(pfd[1]);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_conf_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_config_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_home_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_errors, setup, teardown),
	    cmocka_unit_test(test_ca_problem),
	    cmocka_unit_test(test_table_plain),
	    cmocka_unit_test(test_table_shrink),
	    cmocka_unit_test(test_out_left),
	    cmocka_unit_test(test_out_time),
	    cmocka_unit_test(test_color_and_width),
	    cmocka_unit_test_setup_teardown(test_token_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_help_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_login_logout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_manpage, setup, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for host.conf: what a host accepts, the principals it prints for
 * a local account, and file:line errors for everything wrong. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "policy.h"

#include "testutil.h"

#define EXAMPLE TOP_SRCDIR "/packaging/examples/host.conf"

/* Lines 1-3 of a valid file; accept entries follow. */
#define HEAD                                                                                       \
	"host = { names = [ \"db01.example.com\" ]; groups = [ \"db\" ]; };\n"                     \
	"trusted_ca_keys = \"/etc/ephemeral/ca.pub\";\n"                                           \
	"revoked_keys = \"/var/lib/ephemeral/revoked.krl\";\n"

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static struct host_conf *
load_ok(const char *text)
{
	struct policy_errors errs = {0};
	struct host_conf *hc = NULL;
	char *got;
	int r;

	if ((r = hostconf_load_string(text, "h.conf", &hc, &errs)) != EPH_OK) {
		got = policy_errors_format(&errs);
		fail_msg("load failed (%d):\n%s", r, got);
	}
	assert_non_null(hc);
	return hc;
}

static void
expect_errors(const char *text, const char *want)
{
	struct policy_errors errs = {0};
	struct host_conf *hc = (struct host_conf *)1;
	char *got;
	int r;

	r = hostconf_load_string(text, "h.conf", &hc, &errs);
	got = policy_errors_format(&errs);
	assert_non_null(got);
	if (r != EPH_ERR_FORMAT)
		fail_msg("expected EPH_ERR_FORMAT, got %d; errors:\n%s", r, got);
	assert_null(hc);
	assert_string_equal(got, want);
	free(got);
	policy_errors_clear(&errs);
}

/* Principals for user, joined with spaces ("" for none). */
static char *
principals(const struct host_conf *hc, const char *user)
{
	char **v = NULL, *s;
	size_t n = 7, i, len = 1;

	assert_int_equal(host_principals_for(hc, user, &v, &n), EPH_OK);
	if (n == 0)
		assert_null(v);
	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = calloc(1, len);
	assert_non_null(s);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, v[i]);
	}
	if (n > 0)
		assert_null(v[n]); /* NULL-terminated as well */
	strv_free(v, n);
	return s;
}

static void
expect_principals(const struct host_conf *hc, const char *user, const char *want)
{
	char *got = principals(hc, user);

	assert_string_equal(got, want);
	free(got);
}

/* ------------------------------------------------------------ the example */

static void
test_example(void **state)
{
	struct policy_errors errs = {0};
	struct host_conf *hc = NULL;

	assert_int_equal(hostconf_load(EXAMPLE, &hc, &errs), EPH_OK);
	assert_int_equal(errs.n, 0);
	assert_string_equal(hc->file, EXAMPLE);
	assert_int_equal(hc->nnames, 1);
	assert_string_equal(hc->names[0], "db01.example.com");
	assert_int_equal(hc->ngroups, 1);
	assert_string_equal(hc->groups[0], "db");
	assert_string_equal(hc->trusted_ca_keys, "/etc/ephemeral/ca.pub");
	assert_string_equal(hc->revoked_keys, "/var/lib/ephemeral/revoked.krl");
	assert_int_equal(hc->naccept, 2);
	assert_string_equal(hc->accept[0].task, "db-maint");
	assert_int_equal(hc->accept[0].nusers, 1);
	assert_string_equal(hc->accept[0].users[0], "postgres");
	assert_int_equal(hc->accept[0].line, 7);
	assert_string_equal(hc->accept[1].task, "break-glass");
	assert_string_equal(hc->accept[1].users[0], "root");
	assert_int_equal(hc->accept[1].line, 8);

	expect_principals(hc, "postgres", "eph:db-maint@db01.example.com eph:db-maint@group:db");
	expect_principals(hc, "root", "eph:break-glass@db01.example.com eph:break-glass@group:db");
	expect_principals(hc, "alice", "");
	expect_principals(hc, "", "");
	/* Exact match only: no case folding of account names. */
	expect_principals(hc, "Root", "");
	hostconf_free(hc);
	hostconf_free(NULL);
}

/* The host side's own keys: defaults, values, and what is refused. */
static void
test_host_side_keys(void **state)
{
	struct host_conf *hc;

	(void)state;
	hc = load_ok(HEAD "accept = ( { task = \"t\"; users = [ \"root\" ]; } );\n");
	assert_string_equal(hc->state_dir, HOST_DEFAULT_STATE_DIR);
	assert_int_equal(hc->non_ephemeral, HOST_NON_EPHEMERAL_IGNORE);
	assert_null(hc->krl_url);
	assert_int_equal(hc->session_end, 1);
	assert_int_equal(hc->nservices, 1);
	assert_string_equal(hc->services[0], "sshd");
	hostconf_free(hc);
	hc = load_ok(HEAD "accept = ( { task = \"t\"; users = [ \"root\" ]; } );\n"
	                  "state_dir = \"/srv/eph\"; non_ephemeral = \"deny\";\n"
	                  "krl_url = \"https://ca.example.com:8443/v1/krl\"; session_end = false;\n"
	                  "services = [ \"sshd\", \"sshd-ephtest\" ];\n");
	assert_string_equal(hc->state_dir, "/srv/eph");
	assert_int_equal(hc->non_ephemeral, HOST_NON_EPHEMERAL_DENY);
	assert_string_equal(hc->krl_url, "https://ca.example.com:8443/v1/krl");
	assert_int_equal(hc->session_end, 0);
	assert_int_equal(hc->nservices, 2);
	assert_string_equal(hc->services[1], "sshd-ephtest");
	hostconf_free(hc);
	expect_errors(HEAD "accept = ( { task = \"t\"; users = [ \"root\" ]; } );\n"
	                   "state_dir = \"var/eph\";\nnon_ephemeral = \"allow\";\n"
	                   "krl_url = \"ftp://ca/krl\";\nservices = [ ];\nsession_end = 1;\n",
	    "h.conf:5: 'state_dir' at top level: 'var/eph' is not an absolute path\n"
	    "h.conf:6: 'non_ephemeral' at top level: 'allow' is neither \"ignore\" nor \"deny\"\n"
	    "h.conf:7: 'krl_url' at top level: 'ftp://ca/krl' is not an https://, http:// or "
	    "file:// URL\n"
	    "h.conf:8: 'services' at top level: the list is empty\n"
	    "h.conf:9: 'session_end' at top level: expected a boolean\n");
}

static void
test_principals(void **state)
{
	struct host_conf *hc;
	char **v = NULL;
	size_t n = 0;

	/* Several names (lower-cased), no groups, a user in several tasks. */
	hc = load_ok("host = { names = [ \"B.example.com\", \"a.example.com\" ]; };\n"
	             "trusted_ca_keys = \"/ca.pub\"; revoked_keys = \"/krl\";\n"
	             "accept = ( { task = \"zz\"; users = [ \"root\", \"app\" ]; },\n"
	             "  { task = \"aa\"; users = [ \"app\" ]; } );\n");
	assert_int_equal(hc->ngroups, 0);
	assert_string_equal(hc->names[0], "b.example.com");
	expect_principals(hc, "app",
	    "eph:aa@a.example.com eph:aa@b.example.com "
	    "eph:zz@a.example.com eph:zz@b.example.com");
	expect_principals(hc, "root", "eph:zz@a.example.com eph:zz@b.example.com");
	assert_int_equal(host_principals_for(hc, NULL, &v, &n), EPH_ERR_INVAL);
	assert_int_equal(host_principals_for(NULL, "root", &v, &n), EPH_ERR_INVAL);
	assert_int_equal(host_principals_for(hc, "root", NULL, &n), EPH_ERR_INVAL);
	hostconf_free(hc);

	/* A host that accepts nothing prints nothing. */
	hc = load_ok(HEAD "accept = ();\n");
	assert_int_equal(hc->naccept, 0);
	expect_principals(hc, "root", "");
	hostconf_free(hc);
}

/* ------------------------------------------------------------ errors */

static void
test_err_keys(void **state)
{
	expect_errors("",
	    "h.conf: missing 'host' at top level\n"
	    "h.conf: missing 'trusted_ca_keys' at top level\n"
	    "h.conf: missing 'revoked_keys' at top level\n"
	    "h.conf: missing 'accept' at top level\n");
	expect_errors(
	    HEAD "accept = ();\nkrl = \"/x\";\n", "h.conf:5: unknown key 'krl' at top level\n");
	expect_errors("host = {\n  names = [ \"a\" ];\n  group = [ \"db\" ];\n};\n"
	              "trusted_ca_keys = \"/ca\"; revoked_keys = \"/krl\"; accept = ();\n",
	    "h.conf:3: unknown key 'group' in host\n");
	expect_errors("host = { groups = [ \"db\" ]; };\n"
	              "trusted_ca_keys = \"/ca\"; revoked_keys = \"/krl\"; accept = ();\n",
	    "h.conf:1: missing 'names' in host\n");
	expect_errors(HEAD "accept = (\n  { task = \"t\"; user = [ \"root\" ]; },\n"
	                   "  { users = [ \"root\" ]; }\n);\n",
	    "h.conf:5: unknown key 'user' in accept entry for task 't'\n"
	    "h.conf:5: missing 'users' in accept entry for task 't'\n"
	    "h.conf:6: missing 'task' in accept entry 2\n");
}

/* The same integer guard as policy.conf: nothing wraps silently. */
static void
test_err_integer_wrap(void **state)
{
	expect_errors(HEAD "accept = ();\nx = 4294967296;\n",
	    "h.conf:5: integer 4294967296 is too large (libconfig would read another value)\n");
	(void)state;
}

static void
test_err_types(void **state)
{
	expect_errors("host = [ \"a\" ];\ntrusted_ca_keys = 1;\nrevoked_keys = [ \"/k\" ];\n"
	              "accept = { };\n",
	    "h.conf:1: 'host' at top level: expected a group\n"
	    "h.conf:2: 'trusted_ca_keys' at top level: expected a string\n"
	    "h.conf:3: 'revoked_keys' at top level: expected a string\n"
	    "h.conf:4: 'accept' at top level: expected a list of groups\n");
	expect_errors("host = { names = \"a\"; groups = [ 1 ]; };\n"
	              "trusted_ca_keys = \"/ca\"; revoked_keys = \"/krl\";\n"
	              "accept = ( { task = true; users = \"root\"; } );\n",
	    "h.conf:1: 'names' in host: expected a list of strings\n"
	    "h.conf:1: 'groups' in host: expected a list of strings\n"
	    "h.conf:3: 'task' in accept entry 1: expected a string\n"
	    "h.conf:3: 'users' in accept entry 1: expected a list of strings\n");
}

static void
test_err_values(void **state)
{
	expect_errors("host = { names = [ ]; groups = [ ]; };\n"
	              "trusted_ca_keys = \"ca.pub\";\nrevoked_keys = \"\";\n"
	              "accept = ( { task = \"t\"; users = [ ]; } );\n",
	    "h.conf:1: 'names' in host: the list is empty\n"
	    "h.conf:1: 'groups' in host: the list is empty\n"
	    "h.conf:2: 'trusted_ca_keys' at top level: 'ca.pub' is not an absolute path\n"
	    "h.conf:3: 'revoked_keys' at top level: '' is not an absolute path\n"
	    "h.conf:4: 'users' in accept entry for task 't': the list is empty\n");
	expect_errors("host = { names = [ \"*.example.com\", \"db01\",\n"
	              "  \"DB01\", \"a_b\" ]; groups = [ \"db\", \"@db\", \"db\" ]; };\n"
	              "trusted_ca_keys = \"/ca\"; revoked_keys = \"/krl\";\n"
	              "accept = ( { task = \"bad task\"; users = [ \"root\" ]; } );\n",
	    "h.conf:1: 'names' in host: name '*.example.com' may not hold a wildcard\n"
	    "h.conf:2: 'names' in host: name 'a_b' is not a valid host name (dot-separated "
	    "labels of letters, digits and '-')\n"
	    "h.conf:2: 'names' in host: 'db01' is listed twice\n"
	    "h.conf:2: 'groups' in host: name '@db' may only hold letters, digits, '.', '_' "
	    "and '-'\n"
	    "h.conf:2: 'groups' in host: 'db' is listed twice\n"
	    "h.conf:4: task name 'bad task' may only hold letters, digits, '.', '_' and '-'\n");
	expect_errors(HEAD "accept = ( { task = \"t\";\n"
	                   "  users = [ \"root\", \"%wheel\", \"@admins\", \"root\" ]; } );\n",
	    "h.conf:5: 'users' in accept entry for task 't': name '%wheel' is not a valid user "
	    "or group name\n"
	    "h.conf:5: 'users' in accept entry for task 't': name '@admins' is not a valid user "
	    "or group name\n"
	    "h.conf:5: 'users' in accept entry for task 't': 'root' is listed twice\n");
}

static void
test_err_duplicate_accept(void **state)
{
	expect_errors(HEAD "accept = (\n  { task = \"db-maint\"; users = [ \"postgres\" ]; },\n"
	                   "  { task = \"other\"; users = [ \"root\" ]; },\n"
	                   "  { task = \"db-maint\"; users = [ \"root\" ]; }\n);\n",
	    "h.conf:7: task 'db-maint' is accepted twice (first at line 5); list every user "
	    "in one entry\n");
}

static void
test_err_syntax(void **state)
{
	expect_errors(HEAD "accept = (\n  { task = \"t\" users = [ \"root\" ] }\n",
	    "h.conf:6: syntax error\n");
	expect_errors(HEAD "@include \"/etc/ephemeral/more.conf\"\naccept = ();\n",
	    "h.conf:4: @include is not allowed\n");
}

static void
test_files(void **state)
{
	const char *dir = *state;
	struct policy_errors errs = {0};
	struct host_conf *hc = (struct host_conf *)1;
	char *path = tu_path(dir, "host.conf"), *link = tu_path(dir, "link.conf");
	char *text, *got, *want;
	size_t n;

	text = tu_read_file(EXAMPLE, &n);
	assert_non_null(text);
	assert_int_equal(tu_write_file(path, text, n, 0640), 0);
	assert_int_equal(hostconf_load(path, &hc, NULL), EPH_OK);
	hostconf_free(hc);

	assert_int_equal(tu_write_file(path, text, n, 0660), 0);
	assert_int_equal(hostconf_load(path, &hc, &errs), EPH_ERR_PERM);
	assert_null(hc);
	got = policy_errors_format(&errs);
	assert_int_equal(asprintf(&want,
	                     "%s: unsafe permissions: writable by group or others, "
	                     "or owned by someone other than root or the current user\n",
	                     path) > 0,
	    1);
	assert_string_equal(got, want);
	free(got);
	free(want);
	policy_errors_clear(&errs);

	assert_int_equal(tu_write_file(path, text, n, 0644), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(hostconf_load(link, &hc, &errs), EPH_ERR_IO);
	got = policy_errors_format(&errs);
	assert_int_equal(
	    asprintf(&want, "%s: is a symbolic link; refusing to follow it\n", link) > 0, 1);
	assert_string_equal(got, want);
	free(got);
	free(want);
	policy_errors_clear(&errs);

	unlink(path);
	assert_int_equal(hostconf_load(path, &hc, &errs), EPH_ERR_IO);
	got = policy_errors_format(&errs);
	assert_int_equal(
	    asprintf(&want, "%s: cannot read: No such file or directory\n", path) > 0, 1);
	assert_string_equal(got, want);
	free(got);
	free(want);
	policy_errors_clear(&errs);

	assert_int_equal(hostconf_load(path, NULL, NULL), EPH_ERR_INVAL);
	assert_int_equal(hostconf_load_string(NULL, "x", &hc, NULL), EPH_ERR_INVAL);
	free(text);
	free(path);
	free(link);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example),
	    cmocka_unit_test(test_principals),
	    cmocka_unit_test(test_host_side_keys),
	    cmocka_unit_test(test_err_keys),
	    cmocka_unit_test(test_err_integer_wrap),
	    cmocka_unit_test(test_err_types),
	    cmocka_unit_test(test_err_values),
	    cmocka_unit_test(test_err_duplicate_accept),
	    cmocka_unit_test(test_err_syntax),
	    cmocka_unit_test_setup_teardown(test_files, tu_dir_setup, tu_dir_teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("hostconf", tests, NULL, NULL);
}

/* Tests for loading policy.conf: the example means what its comments say,
 * and every problem is reported as file:line with what is wrong. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "policy.h"

#include "testutil.h"

#define EXAMPLE TOP_SRCDIR "/packaging/examples/policy.conf"

/* A valid head every error case builds on: lines 1-3. */
#define HEAD                                                                                       \
	"groups = { dba = [ \"alice\", \"%dbadmins\" ]; leads = [ \"carol\", \"dave\" ]; };\n"     \
	"hostgroups = { db = { hosts = [ \"db01.example.com\" ]; env = \"prod\"; }; };\n"          \
	"tasks = (\n"
/* A valid task body without its braces. */
#define TASK_OK "name = \"t\"; requesters = [ \"alice\" ]; hosts = [ \"@db\" ]; login_as = \"u\";"

/* ------------------------------------------------------------ helpers */

/* Load text, expect it refused with exactly these errors. */
static void
expect_errors(const char *text, const char *want)
{
	struct policy_errors errs = {0};
	struct policy *p = (struct policy *)1;
	char *got;
	int r;

	r = policy_load_string(text, "p.conf", &p, &errs);
	got = policy_errors_format(&errs);
	assert_non_null(got);
	if (r != EPH_ERR_FORMAT)
		fail_msg("expected EPH_ERR_FORMAT, got %d; errors:\n%s", r, got);
	assert_null(p);
	assert_string_equal(got, want);
	free(got);
	policy_errors_clear(&errs);
	assert_int_equal(errs.n, 0);
}

static struct policy *
load_ok(const char *text)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	char *got;
	int r;

	r = policy_load_string(text, "p.conf", &p, &errs);
	if (r != EPH_OK) {
		got = policy_errors_format(&errs);
		fail_msg("load failed (%d):\n%s", r, got);
	}
	assert_int_equal(errs.n, 0);
	assert_non_null(p);
	return p;
}

/* One-task policy from HEAD and a task body. */
static char *
one_task(const char *body)
{
	char *s = NULL;

	if (asprintf(&s, "%s  { %s }\n);\n", HEAD, body) < 0)
		fail_msg("out of memory");
	return s;
}

static void
task_ok(const char *body)
{
	char *text = one_task(body);

	policy_free(load_ok(text));
	free(text);
}

static void
expect_task_errors(const char *body, const char *want)
{
	char *text = one_task(body);

	expect_errors(text, want);
	free(text);
}

/* Load text, expect it accepted with exactly these warnings. */
static void
expect_warnings(const char *text, const char *want)
{
	struct policy *p = load_ok(text);
	char *got = policy_errors_format(&p->warnings);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	policy_free(p);
}

/* ------------------------------------------------------------ the example */

static void
assert_ref(const struct policy_ref *r, enum policy_ref_kind kind, const char *name, int line)
{
	assert_int_equal(r->kind, kind);
	assert_string_equal(r->name, name);
	assert_int_equal(r->line, line);
}

static void
test_example_model(void **state)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	const struct policy_group *g;
	const struct policy_hostgroup *hg;
	const struct policy_task *t;

	assert_int_equal(policy_load(EXAMPLE, &p, &errs), EPH_OK);
	assert_int_equal(errs.n, 0);
	assert_string_equal(p->file, EXAMPLE);
	assert_true(p->max_ttl == 30 * 60);
	assert_true(p->pending_timeout == 3600);

	/* Groups, sorted, members as written; "%x" is a Unix group. */
	assert_int_equal(p->ngroups, 2);
	assert_string_equal(p->groups[0].name, "dba");
	assert_string_equal(p->groups[1].name, "leads");
	g = policy_find_group(p, "dba");
	assert_ptr_equal(g, &p->groups[0]);
	assert_int_equal(g->line, 12);
	assert_int_equal(g->nmembers, 3);
	assert_ref(&g->members[0], POLICY_REF_NAME, "alice", 12);
	assert_ref(&g->members[1], POLICY_REF_NAME, "bob", 12);
	assert_ref(&g->members[2], POLICY_REF_UNIX_GROUP, "dbadmins", 12);
	g = policy_find_group(p, "leads");
	assert_int_equal(g->nmembers, 3);
	assert_ref(&g->members[0], POLICY_REF_NAME, "carol", 13);
	assert_ref(&g->members[1], POLICY_REF_NAME, "dave", 13);
	assert_ref(&g->members[2], POLICY_REF_NAME, "frank", 13);
	assert_null(policy_find_group(p, "ops"));
	assert_null(policy_find_group(p, "db"));

	/* Hostgroups: exact names sorted, the wildcard kept as its suffix. */
	assert_int_equal(p->nhostgroups, 3);
	assert_string_equal(p->hostgroups[0].name, "db");
	assert_string_equal(p->hostgroups[1].name, "legacy");
	assert_string_equal(p->hostgroups[2].name, "stage");
	hg = policy_find_hostgroup(p, "db");
	assert_int_equal(hg->line, 16);
	assert_int_equal(hg->nexact, 2);
	assert_string_equal(hg->exact[0], "db01.example.com");
	assert_string_equal(hg->exact[1], "db02.example.com");
	assert_int_equal(hg->nsuffixes, 0);
	assert_string_equal(hg->env, "prod");
	assert_string_equal(hg->sensitivity, "high");
	hg = policy_find_hostgroup(p, "legacy");
	assert_int_equal(hg->nexact, 0);
	assert_int_equal(hg->nsuffixes, 1);
	assert_string_equal(hg->suffixes[0], ".legacy.example.com");
	assert_string_equal(hg->env, "prod");
	assert_null(hg->sensitivity);
	hg = policy_find_hostgroup(p, "stage");
	assert_int_equal(hg->nexact, 1);
	assert_string_equal(hg->exact[0], "db-stage.example.com");
	assert_string_equal(hg->env, "staging");
	assert_null(hg->sensitivity);
	assert_null(policy_find_hostgroup(p, "dba"));

	/* Tasks, sorted by name. */
	assert_int_equal(p->ntasks, 3);
	assert_string_equal(p->tasks[0].name, "break-glass");
	assert_string_equal(p->tasks[1].name, "db-maint");
	assert_string_equal(p->tasks[2].name, "restart-app");
	assert_null(policy_find_task(p, "nope"));
	assert_null(policy_find_task(p, ""));

	t = policy_find_task(p, "db-maint");
	assert_ptr_equal(t, &p->tasks[1]);
	assert_int_equal(t->line, 21);
	assert_string_equal(t->description, "PostgreSQL maintenance");
	assert_int_equal(t->nrequesters, 1);
	assert_ref(&t->requesters[0], POLICY_REF_GROUP, "dba", 22);
	assert_int_equal(t->requesters[0].index, 0);
	assert_int_equal(t->napprovers, 1);
	assert_ref(&t->approvers[0], POLICY_REF_GROUP, "leads", 22);
	assert_int_equal(t->approvers[0].index, 1);
	assert_int_equal(t->approvals, 1);
	assert_int_equal(t->nhosts, 2);
	assert_ref(&t->hosts[0], POLICY_REF_GROUP, "db", 23);
	assert_int_equal(t->hosts[0].index, 0);
	assert_ref(&t->hosts[1], POLICY_REF_GROUP, "stage", 23);
	assert_int_equal(t->hosts[1].index, 2);
	assert_string_equal(t->login_as, "postgres");
	assert_true(t->default_ttl == 600);
	assert_true(t->max_ttl == 900);
	assert_true(t->require_reason);
	assert_int_equal(t->source_mode, POLICY_SOURCE_REQUESTER);
	assert_null(t->source_cidrs);
	assert_true(t->pty);
	assert_false(t->agent_forwarding || t->port_forwarding || t->x11_forwarding || t->user_rc);
	assert_int_equal(t->max_logins, 1);
	assert_null(t->command);
	assert_int_equal(t->nschedule, 0);
	assert_false(t->break_glass);
	/* Context: prod+high needs 2 approvals and 10m at most; staging none. */
	assert_int_equal(t->nwhen, 2);
	assert_string_equal(t->when[0].env, "prod");
	assert_string_equal(t->when[0].sensitivity, "high");
	assert_int_equal(t->when[0].approvals, 2);
	assert_true(t->when[0].max_ttl == 600);
	assert_int_equal(t->when[0].line, 28);
	assert_string_equal(t->when[1].env, "staging");
	assert_null(t->when[1].sensitivity);
	assert_int_equal(t->when[1].approvals, 0);
	assert_true(t->when[1].max_ttl == 0);
	assert_int_equal(t->when[1].line, 29);

	t = policy_find_task(p, "restart-app");
	assert_int_equal(t->line, 32);
	assert_null(t->description);
	assert_int_equal(t->nrequesters, 1);
	assert_ref(&t->requesters[0], POLICY_REF_UNIX_GROUP, "ops", 32);
	assert_int_equal(t->approvals, 1);
	assert_int_equal(t->nhosts, 1);
	assert_ref(&t->hosts[0], POLICY_REF_GROUP, "legacy", 33);
	assert_int_equal(t->hosts[0].index, 1);
	assert_string_equal(t->login_as, "appsvc");
	assert_true(t->max_ttl == 300);
	assert_true(t->default_ttl == 300); /* unset: the task's max */
	assert_string_equal(t->command, "/usr/local/sbin/restart-app");
	assert_false(t->pty);
	assert_false(t->require_reason);
	assert_int_equal(t->source_mode, POLICY_SOURCE_NONE);
	assert_int_equal(t->max_logins, 0);
	assert_int_equal(t->nwhen, 0);
	/* Mon-Fri 06:00-22:00: weekdays 1..5 as tm_wday. */
	assert_int_equal(t->nschedule, 1);
	assert_int_equal(t->schedule[0].days, 0x3e);
	assert_int_equal(t->schedule[0].start, 6 * 60);
	assert_int_equal(t->schedule[0].end, 22 * 60);
	assert_int_equal(t->schedule[0].line, 35);

	t = policy_find_task(p, "break-glass");
	assert_int_equal(t->line, 37);
	assert_true(t->break_glass);
	assert_true(t->require_reason);
	assert_int_equal(t->napprovers, 0);
	assert_int_equal(t->approvals, 0);
	assert_ref(&t->requesters[0], POLICY_REF_GROUP, "leads", 37);
	assert_int_equal(t->nhosts, 2);
	assert_ref(&t->hosts[0], POLICY_REF_GROUP, "db", 38);
	assert_ref(&t->hosts[1], POLICY_REF_GROUP, "legacy", 38);
	assert_string_equal(t->login_as, "root");
	assert_true(t->max_ttl == 1800);
	assert_true(t->default_ttl == 1800);
	assert_true(t->pty); /* no command: a terminal by default */

	policy_free(p);
	policy_free(NULL);
}

/* The file read from disk and the same text as a string agree. */
static void
test_example_string(void **state)
{
	struct policy *p;
	char *text = tu_read_file(EXAMPLE, NULL);

	assert_non_null(text);
	p = load_ok(text);
	assert_string_equal(p->file, "p.conf");
	assert_int_equal(p->ntasks, 3);
	assert_int_equal(policy_find_task(p, "db-maint")->when[0].line, 28);
	policy_free(p);
	free(text);
}

static void
test_defaults_and_options(void **state)
{
	struct policy *p;
	const struct policy_task *t;

	/* No defaults section: 30m and 1h. Host patterns and names lower-cased. */
	p = load_ok(
	    "tasks = ( { name = \"a.b_c-9\"; requesters = [ \"alice\", \"%Ops\" ];\n"
	    "  approvers = [ \"carol\", \"dave\" ];\n"
	    "  hosts = [ \"Web1.Example.COM\", \"*.Legacy.example.com\" ]; login_as = \"u\";\n"
	    "  source_address = \"10.0.0.0/8,192.168.1.1\"; agent_forwarding = true;\n"
	    "  port_forwarding = true; x11_forwarding = true; user_rc = true;\n"
	    "  command = \"/bin/true --now\"; pty = true; default_ttl = 90;\n"
	    "  schedule = [ \"Sat,Sun 10:00-14:00\", \"Mon 22:00-06:00\" ]; } );\n");
	assert_true(p->max_ttl == 1800);
	assert_true(p->pending_timeout == 3600);
	assert_int_equal(p->ngroups, 0);
	assert_int_equal(p->nhostgroups, 0);
	t = policy_find_task(p, "a.b_c-9");
	assert_non_null(t);
	assert_ref(&t->requesters[1], POLICY_REF_UNIX_GROUP, "Ops", 1);
	assert_int_equal(t->approvals, 1); /* approvers and no count: one */
	assert_ref(&t->hosts[0], POLICY_REF_NAME, "web1.example.com", 3);
	assert_ref(&t->hosts[1], POLICY_REF_NAME, "*.legacy.example.com", 3);
	assert_int_equal(t->source_mode, POLICY_SOURCE_CIDRS);
	assert_string_equal(t->source_cidrs, "10.0.0.0/8,192.168.1.1");
	assert_true(t->agent_forwarding && t->port_forwarding && t->x11_forwarding && t->user_rc);
	assert_true(t->pty); /* set explicitly, despite the command */
	assert_true(t->max_ttl == 1800);
	assert_true(t->default_ttl == 90);
	assert_false(t->require_reason);
	assert_int_equal(t->nschedule, 2);
	assert_int_equal(t->schedule[0].days, 0x41);
	assert_int_equal(t->schedule[1].days, 0x02);
	assert_int_equal(t->schedule[1].start, 22 * 60);
	assert_int_equal(t->schedule[1].end, 6 * 60);
	policy_free(p);

	/* "none" is no binding; an explicit approvals = 0 with approvers. */
	p = load_ok(
	    "defaults = { max_ttl = \"2h\"; pending_timeout = 600; };\n"
	    "tasks = ( { name = \"t\"; requesters = [ \"a\" ]; approvers = [ \"b\" ];\n"
	    "  approvals = 0; hosts = [ \"h\" ]; login_as = \"u\"; source_address = \"none\";\n"
	    "  max_ttl = \"1h30m\"; } );\n");
	assert_true(p->max_ttl == 7200);
	assert_true(p->pending_timeout == 600);
	t = policy_find_task(p, "t");
	assert_int_equal(t->approvals, 0);
	assert_int_equal(t->source_mode, POLICY_SOURCE_NONE);
	assert_true(t->max_ttl == 5400);
	assert_true(t->default_ttl == 5400);
	policy_free(p);

	/* An empty task list is a valid (if useless) policy. */
	p = load_ok("tasks = ();\n");
	assert_int_equal(p->ntasks, 0);
	assert_null(policy_find_task(p, "t"));
	policy_free(p);
}

/* ------------------------------------------------------------ errors */

static void
test_err_syntax(void **state)
{
	expect_errors(
	    "tasks = (\n  { name = \"t\" \n  login_as = ; }\n);\n", "p.conf:3: syntax error\n");
	expect_errors("groups = {\n  dba = [ \"a\" ];\n  dba = [ \"b\" ];\n};\ntasks = ();\n",
	    "p.conf:3: duplicate setting name\n");
	expect_errors("hostgroups = {\n  db = { hosts = [ \"a\" ]; };\n"
	              "  db = { hosts = [ \"b\" ]; };\n};\ntasks = ();\n",
	    "p.conf:3: duplicate setting name\n");
	expect_errors("", "p.conf: missing 'tasks' at top level\n");
}

static void
test_err_include(void **state)
{
	expect_errors(
	    "tasks = ();\n@include \"/etc/passwd\"\n", "p.conf:2: @include is not allowed\n");
	expect_errors("# one\n  \t@include \"x\"\n@INCLUDE \"y\"\ntasks = ();\n",
	    "p.conf:2: @include is not allowed\np.conf:3: @include is not allowed\n");
	/* Not at the start of a line, libconfig would not include it either:
	 * a plain syntax error. */
	expect_errors("tasks = (); x = 1; @include \"y\"\n", "p.conf:1: syntax error\n");
}

static void
test_err_unknown_key(void **state)
{
	expect_errors("tasks = ();\nfoo = 1;\n", "p.conf:2: unknown key 'foo' at top level\n");
	expect_errors("defaults = {\n  max_ttl = \"1h\";\n  maxttl = \"1h\";\n};\ntasks = ();\n",
	    "p.conf:3: unknown key 'maxttl' in defaults\n");
	expect_errors("hostgroups = { db = { hosts = [ \"a\" ];\n  envv = \"x\"; }; };\n"
	              "tasks = ();\n",
	    "p.conf:2: unknown key 'envv' in hostgroup 'db'\n");
	expect_task_errors(
	    TASK_OK "\n    ttl = \"5m\";", "p.conf:5: unknown key 'ttl' in task 't'\n");
	expect_task_errors(TASK_OK " approvers = [ \"carol\" ];\n"
	                           "    when = ( { env = \"prod\"; approvals = 1; },\n"
	                           "             { sensitive = \"high\"; approvals = 1; } );",
	    "p.conf:6: unknown key 'sensitive' in when entry 2 in task 't'\n");
}

static void
test_err_types(void **state)
{
	expect_errors("defaults = 5;\ntasks = {};\n",
	    "p.conf:1: 'defaults' at top level: expected a group\n"
	    "p.conf:2: 'tasks' at top level: expected a list of groups\n");
	expect_errors("groups = { dba = \"alice\"; };\nhostgroups = { db = [ \"x\" ]; };\n"
	              "tasks = ();\n",
	    "p.conf:1: 'dba' in groups: expected a list of strings\n"
	    "p.conf:2: 'db' in hostgroups: expected a group\n");
	expect_task_errors("name = \"t\"; requesters = \"alice\"; hosts = [ \"@db\" ];\n"
	                   "  login_as = 5; approvals = \"1\"; pty = 1; max_ttl = true;\n"
	                   "  max_logins = 1.5; when = { };\n"
	                   "  schedule = [ 1 ];",
	    "p.conf:4: 'requesters' in task 't': expected a list of strings\n"
	    "p.conf:5: 'login_as' in task 't': expected a string or a list of strings\n"
	    "p.conf:5: 'approvals' in task 't': expected an integer or a list of groups\n"
	    "p.conf:5: 'pty' in task 't': expected a boolean\n"
	    "p.conf:5: 'max_ttl' in task 't': expected a duration\n"
	    "p.conf:6: 'max_logins' in task 't': expected an integer\n"
	    "p.conf:6: 'when' in task 't': expected a list of groups\n"
	    "p.conf:7: 'schedule' in task 't': expected a list of strings\n");
	/* A mixed list is not a list of strings. */
	expect_task_errors(TASK_OK "\n approvers = ( \"carol\", 2 );",
	    "p.conf:5: 'approvers' in task 't': expected a list of strings\n");
}

static void
test_err_values(void **state)
{
	expect_errors("defaults = { max_ttl = \"5x\"; pending_timeout = \"0\"; };\ntasks = ();\n",
	    "p.conf:1: 'max_ttl' in defaults: bad duration '5x'\n"
	    "p.conf:1: 'pending_timeout' in defaults must be between 1s and 7d\n");
	expect_errors("defaults = { max_ttl = \"8d\"; };\ntasks = ();\n",
	    "p.conf:1: 'max_ttl' in defaults must be between 1s and 7d\n");
	expect_task_errors(TASK_OK "\n approvers = [ \"carol\" ]; approvals = 17;\n"
	                           "  max_logins = -1;",
	    "p.conf:5: 'approvals' in task 't' must be between 0 and 16\n"
	    "p.conf:6: 'max_logins' in task 't' must be between 0 and 4294967295\n");
	expect_task_errors(TASK_OK "\n default_ttl = -5;",
	    "p.conf:5: 'default_ttl' in task 't': bad duration -5\n");
}

/* libconfig 1.5 wraps integers that do not fit (4294967296 reads as 0):
 * every such literal is refused before any value is read. */
static void
test_err_integer_wrap(void **state)
{
	expect_task_errors(TASK_OK "\n approvers = [ \"carol\" ]; approvals = 4294967296;\n"
	                           "  max_logins = 4294967297;",
	    "p.conf:5: integer 4294967296 is too large (libconfig would read another value)\n"
	    "p.conf:6: integer 4294967297 is too large (libconfig would read another value)\n");
	/* Hex past INT_MAX turns negative; 64-bit literals saturate. */
	expect_task_errors(TASK_OK "\n max_logins = 0xFFFFFFFF;\n max_ttl = 9223372036854775808L;",
	    "p.conf:5: integer 0xFFFFFFFF is too large (libconfig would read another value)\n"
	    "p.conf:6: integer 9223372036854775808L is too large (libconfig would read another "
	    "value)\n");
	expect_task_errors(TASK_OK "\n max_logins = -2147483649;",
	    "p.conf:5: integer -2147483649 is too large (libconfig would read another value)\n");
	/* What fits is range-checked by the field as before. */
	expect_task_errors(TASK_OK "\n max_logins = 4294967296L;",
	    "p.conf:5: 'max_logins' in task 't' must be between 0 and 4294967295\n");
	task_ok(TASK_OK "\n max_logins = 2147483647; # 99999999999999999999\n"
	                " description = \"4294967296 /* 4294967296 */\";\n"
	                " /* 4294967296 */ max_ttl = 600;");
	(void)state;
}

static void
test_err_undefined_group(void **state)
{
	expect_task_errors("name = \"t\"; requesters = [ \"alice\",\n"
	                   "    \"@nope\" ]; approvers = [ \"@leads\", \"@dbas\" ];\n"
	                   "  hosts = [ \"@db\", \"@dba\" ]; login_as = \"u\";",
	    "p.conf:5: 'requesters' in task 't': undefined group '@nope'\n"
	    "p.conf:5: 'approvers' in task 't': undefined group '@dbas'\n"
	    "p.conf:6: 'hosts' in task 't': undefined hostgroup '@dba'\n");
}

static void
test_err_no_requesters(void **state)
{
	expect_task_errors("name = \"t\";\n hosts = [ \"@db\" ]; login_as = \"u\";",
	    "p.conf:4: task 't' has no requesters\n");
	expect_task_errors("name = \"t\"; hosts = [ \"@db\" ]; login_as = \"u\";\n"
	                   "  requesters = [ ];",
	    "p.conf:5: 'requesters' in task 't': the list is empty\n");
	expect_task_errors("name = \"t\"; requesters = [ \"alice\" ]; login_as = \"u\";",
	    "p.conf:4: task 't' has no hosts\n");
	expect_task_errors(
	    "name = \"t\"; requesters = [ \"alice\" ]; login_as = \"u\"; hosts = [];",
	    "p.conf:4: 'hosts' in task 't': the list is empty\n");
	expect_task_errors("requesters = [ \"alice\" ]; hosts = [ \"@db\" ];",
	    "p.conf:4: missing 'name' in task #1\n"
	    "p.conf:4: missing 'login_as' in task #1\n");
}

static void
test_err_ttl(void **state)
{
	expect_task_errors(TASK_OK "\n  max_ttl = \"31m\";",
	    "p.conf:5: 'max_ttl' in task 't': 31m is over the global max_ttl 30m\n");
	expect_task_errors(TASK_OK "\n  max_ttl = \"15m\";\n  default_ttl = \"20m\";",
	    "p.conf:6: 'default_ttl' in task 't': 20m is above the task's max_ttl 15m\n");
	/* No task max: the global one applies to default_ttl. */
	expect_task_errors(TASK_OK "\n  default_ttl = \"1h\";",
	    "p.conf:5: 'default_ttl' in task 't': 1h is above the task's max_ttl 30m\n");
	expect_task_errors(TASK_OK " max_ttl = \"15m\";\n"
	                           "  when = ( { env = \"prod\"; max_ttl = \"20m\"; },\n"
	                           "           { env = \"prod\"; max_ttl = \"2h\"; } );",
	    "p.conf:5: 'max_ttl' in when entry 1 in task 't': 20m is above the task's max_ttl 15m\n"
	    "p.conf:6: 'max_ttl' in when entry 2 in task 't': 2h is over the global max_ttl\n");
}

static void
test_err_duplicate_task(void **state)
{
	expect_errors(HEAD "  { " TASK_OK " },\n  { name = \"u\"; requesters = [ \"alice\" ]; "
	                   "hosts = [ \"@db\" ]; login_as = \"u\"; },\n  { " TASK_OK " },\n"
	                   "  {\n " TASK_OK " }\n);\n",
	    "p.conf:6: duplicate task name 't' (first at line 4)\n"
	    "p.conf:7: duplicate task name 't' (first at line 6)\n");
}

static void
test_err_cidr(void **state)
{
	expect_task_errors(TASK_OK "\n  source_address = \"10.0.0.0/33\";",
	    "p.conf:5: 'source_address' in task 't': bad CIDR list '10.0.0.0/33': prefix "
	    "length out of range (0-32 for IPv4, 0-128 for IPv6)\n");
	expect_task_errors(TASK_OK "\n  source_address = \"requester,10.0.0.1\";",
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 1 'requester': "
	    "invalid character in the address list (no spaces or names)\n");
}

/* Issue 12, items 6 and 13: every bad entry is reported, and a mapped
 * network (which sshd never matches for an IPv4 client) says what to
 * write instead. */
static void
test_err_cidr_every_entry(void **state)
{
	expect_task_errors(TASK_OK "\n  source_address = \"::ffff:192.0.2.0/120\";",
	    "p.conf:5: 'source_address' in task 't': bad CIDR list '::ffff:192.0.2.0/120': an "
	    "IPv4-mapped IPv6 network, which sshd never matches against an IPv4 client; write "
	    "192.0.2.0/24\n");
	expect_task_errors(TASK_OK "\n  source_address = "
	                           "\"10.0.0.0/8,10.0.0.1/8,::ffff:c000:201,,2001:db8::/32,"
	                           "::FFFF:10.0.0.0/104,::ffff:0:0/96,x\";",
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 2 '10.0.0.1/8': address "
	    "has bits set beyond its prefix length (e.g. 10.0.0.1/8; write 10.0.0.0/8)\n"
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 3 '::ffff:c000:201': an "
	    "IPv4-mapped IPv6 network, which sshd never matches against an IPv4 client; write "
	    "192.0.2.1\n"
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 4 '': empty entry in "
	    "the address list\n"
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 6 '::FFFF:10.0.0.0/104': "
	    "an IPv4-mapped IPv6 network, which sshd never matches against an IPv4 client; write "
	    "10.0.0.0/8\n"
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 7 '::ffff:0:0/96': an "
	    "IPv4-mapped IPv6 network, which sshd never matches against an IPv4 client; write "
	    "0.0.0.0/0\n"
	    "p.conf:5: 'source_address' in task 't': bad CIDR list entry 8 'x': invalid "
	    "character in the address list (no spaces or names)\n");
	/* A genuine IPv6 network that holds the mapped range is fine. */
	task_ok(TASK_OK " source_address = \"::/0,::/64\";");
}

static void
test_err_schedule(void **state)
{
	expect_task_errors(TASK_OK "\n  schedule = [ \"Mon-Fri 06:00-22:00\",\n"
	                           "    \"Funday 06:00-22:00\" ];",
	    "p.conf:6: 'schedule' in task 't': bad schedule 'Funday 06:00-22:00': unknown day "
	    "(use Mon, Tue, Wed, Thu, Fri, Sat, Sun)\n");
}

static void
test_err_hosts(void **state)
{
	expect_task_errors("name = \"t\"; requesters = [ \"alice\" ]; login_as = \"u\";\n"
	                   "  hosts = [ \"db*.example.com\", \"%ops\",\n"
	                   "    \"DB01.example.com\", \"db01.example.com\" ];",
	    "p.conf:5: 'hosts' in task 't': bad host pattern 'db*.example.com': '*' is allowed "
	    "only as the whole leftmost label\n"
	    "p.conf:5: 'hosts' in task 't': '%ops': a Unix group is not a host\n"
	    "p.conf:6: 'hosts' in task 't': 'db01.example.com' is listed twice\n");
	expect_errors("hostgroups = { db = {\n  hosts = [ \"a.example.com\",\n"
	              "    \"A.example.com\", \"@x\", \"*.x.com\", \"b..c\", \"*.X.com\"\n  ];\n"
	              "}; };\ntasks = ();\n",
	    "p.conf:3: 'hosts' in hostgroup 'db': '@x': a hostgroup holds host names and "
	    "patterns only\n"
	    "p.conf:3: 'hosts' in hostgroup 'db': bad host pattern 'b..c': empty label in "
	    "host name\n"
	    "p.conf:3: 'hosts' in hostgroup 'db': host '*.x.com' is listed twice\n"
	    "p.conf:3: 'hosts' in hostgroup 'db': host 'a.example.com' is listed twice\n");
	expect_errors("hostgroups = { db = { hosts = [ ]; }; };\ntasks = ();\n",
	    "p.conf:1: 'hosts' in hostgroup 'db': the list is empty\n");
}

/* Issue 12, item 8: '*' stands for one label of a domain, not a TLD. */
static void
test_err_wildcard_labels(void **state)
{
	expect_errors(
	    "hostgroups = { all = {\n  hosts = [ \"*.com\", \"*.example.com\" ];\n"
	    "}; };\ntasks = (\n  { name = \"t\"; requesters = [ \"alice\" ]; login_as = \"u\";\n"
	    "    hosts = [ \"*.lan\" ]; }\n);\n",
	    "p.conf:2: 'hosts' in hostgroup 'all': bad host pattern '*.com': '*' must be "
	    "followed by at least two labels (\"*.example.com\", not \"*.com\")\n"
	    "p.conf:6: 'hosts' in task 't': bad host pattern '*.lan': '*' must be followed by "
	    "at least two labels (\"*.example.com\", not \"*.com\")\n");
}

/* Issue 12, item 1: which hostgroups share a host is known after loading,
 * and a host in hostgroups of different contexts is a warning. */
static void
test_hostgroup_overlaps(void **state)
{
	static const char text[] =
	    "hostgroups = {\n"
	    "  db = { hosts = [ \"db01.example.com\" ]; env = \"prod\"; sensitivity = \"high\"; "
	    "};\n"
	    "  stage = { hosts = [ \"db01.example.com\", \"s.example.com\" ]; env = \"staging\"; "
	    "};\n"
	    "  web = { hosts = [ \"*.web.example.com\" ]; env = \"prod\"; };\n"
	    "  w1 = { hosts = [ \"w1.web.example.com\" ]; env = \"staging\"; };\n"
	    "  w1b = { hosts = [ \"w1.web.example.com\" ]; env = \"staging\"; };\n"
	    "  web2 = { hosts = [ \"*.web.example.com\" ]; };\n"
	    "  deep = { hosts = [ \"a.b.web.example.com\" ]; env = \"dev\"; };\n"
	    "};\n"
	    "tasks = ();\n";
	struct policy *p = load_ok(text);
	const struct policy_hostgroup *db = policy_find_hostgroup(p, "db");
	const struct policy_hostgroup *stage = policy_find_hostgroup(p, "stage");
	const struct policy_hostgroup *web = policy_find_hostgroup(p, "web");
	const struct policy_hostgroup *w1 = policy_find_hostgroup(p, "w1");
	const struct policy_hostgroup *deep = policy_find_hostgroup(p, "deep");
	char *got;

	assert_int_equal(db->noverlaps, 1);
	assert_ptr_equal(&p->hostgroups[db->overlaps[0]], stage);
	assert_int_equal(stage->noverlaps, 1);
	assert_int_equal(web->noverlaps, 3); /* w1, w1b, web2 */
	assert_int_equal(w1->noverlaps, 3); /* w1b, web, web2 */
	assert_int_equal(deep->noverlaps, 0);
	got = policy_errors_format(&p->warnings);
	assert_string_equal(got,
	    "p.conf:3: host 'db01.example.com' is in hostgroups 'db' (env prod, sensitivity high) "
	    "and 'stage' (env staging), whose contexts differ: a request for either hostgroup "
	    "gets the strictest conditions of both\n"
	    "p.conf:5: host 'w1.web.example.com' is in hostgroups 'w1' (env staging) and 'web' "
	    "(env prod), whose contexts differ: a request for either hostgroup gets the "
	    "strictest conditions of both\n"
	    "p.conf:6: host 'w1.web.example.com' is in hostgroups 'w1b' (env staging) and 'web' "
	    "(env prod), whose contexts differ: a request for either hostgroup gets the "
	    "strictest conditions of both\n"
	    "p.conf:7: host 'w1.web.example.com' is in hostgroups 'w1' (env staging) and 'web2' "
	    "(no env or sensitivity), whose contexts differ: a request for either hostgroup "
	    "gets the strictest conditions of both\n"
	    "p.conf:7: host 'w1.web.example.com' is in hostgroups 'w1b' (env staging) and "
	    "'web2' (no env or sensitivity), whose contexts differ: a request for either "
	    "hostgroup gets the strictest conditions of both\n"
	    "p.conf:7: hosts '*.web.example.com' are in hostgroups 'web' (env prod) and 'web2' "
	    "(no env or sensitivity), whose contexts differ: a request for either hostgroup "
	    "gets the strictest conditions of both\n");
	free(got);
	policy_free(p);
}

/* Issue 12, item 13: values are compared exactly, so "Prod" beside
 * "prod" is worth a warning; a consistent spelling is not. */
static void
test_warn_attr_case(void **state)
{
	expect_warnings(
	    "hostgroups = {\n"
	    "  a = { hosts = [ \"a.example.com\" ]; env = \"prod\"; };\n"
	    "  b = { hosts = [ \"b.example.com\" ]; env = \"Prod\"; sensitivity = \"HIGH\"; };\n"
	    "  c = { hosts = [ \"c.example.com\" ]; env = \"PROD\"; sensitivity = \"high\"; };\n"
	    "  d = { hosts = [ \"d.example.com\" ]; env = \"Prod\"; };\n"
	    "  e = { hosts = [ \"e.example.com\" ]; env = \"Staging\"; };\n"
	    "};\ntasks = ();\n",
	    "p.conf:3: env 'Prod' of hostgroup 'b' differs only in case from env 'prod' of "
	    "hostgroup 'a' (line 2); values are compared exactly\n"
	    "p.conf:4: env 'PROD' of hostgroup 'c' differs only in case from env 'prod' of "
	    "hostgroup 'a' (line 2); values are compared exactly\n"
	    "p.conf:4: sensitivity 'high' of hostgroup 'c' differs only in case from "
	    "sensitivity 'HIGH' of hostgroup 'b' (line 3); values are compared exactly\n");
	expect_warnings("hostgroups = {\n"
	                "  a = { hosts = [ \"a.example.com\" ]; env = \"Prod\"; };\n"
	                "  b = { hosts = [ \"b.example.com\" ]; env = \"Prod\"; };\n"
	                "};\ntasks = ();\n",
	    "");
}

/* Issue 12: valid_until is a local time, with or without seconds. */
static void
test_valid_until(void **state)
{
	struct policy *p;
	char *text;

	setenv("TZ", "UTC", 1);
	tzset();
	text = one_task(TASK_OK " valid_until = \"2026-12-31T18:00\";");
	p = load_ok(text);
	assert_int_equal(p->tasks[0].valid_until, 1798740000);
	assert_int_equal(p->tasks[0].valid_until_line, 4);
	policy_free(p);
	free(text);
	text = one_task(TASK_OK " valid_until = \"2026-12-31T18:00:30\";");
	p = load_ok(text);
	assert_int_equal(p->tasks[0].valid_until, 1798740030);
	policy_free(p);
	free(text);
	text = one_task(TASK_OK);
	p = load_ok(text);
	assert_int_equal(p->tasks[0].valid_until, 0);
	policy_free(p);
	free(text);
	expect_task_errors(TASK_OK "\n  valid_until = \"2026-12-31 18:00\";",
	    "p.conf:5: 'valid_until' in task 't': bad time '2026-12-31 18:00': expected a local "
	    "time YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS\n");
	expect_task_errors(TASK_OK "\n  valid_until = \"2026-02-30T10:00\";",
	    "p.conf:5: 'valid_until' in task 't': bad time '2026-02-30T10:00': no such time in "
	    "the local time zone (a day that does not exist, or the hour a DST change skips)\n");
	expect_task_errors(TASK_OK "\n  valid_until = \"2026-13-01T10:00\";",
	    "p.conf:5: 'valid_until' in task 't': bad time '2026-13-01T10:00': no such date or "
	    "time\n");
	expect_task_errors(TASK_OK "\n  valid_until = 1798740000;",
	    "p.conf:5: 'valid_until' in task 't': expected a string\n");
}

/* Issue 12, item 11: emergencies keep no office hours. */
static void
test_warn_break_glass_schedule(void **state)
{
	char *text = one_task(TASK_OK " break_glass = true;\n"
	                              "  schedule = [ \"Mon-Fri 06:00-22:00\" ];");

	expect_warnings(text,
	    "p.conf:5: 'schedule' in task 't': a break_glass task with a "
	    "schedule cannot be used outside it, which is when emergencies "
	    "tend to happen\n");
	free(text);
}

static void
test_err_approvals(void **state)
{
	expect_task_errors(TASK_OK "\n  approvals = 1;",
	    "p.conf:5: 'approvals' in task 't': 1 approvals need approvers, and the task "
	    "has none\n");
	expect_task_errors(TASK_OK "\n  when = ( { env = \"prod\"; approvals = 2; } );",
	    "p.conf:5: 'approvals' in when entry 1 in task 't': approvals need approvers, "
	    "and the task has none\n");
	/* Two named people cannot give three distinct approvals. */
	expect_task_errors(TASK_OK "\n  approvers = [ \"@leads\", \"carol\" ]; approvals = 3;",
	    "p.conf:5: 'approvals' in task 't': 3 approvals needed but only 2 people may "
	    "approve\n");
	/* A Unix group makes the count unknowable here: accepted. */
	task_ok(TASK_OK " approvers = [ \"@dba\" ]; approvals = 3;");
	task_ok(TASK_OK " approvers = [ \"@leads\" ]; approvals = 2;");
}

/* login_as: one account, or a list whose first is the default. */
static void
test_login_as_list(void **state)
{
	struct policy *p;
	const struct policy_task *t;
	char *text;

	text = one_task("name = \"t\"; requesters = [ \"alice\" ]; hosts = [ \"@db\" ];\n"
	                "    login_as = [ \"postgres\", \"barman\" ];");
	p = load_ok(text);
	free(text);
	t = policy_find_task(p, "t");
	assert_non_null(t);
	assert_string_equal(t->login_as, "postgres");
	assert_int_equal(t->nlogin_as, 2);
	assert_string_equal(t->login_as_list[0], "postgres");
	assert_string_equal(t->login_as_list[1], "barman");
	policy_free(p);

	/* A single string is a list of one. */
	text = one_task(TASK_OK);
	p = load_ok(text);
	free(text);
	t = policy_find_task(p, "t");
	assert_int_equal(t->nlogin_as, 1);
	assert_string_equal(t->login_as_list[0], "u");
	assert_string_equal(t->login_as, "u");
	policy_free(p);

	expect_task_errors("name = \"t\"; requesters = [ \"alice\" ]; hosts = [ \"@db\" ];\n"
	                   "    login_as = [ ];",
	    "p.conf:5: 'login_as' in task 't': the list is empty\n");
	expect_task_errors("name = \"t\"; requesters = [ \"alice\" ]; hosts = [ \"@db\" ];\n"
	                   "    login_as = [ \"a\",\n \"b c\", \"a\" ];",
	    "p.conf:6: 'login_as' in task 't': name 'b c' is not a valid user or group name\n"
	    "p.conf:6: 'login_as' in task 't': 'a' is listed twice\n");
}

static void
test_err_names(void **state)
{
	char *longname, *body;

	expect_task_errors("name = \"t 1\"; requesters = [ \"\", \"%\", \"@\" ];\n"
	                   "  hosts = [ \"@db\" ]; login_as = \"-u\";",
	    "p.conf:4: task name 't 1' may only hold letters, digits, '.', '_' and '-'\n"
	    "p.conf:4: 'requesters' in task #1: name '' is empty\n"
	    "p.conf:4: 'requesters' in task #1: name '%' is empty\n"
	    "p.conf:4: 'requesters' in task #1: name '@' is empty\n"
	    "p.conf:5: 'login_as' in task #1: name '-u' may not start with '-'\n");
	expect_task_errors("name = \"\"; requesters = [ \"al ice\", \"%d/b\" ];\n"
	                   "  hosts = [ \"@db\" ]; login_as = \"@root\";",
	    "p.conf:4: task name '' is empty\n"
	    "p.conf:4: 'requesters' in task #1: name 'al ice' is not a valid user or group name\n"
	    "p.conf:4: 'requesters' in task #1: name '%d/b' is not a valid user or group name\n"
	    "p.conf:5: 'login_as' in task #1: name '@root' is not a valid user or group name\n");
	expect_errors("groups = { x* = [ \"a\" ]; };\nhostgroups = { db = { hosts = [ \"a\" ];\n"
	              "  env = \"p r o d\"; }; };\ntasks = ();\n",
	    "p.conf:1: group name 'x*' may only hold letters, digits, '.', '_' and '-'\n"
	    "p.conf:3: 'env' in hostgroup 'db': 'p r o d' may only hold letters, digits, "
	    "'.', '_' and '-'\n");
	/* 254 characters: one over a DNS name. */
	longname = malloc(255);
	assert_non_null(longname);
	memset(longname, 'a', 254);
	longname[254] = '\0';
	if (asprintf(&body,
	        "name = \"%s\"; requesters = [ \"%s\" ]; hosts = [ \"@db\" ];\n"
	        "  login_as = \"u\";",
	        longname, longname) < 0)
		fail_msg("out of memory");
	expect_task_errors(body,
	    "p.conf:4: task name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaa' is too long\n"
	    "p.conf:4: 'requesters' in task #1: name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is too long\n");
	free(body);
	/* 253 is fine. */
	longname[253] = '\0';
	if (asprintf(&body,
	        "name = \"%s\"; requesters = [ \"%s\" ]; hosts = [ \"@db\" ];\n"
	        "  login_as = \"u\";",
	        longname, longname) < 0)
		fail_msg("out of memory");
	task_ok(body);
	free(body);
	free(longname);
}

/*
 * 1,000 tasks naming a 100,000-member group took seconds to load: each
 * task sorted the whole group to count its approvers. Now each task looks
 * at a bounded number of members; make bench reports the load time of an
 * 8 MiB policy against libconfig's own parse of it. Here: such a policy
 * loads, and the static approver checks still see the whole group.
 */
static void
test_load_big_group_fast(void **state)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	assert_non_null(f = open_memstream(&text, &len));
	fprintf(f, "groups = { big = [");
	for (i = 0; i < 100000; i++)
		fprintf(f, "%s \"user%06d\"", i > 0 ? "," : "", i);
	fprintf(f, " ]; };\ntasks = (\n");
	for (i = 0; i < 1000; i++)
		fprintf(f,
		    "  { name = \"t%04d\"; requesters = [ \"@big\" ]; approvers = [ \"@big\" ];\n"
		    "    approvals = 2; hosts = [ \"h%d.example.com\" ]; login_as = \"u\"; }%s\n",
		    i, i, i < 999 ? "," : "");
	fprintf(f, ");\n");
	assert_int_equal(fclose(f), 0);
	assert_int_equal(policy_load_string(text, "big.conf", &p, &errs), EPH_OK);
	assert_int_equal(p->ntasks, 1000);
	assert_int_equal(p->warnings.n, 0);
	policy_free(p);
	free(text);
}

/* approvals = ( { from = [...]; count = N; }, ... ) */
static void
test_approval_clauses(void **state)
{
	struct policy *p;
	const struct policy_task *t;
	char *text;

	text = one_task(TASK_OK
	    "\n  approvals = ( { from = [ \"@leads\" ]; count = 1; },\n"
	    "    { from = [ \"%security\", \"erin\" ]; count = 2; } );\n"
	    "  when = ( { env = \"prod\"; approvals = ( { from = [ \"@leads\" ]; } ); } );");
	p = load_ok(text);
	free(text);
	t = policy_find_task(p, "t");
	assert_int_equal(t->approvals, 3);
	assert_int_equal(t->napprovers, 0);
	assert_int_equal(t->nclauses, 2);
	assert_int_equal(t->clauses[0].count, 1);
	assert_int_equal(t->clauses[0].line, 5);
	assert_ref(&t->clauses[0].from[0], POLICY_REF_GROUP, "leads", 5);
	assert_int_equal(t->clauses[1].count, 2);
	assert_int_equal(t->clauses[1].nfrom, 2);
	assert_ref(&t->clauses[1].from[0], POLICY_REF_UNIX_GROUP, "security", 6);
	assert_int_equal(t->when[0].approvals, 1);
	assert_int_equal(t->when[0].nclauses, 1);
	assert_int_equal(t->when[0].clauses[0].count, 1);
	policy_free(p);

	expect_task_errors(TASK_OK "\n  approvals = ( );",
	    "p.conf:5: 'approvals' in task 't': the list of clauses is empty\n");
	expect_task_errors(TASK_OK "\n  approvers = [ \"carol\" ];\n"
	                           "  approvals = ( { from = [ \"@leads\" ]; count = 0; },\n"
	                           "    { count = 1; }, { from = [ ]; frm = 1; } );",
	    "p.conf:5: 'approvers' in task 't': approvals given as clauses name their approvers in "
	    "'from'\n"
	    "p.conf:6: 'count' in approval clause 1 in task 't' must be between 1 and 16\n"
	    "p.conf:7: missing 'from' in approval clause 2 in task 't'\n"
	    "p.conf:7: unknown key 'frm' in approval clause 3 in task 't'\n"
	    "p.conf:7: 'from' in approval clause 3 in task 't': the list is empty\n");
	expect_task_errors(TASK_OK "\n  approvals = ( { from = [ \"%a\" ]; count = 9; },\n"
	                           "    { from = [ \"%b\" ]; count = 8; } );",
	    "p.conf:5: 'approvals' in task 't': the clauses need 17 approvals; at most 16\n");
	/* Two clauses that only carol and dave could meet, three slots. */
	expect_task_errors(TASK_OK "\n  approvals = ( { from = [ \"@leads\" ]; count = 2; },\n"
	                           "    { from = [ \"carol\" ]; } );",
	    "p.conf:5: 'approvals' in task 't': the clauses need 3 distinct approvers, but at most "
	    "2 of the people they name can meet them\n");
}

/*
 * Approvals that can never be given: the requester never approves their
 * own request, so a requester who is one of too few approvers could never
 * be approved. An error where membership is static, a warning where it
 * depends on a Unix group.
 */
static void
test_err_unapprovable(void **state)
{
	/* alice may ask and approve; the only other approver is bob. */
	expect_task_errors("name = \"t\"; requesters = [ \"alice\" ]; hosts = [ \"@db\" ];\n"
	                   "  login_as = \"u\"; approvers = [ \"alice\", \"bob\" ]; approvals = 2;",
	    "p.conf:5: 'approvals' in task 't': alice may request the task and approve it, and "
	    "cannot approve their own request: it could never get 2 approvals (at most 1 from "
	    "others)\n");
	/* Through policy groups on both sides. */
	expect_task_errors("name = \"t\"; requesters = [ \"@leads\" ]; hosts = [ \"@db\" ];\n"
	                   "  login_as = \"u\"; approvers = [ \"@leads\" ];\n"
	                   "  when = ( { env = \"prod\"; approvals = 2; } );",
	    "p.conf:6: 'approvals' in when entry 1 in task 't': carol may request the task and "
	    "approve it, and cannot approve their own request: it could never get 2 approvals (at "
	    "most 1 from others)\n");
	/* The only approver is the only requester. */
	expect_task_errors(TASK_OK " approvers = [ \"alice\" ];",
	    "p.conf:4: 'approvals' in task 't': alice may request the task and approve it, and "
	    "cannot approve their own request: it could never get 1 approvals (at most 0 from "
	    "others)\n");
	/* Enough others: fine. */
	task_ok("name = \"t\"; requesters = [ \"@leads\" ]; hosts = [ \"@db\" ];\n"
	        "  login_as = \"u\"; approvers = [ \"@leads\" ]; approvals = 1;");
	/* @dba holds %dbadmins, who might be carol or dave: a warning. */
	expect_warnings(HEAD
	    "  { name = \"t\"; requesters = [ \"@dba\" ]; hosts = [ \"@db\" ];\n"
	    "  login_as = \"u\"; approvers = [ \"@leads\" ]; approvals = 2; }\n);\n",
	    "p.conf:5: 'approvals' in task 't': a requester through %dbadmins who is "
	    "also an approver (such as carol) could never get 2 approvals (at most 1 from "
	    "others)\n");
	/* Approvers through a Unix group: unknowable here, accepted silently. */
	expect_warnings(HEAD "  { name = \"t\"; requesters = [ \"%ops\" ]; hosts = [ \"@db\" ];\n"
	                     "  login_as = \"u\"; approvers = [ \"@dba\" ]; approvals = 3; }\n);\n",
	    "");
}

/* deny lists resolve like requesters; reason_pattern compiles at load. */
static void
test_deny_and_reason_pattern(void **state)
{
	struct policy *p;
	const struct policy_task *t;
	char *text = NULL;

	if (asprintf(&text,
	        "defaults = { deny = [ \"%%contractors\", \"@leads\" ]; };\n%s"
	        "  { %s deny = [ \"mallory\" ]; reason_pattern = \"^(INC|CHG)-[0-9]+ \"; }\n);\n",
	        HEAD, TASK_OK) < 0)
		fail_msg("out of memory");
	p = load_ok(text);
	free(text);
	assert_int_equal(p->ndeny, 2);
	assert_ref(&p->deny[0], POLICY_REF_UNIX_GROUP, "contractors", 1);
	assert_ref(&p->deny[1], POLICY_REF_GROUP, "leads", 1);
	t = policy_find_task(p, "t");
	assert_int_equal(t->ndeny, 1);
	assert_ref(&t->deny[0], POLICY_REF_NAME, "mallory", 5);
	assert_string_equal(t->reason_pattern, "^(INC|CHG)-[0-9]+ ");
	assert_non_null(t->reason_re);
	policy_free(p);

	expect_errors("defaults = { deny = [ \"@nobody\" ]; };\ntasks = ();\n",
	    "p.conf:1: 'deny' in defaults: undefined group '@nobody'\n");
	expect_task_errors(TASK_OK "\n  deny = [ \"a b\" ];",
	    "p.conf:5: 'deny' in task 't': name 'a b' is not a valid user or group name\n");
	expect_task_errors(TASK_OK "\n  reason_pattern = \"^(INC\";",
	    "p.conf:5: 'reason_pattern' in task 't': '^(INC' is not a valid extended regular "
	    "expression: Unmatched ( or \\(\n"); /* glibc's regerror text */
	expect_task_errors(TASK_OK "\n  reason_pattern = \"\";",
	    "p.conf:5: 'reason_pattern' in task 't': is empty\n");
}

/* A description is quoted in reasons and logs: one line of text. */
static void
test_err_description(void **state)
{
	expect_task_errors(TASK_OK "\n  description = \"two\nlines\";",
	    "p.conf:5: 'description' in task 't': holds a control character (a newline, a "
	    "tab, ...)\n");
	expect_task_errors(TASK_OK "\n  description = \"a\ttab\";",
	    "p.conf:5: 'description' in task 't': holds a control character (a newline, a "
	    "tab, ...)\n");
	task_ok(TASK_OK " description = \"PostgreSQL \\\"maintenance\\\"\";");
}

static void
test_err_command(void **state)
{
	expect_task_errors(TASK_OK "\n  command = \"restart-app\";",
	    "p.conf:5: 'command' in task 't': 'restart-app' is not an absolute path\n");
	expect_task_errors(TASK_OK "\n  command = \"/bin/echo\\nhi\";",
	    "p.conf:5: 'command' in task 't': holds a control character\n");
}

static void
test_err_nested_group(void **state)
{
	expect_errors(
	    "groups = {\n  leads = [ \"carol\" ];\n  dba = [ \"alice\", \"@leads\" ];\n};\n"
	    "tasks = ();\n",
	    "p.conf:3: 'dba' in groups: '@leads': nested groups are not supported\n");
}

static void
test_err_listed_twice(void **state)
{
	expect_errors("groups = { dba = [ \"alice\", \"%alice\",\n  \"alice\" ]; };\ntasks = ();\n",
	    "p.conf:2: 'dba' in groups: 'alice' is listed twice\n");
	expect_task_errors("name = \"t\"; requesters = [ \"@dba\", \"alice\",\n"
	                   "  \"@dba\" ]; hosts = [ \"@db\", \"db01.example.com\", \"@db\" ];\n"
	                   "  login_as = \"u\"; approvers = [ \"carol\", \"carol\" ];",
	    "p.conf:5: 'requesters' in task 't': '@dba' is listed twice\n"
	    "p.conf:5: 'hosts' in task 't': '@db' is listed twice\n"
	    "p.conf:6: 'approvers' in task 't': 'carol' is listed twice\n");
}

static void
test_err_when(void **state)
{
	expect_task_errors(TASK_OK " approvers = [ \"carol\", \"dave\" ];\n"
	                           "  when = ( { env = \"prd\"; approvals = 2; },\n"
	                           "    { sensitivity = \"high\"; max_ttl = \"5m\"; },\n"
	                           "    { env = \"prod\"; } );",
	    "p.conf:5: 'env' in when entry 1 in task 't': no hostgroup has env 'prd'\n"
	    "p.conf:6: 'sensitivity' in when entry 2 in task 't': no hostgroup has "
	    "sensitivity 'high'\n"
	    "p.conf:7: when entry 3 in task 't' sets neither approvals nor max_ttl\n");
	/* An entry with no condition would apply to every host: the task's
	 * own keys say that. */
	expect_task_errors(TASK_OK
	    " approvers = [ \"carol\", \"dave\" ];\n  when = ( { approvals = 2; } );",
	    "p.conf:5: when entry 1 in task 't' names neither env nor sensitivity (for every "
	    "host, set the task's own approvals or max_ttl)\n");
}

static void
test_err_break_glass(void **state)
{
	expect_task_errors(TASK_OK " break_glass = true; approvers = [ \"carol\" ];\n"
	                           "  approvals = 1;\n  require_reason = false;",
	    "p.conf:5: 'approvals' in task 't': a break_glass task issues without approvals\n"
	    "p.conf:6: 'require_reason' in task 't': a break_glass task always requires a "
	    "reason\n");
}

/* Everything wrong in a file is reported at once, in line order. */
static void
test_err_many(void **state)
{
	expect_errors("tasks = (\n"
	              "  { name = \"a\"; requesters = [ \"@nope\" ]; hosts = [ \"h\" ];\n"
	              "    login_as = \"u\"; max_ttl = \"1h\"; },\n"
	              "  { name = \"b\"; bogus = 1; hosts = [ \"h\" ]; login_as = \"u\";\n"
	              "    requesters = [ \"x\" ]; schedule = [ \"Mon 25:00-26:00\" ]; }\n"
	              ");\n"
	              "defaults = { max_ttl = \"20m\"; };\n"
	              "extra = true;\n",
	    "p.conf:2: 'requesters' in task 'a': undefined group '@nope'\n"
	    "p.conf:3: 'max_ttl' in task 'a': 1h is over the global max_ttl 20m\n"
	    "p.conf:4: unknown key 'bogus' in task 'b'\n"
	    "p.conf:5: 'schedule' in task 'b': bad schedule 'Mon 25:00-26:00': bad time: use "
	    "HH:MM from 00:00 to 24:00\n"
	    "p.conf:8: unknown key 'extra' at top level\n");
}

/* libconfig notes a list element's line after reading past it; a closing
 * bracket on a later line must not move the error there. */
static void
test_err_element_lines(void **state)
{
	expect_task_errors("name = \"t\"; login_as = \"u\"; hosts = [ \"@db\" ];\n"
	                   "  requesters = [\n"
	                   "    \"alice\",\n"
	                   "    \"@nope\"\n"
	                   "    # a comment\n"
	                   "\n"
	                   "  ];",
	    "p.conf:7: 'requesters' in task 't': undefined group '@nope'\n");
	expect_task_errors("name = \"t\"; login_as = \"u\"; hosts = [ \"@db\" ];\n"
	                   "  requesters = (\n"
	                   "    \"@nope\" // trailing\n"
	                   "  );",
	    "p.conf:6: 'requesters' in task 't': undefined group '@nope'\n");
}

/* ------------------------------------------------------------ files */

static void
expect_file_errors(const char *path, int want_r, const char *want)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	char *got;

	assert_int_equal(policy_load(path, &p, &errs), want_r);
	assert_null(p);
	got = policy_errors_format(&errs);
	assert_string_equal(got, want);
	free(got);
	policy_errors_clear(&errs);
}

static void
test_file_refused(void **state)
{
	const char *dir = *state;
	char *good = tu_path(dir, "good.conf"), *path, *want, *text;
	struct policy *p = NULL;
	size_t n;

	text = tu_read_file(EXAMPLE, &n);
	assert_non_null(text);
	assert_int_equal(tu_write_file(good, text, n, 0600), 0);
	assert_int_equal(policy_load(good, &p, NULL), EPH_OK);
	policy_free(p);

	/* Missing: the error names the file. */
	path = tu_path(dir, "missing.conf");
	assert_int_equal(
	    asprintf(&want, "%s: cannot read: No such file or directory\n", path) > 0, 1);
	expect_file_errors(path, EPH_ERR_IO, want);
	free(want);
	free(path);

	/* Group-writable. */
	path = tu_path(dir, "gw.conf");
	assert_int_equal(tu_write_file(path, text, n, 0620), 0);
	assert_int_equal(asprintf(&want,
	                     "%s: unsafe permissions: writable by group or others, "
	                     "or owned by someone other than root or the current user\n",
	                     path) > 0,
	    1);
	expect_file_errors(path, EPH_ERR_PERM, want);
	free(want);
	free(path);

	/* World-writable. */
	path = tu_path(dir, "ww.conf");
	assert_int_equal(tu_write_file(path, text, n, 0602), 0);
	assert_int_equal(asprintf(&want,
	                     "%s: unsafe permissions: writable by group or others, "
	                     "or owned by someone other than root or the current user\n",
	                     path) > 0,
	    1);
	expect_file_errors(path, EPH_ERR_PERM, want);
	free(want);
	free(path);

	/* A symlink to a good file is still refused. */
	path = tu_path(dir, "link.conf");
	assert_int_equal(symlink(good, path), 0);
	assert_int_equal(
	    asprintf(&want, "%s: is a symbolic link; refusing to follow it\n", path) > 0, 1);
	expect_file_errors(path, EPH_ERR_IO, want);
	free(want);
	free(path);

	/* A directory. */
	assert_int_equal(asprintf(&want, "%s: is not a regular file\n", dir) > 0, 1);
	expect_file_errors(dir, EPH_ERR_IO, want);
	free(want);

	/* A NUL byte would hide the rest of the file from libconfig. */
	path = tu_path(dir, "nul.conf");
	assert_int_equal(tu_write_file(path, "tasks = ();\0x = 1;\n", 20, 0600), 0);
	assert_int_equal(asprintf(&want, "%s: contains a NUL byte\n", path) > 0, 1);
	expect_file_errors(path, EPH_ERR_FORMAT, want);
	free(want);
	free(path);

	/* @include in a file. */
	path = tu_path(dir, "inc.conf");
	assert_int_equal(
	    tu_write_file(path, "tasks = ();\n @include \"good.conf\"\n", 33, 0600), 0);
	assert_int_equal(asprintf(&want, "%s:2: @include is not allowed\n", path) > 0, 1);
	expect_file_errors(path, EPH_ERR_FORMAT, want);
	free(want);
	free(path);

	/* Errors in a file carry its path. */
	path = tu_path(dir, "bad.conf");
	assert_int_equal(tu_write_file(path, "tasks = ();\nx = 1;\n", 18, 0644), 0);
	assert_int_equal(asprintf(&want, "%s:2: unknown key 'x' at top level\n", path) > 0, 1);
	expect_file_errors(path, EPH_ERR_FORMAT, want);
	free(want);
	free(path);

	free(text);
	free(good);
}

static void
test_file_too_large(void **state)
{
	const char *dir = *state;
	char *path = tu_path(dir, "big.conf"), *want, *d;
	size_t n = POLICY_MAX_FILE_SIZE + 1;

	d = malloc(n);
	assert_non_null(d);
	memset(d, '#', n);
	assert_int_equal(tu_write_file(path, d, n, 0600), 0);
	assert_int_equal(
	    asprintf(&want, "%s: larger than %u bytes\n", path, POLICY_MAX_FILE_SIZE) > 0, 1);
	expect_file_errors(path, EPH_ERR_TOOLARGE, want);
	free(want);
	free(d);
	free(path);
}

static void
test_errors_api(void **state)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	char *s;

	/* Errors append to what the caller already holds. */
	assert_int_equal(policy_load_string("x = 1;", "a.conf", &p, &errs), EPH_ERR_FORMAT);
	assert_int_equal(
	    policy_load_string("tasks = ();\ny = 1;", NULL, &p, &errs), EPH_ERR_FORMAT);
	assert_int_equal(errs.n, 3);
	s = policy_errors_format(&errs);
	assert_string_equal(s,
	    "a.conf: missing 'tasks' at top level\n"
	    "a.conf:1: unknown key 'x' at top level\n"
	    "<string>:2: unknown key 'y' at top level\n");
	free(s);
	policy_errors_clear(&errs);
	policy_errors_clear(&errs);
	assert_null(errs.v);
	s = policy_errors_format(&errs);
	assert_string_equal(s, "");
	free(s);
	/* No error list wanted: still refused. */
	assert_int_equal(policy_load_string("x = 1;", "a.conf", &p, NULL), EPH_ERR_FORMAT);
	assert_null(p);
	assert_int_equal(policy_load_string(NULL, "a.conf", &p, NULL), EPH_ERR_INVAL);
	assert_int_equal(policy_load_string("tasks = ();", "a.conf", NULL, NULL), EPH_ERR_INVAL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_model),
	    cmocka_unit_test(test_example_string),
	    cmocka_unit_test(test_defaults_and_options),
	    cmocka_unit_test(test_err_syntax),
	    cmocka_unit_test(test_err_include),
	    cmocka_unit_test(test_err_unknown_key),
	    cmocka_unit_test(test_err_types),
	    cmocka_unit_test(test_err_values),
	    cmocka_unit_test(test_err_undefined_group),
	    cmocka_unit_test(test_err_no_requesters),
	    cmocka_unit_test(test_err_ttl),
	    cmocka_unit_test(test_err_duplicate_task),
	    cmocka_unit_test(test_err_cidr),
	    cmocka_unit_test(test_err_cidr_every_entry),
	    cmocka_unit_test(test_err_wildcard_labels),
	    cmocka_unit_test(test_hostgroup_overlaps),
	    cmocka_unit_test(test_warn_attr_case),
	    cmocka_unit_test(test_valid_until),
	    cmocka_unit_test(test_warn_break_glass_schedule),
	    cmocka_unit_test(test_err_schedule),
	    cmocka_unit_test(test_err_hosts),
	    cmocka_unit_test(test_err_approvals),
	    cmocka_unit_test(test_err_names),
	    cmocka_unit_test(test_login_as_list),
	    cmocka_unit_test(test_err_command),
	    cmocka_unit_test(test_err_description),
	    cmocka_unit_test(test_deny_and_reason_pattern),
	    cmocka_unit_test(test_approval_clauses),
	    cmocka_unit_test(test_err_unapprovable),
	    cmocka_unit_test(test_load_big_group_fast),
	    cmocka_unit_test(test_err_nested_group),
	    cmocka_unit_test(test_err_listed_twice),
	    cmocka_unit_test(test_err_when),
	    cmocka_unit_test(test_err_break_glass),
	    cmocka_unit_test(test_err_integer_wrap),
	    cmocka_unit_test(test_err_many),
	    cmocka_unit_test(test_err_element_lines),
	    cmocka_unit_test_setup_teardown(test_file_refused, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_file_too_large, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_errors_api),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

/* Tests for sshca policy check / explain and sshca check-config: the built
 * binary run in temp dirs on the example policy and on broken files. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"

#define SSHCA tu_sshca()
#define EXAMPLE TOP_SRCDIR "/packaging/examples/policy.conf"
#define EXAMPLE_CA TOP_SRCDIR "/packaging/examples/ca.conf"

/* Mon 2026-11-23 10:00 UTC and 23:00 UTC, Sat 2026-11-28 10:00 UTC. */
#define MONDAY_10 "2026-11-23T10:00"
#define MONDAY_23 "2026-11-23T23:00:00"
#define SATURDAY_10 "2026-11-28T10:00"
#define MONDAY_10_EPOCH "1795428000"

struct fx {
	char *dir;
};

/* Run a shell command inside the fixture's dir. */
#define run(f, out, ...) tu_run_in((f)->dir, (out), __VA_ARGS__)

static void
write_in(struct fx *f, const char *name, const char *text, int mode)
{
	char *p = tu_path(f->dir, "%s", name);

	assert_int_equal(tu_write_file(p, text, strlen(text), mode), 0);
	free(p);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = tu_mkdtemp();
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

/* A CA key "ca" and a policy copy "policy.conf" for check-config. */
static int
setup_ca(void **state)
{
	struct fx *f;
	char *out = NULL;

	setup(state);
	f = *state;
	if (run(f, &out, "%s init --key ca && cp '%s' policy.conf && chmod 644 policy.conf", SSHCA,
	        EXAMPLE) != 0)
		fail_msg("setup: %s", out);
	free(out);
	return 0;
}

/* ca.conf in the fixture dir: ca_key and policy there, then extra lines. */
static void
write_caconf(struct fx *f, const char *extra)
{
	char *text = NULL;

	if (asprintf(&text, "ca_key = \"%s/ca\";\npolicy = \"%s/policy.conf\";\n%s", f->dir, f->dir,
	        extra) < 0)
		fail_msg("out of memory");
	write_in(f, "ca.conf", text, 0644);
	free(text);
}

/* ------------------------------------------------------------ help */

static void
test_help(void **state)
{
	static const struct {
		const char *args;
		const char *want;
	} cases[] = {
	    {"policy --help", "usage: sshca policy check "},
	    {"help policy", "usage: sshca policy check "},
	    {"policy check --help", "usage: sshca policy check [--config CACONF] [FILE...]"},
	    {"policy explain --help",
	        "usage: sshca policy explain [-f POLICY | -c CACONF] --as USER"},
	    {"policy explain -h --as x", "usage: sshca policy explain "},
	    {"check-config --help", "usage: sshca check-config [-f CACONF] [-T]"},
	    {"help check-config", "usage: sshca check-config "},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(f, &out, "%s %s", SSHCA, cases[i].args), 0);
		if (strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg(
			    "sshca %s: want \"%s\" first:\n%s", cases[i].args, cases[i].want, out);
		free(out);
	}
	/* The exit status of explain is documented where it is used. */
	assert_int_equal(run(f, &out, "%s policy explain --help", SSHCA), 0);
	tu_assert_contains(out, "Exit status: 0 the request is allowed");
	free(out);
	/* Both commands are listed. */
	assert_int_equal(run(f, &out, "%s help", SSHCA), 0);
	tu_assert_contains(out, "  policy ");
	tu_assert_contains(out, "  check-config ");
	free(out);
}

static void
test_usage_errors(void **state)
{
	static const char *cases[] = {
	    "policy",
	    "policy frob",
	    "policy check --bogus x",
	    "policy check --config a.conf policy.conf",
	    "policy explain -f " EXAMPLE " --task db-maint --host db01.example.com",
	    "policy explain -f " EXAMPLE " --as alice --host db01.example.com",
	    "policy explain -f " EXAMPLE " --as alice --task db-maint",
	    "policy explain -f " EXAMPLE " --as a --as b --task db-maint --host h",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --ttl 5x",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --ttl 0",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --at 2026-11-23",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --at 2026-02-30T10:00",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --at 2026-11-23T25:00",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --at @-5",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --at @x",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --from 10.0.0.0/8",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --from db01",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --groups a,,b",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --approval :g",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h --approval bob:g,",
	    "policy explain -f " EXAMPLE
	    " --as alice --task t --host h --reason \"$(printf 'a\\nb')\"",
	    "policy explain -f " EXAMPLE " -c ca.conf --as alice --task t --host h",
	    "policy explain -f " EXAMPLE " --as alice --task t --host h extra",
	    "check-config --frob",
	    "check-config extra",
	    "check-config -f a -f b",
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = run(f, &out, "TZ=UTC %s %s", SSHCA, cases[i]);
		if (rc != 2 || strstr(out, "usage: sshca ") == NULL)
			fail_msg(
			    "sshca %s: exit %d, want 2 and a usage line:\n%s", cases[i], rc, out);
		free(out);
	}
	/* Too many hosts is a usage error, before anything is read. */
	{
		char cmd[8192] = "";
		int n;

		for (n = 0; n < 65; n++)
			strcat(cmd, " --host h");
		rc = run(f, &out, "%s policy explain -f " EXAMPLE " --as a --task t --groups ''%s",
		    SSHCA, cmd);
		assert_int_equal(rc, 2);
		tu_assert_contains(out, "more than 64 --host");
		free(out);
	}
	/* So are too many approvals, saying what the limit is. */
	{
		static char cmd[1025 * 16] = "";
		int n;

		for (n = 0; n < 1025; n++)
			strcat(cmd, " --approval b:");
		rc = run(f, &out,
		    "%s policy explain -f " EXAMPLE " --as a --task t --host h --groups ''%s",
		    SSHCA, cmd);
		assert_int_equal(rc, 2);
		tu_assert_contains(out, "more than 1024 --approval options");
		free(out);
	}
}

/* ----------------------------------------------------------- check */

static void
test_check_example(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, &out, "%s policy check %s 2>&1 >/dev/null", SSHCA, EXAMPLE), 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(run(f, &out, "%s policy check %s", SSHCA, EXAMPLE), 0);
	assert_string_equal(out, EXAMPLE ": OK: 3 tasks, 2 groups, 3 hostgroups\n");
	free(out);
	/* Several files: each gets its line; one bad one fails the run. */
	write_in(f, "bad.conf", "tasks = 5;\n", 0644);
	assert_int_equal(
	    run(f, &out, "%s policy check %s bad.conf %s", SSHCA, EXAMPLE, EXAMPLE), 1);
	tu_assert_contains(out, EXAMPLE ": OK: 3 tasks");
	tu_assert_contains(out, "bad.conf:1: ");
	free(out);
	/* The policy ca.conf names. */
	write_in(f, "ca.conf", "ca_key = \"/nonexistent/ca\";\npolicy = \"" EXAMPLE "\";\n", 0644);
	assert_int_equal(run(f, &out, "%s policy check --config ca.conf", SSHCA), 0);
	assert_string_equal(out, EXAMPLE ": OK: 3 tasks, 2 groups, 3 hostgroups\n");
	free(out);
}

/*
 * A small valid policy whose line 5 is the task, so each broken variant
 * below knows which line its error must name.
 */
#define BASE_HEAD                                                                                  \
	"defaults = { max_ttl = \"30m\"; };\n"                                                     \
	"groups = { dba = [ \"alice\", \"%dbadmins\" ]; };\n"                                      \
	"hostgroups = { db = { hosts = [ \"db01.example.com\" ]; env = \"prod\"; }; };\n"          \
	"tasks = (\n"
#define TASK_START "  { name = \"t1\"; hosts = [ \"@db\" ]; login_as = \"postgres\"; "
#define TASK_END " }\n"

static void
test_check_errors(void **state)
{
	static const struct {
		const char *what;
		const char *text;
		const char *want; /* after "pol.conf:"; NULL: valid */
	} cases[] = {
	    {"the base is valid", BASE_HEAD TASK_START "requesters = [ \"@dba\" ];" TASK_END ");\n",
	        NULL},
	    {"unknown key",
	        BASE_HEAD TASK_START "requesters = [ \"@dba\" ]; colour = \"red\";" TASK_END ");\n",
	        "5: unknown key 'colour'"},
	    {"unknown top-level key", "colour = \"red\";\n" BASE_HEAD ");\n",
	        "1: unknown key 'colour'"},
	    {"wrong type",
	        BASE_HEAD TASK_START "requesters = [ \"@dba\" ]; approvals = \"two\";" TASK_END
	                             ");\n",
	        "5: 'approvals' in task 't1': expected an integer"},
	    {"undefined group",
	        BASE_HEAD TASK_START "requesters = [ \"@nobody\" ];" TASK_END ");\n",
	        "5: 'requesters' in task 't1': undefined group '@nobody'"},
	    {"task without requesters", BASE_HEAD TASK_START TASK_END ");\n",
	        "5: task 't1' has no requesters"},
	    {"task with empty requesters", BASE_HEAD TASK_START "requesters = [ ];" TASK_END ");\n",
	        "5: 'requesters' in task 't1': the list is empty"},
	    {"TTL over the global max",
	        BASE_HEAD TASK_START "requesters = [ \"@dba\" ]; max_ttl = \"2h\";" TASK_END ");\n",
	        "5: 'max_ttl' in task 't1': 2h is over the global max_ttl 30m"},
	    {"duplicate task name",
	        BASE_HEAD TASK_START "requesters = [ \"@dba\" ];"
	                             " },\n" TASK_START "requesters = [ \"@dba\" ];" TASK_END
	                             ");\n",
	        "6: duplicate task name 't1' (first at line 5)"},
	    {"bad CIDR",
	        BASE_HEAD TASK_START
	        "requesters = [ \"@dba\" ]; source_address = \"10.0.0.300/8\";" TASK_END ");\n",
	        "5: 'source_address' in task 't1': bad CIDR list '10.0.0.300/8'"},
	    {"a mapped network",
	        BASE_HEAD TASK_START "requesters = [ \"@dba\" ];\n"
	                             "    source_address = \"::ffff:192.0.2.0/120\";" TASK_END
	                             ");\n",
	        "6: 'source_address' in task 't1': bad CIDR list '::ffff:192.0.2.0/120': an "
	        "IPv4-mapped IPv6 network, which sshd never matches against an IPv4 client; "
	        "write 192.0.2.0/24"},
	    {"bad schedule",
	        BASE_HEAD TASK_START
	        "requesters = [ \"@dba\" ];\n    schedule = [ \"Mon-Fry 06:00-22:00\" ];" TASK_END
	        ");\n",
	        "6: 'schedule' in task 't1': bad schedule 'Mon-Fry 06:00-22:00'"},
	    {"syntax error", BASE_HEAD TASK_START "requesters = [ \"@dba\" ;" TASK_END ");\n",
	        "5: syntax error"},
	};
	struct fx *f = *state;
	char *out = NULL, want[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_in(f, "pol.conf", cases[i].text, 0644);
		rc = run(f, &out, "%s policy check pol.conf", SSHCA);
		if (cases[i].want == NULL) {
			if (rc != 0)
				fail_msg("%s: exit %d:\n%s", cases[i].what, rc, out);
			free(out);
			continue;
		}
		/* Exactly that one error first, then the count. */
		snprintf(want, sizeof(want), "pol.conf:%s", cases[i].want);
		if (rc != 1 || strncmp(out, want, strlen(want)) != 0 ||
		    strstr(out, "\nsshca policy check: pol.conf: 1 error\n") == NULL ||
		    strstr(out, ": OK") != NULL)
			fail_msg(
			    "%s: exit %d, want 1 and \"%s\":\n%s", cases[i].what, rc, want, out);
		free(out);
	}
}

static void
test_check_reports_all_errors(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	write_in(f, "pol.conf",
	    BASE_HEAD TASK_START "requesters = [ \"@nobody\" ]; colour = 1;\n"
	                         "    schedule = [ \"Mon-Fry 06:00-22:00\" ];" TASK_END ");\n",
	    0644);
	assert_int_equal(run(f, &out, "%s policy check pol.conf", SSHCA), 1);
	tu_assert_contains(
	    out, "pol.conf:5: 'requesters' in task 't1': undefined group '@nobody'\n");
	tu_assert_contains(out, "pol.conf:5: unknown key 'colour'");
	tu_assert_contains(out, "pol.conf:6: 'schedule' in task 't1': bad schedule 'Mon-Fry");
	tu_assert_contains(out, "sshca policy check: pol.conf: 3 errors");
	free(out);
}

static void
test_check_file_problems(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, &out, "%s policy check missing.conf", SSHCA), 1);
	tu_assert_contains(out, "missing.conf");
	tu_assert_not_contains(out, ": OK");
	free(out);
	/* A policy others can write decides nothing. */
	assert_int_equal(run(f, NULL, "cp '%s' pol.conf && chmod 666 pol.conf", EXAMPLE), 0);
	assert_int_equal(run(f, &out, "%s policy check pol.conf", SSHCA), 1);
	tu_assert_contains(out, "pol.conf");
	tu_assert_not_contains(out, ": OK");
	free(out);
	/* Nor does one reached through a symbolic link. */
	assert_int_equal(run(f, NULL, "chmod 644 pol.conf && ln -s pol.conf link.conf"), 0);
	assert_int_equal(run(f, &out, "%s policy check link.conf", SSHCA), 1);
	tu_assert_not_contains(out, ": OK");
	free(out);
	assert_int_equal(run(f, &out, "%s policy check pol.conf", SSHCA), 0);
	free(out);
	/* A FIFO (or /dev/zero) is refused at once, not read for ever. */
	assert_int_equal(run(f, NULL, "mkfifo fifo.conf"), 0);
	assert_int_equal(run(f, &out, "timeout 10 %s policy check fifo.conf", SSHCA), 1);
	tu_assert_contains(out, "fifo.conf: is not a regular file");
	free(out);
	assert_int_equal(run(f, &out, "timeout 10 %s check-config -f fifo.conf", SSHCA), 1);
	tu_assert_contains(out, "fifo.conf: is not a regular file");
	free(out);
	assert_int_equal(run(f, &out, "timeout 10 %s policy check /dev/zero", SSHCA), 1);
	tu_assert_contains(out, "/dev/zero: is not a regular file");
	free(out);
}

/* --------------------------------------------------------- explain */

/* explain on the example policy, in UTC, with the given arguments. */
static int __attribute__((format(printf, 3, 4)))
explain(struct fx *f, char **out, const char *fmt, ...)
{
	char *args = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&args, fmt, ap) < 0)
		fail_msg("out of memory");
	va_end(ap);
	rc = run(f, out, "TZ=UTC %s policy explain -f %s %s", SSHCA, EXAMPLE, args);
	free(args);
	return rc;
}

static void
test_explain_pending_prod(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* db01 is prod/high: two approvals, at most 10m, bound to alice's
	 * address; the 1h asked for is clamped. */
	assert_int_equal(
	    explain(f, &out,
	        "--as alice --groups '' --task db-maint --host db01.example.com "
	        "--ttl 1h --from 192.0.2.10 --reason 'INC-4711 vacuum' --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "task:            db-maint\n");
	tu_assert_contains(out, "requester:       alice\n");
	tu_assert_contains(out, "groups:          none\n");
	tu_assert_contains(out, "hosts:           db01.example.com\n");
	tu_assert_contains(out, "at:              Mon 2026-11-23T10:00:00 UTC\n");
	tu_assert_contains(out, "ttl:             10m\n");
	tu_assert_contains(out, "approvals:       2 required, 0 valid\n");
	tu_assert_contains(out, "approver_sets:   @leads\n");
	tu_assert_contains(out, "principals:      eph:db-maint@db01.example.com\n");
	tu_assert_contains(out, "login_as:        postgres\n");
	tu_assert_contains(out, "force-command:   none\n");
	tu_assert_contains(out, "source-address:  192.0.2.10\n");
	tu_assert_contains(out, "extensions:      permit-pty\n");
	tu_assert_contains(out, "max_logins:      1\n");
	tu_assert_contains(out, "break_glass:     no\n");
	tu_assert_contains(out, "review_required: no\n");
	tu_assert_contains(out, "pending_timeout: 1h\n");
	tu_assert_contains(out, "policy:          " EXAMPLE "\n");
	tu_assert_contains(out, "reasons:\n");
	tu_assert_contains(out, "  [allow] task: ");
	tu_assert_contains(out, "  [allow] requesters: ");
	tu_assert_contains(out, "  [allow] hosts: ");
	tu_assert_contains(out, "  [allow] reason: ");
	tu_assert_contains(out, "  [clamp] ttl: ");
	tu_assert_contains(out, "  [allow] source_address: ");
	tu_assert_not_contains(out, "[deny]");
	free(out);

	/* Without --from the address cannot be bound: denied. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db01.example.com "
	                     "--reason x --at " MONDAY_10),
	    1);
	tu_assert_contains(out, "result:          deny\n");
	tu_assert_contains(out, "  [deny] source_address: ");
	free(out);

	/* Membership through the Unix group %dbadmins counts too. */
	assert_int_equal(
	    explain(f, &out,
	        "--as erin --groups users,dbadmins --task db-maint "
	        "--host db01.example.com --from 192.0.2.10 --reason x --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "groups:          users, dbadmins\n");
	free(out);
	/* Not a member at all: denied, with the rule named. */
	assert_int_equal(
	    explain(f, &out,
	        "--as mallory --groups users --task db-maint "
	        "--host db01.example.com --from 192.0.2.10 --reason x --at " MONDAY_10),
	    1);
	tu_assert_contains(out, "result:          deny\n");
	tu_assert_contains(out, "  [deny] requesters: ");
	free(out);
}

static void
test_explain_issue_stage(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* Staging needs no approval: issued now, for the task's default. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db-stage.example.com "
	                     "--from 192.0.2.10 --reason INC-1 --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "result:          issue\n");
	tu_assert_contains(out, "approvals:       0 required, 0 valid\n");
	tu_assert_contains(out, "ttl:             10m\n");
	tu_assert_contains(out, "principals:      eph:db-maint@db-stage.example.com\n");
	free(out);
	/* db01 and db-stage together: the stricter conditions of db01. */
	assert_int_equal(
	    explain(f, &out,
	        "--as alice --groups '' --task db-maint --host db-stage.example.com "
	        "--host db01.example.com --from 192.0.2.10 --reason INC-1 --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "approvals:       2 required, 0 valid\n");
	tu_assert_contains(out, "hosts:           db-stage.example.com, db01.example.com\n");
	free(out);
	/* A hostgroup asked for by name gets a group principal. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host @stage "
	                     "--from 192.0.2.10 --reason INC-1 --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "principals:      eph:db-maint@group:stage\n");
	free(out);
	/* A host outside the task. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host web01.example.com "
	                     "--from 192.0.2.10 --reason INC-1 --at " MONDAY_10),
	    1);
	tu_assert_contains(out, "  [deny] hosts: ");
	free(out);
	/* An unknown task. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task no-such-task --host db01.example.com "
	                     "--at " MONDAY_10),
	    1);
	tu_assert_contains(out, "result:          deny\n");
	tu_assert_contains(out, "  [deny] task: ");
	free(out);
}

static void
test_explain_approvals(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* Two leads approve: issued. The requester's own approval and a
	 * repeat never count. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db01.example.com "
	                     "--from 192.0.2.10 --reason x --at " MONDAY_10
	                     " --approval carol: --approval dave:"),
	    0);
	tu_assert_contains(out, "result:          issue\n");
	tu_assert_contains(out, "approvals:       2 required, 2 valid\n");
	free(out);
	assert_int_equal(explain(f, &out,
	                     "--as carol --groups dbadmins --task db-maint --host db01.example.com "
	                     "--from 192.0.2.10 --reason x --at " MONDAY_10
	                     " --approval carol: --approval dave: --approval dave:"),
	    0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "approvals:       2 required, 1 valid\n");
	free(out);
	/* Someone outside the approver sets does not count either. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db01.example.com "
	                     "--from 192.0.2.10 --reason x --at " MONDAY_10
	                     " --approval bob:dbadmins --approval dave:"),
	    0);
	tu_assert_contains(out, "approvals:       2 required, 1 valid\n");
	free(out);
}

static void
test_explain_schedule(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* Inside Mon-Fri 06:00-22:00: pending one approval, no pty, the
	 * forced command. */
	assert_int_equal(explain(f, &out,
	                     "--as olivia --groups ops --task restart-app "
	                     "--host app1.legacy.example.com --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "approvals:       1 required, 0 valid\n");
	tu_assert_contains(out, "force-command:   /usr/local/sbin/restart-app\n");
	tu_assert_contains(out, "extensions:      none\n");
	tu_assert_contains(out, "ttl:             5m\n");
	tu_assert_contains(out, "login_as:        appsvc\n");
	tu_assert_contains(out, "  [allow] schedule: ");
	free(out);
	/* Monday 23:00 and Saturday: outside, denied with the schedule. */
	assert_int_equal(explain(f, &out,
	                     "--as olivia --groups ops --task restart-app "
	                     "--host app1.legacy.example.com --at " MONDAY_23),
	    1);
	tu_assert_contains(out, "result:          deny\n");
	tu_assert_contains(out, "  [deny] schedule: ");
	tu_assert_contains(out, "at:              Mon 2026-11-23T23:00:00 UTC\n");
	free(out);
	assert_int_equal(explain(f, &out,
	                     "--as olivia --groups ops --task restart-app "
	                     "--host app1.legacy.example.com --at " SATURDAY_10),
	    1);
	tu_assert_contains(out, "  [deny] schedule: ");
	free(out);
	/* The schedule is local time: 10:00 UTC is 05:00 in New York,
	 * before the window opens there. */
	if (access("/usr/share/zoneinfo/America/New_York", R_OK) == 0) {
		assert_int_equal(
		    run(f, &out,
		        "TZ=America/New_York %s policy explain -f %s --as olivia "
		        "--groups ops --task restart-app --host app1.legacy.example.com "
		        "--at @" MONDAY_10_EPOCH,
		        SSHCA, EXAMPLE),
		    1);
		tu_assert_contains(out, "at:              Mon 2026-11-23T05:00:00 EST\n");
		tu_assert_contains(out, "  [deny] schedule: ");
		free(out);
		/* And --at without @ is New York time too. */
		assert_int_equal(
		    run(f, &out,
		        "TZ=America/New_York %s policy explain -f %s --as olivia "
		        "--groups ops --task restart-app --host app1.legacy.example.com "
		        "--at " MONDAY_10 " --json 2>/dev/null",
		        SSHCA, EXAMPLE),
		    0);
		free(out);
	}
	/* @EPOCH is the same instant whatever TZ says. */
	assert_int_equal(explain(f, &out,
	                     "--as olivia --groups ops --task restart-app "
	                     "--host app1.legacy.example.com --at @" MONDAY_10_EPOCH),
	    0);
	tu_assert_contains(out, "at:              Mon 2026-11-23T10:00:00 UTC\n");
	free(out);
	/* Several reasons at once: wrong requester and outside schedule. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task restart-app "
	                     "--host app1.legacy.example.com --at " SATURDAY_10),
	    1);
	tu_assert_contains(out, "  [deny] requesters: ");
	tu_assert_contains(out, "  [deny] schedule: ");
	free(out);
}

static void
test_explain_break_glass(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(explain(f, &out,
	                     "--as carol --groups '' --task break-glass --host db01.example.com "
	                     "--at " MONDAY_10),
	    1);
	tu_assert_contains(out, "result:          deny\n");
	tu_assert_contains(out, "  [deny] reason: ");
	free(out);
	assert_int_equal(explain(f, &out,
	                     "--as carol --groups '' --task break-glass --host db01.example.com "
	                     "--reason 'INC-9 db down' --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "result:          issue\n");
	tu_assert_contains(out, "approvals:       0 required, 0 valid\n");
	tu_assert_contains(out, "break_glass:     yes\n");
	tu_assert_contains(out, "review_required: yes\n");
	tu_assert_contains(out, "login_as:        root\n");
	tu_assert_contains(out, "  [note] break_glass: ");
	free(out);
}

/* The value of key in obj, failing the test when absent. */
static json_t *
jget(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		fail_msg("no \"%s\" in the JSON", key);
	return v;
}

static void
test_explain_json(void **state)
{
	static const char *keys[] = {"result", "task", "requester", "ttl", "approvals",
	    "principals", "login_as", "critical_options", "extensions", "max_logins", "break_glass",
	    "review_required", "pending_timeout", "reasons"};
	struct fx *f = *state;
	json_error_t jerr;
	json_t *root, *a, *r;
	char *out = NULL;
	size_t i, nclamp = 0;

	assert_int_equal(
	    explain(f, &out,
	        "--as alice --groups '' --task db-maint --host db01.example.com "
	        "--ttl 1h --from 192.0.2.10 --reason x --at " MONDAY_10 " --json 2>/dev/null"),
	    0);
	if ((root = json_loads(out, 0, &jerr)) == NULL)
		fail_msg("not JSON (%s):\n%s", jerr.text, out);
	free(out);
	assert_true(json_is_object(root));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		jget(root, keys[i]);
	assert_int_equal(json_object_size(root), sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(json_string_value(jget(root, "result")), "pending");
	assert_string_equal(json_string_value(jget(root, "task")), "db-maint");
	assert_string_equal(json_string_value(jget(root, "requester")), "alice");
	assert_int_equal(json_integer_value(jget(root, "ttl")), 600);
	a = jget(root, "approvals");
	assert_int_equal(json_integer_value(jget(a, "required")), 2);
	assert_int_equal(json_integer_value(jget(a, "valid")), 0);
	assert_int_equal(json_array_size(jget(a, "approver_sets")), 1);
	assert_string_equal(
	    json_string_value(json_array_get(jget(a, "approver_sets"), 0)), "@leads");
	assert_int_equal(json_array_size(jget(root, "principals")), 1);
	assert_string_equal(json_string_value(json_array_get(jget(root, "principals"), 0)),
	    "eph:db-maint@db01.example.com");
	assert_string_equal(json_string_value(jget(root, "login_as")), "postgres");
	a = jget(root, "critical_options");
	assert_string_equal(json_string_value(jget(a, "source-address")), "192.0.2.10");
	assert_null(json_object_get(a, "force-command"));
	assert_int_equal(json_array_size(jget(root, "extensions")), 1);
	assert_string_equal(
	    json_string_value(json_array_get(jget(root, "extensions"), 0)), "permit-pty");
	assert_int_equal(json_integer_value(jget(root, "max_logins")), 1);
	assert_true(json_is_false(jget(root, "break_glass")));
	assert_true(json_is_false(jget(root, "review_required")));
	assert_int_equal(json_integer_value(jget(root, "pending_timeout")), 3600);
	a = jget(root, "reasons");
	assert_true(json_array_size(a) >= 5);
	for (i = 0; i < json_array_size(a); i++) {
		r = json_array_get(a, i);
		assert_int_equal(json_object_size(r), 4);
		assert_true(json_is_string(jget(r, "kind")));
		assert_true(json_is_string(jget(r, "rule")));
		assert_true(json_is_string(jget(r, "text")));
		assert_true(json_is_integer(jget(r, "line")));
		assert_true(json_integer_value(jget(r, "line")) >= 0);
		if (strcmp(json_string_value(jget(r, "kind")), "clamp") == 0) {
			assert_string_equal(json_string_value(jget(r, "rule")), "ttl");
			assert_true(json_integer_value(jget(r, "line")) > 0);
			nclamp++;
		}
		assert_string_not_equal(json_string_value(jget(r, "kind")), "deny");
	}
	assert_int_equal(nclamp, 1);
	json_decref(root);

	/* A denial is JSON too, with exit 1; a break-glass issue says so. */
	assert_int_equal(explain(f, &out,
	                     "--as carol --groups '' --task break-glass --host db01.example.com "
	                     "--reason 'INC-9' --at " MONDAY_10 " --json 2>/dev/null"),
	    0);
	assert_non_null(root = json_loads(out, 0, &jerr));
	free(out);
	assert_string_equal(json_string_value(jget(root, "result")), "issue");
	assert_true(json_is_true(jget(root, "break_glass")));
	assert_true(json_is_true(jget(root, "review_required")));
	json_decref(root);
	assert_int_equal(
	    explain(f, &out,
	        "--as olivia --groups ops --task restart-app "
	        "--host app1.legacy.example.com --at " SATURDAY_10 " --json 2>/dev/null"),
	    1);
	assert_non_null(root = json_loads(out, 0, &jerr));
	free(out);
	assert_string_equal(json_string_value(jget(root, "result")), "deny");
	assert_true(json_is_object(jget(root, "critical_options")));
	a = jget(root, "reasons");
	for (i = 0, nclamp = 0; i < json_array_size(a); i++) {
		r = json_array_get(a, i);
		if (strcmp(json_string_value(jget(r, "kind")), "deny") == 0 &&
		    strcmp(json_string_value(jget(r, "rule")), "schedule") == 0)
			nclamp++;
	}
	assert_int_equal(nclamp, 1);
	json_decref(root);
	/* A forced command is a critical option. */
	assert_int_equal(
	    explain(f, &out,
	        "--as olivia --groups ops --task restart-app "
	        "--host app1.legacy.example.com --at " MONDAY_10 " --json 2>/dev/null"),
	    0);
	assert_non_null(root = json_loads(out, 0, &jerr));
	free(out);
	assert_string_equal(json_string_value(jget(root, "result")), "pending");
	a = jget(root, "critical_options");
	assert_int_equal(json_object_size(a), 1);
	assert_string_equal(
	    json_string_value(jget(a, "force-command")), "/usr/local/sbin/restart-app");
	assert_int_equal(json_array_size(jget(root, "extensions")), 0);
	json_decref(root);

	/* Bytes that are not UTF-8 in a name still give valid JSON (a
	 * requester name cannot hold them: a task name can be asked for). */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task \"$(printf 'db\\377maint')\" "
	                     "--host db01.example.com --at " MONDAY_10 " --json 2>/dev/null"),
	    1);
	if ((root = json_loads(out, 0, &jerr)) == NULL)
		fail_msg("not JSON (%s):\n%s", jerr.text, out);
	free(out);
	assert_string_equal(json_string_value(jget(root, "task")), "db\xef\xbf\xbdmaint");
	json_decref(root);
}

/* --login-as picks one of the task's accounts; any other is a denial. */
static void
test_explain_login_as(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db-stage.example.com "
	                     "--from 192.0.2.10 --reason x --at " MONDAY_10),
	    0);
	tu_assert_contains(out, "login_as:        postgres\n");
	free(out);
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db-stage.example.com "
	                     "--from 192.0.2.10 --reason x --at " MONDAY_10 " --login-as barman"),
	    0);
	tu_assert_contains(out, "result:          issue\n");
	tu_assert_contains(out, "login_as:        barman\n");
	tu_assert_contains(out, "  [allow] login_as: logs in as barman");
	free(out);
	assert_int_equal(
	    explain(f, &out,
	        "--as alice --groups '' --task db-maint --host db-stage.example.com "
	        "--from 192.0.2.10 --reason x --at " MONDAY_10 " --login-as barman --json"),
	    0);
	tu_assert_contains(out, "\"login_as\": \"barman\"");
	free(out);
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db-stage.example.com "
	                     "--from 192.0.2.10 --reason x --at " MONDAY_10 " --login-as root"),
	    1);
	tu_assert_contains(out, "result:          deny\n");
	tu_assert_contains(out,
	    "  [deny] login_as: task db-maint does not allow logging in as root "
	    "(login_as: postgres, barman)");
	free(out);
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host h "
	                     "--login-as a --login-as b"),
	    2);
	free(out);
}

/* Requester and approvers are resolved through NSS to their accounts
 * (root, daemon and nobody exist everywhere). */
static void
test_explain_identities(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	write_in(f, "pol.conf",
	    "tasks = ( { name = \"ops\"; requesters = [ \"root\", \"daemon\" ];\n"
	    "  approvers = [ \"root\", \"daemon\", \"nobody\" ]; approvals = 2;\n"
	    "  hosts = [ \"*.example.com\" ]; login_as = \"root\"; } );\n",
	    0644);
#define EXPLAIN_OPS "%s policy explain -f pol.conf --task ops --host a.example.com "
	assert_int_equal(
	    run(f, &out, EXPLAIN_OPS "--as root --approval root --approval daemon", SSHCA), 0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "approvals:       2 required, 1 valid\n");
	tu_assert_contains(out, "root cannot approve their own request");
	free(out);
	assert_int_equal(
	    run(f, &out, EXPLAIN_OPS "--as root --approval daemon --approval nobody", SSHCA), 0);
	tu_assert_contains(out, "result:          issue\n");
	free(out);
	/* Unknown to NSS: the approval does not count. */
	assert_int_equal(
	    run(f, &out, EXPLAIN_OPS "--as root --approval daemon --approval ROOT-ephssh-x", SSHCA),
	    0);
	tu_assert_contains(out, "approvals:       2 required, 1 valid\n");
	tu_assert_contains(out, "ROOT-ephssh-x is not known to NSS; approval ignored");
	free(out);
	/* With --groups, a name NSS does not know stands as written. */
	assert_int_equal(run(f, &out, EXPLAIN_OPS "--as ROOT-ephssh-x --groups ''", SSHCA), 1);
	tu_assert_contains(out, "requester:       ROOT-ephssh-x\n");
	tu_assert_contains(out, "  [deny] requesters: ");
	free(out);
	assert_int_equal(run(f, &out, EXPLAIN_OPS "--as ROOT-ephssh-x", SSHCA), 2);
	tu_assert_contains(out, "not known to NSS");
	free(out);
	/* Names a key id cannot hold are refused outright. */
	assert_int_equal(run(f, &out, EXPLAIN_OPS "--as 'ro:ot' --groups ''", SSHCA), 2);
	tu_assert_contains(out, "--as: the user name holds ':'");
	free(out);
	assert_int_equal(run(f, &out, EXPLAIN_OPS "--as root --approval 'dae mon'", SSHCA), 2);
	tu_assert_contains(out, "--approval: the user name holds a space");
	free(out);
#undef EXPLAIN_OPS
}

/* Approvals from several groups at once: explain says which clause still
 * waits for whom; check reports approvals that can never be given. */
static void
test_explain_clauses(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	write_in(f, "pol.conf",
	    "groups = { leads = [ \"carol\", \"dave\" ]; };\n"
	    "tasks = ( { name = \"ops\"; requesters = [ \"alice\" ];\n"
	    "  approvals = ( { from = [ \"@leads\" ]; count = 1; },\n"
	    "                { from = [ \"%security\" ]; count = 1; } );\n"
	    "  hosts = [ \"*.example.com\" ]; login_as = \"root\"; } );\n",
	    0644);
#define EXPLAIN_OPS "%s policy explain -f pol.conf --task ops --host a.example.com "
	assert_int_equal(
	    run(f, &out,
	        EXPLAIN_OPS "--as alice --groups '' --approval carol: --approval dave:", SSHCA),
	    0);
	tu_assert_contains(out, "result:          pending\n");
	tu_assert_contains(out, "approvals:       2 required, 1 valid\n");
	tu_assert_contains(out, "clause 1:        @leads: 1 of 1 (carol)\n");
	tu_assert_contains(
	    out, "clause 2:        %security: 0 of 1; waiting for 1 more from %security\n");
	tu_assert_contains(out, "dave's approval is not needed");
	free(out);
	assert_int_equal(run(f, &out,
	                     EXPLAIN_OPS "--as alice --groups '' --approval carol: "
	                                 "--approval sam:security --json",
	                     SSHCA),
	    0);
	{
		json_error_t jerr;
		json_t *root, *cl;

		if ((root = json_loads(out, 0, &jerr)) == NULL)
			fail_msg("not JSON (%s):\n%s", jerr.text, out);
		assert_string_equal(json_string_value(jget(root, "result")), "issue");
		cl = jget(jget(root, "approvals"), "clauses");
		assert_int_equal(json_array_size(cl), 2);
		assert_int_equal(json_integer_value(jget(json_array_get(cl, 1), "required")), 1);
		assert_int_equal(json_integer_value(jget(json_array_get(cl, 1), "valid")), 1);
		assert_string_equal(
		    json_string_value(json_array_get(jget(json_array_get(cl, 1), "approvers"), 0)),
		    "sam");
		assert_string_equal(
		    json_string_value(json_array_get(jget(json_array_get(cl, 1), "from"), 0)),
		    "%security");
		json_decref(root);
	}
	free(out);
#undef EXPLAIN_OPS

	/* check: an error where membership is static, a warning (exit 0)
	 * where it depends on a Unix group. */
	write_in(f, "bad.conf",
	    "tasks = ( { name = \"t\"; requesters = [ \"alice\" ]; approvers = [ \"alice\", "
	    "\"bob\" ];\n"
	    "  approvals = 2; hosts = [ \"h\" ]; login_as = \"u\"; } );\n",
	    0644);
	assert_int_equal(run(f, &out, "%s policy check bad.conf", SSHCA), 1);
	tu_assert_contains(out,
	    "bad.conf:2: 'approvals' in task 't': alice may request the task "
	    "and approve it");
	free(out);
	write_in(f, "warn.conf",
	    "tasks = ( { name = \"t\"; requesters = [ \"%ops\" ]; approvers = [ \"alice\", "
	    "\"bob\" ];\n"
	    "  approvals = 2; hosts = [ \"h\" ]; login_as = \"u\"; } );\n",
	    0644);
	assert_int_equal(run(f, &out, "%s policy check warn.conf", SSHCA), 0);
	tu_assert_contains(out,
	    "warn.conf:2: warning: 'approvals' in task 't': a requester through "
	    "%ops who is also an approver (such as alice) could never get 2 "
	    "approvals");
	tu_assert_contains(out, "warn.conf: OK: 1 task, 0 groups, 0 hostgroups, 1 warning\n");
	free(out);
}

static void
test_explain_text_is_safe(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* A host name with an escape sequence is shown, not obeyed. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint "
	                     "--host \"$(printf 'x\\033[2Jy')\" --at " MONDAY_10),
	    1);
	tu_assert_contains(out, "hosts:           x\\x1b[2Jy\n");
	assert_null(strchr(out, '\033'));
	free(out);
	/* A backslash typed as such is doubled: it cannot pass for an escape. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint "
	                     "--host 'x\\x1b[2Jy' --at " MONDAY_10),
	    1);
	tu_assert_contains(out, "hosts:           x\\\\x1b[2Jy\n");
	free(out);
}

static void
test_explain_failures(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* No decision is not a denial: exit 2. */
	assert_int_equal(run(f, &out,
	                     "%s policy explain -f missing.conf --as alice --groups '' "
	                     "--task db-maint --host db01",
	                     SSHCA),
	    2);
	tu_assert_contains(out, "missing.conf");
	free(out);
	write_in(f, "bad.conf", "tasks = 5;\n", 0644);
	assert_int_equal(run(f, &out,
	                     "%s policy explain -f bad.conf --as alice --groups '' "
	                     "--task db-maint --host db01",
	                     SSHCA),
	    2);
	tu_assert_contains(out, "bad.conf:1: ");
	free(out);
	/* A requester NSS does not know needs --groups. */
	assert_int_equal(
	    explain(
	        f, &out, "--as no-such-user-ephssh-test --task db-maint --host db01.example.com"),
	    2);
	tu_assert_contains(out, "not known to NSS");
	free(out);
	/* An approver NSS does not know is no error: the approval does not count. */
	assert_int_equal(explain(f, &out,
	                     "--as alice --groups '' --task db-maint --host db01.example.com "
	                     "--approval no-such-user-ephssh-test"),
	    1);
	tu_assert_contains(out, "no-such-user-ephssh-test is not known to NSS; approval ignored");
	free(out);
	/* A user NSS knows (root) needs no --groups. */
	assert_int_equal(
	    explain(f, &out, "--as root --task db-maint --host db01.example.com --at " MONDAY_10),
	    1);
	tu_assert_contains(out, "requester:       root\n");
	tu_assert_not_contains(out, "groups:          none\n");
	free(out);
}

static void
test_explain_policy_from_config(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	write_in(f, "ca.conf", "ca_key = \"/nonexistent/ca\";\npolicy = \"" EXAMPLE "\";\n", 0644);
	assert_int_equal(run(f, &out,
	                     "TZ=UTC %s policy explain --config ca.conf --as alice --groups '' "
	                     "--task db-maint --host db-stage.example.com --from 192.0.2.1 "
	                     "--reason x --at " MONDAY_10,
	                     SSHCA),
	    0);
	tu_assert_contains(out, "result:          issue\n");
	tu_assert_contains(out, "policy:          " EXAMPLE "\n");
	free(out);
	/* A broken ca.conf named explicitly is an error, not a fallback. */
	write_in(f, "ca.conf", "policy = 5;\n", 0644);
	assert_int_equal(run(f, &out,
	                     "%s policy explain --config ca.conf --as alice --groups '' "
	                     "--task db-maint --host db01",
	                     SSHCA),
	    2);
	tu_assert_contains(out, "ca.conf:1: ");
	free(out);
}

/* Issue 12, items 1 and 11: what loads but deserves a second look is a
 * warning with file:line, and the check still passes. */
static void
test_check_warnings(void **state)
{
	static const char pol[] =
	    "hostgroups = {\n"
	    "  db = { hosts = [ \"db01.example.com\" ]; env = \"prod\"; };\n"
	    "  stage = { hosts = [ \"db01.example.com\" ]; env = \"staging\"; };\n"
	    "};\n"
	    "tasks = ( { name = \"bg\"; break_glass = true; requesters = [ \"alice\" ];\n"
	    "  hosts = [ \"@db\" ]; login_as = \"root\"; schedule = [ \"Mon-Fri 06:00-22:00\" ]; } "
	    ");\n";
	struct fx *f = *state;
	char *out = NULL;

	write_in(f, "pol.conf", pol, 0644);
	assert_int_equal(run(f, &out, "%s policy check pol.conf 2>&1 >/dev/null", SSHCA), 0);
	assert_string_equal(out,
	    "pol.conf:3: warning: host 'db01.example.com' is in hostgroups 'db' (env prod) and "
	    "'stage' (env staging), whose contexts differ: a request for either hostgroup gets "
	    "the strictest conditions of both\n"
	    "pol.conf:6: warning: 'schedule' in task 'bg': a break_glass task with a schedule "
	    "cannot be used outside it, which is when emergencies tend to happen\n");
	free(out);
	assert_int_equal(run(f, &out, "%s policy check pol.conf 2>/dev/null", SSHCA), 0);
	assert_string_equal(out, "pol.conf: OK: 1 task, 0 groups, 2 hostgroups, 2 warnings\n");
	free(out);
}

/* Issue 12, item 10: explain -c applies ca.conf's max_ttl, as the CA
 * will; and the tasks that end. */
static void
test_explain_ca_caps(void **state)
{
	static const char pol[] =
	    "defaults = { max_ttl = \"4h\"; };\n"
	    "tasks = (\n"
	    "  { name = \"t\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
	    "    login_as = \"root\"; max_ttl = \"2h\"; source_address = \"requester\";\n"
	    "    valid_until = \"2026-11-23T10:30\"; }\n"
	    ");\n";
	struct fx *f = *state;
	char *out = NULL, *ca = NULL;

	write_in(f, "pol.conf", pol, 0644);
	if (asprintf(&ca,
	        "ca_key = \"/nonexistent/ca\";\npolicy = \"%s/pol.conf\";\n"
	        "max_ttl = \"1h\";\n",
	        f->dir) < 0)
		fail_msg("out of memory");
	write_in(f, "ca.conf", ca, 0644);
	free(ca);
	assert_int_equal(run(f, &out,
	                     "TZ=UTC %s policy explain -c ca.conf --as alice --groups '' --task t "
	                     "--host h1.example.com --ttl 2h --from ::ffff:192.0.2.1 --at "
	                     "2026-11-23T09:00",
	                     SSHCA),
	    0);
	tu_assert_contains(out, "ttl:             1h\n");
	tu_assert_contains(out, "  [clamp] ca_max_ttl: TTL 2h is above the CA's max_ttl (ca.conf)");
	/* What sshd will compare an IPv4 client with. */
	tu_assert_contains(out, "source-address:  192.0.2.1\n");
	free(out);
	/* The policy alone knows nothing of the CA. */
	assert_int_equal(run(f, &out,
	                     "TZ=UTC %s policy explain -f pol.conf --as alice --groups '' --task t "
	                     "--host h1.example.com --ttl 2h --from 192.0.2.1 --at "
	                     "2026-11-23T09:00",
	                     SSHCA),
	    0);
	tu_assert_contains(out, "ttl:             1h30m\n");
	tu_assert_contains(out, "  [clamp] valid_until: ");
	free(out);
	assert_int_equal(run(f, &out,
	                     "TZ=UTC %s policy explain -f pol.conf --as alice --groups '' --task t "
	                     "--host h1.example.com --from 192.0.2.1 --at 2026-11-23T10:30",
	                     SSHCA),
	    1);
	tu_assert_contains(out, "  [deny] valid_until: task t ended at 2026-11-23T10:30:00");
	free(out);
}

/* ---------------------------------------------------- check-config */

static void
test_check_config_ok(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *want = NULL, *fp = NULL;

	write_caconf(f, "revoked_keys = \"/nonexistent-dir-ephssh/revoked.krl\";\n");
	/* A KRL in a directory that does not exist is the only problem. */
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out,
	    "ca.conf:3: revoked_keys /nonexistent-dir-ephssh/revoked.krl: "
	    "directory /nonexistent-dir-ephssh does not exist");
	tu_assert_contains(out, "sshca check-config: ca.conf: 1 error\n");
	free(out);

	/* The KRL need not exist yet. */
	if (asprintf(&want, "revoked_keys = \"%s/revoked.krl\";\n", f->dir) < 0)
		fail_msg("out of memory");
	write_caconf(f, want);
	free(want);
	assert_int_equal(run(f, &fp, "ssh-keygen -lf ca.pub 2>/dev/null | awk '{print $2}'"), 0);
	fp[strcspn(fp, "\n")] = '\0';
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	if (asprintf(&want,
	        "ca.conf: OK: CA key ED25519 %s, policy %s/policy.conf: 3 tasks, 2 "
	        "groups, 3 hostgroups\n",
	        fp, f->dir) < 0)
		fail_msg("out of memory");
	if (*fp != '\0')
		assert_string_equal(out, want);
	else
		tu_assert_contains(out, "ca.conf: OK: CA key ED25519 SHA256:");
	free(out);
	free(want);
	free(fp);

	/* A real KRL is read; garbage is not. */
	assert_int_equal(run(f, &out, "%s krl --any-ca --serial 5 -o revoked.krl", SSHCA), 0);
	free(out);
	write_caconf(f, "");
	assert_int_equal(
	    run(f, NULL, "echo 'revoked_keys = \"%s/revoked.krl\";' >> ca.conf", f->dir), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	free(out);
	assert_int_equal(run(f, NULL, "echo garbage > revoked.krl"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:3: revoked_keys ");
	tu_assert_contains(out, "cannot load");
	free(out);
}

static void
test_check_config_ca_key(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	write_caconf(f, "");
	assert_int_equal(run(f, NULL, "chmod 640 ca"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:1: ca_key ");
	tu_assert_contains(out, "/ca: mode 0640 lets group or others at it; chmod 600 it");
	tu_assert_not_contains(out, ": OK");
	free(out);
	assert_int_equal(run(f, NULL, "chmod 604 ca"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "mode 0604");
	free(out);
	/* Not a key at all. */
	assert_int_equal(run(f, NULL, "chmod 600 ca && cp ca.pub ca && chmod 600 ca"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:1: ca_key ");
	tu_assert_contains(out, "cannot load: not a PKCS#8 PEM private key");
	free(out);
	/* Missing, or a symbolic link. */
	assert_int_equal(run(f, NULL, "rm ca"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "/ca: No such file or directory");
	free(out);
	assert_int_equal(run(f, NULL, "%s init --key real >/dev/null && ln -s real ca", SSHCA), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "not a regular file (symbolic links are refused)");
	free(out);
	/* Key and policy problems are reported together. */
	assert_int_equal(run(f, NULL, "echo 'colour = 1;' >> policy.conf"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "symbolic links are refused");
	tu_assert_contains(out, "policy.conf:");
	tu_assert_contains(out, "unknown key 'colour'");
	tu_assert_contains(out, "sshca check-config: ca.conf: 2 errors\n");
	free(out);
}

static void
test_check_config_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\ncolour = \"red\";\n",
	        "ca.conf:3: unknown key 'colour'"},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nmax_ttl = true;\n", "ca.conf:3: 'max_ttl'"},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nmax_ttl = \"5x\";\n", "ca.conf:3: "},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\ndatabase = \"ca.db\";\n",
	        "ca.conf:3: 'database' at top level: expected an absolute path"},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nmax_ttl = \"2w\";\n", "ca.conf:3: "},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nmax_ttl = \"0\";\n", "ca.conf:3: "},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nclock_skew = \"2h\";\n", "ca.conf:3: "},
	    /* 2^32 + 60 would read as 60 s: refused, not wrapped. */
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nclock_skew = 4294967356;\n",
	        "ca.conf:3: integer 4294967356 is too large"},
	    {"ca_key = \"/x/ca\";\n", "ca.conf: missing 'policy'"},
	    {"policy = \"/x/p\";\n", "ca.conf: missing 'ca_key'"},
	    {"ca_key = \"ca\";\npolicy = \"/x/p\";\n",
	        "ca.conf:1: 'ca_key' at top level: expected an absolute path"},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\";\nrevoked_keys = \"/x/p\";\n",
	        "ca.conf:3: 'revoked_keys' at top level: the same file as"},
	    {"ca_key = \"/x/ca\";\npolicy = \"/x/p\"\n", "ca.conf:"},
	    {"@include \"/etc/passwd\"\nca_key = \"/x/ca\";\npolicy = \"/x/p\";\n", "ca.conf:"},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_in(f, "ca.conf", cases[i].text, 0644);
		rc = run(f, &out, "%s check-config -f ca.conf", SSHCA);
		if (rc != 1 || strstr(out, cases[i].want) == NULL || strstr(out, ": OK") != NULL)
			fail_msg("%s: exit %d, want 1 and \"%s\":\n%s", cases[i].text, rc,
			    cases[i].want, out);
		free(out);
	}
	/* Several problems in one file are all reported. */
	write_in(f, "ca.conf", "ca_key = 5;\npolicy = \"rel\";\ncolour = 1;\n", 0644);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:1: ");
	tu_assert_contains(out, "ca.conf:2: ");
	tu_assert_contains(out, "ca.conf:3: ");
	tu_assert_contains(out, "sshca check-config: ca.conf: 3 errors\n");
	free(out);
	/* ca.conf itself missing, or writable by others. */
	assert_int_equal(run(f, &out, "%s check-config -f nothere.conf", SSHCA), 1);
	tu_assert_contains(out, "nothere.conf");
	free(out);
	write_caconf(f, "");
	assert_int_equal(run(f, NULL, "chmod 666 ca.conf"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_not_contains(out, ": OK");
	free(out);
}

static void
test_check_config_policy(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* Missing policy file. */
	assert_int_equal(run(f, NULL, "rm policy.conf"), 0);
	write_caconf(f, "");
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "policy.conf");
	tu_assert_not_contains(out, ": OK");
	free(out);
	/* A policy whose ceiling is above the CA's. */
	assert_int_equal(run(f, NULL, "cp '%s' policy.conf", EXAMPLE), 0);
	write_caconf(f, "max_ttl = \"20m\";\n");
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(
	    out, "ca.conf:3: max_ttl 20m is below the defaults.max_ttl 30m of the policy ");
	free(out);
	write_caconf(f, "max_ttl = \"30m\";\n");
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	free(out);
	/* Broken policy: its own file:line errors. */
	assert_int_equal(run(f, NULL, "printf 'tasks = 5;\\n' > policy.conf"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "policy.conf:1: ");
	free(out);
}

/* What -T prints for the daemon's keys when ca.conf sets none of them. */
#define DUMP_DEFAULT_SERVER                                                                        \
	"socket /run/ephemeral/sshca.sock\nuser _sshca\ntls.listen none\ntls.certificate none\n"   \
	"tls.key none\nlogin_ttl 8h\nadmins none\nauditors none\nwebhooks none\n"                  \
	"limits.active_grants 10\nlimits.requests_per_minute 60\n"

static void
test_check_config_dump(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *want = NULL;

	write_caconf(f, "");
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf -T", SSHCA), 0);
	if (asprintf(&want,
	        "ca_key %s/ca\nca_key_next none\npolicy %s/policy.conf\nrevoked_keys none\n"
	        "clock_skew 1m\nmax_ttl 1d\n" DUMP_DEFAULT_SERVER "database " LOCALSTATEDIR
	        "/lib/ephemeral/ca.db\n",
	        f->dir, f->dir) < 0)
		fail_msg("out of memory");
	assert_string_equal(out, want);
	free(out);
	free(want);

	if (asprintf(&want,
	        "revoked_keys = \"%s/x.krl\";\nclock_skew = 90;\nmax_ttl = \"1h30m\";\n"
	        "database = \"%s/ca.db\";\n",
	        f->dir, f->dir) < 0)
		fail_msg("out of memory");
	write_caconf(f, want);
	free(want);
	assert_int_equal(run(f, &out, "%s check-config --config ca.conf --dump", SSHCA), 0);
	if (asprintf(&want,
	        "ca_key %s/ca\nca_key_next none\npolicy %s/policy.conf\nrevoked_keys %s/x.krl\n"
	        "clock_skew 1m30s\nmax_ttl 1h30m\n" DUMP_DEFAULT_SERVER "database %s/ca.db\n",
	        f->dir, f->dir, f->dir, f->dir) < 0)
		fail_msg("out of memory");
	assert_string_equal(out, want);
	free(out);
	free(want);
	/* -T checks as well, and prints nothing on stdout when it fails. */
	assert_int_equal(run(f, NULL, "chmod 644 ca"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf -T 2>/dev/null", SSHCA), 1);
	assert_string_equal(out, "");
	free(out);
}

/* The daemon's keys (socket ... limits, ca_key_next): each set to a good
 * value shows in -T; each bad value is a file:line error. */
static void
test_check_config_server_good(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *text = NULL, *want = NULL;

	assert_int_equal(run(f, NULL,
	                     "%s init --key next >/dev/null && echo cert > tls.crt && chmod 644 "
	                     "tls.crt && echo key > tls.key && chmod 600 tls.key",
	                     SSHCA),
	    0);
	if (asprintf(&text,
	        "ca_key_next = \"%s/next\";\n"
	        "socket = \"%s/sshca.sock\";\n"
	        "user = \"ca-svc\";\n"
	        "tls = { listen = \"[::1]:8443\"; certificate = \"%s/tls.crt\"; key = "
	        "\"%s/tls.key\"; };\n"
	        "login_ttl = \"90m\";\n"
	        "admins = [ \"alice\", \"%%wheel\" ];\n"
	        "auditors = [ \"%%audit\" ];\n"
	        "webhooks = (\n"
	        "  { url = \"https://hooks.example.com/eph?x=1\"; events = [ \"denied\", "
	        "\"pending\" ]; },\n"
	        "  { url = \"http://10.0.0.5:8080/\"; events = [ \"break-glass\", \"revoked\", "
	        "\"pending\", \"denied\" ]; }\n"
	        ");\n"
	        "limits = { active_grants = 3; requests_per_minute = 600; };\n",
	        f->dir, f->dir, f->dir, f->dir) < 0)
		fail_msg("out of memory");
	write_caconf(f, text);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	tu_assert_contains(out, "ca.conf: OK: ");
	free(out);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf -T", SSHCA), 0);
	if (asprintf(&want,
	        "ca_key %s/ca\nca_key_next %s/next\npolicy %s/policy.conf\nrevoked_keys none\n"
	        "clock_skew 1m\nmax_ttl 1d\nsocket %s/sshca.sock\nuser ca-svc\n"
	        "tls.listen [::1]:8443\ntls.certificate %s/tls.crt\ntls.key %s/tls.key\n"
	        "login_ttl 1h30m\nadmins alice %%wheel\nauditors %%audit\n"
	        "webhooks https://hooks.example.com/eph?x=1 pending,denied\n"
	        "webhooks http://10.0.0.5:8080/ pending,break-glass,revoked,denied\n"
	        "limits.active_grants 3\nlimits.requests_per_minute 600\n"
	        "database " LOCALSTATEDIR "/lib/ephemeral/ca.db\n",
	        f->dir, f->dir, f->dir, f->dir, f->dir, f->dir) < 0)
		fail_msg("out of memory");
	assert_string_equal(out, want);
	free(out);
	free(want);
	free(text);

	/* Other good listen forms; limits may set one member only. */
	static const char *const listens[] = {
	    "127.0.0.1:443", "[::]:1", "ca.example.com:65535", "0.0.0.0:8443"};
	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
		if (asprintf(&text,
		        "tls = { listen = \"%s\"; certificate = \"%s/tls.crt\"; key = "
		        "\"%s/tls.key\"; };\nlimits = { requests_per_minute = 5; };\n",
		        listens[i], f->dir, f->dir) < 0)
			fail_msg("out of memory");
		write_caconf(f, text);
		free(text);
		assert_int_equal(run(f, &out, "%s check-config -f ca.conf -T", SSHCA), 0);
		if (asprintf(&want, "tls.listen %s\n", listens[i]) < 0)
			fail_msg("out of memory");
		tu_assert_contains(out, want);
		tu_assert_contains(out, "limits.active_grants 10\nlimits.requests_per_minute 5\n");
		free(want);
		free(out);
	}
}

static void
test_check_config_server_bad(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    /* socket */
	    {"socket = \"sshca.sock\";\n",
	        "ca.conf:3: 'socket' at top level: expected an absolute"},
	    {"socket = 5;\n", "ca.conf:3: 'socket' at top level: expected a string"},
	    {"socket = \"/run/ephemeral/"
	     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	     "x"
	     "xxxxxxxxxxxxxxxxx.sock\";\n",
	        "ca.conf:3: 'socket' at top level: longer than a socket path may be (107)"},
	    /* user */
	    {"user = \"-x\";\n",
	        "ca.conf:3: 'user' at top level: name '-x' may not start with '-'"},
	    {"user = \"a b\";\n", "ca.conf:3: 'user' at top level: name 'a b' is not a valid"},
	    {"user = \"\";\n", "ca.conf:3: 'user' at top level: name '' is empty"},
	    /* tls */
	    {"tls = \"0.0.0.0:443\";\n", "ca.conf:3: 'tls' at top level: expected a group"},
	    {"tls = { listen = \"0.0.0.0:443\"; key = \"/k\"; };\n",
	        "ca.conf:3: missing 'certificate' in tls"},
	    {"tls = { listen = \"0.0.0.0:443\"; certificate = \"/c\"; key = \"/k\"; port = 1; };\n",
	        "ca.conf:3: unknown key 'port' in tls"},
	    {"tls = {\n listen = \"::1:443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "ca.conf:4: 'listen' in tls: '::1:443': an IPv6 address needs brackets"},
	    {"tls = { listen = \"[::1]443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "'listen' in tls: '[::1]443': expected ':PORT' after ']'"},
	    {"tls = { listen = \"[10.0.0.1]:443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "not an IPv6 address inside '[...]'"},
	    {"tls = { listen = \"[::1:443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "lacks its ']'"},
	    {"tls = { listen = \"0.0.0.0:0\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "the port must be a number from 1 to 65535"},
	    {"tls = { listen = \"0.0.0.0:65536\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "the port must be a number from 1 to 65535"},
	    {"tls = { listen = \"0.0.0.0:http\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "the port must be a number from 1 to 65535"},
	    {"tls = { listen = \"0.0.0.0\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "'listen' in tls: '0.0.0.0': expected ADDR:PORT"},
	    {"tls = { listen = \"8443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "expected ADDR:PORT"},
	    {"tls = { listen = \":8443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "the address is empty"},
	    {"tls = { listen = \"300.1.1.1:8443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "neither an IPv4 address nor a host name"},
	    {"tls = { listen = \"a_b:8443\"; certificate = \"/c\"; key = \"/k\"; };\n",
	        "neither an IPv4 address nor a host name"},
	    {"tls = { listen = \"0.0.0.0:443\"; certificate = \"c.pem\"; key = \"/k\"; };\n",
	        "ca.conf:3: 'certificate' in tls: expected an absolute path"},
	    {"tls = { listen = \"0.0.0.0:443\"; certificate = \"/c\"; key = \"/x/ca\"; };\n",
	        "'key' in tls: the CA key"},
	    /* login_ttl */
	    {"login_ttl = \"30s\";\n", "ca.conf:3: "},
	    {"login_ttl = \"8d\";\n", "ca.conf:3: "},
	    {"login_ttl = \"8x\";\n", "ca.conf:3: "},
	    /* admins, auditors */
	    {"admins = \"alice\";\n",
	        "ca.conf:3: 'admins' at top level: expected a list of strings"},
	    {"admins = [ \"alice\",\n \"@leads\" ];\n",
	        "ca.conf:4: 'admins' at top level: '@leads': policy groups are not known here"},
	    {"admins = [ \"al ice\" ];\n",
	        "ca.conf:3: 'admins' at top level: name 'al ice' is not"},
	    {"auditors = [ \"%\" ];\n", "ca.conf:3: 'auditors' at top level: name '%' is empty"},
	    {"auditors = [ \"bob\", \"bob\" ];\n",
	        "'auditors' at top level: 'bob' is listed twice"},
	    {"auditors = [ 1 ];\n",
	        "ca.conf:3: 'auditors' at top level: expected a list of strings"},
	    /* webhooks */
	    {"webhooks = { url = \"https://x\"; };\n",
	        "ca.conf:3: 'webhooks' at top level: expected"},
	    {"webhooks = ( { url = \"https://x/\"; } );\n",
	        "ca.conf:3: missing 'events' in webhook 1"},
	    {"webhooks = ( { events = [ \"denied\" ]; } );\n", "missing 'url' in webhook 1"},
	    {"webhooks = ( { url = \"https://x/\"; events = [ \"denied\" ]; },\n"
	     " { url = \"ftp://x/\"; events = [ \"denied\" ]; } );\n",
	        "ca.conf:4: 'url' in webhook 2: 'ftp://x/' must start with https:// or http://"},
	    {"webhooks = ( { url = \"https:///p\"; events = [ \"denied\" ]; } );\n", "has no host"},
	    {"webhooks = ( { url = \"https://u:pw@x/\"; events = [ \"denied\" ]; } );\n",
	        "holds credentials"},
	    {"webhooks = ( { url = \"https://x/a b\"; events = [ \"denied\" ]; } );\n",
	        "has spaces, control characters"},
	    {"webhooks = ( { url = \"https://x/\";\n events = [ \"denied\", \"issued\" ]; } );\n",
	        "ca.conf:4: 'events' in webhook 1: unknown event 'issued'"},
	    {"webhooks = ( { url = \"https://x/\"; events = [ \"denied\", \"denied\" ]; } );\n",
	        "'events' in webhook 1: 'denied' is listed twice"},
	    {"webhooks = ( { url = \"https://x/\"; events = [ ]; } );\n",
	        "'events' in webhook 1: empty"},
	    {"webhooks = ( { url = \"https://x/\"; events = [ \"denied\" ]; secret = \"s\"; } );\n",
	        "unknown key 'secret' in webhook 1"},
	    /* limits */
	    {"limits = { active_grants = 0; };\n", "ca.conf:3: "},
	    {"limits = { requests_per_minute = -1; };\n", "ca.conf:3: "},
	    {"limits = { active_grants = 1000001; };\n", "ca.conf:3: "},
	    {"limits = { active_grants = \"10\"; };\n", "'active_grants' in limits: expected an"},
	    {"limits = { burst = 10; };\n", "unknown key 'burst' in limits"},
	    {"limits = 10;\n", "'limits' at top level: expected a group"},
	    /* ca_key_next */
	    {"ca_key_next = \"next\";\n", "ca.conf:3: 'ca_key_next' at top level: expected an"},
	    {"ca_key_next = \"/x/ca\";\n",
	        "ca.conf:3: 'ca_key_next' at top level: the same file as "
	        "'ca_key'"},
	    {"ca_key_next = \"/x/n\";\nrevoked_keys = \"/x/n\";\n",
	        "ca.conf:4: 'revoked_keys' at top level: the same file as 'ca_key_next'"},
	};
	struct fx *f = *state;
	char *out = NULL, *text = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (asprintf(&text, "ca_key = \"/x/ca\";\npolicy = \"/x/p\";\n%s", cases[i].text) <
		    0)
			fail_msg("out of memory");
		write_in(f, "ca.conf", text, 0644);
		free(text);
		rc = run(f, &out, "%s check-config -f ca.conf", SSHCA);
		if (rc != 1 || strstr(out, cases[i].want) == NULL || strstr(out, ": OK") != NULL)
			fail_msg("%s: exit %d, want 1 and \"%s\":\n%s", cases[i].text, rc,
			    cases[i].want, out);
		free(out);
	}
}

/* What check-config finds in the files the daemon's keys name. */
static void
test_check_config_server_files(void **state)
{
	struct fx *f = *state;
	char *out = NULL, *text = NULL;

	/* ca_key_next: loaded like ca_key, and a different key. */
	if (asprintf(&text, "ca_key_next = \"%s/next\";\n", f->dir) < 0)
		fail_msg("out of memory");
	write_caconf(f, text);
	free(text);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:3: ca_key_next ");
	tu_assert_contains(out, "/next: No such file or directory");
	free(out);
	assert_int_equal(run(f, NULL, "cp -p ca next"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "/next: the same key as ca_key; rotation needs a new key");
	free(out);
	assert_int_equal(run(f, NULL, "rm next && %s init --key next >/dev/null", SSHCA), 0);
	assert_int_equal(run(f, NULL, "chmod 640 next"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "/next: mode 0640 lets group or others at it");
	free(out);
	assert_int_equal(run(f, NULL, "chmod 600 next"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	free(out);

	/* tls: the files exist; the key is secret; the certificate not
	 * writable by others. */
	if (asprintf(&text,
	        "tls = {\n listen = \"127.0.0.1:8443\";\n certificate = \"%s/tls.crt\";\n key = "
	        "\"%s/tls.key\"; };\n",
	        f->dir, f->dir) < 0)
		fail_msg("out of memory");
	write_caconf(f, text);
	free(text);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:5: tls certificate ");
	tu_assert_contains(out, "ca.conf:6: tls key ");
	tu_assert_contains(out, "sshca check-config: ca.conf: 2 errors\n");
	free(out);
	assert_int_equal(run(f, NULL,
	                     "echo c > tls.crt && chmod 666 tls.crt && echo k > tls.key "
	                     "&& chmod 644 tls.key"),
	    0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "ca.conf:5: tls certificate ");
	tu_assert_contains(out, "/tls.crt: mode 0666 lets group or others write it");
	tu_assert_contains(out, "/tls.key: mode 0644 lets group or others at it; chmod 600 it");
	free(out);
	assert_int_equal(run(f, NULL, "chmod 644 tls.crt && chmod 600 tls.key"), 0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	free(out);
}

static void
test_check_config_example(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	/* The shipped example, pointed at files here, passes. */
	assert_int_equal(run(f, NULL,
	                     "sed -e 's|/etc/ephemeral/ca_key|%s/ca|' "
	                     "-e 's|/etc/ephemeral/policy.conf|%s/policy.conf|' "
	                     "-e 's|/var/lib/ephemeral/ca/revoked.krl|%s/revoked.krl|' '%s' > ca.conf",
	                     f->dir, f->dir, f->dir, EXAMPLE_CA),
	    0);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf", SSHCA), 0);
	tu_assert_contains(out, "ca.conf: OK: CA key ED25519 SHA256:");
	free(out);
	assert_int_equal(run(f, &out, "%s check-config -f ca.conf -T", SSHCA), 0);
	tu_assert_contains(out, "clock_skew 1m\nmax_ttl 1h\n");
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_example, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_reports_all_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_file_problems, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_pending_prod, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_issue_stage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_approvals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_schedule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_break_glass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_login_as, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_identities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_clauses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_text_is_safe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_policy_from_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain_ca_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_warnings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_ok, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_ca_key, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_errors, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_policy, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_dump, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_server_good, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_server_bad, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_server_files, setup_ca, teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_example, setup_ca, teardown),
	};

	tu_init(argc, argv);
	if (access(tu_sshca(), X_OK) != 0) {
		fprintf(stderr, "%s not built\n", tu_sshca());
		return 77;
	}
	return cmocka_run_group_tests_name("sshca_policy", tests, NULL, NULL);
}

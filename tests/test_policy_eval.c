/* Tests for policy evaluation and its matching helpers: schedules, CIDR
 * lists (against ssh-keygen), host patterns, hostgroups, NSS groups, and
 * every rule of policy_eval on the example policy and small inline ones. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "match.h"
#include "policy.h"

#include "testutil.h"

#define EXAMPLE_POLICY TOP_SRCDIR "/packaging/examples/policy.conf"

/* 2024-01-01 was a Monday; times are UTC (TZ is set in main). */
#define MONDAY_2024 ((time_t)1704067200)
#define AT(day, h, m) (MONDAY_2024 + (time_t)(day)*86400 + (h)*3600 + (m)*60)
#define MON 0
#define TUE 1
#define SAT 5
#define SUN 6

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* An approval by name, groups none, identity as given. */
#define APPR(user)                                                                                 \
	{                                                                                          \
		(user), NULL, 0, POLICY_ID_AS_GIVEN, 0                                             \
	}

/* ------------------------------------------------------------- helpers */

static struct policy *
load_text(const char *text)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	int r;

	r = policy_load_string(text, "inline.conf", &p, &errs);
	if (r != EPH_OK) {
		char *msg = policy_errors_format(&errs);

		fail_msg("policy did not load (%d): %s", r, msg != NULL ? msg : "?");
	}
	policy_errors_clear(&errs);
	assert_non_null(p);
	return p;
}

static struct policy *
load_example(void)
{
	char *text = tu_read_file(EXAMPLE_POLICY, NULL);
	struct policy *p;

	assert_non_null(text);
	p = load_text(text);
	free(text);
	return p;
}

/* A request with the common fields; tests change what they exercise. */
static struct policy_request
request(const char *requester, const char *task, const char *const *hosts, size_t nhosts)
{
	struct policy_request r;

	memset(&r, 0, sizeof(r));
	r.requester = requester;
	r.task = task;
	r.hosts = hosts;
	r.nhosts = nhosts;
	r.reason = "INC-4711 vacuum";
	r.source_address = "192.0.2.10";
	return r;
}

static size_t
count_reasons(const struct policy_decision *d, enum policy_reason_kind kind, const char *rule)
{
	size_t i, n = 0;

	for (i = 0; i < d->nreasons; i++)
		if (d->reasons[i].kind == kind &&
		    (rule == NULL || strcmp(d->reasons[i].rule, rule) == 0))
			n++;
	return n;
}

/* The first reason of that kind and rule whose text contains needle. */
static const struct policy_reason *
find_reason(const struct policy_decision *d, enum policy_reason_kind kind, const char *rule,
    const char *needle)
{
	size_t i;

	for (i = 0; i < d->nreasons; i++) {
		const struct policy_reason *r = &d->reasons[i];

		if (r->kind == kind && strcmp(r->rule, rule) == 0 &&
		    (needle == NULL || strstr(r->text, needle) != NULL))
			return r;
	}
	return NULL;
}

static void
dump(const struct policy_decision *d)
{
	size_t i;

	fprintf(stderr, "decision %s ttl %llu approvals %u/%u\n", policy_result_name(d->result),
	    (unsigned long long)d->ttl, d->approvals_valid, d->approvals_required);
	for (i = 0; i < d->nreasons; i++)
		fprintf(stderr, "  [%d] %s: %s (line %d)\n", (int)d->reasons[i].kind,
		    d->reasons[i].rule, d->reasons[i].text, d->reasons[i].line);
}

#define ASSERT_REASON(d, kind, rule, needle)                                                       \
	do {                                                                                       \
		if (find_reason((d), (kind), (rule), (needle)) == NULL) {                          \
			dump(d);                                                                   \
			fail_msg("no reason %s containing \"%s\"", (rule),                         \
			    (needle) != NULL ? (needle) : "");                                     \
		}                                                                                  \
	} while (0)

static void
eval_ok(
    const struct policy *p, const struct policy_request *r, time_t now, struct policy_decision *d)
{
	assert_int_equal(policy_eval(p, r, now, d), EPH_OK);
}

static int
has_principal(const struct policy_decision *d, const char *pr)
{
	size_t i;

	for (i = 0; i < d->nprincipals; i++)
		if (strcmp(d->principals[i], pr) == 0)
			return 1;
	return 0;
}

static int
setup_example(void **state)
{
	*state = load_example();
	return 0;
}

static int
teardown_policy(void **state)
{
	policy_free(*state);
	return 0;
}

/* ------------------------------------------------------------ schedule */

static void
test_schedule_parse_ok(void **state)
{
	struct policy_schedule s;
	const char *why = NULL;

	memset(&s, 0, sizeof(s));
	s.line = 42;
	assert_int_equal(policy_schedule_parse("Mon-Fri 06:00-22:00", &s, &why), EPH_OK);
	assert_int_equal(s.days, 0x3e);
	assert_int_equal(s.start, 360);
	assert_int_equal(s.end, 1320);
	assert_int_equal(s.line, 42); /* the caller's */

	assert_int_equal(policy_schedule_parse("Sat,Sun 10:00-14:00", &s, &why), EPH_OK);
	assert_int_equal(s.days, 0x41);
	assert_int_equal(s.start, 600);
	assert_int_equal(s.end, 840);

	assert_int_equal(policy_schedule_parse("Mon 22:00-06:00", &s, &why), EPH_OK);
	assert_int_equal(s.days, 0x02);
	assert_int_equal(s.start, 1320);
	assert_int_equal(s.end, 360);

	assert_int_equal(policy_schedule_parse("Mon-Sun 00:00-24:00", &s, &why), EPH_OK);
	assert_int_equal(s.days, 0x7f);
	assert_int_equal(s.start, 0);
	assert_int_equal(s.end, 1440);

	/* Day ranges wrap over the week end. */
	assert_int_equal(policy_schedule_parse("Fri-Mon 08:00-09:30", &s, &why), EPH_OK);
	assert_int_equal(s.days, (1 << 5) | (1 << 6) | (1 << 0) | (1 << 1));
	assert_int_equal(s.end, 570);

	/* Until midnight. */
	assert_int_equal(policy_schedule_parse("Tue,Thu 18:00-00:00", &s, &why), EPH_OK);
	assert_int_equal(s.days, (1 << 2) | (1 << 4));
	assert_int_equal(s.end, 1440);

	assert_int_equal(policy_schedule_parse("mon-FRI 06:00-22:00", &s, &why), EPH_OK);
	assert_int_equal(s.days, 0x3e);
}

static void
test_schedule_parse_bad(void **state)
{
	static const char *bad[] = {
	    "",
	    "Mon-Fri",
	    "06:00-22:00",
	    "Mon-Fri ",
	    "Mon-Fri 06:00",
	    "Mon-Fri 06:00-",
	    "Mon-Fri -22:00",
	    "Mon-Fry 06:00-22:00",
	    "Monday 06:00-22:00",
	    "Mon-Fri 06:00-24:01",
	    "Mon-Fri 25:00-26:00",
	    "Mon-Fri 06:60-22:00",
	    "Mon-Fri 6:00-22:00",
	    "Mon-Fri 06:00-22:00 ",
	    " Mon-Fri 06:00-22:00",
	    "Mon-Fri 24:00-06:00",
	    "Mon-Fri 06:00-06:00",
	    "Mon,,Fri 06:00-22:00",
	    "Mon, Fri 06:00-22:00",
	    "Mon-Fri,Wed 06:00-22:00",
	    "Mon-Mon 06:00-22:00",
	    "Mon- 06:00-22:00",
	    "-Fri 06:00-22:00",
	    "Mon-Fri 06:00-22:00-23:00",
	    "Mon-Fri\t06:00-22:00",
	    "Mon-Fri 06h00-22h00",
	    "Mon-Fri 0a:00-22:00",
	};
	struct policy_schedule s;
	const char *why;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		why = NULL;
		if (policy_schedule_parse(bad[i], &s, &why) != EPH_ERR_FORMAT)
			fail_msg("accepted bad schedule \"%s\"", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(policy_schedule_parse("Mon-Fri 06:00-24:01", &s, &why), EPH_ERR_FORMAT);
	assert_non_null(strstr(why, "HH:MM"));
	assert_int_equal(policy_schedule_parse("Mon-Fry 06:00-22:00", &s, &why), EPH_ERR_FORMAT);
	assert_non_null(strstr(why, "day"));
}

static int
sched_at(const char *spec, int wday, int h, int m)
{
	struct policy_schedule s;
	struct tm tm;

	assert_int_equal(policy_schedule_parse(spec, &s, NULL), EPH_OK);
	memset(&tm, 0, sizeof(tm));
	tm.tm_wday = wday;
	tm.tm_hour = h;
	tm.tm_min = m;
	return policy_schedule_match(&s, &tm);
}

static void
test_schedule_match(void **state)
{
	/* tm_wday: 0 Sunday .. 6 Saturday */
	assert_true(sched_at("Mon-Fri 06:00-22:00", 1, 6, 0));
	assert_true(sched_at("Mon-Fri 06:00-22:00", 5, 21, 59));
	assert_false(sched_at("Mon-Fri 06:00-22:00", 5, 22, 0));
	assert_false(sched_at("Mon-Fri 06:00-22:00", 1, 5, 59));
	assert_false(sched_at("Mon-Fri 06:00-22:00", 6, 12, 0));
	assert_true(sched_at("Sat,Sun 10:00-14:00", 0, 10, 0));
	assert_false(sched_at("Sat,Sun 10:00-14:00", 3, 10, 0));

	/* Mon 22:00-06:00: Monday evening and Tuesday morning only. */
	assert_true(sched_at("Mon 22:00-06:00", 1, 22, 0));
	assert_true(sched_at("Mon 22:00-06:00", 1, 23, 59));
	assert_true(sched_at("Mon 22:00-06:00", 2, 0, 0));
	assert_true(sched_at("Mon 22:00-06:00", 2, 5, 59));
	assert_false(sched_at("Mon 22:00-06:00", 2, 6, 0));
	assert_false(sched_at("Mon 22:00-06:00", 1, 5, 0)); /* Monday morning: Sunday's night */
	assert_false(sched_at("Mon 22:00-06:00", 2, 22, 0));
	assert_false(sched_at("Mon 22:00-06:00", 1, 21, 59));
	/* Sat 23:00-01:00 reaches into Sunday, wrapping the week. */
	assert_true(sched_at("Sat 23:00-01:00", 0, 0, 30));
	assert_false(sched_at("Sat 23:00-01:00", 1, 0, 30));

	assert_true(sched_at("Mon-Sun 00:00-24:00", 0, 0, 0));
	assert_true(sched_at("Mon-Sun 00:00-24:00", 6, 23, 59));
	assert_true(sched_at("Fri-Mon 08:00-09:30", 0, 9, 29));
	assert_false(sched_at("Fri-Mon 08:00-09:30", 3, 9, 0));
	assert_true(sched_at("Tue 18:00-00:00", 2, 23, 59));
	assert_false(sched_at("Tue 18:00-00:00", 3, 0, 0));
}

/* ---------------------------------------------------------------- CIDR */

static void
test_cidr_valid(void **state)
{
	static const char *ok[] = {
	    "10.0.0.0/8",
	    "10.0.0.1",
	    "192.168.1.0/24,10.0.0.0/8",
	    "0.0.0.0/0",
	    "::/0",
	    "::1/128",
	    "fe80::/10",
	    "2001:db8::/32,192.0.2.7/32",
	    "10.0.0.0/08",
	    "::/64",
	};
	static const char *bad[] = {
	    "",
	    "10.0.0.1/8",
	    "10.0.0.0/33",
	    "fe80::1/10",
	    "::/129",
	    "10.0.0.0/",
	    "10.0.0.0/8, 192.168.0.0/16",
	    "10.0.0.0/8,,1.2.3.4",
	    "10.0.0.0/8,",
	    ",10.0.0.0/8",
	    "example.com",
	    "10.0.0.0/-1",
	    "10.0.0.0/8/8",
	    "10.0.0.256",
	    "fe80::1%eth0",
	    "10.0.0.0/0008",
	    "10.0.0.0/8 ",
	    "::ffff:10.0.0.1/104",
	    /* sshd never matches an IPv4 client against a mapped network. */
	    "::ffff:10.0.0.0/104",
	    "::ffff:192.0.2.1",
	    "::ffff:c000:200/120",
	    "1.2.3.4.5",
	    /* Short IPv4 forms sshd's getaddrinfo takes; refused here on purpose. */
	    "10.1",
	    "127.1/32",
	};
	const char *why;
	size_t i;

	for (i = 0; i < NELEM(ok); i++) {
		why = "x";
		if (policy_cidr_list_valid(ok[i], &why) != EPH_OK)
			fail_msg("refused \"%s\": %s", ok[i], why);
		assert_null(why);
	}
	for (i = 0; i < NELEM(bad); i++) {
		why = NULL;
		if (policy_cidr_list_valid(bad[i], &why) != EPH_ERR_FORMAT)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(policy_cidr_list_valid("10.0.0.1/8", &why), EPH_ERR_FORMAT);
	assert_non_null(strstr(why, "prefix"));
	assert_int_equal(policy_cidr_list_valid(NULL, &why), EPH_ERR_FORMAT);
}

/* What we accept, ssh-keygen accepts as a source-address, and the other
 * way round (but for the short IPv4 forms and the IPv4-mapped networks we
 * refuse on purpose). */
static void
test_cidr_valid_vs_ssh_keygen(void **state)
{
	static const char *lists[] = {
	    "10.0.0.0/8",
	    "10.0.0.1/8",
	    "10.0.0.1",
	    "10.0.0.0/33",
	    "::1/128",
	    "fe80::/10",
	    "fe80::1/10",
	    "10.0.0.0/8,,1.2.3.4",
	    "10.0.0.0/",
	    "0.0.0.0/0",
	    "::/0",
	    "192.168.1.128/25",
	    "192.168.1.129/25",
	    "2001:db8::/32,192.0.2.7/32",
	    "::ffff:10.0.0.1/104",
	    "10.0.0.0/8,example",
	    "1.2.3.4/32,10.0.0.0/7",
	};
	char *dir, *out = NULL;
	size_t i;
	int ours, theirs, st;

	TU_REQUIRE_SSH_KEYGEN();
	dir = tu_mkdtemp();
	st = tu_run(NULL,
	    "cd '%s' && '%s' -q -t ed25519 -N '' -f ca && '%s' -q -t ed25519 -N '' -f u", dir,
	    tu_ssh_keygen(), tu_ssh_keygen());
	assert_int_equal(st, 0);
	for (i = 0; i < NELEM(lists); i++) {
		ours = policy_cidr_list_valid(lists[i], NULL) == EPH_OK;
		st = tu_run(&out,
		    "cd '%s' && rm -f u-cert.pub && '%s' -q -s ca -I t -O "
		    "source-address='%s' u.pub",
		    dir, tu_ssh_keygen(), lists[i]);
		theirs = st == 0;
		if (ours != theirs)
			fail_msg("\"%s\": ours %d, ssh-keygen %d (%s)", lists[i], ours, theirs,
			    out != NULL ? out : "");
		free(out);
		out = NULL;
	}
	tu_rmrf(dir);
	free(dir);
}

static void
test_cidr_contains(void **state)
{
	assert_true(policy_cidr_list_contains("10.0.0.0/8", "10.1.2.3"));
	assert_false(policy_cidr_list_contains("10.0.0.0/8", "11.1.2.3"));
	assert_true(policy_cidr_list_contains("192.168.1.128/25", "192.168.1.255"));
	assert_false(policy_cidr_list_contains("192.168.1.128/25", "192.168.1.127"));
	assert_true(policy_cidr_list_contains("192.0.2.0/24,10.0.0.0/8", "10.9.9.9"));
	assert_true(policy_cidr_list_contains("192.0.2.7", "192.0.2.7"));
	assert_false(policy_cidr_list_contains("192.0.2.7", "192.0.2.8"));
	assert_true(policy_cidr_list_contains("0.0.0.0/0", "203.0.113.1"));
	assert_false(policy_cidr_list_contains("0.0.0.0/0", "2001:db8::1"));
	assert_true(policy_cidr_list_contains("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(policy_cidr_list_contains("2001:db8::/32", "2001:db9::1"));
	assert_true(policy_cidr_list_contains("::/0", "::1"));
	assert_true(policy_cidr_list_contains("fe80::/10", "febf::1"));
	assert_false(policy_cidr_list_contains("fe80::/10", "fec0::1"));
	/* An IPv4-mapped peer is its IPv4 address, as in sshd. */
	assert_true(policy_cidr_list_contains("10.0.0.0/8", "::ffff:10.1.2.3"));
	/* A mapped network is refused, so nothing is inside it. */
	assert_false(policy_cidr_list_contains("::ffff:10.0.0.0/104", "10.1.2.3"));
	assert_false(policy_cidr_list_contains("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
	/* Fails closed on junk. */
	assert_false(policy_cidr_list_contains("10.0.0.0/8", "10.1.2.3 "));
	assert_false(policy_cidr_list_contains("10.0.0.0/8", "host.example.com"));
	assert_false(policy_cidr_list_contains("10.0.0.0/8", ""));
	assert_false(policy_cidr_list_contains("10.0.0.1/8", "10.0.0.1"));
	assert_false(policy_cidr_list_contains("10.0.0.0/8,bogus", "10.0.0.1"));
	assert_false(policy_cidr_list_contains(NULL, "10.0.0.1"));
	assert_false(policy_cidr_list_contains("10.0.0.0/8", NULL));
}

/* --------------------------------------------------------------- hosts */

static void
test_host_pattern_valid(void **state)
{
	static const char *ok[] = {
	    "db01.example.com",
	    "*.legacy.example.com",
	    "DB01.Example.COM",
	    "localhost",
	    "*.example.com",
	    "*.lan.example",
	    "a-b.c",
	    "10.0.0.1",
	    "x1",
	};
	static const char *bad[] = {
	    "",
	    "*",
	    "*.",
	    "*.lan",
	    "*.com",
	    "**.example.com",
	    "db*.example.com",
	    "db01.*.example.com",
	    "*example.com",
	    "example.*",
	    "db01.example.com.",
	    ".example.com",
	    "db01..example.com",
	    "-db.example.com",
	    "db-.example.com",
	    "db_01.example.com",
	    "db01 .example.com",
	    "db01.example.com/",
	    "\xc3\xa9.example.com",
	    "@db",
	    "%ops",
	};
	char label[80], longname[300];
	const char *why;
	size_t i;

	for (i = 0; i < NELEM(ok); i++) {
		if (policy_host_pattern_valid(ok[i], &why) != EPH_OK)
			fail_msg("refused \"%s\": %s", ok[i], why);
	}
	for (i = 0; i < NELEM(bad); i++) {
		why = NULL;
		if (policy_host_pattern_valid(bad[i], &why) != EPH_ERR_FORMAT)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(why);
	}
	/* Length caps: 63 per label, 253 in all. */
	memset(label, 'a', 63);
	strcpy(label + 63, ".com");
	assert_int_equal(policy_host_pattern_valid(label, &why), EPH_OK);
	memset(label, 'a', 64);
	strcpy(label + 64, ".com");
	assert_int_equal(policy_host_pattern_valid(label, &why), EPH_ERR_FORMAT);
	for (i = 0; i < 250; i += 2)
		memcpy(longname + i, "a.", 2);
	longname[250] = 'a';
	longname[251] = 'b';
	longname[252] = 'c';
	longname[253] = '\0';
	assert_int_equal(policy_host_pattern_valid(longname, &why), EPH_OK);
	longname[253] = 'd';
	longname[254] = '\0';
	assert_int_equal(policy_host_pattern_valid(longname, &why), EPH_ERR_FORMAT);
	assert_int_equal(policy_host_pattern_valid(NULL, &why), EPH_ERR_FORMAT);
}

static void
test_hostgroup_has(void **state)
{
	char *exact[] = {"app01.example.com", "db01.example.com", "db02.example.com"};
	char *suffixes[] = {".legacy.example.com"};
	struct policy_hostgroup g;

	memset(&g, 0, sizeof(g));
	g.name = "mixed";
	g.exact = exact;
	g.nexact = NELEM(exact);
	g.suffixes = suffixes;
	g.nsuffixes = NELEM(suffixes);
	assert_true(policy_hostgroup_has(&g, "db01.example.com"));
	assert_true(policy_hostgroup_has(&g, "DB02.Example.Com"));
	assert_true(policy_hostgroup_has(&g, "app01.example.com"));
	assert_false(policy_hostgroup_has(&g, "db03.example.com"));
	assert_false(policy_hostgroup_has(&g, "db01.example.com."));
	assert_false(policy_hostgroup_has(&g, "db01.example"));
	assert_true(policy_hostgroup_has(&g, "box1.legacy.example.com"));
	assert_true(policy_hostgroup_has(&g, "box2.LEGACY.example.com"));
	/* '*' is exactly one label. */
	assert_false(policy_hostgroup_has(&g, "a.b.LEGACY.example.com"));
	assert_false(policy_hostgroup_has(&g, "a.b.c.legacy.example.com"));
	assert_false(policy_hostgroup_has(&g, "legacy.example.com"));
	assert_false(policy_hostgroup_has(&g, "xlegacy.example.com"));
	assert_false(policy_hostgroup_has(&g, "*.legacy.example.com"));
	assert_false(policy_hostgroup_has(&g, ""));
	assert_false(policy_hostgroup_has(&g, NULL));
	assert_false(policy_hostgroup_has(NULL, "db01.example.com"));
	g.nexact = 0;
	g.nsuffixes = 0;
	assert_false(policy_hostgroup_has(&g, "db01.example.com"));
}

/* ----------------------------------------------------------------- NSS */

static void
test_unix_groups(void **state)
{
	char **groups = NULL;
	size_t n = 0, i;
	int found_root = 0;

	assert_int_equal(policy_unix_groups("root", &groups, &n), EPH_OK);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		assert_non_null(groups[i]);
		if (strcmp(groups[i], "root") == 0)
			found_root = 1;
		if (i > 0)
			assert_true(strcmp(groups[i - 1], groups[i]) < 0);
	}
	assert_true(found_root);
	policy_strv_free(groups, n);

	groups = (char **)1;
	n = 7;
	assert_int_equal(
	    policy_unix_groups("no-such-user-ephssh-test", &groups, &n), EPH_ERR_NOTFOUND);
	assert_null(groups);
	assert_int_equal(n, 0);
	assert_int_equal(policy_unix_groups("", &groups, &n), EPH_ERR_INVAL);
	assert_int_equal(policy_unix_groups(NULL, &groups, &n), EPH_ERR_INVAL);
	policy_strv_free(NULL, 0);
}

/* ------------------------------------------------- evaluation: example */

static const char *const H_DB01[] = {"db01.example.com"};
static const char *const H_STAGE[] = {"db-stage.example.com"};
static const char *const H_DB01_STAGE[] = {"db01.example.com", "db-stage.example.com"};
static const char *const H_GROUP_DB[] = {"@db"};
static const char *const H_APP[] = {"App7.Legacy.Example.COM"};
static const char *const G_DBADMINS[] = {"staff", "dbadmins"};
static const char *const G_OPS[] = {"ops"};

static void
test_eval_unknown_task(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "no-such-task", H_DB01, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	assert_int_equal(d.nreasons, 1);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "task", "no-such-task");
	assert_string_equal(d.task, "no-such-task");
	assert_string_equal(d.requester, "alice");
	assert_int_equal(d.nprincipals, 0);
	assert_null(d.principals);
	policy_decision_clear(&d);

	/* A typo gets the nearest task the requester may ask for... */
	r.task = "db-maitn";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	ASSERT_REASON(
	    &d, POLICY_REASON_DENY, "task", "no task named \"db-maitn\" (did you mean db-maint?)");
	policy_decision_clear(&d);
	r.task = "dbmaint";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "task", "(did you mean db-maint?)");
	policy_decision_clear(&d);
	/* ...but not one they may not (the name stays unknown to them)... */
	r.requester = "mallory";
	r.task = "db-maitn";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_null(strstr(d.reasons[0].text, "did you mean"));
	policy_decision_clear(&d);
	/* ...and nothing for a name far from every task. */
	r.requester = "alice";
	r.task = "zzzzzzzz";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_null(strstr(d.reasons[0].text, "did you mean"));
	policy_decision_clear(&d);
	r.task = "no-such-task";

	/* Request text lands in logs: only printable ASCII, and bounded. */
	{
		char longname[400];
		static const char *const odd[] = {"@db\nroot\x1b[2J"};

		r.task = "db\n-maint\"\xff";
		eval_ok(p, &r, AT(MON, 10, 0), &d);
		ASSERT_REASON(&d, POLICY_REASON_DENY, "task", "no task named \"db?-maint??\"");
		policy_decision_clear(&d);
		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		r.task = longname;
		eval_ok(p, &r, AT(MON, 10, 0), &d);
		assert_true(strlen(d.reasons[0].text) < 160);
		/* The reason quotes the name cut short, marked with "...". */
		ASSERT_REASON(&d, POLICY_REASON_DENY, "task", "xxx...");
		policy_decision_clear(&d);
		r.task = "db-maint";
		r.hosts = odd;
		eval_ok(p, &r, AT(MON, 10, 0), &d);
		ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "hostgroup @db?root?[2J is not");
		policy_decision_clear(&d);
	}
}

static void
test_eval_requesters(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_DB01, 1);
	struct policy_decision d;

	/* A user named in the policy group @dba. */
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_not_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "requesters", "@dba");
	policy_decision_clear(&d);

	/* Not in @dba, no groups. */
	r.requester = "mallory";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(
	    &d, POLICY_REASON_DENY, "requesters", "mallory may not request task db-maint");
	assert_int_equal(count_reasons(&d, POLICY_REASON_DENY, NULL), 1);
	policy_decision_clear(&d);

	/* Member of the Unix group %dbadmins, a member of @dba. */
	r.requester = "zoe";
	r.groups = G_DBADMINS;
	r.ngroups = NELEM(G_DBADMINS);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_not_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "requesters", "zoe");
	policy_decision_clear(&d);

	/* The Unix group named directly in the task (%ops), not here. */
	r.groups = G_OPS;
	r.ngroups = NELEM(G_OPS);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "requesters", NULL);
	policy_decision_clear(&d);

	r.task = "restart-app";
	r.hosts = (const char *const *)H_APP;
	r.nhosts = 1;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_not_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "requesters", "%ops");
	policy_decision_clear(&d);

	/* Group names are exact: "Ops" is not "ops". */
	{
		static const char *const g[] = {"Ops", "ops2"};

		r.groups = g;
		r.ngroups = NELEM(g);
		eval_ok(p, &r, AT(MON, 10, 0), &d);
		assert_int_equal(d.result, POLICY_DENY);
		policy_decision_clear(&d);
	}
}

static void
test_eval_hosts(void **state)
{
	struct policy *p = *state;
	static const char *const other[] = {"web01.example.com"};
	static const char *const legacy[] = {"@legacy"};
	static const char *const bad[] = {"*.legacy.example.com"};
	static const char *const base[] = {"legacy.example.com"};
	struct policy_request r = request("alice", "db-maint", other, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "web01.example.com is not one of the hosts");
	assert_int_equal(d.nprincipals, 0);
	policy_decision_clear(&d);

	r.hosts = legacy;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "@legacy");
	policy_decision_clear(&d);

	/* A name is lower-cased; '*' may span labels, as in sshd patterns. */
	r = request("carol", "restart-app", H_APP, 1);
	r.groups = G_OPS;
	r.ngroups = 1;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.nprincipals, 1);
	assert_string_equal(d.principals[0], "eph:restart-app@app7.legacy.example.com");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "hosts", "hostgroup @legacy");
	policy_decision_clear(&d);

	r.hosts = bad;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "not a valid host name");
	policy_decision_clear(&d);

	r.hosts = base;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	policy_decision_clear(&d);

	/* No host at all. */
	r.nhosts = 0;
	r.hosts = NULL;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "no host");
	policy_decision_clear(&d);
}

static void
test_eval_too_many_hosts(void **state)
{
	struct policy *p = *state;
	const char *hosts[POLICY_MAX_REQUEST_HOSTS + 1];
	struct policy_request r;
	struct policy_decision d;
	size_t i;

	for (i = 0; i < NELEM(hosts); i++)
		hosts[i] = "db01.example.com";
	r = request("alice", "db-maint", hosts, POLICY_MAX_REQUEST_HOSTS);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_not_equal(d.result, POLICY_DENY);
	assert_int_equal(d.nprincipals, 1); /* duplicates fold */
	policy_decision_clear(&d);
	r.nhosts = NELEM(hosts);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "at most 64");
	policy_decision_clear(&d);
}

static void
test_eval_group_request(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_GROUP_DB, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.nprincipals, 1);
	assert_string_equal(d.principals[0], "eph:db-maint@group:db");
	/* The hostgroup's own context: prod/high. */
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.ttl, 600);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "@db");
	policy_decision_clear(&d);
}

static void
test_eval_ttl(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_STAGE, 1);
	struct policy_decision d;

	/* No TTL asked: the task's default. */
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.ttl, 600);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "ttl", "default");
	assert_int_equal(count_reasons(&d, POLICY_REASON_CLAMP, NULL), 0);
	policy_decision_clear(&d);

	/* Within the task's max. */
	r.ttl = 720;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.ttl, 720);
	policy_decision_clear(&d);

	/* Above the task's max (15m): clamped, naming the task's limit. */
	r.ttl = 3600;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_not_equal(d.result, POLICY_DENY);
	assert_int_equal(d.ttl, 900);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "max_ttl of task db-maint");
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "clamped to 15m");
	policy_decision_clear(&d);

	/* On db01 the context caps it at 10m. */
	r.hosts = H_DB01;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.ttl, 600);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "context");
	policy_decision_clear(&d);
}

static void
test_eval_ttl_global(void **state)
{
	static const char text[] = "defaults = { max_ttl = \"30m\"; };\n"
	                           "tasks = ( { name = \"t\"; requesters = [ \"alice\" ]; hosts = "
	                           "[ \"h1.example.com\" ];\n"
	                           "  login_as = \"root\"; } );\n";
	static const char *const h[] = {"h1.example.com"};
	struct policy *p = load_text(text);
	struct policy_request r = request("alice", "t", h, 1);
	struct policy_decision d;

	r.ttl = 7200;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.ttl, 1800);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "defaults.max_ttl");
	policy_decision_clear(&d);

	/* Default TTL unset: the task's max, which is the global one. */
	r.ttl = 0;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.ttl, 1800);
	assert_int_equal(d.pending_timeout, 3600);
	policy_decision_clear(&d);
	policy_free(p);
}

static void
test_eval_reason(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_STAGE, 1);
	struct policy_decision d;

	r.reason = NULL;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason", "requires a reason");
	assert_int_equal(count_reasons(&d, POLICY_REASON_DENY, NULL), 1);
	assert_int_equal(d.nprincipals, 0);
	assert_int_equal(d.ttl, 0);
	policy_decision_clear(&d);

	r.reason = " \t ";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	policy_decision_clear(&d);

	/* A dot or a non-breaking space says nothing: a letter or digit is needed. */
	r.reason = ".";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason", "\".\" holds no letter or digit");
	policy_decision_clear(&d);
	r.reason = "\xc2\xa0";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason", "holds no letter or digit");
	policy_decision_clear(&d);

	r.reason = "INC-1";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "reason", NULL);
	policy_decision_clear(&d);
}

static void
test_eval_schedule(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("carol", "restart-app", H_APP, 1);
	static const struct policy_approval ok[] = {APPR("dave")};
	struct policy_decision d;

	r.groups = G_OPS;
	r.ngroups = 1;
	r.approvals = ok;
	r.napprovals = 1;
	eval_ok(p, &r, AT(MON, 6, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "schedule", "Mon 06:00");
	policy_decision_clear(&d);

	eval_ok(p, &r, AT(TUE, 21, 59), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	policy_decision_clear(&d);

	eval_ok(p, &r, AT(TUE, 22, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "schedule", "Tue 22:00 (local time) is outside");
	policy_decision_clear(&d);

	eval_ok(p, &r, AT(SAT, 12, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "schedule", "Sat 12:00");
	assert_int_equal(count_reasons(&d, POLICY_REASON_DENY, NULL), 1);
	policy_decision_clear(&d);

	eval_ok(p, &r, AT(SUN, 5, 59), &d);
	assert_int_equal(d.result, POLICY_DENY);
	policy_decision_clear(&d);
}

static void
test_eval_source_requester(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_STAGE, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_string_equal(d.source_address, "192.0.2.10");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "source_address", "192.0.2.10");
	policy_decision_clear(&d);

	/* What sshd will see: the IPv4 address, not the mapped form. */
	r.source_address = "::ffff:192.0.2.10";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_string_equal(d.source_address, "192.0.2.10");
	policy_decision_clear(&d);

	r.source_address = "2001:DB8:0:0::1";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_string_equal(d.source_address, "2001:db8::1");
	policy_decision_clear(&d);

	r.source_address = NULL;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "source_address", "unknown");
	assert_null(d.source_address);
	policy_decision_clear(&d);

	r.source_address = "client.example.com";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "source_address", "not an IP address");
	policy_decision_clear(&d);
}

static const char cidr_policy[] =
    "defaults = { max_ttl = \"1h\"; };\n"
    "tasks = (\n"
    "  { name = \"net\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; source_address = \"10.0.0.0/8,2001:db8::/32\"; },\n"
    "  { name = \"free\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; source_address = \"none\"; }\n"
    ");\n";

static void
test_eval_source_cidr(void **state)
{
	static const char *const h[] = {"h1.example.com"};
	struct policy *p = load_text(cidr_policy);
	struct policy_request r = request("alice", "net", h, 1);
	struct policy_decision d;

	r.source_address = "10.20.30.40";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_string_equal(d.source_address, "10.0.0.0/8,2001:db8::/32");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "source_address", "inside");
	policy_decision_clear(&d);

	r.source_address = "2001:db8:1::5";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	policy_decision_clear(&d);

	r.source_address = "192.0.2.1";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "source_address", "192.0.2.1 is outside");
	assert_null(d.source_address);
	policy_decision_clear(&d);

	r.source_address = NULL;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	policy_decision_clear(&d);

	/* "none": not bound, the address does not matter. */
	r.task = "free";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_null(d.source_address);
	assert_int_equal(count_reasons(&d, POLICY_REASON_ALLOW, "source_address"), 0);
	policy_decision_clear(&d);
	policy_free(p);
}

static void
test_eval_approvals(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_DB01, 1);
	struct policy_decision d;
	static const struct policy_approval one[] = {APPR("carol")};
	static const struct policy_approval dup[] = {APPR("carol"), APPR("carol")};
	static const struct policy_approval two[] = {APPR("carol"), APPR("dave")};
	static const struct policy_approval strangers[] = {APPR("eve"), APPR("bob"), APPR("carol")};

	/* db01 is prod/high: 2 approvals from @leads. */
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.approvals_valid, 0);
	assert_int_equal(d.napprover_sets, 1);
	assert_string_equal(d.approver_sets[0], "@leads");
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "waiting for 2 more from @leads");
	/* Pending still says what would be issued. */
	assert_int_equal(d.nprincipals, 1);
	assert_string_equal(d.principals[0], "eph:db-maint@db01.example.com");
	assert_int_equal(d.pending_timeout, 3600);
	policy_decision_clear(&d);

	r.approvals = one;
	r.napprovals = NELEM(one);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "approved by carol (via @leads)");
	policy_decision_clear(&d);

	/* The same person twice is one approval. */
	r.approvals = dup;
	r.napprovals = NELEM(dup);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "duplicate");
	policy_decision_clear(&d);

	/* Non-approvers do not count, not even a fellow requester. */
	r.approvals = strangers;
	r.napprovals = NELEM(strangers);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "eve is not an approver");
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "bob is not an approver");
	policy_decision_clear(&d);

	r.approvals = two;
	r.napprovals = NELEM(two);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_valid, 2);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "2 of 2");
	policy_decision_clear(&d);
}

static const char self_policy[] =
    "defaults = { max_ttl = \"30m\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\", \"%managers\" ]; };\n"
    "tasks = ( { name = \"deploy\"; requesters = [ \"carol\", \"erin\" ];\n"
    "  approvers = [ \"@leads\", \"frank\", \"%sre\" ]; approvals = 2;\n"
    "  hosts = [ \"*.example.com\" ]; login_as = \"deploy\"; } );\n";

static void
test_eval_self_approval(void **state)
{
	static const char *const h[] = {"web1.example.com"};
	static const char *const mgr[] = {"managers"};
	static const char *const sre[] = {"sre"};
	struct policy *p = load_text(self_policy);
	struct policy_request r = request("carol", "deploy", h, 1);
	struct policy_decision d;
	struct policy_approval a[3];
	const char *why;

	/* carol is in @leads, yet never approves her own request. */
	memset(a, 0, sizeof(a));
	a[0].user = "carol";
	a[1].user = "dave";
	r.approvals = a;
	r.napprovals = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "carol cannot approve their own");
	policy_decision_clear(&d);

	/* A named approver and approvers through Unix groups, direct or in @leads. */
	a[0].user = "frank";
	a[1].user = "gina";
	a[1].groups = mgr;
	a[1].ngroups = 1;
	a[2].user = "hank";
	a[2].groups = sre;
	a[2].ngroups = 1;
	r.napprovals = 3;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_valid, 3);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "frank (a named approver)");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "gina (via @leads)");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "hank (via %sre)");
	policy_decision_clear(&d);

	assert_int_equal(policy_may_approve(p, "deploy", "carol", &a[0], &why), EPH_OK);
	assert_int_equal(policy_may_approve(p, "deploy", "carol", &a[1], &why), EPH_OK);
	a[0].user = "carol";
	assert_int_equal(policy_may_approve(p, "deploy", "carol", &a[0], &why), EPH_ERR_PERM);
	assert_non_null(strstr(why, "own request"));
	a[0].user = "zed";
	assert_int_equal(policy_may_approve(p, "deploy", "carol", &a[0], &why), EPH_ERR_PERM);
	assert_non_null(strstr(why, "not an approver"));
	a[0].user = "dave";
	assert_int_equal(policy_may_approve(p, "nope", "carol", &a[0], &why), EPH_ERR_PERM);
	assert_non_null(strstr(why, "no such task"));
	assert_int_equal(policy_may_approve(p, "deploy", "carol", NULL, &why), EPH_ERR_INVAL);
	policy_free(p);
}

/*
 * Names are raw strings: with SSSD/AD, "Alice" and "ALICE" are alice.
 * The caller resolves them (policy_identity_resolve) and evaluation
 * tells people apart by uid then.
 */
static void
test_eval_identities(void **state)
{
	static const char *const h[] = {"web1.example.com"};
	struct policy *p = load_text(self_policy);
	struct policy_request r = request("carol", "deploy", h, 1);
	struct policy_decision d;
	struct policy_approval a[3];
	char *canon = NULL;
	uid_t uid = 12345;

	/* Two spellings of one account (uid 1001) count once. */
	memset(a, 0, sizeof(a));
	a[0].user = "frank";
	a[0].id = POLICY_ID_RESOLVED;
	a[0].uid = 1001;
	a[1] = a[0];
	a[1].user = "Frank";
	r.approvals = a;
	r.napprovals = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "Frank already approved");
	policy_decision_clear(&d);

	/* The requester under another spelling is still the requester. */
	r.requester_id = POLICY_ID_RESOLVED;
	r.requester_uid = 1001;
	r.requester = "frank";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_valid, 0);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "Frank cannot approve their own");
	policy_decision_clear(&d);

	/* Without uids, names are compared as given. */
	r.requester_id = POLICY_ID_AS_GIVEN;
	r.requester = "carol";
	a[0].id = a[1].id = POLICY_ID_AS_GIVEN;
	a[1].user = "dave";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_valid, 2);
	assert_int_equal(d.result, POLICY_ISSUE);
	policy_decision_clear(&d);

	/* An approver NSS does not know does not count. */
	a[1].id = POLICY_ID_UNKNOWN;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "dave is not known to NSS");
	policy_decision_clear(&d);

	/* Neither do names a key id could not hold. */
	a[1].id = POLICY_ID_AS_GIVEN;
	a[1].user = "da ve";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_valid, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals", "approver name \"da ve\" holds a space");
	policy_decision_clear(&d);

	/* A requester NSS does not know, or whose name cannot be in a key id: denied. */
	r.requester_id = POLICY_ID_UNKNOWN;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "requesters", "carol is not known to NSS");
	policy_decision_clear(&d);
	r.requester_id = POLICY_ID_AS_GIVEN;
	r.requester = "carol:x";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "requesters", "holds ':'");
	policy_decision_clear(&d);
	policy_free(p);

	/* The NSS side, on accounts every system has. */
	assert_int_equal(policy_identity_resolve("root", &canon, &uid), EPH_OK);
	assert_string_equal(canon, "root");
	assert_int_equal(uid, 0);
	free(canon);
	assert_int_equal(policy_identity_resolve("daemon", &canon, &uid), EPH_OK);
	assert_string_equal(canon, "daemon");
	assert_true(uid != 0);
	free(canon);
	assert_int_equal(
	    policy_identity_resolve("no-such-user-ephssh-test", &canon, &uid), EPH_ERR_NOTFOUND);
	assert_null(canon);
	assert_int_equal(policy_identity_resolve("root:x", &canon, &uid), EPH_ERR_INVAL);
	assert_int_equal(policy_identity_resolve("ro ot", &canon, &uid), EPH_ERR_INVAL);
	assert_int_equal(policy_identity_resolve("", &canon, &uid), EPH_ERR_INVAL);
	assert_null(policy_identity_problem("svc-backup$"));
	assert_non_null(policy_identity_problem("a\tb"));
	assert_non_null(policy_identity_problem("caf\xc3\xa9"));
}

static const char deny_policy[] =
    "defaults = { max_ttl = \"30m\"; deny = [ \"%contractors\" ]; };\n"
    "groups = { ops = [ \"alice\", \"mallory\", \"%ops\" ]; interns = [ \"ivan\" ]; };\n"
    "tasks = ( { name = \"t\"; requesters = [ \"@ops\", \"@interns\" ];\n"
    "  deny = [ \"mallory\", \"@interns\" ];\n"
    "  reason_pattern = \"^(INC|CHG)-[0-9]+ \";\n"
    "  hosts = [ \"*.example.com\" ]; login_as = \"root\"; } );\n";

/* A denied requester never gets the task, whatever else matches. */
static void
test_eval_deny(void **state)
{
	static const char *const h[] = {"web1.example.com"};
	static const char *const contractors[] = {"ops", "contractors"};
	struct policy *p = load_text(deny_policy);
	struct policy_request r = request("alice", "t", h, 1);
	struct policy_decision d;

	r.reason = "INC-1 disk full";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(count_reasons(&d, POLICY_REASON_DENY, "deny"), 0);
	policy_decision_clear(&d);

	r.requester = "mallory";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "deny",
	    "mallory is refused task t by mallory in the deny list of the task");
	assert_int_equal(d.nprincipals, 0);
	policy_decision_clear(&d);

	r.requester = "ivan";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "deny", "by @interns in the deny list of the task");
	policy_decision_clear(&d);

	/* defaults.deny, through a Unix group, even for a member of @ops. */
	r.requester = "carl";
	r.groups = contractors;
	r.ngroups = NELEM(contractors);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "requesters", "via @ops");
	ASSERT_REASON(
	    &d, POLICY_REASON_DENY, "deny", "by %contractors in the deny list of defaults");
	policy_decision_clear(&d);
	policy_free(p);
}

/* reason_pattern: a reason that does not match is a deny quoting it. */
static void
test_eval_reason_pattern(void **state)
{
	static const char *const h[] = {"web1.example.com"};
	struct policy *p = load_text(deny_policy);
	struct policy_request r = request("alice", "t", h, 1);
	struct policy_decision d;

	r.reason = "CHG-42 rotate certificates";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "reason", "matching \"^(INC|CHG)-[0-9]+ \"");
	policy_decision_clear(&d);

	r.reason = "fixing stuff";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason",
	    "reason \"fixing stuff\" does not match the reason_pattern of task t, "
	    "\"^(INC|CHG)-[0-9]+ \"");
	policy_decision_clear(&d);

	/* No reason at all: required by the pattern. */
	r.reason = NULL;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason", "requires a reason");
	policy_decision_clear(&d);
	policy_free(p);
}

static const char clause_policy[] =
    "defaults = { max_ttl = \"30m\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\" ]; sec = [ \"dave\", \"sam\", \"%security\" ]; };\n"
    "hostgroups = { prod = { hosts = [ \"p1.example.com\" ]; env = \"prod\"; }; };\n"
    "tasks = ( { name = \"t\"; requesters = [ \"alice\", \"carol\" ];\n"
    "  approvals = ( { from = [ \"@leads\" ]; count = 1; },\n"
    "                { from = [ \"@sec\" ]; count = 1; } );\n"
    "  when = ( { env = \"prod\"; approvals = ( { from = [ \"@leads\" ]; count = 2; },\n"
    "                                           { from = [ \"@sec\" ]; } ); } );\n"
    "  hosts = [ \"*.example.com\" ]; login_as = \"root\"; } );\n";

/* A host in a prod and a staging hostgroup: the prod context's clauses
 * hold for it, though staging's entry needs none; the staging host alone
 * needs none. (Per-context conditions and clause-form when entries.) */
static const char clause_context_policy[] =
    "groups = { leads = [ \"carol\", \"dave\" ]; sec = [ \"sam\", \"tom\" ]; };\n"
    "hostgroups = { prod = { hosts = [ \"both.example.com\" ]; env = \"prod\"; };\n"
    "  stage = { hosts = [ \"both.example.com\", \"st.example.com\" ]; env = \"staging\"; }; };\n"
    "tasks = ( { name = \"t\"; requesters = [ \"alice\" ]; approvers = [ \"@leads\" ];\n"
    "  approvals = 1;\n"
    "  when = ( { env = \"prod\"; approvals = ( { from = [ \"@leads\" ]; count = 1; },\n"
    "                                           { from = [ \"@sec\" ]; } ); },\n"
    "           { env = \"staging\"; approvals = 0; } );\n"
    "  hosts = [ \"@prod\", \"@stage\" ]; login_as = \"root\"; } );\n";

static void
test_eval_clauses_per_context(void **state)
{
	static const char *const both[] = {"both.example.com"};
	static const char *const st[] = {"st.example.com"};
	static const char *const at_stage[] = {"@stage"};
	struct policy *p = load_text(clause_context_policy);
	struct policy_request r = request("alice", "t", both, 1);
	struct policy_approval a[2] = {APPR("carol"), APPR("dave")};
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.nclauses, 2);
	policy_decision_clear(&d);
	/* Two leads meet the count but not the @sec clause. */
	r.approvals = a;
	r.napprovals = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	policy_decision_clear(&d);
	a[1].user = "sam";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	policy_decision_clear(&d);
	/* A request for @stage stands for both.example.com too. */
	r.hosts = at_stage;
	r.napprovals = 0;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.nclauses, 2);
	policy_decision_clear(&d);
	r.hosts = st;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	policy_decision_clear(&d);
	policy_free(p);
	(void)state;
}

/* Approvals from several groups at once: every clause met, by distinct
 * people, each counting toward one clause only. */
static void
test_eval_clauses(void **state)
{
	static const char *const h[] = {"web1.example.com"};
	static const char *const prod[] = {"p1.example.com"};
	static const char *const security[] = {"security"};
	struct policy *p = load_text(clause_policy);
	struct policy_request r = request("alice", "t", h, 1);
	struct policy_decision d;
	struct policy_approval a[3];
	const char *why;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.nclauses, 2);
	assert_int_equal(d.napprover_sets, 2);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "approvals",
	    "clause 2 (@sec): 0 of 1 approvals; waiting for 1 more from @sec");
	policy_decision_clear(&d);

	/* dave is in both: one person meets one clause only. */
	memset(a, 0, sizeof(a));
	a[0].user = "dave";
	r.approvals = a;
	r.napprovals = 1;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_valid, 1);
	policy_decision_clear(&d);

	/* dave then sam: dave must take @leads for sam to meet @sec. */
	a[1].user = "sam";
	r.napprovals = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_valid, 2);
	assert_int_equal(d.clauses[0].napprovers, 1);
	assert_string_equal(d.clauses[0].approvers[0], "dave");
	assert_string_equal(d.clauses[1].approvers[0], "sam");
	ASSERT_REASON(
	    &d, POLICY_REASON_ALLOW, "approvals", "approved by sam (via @sec), for clause 2");
	policy_decision_clear(&d);

	/* Two leads and nobody from security: one clause still waits. */
	a[0].user = "carol";
	a[1].user = "dave";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE); /* dave can take @sec */
	policy_decision_clear(&d);
	a[1].user = "eve";
	a[1].groups = security;
	a[1].ngroups = 1;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "approved by eve (via @sec)");
	policy_decision_clear(&d);

	/* The prod context's clauses: 2 leads and one from @sec, all distinct. */
	r.hosts = prod;
	a[0].user = "carol";
	a[1].user = "dave";
	a[1].groups = NULL;
	a[1].ngroups = 0;
	a[2].user = "sam";
	r.napprovals = 3;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 3);
	policy_decision_clear(&d);
	r.napprovals = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_valid, 2);
	policy_decision_clear(&d);

	/* carol asks: she cannot approve her own, and then @leads has only
	 * dave, so the prod clauses can never be met: deny, not pending. */
	r.requester = "carol";
	r.napprovals = 0;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING); /* %security might have people */
	policy_decision_clear(&d);

	/* An approver of any clause may approve. */
	a[0].user = "sam";
	assert_int_equal(policy_may_approve(p, "t", "alice", &a[0], &why), EPH_OK);
	a[0].user = "carol";
	assert_int_equal(policy_may_approve(p, "t", "alice", &a[0], &why), EPH_OK);
	a[0].user = "zed";
	assert_int_equal(policy_may_approve(p, "t", "alice", &a[0], &why), EPH_ERR_PERM);
	a[0].groups = security;
	a[0].ngroups = 1;
	assert_int_equal(policy_may_approve(p, "t", "alice", &a[0], &why), EPH_OK);
	policy_free(p);
}

static const char static_policy[] =
    "defaults = { max_ttl = \"30m\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\" ]; };\n"
    "tasks = ( { name = \"t\"; requesters = [ \"alice\", \"%ops\" ];\n"
    "  approvers = [ \"@leads\" ]; approvals = 2;\n"
    "  hosts = [ \"*.example.com\" ]; login_as = \"root\"; } );\n";

/* A requester who is one of too few possible approvers: never approvable,
 * so a deny that says so rather than a request pending for ever. */
static void
test_eval_cannot_be_approved(void **state)
{
	static const char *const h[] = {"web1.example.com"};
	static const char *const ops[] = {"ops"};
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	struct policy_request r = request("alice", "t", h, 1);
	struct policy_decision d;

	/* Loads, with a warning: a %ops requester could be carol or dave. */
	assert_int_equal(policy_load_string(static_policy, "s.conf", &p, &errs), EPH_OK);
	assert_int_equal(p->warnings.n, 1);
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	policy_decision_clear(&d);

	r.requester = "carol";
	r.groups = ops;
	r.ngroups = 1;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "approvals",
	    "cannot be approved: 2 approvals are needed from people other than carol, and at "
	    "most 1 of the approvers (@leads) can give them");
	assert_int_equal(d.nprincipals, 0);
	policy_decision_clear(&d);
	policy_free(p);
}

static const char login_policy[] =
    "defaults = { max_ttl = \"30m\"; };\n"
    "tasks = ( { name = \"db\"; requesters = [ \"alice\" ];\n"
    "  hosts = [ \"*.example.com\" ]; login_as = [ \"postgres\", \"barman\" ]; } );\n";

/* A request may name any of the task's accounts; the first is the default. */
static void
test_eval_login_as(void **state)
{
	static const char *const h[] = {"db1.example.com"};
	struct policy *p = load_text(login_policy);
	struct policy_request r = request("alice", "db", h, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_string_equal(d.login_as, "postgres");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "login_as", "postgres (the task's default)");
	policy_decision_clear(&d);

	r.login_as = "barman";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_string_equal(d.login_as, "barman");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "login_as", "logs in as barman");
	policy_decision_clear(&d);

	r.login_as = "root";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	assert_string_equal(d.login_as, "");
	assert_int_equal(d.nprincipals, 0);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "login_as",
	    "task db does not allow logging in as root (login_as: postgres, barman)");
	policy_decision_clear(&d);
	policy_free(p);
}

static void
test_eval_break_glass(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("carol", "break-glass", H_DB01, 1);
	struct policy_decision d;
	const char *why;
	struct policy_approval a = APPR("dave");

	r.reason = "INC-9 database down";
	eval_ok(p, &r, AT(SAT, 3, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	assert_true(d.break_glass);
	assert_true(d.review_required);
	assert_string_equal(d.login_as, "root");
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "break_glass", "flagged for review");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "reason", NULL);
	/* Context still caps the TTL. */
	assert_int_equal(d.ttl, 1800);
	policy_decision_clear(&d);

	r.reason = "";
	eval_ok(p, &r, AT(SAT, 3, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason", "break-glass requires a reason");
	assert_false(d.review_required);
	assert_int_equal(d.nprincipals, 0);
	policy_decision_clear(&d);

	/* Only the listed requesters. */
	r.requester = "alice";
	r.reason = "INC-9";
	eval_ok(p, &r, AT(SAT, 3, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	policy_decision_clear(&d);

	/* The task has no approvers. */
	assert_int_equal(policy_may_approve(p, "break-glass", "carol", &a, &why), EPH_ERR_PERM);
}

static void
test_eval_several_hosts(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_STAGE, 1);
	struct policy_decision d;

	/* db-stage alone: staging needs no approval. */
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	assert_int_equal(d.ttl, 600);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "env staging");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "approvals", "no approval needed");
	policy_decision_clear(&d);

	/* db01: 2 approvals, 10m. */
	r.hosts = H_DB01;
	r.ttl = 900;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.ttl, 600);
	policy_decision_clear(&d);

	/* Both: the most restrictive over all of them, in either order. */
	r.hosts = H_DB01_STAGE;
	r.nhosts = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.ttl, 600);
	assert_int_equal(d.nprincipals, 2);
	assert_true(has_principal(&d, "eph:db-maint@db01.example.com"));
	assert_true(has_principal(&d, "eph:db-maint@db-stage.example.com"));
	policy_decision_clear(&d);
	{
		static const char *const rev[] = {"db-stage.example.com", "db01.example.com"};

		r.hosts = rev;
		eval_ok(p, &r, AT(MON, 10, 0), &d);
		assert_int_equal(d.approvals_required, 2);
		assert_int_equal(d.ttl, 600);
		policy_decision_clear(&d);
	}

	/* One host outside the task denies the whole request. */
	{
		static const char *const mixed[] = {"db-stage.example.com", "web9.example.com"};

		r.hosts = mixed;
		eval_ok(p, &r, AT(MON, 10, 0), &d);
		assert_int_equal(d.result, POLICY_DENY);
		assert_int_equal(d.nprincipals, 0);
		ASSERT_REASON(&d, POLICY_REASON_ALLOW, "hosts", "db-stage.example.com");
		ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "web9.example.com");
		policy_decision_clear(&d);
	}
}

/* A host in several hostgroups gets every matching "when" entry; entries
 * that set a field override the task (downwards too), the strictest
 * matching entry wins, and a task's literal pattern carries no context. */
static const char context_policy[] =
    "defaults = { max_ttl = \"2h\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\", \"erin\", \"frank\" ]; };\n"
    "hostgroups = {\n"
    "  pci  = { hosts = [ \"pay01.example.com\" ]; sensitivity = \"high\"; };\n"
    "  prod = { hosts = [ \"pay01.example.com\", \"web01.example.com\" ]; env = \"prod\"; };\n"
    "  dev  = { hosts = [ \"*.dev.example.com\" ]; env = \"dev\"; };\n"
    "};\n"
    "tasks = ( { name = \"ops\"; requesters = [ \"alice\" ]; approvers = [ \"@leads\" ];\n"
    "  approvals = 1; hosts = [ \"@prod\", \"@dev\", \"lab.example.com\" ];\n"
    "  login_as = \"root\"; max_ttl = \"1h\";\n"
    "  when = ( { env = \"prod\"; approvals = 2; max_ttl = \"45m\"; },\n"
    "           { sensitivity = \"high\"; approvals = 3; max_ttl = \"20m\"; },\n"
    "           { env = \"prod\"; sensitivity = \"high\"; max_ttl = \"30m\"; },\n"
    "           { env = \"dev\"; approvals = 0; } ); } );\n";

static void
test_eval_context(void **state)
{
	struct policy *p = load_text(context_policy);
	static const char *const web[] = {"web01.example.com"};
	static const char *const pay[] = {"pay01.example.com"};
	static const char *const dev[] = {"box.dev.example.com"};
	static const char *const lab[] = {"lab.example.com"};
	static const char *const dev_lab[] = {"box.dev.example.com", "lab.example.com"};
	struct policy_request r = request("alice", "ops", web, 1);
	struct policy_decision d;

	r.ttl = 7200;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.ttl, 45 * 60);
	policy_decision_clear(&d);

	/* pay01 is in prod and pci (high) though the task names only @prod. */
	r.hosts = pay;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 3);
	assert_int_equal(d.ttl, 20 * 60);
	/* One context per hostgroup: the prod-and-high entry matches neither. */
	assert_int_equal(count_reasons(&d, POLICY_REASON_NOTE, "context"), 2);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "context");
	policy_decision_clear(&d);

	/* dev lowers approvals to 0; the TTL stays the task's. */
	r.hosts = dev;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	assert_int_equal(d.ttl, 3600);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "max_ttl of task ops");
	policy_decision_clear(&d);

	/* No hostgroup, no context: the task's own conditions. */
	r.hosts = lab;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 1);
	assert_int_equal(count_reasons(&d, POLICY_REASON_NOTE, "context"), 0);
	policy_decision_clear(&d);

	/* dev (0) with lab (the task's 1): 1. */
	r.hosts = dev_lab;
	r.nhosts = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 1);
	assert_int_equal(d.result, POLICY_PENDING);
	policy_decision_clear(&d);
	policy_free(p);
}

/* Hostgroups that share hosts, with different contexts. */
static const char overlap_policy[] =
    "defaults = { max_ttl = \"1h\"; };\n"
    "groups = { leads = [ \"carol\", \"dave\" ]; };\n"
    "hostgroups = {\n"
    "  db = { hosts = [ \"db01.example.com\", \"db02.example.com\" ]; env = \"prod\";\n"
    "         sensitivity = \"high\"; };\n"
    "  stage = { hosts = [ \"db01.example.com\", \"db-stage.example.com\" ]; env = \"staging\"; "
    "};\n"
    "  prodapps = { hosts = [ \"app01.example.com\", \"*.web.example.com\" ]; env = \"prod\"; };\n"
    "  stageapps = { hosts = [ \"app01.example.com\" ]; env = \"staging\"; };\n"
    "  webstage = { hosts = [ \"w1.web.example.com\" ]; env = \"staging\"; };\n"
    "  lab = { hosts = [ \"*.lab.example.com\" ]; env = \"staging\"; };\n"
    "  lab2 = { hosts = [ \"*.lab.example.com\" ]; env = \"prod\"; };\n"
    "  deep = { hosts = [ \"a.b.lab.example.com\" ]; env = \"staging\"; };\n"
    "  twin = { hosts = [ \"db-stage.example.com\" ]; env = \"staging\"; };\n"
    "};\n"
    "tasks = ( { name = \"db-maint\"; requesters = [ \"alice\" ]; approvers = [ \"@leads\" ];\n"
    "  approvals = 1; login_as = \"postgres\"; max_ttl = \"15m\";\n"
    "  hosts = [ \"@db\", \"@stage\", \"@prodapps\", \"@stageapps\", \"@webstage\", \"@lab\",\n"
    "            \"@lab2\", \"@deep\", \"@twin\" ];\n"
    "  when = ( { env = \"prod\"; sensitivity = \"high\"; approvals = 2; max_ttl = \"10m\"; },\n"
    "           { env = \"staging\"; approvals = 0; } ); } );\n";

/* Issue 12, item 1: "@stage" stands for db01 too, which is in db. */
static void
test_eval_group_request_overlap(void **state)
{
	struct policy *p = load_text(overlap_policy);
	static const char *const stage[] = {"@stage"};
	static const char *const db01[] = {"db01.example.com"};
	static const char *const dbstage[] = {"db-stage.example.com"};
	static const char *const webstage[] = {"@webstage"};
	static const char *const lab[] = {"@lab"};
	static const char *const deep[] = {"@deep"};
	static const char *const twin[] = {"@twin"};
	struct policy_request r = request("alice", "db-maint", db01, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.ttl, 600);
	policy_decision_clear(&d);

	r.hosts = stage;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 2);
	assert_int_equal(d.ttl, 600);
	assert_string_equal(d.principals[0], "eph:db-maint@group:stage");
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "@db, which shares hosts with it");
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "context");
	policy_decision_clear(&d);

	/* db-stage alone is only staging (and twin, staging too). */
	r.hosts = dbstage;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	policy_decision_clear(&d);
	r.hosts = twin;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	policy_decision_clear(&d);

	/* A name under a pattern of another hostgroup: prod, no entry: 1. */
	r.hosts = webstage;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "@prodapps, which shares hosts");
	policy_decision_clear(&d);

	/* The same pattern in two hostgroups. */
	r.hosts = lab;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 1);
	policy_decision_clear(&d);

	/* a.b.lab is not under "*.lab.example.com": no overlap. */
	r.hosts = deep;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.approvals_required, 0);
	policy_decision_clear(&d);
	policy_free(p);
}

/* Issue 12, item 2: a when entry loosens a host only in every context. */
static void
test_eval_context_per_hostgroup(void **state)
{
	struct policy *p = load_text(overlap_policy);
	static const char *const app01[] = {"app01.example.com"};
	static const char *const stageapps[] = {"@stageapps"};
	static const char *const x_lab[] = {"x.lab.example.com"};
	static const char *const two[] = {"app01.example.com", "db-stage.example.com"};
	struct policy_request r = request("alice", "db-maint", app01, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_PENDING);
	assert_int_equal(d.approvals_required, 1);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "in hostgroup @prodapps (env prod");
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "no when entry applies");
	policy_decision_clear(&d);

	r.hosts = stageapps;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 1);
	policy_decision_clear(&d);

	/* Under two patterns, staging and prod. */
	r.hosts = x_lab;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 1);
	policy_decision_clear(&d);

	/* The same as one host in each context. */
	r.hosts = two;
	r.nhosts = 2;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.approvals_required, 1);
	policy_decision_clear(&d);
	policy_free(p);
}

/* Issue 12, item 8: '*' is one label. */
static void
test_eval_wildcard_one_label(void **state)
{
	struct policy *p = *state;
	static const char *const one[] = {"app1.legacy.example.com"};
	static const char *const many[] = {"a.b.c.legacy.example.com"};
	struct policy_request r = request("carol", "break-glass", one, 1);
	struct policy_decision d;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	policy_decision_clear(&d);
	r.hosts = many;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "a.b.c.legacy.example.com is not one");
	policy_decision_clear(&d);
	assert_false(
	    policy_host_pattern_match("*.legacy.example.com", "a.b.legacy.example.com", 22));
	assert_true(policy_host_pattern_match("*.legacy.example.com", "b.legacy.example.com", 20));
	assert_false(policy_host_pattern_match("*.legacy.example.com", ".legacy.example.com", 19));
}

/* Issue 12, item 10: the CA's own cap, with a reason naming ca.conf. */
static void
test_eval_ca_max_ttl(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_STAGE, 1);
	struct policy_decision d;

	r.ttl = 900;
	r.ca_max_ttl = 300;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.ttl, 300);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ca_max_ttl", "ca.conf");
	policy_decision_clear(&d);

	/* Above the policy's limit: the policy's clamp alone. */
	r.ttl = 3600;
	r.ca_max_ttl = 1200;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.ttl, 900);
	assert_int_equal(count_reasons(&d, POLICY_REASON_CLAMP, "ca_max_ttl"), 0);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "max_ttl of task db-maint");
	policy_decision_clear(&d);
}

static const char schedule_policy[] =
    "defaults = { max_ttl = \"12h\"; };\n"
    "tasks = (\n"
    "  { name = \"night\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; schedule = [ \"Mon 22:00-06:00\" ]; },\n"
    "  { name = \"chain\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\";\n"
    "    schedule = [ \"Mon-Fri 18:00-24:00\", \"Tue-Sat 00:00-02:00\" ]; },\n"
    "  { name = \"adjacent\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; schedule = [ \"Mon 08:00-12:00\", \"Mon 12:00-13:00\" ]; },\n"
    "  { name = \"gap\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; schedule = [ \"Mon 08:00-12:00\", \"Mon 12:01-13:00\" ]; },\n"
    "  { name = \"overlap\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; schedule = [ \"Mon 08:00-12:00\", \"Mon 09:00-10:00\" ]; },\n"
    "  { name = \"always\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; schedule = [ \"Mon-Sun 00:00-24:00\" ]; },\n"
    "  { name = \"ends\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; valid_until = \"2024-01-01T12:00\"; }\n"
    ");\n";

/* Issue 12, item 11: a certificate ends with the schedule window that
 * admitted its request. */
static void
test_eval_schedule_window_end(void **state)
{
	struct policy *ex = load_example(), *p = load_text(schedule_policy);
	static const char *const h[] = {"h1.example.com"};
	static const struct policy_approval ok[] = {APPR("dave")};
	struct policy_request r = request("carol", "restart-app", H_APP, 1);
	struct policy_decision d;
	static const struct {
		const char *task;
		time_t at;
		uint64_t want, ttl;
	} cases[] = {
	    {"night", AT(MON, 23, 0), 12 * 3600, 7 * 3600}, /* past midnight */
	    {"night", AT(TUE, 5, 0), 12 * 3600, 3600}, /* the next morning */
	    {"chain", AT(MON, 23, 30), 4 * 3600, 9000}, /* on into Tue 02:00 */
	    {"adjacent", AT(MON, 11, 0), 3 * 3600, 2 * 3600},
	    {"gap", AT(MON, 11, 0), 3 * 3600, 3600},
	    {"overlap", AT(MON, 9, 30), 3 * 3600, 2 * 3600 + 1800},
	    {"always", AT(MON, 23, 50), 3600, 3600},
	    {"always", AT(SUN, 23, 0), 12 * 3600, 12 * 3600}, /* over the week end */
	};
	size_t i;

	r.groups = G_OPS;
	r.ngroups = 1;
	r.approvals = ok;
	r.napprovals = 1;
	eval_ok(ex, &r, AT(TUE, 21, 59), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.ttl, 60);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "schedule", "ends Tue 22:00 (local time)");
	policy_decision_clear(&d);
	eval_ok(ex, &r, AT(TUE, 21, 59) + 30, &d);
	assert_int_equal(d.ttl, 30);
	policy_decision_clear(&d);
	eval_ok(ex, &r, AT(TUE, 21, 0), &d);
	assert_int_equal(d.ttl, 300);
	assert_int_equal(count_reasons(&d, POLICY_REASON_CLAMP, "schedule"), 0);
	policy_decision_clear(&d);

	r = request("alice", "night", h, 1);
	for (i = 0; i < NELEM(cases); i++) {
		r.task = cases[i].task;
		r.ttl = cases[i].want;
		eval_ok(p, &r, cases[i].at, &d);
		if (d.result != POLICY_ISSUE || d.ttl != cases[i].ttl) {
			dump(&d);
			fail_msg("%s case %zu: ttl %llu, want %llu", cases[i].task, i,
			    (unsigned long long)d.ttl, (unsigned long long)cases[i].ttl);
		}
		policy_decision_clear(&d);
	}

	/* DST: 2024-03-10 skips 02:00-03:00 in New York, so a window from
	 * 01:00 EST to 04:00 local is two hours long, not three. */
	if (access("/usr/share/zoneinfo/America/New_York", R_OK) == 0) {
		static const char dst[] =
		    "defaults = { max_ttl = \"12h\"; };\n"
		    "tasks = ( { name = \"t\"; requesters = [ \"alice\" ]; hosts = [ "
		    "\"h1.example.com\" "
		    "];\n"
		    "  login_as = \"root\"; schedule = [ \"Sun 00:00-04:00\" ]; } );\n";
		struct policy *q;

		setenv("TZ", "America/New_York", 1);
		tzset();
		q = load_text(dst);
		r.task = "t";
		r.ttl = 4 * 3600;
		eval_ok(q, &r, (time_t)1710050400, &d); /* 01:00 EST */
		assert_int_equal(d.ttl, 2 * 3600);
		policy_decision_clear(&d);
		policy_free(q);
		setenv("TZ", "UTC", 1);
		tzset();
	}
	policy_free(p);
	policy_free(ex);
}

/* Issue 12: tasks that end. */
static void
test_eval_valid_until(void **state)
{
	struct policy *p = load_text(schedule_policy);
	static const char *const h[] = {"h1.example.com"};
	struct policy_request r = request("alice", "ends", h, 1);
	struct policy_decision d;

	r.ttl = 4 * 3600;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.ttl, 2 * 3600);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "valid_until", "valid until 2024-01-01T12:00:00");
	policy_decision_clear(&d);

	eval_ok(p, &r, AT(MON, 11, 59) + 30, &d);
	assert_int_equal(d.ttl, 30);
	policy_decision_clear(&d);

	r.ttl = 600;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.ttl, 600);
	assert_int_equal(count_reasons(&d, POLICY_REASON_CLAMP, NULL), 0);
	policy_decision_clear(&d);

	eval_ok(p, &r, AT(MON, 12, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "valid_until", "ended at 2024-01-01T12:00:00");
	assert_int_equal(d.ttl, 0);
	policy_decision_clear(&d);
	eval_ok(p, &r, AT(SAT, 12, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	policy_decision_clear(&d);
	policy_free(p);
}

/* Issue 12, item 13: a denied break-glass request was not issued. */
static void
test_eval_break_glass_denied_note(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("carol", "break-glass", H_DB01, 1);
	struct policy_decision d;

	r.reason = NULL;
	eval_ok(p, &r, AT(SAT, 3, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	assert_null(find_reason(&d, POLICY_REASON_NOTE, "break_glass", "issued without approval"));
	ASSERT_REASON(
	    &d, POLICY_REASON_NOTE, "break_glass", "denied here; allowed, it would issue");
	policy_decision_clear(&d);

	r.reason = "INC-9";
	eval_ok(p, &r, AT(SAT, 3, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "break_glass", "issued without approval");
	policy_decision_clear(&d);
}

static const char ext_policy[] =
    "defaults = { max_ttl = \"1h\"; };\n"
    "tasks = (\n"
    "  { name = \"all\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; agent_forwarding = true; port_forwarding = true;\n"
    "    x11_forwarding = true; user_rc = true; max_logins = 3; },\n"
    "  { name = \"none\"; requesters = [ \"alice\" ]; hosts = [ \"h1.example.com\" ];\n"
    "    login_as = \"root\"; pty = false; }\n"
    ");\n";

static void
test_eval_extensions(void **state)
{
	static const char *const h[] = {"h1.example.com"};
	struct policy *p = load_text(ext_policy), *ex = load_example();
	struct policy_request r = request("alice", "all", h, 1);
	struct policy_decision d;
	size_t i;

	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.nextensions, 5);
	assert_string_equal(d.extensions[0], "permit-X11-forwarding");
	assert_string_equal(d.extensions[1], "permit-agent-forwarding");
	assert_string_equal(d.extensions[2], "permit-port-forwarding");
	assert_string_equal(d.extensions[3], "permit-pty");
	assert_string_equal(d.extensions[4], "permit-user-rc");
	for (i = 1; i < d.nextensions; i++)
		assert_true(strcmp(d.extensions[i - 1], d.extensions[i]) < 0);
	assert_int_equal(d.max_logins, 3);
	assert_null(d.force_command);
	policy_decision_clear(&d);

	r.task = "none";
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.nextensions, 0);
	policy_decision_clear(&d);
	policy_free(p);

	/* db-maint: pty, one login. */
	r = request("alice", "db-maint", H_STAGE, 1);
	eval_ok(ex, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.nextensions, 1);
	assert_string_equal(d.extensions[0], "permit-pty");
	assert_int_equal(d.max_logins, 1);
	assert_string_equal(d.login_as, "postgres");
	policy_decision_clear(&d);

	/* restart-app: one command, no pty. */
	r = request("carol", "restart-app", H_APP, 1);
	r.groups = G_OPS;
	r.ngroups = 1;
	eval_ok(ex, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.nextensions, 0);
	assert_string_equal(d.force_command, "/usr/local/sbin/restart-app");
	assert_string_equal(d.login_as, "appsvc");
	assert_int_equal(d.ttl, 300);
	policy_decision_clear(&d);
	policy_free(ex);
}

static void
test_eval_every_deny(void **state)
{
	struct policy *p = *state;
	static const char *const hosts[] = {"db01.example.com", "web01.example.com", "@legacy"};
	struct policy_request r = request("mallory", "db-maint", hosts, NELEM(hosts));
	struct policy_decision d;

	r.reason = NULL;
	r.source_address = NULL;
	r.ttl = 86400;
	eval_ok(p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "requesters", NULL);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "web01.example.com");
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "@legacy");
	ASSERT_REASON(&d, POLICY_REASON_DENY, "reason", NULL);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "source_address", NULL);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", NULL);
	assert_int_equal(count_reasons(&d, POLICY_REASON_DENY, NULL), 5);
	/* Nothing signable is left in a denial. */
	assert_int_equal(d.nprincipals, 0);
	assert_int_equal(d.nextensions, 0);
	assert_null(d.source_address);
	assert_int_equal(d.ttl, 0);
	policy_decision_clear(&d);
}

static int
decisions_equal(const struct policy_decision *a, const struct policy_decision *b)
{
	size_t i;

#define STREQ(x, y)                                                                                \
	(((x) == NULL && (y) == NULL) || ((x) != NULL && (y) != NULL && strcmp((x), (y)) == 0))
	if (a->result != b->result || a->ttl != b->ttl ||
	    a->approvals_required != b->approvals_required ||
	    a->approvals_valid != b->approvals_valid || a->nprincipals != b->nprincipals ||
	    a->nextensions != b->nextensions || a->nreasons != b->nreasons ||
	    a->napprover_sets != b->napprover_sets || a->max_logins != b->max_logins ||
	    a->break_glass != b->break_glass || a->review_required != b->review_required ||
	    !STREQ(a->task, b->task) || !STREQ(a->requester, b->requester) ||
	    !STREQ(a->login_as, b->login_as) || !STREQ(a->force_command, b->force_command) ||
	    !STREQ(a->source_address, b->source_address))
		return 0;
	for (i = 0; i < a->nprincipals; i++)
		if (!STREQ(a->principals[i], b->principals[i]))
			return 0;
	for (i = 0; i < a->nextensions; i++)
		if (!STREQ(a->extensions[i], b->extensions[i]))
			return 0;
	for (i = 0; i < a->napprover_sets; i++)
		if (!STREQ(a->approver_sets[i], b->approver_sets[i]))
			return 0;
	for (i = 0; i < a->nreasons; i++)
		if (a->reasons[i].kind != b->reasons[i].kind ||
		    a->reasons[i].line != b->reasons[i].line ||
		    !STREQ(a->reasons[i].rule, b->reasons[i].rule) ||
		    !STREQ(a->reasons[i].text, b->reasons[i].text))
			return 0;
#undef STREQ
	return 1;
}

static void
test_eval_deterministic(void **state)
{
	struct policy *p = *state;
	static const struct policy_approval appr[] = {APPR("carol"), APPR("alice"), APPR("eve")};
	struct policy_request reqs[3];
	struct policy_decision a, b;
	size_t i;
	int k;

	reqs[0] = request("alice", "db-maint", H_DB01_STAGE, 2);
	reqs[0].approvals = appr;
	reqs[0].napprovals = NELEM(appr);
	reqs[0].ttl = 5000;
	reqs[1] = request("mallory", "db-maint", H_DB01, 1);
	reqs[1].reason = NULL;
	reqs[2] = request("carol", "break-glass", H_GROUP_DB, 1);
	for (i = 0; i < NELEM(reqs); i++) {
		eval_ok(p, &reqs[i], AT(MON, 10, 0), &a);
		for (k = 0; k < 3; k++) {
			eval_ok(p, &reqs[i], AT(MON, 10, 0), &b);
			assert_true(decisions_equal(&a, &b));
			policy_decision_clear(&b);
		}
		/* The loader's host index is only a faster way to the same
		 * answer: the linear scan over hostgroups must agree. */
		{
			struct policy_host_index *ix = p->host_index;

			assert_non_null(ix);
			p->host_index = NULL;
			eval_ok(p, &reqs[i], AT(MON, 10, 0), &b);
			p->host_index = ix;
			assert_true(decisions_equal(&a, &b));
			policy_decision_clear(&b);
		}
		assert_true(a.nreasons > 0);
		/* Every reason names a rule and says something. */
		for (k = 0; k < (int)a.nreasons; k++) {
			assert_true(strlen(a.reasons[k].rule) > 0);
			assert_true(strlen(a.reasons[k].text) > 0);
		}
		policy_decision_clear(&a);
	}
}

static void
test_eval_invalid(void **state)
{
	struct policy *p = *state;
	struct policy_request r = request("alice", "db-maint", H_DB01, 1);
	struct policy_decision d;
	static const char *const nullhost[] = {NULL};

	memset(&d, 0xa5, sizeof(d));
	r.requester = NULL;
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	assert_null(d.reasons);
	assert_null(d.task);
	r.requester = "";
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	r.requester = "alice";
	r.task = NULL;
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	r.task = "db-maint";
	r.hosts = NULL;
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	r.hosts = nullhost;
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	assert_null(d.principals);
	r.hosts = H_DB01;
	r.ngroups = 1;
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	r.ngroups = 0;
	r.napprovals = 1;
	assert_int_equal(policy_eval(p, &r, 0, &d), EPH_ERR_INVAL);
	assert_int_equal(policy_eval(NULL, &r, 0, &d), EPH_ERR_INVAL);
	assert_int_equal(policy_eval(p, NULL, 0, &d), EPH_ERR_INVAL);
	assert_int_equal(policy_eval(p, &r, 0, NULL), EPH_ERR_INVAL);
	policy_decision_clear(NULL);
	policy_decision_clear(&d);
}

/* Evaluation does not depend on the loader: a policy built by hand, with
 * a dangling hostgroup index and a when max_ttl above the task's, is
 * handled safely. */
static void
test_eval_hand_built(void **state)
{
	char *exact[] = {"a1.example.com", "a2.example.com"};
	struct policy_hostgroup groups[1];
	struct policy_ref req[] = {{POLICY_REF_NAME, "alice", 0, 3}};
	struct policy_ref hosts[] = {{POLICY_REF_GROUP, "grp", 0, 4},
	    {POLICY_REF_GROUP, "ghost", 7, 4}, {POLICY_REF_NAME, "*.Lab.example.com", 0, 4}};
	struct policy_when when[] = {{"prod", NULL, -1, 7200, 5, NULL, 0}};
	struct policy_task task;
	struct policy p;
	static const char *const a1[] = {"A1.example.COM"};
	static const char *const lab[] = {"x.lab.example.com"};
	static const char *const deep[] = {"x.y.lab.example.com"};
	static const char *const ghost[] = {"@ghost"};
	struct policy_request r = request("alice", "hand", a1, 1);
	struct policy_decision d;

	memset(groups, 0, sizeof(groups));
	groups[0].name = "grp";
	groups[0].exact = exact;
	groups[0].nexact = NELEM(exact);
	groups[0].env = "prod";
	memset(&task, 0, sizeof(task));
	task.name = "hand";
	task.requesters = req;
	task.nrequesters = NELEM(req);
	task.hosts = hosts;
	task.nhosts = NELEM(hosts);
	task.login_as = "root";
	task.when = when;
	task.nwhen = NELEM(when);
	task.line = 2;
	memset(&p, 0, sizeof(p));
	p.max_ttl = 1800;
	p.pending_timeout = 600;
	p.hostgroups = groups;
	p.nhostgroups = NELEM(groups);
	p.tasks = &task;
	p.ntasks = 1;

	r.ttl = 3600;
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_int_equal(d.ttl, 1800);
	ASSERT_REASON(&d, POLICY_REASON_CLAMP, "ttl", "defaults.max_ttl");
	ASSERT_REASON(&d, POLICY_REASON_NOTE, "context", "env prod");
	assert_string_equal(d.principals[0], "eph:hand@a1.example.com");
	assert_int_equal(d.nextensions, 0);
	assert_int_equal(d.pending_timeout, 600);
	policy_decision_clear(&d);

	r.hosts = lab;
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_ISSUE);
	assert_string_equal(d.principals[0], "eph:hand@x.lab.example.com");
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "hosts", "host pattern *.Lab.example.com");
	policy_decision_clear(&d);

	/* '*' is one label, not several. */
	r.hosts = deep;
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "x.y.lab.example.com is not one");
	policy_decision_clear(&d);
	/* A description with a newline (the loader refuses one) stays one line. */
	task.description = "two\nlines";
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	ASSERT_REASON(&d, POLICY_REASON_ALLOW, "task", "task hand (two?lines)");
	policy_decision_clear(&d);
	task.description = NULL;

	r.hosts = ghost;
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "hosts", "@ghost");
	policy_decision_clear(&d);

	/* A long list is quoted shortened, within bounds. */
	{
		struct policy_ref many[40];
		const struct policy_reason *why;
		size_t i;

		for (i = 0; i < NELEM(many); i++) {
			many[i] = req[0];
			many[i].name = "someone-with-a-rather-long-user-name";
		}
		task.requesters = many;
		task.nrequesters = NELEM(many);
		eval_ok(&p, &r, AT(MON, 10, 0), &d);
		assert_int_equal(d.result, POLICY_DENY);
		if ((why = find_reason(&d, POLICY_REASON_DENY, "requesters", NULL)) == NULL)
			fail_msg("no requesters reason");
		else {
			assert_true(strlen(why->text) < 300);
			assert_non_null(strstr(why->text, ", ...)"));
		}
		policy_decision_clear(&d);
		task.requesters = req;
		task.nrequesters = NELEM(req);
	}

	/* Approvals nobody can give: refused rather than pending for ever. */
	task.approvals = 1;
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "approvals", "no approvers");
	policy_decision_clear(&d);
	task.approvals = 0;

	/* Nothing sets a TTL at all: refused, not issued for 0 s. */
	p.max_ttl = 0;
	r.hosts = a1;
	r.ttl = 0;
	task.nwhen = 0;
	eval_ok(&p, &r, AT(MON, 10, 0), &d);
	assert_int_equal(d.result, POLICY_DENY);
	ASSERT_REASON(&d, POLICY_REASON_DENY, "ttl", NULL);
	policy_decision_clear(&d);
}

static void
test_host_index(void **state)
{
	struct policy *p = *state;
	struct policy_host_index *ix = NULL;
	const struct policy_hostgroup *db = policy_find_hostgroup(p, "db");
	const struct policy_hostgroup *legacy = policy_find_hostgroup(p, "legacy");
	size_t out[4], n;

	assert_non_null(db);
	assert_non_null(legacy);
	assert_int_equal(policy_host_index_build(p, &ix), EPH_OK);
	assert_int_equal(ix->n, 3); /* db01, db02, db-stage */
	assert_int_equal(ix->nwild, 1);
	n = policy_host_index_groups(p, ix, "db01.example.com", 16, out, NELEM(out));
	assert_int_equal(n, 1);
	assert_ptr_equal(&p->hostgroups[out[0]], db);
	n = policy_host_index_groups(p, ix, "a.legacy.example.com", 20, out, NELEM(out));
	assert_int_equal(n, 1);
	assert_ptr_equal(&p->hostgroups[out[0]], legacy);
	/* '*' is one label. */
	assert_int_equal(policy_host_index_groups(p, ix, "a.b.legacy.example.com", 22, out, 4), 0);
	assert_int_equal(policy_host_index_groups(p, ix, "db03.example.com", 16, out, 4), 0);
	assert_int_equal(policy_host_index_groups(p, ix, "legacy.example.com", 18, out, 4), 0);
	policy_host_index_free(ix);
	assert_int_equal(policy_host_index_build(NULL, &ix), EPH_ERR_INVAL);
	assert_null(ix);
}

/* A host in several hostgroups is found in all of them, in order. */
static void
test_host_index_several(void **state)
{
	struct policy *p = load_text(context_policy);
	struct policy_host_index *ix = NULL;
	size_t out[4], n;

	assert_int_equal(policy_host_index_build(p, &ix), EPH_OK);
	n = policy_host_index_groups(p, ix, "pay01.example.com", 17, out, NELEM(out));
	assert_int_equal(n, 2);
	assert_string_equal(p->hostgroups[out[0]].name, "pci");
	assert_string_equal(p->hostgroups[out[1]].name, "prod");
	/* More than fit: counted, not written past max. */
	out[1] = 99;
	assert_int_equal(policy_host_index_groups(p, ix, "pay01.example.com", 17, out, 1), 2);
	assert_int_equal(out[1], 99);
	policy_host_index_free(ix);
	policy_host_index_free(NULL);
	policy_free(p);
}

static void
test_result_name(void **state)
{
	assert_string_equal(policy_result_name(POLICY_DENY), "deny");
	assert_string_equal(policy_result_name(POLICY_PENDING), "pending");
	assert_string_equal(policy_result_name(POLICY_ISSUE), "issue");
	assert_string_equal(policy_result_name((enum policy_result)42), "unknown");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest match_tests[] = {
	    cmocka_unit_test(test_schedule_parse_ok),
	    cmocka_unit_test(test_schedule_parse_bad),
	    cmocka_unit_test(test_schedule_match),
	    cmocka_unit_test(test_cidr_valid),
	    cmocka_unit_test(test_cidr_valid_vs_ssh_keygen),
	    cmocka_unit_test(test_cidr_contains),
	    cmocka_unit_test(test_host_pattern_valid),
	    cmocka_unit_test(test_hostgroup_has),
	    cmocka_unit_test(test_unix_groups),
	    cmocka_unit_test(test_result_name),
	};
	const struct CMUnitTest eval_tests[] = {
	    cmocka_unit_test_setup_teardown(test_eval_unknown_task, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(test_eval_requesters, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(test_eval_hosts, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(
	        test_eval_too_many_hosts, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(
	        test_eval_group_request, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(test_eval_ttl, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_ttl_global),
	    cmocka_unit_test_setup_teardown(test_eval_reason, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(test_eval_schedule, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(
	        test_eval_source_requester, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_source_cidr),
	    cmocka_unit_test_setup_teardown(test_eval_approvals, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_self_approval),
	    cmocka_unit_test(test_eval_login_as),
	    cmocka_unit_test(test_eval_identities),
	    cmocka_unit_test(test_eval_deny),
	    cmocka_unit_test(test_eval_clauses),
	    cmocka_unit_test(test_eval_clauses_per_context),
	    cmocka_unit_test(test_eval_cannot_be_approved),
	    cmocka_unit_test(test_eval_reason_pattern),
	    cmocka_unit_test_setup_teardown(test_eval_break_glass, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(
	        test_eval_several_hosts, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_context),
	    cmocka_unit_test(test_eval_group_request_overlap),
	    cmocka_unit_test_setup_teardown(test_eval_ca_max_ttl, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_schedule_window_end),
	    cmocka_unit_test(test_eval_valid_until),
	    cmocka_unit_test_setup_teardown(
	        test_eval_break_glass_denied_note, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_context_per_hostgroup),
	    cmocka_unit_test_setup_teardown(
	        test_eval_wildcard_one_label, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_extensions),
	    cmocka_unit_test_setup_teardown(test_eval_every_deny, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(
	        test_eval_deterministic, setup_example, teardown_policy),
	    cmocka_unit_test_setup_teardown(test_eval_invalid, setup_example, teardown_policy),
	    cmocka_unit_test(test_eval_hand_built),
	    cmocka_unit_test_setup_teardown(test_host_index, setup_example, teardown_policy),
	    cmocka_unit_test(test_host_index_several),
	};
	int fails = 0;

	/* Schedules are local time; pin it. */
	setenv("TZ", "UTC", 1);
	tzset();
	tu_init(argc, argv);
	fails += cmocka_run_group_tests_name("policy_match", match_tests, NULL, NULL);
	fails += cmocka_run_group_tests_name("policy_eval", eval_tests, NULL, NULL);
	return fails != 0;
}

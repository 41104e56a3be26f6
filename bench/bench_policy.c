/*
 * Benchmark: policy decisions per second on a generated policy with
 * 1,000 tasks and 10,000 hosts, next to the floor of any evaluation
 * measured on the same requests in the same run (task lookup plus
 * hostgroup membership only). Prints "name value" lines for
 * run-bench.sh; never fails on a time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libconfig.h>

#include "err.h"

#include "policy.h"

#define NTASKS 1000
#define NGROUPS 100 /* policy groups of 10 users */
#define NHOSTGROUPS 500 /* of 20 exact names each: 10,000 hosts */
#define HOSTS_PER_GROUP 20
#define NREQUESTS 4096 /* distinct requests, replayed in a loop */
#define MAX_REQ_HOSTS 3
#define BENCH_ROUNDS 5

/* 2024-01-01 00:00 UTC, a Monday. */
#define MONDAY_2024 ((time_t)1704067200)

struct bench_request {
	struct policy_request req;
	char requester[16], task[16], reason[24], addr[24];
	char hostbuf[MAX_REQ_HOSTS][48];
	const char *hosts[MAX_REQ_HOSTS];
	const char *groups[2];
	char groupbuf[16];
	struct policy_approval approvals[2];
	char approverbuf[2][16];
	time_t now;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: deterministic, so every run measures the same requests. */
static unsigned
rnd(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
task_hg(unsigned t, int which)
{
	return which == 0 ? t % NHOSTGROUPS : (t * 3 + 1) % NHOSTGROUPS;
}

/* The policy text: every feature a real one uses, in realistic mixes. */
static char *
make_policy(void)
{
	static const char *const envs[] = {"prod", "staging", "dev"};
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	unsigned g, u, h, k, t;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	fprintf(f, "defaults = { max_ttl = \"1h\"; pending_timeout = \"1h\"; };\n");
	fprintf(f, "groups = {\n");
	for (g = 0; g < NGROUPS; g++) {
		fprintf(f, "  g%03u = [", g);
		for (u = 0; u < 10; u++)
			fprintf(f, " \"u%04u\",", g * 10 + u);
		fprintf(f, " \"%%unix%03u\" ];\n", g);
	}
	fprintf(f, "};\nhostgroups = {\n");
	for (h = 0; h < NHOSTGROUPS; h++) {
		fprintf(f, "  hg%03u = { hosts = [", h);
		for (k = 0; k < HOSTS_PER_GROUP; k++)
			fprintf(f, "%s \"h%05u.example.com\"", k > 0 ? "," : "",
			    h * HOSTS_PER_GROUP + k);
		if (h % 10 == 0)
			fprintf(f, ", \"*.zone%03u.example.com\"", h);
		fprintf(f, " ]; env = \"%s\";%s };\n", envs[h % 3],
		    h % 7 == 0 ? " sensitivity = \"high\";" : "");
	}
	fprintf(f, "};\ntasks = (\n");
	for (t = 0; t < NTASKS; t++) {
		fprintf(f, "  { name = \"task%04u\"; description = \"generated task %u\";\n", t, t);
		fprintf(f, "    requesters = [ \"@g%03u\", \"u%04u\", \"%%unix%03u\" ];\n",
		    t % NGROUPS, (t * 7) % 1000, (t + 50) % NGROUPS);
		/* Break-glass tasks issue without approval: no approvers, no when. */
		if (t % 97 == 0)
			fprintf(f, "    break_glass = true;\n");
		else
			fprintf(f, "    approvers = [ \"@g%03u\" ]; approvals = %u;\n",
			    (t + 1) % NGROUPS, t % 10 == 0 ? 2 : 1);
		fprintf(f, "    hosts = [ \"@hg%03u\", \"@hg%03u\"%s ];\n", task_hg(t, 0),
		    task_hg(t, 1), t % 8 == 0 ? ", \"*.lab.example.com\"" : "");
		fprintf(f, "    login_as = \"svc%u\"; default_ttl = \"10m\"; max_ttl = \"30m\";\n",
		    t % 50);
		if (t % 4 == 0)
			fprintf(f, "    require_reason = true;\n");
		if (t % 6 == 0)
			fprintf(f, "    source_address = \"10.0.0.0/8,192.168.0.0/16\";\n");
		else if (t % 6 == 1)
			fprintf(f, "    source_address = \"requester\";\n");
		if (t % 9 == 0)
			fprintf(f, "    command = \"/usr/local/sbin/task%04u\"; pty = false;\n", t);
		if (t % 2 == 0)
			fprintf(f, "    max_logins = 1; port_forwarding = true;\n");
		if (t % 5 == 0)
			fprintf(f,
			    "    schedule = [ \"Mon-Fri 06:00-22:00\", \"Sat,Sun 10:00-14:00\" "
			    "];\n");
		if (t % 3 == 0 && t % 97 != 0)
			fprintf(f,
			    "    when = ( { env = \"prod\"; approvals = 2; max_ttl = \"15m\"; },\n"
			    "             { sensitivity = \"high\"; approvals = 3; max_ttl = "
			    "\"10m\"; },\n"
			    "             { env = \"dev\"; approvals = 0; } );\n");
		fprintf(f, "  }%s\n", t + 1 < NTASKS ? "," : "");
	}
	fprintf(f, ");\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * A policy near the 8 MiB file cap, in the shape that used to load in
 * quadratic time: 1,000 tasks naming a 100,000-member group (as
 * requesters, approvers and approval clauses), the rest hostgroups of
 * many hosts.
 */
#define BIG_TARGET (POLICY_MAX_FILE_SIZE - 64 * 1024)
#define BIG_MEMBERS (POLICY_MAX_LIST - 1) /* and one Unix group */
#define BIG_TASKS 1000
static char *
make_big_policy(size_t *size)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	unsigned u, t, g, h = 0;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	fprintf(f, "groups = {\n  leads = [ \"carol\", \"dave\", \"erin\" ];\n  big = [");
	for (u = 0; u < BIG_MEMBERS; u++)
		fprintf(f, "%s \"user%06u\"", u > 0 ? "," : "", u);
	fprintf(f, ", \"%%staff\" ];\n};\ntasks = (\n");
	for (t = 0; t < BIG_TASKS; t++) {
		fprintf(f,
		    "  { name = \"big%04u\"; requesters = [ \"@big\" ]; hosts = [ \"@hg0\" ];\n",
		    t);
		if (t % 2 == 0)
			fprintf(f, "    approvers = [ \"@big\", \"@leads\" ]; approvals = 2;\n");
		else
			fprintf(f,
			    "    approvals = ( { from = [ \"@leads\" ]; }, { from = [ \"@big\" ]; "
			    "count = 2; } );\n");
		fprintf(f, "    login_as = [ \"svc\", \"svc%u\" ]; deny = [ \"user%06u\" ]; }%s\n",
		    t, t, t + 1 < BIG_TASKS ? "," : "");
	}
	fprintf(f, ");\nhostgroups = {\n");
	/* Hostgroups of at most POLICY_MAX_LIST hosts until the file is full. */
	for (g = 0; (size_t)ftell(f) < BIG_TARGET - 128; g++) {
		fprintf(f, "  hg%u = { hosts = [ \"h%07u.example.com\"", g, h++);
		for (u = 1; u < POLICY_MAX_LIST && (size_t)ftell(f) < BIG_TARGET - 128; u++)
			fprintf(f, ", \"h%07u.example.com\"", h++);
		fprintf(f, " ]; };\n");
	}
	fprintf(f, "};\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	*size = len;
	return text;
}

/* libconfig's own parse of the text, best of a few runs: the floor a
 * loader built on it cannot go under. */
static double
libconfig_parse_sec(const char *text)
{
	config_t cfg;
	double t0, best = 0;
	int i, ok;

	for (i = 0; i < 3; i++) {
		config_init(&cfg);
		t0 = now_sec();
		ok = config_read_string(&cfg, text) == CONFIG_TRUE;
		t0 = now_sec() - t0;
		config_destroy(&cfg);
		if (!ok)
			return -1;
		if (i == 0 || t0 < best)
			best = t0;
	}
	return best;
}

/* Load time of the big policy, best of a few runs, against libconfig's
 * parse of the same text (printed, never judged). */
static int
bench_big_load(void)
{
	struct policy_errors errs = {NULL, 0};
	struct policy *p = NULL;
	double t0, best = 0, floor;
	size_t size = 0;
	char *text;
	int i, r;

	if ((text = make_big_policy(&size)) == NULL)
		return -1;
	if ((floor = libconfig_parse_sec(text)) < 0) {
		fprintf(stderr, "bench_policy: libconfig cannot parse the big policy\n");
		free(text);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		t0 = now_sec();
		r = policy_load_string(text, "bench-big.conf", &p, &errs);
		t0 = now_sec() - t0;
		if (r != EPH_OK) {
			char *msg = policy_errors_format(&errs);

			fprintf(stderr, "bench_policy: big policy refused:\n%.2000s\n",
			    msg ? msg : "?");
			free(msg);
			policy_errors_clear(&errs);
			free(text);
			return -1;
		}
		if (i == 0 || t0 < best)
			best = t0;
		if (i == 0) {
			printf("big_policy_bytes %zu\n", size);
			printf("big_policy_tasks %zu\n", p->ntasks);
		}
		policy_free(p);
		p = NULL;
	}
	printf("big_policy_load_ms %.1f\n", best * 1e3);
	printf("big_policy_libconfig_parse_ms %.1f\n", floor * 1e3);
	free(text);
	return 0;
}

/* Varied requests: mostly plausible, some refused for each reason. */
static void
make_request(struct bench_request *b)
{
	static const time_t times[] = {MONDAY_2024 + 10 * 3600, MONDAY_2024 + 3 * 86400 + 15 * 3600,
	    MONDAY_2024 + 5 * 86400 + 12 * 3600, MONDAY_2024 + 6 * 86400 + 3 * 3600};
	unsigned t = rnd(NTASKS), kind = rnd(10), n, nh, i;
	size_t ng = 0;

	memset(b, 0, sizeof(*b));
	snprintf(b->task, sizeof(b->task), "task%04u", t);
	if (kind <= 5) /* a member of the task's requester group */
		snprintf(b->requester, sizeof(b->requester), "u%04u", (t % NGROUPS) * 10 + rnd(10));
	else if (kind == 6) /* named directly */
		snprintf(b->requester, sizeof(b->requester), "u%04u", (t * 7) % 1000);
	else if (kind == 7) { /* through a Unix group */
		snprintf(b->requester, sizeof(b->requester), "x%04u", rnd(10000));
		snprintf(b->groupbuf, sizeof(b->groupbuf), "unix%03u", (t + 50) % NGROUPS);
		b->groups[ng++] = "staff";
		b->groups[ng++] = b->groupbuf;
	} else { /* most likely nobody the task knows */
		snprintf(b->requester, sizeof(b->requester), "u%04u", rnd(1000));
		b->groups[ng++] = "staff";
	}
	nh = 1 + rnd(MAX_REQ_HOSTS);
	for (i = 0; i < nh; i++) {
		unsigned w = rnd(100), hg = task_hg(t, (int)rnd(2));

		if (w < 85)
			snprintf(b->hostbuf[i], sizeof(b->hostbuf[i]), "h%05u.example.com",
			    hg * HOSTS_PER_GROUP + rnd(HOSTS_PER_GROUP));
		else if (w < 90)
			snprintf(b->hostbuf[i], sizeof(b->hostbuf[i]), "@hg%03u", hg);
		else if (w < 95)
			snprintf(b->hostbuf[i], sizeof(b->hostbuf[i]), "h%05u.example.com",
			    rnd(NHOSTGROUPS * HOSTS_PER_GROUP));
		else
			snprintf(b->hostbuf[i], sizeof(b->hostbuf[i]), "srv%u.zone%03u.example.com",
			    rnd(100), hg - hg % 10);
		b->hosts[i] = b->hostbuf[i];
	}
	if (rnd(10) < 7)
		snprintf(b->reason, sizeof(b->reason), "INC-%u", rnd(100000));
	i = rnd(10);
	if (i < 8)
		snprintf(b->addr, sizeof(b->addr), "10.%u.%u.%u", rnd(256), rnd(256), 1 + rnd(254));
	else if (i < 9)
		snprintf(b->addr, sizeof(b->addr), "203.0.113.%u", 1 + rnd(254));
	n = rnd(3);
	for (i = 0; i < n; i++) {
		if (rnd(8) == 0)
			snprintf(b->approverbuf[i], sizeof(b->approverbuf[i]), "%s", b->requester);
		else
			snprintf(b->approverbuf[i], sizeof(b->approverbuf[i]), "u%04u",
			    ((t + 1) % NGROUPS) * 10 + rnd(10));
		b->approvals[i].user = b->approverbuf[i];
	}
	b->req.requester = b->requester;
	b->req.groups = ng > 0 ? b->groups : NULL;
	b->req.ngroups = ng;
	b->req.task = b->task;
	b->req.hosts = b->hosts;
	b->req.nhosts = nh;
	b->req.ttl = rnd(4) == 0 ? 0 : (uint64_t)(1 + rnd(60)) * 60;
	b->req.reason = b->reason[0] != '\0' ? b->reason : NULL;
	b->req.source_address = b->addr[0] != '\0' ? b->addr : NULL;
	for (i = 0; i < 2 && b->approvals[i].user != NULL; i++)
		;
	b->req.approvals = i > 0 ? b->approvals : NULL;
	b->req.napprovals = i;
	b->now = times[rnd(sizeof(times) / sizeof(times[0]))];
}

/* The floor of any evaluation: find the task, find each host in it. */
static unsigned
lookup_only(const struct policy *p, const struct policy_request *req)
{
	const struct policy_task *t;
	unsigned found = 0;
	size_t i, j;

	if ((t = policy_find_task(p, req->task)) == NULL)
		return 0;
	for (i = 0; i < req->nhosts; i++) {
		for (j = 0; j < t->nhosts; j++) {
			const struct policy_ref *r = &t->hosts[j];

			if (r->kind == POLICY_REF_GROUP && req->hosts[i][0] != '@' &&
			    policy_hostgroup_has(&p->hostgroups[r->index], req->hosts[i])) {
				found++;
				break;
			}
		}
	}
	return found;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 400000;
	struct policy_errors errs = {NULL, 0};
	struct policy *p = NULL;
	struct bench_request *reqs = NULL;
	struct policy_decision d;
	size_t i, nhosts = 0, nwild = 0, mix[3] = {0, 0, 0};
	double t0, t_eval, t_look, best_eval = 0, best_look = 0, load_sec;
	unsigned long sink = 0;
	long k, per, round;
	char *text;
	int r;

	/* Schedules are in local time; pin it so every run is the same. */
	setenv("TZ", "UTC", 1);
	tzset();
	if (n <= 0 || (text = make_policy()) == NULL) {
		fprintf(stderr, "bench_policy: cannot build the policy\n");
		return 1;
	}
	t0 = now_sec();
	r = policy_load_string(text, "bench-policy.conf", &p, &errs);
	load_sec = now_sec() - t0;
	free(text);
	if (r != EPH_OK) {
		char *msg = policy_errors_format(&errs);

		fprintf(stderr, "bench_policy: generated policy refused:\n%s\n", msg ? msg : "?");
		free(msg);
		policy_errors_clear(&errs);
		return 1;
	}
	for (i = 0; i < p->nhostgroups; i++) {
		nhosts += p->hostgroups[i].nexact;
		nwild += p->hostgroups[i].nsuffixes;
	}
	if ((reqs = calloc(NREQUESTS, sizeof(*reqs))) == NULL)
		return 1;
	for (i = 0; i < NREQUESTS; i++) {
		make_request(&reqs[i]);
		/* Warm up, check every request evaluates, and count the mix. */
		if (policy_eval(p, &reqs[i].req, reqs[i].now, &d) != EPH_OK) {
			fprintf(stderr, "bench_policy: policy_eval failed\n");
			return 1;
		}
		mix[d.result]++;
		policy_decision_clear(&d);
	}

	/* Interleaved rounds, best of each, as in bench_sign. */
	per = n / BENCH_ROUNDS > 0 ? n / BENCH_ROUNDS : 1;
	for (round = 0; round < BENCH_ROUNDS; round++) {
		t0 = now_sec();
		for (k = 0; k < per; k++) {
			const struct bench_request *b = &reqs[(size_t)k % NREQUESTS];

			if (policy_eval(p, &b->req, b->now, &d) != EPH_OK)
				return 1;
			sink += d.nreasons;
			policy_decision_clear(&d);
		}
		t_eval = now_sec() - t0;
		t0 = now_sec();
		for (k = 0; k < per; k++)
			sink += lookup_only(p, &reqs[(size_t)k % NREQUESTS].req);
		t_look = now_sec() - t0;
		if ((double)per / t_eval > best_eval)
			best_eval = (double)per / t_eval;
		if ((double)per / t_look > best_look)
			best_look = (double)per / t_look;
	}

	printf("policy_tasks %zu\n", p->ntasks);
	printf("policy_hosts %zu\n", nhosts);
	printf("policy_host_patterns %zu\n", nwild);
	printf("policy_load_ms %.1f\n", load_sec * 1e3);
	printf("requests %d\n", NREQUESTS);
	printf("decisions %ld\n", per * BENCH_ROUNDS);
	printf("mix_issue %zu\n", mix[POLICY_ISSUE]);
	printf("mix_pending %zu\n", mix[POLICY_PENDING]);
	printf("mix_deny %zu\n", mix[POLICY_DENY]);
	printf("decisions_per_sec %.0f\n", best_eval);
	printf("lookup_only_per_sec %.0f\n", best_look);
	if (bench_big_load() != 0)
		return 1;
	/* Keeps the compiler from dropping the measured work. */
	if (sink == 0)
		fprintf(stderr, "bench_policy: nothing evaluated\n");
	free(reqs);
	policy_free(p);
	return 0;
}

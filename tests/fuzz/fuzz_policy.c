/*
 * Fuzz target for the configuration parsers: input starting with 'H' is a
 * host.conf (the rest of it), anything else a policy.conf. Whatever
 * parses is walked the way its users walk it.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Evaluate a request for the task: approvals, clauses and deny lists
 * run over whatever the input built. */
static void
eval_task(const struct policy *p, const struct policy_task *t)
{
	static const char *const hosts[] = {"db01.example.com", "h"};
	static const char *const groups[] = {"ops", "security"};
	struct policy_approval a[3];
	struct policy_request r;
	struct policy_decision d;
	const char *why;

	memset(a, 0, sizeof(a));
	a[0].user = "carol";
	a[1].user = "sam";
	a[1].groups = groups;
	a[1].ngroups = 2;
	a[2].user = "alice";
	memset(&r, 0, sizeof(r));
	r.requester = "alice";
	r.groups = groups;
	r.ngroups = 1;
	r.task = t->name;
	r.hosts = hosts;
	r.nhosts = 2;
	r.reason = "INC-1 fuzz";
	r.source_address = "10.0.0.1";
	r.approvals = a;
	r.napprovals = 3;
	r.login_as = t->nlogin_as > 1 ? t->login_as_list[1] : NULL;
	if (policy_eval(p, &r, 1704067200, &d) == EPH_OK)
		policy_decision_clear(&d);
	(void)policy_may_approve(p, t->name, "alice", &a[1], &why);
}

static void
poke_policy(const struct policy *p)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++) {
		if (policy_find_task(p, p->tasks[i].name) == NULL)
			abort();
		if (i < 64)
			eval_task(p, &p->tasks[i]);
	}
	for (i = 0; i < p->ngroups; i++)
		if (policy_find_group(p, p->groups[i].name) != &p->groups[i])
			abort();
	for (i = 0; i < p->nhostgroups; i++)
		if (policy_find_hostgroup(p, p->hostgroups[i].name) != &p->hostgroups[i])
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct policy_errors errs = {0};
	struct policy *p = NULL;
	struct host_conf *hc = NULL;
	char **v = NULL, *s, *text;
	size_t i, nv = 0;

	if ((text = malloc(n + 1)) == NULL)
		return 0;
	memcpy(text, d, n);
	text[n] = '\0';
	if (n > 0 && text[0] == 'H') {
		if (hostconf_load_string(text + 1, "fuzz", &hc, &errs) == EPH_OK) {
			if (host_principals_for(hc, "root", &v, &nv) == EPH_OK) {
				for (i = 0; i < nv; i++)
					free(v[i]);
				free(v);
			}
			hostconf_free(hc);
		}
	} else if (policy_load_string(text, "fuzz", &p, &errs) == EPH_OK) {
		poke_policy(p);
		policy_free(p);
	}
	if ((s = policy_errors_format(&errs)) != NULL)
		free(s);
	policy_errors_clear(&errs);
	free(text);
	return 0;
}

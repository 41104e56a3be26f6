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

static void
poke_policy(const struct policy *p)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++)
		if (policy_find_task(p, p->tasks[i].name) == NULL)
			abort();
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

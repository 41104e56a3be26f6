/*
 * Who may approve: membership of approver sets, the assignment of
 * approvers to approval clauses (each person counts toward one clause
 * only), and whether the people a policy names statically could ever
 * meet the clauses. Shared by the loader's checks and by evaluation;
 * pure, like evaluation.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#include "match.h"
#include "policy.h"

static int
cmp_name_key(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(const char *const *)elem);
}

static int
in_list(const char *name, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

/* Is the user, with these Unix groups, a member of the policy group? */
static int
group_has_user(
    const struct policy_group *g, const char *user, const char *const *groups, size_t ngroups)
{
	size_t i;

	if (g->indexed) {
		if (g->nusers > 0 &&
		    bsearch(user, g->users, g->nusers, sizeof(*g->users), cmp_name_key) != NULL)
			return 1;
		for (i = 0; i < g->nunix_groups; i++)
			if (in_list(g->unix_groups[i], groups, ngroups))
				return 1;
		return 0;
	}
	for (i = 0; i < g->nmembers; i++) {
		const struct policy_ref *m = &g->members[i];

		if ((m->kind == POLICY_REF_NAME && strcmp(m->name, user) == 0) ||
		    (m->kind == POLICY_REF_UNIX_GROUP && in_list(m->name, groups, ngroups)))
			return 1;
	}
	return 0;
}

/* The policy group a ref names, or NULL when it names none (a dangling
 * index in a policy built by hand). */
static const struct policy_group *
ref_group(const struct policy *p, const struct policy_ref *r)
{
	if (r->kind != POLICY_REF_GROUP || r->index >= p->ngroups ||
	    strcmp(p->groups[r->index].name, r->name) != 0)
		return NULL;
	return &p->groups[r->index];
}

const struct policy_ref *
policy_refs_find_user(const struct policy *p, const struct policy_ref *refs, size_t n,
    const char *user, const char *const *groups, size_t ngroups)
{
	const struct policy_group *g;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct policy_ref *r = &refs[i];

		switch (r->kind) {
		case POLICY_REF_NAME:
			if (strcmp(r->name, user) == 0)
				return r;
			break;
		case POLICY_REF_UNIX_GROUP:
			if (in_list(r->name, groups, ngroups))
				return r;
			break;
		case POLICY_REF_GROUP:
			if ((g = ref_group(p, r)) != NULL &&
			    group_has_user(g, user, groups, ngroups))
				return r;
			break;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ matching */

#define MATCH_STACK 16 /* clauses matched without allocating */

struct match {
	const unsigned char *elig;
	size_t npeople, nclauses;
	const unsigned *count;
	unsigned *filled;
	unsigned char *visited; /* clauses seen in this augmenting search */
	int *assign;
};

/* Find room for person in some clause, moving others along if need be. */
static int
augment(struct match *m, size_t person)
{
	size_t c, q;

	for (c = 0; c < m->nclauses; c++) {
		if (!m->elig[person * m->nclauses + c] || m->visited[c])
			continue;
		m->visited[c] = 1;
		if (m->filled[c] < m->count[c]) {
			m->assign[person] = (int)c;
			m->filled[c]++;
			return 1;
		}
		for (q = 0; q < m->npeople; q++) {
			if (m->assign[q] != (int)c || !augment(m, q))
				continue;
			/* q moved to another clause; person takes its place. */
			m->assign[person] = (int)c;
			return 1;
		}
	}
	return 0;
}

long
policy_approve_match(
    const unsigned char *elig, size_t npeople, const unsigned *count, size_t nclauses, int *assign)
{
	struct match m;
	unsigned filled[MATCH_STACK];
	unsigned char visited[MATCH_STACK];
	unsigned long total = 0, want = 0;
	size_t i;
	long r = -1;

	for (i = 0; i < npeople; i++)
		assign[i] = -1;
	for (i = 0; i < nclauses; i++)
		want += count[i];
	memset(&m, 0, sizeof(m));
	m.elig = elig;
	m.npeople = npeople;
	m.nclauses = nclauses;
	m.count = count;
	m.assign = assign;
	/* The common case (a few clauses) needs no allocation. */
	if (nclauses <= MATCH_STACK) {
		memset(filled, 0, sizeof(filled));
		m.filled = filled;
		m.visited = visited;
	} else if ((m.filled = calloc(nclauses, sizeof(*m.filled))) == NULL ||
	    (m.visited = calloc(nclauses, 1)) == NULL)
		goto out;
	for (i = 0; i < npeople && total < want; i++) {
		memset(m.visited, 0, nclauses);
		if (augment(&m, i))
			total++;
	}
	r = (long)total;
out:
	if (m.filled != filled) {
		free(m.filled);
		free(m.visited);
	}
	return r;
}

/* ----------------------------------------------- static approver sets */

struct names {
	const char **v;
	size_t n, cap;
};

static int
names_add(struct names *s, const char *name)
{
	const char **nv;

	if (in_list(name, s->v, s->n))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 16 : s->cap * 2;

		if ((nv = reallocarray(s->v, cap, sizeof(*nv))) == NULL)
			return -1;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = name;
	return 1;
}

/* Add up to want distinct people of the clause to all; 1 when the clause
 * names a Unix group, 0 when not, -1 out of memory. */
static int
clause_people(
    const struct policy *p, const struct policy_clause *cl, size_t want, struct names *all)
{
	const struct policy_group *g;
	struct names mine = {NULL, 0, 0};
	size_t i, j;
	int dynamic = 0, r = -1;

	for (i = 0; i < cl->nfrom; i++) {
		const struct policy_ref *ref = &cl->from[i];

		if (ref->kind == POLICY_REF_UNIX_GROUP) {
			dynamic = 1;
			continue;
		}
		if (ref->kind == POLICY_REF_NAME) {
			if (mine.n < want &&
			    (names_add(&mine, ref->name) < 0 || names_add(all, ref->name) < 0))
				goto out;
			continue;
		}
		if ((g = ref_group(p, ref)) == NULL)
			continue;
		for (j = 0; j < g->nmembers; j++) {
			const struct policy_ref *m = &g->members[j];

			if (m->kind == POLICY_REF_UNIX_GROUP) {
				dynamic = 1;
				continue;
			}
			/* Enough of this clause's people: only its Unix groups matter now. */
			if (mine.n >= want) {
				if (!g->indexed)
					continue;
				if (g->nunix_groups > 0)
					dynamic = 1;
				break;
			}
			if (names_add(&mine, m->name) < 0 || names_add(all, m->name) < 0)
				goto out;
		}
	}
	r = dynamic;
out:
	free(mine.v);
	return r;
}

int
policy_clauses_dynamic(const struct policy *p, const struct policy_clause *clauses, size_t n)
{
	const struct policy_group *g;
	size_t c, i, j;

	for (c = 0; c < n; c++) {
		for (i = 0; i < clauses[c].nfrom; i++) {
			const struct policy_ref *r = &clauses[c].from[i];

			if (r->kind == POLICY_REF_UNIX_GROUP)
				return 1;
			if ((g = ref_group(p, r)) == NULL)
				continue;
			if (g->indexed) {
				if (g->nunix_groups > 0)
					return 1;
				continue;
			}
			for (j = 0; j < g->nmembers; j++)
				if (g->members[j].kind == POLICY_REF_UNIX_GROUP)
					return 1;
		}
	}
	return 0;
}

int
policy_approvers_static_build(const struct policy *p, const struct policy_clause *clauses,
    size_t nclauses, struct policy_approvers_static *out)
{
	struct names all = {NULL, 0, 0};
	size_t i, c;
	int r;

	memset(out, 0, sizeof(*out));
	out->nclauses = nclauses;
	for (c = 0; c < nclauses; c++)
		out->total += clauses[c].count;
	if ((out->count = calloc(nclauses + 1, sizeof(*out->count))) == NULL)
		goto nomem;
	for (c = 0; c < nclauses; c++) {
		out->count[c] = clauses[c].count;
		/* At most total + 1 people per clause: each group scan stops there. */
		if ((r = clause_people(p, &clauses[c], (size_t)out->total + 1, &all)) < 0)
			goto nomem;
		if (r > 0)
			out->dynamic = 1;
	}
	if ((out->elig = calloc(all.n * nclauses + 1, 1)) == NULL)
		goto nomem;
	for (i = 0; i < all.n; i++)
		for (c = 0; c < nclauses; c++)
			out->elig[i * nclauses + c] =
			    policy_refs_find_user(
			        p, clauses[c].from, clauses[c].nfrom, all.v[i], NULL, 0) != NULL;
	out->names = all.v;
	out->n = all.n;
	return EPH_OK;
nomem:
	free(all.v);
	policy_approvers_static_free(out);
	return EPH_ERR_NOMEM;
}

long
policy_approvers_static_best(const struct policy_approvers_static *s, const char *excluded)
{
	unsigned char *elig;
	int *assign;
	size_t i;
	long r = -1;

	elig = malloc(s->n * s->nclauses + 1);
	assign = calloc(s->n + 1, sizeof(*assign));
	if (elig == NULL || assign == NULL)
		goto out;
	memcpy(elig, s->elig, s->n * s->nclauses);
	for (i = 0; excluded != NULL && i < s->n; i++)
		if (strcmp(s->names[i], excluded) == 0)
			memset(elig + i * s->nclauses, 0, s->nclauses);
	r = policy_approve_match(elig, s->n, s->count, s->nclauses, assign);
out:
	free(elig);
	free(assign);
	return r;
}

void
policy_approvers_static_free(struct policy_approvers_static *s)
{
	free(s->names);
	free(s->elig);
	free(s->count);
	memset(s, 0, sizeof(*s));
}

/*
 * policy.conf into struct policy: every key checked against its table,
 * every reference resolved, every limit enforced, and every problem
 * reported with file:line (all of them, not the first).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "match.h"
#include "policy.h"
#include "util.h"

#define DEFAULT_MAX_TTL (30u * 60u)
#define DEFAULT_PENDING_TIMEOUT (60u * 60u)
#define WHERE_MAX (CONF_SHOW_MAX + 64)

static const struct conf_key top_keys[] = {
    {"defaults", CONF_GROUP, 0},
    {"groups", CONF_GROUP, 0},
    {"hostgroups", CONF_GROUP, 0},
    {"tasks", CONF_GROUP_LIST, 1},
};

static const struct conf_key defaults_keys[] = {
    {"max_ttl", CONF_DURATION, 0},
    {"pending_timeout", CONF_DURATION, 0},
    {"deny", CONF_STRING_LIST, 0},
};

static const struct conf_key hostgroup_keys[] = {
    {"hosts", CONF_STRING_LIST, 1},
    {"env", CONF_STRING, 0},
    {"sensitivity", CONF_STRING, 0},
};

static const struct conf_key task_keys[] = {
    {"name", CONF_STRING, 1},
    {"description", CONF_STRING, 0},
    /* Missing requesters / hosts get their own message below. */
    {"requesters", CONF_STRING_LIST, 0},
    {"approvers", CONF_STRING_LIST, 0},
    {"approvals", CONF_INT_OR_GROUP_LIST, 0},
    {"hosts", CONF_STRING_LIST, 0},
    {"login_as", CONF_STRING_OR_LIST, 1},
    {"default_ttl", CONF_DURATION, 0},
    {"max_ttl", CONF_DURATION, 0},
    {"require_reason", CONF_BOOL, 0},
    {"source_address", CONF_STRING, 0},
    {"pty", CONF_BOOL, 0},
    {"agent_forwarding", CONF_BOOL, 0},
    {"port_forwarding", CONF_BOOL, 0},
    {"x11_forwarding", CONF_BOOL, 0},
    {"user_rc", CONF_BOOL, 0},
    {"max_logins", CONF_INT, 0},
    {"command", CONF_STRING, 0},
    {"schedule", CONF_STRING_LIST, 0},
    {"when", CONF_GROUP_LIST, 0},
    {"break_glass", CONF_BOOL, 0},
    {"valid_until", CONF_STRING, 0},
    {"deny", CONF_STRING_LIST, 0},
    {"reason_pattern", CONF_STRING, 0},
};

static const struct conf_key when_keys[] = {
    {"env", CONF_STRING, 0},
    {"sensitivity", CONF_STRING, 0},
    {"approvals", CONF_INT_OR_GROUP_LIST, 0},
    {"max_ttl", CONF_DURATION, 0},
};

static const struct conf_key clause_keys[] = {
    {"from", CONF_STRING_LIST, 1},
    {"count", CONF_INT, 0},
};

/* What a list of references may hold. */
enum refs_ctx {
	REFS_PEOPLE, /* requesters, approvers: users, @groups, %unix groups */
	REFS_MEMBERS, /* a group's members: users, %unix groups */
	REFS_HOSTS, /* a task's hosts: host patterns, @hostgroups */
};

/* ------------------------------------------------------------ errors */

void
policy_errors_clear(struct policy_errors *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].msg);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

char *
policy_errors_format(const struct policy_errors *e)
{
	char *out, *p;
	size_t i, len = 1;
	int w;

	if (e == NULL)
		return strdup("");
	for (i = 0; i < e->n; i++) {
		/* file ":" line ":" " " msg "\n"; a line fits in 12 digits. */
		size_t one = strlen(e->v[i].file) + strlen(e->v[i].msg) + 16;

		if (len > SIZE_MAX - one)
			return NULL;
		len += one;
	}
	if ((out = malloc(len)) == NULL)
		return NULL;
	p = out;
	*p = '\0';
	for (i = 0; i < e->n; i++) {
		size_t room = len - (size_t)(p - out);

		if (e->v[i].line > 0)
			w = snprintf(
			    p, room, "%s:%d: %s\n", e->v[i].file, e->v[i].line, e->v[i].msg);
		else
			w = snprintf(p, room, "%s: %s\n", e->v[i].file, e->v[i].msg);
		if (w < 0 || (size_t)w >= room) {
			free(out);
			return NULL;
		}
		p += w;
	}
	return out;
}

/* ------------------------------------------------------------ freeing */

static void
refs_free(struct policy_ref *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
clauses_free(struct policy_clause *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		refs_free(v[i].from, v[i].nfrom);
	free(v);
}

static void
task_free_fields(struct policy_task *t)
{
	size_t i;

	free(t->name);
	free(t->description);
	refs_free(t->requesters, t->nrequesters);
	refs_free(t->approvers, t->napprovers);
	refs_free(t->hosts, t->nhosts);
	refs_free(t->deny, t->ndeny);
	free(t->reason_pattern);
	if (t->reason_re != NULL)
		regfree(t->reason_re);
	free(t->reason_re);
	free(t->login_as);
	strv_free(t->login_as_list, t->nlogin_as);
	free(t->source_cidrs);
	free(t->command);
	free(t->schedule);
	for (i = 0; i < t->nwhen; i++) {
		free(t->when[i].env);
		free(t->when[i].sensitivity);
		clauses_free(t->when[i].clauses, t->when[i].nclauses);
	}
	clauses_free(t->clauses, t->nclauses);
	free(t->when);
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->ngroups; i++) {
		free(p->groups[i].name);
		refs_free(p->groups[i].members, p->groups[i].nmembers);
		free(p->groups[i].users);
		free(p->groups[i].unix_groups);
	}
	free(p->groups);
	for (i = 0; i < p->nhostgroups; i++) {
		free(p->hostgroups[i].name);
		strv_free(p->hostgroups[i].exact, p->hostgroups[i].nexact);
		strv_free(p->hostgroups[i].suffixes, p->hostgroups[i].nsuffixes);
		free(p->hostgroups[i].env);
		free(p->hostgroups[i].sensitivity);
		free(p->hostgroups[i].overlaps);
	}
	free(p->hostgroups);
	for (i = 0; i < p->ntasks; i++)
		task_free_fields(&p->tasks[i]);
	free(p->tasks);
	refs_free(p->deny, p->ndeny);
	policy_host_index_free(p->host_index);
	policy_errors_clear(&p->warnings);
	free(p->file);
	free(p);
}

/* ------------------------------------------------------------ lookups */

static int
cmp_group_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct policy_group *)elem)->name);
}

static int
cmp_hostgroup_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct policy_hostgroup *)elem)->name);
}

static int
cmp_task_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct policy_task *)elem)->name);
}

const struct policy_task *
policy_find_task(const struct policy *p, const char *name)
{
	if (p == NULL || name == NULL || p->ntasks == 0)
		return NULL;
	return bsearch(name, p->tasks, p->ntasks, sizeof(*p->tasks), cmp_task_key);
}

const struct policy_group *
policy_find_group(const struct policy *p, const char *name)
{
	if (p == NULL || name == NULL || p->ngroups == 0)
		return NULL;
	return bsearch(name, p->groups, p->ngroups, sizeof(*p->groups), cmp_group_key);
}

const struct policy_hostgroup *
policy_find_hostgroup(const struct policy *p, const char *name)
{
	if (p == NULL || name == NULL || p->nhostgroups == 0)
		return NULL;
	return bsearch(
	    name, p->hostgroups, p->nhostgroups, sizeof(*p->hostgroups), cmp_hostgroup_key);
}

/* ------------------------------------------------------------ helpers */

static char *
xstrdup(struct conf *c, const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		c->nomem = 1;
	return d;
}

static void *
xcalloc(struct conf *c, size_t n, size_t size)
{
	void *v;

	/* calloc(0) may return NULL: always ask for one element. */
	if ((v = calloc(n > 0 ? n : 1, size)) == NULL)
		c->nomem = 1;
	return v;
}

static void
fmt_ttl(uint64_t secs, char *buf, size_t len)
{
	format_duration(secs, buf, len);
}

/* A list setting's length, or -1 (reported) when over POLICY_MAX_LIST. */
static int
list_len(struct conf *c, const config_setting_t *s, const char *key, const char *where)
{
	int n = config_setting_length(s);

	if (n < 0 || (unsigned)n > POLICY_MAX_LIST) {
		conf_error(
		    c, conf_line(s), "'%s' %s: more than %u entries", key, where, POLICY_MAX_LIST);
		return -1;
	}
	return n;
}

struct sort_ref {
	const struct policy_ref *r;
};

static int
cmp_ref_dup(const void *a, const void *b)
{
	const struct policy_ref *x = ((const struct sort_ref *)a)->r;
	const struct policy_ref *y = ((const struct sort_ref *)b)->r;
	int d;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((d = strcmp(x->name, y->name)) != 0)
		return d;
	return x->line < y->line ? -1 : (x->line > y->line);
}

static char
ref_prefix(enum policy_ref_kind k)
{
	return k == POLICY_REF_GROUP ? '@' : k == POLICY_REF_UNIX_GROUP ? '%' : 0;
}

/* Report every entry listed more than once. */
static void
refs_check_dups(
    struct conf *c, const struct policy_ref *v, size_t n, const char *key, const char *where)
{
	struct sort_ref *s;
	size_t i;

	if (n < 2)
		return;
	if ((s = xcalloc(c, n, sizeof(*s))) == NULL)
		return;
	for (i = 0; i < n; i++)
		s[i].r = &v[i];
	qsort(s, n, sizeof(*s), cmp_ref_dup);
	for (i = 1; i < n; i++) {
		char pre[2] = {ref_prefix(s[i].r->kind), '\0'};

		if (s[i - 1].r->kind == s[i].r->kind && strcmp(s[i - 1].r->name, s[i].r->name) == 0)
			conf_error(c, s[i].r->line, "'%s' %s: '%s%.*s' is listed twice", key, where,
			    pre, CONF_SHOW_MAX, s[i].r->name);
	}
	free(s);
}

/*
 * Parse a list of references. Group references resolve against the
 * policy's (already sorted) groups or hostgroups. Problems are reported;
 * entries with problems are still kept (the caller fails as a whole).
 */
static void
parse_refs(struct conf *c, const struct policy *p, const config_setting_t *list, enum refs_ctx ctx,
    const char *key, const char *where, struct policy_ref **out, size_t *nout)
{
	struct policy_ref *v;
	const char *why;
	int i, n;

	*out = NULL;
	*nout = 0;
	if ((n = list_len(c, list, key, where)) <= 0)
		return;
	if ((v = xcalloc(c, (size_t)n, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *s = config_setting_get_string(e);
		struct policy_ref *r = &v[*nout];
		const char *name = s;

		r->line = conf_elem_line(c, e);
		if (s[0] == '@') {
			r->kind = POLICY_REF_GROUP;
			name = s + 1;
		} else if (s[0] == '%') {
			r->kind = POLICY_REF_UNIX_GROUP;
			name = s + 1;
		} else {
			r->kind = POLICY_REF_NAME;
		}
		if ((r->name = xstrdup(c, name)) == NULL)
			break;
		(*nout)++;
		if (ctx == REFS_MEMBERS && r->kind == POLICY_REF_GROUP) {
			conf_error(c, r->line, "'%s' %s: '%.*s': nested groups are not supported",
			    key, where, CONF_SHOW_MAX, s);
			continue;
		}
		if (ctx == REFS_HOSTS && r->kind == POLICY_REF_UNIX_GROUP) {
			conf_error(c, r->line, "'%s' %s: '%.*s': a Unix group is not a host", key,
			    where, CONF_SHOW_MAX, s);
			continue;
		}
		if (ctx == REFS_HOSTS && r->kind == POLICY_REF_NAME) {
			if (policy_host_pattern_valid(name, &why) != EPH_OK) {
				conf_error(c, r->line, "'%s' %s: bad host pattern '%.*s': %s", key,
				    where, CONF_SHOW_MAX, s, why != NULL ? why : "invalid");
				continue;
			}
			conf_lower(r->name);
			continue;
		}
		why = conf_name_problem(
		    name, r->kind == POLICY_REF_GROUP ? CONF_NAME_TOKEN : CONF_NAME_USER);
		if (why != NULL) {
			conf_error(c, r->line, "'%s' %s: name '%.*s' %s", key, where, CONF_SHOW_MAX,
			    s, why);
			continue;
		}
		if (r->kind != POLICY_REF_GROUP)
			continue;
		if (ctx == REFS_HOSTS) {
			const struct policy_hostgroup *g = policy_find_hostgroup(p, name);

			if (g == NULL)
				conf_error(c, r->line, "'%s' %s: undefined hostgroup '%.*s'", key,
				    where, CONF_SHOW_MAX, s);
			else
				r->index = (size_t)(g - p->hostgroups);
		} else {
			const struct policy_group *g = policy_find_group(p, name);

			if (g == NULL)
				conf_error(c, r->line, "'%s' %s: undefined group '%.*s'", key,
				    where, CONF_SHOW_MAX, s);
			else
				r->index = (size_t)(g - p->groups);
		}
	}
	*out = v;
	refs_check_dups(c, *out, *nout, key, where);
}

/* ------------------------------------------------------------ sections */

static void
parse_defaults(struct conf *c, struct policy *p, const config_setting_t *root)
{
	const config_setting_t *d = conf_member(root, "defaults");

	p->max_ttl = DEFAULT_MAX_TTL;
	p->pending_timeout = DEFAULT_PENDING_TIMEOUT;
	if (d == NULL || !conf_type_ok(d, CONF_GROUP))
		return;
	conf_check_keys(c, d, defaults_keys, CONF_NKEYS(defaults_keys), "in defaults");
	(void)conf_duration(c, d, "max_ttl", 1, POLICY_MAX_TTL_LIMIT, &p->max_ttl, "in defaults");
	(void)conf_duration(
	    c, d, "pending_timeout", 1, POLICY_MAX_TTL_LIMIT, &p->pending_timeout, "in defaults");
}

/* defaults.deny names groups, so it is read once they are. */
static void
parse_defaults_deny(struct conf *c, struct policy *p, const config_setting_t *root)
{
	const config_setting_t *s = conf_member(conf_member(root, "defaults"), "deny");

	if (s != NULL && conf_type_ok(s, CONF_STRING_LIST))
		parse_refs(c, p, s, REFS_PEOPLE, "deny", "in defaults", &p->deny, &p->ndeny);
}

static int
cmp_group(const void *a, const void *b)
{
	const struct policy_group *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b);

/* Membership in one search: the user members sorted, the Unix groups apart. */
static void
group_index(struct conf *c, struct policy_group *g)
{
	size_t i;

	if ((g->users = xcalloc(c, g->nmembers, sizeof(*g->users))) == NULL ||
	    (g->unix_groups = xcalloc(c, g->nmembers, sizeof(*g->unix_groups))) == NULL)
		return;
	for (i = 0; i < g->nmembers; i++) {
		if (g->members[i].kind == POLICY_REF_NAME)
			g->users[g->nusers++] = g->members[i].name;
		else if (g->members[i].kind == POLICY_REF_UNIX_GROUP)
			g->unix_groups[g->nunix_groups++] = g->members[i].name;
	}
	if (g->nusers > 1)
		qsort(g->users, g->nusers, sizeof(*g->users), cmp_str);
	g->indexed = 1;
}

static void
parse_groups(struct conf *c, struct policy *p, const config_setting_t *root)
{
	const config_setting_t *gs = conf_member(root, "groups");
	const char *why;
	int i, n;

	if (gs == NULL || !conf_type_ok(gs, CONF_GROUP))
		return;
	if ((n = list_len(c, gs, "groups", "at top level")) <= 0)
		return;
	if ((p->groups = xcalloc(c, (size_t)n, sizeof(*p->groups))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(gs, (unsigned)i);
		const char *name = config_setting_name(s);
		struct policy_group *g = &p->groups[p->ngroups];

		if (name == NULL)
			continue;
		if ((why = conf_name_problem(name, CONF_NAME_TOKEN)) != NULL) {
			conf_error(
			    c, conf_line(s), "group name '%.*s' %s", CONF_SHOW_MAX, name, why);
			continue;
		}
		if (!conf_type_ok(s, CONF_STRING_LIST)) {
			conf_error(
			    c, conf_line(s), "'%s' in groups: expected a list of strings", name);
			continue;
		}
		if ((g->name = xstrdup(c, name)) == NULL)
			return;
		g->line = conf_line(s);
		p->ngroups++;
		parse_refs(c, p, s, REFS_MEMBERS, name, "in groups", &g->members, &g->nmembers);
	}
	/* libconfig refuses duplicate names, so the sorted names are unique. */
	if (p->ngroups > 1)
		qsort(p->groups, p->ngroups, sizeof(*p->groups), cmp_group);
	for (i = 0; i < (int)p->ngroups && !c->nomem; i++)
		group_index(c, &p->groups[i]);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct host_entry {
	char *name; /* lower case; "*.x" patterns as given */
	int line;
};

static int
cmp_host_entry(const void *a, const void *b)
{
	const struct host_entry *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return x->line < y->line ? -1 : (x->line > y->line);
}

/* Tokens such as env and sensitivity values. */
static char *
parse_token(struct conf *c, const config_setting_t *g, const char *key, const char *where)
{
	const char *s = conf_string(g, key), *why;

	if (s == NULL)
		return NULL;
	if ((why = conf_name_problem(s, CONF_NAME_TOKEN)) != NULL) {
		conf_error(c, conf_line(conf_member(g, key)), "'%s' %s: '%.*s' %s", key, where,
		    CONF_SHOW_MAX, s, why);
		return NULL;
	}
	return xstrdup(c, s);
}

static void
parse_hostgroup_hosts(
    struct conf *c, struct policy_hostgroup *hg, const config_setting_t *hs, const char *where)
{
	struct host_entry *v;
	const char *why;
	size_t i, k, nv = 0, ne = 0, ns = 0;
	int n;

	if ((n = list_len(c, hs, "hosts", where)) < 0)
		return;
	if (n == 0) {
		conf_error(c, conf_line(hs), "'hosts' %s: the list is empty", where);
		return;
	}
	if ((v = xcalloc(c, (size_t)n, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < (size_t)n; i++) {
		const config_setting_t *e = config_setting_get_elem(hs, (unsigned)i);
		const char *s = config_setting_get_string(e);
		int line = conf_elem_line(c, e);

		if (s[0] == '@' || s[0] == '%') {
			conf_error(c, line,
			    "'hosts' %s: '%.*s': a hostgroup holds host names "
			    "and patterns only",
			    where, CONF_SHOW_MAX, s);
			continue;
		}
		if (policy_host_pattern_valid(s, &why) != EPH_OK) {
			conf_error(c, line, "'hosts' %s: bad host pattern '%.*s': %s", where,
			    CONF_SHOW_MAX, s, why != NULL ? why : "invalid");
			continue;
		}
		if ((v[nv].name = xstrdup(c, s)) == NULL)
			goto out;
		conf_lower(v[nv].name);
		v[nv].line = line;
		nv++;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_host_entry);
	/* Sorted, a repeat follows the entry it repeats (k: the last kept). */
	for (i = 0, k = 0; i < nv; i++) {
		if (i > 0 && strcmp(v[k].name, v[i].name) == 0) {
			conf_error(c, v[i].line, "'hosts' %s: host '%.*s' is listed twice", where,
			    CONF_SHOW_MAX, v[i].name);
			free(v[i].name);
			v[i].name = NULL;
			continue;
		}
		k = i;
		if (v[i].name[0] == '*')
			ns++;
		else
			ne++;
	}
	if ((hg->exact = xcalloc(c, ne, sizeof(char *))) == NULL ||
	    (hg->suffixes = xcalloc(c, ns, sizeof(char *))) == NULL)
		goto out;
	for (i = 0; i < nv; i++) {
		if (v[i].name == NULL)
			continue;
		if (v[i].name[0] == '*') {
			/* "*.x.y" is kept as ".x.y": a match is a suffix test. */
			memmove(v[i].name, v[i].name + 1, strlen(v[i].name));
			hg->suffixes[hg->nsuffixes++] = v[i].name;
		} else {
			hg->exact[hg->nexact++] = v[i].name;
		}
		v[i].name = NULL;
	}
	if (hg->nexact > 1)
		qsort(hg->exact, hg->nexact, sizeof(*hg->exact), cmp_str);
	if (hg->nsuffixes > 1)
		qsort(hg->suffixes, hg->nsuffixes, sizeof(*hg->suffixes), cmp_str);
out:
	for (i = 0; i < nv; i++)
		free(v[i].name);
	free(v);
}

static int
cmp_hostgroup(const void *a, const void *b)
{
	const struct policy_hostgroup *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void
parse_hostgroups(struct conf *c, struct policy *p, const config_setting_t *root)
{
	const config_setting_t *gs = conf_member(root, "hostgroups");
	char where[WHERE_MAX];
	const char *why;
	int i, n;

	if (gs == NULL || !conf_type_ok(gs, CONF_GROUP))
		return;
	if ((n = list_len(c, gs, "hostgroups", "at top level")) <= 0)
		return;
	if ((p->hostgroups = xcalloc(c, (size_t)n, sizeof(*p->hostgroups))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(gs, (unsigned)i);
		const config_setting_t *hs;
		const char *name = config_setting_name(s);
		struct policy_hostgroup *g = &p->hostgroups[p->nhostgroups];

		if (name == NULL)
			continue;
		if ((why = conf_name_problem(name, CONF_NAME_TOKEN)) != NULL) {
			conf_error(
			    c, conf_line(s), "hostgroup name '%.*s' %s", CONF_SHOW_MAX, name, why);
			continue;
		}
		if (!conf_type_ok(s, CONF_GROUP)) {
			conf_error(c, conf_line(s), "'%s' in hostgroups: expected a group", name);
			continue;
		}
		if ((g->name = xstrdup(c, name)) == NULL)
			return;
		g->line = conf_line(s);
		p->nhostgroups++;
		snprintf(where, sizeof(where), "in hostgroup '%s'", name);
		conf_check_keys(c, s, hostgroup_keys, CONF_NKEYS(hostgroup_keys), where);
		g->env = parse_token(c, s, "env", where);
		g->sensitivity = parse_token(c, s, "sensitivity", where);
		if ((hs = conf_member(s, "hosts")) != NULL && conf_type_ok(hs, CONF_STRING_LIST))
			parse_hostgroup_hosts(c, g, hs, where);
	}
	if (p->nhostgroups > 1)
		qsort(p->hostgroups, p->nhostgroups, sizeof(*p->hostgroups), cmp_hostgroup);
}

/* "env prod, sensitivity high" for messages. */
static void
context_text(const struct policy_hostgroup *g, char *buf, size_t len)
{
	if (g->env == NULL && g->sensitivity == NULL)
		snprintf(buf, len, "no env or sensitivity");
	else if (g->sensitivity == NULL)
		snprintf(buf, len, "env %s", g->env);
	else if (g->env == NULL)
		snprintf(buf, len, "sensitivity %s", g->sensitivity);
	else
		snprintf(buf, len, "env %s, sensitivity %s", g->env, g->sensitivity);
}

static int
same_attr(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A host in hostgroups of different contexts: a request for any of them
 * gets the strictest of all, which may surprise the author. */
static void
warn_overlaps(struct conf *c, const struct policy *p)
{
	char host[POLICY_MAX_NAME_LEN + 2], ca[WHERE_MAX], cb[WHERE_MAX];
	size_t i, k;

	for (i = 0; i < p->nhostgroups; i++) {
		const struct policy_hostgroup *a = &p->hostgroups[i];

		for (k = 0; k < a->noverlaps; k++) {
			const struct policy_hostgroup *b = &p->hostgroups[a->overlaps[k]];

			if (a->overlaps[k] < i ||
			    (same_attr(a->env, b->env) &&
			        same_attr(a->sensitivity, b->sensitivity)))
				continue;
			if (!policy_hostgroups_shared(a, b, host, sizeof(host)))
				continue;
			context_text(a, ca, sizeof(ca));
			context_text(b, cb, sizeof(cb));
			conf_warn(c, a->line > b->line ? a->line : b->line,
			    "%s '%s' %s in hostgroups '%s' (%s) and '%s' (%s), whose contexts "
			    "differ: a request for either hostgroup gets the strictest conditions "
			    "of both",
			    host[0] == '*' ? "hosts" : "host", host, host[0] == '*' ? "are" : "is",
			    a->name, ca, b->name, cb);
		}
	}
}

/* ASCII only, whatever the locale. */
static int
ascii_casecmp(const char *a, const char *b)
{
	int x, y;

	for (;; a++, b++) {
		x = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : (unsigned char)*a;
		y = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : (unsigned char)*b;
		if (x != y || x == 0)
			return x - y;
	}
}

struct attr_use {
	const char *value;
	const struct policy_hostgroup *g;
};

static int
cmp_attr_use(const void *a, const void *b)
{
	const struct attr_use *x = a, *y = b;
	int d;

	if ((d = ascii_casecmp(x->value, y->value)) != 0 || (d = strcmp(x->value, y->value)) != 0)
		return d;
	return x->g->line < y->g->line ? -1 : (x->g->line > y->g->line);
}

/* env = "Prod" beside env = "prod" is almost surely a typo: values are
 * compared exactly, so a when entry for one misses the other. */
static void
warn_attr_case(struct conf *c, const struct policy *p, int sensitivity)
{
	const char *key = sensitivity ? "sensitivity" : "env";
	struct attr_use *v;
	size_t i, n = 0, run, first, k;

	if (p->nhostgroups < 2 || (v = xcalloc(c, p->nhostgroups, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < p->nhostgroups; i++) {
		const char *val = sensitivity ? p->hostgroups[i].sensitivity : p->hostgroups[i].env;

		if (val != NULL) {
			v[n].value = val;
			v[n].g = &p->hostgroups[i];
			n++;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_attr_use);
	for (run = 0; run < n; run = i) {
		/* A run of values equal but for case; first: the earliest in the file. */
		first = run;
		for (i = run + 1; i < n && ascii_casecmp(v[i].value, v[run].value) == 0; i++)
			if (v[i].g->line < v[first].g->line)
				first = i;
		for (k = run; k < i; k++) {
			if (strcmp(v[k].value, v[first].value) == 0 ||
			    (k > run && strcmp(v[k - 1].value, v[k].value) == 0))
				continue;
			conf_warn(c, v[k].g->line,
			    "%s '%s' of hostgroup '%s' differs only in case from %s '%s' of "
			    "hostgroup '%s' (line %d); values are compared exactly",
			    key, v[k].value, v[k].g->name, key, v[first].value, v[first].g->name,
			    v[first].g->line);
		}
	}
	free(v);
}

/* After the hostgroups: the host index, which hostgroups share hosts,
 * and what about them deserves a warning. */
static void
index_hostgroups(struct conf *c, struct policy *p)
{
	int r;

	if (c->nomem)
		return;
	if ((r = policy_host_index_build(p, &p->host_index)) != EPH_OK ||
	    (r = policy_hostgroup_overlaps_build(p, p->host_index)) != EPH_OK) {
		if (r == EPH_ERR_NOMEM)
			c->nomem = 1;
		else
			conf_error(
			    c, 0, "hostgroups: cannot index the hosts (%s)", eph_strerror(r));
		return;
	}
	warn_overlaps(c, p);
	warn_attr_case(c, p, 0);
	warn_attr_case(c, p, 1);
}

/* ------------------------------------------------------------ tasks */

/* Does some hostgroup have this env (or sensitivity)? */
static int
hostgroup_attr_exists(const struct policy *p, const char *value, int sensitivity)
{
	size_t i;

	for (i = 0; i < p->nhostgroups; i++) {
		const char *v = sensitivity ? p->hostgroups[i].sensitivity : p->hostgroups[i].env;

		if (v != NULL && strcmp(v, value) == 0)
			return 1;
	}
	return 0;
}

/*
 * approvals = ( { from = [ "@leads" ]; count = 1; }, ... ) into clauses.
 * Returns their total count.
 */
static unsigned
parse_clauses(struct conf *c, const struct policy *p, const config_setting_t *list,
    const char *where, struct policy_clause **out, size_t *nout)
{
	char cwhere[WHERE_MAX * 3];
	unsigned total = 0;
	int i, n;

	*out = NULL;
	*nout = 0;
	n = config_setting_length(list);
	if (n <= 0) {
		conf_error(
		    c, conf_line(list), "'approvals' %s: the list of clauses is empty", where);
		return 0;
	}
	if (n > POLICY_MAX_APPROVALS) {
		conf_error(c, conf_line(list), "'approvals' %s: more than %d clauses", where,
		    POLICY_MAX_APPROVALS);
		return 0;
	}
	if ((*out = xcalloc(c, (size_t)n, sizeof(**out))) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i), *from;
		struct policy_clause *cl = &(*out)[(*nout)++];
		int64_t v;

		cl->line = conf_line(e);
		cl->count = 1;
		snprintf(cwhere, sizeof(cwhere), "in approval clause %d %s", i + 1, where);
		conf_check_keys(c, e, clause_keys, CONF_NKEYS(clause_keys), cwhere);
		if (conf_int(c, e, "count", 1, POLICY_MAX_APPROVALS, &v, cwhere) > 0)
			cl->count = (unsigned)v;
		if ((from = conf_member(e, "from")) != NULL &&
		    conf_type_ok(from, CONF_STRING_LIST)) {
			if (config_setting_length(from) == 0)
				conf_error(
				    c, conf_line(from), "'from' %s: the list is empty", cwhere);
			else
				parse_refs(
				    c, p, from, REFS_PEOPLE, "from", cwhere, &cl->from, &cl->nfrom);
		}
		total += cl->count;
	}
	if (total > POLICY_MAX_APPROVALS)
		conf_error(c, conf_line(list),
		    "'approvals' %s: the clauses need %u approvals; at most %d", where, total,
		    POLICY_MAX_APPROVALS);
	return total;
}

static void
parse_when(struct conf *c, const struct policy *p, struct policy_task *t,
    const config_setting_t *ws, const char *twhere)
{
	char where[WHERE_MAX * 2];
	int i, n;

	if ((n = list_len(c, ws, "when", twhere)) <= 0)
		return;
	if ((t->when = xcalloc(c, (size_t)n, sizeof(*t->when))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(ws, (unsigned)i), *as;
		struct policy_when *w = &t->when[t->nwhen++];
		size_t bad_keys;
		int64_t v;
		int line = conf_line(e);

		w->line = line;
		w->approvals = -1;
		snprintf(where, sizeof(where), "in when entry %d %s", i + 1, twhere);
		bad_keys = conf_check_keys(c, e, when_keys, CONF_NKEYS(when_keys), where);
		w->env = parse_token(c, e, "env", where);
		w->sensitivity = parse_token(c, e, "sensitivity", where);
		/* A misspelt value would make a stricter entry never apply. */
		if (w->env != NULL && !hostgroup_attr_exists(p, w->env, 0))
			conf_error(c, conf_line(conf_member(e, "env")),
			    "'env' %s: no hostgroup has env '%s'", where, w->env);
		if (w->sensitivity != NULL && !hostgroup_attr_exists(p, w->sensitivity, 1))
			conf_error(c, conf_line(conf_member(e, "sensitivity")),
			    "'sensitivity' %s: no hostgroup has sensitivity '%s'", where,
			    w->sensitivity);
		if (conf_int(c, e, "approvals", 0, POLICY_MAX_APPROVALS, &v, where) > 0)
			w->approvals = (int)v;
		else if ((as = conf_member(e, "approvals")) != NULL &&
		    conf_type_ok(as, CONF_GROUP_LIST))
			w->approvals =
			    (int)parse_clauses(c, p, as, where, &w->clauses, &w->nclauses);
		(void)conf_duration(c, e, "max_ttl", 1, POLICY_MAX_TTL_LIMIT, &w->max_ttl, where);
		/* Unless a misspelt key (already reported) was meant to be one. */
		if (bad_keys == 0 && conf_member(e, "env") == NULL &&
		    conf_member(e, "sensitivity") == NULL)
			conf_error(c, line,
			    "when entry %d %s names neither env nor sensitivity (for every host, "
			    "set the task's own approvals or max_ttl)",
			    i + 1, twhere);
		if (conf_member(e, "approvals") == NULL && conf_member(e, "max_ttl") == NULL)
			conf_error(c, line, "when entry %d %s sets neither approvals nor max_ttl",
			    i + 1, twhere);
	}
}

/* A requester the loader cannot enumerate: a Unix group, directly or in
 * a policy group. */
static const struct policy_ref *
dynamic_requester(const struct policy *p, const struct policy_task *t)
{
	size_t i, j;

	for (i = 0; i < t->nrequesters; i++) {
		const struct policy_ref *r = &t->requesters[i];

		if (r->kind == POLICY_REF_UNIX_GROUP)
			return r;
		if (r->kind != POLICY_REF_GROUP || r->index >= p->ngroups)
			continue;
		for (j = 0; j < p->groups[r->index].nmembers; j++)
			if (p->groups[r->index].members[j].kind == POLICY_REF_UNIX_GROUP)
				return &p->groups[r->index].members[j];
	}
	return NULL;
}

/*
 * Can the approvals of one rule (the task's, or a when entry's) ever be
 * given? Where the approvers are named statically: an error when too few
 * people may approve, or when a requester is one of them and the others
 * are too few for that requester's own request; a warning when a
 * requester through a Unix group could be such an approver.
 */
static void
check_rule(struct conf *c, const struct policy *p, const struct policy_task *t,
    const struct policy_clause *v, size_t nv, int line, const char *what)
{
	struct policy_approvers_static s;
	const struct policy_ref *dyn;
	long best;
	size_t i;
	int pass;

	if (policy_approvers_static_build(p, v, nv, &s) != EPH_OK) {
		c->nomem = 1;
		return;
	}
	if (s.dynamic || s.total == 0)
		goto out;
	if ((best = policy_approvers_static_best(&s, NULL)) < 0)
		goto nomem;
	if ((unsigned long)best < s.total) {
		if (nv == 1)
			conf_error(c, line, "%s: %u approvals needed but only %ld %s approve", what,
			    s.total, best, best == 1 ? "person may" : "people may");
		else
			conf_error(c, line,
			    "%s: the clauses need %u distinct approvers, but at most %ld of the "
			    "people they name can meet them",
			    what, s.total, best);
		goto out;
	}
	/* Pass 0: requesters named statically (errors); 1: through Unix groups. */
	dyn = dynamic_requester(p, t);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < s.n; i++) {
			int is_req = policy_refs_find_user(p, t->requesters, t->nrequesters,
			                 s.names[i], NULL, 0) != NULL;

			if ((pass == 0 && !is_req) || (pass == 1 && dyn == NULL))
				continue;
			if ((best = policy_approvers_static_best(&s, s.names[i])) < 0)
				goto nomem;
			if ((unsigned long)best >= s.total)
				continue;
			if (pass == 0)
				conf_error(c, line,
				    "%s: %s may request the task and approve it, and cannot "
				    "approve "
				    "their own request: it could never get %u approvals (at most "
				    "%ld "
				    "from others)",
				    what, s.names[i], s.total, best);
			else
				conf_warn(c, line,
				    "%s: a requester through %%%s who is also an approver (such as "
				    "%s) could never get %u approvals (at most %ld from others)",
				    what, dyn->name, s.names[i], s.total, best);
			goto out;
		}
	}
	goto out;
nomem:
	c->nomem = 1;
out:
	policy_approvers_static_free(&s);
}

static void
check_approvals(struct conf *c, const struct policy *p, struct policy_task *t,
    const config_setting_t *ts, const char *where, size_t errs_before)
{
	const config_setting_t *as = conf_member(ts, "approvals");
	int line = as != NULL ? conf_line(as) : t->line;
	/* Feasibility means little over sets already reported broken. */
	int sound = conf_nerrors(c) == errs_before;
	char what[WHERE_MAX * 2];
	struct policy_clause one;
	size_t i;

	for (i = 0; i < t->nwhen; i++) {
		const struct policy_when *w = &t->when[i];

		if (w->approvals <= 0)
			continue;
		if (t->napprovers == 0 && w->nclauses == 0)
			conf_error(c, w->line,
			    "'approvals' in when entry %zu %s: "
			    "approvals need approvers, and the task has none",
			    i + 1, where);
		else if (t->break_glass)
			conf_error(c, w->line,
			    "'approvals' in when entry %zu %s: "
			    "a break_glass task issues without approvals",
			    i + 1, where);
		else if (sound) {
			snprintf(
			    what, sizeof(what), "'approvals' in when entry %zu %s", i + 1, where);
			one.from = t->approvers;
			one.nfrom = t->napprovers;
			one.count = (unsigned)w->approvals;
			one.line = w->line;
			check_rule(c, p, t, w->nclauses > 0 ? w->clauses : &one,
			    w->nclauses > 0 ? w->nclauses : 1, w->line, what);
		}
	}
	if (t->approvals > 0 && t->napprovers == 0 && t->nclauses == 0)
		conf_error(c, line,
		    "'approvals' %s: %u approvals need approvers, and the task "
		    "has none",
		    where, t->approvals);
	else if (t->approvals > 0 && t->break_glass)
		conf_error(c, line,
		    "'approvals' %s: a break_glass task issues without "
		    "approvals",
		    where);
	else if (t->approvals > 0 && sound) {
		snprintf(what, sizeof(what), "'approvals' %s", where);
		one.from = t->approvers;
		one.nfrom = t->napprovers;
		one.count = t->approvals;
		one.line = line;
		check_rule(c, p, t, t->nclauses > 0 ? t->clauses : &one,
		    t->nclauses > 0 ? t->nclauses : 1, line, what);
	}
}

static void
parse_ttls(struct conf *c, const struct policy *p, struct policy_task *t,
    const config_setting_t *ts, const char *where)
{
	char a[32], b[32];
	uint64_t v;
	size_t i;
	int has_max;

	t->max_ttl = p->max_ttl;
	has_max = conf_duration(c, ts, "max_ttl", 1, POLICY_MAX_TTL_LIMIT, &v, where);
	if (has_max > 0) {
		if (v > p->max_ttl) {
			fmt_ttl(v, a, sizeof(a));
			fmt_ttl(p->max_ttl, b, sizeof(b));
			conf_error(c, conf_line(conf_member(ts, "max_ttl")),
			    "'max_ttl' %s: %s is over the global max_ttl %s", where, a, b);
		} else {
			t->max_ttl = v;
		}
	}
	t->default_ttl = t->max_ttl;
	if (conf_duration(c, ts, "default_ttl", 1, POLICY_MAX_TTL_LIMIT, &v, where) > 0) {
		if (v > t->max_ttl) {
			fmt_ttl(v, a, sizeof(a));
			fmt_ttl(t->max_ttl, b, sizeof(b));
			conf_error(c, conf_line(conf_member(ts, "default_ttl")),
			    "'default_ttl' %s: %s is above the task's max_ttl %s", where, a, b);
		} else {
			t->default_ttl = v;
		}
	}
	for (i = 0; i < t->nwhen; i++) {
		if (t->when[i].max_ttl == 0 || t->when[i].max_ttl <= t->max_ttl)
			continue;
		fmt_ttl(t->when[i].max_ttl, a, sizeof(a));
		fmt_ttl(t->max_ttl, b, sizeof(b));
		if (t->when[i].max_ttl > p->max_ttl)
			conf_error(c, t->when[i].line,
			    "'max_ttl' in when entry %zu %s: %s is "
			    "over the global max_ttl",
			    i + 1, where, a);
		else
			conf_error(c, t->when[i].line,
			    "'max_ttl' in when entry %zu %s: %s is "
			    "above the task's max_ttl %s",
			    i + 1, where, a, b);
	}
}

/* Every bad entry of a source_address list, not only the first. */
static void
source_errors(struct conf *c, int line, const char *list, const char *where)
{
	char fix[POLICY_CIDR_FIX_MAX];
	const char *p, *comma, *why = NULL;
	unsigned num = 1;
	size_t len, n = 0;

	if (policy_cidr_list_valid(list, &why) == EPH_OK)
		return;
	/* A problem of the whole list (empty, too long) says so once. */
	if (*list == '\0' || strlen(list) > POLICY_CIDR_LIST_MAX) {
		conf_error(c, line, "'source_address' %s: bad CIDR list '%.*s': %s", where,
		    CONF_SHOW_MAX, list, why != NULL ? why : "invalid");
		return;
	}
	for (p = list;; p = comma + 1, num++) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		why = NULL;
		if (policy_cidr_entry_check(p, len, &why, fix, sizeof(fix)) != 0) {
			if (comma == NULL && p == list)
				conf_error(c, line,
				    "'source_address' %s: bad CIDR list '%.*s': %s%s%s", where,
				    CONF_SHOW_MAX, list, why != NULL ? why : "invalid",
				    fix[0] != '\0' ? "; " : "", fix);
			else
				conf_error(c, line,
				    "'source_address' %s: bad CIDR list entry %u '%.*s': %s%s%s",
				    where, num, (int)(len < CONF_SHOW_MAX ? len : CONF_SHOW_MAX), p,
				    why != NULL ? why : "invalid", fix[0] != '\0' ? "; " : "", fix);
			n++;
		}
		if (comma == NULL)
			break;
	}
	if (n == 0)
		conf_error(c, line, "'source_address' %s: bad CIDR list '%.*s'", where,
		    CONF_SHOW_MAX, list);
}

static void
parse_source(struct conf *c, struct policy_task *t, const config_setting_t *ts, const char *where)
{
	const char *s = conf_string(ts, "source_address"), *why = NULL;

	t->source_mode = POLICY_SOURCE_NONE;
	if (s == NULL || strcmp(s, "none") == 0)
		return;
	if (strcmp(s, "requester") == 0) {
		t->source_mode = POLICY_SOURCE_REQUESTER;
		return;
	}
	if (policy_cidr_list_valid(s, &why) != EPH_OK) {
		source_errors(c, conf_line(conf_member(ts, "source_address")), s, where);
		return;
	}
	t->source_mode = POLICY_SOURCE_CIDRS;
	t->source_cidrs = xstrdup(c, s);
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
parse_reason_pattern(
    struct conf *c, struct policy_task *t, const config_setting_t *ts, const char *where)
{
	const char *s = conf_string(ts, "reason_pattern");
	int line = conf_line(conf_member(ts, "reason_pattern")), e;
	char why[256];

	if (s == NULL)
		return;
	if (*s == '\0' || has_control(s)) {
		conf_error(c, line, "'reason_pattern' %s: %s", where,
		    *s == '\0' ? "is empty" : "holds a control character");
		return;
	}
	if ((t->reason_re = xcalloc(c, 1, sizeof(*t->reason_re))) == NULL)
		return;
	if ((e = regcomp(t->reason_re, s, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(e, t->reason_re, why, sizeof(why));
		conf_error(c, line,
		    "'reason_pattern' %s: '%.*s' is not a valid extended regular "
		    "expression: %s",
		    where, CONF_SHOW_MAX, s, why);
		free(t->reason_re);
		t->reason_re = NULL;
		return;
	}
	t->reason_pattern = xstrdup(c, s);
}

static void
parse_command(struct conf *c, struct policy_task *t, const config_setting_t *ts, const char *where)
{
	const char *s = conf_string(ts, "command");
	size_t i;

	if (s == NULL)
		return;
	if (s[0] != '/') {
		conf_error(c, conf_line(conf_member(ts, "command")),
		    "'command' %s: '%.*s' is not an absolute path", where, CONF_SHOW_MAX, s);
		return;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			conf_error(c, conf_line(conf_member(ts, "command")),
			    "'command' %s: holds a control character", where);
			return;
		}
	}
	t->command = xstrdup(c, s);
}

static void
parse_schedule(struct conf *c, struct policy_task *t, const config_setting_t *ss, const char *where)
{
	const char *why;
	int i, n;

	if ((n = list_len(c, ss, "schedule", where)) < 0)
		return;
	if (n == 0) {
		conf_error(c, conf_line(ss),
		    "'schedule' %s: the list is empty (leave it out "
		    "to allow any time)",
		    where);
		return;
	}
	if ((t->schedule = xcalloc(c, (size_t)n, sizeof(*t->schedule))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(ss, (unsigned)i);
		const char *s = config_setting_get_string(e);
		struct policy_schedule *sc = &t->schedule[t->nschedule];
		int line = conf_elem_line(c, e);

		why = NULL;
		if (policy_schedule_parse(s, sc, &why) != EPH_OK) {
			conf_error(c, line, "'schedule' %s: bad schedule '%.*s': %s", where,
			    CONF_SHOW_MAX, s, why != NULL ? why : "invalid");
			continue;
		}
		sc->line = line;
		t->nschedule++;
	}
}

/* valid_until = "2026-12-31T18:00": local time, like schedules. */
static void
parse_valid_until(
    struct conf *c, struct policy_task *t, const config_setting_t *ts, const char *where)
{
	const char *s = conf_string(ts, "valid_until"), *why = NULL;
	time_t v;

	if (s == NULL)
		return;
	t->valid_until_line = conf_line(conf_member(ts, "valid_until"));
	if (policy_local_time_parse(s, &v, &why) != EPH_OK || v <= 0) {
		conf_error(c, t->valid_until_line, "'valid_until' %s: bad time '%.*s': %s", where,
		    CONF_SHOW_MAX, s, why != NULL ? why : "before 1970");
		return;
	}
	t->valid_until = v;
}

/* login_as = "postgres"; or [ "postgres", "barman" ]: the first is the
 * default, a request may name any other. */
static void
parse_login_as(struct conf *c, struct policy_task *t, const config_setting_t *s, const char *where)
{
	struct host_entry *v;
	const char *why;
	size_t i;
	int n, one = config_setting_type(s) == CONFIG_TYPE_STRING;

	n = one ? 1 : list_len(c, s, "login_as", where);
	if (n == 0)
		conf_error(c, conf_line(s), "'login_as' %s: the list is empty", where);
	if (n <= 0)
		return;
	if ((t->login_as_list = xcalloc(c, (size_t)n, sizeof(char *))) == NULL ||
	    (v = xcalloc(c, (size_t)n, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < (size_t)n; i++) {
		const config_setting_t *e = one ? s : config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_get_string(e);
		int line = one ? conf_line(s) : conf_elem_line(c, e);

		if ((why = conf_name_problem(name, CONF_NAME_USER)) != NULL) {
			conf_error(c, line, "'login_as' %s: name '%.*s' %s", where, CONF_SHOW_MAX,
			    name, why);
			continue;
		}
		if ((t->login_as_list[t->nlogin_as] = xstrdup(c, name)) == NULL)
			break;
		v[t->nlogin_as].name = t->login_as_list[t->nlogin_as];
		v[t->nlogin_as].line = line;
		t->nlogin_as++;
	}
	/* Sorted, a repeat follows the entry it repeats. */
	if (t->nlogin_as > 1)
		qsort(v, t->nlogin_as, sizeof(*v), cmp_host_entry);
	for (i = 1; i < t->nlogin_as; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0)
			conf_error(
			    c, v[i].line, "'login_as' %s: '%s' is listed twice", where, v[i].name);
	free(v);
	if (t->nlogin_as > 0)
		t->login_as = xstrdup(c, t->login_as_list[0]);
}

static void
parse_task(struct conf *c, const struct policy *p, struct policy_task *t,
    const config_setting_t *ts, int num)
{
	const config_setting_t *s;
	char label[WHERE_MAX], where[WHERE_MAX + 8];
	const char *name, *why;
	size_t errs_before;
	int64_t v;

	t->line = conf_line(ts);
	errs_before = conf_nerrors(c);
	name = conf_string(ts, "name");
	if (name != NULL && (why = conf_name_problem(name, CONF_NAME_TOKEN)) != NULL) {
		conf_error(c, conf_line(conf_member(ts, "name")), "task name '%.*s' %s",
		    CONF_SHOW_MAX, name, why);
		name = NULL;
	}
	if (name != NULL)
		snprintf(label, sizeof(label), "task '%s'", name);
	else
		snprintf(label, sizeof(label), "task #%d", num);
	snprintf(where, sizeof(where), "in %s", label);
	conf_check_keys(c, ts, task_keys, CONF_NKEYS(task_keys), where);
	if (name != NULL && (t->name = xstrdup(c, name)) == NULL)
		return;
	if ((name = conf_string(ts, "description")) != NULL) {
		/* It is quoted in reasons, logs and explain: one line. */
		if (has_control(name))
			conf_error(c, conf_line(conf_member(ts, "description")),
			    "'description' %s: holds a control character (a newline, a tab, ...)",
			    where);
		else if ((t->description = xstrdup(c, name)) == NULL)
			return;
	}

	s = conf_member(ts, "requesters");
	if (s == NULL)
		conf_error(c, t->line, "%s has no requesters", label);
	else if (conf_type_ok(s, CONF_STRING_LIST) && config_setting_length(s) == 0)
		conf_error(c, conf_line(s), "'requesters' %s: the list is empty", where);
	else if (conf_type_ok(s, CONF_STRING_LIST))
		parse_refs(
		    c, p, s, REFS_PEOPLE, "requesters", where, &t->requesters, &t->nrequesters);

	if ((s = conf_member(ts, "approvers")) != NULL && conf_type_ok(s, CONF_STRING_LIST))
		parse_refs(c, p, s, REFS_PEOPLE, "approvers", where, &t->approvers, &t->napprovers);

	s = conf_member(ts, "hosts");
	if (s == NULL)
		conf_error(c, t->line, "%s has no hosts", label);
	else if (conf_type_ok(s, CONF_STRING_LIST) && config_setting_length(s) == 0)
		conf_error(c, conf_line(s), "'hosts' %s: the list is empty", where);
	else if (conf_type_ok(s, CONF_STRING_LIST))
		parse_refs(c, p, s, REFS_HOSTS, "hosts", where, &t->hosts, &t->nhosts);

	if ((s = conf_member(ts, "login_as")) != NULL && conf_type_ok(s, CONF_STRING_OR_LIST))
		parse_login_as(c, t, s, where);

	t->break_glass = conf_bool(ts, "break_glass", 0);
	t->require_reason = conf_bool(ts, "require_reason", 0);
	if (t->break_glass) {
		if (conf_member(ts, "require_reason") != NULL && !t->require_reason)
			conf_error(c, conf_line(conf_member(ts, "require_reason")),
			    "'require_reason' %s: a break_glass task always requires a reason",
			    where);
		t->require_reason = 1;
	}
	if ((s = conf_member(ts, "deny")) != NULL && conf_type_ok(s, CONF_STRING_LIST))
		parse_refs(c, p, s, REFS_PEOPLE, "deny", where, &t->deny, &t->ndeny);
	parse_reason_pattern(c, t, ts, where);
	parse_source(c, t, ts, where);
	parse_command(c, t, ts, where);
	t->pty = conf_bool(ts, "pty", conf_member(ts, "command") == NULL);
	t->agent_forwarding = conf_bool(ts, "agent_forwarding", 0);
	t->port_forwarding = conf_bool(ts, "port_forwarding", 0);
	t->x11_forwarding = conf_bool(ts, "x11_forwarding", 0);
	t->user_rc = conf_bool(ts, "user_rc", 0);
	if (conf_int(c, ts, "max_logins", 0, UINT32_MAX, &v, where) > 0)
		t->max_logins = (uint32_t)v;
	if ((s = conf_member(ts, "schedule")) != NULL && conf_type_ok(s, CONF_STRING_LIST)) {
		parse_schedule(c, t, s, where);
		/* Emergencies keep no office hours. */
		if (t->break_glass && t->nschedule > 0)
			conf_warn(c, conf_line(s),
			    "'schedule' %s: a break_glass task with a schedule cannot be used "
			    "outside it, which is when emergencies tend to happen",
			    where);
	}
	parse_valid_until(c, t, ts, where);
	if ((s = conf_member(ts, "when")) != NULL && conf_type_ok(s, CONF_GROUP_LIST))
		parse_when(c, p, t, s, where);

	t->approvals = (t->napprovers > 0 && !t->break_glass) ? 1 : 0;
	if (conf_int(c, ts, "approvals", 0, POLICY_MAX_APPROVALS, &v, where) > 0)
		t->approvals = (unsigned)v;
	else if ((s = conf_member(ts, "approvals")) != NULL && conf_type_ok(s, CONF_GROUP_LIST)) {
		t->approvals = parse_clauses(c, p, s, where, &t->clauses, &t->nclauses);
		if (t->napprovers > 0)
			conf_error(c, conf_line(conf_member(ts, "approvers")),
			    "'approvers' %s: approvals given as clauses name their approvers in "
			    "'from'",
			    where);
	}
	check_approvals(c, p, t, ts, where, errs_before);
	parse_ttls(c, p, t, ts, where);
}

static int
cmp_task(const void *a, const void *b)
{
	const struct policy_task *x = a, *y = b;
	int d;

	/* Unnamed tasks (already reported) sort last. */
	if (x->name == NULL || y->name == NULL)
		return (x->name == NULL) - (y->name == NULL);
	if ((d = strcmp(x->name, y->name)) != 0)
		return d;
	return x->line < y->line ? -1 : (x->line > y->line);
}

static void
parse_tasks(struct conf *c, struct policy *p, const config_setting_t *root)
{
	const config_setting_t *ts = conf_member(root, "tasks");
	size_t i;
	int n;

	if (ts == NULL || !conf_type_ok(ts, CONF_GROUP_LIST))
		return;
	n = config_setting_length(ts);
	if (n < 0 || (unsigned)n > POLICY_MAX_TASKS) {
		conf_error(c, conf_line(ts), "'tasks': more than %u tasks", POLICY_MAX_TASKS);
		return;
	}
	if ((p->tasks = xcalloc(c, (size_t)n, sizeof(*p->tasks))) == NULL)
		return;
	for (i = 0; i < (size_t)n && !c->nomem; i++) {
		parse_task(
		    c, p, &p->tasks[i], config_setting_get_elem(ts, (unsigned)i), (int)i + 1);
		p->ntasks++;
	}
	if (p->ntasks > 1)
		qsort(p->tasks, p->ntasks, sizeof(*p->tasks), cmp_task);
	for (i = 1; i < p->ntasks; i++) {
		const struct policy_task *a = &p->tasks[i - 1], *b = &p->tasks[i];

		if (a->name != NULL && b->name != NULL && strcmp(a->name, b->name) == 0)
			conf_error(c, b->line, "duplicate task name '%s' (first at line %d)",
			    b->name, p->tasks[i - 1].line);
	}
}

/* ------------------------------------------------------------ loading */

static int
policy_build(struct conf *c, struct policy **out)
{
	const config_setting_t *root = conf_root(c);
	struct policy *p;
	int r;

	if ((p = calloc(1, sizeof(*p))) == NULL || (p->file = strdup(c->name)) == NULL) {
		free(p);
		return EPH_ERR_NOMEM;
	}
	conf_check_keys(c, root, top_keys, CONF_NKEYS(top_keys), "at top level");
	parse_defaults(c, p, root);
	parse_groups(c, p, root);
	parse_defaults_deny(c, p, root);
	parse_hostgroups(c, p, root);
	index_hostgroups(c, p);
	parse_tasks(c, p, root);
	if ((r = conf_result(c)) != EPH_OK) {
		policy_free(p);
		return r;
	}
	conf_take_warnings(c, &p->warnings);
	if (c->nomem) {
		policy_free(p);
		return EPH_ERR_NOMEM;
	}
	*out = p;
	return EPH_OK;
}

int
policy_load(const char *path, struct policy **out, struct policy_errors *errs)
{
	struct conf c;
	int r;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if ((r = conf_load_file(&c, path, errs)) == EPH_OK)
		r = policy_build(&c, out);
	conf_free(&c);
	return r;
}

int
policy_load_string(
    const char *text, const char *name, struct policy **out, struct policy_errors *errs)
{
	struct conf c;
	int r;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if ((r = conf_load_string(&c, text, name, errs)) == EPH_OK)
		r = policy_build(&c, out);
	conf_free(&c);
	return r;
}

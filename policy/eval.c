/*
 * Policy evaluation: from a loaded policy and a request to a decision
 * (deny, pending approvals, issue now) with the effective TTL, the
 * principals, options and extensions, and one reason per rule that held,
 * refused or clamped. Pure and deterministic: no I/O, no globals, no
 * locale; the caller passes the Unix groups it looked up, and the time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "util.h"

#include "match.h"
#include "policy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* How much of a list a reason quotes before "...". */
#define REFS_TEXT_MAX 160

static const char *const wday_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

struct eval {
	const struct policy *p;
	const struct policy_request *req;
	const struct policy_task *t;
	struct policy_decision *d;
	const char *who; /* the requester, fit for a reason */
	size_t reasons_cap;
	int denied;
	int nomem;
	struct tm sched_tm; /* local time now, when a schedule admitted it */
	int sched_ok;
};

static void add_reason(struct eval *e, enum policy_reason_kind kind, const char *rule, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
add_reason(
    struct eval *e, enum policy_reason_kind kind, const char *rule, int line, const char *fmt, ...)
{
	struct policy_decision *d = e->d;
	struct policy_reason *r;
	va_list ap;
	char *text = NULL, *name = NULL;
	int n;

	if (kind == POLICY_REASON_DENY)
		e->denied = 1;
	if (e->nomem)
		return;
	if (d->nreasons == e->reasons_cap) {
		size_t cap = e->reasons_cap == 0 ? 16 : e->reasons_cap * 2;

		if ((r = reallocarray(d->reasons, cap, sizeof(*r))) == NULL)
			goto fail;
		d->reasons = r;
		e->reasons_cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		text = NULL;
		goto fail;
	}
	if ((name = strdup(rule)) == NULL)
		goto fail;
	r = &d->reasons[d->nreasons++];
	r->kind = kind;
	r->rule = name;
	r->text = text;
	r->line = line;
	return;
fail:
	free(text);
	free(name);
	e->nomem = 1;
}

static const char *
ref_prefix(enum policy_ref_kind k)
{
	return k == POLICY_REF_GROUP ? "@" : k == POLICY_REF_UNIX_GROUP ? "%" : "";
}

/* Text from the request as it may appear in a reason (and so in logs and
 * JSON): printable ASCII, at most SAFE_TEXT_MAX bytes; anything else
 * becomes '?'. Returns s itself when it is already fine. */
#define SAFE_TEXT_MAX 128
static const char *
safe(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\' || i >= len - 4)
			break;
	if (s[i] == '\0')
		return s;
	for (i = 0; s[i] != '\0' && i < len - 4; i++)
		buf[i] = (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') ? '?' : s[i];
	if (s[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Does s hold an ASCII letter or digit? */
static int
has_alnum(const char *s)
{
	for (; *s != '\0'; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9'))
			return 1;
	return 0;
}

/* A description as a reason quotes it: control characters become '?'.
 * Returns s itself when it has none (the loader's case). */
static const char *
safe_desc(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
	if (s[i] == '\0')
		return s;
	for (i = 0; s[i] != '\0' && i < len - 1; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Append ", pre name" to a list text; on overflow end it with ", ..."
 * (the callers' buffers keep room for it) and return -1. */
static int
list_text_add(char *buf, size_t len, size_t *used, size_t i, const char *pre, const char *name)
{
	int w = snprintf(buf + *used, len - *used, "%s%s%s", i > 0 ? ", " : "", pre, name);

	if (w < 0 || (size_t)w >= len - *used) {
		snprintf(buf + (*used < len - 6 ? *used : len - 6), 6, ", ...");
		return -1;
	}
	*used += (size_t)w;
	return 0;
}

/* "@dba, carol, %ops" as in the file, shortened with "..." when long. */
static void
refs_text(const struct policy_ref *refs, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if (list_text_add(buf, len, &used, i, ref_prefix(refs[i].kind), refs[i].name) != 0)
			return;
	if (n == 0)
		snprintf(buf, len, "none");
}

/* "a, b, c", shortened with "..." like refs_text. */
static void
strv_text(const char *const *v, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if (list_text_add(buf, len, &used, i, "", v[i]) != 0)
			return;
	if (n == 0)
		snprintf(buf, len, "none");
}

static char *
ref_dup(const struct policy_ref *r)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s", ref_prefix(r->kind), r->name) < 0)
		return NULL;
	return s;
}

const char *
policy_identity_problem(const char *name)
{
	const unsigned char *q;

	if (name == NULL || *name == '\0')
		return "is empty";
	if (strlen(name) > POLICY_MAX_NAME_LEN)
		return "is too long";
	for (q = (const unsigned char *)name; *q != '\0'; q++) {
		if (*q == ':')
			return "holds ':', which separates the fields of a key id";
		if (*q <= 0x20 || *q >= 0x7f)
			return "holds a space, a control character or a non-ASCII byte";
	}
	return NULL;
}

/* Are the two the same person? By uid when both were resolved through
 * NSS, else by exact name. */
static int
same_person(const char *a, enum policy_identity aid, uid_t auid, const char *b,
    enum policy_identity bid, uid_t buid)
{
	if (aid == POLICY_ID_RESOLVED && bid == POLICY_ID_RESOLVED)
		return auid == buid;
	return strcmp(a, b) == 0;
}

static int
cmp_task(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const struct policy_task *)elem)->name);
}

static const struct policy_task *
find_task(const struct policy *p, const char *name)
{
	if (p->ntasks == 0)
		return NULL;
	return bsearch(name, p->tasks, p->ntasks, sizeof(*p->tasks), cmp_task);
}

static const struct policy_hostgroup *
ref_hostgroup(const struct policy *p, const struct policy_ref *r)
{
	if (r->kind != POLICY_REF_GROUP || r->index >= p->nhostgroups ||
	    strcmp(p->hostgroups[r->index].name, r->name) != 0)
		return NULL;
	return &p->hostgroups[r->index];
}

/* The most restrictive conditions found so far, and where they come from. */
struct limits {
	unsigned approvals;
	int approvals_line; /* when entry that set them; 0: the task */
	const struct policy_when *approvals_when; /* that entry; NULL: the task */
	uint64_t when_max; /* smallest max_ttl of a matching when; 0: none */
	int when_max_line;
};

/* Equality of two short attribute strings, without a call. */
static inline int
attr_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return 0;
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Does the when entry apply in the context of hostgroup g? It names one
 * or both attributes, and g has each it names. */
static inline int
when_matches(const struct policy_when *w, const struct policy_hostgroup *g)
{
	return (w->env == NULL || attr_eq(g->env, w->env)) &&
	    (w->sensitivity == NULL || attr_eq(g->sensitivity, w->sensitivity));
}

/* Room for the contexts of one host: on the stack unless very many. */
struct contexts {
	const struct policy_hostgroup *stackv[16], **v;
	size_t n, cap;
};

static int
contexts_add(struct contexts *cs, const struct policy_hostgroup *g)
{
	const struct policy_hostgroup **grown;

	if (cs->n == cs->cap) {
		if ((grown = reallocarray(
		         cs->v == cs->stackv ? NULL : cs->v, cs->cap * 2, sizeof(*grown))) == NULL)
			return -1;
		if (cs->v == cs->stackv)
			memcpy(grown, cs->stackv, sizeof(cs->stackv));
		cs->v = grown;
		cs->cap *= 2;
	}
	cs->v[cs->n++] = g;
	return 0;
}

/* The hostgroups whose context the host has: for a "@group" request,
 * that hostgroup and every hostgroup sharing a host with it (the request
 * stands for all of its hosts); for a name, every hostgroup of the policy
 * holding it (context belongs to the host, not to how the task names it). */
static int
host_contexts(const struct policy *p, const struct policy_hostgroup *only, const char *lower,
    size_t len, struct contexts *cs)
{
	size_t gi, idx[16], nidx;

	if (only != NULL) {
		if (contexts_add(cs, only) != 0)
			return -1;
		for (gi = 0; gi < only->noverlaps; gi++)
			if (only->overlaps[gi] < p->nhostgroups &&
			    contexts_add(cs, &p->hostgroups[only->overlaps[gi]]) != 0)
				return -1;
		return 0;
	}
	if (p->host_index != NULL &&
	    (nidx = policy_host_index_groups(p, p->host_index, lower, len, idx, NELEM(idx))) <=
	        NELEM(idx)) {
		/* One search; a host in very many hostgroups takes the scan below. */
		for (gi = 0; gi < nidx; gi++)
			if (contexts_add(cs, &p->hostgroups[idx[gi]]) != 0)
				return -1;
		return 0;
	}
	for (gi = 0; gi < p->nhostgroups; gi++)
		if (policy_hostgroup_has_lower(&p->hostgroups[gi], lower, len) &&
		    contexts_add(cs, &p->hostgroups[gi]) != 0)
			return -1;
	return 0;
}

/*
 * Conditions of one host. Each hostgroup holding it is one context: in
 * it, the when entries that match it set the approvals and max_ttl (the
 * strictest of them winning, downwards from the task's too), and where
 * none sets a value the task's holds. The host gets the strictest over
 * its contexts, so a when entry can loosen a host only when it loosens
 * every context the host is in. A host in no hostgroup has the task's
 * conditions. Result in lim (approvals, smallest when max_ttl).
 */
static void
host_context(struct eval *e, const char *shown, const struct policy_hostgroup *only,
    const char *lower, size_t len, struct limits *lim)
{
	const struct policy_task *t = e->t;
	struct contexts cs;
	size_t gi, k;
	int appr = -1, appr_line = 0, max_line = 0;
	const struct policy_when *appr_when = NULL;
	uint64_t max = 0;

	memset(&cs, 0, sizeof(cs));
	cs.v = cs.stackv;
	cs.cap = NELEM(cs.stackv);
	if (host_contexts(e->p, only, lower, len, &cs) != 0) {
		e->nomem = 1;
		goto out;
	}
	for (gi = 0; gi < cs.n; gi++) {
		const struct policy_hostgroup *g = cs.v[gi];
		int c_appr = -1, c_line = 0, matched = 0;
		const struct policy_when *c_when = NULL;
		char via[POLICY_MAX_NAME_LEN + 64];

		if (only != NULL && g != only)
			snprintf(
			    via, sizeof(via), "hostgroup @%s, which shares hosts with it", g->name);
		else
			snprintf(via, sizeof(via), "hostgroup @%s", g->name);
		for (k = 0; k < t->nwhen; k++) {
			const struct policy_when *w = &t->when[k];
			char ttl[32], what[96];

			if (!when_matches(w, g))
				continue;
			matched = 1;
			if (w->approvals >= 0 && w->approvals > c_appr) {
				c_appr = w->approvals;
				c_line = w->line;
				c_when = w;
			}
			if (w->max_ttl != 0 && (max == 0 || w->max_ttl < max)) {
				max = w->max_ttl;
				max_line = w->line;
			}
			what[0] = '\0';
			if (w->approvals >= 0)
				snprintf(what, sizeof(what), "approvals %d", w->approvals);
			if (w->max_ttl != 0) {
				format_duration(w->max_ttl, ttl, sizeof(ttl));
				snprintf(what + strlen(what), sizeof(what) - strlen(what),
				    "%smax_ttl %s", what[0] != '\0' ? ", " : "", ttl);
			}
			add_reason(e, POLICY_REASON_NOTE, "context", w->line,
			    "%s: in %s, context (env %s, sensitivity %s) applies%s%s", shown, via,
			    w->env != NULL ? w->env : "any",
			    w->sensitivity != NULL ? w->sensitivity : "any",
			    what[0] != '\0' ? ": " : "", what);
		}
		if (!matched)
			add_reason(e, POLICY_REASON_NOTE, "context", g->line,
			    "%s: in %s (env %s, sensitivity %s) no when entry applies: the "
			    "conditions of task %s hold there",
			    shown, via, g->env != NULL ? g->env : "none",
			    g->sensitivity != NULL ? g->sensitivity : "none", t->name);
		if (c_appr < 0) {
			c_appr = (int)t->approvals;
			c_line = 0;
			c_when = NULL;
		}
		if (c_appr > appr) {
			appr = c_appr;
			appr_line = c_line;
			appr_when = c_when;
		}
	}
	if (appr >= 0) {
		lim->approvals = (unsigned)appr;
		lim->approvals_line = appr_line;
		lim->approvals_when = appr_when;
	}
	if (max != 0) {
		lim->when_max = max;
		lim->when_max_line = max_line;
	}
out:
	if (cs.v != cs.stackv)
		free(cs.v);
}

static int
add_principal(struct eval *e, char *pr)
{
	struct policy_decision *d = e->d;
	size_t i;

	if (pr == NULL) {
		e->nomem = 1;
		return 0;
	}
	for (i = 0; i < d->nprincipals; i++) {
		if (strcmp(d->principals[i], pr) == 0) {
			free(pr);
			return 0;
		}
	}
	d->principals[d->nprincipals++] = pr;
	return 1;
}

static char *
principal(const char *task, const char *sep, const char *name)
{
	char *s = NULL;

	if (asprintf(&s, "eph:%s@%s%s", task, sep, name) < 0)
		return NULL;
	return s;
}

/* Hosts of the request against the task; each host's context folded
 * into lim. Returns EPH_ERR_INVAL for a malformed request. */
static int
eval_hosts(struct eval *e, struct limits *lim)
{
	const struct policy *p = e->p;
	const struct policy_task *t = e->t;
	const struct policy_request *req = e->req;
	char lower[POLICY_MAX_NAME_LEN + 1], refs[REFS_TEXT_MAX], sbuf[SAFE_TEXT_MAX];
	size_t i, j, nallowed = 0;

	if (req->nhosts == 0) {
		add_reason(e, POLICY_REASON_DENY, "hosts", t->line, "no host requested");
		return EPH_OK;
	}
	if (req->nhosts > POLICY_MAX_REQUEST_HOSTS) {
		add_reason(e, POLICY_REASON_DENY, "hosts", t->line,
		    "%zu hosts requested; at most %d per request", req->nhosts,
		    POLICY_MAX_REQUEST_HOSTS);
		return EPH_OK;
	}
	if ((e->d->principals = calloc(req->nhosts, sizeof(char *))) == NULL) {
		e->nomem = 1;
		return EPH_OK;
	}
	for (i = 0; i < req->nhosts; i++) {
		const char *h = req->hosts[i], *why = NULL;
		const struct policy_hostgroup *g = NULL;
		const struct policy_ref *via = NULL;
		struct limits one;
		size_t len = 0;

		if (h == NULL)
			return EPH_ERR_INVAL;
		if (h[0] == '@') {
			for (j = 0; j < t->nhosts && via == NULL; j++)
				if ((g = ref_hostgroup(p, &t->hosts[j])) != NULL &&
				    strcmp(g->name, h + 1) == 0)
					via = &t->hosts[j];
			if (via == NULL) {
				refs_text(t->hosts, t->nhosts, refs, sizeof(refs));
				add_reason(e, POLICY_REASON_DENY, "hosts", t->line,
				    "hostgroup %s is not one of the hosts of task %s (%s)",
				    safe(h, sbuf, sizeof(sbuf)), t->name, refs);
				continue;
			}
			if (!add_principal(e, principal(t->name, "group:", g->name)))
				continue;
			add_reason(e, POLICY_REASON_ALLOW, "hosts", via->line,
			    "hostgroup @%s is one of the hosts of task %s", g->name, t->name);
		} else {
			if (policy_host_name_check(h, 0, lower, &why) != 0) {
				add_reason(e, POLICY_REASON_DENY, "hosts", t->line,
				    "\"%s\" is not a valid host name: %s",
				    safe(h, sbuf, sizeof(sbuf)), why);
				continue;
			}
			len = strlen(lower);
			for (j = 0; j < t->nhosts && via == NULL; j++) {
				const struct policy_ref *r = &t->hosts[j];

				if (r->kind == POLICY_REF_NAME) {
					if (policy_host_pattern_match(r->name, lower, len))
						via = r;
				} else if ((g = ref_hostgroup(p, r)) != NULL &&
				    policy_hostgroup_has_lower(g, lower, len))
					via = r;
			}
			if (via == NULL) {
				refs_text(t->hosts, t->nhosts, refs, sizeof(refs));
				add_reason(e, POLICY_REASON_DENY, "hosts", t->line,
				    "%s is not one of the hosts of task %s (%s)", lower, t->name,
				    refs);
				continue;
			}
			if (!add_principal(e, principal(t->name, "", lower)))
				continue;
			if (via->kind == POLICY_REF_NAME)
				add_reason(e, POLICY_REASON_ALLOW, "hosts", via->line,
				    "%s matches host pattern %s of task %s", lower, via->name,
				    t->name);
			else
				add_reason(e, POLICY_REASON_ALLOW, "hosts", via->line,
				    "%s is in hostgroup @%s of task %s", lower, via->name, t->name);
			g = NULL;
		}
		/* This host's own conditions, then the strictest over all hosts. */
		memset(&one, 0, sizeof(one));
		one.approvals = t->approvals;
		if (t->nwhen > 0)
			host_context(e, h[0] == '@' ? h : lower, g, lower, len, &one);
		if (nallowed++ == 0 || one.approvals > lim->approvals) {
			lim->approvals = one.approvals;
			lim->approvals_line = one.approvals_line;
			lim->approvals_when = one.approvals_when;
		}
		if (one.when_max != 0 && (lim->when_max == 0 || one.when_max < lim->when_max)) {
			lim->when_max = one.when_max;
			lim->when_max_line = one.when_max_line;
		}
	}
	return EPH_OK;
}

static void
eval_schedule(struct eval *e, time_t now)
{
	const struct policy_task *t = e->t;
	struct tm tm;
	size_t i;

	if (t->nschedule == 0)
		return;
	if (localtime_r(&now, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6) {
		add_reason(e, POLICY_REASON_DENY, "schedule", t->schedule[0].line,
		    "the local time cannot be determined, so the schedule cannot be checked");
		return;
	}
	for (i = 0; i < t->nschedule; i++) {
		if (policy_schedule_match(&t->schedule[i], &tm)) {
			e->sched_tm = tm;
			e->sched_ok = 1;
			add_reason(e, POLICY_REASON_ALLOW, "schedule", t->schedule[i].line,
			    "%s %02d:%02d (local time) is inside the schedule of task %s",
			    wday_names[tm.tm_wday], tm.tm_hour, tm.tm_min, t->name);
			return;
		}
	}
	add_reason(e, POLICY_REASON_DENY, "schedule", t->schedule[0].line,
	    "%s %02d:%02d (local time) is outside the schedule of task %s", wday_names[tm.tm_wday],
	    tm.tm_hour, tm.tm_min, t->name);
}

static void
eval_source(struct eval *e)
{
	const struct policy_task *t = e->t;
	const char *addr = e->req->source_address;
	char canon[INET6_ADDRSTRLEN], sbuf[SAFE_TEXT_MAX];

	if (t->source_mode == POLICY_SOURCE_NONE)
		return;
	if (addr == NULL || *addr == '\0') {
		add_reason(e, POLICY_REASON_DENY, "source_address", t->line,
		    "task %s binds the certificate to the requester's address, which is unknown",
		    t->name);
		return;
	}
	if (policy_addr_canonical(addr, canon, sizeof(canon)) != 0) {
		add_reason(e, POLICY_REASON_DENY, "source_address", t->line,
		    "the requester's address \"%s\" is not an IP address",
		    safe(addr, sbuf, sizeof(sbuf)));
		return;
	}
	if (t->source_mode == POLICY_SOURCE_REQUESTER) {
		if ((e->d->source_address = strdup(canon)) == NULL) {
			e->nomem = 1;
			return;
		}
		add_reason(e, POLICY_REASON_ALLOW, "source_address", t->line,
		    "the certificate is bound to the requester's address %s", canon);
		return;
	}
	if (t->source_cidrs == NULL || !policy_cidr_list_contains(t->source_cidrs, canon)) {
		add_reason(e, POLICY_REASON_DENY, "source_address", t->line,
		    "the requester's address %s is outside %s", canon,
		    t->source_cidrs != NULL ? t->source_cidrs : "(no list)");
		return;
	}
	if ((e->d->source_address = strdup(t->source_cidrs)) == NULL) {
		e->nomem = 1;
		return;
	}
	add_reason(e, POLICY_REASON_ALLOW, "source_address", t->line,
	    "the requester's address %s is inside %s; the certificate is bound to it", canon,
	    t->source_cidrs);
}

static void
eval_ttl(struct eval *e, const struct limits *lim)
{
	const struct policy *p = e->p;
	const struct policy_task *t = e->t;
	uint64_t task_max, max, want;
	const char *limit;
	char a[32], b[32], limit_buf[96];
	int line;

	task_max = t->max_ttl != 0 ? t->max_ttl : p->max_ttl;
	/* Name the least specific limit that binds: global, then task, then context. */
	max = p->max_ttl;
	limit = "the policy's global maximum (defaults.max_ttl)";
	line = 0;
	if (max == 0 || task_max < max) {
		max = task_max;
		snprintf(limit_buf, sizeof(limit_buf), "the max_ttl of task %s", t->name);
		limit = limit_buf;
		line = t->line;
	}
	if (lim->when_max != 0 && (max == 0 || lim->when_max < max)) {
		max = lim->when_max;
		limit = "the maximum set by the context (when) of the requested hosts";
		line = lim->when_max_line;
	}
	if (max == 0) {
		add_reason(
		    e, POLICY_REASON_DENY, "ttl", t->line, "task %s has no maximum TTL", t->name);
		return;
	}
	want = e->req->ttl;
	if (want == 0) {
		want = t->default_ttl != 0 ? t->default_ttl : task_max;
		format_duration(want, a, sizeof(a));
		if (want > max) {
			format_duration(max, b, sizeof(b));
			add_reason(e, POLICY_REASON_CLAMP, "ttl", line,
			    "default TTL %s of task %s is above %s, %s; clamped to %s", a, t->name,
			    b, limit, b);
			want = max;
		} else
			add_reason(e, POLICY_REASON_ALLOW, "ttl", t->line,
			    "no TTL requested: the default of task %s, %s", t->name, a);
	} else {
		format_duration(want, a, sizeof(a));
		if (want > max) {
			format_duration(max, b, sizeof(b));
			add_reason(e, POLICY_REASON_CLAMP, "ttl", line,
			    "requested TTL %s is above %s, %s; clamped to %s", a, b, limit, b);
			want = max;
		} else
			add_reason(e, POLICY_REASON_ALLOW, "ttl", t->line,
			    "requested TTL %s is within the maximum", a);
	}
	e->d->ttl = want;
}

/* One more limit on the TTL: the smaller wins, and says so. */
static void
ttl_cap(struct eval *e, uint64_t cap, const char *rule, int line, const char *limit)
{
	char a[32], b[32];

	if (e->d->ttl == 0 || cap == 0 || e->d->ttl <= cap)
		return;
	format_duration(e->d->ttl, a, sizeof(a));
	format_duration(cap, b, sizeof(b));
	add_reason(e, POLICY_REASON_CLAMP, rule, line, "TTL %s is above %s, %s; clamped to %s", a,
	    limit, b, b);
	e->d->ttl = cap;
}

/* Seconds from now to the end of the schedule window that admitted the
 * request; 0 when unknown. In local time a DST change can make a window
 * shorter than its minutes say, so the shorter of the two counts wins. */
static uint64_t
schedule_left(struct eval *e, time_t now, int *line, char *ends, size_t len)
{
	const struct tm *tm = &e->sched_tm;
	unsigned m = (unsigned)tm->tm_hour * 60 + (unsigned)tm->tm_min, end, want;
	uint64_t left, sec = (uint64_t)tm->tm_sec;
	struct tm at;
	time_t t;

	want = m + (unsigned)((sec + e->d->ttl + 59) / 60);
	end = policy_schedule_window_end(e->t->schedule, e->t->nschedule, tm, want, line);
	if (end <= m)
		return 0;
	left = (uint64_t)(end - m) * 60 - sec;
	at = *tm;
	at.tm_mday += (int)(end / 1440);
	at.tm_hour = (int)(end % 1440 / 60);
	at.tm_min = (int)(end % 60);
	at.tm_sec = 0;
	at.tm_isdst = -1;
	if ((t = mktime(&at)) != (time_t)-1 && t > now && (uint64_t)(t - now) < left)
		left = (uint64_t)(t - now);
	snprintf(ends, len, "%s %02u:%02u", wday_names[(tm->tm_wday + (int)(end / 1440)) % 7],
	    end % 1440 / 60, end % 60);
	return left;
}

static void
local_text(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

/* A task that ends: denied from then on. */
static void
eval_valid_until(struct eval *e, time_t now)
{
	const struct policy_task *t = e->t;
	char when[64];

	if (t->valid_until == 0 || now < t->valid_until)
		return;
	local_text(t->valid_until, when, sizeof(when));
	add_reason(e, POLICY_REASON_DENY, "valid_until", t->valid_until_line,
	    "task %s ended at %s (local time)", t->name, when);
}

/* The limits beyond the policy's maxima: the CA's, the end of the
 * schedule window, the end of the task. */
static void
eval_ttl_caps(struct eval *e, time_t now)
{
	const struct policy_task *t = e->t;
	char limit[128], ends[32], when[64];
	uint64_t left;
	int line = 0;

	ttl_cap(e, e->req->ca_max_ttl, "ca_max_ttl", 0, "the CA's max_ttl (ca.conf)");
	if (e->sched_ok && e->d->ttl != 0 &&
	    (left = schedule_left(e, now, &line, ends, sizeof(ends))) != 0) {
		snprintf(limit, sizeof(limit),
		    "what is left of the schedule window of task %s, which ends %s (local time)",
		    t->name, ends);
		ttl_cap(e, left, "schedule", line, limit);
	}
	if (t->valid_until != 0 && now < t->valid_until) {
		local_text(t->valid_until, when, sizeof(when));
		snprintf(limit, sizeof(limit),
		    "what is left of task %s, valid until %s (local time)", t->name, when);
		ttl_cap(
		    e, (uint64_t)(t->valid_until - now), "valid_until", t->valid_until_line, limit);
	}
}

/* The clauses the approvals must meet: those of the when entry that set
 * the approvals, or the task's own; else one clause, lim->approvals from
 * the task's approvers. */
static size_t
rule_clauses(const struct policy_task *t, const struct limits *lim, struct policy_clause *one,
    const struct policy_clause **v)
{
	const struct policy_when *w = lim->approvals_when;

	if (w != NULL && w->nclauses > 0) {
		*v = w->clauses;
		return w->nclauses;
	}
	if (w == NULL && t->nclauses > 0) {
		*v = t->clauses;
		return t->nclauses;
	}
	one->from = t->approvers;
	one->nfrom = t->napprovers;
	one->count = lim->approvals;
	one->line = lim->approvals_line != 0 ? lim->approvals_line : t->line;
	*v = one;
	return 1;
}

/* Every approver set of the clauses, once each, as written. */
static int
fill_approver_sets(struct policy_decision *d, const struct policy_clause *cl, size_t ncl)
{
	size_t c, i, k, n = 0;
	char *s;

	for (c = 0; c < ncl; c++)
		n += cl[c].nfrom;
	if (n == 0)
		return EPH_OK;
	if ((d->approver_sets = calloc(n, sizeof(char *))) == NULL)
		return EPH_ERR_NOMEM;
	for (c = 0; c < ncl; c++) {
		for (i = 0; i < cl[c].nfrom; i++) {
			if ((s = ref_dup(&cl[c].from[i])) == NULL)
				return EPH_ERR_NOMEM;
			for (k = 0; k < d->napprover_sets && strcmp(d->approver_sets[k], s) != 0;
			     k++)
				;
			if (k < d->napprover_sets) {
				free(s);
				continue;
			}
			d->approver_sets[d->napprover_sets++] = s;
		}
	}
	return EPH_OK;
}

/* The decision's account of each clause: its sets, need, and who met it. */
static int
fill_clause_states(struct policy_decision *d, const struct policy_clause *cl, size_t ncl,
    const struct policy_approval *const *people, const int *assign, size_t npeople)
{
	size_t c, i;

	if ((d->clauses = calloc(ncl, sizeof(*d->clauses))) == NULL)
		return EPH_ERR_NOMEM;
	for (c = 0; c < ncl; c++) {
		struct policy_clause_state *st = &d->clauses[d->nclauses++];

		st->required = cl[c].count;
		st->line = cl[c].line;
		if (cl[c].nfrom > 0 && (st->from = calloc(cl[c].nfrom, sizeof(char *))) == NULL)
			return EPH_ERR_NOMEM;
		for (i = 0; i < cl[c].nfrom; i++) {
			if ((st->from[i] = ref_dup(&cl[c].from[i])) == NULL)
				return EPH_ERR_NOMEM;
			st->nfrom++;
		}
		for (i = 0; i < npeople; i++)
			if (assign[i] == (int)c)
				st->valid++;
		if (st->valid > 0 && (st->approvers = calloc(st->valid, sizeof(char *))) == NULL)
			return EPH_ERR_NOMEM;
		for (i = 0; i < npeople; i++) {
			if (assign[i] != (int)c)
				continue;
			if ((st->approvers[st->napprovers] = strdup(people[i]->user)) == NULL)
				return EPH_ERR_NOMEM;
			st->napprovers++;
		}
	}
	return EPH_OK;
}

#define EVAL_STACK_PEOPLE 8
#define EVAL_STACK_CLAUSES 4

/* Sort the approvals into people who count, assign them to clauses
 * (policy_approve_match), and say what is still missing. */
static void
eval_approvals(struct eval *e, const struct limits *lim)
{
	const struct policy_task *t = e->t;
	const struct policy_request *req = e->req;
	struct policy_decision *d = e->d;
	const struct policy_approval **people = NULL, *people_stack[EVAL_STACK_PEOPLE];
	unsigned char elig_stack[EVAL_STACK_PEOPLE * EVAL_STACK_CLAUSES];
	unsigned count_stack[EVAL_STACK_CLAUSES];
	int assign_stack[EVAL_STACK_PEOPLE];
	const struct policy_clause *cl;
	struct policy_clause one;
	struct policy_approvers_static st;
	unsigned char *elig = NULL;
	unsigned *count = NULL;
	int *assign = NULL;
	char refs[REFS_TEXT_MAX], crefs[REFS_TEXT_MAX], ubuf[SAFE_TEXT_MAX];
	size_t i, j, c, ncl, npeople = 0, nfrom = 0;
	int line = lim->approvals_line != 0 ? lim->approvals_line : t->line, any;
	long filled, best;

	ncl = rule_clauses(t, lim, &one, &cl);
	if (fill_approver_sets(d, cl, ncl) != EPH_OK)
		goto nomem;
	for (c = 0; c < ncl; c++)
		nfrom += cl[c].nfrom;
	strv_text((const char *const *)d->approver_sets, d->napprover_sets, refs, sizeof(refs));
	/* A handful of approvals and clauses (the usual) fit on the stack. */
	if (req->napprovals <= EVAL_STACK_PEOPLE && ncl <= EVAL_STACK_CLAUSES) {
		people = people_stack;
		elig = elig_stack;
		count = count_stack;
		assign = assign_stack;
		memset(elig_stack, 0, sizeof(elig_stack));
	} else if ((people = calloc(req->napprovals + 1, sizeof(*people))) == NULL ||
	    (elig = calloc(req->napprovals * ncl + 1, 1)) == NULL ||
	    (count = calloc(ncl, sizeof(*count))) == NULL ||
	    (assign = calloc(req->napprovals + 1, sizeof(*assign))) == NULL)
		goto nomem;
	for (c = 0; c < ncl; c++)
		count[c] = cl[c].count;
	for (i = 0; i < req->napprovals; i++) {
		const struct policy_approval *a = &req->approvals[i];
		const char *user, *why;

		if (a->user == NULL || *a->user == '\0')
			continue;
		user = safe(a->user, ubuf, sizeof(ubuf));
		if ((why = policy_identity_problem(a->user)) != NULL) {
			add_reason(e, POLICY_REASON_NOTE, "approvals", t->line,
			    "approver name \"%s\" %s; approval ignored", user, why);
			continue;
		}
		if (a->id == POLICY_ID_UNKNOWN) {
			add_reason(e, POLICY_REASON_NOTE, "approvals", t->line,
			    "%s is not known to NSS; approval ignored", user);
			continue;
		}
		if (same_person(a->user, a->id, a->uid, req->requester, req->requester_id,
		        req->requester_uid)) {
			add_reason(e, POLICY_REASON_NOTE, "approvals", t->line,
			    "%s cannot approve their own request; approval ignored", user);
			continue;
		}
		for (j = 0; j < npeople; j++)
			if (same_person(a->user, a->id, a->uid, people[j]->user, people[j]->id,
			        people[j]->uid))
				break;
		if (j < npeople) {
			add_reason(e, POLICY_REASON_NOTE, "approvals", t->line,
			    "%s already approved; the duplicate approval is ignored", user);
			continue;
		}
		for (c = 0, any = 0; c < ncl; c++) {
			elig[npeople * ncl + c] =
			    policy_refs_find_user(e->p, cl[c].from, cl[c].nfrom, a->user, a->groups,
			        a->ngroups) != NULL;
			any |= elig[npeople * ncl + c];
		}
		if (!any) {
			add_reason(e, POLICY_REASON_NOTE, "approvals", t->line,
			    "%s is not an approver of task %s (%s); approval ignored", user,
			    t->name, refs);
			continue;
		}
		people[npeople++] = a;
	}
	/* One clause: every approver counts (approvals beyond the need are
	 * still approvals); several: each clause takes what it needs. */
	if (ncl == 1 && count[0] < npeople)
		count[0] = (unsigned)npeople;
	if ((filled = policy_approve_match(elig, npeople, count, ncl, assign)) < 0)
		goto nomem;
	for (i = 0; i < npeople; i++) {
		const struct policy_ref *via;
		const char *user = safe(people[i]->user, ubuf, sizeof(ubuf));

		if (assign[i] < 0) {
			add_reason(e, POLICY_REASON_NOTE, "approvals", t->line,
			    "%s's approval is not needed: what they may approve is already met",
			    user);
			continue;
		}
		c = (size_t)assign[i];
		via = policy_refs_find_user(e->p, cl[c].from, cl[c].nfrom, people[i]->user,
		    people[i]->groups, people[i]->ngroups);
		if (via == NULL)
			continue;
		if (ncl > 1)
			add_reason(e, POLICY_REASON_ALLOW, "approvals", via->line,
			    "approved by %s (%s%s%s), for clause %zu", user,
			    via->kind == POLICY_REF_NAME ? "a named approver" : "via ",
			    ref_prefix(via->kind), via->kind == POLICY_REF_NAME ? "" : via->name,
			    c + 1);
		else
			add_reason(e, POLICY_REASON_ALLOW, "approvals", via->line,
			    "approved by %s (%s%s%s)", user,
			    via->kind == POLICY_REF_NAME ? "a named approver" : "via ",
			    ref_prefix(via->kind), via->kind == POLICY_REF_NAME ? "" : via->name);
	}
	if (fill_clause_states(d, cl, ncl, people, assign, npeople) != EPH_OK)
		goto nomem;
	d->approvals_valid = (unsigned)filled;
	if (t->break_glass) {
		d->approvals_required = 0;
		d->break_glass = 1;
		d->review_required = 1;
		goto out; /* said by note_break_glass, once the outcome is known */
	}
	d->approvals_required = lim->approvals;
	if (d->approvals_required > 0 && nfrom == 0) {
		/* Would wait for ever: nobody can give them. */
		add_reason(e, POLICY_REASON_DENY, "approvals", line,
		    "%u approvals required, but task %s has no approvers", d->approvals_required,
		    t->name);
		goto out;
	}
	if (d->approvals_required == 0) {
		add_reason(e, POLICY_REASON_ALLOW, "approvals", line, "no approval needed");
		goto out;
	}
	for (c = 0; ncl > 1 && c < ncl; c++) {
		const struct policy_clause_state *cs = &d->clauses[c];

		refs_text(cl[c].from, cl[c].nfrom, crefs, sizeof(crefs));
		if (cs->valid >= cs->required)
			add_reason(e, POLICY_REASON_ALLOW, "approvals", cl[c].line,
			    "clause %zu (%s): %u of %u approvals", c + 1, crefs, cs->valid,
			    cs->required);
		else
			add_reason(e, POLICY_REASON_NOTE, "approvals", cl[c].line,
			    "clause %zu (%s): %u of %u approvals; waiting for %u more from %s",
			    c + 1, crefs, cs->valid, cs->required, cs->required - cs->valid, crefs);
	}
	if (d->approvals_valid >= d->approvals_required) {
		add_reason(e, POLICY_REASON_ALLOW, "approvals", line, "%u of %u required approvals",
		    d->approvals_valid, d->approvals_required);
		goto out;
	}
	/* Pending, unless the people the policy names could never do it. */
	best = (long)d->approvals_required;
	if (!policy_clauses_dynamic(e->p, cl, ncl)) {
		if (policy_approvers_static_build(e->p, cl, ncl, &st) != EPH_OK)
			goto nomem;
		best = policy_approvers_static_best(&st, req->requester);
		policy_approvers_static_free(&st);
		if (best < 0)
			goto nomem;
	}
	if ((unsigned long)best < d->approvals_required)
		add_reason(e, POLICY_REASON_DENY, "approvals", line,
		    "cannot be approved: %u approvals are needed from people other than %s, and "
		    "at most %ld of the approvers (%s) can give them",
		    d->approvals_required, e->who, best, refs);
	else
		add_reason(e, POLICY_REASON_NOTE, "approvals", line,
		    "%u of %u required approvals; waiting for %u more from %s", d->approvals_valid,
		    d->approvals_required, d->approvals_required - d->approvals_valid, refs);
	goto out;
nomem:
	e->nomem = 1;
out:
	if (people != people_stack) {
		free(people);
		free(elig);
		free(count);
		free(assign);
	}
}

/* The local account: the one asked for when the task allows it, else
 * the task's default (its first login_as). */
static int
eval_login_as(struct eval *e)
{
	const struct policy_task *t = e->t;
	const char *want = e->req->login_as, *chosen = t->login_as;
	const char *const *allowed = (const char *const *)t->login_as_list;
	size_t i, nallowed = t->nlogin_as;
	char list[REFS_TEXT_MAX], sbuf[SAFE_TEXT_MAX];

	if (nallowed == 0 && t->login_as != NULL) {
		allowed = (const char *const *)&t->login_as;
		nallowed = 1;
	}
	if (want != NULL) {
		for (i = 0; i < nallowed && strcmp(allowed[i], want) != 0; i++)
			;
		if (i == nallowed) {
			strv_text(allowed, nallowed, list, sizeof(list));
			add_reason(e, POLICY_REASON_DENY, "login_as", t->line,
			    "task %s does not allow logging in as %s (login_as: %s)", t->name,
			    safe(want, sbuf, sizeof(sbuf)), list);
			chosen = NULL;
		} else {
			chosen = allowed[i];
			add_reason(e, POLICY_REASON_ALLOW, "login_as", t->line, "logs in as %s%s",
			    chosen, i == 0 ? " (the task's default)" : "");
		}
	} else if (nallowed > 1)
		add_reason(e, POLICY_REASON_ALLOW, "login_as", t->line,
		    "logs in as %s (the task's default)", chosen);
	if ((e->d->login_as = strdup(chosen != NULL ? chosen : "")) == NULL)
		return EPH_ERR_NOMEM;
	return EPH_OK;
}

/* What break-glass does, said only once every rule has been checked: a
 * denied request was not issued. */
static void
note_break_glass(struct eval *e)
{
	if (!e->t->break_glass)
		return;
	if (e->denied)
		add_reason(e, POLICY_REASON_NOTE, "break_glass", e->t->line,
		    "break-glass task: denied here; allowed, it would issue at once without "
		    "approval and be flagged for review by someone other than %s",
		    e->who);
	else
		add_reason(e, POLICY_REASON_NOTE, "break_glass", e->t->line,
		    "break-glass task: issued without approval, only with a reason, and flagged "
		    "for review by someone other than %s",
		    e->who);
}

/* Flag extensions in the order certificates need them (sorted). */
static int
fill_extensions(const struct policy_task *t, struct policy_decision *d)
{
	const struct {
		const char *name;
		int on;
	} ext[] = {
	    {"permit-X11-forwarding", t->x11_forwarding},
	    {"permit-agent-forwarding", t->agent_forwarding},
	    {"permit-port-forwarding", t->port_forwarding},
	    {"permit-pty", t->pty},
	    {"permit-user-rc", t->user_rc},
	};
	size_t i;

	if ((d->extensions = calloc(sizeof(ext) / sizeof(ext[0]), sizeof(char *))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		if (!ext[i].on)
			continue;
		if ((d->extensions[d->nextensions] = strdup(ext[i].name)) == NULL)
			return EPH_ERR_NOMEM;
		d->nextensions++;
	}
	if (t->command != NULL && (d->force_command = strdup(t->command)) == NULL)
		return EPH_ERR_NOMEM;
	return EPH_OK;
}

/* Deny by default: a refused decision carries nothing that could be
 * signed by mistake. */
static void
strip_issuance(struct policy_decision *d)
{
	policy_strv_free(d->principals, d->nprincipals);
	d->principals = NULL;
	d->nprincipals = 0;
	policy_strv_free(d->extensions, d->nextensions);
	d->extensions = NULL;
	d->nextensions = 0;
	free(d->force_command);
	d->force_command = NULL;
	free(d->source_address);
	d->source_address = NULL;
	d->ttl = 0;
	d->review_required = 0;
}

/* Edit distance of a and b (insert, delete, substitute, swap of two
 * neighbours), or max + 1 when it is more than max. Three rows of the
 * table are enough: the swap looks two rows back. */
static size_t
edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t rows[3][POLICY_MAX_NAME_LEN + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;

	if (la > POLICY_MAX_NAME_LEN || lb > POLICY_MAX_NAME_LEN ||
	    (la > lb ? la - lb : lb - la) > max)
		return max + 1;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t v = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb] > max ? max + 1 : prev[lb];
}

/*
 * For a task name that does not exist: the nearest task this requester
 * may ask for (within a third of the name's length, at least 1, at most
 * 3 edits), so a typo gets its correction and nobody learns the names of
 * tasks they cannot use. NULL when none is near.
 */
static const struct policy_task *
closest_task(const struct policy *p, const struct policy_request *req)
{
	const struct policy_task *best = NULL;
	size_t n = strlen(req->task), max = n / 3, i, bestd;

	if (max < 1)
		max = 1;
	if (max > 3)
		max = 3;
	bestd = max + 1;
	for (i = 0; i < p->ntasks; i++) {
		const struct policy_task *t = &p->tasks[i];
		size_t dist = edit_distance(req->task, t->name, max);

		if (dist >= bestd)
			continue;
		if (policy_refs_find_user(p, t->requesters, t->nrequesters, req->requester,
		        req->groups, req->ngroups) == NULL)
			continue;
		best = t;
		bestd = dist;
	}
	return best;
}

int
policy_eval(const struct policy *p, const struct policy_request *req, time_t now,
    struct policy_decision *out)
{
	struct policy_decision d;
	struct eval e;
	struct limits lim;
	const struct policy_task *t;
	const char *reason;
	char sbuf[SAFE_TEXT_MAX], whobuf[SAFE_TEXT_MAX];
	int r = EPH_ERR_INVAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	if (p == NULL || req == NULL || out == NULL || req->requester == NULL ||
	    *req->requester == '\0' || req->task == NULL ||
	    (req->nhosts > 0 && req->hosts == NULL) || (req->ngroups > 0 && req->groups == NULL) ||
	    (req->napprovals > 0 && req->approvals == NULL) ||
	    req->napprovals > POLICY_MAX_APPROVAL_RECORDS)
		goto out;
	e.p = p;
	e.req = req;
	e.d = &d;
	e.who = safe(req->requester, whobuf, sizeof(whobuf));
	d.result = POLICY_DENY;
	d.pending_timeout = p->pending_timeout;
	r = EPH_ERR_NOMEM;
	if ((d.task = strdup(req->task)) == NULL || (d.requester = strdup(req->requester)) == NULL)
		goto out;

	if ((t = find_task(p, req->task)) == NULL) {
		const struct policy_task *near = closest_task(p, req);

		add_reason(&e, POLICY_REASON_DENY, "task", 0, "no task named \"%s\"%s%s%s",
		    safe(req->task, sbuf, sizeof(sbuf)), near != NULL ? " (did you mean " : "",
		    near != NULL ? near->name : "", near != NULL ? "?)" : "");
		goto done;
	}
	e.t = t;
	/* The loader refuses control characters in a description; a policy
	 * built by hand gets them replaced. */
	add_reason(&e, POLICY_REASON_ALLOW, "task", t->line, "task %s%s%s%s", t->name,
	    t->description != NULL ? " (" : "",
	    t->description != NULL ? safe_desc(t->description, sbuf, sizeof(sbuf)) : "",
	    t->description != NULL ? ")" : "");
	d.break_glass = t->break_glass;
	d.max_logins = t->max_logins;
	if (eval_login_as(&e) != EPH_OK)
		goto out;

	/* requesters */
	{
		const struct policy_ref *via = policy_refs_find_user(
		    p, t->requesters, t->nrequesters, req->requester, req->groups, req->ngroups);
		const char *why = policy_identity_problem(req->requester);
		char refs[REFS_TEXT_MAX];

		const struct policy_ref *denied = policy_refs_find_user(
		    p, t->deny, t->ndeny, req->requester, req->groups, req->ngroups);
		int by_task = denied != NULL;

		if (denied == NULL)
			denied = policy_refs_find_user(
			    p, p->deny, p->ndeny, req->requester, req->groups, req->ngroups);
		if (denied != NULL)
			add_reason(&e, POLICY_REASON_DENY, "deny", denied->line,
			    "%s is refused task %s by %s%s in the deny list of %s", e.who, t->name,
			    ref_prefix(denied->kind), denied->name,
			    by_task ? "the task" : "defaults");
		if (why != NULL)
			add_reason(&e, POLICY_REASON_DENY, "requesters", t->line,
			    "requester name \"%s\" %s", e.who, why);
		else if (req->requester_id == POLICY_ID_UNKNOWN)
			add_reason(&e, POLICY_REASON_DENY, "requesters", t->line,
			    "requester %s is not known to NSS", e.who);
		else if (via == NULL) {
			refs_text(t->requesters, t->nrequesters, refs, sizeof(refs));
			add_reason(&e, POLICY_REASON_DENY, "requesters",
			    t->nrequesters > 0 ? t->requesters[0].line : t->line,
			    "%s may not request task %s (requesters: %s)", e.who, t->name, refs);
		} else if (via->kind == POLICY_REF_NAME)
			add_reason(&e, POLICY_REASON_ALLOW, "requesters", via->line,
			    "%s is a requester of task %s", e.who, t->name);
		else
			add_reason(&e, POLICY_REASON_ALLOW, "requesters", via->line,
			    "%s is a requester of task %s via %s%s", e.who, t->name,
			    ref_prefix(via->kind), via->name);
	}

	memset(&lim, 0, sizeof(lim));
	lim.approvals = t->approvals;
	if ((r = eval_hosts(&e, &lim)) != EPH_OK)
		goto out;
	r = EPH_ERR_NOMEM;

	/* reason: break-glass always needs one */
	reason = req->reason;
	while (reason != NULL && (*reason == ' ' || *reason == '\t'))
		reason++;
	if (t->require_reason || t->break_glass || t->reason_re != NULL) {
		if (reason == NULL || *reason == '\0')
			add_reason(&e, POLICY_REASON_DENY, "reason", t->line,
			    "%s requires a reason (a ticket or incident)%s%s%s",
			    t->break_glass ? "break-glass" : "this task",
			    t->reason_re != NULL ? " matching \"" : "",
			    t->reason_re != NULL ? t->reason_pattern : "",
			    t->reason_re != NULL ? "\"" : "");
		else if (!has_alnum(reason))
			/* ".", or a non-breaking space, says nothing. */
			add_reason(&e, POLICY_REASON_DENY, "reason", t->line,
			    "%s requires a reason (a ticket or incident); \"%s\" holds no "
			    "letter or digit",
			    t->break_glass ? "break-glass" : "this task",
			    safe(reason, sbuf, sizeof(sbuf)));
		else if (t->reason_re != NULL &&
		    regexec(t->reason_re, req->reason, 0, NULL, 0) != 0)
			add_reason(&e, POLICY_REASON_DENY, "reason", t->line,
			    "reason \"%s\" does not match the reason_pattern of task %s, \"%s\"",
			    safe(req->reason, sbuf, sizeof(sbuf)), t->name, t->reason_pattern);
		else if (t->reason_re != NULL)
			add_reason(&e, POLICY_REASON_ALLOW, "reason", t->line,
			    "reason given, matching \"%s\"", t->reason_pattern);
		else
			add_reason(&e, POLICY_REASON_ALLOW, "reason", t->line, "reason given");
	}

	eval_schedule(&e, now);
	eval_valid_until(&e, now);
	eval_source(&e);
	eval_ttl(&e, &lim);
	eval_ttl_caps(&e, now);
	eval_approvals(&e, &lim);
	if (!e.nomem && fill_extensions(t, &d) != EPH_OK)
		goto out;
	note_break_glass(&e);

done:
	if (e.nomem)
		goto out;
	if (e.denied) {
		d.result = POLICY_DENY;
		strip_issuance(&d);
	} else if (d.approvals_valid >= d.approvals_required || d.break_glass)
		d.result = POLICY_ISSUE;
	else
		d.result = POLICY_PENDING;
	*out = d;
	memset(&d, 0, sizeof(d));
	r = EPH_OK;
out:
	policy_decision_clear(&d);
	return r;
}

void
policy_decision_clear(struct policy_decision *d)
{
	size_t i;

	if (d == NULL)
		return;
	free(d->task);
	free(d->requester);
	policy_strv_free(d->approver_sets, d->napprover_sets);
	policy_strv_free(d->principals, d->nprincipals);
	free(d->login_as);
	free(d->force_command);
	free(d->source_address);
	policy_strv_free(d->extensions, d->nextensions);
	for (i = 0; i < d->nreasons; i++) {
		free(d->reasons[i].rule);
		free(d->reasons[i].text);
	}
	free(d->reasons);
	for (i = 0; i < d->nclauses; i++) {
		policy_strv_free(d->clauses[i].from, d->clauses[i].nfrom);
		policy_strv_free(d->clauses[i].approvers, d->clauses[i].napprovers);
	}
	free(d->clauses);
	memset(d, 0, sizeof(*d));
}

const char *
policy_result_name(enum policy_result r)
{
	switch (r) {
	case POLICY_DENY: return "deny";
	case POLICY_PENDING: return "pending";
	case POLICY_ISSUE: return "issue";
	}
	return "unknown";
}

static int
when_has_clauses(const struct policy_task *t)
{
	size_t i;

	for (i = 0; i < t->nwhen; i++)
		if (t->when[i].nclauses > 0)
			return 1;
	return 0;
}

/* Approvers of the task, of any of its clauses, or of any when entry's
 * clauses: which apply depends on the hosts, which are not known here. */
static int
may_approve_any(
    const struct policy *p, const struct policy_task *t, const struct policy_approval *a)
{
	size_t i, k;

	if (policy_refs_find_user(p, t->approvers, t->napprovers, a->user, a->groups, a->ngroups))
		return 1;
	for (i = 0; i < t->nclauses; i++)
		if (policy_refs_find_user(
		        p, t->clauses[i].from, t->clauses[i].nfrom, a->user, a->groups, a->ngroups))
			return 1;
	for (k = 0; k < t->nwhen; k++)
		for (i = 0; i < t->when[k].nclauses; i++)
			if (policy_refs_find_user(p, t->when[k].clauses[i].from,
			        t->when[k].clauses[i].nfrom, a->user, a->groups, a->ngroups))
				return 1;
	return 0;
}

int
policy_may_approve(const struct policy *p, const char *task, const char *requester,
    const struct policy_approval *a, const char **why)
{
	const struct policy_task *t;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (p == NULL || task == NULL || requester == NULL || a == NULL || a->user == NULL ||
	    (a->ngroups > 0 && a->groups == NULL)) {
		*why = "invalid arguments";
		return EPH_ERR_INVAL;
	}
	if ((t = find_task(p, task)) == NULL) {
		*why = "no such task";
		return EPH_ERR_PERM;
	}
	if (t->napprovers == 0 && t->nclauses == 0 && !when_has_clauses(t)) {
		*why = "the task has no approvers";
		return EPH_ERR_PERM;
	}
	if (policy_identity_problem(a->user) != NULL) {
		*why = "not a name a key id can hold";
		return EPH_ERR_PERM;
	}
	if (a->id == POLICY_ID_UNKNOWN) {
		*why = "not known to NSS";
		return EPH_ERR_PERM;
	}
	/* The requester is a canonical name here: compare names. */
	if (strcmp(a->user, requester) == 0) {
		*why = "the requester cannot approve their own request";
		return EPH_ERR_PERM;
	}
	if (!may_approve_any(p, t, a)) {
		*why = "not an approver of this task";
		return EPH_ERR_PERM;
	}
	return EPH_OK;
}

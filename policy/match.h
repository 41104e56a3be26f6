/* Matching helpers private to libephpolicy: shared by match.c and eval.c,
 * not part of the policy API. */
#ifndef EPH_POLICY_MATCH_H
#define EPH_POLICY_MATCH_H

#include <stddef.h>

#include "policy.h"

/* s as a DNS name (with wildcard_ok, also "*.domain"); lower-cased into
 * out (POLICY_MAX_NAME_LEN + 1 bytes) when out is not NULL. 0, or -1 with
 * *why set. */
int policy_host_name_check(const char *s, int wildcard_ok, char *out, const char **why);
/* Does the lower-case name (len bytes) match a host pattern of a task? */
int policy_host_pattern_match(const char *pattern, const char *lower, size_t len);
/* policy_hostgroup_has for a name already checked and lower-cased. */
int policy_hostgroup_has_lower(const struct policy_hostgroup *g, const char *lower, size_t len);
/* The address in canonical text (IPv4-mapped IPv6 as IPv4); buf of at
 * least INET6_ADDRSTRLEN bytes. 0, or -1 when s is not an address. */
int policy_addr_canonical(const char *s, char *buf, size_t len);

/* Longest source-address list: a certificate option, not a route table. */
#define POLICY_CIDR_LIST_MAX 8192
/* Room for what policy_cidr_entry_check suggests ("write a.b.c.d/nn"). */
#define POLICY_CIDR_FIX_MAX 32
/* One entry of a source-address list, len bytes at s: 0, or -1 with *why
 * set (static text). For an IPv4-mapped IPv6 network, fix (fixlen bytes,
 * POLICY_CIDR_FIX_MAX is enough) gets "write <the IPv4 form>"; else "". */
int policy_cidr_entry_check(const char *s, size_t len, const char **why, char *fix, size_t fixlen);

/*
 * Which hostgroups hold a host, in two searches: every exact name of every
 * hostgroup with its hostgroup index, sorted by name, and every wildcard
 * pattern kept as its suffix (".x.y" for "*.x.y"), sorted too. A '*' is
 * one label, so a name is under a pattern exactly when the name without
 * its first label is the suffix. Built once per loaded policy.
 */
struct policy_host_entry {
	const char *name; /* points into hostgroups[].exact[] or .suffixes[] */
	size_t hostgroup;
};
struct policy_host_index {
	struct policy_host_entry *v; /* exact names */
	size_t n;
	struct policy_host_entry *wild; /* pattern suffixes */
	size_t nwild;
};
int policy_host_index_build(const struct policy *p, struct policy_host_index **out);
void policy_host_index_free(struct policy_host_index *ix);
/* Indexes of the hostgroups holding the lower-case name into out (at most
 * max written, each once); returns how many there are. */
size_t policy_host_index_groups(const struct policy *p, const struct policy_host_index *ix,
    const char *lower, size_t len, size_t *out, size_t max);
/* Fill every hostgroup's overlaps[]: the other hostgroups that share a
 * host with it (a name in both, a name under a pattern of the other, or
 * the same pattern in both). */
int policy_hostgroup_overlaps_build(struct policy *p, const struct policy_host_index *ix);
/* One host (or "*.x.y" pattern) in both hostgroups into buf (at least
 * POLICY_MAX_NAME_LEN + 2 bytes): 1, or 0 when they share none. */
int policy_hostgroups_shared(
    const struct policy_hostgroup *a, const struct policy_hostgroup *b, char *buf, size_t len);

/* ------------------------------------------------ approvers (approve.c) */

/* The first ref that the user, with these Unix groups, falls under. */
const struct policy_ref *policy_refs_find_user(const struct policy *p,
    const struct policy_ref *refs, size_t n, const char *user, const char *const *groups,
    size_t ngroups);

/*
 * Assign people to clauses, each person to at most one clause it is
 * eligible for (elig[person * nclauses + clause]), clause c taking at
 * most count[c] people: a maximum matching by augmenting paths, people
 * taken in order. assign[person] is the clause or -1. Returns how many
 * slots are filled, or -1 out of memory.
 */
long policy_approve_match(
    const unsigned char *elig, size_t npeople, const unsigned *count, size_t nclauses, int *assign);

/*
 * The people who could ever approve toward the clauses, from what the
 * policy names statically (users, and users in policy groups). Each
 * clause contributes at most total + 1 distinct people: that many always
 * fill it, whoever else is taken or left out, so feasibility is exact.
 */
struct policy_approvers_static {
	const char **names; /* distinct, point into the policy */
	size_t n;
	unsigned char *elig; /* n x nclauses */
	unsigned *count;
	size_t nclauses;
	unsigned total;
	int dynamic; /* some clause names a Unix group: membership unknown */
};
/* Does any clause name a Unix group (directly or in a policy group)? */
int policy_clauses_dynamic(const struct policy *p, const struct policy_clause *clauses, size_t n);
int policy_approvers_static_build(const struct policy *p, const struct policy_clause *clauses,
    size_t nclauses, struct policy_approvers_static *out);
/* Slots the static approvers other than excluded (NULL: nobody) can fill;
 * -1 out of memory. */
long policy_approvers_static_best(const struct policy_approvers_static *s, const char *excluded);
void policy_approvers_static_free(struct policy_approvers_static *s);

#endif

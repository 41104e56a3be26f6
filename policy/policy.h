/*
 * The ephssh policy (libephpolicy): tasks, people, groups and hosts read
 * from libconfig files, and a pure evaluation that returns a decision with
 * the reasons for it. One model serves the CA (what may be issued) and the
 * hosts (host.conf: what a host accepts).
 */
#ifndef EPH_POLICY_H
#define EPH_POLICY_H

#include <stddef.h>
#include <regex.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Caps on what a policy may hold; over any of them it is refused. */
#define POLICY_MAX_FILE_SIZE (8u * 1024u * 1024u)
#define POLICY_MAX_NAME_LEN 253 /* a DNS name */
#define POLICY_MAX_TASKS 100000
#define POLICY_MAX_LIST 100000 /* members of any one list */
#define POLICY_MAX_REQUEST_HOSTS 64
#define POLICY_MAX_APPROVALS 16 /* approvals a task may require */
#define POLICY_MAX_APPROVAL_RECORDS 1024 /* approvals one request may carry */
#define POLICY_MAX_TTL_LIMIT (7u * 86400u) /* no max_ttl may exceed a week */

/* ------------------------------------------------------------ errors */

/* One problem found in a configuration file, with where it is. */
struct policy_error {
	char *file;
	int line; /* 0 when the problem has no line (e.g. cannot open) */
	char *msg;
};

/* Every problem found while loading; loading reports all, not the first. */
struct policy_errors {
	struct policy_error *v;
	size_t n;
};

void policy_errors_clear(struct policy_errors *e);
/* "file:line: msg" per error, one per line, into a new string. */
char *policy_errors_format(const struct policy_errors *e);

/* ------------------------------------------------------------ model */

/* A reference in a list: "name" (a user, or a host pattern in a host
 * list), "@name" (a policy group, or a hostgroup in a host list) or
 * "%name" (a Unix group, looked up through NSS by the caller). */
enum policy_ref_kind {
	POLICY_REF_NAME,
	POLICY_REF_GROUP,
	POLICY_REF_UNIX_GROUP,
};

struct policy_ref {
	enum policy_ref_kind kind;
	char *name; /* without the prefix */
	size_t index; /* POLICY_REF_GROUP: index into groups[] or hostgroups[] */
	int line;
};

/* groups = { dba = [ "alice", "%dbadmins" ]; } -- members are users or
 * Unix groups; a policy group does not contain other policy groups. */
struct policy_group {
	char *name;
	struct policy_ref *members;
	size_t nmembers;
	int line;
	/* Built by the loader (indexed set) so that membership is one
	 * search, not a scan: the user members' names, sorted, and the Unix
	 * groups among the members. Both point into members[]. */
	int indexed;
	const char **users;
	size_t nusers;
	const char **unix_groups;
	size_t nunix_groups;
};

/* approvals = ( { from = [ "@leads" ]; count = 1; }, ... ): every clause
 * must be met, by distinct people, each counting toward one clause. */
struct policy_clause {
	struct policy_ref *from; /* who may approve toward it */
	size_t nfrom;
	unsigned count; /* distinct approvals it needs, 1 or more */
	int line;
};

/*
 * hostgroups = { db = { hosts = [...]; env = "prod"; sensitivity = "high"; }; }
 * Host patterns allow '*' as the whole leftmost label only, standing for
 * exactly one label, with at least two labels after it
 * ("*.legacy.example.com"). Exact names are kept sorted (lower case) for
 * binary search; wildcard patterns are kept as their suffix
 * (".legacy.example.com").
 */
struct policy_hostgroup {
	char *name;
	char **exact; /* sorted, lower case */
	size_t nexact;
	char **suffixes; /* from "*.x.y": ".x.y", lower case */
	size_t nsuffixes;
	char *env; /* NULL when unset */
	char *sensitivity; /* NULL when unset */
	int line;
	/* The other hostgroups that share a host with this one, as sorted
	 * indexes into hostgroups[]: their context is also the context of a
	 * "@name" request. Built by the loader; empty in a policy built by
	 * hand. */
	size_t *overlaps;
	size_t noverlaps;
};

/* A "when" entry of a task: applies in the context of a hostgroup that has
 * every attribute the entry names (it names at least one); overrides the
 * task's conditions there. */
struct policy_when {
	char *env; /* NULL: any */
	char *sensitivity; /* NULL: any */
	int approvals; /* -1: not set */
	uint64_t max_ttl; /* 0: not set */
	int line;
	/* approvals as clauses (approvals is then their total): they name
	 * their own approvers. Empty: approvals from the task's approvers. */
	struct policy_clause *clauses;
	size_t nclauses;
};

/* "Mon-Fri 06:00-22:00", "Sat,Sun 10:00-14:00", "Mon 22:00-06:00"
 * (wraps past midnight: the start day's evening and the next morning). */
struct policy_schedule {
	uint8_t days; /* bit d set: weekday d allowed (0 = Sunday, as tm_wday) */
	uint16_t start; /* minutes after midnight, 0..1439 */
	uint16_t end; /* minutes after midnight, 1..1440; end < start wraps */
	int line;
};

enum policy_source_mode {
	POLICY_SOURCE_NONE, /* not bound */
	POLICY_SOURCE_REQUESTER, /* bind to the address the CA saw */
	POLICY_SOURCE_CIDRS, /* requester must be inside; bind to the list */
};

struct policy_task {
	char *name;
	char *description; /* NULL when unset */
	struct policy_ref *requesters;
	size_t nrequesters;
	struct policy_ref *approvers;
	size_t napprovers;
	unsigned approvals; /* distinct approvals needed (0: none) */
	struct policy_ref *hosts; /* NAME: host pattern; GROUP: hostgroup */
	size_t nhosts;
	char *login_as;
	uint64_t default_ttl; /* seconds; 0: use max_ttl */
	uint64_t max_ttl; /* seconds; never above policy max_ttl */
	int require_reason;
	enum policy_source_mode source_mode;
	char *source_cidrs; /* POLICY_SOURCE_CIDRS: "a/n,b/m" as in the file */
	int pty; /* permit-pty (default: 1 unless command is set) */
	int agent_forwarding, port_forwarding, x11_forwarding, user_rc; /* default 0 */
	uint32_t max_logins; /* 0: unlimited */
	char *command; /* force-command; NULL when unset */
	struct policy_schedule *schedule; /* empty: any time */
	size_t nschedule;
	struct policy_when *when;
	size_t nwhen;
	int break_glass;
	int line;
	/* valid_until (local time, resolved when loading): from then on the
	 * task denies, and before it no certificate outlives it. 0: none. */
	time_t valid_until;
	int valid_until_line;
	/* Every account the task allows, login_as (the default) first;
	 * empty in a policy built by hand: then login_as alone. */
	char **login_as_list;
	size_t nlogin_as;
	/* deny = [ "%contractors", "mallory" ]: requesters refused this
	 * task whatever else matches (defaults.deny applies as well). */
	struct policy_ref *deny;
	size_t ndeny;
	/* reason_pattern: a POSIX ERE the reason must match, as written,
	 * and compiled at load (NULL when unset). */
	char *reason_pattern;
	regex_t *reason_re;
	/* approvals as clauses: approvals is then their total, and the
	 * task has no approvers list of its own. */
	struct policy_clause *clauses;
	size_t nclauses;
};

struct policy_host_index; /* policy/match.h */

struct policy {
	char *file;
	uint64_t max_ttl; /* defaults.max_ttl: hard cap for every task */
	uint64_t pending_timeout; /* defaults.pending_timeout */
	struct policy_group *groups; /* sorted by name */
	size_t ngroups;
	struct policy_hostgroup *hostgroups; /* sorted by name */
	size_t nhostgroups;
	struct policy_task *tasks; /* sorted by name, unique */
	size_t ntasks;
	/* Which hostgroups hold a host, in one search (built by the loader
	 * with policy_host_index_build; NULL in a policy built by hand). */
	struct policy_host_index *host_index;
	/* What loads but is probably not what the author meant, as
	 * "file:line" messages; policy check prints them. */
	struct policy_errors warnings;
	/* defaults.deny: refused every task, whatever else matches. */
	struct policy_ref *deny;
	size_t ndeny;
};

/*
 * Load and validate a policy. On any problem, returns EPH_ERR_FORMAT
 * (EPH_ERR_IO / EPH_ERR_PERM for the file itself) with every problem in
 * errs, and *out NULL. The file is opened without following symlinks and
 * refused when writable by group/other; @include is refused.
 */
int policy_load(const char *path, struct policy **out, struct policy_errors *errs);
/* Same from text; name is used in error locations. */
int policy_load_string(
    const char *text, const char *name, struct policy **out, struct policy_errors *errs);
void policy_free(struct policy *p);

const struct policy_task *policy_find_task(const struct policy *p, const char *name);
const struct policy_group *policy_find_group(const struct policy *p, const char *name);
const struct policy_hostgroup *policy_find_hostgroup(const struct policy *p, const char *name);

/* ------------------------------------------------------ matching helpers
 * (policy/match.c; used by the parser to validate and by evaluation) */

/* Parse one schedule entry; EPH_ERR_FORMAT with *why set to a static
 * explanation when malformed. */
int policy_schedule_parse(const char *s, struct policy_schedule *out, const char **why);
/* Is local time tm inside the schedule entry? */
int policy_schedule_match(const struct policy_schedule *s, const struct tm *tm);
/*
 * End of the schedule window that holds local time tm, in minutes after
 * the start of tm's day (above 1440 when it ends on a later day): the
 * latest end of the entries holding tm, followed on through windows that
 * continue it without a gap while it ends before minute want (a few
 * steps at most). 0 when no entry holds tm. *line: the entry that ends it.
 */
unsigned policy_schedule_window_end(
    const struct policy_schedule *v, size_t n, const struct tm *tm, unsigned want, int *line);
/* "YYYY-MM-DDTHH:MM[:SS]" in local time (TZ) into *out. A time that does
 * not exist (Feb 30, an hour DST skips) is refused; of the two instants
 * of an hour DST repeats, the earlier. EPH_ERR_FORMAT with *why. */
int policy_local_time_parse(const char *s, time_t *out, const char **why);
/* Validate a comma-separated CIDR list as sshd's source-address wants it
 * (addresses with /prefix or bare). *why set when not. */
int policy_cidr_list_valid(const char *list, const char **why);
/* Is address addr (IPv4 or IPv6 text) inside one of the list's CIDRs? */
int policy_cidr_list_contains(const char *list, const char *addr);
/* Is a host pattern valid ('*' only as the whole leftmost label, followed
 * by at least two labels)? */
int policy_host_pattern_valid(const char *pattern, const char **why);
/* Does host (a name) belong to the hostgroup? Case-insensitive. */
int policy_hostgroup_has(const struct policy_hostgroup *g, const char *host);

/* -------------------------------------------------------- evaluation */

/* How the caller established who someone is (policy_identity_resolve).
 * Names are raw strings: "Alice", "ALICE" and "alice" can be one account
 * (SSSD/AD look names up case-insensitively), so the caller resolves
 * them to the canonical account before anything is compared. */
enum policy_identity {
	POLICY_ID_AS_GIVEN = 0, /* not looked up: compared by exact name */
	POLICY_ID_RESOLVED, /* the canonical NSS name, and uid is valid */
	POLICY_ID_UNKNOWN, /* NSS does not know the name: never counts */
};

/* One approval recorded for a request: who, and their Unix groups. */
struct policy_approval {
	const char *user;
	const char *const *groups;
	size_t ngroups;
	/* Who user is: with POLICY_ID_RESOLVED, approvals are told apart
	 * (and from the requester) by uid, else by exact name. */
	enum policy_identity id;
	uid_t uid;
};

/* What is asked. Evaluation does no I/O: the caller looks up Unix groups
 * (policy_unix_groups) and passes them in. */
struct policy_request {
	const char *requester;
	const char *const *groups; /* requester's Unix groups */
	size_t ngroups;
	const char *task;
	const char *const *hosts; /* "db01.example.com", or "@db" for a hostgroup */
	size_t nhosts;
	uint64_t ttl; /* seconds; 0: the task's default */
	const char *reason; /* NULL or "" when none given */
	const char *source_address; /* as the CA saw it; NULL when unknown */
	const struct policy_approval *approvals; /* so far */
	size_t napprovals;
	/* The CA's own cap on any certificate's lifetime (ca.conf max_ttl),
	 * seconds; 0: none. The TTL is clamped to it, with its own reason. */
	uint64_t ca_max_ttl;
	/* The local account asked for: one of the task's login_as; NULL
	 * for the task's default (the first). */
	const char *login_as;
	/* Who the requester is, as for struct policy_approval: requester
	 * must then be the canonical name. POLICY_ID_UNKNOWN is a deny. */
	enum policy_identity requester_id;
	uid_t requester_uid;
};

enum policy_result {
	POLICY_DENY,
	POLICY_PENDING, /* allowed, waiting for approvals */
	POLICY_ISSUE, /* issue now */
};

enum policy_reason_kind {
	POLICY_REASON_ALLOW, /* a rule that held */
	POLICY_REASON_DENY, /* a rule that refused */
	POLICY_REASON_CLAMP, /* a value was reduced to a limit */
	POLICY_REASON_NOTE, /* anything else worth saying (break-glass, ...) */
};

struct policy_reason {
	enum policy_reason_kind kind;
	char *rule; /* stable rule name, e.g. "requesters", "max_ttl", "schedule" */
	char *text; /* one human-readable sentence */
	int line; /* policy line of the rule, 0 when none */
};

/* Where one approval clause stands (for the int form: the one clause
 * "approvals from the approvers"). */
struct policy_clause_state {
	char **from; /* as written: "@leads", "carol", "%ops" */
	size_t nfrom;
	unsigned required;
	unsigned valid;
	char **approvers; /* who counted toward it */
	size_t napprovers;
	int line;
};

struct policy_decision {
	enum policy_result result;
	char *task;
	char *requester;
	uint64_t ttl; /* effective, seconds */
	unsigned approvals_required;
	unsigned approvals_valid;
	char **approver_sets; /* as written: "@leads", "carol", "%ops" */
	size_t napprover_sets;
	char **principals; /* "eph:<task>@<host>" / "eph:<task>@group:<hostgroup>" */
	size_t nprincipals;
	char *login_as; /* the account chosen ("" when denied for it) */
	char *force_command; /* critical option, NULL when none */
	char *source_address; /* critical option, NULL when none */
	char **extensions; /* flag extensions, sorted: "permit-pty", ... */
	size_t nextensions;
	uint32_t max_logins;
	int break_glass;
	int review_required; /* break-glass: someone else must close a review */
	uint64_t pending_timeout;
	struct policy_reason *reasons; /* every rule that applied or refused */
	size_t nreasons;
	/* The approval clauses in effect, each with who met it so far. */
	struct policy_clause_state *clauses;
	size_t nclauses;
};

/*
 * Evaluate a request at time now. Pure and deterministic. Returns EPH_OK
 * with a decision (which may be POLICY_DENY) or an error (EPH_ERR_NOMEM,
 * EPH_ERR_INVAL) with out cleared. Rules:
 *  - unknown task, requester not allowed, host not in the task, missing
 *    reason where required, outside schedule, source address outside the
 *    task's CIDRs (or unknown when it must be bound) -> deny;
 *  - TTL above any applicable maximum -> clamped, and said so: the
 *    policy's, the task's, the when entries', req->ca_max_ttl, the end
 *    of the schedule window that admitted the request, valid_until;
 *  - at or after the task's valid_until -> deny;
 *  - the requester never counts as an approver; approvals come from
 *    distinct people in the approver sets;
 *  - break-glass: issues without approvals, only with a reason, flagged
 *    for review;
 *  - several hosts: the most restrictive conditions over all of them.
 *    A host's conditions are the most restrictive over its contexts, one
 *    per hostgroup holding it (for "@name": that hostgroup and every
 *    hostgroup sharing a host with it); in a context, the matching "when"
 *    entries override the task's values, the most restrictive winning,
 *    and the task's values hold where none matches.
 * A deny lists every refusing rule, not only the first.
 */
int policy_eval(const struct policy *p, const struct policy_request *req, time_t now,
    struct policy_decision *out);
void policy_decision_clear(struct policy_decision *d);
const char *policy_result_name(enum policy_result r); /* "deny", "pending", "issue" */

/* May this person approve the requester's request for task? EPH_OK, or
 * EPH_ERR_PERM with *why (static text) saying why not. */
int policy_may_approve(const struct policy *p, const char *task, const char *requester,
    const struct policy_approval *a, const char **why);

/* Why name cannot be a requester or approver (it could not appear in a
 * key id eph:<id>:<requester>:<task>: empty, too long, ':', spaces,
 * control or non-ASCII bytes), as static text; NULL when it can. */
const char *policy_identity_problem(const char *name);

/* The canonical account of name through NSS (getpwnam_r): *canon (to
 * free) and *uid. EPH_ERR_INVAL when policy_identity_problem refuses
 * the name (or NSS's own name for it), EPH_ERR_NOTFOUND for a name NSS
 * does not know. */
int policy_identity_resolve(const char *name, char **canon, uid_t *uid);

/* The user's Unix group names through NSS (getgrouplist), for the
 * requester/approver groups. EPH_ERR_NOTFOUND for an unknown user. */
int policy_unix_groups(const char *user, char ***groups, size_t *n);
void policy_strv_free(char **v, size_t n);

/* ------------------------------------------------------------ JSON */

/* The decision as a JSON object text (jansson), for machines. */
int policy_decision_to_json(const struct policy_decision *d, char **out);

/* ---------------------------------------------------------- host.conf */

struct host_accept {
	char *task;
	char **users;
	size_t nusers;
	int line;
};

/* What pam_ephemeral does with a login that was not by a certificate of
 * the trusted CA (a plain key, a password, another CA). */
enum host_non_ephemeral { HOST_NON_EPHEMERAL_IGNORE = 0, HOST_NON_EPHEMERAL_DENY };

#define HOST_DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/ephemeral"
#define HOST_MAX_SERVICES 32

struct host_conf {
	char *file;
	char **names; /* host.names, lower case */
	size_t nnames;
	char **groups; /* host.groups */
	size_t ngroups;
	char *trusted_ca_keys;
	char *revoked_keys;
	struct host_accept *accept;
	size_t naccept;
	/* The host side's own state: the principals spool and the login
	 * counts (default HOST_DEFAULT_STATE_DIR). */
	char *state_dir;
	enum host_non_ephemeral non_ephemeral; /* default ignore */
	char *krl_url; /* where ephemeral-krl-sync fetches the KRL; NULL: none */
	int session_end; /* end sessions when their grant ends; default 1 */
	/* The PAM services pam_ephemeral acts on (default [ "sshd" ]); on
	 * any other it returns PAM_IGNORE. */
	char **services;
	size_t nservices;
};

/* Load and validate /etc/ephemeral/host.conf (same rules as policy_load). */
int hostconf_load(const char *path, struct host_conf **out, struct policy_errors *errs);
int hostconf_load_string(
    const char *text, const char *name, struct host_conf **out, struct policy_errors *errs);
void hostconf_free(struct host_conf *hc);

/* The principals ephemeral-principals prints for local_user: for each
 * accepted task with that user, eph:<task>@<name> for every host name and
 * eph:<task>@group:<group> for every host group. Sorted, unique. */
int host_principals_for(const struct host_conf *hc, const char *local_user, char ***out, size_t *n);

#endif

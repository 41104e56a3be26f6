/* sshca policy: check policy files, and explain the decision the policy
 * makes for one request, with every reason behind it. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "caconf.h"
#include "err.h"
#include "policy.h"
#include "sshca.h"
#include "util.h"

/* explain answers like krl --query: 0 allowed (now or after approvals),
 * 1 denied, 2 could not tell (usage error, unreadable policy, ...). */
#define EXPLAIN_EXIT_ALLOWED 0
#define EXPLAIN_EXIT_DENIED 1
#define EXPLAIN_EXIT_ERROR 2

#define REASON_MAX 4096

static int cmd_policy(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_policy = {"policy", cmd_policy,
    "check [--config CACONF] [FILE...]\n"
    "       sshca policy explain [options] --as USER --task TASK --host HOST",
    "check a policy file, or explain the decision for a request",
    "  check                  report every error of the policy files as\n"
    "                         file:line: message; exit 1 if there is one\n"
    "                         (see 'sshca policy check --help')\n"
    "  explain                print the decision the policy makes for a\n"
    "                         request, and every reason for it\n"
    "                         (see 'sshca policy explain --help')\n"};

/* The subcommands, named so messages read "sshca policy check: ...". */
static const struct sshca_cmd policy_check_cmd = {"policy check", NULL,
    "[--config CACONF] [FILE...]",
    /* Subcommands are not listed by "sshca help", so their summary
     * can be a paragraph. */
    "check policy files, reporting every error as file:line: message.\n"
    "Without FILE, checks the policy that ca.conf names, or\n" CACONF_DEFAULT_POLICY
    " when there is no ca.conf.\n"
    "Exit status: 0 all valid, 1 an error, 2 a usage error",
    "  -c, --config CACONF    the ca.conf naming the policy (default\n"
    "                         " CACONF_DEFAULT_PATH ")\n"};

static const struct sshca_cmd policy_explain_cmd = {"policy explain", NULL,
    "[-f POLICY | -c CACONF] --as USER --task TASK\n"
    "                            --host HOST... [--ttl DURATION] [--from ADDR]\n"
    "                            [--at TIME] [--reason TEXT] [--groups G1,G2]\n"
    "                            [--approval USER[:G1,G2]]... [--login-as USER]\n"
    "                            [--json]",
    "print the decision the policy makes for a request, with every reason.\n"
    "Exit status: 0 the request is allowed (issued now or once approved),\n"
    "1 denied, 2 no decision could be made (usage error, unreadable policy,\n"
    "user unknown to NSS)",
    "  -f, --policy POLICY    policy file (default: the one ca.conf names, or\n"
    "                         " CACONF_DEFAULT_POLICY ")\n"
    "  -c, --config CACONF    ca.conf naming the policy (default\n"
    "                         " CACONF_DEFAULT_PATH "); its max_ttl\n"
    "                         caps the TTL as the CA would\n"
    "      --as USER          the requester\n"
    "      --task TASK        the task asked for\n"
    "      --host HOST        a host, or @HOSTGROUP (repeatable)\n"
    "      --ttl DURATION     lifetime asked for (default: the task's)\n"
    "      --from ADDR        the requester's IP address, as the CA sees it\n"
    "      --at TIME          evaluate at YYYY-MM-DDTHH:MM[:SS] local time, or\n"
    "                         at @EPOCH seconds (default: now)\n"
    "      --reason TEXT      the ticket or reason given\n"
    "      --groups G1,G2     the requester's Unix groups (default: from NSS;\n"
    "                         \"\" for none)\n"
    "      --approval USER[:G1,G2]\n"
    "                         an approval so far, with the approver's Unix\n"
    "                         groups (default: from NSS; repeatable)\n"
    "      --login-as USER    the local account asked for (default: the\n"
    "                         task's first login_as)\n"
    "      --json             print the decision as one JSON object\n"};

enum {
	OPT_AS = 256,
	OPT_TASK,
	OPT_HOST,
	OPT_TTL,
	OPT_FROM,
	OPT_AT,
	OPT_REASON,
	OPT_GROUPS,
	OPT_APPROVAL,
	OPT_JSON,
	OPT_LOGIN_AS,
};

/* A list of names as the policy functions take it. */
struct strv {
	char **v;
	size_t n;
};

static void
strv_clear(struct strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* "a,b,c" into s; "" is the empty list; an empty element is refused. */
static int
strv_split(const char *list, struct strv *s)
{
	const char *p = list, *comma;
	char **nv;
	int r = EPH_ERR_FORMAT;

	memset(s, 0, sizeof(*s));
	if (*list == '\0')
		return EPH_OK;
	for (;;) {
		comma = strchr(p, ',');
		if (comma == p || *p == '\0')
			goto out;
		if ((nv = reallocarray(s->v, s->n + 1, sizeof(*s->v))) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		s->v = nv;
		if ((s->v[s->n] = comma != NULL ? strndup(p, (size_t)(comma - p)) : strdup(p)) ==
		    NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		s->n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	r = EPH_OK;
out:
	if (r != EPH_OK)
		strv_clear(s);
	return r;
}

/* A user's Unix groups through NSS, copied into s. */
static int
strv_from_nss(const char *user, struct strv *s)
{
	char **g = NULL;
	size_t n = 0;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = policy_unix_groups(user, &g, &n)) != EPH_OK)
		return r;
	s->v = g;
	s->n = n;
	return EPH_OK;
}

/* Policy and user text may hold anything: keep terminal control bytes
 * out of the output, and a backslash doubled so that "\x1b" typed
 * literally cannot pass for an escaped byte. */
static void
put_safe(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else if (*p == '\\')
			fputs("\\\\", stdout);
		else
			putchar(*p);
	}
}

static void
put_field(const char *label, const char *value)
{
	printf("%-17s", label);
	put_safe(value != NULL && *value != '\0' ? value : "none");
	putchar('\n');
}

static void
put_strv(const char *const *v, size_t n)
{
	size_t i;

	if (n == 0)
		printf("none");
	for (i = 0; i < n; i++) {
		if (i > 0)
			printf(", ");
		put_safe(v[i]);
	}
}

static void
put_list(const char *label, const char *const *v, size_t n)
{
	printf("%-17s", label);
	put_strv(v, n);
	putchar('\n');
}

static void
put_duration(const char *label, uint64_t secs)
{
	char d[32];

	format_duration(secs, d, sizeof(d));
	put_field(label, d);
}

static const char *
reason_kind_label(enum policy_reason_kind k)
{
	switch (k) {
	case POLICY_REASON_ALLOW: return "allow";
	case POLICY_REASON_DENY: return "deny";
	case POLICY_REASON_CLAMP: return "clamp";
	case POLICY_REASON_NOTE: return "note";
	}
	return "?";
}

static void
print_errors(const struct sshca_cmd *self, const char *path, const struct policy_errors *e, int r)
{
	char *text;

	if (e->n == 0) {
		sshca_fail(self, "%s: %s", path, sshca_strerror(r));
		return;
	}
	if ((text = policy_errors_format(e)) == NULL) {
		sshca_fail(self, "%s: %zu errors (out of memory formatting them)", path, e->n);
		return;
	}
	fputs(text, stderr);
	if (*text != '\0' && text[strlen(text) - 1] != '\n')
		fputc('\n', stderr);
	free(text);
}

/*
 * The policy to use when none is named: the one the CA's ca.conf names;
 * when no ca.conf exists at the default place, the default policy. A
 * ca.conf named explicitly must load.
 */
static int
resolve_policy(const struct sshca_cmd *self, const char *config, char **out, uint64_t *ca_max_ttl)
{
	struct policy_errors errs = {NULL, 0};
	struct ca_conf *cc = NULL;
	struct stat st;
	const char *path = config != NULL ? config : CACONF_DEFAULT_PATH;
	int r, ret = SSHCA_EXIT_FAIL;

	*out = NULL;
	if (ca_max_ttl != NULL)
		*ca_max_ttl = 0;
	if (config == NULL && lstat(path, &st) != 0 && errno == ENOENT) {
		if ((*out = strdup(CACONF_DEFAULT_POLICY)) == NULL)
			return sshca_fail(self, "out of memory");
		return SSHCA_EXIT_OK;
	}
	if ((r = caconf_load(path, &cc, &errs)) != EPH_OK) {
		print_errors(self, path, &errs, r);
		sshca_fail(self, "cannot use %s to find the policy", path);
		goto out;
	}
	if ((*out = strdup(cc->policy)) == NULL) {
		sshca_fail(self, "out of memory");
		goto out;
	}
	/* The CA caps every certificate at its max_ttl whatever the policy
	 * says; an explanation that left it out would promise more. */
	if (ca_max_ttl != NULL)
		*ca_max_ttl = cc->max_ttl;
	ret = SSHCA_EXIT_OK;
out:
	caconf_free(cc);
	policy_errors_clear(&errs);
	return ret;
}

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int
check_one(const struct sshca_cmd *self, const char *path)
{
	struct policy_errors errs = {NULL, 0};
	struct policy *p = NULL;
	int r, ret = SSHCA_EXIT_FAIL;

	if ((r = policy_load(path, &p, &errs)) != EPH_OK) {
		print_errors(self, path, &errs, r);
		if (errs.n != 0)
			sshca_fail(
			    self, "%s: %zu %s", path, errs.n, plural(errs.n, "error", "errors"));
		goto out;
	}
	sshca_print_warnings(&p->warnings);
	printf("%s: OK: %zu %s, %zu %s, %zu %s", path, p->ntasks,
	    plural(p->ntasks, "task", "tasks"), p->ngroups, plural(p->ngroups, "group", "groups"),
	    p->nhostgroups, plural(p->nhostgroups, "hostgroup", "hostgroups"));
	if (p->warnings.n > 0)
		printf(", %zu %s", p->warnings.n, plural(p->warnings.n, "warning", "warnings"));
	putchar('\n');
	ret = SSHCA_EXIT_OK;
out:
	policy_free(p);
	policy_errors_clear(&errs);
	return ret;
}

static int
policy_check(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	char *path = NULL;
	int c, i, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (config != NULL)
				return sshca_usage_error(self, "--config given twice");
			config = optarg;
			break;
		case 'h': return sshca_help(self);
		default: return sshca_bad_option(self, c, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0) {
		if (config != NULL)
			return sshca_usage_error(self, "give FILE or --config, not both");
		ret = SSHCA_EXIT_OK;
		for (i = 0; i < argc; i++) {
			if (check_one(self, argv[i]) != SSHCA_EXIT_OK)
				ret = SSHCA_EXIT_FAIL;
		}
		return ret;
	}
	if ((ret = resolve_policy(self, config, &path, NULL)) != SSHCA_EXIT_OK)
		return ret;
	ret = check_one(self, path);
	free(path);
	return ret;
}

/*
 * "@EPOCH", or "YYYY-MM-DDTHH:MM[:SS]" in local time (TZ), read as the
 * policy reads valid_until. A time that does not exist (Feb 30, the hour
 * skipped by a DST change) is refused rather than silently moved.
 */
static int
parse_at(const char *s, time_t *out)
{
	const char *why;
	uint64_t v;

	if (s[0] == '@') {
		if (parse_u64(s + 1, &v) != EPH_OK || v > (uint64_t)INT64_MAX)
			return -1;
		*out = (time_t)v;
		return 0;
	}
	return policy_local_time_parse(s, out, &why) == EPH_OK ? 0 : -1;
}

/* Printable text, spaces allowed: it is echoed in reasons and logs. */
static int
text_ok(const char *s, size_t max)
{
	const unsigned char *p;

	if (strlen(s) > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

struct explain_args {
	const char *policy;
	const char *config;
	const char *as;
	const char *task;
	const char **hosts;
	size_t nhosts;
	const char *ttl;
	const char *from;
	const char *at;
	const char *reason;
	const char *groups;
	const char **approvals;
	size_t napprovals;
	int json;
	const char *login_as;
};

static int
explain_parse(
    const struct sshca_cmd *self, int argc, char **argv, struct explain_args *a, int *help)
{
	static const struct option longopts[] = {
	    {"policy", required_argument, NULL, 'f'},
	    {"config", required_argument, NULL, 'c'},
	    {"as", required_argument, NULL, OPT_AS},
	    {"task", required_argument, NULL, OPT_TASK},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"ttl", required_argument, NULL, OPT_TTL},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"at", required_argument, NULL, OPT_AT},
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"groups", required_argument, NULL, OPT_GROUPS},
	    {"approval", required_argument, NULL, OPT_APPROVAL},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"login-as", required_argument, NULL, OPT_LOGIN_AS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char **once;
	const char *once_name = NULL, *why;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:c:h", longopts, NULL)) != -1) {
		once = NULL;
		switch (c) {
		case 'f': once = &a->policy, once_name = "--policy"; break;
		case 'c': once = &a->config, once_name = "--config"; break;
		case OPT_AS: once = &a->as, once_name = "--as"; break;
		case OPT_TASK: once = &a->task, once_name = "--task"; break;
		case OPT_HOST: a->hosts[a->nhosts++] = optarg; break;
		case OPT_TTL: once = &a->ttl, once_name = "--ttl"; break;
		case OPT_FROM: once = &a->from, once_name = "--from"; break;
		case OPT_AT: once = &a->at, once_name = "--at"; break;
		case OPT_REASON: once = &a->reason, once_name = "--reason"; break;
		case OPT_GROUPS: once = &a->groups, once_name = "--groups"; break;
		case OPT_APPROVAL:
			if (a->napprovals == POLICY_MAX_APPROVAL_RECORDS)
				return sshca_usage_error(self, "more than %d --approval options",
				    POLICY_MAX_APPROVAL_RECORDS);
			a->approvals[a->napprovals++] = optarg;
			break;
		case OPT_JSON: a->json = 1; break;
		case OPT_LOGIN_AS: once = &a->login_as, once_name = "--login-as"; break;
		case 'h': *help = 1; return SSHCA_EXIT_OK;
		default: return sshca_bad_option(self, c, argv);
		}
		if (once != NULL && sshca_opt_once(self, once, once_name, optarg) != SSHCA_EXIT_OK)
			return SSHCA_EXIT_USAGE;
	}
	if (optind < argc)
		return sshca_usage_error(self, "unexpected argument '%s'", argv[optind]);
	if (a->as == NULL || *a->as == '\0')
		return sshca_usage_error(self, "--as USER is required");
	if ((why = policy_identity_problem(a->as)) != NULL)
		return sshca_usage_error(self, "--as: the user name %s", why);
	if (a->task == NULL || *a->task == '\0')
		return sshca_usage_error(self, "--task TASK is required");
	if (a->nhosts == 0)
		return sshca_usage_error(self, "--host HOST is required");
	if (a->nhosts > POLICY_MAX_REQUEST_HOSTS)
		return sshca_usage_error(
		    self, "more than %d --host options", POLICY_MAX_REQUEST_HOSTS);
	if (a->policy != NULL && a->config != NULL)
		return sshca_usage_error(self, "give --policy or --config, not both");
	if (a->login_as != NULL && (*a->login_as == '\0' || !text_ok(a->login_as, 256)))
		return sshca_usage_error(self, "--login-as: not a user name");
	if (a->reason != NULL && !text_ok(a->reason, REASON_MAX))
		return sshca_usage_error(
		    self, "--reason: more than %d bytes or control characters", REASON_MAX);
	return SSHCA_EXIT_OK;
}

/* The option values that need parsing, as the request takes them. */
struct explain_req {
	struct policy_request req;
	struct strv groups;
	struct strv *approver_groups; /* one per approval */
	char **approver_names;
	struct policy_approval *approvals;
	size_t napprovals;
	time_t now;
	char *requester; /* canonical, or as given when NSS is bypassed */
};

static void
explain_req_clear(struct explain_req *e)
{
	size_t i;

	strv_clear(&e->groups);
	for (i = 0; i < e->napprovals; i++) {
		strv_clear(&e->approver_groups[i]);
		free(e->approver_names[i]);
	}
	free(e->approver_groups);
	free(e->approver_names);
	free(e->approvals);
	free(e->requester);
}

/* "USER" (groups from NSS later) or "USER:G1,G2" ("USER:" for none). */
static int
parse_approval(const struct sshca_cmd *self, const char *arg, char **user, struct strv *groups)
{
	const char *colon = strchr(arg, ':'), *why;
	int r;

	*user = colon != NULL ? strndup(arg, (size_t)(colon - arg)) : strdup(arg);
	if (*user == NULL)
		return sshca_fail(self, "out of memory");
	if (**user == '\0')
		return sshca_usage_error(self, "--approval '%s': no user", arg);
	if ((why = policy_identity_problem(*user)) != NULL)
		return sshca_usage_error(self, "--approval: the user name %s", why);
	if (colon == NULL)
		return SSHCA_EXIT_OK;
	if ((r = strv_split(colon + 1, groups)) == EPH_ERR_NOMEM)
		return sshca_fail(self, "out of memory");
	if (r != EPH_OK)
		return sshca_usage_error(self, "--approval '%s': an empty group name", arg);
	return SSHCA_EXIT_OK;
}

/*
 * Who an approver is: the canonical NSS account (the name in *user is
 * replaced by it), with its groups from NSS unless the option gave them.
 * NSS not knowing the name: with groups given ("USER:G1,G2") the name
 * stands as written; without, the approval is passed on as unknown and
 * does not count.
 */
static int
approval_identity(const struct sshca_cmd *self, const char *arg, char **user,
    struct policy_approval *ap, struct strv *groups)
{
	char *canon = NULL;
	int r, given = strchr(arg, ':') != NULL;

	r = policy_identity_resolve(*user, &canon, &ap->uid);
	if (r == EPH_ERR_NOTFOUND) {
		ap->id = given ? POLICY_ID_AS_GIVEN : POLICY_ID_UNKNOWN;
		return SSHCA_EXIT_OK;
	}
	if (r != EPH_OK)
		return sshca_fail(self, "approver '%s': %s", *user, sshca_strerror(r));
	free(*user);
	*user = canon;
	ap->id = POLICY_ID_RESOLVED;
	if (!given && (r = strv_from_nss(*user, groups)) != EPH_OK)
		return sshca_fail(self, "groups of approver '%s': %s", *user, sshca_strerror(r));
	return SSHCA_EXIT_OK;
}

static int
explain_build(const struct sshca_cmd *self, const struct explain_args *a, struct explain_req *e)
{
	unsigned char addr[sizeof(struct in6_addr)];
	uint64_t ttl = 0;
	size_t i;
	int r, ret;

	if (a->ttl != NULL) {
		if ((ret = sshca_opt_duration(self, "--ttl", a->ttl, &ttl)) != 0)
			return ret;
		if (ttl == 0)
			return sshca_usage_error(self,
			    "--ttl must be more than 0 (leave it out for the task's default)");
	}
	if (a->from != NULL && inet_pton(AF_INET, a->from, addr) != 1 &&
	    inet_pton(AF_INET6, a->from, addr) != 1)
		return sshca_usage_error(self, "--from '%s': not an IPv4 or IPv6 address", a->from);
	if (a->at == NULL) {
		if ((e->now = time(NULL)) == (time_t)-1)
			return sshca_fail(self, "the system clock is unusable");
	} else if (parse_at(a->at, &e->now) != 0)
		return sshca_usage_error(
		    self, "--at '%s': not a local time YYYY-MM-DDTHH:MM[:SS] or @EPOCH", a->at);

	if (a->groups != NULL) {
		if ((r = strv_split(a->groups, &e->groups)) == EPH_ERR_NOMEM)
			return sshca_fail(self, "out of memory");
		if (r != EPH_OK)
			return sshca_usage_error(
			    self, "--groups '%s': an empty group name", a->groups);
	}
	if (a->napprovals != 0) {
		e->approver_groups = calloc(a->napprovals, sizeof(*e->approver_groups));
		e->approver_names = calloc(a->napprovals, sizeof(*e->approver_names));
		e->approvals = calloc(a->napprovals, sizeof(*e->approvals));
		if (e->approver_groups == NULL || e->approver_names == NULL || e->approvals == NULL)
			return sshca_fail(self, "out of memory");
	}
	for (i = 0; i < a->napprovals; i++) {
		e->napprovals++;
		if ((ret = parse_approval(self, a->approvals[i], &e->approver_names[i],
		         &e->approver_groups[i])) != SSHCA_EXIT_OK)
			return ret;
	}

	/* NSS only once the whole command line is known to be usable. */
	r = policy_identity_resolve(a->as, &e->requester, &e->req.requester_uid);
	if (r == EPH_OK)
		e->req.requester_id = POLICY_ID_RESOLVED;
	else if (r == EPH_ERR_NOTFOUND && a->groups != NULL) {
		/* --groups stands in for NSS: the name as given. */
		if ((e->requester = strdup(a->as)) == NULL)
			return sshca_fail(self, "out of memory");
		e->req.requester_id = POLICY_ID_AS_GIVEN;
	} else if (r == EPH_ERR_NOTFOUND)
		return sshca_fail(self,
		    "user '%s' is not known to NSS; give the groups with --groups G1,G2 "
		    "(\"\" for none)",
		    a->as);
	else
		return sshca_fail(self, "user '%s': %s", a->as, sshca_strerror(r));
	if (a->groups == NULL) {
		if ((r = strv_from_nss(e->requester, &e->groups)) != EPH_OK)
			return sshca_fail(
			    self, "groups of '%s': %s", e->requester, sshca_strerror(r));
	}
	for (i = 0; i < e->napprovals; i++) {
		if ((ret = approval_identity(self, a->approvals[i], &e->approver_names[i],
		         &e->approvals[i], &e->approver_groups[i])) != SSHCA_EXIT_OK)
			return ret;
		e->approvals[i].user = e->approver_names[i];
		e->approvals[i].groups = (const char *const *)e->approver_groups[i].v;
		e->approvals[i].ngroups = e->approver_groups[i].n;
	}

	e->req.requester = e->requester;
	e->req.groups = (const char *const *)e->groups.v;
	e->req.ngroups = e->groups.n;
	e->req.task = a->task;
	e->req.hosts = a->hosts;
	e->req.nhosts = a->nhosts;
	e->req.ttl = ttl;
	e->req.reason = a->reason;
	e->req.source_address = a->from;
	e->req.approvals = e->approvals;
	e->req.napprovals = e->napprovals;
	e->req.login_as = a->login_as;
	return SSHCA_EXIT_OK;
}

static void
explain_print(const char *policy_path, const struct explain_req *e, const struct policy_decision *d)
{
	char when[96], line[96];
	struct tm tm;
	size_t i;

	if (localtime_r(&e->now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%a %Y-%m-%dT%H:%M:%S %Z", &tm) == 0)
		snprintf(when, sizeof(when), "@%lld", (long long)e->now);

	put_field("result:", policy_result_name(d->result));
	put_field("task:", d->task != NULL ? d->task : e->req.task);
	put_field("requester:", d->requester != NULL ? d->requester : e->req.requester);
	put_list("groups:", (const char *const *)e->groups.v, e->groups.n);
	put_list("hosts:", e->req.hosts, e->req.nhosts);
	put_field("at:", when);
	/* A denial has no lifetime; "0s" would read as a real one. */
	if (d->ttl == 0)
		put_field("ttl:", "none");
	else
		put_duration("ttl:", d->ttl);
	snprintf(
	    line, sizeof(line), "%u required, %u valid", d->approvals_required, d->approvals_valid);
	put_field("approvals:", line);
	put_list("approver_sets:", (const char *const *)d->approver_sets, d->napprover_sets);
	/* Several clauses: which is met, and which still waits for whom. */
	for (i = 0; d->nclauses > 1 && i < d->nclauses; i++) {
		const struct policy_clause_state *c = &d->clauses[i];

		snprintf(line, sizeof(line), "clause %zu:", i + 1);
		printf("%-17s", line);
		put_strv((const char *const *)c->from, c->nfrom);
		printf(": %u of %u", c->valid, c->required);
		if (c->napprovers > 0) {
			printf(" (");
			put_strv((const char *const *)c->approvers, c->napprovers);
			putchar(')');
		}
		if (c->valid < c->required) {
			printf("; waiting for %u more from ", c->required - c->valid);
			put_strv((const char *const *)c->from, c->nfrom);
		}
		putchar('\n');
	}
	put_list("principals:", (const char *const *)d->principals, d->nprincipals);
	put_field("login_as:", d->login_as);
	put_field("force-command:", d->force_command);
	put_field("source-address:", d->source_address);
	put_list("extensions:", (const char *const *)d->extensions, d->nextensions);
	if (d->max_logins == 0)
		put_field("max_logins:", "unlimited");
	else {
		snprintf(line, sizeof(line), "%u", d->max_logins);
		put_field("max_logins:", line);
	}
	put_field("break_glass:", d->break_glass ? "yes" : "no");
	put_field("review_required:", d->review_required ? "yes" : "no");
	put_duration("pending_timeout:", d->pending_timeout);
	put_field("policy:", policy_path);
	printf("reasons:\n");
	for (i = 0; i < d->nreasons; i++) {
		printf("  [%s] ", reason_kind_label(d->reasons[i].kind));
		put_safe(d->reasons[i].rule != NULL ? d->reasons[i].rule : "?");
		printf(": ");
		put_safe(d->reasons[i].text != NULL ? d->reasons[i].text : "");
		if (d->reasons[i].line > 0)
			printf(" (line %d)", d->reasons[i].line);
		putchar('\n');
	}
}

static int
policy_explain(const struct sshca_cmd *self, int argc, char **argv)
{
	struct explain_args a;
	struct explain_req e;
	struct policy_errors errs = {NULL, 0};
	struct policy_decision d;
	struct policy *p = NULL;
	char *path = NULL, *json = NULL;
	int r, help = 0, ret;

	memset(&a, 0, sizeof(a));
	memset(&e, 0, sizeof(e));
	memset(&d, 0, sizeof(d));
	/* Anything but a decision means the answer is unknown, not "no":
	 * every failure below exits EXPLAIN_EXIT_ERROR. */
	ret = EXPLAIN_EXIT_ERROR;
	/* Repeatable options can appear at most argc times. */
	a.hosts = calloc((size_t)argc + 1, sizeof(*a.hosts));
	a.approvals = calloc((size_t)argc + 1, sizeof(*a.approvals));
	if (a.hosts == NULL || a.approvals == NULL) {
		sshca_fail(self, "out of memory");
		goto out;
	}
	if (explain_parse(self, argc, argv, &a, &help) != SSHCA_EXIT_OK)
		goto out;
	if (help) {
		ret = sshca_help(self);
		goto out;
	}
	if (explain_build(self, &a, &e) != SSHCA_EXIT_OK)
		goto out;
	if (a.policy != NULL) {
		if ((path = strdup(a.policy)) == NULL) {
			sshca_fail(self, "out of memory");
			goto out;
		}
	} else if (resolve_policy(self, a.config, &path, &e.req.ca_max_ttl) != SSHCA_EXIT_OK)
		goto out;
	if ((r = policy_load(path, &p, &errs)) != EPH_OK) {
		print_errors(self, path, &errs, r);
		sshca_fail(self, "cannot use the policy %s", path);
		goto out;
	}
	if ((r = policy_eval(p, &e.req, e.now, &d)) != EPH_OK) {
		sshca_fail(self, "evaluating the request: %s", sshca_strerror(r));
		goto out;
	}
	if (a.json) {
		if ((r = policy_decision_to_json(&d, &json)) != EPH_OK) {
			sshca_fail(self, "formatting the decision: %s", sshca_strerror(r));
			goto out;
		}
		printf("%s\n", json);
	} else
		explain_print(path, &e, &d);
	ret = d.result == POLICY_DENY ? EXPLAIN_EXIT_DENIED : EXPLAIN_EXIT_ALLOWED;
out:
	policy_decision_clear(&d);
	policy_free(p);
	policy_errors_clear(&errs);
	explain_req_clear(&e);
	free(a.hosts);
	free(a.approvals);
	free(path);
	free(json);
	return ret;
}

static int
cmd_policy(const struct sshca_cmd *self, int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		return sshca_usage_error(self, "a subcommand is required: check or explain");
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
		return sshca_help(self);
	if (strcmp(sub, "check") == 0)
		return policy_check(&policy_check_cmd, argc - 1, argv + 1);
	if (strcmp(sub, "explain") == 0)
		return policy_explain(&policy_explain_cmd, argc - 1, argv + 1);
	return sshca_usage_error(self, "unknown subcommand '%s' (check or explain)", sub);
}

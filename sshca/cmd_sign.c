/* sshca sign: offline (break-glass) signing of one user key, with the
 * same limits the CA service applies: required serial, bounded TTL,
 * explicit principals, and the grant@ephssh extension. */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "fileio.h"
#include "grant.h"
#include "key.h"
#include "sshca.h"
#include "util.h"

#define DEFAULT_SKEW (60u)
#define DEFAULT_MAX_TTL (24u * 3600u)

static int cmd_sign(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_sign = {"sign", cmd_sign,
    "--key CAKEY --principals NAMES --ttl DURATION --serial N\n"
    "                  --key-id ID [options] USER.pub",
    "sign a user public key into USER-cert.pub (offline, break-glass)",
    "  -k, --key CAKEY        CA private key (PKCS#8, not readable by others)\n"
    "  -n, --principals LIST  comma-separated principals, at least one\n"
    "      --ttl DURATION     lifetime from now (e.g. 15m, 1h; at most --max-ttl)\n"
    "  -z, --serial N         certificate serial, 1 or more (never reuse one)\n"
    "  -I, --key-id ID        key identity that sshd logs\n"
    "  -o, --output FILE      where to write (default USER-cert.pub)\n"
    "      --source-address CIDR,...  critical option: allowed client addresses\n"
    "      --force-command CMD        critical option: the only command allowed\n"
    "      --extension NAME[=VALUE]   add an extension (repeatable)\n"
    "      --no-pty           leave out permit-pty\n"
    "      --no-default-extensions\n"
    "                         leave out permit-X11-forwarding, permit-agent-\n"
    "                         forwarding, permit-port-forwarding, permit-pty,\n"
    "                         permit-user-rc\n"
    "      --skew DURATION    start validity this long before now (default 60s)\n"
    "      --max-ttl DURATION refuse a --ttl above this (default 24h)\n"
    "      --grant-id ID      add the grant@ephssh extension; needs --task,\n"
    "                         --requester and --login-as\n"
    "      --task NAME        grant: task\n"
    "      --requester USER   grant: who asked\n"
    "      --login-as USER    grant: the only local account hosts accept\n"
    "      --approver USER    grant: who approved (repeatable)\n"
    "      --reason TEXT      grant: ticket or reason (stored as SHA-256)\n"
    "      --max-logins N     grant: logins allowed (default 0, unlimited)\n"};

enum {
	OPT_TTL = 256,
	OPT_SOURCE_ADDRESS,
	OPT_FORCE_COMMAND,
	OPT_EXTENSION,
	OPT_NO_PTY,
	OPT_NO_DEFAULT_EXT,
	OPT_SKEW,
	OPT_MAX_TTL,
	OPT_GRANT_ID,
	OPT_TASK,
	OPT_REQUESTER,
	OPT_APPROVER,
	OPT_REASON,
	OPT_MAX_LOGINS,
	OPT_LOGIN_AS,
};

struct sign_args {
	const char *ca_path;
	const char *principals;
	const char *ttl;
	const char *serial;
	const char *key_id;
	const char *output;
	const char *source_address;
	const char *force_command;
	const char **extensions; /* NAME[=VALUE] as given */
	size_t nextensions;
	int no_pty;
	int no_default_ext;
	const char *skew;
	const char *max_ttl;
	const char *grant_id;
	const char *task;
	const char *requester;
	const char *login_as;
	const char **approvers;
	size_t napprovers;
	const char *reason;
	const char *max_logins;
	const char *user_path;
};

/* Printable, no spaces: names end up in whitespace-separated files and
 * log lines (authorized_principals, sshd's "ID" field). */
static int
name_ok(const char *s, size_t max)
{
	const unsigned char *p;

	if (*s == '\0' || strlen(s) > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* A grant name field also joins the key id eph:<id>:<requester>:<task>. */
static int
grant_field_ok(const char *s)
{
	return name_ok(s, GRANT_MAX_FIELD_LEN) && strchr(s, ':') == NULL;
}

/* Printable text (spaces allowed), for key ids and grant fields. */
static int
text_ok(const char *s, size_t max)
{
	const unsigned char *p;

	if (*s == '\0' || strlen(s) > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

/*
 * One source-address element as sshd's addr_match_cidr_list accepts it:
 * an IPv4 or IPv6 address with an optional prefix length and no bits
 * set beyond the prefix (sshd refuses "10.0.0.1/8").
 */
static int
cidr_ok(const char *s)
{
	char addr[64];
	const char *slash;
	unsigned char bin[16];
	unsigned long plen, maxlen, i;
	size_t alen;
	char *end;

	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return 0;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1)
		maxlen = 32;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		maxlen = 128;
	else
		return 0;
	plen = maxlen;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return 0;
		plen = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || plen > maxlen)
			return 0;
	}
	for (i = plen; i < maxlen; i++) {
		if (bin[i / 8] & (0x80u >> (i % 8)))
			return 0;
	}
	return 1;
}

/* Each comma-separated element of a list, refusing empty elements. */
static int
list_each(const char *list, int (*fn)(const char *elem, void *ctx), void *ctx)
{
	const char *p = list, *comma;
	char *elem;
	int r;

	if (*list == '\0')
		return EPH_ERR_FORMAT;
	for (;;) {
		comma = strchr(p, ',');
		elem = comma != NULL ? strndup(p, (size_t)(comma - p)) : strdup(p);
		if (elem == NULL)
			return EPH_ERR_NOMEM;
		r = *elem == '\0' ? EPH_ERR_FORMAT : fn(elem, ctx);
		free(elem);
		if (r != EPH_OK)
			return r;
		if (comma == NULL)
			return EPH_OK;
		p = comma + 1;
	}
}

static int
check_cidr(const char *elem, void *ctx)
{
	return cidr_ok(elem) ? EPH_OK : EPH_ERR_FORMAT;
}

struct principal_ctx {
	struct cert *c;
	const char *why; /* set on a refusal */
};

static int
add_principal(const char *elem, void *ctx)
{
	struct principal_ctx *pc = ctx;
	int r;

	if (!name_ok(elem, CERT_MAX_PRINCIPAL_LEN)) {
		pc->why = "a name is empty, too long, or has spaces or control characters";
		return EPH_ERR_FORMAT;
	}
	if (cert_check_principal(pc->c, elem) == EPH_OK) {
		pc->why = "a name is listed twice";
		return EPH_ERR_DUPLICATE;
	}
	if (pc->c->nprincipals >= CERT_MAX_PRINCIPALS) {
		pc->why = "too many names";
		return EPH_ERR_TOOLARGE;
	}
	if ((r = cert_add_principal(pc->c, elem)) != EPH_OK)
		pc->why = sshca_strerror(r);
	return r;
}

/* "foo.pub" -> "foo-cert.pub", anything else gets "-cert.pub" appended,
 * as ssh-keygen -s names its output. */
static char *
cert_path_for(const char *user_path)
{
	size_t len = strlen(user_path);
	char *out;

	if (len > 4 && strcmp(user_path + len - 4, ".pub") == 0)
		len -= 4;
	if (asprintf(&out, "%.*s-cert.pub", (int)len, user_path) == -1)
		return NULL;
	return out;
}

static int
parse_args(const struct sshca_cmd *self, int argc, char **argv, struct sign_args *a, int *help)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"principals", required_argument, NULL, 'n'},
	    {"ttl", required_argument, NULL, OPT_TTL},
	    {"serial", required_argument, NULL, 'z'},
	    {"key-id", required_argument, NULL, 'I'},
	    {"output", required_argument, NULL, 'o'},
	    {"source-address", required_argument, NULL, OPT_SOURCE_ADDRESS},
	    {"force-command", required_argument, NULL, OPT_FORCE_COMMAND},
	    {"extension", required_argument, NULL, OPT_EXTENSION},
	    {"no-pty", no_argument, NULL, OPT_NO_PTY},
	    {"no-default-extensions", no_argument, NULL, OPT_NO_DEFAULT_EXT},
	    {"skew", required_argument, NULL, OPT_SKEW},
	    {"max-ttl", required_argument, NULL, OPT_MAX_TTL},
	    {"grant-id", required_argument, NULL, OPT_GRANT_ID},
	    {"task", required_argument, NULL, OPT_TASK},
	    {"requester", required_argument, NULL, OPT_REQUESTER},
	    {"approver", required_argument, NULL, OPT_APPROVER},
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"max-logins", required_argument, NULL, OPT_MAX_LOGINS},
	    {"login-as", required_argument, NULL, OPT_LOGIN_AS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char **once = NULL;
	const char *once_name = NULL;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:n:z:I:o:h", longopts, NULL)) != -1) {
		once = NULL;
		switch (c) {
		case 'k': once = &a->ca_path, once_name = "--key"; break;
		case 'n': once = &a->principals, once_name = "--principals"; break;
		case OPT_TTL: once = &a->ttl, once_name = "--ttl"; break;
		case 'z': once = &a->serial, once_name = "--serial"; break;
		case 'I': once = &a->key_id, once_name = "--key-id"; break;
		case 'o': once = &a->output, once_name = "--output"; break;
		case OPT_SOURCE_ADDRESS:
			once = &a->source_address, once_name = "--source-address";
			break;
		case OPT_FORCE_COMMAND:
			once = &a->force_command, once_name = "--force-command";
			break;
		case OPT_EXTENSION: a->extensions[a->nextensions++] = optarg; break;
		case OPT_NO_PTY: a->no_pty = 1; break;
		case OPT_NO_DEFAULT_EXT: a->no_default_ext = 1; break;
		case OPT_SKEW: once = &a->skew, once_name = "--skew"; break;
		case OPT_MAX_TTL: once = &a->max_ttl, once_name = "--max-ttl"; break;
		case OPT_GRANT_ID: once = &a->grant_id, once_name = "--grant-id"; break;
		case OPT_TASK: once = &a->task, once_name = "--task"; break;
		case OPT_REQUESTER: once = &a->requester, once_name = "--requester"; break;
		case OPT_APPROVER: a->approvers[a->napprovers++] = optarg; break;
		case OPT_REASON: once = &a->reason, once_name = "--reason"; break;
		case OPT_MAX_LOGINS: once = &a->max_logins, once_name = "--max-logins"; break;
		case OPT_LOGIN_AS: once = &a->login_as, once_name = "--login-as"; break;
		case 'h': *help = 1; return SSHCA_EXIT_OK;
		default: return sshca_bad_option(self, c, argv);
		}
		/* A second value silently replacing the first hides typos
		 * in a command that decides who gets root. */
		if (once != NULL && sshca_opt_once(self, once, once_name, optarg) != SSHCA_EXIT_OK)
			return SSHCA_EXIT_USAGE;
	}
	if (optind >= argc)
		return sshca_usage_error(self, "USER.pub is required");
	if (optind + 1 < argc)
		return sshca_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
	a->user_path = argv[optind];
	return SSHCA_EXIT_OK;
}

/* Everything about the command line that needs no file: usage errors. */
static int
check_args(const struct sshca_cmd *self, const struct sign_args *a)
{
	size_t i, j;

	if (a->ca_path == NULL)
		return sshca_usage_error(self, "--key CAKEY is required");
	if (a->principals == NULL)
		return sshca_usage_error(self,
		    "--principals is required "
		    "(a certificate without principals is valid for any user)");
	if (a->ttl == NULL)
		return sshca_usage_error(self, "--ttl is required");
	if (a->serial == NULL)
		return sshca_usage_error(self,
		    "--serial is required (take the next unused serial from the CA's records)");
	if (a->key_id == NULL)
		return sshca_usage_error(self, "--key-id is required");
	if (!text_ok(a->key_id, CERT_MAX_KEY_ID_LEN))
		return sshca_usage_error(
		    self, "--key-id: empty, too long, or has control characters");
	if (a->source_address != NULL && list_each(a->source_address, check_cidr, NULL) != EPH_OK)
		return sshca_usage_error(self,
		    "--source-address: '%s' is not "
		    "a comma-separated list of addresses or networks (with no "
		    "bits set beyond the prefix)",
		    a->source_address);
	if (a->force_command != NULL && *a->force_command == '\0')
		return sshca_usage_error(self, "--force-command is empty");
	if (a->nextensions > CERT_MAX_OPTIONS)
		return sshca_usage_error(self, "too many --extension options");
	for (i = 0; i < a->nextensions; i++) {
		const char *e = a->extensions[i];
		size_t nlen = strcspn(e, "=");
		char name[CERT_MAX_OPTION_NAME_LEN + 1];

		if (nlen == 0 || nlen > CERT_MAX_OPTION_NAME_LEN)
			return sshca_usage_error(self, "--extension '%s': bad name", e);
		memcpy(name, e, nlen);
		name[nlen] = '\0';
		if (!name_ok(name, CERT_MAX_OPTION_NAME_LEN))
			return sshca_usage_error(self, "--extension '%s': bad name", e);
		if (strcmp(name, GRANT_EXTENSION) == 0)
			return sshca_usage_error(self,
			    "--extension %s: use --grant-id and its options", GRANT_EXTENSION);
		if (e[nlen] == '=' && strlen(e + nlen + 1) > CERT_MAX_OPTION_DATA_LEN - 4)
			return sshca_usage_error(self, "--extension '%s': value too long", name);
	}
	if (a->grant_id == NULL) {
		if (a->task != NULL || a->requester != NULL || a->login_as != NULL ||
		    a->napprovers != 0 || a->reason != NULL || a->max_logins != NULL)
			return sshca_usage_error(self,
			    "--task, --requester, --login-as, --approver, --reason and "
			    "--max-logins need --grant-id");
		return SSHCA_EXIT_OK;
	}
	if (a->task == NULL || a->requester == NULL || a->login_as == NULL)
		return sshca_usage_error(
		    self, "--grant-id needs --task, --requester and --login-as");
	if (!grant_field_ok(a->grant_id))
		return sshca_usage_error(
		    self, "--grant-id: empty, too long, or has spaces, ':' or control characters");
	if (!grant_field_ok(a->task))
		return sshca_usage_error(
		    self, "--task: empty, too long, or has spaces, ':' or control characters");
	if (!grant_field_ok(a->requester))
		return sshca_usage_error(
		    self, "--requester: empty, too long, or has spaces, ':' or control characters");
	if (!grant_user_name_valid(a->login_as))
		return sshca_usage_error(self,
		    "--login-as '%s': not an account name (letters, digits, '.', '_', '-')",
		    a->login_as);
	if (a->reason != NULL && !text_ok(a->reason, 4096))
		return sshca_usage_error(
		    self, "--reason: empty, too long, or has control characters");
	if (a->napprovers > GRANT_MAX_APPROVERS)
		return sshca_usage_error(
		    self, "more than %d --approver options", GRANT_MAX_APPROVERS);
	for (i = 0; i < a->napprovers; i++) {
		if (!grant_field_ok(a->approvers[i]))
			return sshca_usage_error(self,
			    "--approver '%s': empty, too long, or has spaces, ':' or control "
			    "characters",
			    a->approvers[i]);
		if (strcmp(a->approvers[i], a->requester) == 0)
			return sshca_usage_error(self,
			    "--approver %s: the requester cannot approve their own grant",
			    a->approvers[i]);
		for (j = 0; j < i; j++) {
			if (strcmp(a->approvers[i], a->approvers[j]) == 0)
				return sshca_usage_error(
				    self, "--approver %s given twice", a->approvers[i]);
		}
	}
	return SSHCA_EXIT_OK;
}

static int
add_extensions(const struct sshca_cmd *self, const struct sign_args *a, struct cert *c)
{
	size_t i, nlen;
	char *name;
	const char *val;
	int r;

	if (!a->no_default_ext) {
		for (i = 0; cert_default_extensions[i] != NULL; i++) {
			if (a->no_pty && strcmp(cert_default_extensions[i], "permit-pty") == 0)
				continue;
			if ((r = cert_add_extension(c, cert_default_extensions[i], NULL, 0)) !=
			    EPH_OK)
				return sshca_fail(self, "adding extension %s: %s",
				    cert_default_extensions[i], sshca_strerror(r));
		}
	}
	for (i = 0; i < a->nextensions; i++) {
		nlen = strcspn(a->extensions[i], "=");
		if ((name = strndup(a->extensions[i], nlen)) == NULL)
			return sshca_fail(self, "out of memory");
		val = a->extensions[i][nlen] == '=' ? a->extensions[i] + nlen + 1 : NULL;
		if (a->no_pty && strcmp(name, "permit-pty") == 0) {
			free(name);
			return sshca_usage_error(
			    self, "--no-pty contradicts --extension permit-pty");
		}
		r = cert_add_extension(c, name, val, val ? strlen(val) : 0);
		if (r == EPH_ERR_DUPLICATE) {
			r = sshca_usage_error(self, "--extension %s: already present%s", name,
			    a->no_default_ext ? "" : " (a default; see --no-default-extensions)");
			free(name);
			return r;
		}
		free(name);
		if (r != EPH_OK)
			return sshca_fail(
			    self, "adding extension '%s': %s", a->extensions[i], sshca_strerror(r));
	}
	return SSHCA_EXIT_OK;
}

static int
add_grant(
    const struct sshca_cmd *self, const struct sign_args *a, uint64_t max_logins, struct cert *c)
{
	struct grant g;
	struct buf val;
	size_t i;
	int r, ret = SSHCA_EXIT_FAIL;

	memset(&g, 0, sizeof(g));
	buf_init(&val);
	if ((g.id = strdup(a->grant_id)) == NULL || (g.task = strdup(a->task)) == NULL ||
	    (g.requester = strdup(a->requester)) == NULL ||
	    (g.login_as = strdup(a->login_as)) == NULL ||
	    (a->napprovers != 0 && (g.approvers = calloc(a->napprovers, sizeof(char *))) == NULL)) {
		sshca_fail(self, "out of memory");
		goto out;
	}
	for (i = 0; i < a->napprovers; i++) {
		if ((g.approvers[i] = strdup(a->approvers[i])) == NULL) {
			sshca_fail(self, "out of memory");
			goto out;
		}
		g.napprovers++;
	}
	g.max_logins = (uint32_t)max_logins;
	if (a->reason != NULL && (r = grant_set_reason(&g, a->reason)) != EPH_OK) {
		sshca_fail(self, "hashing --reason: %s", sshca_strerror(r));
		goto out;
	}
	if ((r = grant_encode(&g, &val)) != EPH_OK) {
		sshca_fail(self, "encoding %s: %s", GRANT_EXTENSION, sshca_strerror(r));
		goto out;
	}
	if ((r = cert_add_extension(c, GRANT_EXTENSION, val.d, val.len)) != EPH_OK) {
		sshca_fail(self, "adding %s: %s", GRANT_EXTENSION, sshca_strerror(r));
		goto out;
	}
	ret = SSHCA_EXIT_OK;
out:
	grant_clear(&g);
	buf_free(&val);
	return ret;
}

static int
cmd_sign(const struct sshca_cmd *self, int argc, char **argv)
{
	struct sign_args a;
	struct principal_ctx pc;
	struct key *ca = NULL, *user = NULL;
	struct cert *c = NULL;
	char *out_path = NULL, *comment = NULL, *line = NULL, *text = NULL;
	char valid[160], limit[32];
	uint64_t ttl, skew = DEFAULT_SKEW, max_ttl = DEFAULT_MAX_TTL;
	uint64_t serial, max_logins = 0, now;
	time_t t;
	int r, help = 0, ret;

	memset(&a, 0, sizeof(a));
	/* Repeatable options can appear at most argc times. */
	a.extensions = calloc((size_t)argc + 1, sizeof(*a.extensions));
	a.approvers = calloc((size_t)argc + 1, sizeof(*a.approvers));
	if (a.extensions == NULL || a.approvers == NULL) {
		ret = sshca_fail(self, "out of memory");
		goto out;
	}
	if ((ret = parse_args(self, argc, argv, &a, &help)) != 0)
		goto out;
	if (help) {
		ret = sshca_help(self);
		goto out;
	}
	if ((ret = check_args(self, &a)) != 0)
		goto out;
	if ((a.max_ttl != NULL &&
	        (ret = sshca_opt_duration(self, "--max-ttl", a.max_ttl, &max_ttl)) != 0) ||
	    (a.skew != NULL && (ret = sshca_opt_duration(self, "--skew", a.skew, &skew)) != 0) ||
	    (ret = sshca_opt_duration(self, "--ttl", a.ttl, &ttl)) != 0 ||
	    (ret = sshca_opt_u64(self, "--serial", a.serial, 1, UINT64_MAX, &serial)) != 0 ||
	    (a.max_logins != NULL &&
	        (ret = sshca_opt_u64(
	             self, "--max-logins", a.max_logins, 0, UINT32_MAX, &max_logins)) != 0))
		goto out;
	ret = SSHCA_EXIT_USAGE;
	if (max_ttl == 0) {
		sshca_usage_error(self, "--max-ttl must be more than 0");
		goto out;
	}
	if (ttl == 0) {
		sshca_usage_error(self, "--ttl must be more than 0");
		goto out;
	}
	if (ttl > max_ttl) {
		format_duration(max_ttl, limit, sizeof(limit));
		sshca_usage_error(
		    self, "--ttl %s is over the %s limit; refusing (see --max-ttl)", a.ttl, limit);
		goto out;
	}
	if (skew > max_ttl) {
		sshca_usage_error(self, "--skew %s is over --max-ttl", a.skew);
		goto out;
	}
	if ((out_path = a.output != NULL ? strdup(a.output) : cert_path_for(a.user_path)) == NULL) {
		ret = sshca_fail(self, "out of memory");
		goto out;
	}
	if (strcmp(out_path, a.user_path) == 0 || strcmp(out_path, a.ca_path) == 0) {
		sshca_usage_error(self, "--output %s would overwrite a key", out_path);
		goto out;
	}

	/* The certificate body first: its refusals are usage errors, and
	 * none of them should wait for the CA key to be read. */
	ret = SSHCA_EXIT_FAIL;
	if ((r = cert_new(&c)) != EPH_OK) {
		sshca_fail(self, "making certificate: %s", sshca_strerror(r));
		goto out;
	}
	c->type = CERT_TYPE_USER;
	c->serial = serial;
	if ((c->key_id = strdup(a.key_id)) == NULL) {
		sshca_fail(self, "out of memory");
		goto out;
	}
	pc.c = c;
	pc.why = NULL;
	if ((r = list_each(a.principals, add_principal, &pc)) != EPH_OK) {
		if (r == EPH_ERR_NOMEM) {
			sshca_fail(self, "out of memory");
			goto out;
		}
		ret = sshca_usage_error(self, "--principals '%s': %s", a.principals,
		    pc.why ? pc.why : "a name is empty");
		goto out;
	}
	if (a.force_command != NULL &&
	    (r = cert_add_critical(
	         c, CERT_OPT_FORCE_COMMAND, a.force_command, strlen(a.force_command))) != EPH_OK) {
		sshca_fail(self, "adding force-command: %s", sshca_strerror(r));
		goto out;
	}
	if (a.source_address != NULL &&
	    (r = cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, a.source_address,
	         strlen(a.source_address))) != EPH_OK) {
		sshca_fail(self, "adding source-address: %s", sshca_strerror(r));
		goto out;
	}
	if ((ret = add_extensions(self, &a, c)) != 0)
		goto out;
	ret = SSHCA_EXIT_FAIL;
	if (a.grant_id != NULL && add_grant(self, &a, max_logins, c) != 0)
		goto out;

	if ((r = key_load_private(a.ca_path, &ca)) != EPH_OK) {
		sshca_fail(self, "cannot load CA key %s: %s", a.ca_path, sshca_strerror(r));
		goto out;
	}
	if ((r = key_load_public(a.user_path, &user, &comment)) != EPH_OK) {
		sshca_fail(
		    self, "cannot load user public key %s: %s", a.user_path, sshca_strerror(r));
		goto out;
	}
	if ((r = cert_set_key(c, user)) != EPH_OK) {
		sshca_fail(self, "setting the certificate key: %s", sshca_strerror(r));
		goto out;
	}
	/* Read the clock last, just before signing. */
	if ((t = time(NULL)) == (time_t)-1 || (uint64_t)t <= skew ||
	    ttl >= UINT64_MAX - (uint64_t)t) {
		sshca_fail(self, "the system clock is unusable");
		goto out;
	}
	now = (uint64_t)t;
	c->valid_after = now - skew;
	c->valid_before = now + ttl;
	if ((r = cert_sign(c, ca, NULL)) != EPH_OK) {
		sshca_fail(self, "signing: %s", sshca_strerror(r));
		goto out;
	}
	if ((r = cert_format_line(
	         c, comment != NULL && *comment != '\0' ? comment : NULL, &line)) != EPH_OK) {
		sshca_fail(self, "formatting certificate: %s", sshca_strerror(r));
		goto out;
	}
	if (asprintf(&text, "%s\n", line) == -1) {
		text = NULL;
		sshca_fail(self, "out of memory");
		goto out;
	}
	if ((r = file_write_atomic(out_path, text, strlen(text), 0644, 0)) != EPH_OK) {
		sshca_fail(self, "writing %s: %s", out_path, sshca_strerror(r));
		goto out;
	}
	sshca_format_validity(c, valid, sizeof(valid));
	fprintf(stderr, "Signed user key %s: id \"%s\" serial %llu for %s valid %s\n", out_path,
	    c->key_id, (unsigned long long)c->serial, a.principals, valid);
	ret = SSHCA_EXIT_OK;
out:
	cert_free(c);
	key_free(ca);
	key_free(user);
	free(a.extensions);
	free(a.approvers);
	free(out_path);
	free(comment);
	free(line);
	free(text);
	return ret;
}

/*
 * ephssh ssh [USER@]HOST [COMMAND]: log in to HOST with the certificate
 * of this user's newest active grant for it, whose key and certificate
 * 'ephssh request' put in the ssh-agent. Nothing is written to disk.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "cert.h"
#include "ephssh.h"
#include "err.h"
#include "out.h"
#include "sshconn.h"
#include "util.h"

/* The exit status when the remote command gave none (killed by a
 * signal, or the connection broke after it started), as ssh(1). */
#define SSH_EXIT_NO_STATUS 255

#define MAX_HOST 253
#define MAX_COMMAND (256u * 1024u)

/* One issued grant for the host, from GET /v1/requests. */
struct grant_pick {
	const json_t *req; /* the request object (in the CA's answer) */
	struct cert *cert;
	int64_t valid_after;
};

static int
has_host(const json_t *req, const char *host)
{
	const json_t *hosts = json_object_get(req, "hosts"), *h;
	size_t i;

	for (i = 0; i < json_array_size(hosts); i++) {
		h = json_array_get(hosts, i);
		if (json_is_string(h) && strcmp(json_string_value(h), host) == 0)
			return 1;
	}
	return 0;
}

static int
pick_cmp(const void *a, const void *b)
{
	const struct grant_pick *x = a, *y = b;

	return x->valid_after < y->valid_after ? 1 : x->valid_after > y->valid_after ? -1 : 0;
}

static void
picks_free(struct grant_pick *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cert_free(p[i].cert);
	free(p);
}

/*
 * The grants of reqs (the CA's "requests") whose hosts name host and
 * whose certificate is valid now, newest first.
 */
static int
grants_for_host(
    const json_t *reqs, const char *host, uint64_t now, struct grant_pick **out, size_t *nout)
{
	struct grant_pick *p;
	const json_t *rq;
	const char *line;
	size_t i, n = 0;
	int64_t va;

	*out = NULL;
	*nout = 0;
	if (!json_is_array(reqs))
		return EPH_ERR_FORMAT;
	if ((p = calloc(json_array_size(reqs) + 1, sizeof(*p))) == NULL)
		return EPH_ERR_NOMEM;
	json_array_foreach(reqs, i, rq)
	{
		const char *state = ephssh_jstr(rq, "state");

		if (state == NULL || strcmp(state, "issued") != 0 || !has_host(rq, host) ||
		    (line = ephssh_jstr(rq, "certificate")) == NULL)
			continue;
		if (cert_parse_line(line, &p[n].cert, NULL) != EPH_OK)
			continue;
		if (cert_check_validity(p[n].cert, now) != EPH_OK) {
			cert_free(p[n].cert);
			p[n].cert = NULL;
			continue;
		}
		if (ephssh_jstr(rq, "valid_after") == NULL ||
		    out_parse_time(ephssh_jstr(rq, "valid_after"), &va) != 0)
			va = (int64_t)p[n].cert->valid_after;
		p[n].req = rq;
		p[n].valid_after = va;
		n++;
	}
	qsort(p, n, sizeof(*p), pick_cmp);
	*out = p;
	*nout = n;
	return EPH_OK;
}

/* The agent identity that is this certificate, or NULL. */
static const struct agent_identity *
in_agent(const struct agent_identity *ids, size_t nids, const struct cert *c)
{
	size_t i;

	for (i = 0; i < nids; i++)
		if (ids[i].len == c->blob.len && memcmp(ids[i].blob, c->blob.d, c->blob.len) == 0)
			return &ids[i];
	return NULL;
}

/* COMMAND's words joined by spaces, as ssh sends them (the remote
 * shell splits them again). NULL with *rc set on a problem. */
static char *
join_command(struct ephssh *e, int argc, char **argv, int *rc)
{
	size_t n = 0, i;
	char *s;

	for (i = 0; i < (size_t)argc; i++) {
		n += strlen(argv[i]) + 1;
		if (n > MAX_COMMAND) {
			*rc = ephssh_error(e, EPHSSH_EXIT_USAGE, "the command is too long");
			return NULL;
		}
	}
	if ((s = malloc(n + 1)) == NULL) {
		*rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
		return NULL;
	}
	s[0] = '\0';
	for (i = 0; i < (size_t)argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Split [USER@]HOST; host is lower-cased, as the CA keeps host names. */
static int
split_target(const char *arg, char *user, size_t ulen, char *host, size_t hlen)
{
	const char *at = strrchr(arg, '@');
	size_t i;

	user[0] = '\0';
	if (at != NULL) {
		if (at == arg || (size_t)(at - arg) >= ulen)
			return -1;
		memcpy(user, arg, (size_t)(at - arg));
		user[at - arg] = '\0';
		arg = at + 1;
	}
	if (*arg == '\0' || strlen(arg) > MAX_HOST || strlen(arg) >= hlen || *arg == '-')
		return -1;
	for (i = 0; arg[i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)arg[i]);
	host[i] = '\0';
	return 0;
}

enum { OPT_ACCEPT_NEW = 1 };

static int
cmd_ssh(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"accept-new", no_argument, NULL, OPT_ACCEPT_NEW},
	    {NULL, 0, NULL, 0},
	};
	struct sshconn_target t;
	struct sshconn *conn = NULL;
	struct capi_result res;
	struct grant_pick *picks = NULL;
	struct agent *agent = NULL;
	struct agent_identity *ids = NULL;
	const struct agent_identity *id = NULL;
	const struct grant_pick *g = NULL;
	char user[256], host[MAX_HOST + 1], why[1024], *command = NULL;
	const char *login_as, *sock;
	size_t npicks = 0, nids = 0, i;
	uint64_t port = 0;
	int c, rc = EPHSSH_EXIT_OK, r, status;

	memset(&res, 0, sizeof(res));
	memset(&t, 0, sizeof(t));
	while ((c = ephssh_getopt(self, e, argc, argv, "+p:", lo, &rc)) != -1) {
		switch (c) {
		case EPHSSH_GETOPT_DONE: return rc;
		case 'p':
			if (parse_u64(optarg, &port) != EPH_OK || port == 0 || port > 65535)
				return ephssh_usage_error(self, e, "bad port '%s'", optarg);
			break;
		case OPT_ACCEPT_NEW: t.accept_new = 1; break;
		default: return ephssh_usage_error(self, e, "unknown option");
		}
	}
	if (e->json)
		return ephssh_usage_error(self, e, "--json does not apply to ssh");
	if (optind >= argc)
		return ephssh_usage_error(self, e, "a host is needed");
	if (split_target(argv[optind], user, sizeof(user), host, sizeof(host)) != 0)
		return ephssh_usage_error(self, e, "'%s' is not [USER@]HOST", argv[optind]);
	if (optind + 1 < argc &&
	    (command = join_command(e, argc - optind - 1, argv + optind + 1, &rc)) == NULL)
		return rc;

	/* (1) The newest grant for the host whose certificate is valid now. */
	if ((rc = ephssh_call(e, "GET", "/v1/requests?state=issued&mine=1", NULL, NULL, &res)) !=
	    EPHSSH_EXIT_OK)
		goto out;
	if (grants_for_host(json_object_get(res.body, "requests"), host, (uint64_t)time(NULL),
	        &picks, &npicks) != EPH_OK) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "the CA's list of grants is not understood");
		goto out;
	}
	if (npicks == 0) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
		    "no active grant for %s: run 'ephssh request TASK --host %s'", host, host);
		goto out;
	}

	/* (2) Its certificate in the agent: of several grants, the newest
	 * that is loaded there. */
	sock = getenv("SSH_AUTH_SOCK");
	if ((r = agent_connect(NULL, &agent)) != EPH_OK) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
		    r == EPH_ERR_NOTFOUND
		        ? "no ssh-agent (SSH_AUTH_SOCK is not set): the key of grant %s lives in "
		          "the agent 'ephssh request' loaded it into%s%s"
		        : "cannot reach the ssh-agent for grant %s%s%s",
		    ephssh_jstr(picks[0].req, "id") ? ephssh_jstr(picks[0].req, "id") : "?",
		    r == EPH_ERR_NOTFOUND ? "" : " at ", r == EPH_ERR_NOTFOUND ? "" : sock);
		goto out;
	}
	if ((r = agent_list(agent, &ids, &nids)) != EPH_OK) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "cannot list the ssh-agent's keys at %s: %s",
		    sock, eph_strerror(r));
		goto out;
	}
	for (i = 0; i < npicks && id == NULL; i++)
		if ((id = in_agent(ids, nids, picks[i].cert)) != NULL)
			g = &picks[i];
	if (id == NULL) {
		const char *task = ephssh_jstr(picks[0].req, "task");

		rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
		    "the certificate of grant %s (serial %llu) is not in the ssh-agent at %s: "
		    "it was removed, or loaded into another agent; run 'ephssh request %s --host "
		    "%s' "
		    "for a new one",
		    ephssh_jstr(picks[0].req, "id") ? ephssh_jstr(picks[0].req, "id") : "?",
		    (unsigned long long)picks[0].cert->serial, sock, task ? task : "TASK", host);
		goto out;
	}
	login_as = ephssh_jstr(g->req, "login_as");
	if (user[0] == '\0') {
		if (login_as == NULL || strlen(login_as) >= sizeof(user)) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "grant %s names no account to log in as: give USER@%s",
			    ephssh_jstr(g->req, "id") ? ephssh_jstr(g->req, "id") : "?", host);
			goto out;
		}
		snprintf(user, sizeof(user), "%s", login_as);
	}

	/* (3) Connect, check the host key, log in with that identity only. */
	t.host = host;
	t.port = (unsigned)port;
	t.user = user;
	if (sshconn_open(&t, &conn, why, sizeof(why)) != EPH_OK) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s", why);
		goto out;
	}
	if (why[0] != '\0')
		ephssh_note(e, "ephssh ssh: %s", why);
	if ((r = sshconn_auth(conn, agent, id->blob, id->len, why, sizeof(why))) != EPH_OK) {
		if (r == EPH_ERR_PRINCIPAL && login_as != NULL && strcmp(user, login_as) != 0)
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "%s (grant %s lets you in as %s only: its principals allow no other "
			    "account)",
			    why, ephssh_jstr(g->req, "id") ? ephssh_jstr(g->req, "id") : "?",
			    login_as);
		else if (r == EPH_ERR_PRINCIPAL)
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "%s (does the host trust the CA and allow the grant's principals?)",
			    why);
		else
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s", why);
		goto out;
	}

	/* (4) The command or a shell; its exit status is ours. */
	if ((r = sshconn_run(conn, command, &status, why, sizeof(why))) != EPH_OK) {
		rc = ephssh_error(
		    e, r == EPH_ERR_IO ? SSH_EXIT_NO_STATUS : EPHSSH_EXIT_FAIL, "%s", why);
		goto out;
	}
	if (status < 0) {
		rc = ephssh_error(e, SSH_EXIT_NO_STATUS, "%s", why);
		goto out;
	}
	rc = status;
out:
	sshconn_close(conn);
	agent_identities_free(ids, nids);
	agent_close(agent);
	picks_free(picks, npicks);
	capi_result_clear(&res);
	free(command);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_ssh = {"ssh", cmd_ssh, "[OPTIONS] [USER@]HOST [COMMAND...]",
    "log in to HOST with the certificate of your active grant for it (from the ssh-agent)",
    "  -p, --port PORT        connect to PORT (default: ~/.ssh/config's Port, else 22)\n"
    "      --accept-new       trust an unknown host key and add it to ~/.ssh/known_hosts\n"
    "                         (a changed key is always refused)\n"};

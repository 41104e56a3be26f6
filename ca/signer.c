/* The signer process and its parent's side of the channel: the only code
 * that holds the CA private key (protocol and rules in signer.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cert.h"
#include "daemon.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "log.h"
#include "signer.h"
#include "util.h"

#define WHY_MAX 2048 /* longest explanation sent back */
#define MAX_CODE 1000 /* |EPH_ERR_*| on the wire stays below this */

struct signer {
	int fd;
	pid_t pid;
	int dead;
	pthread_mutex_t mu;
};

/* ------------------------------------------------------------ shared */

/* One packet, at most SIGNER_MAX_MSG bytes, into out (reset first).
 * timeout_ms < 0 waits forever. EPH_ERR_NOTFOUND on end of file,
 * EPH_ERR_TOOLARGE for an over-long packet, EPH_ERR_IO otherwise. */
static int
recv_msg(int fd, struct buf *out, int timeout_ms)
{
	struct pollfd p;
	ssize_t n;
	int r;

	buf_reset(out);
	if ((r = buf_reserve(out, SIGNER_MAX_MSG)) != EPH_OK)
		return r;
	for (;;) {
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return EPH_ERR_IO;
		}
		/* MSG_TRUNC: the packet's real length, so an over-long one
		 * is told apart from one that fits exactly. */
		n = recv(fd, out->d, SIGNER_MAX_MSG, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return EPH_ERR_IO;
		if (n == 0)
			return EPH_ERR_NOTFOUND;
		if ((size_t)n > SIGNER_MAX_MSG)
			return EPH_ERR_TOOLARGE;
		out->len = (size_t)n;
		out->off = 0;
		return EPH_OK;
	}
}

static int
send_msg(int fd, const struct buf *b)
{
	ssize_t n;

	if (b->len > SIGNER_MAX_MSG)
		return EPH_ERR_TOOLARGE;
	do
		n = send(fd, b->d, b->len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)b->len ? EPH_OK : EPH_ERR_IO;
}

static int
put_fail(struct buf *b, int code, const char *why)
{
	int r;

	buf_reset(b);
	if (code >= 0 || code <= -MAX_CODE)
		code = EPH_ERR_INVAL;
	if ((r = buf_put_u8(b, SIGNER_REPLY_FAIL)) != EPH_OK ||
	    (r = buf_put_u32(b, (uint32_t)-code)) != EPH_OK)
		return r;
	return buf_put_string(b, why != NULL ? why : "", why != NULL ? strnlen(why, WHY_MAX) : 0);
}

static int
put_strv(struct buf *b, const char *const *v, size_t n)
{
	size_t i;
	int r;

	if (n > UINT32_MAX)
		return EPH_ERR_TOOLARGE;
	if ((r = buf_put_u32(b, (uint32_t)n)) != EPH_OK)
		return r;
	for (i = 0; i < n; i++)
		if ((r = buf_put_cstring(b, v[i])) != EPH_OK)
			return r;
	return EPH_OK;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
get_strv(struct buf *b, char ***out, size_t *nout, size_t maxn, size_t maxlen)
{
	uint32_t n, i;
	char **v;
	int r;

	*out = NULL;
	*nout = 0;
	if ((r = buf_get_u32(b, &n)) != EPH_OK)
		return r;
	if (n > maxn)
		return EPH_ERR_TOOLARGE;
	if (n == 0)
		return EPH_OK;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if ((r = buf_get_cstring(b, &v[i], maxlen)) != EPH_OK) {
			strv_free(v, i);
			return r;
		}
	}
	*out = v;
	*nout = n;
	return EPH_OK;
}

/* v joined with sep, as a new string ("" for none). */
static char *
strv_join(const char *const *v, size_t n, const char *sep)
{
	struct buf b;
	size_t i;
	char *s = NULL;

	buf_init(&b);
	for (i = 0; i < n; i++)
		if ((i > 0 && buf_put(&b, sep, strlen(sep)) != EPH_OK) ||
		    buf_put(&b, v[i], strlen(v[i])) != EPH_OK)
			goto out;
	if (buf_put_u8(&b, 0) != EPH_OK)
		goto out;
	s = strdup((const char *)b.d);
out:
	buf_free(&b);
	return s;
}

int
signer_check_user_key(const char *line, struct key **out, const char **why)
{
	struct key *k = NULL;
	struct buf blob;
	char *type = NULL;
	enum key_type t;
	int r, is_cert = 0;

	if (out != NULL)
		*out = NULL;
	*why = NULL;
	buf_init(&blob);
	if (line == NULL || *line == '\0') {
		*why = "no public key";
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if (strstr(line, "PRIVATE KEY") != NULL) {
		*why = "a private key: send the public key line (the .pub file), never the private "
		       "key";
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = publine_parse(line, &type, &blob, NULL)) != EPH_OK) {
		*why = "not an OpenSSH public key line (type base64 [comment])";
		if (r != EPH_ERR_NOMEM)
			r = EPH_ERR_FORMAT;
		goto out;
	}
	t = key_type_from_name(type, &is_cert);
	if (is_cert) {
		*why = "a certificate: send the plain public key";
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (t == KEY_UNSPEC) {
		*why = strcmp(type, "ssh-dss") == 0
		    ? "a DSA key: DSA is refused (use Ed25519)"
		    : "unsupported key type (accepted: Ed25519, ECDSA, RSA of 2048 bits or "
		      "more, FIDO sk- keys)";
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = key_from_blob(blob.d, blob.len, &k)) != EPH_OK) {
		if (r == EPH_ERR_WEAKKEY || (t == KEY_RSA && r != EPH_ERR_NOMEM)) {
			*why = "an RSA key shorter than 2048 bits, or a malformed RSA key";
			r = EPH_ERR_WEAKKEY;
		} else {
			*why = "the key does not parse (or is a weak EC key)";
		}
		goto out;
	}
	if (k->type == KEY_RSA && key_bits(k) < KEY_RSA_MIN_GEN_BITS) {
		*why = "an RSA key shorter than 2048 bits";
		r = EPH_ERR_WEAKKEY;
		goto out;
	}
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
	r = EPH_OK;
out:
	key_free(k);
	free(type);
	buf_free(&blob);
	return r;
}

/* ------------------------------------------------------------ the child */

struct child {
	const struct ca_conf *cc;
	int fd;
	time_t (*clock)(void);
	struct key *ca;
	char *ca_fp;
	char *lines[2]; /* public key lines: current, next */
	size_t nlines;
	struct policy *policy;
	uint64_t generation;
	uint64_t counter;
	char pid[24];
};

/* One SIGN request as read off the wire. */
struct approval_in {
	char *user;
	uint8_t id;
	uint32_t uid;
	char **groups;
	size_t ngroups;
};

struct sign_in {
	char *id, *task, *requester;
	uint8_t requester_id;
	uint32_t requester_uid;
	char **groups;
	size_t ngroups;
	char **hosts;
	size_t nhosts;
	uint64_t ttl;
	char *reason, *source, *login_as;
	struct approval_in *apps;
	size_t napps;
	char *pubkey;
	uint64_t serial, now;
};

static volatile sig_atomic_t got_hup;

static void
on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void
sign_in_clear(struct sign_in *in)
{
	size_t i;

	free(in->id);
	free(in->task);
	free(in->requester);
	strv_free(in->groups, in->ngroups);
	strv_free(in->hosts, in->nhosts);
	free(in->reason);
	free(in->source);
	free(in->login_as);
	for (i = 0; i < in->napps; i++) {
		free(in->apps[i].user);
		strv_free(in->apps[i].groups, in->apps[i].ngroups);
	}
	free(in->apps);
	free(in->pubkey);
	memset(in, 0, sizeof(*in));
}

static int
sign_in_parse(struct buf *b, struct sign_in *in)
{
	uint32_t n, i;
	int r;

	memset(in, 0, sizeof(*in));
	if ((r = buf_get_cstring(b, &in->id, SIGNER_MAX_NAME)) != EPH_OK ||
	    (r = buf_get_cstring(b, &in->task, SIGNER_MAX_NAME)) != EPH_OK ||
	    (r = buf_get_cstring(b, &in->requester, SIGNER_MAX_NAME)) != EPH_OK ||
	    (r = buf_get_u8(b, &in->requester_id)) != EPH_OK ||
	    (r = buf_get_u32(b, &in->requester_uid)) != EPH_OK ||
	    (r = get_strv(b, &in->groups, &in->ngroups, SIGNER_MAX_GROUPS, SIGNER_MAX_NAME)) !=
	        EPH_OK ||
	    (r = get_strv(b, &in->hosts, &in->nhosts, POLICY_MAX_REQUEST_HOSTS, SIGNER_MAX_NAME)) !=
	        EPH_OK ||
	    (r = buf_get_u64(b, &in->ttl)) != EPH_OK ||
	    (r = buf_get_cstring(b, &in->reason, SIGNER_MAX_FIELD)) != EPH_OK ||
	    (r = buf_get_cstring(b, &in->source, SIGNER_MAX_FIELD)) != EPH_OK ||
	    (r = buf_get_cstring(b, &in->login_as, SIGNER_MAX_NAME)) != EPH_OK ||
	    (r = buf_get_u32(b, &n)) != EPH_OK)
		return r;
	if (in->requester_id > POLICY_ID_UNKNOWN || n > POLICY_MAX_APPROVAL_RECORDS)
		return EPH_ERR_FORMAT;
	if (n > 0 && (in->apps = calloc(n, sizeof(*in->apps))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		struct approval_in *a = &in->apps[i];

		in->napps++;
		if ((r = buf_get_cstring(b, &a->user, SIGNER_MAX_NAME)) != EPH_OK ||
		    (r = buf_get_u8(b, &a->id)) != EPH_OK ||
		    (r = buf_get_u32(b, &a->uid)) != EPH_OK ||
		    (r = get_strv(
		         b, &a->groups, &a->ngroups, SIGNER_MAX_GROUPS, SIGNER_MAX_NAME)) != EPH_OK)
			return r;
		if (a->id > POLICY_ID_UNKNOWN)
			return EPH_ERR_FORMAT;
	}
	if ((r = buf_get_cstring(b, &in->pubkey, SIGNER_MAX_FIELD)) != EPH_OK ||
	    (r = buf_get_u64(b, &in->serial)) != EPH_OK || (r = buf_get_u64(b, &in->now)) != EPH_OK)
		return r;
	return buf_remaining(b) == 0 ? EPH_OK : EPH_ERR_TRAILING;
}

/* A request id that can sit in a key id and a grant: [A-Za-z0-9._-]. */
static int
id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= SIGNER_MAX_ID_LEN &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Why the decision is not "issue", from the policy's own reasons. */
static char *
decision_why(const struct policy_decision *d)
{
	struct buf b;
	char head[128], *s = NULL;
	size_t i;
	int n = 0;

	buf_init(&b);
	if (d->result == POLICY_PENDING)
		snprintf(head, sizeof(head), "the policy says pending (%u of %u approvals)",
		    d->approvals_valid, d->approvals_required);
	else
		snprintf(head, sizeof(head), "the policy says %s", policy_result_name(d->result));
	if (buf_put(&b, head, strlen(head)) != EPH_OK)
		goto out;
	for (i = 0; i < d->nreasons; i++) {
		if (d->reasons[i].kind != POLICY_REASON_DENY)
			continue;
		if (buf_put(&b, n++ == 0 ? ": " : "; ", 2) != EPH_OK ||
		    buf_put(&b, d->reasons[i].text, strlen(d->reasons[i].text)) != EPH_OK)
			goto out;
	}
	if (buf_put_u8(&b, 0) != EPH_OK)
		goto out;
	s = strdup((const char *)b.d);
out:
	buf_free(&b);
	return s;
}

static int
add_grant(struct cert *c, const struct policy_decision *d, const struct sign_in *in)
{
	struct grant g;
	struct buf val;
	size_t i, j, k;
	int r = EPH_ERR_NOMEM;

	memset(&g, 0, sizeof(g));
	buf_init(&val);
	if ((g.id = strdup(in->id)) == NULL || (g.task = strdup(d->task)) == NULL ||
	    (g.requester = strdup(d->requester)) == NULL ||
	    (g.login_as = strdup(d->login_as)) == NULL ||
	    (g.approvers = calloc(GRANT_MAX_APPROVERS, sizeof(char *))) == NULL)
		goto out;
	/* Who counted, once each, in the clauses' order. */
	for (i = 0; i < d->nclauses; i++) {
		for (j = 0; j < d->clauses[i].napprovers; j++) {
			const char *a = d->clauses[i].approvers[j];

			for (k = 0; k < g.napprovers; k++)
				if (strcmp(g.approvers[k], a) == 0)
					break;
			if (k < g.napprovers)
				continue;
			if (g.napprovers == GRANT_MAX_APPROVERS) {
				r = EPH_ERR_TOOLARGE;
				goto out;
			}
			if ((g.approvers[g.napprovers] = strdup(a)) == NULL)
				goto out;
			g.napprovers++;
		}
	}
	g.max_logins = d->max_logins;
	if (in->reason[0] != '\0' && (r = grant_set_reason(&g, in->reason)) != EPH_OK)
		goto out;
	if ((r = grant_encode(&g, &val)) != EPH_OK ||
	    (r = cert_add_extension(c, GRANT_EXTENSION, val.d, val.len)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	grant_clear(&g);
	buf_free(&val);
	return r;
}

/* The certificate the decision describes, signed. */
static int
build_cert(struct child *ch, const struct policy_decision *d, const struct sign_in *in,
    const struct key *user, struct cert **out)
{
	struct cert *c = NULL;
	size_t i;
	int r;

	*out = NULL;
	if ((r = cert_new(&c)) != EPH_OK)
		goto out;
	c->type = CERT_TYPE_USER;
	c->serial = in->serial;
	if (asprintf(&c->key_id, "eph:%s:%s:%s", in->id, d->requester, d->task) < 0) {
		c->key_id = NULL;
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r = cert_set_key(c, user)) != EPH_OK)
		goto out;
	for (i = 0; i < d->nprincipals; i++)
		if ((r = cert_add_principal(c, d->principals[i])) != EPH_OK)
			goto out;
	if (d->force_command != NULL &&
	    (r = cert_add_critical(
	         c, CERT_OPT_FORCE_COMMAND, d->force_command, strlen(d->force_command))) != EPH_OK)
		goto out;
	if (d->source_address != NULL &&
	    (r = cert_add_critical(c, CERT_OPT_SOURCE_ADDRESS, d->source_address,
	         strlen(d->source_address))) != EPH_OK)
		goto out;
	for (i = 0; i < d->nextensions; i++)
		if ((r = cert_add_extension(c, d->extensions[i], NULL, 0)) != EPH_OK)
			goto out;
	if ((r = add_grant(c, d, in)) != EPH_OK)
		goto out;
	c->valid_after = in->now > ch->cc->clock_skew ? in->now - ch->cc->clock_skew : 0;
	c->valid_before = in->now + d->ttl;
	if ((r = cert_sign(c, ch->ca, NULL)) != EPH_OK)
		goto out;
	*out = c;
	c = NULL;
	r = EPH_OK;
out:
	cert_free(c);
	return r;
}

static void
log_refusal(struct child *ch, const struct sign_in *in, int code, const char *why)
{
	char serial[24];
	struct log_field f[] = {
	    {"EPH_GRANT", in->id},
	    {"EPH_SERIAL", serial},
	    {"EPH_TASK", in->task},
	    {"EPH_REQUESTER", in->requester},
	    {"EPH_DECISION", "refused"},
	    {"EPH_REASON", why},
	    {"EPH_SIGNER_PID", ch->pid},
	};

	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)in->serial);
	eph_log(LOG_WARNING, SIGNER_MSGID_REFUSED, f, sizeof(f) / sizeof(f[0]),
	    "signer: refused serial %s for %s task %s: %s (%s)", serial, in->requester, in->task,
	    why != NULL ? why : "", eph_strerror(code));
}

/* The signature's own record; EPH_OK only when it was written. */
static int
log_signature(struct child *ch, const struct policy_decision *d, const struct cert *c,
    const struct sign_in *in, const char *fp)
{
	char serial[24], after[24], before[24], counter[24], ttl[32];
	char *principals, *approvers, *hosts;
	const char **av = NULL;
	size_t i, j, na = 0;
	int r = EPH_ERR_NOMEM;

	for (i = 0; i < d->nclauses; i++)
		na += d->clauses[i].napprovers;
	if (na > 0 && (av = calloc(na, sizeof(*av))) == NULL)
		return EPH_ERR_NOMEM;
	na = 0;
	for (i = 0; i < d->nclauses; i++)
		for (j = 0; j < d->clauses[i].napprovers; j++)
			av[na++] = d->clauses[i].approvers[j];
	principals = strv_join((const char *const *)c->principals, c->nprincipals, ",");
	approvers = strv_join(av, na, ",");
	hosts = strv_join((const char *const *)in->hosts, in->nhosts, ",");
	if (principals == NULL || approvers == NULL || hosts == NULL)
		goto out;
	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)c->serial);
	snprintf(after, sizeof(after), "%llu", (unsigned long long)c->valid_after);
	snprintf(before, sizeof(before), "%llu", (unsigned long long)c->valid_before);
	snprintf(counter, sizeof(counter), "%llu", (unsigned long long)ch->counter);
	format_duration(d->ttl, ttl, sizeof(ttl));
	{
		struct log_field f[] = {
		    {"EPH_GRANT", in->id},
		    {"EPH_SERIAL", serial},
		    {"EPH_KEY_ID", c->key_id},
		    {"EPH_TASK", d->task},
		    {"EPH_REQUESTER", d->requester},
		    {"EPH_APPROVERS", approvers},
		    {"EPH_HOST", hosts},
		    {"EPH_PRINCIPALS", principals},
		    {"EPH_LOGIN_AS", d->login_as},
		    {"EPH_VALID_AFTER", after},
		    {"EPH_VALID_BEFORE", before},
		    {"EPH_FINGERPRINT", fp},
		    {"EPH_CA_FINGERPRINT", ch->ca_fp},
		    {"EPH_SOURCE_ADDRESS", d->source_address},
		    {"EPH_FORCE_COMMAND", d->force_command},
		    {"EPH_BREAK_GLASS", d->break_glass ? "1" : NULL},
		    {"EPH_DECISION", "issue"},
		    {"EPH_SIGNER_COUNTER", counter},
		    {"EPH_SIGNER_PID", ch->pid},
		};

		r = eph_log(d->break_glass ? LOG_ALERT : LOG_NOTICE, SIGNER_MSGID_SIGNED, f,
		    sizeof(f) / sizeof(f[0]),
		    "signer: signed serial %s \"%s\" for %s (%s, %s) key %s, signature %s", serial,
		    c->key_id, principals, d->login_as, ttl, fp, counter);
	}
out:
	free(av);
	free(principals);
	free(approvers);
	free(hosts);
	return r;
}

static int
child_sign(struct child *ch, struct sign_in *in, struct buf *reply)
{
	struct policy_approval *apps = NULL;
	struct policy_request req;
	struct policy_decision d;
	struct key *user = NULL;
	struct cert *c = NULL;
	char *whyd = NULL, *line = NULL, *fp = NULL;
	const char *why = NULL;
	char drift[96];
	time_t own;
	size_t i;
	int r;

	memset(&d, 0, sizeof(d));
	if (!id_ok(in->id)) {
		r = EPH_ERR_INVAL;
		why = "the request id is not 1 to 64 of [A-Za-z0-9._-]";
		goto refuse;
	}
	if (in->serial == 0) {
		r = EPH_ERR_INVAL;
		why = "serial 0";
		goto refuse;
	}
	/* The store's now, so the decision the signer makes is the one
	 * the store recorded; but not one far from the signer's clock,
	 * which would sign a certificate for another time. */
	own = ch->clock();
	if (in->now > (uint64_t)INT64_MAX - SIGNER_MAX_DRIFT ||
	    (int64_t)in->now > (int64_t)own + SIGNER_MAX_DRIFT ||
	    (int64_t)in->now < (int64_t)own - SIGNER_MAX_DRIFT) {
		snprintf(drift, sizeof(drift),
		    "the request's time %llu is more than %d s from the signer's clock %lld",
		    (unsigned long long)in->now, SIGNER_MAX_DRIFT, (long long)own);
		r = EPH_ERR_RANGE;
		why = drift;
		goto refuse;
	}
	if ((r = signer_check_user_key(in->pubkey, &user, &why)) != EPH_OK)
		goto refuse;
	if (in->napps > 0 && (apps = calloc(in->napps, sizeof(*apps))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto refuse;
	}
	for (i = 0; i < in->napps; i++) {
		apps[i].user = in->apps[i].user;
		apps[i].groups = (const char *const *)in->apps[i].groups;
		apps[i].ngroups = in->apps[i].ngroups;
		apps[i].id = (enum policy_identity)in->apps[i].id;
		apps[i].uid = (uid_t)in->apps[i].uid;
	}
	memset(&req, 0, sizeof(req));
	req.requester = in->requester;
	req.groups = (const char *const *)in->groups;
	req.ngroups = in->ngroups;
	req.task = in->task;
	req.hosts = (const char *const *)in->hosts;
	req.nhosts = in->nhosts;
	req.ttl = in->ttl;
	req.reason = in->reason;
	req.source_address = in->source[0] != '\0' ? in->source : NULL;
	req.approvals = apps;
	req.napprovals = in->napps;
	req.ca_max_ttl = ch->cc->max_ttl;
	req.login_as = in->login_as[0] != '\0' ? in->login_as : NULL;
	req.requester_id = (enum policy_identity)in->requester_id;
	req.requester_uid = (uid_t)in->requester_uid;
	if ((r = policy_eval(ch->policy, &req, (time_t)in->now, &d)) != EPH_OK) {
		why = "the policy could not be evaluated";
		goto refuse;
	}
	if (d.result != POLICY_ISSUE) {
		r = EPH_ERR_PERM;
		if ((whyd = decision_why(&d)) == NULL)
			why = "the policy does not say issue";
		goto refuse;
	}
	if (d.ttl == 0 || d.nprincipals == 0 || d.login_as == NULL || *d.login_as == '\0') {
		r = EPH_ERR_PERM;
		why = "the decision names no lifetime, principal or account";
		goto refuse;
	}
	if ((r = build_cert(ch, &d, in, user, &c)) != EPH_OK) {
		why = "the certificate could not be made";
		goto refuse;
	}
	if ((r = key_fingerprint(user, &fp)) != EPH_OK ||
	    (r = cert_format_line(c, NULL, &line)) != EPH_OK) {
		why = "the certificate could not be formatted";
		goto refuse;
	}
	ch->counter++;
	if ((r = log_signature(ch, &d, c, in, fp)) != EPH_OK) {
		r = EPH_ERR_IO;
		why = "the signature could not be logged, so it is not returned";
		goto refuse;
	}
	buf_reset(reply);
	if ((r = buf_put_u8(reply, SIGNER_REPLY_OK)) != EPH_OK ||
	    (r = buf_put_cstring(reply, line)) != EPH_OK ||
	    (r = buf_put_u64(reply, ch->counter)) != EPH_OK) {
		why = "out of memory";
		goto refuse;
	}
	r = EPH_OK;
	goto out;
refuse:
	if (whyd != NULL)
		why = whyd;
	log_refusal(ch, in, r, why);
	r = put_fail(reply, r, why);
out:
	policy_decision_clear(&d);
	free(apps);
	key_free(user);
	cert_free(c);
	free(whyd);
	free(line);
	free(fp);
	return r;
}

/* Load the policy again; a broken one leaves the old in force. */
static int
child_reload(struct child *ch, char **why)
{
	struct policy_errors errs = {NULL, 0};
	struct policy *p = NULL;
	char gen[24];
	size_t i;
	int r;

	if (why != NULL)
		*why = NULL;
	if ((r = policy_load(ch->cc->policy, &p, &errs)) != EPH_OK) {
		for (i = 0; i < errs.n; i++) {
			if (errs.v[i].line > 0)
				eph_log(LOG_ERR, NULL, NULL, 0,
				    "signer: policy not reloaded: %s:%d: %s", errs.v[i].file,
				    errs.v[i].line, errs.v[i].msg);
			else
				eph_log(LOG_ERR, NULL, NULL, 0,
				    "signer: policy not reloaded: %s: %s", errs.v[i].file,
				    errs.v[i].msg);
		}
		if (errs.n == 0)
			eph_log(LOG_ERR, NULL, NULL, 0, "signer: policy %s not reloaded: %s",
			    ch->cc->policy, eph_strerror(r));
		if (why != NULL)
			*why = errs.n != 0 ? policy_errors_format(&errs) : strdup(eph_strerror(r));
		policy_errors_clear(&errs);
		return r;
	}
	policy_free(ch->policy);
	ch->policy = p;
	ch->generation++;
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)ch->generation);
	eph_log(LOG_INFO, NULL, NULL, 0, "signer: policy %s loaded (generation %s)", ch->cc->policy,
	    gen);
	return EPH_OK;
}

/* Answer one request; EPH_ERR_FORMAT (and friends) for a malformed one. */
static int
child_handle(struct child *ch, struct buf *msg, struct buf *reply)
{
	struct sign_in in;
	char *why = NULL;
	uint8_t type;
	int r;

	if ((r = buf_get_u8(msg, &type)) != EPH_OK)
		return r;
	buf_reset(reply);
	switch (type) {
	case SIGNER_MSG_PING:
		if (buf_remaining(msg) != 0)
			return EPH_ERR_TRAILING;
		if ((r = buf_put_u8(reply, SIGNER_REPLY_OK)) != EPH_OK ||
		    (r = buf_put_u64(reply, ch->counter)) != EPH_OK)
			return r;
		return buf_put_u64(reply, ch->generation);
	case SIGNER_MSG_PUBKEY:
		if (buf_remaining(msg) != 0)
			return EPH_ERR_TRAILING;
		if ((r = buf_put_u8(reply, SIGNER_REPLY_OK)) != EPH_OK)
			return r;
		return put_strv(reply, (const char *const *)ch->lines, ch->nlines);
	case SIGNER_MSG_RELOAD:
		if (buf_remaining(msg) != 0)
			return EPH_ERR_TRAILING;
		if ((r = child_reload(ch, &why)) != EPH_OK) {
			r = put_fail(reply, r, why);
			free(why);
			return r;
		}
		if ((r = buf_put_u8(reply, SIGNER_REPLY_OK)) != EPH_OK)
			return r;
		return buf_put_u64(reply, ch->generation);
	case SIGNER_MSG_SIGN:
		if ((r = sign_in_parse(msg, &in)) == EPH_OK)
			r = child_sign(ch, &in, reply);
		sign_in_clear(&in);
		return r;
	default: return EPH_ERR_FORMAT;
	}
}

/* An AF_UNIX datagram socket: syslog's or journald's (see signer.h). */
static int
is_log_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int), sl = sizeof(ss);
	int type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return 0;
	return ss.ss_family == AF_UNIX;
}

static void
close_other_fds(int keep)
{
	struct dirent *e;
	DIR *d;
	long max, fd;
	char *end;

	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((e = readdir(d)) != NULL) {
			fd = strtol(e->d_name, &end, 10);
			if (*end != '\0' || e->d_name[0] == '\0' || fd <= 2 || fd == keep ||
			    fd == dirfd(d) || is_log_socket((int)fd))
				continue;
			close((int)fd);
		}
		closedir(d);
		return;
	}
	if ((max = sysconf(_SC_OPEN_MAX)) < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != keep && !is_log_socket((int)fd))
			close((int)fd);
}

static time_t
clock_now(void)
{
	return time(NULL);
}

/* Load the keys and the policy; *why on failure. */
static int
child_load(struct child *ch, char **why)
{
	struct policy_errors errs = {NULL, 0};
	struct key *next = NULL;
	const char *what = "ca_key", *path = ch->cc->ca_key;
	int r;

	if ((r = key_load_private(ch->cc->ca_key, &ch->ca)) != EPH_OK)
		goto keyfail;
	if ((r = key_fingerprint(ch->ca, &ch->ca_fp)) != EPH_OK ||
	    (r = key_format_public_line(ch->ca, NULL, &ch->lines[0])) != EPH_OK)
		goto keyfail;
	ch->nlines = 1;
	if (ch->cc->ca_key_next != NULL) {
		what = "ca_key_next";
		path = ch->cc->ca_key_next;
		if ((r = key_load_private(ch->cc->ca_key_next, &next)) != EPH_OK ||
		    (r = key_format_public_line(next, NULL, &ch->lines[1])) != EPH_OK)
			goto keyfail;
		/* Only its public half is needed until it becomes ca_key. */
		key_free(next);
		next = NULL;
		ch->nlines = 2;
	}
	if ((r = policy_load(ch->cc->policy, &ch->policy, &errs)) != EPH_OK) {
		if (errs.n != 0)
			*why = policy_errors_format(&errs);
		else if (asprintf(why, "policy %s: %s", ch->cc->policy,
		             r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r)) < 0)
			*why = NULL;
		policy_errors_clear(&errs);
		return r;
	}
	ch->generation = 1;
	return EPH_OK;
keyfail:
	if (asprintf(why, "%s %s: %s", what, path,
	        r == EPH_ERR_IO ? strerror(errno) : eph_strerror(r)) < 0)
		*why = NULL;
	key_free(next);
	return r;
}

static void
child_free(struct child *ch)
{
	key_free(ch->ca);
	free(ch->ca_fp);
	free(ch->lines[0]);
	free(ch->lines[1]);
	policy_free(ch->policy);
}

static void __attribute__((noreturn))
child_main(const struct ca_conf *cc, int fd, const struct signer_options *opts)
{
	struct child ch;
	struct sigaction sa;
	struct buf msg, reply;
	struct pollfd p;
	sigset_t block, none;
	char *why = NULL;
	int r, devnull, status = SIGNER_EXIT_OK;

	memset(&ch, 0, sizeof(ch));
	ch.cc = cc;
	ch.fd = fd;
	ch.clock = opts != NULL && opts->clock != NULL ? opts->clock : clock_now;
	snprintf(ch.pid, sizeof(ch.pid), "%ld", (long)getpid());
	buf_init(&msg);
	buf_init(&reply);

	/* No ptrace by the network side's uid, no core file with the key. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Its life is its parent's: it ends when the network side closes
	 * the socket (signer_stop) or dies (SIGKILL, below). A SIGINT or
	 * SIGTERM to the whole group (Ctrl-C; systemd stopping the unit's
	 * cgroup) is the network side's to act on: had the signer died of
	 * it first, the network side would see it gone and fail the stop. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&none);
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		dup2(devnull, 0);
		if (devnull != 0)
			close(devnull);
	}
	close_other_fds(fd);

	/* With the key in memory, root needs no capability for the rest of
	 * its life: a reload reads the policy as its owner or as others. */
	if ((r = child_load(&ch, &why)) == EPH_OK && (r = daemon_drop_capabilities()) != EPH_OK &&
	    (why = strdup("cannot give up its capabilities")) == NULL)
		r = EPH_ERR_NOMEM;
	if (r != EPH_OK) {
		eph_log(LOG_ERR, NULL, NULL, 0, "signer: cannot start: %s", why != NULL ? why : "");
		if (put_fail(&reply, r, why) == EPH_OK)
			send_msg(fd, &reply);
		free(why);
		status = SIGNER_EXIT_START;
		goto out;
	}
	{
		struct log_field f[] = {
		    {"EPH_CA_FINGERPRINT", ch.ca_fp},
		    {"EPH_SIGNER_PID", ch.pid},
		};

		eph_log(LOG_INFO, SIGNER_MSGID_STARTED, f, 2,
		    "signer: started with CA key %s; signatures count from 1", ch.ca_fp);
	}
	if (buf_put_u8(&reply, SIGNER_REPLY_OK) != EPH_OK ||
	    buf_put_cstring(&reply, ch.ca_fp) != EPH_OK || send_msg(fd, &reply) != EPH_OK)
		goto out;
	for (;;) {
		if (got_hup) {
			got_hup = 0;
			child_reload(&ch, NULL);
		}
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		/* SIGHUP is let in only while waiting, so none is lost. */
		if ((r = ppoll(&p, 1, NULL, &none)) < 0) {
			if (errno == EINTR)
				continue;
			status = SIGNER_EXIT_START;
			goto out;
		}
		r = recv_msg(fd, &msg, 0);
		if (r == EPH_ERR_NOTFOUND)
			goto out; /* the parent is done */
		if (r == EPH_ERR_IO && (errno == EAGAIN || errno == ETIMEDOUT))
			continue;
		if (r == EPH_OK)
			r = child_handle(&ch, &msg, &reply);
		if (r == EPH_OK)
			r = send_msg(fd, &reply) == EPH_OK ? EPH_OK : EPH_ERR_NOTFOUND;
		if (r == EPH_ERR_NOTFOUND)
			goto out;
		if (r != EPH_OK) {
			eph_log(LOG_ERR, SIGNER_MSGID_PROTOCOL, NULL, 0,
			    "signer: malformed request (%s); closing the channel and exiting",
			    eph_strerror(r));
			status = SIGNER_EXIT_PROTOCOL;
			goto out;
		}
	}
out:
	close(fd);
	buf_free(&msg);
	buf_free(&reply);
	child_free(&ch);
	_exit(status);
}

/* ------------------------------------------------------------ the parent */

/* Send req, read the answer; a broken channel marks the signer dead.
 * Returns EPH_OK with reply positioned after an OK byte, the signer's
 * code with *why for a FAIL, EPH_ERR_IO for the channel. */
static int
transact(struct signer *s, const struct buf *req, struct buf *reply, char **why)
{
	char *text = NULL;
	uint8_t st;
	uint32_t code;
	int r;

	if (why != NULL)
		*why = NULL;
	if (s->dead)
		return EPH_ERR_IO;
	if ((r = req == NULL ? EPH_OK : send_msg(s->fd, req)) != EPH_OK ||
	    (r = recv_msg(s->fd, reply, SIGNER_TIMEOUT_MS)) != EPH_OK ||
	    (r = buf_get_u8(reply, &st)) != EPH_OK) {
		s->dead = 1;
		return r == EPH_ERR_NOMEM ? r : EPH_ERR_IO;
	}
	if (st == SIGNER_REPLY_OK)
		return EPH_OK;
	if (st != SIGNER_REPLY_FAIL || buf_get_u32(reply, &code) != EPH_OK || code == 0 ||
	    code >= MAX_CODE || buf_get_cstring(reply, &text, WHY_MAX) != EPH_OK ||
	    buf_remaining(reply) != 0) {
		free(text);
		s->dead = 1;
		return EPH_ERR_IO;
	}
	if (why != NULL && *text != '\0')
		*why = text;
	else
		free(text);
	return -(int)code;
}

int
signer_start(
    const struct ca_conf *cc, const struct signer_options *opts, struct signer **out, char **why)
{
	struct signer *s = NULL;
	struct buf reply;
	char *fp = NULL;
	int sv[2] = {-1, -1}, r;

	*out = NULL;
	if (why != NULL)
		*why = NULL;
	buf_init(&reply);
	if (cc == NULL || cc->ca_key == NULL || cc->policy == NULL)
		return EPH_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return EPH_ERR_NOMEM;
	s->fd = -1;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return EPH_ERR_NOMEM;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	fflush(NULL);
	if ((s->pid = fork()) < 0) {
		r = EPH_ERR_IO;
		goto out;
	}
	if (s->pid == 0) {
		close(sv[0]);
		child_main(cc, sv[1], opts);
	}
	close(sv[1]);
	sv[1] = -1;
	s->fd = sv[0];
	sv[0] = -1;
	if ((r = transact(s, NULL, &reply, why)) != EPH_OK)
		goto out;
	if ((r = buf_get_cstring(&reply, &fp, SIGNER_MAX_NAME)) != EPH_OK) {
		r = EPH_ERR_IO;
		goto out;
	}
	*out = s;
	s = NULL;
	r = EPH_OK;
out:
	if (s != NULL) {
		if (s->pid > 0) {
			signer_stop(s, SIGNER_TIMEOUT_MS, NULL);
		} else {
			if (s->fd >= 0)
				close(s->fd);
			pthread_mutex_destroy(&s->mu);
			free(s);
		}
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(fp);
	buf_free(&reply);
	return r;
}

void
signer_result_clear(struct signer_result *res)
{
	if (res == NULL)
		return;
	free(res->certificate);
	free(res->why);
	memset(res, 0, sizeof(*res));
}

static int
put_request(struct buf *b, const struct signer_request *q)
{
	size_t i;
	int r;

	if ((r = buf_put_u8(b, SIGNER_MSG_SIGN)) != EPH_OK ||
	    (r = buf_put_cstring(b, q->id)) != EPH_OK ||
	    (r = buf_put_cstring(b, q->task)) != EPH_OK ||
	    (r = buf_put_cstring(b, q->requester)) != EPH_OK ||
	    (r = buf_put_u8(b, (uint8_t)q->requester_id)) != EPH_OK ||
	    (r = buf_put_u32(b, (uint32_t)q->requester_uid)) != EPH_OK ||
	    (r = put_strv(b, q->groups, q->ngroups)) != EPH_OK ||
	    (r = put_strv(b, q->hosts, q->nhosts)) != EPH_OK ||
	    (r = buf_put_u64(b, q->ttl)) != EPH_OK ||
	    (r = buf_put_cstring(b, q->reason != NULL ? q->reason : "")) != EPH_OK ||
	    (r = buf_put_cstring(b, q->source_address != NULL ? q->source_address : "")) !=
	        EPH_OK ||
	    (r = buf_put_cstring(b, q->login_as != NULL ? q->login_as : "")) != EPH_OK ||
	    (r = buf_put_u32(b, (uint32_t)q->napprovals)) != EPH_OK)
		return r;
	for (i = 0; i < q->napprovals; i++) {
		const struct policy_approval *a = &q->approvals[i];

		if ((r = buf_put_cstring(b, a->user)) != EPH_OK ||
		    (r = buf_put_u8(b, (uint8_t)a->id)) != EPH_OK ||
		    (r = buf_put_u32(b, (uint32_t)a->uid)) != EPH_OK ||
		    (r = put_strv(b, a->groups, a->ngroups)) != EPH_OK)
			return r;
	}
	if ((r = buf_put_cstring(b, q->public_key)) != EPH_OK ||
	    (r = buf_put_u64(b, q->serial)) != EPH_OK || (r = buf_put_u64(b, q->now)) != EPH_OK)
		return r;
	return EPH_OK;
}

/* Would the signer read this as a well-formed request? Checked here so
 * that a caller's mistake is an error, not the end of the signer. */
static int
request_fits(const struct signer_request *q)
{
	size_t i, j;

	if (q->id == NULL || q->task == NULL || q->requester == NULL || q->public_key == NULL ||
	    (q->nhosts > 0 && q->hosts == NULL) || (q->ngroups > 0 && q->groups == NULL) ||
	    (q->napprovals > 0 && q->approvals == NULL))
		return 0;
	if (strlen(q->id) > SIGNER_MAX_NAME || strlen(q->task) > SIGNER_MAX_NAME ||
	    strlen(q->requester) > SIGNER_MAX_NAME || strlen(q->public_key) > SIGNER_MAX_FIELD ||
	    (q->reason != NULL && strlen(q->reason) > SIGNER_MAX_FIELD) ||
	    (q->source_address != NULL && strlen(q->source_address) > SIGNER_MAX_FIELD) ||
	    (q->login_as != NULL && strlen(q->login_as) > SIGNER_MAX_NAME) ||
	    q->requester_id > POLICY_ID_UNKNOWN || q->ngroups > SIGNER_MAX_GROUPS ||
	    q->nhosts > POLICY_MAX_REQUEST_HOSTS || q->napprovals > POLICY_MAX_APPROVAL_RECORDS)
		return 0;
	for (i = 0; i < q->ngroups; i++)
		if (q->groups[i] == NULL || strlen(q->groups[i]) > SIGNER_MAX_NAME)
			return 0;
	for (i = 0; i < q->nhosts; i++)
		if (q->hosts[i] == NULL || strlen(q->hosts[i]) > SIGNER_MAX_NAME)
			return 0;
	for (i = 0; i < q->napprovals; i++) {
		const struct policy_approval *a = &q->approvals[i];

		if (a->user == NULL || strlen(a->user) > SIGNER_MAX_NAME ||
		    a->id > POLICY_ID_UNKNOWN || a->ngroups > SIGNER_MAX_GROUPS ||
		    (a->ngroups > 0 && a->groups == NULL))
			return 0;
		for (j = 0; j < a->ngroups; j++)
			if (a->groups[j] == NULL || strlen(a->groups[j]) > SIGNER_MAX_NAME)
				return 0;
	}
	return 1;
}

int
signer_sign(struct signer *s, const struct signer_request *q, struct signer_result *res)
{
	struct buf req, reply;
	uint64_t counter;
	char *line = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	if (s == NULL || q == NULL || !request_fits(q))
		return EPH_ERR_INVAL;
	buf_init(&req);
	buf_init(&reply);
	if ((r = put_request(&req, q)) != EPH_OK)
		goto out;
	if (req.len > SIGNER_MAX_MSG) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	pthread_mutex_lock(&s->mu);
	r = transact(s, &req, &reply, &res->why);
	pthread_mutex_unlock(&s->mu);
	if (r != EPH_OK)
		goto out;
	if (buf_get_cstring(&reply, &line, SIGNER_MAX_MSG) != EPH_OK ||
	    buf_get_u64(&reply, &counter) != EPH_OK || buf_remaining(&reply) != 0) {
		s->dead = 1;
		r = EPH_ERR_IO;
		goto out;
	}
	res->certificate = line;
	line = NULL;
	res->counter = counter;
	r = EPH_OK;
out:
	free(line);
	buf_free(&req);
	buf_free(&reply);
	return r;
}

/* A request with no fields; reply left after the OK byte. */
static int
simple(struct signer *s, uint8_t type, struct buf *reply, char **why)
{
	struct buf req;
	int r;

	buf_init(&req);
	if ((r = buf_put_u8(&req, type)) == EPH_OK) {
		pthread_mutex_lock(&s->mu);
		r = transact(s, &req, reply, why);
		pthread_mutex_unlock(&s->mu);
	}
	buf_free(&req);
	return r;
}

int
signer_pubkeys(struct signer *s, char ***lines, size_t *n)
{
	struct buf reply;
	int r;

	*lines = NULL;
	*n = 0;
	buf_init(&reply);
	if ((r = simple(s, SIGNER_MSG_PUBKEY, &reply, NULL)) != EPH_OK)
		goto out;
	if (get_strv(&reply, lines, n, 2, SIGNER_MAX_FIELD) != EPH_OK || *n == 0 ||
	    buf_remaining(&reply) != 0) {
		strv_free(*lines, *n);
		*lines = NULL;
		*n = 0;
		s->dead = 1;
		r = EPH_ERR_IO;
	}
out:
	buf_free(&reply);
	return r;
}

int
signer_ping(struct signer *s, uint64_t *signatures, uint64_t *generation)
{
	struct buf reply;
	uint64_t a, b;
	int r;

	buf_init(&reply);
	if ((r = simple(s, SIGNER_MSG_PING, &reply, NULL)) != EPH_OK)
		goto out;
	if (buf_get_u64(&reply, &a) != EPH_OK || buf_get_u64(&reply, &b) != EPH_OK ||
	    buf_remaining(&reply) != 0) {
		s->dead = 1;
		r = EPH_ERR_IO;
		goto out;
	}
	if (signatures != NULL)
		*signatures = a;
	if (generation != NULL)
		*generation = b;
out:
	buf_free(&reply);
	return r;
}

int
signer_reload(struct signer *s, char **why)
{
	struct buf reply;
	uint64_t gen;
	int r;

	buf_init(&reply);
	if ((r = simple(s, SIGNER_MSG_RELOAD, &reply, why)) == EPH_OK &&
	    (buf_get_u64(&reply, &gen) != EPH_OK || buf_remaining(&reply) != 0)) {
		s->dead = 1;
		r = EPH_ERR_IO;
	}
	buf_free(&reply);
	return r;
}

int
signer_alive(const struct signer *s)
{
	return s != NULL && !s->dead;
}

pid_t
signer_pid(const struct signer *s)
{
	return s->pid;
}

int
signer_fd(const struct signer *s)
{
	return s->fd;
}

int
signer_stop(struct signer *s, int timeout_ms, int *status)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	int st = 0, waited = 0, r = EPH_OK;
	pid_t w;

	if (status != NULL)
		*status = 0;
	if (s == NULL)
		return EPH_OK;
	if (s->fd >= 0)
		close(s->fd);
	for (;;) {
		w = waitpid(s->pid, &st, timeout_ms < 0 ? 0 : WNOHANG);
		if (w == s->pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && waited >= timeout_ms) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
				;
			r = EPH_ERR_IO;
			break;
		}
		if (w == 0) {
			nanosleep(&ts, NULL);
			waited += 10;
		}
	}
	if (status != NULL)
		*status = st;
	pthread_mutex_destroy(&s->mu);
	free(s);
	return r;
}

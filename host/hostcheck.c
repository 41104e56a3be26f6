/*
 * The host's certificate check, step by step in the order sshd itself
 * trusts a certificate (parse and signature, type, CA, validity, KRL),
 * then what only ephssh knows: the grant, this host's accepted tasks and
 * the grant's local account.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "fileio.h"
#include "grant.h"
#include "hostcheck.h"
#include "key.h"
#include "krl.h"

/* The base64 text of the largest certificate cert_parse reads. */
#define HOSTCHECK_B64_MAX (((size_t)CERT_MAX_SIZE + 2) / 3 * 4)

static const char *const decision_names[] = {
    [HOSTCHECK_OK] = "ok",
    [HOSTCHECK_MALFORMED] = "malformed",
    [HOSTCHECK_BAD_SIGNATURE] = "bad_signature",
    [HOSTCHECK_NOT_USER_CERT] = "not_user_cert",
    [HOSTCHECK_CA_KEYS_UNREADABLE] = "ca_keys_unreadable",
    [HOSTCHECK_WRONG_CA] = "wrong_ca",
    [HOSTCHECK_NOT_YET_VALID] = "not_yet_valid",
    [HOSTCHECK_EXPIRED] = "expired",
    [HOSTCHECK_KRL_UNREADABLE] = "krl_unreadable",
    [HOSTCHECK_REVOKED] = "revoked",
    [HOSTCHECK_NO_GRANT] = "no_grant",
    [HOSTCHECK_BAD_GRANT] = "bad_grant",
    [HOSTCHECK_TASK_NOT_ACCEPTED] = "task_not_accepted",
    [HOSTCHECK_WRONG_HOST] = "wrong_host",
    [HOSTCHECK_LOGIN_AS_MISMATCH] = "login_as_mismatch",
    [HOSTCHECK_USER_NOT_ACCEPTED] = "user_not_accepted",
    [HOSTCHECK_SYSTEM] = "system_error",
};

/* What the person logging in is told: no paths, keys or host.conf. */
static const char *const user_messages[] = {
    [HOSTCHECK_OK] = "certificate accepted",
    [HOSTCHECK_MALFORMED] = "the certificate could not be read",
    [HOSTCHECK_BAD_SIGNATURE] = "the certificate's signature is not valid",
    [HOSTCHECK_NOT_USER_CERT] = "this is not a user certificate",
    [HOSTCHECK_CA_KEYS_UNREADABLE] = "this host cannot check certificates at the moment",
    [HOSTCHECK_WRONG_CA] = "the certificate is not from a CA this host trusts",
    [HOSTCHECK_NOT_YET_VALID] = "the certificate is not valid yet",
    [HOSTCHECK_EXPIRED] = "the certificate has expired",
    [HOSTCHECK_KRL_UNREADABLE] = "this host cannot check certificates at the moment",
    [HOSTCHECK_REVOKED] = "the certificate has been revoked",
    [HOSTCHECK_NO_GRANT] = "the certificate carries no ephssh grant",
    [HOSTCHECK_BAD_GRANT] = "the certificate's ephssh grant could not be read",
    [HOSTCHECK_TASK_NOT_ACCEPTED] = "this host does not accept the grant's task",
    [HOSTCHECK_WRONG_HOST] = "the grant is not for this host",
    [HOSTCHECK_LOGIN_AS_MISMATCH] = "the grant is for another account",
    [HOSTCHECK_USER_NOT_ACCEPTED] = "this host does not accept the grant's task for this account",
    [HOSTCHECK_SYSTEM] = "this host cannot check certificates at the moment",
};

#define NDECISIONS (sizeof(decision_names) / sizeof(decision_names[0]))

const char *
hostcheck_decision_name(enum hostcheck_decision d)
{
	if ((unsigned)d >= NDECISIONS || decision_names[d] == NULL)
		return "unknown";
	return decision_names[d];
}

const char *
hostcheck_user_message(enum hostcheck_decision d)
{
	if ((unsigned)d >= NDECISIONS || user_messages[d] == NULL)
		return "access denied";
	return user_messages[d];
}

void
hostcheck_result_clear(struct hostcheck_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	free(res->key_id);
	free(res->ca_fingerprint);
	grant_clear(&res->grant);
	free(res->approvers);
	for (i = 0; i < res->nprincipals; i++)
		free(res->principals[i]);
	free(res->principals);
	memset(res, 0, sizeof(*res));
	res->decision = HOSTCHECK_SYSTEM;
}

/* Record a refusal (or a system failure) with its log detail. */
static enum hostcheck_decision refuse(struct hostcheck_result *res, enum hostcheck_decision d,
    int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum hostcheck_decision
refuse(struct hostcheck_result *res, enum hostcheck_decision d, int err, const char *fmt, ...)
{
	va_list ap;

	res->decision = d;
	res->err = err;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	return d;
}

static void
format_time(uint64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt;

	if (t == CERT_FOREVER || t > (uint64_t)INT32_MAX * 64) {
		snprintf(out, len, "forever");
		return;
	}
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%llu", (unsigned long long)t);
}

/* Why a file could not be used: the errno for I/O, else our reason. */
static const char *
file_problem(int err)
{
	return err == EPH_ERR_IO ? strerror(errno) : eph_strerror(err);
}

/*
 * Is the certificate's CA key one of the lines of trusted_ca_keys (the
 * format of sshd's TrustedUserCAKeys: one public key per line, blank and
 * '#' lines ignored; several keys while the CA rotates)? Lines are
 * compared as public blobs, so no key is built for them. A line that does
 * not parse matches nothing; a file without a single key is unreadable.
 */
static enum hostcheck_decision
check_ca(const struct host_conf *hc, const struct cert *c, struct hostcheck_result *res)
{
	struct buf file, ca, line;
	const char *p, *nl, *end;
	char *text, *type = NULL;
	size_t nkeys = 0, nbad = 0;
	int r, found = 0;
	enum hostcheck_decision d = HOSTCHECK_SYSTEM;

	buf_init(&file);
	buf_init(&ca);
	buf_init(&line);
	if (hc->trusted_ca_keys == NULL) {
		d = refuse(res, HOSTCHECK_CA_KEYS_UNREADABLE, EPH_ERR_INVAL,
		    "host.conf names no trusted_ca_keys");
		goto out;
	}
	if ((r = file_read_all(hc->trusted_ca_keys, HOSTCHECK_CA_KEYS_MAX, FILE_CHECK_TRUSTED,
	         &file)) != EPH_OK) {
		d = refuse(res, HOSTCHECK_CA_KEYS_UNREADABLE, r, "trusted_ca_keys %s: %s",
		    hc->trusted_ca_keys, file_problem(r));
		goto out;
	}
	if ((r = key_put_public(c->signature_key, &ca)) != EPH_OK ||
	    (r = buf_put_u8(&file, 0)) != EPH_OK) {
		d = refuse(res, HOSTCHECK_SYSTEM, r, "%s", eph_strerror(r));
		goto out;
	}
	text = (char *)file.d;
	end = text + file.len - 1;
	if (memchr(text, '\0', file.len - 1) != NULL) {
		d = refuse(res, HOSTCHECK_CA_KEYS_UNREADABLE, EPH_ERR_FORMAT,
		    "trusted_ca_keys %s: not a text file", hc->trusted_ca_keys);
		goto out;
	}
	for (p = text; p < end && !found; p = nl + 1) {
		const char *s;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (s = p; s < nl && (*s == ' ' || *s == '\t'); s++)
			;
		if (s == nl || *s == '#' || (*s == '\r' && s + 1 == nl))
			continue;
		buf_reset(&line);
		if ((r = buf_put(&line, s, (size_t)(nl - s))) != EPH_OK ||
		    (r = buf_put_u8(&line, 0)) != EPH_OK) {
			d = refuse(res, HOSTCHECK_SYSTEM, r, "%s", eph_strerror(r));
			goto out;
		}
		{
			struct buf blob;

			buf_init(&blob);
			r = publine_parse((const char *)line.d, &type, &blob, NULL);
			free(type);
			type = NULL;
			if (r == EPH_OK) {
				nkeys++;
				found = blob.len == ca.len && memcmp(blob.d, ca.d, ca.len) == 0;
			} else {
				nbad++;
			}
			buf_free(&blob);
		}
	}
	if (found) {
		d = HOSTCHECK_OK;
		goto out;
	}
	if (nkeys == 0)
		d = refuse(res, HOSTCHECK_CA_KEYS_UNREADABLE, EPH_ERR_NOTFOUND,
		    "trusted_ca_keys %s: no public key in it (%zu unreadable lines)",
		    hc->trusted_ca_keys, nbad);
	else
		d = refuse(res, HOSTCHECK_WRONG_CA, EPH_ERR_CA_MISMATCH,
		    "signed by CA %s, which is not in trusted_ca_keys %s (%zu keys, %zu "
		    "unreadable lines)",
		    res->ca_fingerprint, hc->trusted_ca_keys, nkeys, nbad);
out:
	buf_free(&file);
	buf_free(&ca);
	buf_free(&line);
	return d;
}

static enum hostcheck_decision
check_krl(const struct host_conf *hc, const struct cert *c, struct hostcheck_result *res)
{
	struct krl *k = NULL;
	enum hostcheck_decision d;
	int r;

	if (hc->revoked_keys == NULL)
		return refuse(res, HOSTCHECK_KRL_UNREADABLE, EPH_ERR_INVAL,
		    "host.conf names no revoked_keys");
	/* sshd refuses every certificate when its RevokedKeys is unusable;
	 * so does the host side, whatever the reason. */
	if ((r = krl_load(hc->revoked_keys, &k)) != EPH_OK)
		return refuse(res, HOSTCHECK_KRL_UNREADABLE, r, "revoked_keys %s: %s",
		    hc->revoked_keys, file_problem(r));
	r = krl_check_cert(k, c);
	if (r == EPH_OK)
		d = HOSTCHECK_OK;
	else if (r == EPH_ERR_REVOKED)
		d = refuse(res, HOSTCHECK_REVOKED, r,
		    "serial %llu (key id \"%s\") is revoked by %s", (unsigned long long)c->serial,
		    c->key_id, hc->revoked_keys);
	else
		d = refuse(res, HOSTCHECK_KRL_UNREADABLE, r, "revoked_keys %s: %s",
		    hc->revoked_keys, eph_strerror(r));
	krl_free(k);
	return d;
}

static const struct host_accept *
find_accept(const struct host_conf *hc, const char *task)
{
	size_t i;

	for (i = 0; i < hc->naccept; i++)
		if (hc->accept[i].task != NULL && strcmp(hc->accept[i].task, task) == 0)
			return &hc->accept[i];
	return NULL;
}

/* Does the certificate name this host (one of its names or groups) for
 * the grant's task? The same principals host_principals_for prints. */
static int
names_this_host(const struct host_conf *hc, const struct cert *c, const char *task)
{
	size_t i, j, tlen = strlen(task);

	for (i = 0; i < c->nprincipals; i++) {
		const char *p = c->principals[i], *at;

		if (strncmp(p, "eph:", 4) != 0 || strncmp(p + 4, task, tlen) != 0 ||
		    p[4 + tlen] != '@')
			continue;
		at = p + 4 + tlen + 1;
		for (j = 0; j < hc->nnames; j++)
			if (strcmp(at, hc->names[j]) == 0)
				return 1;
		if (strncmp(at, "group:", 6) == 0)
			for (j = 0; j < hc->ngroups; j++)
				if (strcmp(at + 6, hc->groups[j]) == 0)
					return 1;
	}
	return 0;
}

static int
join_approvers(const struct grant *g, char **out)
{
	struct buf b;
	size_t i;
	int r = EPH_OK;

	buf_init(&b);
	for (i = 0; i < g->napprovers && r == EPH_OK; i++) {
		if (i > 0)
			r = buf_put(&b, ",", 1);
		if (r == EPH_OK)
			r = buf_put(&b, g->approvers[i], strlen(g->approvers[i]));
	}
	if (r == EPH_OK)
		r = buf_put_u8(&b, 0);
	if (r == EPH_OK && (*out = strdup((const char *)b.d)) == NULL)
		r = EPH_ERR_NOMEM;
	buf_free(&b);
	return r;
}

/* The grant and what this host accepts of it. */
static enum hostcheck_decision
check_grant(const struct hostcheck_request *req, const struct cert *c, struct hostcheck_result *res)
{
	const struct host_conf *hc = req->hc;
	const struct host_accept *a;
	const struct cert_opt *o;
	const uint8_t *p;
	size_t n, i;
	int r;

	if ((o = cert_find_extension(c, GRANT_EXTENSION)) == NULL)
		return refuse(res, HOSTCHECK_NO_GRANT, EPH_ERR_NOTFOUND,
		    "serial %llu (key id \"%s\") has no %s extension",
		    (unsigned long long)c->serial, c->key_id, GRANT_EXTENSION);
	if ((r = cert_opt_value(o, &p, &n)) != EPH_OK ||
	    (r = grant_decode(p, n, &res->grant)) != EPH_OK)
		return refuse(res, r == EPH_ERR_NOMEM ? HOSTCHECK_SYSTEM : HOSTCHECK_BAD_GRANT, r,
		    "serial %llu: %s extension: %s", (unsigned long long)c->serial, GRANT_EXTENSION,
		    eph_strerror(r));
	res->has_grant = 1;
	if ((r = join_approvers(&res->grant, &res->approvers)) != EPH_OK)
		return refuse(res, HOSTCHECK_SYSTEM, r, "%s", eph_strerror(r));

	if ((a = find_accept(hc, res->grant.task)) == NULL)
		return refuse(res, HOSTCHECK_TASK_NOT_ACCEPTED, EPH_ERR_FORBIDDEN,
		    "grant %s: task '%s' is not accepted by %s", res->grant.id, res->grant.task,
		    hc->file);
	if (!names_this_host(hc, c, res->grant.task))
		return refuse(res, HOSTCHECK_WRONG_HOST, EPH_ERR_PRINCIPAL,
		    "grant %s: its principals (%.100s%s) name no eph:%s@ this host (%.64s) or its "
		    "groups",
		    res->grant.id, c->nprincipals > 0 ? c->principals[0] : "none",
		    c->nprincipals > 1 ? ", ..." : "", res->grant.task,
		    hc->nnames > 0 ? hc->names[0] : "?");
	if (strcmp(res->grant.login_as, req->user) != 0)
		return refuse(res, HOSTCHECK_LOGIN_AS_MISMATCH, EPH_ERR_FORBIDDEN,
		    "grant %s: login_as '%s', not the local account '%s'", res->grant.id,
		    res->grant.login_as, req->user);
	for (i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i], req->user) == 0)
			return HOSTCHECK_OK;
	return refuse(res, HOSTCHECK_USER_NOT_ACCEPTED, EPH_ERR_FORBIDDEN,
	    "grant %s: %s accepts task '%s' for other accounts than '%s' (line %d)", res->grant.id,
	    hc->file, res->grant.task, req->user, a->line);
}

enum hostcheck_decision
hostcheck_cert(const struct hostcheck_request *req, struct hostcheck_result *res)
{
	struct cert *c = NULL;
	struct buf blob;
	char after[32], before[32], nowtext[32];
	const char *type;
	size_t len;
	int r;
	enum hostcheck_decision d;

	buf_init(&blob);
	if (res == NULL)
		return HOSTCHECK_SYSTEM;
	memset(res, 0, sizeof(*res));
	res->decision = HOSTCHECK_SYSTEM;
	if (req == NULL || req->hc == NULL || req->user == NULL || req->cert_b64 == NULL) {
		d = refuse(
		    res, HOSTCHECK_SYSTEM, EPH_ERR_INVAL, "hostcheck_cert: missing argument");
		goto out;
	}
	if ((len = strnlen(req->cert_b64, HOSTCHECK_B64_MAX + 1)) > HOSTCHECK_B64_MAX) {
		d = refuse(res, HOSTCHECK_MALFORMED, EPH_ERR_TOOLARGE, "certificate over %zu bytes",
		    HOSTCHECK_B64_MAX);
		goto out;
	}
	if ((r = b64_decode(req->cert_b64, len, &blob)) != EPH_OK) {
		d = refuse(res, r == EPH_ERR_NOMEM ? HOSTCHECK_SYSTEM : HOSTCHECK_MALFORMED, r,
		    "certificate: base64: %s", eph_strerror(r));
		goto out;
	}
	if ((r = cert_parse(blob.d, blob.len, &c)) != EPH_OK) {
		if (r == EPH_ERR_SIGNATURE)
			d = refuse(res, HOSTCHECK_BAD_SIGNATURE, r,
			    "certificate: its CA signature does not verify");
		else
			d = refuse(res, r == EPH_ERR_NOMEM ? HOSTCHECK_SYSTEM : HOSTCHECK_MALFORMED,
			    r, "certificate: %s", eph_strerror(r));
		goto out;
	}
	type = key_cert_type_name(c->key->type);
	if (req->cert_type != NULL && (type == NULL || strcmp(req->cert_type, type) != 0)) {
		d = refuse(res, HOSTCHECK_MALFORMED, EPH_ERR_KEYTYPE,
		    "certificate: presented as type '%.64s' but is '%s'", req->cert_type,
		    type != NULL ? type : "?");
		goto out;
	}

	res->has_cert = 1;
	res->serial = c->serial;
	res->valid_after = c->valid_after;
	res->valid_before = c->valid_before;
	if ((res->key_id = strdup(c->key_id)) == NULL) {
		d = refuse(res, HOSTCHECK_SYSTEM, EPH_ERR_NOMEM, "%s", eph_strerror(EPH_ERR_NOMEM));
		goto out;
	}
	if ((r = key_fingerprint(c->signature_key, &res->ca_fingerprint)) != EPH_OK) {
		d = refuse(res, HOSTCHECK_SYSTEM, r, "CA fingerprint: %s", eph_strerror(r));
		goto out;
	}
	if (c->type != CERT_TYPE_USER) {
		d = refuse(res, HOSTCHECK_NOT_USER_CERT, EPH_ERR_CERTTYPE,
		    "serial %llu (key id \"%s\") is a host certificate",
		    (unsigned long long)c->serial, c->key_id);
		goto out;
	}
	if ((d = check_ca(req->hc, c, res)) != HOSTCHECK_OK)
		goto out;
	if ((r = cert_check_validity(c, req->now)) != EPH_OK) {
		format_time(c->valid_after, after, sizeof(after));
		format_time(c->valid_before, before, sizeof(before));
		format_time(req->now, nowtext, sizeof(nowtext));
		d = refuse(res, r == EPH_ERR_EXPIRED ? HOSTCHECK_EXPIRED : HOSTCHECK_NOT_YET_VALID,
		    r, "serial %llu is valid from %s to %s, now is %s",
		    (unsigned long long)c->serial, after, before, nowtext);
		goto out;
	}
	if ((d = check_krl(req->hc, c, res)) != HOSTCHECK_OK)
		goto out;
	if ((d = check_grant(req, c, res)) != HOSTCHECK_OK)
		goto out;
	if ((r = host_principals_for(req->hc, req->user, &res->principals, &res->nprincipals)) !=
	    EPH_OK) {
		d = refuse(res, HOSTCHECK_SYSTEM, r, "principals: %s", eph_strerror(r));
		goto out;
	}
	res->err = EPH_OK;
	snprintf(res->detail, sizeof(res->detail), "grant %s: task '%s' as '%s'", res->grant.id,
	    res->grant.task, req->user);
	d = res->decision = HOSTCHECK_OK;
out:
	cert_free(c);
	buf_free(&blob);
	return d;
}

void
hostcheck_log_fields(
    const struct hostcheck_result *res, const char *user, struct hostcheck_log *out)
{
	const struct grant *g = res->has_grant ? &res->grant : NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->serial, sizeof(out->serial), "%llu", (unsigned long long)res->serial);
	snprintf(out->valid_before, sizeof(out->valid_before), "%llu",
	    (unsigned long long)res->valid_before);
	out->f[n++] = (struct log_field){
	    "EPH_DECISION", res->decision == HOSTCHECK_OK ? "accepted" : "refused"};
	out->f[n++] = (struct log_field){"EPH_REASON", hostcheck_decision_name(res->decision)};
	out->f[n++] = (struct log_field){"EPH_USER", user};
	out->f[n++] = (struct log_field){"EPH_SERIAL", res->has_cert ? out->serial : NULL};
	out->f[n++] = (struct log_field){"EPH_KEY_ID", res->has_cert ? res->key_id : NULL};
	out->f[n++] = (struct log_field){"EPH_CA", res->has_cert ? res->ca_fingerprint : NULL};
	out->f[n++] =
	    (struct log_field){"EPH_VALID_BEFORE", res->has_cert ? out->valid_before : NULL};
	out->f[n++] = (struct log_field){"EPH_GRANT", g != NULL ? g->id : NULL};
	out->f[n++] = (struct log_field){"EPH_TASK", g != NULL ? g->task : NULL};
	out->f[n++] = (struct log_field){"EPH_REQUESTER", g != NULL ? g->requester : NULL};
	out->f[n++] = (struct log_field){"EPH_APPROVERS", g != NULL ? res->approvers : NULL};
	out->f[n++] = (struct log_field){"EPH_LOGIN_AS", g != NULL ? g->login_as : NULL};
	out->n = n;
}

/*
 * The host's certificate check: may this certificate open this local
 * account on this host now? Shared by ephemeral-principals (sshd's
 * AuthorizedPrincipalsCommand) and pam_ephemeral, so both refuse the
 * same certificates for the same reasons.
 */
#ifndef EPH_HOSTCHECK_H
#define EPH_HOSTCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "grant.h"
#include "log.h"
#include "policy.h"

/* Caps on the files the check reads. */
#define HOSTCHECK_CA_KEYS_MAX (64u * 1024u) /* trusted_ca_keys */
#define HOSTCHECK_DETAIL_MAX 320

/*
 * Why a certificate was refused, in the order the check tests. The
 * values are stable (they are logged by name, hostcheck_decision_name);
 * add new ones at the end.
 */
enum hostcheck_decision {
	HOSTCHECK_OK = 0,
	HOSTCHECK_MALFORMED, /* not base64, not a certificate, or not its %t type */
	HOSTCHECK_BAD_SIGNATURE, /* the CA signature does not verify */
	HOSTCHECK_NOT_USER_CERT, /* a host certificate */
	HOSTCHECK_CA_KEYS_UNREADABLE, /* trusted_ca_keys missing, unsafe or empty */
	HOSTCHECK_WRONG_CA, /* signed by a key not in trusted_ca_keys */
	HOSTCHECK_NOT_YET_VALID,
	HOSTCHECK_EXPIRED,
	HOSTCHECK_KRL_UNREADABLE, /* revoked_keys missing, unsafe or unparsable */
	HOSTCHECK_REVOKED,
	HOSTCHECK_NO_GRANT, /* no grant@ephssh extension */
	HOSTCHECK_BAD_GRANT, /* grant@ephssh does not decode */
	HOSTCHECK_TASK_NOT_ACCEPTED, /* host.conf accepts the grant's task for nobody */
	HOSTCHECK_WRONG_HOST, /* no principal eph:<task>@<this host or its group> */
	HOSTCHECK_LOGIN_AS_MISMATCH, /* the grant's login_as is another account */
	HOSTCHECK_USER_NOT_ACCEPTED, /* host.conf accepts the task, not for this account */
	HOSTCHECK_SYSTEM, /* out of memory or another local failure */
};

/* What to check: the certificate as sshd hands it over. */
struct hostcheck_request {
	const struct host_conf *hc;
	const char *user; /* the local account (%u, PAM_USER) */
	/* The certificate's type name as sshd gives it (%t, or the type in
	 * SSH_AUTH_INFO_0); must match the blob. NULL: not compared. */
	const char *cert_type;
	const char *cert_b64; /* the base64 blob (%k, SSH_AUTH_INFO_0) */
	uint64_t now; /* seconds since the epoch: the caller's clock */
};

/*
 * The outcome and the facts for the log line. Facts are filled as far as
 * the check got: nothing from a certificate whose signature did not
 * verify (its contents are the presenter's word), the certificate's from
 * has_cert on, the grant's from has_grant on.
 */
struct hostcheck_result {
	enum hostcheck_decision decision;
	int err; /* the EPH_ERR_* behind a refusal, EPH_OK otherwise */
	/* Precise, for logs only: may name files, keys and accounts. */
	char detail[HOSTCHECK_DETAIL_MAX];

	int has_cert;
	uint64_t serial;
	char *key_id;
	char *ca_fingerprint; /* "SHA256:..." of the signing CA key */
	uint64_t valid_after, valid_before;

	int has_grant;
	struct grant grant; /* id, task, requester, login_as, approvers, max_logins */
	char *approvers; /* the grant's approvers joined with ',' ("" when none) */

	/* On HOSTCHECK_OK: the principals host.conf accepts for the user
	 * (host_principals_for), what ephemeral-principals prints. */
	char **principals;
	size_t nprincipals;
};

/*
 * Run every check on req, in the order of enum hostcheck_decision, and
 * fill res (cleared first; hostcheck_result_clear it after). Returns
 * res->decision. Deny by default: anything that cannot be checked,
 * including a missing or unparsable KRL, is a refusal.
 */
enum hostcheck_decision hostcheck_cert(
    const struct hostcheck_request *req, struct hostcheck_result *res);
void hostcheck_result_clear(struct hostcheck_result *res);

/* Stable lower-case name of a decision for EPH_REASON ("ok", "expired",
 * "wrong_ca", ...); "unknown" for a value out of range. */
const char *hostcheck_decision_name(enum hostcheck_decision d);
/* A sentence for the person logging in (pam_error): says why without
 * naming files, keys or configuration. */
const char *hostcheck_user_message(enum hostcheck_decision d);

/*
 * The facts of res as eph_log fields (DESIGN.md's EPH_* names):
 * EPH_DECISION ("accepted" / "refused"), EPH_REASON (the decision's
 * name), EPH_USER, and what is known of EPH_SERIAL, EPH_KEY_ID, EPH_CA,
 * EPH_VALID_BEFORE, EPH_GRANT, EPH_TASK, EPH_REQUESTER, EPH_APPROVERS,
 * EPH_LOGIN_AS (NULL values, which eph_log leaves out, for the rest).
 * The fields point into res and into out, which must outlive the call
 * to eph_log.
 */
#define HOSTCHECK_LOG_FIELDS 12
struct hostcheck_log {
	struct log_field f[HOSTCHECK_LOG_FIELDS];
	size_t n;
	char serial[24];
	char valid_before[24];
};
void hostcheck_log_fields(
    const struct hostcheck_result *res, const char *user, struct hostcheck_log *out);

#endif

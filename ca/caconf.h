/* The CA's own configuration, ca.conf (libconfig): where its key, policy
 * and KRL are, and the limits that hold whatever the policy says. */
#ifndef SSHCA_CACONF_H
#define SSHCA_CACONF_H

#include <stdint.h>
#include <stdio.h>

#include "policy.h"

#define CACONF_DEFAULT_PATH SYSCONFDIR "/ephemeral/ca.conf"
/* The policy when no ca.conf names one (sshca policy explain / check). */
#define CACONF_DEFAULT_POLICY SYSCONFDIR "/ephemeral/policy.conf"

#define CACONF_DEFAULT_CLOCK_SKEW 60u
#define CACONF_DEFAULT_MAX_TTL (24u * 3600u)
#define CACONF_MAX_CLOCK_SKEW 3600u
#define CACONF_DEFAULT_DATABASE LOCALSTATEDIR "/lib/ephemeral/ca.db"
#define CACONF_DEFAULT_SOCKET "/run/ephemeral/sshca.sock"
#define CACONF_DEFAULT_USER "_sshca"
#define CACONF_DEFAULT_LOGIN_TTL (8u * 3600u)
#define CACONF_MIN_LOGIN_TTL 60u
#define CACONF_MAX_LOGIN_TTL (7u * 86400u)
#define CACONF_DEFAULT_ACTIVE_GRANTS 10
#define CACONF_DEFAULT_REQUESTS_PER_MINUTE 60
#define CACONF_MAX_LIMIT 1000000
#define CACONF_MAX_WEBHOOKS 32
#define CACONF_MAX_URL_LEN 2048

/* Events a webhook may ask for (struct ca_webhook.events, a bit set). */
enum ca_event {
	CA_EVENT_PENDING = 1 << 0, /* "pending": a request waits for approvals */
	CA_EVENT_BREAK_GLASS = 1 << 1, /* "break-glass": issued without approval */
	CA_EVENT_REVOKED = 1 << 2, /* "revoked" */
	CA_EVENT_DENIED = 1 << 3, /* "denied": by the policy or an approver */
};

/* The event's name in ca.conf and in a webhook's body; NULL if unknown. */
const char *caconf_event_name(enum ca_event e);

/* webhooks = ( { url = "https://..."; events = [ ... ]; } ) */
struct ca_webhook {
	char *url; /* http:// or https:// */
	unsigned events; /* enum ca_event bits, at least one */
	int line;
};

/* tls = { listen = "ADDR:PORT"; certificate = "FILE"; key = "FILE"; } */
struct ca_tls {
	char *listen; /* as written */
	char *host; /* ADDR: an IPv4 or IPv6 literal (no brackets) or a host name */
	uint16_t port;
	char *certificate; /* absolute path, PEM */
	char *key; /* absolute path, PEM, secret */
	int line, listen_line, certificate_line, key_line;
};

/* An entry of admins / auditors: a user name, or "%group" (Unix, NSS). */
struct ca_person {
	char *name; /* without the '%' */
	int unix_group;
	int line;
};

/*
 * The effective configuration, defaults filled in. The *_line fields give
 * where each key was set (0: defaulted), so later checks of the values
 * (the key file, the policy) can point at the line to fix.
 */
struct ca_conf {
	char *file;
	char *ca_key; /* absolute path of the CA private key */
	char *policy; /* absolute path of policy.conf */
	char *revoked_keys; /* absolute path of the KRL; NULL when unset */
	uint64_t clock_skew; /* seconds a certificate starts before now */
	uint64_t max_ttl; /* hard cap on any certificate's lifetime */
	int ca_key_line, policy_line, revoked_keys_line, clock_skew_line, max_ttl_line;
	char *database; /* absolute path of the store's SQLite file */
	int database_line;
	/* The key that replaces ca_key (rotation): its public half is
	 * published next to the current one. NULL when unset. */
	char *ca_key_next;
	char *socket; /* the Unix listener */
	char *user; /* the network side's account after binding */
	struct ca_tls *tls; /* NULL: no TCP listener */
	uint64_t login_ttl; /* lifetime of a TLS session token */
	struct ca_person *admins;
	size_t nadmins;
	struct ca_person *auditors;
	size_t nauditors;
	struct ca_webhook *webhooks;
	size_t nwebhooks;
	uint64_t active_grants; /* limits.active_grants, per requester */
	uint64_t requests_per_minute; /* limits.requests_per_minute, per requester */
	int ca_key_next_line, socket_line, user_line, login_ttl_line, admins_line, auditors_line,
	    webhooks_line, limits_line;
};

/*
 * Load and validate ca.conf: unknown keys, wrong types, relative paths,
 * bad durations and missing required keys are errors with file:line, all
 * reported in errs. Returns EPH_OK, or EPH_ERR_FORMAT (EPH_ERR_IO /
 * EPH_ERR_PERM for the file itself) with *out NULL. The file is opened
 * without following symlinks and refused when writable by group/other.
 * Only ca.conf itself is read: the files it names are not opened.
 */
int caconf_load(const char *path, struct ca_conf **out, struct policy_errors *errs);
void caconf_free(struct ca_conf *c);

/* Is the user (with its Unix groups) one of the list (admins or
 * auditors)? Names compare exactly: pass the canonical NSS names. */
int caconf_person_match(const struct ca_person *v, size_t n, const char *user,
    const char *const *groups, size_t ngroups);

/* Every key with its effective value, one "key value" line each, in
 * the order of the table (like sshd -T); unset paths print "none".
 * Groups print one "group.member value" line per member (tls.listen,
 * limits.active_grants); lists print their entries space-separated;
 * each webhook is a "webhook URL event,event" line ("webhooks none"). */
void caconf_dump(const struct ca_conf *c, FILE *f);

#endif

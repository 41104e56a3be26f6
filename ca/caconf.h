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

/* Every key with its effective value, one "key value" line each, in
 * the order of the table (like sshd -T); unset paths print "none". */
void caconf_dump(const struct ca_conf *c, FILE *f);

#endif

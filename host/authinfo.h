/*
 * SSH_AUTH_INFO_0, the record of how a login authenticated that sshd
 * (ExposeAuthInfo yes) puts into the PAM environment in the session
 * phase: one line per authentication method used, each ending in '\n',
 * "method[/submethod][ key-type base64][ info]". pam_ephemeral reads the
 * certificate the login used from it.
 */
#ifndef EPH_AUTHINFO_H
#define EPH_AUTHINFO_H

#include <stddef.h>

#include "cert.h"

/* sshd writes one line per method (AuthenticationMethods chains a few);
 * a key line holds at most one certificate's base64. */
#define AUTHINFO_MAX_LINES 16
#define AUTHINFO_MAX_LINE (((size_t)CERT_MAX_SIZE + 2) / 3 * 4 + 1024)
#define AUTHINFO_MAX_SIZE (4 * AUTHINFO_MAX_LINE)
#define AUTHINFO_MAX_METHOD 64

struct authinfo_method {
	char *method; /* "publickey", "password", "keyboard-interactive/pam", ... */
	/* publickey and hostbased lines: the key's type name as written
	 * (e.g. "ssh-ed25519-cert-v01@openssh.com") and its base64 blob;
	 * NULL for other methods. */
	char *key_type;
	char *key_b64;
	int is_cert; /* key_type is a certificate type */
	char *info; /* what follows (a security key's "signature count = N"); NULL */
};

struct authinfo {
	struct authinfo_method *v;
	size_t n;
};

/*
 * Parse the variable's value. Strict: printable ASCII and '\n' only,
 * every line ends in '\n', no empty line, fields separated by one space,
 * a method token of [a-z0-9-] (and "/submethod" of [a-zA-Z0-9@._-]);
 * on key lines a type token of [a-zA-Z0-9@._-] (a type this code does
 * not know is kept, a certificate when it ends in -cert-v01@openssh.com)
 * and base64 (alphabet, length a multiple of 4, '=' only at the end;
 * hostcheck_cert decodes it strictly); at most AUTHINFO_MAX_LINES lines
 * of AUTHINFO_MAX_LINE bytes, AUTHINFO_MAX_SIZE in all. An empty value
 * (sshd's when nothing was recorded) is no lines. EPH_ERR_FORMAT,
 * EPH_ERR_TOOLARGE, EPH_ERR_NOMEM; *out is empty on error.
 */
int authinfo_parse(const char *s, struct authinfo *out);
void authinfo_clear(struct authinfo *ai);

/*
 * The certificate the login used: the one "publickey" line with a
 * certificate type. EPH_ERR_NOTFOUND when there is none (a password or
 * plain-key login), EPH_ERR_DUPLICATE when there are several (two
 * certificates chained by AuthenticationMethods: ambiguous, refuse).
 */
int authinfo_find_cert(const struct authinfo *ai, const struct authinfo_method **out);

#endif

/* OpenSSH certificates (PROTOCOL.certkeys): build, sign, serialise, parse,
 * verify, and check validity, principals and options. */
#ifndef EPH_CERT_H
#define EPH_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "key.h"

#define CERT_TYPE_USER 1
#define CERT_TYPE_HOST 2

#define CERT_FOREVER UINT64_MAX /* valid_before of a certificate that never expires */

/*
 * Parser caps, at OpenSSH's scale, so that every certificate ssh-keygen -s
 * makes and sshd accepts is read: sshd takes a certificate from one
 * packet of at most 256 KiB and ssh-keygen signs at most 256 principals.
 * Inside the blob no field has a cap of its own.
 */
#define CERT_MAX_SIZE (256u * 1024u) /* whole blob */
#define CERT_MAX_PRINCIPALS 256
/* Tighter caps on what cert_sign and cert_add_* write (what we issue). */
#define CERT_MAX_PRINCIPAL_LEN 256
#define CERT_MAX_KEY_ID_LEN 1024
#define CERT_MAX_OPTIONS 64 /* per section */
#define CERT_MAX_OPTION_NAME_LEN 256
#define CERT_MAX_OPTION_DATA_LEN 4096
#define CERT_MAX_NONCE_LEN 256

/* Critical options sshd knows; any other critical option is refused. */
#define CERT_OPT_FORCE_COMMAND "force-command"
#define CERT_OPT_SOURCE_ADDRESS "source-address"
#define CERT_OPT_VERIFY_REQUIRED "verify-required"

/*
 * One critical option or extension. data/len is the option's data field
 * as on the wire; for an option with a value that is itself one string
 * holding the value ("double-wrapped"); for a flag it is empty.
 */
struct cert_opt {
	char *name;
	uint8_t *data;
	size_t len;
};

struct cert {
	uint32_t type; /* CERT_TYPE_USER or CERT_TYPE_HOST */
	struct key *key; /* subject public key */
	uint8_t *nonce;
	size_t nonce_len;
	uint64_t serial;
	char *key_id;
	char **principals;
	size_t nprincipals;
	uint64_t valid_after; /* seconds since the epoch */
	uint64_t valid_before;
	struct cert_opt *critical; /* sorted by name, unique */
	size_t ncritical;
	/* Sorted by name, unique: a repeated flag extension that ssh-keygen
	 * wrote (-O extension:permit-pty) is kept once; blob keeps both. */
	struct cert_opt *extensions;
	size_t nextensions;
	struct key *signature_key; /* CA public key */
	char *sig_alg; /* algorithm of the signature */
	struct buf blob; /* whole certificate after sign or parse */
	size_t signed_len; /* bytes of blob the signature covers */
};

/* Empty user certificate with a fresh random 32-byte nonce. */
int cert_new(struct cert **out);
void cert_free(struct cert *c);

/* Copy the public half of subject into the certificate. */
int cert_set_key(struct cert *c, const struct key *subject);
int cert_add_principal(struct cert *c, const char *principal);
/*
 * Add a critical option / extension, kept sorted; EPH_ERR_DUPLICATE when
 * present. value NULL makes a flag (empty data); otherwise the value is
 * wrapped in a string as OpenSSH does. Critical options other than
 * force-command, source-address and verify-required are refused.
 */
int cert_add_critical(struct cert *c, const char *name, const void *value, size_t n);
int cert_add_extension(struct cert *c, const char *name, const void *value, size_t n);
/* The extensions ssh-keygen -s adds by default (permit-X11-forwarding,
 * permit-agent-forwarding, permit-port-forwarding, permit-pty,
 * permit-user-rc), NULL-terminated; and a call that adds them all. */
extern const char *const cert_default_extensions[];
int cert_add_default_extensions(struct cert *c);

/* Option or extension by name, NULL when absent. */
const struct cert_opt *cert_find_critical(const struct cert *c, const char *name);
const struct cert_opt *cert_find_extension(const struct cert *c, const char *name);
/* Unwrap an option's value string; EPH_ERR_FORMAT unless data is exactly
 * one string. A flag (empty data) gives EPH_ERR_NOTFOUND. */
int cert_opt_value(const struct cert_opt *o, const uint8_t **p, size_t *n);

/*
 * Serialise and sign with ca (a private key); alg NULL for the key type's
 * default. Fills blob, signed_len, signature_key and sig_alg. Refuses a
 * certificate without a subject key or with valid_after >= valid_before.
 */
int cert_sign(struct cert *c, const struct key *ca, const char *alg);

/*
 * Parse a certificate blob and verify its signature against the embedded
 * CA key. Refuses trailing data, unknown or unsorted or duplicate
 * critical options, unsorted extensions, a repeated extension unless it
 * is an empty flag each time, a CA key that is itself a certificate, a
 * blob over CERT_MAX_SIZE or more than CERT_MAX_PRINCIPALS principals,
 * and a bad signature.
 */
int cert_parse(const uint8_t *d, size_t n, struct cert **out);
/* "type base64 comment" line to a certificate; comment_out may be NULL. */
int cert_parse_line(const char *line, struct cert **out, char **comment_out);
int cert_load(const char *path, struct cert **out, char **comment_out);
/*
 * cert_parse_line without the signature check: every structural check
 * stays, signature_key is whatever the blob names. Only for a certificate
 * that came from our own signer over its socketpair, where checking the
 * signature against the key inside it proves nothing; the caller checks
 * signature_key, subject key, serial and principals against what it asked.
 */
int cert_decode_line(const char *line, struct cert **out);
/* "type base64 comment" line of a signed or parsed certificate. */
int cert_format_line(const struct cert *c, const char *comment, char **out);

/* Is the certificate signed by this CA key? EPH_ERR_CA_MISMATCH if not. */
int cert_check_ca(const struct cert *c, const struct key *ca);
/* valid_after <= now < valid_before, else EPH_ERR_NOTYETVALID/EXPIRED. */
int cert_check_validity(const struct cert *c, uint64_t now);
/* EPH_OK when name is one of the principals, else EPH_ERR_PRINCIPAL. */
int cert_check_principal(const struct cert *c, const char *name);

#endif

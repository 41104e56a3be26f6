/* OpenSSH keys on OpenSSL: types, public blobs and lines, fingerprints,
 * signatures, PKCS#8 private key files. */
#ifndef EPH_KEY_H
#define EPH_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"

enum key_type {
	KEY_UNSPEC = 0,
	KEY_ED25519,
	KEY_ECDSA_P256,
	KEY_ECDSA_P384,
	KEY_ECDSA_P521,
	KEY_RSA,
	/* FIDO security keys (PROTOCOL.u2f): public halves only, as user keys
	 * to certify. Nothing here signs or verifies with them. */
	KEY_SK_ED25519,
	KEY_SK_ECDSA_P256,
};

/* Caps used by every parser that reads a key. */
#define KEY_RSA_MIN_BITS 1024 /* parse (OpenSSH's floor) */
#define KEY_RSA_MIN_GEN_BITS 2048 /* generate */
#define KEY_RSA_MAX_BITS 16384
#define KEY_BLOB_MAX 8192 /* a public key blob */
#define KEY_SK_APPLICATION_MAX 1024 /* a FIDO key's application string */

/* A public key, or a key pair when has_private. The EVP_PKEY owns the
 * secret; key_free wipes it through OpenSSL. */
struct key {
	enum key_type type;
	EVP_PKEY *pkey;
	int has_private;
	char *sk_application; /* FIDO keys: e.g. "ssh:"; else NULL */
};

/* "ssh-ed25519", "ecdsa-sha2-nistp256", ..., "ssh-rsa",
 * "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com". */
const char *key_type_name(enum key_type t);
/* "ssh-ed25519-cert-v01@openssh.com", ... */
const char *key_cert_type_name(enum key_type t);
/* Wire name (plain or -cert-v01) to type; *is_cert set when non-NULL.
 * KEY_UNSPEC when unknown. */
enum key_type key_type_from_name(const char *name, int *is_cert);
/* CLI spelling: "ed25519", "ecdsa" (P-256), "ecdsa-p384", "ecdsa-p521",
 * "rsa". KEY_UNSPEC when unknown (FIDO types have none: nothing here
 * makes one). */
enum key_type key_type_from_string(const char *s);
/* A FIDO security key type: a subject key only, never a signer. */
int key_type_is_sk(enum key_type t);
/* Default signature algorithm for a key type ("rsa-sha2-512" for RSA);
 * NULL for FIDO types, which nothing here signs with. */
const char *key_default_sig_alg(enum key_type t);
/* Bits of the key as ssh-keygen -l shows them (256 for Ed25519). */
unsigned key_bits(const struct key *k);

/* New key pair. bits only for RSA (0 = 3072). FIDO types: EPH_ERR_KEYTYPE. */
int key_generate(enum key_type t, unsigned bits, struct key **out);
void key_free(struct key *k);
/* Public half as a new handle (has_private = 0: it cannot sign or export
 * private fields); it may share OpenSSL's key object with k. */
int key_dup_public(const struct key *k, struct key **out);
int key_equal_public(const struct key *a, const struct key *b);

/* Public key blob: string type-name, then the type's public fields. */
int key_put_public(const struct key *k, struct buf *b);
/* Only the public fields (as they appear inside a certificate). */
int key_put_public_fields(const struct key *k, struct buf *b);
/* Parse a plain (non-certificate) public key blob; refuses trailing data. */
int key_from_blob(const uint8_t *d, size_t n, struct key **out);
/*
 * Refuse an EC public key OpenSSH 9.2 would refuse (point at infinity, off
 * the curve, order * Q not at infinity, a coordinate of at most half the
 * order's bits or not below order - 1): EPH_ERR_FORMAT. Every parser here
 * applies it; cert_sign applies it to keys made any other way. EPH_OK for
 * other key types.
 */
int key_check_public(const struct key *k);
/* Read the public fields of type t from b (the type string already read). */
int key_get_public_fields(enum key_type t, struct buf *b, struct key **out);
/*
 * Private fields in ssh-agent / openssh-key-v1 order, without the type
 * name. With for_cert, only the fields that follow a certificate blob in
 * SSH2_AGENTC_ADD_IDENTITY (PROTOCOL.certkeys); otherwise the full set
 * including the public fields.
 */
int key_put_private_fields(const struct key *k, struct buf *b, int for_cert);

/* "SHA256:<base64 without padding>" of a blob / of a key's public blob. */
int fingerprint_sha256(const uint8_t *blob, size_t n, char **out);
int key_fingerprint(const struct key *k, char **out);

/*
 * Append an SSH signature blob (string alg, string sig) over data to sig.
 * alg NULL picks key_default_sig_alg. SHA-1 "ssh-rsa" is refused, and
 * FIDO keys (EPH_ERR_KEYTYPE).
 */
int key_sign(const struct key *k, const char *alg, const uint8_t *data, size_t n, struct buf *sig);
/*
 * Verify an SSH signature blob over data. The blob's algorithm must suit
 * the key; "ssh-rsa" (SHA-1) is refused, and FIDO keys (EPH_ERR_KEYTYPE:
 * they are never CA keys here). *alg_out, when non-NULL, gets a static
 * name of the algorithm used.
 */
int key_verify(const struct key *k, const uint8_t *sig, size_t siglen, const uint8_t *data,
    size_t n, const char **alg_out);

/* "type base64 [comment]" as a new string. */
int key_format_public_line(const struct key *k, const char *comment, char **out);

/*
 * Split an OpenSSH public line ("type base64 [comment]") into its type name,
 * decoded blob (appended to blob) and comment (may be NULL). Leading and
 * trailing whitespace and a trailing newline are allowed. The type in the
 * blob must match the line's. Used for keys and certificates alike.
 */
int publine_parse(const char *line, char **type_out, struct buf *blob, char **comment_out);
/* The first line of a .pub-style file (at most max bytes) that is
 * neither blank nor a '#' comment, as a new string; EPH_ERR_NOTFOUND when
 * there is none. */
int publine_load(const char *path, size_t max, char **line_out);
/* A plain public key line into a key. comment_out may be NULL. */
int key_parse_public_line(const char *line, struct key **out, char **comment_out);
/* A public key from the first key line of a .pub file. */
int key_load_public(const char *path, struct key **out, char **comment_out);

/* PKCS#8 PEM private key, refused unless owned by us or root and not
 * readable by group/other. */
int key_load_private(const char *path, struct key **out);
/* PKCS#8 PEM, mode 0600, written atomically; EPH_ERR_EXISTS if present. */
int key_save_private(const struct key *k, const char *path);
/* k as an unencrypted "OPENSSH PRIVATE KEY" file (openssh-key-v1, what
 * ssh -i and ssh-keygen -y read; OpenSSH 9.2 reads no PKCS#8 Ed25519
 * key), appended to out (a buf: wiped when freed). */
int key_format_private_openssh(const struct key *k, const char *comment, struct buf *out);

#endif

/* sshca: the command table and the helpers its commands share (messages,
 * exit codes, option errors, time and key display). */
#ifndef SSHCA_H
#define SSHCA_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "key.h"

/* Exit status of every command. */
#define SSHCA_EXIT_OK 0
#define SSHCA_EXIT_FAIL 1 /* runtime failure (file, key, crypto) */
#define SSHCA_EXIT_USAGE 2 /* bad command line */

/* Refuse to read anything bigger than this as a key, certificate or list
 * of certificates given on the command line. */
#define SSHCA_TEXT_FILE_MAX (1024u * 1024u)

/*
 * One command, tmux style: the table in main.c lists these and each
 * cmd_*.c defines its own entry next to the options it parses.
 */
struct sshca_cmd {
	const char *name;
	int (*fn)(const struct sshca_cmd *self, int argc, char **argv);
	const char *usage; /* synopsis after "sshca NAME " */
	const char *summary; /* one line for "sshca help" */
	const char *options; /* option lines for "sshca NAME --help" */
};

extern const struct sshca_cmd sshca_cmd_init;
extern const struct sshca_cmd sshca_cmd_pubkey;
extern const struct sshca_cmd sshca_cmd_sign;
extern const struct sshca_cmd sshca_cmd_krl;
extern const struct sshca_cmd sshca_cmd_inspect;
extern const struct sshca_cmd sshca_cmd_policy;
extern const struct sshca_cmd sshca_cmd_check_config;
extern const struct sshca_cmd sshca_cmd_audit;
extern const struct sshca_cmd sshca_cmd_serve;

/* eph_strerror, but for EPH_ERR_IO the errno text ("No such file or
 * directory") and for EPH_ERR_PERM what the file must look like; call
 * right after the failing function. */
const char *sshca_strerror(int r);

/* Full help (usage, summary, options) on stdout; returns SSHCA_EXIT_OK. */
int sshca_help(const struct sshca_cmd *cmd);
/* "sshca NAME: message" and the usage line on stderr; returns
 * SSHCA_EXIT_USAGE. */
int sshca_usage_error(const struct sshca_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "sshca NAME: message" on stderr; returns SSHCA_EXIT_FAIL. */
int sshca_fail(const struct sshca_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report the option getopt_long just refused (c is '?' or ':');
 * returns SSHCA_EXIT_USAGE. */
int sshca_bad_option(const struct sshca_cmd *cmd, int c, char **argv);

/* Store an option that may be given once: SSHCA_EXIT_OK, or
 * SSHCA_EXIT_USAGE ("NAME given twice") when *slot is already set. */
int sshca_opt_once(
    const struct sshca_cmd *cmd, const char **slot, const char *name, const char *value);

/* Strict duration / unsigned options: 0, or SSHCA_EXIT_USAGE after a
 * message naming the option. */
int sshca_opt_duration(
    const struct sshca_cmd *cmd, const char *opt, const char *arg, uint64_t *out);
int sshca_opt_u64(const struct sshca_cmd *cmd, const char *opt, const char *arg, uint64_t min,
    uint64_t max, uint64_t *out);

/* Local time as ssh-keygen prints it: "YYYY-MM-DDTHH:MM:SS". */
void sshca_format_time(uint64_t t, char *buf, size_t len);
/* A certificate's validity as ssh-keygen prints it ("from X to Y",
 * "forever", ...). */
void sshca_format_validity(const struct cert *c, char *buf, size_t len);
/* ssh-keygen's short key type name: "ED25519", "ECDSA", "RSA". */
const char *sshca_key_shortname(enum key_type t);
/* Key size as ssh-keygen -l reports it (256 for Ed25519). */
unsigned sshca_key_display_bits(const struct key *k);

/* A whole text file (at most SSHCA_TEXT_FILE_MAX bytes, no NUL bytes) as
 * a NUL-terminated string. */
int sshca_read_text(const char *path, char **out);

/*
 * A public key from either an OpenSSH .pub file or a PKCS#8 private key
 * file (its public half), so commands work where only the CA public key
 * is. *what names the failing step for messages.
 */
int sshca_load_public_or_private(const char *path, struct key **out, const char **what);

struct policy_errors;
/* A loaded file's warnings to stderr, "file:line: warning: msg" each. */
void sshca_print_warnings(const struct policy_errors *w);

#endif

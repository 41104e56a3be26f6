/* Helpers shared by the cmocka tests: temp dirs, files, running the
 * OpenSSH oracles, and a name filter for the test main. */
#ifndef EPH_TESTUTIL_H
#define EPH_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "buf.h"
#include "key.h"

/* Set a cmocka name filter from argv[1] or $EPH_TEST_FILTER. */
void tu_init(int argc, char **argv);

/* New temp dir (mode 0700) / recursive removal. */
char *tu_mkdtemp(void);
void tu_rmrf(const char *dir);
/* dir + "/" + name, asprintf style; aborts the test on failure. */
char *tu_path(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whole file into a NUL-terminated heap string (len in *n if non-NULL);
 * NULL when it cannot be read. */
char *tu_read_file(const char *path, size_t *n);
/* Write (create/truncate) a file with mode; 0 on success. */
int tu_write_file(const char *path, const void *d, size_t n, int mode);
/* A KRL revoking serials[0..n) of ca at path (mode 0644), written to a
 * temp file and renamed into place as ephemeral-krl-sync does. */
void tu_write_krl(const char *path, const struct key *ca, const uint64_t *serials, size_t n);

/*
 * Run a shell command (printf-style); returns its exit status (or 128 +
 * signal, -1 on failure to run). With out non-NULL, stdout and stderr are
 * captured into a heap string.
 */
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tu_run inside dir; fails the test when the output holds a sanitizer
 * report (under --enable-sanitizers a report may exit 1, which some tests
 * expect anyway). */
int tu_run_in(const char *dir, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void tu_assert_contains(const char *hay, const char *needle);
void tu_assert_not_contains(const char *hay, const char *needle);

/* cmocka fixtures: *state becomes a new temp dir (char *), then removed. */
int tu_dir_setup(void **state);
int tu_dir_teardown(void **state);

/* Sleep ms milliseconds (for bounded polling, never for a timed assertion). */
void tu_sleep_ms(long ms);

/*
 * ssh-agent in the foreground (-D) on sock, dying with the test process;
 * returns once a client can connect to it (the test fails if it cannot).
 * Its pid in *pid; stop with tu_agent_stop.
 */
void tu_agent_start(const char *sock, pid_t *pid);
void tu_agent_stop(pid_t *pid);

/* Paths of the OpenSSH oracles and of the built sshca. */
const char *tu_ssh_keygen(void);
const char *tu_sshca(void);
/* Skip the calling test unless ssh-keygen exists. */
#define TU_REQUIRE_SSH_KEYGEN()                                                                    \
	do {                                                                                       \
		if (tu_ssh_keygen() == NULL)                                                       \
			skip();                                                                    \
	} while (0)

/*
 * An uncompressed EC point (04 || x || y) on the OpenSSL group named
 * group ("prime256v1", ...) with the smallest x from x0 (or from the group
 * order + x0, with above_order) that lies on the curve: a point OpenSSL's
 * key check accepts and OpenSSH's refuses. Returns its length.
 */
size_t tu_ec_weak_point(
    const char *group, unsigned long x0, int above_order, uint8_t *pt, size_t max);
/* A key of type t around that point, built without any check; with priv,
 * also priv's private scalar (so it signs, under a public key that is not
 * its own). */
struct key *tu_ec_unchecked_key(
    enum key_type t, const char *group, const uint8_t *pt, size_t n, const struct key *priv);
/*
 * The FIDO public key blob a security key would give for plain's public
 * half (Ed25519 -> sk-ssh-ed25519@openssh.com, P-256 ->
 * sk-ecdsa-sha2-nistp256@openssh.com) and application app, appended to
 * out; returns the sk type. tu_sk_line: the same as a .pub line ending in
 * a newline.
 */
enum key_type tu_sk_blob(const struct key *plain, const char *app, struct buf *out);
char *tu_sk_line(const struct key *plain, const char *app, const char *comment);

#endif

/*
 * The principals spool: "serial S was presented for local user U on this
 * connection", written by ephemeral-principals and read by pam_ephemeral,
 * so the module can tell that the certificate in SSH_AUTH_INFO_0 is the
 * one sshd checked on this very connection.
 *
 * Which process is "this connection" (found with the real sshd 9.2 of
 * Debian 12, UsePAM yes, ExposeAuthInfo yes; a script as principals
 * command recording $PPID, pam_exec.so in the session stack recording
 * its $PPID): sshd runs the AuthorizedPrincipalsCommand from the
 * per-connection privileged monitor ("sshd: USER [priv]", the child of
 * the listener), so the command's getppid() is the monitor; it runs it
 * twice per login (the key query and the signed attempt), both times
 * from the same monitor. The PAM session (open and close) runs inside
 * that same monitor process: pam_exec's parent is it, so pam_ephemeral's
 * getpid() is the command's getppid(). The unprivileged [net] child and
 * the user's shell are other processes. A connection is therefore named
 * by the monitor's pid and, against pid reuse, its start time
 * (/proc/PID/stat field 22).
 *
 * Layout (packaging makes it; the tests make the same):
 *   state_dir             root:root 0755 (not writable by group/other)
 *   state_dir/spool       AuthorizedPrincipalsCommandUser, mode 0700:
 *                         only that user writes entries, nobody else
 *                         lists or plants them; root reads
 *   state_dir/spool/PID-START   one file per connection, mode 0600,
 *                         owned by the directory's owner, replaced
 *                         atomically (rename) on every record
 * Everything is opened relative to directory descriptors with O_NOFOLLOW:
 * a symbolic link, a hard-linked file, a file of another owner, an entry
 * over SPOOL_MAX_SIZE or one that does not parse is refused, never
 * followed. /proc must show the sshd monitor to the principals user
 * (no hidepid, or that user in its gid=).
 *
 * File format (text, strict):
 *   ephspool 1 PID START\n
 *   WHEN SERIAL USER\n       (1 to SPOOL_MAX_ENTRIES lines, oldest first)
 */
#ifndef EPH_SPOOL_H
#define EPH_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "grant.h"

#define SPOOL_SUBDIR "spool"
#define SPOOL_MAX_ENTRIES 16
#define SPOOL_MAX_SIZE 8192
/* spool_clean looks at no more directory entries than this per call. */
#define SPOOL_CLEAN_MAX 4096

/* A connection: its sshd monitor process. */
struct spool_conn {
	pid_t pid;
	uint64_t start; /* clock ticks after boot when it started */
};

/* One certificate presented on a connection. */
struct spool_entry {
	uint64_t when; /* seconds since the epoch */
	uint64_t serial;
	char user[GRANT_MAX_FIELD_LEN + 1];
};

/* The connection of a live process (ephemeral-principals: getppid();
 * pam_ephemeral: getpid()). EPH_ERR_NOTFOUND when it is gone,
 * EPH_ERR_IO when /proc cannot be read, EPH_ERR_FORMAT. */
int spool_conn_of(pid_t pid, struct spool_conn *out);

/*
 * Add (user, serial) to conn's entry, as the owner of state_dir/spool
 * (EPH_ERR_PERM otherwise, or when a directory is writable by
 * group/other). A repeated (user, serial) moves to the end; past
 * SPOOL_MAX_ENTRIES the oldest go. An existing entry that is unreadable
 * or of an earlier process with the same pid is replaced. No fsync: a
 * crash ends the connection the entry is for.
 */
int spool_record(const char *state_dir, const struct spool_conn *conn, const char *user,
    uint64_t serial, uint64_t now);

/* conn's entries, oldest first (at most max). EPH_ERR_NOTFOUND when conn
 * has none; EPH_ERR_PERM, EPH_ERR_TOOLARGE, EPH_ERR_FORMAT (also when the
 * file names another process) as described above. */
int spool_read(const char *state_dir, const struct spool_conn *conn, struct spool_entry *v,
    size_t max, size_t *n);

/* EPH_OK when serial was presented for user on conn; EPH_ERR_NOTFOUND
 * when not (or nothing was recorded); spool_read's errors otherwise. */
int spool_lookup(
    const char *state_dir, const struct spool_conn *conn, const char *user, uint64_t serial);

/* Remove conn's entry (the session is over); EPH_OK when there was none. */
int spool_remove(const char *state_dir, const struct spool_conn *conn);

/* Remove the entries of connections whose process is gone (or is a new
 * process with a reused pid), and temporary files of dead writers.
 * *removed (may be NULL) counts them. */
int spool_clean(const char *state_dir, size_t *removed);

/* spool_clean at most once every interval seconds (a stamp file,
 * SPOOL_SWEPT, in the spool records the last sweep): what
 * ephemeral-principals runs on each call without walking the spool on
 * each of sshd's two calls per login. *removed as spool_clean (0 when
 * not due). */
#define SPOOL_SWEPT ".swept"
#define SPOOL_SWEEP_INTERVAL 60
int spool_clean_due(const char *state_dir, unsigned interval, size_t *removed);

#endif

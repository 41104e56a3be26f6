/* The KRL ephemeral-krl-sync keeps in the file sshd's RevokedKeys reads:
 * what is in place, whether a fetched KRL may replace it, replacing it,
 * the empty KRL of --init, and the lock two runs share. No network. */
#ifndef EPH_KRLSTATE_H
#define EPH_KRLSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "krl.h"

/* The largest KRL taken from the CA or read in place. */
#define KRLSYNC_MAX_SIZE (KRL_MAX_SIZE)

/* The KRL in place, as read before a fetch. */
struct krlsync_current {
	int present; /* the file parsed as a KRL */
	uint64_t version; /* its version, when present */
	struct buf bytes; /* the file as read, when present */
	int missing; /* no file at all */
	int err; /* when not present: why (EPH_ERR_*) */
	int sys_errno; /* errno, for EPH_ERR_IO */
};

/*
 * Read path as the KRL in place. A missing, unreadable, unsafe
 * (writable by group or others) or malformed file is not an error: it
 * leaves cur->present 0 with the reason in cur->err, and any KRL from
 * the CA may then replace it. Errors: EPH_ERR_NOMEM only.
 */
int krlsync_current_read(const char *path, struct krlsync_current *cur);
void krlsync_current_free(struct krlsync_current *cur);

enum krlsync_verdict {
	KRLSYNC_REPLACE, /* newer than the one in place, or none usable is */
	KRLSYNC_SAME, /* byte for byte the KRL in place */
	KRLSYNC_REFUSE_MALFORMED, /* not a KRL sshd would read */
	KRLSYNC_REFUSE_TOOLARGE, /* over KRLSYNC_MAX_SIZE */
	KRLSYNC_REFUSE_OLDER, /* a lower version: a replay must not un-revoke */
	KRLSYNC_REFUSE_CONFLICT, /* the same version with other contents */
};

struct krlsync_decision {
	enum krlsync_verdict verdict;
	int err; /* the parser's error, for KRLSYNC_REFUSE_MALFORMED */
	uint64_t version; /* the body's version, when it parsed */
	uint64_t serials; /* serials it revokes, under any CA, when it parsed */
};

/*
 * May the KRL body d/n replace cur? Deny by default: only a body that
 * parses, is at most KRLSYNC_MAX_SIZE, and is newer than the KRL in
 * place (or finds none usable) is KRLSYNC_REPLACE. The CA bumps the
 * version on every rewrite, so an equal version is KRLSYNC_SAME when the
 * bytes are too and a conflict otherwise. Errors: EPH_ERR_NOMEM.
 */
int krlsync_decide(
    const struct krlsync_current *cur, const uint8_t *d, size_t n, struct krlsync_decision *out);
/* A short word for logs: "replace", "same", "malformed", ... */
const char *krlsync_verdict_name(enum krlsync_verdict v);

/* Write d/n to path atomically (same directory, fsync, rename), mode
 * 0644 so sshd and the unprivileged principals command can read it. */
int krlsync_install(const char *path, const uint8_t *d, size_t n);

/*
 * --init: when path does not exist, write an empty KRL of version 0
 * (older than any the CA serves, so the first sync replaces it) dated
 * now; *created says whether it did. An existing file, whatever it
 * holds, is left alone (EPH_OK, *created 0).
 */
int krlsync_init(const char *path, uint64_t now, int *created);

/*
 * Take the lock that serialises runs: flock on "<path>.lock" (created
 * 0600, never followed through a symbolic link). Waits for a run
 * holding it; *waited says whether one did. *fd is the lock to close.
 */
int krlsync_lock(const char *path, int *fd, int *waited);

#endif

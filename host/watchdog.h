/*
 * The session watchdog: ends an ephemeral session when its certificate
 * expires or its serial appears in the host's KRL. pam_ephemeral starts
 * one ephemeral-watchdog per session it opens; the watchdog lives as
 * long as the sshd process that ran the PAM session (its "lifeline", a
 * socket that process holds, reads end-of-file when it closes) and needs
 * neither systemd nor the CA.
 */
#ifndef EPH_WATCHDOG_H
#define EPH_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cert.h"

/* Seconds between looks at the KRL file (a stat; it is read again only
 * when it changed), well inside the 60 s a revocation may take. */
#define WATCHDOG_KRL_INTERVAL 5
/* Seconds the session's processes get between SIGTERM and SIGKILL. */
#define WATCHDOG_GRACE 3
/* The longest handshake line (certificate type, space, base64). */
#define WATCHDOG_LINE_MAX (24u * 1024u)

enum watchdog_end {
	WATCHDOG_GONE = 0, /* the session ended by itself (lifeline closed, process gone) */
	WATCHDOG_EXPIRED, /* now >= the certificate's valid_before */
	WATCHDOG_REVOKED, /* the KRL file revokes the certificate */
	WATCHDOG_KRL_UNREADABLE, /* the KRL file stayed unusable on two looks in a row */
};

/* "gone", "expired", "revoked", "krl_unreadable" (EPH_REASON). */
const char *watchdog_end_name(enum watchdog_end e);

struct watchdog_watch {
	pid_t pid; /* the sshd process of the session */
	uint64_t start; /* its start time (spool_conn_of), against pid reuse */
	int lifeline; /* -1: none, the process alone is watched */
	const struct cert *cert;
	const char *krl_path;
	unsigned krl_interval_ms; /* 0: WATCHDOG_KRL_INTERVAL s */
};

/*
 * Wait until the session ends or must be ended. Checks the clock against
 * cert->valid_before (waking on time for it), the KRL file every
 * krl_interval_ms, the lifeline whenever it becomes readable, and the
 * process at every wake. A KRL file that cannot be stat'd, read or
 * parsed, or fails the check for another reason, is looked at again
 * after one interval and ends the session when it is still unusable
 * (fail closed, as sshd refuses logins then). detail gets a sentence for
 * the log.
 */
enum watchdog_end watchdog_watch(const struct watchdog_watch *w, char *detail, size_t len);

/* What watchdog_end_session did. */
struct watchdog_ended {
	size_t signalled; /* processes sent SIGTERM or SIGHUP */
	size_t killed; /* of those and of late ones, sent SIGKILL */
	size_t notified; /* terminals told why */
};

/*
 * End the session of the sshd process pid (started at start): tell the
 * terminals of the session's processes owned by uid why (notice, may be
 * NULL), then SIGTERM sshd's process (sshd ends the session, closes its
 * terminal and runs PAM's close_session) and SIGHUP + SIGTERM its other
 * descendants and the processes of uid left in sessions (setsid) of
 * those descendants; SIGKILL what is still there after grace_ms.
 * Sessions of sshd's own ancestors (the listener's) are never touched;
 * neither are processes that left with setsid and a double fork before
 * this ran. EPH_ERR_NOTFOUND when the process is already gone.
 */
int watchdog_end_session(pid_t pid, uint64_t start, uid_t uid, const char *notice,
    unsigned grace_ms, struct watchdog_ended *out);

#endif

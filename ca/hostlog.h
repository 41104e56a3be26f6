/*
 * The hosts' records of a grant, for the auditor's timeline (sshca audit
 * timeline): read from journal files through sd_journal (the local
 * journal, or directories systemd-journal-remote wrote) or from syslog
 * files, keeping only records of pam_ephemeral and ephemeral-principals
 * (SYSLOG_IDENTIFIER) that name a given serial or grant id.
 */
#ifndef SSHCA_HOSTLOG_H
#define SSHCA_HOSTLOG_H

#include <stddef.h>
#include <stdint.h>

/* Lines longer than this are not ours (our logger writes at most 32
 * short fields); a quoted value longer than HOSTLOG_MAX_VALUE neither. */
#define HOSTLOG_MAX_LINE 16384
#define HOSTLOG_MAX_VALUE 4096
#define HOSTLOG_MAX_FIELDS 64

struct hostlog_field {
	char *name; /* "EPH_SERIAL", "SYSLOG_IDENTIFIER", ... */
	char *value;
};

/* One host record. Strings are never NULL; "" when unknown. */
struct hostlog_rec {
	uint64_t usec; /* realtime, microseconds since the epoch */
	char *host; /* EPH_HOST, else journald's _HOSTNAME, else the syslog line's host */
	char *ident; /* SYSLOG_IDENTIFIER */
	char *message_id; /* MESSAGE_ID; "" from syslog (the line has none) */
	char *source; /* "journal", "journal:DIR" or "syslog:FILE:LINE" */
	struct hostlog_field *f; /* the EPH_* fields, as logged */
	size_t nf;
};

struct hostlog_list {
	struct hostlog_rec *v;
	size_t n;
};

void hostlog_rec_clear(struct hostlog_rec *r);
void hostlog_list_free(struct hostlog_list *l);

/* The value of field name in r, or NULL. */
const char *hostlog_get(const struct hostlog_rec *r, const char *name);

/* What a host record says happened. */
enum hostlog_event {
	HOSTLOG_OTHER = 0, /* ours, of no known kind (e.g. a spool failure) */
	HOSTLOG_LOGIN_ACCEPTED, /* ephemeral-principals accepted the certificate */
	HOSTLOG_LOGIN_REFUSED, /* ephemeral-principals refused it */
	HOSTLOG_SESSION_REFUSED, /* pam_ephemeral refused the session */
	HOSTLOG_SESSION_START,
	HOSTLOG_SESSION_END,
	HOSTLOG_SESSION_TERMINATED, /* the watchdog ended it (expired, revoked) */
	HOSTLOG_NEVENTS
};

/* By MESSAGE_ID (host/events.h) when there is one; a syslog line has
 * none, so then by SYSLOG_IDENTIFIER, EPH_DECISION and EPH_DURATION,
 * which tell the same events apart. */
enum hostlog_event hostlog_event_of(const struct hostlog_rec *r);
/* "login-accepted", "session-start", ...; "host-other" for OTHER. */
const char *hostlog_event_name(enum hostlog_event e);

/* Which records to keep: EPH_SERIAL = serial (when non-zero) or
 * EPH_GRANT = grant (when non-NULL). */
struct hostlog_match {
	uint64_t serial;
	const char *grant;
};

/*
 * Parse one syslog line: rsyslog's traditional "Mmm dd hh:mm:ss HOST
 * TAG: MSG" or RFC 3339 "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm) HOST TAG:
 * MSG", MSG being our logger's message followed by its key=value fields
 * (lib/log.c). A traditional stamp has no year or zone: it is read in
 * the local time zone, in the year that puts it nearest to ref (seconds
 * since the epoch). EPH_OK (*out filled, source left ""), EPH_ERR_NOTFOUND
 * for a line that is not one of ours (any other program's, or
 * unparseable), EPH_ERR_NOMEM.
 */
int hostlog_parse_syslog(const char *line, size_t len, int64_t ref, struct hostlog_rec *out);

/* Does r name m's serial or grant? */
int hostlog_matches(const struct hostlog_rec *r, const struct hostlog_match *m);

/*
 * Append the matching records of a syslog file to l. EPH_ERR_IO (errno
 * text in why) when the file cannot be opened or read; EPH_ERR_NOMEM.
 */
int hostlog_read_syslog(const char *path, const struct hostlog_match *m, int64_t ref,
    struct hostlog_list *l, char *why, size_t len);

/*
 * Append the matching records of a journal to l: the local one
 * (SD_JOURNAL_LOCAL_ONLY) when dir is NULL, else the journal files in
 * dir (and its subdirectories, as sd_journal_open_directory reads
 * them). A dir that is missing, unreadable, or holds no journal file is
 * an error (EPH_ERR_IO, why says which), never an empty result.
 */
int hostlog_read_journal(
    const char *dir, const struct hostlog_match *m, struct hostlog_list *l, char *why, size_t len);

#endif

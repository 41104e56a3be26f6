/* Structured event logging: one journald record with upper-case fields
 * and one LOG_AUTHPRIV syslog line with the same facts as key=value.
 * Where journald listens, the record alone (its MESSAGE is the line, and
 * journald feeds syslog); elsewhere, the syslog line alone. */
#ifndef EPH_LOG_H
#define EPH_LOG_H

#include <stddef.h>

struct log_field {
	const char *name; /* upper case, e.g. "EPH_SERIAL" */
	const char *value;
};

/* Where the syslog line goes; the PAM module routes it to pam_syslog. */
typedef void (*log_syslog_fn)(int priority, const char *line, void *ctx);

/* Replace the syslog sink (NULL restores syslog(3)). */
void eph_log_set_syslog(log_syslog_fn fn, void *ctx);
/* 0: syslog only; 1: journald (syslog only for a record that could not
 * be sent); -1 (default): journald when its socket exists. */
void eph_log_set_journal(int on);

/* 1 when standard error is a journal stream (systemd's JOURNAL_STREAM
 * names its device and inode): a line there would be the record again. */
int eph_log_stderr_is_journal(void);

/*
 * Log one event: priority (LOG_*), message_id (32 hex digits, stable per
 * event type, may be NULL), fields, and a printf-style human message.
 * Fields with a NULL value are left out. Returns EPH_OK or an error;
 * logging failures never abort the caller's work.
 */
int eph_log(int priority, const char *message_id, const struct log_field *fields, size_t nfields,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif

/* One event, two streams: a journald record with upper-case fields and a
 * LOG_AUTHPRIV syslog line carrying the same facts as key=value. Where
 * journald listens it owns /dev/log and feeds syslog itself (Debian's
 * ForwardToSyslog=yes, rsyslog's imjournal on RHEL), so there the record
 * alone is sent, its MESSAGE being the syslog line: a syslog(3) copy
 * would put every event into both streams twice. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#ifdef EPH_LOG_JOURNAL_DLOPEN
#include <dlfcn.h>
#else
#include <systemd/sd-journal.h>
#endif

#include "buf.h"
#include "err.h"
#include "log.h"

#define LOG_MAX_FIELDS 32
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

#ifdef EPH_LOG_JOURNAL_DLOPEN
/*
 * For a program exec'd for every login (ephemeral-principals): libsystemd
 * is loaded only when journald listens. Mapping it and the six libraries
 * it pulls in costs more than all of that program's own work, and hosts
 * without journald never need it.
 */
static int (*journal_sendv)(const struct iovec *iov, int n);

static int
journal_load(void)
{
	void *h;

	if (journal_sendv != NULL)
		return 1;
	if ((h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL)) == NULL)
		return 0;
	*(void **)&journal_sendv = dlsym(h, "sd_journal_sendv");
	return journal_sendv != NULL;
}
#else
#define journal_sendv sd_journal_sendv
#define journal_load() 1
#endif

static log_syslog_fn syslog_fn;
static void *syslog_ctx;
static int journal_mode = -1; /* -1: decide by socket presence */

void
eph_log_set_syslog(log_syslog_fn fn, void *ctx)
{
	syslog_fn = fn;
	syslog_ctx = ctx;
}

void
eph_log_set_journal(int on)
{
	journal_mode = on < 0 ? -1 : on > 0;
}

static int
journal_on(void)
{
	if (journal_mode >= 0)
		return journal_mode;
	return access(JOURNAL_SOCKET, W_OK) == 0;
}

int
eph_log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Field names as journald accepts them: upper case, digits, '_', not
 * starting with '_' or a digit. */
static int
field_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0' || *s == '_' || (*s >= '0' && *s <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return i <= 64;
}

/* key=value; quoted with escapes when the value has spaces, quotes,
 * backslashes or control characters, so one event stays one line. */
static int
put_kv(struct buf *b, const char *name, const char *value)
{
	const unsigned char *v;
	char esc[8];
	int quote = *value == '\0', r;

	for (v = (const unsigned char *)value; *v != '\0'; v++)
		if (*v <= ' ' || *v == '"' || *v == '\\' || *v == '=' || *v == 0x7f)
			quote = 1;
	if ((r = buf_put(b, " ", 1)) != EPH_OK || (r = buf_put(b, name, strlen(name))) != EPH_OK ||
	    (r = buf_put(b, "=", 1)) != EPH_OK)
		return r;
	if (!quote)
		return buf_put(b, value, strlen(value));
	if ((r = buf_put(b, "\"", 1)) != EPH_OK)
		return r;
	for (v = (const unsigned char *)value; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*v;
			r = buf_put(b, esc, 2);
		} else if (*v < ' ' || *v == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *v);
			r = buf_put(b, esc, 4);
		} else {
			r = buf_put(b, v, 1);
		}
		if (r != EPH_OK)
			return r;
	}
	return buf_put(b, "\"", 1);
}

static int
journal_send(int priority, const char *message_id, const struct log_field *fields, size_t nfields,
    const char *msg)
{
	struct iovec iov[LOG_MAX_FIELDS + 4];
	char *strs[LOG_MAX_FIELDS + 4];
	size_t i, n = 0;
	int r = EPH_ERR_NOMEM;

	memset(strs, 0, sizeof(strs));
	/* LOG_AUTHPRIV, as the syslog line would be: what journald forwards
	 * lands in auth.log, not in the world-readable files. */
	if (asprintf(&strs[n++], "MESSAGE=%s", msg) < 0 ||
	    asprintf(&strs[n++], "PRIORITY=%d", priority & LOG_PRIMASK) < 0 ||
	    asprintf(&strs[n++], "SYSLOG_FACILITY=%d", LOG_AUTHPRIV >> 3) < 0) {
		strs[n - 1] = NULL;
		goto out;
	}
	if (message_id != NULL && asprintf(&strs[n++], "MESSAGE_ID=%s", message_id) < 0) {
		strs[n - 1] = NULL;
		goto out;
	}
	for (i = 0; i < nfields; i++) {
		if (fields[i].value == NULL)
			continue;
		if (asprintf(&strs[n++], "%s=%s", fields[i].name, fields[i].value) < 0) {
			strs[n - 1] = NULL;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = strs[i];
		iov[i].iov_len = strlen(strs[i]);
	}
	r = !journal_load() || journal_sendv(iov, (int)n) < 0 ? EPH_ERR_IO : EPH_OK;
out:
	for (i = 0; i < n; i++)
		free(strs[i]);
	return r;
}

int
eph_log(int priority, const char *message_id, const struct log_field *fields, size_t nfields,
    const char *fmt, ...)
{
	struct buf line;
	char *msg = NULL;
	va_list ap;
	size_t i;
	int r;

	if (nfields > LOG_MAX_FIELDS || (nfields > 0 && fields == NULL))
		return EPH_ERR_INVAL;
	for (i = 0; i < nfields; i++)
		if (!field_name_ok(fields[i].name))
			return EPH_ERR_INVAL;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return EPH_ERR_NOMEM;

	buf_init(&line);
	if ((r = buf_put(&line, msg, strlen(msg))) != EPH_OK)
		goto out;
	for (i = 0; i < nfields; i++)
		if (fields[i].value != NULL &&
		    (r = put_kv(&line, fields[i].name, fields[i].value)) != EPH_OK)
			goto out;
	if ((r = buf_put_u8(&line, 0)) != EPH_OK)
		goto out;

	/* The journal when it listens; syslog when it does not, or when the
	 * record did not go (journald gone or refusing it): nothing is lost. */
	if (journal_on() &&
	    journal_send(priority, message_id, fields, nfields, (const char *)line.d) == EPH_OK)
		goto out;
	if (syslog_fn != NULL)
		syslog_fn(priority, (const char *)line.d, syslog_ctx);
	else
		syslog(LOG_AUTHPRIV | (priority & LOG_PRIMASK), "%s", (const char *)line.d);
out:
	buf_free(&line);
	free(msg);
	return r;
}

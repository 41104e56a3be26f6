/* The hosts' records of a grant from journal files (sd_journal) and
 * syslog files, for sshca audit timeline. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "err.h"
#include "events.h"
#include "hostlog.h"
#include "util.h"

#define IDENT_PAM "pam_ephemeral"
#define IDENT_PRINCIPALS "ephemeral-principals"

void
hostlog_rec_clear(struct hostlog_rec *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nf; i++) {
		free(r->f[i].name);
		free(r->f[i].value);
	}
	free(r->f);
	free(r->host);
	free(r->ident);
	free(r->message_id);
	free(r->source);
	memset(r, 0, sizeof(*r));
}

void
hostlog_list_free(struct hostlog_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		hostlog_rec_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const char *
hostlog_get(const struct hostlog_rec *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return r->f[i].value;
	return NULL;
}

static const char *const event_names[HOSTLOG_NEVENTS] = {
    "host-other",
    "login-accepted",
    "login-refused",
    "session-refused",
    "session-start",
    "session-end",
    "session-terminated",
};

const char *
hostlog_event_name(enum hostlog_event e)
{
	return (unsigned)e < HOSTLOG_NEVENTS ? event_names[e] : event_names[HOSTLOG_OTHER];
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

enum hostlog_event
hostlog_event_of(const struct hostlog_rec *r)
{
	static const struct {
		const char *id;
		enum hostlog_event e;
	} ids[] = {
	    {HOST_MSGID_PRINCIPALS_ACCEPTED, HOSTLOG_LOGIN_ACCEPTED},
	    {HOST_MSGID_PRINCIPALS_REFUSED, HOSTLOG_LOGIN_REFUSED},
	    {HOST_MSGID_PAM_REFUSED, HOSTLOG_SESSION_REFUSED},
	    {HOST_MSGID_PAM_SESSION_START, HOSTLOG_SESSION_START},
	    {HOST_MSGID_PAM_SESSION_END, HOSTLOG_SESSION_END},
	    {HOST_MSGID_PAM_SESSION_TERMINATED, HOSTLOG_SESSION_TERMINATED},
	};
	const char *dec = hostlog_get(r, "EPH_DECISION");
	size_t i;

	if (r->message_id[0] != '\0') {
		for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			if (strcmp(r->message_id, ids[i].id) == 0)
				return ids[i].e;
		return HOSTLOG_OTHER;
	}
	if (strcmp(r->ident, IDENT_PRINCIPALS) == 0) {
		if (streq(dec, "accepted"))
			return HOSTLOG_LOGIN_ACCEPTED;
		if (streq(dec, "refused"))
			return HOSTLOG_LOGIN_REFUSED;
		return HOSTLOG_OTHER;
	}
	if (strcmp(r->ident, IDENT_PAM) == 0) {
		if (streq(dec, "accepted"))
			return HOSTLOG_SESSION_START;
		if (streq(dec, "refused"))
			return HOSTLOG_SESSION_REFUSED;
		if (streq(dec, "terminated"))
			return HOSTLOG_SESSION_TERMINATED;
		if (dec == NULL && hostlog_get(r, "EPH_DURATION") != NULL)
			return HOSTLOG_SESSION_END;
	}
	return HOSTLOG_OTHER;
}

int
hostlog_matches(const struct hostlog_rec *r, const struct hostlog_match *m)
{
	const char *s = hostlog_get(r, "EPH_SERIAL"), *g = hostlog_get(r, "EPH_GRANT");
	uint64_t v;

	if (m->serial != 0 && s != NULL && parse_u64(s, &v) == EPH_OK && v == m->serial)
		return 1;
	return m->grant != NULL && streq(g, m->grant);
}

static int
ours(const char *ident)
{
	return strcmp(ident, IDENT_PAM) == 0 || strcmp(ident, IDENT_PRINCIPALS) == 0;
}

/* Keep a field of a record: the EPH_* ones, whole. */
static int
rec_add_field(struct hostlog_rec *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct hostlog_field *nf;
	char *n = NULL, *v = NULL;

	if (r->nf >= HOSTLOG_MAX_FIELDS)
		return EPH_ERR_FORMAT;
	if ((n = strndup(name, nlen)) == NULL || (v = strndup(value, vlen)) == NULL ||
	    (nf = realloc(r->f, (r->nf + 1) * sizeof(*nf))) == NULL) {
		free(n);
		free(v);
		return EPH_ERR_NOMEM;
	}
	r->f = nf;
	r->f[r->nf].name = n;
	r->f[r->nf].value = v;
	r->nf++;
	return EPH_OK;
}

static int
set_str(char **slot, const char *s, size_t n)
{
	char *c;

	if ((c = strndup(s, n)) == NULL)
		return EPH_ERR_NOMEM;
	free(*slot);
	*slot = c;
	return EPH_OK;
}

/* Every string of a record set (to "" when nothing better is known). */
static int
rec_finish(struct hostlog_rec *r, const char *fallback_host, size_t fhlen)
{
	const char *h = hostlog_get(r, "EPH_HOST");
	int e;

	if (h != NULL && *h != '\0')
		e = set_str(&r->host, h, strlen(h));
	else if (r->host == NULL)
		e = set_str(&r->host, fallback_host, fhlen);
	else
		e = EPH_OK;
	if (e != EPH_OK || (r->ident == NULL && (e = set_str(&r->ident, "", 0)) != EPH_OK) ||
	    (r->message_id == NULL && (e = set_str(&r->message_id, "", 0)) != EPH_OK) ||
	    (r->source == NULL && (e = set_str(&r->source, "", 0)) != EPH_OK))
		return e;
	return EPH_OK;
}

static int
list_push(struct hostlog_list *l, struct hostlog_rec *r)
{
	struct hostlog_rec *nv;

	if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL)
		return EPH_ERR_NOMEM;
	l->v = nv;
	l->v[l->n++] = *r;
	memset(r, 0, sizeof(*r));
	return EPH_OK;
}

/* ------------------------------------------------------------- syslog */

/* A read position in one line: every access is checked against len. */
struct cur {
	const char *s;
	size_t len, i;
};

static int
cur_peek(const struct cur *c)
{
	return c->i < c->len ? (unsigned char)c->s[c->i] : -1;
}

static int
cur_digits(struct cur *c, size_t n, int *out)
{
	size_t k;
	int v = 0;

	for (k = 0; k < n; k++) {
		int ch = cur_peek(c);

		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
		c->i++;
	}
	*out = v;
	return 0;
}

static int
cur_lit(struct cur *c, char ch)
{
	if (cur_peek(c) != (unsigned char)ch)
		return -1;
	c->i++;
	return 0;
}

/* A token up to a space (or the end), at least one character. */
static int
cur_word(struct cur *c, size_t *start, size_t *n)
{
	*start = c->i;
	while (c->i < c->len && c->s[c->i] != ' ')
		c->i++;
	*n = c->i - *start;
	return *n > 0 ? 0 : -1;
}

static int
tm_ok(const struct tm *tm)
{
	return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 && tm->tm_mday <= 31 &&
	    tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60;
}

/* "2026-12-01T11:00:00[.123456](Z|+00:00)" */
static int
stamp_rfc3339(struct cur *c, uint64_t *usec)
{
	struct tm tm;
	int y, mo, d, h, mi, s, oh, om, sign = 0, ch;
	uint64_t frac = 0, scale = 1000000;
	int64_t t;

	memset(&tm, 0, sizeof(tm));
	if (cur_digits(c, 4, &y) || cur_lit(c, '-') || cur_digits(c, 2, &mo) || cur_lit(c, '-') ||
	    cur_digits(c, 2, &d) || cur_lit(c, 'T') || cur_digits(c, 2, &h) || cur_lit(c, ':') ||
	    cur_digits(c, 2, &mi) || cur_lit(c, ':') || cur_digits(c, 2, &s))
		return -1;
	if (cur_peek(c) == '.') {
		c->i++;
		if ((ch = cur_peek(c)) < '0' || ch > '9')
			return -1;
		while ((ch = cur_peek(c)) >= '0' && ch <= '9') {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(ch - '0') * scale;
			}
			c->i++;
		}
	}
	ch = cur_peek(c);
	if (ch == 'Z') {
		c->i++;
		oh = om = 0;
	} else if (ch == '+' || ch == '-') {
		sign = ch == '-' ? -1 : 1;
		c->i++;
		if (cur_digits(c, 2, &oh) || cur_lit(c, ':') || cur_digits(c, 2, &om) || oh > 23 ||
		    om > 59)
			return -1;
	} else {
		return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	if (!tm_ok(&tm) || y < 1970)
		return -1;
	t = (int64_t)timegm(&tm);
	if (sign != 0)
		t -= sign * (int64_t)(oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*usec = (uint64_t)t * 1000000u + frac;
	return 0;
}

/* "Dec  1 11:00:00": local time, in the year nearest to ref. */
static int
stamp_traditional(struct cur *c, int64_t ref, uint64_t *usec)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm, rt;
	time_t rtt = (time_t)ref;
	int mo = -1, d, h, mi, s, k, ch;
	int64_t best = -1, t;

	memset(&tm, 0, sizeof(tm));
	if (c->len - c->i < 3)
		return -1;
	for (k = 0; k < 12; k++)
		if (memcmp(c->s + c->i, months + 3 * k, 3) == 0)
			mo = k;
	if (mo < 0)
		return -1;
	c->i += 3;
	if (cur_lit(c, ' '))
		return -1;
	if (cur_peek(c) == ' ')
		c->i++;
	if ((ch = cur_peek(c)) < '0' || ch > '9')
		return -1;
	d = ch - '0';
	c->i++;
	if ((ch = cur_peek(c)) >= '0' && ch <= '9') {
		d = d * 10 + (ch - '0');
		c->i++;
	}
	if (cur_lit(c, ' ') || cur_digits(c, 2, &h) || cur_lit(c, ':') || cur_digits(c, 2, &mi) ||
	    cur_lit(c, ':') || cur_digits(c, 2, &s))
		return -1;
	if (gmtime_r(&rtt, &rt) == NULL)
		return -1;
	for (k = -1; k <= 1; k++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = rt.tm_year + k;
		tm.tm_mon = mo;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = s;
		tm.tm_isdst = -1;
		if (!tm_ok(&tm))
			return -1;
		if ((t = (int64_t)mktime(&tm)) < 0)
			continue;
		if (best < 0 || llabs(t - ref) < llabs(best - ref))
			best = t;
	}
	if (best < 0)
		return -1;
	*usec = (uint64_t)best * 1000000u;
	return 0;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
name_char(int ch, int first)
{
	if (ch >= 'A' && ch <= 'Z')
		return 1;
	return !first && ((ch >= '0' && ch <= '9') || ch == '_');
}

/*
 * One " NAME=value" of put_kv's at c->s[i]: where it ends, or 0 when
 * none starts there. A value is bare (no space, quote, backslash, '=' or
 * control character) or quoted with \" \\ and \xHH escapes.
 */
static size_t
kv_end(const char *s, size_t len, size_t i)
{
	size_t k, n = 0;
	unsigned char ch;

	if (i >= len || s[i] != ' ')
		return 0;
	for (k = i + 1; k < len && name_char((unsigned char)s[k], k == i + 1); k++)
		if (++n > 64)
			return 0;
	if (n == 0 || k >= len || s[k] != '=')
		return 0;
	k++;
	if (k < len && s[k] == '"') {
		for (k++, n = 0; k < len && n <= HOSTLOG_MAX_VALUE; k++, n++) {
			ch = (unsigned char)s[k];
			if (ch == '"')
				return k + 1 < len && s[k + 1] != ' ' ? 0 : k + 1;
			if (ch < ' ' || ch == 0x7f)
				return 0;
			if (ch == '\\') {
				if (k + 1 >= len)
					return 0;
				if (s[k + 1] == '"' || s[k + 1] == '\\')
					k++;
				else if (s[k + 1] == 'x' && k + 3 < len && is_hex(s[k + 2]) &&
				    is_hex(s[k + 3]))
					k += 3;
				else
					return 0;
			}
		}
		return 0;
	}
	for (n = 0; k < len && s[k] != ' '; k++, n++) {
		ch = (unsigned char)s[k];
		if (ch < ' ' || ch == '"' || ch == '\\' || ch == '=' || ch == 0x7f ||
		    n >= HOSTLOG_MAX_VALUE)
			return 0;
	}
	return n > 0 ? k : 0;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* Decode the field s[i..end) (kv_end accepted it) into r. */
static int
kv_take(struct hostlog_rec *r, const char *s, size_t i, size_t end)
{
	char val[HOSTLOG_MAX_VALUE + 1];
	size_t k = i + 1, name = k, nlen, n = 0;

	while (s[k] != '=')
		k++;
	nlen = k - name;
	k++;
	if (s[k] == '"') {
		for (k++; k < end - 1 && n < HOSTLOG_MAX_VALUE; k++) {
			if (s[k] == '\\' && s[k + 1] == 'x') {
				val[n++] = (char)(hexval(s[k + 2]) * 16 + hexval(s[k + 3]));
				k += 3;
			} else if (s[k] == '\\') {
				val[n++] = s[++k];
			} else {
				val[n++] = s[k];
			}
		}
	} else {
		for (; k < end && n < HOSTLOG_MAX_VALUE; k++)
			val[n++] = s[k];
	}
	val[n] = '\0';
	if (nlen == strlen("SYSLOG_IDENTIFIER") && memcmp(s + name, "SYSLOG_IDENTIFIER", nlen) == 0)
		return set_str(&r->ident, val, n);
	if (nlen > 4 && memcmp(s + name, "EPH_", 4) == 0)
		return rec_add_field(r, s + name, nlen, val, n);
	return EPH_OK;
}

int
hostlog_parse_syslog(const char *line, size_t len, int64_t ref, struct hostlog_rec *out)
{
	struct cur c = {line, len, 0};
	unsigned char *tail = NULL;
	size_t hs, hn, ts, tn, msg, k, e, start;
	int ch, r = EPH_ERR_NOTFOUND;

	memset(out, 0, sizeof(*out));
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	c.len = len;
	if (len == 0 || len > HOSTLOG_MAX_LINE)
		goto out;
	ch = cur_peek(&c);
	if ((ch >= '0' && ch <= '9' ? stamp_rfc3339(&c, &out->usec)
	                            : stamp_traditional(&c, ref, &out->usec)) != 0)
		goto out;
	if (cur_lit(&c, ' ') || cur_word(&c, &hs, &hn) || cur_lit(&c, ' ') ||
	    cur_word(&c, &ts, &tn) || line[ts + tn - 1] != ':')
		goto out;
	msg = c.i;
	/*
	 * The fields are the longest tail of put_kv pairs: tail[k] says
	 * whether the pairs from k run to the end of the line. Computed from
	 * the right, so each position is looked at once.
	 */
	if ((tail = calloc(len + 1, 1)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	tail[len] = 1;
	start = len;
	for (k = len; k-- > msg;) {
		if ((e = kv_end(line, len, k)) != 0 && tail[e]) {
			tail[k] = 1;
			start = k;
		}
	}
	if (start == len)
		goto out;
	for (k = start; k < len; k = e) {
		e = kv_end(line, len, k);
		if ((r = kv_take(out, line, k, e)) != EPH_OK) {
			if (r == EPH_ERR_FORMAT)
				r = EPH_ERR_NOTFOUND; /* more fields than ours have */
			goto out;
		}
	}
	r = EPH_ERR_NOTFOUND;
	if (out->ident == NULL || !ours(out->ident))
		goto out;
	r = rec_finish(out, line + hs, hn);
out:
	free(tail);
	if (r != EPH_OK)
		hostlog_rec_clear(out);
	return r;
}

int
hostlog_read_syslog(const char *path, const struct hostlog_match *m, int64_t ref,
    struct hostlog_list *l, char *why, size_t len)
{
	struct hostlog_rec rec;
	struct stat sb;
	char *line = NULL, src[64];
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	FILE *f = NULL;
	int fd, r = EPH_ERR_IO;

	memset(&rec, 0, sizeof(rec));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, len, "%s: %s", path, "not a regular file");
		close(fd);
		goto out;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	errno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		r = hostlog_parse_syslog(line, (size_t)n, ref, &rec);
		if (r == EPH_ERR_NOTFOUND)
			continue;
		if (r != EPH_OK)
			goto nomem;
		if (!hostlog_matches(&rec, m)) {
			hostlog_rec_clear(&rec);
			continue;
		}
		snprintf(src, sizeof(src), ":%lu", lineno);
		free(rec.source);
		if (asprintf(&rec.source, "syslog:%s%s", path, src) < 0) {
			rec.source = NULL;
			goto nomem;
		}
		if (list_push(l, &rec) != EPH_OK)
			goto nomem;
	}
	if (ferror(f)) {
		snprintf(why, len, "%s: %s", path, strerror(errno != 0 ? errno : EIO));
		r = EPH_ERR_IO;
		goto out;
	}
	r = EPH_OK;
	goto out;
nomem:
	snprintf(why, len, "%s: out of memory", path);
	r = EPH_ERR_NOMEM;
out:
	hostlog_rec_clear(&rec);
	free(line);
	if (f != NULL)
		fclose(f);
	return r;
}

/* ------------------------------------------------------------ journal */

static int
is_journal_file(const char *name)
{
	size_t n = strlen(name);

	return (n > 8 && strcmp(name + n - 8, ".journal") == 0) ||
	    (n > 9 && strcmp(name + n - 9, ".journal~") == 0);
}

/*
 * sd_journal_open_directory takes a missing or empty directory, and
 * skips files it cannot open, without a word: count what is there
 * first, so that an auditor never reads "no host records" off a typo.
 */
static int
journal_dir_check(const char *dir, int depth, size_t *nfiles, char *why, size_t len)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	char *p;
	int fd, r = EPH_OK;

	if ((d = opendir(dir)) == NULL) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return EPH_ERR_IO;
	}
	while (r == EPH_OK && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
			snprintf(why, len, "%s: out of memory", dir);
			r = EPH_ERR_NOMEM;
			break;
		}
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && depth == 0) {
			r = journal_dir_check(p, 1, nfiles, why, len);
		} else if (is_journal_file(de->d_name)) {
			if ((fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
				snprintf(why, len, "%s: %s", p, strerror(errno));
				r = EPH_ERR_IO;
			} else {
				close(fd);
				(*nfiles)++;
			}
		}
		free(p);
	}
	if (r == EPH_OK && errno != 0) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		r = EPH_ERR_IO;
	}
	closedir(d);
	return r;
}

/* One journal entry at the cursor as a record (ours or not). */
static int
journal_entry(sd_journal *j, struct hostlog_rec *rec, char *why, size_t len)
{
	const void *d;
	size_t n, k;
	const char *s;
	int e;

	memset(rec, 0, sizeof(*rec));
	if ((e = sd_journal_get_realtime_usec(j, &rec->usec)) < 0) {
		snprintf(why, len, "cannot read an entry's time: %s", strerror(-e));
		return EPH_ERR_IO;
	}
	sd_journal_restart_data(j);
	while ((e = sd_journal_enumerate_data(j, &d, &n)) > 0) {
		s = d;
		for (k = 0; k < n && s[k] != '='; k++)
			;
		if (k == n)
			continue;
		if (k == 17 && memcmp(s, "SYSLOG_IDENTIFIER", 17) == 0)
			e = set_str(&rec->ident, s + 18, n - 18);
		else if (k == 10 && memcmp(s, "MESSAGE_ID", 10) == 0)
			e = set_str(&rec->message_id, s + 11, n - 11);
		else if (k == 9 && memcmp(s, "_HOSTNAME", 9) == 0)
			e = set_str(&rec->host, s + 10, n - 10);
		else if (k > 4 && memcmp(s, "EPH_", 4) == 0)
			e = rec_add_field(rec, s, k, s + k + 1, n - k - 1);
		else
			e = EPH_OK;
		if (e == EPH_ERR_FORMAT)
			continue; /* more fields than any record of ours has */
		if (e != EPH_OK) {
			snprintf(why, len, "out of memory");
			return e;
		}
	}
	if (e < 0) {
		snprintf(why, len, "cannot read an entry: %s", strerror(-e));
		return EPH_ERR_IO;
	}
	if ((e = rec_finish(rec, "", 0)) != EPH_OK)
		snprintf(why, len, "out of memory");
	return e;
}

int
hostlog_read_journal(
    const char *dir, const struct hostlog_match *m, struct hostlog_list *l, char *why, size_t len)
{
	struct hostlog_rec rec;
	sd_journal *j = NULL;
	char *match = NULL, w[256];
	size_t nfiles = 0;
	int e, r;

	memset(&rec, 0, sizeof(rec));
	if (dir != NULL) {
		if ((r = journal_dir_check(dir, 0, &nfiles, why, len)) != EPH_OK)
			return r;
		if (nfiles == 0) {
			snprintf(why, len, "%s: no journal files (*.journal) in it", dir);
			return EPH_ERR_IO;
		}
		e = sd_journal_open_directory(&j, dir, 0);
	} else {
		e = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	}
	r = EPH_ERR_IO;
	if (e < 0) {
		snprintf(why, len, "%s: cannot open the journal: %s", dir != NULL ? dir : "local",
		    strerror(-e));
		goto out;
	}
	r = EPH_ERR_NOMEM;
	if (m->serial != 0) {
		if (asprintf(&match, "EPH_SERIAL=%llu", (unsigned long long)m->serial) < 0) {
			match = NULL;
			goto fail;
		}
		if ((e = sd_journal_add_match(j, match, 0)) < 0)
			goto jfail;
		free(match);
		match = NULL;
	}
	if (m->grant != NULL) {
		if (m->serial != 0 && (e = sd_journal_add_disjunction(j)) < 0)
			goto jfail;
		if (asprintf(&match, "EPH_GRANT=%s", m->grant) < 0) {
			match = NULL;
			goto fail;
		}
		if ((e = sd_journal_add_match(j, match, 0)) < 0)
			goto jfail;
	}
	while ((e = sd_journal_next(j)) > 0) {
		if ((r = journal_entry(j, &rec, w, sizeof(w))) != EPH_OK) {
			snprintf(why, len, "%s: %s", dir != NULL ? dir : "local journal", w);
			goto out;
		}
		if (!ours(rec.ident) || !hostlog_matches(&rec, m)) {
			hostlog_rec_clear(&rec);
			continue;
		}
		free(rec.source);
		if (dir != NULL ? asprintf(&rec.source, "journal:%s", dir) < 0
		                : (rec.source = strdup("journal")) == NULL) {
			rec.source = NULL;
			goto fail;
		}
		if (list_push(l, &rec) != EPH_OK)
			goto fail;
	}
	if (e < 0)
		goto jfail;
	r = EPH_OK;
	goto out;
jfail:
	snprintf(why, len, "%s: %s", dir != NULL ? dir : "local journal", strerror(-e));
	r = EPH_ERR_IO;
	goto out;
fail:
	snprintf(why, len, "out of memory");
	r = EPH_ERR_NOMEM;
out:
	hostlog_rec_clear(&rec);
	free(match);
	if (j != NULL)
		sd_journal_close(j);
	return r;
}

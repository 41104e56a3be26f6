/*
 * libconfig plumbing shared by every ephssh configuration file: careful
 * reading, refusing @include, keyword tables, typed getters and
 * "file:line: message" errors (see conf.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "fileio.h"
#include "grant.h"
#include "util.h"

#define CONF_MSG_MAX 1024

static void
errors_add(struct conf *c, struct policy_errors *e, const char *file, int line, const char *msg)
{
	struct policy_error *nv;
	char *f = NULL, *m = NULL;

	if (e->n >= SIZE_MAX / sizeof(*e->v) - 1)
		goto fail;
	if ((nv = realloc(e->v, (e->n + 1) * sizeof(*e->v))) == NULL)
		goto fail;
	e->v = nv;
	if ((f = strdup(file)) == NULL || (m = strdup(msg)) == NULL)
		goto fail;
	e->v[e->n].file = f;
	e->v[e->n].line = line;
	e->v[e->n].msg = m;
	e->n++;
	return;
fail:
	free(f);
	free(m);
	c->nomem = 1;
}

static void
conf_vadd(struct conf *c, struct policy_errors *e, int line, const char *fmt, va_list ap)
{
	char msg[CONF_MSG_MAX];
	size_t i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Messages quote what the file says; keep each on one line. */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	errors_add(c, e, c->name != NULL ? c->name : "<string>", line < 0 ? 0 : line, msg);
}

void
conf_error(struct conf *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vadd(c, c->errs, line, fmt, ap);
	va_end(ap);
}

void
conf_warn(struct conf *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vadd(c, &c->warns, line, fmt, ap);
	va_end(ap);
}

size_t
conf_nerrors(const struct conf *c)
{
	return c->errs->n - c->first_error;
}

struct error_pos {
	struct policy_error e;
	size_t seq;
};

static int
error_cmp(const void *a, const void *b)
{
	const struct error_pos *x = a, *y = b;

	if (x->e.line != y->e.line)
		return x->e.line < y->e.line ? -1 : 1;
	/* Same line: in the order found (qsort is not stable by itself). */
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Sort problems by line, keeping the order found within a line. */
static void
sort_by_line(struct conf *c, struct policy_error *v, size_t n)
{
	struct error_pos *s;
	size_t i;

	if (n < 2)
		return;
	if ((s = calloc(n, sizeof(*s))) == NULL) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		s[i].e = v[i];
		s[i].seq = i;
	}
	qsort(s, n, sizeof(*s), error_cmp);
	for (i = 0; i < n; i++)
		v[i] = s[i].e;
	free(s);
}

int
conf_result(struct conf *c)
{
	size_t n = conf_nerrors(c);

	if (n > 1)
		sort_by_line(c, c->errs->v + c->first_error, n);
	if (c->nomem)
		return EPH_ERR_NOMEM;
	return n > 0 ? EPH_ERR_FORMAT : EPH_OK;
}

void
conf_take_warnings(struct conf *c, struct policy_errors *to)
{
	policy_errors_clear(to);
	sort_by_line(c, c->warns.v, c->warns.n);
	*to = c->warns;
	c->warns.v = NULL;
	c->warns.n = 0;
}

static void
conf_init(struct conf *c, struct policy_errors *errs)
{
	memset(c, 0, sizeof(*c));
	c->errs = errs != NULL ? errs : &c->own;
	c->first_error = c->errs->n;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	if (c->have_cfg)
		config_destroy(&c->cfg);
	free(c->name);
	free(c->text);
	free(c->lines);
	policy_errors_clear(&c->own);
	policy_errors_clear(&c->warns);
	memset(c, 0, sizeof(*c));
}

/*
 * libconfig 1.5 has no way to turn @include off, and would open any path
 * the file names. Its scanner only takes "@include" as the first token of
 * a line, so refuse every line that starts with it, whatever follows (and
 * even inside a string or comment: refusing too much is safe).
 */
static int
check_text(struct conf *c, const char *text, size_t len)
{
	size_t i = 0, line = 1;
	int bad = 0;

	if (memchr(text, '\0', len) != NULL) {
		conf_error(c, 0, "contains a NUL byte");
		return -1;
	}
	while (i < len) {
		size_t j = i;

		while (j < len &&
		    (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\f' ||
		        text[j] == '\v'))
			j++;
		if (len - j >= 8 && strncasecmp(text + j, "@include", 8) == 0) {
			conf_error(c, (int)line, "@include is not allowed");
			bad = 1;
		}
		while (j < len && text[j] != '\n')
			j++;
		i = j + 1;
		line++;
	}
	return bad ? -1 : 0;
}

static int
is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    ch == '_' || ch == '-' || ch == '*';
}

/*
 * Is the integer literal t[0..n) one libconfig 1.5 reads as written?
 * It is not when too big: an unsuffixed literal is an int whose value
 * wraps (4294967296 reads as 0), a 64-bit one saturates. 0 when it reads
 * right, 1 when it would be misread, -1 when it is no integer at all.
 */
static int
int_literal_misread(const char *t, size_t n)
{
	uint64_t v = 0, limit;
	size_t i = 0, end = n;
	int neg = 0, hex = 0, wide = 0;
	unsigned d;

	if (i < end && (t[i] == '-' || t[i] == '+'))
		neg = t[i++] == '-';
	while (end > i && (t[end - 1] == 'L' || t[end - 1] == 'l')) {
		wide = 1;
		end--;
	}
	if (end - i > 2 && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X')) {
		hex = 1;
		i += 2;
	}
	if (i == end)
		return -1;
	for (; i < end; i++) {
		char ch = t[i];

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (hex && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (hex && ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / (hex ? 16u : 10u))
			return 1;
		v = v * (hex ? 16u : 10u) + d;
	}
	/* A hex literal is unsigned in libconfig: past INT_MAX it turns negative. */
	limit = wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
	if (neg && !hex)
		limit++;
	return v > limit;
}

/*
 * libconfig 1.5 silently wraps integers that do not fit ("approvals =
 * 4294967296" reads as 0, i.e. no approval). Find every integer literal
 * in the text (outside strings and comments) and refuse those it would
 * misread, before any value is trusted.
 */
static int
check_int_literals(struct conf *c, const char *text, size_t len)
{
	size_t i = 0, line = 1;
	int bad = 0;

	while (i < len) {
		char ch = text[i];

		if (ch == '\n') {
			line++;
			i++;
		} else if (ch == '"') {
			for (i++; i < len && text[i] != '"'; i++) {
				if (text[i] == '\\' && i + 1 < len)
					i++;
				if (text[i] == '\n')
					line++;
			}
			i++;
		} else if (ch == '#' || (ch == '/' && i + 1 < len && text[i + 1] == '/')) {
			while (i < len && text[i] != '\n')
				i++;
		} else if (ch == '/' && i + 1 < len && text[i + 1] == '*') {
			for (i += 2;
			     i < len && !(text[i] == '*' && i + 1 < len && text[i + 1] == '/'); i++)
				if (text[i] == '\n')
					line++;
			i += 2;
		} else if (is_name_char(ch) && !(ch >= '0' && ch <= '9') && ch != '-') {
			while (i < len && is_name_char(text[i]))
				i++;
		} else if ((ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.') {
			size_t j = i + 1;
			int misread;

			/* A number token: digits, letters (hex, exponent, L), '.', signs. */
			while (j < len &&
			    (is_name_char(text[j]) || text[j] == '.' ||
			        ((text[j] == '+' || text[j] == '-') &&
			            (text[j - 1] == 'e' || text[j - 1] == 'E'))))
				j++;
			misread = int_literal_misread(text + i, j - i);
			if (misread == 1) {
				conf_error(c, (int)line,
				    "integer %.*s is too large (libconfig would read another "
				    "value)",
				    (int)(j - i < CONF_SHOW_MAX ? j - i : CONF_SHOW_MAX), text + i);
				bad = 1;
			}
			i = j;
		} else {
			i++;
		}
	}
	return bad ? -1 : 0;
}

static int
parse_text(struct conf *c, const char *text, size_t len)
{
	if ((c->text = malloc(len + 1)) == NULL) {
		c->nomem = 1;
		return EPH_ERR_NOMEM;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	if (check_text(c, c->text, len) != 0 || check_int_literals(c, c->text, len) != 0)
		return conf_result(c);
	config_init(&c->cfg);
	c->have_cfg = 1;
	if (config_read_string(&c->cfg, c->text) != CONFIG_TRUE) {
		const char *why = config_error_text(&c->cfg);

		conf_error(c, config_error_line(&c->cfg), "%s", why != NULL ? why : "syntax error");
		return conf_result(c);
	}
	return conf_result(c);
}

int
conf_load_string(struct conf *c, const char *text, const char *name, struct policy_errors *errs)
{
	conf_init(c, errs);
	if ((c->name = strdup(name != NULL ? name : "<string>")) == NULL) {
		c->nomem = 1;
		return EPH_ERR_NOMEM;
	}
	if (text == NULL) {
		conf_error(c, 0, "no text");
		return EPH_ERR_INVAL;
	}
	return parse_text(c, text, strlen(text));
}

int
conf_load_file(struct conf *c, const char *path, struct policy_errors *errs)
{
	struct buf b;
	int r;

	conf_init(c, errs);
	buf_init(&b);
	if ((c->name = strdup(path != NULL ? path : "<null>")) == NULL) {
		c->nomem = 1;
		return EPH_ERR_NOMEM;
	}
	if (path == NULL) {
		conf_error(c, 0, "no file name");
		return EPH_ERR_INVAL;
	}
	r = file_read_all(path, POLICY_MAX_FILE_SIZE, FILE_CHECK_TRUSTED, &b);
	switch (r) {
	case EPH_OK: break;
	case EPH_ERR_IO:
		if (errno == ELOOP)
			conf_error(c, 0, "is a symbolic link; refusing to follow it");
		else if (errno == EINVAL)
			conf_error(c, 0, "is not a regular file");
		else
			conf_error(c, 0, "cannot read: %s", strerror(errno));
		goto out;
	case EPH_ERR_PERM:
		conf_error(c, 0,
		    "unsafe permissions: writable by group or others, "
		    "or owned by someone other than root or the current user");
		goto out;
	case EPH_ERR_TOOLARGE:
		conf_error(c, 0, "larger than %u bytes", POLICY_MAX_FILE_SIZE);
		goto out;
	case EPH_ERR_NOMEM: c->nomem = 1; goto out;
	default: conf_error(c, 0, "cannot read: %s", eph_strerror(r)); goto out;
	}
	r = parse_text(c, (const char *)b.d, b.len);
out:
	buf_free(&b);
	return r;
}

config_setting_t *
conf_root(const struct conf *c)
{
	return c->have_cfg ? config_root_setting(&c->cfg) : NULL;
}

config_setting_t *
conf_member(const config_setting_t *g, const char *name)
{
	if (g == NULL || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return NULL;
	return config_setting_get_member(g, name);
}

int
conf_line(const config_setting_t *s)
{
	if (s == NULL || config_setting_source_line(s) > (unsigned)INT32_MAX)
		return 0;
	return (int)config_setting_source_line(s);
}

static int
build_lines(struct conf *c)
{
	size_t i, n = 1, k = 0;

	if (c->lines != NULL)
		return 0;
	if (c->text == NULL)
		return -1;
	for (i = 0; c->text[i] != '\0'; i++)
		if (c->text[i] == '\n')
			n++;
	if ((c->lines = calloc(n, sizeof(*c->lines))) == NULL) {
		c->nomem = 1;
		return -1;
	}
	c->lines[k++] = 0;
	for (i = 0; c->text[i] != '\0'; i++)
		if (c->text[i] == '\n')
			c->lines[k++] = i + 1;
	c->nlines = n;
	return 0;
}

/* First character of line l (1-based) that is not blank; '\0' for a
 * blank line, '#' for a comment-only line. */
static char
line_lead(const struct conf *c, size_t l)
{
	const char *s = c->text + c->lines[l - 1];

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	if (*s == '\n')
		return '\0';
	if (s[0] == '/' && s[1] == '/')
		return '#';
	return *s;
}

int
conf_elem_line(struct conf *c, const config_setting_t *elem)
{
	int line = conf_line(elem), floor;
	size_t l;
	char lead;

	if (line <= 0 || elem->parent == NULL || build_lines(c) != 0 || (size_t)line > c->nlines)
		return line;
	floor = conf_line(elem->parent);
	/* The lookahead that ended a scalar was the closing bracket at the
	 * start of this line: the scalar is on an earlier, non-blank line. */
	l = (size_t)line;
	lead = line_lead(c, l);
	if (lead != ']' && lead != ')')
		return line;
	while (l > 1 && (int)l > floor) {
		l--;
		lead = line_lead(c, l);
		if (lead != '\0' && lead != '#')
			break;
	}
	return (int)l;
}

int
conf_type_ok(const config_setting_t *s, enum conf_type t)
{
	int type = config_setting_type(s);
	int i, n;

	switch (t) {
	case CONF_STRING: return type == CONFIG_TYPE_STRING;
	case CONF_BOOL: return type == CONFIG_TYPE_BOOL;
	case CONF_INT: return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
	case CONF_DURATION:
		return type == CONFIG_TYPE_STRING || type == CONFIG_TYPE_INT ||
		    type == CONFIG_TYPE_INT64;
	case CONF_GROUP: return type == CONFIG_TYPE_GROUP;
	case CONF_STRING_OR_LIST:
		return type == CONFIG_TYPE_STRING || conf_type_ok(s, CONF_STRING_LIST);
	case CONF_INT_OR_GROUP_LIST:
		return conf_type_ok(s, CONF_INT) || conf_type_ok(s, CONF_GROUP_LIST);
	case CONF_STRING_LIST:
	case CONF_GROUP_LIST:
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			return 0;
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			int et = config_setting_type(config_setting_get_elem(s, (unsigned)i));

			if (et != (t == CONF_STRING_LIST ? CONFIG_TYPE_STRING : CONFIG_TYPE_GROUP))
				return 0;
		}
		return 1;
	}
	return 0;
}

const char *
conf_type_name(enum conf_type t)
{
	switch (t) {
	case CONF_STRING: return "a string";
	case CONF_STRING_LIST: return "a list of strings";
	case CONF_BOOL: return "a boolean";
	case CONF_INT: return "an integer";
	case CONF_DURATION: return "a duration";
	case CONF_GROUP: return "a group";
	case CONF_GROUP_LIST: return "a list of groups";
	case CONF_STRING_OR_LIST: return "a string or a list of strings";
	case CONF_INT_OR_GROUP_LIST: return "an integer or a list of groups";
	}
	return "something else";
}

size_t
conf_check_keys(struct conf *c, const config_setting_t *g, const struct conf_key *keys,
    size_t nkeys, const char *where)
{
	size_t i, k, bad = 0;
	int n;

	if (g == NULL || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return 0;
	n = config_setting_length(g);
	for (i = 0; i < (size_t)n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);

		for (k = 0; k < nkeys; k++)
			if (name != NULL && strcmp(name, keys[k].name) == 0)
				break;
		if (k == nkeys) {
			conf_error(c, conf_line(s), "unknown key '%.*s' %s", CONF_SHOW_MAX,
			    name != NULL ? name : "", where);
			bad++;
		} else if (!conf_type_ok(s, keys[k].type)) {
			conf_error(c, conf_line(s), "'%s' %s: expected %s", keys[k].name, where,
			    conf_type_name(keys[k].type));
			bad++;
		}
	}
	for (k = 0; k < nkeys; k++) {
		if (keys[k].required && config_setting_get_member(g, keys[k].name) == NULL) {
			conf_error(c, conf_line(g), "missing '%s' %s", keys[k].name, where);
			bad++;
		}
	}
	return bad;
}

/* The member when it exists and has type t, else NULL. */
static config_setting_t *
typed_member(const config_setting_t *g, const char *name, enum conf_type t)
{
	config_setting_t *s = conf_member(g, name);

	return (s != NULL && conf_type_ok(s, t)) ? s : NULL;
}

const char *
conf_string(const config_setting_t *g, const char *name)
{
	config_setting_t *s = typed_member(g, name, CONF_STRING);

	return s != NULL ? config_setting_get_string(s) : NULL;
}

int
conf_bool(const config_setting_t *g, const char *name, int dflt)
{
	config_setting_t *s = typed_member(g, name, CONF_BOOL);

	if (s == NULL)
		return dflt;
	return config_setting_get_bool(s) ? 1 : 0;
}

int
conf_int(struct conf *c, const config_setting_t *g, const char *name, int64_t min, int64_t max,
    int64_t *out, const char *where)
{
	config_setting_t *s = typed_member(g, name, CONF_INT);
	int64_t v;

	if (s == NULL)
		return 0;
	v = (int64_t)config_setting_get_int64(s);
	if (v < min || v > max) {
		conf_error(c, conf_line(s), "'%s' %s must be between %" PRId64 " and %" PRId64,
		    name, where, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

int
conf_duration(struct conf *c, const config_setting_t *g, const char *name, uint64_t min,
    uint64_t max, uint64_t *out, const char *where)
{
	config_setting_t *s = typed_member(g, name, CONF_DURATION);
	char lo[32], hi[32];
	uint64_t v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *text = config_setting_get_string(s);

		if (parse_duration(text, &v) != EPH_OK) {
			conf_error(c, conf_line(s), "'%s' %s: bad duration '%.*s'", name, where,
			    CONF_SHOW_MAX, text);
			return -1;
		}
	} else {
		long long ll = config_setting_get_int64(s);

		if (ll < 0) {
			conf_error(c, conf_line(s), "'%s' %s: bad duration %lld", name, where, ll);
			return -1;
		}
		v = (uint64_t)ll;
	}
	if (v < min || v > max) {
		format_duration(min, lo, sizeof(lo));
		format_duration(max, hi, sizeof(hi));
		conf_error(
		    c, conf_line(s), "'%s' %s must be between %s and %s", name, where, lo, hi);
		return -1;
	}
	*out = v;
	return 1;
}

void
conf_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int
is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

const char *
conf_name_problem(const char *s, enum conf_name_kind kind)
{
	const char *why;
	size_t i, len;

	if (s == NULL || *s == '\0')
		return "is empty";
	len = strlen(s);
	if (len > POLICY_MAX_NAME_LEN)
		return "is too long";
	switch (kind) {
	case CONF_NAME_TOKEN:
		for (i = 0; i < len; i++)
			if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
				return "may only hold letters, digits, '.', '_' and '-'";
		break;
	case CONF_NAME_USER:
		if (s[0] == '-')
			return "may not start with '-'";
		/* The same rule as the account a certificate's grant carries. */
		if (!grant_user_name_valid(s))
			return "is not a valid user or group name";
		break;
	case CONF_NAME_HOST:
		if (strchr(s, '*') != NULL)
			return "may not hold a wildcard";
		if (policy_host_pattern_valid(s, &why) != EPH_OK)
			return "is not a valid host name (dot-separated labels of letters, "
			       "digits and '-')";
		break;
	}
	return NULL;
}

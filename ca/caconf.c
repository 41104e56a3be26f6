/* ca.conf: the CA's own settings, read through the shared libconfig
 * plumbing (policy/conf.h) so it reports errors the way the policy does. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "caconf.h"
#include "conf.h"
#include "err.h"
#include "util.h"

#define WHERE "at top level"

/* Every key ca.conf may hold; the order is the order of caconf_dump. */
static const struct conf_key caconf_keys[] = {
    {"ca_key", CONF_STRING, 1},
    {"ca_key_next", CONF_STRING, 0},
    {"policy", CONF_STRING, 1},
    {"revoked_keys", CONF_STRING, 0},
    {"clock_skew", CONF_DURATION, 0},
    {"max_ttl", CONF_DURATION, 0},
    {"database", CONF_STRING, 0},
    {"socket", CONF_STRING, 0},
    {"user", CONF_STRING, 0},
    {"tls", CONF_GROUP, 0},
    {"login_ttl", CONF_DURATION, 0},
    {"admins", CONF_STRING_LIST, 0},
    {"auditors", CONF_STRING_LIST, 0},
    {"webhooks", CONF_GROUP_LIST, 0},
    {"limits", CONF_GROUP, 0},
};

static const struct conf_key tls_keys[] = {
    {"listen", CONF_STRING, 1},
    {"certificate", CONF_STRING, 1},
    {"key", CONF_STRING, 1},
};

static const struct conf_key webhook_keys[] = {
    {"url", CONF_STRING, 1},
    {"events", CONF_STRING_LIST, 1},
};

static const struct conf_key limits_keys[] = {
    {"active_grants", CONF_INT, 0},
    {"requests_per_minute", CONF_INT, 0},
};

static const struct {
	enum ca_event event;
	const char *name;
} event_names[] = {
    {CA_EVENT_PENDING, "pending"},
    {CA_EVENT_BREAK_GLASS, "break-glass"},
    {CA_EVENT_REVOKED, "revoked"},
    {CA_EVENT_DENIED, "denied"},
};

const char *
caconf_event_name(enum ca_event e)
{
	size_t i;

	for (i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (event_names[i].event == e)
			return event_names[i].name;
	return NULL;
}

static void
people_free(struct ca_person *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void
caconf_free(struct ca_conf *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	free(cc->file);
	free(cc->ca_key);
	free(cc->policy);
	free(cc->revoked_keys);
	free(cc->database);
	free(cc->ca_key_next);
	free(cc->socket);
	free(cc->user);
	if (cc->tls != NULL) {
		free(cc->tls->listen);
		free(cc->tls->host);
		free(cc->tls->certificate);
		free(cc->tls->key);
		free(cc->tls);
	}
	people_free(cc->admins, cc->nadmins);
	people_free(cc->auditors, cc->nauditors);
	for (i = 0; i < cc->nwebhooks; i++)
		free(cc->webhooks[i].url);
	free(cc->webhooks);
	free(cc);
}

/*
 * A path key: absolute, because the CA runs from / and a relative path
 * would depend on where it was started; printable, because it is logged.
 * Returns 0 when absent or refused (reported), 1 with *out set.
 */
static int
get_path_in(struct conf *c, const config_setting_t *g, const char *where, const char *name,
    char **out, int *line)
{
	config_setting_t *s = conf_member(g, name);
	const char *v = conf_string(g, name);
	const unsigned char *p;

	if (v == NULL)
		return 0;
	*line = conf_line(s);
	if (v[0] != '/') {
		conf_error(c, *line, "'%s' %s: expected an absolute path", name, where);
		return 0;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			conf_error(c, *line, "'%s' %s: control character in the path", name, where);
			return 0;
		}
	}
	if ((*out = strdup(v)) == NULL) {
		c->nomem = 1;
		return 0;
	}
	return 1;
}

static int
get_path(struct conf *c, const char *name, char **out, int *line)
{
	return get_path_in(c, conf_root(c), WHERE, name, out, line);
}

/* Replace a default string; 0 on out of memory (remembered). */
static int
set_string(struct conf *c, char **slot, const char *v)
{
	char *copy;

	if ((copy = strdup(v)) == NULL) {
		c->nomem = 1;
		return 0;
	}
	free(*slot);
	*slot = copy;
	return 1;
}

static int
get_duration(struct conf *c, const char *name, uint64_t min, uint64_t max, uint64_t *out, int *line)
{
	config_setting_t *s = conf_member(conf_root(c), name);
	int r;

	if ((r = conf_duration(c, conf_root(c), name, min, max, out, WHERE)) == 1)
		*line = conf_line(s);
	return r;
}

/*
 * "ADDR:PORT": an IPv4 literal or a host name, or an IPv6 literal in
 * brackets ("[::1]:8443"), and a port 1..65535. NULL when fine (host and
 * port set), else a static reason.
 */
static const char *
listen_problem(const char *s, char **host, uint16_t *port)
{
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon, *hend, *h0;
	uint64_t v;
	char *h;

	*host = NULL;
	if (s[0] == '[') {
		h0 = s + 1;
		if ((hend = strchr(h0, ']')) == NULL)
			return "an IPv6 address in '[' lacks its ']'";
		if (hend[1] != ':')
			return "expected ':PORT' after ']'";
		colon = hend + 1;
	} else {
		h0 = s;
		if ((colon = strrchr(s, ':')) == NULL)
			return "expected ADDR:PORT";
		hend = colon;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return "an IPv6 address needs brackets, as in [::1]:8443";
	}
	if (hend == h0)
		return "the address is empty (use 0.0.0.0 or [::] for every address)";
	if (parse_u64(colon + 1, &v) != EPH_OK || v == 0 || v > 65535)
		return "the port must be a number from 1 to 65535";
	if ((h = strndup(h0, (size_t)(hend - h0))) == NULL)
		return NULL; /* caller sees host NULL: out of memory */
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, h, bin) != 1) {
			free(h);
			return "not an IPv6 address inside '[...]'";
		}
	} else if (inet_pton(AF_INET, h, bin) != 1 &&
	    (strspn(h, "0123456789.") == strlen(h) ||
	        conf_name_problem(h, CONF_NAME_HOST) != NULL)) {
		free(h);
		return "the address is neither an IPv4 address nor a host name";
	}
	*host = h;
	*port = (uint16_t)v;
	return NULL;
}

static void
get_tls(struct conf *c, struct ca_conf *cc)
{
	config_setting_t *g = conf_member(conf_root(c), "tls");
	const char *listen, *why;
	struct ca_tls *t;
	int line;

	if (g == NULL || !conf_type_ok(g, CONF_GROUP))
		return;
	if (conf_check_keys(c, g, tls_keys, CONF_NKEYS(tls_keys), "in tls") != 0)
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		c->nomem = 1;
		return;
	}
	cc->tls = t;
	t->line = conf_line(g);
	listen = conf_string(g, "listen");
	t->listen_line = line = conf_line(conf_member(g, "listen"));
	if ((why = listen_problem(listen, &t->host, &t->port)) != NULL)
		conf_error(c, line, "'listen' in tls: '%.*s': %s", CONF_SHOW_MAX, listen, why);
	else if (t->host == NULL)
		c->nomem = 1;
	else if ((t->listen = strdup(listen)) == NULL)
		c->nomem = 1;
	get_path_in(c, g, "in tls", "certificate", &t->certificate, &t->certificate_line);
	get_path_in(c, g, "in tls", "key", &t->key, &t->key_line);
	if (t->key != NULL && cc->ca_key != NULL && strcmp(t->key, cc->ca_key) == 0)
		conf_error(c, t->key_line,
		    "'key' in tls: the CA key; the TLS listener needs a key of its own");
}

/* admins / auditors: "user" or "%unixgroup", as in the policy's lists
 * (a policy group "@x" lives in the policy, which ca.conf does not read). */
static void
get_people(struct conf *c, const char *name, struct ca_person **out, size_t *nout, int *line)
{
	config_setting_t *s = conf_member(conf_root(c), name);
	const char *v, *n, *why;
	struct ca_person *p;
	int i, j, len, l;

	if (s == NULL || !conf_type_ok(s, CONF_STRING_LIST))
		return;
	*line = conf_line(s);
	if ((len = config_setting_length(s)) == 0)
		return;
	if (len > (int)POLICY_MAX_LIST) {
		conf_error(c, *line, "'%s' %s: more than %u entries", name, WHERE, POLICY_MAX_LIST);
		return;
	}
	if ((p = calloc((size_t)len, sizeof(*p))) == NULL) {
		c->nomem = 1;
		return;
	}
	*out = p;
	for (i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		v = config_setting_get_string(e);
		l = conf_elem_line(c, e);
		n = v[0] == '%' ? v + 1 : v;
		if (v[0] == '@') {
			conf_error(c, l,
			    "'%s' %s: '%.*s': policy groups are not known here; name users or "
			    "'%%unixgroup'",
			    name, WHERE, CONF_SHOW_MAX, v);
			continue;
		}
		if ((why = conf_name_problem(n, CONF_NAME_USER)) != NULL) {
			conf_error(
			    c, l, "'%s' %s: name '%.*s' %s", name, WHERE, CONF_SHOW_MAX, v, why);
			continue;
		}
		for (j = 0; j < (int)*nout; j++)
			if (p[j].unix_group == (v[0] == '%') && strcmp(p[j].name, n) == 0)
				break;
		if (j < (int)*nout) {
			conf_error(
			    c, l, "'%s' %s: '%.*s' is listed twice", name, WHERE, CONF_SHOW_MAX, v);
			continue;
		}
		if ((p[*nout].name = strdup(n)) == NULL) {
			c->nomem = 1;
			return;
		}
		p[*nout].unix_group = v[0] == '%';
		p[*nout].line = l;
		(*nout)++;
	}
}

/*
 * A webhook URL: http:// or https://, a host, no user:password (the URL
 * is logged), nothing but printable ASCII without spaces. NULL when fine.
 */
static const char *
url_problem(const char *u)
{
	const unsigned char *p;
	const char *auth;
	size_t alen;

	if (strlen(u) > CACONF_MAX_URL_LEN)
		return "is too long";
	for (p = (const unsigned char *)u; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return "has spaces, control characters or non-ASCII bytes";
	if (strncasecmp(u, "https://", 8) == 0)
		auth = u + 8;
	else if (strncasecmp(u, "http://", 7) == 0)
		auth = u + 7;
	else
		return "must start with https:// or http://";
	alen = strcspn(auth, "/?#");
	if (alen == 0)
		return "has no host";
	if (memchr(auth, '@', alen) != NULL)
		return "holds credentials (user@ or user:password@), which would be logged";
	return NULL;
}

static void
get_webhooks(struct conf *c, struct ca_conf *cc)
{
	config_setting_t *s = conf_member(conf_root(c), "webhooks");
	struct ca_webhook *w;
	char where[64];
	const char *url, *why, *ev;
	int i, j, len, nev, l;
	size_t k;

	if (s == NULL || !conf_type_ok(s, CONF_GROUP_LIST))
		return;
	cc->webhooks_line = conf_line(s);
	if ((len = config_setting_length(s)) == 0)
		return;
	if (len > CACONF_MAX_WEBHOOKS) {
		conf_error(c, cc->webhooks_line, "'webhooks' %s: more than %d entries", WHERE,
		    CACONF_MAX_WEBHOOKS);
		return;
	}
	if ((cc->webhooks = calloc((size_t)len, sizeof(*cc->webhooks))) == NULL) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < len; i++) {
		config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		config_setting_t *evs;

		snprintf(where, sizeof(where), "in webhook %d", i + 1);
		if (conf_check_keys(c, g, webhook_keys, CONF_NKEYS(webhook_keys), where) != 0)
			continue;
		w = &cc->webhooks[cc->nwebhooks];
		w->line = conf_line(g);
		url = conf_string(g, "url");
		l = conf_line(conf_member(g, "url"));
		if ((why = url_problem(url)) != NULL)
			conf_error(c, l, "'url' %s: '%.*s' %s", where, CONF_SHOW_MAX, url, why);
		evs = conf_member(g, "events");
		if ((nev = config_setting_length(evs)) == 0)
			conf_error(c, conf_line(evs),
			    "'events' %s: empty; name at least one of "
			    "pending, break-glass, revoked, denied",
			    where);
		for (j = 0; j < nev; j++) {
			const config_setting_t *e = config_setting_get_elem(evs, (unsigned)j);

			ev = config_setting_get_string(e);
			for (k = 0; k < sizeof(event_names) / sizeof(event_names[0]); k++)
				if (strcmp(ev, event_names[k].name) == 0)
					break;
			if (k == sizeof(event_names) / sizeof(event_names[0]))
				conf_error(c, conf_elem_line(c, e),
				    "'events' %s: unknown event '%.*s' (pending, break-glass, "
				    "revoked, denied)",
				    where, CONF_SHOW_MAX, ev);
			else if (w->events & (unsigned)event_names[k].event)
				conf_error(c, conf_elem_line(c, e),
				    "'events' %s: '%s' is listed twice", where, ev);
			else
				w->events |= (unsigned)event_names[k].event;
		}
		if ((w->url = strdup(url)) == NULL) {
			c->nomem = 1;
			return;
		}
		cc->nwebhooks++;
	}
}

static void
get_limits(struct conf *c, struct ca_conf *cc)
{
	config_setting_t *g = conf_member(conf_root(c), "limits");
	int64_t v;

	if (g == NULL || !conf_type_ok(g, CONF_GROUP))
		return;
	cc->limits_line = conf_line(g);
	conf_check_keys(c, g, limits_keys, CONF_NKEYS(limits_keys), "in limits");
	if (conf_int(c, g, "active_grants", 1, CACONF_MAX_LIMIT, &v, "in limits") == 1)
		cc->active_grants = (uint64_t)v;
	if (conf_int(c, g, "requests_per_minute", 1, CACONF_MAX_LIMIT, &v, "in limits") == 1)
		cc->requests_per_minute = (uint64_t)v;
}

/* The Unix listener: a path that fits sun_path. */
static void
get_socket(struct conf *c, struct ca_conf *cc)
{
	struct sockaddr_un sun;
	char *v = NULL;

	if (!get_path(c, "socket", &v, &cc->socket_line))
		return;
	if (strlen(v) >= sizeof(sun.sun_path)) {
		conf_error(c, cc->socket_line,
		    "'socket' %s: longer than a socket path may be (%zu)", WHERE,
		    sizeof(sun.sun_path) - 1);
		free(v);
		return;
	}
	free(cc->socket);
	cc->socket = v;
}

static void
get_user(struct conf *c, struct ca_conf *cc)
{
	const char *v = conf_string(conf_root(c), "user"), *why;

	if (v == NULL)
		return;
	cc->user_line = conf_line(conf_member(conf_root(c), "user"));
	if ((why = conf_name_problem(v, CONF_NAME_USER)) != NULL) {
		conf_error(
		    c, cc->user_line, "'user' %s: name '%.*s' %s", WHERE, CONF_SHOW_MAX, v, why);
		return;
	}
	set_string(c, &cc->user, v);
}

/* Two keys naming one file: each is overwritten or read as the other. */
static void
check_distinct(struct conf *c, const char *name, const char *path, int line, const char *other_name,
    const char *other)
{
	if (path != NULL && other != NULL && strcmp(path, other) == 0)
		conf_error(c, line, "'%s' %s: the same file as '%s'", name, WHERE, other_name);
}

int
caconf_person_match(const struct ca_person *v, size_t n, const char *user,
    const char *const *groups, size_t ngroups)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (!v[i].unix_group) {
			if (strcmp(v[i].name, user) == 0)
				return 1;
			continue;
		}
		for (j = 0; j < ngroups; j++)
			if (strcmp(v[i].name, groups[j]) == 0)
				return 1;
	}
	return 0;
}

static int
caconf_build(struct conf *c, struct ca_conf **out)
{
	struct ca_conf *cc;
	int r;

	if ((cc = calloc(1, sizeof(*cc))) == NULL || (cc->file = strdup(c->name)) == NULL) {
		caconf_free(cc);
		return EPH_ERR_NOMEM;
	}
	cc->clock_skew = CACONF_DEFAULT_CLOCK_SKEW;
	cc->max_ttl = CACONF_DEFAULT_MAX_TTL;
	cc->login_ttl = CACONF_DEFAULT_LOGIN_TTL;
	cc->active_grants = CACONF_DEFAULT_ACTIVE_GRANTS;
	cc->requests_per_minute = CACONF_DEFAULT_REQUESTS_PER_MINUTE;
	if ((cc->socket = strdup(CACONF_DEFAULT_SOCKET)) == NULL ||
	    (cc->user = strdup(CACONF_DEFAULT_USER)) == NULL) {
		caconf_free(cc);
		return EPH_ERR_NOMEM;
	}
	conf_check_keys(c, conf_root(c), caconf_keys, CONF_NKEYS(caconf_keys), WHERE);
	get_path(c, "ca_key", &cc->ca_key, &cc->ca_key_line);
	get_path(c, "ca_key_next", &cc->ca_key_next, &cc->ca_key_next_line);
	get_path(c, "policy", &cc->policy, &cc->policy_line);
	get_path(c, "revoked_keys", &cc->revoked_keys, &cc->revoked_keys_line);
	get_duration(
	    c, "clock_skew", 0, CACONF_MAX_CLOCK_SKEW, &cc->clock_skew, &cc->clock_skew_line);
	get_duration(c, "max_ttl", 1, POLICY_MAX_TTL_LIMIT, &cc->max_ttl, &cc->max_ttl_line);
	if (!get_path(c, "database", &cc->database, &cc->database_line) && !c->nomem &&
	    cc->database_line == 0 && (cc->database = strdup(CACONF_DEFAULT_DATABASE)) == NULL)
		c->nomem = 1;
	get_socket(c, cc);
	get_user(c, cc);
	get_tls(c, cc);
	get_duration(c, "login_ttl", CACONF_MIN_LOGIN_TTL, CACONF_MAX_LOGIN_TTL, &cc->login_ttl,
	    &cc->login_ttl_line);
	get_people(c, "admins", &cc->admins, &cc->nadmins, &cc->admins_line);
	get_people(c, "auditors", &cc->auditors, &cc->nauditors, &cc->auditors_line);
	get_webhooks(c, cc);
	get_limits(c, cc);
	check_distinct(
	    c, "ca_key_next", cc->ca_key_next, cc->ca_key_next_line, "ca_key", cc->ca_key);
	check_distinct(
	    c, "ca_key_next", cc->ca_key_next, cc->ca_key_next_line, "policy", cc->policy);
	check_distinct(c, "revoked_keys", cc->revoked_keys, cc->revoked_keys_line, "ca_key_next",
	    cc->ca_key_next);
	/* Overwriting the key or the policy with the KRL would be a disaster
	 * that a typo can cause. */
	if (cc->revoked_keys != NULL &&
	    ((cc->ca_key != NULL && strcmp(cc->revoked_keys, cc->ca_key) == 0) ||
	        (cc->policy != NULL && strcmp(cc->revoked_keys, cc->policy) == 0)))
		conf_error(c, cc->revoked_keys_line,
		    "'revoked_keys' %s: the same file as 'ca_key' or 'policy'", WHERE);
	if ((r = conf_result(c)) != EPH_OK) {
		caconf_free(cc);
		return r;
	}
	*out = cc;
	return EPH_OK;
}

int
caconf_load(const char *path, struct ca_conf **out, struct policy_errors *errs)
{
	struct conf c;
	int r;

	*out = NULL;
	if ((r = conf_load_file(&c, path, errs)) == EPH_OK)
		r = caconf_build(&c, out);
	conf_free(&c);
	return r;
}

static void
dump_people(FILE *f, const char *name, const struct ca_person *v, size_t n)
{
	size_t i;

	fputs(name, f);
	if (n == 0)
		fputs(" none", f);
	for (i = 0; i < n; i++)
		fprintf(f, " %s%s", v[i].unix_group ? "%" : "", v[i].name);
	fputc('\n', f);
}

void
caconf_dump(const struct ca_conf *cc, FILE *f)
{
	char skew[32], ttl[32];
	const char *sep;
	size_t i, j;

	format_duration(cc->clock_skew, skew, sizeof(skew));
	format_duration(cc->max_ttl, ttl, sizeof(ttl));
	fprintf(f, "ca_key %s\n", cc->ca_key);
	fprintf(f, "ca_key_next %s\n", cc->ca_key_next != NULL ? cc->ca_key_next : "none");
	fprintf(f, "policy %s\n", cc->policy);
	fprintf(f, "revoked_keys %s\n", cc->revoked_keys != NULL ? cc->revoked_keys : "none");
	fprintf(f, "clock_skew %s\n", skew);
	fprintf(f, "max_ttl %s\n", ttl);
	fprintf(f, "database %s\n", cc->database);
	fprintf(f, "socket %s\n", cc->socket);
	fprintf(f, "user %s\n", cc->user);
	fprintf(f, "tls.listen %s\n", cc->tls != NULL ? cc->tls->listen : "none");
	fprintf(f, "tls.certificate %s\n", cc->tls != NULL ? cc->tls->certificate : "none");
	fprintf(f, "tls.key %s\n", cc->tls != NULL ? cc->tls->key : "none");
	format_duration(cc->login_ttl, ttl, sizeof(ttl));
	fprintf(f, "login_ttl %s\n", ttl);
	dump_people(f, "admins", cc->admins, cc->nadmins);
	dump_people(f, "auditors", cc->auditors, cc->nauditors);
	if (cc->nwebhooks == 0)
		fprintf(f, "webhooks none\n");
	for (i = 0; i < cc->nwebhooks; i++) {
		fprintf(f, "webhooks %s", cc->webhooks[i].url);
		sep = " ";
		for (j = 0; j < sizeof(event_names) / sizeof(event_names[0]); j++) {
			if (cc->webhooks[i].events & (unsigned)event_names[j].event) {
				fprintf(f, "%s%s", sep, event_names[j].name);
				sep = ",";
			}
		}
		fputc('\n', f);
	}
	fprintf(f, "limits.active_grants %llu\n", (unsigned long long)cc->active_grants);
	fprintf(
	    f, "limits.requests_per_minute %llu\n", (unsigned long long)cc->requests_per_minute);
}

/*
 * host.conf: what one host accepts (its names and hostgroups, the CA keys
 * it trusts, its KRL, and which tasks may open which local accounts), and
 * the principals ephemeral-principals prints for a local account.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "policy.h"

#define WHERE_MAX (CONF_SHOW_MAX + 64)

static const struct conf_key top_keys[] = {
    {"host", CONF_GROUP, 1},
    {"trusted_ca_keys", CONF_STRING, 1},
    {"revoked_keys", CONF_STRING, 1},
    {"accept", CONF_GROUP_LIST, 1},
    {"state_dir", CONF_STRING, 0},
    {"non_ephemeral", CONF_STRING, 0},
    {"krl_url", CONF_STRING, 0},
    {"session_end", CONF_BOOL, 0},
    {"services", CONF_STRING_LIST, 0},
};

static const struct conf_key host_keys[] = {
    {"names", CONF_STRING_LIST, 1},
    {"groups", CONF_STRING_LIST, 0},
};

static const struct conf_key accept_keys[] = {
    {"task", CONF_STRING, 1},
    {"users", CONF_STRING_LIST, 1},
};

void
hostconf_free(struct host_conf *hc)
{
	size_t i;

	if (hc == NULL)
		return;
	free(hc->file);
	policy_strv_free(hc->names, hc->nnames);
	policy_strv_free(hc->groups, hc->ngroups);
	free(hc->trusted_ca_keys);
	free(hc->revoked_keys);
	free(hc->state_dir);
	free(hc->krl_url);
	policy_strv_free(hc->services, hc->nservices);
	for (i = 0; i < hc->naccept; i++) {
		free(hc->accept[i].task);
		policy_strv_free(hc->accept[i].users, hc->accept[i].nusers);
	}
	free(hc->accept);
	free(hc);
}

struct line_name {
	const char *name;
	int line;
};

static int
cmp_line_name(const void *a, const void *b)
{
	const struct line_name *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return x->line < y->line ? -1 : (x->line > y->line);
}

/*
 * A non-empty list of names of one kind, copied (host names lower-cased)
 * in file order; every bad or repeated entry reported.
 */
static void
parse_names(struct conf *c, const config_setting_t *list, enum conf_name_kind kind, const char *key,
    const char *where, char ***out, size_t *nout)
{
	struct line_name *seen = NULL;
	const char *why;
	char **v;
	size_t i, nseen = 0;
	int n;

	*out = NULL;
	*nout = 0;
	n = config_setting_length(list);
	if (n <= 0) {
		conf_error(c, conf_line(list), "'%s' %s: the list is empty", key, where);
		return;
	}
	if ((unsigned)n > POLICY_MAX_LIST) {
		conf_error(c, conf_line(list), "'%s' %s: more than %u entries", key, where,
		    POLICY_MAX_LIST);
		return;
	}
	if ((v = calloc((size_t)n, sizeof(*v))) == NULL ||
	    (seen = calloc((size_t)n, sizeof(*seen))) == NULL) {
		free(v);
		c->nomem = 1;
		return;
	}
	for (i = 0; i < (size_t)n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *s = config_setting_get_string(e);
		int line = conf_elem_line(c, e);

		if ((why = conf_name_problem(s, kind)) != NULL) {
			conf_error(
			    c, line, "'%s' %s: name '%.*s' %s", key, where, CONF_SHOW_MAX, s, why);
			continue;
		}
		if ((v[*nout] = strdup(s)) == NULL) {
			c->nomem = 1;
			break;
		}
		if (kind == CONF_NAME_HOST)
			conf_lower(v[*nout]);
		seen[nseen].name = v[*nout];
		seen[nseen].line = line;
		nseen++;
		(*nout)++;
	}
	*out = v;
	if (nseen > 1)
		qsort(seen, nseen, sizeof(*seen), cmp_line_name);
	for (i = 1; i < nseen; i++)
		if (strcmp(seen[i - 1].name, seen[i].name) == 0)
			conf_error(c, seen[i].line, "'%s' %s: '%.*s' is listed twice", key, where,
			    CONF_SHOW_MAX, seen[i].name);
	free(seen);
}

static char *
parse_path(struct conf *c, const config_setting_t *root, const char *key)
{
	const char *s = conf_string(root, key);
	char *d;

	if (s == NULL)
		return NULL;
	if (s[0] != '/') {
		conf_error(c, conf_line(conf_member(root, key)),
		    "'%s' at top level: '%.*s' "
		    "is not an absolute path",
		    key, CONF_SHOW_MAX, s);
		return NULL;
	}
	if ((d = strdup(s)) == NULL)
		c->nomem = 1;
	return d;
}

static void
parse_accept(struct conf *c, struct host_conf *hc, const config_setting_t *list)
{
	struct line_name *seen;
	char where[WHERE_MAX];
	const char *why;
	size_t i, nseen = 0;
	int n = config_setting_length(list);

	if (n <= 0)
		return;
	if ((unsigned)n > POLICY_MAX_LIST) {
		conf_error(c, conf_line(list), "'accept': more than %u entries", POLICY_MAX_LIST);
		return;
	}
	if ((hc->accept = calloc((size_t)n, sizeof(*hc->accept))) == NULL ||
	    (seen = calloc((size_t)n, sizeof(*seen))) == NULL) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < (size_t)n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *us;
		struct host_accept *a = &hc->accept[hc->naccept];
		const char *task = conf_string(e, "task");

		a->line = conf_line(e);
		if (task != NULL && (why = conf_name_problem(task, CONF_NAME_TOKEN)) != NULL) {
			conf_error(c, conf_line(conf_member(e, "task")), "task name '%.*s' %s",
			    CONF_SHOW_MAX, task, why);
			task = NULL;
		}
		if (task != NULL)
			snprintf(where, sizeof(where), "in accept entry for task '%s'", task);
		else
			snprintf(where, sizeof(where), "in accept entry %zu", i + 1);
		conf_check_keys(c, e, accept_keys, CONF_NKEYS(accept_keys), where);
		hc->naccept++;
		if (task != NULL) {
			if ((a->task = strdup(task)) == NULL) {
				c->nomem = 1;
				break;
			}
			seen[nseen].name = a->task;
			seen[nseen].line = a->line;
			nseen++;
		}
		if ((us = conf_member(e, "users")) != NULL && conf_type_ok(us, CONF_STRING_LIST))
			parse_names(c, us, CONF_NAME_USER, "users", where, &a->users, &a->nusers);
	}
	if (nseen > 1)
		qsort(seen, nseen, sizeof(*seen), cmp_line_name);
	for (i = 1; i < nseen; i++)
		if (strcmp(seen[i - 1].name, seen[i].name) == 0)
			conf_error(c, seen[i].line,
			    "task '%s' is accepted twice (first at line "
			    "%d); list every user in one entry",
			    seen[i].name, seen[i - 1].line);
	free(seen);
}

/* The keys of the host side itself: state_dir, non_ephemeral, krl_url,
 * session_end, services, with their defaults. */
static void
parse_host_side(struct conf *c, struct host_conf *hc, const config_setting_t *root)
{
	const config_setting_t *s;
	const char *v;

	if (conf_member(root, "state_dir") != NULL)
		hc->state_dir = parse_path(c, root, "state_dir");
	else if ((hc->state_dir = strdup(HOST_DEFAULT_STATE_DIR)) == NULL)
		c->nomem = 1;
	if ((v = conf_string(root, "non_ephemeral")) != NULL) {
		if (strcmp(v, "ignore") == 0)
			hc->non_ephemeral = HOST_NON_EPHEMERAL_IGNORE;
		else if (strcmp(v, "deny") == 0)
			hc->non_ephemeral = HOST_NON_EPHEMERAL_DENY;
		else
			conf_error(c, conf_line(conf_member(root, "non_ephemeral")),
			    "'non_ephemeral' at top level: '%.*s' is neither \"ignore\" nor "
			    "\"deny\"",
			    CONF_SHOW_MAX, v);
	}
	if ((v = conf_string(root, "krl_url")) != NULL) {
		if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "file://", 7) != 0)
			conf_error(c, conf_line(conf_member(root, "krl_url")),
			    "'krl_url' at top level: '%.*s' is not an https://, http:// or file:// "
			    "URL",
			    CONF_SHOW_MAX, v);
		else if (strpbrk(v, " \t\r\n") != NULL)
			conf_error(c, conf_line(conf_member(root, "krl_url")),
			    "'krl_url' at top level: a URL has no blanks");
		else if ((hc->krl_url = strdup(v)) == NULL)
			c->nomem = 1;
	}
	hc->session_end = conf_bool(root, "session_end", 1);
	if ((s = conf_member(root, "services")) != NULL && conf_type_ok(s, CONF_STRING_LIST)) {
		parse_names(c, s, CONF_NAME_TOKEN, "services", "at top level", &hc->services,
		    &hc->nservices);
	} else if (s == NULL) {
		if ((hc->services = calloc(2, sizeof(*hc->services))) == NULL ||
		    (hc->services[0] = strdup("sshd")) == NULL)
			c->nomem = 1;
		else
			hc->nservices = 1;
	}
}

static int
hostconf_build(struct conf *c, struct host_conf **out)
{
	const config_setting_t *root = conf_root(c), *h, *s;
	struct host_conf *hc;
	int r;

	if ((hc = calloc(1, sizeof(*hc))) == NULL || (hc->file = strdup(c->name)) == NULL) {
		free(hc);
		return EPH_ERR_NOMEM;
	}
	conf_check_keys(c, root, top_keys, CONF_NKEYS(top_keys), "at top level");
	if ((h = conf_member(root, "host")) != NULL && conf_type_ok(h, CONF_GROUP)) {
		conf_check_keys(c, h, host_keys, CONF_NKEYS(host_keys), "in host");
		if ((s = conf_member(h, "names")) != NULL && conf_type_ok(s, CONF_STRING_LIST))
			parse_names(
			    c, s, CONF_NAME_HOST, "names", "in host", &hc->names, &hc->nnames);
		if ((s = conf_member(h, "groups")) != NULL && conf_type_ok(s, CONF_STRING_LIST))
			parse_names(
			    c, s, CONF_NAME_TOKEN, "groups", "in host", &hc->groups, &hc->ngroups);
	}
	hc->trusted_ca_keys = parse_path(c, root, "trusted_ca_keys");
	hc->revoked_keys = parse_path(c, root, "revoked_keys");
	if ((s = conf_member(root, "accept")) != NULL && conf_type_ok(s, CONF_GROUP_LIST))
		parse_accept(c, hc, s);
	parse_host_side(c, hc, root);
	if ((r = conf_result(c)) != EPH_OK) {
		hostconf_free(hc);
		return r;
	}
	*out = hc;
	return EPH_OK;
}

int
hostconf_load(const char *path, struct host_conf **out, struct policy_errors *errs)
{
	struct conf c;
	int r;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if ((r = conf_load_file(&c, path, errs)) == EPH_OK)
		r = hostconf_build(&c, out);
	conf_free(&c);
	return r;
}

int
hostconf_load_string(
    const char *text, const char *name, struct host_conf **out, struct policy_errors *errs)
{
	struct conf c;
	int r;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if ((r = conf_load_string(&c, text, name, errs)) == EPH_OK)
		r = hostconf_build(&c, out);
	conf_free(&c);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
accepts_user(const struct host_accept *a, const char *user)
{
	size_t i;

	for (i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i], user) == 0)
			return 1;
	return 0;
}

int
host_principals_for(const struct host_conf *hc, const char *local_user, char ***out, size_t *n)
{
	char **v = NULL;
	size_t i, j, k, cap = 0, nv = 0;
	int r = EPH_ERR_NOMEM;

	if (out == NULL || n == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	*n = 0;
	if (hc == NULL || local_user == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; i < hc->naccept; i++)
		if (hc->accept[i].task != NULL && accepts_user(&hc->accept[i], local_user))
			cap += hc->nnames + hc->ngroups;
	if (cap == 0)
		return EPH_OK;
	/* One spare slot keeps the vector NULL-terminated. */
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < hc->naccept; i++) {
		const struct host_accept *a = &hc->accept[i];

		if (a->task == NULL || !accepts_user(a, local_user))
			continue;
		for (j = 0; j < hc->nnames; j++)
			if (asprintf(&v[nv++], "eph:%s@%s", a->task, hc->names[j]) < 0) {
				v[--nv] = NULL;
				goto out;
			}
		for (j = 0; j < hc->ngroups; j++)
			if (asprintf(&v[nv++], "eph:%s@group:%s", a->task, hc->groups[j]) < 0) {
				v[--nv] = NULL;
				goto out;
			}
	}
	qsort(v, nv, sizeof(*v), cmp_str);
	for (i = 0, k = 0; i < nv; i++) {
		if (k > 0 && strcmp(v[k - 1], v[i]) == 0) {
			free(v[i]);
			v[i] = NULL;
			continue;
		}
		v[k] = v[i];
		if (k != i)
			v[i] = NULL;
		k++;
	}
	nv = k;
	*out = v;
	*n = nv;
	v = NULL;
	r = EPH_OK;
out:
	if (v != NULL) {
		for (i = 0; i < nv; i++)
			free(v[i]);
		free(v);
	}
	return r;
}

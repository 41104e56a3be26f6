/* ephssh's configuration files and their precedence (conf.h). The
 * libconfig plumbing is libephpolicy's conf.c, shared by every ephssh
 * file; nothing of the policy or the host side is used. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../policy/conf.h"
#include "conf.h"
#include "err.h"

static const struct conf_key client_keys[] = {
    {"ca", CONF_STRING, 0},
    {"ca_bundle", CONF_STRING, 0},
    {"connect_timeout", CONF_DURATION, 0},
    {"wait_timeout", CONF_DURATION, 0},
    {"ttl", CONF_DURATION, 0},
};

const char *
ephssh_ca_problem(const char *ca)
{
	size_t n;

	if (ca == NULL || *ca == '\0')
		return "is empty";
	if ((n = strlen(ca)) > EPHSSH_MAX_CONFIG_URL)
		return "is too long";
	if (strncmp(ca, "unix:", 5) == 0) {
		if (ca[5] != '/')
			return "unix: needs an absolute socket path "
			       "(unix:/run/ephemeral/sshca.sock)";
		if (n - 5 >= 108) /* sun_path */
			return "the socket path is too long for a Unix socket";
		return NULL;
	}
	if (strncmp(ca, "https://", 8) == 0) {
		if (ca[8] == '\0' || ca[8] == '/' || ca[8] == ':')
			return "https:// needs a host name (https://ca.example.com:8443)";
		if (strpbrk(ca, " \t\r\n?#") != NULL)
			return "is not a plain https://host[:port] address";
		return NULL;
	}
	if (strncmp(ca, "http://", 7) == 0)
		return "plain http is refused: use https:// (or unix:PATH on the CA host)";
	return "must start with unix: or https://";
}

static int
set_str(char **slot, const char *v)
{
	char *s;

	if ((s = strdup(v)) == NULL)
		return EPH_ERR_NOMEM;
	free(*slot);
	*slot = s;
	return EPH_OK;
}

/* The address as used: a trailing '/' of an https URL dropped. */
static int
set_ca(struct ephssh_conf *c, const char *v, enum ephssh_source from)
{
	int r;
	size_t n;

	if ((r = set_str(&c->ca, v)) != EPH_OK)
		return r;
	n = strlen(c->ca);
	while (n > 9 && strncmp(c->ca, "https://", 8) == 0 && c->ca[n - 1] == '/')
		c->ca[--n] = '\0';
	c->ca_from = from;
	return EPH_OK;
}

/* Read one file over c. missing_ok: a file that does not exist is fine. */
static int
load_file(struct ephssh_conf *c, const char *path, enum ephssh_source from, int missing_ok,
    struct policy_errors *errs)
{
	struct conf cf;
	config_setting_t *root;
	const char *s;
	uint64_t d;
	int r;

	if (missing_ok && access(path, F_OK) != 0 && errno == ENOENT)
		return EPH_OK;
	if ((r = conf_load_file(&cf, path, errs)) != EPH_OK)
		goto out;
	root = conf_root(&cf);
	conf_check_keys(&cf, root, client_keys, CONF_NKEYS(client_keys), "at top level");
	if ((s = conf_string(root, "ca")) != NULL) {
		const char *why = ephssh_ca_problem(s);

		if (why != NULL)
			conf_error(&cf, conf_line(conf_member(root, "ca")), "ca: '%.*s' %s",
			    CONF_SHOW_MAX, s, why);
		else if ((r = set_ca(c, s, from)) != EPH_OK)
			goto out;
	}
	if ((s = conf_string(root, "ca_bundle")) != NULL) {
		if (*s != '/')
			conf_error(&cf, conf_line(conf_member(root, "ca_bundle")),
			    "ca_bundle: needs an absolute path");
		else if ((r = set_str(&c->ca_bundle, s)) != EPH_OK)
			goto out;
	}
	if (conf_duration(&cf, root, "connect_timeout", 1, 300, &d, "at top level") > 0)
		c->connect_timeout = d;
	if (conf_duration(&cf, root, "wait_timeout", 0, 7 * 86400, &d, "at top level") > 0)
		c->wait_timeout = d;
	if (conf_duration(&cf, root, "ttl", 1, 7 * 86400, &d, "at top level") > 0)
		c->ttl = d;
	r = conf_result(&cf);
out:
	conf_free(&cf);
	return r;
}

/* $XDG_CONFIG_HOME/ephssh/config, or ~/.config/ephssh/config; NULL when
 * there is neither a config home nor a home. */
static char *
user_file(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;

	/* The XDG spec: a relative XDG_CONFIG_HOME is invalid, ignore it. */
	if (x != NULL && x[0] == '/') {
		if (asprintf(&p, "%s/ephssh/config", x) < 0)
			return NULL;
		return p;
	}
	if (home != NULL && home[0] == '/' && asprintf(&p, "%s/.config/ephssh/config", home) < 0)
		return NULL;
	return p;
}

int
ephssh_conf_load(const char *system_file, const char *config_file, const char *ca_flag,
    struct ephssh_conf *c, char **why)
{
	struct policy_errors errs = {NULL, 0};
	const char *flag_why;
	int r;

	memset(c, 0, sizeof(*c));
	*why = NULL;
	c->connect_timeout = EPHSSH_DEFAULT_CONNECT_TIMEOUT;
	if ((r = set_ca(c, EPHSSH_DEFAULT_CA, EPHSSH_SRC_DEFAULT)) != EPH_OK)
		goto out;
	if (config_file != NULL) {
		r = load_file(c, config_file, EPHSSH_SRC_FILE, 0, &errs);
	} else {
		r = load_file(c, system_file != NULL ? system_file : EPHSSH_SYSTEM_CONFIG,
		    EPHSSH_SRC_SYSTEM, 1, &errs);
		c->user_file = user_file();
		if (c->user_file != NULL) {
			int r2 = load_file(c, c->user_file, EPHSSH_SRC_USER, 1, &errs);

			if (r == EPH_OK)
				r = r2;
		}
	}
	if (r != EPH_OK)
		goto out;
	if (ca_flag != NULL) {
		if ((flag_why = ephssh_ca_problem(ca_flag)) != NULL) {
			if (asprintf(why, "--ca '%.*s': %s", CONF_SHOW_MAX, ca_flag, flag_why) < 0)
				*why = NULL;
			r = EPH_ERR_INVAL;
			goto out;
		}
		r = set_ca(c, ca_flag, EPHSSH_SRC_FLAG);
	}
out:
	if (r != EPH_OK && *why == NULL) {
		*why = errs.n > 0 ? policy_errors_format(&errs) : NULL;
		if (*why == NULL)
			*why = strdup(eph_strerror(r));
	}
	policy_errors_clear(&errs);
	if (r != EPH_OK)
		ephssh_conf_clear(c);
	return r;
}

void
ephssh_conf_clear(struct ephssh_conf *c)
{
	free(c->ca);
	free(c->ca_bundle);
	free(c->user_file);
	memset(c, 0, sizeof(*c));
}

/* ca.conf: the CA's own settings, read through the shared libconfig
 * plumbing (policy/conf.h) so it reports errors the way the policy does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caconf.h"
#include "conf.h"
#include "err.h"
#include "util.h"

#define WHERE "at top level"

/* Every key ca.conf may hold; the order is the order of caconf_dump. */
static const struct conf_key caconf_keys[] = {
    {"ca_key", CONF_STRING, 1},
    {"policy", CONF_STRING, 1},
    {"revoked_keys", CONF_STRING, 0},
    {"clock_skew", CONF_DURATION, 0},
    {"max_ttl", CONF_DURATION, 0},
    {"database", CONF_STRING, 0},
};

void
caconf_free(struct ca_conf *cc)
{
	if (cc == NULL)
		return;
	free(cc->file);
	free(cc->ca_key);
	free(cc->policy);
	free(cc->revoked_keys);
	free(cc->database);
	free(cc);
}

/*
 * A path key: absolute, because the CA runs from / and a relative path
 * would depend on where it was started; printable, because it is logged.
 * Returns 0 when absent or refused (reported), 1 with *out set.
 */
static int
get_path(struct conf *c, const char *name, char **out, int *line)
{
	config_setting_t *s = conf_member(conf_root(c), name);
	const char *v = conf_string(conf_root(c), name);
	const unsigned char *p;

	if (v == NULL)
		return 0;
	*line = conf_line(s);
	if (v[0] != '/') {
		conf_error(c, *line, "'%s' %s: expected an absolute path", name, WHERE);
		return 0;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			conf_error(c, *line, "'%s' %s: control character in the path", name, WHERE);
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
get_duration(struct conf *c, const char *name, uint64_t min, uint64_t max, uint64_t *out, int *line)
{
	config_setting_t *s = conf_member(conf_root(c), name);
	int r;

	if ((r = conf_duration(c, conf_root(c), name, min, max, out, WHERE)) == 1)
		*line = conf_line(s);
	return r;
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
	conf_check_keys(c, conf_root(c), caconf_keys, CONF_NKEYS(caconf_keys), WHERE);
	get_path(c, "ca_key", &cc->ca_key, &cc->ca_key_line);
	get_path(c, "policy", &cc->policy, &cc->policy_line);
	get_path(c, "revoked_keys", &cc->revoked_keys, &cc->revoked_keys_line);
	get_duration(
	    c, "clock_skew", 0, CACONF_MAX_CLOCK_SKEW, &cc->clock_skew, &cc->clock_skew_line);
	get_duration(c, "max_ttl", 1, POLICY_MAX_TTL_LIMIT, &cc->max_ttl, &cc->max_ttl_line);
	if (!get_path(c, "database", &cc->database, &cc->database_line) && !c->nomem &&
	    cc->database_line == 0 && (cc->database = strdup(CACONF_DEFAULT_DATABASE)) == NULL)
		c->nomem = 1;
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

void
caconf_dump(const struct ca_conf *cc, FILE *f)
{
	char skew[32], ttl[32];

	format_duration(cc->clock_skew, skew, sizeof(skew));
	format_duration(cc->max_ttl, ttl, sizeof(ttl));
	fprintf(f, "ca_key %s\n", cc->ca_key);
	fprintf(f, "policy %s\n", cc->policy);
	fprintf(f, "revoked_keys %s\n", cc->revoked_keys != NULL ? cc->revoked_keys : "none");
	fprintf(f, "clock_skew %s\n", skew);
	fprintf(f, "max_ttl %s\n", ttl);
	fprintf(f, "database %s\n", cc->database);
}

/*
 * Shared libconfig plumbing for every ephssh configuration file
 * (policy.conf, host.conf, ca.conf): careful reading, refusing @include,
 * table-driven keyword checks, typed getters, and "file:line: message"
 * errors collected into a struct policy_errors (all of them, not the
 * first).
 *
 * Use for a new file (ca.conf, say):
 *
 *	static const struct conf_key ca_keys[] = {
 *		{ "listen", CONF_STRING, 1 },
 *		{ "max_ttl", CONF_DURATION, 0 },
 *	};
 *	struct conf c;
 *
 *	r = conf_load_file(&c, path, errs);	// or conf_load_string()
 *	if (r == EPH_OK) {
 *		root = conf_root(&c);
 *		conf_check_keys(&c, root, ca_keys, CONF_NKEYS(ca_keys), "at top level");
 *		s = conf_string(root, "listen");	// NULL if absent or mistyped
 *		if (conf_duration(&c, root, "max_ttl", 1, 86400, &ttl, "at top level") < 0)
 *			...;				// already reported
 *		if (bad(s))
 *			conf_error(&c, conf_line(conf_member(root, "listen")), "...");
 *		r = conf_result(&c);		// EPH_ERR_FORMAT if anything was reported
 *	}
 *	conf_free(&c);
 *
 * conf_check_keys reports unknown keys, wrong types and missing required
 * keys; the getters then return "absent" for a mistyped key so nothing is
 * reported twice. Messages read "unknown key 'x' in task 'db-maint'",
 * "'approvals' in task 'db-maint': expected an integer",
 * "missing 'login_as' in task 'db-maint'": the "where" argument is the
 * phrase that ends them.
 */
#ifndef EPH_CONF_H
#define EPH_CONF_H

#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "policy.h"

/* Longest user-supplied text quoted in a message (longer is cut). */
#define CONF_SHOW_MAX 80

enum conf_type {
	CONF_STRING, /* "text" */
	CONF_STRING_LIST, /* [ "a", "b" ] or ( "a", "b" ); may be empty */
	CONF_BOOL, /* true / false */
	CONF_INT, /* 42 or 42L */
	CONF_DURATION, /* "10m", "1h30m" (parse_duration), or integer seconds */
	CONF_GROUP, /* { key = value; ... } */
	CONF_GROUP_LIST, /* ( { ... }, { ... } ); may be empty */
	CONF_STRING_OR_LIST, /* "text", or a CONF_STRING_LIST */
	CONF_INT_OR_GROUP_LIST, /* 42, or a CONF_GROUP_LIST */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	int required;
};

#define CONF_NKEYS(t) (sizeof(t) / sizeof((t)[0]))

struct conf {
	config_t cfg;
	int have_cfg; /* cfg initialised */
	char *name; /* file name used in messages */
	char *text; /* the text parsed, for finding element lines */
	size_t *lines; /* offsets of line starts, built on demand */
	size_t nlines;
	struct policy_errors *errs;
	struct policy_errors own; /* used when the caller passed no errs */
	struct policy_errors warns; /* conf_warn: loads, but worth saying */
	size_t first_error; /* errs->n when loading began */
	int nomem;
};

/*
 * Read path (at most POLICY_MAX_FILE_SIZE bytes, no symlinks, refused when
 * writable by group/other or owned by someone else) and parse it. Problems
 * are appended to errs (which may be NULL) as "path: ..." or "path:line:
 * ...". Returns EPH_OK, EPH_ERR_IO / EPH_ERR_PERM / EPH_ERR_TOOLARGE for the
 * file itself, EPH_ERR_FORMAT for its contents, EPH_ERR_NOMEM. Call
 * conf_free whatever it returns.
 */
int conf_load_file(struct conf *c, const char *path, struct policy_errors *errs);
/* Same from text; name (NULL: "<string>") is used in messages. */
int conf_load_string(
    struct conf *c, const char *text, const char *name, struct policy_errors *errs);
void conf_free(struct conf *c);

config_setting_t *conf_root(const struct conf *c);
/* A member of a group, NULL when absent (or g is NULL / not a group). */
config_setting_t *conf_member(const config_setting_t *g, const char *name);

/* Record a problem at line (0: none). Never fails: on out of memory the
 * conf remembers it and conf_result says so. */
void conf_error(struct conf *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record something that loads but is probably not what the author
 * meant; the loader hands these to its caller (struct policy.warnings). */
void conf_warn(struct conf *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Move the warnings (sorted by line) to *to, which is cleared first. */
void conf_take_warnings(struct conf *c, struct policy_errors *to);
/* EPH_ERR_NOMEM, EPH_ERR_FORMAT when any problem was recorded since
 * loading began, else EPH_OK. Also sorts those problems by line. */
int conf_result(struct conf *c);
/* Number of problems recorded since loading began. */
size_t conf_nerrors(const struct conf *c);

/* Line of a setting (its name; for a list member, its opening brace). */
int conf_line(const config_setting_t *s);
/* Line of a scalar member of an array or list. libconfig records where
 * the parser stood after reading one token more; this corrects it back
 * over a closing bracket that starts a later line. */
int conf_elem_line(struct conf *c, const config_setting_t *elem);

/* Does the setting have the type? */
int conf_type_ok(const config_setting_t *s, enum conf_type t);
/* "a string", "a list of strings", ... for messages. */
const char *conf_type_name(enum conf_type t);

/*
 * Check the members of group g against the table: unknown keys, wrong
 * types, missing required keys, each reported with where ("in task 'x'").
 * Returns the number of problems reported.
 */
size_t conf_check_keys(struct conf *c, const config_setting_t *g, const struct conf_key *keys,
    size_t nkeys, const char *where);

/* Typed getters on a member of g. Absent or mistyped (already reported by
 * conf_check_keys) reads as absent. */
const char *conf_string(const config_setting_t *g, const char *name);
/* 1 true, 0 false, dflt when absent. */
int conf_bool(const config_setting_t *g, const char *name, int dflt);
/* 1 and *out set when present and within [min, max]; 0 when absent; -1
 * (reported) when out of range. */
int conf_int(struct conf *c, const config_setting_t *g, const char *name, int64_t min, int64_t max,
    int64_t *out, const char *where);
/* Like conf_int for a duration in seconds; -1 (reported) when malformed
 * or out of range. */
int conf_duration(struct conf *c, const config_setting_t *g, const char *name, uint64_t min,
    uint64_t max, uint64_t *out, const char *where);

/* Lower-case ASCII in place. */
void conf_lower(char *s);

/* What a name in a configuration may be. */
enum conf_name_kind {
	CONF_NAME_TOKEN, /* task, group, hostgroup, env: [A-Za-z0-9._-]+ */
	CONF_NAME_USER, /* user or Unix group: [A-Za-z0-9._-], '@' not first,
	                 * '$' only last, not starting with '-' */
	CONF_NAME_HOST, /* a DNS host name, no wildcard */
};

/* NULL when s is a valid name of that kind and at most
 * POLICY_MAX_NAME_LEN long, else a static reason ("is empty", ...). */
const char *conf_name_problem(const char *s, enum conf_name_kind kind);

#endif

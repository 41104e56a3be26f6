/*
 * ephssh's configuration: /etc/ephemeral/ephssh.conf, then the user's
 * $XDG_CONFIG_HOME/ephssh/config (~/.config/ephssh/config), each key of
 * a later file over the earlier, and the command line (--ca) over both;
 * --config FILE is read instead of the two. libconfig syntax, the same
 * careful reading as every ephssh file (no @include, unknown keys and
 * wrong types are errors with file:line).
 *
 *	ca = "unix:/run/ephemeral/sshca.sock";   # or "https://ca.example.com:8443"
 *	ca_bundle = "/etc/ephemeral/ca-tls.crt"; # TLS: the CAs to trust (default: the system's)
 *	connect_timeout = "10s";
 *	wait_timeout = "0";                      # 0: wait until the request expires
 *	ttl = "10m";                             # asked for when --ttl is not given (default: the
 *task's)
 */
#ifndef EPHSSH_CONF_H
#define EPHSSH_CONF_H

#include <stdint.h>

#define EPHSSH_SYSTEM_CONFIG SYSCONFDIR "/ephemeral/ephssh.conf"
#define EPHSSH_DEFAULT_CA "unix:/run/ephemeral/sshca.sock"
#define EPHSSH_DEFAULT_CONNECT_TIMEOUT 10
#define EPHSSH_MAX_CONFIG_URL 2048

/* Where a value came from, for `ephssh --help` and tests. */
enum ephssh_source {
	EPHSSH_SRC_DEFAULT = 0,
	EPHSSH_SRC_SYSTEM,
	EPHSSH_SRC_USER,
	EPHSSH_SRC_FILE,
	EPHSSH_SRC_FLAG
};

struct ephssh_conf {
	char *ca; /* "unix:PATH" or "https://HOST[:PORT]" (a trailing / dropped) */
	enum ephssh_source ca_from;
	char *ca_bundle; /* NULL: the system's trust store */
	uint64_t connect_timeout; /* seconds */
	uint64_t wait_timeout; /* seconds; 0: until the request expires */
	uint64_t ttl; /* seconds; 0: the task's default */
	char *user_file; /* the user file looked at (NULL: no home) */
};

/*
 * Fill c: defaults, then system_file (NULL: EPHSSH_SYSTEM_CONFIG), then
 * the user's file (found through XDG_CONFIG_HOME / HOME), or only
 * config_file when given (it must exist); then ca_flag when given. A
 * missing system or user file is fine; one that cannot be read or
 * parsed is an error. On error *why (malloc'd) says everything wrong,
 * one "file:line: problem" per line. Returns EPH_OK or an EPH_ERR_*.
 */
int ephssh_conf_load(const char *system_file, const char *config_file, const char *ca_flag,
    struct ephssh_conf *c, char **why);
void ephssh_conf_clear(struct ephssh_conf *c);

/*
 * Is ca a CA address ephssh can use? NULL when it is, else why not.
 * "unix:/abs/path" or "https://host[:port][/]"; plain http is refused
 * (tokens and certificates never cross a network in clear text).
 */
const char *ephssh_ca_problem(const char *ca);

#endif

/*
 * ephssh ssh's side of the SSH protocol, on libssh: one connection to a
 * host whose key must already be in known_hosts, authenticated with
 * exactly one certificate whose private key stays in the user's
 * ssh-agent, then one remote command or shell relayed to this terminal.
 * Nothing is written to disk (except known_hosts, with accept_new).
 */
#ifndef EPHSSH_SSHCONN_H
#define EPHSSH_SSHCONN_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"

struct sshconn_target {
	const char *host; /* as typed: ~/.ssh/config's Host and known_hosts see it */
	unsigned port; /* 0: ~/.ssh/config's Port, else 22 */
	const char *user; /* the remote account */
	int accept_new; /* add an unknown host key to known_hosts (never a changed one) */
};

struct sshconn;

/*
 * Connect and check the host key against known_hosts (the user's and
 * the system's). An unknown key (without accept_new), a changed one or
 * one of another type than known is refused: EPH_ERR_PERM. A connection
 * failure is EPH_ERR_IO. why says what happened, one line; on EPH_OK
 * with accept_new it holds the note that the key was added ("" if not).
 */
int sshconn_open(const struct sshconn_target *t, struct sshconn **out, char *why, size_t len);

/*
 * Authenticate as t->user with the certificate (or key) blob, which must
 * be an identity of agent: the server is offered that blob and nothing
 * else, and the agent signs. EPH_ERR_PRINCIPAL when the server refuses
 * it, EPH_ERR_AGENT when the agent would not sign, EPH_ERR_IO on a
 * broken connection.
 */
int sshconn_auth(
    struct sshconn *c, struct agent *agent, const uint8_t *blob, size_t n, char *why, size_t len);

/*
 * Run command (NULL: a shell, with a PTY when stdin is a terminal, which
 * is put in raw mode until the end) with stdin, stdout and stderr
 * relayed. EPH_OK with *status the remote exit status, or -1 when there
 * was none (a signal killed it: why says which); EPH_ERR_PERM when the
 * server would not start it, EPH_ERR_IO when the connection broke once
 * it ran.
 */
int sshconn_run(struct sshconn *c, const char *command, int *status, char *why, size_t len);

void sshconn_close(struct sshconn *c);

#endif

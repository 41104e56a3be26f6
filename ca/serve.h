/*
 * sshca serve: the glue. The HTTP front's backend (struct ca_api_backend)
 * implemented on the workflow engine, and the daemon's run function that
 * starts the parts in the order their trust boundaries need: ca.conf,
 * signals and the signer (before any thread), the listeners (as root),
 * privileges dropped, the store and the workflow (as the CA user), then
 * serving until SIGTERM.
 */
#ifndef SSHCA_SERVE_H
#define SSHCA_SERVE_H

#include <stdint.h>

#include "api.h"
#include "caconf.h"
#include "signer.h"
#include "workflow.h"

#define SERVE_DEFAULT_PID_FILE "/run/ephemeral/sshca.pid"
#define SERVE_DEFAULT_GRACE 10u /* seconds SIGTERM lets requests in flight finish */
#define SERVE_DEFAULT_SWEEP_MS 5000u /* between expiry sweeps */

/* What the command line sets. */
struct serve_opts {
	int daemonize; /* --daemon: detach and write the pid file */
	const char *pid_file; /* NULL: SERVE_DEFAULT_PID_FILE (with --daemon only) */
	unsigned grace; /* 0: SERVE_DEFAULT_GRACE */
	unsigned sweep_ms; /* 0: SERVE_DEFAULT_SWEEP_MS */
	/* --pam-service: the PAM service POST /v1/login uses; NULL: "sshca".
	 * For tests (a private /etc/pam.d file), not for sites. */
	const char *pam_service;
};

/* Counters the backend keeps for GET /metrics (updated atomically). */
struct serve_counters {
	uint64_t created; /* POST /v1/requests answered with a stored request */
	uint64_t pending, issued_at_once, denied; /* ... by the state it was created in */
	uint64_t approvals; /* approvals accepted */
	uint64_t issuances; /* certificates handed out (at creation or last approval) */
	uint64_t revocations;
	uint64_t denials; /* explicit denials by approvers */
	uint64_t cancellations;
	uint64_t reviews;
	uint64_t refused; /* any backend call answered with an error */
	uint64_t logins, login_failures; /* POST /v1/login */
	uint64_t logouts; /* POST /v1/logout: sessions ended */
};

/* The backend's context: what every struct ca_api_backend member gets. */
struct serve_backend {
	const struct ca_conf *cc;
	struct workflow *wf;
	struct signer *signer;
	struct session *sessions; /* TLS logins; NULL: login answers 503 */
	struct serve_counters n;
};

/* The members, every one set. */
extern const struct ca_api_backend serve_api_backend;

/* serve_backend's store lock for struct session_opts (ctx: the
 * struct serve_backend, once wf is set). */
struct store *serve_store_lock(void *ctx);
void serve_store_unlock(void *ctx);

/*
 * Run the daemon with ca.conf at caconf_path until SIGTERM / SIGINT
 * (exit status 0) or a failure (1: a startup refusal, said in one line on
 * stderr and in the log; the signer's death). Only sshca serve calls it:
 * it changes the process (signal mask, user, children).
 */
int serve_run(const char *caconf_path, const struct serve_opts *o);

#endif

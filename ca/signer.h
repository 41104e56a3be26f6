/*
 * The signer: the one process that holds the CA private key. sshca serve
 * forks it before the network side drops privileges; the two talk over a
 * socketpair with a fixed, small request set, and the signer signs only
 * what its own evaluation of the policy says, logging every signature
 * itself before the certificate leaves it.
 *
 * Protocol. One AF_UNIX SOCK_SEQPACKET socketpair: every message is one
 * packet of at most SIGNER_MAX_MSG bytes in lib/buf.h wire encoding
 * (uint8, uint32, uint64 big-endian; string = uint32 length + bytes, no
 * NUL inside). The parent asks, the signer answers; one request at a time.
 *
 *   ready   (signer -> parent, once, unasked, when its key and policy
 *            are loaded): a reply to an implicit request; OK carries
 *            string CA fingerprint ("SHA256:...").
 *   request := uint8 type, fields
 *     SIGNER_MSG_PING   nothing
 *     SIGNER_MSG_PUBKEY nothing
 *     SIGNER_MSG_SIGN   string id            request id = grant id
 *                       string task
 *                       string requester     canonical account name
 *                       uint8  requester_id  enum policy_identity
 *                       uint32 requester_uid
 *                       uint32 n, string group * n   requester's Unix groups
 *                       uint32 n, string host * n    as requested
 *                       uint64 ttl           seconds; 0: the task's default
 *                       string reason        "" when none
 *                       string source_address "" when unknown
 *                       string login_as      "" for the task's default
 *                       uint32 n, approval * n
 *                         approval := string user, uint8 id, uint32 uid,
 *                                     uint32 n, string group * n
 *                       string public_key    an OpenSSH public key line
 *                       uint64 serial        allocated by the store, >= 1
 *                       uint64 now           seconds since the epoch
 *     SIGNER_MSG_RELOAD nothing
 *   reply := uint8 SIGNER_REPLY_OK, fields
 *          | uint8 SIGNER_REPLY_FAIL, uint32 -code (an EPH_ERR_*), string why
 *     PING   OK: uint64 signatures made, uint64 policy generation
 *     PUBKEY OK: uint32 n (1, or 2 with ca_key_next), string line * n,
 *                the current key first
 *     SIGN   OK: string certificate line, uint64 counter
 *     RELOAD OK: uint64 policy generation (FAIL: the file:line errors)
 *
 * Anything malformed -- an unknown type, a short or over-long packet,
 * a field over its cap, trailing bytes -- is not answered: the signer
 * logs it, closes the channel and exits with SIGNER_EXIT_PROTOCOL. Only
 * a broken or compromised parent sends such a thing, and a signer that
 * exits is what the operator should see (sshca serve then stops: it
 * cannot start a new signer once it has dropped privileges). A well-formed
 * request the signer refuses (the policy does not say "issue", a weak key,
 * a clock far from the signer's) is a FAIL reply, and the channel stays
 * open. End of file from the parent (and an empty packet, which reads
 * the same on SOCK_SEQPACKET) ends the signer with status 0.
 *
 * What it signs. For SIGN the signer evaluates its own copy of the policy
 * (policy_eval) on the request and the approvals it is told, at the
 * request's now, which must be within SIGNER_MAX_DRIFT of its own clock,
 * with ca.conf max_ttl as the CA's cap; anything but POLICY_ISSUE is
 * refused (EPH_ERR_PERM, why: the policy's reasons). Otherwise exactly
 * the decision: its principals; validity now - clock_skew .. now + ttl;
 * force-command and source-address when it names them; its flag
 * extensions; grant@ephssh with grant id = request id, task, requester,
 * the approvers who counted, the SHA-256 of the reason, max_logins and
 * login_as; key id "eph:<id>:<requester>:<task>"; the store's serial.
 * Before answering it writes one record (SIGNER_MSGID_SIGNED; LOG_ALERT
 * for break-glass, else LOG_NOTICE) with the serial, key id, principals,
 * validity, user-key fingerprint and its own counter (1, 2, ... per signer
 * process; SIGNER_MSGID_STARTED marks where a count starts), and when
 * the record cannot be written, no certificate is returned. Refusals are
 * logged too (SIGNER_MSGID_REFUSED).
 *
 * The policy: loaded at start from ca.conf's policy path, and again on
 * RELOAD or on SIGHUP. A policy that does not load leaves the old one in
 * force and is logged with every file:line error (RELOAD answers them).
 * Each successful load increments the generation PING reports.
 *
 * The child: its stdin is /dev/null; it keeps stdout/stderr, the channel,
 * and AF_UNIX datagram sockets (the logging sockets syslog and journald
 * cache across fork: closing them would let a later fd reuse their
 * numbers) and closes every other descriptor, so no listener of the
 * parent survives in it. It is not dumpable (no ptrace, no core with the
 * key), ignores SIGINT and SIGPIPE, and gets SIGTERM when its parent dies.
 * Once its key and policy are loaded it gives up every capability
 * (daemon_drop_capabilities): it stays uid 0, the owner of the files it
 * reads, with no power over anyone else's; it does not start when it
 * cannot.
 */
#ifndef SSHCA_SIGNER_H
#define SSHCA_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "caconf.h"
#include "key.h"
#include "policy.h"

/* Below the default socket buffer (net.core.wmem_default), so one
 * packet always fits; a request over it is EPH_ERR_TOOLARGE. */
#define SIGNER_MAX_MSG (64u * 1024u)
#define SIGNER_MAX_FIELD 4096u /* reason, public key line, source address */
#define SIGNER_MAX_NAME 256u /* id, task, user, group, host, login_as */
#define SIGNER_MAX_GROUPS 1024u /* Unix groups of one person */
#define SIGNER_MAX_ID_LEN 64u
#define SIGNER_MAX_DRIFT 300 /* seconds between a request's now and the signer's */
#define SIGNER_TIMEOUT_MS 30000 /* the parent's wait for any answer */

enum {
	SIGNER_MSG_PING = 1,
	SIGNER_MSG_PUBKEY = 2,
	SIGNER_MSG_SIGN = 3,
	SIGNER_MSG_RELOAD = 4,
	SIGNER_REPLY_OK = 0x80,
	SIGNER_REPLY_FAIL = 0x81,
};

/* Exit status of the signer process. */
#define SIGNER_EXIT_OK 0 /* the parent closed the channel */
#define SIGNER_EXIT_START 1 /* key or policy did not load (reported in ready) */
#define SIGNER_EXIT_PROTOCOL 3 /* a malformed message */

/* journald MESSAGE_IDs of the signer's records. */
#define SIGNER_MSGID_SIGNED "b08e793e1c7b4312a602ed3f78e6ae08"
#define SIGNER_MSGID_REFUSED "587eb07361d9480992ba3aee23bdc392"
#define SIGNER_MSGID_STARTED "2fd050c2f96c4385b70f1c9b86fc1d1c"
#define SIGNER_MSGID_PROTOCOL "4a32603390374b87bf3f6d089803b4c2"

struct signer;

struct signer_options {
	/* The signer's clock (tests); NULL: time(NULL). */
	time_t (*clock)(void);
};

/* A stored request to sign, as the network side knows it. The signer
 * takes nothing in it on trust but the identities and approvals (which
 * it logs); everything else it checks against its own policy. */
struct signer_request {
	const char *id; /* [A-Za-z0-9._-], 1 to SIGNER_MAX_ID_LEN bytes */
	const char *task;
	const char *requester;
	enum policy_identity requester_id;
	uid_t requester_uid;
	const char *const *groups; /* requester's Unix groups */
	size_t ngroups;
	const char *const *hosts;
	size_t nhosts;
	uint64_t ttl;
	const char *reason; /* NULL or "" when none */
	const char *source_address; /* NULL when unknown */
	const char *login_as; /* NULL: the task's default */
	const struct policy_approval *approvals;
	size_t napprovals;
	const char *public_key; /* "ssh-ed25519 AAAA... [comment]" */
	uint64_t serial;
	uint64_t now;
};

/* What signer_sign gives back. */
struct signer_result {
	char *certificate; /* the OpenSSH certificate line; NULL when refused */
	uint64_t counter; /* the signer's count of this signature */
	char *why; /* the signer's explanation of a refusal; NULL when none */
};

/*
 * Fork the signer (see above) and wait for it to load the CA key(s) and
 * the policy. EPH_OK with *out; else the error the signer met (e.g.
 * EPH_ERR_PERM for a key others can read, EPH_ERR_FORMAT for a policy
 * that does not load) with *why (to free, may be NULL) saying what, and
 * the child reaped. opts may be NULL. The parent never opens the key.
 */
int signer_start(
    const struct ca_conf *cc, const struct signer_options *opts, struct signer **out, char **why);

/*
 * Ask for a certificate. EPH_OK with res->certificate and res->counter;
 * a refusal is the signer's code (EPH_ERR_PERM: not what the policy
 * issues; EPH_ERR_WEAKKEY / EPH_ERR_KEYTYPE / EPH_ERR_FORMAT: the public
 * key; EPH_ERR_RANGE: now too far from the signer's clock; EPH_ERR_INVAL:
 * a field it cannot use) with res->why. EPH_ERR_IO when the channel
 * failed: the signer is gone (signer_alive says 0). Thread-safe.
 */
int signer_sign(struct signer *s, const struct signer_request *req, struct signer_result *res);
void signer_result_clear(struct signer_result *res);

/* The CA public key lines, the current first, then ca_key_next's. */
int signer_pubkeys(struct signer *s, char ***lines, size_t *n);
/* Signatures made so far and the policy generation (1 after start). */
int signer_ping(struct signer *s, uint64_t *signatures, uint64_t *generation);
/* Reload the policy; on failure *why (to free) holds its errors and the
 * old policy stays in force. */
int signer_reload(struct signer *s, char **why);

/* 1 while the channel works. */
int signer_alive(const struct signer *s);
pid_t signer_pid(const struct signer *s);
/* The parent's end of the channel (for poll, and for tests that speak
 * the protocol by hand). */
int signer_fd(const struct signer *s);

/*
 * Close the channel, wait for the signer to exit (SIGKILL after
 * timeout_ms, < 0: wait forever), free s. *status (may be NULL): the
 * wait status. EPH_OK, or EPH_ERR_IO when it had to be killed.
 */
int signer_stop(struct signer *s, int timeout_ms, int *status);

/*
 * Would the signer sign this public key line? A plain public key of an
 * accepted type: Ed25519, ECDSA P-256/384/521, RSA of at least 2048 bits,
 * or a FIDO sk- key. EPH_OK with *out (may be NULL); else EPH_ERR_WEAKKEY
 * (short RSA), EPH_ERR_KEYTYPE (DSA, a certificate, an unknown type),
 * EPH_ERR_FORMAT (a private key, not a key line) with *why (static text).
 * The network side uses it to answer 400 before storing anything.
 */
int signer_check_user_key(const char *line, struct key **out, const char **why);

#endif

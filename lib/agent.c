/* ssh-agent protocol client: length-framed messages over a Unix socket
 * with bounded, time-limited I/O, and the add / list / remove / sign
 * requests of draft-miller-ssh-agent. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "util.h"

/* Message numbers (draft-miller-ssh-agent, "Message numbers"). */
#define SSH_AGENT_FAILURE 5
#define SSH_AGENT_SUCCESS 6
#define SSH2_AGENTC_REQUEST_IDENTITIES 11
#define SSH2_AGENT_IDENTITIES_ANSWER 12
#define SSH2_AGENTC_SIGN_REQUEST 13
#define SSH2_AGENT_SIGN_RESPONSE 14
#define SSH2_AGENTC_ADD_IDENTITY 17
#define SSH2_AGENTC_REMOVE_IDENTITY 18
#define SSH2_AGENTC_ADD_ID_CONSTRAINED 25
#define SSH_AGENT_EXTENSION_FAILURE 28
#define SSH2_AGENT_FAILURE 30
#define SSH_COM_AGENT2_FAILURE 102

#define SSH_AGENT_CONSTRAIN_LIFETIME 1
#define SSH_AGENT_CONSTRAIN_CONFIRM 2

/* Caps on what a sign response may carry: an algorithm name and the
 * largest signature we can verify (RSA at KEY_RSA_MAX_BITS). */
#define AGENT_MAX_ALG_NAME 64
#define AGENT_MAX_SIG_BYTES (KEY_RSA_MAX_BITS / 8 + 64)
#define AGENT_MAX_SIG_BLOB (4 + AGENT_MAX_ALG_NAME + 4 + AGENT_MAX_SIG_BYTES)

struct agent {
	int fd; /* -1 once the stream can no longer be trusted */
	int timeout_ms;
};

static int
agent_failed(uint8_t type)
{
	/* Every failure code agents in the wild use means "refused". */
	return type == SSH_AGENT_FAILURE || type == SSH2_AGENT_FAILURE ||
	    type == SSH_AGENT_EXTENSION_FAILURE || type == SSH_COM_AGENT2_FAILURE;
}

static int64_t
agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
agent_drop(struct agent *a)
{
	int saved = errno;

	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
	errno = saved;
}

static int
agent_set_sockopt_timeout(int fd, int timeout_ms)
{
	struct timeval tv;

	/* A backstop for blocking calls (connect); reads and writes are
	 * bounded by the per-request deadline in agent_wait. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return EPH_ERR_IO;
	return EPH_OK;
}

/*
 * Wait until fd is ready or the request's deadline passes. A deadline
 * over the whole request, not a per-call timeout, so an agent that drips
 * one byte at a time cannot stretch the wait without end.
 */
static int
agent_wait(struct agent *a, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - agent_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return EPH_ERR_IO;
		}
		pfd.fd = a->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		/* Errors and hang-ups count as ready: send/recv report them. */
		if (n > 0)
			return EPH_OK;
		if (n == -1 && errno != EINTR)
			return EPH_ERR_IO;
	}
}

static int
agent_send_all(struct agent *a, const uint8_t *p, size_t n, int64_t deadline)
{
	size_t done = 0;
	ssize_t w;
	int r;

	while (done < n) {
		if ((r = agent_wait(a, POLLOUT, deadline)) != EPH_OK)
			return r;
		/* MSG_NOSIGNAL: a vanished agent is an error, not SIGPIPE. */
		w = send(a->fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return EPH_ERR_IO;
		}
		done += (size_t)w;
	}
	return EPH_OK;
}

/* Exactly n bytes into p; EPH_ERR_TRUNCATED when the agent hangs up. */
static int
agent_recv_all(struct agent *a, uint8_t *p, size_t n, int64_t deadline)
{
	size_t done = 0;
	ssize_t got;
	int r;

	while (done < n) {
		if ((r = agent_wait(a, POLLIN, deadline)) != EPH_OK)
			return r;
		got = recv(a->fd, p + done, n - done, MSG_DONTWAIT);
		if (got == -1) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return EPH_ERR_IO;
		}
		if (got == 0)
			return EPH_ERR_TRUNCATED;
		done += (size_t)got;
	}
	return EPH_OK;
}

/*
 * Send one framed request (req holds type and body) and read one framed
 * reply into reply, returning its type. Any failure here leaves the
 * stream out of step, so the connection is dropped.
 */
static int
agent_request(struct agent *a, const struct buf *req, struct buf *reply, uint8_t *type)
{
	uint8_t hdr[4], chunk[4096];
	struct buf hb;
	uint32_t len;
	size_t left, want;
	int64_t deadline;
	int r = EPH_ERR_INVAL;

	if (a->fd == -1) {
		errno = ENOTCONN;
		return EPH_ERR_IO;
	}
	if (req->len == 0)
		return EPH_ERR_INVAL;
	/* Refused before anything is sent: the stream stays usable. */
	if (req->len > AGENT_MAX_MSG)
		return EPH_ERR_TOOLARGE;

	deadline = agent_now_ms() + a->timeout_ms;
	hdr[0] = (uint8_t)(req->len >> 24);
	hdr[1] = (uint8_t)(req->len >> 16);
	hdr[2] = (uint8_t)(req->len >> 8);
	hdr[3] = (uint8_t)req->len;
	if ((r = agent_send_all(a, hdr, sizeof(hdr), deadline)) != EPH_OK ||
	    (r = agent_send_all(a, req->d, req->len, deadline)) != EPH_OK ||
	    (r = agent_recv_all(a, hdr, sizeof(hdr), deadline)) != EPH_OK)
		goto out;
	buf_init_view(&hb, hdr, sizeof(hdr));
	if ((r = buf_get_u32(&hb, &len)) != EPH_OK)
		goto out;
	if (len == 0) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if (len > AGENT_MAX_MSG) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	buf_reset(reply);
	for (left = len; left > 0; left -= want) {
		want = left < sizeof(chunk) ? left : sizeof(chunk);
		if ((r = agent_recv_all(a, chunk, want, deadline)) != EPH_OK ||
		    (r = buf_put(reply, chunk, want)) != EPH_OK)
			goto out;
	}
	if ((r = buf_get_u8(reply, type)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	eph_wipe(chunk, sizeof(chunk));
	if (r != EPH_OK)
		agent_drop(a);
	return r;
}

/* A request whose answer is SSH_AGENT_SUCCESS or a failure. */
static int
agent_request_status(struct agent *a, const struct buf *req)
{
	struct buf reply;
	uint8_t type;
	int r;

	buf_init(&reply);
	if ((r = agent_request(a, req, &reply, &type)) != EPH_OK)
		goto out;
	if (agent_failed(type)) {
		r = EPH_ERR_AGENT;
		goto out;
	}
	if (type != SSH_AGENT_SUCCESS) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if (buf_remaining(&reply) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	r = EPH_OK;
out:
	buf_free(&reply);
	return r;
}

int
agent_connect(const char *sock, struct agent **out)
{
	struct sockaddr_un sun;
	struct agent *a = NULL;
	size_t len;
	int fd = -1, saved, r = EPH_ERR_INVAL;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if (sock == NULL)
		sock = secure_getenv("SSH_AUTH_SOCK");
	if (sock == NULL || *sock == '\0')
		return EPH_ERR_NOTFOUND;
	len = strlen(sock);
	if (len >= sizeof(sun.sun_path))
		return EPH_ERR_TOOLARGE;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sock, len);

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	a->fd = -1;
	a->timeout_ms = AGENT_TIMEOUT_MS;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		r = EPH_ERR_IO;
		goto out;
	}
	if ((r = agent_set_sockopt_timeout(fd, a->timeout_ms)) != EPH_OK)
		goto out;
	/* An AF_UNIX connect interrupted before it completed may be retried. */
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno != EINTR) {
			r = EPH_ERR_IO;
			goto out;
		}
	}
	a->fd = fd;
	fd = -1;
	*out = a;
	a = NULL;
	r = EPH_OK;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(a);
	errno = saved;
	return r;
}

void
agent_close(struct agent *a)
{
	if (a == NULL)
		return;
	agent_drop(a);
	free(a);
}

int
agent_set_timeout(struct agent *a, int timeout_ms)
{
	if (a == NULL || timeout_ms <= 0)
		return EPH_ERR_INVAL;
	if (a->fd != -1 && agent_set_sockopt_timeout(a->fd, timeout_ms) != EPH_OK)
		return EPH_ERR_IO;
	a->timeout_ms = timeout_ms;
	return EPH_OK;
}

/*
 * The certificate blob is what the agent receives, so check that blob
 * (not only the parsed struct) carries key's type and public key: the
 * agent would otherwise hold a certificate for a key it cannot sign with.
 */
static int
agent_check_cert(const struct key *key, const struct cert *cert)
{
	struct buf v;
	struct key *subject = NULL;
	const char *tname;
	const uint8_t *nonce;
	size_t nlen;
	int r = EPH_ERR_INVAL;

	if (cert->blob.len == 0 || cert->key == NULL)
		return EPH_ERR_INVAL; /* not signed or parsed */
	if (cert->blob.len > AGENT_MAX_BLOB)
		return EPH_ERR_TOOLARGE;
	if ((tname = key_cert_type_name(key->type)) == NULL)
		return EPH_ERR_KEYTYPE;
	buf_init_view(&v, cert->blob.d, cert->blob.len);
	if ((r = buf_get_expect_cstring(&v, tname)) != EPH_OK) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = buf_get_string(&v, &nonce, &nlen, CERT_MAX_NONCE_LEN)) != EPH_OK ||
	    (r = key_get_public_fields(key->type, &v, &subject)) != EPH_OK)
		goto out;
	if (!key_equal_public(subject, key) || !key_equal_public(cert->key, key)) {
		r = EPH_ERR_INVAL;
		goto out;
	}
	r = EPH_OK;
out:
	key_free(subject);
	return r;
}

int
agent_add_identity(struct agent *a, const struct key *key, const struct cert *cert,
    const char *comment, uint32_t lifetime, int confirm)
{
	struct buf msg; /* holds the private key: buf_free wipes it */
	const char *tname;
	uint8_t type;
	int r = EPH_ERR_INVAL;

	buf_init(&msg);
	if (a == NULL || key == NULL || !key->has_private)
		goto out;
	if (comment == NULL)
		comment = "";
	if (strlen(comment) > AGENT_MAX_COMMENT) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	tname = cert != NULL ? key_cert_type_name(key->type) : key_type_name(key->type);
	if (tname == NULL) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (cert != NULL && (r = agent_check_cert(key, cert)) != EPH_OK)
		goto out;

	type = lifetime != 0 || confirm ? SSH2_AGENTC_ADD_ID_CONSTRAINED : SSH2_AGENTC_ADD_IDENTITY;
	if ((r = buf_put_u8(&msg, type)) != EPH_OK || (r = buf_put_cstring(&msg, tname)) != EPH_OK)
		goto out;
	if (cert != NULL && (r = buf_put_string(&msg, cert->blob.d, cert->blob.len)) != EPH_OK)
		goto out;
	if ((r = key_put_private_fields(key, &msg, cert != NULL)) != EPH_OK ||
	    (r = buf_put_cstring(&msg, comment)) != EPH_OK)
		goto out;
	if (lifetime != 0 &&
	    ((r = buf_put_u8(&msg, SSH_AGENT_CONSTRAIN_LIFETIME)) != EPH_OK ||
	        (r = buf_put_u32(&msg, lifetime)) != EPH_OK))
		goto out;
	if (confirm && (r = buf_put_u8(&msg, SSH_AGENT_CONSTRAIN_CONFIRM)) != EPH_OK)
		goto out;
	if ((r = agent_request_status(a, &msg)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&msg);
	return r;
}

void
agent_identities_free(struct agent_identity *ids, size_t n)
{
	size_t i;

	if (ids == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(ids[i].blob);
		free(ids[i].comment);
	}
	free(ids);
}

int
agent_list(struct agent *a, struct agent_identity **idsp, size_t *np)
{
	struct buf msg, reply;
	struct agent_identity *ids = NULL;
	const uint8_t *blob;
	size_t blen, nids = 0;
	uint32_t count, i;
	uint8_t type;
	int r = EPH_ERR_INVAL;

	buf_init(&msg);
	buf_init(&reply);
	if (idsp != NULL)
		*idsp = NULL;
	if (np != NULL)
		*np = 0;
	if (a == NULL || idsp == NULL || np == NULL)
		goto out;
	if ((r = buf_put_u8(&msg, SSH2_AGENTC_REQUEST_IDENTITIES)) != EPH_OK ||
	    (r = agent_request(a, &msg, &reply, &type)) != EPH_OK)
		goto out;
	if (agent_failed(type)) {
		r = EPH_ERR_AGENT;
		goto out;
	}
	if (type != SSH2_AGENT_IDENTITIES_ANSWER) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_get_u32(&reply, &count)) != EPH_OK)
		goto out;
	if (count > AGENT_MAX_IDENTITIES) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	/* Each entry is at least two length words: refuse a count the
	 * message cannot hold before allocating for it. */
	if (count > buf_remaining(&reply) / 8) {
		r = EPH_ERR_TRUNCATED;
		goto out;
	}
	if (count > 0 && (ids = calloc(count, sizeof(*ids))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if ((r = buf_get_string(&reply, &blob, &blen, AGENT_MAX_BLOB)) != EPH_OK)
			goto out;
		if (blen == 0) {
			r = EPH_ERR_FORMAT;
			goto out;
		}
		if ((ids[nids].blob = malloc(blen)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		memcpy(ids[nids].blob, blob, blen);
		ids[nids].len = blen;
		nids++;
		if ((r = buf_get_cstring(&reply, &ids[nids - 1].comment, AGENT_MAX_COMMENT)) !=
		    EPH_OK)
			goto out;
	}
	if (buf_remaining(&reply) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	*idsp = ids;
	*np = nids;
	ids = NULL;
	nids = 0;
	r = EPH_OK;
out:
	agent_identities_free(ids, nids);
	buf_free(&msg);
	buf_free(&reply);
	return r;
}

int
agent_remove(struct agent *a, const uint8_t *blob, size_t len)
{
	struct buf msg;
	int r = EPH_ERR_INVAL;

	buf_init(&msg);
	if (a == NULL || blob == NULL || len == 0)
		goto out;
	if (len > AGENT_MAX_BLOB) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if ((r = buf_put_u8(&msg, SSH2_AGENTC_REMOVE_IDENTITY)) != EPH_OK ||
	    (r = buf_put_string(&msg, blob, len)) != EPH_OK ||
	    (r = agent_request_status(a, &msg)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&msg);
	return r;
}

/*
 * From the identity blob's type name, the flags to send and the
 * signature algorithm the answer must carry. RSA without a flag asks for
 * SHA-512 so the agent never falls back to SHA-1 "ssh-rsa".
 */
static int
agent_sign_alg(const uint8_t *blob, size_t len, uint32_t *flags, const char **alg)
{
	struct buf v;
	const uint8_t *p;
	size_t n;
	char name[AGENT_MAX_ALG_NAME + 1];
	enum key_type t;
	int r;

	buf_init_view(&v, blob, len);
	if ((r = buf_get_string(&v, &p, &n, AGENT_MAX_ALG_NAME)) != EPH_OK)
		return r;
	if (memchr(p, '\0', n) != NULL)
		return EPH_ERR_FORMAT;
	memcpy(name, p, n);
	name[n] = '\0';
	if ((t = key_type_from_name(name, NULL)) == KEY_UNSPEC)
		return EPH_ERR_KEYTYPE;
	if (t != KEY_RSA) {
		if (*flags != 0)
			return EPH_ERR_INVAL;
		*alg = key_default_sig_alg(t);
		return *alg == NULL ? EPH_ERR_KEYTYPE : EPH_OK;
	}
	if (*flags == 0)
		*flags = AGENT_RSA_SHA2_512;
	if (*flags == AGENT_RSA_SHA2_256)
		*alg = "rsa-sha2-256";
	else if (*flags == AGENT_RSA_SHA2_512)
		*alg = "rsa-sha2-512";
	else
		return EPH_ERR_INVAL;
	return EPH_OK;
}

int
agent_sign(struct agent *a, const uint8_t *blob, size_t len, const uint8_t *data, size_t n,
    uint32_t flags, struct buf *sig)
{
	struct buf msg, reply, v;
	const uint8_t *sblob, *p;
	const char *want = NULL;
	size_t slen, plen;
	uint8_t type;
	int r = EPH_ERR_INVAL;

	buf_init(&msg);
	buf_init(&reply);
	if (a == NULL || blob == NULL || len == 0 || sig == NULL || (data == NULL && n != 0))
		goto out;
	if (len > AGENT_MAX_BLOB || n > AGENT_MAX_MSG) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if ((r = agent_sign_alg(blob, len, &flags, &want)) != EPH_OK)
		goto out;
	if ((r = buf_put_u8(&msg, SSH2_AGENTC_SIGN_REQUEST)) != EPH_OK ||
	    (r = buf_put_string(&msg, blob, len)) != EPH_OK ||
	    (r = buf_put_string(&msg, data, n)) != EPH_OK ||
	    (r = buf_put_u32(&msg, flags)) != EPH_OK ||
	    (r = agent_request(a, &msg, &reply, &type)) != EPH_OK)
		goto out;
	if (agent_failed(type)) {
		r = EPH_ERR_AGENT;
		goto out;
	}
	if (type != SSH2_AGENT_SIGN_RESPONSE) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_get_string(&reply, &sblob, &slen, AGENT_MAX_SIG_BLOB)) != EPH_OK)
		goto out;
	if (buf_remaining(&reply) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	/* An agent that answers with another algorithm (SHA-1 for a
	 * SHA-2 request, say) has not done what was asked. */
	buf_init_view(&v, sblob, slen);
	if ((r = buf_get_string(&v, &p, &plen, AGENT_MAX_ALG_NAME)) != EPH_OK)
		goto out;
	if (plen != strlen(want) || memcmp(p, want, plen) != 0) {
		r = EPH_ERR_SIGNATURE;
		goto out;
	}
	if ((r = buf_get_string(&v, &p, &plen, AGENT_MAX_SIG_BYTES)) != EPH_OK)
		goto out;
	if (buf_remaining(&v) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	if ((r = buf_put(sig, sblob, slen)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&msg);
	buf_free(&reply);
	return r;
}

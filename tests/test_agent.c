/* Tests for the ssh-agent client: against a real ssh-agent started per
 * test (cross-checked with ssh-add -L), and against a fake agent in a
 * child process that records requests and sends broken replies. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "agent.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "key.h"

/* Wire numbers the tests speak as the fake agent. */
#define T_FAILURE 5
#define T_SUCCESS 6
#define T_IDENTITIES_ANSWER 12
#define T_SIGN_RESPONSE 14
#define T_ADD_IDENTITY 17
#define T_ADD_ID_CONSTRAINED 25
#define T_SSH2_AGENT_FAILURE 30

#define COMMENT "agent-test@ephssh"

struct fx {
	char *dir;
	char *sock; /* real ssh-agent */
	pid_t agent_pid;
	char *fsock; /* fake agent */
	char *record; /* the request the fake agent received */
	pid_t fake_pid;
	struct agent *a;
	struct key *ca;
};

enum fake_mode {
	FAKE_REPLY, /* read one request, send the reply, hang up */
	FAKE_REPLY_HANG, /* read one request, send the reply, stay silent */
	FAKE_CLOSE_FIRST, /* hang up without reading anything */
	FAKE_DRIP, /* read one request, send the reply a byte at a time */
};

static struct key *rsa_key; /* RSA generation is slow: one per run */

static int
have_agent_tools(void)
{
	return SSH_AGENT_PATH[0] != '\0' && access(SSH_AGENT_PATH, X_OK) == 0 &&
	    SSH_ADD_PATH[0] != '\0' && access(SSH_ADD_PATH, X_OK) == 0;
}

#define REQUIRE_AGENT(fx)                                                                          \
	do {                                                                                       \
		if ((fx)->agent_pid <= 0)                                                          \
			skip();                                                                    \
	} while (0)

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
reap(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	while (waitpid(*pid, NULL, 0) == -1 && errno == EINTR)
		;
	*pid = -1;
}

/* ssh-agent on a socket in the temp dir, and our connection to it. */
static void
start_agent(struct fx *fx)
{
	fx->sock = tu_path(fx->dir, "agent.sock");
	tu_agent_start(fx->sock, &fx->agent_pid);
	if (agent_connect(fx->sock, &fx->a) != EPH_OK)
		fail_msg("cannot connect to ssh-agent on %s", fx->sock);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->agent_pid = -1;
	fx->fake_pid = -1;
	fx->dir = tu_mkdtemp();
	fx->fsock = tu_path(fx->dir, "fake.sock");
	fx->record = tu_path(fx->dir, "request.bin");
	/* A watchdog: a regression that hangs fails the run instead. */
	alarm(20);
	*state = fx;
	return 0;
}

static int
setup_real(void **state)
{
	struct fx *fx;

	if (setup(state) != 0)
		return -1;
	fx = *state;
	if (key_generate(KEY_ED25519, 0, &fx->ca) != EPH_OK)
		return -1;
	if (have_agent_tools())
		start_agent(fx);
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	alarm(0);
	agent_close(fx->a);
	reap(&fx->fake_pid, SIGKILL);
	reap(&fx->agent_pid, SIGTERM);
	tu_rmrf(fx->dir);
	key_free(fx->ca);
	free(fx->dir);
	free(fx->sock);
	free(fx->fsock);
	free(fx->record);
	free(fx);
	return 0;
}

static int
group_teardown(void **state)
{
	key_free(rsa_key);
	rsa_key = NULL;
	return 0;
}

static struct key *
new_key(enum key_type t)
{
	struct key *k = NULL;

	/* The RSA key is shared read-only across tests; drop_key knows. */
	if (t == KEY_RSA) {
		if (rsa_key == NULL)
			assert_int_equal(key_generate(KEY_RSA, 2048, &rsa_key), EPH_OK);
		return rsa_key;
	}
	assert_int_equal(key_generate(t, 0, &k), EPH_OK);
	return k;
}

static void
drop_key(struct key *k)
{
	if (k != rsa_key)
		key_free(k);
}

/* A user certificate for subject, signed by the fixture's CA. */
static struct cert *
new_cert(struct fx *fx, const struct key *subject)
{
	struct cert *c = NULL;
	uint64_t now = (uint64_t)time(NULL);

	assert_int_equal(cert_new(&c), EPH_OK);
	assert_int_equal(cert_set_key(c, subject), EPH_OK);
	assert_int_equal(cert_add_principal(c, "eph:db-maint@db01"), EPH_OK);
	assert_int_equal(cert_add_default_extensions(c), EPH_OK);
	c->key_id = strdup("eph:g-1:alice:db-maint");
	assert_non_null(c->key_id);
	c->serial = 42;
	c->valid_after = now - 60;
	c->valid_before = now + 3600;
	assert_int_equal(cert_sign(c, fx->ca, NULL), EPH_OK);
	return c;
}

/* ssh-add -L against the test's own agent, never the user's. */
static int
ssh_add_list(struct fx *fx, char **out)
{
	return tu_run(out, "SSH_AUTH_SOCK='%s' '%s' -L", fx->sock, SSH_ADD_PATH);
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

static size_t
count_ids(struct fx *fx)
{
	struct agent_identity *ids = NULL;
	size_t n = 0;

	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_OK);
	agent_identities_free(ids, n);
	return n;
}

static const uint8_t sign_data[] = "session id and userauth request stand-in";

static void
sign_and_verify(struct fx *fx, const struct key *k, const uint8_t *blob, size_t len, uint32_t flags,
    const char *want_alg)
{
	struct buf sig;
	struct key *pub = NULL;
	const char *alg = NULL;

	buf_init(&sig);
	assert_int_equal(key_dup_public(k, &pub), EPH_OK);
	assert_int_equal(
	    agent_sign(fx->a, blob, len, sign_data, sizeof(sign_data), flags, &sig), EPH_OK);
	assert_int_equal(
	    key_verify(pub, sig.d, sig.len, sign_data, sizeof(sign_data), &alg), EPH_OK);
	assert_non_null(alg);
	assert_string_equal(alg, want_alg);
	/* The same signature must not cover other data. */
	assert_int_not_equal(
	    key_verify(pub, sig.d, sig.len, sign_data, sizeof(sign_data) - 1, NULL), EPH_OK);
	key_free(pub);
	buf_free(&sig);
}

/* ---------------------------------------------------- real ssh-agent */

static void
check_key_with_cert(struct fx *fx, enum key_type t)
{
	struct key *k = new_key(t);
	struct cert *c = new_cert(fx, k);
	struct agent_identity *ids = NULL;
	struct buf pubblob;
	char *line = NULL, *out = NULL;
	size_t n = 0;

	buf_init(&pubblob);
	assert_int_equal(agent_add_identity(fx->a, k, c, COMMENT, 3600, 0), EPH_OK);

	/* ssh-add sees exactly the certificate line cert_format_line makes. */
	assert_int_equal(cert_format_line(c, COMMENT, &line), EPH_OK);
	assert_int_equal(ssh_add_list(fx, &out), 0);
	if (!has_line(out, line))
		fail_msg("ssh-add -L:\n%s\nlacks:\n%s", out, line);
	free(out);
	out = NULL;

	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0].len, c->blob.len);
	assert_memory_equal(ids[0].blob, c->blob.d, c->blob.len);
	assert_string_equal(ids[0].comment, COMMENT);
	agent_identities_free(ids, n);

	if (t == KEY_RSA) {
		sign_and_verify(fx, k, c->blob.d, c->blob.len, AGENT_RSA_SHA2_512, "rsa-sha2-512");
		sign_and_verify(fx, k, c->blob.d, c->blob.len, AGENT_RSA_SHA2_256, "rsa-sha2-256");
		/* No flag still never means SHA-1. */
		sign_and_verify(fx, k, c->blob.d, c->blob.len, 0, "rsa-sha2-512");
	} else
		sign_and_verify(fx, k, c->blob.d, c->blob.len, 0, key_type_name(t));

	/* Only the certificate identity was added, not the bare key. */
	assert_int_equal(key_put_public(k, &pubblob), EPH_OK);
	{
		struct buf sig;

		buf_init(&sig);
		assert_int_equal(agent_sign(fx->a, pubblob.d, pubblob.len, sign_data,
		                     sizeof(sign_data), 0, &sig),
		    EPH_ERR_AGENT);
		assert_int_equal(sig.len, 0);
		buf_free(&sig);
	}
	assert_int_equal(agent_remove(fx->a, pubblob.d, pubblob.len), EPH_ERR_AGENT);

	assert_int_equal(agent_remove(fx->a, c->blob.d, c->blob.len), EPH_OK);
	assert_int_equal(ssh_add_list(fx, &out), 1); /* no identities */
	assert_null(strstr(out, line));
	assert_int_equal(count_ids(fx), 0);
	/* Removing it again is the agent's refusal, cleanly reported. */
	assert_int_equal(agent_remove(fx->a, c->blob.d, c->blob.len), EPH_ERR_AGENT);

	free(out);
	free(line);
	buf_free(&pubblob);
	cert_free(c);
	drop_key(k);
}

static void
test_cert_ed25519(void **state)
{
	REQUIRE_AGENT((struct fx *)*state);
	check_key_with_cert(*state, KEY_ED25519);
}

static void
test_cert_ecdsa(void **state)
{
	REQUIRE_AGENT((struct fx *)*state);
	check_key_with_cert(*state, KEY_ECDSA_P256);
	check_key_with_cert(*state, KEY_ECDSA_P384);
	check_key_with_cert(*state, KEY_ECDSA_P521);
}

static void
test_cert_rsa(void **state)
{
	REQUIRE_AGENT((struct fx *)*state);
	check_key_with_cert(*state, KEY_RSA);
}

/* Plain keys of every type, no constraints: listed as the public line,
 * and they sign. */
static void
test_plain_keys(void **state)
{
	static const enum key_type types[] = {
	    KEY_ED25519, KEY_ECDSA_P256, KEY_ECDSA_P384, KEY_ECDSA_P521, KEY_RSA};
	struct fx *fx = *state;
	size_t i;

	REQUIRE_AGENT(fx);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct key *k = new_key(types[i]);
		struct buf blob;
		char *line = NULL, *out = NULL;

		buf_init(&blob);
		assert_int_equal(agent_add_identity(fx->a, k, NULL, "plain", 0, 0), EPH_OK);
		assert_int_equal(key_format_public_line(k, "plain", &line), EPH_OK);
		assert_int_equal(ssh_add_list(fx, &out), 0);
		if (!has_line(out, line))
			fail_msg("ssh-add -L:\n%s\nlacks:\n%s", out, line);
		assert_int_equal(key_put_public(k, &blob), EPH_OK);
		sign_and_verify(fx, k, blob.d, blob.len, 0, key_default_sig_alg(types[i]));
		assert_int_equal(agent_remove(fx->a, blob.d, blob.len), EPH_OK);
		assert_int_equal(count_ids(fx), 0);
		free(line);
		free(out);
		buf_free(&blob);
		drop_key(k);
	}
}

/* The agent forgets a key + certificate once its lifetime runs out. */
static void
test_lifetime(void **state)
{
	struct fx *fx = *state;
	struct key *k;
	struct cert *c;
	size_t first;
	int64_t deadline;
	int gone = 0;

	REQUIRE_AGENT(fx);
	k = new_key(KEY_ED25519);
	c = new_cert(fx, k);
	assert_int_equal(agent_add_identity(fx->a, k, c, COMMENT, 1, 0), EPH_OK);
	first = count_ids(fx);
	deadline = now_ms() + 5000;
	while (now_ms() < deadline) {
		if (count_ids(fx) == 0) {
			gone = 1;
			break;
		}
		tu_sleep_ms(100);
	}
	assert_int_equal(first, 1);
	assert_true(gone);
	{
		char *out = NULL;

		assert_int_equal(ssh_add_list(fx, &out), 1);
		free(out);
	}
	cert_free(c);
	drop_key(k);
}

/* Confirm is accepted and the key listed (signing would need askpass). */
static void
test_plain_confirm(void **state)
{
	struct fx *fx = *state;
	struct key *k;
	char *line = NULL, *out = NULL;

	REQUIRE_AGENT(fx);
	k = new_key(KEY_ED25519);
	assert_int_equal(agent_add_identity(fx->a, k, NULL, "confirm-me", 600, 1), EPH_OK);
	assert_int_equal(key_format_public_line(k, "confirm-me", &line), EPH_OK);
	assert_int_equal(ssh_add_list(fx, &out), 0);
	if (!has_line(out, line))
		fail_msg("ssh-add -L:\n%s\nlacks:\n%s", out, line);
	assert_int_equal(count_ids(fx), 1);
	free(line);
	free(out);
	drop_key(k);
}

/* Refused before anything reaches the agent, and the connection stays
 * usable afterwards. */
static void
test_local_refusals(void **state)
{
	struct fx *fx = *state;
	struct key *k, *other, *pub = NULL;
	struct cert *c, *unsigned_c = NULL;
	struct buf blob, sig, bad;
	uint8_t *big;
	char *longc;

	REQUIRE_AGENT(fx);
	buf_init(&blob);
	buf_init(&sig);
	buf_init(&bad);
	k = new_key(KEY_ED25519);
	other = new_key(KEY_ED25519);
	c = new_cert(fx, other);

	/* Certificate of another key. */
	assert_int_equal(agent_add_identity(fx->a, k, c, COMMENT, 60, 0), EPH_ERR_INVAL);
	/* Certificate of another key type. */
	{
		struct key *ec = new_key(KEY_ECDSA_P256);
		struct cert *ecc = new_cert(fx, ec);

		assert_int_equal(
		    agent_add_identity(fx->a, k, ecc, COMMENT, 60, 0), EPH_ERR_KEYTYPE);
		cert_free(ecc);
		drop_key(ec);
	}
	/* Not signed yet. */
	assert_int_equal(cert_new(&unsigned_c), EPH_OK);
	assert_int_equal(cert_set_key(unsigned_c, k), EPH_OK);
	assert_int_equal(agent_add_identity(fx->a, k, unsigned_c, NULL, 0, 0), EPH_ERR_INVAL);
	/* Public half only. */
	assert_int_equal(key_dup_public(k, &pub), EPH_OK);
	assert_int_equal(agent_add_identity(fx->a, pub, NULL, NULL, 0, 0), EPH_ERR_INVAL);
	/* Oversized comment. */
	longc = malloc(AGENT_MAX_COMMENT + 2);
	assert_non_null(longc);
	memset(longc, 'x', AGENT_MAX_COMMENT + 1);
	longc[AGENT_MAX_COMMENT + 1] = '\0';
	assert_int_equal(agent_add_identity(fx->a, k, NULL, longc, 0, 0), EPH_ERR_TOOLARGE);
	free(longc);
	assert_int_equal(count_ids(fx), 0);

	/* Flags that do not fit the key, unknown key types, empty blobs. */
	assert_int_equal(key_put_public(k, &blob), EPH_OK);
	assert_int_equal(agent_add_identity(fx->a, k, NULL, NULL, 0, 0), EPH_OK);
	assert_int_equal(agent_sign(fx->a, blob.d, blob.len, sign_data, sizeof(sign_data),
	                     AGENT_RSA_SHA2_512, &sig),
	    EPH_ERR_INVAL);
	assert_int_equal(buf_put_cstring(&bad, "ssh-rsa"), EPH_OK);
	assert_int_equal(agent_sign(fx->a, bad.d, bad.len, sign_data, sizeof(sign_data),
	                     AGENT_RSA_SHA2_256 | AGENT_RSA_SHA2_512, &sig),
	    EPH_ERR_INVAL);
	assert_int_equal(
	    agent_sign(fx->a, bad.d, bad.len, sign_data, sizeof(sign_data), 0x08, &sig),
	    EPH_ERR_INVAL);
	buf_reset(&bad);
	assert_int_equal(buf_put_cstring(&bad, "sk-ssh-ed25519@openssh.com"), EPH_OK);
	assert_int_equal(agent_sign(fx->a, bad.d, bad.len, sign_data, sizeof(sign_data), 0, &sig),
	    EPH_ERR_KEYTYPE);
	assert_int_equal(
	    agent_sign(fx->a, blob.d, 0, sign_data, sizeof(sign_data), 0, &sig), EPH_ERR_INVAL);
	assert_int_equal(agent_remove(fx->a, blob.d, 0), EPH_ERR_INVAL);
	/* A message over the cap is never sent. */
	big = calloc(1, AGENT_MAX_MSG);
	assert_non_null(big);
	assert_int_equal(
	    agent_sign(fx->a, blob.d, blob.len, big, AGENT_MAX_MSG, 0, &sig), EPH_ERR_TOOLARGE);
	free(big);
	assert_int_equal(sig.len, 0);

	/* Still in step with the agent. */
	sign_and_verify(fx, k, blob.d, blob.len, 0, "ssh-ed25519");
	assert_int_equal(count_ids(fx), 1);

	buf_free(&bad);
	buf_free(&sig);
	buf_free(&blob);
	key_free(pub);
	cert_free(unsigned_c);
	cert_free(c);
	drop_key(other);
	drop_key(k);
}

static void
test_connect_errors(void **state)
{
	struct fx *fx = *state;
	struct agent *b = NULL;
	char *path, *longp;

	REQUIRE_AGENT(fx);
	path = tu_path(fx->dir, "missing.sock");
	errno = 0;
	assert_int_equal(agent_connect(path, &b), EPH_ERR_IO);
	assert_int_equal(errno, ENOENT);
	assert_null(b);
	free(path);

	/* A path that is not a listening socket. */
	path = tu_path(fx->dir, "plain-file");
	assert_int_equal(tu_write_file(path, "x", 1, 0600), 0);
	assert_int_equal(agent_connect(path, &b), EPH_ERR_IO);
	assert_null(b);
	free(path);

	longp = malloc(200);
	assert_non_null(longp);
	memset(longp, 'a', 199);
	longp[199] = '\0';
	assert_int_equal(agent_connect(longp, &b), EPH_ERR_TOOLARGE);
	free(longp);

	assert_int_equal(unsetenv("SSH_AUTH_SOCK"), 0);
	assert_int_equal(agent_connect(NULL, &b), EPH_ERR_NOTFOUND);
	assert_null(b);
	assert_int_equal(setenv("SSH_AUTH_SOCK", "", 1), 0);
	assert_int_equal(agent_connect(NULL, &b), EPH_ERR_NOTFOUND);
	/* The variable is honoured; only ever pointed at our own agent. */
	assert_int_equal(setenv("SSH_AUTH_SOCK", fx->sock, 1), 0);
	assert_int_equal(agent_connect(NULL, &b), EPH_OK);
	assert_int_equal(unsetenv("SSH_AUTH_SOCK"), 0);
	{
		struct agent_identity *ids = NULL;
		size_t n = 1;

		assert_int_equal(agent_list(b, &ids, &n), EPH_OK);
		assert_int_equal(n, 0);
		assert_null(ids);
	}
	agent_close(b);
	agent_close(NULL);
	assert_int_equal(agent_set_timeout(fx->a, 0), EPH_ERR_INVAL);
	assert_int_equal(agent_list(NULL, NULL, NULL), EPH_ERR_INVAL);
}

/* ------------------------------------------------------- fake agent */

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t got;

	while (n > 0) {
		if ((got = read(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Child side: runs no cmocka code and always leaves with _exit. */
static void
fake_serve(int lfd, enum fake_mode mode, const uint8_t *reply, size_t n, const char *record)
{
	uint8_t hdr[4], *req;
	uint32_t len;
	size_t i;
	int fd, rfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(1);
	if (mode == FAKE_CLOSE_FIRST) {
		close(fd);
		_exit(0);
	}
	if (read_all(fd, hdr, 4) != 0)
		_exit(1);
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (len > AGENT_MAX_MSG || (req = malloc(len)) == NULL || read_all(fd, req, len) != 0)
		_exit(1);
	rfd = open(record, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (rfd == -1 || write_all(rfd, req, len) != 0 || close(rfd) != 0) {
		free(req);
		_exit(1);
	}
	free(req);
	if (mode == FAKE_DRIP) {
		for (i = 0; i < n; i++) {
			if (write_all(fd, reply + i, 1) != 0)
				_exit(1);
			tu_sleep_ms(50);
		}
	} else if (write_all(fd, reply, n) != 0)
		_exit(1);
	if (mode == FAKE_REPLY_HANG || mode == FAKE_DRIP)
		for (;;)
			pause();
	close(fd);
	_exit(0);
}

/* Start a fake agent that answers one request with wire (raw bytes,
 * framing included) and connect fx->a to it. */
static void
fake_start(struct fx *fx, enum fake_mode mode, const struct buf *wire)
{
	struct sockaddr_un sun;
	pid_t pid;
	int lfd;

	agent_close(fx->a);
	fx->a = NULL;
	reap(&fx->fake_pid, SIGKILL);
	unlink(fx->fsock);
	unlink(fx->record);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(fx->fsock) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, fx->fsock);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd != -1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0)
		fake_serve(lfd, mode, wire != NULL ? wire->d : NULL, wire != NULL ? wire->len : 0,
		    fx->record);
	close(lfd);
	fx->fake_pid = pid;
	assert_int_equal(agent_connect(fx->fsock, &fx->a), EPH_OK);
	/* A bug must fail the test, not hang it. */
	assert_int_equal(agent_set_timeout(fx->a, 3000), EPH_OK);
}

/* Frame body as an agent message into wire. */
static void
frame(struct buf *wire, const struct buf *body)
{
	buf_reset(wire);
	assert_int_equal(buf_put_u32(wire, (uint32_t)body->len), EPH_OK);
	assert_int_equal(buf_put(wire, body->d, body->len), EPH_OK);
}

static void
frame_type(struct buf *wire, uint8_t type)
{
	struct buf body;

	buf_init(&body);
	assert_int_equal(buf_put_u8(&body, type), EPH_OK);
	frame(wire, &body);
	buf_free(&body);
}

static int
fake_list(struct fx *fx, enum fake_mode mode, const struct buf *wire)
{
	struct agent_identity *ids = NULL;
	size_t n = 7;
	int r;

	fake_start(fx, mode, wire);
	r = agent_list(fx->a, &ids, &n);
	if (r != EPH_OK) {
		assert_null(ids);
		assert_int_equal(n, 0);
	}
	agent_identities_free(ids, n);
	return r;
}

static void
test_fake_framing(void **state)
{
	struct fx *fx = *state;
	struct buf wire;
	struct agent_identity *ids = NULL;
	size_t n = 0;

	buf_init(&wire);

	/* Lengths past the cap, and zero, are refused before reading on. */
	assert_int_equal(buf_put_u32(&wire, 0xffffffffu), EPH_OK);
	assert_int_equal(fake_list(fx, FAKE_REPLY_HANG, &wire), EPH_ERR_TOOLARGE);
	buf_reset(&wire);
	assert_int_equal(buf_put_u32(&wire, AGENT_MAX_MSG + 1), EPH_OK);
	assert_int_equal(fake_list(fx, FAKE_REPLY_HANG, &wire), EPH_ERR_TOOLARGE);
	buf_reset(&wire);
	assert_int_equal(buf_put_u32(&wire, 0), EPH_OK);
	assert_int_equal(fake_list(fx, FAKE_REPLY_HANG, &wire), EPH_ERR_FORMAT);
	/* The connection is dropped after a framing error. */
	errno = 0;
	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_ERR_IO);
	assert_int_equal(errno, ENOTCONN);

	/* Truncated body, truncated length word, silent hang-up. */
	buf_reset(&wire);
	assert_int_equal(buf_put_u32(&wire, 100), EPH_OK);
	assert_int_equal(buf_put(&wire, "\x0c\0\0\0\0\0\0\0\0\0", 10), EPH_OK);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TRUNCATED);
	buf_reset(&wire);
	assert_int_equal(buf_put(&wire, "\0\0", 2), EPH_OK);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TRUNCATED);
	assert_int_equal(fake_list(fx, FAKE_REPLY, NULL), EPH_ERR_TRUNCATED);

	buf_free(&wire);
}

/* An agent that stops answering, or answers one byte at a time, costs
 * the caller its timeout and no more. */
static void
test_fake_timeouts(void **state)
{
	struct fx *fx = *state;
	struct buf wire, body;
	struct agent_identity *ids = NULL;
	size_t n = 0;
	int64_t t0;

	buf_init(&wire);
	buf_init(&body);

	fake_start(fx, FAKE_REPLY_HANG, NULL);
	assert_int_equal(agent_set_timeout(fx->a, 300), EPH_OK);
	t0 = now_ms();
	errno = 0;
	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_ERR_IO);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 < 2500);

	/* Each byte comes well within the timeout; the whole reply does not. */
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 0), EPH_OK);
	frame(&wire, &body);
	fake_start(fx, FAKE_DRIP, &wire);
	assert_int_equal(agent_set_timeout(fx->a, 300), EPH_OK);
	t0 = now_ms();
	errno = 0;
	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_ERR_IO);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 < 2500);

	/* The same drip with time to spare is read in full. */
	fake_start(fx, FAKE_DRIP, &wire);
	assert_int_equal(agent_set_timeout(fx->a, 5000), EPH_OK);
	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_OK);
	assert_int_equal(n, 0);

	buf_free(&body);
	buf_free(&wire);
}

/* A peer that hung up before we write: an error, not SIGPIPE. */
static void
test_fake_closed_early(void **state)
{
	struct fx *fx = *state;
	struct buf sig, blob;
	uint8_t *data;
	int r;

	buf_init(&sig);
	buf_init(&blob);
	fake_start(fx, FAKE_CLOSE_FIRST, NULL);
	while (waitpid(fx->fake_pid, NULL, 0) == -1 && errno == EINTR)
		;
	fx->fake_pid = -1;
	assert_int_equal(buf_put_cstring(&blob, "ssh-ed25519"), EPH_OK);
	assert_int_equal(buf_put_string(&blob, sign_data, 32), EPH_OK);
	data = calloc(1, 200 * 1024);
	assert_non_null(data);
	errno = 0;
	r = agent_sign(fx->a, blob.d, blob.len, data, 200 * 1024, 0, &sig);
	assert_int_equal(r, EPH_ERR_IO);
	assert_true(errno == EPIPE || errno == ECONNRESET);
	assert_int_equal(sig.len, 0);
	free(data);
	buf_free(&blob);
	buf_free(&sig);
}

static void
test_fake_list_replies(void **state)
{
	struct fx *fx = *state;
	struct buf wire, body;
	struct agent_identity *ids = NULL;
	size_t n = 0;
	char *longc;

	buf_init(&wire);
	buf_init(&body);

	frame_type(&wire, T_SIGN_RESPONSE);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_FORMAT);
	frame_type(&wire, T_FAILURE);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_AGENT);
	frame_type(&wire, T_SSH2_AGENT_FAILURE);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_AGENT);
	frame_type(&wire, T_IDENTITIES_ANSWER); /* no count */
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TRUNCATED);

	/* Count over the cap; count the message cannot hold. */
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, AGENT_MAX_IDENTITIES + 1), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TOOLARGE);
	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, AGENT_MAX_IDENTITIES), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TRUNCATED);

	/* Two entries claimed, one sent (plus padding to pass the size
	 * pre-check). */
	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 2), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "blob-one"), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "one"), EPH_OK);
	assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TRUNCATED);

	/* One entry and trailing junk. */
	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 1), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "blob-one"), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "one"), EPH_OK);
	assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TRAILING);

	/* Empty blob; oversized blob; oversized comment; NUL in comment. */
	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 1), EPH_OK);
	assert_int_equal(buf_put_string(&body, NULL, 0), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "one"), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_FORMAT);

	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 1), EPH_OK);
	assert_int_equal(buf_put_u32(&body, AGENT_MAX_BLOB + 1), EPH_OK);
	assert_int_equal(buf_reserve(&body, AGENT_MAX_BLOB + 8), EPH_OK);
	while (body.len < 9 + AGENT_MAX_BLOB + 1 + 4)
		assert_int_equal(buf_put_u8(&body, 'b'), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TOOLARGE);

	longc = malloc(AGENT_MAX_COMMENT + 2);
	assert_non_null(longc);
	memset(longc, 'c', AGENT_MAX_COMMENT + 1);
	longc[AGENT_MAX_COMMENT + 1] = '\0';
	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 1), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "blob-one"), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, longc), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_TOOLARGE);
	free(longc);

	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 1), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "blob-one"), EPH_OK);
	assert_int_equal(buf_put_string(&body, "o\0ne", 4), EPH_OK);
	frame(&wire, &body);
	assert_int_equal(fake_list(fx, FAKE_REPLY, &wire), EPH_ERR_FORMAT);

	/* A well-formed answer is returned as sent, and the request was
	 * exactly SSH2_AGENTC_REQUEST_IDENTITIES. */
	buf_reset(&body);
	assert_int_equal(buf_put_u8(&body, T_IDENTITIES_ANSWER), EPH_OK);
	assert_int_equal(buf_put_u32(&body, 2), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "blob-one"), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "one"), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, "blob-two"), EPH_OK);
	assert_int_equal(buf_put_cstring(&body, ""), EPH_OK);
	frame(&wire, &body);
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_list(fx->a, &ids, &n), EPH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0].len, 8);
	assert_memory_equal(ids[0].blob, "blob-one", 8);
	assert_string_equal(ids[0].comment, "one");
	assert_memory_equal(ids[1].blob, "blob-two", 8);
	assert_string_equal(ids[1].comment, "");
	agent_identities_free(ids, n);
	{
		size_t rn = 0;
		char *req = tu_read_file(fx->record, &rn);

		assert_non_null(req);
		assert_int_equal(rn, 1);
		assert_int_equal((uint8_t)req[0], 11);
		free(req);
	}

	buf_free(&body);
	buf_free(&wire);
}

static int
fake_sign(
    struct fx *fx, const struct buf *wire, const struct buf *blob, uint32_t flags, struct buf *sig)
{
	fake_start(fx, FAKE_REPLY, wire);
	return agent_sign(fx->a, blob->d, blob->len, sign_data, sizeof(sign_data), flags, sig);
}

static void
sign_response(struct buf *wire, const char *alg, size_t siglen, int trailing)
{
	struct buf body, s;
	uint8_t bytes[64];

	buf_init(&body);
	buf_init(&s);
	memset(bytes, 0x5a, sizeof(bytes));
	assert_true(siglen <= sizeof(bytes));
	assert_int_equal(buf_put_cstring(&s, alg), EPH_OK);
	assert_int_equal(buf_put_string(&s, bytes, siglen), EPH_OK);
	assert_int_equal(buf_put_u8(&body, T_SIGN_RESPONSE), EPH_OK);
	assert_int_equal(buf_put_stringb(&body, &s), EPH_OK);
	if (trailing)
		assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
	frame(wire, &body);
	buf_free(&s);
	buf_free(&body);
}

static void
test_fake_sign_replies(void **state)
{
	struct fx *fx = *state;
	struct buf wire, blob, sig, req;
	const uint8_t *p;
	size_t n;
	uint32_t flags;
	uint8_t type;
	char *rec;

	buf_init(&wire);
	buf_init(&blob);
	buf_init(&sig);
	/* Only the type name of the identity blob matters to the client. */
	assert_int_equal(buf_put_cstring(&blob, "ssh-rsa"), EPH_OK);
	assert_int_equal(buf_put_string(&blob, "e", 1), EPH_OK);

	/* SHA-1 where SHA-512 was asked. */
	sign_response(&wire, "ssh-rsa", 64, 0);
	assert_int_equal(fake_sign(fx, &wire, &blob, AGENT_RSA_SHA2_512, &sig), EPH_ERR_SIGNATURE);
	sign_response(&wire, "rsa-sha2-256", 64, 0);
	assert_int_equal(fake_sign(fx, &wire, &blob, AGENT_RSA_SHA2_512, &sig), EPH_ERR_SIGNATURE);
	sign_response(&wire, "rsa-sha2-512", 64, 1);
	assert_int_equal(fake_sign(fx, &wire, &blob, AGENT_RSA_SHA2_512, &sig), EPH_ERR_TRAILING);
	frame_type(&wire, T_SUCCESS);
	assert_int_equal(fake_sign(fx, &wire, &blob, 0, &sig), EPH_ERR_FORMAT);
	frame_type(&wire, T_FAILURE);
	assert_int_equal(fake_sign(fx, &wire, &blob, 0, &sig), EPH_ERR_AGENT);
	frame_type(&wire, T_SIGN_RESPONSE);
	assert_int_equal(fake_sign(fx, &wire, &blob, 0, &sig), EPH_ERR_TRUNCATED);
	assert_int_equal(sig.len, 0);

	/* A matching answer is passed through; the request carried the
	 * blob, the data and the SHA-512 flag for a flagless RSA request. */
	sign_response(&wire, "rsa-sha2-512", 64, 0);
	assert_int_equal(fake_sign(fx, &wire, &blob, 0, &sig), EPH_OK);
	assert_int_equal(sig.len, wire.len - 9);
	assert_memory_equal(sig.d, wire.d + 9, sig.len);
	rec = tu_read_file(fx->record, &n);
	assert_non_null(rec);
	buf_init_view(&req, (const uint8_t *)rec, n);
	assert_int_equal(buf_get_u8(&req, &type), EPH_OK);
	assert_int_equal(type, 13);
	assert_int_equal(buf_get_string(&req, &p, &n, 1024), EPH_OK);
	assert_int_equal(n, blob.len);
	assert_memory_equal(p, blob.d, n);
	assert_int_equal(buf_get_string(&req, &p, &n, 1024), EPH_OK);
	assert_int_equal(n, sizeof(sign_data));
	assert_memory_equal(p, sign_data, n);
	assert_int_equal(buf_get_u32(&req, &flags), EPH_OK);
	assert_int_equal(flags, AGENT_RSA_SHA2_512);
	assert_int_equal(buf_remaining(&req), 0);
	free(rec);

	buf_free(&sig);
	buf_free(&blob);
	buf_free(&wire);
}

/* The fake agent records the add request; decode it field by field. */
static struct buf *
recorded(struct fx *fx, char **rec)
{
	static struct buf req;
	size_t n = 0;

	*rec = tu_read_file(fx->record, &n);
	assert_non_null(*rec);
	buf_init_view(&req, (const uint8_t *)*rec, n);
	return &req;
}

static void
test_fake_add_wire(void **state)
{
	struct fx *fx = *state;
	struct buf wire, pub, *req;
	struct key *k, *ec;
	struct cert *c;
	const uint8_t *p;
	size_t n;
	uint32_t life;
	uint8_t u8;
	char *rec = NULL;

	buf_init(&wire);
	buf_init(&pub);
	assert_int_equal(key_generate(KEY_ED25519, 0, &fx->ca), EPH_OK);
	k = new_key(KEY_ED25519);
	assert_int_equal(key_put_public_fields(k, &pub), EPH_OK);

	/* Plain key, lifetime and confirm: ADD_ID_CONSTRAINED. */
	frame_type(&wire, T_SUCCESS);
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_add_identity(fx->a, k, NULL, "c1", 90, 1), EPH_OK);
	req = recorded(fx, &rec);
	assert_int_equal(buf_get_u8(req, &u8), EPH_OK);
	assert_int_equal(u8, T_ADD_ID_CONSTRAINED);
	assert_int_equal(buf_get_expect_cstring(req, "ssh-ed25519"), EPH_OK);
	assert_true(buf_remaining(req) > pub.len);
	assert_memory_equal(buf_ptr(req), pub.d, pub.len);
	assert_int_equal(buf_skip(req, pub.len), EPH_OK);
	assert_int_equal(buf_get_string(req, &p, &n, 64), EPH_OK);
	assert_int_equal(n, 64); /* seed || public key */
	assert_memory_equal(p + 32, pub.d + 4, 32);
	assert_int_equal(buf_get_expect_cstring(req, "c1"), EPH_OK);
	assert_int_equal(buf_get_u8(req, &u8), EPH_OK);
	assert_int_equal(u8, 1);
	assert_int_equal(buf_get_u32(req, &life), EPH_OK);
	assert_int_equal(life, 90);
	assert_int_equal(buf_get_u8(req, &u8), EPH_OK);
	assert_int_equal(u8, 2);
	assert_int_equal(buf_remaining(req), 0);
	free(rec);

	/* No constraints: plain ADD_IDENTITY, nothing after the comment. */
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_add_identity(fx->a, k, NULL, NULL, 0, 0), EPH_OK);
	req = recorded(fx, &rec);
	assert_int_equal(buf_get_u8(req, &u8), EPH_OK);
	assert_int_equal(u8, T_ADD_IDENTITY);
	assert_int_equal(buf_get_expect_cstring(req, "ssh-ed25519"), EPH_OK);
	assert_int_equal(buf_skip(req, pub.len), EPH_OK);
	assert_int_equal(buf_get_string(req, &p, &n, 64), EPH_OK);
	assert_int_equal(buf_get_expect_cstring(req, ""), EPH_OK);
	assert_int_equal(buf_remaining(req), 0);
	free(rec);

	/* ECDSA key + certificate: cert type, cert blob, private scalar. */
	ec = new_key(KEY_ECDSA_P256);
	c = new_cert(fx, ec);
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_add_identity(fx->a, ec, c, "c2", 5, 0), EPH_OK);
	req = recorded(fx, &rec);
	assert_int_equal(buf_get_u8(req, &u8), EPH_OK);
	assert_int_equal(u8, T_ADD_ID_CONSTRAINED);
	assert_int_equal(
	    buf_get_expect_cstring(req, "ecdsa-sha2-nistp256-cert-v01@openssh.com"), EPH_OK);
	assert_int_equal(buf_get_string(req, &p, &n, CERT_MAX_SIZE), EPH_OK);
	assert_int_equal(n, c->blob.len);
	assert_memory_equal(p, c->blob.d, n);
	assert_int_equal(buf_get_bignum2_bytes(req, &p, &n, 32), EPH_OK);
	assert_true(n > 0);
	assert_int_equal(buf_get_expect_cstring(req, "c2"), EPH_OK);
	assert_int_equal(buf_get_u8(req, &u8), EPH_OK);
	assert_int_equal(u8, 1);
	assert_int_equal(buf_get_u32(req, &life), EPH_OK);
	assert_int_equal(life, 5);
	assert_int_equal(buf_remaining(req), 0);
	free(rec);

	/* Refusals and odd answers to an add. */
	frame_type(&wire, T_FAILURE);
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_add_identity(fx->a, k, NULL, NULL, 0, 0), EPH_ERR_AGENT);
	frame_type(&wire, T_IDENTITIES_ANSWER);
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_add_identity(fx->a, k, NULL, NULL, 0, 0), EPH_ERR_FORMAT);
	{
		struct buf body;

		buf_init(&body);
		assert_int_equal(buf_put_u8(&body, T_SUCCESS), EPH_OK);
		assert_int_equal(buf_put_u8(&body, 0), EPH_OK);
		frame(&wire, &body);
		buf_free(&body);
	}
	fake_start(fx, FAKE_REPLY, &wire);
	assert_int_equal(agent_remove(fx->a, pub.d, pub.len), EPH_ERR_TRAILING);

	cert_free(c);
	drop_key(ec);
	drop_key(k);
	buf_free(&pub);
	buf_free(&wire);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest real[] = {
	    cmocka_unit_test_setup_teardown(test_cert_ed25519, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_cert_ecdsa, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_cert_rsa, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_keys, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_lifetime, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_confirm, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_local_refusals, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_errors, setup_real, teardown),
	};
	const struct CMUnitTest fake[] = {
	    cmocka_unit_test_setup_teardown(test_fake_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fake_timeouts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fake_closed_early, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fake_list_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fake_sign_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fake_add_wire, setup, teardown),
	};
	int fails = 0;

	tu_init(argc, argv);
	/* Never the user's agent: every test names its own socket. */
	unsetenv("SSH_AUTH_SOCK");
	fails += cmocka_run_group_tests_name("agent_real", real, NULL, group_teardown);
	fails += cmocka_run_group_tests_name("agent_fake", fake, NULL, group_teardown);
	return fails;
}

/*
 * ephssh ssh's SSH connection on libssh: connect, check the host key,
 * authenticate with one certificate held by the user's ssh-agent, relay
 * a command or a shell.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "agent.h"
#include "buf.h"
#include "err.h"
#include "sshconn.h"

/* The few ssh-agent messages the one-key agent below speaks. */
#define SSH_AGENT_FAILURE 5
#define SSH2_AGENTC_REQUEST_IDENTITIES 11
#define SSH2_AGENT_IDENTITIES_ANSWER 12
#define SSH2_AGENTC_SIGN_REQUEST 13
#define SSH2_AGENT_SIGN_RESPONSE 14

#define RELAY_CHUNK 16384

/*
 * Seconds any one step of connecting and logging in may wait (libssh's
 * default is forever: 0.10 waits on a server that disconnected during
 * authentication). Once logged in it is forever again, as with ssh: a
 * remote command may be silent for hours.
 */
#define SSHCONN_SETUP_TIMEOUT 30L

struct sshconn {
	ssh_session s;
	char *host; /* as libssh connected (after ~/.ssh/config's HostName) */
	unsigned port;
	char *user;
	char where[300]; /* "host" or "[host]:port", as known_hosts names it */
};

/* ------------------------------------------------------------ connect */

static void
conn_free(struct sshconn *c)
{
	if (c == NULL)
		return;
	if (c->s != NULL) {
		ssh_disconnect(c->s);
		ssh_free(c->s);
	}
	free(c->host);
	free(c->user);
	free(c);
}

/* "ssh-ed25519 SHA256:..." of the server's key; "" when unknown. */
static void
host_key_text(ssh_session s, char *out, size_t len)
{
	ssh_key k = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;

	out[0] = '\0';
	if (ssh_get_server_publickey(s, &k) != SSH_OK)
		return;
	if (ssh_get_publickey_hash(k, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == SSH_OK &&
	    (fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen)) != NULL)
		snprintf(out, len, "%s %s", ssh_key_type_to_char(ssh_key_type(k)), fp);
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(k);
}

static int
check_host_key(struct sshconn *c, int accept_new, char *why, size_t len)
{
	char key[200], *kh = NULL;
	const char *file;
	int r = EPH_ERR_PERM;

	host_key_text(c->s, key, sizeof(key));
	if (ssh_options_get(c->s, SSH_OPTIONS_KNOWNHOSTS, &kh) != SSH_OK)
		kh = NULL;
	file = kh != NULL ? kh : "~/.ssh/known_hosts";
	switch (ssh_session_is_known_server(c->s)) {
	case SSH_KNOWN_HOSTS_OK: r = EPH_OK; break;
	case SSH_KNOWN_HOSTS_CHANGED:
		snprintf(why, len,
		    "REMOTE HOST IDENTIFICATION HAS CHANGED for %s: it now offers %s; "
		    "someone may be intercepting the connection (or the host was reinstalled): "
		    "check, and remove the old key from %s to go on; refusing to connect",
		    c->where, key, file);
		break;
	case SSH_KNOWN_HOSTS_OTHER:
		snprintf(why, len,
		    "%s offers %s, but %s holds a key of another type for it: "
		    "someone may be intercepting the connection; refusing to connect",
		    c->where, key, file);
		break;
	case SSH_KNOWN_HOSTS_NOT_FOUND:
	case SSH_KNOWN_HOSTS_UNKNOWN:
		if (!accept_new) {
			snprintf(why, len,
			    "the host key of %s is not known (%s): check its fingerprint and add "
			    "it "
			    "to %s, or run again with --accept-new to trust it on first use",
			    c->where, key, file);
			break;
		}
		if (ssh_session_update_known_hosts(c->s) != SSH_OK) {
			snprintf(why, len, "cannot add the host key of %s to %s: %s", c->where,
			    file, ssh_get_error(c->s));
			break;
		}
		snprintf(why, len, "permanently added %s (%s) to %s", c->where, key, file);
		r = EPH_OK;
		break;
	case SSH_KNOWN_HOSTS_ERROR:
	default:
		snprintf(why, len, "cannot check the host key of %s against %s: %s", c->where, file,
		    ssh_get_error(c->s));
		break;
	}
	ssh_string_free_char(kh);
	return r;
}

int
sshconn_open(const struct sshconn_target *t, struct sshconn **out, char *why, size_t len)
{
	struct sshconn *c;
	int verbosity = SSH_LOG_NOLOG, r = EPH_ERR_NOMEM;
	unsigned port = t->port;
	long setup_timeout = SSHCONN_SETUP_TIMEOUT;

	*out = NULL;
	why[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->s = ssh_new()) == NULL) {
		snprintf(why, len, "out of memory");
		goto out;
	}
	r = EPH_ERR_INVAL;
	/*
	 * The host first, so that ~/.ssh/config's Host blocks match it;
	 * then the configuration (HostName, Port, ProxyJump, ...); then
	 * what the command line says, which wins over the files as with
	 * ssh. Parsed here, ssh_connect does not parse it again.
	 */
	if (ssh_options_set(c->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) != SSH_OK ||
	    ssh_options_set(c->s, SSH_OPTIONS_HOST, t->host) != SSH_OK) {
		snprintf(why, len, "%s: %s", t->host, ssh_get_error(c->s));
		goto out;
	}
	if (ssh_options_parse_config(c->s, NULL) != 0) {
		snprintf(why, len, "cannot read the ssh configuration: %s", ssh_get_error(c->s));
		goto out;
	}
	if ((port != 0 && ssh_options_set(c->s, SSH_OPTIONS_PORT, &port) != SSH_OK) ||
	    ssh_options_set(c->s, SSH_OPTIONS_USER, t->user) != SSH_OK ||
	    ssh_options_set(c->s, SSH_OPTIONS_TIMEOUT, &setup_timeout) != SSH_OK) {
		snprintf(why, len, "%s: %s", t->host, ssh_get_error(c->s));
		goto out;
	}
	if (ssh_options_get(c->s, SSH_OPTIONS_HOST, &c->host) != SSH_OK ||
	    ssh_options_get_port(c->s, &c->port) != SSH_OK || (c->user = strdup(t->user)) == NULL) {
		snprintf(why, len, "%s: %s", t->host, ssh_get_error(c->s));
		goto out;
	}
	if (c->port == 22)
		snprintf(c->where, sizeof(c->where), "%s", c->host);
	else
		snprintf(c->where, sizeof(c->where), "[%s]:%u", c->host, c->port);
	if (ssh_connect(c->s) != SSH_OK) {
		snprintf(why, len, "cannot connect to %s: %s", c->where, ssh_get_error(c->s));
		r = EPH_ERR_IO;
		goto out;
	}
	if ((r = check_host_key(c, t->accept_new, why, len)) != EPH_OK)
		goto out;
	if (!t->accept_new)
		why[0] = '\0';
	*out = c;
	c = NULL;
	r = EPH_OK;
out:
	conn_free(c);
	return r;
}

void
sshconn_close(struct sshconn *c)
{
	conn_free(c);
}

/* --------------------------------------------------- the one-key agent */

/*
 * libssh 0.10 has no public call that authenticates with one chosen
 * agent identity: ssh_userauth_agent offers every key the agent holds
 * (another grant's certificate, the user's own keys; enough of them and
 * sshd's MaxAuthTries ends the connection before ours is tried), and
 * ssh_userauth_publickey wants the private key in memory, which is in
 * the agent and must stay there. So libssh is handed, with
 * ssh_set_agent_socket, one end of a socketpair; a thread on the other
 * end is an agent that lists only the grant's certificate and passes
 * signature requests for it, and nothing else, to the user's agent.
 * No socket file, no key material outside the agent.
 */
struct onekey {
	int fd;
	struct agent *agent;
	const uint8_t *blob;
	size_t n;
	int refused; /* the user's agent would not sign */
};

static int
read_full(int fd, void *p, size_t n)
{
	uint8_t *d = p;
	ssize_t k;

	while (n > 0) {
		if ((k = read(fd, d, n)) < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		d += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
write_full(int fd, const void *p, size_t n)
{
	const uint8_t *d = p;
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, d, n)) < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		d += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The answer to one request in body (type byte first), into reply. */
static int
onekey_answer(struct onekey *ok, struct buf *body, struct buf *reply)
{
	const uint8_t *blob, *data;
	size_t blen, dlen;
	uint32_t flags;
	uint8_t type;
	struct buf sig;
	int r;

	if ((r = buf_get_u8(body, &type)) != EPH_OK)
		return r;
	if (type == SSH2_AGENTC_REQUEST_IDENTITIES)
		return (r = buf_put_u8(reply, SSH2_AGENT_IDENTITIES_ANSWER)) != EPH_OK ||
		        (r = buf_put_u32(reply, 1)) != EPH_OK ||
		        (r = buf_put_string(reply, ok->blob, ok->n)) != EPH_OK
		    ? r
		    : buf_put_cstring(reply, "ephssh grant");
	if (type != SSH2_AGENTC_SIGN_REQUEST)
		return buf_put_u8(reply, SSH_AGENT_FAILURE);
	if ((r = buf_get_string(body, &blob, &blen, AGENT_MAX_BLOB)) != EPH_OK ||
	    (r = buf_get_string(body, &data, &dlen, AGENT_MAX_MSG)) != EPH_OK ||
	    (r = buf_get_u32(body, &flags)) != EPH_OK)
		return r;
	if (blen != ok->n || memcmp(blob, ok->blob, blen) != 0)
		return buf_put_u8(reply, SSH_AGENT_FAILURE);
	buf_init(&sig);
	if (agent_sign(ok->agent, blob, blen, data, dlen, flags, &sig) != EPH_OK) {
		ok->refused = 1;
		r = buf_put_u8(reply, SSH_AGENT_FAILURE);
	} else if ((r = buf_put_u8(reply, SSH2_AGENT_SIGN_RESPONSE)) == EPH_OK) {
		r = buf_put_string(reply, sig.d, sig.len);
	}
	buf_free(&sig);
	return r;
}

static void *
onekey_serve(void *arg)
{
	struct onekey *ok = arg;
	struct buf body, reply;
	uint8_t hdr[4], *msg = NULL;
	uint32_t n;

	buf_init(&reply);
	/* Until libssh's end is shut: a framing error ends it too (libssh
	 * then sees a dead agent and fails the authentication). */
	while (read_full(ok->fd, hdr, 4) == 0) {
		n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		    hdr[3];
		if (n == 0 || n > AGENT_MAX_MSG)
			break;
		free(msg);
		buf_reset(&reply);
		if ((msg = malloc(n)) == NULL || read_full(ok->fd, msg, n) != 0)
			break;
		buf_init_view(&body, msg, n);
		if (buf_put_u32(&reply, 0) != EPH_OK || onekey_answer(ok, &body, &reply) != EPH_OK)
			break;
		n = (uint32_t)(reply.len - 4);
		reply.d[0] = (uint8_t)(n >> 24);
		reply.d[1] = (uint8_t)(n >> 16);
		reply.d[2] = (uint8_t)(n >> 8);
		reply.d[3] = (uint8_t)n;
		if (write_full(ok->fd, reply.d, reply.len) != 0)
			break;
	}
	free(msg); /* what libssh asked: to be signed, no secret */
	buf_free(&reply);
	return NULL;
}

int
sshconn_auth(
    struct sshconn *c, struct agent *agent, const uint8_t *blob, size_t n, char *why, size_t len)
{
	struct onekey ok = {-1, agent, blob, n, 0};
	pthread_t th;
	int sv[2], rc, r = EPH_ERR_IO;
	long no_timeout = 0;

	why[0] = '\0';
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(why, len, "socketpair: %s", strerror(errno));
		return EPH_ERR_IO;
	}
	ok.fd = sv[1];
	if ((rc = pthread_create(&th, NULL, onekey_serve, &ok)) != 0) {
		snprintf(why, len, "cannot start a thread: %s", strerror(rc));
		close(sv[0]);
		close(sv[1]);
		return EPH_ERR_IO;
	}
	/* From here libssh owns sv[0] (ssh_free closes it). */
	if (ssh_set_agent_socket(c->s, sv[0]) != SSH_OK) {
		close(sv[0]);
		rc = SSH_AUTH_ERROR;
	} else
		rc = ssh_userauth_agent(c->s, NULL);
	/* The agent is needed for this only (no agent forwarding): shut
	 * libssh's end so that the thread reads the end and stops. */
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(th, NULL);
	close(sv[1]);
	switch (rc) {
	case SSH_AUTH_SUCCESS:
		if (ssh_options_set(c->s, SSH_OPTIONS_TIMEOUT, &no_timeout) != SSH_OK) {
			snprintf(why, len, "%s: %s", c->where, ssh_get_error(c->s));
			break;
		}
		r = EPH_OK;
		break;
	case SSH_AUTH_DENIED:
		if (ok.refused) {
			snprintf(why, len, "the ssh-agent refused to sign with the grant's key");
			r = EPH_ERR_AGENT;
		} else {
			snprintf(why, len, "%s refused the grant's certificate for the account %s",
			    c->where, c->user);
			r = EPH_ERR_PRINCIPAL;
		}
		break;
	case SSH_AUTH_PARTIAL:
		snprintf(why, len,
		    "%s accepted the certificate for %s but asks for a second method, which "
		    "ephssh ssh does not offer",
		    c->where, c->user);
		r = EPH_ERR_PRINCIPAL;
		break;
	default:
		snprintf(
		    why, len, "authentication to %s failed: %s", c->where, ssh_get_error(c->s));
		break;
	}
	return r;
}

/* --------------------------------------------------------------- relay */

struct relay {
	ssh_session s;
	ssh_channel ch;
	int closed, eof, stdin_done, stdin_removed, broken;
	int status; /* -1 until an exit-status */
	char signal[32]; /* an exit-signal's name */
	int winch_fd; /* read end of the SIGWINCH pipe, -1 when none */
};

static int
on_data(ssh_session s, ssh_channel ch, void *data, uint32_t n, int is_stderr, void *u)
{
	(void)s;
	(void)ch;
	(void)u;
	/* All of it is taken, also when our stdout is gone (as ssh does
	 * not stop the remote side for that either). */
	(void)write_full(is_stderr ? STDERR_FILENO : STDOUT_FILENO, data, n);
	return (int)n;
}

static void
on_eof(ssh_session s, ssh_channel ch, void *u)
{
	(void)s;
	(void)ch;
	((struct relay *)u)->eof = 1;
}

static void
on_close(ssh_session s, ssh_channel ch, void *u)
{
	(void)s;
	(void)ch;
	((struct relay *)u)->closed = 1;
}

static void
on_exit_status(ssh_session s, ssh_channel ch, int status, void *u)
{
	(void)s;
	(void)ch;
	((struct relay *)u)->status = status;
}

static void
on_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core, const char *msg,
    const char *lang, void *u)
{
	(void)s;
	(void)ch;
	(void)core;
	(void)msg;
	(void)lang;
	snprintf(((struct relay *)u)->signal, sizeof(((struct relay *)u)->signal), "%s",
	    sig != NULL ? sig : "?");
}

static int
on_stdin(socket_t fd, int revents, void *u)
{
	struct relay *r = u;
	uint8_t b[RELAY_CHUNK];
	ssize_t n;

	if (r->stdin_done || (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) == 0)
		return 0;
	n = read(fd, b, sizeof(b));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n > 0) {
		if (ssh_channel_write(r->ch, b, (uint32_t)n) == SSH_ERROR)
			r->broken = 1;
	} else {
		r->stdin_done = 1;
		(void)ssh_channel_send_eof(r->ch);
	}
	explicit_bzero(b, sizeof(b));
	return 0;
}

static void
window_size(int fd, int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static int winch_pipe[2] = {-1, -1};

static void
on_sigwinch(int sig)
{
	int saved = errno;
	char b = 0;

	(void)sig;
	(void)!write(winch_pipe[1], &b, 1);
	errno = saved;
}

static int
on_winch(socket_t fd, int revents, void *u)
{
	struct relay *r = u;
	char b[64];
	int cols, rows;

	(void)revents;
	while (read(fd, b, sizeof(b)) > 0)
		;
	window_size(STDIN_FILENO, &cols, &rows);
	(void)ssh_channel_change_pty_size(r->ch, cols, rows);
	return 0;
}

/* The terminal as it was, put back on every way out, signals included. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_raw;

static void
tty_restore(void)
{
	if (tty_raw) {
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tty);
		tty_raw = 0;
	}
}

static void
on_fatal_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
tty_make_raw(void)
{
	struct termios t;
	struct sigaction sa;

	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGQUIT, &sa, NULL);
	t = saved_tty;
	cfmakeraw(&t);
	tty_raw = 1;
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) != 0) {
		tty_raw = 0;
		return -1;
	}
	return 0;
}

int
sshconn_run(struct sshconn *c, const char *command, int *status, char *why, size_t len)
{
	struct relay rl;
	struct ssh_channel_callbacks_struct cb;
	struct sigaction sa, old_winch;
	ssh_channel ch = NULL;
	ssh_event ev = NULL;
	int pty = command == NULL && isatty(STDIN_FILENO), cols, rows, r = EPH_ERR_PERM, winch = 0;
	const char *term = getenv("TERM");

	*status = -1;
	why[0] = '\0';
	memset(&rl, 0, sizeof(rl));
	rl.s = c->s;
	rl.status = -1;
	rl.winch_fd = -1;
	memset(&cb, 0, sizeof(cb));
	cb.userdata = &rl;
	cb.channel_data_function = on_data;
	cb.channel_eof_function = on_eof;
	cb.channel_close_function = on_close;
	cb.channel_exit_status_function = on_exit_status;
	cb.channel_exit_signal_function = on_exit_signal;
	ssh_callbacks_init(&cb);

	if ((ch = ssh_channel_new(c->s)) == NULL || ssh_channel_open_session(ch) != SSH_OK) {
		snprintf(why, len, "%s: cannot open a session: %s", c->where, ssh_get_error(c->s));
		goto out;
	}
	rl.ch = ch;
	ssh_set_channel_callbacks(ch, &cb);
	if (pty) {
		window_size(STDIN_FILENO, &cols, &rows);
		if (ssh_channel_request_pty_size(
		        ch, term != NULL && *term ? term : "xterm", cols, rows) != SSH_OK) {
			snprintf(
			    why, len, "%s refused a terminal: %s", c->where, ssh_get_error(c->s));
			goto out;
		}
	}
	if ((command != NULL ? ssh_channel_request_exec(ch, command)
	                     : ssh_channel_request_shell(ch)) != SSH_OK) {
		snprintf(why, len, "%s refused to run %s: %s", c->where,
		    command != NULL ? "the command" : "a shell", ssh_get_error(c->s));
		goto out;
	}
	if ((ev = ssh_event_new()) == NULL || ssh_event_add_session(ev, c->s) != SSH_OK ||
	    ssh_event_add_fd(ev, STDIN_FILENO, POLLIN, on_stdin, &rl) != SSH_OK) {
		snprintf(why, len, "out of memory");
		goto out;
	}
	if (pty) {
		if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_sigwinch;
			sa.sa_flags = SA_RESTART;
			sigemptyset(&sa.sa_mask);
			if (ssh_event_add_fd(ev, winch_pipe[0], POLLIN, on_winch, &rl) == SSH_OK &&
			    sigaction(SIGWINCH, &sa, &old_winch) == 0)
				winch = 1;
		}
		if (tty_make_raw() != 0) {
			snprintf(
			    why, len, "cannot put the terminal in raw mode: %s", strerror(errno));
			goto out;
		}
	}
	r = EPH_ERR_IO; /* from here the remote side runs */
	while (!rl.closed && !ssh_channel_is_closed(ch)) {
		if (rl.stdin_done && !rl.stdin_removed) {
			(void)ssh_event_remove_fd(ev, STDIN_FILENO);
			rl.stdin_removed = 1;
		}
		if (ssh_event_dopoll(ev, -1) == SSH_ERROR || rl.broken || !ssh_is_connected(c->s)) {
			snprintf(why, len, "connection to %s lost: %s", c->where,
			    ssh_get_error(c->s)[0] ? ssh_get_error(c->s) : "closed");
			goto out;
		}
	}
	*status = rl.status;
	if (rl.status < 0)
		snprintf(why, len,
		    rl.signal[0] ? "the remote command was killed by signal %s"
		                 : "the remote command ended without an exit status",
		    rl.signal);
	r = EPH_OK;
out:
	tty_restore();
	if (winch)
		(void)sigaction(SIGWINCH, &old_winch, NULL);
	if (winch_pipe[0] >= 0) {
		if (ev != NULL)
			(void)ssh_event_remove_fd(ev, winch_pipe[0]);
		close(winch_pipe[0]);
		close(winch_pipe[1]);
		winch_pipe[0] = winch_pipe[1] = -1;
	}
	if (ev != NULL) {
		if (!rl.stdin_removed)
			(void)ssh_event_remove_fd(ev, STDIN_FILENO);
		(void)ssh_event_remove_session(ev, c->s);
		ssh_event_free(ev);
	}
	if (ch != NULL) {
		if (rl.ch != NULL && !rl.closed && ssh_is_connected(c->s))
			(void)ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	return r;
}

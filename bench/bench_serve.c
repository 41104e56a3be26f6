/*
 * Benchmark: durable issuances per second and p50/p99 latency of the
 * real `sshca serve` over its Unix socket (auto-approved task, one
 * keep-alive connection per client, a fresh Ed25519 key per request) at
 * 1, 16 and 64 concurrent clients, next to two references measured in
 * the same run: certificates signed per second in this process (as
 * bench_sign), and bare SQLite commits per second (INSERT + COMMIT, WAL,
 * synchronous=FULL) on the file system the daemon's database is on.
 * For each level it also reports the CPU time spent per issuance by the
 * daemon's network side, by its signer process and by this load
 * generator (from /proc and getrusage), and the rate those would allow
 * were every core busy: what bounds the rate when the machine is full.
 * Prints "name value" lines for run-bench.sh; fails only when the
 * daemon cannot be run or answers something but 201 issued.
 *
 * Usage: bench_serve SSHCA [REQUESTS_PER_LEVEL]
 * BENCH_DIR: where the temp CA goes (default: the current directory, so
 * it sits on a real disk rather than a tmpfs /tmp).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"

#define MAX_CLIENTS 64
#define LEVEL_DEADLINE 60.0 /* seconds one concurrency level may take */
#define SQLITE_SECONDS 2.0
#define SIGN_SECONDS 1.0
#define RESP_MAX 65536

static char dir[512];
static pid_t daemon_pid = -1;

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static void
cleanup(void)
{
	int st;

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
				daemon_pid = -1;
				break;
			}
			usleep(50000);
		}
		if (daemon_pid > 0) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, &st, 0);
			daemon_pid = -1;
		}
	}
	if (dir[0] != '\0' && getenv("BENCH_KEEP") == NULL)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
die(const char *fmt, ...)
{
	va_list ap;
	char log[4200];
	FILE *f;
	char line[512];

	va_start(ap, fmt);
	fputs("bench_serve: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	if (dir[0] != '\0' && (f = fopen(log, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			fprintf(stderr, "  serve: %s", line);
		fclose(f);
	}
	cleanup();
	exit(1);
}

static void
write_file(const char *name, mode_t mode, const char *text)
{
	char p[4200];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0 ||
	    chmod(p, mode) != 0)
		die("cannot write %s", p);
}

/* ------------------------------------------------------------ the CA */

static void
run_wait(char *const argv[])
{
	pid_t p;
	int st, fd;

	if ((p = fork()) < 0)
		die("fork");
	if (p == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s %s failed", argv[0], argv[1]);
}

static void
ca_setup(const char *sshca, const char *user, char *sock, size_t socklen)
{
	char key[4200], text[16384];
	char *argv[] = {(char *)sshca, "init", "--key", key, NULL};

	snprintf(key, sizeof(key), "%s/ca", dir);
	run_wait(argv);
	snprintf(text, sizeof(text),
	    "defaults = { max_ttl = \"30m\"; pending_timeout = \"1h\"; };\n"
	    "tasks = (\n"
	    "  { name = \"bench\"; requesters = [ \"%s\" ]; hosts = [ \"web01.example.com\" ];\n"
	    "    login_as = \"deploy\"; default_ttl = \"10m\"; }\n"
	    ");\n",
	    user);
	write_file("policy.conf", 0644, text);
	snprintf(sock, socklen, "%s/sshca.sock", dir);
	/* Limits as high as they go: the benchmark measures issuance, not
	 * the per-requester caps (which still cost their two queries). */
	snprintf(text, sizeof(text),
	    "ca_key = \"%s/ca\";\npolicy = \"%s/policy.conf\";\n"
	    "revoked_keys = \"%s/krl\";\ndatabase = \"%s/ca.db\";\n"
	    "socket = \"%s\";\nuser = \"%s\";\n"
	    "limits = { active_grants = 1000000; requests_per_minute = 1000000; };\n",
	    dir, dir, dir, dir, sock, user);
	write_file("ca.conf", 0644, text);
}

static int
sock_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
daemon_start(const char *sshca, const char *sock)
{
	char conf[4200], log[4200];
	int fd, st, i;

	snprintf(conf, sizeof(conf), "%s/ca.conf", dir);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	if ((daemon_pid = fork()) < 0)
		die("fork");
	if (daemon_pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(sshca, sshca, "serve", "-f", conf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((fd = sock_connect(sock)) >= 0) {
			close(fd);
			return;
		}
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			die("sshca serve exited at startup");
		}
		usleep(50000);
	}
	die("no socket after 10 s");
}

/* ------------------------------------------------------ load generator */

struct client {
	int fd;
	char resp[RESP_MAX];
	size_t got;
	size_t req; /* index into the request pool */
	double t0;
};

static char **reqs; /* pre-built HTTP requests */
static size_t *reqlens;
static double *lat; /* latency per request of one level */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A whole response in c->resp? Then its length; else 0. */
static size_t
resp_complete(struct client *c)
{
	char *hend, *cl;
	size_t hlen;
	long n;

	c->resp[c->got] = '\0';
	if ((hend = strstr(c->resp, "\r\n\r\n")) == NULL)
		return 0;
	hlen = (size_t)(hend - c->resp) + 4;
	cl = strcasestr(c->resp, "\r\nContent-Length:");
	if (cl == NULL || cl > hend)
		die("response without Content-Length: %.200s", c->resp);
	n = strtol(cl + 17, NULL, 10);
	if (n < 0 || hlen + (size_t)n >= RESP_MAX)
		die("response too large");
	return c->got >= hlen + (size_t)n ? hlen + (size_t)n : 0;
}

static void
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			die("write: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Run n requests (pool[first..first+n)) over nclients keep-alive
 * connections, each with one request in flight. *elapsed: wall time;
 * returns how many finished (all, unless the deadline hit).
 */
static size_t
run_level(const char *sock, size_t first, size_t n, int nclients, double *elapsed)
{
	static struct client cl[MAX_CLIENTS];
	struct epoll_event ev, evs[MAX_CLIENTS];
	size_t next = first, done = 0, len;
	double t_start, t;
	int ep, i, k, nev;
	ssize_t r;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	for (i = 0; i < nclients; i++) {
		if ((cl[i].fd = sock_connect(sock)) < 0)
			die("connect %s: %s", sock, strerror(errno));
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) != 0)
			die("epoll_ctl");
	}
	t_start = now_sec();
	for (i = 0; i < nclients && next < first + n; i++) {
		cl[i].req = next++;
		cl[i].got = 0;
		cl[i].t0 = now_sec();
		send_all(cl[i].fd, reqs[cl[i].req], reqlens[cl[i].req]);
	}
	while (done < n) {
		if (now_sec() - t_start > LEVEL_DEADLINE)
			break;
		nev = epoll_wait(ep, evs, MAX_CLIENTS, 1000);
		if (nev < 0 && errno != EINTR)
			die("epoll_wait");
		for (k = 0; k < nev; k++) {
			struct client *c = &cl[evs[k].data.u32];

			r = read(c->fd, c->resp + c->got, RESP_MAX - 1 - c->got);
			if (r == 0)
				die("the daemon closed a keep-alive connection");
			if (r < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				die("read: %s", strerror(errno));
			}
			c->got += (size_t)r;
			if ((len = resp_complete(c)) == 0)
				continue;
			t = now_sec();
			if (len != c->got)
				die("bytes after a response");
			if (strncmp(c->resp, "HTTP/1.1 201 ", 13) != 0 ||
			    strstr(c->resp, "\"state\":\"issued\"") == NULL)
				die("not 201 issued: %.300s", c->resp);
			lat[done++] = t - c->t0;
			if (next < first + n) {
				c->req = next++;
				c->got = 0;
				c->t0 = now_sec();
				send_all(c->fd, reqs[c->req], reqlens[c->req]);
			}
		}
	}
	*elapsed = now_sec() - t_start;
	for (i = 0; i < nclients; i++)
		close(cl[i].fd);
	close(ep);
	return done;
}

static void
build_requests(size_t n)
{
	struct key *k = NULL;
	char *line = NULL, body[1024];
	size_t i;
	int len;

	if ((reqs = calloc(n, sizeof(*reqs))) == NULL ||
	    (reqlens = calloc(n, sizeof(*reqlens))) == NULL ||
	    (lat = calloc(n, sizeof(*lat))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		if (key_generate(KEY_ED25519, 0, &k) != EPH_OK ||
		    key_format_public_line(k, NULL, &line) != EPH_OK)
			die("key_generate failed");
		snprintf(body, sizeof(body),
		    "{\"task\":\"bench\",\"hosts\":[\"web01.example.com\"],\"ttl\":\"5m\","
		    "\"reason\":\"bench\",\"public_key\":\"%s\"}",
		    line);
		len = asprintf(&reqs[i],
		    "POST /v1/requests HTTP/1.1\r\nHost: ca\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		    strlen(body), body);
		if (len < 0)
			die("out of memory");
		reqlens[i] = (size_t)len;
		free(line);
		key_free(k);
		line = NULL;
		k = NULL;
	}
}

/* ------------------------------------------------------------ CPU use */

/* utime + stime of process pid (all its threads), seconds; -1 unknown. */
static double
proc_cpu(pid_t pid)
{
	char p[64], text[1024], *s;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* Fields after the command name in parentheses: state is field 3,
	 * utime 14 and stime 15. */
	if ((s = strrchr(text, ')')) == NULL ||
	    sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The daemon's signer: its one child process. */
static pid_t
signer_pid(void)
{
	char p[64];
	long pid = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%ld/task/%ld/children", (long)daemon_pid, (long)daemon_pid);
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

static double
self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct cpu_use {
	double net, signer, gen;
};

static void
cpu_sample(struct cpu_use *u, pid_t sg)
{
	u->net = proc_cpu(daemon_pid);
	u->signer = sg > 0 ? proc_cpu(sg) : -1;
	u->gen = self_cpu();
}

/* ------------------------------------------------------- references */

static struct buf grant_value;

static double
sign_rate(void)
{
	struct key *ca = NULL, *pair = NULL, *user = NULL;
	struct cert *c = NULL;
	char *approvers[] = {"carol"};
	struct grant g = {.id = "r-0123456789abcdef",
	    .task = "bench",
	    .requester = "root",
	    .login_as = "deploy",
	    .approvers = approvers,
	    .napprovers = 0,
	    .max_logins = 1};
	double t0, t;
	long i = 0;

	buf_init(&grant_value);
	if (grant_set_reason(&g, "bench") != EPH_OK || grant_encode(&g, &grant_value) != EPH_OK ||
	    key_generate(KEY_ED25519, 0, &ca) != EPH_OK ||
	    key_generate(KEY_ED25519, 0, &pair) != EPH_OK || key_dup_public(pair, &user) != EPH_OK)
		die("signing setup failed");
	t0 = now_sec();
	do {
		if (cert_new(&c) != EPH_OK)
			die("cert_new");
		c->serial = (uint64_t)i + 1;
		c->valid_after = 1700000000;
		c->valid_before = 1700000300;
		free(c->key_id);
		if ((c->key_id = strdup("eph:r-0123456789abcdef:root:bench")) == NULL ||
		    cert_set_key(c, user) != EPH_OK ||
		    cert_add_principal(c, "eph:bench@web01.example.com") != EPH_OK ||
		    cert_add_extension(c, GRANT_EXTENSION, grant_value.d, grant_value.len) !=
		        EPH_OK ||
		    cert_sign(c, ca, NULL) != EPH_OK)
			die("cert_sign failed");
		cert_free(c);
		c = NULL;
		i++;
	} while ((t = now_sec() - t0) < SIGN_SECONDS);
	key_free(ca);
	key_free(pair);
	key_free(user);
	buf_free(&grant_value);
	return (double)i / t;
}

static void
sq(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die("sqlite: %s: %s", sql, err != NULL ? err : "?");
}

/* Bare durable commits: one small INSERT per transaction, WAL,
 * synchronous=FULL, in the benchmark's directory. */
static double
sqlite_rate(void)
{
	char p[4200];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	double t0, t;
	long i = 0;

	snprintf(p, sizeof(p), "%s/fsync.db", dir);
	if (sqlite3_open(p, &db) != SQLITE_OK)
		die("sqlite3_open %s", p);
	sq(db, "PRAGMA journal_mode=WAL");
	sq(db, "PRAGMA synchronous=FULL");
	sq(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
	if (sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?)", -1, &ins, NULL) != SQLITE_OK)
		die("sqlite prepare");
	t0 = now_sec();
	do {
		sq(db, "BEGIN");
		sqlite3_bind_text(
		    ins, 1, "ssh-ed25519-cert-v01@openssh.com AAAA bench row", -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die("sqlite insert");
		sqlite3_reset(ins);
		sq(db, "COMMIT");
		i++;
	} while ((t = now_sec() - t0) < SQLITE_SECONDS);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return (double)i / t;
}

/* ------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	static const int levels[] = {1, 16, 64};
	const char *sshca, *base = getenv("BENCH_DIR");
	size_t n, total, first = 0, done, li;
	struct passwd *pw;
	char sock[4200], user[256];
	double elapsed;
	pid_t sg;
	long ncpu;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_serve SSHCA [REQUESTS_PER_LEVEL]\n");
		return 2;
	}
	sshca = argv[1];
	n = argc > 2 ? (size_t)atol(argv[2]) : 5000;
	if (n < 64 || n > 1000000) {
		fprintf(stderr, "bench_serve: requests per level: 64 to 1000000\n");
		return 2;
	}
	if ((pw = getpwuid(geteuid())) == NULL || strlen(pw->pw_name) >= sizeof(user))
		die("who am I?");
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	signal(SIGPIPE, SIG_IGN);
	if (snprintf(dir, sizeof(dir), "%s/bench-serve.XXXXXX", base != NULL ? base : ".") >=
	    (int)sizeof(dir))
		die("BENCH_DIR too long");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	/* A relative socket path would depend on the daemon's cwd. */
	{
		char *abs = realpath(dir, NULL);

		if (abs == NULL || strlen(abs) >= sizeof(dir))
			die("realpath %s", dir);
		snprintf(dir, sizeof(dir), "%s", abs);
		free(abs);
	}

	total = n * (sizeof(levels) / sizeof(levels[0]));
	build_requests(total + 64); /* + a warm-up */

	ca_setup(sshca, user, sock, sizeof(sock));
	daemon_start(sshca, sock);
	/* Warm-up: the first request pays for the serial block and page cache. */
	(void)run_level(sock, total, 64, 4, &elapsed);
	sg = signer_pid();
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	printf("requests_per_level %zu\n", n);
	printf("cpus %ld\n", ncpu);
	for (li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
		int c = levels[li];
		struct cpu_use u0, u1;

		cpu_sample(&u0, sg);
		done = run_level(sock, first, n, c, &elapsed);
		cpu_sample(&u1, sg);
		first += n;
		qsort(lat, done, sizeof(*lat), cmp_double);
		printf("c%d_issued %zu\n", c, done);
		printf("c%d_issued_per_sec %.0f\n", c, (double)done / elapsed);
		printf("c%d_p50_ms %.2f\n", c, 1000 * lat[done / 2]);
		printf("c%d_p99_ms %.2f\n", c, 1000 * lat[(done * 99) / 100]);
		if (done < n)
			printf("c%d_deadline_hit 1\n", c);
		if (done > 0 && u0.net >= 0 && u1.net >= 0 && u0.signer >= 0 && u1.signer >= 0 &&
		    u0.gen >= 0 && u1.gen >= 0) {
			double net = 1000 * (u1.net - u0.net) / (double)done;
			double sig = 1000 * (u1.signer - u0.signer) / (double)done;
			double gen = 1000 * (u1.gen - u0.gen) / (double)done;
			double busy =
			    (u1.net - u0.net + u1.signer - u0.signer + u1.gen - u0.gen) / elapsed;

			printf("c%d_daemon_cpu_ms %.3f\n", c, net);
			printf("c%d_signer_cpu_ms %.3f\n", c, sig);
			printf("c%d_loadgen_cpu_ms %.3f\n", c, gen);
			printf("c%d_cpus_busy %.2f\n", c, busy);
			if (net + sig + gen > 0)
				printf("c%d_cpu_bound_per_sec %.0f\n", c,
				    1000.0 * (double)ncpu / (net + sig + gen));
		}
	}
	fflush(stdout);
	cleanup();
	daemon_pid = -1;
	/* The references, with the daemon gone (so they have both cores). */
	if (mkdir(dir, 0700) != 0)
		die("mkdir %s", dir);
	printf("lib_certs_per_sec %.0f\n", sign_rate());
	printf("sqlite_fsync_commits_per_sec %.0f\n", sqlite_rate());
	cleanup();
	return 0;
}

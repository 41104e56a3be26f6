/* Tests for number and duration parsing, careful file I/O and logging. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include "testutil.h"

static void
test_parse_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_u64("0", &v), EPH_OK);
	assert_true(v == 0);
	assert_int_equal(parse_u64("18446744073709551615", &v), EPH_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &v), EPH_ERR_RANGE);
	assert_int_equal(parse_u64("", &v), EPH_ERR_FORMAT);
	assert_int_equal(parse_u64("-1", &v), EPH_ERR_FORMAT);
	assert_int_equal(parse_u64("+1", &v), EPH_ERR_FORMAT);
	assert_int_equal(parse_u64(" 1", &v), EPH_ERR_FORMAT);
	assert_int_equal(parse_u64("1 ", &v), EPH_ERR_FORMAT);
	assert_int_equal(parse_u64("12a", &v), EPH_ERR_FORMAT);
	assert_int_equal(parse_u64("0x10", &v), EPH_ERR_FORMAT);
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t secs;
	} ok[] = {
	    {"90", 90},
	    {"90s", 90},
	    {"5m", 300},
	    {"2h", 7200},
	    {"1d", 86400},
	    {"1w", 604800},
	    {"1h30m", 5400},
	    {"1H5M3S", 3903},
	    {"0", 0},
	};
	static const char *bad[] = {"", "m", "5x", "-5m", "5 m", "5m ", "1.5h",
	    "99999999999999999999", "18446744073709551615w"};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse_duration(ok[i].s, &v), EPH_OK);
		assert_true(v == ok[i].secs);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse_duration(bad[i], &v), EPH_OK);
}

static void
test_format_duration(void **state)
{
	char b[32];

	format_duration(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	format_duration(5400, b, sizeof(b));
	assert_string_equal(b, "1h30m");
	format_duration(90061, b, sizeof(b));
	assert_string_equal(b, "1d1h1m1s");
}

static void
test_strerror(void **state)
{
	int e;

	for (e = EPH_OK; e >= EPH_ERR_UNAUTHENTICATED; e--)
		assert_string_not_equal(eph_strerror(e), "unknown error");
	assert_string_equal(eph_strerror(-999), "unknown error");
}

static void
test_file_write_read(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "f"), *q = tu_path(dir, "link");
	struct buf b;
	struct stat st;

	buf_init(&b);
	assert_int_equal(file_write_atomic(p, "hello", 5, 0640, 0), EPH_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(file_read_all(p, 100, 0, &b), EPH_OK);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.d, "hello", 5);
	buf_reset(&b);

	/* Replace keeps it whole; no-replace refuses. */
	assert_int_equal(file_write_atomic(p, "world!", 6, 0644, 0), EPH_OK);
	assert_int_equal(file_write_atomic(p, "x", 1, 0644, FILE_NO_REPLACE), EPH_ERR_EXISTS);
	assert_int_equal(file_read_all(p, 100, 0, &b), EPH_OK);
	assert_int_equal(b.len, 6);
	buf_reset(&b);

	/* Size cap: exactly max is fine, one more byte is not. */
	assert_int_equal(file_read_all(p, 5, 0, &b), EPH_ERR_TOOLARGE);
	assert_int_equal(b.len, 0);
	assert_int_equal(file_read_all(p, 6, 0, &b), EPH_OK);
	assert_int_equal(b.len, 6);
	buf_reset(&b);

	/* Permission checks. */
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(file_read_all(p, 100, FILE_CHECK_SECRET, &b), EPH_ERR_PERM);
	assert_int_equal(file_read_all(p, 100, FILE_CHECK_TRUSTED, &b), EPH_OK);
	buf_reset(&b);
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(file_read_all(p, 100, FILE_CHECK_TRUSTED, &b), EPH_ERR_PERM);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(file_read_all(p, 100, FILE_CHECK_SECRET, &b), EPH_OK);
	buf_reset(&b);

	/* Symlinks are not followed. */
	assert_int_equal(symlink(p, q), 0);
	assert_int_equal(file_read_all(q, 100, 0, &b), EPH_ERR_IO);
	assert_int_equal(errno, ELOOP);

	/* Directories and missing files are errors. */
	assert_int_equal(file_read_all(dir, 100, 0, &b), EPH_ERR_IO);
	free(q);
	q = tu_path(dir, "missing");
	assert_int_equal(file_read_all(q, 100, 0, &b), EPH_ERR_IO);
	assert_int_equal(errno, ENOENT);
	/* A write into a missing directory fails and leaves nothing. */
	free(q);
	q = tu_path(dir, "nodir/f");
	assert_int_equal(file_write_atomic(q, "x", 1, 0644, 0), EPH_ERR_IO);
	buf_free(&b);
	free(p);
	free(q);
}

/* A FIFO, a socket or a device is refused at once, never waited on. */
static void
test_file_read_special(void **state)
{
	const char *dir = *state;
	char *fifo = tu_path(dir, "fifo"), *sock = tu_path(dir, "sock");
	char *real = tu_path(dir, "real"), *via = tu_path(dir, "via");
	char *f = tu_path(dir, "via/f");
	struct sockaddr_un sa;
	struct buf b;
	int fd;

	buf_init(&b);
	/* Without the fix open() blocks for ever on the FIFO: die instead. */
	alarm(10);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_int_equal(file_read_all(fifo, 100, 0, &b), EPH_ERR_IO);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(file_read_all(fifo, 100, FILE_CHECK_TRUSTED, &b), EPH_ERR_IO);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(file_read_all("/dev/null", 100, 0, &b), EPH_ERR_IO);
	assert_int_equal(errno, EINVAL);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock));
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(file_read_all(sock, 100, 0, &b), EPH_ERR_IO);
	assert_int_equal(errno, EINVAL);
	close(fd);
	alarm(0);
	assert_int_equal(b.len, 0);
	/* A directory on the path may be a symbolic link (documented). */
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink(real, via), 0);
	assert_int_equal(file_write_atomic(f, "ok", 2, 0644, 0), EPH_OK);
	assert_int_equal(file_read_all(f, 100, FILE_CHECK_TRUSTED, &b), EPH_OK);
	assert_int_equal(b.len, 2);
	buf_free(&b);
	free(fifo);
	free(sock);
	free(real);
	free(via);
	free(f);
}

struct captured {
	int priority;
	char line[1024];
	int calls;
};

static void
capture(int priority, const char *line, void *ctx)
{
	struct captured *c = ctx;

	c->priority = priority;
	snprintf(c->line, sizeof(c->line), "%s", line);
	c->calls++;
}

static void
test_log_syslog_line(void **state)
{
	struct captured c;
	struct log_field f[] = {
	    {"EPH_GRANT", "g-123"},
	    {"EPH_REASON", "INC-4711 vacuum \"full\""},
	    {"EPH_HOST", NULL},
	    {"EPH_USER", ""},
	};
	struct log_field badname[] = {{"eph_lower", "x"}};

	memset(&c, 0, sizeof(c));
	eph_log_set_journal(0);
	eph_log_set_syslog(capture, &c);
	assert_int_equal(eph_log(LOG_NOTICE, "0123456789abcdef0123456789abcdef", f, 4,
	                     "grant %s issued", "g-123"),
	    EPH_OK);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.priority, LOG_NOTICE);
	assert_string_equal(c.line,
	    "grant g-123 issued EPH_GRANT=g-123 EPH_REASON=\"INC-4711 vacuum \\\"full\\\"\" "
	    "EPH_USER=\"\"");

	/* Control characters cannot split the line. */
	f[0].value = "a\nb";
	assert_int_equal(eph_log(LOG_INFO, NULL, f, 1, "x"), EPH_OK);
	assert_string_equal(c.line, "x EPH_GRANT=\"a\\x0ab\"");

	assert_int_equal(eph_log(LOG_INFO, NULL, badname, 1, "x"), EPH_ERR_INVAL);
	assert_int_equal(c.calls, 2);
	eph_log_set_syslog(NULL, NULL);
}

/*
 * The journald record, received on a journal socket of our own: as root,
 * in a private mount namespace with a tmpfs over /run, so neither the
 * machine's journal nor its /run is touched.
 */
static void
test_log_journal(void **state)
{
	struct log_field f[] = {{"EPH_SERIAL", "42"}, {"EPH_REASON", "two\nlines"}};
	struct sockaddr_un sa;
	char rec[4096];
	ssize_t n;
	pid_t pid;
	int st, fd;

	if (geteuid() != 0)
		skip();
	if ((pid = fork()) == 0) {
		struct captured c;

		/* Child: any failure to set up is exit 77 (skip), a wrong
		 * record is exit 1. */
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0 ||
		    mkdir("/run/systemd", 0755) != 0 || mkdir("/run/systemd/journal", 0755) != 0)
			_exit(77);
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			_exit(77);
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		strcpy(sa.sun_path, "/run/systemd/journal/socket");
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			_exit(77);
		memset(&c, 0, sizeof(c));
		eph_log_set_journal(-1); /* decide by the socket, as in production */
		eph_log_set_syslog(capture, &c);
		/* The record alone: journald feeds syslog from it. */
		if (eph_log(LOG_WARNING, "a1f3c0de5b7e4d2e9c8b7a6f5e4d3c2b", f, 2,
		        "journal probe") != EPH_OK ||
		    c.calls != 0)
			_exit(1);
		if ((n = recv(fd, rec, sizeof(rec) - 1, MSG_DONTWAIT)) <= 0)
			_exit(1);
		rec[n] = '\0';
		/* Native protocol: FIELD=value lines; a value with a newline is
		 * FIELD\n<le64 length><bytes>\n. */
		/* MESSAGE is the syslog line, facts and all; authpriv. */
		if (strstr(rec,
		        "MESSAGE=journal probe EPH_SERIAL=42 EPH_REASON=\"two\\x0alines\"\n") ==
		        NULL ||
		    strstr(rec, "PRIORITY=4\n") == NULL ||
		    strstr(rec, "SYSLOG_FACILITY=10\n") == NULL ||
		    strstr(rec, "MESSAGE_ID=a1f3c0de5b7e4d2e9c8b7a6f5e4d3c2b\n") == NULL ||
		    strstr(rec, "EPH_SERIAL=42\n") == NULL ||
		    memmem(rec, (size_t)n, "EPH_REASON\n\x09\0\0\0\0\0\0\0two\nlines\n", 23) ==
		        NULL)
			_exit(1);
		/* A record that cannot go (nobody listens any more): the syslog
		 * line instead, nothing lost. */
		close(fd);
		if (unlink("/run/systemd/journal/socket") != 0 ||
		    (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			_exit(77);
		close(fd); /* the socket file stays, with nobody behind it */
		eph_log_set_journal(1);
		if (eph_log(LOG_NOTICE, NULL, f, 1, "fallback") != EPH_OK || c.calls != 1 ||
		    strcmp(c.line, "fallback EPH_SERIAL=42") != 0)
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* JOURNAL_STREAM names standard error's device and inode under systemd;
 * anything else (unset, another file, garbage) is not the journal. */
static void
test_log_stderr_is_journal(void **state)
{
	struct stat st;
	char v[64];

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
	assert_int_equal(eph_log_stderr_is_journal(), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
	assert_int_equal(eph_log_stderr_is_journal(), 1);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
	assert_int_equal(eph_log_stderr_is_journal(), 0);
	assert_int_equal(setenv("JOURNAL_STREAM", "journal", 1), 0);
	assert_int_equal(eph_log_stderr_is_journal(), 0);
	assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_u64),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_format_duration),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test_setup_teardown(test_file_write_read, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_file_read_special, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test(test_log_syslog_line),
	    cmocka_unit_test(test_log_journal),
	    cmocka_unit_test(test_log_stderr_is_journal),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}

/*
 * Tests for the principals spool (host/spool.c): record and lookup for a
 * connection, what a reader refuses (links, other owners, oversize and
 * garbage entries, unsafe directories), and stale entries of processes
 * that are gone or whose pid was reused.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "spool.h"
#include "testutil.h"

struct fx {
	char *dir; /* state_dir */
	char *spool;
	struct spool_conn self;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	assert_int_equal(chmod(f->dir, 0755), 0);
	f->spool = tu_path(f->dir, SPOOL_SUBDIR);
	assert_int_equal(mkdir(f->spool, 0700), 0);
	assert_int_equal(spool_conn_of(getpid(), &f->self), EPH_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f->spool);
	free(f);
	return 0;
}

static char *
entry_path(struct fx *f, const struct spool_conn *c)
{
	return tu_path(f->spool, "%ld-%llu", (long)c->pid, (unsigned long long)c->start);
}

static void
write_entry(struct fx *f, const char *text, size_t n)
{
	char *p = entry_path(f, &f->self);

	assert_int_equal(tu_write_file(p, text, n, 0600), 0);
	free(p);
}

/* A child that has exited and been reaped: a pid that is gone. */
static struct spool_conn
dead_conn(void)
{
	struct spool_conn c;
	int fds[2];
	pid_t pid;
	char ch;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		(void)!write(fds[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], &ch, 1), 1);
	close(fds[0]);
	assert_int_equal(spool_conn_of(pid, &c), EPH_OK);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return c;
}

static void
test_conn_of(void **state)
{
	struct fx *f = *state;
	struct spool_conn c, dead;

	assert_int_equal(f->self.pid, getpid());
	assert_true(f->self.start > 0);
	/* Stable for one process, different for another. */
	assert_int_equal(spool_conn_of(getpid(), &c), EPH_OK);
	assert_int_equal(c.start, f->self.start);
	assert_int_equal(spool_conn_of(1, &c), EPH_OK);
	assert_true(c.start <= f->self.start);
	dead = dead_conn();
	assert_int_equal(spool_conn_of(dead.pid, &c), EPH_ERR_NOTFOUND);
	assert_int_equal(spool_conn_of(0, &c), EPH_ERR_INVAL);
	assert_int_equal(spool_conn_of(-1, &c), EPH_ERR_INVAL);
}

static void
test_record_lookup(void **state)
{
	struct fx *f = *state;
	struct spool_entry v[SPOOL_MAX_ENTRIES];
	struct spool_conn other = f->self;
	char *p, *text;
	struct stat st;
	size_t n;

	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_NOTFOUND);
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1000), EPH_OK);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_OK);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 8), EPH_ERR_NOTFOUND);
	assert_int_equal(spool_lookup(f->dir, &f->self, "root", 7), EPH_ERR_NOTFOUND);
	/* The entry names this process: another start time is another one. */
	other.start++;
	assert_int_equal(spool_lookup(f->dir, &other, "postgres", 7), EPH_ERR_NOTFOUND);

	/* The format, and the mode. */
	p = entry_path(f, &f->self);
	text = tu_read_file(p, NULL);
	assert_non_null(text);
	{
		char want[128];

		snprintf(want, sizeof(want), "ephspool 1 %ld %llu\n1000 7 postgres\n",
		    (long)f->self.pid, (unsigned long long)f->self.start);
		assert_string_equal(text, want);
	}
	free(text);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);

	/* The key query and the signed attempt: the same pair once. */
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1001), EPH_OK);
	assert_int_equal(spool_record(f->dir, &f->self, "admin", 9, 1002), EPH_OK);
	assert_int_equal(spool_read(f->dir, &f->self, v, SPOOL_MAX_ENTRIES, &n), EPH_OK);
	assert_int_equal(n, 1 + 1);
	assert_int_equal(v[0].serial, 7);
	assert_int_equal(v[0].when, 1001);
	assert_string_equal(v[1].user, "admin");

	/* Past the cap the oldest go. */
	for (uint64_t s = 100; s < 100 + SPOOL_MAX_ENTRIES; s++)
		assert_int_equal(spool_record(f->dir, &f->self, "postgres", s, 2000 + s), EPH_OK);
	assert_int_equal(spool_read(f->dir, &f->self, v, SPOOL_MAX_ENTRIES, &n), EPH_OK);
	assert_int_equal(n, SPOOL_MAX_ENTRIES);
	assert_int_equal(v[0].serial, 100);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_NOTFOUND);
	assert_int_equal(
	    spool_lookup(f->dir, &f->self, "postgres", 100 + SPOOL_MAX_ENTRIES - 1), EPH_OK);
	/* A short read buffer gets the oldest. */
	assert_int_equal(spool_read(f->dir, &f->self, v, 2, &n), EPH_OK);
	assert_int_equal(n, 2);

	/* Bad arguments. */
	assert_int_equal(spool_record(f->dir, &f->self, "bad user", 7, 1), EPH_ERR_INVAL);
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 0, 1), EPH_ERR_INVAL);
	assert_int_equal(spool_record("relative", &f->self, "postgres", 7, 1), EPH_ERR_INVAL);
	assert_int_equal(spool_record(f->dir, NULL, "postgres", 7, 1), EPH_ERR_INVAL);

	assert_int_equal(spool_remove(f->dir, &f->self), EPH_OK);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 107), EPH_ERR_NOTFOUND);
	assert_int_equal(spool_remove(f->dir, &f->self), EPH_OK);
}

static void
test_refuses_links(void **state)
{
	struct fx *f = *state;
	char *p = entry_path(f, &f->self), *target = tu_path(f->dir, "target"), *hard;
	char *text, *moved;

	/* A symbolic link as the entry: never followed by a reader. */
	assert_int_equal(tu_write_file(target, "secret\n", 7, 0600), 0);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	/* The writer replaces the link itself, not what it points to. */
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_OK);
	text = tu_read_file(target, NULL);
	assert_string_equal(text, "secret\n");
	free(text);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_OK);

	/* A hard link (two names for one file). */
	hard = tu_path(f->dir, "hard");
	assert_int_equal(link(p, hard), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(unlink(hard), 0);
	free(hard);

	/* A FIFO: refused without blocking. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(unlink(p), 0);

	/* The spool directory as a symbolic link. */
	moved = tu_path(f->dir, "real-spool");
	assert_int_equal(rename(f->spool, moved), 0);
	assert_int_equal(symlink(moved, f->spool), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_ERR_PERM);
	assert_int_equal(unlink(f->spool), 0);
	assert_int_equal(rename(moved, f->spool), 0);
	free(moved);
	free(target);
	free(p);
}

static void
test_refuses_unsafe_dirs(void **state)
{
	struct fx *f = *state;

	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_OK);
	assert_int_equal(chmod(f->spool, 0730), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_ERR_PERM);
	assert_int_equal(chmod(f->spool, 0700), 0);
	assert_int_equal(chmod(f->dir, 0757), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_OK);
	/* A group-writable entry. */
	{
		char *p = entry_path(f, &f->self);

		assert_int_equal(chmod(p, 0620), 0);
		assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
		free(p);
	}
	/* No spool at all. */
	tu_rmrf(f->spool);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_IO);
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_ERR_IO);
	assert_int_equal(mkdir(f->spool, 0700), 0);
}

/* Only the spool's owner writes; root reads whoever owns it, but only
 * files of that owner. */
static void
test_owner(void **state)
{
	struct fx *f = *state;
	char *p = entry_path(f, &f->self);

	if (geteuid() != 0)
		skip();
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_OK);
	assert_int_equal(chown(f->spool, 65534, 65534), 0);
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 8, 1), EPH_ERR_PERM);
	/* The file is root's, the spool nobody's: planted, refused. */
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_OK);
	/* A state_dir of another user. */
	assert_int_equal(chown(f->dir, 65534, 65534), 0);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_PERM);
	assert_int_equal(chown(f->dir, 0, 0), 0);
	free(p);
}

static void
test_garbage(void **state)
{
	struct fx *f = *state;
	char header[128], text[SPOOL_MAX_SIZE + 64], *big;
	int hl;
	size_t i;
	const char *bad_bodies[] = {
	    "",
	    "1 7 postgres",
	    "1 7 postgres\n\n",
	    "1 7\n",
	    "1  7 postgres\n",
	    "x 7 postgres\n",
	    "1 -7 postgres\n",
	    "1 0 postgres\n",
	    "1 7 bad/user\n",
	    "1 7 postgres extra\n",
	    "1 18446744073709551616 postgres\n",
	};

	hl = snprintf(header, sizeof(header), "ephspool 1 %ld %llu\n", (long)f->self.pid,
	    (unsigned long long)f->self.start);
	for (i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", header, bad_bodies[i]);
		write_entry(f, text, strlen(text));
		if (spool_lookup(f->dir, &f->self, "postgres", 7) != EPH_ERR_FORMAT)
			fail_msg("accepted body '%s'", bad_bodies[i]);
	}
	/* Another process's header, another version, a NUL. */
	snprintf(text, sizeof(text), "ephspool 1 %ld %llu\n1 7 postgres\n", (long)f->self.pid,
	    (unsigned long long)f->self.start + 1);
	write_entry(f, text, strlen(text));
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_FORMAT);
	snprintf(text, sizeof(text), "ephspool 2 %ld %llu\n1 7 postgres\n", (long)f->self.pid,
	    (unsigned long long)f->self.start);
	write_entry(f, text, strlen(text));
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_FORMAT);
	snprintf(text, sizeof(text), "%s1 7 postgres\n", header);
	text[hl + 3] = '\0';
	write_entry(f, text, (size_t)hl + 13);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_FORMAT);
	/* Too many lines. */
	memcpy(text, header, (size_t)hl);
	for (i = 0; i <= SPOOL_MAX_ENTRIES; i++)
		memcpy(text + hl + i * 13, "1 7 postgres\n", 13);
	write_entry(f, text, (size_t)hl + (SPOOL_MAX_ENTRIES + 1) * 13);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_TOOLARGE);
	/* Over the size cap. */
	assert_non_null(big = malloc(SPOOL_MAX_SIZE + 1));
	memset(big, 'a', SPOOL_MAX_SIZE + 1);
	write_entry(f, big, SPOOL_MAX_SIZE + 1);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_ERR_TOOLARGE);
	free(big);
	/* The writer starts over on garbage. */
	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_OK);
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_OK);
}

static int
exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void
test_stale(void **state)
{
	struct fx *f = *state;
	struct spool_conn dead = dead_conn(), reused = f->self;
	char *pdead, *preused, *plive, *tmp_dead, *tmp_live, *junk;
	size_t removed = 0;

	assert_int_equal(spool_record(f->dir, &f->self, "postgres", 7, 1), EPH_OK);
	assert_int_equal(spool_record(f->dir, &dead, "postgres", 8, 1), EPH_OK);
	/* This pid, an earlier start: a process that is gone. */
	reused.start = f->self.start - 1;
	assert_int_equal(spool_record(f->dir, &reused, "postgres", 9, 1), EPH_OK);
	/* An entry of a gone process is not this process's entry. */
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 9), EPH_ERR_NOTFOUND);
	plive = entry_path(f, &f->self);
	pdead = entry_path(f, &dead);
	preused = entry_path(f, &reused);
	tmp_dead = tu_path(f->spool, ".%ld-%llu.%ld", (long)dead.pid,
	    (unsigned long long)dead.start, (long)dead.pid);
	tmp_live = tu_path(f->spool, ".%ld-%llu.%ld", (long)f->self.pid,
	    (unsigned long long)f->self.start, (long)getpid());
	junk = tu_path(f->spool, "README");
	assert_int_equal(tu_write_file(tmp_dead, "x", 1, 0600), 0);
	assert_int_equal(tu_write_file(tmp_live, "x", 1, 0600), 0);
	assert_int_equal(tu_write_file(junk, "x", 1, 0600), 0);

	assert_int_equal(spool_clean(f->dir, &removed), EPH_OK);
	assert_int_equal(removed, 3);
	assert_true(exists(plive));
	assert_false(exists(pdead));
	assert_false(exists(preused));
	assert_false(exists(tmp_dead));
	assert_true(exists(tmp_live));
	/* Names that are no entry are left alone. */
	assert_true(exists(junk));
	assert_int_equal(spool_lookup(f->dir, &f->self, "postgres", 7), EPH_OK);
	assert_int_equal(spool_clean(f->dir, NULL), EPH_OK);
	free(plive);
	free(pdead);
	free(preused);
	free(tmp_dead);
	free(tmp_live);
	free(junk);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_conn_of, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_unsafe_dirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}

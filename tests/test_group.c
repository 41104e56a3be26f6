/* Group commit (ca/group.c): who commits, who waits, what each hears.
 * Threads are stepped through a script, never timed: a step waits for a
 * condition (a thread queued for the lock, a member waiting), not for
 * a clock. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "group.h"

struct fake_store {
	pthread_mutex_t mu;
	struct group g;
	int begins, commits;
	int commit_result; /* what the next commit returns */
	int in_group; /* changes made since begin */
	int committed; /* changes made durable */
	int begin_result;
};

static int
fake_begin(void *ctx)
{
	struct fake_store *s = ctx;

	if (s->begin_result != EPH_OK)
		return s->begin_result;
	s->begins++;
	return EPH_OK;
}

static int
fake_commit(void *ctx)
{
	struct fake_store *s = ctx;

	s->commits++;
	if (s->commit_result == EPH_OK)
		s->committed += s->in_group;
	s->in_group = 0;
	return s->commit_result;
}

static void
fake_init(struct fake_store *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(pthread_mutex_init(&s->mu, NULL), 0);
	assert_int_equal(group_init(&s->g, &s->mu, max, fake_begin, fake_commit, s), EPH_OK);
}

static void
fake_destroy(struct fake_store *s)
{
	group_destroy(&s->g);
	pthread_mutex_destroy(&s->mu);
}

/* Wait (yielding) until n callers are queued for the lock. */
static void
until_queued(struct fake_store *s, unsigned n)
{
	while (atomic_load(&s->g.queued) != n)
		sched_yield();
}

/* One caller that changes the store: lock, join, change, unlock. */
struct writer {
	struct fake_store *s;
	int join;
	int result;
	pthread_t t;
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;

	int j = EPH_OK;

	/* No cmocka asserts off the main thread: results are checked there. */
	group_lock(&w->s->g);
	if (w->join && (j = group_join(&w->s->g)) == EPH_OK)
		w->s->in_group++;
	w->result = group_unlock(&w->s->g);
	if (j != EPH_OK)
		w->result = j;
	return NULL;
}

static void
writer_start(struct writer *w, struct fake_store *s, int join)
{
	w->s = s;
	w->join = join;
	w->result = -999;
	assert_int_equal(pthread_create(&w->t, NULL, writer_run, w), 0);
}

/* Alone, a change commits at once, by its own caller. */
static void
test_alone(void **state)
{
	struct fake_store s;

	(void)state;
	fake_init(&s, 0);
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	assert_int_equal(group_join(&s.g), EPH_OK); /* joining twice opens once */
	s.in_group++;
	assert_int_equal(group_unlock(&s.g), EPH_OK);
	assert_int_equal(s.begins, 1);
	assert_int_equal(s.commits, 1);
	assert_int_equal(s.committed, 1);
	/* Nothing joined: nothing to commit. */
	group_lock(&s.g);
	assert_int_equal(group_unlock(&s.g), EPH_OK);
	assert_int_equal(s.commits, 1);
	fake_destroy(&s);
}

/*
 * A caller that leaves while another is queued waits for it; the last
 * one commits both with one commit, and both hear it went well only once
 * it did.
 */
static void
test_two_share_one_commit(void **state)
{
	struct fake_store s;
	struct writer b;
	int r;

	(void)state;
	fake_init(&s, 0);
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	s.in_group++;
	writer_start(&b, &s, 1);
	until_queued(&s, 1);
	/* b is queued: this caller waits for b's commit. */
	r = group_unlock(&s.g);
	assert_int_equal(r, EPH_OK);
	assert_int_equal(pthread_join(b.t, NULL), 0);
	assert_int_equal(b.result, EPH_OK);
	assert_int_equal(s.begins, 1);
	assert_int_equal(s.commits, 1);
	assert_int_equal(s.committed, 2);
	assert_int_equal(s.g.served, 2);
	fake_destroy(&s);
}

/* A failed commit is every member's failure. */
static void
test_failure_reaches_every_member(void **state)
{
	struct fake_store s;
	struct writer b;
	int r;

	(void)state;
	fake_init(&s, 0);
	s.commit_result = EPH_ERR_STORE_FULL;
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	s.in_group++;
	writer_start(&b, &s, 1);
	until_queued(&s, 1);
	r = group_unlock(&s.g);
	assert_int_equal(pthread_join(b.t, NULL), 0);
	assert_int_equal(r, EPH_ERR_STORE_FULL);
	assert_int_equal(b.result, EPH_ERR_STORE_FULL);
	assert_int_equal(s.commits, 1);
	assert_int_equal(s.committed, 0);
	/* The next group starts afresh. */
	s.commit_result = EPH_OK;
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	s.in_group++;
	assert_int_equal(group_unlock(&s.g), EPH_OK);
	assert_int_equal(s.begins, 2);
	assert_int_equal(s.committed, 1);
	fake_destroy(&s);
}

/* A reader that saw an open group waits for it too: what it read is not
 * durable before that commit. */
static void
test_reader_waits(void **state)
{
	struct fake_store s;
	struct writer rd;
	int r;

	(void)state;
	fake_init(&s, 0);
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	s.in_group++;
	writer_start(&rd, &s, 0);
	until_queued(&s, 1);
	r = group_unlock(&s.g);
	assert_int_equal(pthread_join(rd.t, NULL), 0);
	assert_int_equal(r, EPH_OK);
	assert_int_equal(rd.result, EPH_OK);
	assert_int_equal(s.commits, 1);
	assert_int_equal(s.g.served, 2);
	fake_destroy(&s);
}

/* A full group commits although callers are still queued. */
static void
test_full_group_commits(void **state)
{
	struct fake_store s;
	struct writer b, c;

	(void)state;
	fake_init(&s, 2);
	/* Hold the lock while b and c queue up behind it. */
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	s.in_group++;
	writer_start(&b, &s, 1);
	writer_start(&c, &s, 1);
	until_queued(&s, 2);
	/* This caller is member 1 of 2 and waits; the next to leave fills
	 * the group and commits it although the third is still queued. */
	assert_int_equal(group_unlock(&s.g), EPH_OK);
	assert_int_equal(pthread_join(b.t, NULL), 0);
	assert_int_equal(pthread_join(c.t, NULL), 0);
	assert_int_equal(b.result, EPH_OK);
	assert_int_equal(c.result, EPH_OK);
	/* Three members, groups of at most two: two commits. */
	assert_int_equal(s.commits, 2);
	assert_int_equal(s.committed, 3);
	fake_destroy(&s);
}

/* A caller that must not write into the group commits it first; the
 * waiting members hear that commit's result. */
static void
test_flush(void **state)
{
	struct fake_store s;
	struct writer a;

	(void)state;
	fake_init(&s, 0);
	/* a joins and waits, held back by this caller queued behind it. */
	group_lock(&s.g);
	writer_start(&a, &s, 1);
	until_queued(&s, 1);
	pthread_mutex_unlock(&s.mu); /* let a in; a sees nobody queued... */
	assert_int_equal(pthread_join(a.t, NULL), 0);
	assert_int_equal(a.result, EPH_OK); /* ...and committed alone */
	assert_int_equal(s.commits, 1);

	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_OK);
	s.in_group++;
	writer_start(&a, &s, 0);
	until_queued(&s, 1);
	assert_int_equal(group_flush(&s.g), EPH_OK);
	assert_int_equal(s.commits, 2);
	assert_int_equal(s.committed, 2);
	/* Nothing open now: leaving waits for nobody. */
	assert_int_equal(group_unlock(&s.g), EPH_OK);
	assert_int_equal(pthread_join(a.t, NULL), 0);
	assert_int_equal(a.result, EPH_OK);
	assert_int_equal(s.commits, 2);
	fake_destroy(&s);
}

/* When the group cannot open, the change goes on alone and nobody waits. */
static void
test_begin_fails(void **state)
{
	struct fake_store s;

	(void)state;
	fake_init(&s, 0);
	s.begin_result = EPH_ERR_STORE_FULL;
	group_lock(&s.g);
	assert_int_equal(group_join(&s.g), EPH_ERR_STORE_FULL);
	assert_int_equal(group_unlock(&s.g), EPH_OK);
	assert_int_equal(s.commits, 0);
	fake_destroy(&s);
}

/* Many writers at once: each hears success only for a durable change,
 * every change is made durable, in fewer commits than changes whenever
 * they overlapped (not asserted: that depends on the scheduler). */
static void
test_many(void **state)
{
	enum { N = 32 };
	struct fake_store s;
	struct writer w[N];
	size_t i;

	(void)state;
	fake_init(&s, 8);
	for (i = 0; i < N; i++)
		writer_start(&w[i], &s, 1);
	for (i = 0; i < N; i++) {
		assert_int_equal(pthread_join(w[i].t, NULL), 0);
		assert_int_equal(w[i].result, EPH_OK);
	}
	assert_int_equal(s.committed, N);
	assert_int_equal(s.g.served, N);
	assert_true(s.commits >= 1 && s.commits <= N);
	fake_destroy(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alone),
	    cmocka_unit_test(test_two_share_one_commit),
	    cmocka_unit_test(test_failure_reaches_every_member),
	    cmocka_unit_test(test_reader_waits),
	    cmocka_unit_test(test_full_group_commits),
	    cmocka_unit_test(test_flush),
	    cmocka_unit_test(test_begin_fails),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

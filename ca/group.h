/*
 * Group commit: one durable commit (one fsync) serves every caller that
 * changed or read the store while a group was open.
 *
 * Callers take the lock through group_lock, which counts them as queued
 * while they wait for it. A caller that is about to change the store
 * calls group_join (which opens the group, through begin, when none is
 * open). group_unlock leaves the lock: when a group is open the caller
 * becomes one of its members (it changed or read what is not durable
 * yet) and either commits the group itself, when nobody is queued for
 * the lock or the group is full, or waits until the member that does has
 * committed it. Nobody waits for a commit that nobody will make: every
 * queued caller reaches group_unlock, and the last one commits. An idle
 * store commits at once, a busy one in groups as large as its queue.
 *
 * group_unlock returns the commit's result: EPH_OK when everything the
 * caller did and saw is durable; otherwise nothing of it may be answered.
 */
#ifndef SSHCA_GROUP_H
#define SSHCA_GROUP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct group_member;

struct group {
	pthread_mutex_t *mu; /* the lock around the store, the caller's */
	pthread_cond_t cv;
	atomic_uint queued; /* callers waiting in group_lock */
	size_t max; /* members that make a group full */
	int (*begin)(void *ctx);
	int (*commit)(void *ctx);
	void *ctx;
	/* Under mu. */
	int open;
	size_t n;
	struct group_member *members;
	uint64_t commits; /* groups committed (or failed) */
	uint64_t served; /* members they served */
};

/* mu must outlive g. max 0: 64. EPH_OK or EPH_ERR_NOMEM. */
int group_init(struct group *g, pthread_mutex_t *mu, size_t max, int (*begin)(void *ctx),
    int (*commit)(void *ctx), void *ctx);
void group_destroy(struct group *g);

void group_lock(struct group *g);

/* Under the lock: open a group unless one is open. The begin callback's
 * error when it cannot (the caller's changes then commit one by one,
 * or fail on their own). */
int group_join(struct group *g);

/* Under the lock: commit the open group now (nothing open: EPH_OK), for
 * a caller that must not write into it. Its members hear the result. */
int group_flush(struct group *g);

/* Leave the lock (see above); the result of the commit that made the
 * caller's work durable, EPH_OK when there was nothing to commit. */
int group_unlock(struct group *g);

#endif

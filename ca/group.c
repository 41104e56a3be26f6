/* Group commit over a caller's lock (group.h). */
#include "config.h"

#include <string.h>

#include "err.h"
#include "group.h"

#define GROUP_DEFAULT_MAX 64

/* One caller waiting for its group's commit, on its own stack. */
struct group_member {
	struct group_member *next;
	int done;
	int result;
};

int
group_init(struct group *g, pthread_mutex_t *mu, size_t max, int (*begin)(void *ctx),
    int (*commit)(void *ctx), void *ctx)
{
	memset(g, 0, sizeof(*g));
	if (pthread_cond_init(&g->cv, NULL) != 0)
		return EPH_ERR_NOMEM;
	atomic_init(&g->queued, 0);
	g->mu = mu;
	g->max = max > 0 ? max : GROUP_DEFAULT_MAX;
	g->begin = begin;
	g->commit = commit;
	g->ctx = ctx;
	return EPH_OK;
}

void
group_destroy(struct group *g)
{
	pthread_cond_destroy(&g->cv);
}

void
group_lock(struct group *g)
{
	atomic_fetch_add(&g->queued, 1);
	pthread_mutex_lock(g->mu);
	atomic_fetch_sub(&g->queued, 1);
}

int
group_join(struct group *g)
{
	int e;

	if (g->open)
		return EPH_OK;
	if ((e = g->begin(g->ctx)) != EPH_OK)
		return e;
	g->open = 1;
	return EPH_OK;
}

int
group_flush(struct group *g)
{
	struct group_member *m, *next;
	int e;

	if (!g->open)
		return EPH_OK;
	e = g->commit(g->ctx);
	for (m = g->members; m != NULL; m = next) {
		next = m->next;
		m->result = e;
		m->done = 1;
	}
	g->served += g->n;
	g->commits++;
	g->members = NULL;
	g->n = 0;
	g->open = 0;
	pthread_cond_broadcast(&g->cv);
	return e;
}

int
group_unlock(struct group *g)
{
	struct group_member me = {NULL, 0, EPH_OK};

	if (g->open) {
		me.next = g->members;
		g->members = &me;
		g->n++;
		if (atomic_load(&g->queued) == 0 || g->n >= g->max)
			group_flush(g);
		while (!me.done)
			pthread_cond_wait(&g->cv, g->mu);
	}
	pthread_mutex_unlock(g->mu);
	return me.result;
}

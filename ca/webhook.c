/* Webhook delivery: a bounded queue drained by one libcurl thread, with
 * retries and backoff (see webhook.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <curl/curl.h>

#include "err.h"
#include "log.h"
#include "webhook.h"

#define WEBHOOK_MSGID_FAILED "9213d4e86ae74cb1ce6a19710fd4d6ec"

struct delivery {
	struct delivery *next;
	size_t hook;
	char *body;
	unsigned attempts;
	uint64_t due_ms; /* CLOCK_MONOTONIC */
};

struct webhook {
	struct ca_webhook *hooks;
	size_t nhooks;
	unsigned queue_max, max_attempts, backoff_ms, timeout_ms;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	struct delivery *queue; /* unordered; the loop picks the earliest due */
	size_t queued;
	int stopping;
	uint64_t deadline_ms; /* while stopping: give up what is not done by then */
	struct webhook_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t
discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* One POST; 1 when answered 2xx. */
static int
deliver(const struct webhook *wh, const struct delivery *d)
{
	struct curl_slist *hdr = NULL;
	CURL *h;
	long code = 0;
	int ok = 0;

	if ((h = curl_easy_init()) == NULL)
		return 0;
	/* No "Expect: 100-continue": most hooks never answer it, and curl
	 * would wait a second on every large body. */
	if ((hdr = curl_slist_append(NULL, "Content-Type: application/json")) == NULL ||
	    curl_slist_append(hdr, "Expect:") == NULL)
		goto out;
	if (curl_easy_setopt(h, CURLOPT_URL, wh->hooks[d->hook].url) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS) != CURLE_OK ||
#endif
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)wh->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, d->body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body)) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "sshca/" PACKAGE_VERSION) != CURLE_OK)
		goto out;
	if (curl_easy_perform(h) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		goto out;
	ok = code >= 200 && code < 300;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return ok;
}

static void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	free(d->body);
	free(d);
}

/* Unlink and return the delivery due first (NULL: queue empty). */
static struct delivery *
queue_take_first(struct webhook *wh)
{
	struct delivery **pp, **best = NULL, *d;

	for (pp = &wh->queue; *pp != NULL; pp = &(*pp)->next)
		if (best == NULL || (*pp)->due_ms < (*best)->due_ms)
			best = pp;
	if (best == NULL)
		return NULL;
	d = *best;
	*best = d->next;
	d->next = NULL;
	wh->queued--;
	return d;
}

static void
queue_push(struct webhook *wh, struct delivery *d)
{
	d->next = wh->queue;
	wh->queue = d;
	wh->queued++;
}

static uint64_t
backoff(const struct webhook *wh, unsigned attempts)
{
	uint64_t ms = wh->backoff_ms;
	unsigned i;

	for (i = 1; i < attempts && ms < WEBHOOK_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < WEBHOOK_BACKOFF_MAX_MS ? ms : WEBHOOK_BACKOFF_MAX_MS;
}

static void
cond_wait_until(struct webhook *wh, uint64_t until_ms)
{
	struct timespec ts;
	uint64_t now = mono_ms(), wait = until_ms > now ? until_ms - now : 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(wait / 1000u);
	ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&wh->cv, &wh->mu, &ts);
}

static void
log_failed(const struct webhook *wh, const struct delivery *d)
{
	const struct log_field f[] = {{"EPH_URL", wh->hooks[d->hook].url}};

	eph_log(LOG_WARNING, WEBHOOK_MSGID_FAILED, f, 1, "webhook %s: given up after %u attempts",
	    wh->hooks[d->hook].url, d->attempts);
}

static void *
webhook_loop(void *arg)
{
	struct webhook *wh = arg;
	struct delivery *d;
	size_t left;
	int ok;

	pthread_mutex_lock(&wh->mu);
	for (;;) {
		uint64_t now = mono_ms();

		if (wh->stopping && (wh->queue == NULL || now >= wh->deadline_ms))
			break;
		if ((d = queue_take_first(wh)) == NULL) {
			if (wh->stopping)
				break;
			pthread_cond_wait(&wh->cv, &wh->mu);
			continue;
		}
		if (d->due_ms > now) {
			uint64_t until = d->due_ms;

			queue_push(wh, d);
			if (wh->stopping && wh->deadline_ms < until)
				until = wh->deadline_ms;
			cond_wait_until(wh, until);
			continue;
		}
		wh->stats.attempts++;
		pthread_mutex_unlock(&wh->mu);
		ok = deliver(wh, d);
		pthread_mutex_lock(&wh->mu);
		d->attempts++;
		if (ok) {
			wh->stats.delivered++;
			delivery_free(d);
		} else if (d->attempts >= wh->max_attempts) {
			wh->stats.failed++;
			log_failed(wh, d);
			delivery_free(d);
		} else {
			d->due_ms = mono_ms() + backoff(wh, d->attempts);
			queue_push(wh, d);
		}
	}
	left = wh->queued;
	while ((d = queue_take_first(wh)) != NULL)
		delivery_free(d);
	pthread_mutex_unlock(&wh->mu);
	if (left > 0)
		eph_log(LOG_WARNING, WEBHOOK_MSGID_FAILED, NULL, 0,
		    "webhooks: %zu deliveries dropped at shutdown", left);
	return NULL;
}

static void
hooks_free(struct ca_webhook *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].url);
	free(v);
}

int
webhook_start(
    const struct ca_webhook *hooks, size_t n, const struct webhook_opts *opts, struct webhook **out)
{
	struct webhook *wh = NULL;
	pthread_condattr_t ca;
	size_t i;
	int r = EPH_ERR_NOMEM, cv = 0, mu = 0;

	*out = NULL;
	if (n > 0 && hooks == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (hooks[i].url == NULL || hooks[i].events == 0)
			return EPH_ERR_INVAL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return EPH_ERR_IO;
	if ((wh = calloc(1, sizeof(*wh))) == NULL)
		return EPH_ERR_NOMEM;
	if (n > 0 && (wh->hooks = calloc(n, sizeof(*wh->hooks))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		wh->hooks[i] = hooks[i];
		if ((wh->hooks[i].url = strdup(hooks[i].url)) == NULL) {
			wh->nhooks = i;
			goto out;
		}
	}
	wh->nhooks = n;
	wh->queue_max = opts != NULL && opts->queue_max ? opts->queue_max : WEBHOOK_QUEUE_MAX;
	wh->max_attempts =
	    opts != NULL && opts->max_attempts ? opts->max_attempts : WEBHOOK_MAX_ATTEMPTS;
	wh->backoff_ms = opts != NULL && opts->backoff_ms ? opts->backoff_ms : WEBHOOK_BACKOFF_MS;
	wh->timeout_ms = opts != NULL && opts->timeout_ms ? opts->timeout_ms : WEBHOOK_TIMEOUT_MS;
	r = EPH_ERR_IO;
	if (pthread_mutex_init(&wh->mu, NULL) != 0)
		goto out;
	mu = 1;
	if (pthread_condattr_init(&ca) != 0)
		goto out;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	cv = pthread_cond_init(&wh->cv, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!cv)
		goto out;
	if (pthread_create(&wh->thread, NULL, webhook_loop, wh) != 0)
		goto out;
	*out = wh;
	wh = NULL;
	r = EPH_OK;
out:
	if (wh != NULL) {
		if (cv)
			pthread_cond_destroy(&wh->cv);
		if (mu)
			pthread_mutex_destroy(&wh->mu);
		hooks_free(wh->hooks, wh->nhooks);
		free(wh);
	}
	return r;
}

int
webhook_post(struct webhook *wh, enum ca_event event, const char *body)
{
	struct delivery *d;
	size_t i;
	int r = EPH_OK;

	if (wh == NULL || body == NULL)
		return EPH_ERR_INVAL;
	if (strlen(body) > WEBHOOK_MAX_BODY)
		return EPH_ERR_TOOLARGE;
	pthread_mutex_lock(&wh->mu);
	for (i = 0; i < wh->nhooks; i++) {
		if ((wh->hooks[i].events & (unsigned)event) == 0)
			continue;
		if (wh->stopping || wh->queued >= wh->queue_max) {
			wh->stats.dropped++;
			r = EPH_ERR_LIMIT;
			continue;
		}
		if ((d = calloc(1, sizeof(*d))) == NULL || (d->body = strdup(body)) == NULL) {
			free(d);
			wh->stats.dropped++;
			r = EPH_ERR_NOMEM;
			continue;
		}
		d->hook = i;
		d->due_ms = mono_ms();
		queue_push(wh, d);
		wh->stats.queued++;
	}
	pthread_cond_signal(&wh->cv);
	pthread_mutex_unlock(&wh->mu);
	return r;
}

void
webhook_get_stats(struct webhook *wh, struct webhook_stats *st)
{
	pthread_mutex_lock(&wh->mu);
	*st = wh->stats;
	pthread_mutex_unlock(&wh->mu);
}

void
webhook_stop(struct webhook *wh, unsigned drain_ms)
{
	if (wh == NULL)
		return;
	pthread_mutex_lock(&wh->mu);
	wh->stopping = 1;
	wh->deadline_ms = mono_ms() + drain_ms;
	pthread_cond_signal(&wh->cv);
	pthread_mutex_unlock(&wh->mu);
	pthread_join(wh->thread, NULL);
	pthread_cond_destroy(&wh->cv);
	pthread_mutex_destroy(&wh->mu);
	hooks_free(wh->hooks, wh->nhooks);
	free(wh);
}

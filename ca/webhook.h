/*
 * Webhooks: the CA's events (ca.conf webhooks) posted as JSON by one
 * background thread with libcurl. Posting only queues (bounded; a full
 * queue drops the event and counts it), so a slow or dead endpoint never
 * blocks or fails an issuance; a failed delivery (no answer, or not 2xx)
 * is retried with exponential backoff, then given up and logged.
 */
#ifndef SSHCA_WEBHOOK_H
#define SSHCA_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "caconf.h"

#define WEBHOOK_QUEUE_MAX 1024u /* deliveries waiting, over every URL */
#define WEBHOOK_MAX_ATTEMPTS 6u
#define WEBHOOK_BACKOFF_MS 1000u /* first retry; doubles each time */
#define WEBHOOK_BACKOFF_MAX_MS 300000u
#define WEBHOOK_TIMEOUT_MS 5000u /* one attempt, connect included */
#define WEBHOOK_MAX_BODY (256u * 1024u)

struct webhook_opts {
	unsigned queue_max; /* 0: WEBHOOK_QUEUE_MAX */
	unsigned max_attempts; /* 0: WEBHOOK_MAX_ATTEMPTS */
	unsigned backoff_ms; /* 0: WEBHOOK_BACKOFF_MS */
	unsigned timeout_ms; /* 0: WEBHOOK_TIMEOUT_MS */
};

/* Counters since start (tests, metrics). */
struct webhook_stats {
	uint64_t queued; /* deliveries accepted (one per URL per event) */
	uint64_t delivered; /* answered 2xx */
	uint64_t failed; /* given up after max_attempts */
	uint64_t dropped; /* refused: queue full */
	uint64_t attempts; /* POSTs tried */
};

struct webhook;

/* Copy the hooks and start the thread (curl_global_init is called once
 * here: start webhooks before other threads use libcurl). opts may be
 * NULL. EPH_ERR_INVAL for a hook without URL or events. */
int webhook_start(const struct ca_webhook *hooks, size_t n, const struct webhook_opts *opts,
    struct webhook **out);

/*
 * Queue body (a JSON text, copied) for every hook that asked for event.
 * EPH_OK (also when no hook wants it), EPH_ERR_LIMIT when the queue is
 * full (the event is dropped for the hooks that did not fit),
 * EPH_ERR_TOOLARGE over WEBHOOK_MAX_BODY. Never blocks on the network.
 */
int webhook_post(struct webhook *wh, enum ca_event event, const char *body);

void webhook_get_stats(struct webhook *wh, struct webhook_stats *st);

/* Stop: deliveries due within drain_ms are still tried (0: none), the
 * rest are dropped (logged with their count); then the thread is joined
 * and wh freed. NULL is fine. */
void webhook_stop(struct webhook *wh, unsigned drain_ms);

#endif

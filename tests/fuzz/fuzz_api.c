/* Fuzz target: the HTTP API's parsers (ca/api.c). The input's first line
 * is a request target ("PATH[?QUERY]"), the rest a JSON body; both go
 * through every parser the front applies to them. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
fuzz_target(char *line)
{
	struct ca_list_query lq;
	struct api_path p;
	struct api_query q;
	char detail[API_DETAIL_MAX], tok[API_MAX_TOKEN + 1], *qs;
	uint64_t since;

	(void)api_bearer_parse(line, tok, sizeof(tok));
	if ((qs = strchr(line, '?')) != NULL)
		*qs++ = '\0';
	if (api_path_parse(line, &p, detail, sizeof(detail)) == EPH_OK) {
		if (p.route <= API_ROUTE_NONE || p.route >= API_ROUTE_COUNT)
			abort();
		if (p.route >= API_ROUTE_REQUEST && p.route <= API_ROUTE_REVIEW &&
		    !api_id_valid(p.id))
			abort();
	}
	api_query_split(qs, &q);
	if (api_list_query_parse(&q, &lq, detail, sizeof(detail)) == EPH_OK &&
	    strlen(lq.task) > API_MAX_NAME)
		abort();
	(void)api_audit_query_parse(&q, &since, detail, sizeof(detail));
	(void)api_no_query(&q, detail, sizeof(detail));
}

static void
fuzz_body(const uint8_t *d, size_t n)
{
	struct ca_request_input in;
	struct ca_login_input li;
	char detail[API_DETAIL_MAX];
	const char *text;
	struct key *k = NULL;
	json_t *j = NULL;

	if (api_body_load(d, n, 1, &j, detail, sizeof(detail)) != EPH_OK)
		return;
	if (api_request_parse(j, &in, detail, sizeof(detail)) == EPH_OK) {
		/* What the front passes on holds its promises. */
		if (in.task == NULL || in.nhosts == 0 || in.nhosts > 64 || in.key == NULL ||
		    in.public_key == NULL)
			abort();
		/* OpenSSL's RSA public check runs Miller-Rabin with random
		 * bases, so a fuzzed modulus with small factors may pass once
		 * and fail the next time: only other types must parse back. */
		if (key_parse_public_line(in.public_key, &k, NULL) != EPH_OK) {
			if (in.key->type != KEY_RSA)
				abort();
		} else if (!key_equal_public(k, in.key)) {
			abort();
		}
		key_free(k);
		api_request_free(&in);
	}
	(void)api_action_parse(j, "comment", 0, &text, detail, sizeof(detail));
	(void)api_action_parse(j, "reason", 1, &text, detail, sizeof(detail));
	(void)api_action_parse(j, NULL, 0, &text, detail, sizeof(detail));
	if (api_login_parse(j, &li, detail, sizeof(detail)) == EPH_OK) {
		/* One form or the other, never a mix. */
		if (li.conversation[0] != '\0' ? li.user != NULL || li.password != NULL ||
		            !api_conv_id_valid(li.conversation) || li.nanswers > API_MAX_ANSWERS
		                               : li.user == NULL || li.answers != NULL)
			abort();
		api_login_free(&li);
	}
	api_login_body_wipe(j);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n);
	size_t llen = nl != NULL ? (size_t)(nl - d) : n;
	char *line;

	if ((line = malloc(llen + 1)) == NULL)
		return 0;
	memcpy(line, d, llen);
	line[llen] = '\0';
	fuzz_target(line);
	free(line);
	if (nl != NULL)
		fuzz_body(nl + 1, n - llen - 1);
	return 0;
}

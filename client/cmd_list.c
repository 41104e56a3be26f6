/*
 * ephssh list: the requests the CA lets the caller see, as a table sized
 * to the terminal (or {"requests": [...]} with --json). With no filter it
 * shows what needs the caller: the pending requests they can see (for an
 * approver, those they may approve; their own pending ones too) and their
 * own active grants.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ephssh.h"
#include "out.h"

#define LIST_COLS 7
/* Task and hosts give way first when the terminal is narrow. */
#define LIST_SHRINK ((1u << 1) | (1u << 3))

enum list_mode { LIST_NEEDS_YOU = 0, LIST_PENDING, LIST_MINE, LIST_ACTIVE, LIST_ALL, LIST_REVIEWS };

/* One GET /v1/requests?QUERY; its requests appended to all. */
static int
fetch(struct ephssh *e, const char *query, json_t *all, int *truncated)
{
	struct capi_result res;
	char path[96];
	json_t *a;
	int rc;

	snprintf(path, sizeof(path), "/v1/requests%s%s", query[0] ? "?" : "", query);
	if ((rc = ephssh_call(e, "GET", path, NULL, NULL, &res)) != EPHSSH_EXIT_OK)
		goto out;
	a = json_object_get(res.body, "requests");
	if (!json_is_array(a)) {
		rc =
		    ephssh_error(e, EPHSSH_EXIT_FAIL, "the CA answered without a list of requests");
		goto out;
	}
	if (json_array_extend(all, a) != 0) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (json_is_true(json_object_get(res.body, "truncated")))
		*truncated = 1;
out:
	capi_result_clear(&res);
	return rc;
}

/* "db01,db02" of the hosts (malloc'd). */
static char *
hosts_text(const json_t *hosts)
{
	size_t i, n = 1;
	char *s;

	for (i = 0; i < json_array_size(hosts); i++) {
		const char *h = json_string_value(json_array_get(hosts, i));

		if (h != NULL)
			n += strlen(h) + 1;
	}
	if ((s = calloc(1, n)) == NULL)
		return NULL;
	for (i = 0; i < json_array_size(hosts); i++) {
		const char *h = json_string_value(json_array_get(hosts, i));

		if (h == NULL)
			continue;
		if (s[0] != '\0')
			strcat(s, ",");
		strcat(s, h);
	}
	return s;
}

/* Time left until the request's deadline: its expiry while pending, the
 * certificate's end once issued; "-" for the rest. */
static void
deadline_text(const json_t *o, time_t now, char *buf, size_t len)
{
	const char *state = ephssh_jstr(o, "state"), *when = NULL;
	int64_t t;

	if (state != NULL && strcmp(state, "pending") == 0)
		when = ephssh_jstr(o, "expires");
	else if (state != NULL && strcmp(state, "issued") == 0)
		when = ephssh_jstr(o, "valid_before");
	if (when == NULL || out_parse_time(when, &t) != 0) {
		snprintf(buf, len, "-");
		return;
	}
	out_left(t - (int64_t)now, buf, len);
}

struct list_row {
	char *hosts;
	char approvals[48];
	char left[32];
};

static int
print_table(struct ephssh *e, const json_t *all)
{
	static const char *const headers[LIST_COLS] = {
	    "ID", "TASK", "REQUESTER", "HOSTS", "STATE", "APPROVALS", "EXPIRES"};
	size_t n = json_array_size(all), i;
	struct list_row *rows = calloc(n > 0 ? n : 1, sizeof(*rows));
	const char **cells = calloc((n > 0 ? n : 1) * LIST_COLS, sizeof(*cells));
	time_t now = time(NULL);
	const json_t *o;
	int rc = EPHSSH_EXIT_FAIL;

	if (rows == NULL || cells == NULL) {
		ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
		goto out;
	}
	json_array_foreach(all, i, o)
	{
		const json_t *ap = json_object_get(o, "approvals");
		json_int_t req = json_integer_value(json_object_get(ap, "required"));
		const char **c = &cells[i * LIST_COLS];

		if ((rows[i].hosts = hosts_text(json_object_get(o, "hosts"))) == NULL) {
			ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
			goto out;
		}
		if (req > 0)
			snprintf(rows[i].approvals, sizeof(rows[i].approvals), "%lld/%lld",
			    (long long)json_integer_value(json_object_get(ap, "valid")),
			    (long long)req);
		else
			snprintf(rows[i].approvals, sizeof(rows[i].approvals), "-");
		deadline_text(o, now, rows[i].left, sizeof(rows[i].left));
		c[0] = ephssh_jstr(o, "id");
		c[1] = ephssh_jstr(o, "task");
		c[2] = ephssh_jstr(o, "requester");
		c[3] = rows[i].hosts;
		c[4] = ephssh_jstr(o, "state");
		c[5] = rows[i].approvals;
		c[6] = rows[i].left;
	}
	out_table(stdout, headers, LIST_COLS, cells, n, out_width(stdout), LIST_SHRINK);
	rc = fflush(stdout) == 0 ? EPHSSH_EXIT_OK : EPHSSH_EXIT_FAIL;
out:
	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].hosts);
	free(rows);
	free(cells);
	return rc;
}

static int
cmd_list(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"pending", no_argument, NULL, LIST_PENDING},
	    {"mine", no_argument, NULL, LIST_MINE},
	    {"active", no_argument, NULL, LIST_ACTIVE},
	    {"all", no_argument, NULL, LIST_ALL},
	    {"reviews", no_argument, NULL, LIST_REVIEWS},
	    {NULL, 0, NULL, 0},
	};
	static const char *const flag[] = {
	    "", "--pending", "--mine", "--active", "--all", "--reviews"};
	enum list_mode mode = LIST_NEEDS_YOU;
	json_t *all = NULL, *doc = NULL;
	int c, rc = EPHSSH_EXIT_OK, truncated = 0;

	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1) {
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
		if (mode != LIST_NEEDS_YOU && mode != (enum list_mode)c)
			return ephssh_usage_error(
			    self, e, "%s and %s exclude each other", flag[mode], flag[c]);
		mode = (enum list_mode)c;
	}
	if (optind != argc)
		return ephssh_usage_error(self, e, "unexpected argument '%s'", argv[optind]);
	if ((all = json_array()) == NULL)
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
	switch (mode) {
	case LIST_NEEDS_YOU:
		if ((rc = fetch(e, "state=pending", all, &truncated)) == EPHSSH_EXIT_OK)
			rc = fetch(e, "state=issued&mine=1", all, &truncated);
		break;
	case LIST_PENDING: rc = fetch(e, "state=pending", all, &truncated); break;
	case LIST_MINE: rc = fetch(e, "mine=1", all, &truncated); break;
	case LIST_ACTIVE: rc = fetch(e, "state=issued", all, &truncated); break;
	case LIST_ALL: rc = fetch(e, "", all, &truncated); break;
	case LIST_REVIEWS: rc = fetch(e, "review=open", all, &truncated); break;
	}
	if (rc != EPHSSH_EXIT_OK)
		goto out;
	if (e->json) {
		if ((doc = json_pack("{sO}", "requests", all)) == NULL ||
		    (truncated && json_object_set_new(doc, "truncated", json_true()) != 0)) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
			goto out;
		}
		rc = ephssh_print_json(e, doc);
		goto out;
	}
	if (json_array_size(all) == 0) {
		printf("no requests\n");
		goto out;
	}
	rc = print_table(e, all);
	if (truncated)
		ephssh_note(e,
		    "(the CA sent only its first %zu; narrow the list with --pending, "
		    "--mine or --active)",
		    json_array_size(all));
out:
	json_decref(doc);
	json_decref(all);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_list = {"list", cmd_list,
    "[OPTIONS] [--pending|--mine|--active|--all|--reviews]",
    "list requests: by default the pending ones you can act on and your active grants",
    "      --pending          pending requests: yours and those you may approve\n"
    "      --mine             your own requests, in every state\n"
    "      --active           issued certificates (yours; admins and auditors: all)\n"
    "      --all              everything the CA lets you see\n"
    "      --reviews          break-glass grants whose review is open (those you\n"
    "                         may close, and your own)\n"};

/*
 * ephssh done [ID] and ephssh status: the end of a grant (revoked at the
 * CA, its key and certificate out of the agent) and this user's active
 * grants with the time they have left and whether the agent holds them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "ephssh.h"
#include "err.h"
#include "keys.h"
#include "out.h"

#define MINE_ISSUED "/v1/requests?mine=1&state=issued"

/* Seconds left of an issued request's certificate at now (<= 0: none). */
static int64_t
seconds_left(const json_t *o, int64_t now)
{
	int64_t vb;

	if (out_parse_time(ephssh_jstr(o, "valid_before"), &vb) != 0)
		return 0;
	return vb - now;
}

/* This user's issued requests whose certificates are still valid, newest
 * first: by serial, which the CA hands out in the order it issues (times
 * have only seconds). *list is a new array. */
static int
active_grants(struct ephssh *e, int64_t now, json_t **list)
{
	struct capi_result res;
	const json_t *rs, *v;
	size_t i;
	int rc;

	*list = NULL;
	if ((rc = ephssh_call(e, "GET", MINE_ISSUED, NULL, NULL, &res)) != EPHSSH_EXIT_OK)
		goto out;
	rs = json_object_get(res.body, "requests");
	if ((*list = json_array()) == NULL) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
		goto out;
	}
	json_array_foreach(rs, i, v)
	{
		const char *st = ephssh_jstr(v, "state");
		size_t j;
		json_int_t sv = json_integer_value(json_object_get(v, "serial"));

		if (st == NULL || strcmp(st, "issued") != 0 || seconds_left(v, now) <= 0)
			continue;
		/* Insertion sort: a user has a handful of grants. */
		for (j = 0; j < json_array_size(*list); j++)
			if (sv >
			    json_integer_value(json_object_get(json_array_get(*list, j), "serial")))
				break;
		json_array_insert(*list, j, (json_t *)v);
	}
	rc = EPHSSH_EXIT_OK;
out:
	capi_result_clear(&res);
	return rc;
}

/* ---------------------------------------------------------------- done */

/* Take o's certificate and its plain key out of the agent; how many went
 * (-1: no agent, or it failed: *why says so). */
static int
agent_cleanup(const json_t *o, char *why, size_t len)
{
	struct agent *a = NULL;
	struct cert *c = NULL;
	const char *line = ephssh_jstr(o, "certificate");
	int removed = -1, r;

	why[0] = '\0';
	if (line == NULL || cert_parse_line(line, &c, NULL) != EPH_OK) {
		snprintf(why, len, "no certificate in the CA's answer");
		goto out;
	}
	if (keys_agent_open(&a, why, len) != EPH_OK)
		goto out;
	if ((r = keys_agent_remove(a, c, &removed)) != EPH_OK) {
		snprintf(why, len, "the ssh-agent did not remove it: %s", eph_strerror(r));
		removed = -1;
	}
out:
	agent_close(a);
	cert_free(c);
	return removed;
}

static int
cmd_done(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {{NULL, 0, NULL, 0}};
	struct capi_result res;
	json_t *list = NULL, *o = NULL, *body = NULL;
	char path[64], why[512], id[32];
	const char *st;
	int c, rc = EPHSSH_EXIT_OK, removed, already = 0;

	memset(&res, 0, sizeof(res));
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1)
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
	if (optind + 1 < argc)
		return ephssh_usage_error(self, e, "one request id only");
	if (optind < argc) {
		if (!ephssh_id_valid(argv[optind]))
			return ephssh_usage_error(self, e,
			    "'%s' is not a request id (r- and 16 hex digits)", argv[optind]);
		snprintf(id, sizeof(id), "%s", argv[optind]);
	} else {
		if ((rc = active_grants(e, (int64_t)time(NULL), &list)) != EPHSSH_EXIT_OK)
			goto out;
		if (json_array_size(list) == 0) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "you have no active grant to end");
			goto out;
		}
		snprintf(id, sizeof(id), "%s", ephssh_jstr(json_array_get(list, 0), "id"));
	}
	snprintf(path, sizeof(path), "/v1/requests/%s/revoke", id);
	body = json_pack("{s:s}", "reason", "task complete");
	if ((rc = ephssh_call(e, "POST", path, body, (const long[]){409, 0}, &res)) !=
	    EPHSSH_EXIT_OK)
		goto out;
	if (res.status == 409) {
		/* Revoked or expired already: the agent may still hold it. */
		capi_result_clear(&res);
		snprintf(path, sizeof(path), "/v1/requests/%s", id);
		if ((rc = ephssh_call(e, "GET", path, NULL, NULL, &res)) != EPHSSH_EXIT_OK)
			goto out;
		already = 1;
	}
	o = json_incref(res.body);
	st = ephssh_jstr(o, "state");
	if (already && (st == NULL || strcmp(st, "issued") == 0)) {
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s could not be revoked", id);
		goto out;
	}
	keys_pending_remove(id);
	removed = agent_cleanup(o, why, sizeof(why));
	if (e->json) {
		json_t *out = json_deep_copy(o);

		rc = EPHSSH_EXIT_FAIL;
		if (out != NULL &&
		    json_object_set_new(
		        out, "agent_removed", json_integer(removed < 0 ? 0 : removed)) == 0)
			rc = ephssh_print_json(e, out);
		json_decref(out);
		goto out;
	}
	if (already)
		printf("%s was %s already", id, st ? st : "?");
	else
		printf("%s revoked (task complete)", id);
	if (removed > 0)
		printf("; its key and certificate are out of the agent\n");
	else if (removed == 0)
		printf("; the agent did not hold it\n");
	else
		printf("; %s\n", why);
	rc = EPHSSH_EXIT_OK;
out:
	json_decref(list);
	json_decref(o);
	json_decref(body);
	capi_result_clear(&res);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_done = {"done", cmd_done, "[OPTIONS] [ID]",
    "end a grant: revoke it and take its key out of ssh-agent (default: your newest)", ""};

/* -------------------------------------------------------------- status */

/* Is o's certificate listed among the agent's identities? */
static int
in_agent(const json_t *o, const struct agent_identity *ids, size_t n)
{
	struct cert *c = NULL;
	int yes = 0;

	if (ephssh_jstr(o, "certificate") != NULL &&
	    cert_decode_line(ephssh_jstr(o, "certificate"), &c) == EPH_OK)
		yes = keys_listed(ids, n, c->blob.d, c->blob.len);
	cert_free(c);
	return yes;
}

static char *
join_hosts(const json_t *o)
{
	const json_t *hosts = json_object_get(o, "hosts"), *v;
	size_t i, n = 1;
	char *s;

	json_array_foreach(hosts, i, v) n +=
	    strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
	if ((s = calloc(1, n)) == NULL)
		return NULL;
	json_array_foreach(hosts, i, v)
	{
		if (i > 0)
			strcat(s, ", ");
		strcat(s, json_string_value(v) ? json_string_value(v) : "");
	}
	return s;
}

static int
cmd_status(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {{NULL, 0, NULL, 0}};
	static const char *const headers[] = {"ID", "TASK", "HOSTS", "AS", "LEFT", "AGENT"};
	struct agent_identity *ids = NULL;
	struct agent *a = NULL;
	json_t *list = NULL, *grants = NULL, *out = NULL;
	const json_t *v;
	const char **cells = NULL;
	char why[512], (*left)[32] = NULL, **hosts = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t n = 0, i, rows;
	int c, rc = EPHSSH_EXIT_OK, have_agent = 0;

	why[0] = '\0';
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1)
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
	if (optind != argc)
		return ephssh_usage_error(self, e, "no operands");
	if ((rc = active_grants(e, now, &list)) != EPHSSH_EXIT_OK)
		goto out;
	if (keys_agent_open(&a, why, sizeof(why)) == EPH_OK && agent_list(a, &ids, &n) == EPH_OK)
		have_agent = 1;
	rows = json_array_size(list);
	if (e->json) {
		rc = EPHSSH_EXIT_FAIL;
		if ((grants = json_array()) == NULL ||
		    (out = json_pack("{s:O,s:b}", "grants", grants, "agent", have_agent)) == NULL)
			goto out;
		json_array_foreach(list, i, v)
		{
			json_t *g = json_pack("{s:s?,s:s?,s:O?,s:s?,s:s?,s:I,s:b}", "id",
			    ephssh_jstr(v, "id"), "task", ephssh_jstr(v, "task"), "hosts",
			    json_object_get(v, "hosts"), "login_as", ephssh_jstr(v, "login_as"),
			    "valid_before", ephssh_jstr(v, "valid_before"), "seconds_left",
			    (json_int_t)seconds_left(v, now), "in_agent",
			    have_agent && in_agent(v, ids, n));

			if (g == NULL ||
			    json_array_append_new(json_object_get(out, "grants"), g) != 0)
				goto out;
		}
		rc = ephssh_print_json(e, out);
		goto out;
	}
	if (rows == 0) {
		printf("no active grants\n");
		rc = EPHSSH_EXIT_OK;
		goto out;
	}
	rc = EPHSSH_EXIT_FAIL;
	if ((cells = calloc(rows * 6, sizeof(*cells))) == NULL ||
	    (left = calloc(rows, sizeof(*left))) == NULL ||
	    (hosts = calloc(rows, sizeof(*hosts))) == NULL)
		goto out;
	json_array_foreach(list, i, v)
	{
		out_left(seconds_left(v, now), left[i], sizeof(left[i]));
		hosts[i] = join_hosts(v);
		cells[i * 6 + 0] = ephssh_jstr(v, "id");
		cells[i * 6 + 1] = ephssh_jstr(v, "task");
		cells[i * 6 + 2] = hosts[i];
		cells[i * 6 + 3] = ephssh_jstr(v, "login_as");
		cells[i * 6 + 4] = left[i];
		cells[i * 6 + 5] = !have_agent ? "-" : in_agent(v, ids, n) ? "yes" : "no";
	}
	out_table(stdout, headers, 6, cells, rows, out_width(stdout), 1u << 2);
	if (!have_agent)
		printf("(%s)\n", why[0] ? why : "the agent cannot be listed");
	rc = fflush(stdout) == 0 ? EPHSSH_EXIT_OK : EPHSSH_EXIT_FAIL;
out:
	for (i = 0; hosts != NULL && i < rows; i++)
		free(hosts[i]);
	free(hosts);
	free(left);
	free(cells);
	agent_identities_free(ids, n);
	agent_close(a);
	json_decref(grants);
	json_decref(out);
	json_decref(list);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_status = {"status", cmd_status, "[OPTIONS]",
    "your active grants: time left, and whether ssh-agent holds each", ""};

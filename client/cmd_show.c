/* ephssh show ID: everything about one request, with the policy's
 * reasons and the approvals. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ephssh.h"
#include "out.h"
#include "show.h"

static void
field(const char *name, const char *value)
{
	printf("  %-12s %s\n", name, value != NULL && *value != '\0' ? value : "-");
}

static void
time_field(const char *name, const char *rfc3339)
{
	char t[64];

	if (rfc3339 == NULL)
		return;
	out_time(rfc3339, t, sizeof(t));
	field(name, t);
}

/* "a, b, c" of an array of strings. */
static void
list_field(const char *name, const json_t *a)
{
	size_t i;
	const json_t *v;

	if (!json_is_array(a))
		return;
	printf("  %-12s ", name);
	if (json_array_size(a) == 0)
		fputs("-", stdout);
	json_array_foreach(a, i, v)
	    printf("%s%s", i > 0 ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
	fputc('\n', stdout);
}

void
show_request(const json_t *o, int color)
{
	const json_t *ap = json_object_get(o, "approvals"), *by, *rs, *v, *rev, *dn;
	const char *state = ephssh_jstr(o, "state");
	size_t i;
	char line[256];

	printf("%s%s%s  %s\n", out_bold(color), ephssh_jstr(o, "id") ? ephssh_jstr(o, "id") : "?",
	    out_reset(color), state != NULL ? state : "?");
	field("task", ephssh_jstr(o, "task"));
	list_field("hosts", json_object_get(o, "hosts"));
	field("requester", ephssh_jstr(o, "requester"));
	field("reason", ephssh_jstr(o, "reason"));
	time_field("created", ephssh_jstr(o, "created"));
	if (state != NULL && strcmp(state, "pending") == 0)
		time_field("expires", ephssh_jstr(o, "expires"));
	if (json_is_object(ap)) {
		const json_t *from = json_object_get(ap, "from");
		json_int_t req = json_integer_value(json_object_get(ap, "required"));
		json_int_t valid = json_integer_value(json_object_get(ap, "valid"));

		if (req == 0)
			field("approvals", "none needed");
		else {
			char fromtxt[160] = "";
			size_t n = 0;

			json_array_foreach(from, i, v) if (json_is_string(v)) n += (size_t)snprintf(
			    fromtxt + n, n < sizeof(fromtxt) ? sizeof(fromtxt) - n : 0, "%s%s",
			    i > 0 ? ", " : "", json_string_value(v));
			snprintf(line, sizeof(line), "%lld of %lld%s%s%s", (long long)valid,
			    (long long)req, fromtxt[0] ? " (from " : "", fromtxt,
			    fromtxt[0] ? ")" : "");
			field("approvals", line);
		}
		by = json_object_get(ap, "by");
		json_array_foreach(by, i, v)
		{
			char t[64];
			const char *c = ephssh_jstr(v, "comment");

			out_time(ephssh_jstr(v, "at"), t, sizeof(t));
			printf("  %-12s %s at %s%s%s%s\n", "",
			    ephssh_jstr(v, "user") ? ephssh_jstr(v, "user") : "?", t,
			    c != NULL && *c ? ": \"" : "", c != NULL ? c : "",
			    c != NULL && *c ? "\"" : "");
		}
	}
	if (json_is_integer(json_object_get(o, "serial"))) {
		snprintf(line, sizeof(line), "%lld",
		    (long long)json_integer_value(json_object_get(o, "serial")));
		field("serial", line);
		field("login as", ephssh_jstr(o, "login_as"));
		list_field("principals", json_object_get(o, "principals"));
		time_field("valid from", ephssh_jstr(o, "valid_after"));
		time_field("valid until", ephssh_jstr(o, "valid_before"));
	}
	dn = json_object_get(o, "denial");
	if (json_is_object(dn)) {
		const char *dby = ephssh_jstr(dn, "by"), *why = ephssh_jstr(dn, "reason");
		char t[64] = "?";

		if (ephssh_jstr(dn, "at") != NULL)
			out_time(ephssh_jstr(dn, "at"), t, sizeof(t));
		snprintf(line, sizeof(line), "by %s at %s%s%s%s", dby != NULL ? dby : "the policy",
		    t, why != NULL ? ": \"" : "", why != NULL ? why : "", why != NULL ? "\"" : "");
		field("denied", line);
	}
	rev = json_object_get(o, "review");
	if (json_is_object(rev)) {
		const char *rs_state = ephssh_jstr(rev, "state"), *rby = ephssh_jstr(rev, "by");

		snprintf(line, sizeof(line), "%s%s%s (break-glass)", rs_state ? rs_state : "?",
		    rby ? " by " : "", rby ? rby : "");
		field("review", line);
	}
	rs = json_object_get(o, "reasons");
	if (json_is_array(rs) && json_array_size(rs) > 0) {
		printf("  policy:\n");
		json_array_foreach(rs, i, v)
		{
			const char *kind = ephssh_jstr(v, "kind");
			json_int_t ln = json_integer_value(json_object_get(v, "line"));
			int deny = kind != NULL && strcmp(kind, "deny") == 0;

			printf("    %s%-7s%s %s", deny ? out_red(color) : "", kind ? kind : "?",
			    deny ? out_reset(color) : "",
			    ephssh_jstr(v, "text") ? ephssh_jstr(v, "text") : "");
			if (ln > 0)
				printf(" (line %lld)", (long long)ln);
			fputc('\n', stdout);
		}
	}
}

static int
cmd_show(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct option lo[] = {{NULL, 0, NULL, 0}};
	struct capi_result res;
	char path[64];
	int c, rc = EPHSSH_EXIT_OK;

	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1)
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
	if (optind + 1 != argc)
		return ephssh_usage_error(
		    self, e, optind >= argc ? "a request id is needed" : "one request id only");
	if (!ephssh_id_valid(argv[optind]))
		return ephssh_usage_error(
		    self, e, "'%s' is not a request id (r- and 16 hex digits)", argv[optind]);
	snprintf(path, sizeof(path), "/v1/requests/%s", argv[optind]);
	if ((rc = ephssh_call(e, "GET", path, NULL, NULL, &res)) == EPHSSH_EXIT_OK) {
		if (e->json)
			rc = ephssh_print_json(e, res.body);
		else
			show_request(res.body, e->color);
	}
	capi_result_clear(&res);
	return rc;
}

const struct ephssh_cmd ephssh_cmd_show = {"show", cmd_show, "[OPTIONS] ID",
    "show one request: its state, approvals, certificate and the policy's reasons", ""};

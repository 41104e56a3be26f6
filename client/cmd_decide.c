/*
 * ephssh approve, deny, cancel, review and revoke: one POST each to
 * /v1/requests/ID/ACTION, one quiet line on success, and the refusals
 * people meet (their own request, not an approver, already decided,
 * unknown id) each said plainly with its exit code.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ephssh.h"
#include "out.h"

/* What one action sends, and how its success and refusals read. */
struct decide_action {
	const char *verb; /* "approve": the path's last part */
	const char *done; /* "approved" */
	const char *text_field; /* "comment" / "reason" in the body; NULL: none */
	int text_required;
};

/* "@leads, bob" of approvals.from. */
static void
from_text(const json_t *ap, char *buf, size_t len)
{
	const json_t *v;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(ap, "from"), i, v)
	{
		int k;

		if (!json_is_string(v) || n >= len)
			continue;
		k = snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "", json_string_value(v));
		if (k < 0)
			break;
		n += (size_t)k;
	}
}

/* The line after a successful action on request o. */
static void
print_outcome(const struct decide_action *a, const char *id, const json_t *o)
{
	const json_t *ap = json_object_get(o, "approvals");
	const char *state = ephssh_jstr(o, "state");
	char until[64], from[256];

	if (state != NULL && strcmp(state, "issued") == 0 && strcmp(a->verb, "approve") == 0) {
		out_time(ephssh_jstr(o, "valid_before"), until, sizeof(until));
		printf("%s %s: issued to %s until %s\n", a->done, id,
		    ephssh_jstr(o, "requester") ? ephssh_jstr(o, "requester") : "?", until);
		return;
	}
	if (strcmp(a->verb, "approve") == 0 && json_is_object(ap)) {
		json_int_t req = json_integer_value(json_object_get(ap, "required"));
		json_int_t valid = json_integer_value(json_object_get(ap, "valid"));

		from_text(ap, from, sizeof(from));
		printf("%s %s: %lld of %lld approvals; waiting for %s\n", a->done, id,
		    (long long)valid, (long long)req, from[0] ? from : "another approver");
		return;
	}
	if (strcmp(a->verb, "revoke") == 0 && json_is_integer(json_object_get(o, "serial"))) {
		printf("%s %s: serial %lld is in the CA's revocation list\n", a->done, id,
		    (long long)json_integer_value(json_object_get(o, "serial")));
		return;
	}
	if (strcmp(a->verb, "review") == 0) {
		printf("%s %s: break-glass review closed\n", a->done, id);
		return;
	}
	printf("%s %s\n", a->done, id);
}

/* A 409: say what state the request is in (asked afresh; the CA's own
 * words when that fails). */
static int
already(struct ephssh *e, const struct decide_action *a, const char *id, const char *path,
    const struct capi_result *first)
{
	static const long quiet[] = {403, 404, 0};
	struct capi_result res;
	const char *state = NULL, *rs = NULL;
	int rc;

	if (ephssh_call(e, "GET", path, NULL, quiet, &res) == EPHSSH_EXIT_OK && res.status == 200) {
		state = ephssh_jstr(res.body, "state");
		rs = ephssh_jstr(json_object_get(res.body, "review"), "state");
	}
	if (strcmp(a->verb, "review") == 0)
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s has no open review%s%s%s", id,
		    rs != NULL ? " (it is " : "", rs != NULL ? rs : "", rs != NULL ? ")" : "");
	else if (state != NULL && strcmp(a->verb, "revoke") == 0 && strcmp(state, "pending") == 0)
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
		    "%s is still pending: nothing to revoke (deny or cancel it)", id);
	else if (state != NULL)
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s is already %s", id, state);
	else
		rc = ephssh_error(e, EPHSSH_EXIT_FAIL, "%s: %s", id,
		    first->detail[0] ? first->detail : "its state forbids this");
	capi_result_clear(&res);
	return rc;
}

/* A 403: the CA's reason, with the one everyone meets said plainly. */
static int
refused(struct ephssh *e, const struct decide_action *a, const char *id, const char *detail)
{
	if (strcmp(detail, "the requester cannot approve their own request") == 0)
		return ephssh_error(e, EPHSSH_EXIT_NOTAUTH,
		    "you cannot approve your own request %s: another approver must", id);
	if (detail[0] == '\0')
		return ephssh_error(e, EPHSSH_EXIT_NOTAUTH, "you may not %s %s", a->verb, id);
	return ephssh_error(e, EPHSSH_EXIT_NOTAUTH, "%s %s refused: %s", a->verb, id, detail);
}

static int
decide(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv,
    const struct decide_action *a)
{
	static const long handled[] = {403, 404, 409, 0};
	enum { OPT_TEXT = 1 };
	static const struct option lo_comment[] = {
	    {"comment", required_argument, NULL, OPT_TEXT}, {NULL, 0, NULL, 0}};
	static const struct option lo_reason[] = {
	    {"reason", required_argument, NULL, OPT_TEXT}, {NULL, 0, NULL, 0}};
	static const struct option lo_none[] = {{NULL, 0, NULL, 0}};
	const struct option *lo = lo_none;
	struct capi_result res;
	const char *text = NULL, *id;
	char path[96];
	json_t *body = NULL;
	int c, rc = EPHSSH_EXIT_OK;

	if (a->text_field != NULL)
		lo = strcmp(a->text_field, "reason") == 0 ? lo_reason : lo_comment;
	while ((c = ephssh_getopt(self, e, argc, argv, "", lo, &rc)) != -1) {
		if (c == EPHSSH_GETOPT_DONE)
			return rc;
		if (c == OPT_TEXT) {
			if (text != NULL)
				return ephssh_usage_error(
				    self, e, "--%s given twice", a->text_field);
			text = optarg;
		}
	}
	if (optind + 1 != argc)
		return ephssh_usage_error(
		    self, e, optind >= argc ? "a request id is needed" : "one request id only");
	id = argv[optind];
	if (!ephssh_id_valid(id))
		return ephssh_usage_error(
		    self, e, "'%s' is not a request id (r- and 16 hex digits)", id);
	if (a->text_required && text == NULL)
		return ephssh_usage_error(self, e, "--%s TEXT is required", a->text_field);
	if (text != NULL && text[0] == '\0')
		return ephssh_usage_error(self, e, "--%s: empty", a->text_field);

	if ((body = json_object()) == NULL ||
	    (text != NULL && json_object_set_new(body, a->text_field, json_string(text)) != 0)) {
		json_decref(body);
		return ephssh_error(e, EPHSSH_EXIT_FAIL, "out of memory");
	}
	snprintf(path, sizeof(path), "/v1/requests/%s/%s", id, a->verb);
	rc = ephssh_call(e, "POST", path, body, handled, &res);
	if (rc != EPHSSH_EXIT_OK)
		goto out;
	snprintf(path, sizeof(path), "/v1/requests/%s", id);
	switch (res.status) {
	case 403: rc = refused(e, a, id, res.detail); break;
	case 404:
		rc = ephssh_error(
		    e, EPHSSH_EXIT_FAIL, "%s: no such request (or not one you may see)", id);
		break;
	case 409: rc = already(e, a, id, path, &res); break;
	default:
		if (!json_is_object(res.body)) {
			rc = ephssh_error(e, EPHSSH_EXIT_FAIL,
			    "the CA answered %ld without the request", res.status);
			break;
		}
		if (e->json)
			rc = ephssh_print_json(e, res.body);
		else
			print_outcome(a, id, res.body);
		break;
	}
out:
	capi_result_clear(&res);
	json_decref(body);
	return rc;
}

static int
cmd_approve(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct decide_action a = {"approve", "approved", "comment", 0};

	return decide(self, e, argc, argv, &a);
}

static int
cmd_deny(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct decide_action a = {"deny", "denied", "reason", 1};

	return decide(self, e, argc, argv, &a);
}

static int
cmd_cancel(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct decide_action a = {"cancel", "cancelled", NULL, 0};

	return decide(self, e, argc, argv, &a);
}

static int
cmd_review(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct decide_action a = {"review", "reviewed", "comment", 0};

	return decide(self, e, argc, argv, &a);
}

static int
cmd_revoke(const struct ephssh_cmd *self, struct ephssh *e, int argc, char **argv)
{
	static const struct decide_action a = {"revoke", "revoked", "reason", 1};

	return decide(self, e, argc, argv, &a);
}

const struct ephssh_cmd ephssh_cmd_approve = {"approve", cmd_approve, "[OPTIONS] ID",
    "approve someone's pending request",
    "      --comment TEXT     a comment kept with the approval\n"};
const struct ephssh_cmd ephssh_cmd_deny = {"deny", cmd_deny, "[OPTIONS] --reason TEXT ID",
    "deny a pending request, with the reason the requester sees",
    "      --reason TEXT      why (required)\n"};
const struct ephssh_cmd ephssh_cmd_cancel = {
    "cancel", cmd_cancel, "[OPTIONS] ID", "withdraw your own pending request", ""};
const struct ephssh_cmd ephssh_cmd_review = {"review", cmd_review, "[OPTIONS] ID",
    "close the review of someone's break-glass grant",
    "      --comment TEXT     what was checked\n"};
const struct ephssh_cmd ephssh_cmd_revoke = {"revoke", cmd_revoke, "[OPTIONS] --reason TEXT ID",
    "revoke an issued certificate (approvers of the task, admins)",
    "      --reason TEXT      why (required)\n"};

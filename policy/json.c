/* A policy decision as JSON (jansson), for machines: the CA's API answers
 * and `sshca policy explain --json` share this one shape. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "policy.h"

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not
 * one: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t
utf8_seq_len(const unsigned char *s)
{
	size_t n, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A JSON string, or null for NULL. Names and reasons can carry what a
 * requester typed; jansson refuses invalid UTF-8, so such bytes become
 * U+FFFD rather than losing the whole decision.
 */
static json_t *
jstr(const char *s)
{
	const unsigned char *p;
	char *clean, *o;
	json_t *j;
	size_t n;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	/* Each bad byte grows to the 3 bytes of U+FFFD at most. */
	if ((clean = malloc(strlen(s) * 3 + 1)) == NULL)
		return NULL;
	for (p = (const unsigned char *)s, o = clean; *p != '\0';) {
		if ((n = utf8_seq_len(p)) == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(o, p, n);
		o += n;
		p += n;
	}
	*o = '\0';
	j = json_string(clean);
	free(clean);
	return j;
}

static json_t *
jstrv(char *const *v, size_t n)
{
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a, jstr(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static const char *
reason_kind_name(enum policy_reason_kind k)
{
	switch (k) {
	case POLICY_REASON_ALLOW: return "allow";
	case POLICY_REASON_DENY: return "deny";
	case POLICY_REASON_CLAMP: return "clamp";
	case POLICY_REASON_NOTE: return "note";
	}
	return "unknown";
}

static json_t *
reasons_json(const struct policy_decision *d)
{
	json_t *a, *o;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < d->nreasons; i++) {
		const struct policy_reason *r = &d->reasons[i];

		if ((o = json_object()) == NULL || json_array_append_new(a, o) != 0 ||
		    json_object_set_new(o, "kind", json_string(reason_kind_name(r->kind))) != 0 ||
		    json_object_set_new(o, "rule", jstr(r->rule)) != 0 ||
		    json_object_set_new(o, "text", jstr(r->text)) != 0 ||
		    json_object_set_new(o, "line", json_integer(r->line)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Each approval clause: its sets, what it needs, who met it so far. */
static json_t *
clauses_json(const struct policy_decision *d)
{
	json_t *a, *o;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < d->nclauses; i++) {
		const struct policy_clause_state *c = &d->clauses[i];

		if ((o = json_object()) == NULL || json_array_append_new(a, o) != 0 ||
		    json_object_set_new(o, "from", jstrv(c->from, c->nfrom)) != 0 ||
		    json_object_set_new(o, "required", json_integer(c->required)) != 0 ||
		    json_object_set_new(o, "valid", json_integer(c->valid)) != 0 ||
		    json_object_set_new(o, "approvers", jstrv(c->approvers, c->napprovers)) != 0 ||
		    json_object_set_new(o, "line", json_integer(c->line)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
policy_decision_to_json(const struct policy_decision *d, char **out)
{
	json_t *root = NULL, *approvals = NULL, *crit = NULL;
	char *text;
	int r = EPH_ERR_NOMEM;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if (d == NULL)
		return EPH_ERR_INVAL;

	/*
	 * json_object_set_new takes the value even when it fails (and
	 * refuses a NULL one), so each failure below leaks nothing.
	 */
	if ((approvals = json_object()) == NULL ||
	    json_object_set_new(approvals, "required", json_integer(d->approvals_required)) != 0 ||
	    json_object_set_new(approvals, "valid", json_integer(d->approvals_valid)) != 0 ||
	    json_object_set_new(
	        approvals, "approver_sets", jstrv(d->approver_sets, d->napprover_sets)) != 0 ||
	    json_object_set_new(approvals, "clauses", clauses_json(d)) != 0)
		goto out;
	/* Critical options as a certificate carries them: only those set. */
	if ((crit = json_object()) == NULL ||
	    (d->force_command != NULL &&
	        json_object_set_new(crit, "force-command", jstr(d->force_command)) != 0) ||
	    (d->source_address != NULL &&
	        json_object_set_new(crit, "source-address", jstr(d->source_address)) != 0))
		goto out;
	if ((root = json_object()) == NULL ||
	    json_object_set_new(root, "result", json_string(policy_result_name(d->result))) != 0 ||
	    json_object_set_new(root, "task", jstr(d->task)) != 0 ||
	    json_object_set_new(root, "requester", jstr(d->requester)) != 0 ||
	    json_object_set_new(root, "ttl", json_integer((json_int_t)d->ttl)) != 0 ||
	    json_object_set(root, "approvals", approvals) != 0 ||
	    json_object_set_new(root, "principals", jstrv(d->principals, d->nprincipals)) != 0 ||
	    json_object_set_new(root, "login_as", jstr(d->login_as)) != 0 ||
	    json_object_set(root, "critical_options", crit) != 0 ||
	    json_object_set_new(root, "extensions", jstrv(d->extensions, d->nextensions)) != 0 ||
	    json_object_set_new(root, "max_logins", json_integer(d->max_logins)) != 0 ||
	    json_object_set_new(root, "break_glass", json_boolean(d->break_glass)) != 0 ||
	    json_object_set_new(root, "review_required", json_boolean(d->review_required)) != 0 ||
	    json_object_set_new(
	        root, "pending_timeout", json_integer((json_int_t)d->pending_timeout)) != 0 ||
	    json_object_set_new(root, "reasons", reasons_json(d)) != 0)
		goto out;
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		goto out;
	*out = text;
	r = EPH_OK;
out:
	json_decref(root);
	json_decref(approvals);
	json_decref(crit);
	return r;
}

/* Tests for sshca audit verify / show: a store written through the store
 * API in a temp dir, then the built sshca binary run on it, on a
 * hand-edited copy, and through ca.conf's database key. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "err.h"
#include "store.h"
#include "testutil.h"

#define SSHCA tu_sshca()
#define PUBKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

struct fx {
	char *dir;
	char id[STORE_ID_LEN + 1], other[STORE_ID_LEN + 1];
	uint64_t serial;
};

#define run(f, out, ...) tu_run_in((f)->dir, (out), __VA_ARGS__)

static void
put(struct store *st, const char *who, char *id)
{
	static char *hosts[] = {"db01"};
	static const struct store_event ev = {AUDIT_REQUEST, NULL, NULL, NULL, 0};
	struct store_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.state = STORE_PENDING;
	rq.task = "db-maint";
	rq.hosts = hosts;
	rq.nhosts = 1;
	rq.requester = (char *)who;
	rq.requester_uid = 1000;
	rq.public_key = PUBKEY;
	rq.decision = "{\"allowed\":true}";
	rq.expires = 4000000000;
	assert_int_equal(store_put_request(st, &rq, &ev), EPH_OK);
	memcpy(id, rq.id, sizeof(rq.id));
}

/* ca.db with two requests: one approved and issued (3 records), one
 * pending (1 record); and a ca.conf naming it. */
static int
setup(void **state)
{
	static const char *const pr[] = {"eph:db-maint@db01"};
	static const struct store_event ev_ok = {AUDIT_APPROVE, "bob", NULL, NULL, 0};
	static const struct store_event ev_issue = {AUDIT_ISSUE, NULL, NULL, NULL, 0};
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts o;
	struct store_cert c;
	struct store *st = NULL;
	char *db, *hwm, *conf, *text = NULL, *out = NULL;

	assert_non_null(f);
	f->dir = tu_mkdtemp();
	db = tu_path(f->dir, "ca.db");
	hwm = tu_path(f->dir, "revoked.krl.serial");
	memset(&o, 0, sizeof(o));
	o.database = db;
	o.serial_file = hwm;
	o.no_log = 1;
	assert_int_equal(store_open(&o, &st), EPH_OK);
	put(st, "alice", f->id);
	put(st, "dave", f->other);
	assert_int_equal(store_add_approval(st, f->id, "bob", 1001, "ok", &ev_ok, NULL), EPH_OK);
	assert_int_equal(store_serial_alloc(st, &f->serial), EPH_OK);
	memset(&c, 0, sizeof(c));
	c.serial = f->serial;
	c.certificate = "ssh-ed25519-cert-v01@openssh.com AAAA";
	c.valid_after = 1000;
	c.valid_before = 2000;
	c.principals = pr;
	c.nprincipals = 1;
	assert_int_equal(store_issue(st, f->id, &c, &ev_issue), EPH_OK);
	store_close(st);

	if (run(f, &out, "%s init --key ca && touch policy.conf && chmod 600 policy.conf", SSHCA) !=
	    0)
		fail_msg("setup: %s", out);
	free(out);
	conf = tu_path(f->dir, "ca.conf");
	if (asprintf(&text,
	        "ca_key = \"%s/ca\";\npolicy = \"%s/policy.conf\";\ndatabase = \"%s\";\n", f->dir,
	        f->dir, db) < 0)
		fail_msg("out of memory");
	assert_int_equal(tu_write_file(conf, text, strlen(text), 0644), 0);
	free(text);
	free(conf);
	free(db);
	free(hwm);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
attack(struct fx *f, const char *sql)
{
	char *db = tu_path(f->dir, "ca.db");
	sqlite3 *h;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	free(db);
}

static void
test_verify_ok(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, &out, "%s audit verify -f ca.conf", SSHCA), 0);
	assert_string_equal(out, "OK: 4 records\n");
	free(out);
	assert_int_equal(run(f, &out, "%s audit verify --database ca.db", SSHCA), 0);
	assert_string_equal(out, "OK: 4 records\n");
	free(out);
}

static void
test_verify_broken(void **state)
{
	static const struct {
		const char *sql;
		const char *want;
	} cases[] = {
	    {"UPDATE audit SET actor = 'mallory' WHERE seq = 2",
	        "record 2 does not match its hash (edited, or inserted)"},
	    {"DELETE FROM audit WHERE seq = 3", "record 3 is missing (deleted)"},
	    {"DELETE FROM audit WHERE seq = 4", "record 4 and the following are missing"},
	    {"INSERT INTO audit SELECT 5, time, type, request_id, serial, actor, details, hash,"
	     " hash FROM audit WHERE seq = 4",
	        "record 5 does not match its hash"},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;

	assert_int_equal(run(f, NULL, "cp ca.db pristine.db"), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    run(f, NULL, "cp pristine.db ca.db && rm -f ca.db-wal ca.db-shm"), 0);
		attack(f, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
		attack(f, cases[i].sql);
		assert_int_equal(run(f, &out, "%s audit verify -f ca.conf", SSHCA), 1);
		tu_assert_contains(out, "sshca audit verify: BROKEN: ");
		tu_assert_contains(out, cases[i].want);
		tu_assert_not_contains(out, "OK:");
		free(out);
	}
}

static void
test_show(void **state)
{
	struct fx *f = *state;
	char *out = NULL;
	json_t *j;

	assert_int_equal(run(f, &out, "%s audit show -f ca.conf %s", SSHCA, f->id), 0);
	tu_assert_contains(out, "1 ");
	tu_assert_contains(out, " request ");
	tu_assert_contains(out, " approve ");
	tu_assert_contains(out, " issue ");
	tu_assert_contains(out, "serial=1 by=sshca");
	tu_assert_not_contains(out, f->other);
	free(out);

	/* By serial, as JSON: the same three records. */
	assert_int_equal(run(f, &out, "%s audit show -d ca.db --json %llu", SSHCA,
	                     (unsigned long long)f->serial),
	    0);
	assert_non_null(j = json_loads(out, 0, NULL));
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(j, 1), "type")), "approve");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(j, 1), "actor")), "bob");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_array_get(j, 1), "details"), "comment")),
	    "ok");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 2), "serial")), 1);
	json_decref(j);
	free(out);

	assert_int_equal(run(f, &out, "%s audit show -f ca.conf r-0000000000000000", SSHCA), 1);
	tu_assert_contains(out, "no audit records for request r-0000000000000000");
	free(out);
	assert_int_equal(run(f, &out, "%s audit show -f ca.conf 99", SSHCA), 1);
	tu_assert_contains(out, "no audit records for serial 99");
	free(out);
}

static void
test_usage(void **state)
{
	static const struct {
		const char *args;
		int status;
		const char *want;
	} cases[] = {
	    {"audit", 2, "a subcommand is required"},
	    {"audit frob", 2, "unknown subcommand 'frob'"},
	    {"audit --help", 0, "usage: sshca audit verify"},
	    {"help audit", 0, "usage: sshca audit verify"},
	    {"audit verify --help", 0, "usage: sshca audit verify [-f CACONF | -d DB]"},
	    {"audit show --help", 0, "--json"},
	    {"audit verify extra", 2, "unexpected argument 'extra'"},
	    {"audit verify --json", 2, "unknown"},
	    {"audit verify -f ca.conf -d ca.db", 2, "exclude each other"},
	    {"audit show -f ca.conf", 2, "a request id (r-...) or a serial is required"},
	    {"audit show -f ca.conf xyz", 2, "neither a request id"},
	    {"audit show -f ca.conf 0", 2, "neither a request id"},
	    {"audit verify -d nothere.db", 1, "nothere.db: cannot open the database"},
	    {"audit verify -d ca.conf", 1, "cannot open the database"},
	};
	struct fx *f = *state;
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = run(f, &out, "%s %s", SSHCA, cases[i].args);

		if (st != cases[i].status || strstr(out, cases[i].want) == NULL)
			fail_msg("sshca %s: exit %d, want %d and \"%s\":\n%s", cases[i].args, st,
			    cases[i].status, cases[i].want, out);
		free(out);
	}
}

static void
test_unsafe_database(void **state)
{
	struct fx *f = *state;
	char *out = NULL;

	assert_int_equal(run(f, NULL, "chmod 666 ca.db"), 0);
	assert_int_equal(run(f, &out, "%s audit verify -f ca.conf", SSHCA), 1);
	tu_assert_contains(out, "unsafe ownership or permissions");
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_verify_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_broken, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_show, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsafe_database, setup, teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("sshca audit", tests, NULL, NULL);
}

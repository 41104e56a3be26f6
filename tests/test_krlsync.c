/* Tests for ephemeral-krl-sync without a network: the accept / refuse
 * decision on a fetched body, the KRL in place, --init (read back by us
 * and by ssh-keygen -Q), the lock, the URL rules, file:// fetches, and
 * the built program's exits over file:// URLs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "key.h"
#include "krl.h"
#include "krlfetch.h"
#include "krlstate.h"

#include "testutil.h"

#define KRLSYNC TOP_BUILDDIR "/host/ephemeral-krl-sync"

/* ------------------------------------------------------------ helpers */

static struct key *test_ca;

static int
group_setup(void **state)
{
	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	return key_generate(KEY_ED25519, 0, &test_ca) == EPH_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	key_free(test_ca);
	test_ca = NULL;
	curl_global_cleanup();
	return 0;
}

/* A KRL of version v revoking serials 1..nserials of test_ca. */
static void
make_krl(uint64_t v, uint64_t nserials, struct buf *out)
{
	struct krl *k = NULL;

	buf_init(out);
	assert_int_equal(krl_new(&k), EPH_OK);
	krl_set_version(k, v);
	krl_set_generated_date(k, 1700000000);
	if (nserials > 0)
		assert_int_equal(krl_add_serial_range(k, test_ca, 1, nserials), EPH_OK);
	assert_int_equal(krl_serialize(k, out), EPH_OK);
	krl_free(k);
}

/* The KRL in place: v, with these bytes. */
static void
current_of(const struct buf *b, uint64_t v, struct krlsync_current *cur)
{
	memset(cur, 0, sizeof(*cur));
	buf_init(&cur->bytes);
	assert_int_equal(buf_put(&cur->bytes, b->d, b->len), EPH_OK);
	cur->present = 1;
	cur->version = v;
}

static void
decide(const struct krlsync_current *cur, const struct buf *b, struct krlsync_decision *d)
{
	assert_int_equal(krlsync_decide(cur, b->d, b->len, d), EPH_OK);
}

/* ----------------------------------------------------------- decision */

static void
test_decide_no_krl_in_place(void **state)
{
	struct krlsync_current none = {0};
	struct krlsync_decision d;
	struct buf b;

	(void)state;
	make_krl(7, 3, &b);
	decide(&none, &b, &d);
	assert_int_equal(d.verdict, KRLSYNC_REPLACE);
	assert_int_equal(d.version, 7);
	assert_int_equal(d.serials, 3);
	/* Even version 0 replaces nothing usable. */
	buf_free(&b);
	make_krl(0, 0, &b);
	decide(&none, &b, &d);
	assert_int_equal(d.verdict, KRLSYNC_REPLACE);
	assert_int_equal(d.serials, 0);
	buf_free(&b);
}

static void
test_decide_versions(void **state)
{
	struct krlsync_current cur;
	struct krlsync_decision d;
	struct buf in, newer, older, same, other;

	(void)state;
	make_krl(5, 2, &in);
	current_of(&in, 5, &cur);
	make_krl(6, 3, &newer);
	make_krl(4, 9, &older);
	make_krl(5, 2, &same);
	make_krl(5, 1, &other);

	decide(&cur, &newer, &d);
	assert_int_equal(d.verdict, KRLSYNC_REPLACE);
	assert_int_equal(d.version, 6);
	assert_int_equal(d.serials, 3);

	/* Older refused even when it revokes more: versions, not contents. */
	decide(&cur, &older, &d);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_OLDER);
	assert_int_equal(d.version, 4);

	decide(&cur, &same, &d);
	assert_int_equal(d.verdict, KRLSYNC_SAME);

	decide(&cur, &other, &d);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_CONFLICT);

	buf_free(&in);
	buf_free(&newer);
	buf_free(&older);
	buf_free(&same);
	buf_free(&other);
	krlsync_current_free(&cur);
}

static void
test_decide_extreme_versions(void **state)
{
	struct krlsync_current cur;
	struct krlsync_decision d;
	struct buf in, top, zero;

	(void)state;
	make_krl(UINT64_MAX - 1, 0, &in);
	current_of(&in, UINT64_MAX - 1, &cur);
	make_krl(UINT64_MAX, 0, &top);
	make_krl(0, 0, &zero);
	decide(&cur, &top, &d);
	assert_int_equal(d.verdict, KRLSYNC_REPLACE);
	decide(&cur, &zero, &d);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_OLDER);
	buf_free(&in);
	buf_free(&top);
	buf_free(&zero);
	krlsync_current_free(&cur);
}

static void
test_decide_malformed(void **state)
{
	static const uint8_t junk[] = "<html>502 Bad Gateway</html>";
	struct krlsync_current none = {0}, cur;
	struct krlsync_decision d;
	struct buf in, good;
	size_t cut;
	int whole = 0;

	(void)state;
	make_krl(1, 0, &in);
	current_of(&in, 1, &cur);
	make_krl(9, 4, &good);

	assert_int_equal(krlsync_decide(&cur, junk, sizeof(junk) - 1, &d), EPH_OK);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_MALFORMED);
	assert_int_not_equal(d.err, EPH_OK);
	/* Fail closed also with nothing usable in place. */
	assert_int_equal(krlsync_decide(&none, junk, sizeof(junk) - 1, &d), EPH_OK);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_MALFORMED);
	assert_int_equal(krlsync_decide(&none, NULL, 0, &d), EPH_OK);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_MALFORMED);

	/*
	 * Every truncation of a newer KRL but one is refused: cut at the end
	 * of the header, a KRL is whole and revokes nothing. Only the
	 * transport (Content-Length, TLS) tells that one from the real KRL.
	 */
	for (cut = 0; cut < good.len; cut++) {
		assert_int_equal(krlsync_decide(&cur, good.d, cut, &d), EPH_OK);
		if (d.verdict == KRLSYNC_REFUSE_MALFORMED)
			continue;
		assert_int_equal(d.verdict, KRLSYNC_REPLACE);
		assert_int_equal(d.serials, 0);
		assert_int_equal(whole++, 0);
	}
	assert_int_equal(whole, 1);
	assert_int_equal(buf_put_u8(&good, 0), EPH_OK);
	decide(&cur, &good, &d);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_MALFORMED);

	buf_free(&in);
	buf_free(&good);
	krlsync_current_free(&cur);
}

static void
test_decide_too_large(void **state)
{
	struct krlsync_current none = {0};
	struct krlsync_decision d;
	uint8_t *big;

	(void)state;
	assert_non_null(big = calloc(1, (size_t)KRLSYNC_MAX_SIZE + 1));
	assert_int_equal(krlsync_decide(&none, big, (size_t)KRLSYNC_MAX_SIZE + 1, &d), EPH_OK);
	assert_int_equal(d.verdict, KRLSYNC_REFUSE_TOOLARGE);
	free(big);
	assert_string_equal(krlsync_verdict_name(KRLSYNC_REFUSE_OLDER), "older");
}

/* ------------------------------------------------------ file in place */

static void
test_current_read(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "krl");
	struct krlsync_current cur;
	struct buf b;

	assert_int_equal(krlsync_current_read(p, &cur), EPH_OK);
	assert_false(cur.present);
	assert_true(cur.missing);
	krlsync_current_free(&cur);

	assert_int_equal(tu_write_file(p, "garbage", 7, 0644), 0);
	assert_int_equal(krlsync_current_read(p, &cur), EPH_OK);
	assert_false(cur.present);
	assert_false(cur.missing);
	assert_int_not_equal(cur.err, EPH_OK);
	krlsync_current_free(&cur);

	make_krl(12, 5, &b);
	assert_int_equal(tu_write_file(p, b.d, b.len, 0644), 0);
	assert_int_equal(krlsync_current_read(p, &cur), EPH_OK);
	assert_true(cur.present);
	assert_int_equal(cur.version, 12);
	assert_int_equal(cur.bytes.len, b.len);
	assert_memory_equal(cur.bytes.d, b.d, b.len);
	krlsync_current_free(&cur);

	/* A KRL others could have written is no base to refuse against. */
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(krlsync_current_read(p, &cur), EPH_OK);
	assert_false(cur.present);
	assert_int_equal(cur.err, EPH_ERR_PERM);
	krlsync_current_free(&cur);

	buf_free(&b);
	free(p);
}

static void
test_install(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "krl"), *got, *ls = NULL;
	struct buf a, b;
	struct stat st;
	size_t n;

	make_krl(1, 1, &a);
	make_krl(2, 2, &b);
	assert_int_equal(tu_write_file(p, a.d, a.len, 0600), 0);
	assert_int_equal(krlsync_install(p, b.d, b.len), EPH_OK);
	assert_non_null(got = tu_read_file(p, &n));
	assert_int_equal(n, b.len);
	assert_memory_equal(got, b.d, n);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* No temporary file left beside it. */
	assert_int_equal(tu_run(&ls, "ls -A '%s'", dir), 0);
	assert_string_equal(ls, "krl\n");
	free(ls);
	free(got);
	buf_free(&a);
	buf_free(&b);
	free(p);
}

static void
test_init_writes_empty_krl(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "krl"), *out = NULL;
	struct krl *k = NULL;
	struct stat st;
	int created = 0;

	assert_int_equal(krlsync_init(p, 1700000123, &created), EPH_OK);
	assert_true(created);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(krl_load(p, &k), EPH_OK);
	assert_int_equal(krl_version(k), 0);
	assert_int_equal(krl_generated_date(k), 1700000123);
	assert_int_equal(krl_max_serial(k), 0);
	krl_free(k);

	/* sshd's reader: a certificate is not revoked by it. */
	if (tu_ssh_keygen() != NULL) {
		assert_int_equal(tu_run(NULL,
		                     "cd '%s' && %s -q -t ed25519 -N '' -f ca && "
		                     "%s -q -t ed25519 -N '' -f u && %s -q -s ca -I t -z 5 u.pub",
		                     dir, tu_ssh_keygen(), tu_ssh_keygen(), tu_ssh_keygen()),
		    0);
		assert_int_equal(
		    tu_run_in(dir, &out, "%s -Q -f krl u-cert.pub", tu_ssh_keygen()), 0);
		tu_assert_contains(out, ": ok");
		free(out);
	}
	free(p);
}

static void
test_init_leaves_existing(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "krl"), *got;
	struct buf b;
	size_t n;
	int created = 1;

	make_krl(42, 3, &b);
	assert_int_equal(tu_write_file(p, b.d, b.len, 0644), 0);
	assert_int_equal(krlsync_init(p, 1, &created), EPH_OK);
	assert_false(created);
	assert_non_null(got = tu_read_file(p, &n));
	assert_int_equal(n, b.len);
	assert_memory_equal(got, b.d, n);
	free(got);

	/* Whatever it holds: a broken KRL is for the sync to replace. */
	assert_int_equal(tu_write_file(p, "x", 1, 0644), 0);
	assert_int_equal(krlsync_init(p, 1, &created), EPH_OK);
	assert_false(created);
	assert_non_null(got = tu_read_file(p, &n));
	assert_int_equal(n, 1);
	free(got);
	buf_free(&b);
	free(p);
}

static void
test_lock(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "krl"), *lockp = tu_path(dir, "krl.lock");
	char *link = tu_path(dir, "l/krl"), *ldir = tu_path(dir, "l");
	char *llock = tu_path(dir, "l/krl.lock");
	int fd = -1, other, waited = 1;
	struct stat st;

	assert_int_equal(krlsync_lock(p, &fd, &waited), EPH_OK);
	assert_false(waited);
	assert_true(fd >= 0);
	assert_int_equal(stat(lockp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Held: a second open file cannot take it until it is closed. */
	assert_true((other = open(lockp, O_RDWR | O_CLOEXEC)) >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(fd);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);

	/* A symbolic link where the lock goes is not followed. */
	assert_int_equal(mkdir(ldir, 0700), 0);
	assert_int_equal(symlink("/nonexistent-target", llock), 0);
	errno = 0;
	assert_int_equal(krlsync_lock(link, &fd, &waited), EPH_ERR_IO);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(fd, -1);
	free(p);
	free(lockp);
	free(link);
	free(ldir);
	free(llock);
}

/* ----------------------------------------------------------------- URLs */

static void
url_ok(const char *url, enum krlfetch_kind want)
{
	enum krlfetch_kind kind = KRLFETCH_HTTPS;
	char why[256];

	if (krlfetch_url_check(url, &kind, why, sizeof(why)) != EPH_OK)
		fail_msg("%s refused: %s", url, why);
	assert_int_equal(kind, want);
}

static void
url_refused(const char *url, const char *words)
{
	enum krlfetch_kind kind;
	char why[256];

	if (krlfetch_url_check(url, &kind, why, sizeof(why)) != EPH_ERR_FORMAT)
		fail_msg("%s accepted", url);
	tu_assert_contains(why, words);
}

static void
test_url_rules(void **state)
{
	(void)state;
	url_ok("https://ca.example.com:8443/v1/krl", KRLFETCH_HTTPS);
	url_ok("HTTPS://ca.example.com/v1/krl", KRLFETCH_HTTPS);
	url_ok("http://127.0.0.1:8080/v1/krl", KRLFETCH_HTTP);
	url_ok("http://127.3.4.5/v1/krl", KRLFETCH_HTTP);
	url_ok("http://localhost:1/v1/krl", KRLFETCH_HTTP);
	url_ok("http://[::1]:8080/v1/krl", KRLFETCH_HTTP);
	url_ok("file:///var/lib/ephemeral/ca.krl", KRLFETCH_FILE);
	url_ok("file://localhost/var/lib/ephemeral/ca.krl", KRLFETCH_FILE);
	url_ok("unix:/run/ephemeral/sshca.sock", KRLFETCH_UNIX);

	/* An unsigned KRL in clear text across a network: refused. */
	url_refused("http://ca.example.com/v1/krl", "loopback");
	url_refused("http://10.0.0.1/v1/krl", "loopback");
	url_refused("http://128.0.0.1/v1/krl", "loopback");
	url_refused("http://[::2]/v1/krl", "loopback");
	url_refused("http://localhost.example.com/v1/krl", "loopback");
	url_refused("https://user:pw@ca.example.com/v1/krl", "user name");
	url_refused("file://otherhost/krl", "URL");
	url_refused("file:///", "absolute path");
	url_refused("unix:run/sshca.sock", "absolute");
	url_refused("unix:", "absolute");
	url_refused("ftp://ca.example.com/krl", "not an https://");
	url_refused("gopher://ca.example.com/krl", "not an https://");
	url_refused("ca.example.com/v1/krl", "not a URL");
	url_refused("", "not a URL");
	url_refused("https://ca.example.com/v1/krl x", "not a URL");
}

static void
test_fetch_file(void **state)
{
	const char *dir = *state;
	char *p = tu_path(dir, "ca.krl"), *url = NULL;
	struct krlfetch_opts o = {0};
	struct krlfetch_result r;
	struct buf b;

	make_krl(3, 1, &b);
	assert_int_equal(tu_write_file(p, b.d, b.len, 0644), 0);
	assert_true(asprintf(&url, "file://%s", p) > 0);
	o.url = url;
	o.max = KRLSYNC_MAX_SIZE;
	assert_int_equal(krlfetch_get(&o, &r), EPH_OK);
	assert_int_equal(r.status, KRLFETCH_BODY);
	assert_int_equal(r.body.len, b.len);
	assert_memory_equal(r.body.d, b.d, b.len);
	krlfetch_result_free(&r);

	/* Over the cap: refused, nothing kept. */
	o.max = b.len - 1;
	assert_int_equal(krlfetch_get(&o, &r), EPH_ERR_TOOLARGE);
	tu_assert_contains(r.why, "more than");
	krlfetch_result_free(&r);

	o.max = KRLSYNC_MAX_SIZE;
	assert_int_equal(unlink(p), 0);
	assert_int_equal(krlfetch_get(&o, &r), EPH_ERR_IO);
	tu_assert_contains(r.why, "No such file");
	krlfetch_result_free(&r);

	/* No server on the socket: a fetch failure, no body. */
	free(url);
	assert_true(asprintf(&url, "unix:%s/none.sock", dir) > 0);
	o.url = url;
	o.timeout = 5;
	assert_int_equal(krlfetch_get(&o, &r), EPH_ERR_IO);
	assert_int_equal(r.body.len, 0);
	tu_assert_contains(r.why, "none.sock");
	krlfetch_result_free(&r);

	buf_free(&b);
	free(url);
	free(p);
}

/* ------------------------------------------------------------ program */

/* dir/host.conf with revoked_keys dir/krl. */
static void
write_host_conf(const char *dir)
{
	char *p = tu_path(dir, "host.conf"), *text = NULL;

	assert_true(asprintf(&text,
	                "host = { names = [ \"h1.example.com\" ]; };\n"
	                "trusted_ca_keys = \"%s/ca.pub\";\n"
	                "revoked_keys = \"%s/krl\";\n"
	                "accept = ( { task = \"t\"; users = [ \"u\" ]; } );\n",
	                dir, dir) > 0);
	assert_int_equal(tu_write_file(p, text, strlen(text), 0644), 0);
	free(text);
	free(p);
}

static int
run_sync(const char *dir, char **out, const char *args)
{
	return tu_run_in(dir, out, "%s -f '%s/host.conf' %s", KRLSYNC, dir, args);
}

static void
test_program(void **state)
{
	const char *dir = *state;
	char *krl = tu_path(dir, "krl"), *src = tu_path(dir, "ca.krl"), *out = NULL, *got,
	     *args = NULL;
	struct buf v3, v2;
	size_t n;

	write_host_conf(dir);
	make_krl(3, 2, &v3);
	make_krl(2, 0, &v2);

	/* No URL anywhere: a configuration error. */
	assert_int_equal(run_sync(dir, &out, ""), 2);
	tu_assert_contains(out, "krl_url");
	free(out);
	assert_int_equal(access(krl, F_OK), -1);
	/* The cron line's way: a host not set up yet is nothing to do. */
	assert_int_equal(run_sync(dir, &out, "--if-configured"), 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(access(krl, F_OK), -1);

	assert_int_equal(run_sync(dir, &out, "--init"), 0);
	tu_assert_contains(out, "wrote an empty KRL");
	free(out);
	assert_int_equal(run_sync(dir, &out, "--init --quiet"), 0);
	assert_string_equal(out, "");
	free(out);

	assert_int_equal(tu_write_file(src, v3.d, v3.len, 0644), 0);
	assert_true(asprintf(&args, "--url 'file://%s'", src) > 0);
	assert_int_equal(run_sync(dir, &out, args), 0);
	tu_assert_contains(out, "KRL version 3, was 0, serials revoked: 2");
	free(out);
	assert_non_null(got = tu_read_file(krl, &n));
	assert_int_equal(n, v3.len);
	assert_memory_equal(got, v3.d, n);
	free(got);

	assert_int_equal(run_sync(dir, &out, args), 0);
	tu_assert_contains(out, "is current");
	free(out);
	/* With a URL, --if-configured changes nothing: it syncs. */
	free(args);
	assert_true(asprintf(&args, "--if-configured --url 'file://%s'", src) > 0);
	assert_int_equal(run_sync(dir, &out, args), 0);
	tu_assert_contains(out, "is current");
	free(out);

	/* A replayed older KRL: refused, exit 1, the newer one stays. */
	assert_int_equal(tu_write_file(src, v2.d, v2.len, 0644), 0);
	assert_int_equal(run_sync(dir, &out, args), 1);
	tu_assert_contains(out, "older");
	free(out);
	assert_non_null(got = tu_read_file(krl, &n));
	assert_int_equal(n, v3.len);
	assert_memory_equal(got, v3.d, n);
	free(got);

	assert_int_equal(tu_write_file(src, "nonsense", 8, 0644), 0);
	assert_int_equal(run_sync(dir, &out, args), 1);
	tu_assert_contains(out, "not a KRL");
	free(out);
	assert_non_null(got = tu_read_file(krl, &n));
	assert_int_equal(n, v3.len);
	free(got);

	buf_free(&v3);
	buf_free(&v2);
	free(args);
	free(src);
	free(krl);
}

static void
test_program_usage(void **state)
{
	const char *dir = *state;
	char *out = NULL;

	assert_int_equal(tu_run_in(dir, &out, "%s --help", KRLSYNC), 0);
	tu_assert_contains(out, "refuses every certificate login");
	tu_assert_contains(out, "--init");
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s --version", KRLSYNC), 0);
	tu_assert_contains(out, "ephemeral-krl-sync " PACKAGE_VERSION);
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s --bogus", KRLSYNC), 2);
	tu_assert_contains(out, "usage:");
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s --timeout 0", KRLSYNC), 2);
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s --init --url https://x/", KRLSYNC), 2);
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s --init --if-configured", KRLSYNC), 2);
	tu_assert_contains(out, "--if-configured");
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s extra", KRLSYNC), 2);
	free(out);
	write_host_conf(dir);
	assert_int_equal(run_sync(dir, &out, "--url http://ca.example.com/v1/krl"), 2);
	tu_assert_contains(out, "loopback");
	free(out);
	assert_int_equal(tu_run_in(dir, &out, "%s -f '%s/none.conf' --init", KRLSYNC, dir), 2);
	tu_assert_contains(out, "host.conf");
	free(out);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide_no_krl_in_place),
	    cmocka_unit_test(test_decide_versions),
	    cmocka_unit_test(test_decide_extreme_versions),
	    cmocka_unit_test(test_decide_malformed),
	    cmocka_unit_test(test_decide_too_large),
	    cmocka_unit_test(test_url_rules),
	    cmocka_unit_test_setup_teardown(test_current_read, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_install, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_init_writes_empty_krl, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_init_leaves_existing, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_lock, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_file, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_program, tu_dir_setup, tu_dir_teardown),
	    cmocka_unit_test_setup_teardown(test_program_usage, tu_dir_setup, tu_dir_teardown),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("krlsync", tests, group_setup, group_teardown);
}

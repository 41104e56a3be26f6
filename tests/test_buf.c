/* Tests for the SSH wire buffer and base64. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "err.h"

#include "testutil.h"

/* Formatted text appends without a NUL; too long appends nothing. */
static void
test_printf(void **state)
{
	struct buf b;
	char big[600];

	(void)state;
	buf_init(&b);
	assert_int_equal(buf_printf(&b, "%s %d", "a", 42), EPH_OK);
	assert_int_equal(buf_printf(&b, "|%s", "x"), EPH_OK);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.d, "a 42|x", 6);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), EPH_ERR_TOOLARGE);
	assert_int_equal(b.len, 6);
	buf_free(&b);
}

static void
test_put_get_roundtrip(void **state)
{
	struct buf b;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;
	size_t n;
	char *s = NULL;

	buf_init(&b);
	assert_int_equal(buf_put_u8(&b, 0xab), EPH_OK);
	assert_int_equal(buf_put_u32(&b, 0x01020304), EPH_OK);
	assert_int_equal(buf_put_u64(&b, 0x0102030405060708ULL), EPH_OK);
	assert_int_equal(buf_put_cstring(&b, "ssh-ed25519"), EPH_OK);
	assert_int_equal(buf_put_string(&b, "", 0), EPH_OK);
	assert_int_equal(b.len, 1 + 4 + 8 + 4 + 11 + 4);
	/* Big-endian on the wire. */
	assert_memory_equal(b.d + 1, "\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08", 12);

	assert_int_equal(buf_get_u8(&b, &u8), EPH_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(buf_get_u32(&b, &u32), EPH_OK);
	assert_int_equal(u32, 0x01020304);
	assert_int_equal(buf_get_u64(&b, &u64), EPH_OK);
	assert_true(u64 == 0x0102030405060708ULL);
	assert_int_equal(buf_get_cstring(&b, &s, 64), EPH_OK);
	assert_string_equal(s, "ssh-ed25519");
	free(s);
	assert_int_equal(buf_get_string(&b, &p, &n, 10), EPH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(buf_remaining(&b), 0);
	assert_int_equal(buf_get_u8(&b, &u8), EPH_ERR_TRUNCATED);
	buf_free(&b);
	assert_null(b.d);
}

static void
test_bounds(void **state)
{
	/* A string claiming 0xffffffff bytes with 2 present. */
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b'};
	static const uint8_t shortstr[] = {0, 0, 0, 5, 'a', 'b'};
	static const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'b'};
	struct buf b;
	const uint8_t *p;
	size_t n;
	char *s = (char *)1;
	uint32_t u32;
	uint64_t u64;

	buf_init_view(&b, huge, sizeof(huge));
	assert_int_equal(buf_get_string(&b, &p, &n, 100), EPH_ERR_TOOLARGE);
	assert_int_equal(b.off, 0); /* failed reads consume nothing */
	assert_int_equal(buf_get_string(&b, &p, &n, UINT32_MAX), EPH_ERR_TRUNCATED);
	assert_int_equal(b.off, 0);
	assert_int_equal(buf_get_u64(&b, &u64), EPH_ERR_TRUNCATED);

	buf_init_view(&b, shortstr, sizeof(shortstr));
	assert_int_equal(buf_get_string(&b, &p, &n, 100), EPH_ERR_TRUNCATED);
	assert_int_equal(buf_get_cstring(&b, &s, 100), EPH_ERR_TRUNCATED);
	assert_null(s);

	buf_init_view(&b, nul, sizeof(nul));
	assert_int_equal(buf_get_cstring(&b, &s, 100), EPH_ERR_FORMAT);
	assert_null(s);
	assert_int_equal(buf_get_string(&b, &p, &n, 100), EPH_OK);
	assert_int_equal(n, 3);

	buf_init_view(&b, huge, 3);
	assert_int_equal(buf_get_u32(&b, &u32), EPH_ERR_TRUNCATED);
	/* Views are read-only. */
	assert_int_equal(buf_put_u8(&b, 1), EPH_ERR_INVAL);
	assert_int_equal(buf_reserve(&b, 1), EPH_ERR_INVAL);
}

static void
test_expect_and_sub(void **state)
{
	struct buf b, sub;
	uint32_t v;

	buf_init(&b);
	assert_int_equal(buf_put_cstring(&b, "abc"), EPH_OK);
	assert_int_equal(buf_put_u32(&b, 8), EPH_OK);
	assert_int_equal(buf_put_u32(&b, 7), EPH_OK);
	assert_int_equal(buf_put_u32(&b, 9), EPH_OK);
	assert_int_equal(buf_get_expect_cstring(&b, "abd"), EPH_ERR_FORMAT);
	assert_int_equal(buf_get_expect_cstring(&b, "ab"), EPH_ERR_FORMAT);
	assert_int_equal(buf_get_expect_cstring(&b, "abc"), EPH_OK);
	assert_int_equal(buf_get_stringb(&b, &sub, 100), EPH_OK);
	assert_int_equal(buf_remaining(&sub), 8);
	assert_int_equal(buf_get_u32(&sub, &v), EPH_OK);
	assert_int_equal(v, 7);
	assert_int_equal(buf_remaining(&b), 0);
	buf_free(&b);
}

static void
test_bignum(void **state)
{
	static const uint8_t hi[] = {0x80, 0x01};
	static const uint8_t lead0[] = {0x00, 0x00, 0x7f};
	struct buf b;
	const uint8_t *p;
	size_t n;
	BIGNUM *bn = NULL;

	buf_init(&b);
	/* Top bit set gets a zero pad; leading zeros are dropped. */
	assert_int_equal(buf_put_bignum2_bytes(&b, hi, sizeof(hi)), EPH_OK);
	assert_memory_equal(b.d, "\0\0\0\x03\x00\x80\x01", 7);
	assert_int_equal(buf_put_bignum2_bytes(&b, lead0, sizeof(lead0)), EPH_OK);
	assert_memory_equal(b.d + 7, "\0\0\0\x01\x7f", 5);
	assert_int_equal(buf_put_bignum2_bytes(&b, lead0, 2), EPH_OK);
	assert_memory_equal(b.d + 12, "\0\0\0\0", 4);

	assert_int_equal(buf_get_bignum2_bytes(&b, &p, &n, 2), EPH_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(p, hi, 2);
	assert_int_equal(buf_get_bignum2(&b, &bn, 2), EPH_OK);
	assert_int_equal(BN_get_word(bn), 0x7f);
	BN_free(bn);
	assert_int_equal(buf_get_bignum2_bytes(&b, &p, &n, 2), EPH_OK);
	assert_int_equal(n, 0);
	buf_free(&b);

	/* Negative, non-minimal, over the cap. */
	buf_init(&b);
	assert_int_equal(buf_put_string(&b, "\x80", 1), EPH_OK);
	assert_int_equal(buf_get_bignum2_bytes(&b, &p, &n, 8), EPH_ERR_FORMAT);
	buf_free(&b);
	buf_init(&b);
	assert_int_equal(buf_put_string(&b, "\x00\x01", 2), EPH_OK);
	assert_int_equal(buf_get_bignum2_bytes(&b, &p, &n, 8), EPH_ERR_FORMAT);
	buf_free(&b);
	buf_init(&b);
	assert_int_equal(buf_put_string(&b, "\x01\x02\x03", 3), EPH_OK);
	assert_int_equal(buf_get_bignum2_bytes(&b, &p, &n, 2), EPH_ERR_TOOLARGE);
	buf_free(&b);
}

static void
test_growth_and_cap(void **state)
{
	struct buf b;
	uint8_t chunk[4096];
	size_t i;

	memset(chunk, 0x5a, sizeof(chunk));
	buf_init(&b);
	for (i = 0; i < 64; i++)
		assert_int_equal(buf_put(&b, chunk, sizeof(chunk)), EPH_OK);
	assert_int_equal(b.len, 64 * 4096);
	assert_int_equal(b.d[b.len - 1], 0x5a);
	assert_int_equal(buf_reserve(&b, BUF_MAX_SIZE), EPH_ERR_TOOLARGE);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), EPH_ERR_TOOLARGE);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_non_null(b.d);
	buf_free(&b);
}

static void
test_b64(void **state)
{
	static const struct {
		const char *raw, *enc;
	} v[] = {
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	static const char *bad[] = {"Zg=", "Zg", "Z===", "Zm9v YmFy", "Zm9v\nYmFy",
	    "Zg==Zg==", "Zm9*", "=Zg=", "Zm=v",
	    /* "f" and "fo" with non-zero pad bits: OpenSSH refuses them. */
	    "Zh==", "Zv==", "Zm9=", "Zm+="};
	struct buf b;
	size_t i;
	char *e;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		e = b64_encode((const uint8_t *)v[i].raw, strlen(v[i].raw));
		assert_string_equal(e, v[i].enc);
		free(e);
		buf_init(&b);
		assert_int_equal(b64_decode(v[i].enc, strlen(v[i].enc), &b), EPH_OK);
		assert_int_equal(b.len, strlen(v[i].raw));
		assert_memory_equal(b.d, v[i].raw, b.len);
		buf_free(&b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_init(&b);
		assert_int_not_equal(b64_decode(bad[i], strlen(bad[i]), &b), EPH_OK);
		buf_free(&b);
	}
	buf_init(&b);
	assert_int_equal(b64_decode("", 0, &b), EPH_ERR_FORMAT);
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_put_get_roundtrip),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_expect_and_sub),
	    cmocka_unit_test(test_bignum),
	    cmocka_unit_test(test_growth_and_cap),
	    cmocka_unit_test(test_b64),
	};

	tu_init(argc, argv);
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}

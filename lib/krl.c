/* OpenSSH Key Revocation Lists (PROTOCOL.krl): the revoked set in memory,
 * its compact serialisation, a strict parser, and revocation queries. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "fileio.h"
#include "key.h"
#include "krl.h"

#define KRL_MAGIC "SSHKRL\n\0"
#define KRL_MAGIC_LEN 8
#define KRL_FORMAT_VERSION 1

#define SHA1_LEN 20
#define SHA256_LEN 32

#define KRL_KEY_NAME_MAX 64 /* key type and curve names */
#define KRL_MPINT_MAX_BYTES (16384 / 8) /* OpenSSH's SSHBUF_MAX_BIGNUM */

struct serial_range {
	uint64_t lo, hi; /* inclusive */
};

/*
 * Revocations scoped to one CA key (or to every CA). Serial ranges are
 * sorted, disjoint and never adjacent; key ids are sorted and unique, so
 * both are searched by bisection and written in canonical order. (While
 * krl_parse runs they are only appended to, and sorted at its end.)
 */
struct krl_ca {
	int any;
	struct key *key; /* NULL when any, or a key type we do not accept */
	uint8_t *blob; /* CA public key blob as written in the KRL */
	size_t blob_len;
	struct serial_range *ranges;
	size_t nranges, ranges_cap;
	char **ids;
	size_t nids, ids_cap;
};

/* Sorted, unique fixed-width hashes of revoked public key blobs. */
struct hash_set {
	uint8_t *d;
	size_t n, cap; /* in entries */
	size_t width;
};

struct krl {
	uint64_t version;
	uint64_t generated_date;
	uint64_t flags;
	char *comment;
	struct krl_ca *cas;
	size_t ncas, cas_cap;
	struct hash_set sha1; /* only ever filled by the parser */
	struct hash_set sha256; /* also holds explicit key sections */
	size_t nentries; /* ranges + key ids + hashes, capped */
};

/* Grow the array *arrp (of elements of size) to hold need elements. */
static int
array_reserve(void *arrp, size_t *cap, size_t need, size_t size)
{
	void *old, *np;
	size_t ncap;

	if (need <= *cap)
		return EPH_OK;
	ncap = *cap < 16 ? 16 : *cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / size)
			return EPH_ERR_NOMEM;
		ncap *= 2;
	}
	memcpy(&old, arrp, sizeof(old));
	if ((np = realloc(old, ncap * size)) == NULL)
		return EPH_ERR_NOMEM;
	memcpy(arrp, &np, sizeof(np));
	*cap = ncap;
	return EPH_OK;
}

static int
room_for_entry(const struct krl *k)
{
	return k->nentries < KRL_MAX_ENTRIES ? EPH_OK : EPH_ERR_TOOLARGE;
}

/* ------------------------------------------------------------ serials */

/* Index of the first range with hi >= v (nranges when none). */
static size_t
ranges_search(const struct krl_ca *ca, uint64_t v)
{
	size_t a = 0, b = ca->nranges, m;

	while (a < b) {
		m = a + (b - a) / 2;
		if (ca->ranges[m].hi < v)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

static int
ranges_contain(const struct krl_ca *ca, uint64_t serial)
{
	size_t i = ranges_search(ca, serial);

	return i < ca->nranges && ca->ranges[i].lo <= serial;
}

uint64_t
krl_max_serial(const struct krl *k)
{
	uint64_t max = 0;
	size_t i, j;

	if (k == NULL)
		return 0;
	/* Ranges are not sorted until krl_parse ends; look at every one. */
	for (i = 0; i < k->ncas; i++)
		for (j = 0; j < k->cas[i].nranges; j++)
			if (k->cas[i].ranges[j].hi > max)
				max = k->cas[i].ranges[j].hi;
	return max;
}

static int
cmp_range_lo(const void *a, const void *b)
{
	const struct krl_serial_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : (x->lo > y->lo);
}

int
krl_serial_ranges(const struct krl *k, struct krl_serial_range **out, size_t *n)
{
	struct krl_serial_range *v = NULL;
	size_t i, j, total = 0, m = 0;

	if (k == NULL || out == NULL || n == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	*n = 0;
	for (i = 0; i < k->ncas; i++)
		total += k->cas[i].nranges;
	if (total == 0)
		return EPH_OK;
	if ((v = calloc(total, sizeof(*v))) == NULL)
		return EPH_ERR_NOMEM;
	for (i = 0; i < k->ncas; i++)
		for (j = 0; j < k->cas[i].nranges; j++) {
			v[m].lo = k->cas[i].ranges[j].lo;
			v[m].hi = k->cas[i].ranges[j].hi;
			m++;
		}
	qsort(v, m, sizeof(*v), cmp_range_lo);
	/* Merge overlapping and adjacent ranges of different CAs. */
	for (i = 1, j = 0; i < m; i++) {
		if (v[j].hi != UINT64_MAX && v[i].lo <= v[j].hi + 1) {
			if (v[i].hi > v[j].hi)
				v[j].hi = v[i].hi;
		} else
			v[++j] = v[i];
	}
	*out = v;
	*n = j + 1;
	return EPH_OK;
}

/* Insert [lo, hi] keeping the ranges sorted and merged. */
static int
ranges_insert(struct krl *k, struct krl_ca *ca, uint64_t lo, uint64_t hi)
{
	struct serial_range *rs;
	size_t i, j, gone;
	int r;

	/* First range that [lo, hi] overlaps or abuts (lo >= 1). */
	i = ranges_search(ca, lo - 1);
	for (j = i; j < ca->nranges; j++) {
		rs = &ca->ranges[j];
		if (hi != UINT64_MAX && rs->lo > hi + 1)
			break;
		if (rs->lo < lo)
			lo = rs->lo;
		if (rs->hi > hi)
			hi = rs->hi;
	}
	if (j > i) {
		gone = j - i - 1;
		ca->ranges[i].lo = lo;
		ca->ranges[i].hi = hi;
		memmove(
		    &ca->ranges[i + 1], &ca->ranges[j], (ca->nranges - j) * sizeof(*ca->ranges));
		ca->nranges -= gone;
		k->nentries -= gone;
		return EPH_OK;
	}
	if ((r = room_for_entry(k)) != EPH_OK ||
	    (r = array_reserve(
	         &ca->ranges, &ca->ranges_cap, ca->nranges + 1, sizeof(*ca->ranges))) != EPH_OK)
		return r;
	memmove(&ca->ranges[i + 1], &ca->ranges[i], (ca->nranges - i) * sizeof(*ca->ranges));
	ca->ranges[i].lo = lo;
	ca->ranges[i].hi = hi;
	ca->nranges++;
	k->nentries++;
	return EPH_OK;
}

/*
 * The parser appends and sorts once at the end: inserting in the order a
 * hostile file dictates could cost a quadratic number of moves.
 */
static int
ranges_append(struct krl *k, struct krl_ca *ca, uint64_t lo, uint64_t hi)
{
	struct serial_range *last;
	int r;

	if (ca->nranges > 0) {
		last = &ca->ranges[ca->nranges - 1];
		if (lo >= last->lo && (last->hi == UINT64_MAX || lo <= last->hi + 1)) {
			if (hi > last->hi)
				last->hi = hi;
			return EPH_OK;
		}
	}
	if ((r = room_for_entry(k)) != EPH_OK ||
	    (r = array_reserve(
	         &ca->ranges, &ca->ranges_cap, ca->nranges + 1, sizeof(*ca->ranges))) != EPH_OK)
		return r;
	ca->ranges[ca->nranges].lo = lo;
	ca->ranges[ca->nranges].hi = hi;
	ca->nranges++;
	k->nentries++;
	return EPH_OK;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct serial_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

static void
ranges_normalize(struct krl *k, struct krl_ca *ca)
{
	struct serial_range *cur;
	size_t i, o;

	if (ca->nranges < 2)
		return;
	qsort(ca->ranges, ca->nranges, sizeof(*ca->ranges), range_cmp);
	for (o = 0, i = 1; i < ca->nranges; i++) {
		cur = &ca->ranges[o];
		if (cur->hi == UINT64_MAX || ca->ranges[i].lo <= cur->hi + 1) {
			if (ca->ranges[i].hi > cur->hi)
				cur->hi = ca->ranges[i].hi;
		} else
			ca->ranges[++o] = ca->ranges[i];
	}
	k->nentries -= ca->nranges - (o + 1);
	ca->nranges = o + 1;
}

/* ------------------------------------------------------------ key ids */

/* Position of id, or where it would go; 1 when present. */
static int
ids_find(const struct krl_ca *ca, const char *id, size_t *pos)
{
	size_t a = 0, b = ca->nids, m;
	int c;

	while (a < b) {
		m = a + (b - a) / 2;
		c = strcmp(ca->ids[m], id);
		if (c == 0) {
			*pos = m;
			return 1;
		}
		if (c < 0)
			a = m + 1;
		else
			b = m;
	}
	*pos = a;
	return 0;
}

static int
ids_insert(struct krl *k, struct krl_ca *ca, const char *id)
{
	size_t pos;
	char *copy;
	int r;

	if (ids_find(ca, id, &pos))
		return EPH_OK;
	if ((r = room_for_entry(k)) != EPH_OK ||
	    (r = array_reserve(&ca->ids, &ca->ids_cap, ca->nids + 1, sizeof(*ca->ids))) != EPH_OK)
		return r;
	if ((copy = strdup(id)) == NULL)
		return EPH_ERR_NOMEM;
	memmove(&ca->ids[pos + 1], &ca->ids[pos], (ca->nids - pos) * sizeof(*ca->ids));
	ca->ids[pos] = copy;
	ca->nids++;
	k->nentries++;
	return EPH_OK;
}

/* Parser path: take ownership of *idp, sort later. */
static int
ids_append(struct krl *k, struct krl_ca *ca, char **idp)
{
	int r;

	if ((r = room_for_entry(k)) != EPH_OK ||
	    (r = array_reserve(&ca->ids, &ca->ids_cap, ca->nids + 1, sizeof(*ca->ids))) != EPH_OK)
		return r;
	ca->ids[ca->nids++] = *idp;
	*idp = NULL;
	k->nentries++;
	return EPH_OK;
}

static int
id_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

static void
ids_normalize(struct krl *k, struct krl_ca *ca)
{
	size_t i, o;

	if (ca->nids < 2)
		return;
	qsort(ca->ids, ca->nids, sizeof(*ca->ids), id_cmp);
	for (o = 0, i = 1; i < ca->nids; i++) {
		if (strcmp(ca->ids[o], ca->ids[i]) == 0)
			free(ca->ids[i]);
		else
			ca->ids[++o] = ca->ids[i];
	}
	k->nentries -= ca->nids - (o + 1);
	ca->nids = o + 1;
}

/* ------------------------------------------------------------- hashes */

static int
hashes_find(const struct hash_set *h, const uint8_t *d, size_t *pos)
{
	size_t a = 0, b = h->n, m;
	int c;

	while (a < b) {
		m = a + (b - a) / 2;
		c = memcmp(h->d + m * h->width, d, h->width);
		if (c == 0) {
			*pos = m;
			return 1;
		}
		if (c < 0)
			a = m + 1;
		else
			b = m;
	}
	*pos = a;
	return 0;
}

static int
hashes_insert(struct krl *k, struct hash_set *h, const uint8_t *d)
{
	size_t pos;
	int r;

	if (hashes_find(h, d, &pos))
		return EPH_OK;
	if ((r = room_for_entry(k)) != EPH_OK ||
	    (r = array_reserve(&h->d, &h->cap, h->n + 1, h->width)) != EPH_OK)
		return r;
	memmove(h->d + (pos + 1) * h->width, h->d + pos * h->width, (h->n - pos) * h->width);
	memcpy(h->d + pos * h->width, d, h->width);
	h->n++;
	k->nentries++;
	return EPH_OK;
}

static int
hashes_append(struct krl *k, struct hash_set *h, const uint8_t *d)
{
	int r;

	if ((r = room_for_entry(k)) != EPH_OK ||
	    (r = array_reserve(&h->d, &h->cap, h->n + 1, h->width)) != EPH_OK)
		return r;
	memcpy(h->d + h->n * h->width, d, h->width);
	h->n++;
	k->nentries++;
	return EPH_OK;
}

static int
sha1_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SHA1_LEN);
}

static int
sha256_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SHA256_LEN);
}

static void
hashes_normalize(struct krl *k, struct hash_set *h)
{
	size_t i, o;

	if (h->n < 2)
		return;
	qsort(h->d, h->n, h->width, h->width == SHA1_LEN ? sha1_cmp : sha256_cmp);
	for (o = 0, i = 1; i < h->n; i++) {
		if (memcmp(h->d + o * h->width, h->d + i * h->width, h->width) != 0) {
			o++;
			memmove(h->d + o * h->width, h->d + i * h->width, h->width);
		}
	}
	k->nentries -= h->n - (o + 1);
	h->n = o + 1;
}

static int
digest(const EVP_MD *md, const uint8_t *d, size_t n, uint8_t *out)
{
	if (EVP_Digest(d, n, out, NULL, md, NULL) != 1)
		return EPH_ERR_CRYPTO;
	return EPH_OK;
}

/* --------------------------------------------------------- lifecycle */

int
krl_new(struct krl **out)
{
	struct krl *k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return EPH_ERR_NOMEM;
	k->sha1.width = SHA1_LEN;
	k->sha256.width = SHA256_LEN;
	/* Callers that want a reproducible KRL set the date themselves. */
	k->generated_date = (uint64_t)time(NULL);
	*out = k;
	return EPH_OK;
}

static void
ca_clear(struct krl_ca *ca)
{
	size_t i;

	key_free(ca->key);
	free(ca->blob);
	free(ca->ranges);
	for (i = 0; i < ca->nids; i++)
		free(ca->ids[i]);
	free(ca->ids);
	memset(ca, 0, sizeof(*ca));
}

void
krl_free(struct krl *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->ncas; i++)
		ca_clear(&k->cas[i]);
	free(k->cas);
	free(k->sha1.d);
	free(k->sha256.d);
	free(k->comment);
	free(k);
}

void
krl_set_version(struct krl *k, uint64_t version)
{
	k->version = version;
}

void
krl_set_generated_date(struct krl *k, uint64_t when)
{
	k->generated_date = when;
}

int
krl_set_comment(struct krl *k, const char *comment)
{
	char *copy = NULL;

	if (k == NULL)
		return EPH_ERR_INVAL;
	if (comment != NULL && (copy = strdup(comment)) == NULL)
		return EPH_ERR_NOMEM;
	free(k->comment);
	k->comment = copy;
	return EPH_OK;
}

uint64_t
krl_version(const struct krl *k)
{
	return k->version;
}

uint64_t
krl_generated_date(const struct krl *k)
{
	return k->generated_date;
}

const char *
krl_comment(const struct krl *k)
{
	return k->comment == NULL ? "" : k->comment;
}

/* ----------------------------------------------------------- CA scope */

/*
 * CA keys are matched by their public key blob as key_put_public writes
 * it (the comparison key_equal_public makes), computed once per call
 * rather than once per CA.
 */
static struct krl_ca *
ca_find_blob(const struct krl *k, const uint8_t *blob, size_t n)
{
	size_t i;

	for (i = 0; i < k->ncas; i++) {
		if (!k->cas[i].any && k->cas[i].blob_len == n &&
		    memcmp(k->cas[i].blob, blob, n) == 0)
			return &k->cas[i];
	}
	return NULL;
}

static struct krl_ca *
ca_find_any(const struct krl *k)
{
	size_t i;

	for (i = 0; i < k->ncas; i++) {
		if (k->cas[i].any)
			return &k->cas[i];
	}
	return NULL;
}

/* A new scope; takes over key and the blob of b (ca NULL: any CA). */
static int
ca_new(struct krl *k, struct key **key, struct buf *b, struct krl_ca **out)
{
	struct krl_ca *rc;
	int r;

	*out = NULL;
	if (k->ncas >= KRL_MAX_CAS)
		return EPH_ERR_TOOLARGE;
	if ((r = array_reserve(&k->cas, &k->cas_cap, k->ncas + 1, sizeof(*k->cas))) != EPH_OK)
		return r;
	rc = &k->cas[k->ncas++];
	memset(rc, 0, sizeof(*rc));
	if (b == NULL) {
		rc->any = 1;
	} else {
		rc->key = *key;
		*key = NULL;
		rc->blob = b->d;
		rc->blob_len = b->len;
		buf_init(b);
	}
	*out = rc;
	return EPH_OK;
}

/* The scope for revocations added through the API (ca NULL: any CA). */
static int
ca_for_add(struct krl *k, const struct key *ca, struct krl_ca **out)
{
	struct key *dup = NULL;
	struct buf blob;
	int r;

	buf_init(&blob);
	if (ca == NULL) {
		if ((*out = ca_find_any(k)) != NULL)
			return EPH_OK;
		return ca_new(k, NULL, NULL, out);
	}
	if ((r = key_put_public(ca, &blob)) != EPH_OK)
		goto out;
	if ((*out = ca_find_blob(k, blob.d, blob.len)) != NULL) {
		r = EPH_OK;
		goto out;
	}
	if ((r = key_dup_public(ca, &dup)) != EPH_OK || (r = ca_new(k, &dup, &blob, out)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	key_free(dup);
	buf_free(&blob);
	return r;
}

/* An mpint as OpenSSH's sshbuf_get_bignum2 reads it: not negative, at
 * most 16384 bits (plus a leading zero byte). */
static int
get_sshd_mpint(struct buf *b)
{
	const uint8_t *p;
	size_t n;
	int r;

	if ((r = buf_get_string(b, &p, &n, KRL_MPINT_MAX_BYTES + 1)) != EPH_OK)
		return r;
	if (n > 0 && (p[0] & 0x80) != 0)
		return EPH_ERR_FORMAT;
	if (n == KRL_MPINT_MAX_BYTES + 1 && p[0] != 0)
		return EPH_ERR_TOOLARGE;
	return EPH_OK;
}

/*
 * A CA key of a type OpenSSH 9.2 reads but we do not implement: DSA.
 * EPH_OK when the blob is one that sshd's sshkey_from_blob accepts; any
 * other blob is an error, as it is to sshd. (The FIDO key types parse as
 * keys; certificates, which sshd also reads here, are refused.)
 */
static int
foreign_ca_check(const uint8_t *d, size_t n)
{
	struct buf b;
	char *name = NULL;
	int r, i;

	buf_init_view(&b, d, n);
	if ((r = buf_get_cstring(&b, &name, KRL_KEY_NAME_MAX)) != EPH_OK)
		goto out;
	if (strcmp(name, "ssh-dss") != 0) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	/* p, q, g, y: sshd checks no more than their encoding. */
	for (i = 0; i < 4; i++) {
		if ((r = get_sshd_mpint(&b)) != EPH_OK)
			goto out;
	}
	if (buf_remaining(&b) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}
	r = EPH_OK;
out:
	free(name);
	return r;
}

/*
 * The scope for a certificate section being parsed. A CA key that does
 * not parse refuses the whole KRL, as sshd refuses it: a corrupt key type
 * must not silently drop the revocations under it. Only a well-formed key
 * of a type sshd reads but we do not implement (DSA) is kept, by its
 * blob: no certificate we accept can be signed by it, so its
 * section never matches, and refusing the KRL over it would refuse logins
 * sshd allows.
 */
static int
ca_for_parse(struct krl *k, const uint8_t *d, size_t n, struct krl_ca **out)
{
	struct key *key = NULL;
	struct buf blob;
	int r;

	buf_init(&blob);
	if (n == 0) {
		if ((*out = ca_find_any(k)) != NULL)
			return EPH_OK;
		return ca_new(k, NULL, NULL, out);
	}
	/* Most sections repeat a CA already seen, byte for byte. */
	if ((*out = ca_find_blob(k, d, n)) != NULL)
		return EPH_OK;
	r = key_from_blob(d, n, &key);
	if (r == EPH_OK) {
		if ((r = key_put_public(key, &blob)) != EPH_OK)
			goto out;
		if ((*out = ca_find_blob(k, blob.d, blob.len)) != NULL) {
			r = EPH_OK;
			goto out;
		}
	} else if (r == EPH_ERR_KEYTYPE) {
		if ((r = foreign_ca_check(d, n)) != EPH_OK || (r = buf_put(&blob, d, n)) != EPH_OK)
			goto out;
	} else
		goto out;
	if ((r = ca_new(k, &key, &blob, out)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	key_free(key);
	buf_free(&blob);
	return r;
}

/* ---------------------------------------------------------- revoking */

int
krl_add_serial(struct krl *k, const struct key *ca, uint64_t serial)
{
	return krl_add_serial_range(k, ca, serial, serial);
}

int
krl_add_serial_range(struct krl *k, const struct key *ca, uint64_t lo, uint64_t hi)
{
	struct krl_ca *rc;
	int r;

	/* Serial 0 means "no serial" to ssh-keygen and sshd. */
	if (k == NULL || lo == 0 || lo > hi)
		return EPH_ERR_INVAL;
	if ((r = ca_for_add(k, ca, &rc)) != EPH_OK)
		return r;
	return ranges_insert(k, rc, lo, hi);
}

int
krl_add_key_id(struct krl *k, const struct key *ca, const char *key_id)
{
	struct krl_ca *rc;
	int r;

	if (k == NULL || key_id == NULL)
		return EPH_ERR_INVAL;
	if ((r = ca_for_add(k, ca, &rc)) != EPH_OK)
		return r;
	return ids_insert(k, rc, key_id);
}

static int
key_hash(const struct key *key, const EVP_MD *md, uint8_t *out)
{
	struct buf blob;
	int r;

	buf_init(&blob);
	if ((r = key_put_public(key, &blob)) == EPH_OK)
		r = digest(md, blob.d, blob.len, out);
	buf_free(&blob);
	return r;
}

int
krl_add_key(struct krl *k, const struct key *key)
{
	uint8_t h[SHA256_LEN];
	int r;

	if (k == NULL || key == NULL)
		return EPH_ERR_INVAL;
	if ((r = key_hash(key, EVP_sha256(), h)) != EPH_OK)
		return r;
	return hashes_insert(k, &k->sha256, h);
}

/* ------------------------------------------------------ serialisation */

/*
 * Bit-cost model for the encoding of the next run of contiguous serials,
 * the one ssh-keygen uses, so our KRLs are no larger than its own:
 *  - list: 64 bits a serial, 8 to open a section;
 *  - range: one 128-bit range per section, 8 for the type;
 *  - bitmap: one bit a serial plus the gap since the previous run; 72
 *    (type and 64-bit offset) to open one.
 * Each also pays an estimate of what the next run will cost to append.
 * Returns the chosen subsection type; *restart asks for a fresh bitmap.
 */
static int
serial_choose(
    int cur, uint64_t contig, int final, uint64_t last_gap, uint64_t next_gap, int *restart)
{
	const uint64_t clamp = 1ULL << 31, open_bm = 8 + 64;
	uint64_t tail, bm_tail, c_list, c_range, c_bitmap, c_fresh, best;
	int pick;

	/* Clamped so that nothing below overflows. */
	contig = contig < clamp ? contig : clamp;
	last_gap = last_gap < clamp ? last_gap : clamp;
	next_gap = next_gap < clamp ? next_gap : clamp;

	tail = final ? 0 : 8 + 64;
	bm_tail = final ? 0 : (next_gap < open_bm ? next_gap : open_bm);
	c_list = (cur == KRL_SECTION_CERT_SERIAL_LIST ? 0 : 8) + 64 * contig + tail;
	c_range = 8 + 2 * 64 + tail;
	c_bitmap =
	    (cur == KRL_SECTION_CERT_SERIAL_BITMAP ? 0 : open_bm) + last_gap + contig + bm_tail;
	c_fresh = open_bm + contig + bm_tail;

	c_list = (c_list + 7) / 8;
	c_range = (c_range + 7) / 8;
	c_bitmap = (c_bitmap + 7) / 8;
	c_fresh = (c_fresh + 7) / 8;

	*restart = 0;
	pick = KRL_SECTION_CERT_SERIAL_BITMAP;
	best = c_bitmap;
	if (c_range < best) {
		pick = KRL_SECTION_CERT_SERIAL_RANGE;
		best = c_range;
	}
	if (c_list < best) {
		pick = KRL_SECTION_CERT_SERIAL_LIST;
		best = c_list;
	}
	if (c_fresh < best) {
		pick = KRL_SECTION_CERT_SERIAL_BITMAP;
		*restart = 1;
	}
	return pick;
}

/* One certificate subsection under construction. */
struct subsect {
	int type; /* 0: none open */
	struct buf body;
	uint64_t bm_start;
	size_t bm_top;
	uint8_t bm[KRL_BITMAP_MAX_BITS / 8]; /* bit i at bm[i / 8] & 1 << i % 8 */
};

static int
subsect_close(struct subsect *s, struct buf *out)
{
	uint8_t mag[KRL_BITMAP_MAX_BITS / 8];
	size_t i, nbytes;
	int r;

	if (s->type == KRL_SECTION_CERT_SERIAL_BITMAP) {
		/* mpint magnitude is big-endian: highest bits first. */
		nbytes = s->bm_top / 8 + 1;
		for (i = 0; i < nbytes; i++)
			mag[nbytes - 1 - i] = s->bm[i];
		if ((r = buf_put_bignum2_bytes(&s->body, mag, nbytes)) != EPH_OK)
			return r;
	}
	if ((r = buf_put_u8(out, (uint8_t)s->type)) != EPH_OK ||
	    (r = buf_put_stringb(out, &s->body)) != EPH_OK)
		return r;
	buf_reset(&s->body);
	s->type = 0;
	return EPH_OK;
}

static int
subsect_open(struct subsect *s, int type, uint64_t lo)
{
	s->type = type;
	if (type != KRL_SECTION_CERT_SERIAL_BITMAP)
		return EPH_OK;
	memset(s->bm, 0, sizeof(s->bm));
	s->bm_start = lo;
	s->bm_top = 0;
	return buf_put_u64(&s->body, lo);
}

static int
subsect_add(struct subsect *s, uint64_t lo, uint64_t hi)
{
	uint64_t v;
	size_t bit;
	int r;

	switch (s->type) {
	case KRL_SECTION_CERT_SERIAL_LIST:
		for (v = lo;; v++) {
			if ((r = buf_put_u64(&s->body, v)) != EPH_OK)
				return r;
			if (v == hi)
				break;
		}
		return EPH_OK;
	case KRL_SECTION_CERT_SERIAL_RANGE:
		if ((r = buf_put_u64(&s->body, lo)) != EPH_OK)
			return r;
		return buf_put_u64(&s->body, hi);
	default: /* bitmap; the caller keeps hi - bm_start in bounds */
		for (bit = (size_t)(lo - s->bm_start);; bit++) {
			s->bm[bit / 8] |= (uint8_t)(1u << (bit % 8));
			if (bit == (size_t)(hi - s->bm_start))
				break;
		}
		s->bm_top = (size_t)(hi - s->bm_start);
		return EPH_OK;
	}
}

static int
put_cert_section(const struct krl_ca *ca, struct buf *out)
{
	struct subsect *s = NULL;
	struct buf sect;
	uint64_t lo, hi, last_hi = 0, last_gap, next_gap;
	size_t i;
	int r, next, restart, final;

	buf_init(&sect);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	buf_init(&s->body);
	if ((r = buf_put_string(&sect, ca->blob, ca->any ? 0 : ca->blob_len)) != EPH_OK ||
	    (r = buf_put_string(&sect, NULL, 0)) != EPH_OK)
		goto out;

	for (i = 0; i < ca->nranges; i++) {
		lo = ca->ranges[i].lo;
		hi = ca->ranges[i].hi;
		final = i + 1 == ca->nranges;
		next_gap = final ? 0 : ca->ranges[i + 1].lo - hi;
		last_gap = s->type == 0 ? 0 : lo - last_hi;
		next = serial_choose(s->type, hi - lo + 1, final, last_gap, next_gap, &restart);
		/* OpenSSH cannot read a wider bitmap: start another. */
		if (next == KRL_SECTION_CERT_SERIAL_BITMAP) {
			if (hi - lo >= KRL_BITMAP_MAX_BITS)
				next = KRL_SECTION_CERT_SERIAL_RANGE;
			else if (s->type == KRL_SECTION_CERT_SERIAL_BITMAP &&
			    hi - s->bm_start >= KRL_BITMAP_MAX_BITS)
				restart = 1;
		}
		/* A range subsection holds exactly one range. */
		if (s->type != 0 &&
		    (restart || next != s->type || s->type == KRL_SECTION_CERT_SERIAL_RANGE)) {
			if ((r = subsect_close(s, &sect)) != EPH_OK)
				goto out;
		}
		if (s->type == 0 && (r = subsect_open(s, next, lo)) != EPH_OK)
			goto out;
		if ((r = subsect_add(s, lo, hi)) != EPH_OK)
			goto out;
		last_hi = hi;
	}
	if (s->type != 0 && (r = subsect_close(s, &sect)) != EPH_OK)
		goto out;

	if (ca->nids > 0) {
		for (i = 0; i < ca->nids; i++) {
			if ((r = buf_put_cstring(&s->body, ca->ids[i])) != EPH_OK)
				goto out;
		}
		s->type = KRL_SECTION_CERT_KEY_ID;
		if ((r = subsect_close(s, &sect)) != EPH_OK)
			goto out;
	}
	if ((r = buf_put_u8(out, KRL_SECTION_CERTIFICATES)) != EPH_OK ||
	    (r = buf_put_stringb(out, &sect)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	if (s != NULL) {
		buf_free(&s->body);
		free(s);
	}
	buf_free(&sect);
	return r;
}

static int
put_hash_section(const struct hash_set *h, uint8_t type, struct buf *out)
{
	struct buf sect;
	size_t i;
	int r;

	if (h->n == 0)
		return EPH_OK;
	buf_init(&sect);
	for (i = 0; i < h->n; i++) {
		if ((r = buf_put_string(&sect, h->d + i * h->width, h->width)) != EPH_OK)
			goto out;
	}
	if ((r = buf_put_u8(out, type)) != EPH_OK || (r = buf_put_stringb(out, &sect)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&sect);
	return r;
}

int
krl_serialize(const struct krl *k, struct buf *out)
{
	size_t i, start;
	int r;

	if (k == NULL || out == NULL)
		return EPH_ERR_INVAL;
	start = out->len;
	if ((r = buf_put(out, KRL_MAGIC, KRL_MAGIC_LEN)) != EPH_OK ||
	    (r = buf_put_u32(out, KRL_FORMAT_VERSION)) != EPH_OK ||
	    (r = buf_put_u64(out, k->version)) != EPH_OK ||
	    (r = buf_put_u64(out, k->generated_date)) != EPH_OK ||
	    (r = buf_put_u64(out, k->flags)) != EPH_OK ||
	    (r = buf_put_string(out, NULL, 0)) != EPH_OK ||
	    (r = buf_put_cstring(out, krl_comment(k))) != EPH_OK)
		goto out;
	for (i = 0; i < k->ncas; i++) {
		if (k->cas[i].nranges == 0 && k->cas[i].nids == 0)
			continue;
		if ((r = put_cert_section(&k->cas[i], out)) != EPH_OK)
			goto out;
	}
	/* Same section order as ssh-keygen: certificates, SHA-1, SHA-256. */
	if ((r = put_hash_section(&k->sha1, KRL_SECTION_FINGERPRINT_SHA1, out)) != EPH_OK ||
	    (r = put_hash_section(&k->sha256, KRL_SECTION_FINGERPRINT_SHA256, out)) != EPH_OK)
		goto out;
	if (out->len - start > KRL_MAX_SIZE) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	r = EPH_OK;
out:
	if (r != EPH_OK) {
		/* Leave out as it was: no half-written KRL. */
		out->len = start;
	}
	return r;
}

/* ------------------------------------------------------------ parsing */

static int
parse_serial_list(struct krl *k, struct krl_ca *ca, struct buf *sub)
{
	uint64_t s, prev = 0;
	int r;

	while (buf_remaining(sub) > 0) {
		if ((r = buf_get_u64(sub, &s)) != EPH_OK)
			return r;
		if (s == 0)
			return EPH_ERR_FORMAT;
		/* ssh-keygen writes lists ascending; anything else is forged
		 * or corrupt. */
		if (s <= prev)
			return EPH_ERR_UNSORTED;
		prev = s;
		if ((r = ranges_append(k, ca, s, s)) != EPH_OK)
			return r;
	}
	return EPH_OK;
}

static int
parse_serial_range(struct krl *k, struct krl_ca *ca, struct buf *sub)
{
	uint64_t lo, hi;
	int r;

	if ((r = buf_get_u64(sub, &lo)) != EPH_OK || (r = buf_get_u64(sub, &hi)) != EPH_OK)
		return r;
	if (lo == 0 || lo > hi)
		return EPH_ERR_FORMAT;
	return ranges_append(k, ca, lo, hi);
}

static int
parse_serial_bitmap(struct krl *k, struct krl_ca *ca, struct buf *sub)
{
	const uint8_t *p;
	uint64_t off, run = 0;
	size_t n, i, nbits;
	int r, set, inrun = 0;
	uint8_t byte;

	if ((r = buf_get_u64(sub, &off)) != EPH_OK ||
	    (r = buf_get_bignum2_bytes(sub, &p, &n, KRL_BITMAP_MAX_BITS / 8)) != EPH_OK)
		return r;
	/* Bit i (from the least significant end) revokes serial off + i;
	 * walk the bits upwards and record runs of set bits. */
	nbits = n * 8;
	for (i = 0; i <= nbits; i++) {
		if (i == nbits)
			set = 0;
		else {
			byte = p[n - 1 - i / 8];
			if (!inrun && i % 8 == 0 && byte == 0) {
				i += 7;
				continue;
			}
			set = (byte >> (i % 8)) & 1;
		}
		if (set && !inrun) {
			if ((uint64_t)i > UINT64_MAX - off)
				return EPH_ERR_FORMAT; /* wraps past 2^64 */
			if (off + i == 0)
				return EPH_ERR_FORMAT; /* serial 0 */
			run = off + i;
			inrun = 1;
		} else if (set && (uint64_t)i > UINT64_MAX - off)
			return EPH_ERR_FORMAT;
		else if (!set && inrun) {
			if ((r = ranges_append(k, ca, run, off + (i - 1))) != EPH_OK)
				return r;
			inrun = 0;
		}
	}
	return EPH_OK;
}

static int
parse_key_ids(struct krl *k, struct krl_ca *ca, struct buf *sub)
{
	char *id = NULL;
	int r;

	/* PROTOCOL.krl: at least one key id. */
	if (buf_remaining(sub) == 0)
		return EPH_ERR_FORMAT;
	while (buf_remaining(sub) > 0) {
		if ((r = buf_get_cstring(sub, &id, KRL_MAX_SIZE)) != EPH_OK)
			return r;
		if ((r = ids_append(k, ca, &id)) != EPH_OK) {
			free(id);
			return r;
		}
	}
	return EPH_OK;
}

static int
parse_cert_section(struct krl *k, struct buf *sect)
{
	struct krl_ca *ca;
	struct buf sub;
	const uint8_t *blob;
	size_t blen;
	uint8_t type;
	int r;

	if ((r = buf_get_string(sect, &blob, &blen, KEY_BLOB_MAX)) != EPH_OK ||
	    (r = buf_get_string(sect, NULL, NULL, KRL_MAX_SIZE)) != EPH_OK)
		return r;
	if ((r = ca_for_parse(k, blob, blen, &ca)) != EPH_OK)
		return r;
	while (buf_remaining(sect) > 0) {
		if ((r = buf_get_u8(sect, &type)) != EPH_OK ||
		    (r = buf_get_stringb(sect, &sub, KRL_MAX_SIZE)) != EPH_OK)
			return r;
		switch (type) {
		case KRL_SECTION_CERT_SERIAL_LIST: r = parse_serial_list(k, ca, &sub); break;
		case KRL_SECTION_CERT_SERIAL_RANGE: r = parse_serial_range(k, ca, &sub); break;
		case KRL_SECTION_CERT_SERIAL_BITMAP: r = parse_serial_bitmap(k, ca, &sub); break;
		case KRL_SECTION_CERT_KEY_ID: r = parse_key_ids(k, ca, &sub); break;
		/* sshd 9.2 refuses extension subsections, critical or not:
		 * so do we, or a KRL sshd rejects would work here. */
		case KRL_SECTION_CERT_EXTENSION: r = EPH_ERR_UNKNOWN_OPTION; break;
		default: r = EPH_ERR_FORMAT; break;
		}
		if (r != EPH_OK)
			return r;
		if (buf_remaining(&sub) != 0)
			return EPH_ERR_TRAILING;
	}
	return EPH_OK;
}

/*
 * Explicit public key blobs. Revoking a blob is the same as revoking the
 * SHA-256 of it (OpenSSH hashes the same plain blob), so they join the
 * SHA-256 set and are written back as such.
 */
static int
parse_explicit_keys(struct krl *k, struct buf *sect)
{
	const uint8_t *blob;
	uint8_t h[SHA256_LEN];
	size_t n;
	int r;

	if (buf_remaining(sect) == 0)
		return EPH_ERR_FORMAT;
	while (buf_remaining(sect) > 0) {
		if ((r = buf_get_string(sect, &blob, &n, KEY_BLOB_MAX)) != EPH_OK)
			return r;
		if (n == 0)
			return EPH_ERR_FORMAT;
		if ((r = digest(EVP_sha256(), blob, n, h)) != EPH_OK ||
		    (r = hashes_append(k, &k->sha256, h)) != EPH_OK)
			return r;
	}
	return EPH_OK;
}

static int
parse_hashes(struct krl *k, struct hash_set *h, struct buf *sect)
{
	const uint8_t *d, *prev = NULL;
	size_t n;
	int r;

	if (buf_remaining(sect) == 0)
		return EPH_ERR_FORMAT;
	while (buf_remaining(sect) > 0) {
		if ((r = buf_get_string(sect, &d, &n, h->width)) != EPH_OK)
			return r == EPH_ERR_TOOLARGE ? EPH_ERR_FORMAT : r;
		if (n != h->width)
			return EPH_ERR_FORMAT;
		/* PROTOCOL.krl: hashes in numeric (big-endian) order. */
		if (prev != NULL && memcmp(prev, d, n) >= 0)
			return EPH_ERR_UNSORTED;
		prev = d;
		if ((r = hashes_append(k, h, d)) != EPH_OK)
			return r;
	}
	return EPH_OK;
}

int
krl_parse(const uint8_t *d, size_t n, struct krl **out)
{
	struct krl *k = NULL;
	struct buf b, sect;
	uint8_t magic[KRL_MAGIC_LEN], type;
	uint32_t format;
	size_t i;
	int r;

	if (out == NULL || (d == NULL && n != 0))
		return EPH_ERR_INVAL;
	*out = NULL;
	if (n > KRL_MAX_SIZE)
		return EPH_ERR_TOOLARGE;
	buf_init_view(&b, d, n);
	if ((r = krl_new(&k)) != EPH_OK)
		goto out;
	if ((r = buf_get(&b, magic, sizeof(magic))) != EPH_OK)
		goto out;
	if (memcmp(magic, KRL_MAGIC, KRL_MAGIC_LEN) != 0) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_get_u32(&b, &format)) != EPH_OK)
		goto out;
	if (format != KRL_FORMAT_VERSION) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	/* No flags are defined; they are kept, like the reserved string is
	 * skipped, so that a future writer's additions do not break us. */
	if ((r = buf_get_u64(&b, &k->version)) != EPH_OK ||
	    (r = buf_get_u64(&b, &k->generated_date)) != EPH_OK ||
	    (r = buf_get_u64(&b, &k->flags)) != EPH_OK ||
	    (r = buf_get_string(&b, NULL, NULL, KRL_MAX_SIZE)) != EPH_OK ||
	    (r = buf_get_cstring(&b, &k->comment, KRL_MAX_SIZE)) != EPH_OK)
		goto out;

	while (buf_remaining(&b) > 0) {
		if ((r = buf_get_u8(&b, &type)) != EPH_OK)
			goto out;
		/*
		 * Signature sections are refused: OpenSSH dropped KRL
		 * signatures (9.4 refuses such KRLs; PROTOCOL.krl recommends
		 * SSHSIG instead), sshd never required one, and a signature
		 * nobody checks against a trusted key proves nothing. Hosts
		 * get their KRL by trusted means.
		 */
		if (type == KRL_SECTION_SIGNATURE) {
			r = EPH_ERR_FORMAT;
			goto out;
		}
		if ((r = buf_get_stringb(&b, &sect, KRL_MAX_SIZE)) != EPH_OK)
			goto out;
		switch (type) {
		case KRL_SECTION_CERTIFICATES: r = parse_cert_section(k, &sect); break;
		case KRL_SECTION_EXPLICIT_KEY: r = parse_explicit_keys(k, &sect); break;
		case KRL_SECTION_FINGERPRINT_SHA1: r = parse_hashes(k, &k->sha1, &sect); break;
		case KRL_SECTION_FINGERPRINT_SHA256: r = parse_hashes(k, &k->sha256, &sect); break;
		/* As in sshd 9.2, which knows no extension section. */
		case KRL_SECTION_EXTENSION: r = EPH_ERR_UNKNOWN_OPTION; break;
		default: r = EPH_ERR_FORMAT; break;
		}
		if (r != EPH_OK)
			goto out;
		if (buf_remaining(&sect) != 0) {
			r = EPH_ERR_TRAILING;
			goto out;
		}
	}

	for (i = 0; i < k->ncas; i++) {
		ranges_normalize(k, &k->cas[i]);
		ids_normalize(k, &k->cas[i]);
	}
	hashes_normalize(k, &k->sha1);
	hashes_normalize(k, &k->sha256);
	*out = k;
	k = NULL;
	r = EPH_OK;
out:
	krl_free(k);
	return r;
}

int
krl_load(const char *path, struct krl **out)
{
	struct buf b;
	int r;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	buf_init(&b);
	if ((r = file_read_all(path, KRL_MAX_SIZE, FILE_CHECK_TRUSTED, &b)) != EPH_OK)
		goto out;
	if ((r = krl_parse(b.d, b.len, out)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&b);
	return r;
}

/* ----------------------------------------------------------- queries */

int
krl_check_key(const struct krl *k, const struct key *key)
{
	uint8_t h[SHA256_LEN];
	size_t pos;
	int r;

	if (k == NULL || key == NULL)
		return EPH_ERR_INVAL;
	if (k->sha256.n > 0) {
		if ((r = key_hash(key, EVP_sha256(), h)) != EPH_OK)
			return r;
		if (hashes_find(&k->sha256, h, &pos))
			return EPH_ERR_REVOKED;
	}
	/* SHA-1 only when the KRL has such entries (from older writers). */
	if (k->sha1.n > 0) {
		if ((r = key_hash(key, EVP_sha1(), h)) != EPH_OK)
			return r;
		if (hashes_find(&k->sha1, h, &pos))
			return EPH_ERR_REVOKED;
	}
	return EPH_OK;
}

static int
ca_revokes(const struct krl_ca *ca, const struct cert *c)
{
	size_t pos;

	if (ids_find(ca, c->key_id, &pos))
		return 1;
	/* Serial 0 is "none" (ssh-keygen's default): never revoked by it. */
	return c->serial != 0 && ranges_contain(ca, c->serial);
}

int
krl_check_cert(const struct krl *k, const struct cert *c)
{
	const struct krl_ca *ca;
	struct buf blob;
	size_t i;
	int r;

	if (k == NULL || c == NULL || c->key == NULL || c->signature_key == NULL ||
	    c->key_id == NULL)
		return EPH_ERR_INVAL;
	buf_init(&blob);
	if ((r = krl_check_key(k, c->key)) != EPH_OK ||
	    (r = krl_check_key(k, c->signature_key)) != EPH_OK ||
	    (r = key_put_public(c->signature_key, &blob)) != EPH_OK)
		goto out;
	for (i = 0; i < k->ncas; i++) {
		ca = &k->cas[i];
		/* Sections of CA keys we do not accept (key NULL) never
		 * match: such a CA cannot have signed c. */
		if (!ca->any &&
		    (ca->key == NULL || ca->blob_len != blob.len ||
		        memcmp(ca->blob, blob.d, blob.len) != 0))
			continue;
		if (ca_revokes(ca, c)) {
			r = EPH_ERR_REVOKED;
			goto out;
		}
	}
	r = EPH_OK;
out:
	buf_free(&blob);
	return r;
}

/*
 * OpenSSH certificates (PROTOCOL.certkeys): building, signing, strict
 * parsing and verification, and the checks a host makes on a certificate.
 *
 * The parser is stricter than OpenSSH where strictness cannot refuse a
 * certificate ssh-keygen makes: options must be sorted and unique (but
 * for a flag extension repeated, which ssh-keygen writes), known options
 * must be well formed, the reserved field must be empty and no byte may
 * follow the signature.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "b64.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"

#define CERT_NONCE_LEN 32
#define CERT_TYPE_NAME_MAX 64 /* longest cert-v01 type name with room */
#define CERT_SIG_MAX 4096 /* RSA-16384 signature plus its framing */
#define CERT_LINE_FILE_MAX (1024u * 1024u) /* as OpenSSH's key files */
/* OpenSSH refuses longer source-address entries (INET6_ADDRSTRLEN + 3). */
#define CERT_CIDR_ENTRY_MAX (INET6_ADDRSTRLEN + 3)

/* Extensions sshd knows; each is a flag and sshd refuses one with data. */
static const char *const flag_extensions[] = {
    "no-touch-required",
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
};

/* What ssh-keygen -s adds unless told otherwise. */
const char *const cert_default_extensions[] = {
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
    NULL,
};

static int
is_flag_extension(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(flag_extensions) / sizeof(*flag_extensions); i++)
		if (strcmp(name, flag_extensions[i]) == 0)
			return 1;
	return 0;
}

static int
is_known_critical(const char *name)
{
	return strcmp(name, CERT_OPT_FORCE_COMMAND) == 0 ||
	    strcmp(name, CERT_OPT_SOURCE_ADDRESS) == 0 ||
	    strcmp(name, CERT_OPT_VERIFY_REQUIRED) == 0;
}

/*
 * A signed or parsed certificate stops being one once it is changed;
 * forgetting the blob keeps cert_format_line from writing stale bytes.
 */
static void
cert_invalidate(struct cert *c)
{
	buf_free(&c->blob);
	c->signed_len = 0;
}

int
cert_new(struct cert **out)
{
	struct cert *c = NULL;
	int r = EPH_ERR_NOMEM;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	buf_init(&c->blob);
	c->type = CERT_TYPE_USER;
	c->valid_after = 0;
	c->valid_before = CERT_FOREVER;
	if ((c->nonce = malloc(CERT_NONCE_LEN)) == NULL)
		goto out;
	c->nonce_len = CERT_NONCE_LEN;
	if (RAND_bytes(c->nonce, CERT_NONCE_LEN) != 1) {
		r = EPH_ERR_CRYPTO;
		goto out;
	}
	*out = c;
	c = NULL;
	r = EPH_OK;
out:
	cert_free(c);
	return r;
}

static void
opts_free(struct cert_opt *o, size_t n)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(o[i].name);
		free(o[i].data);
	}
	free(o);
}

void
cert_free(struct cert *c)
{
	size_t i;

	if (c == NULL)
		return;
	key_free(c->key);
	free(c->nonce);
	free(c->key_id);
	for (i = 0; i < c->nprincipals; i++)
		free(c->principals[i]);
	free(c->principals);
	opts_free(c->critical, c->ncritical);
	opts_free(c->extensions, c->nextensions);
	key_free(c->signature_key);
	free(c->sig_alg);
	buf_free(&c->blob);
	free(c);
}

int
cert_set_key(struct cert *c, const struct key *subject)
{
	struct key *k = NULL;
	int r;

	if (c == NULL || subject == NULL)
		return EPH_ERR_INVAL;
	if ((r = key_dup_public(subject, &k)) != EPH_OK)
		return r;
	key_free(c->key);
	c->key = k;
	cert_invalidate(c);
	return EPH_OK;
}

int
cert_add_principal(struct cert *c, const char *principal)
{
	char **tmp, *p;
	size_t i, len;

	if (c == NULL || principal == NULL || *principal == '\0')
		return EPH_ERR_INVAL;
	len = strlen(principal);
	if (len > CERT_MAX_PRINCIPAL_LEN || c->nprincipals >= CERT_MAX_PRINCIPALS)
		return EPH_ERR_TOOLARGE;
	for (i = 0; i < c->nprincipals; i++)
		if (strcmp(c->principals[i], principal) == 0)
			return EPH_ERR_DUPLICATE;
	if ((p = strdup(principal)) == NULL)
		return EPH_ERR_NOMEM;
	tmp = realloc(c->principals, (c->nprincipals + 1) * sizeof(*tmp));
	if (tmp == NULL) {
		free(p);
		return EPH_ERR_NOMEM;
	}
	c->principals = tmp;
	c->principals[c->nprincipals++] = p;
	cert_invalidate(c);
	return EPH_OK;
}

/*
 * Unwrap a double-wrapped option value: exactly one string. Truncation
 * is EPH_ERR_FORMAT, bytes after the string EPH_ERR_TRAILING.
 */
static int
opt_unwrap(const uint8_t *d, size_t len, const uint8_t **p, size_t *n)
{
	struct buf b;
	int r;

	buf_init_view(&b, d, len);
	if ((r = buf_get_string(&b, p, n, len)) != EPH_OK)
		return EPH_ERR_FORMAT;
	if (buf_remaining(&b) != 0)
		return EPH_ERR_TRAILING;
	return EPH_OK;
}

/*
 * One source-address entry: an IPv4 or IPv6 address with an optional
 * prefix length, no host bits set beyond the prefix (as sshd demands).
 */
static int
cidr_entry_valid(const char *s, size_t len)
{
	char addr[CERT_CIDR_ENTRY_MAX + 1];
	uint8_t bin[16];
	const char *slash;
	size_t alen, i, nbytes;
	unsigned long mask, maxmask;
	int af;

	if (len == 0 || len > CERT_CIDR_ENTRY_MAX)
		return 0;
	/* The same alphabet sshd allows; s is not NUL-terminated. */
	for (i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF.:/", s[i]) == NULL || s[i] == '\0')
			return 0;
	slash = memchr(s, '/', len);
	alen = slash != NULL ? (size_t)(slash - s) : len;
	if (alen == 0)
		return 0;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1) {
		af = AF_INET;
		maxmask = 32;
	} else if (inet_pton(AF_INET6, addr, bin) == 1) {
		af = AF_INET6;
		maxmask = 128;
	} else
		return 0;
	mask = maxmask;
	if (slash != NULL) {
		const char *m = slash + 1;
		size_t mlen = len - alen - 1;

		if (mlen == 0 || mlen > 3)
			return 0;
		mask = 0;
		for (i = 0; i < mlen; i++) {
			if (m[i] < '0' || m[i] > '9')
				return 0;
			mask = mask * 10 + (unsigned long)(m[i] - '0');
		}
		if (mask > maxmask)
			return 0;
	}
	/* A network with host bits set is a typo sshd refuses; so do we. */
	nbytes = af == AF_INET ? 4 : 16;
	for (i = 0; i < nbytes; i++) {
		unsigned long bit0 = (unsigned long)i * 8;
		uint8_t hostmask;

		if (bit0 + 8 <= mask)
			continue;
		if (bit0 >= mask)
			hostmask = 0xff;
		else
			hostmask = (uint8_t)(0xffu >> (mask - bit0));
		if ((bin[i] & hostmask) != 0)
			return 0;
	}
	return 1;
}

/* A comma-separated list of CIDR entries, none empty. */
static int
source_address_valid(const uint8_t *v, size_t n)
{
	const char *s = (const char *)v, *comma;
	size_t len;

	if (n == 0 || memchr(v, '\0', n) != NULL)
		return 0;
	for (;;) {
		comma = memchr(s, ',', n);
		len = comma != NULL ? (size_t)(comma - s) : n;
		if (!cidr_entry_valid(s, len))
			return 0;
		if (comma == NULL)
			return 1;
		s = comma + 1;
		n -= len + 1;
	}
}

/*
 * Check one option's data the way sshd reads it, so we never accept (or
 * issue) a certificate sshd would refuse. Unknown extensions carry
 * arbitrary data; the grant extension must be one string.
 */
static int
opt_check(int critical, const char *name, const uint8_t *data, size_t len)
{
	const uint8_t *v;
	size_t vn;
	int r;

	if (critical) {
		if (!is_known_critical(name))
			return EPH_ERR_UNKNOWN_OPTION;
		if (strcmp(name, CERT_OPT_VERIFY_REQUIRED) == 0)
			return len == 0 ? EPH_OK : EPH_ERR_TRAILING;
		if ((r = opt_unwrap(data, len, &v, &vn)) != EPH_OK)
			return r;
		if (vn == 0 || memchr(v, '\0', vn) != NULL)
			return EPH_ERR_FORMAT;
		if (strcmp(name, CERT_OPT_SOURCE_ADDRESS) == 0 && !source_address_valid(v, vn))
			return EPH_ERR_FORMAT;
		return EPH_OK;
	}
	if (is_flag_extension(name))
		return len == 0 ? EPH_OK : EPH_ERR_TRAILING;
	if (strcmp(name, GRANT_EXTENSION) == 0)
		return opt_unwrap(data, len, &v, &vn);
	return EPH_OK;
}

/* Insert keeping the list sorted by name; EPH_ERR_DUPLICATE if present. */
static int
opts_insert(struct cert_opt **list, size_t *nlist, const char *name, const void *value, size_t n)
{
	struct cert_opt *tmp, o = {NULL, NULL, 0};
	struct buf w;
	size_t i;
	int r, cmp;

	buf_init(&w);
	if (*nlist >= CERT_MAX_OPTIONS) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	for (i = 0; i < *nlist; i++) {
		cmp = strcmp((*list)[i].name, name);
		if (cmp == 0) {
			r = EPH_ERR_DUPLICATE;
			goto out;
		}
		if (cmp > 0)
			break;
	}
	if (value != NULL) {
		if (n > CERT_MAX_OPTION_DATA_LEN - 4) {
			r = EPH_ERR_TOOLARGE;
			goto out;
		}
		if ((r = buf_put_string(&w, value, n)) != EPH_OK)
			goto out;
		if ((o.data = malloc(w.len)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		memcpy(o.data, w.d, w.len);
		o.len = w.len;
	}
	if ((o.name = strdup(name)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((tmp = realloc(*list, (*nlist + 1) * sizeof(*tmp))) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	*list = tmp;
	memmove(&tmp[i + 1], &tmp[i], (*nlist - i) * sizeof(*tmp));
	tmp[i] = o;
	(*nlist)++;
	o.name = NULL;
	o.data = NULL;
	r = EPH_OK;
out:
	free(o.name);
	free(o.data);
	buf_free(&w);
	return r;
}

/* Value checks for adding: a flag must be NULL, a valued option not. */
static int
opt_add(struct cert *c, int critical, const char *name, const void *value, size_t n)
{
	int r;

	struct grant g;

	if (c == NULL || name == NULL || *name == '\0' || (value == NULL && n != 0))
		return EPH_ERR_INVAL;
	if (strlen(name) > CERT_MAX_OPTION_NAME_LEN)
		return EPH_ERR_TOOLARGE;
	if (critical) {
		if (!is_known_critical(name))
			return EPH_ERR_UNKNOWN_OPTION;
		if ((strcmp(name, CERT_OPT_VERIFY_REQUIRED) == 0) != (value == NULL))
			return EPH_ERR_INVAL;
		if (value != NULL && (n == 0 || memchr(value, '\0', n) != NULL))
			return EPH_ERR_INVAL;
		if (strcmp(name, CERT_OPT_SOURCE_ADDRESS) == 0 && !source_address_valid(value, n))
			return EPH_ERR_FORMAT;
	} else {
		if (is_flag_extension(name) && value != NULL)
			return EPH_ERR_INVAL;
		/* Never issue a grant the hosts could not read. */
		if (strcmp(name, GRANT_EXTENSION) == 0) {
			if (value == NULL)
				return EPH_ERR_INVAL;
			if (grant_decode(value, n, &g) != EPH_OK)
				return EPH_ERR_FORMAT;
			grant_clear(&g);
		}
	}
	if (critical)
		r = opts_insert(&c->critical, &c->ncritical, name, value, n);
	else
		r = opts_insert(&c->extensions, &c->nextensions, name, value, n);
	if (r == EPH_OK)
		cert_invalidate(c);
	return r;
}

int
cert_add_critical(struct cert *c, const char *name, const void *value, size_t n)
{
	return opt_add(c, 1, name, value, n);
}

int
cert_add_extension(struct cert *c, const char *name, const void *value, size_t n)
{
	return opt_add(c, 0, name, value, n);
}

int
cert_add_default_extensions(struct cert *c)
{
	size_t i;
	int r;

	if (c == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; cert_default_extensions[i] != NULL; i++) {
		if (cert_find_extension(c, cert_default_extensions[i]) != NULL)
			continue;
		if ((r = cert_add_extension(c, cert_default_extensions[i], NULL, 0)) != EPH_OK)
			return r;
	}
	return EPH_OK;
}

static const struct cert_opt *
opts_find(const struct cert_opt *list, size_t n, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

const struct cert_opt *
cert_find_critical(const struct cert *c, const char *name)
{
	if (c == NULL)
		return NULL;
	return opts_find(c->critical, c->ncritical, name);
}

const struct cert_opt *
cert_find_extension(const struct cert *c, const char *name)
{
	if (c == NULL)
		return NULL;
	return opts_find(c->extensions, c->nextensions, name);
}

int
cert_opt_value(const struct cert_opt *o, const uint8_t **p, size_t *n)
{
	int r;

	if (o == NULL || p == NULL || n == NULL)
		return EPH_ERR_INVAL;
	if (o->len == 0)
		return EPH_ERR_NOTFOUND;
	if ((r = opt_unwrap(o->data, o->len, p, n)) != EPH_OK)
		return EPH_ERR_FORMAT;
	return EPH_OK;
}

/*
 * The algorithm a signature blob names must belong to the CA key's
 * type; SHA-1 RSA is refused outright.
 */
static int
sig_alg_check(enum key_type t, const char *alg)
{
	const char *want = NULL;

	switch (t) {
	case KEY_ED25519: want = "ssh-ed25519"; break;
	case KEY_ECDSA_P256: want = "ecdsa-sha2-nistp256"; break;
	case KEY_ECDSA_P384: want = "ecdsa-sha2-nistp384"; break;
	case KEY_ECDSA_P521: want = "ecdsa-sha2-nistp521"; break;
	case KEY_RSA:
		if (strcmp(alg, "rsa-sha2-256") == 0 || strcmp(alg, "rsa-sha2-512") == 0)
			return EPH_OK;
		if (strcmp(alg, "ssh-rsa") == 0)
			return EPH_ERR_WEAKKEY;
		return EPH_ERR_SIGNATURE;
	default: return EPH_ERR_KEYTYPE;
	}
	return strcmp(alg, want) == 0 ? EPH_OK : EPH_ERR_SIGNATURE;
}

static int
put_options(struct buf *b, const struct cert_opt *list, size_t n)
{
	struct buf sec;
	size_t i;
	int r;

	buf_init(&sec);
	for (i = 0; i < n; i++) {
		if ((r = buf_put_cstring(&sec, list[i].name)) != EPH_OK ||
		    (r = buf_put_string(&sec, list[i].data, list[i].len)) != EPH_OK)
			goto out;
	}
	if ((r = buf_put_stringb(b, &sec)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	buf_free(&sec);
	return r;
}

int
cert_sign(struct cert *c, const struct key *ca, const char *alg)
{
	struct buf b, sec, sig;
	struct key *capub = NULL;
	char *alg_copy = NULL;
	size_t i, signed_len;
	int r;

	buf_init(&b);
	buf_init(&sec);
	buf_init(&sig);
	if (ca != NULL && key_type_is_sk(ca->type)) {
		r = EPH_ERR_KEYTYPE; /* FIDO keys are never CA keys here */
		goto out;
	}
	if (c == NULL || ca == NULL || c->key == NULL || c->nonce == NULL || !ca->has_private) {
		r = EPH_ERR_INVAL;
		goto out;
	}
	if ((c->type != CERT_TYPE_USER && c->type != CERT_TYPE_HOST) ||
	    c->valid_after >= c->valid_before || c->nonce_len == 0 ||
	    c->nonce_len > CERT_MAX_NONCE_LEN) {
		r = EPH_ERR_INVAL;
		goto out;
	}
	if (c->key_id != NULL && strlen(c->key_id) > CERT_MAX_KEY_ID_LEN) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}
	if (alg == NULL)
		alg = key_default_sig_alg(ca->type);
	if (alg == NULL) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = sig_alg_check(ca->type, alg)) != EPH_OK) {
		/* Asking to sign with a foreign algorithm, as key_sign says. */
		if (r == EPH_ERR_SIGNATURE)
			r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (key_cert_type_name(c->key->type) == NULL) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	/* Keys need not come through a parser: never certify, or sign with,
	 * one that OpenSSH would refuse to read back. */
	if ((r = key_check_public(c->key)) != EPH_OK || (r = key_check_public(ca)) != EPH_OK)
		goto out;
	if ((alg_copy = strdup(alg)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r = key_dup_public(ca, &capub)) != EPH_OK)
		goto out;

	if ((r = buf_put_cstring(&b, key_cert_type_name(c->key->type))) != EPH_OK ||
	    (r = buf_put_string(&b, c->nonce, c->nonce_len)) != EPH_OK ||
	    (r = key_put_public_fields(c->key, &b)) != EPH_OK ||
	    (r = buf_put_u64(&b, c->serial)) != EPH_OK ||
	    (r = buf_put_u32(&b, c->type)) != EPH_OK ||
	    (r = buf_put_cstring(&b, c->key_id != NULL ? c->key_id : "")) != EPH_OK)
		goto out;
	for (i = 0; i < c->nprincipals; i++)
		if ((r = buf_put_cstring(&sec, c->principals[i])) != EPH_OK)
			goto out;
	if ((r = buf_put_stringb(&b, &sec)) != EPH_OK ||
	    (r = buf_put_u64(&b, c->valid_after)) != EPH_OK ||
	    (r = buf_put_u64(&b, c->valid_before)) != EPH_OK ||
	    (r = put_options(&b, c->critical, c->ncritical)) != EPH_OK ||
	    (r = put_options(&b, c->extensions, c->nextensions)) != EPH_OK ||
	    (r = buf_put_string(&b, NULL, 0)) != EPH_OK) /* reserved */
		goto out;
	buf_reset(&sec);
	if ((r = key_put_public(capub, &sec)) != EPH_OK ||
	    (r = buf_put_stringb(&b, &sec)) != EPH_OK)
		goto out;
	signed_len = b.len;
	if ((r = key_sign(ca, alg, b.d, signed_len, &sig)) != EPH_OK ||
	    (r = buf_put_stringb(&b, &sig)) != EPH_OK)
		goto out;
	/* Never issue what our own parser (and its caps) would refuse. */
	if (b.len > CERT_MAX_SIZE) {
		r = EPH_ERR_TOOLARGE;
		goto out;
	}

	buf_free(&c->blob);
	c->blob = b;
	buf_init(&b);
	c->signed_len = signed_len;
	key_free(c->signature_key);
	c->signature_key = capub;
	capub = NULL;
	free(c->sig_alg);
	c->sig_alg = alg_copy;
	alg_copy = NULL;
	r = EPH_OK;
out:
	buf_free(&b);
	buf_free(&sec);
	buf_free(&sig);
	key_free(capub);
	free(alg_copy);
	return r;
}

/*
 * A section is a length-delimited string, so running short inside one is
 * a malformed section, not a truncated certificate.
 */
static int
section_err(int r)
{
	return r == EPH_ERR_TRUNCATED ? EPH_ERR_FORMAT : r;
}

static int
parse_principals(struct buf *sec, struct cert *c)
{
	char *p = NULL;
	char **tmp;
	int r;

	while (buf_remaining(sec) > 0) {
		if (c->nprincipals >= CERT_MAX_PRINCIPALS) {
			r = EPH_ERR_TOOLARGE;
			goto out;
		}
		if ((r = buf_get_cstring(sec, &p, CERT_MAX_SIZE)) != EPH_OK) {
			r = section_err(r);
			goto out;
		}
		tmp = realloc(c->principals, (c->nprincipals + 1) * sizeof(*tmp));
		if (tmp == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		c->principals = tmp;
		c->principals[c->nprincipals++] = p;
		p = NULL;
	}
	r = EPH_OK;
out:
	free(p);
	return r;
}

/*
 * One options section: name/data pairs, sorted by name, unique, each
 * checked as sshd would read it. ssh-keygen repeats a flag extension
 * given both by default and with -O extension:NAME, and sshd takes that;
 * the repeat is skipped here, so the list stays unique and nothing
 * encoded from it repeats an option.
 */
static int
parse_options(struct buf *sec, int critical, struct cert_opt **list, size_t *nlist)
{
	struct cert_opt *tmp;
	char *name = NULL;
	const uint8_t *data;
	size_t len, cap = *nlist;
	int r, cmp;

	while (buf_remaining(sec) > 0) {
		if ((r = buf_get_cstring(sec, &name, CERT_MAX_SIZE)) != EPH_OK ||
		    (r = buf_get_string(sec, &data, &len, CERT_MAX_SIZE)) != EPH_OK) {
			r = section_err(r);
			goto out;
		}
		if (*name == '\0') {
			r = EPH_ERR_FORMAT;
			goto out;
		}
		if (*nlist > 0) {
			cmp = strcmp((*list)[*nlist - 1].name, name);
			if (cmp == 0 && !critical && len == 0 && (*list)[*nlist - 1].len == 0) {
				free(name);
				name = NULL;
				continue;
			}
			if (cmp == 0) {
				r = EPH_ERR_DUPLICATE;
				goto out;
			}
			if (cmp > 0) {
				r = EPH_ERR_UNSORTED;
				goto out;
			}
		}
		if ((r = opt_check(critical, name, data, len)) != EPH_OK)
			goto out;
		/* Grow geometrically: a section may hold thousands. */
		if (*nlist == cap) {
			cap = cap < 8 ? 8 : cap * 2;
			if ((tmp = realloc(*list, cap * sizeof(*tmp))) == NULL) {
				r = EPH_ERR_NOMEM;
				goto out;
			}
			*list = tmp;
		}
		tmp = *list;
		tmp[*nlist].name = name;
		tmp[*nlist].data = NULL;
		tmp[*nlist].len = 0;
		name = NULL;
		(*nlist)++;
		if (len > 0) {
			if ((tmp[*nlist - 1].data = malloc(len)) == NULL) {
				r = EPH_ERR_NOMEM;
				goto out;
			}
			memcpy(tmp[*nlist - 1].data, data, len);
			tmp[*nlist - 1].len = len;
		}
	}
	r = EPH_OK;
out:
	free(name);
	return r;
}

/*
 * The CA key: a plain public key, never a certificate, and never a FIDO
 * key: we do not verify their signatures, and our CAs do not use them.
 */
static int
parse_signature_key(const uint8_t *d, size_t n, struct key **out)
{
	struct buf b;
	char *name = NULL;
	enum key_type t;
	int r, is_cert = 0;

	buf_init_view(&b, d, n);
	if ((r = buf_get_cstring(&b, &name, CERT_TYPE_NAME_MAX)) != EPH_OK)
		goto out;
	if ((t = key_type_from_name(name, &is_cert)) == KEY_UNSPEC || is_cert ||
	    key_type_is_sk(t)) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if ((r = key_from_blob(d, n, out)) != EPH_OK)
		goto out;
	r = EPH_OK;
out:
	free(name);
	return r;
}

static int
cert_parse_blob(const uint8_t *d, size_t n, int verify, struct cert **out)
{
	struct cert *c = NULL;
	struct buf b, sec, sigb;
	char *name = NULL, *salg = NULL;
	const uint8_t *p, *sig;
	size_t len, siglen, signed_len;
	enum key_type t;
	const char *valg = NULL;
	int r, is_cert = 0;

	if (out == NULL || (d == NULL && n != 0))
		return EPH_ERR_INVAL;
	*out = NULL;
	if (n > CERT_MAX_SIZE)
		return EPH_ERR_TOOLARGE;
	buf_init_view(&b, d, n);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return EPH_ERR_NOMEM;
	buf_init(&c->blob);

	if ((r = buf_get_cstring(&b, &name, CERT_TYPE_NAME_MAX)) != EPH_OK)
		goto out;
	if ((t = key_type_from_name(name, &is_cert)) == KEY_UNSPEC) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (!is_cert) {
		r = EPH_ERR_CERTTYPE;
		goto out;
	}
	if ((r = buf_get_string(&b, &p, &len, CERT_MAX_SIZE)) != EPH_OK)
		goto out;
	if (len > 0) {
		if ((c->nonce = malloc(len)) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		memcpy(c->nonce, p, len);
	}
	c->nonce_len = len;
	if ((r = key_get_public_fields(t, &b, &c->key)) != EPH_OK ||
	    (r = buf_get_u64(&b, &c->serial)) != EPH_OK ||
	    (r = buf_get_u32(&b, &c->type)) != EPH_OK ||
	    (r = buf_get_cstring(&b, &c->key_id, CERT_MAX_SIZE)) != EPH_OK)
		goto out;
	if (c->type != CERT_TYPE_USER && c->type != CERT_TYPE_HOST) {
		r = EPH_ERR_CERTTYPE;
		goto out;
	}
	if ((r = buf_get_stringb(&b, &sec, CERT_MAX_SIZE)) != EPH_OK ||
	    (r = parse_principals(&sec, c)) != EPH_OK ||
	    (r = buf_get_u64(&b, &c->valid_after)) != EPH_OK ||
	    (r = buf_get_u64(&b, &c->valid_before)) != EPH_OK ||
	    (r = buf_get_stringb(&b, &sec, CERT_MAX_SIZE)) != EPH_OK ||
	    (r = parse_options(&sec, 1, &c->critical, &c->ncritical)) != EPH_OK ||
	    (r = buf_get_stringb(&b, &sec, CERT_MAX_SIZE)) != EPH_OK ||
	    (r = parse_options(&sec, 0, &c->extensions, &c->nextensions)) != EPH_OK)
		goto out;
	/* OpenSSH skips the reserved field; nothing defines it, so we want
	 * it empty rather than signed-but-ignored data. */
	if ((r = buf_get_string(&b, &p, &len, CERT_MAX_SIZE)) != EPH_OK)
		goto out;
	if (len != 0) {
		r = EPH_ERR_FORMAT;
		goto out;
	}
	if ((r = buf_get_string(&b, &p, &len, KEY_BLOB_MAX)) != EPH_OK ||
	    (r = parse_signature_key(p, len, &c->signature_key)) != EPH_OK)
		goto out;
	signed_len = b.off;
	if ((r = buf_get_string(&b, &sig, &siglen, CERT_SIG_MAX)) != EPH_OK)
		goto out;
	if (buf_remaining(&b) != 0) {
		r = EPH_ERR_TRAILING;
		goto out;
	}

	buf_init_view(&sigb, sig, siglen);
	if ((r = buf_get_cstring(&sigb, &salg, CERT_TYPE_NAME_MAX)) != EPH_OK)
		goto out;
	if ((r = sig_alg_check(c->signature_key->type, salg)) != EPH_OK)
		goto out;
	if (verify &&
	    (r = key_verify(c->signature_key, sig, siglen, d, signed_len, &valg)) != EPH_OK)
		goto out;
	if ((c->sig_alg = strdup(valg != NULL ? valg : salg)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if ((r = buf_put(&c->blob, d, n)) != EPH_OK)
		goto out;
	c->signed_len = signed_len;
	*out = c;
	c = NULL;
	r = EPH_OK;
out:
	free(name);
	free(salg);
	cert_free(c);
	return r;
}

int
cert_parse(const uint8_t *d, size_t n, struct cert **out)
{
	return cert_parse_blob(d, n, 1, out);
}

static int
cert_parse_line_blob(const char *line, int verify, struct cert **out, char **comment_out)
{
	struct buf blob;
	char *type = NULL, *comment = NULL;
	int r, is_cert = 0;

	buf_init(&blob);
	if (out == NULL || line == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if (comment_out != NULL)
		*comment_out = NULL;
	if ((r = publine_parse(line, &type, &blob, &comment)) != EPH_OK)
		goto out;
	if (key_type_from_name(type, &is_cert) == KEY_UNSPEC) {
		r = EPH_ERR_KEYTYPE;
		goto out;
	}
	if (!is_cert) {
		r = EPH_ERR_CERTTYPE;
		goto out;
	}
	if ((r = cert_parse_blob(blob.d, blob.len, verify, out)) != EPH_OK)
		goto out;
	if (comment_out != NULL) {
		*comment_out = comment;
		comment = NULL;
	}
	r = EPH_OK;
out:
	free(type);
	free(comment);
	buf_free(&blob);
	return r;
}

int
cert_parse_line(const char *line, struct cert **out, char **comment_out)
{
	return cert_parse_line_blob(line, 1, out, comment_out);
}

int
cert_decode_line(const char *line, struct cert **out)
{
	return cert_parse_line_blob(line, 0, out, NULL);
}

int
cert_load(const char *path, struct cert **out, char **comment_out)
{
	char *line = NULL;
	int r;

	if (path == NULL || out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if (comment_out != NULL)
		*comment_out = NULL;
	if ((r = publine_load(path, CERT_LINE_FILE_MAX, &line)) != EPH_OK)
		return r;
	r = cert_parse_line(line, out, comment_out);
	free(line);
	return r;
}

int
cert_format_line(const struct cert *c, const char *comment, char **out)
{
	char *b64 = NULL, *s = NULL;
	const char *type;
	size_t len;
	int r;

	if (c == NULL || out == NULL || c->key == NULL || c->blob.len == 0 || c->signed_len == 0)
		return EPH_ERR_INVAL;
	*out = NULL;
	if (comment != NULL && strpbrk(comment, "\r\n") != NULL)
		return EPH_ERR_INVAL;
	if ((type = key_cert_type_name(c->key->type)) == NULL)
		return EPH_ERR_KEYTYPE;
	if ((b64 = b64_encode(c->blob.d, c->blob.len)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	len = strlen(type) + 1 + strlen(b64) + 1 +
	    (comment != NULL && *comment != '\0' ? strlen(comment) + 1 : 0);
	if ((s = malloc(len)) == NULL) {
		r = EPH_ERR_NOMEM;
		goto out;
	}
	if (comment != NULL && *comment != '\0')
		snprintf(s, len, "%s %s %s", type, b64, comment);
	else
		snprintf(s, len, "%s %s", type, b64);
	*out = s;
	s = NULL;
	r = EPH_OK;
out:
	free(b64);
	free(s);
	return r;
}

int
cert_check_ca(const struct cert *c, const struct key *ca)
{
	if (c == NULL || ca == NULL)
		return EPH_ERR_INVAL;
	if (c->signature_key == NULL || c->signed_len == 0)
		return EPH_ERR_CA_MISMATCH;
	return key_equal_public(c->signature_key, ca) ? EPH_OK : EPH_ERR_CA_MISMATCH;
}

int
cert_check_validity(const struct cert *c, uint64_t now)
{
	if (c == NULL)
		return EPH_ERR_INVAL;
	if (now < c->valid_after)
		return EPH_ERR_NOTYETVALID;
	if (now >= c->valid_before)
		return EPH_ERR_EXPIRED;
	return EPH_OK;
}

int
cert_check_principal(const struct cert *c, const char *name)
{
	size_t i;

	if (c == NULL || name == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; i < c->nprincipals; i++)
		if (strcmp(c->principals[i], name) == 0)
			return EPH_OK;
	return EPH_ERR_PRINCIPAL;
}

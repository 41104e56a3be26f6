/*
 * Fuzz target for the KRL parser: parse, and for whatever parses,
 * re-serialise (the output must parse back to the same bytes) and ask
 * both copies the same revocation questions.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "key.h"
#include "krl.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Fixed Ed25519 public key blobs: the subject and the CA of the
 * certificate asked about; the seed corpus revokes both kinds. */
static const char subject_blob[] =
    "\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
    "\x39\x2e\x0d\xae\x1f\xed\x00\xf1\x23\x0c\x3b\xdb\xf7\x56\x42\x85"
    "\x53\x50\x08\x2e\x2a\xb1\x4b\x07\xea\xad\xb3\x6c\xbd\xf8\x67\xd9";
static const char ca_blob[] = "\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
                              "\x00\xb0\x4f\x26\xdc\xbf\x1d\xca\x06\x8c\x64\x98\xee\xe0\x32\x86"
                              "\x90\x5e\x38\x95\x93\xca\x99\x5f\xbf\x31\xa4\xe5\x8e\xc8\x49\x6b";

static const uint64_t serials[] = {0, 1, 5, 100, 150, 1000, 5001, UINT64_MAX};

/* One bit per question, so the two copies can be compared. */
static uint64_t
ask(const struct krl *k, struct cert *c)
{
	uint64_t answers = 0;
	size_t i;

	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		c->serial = serials[i];
		c->key_id = (char *)(i % 2 ? "foo" : "");
		if (krl_check_cert(k, c) == EPH_ERR_REVOKED)
			answers |= 1ULL << i;
	}
	if (krl_check_key(k, c->key) == EPH_ERR_REVOKED)
		answers |= 1ULL << 63;
	return answers;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct key *subject, *ca;
	struct krl *k = NULL, *k2 = NULL;
	struct buf out, out2;
	struct cert c;

	if (subject == NULL &&
	    (key_from_blob((const uint8_t *)subject_blob, sizeof(subject_blob) - 1, &subject) !=
	            EPH_OK ||
	        key_from_blob((const uint8_t *)ca_blob, sizeof(ca_blob) - 1, &ca) != EPH_OK))
		abort();
	buf_init(&out);
	buf_init(&out2);
	if (krl_parse(d, n, &k) != EPH_OK)
		goto out;
	memset(&c, 0, sizeof(c));
	c.key = subject;
	c.signature_key = ca;
	(void)krl_version(k);
	(void)krl_comment(k);
	/* Too many entries may not fit in KRL_MAX_SIZE once re-encoded. */
	if (krl_serialize(k, &out) != EPH_OK)
		goto out;
	if (krl_parse(out.d, out.len, &k2) != EPH_OK || krl_serialize(k2, &out2) != EPH_OK ||
	    out.len != out2.len || memcmp(out.d, out2.d, out.len) != 0 || ask(k, &c) != ask(k2, &c))
		abort();
out:
	krl_free(k);
	krl_free(k2);
	buf_free(&out);
	buf_free(&out2);
	return 0;
}

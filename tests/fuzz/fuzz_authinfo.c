/*
 * Fuzz target for the SSH_AUTH_INFO_0 parser (host/authinfo.c): the
 * bytes as the variable's value, then the certificate line it finds
 * through the certificate parser, as pam_ephemeral will.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authinfo.h"
#include "b64.h"
#include "buf.h"
#include "cert.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const struct authinfo_method *m;
	struct authinfo ai;
	struct cert *c = NULL;
	struct buf blob;
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return 0;
	memcpy(s, d, n);
	s[n] = '\0';
	if (authinfo_parse(s, &ai) == EPH_OK) {
		if (authinfo_find_cert(&ai, &m) == EPH_OK) {
			buf_init(&blob);
			if (b64_decode(m->key_b64, strlen(m->key_b64), &blob) == EPH_OK &&
			    cert_parse(blob.d, blob.len, &c) == EPH_OK)
				cert_free(c);
			buf_free(&blob);
		}
		authinfo_clear(&ai);
	}
	free(s);
	return 0;
}

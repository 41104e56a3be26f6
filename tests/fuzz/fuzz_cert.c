/*
 * Fuzz target for the certificate parser: a raw certificate blob, the
 * same bytes as a public-key line when they look like one, and the
 * grant@ephssh decoder on the raw bytes and on the extension of whatever
 * parses.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "err.h"
#include "grant.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Exercise what a host does with a parsed certificate. */
static void
poke(const struct cert *c)
{
	const struct cert_opt *o;
	const uint8_t *p;
	size_t len;
	struct grant g;
	char *line = NULL;

	if ((o = cert_find_extension(c, GRANT_EXTENSION)) != NULL &&
	    cert_opt_value(o, &p, &len) == EPH_OK && grant_decode(p, len, &g) == EPH_OK)
		grant_clear(&g);
	if ((o = cert_find_critical(c, CERT_OPT_FORCE_COMMAND)) != NULL)
		(void)cert_opt_value(o, &p, &len);
	(void)cert_check_validity(c, 1700000000);
	(void)cert_check_principal(c, "root");
	(void)cert_check_ca(c, c->signature_key);
	if (cert_format_line(c, "fuzz", &line) == EPH_OK)
		free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cert *c = NULL;
	struct grant g;
	char *s, *comment = NULL;

	/* A validly signed certificate is out of a fuzzer's reach, so the
	 * grant decoder also sees the raw bytes. */
	if (grant_decode(d, n, &g) == EPH_OK)
		grant_clear(&g);
	if (cert_parse(d, n, &c) == EPH_OK) {
		poke(c);
		cert_free(c);
		c = NULL;
	}
	/* Certificate lines start with their type name. */
	if ((n >= 4 && memcmp(d, "ssh-", 4) == 0) || (n >= 6 && memcmp(d, "ecdsa-", 6) == 0)) {
		if ((s = malloc(n + 1)) == NULL)
			return 0;
		memcpy(s, d, n);
		s[n] = '\0';
		if (cert_parse_line(s, &c, &comment) == EPH_OK) {
			poke(c);
			cert_free(c);
		}
		free(comment);
		free(s);
	}
	return 0;
}

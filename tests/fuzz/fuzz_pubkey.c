/* Fuzz target: OpenSSH public key lines and raw public key blobs. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct key *k = NULL;
	char *line, *comment = NULL, *out = NULL, *fp = NULL;

	/* As a blob. */
	if (key_from_blob(d, n, &k) == 0) {
		(void)key_fingerprint(k, &fp);
		free(fp);
		fp = NULL;
		key_free(k);
		k = NULL;
	}
	/* As a text line. */
	if ((line = malloc(n + 1)) == NULL)
		return 0;
	memcpy(line, d, n);
	line[n] = '\0';
	if (key_parse_public_line(line, &k, &comment) == 0) {
		/* What parses must format back without error. */
		if (key_format_public_line(k, comment, &out) != 0)
			abort();
		free(out);
		key_free(k);
		free(comment);
	}
	free(line);
	return 0;
}

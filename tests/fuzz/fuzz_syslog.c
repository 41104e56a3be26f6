/*
 * Fuzz target for the syslog line parser of sshca audit timeline
 * (ca/hostlog.c): the bytes as one line, in both stamp formats, and the
 * event the parsed record names.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hostlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct hostlog_match m = {5, "r-0123456789abcdef"};
	struct hostlog_rec r;
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return 0;
	memcpy(s, d, n);
	s[n] = '\0';
	/* The parser takes a length: a NUL inside the line is just a byte. */
	if (hostlog_parse_syslog(s, n, 1796122800, &r) == EPH_OK) {
		(void)hostlog_event_name(hostlog_event_of(&r));
		(void)hostlog_matches(&r, &m);
		hostlog_rec_clear(&r);
	}
	free(s);
	return 0;
}

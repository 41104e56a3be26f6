/* Secret wiping and strict parsing of numbers and durations. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

void
eph_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
eph_free_secret_str(char *s)
{
	if (s == NULL)
		return;
	eph_wipe(s, strlen(s));
	free(s);
}

/* Read decimal digits at *sp into *out; at least one digit. */
static int
parse_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return EPH_ERR_FORMAT;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return EPH_ERR_RANGE;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return EPH_OK;
}

int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v;
	int r;

	if (s == NULL || out == NULL)
		return EPH_ERR_INVAL;
	if ((r = parse_digits(&s, &v)) != EPH_OK)
		return r;
	if (*s != '\0')
		return EPH_ERR_FORMAT;
	*out = v;
	return EPH_OK;
}

int
parse_duration(const char *s, uint64_t *secs)
{
	uint64_t total = 0, v, mult;
	int r;

	if (s == NULL || secs == NULL)
		return EPH_ERR_INVAL;
	if (*s == '\0')
		return EPH_ERR_FORMAT;
	while (*s != '\0') {
		if ((r = parse_digits(&s, &v)) != EPH_OK)
			return r;
		switch (*s) {
		case '\0': mult = 1; break;
		case 's':
		case 'S':
			mult = 1;
			s++;
			break;
		case 'm':
		case 'M':
			mult = 60;
			s++;
			break;
		case 'h':
		case 'H':
			mult = 3600;
			s++;
			break;
		case 'd':
		case 'D':
			mult = 86400;
			s++;
			break;
		case 'w':
		case 'W':
			mult = 604800;
			s++;
			break;
		default: return EPH_ERR_FORMAT;
		}
		if (v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
			return EPH_ERR_RANGE;
		total += v * mult;
	}
	*secs = total;
	return EPH_OK;
}

void
format_duration(uint64_t secs, char *buf, size_t len)
{
	static const struct {
		uint64_t n;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t i, used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (secs == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t q = secs / units[i].n;
		int w;

		if (q == 0)
			continue;
		secs -= q * units[i].n;
		w = snprintf(
		    buf + used, len - used, "%llu%c", (unsigned long long)q, units[i].unit);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

/*
 * Matching helpers of the policy: schedule entries, source-address CIDR
 * lists (with the rules sshd applies to a certificate's source-address),
 * host patterns and hostgroup membership. Shared by the parser, which
 * validates with them, and by evaluation. ASCII only: no locale.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "policy.h"
#include "match.h"

/* sshd refuses longer entries before parsing them (address + "/128"). */
#define CIDR_ENTRY_MAX (INET6_ADDRSTRLEN + 3)
#define DNS_LABEL_MAX 63
/* Schedule windows followed past their end when another continues them. */
#define SCHEDULE_CHAIN_MAX 16

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------ schedule */

/* A three-letter English day name (any case) at s; weekday as tm_wday. */
static int
parse_day(const char *s, size_t len, int *wday)
{
	int d;

	if (len != 3)
		return -1;
	for (d = 0; d < 7; d++) {
		if (ascii_lower(s[0]) == day_names[d][0] && ascii_lower(s[1]) == day_names[d][1] &&
		    ascii_lower(s[2]) == day_names[d][2]) {
			*wday = d;
			return 0;
		}
	}
	return -1;
}

/* "HH:MM" exactly, 00:00..24:00; minutes after midnight. */
static int
parse_hhmm(const char *s, size_t len, unsigned *minutes)
{
	unsigned h, m;

	if (len != 5 || !is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' || !is_digit(s[3]) ||
	    !is_digit(s[4]))
		return -1;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

/* "Mon", "Mon-Fri", "Fri-Mon" (wraps over the week end), comma-separated. */
static int
parse_days(const char *s, size_t len, uint8_t *days, const char **why)
{
	size_t i = 0, j, dash;
	uint8_t bits = 0, these;
	int a, b, d;

	if (len == 0) {
		*why = "missing days (e.g. \"Mon-Fri 06:00-22:00\")";
		return -1;
	}
	while (i <= len) {
		for (j = i; j < len && s[j] != ','; j++)
			;
		if (j == i) {
			*why = "empty item in the list of days";
			return -1;
		}
		for (dash = i; dash < j && s[dash] != '-'; dash++)
			;
		if (parse_day(s + i, dash - i, &a) != 0) {
			*why = "unknown day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)";
			return -1;
		}
		b = a;
		if (dash < j && parse_day(s + dash + 1, j - dash - 1, &b) != 0) {
			*why = "unknown day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)";
			return -1;
		}
		if (dash < j && a == b) {
			*why = "a day range must end on another day";
			return -1;
		}
		these = 0;
		for (d = a;; d = (d + 1) % 7) {
			these |= (uint8_t)(1u << d);
			if (d == b)
				break;
		}
		if ((bits & these) != 0) {
			*why = "a day is listed twice";
			return -1;
		}
		bits |= these;
		i = j + 1;
	}
	*days = bits;
	return 0;
}

int
policy_schedule_parse(const char *s, struct policy_schedule *out, const char **why)
{
	const char *dummy, *sp, *times, *dash;
	struct policy_schedule sc;
	unsigned start, end;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (s == NULL || out == NULL) {
		*why = "no schedule";
		return EPH_ERR_INVAL;
	}
	memset(&sc, 0, sizeof(sc));
	if ((sp = strchr(s, ' ')) == NULL) {
		*why = "expected \"DAYS HH:MM-HH:MM\" (e.g. \"Mon-Fri 06:00-22:00\")";
		return EPH_ERR_FORMAT;
	}
	if (parse_days(s, (size_t)(sp - s), &sc.days, why) != 0)
		return EPH_ERR_FORMAT;
	for (times = sp; *times == ' '; times++)
		;
	if (*times == '\0') {
		*why = "missing time range (e.g. \"06:00-22:00\")";
		return EPH_ERR_FORMAT;
	}
	if ((dash = strchr(times, '-')) == NULL) {
		*why = "time range must be \"HH:MM-HH:MM\"";
		return EPH_ERR_FORMAT;
	}
	if (parse_hhmm(times, (size_t)(dash - times), &start) != 0 ||
	    parse_hhmm(dash + 1, strlen(dash + 1), &end) != 0) {
		*why = "bad time: use HH:MM from 00:00 to 24:00";
		return EPH_ERR_FORMAT;
	}
	if (start == 1440) {
		*why = "a time range cannot start at 24:00";
		return EPH_ERR_FORMAT;
	}
	if (start == end) {
		*why = "a time range cannot start and end at the same time";
		return EPH_ERR_FORMAT;
	}
	/* "22:00-00:00" means until midnight, not an empty wrap. */
	if (end == 0)
		end = 1440;
	/* out->line belongs to the caller. */
	out->days = sc.days;
	out->start = (uint16_t)start;
	out->end = (uint16_t)end;
	return EPH_OK;
}

int
policy_schedule_match(const struct policy_schedule *s, const struct tm *tm)
{
	int wday, prev;
	unsigned m;

	if (s == NULL || tm == NULL || tm->tm_wday < 0 || tm->tm_wday > 6 || tm->tm_hour < 0 ||
	    tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59)
		return 0;
	wday = tm->tm_wday;
	prev = (wday + 6) % 7;
	m = (unsigned)tm->tm_hour * 60 + (unsigned)tm->tm_min;
	if (s->start < s->end)
		return (s->days & (1u << wday)) != 0 && m >= s->start && m < s->end;
	/* Wrapping entry: the start day's evening and the next morning. */
	if ((s->days & (1u << wday)) != 0 && m >= s->start)
		return 1;
	return (s->days & (1u << prev)) != 0 && m < s->end;
}

/* The latest end, in minutes after the start of day wday, of the entries
 * whose window holds minute m of that day; 0 when none does. */
static unsigned
entries_end(const struct policy_schedule *v, size_t n, int wday, unsigned m, int *line)
{
	int prev = (wday + 6) % 7;
	unsigned best = 0, e;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct policy_schedule *s = &v[i];

		e = 0;
		if (s->start < s->end) {
			if ((s->days & (1u << wday)) != 0 && m >= s->start && m < s->end)
				e = s->end;
		} else if ((s->days & (1u << wday)) != 0 && m >= s->start)
			e = 1440u + s->end; /* the start day's evening, to the next morning */
		else if ((s->days & (1u << prev)) != 0 && m < s->end)
			e = s->end;
		if (e > best) {
			best = e;
			*line = s->line;
		}
	}
	return best;
}

unsigned
policy_schedule_window_end(
    const struct policy_schedule *v, size_t n, const struct tm *tm, unsigned want, int *line)
{
	unsigned m, end, next, day, step;
	int dummy, l = 0;

	if (line == NULL)
		line = &dummy;
	*line = 0;
	if (v == NULL || tm == NULL || tm->tm_wday < 0 || tm->tm_wday > 6 || tm->tm_hour < 0 ||
	    tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59)
		return 0;
	m = (unsigned)tm->tm_hour * 60 + (unsigned)tm->tm_min;
	if ((end = entries_end(v, n, tm->tm_wday, m, &l)) == 0)
		return 0;
	*line = l;
	/* A window that another one continues without a gap goes on; a few
	 * steps at most, and only as far as wanted. */
	for (step = 0; step < SCHEDULE_CHAIN_MAX && end < want; step++) {
		day = end / 1440;
		next = entries_end(v, n, (tm->tm_wday + (int)day) % 7, end % 1440, &l);
		if (next == 0 || next + day * 1440 <= end)
			break;
		end = next + day * 1440;
		*line = l;
	}
	return end;
}

/* "YYYY-MM-DDTHH:MM" with optional ":SS": digits only, exactly n of them. */
static int
digits_n(const char *s, size_t n, int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Does mktime keep the fields (the time exists in local time)? */
static int
local_exact(const struct tm *want, int isdst, time_t *out)
{
	struct tm tm = *want;
	time_t t;

	tm.tm_isdst = isdst;
	if ((t = mktime(&tm)) == (time_t)-1)
		return -1;
	if (tm.tm_year != want->tm_year || tm.tm_mon != want->tm_mon ||
	    tm.tm_mday != want->tm_mday || tm.tm_hour != want->tm_hour ||
	    tm.tm_min != want->tm_min || tm.tm_sec != want->tm_sec)
		return -1;
	*out = t;
	return 0;
}

int
policy_local_time_parse(const char *s, time_t *out, const char **why)
{
	const char *dummy;
	struct tm tm;
	size_t len;
	time_t a, b;
	int ha, hb;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (s == NULL || out == NULL) {
		*why = "no time";
		return EPH_ERR_INVAL;
	}
	len = strlen(s);
	memset(&tm, 0, sizeof(tm));
	if ((len != 16 && len != 19) || digits_n(s, 4, &tm.tm_year) != 0 || s[4] != '-' ||
	    digits_n(s + 5, 2, &tm.tm_mon) != 0 || s[7] != '-' ||
	    digits_n(s + 8, 2, &tm.tm_mday) != 0 || s[10] != 'T' ||
	    digits_n(s + 11, 2, &tm.tm_hour) != 0 || s[13] != ':' ||
	    digits_n(s + 14, 2, &tm.tm_min) != 0 ||
	    (len == 19 && (s[16] != ':' || digits_n(s + 17, 2, &tm.tm_sec) != 0))) {
		*why = "expected a local time YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS";
		return EPH_ERR_FORMAT;
	}
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59) {
		*why = "no such date or time";
		return EPH_ERR_FORMAT;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	/* The hour a DST change repeats has two instants: the earlier one. */
	ha = local_exact(&tm, 0, &a);
	hb = local_exact(&tm, 1, &b);
	if (ha != 0 && hb != 0 && local_exact(&tm, -1, &a) != 0) {
		*why = "no such time in the local time zone (a day that does not exist, or the "
		       "hour a DST change skips)";
		return EPH_ERR_FORMAT;
	}
	if (ha != 0 && hb == 0)
		a = b;
	else if (ha == 0 && hb == 0 && b < a)
		a = b;
	*out = a;
	return EPH_OK;
}

/* ---------------------------------------------------------------- CIDR */

struct net_addr {
	int af; /* AF_INET or AF_INET6 */
	unsigned char a[16]; /* network order; 4 bytes used for AF_INET */
};

static unsigned
addr_bits(int af)
{
	return af == AF_INET ? 32 : 128;
}

/* IPv4 or IPv6 text, nothing else (no names, no scope ids, no short
 * IPv4 forms). IPv4-mapped IPv6 becomes IPv4, as sshd does with the
 * address of the peer before it checks source-address. */
static int
addr_parse(const char *s, struct net_addr *out)
{
	struct in_addr a4;
	struct in6_addr a6;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &a4) == 1) {
		out->af = AF_INET;
		memcpy(out->a, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0) {
			out->af = AF_INET;
			memcpy(out->a, a6.s6_addr + 12, 4);
		} else {
			out->af = AF_INET6;
			memcpy(out->a, a6.s6_addr, 16);
		}
		return 0;
	}
	return -1;
}

int
policy_addr_canonical(const char *s, char *buf, size_t len)
{
	struct net_addr n;

	if (s == NULL || len < INET6_ADDRSTRLEN || addr_parse(s, &n) != 0)
		return -1;
	return inet_ntop(n.af, n.a, buf, (socklen_t)len) == NULL ? -1 : 0;
}

/* Does net/bits contain addr? Both of the same family. */
static int
net_contains(const struct net_addr *net, unsigned bits, const struct net_addr *addr)
{
	unsigned i, full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (net->af != addr->af)
		return 0;
	for (i = 0; i < full; i++)
		if (net->a[i] != addr->a[i])
			return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (net->a[full] & mask) == (addr->a[full] & mask);
}

/* Any bit set after the first bits ones? sshd refuses such a network. */
static int
host_bits_set(const struct net_addr *net, unsigned bits)
{
	unsigned i, n = addr_bits(net->af) / 8;

	for (i = bits / 8; i < n; i++) {
		unsigned char keep = 0;

		if (i == bits / 8 && bits % 8 != 0)
			keep = (unsigned char)(0xff << (8 - bits % 8));
		if ((net->a[i] & (unsigned char)~keep) != 0)
			return 1;
	}
	return 0;
}

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* One list entry: "addr" or "addr/prefix", len bytes at s. An IPv4-mapped
 * IPv6 network is refused: sshd matches an IPv4 client only against IPv4
 * networks, so the certificate would lock it out. fix (when not NULL,
 * POLICY_CIDR_FIX_MAX bytes) then gets the IPv4 form to write instead. */
static int
cidr_entry_parse(const char *s, size_t len, struct net_addr *net, unsigned *bits, const char **why,
    char *fix, size_t fixlen)
{
	char tmp[CIDR_ENTRY_MAX + 1];
	char *slash;
	unsigned prefix = 0;
	size_t i;

	if (len == 0) {
		*why = "empty entry in the address list";
		return -1;
	}
	if (len > CIDR_ENTRY_MAX) {
		*why = "address list entry too long";
		return -1;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') &&
		    c != '.' && c != ':' && c != '/') {
			*why = "invalid character in the address list (no spaces or names)";
			return -1;
		}
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if ((slash = strchr(tmp, '/')) != NULL) {
		const char *p = slash + 1;

		*slash = '\0';
		if (*p == '\0' || strlen(p) > 3) {
			*why = "bad prefix length";
			return -1;
		}
		for (; *p != '\0'; p++) {
			if (!is_digit(*p)) {
				*why = "bad prefix length";
				return -1;
			}
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
	}
	if (addr_parse(tmp, net) != 0) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	/* Checked on the text so that "::ffff:a.b.c.d/120" keeps IPv6 rules. */
	if (strchr(tmp, ':') != NULL && net->af == AF_INET) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, tmp, &a6) != 1) {
			*why = "not an IPv4 or IPv6 address";
			return -1;
		}
		net->af = AF_INET6;
		memcpy(net->a, a6.s6_addr, 16);
	}
	if (slash == NULL)
		prefix = addr_bits(net->af);
	if (prefix > addr_bits(net->af)) {
		*why = "prefix length out of range (0-32 for IPv4, 0-128 for IPv6)";
		return -1;
	}
	if (host_bits_set(net, prefix)) {
		*why = "address has bits set beyond its prefix length (e.g. 10.0.0.1/8; write "
		       "10.0.0.0/8)";
		return -1;
	}
	if (net->af == AF_INET6 && prefix >= 96 && memcmp(net->a, v4mapped, 12) == 0) {
		char v4[INET_ADDRSTRLEN];

		*why = "an IPv4-mapped IPv6 network, which sshd never matches against an IPv4 "
		       "client";
		if (fix != NULL && fixlen > 0) {
			fix[0] = '\0';
			if (inet_ntop(AF_INET, net->a + 12, v4, sizeof(v4)) != NULL) {
				if (slash == NULL)
					snprintf(fix, fixlen, "write %s", v4);
				else
					snprintf(fix, fixlen, "write %s/%u", v4, prefix - 96);
			}
		}
		return -1;
	}
	*bits = prefix;
	return 0;
}

int
policy_cidr_entry_check(const char *s, size_t len, const char **why, char *fix, size_t fixlen)
{
	struct net_addr net;
	unsigned bits;

	if (fix != NULL && fixlen > 0)
		fix[0] = '\0';
	return cidr_entry_parse(s, len, &net, &bits, why, fix, fixlen);
}

int
policy_cidr_list_valid(const char *list, const char **why)
{
	const char *dummy, *p, *comma;
	struct net_addr net;
	unsigned bits;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (list == NULL || *list == '\0') {
		*why = "empty address list";
		return EPH_ERR_FORMAT;
	}
	if (strlen(list) > POLICY_CIDR_LIST_MAX) {
		*why = "address list too long";
		return EPH_ERR_FORMAT;
	}
	for (p = list;; p = comma + 1) {
		size_t len;

		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (cidr_entry_parse(p, len, &net, &bits, why, NULL, 0) != 0)
			return EPH_ERR_FORMAT;
		if (comma == NULL)
			break;
	}
	return EPH_OK;
}

int
policy_cidr_list_contains(const char *list, const char *addr)
{
	const char *why, *p, *comma;
	struct net_addr a, net;
	unsigned bits;
	int found = 0;

	if (list == NULL || addr == NULL || addr_parse(addr, &a) != 0 ||
	    policy_cidr_list_valid(list, &why) != EPH_OK)
		return 0;
	for (p = list;; p = comma + 1) {
		size_t len;

		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (cidr_entry_parse(p, len, &net, &bits, &why, NULL, 0) != 0)
			return 0;
		if (net_contains(&net, bits, &a))
			found = 1;
		if (comma == NULL)
			break;
	}
	return found;
}

/* --------------------------------------------------------------- hosts */

/* A DNS name, or with wildcard_ok a "*." followed by one; lower-cased into
 * out (>= POLICY_MAX_NAME_LEN + 1 bytes) when out is not NULL. */
int
policy_host_name_check(const char *s, int wildcard_ok, char *out, const char **why)
{
	size_t i, len, label = 0;

	if (s == NULL || *s == '\0') {
		*why = "empty host name";
		return -1;
	}
	len = strlen(s);
	if (len > POLICY_MAX_NAME_LEN) {
		*why = "host name longer than 253 characters";
		return -1;
	}
	i = 0;
	if (s[0] == '*') {
		if (!wildcard_ok) {
			*why = "a wildcard is not a host name";
			return -1;
		}
		if (s[1] != '.' || s[2] == '\0') {
			*why = "'*' must be the whole leftmost label, followed by a domain "
			       "(\"*.example.com\")";
			return -1;
		}
		/* "*.com" would stand for every host of a top-level domain. */
		if (strchr(s + 2, '.') == NULL) {
			*why = "'*' must be followed by at least two labels (\"*.example.com\", "
			       "not \"*.com\")";
			return -1;
		}
		if (out != NULL) {
			out[0] = '*';
			out[1] = '.';
		}
		i = 2;
	}
	for (; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0) {
				*why = len == i + 1 ? "host name ends with a dot"
				                    : "empty label in host name";
				return -1;
			}
			if (s[i - 1] == '-') {
				*why = "a label of a host name cannot end with '-'";
				return -1;
			}
			label = 0;
		} else if (c == '*') {
			*why = "'*' is allowed only as the whole leftmost label";
			return -1;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
		    c == '-') {
			if (c == '-' && label == 0) {
				*why = "a label of a host name cannot start with '-'";
				return -1;
			}
			if (++label > DNS_LABEL_MAX) {
				*why = "a label of a host name is longer than 63 characters";
				return -1;
			}
		} else {
			*why = "invalid character in host name (letters, digits, '-' and '.')";
			return -1;
		}
		if (out != NULL)
			out[i] = ascii_lower(c);
	}
	if (label == 0) {
		*why = "host name ends with a dot";
		return -1;
	}
	if (s[len - 1] == '-') {
		*why = "a label of a host name cannot end with '-'";
		return -1;
	}
	if (out != NULL)
		out[len] = '\0';
	return 0;
}

int
policy_host_pattern_valid(const char *pattern, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	return policy_host_name_check(pattern, 1, NULL, why) == 0 ? EPH_OK : EPH_ERR_FORMAT;
}

/* Case-insensitive ASCII equality of a lower-case name and a pattern. */
static int
eq_lower(const char *lower, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower[i] != ascii_lower(s[i]))
			return 0;
	return 1;
}

int
policy_host_pattern_match(const char *pattern, const char *lower, size_t len)
{
	size_t plen;

	if (pattern == NULL)
		return 0;
	plen = strlen(pattern);
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* '*' is exactly one label: "a.b.x.y" is not in "*.x.y". */
		plen -= 1;
		return len > plen && eq_lower(lower + len - plen, pattern + 1, plen) &&
		    memchr(lower, '.', len - plen) == NULL;
	}
	return len == plen && eq_lower(lower, pattern, plen);
}

/* strcmp without the call: the hot path of every membership test. */
static inline int
name_cmp(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

/* Is the lower-case name in the sorted list? */
static int
sorted_has(char *const *v, size_t n, const char *lower)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = name_cmp(lower, v[mid])) == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

int
policy_hostgroup_has_lower(const struct policy_hostgroup *g, const char *lower, size_t len)
{
	const char *dot;

	if (sorted_has(g->exact, g->nexact, lower))
		return 1;
	/* '*' is one label, so the rest of the name must be a kept suffix. */
	if (g->nsuffixes == 0 || (dot = memchr(lower, '.', len)) == NULL || dot == lower)
		return 0;
	return sorted_has(g->suffixes, g->nsuffixes, dot);
}

int
policy_hostgroup_has(const struct policy_hostgroup *g, const char *host)
{
	char lower[POLICY_MAX_NAME_LEN + 1];
	const char *why;

	if (g == NULL || policy_host_name_check(host, 0, lower, &why) != 0)
		return 0;
	return policy_hostgroup_has_lower(g, lower, strlen(lower));
}

/* ---------------------------------------------------------- host index */

static int
cmp_host_entry(const void *a, const void *b)
{
	const struct policy_host_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->hostgroup < y->hostgroup ? -1 : x->hostgroup > y->hostgroup;
}

/* First entry not below key. */
static size_t
entries_lower_bound(const struct policy_host_entry *v, size_t n, const char *key)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (name_cmp(v[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
policy_host_index_build(const struct policy *p, struct policy_host_index **out)
{
	struct policy_host_index *ix = NULL;
	size_t i, j, n = 0, nwild = 0;
	int r = EPH_ERR_NOMEM;

	if (out == NULL)
		return EPH_ERR_INVAL;
	*out = NULL;
	if (p == NULL)
		return EPH_ERR_INVAL;
	for (i = 0; i < p->nhostgroups; i++) {
		if (p->hostgroups[i].nexact > SIZE_MAX / 2 - n ||
		    p->hostgroups[i].nsuffixes > SIZE_MAX / 2 - nwild)
			return EPH_ERR_TOOLARGE;
		n += p->hostgroups[i].nexact;
		nwild += p->hostgroups[i].nsuffixes;
	}
	if ((ix = calloc(1, sizeof(*ix))) == NULL ||
	    (n > 0 && (ix->v = calloc(n, sizeof(*ix->v))) == NULL) ||
	    (nwild > 0 && (ix->wild = calloc(nwild, sizeof(*ix->wild))) == NULL))
		goto out;
	for (i = 0; i < p->nhostgroups; i++) {
		const struct policy_hostgroup *g = &p->hostgroups[i];

		for (j = 0; j < g->nexact; j++) {
			ix->v[ix->n].name = g->exact[j];
			ix->v[ix->n].hostgroup = i;
			ix->n++;
		}
		for (j = 0; j < g->nsuffixes; j++) {
			ix->wild[ix->nwild].name = g->suffixes[j];
			ix->wild[ix->nwild].hostgroup = i;
			ix->nwild++;
		}
	}
	if (ix->n > 1)
		qsort(ix->v, ix->n, sizeof(*ix->v), cmp_host_entry);
	if (ix->nwild > 1)
		qsort(ix->wild, ix->nwild, sizeof(*ix->wild), cmp_host_entry);
	*out = ix;
	ix = NULL;
	r = EPH_OK;
out:
	policy_host_index_free(ix);
	return r;
}

void
policy_host_index_free(struct policy_host_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->v);
	free(ix->wild);
	free(ix);
}

/* Append hostgroup g to out (at most max written) unless already there;
 * returns the new count. */
static size_t
groups_add(size_t *out, size_t n, size_t max, size_t g)
{
	size_t i;

	for (i = 0; i < n && i < max; i++)
		if (out[i] == g)
			return n;
	if (n < max)
		out[n] = g;
	return n + 1;
}

size_t
policy_host_index_groups(const struct policy *p, const struct policy_host_index *ix,
    const char *lower, size_t len, size_t *out, size_t max)
{
	const char *dot;
	size_t i, n = 0;

	(void)p;
	for (i = entries_lower_bound(ix->v, ix->n, lower);
	     i < ix->n && name_cmp(ix->v[i].name, lower) == 0; i++)
		n = groups_add(out, n, max, ix->v[i].hostgroup);
	/* A pattern "*.x.y" is kept as ".x.y": the name minus its first label. */
	if (ix->nwild == 0 || (dot = memchr(lower, '.', len)) == NULL || dot == lower)
		return n;
	for (i = entries_lower_bound(ix->wild, ix->nwild, dot);
	     i < ix->nwild && name_cmp(ix->wild[i].name, dot) == 0; i++)
		n = groups_add(out, n, max, ix->wild[i].hostgroup);
	return n;
}

/* ------------------------------------------------- hostgroup overlaps */

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* A growing list of hostgroup indexes, each added once (mark[g] == self). */
struct overlap_list {
	size_t *v;
	size_t n, cap;
};

static int
overlap_add(struct overlap_list *l, size_t *mark, size_t self, size_t g)
{
	size_t *nv, cap;

	if (g == self || mark[g] == self)
		return 0;
	mark[g] = self;
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 4 : l->cap * 2;
		if ((nv = reallocarray(l->v, cap, sizeof(*nv))) == NULL)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = g;
	return 0;
}

int
policy_hostgroup_overlaps_build(struct policy *p, const struct policy_host_index *ix)
{
	struct policy_host_entry *parents = NULL;
	struct overlap_list l = {NULL, 0, 0};
	size_t *mark = NULL, gi, j, k, nparents = 0;
	const char *dot;
	int r = EPH_ERR_NOMEM;

	if (p == NULL || ix == NULL)
		return EPH_ERR_INVAL;
	if (p->nhostgroups == 0)
		return EPH_OK;
	if ((mark = calloc(p->nhostgroups, sizeof(*mark))) == NULL)
		goto out;
	for (gi = 0; gi < p->nhostgroups; gi++)
		mark[gi] = SIZE_MAX;
	/* Exact names by the domain a pattern would need ("a.x.y" under ".x.y"). */
	if (ix->nwild > 0 && ix->n > 0) {
		if ((parents = calloc(ix->n, sizeof(*parents))) == NULL)
			goto out;
		for (j = 0; j < ix->n; j++) {
			if ((dot = strchr(ix->v[j].name, '.')) == NULL || dot == ix->v[j].name)
				continue;
			parents[nparents].name = dot;
			parents[nparents].hostgroup = ix->v[j].hostgroup;
			nparents++;
		}
		if (nparents > 1)
			qsort(parents, nparents, sizeof(*parents), cmp_host_entry);
	}
	for (gi = 0; gi < p->nhostgroups; gi++) {
		struct policy_hostgroup *g = &p->hostgroups[gi];

		l.v = NULL;
		l.n = l.cap = 0;
		for (j = 0; j < g->nexact; j++) {
			const char *name = g->exact[j];

			for (k = entries_lower_bound(ix->v, ix->n, name);
			     k < ix->n && name_cmp(ix->v[k].name, name) == 0; k++)
				if (overlap_add(&l, mark, gi, ix->v[k].hostgroup) != 0)
					goto out;
			if ((dot = strchr(name, '.')) == NULL || dot == name)
				continue;
			for (k = entries_lower_bound(ix->wild, ix->nwild, dot);
			     k < ix->nwild && name_cmp(ix->wild[k].name, dot) == 0; k++)
				if (overlap_add(&l, mark, gi, ix->wild[k].hostgroup) != 0)
					goto out;
		}
		for (j = 0; j < g->nsuffixes; j++) {
			const char *sfx = g->suffixes[j];

			for (k = entries_lower_bound(ix->wild, ix->nwild, sfx);
			     k < ix->nwild && name_cmp(ix->wild[k].name, sfx) == 0; k++)
				if (overlap_add(&l, mark, gi, ix->wild[k].hostgroup) != 0)
					goto out;
			for (k = entries_lower_bound(parents, nparents, sfx);
			     k < nparents && name_cmp(parents[k].name, sfx) == 0; k++)
				if (overlap_add(&l, mark, gi, parents[k].hostgroup) != 0)
					goto out;
		}
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), cmp_size);
		free(g->overlaps);
		g->overlaps = l.v;
		g->noverlaps = l.n;
		l.v = NULL;
	}
	r = EPH_OK;
out:
	free(l.v);
	free(parents);
	free(mark);
	return r;
}

int
policy_hostgroups_shared(
    const struct policy_hostgroup *a, const struct policy_hostgroup *b, char *buf, size_t len)
{
	const struct policy_hostgroup *x = a, *y = b;
	size_t i, pass;

	if (len < POLICY_MAX_NAME_LEN + 2)
		return 0;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < x->nexact; i++) {
			if (policy_hostgroup_has_lower(y, x->exact[i], strlen(x->exact[i]))) {
				snprintf(buf, len, "%s", x->exact[i]);
				return 1;
			}
		}
		x = b;
		y = a;
	}
	for (i = 0; i < a->nsuffixes; i++) {
		if (sorted_has(b->suffixes, b->nsuffixes, a->suffixes[i])) {
			snprintf(buf, len, "*%s", a->suffixes[i]);
			return 1;
		}
	}
	return 0;
}

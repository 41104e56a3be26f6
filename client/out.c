/* Tables, times, colour and the status line (out.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "out.h"

int
out_width(FILE *f)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");
	int fd = fileno(f);

	if (fd < 0 || !isatty(fd))
		return 0;
	if (cols != NULL && *cols != '\0') {
		char *end;
		long n = strtol(cols, &end, 10);

		if (*end == '\0' && n >= 20 && n <= 10000)
			return (int)n;
	}
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

int
out_color_ok(int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!isatty(fd))
		return 0;
	if (nc != NULL && *nc != '\0')
		return 0;
	return term == NULL || strcmp(term, "dumb") != 0;
}

const char *
out_bold(int color)
{
	return color ? "\033[1m" : "";
}
const char *
out_red(int color)
{
	return color ? "\033[31m" : "";
}
const char *
out_green(int color)
{
	return color ? "\033[32m" : "";
}
const char *
out_yellow(int color)
{
	return color ? "\033[33m" : "";
}
const char *
out_reset(int color)
{
	return color ? "\033[0m" : "";
}

/* Display width of UTF-8 text: one per code point (what a table of ids,
 * names and times needs; no East Asian wide forms here). */
static size_t
text_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Bytes of s that make up its first w code points. */
static size_t
text_prefix(const char *s, size_t w)
{
	size_t i = 0, n = 0;

	while (s[i] != '\0') {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (n == w)
				break;
			n++;
		}
		i++;
	}
	return i;
}

static void
cell_print(FILE *f, const char *s, size_t w, int last)
{
	size_t tw = text_width(s);

	if (tw > w) {
		/* cut, with an ellipsis in the last column kept */
		size_t keep = w > 0 ? w - 1 : 0;

		fwrite(s, 1, text_prefix(s, keep), f);
		if (w > 0)
			fputs("\xe2\x80\xa6", f);
		tw = w;
	} else
		fputs(s, f);
	if (!last)
		for (; tw < w + 2; tw++)
			fputc(' ', f);
}

void
out_table(FILE *f, const char *const *headers, size_t ncols, const char *const *cells, size_t nrows,
    int width, unsigned shrink)
{
	size_t *w = calloc(ncols > 0 ? ncols : 1, sizeof(*w));
	size_t i, j, total;

	if (w == NULL)
		return;
	for (j = 0; j < ncols; j++)
		w[j] = text_width(headers[j]);
	for (i = 0; i < nrows; i++)
		for (j = 0; j < ncols; j++) {
			const char *c = cells[i * ncols + j] != NULL ? cells[i * ncols + j] : "-";
			size_t tw = text_width(c);

			if (tw > w[j])
				w[j] = tw;
		}
	/* Shrink the widest shrinkable column, one at a time, to fit. */
	for (;;) {
		size_t widest = ncols;

		total = 0;
		for (j = 0; j < ncols; j++)
			total += w[j] + (j + 1 < ncols ? 2 : 0);
		if (width <= 0 || total <= (size_t)width)
			break;
		for (j = 0; j < ncols; j++)
			if ((shrink & (1u << j)) && w[j] > 4 &&
			    (widest == ncols || w[j] > w[widest]))
				widest = j;
		if (widest == ncols)
			break;
		w[widest]--;
	}
	for (j = 0; j < ncols; j++)
		cell_print(f, headers[j], w[j], j + 1 == ncols);
	fputc('\n', f);
	for (i = 0; i < nrows; i++) {
		for (j = 0; j < ncols; j++) {
			const char *c = cells[i * ncols + j] != NULL ? cells[i * ncols + j] : "-";

			cell_print(f, c, w[j], j + 1 == ncols);
		}
		fputc('\n', f);
	}
	free(w);
}

int
out_parse_time(const char *s, int64_t *t)
{
	struct tm tm;
	const char *end;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

void
out_time(const char *s, char *buf, size_t len)
{
	int64_t t;
	time_t tt;
	struct tm tm;

	if (out_parse_time(s, &t) != 0) {
		snprintf(buf, len, "%s", s != NULL ? s : "-");
		return;
	}
	tt = (time_t)t;
	if (localtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm) == 0)
		snprintf(buf, len, "%s", s);
}

void
out_left(int64_t secs, char *buf, size_t len)
{
	if (secs <= 0)
		snprintf(buf, len, "expired");
	else if (secs < 60)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(buf, len, "%lldm %llds", (long long)(secs / 60), (long long)(secs % 60));
	else if (secs < 86400)
		snprintf(buf, len, "%lldh %lldm", (long long)(secs / 3600),
		    (long long)(secs % 3600 / 60));
	else
		snprintf(buf, len, "%lldd %lldh", (long long)(secs / 86400),
		    (long long)(secs % 86400 / 3600));
}

void
status_init(struct status_line *s, int tty)
{
	memset(s, 0, sizeof(*s));
	s->tty = tty;
}

void
status_show(struct status_line *s, const char *fmt, ...)
{
	char line[sizeof(s->last)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->tty) {
		/* Back to the line's start, the new text, the rest erased. */
		fprintf(stderr, "\r%s\033[K", line);
		fflush(stderr);
		s->shown = 1;
	} else if (strcmp(line, s->last) != 0) {
		fprintf(stderr, "%s\n", line);
		fflush(stderr);
	}
	memcpy(s->last, line, sizeof(line));
}

void
status_done(struct status_line *s)
{
	if (s->tty && s->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	s->shown = 0;
}

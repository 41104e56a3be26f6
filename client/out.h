/*
 * What ephssh shows people: tables sized to the terminal, times, colour
 * (only on a TTY and never with NO_COLOR), and the one live status line
 * of a wait.
 */
#ifndef EPHSSH_OUT_H
#define EPHSSH_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The terminal's width for f (COLUMNS, then the TTY), or 0 when f is
 * not a terminal (then nothing is cut). */
int out_width(FILE *f);

/* Should colour be used on fd? A TTY, NO_COLOR unset or empty, TERM not
 * "dumb". */
int out_color_ok(int fd);

/* SGR sequences, "" when colour is off. */
const char *out_bold(int color);
const char *out_red(int color);
const char *out_green(int color);
const char *out_yellow(int color);
const char *out_reset(int color);

/*
 * A table: ncols headers, then nrows rows of ncols cells (row-major; a
 * NULL cell prints as "-"). Columns are as wide as their widest cell;
 * when width (0: no limit) is too small, the columns marked in shrink
 * (a bit per column) are cut with "…" until the table fits, the widest
 * first. Lines end with no trailing blanks.
 */
void out_table(FILE *f, const char *const *headers, size_t ncols, const char *const *cells,
    size_t nrows, int width, unsigned shrink);

/* "2026-12-01 10:42 UTC" from an RFC 3339 UTC string or seconds; the
 * input itself when it does not parse. */
void out_time(const char *rfc3339, char *buf, size_t len);
int out_parse_time(const char *rfc3339, int64_t *t);
/* "9m 59s", "1h 2m", "45s"; "expired" for <= 0. */
void out_left(int64_t secs, char *buf, size_t len);

/*
 * The live status line on stderr while waiting: on a TTY it is
 * rewritten in place (and cleared by status_done); otherwise each line
 * that differs from the last is printed once, plainly.
 */
struct status_line {
	int tty;
	int shown; /* a line is on the terminal */
	char last[512];
};

void status_init(struct status_line *s, int tty);
void status_show(struct status_line *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_done(struct status_line *s);

#endif

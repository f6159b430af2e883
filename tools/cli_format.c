/* SPDX-License-Identifier: MIT */
/*
 * cli_format.c - escaping for `scan`, JSON strings for `verify --json`, and
 * the bounded line reader of `load`.  See cli_format.h for the contracts.
 *
 * Design: output is written in runs.  A run of bytes that need no escape
 * goes out in one fwrite, so a 1 MiB printable value costs one call, not a
 * million putc calls.  The line reader keeps one buffer of the largest
 * line it accepts, moves the unread tail to the front before each read,
 * and remembers how far it already looked for '\n', so each byte is
 * searched once however the reads split the input.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_format.h"

static const char hex_digits[] = "0123456789abcdef";

/* ---------------------------------------------------------------------- */
/* scan escaping                                                          */
/* ---------------------------------------------------------------------- */

static int text_needs_escape(unsigned char c)
{
	return c < 0x20 || c > 0x7e || c == '\\';
}

void text_put_escaped(FILE *out, const void *bytes, size_t n)
{
	const unsigned char *p = bytes;
	size_t run_start = 0;

	assert(out != NULL);
	assert(p != NULL || n == 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		char esc[4];

		if (!text_needs_escape(c))
			continue;
		if (i > run_start)
			fwrite(p + run_start, 1, i - run_start, out);
		run_start = i + 1;
		esc[0] = '\\';
		if (c == '\t') {
			esc[1] = 't';
			fwrite(esc, 1, 2, out);
		} else if (c == '\n') {
			esc[1] = 'n';
			fwrite(esc, 1, 2, out);
		} else if (c == '\\') {
			esc[1] = '\\';
			fwrite(esc, 1, 2, out);
		} else {
			esc[1] = 'x';
			esc[2] = hex_digits[c >> 4];
			esc[3] = hex_digits[c & 0xf];
			fwrite(esc, 1, 4, out);
		}
	}
	if (n > run_start)
		fwrite(p + run_start, 1, n - run_start, out);
}

/* ---------------------------------------------------------------------- */
/* JSON strings                                                           */
/* ---------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0 when
 * p does not start one: overlong forms, surrogates and code points past
 * U+10FFFF are invalid (RFC 3629). */
static size_t utf8_sequence_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	assert(n > 0);
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

int text_is_clean(const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n;) {
		size_t seq;

		if (s[i] == 0x7f || (s[i] < 0x20 && s[i] != '\t' &&
				     s[i] != '\n'))
			return 0;
		seq = utf8_sequence_len(s + i, n - i);
		if (seq == 0)
			return 0;
		i += seq;
	}
	return 1;
}

char *utf8_replace_invalid(const char *s)
{
	size_t n = strlen(s), bad = 0, at = 0;
	char *out;

	for (size_t i = 0; i < n;) {
		size_t seq = utf8_sequence_len((const unsigned char *)s + i,
					       n - i);

		bad += seq == 0;
		i += seq ? seq : 1;
	}
	if (bad == 0)
		return NULL;
	out = malloc(n + 2 * bad + 1); /* 1 byte becomes 3 */
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t seq = utf8_sequence_len((const unsigned char *)s + i,
					       n - i);

		if (seq) {
			memcpy(out + at, s + i, seq);
			at += seq;
			i += seq;
		} else {
			memcpy(out + at, "\xef\xbf\xbd", 3); /* U+FFFD */
			at += 3;
			i++;
		}
	}
	out[at] = '\0';
	return out;
}

void json_put_string(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run_start = 0;
	size_t i = 0;

	assert(out != NULL);
	assert(p != NULL || n == 0);
	putc('"', out);
	while (i < n) {
		unsigned char c = p[i];
		size_t seq = utf8_sequence_len(p + i, n - i);
		char esc[6];

		if (seq > 1 ||
		    (seq == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			i += seq;
			continue;
		}
		if (i > run_start)
			fwrite(p + run_start, 1, i - run_start, out);
		if (seq == 0) {
			fputs("\\ufffd", out);
		} else if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			fwrite(esc, 1, 2, out);
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c == '\r') {
			fputs("\\r", out);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex_digits[c >> 4];
			esc[5] = hex_digits[c & 0xf];
			fwrite(esc, 1, 6, out);
		}
		i++;
		run_start = i;
	}
	if (n > run_start)
		fwrite(p + run_start, 1, n - run_start, out);
	putc('"', out);
}

/* ---------------------------------------------------------------------- */
/* Bounded line reader                                                    */
/* ---------------------------------------------------------------------- */

int line_reader_init(struct line_reader *lr, int fd, size_t len_max)
{
	assert(lr != NULL && fd >= 0);
	assert(len_max > 0 && len_max < SIZE_MAX);
	memset(lr, 0, sizeof *lr);
	lr->fd = fd;
	lr->len_max = len_max;
	lr->cap = len_max + 1;
	lr->buf = malloc(lr->cap);
	return lr->buf != NULL ? 0 : -1;
}

enum line_result line_reader_next(struct line_reader *lr, const char **line,
				  size_t *len)
{
	assert(lr != NULL && lr->buf != NULL);
	assert(lr->start <= lr->scanned && lr->scanned <= lr->end);
	for (;;) {
		const char *nl = memchr(lr->buf + lr->scanned, '\n',
					lr->end - lr->scanned);
		ssize_t got;

		if (nl != NULL) {
			*line = lr->buf + lr->start;
			*len = (size_t)(nl - *line);
			lr->start = lr->scanned = (size_t)(nl - lr->buf) + 1;
			if (*len > lr->len_max)
				return LINE_TOO_LONG;
			return LINE_OK;
		}
		lr->scanned = lr->end;
		if (lr->end - lr->start > lr->len_max)
			return LINE_TOO_LONG;
		if (lr->eof) {
			if (lr->end == lr->start)
				return LINE_EOF;
			*line = lr->buf + lr->start;
			*len = lr->end - lr->start;
			lr->start = lr->scanned = lr->end;
			return LINE_OK;
		}
		/* Move the partial line to the front: then at least one byte
		 * is free, because the partial line is at most len_max and
		 * the buffer holds len_max + 1. */
		if (lr->start > 0) {
			size_t keep = lr->end - lr->start;

			memmove(lr->buf, lr->buf + lr->start, keep);
			lr->start = 0;
			lr->scanned = lr->end = keep;
		}
		assert(lr->end < lr->cap);
		got = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return LINE_ERROR;
		if (got == 0)
			lr->eof = 1;
		lr->end += (size_t)got;
	}
}

void line_reader_free(struct line_reader *lr)
{
	if (lr == NULL)
		return;
	free(lr->buf);
	lr->buf = NULL;
}

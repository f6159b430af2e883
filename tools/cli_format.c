/* SPDX-License-Identifier: MIT */
/*
 * cli_format.c - escaping for `scan`, JSON strings for `verify --json`,
 * the bounded line reader of `load`, and the JSON lists of strings that
 * import-sqlite reads.  See cli_format.h for the contracts.
 *
 * A JSON list is decoded into a buffer as large as its text, which always
 * suffices: every string decodes to fewer bytes than it takes quoted.
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

		if (s[i] >= 0x20 && s[i] < 0x7f) { /* printable ASCII */
			i++;
			continue;
		}
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

size_t utf8_first_invalid(const char *s, size_t n)
{
	size_t i = 0;

	assert(s != NULL || n == 0);
	while (i < n) {
		size_t seq = utf8_sequence_len((const unsigned char *)s + i,
					       n - i);

		if (seq == 0)
			return i;
		i += seq;
	}
	return n;
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
		size_t seq;
		char esc[6];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++; /* ASCII that stays as it is: the common case */
			continue;
		}
		seq = utf8_sequence_len(p + i, n - i);

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

/* ---------------------------------------------------------------------- */
/* JSON lists of strings                                                  */
/* ---------------------------------------------------------------------- */

static size_t json_skip_space(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
			 s[i] == '\r'))
		i++;
	return i;
}

/* The 4 hex digits at s[i, i + 4) as a number, or -1. */
static long json_hex4(const char *s, size_t n, size_t i)
{
	long v = 0;

	if (i > n || n - i < 4)
		return -1;
	for (size_t k = i; k < i + 4; k++) {
		char c = s[k];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Writes code point cp (not a surrogate, at most U+10FFFF) as UTF-8. */
static size_t utf8_put(char *d, unsigned long cp)
{
	assert(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the string whose opening quote is at s[*i] into d, NUL added.
 * Each escape decodes to fewer bytes than it takes (\uXXXX: 6 bytes to
 * at most 3, a surrogate pair: 12 to 4), so d needs no more than the
 * quoted text.  Returns NULL with *i past the closing quote and *len the
 * decoded bytes, or what is wrong with *i where. */
static const char *json_string_decode(const char *s, size_t n, size_t *i,
				      char *d, size_t *len)
{
	static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
	size_t start = *i, at = start + 1, out = 0;

	assert(at <= n && s[start] == '"');
	for (;;) {
		unsigned char c;
		const char *e;
		long cp, lo;

		*i = at; /* where a problem is */
		if (at >= n)
			return "a string without its closing quote";
		c = (unsigned char)s[at];
		if (c == '"')
			break;
		if (c < 0x20)
			return "a control character in a string";
		if (c != '\\') {
			d[out++] = (char)c;
			at++;
			continue;
		}
		if (at + 1 >= n)
			return "a string without its closing quote";
		e = strchr(plain, s[at + 1]);
		if (e != NULL && s[at + 1] != '\0') {
			d[out++] = decoded[e - plain];
			at += 2;
			continue;
		}
		if (s[at + 1] != 'u')
			return "an unknown escape";
		cp = json_hex4(s, n, at + 2);
		if (cp < 0)
			return "a \\u escape without 4 hex digits";
		at += 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return "a lone surrogate";
		if (cp >= 0xd800 && cp <= 0xdbff) {
			lo = at + 1 < n && s[at] == '\\' && s[at + 1] == 'u'
				     ? json_hex4(s, n, at + 2)
				     : -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				return "a lone surrogate";
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			at += 6;
		}
		if (cp == 0)
			return "a string holding U+0000";
		out += utf8_put(d + out, (unsigned long)cp);
	}
	assert(out < at - start); /* the NUL fits where the quotes were */
	d[out] = '\0';
	*len = out;
	*i = at + 1;
	return NULL;
}

const char *json_string_array(const char *s, size_t n, char *buf,
			      const char **items, size_t item_max,
			      size_t *count, size_t *at)
{
	size_t i = utf8_first_invalid(s, n), used = 0, len;
	const char *why = NULL;

	assert(buf != NULL && count != NULL && at != NULL);
	assert(items != NULL || item_max == 0);
	*count = 0;
	if (i < n) {
		*at = i;
		return "not UTF-8";
	}
	i = json_skip_space(s, n, 0);
	if (i >= n || s[i] != '[') {
		*at = i;
		return "expected '['";
	}
	i = json_skip_space(s, n, i + 1);
	if (i < n && s[i] == ']')
		goto close;
	for (;;) {
		if (i >= n || s[i] != '"') {
			why = "expected a string";
			break;
		}
		if (*count == item_max) {
			why = "more items than allowed";
			break;
		}
		why = json_string_decode(s, n, &i, buf + used, &len);
		if (why != NULL)
			break;
		items[(*count)++] = buf + used;
		used += len + 1;
		assert(used <= i); /* the decoded text never passes the text */
		i = json_skip_space(s, n, i);
		if (i < n && s[i] == ']')
			goto close;
		if (i >= n || s[i] != ',') {
			why = "expected ',' or ']'";
			break;
		}
		i = json_skip_space(s, n, i + 1);
	}
	*at = i;
	return why;
close:
	i = json_skip_space(s, n, i + 1);
	*at = i;
	return i < n ? "text after the closing ']'" : NULL;
}

/* Skips the value at s[*i] (a string, a number, a literal, or an object
 * or array at most depth levels deep); NULL or what is wrong. */
static const char *json_skip_value(const char *s, size_t n, size_t *i,
				   char *scratch, int depth)
{
	size_t len;

	if (*i >= n)
		return "expected a value";
	if (s[*i] == '"')
		return json_string_decode(s, n, i, scratch, &len);
	if (s[*i] == '{' || s[*i] == '[') {
		char close = s[*i] == '{' ? '}' : ']';
		int map = close == '}';

		if (depth == 0)
			return "nested too deep";
		*i = json_skip_space(s, n, *i + 1);
		if (*i < n && s[*i] == close) {
			(*i)++;
			return NULL;
		}
		for (;;) {
			const char *why;

			if (map) {
				if (*i >= n || s[*i] != '"')
					return "expected a member name";
				why = json_string_decode(s, n, i, scratch,
							 &len);
				if (why)
					return why;
				*i = json_skip_space(s, n, *i);
				if (*i >= n || s[*i] != ':')
					return "expected ':'";
				*i = json_skip_space(s, n, *i + 1);
			}
			why = json_skip_value(s, n, i, scratch, depth - 1);
			if (why)
				return why;
			*i = json_skip_space(s, n, *i);
			if (*i < n && s[*i] == close) {
				(*i)++;
				return NULL;
			}
			if (*i >= n || s[*i] != ',')
				return "expected ',' or the end";
			*i = json_skip_space(s, n, *i + 1);
		}
	}
	while (*i < n && (s[*i] == '-' || s[*i] == '+' || s[*i] == '.' ||
			  (s[*i] >= '0' && s[*i] <= '9') ||
			  (s[*i] >= 'a' && s[*i] <= 'z')))
		(*i)++;
	return NULL;
}

const char *json_object_members(const char *s, size_t n, char *buf,
				struct json_member *members,
				size_t member_max, size_t *count, size_t *at)
{
	size_t i = utf8_first_invalid(s, n), used = 0, len;
	const char *why = NULL;

	assert(buf != NULL && count != NULL && at != NULL);
	*count = 0;
	if (i < n) {
		*at = i;
		return "not UTF-8";
	}
	i = json_skip_space(s, n, 0);
	if (i >= n || s[i] != '{') {
		*at = i;
		return "expected '{'";
	}
	i = json_skip_space(s, n, i + 1);
	if (i < n && s[i] == '}')
		goto close;
	for (;;) {
		struct json_member *m;
		size_t start;

		if (i >= n || s[i] != '"') {
			why = "expected a member name";
			break;
		}
		if (*count == member_max) {
			why = "more members than allowed";
			break;
		}
		m = &members[(*count)++];
		why = json_string_decode(s, n, &i, buf + used, &len);
		if (why)
			break;
		m->name = buf + used;
		used += len + 1;
		i = json_skip_space(s, n, i);
		if (i >= n || s[i] != ':') {
			why = "expected ':'";
			break;
		}
		i = json_skip_space(s, n, i + 1);
		start = i;
		if (i < n && s[i] == '"') {
			why = json_string_decode(s, n, &i, buf + used, &len);
			m->string = 1;
		} else {
			/* the scratch is where the next decoded text goes:
			 * what skipping writes there is overwritten */
			why = json_skip_value(s, n, &i, buf + used,
					      JSON_DEPTH_MAX);
			m->string = 0;
			len = i - start;
			memcpy(buf + used, s + start, len);
			buf[used + len] = '\0';
		}
		if (why)
			break;
		m->value = buf + used;
		m->value_len = len;
		used += len + 1;
		assert(used <= i + 1);
		i = json_skip_space(s, n, i);
		if (i < n && s[i] == '}')
			goto close;
		if (i >= n || s[i] != ',') {
			why = "expected ',' or '}'";
			break;
		}
		i = json_skip_space(s, n, i + 1);
	}
	*at = i;
	return why;
close:
	i = json_skip_space(s, n, i + 1);
	*at = i;
	return i < n ? "text after the closing '}'" : NULL;
}

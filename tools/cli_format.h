/* SPDX-License-Identifier: MIT */
/*
 * cli_format.h - the text formats the logkeep tool reads and writes:
 *
 *  - the one-line escaping of `scan` (keys and values are opaque bytes, the
 *    output is one record per line),
 *  - JSON strings (`verify --json`), always valid UTF-8 whatever the bytes,
 *  - JSON lists of strings (import-sqlite reads the predecessors' node
 *    interfaces and protocols), decoded within the text's own size,
 *  - a bounded line reader for `load`, which never holds more than one line
 *    of at most a fixed size, whatever standard input contains.
 *
 * None of this knows about the engine: it is libc only.
 */
#ifndef LK_CLI_FORMAT_H
#define LK_CLI_FORMAT_H

#include <stddef.h>
#include <stdio.h>

/* ---------------------------------------------------------------------- */
/* Output                                                                 */
/* ---------------------------------------------------------------------- */

/* Writes n bytes so that they stay on one line and can be read back:
 * TAB as \t, newline as \n, backslash as \\, and every other byte outside
 * printable ASCII (0x20-0x7e) as \xHH with lower-case hex.  Write errors
 * are left in ferror(out). */
void text_put_escaped(FILE *out, const void *bytes, size_t n);

/* Writes n bytes as a JSON string, quotes included.  Valid UTF-8 passes
 * through; control characters, quote and backslash are escaped; a byte
 * that is not part of valid UTF-8 becomes U+FFFD, so the output is always
 * valid JSON. */
void json_put_string(FILE *out, const char *s, size_t n);

/* A copy of s with each byte that is not part of valid UTF-8 replaced by
 * U+FFFD (caller frees), or NULL when s is valid (or out of memory: then
 * the caller writes s as it is and the emitter reports the failure). */
char *utf8_replace_invalid(const char *s);

/* 1 if p[0..n) is text that YAML and JSON carry as it is: valid UTF-8,
 * no NUL, no control character but TAB and newline (dump shows other
 * bytes as hex). */
int text_is_clean(const void *p, size_t n);

/* The offset of the first byte of s[0, n) that is not part of valid UTF-8
 * (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF),
 * or n when all of it is. */
size_t utf8_first_invalid(const char *s, size_t n);

/* ---------------------------------------------------------------------- */
/* Input                                                                  */
/* ---------------------------------------------------------------------- */

enum line_result {
	LINE_OK = 0,       /* *line, *len hold the next line without its '\n' */
	LINE_EOF = 1,      /* no more lines */
	LINE_TOO_LONG = 2, /* the line passes the limit: stop reading */
	LINE_ERROR = 3,    /* a read error; errno says which */
};

struct line_reader {
	int fd;
	char *buf;
	size_t cap;          /* len_max + 1: a longest line and its '\n' */
	size_t len_max;      /* longest line accepted, without its '\n' */
	size_t start;        /* the next line starts here */
	size_t end;          /* bytes read end here */
	size_t scanned;      /* buf[start, scanned) holds no '\n' */
	int eof;
};

/* Prepares a reader of lines of at most len_max bytes from descriptor fd.
 * It reads with read(2), not stdio, so that a slow producer's lines are
 * seen as they come instead of when a buffer of len_max bytes fills.
 * Returns 0, or -1 when the buffer could not be allocated. */
int line_reader_init(struct line_reader *lr, int fd, size_t len_max);

/* Reads the next line.  A last line without '\n' counts as a line.
 * On LINE_OK the pointer is valid until the next call. */
enum line_result line_reader_next(struct line_reader *lr, const char **line,
				  size_t *len);

void line_reader_free(struct line_reader *lr);

/* Parses s[0, n), a JSON array of strings such as ["eth0", "wlan\u00e9"]
 * (whitespace allowed, nothing else), into at most item_max strings:
 * decoded (escapes, \u with surrogate pairs) and NUL-terminated in buf,
 * which must hold n + 1 bytes (a string decodes to fewer bytes than its
 * quoted text), with items[i] pointing at each and *count their number.
 * Returns NULL, or what is wrong ("not UTF-8", "expected ',' or ']'",
 * "more items than allowed", "a string holding U+0000", ...) with *at the
 * offset in s where it was found. */
const char *json_string_array(const char *s, size_t n, char *buf,
			      const char **items, size_t item_max,
			      size_t *count, size_t *at);

/* A member of a JSON object, as json_object_members finds it. */
struct json_member {
	const char *name;   /* decoded, NUL-terminated */
	const char *value;  /* a string: decoded; anything else: its text
			       (a number, a literal, a nested object) */
	size_t value_len;
	int string;         /* the value was a string */
};

/* How deep a value json_object_members passes over may nest. */
#define JSON_DEPTH_MAX 8

/* Parses s[0, n), one JSON object (whitespace around it allowed), into at
 * most member_max members, in order, their names and values decoded into
 * buf, which must hold n + 1 bytes.  Returns NULL, or what is wrong with
 * *at the offset in s where it was found. */
const char *json_object_members(const char *s, size_t n, char *buf,
				struct json_member *members,
				size_t member_max, size_t *count, size_t *at);

#endif /* LK_CLI_FORMAT_H */

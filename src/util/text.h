/* Small text helpers every layer shares: ASCII case folding (never the
 * locale's), the boolean spellings of options, and quoting user text in
 * messages. */
#ifndef DBCONN_TEXT_H
#define DBCONN_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

static inline char dbc_ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality of `a` (NUL-terminated) and the `blen`
 * bytes at `b`; every byte outside A-Z compares exactly. */
bool dbc_ascii_ieqn(const char *a, const char *b, size_t blen);
/* Same, both NUL-terminated. */
bool dbc_ascii_ieq(const char *a, const char *b);

/* 1 for true/1/yes/on, 0 for false/0/no/off (ASCII, any case), -1 for
 * anything else (NULL too). */
int dbc_parse_bool(const char *v);

/* A UTF-8 validator fed a byte at a time (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).  Zero it to start. */
typedef struct dbc_utf8 {
    int need;             /* continuation bytes still expected */
    unsigned char lo, hi; /* accepted range of the next one (0: 80..BF) */
} dbc_utf8;

/* Feeds byte c: false when it cannot continue valid UTF-8; st->need == 0
 * after a complete character. */
bool dbc_utf8_feed(dbc_utf8 *st, unsigned char c);
/* Length of the valid UTF-8 character at p (at most avail bytes), 0 when
 * the bytes there are not one. */
size_t dbc_utf8_len(const char *p, size_t avail);

/* The one way user text is quoted in messages, a character at a time:
 * printable ASCII and valid UTF-8 as they are; '"', '\', control
 * characters and bytes that are not UTF-8 as \xNN.  Appends the
 * character at p (avail > 0 bytes there) and returns how many bytes it
 * took. */
size_t dbc_put_shown(dbc_buf *b, const char *p, size_t avail);
/* A user string quoted that way into out (cap >= 32), which is returned:
 * at most 48 bytes of it, then "... (N bytes)".  NULL shows as (null). */
const char *dbc_show(const char *s, char *out, size_t cap);

#endif

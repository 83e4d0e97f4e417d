/* Small text helpers every layer shares: ASCII case folding (never the
 * locale's), the boolean spellings of options, and quoting user text in
 * messages. */
#ifndef DBCONN_TEXT_H
#define DBCONN_TEXT_H

#include <stdbool.h>
#include <stddef.h>

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

/* A user string made safe to quote in a message: at most 48 bytes shown,
 * control characters, quotes, backslashes and non-ASCII bytes as \xNN;
 * written to out (cap >= 16), which is returned.  NULL shows as (null). */
const char *dbc_show(const char *s, char *out, size_t cap);

#endif

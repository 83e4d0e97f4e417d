/* SQL text for PostgreSQL: the placeholders every engine of the library
 * takes ('?') become PostgreSQL's ($1, $2, ...), and the text is held to
 * one statement.  A small scanner of PostgreSQL's lexical rules: string
 * literals ('...' with '' inside; E'...' also with backslash escapes),
 * quoted identifiers ("..."), dollar quotes ($tag$...$tag$), comments (--
 * to the end of the line; nested block comments) -- a '?' or ';' inside
 * any of these is text, not syntax.  The server parses the result; the
 * scanner only has to find the placeholders and the end. */
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "driver/postgres/pg_int.h"

typedef struct scan {
    const char *s;
    size_t len, i;
    dbc_buf out;
    int plain;     /* '?' seen */
    int numbered;  /* largest $n or ?n seen */
    bool any;      /* a token other than whitespace and comments */
} scan;

static bool ident_char(unsigned char c) {
    return c == '_' || c == '$' || (c >= '0' && c <= '9') ||
           (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool ident_start(unsigned char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c >= 0x80;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* Copies s[from..to) to the output. */
static void copy(scan *z, size_t from, size_t to) {
    dbc_buf_append(&z->out, z->s + from, to - from);
}

/* Index after a comment starting at i ("--" or "/ *"), or i itself when
 * none starts there. */
static size_t skip_comment(const scan *z, size_t i) {
    const char *s = z->s;
    if (i + 1 < z->len && s[i] == '-' && s[i + 1] == '-') {
        while (i < z->len && s[i] != '\n')
            i++;
        return i;
    }
    if (i + 1 < z->len && s[i] == '/' && s[i + 1] == '*') {
        int depth = 0;
        while (i < z->len) {
            if (i + 1 < z->len && s[i] == '/' && s[i + 1] == '*') {
                depth++;
                i += 2;
            } else if (i + 1 < z->len && s[i] == '*' && s[i + 1] == '/') {
                i += 2;
                if (--depth == 0)
                    return i;
            } else {
                i++;
            }
        }
        return i; /* unterminated: runs to the end, as the server says */
    }
    return i;
}

/* Index after the quoted text starting at i with `q` ('\'' or '"'). */
static size_t skip_quoted(const scan *z, size_t i, char q, bool backslash) {
    const char *s = z->s;
    for (i++; i < z->len; i++) {
        if (backslash && s[i] == '\\') {
            i++;
        } else if (s[i] == q) {
            if (i + 1 < z->len && s[i + 1] == q)
                i++;
            else
                return i + 1;
        }
    }
    return i;
}

/* A dollar-quote opening "$tag$" at i: its length, or 0. */
static size_t dollar_tag(const scan *z, size_t i) {
    size_t j = i + 1;
    if (j < z->len && z->s[j] != '$') {
        if (!ident_start((unsigned char)z->s[j]))
            return 0;
        while (j < z->len && z->s[j] != '$' && ident_char((unsigned char)z->s[j]))
            j++;
    }
    return j < z->len && z->s[j] == '$' ? j + 1 - i : 0;
}

/* Index after the dollar-quoted text at i whose tag is `n` bytes long. */
static size_t skip_dollar(const scan *z, size_t i, size_t n) {
    const char *tag = z->s + i;
    for (size_t j = i + n; j + n <= z->len; j++)
        if (z->s[j] == '$' && memcmp(z->s + j, tag, n) == 0)
            return j + n;
    return z->len;
}

/* Reads the digits at i into *num (saturating); returns the index after. */
static size_t read_number(const scan *z, size_t i, int *num) {
    long v = 0;
    for (; i < z->len && z->s[i] >= '0' && z->s[i] <= '9'; i++)
        if (v < 100000)
            v = v * 10 + (z->s[i] - '0');
    *num = (int)v;
    return i;
}

/* '?' at i: a placeholder (written as $n), "??" (a literal '?') or "?NNN". */
static size_t placeholder(scan *z, size_t i) {
    if (i + 1 < z->len && z->s[i + 1] == '?') {
        dbc_buf_putc(&z->out, '?');
        return i + 2;
    }
    if (i + 1 < z->len && z->s[i + 1] >= '0' && z->s[i + 1] <= '9') {
        int n;
        size_t end = read_number(z, i + 1, &n);
        if (n > z->numbered)
            z->numbered = n;
        dbc_buf_putc(&z->out, '$');
        copy(z, i + 1, end);
        return end;
    }
    dbc_buf_printf(&z->out, "$%d", ++z->plain);
    return i + 1;
}

/* '$' at i that is not part of an identifier: $n, a dollar quote or a
 * lone '$'. */
static size_t dollar(scan *z, size_t i) {
    if (i + 1 < z->len && z->s[i + 1] >= '0' && z->s[i + 1] <= '9') {
        int n;
        size_t end = read_number(z, i + 1, &n);
        if (n > z->numbered)
            z->numbered = n;
        copy(z, i, end);
        return end;
    }
    size_t n = dollar_tag(z, i);
    size_t end = n ? skip_dollar(z, i, n) : i + 1;
    copy(z, i, end);
    return end;
}

/* True when only whitespace, ';' and comments follow i. */
static bool only_trivia(const scan *z, size_t i) {
    while (i < z->len) {
        size_t next = skip_comment(z, i);
        if (next != i)
            i = next;
        else if (is_space(z->s[i]) || z->s[i] == ';')
            i++;
        else
            return false;
    }
    return true;
}

/* One token at i: copies it (translated) and returns the index after it;
 * sets *end at a ';' that ends the statement. */
static size_t token(scan *z, size_t i, bool *end) {
    const char *s = z->s;
    unsigned char c = (unsigned char)s[i];
    unsigned char prev = i ? (unsigned char)s[i - 1] : ' ';
    size_t next = skip_comment(z, i);
    if (next != i) {
        copy(z, i, next);
        return next;
    }
    if (!is_space((char)c) && c != ';')
        z->any = true;
    switch (c) {
    case '\'': {
        /* E'...' (any case), not the end of an identifier like "name'". */
        bool e = (prev == 'E' || prev == 'e') &&
                 (i < 2 || !ident_char((unsigned char)s[i - 2]));
        next = skip_quoted(z, i, '\'', e);
        break;
    }
    case '"':
        next = skip_quoted(z, i, '"', false);
        break;
    case '$':
        if (ident_char(prev) && i > 0)
            break; /* part of an identifier: a$b */
        return dollar(z, i);
    case '?':
        return placeholder(z, i);
    case ';':
        *end = true;
        return i + 1;
    default:
        break;
    }
    if (next == i) { /* a plain character; identifiers are copied whole so
                        that a '$' inside stays part of them */
        next = i + 1;
        if (ident_start(c))
            while (next < z->len && ident_char((unsigned char)s[next]))
                next++;
    }
    copy(z, i, next);
    return next;
}

int dbc_pg_translate(const char *sql, size_t len, char **text, int *nparams) {
    scan z = {.s = sql, .len = len, .out = DBC_BUF_INIT};
    bool end = false;
    *text = NULL;
    *nparams = 0;
    size_t i = 0;
    while (i < len && !end)
        i = token(&z, i, &end);
    if (end && !only_trivia(&z, i)) {
        dbc_buf_free(&z.out);
        return dbc_fail(DBCONN_EINVAL,
                        "more than one SQL statement in \"%.200s\": "
                        "dbconn_exec runs one; use dbconn_exec_script",
                        sql);
    }
    if (!z.any) {
        dbc_buf_free(&z.out);
        return dbc_fail(DBCONN_EINVAL, "empty SQL statement: \"%.200s\"", sql);
    }
    if (z.plain && z.numbered) {
        dbc_buf_free(&z.out);
        return dbc_fail(DBCONN_EINVAL,
                        "SQL mixes '?' with numbered placeholders ($n or "
                        "?n): use one kind: \"%.200s\"",
                        sql);
    }
    char *t = dbc_buf_take(&z.out);
    if (!t)
        return dbc_nomem();
    *text = t;
    *nparams = z.plain ? z.plain : z.numbered;
    return 0;
}

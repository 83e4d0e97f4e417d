/* The first keyword of SQL text, and the statements of a script (see
 * sqlverb.h).  A small lexer: it knows what can hide a ';' or a keyword
 * (comments, string literals, quoted identifiers, PostgreSQL's dollar
 * quotes and E'' strings) and nothing of the grammar beyond the two bodies
 * whose ';'s do not end a statement. */
#include <string.h>

#include "util/sqlverb.h"

static bool ident_char(char c) {
    return c == '_' || c == '$' || (c >= '0' && c <= '9') ||
           (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (unsigned char)c >= 0x80;
}

static bool ident_start(char c) { return ident_char(c) && c != '$' &&
                                         !(c >= '0' && c <= '9'); }

/* Whitespace and comments; an unclosed block comment runs to the end. */
static const char *skip_trivia(const char *p) {
    for (;;) {
        while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            if (!end)
                return p + strlen(p);
            p = end + 2;
        } else {
            return p;
        }
    }
}

/* The end of a quoted run opened by `quote` at p (doubling the quote
 * escapes it; `backslash`: so does a backslash, as in E'...'). */
static const char *skip_quoted(const char *p, char quote, bool backslash) {
    for (p++; *p; p++) {
        if (backslash && *p == '\\' && p[1]) {
            p++;
        } else if (*p == quote) {
            if (p[1] != quote)
                return p + 1;
            p++;
        }
    }
    return p;
}

/* A dollar quote $tag$...$tag$ at p (tag: an identifier or empty), or NULL
 * when p is not one ($1 is a parameter, $name a SQLite parameter). */
static const char *skip_dollar(const char *p) {
    const char *t = p + 1;
    if (*t != '$' && !ident_start(*t))
        return NULL;
    while (*t != '$' && ident_char(*t))
        t++;
    if (*t != '$')
        return NULL;
    size_t taglen = (size_t)(t - p) + 1;
    for (const char *q = t + 1; (q = strchr(q, '$')) != NULL; q++)
        if (strncmp(q, p, taglen) == 0)
            return q + taglen;
    return p + strlen(p);
}

/* The end of the token at p (p at no trivia, *p not NUL). */
static const char *token_end(const char *p) {
    const char *e;
    switch (*p) {
    case '\'':
        return skip_quoted(p, '\'', false);
    case '"':
    case '`':
        return skip_quoted(p, *p, false);
    case '[': /* SQLite's [identifier] */
        e = strchr(p, ']');
        return e ? e + 1 : p + strlen(p);
    case '$':
        if ((e = skip_dollar(p)) != NULL)
            return e;
        break;
    default:
        break;
    }
    if ((*p == 'E' || *p == 'e') && p[1] == '\'')
        return skip_quoted(p + 1, '\'', true);
    if (!ident_char(*p))
        return p + 1;
    for (e = p; ident_char(*e); e++)
        ;
    return e;
}

/* Is the token [p, e) the keyword `word` (upper case), in any case? */
static bool is_word(const char *p, const char *e, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(e - p) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != word[i])
            return false;
    }
    return true;
}

static dbc_verb verb_of(const char *p) {
    static const struct {
        const char *word;
        dbc_verb verb;
    } verbs[] = {
        {"SELECT", DBC_VERB_SELECT},  {"VALUES", DBC_VERB_SELECT},
        {"WITH", DBC_VERB_WITH},      {"INSERT", DBC_VERB_WRITE},
        {"UPDATE", DBC_VERB_WRITE},   {"DELETE", DBC_VERB_WRITE},
        {"REPLACE", DBC_VERB_WRITE},  {"BEGIN", DBC_VERB_TXN},
        {"COMMIT", DBC_VERB_TXN},     {"END", DBC_VERB_TXN},
        {"ROLLBACK", DBC_VERB_TXN},   {"SAVEPOINT", DBC_VERB_TXN},
        {"RELEASE", DBC_VERB_TXN},    {"ABORT", DBC_VERB_TXN},
        {"CREATE", DBC_VERB_DDL},     {"DROP", DBC_VERB_DDL},
        {"ALTER", DBC_VERB_DDL},
    };
    if (!*p || !ident_char(*p))
        return DBC_VERB_OTHER;
    const char *e = token_end(p);
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (is_word(p, e, verbs[i].word))
            return verbs[i].verb;
    /* Two-word forms (PostgreSQL): START TRANSACTION, PREPARE TRANSACTION
     * (PREPARE name AS ... is a prepared statement, not control). */
    if (is_word(p, e, "START") || is_word(p, e, "PREPARE")) {
        const char *q = skip_trivia(e);
        if (*q && is_word(q, token_end(q), "TRANSACTION"))
            return DBC_VERB_TXN;
    }
    return DBC_VERB_OTHER;
}

dbc_verb dbc_sql_verb(const char *sql) {
    return sql ? verb_of(skip_trivia(sql)) : DBC_VERB_OTHER;
}

/* Where the statement starting at p (no trivia) ends: at its top-level ';'
 * or the end of the text.  Inside a CREATE statement, a BEGIN after
 * TRIGGER (SQLite's trigger body) or a BEGIN ATOMIC (PostgreSQL's SQL
 * function body) opens a body that an END closes; CASE ... END nests in
 * it. */
static const char *stmt_end(const char *p) {
    bool create = false, trigger = false;
    int depth = 0;
    for (bool first = true; *(p = skip_trivia(p)); first = false) {
        if (*p == ';' && depth == 0)
            return p;
        const char *e = token_end(p);
        if (first)
            create = is_word(p, e, "CREATE");
        else if (create && is_word(p, e, "TRIGGER"))
            trigger = true;
        else if (create && is_word(p, e, "BEGIN")) {
            const char *q = skip_trivia(e);
            if (depth > 0 || trigger || (*q && is_word(q, token_end(q),
                                                       "ATOMIC")))
                depth++;
        } else if (depth > 0 && is_word(p, e, "CASE"))
            depth++;
        else if (depth > 0 && is_word(p, e, "END"))
            depth--;
        p = e;
    }
    return p;
}

bool dbc_sql_next_stmt(const char *script, dbc_sql_stmt *st) {
    const char *p = st->start ? st->start + st->len : script;
    for (;;) {
        p = skip_trivia(p);
        if (*p != ';')
            break;
        p++;
    }
    if (!*p)
        return false;
    const char *e = stmt_end(p);
    st->start = p;
    st->len = (size_t)(e - p);
    st->index++;
    return true;
}

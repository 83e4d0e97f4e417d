/* The first keyword of SQL text (see sqlverb.h). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util/sqlverb.h"

static bool ident_char(char c) {
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

static const char *skip_space_and_comments(const char *sql) {
    for (;;) {
        while (*sql == ' ' || (*sql >= '\t' && *sql <= '\r'))
            sql++;
        if (sql[0] == '-' && sql[1] == '-') {
            sql += strcspn(sql, "\n");
        } else if (sql[0] == '/' && sql[1] == '*') {
            const char *end = strstr(sql + 2, "*/");
            if (!end)
                return "";
            sql = end + 2;
        } else {
            return sql;
        }
    }
}

/* Case-insensitive: does sql start with the keyword `word` (upper case)? */
static bool keyword(const char *sql, const char *word) {
    size_t i = 0;
    for (; word[i]; i++) {
        char c = sql[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != word[i])
            return false;
    }
    return !ident_char(sql[i]);
}

dbc_verb dbc_sql_verb(const char *sql) {
    static const struct {
        const char *word;
        dbc_verb verb;
    } verbs[] = {
        {"SELECT", DBC_VERB_SELECT}, {"VALUES", DBC_VERB_SELECT},
        {"WITH", DBC_VERB_WITH},     {"INSERT", DBC_VERB_WRITE},
        {"UPDATE", DBC_VERB_WRITE},  {"DELETE", DBC_VERB_WRITE},
        {"REPLACE", DBC_VERB_WRITE},
    };
    if (!sql)
        return DBC_VERB_OTHER;
    sql = skip_space_and_comments(sql);
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (keyword(sql, verbs[i].word))
            return verbs[i].verb;
    return DBC_VERB_OTHER;
}

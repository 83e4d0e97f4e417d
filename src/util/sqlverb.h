/* What kind of statement SQL text is, from its first keyword, and where the
 * statements of a script begin and end: lexical answers that need no
 * connection and no parse, the same on every engine. */
#ifndef DBCONN_SQLVERB_H
#define DBCONN_SQLVERB_H

#include <stdbool.h>
#include <stddef.h>

typedef enum dbc_verb {
    DBC_VERB_OTHER,  /* anything else (PRAGMA, EXPLAIN, VACUUM, ...) */
    DBC_VERB_SELECT, /* SELECT, VALUES: a query */
    DBC_VERB_WITH,   /* WITH: a query or, after its CTEs, a write */
    DBC_VERB_WRITE,  /* INSERT, UPDATE, DELETE, REPLACE */
    DBC_VERB_TXN,    /* transaction control: BEGIN, COMMIT, END, ROLLBACK,
                        SAVEPOINT, RELEASE, START TRANSACTION, ABORT,
                        PREPARE TRANSACTION */
    DBC_VERB_DDL,    /* CREATE, DROP, ALTER */
} dbc_verb;

/* The verb of the first keyword after whitespace and comments (`--` to the
 * end of the line, C-style blocks); NULL SQL is DBC_VERB_OTHER. */
dbc_verb dbc_sql_verb(const char *sql);

/* True for a query or a write: once such a statement has succeeded, the
 * transaction it ran in is still open (only transaction control, DDL and
 * the like can have ended it). */
static inline bool dbc_verb_keeps_tx(dbc_verb v) {
    return v == DBC_VERB_SELECT || v == DBC_VERB_WITH || v == DBC_VERB_WRITE;
}

/* True for a statement that writes: a write or DDL (what needs the write
 * lock; transaction control and PRAGMAs may too, but are not guessed). */
static inline bool dbc_verb_writes(dbc_verb v) {
    return v == DBC_VERB_WRITE || v == DBC_VERB_DDL;
}

/* One statement of a script: its text runs from `start` for `len` bytes
 * (without the ';'; leading whitespace and comments skipped), `index`
 * counts statements from 1.  Zero it before the first call. */
typedef struct dbc_sql_stmt {
    const char *start;
    size_t len;
    size_t index;
} dbc_sql_stmt;

/* Moves *st to the next statement of `script`, split where the engines
 * split it: at ';' outside string literals, quoted identifiers, dollar
 * quotes, comments, a CREATE TRIGGER's BEGIN ... END body and a BEGIN
 * ATOMIC ... END body.  Empty statements (";;") are skipped.  Returns
 * false when no statement is left. */
bool dbc_sql_next_stmt(const char *script, dbc_sql_stmt *st);

#endif

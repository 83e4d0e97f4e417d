/* What kind of statement SQL text is, from its first keyword: a guess that
 * needs no connection and no parse. */
#ifndef DBCONN_SQLVERB_H
#define DBCONN_SQLVERB_H

typedef enum dbc_verb {
    DBC_VERB_OTHER,  /* anything else (DDL, PRAGMA, BEGIN, ...) */
    DBC_VERB_SELECT, /* SELECT, VALUES: a query */
    DBC_VERB_WITH,   /* WITH: a query or, after its CTEs, a write */
    DBC_VERB_WRITE,  /* INSERT, UPDATE, DELETE, REPLACE */
} dbc_verb;

/* The verb of the first keyword after whitespace and comments (`--` to the
 * end of the line, C-style blocks); NULL SQL is DBC_VERB_OTHER. */
dbc_verb dbc_sql_verb(const char *sql);

#endif

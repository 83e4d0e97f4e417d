/* DDL (ddl.c): CREATE TABLE / CREATE INDEX statements for a list of
 * models, rendered through a driver's dialect, tables in foreign-key
 * order; and the two quoting helpers through which identifiers and
 * literals reach SQL. */
#ifndef DBCONN_DDL_H
#define DBCONN_DDL_H

#include <stddef.h>

#include "util/buf.h"
#include "dbconn.h"
#include "driver/driver.h"

typedef struct dbc_ddl_stmt {
    char *sql;          /* owned */
    const char *table;  /* borrowed from the model */
    char *index;        /* owned index name; NULL for CREATE TABLE */
} dbc_ddl_stmt;

typedef struct dbc_ddl {
    dbc_ddl_stmt *stmts; /* owned */
    size_t n;
} dbc_ddl;

/* Resolves every foreign key of `models` (validated by dbconn_base_add),
 * orders the tables so each comes after the tables it references (stable:
 * declaration order otherwise) and renders each table's CREATE TABLE IF NOT
 * EXISTS followed by its CREATE INDEX IF NOT EXISTS statements.  Errors,
 * reported before anything is rendered: DBCONN_EINVAL naming an unknown
 * target table or column, a reference without a column to a table with a
 * composite primary key, or a cycle (`foreign key cycle: "a" -> "b" ->
 * "a"`); DBCONN_ENOMEM.  On failure *out is empty. */
int dbc_ddl_build(const dbc_dialect *d, const dbconn_model *const *models,
                  size_t n, dbc_ddl *out);
void dbc_ddl_free(dbc_ddl *ddl);
/* Every statement followed by ";\n", as one owned string (dbc_free); ""
 * for no statements; NULL when out of memory. */
char *dbc_ddl_join(const dbc_ddl *ddl);

/* Appends `name` as a quoted identifier: "..." with every " doubled.  The
 * only way an identifier ever reaches SQL. */
void dbc_quote_ident(dbc_buf *b, const char *name);
/* Appends `text` as a string literal: '...' with every ' doubled. */
void dbc_quote_literal(dbc_buf *b, const char *text);

#endif

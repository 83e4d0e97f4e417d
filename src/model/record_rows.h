/* dbconn_rows: a result as the caller's structs (record_rows.c). */
#ifndef DBCONN_RECORD_ROWS_H
#define DBCONN_RECORD_ROWS_H

#include <stdbool.h>
#include "dbconn.h"

/* Related rows loaded for each row of a result (record_rel.c fills it). */
typedef struct dbc_rload {
    char *name;          /* owned: the rel as the user spelled it */
    dbconn_rows *rows;   /* owned: the related rows, grouped by row */
    size_t *start;       /* owned: n entries, first related row of row i */
    size_t *count;       /* owned: how many */
    bool to_one;         /* a parent (count 0 or 1), not children */
} dbc_rload;

struct dbconn_rows {
    const dbconn_model *m;
    size_t n;
    dbconn_result *res;  /* owned: the text and blob bytes */
    dbc_rload *loads;    /* owned */
    size_t nloads;
    unsigned char *data; /* n structs, after this header */
};

/* Rows of m made from every row of res (taken: freed on failure too). */
int dbc_rows_from_result(const dbconn_model *m, dbconn_result *res,
                         dbconn_rows **out);
/* Moves the structs of r into the order of perm (perm[i] = old index of the
 * new row i).  DBCONN_ENOMEM. */
int dbc_rows_permute(dbconn_rows *r, const size_t *perm);

#endif

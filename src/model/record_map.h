/* Struct fields <-> parameter values and result cells (record_map.c). */
#ifndef DBCONN_RECORD_MAP_H
#define DBCONN_RECORD_MAP_H

#include <stdbool.h>
#include <stdint.h>
#include "dbconn.h"

/* Parameter values built from struct fields, with room for the text of
 * timestamps; inline for small models. */
#define DBC_RVALS_INLINE 16
typedef struct dbc_rvals {
    dbconn_value *v;
    size_t n, cap;
    char (*ts)[DBCONN_TIMESTAMP_LEN];
    size_t nts;
    dbconn_value inline_v[DBC_RVALS_INLINE];
    char inline_ts[4][DBCONN_TIMESTAMP_LEN];
    void *heap; /* owned: v and ts when they did not fit inline */
} dbc_rvals;

/* Room for `cap` values, `nts` of them timestamps.  DBCONN_ENOMEM. */
int dbc_rvals_init(dbc_rvals *rv, size_t cap, size_t nts);
void dbc_rvals_free(dbc_rvals *rv);
void dbc_rvals_reset(dbc_rvals *rv);
/* Appends column c of obj as a parameter (NULL fields as SQL NULL). */
int dbc_rvals_field(dbc_rvals *rv, const dbconn_model *m, size_t c,
                    const void *obj);
/* Appends v as a value for column c: an integer for a BOOLEAN column binds
 * as a boolean, an integer for a TIMESTAMP column is formatted; text for a
 * TIMESTAMP column binds as a timestamp.  DBCONN_EINVAL for a timestamp out
 * of range. */
int dbc_rvals_value(dbc_rvals *rv, const dbconn_column *col,
                    const dbconn_value *v);

/* Re-records the thread's last failure `rc` as
 * 'model "<table>": column "<col>": <the message>'.  Returns rc. */
int dbc_fail_column(int rc, const char *table, const char *col);
/* True when column c of obj holds SQL NULL in the struct's terms. */
bool dbc_field_is_null(const dbconn_column *col, const void *obj);
/* Reads / writes an int64_t-sized field (INTEGER, TIMESTAMP). */
int64_t dbc_field_i64(const dbconn_column *col, const void *obj);
void dbc_field_set_i64(const dbconn_column *col, void *obj, int64_t v);
/* Orders field ca of a against field cb of b, two columns of one type
 * (NULL first); for matching keys. */
int dbc_field_cmp(const dbconn_column *ca, const void *a,
                  const dbconn_column *cb, const void *b);

/* Fills obj (zeroed first) from row `row` of r, whose columns col0 ..
 * col0 + ncols - 1 are m's columns in order.  Text and blob fields point
 * into r.  DBCONN_EINVAL naming model and column for a value of the wrong
 * kind (text in an INTEGER column, a malformed timestamp). */
int dbc_fill_struct(const dbconn_model *m, const dbconn_result *r, size_t row,
                    size_t col0, void *obj);

#endif

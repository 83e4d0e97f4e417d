/* Struct fields <-> parameter values and result cells, by the model's
 * column types and offsets.  Fields are read and written with memcpy: the
 * offsets come from the user's struct and nothing here assumes more about
 * their alignment than the struct itself does. */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "model/record_map.h"
#include "util/error.h"

int dbc_fail_column(int rc, const char *table, const char *col) {
    char msg[DBC_ERRMSG_MAX]; /* the message is about to be rewritten */
    (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
    return dbc_fail_native(rc, dbc_last_native(),
                           "model \"%s\": column \"%s\": %s", table, col, msg);
}

int dbc_rvals_init(dbc_rvals *rv, size_t cap, size_t nts) {
    rv->n = rv->nts = 0;
    rv->heap = NULL;
    rv->v = rv->inline_v;
    rv->ts = rv->inline_ts;
    rv->cap = cap;
    size_t nts_cap = sizeof rv->inline_ts / sizeof *rv->inline_ts;
    if (cap <= DBC_RVALS_INLINE && nts <= nts_cap)
        return 0;
    if (cap > SIZE_MAX / 2 / sizeof(dbconn_value) ||
        nts > SIZE_MAX / 2 / DBCONN_TIMESTAMP_LEN)
        return dbc_nomem();
    size_t vbytes = cap * sizeof(dbconn_value);
    rv->heap = dbc_malloc(vbytes + nts * DBCONN_TIMESTAMP_LEN + 1);
    if (!rv->heap)
        return dbc_nomem();
    rv->v = rv->heap;
    rv->ts = (char (*)[DBCONN_TIMESTAMP_LEN])((char *)rv->heap + vbytes);
    return 0;
}

void dbc_rvals_free(dbc_rvals *rv) {
    dbc_free(rv->heap);
    rv->heap = NULL;
}

void dbc_rvals_reset(dbc_rvals *rv) { rv->n = rv->nts = 0; }

static void put(dbc_rvals *rv, dbconn_value v) { rv->v[rv->n++] = v; }

static int put_ts(dbc_rvals *rv, int64_t t) {
    char *buf = rv->ts[rv->nts];
    int rc = dbconn_timestamp_format(t, buf, DBCONN_TIMESTAMP_LEN);
    if (rc)
        return rc;
    rv->nts++;
    put(rv, (dbconn_value){.type = DBCONN_TYPE_TIMESTAMP,
                           .u.b = {buf, DBCONN_NTS}});
    return 0;
}

int64_t dbc_field_i64(const dbconn_column *col, const void *obj) {
    int64_t v;
    memcpy(&v, (const char *)obj + col->offset, sizeof v);
    return v;
}

void dbc_field_set_i64(const dbconn_column *col, void *obj, int64_t v) {
    memcpy((char *)obj + col->offset, &v, sizeof v);
}

static double field_real(const dbconn_column *col, const void *obj) {
    double v;
    memcpy(&v, (const char *)obj + col->offset, sizeof v);
    return v;
}

static bool field_bool(const dbconn_column *col, const void *obj) {
    bool v;
    memcpy(&v, (const char *)obj + col->offset, sizeof v);
    return v;
}

static const char *field_text(const dbconn_column *col, const void *obj) {
    const char *v;
    memcpy(&v, (const char *)obj + col->offset, sizeof v);
    return v;
}

static dbconn_blob field_blob(const dbconn_column *col, const void *obj) {
    dbconn_blob v;
    memcpy(&v, (const char *)obj + col->offset, sizeof v);
    return v;
}

bool dbc_field_is_null(const dbconn_column *col, const void *obj) {
    bool zn = (col->flags & DBCONN_ZERO_IS_NULL) != 0;
    switch (col->type) {
    case DBCONN_TYPE_INTEGER:
        return zn && dbc_field_i64(col, obj) == 0;
    case DBCONN_TYPE_REAL:
        return zn && field_real(col, obj) == 0.0;
    case DBCONN_TYPE_BOOLEAN:
        return zn && !field_bool(col, obj);
    case DBCONN_TYPE_TEXT:
        return field_text(col, obj) == NULL;
    case DBCONN_TYPE_BLOB:
        return field_blob(col, obj).data == NULL;
    default: /* TIMESTAMP */
        return dbc_field_i64(col, obj) == 0;
    }
}

int dbc_rvals_field(dbc_rvals *rv, const dbconn_model *m, size_t c,
                    const void *obj) {
    const dbconn_column *col = &m->columns[c];
    if (dbc_field_is_null(col, obj)) {
        put(rv, DBCONN_NULL);
        return 0;
    }
    switch (col->type) {
    case DBCONN_TYPE_INTEGER:
        put(rv, DBCONN_INT(dbc_field_i64(col, obj)));
        return 0;
    case DBCONN_TYPE_REAL:
        put(rv, DBCONN_REAL(field_real(col, obj)));
        return 0;
    case DBCONN_TYPE_BOOLEAN:
        put(rv, (dbconn_value){.type = DBCONN_TYPE_BOOLEAN,
                               .u.i = field_bool(col, obj)});
        return 0;
    case DBCONN_TYPE_TEXT:
        put(rv, DBCONN_TEXT(field_text(col, obj)));
        return 0;
    case DBCONN_TYPE_BLOB: {
        dbconn_blob bl = field_blob(col, obj);
        put(rv, DBCONN_BLOB(bl.data, bl.len));
        return 0;
    }
    default: {
        int rc = put_ts(rv, dbc_field_i64(col, obj));
        if (rc)
            return dbc_fail_column(rc, m->table, col->name);
        return 0;
    }
    }
}

int dbc_rvals_value(dbc_rvals *rv, const dbconn_column *col,
                    const dbconn_value *v) {
    dbconn_value x = *v;
    if (col->type == DBCONN_TYPE_BOOLEAN && x.type == DBCONN_TYPE_INTEGER)
        x.type = DBCONN_TYPE_BOOLEAN;
    if (col->type == DBCONN_TYPE_TIMESTAMP) {
        if (x.type == DBCONN_TYPE_INTEGER)
            return x.u.i == 0 ? (put(rv, DBCONN_NULL), 0) : put_ts(rv, x.u.i);
        if (x.type == DBCONN_TYPE_TEXT)
            x.type = DBCONN_TYPE_TIMESTAMP;
    }
    put(rv, x);
    return 0;
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

int dbc_field_cmp(const dbconn_column *ca, const void *a,
                  const dbconn_column *cb, const void *b) {
    bool na = dbc_field_is_null(ca, a), nb = dbc_field_is_null(cb, b);
    if (na || nb)
        return (int)nb - (int)na;
    switch (ca->type) {
    case DBCONN_TYPE_REAL: {
        double x = field_real(ca, a), y = field_real(cb, b);
        return (x > y) - (x < y);
    }
    case DBCONN_TYPE_BOOLEAN:
        return (int)field_bool(ca, a) - (int)field_bool(cb, b);
    case DBCONN_TYPE_TEXT:
        return strcmp(field_text(ca, a), field_text(cb, b));
    case DBCONN_TYPE_BLOB: {
        dbconn_blob x = field_blob(ca, a), y = field_blob(cb, b);
        size_t n = x.len < y.len ? x.len : y.len;
        int c = n ? memcmp(x.data, y.data, n) : 0;
        return c ? c : (x.len > y.len) - (x.len < y.len);
    }
    default: /* INTEGER, TIMESTAMP */
        return cmp_i64(dbc_field_i64(ca, a), dbc_field_i64(cb, b));
    }
}

/* ---- result cells -> fields ---------------------------------------------- */

static const char *type_word(int t) {
    switch (t) {
    case DBCONN_TYPE_INTEGER: return "an integer";
    case DBCONN_TYPE_REAL: return "a real";
    case DBCONN_TYPE_TEXT: return "text";
    case DBCONN_TYPE_BLOB: return "a blob";
    default: return "NULL";
    }
}

static int wrong_kind(const dbconn_model *m, const dbconn_column *col,
                      int got) {
    return dbc_fail(DBCONN_EINVAL,
                    "model \"%s\": column \"%s\" holds %s, which its field "
                    "cannot take (declared %s)",
                    m->table, col->name, type_word(got),
                    type_word(col->type == DBCONN_TYPE_BOOLEAN
                                  ? DBCONN_TYPE_INTEGER
                                  : col->type == DBCONN_TYPE_TIMESTAMP
                                        ? DBCONN_TYPE_TEXT
                                        : col->type));
}

/* PostgreSQL's text form of a boolean. */
static int text_bool(const char *t, bool *out) {
    if (!strcmp(t, "t") || !strcmp(t, "true") || !strcmp(t, "1"))
        *out = true;
    else if (!strcmp(t, "f") || !strcmp(t, "false") || !strcmp(t, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

static int fill_bool(const dbconn_model *m, const dbconn_column *col,
                     const dbconn_result *r, size_t row, size_t k, int t,
                     char *f) {
    bool v = false;
    if (t == DBCONN_TYPE_INTEGER || t == DBCONN_TYPE_REAL)
        v = dbconn_result_int(r, row, k) != 0;
    else if (t == DBCONN_TYPE_TEXT &&
             text_bool(dbconn_result_text(r, row, k), &v) == 0)
        ;
    else if (t != DBCONN_TYPE_NULL)
        return wrong_kind(m, col, t);
    memcpy(f, &v, sizeof v);
    return 0;
}

/* Text first: for TEXT and TIMESTAMP columns the text getter answers the
 * common case alone; the type is asked only when it returns NULL. */
static int fill_text(const dbconn_model *m, const dbconn_column *col,
                     const dbconn_result *r, size_t row, size_t k, char *f) {
    const char *v = dbconn_result_text(r, row, k);
    int t = v ? DBCONN_TYPE_TEXT : dbconn_result_type(r, row, k);
    if (t != DBCONN_TYPE_TEXT && t != DBCONN_TYPE_NULL)
        return wrong_kind(m, col, t);
    if (col->type == DBCONN_TYPE_TEXT) {
        memcpy(f, &v, sizeof v);
        return 0;
    }
    int64_t ts = 0;
    if (v && dbconn_timestamp_parse(v, &ts) != 0)
        return dbc_fail_column(DBCONN_EINVAL, m->table, col->name);
    memcpy(f, &ts, sizeof ts);
    return 0;
}

static int fill_one(const dbconn_model *m, const dbconn_column *col,
                    const dbconn_result *r, size_t row, size_t k, char *f) {
    if (col->type == DBCONN_TYPE_TEXT || col->type == DBCONN_TYPE_TIMESTAMP)
        return fill_text(m, col, r, row, k, f);
    int t = dbconn_result_type(r, row, k);
    switch (col->type) {
    case DBCONN_TYPE_INTEGER: {
        if (t != DBCONN_TYPE_INTEGER && t != DBCONN_TYPE_REAL &&
            t != DBCONN_TYPE_NULL)
            return wrong_kind(m, col, t);
        int64_t v = dbconn_result_int(r, row, k);
        memcpy(f, &v, sizeof v);
        return 0;
    }
    case DBCONN_TYPE_REAL: {
        if (t != DBCONN_TYPE_INTEGER && t != DBCONN_TYPE_REAL &&
            t != DBCONN_TYPE_NULL)
            return wrong_kind(m, col, t);
        double v = dbconn_result_real(r, row, k);
        memcpy(f, &v, sizeof v);
        return 0;
    }
    case DBCONN_TYPE_BLOB: {
        dbconn_blob v = {NULL, 0};
        if (t == DBCONN_TYPE_BLOB) {
            v.data = dbconn_result_blob(r, row, k, &v.len);
        } else if (t == DBCONN_TYPE_TEXT) {
            v.data = dbconn_result_text(r, row, k);
            v.len = dbconn_result_text_len(r, row, k);
        } else if (t != DBCONN_TYPE_NULL) {
            return wrong_kind(m, col, t);
        }
        memcpy(f, &v, sizeof v);
        return 0;
    }
    default: /* BOOLEAN */
        return fill_bool(m, col, r, row, k, t, f);
    }
}

int dbc_fill_struct(const dbconn_model *m, const dbconn_result *r, size_t row,
                    size_t col0, void *obj) {
    memset(obj, 0, m->struct_size);
    for (size_t i = 0; i < m->ncolumns; i++) {
        const dbconn_column *col = &m->columns[i];
        int rc = fill_one(m, col, r, row, col0 + i, (char *)obj + col->offset);
        if (rc)
            return rc;
    }
    return 0;
}

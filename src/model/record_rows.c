/* dbconn_rows: the caller's structs, in one allocation after the header,
 * with their text and blob fields pointing into the buffered result the
 * rows keep -- no value is copied twice, and one free releases it all.
 * Also dbconn_record_copy / _clear, for structs that own their values. */
#include <string.h>

#include "util/alloc.h"
#include "model/record_map.h"
#include "model/record_rows.h"
#include "util/error.h"

/* The structs start at the first max_align_t boundary after the header. */
static size_t header_size(void) {
    size_t a = _Alignof(max_align_t), h = sizeof(struct dbconn_rows);
    return (h + a - 1) / a * a;
}

int dbc_rows_from_result(const dbconn_model *m, dbconn_result *res,
                         dbconn_rows **out) {
    *out = NULL;
    size_t n = dbconn_result_nrows(res), size = m->struct_size;
    if (n > (SIZE_MAX - header_size()) / size) {
        dbconn_result_free(res);
        return dbc_nomem();
    }
    dbconn_rows *r = dbc_malloc(header_size() + n * size);
    if (!r) {
        dbconn_result_free(res);
        return dbc_nomem();
    }
    *r = (struct dbconn_rows){.m = m, .n = n, .res = res};
    r->data = (unsigned char *)r + header_size();
    for (size_t i = 0; i < n; i++) {
        int rc = dbc_fill_struct(m, res, i, 0, r->data + i * size);
        if (rc) {
            dbconn_rows_free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

int dbc_rows_permute(dbconn_rows *r, const size_t *perm) {
    size_t size = r->m->struct_size;
    if (r->n < 2)
        return 0;
    unsigned char *tmp = dbc_malloc(r->n * size);
    if (!tmp)
        return dbc_nomem();
    for (size_t i = 0; i < r->n; i++)
        memcpy(tmp + i * size, r->data + perm[i] * size, size);
    memcpy(r->data, tmp, r->n * size);
    dbc_free(tmp);
    return 0;
}

size_t dbconn_rows_count(const dbconn_rows *r) { return r ? r->n : 0; }

void *dbconn_rows_data(dbconn_rows *r) { return r && r->n ? r->data : NULL; }

void *dbconn_rows_at(dbconn_rows *r, size_t i) {
    return r && i < r->n ? r->data + i * r->m->struct_size : NULL;
}

const dbconn_model *dbconn_rows_model(const dbconn_rows *r) {
    return r ? r->m : NULL;
}

int dbconn_rows_related(const dbconn_rows *r, size_t row, const char *rel,
                        void **first, size_t *n) {
    if (first)
        *first = NULL;
    if (n)
        *n = 0;
    if (!r || !rel || !first || !n)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_rows_related: rows, rel, first and n must "
                        "not be NULL");
    if (row >= r->n)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_rows_related: row %zu of %zu rows", row, r->n);
    for (size_t k = 0; k < r->nloads; k++) {
        const dbc_rload *l = &r->loads[k];
        if (strcmp(l->name, rel) != 0)
            continue;
        *n = l->count[row];
        if (*n)
            *first = l->rows->data + l->start[row] * l->rows->m->struct_size;
        return 0;
    }
    return dbc_fail(DBCONN_EINVAL,
                    "model \"%s\": relationship \"%s\" was not loaded "
                    "(dbconn_query_load it)",
                    r->m->table, rel);
}

/* Related rows have no loads of their own (one level): their result and
 * themselves. */
static void free_related(dbconn_rows *r) {
    if (!r)
        return;
    dbconn_result_free(r->res);
    dbc_free(r);
}

void dbconn_rows_free(dbconn_rows *r) {
    if (!r)
        return;
    for (size_t k = 0; k < r->nloads; k++) {
        dbc_free(r->loads[k].name);
        free_related(r->loads[k].rows);
        dbc_free(r->loads[k].start);
        dbc_free(r->loads[k].count);
    }
    dbc_free(r->loads);
    dbconn_result_free(r->res);
    dbc_free(r);
}

/* ---- structs that own their values ---------------------------------------- */

static bool owns_bytes(const dbconn_column *c) {
    return c->type == DBCONN_TYPE_TEXT || c->type == DBCONN_TYPE_BLOB;
}

void dbconn_record_clear(const dbconn_model *m, void *obj) {
    if (!m || !obj)
        return;
    for (size_t i = 0; i < m->ncolumns; i++) {
        const dbconn_column *c = &m->columns[i];
        if (!owns_bytes(c))
            continue;
        char *f = (char *)obj + c->offset;
        if (c->type == DBCONN_TYPE_TEXT) {
            char *p;
            memcpy(&p, f, sizeof p);
            dbc_free(p);
            p = NULL;
            memcpy(f, &p, sizeof p);
        } else {
            dbconn_blob bl;
            memcpy(&bl, f, sizeof bl);
            dbc_free((void *)bl.data);
            bl = (dbconn_blob){NULL, 0};
            memcpy(f, &bl, sizeof bl);
        }
    }
}

/* Sets every text and blob field of obj to NULL (without freeing). */
static void forget_bytes(const dbconn_model *m, void *obj) {
    for (size_t i = 0; i < m->ncolumns; i++) {
        const dbconn_column *c = &m->columns[i];
        char *f = (char *)obj + c->offset;
        if (c->type == DBCONN_TYPE_TEXT) {
            char *p = NULL;
            memcpy(f, &p, sizeof p);
        } else if (c->type == DBCONN_TYPE_BLOB) {
            dbconn_blob bl = {NULL, 0};
            memcpy(f, &bl, sizeof bl);
        }
    }
}

/* Replaces field f's value (text or blob) by an owned copy. */
static int dup_field(const dbconn_column *c, char *f) {
    if (c->type == DBCONN_TYPE_TEXT) {
        char *p;
        memcpy(&p, f, sizeof p);
        if (!p)
            return 0;
        if (!(p = dbc_strdup(p)))
            return dbc_nomem();
        memcpy(f, &p, sizeof p);
        return 0;
    }
    dbconn_blob bl;
    memcpy(&bl, f, sizeof bl);
    if (!bl.data)
        return 0;
    void *copy = dbc_malloc(bl.len ? bl.len : 1);
    if (!copy)
        return dbc_nomem();
    if (bl.len)
        memcpy(copy, bl.data, bl.len);
    bl.data = copy;
    memcpy(f, &bl, sizeof bl);
    return 0;
}

int dbconn_record_copy(const dbconn_model *m, void *dst, const void *src) {
    if (!m || !dst || !src)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_record_copy: model, dst and src must not be "
                        "NULL");
    memmove(dst, src, m->struct_size);
    for (size_t i = 0; i < m->ncolumns; i++) {
        const dbconn_column *c = &m->columns[i];
        if (!owns_bytes(c) || dup_field(c, (char *)dst + c->offset) == 0)
            continue;
        /* Columns before i hold copies; from i on, src's pointers. */
        for (size_t j = 0; j < i; j++) {
            const dbconn_column *d = &m->columns[j];
            if (owns_bytes(d))
                dbconn_record_clear(&(dbconn_model){.columns = d,
                                                    .ncolumns = 1},
                                    dst);
        }
        forget_bytes(m, dst);
        return dbc_fail(DBCONN_ENOMEM,
                        "model \"%s\": dbconn_record_copy: out of memory "
                        "copying column \"%s\"",
                        m->table, c->name);
    }
    return 0;
}

/* insert_many: the C answer to executemany / insert_all.  One transaction,
 * one prepared statement run once per struct (the plan's text, so every run
 * after the first finds it by pointer in the statement cache), one
 * parameter array reused.  All or nothing, the structs included: what was
 * written back into them is put back when the insert fails. */
#include <string.h>

#include "util/alloc.h"
#include "model/record.h"
#include "model/record_bulk.h"
#include "model/record_map.h"
#include "util/error.h"

static int64_t get_or_zero(const dbconn_model *m, int col, const void *obj) {
    return col >= 0 ? dbc_field_i64(&m->columns[col], obj) : 0;
}

static void set_if(const dbconn_model *m, int col, void *obj, int64_t v) {
    if (col >= 0)
        dbc_field_set_i64(&m->columns[col], obj, v);
}

dbc_roles dbc_rplan_roles(const dbc_rplan *p) {
    return (dbc_roles){p->m, p->gen, p->created_at, p->updated_at};
}

dbc_written dbc_remember(const dbc_roles *r, const void *obj) {
    return (dbc_written){get_or_zero(r->m, r->gen, obj),
                         get_or_zero(r->m, r->created_at, obj),
                         get_or_zero(r->m, r->updated_at, obj)};
}

void dbc_put_back(const dbc_roles *r, void *obj, dbc_written w) {
    set_if(r->m, r->gen, obj, w.key);
    set_if(r->m, r->created_at, obj, w.created);
    set_if(r->m, r->updated_at, obj, w.updated);
}

static int insert_all(dbc_rctx *c, unsigned char *objs, size_t n,
                      dbc_written *saved, size_t *done) {
    const dbc_rplan *p = c->p;
    size_t size = p->m->struct_size;
    dbconn_timestamp now = dbconn_timestamp_now();
    dbc_roles roles = dbc_rplan_roles(p);
    dbc_rvals rv;
    int rc = dbc_rvals_init(&rv, p->ncols, p->nts);
    for (*done = 0; rc == 0 && *done < n; (*done)++) {
        void *obj = objs + *done * size;
        saved[*done] = dbc_remember(&roles, obj);
        dbc_rvals_reset(&rv);
        if ((rc = dbc_create_one(c, obj, now, &rv)) != 0)
            break;
    }
    dbc_rvals_free(&rv);
    return rc;
}

int dbconn_record_insert_many(dbconn_session *s, dbconn_base *b,
                              const dbconn_model *m, void *objs, size_t n) {
    dbc_rctx c;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_insert_many");
    if (rc == 0 && n && !objs)
        rc = dbc_fail(DBCONN_EINVAL,
                      "model \"%s\": dbconn_record_insert_many: objs is NULL",
                      c.p->m->table);
    if (rc || n == 0)
        return dbc_rctx_close(&c, rc);
    dbc_written *saved = n <= SIZE_MAX / sizeof *saved
                         ? dbc_malloc(n * sizeof *saved)
                         : NULL;
    size_t done = 0;
    rc = saved ? insert_all(&c, objs, n, saved, &done) : dbc_nomem();
    rc = dbc_rctx_close(&c, rc);
    if (rc && saved) {
        dbc_roles roles = dbc_rplan_roles(c.p);
        size_t size = c.p->m->struct_size;
        for (size_t i = 0; i < done && i < n; i++)
            dbc_put_back(&roles, (unsigned char *)objs + i * size, saved[i]);
    }
    dbc_free(saved);
    return rc;
}

/* The record calls on one object: create, get, save, update, delete,
 * destroy, exists, count -- and the rule they share for transactions: a
 * call made outside a transaction is one (committed on success, rolled back
 * on failure); inside one, it joins and never ends it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "model/record.h"
#include "model/record_map.h"
#include "model/record_plan.h"
#include "model/record_rows.h"
#include "util/error.h"
#include "util/text.h"

/* ---- context -------------------------------------------------------------- */

int dbc_rctx_plan(dbc_rctx *c, dbconn_base *b, const dbconn_model *m,
                  const char *what) {
    *c = (dbc_rctx){.b = b ? b : dbconn_active_record_base(), .what = what};
    if (!m)
        return dbc_fail(DBCONN_EINVAL, "%s: model is NULL", what);
    return dbc_base_record_plan(c->b, m, &c->p, &c->bound);
}

int dbc_rctx_session(dbc_rctx *c, dbconn_session *s) {
    if (s) {
        c->s = s;
        return 0;
    }
    int rc = c->bound ? dbconn_scoped_session(c->bound, &c->s)
                      : DBCONN_ECLOSED;
    if (rc == DBCONN_ECLOSED)
        return dbc_fail(DBCONN_ECLOSED,
                        "model \"%s\": %s: the model's base is not bound to "
                        "a dbconn (call dbconn_init_db with it, or pass a "
                        "session)",
                        c->p->m->table, c->what);
    return rc ? dbc_rfail(c, rc) : 0;
}

int dbc_rctx_open(dbc_rctx *c, dbconn_session *s, dbconn_base *b,
                  const dbconn_model *m, const char *what) {
    int rc = dbc_rctx_plan(c, b, m, what);
    if (rc == 0)
        rc = dbc_rctx_session(c, s);
    if (rc == 0)
        c->own = !dbconn_in_transaction(c->s);
    return rc;
}

int dbc_rfail(const dbc_rctx *c, int rc) {
    char msg[DBC_ERRMSG_MAX];
    (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
    return dbc_fail_native(rc, dbc_last_native(), "model \"%s\": %s: %s",
                           c->p ? c->p->m->table : "?", c->what, msg);
}

int dbc_rctx_close(dbc_rctx *c, int rc) {
    if (!c->own || !c->s)
        return rc;
    if (rc == 0) {
        rc = dbconn_commit(c->s);
        if (rc == 0)
            return 0;
        rc = dbc_rfail(c, rc);
    }
    /* An earlier failure of the caller's (EABORTED) is theirs to roll back;
     * anything else the call began, it ends -- keeping its message. */
    if (rc == DBCONN_EABORTED)
        return rc;
    char msg[DBC_ERRMSG_MAX];
    int native = dbc_last_native();
    (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
    (void)dbconn_rollback(c->s);
    return dbc_fail_native(rc, native, "%s", msg);
}

/* ---- helpers shared with the bulk and async forms ------------------------- */

int dbc_rvals_key(dbc_rvals *rv, const dbc_rplan *p, const void *obj) {
    for (size_t k = 0; k < p->npk; k++) {
        int rc = dbc_rvals_field(rv, p->m, p->pk[k], obj);
        if (rc)
            return rc;
    }
    return 0;
}

void dbc_touch(const dbc_rplan *p, void *obj, dbconn_timestamp now,
               bool creating) {
    const dbconn_column *cols = p->m->columns;
    if (creating && p->created_at >= 0 &&
        dbc_field_i64(&cols[p->created_at], obj) == 0)
        dbc_field_set_i64(&cols[p->created_at], obj, now);
    if (p->updated_at >= 0)
        dbc_field_set_i64(&cols[p->updated_at], obj, now);
}

int dbc_create_stmt(const dbc_rplan *p, const void *obj, dbc_rvals *rv,
                    const char **sql, bool *returning) {
    const dbconn_model *m = p->m;
    *returning = p->gen >= 0 && dbc_field_i64(&m->columns[p->gen], obj) == 0;
    *sql = *returning ? p->insert_gen_sql : p->insert_sql;
    for (size_t i = 0; i < m->ncolumns; i++) {
        if (*returning && (int)i == p->gen)
            continue;
        int rc = dbc_rvals_field(rv, m, i, obj);
        if (rc)
            return rc;
    }
    return 0;
}

int dbc_check_key(const dbc_rctx *c, const dbconn_value *key, size_t nkey) {
    if (nkey != c->p->npk || !key)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": %s: the primary key has %zu column%s; "
                        "%zu value%s given",
                        c->p->m->table, c->what, c->p->npk,
                        c->p->npk == 1 ? "" : "s", key ? nkey : 0,
                        key && nkey == 1 ? "" : "s");
    return 0;
}

/* Appends one key value for a message. */
static void show_value(dbc_buf *b, const dbconn_value *v) {
    char shown[64];
    switch (v->type) {
    case DBCONN_TYPE_INTEGER:
    case DBCONN_TYPE_BOOLEAN:
        dbc_buf_printf(b, "%" PRId64, v->u.i);
        break;
    case DBCONN_TYPE_REAL:
        dbc_buf_printf(b, "%g", v->u.r);
        break;
    case DBCONN_TYPE_TEXT:
    case DBCONN_TYPE_TIMESTAMP:
        if (v->u.b.ptr && v->u.b.len == DBCONN_NTS)
            dbc_buf_printf(b, "'%s'", dbc_show(v->u.b.ptr, shown,
                                               sizeof shown));
        else
            dbc_buf_puts(b, "(text)");
        break;
    default:
        dbc_buf_puts(b, v->type == DBCONN_TYPE_NULL ? "NULL" : "(blob)");
    }
}

char *dbc_key_text(const dbc_rplan *p, const dbconn_value *key,
                   size_t nkey) {
    dbc_buf b = DBC_BUF_INIT;
    for (size_t k = 0; k < nkey && k < p->npk; k++) {
        dbc_buf_printf(&b, "%s\"%s\" = ", k ? " AND " : "",
                       p->m->columns[p->pk[k]].name);
        show_value(&b, &key[k]);
    }
    return dbc_buf_take(&b);
}

int dbc_notfound(const dbc_rctx *c, const dbconn_value *key, size_t nkey) {
    char *text = dbc_key_text(c->p, key, nkey);
    int rc = dbc_fail(DBCONN_ENOTFOUND, "model \"%s\": %s: no row with %s",
                      c->p->m->table, c->what, text ? text : "that key");
    dbc_free(text);
    return rc;
}

int dbc_update_mask(const dbc_rplan *p, const char *const *columns, size_t n,
                    uint64_t *mask) {
    const dbconn_model *m = p->m;
    *mask = 0;
    if (m->ncolumns > 64)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": dbconn_record_update handles models of "
                        "at most 64 columns; update this one through "
                        "dbconn_query_update",
                        m->table);
    for (size_t i = 0; columns && i < n; i++) {
        const dbconn_column *col =
            columns[i] ? dbc_model_column(m, columns[i], strlen(columns[i]))
                       : NULL;
        if (!col)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\" has no column \"%s\"", m->table,
                            columns[i] ? columns[i] : "(null)");
        if (col->flags & DBCONN_PRIMARY_KEY)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": column \"%s\" is part of the "
                            "primary key, which an update does not change",
                            m->table, col->name);
        *mask |= UINT64_C(1) << (col - m->columns);
    }
    if (!columns) {
        for (size_t i = 0; i < m->ncolumns; i++)
            if (!(m->columns[i].flags & DBCONN_PRIMARY_KEY) &&
                (int)i != p->created_at)
                *mask |= UINT64_C(1) << i;
    }
    if (p->updated_at >= 0)
        *mask |= UINT64_C(1) << p->updated_at;
    if (*mask == 0)
        return dbc_fail(DBCONN_EINVAL, "model \"%s\": no column to update",
                        m->table);
    return 0;
}

int dbc_update_vals(const dbc_rplan *p, uint64_t mask, const void *obj,
                    dbc_rvals *rv) {
    for (size_t i = 0; i < p->m->ncolumns && i < 64; i++) {
        if (!(mask & (UINT64_C(1) << i)))
            continue;
        int rc = dbc_rvals_field(rv, p->m, i, obj);
        if (rc)
            return rc;
    }
    return dbc_rvals_key(rv, p, obj);
}

/* ---- the calls ------------------------------------------------------------ */

/* The kept timestamps of obj, to put back when a write fails. */
typedef struct saved_ts {
    int64_t created, updated;
} saved_ts;

static saved_ts save_ts(const dbc_rplan *p, const void *obj) {
    const dbconn_column *cols = p->m->columns;
    return (saved_ts){
        p->created_at >= 0 ? dbc_field_i64(&cols[p->created_at], obj) : 0,
        p->updated_at >= 0 ? dbc_field_i64(&cols[p->updated_at], obj) : 0};
}

static void restore_ts(const dbc_rplan *p, void *obj, saved_ts t) {
    const dbconn_column *cols = p->m->columns;
    if (p->created_at >= 0)
        dbc_field_set_i64(&cols[p->created_at], obj, t.created);
    if (p->updated_at >= 0)
        dbc_field_set_i64(&cols[p->updated_at], obj, t.updated);
}

static int need_obj(const dbc_rctx *c, const void *obj) {
    return obj ? 0
               : dbc_fail(DBCONN_EINVAL, "model \"%s\": %s: obj is NULL",
                          c->p->m->table, c->what);
}

int dbc_create_one(dbc_rctx *c, void *obj, dbconn_timestamp now,
                   dbc_rvals *rv) {
    const dbc_rplan *p = c->p;
    saved_ts ts = save_ts(p, obj);
    dbc_touch(p, obj, now, true);
    const char *sql;
    bool returning;
    dbconn_result *res = NULL;
    int rc = dbc_create_stmt(p, obj, rv, &sql, &returning);
    if (rc == 0 && (rc = dbconn_exec(c->s, sql, rv->v, rv->n,
                                     returning ? &res : NULL)) != 0)
        rc = dbc_rfail(c, rc);
    if (rc == 0 && returning)
        dbc_field_set_i64(&p->m->columns[p->gen], obj,
                          dbconn_result_int(res, 0, 0));
    dbconn_result_free(res);
    if (rc)
        restore_ts(p, obj, ts);
    return rc;
}

static int create_in(dbc_rctx *c, void *obj, dbconn_timestamp now) {
    dbc_rvals rv;
    int rc = dbc_rvals_init(&rv, c->p->ncols, c->p->nts);
    if (rc == 0)
        rc = dbc_create_one(c, obj, now, &rv);
    dbc_rvals_free(&rv);
    return rc;
}

int dbconn_record_create(dbconn_session *s, dbconn_base *b,
                         const dbconn_model *m, void *obj) {
    dbc_rctx c;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_create");
    if (rc == 0 && (rc = need_obj(&c, obj)) == 0)
        rc = create_in(&c, obj, dbconn_timestamp_now());
    return dbc_rctx_close(&c, rc);
}

/* The key values as parameters, each coerced for its column. */
static int key_vals(const dbc_rctx *c, const dbconn_value *key, size_t nkey,
                    dbc_rvals *rv) {
    int rc = dbc_check_key(c, key, nkey);
    if (rc == 0)
        rc = dbc_rvals_init(rv, nkey, nkey);
    for (size_t k = 0; rc == 0 && k < nkey; k++)
        rc = dbc_rvals_value(rv, &c->p->m->columns[c->p->pk[k]], &key[k]);
    return rc;
}

int dbconn_record_get(dbconn_session *s, dbconn_base *b,
                      const dbconn_model *m, const dbconn_value *key,
                      size_t nkey, dbconn_rows **out) {
    if (out)
        *out = NULL;
    dbc_rctx c;
    dbc_rvals rv = {0};
    dbconn_result *res = NULL;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_get");
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_record_get: out is NULL");
    if (rc == 0)
        rc = key_vals(&c, key, nkey, &rv);
    if (rc == 0 && (rc = dbconn_exec(c.s, c.p->get_sql, rv.v, rv.n, &res)))
        rc = dbc_rfail(&c, rc);
    if (rc == 0 && dbconn_result_nrows(res) == 0)
        rc = dbc_notfound(&c, key, nkey);
    if (rc == 0) {
        rc = dbc_rows_from_result(c.p->m, res, out);
        res = NULL;
    }
    dbconn_result_free(res);
    dbc_rvals_free(&rv);
    rc = dbc_rctx_close(&c, rc);
    if (rc && out) {
        dbconn_rows_free(*out);
        *out = NULL;
    }
    return rc;
}

/* A save of a row that is nothing but its key: there is nothing to
 * update, so it is inserted unless it exists. */
static int save_key_only(dbc_rctx *c, void *obj, dbconn_timestamp now) {
    dbc_rvals rv;
    dbconn_result *res = NULL;
    int rc = dbc_rvals_init(&rv, c->p->npk, c->p->npk);
    if (rc == 0 && (rc = dbc_rvals_key(&rv, c->p, obj)) == 0 &&
        (rc = dbconn_exec(c->s, c->p->exists_sql, rv.v, rv.n, &res)) != 0)
        rc = dbc_rfail(c, rc);
    bool exists = dbconn_result_nrows(res) > 0;
    dbconn_result_free(res);
    dbc_rvals_free(&rv);
    return rc || exists ? rc : create_in(c, obj, now);
}

/* A save of obj whose key is given: an UPDATE by key (bringing the stored
 * created_at back), and an INSERT when no row has the key. */
static int save_keyed(dbc_rctx *c, void *obj, dbconn_timestamp now) {
    const dbc_rplan *p = c->p;
    uint64_t mask;
    if (!p->save_sql && p->m->ncolumns <= 64)
        return save_key_only(c, obj, now);
    int rc = dbc_update_mask(p, NULL, 0, &mask);
    if (rc)
        return rc;
    saved_ts ts = save_ts(p, obj);
    dbc_touch(p, obj, now, false);
    dbc_rvals rv;
    dbconn_result *res = NULL;
    if ((rc = dbc_rvals_init(&rv, p->ncols + p->npk, p->nts + p->npk)) != 0)
        return rc;
    if ((rc = dbc_update_vals(p, mask, obj, &rv)) == 0 &&
        (rc = dbconn_exec(c->s, p->save_sql, rv.v, rv.n, &res)) != 0)
        rc = dbc_rfail(c, rc);
    dbc_rvals_free(&rv);
    bool updated = rc == 0 && (dbconn_result_nrows(res) > 0 ||
                               dbconn_result_changes(res) > 0);
    int64_t stored = 0;
    const char *text = p->created_at >= 0 ? dbconn_result_text(res, 0, 0)
                                          : NULL;
    if (updated && text && dbconn_timestamp_parse(text, &stored) == 0)
        dbc_field_set_i64(&p->m->columns[p->created_at], obj, stored);
    dbconn_result_free(res);
    if (rc == 0 && !updated)
        rc = create_in(c, obj, now);
    if (rc)
        restore_ts(p, obj, ts);
    return rc;
}

int dbconn_record_save(dbconn_session *s, dbconn_base *b,
                       const dbconn_model *m, void *obj) {
    dbc_rctx c;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_save");
    if (rc == 0 && (rc = need_obj(&c, obj)) == 0) {
        const dbc_rplan *p = c.p;
        dbconn_timestamp now = dbconn_timestamp_now();
        if (p->gen >= 0 && dbc_field_i64(&p->m->columns[p->gen], obj) == 0)
            rc = create_in(&c, obj, now);
        else
            rc = save_keyed(&c, obj, now);
    }
    return dbc_rctx_close(&c, rc);
}

/* Runs sql (a write by key) and reports DBCONN_ENOTFOUND when it changed
 * nothing. */
static int write_by_key(dbc_rctx *c, const char *sql, const dbc_rvals *rv,
                        const void *obj) {
    dbconn_result *res = NULL;
    int rc = dbconn_exec(c->s, sql, rv->v, rv->n, &res);
    if (rc)
        return dbc_rfail(c, rc);
    int64_t changed = dbconn_result_changes(res);
    dbconn_result_free(res);
    if (changed > 0)
        return 0;
    dbc_rvals key;
    rc = dbc_rvals_init(&key, c->p->npk, c->p->npk);
    if (rc == 0 && (rc = dbc_rvals_key(&key, c->p, obj)) == 0)
        rc = dbc_notfound(c, key.v, key.n);
    dbc_rvals_free(&key);
    return rc;
}

int dbconn_record_update(dbconn_session *s, dbconn_base *b,
                         const dbconn_model *m, void *obj,
                         const char *const *columns, size_t ncolumns) {
    dbc_rctx c;
    uint64_t mask = 0;
    char *owned = NULL;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_update");
    if (rc == 0 && (rc = need_obj(&c, obj)) == 0)
        rc = dbc_update_mask(c.p, columns, ncolumns, &mask);
    if (rc)
        return dbc_rctx_close(&c, rc);
    const char *sql = dbc_rplan_update_sql(c.p, mask, &owned);
    saved_ts ts = save_ts(c.p, obj);
    dbc_touch(c.p, obj, dbconn_timestamp_now(), false);
    dbc_rvals rv;
    rc = sql ? dbc_rvals_init(&rv, c.p->ncols + c.p->npk, c.p->nts + c.p->npk)
             : dbc_nomem();
    if (rc == 0) {
        if ((rc = dbc_update_vals(c.p, mask, obj, &rv)) == 0)
            rc = write_by_key(&c, sql, &rv, obj);
        dbc_rvals_free(&rv);
    }
    dbc_free(owned);
    if (rc)
        restore_ts(c.p, obj, ts);
    return dbc_rctx_close(&c, rc);
}

int dbconn_record_delete(dbconn_session *s, dbconn_base *b,
                         const dbconn_model *m, const void *obj) {
    dbc_rctx c;
    dbc_rvals rv = {0};
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_delete");
    if (rc == 0 && (rc = need_obj(&c, obj)) == 0 &&
        (rc = dbc_rvals_init(&rv, c.p->npk, c.p->npk)) == 0 &&
        (rc = dbc_rvals_key(&rv, c.p, obj)) == 0)
        rc = write_by_key(&c, c.p->delete_sql, &rv, obj);
    dbc_rvals_free(&rv);
    return dbc_rctx_close(&c, rc);
}

/* Deletes by each key in turn: one prepared statement, n runs. */
static int destroy_keys(dbc_rctx *c, const dbconn_value *keys, size_t n,
                        int64_t *total) {
    dbc_rvals rv;
    int rc = dbc_rvals_init(&rv, 1, 1);
    const dbconn_column *col = &c->p->m->columns[c->p->pk[0]];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        dbconn_result *res = NULL;
        dbc_rvals_reset(&rv);
        if ((rc = dbc_rvals_value(&rv, col, &keys[i])) != 0)
            break;
        if ((rc = dbconn_exec(c->s, c->p->delete_sql, rv.v, 1, &res)) != 0)
            rc = dbc_rfail(c, rc);
        *total += dbconn_result_changes(res);
        dbconn_result_free(res);
    }
    dbc_rvals_free(&rv);
    return rc;
}

int dbconn_record_destroy(dbconn_session *s, dbconn_base *b,
                          const dbconn_model *m, const dbconn_value *keys,
                          size_t n, int64_t *deleted) {
    if (deleted)
        *deleted = 0;
    dbc_rctx c;
    int64_t total = 0;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_destroy");
    if (rc == 0 && c.p->npk != 1)
        rc = dbc_fail(DBCONN_EINVAL,
                      "model \"%s\": dbconn_record_destroy needs a "
                      "single-column primary key (this one has %zu); use "
                      "dbconn_query_delete",
                      c.p->m->table, c.p->npk);
    if (rc == 0 && n && !keys)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_record_destroy: keys is NULL");
    if (rc == 0)
        rc = destroy_keys(&c, keys, n, &total);
    rc = dbc_rctx_close(&c, rc);
    if (rc == 0 && deleted)
        *deleted = total;
    return rc;
}

/* Runs a one-row, one-column read; *v the integer, *nrows the row count. */
static int read_one(dbc_rctx *c, const char *sql, const dbc_rvals *rv,
                    int64_t *v, size_t *nrows) {
    dbconn_result *res = NULL;
    int rc = dbconn_exec(c->s, sql, rv ? rv->v : NULL, rv ? rv->n : 0, &res);
    if (rc)
        return dbc_rfail(c, rc);
    *nrows = dbconn_result_nrows(res);
    *v = dbconn_result_int(res, 0, 0);
    dbconn_result_free(res);
    return 0;
}

int dbconn_record_exists(dbconn_session *s, dbconn_base *b,
                         const dbconn_model *m, const dbconn_value *key,
                         size_t nkey, bool *out) {
    if (out)
        *out = false;
    dbc_rctx c;
    dbc_rvals rv = {0};
    int64_t v = 0;
    size_t nrows = 0;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_exists");
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_record_exists: out is NULL");
    if (rc == 0 && (rc = key_vals(&c, key, nkey, &rv)) == 0)
        rc = read_one(&c, c.p->exists_sql, &rv, &v, &nrows);
    dbc_rvals_free(&rv);
    rc = dbc_rctx_close(&c, rc);
    if (rc == 0)
        *out = nrows > 0;
    return rc;
}

int dbconn_record_count(dbconn_session *s, dbconn_base *b,
                        const dbconn_model *m, int64_t *out) {
    if (out)
        *out = 0;
    dbc_rctx c;
    int64_t v = 0;
    size_t nrows = 0;
    int rc = dbc_rctx_open(&c, s, b, m, "dbconn_record_count");
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_record_count: out is NULL");
    if (rc == 0)
        rc = read_one(&c, c.p->count_sql, NULL, &v, &nrows);
    rc = dbc_rctx_close(&c, rc);
    if (rc == 0)
        *out = v;
    return rc;
}

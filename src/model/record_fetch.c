/* Running queries: rows (all, first, one, one or none) with their loaded
 * relationships -- one statement for the rows and one per relationship,
 * whatever the number of rows -- count, exists, update and delete by
 * condition, and group-by aggregates.  Each run follows the record calls'
 * transaction rule (record.c). */
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "model/record.h"
#include "model/record_fetch.h"
#include "model/record_query.h"
#include "model/record_rel.h"
#include "model/record_rows.h"
#include "model/record_sql.h"
#include "util/error.h"

int64_t dbc_fetch_limit(const dbconn_query *q, int mode) {
    int64_t want = mode == DBC_FETCH_ALL     ? -1
                   : mode == DBC_FETCH_FIRST ? 1
                                             : 2; /* 2 tells one from many */
    if (q->limit < 0)
        return want;
    return want < 0 || q->limit < want ? q->limit : want;
}

int dbc_fetch_finish(const dbconn_model *m, const char *what, int mode,
                     dbconn_rows **rows) {
    size_t n = dbconn_rows_count(*rows);
    if (mode == DBC_FETCH_ALL || n == 1)
        return 0;
    if (n > 1 && mode != DBC_FETCH_FIRST)
        return dbc_fail(DBCONN_EMULTIPLE,
                        "model \"%s\": %s: more than one row matched",
                        m->table, what);
    if (n == 0 && mode == DBC_FETCH_ONE)
        return dbc_fail(DBCONN_ENOTFOUND, "model \"%s\": %s: no row matched",
                        m->table, what);
    dbconn_rows_free(*rows); /* no row: the answer is NULL */
    *rows = NULL;
    return 0;
}

/* The context of one run: the query's base and plan, its session (or the
 * bound one, now), and whether the run begins the transaction. */
static int run_ctx(dbconn_query *q, const char *what, dbc_rctx *c) {
    int rc = dbc_query_check(q);
    if (rc)
        return rc;
    /* The binding as it is now: a query may outlive a dbconn_close. */
    if ((rc = dbc_rctx_plan(c, q->c.b, q->c.p->m, what)) == 0)
        rc = dbc_rctx_session(c, q->s);
    if (rc == 0)
        c->own = !dbconn_in_transaction(c->s);
    return rc;
}

static int exec_stmt(dbc_rctx *c, const dbc_qstmt *st, dbconn_result **res) {
    int rc = dbconn_exec(c->s, st->sql, st->params, st->nparams, res);
    return rc ? dbc_rfail(c, rc) : 0;
}

static int load_one(dbconn_query *q, dbc_rctx *c, size_t k, int64_t limit,
                    dbconn_rows *rows) {
    dbc_qstmt st;
    dbconn_result *res = NULL;
    dbconn_rows *related = NULL;
    int rc = dbc_query_render_load(q, k, limit, &st);
    if (rc == 0 && (rc = exec_stmt(c, &st, &res)) == 0 &&
        (rc = dbc_rows_from_result(q->loads[k].other, res, &related)) == 0)
        rc = dbc_rel_attach(rows, &q->loads[k], q->load_names[k], related);
    dbc_qstmt_free(&st);
    return rc;
}

static int fetch_rows(dbconn_query *q, dbc_rctx *c, int mode,
                      dbconn_rows **out) {
    int64_t limit = dbc_fetch_limit(q, mode);
    dbc_qstmt st;
    dbconn_result *res = NULL;
    int rc = dbc_query_render(q, DBC_QK_ROWS, limit, &st);
    if (rc == 0 && (rc = exec_stmt(c, &st, &res)) == 0)
        rc = dbc_rows_from_result(c->p->m, res, out);
    dbc_qstmt_free(&st);
    size_t n = dbconn_rows_count(*out);
    /* Nothing to load for no rows, nor for an answer that is an error. */
    if (n == 0 || (mode >= DBC_FETCH_ONE && n > 1))
        return rc;
    for (size_t k = 0; rc == 0 && k < q->nloads; k++)
        rc = load_one(q, c, k, limit, *out);
    return rc;
}

static int fetch(dbconn_query *q, int mode, const char *what,
                 dbconn_rows **out) {
    if (out)
        *out = NULL;
    dbc_rctx c;
    int rc = run_ctx(q, what, &c);
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "%s: out is NULL", what);
    if (rc)
        return rc;
    rc = dbc_rctx_close(&c, fetch_rows(q, &c, mode, out));
    if (rc == 0)
        rc = dbc_fetch_finish(c.p->m, c.what, mode, out);
    if (rc) {
        dbconn_rows_free(*out);
        *out = NULL;
    }
    return rc;
}

int dbconn_query_all(dbconn_query *q, dbconn_rows **out) {
    return fetch(q, DBC_FETCH_ALL, "dbconn_query_all", out);
}

int dbconn_query_first(dbconn_query *q, dbconn_rows **out) {
    return fetch(q, DBC_FETCH_FIRST, "dbconn_query_first", out);
}

int dbconn_query_one(dbconn_query *q, dbconn_rows **out) {
    return fetch(q, DBC_FETCH_ONE, "dbconn_query_one", out);
}

int dbconn_query_one_or_none(dbconn_query *q, dbconn_rows **out) {
    return fetch(q, DBC_FETCH_ONE_OR_NONE, "dbconn_query_one_or_none", out);
}

/* A SELECT of `kind` read as one integer; *nrows its row count. */
static int scalar(dbconn_query *q, dbc_rctx *c, int kind, int64_t limit,
                  int64_t *v, size_t *nrows) {
    dbc_qstmt st;
    dbconn_result *res = NULL;
    int rc = dbc_query_render(q, kind, limit, &st);
    if (rc == 0 && (rc = exec_stmt(c, &st, &res)) == 0) {
        *v = dbconn_result_int(res, 0, 0);
        *nrows = dbconn_result_nrows(res);
    }
    dbconn_result_free(res);
    dbc_qstmt_free(&st);
    return rc;
}

int dbconn_query_count(dbconn_query *q, int64_t *out) {
    if (out)
        *out = 0;
    dbc_rctx c;
    int64_t v = 0;
    size_t nrows = 0;
    int rc = run_ctx(q, "dbconn_query_count", &c);
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_query_count: out is NULL");
    if (rc)
        return rc;
    rc = dbc_rctx_close(&c, scalar(q, &c, DBC_QK_COUNT, q->limit, &v, &nrows));
    if (rc == 0)
        *out = v;
    return rc;
}

int dbconn_query_exists(dbconn_query *q, bool *out) {
    if (out)
        *out = false;
    dbc_rctx c;
    int64_t v = 0;
    size_t nrows = 0;
    int rc = run_ctx(q, "dbconn_query_exists", &c);
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_query_exists: out is NULL");
    if (rc)
        return rc;
    int64_t limit = q->limit == 0 ? 0 : 1;
    rc = dbc_rctx_close(&c, scalar(q, &c, DBC_QK_EXISTS, limit, &v, &nrows));
    if (rc == 0)
        *out = nrows > 0;
    return rc;
}

int dbc_query_update_cols(dbconn_query *q, const char *const *columns,
                          size_t n, int **cols) {
    const dbconn_model *m = q->c.p->m;
    *cols = NULL;
    if (n == 0 || !columns)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": dbconn_query_update: no column to set",
                        m->table);
    int *v = dbc_malloc(n * sizeof *v);
    if (!v)
        return dbc_nomem();
    for (size_t i = 0; i < n; i++) {
        const dbconn_column *c =
            columns[i] ? dbc_model_column(m, columns[i], strlen(columns[i]))
                       : NULL;
        if (!c || (c->flags & DBCONN_PRIMARY_KEY)) {
            dbc_free(v);
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": dbconn_query_update: %s \"%s\"",
                            m->table, c ? "cannot set key column"
                                        : "no column",
                            columns[i] ? columns[i] : "(null)");
        }
        v[i] = (int)(c - m->columns);
    }
    *cols = v;
    return 0;
}

/* Runs an UPDATE / DELETE statement; *changed its count. */
static int write_stmt(dbc_rctx *c, dbc_qstmt *st, int64_t *changed) {
    dbconn_result *res = NULL;
    int rc = exec_stmt(c, st, &res);
    if (rc == 0)
        *changed = dbconn_result_changes(res);
    dbconn_result_free(res);
    return rc;
}

int dbconn_query_update(dbconn_query *q, const char *const *columns,
                        const dbconn_value *values, size_t n,
                        int64_t *changed) {
    if (changed)
        *changed = 0;
    dbc_rctx c;
    int *cols = NULL;
    int64_t count = 0;
    int rc = run_ctx(q, "dbconn_query_update", &c);
    if (rc == 0 && n && !values)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_query_update: values is NULL");
    if (rc == 0)
        rc = dbc_query_update_cols(q, columns, n, &cols);
    if (rc)
        return rc;
    dbc_qstmt st;
    rc = dbc_query_render_update(q, cols, values, n, &st);
    if (rc == 0)
        rc = write_stmt(&c, &st, &count);
    dbc_qstmt_free(&st);
    dbc_free(cols);
    rc = dbc_rctx_close(&c, rc);
    if (rc == 0 && changed)
        *changed = count;
    return rc;
}

int dbconn_query_delete(dbconn_query *q, int64_t *deleted) {
    if (deleted)
        *deleted = 0;
    dbc_rctx c;
    int64_t count = 0;
    int rc = run_ctx(q, "dbconn_query_delete", &c);
    if (rc)
        return rc;
    dbc_qstmt st;
    rc = dbc_query_render_delete(q, &st);
    if (rc == 0)
        rc = write_stmt(&c, &st, &count);
    dbc_qstmt_free(&st);
    rc = dbc_rctx_close(&c, rc);
    if (rc == 0 && deleted)
        *deleted = count;
    return rc;
}

/* An aggregate's ORDER BY may name only grouped columns (what every engine
 * accepts). */
static int check_aggregate(const dbconn_query *q) {
    const dbconn_model *m = q->c.p->m;
    if (q->ngroup == 0 && q->naggs == 0)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": dbconn_query_aggregate needs "
                        "dbconn_query_group_by or dbconn_query_agg first",
                        m->table);
    for (size_t i = 0; i < q->norder; i++) {
        bool grouped = false;
        for (size_t g = 0; g < q->ngroup; g++)
            grouped |= q->group_cols[g] == q->order_cols[i];
        if (!grouped)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": an aggregate query may order by "
                            "grouped columns only; \"%s\" is not grouped",
                            m->table, m->columns[q->order_cols[i]].name);
    }
    return 0;
}

int dbconn_query_aggregate(dbconn_query *q, dbconn_result **out) {
    if (out)
        *out = NULL;
    dbc_rctx c;
    int rc = run_ctx(q, "dbconn_query_aggregate", &c);
    if (rc == 0 && !out)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_query_aggregate: out is NULL");
    if (rc == 0)
        rc = check_aggregate(q);
    if (rc)
        return rc;
    dbc_qstmt st;
    rc = dbc_query_render(q, DBC_QK_AGG, q->limit, &st);
    if (rc == 0)
        rc = exec_stmt(&c, &st, out);
    dbc_qstmt_free(&st);
    rc = dbc_rctx_close(&c, rc);
    if (rc && *out) {
        dbconn_result_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Rendering a query's statements.  The SELECT of the rows is kept in the
 * query while it is unchanged, so running one query again reuses one text
 * (and the statement cache finds it by pointer).  Relationship loads put
 * the main query in a subquery -- "children whose key is IN (the keys the
 * main query returns)" -- so they need no values from its result and can
 * be queued right behind it. */
#include <string.h>

#include "util/alloc.h"
#include "model/ddl.h"
#include "model/record_map.h"
#include "model/record_plan.h"
#include "model/record_query.h"
#include "model/record_sql.h"
#include "util/error.h"

static bool limited(const dbconn_query *q, int64_t limit) {
    return limit >= 0 || q->offset >= 0;
}

/* The limit and offset values after q's parameters; returns their count. */
static size_t put_extras(dbconn_query *q, int64_t limit) {
    size_t n = 0;
    if (limited(q, limit))
        q->params[q->nparams + n++] = DBCONN_INT(limit >= 0 ? limit
                                                            : INT64_MAX);
    if (q->offset >= 0)
        q->params[q->nparams + n++] = DBCONN_INT(q->offset);
    return n;
}

static void pk_list(dbc_buf *b, const dbc_rplan *p) {
    for (size_t k = 0; k < p->npk; k++) {
        if (k)
            dbc_buf_puts(b, ", ");
        dbc_rplan_qualified(b, p->m, p->pk[k]);
    }
}

static void where_clause(const dbconn_query *q, dbc_buf *b) {
    if (q->where.len) {
        dbc_buf_puts(b, " WHERE ");
        dbc_buf_append(b, q->where.data, q->where.len);
    }
}

static void from_where(const dbconn_query *q, dbc_buf *b) {
    dbc_buf_puts(b, " FROM ");
    dbc_quote_ident(b, q->c.p->m->table);
    where_clause(q, b);
}

/* With relationships to load and a limit, the key ends the order: the
 * load's subquery must pick the very rows the main query does. */
static void order_clause(const dbconn_query *q, dbc_buf *b, int64_t limit) {
    bool tiebreak = q->nloads && limited(q, limit);
    if (!q->norder && !tiebreak)
        return;
    dbc_buf_puts(b, " ORDER BY ");
    if (q->norder)
        dbc_buf_append(b, q->order.data, q->order.len);
    if (tiebreak) {
        dbc_buf_puts(b, q->norder ? ", " : "");
        pk_list(b, q->c.p);
    }
}

static void limit_clause(const dbconn_query *q, dbc_buf *b, int64_t limit) {
    if (limited(q, limit))
        dbc_buf_puts(b, " LIMIT ?");
    if (q->offset >= 0)
        dbc_buf_puts(b, " OFFSET ?");
}

/* " FROM "t" WHERE ... ORDER BY ... LIMIT ? OFFSET ?" */
static void tail(const dbconn_query *q, dbc_buf *b, int64_t limit,
                 bool with_order) {
    from_where(q, b);
    if (with_order)
        order_clause(q, b, limit);
    limit_clause(q, b, limit);
}

static const char *agg_name(int fn) {
    static const char *const names[] = {"count", "sum", "avg", "min", "max"};
    return names[fn - DBCONN_AGG_COUNT];
}

static void agg_select(const dbconn_query *q, dbc_buf *b) {
    const dbconn_model *m = q->c.p->m;
    dbc_buf_puts(b, "SELECT ");
    for (size_t i = 0; i < q->ngroup; i++) {
        dbc_buf_puts(b, i ? ", " : "");
        dbc_rplan_qualified(b, m, (size_t)q->group_cols[i]);
        dbc_buf_puts(b, " AS ");
        dbc_quote_ident(b, m->columns[q->group_cols[i]].name);
    }
    dbc_buf alias = DBC_BUF_INIT;
    for (size_t i = 0; i < q->naggs; i++) {
        const dbc_qagg *a = &q->aggs[i];
        dbc_buf_puts(b, i || q->ngroup ? ", " : "");
        dbc_buf_printf(b, "%s(", agg_name(a->fn));
        dbc_buf_reset(&alias);
        dbc_buf_puts(&alias, agg_name(a->fn));
        if (a->col < 0) {
            dbc_buf_putc(b, '*');
        } else {
            dbc_rplan_qualified(b, m, (size_t)a->col);
            dbc_buf_printf(&alias, "_%s", m->columns[a->col].name);
        }
        dbc_buf_puts(b, ") AS ");
        dbc_quote_ident(b, alias.data ? alias.data : "");
        b->oom |= alias.oom;
    }
    dbc_buf_free(&alias);
}

/* SELECT <groups>, <aggs> FROM ... WHERE ... GROUP BY ... ORDER BY ...
 * LIMIT ... */
static void render_agg(const dbconn_query *q, dbc_buf *b, int64_t limit) {
    agg_select(q, b);
    from_where(q, b);
    if (q->ngroup) {
        dbc_buf_puts(b, " GROUP BY ");
        for (size_t i = 0; i < q->ngroup; i++) {
            dbc_buf_puts(b, i ? ", " : "");
            dbc_rplan_qualified(b, q->c.p->m, (size_t)q->group_cols[i]);
        }
    }
    if (q->norder) {
        dbc_buf_puts(b, " ORDER BY ");
        dbc_buf_append(b, q->order.data, q->order.len);
    }
    limit_clause(q, b, limit);
}

static void render_kind(dbconn_query *q, int kind, int64_t limit,
                        dbc_buf *b) {
    switch (kind) {
    case DBC_QK_ROWS:
        dbc_buf_printf(b, "SELECT %s", q->c.p->select_list);
        tail(q, b, limit, true);
        break;
    case DBC_QK_COUNT:
        if (limited(q, limit)) {
            dbc_buf_puts(b, "SELECT count(*) FROM (SELECT 1 AS \"one\"");
            tail(q, b, limit, true);
            dbc_buf_puts(b, ") AS \"counted\"");
        } else {
            dbc_buf_puts(b, "SELECT count(*)");
            tail(q, b, limit, false);
        }
        break;
    case DBC_QK_EXISTS:
        dbc_buf_puts(b, "SELECT 1");
        tail(q, b, limit, true);
        break;
    default:
        render_agg(q, b, limit);
        break;
    }
}

int dbc_query_render(dbconn_query *q, int kind, int64_t limit,
                     dbc_qstmt *out) {
    *out = (dbc_qstmt){0};
    dbc_query_close_groups(q);
    int rc = dbc_query_reserve_params(q, 2);
    if (rc)
        return rc;
    if (!q->sql || q->sql_kind != kind || q->sql_limit != limit) {
        dbc_buf b = DBC_BUF_INIT;
        render_kind(q, kind, limit, &b);
        char *sql = dbc_buf_take(&b);
        if (!sql)
            return dbc_nomem();
        dbc_free(q->sql);
        q->sql = sql;
        q->sql_kind = kind;
        q->sql_limit = limit;
    }
    out->sql = q->sql;
    out->params = q->params;
    out->nparams = q->nparams + put_extras(q, limit);
    return 0;
}

int dbc_query_render_load(dbconn_query *q, size_t k, int64_t limit,
                          dbc_qstmt *out) {
    *out = (dbc_qstmt){0};
    dbc_query_close_groups(q);
    int rc = dbc_query_reserve_params(q, 2);
    if (rc)
        return rc;
    const dbc_rel *r = &q->loads[k];
    const dbconn_model *m = q->c.p->m;
    /* to_one: the parents whose key is among the rows' foreign keys;
     * else the children whose foreign key is among the rows' keys. */
    size_t there = r->to_one ? r->key : r->fk, here = r->to_one ? r->fk
                                                                : r->key;
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_printf(&b, "SELECT %s FROM ", r->oplan->select_list);
    dbc_quote_ident(&b, r->other->table);
    dbc_buf_puts(&b, " WHERE ");
    dbc_rplan_qualified(&b, r->other, there);
    dbc_buf_puts(&b, " IN (SELECT ");
    dbc_rplan_qualified(&b, m, here);
    tail(q, &b, limit, limited(q, limit));
    dbc_buf_putc(&b, ')');
    if (!r->to_one) {
        dbc_buf_puts(&b, " ORDER BY ");
        pk_list(&b, r->oplan);
    }
    if (!(out->sql = dbc_buf_take(&b)))
        return dbc_nomem();
    out->sql_owned = true;
    out->params = q->params;
    out->nparams = q->nparams + put_extras(q, limit);
    return 0;
}

/* Order, limit and offset have no place in an UPDATE or DELETE that must
 * mean the same on every engine. */
static int conditions_only(const dbconn_query *q, const char *what) {
    if (q->norder || q->limit >= 0 || q->offset >= 0)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": %s takes the query's conditions only; "
                        "it has an order, limit or offset",
                        q->c.p->m->table, what);
    return 0;
}

/* The SET values (cols[i] = vals[i], plus updated_at = now) then q's. */
static int update_params(dbconn_query *q, const int *cols,
                         const dbconn_value *vals, size_t n, bool touch,
                         dbc_qstmt *out) {
    const dbconn_model *m = q->c.p->m;
    int rc = dbc_rvals_init(&out->rv, n + 1 + q->nparams, n + 1);
    if (rc)
        return rc;
    out->has_rv = true;
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = dbc_rvals_value(&out->rv, &m->columns[cols[i]], &vals[i])))
            rc = dbc_fail_column(rc, m->table, m->columns[cols[i]].name);
    if (rc == 0 && touch) {
        dbconn_value now = DBCONN_INT(dbconn_timestamp_now());
        rc = dbc_rvals_value(&out->rv, &m->columns[q->c.p->updated_at], &now);
    }
    for (size_t i = 0; i < q->nparams && rc == 0; i++)
        out->rv.v[out->rv.n++] = q->params[i];
    out->params = out->rv.v;
    out->nparams = out->rv.n;
    return rc;
}

int dbc_query_render_update(dbconn_query *q, const int *cols,
                            const dbconn_value *vals, size_t n,
                            dbc_qstmt *out) {
    *out = (dbc_qstmt){0};
    dbc_query_close_groups(q);
    int rc = conditions_only(q, "dbconn_query_update");
    if (rc)
        return rc;
    const dbc_rplan *p = q->c.p;
    bool touch = p->updated_at >= 0;
    for (size_t i = 0; i < n; i++)
        touch &= cols[i] != p->updated_at;
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_puts(&b, "UPDATE ");
    dbc_quote_ident(&b, p->m->table);
    dbc_buf_puts(&b, " SET ");
    for (size_t i = 0; i < n + touch; i++) {
        dbc_buf_puts(&b, i ? ", " : "");
        dbc_quote_ident(&b, p->m->columns[i < n ? cols[i] : p->updated_at]
                                .name);
        dbc_buf_puts(&b, " = ?");
    }
    where_clause(q, &b);
    if (!(out->sql = dbc_buf_take(&b)))
        return dbc_nomem();
    out->sql_owned = true;
    return update_params(q, cols, vals, n, touch, out);
}

int dbc_query_render_delete(dbconn_query *q, dbc_qstmt *out) {
    *out = (dbc_qstmt){0};
    dbc_query_close_groups(q);
    int rc = conditions_only(q, "dbconn_query_delete");
    if (rc)
        return rc;
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_puts(&b, "DELETE FROM ");
    dbc_quote_ident(&b, q->c.p->m->table);
    where_clause(q, &b);
    if (!(out->sql = dbc_buf_take(&b)))
        return dbc_nomem();
    out->sql_owned = true;
    out->params = q->params;
    out->nparams = q->nparams;
    return 0;
}

void dbc_qstmt_free(dbc_qstmt *st) {
    if (st->sql_owned)
        dbc_free(st->sql);
    if (st->has_rv)
        dbc_rvals_free(&st->rv);
    *st = (dbc_qstmt){0};
}

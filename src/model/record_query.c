/* The query builder: conditions rendered as they are added, from column
 * metadata only -- names are looked up in the model and quoted, values
 * become '?' parameters (copied into the query).  A failed builder call
 * keeps its code and message, and every later call returns them. */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "model/ddl.h"
#include "model/record.h"
#include "model/record_map.h"
#include "model/record_plan.h"
#include "model/record_query.h"
#include "model/record_rel.h"
#include "util/error.h"
#include "util/text.h"

/* ---- failures ------------------------------------------------------------- */

static int keep(dbconn_query *q, int rc) {
    if (rc && !q->err) {
        q->err = rc;
        q->errmsg = dbc_strdup(dbc_last_msg());
    }
    return rc;
}

int dbc_query_check(dbconn_query *q) {
    if (!q)
        return dbc_fail(DBCONN_EINVAL, "query is NULL");
    if (q->err)
        return dbc_fail(q->err, "%s",
                        q->errmsg ? q->errmsg : dbconn_strerror(q->err));
    return 0;
}

/* Every builder call starts here: the kept failure, and the rendered SQL
 * is stale from now on. */
static int begin(dbconn_query *q) {
    int rc = dbc_query_check(q);
    if (rc == 0)
        q->sql_kind = 0;
    return rc;
}

static const char *table(const dbconn_query *q) { return q->c.p->m->table; }

/* ---- life ----------------------------------------------------------------- */

int dbconn_query_new(dbconn_query **out, dbconn_session *s, dbconn_base *b,
                     const dbconn_model *m) {
    if (!out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_query_new: out is NULL");
    *out = NULL;
    dbconn_query *q = dbc_calloc(1, sizeof *q);
    if (!q)
        return dbc_nomem();
    int rc = dbc_rctx_plan(&q->c, b, m, "dbconn_query_new");
    if (rc) {
        dbc_free(q);
        return rc;
    }
    q->s = s;
    q->limit = q->offset = -1;
    q->where = (dbc_buf)DBC_BUF_INIT;
    q->order = (dbc_buf)DBC_BUF_INIT;
    *out = q;
    return 0;
}

void dbconn_query_free(dbconn_query *q) {
    if (!q)
        return;
    dbc_buf_free(&q->where);
    dbc_buf_free(&q->order);
    for (size_t i = 0; i < q->nbytes; i++)
        dbc_free(q->bytes[i]);
    dbc_free(q->bytes);
    dbc_free(q->params);
    dbc_free(q->order_cols);
    for (size_t i = 0; i < q->nloads; i++)
        dbc_free(q->load_names[i]);
    dbc_free(q->load_names);
    dbc_free(q->loads);
    dbc_free(q->group_cols);
    dbc_free(q->aggs);
    dbc_free(q->sql);
    dbc_free(q->errmsg);
    dbc_free(q);
}

/* ---- parameters ----------------------------------------------------------- */

/* `arr` (of `size`-byte items, *cap of them) grown to hold `need`: the
 * new array, or NULL (arr untouched) when out of memory. */
static void *grow(void *arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return arr;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    void *p = n <= SIZE_MAX / size ? dbc_realloc(arr, n * size) : NULL;
    if (p)
        *cap = n;
    return p;
}

int dbc_query_reserve_params(dbconn_query *q, size_t extra) {
    dbconn_value *p = grow(q->params, &q->capparams, q->nparams + extra,
                           sizeof *p);
    if (!p)
        return dbc_nomem();
    q->params = p;
    return 0;
}

/* Keeps a copy of n bytes (plus a NUL) for the query's life. */
static int own_bytes(dbconn_query *q, const void *p, size_t n,
                     const char **out) {
    char **bytes = grow(q->bytes, &q->capbytes, q->nbytes + 1, sizeof *bytes);
    if (bytes)
        q->bytes = bytes;
    char *copy = bytes ? dbc_malloc(n + 1) : NULL;
    if (!copy)
        return dbc_nomem();
    if (n)
        memcpy(copy, p, n);
    copy[n] = '\0';
    q->bytes[q->nbytes++] = copy;
    *out = copy;
    return 0;
}

/* Appends v (coerced for col: booleans, timestamps) as the next parameter,
 * its bytes copied.  Two slots stay free after the parameters for the
 * limit and offset a run appends. */
static int add_param(dbconn_query *q, const dbconn_column *col,
                     const dbconn_value *v) {
    dbc_rvals rv;
    int rc = dbc_rvals_init(&rv, 1, 1);
    if (rc == 0 && (rc = dbc_rvals_value(&rv, col, v)) != 0)
        rc = dbc_fail_column(rc, table(q), col->name);
    if (rc == 0)
        rc = dbc_query_reserve_params(q, 3);
    dbconn_value x = rv.v[0];
    int t = x.type;
    if (rc == 0 && (t == DBCONN_TYPE_TEXT || t == DBCONN_TYPE_TIMESTAMP ||
                    t == DBCONN_TYPE_BLOB) && x.u.b.ptr) {
        size_t n = x.u.b.len == DBCONN_NTS ? strlen(x.u.b.ptr) : x.u.b.len;
        const char *copy;
        if ((rc = own_bytes(q, x.u.b.ptr, n, &copy)) == 0) {
            x.u.b.ptr = copy;
            x.u.b.len = n;
        }
    }
    if (rc == 0)
        q->params[q->nparams++] = x;
    dbc_rvals_free(&rv);
    return rc;
}

/* A LIKE pattern for the STARTSWITH / ENDSWITH / CONTAINS ops: v with its
 * % _ \ escaped (ESCAPE '\'), % before and/or after. */
static int add_pattern(dbconn_query *q, int op, const dbconn_value *v) {
    const char *s = v->u.b.ptr;
    size_t n = v->u.b.len == DBCONN_NTS ? strlen(s) : v->u.b.len;
    dbc_buf b = DBC_BUF_INIT;
    if (op != DBCONN_OP_STARTSWITH)
        dbc_buf_putc(&b, '%');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            dbc_buf_putc(&b, '\\');
        dbc_buf_putc(&b, s[i]);
    }
    if (op != DBCONN_OP_ENDSWITH)
        dbc_buf_putc(&b, '%');
    if (b.oom || !b.data) {
        dbc_buf_free(&b);
        return dbc_nomem();
    }
    dbconn_value pat = DBCONN_TEXTN(b.data, b.len);
    static const dbconn_column text_col = {.name = "", .type = DBCONN_TYPE_TEXT};
    int rc = add_param(q, &text_col, &pat);
    dbc_buf_free(&b);
    return rc;
}

/* ---- columns and relationships -------------------------------------------- */

/* Where a condition's column lives: one of m's, or a related model's
 * (rel != NULL). */
typedef struct target {
    const dbconn_model *m;
    size_t col;
    bool related;
    dbc_rel rel;
} target;

static int unknown_column(const dbconn_query *q, const char *name) {
    char shown[64];
    return dbc_fail(DBCONN_EINVAL,
                    "model \"%s\" has no column \"%s\" (and no "
                    "relationship of that name)",
                    table(q), dbc_show(name, shown, sizeof shown));
}

static int own_column(const dbconn_query *q, const char *name, size_t *col) {
    const dbconn_model *m = q->c.p->m;
    const dbconn_column *c = name ? dbc_model_column(m, name, strlen(name))
                                  : NULL;
    if (!c)
        return unknown_column(q, name ? name : "(null)");
    *col = (size_t)(c - m->columns);
    return 0;
}

/* "column" or "rel.column" (split at the last dot, so a relationship may
 * be written "table(column)"). */
static int find_target(dbconn_query *q, const char *name, target *t) {
    *t = (target){.m = q->c.p->m};
    if (!name)
        return unknown_column(q, "(null)");
    const dbconn_column *c = dbc_model_column(t->m, name, strlen(name));
    if (c) {
        t->col = (size_t)(c - t->m->columns);
        return 0;
    }
    const char *dot = strrchr(name, '.');
    if (!dot)
        return unknown_column(q, name);
    int rc = dbc_rel_resolve(q->c.b, q->c.p, name, (size_t)(dot - name),
                             &t->rel);
    if (rc)
        return rc;
    t->related = true;
    t->m = t->rel.other;
    c = dbc_model_column(t->m, dot + 1, strlen(dot + 1));
    if (!c)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\" (related to \"%s\" as \"%.*s\") has no "
                        "column \"%s\"",
                        t->m->table, table(q), (int)(dot - name), name,
                        dot + 1);
    t->col = (size_t)(c - t->m->columns);
    return 0;
}

/* ---- conditions ----------------------------------------------------------- */

/* The separator before a new term of the current group. */
static void term_start(dbconn_query *q) {
    if (q->groups[q->depth].nterms++)
        dbc_buf_puts(&q->where, q->groups[q->depth].or ? " OR " : " AND ");
}

static bool like_family(int op) {
    return op == DBCONN_OP_LIKE || op == DBCONN_OP_ILIKE ||
           op == DBCONN_OP_STARTSWITH || op == DBCONN_OP_ENDSWITH ||
           op == DBCONN_OP_CONTAINS;
}

/* How many values op takes: -1 any number. */
static int arity(int op) {
    switch (op) {
    case DBCONN_OP_IN:
    case DBCONN_OP_NOT_IN:
        return -1;
    case DBCONN_OP_BETWEEN:
        return 2;
    case DBCONN_OP_IS_NULL:
    case DBCONN_OP_IS_NOT_NULL:
        return 0;
    default:
        return 1;
    }
}

static int check_values(const dbconn_query *q, const char *column, int op,
                        const dbconn_value *v, size_t n) {
    if (op < DBCONN_OP_EQ || op > DBCONN_OP_CONTAINS)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\": unknown operator %d "
                        "(expected a DBCONN_OP_*)",
                        table(q), column, op);
    int want = arity(op);
    if ((want >= 0 && n != (size_t)want) || (n && !v))
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\": the operator takes %d "
                        "value%s; %zu given%s",
                        table(q), column, want, want == 1 ? "" : "s", n,
                        n && !v ? " with values NULL" : "");
    if (like_family(op) && v[0].type != DBCONN_TYPE_TEXT)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\": a LIKE-family operator "
                        "takes a text value",
                        table(q), column);
    return 0;
}

static const char *compare_sql(int op) {
    switch (op) {
    case DBCONN_OP_EQ: return " = ?";
    case DBCONN_OP_NE: return " <> ?";
    case DBCONN_OP_GT: return " > ?";
    case DBCONN_OP_GE: return " >= ?";
    case DBCONN_OP_LT: return " < ?";
    case DBCONN_OP_LE: return " <= ?";
    case DBCONN_OP_LIKE: return " LIKE ?";
    default: return " LIKE ? ESCAPE '\\'";
    }
}

/* `expr op values` for the column expression already in `e`. */
static int render_cond(dbconn_query *q, const dbconn_column *col,
                       const char *e, int op, const dbconn_value *v,
                       size_t n) {
    dbc_buf *w = &q->where;
    bool null_value = n == 1 && v[0].type == DBCONN_TYPE_NULL;
    if (op == DBCONN_OP_IS_NULL || (op == DBCONN_OP_EQ && null_value)) {
        dbc_buf_printf(w, "%s IS NULL", e);
        return 0;
    }
    if (op == DBCONN_OP_IS_NOT_NULL || (op == DBCONN_OP_NE && null_value)) {
        dbc_buf_printf(w, "%s IS NOT NULL", e);
        return 0;
    }
    if ((op == DBCONN_OP_IN || op == DBCONN_OP_NOT_IN) && n == 0) {
        dbc_buf_puts(w, op == DBCONN_OP_IN ? "1 = 0" : "1 = 1");
        return 0;
    }
    if (op == DBCONN_OP_ILIKE) {
        dbc_buf_printf(w, "lower(%s) LIKE lower(?)", e);
        return add_param(q, col, &v[0]);
    }
    if (op >= DBCONN_OP_STARTSWITH) {
        dbc_buf_printf(w, "%s%s", e, compare_sql(op));
        return add_pattern(q, op, &v[0]);
    }
    if (op == DBCONN_OP_BETWEEN) {
        dbc_buf_printf(w, "%s BETWEEN ? AND ?", e);
        int rc = add_param(q, col, &v[0]);
        return rc ? rc : add_param(q, col, &v[1]);
    }
    if (op == DBCONN_OP_IN || op == DBCONN_OP_NOT_IN) {
        dbc_buf_printf(w, "%s %sIN (", e, op == DBCONN_OP_NOT_IN ? "NOT " : "");
        for (size_t i = 0; i < n; i++) {
            dbc_buf_puts(w, i ? ", ?" : "?");
            int rc = add_param(q, col, &v[i]);
            if (rc)
                return rc;
        }
        dbc_buf_putc(w, ')');
        return 0;
    }
    dbc_buf_printf(w, "%s%s", e, compare_sql(op));
    return add_param(q, col, &v[0]);
}

/* EXISTS (SELECT 1 FROM "other" AS "rN" WHERE "rN".x = "t".y AND ...):
 * the condition holds for some related row. */
static int render_related(dbconn_query *q, const target *t, int op,
                          const dbconn_value *v, size_t n) {
    const dbc_rel *r = &t->rel;
    const dbconn_model *m = q->c.p->m;
    char alias[32];
    (void)snprintf(alias, sizeof alias, "r%d", ++q->alias);
    size_t here = r->to_one ? r->fk : r->key, there = r->to_one ? r->key
                                                                : r->fk;
    dbc_buf e = DBC_BUF_INIT;
    dbc_buf *w = &q->where;
    dbc_buf_puts(w, "EXISTS (SELECT 1 FROM ");
    dbc_quote_ident(w, r->other->table);
    dbc_buf_puts(w, " AS ");
    dbc_quote_ident(w, alias);
    dbc_buf_puts(w, " WHERE ");
    dbc_quote_ident(w, alias);
    dbc_buf_putc(w, '.');
    dbc_quote_ident(w, r->other->columns[there].name);
    dbc_buf_puts(w, " = ");
    dbc_rplan_qualified(w, m, here);
    dbc_buf_puts(w, " AND ");
    dbc_quote_ident(&e, alias);
    dbc_buf_putc(&e, '.');
    dbc_quote_ident(&e, t->m->columns[t->col].name);
    int rc = e.oom ? dbc_nomem()
                   : render_cond(q, &t->m->columns[t->col], e.data, op, v, n);
    dbc_buf_putc(w, ')');
    dbc_buf_free(&e);
    return rc;
}

int dbconn_query_where(dbconn_query *q, const char *column, int op,
                       const dbconn_value *values, size_t n) {
    int rc = begin(q);
    if (rc)
        return rc;
    target t;
    rc = check_values(q, column ? column : "(null)", op, values, n);
    if (rc == 0)
        rc = find_target(q, column, &t);
    if (rc)
        return keep(q, rc);
    term_start(q);
    if (t.related) {
        rc = render_related(q, &t, op, values, n);
    } else {
        dbc_buf e = DBC_BUF_INIT;
        dbc_rplan_qualified(&e, t.m, t.col);
        rc = e.oom ? dbc_nomem()
                   : render_cond(q, &t.m->columns[t.col], e.data, op, values,
                                 n);
        dbc_buf_free(&e);
    }
    if (rc == 0 && q->where.oom)
        rc = dbc_nomem();
    return keep(q, rc);
}

/* ---- groups --------------------------------------------------------------- */

static int open_group(dbconn_query *q, bool or) {
    int rc = begin(q);
    if (rc)
        return rc;
    if (q->depth + 1 >= DBC_QDEPTH)
        return keep(q, dbc_fail(DBCONN_EINVAL,
                                "model \"%s\": query groups nest at most %d "
                                "deep",
                                table(q), DBC_QDEPTH - 1));
    term_start(q);
    dbc_buf_putc(&q->where, '(');
    q->depth++;
    q->groups[q->depth].or = or;
    q->groups[q->depth].nterms = 0;
    return keep(q, q->where.oom ? dbc_nomem() : 0);
}

int dbconn_query_or(dbconn_query *q) { return open_group(q, true); }
int dbconn_query_and(dbconn_query *q) { return open_group(q, false); }

static void close_group(dbconn_query *q) {
    if (q->groups[q->depth].nterms == 0)
        dbc_buf_puts(&q->where, q->groups[q->depth].or ? "1 = 0" : "1 = 1");
    dbc_buf_putc(&q->where, ')');
    q->depth--;
}

int dbconn_query_end(dbconn_query *q) {
    int rc = begin(q);
    if (rc)
        return rc;
    if (q->depth == 0)
        return keep(q, dbc_fail(DBCONN_EINVAL,
                                "model \"%s\": dbconn_query_end without an "
                                "open group (dbconn_query_or / _and)",
                                table(q)));
    close_group(q);
    return keep(q, q->where.oom ? dbc_nomem() : 0);
}

void dbc_query_close_groups(dbconn_query *q) {
    if (q->depth)
        q->sql_kind = 0;
    while (q->depth)
        close_group(q);
}

/* ---- order, limit, offset ------------------------------------------------- */

int dbconn_query_order_by(dbconn_query *q, const char *column) {
    int rc = begin(q);
    if (rc)
        return rc;
    bool desc = column && column[0] == '-';
    size_t col = 0;
    rc = own_column(q, column ? column + desc : NULL, &col);
    int *oc = rc ? NULL : dbc_realloc(q->order_cols,
                                      (q->norder + 1) * sizeof *oc);
    if (rc == 0 && !oc)
        rc = dbc_nomem();
    if (rc)
        return keep(q, rc);
    q->order_cols = oc;
    q->order_cols[q->norder] = (int)col;
    if (q->norder++)
        dbc_buf_puts(&q->order, ", ");
    dbc_rplan_qualified(&q->order, q->c.p->m, col);
    if (desc)
        dbc_buf_puts(&q->order, " DESC");
    return keep(q, q->order.oom ? dbc_nomem() : 0);
}

static int set_count(dbconn_query *q, int64_t n, int64_t *field,
                     const char *what) {
    int rc = begin(q);
    if (rc)
        return rc;
    if (n < 0)
        return keep(q, dbc_fail(DBCONN_EINVAL,
                                "model \"%s\": %s %lld: must be >= 0",
                                table(q), what, (long long)n));
    *field = n;
    return 0;
}

int dbconn_query_limit(dbconn_query *q, int64_t n) {
    return set_count(q, n, q ? &q->limit : NULL, "limit");
}

int dbconn_query_offset(dbconn_query *q, int64_t n) {
    return set_count(q, n, q ? &q->offset : NULL, "offset");
}

/* ---- relationships to load ------------------------------------------------ */

int dbconn_query_load(dbconn_query *q, const char *rel) {
    int rc = begin(q);
    if (rc)
        return rc;
    if (!rel)
        return keep(q, dbc_fail(DBCONN_EINVAL, "dbconn_query_load: rel is "
                                               "NULL"));
    for (size_t i = 0; i < q->nloads; i++)
        if (!strcmp(q->load_names[i], rel))
            return keep(q, dbc_fail(DBCONN_EINVAL,
                                    "model \"%s\": relationship \"%s\" is "
                                    "already loaded",
                                    table(q), rel));
    dbc_rel r;
    if ((rc = dbc_rel_resolve(q->c.b, q->c.p, rel, strlen(rel), &r)) != 0)
        return keep(q, rc);
    dbc_rel *loads = dbc_realloc(q->loads, (q->nloads + 1) * sizeof *loads);
    if (loads)
        q->loads = loads;
    char **names = loads ? dbc_realloc(q->load_names,
                                       (q->nloads + 1) * sizeof *names)
                         : NULL;
    if (names)
        q->load_names = names;
    char *name = names ? dbc_strdup(rel) : NULL;
    if (!name)
        return keep(q, dbc_nomem());
    q->loads[q->nloads] = r;
    q->load_names[q->nloads++] = name;
    return 0;
}

/* ---- group by and aggregates ---------------------------------------------- */

int dbconn_query_group_by(dbconn_query *q, const char *column) {
    int rc = begin(q);
    if (rc)
        return rc;
    size_t col = 0;
    rc = own_column(q, column, &col);
    int *g = rc ? NULL : dbc_realloc(q->group_cols,
                                     (q->ngroup + 1) * sizeof *g);
    if (rc == 0 && !g)
        rc = dbc_nomem();
    if (rc)
        return keep(q, rc);
    q->group_cols = g;
    g[q->ngroup++] = (int)col;
    return 0;
}

int dbconn_query_agg(dbconn_query *q, int fn, const char *column) {
    int rc = begin(q);
    if (rc)
        return rc;
    if (fn < DBCONN_AGG_COUNT || fn > DBCONN_AGG_MAX)
        return keep(q, dbc_fail(DBCONN_EINVAL,
                                "model \"%s\": unknown aggregate %d (expected "
                                "a DBCONN_AGG_*)",
                                table(q), fn));
    size_t col = 0;
    if (column || fn != DBCONN_AGG_COUNT)
        rc = own_column(q, column, &col);
    dbc_qagg *a = rc ? NULL : dbc_realloc(q->aggs, (q->naggs + 1) * sizeof *a);
    if (rc == 0 && !a)
        rc = dbc_nomem();
    if (rc)
        return keep(q, rc);
    q->aggs = a;
    a[q->naggs++] = (dbc_qagg){fn, column ? (int)col : -1};
    return 0;
}

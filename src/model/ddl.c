/* DDL rendering: foreign-key resolution, table ordering, and CREATE TABLE /
 * CREATE INDEX text through a driver's dialect.
 *
 * Identifiers reach SQL only through dbc_quote_ident(); defaults given as
 * literals only through dbc_quote_literal().  default_sql is the one piece
 * of user SQL that is interpolated, by design (it is an expression). */
#include <stdint.h>
#include <string.h>

#include "util/alloc.h"
#include "model/model.h"
#include "model/ddl.h"
#include "util/error.h"
#include "util/text.h"

void dbc_quote_ident(dbc_buf *b, const char *name) {
    dbc_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            dbc_buf_putc(b, '"');
        dbc_buf_putc(b, *p);
    }
    dbc_buf_putc(b, '"');
}

void dbc_quote_literal(dbc_buf *b, const char *text) {
    dbc_buf_putc(b, '\'');
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            dbc_buf_putc(b, '\'');
        dbc_buf_putc(b, *p);
    }
    dbc_buf_putc(b, '\'');
}

/* ---- foreign keys ------------------------------------------------------- */

typedef struct fk {
    const dbconn_column *col;        /* the referencing column */
    size_t target;                   /* index of the referenced model */
    const dbconn_column *target_col; /* the referenced column */
} fk;

typedef struct node {
    const dbconn_model *m;
    fk *fks; /* into the plan's one fk array */
    size_t nfks;
    bool done;
} node;

typedef struct plan {
    node *nodes;
    fk *fks;
    size_t n;
} plan;

static void plan_free(plan *p) {
    dbc_free(p->nodes);
    dbc_free(p->fks);
    *p = (plan){0};
}

static int resolve_one(const plan *p, size_t self, const dbconn_column *c,
                       fk *out) {
    const char *t = p->nodes[self].m->table;
    dbc_ref r;
    if (dbc_ref_parse(c->references, &r) != 0)
        return dbc_fail(DBCONN_EINVAL,
                        "foreign key \"%s\".\"%s\": references \"%s\" is "
                        "malformed", t, c->name, c->references);
    size_t target = SIZE_MAX;
    for (size_t i = 0; i < p->n && target == SIZE_MAX; i++)
        if (dbc_ascii_ieqn(p->nodes[i].m->table, r.table, r.table_len))
            target = i;
    if (target == SIZE_MAX)
        return dbc_fail(DBCONN_EINVAL,
                        "foreign key \"%s\".\"%s\" references unknown table "
                        "\"%.*s\" (no model of this base declares it)",
                        t, c->name, (int)r.table_len, r.table);
    const dbconn_model *tm = p->nodes[target].m;
    const dbconn_column *tc;
    if (r.col) {
        tc = dbc_model_column(tm, r.col, r.col_len);
        if (!tc)
            return dbc_fail(DBCONN_EINVAL,
                            "foreign key \"%s\".\"%s\" references unknown "
                            "column \"%s\".\"%.*s\"",
                            t, c->name, tm->table, (int)r.col_len, r.col);
    } else {
        size_t npk = dbc_model_pk(tm, &tc);
        if (npk != 1)
            return dbc_fail(DBCONN_EINVAL,
                            "foreign key \"%s\".\"%s\" references table "
                            "\"%s\", whose primary key has %zu columns: name "
                            "the column, as in \"%s(column)\"",
                            t, c->name, tm->table, npk, tm->table);
    }
    *out = (fk){c, target, tc};
    return 0;
}

static int resolve(plan *p, const dbconn_model *const *models, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < models[i]->ncolumns; c++)
            if (models[i]->columns[c].references)
                total++;
    p->n = n;
    p->nodes = dbc_calloc(n, sizeof *p->nodes);
    p->fks = dbc_calloc(total, sizeof *p->fks);
    if (!p->nodes || !p->fks)
        return dbc_nomem();
    for (size_t i = 0; i < n; i++)
        p->nodes[i].m = models[i];
    fk *next = p->fks;
    for (size_t i = 0; i < n; i++) {
        node *nd = &p->nodes[i];
        nd->fks = next;
        for (size_t c = 0; c < nd->m->ncolumns; c++) {
            const dbconn_column *col = &nd->m->columns[c];
            if (!col->references)
                continue;
            int rc = resolve_one(p, i, col, &nd->fks[nd->nfks]);
            if (rc)
                return rc;
            nd->nfks++;
        }
        next += nd->nfks;
    }
    return 0;
}

/* The first dependency of node i that is not created yet (self-references
 * don't count), or SIZE_MAX. */
static size_t pending_dep(const plan *p, size_t i) {
    const node *nd = &p->nodes[i];
    for (size_t k = 0; k < nd->nfks; k++) {
        size_t t = nd->fks[k].target;
        if (t != i && !p->nodes[t].done)
            return t;
    }
    return SIZE_MAX;
}

/* Every node not done depends on another not-done node, so following the
 * first pending dependency from any of them must revisit one: that loop is
 * the cycle to report. */
static int cycle_error(const plan *p) {
    size_t *pos = dbc_malloc(p->n * sizeof *pos);
    size_t *path = dbc_malloc((p->n + 1) * sizeof *path);
    if (!pos || !path) {
        dbc_free(pos);
        dbc_free(path);
        return dbc_nomem();
    }
    for (size_t i = 0; i < p->n; i++)
        pos[i] = SIZE_MAX;
    size_t x = 0;
    while (p->nodes[x].done)
        x++;
    size_t len = 0;
    while (pos[x] == SIZE_MAX) {
        pos[x] = len;
        path[len++] = x;
        x = pending_dep(p, x);
    }
    dbc_buf b = DBC_BUF_INIT;
    for (size_t i = pos[x]; i < len; i++) {
        dbc_quote_ident(&b, p->nodes[path[i]].m->table);
        dbc_buf_puts(&b, " -> ");
    }
    dbc_quote_ident(&b, p->nodes[x].m->table);
    int rc = b.oom ? dbc_nomem()
                   : dbc_fail(DBCONN_EINVAL,
                              "foreign key cycle: %s (tables that reference "
                              "each other cannot be created in order; drop "
                              "one of the references)",
                              b.data);
    dbc_buf_free(&b);
    dbc_free(pos);
    dbc_free(path);
    return rc;
}

/* Fills order[] with a topological order: each table after the tables it
 * references; among the tables ready at each step, the first declared. */
static int order_tables(plan *p, size_t *order) {
    for (size_t k = 0; k < p->n; k++) {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < p->n && pick == SIZE_MAX; i++)
            if (!p->nodes[i].done && pending_dep(p, i) == SIZE_MAX)
                pick = i;
        if (pick == SIZE_MAX)
            return cycle_error(p);
        p->nodes[pick].done = true;
        order[k] = pick;
    }
    return 0;
}

/* ---- rendering ---------------------------------------------------------- */

static const char *fk_action(int a) {
    switch (a) {
    case DBCONN_FK_CASCADE:
        return "CASCADE";
    case DBCONN_FK_SET_NULL:
        return "SET NULL";
    case DBCONN_FK_SET_DEFAULT:
        return "SET DEFAULT";
    case DBCONN_FK_RESTRICT:
        return "RESTRICT";
    default:
        return "NO ACTION";
    }
}

/* The column whose definition carries PRIMARY KEY inline (sqlite's rowid
 * alias, or any autoincrement key), or NULL when the key is a table
 * constraint. */
static const dbconn_column *inline_pk(const dbc_dialect *d,
                                      const dbconn_model *m) {
    const dbconn_column *pk;
    if (dbc_model_pk(m, &pk) != 1 || pk->type != DBCONN_TYPE_INTEGER)
        return NULL;
    if ((pk->flags & DBCONN_AUTOINCREMENT) || d->inline_integer_pk)
        return pk;
    return NULL;
}

static int render_column(dbc_buf *b, const dbc_dialect *d,
                         const dbconn_model *m, const dbconn_column *c,
                         const dbconn_column *ipk) {
    dbc_quote_ident(b, c->name);
    dbc_buf_putc(b, ' ');
    if (c == ipk && (c->flags & DBCONN_AUTOINCREMENT)) {
        if (!d->autoincrement_pk)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": column \"%s\": this dialect has no "
                            "autoincrementing primary key", m->table, c->name);
        dbc_buf_puts(b, d->autoincrement_pk);
    } else if (c == ipk && d->integer_pk) {
        dbc_buf_puts(b, d->integer_pk);
    } else {
        const char *type = d->type_name(c->type);
        if (!type)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": column \"%s\": this dialect has no "
                            "name for type %d", m->table, c->name, c->type);
        dbc_buf_puts(b, type);
        if (c == ipk)
            dbc_buf_puts(b, " PRIMARY KEY");
    }
    /* A key column in a table constraint is NOT NULL explicitly: SQLite
     * would otherwise accept NULL in a non-rowid primary key. */
    bool pk = (c->flags & DBCONN_PRIMARY_KEY) != 0;
    if ((c->flags & DBCONN_NOT_NULL) || (pk && c != ipk))
        dbc_buf_puts(b, " NOT NULL");
    /* UNIQUE together with INDEXED becomes one unique index instead. */
    if ((c->flags & DBCONN_UNIQUE) && !(c->flags & DBCONN_INDEXED))
        dbc_buf_puts(b, " UNIQUE");
    if (c->default_sql) {
        const char *expr = d->default_sql ? d->default_sql(c->type,
                                                           c->default_sql)
                                          : NULL;
        dbc_buf_printf(b, " DEFAULT (%s)", expr ? expr : c->default_sql);
    } else if (c->default_literal) {
        dbc_buf_puts(b, " DEFAULT ");
        dbc_quote_literal(b, c->default_literal);
    }
    return 0;
}

static int render_table(dbc_buf *b, const dbc_dialect *d, const plan *p,
                        const node *nd) {
    const dbconn_model *m = nd->m;
    const dbconn_column *ipk = inline_pk(d, m);
    dbc_buf_puts(b, "CREATE TABLE IF NOT EXISTS ");
    dbc_quote_ident(b, m->table);
    dbc_buf_puts(b, " (");
    for (size_t i = 0; i < m->ncolumns; i++) {
        if (i)
            dbc_buf_puts(b, ", ");
        int rc = render_column(b, d, m, &m->columns[i], ipk);
        if (rc)
            return rc;
    }
    if (!ipk) {
        dbc_buf_puts(b, ", PRIMARY KEY (");
        bool first = true;
        for (size_t i = 0; i < m->ncolumns; i++) {
            if (!(m->columns[i].flags & DBCONN_PRIMARY_KEY))
                continue;
            if (!first)
                dbc_buf_puts(b, ", ");
            first = false;
            dbc_quote_ident(b, m->columns[i].name);
        }
        dbc_buf_putc(b, ')');
    }
    for (size_t k = 0; k < nd->nfks; k++) {
        const fk *f = &nd->fks[k];
        dbc_buf_puts(b, ", FOREIGN KEY (");
        dbc_quote_ident(b, f->col->name);
        dbc_buf_puts(b, ") REFERENCES ");
        /* The declared spellings of the target, not the reference text. */
        dbc_quote_ident(b, p->nodes[f->target].m->table);
        dbc_buf_putc(b, '(');
        dbc_quote_ident(b, f->target_col->name);
        dbc_buf_putc(b, ')');
        if (f->col->on_delete != DBCONN_FK_NO_ACTION)
            dbc_buf_printf(b, " ON DELETE %s", fk_action(f->col->on_delete));
        if (f->col->on_update != DBCONN_FK_NO_ACTION)
            dbc_buf_printf(b, " ON UPDATE %s", fk_action(f->col->on_update));
    }
    dbc_buf_putc(b, ')');
    return 0;
}

static void render_index(dbc_buf *b, const dbconn_model *m,
                         const dbc_index_view *v, const char *name) {
    dbc_buf_puts(b, v->unique ? "CREATE UNIQUE INDEX IF NOT EXISTS "
                              : "CREATE INDEX IF NOT EXISTS ");
    dbc_quote_ident(b, name);
    dbc_buf_puts(b, " ON ");
    dbc_quote_ident(b, m->table);
    dbc_buf_puts(b, " (");
    for (size_t i = 0; i < v->ncolumns; i++) {
        if (i)
            dbc_buf_puts(b, ", ");
        const dbconn_column *c =
            dbc_model_column(m, v->columns[i], strlen(v->columns[i]));
        dbc_quote_ident(b, c ? c->name : v->columns[i]);
    }
    dbc_buf_putc(b, ')');
}

/* Appends one statement (taking sql and index) to out. */
static int push(dbc_ddl *out, size_t *cap, char *sql, const char *table,
                char *index) {
    if (!sql) {
        dbc_free(index);
        return dbc_nomem();
    }
    if (out->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        dbc_ddl_stmt *s = dbc_realloc(out->stmts, ncap * sizeof *s);
        if (!s) {
            dbc_free(sql);
            dbc_free(index);
            return dbc_nomem();
        }
        out->stmts = s;
        *cap = ncap;
    }
    out->stmts[out->n++] = (dbc_ddl_stmt){sql, table, index};
    return 0;
}

static int render_all(const dbc_dialect *d, const plan *p,
                      const size_t *order, dbc_ddl *out) {
    size_t cap = 0;
    for (size_t k = 0; k < p->n; k++) {
        const node *nd = &p->nodes[order[k]];
        dbc_buf b = DBC_BUF_INIT;
        int rc = render_table(&b, d, p, nd);
        if (rc) {
            dbc_buf_free(&b);
            return rc;
        }
        rc = push(out, &cap, dbc_buf_take(&b), nd->m->table, NULL);
        if (rc)
            return rc;
        size_t nix = dbc_model_index_count(nd->m);
        for (size_t i = 0; i < nix; i++) {
            dbc_index_view v;
            dbc_model_index_get(nd->m, i, &v);
            dbc_buf name = DBC_BUF_INIT;
            dbc_model_index_name(nd->m, &v, &name);
            char *ixname = dbc_buf_take(&name);
            if (!ixname)
                return dbc_nomem();
            render_index(&b, nd->m, &v, ixname);
            rc = push(out, &cap, dbc_buf_take(&b), nd->m->table, ixname);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int dbc_ddl_build(const dbc_dialect *d, const dbconn_model *const *models,
                  size_t n, dbc_ddl *out) {
    *out = (dbc_ddl){0};
    plan p = {0};
    size_t *order = dbc_malloc(n * sizeof *order);
    int rc = order ? resolve(&p, models, n) : dbc_nomem();
    if (rc == 0)
        rc = order_tables(&p, order);
    if (rc == 0)
        rc = render_all(d, &p, order, out);
    if (rc)
        dbc_ddl_free(out);
    plan_free(&p);
    dbc_free(order);
    return rc;
}

void dbc_ddl_free(dbc_ddl *ddl) {
    for (size_t i = 0; i < ddl->n; i++) {
        dbc_free(ddl->stmts[i].sql);
        dbc_free(ddl->stmts[i].index);
    }
    dbc_free(ddl->stmts);
    *ddl = (dbc_ddl){0};
}

char *dbc_ddl_join(const dbc_ddl *ddl) {
    if (ddl->n == 0)
        return dbc_strdup("");
    dbc_buf b = DBC_BUF_INIT;
    for (size_t i = 0; i < ddl->n; i++) {
        dbc_buf_puts(&b, ddl->stmts[i].sql);
        dbc_buf_puts(&b, ";\n");
    }
    return dbc_buf_take(&b);
}

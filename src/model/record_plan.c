/* Per-model plans: the SQL text of every record call, rendered once from
 * the column metadata with every identifier quoted (dbc_quote_ident) and
 * every value a '?' placeholder.  A plan's texts keep one address for the
 * plan's life, so the statement cache finds them by pointer. */
#include <string.h>

#include "util/alloc.h"
#include "model/ddl.h"
#include "model/record_plan.h"
#include "util/error.h"

void dbc_rplan_qualified(dbc_buf *b, const dbconn_model *m, size_t i) {
    dbc_quote_ident(b, m->table);
    dbc_buf_putc(b, '.');
    dbc_quote_ident(b, m->columns[i].name);
}

void dbc_rplan_key_where(dbc_buf *b, const dbc_rplan *p) {
    dbc_buf_puts(b, " WHERE ");
    for (size_t k = 0; k < p->npk; k++) {
        if (k)
            dbc_buf_puts(b, " AND ");
        dbc_rplan_qualified(b, p->m, p->pk[k]);
        dbc_buf_puts(b, " = ?");
    }
}

static bool is_key(const dbc_rplan *p, size_t i) {
    return (p->m->columns[i].flags & DBCONN_PRIMARY_KEY) != 0;
}

/* A NULL parameter takes the column's default in an INSERT. */
static void value_slot(dbc_buf *b, const dbconn_column *c) {
    if (c->default_sql) {
        dbc_buf_printf(b, "COALESCE(?, (%s))", c->default_sql);
    } else if (c->default_literal) {
        dbc_buf_puts(b, "COALESCE(?, ");
        dbc_quote_literal(b, c->default_literal);
        dbc_buf_putc(b, ')');
    } else {
        dbc_buf_putc(b, '?');
    }
}

/* INSERT INTO "t" ("a", ...) VALUES (?, ...): every column but `skip`;
 * with `select`, INSERT ... SELECT ?, ... (for a WHERE to follow). */
static void insert_head(dbc_buf *b, const dbc_rplan *p, int skip,
                        bool select) {
    const dbconn_model *m = p->m;
    dbc_buf_puts(b, "INSERT INTO ");
    dbc_quote_ident(b, m->table);
    dbc_buf_puts(b, " (");
    bool first = true;
    for (size_t i = 0; i < m->ncolumns; i++) {
        if ((int)i == skip)
            continue;
        if (!first)
            dbc_buf_puts(b, ", ");
        dbc_quote_ident(b, m->columns[i].name);
        first = false;
    }
    dbc_buf_puts(b, select ? ") SELECT " : ") VALUES (");
    first = true;
    for (size_t i = 0; i < m->ncolumns; i++) {
        if ((int)i == skip)
            continue;
        if (!first)
            dbc_buf_puts(b, ", ");
        value_slot(b, &m->columns[i]);
        first = false;
    }
    if (!select)
        dbc_buf_putc(b, ')');
}

static char *select_list(const dbc_rplan *p) {
    dbc_buf b = DBC_BUF_INIT;
    for (size_t i = 0; i < p->m->ncolumns; i++) {
        if (i)
            dbc_buf_puts(&b, ", ");
        dbc_rplan_qualified(&b, p->m, i);
    }
    return dbc_buf_take(&b);
}

static char *get_sql(const dbc_rplan *p, const char *what) {
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_printf(&b, "SELECT %s FROM ", what);
    dbc_quote_ident(&b, p->m->table);
    dbc_rplan_key_where(&b, p);
    return dbc_buf_take(&b);
}

static char *insert_sql(const dbc_rplan *p, bool gen) {
    dbc_buf b = DBC_BUF_INIT;
    insert_head(&b, p, gen ? p->gen : -1, false);
    if (gen) {
        dbc_buf_puts(&b, " RETURNING ");
        dbc_quote_ident(&b, p->m->columns[p->gen].name);
    }
    return dbc_buf_take(&b);
}

/* Every column but the key and created_at, in declaration order. */
static uint64_t all_mask(const dbc_rplan *p) {
    uint64_t mask = 0;
    for (size_t i = 0; i < p->m->ncolumns && i < 64; i++)
        if (!is_key(p, i) && (int)i != p->created_at)
            mask |= UINT64_C(1) << i;
    return mask;
}

/* A NULL parameter leaves a column that has a default as it is stored. */
static void set_slot(dbc_buf *b, const dbconn_column *c) {
    dbc_quote_ident(b, c->name);
    if (c->default_sql || c->default_literal) {
        dbc_buf_puts(b, " = COALESCE(?, ");
        dbc_quote_ident(b, c->name);
        dbc_buf_putc(b, ')');
    } else {
        dbc_buf_puts(b, " = ?");
    }
}

static char *update_sql(const dbc_rplan *p, uint64_t mask, bool returning) {
    const dbconn_model *m = p->m;
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_puts(&b, "UPDATE ");
    dbc_quote_ident(&b, m->table);
    dbc_buf_puts(&b, " SET ");
    bool first = true;
    for (size_t i = 0; i < m->ncolumns && i < 64; i++) {
        if (!(mask & (UINT64_C(1) << i)))
            continue;
        if (!first)
            dbc_buf_puts(&b, ", ");
        set_slot(&b, &m->columns[i]);
        first = false;
    }
    dbc_rplan_key_where(&b, p);
    if (returning) {
        dbc_buf_puts(&b, " RETURNING ");
        dbc_quote_ident(&b, m->columns[p->created_at].name);
    }
    return dbc_buf_take(&b);
}

/* Inserts the row unless its key is stored: with an UPDATE by key before
 * it, a save that needs no decision between its two statements. */
static char *insert_absent_sql(const dbc_rplan *p) {
    dbc_buf b = DBC_BUF_INIT;
    insert_head(&b, p, -1, true);
    dbc_buf_puts(&b, " WHERE NOT EXISTS (SELECT 1 FROM ");
    dbc_quote_ident(&b, p->m->table);
    dbc_rplan_key_where(&b, p);
    dbc_buf_putc(&b, ')');
    return dbc_buf_take(&b);
}

static char *delete_sql(const dbc_rplan *p) {
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_puts(&b, "DELETE FROM ");
    dbc_quote_ident(&b, p->m->table);
    dbc_rplan_key_where(&b, p);
    return dbc_buf_take(&b);
}

static char *count_sql(const dbc_rplan *p) {
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_puts(&b, "SELECT count(*) FROM ");
    dbc_quote_ident(&b, p->m->table);
    return dbc_buf_take(&b);
}

/* Column roles: the key, the generated key, the kept timestamps. */
static void find_roles(dbc_rplan *p, size_t *pk) {
    const dbconn_model *m = p->m;
    p->gen = p->created_at = p->updated_at = -1;
    for (size_t i = 0; i < m->ncolumns; i++) {
        const dbconn_column *c = &m->columns[i];
        if (c->flags & DBCONN_PRIMARY_KEY)
            pk[p->npk++] = i;
        if (c->type == DBCONN_TYPE_TEXT || c->type == DBCONN_TYPE_BLOB)
            p->has_blob_or_text = true;
        if (c->type == DBCONN_TYPE_TIMESTAMP) {
            p->nts++;
            if (!strcmp(c->name, "created_at"))
                p->created_at = (int)i;
            else if (!strcmp(c->name, "updated_at"))
                p->updated_at = (int)i;
        }
    }
    if (p->npk == 1 && m->columns[pk[0]].type == DBCONN_TYPE_INTEGER)
        p->gen = (int)pk[0];
}

static int render(dbc_rplan *p) {
    p->select_list = select_list(p);
    p->get_sql = p->select_list ? get_sql(p, p->select_list) : NULL;
    p->insert_sql = insert_sql(p, false);
    p->insert_gen_sql = p->gen >= 0 ? insert_sql(p, true) : NULL;
    uint64_t mask = all_mask(p);
    bool masks = mask && p->m->ncolumns <= 64;
    p->update_sql = masks ? update_sql(p, mask, false) : NULL;
    p->save_sql = masks ? update_sql(p, mask, p->created_at >= 0) : NULL;
    p->insert_absent_sql = insert_absent_sql(p);
    p->delete_sql = delete_sql(p);
    p->exists_sql = get_sql(p, "1");
    p->count_sql = count_sql(p);
    if (!p->select_list || !p->get_sql || !p->insert_sql ||
        (p->gen >= 0 && !p->insert_gen_sql) ||
        (masks && (!p->update_sql || !p->save_sql)) ||
        !p->insert_absent_sql || !p->delete_sql || !p->exists_sql ||
        !p->count_sql)
        return dbc_nomem();
    return 0;
}

int dbc_rplan_new(const dbconn_model *m, dbc_rplan **out) {
    *out = NULL;
    dbc_rplan *p = dbc_calloc(1, sizeof *p + m->ncolumns * sizeof(size_t));
    if (!p)
        return dbc_nomem();
    size_t *pk = (size_t *)(void *)(p + 1);
    p->m = m;
    p->ncols = m->ncolumns;
    p->pk = pk;
    for (size_t i = 0; i < DBC_RUPD_SLOTS; i++)
        atomic_init(&p->upd[i], NULL);
    find_roles(p, pk);
    int rc = render(p);
    if (rc) {
        dbc_rplan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void dbc_rplan_free(dbc_rplan *p) {
    if (!p)
        return;
    dbc_free(p->select_list);
    dbc_free(p->get_sql);
    dbc_free(p->insert_sql);
    dbc_free(p->insert_gen_sql);
    dbc_free(p->update_sql);
    dbc_free(p->save_sql);
    dbc_free(p->insert_absent_sql);
    dbc_free(p->delete_sql);
    dbc_free(p->exists_sql);
    dbc_free(p->count_sql);
    for (size_t i = 0; i < DBC_RUPD_SLOTS; i++)
        dbc_free(atomic_load(&p->upd[i]));
    dbc_free(p);
}

/* A free slot gets the new text (compare-and-swap: two threads may race
 * for one; the loser tries the next).  Slots are never emptied, so a text
 * a reader found stays valid for the plan's life. */
static const char *publish(dbc_rplan *p, uint64_t mask, char *sql,
                           char **owned) {
    size_t len = strlen(sql) + 1;
    dbc_rupd *u = dbc_malloc(sizeof *u + len);
    if (!u) {
        *owned = sql;
        return sql;
    }
    u->mask = mask;
    memcpy(u->sql, sql, len);
    for (size_t i = 0; i < DBC_RUPD_SLOTS; i++) {
        dbc_rupd *expected = NULL;
        if (atomic_compare_exchange_strong(&p->upd[i], &expected, u)) {
            dbc_free(sql);
            return u->sql;
        }
        if (expected->mask == mask) { /* another thread published it */
            dbc_free(u);
            dbc_free(sql);
            return expected->sql;
        }
    }
    dbc_free(u);
    *owned = sql;
    return sql;
}

const char *dbc_rplan_update_sql(dbc_rplan *p, uint64_t mask, char **owned) {
    *owned = NULL;
    if (mask == all_mask(p) && p->update_sql)
        return p->update_sql;
    for (size_t i = 0; i < DBC_RUPD_SLOTS; i++) {
        dbc_rupd *u = atomic_load(&p->upd[i]);
        if (!u)
            break;
        if (u->mask == mask)
            return u->sql;
    }
    char *sql = update_sql(p, mask, false);
    return sql ? publish(p, mask, sql, owned) : NULL;
}

/* Validation of a model when it is added to a base, and the metadata helpers
 * the DDL renderer shares (names, `references` parsing, index list).
 *
 * A model is borrowed, never copied: everything here reads the user's static
 * tables and keeps no pointer into them. */
#include <string.h>

#include "model/model.h"
#include "util/error.h"
#include "util/text.h"

int dbc_ref_parse(const char *ref, dbc_ref *out) {
    *out = (dbc_ref){0};
    size_t len = ref ? strlen(ref) : 0;
    if (len == 0)
        return dbc_fail(DBCONN_EINVAL, "references is empty: expected "
                                       "\"table(column)\" or \"table\"");
    const char *open = strrchr(ref, '(');
    if (!open) {
        /* A bare table name: it may not contain a ')' either, which can
         * only be a typo such as "teams)". */
        if (strchr(ref, ')'))
            goto malformed;
        out->table = ref;
        out->table_len = len;
        return 0;
    }
    /* "table(column)": split at the last '(' so a table name may itself
     * contain one; the column runs to the final ')'. */
    if (ref[len - 1] != ')' || open == ref || open + 1 == ref + len - 1)
        goto malformed;
    out->table = ref;
    out->table_len = (size_t)(open - ref);
    out->col = open + 1;
    out->col_len = (size_t)(ref + len - 1 - out->col);
    return 0;
malformed:
    return dbc_fail(DBCONN_EINVAL,
                    "references \"%s\" is malformed: expected "
                    "\"table(column)\" or \"table\"",
                    ref);
}

size_t dbc_model_index_count(const dbconn_model *m) {
    size_t n = m->indexes ? m->nindexes : 0;
    for (size_t i = 0; i < m->ncolumns; i++)
        if (m->columns[i].flags & DBCONN_INDEXED)
            n++;
    return n;
}

void dbc_model_index_get(const dbconn_model *m, size_t i, dbc_index_view *v) {
    size_t nexplicit = m->indexes ? m->nindexes : 0;
    if (i < nexplicit) {
        const dbconn_index *ix = &m->indexes[i];
        *v = (dbc_index_view){ix->name, ix->columns, ix->ncolumns, ix->unique};
        return;
    }
    i -= nexplicit;
    for (size_t c = 0; c < m->ncolumns; c++) {
        const dbconn_column *col = &m->columns[c];
        if (!(col->flags & DBCONN_INDEXED))
            continue;
        if (i-- == 0) {
            /* Like SQLAlchemy's index=True, unique=True: one unique index
             * instead of a UNIQUE constraint plus a plain index. */
            *v = (dbc_index_view){NULL, &col->name, 1,
                                  (col->flags & DBCONN_UNIQUE) != 0};
            return;
        }
    }
    *v = (dbc_index_view){0};
}

void dbc_model_index_name(const dbconn_model *m, const dbc_index_view *v,
                          dbc_buf *out) {
    if (v->name) {
        dbc_buf_puts(out, v->name);
        return;
    }
    dbc_buf_printf(out, "ix_%s", m->table);
    for (size_t i = 0; i < v->ncolumns; i++) {
        const dbconn_column *c = dbc_model_column(m, v->columns[i],
                                                  strlen(v->columns[i]));
        /* The declared spelling, so "Email" and "email" name one index. */
        dbc_buf_printf(out, "_%s", c ? c->name : v->columns[i]);
    }
}

const dbconn_column *dbc_model_column(const dbconn_model *m, const char *name,
                                      size_t len) {
    for (size_t i = 0; i < m->ncolumns; i++)
        if (m->columns[i].name && dbc_ascii_ieqn(m->columns[i].name, name, len))
            return &m->columns[i];
    return NULL;
}

size_t dbc_model_pk(const dbconn_model *m, const dbconn_column **first) {
    size_t n = 0;
    *first = NULL;
    for (size_t i = 0; i < m->ncolumns; i++) {
        if (m->columns[i].flags & DBCONN_PRIMARY_KEY) {
            if (n++ == 0)
                *first = &m->columns[i];
        }
    }
    return n;
}

static bool reserved_zero(void *const *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (r[i])
            return false;
    return true;
}

static bool fk_action_ok(int a) {
    return a >= DBCONN_FK_NO_ACTION && a <= DBCONN_FK_RESTRICT;
}

/* Checks one column on its own and against the columns before it. */
static int validate_column(const dbconn_model *m, size_t i) {
    const dbconn_column *c = &m->columns[i];
    const char *t = m->table;
    if (!c->name || !c->name[0])
        return dbc_fail(DBCONN_EINVAL, "model \"%s\": column %zu has no name",
                        t, i);
    const char *n = c->name;
    if (!reserved_zero(c->reserved, sizeof c->reserved / sizeof *c->reserved))
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\": reserved fields must "
                        "stay zero", t, n);
    if (c->type < DBCONN_TYPE_INTEGER || c->type > DBCONN_TYPE_TIMESTAMP)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" has unknown type %d "
                        "(expected a DBCONN_TYPE_* other than NULL)", t, n,
                        c->type);
    if (c->flags & ~DBC_COLUMN_FLAGS)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" has unknown flags 0x%x",
                        t, n, c->flags & ~DBC_COLUMN_FLAGS);
    if (c->offset >= m->struct_size)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" has offset %zu beyond "
                        "struct_size %zu", t, n, c->offset, m->struct_size);
    if (c->default_sql && c->default_literal)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" sets both default_sql "
                        "and default_literal", t, n);
    if (c->default_sql && !c->default_sql[0])
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" has an empty "
                        "default_sql", t, n);
    if (c->references) {
        dbc_ref ref;
        if (dbc_ref_parse(c->references, &ref) != 0)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": column \"%s\": references \"%s\" "
                            "is malformed: expected \"table(column)\" or "
                            "\"table\"", t, n, c->references);
    } else if (c->on_delete || c->on_update) {
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" sets on_delete/on_update "
                        "without references", t, n);
    }
    if (!fk_action_ok(c->on_delete) || !fk_action_ok(c->on_update))
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" has an unknown "
                        "on_delete/on_update action (expected DBCONN_FK_*)",
                        t, n);
    for (size_t j = 0; j < i; j++)
        if (m->columns[j].name && dbc_ascii_ieq(m->columns[j].name, n))
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": duplicate column name \"%s\"", t, n);
    return 0;
}

static int validate_index(const dbconn_model *m, size_t i) {
    const dbconn_index *ix = &m->indexes[i];
    const char *t = m->table;
    if (!reserved_zero(ix->reserved, sizeof ix->reserved / sizeof *ix->reserved))
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": index %zu: reserved fields must stay "
                        "zero", t, i);
    if (ix->name && !ix->name[0])
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": index %zu has an empty name (use NULL "
                        "for a generated one)", t, i);
    if (!ix->columns || ix->ncolumns == 0)
        return dbc_fail(DBCONN_EINVAL, "model \"%s\": index %zu has no columns",
                        t, i);
    for (size_t k = 0; k < ix->ncolumns; k++) {
        const char *cn = ix->columns[k];
        if (!cn || !dbc_model_column(m, cn, strlen(cn)))
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": index %zu names unknown column "
                            "\"%s\"", t, i, cn ? cn : "(null)");
        for (size_t j = 0; j < k; j++)
            if (dbc_ascii_ieq(ix->columns[j], cn))
                return dbc_fail(DBCONN_EINVAL,
                                "model \"%s\": index %zu lists column \"%s\" "
                                "twice", t, i, cn);
    }
    return 0;
}

/* Two indexes of one model must not share a name: CREATE INDEX IF NOT
 * EXISTS would silently skip the second. */
static int validate_index_names(const dbconn_model *m) {
    size_t n = dbc_model_index_count(m);
    dbc_buf a = DBC_BUF_INIT, b = DBC_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        dbc_index_view vi;
        dbc_model_index_get(m, i, &vi);
        dbc_buf_reset(&a);
        dbc_model_index_name(m, &vi, &a);
        for (size_t j = 0; j < i && rc == 0; j++) {
            dbc_index_view vj;
            dbc_model_index_get(m, j, &vj);
            dbc_buf_reset(&b);
            dbc_model_index_name(m, &vj, &b);
            if (a.oom || b.oom)
                rc = dbc_nomem();
            else if (dbc_ascii_ieq(a.data, b.data))
                rc = dbc_fail(DBCONN_EINVAL,
                              "model \"%s\": two indexes are named \"%s\"",
                              m->table, a.data);
        }
    }
    if (rc == 0 && (a.oom || b.oom))
        rc = dbc_nomem();
    dbc_buf_free(&a);
    dbc_buf_free(&b);
    return rc;
}

int dbc_model_validate(const dbconn_model *m) {
    if (!m)
        return dbc_fail(DBCONN_EINVAL, "model is NULL");
    if (!m->table || !m->table[0])
        return dbc_fail(DBCONN_EINVAL, "model has no table name");
    const char *t = m->table;
    if (!reserved_zero(m->reserved, sizeof m->reserved / sizeof *m->reserved))
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": reserved fields must stay zero", t);
    if (!m->columns || m->ncolumns == 0)
        return dbc_fail(DBCONN_EINVAL, "model \"%s\" has no columns", t);
    if (m->struct_size == 0)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\" has struct_size 0 (set it to sizeof the "
                        "mapped struct)", t);
    if (m->nindexes > 0 && !m->indexes)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\" has nindexes %zu but indexes is NULL", t,
                        m->nindexes);
    for (size_t i = 0; i < m->ncolumns; i++) {
        int rc = validate_column(m, i);
        if (rc)
            return rc;
    }
    const dbconn_column *pk;
    size_t npk = dbc_model_pk(m, &pk);
    if (npk == 0)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\" has no column with DBCONN_PRIMARY_KEY",
                        t);
    for (size_t i = 0; i < m->ncolumns; i++) {
        const dbconn_column *c = &m->columns[i];
        if (!(c->flags & DBCONN_AUTOINCREMENT))
            continue;
        if (c->type != DBCONN_TYPE_INTEGER || !(c->flags & DBCONN_PRIMARY_KEY)
            || npk != 1)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": column \"%s\": DBCONN_AUTOINCREMENT "
                            "needs the table's only primary key column, of "
                            "type DBCONN_TYPE_INTEGER", t, c->name);
    }
    for (size_t i = 0; m->indexes && i < m->nindexes; i++) {
        int rc = validate_index(m, i);
        if (rc)
            return rc;
    }
    return validate_index_names(m);
}

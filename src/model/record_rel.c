/* Relationships, found from the declared foreign keys: resolving a
 * relationship name, and attaching rows loaded for a whole result to each
 * of its rows.  Keys are matched in C (a sort and binary searches over the
 * struct fields), so the order the engine returned rows in, and its
 * collation, do not matter. */
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "util/text.h"
#include "model/record_map.h"
#include "model/record_rel.h"
#include "model/record_rows.h"
#include "util/error.h"

/* ---- resolving -------------------------------------------------------------- */

/* The column of `target` that `fk` (a column with references) points at:
 * the named one, or the target's single primary key. */
static int referenced_column(const dbconn_column *fk,
                             const dbconn_model *target, size_t *out) {
    dbc_ref ref;
    int rc = dbc_ref_parse(fk->references, &ref);
    if (rc)
        return rc;
    const dbconn_column *c = NULL;
    if (ref.col) {
        c = dbc_model_column(target, ref.col, ref.col_len);
    } else if (dbc_model_pk(target, &c) != 1) {
        c = NULL;
    }
    if (!c)
        return dbc_fail(DBCONN_EINVAL,
                        "foreign key \"%s\" references \"%s\", which names no "
                        "single column of model \"%s\"",
                        fk->name, fk->references, target->table);
    if (c->type != fk->type)
        return dbc_fail(DBCONN_EINVAL,
                        "foreign key \"%s\" and the column \"%s\".\"%s\" it "
                        "references have different types; rows cannot be "
                        "matched",
                        fk->name, target->table, c->name);
    *out = (size_t)(c - target->columns);
    return 0;
}

/* Does column c of `from` reference the table of `to`? */
static bool references_table(const dbconn_column *c, const dbconn_model *to) {
    dbc_ref ref;
    return c->references && dbc_ref_parse(c->references, &ref) == 0 &&
           dbc_ascii_ieqn(to->table, ref.table, ref.table_len);
}

/* Fills r for the foreign key column fk of `from` pointing at `to`. */
static int make_rel(dbconn_base *b, const dbconn_model *m,
                    const dbconn_model *other, bool to_one, size_t fk,
                    dbc_rel *r) {
    const dbconn_model *from = to_one ? m : other, *to = to_one ? other : m;
    *r = (dbc_rel){.other = other, .to_one = to_one, .fk = fk};
    int rc = referenced_column(&from->columns[fk], to, &r->key);
    return rc ? rc : dbc_base_record_plan(b, other, &r->oplan, NULL);
}

/* rel is one of m's foreign-key columns. */
static int by_fk_column(dbconn_base *b, const dbconn_model *m,
                        const dbconn_column *c, dbc_rel *r) {
    dbc_ref ref;
    int rc = dbc_ref_parse(c->references, &ref);
    if (rc)
        return rc;
    const dbconn_model *other = dbc_base_model_named(b, ref.table,
                                                     ref.table_len);
    if (!other)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": foreign key \"%s\" references table "
                        "\"%.*s\", which is not a model of this base",
                        m->table, c->name, (int)ref.table_len, ref.table);
    return make_rel(b, m, other, true, (size_t)(c - m->columns), r);
}

/* rel is "table(column)": that model's foreign key column pointing at m. */
static int by_child_column(dbconn_base *b, const dbconn_model *m,
                           const char *rel, size_t len, dbc_rel *r) {
    const char *open = memchr(rel, '(', len);
    if (!open || rel[len - 1] != ')')
        return 1; /* not this form */
    const dbconn_model *other = dbc_base_model_named(b, rel,
                                                     (size_t)(open - rel));
    const dbconn_column *c =
        other ? dbc_model_column(other, open + 1,
                                 (size_t)(rel + len - 1 - (open + 1)))
              : NULL;
    if (!c || !references_table(c, m))
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": \"%.*s\" names no foreign key of "
                        "another model that references it",
                        m->table, (int)len, rel);
    return make_rel(b, m, other, false, (size_t)(c - other->columns), r);
}

/* rel is a table name: the one foreign key between m and it, either way. */
static int by_table(dbconn_base *b, const dbconn_model *m, const char *rel,
                    size_t len, dbc_rel *r) {
    const dbconn_model *other = dbc_base_model_named(b, rel, len);
    if (!other)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\" has no column, foreign key or related "
                        "table \"%.*s\"",
                        m->table, (int)len, rel);
    size_t found = 0, fk = 0;
    bool to_one = false;
    for (size_t i = 0; i < m->ncolumns; i++)
        if (references_table(&m->columns[i], other))
            found++, fk = i, to_one = true;
    /* A self-reference counts twice -- parent and children -- and so is
     * ambiguous under the table's name. */
    for (size_t i = 0; i < other->ncolumns; i++)
        if (references_table(&other->columns[i], m))
            found++, fk = i, to_one = false;
    if (found != 1)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": %s foreign key between it and \"%s\"; "
                        "name the relationship by its foreign key: "
                        "\"column\" for a parent, \"%s(column)\" for "
                        "children",
                        m->table, found ? "more than one" : "no",
                        other->table, other->table);
    return make_rel(b, m, other, to_one, fk, r);
}

int dbc_rel_resolve(dbconn_base *b, const dbc_rplan *p, const char *rel,
                    size_t len, dbc_rel *out) {
    const dbconn_model *m = p->m;
    *out = (dbc_rel){0};
    if (len == 0)
        return dbc_fail(DBCONN_EINVAL, "model \"%s\": empty relationship name",
                        m->table);
    const dbconn_column *c = dbc_model_column(m, rel, len);
    if (c && c->references)
        return by_fk_column(b, m, c, out);
    if (c)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": column \"%s\" is not a foreign key",
                        m->table, c->name);
    int rc = by_child_column(b, m, rel, len, out);
    return rc == 1 ? by_table(b, m, rel, len, out) : rc;
}

/* ---- matching --------------------------------------------------------------- */

/* Sorting indexes of structs by one column: a merge sort, stable, so
 * children keep the order the engine gave them. */
typedef struct keyed {
    const unsigned char *data;
    size_t size;
    const dbconn_column *col;
} keyed;

static int cmp_idx(const keyed *k, size_t a, size_t b) {
    return dbc_field_cmp(k->col, k->data + a * k->size, k->col,
                         k->data + b * k->size);
}

/* Bottom-up: runs of width 1, 2, 4, ... merged from v into tmp and back. */
static void merge_sort(const keyed *k, size_t *v, size_t *tmp, size_t n) {
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = cmp_idx(k, v[j], v[i]) < 0 ? v[j++] : v[i++];
            while (i < mid)
                tmp[o++] = v[i++];
            while (j < hi)
                tmp[o++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
}

/* Indexes 0..n-1 of the structs in `data`, ordered by column col. */
static size_t *sorted_by(const keyed *k, size_t n) {
    size_t *v = dbc_malloc((n ? n : 1) * 2 * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = i;
    merge_sort(k, v, v + n, n);
    return v;
}

/* The first struct in sorted order whose key (column kcol) equals the
 * field fcol of obj: its index, or SIZE_MAX. */
static size_t find(const keyed *k, const size_t *sorted, size_t n,
                   const dbconn_column *fcol, const void *obj) {
    if (dbc_field_is_null(fcol, obj))
        return SIZE_MAX;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const unsigned char *s = k->data + sorted[mid] * k->size;
        int c = dbc_field_cmp(k->col, s, fcol, obj);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n &&
        dbc_field_cmp(k->col, k->data + sorted[lo] * k->size, fcol, obj) == 0)
        return sorted[lo];
    return SIZE_MAX;
}

static int new_load(dbconn_rows *rows, const char *name, dbc_rload **out) {
    dbc_rload *loads = dbc_realloc(rows->loads,
                                   (rows->nloads + 1) * sizeof *loads);
    if (!loads)
        return dbc_nomem();
    rows->loads = loads;
    dbc_rload *l = &loads[rows->nloads];
    *l = (dbc_rload){0};
    size_t n = rows->n ? rows->n : 1;
    l->name = dbc_strdup(name);
    l->start = dbc_calloc(n, sizeof *l->start);
    l->count = dbc_calloc(n, sizeof *l->count);
    if (!l->name || !l->start || !l->count) {
        dbc_free(l->name);
        dbc_free(l->start);
        dbc_free(l->count);
        return dbc_nomem();
    }
    rows->nloads++;
    *out = l;
    return 0;
}

/* Each row's parent: the related row whose key equals the row's fk. */
static int attach_parents(dbconn_rows *rows, const dbc_rel *rel,
                          dbc_rload *l) {
    dbconn_rows *par = l->rows;
    keyed k = {par->data, par->m->struct_size, &par->m->columns[rel->key]};
    size_t *sorted = sorted_by(&k, par->n);
    if (!sorted)
        return dbc_nomem();
    const dbconn_column *fk = &rows->m->columns[rel->fk];
    for (size_t i = 0; i < rows->n; i++) {
        size_t at = find(&k, sorted, par->n, fk,
                         rows->data + i * rows->m->struct_size);
        l->start[i] = at == SIZE_MAX ? 0 : at;
        l->count[i] = at != SIZE_MAX;
    }
    dbc_free(sorted);
    return 0;
}

/* Groups the children by parent row (stable), then records each row's
 * run.  A child whose parent is not among the rows goes last, unused. */
static int attach_children(dbconn_rows *rows, const dbc_rel *rel,
                           dbc_rload *l) {
    dbconn_rows *ch = l->rows;
    keyed k = {rows->data, rows->m->struct_size, &rows->m->columns[rel->key]};
    size_t *sorted = sorted_by(&k, rows->n);
    size_t *parent = dbc_malloc((ch->n ? ch->n : 1) * 2 * sizeof *parent);
    if (!sorted || !parent) {
        dbc_free(sorted);
        dbc_free(parent);
        return dbc_nomem();
    }
    size_t *perm = parent + ch->n;
    const dbconn_column *fk = &ch->m->columns[rel->fk];
    for (size_t j = 0; j < ch->n; j++) {
        parent[j] = find(&k, sorted, rows->n, fk,
                         ch->data + j * ch->m->struct_size);
        if (parent[j] != SIZE_MAX)
            l->count[parent[j]]++;
    }
    size_t at = 0;
    for (size_t i = 0; i < rows->n; i++) {
        l->start[i] = at;
        at += l->count[i];
    }
    size_t *next = sorted; /* reused: the next free place of each row */
    for (size_t i = 0; i < rows->n; i++)
        next[i] = l->start[i];
    for (size_t j = 0; j < ch->n; j++)
        perm[parent[j] == SIZE_MAX ? at++ : next[parent[j]]++] = j;
    int rc = dbc_rows_permute(ch, perm);
    dbc_free(sorted);
    dbc_free(parent);
    return rc;
}

int dbc_rel_attach(dbconn_rows *rows, const dbc_rel *rel, const char *name,
                   dbconn_rows *related) {
    dbc_rload *l;
    int rc = new_load(rows, name, &l);
    if (rc) {
        dbconn_rows_free(related);
        return rc;
    }
    l->rows = related;
    l->to_one = rel->to_one;
    return rel->to_one ? attach_parents(rows, rel, l)
                       : attach_children(rows, rel, l);
}

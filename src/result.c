/* Buffered results.  Cells live in one array (row-major), text and blob
 * bytes (NUL-terminated) and column names in one byte arena addressed by
 * offsets, so growing never invalidates anything a reader holds between
 * calls.  A small result fits in the allocation of the struct itself. */
#include <stddef.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "result.h"

typedef struct cell {
    int type;
    union {
        int64_t i;
        double r;
        struct {
            size_t off, len;
        } b;
    } u;
} cell;

#define INLINE_BYTES 320

struct dbconn_result {
    size_t nrows, ncols;
    cell *cells;
    size_t cap_cells; /* in cells */
    char *bytes;
    size_t nbytes, cap_bytes;
    size_t *names;    /* ncols offsets into bytes */
    int64_t changes, last_id;
    bool cells_inline, bytes_inline;
    _Alignas(max_align_t) char inline_buf[INLINE_BYTES];
};

static int grow_bytes(dbconn_result *r, size_t n);

/* Appends n bytes and a NUL to the arena; *off is where they start. */
static inline int add_bytes(dbconn_result *r, const void *p, size_t n,
                            size_t *off) {
    if (r->nbytes + n + 1 > r->cap_bytes && grow_bytes(r, n) != 0)
        return DBCONN_ENOMEM;
    *off = r->nbytes;
    if (n)
        memcpy(r->bytes + r->nbytes, p, n);
    r->bytes[r->nbytes + n] = '\0';
    r->nbytes += n + 1;
    return 0;
}

static int grow_bytes(dbconn_result *r, size_t n) {
    size_t cap = r->cap_bytes ? r->cap_bytes * 2 : 256;
    while (cap < r->nbytes + n + 1)
        cap *= 2;
    char *b = r->bytes_inline ? dbc_malloc(cap) : dbc_realloc(r->bytes, cap);
    if (!b)
        return dbc_nomem();
    if (r->bytes_inline)
        memcpy(b, r->bytes, r->nbytes);
    r->bytes = b;
    r->cap_bytes = cap;
    r->bytes_inline = false;
    return 0;
}

static dbconn_result *alloc_result(size_t ncols) {
    /* Not calloc: the inline buffer needs no zeroing. */
    dbconn_result *r = dbc_malloc(sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, offsetof(dbconn_result, inline_buf));
    r->ncols = ncols;
    /* Split the inline buffer: names, then cells for a few rows, then
     * bytes. */
    size_t names = ncols * sizeof(size_t);
    size_t cells_room = ncols ? (INLINE_BYTES / 2 / sizeof(cell)) : 0;
    if (names + cells_room * sizeof(cell) < INLINE_BYTES - 64 && ncols &&
        cells_room >= ncols) {
        r->names = (size_t *)(void *)r->inline_buf;
        r->cells = (cell *)(void *)(r->inline_buf + names);
        r->cap_cells = cells_room;
        r->cells_inline = true;
        size_t used = names + cells_room * sizeof(cell);
        r->bytes = r->inline_buf + used;
        r->cap_bytes = INLINE_BYTES - used;
        r->bytes_inline = true;
    } else {
        r->names = ncols ? dbc_calloc(ncols, sizeof *r->names) : NULL;
        if (ncols && !r->names) {
            dbc_free(r);
            return NULL;
        }
        r->bytes = r->inline_buf;
        r->cap_bytes = INLINE_BYTES;
        r->bytes_inline = true;
        r->cells_inline = false;
    }
    return r;
}

int dbc_result_new_empty(dbconn_result **out) {
    *out = alloc_result(0);
    return *out ? 0 : dbc_nomem();
}

int dbc_colnames_new(const dbc_driver *drv, dbc_stmt *st,
                     dbc_colnames **out) {
    int n = drv->ncols(st);
    size_t ncols = (size_t)(n > 0 ? n : 0), len = 0;
    *out = NULL;
    for (size_t i = 0; i < ncols; i++) {
        const char *name = drv->colname(st, (int)i);
        len += (name ? strlen(name) : 0) + 1;
    }
    dbc_colnames *cn =
        dbc_malloc(sizeof *cn + ncols * sizeof(size_t) + len + 1);
    if (!cn)
        return dbc_nomem();
    cn->ncols = ncols;
    cn->generation = drv->generation(st);
    cn->offs = (size_t *)(void *)(cn + 1);
    cn->bytes = (char *)(cn->offs + ncols);
    cn->len = 0;
    for (size_t i = 0; i < ncols; i++) {
        const char *name = drv->colname(st, (int)i);
        size_t l = name ? strlen(name) : 0;
        cn->offs[i] = cn->len;
        memcpy(cn->bytes + cn->len, name ? name : "", l + 1);
        cn->len += l + 1;
    }
    *out = cn;
    return 0;
}

void dbc_colnames_free(dbc_colnames *cn) { dbc_free(cn); }

bool dbc_colnames_fresh(const dbc_colnames *cn, const dbc_driver *drv,
                        dbc_stmt *st) {
    return cn && cn->generation == drv->generation(st) &&
           cn->ncols == (size_t)drv->ncols(st);
}

int dbc_result_new(const dbc_colnames *cn, dbconn_result **out) {
    dbconn_result *r = alloc_result(cn->ncols);
    size_t off;
    *out = NULL;
    if (!r)
        return dbc_nomem();
    /* The names go first in the arena, so the offsets carry over as is. */
    if (cn->ncols && add_bytes(r, cn->bytes, cn->len ? cn->len - 1 : 0, &off)) {
        dbconn_result_free(r);
        return dbc_nomem();
    }
    if (cn->ncols)
        memcpy(r->names, cn->offs, cn->ncols * sizeof *r->names);
    *out = r;
    return 0;
}

static int grow_cells(dbconn_result *r) {
    size_t need = (r->nrows + 1) * r->ncols;
    if (need <= r->cap_cells)
        return 0;
    size_t cap = r->cap_cells ? r->cap_cells * 2 : r->ncols * 4;
    while (cap < need)
        cap *= 2;
    cell *c = r->cells_inline ? dbc_malloc(cap * sizeof *c)
                              : dbc_realloc(r->cells, cap * sizeof *c);
    if (!c)
        return dbc_nomem();
    if (r->cells_inline && r->cells)
        memcpy(c, r->cells, r->nrows * r->ncols * sizeof *c);
    r->cells = c;
    r->cap_cells = cap;
    r->cells_inline = false;
    return 0;
}

int dbc_result_add_row(dbconn_result *r, const dbc_driver *drv, dbc_stmt *st) {
    if (r->ncols == 0)
        return 0;
    int rc = grow_cells(r);
    if (rc)
        return rc;
    cell *row = r->cells + r->nrows * r->ncols;
    for (size_t i = 0; i < r->ncols; i++) {
        dbc_colval v;
        cell *c = &row[i];
        if ((rc = drv->column(st, (int)i, &v)) != 0)
            return rc;
        c->type = v.type;
        if (v.type == DBCONN_TYPE_INTEGER) {
            c->u.i = v.u.i;
        } else if (v.type == DBCONN_TYPE_REAL) {
            c->u.r = v.u.r;
        } else if (v.type == DBCONN_TYPE_TEXT || v.type == DBCONN_TYPE_BLOB) {
            if ((rc = add_bytes(r, v.u.b.ptr, v.u.b.len, &c->u.b.off)) != 0)
                return rc;
            c->u.b.len = v.u.b.len;
        }
    }
    r->nrows++;
    return 0;
}

void dbc_result_clear_rows(dbconn_result *r) {
    r->nrows = 0;
    /* Keep the column names at the start of the arena. */
    size_t keep = 0;
    for (size_t i = 0; i < r->ncols; i++) {
        size_t end = r->names[i] + strlen(r->bytes + r->names[i]) + 1;
        if (end > keep)
            keep = end;
    }
    r->nbytes = keep;
}

void dbc_result_set_counts(dbconn_result *r, int64_t changes,
                           int64_t last_insert_id) {
    r->changes = changes;
    r->last_id = last_insert_id;
}

/* ---- public getters ---------------------------------------------------- */

static const cell *at(const dbconn_result *r, size_t row, size_t col) {
    if (!r || row >= r->nrows || col >= r->ncols)
        return NULL;
    return &r->cells[row * r->ncols + col];
}

size_t dbconn_result_nrows(const dbconn_result *r) { return r ? r->nrows : 0; }
size_t dbconn_result_ncols(const dbconn_result *r) { return r ? r->ncols : 0; }

const char *dbconn_result_colname(const dbconn_result *r, size_t col) {
    if (!r || col >= r->ncols)
        return NULL;
    return r->bytes + r->names[col];
}

int dbconn_result_colindex(const dbconn_result *r, const char *name) {
    if (!r || !name)
        return DBCONN_EINVAL;
    for (size_t i = 0; i < r->ncols && i < (size_t)INT_MAX; i++)
        if (strcmp(r->bytes + r->names[i], name) == 0)
            return (int)i;
    return DBCONN_EINVAL;
}

int dbconn_result_type(const dbconn_result *r, size_t row, size_t col) {
    const cell *c = at(r, row, col);
    return c ? c->type : DBCONN_EINVAL;
}

int64_t dbconn_result_int(const dbconn_result *r, size_t row, size_t col) {
    const cell *c = at(r, row, col);
    if (!c)
        return 0;
    if (c->type == DBCONN_TYPE_INTEGER)
        return c->u.i;
    if (c->type == DBCONN_TYPE_REAL)
        return (int64_t)c->u.r;
    return 0;
}

double dbconn_result_real(const dbconn_result *r, size_t row, size_t col) {
    const cell *c = at(r, row, col);
    if (!c)
        return 0.0;
    if (c->type == DBCONN_TYPE_REAL)
        return c->u.r;
    if (c->type == DBCONN_TYPE_INTEGER)
        return (double)c->u.i;
    return 0.0;
}

const char *dbconn_result_text(const dbconn_result *r, size_t row,
                               size_t col) {
    const cell *c = at(r, row, col);
    if (!c || c->type != DBCONN_TYPE_TEXT)
        return NULL;
    return r->bytes + c->u.b.off;
}

size_t dbconn_result_text_len(const dbconn_result *r, size_t row, size_t col) {
    const cell *c = at(r, row, col);
    if (!c || c->type != DBCONN_TYPE_TEXT)
        return 0;
    return c->u.b.len;
}

const void *dbconn_result_blob(const dbconn_result *r, size_t row, size_t col,
                               size_t *len) {
    const cell *c = at(r, row, col);
    if (!c || c->type != DBCONN_TYPE_BLOB) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = c->u.b.len;
    return r->bytes + c->u.b.off;
}

int64_t dbconn_result_changes(const dbconn_result *r) {
    return r ? r->changes : 0;
}

int64_t dbconn_result_last_insert_id(const dbconn_result *r) {
    return r ? r->last_id : 0;
}

void dbconn_result_free(dbconn_result *r) {
    if (!r)
        return;
    if (!r->cells_inline)
        dbc_free(r->cells);
    if (!r->bytes_inline)
        dbc_free(r->bytes);
    if ((char *)r->names != r->inline_buf)
        dbc_free(r->names);
    dbc_free(r);
}

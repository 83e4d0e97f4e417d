/* Buffered results.  Cells live in one array (row-major), text and blob
 * bytes (NUL-terminated) in one byte arena addressed by offsets, so growing
 * never invalidates anything a reader holds between calls.  The column names
 * are copied from the statement's dbc_colnames in one memcpy.  A small
 * result (a point lookup) fits in the allocation of the struct itself. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "util/alloc.h"
#include "util/error.h"
#include "result/result.h"

/* A cell is a column value as the driver's row() writes it (u.o for text
 * and blob). */
typedef dbc_colval cell;

#define INLINE_BYTES 320

struct dbconn_result {
    size_t nrows, ncols;
    cell *cells;            /* cap_rows rows of ncols cells */
    size_t cap_rows;
    dbc_arena arena;        /* text and blob bytes */
    const size_t *name_off; /* ncols offsets into names */
    const char *names;      /* each NUL-terminated */
    int64_t changes, last_id;
    void *heap_names;       /* owned: the names when they did not fit inline */
    uint64_t layout_id;     /* the dbc_colnames id whose names and layout the
                               inline buffer holds untouched (0: none) */
    bool cells_owned, bytes_owned; /* on the heap (else inline or none) */
    _Alignas(max_align_t) char inline_buf[INLINE_BYTES];
};

/* Room for n more bytes in the arena. */
static int grow_bytes(dbconn_result *r, size_t n) {
    dbc_arena *a = &r->arena;
    if (n > SIZE_MAX / 4 - a->len)
        return dbc_nomem();
    size_t cap = a->cap ? a->cap * 2 : 256;
    while (cap < a->len + n)
        cap *= 2;
    char *b = r->bytes_owned ? dbc_realloc(a->bytes, cap) : dbc_malloc(cap);
    if (!b)
        return dbc_nomem();
    if (!r->bytes_owned && a->len)
        memcpy(b, a->bytes, a->len);
    a->bytes = b;
    a->cap = cap;
    r->bytes_owned = true;
    r->layout_id = 0;
    return 0;
}

static int grow_cells(dbconn_result *r) {
    size_t rows = r->cap_rows ? r->cap_rows * 2 : 4;
    if (rows > SIZE_MAX / sizeof(cell) / r->ncols)
        return dbc_nomem();
    size_t size = rows * r->ncols * sizeof(cell);
    cell *c = r->cells_owned ? dbc_realloc(r->cells, size) : dbc_malloc(size);
    if (!c)
        return dbc_nomem();
    if (!r->cells_owned && r->nrows)
        memcpy(c, r->cells, r->nrows * r->ncols * sizeof *c);
    r->cells = c;
    r->cap_rows = rows;
    r->cells_owned = true;
    r->layout_id = 0;
    return 0;
}

/* The inline buffer holds, in order: the names (offsets, then bytes, as in
 * the colnames), cells for the rows that fit in half of what is left, then
 * the arena. */
static void plan_layout(dbc_colnames *cn) {
    size_t room = INLINE_BYTES, at = 0;
    size_t aligned = (cn->block + _Alignof(cell) - 1) & ~(_Alignof(cell) - 1);
    cn->names_inline = cn->ncols && aligned <= room / 2;
    if (cn->names_inline) {
        at = aligned;
        room -= aligned;
    }
    size_t row_size = cn->ncols * sizeof(cell);
    cn->cap_rows = cn->ncols ? room / 2 / row_size : 0;
    cn->cells_at = at;
    at += cn->cap_rows * row_size;
    cn->bytes_at = at;
    cn->cap_bytes = INLINE_BYTES - at;
}

/* ---- the thread's spare result ------------------------------------------
 * A point lookup allocates one result and its reader frees it: the freed
 * struct (its heap parts are freed) is kept for the thread's next result
 * instead of going back to the allocator.  One per thread, given back by the
 * thread-exit destructor or dbc_result_spare_drop(). */
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static pthread_key_t spare_key;
static bool spare_key_ok; /* written once under spare_once */
static _Thread_local dbconn_result *spare;
static _Thread_local dbc_free_fn spare_free; /* the hooks it came from */
static _Thread_local bool spare_armed; /* the key's destructor will run */
static atomic_int spare_holders;         /* engines alive */

void dbc_result_spare_drop(void) {
    dbconn_result *r = spare;
    spare = NULL;
    if (r)
        spare_free(r);
}

void dbc_result_spare_hold(void) {
    atomic_fetch_add_explicit(&spare_holders, 1, memory_order_relaxed);
}

void dbc_result_spare_release(void) {
    atomic_fetch_sub_explicit(&spare_holders, 1, memory_order_relaxed);
    dbc_result_spare_drop();
}

static void spare_exit(void *arg) {
    (void)arg;
    /* A result freed by a later destructor re-arms the key (another round
     * of destructors) rather than being kept past the thread's end. */
    spare_armed = false;
    dbc_result_spare_drop();
}

static void make_spare_key(void) {
    spare_key_ok = pthread_key_create(&spare_key, spare_exit) == 0;
}

/* Keeps r (no heap parts left) as the spare; false if there is one already
 * or the thread cannot arm the destructor that would give it back. */
static bool keep_spare(dbconn_result *r) {
    if (spare ||
        atomic_load_explicit(&spare_holders, memory_order_relaxed) == 0)
        return false;
    if (!spare_armed) {
        (void)pthread_once(&spare_once, make_spare_key);
        if (!spare_key_ok || pthread_setspecific(spare_key, &spare_armed) != 0)
            return false;
        spare_armed = true;
    }
    spare = r;
    spare_free = dbc_current_free();
    return true;
}

/* dbc_colnames ids: 1 is the no-columns layout, then one per colnames. */
#define NO_COLUMNS_ID 1
static atomic_uint_fast64_t next_colnames_id = NO_COLUMNS_ID + 1;

/* A result with cn's columns and no rows. */
static dbconn_result *alloc_result(const dbc_colnames *cn) {
    dbconn_result *r = spare;
    if (r && spare_free != dbc_current_free()) {
        dbc_result_spare_drop(); /* from other hooks: not ours to reuse */
        r = NULL;
    }
    if (r) {
        spare = NULL;
        if (r->layout_id == cn->id) {
            /* The last result of these columns, all of it still inline
             * (names and layout in place): only rows and counts reset. */
            r->nrows = 0;
            r->arena.len = 0;
            r->changes = 0;
            r->last_id = 0;
            return r;
        }
    } else if (!(r = dbc_malloc(sizeof *r))) {
        return NULL;
    }
    /* Every header field set here: no memset of the struct. */
    size_t ncols = cn->ncols;
    r->nrows = 0;
    r->ncols = ncols;
    r->arena.len = 0;
    r->changes = 0;
    r->last_id = 0;
    r->heap_names = NULL;
    r->name_off = NULL;
    r->names = NULL;
    if (ncols) {
        char *names = r->inline_buf;
        if (!cn->names_inline &&
            !(names = r->heap_names = dbc_malloc(cn->block))) {
            dbc_free(r);
            return NULL;
        }
        /* cn keeps its offsets and bytes back to back: one copy. */
        memcpy(names, cn->offs, cn->block);
        r->name_off = (const size_t *)(void *)names;
        r->names = names + ncols * sizeof(size_t);
    }
    r->cells = cn->cap_rows ? (cell *)(void *)(r->inline_buf + cn->cells_at)
                            : NULL;
    r->cap_rows = cn->cap_rows;
    r->arena.bytes = r->inline_buf + cn->bytes_at;
    r->arena.cap = cn->cap_bytes;
    r->cells_owned = false;
    r->bytes_owned = false;
    r->layout_id = r->heap_names ? 0 : cn->id;
    return r;
}

int dbc_result_new_empty(dbconn_result **out) {
    static const dbc_colnames none = {.cap_bytes = INLINE_BYTES,
                                      .id = NO_COLUMNS_ID};
    *out = alloc_result(&none);
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
    dbc_colnames *cn = dbc_malloc(sizeof *cn + ncols * sizeof(size_t) + len);
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
    cn->block = ncols * sizeof(size_t) + cn->len;
    plan_layout(cn);
    cn->id = atomic_fetch_add_explicit(&next_colnames_id, 1,
                                       memory_order_relaxed);
    *out = cn;
    return 0;
}

void dbc_colnames_free(dbc_colnames *cn) { dbc_free(cn); }

int dbc_result_new(const dbc_colnames *cn, dbconn_result **out) {
    *out = alloc_result(cn);
    return *out ? 0 : dbc_nomem();
}

int dbc_result_add_row(dbconn_result *r, const dbc_driver *drv, dbc_stmt *st) {
    size_t n = r->ncols, need;
    if (n == 0)
        return 0;
    if (r->nrows == r->cap_rows && grow_cells(r) != 0)
        return DBCONN_ENOMEM;
    /* The driver writes the row straight into its cells and arena.  A
     * failure leaves nrows as it was (the half-written row is past the
     * end). */
    cell *row = r->cells + r->nrows * n;
    int rc = drv->row(st, n, row, &r->arena, &need);
    if (rc == DBC_ROW_FULL) {
        if (grow_bytes(r, need) != 0)
            return DBCONN_ENOMEM;
        rc = drv->row(st, n, row, &r->arena, &need);
    }
    if (rc > 0) /* FULL after growing to what it asked for */
        return dbc_fail(DBCONN_ENOMEM,
                        "driver %s: a row did not fit the %zu bytes it "
                        "asked for",
                        drv->name, need);
    if (rc)
        return rc;
    r->nrows++;
    return 0;
}

void dbc_result_clear_rows(dbconn_result *r) {
    r->nrows = 0;
    r->arena.len = 0; /* the names live outside the arena */
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
    return r->names + r->name_off[col];
}

int dbconn_result_colindex(const dbconn_result *r, const char *name) {
    if (!r || !name)
        return DBCONN_EINVAL;
    for (size_t i = 0; i < r->ncols && i < (size_t)INT_MAX; i++)
        if (strcmp(r->names + r->name_off[i], name) == 0)
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
    return r->arena.bytes + c->u.o.off;
}

size_t dbconn_result_text_len(const dbconn_result *r, size_t row, size_t col) {
    const cell *c = at(r, row, col);
    if (!c || c->type != DBCONN_TYPE_TEXT)
        return 0;
    return c->u.o.len;
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
        *len = c->u.o.len;
    return r->arena.bytes + c->u.o.off;
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
    if (r->cells_owned)
        dbc_free(r->cells);
    if (r->bytes_owned)
        dbc_free(r->arena.bytes);
    if (r->heap_names)
        dbc_free(r->heap_names);
    if (!keep_spare(r))
        dbc_free(r);
}

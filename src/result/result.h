/* Buffered results: built row by row from a driver statement. */
#ifndef DBCONN_RESULT_H
#define DBCONN_RESULT_H

#include "driver/driver.h"

/* A statement's column names, built once per cached statement and copied
 * into each result with one memcpy: offs and bytes are back to back in the
 * same allocation (ncols * sizeof(size_t) + len bytes from offs). */
typedef struct dbc_colnames {
    size_t ncols;
    unsigned generation; /* drv->generation() when built */
    size_t len;          /* bytes: the names, each NUL-terminated */
    size_t *offs;        /* ncols offsets into bytes (same allocation) */
    char *bytes;
    /* Where a result's parts go in its inline buffer, worked out once here
     * rather than per result (result.c), and a process-unique id for this
     * names + layout (a reused spare result that has them skips both). */
    uint64_t id;
    size_t block;        /* ncols * sizeof(size_t) + len */
    bool names_inline;   /* the block fits at the start of the buffer */
    size_t cells_at, cap_rows; /* cap_rows rows of cells at cells_at */
    size_t bytes_at, cap_bytes; /* then the arena */
} dbc_colnames;

int dbc_colnames_new(const dbc_driver *drv, dbc_stmt *st, dbc_colnames **out);
void dbc_colnames_free(dbc_colnames *cn);
/* True when cn, built for a statement, still describes it: the statement's
 * drv->generation() is still `generation` (the same program; a cache entry
 * keeps one statement for its life).  Ask after the run's first step: a
 * schema change recompiles the statement there. */
static inline bool dbc_colnames_fresh(const dbc_colnames *cn,
                                      unsigned generation) {
    return cn && cn->generation == generation;
}

/* A result with these column names and no rows. */
int dbc_result_new(const dbc_colnames *cn, dbconn_result **out);
/* A result with no columns (statements without rows). */
int dbc_result_new_empty(dbconn_result **out);
/* Appends the statement's current row (copies every value; one driver
 * call per row). */
int dbc_result_add_row(dbconn_result *r, const dbc_driver *drv, dbc_stmt *st);
/* Drops the rows, keeps columns and memory (for streaming one row at a
 * time). */
void dbc_result_clear_rows(dbconn_result *r);
void dbc_result_set_counts(dbconn_result *r, int64_t changes,
                           int64_t last_insert_id);
/* Frees the calling thread's spare result (the last one freed, kept for the
 * next), if any.  Runs at thread exit and when an engine is freed, so a
 * thread that closed its engines holds nothing of the library's. */
void dbc_result_spare_drop(void);
/* Spares are kept only while some engine is alive (a pool exists): a result
 * freed after the last dbconn_close goes back to the allocator at once.
 * dbc_pool_new holds, dbc_pool_free releases (and drops its thread's). */
void dbc_result_spare_hold(void);
void dbc_result_spare_release(void);

#endif

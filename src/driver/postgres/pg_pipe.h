/* The commands a connection in pipeline mode has sent and awaits the
 * results of (pg_pipe.c): private to the PostgreSQL driver, shared by the
 * files that send (pg_conn.c, pg_stmt.c) and the loop-driven entries that
 * read the results (pg_io.c). */
#ifndef DBCONN_PG_PIPE_H
#define DBCONN_PG_PIPE_H

#include "driver/postgres/pg_int.h"

typedef struct dbc_pg_item {
    unsigned char kind; /* DBC_PG_IO_* */
    bool taken;         /* its result was read; its end (NULL) not yet */
    char name[32];      /* PREPARE: the statement's server-side name;
                           CONTROL: "COMMIT" or "ROLLBACK" */
} dbc_pg_item;

struct dbc_pg_io {
    bool active;        /* in pipeline mode */
    bool poisoned;      /* pipeline mode could not be left: the server
                           session is replaced before its next use */
    dbc_pg_item *items; /* a ring: head, n of cap */
    size_t head, n, cap;
    /* The first failure since the last sync point, of a command of the
     * driver's own (what the aborted commands after it report). */
    bool failed;
    int fail_rc, fail_native;
    char fail_state[6];
    char fail_name[32]; /* a PREPARE's statement name, else "" */
    char fail_msg[DBC_ERRMSG_MAX];
    /* The connection was lost (or libpq failed): every command queued
     * fails with this. */
    bool broken;
    int broken_rc, broken_native;
    char broken_msg[DBC_ERRMSG_MAX];
};

/* The oldest command queued, or NULL. */
static inline dbc_pg_item *dbc_pg_io_head(struct dbc_pg_io *io) {
    return io->n ? &io->items[io->head] : NULL;
}

static inline void dbc_pg_io_pop(struct dbc_pg_io *io) {
    io->head = (io->head + 1) % io->cap;
    io->n--;
}

/* Records the thread's failure (rc) as the connection's end: every
 * command queued fails with it.  Returns rc. */
int dbc_pg_io_broke(dbc_conn *c, int rc);
/* A send that libpq refused: the connection's end (sql quoted). */
int dbc_pg_io_send_failed(dbc_conn *c, const char *sql);

#endif

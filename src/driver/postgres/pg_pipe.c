/* The queue of commands sent in pipeline mode (see pg_pipe.h). */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "driver/postgres/pg_pipe.h"

bool dbc_pg_io_active(const dbc_conn *c) { return c->io && c->io->active; }

bool dbc_pg_io_poisoned(const dbc_conn *c) { return c->io && c->io->poisoned; }

int dbc_pg_io_broke(dbc_conn *c, int rc) {
    struct dbc_pg_io *io = c->io;
    if (!io->broken) {
        io->broken = true;
        io->broken_rc = rc;
        io->broken_native = dbc_last_native();
        (void)snprintf(io->broken_msg, sizeof io->broken_msg, "%s",
                       dbc_last_msg());
    }
    return rc;
}

int dbc_pg_io_send_failed(dbc_conn *c, const char *sql) {
    return dbc_pg_io_broke(c, dbc_pg_fail(c, NULL, sql));
}

int dbc_pg_io_sent(dbc_conn *c, int kind, const char *name) {
    struct dbc_pg_io *io = c->io;
    if (io->n == io->cap) {
        size_t cap = io->cap ? io->cap * 2 : 32;
        dbc_pg_item *items = dbc_malloc(cap * sizeof *items);
        if (!items) { /* sent but unrecorded: the queue is lost */
            io->poisoned = true;
            return dbc_pg_io_broke(c, dbc_nomem());
        }
        for (size_t i = 0; i < io->n; i++)
            items[i] = io->items[(io->head + i) % io->cap];
        dbc_free(io->items);
        io->items = items;
        io->cap = cap;
        io->head = 0;
    }
    dbc_pg_item *it = &io->items[(io->head + io->n) % io->cap];
    it->kind = (unsigned char)kind;
    it->taken = false;
    /* Per statement sent: no snprintf (names fit: "dbc_<n>", COMMIT) */
    size_t len = name ? strnlen(name, sizeof it->name - 1) : 0;
    memcpy(it->name, name ? name : "", len);
    it->name[len] = '\0';
    io->n++;
    return 0;
}

int dbc_pg_io_begin(dbc_conn *c) {
    const char *sql = DBC_PG_BEGIN_SQL(c);
    c->tx_statements = 0;
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
        return dbc_pg_io_send_failed(c, sql);
    c->tx_open = true;
    return dbc_pg_io_sent(c, DBC_PG_IO_BEGIN, NULL);
}

PGresult *dbc_pg_io_take(dbc_conn *c) {
    dbc_pg_io_head(c->io)->taken = true;
    return PQgetResult(c->pg);
}

int dbc_pg_io_aborted(dbc_conn *c, const char *name, bool *prepare_failed) {
    struct dbc_pg_io *io = c->io;
    *prepare_failed = false;
    if (!io->failed)
        return dbc_fail(DBCONN_EABORTED,
                        "postgresql: not run: a command sent before it in "
                        "the same pipeline failed");
    *prepare_failed = io->fail_name[0] && strcmp(io->fail_name, name) == 0;
    int rc = dbc_fail_native(io->fail_rc, io->fail_native, "%s", io->fail_msg);
    dbc_set_sqlstate(io->fail_state);
    return rc;
}

void dbc_pg_io_replaced(dbc_conn *c) {
    if (!c->io)
        return;
    c->io->active = c->io->poisoned = false;
    c->io->head = c->io->n = 0;
}

void dbc_pg_io_free(dbc_conn *c) {
    if (!c->io)
        return;
    dbc_free(c->io->items);
    dbc_free(c->io);
    c->io = NULL;
}

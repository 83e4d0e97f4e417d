/* PostgreSQL connections driven by the caller's event loop (the
 * dbc_driver_io entries): non-blocking, in libpq's pipeline mode, so the
 * statements of a session go out back to back and their results come
 * back in order without a round trip each.
 *
 * Every command sent is recorded in a queue, oldest first.  The caller's
 * commands (statement runs, COMMIT, ROLLBACK) are received by the caller;
 * the driver's own -- the BEGIN sent with a transaction's first statement,
 * the PREPARE that names a statement at its second run, the DEALLOCATEs
 * of statements the cache dropped, the sync points -- are read here, in
 * passing.  A failure of one of the driver's own is reported by the
 * caller's command after it, which the server then did not run
 * (PGRES_PIPELINE_ABORTED up to the next sync point).  A connection lost
 * fails every command still queued, each with the same message. */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "driver/postgres/pg_pipe.h"

int dbc_pg_io_enter(dbc_conn *c) {
    dbc_pg_conn_unstream(c);
    if (PQstatus(c->pg) != CONNECTION_OK || dbc_pg_io_poisoned(c))
        return DBC_IO_BLOCKING; /* reconnecting blocks: prepare() first */
    if (!c->io && !(c->io = dbc_calloc(1, sizeof *c->io)))
        return dbc_nomem();
    struct dbc_pg_io *io = c->io;
    io->broken = io->failed = false;
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        (void)PQsetnonblocking(c->pg, 0);
        return dbc_pg_fail(c, NULL, NULL);
    }
    io->active = true;
    /* Statements the cache dropped: gone before anything else runs, in
     * a segment of their own (a failure there must abort nothing). */
    if (c->ndealloc && PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
        for (size_t i = 0; i < c->ndealloc; i++) {
            char sql[48];
            (void)snprintf(sql, sizeof sql, "DEALLOCATE %s", c->dealloc[i]);
            if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
                return dbc_pg_io_send_failed(c, sql);
            if (dbc_pg_io_sent(c, DBC_PG_IO_DEALLOC, NULL))
                return dbc_nomem();
        }
        dbc_pg_drop_dealloc(c);
        int rc = dbc_pg_io_sync(c);
        if (rc)
            return rc;
    }
    return 0;
}

int dbc_pg_io_prepare(dbc_conn *c) { return dbc_pg_ready(c); }

int dbc_pg_io_socket(dbc_conn *c) { return PQsocket(c->pg); }

int dbc_pg_io_send_control(dbc_conn *c, int what) {
    const char *sql = what == DBC_CTL_COMMIT     ? "COMMIT"
                      : what == DBC_CTL_ROLLBACK ? "ROLLBACK"
                                                 : NULL;
    if (!sql)
        return dbc_fail(DBCONN_EINVAL, "unknown transaction control %d", what);
    /* A ROLLBACK opens a segment of its own: in the segment of the
     * statements before it, one of them failing would make the server skip
     * it (PGRES_PIPELINE_ABORTED), and the transaction it is there to end
     * would stay open and aborted. */
    struct dbc_pg_io *io = c->io;
    if (what == DBC_CTL_ROLLBACK && io->n &&
        io->items[(io->head + io->n - 1) % io->cap].kind != DBC_PG_IO_SYNC) {
        int rc = dbc_pg_io_sync(c);
        if (rc)
            return rc;
    }
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
        return dbc_pg_io_send_failed(c, sql);
    return dbc_pg_io_sent(c, DBC_PG_IO_CONTROL, sql);
}

int dbc_pg_io_sync(dbc_conn *c) {
    if (!PQpipelineSync(c->pg))
        return dbc_pg_io_send_failed(c, NULL);
    return dbc_pg_io_sent(c, DBC_PG_IO_SYNC, NULL);
}

int dbc_pg_io_flush(dbc_conn *c) {
    if (c->io->broken)
        return 0; /* nothing more will be written */
    int rc = PQflush(c->pg);
    if (rc < 0)
        return dbc_pg_io_send_failed(c, NULL);
    return rc;
}

/* A result of one of the driver's own commands (item `it`, not yet
 * taken): a failure is kept for the commands it aborts. */
static void own_result(struct dbc_pg_io *io, dbc_conn *c, dbc_pg_item *it,
                       PGresult *r) {
    ExecStatusType st = PQresultStatus(r);
    if (it->kind == DBC_PG_IO_SET && st != PGRES_COMMAND_OK)
        c->timeout_now = DBC_PG_TIMEOUT_UNKNOWN; /* not in effect */
    if (st == PGRES_FATAL_ERROR && !io->failed &&
        it->kind != DBC_PG_IO_DEALLOC) {
        io->failed = true;
        io->fail_rc = dbc_pg_fail(c, r, it->kind == DBC_PG_IO_BEGIN
                                            ? DBC_PG_BEGIN_SQL(c)
                                            : NULL);
        io->fail_native = dbc_last_native();
        (void)snprintf(io->fail_state, sizeof io->fail_state, "%s",
                       dbc_last_sqlstate());
        (void)snprintf(io->fail_name, sizeof io->fail_name, "%s", it->name);
        (void)snprintf(io->fail_msg, sizeof io->fail_msg, "%s",
                       dbc_last_msg());
    }
}

/* Reads what can be read without waiting: the driver's own commands, and
 * the ends of the caller's that were taken.  1 when the oldest queued
 * command is the caller's and its result is there; 0 otherwise. */
static int advance(dbc_conn *c) {
    struct dbc_pg_io *io = c->io;
    for (;;) {
        dbc_pg_item *it = dbc_pg_io_head(io);
        if (!it)
            return 0;
        bool caller = it->kind <= DBC_PG_IO_CONTROL;
        if (io->broken) { /* every outcome is known: the failure */
            if (caller)
                return 1;
            if (it->kind == DBC_PG_IO_SET)
                c->timeout_now = DBC_PG_TIMEOUT_UNKNOWN;
            dbc_pg_io_pop(io);
            continue;
        }
        if (caller && !it->taken)
            return PQisBusy(c->pg) ? 0 : 1;
        if (PQisBusy(c->pg))
            return 0;
        PGresult *r = PQgetResult(c->pg);
        if (it->kind == DBC_PG_IO_SYNC) {
            /* The sync point's own result; no end follows it. */
            if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                dbc_pg_io_pop(io);
                io->failed = false; /* a new segment */
            }
            PQclear(r);
            continue;
        }
        if (!r) { /* the end of the command */
            dbc_pg_io_pop(io);
            continue;
        }
        if (!it->taken) {
            it->taken = true;
            own_result(io, c, it, r);
        }
        PQclear(r); /* (a command's further results: not ours to keep) */
    }
}

int dbc_pg_io_poll(dbc_conn *c, bool read) {
    struct dbc_pg_io *io = c->io;
    if (read && !io->broken && !PQconsumeInput(c->pg))
        (void)dbc_pg_io_broke(c, dbc_pg_fail(c, NULL, NULL));
    return advance(c);
}

/* A COMMIT's or ROLLBACK's outcome (the same rules as the blocking one). */
static int control_result(dbc_conn *c, const dbc_pg_item *it, PGresult *r) {
    bool commit = strcmp(it->name, "COMMIT") == 0;
    bool dummy;
    switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
        if (commit && strcmp(PQcmdStatus(r), "COMMIT") != 0)
            return dbc_fail(DBCONN_EABORTED,
                            "COMMIT: the server rolled the transaction back");
        return 0;
    case PGRES_PIPELINE_ABORTED:
        return dbc_pg_io_aborted(c, "", &dummy);
    default:
        return dbc_pg_fail(c, r, it->name);
    }
}

int dbc_pg_io_receive(dbc_conn *c, dbc_stmt *st) {
    struct dbc_pg_io *io = c->io;
    dbc_pg_item *it = dbc_pg_io_head(io);
    if (!it || it->kind > DBC_PG_IO_CONTROL || it->taken)
        return dbc_fail(DBCONN_EINVAL, "postgresql: nothing to receive");
    if (io->broken) {
        dbc_pg_io_pop(io);
        return dbc_fail_native(io->broken_rc, io->broken_native, "%s",
                               io->broken_msg);
    }
    if (it->kind == DBC_PG_IO_QUERY) {
        if (st)
            return dbc_pg_stmt_received(st);
        PQclear(dbc_pg_io_take(c)); /* discarded: its session gave up */
        return 0;
    }
    dbc_pg_item ctl = *it;
    PGresult *r = dbc_pg_io_take(c);
    int rc = control_result(c, &ctl, r);
    PQclear(r);
    return rc;
}

bool dbc_pg_io_idle(dbc_conn *c) {
    (void)advance(c); /* the trailing sync points, when they are there */
    return c->io->n == 0;
}

void dbc_pg_io_leave(dbc_conn *c) {
    struct dbc_pg_io *io = c->io;
    if (!io || !io->active)
        return;
    /* A lost connection may still hold results libpq will not give:
     * it stays in pipeline mode until the reconnect replaces it. */
    if (!PQexitPipelineMode(c->pg))
        io->poisoned = true;
    (void)PQsetnonblocking(c->pg, 0);
    io->active = false;
    io->head = io->n = 0;
    io->failed = io->broken = false;
}


/* PostgreSQL connections: connect, reconnect, ping, cancel, transaction
 * control and scripts.
 *
 * A pooled connection outlives server restarts: a connection found broken
 * when its next transaction begins is replaced there, before anything of
 * the transaction has run (so nothing can be lost or run twice), and the
 * statements prepared on the old one are prepared again on the new one
 * (conn->epoch). */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "driver/postgres/pg_pipe.h"

/* NOTICEs (e.g. "relation already exists, skipping") are not failures;
 * libpq would print them on stderr. */
static void ignore_notice(void *arg, const char *msg) {
    (void)arg;
    (void)msg;
}

/* What statement_timeout a new server session has: the startup
 * options'. */
static int startup_timeout(const dbc_target *t) {
    return t->statement_timeout > 0 ? t->statement_timeout : -1;
}

static int open_pg(dbc_target *t, PGconn **out) {
    char msg[512];
    *out = NULL;
    PGconn *pg = PQconnectdbParams(t->keys, t->values, 0);
    if (!pg)
        return dbc_nomem();
    if (PQstatus(pg) != CONNECTION_OK) {
        dbc_pg_conn_message(pg, msg, sizeof msg);
        PQfinish(pg);
        return dbc_fail(DBCONN_ECONNLOST, "cannot connect to %s: %s", t->url,
                        msg);
    }
    if (PQserverVersion(pg) < 100000) {
        int v = PQserverVersion(pg);
        PQfinish(pg);
        return dbc_fail(DBCONN_EDB,
                        "%s: server version %d.%d is too old: libdbconn "
                        "needs PostgreSQL 10 or newer",
                        t->url, v / 10000, v % 10000 / 100);
    }
    const char *scs = PQparameterStatus(pg, "standard_conforming_strings");
    if (!scs || strcmp(scs, "on") != 0) {
        PQfinish(pg);
        return dbc_fail(DBCONN_EOPTION,
                        "%s: standard_conforming_strings is off (the "
                        "connection's options turned it off): libdbconn "
                        "needs it on",
                        t->url);
    }
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    *out = pg;
    return 0;
}

int dbc_pg_connect(dbc_target *t, dbc_conn **out) {
    *out = NULL;
    dbc_conn *c = dbc_calloc(1, sizeof *c);
    if (!c)
        return dbc_nomem();
    if (pthread_mutex_init(&c->cancel_lock, NULL) != 0) {
        dbc_free(c);
        return dbc_nomem();
    }
    c->target = t;
    atomic_init(&c->interrupted, false);
    c->timeout_now = c->timeout_want = startup_timeout(t);
    int rc = open_pg(t, &c->pg);
    if (!rc && !(c->cancel = PQgetCancel(c->pg)))
        rc = dbc_nomem();
    if (rc) {
        PQfinish(c->pg);
        pthread_mutex_destroy(&c->cancel_lock);
        dbc_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void dbc_pg_drop_dealloc(dbc_conn *c) {
    for (size_t i = 0; i < c->ndealloc; i++)
        dbc_free(c->dealloc[i]);
    c->ndealloc = 0;
}

void dbc_pg_disconnect(dbc_conn *c) {
    if (!c)
        return;
    dbc_pg_drop_dealloc(c); /* they go with the session */
    dbc_free(c->dealloc);
    dbc_pg_io_free(c);
    PQfreeCancel(c->cancel);
    PQfinish(c->pg);
    pthread_mutex_destroy(&c->cancel_lock);
    dbc_free(c);
}

/* A new server session in place of a broken one. */
static int reconnect(dbc_conn *c) {
    PGconn *pg;
    int rc = open_pg(c->target, &pg);
    if (rc)
        return rc;
    PGcancel *cancel = PQgetCancel(pg);
    if (!cancel) {
        PQfinish(pg);
        return dbc_nomem();
    }
    pthread_mutex_lock(&c->cancel_lock);
    PGcancel *old_cancel = c->cancel;
    PGconn *old = c->pg;
    c->cancel = cancel;
    c->pg = pg;
    pthread_mutex_unlock(&c->cancel_lock);
    PQfreeCancel(old_cancel);
    PQfinish(old);
    c->epoch++;
    dbc_pg_drop_dealloc(c);
    dbc_pg_io_replaced(c);
    atomic_store(&c->interrupted, false);
    c->timeout_now = startup_timeout(c->target);
    c->timeout_unsure = c->tx_open = false;
    return 0;
}

int dbc_pg_ping(dbc_conn *c) {
    dbc_pg_conn_unstream(c);
    PGresult *r = PQexec(c->pg, "");
    int rc = PQresultStatus(r) == PGRES_EMPTY_QUERY ? 0
                                                     : dbc_pg_fail(c, r, NULL);
    PQclear(r);
    return rc;
}

void dbc_pg_interrupt(dbc_conn *c) {
    char err[256];
    pthread_mutex_lock(&c->cancel_lock);
    if (c->cancel) {
        atomic_store(&c->interrupted, true);
        /* A request the server finds nothing running for is ignored. */
        (void)PQcancel(c->cancel, err, (int)sizeof err);
    }
    pthread_mutex_unlock(&c->cancel_lock);
}

/* ---- statement_timeout ------------------------------------------------- */

/* -1 (never SET: the startup options' value, none unless given) and 0
 * (none) are the same to a caller asking for 0. */
static bool timeout_is(const dbc_conn *c, int ms) {
    return c->timeout_now == ms || (c->timeout_now == -1 && ms == 0);
}

/* SET statement_timeout = ms: now (blocking), or sent in pipeline mode
 * (its outcome read by pg_io.c, which forgets the value when it fails). */
static int set_timeout(dbc_conn *c, int ms) {
    char sql[48];
    bool pipelined = dbc_pg_io_active(c);
    bool in_block = pipelined ? c->tx_open
                              : PQtransactionStatus(c->pg) != PQTRANS_IDLE;
    int rc = 0;
    (void)snprintf(sql, sizeof sql, "SET statement_timeout = %d",
                   ms > 0 ? ms : 0);
    if (pipelined) {
        if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
            rc = dbc_pg_io_send_failed(c, sql);
        else
            rc = dbc_pg_io_sent(c, DBC_PG_IO_SET, NULL);
    } else {
        PGresult *r = PQexec(c->pg, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = dbc_pg_fail(c, r, sql);
        PQclear(r);
    }
    if (rc) {
        c->timeout_now = DBC_PG_TIMEOUT_UNKNOWN;
        return rc;
    }
    c->timeout_now = ms;
    c->timeout_unsure |= in_block; /* a ROLLBACK would undo it */
    return 0;
}

/* A transaction (or an autocommit run) starts: a SET that a rollback may
 * have undone is made again (sent, in pipeline mode), outside the block. */
static int timeout_tx_start(dbc_conn *c) {
    c->tx_open = false;
    if (c->timeout_unsure) {
        c->timeout_unsure = false;
        c->timeout_now = DBC_PG_TIMEOUT_UNKNOWN;
    }
    if (c->timeout_now != DBC_PG_TIMEOUT_UNKNOWN)
        return 0;
    return set_timeout(c, c->timeout_want); /* outside a block: it stays */
}

int dbc_pg_arm(dbc_conn *c, int timeout_ms, bool first) {
    if (first)
        atomic_store(&c->interrupted, false);
    c->timeout_want = timeout_ms;
    return timeout_is(c, timeout_ms) ? 0 : set_timeout(c, timeout_ms);
}

/* The server said which (SQLSTATE 57014 and who asked: pg_error.c). */
int dbc_pg_stop_code(dbc_conn *c, int rc) {
    (void)c;
    return rc;
}

void dbc_pg_disarm(dbc_conn *c) { atomic_store(&c->interrupted, false); }

bool dbc_pg_in_transaction(dbc_conn *c) {
    switch (PQtransactionStatus(c->pg)) {
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
    case PQTRANS_ACTIVE:
        return true;
    default: /* idle, or unknown: a broken connection has no transaction */
        return false;
    }
}

void dbc_pg_end_copy(dbc_conn *c, const PGresult *r) {
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COPY_IN) {
        (void)PQputCopyEnd(c->pg, "COPY FROM STDIN is not supported by "
                                  "libdbconn");
    } else if (st == PGRES_COPY_OUT) {
        char *buf;
        while (PQgetCopyData(c->pg, &buf, 0) > 0)
            PQfreemem(buf);
    }
    PGresult *x;
    while ((x = PQgetResult(c->pg)) != NULL)
        PQclear(x);
}

/* Runs SQL with the simple query protocol (one or more statements). */
static int simple(dbc_conn *c, const char *sql) {
    dbc_pg_conn_unstream(c);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
        dbc_pg_end_copy(c, r);
        rc = dbc_fail(DBCONN_EINVAL,
                      "COPY ... FROM STDIN / TO STDOUT is not supported: "
                      "\"%.200s\"",
                      sql);
    } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
               st != PGRES_EMPTY_QUERY) {
        rc = dbc_pg_fail(c, r, sql);
    }
    PQclear(r);
    return rc;
}

int dbc_pg_exec_script(dbc_conn *c, const char *sql) {
    c->tx_statements++; /* the transaction has run something now */
    return simple(c, sql);
}

bool dbc_pg_queue_dealloc(dbc_conn *c, const char *name) {
    if (c->ndealloc == c->capdealloc) {
        size_t cap = c->capdealloc ? c->capdealloc * 2 : 8;
        char **n = dbc_realloc(c->dealloc, cap * sizeof *n);
        if (!n)
            return false;
        c->dealloc = n;
        c->capdealloc = cap;
    }
    char *copy = dbc_strdup(name);
    if (!copy)
        return false;
    c->dealloc[c->ndealloc++] = copy;
    return true;
}

void dbc_pg_flush_dealloc(dbc_conn *c) {
    dbc_pg_conn_unstream(c);
    /* Only between transactions: a DEALLOCATE that fails (the user ran
     * DEALLOCATE ALL) must not abort a transaction of the user's. */
    if (!c->ndealloc || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return;
    size_t len = 1;
    for (size_t i = 0; i < c->ndealloc; i++)
        len += strlen(c->dealloc[i]) + 13;
    char *sql = dbc_malloc(len);
    if (sql) {
        size_t at = 0;
        for (size_t i = 0; i < c->ndealloc; i++)
            at += (size_t)snprintf(sql + at, len - at, "DEALLOCATE %s;",
                                   c->dealloc[i]);
        PQclear(PQexec(c->pg, sql)); /* names are gone either way */
        dbc_free(sql);
    }
    dbc_pg_drop_dealloc(c);
}

/* Before the first statement of a transaction, or of a run of
 * autocommit statements: a new server session when the old one is found
 * gone (nothing has run yet, so nothing can be lost). */
int dbc_pg_ready(dbc_conn *c) {
    int rc;
    if ((PQstatus(c->pg) == CONNECTION_BAD || dbc_pg_io_poisoned(c)) &&
        (rc = reconnect(c)) != 0)
        return rc;
    dbc_pg_flush_dealloc(c);
    c->tx_statements = 0;
    return timeout_tx_start(c);
}

/* DBC_CTL_BEGIN: a transaction, also under isolation_level AUTOCOMMIT
 * (dbconn_begin; the autobegin of its statements is DBC_CTL_AUTOCOMMIT). */
static int begin(dbc_conn *c) {
    const char *sql = DBC_PG_BEGIN_SQL(c);
    if (dbc_pg_io_active(c)) { /* sent with the first statement */
        int rc = timeout_tx_start(c); /* before BEGIN: outside it */
        return rc ? rc : dbc_pg_io_begin(c);
    }
    int rc = dbc_pg_ready(c);
    if (rc)
        return rc;
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && dbc_pg_conn_lost(c, r)) {
        PQclear(r);
        if ((rc = reconnect(c)) != 0)
            return rc;
        r = PQexec(c->pg, sql);
    }
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : dbc_pg_fail(c, r, sql);
    PQclear(r);
    c->tx_open = rc == 0;
    return rc;
}

static int commit(dbc_conn *c) {
    PGTransactionStatusType st = PQtransactionStatus(c->pg);
    if (st == PQTRANS_IDLE)
        return 0; /* autocommit, or the SQL ended it itself */
    if (st == PQTRANS_INERROR) {
        (void)simple(c, "ROLLBACK");
        return dbc_fail(DBCONN_EABORTED,
                        "COMMIT: the transaction had failed on the server "
                        "and was rolled back");
    }
    PGresult *r = PQexec(c->pg, "COMMIT");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = dbc_pg_fail(c, r, "COMMIT");
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = dbc_fail(DBCONN_EABORTED,
                      "COMMIT: the server rolled the transaction back");
    PQclear(r);
    return rc;
}

int dbc_pg_restart_tx(dbc_conn *c) {
    int rc = simple(c, "ROLLBACK");
    if (rc)
        return rc;
    c->tx_statements = 0;
    /* (only inside a transaction: a plain BEGIN under AUTOCOMMIT) */
    if ((rc = simple(c, DBC_PG_BEGIN_SQL(c))) != 0)
        return rc;
    /* The ROLLBACK undid a SET of the old transaction: again, in this. */
    if (c->timeout_unsure)
        rc = set_timeout(c, c->timeout_want);
    return rc;
}

int dbc_pg_control(dbc_conn *c, int what) {
    dbc_pg_conn_unstream(c);
    if (dbc_pg_io_active(c) && (what == DBC_CTL_COMMIT ||
                                what == DBC_CTL_ROLLBACK))
        return dbc_fail(DBCONN_EINVAL, "postgresql: %s on a connection in "
                        "pipeline mode: send it (dbc_driver_io)",
                        what == DBC_CTL_COMMIT ? "COMMIT" : "ROLLBACK");
    switch (what) {
    case DBC_CTL_COMMIT:
        return commit(c);
    case DBC_CTL_ROLLBACK:
        return PQtransactionStatus(c->pg) == PQTRANS_IDLE
                   ? 0
                   : simple(c, "ROLLBACK");
    case DBC_CTL_AUTOCOMMIT:
        if (dbc_pg_io_active(c)) { /* readied when the mode was entered */
            c->tx_statements = 0;
            return timeout_tx_start(c);
        }
        return dbc_pg_ready(c);
    default:
        if (what < DBC_CTL_BEGIN || what >= DBC_CTL_COMMIT)
            return dbc_fail(DBCONN_EINVAL, "unknown transaction control %d",
                            what);
        /* Every begin mode is the same transaction here: postgresql takes
         * row locks per statement, there is no database write lock. */
        return begin(c);
    }
}

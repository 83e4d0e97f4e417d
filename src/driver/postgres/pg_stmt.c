/* PostgreSQL statements.
 *
 * prepare() only translates the text: nothing reaches the server until the
 * first step.  The first run of a statement goes as PQexecParams (parse,
 * bind and execute in one round trip, nothing left on the server); a
 * statement run again -- one the statement cache kept -- becomes a named
 * server-side prepared statement at its second run (PQprepare) and runs as
 * PQexecPrepared from then on; finalize() queues its DEALLOCATE.  A named
 * statement whose table changed under it ("cached plan must not change
 * result type") or that vanished is prepared again: transparently when no
 * transaction is open or the failure was the transaction's first
 * statement (which is then started over), else the failure is reported
 * and the next run prepares it anew.
 *
 * Rows come in one PGresult (buffered), or one PGresult per row in libpq's
 * single-row mode when the caller streams them (stream()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/sqlverb.h"
#include "driver/postgres/pg_int.h"

struct dbc_stmt {
    dbc_conn *c;
    char *sql;            /* as the caller wrote it; owned */
    char *text;           /* translated; owned */
    dbc_pg_params params;
    bool bound;           /* types were declared by a first bind */
    bool readonly;
    bool may_insert;      /* not a plain query: streamed rows keep the key
                             of the last one for last_insert_id */
    char name[32];        /* server-side name when named */
    bool named;
    unsigned epoch;       /* c->epoch when named */
    unsigned runs;
    unsigned generation;  /* +1 whenever the server-side statement changes */
    /* The run in progress. */
    bool active, streaming, drained;
    /* A streamed run's results read ahead (dbc_pg_unstream): served from
     * here, oldest at spill_head; spilled: all of them are here. */
    PGresult **spill;
    size_t nspill, spill_head;
    bool spilled;
    int spill_rc;         /* no memory to keep them: the run's failure */
    PGresult *res;
    int row, nrows;
    int64_t last_key;     /* streaming: key of the last row of an INSERT */
    dbc_pg_kind *kinds;   /* per column of res */
    int nkinds, capkinds;
    /* The kinds describe the named statement of this generation: its
     * result types are fixed (the server refuses to change them). */
    bool kinds_named;
    unsigned kinds_gen;
};

int dbc_pg_prepare(dbc_conn *c, const char *sql, size_t len, dbc_stmt **out) {
    *out = NULL;
    if (len > INT_MAX)
        return dbc_fail(DBCONN_EINVAL, "SQL text is too long (%zu bytes)", len);
    char *text;
    int n;
    int rc = dbc_pg_translate(sql, len, &text, &n);
    if (rc)
        return rc;
    dbc_stmt *s = dbc_calloc(1, sizeof *s);
    if (!s || !(s->sql = dbc_strndup(sql, len)) ||
        dbc_pg_params_init(&s->params, n) != 0) {
        if (s)
            dbc_free(s->sql);
        dbc_free(s);
        dbc_free(text);
        return dbc_nomem();
    }
    s->c = c;
    s->text = text;
    s->readonly = dbc_sql_verb(s->sql) == DBC_VERB_SELECT;
    s->may_insert = !s->readonly;
    *out = s;
    return 0;
}

void dbc_pg_finalize(dbc_stmt *s) {
    if (!s)
        return;
    dbc_pg_reset(s);
    if (s->named && s->epoch == s->c->epoch)
        (void)dbc_pg_queue_dealloc(s->c, s->name);
    dbc_pg_params_free(&s->params);
    dbc_free(s->kinds);
    dbc_free(s->text);
    dbc_free(s->sql);
    dbc_free(s);
}

int dbc_pg_bind(dbc_stmt *s, const dbconn_value *p, size_t n) {
    int want = s->params.n;
    if ((size_t)want != n)
        return dbc_fail(DBCONN_EINVAL,
                        "statement expects %d parameter%s, %zu given: "
                        "\"%.200s\"",
                        want, want == 1 ? "" : "s", n, s->sql);
    int rc = dbc_pg_params_bind(&s->params, p, !s->bound);
    s->bound = true;
    return rc;
}

void dbc_pg_stream(dbc_stmt *s) { s->streaming = true; }

/* ---- one run ------------------------------------------------------------ */

/* Column kinds of res (the shape every row of the run has). */
static int set_kinds(dbc_stmt *s, const PGresult *res) {
    int n = PQnfields(res);
    if (s->kinds_named && s->named && s->kinds_gen == s->generation &&
        s->nkinds == n)
        return 0;
    if (n > s->capkinds) {
        dbc_pg_kind *k = dbc_realloc(s->kinds, (size_t)n * sizeof *k);
        if (!k)
            return dbc_nomem();
        s->kinds = k;
        s->capkinds = n;
    }
    for (int i = 0; i < n; i++)
        s->kinds[i] = dbc_pg_kind_of(PQftype(res, i));
    s->nkinds = n;
    s->kinds_named = s->named;
    s->kinds_gen = s->generation;
    return 0;
}

/* The first column of row `row` as an integer key, when it is one. */
static int64_t key_of(const PGresult *res, int row) {
    int64_t key;
    if (PQnfields(res) < 1 || row < 0 || row >= PQntuples(res) ||
        dbc_pg_kind_of(PQftype(res, 0)) != DBC_PG_K_INT ||
        !dbc_pg_parse_int(PQgetvalue(res, row, 0), PQgetlength(res, row, 0),
                          &key))
        return 0;
    return key;
}

/* Counts from a finished command's tag ("INSERT 0 3", "UPDATE 2", ...);
 * an INSERT's key is the first column of the last row of res, or `key`
 * when the rows were streamed (res has none then). */
static void counts(dbc_stmt *s, const PGresult *res, int64_t key) {
    const char *tag = PQcmdStatus((PGresult *)res);
    static const char *const writes[] = {"INSERT ", "UPDATE ", "DELETE ",
                                         "MERGE "};
    if (tag[0] != 'I' && tag[0] != 'U' && tag[0] != 'D' && tag[0] != 'M')
        return; /* the common SELECT: no comparisons */
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
        if (strncmp(tag, writes[i], strlen(writes[i])) != 0)
            continue;
        const char *count = PQcmdTuples((PGresult *)res);
        int64_t n = 0;
        (void)dbc_pg_parse_int(count, (int)strlen(count), &n);
        s->c->changes = n;
        s->c->total_changes += n;
        if (i == 0 && PQntuples(res) > 0)
            key = key_of(res, PQntuples(res) - 1);
        if (i == 0) /* an INSERT without an integer RETURNING column: 0 */
            s->c->last_insert_id = key;
        return;
    }
}

/* Sends the statement: named, made named (second run) or unnamed. */
static int send(dbc_stmt *s, PGresult **out) {
    dbc_conn *c = s->c;
    const dbc_pg_params *p = &s->params;
    *out = NULL;
    dbc_pg_unstream(c);
    if (c->ndealloc) /* between transactions only (autocommit) */
        dbc_pg_flush_dealloc(c);
    if (s->named && s->epoch != c->epoch)
        s->named = false; /* the server session it lived in is gone */
    if (!s->named && s->runs > 0) {
        (void)snprintf(s->name, sizeof s->name, "dbc_%llu",
                       (unsigned long long)++c->names);
        PGresult *r = PQprepare(c->pg, s->name, s->text, p->n, p->types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            int rc = dbc_pg_fail(c, r, s->sql);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        s->named = true;
        s->epoch = c->epoch;
        s->generation++;
    }
    if (s->streaming) {
        int ok = s->named ? PQsendQueryPrepared(c->pg, s->name, p->n, p->values,
                                                p->lengths, p->formats, 0)
                          : PQsendQueryParams(c->pg, s->text, p->n, p->types,
                                              p->values, p->lengths,
                                              p->formats, 0);
        if (!ok || !PQsetSingleRowMode(c->pg))
            return ok ? dbc_fail(DBCONN_EDB, "libpq refused single-row mode")
                      : dbc_pg_fail(c, NULL, s->sql);
        c->streaming = s;
        c->unstream = dbc_pg_unstream;
        *out = PQgetResult(c->pg);
    } else if (s->named) {
        *out = PQexecPrepared(c->pg, s->name, p->n, p->values, p->lengths,
                              p->formats, 0);
    } else {
        *out = PQexecParams(c->pg, s->text, p->n, p->types, p->values,
                            p->lengths, p->formats, 0);
    }
    return 0;
}

/* The next result of a streamed run: read ahead, or from the connection;
 * NULL at its end. */
static PGresult *next_result(dbc_stmt *s) {
    if (!s->spilled)
        return PQgetResult(s->c->pg);
    return s->spill_head < s->nspill ? s->spill[s->spill_head++] : NULL;
}

/* The run's results are all read (from the connection): it is free. */
static void stream_ended(dbc_stmt *s) {
    if (s->c->streaming == s)
        s->c->streaming = NULL;
}

void dbc_pg_unstream(dbc_conn *c) {
    dbc_stmt *s = c->streaming;
    if (!s)
        return;
    c->streaming = NULL;
    if (s->drained || s->spilled)
        return;
    PGresult *r;
    size_t cap = 0;
    s->nspill = s->spill_head = 0;
    while ((r = PQgetResult(c->pg)) != NULL) {
        if (s->nspill == cap && !s->spill_rc) {
            size_t ncap = cap ? cap * 2 : 64;
            PGresult **n = dbc_realloc(s->spill, ncap * sizeof *n);
            if (n) {
                s->spill = n;
                cap = ncap;
            } else {
                s->spill_rc = DBCONN_ENOMEM;
            }
        }
        if (s->spill_rc)
            PQclear(r); /* the run fails: nothing more to keep */
        else
            s->spill[s->nspill++] = r;
    }
    s->spilled = true;
}

/* Frees what was read ahead and not served. */
static void spill_free(dbc_stmt *s) {
    while (s->spill_head < s->nspill)
        PQclear(s->spill[s->spill_head++]);
    dbc_free(s->spill);
    s->spill = NULL;
    s->nspill = s->spill_head = 0;
    s->spilled = false;
    s->spill_rc = 0;
}

/* Reads and drops what is left of a streamed run; the first failure met
 * is recorded and returned when `report`. */
static int drain(dbc_stmt *s, bool report) {
    int rc = 0;
    PGresult *r;
    if (!s->streaming || s->drained)
        return 0;
    while ((r = next_result(s)) != NULL) {
        if (report && !rc && PQresultStatus(r) == PGRES_FATAL_ERROR)
            rc = dbc_pg_fail(s->c, r, s->sql);
        PQclear(r);
    }
    if (report && !rc && s->spill_rc)
        rc = dbc_nomem();
    spill_free(s);
    stream_ended(s);
    s->drained = true;
    return rc;
}

/* A named statement the server no longer runs as prepared: its table
 * changed ("cached plan must not change result type") or it is gone. */
static bool stale(const dbc_stmt *s, const PGresult *r) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *fn = PQresultErrorField(r, PG_DIAG_SOURCE_FUNCTION);
    if (!s->named || !state)
        return false;
    return strcmp(state, "26000") == 0 ||
           (strcmp(state, "0A000") == 0 && fn &&
            strcmp(fn, "RevalidateCachedQuery") == 0);
}

/* After a stale failure: forget the server-side statement, and say
 * whether running it again (unnamed) is safe now. */
static bool forget_stale(dbc_stmt *s, const PGresult *r) {
    dbc_conn *c = s->c;
    if (strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "0A000") == 0)
        (void)dbc_pg_queue_dealloc(c, s->name); /* it still exists */
    s->named = false;
    s->generation++;
    s->runs = 0; /* prepared again at its next run */
    PGTransactionStatusType st = PQtransactionStatus(c->pg);
    if (st == PQTRANS_IDLE)
        return true;
    return st == PQTRANS_INERROR && c->tx_statements == 0 &&
           dbc_pg_restart_tx(c) == 0;
}

static int fail_stale(dbc_stmt *s, PGresult *r) {
    int rc = dbc_pg_fail(s->c, r, s->sql);
    char msg[DBC_ERRMSG_MAX];
    (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
    dbc_fail_native(rc, dbc_last_native(),
                    "%s; the table changed after this statement was "
                    "prepared: roll back and run the transaction again (the "
                    "statement is prepared anew)",
                    msg);
    dbc_set_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE));
    return rc;
}

/* The first result of a run: rows, a command's end, or a failure. */
static int first_result(dbc_stmt *s, PGresult *r) {
    switch (PQresultStatus(r)) {
    case PGRES_SINGLE_TUPLE: /* streamed: one row */
        s->res = r;
        s->row = 0;
        s->nrows = 1;
        s->last_key = s->may_insert ? key_of(r, 0) : 0;
        return set_kinds(s, r) ? DBCONN_ENOMEM : DBC_STEP_ROW;
    case PGRES_TUPLES_OK:
        s->res = r;
        s->row = 0;
        s->nrows = PQntuples(r);
        counts(s, r, 0);
        if (set_kinds(s, r))
            return DBCONN_ENOMEM;
        drain(s, false);
        return s->nrows ? DBC_STEP_ROW : DBC_STEP_DONE;
    case PGRES_COMMAND_OK:
        s->res = r;
        counts(s, r, 0);
        drain(s, false);
        return DBC_STEP_DONE;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT: {
        s->res = r;
        dbc_pg_end_copy(s->c, r);
        stream_ended(s);
        s->drained = true;
        return dbc_fail(DBCONN_EINVAL,
                        "COPY ... FROM STDIN / TO STDOUT is not supported: "
                        "\"%.200s\"",
                        s->sql);
    }
    default: {
        int rc = dbc_pg_fail(s->c, r, s->sql);
        PQclear(r);
        drain(s, false);
        return rc;
    }
    }
}

static int start(dbc_stmt *s) {
    PGresult *r;
    s->active = true;
    s->drained = false;
    int rc = send(s, &r);
    if (rc == 0 && r && PQresultStatus(r) == PGRES_FATAL_ERROR &&
        stale(s, r)) {
        drain(s, false);
        if (!forget_stale(s, r)) {
            rc = fail_stale(s, r);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        s->drained = false;
        rc = send(s, &r); /* unnamed now */
    }
    s->runs++;
    s->c->tx_statements++;
    if (rc) {
        drain(s, false);
        return rc;
    }
    if (!r) /* libpq could not make a result */
        return dbc_pg_fail(s->c, NULL, s->sql);
    return first_result(s, r);
}

/* ---- pipeline mode (pg_io.c queues the commands) ---------------------- */

int dbc_pg_io_send(dbc_stmt *s) {
    dbc_conn *c = s->c;
    const dbc_pg_params *p = &s->params;
    int rc;
    if (s->named && s->epoch != c->epoch)
        s->named = false;
    if (!s->named && s->runs > 0) { /* named now: PREPARE goes first */
        (void)snprintf(s->name, sizeof s->name, "dbc_%llu",
                       (unsigned long long)++c->names);
        if (!PQsendPrepare(c->pg, s->name, s->text, p->n, p->types))
            return dbc_pg_fail(c, NULL, s->sql);
        if ((rc = dbc_pg_io_sent(c, DBC_PG_IO_PREPARE, s->name)) != 0)
            return rc;
        s->named = true;
        s->epoch = c->epoch;
        s->generation++;
    }
    int ok = s->named ? PQsendQueryPrepared(c->pg, s->name, p->n, p->values,
                                            p->lengths, p->formats, 0)
                      : PQsendQueryParams(c->pg, s->text, p->n, p->types,
                                          p->values, p->lengths, p->formats,
                                          0);
    if (!ok)
        return dbc_pg_fail(c, NULL, s->sql);
    s->runs++;
    c->tx_statements++;
    return dbc_pg_io_sent(c, DBC_PG_IO_QUERY, NULL);
}

int dbc_pg_stmt_received(dbc_stmt *s) {
    dbc_conn *c = s->c;
    PGresult *r = dbc_pg_io_take(c);
    s->active = true;
    s->drained = true; /* one result, no single-row mode */
    if (!r)
        return dbc_pg_fail(c, NULL, s->sql);
    if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
        bool prepare_failed;
        int rc = dbc_pg_io_aborted(c, s->name, &prepare_failed);
        if (prepare_failed) { /* named at its next run, anew */
            s->named = false;
            s->runs = 0;
            s->generation++;
        }
        PQclear(r);
        return rc;
    }
    if (PQresultStatus(r) == PGRES_FATAL_ERROR && stale(s, r)) {
        /* Not retried here: later commands of the pipeline were sent
         * after it.  Prepared anew at its next run. */
        if (strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "0A000") == 0)
            (void)dbc_pg_queue_dealloc(c, s->name);
        s->named = false;
        s->runs = 0;
        s->generation++;
        int rc = fail_stale(s, r);
        PQclear(r);
        return rc;
    }
    return first_result(s, r);
}

/* The next row of a streamed run. */
static int next_streamed(dbc_stmt *s) {
    if (s->drained)
        return DBC_STEP_DONE;
    PQclear(s->res);
    s->res = NULL;
    if (s->spill_rc) { /* the rows read ahead could not be kept */
        drain(s, false);
        return dbc_fail(DBCONN_ENOMEM,
                        "out of memory keeping the rest of a streamed "
                        "result while the row callback ran a statement: "
                        "\"%.200s\"",
                        s->sql);
    }
    PGresult *r = next_result(s);
    if (!r) {
        spill_free(s);
        stream_ended(s);
        s->drained = true;
        return DBC_STEP_DONE;
    }
    switch (PQresultStatus(r)) {
    case PGRES_SINGLE_TUPLE:
        s->res = r;
        if (s->may_insert)
            s->last_key = key_of(r, 0);
        return DBC_STEP_ROW;
    case PGRES_TUPLES_OK: /* the end: the command's tag, no rows */
        s->res = r;
        s->nrows = 0;
        counts(s, r, s->last_key);
        drain(s, false);
        return DBC_STEP_DONE;
    default: {
        int rc = dbc_pg_fail(s->c, r, s->sql);
        PQclear(r);
        drain(s, false);
        return rc;
    }
    }
}

int dbc_pg_step(dbc_stmt *s) {
    if (!s->active)
        return start(s);
    if (s->streaming)
        return next_streamed(s);
    return ++s->row < s->nrows ? DBC_STEP_ROW : DBC_STEP_DONE;
}

void dbc_pg_reset(dbc_stmt *s) {
    (void)drain(s, false);
    stream_ended(s);
    PQclear(s->res);
    s->res = NULL;
    s->active = s->streaming = s->drained = false;
    s->row = s->nrows = 0;
}

int dbc_pg_finish(dbc_stmt *s) {
    int rc = drain(s, true);
    dbc_pg_reset(s);
    return rc;
}

bool dbc_pg_readonly(dbc_stmt *s) { return s->readonly; }
const char *dbc_pg_sql(dbc_stmt *s) { return s->sql; }

int dbc_pg_ncols(dbc_stmt *s) { return s->res ? PQnfields(s->res) : 0; }

unsigned dbc_pg_generation(dbc_stmt *s) { return s->generation; }

const char *dbc_pg_colname(dbc_stmt *s, int i) {
    return s->res ? PQfname(s->res, i) : NULL;
}

int dbc_pg_stmt_row(dbc_stmt *s, size_t n, dbc_colval *out, dbc_arena *a,
                    size_t *need) {
    if (!s->res || (int)n > s->nkinds)
        return dbc_fail(DBCONN_EINVAL, "no row to read");
    return dbc_pg_row(s->res, s->streaming ? 0 : s->row, s->kinds, n, out, a,
                      need);
}

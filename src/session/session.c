/* Sessions: autobegin, one statement per exec, commit / rollback, and the
 * aborted state that keeps work from running past a failure. */
#include <string.h>

#include "util/alloc.h"
#include "engine/echo.h"
#include "engine/engine.h"
#include "result/result.h"
#include "session/session.h"
#include "util/callout.h"
#include "util/sqlverb.h"
#include "util/text.h"

/* The buffers of s's messages, made at its first failure; NULL without
 * memory (the messages then say so). */
static char *msg_bufs(dbconn_session *s) {
    if (!s->msgs &&
        (s->msgs = dbc_malloc((size_t)2 * DBC_ERRMSG_MAX)) != NULL) {
        s->msgs[0] = s->msgs[DBC_ERRMSG_MAX] = '\0';
        s->errmsg = s->msgs;
        s->abort_msg = s->msgs + DBC_ERRMSG_MAX;
    }
    return s->msgs;
}

static const char NO_ROOM[] = "out of memory (the failure's message was lost)";

int dbc_session_fail(dbconn_session *s, int code) {
    if (s) {
        if (msg_bufs(s))
            (void)snprintf(s->msgs, DBC_ERRMSG_MAX, "%s", dbc_last_msg());
        else
            s->errmsg = NO_ROOM;
        s->native = dbc_last_native();
        memcpy(s->sqlstate, dbc_last_sqlstate(), sizeof s->sqlstate);
    }
    return code;
}

int dbc_session_new(dbconn *db, void *scope_key, dbconn_session **out) {
    *out = NULL;
    dbconn_session *s = dbc_calloc(1, sizeof *s);
    if (!s)
        return dbc_nomem();
    s->db = db;
    dbc_stop_init(&s->stop, db->drv);
    s->errmsg = s->abort_msg = "";
    s->scoped = scope_key != NULL;
    s->scope_key = scope_key;
    dbc_engine_link_session(db, &s->link);
    *out = s;
    return 0;
}

int dbconn_session_open(dbconn *db, dbconn_session **out) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_session_open");
    if (!out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_session_open: out is NULL");
    *out = NULL;
    if (!db)
        return dbc_fail(DBCONN_EINVAL, "dbconn_session_open: db is NULL");
    if (atomic_load(&db->closing))
        return dbc_fail(DBCONN_ECLOSED, "dbconn_session_open: the dbconn is "
                                        "closing");
    return dbc_session_new(db, NULL, out);
}

/* Usable session?  Records the failure on the thread and the session. */
int dbc_session_check(dbconn_session *s, const char *what) {
    DBC_REFUSE_IN_CALLOUT(what);
    if (!s)
        return dbc_fail(DBCONN_EINVAL, "%s: session is NULL", what);
    if (!s->db)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_ECLOSED,
                        "%s: the session is closed (its dbconn was closed)",
                        what));
    if (atomic_load(&s->close_pending))
        return dbc_fail(DBCONN_ECLOSED,
                        "%s: the session was closed inside its own row "
                        "callback; it is freed when dbconn_exec_each returns",
                        what);
    /* Below, a job may be running for s: record on the thread only, never
     * in the session a worker is writing. */
    if (atomic_load(&s->db->closing))
        return dbc_fail(DBCONN_ECLOSED, "%s: the dbconn is closing", what);
    if (s->hooks && s->hooks->busy(s))
        return dbc_fail(DBCONN_EINVAL,
                        "%s: the session has async operations queued or "
                        "running; wait for their callbacks",
                        what);
    return 0;
}

int dbc_session_aborted_error(dbconn_session *s, const char *what) {
    /* Quote the failure that aborted (not the last EABORTED), and keep its
     * native code: it is what the user needs. */
    dbc_fail_native(DBCONN_EABORTED, s->abort_native,
                    "%s: the transaction was aborted by an earlier failure "
                    "(%.700s); call dbconn_rollback",
                    what, s->abort_msg);
    dbc_set_sqlstate(s->abort_sqlstate);
    return dbc_session_fail(s, DBCONN_EABORTED);
}

/* Records the failure (thread message -> session) and aborts the session:
 * later work gets DBCONN_EABORTED until a rollback. */
static int abort_with(dbconn_session *s, int rc) {
    dbc_session_fail(s, rc);
    dbc_session_abort(s);
    return rc;
}

/* ---- row callbacks --------------------------------------------------------
 * While dbconn_exec_each runs, the session's connection and a statement are
 * in use: the row callback may run other statements on the session (they
 * nest), but the transaction must stay open and the connection held until
 * the outermost iteration returns.  So ending the transaction from the
 * callback is refused, a statement that ended it anyway (a failure that
 * rolls back) does not give the connection back under the iteration, and
 * closing the session or its dbconn from the callback takes effect when
 * dbconn_exec_each returns. */

static bool iterating(const dbconn_session *s) {
    return atomic_load_explicit(&s->iterating, memory_order_relaxed) > 0;
}

static int refuse_in_iteration(dbconn_session *s, const char *what,
                               const char *doing) {
    return dbc_session_fail(
        s, dbc_fail(DBCONN_EINVAL,
                    "%s: cannot %s from inside a dbconn_exec_each row "
                    "callback on the same session: the iteration holds the "
                    "transaction open; return non-zero from the callback to "
                    "stop it, then do this after dbconn_exec_each returns",
                    what, doing));
}

/* After a row callback returned: may the iteration go on?  Not when the
 * callback closed the session or its dbconn (DBCONN_ECLOSED), nor when a
 * statement it ran failed and left the transaction aborted (its
 * DBCONN_EABORTED; a savepoint rollback that recovered lets it go on). */
static int iteration_state(dbconn_session *s) {
    if (atomic_load(&s->close_pending) || atomic_load(&s->db->closing))
        return dbc_fail(DBCONN_ECLOSED,
                        "dbconn_exec_each: the %s was closed while the rows "
                        "were read; the iteration stopped",
                        atomic_load(&s->close_pending) ? "session"
                                                       : "dbconn");
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, "dbconn_exec_each");
    return 0;
}

/* The connection waits for locks the way the session does: nonblocking for
 * an async job, busy_timeout_ms otherwise (set before each use). */
static void use_conn(dbconn_session *s) {
    s->db->drv->set_nonblocking(s->pc->conn, s->nonblocking);
}

/* A nonblocking session's lock conflict becomes "try again later". */
static int busy_retry(dbconn_session *s, int rc) {
    if (s->nonblocking && rc == DBCONN_EBUSY &&
        s->db->drv->retryable(dbc_last_native()))
        return DBC_RETRY;
    return rc;
}

/* Gives the connection back and the gate up; the transaction is over. */
void dbc_session_release(dbconn_session *s, bool discard) {
    dbconn *db = s->db;
    if (s->pc && s->pc->conn) /* no cancel may follow the connection */
        dbc_stop_end_all(&s->stop, s->pc->conn);
    /* In an async job the job's completion wakes the loop, which then hands
     * the gate and the connection on: no wake-up per hand-over. */
    if (s->holds_gate) {
        if (s->nonblocking)
            dbc_gate_release_quiet(&db->gate, s);
        else
            dbc_gate_release(&db->gate, s);
        s->holds_gate = false;
    }
    if (s->held) { /* its reset ends the read, and the transaction */
        dbc_stmtcache_put(&s->pc->cache, s->held_entry, s->held);
        s->held = NULL;
        s->held_entry = NULL;
    }
    s->lazy = false;
    if (s->pc) {
        if (s->pc->conn)
            db->drv->set_nonblocking(s->pc->conn, false);
        if (s->nonblocking)
            dbc_pool_checkin_quiet(db->pool, s->pc, discard);
        else
            dbc_pool_checkin(db->pool, s->pc, discard);
        s->pc = NULL;
        if (s->hooks && s->hooks->released)
            s->hooks->released(s);
    }
    s->tx = DBC_TX_IDLE;
    s->wrote = false;
    s->auto_tx = false;
}

static int take_gate(dbconn_session *s) {
    dbconn *db = s->db;
    if (s->holds_gate || !db->drv->serialize_writers)
        return 0;
    if (s->nonblocking) {
        if (dbc_gate_try(&db->gate, s) != 0)
            return DBC_WOULD_BLOCK;
        s->holds_gate = true;
        return 0;
    }
    int rc = dbc_gate_acquire(&db->gate, s, db->cfg.busy_timeout_ms);
    if (rc == 0)
        s->holds_gate = true;
    return rc;
}

/* May the transaction for `sql` begin lazily (dbc_driver.lazy_begin)?  A
 * synchronous session's deferred autobegin for a cached query: the query
 * runs before any BEGIN and keeps its snapshot for the transaction (see
 * run, which checks the statement itself again).  Not with
 * isolation_level AUTOCOMMIT (no BEGIN anyway).  The cache's recent table
 * answers without lexing the SQL; a statement not found there begins as
 * always. */
static bool may_begin_lazily(const dbconn_session *s, const char *sql) {
    const dbconn *db = s->db;
    if (!db->drv->lazy_begin || db->cfg.autocommit || s->nonblocking)
        return false;
    const dbc_centry *e = dbc_stmtcache_peek_recent(&s->pc->cache, sql);
    int mode = s->begin_mode ? s->begin_mode : db->cfg.begin_mode;
    return e && e->keeps_tx && !e->writes && mode == DBCONN_BEGIN_DEFERRED;
}

/* Autobegin: check a connection out and open the transaction.  `sql`: the
 * statement it is for (NULL: none), which may make it begin IMMEDIATE
 * (begin_mode), or -- `lazy`, the synchronous exec path -- begin without
 * BEGIN (may_begin_lazily). */
static int ensure_tx(dbconn_session *s, int mode, const char *sql,
                     bool lazy) {
    if (s->tx == DBC_TX_ACTIVE)
        return 0;
    if (s->tx == DBC_TX_ABORTED)
        return DBCONN_EABORTED;
    int rc = dbc_pool_checkout(s->db->pool, &s->pc);
    if (rc)
        return rc;
    if (lazy && !mode && may_begin_lazily(s, sql)) {
        if (DBC_ECHO(s->db))
            dbc_log_line(&s->db->log, DBCONN_LOG_INFO, "BEGIN (implicit)");
        s->tx = DBC_TX_ACTIVE;
        s->lazy = true;
        return 0;
    }
    rc = dbc_session_begin_held(s, mode, sql);
    if (rc)
        dbc_session_release(s, false);
    return rc;
}

int dbc_session_settle(dbconn_session *s) {
    if (!s->lazy)
        return 0;
    s->lazy = false;
    use_conn(s);
    /* While the held read still stands at its row: the transaction goes on
     * from its snapshot.  Then the read goes back to the cache. */
    int rc = busy_retry(s, s->db->drv->control(
                               s->pc->conn,
                               DBC_CTL_BEGIN + DBCONN_BEGIN_DEFERRED));
    if (s->held) {
        dbc_stmtcache_put(&s->pc->cache, s->held_entry, s->held);
        s->held = NULL;
        s->held_entry = NULL;
    }
    return rc;
}

/* The mode a transaction begins in when none is asked for: the session's,
 * else the engine's; a deferred one whose first statement writes (INSERT,
 * UPDATE, DELETE, REPLACE) begins IMMEDIATE.  That statement would take
 * the write lock at once anyway, and taking the write gate before BEGIN
 * rather than after it (and the statement's preparation) lets a thread
 * that commits and writes again take the gate back before a waiter it
 * woke -- one thread's commits in a row, on one warm connection, as with
 * a mutex around each transaction. */
static int begin_mode(const dbconn_session *s, const char *first_sql) {
    int mode = s->begin_mode ? s->begin_mode : s->db->cfg.begin_mode;
    if (mode == DBCONN_BEGIN_DEFERRED && s->db->drv->serialize_writers &&
        dbc_sql_verb(first_sql) == DBC_VERB_WRITE)
        mode = DBCONN_BEGIN_IMMEDIATE;
    return mode;
}

/* The echo of an autobegin with isolation_level AUTOCOMMIT, in
 * SQLAlchemy's words. */
static const char AUTOCOMMIT_BEGIN[] =
    "BEGIN (implicit; DBAPI should not BEGIN due to autocommit mode)";

int dbc_session_begin_held(dbconn_session *s, int mode,
                           const char *first_sql) {
    dbconn *db = s->db;
    int rc;
    /* Who holds the connection, for pool and gate timeouts (pool.h). */
    dbc_pconn_claim(s->pc, s, s->scope_key);
    if (!mode && db->cfg.autocommit) {
        if (DBC_ECHO(db))
            dbc_log_line(&db->log, DBCONN_LOG_INFO, AUTOCOMMIT_BEGIN);
        use_conn(s);
        if ((rc = db->drv->control(s->pc->conn, DBC_CTL_AUTOCOMMIT)) != 0)
            return rc;
        s->tx = DBC_TX_ACTIVE;
        s->auto_tx = true;
        return 0;
    }
    if (!mode)
        mode = begin_mode(s, first_sql);
    if (mode != DBCONN_BEGIN_DEFERRED && (rc = take_gate(s)) != 0)
        return rc;
    if (DBC_ECHO(db))
        dbc_log_line(&db->log, DBCONN_LOG_INFO,
                     mode == DBCONN_BEGIN_DEFERRED ? "BEGIN (implicit)"
                                                   : db->drv->begin_sql(mode));
    use_conn(s);
    rc = busy_retry(s, db->drv->control(s->pc->conn, DBC_CTL_BEGIN + mode));
    if (rc) {
        if (s->holds_gate) {
            dbc_gate_release(&db->gate, s);
            s->holds_gate = false;
        }
        return rc;
    }
    s->tx = DBC_TX_ACTIVE;
    return 0;
}

void dbc_session_abort(dbconn_session *s) {
    s->tx = DBC_TX_ABORTED;
    if (msg_bufs(s))
        memcpy(s->msgs + DBC_ERRMSG_MAX, s->msgs, DBC_ERRMSG_MAX);
    else
        s->abort_msg = NO_ROOM;
    s->abort_native = s->native;
    memcpy(s->abort_sqlstate, s->sqlstate, sizeof s->abort_sqlstate);
}

/* After a statement: SQL that ended the transaction itself (COMMIT in a
 * script, an automatic rollback) must not leave us holding the connection. */
static void sync_tx(dbconn_session *s) {
    /* An iteration still steps on the connection: the outermost one gives
     * it back when it ends. */
    if (s->pc && !iterating(s) && !s->lazy &&
        !s->db->drv->in_transaction(s->pc->conn))
        dbc_session_release(s, false);
}

typedef struct run_ctx {
    dbconn_result **out;     /* buffered result, or */
    dbconn_row_cb each;      /* streaming */
    void *each_data;
    bool first;              /* stop at the first row (dbconn_exec_first) */
    const void *key;         /* the statement cache's key for the SQL (see
                                dbc_stmtcache_get); NULL: the SQL pointer */
} run_ctx;

/* An empty result named after st's columns; the names are built once per
 * cached statement (and again after a schema change recompiled it).  Call
 * it after the first step: the recompile happens there. */
static int new_result(const dbc_driver *drv, dbc_stmt *st, dbc_centry *entry,
                      unsigned generation, dbconn_result **out) {
    if (entry && dbc_colnames_fresh(entry->colnames, generation))
        return dbc_result_new(entry->colnames, out);
    dbc_colnames *cn;
    int rc = dbc_colnames_new(drv, st, &cn);
    if (rc)
        return rc;
    rc = dbc_result_new(cn, out);
    if (entry) {
        dbc_colnames_free(entry->colnames);
        entry->colnames = cn;
    } else {
        dbc_colnames_free(cn);
    }
    return rc;
}

/* Asked at a cached query's first reuse (statements run only once never
 * pay for the question), and once more after a recompile voided the
 * answer; after that the query steps to its end. */
static void plan_rows(const dbc_driver *drv, dbc_stmt *st, dbc_centry *entry) {
    if (entry->plan != DBC_PLAN_UNKNOWN)
        return;
    if (entry->plan_asks == DBC_PLAN_ASKS) {
        entry->plan = DBC_PLAN_ROWS;
        return;
    }
    entry->plan_asks++;
    entry->plan_gen = drv->generation(st);
    entry->plan = drv->one_row && drv->one_row(st) ? DBC_PLAN_ONE_ROW
                                                   : DBC_PLAN_ROWS;
}

/* Before a run's first step: ask about a cached statement's plan (see
 * plan_rows), and tell the driver when the rows are taken one at a time
 * (dbc_driver.stream). */
static void before_first_step(const dbc_driver *drv, dbc_stmt *st,
                              dbc_centry *entry, bool ask_plan, bool streamed) {
    if (ask_plan && entry)
        plan_rows(drv, st, entry);
    if (streamed && drv->stream)
        drv->stream(st);
}

/* After the first step: may the run stop at its first row?  A recompile
 * there (a new generation) voids the answer; it may be asked again next
 * time (plan_rows). */
static bool one_row(dbc_centry *entry, unsigned generation) {
    if (!entry || entry->plan != DBC_PLAN_ONE_ROW)
        return false;
    if (entry->plan_gen == generation)
        return true;
    entry->plan = DBC_PLAN_UNKNOWN;
    return false;
}

/* After the first step: the (empty) result for the rows, named after the
 * statement's columns.  Returns 1 when the run may stop at its first row
 * (see one_row), 0 when not, or a failure. */
static int start_result(dbconn *db, dbc_stmt *st, dbc_centry *entry,
                        bool echo_rows, dbconn_result **r) {
    unsigned gen = db->drv->generation(st);
    int rc = new_result(db->drv, st, entry, gen, r);
    if (rc)
        return rc;
    if (echo_rows && dbconn_result_ncols(*r))
        dbc_echo_cols(db, *r);
    return one_row(entry, gen);
}

/* Logs the statement and its parameters; true when rows are logged too. */
static bool echo_statement(dbconn *db, const char *sql, int hit, double age,
                           const dbconn_value *params, size_t nparams) {
    dbc_log_line(&db->log, DBCONN_LOG_INFO, sql);
    dbc_echo_params(db, hit, age, params, nparams);
    return db->cfg.echo > 1;
}

/* Counts belong to statements that changed rows; a SELECT or DDL would
 * only repeat the connection's numbers from someone's earlier work. */
static void set_counts(const dbc_driver *drv, dbc_conn *conn, dbconn_result *r,
                       int64_t total_before) {
    if (drv->total_changes(conn) != total_before)
        dbc_result_set_counts(r, drv->changes(conn), drv->last_insert_id(conn));
}

/* One row of a run: into the result, or handed to the row callback.
 * Returns 0 to go on, 1 when the callback has seen enough, or a failure
 * (also when the callback closed the session or aborted it). */
static inline int take_row(dbconn_session *s, const run_ctx *ctx,
                           dbconn_result *r, dbc_stmt *st, bool echo_rows) {
    dbconn *db = s->db;
    if (ctx->each)
        dbc_result_clear_rows(r);
    int rc = dbc_result_add_row(r, db->drv, st);
    if (rc)
        return rc;
    if (echo_rows)
        dbc_echo_row(db, r, dbconn_result_nrows(r) - 1);
    if (!ctx->each)
        return 0;
    bool enough = ctx->each(ctx->each_data, r) != 0;
    if ((rc = iteration_state(s)) != 0)
        return rc;
    return enough;
}

/* The statement for sql, from the cache (or prepared); *age (when age)
 * for echo.  count: the lookup is reported to the cache statistics (not
 * when it takes back a statement already counted at its sending). */
static inline int run_lookup(dbconn_session *s, const char *sql,
                             const void *key, dbc_run *rs, double *age,
                             bool count) {
    dbc_pconn *pc = s->pc;
    int rc;
    rs->st = NULL;
    rs->hit = 1;
    rs->total = 0;
    /* The second statement of a lazily begun transaction: BEGIN first (the
     * held read may be this very SQL's cached statement). */
    if (s->held && (rc = dbc_session_settle(s)) != 0)
        return rc;
    /* echo wants the statement's age: the full lookup reports it. */
    if ((age ||
         !(rs->entry = dbc_stmtcache_take_recent(&pc->cache, key, sql,
                                                 &rs->st))) &&
        (rc = dbc_stmtcache_get(&pc->cache, pc->conn, key, sql, &rs->st,
                                &rs->entry, &rs->hit, age)) != 0)
        return rc; /* preparing may read the schema */
    if (count && pc->cache.capacity)
        dbc_pconn_count_cache(pc, rs->hit);
    dbc_pconn_note_sql(pc, sql, rs->entry ? rs->entry->hash : 0);
    rs->writes =
        rs->entry ? rs->entry->writes : !s->db->drv->readonly(rs->st);
    return 0;
}

/* The first half of a statement: the statement from the cache (or
 * prepared), the write gate, the parameters bound, the echo -- up to its
 * first step.  On failure the statement is back in the cache. */
static inline int run_bind(dbconn_session *s, const char *sql,
                           const dbconn_value *params, size_t nparams,
                           const void *key, dbc_run *rs) {
    dbconn *db = s->db;
    const dbc_driver *drv = db->drv;
    dbc_pconn *pc = s->pc;
    int rc;
    double age = 0;
    bool echo = DBC_ECHO(db);
    use_conn(s);
    if ((rc = run_lookup(s, sql, key, rs, echo ? &age : NULL, true)) != 0)
        return rc;
    /* Only a cached read may run before BEGIN (see run). */
    if ((s->lazy && (rs->writes || !rs->entry) &&
         (rc = dbc_session_settle(s)) != 0) ||
        (rs->writes && (rc = take_gate(s)) != 0) ||
        (rc = drv->bind(rs->st, params, nparams)) != 0) {
        rs->check_tx = true;
        dbc_stmtcache_put(&pc->cache, rs->entry, rs->st);
        return rc;
    }
    s->wrote |= rs->writes;
    rs->echo_rows = echo && echo_statement(db, sql, rs->hit, age, params,
                                           nparams);
    return 0;
}

/* The second half, from the outcome of the first step (rc): the result,
 * the rows, the counts; the statement goes back to the cache. */
static inline int run_rows(dbconn_session *s, const run_ctx *ctx,
                           dbc_run *rs, int rc) {
    dbconn *db = s->db;
    const dbc_driver *drv = db->drv;
    dbc_pconn *pc = s->pc;
    dbc_stmt *st = rs->st;
    dbconn_result *r = NULL;
    bool writes = rs->writes, want_rows = ctx->out || ctx->each;
    if (rc < 0)
        goto done;
    bool stop_at_first = ctx->first;
    if (want_rows) {
        int nrc = start_result(db, st, rs->entry, rs->echo_rows, &r);
        if (nrc < 0) {
            rc = nrc;
            goto done;
        }
        /* A lookup by key: its one row is all there is (what stepping on
         * to the end would only confirm). */
        stop_at_first |= !writes && nrc == 1;
    }
    /* A lazily begun transaction's read that would step on to its end
     * (and end its snapshot there): BEGIN now, while it stands at a row. */
    if (s->lazy && rc == DBC_STEP_ROW && !stop_at_first) {
        int src = dbc_session_settle(s);
        if (src) {
            rc = src;
            goto done;
        }
    }
    for (; rc == DBC_STEP_ROW; rc = drv->step(st)) {
        if (want_rows) {
            int took = take_row(s, ctx, r, st, rs->echo_rows);
            if (took < 0) {
                rc = took;
                goto done;
            }
            if (took)
                break; /* the callback has seen enough: reset discards
                          the rest */
        }
        if (stop_at_first) {
            /* SQLite applied a write's every change before its first row
             * (RETURNING); ending it now sets the counts and reports what
             * the statement's end checks.  A read just stops here. */
            if (writes && (rc = drv->finish(st)) != 0)
                goto done;
            break;
        }
    }
    if (rc < 0)
        goto done;
    rc = 0;
    if (r && writes)
        set_counts(drv, pc->conn, r, rs->total);
done:
    rs->check_tx = !(rs->entry && rs->entry->keeps_tx);
    if (s->lazy && rc == 0) {
        /* Stopped at its row before any BEGIN: kept as it is, its snapshot
         * is the transaction's (see dbc_session_settle). */
        s->held = st;
        s->held_entry = rs->entry;
    } else {
        dbc_stmtcache_put(&pc->cache, rs->entry, st);
    }
    if (rc == 0 && ctx->out) {
        *ctx->out = r;
        r = NULL;
    }
    dbconn_result_free(r);
    return busy_retry(s, rc);
}

/* *check_tx: false when the statement, having succeeded, cannot have
 * ended the transaction (a cached query or write: see dbc_centry.keeps_tx),
 * so the caller need not ask the connection. */
static int run(dbconn_session *s, const char *sql, const dbconn_value *params,
               size_t nparams, const run_ctx *ctx, bool *check_tx) {
    const dbc_driver *drv = s->db->drv;
    dbc_conn *conn = s->pc->conn;
    dbc_run rs;
    *check_tx = true;
    /* A run dbconn_cancel and the statement timeout can stop (stop.c). */
    int rc = dbc_stop_start(&s->stop, conn, s->db->cfg.statement_timeout_ms);
    if (rc)
        return rc;
    rc = run_bind(s, sql, params, nparams, ctx->key ? ctx->key : sql, &rs);
    if (rc) {
        rc = busy_retry(s, rc);
        goto out;
    }
    bool want_rows = ctx->out || ctx->each;
    if (rs.writes && ctx->out)
        rs.total = drv->total_changes(conn);
    before_first_step(drv, rs.st, rs.entry, !rs.writes && want_rows && rs.hit,
                      ctx->each != NULL);
    /* A lazily begun transaction's first statement runs before BEGIN only
     * when it will stop at its row (run_rows keeps it there): a lookup by
     * key, or dbconn_exec_first; not a row iteration (its callback may run
     * anything). */
    if (s->lazy &&
        (ctx->each || !rs.entry->keeps_tx ||
         !(ctx->first || rs.entry->plan == DBC_PLAN_ONE_ROW)) &&
        (rc = dbc_session_settle(s)) != 0) {
        dbc_stmtcache_put(&s->pc->cache, rs.entry, rs.st);
        goto out;
    }
    int first = drv->step(rs.st);
    if (s->lazy && first == DBC_STEP_DONE) {
        /* No row: the read ended, its snapshot with it.  BEGIN, and read
         * again inside the transaction. */
        drv->reset(rs.st);
        if ((rc = dbc_session_settle(s)) != 0) {
            dbc_stmtcache_put(&s->pc->cache, rs.entry, rs.st);
            goto out;
        }
        first = drv->step(rs.st);
    }
    rc = run_rows(s, ctx, &rs, first);
    *check_tx = rs.check_tx;
out:
    rc = dbc_stop_code(&s->stop, conn, rc);
    dbc_stop_end(&s->stop, conn);
    return rc;
}

int dbc_session_run_bind(dbconn_session *s, const void *key, const char *sql,
                         const dbconn_value *params, size_t nparams,
                         dbc_run *rs) {
    int rc = dbc_session_settle(s); /* the caller steps: no lazy read */
    if (rc) {
        rs->check_tx = true;
        return rc;
    }
    return run_bind(s, sql, params, nparams, key, rs);
}

int dbc_session_run_take(dbconn_session *s, const void *key, const char *sql,
                         dbc_run *rs) {
    int rc = dbc_session_settle(s);
    if (rc)
        return rc;
    /* the loop policy's second half: its sending counted the lookup */
    rc = run_lookup(s, sql, key, rs, NULL, false);
    rs->echo_rows = DBC_ECHO(s->db) && s->db->cfg.echo > 1;
    return rc;
}

int dbc_session_run_rows(dbconn_session *s, dbc_run *rs, int first,
                         dbconn_result **out) {
    if (out)
        *out = NULL;
    run_ctx ctx = {.out = out};
    return run_rows(s, &ctx, rs, first);
}

int dbc_session_exec_held(dbconn_session *s, const void *key,
                          const char *sql, const dbconn_value *params,
                          size_t nparams, dbconn_result **out,
                          const char *what) {
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, what);
    run_ctx ctx = {.out = out, .key = key};
    bool check_tx = true;
    int rc = run(s, sql, params, nparams, &ctx, &check_tx);
    if (rc == DBC_WOULD_BLOCK || rc == DBC_RETRY)
        return rc; /* nothing happened: run it again later */
    if (rc)
        return abort_with(s, rc);
    if (check_tx || s->auto_tx)
        sync_tx(s);
    return 0;
}

/* Kept out of line: the exec fast path stays small (fewer registers to
 * save on every statement). */
#if defined(__GNUC__) || defined(__clang__)
#  define SLOW_PATH __attribute__((noinline, cold))
#else
#  define SLOW_PATH
#endif

/* Autobegin for an idle session that passed exec_common's checks (the
 * start of every autocommit-style statement): out of line, so the exec
 * path inside a transaction stays small. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int autobegin(dbconn_session *s, const char *sql) {
    int rc = ensure_tx(s, 0, sql, true);
    return rc ? dbc_session_fail(s, rc) : 0;
}

/* Every check of an exec, in order, each failure with its message; then
 * autobegin. */
SLOW_PATH static int exec_ready(dbconn_session *s, const char *sql,
                                const dbconn_value *params, size_t nparams,
                                const char *what) {
    int rc;
    if ((rc = dbc_session_check(s, what)) != 0)
        return rc;
    if (!sql)
        return dbc_session_fail(s, dbc_fail(DBCONN_EINVAL, "%s: sql is NULL",
                                            what));
    if (nparams && !params)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL, "%s: params is NULL but nparams is %zu",
                        what, nparams));
    if (iterating(s) && dbc_sql_verb(sql) == DBC_VERB_TXN)
        return refuse_in_iteration(s, what, "run transaction control");
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, what);
    if ((rc = ensure_tx(s, 0, sql, true)) != 0)
        return dbc_session_fail(s, rc);
    return 0;
}

/* `each`: ctx->each is set (a constant in each caller, so the plain exec
 * path carries none of the iteration's bookkeeping). */
static inline int exec_common(dbconn_session *s, const char *sql,
                              const dbconn_value *params, size_t nparams,
                              const run_ctx *ctx, const char *what,
                              bool each) {
    int rc;
    if (!s)
        return dbc_fail(DBCONN_EINVAL, "%s: session is NULL", what);
    /* The common case -- an open session with no async state, inside its
     * transaction, valid arguments -- passes every check of exec_ready at
     * the cost of these loads; anything else takes the full path. */
    if (!(s->db && !s->async && s->tx != DBC_TX_ABORTED && sql &&
          (params || !nparams) && !iterating(s) && !dbc_in_callout() &&
          !atomic_load(&s->db->closing))) {
        if ((rc = exec_ready(s, sql, params, nparams, what)) != 0)
            return rc;
    } else if (s->tx == DBC_TX_IDLE && (rc = autobegin(s, sql)) != 0) {
        return rc; /* the checks passed: only the autobegin was due */
    }
    bool check_tx = true;
    /* A row iteration from here to its end (counted around run, so the
     * statement's own end of transaction below is seen). */
    if (each)
        atomic_fetch_add_explicit(&s->iterating, 1, memory_order_relaxed);
    rc = run(s, sql, params, nparams, ctx, &check_tx);
    if (each)
        atomic_fetch_sub_explicit(&s->iterating, 1, memory_order_relaxed);
    if (each && rc == DBCONN_EABORTED)
        return rc; /* a row callback's failure: already recorded */
    if (rc)
        return abort_with(s, rc);
    if (check_tx || s->auto_tx)
        sync_tx(s);
    return 0;
}

int dbconn_exec(dbconn_session *s, const char *sql, const dbconn_value *params,
                size_t nparams, dbconn_result **out) {
    if (out)
        *out = NULL;
    run_ctx ctx = {.out = out};
    return exec_common(s, sql, params, nparams, &ctx, "dbconn_exec", false);
}

int dbconn_exec_first(dbconn_session *s, const char *sql,
                      const dbconn_value *params, size_t nparams,
                      dbconn_result **out) {
    if (out)
        *out = NULL;
    run_ctx ctx = {.out = out, .first = true};
    return exec_common(s, sql, params, nparams, &ctx, "dbconn_exec_first",
                       false);
}

/* The end of an iteration: what the row callback closed is closed now
 * (the session freed, the dbconn's close finished) and DBCONN_ECLOSED says
 * so; otherwise the iteration's own result. */
static int end_each(dbconn_session *s, dbconn *db, int rc) {
    bool closed = atomic_load(&s->close_pending) && !iterating(s);
    const char *what = "session";
    if (closed)
        dbc_session_free(s);
    if (dbc_engine_iteration_end(db)) { /* s may be gone with db now */
        what = closed ? "session and its dbconn" : "dbconn";
        closed = true;
    }
    if (!closed)
        return rc;
    return dbc_fail(DBCONN_ECLOSED,
                    "dbconn_exec_each: the %s closed by the row callback %s "
                    "closed now that the iteration returned",
                    what, strcmp(what, "session") == 0 ? "is" : "are");
}

int dbconn_exec_each(dbconn_session *s, const char *sql,
                     const dbconn_value *params, size_t nparams,
                     dbconn_row_cb cb, void *data) {
    if (!cb)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL, "dbconn_exec_each: cb is NULL"));
    run_ctx ctx = {.each = cb, .each_data = data};
    dbconn *db = s && !dbc_in_callout() && !atomic_load(&s->close_pending)
                     ? s->db
                     : NULL;
    if (!db) /* no iteration will start: exec_common says why */
        return exec_common(s, sql, params, nparams, &ctx, "dbconn_exec_each",
                           true);
    dbc_engine_iteration_begin(db);
    int rc = exec_common(s, sql, params, nparams, &ctx, "dbconn_exec_each",
                         true);
    return end_each(s, db, rc);
}

/* The session owns its transaction: a script's COMMIT would commit the
 * session's earlier work behind its back and run the rest in autocommit
 * (a later rollback then loses nothing).  So transaction control anywhere
 * in the script is refused before any of it runs. */
static int check_script(dbconn_session *s, const char *sql) {
    dbc_sql_stmt st = {0};
    while (dbc_sql_next_stmt(sql, &st)) {
        if (dbc_sql_verb(st.start) != DBC_VERB_TXN)
            continue;
        char head[64], shown[256];
        size_t n = st.len < sizeof head - 1 ? st.len : sizeof head - 1;
        memcpy(head, st.start, n);
        head[n] = '\0';
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL,
                        "dbconn_exec_script: statement %zu of the script is "
                        "transaction control (\"%s\"); the session manages "
                        "its transaction: use dbconn_commit, dbconn_rollback "
                        "or the dbconn_savepoint calls instead.  Nothing of "
                        "the script was run",
                        st.index, dbc_show(head, shown, sizeof shown)));
    }
    return 0;
}

int dbconn_exec_script(dbconn_session *s, const char *sql) {
    int rc = dbc_session_check(s, "dbconn_exec_script");
    if (rc)
        return rc;
    if (!sql)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL, "dbconn_exec_script: sql is NULL"));
    if ((rc = check_script(s, sql)) != 0)
        return rc;
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, "dbconn_exec_script");
    if ((rc = ensure_tx(s, 0, NULL, false)) != 0)
        return dbc_session_fail(s, rc);
    if ((rc = dbc_session_settle(s)) != 0 ||
        (rc = take_gate(s)) != 0) /* scripts may write: the gate first */
        return abort_with(s, rc);
    if (DBC_ECHO(s->db))
        dbc_log_line(&s->db->log, DBCONN_LOG_INFO, sql);
    dbc_pconn_note_sql(s->pc, sql, 0);
    dbc_conn *conn = s->pc->conn;
    if ((rc = dbc_stop_start(&s->stop, conn,
                             s->db->cfg.statement_timeout_ms)) == 0) {
        rc = dbc_stop_code(&s->stop, conn,
                           s->db->drv->exec_script(conn, sql));
        dbc_stop_end(&s->stop, conn);
    }
    if (rc) {
        abort_with(s, rc);
        sync_tx(s);
        return rc;
    }
    sync_tx(s);
    return 0;
}

int dbconn_begin(dbconn_session *s, int mode) {
    int rc = dbc_session_check(s, "dbconn_begin");
    if (rc)
        return rc;
    if (iterating(s))
        return refuse_in_iteration(s, "dbconn_begin", "begin a transaction");
    if (mode < DBCONN_BEGIN_DEFAULT || mode > DBCONN_BEGIN_EXCLUSIVE)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL, "dbconn_begin: unknown mode %d", mode));
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, "dbconn_begin");
    if (s->tx != DBC_TX_IDLE)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL,
                        "dbconn_begin: a transaction is already open on this "
                        "session"));
    /* An explicit transaction, also with isolation_level AUTOCOMMIT. */
    if (!mode)
        mode = s->begin_mode ? s->begin_mode : s->db->cfg.begin_mode;
    rc = ensure_tx(s, mode, NULL, false);
    return rc ? dbc_session_fail(s, rc) : 0;
}

/* Commits the transaction s holds. */
static int commit_held(dbconn_session *s) {
    dbconn *db = s->db;
    if (DBC_ECHO(db))
        dbc_log_line(&db->log, DBCONN_LOG_INFO, "COMMIT");
    if (s->lazy) { /* only a read ran, before any BEGIN: its reset ends it */
        dbc_session_release(s, false);
        return 0;
    }
    use_conn(s);
    int rc = busy_retry(s, db->drv->control(s->pc->conn, DBC_CTL_COMMIT));
    if (rc == DBC_RETRY)
        return rc; /* still open; committing again later may succeed */
    if (rc) {
        /* Still open (e.g. busy): only a rollback ends it now. */
        abort_with(s, rc);
        sync_tx(s);
        return rc;
    }
    dbc_session_release(s, false);
    return 0;
}

/* Rolls back on the connection s holds and gives it back. */
static int rollback_held(dbconn_session *s) {
    dbconn *db = s->db;
    int rc = 0;
    if (DBC_ECHO(db))
        dbc_log_line(&db->log, DBCONN_LOG_INFO, "ROLLBACK");
    /* An async session may hold a slot it has not connected yet (the job
     * connects it): nothing to roll back there. */
    if (s->pc->conn && !s->lazy && db->drv->in_transaction(s->pc->conn))
        rc = db->drv->control(s->pc->conn, DBC_CTL_ROLLBACK);
    /* A connection that cannot roll back is not given to anyone else. */
    dbc_session_release(s, rc != 0);
    return rc ? dbc_session_fail(s, rc) : 0;
}

int dbc_session_commit_tx(dbconn_session *s, const char *what) {
    if (s->tx == DBC_TX_IDLE)
        return 0;
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, what);
    return commit_held(s);
}

int dbc_session_rollback_tx(dbconn_session *s) {
    if (s->tx == DBC_TX_IDLE && !s->pc)
        return 0;
    if (!s->pc) { /* aborted before a transaction began (async pipeline) */
        s->tx = DBC_TX_IDLE;
        return 0;
    }
    return rollback_held(s);
}

bool dbc_session_cheap_end(const dbconn_session *s) {
    return s->pc && s->pc->conn && !s->wrote && !s->holds_gate &&
           s->db->drv->cheap_read_end;
}

int dbconn_commit(dbconn_session *s) {
    /* The common case: an open transaction of a session with no async
     * state, outside any iteration (what dbc_session_check and the checks
     * below would pass). */
    if (s && s->db && !s->async && s->tx == DBC_TX_ACTIVE && !iterating(s) &&
        !dbc_in_callout() && !atomic_load(&s->db->closing))
        return commit_held(s);
    int rc = dbc_session_check(s, "dbconn_commit");
    if (rc)
        return rc;
    if (iterating(s))
        return refuse_in_iteration(s, "dbconn_commit", "commit");
    return dbc_session_commit_tx(s, "dbconn_commit");
}

int dbconn_rollback(dbconn_session *s) {
    int rc = dbc_session_check(s, "dbconn_rollback");
    if (rc)
        return rc;
    if (iterating(s))
        return refuse_in_iteration(s, "dbconn_rollback", "roll back");
    return dbc_session_rollback_tx(s);
}

bool dbconn_in_transaction(const dbconn_session *s) {
    /* An async pipeline aborted before it got a connection has no
     * transaction (it still needs a rollback to clear the aborted state). */
    return s && s->db && s->tx != DBC_TX_IDLE && s->pc;
}

/* Reads only s->stop (not s->db, which a close on another thread may be
 * changing): see stop.c. */
int dbconn_cancel(dbconn_session *s) {
    if (!s)
        return dbc_fail(DBCONN_EINVAL, "dbconn_cancel: session is NULL");
    dbc_stop_cancel(&s->stop);
    return 0;
}

int dbconn_session_set_statement_timeout(dbconn_session *s, int ms) {
    if (!s)
        return dbc_fail(DBCONN_EINVAL, "dbconn_session_set_statement_timeout: "
                                       "session is NULL");
    int rc = dbc_stop_set_timeout(&s->stop, ms);
    return rc ? dbc_session_fail(s, rc) : 0;
}

const char *dbconn_session_errmsg(const dbconn_session *s) {
    return s ? s->errmsg : "session is NULL";
}

int dbconn_session_db_errcode(const dbconn_session *s) {
    return s ? s->native : 0;
}

const char *dbconn_session_sqlstate(const dbconn_session *s) {
    return s ? s->sqlstate : "";
}

dbconn *dbconn_session_db(const dbconn_session *s) { return s ? s->db : NULL; }

int dbc_session_detach(dbconn_session *s) {
    int rc = 0;
    if (!s->db)
        return 0;
    if (s->pc)
        rc = rollback_held(s);
    else if (s->holds_gate) /* a job that lost its connection */
        dbc_session_release(s, false);
    s->tx = DBC_TX_IDLE;
    if (s->hooks)
        s->hooks->detach(s);
    dbc_engine_unlink_session(s->db, &s->link);
    s->db = NULL;
    return rc;
}

int dbc_session_detach_all(dbconn *db) {
    int first = 0;
    dbc_list *n;
    while ((n = dbc_engine_first_session(db)) != NULL) {
        int rc = dbc_session_detach(DBC_LIST_ENTRY(n, dbconn_session, link));
        if (rc && !first)
            first = rc;
    }
    return first;
}

void dbc_session_free(dbconn_session *s) {
    if (!s)
        return;
    if (iterating(s)) { /* its own row callback closed it: see end_each */
        atomic_store(&s->close_pending, true);
        return;
    }
    if (s->db && s->hooks && s->hooks->closing(s))
        return; /* the async layer frees it when its running work ends */
    dbc_session_detach(s);
    dbc_free(s->msgs);
    dbc_free(s);
}

void dbconn_session_close(dbconn_session *s) {
    if (!s)
        return;
    if (dbc_in_callout()) {
        (void)dbc_callout_refuse("dbconn_session_close");
        return;
    }
    if (s->close_hook && s->db) {
        s->close_hook(s); /* its owner's: the registry forgets it */
        return;
    }
    dbc_session_free(s);
}

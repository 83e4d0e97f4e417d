/* The top: dbconn_open and dbconn_close compose the layers below -- the
 * engine, the scoped registry, the sessions, the async layer and the
 * bases -- and nothing below calls back here except through the hooks
 * installed at open (docs/architecture.md). */
#include <stdio.h>
#include <string.h>

#include "async/close.h"
#include "async/state.h"
#include "engine/engine.h"
#include "result/result.h"
#include "scope/scope.h"
#include "scope/task.h"
#include "session/session.h"
#include "util/alloc.h"
#include "util/callout.h"

/* Everything a dbconn owns, once no work of the async layer is left:
 * scoped sessions (rolled back, counted in a warning), factory-made ones
 * (made closed), the registry, the engine. */
static int teardown(dbconn *db, int first) {
    size_t n = dbc_scope_close_all(db->scope);
    if (n)
        dbc_log_printf(&db->log, DBCONN_LOG_WARN,
                       "dbconn_close: closed %zu scoped session%s still open "
                       "(uncommitted work rolled back)",
                       n, n == 1 ? "" : "s");
    int rc = dbc_session_detach_all(db);
    if (rc && !first)
        first = rc;
    dbc_scope_free(db->scope);
    dbc_engine_free(db);
    dbc_result_spare_release();
    return first;
}

/* A close once no row iteration stops it (the bases are unbound): with
 * async state the async layer finishes it in later loop turns. */
static int finish_close(dbconn *db, int first, bool async, dbconn_done_cb cb,
                        void *data) {
    if (async) {
        (void)dbc_async_close(db, first, cb, data);
        return 0;
    }
    if (db->async)
        return dbc_async_close(db, first, NULL, NULL);
    return teardown(db, first);
}

static const dbc_engine_hooks hooks = {
    .finish_close = finish_close,
    .teardown = teardown,
};

int dbconn_open(dbconn **out, const char *url, const dbconn_options *opts) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_open");
    if (!out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_open: out is NULL");
    if (!url)
        return dbc_fail(DBCONN_EINVAL, "dbconn_open: url is NULL");
    dbconn *db = NULL;
    int rc = dbc_engine_open(&db, url, opts, &hooks);
    if (rc)
        return rc;
    dbc_result_spare_hold(); /* results are kept for reuse while it lives */
    if ((rc = dbc_scope_new(&db->scope, db)) != 0) {
        dbc_engine_free(db);
        dbc_result_spare_release();
        return rc;
    }
    /* Holder reports name a thread's key as the thread. */
    dbc_pool_set_key_namer(db->pool, dbc_scope_key_name);
    *out = db;
    return 0;
}

int dbconn_close(dbconn *db, dbconn_base *base) {
    if (!db)
        return 0;
    DBC_REFUSE_IN_CALLOUT("dbconn_close");
    int first = 0;
    if (base && !dbc_engine_has_base(db, base))
        first = dbc_fail(DBCONN_EINVAL,
                         "dbconn_close: the base given is not bound to this "
                         "dbconn; it was left untouched");
    atomic_store(&db->closing, true);
    dbc_engine_unbind_all(db);
    if (dbc_engine_defer_close(db, first, false, NULL, NULL))
        return first;
    return finish_close(db, first, false, NULL, NULL);
}

int dbconn_pool_stats(const dbconn *db, dbconn_stats *st) {
    DBC_REFUSE_IN_CALLOUT("dbconn_pool_stats");
    if (!db || !st)
        return dbc_fail(DBCONN_EINVAL, "dbconn_pool_stats: NULL argument");
    memset(st, 0, sizeof *st);
    dbconn *m = (dbconn *)db; /* locks inside are not part of the value */
    dbc_pool_stats(m->pool, st);
    st->busy_handler_calls = db->drv->busy_calls(db->target);
    st->gate_waits = dbc_gate_waits(&m->gate);
    dbc_async_stats(m, st);
    return 0;
}

int dbconn_pool_holders(const dbconn *db, dbconn_holder *out, size_t cap,
                        size_t *n) {
    DBC_REFUSE_IN_CALLOUT("dbconn_pool_holders");
    if (n)
        *n = 0;
    if (!db || !n || (!out && cap))
        return dbc_fail(DBCONN_EINVAL, "dbconn_pool_holders: %s is NULL",
                        !db ? "db" : !n ? "n" : "out (with cap > 0)");
    dbconn *m = (dbconn *)db; /* locks inside are not part of the value */
    enum { CHUNK = 16 };
    dbc_holding h[CHUNK];
    dbc_holding *all = cap > CHUNK ? dbc_calloc(cap, sizeof *all) : h;
    if (!all)
        return dbc_nomem();
    size_t total = dbc_pool_holdings(m->pool, all, cap);
    size_t k = total < cap ? total : cap;
    for (size_t i = 0; i < k; i++) {
        dbconn_holder *o = &out[i];
        memset(o, 0, sizeof *o);
        o->session = all[i].holder;
        o->task = all[i].task;
        o->held_ms = all[i].held_ns / 1000000u;
        o->holds_gate = all[i].gate;
        o->gate_held_ms = all[i].gate_ns / 1000000u;
        (void)snprintf(o->sql, sizeof o->sql, "%s", all[i].sql);
    }
    if (all != h)
        dbc_free(all);
    *n = total;
    return 0;
}

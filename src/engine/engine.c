/* dbconn_open / dbconn_close: URL + options -> driver, pool, registry; and
 * the teardown that never loses committed data. */
#include <string.h>

#include "util/alloc.h"
#include "util/callout.h"
#include "model/base.h"
#include "async/async.h"
#include "engine/engine.h"
#include "driver/registry.h"
#include "result/result.h"
#include "session/session.h"
#include "url/url.h"

static void destroy(dbconn *db) {
    dbc_scope_free(db->scope);
    if (db->pool) {
        dbc_pool_free(db->pool);
        dbc_result_spare_release();
    }
    if (db->target)
        db->drv->target_close(db->target);
    dbc_gate_destroy(&db->gate);
    dbc_log_destroy(&db->log);
    uv_mutex_destroy(&db->lock);
    dbc_free(db->bases);
    dbc_free(db->url_masked);
    dbconn_url_free(db->url);
    dbc_free(db);
}

/* Checks one connection out and back, so a bad path or a locked file fails
 * in dbconn_open rather than at the first statement. */
static int probe(dbconn *db) {
    dbc_pconn *pc;
    int rc = dbc_pool_checkout(db->pool, &pc);
    if (rc == 0)
        dbc_pool_checkin(db->pool, pc, false);
    return rc;
}

static int open_parts(dbconn *db, const dbconn_options *opts) {
    dbc_qparam *rest = NULL;
    size_t nrest = 0;
    int rc = dbc_driver_find(db->url, &db->drv);
    if (rc)
        return rc;
    if ((rc = dbc_config_resolve(&db->cfg, opts, db->url, &rest, &nrest)))
        return rc;
    rc = db->drv->target_open(&db->target, db->url, &db->cfg, rest, nrest);
    dbc_free(rest);
    if (rc)
        return rc;
    if ((rc = dbc_pool_new(&db->pool, db->drv, db->target, &db->cfg)))
        return rc;
    dbc_result_spare_hold(); /* results are kept for reuse while it lives */
    if ((rc = dbc_scope_new(&db->scope, db)))
        return rc;
    return probe(db);
}

int dbconn_open(dbconn **out, const char *url, const dbconn_options *opts) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_open");
    if (!out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_open: out is NULL");
    if (!url)
        return dbc_fail(DBCONN_EINVAL, "dbconn_open: url is NULL");
    dbconn *db = dbc_calloc(1, sizeof *db);
    if (!db)
        return dbc_nomem();
    if (uv_mutex_init(&db->lock)) {
        dbc_free(db);
        return dbc_nomem();
    }
    if (dbc_gate_init(&db->gate)) {
        uv_mutex_destroy(&db->lock);
        dbc_free(db);
        return dbc_nomem();
    }
    if (dbc_log_init(&db->log, opts ? opts->log : NULL,
                     opts ? opts->log_data : NULL)) {
        dbc_gate_destroy(&db->gate);
        uv_mutex_destroy(&db->lock);
        dbc_free(db);
        return dbc_nomem();
    }
    int rc = dbconn_url_parse(&db->url, url);
    if (!rc && !(db->url_masked = dbc_url_masked(db->url)))
        rc = dbc_nomem();
    if (!rc)
        rc = open_parts(db, opts);
    if (rc) {
        /* The message already names the problem; keep it. */
        destroy(db);
        return rc;
    }
    *out = db;
    return 0;
}

/* ---- bookkeeping the other modules use --------------------------------- */

int dbc_engine_add_base(dbconn *db, dbconn_base *b) {
    uv_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->nbases; i++) {
        if (db->bases[i] == b) {
            uv_mutex_unlock(&db->lock);
            return 0;
        }
    }
    if (db->nbases == db->capbases) {
        size_t cap = db->capbases ? db->capbases * 2 : 4;
        dbconn_base **n = dbc_realloc(db->bases, cap * sizeof *n);
        if (!n) {
            uv_mutex_unlock(&db->lock);
            return dbc_nomem();
        }
        db->bases = n;
        db->capbases = cap;
    }
    db->bases[db->nbases++] = b;
    uv_mutex_unlock(&db->lock);
    return 0;
}

void dbc_engine_remove_base(dbconn *db, dbconn_base *b) {
    uv_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->nbases; i++) {
        if (db->bases[i] == b) {
            db->bases[i] = db->bases[--db->nbases];
            break;
        }
    }
    uv_mutex_unlock(&db->lock);
}

void dbc_engine_link_session(dbconn *db, dbconn_session *s) {
    uv_mutex_lock(&db->lock);
    s->prev = NULL;
    s->next = db->sessions;
    if (db->sessions)
        db->sessions->prev = s;
    db->sessions = s;
    uv_mutex_unlock(&db->lock);
}

void dbc_engine_unlink_session(dbconn *db, dbconn_session *s) {
    uv_mutex_lock(&db->lock);
    if (s->prev)
        s->prev->next = s->next;
    else if (db->sessions == s)
        db->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    uv_mutex_unlock(&db->lock);
}

/* ---- close ------------------------------------------------------------- */

static void unbind_bases(dbconn *db) {
    for (;;) {
        uv_mutex_lock(&db->lock);
        dbconn_base *b = db->nbases ? db->bases[--db->nbases] : NULL;
        uv_mutex_unlock(&db->lock);
        if (!b)
            return;
        dbc_base_unbind(b, db);
    }
}

/* Factory-made sessions become closed; their owners still free them. */
static int detach_sessions(dbconn *db) {
    int first = 0;
    for (;;) {
        uv_mutex_lock(&db->lock);
        dbconn_session *s = db->sessions;
        uv_mutex_unlock(&db->lock);
        if (!s)
            return first;
        int rc = dbc_session_detach(s); /* unlinks s */
        if (rc && !first)
            first = rc;
    }
}

int dbc_engine_teardown(dbconn *db, int first) {
    size_t n = dbc_scope_close_all(db->scope);
    if (n)
        dbc_log_printf(&db->log, DBCONN_LOG_WARN,
                       "dbconn_close: closed %zu scoped session%s still open "
                       "(uncommitted work rolled back)",
                       n, n == 1 ? "" : "s");
    int rc = detach_sessions(db);
    if (rc && !first)
        first = rc;
    destroy(db);
    return first;
}

/* What dbconn_close / dbconn_close_async do once no row iteration runs
 * (the bases are unbound already). */
static int finish_close(dbconn *db, int first, bool async, dbconn_done_cb cb,
                        void *data) {
    if (async) {
        (void)dbc_async_close(db, first, cb, data);
        return 0;
    }
    if (db->async) /* finishes in later loop turns */
        return dbc_async_close(db, first, NULL, NULL);
    return dbc_engine_teardown(db, first);
}

/* A row callback still reads rows on one of db's connections (on this
 * thread, or another): the close is recorded and finished by the end of
 * the last iteration (dbc_engine_iteration_end).  True when deferred. */
static bool defer_close(dbconn *db, int first, bool async, dbconn_done_cb cb,
                        void *data) {
    uv_mutex_lock(&db->lock);
    bool defer = db->iterating > 0;
    if (defer && !db->deferred_close.pending) {
        db->deferred_close.pending = true;
        db->deferred_close.async = async;
        db->deferred_close.first = first;
        db->deferred_close.cb = cb;
        db->deferred_close.data = data;
    }
    uv_mutex_unlock(&db->lock);
    return defer;
}

void dbc_engine_iteration_begin(dbconn *db) {
    uv_mutex_lock(&db->lock);
    db->iterating++;
    uv_mutex_unlock(&db->lock);
}

bool dbc_engine_iteration_end(dbconn *db) {
    uv_mutex_lock(&db->lock);
    bool finish = --db->iterating == 0 && db->deferred_close.pending;
    bool async = db->deferred_close.async;
    int first = db->deferred_close.first;
    dbconn_done_cb cb = db->deferred_close.cb;
    void *data = db->deferred_close.data;
    db->deferred_close.pending = false;
    uv_mutex_unlock(&db->lock);
    if (finish)
        (void)finish_close(db, first, async, cb, data);
    return finish;
}

int dbconn_close(dbconn *db, dbconn_base *base) {
    if (!db)
        return 0;
    DBC_REFUSE_IN_CALLOUT("dbconn_close");
    int first = 0;
    if (base && dbconn_base_bound(base) != db)
        first = dbc_fail(DBCONN_EINVAL,
                         "dbconn_close: the base given is not bound to this "
                         "dbconn; it was left untouched");
    atomic_store(&db->closing, true);
    unbind_bases(db);
    if (defer_close(db, first, false, NULL, NULL))
        return first;
    return finish_close(db, first, false, NULL, NULL);
}

int dbconn_close_async(dbconn *db, dbconn_base *base, dbconn_done_cb cb,
                       void *data) {
    if (!db)
        return dbc_fail(DBCONN_EINVAL, "dbconn_close_async: db is NULL");
    DBC_REFUSE_IN_CALLOUT("dbconn_close_async");
    if (atomic_load(&db->closing))
        return dbc_fail(DBCONN_ECLOSED, "dbconn_close_async: already closing");
    struct dbc_async *a;
    int rc = dbc_async_get(db, &a); /* even without async work: cb needs the
                                        loop */
    if (rc)
        return rc;
    int first = 0;
    if (base && dbconn_base_bound(base) != db)
        first = dbc_fail(DBCONN_EINVAL,
                         "dbconn_close_async: the base given is not bound to "
                         "this dbconn; it was left untouched");
    atomic_store(&db->closing, true);
    unbind_bases(db);
    if (!defer_close(db, first, true, cb, data))
        (void)finish_close(db, first, true, cb, data);
    return 0;
}

/* ---- small accessors --------------------------------------------------- */

const char *dbconn_url_string(const dbconn *db) {
    return db ? db->url_masked : NULL;
}

const char *dbconn_dialect(const dbconn *db) {
    return db ? db->drv->name : NULL;
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

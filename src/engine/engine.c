/* The engine: URL + options -> driver, target, pool, write gate and log;
 * and the bookkeeping the layers above keep in it (see engine.h). */
#include <stdio.h>
#include <string.h>

#include "driver/registry.h"
#include "engine/engine.h"
#include "url/url.h"
#include "url/url_render.h"
#include "util/alloc.h"

void dbc_engine_free(dbconn *db) {
    dbc_pool_free(db->pool);
    if (db->target)
        db->drv->target_close(db->target);
    dbc_gate_destroy(&db->gate);
    dbc_log_destroy(&db->log);
    dbc_config_release(&db->cfg);
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

/* The write gate's owner in words (gate.h: describe): its connection's
 * holder facts. */
static void describe_owner(void *data, const void *owner, char *buf,
                           size_t cap) {
    dbconn *db = data;
    dbc_holding h;
    if (db->pool && dbc_pool_holding_of(db->pool, owner, &h))
        dbc_holding_describe(&h, buf, cap);
    else
        (void)snprintf(buf, cap, "session %p (no pooled connection now)",
                       owner);
}

void dbc_engine_describe_gate(dbconn *db, char *buf, size_t cap) {
    const void *owner;
    uint64_t since;
    buf[0] = '\0';
    dbc_gate_owner(&db->gate, &owner, &since);
    if (owner)
        describe_owner(db, owner, buf, cap);
}

static int open_parts(dbconn *db, const char *url,
                      const dbconn_options *opts) {
    int rc = dbconn_url_parse(&db->url, url);
    if (rc)
        return rc;
    if (!(db->url_masked = dbc_url_masked(db->url)))
        return dbc_nomem();
    if ((rc = dbc_driver_find(db->url, &db->drv)) != 0)
        return rc;
    dbc_qparam *rest = NULL;
    size_t nrest = 0;
    if ((rc = dbc_config_resolve(&db->cfg, opts, db->url, &rest, &nrest)))
        return rc;
    /* The name outlives the caller's string in the log's own copy. */
    db->cfg.logging_name = dbc_log_set_name(&db->log, db->cfg.logging_name);
    if (db->cfg.execution_policy == DBCONN_EXEC_LOOP && !db->drv->io) {
        dbc_free(rest);
        return dbc_fail(DBCONN_EOPTION,
                        "option \"execution_policy\" = loop: the %s driver "
                        "has no non-blocking statements (use threadpool or "
                        "inline)", db->drv->name);
    }
    rc = db->drv->target_open(&db->target, db->url, &db->cfg, rest, nrest);
    dbc_free(rest);
    if (rc)
        return rc;

    if ((rc = dbc_pool_new(&db->pool, db->drv, db->target, &db->cfg)) != 0)
        return rc;
    dbc_pool_set_log(db->pool, &db->log,
                     db->drv->serialize_writers ? &db->gate : NULL);
    db->gate.describe = describe_owner;
    db->gate.describe_data = db;
    return probe(db);
}

int dbc_engine_open(dbconn **out, const char *url, const dbconn_options *opts,
                    const dbc_engine_hooks *hooks) {
    *out = NULL;
    dbconn *db = dbc_calloc(1, sizeof *db);
    if (!db)
        return dbc_nomem();
    dbc_list_init(&db->sessions);
    db->hooks = hooks;
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
    int rc = open_parts(db, url, opts);
    if (rc) {
        /* The message already names the problem; keep it. */
        dbc_engine_free(db);
        return rc;
    }
    *out = db;
    return 0;
}

/* ---- bound bases --------------------------------------------------------- */

int dbc_engine_add_base(dbconn *db, dbconn_base *b,
                        void (*unbind)(dbconn_base *b, dbconn *db)) {
    uv_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->nbases; i++) {
        if (db->bases[i].base == b) {
            uv_mutex_unlock(&db->lock);
            return 0;
        }
    }
    if (db->nbases == db->capbases) {
        size_t cap = db->capbases ? db->capbases * 2 : 4;
        dbc_bound_base *n = dbc_realloc(db->bases, cap * sizeof *n);
        if (!n) {
            uv_mutex_unlock(&db->lock);
            return dbc_nomem();
        }
        db->bases = n;
        db->capbases = cap;
    }
    db->bases[db->nbases++] = (dbc_bound_base){b, unbind};
    uv_mutex_unlock(&db->lock);
    return 0;
}

void dbc_engine_remove_base(dbconn *db, dbconn_base *b) {
    uv_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->nbases; i++) {
        if (db->bases[i].base == b) {
            db->bases[i] = db->bases[--db->nbases];
            break;
        }
    }
    uv_mutex_unlock(&db->lock);
}

bool dbc_engine_has_base(dbconn *db, const dbconn_base *b) {
    bool found = false;
    uv_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->nbases && !found; i++)
        found = db->bases[i].base == b;
    uv_mutex_unlock(&db->lock);
    return found;
}

void dbc_engine_unbind_all(dbconn *db) {
    for (;;) {
        uv_mutex_lock(&db->lock);
        dbc_bound_base bb = db->nbases ? db->bases[--db->nbases]
                                       : (dbc_bound_base){0};
        uv_mutex_unlock(&db->lock);
        if (!bb.base)
            return;
        bb.unbind(bb.base, db); /* takes the base's lock: not under ours */
    }
}

/* ---- sessions ------------------------------------------------------------ */

void dbc_engine_link_session(dbconn *db, dbc_list *link) {
    uv_mutex_lock(&db->lock);
    dbc_list_push_front(&db->sessions, link);
    uv_mutex_unlock(&db->lock);
}

void dbc_engine_unlink_session(dbconn *db, dbc_list *link) {
    uv_mutex_lock(&db->lock);
    dbc_list_remove(link);
    uv_mutex_unlock(&db->lock);
}

dbc_list *dbc_engine_first_session(dbconn *db) {
    uv_mutex_lock(&db->lock);
    dbc_list *n = dbc_list_first(&db->sessions);
    uv_mutex_unlock(&db->lock);
    return n;
}

/* ---- a close that waits for row iterations ------------------------------- */

bool dbc_engine_defer_close(dbconn *db, int first, bool async,
                            dbconn_done_cb cb, void *data) {
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
        (void)db->hooks->finish_close(db, first, async, cb, data);
    return finish;
}

/* ---- accessors ----------------------------------------------------------- */

const char *dbconn_url_string(const dbconn *db) {
    return db ? db->url_masked : NULL;
}

const char *dbconn_dialect(const dbconn *db) {
    return db ? db->drv->name : NULL;
}

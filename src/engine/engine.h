/* The engine: the struct behind a dbconn handle, shared by the modules. */
#ifndef DBCONN_ENGINE_H
#define DBCONN_ENGINE_H

#include <stdatomic.h>
#include <uv.h>

#include "dbconn.h"
#include "driver/driver.h"
#include "engine/gate.h"
#include "engine/log.h"
#include "engine/options.h"
#include "engine/pool.h"
#include "scope/scope.h"

struct dbc_async; /* async.c */

struct dbconn {
    dbconn_url *url;          /* owned */
    char *url_masked;         /* owned; password as *** */
    dbc_config cfg;
    const dbc_driver *drv;
    dbc_target *target;       /* owned */
    dbc_pool *pool;           /* owned */
    dbc_gate gate;            /* used when drv->serialize_writers */
    dbc_log log;
    dbc_scope *scope;         /* owned */

    uv_mutex_t lock;          /* guards the lists below */
    dbconn_session *sessions; /* live factory-made and scoped sessions */
    dbconn_base **bases;      /* bases bound to this dbconn */
    size_t nbases, capbases;
    struct dbc_async *async;  /* NULL until the first *_async call */
    atomic_bool closing;
    /* Row iterations (dbconn_exec_each) running on db's sessions, and a
     * dbconn_close that came while one ran: it finishes when the last one
     * returns (see dbc_engine_close).  Guarded by `lock`. */
    int iterating;
    struct {
        bool pending;
        bool async;       /* dbconn_close_async */
        int first;
        dbconn_done_cb cb;
        void *data;
    } deferred_close;
};

/* Bound-base bookkeeping for dbconn_close (base.c calls these). */
int dbc_engine_add_base(dbconn *db, dbconn_base *b);
void dbc_engine_remove_base(dbconn *db, dbconn_base *b);
/* Session list bookkeeping (session.c calls these). */
void dbc_engine_link_session(dbconn *db, dbconn_session *s);
void dbc_engine_unlink_session(dbconn *db, dbconn_session *s);

/* The part of dbconn_close after bases are unbound: closes the registry and
 * the sessions, frees everything; returns `first` or the first error. */
int dbc_engine_teardown(dbconn *db, int first);

/* A row iteration starts on one of db's sessions / has returned.  The end
 * of the last one finishes a dbconn_close the callback (or another thread)
 * asked for meanwhile; it returns true when it did (db is gone). */
void dbc_engine_iteration_begin(dbconn *db);
bool dbc_engine_iteration_end(dbconn *db);

/* Echo helpers (no-ops when echo is off). */
#define DBC_ECHO(db) ((db)->cfg.echo > 0)

#endif

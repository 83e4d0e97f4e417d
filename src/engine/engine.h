/* The engine: the struct behind a dbconn handle -- URL, configuration,
 * driver and target, pool, write gate, log -- and the bookkeeping the
 * layers above keep in it (sessions, bound bases, a close that waits for a
 * row iteration).  The layers above store their own state here as opaque
 * pointers and install the hooks the engine calls; the engine never names
 * them. */
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
#include "util/list.h"

/* What the top layer installs: how a close finishes once nothing stops it
 * (a row iteration deferred it, or the async layer finished its part). */
typedef struct dbc_engine_hooks {
    /* dbconn_close / dbconn_close_async after the bases were unbound:
     * async = the close_async form (cb, data: its callback). */
    int (*finish_close)(dbconn *db, int first, bool async, dbconn_done_cb cb,
                        void *data);
    /* Disposes of everything: scoped sessions, sessions, db itself;
     * returns `first` or the first error. */
    int (*teardown)(dbconn *db, int first);
} dbc_engine_hooks;

/* A base bound to the engine and how to unbind it (the model layer's). */
typedef struct dbc_bound_base {
    dbconn_base *base;
    void (*unbind)(dbconn_base *base, dbconn *db);
} dbc_bound_base;

struct dbconn {
    dbconn_url *url;          /* owned */
    char *url_masked;         /* owned; password as *** */
    dbc_config cfg;
    const dbc_driver *drv;
    dbc_target *target;       /* owned */
    dbc_pool *pool;           /* owned */
    dbc_gate gate;            /* used when drv->serialize_writers */
    dbc_log log;
    const dbc_engine_hooks *hooks;
    struct dbc_scope *scope;  /* the scope layer's registry */
    struct dbc_async *async;  /* the async layer's state; NULL until the
                                 first *_async call */

    uv_mutex_t lock;          /* guards what follows */
    dbc_list sessions;        /* live sessions (dbconn_session.link) */
    dbc_bound_base *bases;    /* bases bound to this dbconn */
    size_t nbases, capbases;
    /* Row iterations (dbconn_exec_each) running on db's sessions, and a
     * close that came while one ran: it finishes when the last one
     * returns (dbc_engine_iteration_end). */
    int iterating;
    struct {
        bool pending;
        bool async;
        int first;
        dbconn_done_cb cb;
        void *data;
    } deferred_close;
    atomic_bool closing;
};

/* Makes the engine of `url` + `opts` (see dbconn_open): parses the URL,
 * finds the driver, resolves the options, opens the target and the pool
 * and checks one connection out and back.  *out is owned by the caller
 * (dbc_engine_free); on failure NULL, with the message recorded. */
int dbc_engine_open(dbconn **out, const char *url, const dbconn_options *opts,
                    const dbc_engine_hooks *hooks);
/* Frees the engine's own parts; every session is gone by now. */
void dbc_engine_free(dbconn *db);

/* Bound-base bookkeeping (the model layer binds, dbconn_close unbinds). */
int dbc_engine_add_base(dbconn *db, dbconn_base *b,
                        void (*unbind)(dbconn_base *b, dbconn *db));
void dbc_engine_remove_base(dbconn *db, dbconn_base *b);
bool dbc_engine_has_base(dbconn *db, const dbconn_base *b);
/* Unbinds every bound base (their unbind hooks run without db's lock). */
void dbc_engine_unbind_all(dbconn *db);

/* Session list bookkeeping (the session layer's). */
void dbc_engine_link_session(dbconn *db, dbc_list *link);
void dbc_engine_unlink_session(dbconn *db, dbc_list *link);
/* The first live session's link, or NULL. */
dbc_list *dbc_engine_first_session(dbconn *db);

/* A row iteration starts on one of db's sessions / has returned.  The end
 * of the last one finishes a close asked for meanwhile (through
 * hooks->finish_close) and then returns true: db is gone. */
void dbc_engine_iteration_begin(dbconn *db);
bool dbc_engine_iteration_end(dbconn *db);
/* A close that must wait for row iterations is recorded (true) and
 * finished by the end of the last one; false: nothing iterates, the
 * caller finishes it now. */
bool dbc_engine_defer_close(dbconn *db, int first, bool async,
                            dbconn_done_cb cb, void *data);

/* The write gate's owner now, in words (its connection, time and last
 * statement: dbc_holding_describe); "" when the gate is free. */
void dbc_engine_describe_gate(dbconn *db, char *buf, size_t cap);

/* Echo is on. */
#define DBC_ECHO(db) ((db)->cfg.echo > 0)

#endif

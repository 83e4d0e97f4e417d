/* Base models: the list of models (metadata) and the bound session pointer.
 *
 * The default base is a static object: it allocates nothing until its first
 * model is added, and dbconn_base_clear() gives that memory back.  Every
 * field is guarded by the base's mutex; the models themselves are borrowed
 * from the user and never copied. */
#include <pthread.h>
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "model/record_plan.h"
#include "engine/engine.h"
#include "util/error.h"
#include "util/text.h"
#include "util/callout.h"

struct dbconn_base {
    uv_mutex_t lock;
    const dbconn_model **models; /* owned array of borrowed models */
    dbc_rplan **plans;           /* owned: the record plan of each model,
                                    NULL until its first record call */
    size_t nmodels, capmodels;
    dbconn *bound;               /* the session pointer: NULL = unbound */
    bool is_default;
};

/* uv_mutex_t is a pthread_mutex_t on every platform this library builds on,
 * so the default base needs no run-time initialisation. */
static dbconn_base default_base = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .is_default = true,
};

dbconn_base *dbconn_active_record_base(void) { return &default_base; }

/* Locking through a const pointer: the lock is not part of the value. */
static void lock(const dbconn_base *b) {
    uv_mutex_lock((uv_mutex_t *)&b->lock);
}
static void unlock(const dbconn_base *b) {
    uv_mutex_unlock((uv_mutex_t *)&b->lock);
}

int dbconn_base_new(dbconn_base **out) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_base_new");
    if (!out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_base_new: out is NULL");
    dbconn_base *b = dbc_calloc(1, sizeof *b);
    if (!b)
        return dbc_nomem();
    if (uv_mutex_init(&b->lock) != 0) {
        dbc_free(b);
        return dbc_fail(DBCONN_ENOMEM, "dbconn_base_new: cannot create a "
                                       "mutex");
    }
    *out = b;
    return 0;
}

/* The plans go with the model list (caller holds the lock, or is the
 * only user). */
static void free_plans(dbconn_base *b) {
    for (size_t i = 0; b->plans && i < b->nmodels; i++)
        dbc_rplan_free(b->plans[i]);
    dbc_free(b->plans);
    b->plans = NULL;
}

/* Message for an operation refused because b is bound. */
static int bound_error(const char *what, dbconn *db) {
    return dbc_fail(DBCONN_EINVAL,
                    "%s: the base is bound to \"%s\"; dbconn_close it first",
                    what, dbconn_url_string(db));
}

int dbconn_base_free(dbconn_base *b) {
    DBC_REFUSE_IN_CALLOUT("dbconn_base_free");
    if (!b || b->is_default)
        return 0;
    lock(b);
    dbconn *db = b->bound;
    unlock(b);
    if (db)
        return bound_error("dbconn_base_free", db);
    uv_mutex_destroy(&b->lock);
    free_plans(b);
    dbc_free(b->models);
    dbc_free(b);
    return 0;
}

int dbconn_base_clear(dbconn_base *b) {
    DBC_REFUSE_IN_CALLOUT("dbconn_base_clear");
    if (!b)
        return dbc_fail(DBCONN_EINVAL, "dbconn_base_clear: base is NULL");
    lock(b);
    dbconn *db = b->bound;
    if (!db) {
        free_plans(b);
        dbc_free(b->models);
        b->models = NULL;
        b->nmodels = b->capmodels = 0;
    }
    unlock(b);
    return db ? bound_error("dbconn_base_clear", db) : 0;
}

size_t dbconn_base_count(const dbconn_base *b) {
    if (!b)
        return 0;
    if (dbc_in_callout()) { /* the base's lock may be held */
        (void)dbc_callout_refuse("dbconn_base_count");
        return 0;
    }
    lock(b);
    size_t n = b->nmodels;
    unlock(b);
    return n;
}

dbconn *dbconn_base_bound(const dbconn_base *b) {
    if (!b)
        return NULL;
    if (dbc_in_callout()) { /* the base's lock may be held */
        (void)dbc_callout_refuse("dbconn_base_bound");
        return NULL;
    }
    lock(b);
    dbconn *db = b->bound;
    unlock(b);
    return db;
}

/* Index names live in one namespace per database: m's must not repeat one
 * of another model's (CREATE INDEX IF NOT EXISTS would skip it silently).
 * Caller holds b's lock. */
static int check_index_names(const dbconn_base *b, const dbconn_model *m) {
    dbc_buf mine = DBC_BUF_INIT, other = DBC_BUF_INIT;
    int rc = 0;
    size_t n = dbc_model_index_count(m);
    for (size_t i = 0; i < n && rc == 0; i++) {
        dbc_index_view v;
        dbc_model_index_get(m, i, &v);
        dbc_buf_reset(&mine);
        dbc_model_index_name(m, &v, &mine);
        for (size_t k = 0; k < b->nmodels && rc == 0; k++) {
            const dbconn_model *o = b->models[k];
            size_t no = dbc_model_index_count(o);
            for (size_t j = 0; j < no && rc == 0; j++) {
                dbc_index_view w;
                dbc_model_index_get(o, j, &w);
                dbc_buf_reset(&other);
                dbc_model_index_name(o, &w, &other);
                if (mine.oom || other.oom)
                    rc = dbc_nomem();
                else if (dbc_ascii_ieq(mine.data, other.data))
                    rc = dbc_fail(DBCONN_EINVAL,
                                  "model \"%s\": index \"%s\" is already "
                                  "declared by model \"%s\"",
                                  m->table, mine.data, o->table);
            }
        }
    }
    if (rc == 0 && (mine.oom || other.oom))
        rc = dbc_nomem();
    dbc_buf_free(&mine);
    dbc_buf_free(&other);
    return rc;
}

/* Caller holds b's lock. */
static int add_locked(dbconn_base *b, const dbconn_model *m) {
    for (size_t i = 0; i < b->nmodels; i++) {
        if (b->models[i] == m)
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\" was already added to this base",
                            m->table);
        if (dbc_ascii_ieq(b->models[i]->table, m->table))
            return dbc_fail(DBCONN_EINVAL,
                            "duplicate table name \"%s\": this base already "
                            "has a model for table \"%s\"",
                            m->table, b->models[i]->table);
    }
    int rc = check_index_names(b, m);
    if (rc)
        return rc;
    if (b->nmodels == b->capmodels) {
        size_t cap = b->capmodels ? b->capmodels * 2 : 8;
        const dbconn_model **p = dbc_realloc(b->models, cap * sizeof *p);
        if (!p)
            return dbc_nomem();
        b->models = p;
        dbc_rplan **plans = dbc_realloc(b->plans, cap * sizeof *plans);
        if (!plans)
            return dbc_nomem();
        b->plans = plans;
        b->capmodels = cap;
    }
    b->plans[b->nmodels] = NULL;
    b->models[b->nmodels++] = m;
    return 0;
}

int dbconn_base_add(dbconn_base *b, const dbconn_model *m) {
    DBC_REFUSE_IN_CALLOUT("dbconn_base_add");
    if (!b)
        return dbc_fail(DBCONN_EINVAL, "dbconn_base_add: base is NULL");
    int rc = dbc_model_validate(m);
    if (rc)
        return rc;
    lock(b);
    rc = add_locked(b, m);
    unlock(b);
    return rc;
}

int dbconn_base_session(dbconn_base *b, dbconn_session **out) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_base_session");
    if (!b || !out)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_base_session: base and out must not be NULL");
    dbconn *db = dbconn_base_bound(b);
    if (!db)
        return dbc_fail(DBCONN_ECLOSED,
                        "base is not bound: call dbconn_init_db");
    return dbconn_scoped_session(db, out);
}

void dbc_base_unbind(dbconn_base *b, dbconn *db) {
    if (!b)
        return;
    lock(b);
    if (b->bound == db)
        b->bound = NULL;
    unlock(b);
}

int dbc_base_snapshot(dbconn_base *b, const dbconn_model ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    lock(b);
    int rc = 0;
    if (b->nmodels > 0) {
        *out = dbc_malloc(b->nmodels * sizeof **out);
        if (*out) {
            memcpy(*out, b->models, b->nmodels * sizeof **out);
            *n = b->nmodels;
        } else {
            rc = dbc_nomem();
        }
    }
    unlock(b);
    return rc;
}

static int double_bind_error(dbconn *other, dbconn *db) {
    return dbc_fail(DBCONN_EINVAL,
                    "base is already bound to \"%s\"; cannot bind it to "
                    "\"%s\" too (dbconn_close the first, or use one base per "
                    "database)",
                    dbconn_url_string(other), dbconn_url_string(db));
}

int dbc_base_check_bind(dbconn_base *b, dbconn *db) {
    dbconn *other = dbconn_base_bound(b);
    return (other && other != db) ? double_bind_error(other, db) : 0;
}

int dbc_base_bind(dbconn_base *b, dbconn *db) {
    lock(b);
    dbconn *other = b->bound;
    if (!other)
        b->bound = db; /* claim it before registering, so no one else can */
    unlock(b);
    if (other)
        return other == db ? 0 : double_bind_error(other, db);
    /* Registered outside the base's lock: dbconn_close takes the engine's
     * lock and then calls dbc_base_unbind, which takes ours. */
    int rc = dbc_engine_add_base(db, b, dbc_base_unbind);
    if (rc)
        dbc_base_unbind(b, db);
    return rc;
}

/* Caller holds b's lock.  -1 when m is not one of b's models. */
static long model_slot(const dbconn_base *b, const dbconn_model *m) {
    for (size_t i = 0; i < b->nmodels; i++)
        if (b->models[i] == m)
            return (long)i;
    return -1;
}

int dbc_base_record_plan(dbconn_base *b, const dbconn_model *m,
                         dbc_rplan **out, dbconn **bound) {
    *out = NULL;
    lock(b);
    long i = model_slot(b, m);
    dbc_rplan *p = i >= 0 ? b->plans[i] : NULL;
    if (bound)
        *bound = b->bound;
    unlock(b);
    if (i < 0)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\" is not a model of this base "
                        "(dbconn_base_add it, or pass the base it was added "
                        "to)",
                        m && m->table ? m->table : "(null)");
    if (p) {
        *out = p;
        return 0;
    }
    /* Built outside the lock; the first of two racing builders wins. */
    int rc = dbc_rplan_new(m, &p);
    if (rc)
        return rc;
    lock(b);
    i = model_slot(b, m);
    if (i >= 0 && !b->plans[i]) {
        b->plans[i] = p;
        p = NULL;
    }
    *out = i >= 0 ? b->plans[i] : NULL;
    unlock(b);
    dbc_rplan_free(p);
    return *out ? 0
                : dbc_fail(DBCONN_EINVAL,
                           "model \"%s\" was removed from its base while in "
                           "use", m->table);
}

const dbconn_model *dbc_base_model_named(dbconn_base *b, const char *name,
                                         size_t len) {
    const dbconn_model *found = NULL;
    lock(b);
    for (size_t i = 0; i < b->nmodels && !found; i++)
        if (dbc_ascii_ieqn(b->models[i]->table, name, len))
            found = b->models[i];
    unlock(b);
    return found;
}

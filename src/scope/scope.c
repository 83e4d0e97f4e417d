/* The task-scoped session registry: scope key -> the session of that scope.
 *
 * One mutex per registry guards the map; a lookup is one hash probe run
 * under it (hashmap.c).  Sessions are created and closed outside the lock
 * (both take the engine's locks, closing does I/O), counted in `busy` so
 * dbc_scope_close_all can wait for them: the engine frees the pool right
 * after it returns.
 *
 * Sessions created under the calling thread's own fallback key carry a link
 * (dbc_tlink, the map entry's aux pointer) to the thread's record, whose
 * destructor closes them when the thread exits (task.c).  Every change to
 * the map and the matching link change happen together under the registry
 * lock, so a link is attached exactly while its entry is in the map.
 * Lock order: registry lock -> thread record lock (scope.h).
 *
 * Lifetime: the engine holds one reference (dropped by dbc_scope_free);
 * whoever works on the registry outside its lock (busy) holds another, so
 * the memory outlives a thread-exit cleanup that overlaps dbconn_close.
 *
 * dbconn_task_end reaches every open dbconn through one process-wide list
 * of registries (`open_scopes`, the one global of this layer besides the
 * thread-locals): a registry is on it from dbc_scope_new to dbc_scope_free.
 * Lock order: open_scopes_lock -> registry lock -> thread record lock. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include <uv.h>

#include "util/alloc.h"
#include "engine/engine.h"
#include "util/error.h"
#include "util/callout.h"
#include "util/hashmap.h"
#include "scope/scope.h"
#include "scope/task.h"
#include "session/session.h"

struct dbc_scope {
    uv_mutex_t lock;    /* guards map and closed */
    uv_cond_t idle;     /* broadcast when busy drops to 0 */
    dbc_hmap map;       /* key -> (dbconn_session *, dbc_tlink * or NULL) */
    bool closed;        /* set by dbc_scope_close_all */
    atomic_size_t busy; /* creations / closings running outside the lock */
    atomic_size_t refs; /* the engine's + one per busy operation */
    dbconn *db;
    dbc_list open_link; /* open_scopes; guarded by open_scopes_lock */
};

/* Every registry not yet freed (see dbconn_task_end).  Statically
 * initialised: no set-up call, nothing to tear down. */
static pthread_mutex_t open_scopes_lock = PTHREAD_MUTEX_INITIALIZER;
static dbc_list open_scopes = {&open_scopes, &open_scopes};

int dbc_scope_new(dbc_scope **out, dbconn *db) {
    *out = NULL;
    dbc_scope *sc = dbc_calloc(1, sizeof *sc);
    if (!sc)
        return dbc_nomem();
    if (uv_mutex_init(&sc->lock) != 0) {
        dbc_free(sc);
        return dbc_fail(DBCONN_ENOMEM,
                        "cannot create the scoped registry's mutex");
    }
    if (uv_cond_init(&sc->idle) != 0) {
        uv_mutex_destroy(&sc->lock);
        dbc_free(sc);
        return dbc_fail(DBCONN_ENOMEM,
                        "cannot create the scoped registry's condition");
    }
    dbc_hmap_init(&sc->map);
    atomic_init(&sc->busy, 0);
    atomic_init(&sc->refs, 1);
    sc->db = db;
    pthread_mutex_lock(&open_scopes_lock);
    dbc_list_push_back(&open_scopes, &sc->open_link);
    pthread_mutex_unlock(&open_scopes_lock);
    *out = sc;
    return 0;
}

static void scope_unref(dbc_scope *sc) {
    if (atomic_fetch_sub_explicit(&sc->refs, 1, memory_order_acq_rel) != 1)
        return;
    dbc_hmap_free(&sc->map);
    uv_cond_destroy(&sc->idle);
    uv_mutex_destroy(&sc->lock);
    dbc_free(sc);
}

/* Marks the start of work on `sc` outside its lock.  Called with the
 * registry lock held, or (pin, from the thread-exit cleanup) with a record
 * lock that proves the registry is alive and not yet past
 * dbc_scope_close_all's wait. */
static void busy_enter(dbc_scope *sc) {
    atomic_fetch_add_explicit(&sc->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sc->busy, 1, memory_order_relaxed);
}

/* Ends it: the decrement happens under the lock, so close_all's wait cannot
 * miss the wake-up. */
static void busy_leave(dbc_scope *sc) {
    uv_mutex_lock(&sc->lock);
    if (atomic_fetch_sub_explicit(&sc->busy, 1, memory_order_acq_rel) == 1)
        uv_cond_broadcast(&sc->idle);
    uv_mutex_unlock(&sc->lock);
    scope_unref(sc);
}

/* Removes the entry in `slot` together with its link; returns the session,
 * now the caller's to free.  Registry lock held. */
static dbconn_session *take_entry(dbc_scope *sc, dbc_hslot *slot,
                                  dbc_tlink **link) {
    dbconn_session *s = slot->val;
    *link = slot->aux;
    if (*link)
        dbc_tlink_detach(*link);
    dbc_hmap_remove(&sc->map, slot);
    return s;
}

/* Frees what take_entry returned.  No locks held. */
static void free_entry(dbconn_session *s, dbc_tlink *link) {
    dbc_session_free(s);
    if (link) {
        dbc_tlink_free(link);
        dbc_trec_trim();
    }
}

/* ---- hooks: thread-exit cleanup, dbconn_session_close ---------------------- */

static void pin(void *owner);
static void drop_thread(void *owner, void *key, dbc_trec *rec);

static const dbc_tlink_ops tlink_ops = {.pin = pin, .drop = drop_thread};

/* dbconn_session_close on a scoped session: forget its entry. */
static void close_scoped(dbconn_session *s) {
    (void)dbconn_scoped_remove_key(s->db, s->scope_key);
}

/* ---- the current key ---------------------------------------------------- */

static int current_key(const dbconn *db, const char *fn, void **key) {
    if (db->cfg.scopefunc) {
        unsigned char prev = dbc_callout_enter(DBC_CALLOUT_SCOPEFUNC);
        *key = db->cfg.scopefunc(db->cfg.scope_data);
        dbc_callout_leave(prev);
    } else {
        *key = dbconn_current_task();
    }
    if (!*key)
        return dbc_fail(DBCONN_EINVAL,
                        "%s: the scopefunc returned NULL; a scope key must be "
                        "a non-NULL pointer (a task, handle or request)",
                        fn);
    return 0;
}

/* ---- public API --------------------------------------------------------- */

/* The slow path of dbconn_scoped_session: makes the session outside the
 * lock, then registers it unless another thread registered one for the same
 * key meanwhile (that one wins, ours is freed: never two per key).  The
 * caller did busy_enter. */
static int create_scoped(dbc_scope *sc, void *key, dbconn_session **out) {
    dbc_tlink *link = NULL;
    dbconn_session *s = NULL;
    bool closed = false, full = false;
    size_t count = 0;
    int rc = 0;
    if (dbc_is_own_thread_key(key))
        rc = dbc_tlink_new(sc, &tlink_ops, &link);
    if (rc == 0 && (rc = dbc_session_new(sc->db, key, &s)) == 0)
        s->close_hook = close_scoped;
    if (rc == 0) {
        uv_mutex_lock(&sc->lock);
        dbc_hslot *slot = dbc_hmap_find(&sc->map, key);
        if (sc->closed) {
            closed = true;
        } else if (slot) {
            *out = slot->val; /* lost the race: s is extra */
        } else if (dbc_hmap_insert(&sc->map, key, s, link) != 0) {
            full = true;
            count = sc->map.count;
        } else {
            if (link)
                dbc_tlink_attach(link);
            *out = s;
            s = NULL;    /* owned by the registry */
            link = NULL; /* owned by the entry */
        }
        uv_mutex_unlock(&sc->lock);
    }
    if (s)
        dbc_session_free(s);
    if (link) {
        dbc_tlink_free(link);
        dbc_trec_trim();
    }
    busy_leave(sc);
    /* Messages last: freeing the extra session must not overwrite them. */
    if (closed)
        return dbc_fail(DBCONN_ECLOSED,
                        "dbconn_scoped_session: the dbconn was closed while "
                        "the session was being created");
    if (full)
        return dbc_fail(DBCONN_ENOMEM,
                        "dbconn_scoped_session: out of memory growing the "
                        "scoped session registry past %zu sessions",
                        count);
    return rc; /* 0, or the failure dbc_tlink_new / dbc_session_new recorded */
}

int dbconn_scoped_session(dbconn *db, dbconn_session **out) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_scoped_session");
    if (!db || !out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_scoped_session: %s is NULL",
                        db ? "out" : "db");
    void *key;
    int rc = current_key(db, "dbconn_scoped_session", &key);
    if (rc)
        return rc;
    dbc_scope *sc = db->scope;
    uv_mutex_lock(&sc->lock);
    if (sc->closed) {
        uv_mutex_unlock(&sc->lock);
        return dbc_fail(DBCONN_ECLOSED, "dbconn_scoped_session: the dbconn "
                                        "is closed");
    }
    dbc_hslot *slot = dbc_hmap_find(&sc->map, key);
    if (slot) {
        *out = slot->val;
        uv_mutex_unlock(&sc->lock);
        return 0;
    }
    busy_enter(sc);
    uv_mutex_unlock(&sc->lock);
    return create_scoped(sc, key, out);
}

static int remove_key(dbc_scope *sc, void *key) {
    uv_mutex_lock(&sc->lock);
    dbc_hslot *slot = dbc_hmap_find(&sc->map, key);
    if (!slot) {
        uv_mutex_unlock(&sc->lock);
        return 0;
    }
    dbc_tlink *link;
    dbconn_session *s = take_entry(sc, slot, &link);
    busy_enter(sc);
    uv_mutex_unlock(&sc->lock);
    free_entry(s, link);
    busy_leave(sc);
    return 0;
}

int dbconn_scoped_remove(dbconn *db) {
    DBC_REFUSE_IN_CALLOUT("dbconn_scoped_remove");
    if (!db)
        return dbc_fail(DBCONN_EINVAL, "dbconn_scoped_remove: db is NULL");
    void *key;
    int rc = current_key(db, "dbconn_scoped_remove", &key);
    return rc ? rc : remove_key(db->scope, key);
}

int dbconn_scoped_remove_key(dbconn *db, void *key) {
    DBC_REFUSE_IN_CALLOUT("dbconn_scoped_remove_key");
    if (!db || !key)
        return dbc_fail(DBCONN_EINVAL, "dbconn_scoped_remove_key: %s is NULL",
                        db ? "key" : "db");
    return remove_key(db->scope, key);
}

size_t dbconn_scoped_count(const dbconn *db) {
    if (!db || !db->scope)
        return 0;
    if (dbc_in_callout()) { /* the registry's lock may be held */
        (void)dbc_callout_refuse("dbconn_scoped_count");
        return 0;
    }
    dbc_scope *sc = db->scope;
    uv_mutex_lock(&sc->lock);
    size_t n = sc->map.count;
    uv_mutex_unlock(&sc->lock);
    return n;
}

/* ---- teardown ----------------------------------------------------------- */

size_t dbc_scope_close_all(dbc_scope *sc) {
    if (!sc)
        return 0;
    dbc_hmap taken;
    uv_mutex_lock(&sc->lock);
    sc->closed = true;
    dbc_hmap_take(&taken, &sc->map);
    size_t cap = dbc_hmap_capacity(&taken);
    for (size_t i = 0; i < cap; i++)
        if (taken.slots[i].key && taken.slots[i].aux)
            dbc_tlink_detach(taken.slots[i].aux);
    /* Removals that took their entry before we did are still closing it. */
    while (atomic_load_explicit(&sc->busy, memory_order_acquire) > 0)
        uv_cond_wait(&sc->idle, &sc->lock);
    uv_mutex_unlock(&sc->lock);

    size_t n = 0;
    for (size_t i = 0; i < cap; i++) {
        if (taken.slots[i].key) {
            free_entry(taken.slots[i].val, taken.slots[i].aux);
            n++;
        }
    }
    dbc_hmap_free(&taken);
    return n;
}

void dbc_scope_free(dbc_scope *sc) {
    if (!sc)
        return;
    uv_mutex_lock(&sc->lock);
    bool closed = sc->closed;
    uv_mutex_unlock(&sc->lock);
    if (!closed)
        (void)dbc_scope_close_all(sc);
    pthread_mutex_lock(&open_scopes_lock);
    dbc_list_remove(&sc->open_link);
    pthread_mutex_unlock(&open_scopes_lock);
    scope_unref(sc);
}

/* ---- ending a task everywhere -------------------------------------------- */

/* One round: takes `key`'s entry out of the first open registry that has
 * one (marking it busy, which keeps it alive); false when none has. */
static bool take_task_entry(void *key, dbc_scope **where, dbconn_session **s,
                            dbc_tlink **link) {
    bool found = false;
    pthread_mutex_lock(&open_scopes_lock);
    for (dbc_list *n = dbc_list_first(&open_scopes); n && !found;
         n = dbc_list_next(&open_scopes, n)) {
        dbc_scope *sc = DBC_LIST_ENTRY(n, dbc_scope, open_link);
        uv_mutex_lock(&sc->lock);
        dbc_hslot *slot = sc->closed ? NULL : dbc_hmap_find(&sc->map, key);
        if (slot) {
            *s = take_entry(sc, slot, link);
            busy_enter(sc);
            *where = sc;
            found = true;
        }
        uv_mutex_unlock(&sc->lock);
    }
    pthread_mutex_unlock(&open_scopes_lock);
    return found;
}

int dbconn_task_end(void *task) {
    DBC_REFUSE_IN_CALLOUT("dbconn_task_end");
    if (!task)
        return dbc_fail(DBCONN_EINVAL, "dbconn_task_end: task is NULL");
    int closed = 0;
    dbc_scope *sc;
    dbconn_session *s;
    dbc_tlink *link;
    /* A session is freed with no lock held (it does I/O and takes the
     * engine's locks), so one per round.  A task has at most one session
     * per dbconn: the rounds end unless the task makes sessions meanwhile
     * (then those are its own business). */
    while (take_task_entry(task, &sc, &s, &link)) {
        free_entry(s, link);
        busy_leave(sc);
        if (closed < INT_MAX)
            closed++;
    }
    return closed;
}

void dbconn_task_close_cb(uv_handle_t *handle) {
    if (handle)
        (void)dbconn_task_end(handle);
}

/* ---- thread-exit cleanup (called by task.c) ----------------------------- */

static void pin(void *owner) { busy_enter(owner); }

static void drop_thread(void *owner, void *key, dbc_trec *rec) {
    dbc_scope *sc = owner;
    dbconn_session *s = NULL;
    dbc_tlink *link = NULL;
    uv_mutex_lock(&sc->lock);
    dbc_hslot *slot = dbc_hmap_find(&sc->map, key);
    /* The entry must still be the one linked to rec: a concurrent remove or
     * close may have taken it (and its link) already. */
    if (slot && slot->aux && ((dbc_tlink *)slot->aux)->rec == rec)
        s = take_entry(sc, slot, &link);
    uv_mutex_unlock(&sc->lock);
    if (s) {
        dbc_session_free(s);
        dbc_tlink_free(link);
    }
    busy_leave(sc);
}

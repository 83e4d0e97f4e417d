/* The async layer's state: a dbconn's (dbc_async), each session's
 * (dbc_async_session) and each operation's (dbc_op), and the small
 * lifetimes of these (state.c).
 *
 * The flow, one file a step, each calling only the ones before it:
 *   state -> ops (outcomes, the done list) -> deliver (callbacks) ->
 *   park (waiting for a connection or the gate) -> finish (the end of a
 *   close) -> job (a session's queue on a worker) -> schedule (the loop's
 *   side: starting jobs, grants, timers) -> close -> api (submission).
 *
 * Every session with async work has a FIFO of submitted operations and a
 * state.  On the loop thread, the scheduler gets the session a pooled
 * connection and, when its next statement writes, the write gate --
 * parking it when either must wait -- and then runs its queue in one job:
 * on a thread-pool worker (threadpool policy) or right there (inline).
 * The job drains the queue while it holds the connection, so operations
 * submitted back to back cost one hop.  Completed operations go to the
 * dbconn's done list and their callbacks run on the loop thread, in the
 * task that submitted them, never from inside a submitting call.
 *
 * Threads: the op queues, the done list and the ready list are guarded by
 * a->lock (workers and releasing threads touch them); everything else is
 * the loop thread's.  States move only on the loop thread, except that a
 * parked session's grant arrives from whichever thread released the
 * resource (the ready list) and is picked up by the loop -- or, for the
 * write gate, by the worker that released it (chaining, job.c): that
 * worker marks the session stolen under a->lock and runs its queue; the
 * loop leaves a stolen session alone (dbc_async_unpark says DBC_TAKEN) and
 * settles it when the stealing job's after_work runs. */
#ifndef DBCONN_ASYNC_STATE_H
#define DBCONN_ASYNC_STATE_H

#include <uv.h>

#include "async/sqltext.h"
#include "engine/engine.h"
#include "engine/waiter.h"
#include "session/session.h"
#include "util/list.h"

enum { DBC_OP_EXEC, DBC_OP_COMMIT, DBC_OP_ROLLBACK, DBC_OP_CALL };

/* An operation of a layer above (init_db, the active-record layer's bulk
 * work) that runs as one op of a session's queue. */
typedef struct dbc_call {
    /* On the job's thread, with the session holding its connection and
     * its transaction begun in `begin_mode`: 0, a DBCONN_E* code recorded
     * on the session, or DBC_RETRY to be run again later. */
    int (*run)(dbconn_session *s, void *arg);
    /* On the loop thread just before the callback, when run succeeded:
     * 0, or a failure (recorded on the thread) the callback gets. */
    int (*settle)(void *arg);
    /* Frees arg, after the callback (NULL: nothing to free). */
    void (*free)(void *arg);
    void *arg;
    int begin_mode; /* DBCONN_BEGIN_* */
} dbc_call;

/* A DBC_OP_CALL's own part, allocated with it (calls are rare: the
 * common op stays small). */
typedef struct dbc_op_call {
    dbc_call call;
    dbconn_session *own;    /* internal session, freed after the callback */
} dbc_op_call;

/* One operation of a session's queue: kept small (it lives as long as it
 * is queued).  An exec's parameters (and the bytes of its text and blob
 * values) follow the struct in the same allocation; its SQL is the
 * engine's one copy of that text (sqltext.h). */
typedef struct dbc_op dbc_op;
struct dbc_op {
    dbc_op *next;
    dbconn_session *s;      /* submitter; NULL once that session is freed */
    void *task;             /* current task at submission */
    union {
        dbconn_exec_cb exec; /* DBC_OP_EXEC */
        dbconn_done_cb done; /* the others */
    } cb;
    void *data;
    union {
        const char *sql;    /* DBC_OP_EXEC: interned (a->texts), held;
                               also the statement cache's fast-path key */
        dbc_op_call *call;  /* DBC_OP_CALL: owned */
    } u;
    union {
        dbconn_result *res; /* status >= 0: the result (DBC_OP_EXEC) */
        char *errmsg;       /* status < 0: the message, owned */
    } out;
    uint32_t nparams;
    int status;
    int native;
    unsigned char type;
    bool io_done;           /* loop policy: its outcome is known (it failed
                               before it could be sent); it completes when
                               the ops sent before it have */
};

/* An exec's parameters, right after the op. */
static inline dbconn_value *dbc_op_params(const dbc_op *op) {
    return op->nparams ? (dbconn_value *)(void *)(op + 1) : NULL;
}

enum { AS_IDLE, AS_PARKED_POOL, AS_PARKED_GATE, AS_PARKED_RETRY, AS_GRANTED,
       AS_THROTTLED, AS_RUNNING,
       AS_IO /* loop policy: ops sent, their outcomes awaited (io.c) */ };

typedef struct dbc_async dbc_async;
typedef struct dbc_async_session dbc_async_session;

struct dbc_async_session {
    dbc_async *a;
    dbconn_session *s;
    dbc_op *head, *tail;     /* submitted, not run yet (a->lock) */
    dbc_op *running;         /* the op a job is executing (a->lock) */
    dbc_op *job_last;        /* last op queued when the job started: up to
                                here the work is in flight (a->lock) */
    dbc_waiter pool_w, gate_w;
    void *grant;             /* what ready() handed over (a->lock) */
    uint64_t busy_since;     /* uv_hrtime() of its first lock conflict */
    uint64_t deadline;       /* uv_hrtime() limit while parked */
    dbc_async_session *chain; /* what this job ran after its own session:
                                 the worker's until after_work */
    dbc_async_session *cnext;
    dbc_async_session *rnext; /* ready list (a->lock) */
    dbc_async_session *qnext; /* throttled queue */
    dbc_async_session *snext; /* start list */
    dbc_list parked;          /* its parked list while parked */
    dbc_list all;             /* every session with async state */
    size_t ndone;            /* its ops in the done list (a->lock) */
    uv_work_t work;
    /* Loop policy (io.c): the socket's watcher, the ops sent whose
     * outcome has not been taken (up to job_last), and whether what was
     * sent last must be the last until those outcomes are in. */
    uv_poll_t *poll;
    int poll_fd;
    int poll_events;
    /* Loop policy: an autocommit batch ended and the session kept its
     * connection so that the next statement of an awaited chain finds it
     * (and its armed watcher); given back at the end of the loop turn
     * unless a statement followed (a->kept list). */
    bool release_due;
    dbc_async_session *kept_next;
    unsigned nsent;
    bool io_boundary;
    int state;
    int grant_kind;          /* AS_PARKED_POOL / AS_PARKED_GATE */
    int busy_tries;          /* retries so far for that op */
    int plist;               /* which parked list: state - AS_PARKED_POOL */
    bool need_gate;          /* the next op must wait for the write gate */
    bool retry;              /* the next op met another connection's lock */
    bool pc_fresh;           /* s->pc not prepared yet (connect/recycle/ping) */
    bool cancelled;          /* unparked too late: release the grant */
    bool stolen;             /* a job of another session runs it (a->lock) */
    bool no_steal;           /* the loop took it out of its wait: no job may
                                run it before the loop has seen it (a->lock) */
    bool free_pending;       /* the session was closed while busy */
    bool to_start;           /* on the start list */
};

/* The loop callbacks of the scheduler (schedule.c), given at creation. */
typedef struct dbc_async_loop_cbs {
    uv_async_cb on_wake;
    uv_timer_cb on_timer;
    uv_idle_cb on_start;
    /* After the loop policy's outcomes were taken (io.c): `idle` when the
     * session's connection left that mode (the session is AS_IDLE). */
    void (*after_io)(dbc_async_session *as, bool idle);
} dbc_async_loop_cbs;

struct dbc_async {
    dbconn *db;
    uv_loop_t *loop;
    uv_thread_t thread;      /* the loop's thread: submissions come from it */
    dbc_async_loop_cbs cbs;
    uv_async_t wake;
    uv_timer_t timer;
    uv_idle_t starter;       /* starts the jobs of this loop turn's submits */
    uv_timer_t upkeep;       /* the pool's periodic upkeep (idle reaper,
                                hold warnings); unreferenced */
    dbc_async_session *start_list, *start_tail; /* in submission order */
    int handles_open;
    uv_mutex_t lock;
    dbc_op *done_head, *done_tail;   /* a->lock */
    dbc_async_session *ready;        /* a->lock */
    dbc_async_session *qhead, *qtail; /* throttled */
    dbc_async_session *kept;  /* release_due sessions (loop thread) */
    dbc_list parked[3];      /* one list per kind of wait (pool, gate,
                                retry), each in deadline order */
    dbc_list all;            /* dbc_async_session.all */
    dbc_sqltexts texts;      /* the SQL of queued execs (loop thread) */
    size_t pending;          /* accepted ops whose callback has not run */
    int inflight, max_inflight;
    uint64_t jobs, peak, chained; /* stats (a->lock) */
    int grants_expected;     /* cancelled parks whose grant is on its way */
    int delivering;
    bool inline_policy;
    bool loop_policy;        /* the driver's io entries run the execs */
    int io_inflight;         /* sessions in AS_IO */
    bool closing, torn_down;
    int close_err;
    dbconn_done_cb close_cb;
    void *close_data;
};

#define CONTAINER(ptr, type, field)                                             \
    ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* Makes db's async state on the calling thread (which must run the loop). */
int dbc_async_state_new(dbconn *db, const dbc_async_loop_cbs *cbs,
                        dbc_async **out);
/* s's async state, made on first use and installing `hooks` on s; NULL
 * when out of memory. */
dbc_async_session *dbc_async_state_of(dbconn_session *s, dbc_async *a,
                                      const dbc_session_hooks *hooks);
/* Closes as's socket watcher (loop policy), if it has one. */
void dbc_async_close_poll(dbc_async_session *as);
/* Frees a session's (idle) async state; its finished ops forget it. */
void dbc_async_free_state(dbc_async_session *as);
/* Keeps the loop alive exactly while some accepted op awaits its
 * callback (like a uv_work_t would), or while close is in progress. */
void dbc_async_update_ref(dbc_async *a);
/* Runs start-ups, deliveries and close steps in a coming loop turn (the
 * loop thread only; other threads uv_async_send the wake). */
void dbc_async_kick(dbc_async *a);
/* Counts a job about to start (a->lock held). */
void dbc_async_count_job_locked(dbc_async *a);
/* Async counters of dbconn_pool_stats (any thread). */
void dbc_async_stats(dbconn *db, dbconn_stats *st);

#endif

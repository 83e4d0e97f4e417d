/* Private to the async layer (async*.c): its state and the seams between
 * its files.
 *
 * Every session with async work has a dbc_async_session: a FIFO of submitted
 * operations and a state.  On the loop thread, dbc_async_schedule() gets the
 * session a pooled connection and, when its next statement writes, the write
 * gate -- parking it when either must wait (async_park.c) -- and then runs
 * its queue in one job: on a thread-pool worker (threadpool policy) or right
 * there (inline policy) (async_run.c).  The job drains the queue while it
 * holds the connection, so operations submitted back to back cost one hop.
 * Completed operations go to the dbconn's done list and their callbacks run
 * on the loop thread, in the task that submitted them, never from inside a
 * submitting call (async_ops.c).  async.c owns the lifetimes.
 *
 * Threads: the op queues, the done list and the ready list are guarded by
 * a->lock (workers and releasing threads touch them); everything else is the
 * loop thread's.  States move only on the loop thread, except that a parked
 * session's grant arrives from whichever thread released the resource
 * (ready callbacks) and is picked up by dbc_async_on_wake() -- or, for the
 * write gate, by the worker that released it (chaining, async_run.c): that
 * worker marks the session stolen under a->lock and runs its queue; the
 * loop leaves a stolen session alone (dbc_async_unpark says DBC_TAKEN) and
 * settles it when the stealing job's after_work runs. */
#ifndef DBCONN_ASYNC_INT_H
#define DBCONN_ASYNC_INT_H

#include "async/async.h"

enum { AS_IDLE, AS_PARKED_POOL, AS_PARKED_GATE, AS_PARKED_RETRY, AS_GRANTED,
       AS_THROTTLED, AS_RUNNING };

typedef struct dbc_async dbc_async; /* the dbconn's async state */
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
    dbc_async_session *rnext;          /* ready list (a->lock) */
    dbc_async_session *qnext;          /* throttled queue */
    dbc_async_session *pprev, *pnext;  /* parked list */
    dbc_async_session *aprev, *anext;  /* every session with async state */
    dbc_async_session *snext;          /* start list */
    size_t ndone;            /* its ops in the done list (a->lock) */
    uv_work_t work;
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

struct dbc_async {
    dbconn *db;
    uv_loop_t *loop;
    uv_thread_t thread;      /* the loop's thread: submissions come from it */
    uv_async_t wake;
    uv_timer_t timer;
    uv_idle_t starter;       /* starts the jobs of this loop turn's submits */
    dbc_async_session *start_list, *start_tail; /* in submission order */
    int handles_open;
    uv_mutex_t lock;
    dbc_op *done_head, *done_tail;   /* a->lock */
    dbc_async_session *ready;        /* a->lock */
    dbc_async_session *qhead, *qtail; /* throttled */
    struct {                 /* one list per kind of wait (pool, gate,
                                retry), each in deadline order */
        dbc_async_session *head, *tail;
    } parked[3];
    dbc_async_session *all;
    size_t pending;          /* accepted ops whose callback has not run */
    int inflight, max_inflight;
    uint64_t jobs, peak, chained; /* stats (a->lock) */
    int grants_expected;     /* cancelled parks whose grant is on its way */
    int delivering;
    bool inline_policy;
    bool closing, torn_down;
    int close_err;
    dbconn_done_cb close_cb;
    void *close_data;
};

#define CONTAINER(ptr, type, field)                                             \
    ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* async_ops.c: ops, the done list, callbacks */
void dbc_async_update_ref(dbc_async *a);
void dbc_async_push_done_locked(dbc_async *a, dbc_op *op);
void dbc_op_set_outcome(dbc_op *op, int status, dbconn_result *res,
                        const char *msg, int native);
dbc_op *dbc_async_pop_head_locked(dbc_async_session *as);
void dbc_async_complete_head(dbc_async_session *as, int status);
void dbc_async_cancel_queued(dbc_async_session *as, const char *why);
void dbc_async_deliver(dbc_async *a);

/* async_park.c: waiting for a connection or the gate without blocking */
void dbc_async_rearm_timer(dbc_async *a);
void dbc_async_park(dbc_async_session *as, int state, int timeout_ms);
void dbc_async_unlink_parked(dbc_async_session *as);
void dbc_async_pool_ready(dbc_waiter *w, void *resource);
void dbc_async_gate_ready(dbc_waiter *w, void *resource);
/* What dbc_async_unpark found: */
enum { DBC_UNPARKED,   /* it was waiting: now AS_IDLE */
       DBC_GRANTED,    /* the grant is on its way: now AS_GRANTED */
       DBC_TAKEN };    /* a job took the grant and runs it: now AS_RUNNING */
int dbc_async_unpark(dbc_async_session *as);
/* Waits (on the timer, no thread blocked) before trying a locked op again,
 * with SQLite's back-off schedule, until busy_timeout_ms. */
void dbc_async_park_retry(dbc_async_session *as);
void dbc_async_on_timer(uv_timer_t *t);
void dbc_async_on_wake(uv_async_t *h);
void dbc_async_pool_ready_quiet(dbc_waiter *w, void *resource);
void dbc_async_gate_ready_quiet(dbc_waiter *w, void *resource);
/* Puts the grants of the ready list to work (the loop thread): called by
 * the wake, and after every job, whose releases hand over quietly. */
void dbc_async_process_ready(dbc_async *a);

/* async_run.c: jobs */
void dbc_async_schedule(dbc_async_session *as);
void dbc_async_start_throttled(dbc_async *a);
void dbc_async_start_later(dbc_async_session *as);
/* Runs start-ups, deliveries and close steps in a coming loop turn (the
 * loop thread only; other threads uv_async_send the wake). */
void dbc_async_kick(dbc_async *a);

/* async.c: lifetimes */
void dbc_async_free_state(dbc_async_session *as);
void dbc_async_finish_free(dbc_async_session *as);
void dbc_async_maybe_finish_close(dbc_async *a);

#endif

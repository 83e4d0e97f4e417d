/* Jobs (job.c): what a session can run without waiting runs in one job, on
 * a thread-pool worker or inline on the loop thread.  A job drains its
 * session's queue while it holds the connection, and a worker whose commit
 * hands the write gate to a parked session runs that session's queue too
 * (chaining). */
#ifndef DBCONN_ASYNC_JOB_H
#define DBCONN_ASYNC_JOB_H

#include "async/state.h"

/* The thread-pool job of as (uv_queue_work's work callback). */
void dbc_async_work_cb(uv_work_t *req);
/* The same work on the calling thread (inline policy), without chaining. */
void dbc_async_run_ops(dbc_async_session *as);

#endif

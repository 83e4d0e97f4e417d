/* The loop's side (schedule.c): gets each session with queued work a
 * connection and, for a write, the write gate -- parking it when either
 * must wait -- then starts its job; takes grants, timeouts and retries in;
 * finishes the sessions closed while busy.  Jobs start in the idle phase
 * of the loop turn that submitted them, at most UV_THREADPOOL_SIZE at
 * once. */
#ifndef DBCONN_ASYNC_SCHEDULE_H
#define DBCONN_ASYNC_SCHEDULE_H

#include "async/state.h"

/* db's async state, made on first use (the loop thread only: any other
 * thread gets DBCONN_EINVAL once it exists). */
int dbc_async_get(dbconn *db, dbc_async **out);
/* Moves as on as far as it can without waiting (the loop thread). */
void dbc_async_schedule(dbc_async_session *as);
/* Starts as in this loop turn's idle phase, after every submission the
 * turn makes (one hop for what is queued back to back). */
void dbc_async_start_later(dbc_async_session *as);

#endif

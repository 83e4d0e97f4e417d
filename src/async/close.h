/* Closing (close.c): a session with async state being freed or detached
 * (the hooks the async layer installs on it), and a dbconn's close while
 * async work is pending: queued work is cancelled, in-flight work
 * completes, the teardown finishes in later loop turns (finish.c). */
#ifndef DBCONN_ASYNC_CLOSE_H
#define DBCONN_ASYNC_CLOSE_H

#include "async/state.h"

/* The hooks every session with async state carries. */
extern const dbc_session_hooks dbc_async_session_hooks;

/* dbconn_close when the dbconn has async state (the bases are unbound):
 * cancels queued work and finishes the teardown in later loop turns (cb,
 * if any, when done).  Returns `first`, or the teardown's result when
 * nothing was pending and cb is NULL (then it happened inside the call). */
int dbc_async_close(dbconn *db, int first, dbconn_done_cb cb, void *data);

#endif

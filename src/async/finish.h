/* The end of a close (finish.c): once nothing of the async layer is in
 * flight, the last callbacks run, the dbconn is torn down and the libuv
 * handles are closed (their memory goes in a later loop turn). */
#ifndef DBCONN_ASYNC_FINISH_H
#define DBCONN_ASYNC_FINISH_H

#include "async/state.h"

/* Does the rest of a close when nothing is left in flight; a no-op
 * otherwise (called again after every job and delivery). */
void dbc_async_maybe_finish_close(dbc_async *a);

#endif

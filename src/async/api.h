/* Submission (api.c): the public async calls, and the one the layers above
 * use for their own operations. */
#ifndef DBCONN_ASYNC_API_H
#define DBCONN_ASYNC_API_H

#include "async/state.h"

/* Queues `call` (copied) as one operation of s's queue (the loop thread
 * only): call->run runs in a job with s holding its connection, then
 * call->settle and `cb` on the loop thread; `own` (may be NULL) is a
 * session freed after the callback.  On success the layer owns
 * call->arg (call->free releases it) and `own`; on failure (DBCONN_EINVAL
 * wrong thread, DBCONN_ECLOSED, DBCONN_ENOMEM; cb is never called) the
 * caller keeps both. */
int dbc_async_submit_call(dbconn_session *s, const dbc_call *call,
                          dbconn_session *own, dbconn_done_cb cb,
                          void *data);

#endif

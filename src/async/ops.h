/* Operations: their outcome, the queue of a session, the dbconn's done
 * list (ops.c). */
#ifndef DBCONN_ASYNC_OPS_H
#define DBCONN_ASYNC_OPS_H

#include "async/state.h"

/* Frees op and what it holds (its SQL's reference: on the loop thread). */
void dbc_op_free(dbc_async *a, dbc_op *op);
/* Records op's outcome; on failure keeps the message the callback will
 * read (through dbconn_errmsg and dbconn_session_errmsg). */
void dbc_op_set_outcome(dbc_op *op, int status, dbconn_result *res,
                        const char *msg, int native);
/* Moves a finished op to the done list (a->lock held). */
void dbc_async_push_done_locked(dbc_async *a, dbc_op *op);
/* Takes the head op of as off its queue as finished (a->lock held). */
dbc_op *dbc_async_pop_head_locked(dbc_async_session *as);
/* Finishes the head op on the loop thread with `status` (the session's
 * message on failure); its callback runs in a later turn. */
void dbc_async_complete_head(dbc_async_session *as, int status);
/* Queued (not running) ops of as get DBCONN_ECANCELED with `why`. */
void dbc_async_cancel_queued(dbc_async_session *as, const char *why);

#endif

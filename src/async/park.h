/* Waiting without blocking (park.c): a session that needs a pooled
 * connection or the write gate parks a waiter; the releasing thread hands
 * the resource over through the ready list and the wake handle; the timer
 * enforces pool_timeout_ms / busy_timeout_ms, and spaces out retries of an
 * op that met another connection's lock. */
#ifndef DBCONN_ASYNC_PARK_H
#define DBCONN_ASYNC_PARK_H

#include "async/state.h"

/* Sets the ready callbacks of a new session state's waiters. */
void dbc_async_park_init(dbc_async_session *as);
/* Parks as (state AS_PARKED_*) until its grant or timeout_ms from now. */
void dbc_async_park(dbc_async_session *as, int state, int timeout_ms);
/* Waits (on the timer, no thread blocked) before trying a locked op again,
 * with SQLite's back-off schedule, until busy_timeout_ms. */
void dbc_async_park_retry(dbc_async_session *as);
void dbc_async_unlink_parked(dbc_async_session *as);
/* The earliest parked deadline sets the timer (or stops it). */
void dbc_async_rearm_timer(dbc_async *a);
/* What dbc_async_unpark found: */
enum { DBC_UNPARKED,   /* it was waiting: now AS_IDLE */
       DBC_GRANTED,    /* the grant is on its way: now AS_GRANTED */
       DBC_TAKEN };    /* a job took the grant and runs it: now AS_RUNNING */
/* Takes as out of its wait (the loop thread). */
int dbc_async_unpark(dbc_async_session *as);
/* The sessions whose grant arrived (a->lock taken here), linked by rnext:
 * the caller puts them to work. */
dbc_async_session *dbc_async_take_ready(dbc_async *a);

#endif

/* Delivery: the callbacks of finished operations, on the loop thread, each
 * in the task that submitted it (deliver.c). */
#ifndef DBCONN_ASYNC_DELIVER_H
#define DBCONN_ASYNC_DELIVER_H

#include "async/state.h"

void dbc_async_deliver(dbc_async *a);

#endif

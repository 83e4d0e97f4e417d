/* The end of a close (see finish.h). */
#include "async/deliver.h"
#include "async/finish.h"
#include "util/alloc.h"

static void handle_closed(uv_handle_t *h) {
    dbc_async *a = h->data;
    if (--a->handles_open > 0)
        return;
    dbconn_done_cb cb = a->close_cb;
    void *data = a->close_data;
    int err = a->close_err;
    uv_mutex_destroy(&a->lock);
    dbc_sqltexts_free(&a->texts);
    dbc_free(a);
    if (cb)
        cb(err, data);
}

void dbc_async_maybe_finish_close(dbc_async *a) {
    if (!a->closing || a->torn_down || a->delivering || a->inflight ||
        a->io_inflight ||
        a->grants_expected || a->qhead)
        return;
    dbc_async_deliver(a); /* the cancelled ops, before the memory goes */
    if (a->delivering || a->inflight || a->io_inflight)
        return;
    a->torn_down = true;
    dbconn *db = a->db;
    db->async = NULL; /* sessions' states go with the teardown below */
    a->close_err = db->hooks->teardown(db, a->close_err);
    a->db = NULL;
    a->wake.data = a;
    a->timer.data = a;
    a->starter.data = a;
    a->upkeep.data = a;
    uv_close((uv_handle_t *)&a->wake, handle_closed);
    uv_close((uv_handle_t *)&a->timer, handle_closed);
    uv_close((uv_handle_t *)&a->starter, handle_closed);
    uv_close((uv_handle_t *)&a->upkeep, handle_closed);
}

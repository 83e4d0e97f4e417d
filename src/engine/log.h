/* Echo and warnings: one event per line through the user's log callback
 * (serialised) or the default stderr sink "dbconn.engine LEVEL line". */
#ifndef DBCONN_LOG_H
#define DBCONN_LOG_H

#include <uv.h>

#include "util/error.h"

typedef struct dbc_log {
    dbconn_log_fn fn;   /* NULL = stderr */
    void *data;
    uv_mutex_t lock;    /* serialises calls */
} dbc_log;

int dbc_log_init(dbc_log *l, dbconn_log_fn fn, void *data);
void dbc_log_destroy(dbc_log *l);
void dbc_log_line(dbc_log *l, int level, const char *line);
void dbc_log_printf(dbc_log *l, int level, const char *fmt, ...)
    DBC_PRINTF(3, 4);
const char *dbc_log_level_name(int level); /* "INFO", "WARNING", ... */

#endif

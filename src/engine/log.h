/* Echo and warnings: one event per line through the user's log callback
 * (serialised) or the default stderr sink "dbconn.engine LEVEL line". */
#ifndef DBCONN_LOG_H
#define DBCONN_LOG_H

#include <uv.h>

#include "util/error.h"

#define DBC_LOG_NAME_MAX 64 /* logging_name's longest (options.c checks) */

typedef struct dbc_log {
    dbconn_log_fn fn;   /* NULL = stderr */
    void *data;
    uv_mutex_t lock;    /* serialises calls */
    /* The engine's logging_name, "" for none: the logger is
     * "dbconn.engine.<name>" on stderr and a callback's lines start with
     * "[<name>] " (SQLAlchemy's sqlalchemy.engine.Engine.<name>). */
    char name[DBC_LOG_NAME_MAX + 1];
} dbc_log;

int dbc_log_init(dbc_log *l, dbconn_log_fn fn, void *data);
void dbc_log_destroy(dbc_log *l);
/* Copies `name` (NULL = none; cut at DBC_LOG_NAME_MAX bytes) as the
 * engine's logging_name; returns the copy, or NULL for none. */
const char *dbc_log_set_name(dbc_log *l, const char *name);
void dbc_log_line(dbc_log *l, int level, const char *line);
void dbc_log_printf(dbc_log *l, int level, const char *fmt, ...)
    DBC_PRINTF(3, 4);
const char *dbc_log_level_name(int level); /* "INFO", "WARNING", ... */

#endif

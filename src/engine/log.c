/* Log lines: the user's callback (serialised) or stderr. */
#include <stdarg.h>
#include <stdio.h>

#include "engine/log.h"
#include "util/callout.h"

int dbc_log_init(dbc_log *l, dbconn_log_fn fn, void *data) {
    l->fn = fn;
    l->data = data;
    return uv_mutex_init(&l->lock) ? dbc_nomem() : 0;
}

void dbc_log_destroy(dbc_log *l) { uv_mutex_destroy(&l->lock); }

const char *dbc_log_level_name(int level) {
    if (level >= DBCONN_LOG_ERROR)
        return "ERROR";
    if (level >= DBCONN_LOG_WARN)
        return "WARNING";
    if (level >= DBCONN_LOG_INFO)
        return "INFO";
    return "DEBUG";
}

void dbc_log_line(dbc_log *l, int level, const char *line) {
    uv_mutex_lock(&l->lock);
    if (l->fn) {
        unsigned char prev = dbc_callout_enter(DBC_CALLOUT_LOG);
        l->fn(l->data, level, line);
        dbc_callout_leave(prev);
    } else
        (void)fprintf(stderr, "dbconn.engine %s %s\n", /* best effort */
                      dbc_log_level_name(level), line);
    uv_mutex_unlock(&l->lock);
}

void dbc_log_printf(dbc_log *l, int level, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap); /* a long line is cut */
    va_end(ap);
    dbc_log_line(l, level, line);
}

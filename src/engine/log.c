/* Log lines: the user's callback (serialised) or stderr. */
#include <stdarg.h>
#include <stdio.h>

#include "engine/log.h"
#include "util/buf.h"
#include "util/callout.h"

int dbc_log_init(dbc_log *l, dbconn_log_fn fn, void *data) {
    l->fn = fn;
    l->data = data;
    l->name[0] = '\0';
    return uv_mutex_init(&l->lock) ? dbc_nomem() : 0;
}

void dbc_log_destroy(dbc_log *l) { uv_mutex_destroy(&l->lock); }

const char *dbc_log_set_name(dbc_log *l, const char *name) {
    (void)snprintf(l->name, sizeof l->name, "%s", name ? name : "");
    return l->name[0] ? l->name : NULL;
}

/* The user's callback with "[<name>] " before the line when the engine has
 * a logging_name (out of memory: the line as it is). */
static void call_sink(dbc_log *l, int level, const char *line) {
    dbc_buf b = DBC_BUF_INIT;
    if (l->name[0])
        dbc_buf_printf(&b, "[%s] %s", l->name, line);
    unsigned char prev = dbc_callout_enter(DBC_CALLOUT_LOG);
    l->fn(l->data, level, l->name[0] && !b.oom ? b.data : line);
    dbc_callout_leave(prev);
    dbc_buf_free(&b);
}

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
    if (l->fn)
        call_sink(l, level, line);
    else
        (void)fprintf(stderr, "dbconn.engine%s%s %s %s\n", /* best effort */
                      l->name[0] ? "." : "", l->name,
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

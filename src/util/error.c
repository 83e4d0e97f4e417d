/* Error codes (one X-macro table in dbconn.h) and the thread-local last
 * failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static _Thread_local char last_msg[DBC_ERRMSG_MAX];
static _Thread_local int last_native;
static _Thread_local char last_sqlstate[6];

const char *dbconn_strerror(int code) {
    switch (code) {
#define XX(name, value, msg)                                                    \
    case DBCONN_##name:                                                         \
        return msg;
        DBCONN_ERRNO_MAP(XX)
#undef XX
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *dbconn_err_name(int code) {
    switch (code) {
#define XX(name, value, msg)                                                    \
    case DBCONN_##name:                                                         \
        return "DBCONN_" #name;
        DBCONN_ERRNO_MAP(XX)
#undef XX
    case 0:
        return "DBCONN_OK";
    default:
        return "DBCONN_UNKNOWN";
    }
}

static int vfail(int code, int native, const char *fmt, va_list ap) {
    (void)vsnprintf(last_msg, sizeof last_msg, fmt, ap); /* truncates */
    last_native = native;
    last_sqlstate[0] = '\0';
    return code;
}

int(dbc_fail)(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int(dbc_fail_native)(int code, int native, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(code, native, fmt, ap);
    va_end(ap);
    return code;
}

int(dbc_nomem)(void) {
    strcpy(last_msg, "out of memory");
    last_native = 0;
    last_sqlstate[0] = '\0';
    return DBCONN_ENOMEM;
}

void dbc_set_sqlstate(const char *state) {
    size_t n = state ? strnlen(state, 5) : 0;
    memcpy(last_sqlstate, state ? state : "", n);
    last_sqlstate[n] = '\0';
}

const char *dbc_last_sqlstate(void) { return last_sqlstate; }

const char *dbc_last_msg(void) { return last_msg; }
int dbc_last_native(void) { return last_native; }

const char *dbconn_errmsg(const dbconn *db) {
    (void)db; /* thread-local by contract: the calling thread's last failure */
    return last_msg;
}

int dbconn_db_errcode(const dbconn *db) {
    (void)db;
    return last_native;
}

const char *dbconn_sqlstate(const dbconn *db) {
    (void)db; /* thread-local, like dbconn_errmsg */
    return last_sqlstate;
}

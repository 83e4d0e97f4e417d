/* The calling thread's last failure: code, native driver code, message. */
#ifndef DBCONN_ERROR_H
#define DBCONN_ERROR_H

#include "dbconn.h"

#define DBC_ERRMSG_MAX 1024

#if defined(__GNUC__) || defined(__clang__)
#  define DBC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define DBC_PRINTF(f, a)
#endif

/* Records a failure on this thread and returns `code` (so callers can write
 * `return dbc_fail(DBCONN_EURL, "...", ...)`).  The message is truncated to
 * DBC_ERRMSG_MAX - 1 bytes. */
int dbc_fail(int code, const char *fmt, ...) DBC_PRINTF(2, 3);
/* Same, with the driver's native code (read back by dbconn_db_errcode). */
int dbc_fail_native(int code, int native, const char *fmt, ...)
    DBC_PRINTF(3, 4);
/* ENOMEM with a fixed message (allocates nothing). */
int dbc_nomem(void);
/* The failure recorders return their `code` argument; these wrappers let
 * static analysers see that (so `return dbc_fail(...)` is known to be an
 * error path).  error.c defines the functions as (dbc_fail) etc. */
static inline int dbc_code_(int code, int ignored) {
    (void)ignored;
    return code;
}
#define dbc_fail(code, ...) dbc_code_((code), dbc_fail((code), __VA_ARGS__))
#define dbc_fail_native(code, native, ...)                                      \
    dbc_code_((code), dbc_fail_native((code), (native), __VA_ARGS__))
#define dbc_nomem() dbc_code_(DBCONN_ENOMEM, dbc_nomem())

/* This thread's last message / native code. */
const char *dbc_last_msg(void);
int dbc_last_native(void);
/* A server driver's SQLSTATE for the failure just recorded (after
 * dbc_fail_native): 5 characters, or "" / NULL for none.  Every dbc_fail*
 * clears it. */
void dbc_set_sqlstate(const char *state);
/* This thread's last SQLSTATE: "" when the last failure had none. */
const char *dbc_last_sqlstate(void);

#endif

/* The thread's running callout (see callout.h). */
#include "util/callout.h"
#include "util/error.h"

#if defined(__GNUC__) || defined(__clang__)
_Thread_local __attribute__((tls_model("initial-exec")))
unsigned char dbc_callout_now;
#else
_Thread_local unsigned char dbc_callout_now;
#endif

static const char *callout_name(unsigned char kind) {
    switch (kind) {
    case DBC_CALLOUT_LOG:
        return "the log callback (dbconn_options.log)";
    case DBC_CALLOUT_SCOPEFUNC:
        return "the scope function (dbconn_options.scopefunc)";
    case DBC_CALLOUT_ALLOC:
        return "an allocator hook (dbconn_set_allocator)";
    default:
        return "a library callout";
    }
}

int(dbc_callout_refuse)(const char *what) {
    return dbc_fail(DBCONN_EINVAL,
                    "%s: called from inside %s, which must not call back into "
                    "libdbconn (the call it interrupted may hold locks, a "
                    "connection or a statement); do the work after it returns",
                    what, callout_name(dbc_callout_now));
}

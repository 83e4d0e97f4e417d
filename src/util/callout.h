/* Calls out of the library into user code that must not call back in: the
 * log callback, the scope function and the allocator hooks.  The library
 * may hold a lock, a connection or a statement while one runs, so while it
 * runs on a thread, the library's entry points refuse on that thread
 * (DBCONN_EINVAL naming the callout) instead of deadlocking or freeing what
 * the interrupted call still uses.  Pure functions (messages, error names,
 * result getters, URL accessors, the current task) stay allowed. */
#ifndef DBCONN_CALLOUT_H
#define DBCONN_CALLOUT_H

#include <stdbool.h>

#include "util/error.h"

typedef enum dbc_callout {
    DBC_CALLOUT_NONE = 0,
    DBC_CALLOUT_LOG,       /* dbconn_options.log */
    DBC_CALLOUT_SCOPEFUNC, /* dbconn_options.scopefunc */
    DBC_CALLOUT_ALLOC      /* dbconn_set_allocator's hooks */
} dbc_callout;

/* The callout running on this thread (DBC_CALLOUT_NONE: none).  Read on
 * the statement path, hence a plain thread-local with the cheapest model. */
#if defined(__GNUC__) || defined(__clang__)
extern _Thread_local __attribute__((tls_model("initial-exec")))
unsigned char dbc_callout_now;
#else
extern _Thread_local unsigned char dbc_callout_now;
#endif

static inline unsigned char dbc_callout_enter(dbc_callout kind) {
    unsigned char prev = dbc_callout_now;
    dbc_callout_now = (unsigned char)kind;
    return prev;
}

static inline void dbc_callout_leave(unsigned char prev) {
    dbc_callout_now = prev;
}

static inline bool dbc_in_callout(void) { return dbc_callout_now != 0; }

/* Records and returns DBCONN_EINVAL: `what` was called from inside the
 * callout running on this thread. */
int dbc_callout_refuse(const char *what);
/* (Lets static analysers see the code it returns, as error.h does.) */
#define dbc_callout_refuse(what)                                                \
    dbc_code_(DBCONN_EINVAL, dbc_callout_refuse(what))

/* `return DBC_REFUSE_IN_CALLOUT("dbconn_x");` at the top of an entry
 * point. */
#define DBC_REFUSE_IN_CALLOUT(what)                                             \
    do {                                                                        \
        if (dbc_in_callout())                                                   \
            return dbc_callout_refuse(what);                                    \
    } while (0)

#endif

/* Loading libpq (see pg_lib.h). */
#define DBC_PQ_REAL_NAMES
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "driver/postgres/pg_lib.h"
#include "util/error.h"

#ifndef DBCONN_LIBPQ_SONAME
#define DBCONN_LIBPQ_SONAME "libpq.so.5"
#endif

/* Each entry of the table has the type libpq-fe.h declares (the operand
 * of _Generic is not evaluated: nothing here links to libpq). */
/* ret(*) params is a type: it cannot be parenthesized.
 * NOLINTBEGIN(bugprone-macro-parentheses) */
#define DBC_PQ_CHECK(ret, name, params)                                         \
    _Static_assert(_Generic(&name, ret(*) params: 1, default: 0),             \
                   #name ": the table's type differs from libpq-fe.h's");
DBC_PQ_FUNCS(DBC_PQ_CHECK)
#undef DBC_PQ_CHECK
/* NOLINTEND(bugprone-macro-parentheses) */

_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
               "dlsym's object pointers must hold function pointers");

dbc_pq_table dbc_pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[DBC_ERRMSG_MAX]; /* "" once loaded */

/* Where each function's pointer goes in the table. */
static const struct {
    const char *name;
    size_t offset;
} syms[] = {
#define DBC_PQ_SYM(ret, name, params) {#name, offsetof(dbc_pq_table, name)},
    DBC_PQ_FUNCS(DBC_PQ_SYM)
#undef DBC_PQ_SYM
};

/* Fills *t from `soname`; a reason in err otherwise (t partly filled). */
static int load_into(const char *soname, dbc_pq_table *t, char *err,
                     size_t cap) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        (void)snprintf(err, cap, "%s", why ? why : soname);
        return -1;
    }
    const char *missing = NULL;
    for (size_t i = 0; i < sizeof syms / sizeof syms[0] && !missing; i++) {
        void *sym = dlsym(h, syms[i].name);
        if (sym)
            memcpy((char *)t + syms[i].offset, &sym, sizeof sym);
        else
            missing = syms[i].name;
    }
    if (missing) {
        (void)snprintf(err, cap, "%s has no function %s (libpq older than "
                       "the one this driver was built with)", soname,
                       missing);
        dlclose(h);
        return -1;
    }
    /* Kept open for the life of the process: the table's pointers point
     * into it, and a dlclose() at exit would race other threads' calls. */
    // cppcheck-suppress resourceLeak
    return 0;
}

static void load_once(void) {
    dbc_pq_table t;
    if (load_into(DBCONN_LIBPQ_SONAME, &t, load_error, sizeof load_error) == 0)
        dbc_pq = t;
    else if (!load_error[0])
        (void)snprintf(load_error, sizeof load_error, "unknown reason");
}

static int refuse(const char *why) {
    return dbc_fail(DBCONN_ENODRIVER,
                    "postgresql: cannot load libpq: %s (install the Debian "
                    "package libpq5)", why);
}

int dbc_pq_load(void) {
    pthread_once(&once, load_once);
    return load_error[0] ? refuse(load_error) : 0;
}

int dbc_pq_try_load(const char *soname) {
    dbc_pq_table t;
    char err[DBC_ERRMSG_MAX] = "";
    return load_into(soname, &t, err, sizeof err) == 0 ? 0 : refuse(err);
}

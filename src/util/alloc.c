/* Allocator hooks (dbconn_set_allocator) and the helpers every module uses. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dbconn.h"
#include "util/alloc.h"
#include "util/callout.h"

static dbconn_allocator hooks = {malloc, calloc, realloc, free};
/* The user's hooks are in force: each call is a callout (callout.h).  The C
 * library's functions are called directly. */
static bool custom;

void dbconn_set_allocator(const dbconn_allocator *a, dbconn_allocator *prev) {
    if (prev)
        *prev = hooks;
    if (a)
        hooks = *a;
    else
        hooks = (dbconn_allocator){malloc, calloc, realloc, free};
    custom = hooks.malloc_fn != malloc || hooks.calloc_fn != calloc ||
             hooks.realloc_fn != realloc || hooks.free_fn != free;
}

void *dbc_malloc(size_t size) {
    if (!custom)
        return malloc(size ? size : 1);
    unsigned char prev = dbc_callout_enter(DBC_CALLOUT_ALLOC);
    void *p = hooks.malloc_fn(size ? size : 1);
    dbc_callout_leave(prev);
    return p;
}

void *dbc_calloc(size_t count, size_t size) {
    if (!custom)
        return calloc(count ? count : 1, size ? size : 1);
    unsigned char prev = dbc_callout_enter(DBC_CALLOUT_ALLOC);
    void *p = hooks.calloc_fn(count ? count : 1, size ? size : 1);
    dbc_callout_leave(prev);
    return p;
}

void *dbc_realloc(void *ptr, size_t size) {
    if (!custom)
        return realloc(ptr, size ? size : 1);
    unsigned char prev = dbc_callout_enter(DBC_CALLOUT_ALLOC);
    void *p = hooks.realloc_fn(ptr, size ? size : 1);
    dbc_callout_leave(prev);
    return p;
}

void dbc_free(void *ptr) {
    if (!ptr)
        return;
    if (!custom) {
        free(ptr);
        return;
    }
    unsigned char prev = dbc_callout_enter(DBC_CALLOUT_ALLOC);
    hooks.free_fn(ptr);
    dbc_callout_leave(prev);
}

dbc_free_fn dbc_current_free(void) { return hooks.free_fn; }

void dbconn_free(void *p) { dbc_free(p); }

char *dbc_strndup(const char *s, size_t n) {
    if (!s)
        return NULL;
    char *d = dbc_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *dbc_strdup(const char *s) { return s ? dbc_strndup(s, strlen(s)) : NULL; }

/* Allocator hooks (dbconn_set_allocator) and the helpers every module uses. */
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "dbconn.h"

static dbconn_allocator hooks = {malloc, calloc, realloc, free};

void dbconn_set_allocator(const dbconn_allocator *a, dbconn_allocator *prev) {
    if (prev)
        *prev = hooks;
    if (a)
        hooks = *a;
    else
        hooks = (dbconn_allocator){malloc, calloc, realloc, free};
}

void *dbc_malloc(size_t size) { return hooks.malloc_fn(size ? size : 1); }

void *dbc_calloc(size_t count, size_t size) {
    return hooks.calloc_fn(count ? count : 1, size ? size : 1);
}

void *dbc_realloc(void *ptr, size_t size) {
    return hooks.realloc_fn(ptr, size ? size : 1);
}

void dbc_free(void *ptr) {
    if (ptr)
        hooks.free_fn(ptr);
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

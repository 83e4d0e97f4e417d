/* A growable NUL-terminated string builder.  On allocation failure the
 * buffer remembers it (b->oom) and later appends do nothing, so a sequence of
 * appends needs one check at the end. */
#ifndef DBCONN_BUF_H
#define DBCONN_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct dbc_buf {
    char *data; /* NUL-terminated when len > 0 or cap > 0 */
    size_t len;
    size_t cap;
    bool oom;
} dbc_buf;

#define DBC_BUF_INIT {NULL, 0, 0, false}

void dbc_buf_append(dbc_buf *b, const char *s, size_t n);
void dbc_buf_puts(dbc_buf *b, const char *s);
void dbc_buf_putc(dbc_buf *b, char c);
void dbc_buf_printf(dbc_buf *b, const char *fmt, ...) DBC_PRINTF(2, 3);
/* Returns the string (owned by the caller, dbc_free) and resets b; NULL after
 * an allocation failure (b is then freed). */
char *dbc_buf_take(dbc_buf *b);
void dbc_buf_reset(dbc_buf *b); /* len = 0, keeps the memory */
void dbc_buf_free(dbc_buf *b);

#endif

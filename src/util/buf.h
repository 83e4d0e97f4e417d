/* The one string builder, in two modes:
 *  - growable (DBC_BUF_INIT): NUL-terminated, grows as needed; on
 *    allocation failure it remembers it (b->oom) and later appends do
 *    nothing, so a sequence of appends needs one check at the end;
 *  - fixed (dbc_buf_fixed): writes into a caller's buffer, snprintf-style:
 *    what fits is stored and NUL-terminated, `len` counts every byte the
 *    whole text needs, nothing is ever allocated. */
#ifndef DBCONN_BUF_H
#define DBCONN_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct dbc_buf {
    char *data; /* NUL-terminated when cap > 0 */
    size_t len; /* fixed mode: may pass cap (the length needed) */
    size_t cap;
    bool oom;
    bool fixed;
} dbc_buf;

#define DBC_BUF_INIT {NULL, 0, 0, false, false}

/* A fixed-mode builder over buf[0..cap) (buf may be NULL when cap is 0);
 * the text is "" until something is appended. */
dbc_buf dbc_buf_fixed(char *buf, size_t cap);

void dbc_buf_append(dbc_buf *b, const char *s, size_t n);
void dbc_buf_puts(dbc_buf *b, const char *s);
void dbc_buf_putc(dbc_buf *b, char c);
void dbc_buf_printf(dbc_buf *b, const char *fmt, ...) DBC_PRINTF(2, 3);
/* Growable mode: returns the string (owned by the caller, dbc_free) and
 * resets b; NULL after an allocation failure (b is then freed). */
char *dbc_buf_take(dbc_buf *b);
void dbc_buf_reset(dbc_buf *b); /* len = 0, keeps the memory */
void dbc_buf_free(dbc_buf *b);  /* growable mode */

#endif

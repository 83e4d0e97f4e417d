/* Allocation through the hooks of dbconn_set_allocator(). */
#ifndef DBCONN_ALLOC_H
#define DBCONN_ALLOC_H

#include <stddef.h>

void *dbc_malloc(size_t size);
void *dbc_calloc(size_t count, size_t size);
void *dbc_realloc(void *ptr, size_t size);
void dbc_free(void *ptr);
/* The free function of the hooks in force: for a block kept across a
 * possible dbconn_set_allocator() (it must go back where it came from). */
typedef void (*dbc_free_fn)(void *ptr);
dbc_free_fn dbc_current_free(void);
/* Copies of strings; NULL in -> NULL out (check the input before treating a
 * NULL result as ENOMEM). */
char *dbc_strdup(const char *s);
char *dbc_strndup(const char *s, size_t n);

#endif

/* Rendering a parsed URL (url_render.c; dbconn_url_render is public). */
#ifndef DBCONN_URL_RENDER_H
#define DBCONN_URL_RENDER_H

#include "dbconn.h"

/* The URL rendered with the password as "***", for logs and error messages.
 * Owned by the caller (dbc_free).  NULL when u is NULL or on allocation
 * failure (then recorded as DBCONN_ENOMEM on this thread). */
char *dbc_url_masked(const dbconn_url *u);

#endif

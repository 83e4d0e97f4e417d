/* Private helpers of the URL module (url.c owns struct dbconn_url). */
#ifndef DBCONN_URL_H
#define DBCONN_URL_H

#include <stdbool.h>

#include "dbconn.h"

/* The longest URL dbconn_url_parse() accepts, in bytes. */
#define DBC_URL_MAX 65536

/* True for the in-memory SQLite forms: dialect "sqlite" (any case) with no
 * database ("sqlite://"), an empty one ("sqlite:///") or ":memory:".
 * False for every other URL and for NULL. */
bool dbc_url_is_memory(const dbconn_url *u);

/* The URL rendered with the password as "***", for logs and error messages.
 * Owned by the caller (dbc_free).  NULL when u is NULL or on allocation
 * failure (then recorded as DBCONN_ENOMEM on this thread). */
char *dbc_url_masked(const dbconn_url *u);

#endif

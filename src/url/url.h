/* The URL parser's internal helpers (url.c owns struct dbconn_url); the
 * renderer's are url_render.h's. */
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

#endif

/* Private to the URL module: what url.c (parsing, accessors) and
 * url_render.c (rendering, masking) share.  Nothing outside src/url/
 * includes this; the rest of the library sees only url.h and dbconn.h. */
#ifndef DBCONN_URL_INT_H
#define DBCONN_URL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "dbconn.h"

/* One query pair, both strings owned by the URL. */
typedef struct dbc_url_pair {
    char *key;
    char *value;
} dbc_url_pair;

/* A parsed URL owns every string in it (url.c allocates and frees them;
 * url_render.c only reads them). */
struct dbconn_url {
    char *dialect;    /* as written (never NULL) */
    char *driver;     /* NULL when there is no "+driver" */
    char *username;   /* decoded; NULL when there is no "...@" */
    char *password;   /* decoded; NULL when the userinfo has no ':' */
    char *host;       /* as written; IPv6 without brackets; NULL when empty */
    int port;         /* 0 = none */
    char *database;   /* as written; NULL when no '/' follows the host */
    dbc_url_pair *query; /* decoded ('+' = space), in order, repeats kept */
    size_t nquery;
};

/* Character classes shared by the parser and the renderer, so that what the
 * renderer leaves unencoded is exactly what the parser takes as is. */
static inline bool dbc_url_is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static inline bool dbc_url_is_ctl(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

#endif

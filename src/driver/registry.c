/* Chooses a driver by the URL's dialect and "+driver" suffix. */
#include <string.h>

#include "util/buf.h"
#include "driver/registry.h"
#include "driver/sqlite/sqlite_driver.h"
#ifdef DBCONN_WITH_POSTGRES
#include "driver/postgres/pg_driver.h"
#endif

static const dbc_driver *const drivers[] = {
    &dbc_driver_sqlite,
#ifdef DBCONN_WITH_POSTGRES
    &dbc_driver_postgres,
#endif
};
#define NDRIVERS (sizeof drivers / sizeof *drivers)

/* "sqlite (+aiosqlite, +pysqlite)" for every driver of this build. */
static void list_drivers(dbc_buf *b) {
    for (size_t i = 0; i < NDRIVERS; i++) {
        if (i)
            dbc_buf_puts(b, ", ");
        dbc_buf_puts(b, drivers[i]->name);
        for (const char *const *a = drivers[i]->aliases; a && *a; a++)
            dbc_buf_printf(b, "%s+%s", a == drivers[i]->aliases ? " (" : ", ",
                           *a);
        if (drivers[i]->aliases && drivers[i]->aliases[0])
            dbc_buf_putc(b, ')');
        for (const char *const *n = drivers[i]->other_names; n && *n; n++)
            dbc_buf_printf(b, ", %s", *n);
    }
#ifndef DBCONN_WITH_POSTGRES
    /* Say what a rebuild would add, so "no driver" is not a mystery. */
    dbc_buf_puts(b, "; not in this build: postgresql (configure with libpq "
                    "found: Debian package libpq-dev)");
#endif
}

static bool names_driver(const dbc_driver *d, const char *dialect) {
    if (strcmp(dialect, d->name) == 0)
        return true;
    for (const char *const *n = d->other_names; n && *n; n++)
        if (strcmp(dialect, *n) == 0)
            return true;
    return false;
}

int dbc_driver_find(const dbconn_url *url, const dbc_driver **out) {
    *out = NULL;
    const char *dialect = dbconn_url_dialect(url);
    const char *suffix = dbconn_url_driver(url);
    for (size_t i = 0; i < NDRIVERS; i++) {
        const dbc_driver *d = drivers[i];
        if (!dialect || !names_driver(d, dialect))
            continue;
        if (!suffix) {
            *out = d;
            return 0;
        }
        for (const char *const *a = d->aliases; a && *a; a++) {
            if (strcmp(*a, suffix) == 0) {
                *out = d;
                return 0;
            }
        }
    }
    dbc_buf b = DBC_BUF_INIT;
    list_drivers(&b);
    int rc = dbc_fail(DBCONN_ENODRIVER,
                      "no driver for \"%s%s%s\" in this build; available: %s",
                      dialect ? dialect : "", suffix ? "+" : "",
                      suffix ? suffix : "", b.data ? b.data : "sqlite");
    dbc_buf_free(&b);
    return rc;
}

/* The pragma.NAME options (sqlite_pragma.c): the allow-list of pragmas
 * that are safe to run on every pooled connection, and the script that
 * runs them. */
#ifndef DBCONN_SQLITE_PRAGMA_H
#define DBCONN_SQLITE_PRAGMA_H

/* Checks every entry of `list` ("name=value;...", as dbc_config.pragmas
 * holds it; NULL = none) against the allow-list and what each pragma takes,
 * and renders them as one script, "PRAGMA cache_size=-20000;..." with the
 * names and values re-spelt by this file (nothing of the input is pasted):
 * *script is owned (dbc_free), NULL for no pragmas.  Errors:
 * DBCONN_EOPTION naming "pragma.NAME" -- a pragma the library manages
 * names the option to use instead; an unknown one suggests the nearest --
 * or DBCONN_ENOMEM. */
int dbc_sqlite_pragma_script(const char *list, char **script);

#endif

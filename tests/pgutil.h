/* Helpers of the PostgreSQL tests (test_driver_postgres, test_pg_server,
 * test_pg_sql): the fixture's server and clusters of a test's own. */
#ifndef DBCONN_PGUTIL_H
#define DBCONN_PGUTIL_H

#include "testutil.h"

/* The fixture server's unix-socket URL (tu_url(), which skips or fails the
 * program when there is no server); fails the test when tu_url() is not a
 * postgresql URL. */
const char *tu_pg_url(void);
/* The same server over TCP on 127.0.0.1, with the superuser's password
 * (it has characters a URL must percent-encode). */
const char *tu_pg_tcp_url(void);
/* The test password in clear, to check it never shows. */
#define TU_PG_PASSWORD "p@ss:w/rd %x"

/* A cluster of the test's own (scripts/pg-test-server.sh, found through
 * $DBCONN_PG_SCRIPT): started in a new directory under /tmp; when it
 * cannot be started the program skips (exit 77) or, under CI=true, fails. */
typedef struct tu_cluster {
    char dir[256];
    char url[512];     /* unix socket */
    char tcp_url[512]; /* 127.0.0.1, with the password */
    int port;
} tu_cluster;
void tu_cluster_start(tu_cluster *c);
/* Runs the script's `cmd` (restart, halt, start-again) on c; asserts it
 * worked. */
void tu_cluster_cmd(tu_cluster *c, const char *cmd);
/* Stops c and deletes its directory. */
void tu_cluster_stop(tu_cluster *c);

/* Runs sql on a fresh connection of url outside any session of the test
 * (autocommit); asserts success. */
void tu_pg_admin(const char *url, const char *sql);

#endif

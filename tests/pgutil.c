#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgutil.h"

const char *tu_pg_url(void) {
    const char *u = tu_url();
    if (strncmp(u, "postgresql", 10) != 0)
        fail_msg("this test needs a PostgreSQL URL, got \"%s\": run it "
                 "through ctest (its fixture sets DBCONN_TEST_URL_FILE)",
                 u);
    return u;
}

/* First line of `path` into buf; false when unreadable. */
static bool read_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return ok && buf[0];
}

const char *tu_pg_tcp_url(void) {
    static char url[1024];
    char path[4096];
    const char *file = getenv("DBCONN_TEST_URL_FILE");
    (void)tu_pg_url();
    snprintf(path, sizeof path, "%s-tcp", file);
    if (!url[0] && !read_line(path, url, sizeof url))
        fail_msg("no TCP URL in %s", path);
    return url;
}

static const char *script(void) {
    const char *s = getenv("DBCONN_PG_SCRIPT");
    if (!s || !*s)
        fail_msg("DBCONN_PG_SCRIPT is not set: run this test through ctest");
    return s;
}

static int run_script(const char *cmd, const char *dir) {
    char line[1024];
    snprintf(line, sizeof line, "sh '%s' %s '%s' >/dev/null", script(), cmd,
             dir);
    fflush(NULL);
    return system(line);
}

void tu_cluster_start(tu_cluster *c) {
    char path[300];
    memset(c, 0, sizeof *c);
    /* /tmp: the server runs as another user when we are root, and must be
     * able to reach its directory. */
    snprintf(c->dir, sizeof c->dir, "/tmp/dbconn-test-pg-XXXXXX");
    if (!mkdtemp(c->dir))
        fail_msg("mkdtemp failed");
    if (run_script("start", c->dir) != 0) {
        const char *ci = getenv("CI");
        bool fail = ci && strcmp(ci, "true") == 0;
        fprintf(stderr, "%s: no PostgreSQL cluster could be started with %s\n",
                fail ? "FAIL (CI=true)" : "SKIP", script());
        rmdir(c->dir);
        exit(fail ? 1 : 77);
    }
    snprintf(path, sizeof path, "%s/url", c->dir);
    assert_true(read_line(path, c->url, sizeof c->url));
    snprintf(path, sizeof path, "%s/url-tcp", c->dir);
    assert_true(read_line(path, c->tcp_url, sizeof c->tcp_url));
    char port[16];
    snprintf(path, sizeof path, "%s/port", c->dir);
    assert_true(read_line(path, port, sizeof port));
    c->port = atoi(port);
}

void tu_cluster_cmd(tu_cluster *c, const char *cmd) {
    assert_int_equal(run_script(cmd, c->dir), 0);
}

void tu_cluster_stop(tu_cluster *c) {
    if (c->dir[0])
        (void)run_script("stop", c->dir);
    c->dir[0] = '\0';
}

void tu_pg_admin(const char *url, const char *sql) {
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.isolation_level = "AUTOCOMMIT", .pool_size = 1};
    tu_ok(dbconn_open(&db, url, &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

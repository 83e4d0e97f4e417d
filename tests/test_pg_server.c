/* The pool on a server that goes away: a restart between two
 * transactions, a server down at checkout, several hosts with
 * target_session_attrs, connect_timeout, pre-ping and recycle.  Each test
 * runs clusters of its own (scripts/pg-test-server.sh), since it restarts
 * and stops them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "pgutil.h"

static int64_t q_int(dbconn_session *s, const char *sql) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    int64_t v = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return v;
}

static tu_cluster one;

static int start_one(void **state) {
    (void)state;
    tu_cluster_start(&one);
    return 0;
}

static int stop_one(void **state) {
    (void)state;
    tu_cluster_stop(&one);
    return 0;
}

/* Restart the server between two transactions: the one in flight fails
 * with DBCONN_ECONNLOST, what was committed is there, and the next
 * transaction runs on a fresh connection without any pre-ping. */
static void test_restart_between_transactions(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *a, *b;
    dbconn_options o = {.pool_size = 2};
    tu_ok(dbconn_open(&db, one.url, &o));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_exec(a, "CREATE TABLE t (x int)", NULL, 0, NULL));
    tu_ok(dbconn_exec(a, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    tu_ok(dbconn_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL));
    int64_t pid = q_int(a, "SELECT pg_backend_pid()");
    tu_ok(dbconn_commit(a)); /* a's connection waits idle in the pool */

    tu_cluster_cmd(&one, "restart");

    assert_int_equal(dbconn_commit(b), DBCONN_ECONNLOST);
    assert_non_null(strstr(dbconn_errmsg(NULL), "connection was lost"));
    tu_ok(dbconn_rollback(b));
    assert_int_equal(q_int(a, "SELECT count(*) FROM t WHERE x = 1"), 1);
    assert_true(q_int(a, "SELECT pg_backend_pid()") != pid);
    assert_int_equal(q_int(a, "SELECT count(*) FROM t"), 1); /* 2 is lost */
    tu_ok(dbconn_commit(a));
    /* b's connection was broken: it is replaced too */
    assert_int_equal(q_int(b, "SELECT count(*) FROM t"), 1);
    tu_ok(dbconn_commit(b));
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

/* Down at checkout: a clear code; up again: the same engine works. */
static void test_server_down_then_up(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.pool_size = 1};
    tu_ok(dbconn_open(&db, one.url, &o));
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(q_int(s, "SELECT 1"), 1);
    tu_ok(dbconn_commit(s));
    tu_cluster_cmd(&one, "halt");
    assert_int_equal(dbconn_exec(s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_ECONNLOST);
    assert_int_equal(dbconn_exec(s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_ECONNLOST); /* nothing to hold: not aborted */
    tu_cluster_cmd(&one, "start-again");
    assert_int_equal(q_int(s, "SELECT 2"), 2);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* pool_pre_ping replaces a connection the server ended while it was idle,
 * even where no BEGIN would find out (isolation_level AUTOCOMMIT);
 * without it the first statement meets the loss. */
static void test_pre_ping(void **state) {
    (void)state;
    for (int ping = 0; ping < 2; ping++) {
        dbconn *db;
        dbconn_session *s;
        char sql[96];
        dbconn_options o = {.pool_size = 1, .pool_pre_ping = ping,
                            .isolation_level = "AUTOCOMMIT"};
        tu_ok(dbconn_open(&db, one.url, &o));
        tu_ok(dbconn_session_open(db, &s));
        int64_t pid = q_int(s, "SELECT pg_backend_pid()");
        tu_ok(dbconn_commit(s));
        snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)",
                 (long long)pid);
        tu_pg_admin(one.url, sql);
        int rc = dbconn_exec(s, "SELECT 1", NULL, 0, NULL);
        if (ping) {
            tu_ok(rc);
        } else {
            assert_int_equal(rc, DBCONN_ECONNLOST);
            tu_ok(dbconn_rollback(s));
            assert_int_equal(q_int(s, "SELECT 3"), 3); /* replaced now */
        }
        tu_ok(dbconn_commit(s));
        dbconn_session_close(s);
        tu_ok(dbconn_close(db, NULL));
    }
}

static void test_recycle(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.pool_size = 1, .pool_recycle_s = 1};
    tu_ok(dbconn_open(&db, one.url, &o));
    tu_ok(dbconn_session_open(db, &s));
    int64_t pid = q_int(s, "SELECT pg_backend_pid()");
    tu_ok(dbconn_commit(s));
    assert_int_equal(q_int(s, "SELECT pg_backend_pid()"), pid);
    tu_ok(dbconn_commit(s));
    uv_sleep(1100);
    assert_true(q_int(s, "SELECT pg_backend_pid()") != pid);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* A listener that never answers: libpq waits for the server's reply and
 * connect_timeout ends the wait. */
static void test_connect_timeout(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char url[256];
    snprintf(url, sizeof url,
             "postgresql://u:secret@127.0.0.1:%d/db?connect_timeout=1",
             ntohs(a.sin_port));
    dbconn *db;
    uint64_t t0 = uv_hrtime();
    assert_int_equal(dbconn_open(&db, url, NULL), DBCONN_ECONNLOST);
    double s = (double)(uv_hrtime() - t0) / 1e9;
    assert_true(s >= 0.9 && s < 10);
    assert_non_null(strstr(dbconn_errmsg(NULL), "timeout"));
    assert_null(strstr(dbconn_errmsg(NULL), "secret"));
    close(fd);
}

/* Two clusters, target_session_attrs=read-write: the first host answers
 * while it takes writes, is passed over once it is read-only, and the
 * second serves when the first is down. */
static void test_two_hosts_read_write(void **state) {
    (void)state;
    tu_cluster second;
    tu_cluster_start(&second);
    char url[1024], any_url[1024];
    const char *pw = strchr(one.tcp_url + 13, ':');
    size_t pwlen = (size_t)(strchr(pw, '@') - pw);
    snprintf(url, sizeof url,
             "postgresql://postgres%.*s@/postgres?host=127.0.0.1:%d,"
             "127.0.0.1:%d&target_session_attrs=read-write",
             (int)pwlen, pw, one.port, second.port);
    snprintf(any_url, sizeof any_url, "%.*sany",
             (int)(strrchr(url, '=') - url + 1), url);
    const struct {
        const char *url;
        const char *before; /* admin SQL on the first cluster */
        int want;           /* 1: first cluster, 2: second */
    } steps[] = {
        {url, NULL, 1},
        {url, "ALTER SYSTEM SET default_transaction_read_only = on", 2},
        {any_url, NULL, 1},
        {url, "ALTER SYSTEM RESET default_transaction_read_only", 1},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (steps[i].before) {
            tu_pg_admin(one.url, steps[i].before);
            tu_pg_admin(one.url, "SELECT pg_reload_conf()");
            uv_sleep(200); /* the reload reaches new backends */
        }
        dbconn *db;
        dbconn_session *s;
        tu_ok(dbconn_open(&db, steps[i].url, NULL));
        tu_ok(dbconn_session_open(db, &s));
        int64_t port = q_int(s, "SELECT inet_server_port()");
        assert_int_equal(port, steps[i].want == 1 ? one.port : second.port);
        dbconn_session_close(s);
        tu_ok(dbconn_close(db, NULL));
    }
    /* the first host down: the second, within the same engine */
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.pool_size = 1};
    tu_ok(dbconn_open(&db, url, &o));
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(q_int(s, "SELECT inet_server_port()"), one.port);
    tu_ok(dbconn_commit(s));
    tu_cluster_cmd(&one, "halt");
    assert_int_equal(q_int(s, "SELECT inet_server_port()"), second.port);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    tu_cluster_cmd(&one, "start-again");
    tu_cluster_stop(&second);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, start_one, stop_one)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_restart_between_transactions),
        T(test_server_down_then_up),
        T(test_pre_ping),
        T(test_recycle),
        cmocka_unit_test(test_connect_timeout),
        T(test_two_hosts_read_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

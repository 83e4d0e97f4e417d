/*
 * quickstart — the Python original, in C.
 *
 *   db = DBConnection('sqlite+aiosqlite://', echo=False)
 *   await db.init_db()
 *   await User.insert_all([...]); await User.order_by('id').all(); ...
 *   await db.close()
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <dbconn.h>

typedef struct user {
    int64_t id;
    const char *name;
    const char *email;
    dbconn_timestamp created_at;
    dbconn_timestamp updated_at;
} user;

static const dbconn_column user_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(user, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(user, name)},
    {.name = "email", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_UNIQUE,
     .offset = offsetof(user, email)},
    DBCONN_TIMESTAMP_COLUMNS(user), /* kept by the library */
};

static const dbconn_model user_model = {
    .table = "users", .columns = user_columns,
    .ncolumns = sizeof user_columns / sizeof *user_columns,
    .struct_size = sizeof(user)};

/* The database: argv[1], else $DATABASE_URL, else the example's own. */
static const char *database_url(int argc, char **argv, const char *own) {
    const char *env = getenv("DATABASE_URL");
    if (argc > 1 && argv[1][0])
        return argv[1];
    return env && *env ? env : own;
}

/* A server keeps its tables between runs: the example starts without
 * them (DROP TABLE IF EXISTS, a no-op in a new SQLite database). */
static int drop_tables(dbconn *db, const char *const *tables, size_t n) {
    dbconn_session *s;
    int rc = dbconn_session_open(db, &s);
    char sql[128];
    for (size_t i = 0; i < n && !rc; i++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", tables[i]);
        rc = dbconn_exec(s, sql, NULL, 0, NULL);
    }
    if (!rc)
        rc = dbconn_commit(s);
    dbconn_session_close(s);
    return rc;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s\n", what, dbconn_err_name(rc),
            dbconn_errmsg(NULL));
    return 1;
}

/* ./quickstart [URL]: sqlite+aiosqlite:// (a private in-memory database)
 * unless a URL is given, e.g. postgresql://user@host/db. */
int main(int argc, char **argv) {
    const char *url = database_url(argc, argv, "sqlite+aiosqlite://");
    static const char *const tables[] = {"users"};
    dbconn *db = NULL;
    dbconn_query *q = NULL;
    dbconn_rows *rows = NULL;
    size_t n = 0;
    int rc;

    /* DBConnection('sqlite+aiosqlite://', echo=False) */
    if ((rc = dbconn_open(&db, url, &(dbconn_options){.echo = 0})))
        return fail("dbconn_open", rc);
    if ((rc = drop_tables(db, tables, 1))) {
        fail("drop_tables", rc);
        dbconn_close(db, NULL);
        return 1;
    }

    /* The users model on the default base, then init_db(). */
    dbconn_base *base = dbconn_active_record_base();
    if ((rc = dbconn_base_add(base, &user_model)) ||
        (rc = dbconn_init_db(db, NULL)))
        goto out;

    /* User.insert_all(...): one transaction, the keys written back.  The
     * model works through the base's bound session: this task's. */
    user users[] = {{.name = "alice", .email = "alice@example.org"},
                    {.name = "bob", .email = "bob@example.org"}};
    if ((rc = dbconn_record_insert_many(NULL, NULL, &user_model, users, 2)))
        goto out;

    /* User.order_by('id').all() */
    if ((rc = dbconn_query_new(&q, NULL, NULL, &user_model)) ||
        (rc = dbconn_query_order_by(q, "id")) ||
        (rc = dbconn_query_all(q, &rows)))
        goto out;
    user *all = dbconn_rows_data(rows);
    for (n = 0; n < dbconn_rows_count(rows); n++)
        printf("user %lld: %s <%s>\n", (long long)all[n].id, all[n].name,
               all[n].email);
    dbconn_rows_free(rows);
    dbconn_query_free(q);
    q = NULL;

    /* User.where(name='bob').first() */
    if ((rc = dbconn_query_new(&q, NULL, NULL, &user_model)) ||
        (rc = dbconn_query_where(q, "name", DBCONN_OP_EQ,
                                 DBCONN_PARAMS(DBCONN_TEXT("bob")))) ||
        (rc = dbconn_query_first(q, &rows)))
        goto out;
    printf("bob's email: %s\n",
           rows ? ((user *)dbconn_rows_data(rows))->email : "(no such user)");
    dbconn_rows_free(rows);
    /* The task is done with its session. */
    rc = n == 2 && users[1].id > users[0].id ? dbconn_scoped_remove(db)
                                             : DBCONN_EINVAL;

out:
    if (rc)
        fail("quickstart", rc);
    dbconn_query_free(q);
    /* await db.close(): unbinds the base, disposes of the engine. */
    int crc = dbconn_close(db, NULL);
    dbconn_base_clear(base);
    if (!rc && crc)
        return fail("dbconn_close", crc);
    if (!rc)
        printf("%zu users written and read back; closed cleanly\n", n);
    return rc ? 1 : 0;
}

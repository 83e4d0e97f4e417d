/*
 * quickstart — the Python original, in C.
 *
 *   db = DBConnection('sqlite+aiosqlite://', echo=False)
 *   await db.init_db()
 *   ... work through the current task's session ...
 *   await db.close()
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <dbconn.h>

typedef struct user {
    int64_t id;
    char *name;
    char *email;
    char *created_at;
} user;

static const dbconn_column user_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(user, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(user, name)},
    {.name = "email", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_UNIQUE,
     .offset = offsetof(user, email)},
    {.name = "created_at", .type = DBCONN_TYPE_TIMESTAMP,
     .default_sql = "CURRENT_TIMESTAMP", .offset = offsetof(user, created_at)},
};

static const dbconn_model user_model = {
    .table = "users",
    .columns = user_columns,
    .ncolumns = sizeof user_columns / sizeof *user_columns,
    .struct_size = sizeof(user),
};

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s\n", what, dbconn_err_name(rc),
            dbconn_errmsg(NULL));
    return 1;
}

int main(void) {
    dbconn *db = NULL;
    dbconn_session *s = NULL;
    dbconn_result *res = NULL;
    int rc;

    /* DBConnection('sqlite+aiosqlite://', echo=False) */
    if ((rc = dbconn_open(&db, "sqlite+aiosqlite://",
                          &(dbconn_options){.echo = 0})))
        return fail("dbconn_open", rc);

    /* The users model on the default base, then init_db(). */
    dbconn_base *base = dbconn_active_record_base();
    if ((rc = dbconn_base_add(base, &user_model)) ||
        (rc = dbconn_init_db(db, NULL)))
        goto out;

    /* The current task's session through the base's session pointer. */
    if ((rc = dbconn_base_session(base, &s)))
        goto out;
    const char *names[][2] = {{"alice", "alice@example.org"},
                              {"bob", "bob@example.org"}};
    for (size_t i = 0; i < 2; i++)
        if ((rc = dbconn_exec(s, "INSERT INTO users (name, email) VALUES (?, ?)",
                              DBCONN_PARAMS(DBCONN_TEXT(names[i][0]),
                                            DBCONN_TEXT(names[i][1])),
                              NULL)))
            goto out;
    if ((rc = dbconn_commit(s)))
        goto out;

    if ((rc = dbconn_exec(s, "SELECT id, name, email FROM users ORDER BY id",
                          NULL, 0, &res)))
        goto out;
    for (size_t r = 0; r < dbconn_result_nrows(res); r++)
        printf("user %lld: %s <%s>\n", (long long)dbconn_result_int(res, r, 0),
               dbconn_result_text(res, r, 1), dbconn_result_text(res, r, 2));
    dbconn_result_free(res);
    /* A point lookup keeps at most one row (SQLAlchemy's Result.first()). */
    if ((rc = dbconn_exec_first(s, "SELECT email FROM users WHERE name = ?",
                                DBCONN_PARAMS(DBCONN_TEXT("bob")), &res)))
        goto out;
    printf("bob's email: %s\n", dbconn_result_nrows(res)
                                    ? dbconn_result_text(res, 0, 0)
                                    : "(no such user)");
    dbconn_result_free(res);
    if ((rc = dbconn_commit(s)))
        goto out;
    /* The task is done with its session. */
    rc = dbconn_scoped_remove(db);

out:
    if (rc)
        fail("quickstart", rc);
    /* await db.close(): unbinds the base, disposes of the engine. */
    int crc = dbconn_close(db, NULL);
    dbconn_base_clear(base);
    if (!rc && crc)
        return fail("dbconn_close", crc);
    if (!rc)
        printf("%zu users written and read back; closed cleanly\n", (size_t)2);
    return rc ? 1 : 0;
}

/*
 * active_record — a small notes program on the active-record layer: users
 * and their notes (one foreign key), as sqlactive writes it.
 *
 *   user = await User.create(name='alice')
 *   await Note.insert_all([...])
 *   await Note.where(user___name='alice', title__contains='db')
 *             .order_by('-id').all()
 *   await User.where(...).options(selectinload(User.notes)).all()
 *   note.done = True; await note.save()
 *   note.to_json()
 *
 * Every step checks its result; any failure ends the program with exit 1.
 */
#define _POSIX_C_SOURCE 200809L /* what <uv.h> needs */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

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
    DBCONN_TIMESTAMP_COLUMNS(user),
};
static const dbconn_model user_model = {
    .table = "users", .columns = user_columns,
    .ncolumns = sizeof user_columns / sizeof *user_columns,
    .struct_size = sizeof(user)};

typedef struct note {
    int64_t id;
    int64_t user_id;
    const char *title;
    bool done;
    dbconn_timestamp created_at;
    dbconn_timestamp updated_at;
} note;

static const dbconn_column note_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(note, id)},
    {.name = "user_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_NOT_NULL | DBCONN_INDEXED, .references = "users(id)",
     .on_delete = DBCONN_FK_CASCADE, .offset = offsetof(note, user_id)},
    {.name = "title", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(note, title)},
    {.name = "done", .type = DBCONN_TYPE_BOOLEAN,
     .offset = offsetof(note, done)},
    DBCONN_TIMESTAMP_COLUMNS(note),
};
static const dbconn_model note_model = {
    .table = "notes", .columns = note_columns,
    .ncolumns = sizeof note_columns / sizeof *note_columns,
    .struct_size = sizeof(note)};

/* Ends the program when a call fails or a check does not hold. */
#define CHECK(call)                                                             \
    do {                                                                        \
        int rc_ = (call);                                                       \
        if (rc_ != 0) {                                                         \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__,        \
                    #call, dbconn_err_name(rc_), dbconn_errmsg(NULL));          \
            exit(1);                                                            \
        }                                                                       \
    } while (0)
#define EXPECT(cond)                                                            \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static const char *const titles[] = {"db schema", "groceries", "sqlite db tips",
                                     "travel plans", "db backups"};
#define NTITLES (sizeof titles / sizeof *titles)

/* Note.where(user___name='alice', title__contains='db').order_by('-id') */
static void alices_db_notes(const note *all, size_t n, int64_t alice) {
    dbconn_query *q;
    dbconn_rows *rows;
    CHECK(dbconn_query_new(&q, NULL, NULL, &note_model));
    dbconn_query_where(q, "user_id.name", DBCONN_OP_EQ,
                       DBCONN_PARAMS(DBCONN_TEXT("alice")));
    dbconn_query_where(q, "title", DBCONN_OP_CONTAINS,
                       DBCONN_PARAMS(DBCONN_TEXT("db")));
    dbconn_query_order_by(q, "-id");
    CHECK(dbconn_query_all(q, &rows)); /* one check covers the builder */
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += all[i].user_id == alice && strstr(all[i].title, "db");
    EXPECT(dbconn_rows_count(rows) == want);
    note *ns = dbconn_rows_data(rows);
    for (size_t i = 0; i < dbconn_rows_count(rows); i++) {
        printf("alice's db note %lld: %s\n", (long long)ns[i].id, ns[i].title);
        EXPECT(i == 0 || ns[i].id < ns[i - 1].id);
    }
    dbconn_rows_free(rows);
    dbconn_query_free(q);
}

/* Every user with their notes: two SELECTs, however many users. */
static void users_with_notes(size_t total) {
    dbconn_query *q;
    dbconn_rows *rows;
    CHECK(dbconn_query_new(&q, NULL, NULL, &user_model));
    dbconn_query_order_by(q, "name");
    dbconn_query_load(q, "notes");
    CHECK(dbconn_query_all(q, &rows));
    size_t seen = 0;
    user *us = dbconn_rows_data(rows);
    for (size_t i = 0; i < dbconn_rows_count(rows); i++) {
        void *first;
        size_t n;
        CHECK(dbconn_rows_related(rows, i, "notes", &first, &n));
        printf("%s has %zu note%s\n", us[i].name, n, n == 1 ? "" : "s");
        for (size_t k = 0; k < n; k++)
            EXPECT(((note *)first)[k].user_id == us[i].id);
        seen += n;
    }
    EXPECT(seen == total);
    dbconn_rows_free(rows);
    dbconn_query_free(q);
}

/* note.done = True; save -- then read it back as JSON. */
static void finish_note(int64_t id) {
    dbconn_rows *rows;
    char *json;
    CHECK(dbconn_record_get(NULL, NULL, &note_model,
                            DBCONN_PARAMS(DBCONN_INT(id)), &rows));
    note *n = dbconn_rows_data(rows);
    n->done = true;
    static const char *const cols[] = {"done"};
    CHECK(dbconn_record_update(NULL, NULL, &note_model, n, cols, 1));
    EXPECT(n->updated_at >= n->created_at);
    CHECK(dbconn_record_to_json(&note_model, n, 0, &json));
    printf("%s\n", json);
    EXPECT(strstr(json, "\"done\":true") != NULL);
    dbconn_free(json);
    dbconn_rows_free(rows);
}

/* The async form of a batch insert: one call, one callback. */
static void on_batch(int status, void *data) { *(int *)data = status ? status : 1; }

static void async_batch(uv_loop_t *loop, int64_t bob) {
    note more[3] = {{.user_id = bob, .title = "async one"},
                    {.user_id = bob, .title = "async two"},
                    {.user_id = bob, .title = "async db"}};
    int done = 0;
    CHECK(dbconn_record_insert_many_async(NULL, NULL, &note_model, more, 3,
                                          on_batch, &done));
    uv_run(loop, UV_RUN_DEFAULT);
    EXPECT(done == 1);
    EXPECT(more[0].id > 0 && more[2].id > more[0].id);
    printf("async batch: notes %lld..%lld\n", (long long)more[0].id,
           (long long)more[2].id);
}

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

/* ./active_record [URL]: sqlite+aiosqlite:// unless a URL is given. */
int main(int argc, char **argv) {
    static const char *const tables[] = {"notes", "users"}; /* referrer first */
    uv_loop_t loop;
    dbconn *db;
    uv_loop_init(&loop);
    CHECK(dbconn_open(&db, database_url(argc, argv, "sqlite+aiosqlite://"),
                      &(dbconn_options){.loop = &loop}));
    CHECK(drop_tables(db, tables, 2));
    dbconn_base *base = dbconn_active_record_base();
    CHECK(dbconn_base_add(base, &user_model));
    CHECK(dbconn_base_add(base, &note_model));
    CHECK(dbconn_init_db(db, NULL));

    user alice = {.name = "alice", .email = "alice@example.org"};
    user bob = {.name = "bob", .email = "bob@example.org"};
    CHECK(dbconn_record_create(NULL, NULL, &user_model, &alice));
    CHECK(dbconn_record_create(NULL, NULL, &user_model, &bob));
    EXPECT(alice.id > 0 && bob.id > alice.id && alice.created_at > 0);
    user dup = {.name = "eve", .email = "alice@example.org"};
    EXPECT(dbconn_record_create(NULL, NULL, &user_model, &dup) ==
           DBCONN_ECONSTRAINT);

    note notes[8];
    for (size_t i = 0; i < 8; i++)
        notes[i] = (note){.user_id = i % 3 ? alice.id : bob.id,
                          .title = titles[i % NTITLES]};
    CHECK(dbconn_record_insert_many(NULL, NULL, &note_model, notes, 8));

    alices_db_notes(notes, 8, alice.id);
    users_with_notes(8);
    finish_note(notes[0].id);
    async_batch(&loop, bob.id);

    int64_t count = 0, gone = 0;
    CHECK(dbconn_record_count(NULL, NULL, &note_model, &count));
    EXPECT(count == 11);
    CHECK(dbconn_record_delete(NULL, NULL, &user_model, &bob)); /* cascades */
    CHECK(dbconn_record_count(NULL, NULL, &note_model, &gone));
    printf("%lld notes, %lld after bob left\n", (long long)count,
           (long long)gone);
    EXPECT(gone < count);

    CHECK(dbconn_scoped_remove(db));
    CHECK(dbconn_close(db, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop));
    CHECK(dbconn_base_clear(base));
    printf("active_record: every check passed\n");
    return 0;
}

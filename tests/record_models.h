/* The models the active-record tests share: users, their notes (one foreign
 * key, cascading), categories (a nullable foreign key from notes) and a
 * self-referencing tree.  Each test opens tu_url() afresh with rm_open().
 * Keys are DBCONN_AUTOINCREMENT so that they are generated on PostgreSQL
 * too (an identity column). */
#ifndef DBCONN_RECORD_MODELS_H
#define DBCONN_RECORD_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

#define RM_NCOLS(a) (sizeof(a) / sizeof *(a))

typedef struct rm_user {
    int64_t id;
    const char *name;
    const char *email;
    int64_t age;
    bool active;
    double score;
    dbconn_blob avatar;
    const char *role; /* default 'member' */
    dbconn_timestamp created_at;
    dbconn_timestamp updated_at;
} rm_user;

static const dbconn_column rm_user_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(rm_user, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(rm_user, name)},
    {.name = "email", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_UNIQUE,
     .offset = offsetof(rm_user, email)},
    {.name = "age", .type = DBCONN_TYPE_INTEGER,
     .offset = offsetof(rm_user, age)},
    {.name = "active", .type = DBCONN_TYPE_BOOLEAN,
     .offset = offsetof(rm_user, active)},
    {.name = "score", .type = DBCONN_TYPE_REAL,
     .offset = offsetof(rm_user, score)},
    {.name = "avatar", .type = DBCONN_TYPE_BLOB,
     .offset = offsetof(rm_user, avatar)},
    {.name = "role", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .default_literal = "member", .offset = offsetof(rm_user, role)},
    DBCONN_TIMESTAMP_COLUMNS(rm_user),
};
static const dbconn_model rm_user_model = {
    .table = "users", .columns = rm_user_columns,
    .ncolumns = RM_NCOLS(rm_user_columns), .struct_size = sizeof(rm_user)};

typedef struct rm_category {
    int64_t id;
    const char *label;
} rm_category;

static const dbconn_column rm_category_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(rm_category, id)},
    {.name = "label", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(rm_category, label)},
};
static const dbconn_model rm_category_model = {
    .table = "categories", .columns = rm_category_columns,
    .ncolumns = RM_NCOLS(rm_category_columns),
    .struct_size = sizeof(rm_category)};

typedef struct rm_note {
    int64_t id;
    int64_t user_id;
    const char *title;
    int64_t category_id; /* 0 = none (NULL) */
} rm_note;

static const dbconn_column rm_note_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(rm_note, id)},
    {.name = "user_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_NOT_NULL | DBCONN_INDEXED, .references = "users(id)",
     .on_delete = DBCONN_FK_CASCADE, .offset = offsetof(rm_note, user_id)},
    {.name = "title", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(rm_note, title)},
    {.name = "category_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_ZERO_IS_NULL, .references = "categories",
     .offset = offsetof(rm_note, category_id)},
};
static const dbconn_model rm_note_model = {
    .table = "notes", .columns = rm_note_columns,
    .ncolumns = RM_NCOLS(rm_note_columns), .struct_size = sizeof(rm_note)};

/* A tree: each node's parent is another node (NULL for a root). */
typedef struct rm_node {
    int64_t id;
    int64_t parent_id;
    const char *label;
} rm_node;

static const dbconn_column rm_node_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(rm_node, id)},
    {.name = "parent_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_ZERO_IS_NULL, .references = "nodes(id)",
     .offset = offsetof(rm_node, parent_id)},
    {.name = "label", .type = DBCONN_TYPE_TEXT,
     .offset = offsetof(rm_node, label)},
};
static const dbconn_model rm_node_model = {
    .table = "nodes", .columns = rm_node_columns,
    .ncolumns = RM_NCOLS(rm_node_columns), .struct_size = sizeof(rm_node)};

/* Echo lines, counted by their first word (what the tests check). */
typedef struct rm_echo {
    int selects, inserts, updates, deletes, begins, commits, rollbacks;
    int lines;
} rm_echo;

static inline void rm_on_log(void *data, int level, const char *line) {
    rm_echo *e = data;
    (void)level;
    e->lines++;
    if (!strncmp(line, "SELECT", 6))
        e->selects++;
    else if (!strncmp(line, "INSERT", 6))
        e->inserts++;
    else if (!strncmp(line, "UPDATE", 6))
        e->updates++;
    else if (!strncmp(line, "DELETE", 6))
        e->deletes++;
    else if (!strncmp(line, "BEGIN", 5))
        e->begins++;
    else if (!strncmp(line, "COMMIT", 6))
        e->commits++;
    else if (!strncmp(line, "ROLLBACK", 8))
        e->rollbacks++;
}

/* Opens tu_url() (echo into *echo when not NULL, on `loop` when not NULL),
 * on a server engine first empties the program's schema (tu_fresh), adds the models to
 * the default base and runs dbconn_init_db. */
static inline dbconn *rm_open(rm_echo *echo, uv_loop_t *loop) {
    dbconn *db;
    dbconn_options o = {.loop = loop};
    if (echo) {
        o.echo = 1;
        o.log = rm_on_log;
        o.log_data = echo;
    }
    tu_fresh(NULL); /* on a server: this program's own, empty schema */
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &rm_user_model));
    tu_ok(dbconn_base_add(b, &rm_category_model));
    tu_ok(dbconn_base_add(b, &rm_note_model));
    tu_ok(dbconn_base_add(b, &rm_node_model));
    tu_ok(dbconn_init_db(db, NULL));
    if (echo)
        *echo = (rm_echo){0};
    return db;
}

static inline void rm_close(dbconn *db) {
    tu_ok(dbconn_scoped_remove(db)); /* the bound session of this thread */
    tu_ok(dbconn_close(db, NULL));
    tu_ok(dbconn_base_clear(dbconn_active_record_base()));
}

/* A user with the given name; email derived from it. */
static inline rm_user rm_make_user(const char *name, const char *email,
                                   int64_t age) {
    return (rm_user){.name = name, .email = email, .age = age,
                     .active = age % 2 == 0, .score = (double)age / 4};
}

#endif

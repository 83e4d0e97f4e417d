/* Models and bases (src/model.c, src/base.c): validation in dbconn_base_add,
 * the default base, custom bases, and the unbound state.  No database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "model/base.h"
#include "model/model.h"

#define NCOLS(a) (sizeof(a) / sizeof *(a))

typedef struct item {
    int64_t id;
    char *name;
    int64_t owner;
} item;

/* Columns that tests copy and then break one field of. */
static const dbconn_column good_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(item, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(item, name)},
    {.name = "owner", .type = DBCONN_TYPE_INTEGER, .references = "people(id)",
     .offset = offsetof(item, owner)},
};

typedef struct fixture {
    dbconn_base *base;
    dbconn_column cols[3];
    dbconn_model model;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f || dbconn_base_new(&f->base) != 0)
        return -1;
    memcpy(f->cols, good_columns, sizeof f->cols);
    f->model = (dbconn_model){.table = "items", .columns = f->cols,
                              .ncolumns = 3, .struct_size = sizeof(item)};
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    int rc = dbconn_base_free(f->base);
    free(f);
    dbconn_base_clear(dbconn_active_record_base());
    return rc;
}

/* dbconn_base_add(f) must fail with EINVAL naming every fragment given, and
 * leave the base unchanged. */
static void expect_invalid(fixture *f, ...) {
    size_t before = dbconn_base_count(f->base);
    assert_int_equal(dbconn_base_add(f->base, &f->model), DBCONN_EINVAL);
    assert_int_equal(dbconn_base_count(f->base), before);
    va_list ap;
    va_start(ap, f);
    for (const char *frag; (frag = va_arg(ap, const char *));) {
        if (!strstr(dbconn_errmsg(NULL), frag))
            fail_msg("message \"%s\" lacks \"%s\"", dbconn_errmsg(NULL), frag);
    }
    va_end(ap);
}

static void test_valid_model_is_added(void **state) {
    fixture *f = *state;
    assert_int_equal(dbconn_base_count(f->base), 0);
    tu_ok(dbconn_base_add(f->base, &f->model));
    assert_int_equal(dbconn_base_count(f->base), 1);
    assert_null(dbconn_base_bound(f->base));
}

static void test_model_level_errors(void **state) {
    fixture *f = *state;
    assert_int_equal(dbconn_base_add(f->base, NULL), DBCONN_EINVAL);
    assert_int_equal(dbconn_base_add(NULL, &f->model), DBCONN_EINVAL);

    f->model.table = NULL;
    expect_invalid(f, "no table name", NULL);
    f->model.table = "";
    expect_invalid(f, "no table name", NULL);
    f->model.table = "items";

    f->model.reserved[2] = f;
    expect_invalid(f, "\"items\"", "reserved", NULL);
    f->model.reserved[2] = NULL;

    f->model.ncolumns = 0;
    expect_invalid(f, "\"items\" has no columns", NULL);
    f->model.ncolumns = 3;
    f->model.columns = NULL;
    expect_invalid(f, "\"items\" has no columns", NULL);
    f->model.columns = f->cols;

    f->model.struct_size = 0;
    expect_invalid(f, "\"items\"", "struct_size 0", NULL);
    f->model.struct_size = sizeof(item);

    f->model.nindexes = 2;
    expect_invalid(f, "\"items\"", "indexes is NULL", NULL);
    f->model.nindexes = 0;

    tu_ok(dbconn_base_add(f->base, &f->model)); /* all restored */
}

static void test_column_errors(void **state) {
    fixture *f = *state;
    dbconn_column *c = &f->cols[1];

    c->name = NULL;
    expect_invalid(f, "\"items\"", "column 1 has no name", NULL);
    c->name = "";
    expect_invalid(f, "\"items\"", "column 1 has no name", NULL);
    c->name = "ID"; /* SQLite names are case-insensitive */
    expect_invalid(f, "\"items\"", "duplicate column name \"ID\"", NULL);
    c->name = "name";

    c->type = DBCONN_TYPE_NULL;
    expect_invalid(f, "\"items\"", "\"name\"", "unknown type 0", NULL);
    c->type = 42;
    expect_invalid(f, "\"items\"", "\"name\"", "unknown type 42", NULL);
    c->type = DBCONN_TYPE_TEXT;

    c->flags = 0x100;
    expect_invalid(f, "\"name\"", "unknown flags 0x100", NULL);
    c->flags = DBCONN_NOT_NULL;

    c->reserved[0] = f;
    expect_invalid(f, "\"items\"", "\"name\"", "reserved", NULL);
    c->reserved[0] = NULL;

    c->offset = sizeof(item);
    expect_invalid(f, "\"name\"", "beyond struct_size", NULL);
    c->offset = offsetof(item, name);

    c->default_sql = "'x'";
    c->default_literal = "x";
    expect_invalid(f, "\"name\"", "both default_sql and default_literal",
                   NULL);
    c->default_literal = NULL;
    c->default_sql = "";
    expect_invalid(f, "\"name\"", "empty default_sql", NULL);
    c->default_sql = NULL;

    c->on_delete = DBCONN_FK_CASCADE;
    expect_invalid(f, "\"name\"", "without references", NULL);
    c->on_delete = 0;

    dbconn_column *o = &f->cols[2];
    o->on_update = 9;
    expect_invalid(f, "\"owner\"", "unknown on_delete/on_update", NULL);
    o->on_update = DBCONN_FK_SET_NULL;

    tu_ok(dbconn_base_add(f->base, &f->model));
}

static void test_malformed_references(void **state) {
    fixture *f = *state;
    static const char *const bad[] = {"", "(id)", "people()", "people(id",
                                      "people(id)x", "people)"};
    for (size_t i = 0; i < NCOLS(bad); i++) {
        f->cols[2].references = bad[i];
        expect_invalid(f, "\"items\"", "\"owner\"", "malformed", NULL);
    }
    /* Accepted forms (resolved only by init_db). */
    static const char *const good[] = {"people", "people(id)", "p(e)ople(id)",
                                       "unknown_yet"};
    for (size_t i = 0; i < NCOLS(good); i++) {
        f->cols[2].references = good[i];
        tu_ok(dbconn_base_add(f->base, &f->model));
        tu_ok(dbconn_base_clear(f->base));
    }
}

static void test_ref_parse(void **state) {
    (void)state;
    dbc_ref r;
    tu_ok(dbc_ref_parse("a(b)c(d)", &r));
    assert_int_equal(r.table_len, 5); /* split at the last '(' */
    assert_memory_equal(r.table, "a(b)c", 5);
    assert_int_equal(r.col_len, 1);
    assert_memory_equal(r.col, "d", 1);
    tu_ok(dbc_ref_parse("teams", &r));
    assert_int_equal(r.table_len, 5);
    assert_null(r.col);
    assert_int_equal(dbc_ref_parse(NULL, &r), DBCONN_EINVAL);
}

static void test_primary_key_rules(void **state) {
    fixture *f = *state;
    f->cols[0].flags = 0;
    expect_invalid(f, "\"items\"", "no column with DBCONN_PRIMARY_KEY", NULL);

    f->cols[0].flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT;
    f->cols[1].flags = DBCONN_PRIMARY_KEY; /* composite */
    expect_invalid(f, "\"items\"", "\"id\"", "AUTOINCREMENT", NULL);

    f->cols[1].flags = DBCONN_AUTOINCREMENT; /* not a key */
    expect_invalid(f, "\"name\"", "AUTOINCREMENT", NULL);

    f->cols[1].flags = 0;
    f->cols[0].type = DBCONN_TYPE_TEXT; /* not an integer */
    expect_invalid(f, "\"id\"", "AUTOINCREMENT", NULL);

    f->cols[0].type = DBCONN_TYPE_BOOLEAN;
    expect_invalid(f, "\"id\"", "AUTOINCREMENT", NULL);

    f->cols[0].type = DBCONN_TYPE_INTEGER;
    tu_ok(dbconn_base_add(f->base, &f->model));
}

static void test_index_errors(void **state) {
    fixture *f = *state;
    static const char *const cols_ok[] = {"name", "owner"};
    static const char *const cols_unknown[] = {"name", "nope"};
    static const char *const cols_twice[] = {"name", "NAME"};
    static const char *const cols_null[] = {NULL};
    dbconn_index ix[2] = {{.columns = cols_ok, .ncolumns = 2}};
    f->model.indexes = ix;
    f->model.nindexes = 1;

    ix[0].columns = cols_unknown;
    expect_invalid(f, "\"items\"", "unknown column \"nope\"", NULL);
    ix[0].columns = cols_twice;
    expect_invalid(f, "\"items\"", "\"NAME\" twice", NULL);
    ix[0].columns = cols_null;
    ix[0].ncolumns = 1;
    expect_invalid(f, "\"items\"", "unknown column", NULL);
    ix[0].columns = cols_ok;
    ix[0].ncolumns = 0;
    expect_invalid(f, "\"items\"", "index 0 has no columns", NULL);
    ix[0].ncolumns = 2;
    ix[0].name = "";
    expect_invalid(f, "\"items\"", "empty name", NULL);
    ix[0].name = NULL;
    ix[0].reserved[3] = f;
    expect_invalid(f, "\"items\"", "reserved", NULL);
    ix[0].reserved[3] = NULL;

    /* Two indexes, one name: the second would be skipped silently. */
    ix[1] = (dbconn_index){.name = "ix_items_name_owner", .columns = cols_ok,
                           .ncolumns = 1};
    f->model.nindexes = 2;
    expect_invalid(f, "two indexes are named \"ix_items_name_owner\"", NULL);
    ix[1].name = NULL; /* now "ix_items_name" */
    f->cols[1].flags |= DBCONN_INDEXED; /* also "ix_items_name" */
    expect_invalid(f, "two indexes are named \"ix_items_name\"", NULL);
    f->cols[1].flags &= ~DBCONN_INDEXED;

    tu_ok(dbconn_base_add(f->base, &f->model));
}

static void test_duplicates_across_models(void **state) {
    fixture *f = *state;
    tu_ok(dbconn_base_add(f->base, &f->model));
    /* The same model again. */
    assert_int_equal(dbconn_base_add(f->base, &f->model), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"items\""));

    /* Another model for the same table, spelled differently. */
    dbconn_model other = f->model;
    other.table = "ITEMS";
    assert_int_equal(dbconn_base_add(f->base, &other), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "duplicate table name "
                                                "\"ITEMS\""));

    /* An index name already used by another table's index. */
    static const char *const cols[] = {"name"};
    static const dbconn_index shared = {.name = "shared_ix", .columns = cols,
                                        .ncolumns = 1};
    dbconn_model second = f->model, third = f->model;
    second.table = "second";
    second.indexes = &shared;
    second.nindexes = 1;
    tu_ok(dbconn_base_add(f->base, &second));
    third.table = "third";
    third.indexes = &shared;
    third.nindexes = 1;
    assert_int_equal(dbconn_base_add(f->base, &third), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "model \"third\": index "
                                                "\"shared_ix\" is already "
                                                "declared by model "
                                                "\"second\""));
    assert_int_equal(dbconn_base_count(f->base), 2);
}

/* Generated names can collide too: "a_b"."c" and "a"."b_c" both give
 * "ix_a_b_c". */
static void test_generated_index_names_collide(void **state) {
    fixture *f = *state;
    static const dbconn_column c1[] = {
        {.name = "id", .type = DBCONN_TYPE_INTEGER,
         .flags = DBCONN_PRIMARY_KEY},
        {.name = "c", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_INDEXED},
    };
    static const dbconn_column c2[] = {
        {.name = "id", .type = DBCONN_TYPE_INTEGER,
         .flags = DBCONN_PRIMARY_KEY},
        {.name = "b_c", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_INDEXED},
    };
    static const dbconn_model m1 = {.table = "a_b", .columns = c1,
                                    .ncolumns = 2, .struct_size = 8};
    static const dbconn_model m2 = {.table = "a", .columns = c2,
                                    .ncolumns = 2, .struct_size = 8};
    tu_ok(dbconn_base_add(f->base, &m1));
    assert_int_equal(dbconn_base_add(f->base, &m2), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"ix_a_b_c\""));
}

static void test_default_base(void **state) {
    fixture *f = *state;
    dbconn_base *d = dbconn_active_record_base();
    assert_non_null(d);
    assert_ptr_equal(d, dbconn_active_record_base());
    assert_int_equal(dbconn_base_count(d), 0);
    tu_ok(dbconn_base_add(d, &f->model));
    assert_int_equal(dbconn_base_count(d), 1);
    /* The same model may be in two bases. */
    tu_ok(dbconn_base_add(f->base, &f->model));
    tu_ok(dbconn_base_clear(d));
    assert_int_equal(dbconn_base_count(d), 0);
    assert_int_equal(dbconn_base_count(f->base), 1);
    /* The default base is never freed. */
    tu_ok(dbconn_base_free(d));
    tu_ok(dbconn_base_add(d, &f->model));
    assert_int_equal(dbconn_base_count(d), 1);
}

static void test_many_models_grow_the_list(void **state) {
    fixture *f = *state;
    static char names[40][8];
    static dbconn_model models[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        models[i] = f->model;
        models[i].table = names[i];
        tu_ok(dbconn_base_add(dbconn_active_record_base(), &models[i]));
    }
    assert_int_equal(dbconn_base_count(dbconn_active_record_base()), 40);
}

static void test_unbound_base(void **state) {
    fixture *f = *state;
    dbconn_session *s = (dbconn_session *)f;
    assert_null(dbconn_base_bound(f->base));
    assert_null(dbconn_base_bound(NULL));
    assert_int_equal(dbconn_base_count(NULL), 0);
    assert_int_equal(dbconn_base_session(f->base, &s), DBCONN_ECLOSED);
    assert_null(s);
    assert_string_equal(dbconn_errmsg(NULL),
                        "base is not bound: call dbconn_init_db");
    assert_int_equal(dbconn_base_session(NULL, &s), DBCONN_EINVAL);
    assert_int_equal(dbconn_base_clear(NULL), DBCONN_EINVAL);
    tu_ok(dbconn_base_free(NULL));
    assert_int_equal(dbconn_base_new(NULL), DBCONN_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_model_is_added, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_model_level_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_column_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_references, setup,
                                        teardown),
        cmocka_unit_test(test_ref_parse),
        cmocka_unit_test_setup_teardown(test_primary_key_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_across_models, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_generated_index_names_collide,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_models_grow_the_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unbound_base, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

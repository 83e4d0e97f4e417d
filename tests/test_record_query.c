/* Queries built from column metadata (src/model/record_query.c, record_sql.c,
 * record_fetch.c, record_rel.c): every operator, groups, order, limit, the
 * fetch modes, relationships (filters across one, loading with one extra
 * statement), update / delete by condition and aggregates.  Expected rows
 * come from the same data filtered in C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_models.h"

#define NUSERS 40

static const char *const names[] = {
    "Alice", "alfred", "bob", "50%_off", "500 club", "under_score",
    "underscore", "back\\slash", "'; DROP TABLE users; --", "ALICE"};
#define NNAMES (sizeof names / sizeof *names)

typedef struct fixture {
    dbconn *db;
    rm_echo echo;
    rm_user users[NUSERS];
    char emails[NUSERS][32];
    rm_note notes[NUSERS * 3];
    size_t nnotes;
} fixture;

static const char *note_title(size_t i) {
    static const char *const t[] = {"db tips", "groceries", "sqlite and db",
                                    "travel"};
    return t[i % 4];
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->db = rm_open(&f->echo, NULL);
    for (int i = 0; i < NUSERS; i++) {
        snprintf(f->emails[i], sizeof f->emails[i], "u%d@example.org", i);
        f->users[i] = rm_make_user(names[i % NNAMES],
                                   i % 5 == 0 ? NULL : f->emails[i],
                                   (i * 7) % 60);
    }
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_user_model, f->users,
                                    NUSERS));
    for (int i = 0; i < NUSERS; i++) {
        for (int j = 0; j < i % 4; j++) {
            f->notes[f->nnotes] = (rm_note){.user_id = f->users[i].id,
                                            .title = note_title(f->nnotes)};
            f->nnotes++;
        }
    }
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_note_model, f->notes,
                                    f->nnotes));
    f->echo = (rm_echo){0};
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rm_close(f->db);
    free(f);
    return 0;
}

static dbconn_query *users_query(void) {
    dbconn_query *q = NULL;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_user_model));
    return q;
}

/* Runs q ordered by id and checks its rows are exactly the users `want`
 * accepts, in id order. */
typedef bool (*user_pred)(const rm_user *u);

static void expect_users(fixture *f, dbconn_query *q, user_pred want) {
    tu_ok(dbconn_query_order_by(q, "id"));
    dbconn_rows *r = NULL;
    tu_ok(dbconn_query_all(q, &r));
    size_t k = 0;
    rm_user *got = dbconn_rows_data(r);
    for (int i = 0; i < NUSERS; i++) {
        if (!want(&f->users[i]))
            continue;
        assert_true(k < dbconn_rows_count(r));
        assert_int_equal(got[k].id, f->users[i].id);
        assert_string_equal(got[k].name, f->users[i].name);
        k++;
    }
    assert_int_equal(k, dbconn_rows_count(r));
    int64_t n = -1;
    tu_ok(dbconn_query_count(q, &n));
    assert_int_equal(n, (int64_t)k);
    bool any = !k;
    tu_ok(dbconn_query_exists(q, &any));
    assert_int_equal(any, k > 0);
    dbconn_rows_free(r);
}

/* ---- operators ----------------------------------------------------------- */

static bool age_eq_14(const rm_user *u) { return u->age == 14; }
static bool age_ne_14(const rm_user *u) { return u->age != 14; }
static bool age_gt_30(const rm_user *u) { return u->age > 30; }
static bool age_ge_35(const rm_user *u) { return u->age >= 35; }
static bool age_lt_10(const rm_user *u) { return u->age < 10; }
static bool age_le_7(const rm_user *u) { return u->age <= 7; }
static bool age_in(const rm_user *u) {
    return u->age == 7 || u->age == 21 || u->age == 99;
}
static bool age_not_in(const rm_user *u) { return !age_in(u); }
static bool age_between(const rm_user *u) {
    return u->age >= 14 && u->age <= 28;
}
static bool email_null(const rm_user *u) { return u->email == NULL; }
static bool email_not_null(const rm_user *u) { return u->email != NULL; }
static bool all_users(const rm_user *u) { return u != NULL; }
static bool no_user(const rm_user *u) { return u == NULL; }
static bool active(const rm_user *u) { return u->active; }

static void comparison_operators(void **state) {
    fixture *f = *state;
    const struct {
        int op;
        dbconn_value v[3];
        size_t n;
        user_pred want;
    } cases[] = {
        {DBCONN_OP_EQ, {DBCONN_INT(14)}, 1, age_eq_14},
        {DBCONN_OP_NE, {DBCONN_INT(14)}, 1, age_ne_14},
        {DBCONN_OP_GT, {DBCONN_INT(30)}, 1, age_gt_30},
        {DBCONN_OP_GE, {DBCONN_INT(35)}, 1, age_ge_35},
        {DBCONN_OP_LT, {DBCONN_INT(10)}, 1, age_lt_10},
        {DBCONN_OP_LE, {DBCONN_INT(7)}, 1, age_le_7},
        {DBCONN_OP_IN, {DBCONN_INT(7), DBCONN_INT(21), DBCONN_INT(99)}, 3,
         age_in},
        {DBCONN_OP_NOT_IN, {DBCONN_INT(7), DBCONN_INT(21), DBCONN_INT(99)}, 3,
         age_not_in},
        {DBCONN_OP_BETWEEN, {DBCONN_INT(14), DBCONN_INT(28)}, 2, age_between},
        {DBCONN_OP_IN, {DBCONN_NULL}, 0, no_user},
        {DBCONN_OP_NOT_IN, {DBCONN_NULL}, 0, all_users},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dbconn_query *q = users_query();
        tu_ok(dbconn_query_where(q, "age", cases[i].op, cases[i].v,
                                 cases[i].n));
        expect_users(f, q, cases[i].want);
        dbconn_query_free(q);
    }
}

static void null_operators(void **state) {
    fixture *f = *state;
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_where(q, "email", DBCONN_OP_IS_NULL, NULL, 0));
    expect_users(f, q, email_null);
    dbconn_query_free(q);
    q = users_query();
    tu_ok(dbconn_query_where(q, "email", DBCONN_OP_IS_NOT_NULL, NULL, 0));
    expect_users(f, q, email_not_null);
    dbconn_query_free(q);
    /* = NULL and <> NULL mean IS NULL and IS NOT NULL */
    q = users_query();
    tu_ok(dbconn_query_where(q, "email", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_NULL)));
    expect_users(f, q, email_null);
    dbconn_query_free(q);
    q = users_query();
    tu_ok(dbconn_query_where(q, "email", DBCONN_OP_NE,
                             DBCONN_PARAMS(DBCONN_NULL)));
    expect_users(f, q, email_not_null);
    dbconn_query_free(q);
}

static bool name_starts_50pct(const rm_user *u) {
    return !strncmp(u->name, "50%", 3);
}
static bool name_has_underscore(const rm_user *u) {
    return strchr(u->name, '_') != NULL;
}
static bool name_ends_backslash(const rm_user *u) {
    size_t n = strlen(u->name);
    return n >= 6 && !strcmp(u->name + n - 6, "\\slash");
}
static bool name_alice_any_case(const rm_user *u) {
    return !strcmp(u->name, "Alice") || !strcmp(u->name, "ALICE");
}
static bool name_injection(const rm_user *u) {
    return !strcmp(u->name, "'; DROP TABLE users; --");
}

static void like_family_escapes_patterns(void **state) {
    fixture *f = *state;
    static const struct {
        int op;
        const char *v;
        user_pred want;
    } cases[] = {
        {DBCONN_OP_STARTSWITH, "50%", name_starts_50pct},
        {DBCONN_OP_CONTAINS, "_", name_has_underscore},
        {DBCONN_OP_ENDSWITH, "\\slash", name_ends_backslash},
        {DBCONN_OP_ILIKE, "aLiCe", name_alice_any_case},
        {DBCONN_OP_EQ, "'; DROP TABLE users; --", name_injection},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dbconn_query *q = users_query();
        tu_ok(dbconn_query_where(q, "name", cases[i].op,
                                 DBCONN_PARAMS(DBCONN_TEXT(cases[i].v))));
        expect_users(f, q, cases[i].want);
        dbconn_query_free(q);
    }
    /* LIKE itself: the pattern as given (a% matches both alice spellings
     * and alfred on SQLite, where ASCII case does not matter) */
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_where(q, "name", DBCONN_OP_LIKE,
                             DBCONN_PARAMS(DBCONN_TEXT("%o%"))));
    int64_t n = 0;
    tu_ok(dbconn_query_count(q, &n));
    int64_t want = 0;
    for (int i = 0; i < NUSERS; i++)
        want += strchr(f->users[i].name, 'o') != NULL ||
                (tu_is_sqlite() && strchr(f->users[i].name, 'O') != NULL);
    assert_int_equal(n, want);
    dbconn_query_free(q);
    assert_int_equal(tu_count_rows(f->db, "users", NULL), NUSERS);
}

static bool old_or_a_and_active(const rm_user *u) {
    return (u->age > 40 || u->name[0] == 'a' || u->name[0] == 'A') &&
           u->active;
}
static bool nested(const rm_user *u) {
    return u->age < 10 || (u->email == NULL && u->age > 20);
}

static void and_or_groups(void **state) {
    fixture *f = *state;
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_or(q));
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(40))));
    tu_ok(dbconn_query_where(q, "name", DBCONN_OP_ILIKE,
                             DBCONN_PARAMS(DBCONN_TEXT("a%"))));
    tu_ok(dbconn_query_end(q));
    tu_ok(dbconn_query_where(q, "active", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_BOOL(true))));
    expect_users(f, q, old_or_a_and_active);
    dbconn_query_free(q);

    q = users_query();
    tu_ok(dbconn_query_or(q));
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_LT,
                             DBCONN_PARAMS(DBCONN_INT(10))));
    tu_ok(dbconn_query_and(q));
    tu_ok(dbconn_query_where(q, "email", DBCONN_OP_IS_NULL, NULL, 0));
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(20))));
    /* both groups left open: closed when the query runs */
    expect_users(f, q, nested);
    dbconn_query_free(q);

    q = users_query();
    tu_ok(dbconn_query_or(q));
    tu_ok(dbconn_query_end(q));
    expect_users(f, q, no_user);
    dbconn_query_free(q);
    q = users_query();
    tu_ok(dbconn_query_and(q));
    tu_ok(dbconn_query_end(q));
    tu_ok(dbconn_query_where(q, "active", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_INT(1))));
    expect_users(f, q, active);
    dbconn_query_free(q);
    q = users_query();
    assert_int_equal(dbconn_query_end(q), DBCONN_EINVAL);
    dbconn_query_free(q);
}

/* ---- order, limit, fetch modes ------------------------------------------- */

static int by_age_desc_name(const void *a, const void *b) {
    const rm_user *x = a, *y = b;
    if (x->age != y->age)
        return x->age < y->age ? 1 : -1;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

static void order_limit_offset(void **state) {
    fixture *f = *state;
    rm_user sorted[NUSERS];
    memcpy(sorted, f->users, sizeof sorted);
    qsort(sorted, NUSERS, sizeof *sorted, by_age_desc_name);
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_order_by(q, "-age"));
    tu_ok(dbconn_query_order_by(q, "name"));
    tu_ok(dbconn_query_order_by(q, "id"));
    tu_ok(dbconn_query_limit(q, 5));
    tu_ok(dbconn_query_offset(q, 3));
    dbconn_rows *r = NULL;
    tu_ok(dbconn_query_all(q, &r));
    assert_int_equal(dbconn_rows_count(r), 5);
    rm_user *got = dbconn_rows_data(r);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got[i].id, sorted[3 + i].id);
    dbconn_rows_free(r);
    int64_t n = 0;
    tu_ok(dbconn_query_count(q, &n));
    assert_int_equal(n, 5);
    /* an offset alone */
    tu_ok(dbconn_query_limit(q, 1000));
    tu_ok(dbconn_query_offset(q, NUSERS - 2));
    tu_ok(dbconn_query_count(q, &n));
    assert_int_equal(n, 2);
    assert_int_equal(dbconn_query_limit(q, -1), DBCONN_EINVAL);
    dbconn_query_free(q);
    /* order by an unknown column */
    q = users_query();
    assert_int_equal(dbconn_query_order_by(q, "-agee"), DBCONN_EINVAL);
    dbconn_query_free(q);
}

static void fetch_modes(void **state) {
    (void)state;
    dbconn_rows *r = (dbconn_rows *)&r;
    dbconn_query *none = users_query(), *two = users_query(),
                 *one = users_query();
    tu_ok(dbconn_query_where(none, "age", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(1000))));
    tu_ok(dbconn_query_where(two, "name", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("bob"))));
    tu_ok(dbconn_query_where(one, "email", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("u3@example.org"))));
    tu_ok(dbconn_query_first(none, &r));
    assert_null(r);
    tu_ok(dbconn_query_one_or_none(none, &r));
    assert_null(r);
    assert_int_equal(dbconn_query_one(none, &r), DBCONN_ENOTFOUND);
    assert_null(r);
    assert_int_equal(dbconn_query_one(two, &r), DBCONN_EMULTIPLE);
    assert_null(r);
    assert_int_equal(dbconn_query_one_or_none(two, &r), DBCONN_EMULTIPLE);
    tu_ok(dbconn_query_first(two, &r));
    assert_int_equal(dbconn_rows_count(r), 1);
    dbconn_rows_free(r);
    tu_ok(dbconn_query_one(one, &r));
    assert_string_equal(((rm_user *)dbconn_rows_data(r))->name, names[3]);
    dbconn_rows_free(r);
    tu_ok(dbconn_query_one_or_none(one, &r));
    assert_int_equal(dbconn_rows_count(r), 1);
    dbconn_rows_free(r);
    dbconn_query_free(none);
    dbconn_query_free(two);
    dbconn_query_free(one);
}

static void a_failed_builder_call_is_kept(void **state) {
    (void)state;
    dbconn_query *q = users_query();
    assert_int_equal(dbconn_query_where(q, "nmae", DBCONN_OP_EQ,
                                        DBCONN_PARAMS(DBCONN_TEXT("x"))),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"users\""));
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"nmae\""));
    /* later calls, valid or not, return it again */
    assert_int_equal(dbconn_query_order_by(q, "id"), DBCONN_EINVAL);
    dbconn_rows *r = (dbconn_rows *)&r;
    assert_int_equal(dbconn_query_all(q, &r), DBCONN_EINVAL);
    assert_null(r);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"nmae\""));
    dbconn_query_free(q);
    /* wrong value counts and kinds */
    q = users_query();
    assert_int_equal(dbconn_query_where(q, "age", DBCONN_OP_BETWEEN,
                                        DBCONN_PARAMS(DBCONN_INT(1))),
                     DBCONN_EINVAL);
    dbconn_query_free(q);
    q = users_query();
    assert_int_equal(dbconn_query_where(q, "name", DBCONN_OP_CONTAINS,
                                        DBCONN_PARAMS(DBCONN_INT(1))),
                     DBCONN_EINVAL);
    dbconn_query_free(q);
    q = users_query();
    assert_int_equal(dbconn_query_where(q, "name", 999, NULL, 0),
                     DBCONN_EINVAL);
    dbconn_query_free(q);
    assert_int_equal(dbconn_query_new(&q, NULL, NULL, &rm_node_model), 0);
    dbconn_query_free(q);
}

static void a_query_runs_again(void **state) {
    fixture *f = *state;
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(30))));
    dbconn_rows *a = NULL, *b = NULL;
    tu_ok(dbconn_query_all(q, &a));
    dbconn_stats before, after;
    tu_ok(dbconn_pool_stats(f->db, &before));
    tu_ok(dbconn_query_all(q, &b));
    tu_ok(dbconn_pool_stats(f->db, &after));
    assert_true(after.cache_hits > before.cache_hits);
    assert_int_equal(after.cache_misses, before.cache_misses);
    assert_int_equal(dbconn_rows_count(a), dbconn_rows_count(b));
    dbconn_rows_free(a);
    dbconn_rows_free(b);
    dbconn_query_free(q);
}

/* ---- relationships ------------------------------------------------------- */

static bool user_has_db_note(fixture *f, const rm_user *u) {
    for (size_t i = 0; i < f->nnotes; i++)
        if (f->notes[i].user_id == u->id && strstr(f->notes[i].title, "db"))
            return true;
    return false;
}

static fixture *current;
static bool has_db_note(const rm_user *u) {
    return user_has_db_note(current, u);
}

static void filter_across_a_relationship(void **state) {
    fixture *f = current = *state;
    static const char *const spellings[] = {"notes.title",
                                            "notes(user_id).title"};
    for (size_t i = 0; i < 2; i++) {
        dbconn_query *q = users_query();
        tu_ok(dbconn_query_where(q, spellings[i], DBCONN_OP_CONTAINS,
                                 DBCONN_PARAMS(DBCONN_TEXT("db"))));
        expect_users(f, q, has_db_note);
        dbconn_query_free(q);
    }
    /* many-to-one: the notes of users named bob */
    static const char *const up[] = {"user_id.name", "users.name"};
    int64_t want = 0;
    for (size_t i = 0; i < f->nnotes; i++)
        for (int k = 0; k < NUSERS; k++)
            want += f->users[k].id == f->notes[i].user_id &&
                    !strcmp(f->users[k].name, "bob");
    for (size_t i = 0; i < 2; i++) {
        dbconn_query *q = NULL;
        tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_note_model));
        tu_ok(dbconn_query_where(q, up[i], DBCONN_OP_EQ,
                                 DBCONN_PARAMS(DBCONN_TEXT("bob"))));
        int64_t n = -1;
        tu_ok(dbconn_query_count(q, &n));
        assert_int_equal(n, want);
        dbconn_query_free(q);
    }
    dbconn_query *q = users_query();
    assert_int_equal(dbconn_query_where(q, "notes.nope", DBCONN_OP_EQ,
                                        DBCONN_PARAMS(DBCONN_INT(1))),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"nope\""));
    dbconn_query_free(q);
    q = users_query();
    assert_int_equal(dbconn_query_where(q, "teams.name", DBCONN_OP_EQ,
                                        DBCONN_PARAMS(DBCONN_INT(1))),
                     DBCONN_EINVAL);
    dbconn_query_free(q);
}

/* Checks every user's loaded notes against the fixture, in id order. */
static void check_children(fixture *f, dbconn_rows *r, const char *rel) {
    rm_user *us = dbconn_rows_data(r);
    for (size_t i = 0; i < dbconn_rows_count(r); i++) {
        void *first;
        size_t n;
        tu_ok(dbconn_rows_related(r, i, rel, &first, &n));
        rm_note *ns = first;
        size_t k = 0;
        for (size_t j = 0; j < f->nnotes; j++) {
            if (f->notes[j].user_id != us[i].id)
                continue;
            assert_true(k < n);
            assert_int_equal(ns[k].id, f->notes[j].id);
            assert_string_equal(ns[k].title, f->notes[j].title);
            k++;
        }
        assert_int_equal(k, n);
        assert_true(n > 0 || first == NULL);
    }
}

static void load_children_with_one_extra_select(void **state) {
    fixture *f = *state;
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_load(q, "notes"));
    f->echo = (rm_echo){0};
    dbconn_rows *r = NULL;
    tu_ok(dbconn_query_all(q, &r));
    assert_int_equal(f->echo.selects, 2); /* users, then all their notes */
    assert_int_equal(dbconn_rows_count(r), NUSERS);
    check_children(f, r, "notes");
    void *first;
    size_t n;
    assert_int_equal(dbconn_rows_related(r, 0, "notes(user_id)", &first, &n),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_rows_related(r, NUSERS, "notes", &first, &n),
                     DBCONN_EINVAL);
    dbconn_rows_free(r);
    assert_int_equal(dbconn_query_load(q, "notes"), DBCONN_EINVAL);
    dbconn_query_free(q);
}

static void load_children_of_a_limited_ordered_query(void **state) {
    fixture *f = *state;
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_GE,
                             DBCONN_PARAMS(DBCONN_INT(7))));
    tu_ok(dbconn_query_order_by(q, "-age")); /* ties: the key breaks them */
    tu_ok(dbconn_query_limit(q, 6));
    tu_ok(dbconn_query_offset(q, 2));
    tu_ok(dbconn_query_load(q, "notes(user_id)"));
    f->echo = (rm_echo){0};
    dbconn_rows *r = NULL;
    tu_ok(dbconn_query_all(q, &r));
    assert_int_equal(f->echo.selects, 2);
    assert_int_equal(dbconn_rows_count(r), 6);
    check_children(f, r, "notes(user_id)");
    dbconn_rows_free(r);
    f->echo = (rm_echo){0};
    tu_ok(dbconn_query_first(q, &r));
    assert_int_equal(f->echo.selects, 2);
    check_children(f, r, "notes(user_id)");
    dbconn_rows_free(r);
    dbconn_query_free(q);
}

static void load_parents(void **state) {
    fixture *f = *state;
    rm_category work = {.label = "work"};
    tu_ok(dbconn_record_create(NULL, NULL, &rm_category_model, &work));
    dbconn_query *u = NULL;
    tu_ok(dbconn_query_new(&u, NULL, NULL, &rm_note_model));
    tu_ok(dbconn_query_where(u, "title", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("travel"))));
    int64_t changed = 0;
    static const char *const cat[] = {"category_id"};
    tu_ok(dbconn_query_update(u, cat, DBCONN_PARAMS(DBCONN_INT(work.id)),
                              &changed));
    assert_true(changed > 0);
    dbconn_query_free(u);

    dbconn_query *q = NULL;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_note_model));
    tu_ok(dbconn_query_order_by(q, "id"));
    tu_ok(dbconn_query_load(q, "user_id"));
    tu_ok(dbconn_query_load(q, "categories"));
    f->echo = (rm_echo){0};
    dbconn_rows *r = NULL;
    tu_ok(dbconn_query_all(q, &r));
    assert_int_equal(f->echo.selects, 3);
    assert_int_equal(dbconn_rows_count(r), f->nnotes);
    rm_note *ns = dbconn_rows_data(r);
    for (size_t i = 0; i < f->nnotes; i++) {
        void *p;
        size_t n;
        tu_ok(dbconn_rows_related(r, i, "user_id", &p, &n));
        assert_int_equal(n, 1);
        assert_int_equal(((rm_user *)p)->id, ns[i].user_id);
        tu_ok(dbconn_rows_related(r, i, "categories", &p, &n));
        bool travel = !strcmp(ns[i].title, "travel");
        assert_int_equal(n, travel);
        if (travel)
            assert_string_equal(((rm_category *)p)->label, "work");
        else
            assert_null(p);
    }
    dbconn_rows_free(r);
    dbconn_query_free(q);
}

static void self_referencing_tree(void **state) {
    (void)state;
    rm_node root = {.label = "root"};
    tu_ok(dbconn_record_create(NULL, NULL, &rm_node_model, &root));
    rm_node kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = (rm_node){.parent_id = root.id, .label = "kid"};
        tu_ok(dbconn_record_create(NULL, NULL, &rm_node_model, &kids[i]));
    }
    dbconn_query *q = NULL;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_node_model));
    assert_int_equal(dbconn_query_load(q, "nodes"), DBCONN_EINVAL);
    dbconn_query_free(q);
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_node_model));
    tu_ok(dbconn_query_load(q, "parent_id"));
    tu_ok(dbconn_query_load(q, "nodes(parent_id)"));
    tu_ok(dbconn_query_order_by(q, "id"));
    dbconn_rows *r = NULL;
    tu_ok(dbconn_query_all(q, &r));
    assert_int_equal(dbconn_rows_count(r), 4);
    void *p;
    size_t n;
    tu_ok(dbconn_rows_related(r, 0, "parent_id", &p, &n));
    assert_int_equal(n, 0);
    tu_ok(dbconn_rows_related(r, 0, "nodes(parent_id)", &p, &n));
    assert_int_equal(n, 3);
    for (size_t i = 1; i < 4; i++) {
        tu_ok(dbconn_rows_related(r, i, "parent_id", &p, &n));
        assert_int_equal(n, 1);
        assert_string_equal(((rm_node *)p)->label, "root");
        tu_ok(dbconn_rows_related(r, i, "nodes(parent_id)", &p, &n));
        assert_int_equal(n, 0);
    }
    dbconn_rows_free(r);
    dbconn_query_free(q);
    /* the children that have a parent labelled root */
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_node_model));
    tu_ok(dbconn_query_where(q, "parent_id.label", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("root"))));
    int64_t count = 0;
    tu_ok(dbconn_query_count(q, &count));
    assert_int_equal(count, 3);
    dbconn_query_free(q);
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_node_model));
    tu_ok(dbconn_query_where(q, "nodes(parent_id).label", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("kid"))));
    tu_ok(dbconn_query_count(q, &count));
    assert_int_equal(count, 1);
    dbconn_query_free(q);
}

/* ---- update / delete by condition, aggregates ---------------------------- */

static void update_and_delete_by_condition(void **state) {
    fixture *f = *state;
    int64_t old = 0, a = 0;
    for (int i = 0; i < NUSERS; i++) {
        old += f->users[i].age > 50;
        a += f->users[i].name[0] == 'a' || f->users[i].name[0] == 'A';
    }
    dbconn_query *q = users_query();
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(50))));
    static const char *const cols[] = {"active", "email"};
    int64_t changed = -1;
    f->echo = (rm_echo){0};
    tu_ok(dbconn_query_update(q, cols,
                              DBCONN_PARAMS(DBCONN_INT(0), DBCONN_NULL),
                              &changed));
    assert_int_equal(f->echo.updates, 1);
    assert_int_equal(changed, old);
    assert_int_equal(tu_count_rows(f->db, "users",
                                   "age > 50 AND NOT active AND email IS "
                                   "NULL"),
                     old);
    tu_ok(dbconn_query_order_by(q, "id"));
    assert_int_equal(dbconn_query_update(q, cols,
                                         DBCONN_PARAMS(DBCONN_INT(0),
                                                       DBCONN_NULL),
                                         &changed),
                     DBCONN_EINVAL);
    dbconn_query_free(q);
    q = users_query();
    static const char *const key[] = {"id"};
    assert_int_equal(dbconn_query_update(q, key, DBCONN_PARAMS(DBCONN_INT(1)),
                                         &changed),
                     DBCONN_EINVAL);
    tu_ok(dbconn_query_where(q, "name", DBCONN_OP_ILIKE,
                             DBCONN_PARAMS(DBCONN_TEXT("a%"))));
    int64_t deleted = -1;
    tu_ok(dbconn_query_delete(q, &deleted));
    assert_int_equal(deleted, a);
    assert_int_equal(tu_count_rows(f->db, "users", NULL), NUSERS - a);
    dbconn_query_free(q);
}

static void group_by_with_aggregates(void **state) {
    fixture *f = *state;
    dbconn_query *q = NULL;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_note_model));
    tu_ok(dbconn_query_group_by(q, "user_id"));
    tu_ok(dbconn_query_agg(q, DBCONN_AGG_COUNT, NULL));
    tu_ok(dbconn_query_agg(q, DBCONN_AGG_MAX, "id"));
    tu_ok(dbconn_query_order_by(q, "user_id"));
    dbconn_result *res = NULL;
    tu_ok(dbconn_query_aggregate(q, &res));
    size_t row = 0;
    for (int i = 0; i < NUSERS; i++) {
        int64_t n = 0, max = 0;
        for (size_t j = 0; j < f->nnotes; j++)
            if (f->notes[j].user_id == f->users[i].id) {
                n++;
                max = f->notes[j].id;
            }
        if (!n)
            continue;
        assert_int_equal(dbconn_result_int_by_name(res, row, "user_id"),
                         f->users[i].id);
        assert_int_equal(dbconn_result_int_by_name(res, row, "count"), n);
        assert_int_equal(dbconn_result_int_by_name(res, row, "max_id"), max);
        row++;
    }
    assert_int_equal(dbconn_result_nrows(res), row);
    dbconn_result_free(res);
    tu_ok(dbconn_query_order_by(q, "title"));
    assert_int_equal(dbconn_query_aggregate(q, &res), DBCONN_EINVAL);
    assert_null(res);
    dbconn_query_free(q);
    /* no group: one row over everything */
    q = users_query();
    tu_ok(dbconn_query_agg(q, DBCONN_AGG_SUM, "age"));
    tu_ok(dbconn_query_agg(q, DBCONN_AGG_MIN, "age"));
    tu_ok(dbconn_query_aggregate(q, &res));
    int64_t sum = 0, min = 1000;
    for (int i = 0; i < NUSERS; i++) {
        sum += f->users[i].age;
        min = f->users[i].age < min ? f->users[i].age : min;
    }
    assert_int_equal(dbconn_result_int_by_name(res, 0, "sum_age"), sum);
    assert_int_equal(dbconn_result_int_by_name(res, 0, "min_age"), min);
    dbconn_result_free(res);
    dbconn_query_free(q);
    q = users_query();
    assert_int_equal(dbconn_query_aggregate(q, &res), DBCONN_EINVAL);
    assert_int_equal(dbconn_query_agg(q, DBCONN_AGG_SUM, NULL), DBCONN_EINVAL);
    dbconn_query_free(q);
}

static void timestamps_in_conditions(void **state) {
    fixture *f = *state;
    dbconn_timestamp mid = f->users[NUSERS / 2].created_at;
    dbconn_query *q = users_query();
    /* an integer value for a TIMESTAMP column is a dbconn_timestamp */
    tu_ok(dbconn_query_where(q, "created_at", DBCONN_OP_LE,
                             DBCONN_PARAMS(DBCONN_INT(mid))));
    int64_t n = 0;
    tu_ok(dbconn_query_count(q, &n));
    assert_int_equal(n, NUSERS); /* one batch: one time */
    dbconn_query_free(q);
    q = users_query();
    tu_ok(dbconn_query_where(q, "created_at", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(mid))));
    tu_ok(dbconn_query_count(q, &n));
    assert_int_equal(n, 0);
    dbconn_query_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(comparison_operators),
        T(null_operators),
        T(like_family_escapes_patterns),
        T(and_or_groups),
        T(order_limit_offset),
        T(fetch_modes),
        T(a_failed_builder_call_is_kept),
        T(a_query_runs_again),
        T(filter_across_a_relationship),
        T(load_children_with_one_extra_select),
        T(load_children_of_a_limited_ordered_query),
        T(load_parents),
        T(self_referencing_tree),
        T(update_and_delete_by_condition),
        T(group_by_with_aggregates),
        T(timestamps_in_conditions),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

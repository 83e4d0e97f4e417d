/* Serialization through jansson (src/model/record_json.c): structs and rows
 * to JSON (nested relationships too) and JSON back into owned structs; the
 * output is read back with jansson itself. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_models.h"

static const unsigned char pic[] = {0xff, 0x00, 0x10, 0x80, 0x41};

static rm_user sample(void) {
    rm_user u = rm_make_user("zoë \"q\" \\ \n", "z@example.org", 33);
    u.id = 12;
    u.avatar = (dbconn_blob){pic, sizeof pic};
    u.role = "admin";
    u.score = 0.1;
    u.created_at = 1700000000123456;
    u.updated_at = 1700000001000000;
    return u;
}

static json_t *parse(const char *text) {
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, text);
    return j;
}

static void struct_to_json(void **state) {
    (void)state;
    rm_user u = sample();
    char *text = NULL;
    tu_ok(dbconn_record_to_json(&rm_user_model, &u, 0, &text));
    assert_null(strchr(text, '\n')); /* compact */
    json_t *j = parse(text);
    assert_int_equal(json_object_size(j), rm_user_model.ncolumns);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 12);
    assert_string_equal(json_string_value(json_object_get(j, "name")),
                        u.name);
    assert_true(json_is_true(json_object_get(j, "active")) == u.active);
    assert_true(json_real_value(json_object_get(j, "score")) == 0.1);
    /* RFC 4648 base64 of the bytes */
    assert_string_equal(json_string_value(json_object_get(j, "avatar")),
                        "/wAQgEE=");
    char want[DBCONN_TIMESTAMP_LEN];
    tu_ok(dbconn_timestamp_format(u.created_at, want, sizeof want));
    want[10] = 'T';
    const char *got = json_string_value(json_object_get(j, "created_at"));
    assert_int_equal(strncmp(got, want, strlen(want)), 0);
    assert_string_equal(got + strlen(want), "Z");
    json_decref(j);
    dbconn_free(text);
    /* nulls */
    rm_user empty = {0};
    tu_ok(dbconn_record_to_json(&rm_user_model, &empty, DBCONN_JSON_PRETTY,
                                &text));
    assert_non_null(strchr(text, '\n'));
    j = parse(text);
    assert_true(json_is_null(json_object_get(j, "name")));
    assert_true(json_is_null(json_object_get(j, "avatar")));
    assert_true(json_is_null(json_object_get(j, "created_at")));
    assert_int_equal(json_integer_value(json_object_get(j, "age")), 0);
    json_decref(j);
    dbconn_free(text);
}

static void json_round_trip(void **state) {
    (void)state;
    rm_user u = sample(), back;
    char *text = NULL;
    tu_ok(dbconn_record_to_json(&rm_user_model, &u, 0, &text));
    tu_ok(dbconn_record_from_json(&rm_user_model, text, &back));
    dbconn_free(text);
    assert_int_equal(back.id, u.id);
    assert_string_equal(back.name, u.name);
    assert_string_equal(back.email, u.email);
    assert_int_equal(back.age, u.age);
    assert_int_equal(back.active, u.active);
    assert_true(back.score == u.score);
    assert_int_equal(back.avatar.len, sizeof pic);
    assert_memory_equal(back.avatar.data, pic, sizeof pic);
    assert_string_equal(back.role, "admin");
    assert_int_equal(back.created_at, u.created_at);
    assert_int_equal(back.updated_at, u.updated_at);
    dbconn_record_clear(&rm_user_model, &back);
    /* base64 of every length mod 3, and an empty blob */
    for (size_t n = 0; n <= sizeof pic; n++) {
        u.avatar = (dbconn_blob){pic, n};
        tu_ok(dbconn_record_to_json(&rm_user_model, &u, 0, &text));
        tu_ok(dbconn_record_from_json(&rm_user_model, text, &back));
        assert_int_equal(back.avatar.len, n);
        assert_non_null(back.avatar.data);
        if (n)
            assert_memory_equal(back.avatar.data, pic, n);
        dbconn_record_clear(&rm_user_model, &back);
        dbconn_free(text);
    }
}

static void from_json_reads_engine_forms(void **state) {
    (void)state;
    rm_user u;
    tu_ok(dbconn_record_from_json(&rm_user_model,
                                  "{\"NAME\": \"x\", \"created_at\": "
                                  "\"2024-01-02 03:04:05.5+05:30\", "
                                  "\"updated_at\": 1000000, \"score\": 2}",
                                  &u));
    assert_string_equal(u.name, "x");
    dbconn_timestamp want;
    tu_ok(dbconn_timestamp_parse("2024-01-01 21:34:05.500000", &want));
    assert_int_equal(u.created_at, want);
    assert_int_equal(u.updated_at, 1000000);
    assert_true(u.score == 2.0);
    assert_null(u.email);
    dbconn_record_clear(&rm_user_model, &u);
}

static void from_json_errors(void **state) {
    (void)state;
    static const struct {
        const char *json, *says;
    } bad[] = {
        {"{\"name\": ", "line 1"},
        {"[1, 2]", "not an object"},
        {"{\"nmae\": \"x\"}", "\"nmae\""},
        {"{\"age\": \"old\"}", "an integer"},
        {"{\"age\": 1.5}", "an integer"},
        {"{\"active\": 1}", "true or false"},
        {"{\"name\": \"a\", \"Name\": \"b\"}", "twice"},
        {"{\"avatar\": \"not base64!\"}", "base64"},
        {"{\"avatar\": \"QQ=A\"}", "base64"},
        {"{\"created_at\": \"yesterday\"}", "created_at"},
        {"{\"name\": \"a\\u0000b\"}", "NUL"},
        {"{\"name\": \"ok\", \"email\": 3}", "a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rm_user u;
        memset(&u, 0x55, sizeof u);
        assert_int_equal(dbconn_record_from_json(&rm_user_model, bad[i].json,
                                                 &u),
                         DBCONN_EINVAL);
        if (!strstr(dbconn_errmsg(NULL), bad[i].says))
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].json,
                     dbconn_errmsg(NULL), bad[i].says);
        assert_null(u.name); /* nothing to release */
        assert_null(u.email);
    }
}

static void values_json_cannot_hold(void **state) {
    (void)state;
    rm_user u = sample();
    char *text = (char *)&u;
    u.name = "\xff\xfe";
    assert_int_equal(dbconn_record_to_json(&rm_user_model, &u, 0, &text),
                     DBCONN_EINVAL);
    assert_null(text);
    assert_non_null(strstr(dbconn_errmsg(NULL), "UTF-8"));
    u = sample();
    u.score = NAN;
    assert_int_equal(dbconn_record_to_json(&rm_user_model, &u, 0, &text),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_record_to_json(&rm_user_model, &u, 0x80, &text),
                     DBCONN_EINVAL);
}

static void nested_rows(void **state) {
    (void)state;
    dbconn *db = rm_open(NULL, NULL);
    rm_user us[2] = {rm_make_user("ann", NULL, 2), rm_make_user("ben", NULL, 3)};
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_user_model, us, 2));
    rm_note ns[3] = {{.user_id = us[0].id, .title = "a1"},
                     {.user_id = us[0].id, .title = "a2"},
                     {.user_id = us[1].id, .title = "b1"}};
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_note_model, ns, 3));
    dbconn_query *q;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_user_model));
    tu_ok(dbconn_query_order_by(q, "id"));
    tu_ok(dbconn_query_load(q, "notes"));
    dbconn_rows *r;
    tu_ok(dbconn_query_all(q, &r));
    char *flat, *deep;
    tu_ok(dbconn_rows_to_json(r, 0, &flat));
    tu_ok(dbconn_rows_to_json(r, DBCONN_JSON_NESTED, &deep));
    json_t *jf = parse(flat), *jd = parse(deep);
    assert_int_equal(json_array_size(jf), 2);
    assert_null(json_object_get(json_array_get(jf, 0), "notes"));
    json_t *notes = json_object_get(json_array_get(jd, 0), "notes");
    assert_int_equal(json_array_size(notes), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(notes, 1), "title")),
                        "a2");
    assert_int_equal(json_array_size(json_object_get(json_array_get(jd, 1),
                                                     "notes")),
                     1);
    json_decref(jf);
    json_decref(jd);
    dbconn_free(flat);
    dbconn_free(deep);
    dbconn_rows_free(r);
    dbconn_query_free(q);
    /* a parent: an object, or null */
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_note_model));
    tu_ok(dbconn_query_load(q, "user_id"));
    tu_ok(dbconn_query_load(q, "category_id"));
    tu_ok(dbconn_query_first(q, &r));
    tu_ok(dbconn_rows_to_json(r, DBCONN_JSON_NESTED, &deep));
    jd = parse(deep);
    json_t *first = json_array_get(jd, 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(first, "user_id"), "name")),
                        "ann");
    assert_true(json_is_null(json_object_get(first, "category_id")));
    json_decref(jd);
    dbconn_free(deep);
    dbconn_rows_free(r);
    dbconn_query_free(q);
    rm_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(struct_to_json),
        cmocka_unit_test(json_round_trip),
        cmocka_unit_test(from_json_reads_engine_forms),
        cmocka_unit_test(from_json_errors),
        cmocka_unit_test(values_json_cannot_hold),
        cmocka_unit_test(nested_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

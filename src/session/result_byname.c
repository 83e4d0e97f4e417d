/* Result getters by column name, built on the public getters: the name is
 * looked up with dbconn_result_colindex, and a name the result does not
 * have reads like a column out of range. */
#include "dbconn.h"

/* The column index of `name`, or ncols (out of range) when there is none. */
static size_t col_of(const dbconn_result *r, const char *name) {
    int i = name ? dbconn_result_colindex(r, name) : DBCONN_EINVAL;
    return i < 0 ? dbconn_result_ncols(r) : (size_t)i;
}

int dbconn_result_type_by_name(const dbconn_result *r, size_t row,
                               const char *name) {
    return dbconn_result_type(r, row, col_of(r, name));
}

int64_t dbconn_result_int_by_name(const dbconn_result *r, size_t row,
                                  const char *name) {
    return dbconn_result_int(r, row, col_of(r, name));
}

double dbconn_result_real_by_name(const dbconn_result *r, size_t row,
                                  const char *name) {
    return dbconn_result_real(r, row, col_of(r, name));
}

const char *dbconn_result_text_by_name(const dbconn_result *r, size_t row,
                                       const char *name) {
    return dbconn_result_text(r, row, col_of(r, name));
}

size_t dbconn_result_text_len_by_name(const dbconn_result *r, size_t row,
                                      const char *name) {
    return dbconn_result_text_len(r, row, col_of(r, name));
}

const void *dbconn_result_blob_by_name(const dbconn_result *r, size_t row,
                                       const char *name, size_t *len) {
    return dbconn_result_blob(r, row, col_of(r, name), len);
}

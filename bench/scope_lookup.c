/*
 * scope_lookup — cost of one scoped-registry lookup with N live scopes.
 *
 * Opens sqlite:// with a custom scopefunc that returns a key the program
 * sets, creates N live scopes (one session each), then looks up M existing
 * keys round-robin through dbconn_scoped_session.  All lookups happen in
 * scope_lookups(), so callgrind can count that function alone:
 *
 *     valgrind --tool=callgrind --toggle-collect=scope_lookups \
 *         ./scope_lookup 100000
 *
 * bench/scope_callgrind.sh does that for N = 1000 and N = 100000 and checks
 * that the instructions per lookup do not grow with N (O(1)).
 *
 * usage: scope_lookup N [M]      (M defaults to 200000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include <dbconn.h>

static void *current_key;

static void *bench_scopefunc(void *data) { return *(void **)data; }

/* Non-static and not inlined: callgrind's --toggle-collect names it. */
size_t scope_lookups(dbconn *db, char *keys, size_t n, size_t m);

size_t scope_lookups(dbconn *db, char *keys, size_t n, size_t m) {
    size_t failures = 0;
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        dbconn_session *s;
        current_key = &keys[k];
        if (dbconn_scoped_session(db, &s) != 0)
            failures++;
        if (++k == n)
            k = 0;
    }
    return failures;
}

static void quiet(void *data, int level, const char *line) {
    (void)data;
    (void)level;
    (void)line;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s N [M]\n", argv[0]);
        return 2;
    }
    size_t n = strtoul(argv[1], NULL, 10);
    size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
    if (n == 0 || m == 0) {
        fprintf(stderr, "N and M must be positive\n");
        return 2;
    }
    char *keys = malloc(n);
    if (!keys)
        return 1;
    dbconn *db = NULL;
    dbconn_options o = {.scopefunc = bench_scopefunc,
                        .scope_data = &current_key,
                        .log = quiet};
    if (dbconn_open(&db, "sqlite://", &o) != 0) {
        fprintf(stderr, "dbconn_open: %s\n", dbconn_errmsg(NULL));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        dbconn_session *s;
        current_key = &keys[i];
        if (dbconn_scoped_session(db, &s) != 0) {
            fprintf(stderr, "scope %zu: %s\n", i, dbconn_errmsg(NULL));
            return 1;
        }
    }
    uint64_t t0 = uv_hrtime();
    size_t failures = scope_lookups(db, keys, n, m);
    uint64_t t1 = uv_hrtime();
    printf("scopes %zu lookups %zu failures %zu: %.1f ns/lookup\n",
           dbconn_scoped_count(db), m, failures, (double)(t1 - t0) / (double)m);
    dbconn_close(db, NULL);
    free(keys);
    return failures != 0;
}

/* Edit distance (optimal string alignment) of short names, ASCII case
 * folded, and the nearest-name search built on it. */
#include <stdint.h>
#include <string.h>

#include "util/editdist.h"
#include "util/text.h"

size_t dbc_edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > DBC_EDITDIST_MAX || m > DBC_EDITDIST_MAX)
        return SIZE_MAX;
    /* Three rows of the dynamic-programming table: i-2, i-1 and i. */
    size_t rows[3][DBC_EDITDIST_MAX + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        char ca = dbc_ascii_lower(a[i - 1]);
        for (size_t j = 1; j <= m; j++) {
            char cb = dbc_ascii_lower(b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == dbc_ascii_lower(b[j - 2]) &&
                dbc_ascii_lower(a[i - 2]) == cb && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

size_t dbc_edit_threshold(size_t len) {
    return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

void dbc_nearest_step(const char *key, const char *cand, const char **best,
                      size_t *dist) {
    if (strcmp(key, cand) == 0)
        return;
    size_t d = dbc_edit_distance(key, cand);
    size_t len = strlen(key);
    if (d == SIZE_MAX || d > dbc_edit_threshold(len) ||
        d >= strlen(cand) || d >= len)
        return; /* too far to be a typo of it */
    if (!*best || d < *dist) {
        *best = cand;
        *dist = d;
    }
}

const char *dbc_nearest(const char *key, const char *const *cands) {
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    for (; cands && *cands; cands++)
        dbc_nearest_step(key, *cands, &best, &dist);
    return best;
}

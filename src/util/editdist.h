/* Edit distance between short names, and the nearest of a list of names:
 * what "did you mean ...?" in option messages rests on. */
#ifndef DBCONN_EDITDIST_H
#define DBCONN_EDITDIST_H

#include <stddef.h>

/* The longest name compared; longer ones are "far" from everything. */
#define DBC_EDITDIST_MAX 64

/* The optimal-string-alignment distance of a and b (insertions, deletions,
 * substitutions and swaps of two adjacent characters, each 1), ASCII case
 * not counting.  A name longer than DBC_EDITDIST_MAX bytes: SIZE_MAX. */
size_t dbc_edit_distance(const char *a, const char *b);

/* The largest distance at which a name of `len` bytes is still a typo of
 * another: 1 up to 4 bytes, 2 up to 8, else 3. */
size_t dbc_edit_threshold(size_t len);

/* Keeps the nearest candidate: call with each candidate in turn, *best
 * (start NULL) and *dist (start SIZE_MAX) hold the nearest so far within
 * key's threshold (the first of equals wins).  A candidate identical to
 * key is ignored: it is no suggestion (one that differs only in case is
 * one, at distance 0). */
void dbc_nearest_step(const char *key, const char *cand, const char **best,
                      size_t *dist);

/* The nearest of cands[0..] (NULL-terminated) to key within the threshold,
 * or NULL. */
const char *dbc_nearest(const char *key, const char *const *cands);

#endif

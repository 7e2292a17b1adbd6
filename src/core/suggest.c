/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean": the known name nearest to a mistyped one, by edit distance. Used for policy
 * keys, command-line flags, detector names, CSV columns and HDF5 dataset paths, so every
 * "unknown name" message suggests the same way. */
#include <string.h>

#include "core/internal.h"

static char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Edit distance, case-insensitive, with a swap of two neighbouring letters as one edit
 * (optimal string alignment): "lable" is one typo away from "label", not two. Names longer than
 * 64 bytes are never close. */
static size_t distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return SIZE_MAX;
    size_t prev2[65], prev[65], row[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (lower(a[i - 1]) != lower(b[j - 1]));
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
        memcpy(prev2, prev, (lb + 1) * sizeof *prev);
        memcpy(prev, row, (lb + 1) * sizeof *row);
    }
    return prev[lb];
}

void assay__suggest_init(assay__suggest *s, const char *word) {
    s->word = word;
    s->best = NULL;
    /* A likely typo: at most 2 edits, and fewer than a third of the word changed for short
     * words, so "k" does not suggest "id". */
    size_t len = word ? strlen(word) : 0;
    s->best_d = len < 3 ? 1 : len < 6 ? 2 : 3;
}

void assay__suggest_offer(assay__suggest *s, const char *candidate) {
    if (s->word == NULL || candidate == NULL || candidate[0] == '\0') return;
    size_t d = distance(s->word, candidate);
    if (d < s->best_d) {
        s->best_d = d;
        s->best = candidate;
    }
}

const char *assay__suggest_pick(const char *word, const char *const *candidates, size_t n) {
    assay__suggest s;
    assay__suggest_init(&s, word);
    for (size_t i = 0; i < n; i++) assay__suggest_offer(&s, candidates[i]);
    return s.best;
}

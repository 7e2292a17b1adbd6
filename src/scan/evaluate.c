/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluation against planted ground truth (`index,is_poison,attack[,source]`): precision and
 * recall of the flags, and AUROC of the combined and per-detector scores, overall and per
 * attack. Used by the demo and the quality benchmark; recorded in the report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide/result.h"
#include "scan/truth.h"

typedef struct scored {
    float s;
    uint8_t pos;
} scored;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

/* AUROC of `score` for rows with pos (positives) against rows with neg (negatives), ties
 * counted half (Mann-Whitney). NaN scores rank lowest. Returns NaN if a side is empty. */
static double auroc(const float *score, const uint8_t *pos, const uint8_t *neg, size_t n,
                    scored *buf) {
    size_t m = 0, np = 0, nn = 0;
    for (size_t r = 0; r < n; r++) {
        if (!pos[r] && !neg[r]) continue;
        float s = score[r];
        buf[m].s = isnan(s) ? -INFINITY : s;
        buf[m].pos = pos[r];
        np += pos[r];
        nn += !pos[r];
        m++;
    }
    if (np == 0 || nn == 0) return NAN;
    qsort(buf, m, sizeof *buf, cmp_scored);
    double rank_sum = 0.0;
    for (size_t a = 0; a < m;) {
        size_t b = a + 1;
        while (b < m && buf[b].s == buf[a].s) b++;
        double avg = 0.5 * (double)(a + 1 + b); /* mean of 1-based ranks a+1 .. b */
        for (size_t c = a; c < b; c++)
            if (buf[c].pos) rank_sum += avg;
        a = b;
    }
    return (rank_sum - 0.5 * (double)np * (double)(np + 1)) / ((double)np * (double)nn);
}

/* The column the CSV reader took is the one named: a one-column file is otherwise taken as
 * any column, so "index\n0\n1\n" would be read as index, is_poison and attack at once. */
static int took_column(const assay__column *c, const char *name) {
    char want[64];
    snprintf(want, sizeof want, "(column '%s')", name);
    size_t n = c->source ? strlen(c->source) : 0, m = strlen(want);
    return n >= m && strcmp(c->source + n - m, want) == 0;
}

assay_status assay__truth_load(assay_ctx *ctx, const char *path, size_t n, assay__column *idx,
                               assay__column *poison, assay__column *attack) {
    static const char *const names[3] = {"index", "is_poison", "attack"};
    assay__column *cols[3] = {idx, poison, attack};
    for (int k = 0; k < 3; k++) {
        ASSAY_TRY(assay__csv_load_column(ctx, path, names[k], k < 2, cols[k]));
        if (!took_column(cols[k], names[k]))
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: no column '%s'; a truth file has the header "
                               "index,is_poison,attack",
                               path, names[k]);
    }
    if (idx->n != n)
        return assay__fail(ctx, ASSAY_E_SHAPE, "%s: %zu truth rows, but the dataset has %zu rows",
                           path, idx->n, n);
    if (poison->n != n || attack->n != n)
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: the columns have different lengths", path);
    for (int k = 0; k < 2; k++) {
        const assay__column *c = cols[k];
        if (c->type == ASSAY__COL_INT) continue;
        /* Name the first cell that is not an integer (truth row r is data row r + 1). */
        size_t r = 0;
        int64_t v;
        while (r < c->n && c->s != NULL && assay__parse_int64(c->s[r], &v) == 0) r++;
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: truth row %zu (line %zu if no record spans lines): column '%s' "
                           "holds '%.40s'; expected an integer",
                           path, r + 1, r + 2, names[k], r < c->n && c->s ? c->s[r] : "");
    }
    for (size_t r = 0; r < n; r++) {
        if (idx->i[r] != (int64_t)r)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: truth row %zu has index %lld, expected %zu (rows in order)",
                               path, r + 1, (long long)idx->i[r], r);
        if (poison->i[r] != 0 && poison->i[r] != 1)
            return assay__fail(ctx, ASSAY_E_FORMAT, "%s: truth row %zu: is_poison must be 0 or 1",
                               path, r + 1);
    }
    return ASSAY_OK;
}

assay_status assay_result_evaluate(assay_ctx *ctx, assay_result *res, const char *truth_path) {
    if (ctx == NULL || res == NULL || truth_path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_result_evaluate: NULL argument");
    size_t n = res->n;
    assay__column idx = {0}, poison = {0}, attack = {0};
    uint8_t *pos = calloc(n ? n : 1, 1), *neg = calloc(n ? n : 1, 1);
    scored *buf = malloc((n ? n : 1) * sizeof *buf);
    assay__eval_group *groups = NULL;
    assay_status s = assay__truth_load(ctx, truth_path, n, &idx, &poison, &attack);
    if (s == ASSAY_OK && (pos == NULL || neg == NULL || buf == NULL))
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    if (s != ASSAY_OK) goto out;

    assay__eval *e = &res->eval;
    free(e->truth_path);
    free(e->groups);
    memset(e, 0, sizeof *e);
    e->truth_path = strdup(truth_path);
    for (size_t r = 0; r < n; r++) {
        pos[r] = poison.i[r] == 1;
        neg[r] = !pos[r];
        e->poisons += pos[r];
        e->flagged += res->flagged[r];
        e->true_positives += pos[r] && res->flagged[r];
    }
    e->precision = e->flagged ? (double)e->true_positives / (double)e->flagged : NAN;
    e->recall = e->poisons ? (double)e->true_positives / (double)e->poisons : NAN;
    e->auroc = auroc(res->score, pos, neg, n, buf);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        e->det_auroc[d] = auroc(res->det[d].score, pos, neg, n, buf);

    /* One group per distinct attack name among the poisoned rows, in order of appearance. */
    groups = calloc(n ? n : 1, sizeof *groups);
    if (groups == NULL || e->truth_path == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        goto out;
    }
    size_t ng = 0;
    for (size_t r = 0; r < n; r++) {
        if (!pos[r]) continue;
        const char *name = attack.type == ASSAY__COL_STR ? attack.s[r] : "poison";
        size_t g = 0;
        while (g < ng && strcmp(groups[g].name, name) != 0) g++;
        if (g == ng) snprintf(groups[ng++].name, sizeof groups[0].name, "%s", name);
        groups[g].rows++;
        groups[g].flagged += res->flagged[r];
    }
    for (size_t g = 0; g < ng; g++) {
        uint8_t *gp = calloc(n, 1);
        if (gp == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t r = 0; r < n; r++) {
            const char *name = attack.type == ASSAY__COL_STR ? attack.s[r] : "poison";
            gp[r] = pos[r] && strcmp(groups[g].name, name) == 0;
        }
        groups[g].recall = (double)groups[g].flagged / (double)groups[g].rows;
        groups[g].auroc = auroc(res->score, gp, neg, n, buf);
        free(gp);
    }
    e->groups = groups;
    e->n_groups = ng;
    groups = NULL;
    e->present = 1;
out:
    free(groups);
    free(pos);
    free(neg);
    free(buf);
    assay__column_free(&idx);
    assay__column_free(&poison);
    assay__column_free(&attack);
    return s;
}

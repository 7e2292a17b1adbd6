/* SPDX-License-Identifier: Apache-2.0 */
/* The label detectors' consensus. knn-label (its neighbours' votes) and confident (a model's
 * class probabilities) each estimate, per row, the probability that the label is wrong
 * (det_out.p_wrong), and each flags for review the rows it finds more likely wrong than right,
 * whatever its dataset test says. Alone, each also flags rows that are ambiguous only to it: on
 * the quality suite's tune half at 0.5% flipped labels, a row one of the two flagged was a
 * planted flip 2 times in 10, a row both flagged 9 times in 10. So the decision step shows such
 * a row when the mean of the available estimates exceeds 1/2 (an ensemble of the two noise
 * models; with one label detector it is that detector's own estimate). A stand-alone flag below
 * the consensus is taken back and ranks by that mean below the flag line. Flags
 * that rest on a test (row_test >= 0) are left as the test decided them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decide/result.h"

/* The consensus below the flag line, kept under 0.5. */
static float below_line(double mean) {
    float e = (float)(0.999 * mean);
    return e < 0.5f ? e : nextafterf(0.5f, 0.0f);
}

assay_status assay__label_consensus(assay_ctx *ctx, assay_result *res) {
    (void)ctx;
    int dets[ASSAY_DET_COUNT], m = 0;
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        if (res->det[d].ran && res->det[d].p_wrong != NULL) dets[m++] = d;
    if (m < 2) return ASSAY_OK; /* one estimate: its own flags are its consensus */

    uint8_t *shown = malloc(res->n ? res->n : 1);
    if (shown == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (label consensus)");
    for (size_t r = 0; r < res->n; r++) {
        double sum = 0.0;
        int k = 0;
        for (int i = 0; i < m; i++) {
            float p = res->det[dets[i]].p_wrong[r];
            if (isnan(p)) continue;
            sum += p;
            k++;
        }
        shown[r] = 1;
        if (k == 0) continue;
        const double mean = sum / k;
        shown[r] = mean > 0.5;
        if (shown[r]) continue;
        for (int i = 0; i < m; i++) { /* a flag taken back: ranked by the mean, below the line */
            assay__det_out *out = &res->det[dets[i]];
            if ((out->row_test == NULL || out->row_test[r] < 0) && out->evidence[r] >= 0.5f)
                out->evidence[r] = below_line(mean);
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < res->n_findings; i++) {
        const assay__finding *f = &res->findings[i];
        const assay__det_out *out = &res->det[f->det];
        const int standalone = out->p_wrong != NULL && f->test < 0;
        if (standalone && !shown[f->row]) {
            res->det[f->det].flagged--;
            res->det[f->det].by_sev[f->sev]--;
            continue;
        }
        res->findings[kept++] = *f;
    }
    res->n_findings = kept;
    free(shown);
    return ASSAY_OK;
}

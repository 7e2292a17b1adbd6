/* SPDX-License-Identifier: Apache-2.0 */
/* SVE kernels the detectors use, vector-length agnostic. Requires SVE (HWCAP_SVE). Floats are
 * loaded into 64-bit containers (svld1uw) and widened in place (svcvt_f64_f32 reads the low half
 * of each container); every column is accumulated in row order with separate multiply and add
 * (this unit is built with -ffp-contract=off; x*x is exact in double for a float x), exactly as
 * the reference does: the results are bit-identical to it for every VL. Tails run on svwhilelt
 * predicates (no tail loop); no reduction across lanes except in label_agree, which counts
 * (svcntp) and so has no rounding. label_agree gathers the neighbours' labels
 * (svld1sw_gather_s64index) VL/64 at a time. */
#include <arm_sve.h>

#include "sve/sve.h"

/* Floats x[0 .. ] of the active lanes, widened to double. */
static inline svfloat64_t load_widen(svbool_t pg, const float *x, int64_t vnum) {
    svuint64_t w = svld1uw_vnum_u64(pg, (const uint32_t *)x, vnum);
    return svcvt_f64_f32_x(pg, svreinterpret_f32_u64(w));
}

/* Columns in strips of 4 vectors of doubles held in registers over all rows, so x is read once
 * and sum/sumsq are loaded and stored once per strip. */
void assay__col_moments_sve(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                            double *sumsq) {
    const uint64_t vl = svcntd();
    for (uint64_t j = 0; j < d; j += 4 * vl) {
        svbool_t p0 = svwhilelt_b64(j, (uint64_t)d), p1 = svwhilelt_b64(j + vl, (uint64_t)d);
        svbool_t p2 = svwhilelt_b64(j + 2 * vl, (uint64_t)d);
        svbool_t p3 = svwhilelt_b64(j + 3 * vl, (uint64_t)d);
        svfloat64_t s0 = svld1(p0, sum + j), s1 = svld1_vnum(p1, sum + j, 1);
        svfloat64_t s2 = svld1_vnum(p2, sum + j, 2), s3 = svld1_vnum(p3, sum + j, 3);
        svfloat64_t q0 = svld1(p0, sumsq + j), q1 = svld1_vnum(p1, sumsq + j, 1);
        svfloat64_t q2 = svld1_vnum(p2, sumsq + j, 2), q3 = svld1_vnum(p3, sumsq + j, 3);
        for (size_t i = 0; i < n; i++) {
            const float *r = x + i * ldx + j;
            svfloat64_t v0 = load_widen(p0, r, 0), v1 = load_widen(p1, r, 1);
            svfloat64_t v2 = load_widen(p2, r, 2), v3 = load_widen(p3, r, 3);
            s0 = svadd_x(p0, s0, v0);
            s1 = svadd_x(p1, s1, v1);
            s2 = svadd_x(p2, s2, v2);
            s3 = svadd_x(p3, s3, v3);
            q0 = svadd_x(p0, q0, svmul_x(p0, v0, v0));
            q1 = svadd_x(p1, q1, svmul_x(p1, v1, v1));
            q2 = svadd_x(p2, q2, svmul_x(p2, v2, v2));
            q3 = svadd_x(p3, q3, svmul_x(p3, v3, v3));
        }
        svst1(p0, sum + j, s0);
        svst1_vnum(p1, sum + j, 1, s1);
        svst1_vnum(p2, sum + j, 2, s2);
        svst1_vnum(p3, sum + j, 3, s3);
        svst1(p0, sumsq + j, q0);
        svst1_vnum(p1, sumsq + j, 1, q1);
        svst1_vnum(p2, sumsq + j, 2, q2);
        svst1_vnum(p3, sumsq + j, 3, q3);
    }
}

void assay__class_sums_sve(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                           size_t n_classes, double *sums, uint64_t *counts) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= n_classes) continue;
        const float *r = x + i * ldx;
        double *s = sums + (size_t)labels[i] * d;
        for (uint64_t j = 0; j < d; j += svcntd()) {
            svbool_t pg = svwhilelt_b64(j, (uint64_t)d);
            svst1(pg, s + j, svadd_x(pg, svld1(pg, s + j), load_widen(pg, r + j, 0)));
        }
        counts[labels[i]]++;
    }
}

void assay__label_agree_sve(const int64_t *ids, size_t k, size_t n, const int32_t *labels,
                            uint32_t *out) {
    for (size_t i = 0; i < n; i++) {
        const int64_t *row = ids + i * k;
        svint64_t own = svdup_s64(labels[i]);
        uint64_t cnt = 0;
        for (uint64_t c = 0; c < k; c += svcntd()) {
            svbool_t pg = svwhilelt_b64(c, (uint64_t)k);
            svint64_t id = svld1(pg, row + c);
            svbool_t use = svcmpge(pg, id, 0);
            svint64_t lab = svld1sw_gather_index_s64(use, labels, id);
            cnt += svcntp_b64(use, svcmpeq(use, lab, own));
        }
        out[i] = (uint32_t)cnt;
    }
}

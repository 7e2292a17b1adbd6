/* SPDX-License-Identifier: Apache-2.0 */
/* Scalar reference of the reduced-precision tiles, and the packed layouts every ISA reads. The
 * tiles model the instructions they specify operation by operation (vpdpbusd's exact int32
 * sums, vpmaddubsw's int16 saturation of pair sums, vdpbf16ps's order of roundings and its
 * flushing of subnormal sums), so the SIMD variants are tested against them bit for bit. Built
 * with -ffp-contract=off, like the rest of the scalar table. */
#include <math.h>
#include <string.h>

#include "scalar/scalar.h"

size_t assay__panel_size(size_t n, size_t dp) {
    size_t panels = (n + ASSAY_PANEL_ROWS - 1) / ASSAY_PANEL_ROWS;
    return panels * ASSAY_PANEL_ROWS * dp;
}

void assay__pack_u8_panels(const int8_t *a, size_t lda, size_t n, size_t dp, uint8_t *out) {
    size_t panels = (n + ASSAY_PANEL_ROWS - 1) / ASSAY_PANEL_ROWS, groups = dp / 4;
    for (size_t P = 0; P < panels; P++)
        for (size_t g = 0; g < groups; g++) {
            uint8_t *o = out + (P * groups + g) * 64;
            for (size_t r = 0; r < ASSAY_PANEL_ROWS; r++) {
                size_t j = P * ASSAY_PANEL_ROWS + r;
                for (size_t e = 0; e < 4; e++)
                    o[r * 4 + e] = j < n ? (uint8_t)(a[j * lda + g * 4 + e] + 128) : 128;
            }
        }
}

void assay__pack_bf16_panels(const uint16_t *a, size_t lda, size_t n, size_t dp, uint16_t *out) {
    size_t panels = (n + ASSAY_PANEL_ROWS - 1) / ASSAY_PANEL_ROWS, groups = dp / 2;
    for (size_t P = 0; P < panels; P++)
        for (size_t g = 0; g < groups; g++) {
            uint16_t *o = out + (P * groups + g) * 32;
            for (size_t r = 0; r < ASSAY_PANEL_ROWS; r++) {
                size_t j = P * ASSAY_PANEL_ROWS + r;
                for (size_t e = 0; e < 2; e++) o[r * 2 + e] = j < n ? a[j * lda + g * 2 + e] : 0;
            }
        }
}

uint16_t assay__bf16_from_float(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even (may carry into inf: correct) */
    uint16_t h = (uint16_t)(u >> 16);
    if ((h & 0x7f80u) == 0) h &= 0x8000u; /* subnormal: signed zero */
    return h;
}

float assay__bf16_to_float(uint16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Byte p of packed row j. */
static inline int32_t packed_u8(const uint8_t *bp, size_t dp, size_t j, size_t p) {
    return bp[((j / ASSAY_PANEL_ROWS) * (dp / 4) + p / 4) * 64 + (j % ASSAY_PANEL_ROWS) * 4 +
              p % 4];
}

static inline float scale_dot(float sa, float sb, int32_t s) {
    float c = sa * sb;
    return c * (float)s;
}

void assay__tile_i8_scalar(float *t, size_t ldt, size_t m, size_t n, size_t dp, const int8_t *a,
                           size_t lda, const uint8_t *bp, const int32_t *asum, const float *sa,
                           const float *sb) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (size_t p = 0; p < dp; p++) s += (int32_t)a[i * lda + p] * packed_u8(bp, dp, j, p);
            t[i * ldt + j] = scale_dot(sa[i], sb[j], s - asum[i]);
        }
}

void assay__tile_i8_pairsat_scalar(float *t, size_t ldt, size_t m, size_t n, size_t dp,
                                   const int8_t *a, size_t lda, const uint8_t *bp,
                                   const int32_t *asum, const float *sa, const float *sb) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (size_t p = 0; p < dp; p += 2) {
                int32_t pair = (int32_t)a[i * lda + p] * packed_u8(bp, dp, j, p) +
                               (int32_t)a[i * lda + p + 1] * packed_u8(bp, dp, j, p + 1);
                s += pair > 32767 ? 32767 : pair < -32768 ? -32768 : pair;
            }
            t[i * ldt + j] = scale_dot(sa[i], sb[j], s - asum[i]);
        }
}

/* One accumulation step of vdpbf16ps: the exact product added with one rounding, a subnormal
 * sum flushed to zero. */
static inline float bf16_step(float acc, uint16_t x, uint16_t y) {
    float s = acc + assay__bf16_to_float(x) * assay__bf16_to_float(y);
    return fabsf(s) < 0x1p-126f ? copysignf(0.0f, s) : s;
}

void assay__tile_bf16_scalar(float *t, size_t ldt, size_t m, size_t n, size_t dp, const uint16_t *a,
                             size_t lda, const uint16_t *bp, float alpha) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const uint16_t *ar = a + i * lda;
            float acc = 0.0f;
            for (size_t q = 0; q < dp / 2; q++) {
                const uint16_t *b =
                    bp + ((j / ASSAY_PANEL_ROWS) * (dp / 2) + q) * 32 + (j % ASSAY_PANEL_ROWS) * 2;
                acc = bf16_step(acc, ar[2 * q + 1], b[1]);
                acc = bf16_step(acc, ar[2 * q], b[0]);
            }
            t[i * ldt + j] = alpha * acc;
        }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel table: the inner loops of the neighbour graph, one implementation per instruction
 * set. Kernels allocate nothing, do no I/O, have no error paths, accept any alignment and any
 * length >= 0. The scalar table (kernels/scalar/) is the specification; every optimised table
 * overlays some of its entries and is tested against it (tests/test_kernels.c).
 * Internal: not installed. */
#ifndef ASSAY_KERNELS_H
#define ASSAY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Bounded nearest-neighbour lists of a block of consecutive rows (global ids base, base+1, ...).
 * Row i keeps a max-heap of the kk best (distance, id) pairs under the strict total order
 * "distance, then id": dist[i*kk + 0] / ids[i*kk + 0] is the worst kept pair (the root). root[i]
 * mirrors dist[i*kk] in one contiguous array, so SIMD code can test a vector of rows' thresholds
 * with one load; every kernel that changes a heap updates root. Empty slots hold (+inf, -1).
 * Because the order is total, the set a heap ends with does not depend on the order in which
 * candidates were offered: this is what makes the graph identical for any thread count. */
typedef struct assay_topk {
    float *dist;  /* rows * kk */
    int32_t *ids; /* rows * kk (a graph holds at most INT32_MAX rows: half the memory of int64) */
    float *root;  /* rows */
    size_t kk;
    int64_t base; /* global id of row 0 */
} assay_topk;

/* Offer of a candidate (d, id) to row i, exactly as every kernel must do it (the scalar
 * specification, shared so the slow path of the SIMD kernels is the same code): accepted when d
 * is finite, id is not the row itself, and (d, id) is strictly better than the root. */
void assay__topk_offer(assay_topk *h, size_t i, float d, int64_t id);

/* ---- the kernels ----
 * Every kernel is written out once, in this list: X(op, ret, params, arg) per kernel, in table
 * order, with its specification above it; `arg` is passed on to X unchanged. Generated from it:
 * the table's fields and each ISA's prototypes (below), the scalar table, dispatch's overlay of
 * an ISA's table on the scalar one (src/core/dispatch.c) and the list of kernel tests
 * (tests/test_kernels.c). Adding a kernel takes a line here, its scalar implementation, a
 * test_kernels_<op>, and for each ISA that optimises it the implementation and a line in that
 * ISA's ASSAY_<ISA>_KERNELS. */
#define ASSAY_KERNEL_LIST(X, arg)                                                                  \
    /* ---- rows ---- */                                                                           \
                                                                                                   \
    /* out[i] = sum_j x[i*ldx + j]^2 for i < n, j < d. */                                          \
    X(norms_sq, void, (const float *x, size_t ldx, size_t n, size_t d, float *out), arg)           \
                                                                                                   \
    /* ---- distance tiles ---- */                                                                 \
                                                                                                   \
    /* Squared-L2 tile. On entry t[i*ldt + j] = -2 <q_i, b_j>; on exit                             \
     *   t = max(0, qn[i] + bn[j] + t) + qpen[i] + bpen[j]                                         \
     * The clamp removes the tiny negative values float32 rounding gives identical rows; a pen is  \
     * 0 for usable rows and +inf for rows left out of the graph. */                               \
    X(tile_l2, void,                                                                               \
      (float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,                 \
       const float *qpen, const float *bpen),                                                      \
      arg)                                                                                         \
                                                                                                   \
    /* Cosine tile. On entry t[i*ldt + j] = <q_i, b_j>; on exit                                    \
     *   t = max(0, 1 - t * qinv[i] * binv[j]) + qpen[i] + bpen[j]                                 \
     * with qinv, binv the reciprocal row norms (0 for zero rows, which gives distance 1). */      \
    X(tile_cos, void,                                                                              \
      (float *t, size_t ldt, size_t m, size_t n, const float *qinv, const float *binv,             \
       const float *qpen, const float *bpen),                                                      \
      arg)                                                                                         \
                                                                                                   \
    /* ---- top-k selection ---- */                                                                \
                                                                                                   \
    /* Offers every finite entry of an m x n distance tile: t[i*ldt + j] to row i of `rows` with   \
     * id j0 + j, and, when `cols` is not NULL, to row j of `cols` with id rows->base + i (the     \
     * symmetric use: one tile serves both blocks). Offers follow assay__topk_offer; the SIMD      \
     * variants test a whole vector against the thresholds first, so most candidates never reach   \
     * a heap. */                                                                                  \
    X(select_tile, void,                                                                           \
      (const float *t, size_t ldt, size_t m, size_t n, int64_t j0, assay_topk *rows,               \
       assay_topk *cols),                                                                          \
      arg)                                                                                         \
                                                                                                   \
    /* Fused distance + selection for small d: no GEMM and no tile in memory. q holds m rows       \
     * (stride ldq); bt holds the n rows of the other block transposed (bt[p*ldbt + j] is          \
     * coordinate p of row j), so vectors run along j. Each distance is                            \
     *   l2:     max(0, qa[i] + ba[j] - 2 <q_i, b_j>) + qpen[i] + bpen[j]   (qa, ba squared norms) \
     *   cosine: max(0, 1 - <q_i, b_j> * qa[i] * ba[j]) + qpen[i] + bpen[j] (reciprocal norms)     \
     * and is offered as select_tile would offer it (id j0 + j to rows, rows->base + i to cols).   \
     * The dot product may be accumulated in any order: its error is within the same bound as the  \
     * GEMM path's, which the exact re-ranking accounts for. */                                    \
    X(fused_tile, void,                                                                            \
      (int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt, size_t m, size_t n,   \
       size_t d, const float *qa, const float *ba, const float *qpen, const float *bpen,           \
       int64_t j0, assay_topk *rows, assay_topk *cols),                                            \
      arg)                                                                                         \
                                                                                                   \
    /* ---- reduced-precision dot-product tiles (the candidate pass; see the layouts below) ----   \
     */                                                                                            \
                                                                                                   \
    /* int8 tile. a: m rows of signed codes (row i at a + i*lda), dp codes each (dp a multiple of  \
     * 4, zero past d); bp: the n rows of the other block as unsigned codes (code + 128) in the    \
     * panel layout of assay__pack_u8_panels; asum[i] = 128 * sum_p a[i*lda + p]. On exit          \
     *   t[i*ldt + j] = (sa[i] * sb[j]) * (float)(S_ij - asum[i]),  S_ij = sum_p a_ip * bp_jp      \
     * with S_ij exact in int32 (VNNI's vpdpbusd; the caller keeps d * 127 * 255 < 2^31), each     \
     * float operation rounded once (no contraction). */                                           \
    X(tile_i8, void,                                                                               \
      (float *t, size_t ldt, size_t m, size_t n, size_t dp, const int8_t *a, size_t lda,           \
       const uint8_t *bp, const int32_t *asum, const float *sa, const float *sb),                  \
      arg)                                                                                         \
                                                                                                   \
    /* As tile_i8, with S_ij formed as vpmaddubsw forms it: positions in pairs (2q, 2q+1), each    \
     * pair's sum bp*a saturated to int16, the pair sums then added exactly in int32. Equal to     \
     * tile_i8 when no pair sum leaves [-32768, 32767]: codes within +-63 never do, since          \
     * 2 * 191 * 63 < 32767. */                                                                    \
    X(tile_i8_pairsat, void,                                                                       \
      (float *t, size_t ldt, size_t m, size_t n, size_t dp, const int8_t *a, size_t lda,           \
       const uint8_t *bp, const int32_t *asum, const float *sa, const float *sb),                  \
      arg)                                                                                         \
                                                                                                   \
    /* bf16 tile. a: m rows of bfloat16 bit patterns (row i at a + i*lda), dp values each (dp      \
     * even, zero past d); bp: the other block's n rows in the layout of assay__pack_bf16_panels.  \
     * Every input is zero or at least 2^-60 in magnitude, so products are normal. On exit         \
     *   t[i*ldt + j] = alpha * acc_ij                                                             \
     * where acc is accumulated as AVX-512 BF16's vdpbf16ps does it: acc = 0, then for q = 0, 1,   \
     * ..., dp/2 - 1: acc += a[2q+1] b[2q+1], then acc += a[2q] b[2q], each product exact in       \
     * float, each sum rounded to nearest even, and a sum below FLT_MIN in magnitude flushed to    \
     * zero (checked against the instruction on Sapphire Rapids, sign of zero included). alpha     \
     * is -2 (l2) or 1 (cosine), so the final product is exact. */                                 \
    X(tile_bf16, void,                                                                             \
      (float *t, size_t ldt, size_t m, size_t n, size_t dp, const uint16_t *a, size_t lda,         \
       const uint16_t *bp, float alpha),                                                           \
      arg)

/* ---- reduced-precision layouts (kernels/scalar/lowp_scalar.c; shared by every ISA) ----
 * The "other" block of a low-precision tile is packed in panels of ASSAY_PANEL_ROWS rows so one
 * 64-byte load holds, for 16 rows, the next 4 int8 codes (or 2 bf16 values) of each: panel P,
 * group g holds rows 16P..16P+15, positions 4g..4g+3 (int8) or 2g..2g+1 (bf16). Rows past n in
 * the last panel are zero codes (int8: byte 128). */
#define ASSAY_PANEL_ROWS 16

/* Bytes (int8) or elements (bf16) of the packed form of n rows of dp positions. */
size_t assay__panel_size(size_t n, size_t dp);

/* Packs n rows of signed codes (row j at a + j*lda, dp of them, dp % 4 == 0) as unsigned codes
 * (code + 128) into out[assay__panel_size(n, dp)]:
 *   out[((j/16)*(dp/4) + p/4)*64 + (j%16)*4 + p%4] = a[j*lda + p] + 128. */
void assay__pack_u8_panels(const int8_t *a, size_t lda, size_t n, size_t dp, uint8_t *out);

/* Packs n rows of bf16 (dp of them, dp even) into out[assay__panel_size(n, dp)]:
 *   out[((j/16)*(dp/2) + p/2)*32 + (j%16)*2 + p%2] = a[j*lda + p]. */
void assay__pack_bf16_panels(const uint16_t *a, size_t lda, size_t n, size_t dp, uint16_t *out);

/* float -> bfloat16, rounded to nearest even; NaN stays NaN; values that would be bf16
 * subnormal (and float subnormals) become zero of the same sign. */
uint16_t assay__bf16_from_float(float v);

/* bfloat16 -> float (exact). */
float assay__bf16_to_float(uint16_t v);

/* The table of one ISA: its name, then one function pointer per kernel, named after it. */
typedef struct assay_kernels {
    const char *name;
#define ASSAY__KERNEL_FIELD(op, ret, params, arg) ret(*op) params;
    ASSAY_KERNEL_LIST(ASSAY__KERNEL_FIELD, )
#undef ASSAY__KERNEL_FIELD
} assay_kernels;

/* Prototypes of all the kernels of one ISA, ret assay__<op>_<isa> params, and the declaration of
 * its table assay__kernels_<isa>. Each ISA's header uses it (an ISA defines only the kernels its
 * ASSAY_<ISA>_KERNELS lists; the others are declared and never referenced). */
#define ASSAY__KERNEL_PROTOTYPE(op, ret, params, isa) ret assay__##op##_##isa params;
#define ASSAY_DECLARE_KERNELS(isa)                                                                 \
    ASSAY_KERNEL_LIST(ASSAY__KERNEL_PROTOTYPE, isa)                                                \
    extern const assay_kernels assay__kernels_##isa

/* Initialiser of an optimised ISA's table: .name = "<isa>", and .op = assay__<op>_<isa> for each
 * kernel in `implements`, the ISA's list of the kernels it implements (implements(X, arg) calls
 * X(op, arg) once per kernel; see avx2/avx2.h). The other entries are NULL: dispatch keeps the
 * scalar kernel there. Generated, so an entry cannot name another kernel of the same type
 * (tile_l2 and tile_cos have one) or another ISA's. */
#define ASSAY__KERNEL_ENTRY(op, isa) .op = assay__##op##_##isa,
#define ASSAY_KERNEL_TABLE(isa, implements)                                                        \
    { .name = #isa, implements(ASSAY__KERNEL_ENTRY, isa) }

/* Every entry non-NULL (generated from ASSAY_KERNEL_LIST itself): the specification. */
extern const assay_kernels assay__kernels_scalar;

/* Optimised tables (only the entries an ISA improves are non-NULL), present when built. */
#if ASSAY_BUILD_AVX2
extern const assay_kernels assay__kernels_avx2;
#endif
#if ASSAY_BUILD_AVX512
extern const assay_kernels assay__kernels_avx512;
#endif
/* Optional features, laid over the avx512 table when the CPU has them (only their own entries
 * are set): AVX-512 VNNI's tile_i8. */
#if ASSAY_BUILD_AVX512_VNNI
extern const assay_kernels assay__kernels_avx512_vnni;
#endif
#if ASSAY_BUILD_NEON
extern const assay_kernels assay__kernels_neon;
#endif
#if ASSAY_BUILD_SVE
extern const assay_kernels assay__kernels_sve;
#endif

#endif

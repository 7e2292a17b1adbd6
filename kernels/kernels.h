/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel table: the inner loops of the neighbour graph, one implementation per instruction
 * set. Kernels allocate nothing, do no I/O, have no error paths, accept any alignment and any
 * length >= 0. The scalar table (kernels/scalar/) is the specification; every optimised table
 * overlays some of its entries and is tested against it. Internal: not installed. */
#ifndef ASSAY_KERNELS_H
#define ASSAY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct assay_kernels {
    const char *name;

    /* out[i] = sum_j x[i*ldx + j]^2 for i < n, j < d. */
    void (*norms_sq)(const float *x, size_t ldx, size_t n, size_t d, float *out);

    /* Squared-L2 tile. On entry t[i*ldt + j] = -2 <q_i, b_j>; on exit
     *   t = max(0, qn[i] + bn[j] + t) + pen[j]
     * The clamp removes the tiny negative values float32 rounding gives identical rows; pen[j]
     * is 0 for usable rows and +inf for rows left out of the graph. */
    void (*tile_l2)(float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,
                    const float *pen);

    /* Cosine tile. On entry t[i*ldt + j] = <q_i, b_j>; on exit
     *   t = max(0, 1 - t * qinv[i] * binv[j]) + pen[j]
     * with qinv, binv the reciprocal row norms. */
    void (*tile_cos)(float *t, size_t ldt, size_t m, size_t n, const float *qinv, const float *binv,
                     const float *pen);

    /* Top-k selection over a distance tile. Row i of the tile (n distances for database rows
     * j0 .. j0+n-1) updates heap i: hd[i*k .. i*k+k-1] / hi[...], a max-heap of the k best
     * (distance, index) pairs under the order (distance, then index). A candidate enters when it
     * is strictly better than the heap's root. Empty slots hold (+inf, -1); +inf never enters. */
    void (*topk_tile)(const float *t, size_t ldt, size_t m, size_t n, int64_t j0, size_t k,
                      float *hd, int64_t *hi);
} assay_kernels;

/* Every entry non-NULL: the specification. */
extern const assay_kernels assay__kernels_scalar;

#endif

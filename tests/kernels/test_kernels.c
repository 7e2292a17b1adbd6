/* SPDX-License-Identifier: Apache-2.0 */
/* Every kernel of every ISA table this machine runs, checked against the scalar table (the
 * specification), and the scalar table checked once against a double-precision oracle.
 *
 * - Sizes cover every vector tail (0, 1, 2, 3, 7, 8, 9, ... 129, 784, 1000), pointers are
 *   misaligned by 0, 1 or 3 elements, rows are padded (ld > d) and the padding holds NaN, so a
 *   kernel that reads it gives NaN. Buffers are heap blocks of exactly the size a kernel may
 *   touch (plus the misalignment in front), so AddressSanitizer catches tail over-reads and
 *   over-writes; what lies in front of a pointer and between rows is checked to be unchanged.
 * - Values mix magnitudes (1e-3, 1, 1e3, and all three with both signs within one row).
 * - Tolerances come from error bounds: a float sum of d products carries an error up to
 *   gamma_d * sum|terms| (gamma_d = d*u / (1 - d*u), u = FLT_EPSILON / 2) in any summation
 *   order, so two implementations differ by at most twice that; we allow
 *   2 * (d + 2) * FLT_EPSILON * sum|terms| + FLT_MIN. The scalar reference is held to gamma_d
 *   itself against the oracle.
 * - Top-k selection is compared as the SET of (distance, id) pairs each heap ends with (sorted
 *   first; the layout may differ, the set may not), after every call, with root[] mirroring the
 *   heap roots and each heap a valid max-heap. The fused kernel's distances depend on the
 *   summation order, so its sets are checked against a double-precision oracle: what it keeps
 *   must be the true top-k up to pairs whose true distances are within the error bound.
 * - The tables themselves: every scalar entry is set, and every table dispatch hands out is the
 *   scalar one with the ISA's own entries laid over it. There is one test per kernel of the
 *   kernel list (main() is generated from it), so a kernel added without a test does not build.
 * Every failure prints the case (kernel, ISA, sizes, offset, stride) and the seed of its data;
 * the data depend only on the case, so the same case reproduces on every ISA and run. */
#include <float.h>
#include <math.h>
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h> /* MXCSR: the bf16 tile may set flush-to-zero, only for the call */
#endif

#include "test_util.h"

#include "core/dispatch.h"

/* ---- cases ---- */

static const size_t k_dims[] = {0,  1,  2,  3,  7,  8,   9,   15,  16,  17,  31,
                                32, 33, 63, 64, 65, 127, 128, 129, 784, 1000};
#define N_DIMS (sizeof k_dims / sizeof k_dims[0])
/* The other dimension of 2-D inputs: short, but with tails of 1..3 past 4, 8 and 16. */
static const size_t k_rows[] = {0, 1, 2, 3, 5, 8, 9, 17};
#define N_ROWS (sizeof k_rows / sizeof k_rows[0])
static const size_t k_tile_rows[] = {0, 1, 2, 3, 5, 7, 8, 9, 16, 17, 33};
#define N_TILE_ROWS (sizeof k_tile_rows / sizeof k_tile_rows[0])
static const size_t k_offs[] = {0, 1, 3};
#define N_OFFS (sizeof k_offs / sizeof k_offs[0])
static const size_t k_kks[] = {1, 3, 10, 20};
#define N_KKS (sizeof k_kks / sizeof k_kks[0])

static const assay_kernels *g_ref; /* the scalar table */
static char g_case[320];           /* the case being checked, printed on failure */

static void set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_case(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_case, sizeof g_case, fmt, ap);
    va_end(ap);
}

/* Fails with the message and the current case. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char m_[512];                                                                          \
            snprintf(m_, sizeof m_, __VA_ARGS__);                                                  \
            fail_msg("%s:%d: %s\n  case: %s", __FILE__, __LINE__, m_, g_case);                     \
        }                                                                                          \
    } while (0)

/* The seed of a case: a hash of its parameters (not of the ISA, so every ISA sees the same
 * data). */
static uint64_t case_seed(uint64_t tag, uint64_t a, uint64_t b, uint64_t c, uint64_t e) {
    uint64_t s = tag, h = tu_next(&s);
    s = h ^ a;
    h = tu_next(&s);
    s = h ^ b;
    h = tu_next(&s);
    s = h ^ c;
    h = tu_next(&s);
    s = h ^ e;
    return tu_next(&s);
}

/* ---- buffers of exact size ---- */

/* Elements a strided n x d array spans. */
static size_t extent(size_t n, size_t ld, size_t d) {
    return n == 0 ? 0 : (n - 1) * ld + d;
}

/* A block of off + count elements of `size` bytes; returns the element at `off`. The block ends
 * exactly where the kernel's data ends. */
static void *xalloc(size_t off, size_t count, size_t size, void **block) {
    *block = malloc((off + count) * size);
    if (off + count > 0) assert_non_null(*block);
    return (char *)*block + off * size;
}

static float *falloc(size_t off, size_t count, float **block) {
    void *b;
    float *p = xalloc(off, count, sizeof(float), &b);
    *block = b;
    return p;
}

static void fill_nan(float *p, size_t count) {
    for (size_t i = 0; i < count; i++) p[i] = NAN;
}

/* ---- values ---- */

static const double k_scales[3] = {1e-3, 1.0, 1e3};

/* A value of magnitude mode 0..2 (1e-3, 1, 1e3), or 3: any of the three, either sign. */
static float gen_val(uint64_t *s, int mode) {
    double mag = mode < 3 ? k_scales[mode] : k_scales[tu_next(s) % 3];
    double v = mag * (0.25 + tu_uniform(s));
    return (float)((tu_next(s) & 1) ? -v : v);
}

/* Fills n rows of d values (stride ld); the padding and what `whole` adds in front is NaN. Row i
 * has magnitude mode (i + seed) % 4. */
static void fill_rows(float *x, size_t ld, size_t n, size_t d, uint64_t seed) {
    uint64_t s = seed;
    fill_nan(x, extent(n, ld, d));
    for (size_t i = 0; i < n; i++) {
        int mode = (int)((i + seed) % 4);
        for (size_t j = 0; j < d; j++) x[i * ld + j] = gen_val(&s, mode);
    }
}

/* u = FLT_EPSILON / 2; gamma_n = n u / (1 - n u), Higham's bound for n roundings. */
static double gamma_n(double n) {
    double u = FLT_EPSILON / 2.0;
    return n * u / (1.0 - n * u);
}

static int same_bits(const void *a, const void *b, size_t bytes) {
    return memcmp(a, b, bytes) == 0;
}

/* ---- the tables ---- */

typedef struct table {
    assay_isa isa;
    const assay_kernels *k;
} table;

/* Scalar first, then every other table this build and CPU provide. */
static size_t tables(table *out) {
    size_t n = 0;
    for (int i = 0; i < ASSAY_ISA_COUNT; i++) {
        const assay_kernels *k = assay__kernels_for((assay_isa)i);
        if (k == NULL) continue;
        out[n].isa = (assay_isa)i;
        out[n].k = k;
        n++;
    }
    return n;
}

static int group_setup(void **state) {
    (void)state;
    g_ref = assay__kernels_for(ASSAY_ISA_SCALAR);
    if (g_ref == NULL) return -1;
    table t[ASSAY_ISA_COUNT];
    size_t n = tables(t);
    print_message("kernels: scalar against a double-precision oracle");
    for (size_t i = 1; i < n; i++) print_message("; %s against scalar", assay_isa_name(t[i].isa));
    print_message("%s\n", n == 1 ? " (no other table on this build and CPU)" : "");
    return 0;
}

/* Runs `fn` for the scalar table (oracle checks) and every other table whose entry differs from
 * the scalar one (an entry left NULL in an ISA's table is the scalar function itself). */
#define FOR_TABLES(entry, fn)                                                                      \
    do {                                                                                           \
        table t_[ASSAY_ISA_COUNT];                                                                 \
        size_t n_ = tables(t_);                                                                    \
        for (size_t i_ = 0; i_ < n_; i_++)                                                         \
            if (i_ == 0 || t_[i_].k->entry != g_ref->entry) fn(t_[i_].isa, t_[i_].k);              \
    } while (0)

/* ================================ rows ================================ */

static void run_norms_sq(assay_isa isa, const assay_kernels *k) {
    const char *name = assay_isa_name(isa);
    for (size_t a = 0; a < N_DIMS; a++)
        for (size_t b = 0; b < N_ROWS; b++)
            for (size_t o = 0; o < N_OFFS; o++)
                for (size_t pad = 0; pad <= 5; pad += 5) {
                    size_t d = k_dims[a], n = k_rows[b], off = k_offs[o], ld = d + pad;
                    uint64_t seed = case_seed(1, d, n, off, ld);
                    set_case("norms_sq[%s] d=%zu n=%zu off=%zu ld=%zu seed=%#llx", name, d, n, off,
                             ld, (unsigned long long)seed);
                    float *xm, *om, *rm;
                    float *x = falloc(off, extent(n, ld, d), &xm);
                    float *out = falloc((off + 1) % 4, n, &om), *ref = falloc(0, n, &rm);
                    fill_rows(x, ld, n, d, seed);
                    g_ref->norms_sq(x, ld, n, d, ref);
                    if (k != g_ref) k->norms_sq(x, ld, n, d, out);
                    for (size_t i = 0; i < n; i++) {
                        double exact = 0.0;
                        for (size_t j = 0; j < d; j++)
                            exact += (double)x[i * ld + j] * x[i * ld + j];
                        if (k == g_ref) {
                            /* All terms are positive: sum|terms| = the sum; the double oracle's
                             * own error is d * DBL_EPSILON of it. */
                            double tol = (gamma_n((double)d) + d * DBL_EPSILON) * exact + FLT_MIN;
                            CHECK(fabs(ref[i] - exact) <= tol,
                                  "row %zu: scalar %.9g, oracle %.17g, |diff| %.3g > %.3g", i,
                                  ref[i], exact, fabs(ref[i] - exact), tol);
                        } else {
                            double tol = 2.0 * (d + 2) * FLT_EPSILON * exact + FLT_MIN;
                            CHECK(fabs((double)out[i] - ref[i]) <= tol,
                                  "row %zu: scalar %.9g, %s %.9g, |diff| %.3g > %.3g", i, ref[i],
                                  name, out[i], fabs((double)out[i] - ref[i]), tol);
                        }
                    }
                    free(xm);
                    free(om);
                    free(rm);
                }
}

static void test_kernels_norms_sq(void **state) {
    (void)state;
    FOR_TABLES(norms_sq, run_norms_sq);
}

/* ================================ distance tiles ================================ */

enum { T_PLAIN, T_CLAMP, T_UNIT, T_PEN };

/* One tile case: inputs (t0, the row/column vectors) and per entry what it must give. */
typedef struct tile_case {
    size_t m, n, ldt, off;
    float *t0, *tr, *tk;          /* input, scalar output, ISA output (same layout) */
    float *t0m, *trm, *tkm;       /* their blocks */
    float *qa, *ba, *qpen, *bpen; /* squared norms (l2) or reciprocal norms (cosine) */
    float *qam, *bam, *qpm, *bpm; /* their blocks */
    unsigned char *kind;          /* m * n: T_* */
} tile_case;

/* Builds the inputs of a tile: random rows and columns of all magnitudes; some entries built to
 * need the clamp (what identical rows give when float rounding leaves a little less than zero:
 * t = -(qn + bn)(1 + 16 eps), or a cosine product of 1 + 16 eps), zero reciprocal norms (cosine:
 * distance exactly 1), +inf penalties on some rows and columns (their entries must be +inf, even
 * where the input itself is NaN or infinite, as rows with non-finite values give). */
static void tile_make(tile_case *c, int cosine, size_t m, size_t n, size_t ldt, size_t off,
                      uint64_t seed) {
    uint64_t s = seed;
    size_t len = extent(m, ldt, n), voff = (off + 1) % 4;
    c->m = m;
    c->n = n;
    c->ldt = ldt;
    c->off = off;
    c->t0 = falloc(off, len, &c->t0m);
    c->tr = falloc(off, len, &c->trm);
    c->tk = falloc(off, len, &c->tkm);
    c->qa = falloc(voff, m, &c->qam);
    c->qpen = falloc(off, m, &c->qpm);
    c->ba = falloc(voff, n, &c->bam);
    c->bpen = falloc(off, n, &c->bpm);
    c->kind = malloc(m * n + 1);
    assert_non_null(c->kind);
    fill_nan(c->t0m, off + len);
    double qs[64], bs;
    for (size_t i = 0; i < m; i++) {
        qs[i % 64] = k_scales[(i + seed) % 3] * (0.5 + tu_uniform(&s));
        c->qa[i] = cosine ? ((i + seed) % 5 == 2 ? 0.0f : (float)(1.0 / qs[i % 64]))
                          : (float)(qs[i % 64] * qs[i % 64]);
        c->qpen[i] = (i + seed) % 6 == 4 ? INFINITY : 0.0f;
    }
    for (size_t j = 0; j < n; j++) {
        bs = k_scales[(j + seed / 3) % 3] * (0.5 + tu_uniform(&s));
        c->ba[j] = cosine ? ((j + seed) % 7 == 3 ? 0.0f : (float)(1.0 / bs)) : (float)(bs * bs);
        c->bpen[j] = (j + seed) % 9 == 5 ? INFINITY : 0.0f;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float *t = &c->t0[i * ldt + j];
            unsigned char *kd = &c->kind[i * n + j];
            int pen = isinf(c->qpen[i]) || isinf(c->bpen[j]);
            uint64_t r = tu_next(&s) % 16;
            double cs = 2.0 * tu_uniform(&s) - 1.0; /* the cosine of the angle */
            if (cosine) {
                double prod = (double)c->qa[i] * c->ba[j];
                *t = prod > 0 ? (float)(cs / prod) : (float)(cs * qs[i % 64] * 1e3);
                if (r == 0 && prod > 0) *t = (float)((1.0 + 16.0 * FLT_EPSILON) / prod);
            } else {
                *t = (float)(-2.0 * cs * sqrt((double)c->qa[i] * c->ba[j]));
                if (r == 0) *t = -(c->qa[i] + c->ba[j]) * (1.0f + 16.0f * FLT_EPSILON);
            }
            if (pen && r >= 13) *t = r == 13 ? NAN : r == 14 ? INFINITY : -INFINITY;
            if (pen)
                *kd = T_PEN;
            else if (r == 0 && (!cosine || (double)c->qa[i] * c->ba[j] > 0))
                *kd = T_CLAMP;
            else if (cosine && (c->qa[i] == 0.0f || c->ba[j] == 0.0f))
                *kd = T_UNIT;
            else
                *kd = T_PLAIN;
        }
    memcpy(c->trm, c->t0m, (off + len) * sizeof(float));
    memcpy(c->tkm, c->t0m, (off + len) * sizeof(float));
}

static void tile_free(tile_case *c) {
    free(c->t0m);
    free(c->trm);
    free(c->tkm);
    free(c->qam);
    free(c->bam);
    free(c->qpm);
    free(c->bpm);
    free(c->kind);
}

static void run_tile(int cosine, assay_isa isa, const assay_kernels *k) {
    const char *name = assay_isa_name(isa), *kn = cosine ? "tile_cos" : "tile_l2";
    for (size_t a = 0; a < N_TILE_ROWS; a++)
        for (size_t b = 0; b < N_DIMS; b++)
            for (size_t o = 0; o < N_OFFS; o++)
                for (size_t pad = 0; pad <= 3; pad += 3) {
                    size_t m = k_tile_rows[a], n = k_dims[b], off = k_offs[o], ldt = n + pad;
                    uint64_t seed = case_seed(3 + (uint64_t)cosine, m, n, off, ldt);
                    set_case("%s[%s] m=%zu n=%zu off=%zu ldt=%zu seed=%#llx", kn, name, m, n, off,
                             ldt, (unsigned long long)seed);
                    tile_case c;
                    tile_make(&c, cosine, m, n, ldt, off, seed);
                    const assay_kernels *run[2] = {g_ref, k};
                    float *out[2] = {c.tr, c.tk};
                    for (int r = 0; r < (k == g_ref ? 1 : 2); r++) {
                        if (cosine)
                            run[r]->tile_cos(out[r], ldt, m, n, c.qa, c.ba, c.qpen, c.bpen);
                        else
                            run[r]->tile_l2(out[r], ldt, m, n, c.qa, c.ba, c.qpen, c.bpen);
                    }
                    const float *got = k == g_ref ? c.tr : c.tk, *gotm = k == g_ref ? c.trm : c.tkm;
                    size_t len = extent(m, ldt, n);
                    for (size_t p = 0; p < off + len; p++)
                        if (p < off || (p - off) % ldt >= n)
                            CHECK(same_bits(&c.t0m[p], &gotm[p], 4),
                                  "element %zu of the block (before the tile or in its padding) "
                                  "was written",
                                  p);
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++) {
                            size_t e = i * ldt + j;
                            double t = c.t0[e], g = got[e], rf = c.tr[e];
                            switch (c.kind[i * n + j]) {
                            case T_PEN:
                                CHECK(isinf(g) && g > 0,
                                      "[%zu][%zu]: out of the graph (penalty +inf; input %.9g), "
                                      "got %.9g, must be +inf as the scalar's %.9g",
                                      i, j, t, g, rf);
                                continue;
                            case T_CLAMP:
                                CHECK(g == 0.0,
                                      "[%zu][%zu]: input %.9g gives a value below 0, must clamp "
                                      "to exactly 0, got %.9g",
                                      i, j, t, g);
                                continue;
                            case T_UNIT:
                                CHECK(g == 1.0, "[%zu][%zu]: zero reciprocal norm, got %.9g not 1",
                                      i, j, g);
                                continue;
                            default:
                                break;
                            }
                            double qa = c.qa[i], ba = c.ba[j], exact, mag, tol;
                            if (cosine) {
                                double p = t * qa * ba;
                                exact = 1.0 - p;
                                mag = 1.0 + fabs(p);
                                /* product: 2 roundings relative to |p|; difference: 1 of
                                 * 1 + |p| */
                                tol = k == g_ref ? (gamma_n(2) * fabs(p) + gamma_n(1) * mag) * 1.01
                                                 : 4.0 * FLT_EPSILON * mag;
                            } else {
                                exact = qa + ba + t;
                                mag = qa + ba + fabs(t);
                                tol =
                                    k == g_ref ? gamma_n(2) * mag * 1.01 : 4.0 * FLT_EPSILON * mag;
                            }
                            exact = exact > 0 ? exact : 0;
                            tol += FLT_MIN;
                            double want = k == g_ref ? exact : rf;
                            CHECK(fabs(g - want) <= tol,
                                  "[%zu][%zu]: input %.9g, %s %.9g, %s %.9g, |diff| %.3g > %.3g", i,
                                  j, t, k == g_ref ? "oracle" : "scalar", want, name, g,
                                  fabs(g - want), tol);
                        }
                    tile_free(&c);
                }
}

static void run_tile_l2(assay_isa isa, const assay_kernels *k) {
    run_tile(0, isa, k);
}

static void run_tile_cos(assay_isa isa, const assay_kernels *k) {
    run_tile(1, isa, k);
}

static void test_kernels_tile_l2(void **state) {
    (void)state;
    FOR_TABLES(tile_l2, run_tile_l2);
}

static void test_kernels_tile_cos(void **state) {
    (void)state;
    FOR_TABLES(tile_cos, run_tile_cos);
}

/* ================================ top-k heaps ================================ */

typedef struct heaps {
    assay_topk h;
    float *dm, *rm; /* blocks */
    int64_t *im;
    size_t rows;
} heaps;

/* Empty heaps for `rows` rows (every slot (+inf, -1)), each array misaligned by `off`. */
static void heaps_init(heaps *hs, size_t rows, size_t kk, int64_t base, size_t off) {
    void *im;
    hs->rows = rows;
    hs->h.kk = kk;
    hs->h.base = base;
    hs->h.dist = falloc(off, rows * kk, &hs->dm);
    hs->h.root = falloc((off + 2) % 4, rows, &hs->rm);
    hs->h.ids = xalloc(off, rows * kk, sizeof(int32_t), &im);
    hs->im = im;
    for (size_t i = 0; i < rows * kk; i++) {
        hs->h.dist[i] = INFINITY;
        hs->h.ids[i] = -1;
    }
    for (size_t i = 0; i < rows; i++) hs->h.root[i] = INFINITY;
}

static void heaps_free(heaps *hs) {
    free(hs->dm);
    free(hs->rm);
    free(hs->im);
}

/* The heap of rows [r0, r0 + m) as its own assay_topk (what the graph builder hands a tile). */
static assay_topk heaps_view(const heaps *hs, size_t r0) {
    assay_topk v = hs->h;
    v.dist += r0 * v.kk;
    v.ids += r0 * v.kk;
    v.root += r0;
    v.base += (int64_t)r0;
    return v;
}

typedef struct kpair {
    float d;
    int64_t id;
} kpair;

static int cmp_kpair(const void *a, const void *b) {
    const kpair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* (da, ia) ranks after (db, ib) under the heap order. */
static int ranks_after(float da, int64_t ia, float db, int64_t ib) {
    return da > db || (da == db && ia > ib);
}

/* Row i's pairs sorted by (distance, id), after checking that root[i] mirrors the root, that
 * the heap order holds, and that nothing is NaN. */
static void heap_sorted(const assay_topk *h, size_t i, const char *who, kpair *out) {
    const float *hd = h->dist + i * h->kk;
    const int32_t *hi = h->ids + i * h->kk;
    CHECK(same_bits(&h->root[i], &hd[0], sizeof(float)),
          "%s row %zu: root[] %.9g does not mirror the heap root %.9g", who, i, h->root[i], hd[0]);
    for (size_t c = 0; c < h->kk; c++) {
        CHECK(!isnan(hd[c]), "%s row %zu: NaN in the heap (slot %zu)", who, i, c);
        if (c > 0)
            CHECK(!ranks_after(hd[c], hi[c], hd[(c - 1) / 2], hi[(c - 1) / 2]),
                  "%s row %zu: not a max-heap: slot %zu (%.9g, %lld) ranks after its parent "
                  "(%.9g, %lld)",
                  who, i, c, hd[c], (long long)hi[c], hd[(c - 1) / 2], (long long)hi[(c - 1) / 2]);
        out[c].d = hd[c];
        out[c].id = hi[c];
    }
    qsort(out, h->kk, sizeof *out, cmp_kpair);
}

/* The two heaps of row i hold the same set of pairs (and each is well formed). */
static void heaps_same(const assay_topk *ref, const assay_topk *got, size_t i, const char *who,
                       const char *name) {
    kpair a[32], b[32];
    heap_sorted(ref, i, "scalar", a);
    heap_sorted(got, i, name, b);
    for (size_t c = 0; c < ref->kk; c++)
        CHECK(same_bits(&a[c].d, &b[c].d, sizeof(float)) && a[c].id == b[c].id,
              "%s heap, row %zu, pair %zu of %zu in (distance, id) order: scalar (%.9g, %lld), "
              "%s (%.9g, %lld)",
              who, i, c, ref->kk, a[c].d, (long long)a[c].id, name, b[c].d, (long long)b[c].id);
}

/* Candidates a row was offered, for the brute-force top-k. */
typedef struct offers {
    kpair *p;
    size_t n, cap;
} offers;

static void offers_add(offers *o, float d, int64_t id) {
    if (!(d < INFINITY)) return; /* only finite distances are offered */
    assert_true(o->n < o->cap);
    o->p[o->n].d = d;
    o->p[o->n].id = id;
    o->n++;
}

/* The heap of row i holds exactly the kk best offers (the rest of its slots empty). */
static void heap_is_topk(const assay_topk *h, size_t i, offers *o, const char *who) {
    kpair got[32];
    heap_sorted(h, i, who, got);
    qsort(o->p, o->n, sizeof *o->p, cmp_kpair);
    for (size_t c = 0; c < h->kk; c++) {
        kpair want = c < o->n ? o->p[c] : (kpair){INFINITY, -1};
        CHECK(got[c].d == want.d && got[c].id == want.id,
              "%s row %zu, pair %zu of %zu in (distance, id) order: brute force (%.9g, %lld), "
              "heap (%.9g, %lld), %zu offers",
              who, i, c, h->kk, want.d, (long long)want.id, got[c].d, (long long)got[c].id, o->n);
    }
}

/* A distance for select_tile: exact ties (a coarse grid, 0 included), +inf (rows out of the
 * graph), NaN (never offered), or any value in [0, 2). */
static float gen_dist(uint64_t *s) {
    uint64_t r = tu_next(s) % 100;
    if (r < 8) return INFINITY;
    if (r < 10) return NAN;
    if (r < 50) return (float)(tu_next(s) % 16) * 0.125f;
    return (float)(2.0 * tu_uniform(s));
}

static float *tile_dists(size_t m, size_t n, size_t ldt, size_t off, uint64_t seed, float **blk) {
    uint64_t s = seed;
    float *t = falloc(off, extent(m, ldt, n), blk);
    fill_nan(*blk, off + extent(m, ldt, n));
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) t[i * ldt + j] = gen_dist(&s);
    return t;
}

/* One tile into fresh heaps: rows (base rb) get ids j0 + j, cols (base j0) ids rb + i. The
 * shifts put the row's own id inside the tile (j0 == rb: the diagonal; j0 = rb - 3: j = i + 3;
 * j0 = rb + 2: j = i - 2) or outside it. */
static void run_select_one(assay_isa isa, const assay_kernels *k) {
    static const size_t ms[] = {0, 1, 3, 8, 9, 17};
    const char *name = assay_isa_name(isa);
    for (size_t q = 0; q < N_KKS; q++)
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (size_t b = 0; b < N_DIMS; b++)
                for (int shift = 0; shift < 4; shift++)
                    for (int sym = 0; sym < 2; sym++) {
                        size_t kk = k_kks[q], m = ms[a], n = k_dims[b];
                        size_t off = (a + b + (size_t)shift) % 3, ldt = n + (size_t)sym * 2;
                        int64_t rb = 1000 + (int64_t)q * 5000;
                        int64_t j0 = shift == 0   ? rb
                                     : shift == 1 ? rb - 3
                                     : shift == 2 ? rb + 2
                                                  : rb + (int64_t)m + 7;
                        uint64_t seed = case_seed(5, kk * 64 + m, n, (uint64_t)shift, sym);
                        set_case("select_tile[%s] kk=%zu m=%zu n=%zu rows.base=%lld j0=%lld "
                                 "cols=%s off=%zu ldt=%zu seed=%#llx",
                                 name, kk, m, n, (long long)rb, (long long)j0, sym ? "yes" : "NULL",
                                 off, ldt, (unsigned long long)seed);
                        float *tm;
                        const float *t = tile_dists(m, n, ldt, off, seed, &tm);
                        heaps hr[2], hc[2];
                        for (int r = 0; r < 2; r++) {
                            heaps_init(&hr[r], m, kk, rb, off);
                            heaps_init(&hc[r], sym ? n : 0, kk, j0, (off + 1) % 4);
                        }
                        g_ref->select_tile(t, ldt, m, n, j0, &hr[0].h, sym ? &hc[0].h : NULL);
                        if (k != g_ref)
                            k->select_tile(t, ldt, m, n, j0, &hr[1].h, sym ? &hc[1].h : NULL);
                        if (k == g_ref) { /* the reference against brute force */
                            size_t cap = (m > n ? m : n) + 1;
                            offers o = {malloc(cap * sizeof(kpair)), 0, cap};
                            assert_non_null(o.p);
                            for (size_t i = 0; i < m; i++) {
                                o.n = 0;
                                for (size_t j = 0; j < n; j++)
                                    if (j0 + (int64_t)j != rb + (int64_t)i)
                                        offers_add(&o, t[i * ldt + j], j0 + (int64_t)j);
                                heap_is_topk(&hr[0].h, i, &o, "rows");
                            }
                            for (size_t j = 0; sym && j < n; j++) {
                                o.n = 0;
                                for (size_t i = 0; i < m; i++)
                                    if (j0 + (int64_t)j != rb + (int64_t)i)
                                        offers_add(&o, t[i * ldt + j], rb + (int64_t)i);
                                heap_is_topk(&hc[0].h, j, &o, "cols");
                            }
                            free(o.p);
                        } else {
                            for (size_t i = 0; i < m; i++)
                                heaps_same(&hr[0].h, &hr[1].h, i, "rows", name);
                            for (size_t j = 0; sym && j < n; j++)
                                heaps_same(&hc[0].h, &hc[1].h, j, "cols", name);
                        }
                        for (int r = 0; r < 2; r++) {
                            heaps_free(&hr[r]);
                            heaps_free(&hc[r]);
                        }
                        free(tm);
                    }
}

/* The graph builder's use: rows cut into blocks, every pair of blocks one tile, offered to one
 * set of heaps (symmetric: pairs I <= J, the tile serving both blocks, the diagonal with cols
 * NULL; or every (I, J) with cols NULL). Thresholds become non-trivial, and the heaps are
 * compared after every tile. */
static void run_select_sweep(assay_isa isa, const assay_kernels *k) {
    static const size_t ns[] = {50, 131}, blocks[] = {7, 16, 33};
    const char *name = assay_isa_name(isa);
    for (size_t a = 0; a < 2; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t q = 0; q < N_KKS; q++)
                for (int sym = 0; sym < 2; sym++) {
                    size_t N = ns[a], blk = blocks[b], kk = k_kks[q], nb = (N + blk - 1) / blk;
                    int64_t base = a == 0 ? 0 : 77;
                    heaps h[2];
                    for (int r = 0; r < 2; r++) heaps_init(&h[r], N, kk, base, (size_t)r);
                    offers *o = calloc(N, sizeof *o);
                    assert_non_null(o);
                    for (size_t i = 0; i < N; i++) {
                        o[i].cap = 2 * N;
                        o[i].p = malloc(o[i].cap * sizeof(kpair));
                        assert_non_null(o[i].p);
                    }
                    /* the pairs in a shuffled order, as the builder's rounds run them: equal
                     * distances also arrive with a lower id after a higher one */
                    size_t np = 0, (*pr)[2] = malloc(nb * nb * sizeof *pr);
                    assert_non_null(pr);
                    for (size_t I = 0; I < nb; I++)
                        for (size_t J = sym ? I : 0; J < nb; J++, np++) {
                            pr[np][0] = I;
                            pr[np][1] = J;
                        }
                    uint64_t ps = case_seed(6, N, blk, kk, (uint64_t)sym);
                    for (size_t x = np; x > 1; x--) {
                        size_t y = (size_t)(tu_next(&ps) % x), I = pr[x - 1][0], J = pr[x - 1][1];
                        pr[x - 1][0] = pr[y][0];
                        pr[x - 1][1] = pr[y][1];
                        pr[y][0] = I;
                        pr[y][1] = J;
                    }
                    for (size_t x = 0; x < np; x++) {
                        size_t I = pr[x][0], J = pr[x][1];
                        size_t r0 = I * blk, c0 = J * blk;
                        size_t m = N - r0 < blk ? N - r0 : blk, n = N - c0 < blk ? N - c0 : blk;
                        size_t ldt = n + (I + J) % 3, off = (I * 7 + J) % 4;
                        int64_t j0 = base + (int64_t)c0;
                        int with_cols = sym && I != J;
                        uint64_t seed = case_seed(6, N * 64 + blk, kk, I * 1024 + J, sym);
                        set_case("select_tile sweep[%s] N=%zu block=%zu kk=%zu %s: tile "
                                 "(%zu, %zu) rows %zu.. cols %zu.. off=%zu ldt=%zu "
                                 "seed=%#llx",
                                 name, N, blk, kk, sym ? "symmetric" : "all pairs", I, J, r0, c0,
                                 off, ldt, (unsigned long long)seed);
                        float *tm;
                        const float *t = tile_dists(m, n, ldt, off, seed, &tm);
                        for (int r = 0; r < (k == g_ref ? 1 : 2); r++) {
                            assay_topk rows = heaps_view(&h[r], r0), cols = heaps_view(&h[r], c0);
                            (r == 0 ? g_ref : k)
                                ->select_tile(t, ldt, m, n, j0, &rows, with_cols ? &cols : NULL);
                        }
                        for (size_t i = 0; i < m; i++)
                            for (size_t j = 0; j < n; j++) {
                                if (r0 + i == c0 + j) continue;
                                offers_add(&o[r0 + i], t[i * ldt + j], base + (int64_t)(c0 + j));
                                if (with_cols)
                                    offers_add(&o[c0 + j], t[i * ldt + j],
                                               base + (int64_t)(r0 + i));
                            }
                        if (k != g_ref) {
                            for (size_t i = 0; i < m; i++)
                                heaps_same(&h[0].h, &h[1].h, r0 + i, "rows", name);
                            for (size_t j = 0; with_cols && j < n; j++)
                                heaps_same(&h[0].h, &h[1].h, c0 + j, "cols", name);
                        }
                        free(tm);
                    }
                    free(pr);
                    set_case("select_tile sweep[%s] N=%zu block=%zu kk=%zu %s: final heaps", name,
                             N, blk, kk, sym ? "symmetric" : "all pairs");
                    for (size_t i = 0; i < N; i++) {
                        heap_is_topk(&h[k == g_ref ? 0 : 1].h, i, &o[i], name);
                        free(o[i].p);
                    }
                    free(o);
                    for (int r = 0; r < 2; r++) heaps_free(&h[r]);
                }
}

static void test_kernels_select_tile(void **state) {
    (void)state;
    FOR_TABLES(select_tile, run_select_one);
    FOR_TABLES(select_tile, run_select_sweep);
}

/* ================================ fused tile ================================ */

/* A candidate as the oracle sees it: the true distance t (double precision from the same float
 * inputs), the bound e on the float computation's error, the id, and whether it may be kept at
 * all (both penalties 0 and not the row itself). */
typedef struct cand {
    double t, e;
    int64_t id;
    int ok;
} cand;

/* The kernel's dot product of length d is within gamma_d * S of the exact one (S = sum of
 * |products|) in any summation order, with or without FMA. Then
 *   l2:     qa + ba - 2 dot: 2 more roundings of at most qa + ba + 2|dot|;
 *   cosine: 1 - dot * qa * ba: 2 roundings relative to the product, 1 of 1 + |product|.
 * The clamp at 0 does not increase an error; the penalties add exactly 0. Plus 1% and FLT_MIN. */
static cand oracle(int cosine, const float *q, const float *b, size_t bstride, size_t d, float qa,
                   float ba) {
    double dot = 0.0, S = 0.0;
    for (size_t p = 0; p < d; p++) {
        double v = (double)q[p] * b[p * bstride];
        dot += v;
        S += fabs(v);
    }
    double gd = gamma_n((double)d) * S + 2.0 * d * DBL_EPSILON * S, t, e;
    if (cosine) {
        double w = (double)qa * ba;
        t = 1.0 - dot * w;
        e = w * (gd + gamma_n(2) * (fabs(dot) + gd)) +
            gamma_n(1) * (1.0 + w * (fabs(dot) + gd) * (1.0 + gamma_n(2)));
    } else {
        t = (double)qa + ba - 2.0 * dot;
        e = 2.0 * gd + gamma_n(2) * ((double)qa + ba + 2.0 * (fabs(dot) + gd));
    }
    cand c = {t > 0 ? t : 0, e * 1.01 + FLT_MIN, 0, 1};
    return c;
}

/* What row i of h keeps is the true top-kk of its candidates up to near-ties: as many pairs as
 * there are eligible candidates (at most kk), each eligible, distinct, stored within its error
 * bound of the truth; and no candidate left out is certainly better than one kept: for kept a
 * and eligible b not kept, t_a - e_a <= t_b + e_b. Where no near-tie exists this forces the
 * exact set. */
static void check_fused_heap(const assay_topk *h, size_t i, const cand *c, size_t nc,
                             const char *who) {
    kpair got[32];
    unsigned char used[2048];
    assert_true(nc <= sizeof used);
    heap_sorted(h, i, who, got);
    size_t eligible = 0, kept = 0;
    for (size_t x = 0; x < nc; x++) eligible += c[x].ok;
    size_t want = eligible < h->kk ? eligible : h->kk;
    memset(used, 0, nc);
    double worst_kept = -INFINITY;
    for (size_t s = 0; s < h->kk; s++) {
        if (got[s].id < 0) {
            CHECK(got[s].id == -1 && isinf(got[s].d),
                  "%s row %zu: empty slot %zu holds (%.9g, %lld), not (+inf, -1)", who, i, s,
                  got[s].d, (long long)got[s].id);
            continue;
        }
        kept++;
        size_t x = 0;
        while (x < nc && c[x].id != got[s].id) x++;
        CHECK(x < nc && c[x].ok,
              "%s row %zu keeps id %lld (%.9g), which is not an eligible candidate (itself, out "
              "of the graph, or never offered)",
              who, i, (long long)got[s].id, got[s].d);
        CHECK(!used[x], "%s row %zu keeps id %lld twice", who, i, (long long)got[s].id);
        used[x] = 1;
        CHECK(fabs(got[s].d - c[x].t) <= c[x].e,
              "%s row %zu, id %lld: stored distance %.9g, true %.17g, |diff| %.3g > bound %.3g",
              who, i, (long long)got[s].id, got[s].d, c[x].t, fabs(got[s].d - c[x].t), c[x].e);
        if (c[x].t - c[x].e > worst_kept) worst_kept = c[x].t - c[x].e;
    }
    CHECK(kept == want, "%s row %zu keeps %zu pairs, expected %zu (%zu eligible, kk %zu)", who, i,
          kept, want, eligible, h->kk);
    for (size_t x = 0; x < nc; x++)
        if (c[x].ok && !used[x])
            CHECK(c[x].t + c[x].e >= worst_kept,
                  "%s row %zu left out id %lld (true %.17g +- %.3g) although a kept pair is "
                  "certainly worse (true distance - bound = %.17g)",
                  who, i, (long long)c[x].id, c[x].t, c[x].e, worst_kept);
}

/* Rows of q and of each block are random (all magnitudes); some q rows are zero (cosine: distance
 * 1 to everything), some rows of both are out of the graph (penalty +inf; some of them hold NaN
 * or +inf, as rows with non-finite values do: the graph builder passes them on as they are), some
 * block rows duplicate their neighbour (exact ties) or copy a q row (distance ~0: the clamp). One
 * or two successive blocks go into the same row heaps, with fresh column heaps per block (the
 * symmetric use). */
static void run_fused_case(assay_isa isa, const assay_kernels *k, int cosine, size_t m, size_t n,
                           size_t d, size_t kk, int shift, int sym, size_t ntiles, size_t off,
                           size_t pad) {
    const char *name = assay_isa_name(isa);
    uint64_t seed = case_seed(7 + (uint64_t)cosine, m * 4096 + n, d, kk * 16 + (uint64_t)shift,
                              (uint64_t)sym * 4 + ntiles);
    int64_t rb = 5000; /* ids stay >= 0 with the second block below the first */
    size_t ldq = d + pad, ldbt = n + pad;
    float *qm, *qam, *qpm;
    float *q = falloc(off, extent(m, ldq, d), &qm);
    float *qa = falloc((off + 1) % 4, m, &qam), *qpen = falloc((off + 2) % 4, m, &qpm);
    fill_rows(q, ldq, m, d, seed);
    for (size_t i = 0; i < m; i++) {
        qpen[i] = i % 7 == 3 ? INFINITY : 0.0f;
        if (i % 5 == 1)
            for (size_t p = 0; p < d; p++) q[i * ldq + p] = 0.0f;
        if (i % 14 == 3)
            for (size_t p = 0; p < d; p++) q[i * ldq + p] = p % 2 ? NAN : 1.0f;
    }
    g_ref->norms_sq(q, ldq, m, d, qa);
    if (cosine)
        for (size_t i = 0; i < m; i++) qa[i] = qa[i] > 0.0f ? 1.0f / sqrtf(qa[i]) : 0.0f;
    heaps hr;
    heaps_init(&hr, m, kk, rb, off);
    cand *rc = malloc((m * n * ntiles + 1) * sizeof *rc), *cc = malloc((m * n + 1) * sizeof *cc);
    float *b = malloc((n * d + 1) * sizeof *b);
    assert_true(rc && cc && b);
    for (size_t s = 0; s < ntiles; s++) {
        /* block 2 has lower ids than block 1: ties then arrive with lower ids later */
        int64_t j0 = rb + shift - (int64_t)(s * (n + m + 5));
        set_case("fused_tile[%s] %s m=%zu n=%zu d=%zu kk=%zu rows.base=%lld j0=%lld cols=%s "
                 "block %zu of %zu off=%zu ldq=%zu ldbt=%zu seed=%#llx",
                 name, cosine ? "cosine" : "l2", m, n, d, kk, (long long)rb, (long long)j0,
                 sym ? "yes" : "NULL", s + 1, ntiles, off, ldq, ldbt, (unsigned long long)seed);
        fill_rows(b, d, n, d, seed + 1 + s);
        for (size_t j = 0; j < n; j++) {
            if (j % 5 == 4) memcpy(b + j * d, b + (j - 1) * d, d * sizeof *b);
            if (j % 3 == 0 && j < m && qpen[j] == 0.0f)
                memcpy(b + j * d, q + j * ldq, d * sizeof *b);
        }
        for (size_t j = 6; j < n; j += 11) /* out of the graph; half of them non-finite */
            for (size_t p = 0; p < d && j % 22 == 6; p++)
                if (p % 3 == 0) b[j * d + p] = j % 44 == 6 ? INFINITY : NAN;
        float *btm, *bam, *bpm;
        float *bt = falloc((off + 3) % 4, extent(d, ldbt, n), &btm);
        float *ba = falloc(off, n, &bam), *bpen = falloc((off + 1) % 4, n, &bpm);
        fill_nan(btm, (off + 3) % 4 + extent(d, ldbt, n));
        for (size_t j = 0; j < n; j++)
            for (size_t p = 0; p < d; p++) bt[p * ldbt + j] = b[j * d + p];
        g_ref->norms_sq(b, d, n, d, ba);
        for (size_t j = 0; j < n; j++) {
            if (cosine) ba[j] = ba[j] > 0.0f ? 1.0f / sqrtf(ba[j]) : 0.0f;
            bpen[j] = j % 11 == 6 ? INFINITY : 0.0f;
        }
        heaps hc;
        heaps_init(&hc, sym ? n : 0, kk, j0, (off + 2) % 4);
        k->fused_tile(cosine, q, ldq, bt, ldbt, m, n, d, qa, ba, qpen, bpen, j0, &hr.h,
                      sym ? &hc.h : NULL);
        /* the oracle's candidates: row i's accumulate over the blocks, column j's are this
         * block's */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                cand c = oracle(cosine, q + i * ldq, b + j * d, 1, d, qa[i], ba[j]);
                c.ok = qpen[i] == 0.0f && bpen[j] == 0.0f && j0 + (int64_t)j != rb + (int64_t)i;
                c.id = j0 + (int64_t)j;
                rc[i * n * ntiles + s * n + j] = c;
                c.id = rb + (int64_t)i;
                cc[j * m + i] = c;
            }
        for (size_t i = 0; i < m; i++)
            check_fused_heap(&hr.h, i, rc + i * n * ntiles, (s + 1) * n, "rows");
        for (size_t j = 0; sym && j < n; j++) check_fused_heap(&hc.h, j, cc + j * m, m, "cols");
        heaps_free(&hc);
        free(btm);
        free(bam);
        free(bpm);
    }
    heaps_free(&hr);
    free(rc);
    free(cc);
    free(b);
    free(qm);
    free(qam);
    free(qpm);
}

/* Every d with short blocks cycling through the tails along j (the vector direction), then every
 * n with small d (the fused kernel's use); both metrics, with and without column heaps, kk,
 * self-overlap and misalignment varying from case to case. */
static void run_fused(assay_isa isa, const assay_kernels *k) {
    static const size_t ns[] = {1, 7, 8, 9, 16, 17, 33, 65}, ms[] = {1, 2, 3, 4, 5, 8, 9, 17};
    static const size_t ds[] = {1, 2, 3, 4, 7, 8, 9, 16, 17};
    static const int shifts[] = {0, -3, 2, 1000};
    size_t idx = 0;
    for (int sweep = 0; sweep < 2; sweep++)
        for (size_t a = 0; a < N_DIMS; a++)
            for (size_t b = 0; b < (sweep == 0 ? 1 : sizeof ds / sizeof ds[0]); b++)
                for (int cosine = 0; cosine < 2; cosine++)
                    for (int sym = 0; sym < 2; sym++, idx++) {
                        size_t d = sweep == 0 ? k_dims[a] : ds[b];
                        size_t n = sweep == 0 ? ns[idx % 8] : k_dims[a];
                        size_t m = ms[(idx / 3) % 8], kk = k_kks[idx % N_KKS];
                        run_fused_case(isa, k, cosine, m, n, d, kk, shifts[(idx / 2) % 4], sym,
                                       1 + idx % 2, k_offs[idx % N_OFFS], (idx / 5) % 2 ? 3 : 0);
                    }
}

static void test_kernels_fused_tile(void **state) {
    (void)state;
    FOR_TABLES(fused_tile, run_fused);
}

/* ================================ reduced-precision tiles ================================ */

/* Positions per row (dp): every tail of 4-, 8-, 16-, 32- and 64-byte groups, and real widths. */
static const size_t k_lowp_dp[] = {0,  4,  8,  12,  16,  20,  28,  32,  36,
                                   60, 64, 68, 124, 128, 132, 784, 1000};
#define N_LOWP_DP (sizeof k_lowp_dp / sizeof k_lowp_dp[0])
static const size_t k_lowp_n[] = {0,  1,  2,  3,  7,  8,  9,  15, 16, 17,
                                  31, 32, 33, 47, 48, 49, 64, 65, 97};
#define N_LOWP_N (sizeof k_lowp_n / sizeof k_lowp_n[0])

/* Code patterns of a row: 0 uniform in [-127, 127], 1 within +-63 (no pair sum can saturate),
 * 2 extremes (+-127 and -128: pair sums saturate), 3 mostly zeros. */
static int8_t gen_code(uint64_t *s, int mode) {
    uint64_t r = tu_next(s);
    switch (mode) {
    case 0:
        return (int8_t)((int)(r % 255) - 127);
    case 1:
        return (int8_t)((int)(r % 127) - 63);
    case 2:
        return (int8_t)((r & 3) == 0 ? -128 : (r & 1) ? 127 : -127);
    default:
        return (int8_t)((r % 8) == 0 ? (int)(r >> 8) % 255 - 127 : 0);
    }
}

typedef struct lowp_case {
    size_t m, n, dp, lda, ldt, off;
    void *a, *am;   /* m rows of codes (int8) or bf16, stride lda; padding past dp poisoned */
    void *bp, *bpm; /* the other block, packed */
    int32_t *asum, *asm_;
    float *sa, *sam, *sb, *sbm;
    float *tr, *trm, *tk, *tkm; /* scalar and ISA outputs (NaN-filled, same layout) */
} lowp_case;

static void lowp_free(lowp_case *c) {
    free(c->am);
    free(c->bpm);
    free(c->asm_);
    free(c->sam);
    free(c->sbm);
    free(c->trm);
    free(c->tkm);
}

/* int8 case: rows of mode (row + seed) % 4 (or all `mode` when mode >= 0). */
static void lowp_make_i8(lowp_case *c, size_t m, size_t n, size_t dp, size_t pad, size_t off,
                         int mode, uint64_t seed) {
    uint64_t s = seed;
    memset(c, 0, sizeof *c);
    c->m = m, c->n = n, c->dp = dp, c->lda = dp + pad, c->ldt = n + (seed % 2 ? 3 : 0);
    c->off = off;
    size_t rows = m > n ? m : n; /* the same rows serve as the packed block */
    int8_t *a = xalloc(off, extent(rows, c->lda, dp), 1, &c->am);
    for (size_t i = 0; i < extent(rows, c->lda, dp); i++) a[i] = (int8_t)0x7f; /* padding */
    for (size_t i = 0; i < rows; i++) {
        int md = mode >= 0 ? mode : (int)((i + seed) % 4);
        for (size_t p = 0; p < dp; p++) a[i * c->lda + p] = gen_code(&s, md);
    }
    c->a = a;
    size_t psz = assay__panel_size(n, dp);
    c->bp = xalloc(off, psz, 1, &c->bpm);
    assay__pack_u8_panels(a, c->lda, n, dp, c->bp);
    c->asum = xalloc((off + 1) % 4, m, sizeof(int32_t), (void **)&c->asm_);
    for (size_t i = 0; i < m; i++) {
        int32_t t = 0;
        for (size_t p = 0; p < dp; p++) t += a[i * c->lda + p];
        c->asum[i] = 128 * t;
    }
    c->sa = falloc(off, m, &c->sam);
    c->sb = falloc((off + 2) % 4, n, &c->sbm);
    for (size_t i = 0; i < m; i++) c->sa[i] = (i % 5 == 3) ? 0.0f : -2.0f * gen_val(&s, 3);
    for (size_t j = 0; j < n; j++) c->sb[j] = gen_val(&s, 3);
    size_t len = extent(m, c->ldt, n);
    c->tr = falloc(off, len, &c->trm);
    c->tk = falloc(off, len, &c->tkm);
    fill_nan(c->trm, off + len);
    fill_nan(c->tkm, off + len);
}

/* The exact product of int8 codes row i . row j, with each pair sum saturated to int16 when
 * `sat` (vpmaddubsw) and the +128 offset of the packed side as the kernels see it. */
static int64_t i8_oracle(const lowp_case *c, size_t i, size_t j, int sat) {
    const int8_t *a = c->a;
    int64_t s = 0;
    for (size_t p = 0; p < c->dp; p += 2) {
        int64_t pair = (int64_t)a[i * c->lda + p] * (a[j * c->lda + p] + 128) +
                       (int64_t)a[i * c->lda + p + 1] * (a[j * c->lda + p + 1] + 128);
        if (sat) pair = pair > 32767 ? 32767 : pair < -32768 ? -32768 : pair;
        s += pair;
    }
    return s - c->asum[i];
}

/* Entries outside the m x n tile (row padding, what lies in front) are untouched. */
static void lowp_check_padding(const lowp_case *c, const float *blk, const char *who) {
    for (size_t p = 0; p < c->off + extent(c->m, c->ldt, c->n); p++) {
        if (p >= c->off && (p - c->off) % c->ldt < c->n) continue;
        CHECK(isnan(blk[p]), "%s wrote outside the tile (element %zu)", who, p);
    }
}

/* Shapes past the sweep for blocked kernels: row-block tails of 4 and 6, many row and column
 * blocks with a column tail, and widths whose packed panels exceed 1 MiB (AVX-512 VNNI walks
 * them in superblocks of at least 3 panels: 3 + 1 here). */
static const size_t k_lowp_big[][3] = {{4, 50, 64},   {6, 97, 36},    {12, 33, 128},
                                       {14, 65, 68},  {30, 17, 20},   {70, 130, 128},
                                       {64, 48, 784}, {129, 200, 64}, {9, 49, 22000}};
#define N_LOWP_BIG (sizeof k_lowp_big / sizeof k_lowp_big[0])

static void check_tile_i8_case(int sat, assay_isa isa, const assay_kernels *k, size_t m, size_t n,
                               size_t dp, size_t idx) {
    const char *name = assay_isa_name(isa), *kn = sat ? "tile_i8_pairsat" : "tile_i8";
    size_t off = k_offs[idx % N_OFFS], pad = (idx / 3) % 2 ? 4 : 0;
    int mode = (int)(idx % 5) - 1; /* -1: mixed rows */
    uint64_t seed = case_seed(20 + (uint64_t)sat, m, n, dp, off * 8 + pad);
    set_case("%s[%s] m=%zu n=%zu dp=%zu lda=%zu off=%zu mode=%d seed=%#llx", kn, name, m, n, dp,
             dp + pad, off, mode, (unsigned long long)seed);
    lowp_case c;
    lowp_make_i8(&c, m, n, dp, pad, off, mode, seed);
    void (*ref)(float *, size_t, size_t, size_t, size_t, const int8_t *, size_t, const uint8_t *,
                const int32_t *, const float *, const float *) =
        sat ? g_ref->tile_i8_pairsat : g_ref->tile_i8;
    void (*got)(float *, size_t, size_t, size_t, size_t, const int8_t *, size_t, const uint8_t *,
                const int32_t *, const float *, const float *) =
        sat ? k->tile_i8_pairsat : k->tile_i8;
    ref(c.tr, c.ldt, m, n, dp, c.a, c.lda, c.bp, c.asum, c.sa, c.sb);
    if (k == g_ref) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                int64_t s = i8_oracle(&c, i, j, sat);
                float want = (c.sa[i] * c.sb[j]) * (float)s;
                CHECK(same_bits(&want, &c.tr[i * c.ldt + j], 4),
                      "(%zu, %zu): scalar %.9g, oracle %.9g (integer %lld)", i, j,
                      c.tr[i * c.ldt + j], want, (long long)s);
                if (sat && mode == 1) /* no saturation possible: as tile_i8 */
                    CHECK(s == i8_oracle(&c, i, j, 0), "(%zu, %zu) saturated", i, j);
            }
        lowp_check_padding(&c, c.trm, "scalar");
    } else {
        got(c.tk, c.ldt, m, n, dp, c.a, c.lda, c.bp, c.asum, c.sa, c.sb);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                CHECK(same_bits(&c.tr[i * c.ldt + j], &c.tk[i * c.ldt + j], 4),
                      "(%zu, %zu): scalar %.9g, %s %.9g", i, j, c.tr[i * c.ldt + j], name,
                      c.tk[i * c.ldt + j]);
        lowp_check_padding(&c, c.tkm, name);
    }
    lowp_free(&c);
}

static void run_tile_i8_kind(int sat, assay_isa isa, const assay_kernels *k) {
    size_t idx = 0;
    for (size_t a = 0; a < N_TILE_ROWS; a++)
        for (size_t b = 0; b < N_LOWP_N; b++)
            for (size_t e = 0; e < N_LOWP_DP; e++, idx++) {
                size_t m = k_tile_rows[a], n = k_lowp_n[b], dp = k_lowp_dp[e];
                if (dp >= 784 && (m > 9 || n > 33)) continue; /* wide rows: a few shapes */
                check_tile_i8_case(sat, isa, k, m, n, dp, idx);
            }
    for (size_t b = 0; b < N_LOWP_BIG; b++, idx++)
        check_tile_i8_case(sat, isa, k, k_lowp_big[b][0], k_lowp_big[b][1], k_lowp_big[b][2], idx);
}

static void run_tile_i8(assay_isa isa, const assay_kernels *k) {
    run_tile_i8_kind(0, isa, k);
}

static void run_tile_i8_pairsat(assay_isa isa, const assay_kernels *k) {
    run_tile_i8_kind(1, isa, k);
}

static void test_kernels_tile_i8(void **state) {
    (void)state;
    FOR_TABLES(tile_i8, run_tile_i8);
}

static void test_kernels_tile_i8_pairsat(void **state) {
    (void)state;
    FOR_TABLES(tile_i8_pairsat, run_tile_i8_pairsat);
}

/* A bf16 value of magnitude mode 0..3 (as gen_val), some exact zeros, never below 2^-60. */
static uint16_t gen_bf16(uint64_t *s, int mode) {
    if (tu_next(s) % 11 == 0) return 0;
    return assay__bf16_from_float(gen_val(s, mode));
}

static void lowp_make_bf16(lowp_case *c, size_t m, size_t n, size_t dp, size_t pad, size_t off,
                           uint64_t seed) {
    uint64_t s = seed;
    memset(c, 0, sizeof *c);
    c->m = m, c->n = n, c->dp = dp, c->lda = dp + pad, c->ldt = n + (seed % 2 ? 3 : 0);
    c->off = off;
    size_t rows = m > n ? m : n;
    uint16_t *a = xalloc(off, extent(rows, c->lda, dp), 2, &c->am);
    for (size_t i = 0; i < extent(rows, c->lda, dp); i++) a[i] = 0x7fc0; /* NaN padding */
    for (size_t i = 0; i < rows; i++) {
        int md = (int)((i + seed) % 4);
        for (size_t p = 0; p < dp; p++) a[i * c->lda + p] = gen_bf16(&s, md);
    }
    c->a = a;
    c->bp = xalloc(off, assay__panel_size(n, dp), 2, &c->bpm);
    assay__pack_bf16_panels(a, c->lda, n, dp, c->bp);
    size_t len = extent(m, c->ldt, n);
    c->tr = falloc(off, len, &c->trm);
    c->tk = falloc(off, len, &c->tkm);
    fill_nan(c->trm, off + len);
    fill_nan(c->tkm, off + len);
}

static void run_bf16_case(assay_isa isa, const assay_kernels *k, size_t m, size_t n, size_t dp,
                          size_t off, size_t pad, float alpha, uint64_t seed) {
    const char *name = assay_isa_name(isa);
    set_case("tile_bf16[%s] m=%zu n=%zu dp=%zu lda=%zu off=%zu alpha=%g seed=%#llx", name, m, n, dp,
             dp + pad, off, alpha, (unsigned long long)seed);
    lowp_case c;
    lowp_make_bf16(&c, m, n, dp, pad, off, seed);
    const uint16_t *av = c.a;
    g_ref->tile_bf16(c.tr, c.ldt, m, n, dp, av, c.lda, c.bp, alpha);
    if (k == g_ref) {
        /* Against a double oracle: dp roundings of float sums of exact products, and flushed
         * subnormal sums. */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double ex = 0.0, mag = 0.0;
                for (size_t p = 0; p < dp; p++) {
                    double t = (double)assay__bf16_to_float(av[i * c.lda + p]) *
                               assay__bf16_to_float(av[j * c.lda + p]);
                    ex += t;
                    mag += fabs(t);
                }
                double got = c.tr[i * c.ldt + j] / alpha;
                double tol = gamma_n((double)dp) * mag + dp * 0x1p-126;
                CHECK(fabs(got - ex) <= tol, "(%zu, %zu): scalar %.9g, oracle %.17g", i, j, got,
                      ex);
            }
        lowp_check_padding(&c, c.trm, "scalar");
    } else {
        k->tile_bf16(c.tk, c.ldt, m, n, dp, av, c.lda, c.bp, alpha);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                CHECK(c.tr[i * c.ldt + j] == c.tk[i * c.ldt + j], "(%zu, %zu): scalar %a, %s %a", i,
                      j, c.tr[i * c.ldt + j], name, c.tk[i * c.ldt + j]);
        lowp_check_padding(&c, c.tkm, name);
    }
    lowp_free(&c);
}

static void run_tile_bf16(assay_isa isa, const assay_kernels *k) {
    size_t idx = 0;
    for (size_t a = 0; a < N_TILE_ROWS; a++)
        for (size_t b = 0; b < N_LOWP_N; b++)
            for (size_t e = 0; e < N_LOWP_DP + 3; e++, idx++) {
                /* the int8 widths, and three that are even but not a multiple of 4 */
                size_t m = k_tile_rows[a], n = k_lowp_n[b];
                size_t dp = e < N_LOWP_DP ? k_lowp_dp[e] : (size_t[]){2, 6, 34}[e - N_LOWP_DP];
                if (dp >= 784 && (m > 9 || n > 33)) continue;
                size_t off = k_offs[idx % N_OFFS], pad = (idx / 3) % 2 ? 2 : 0;
                run_bf16_case(isa, k, m, n, dp, off, pad, idx % 2 ? -2.0f : 1.0f,
                              case_seed(22, m, n, dp, off * 8 + pad));
            }
    /* Larger tiles: several blocks of rows (with a short last one) and wide rows whose sums
     * cross blocks of positions (kernels may keep partial sums in t between them). */
    static const size_t big[][3] = {{40, 50, 1030}, {21, 33, 2050}, {64, 97, 516}};
    for (size_t b = 0; b < sizeof big / sizeof big[0]; b++)
        run_bf16_case(isa, k, big[b][0], big[b][1], big[b][2], b % 2, 2 * b, b % 2 ? 1.0f : -2.0f,
                      case_seed(23, big[b][0], big[b][1], big[b][2], b));
}

static void test_kernels_tile_bf16(void **state) {
    (void)state;
    FOR_TABLES(tile_bf16, run_tile_bf16);
}

/* vdpbf16ps as measured on Sapphire Rapids: per pair the odd position's product, then the even
 * one's, each added with its own rounding, a subnormal sum flushed to zero. 1 + 2^-24 + 2^-24 is
 * 1 added one at a time (each sum a tie, rounded to even) but 1 + 2^-23 in one step. */
static void test_kernels_bf16_model(void **state) {
    (void)state;
    /* row a = (1, 1, 1, 1), row b = (1, 0, 2^-24, 2^-24): acc = 0 + 0 = 0, + 1 = 1, then
     * + 2^-24 (tie: stays 1), + 2^-24 (stays 1). A fused pair would give 1 + 2^-23. */
    uint16_t a[4], b[4], bp[16 * 4];
    for (int p = 0; p < 4; p++) a[p] = assay__bf16_from_float(1.0f);
    b[0] = assay__bf16_from_float(1.0f);
    b[1] = 0;
    b[2] = b[3] = assay__bf16_from_float(0x1p-24f);
    assay__pack_bf16_panels(b, 4, 1, 4, bp);
    table t[ASSAY_ISA_COUNT];
    size_t n = tables(t);
    for (size_t i = 0; i < n; i++) {
        float out = NAN;
        t[i].k->tile_bf16(&out, 1, 1, 1, 4, a, 4, bp, 1.0f);
        set_case("bf16 model[%s]", assay_isa_name(t[i].isa));
        CHECK(out == 1.0f, "1 + 2^-24 + 2^-24 gave %a, not 1 (sequential rounding)", out);
    }
    /* The odd position goes first: b = (1, 0, -1, 2^-24) gives 1, then 1 + 2^-24 = 1 (tie),
     * then 1 - 1 = 0; even first it would be 0 + 2^-24. */
    b[2] = assay__bf16_from_float(-1.0f);
    b[3] = assay__bf16_from_float(0x1p-24f);
    assay__pack_bf16_panels(b, 4, 1, 4, bp);
    for (size_t i = 0; i < n; i++) {
        float out = NAN;
        t[i].k->tile_bf16(&out, 1, 1, 1, 4, a, 4, bp, 1.0f);
        set_case("bf16 order[%s]", assay_isa_name(t[i].isa));
        CHECK(out == 0.0f, "1, + 2^-24 (odd), - 1 (even) gave %a, not 0 (odd first)", out);
    }
    /* A subnormal sum is flushed before the next step (as vdpbf16ps does on Sapphire Rapids):
     * with a = 2^-60 everywhere, b = (-(1 + 2^-7), 1, -1, 1 + 2^-6) 2^-60 gives 2^-120 then
     * -2^-127 (flushed: -0); then + 2^-120 (1 + 2^-6) = 2^-120 + 2^-126, then - 2^-120 = 2^-126.
     * Unflushed, the second pair would end at 2^-127 (or 0 once flushed). */
    for (int p = 0; p < 4; p++) a[p] = assay__bf16_from_float(0x1p-60f);
    b[0] = assay__bf16_from_float(-0x1.02p-60f);
    b[1] = assay__bf16_from_float(0x1p-60f);
    b[2] = assay__bf16_from_float(-0x1p-60f);
    b[3] = assay__bf16_from_float(0x1.04p-60f);
    assay__pack_bf16_panels(b, 4, 1, 4, bp);
#if defined(__x86_64__) || defined(_M_X64)
    /* flush-to-zero and denormals-are-zero off, so only a kernel's own flushing can pass */
    unsigned csr = _mm_getcsr() & ~0x8040u;
    _mm_setcsr(csr);
#endif
    for (size_t i = 0; i < n; i++) {
        float out = NAN;
        t[i].k->tile_bf16(&out, 1, 1, 1, 4, a, 4, bp, 1.0f);
        set_case("bf16 flush[%s]", assay_isa_name(t[i].isa));
        CHECK(out == 0x1p-126f, "subnormal sum not flushed: %a, not 0x1p-126", out);
#if defined(__x86_64__) || defined(_M_X64)
        CHECK((_mm_getcsr() & ~0x3fu) == (csr & ~0x3fu),
              "MXCSR controls %#x after the call, %#x before", _mm_getcsr(),
              csr); /* the low 6 bits are sticky exception flags */
#endif
    }
    /* Conversion: round to nearest even, NaN kept, subnormals and tiny values to signed zero,
     * overflow to infinity. */
    assert_int_equal(assay__bf16_from_float(1.0f), 0x3f80);
    assert_int_equal(assay__bf16_from_float(1.0f + 0x1p-8f), 0x3f80);           /* tie: even */
    assert_int_equal(assay__bf16_from_float(1.0f + 0x1p-8f + 0x1p-9f), 0x3f81); /* above tie */
    assert_int_equal(assay__bf16_from_float(1.0f + 0x1p-7f + 0x1p-8f), 0x3f82); /* tie: even */
    assert_int_equal(assay__bf16_from_float(-0x1p-130f), 0x8000);
    assert_int_equal(assay__bf16_from_float(0x1.fffffep127f), 0x7f80);
    assert_true(isnan(assay__bf16_to_float(assay__bf16_from_float(NAN))));
    assert_true(assay__bf16_to_float(assay__bf16_from_float(3.0f)) == 3.0f);
}

/* ================================ tables ================================ */

/* An ISA's own table as built (NULL where it leaves the scalar kernel), NULL if not built. */
static const assay_kernels *own_table(assay_isa isa) {
    switch (isa) {
    case ASSAY_ISA_SCALAR:
        return &assay__kernels_scalar;
#if ASSAY_BUILD_AVX2
    case ASSAY_ISA_AVX2:
        return &assay__kernels_avx2;
#endif
#if ASSAY_BUILD_AVX512
    case ASSAY_ISA_AVX512:
        return &assay__kernels_avx512;
#endif
#if ASSAY_BUILD_NEON
    case ASSAY_ISA_NEON:
        return &assay__kernels_neon;
#endif
#if ASSAY_BUILD_SVE
    case ASSAY_ISA_SVE:
        return &assay__kernels_sve;
#endif
    default:
        return NULL;
    }
}

/* Lays the non-NULL entries of `src` over `dst`. */
static void take_entries(assay_kernels *dst, const assay_kernels *src) {
#define TAKE_ENTRY(op, ret, params, arg)                                                           \
    if (src->op != NULL) dst->op = src->op;
    ASSAY_KERNEL_LIST(TAKE_ENTRY, )
#undef TAKE_ENTRY
}

/* Every entry of the scalar table is set (the other tables fall back on it), and each table
 * dispatch hands out has, for every kernel of the list, the ISA's own kernel where it has one,
 * else (avx512) AVX2's, else the scalar one, with the kernels of the CPU features it has (AVX-512
 * VNNI) laid over: so no entry of any table is NULL and no feature is used without the CPU
 * having it. */
static void test_kernels_tables(void **state) {
    (void)state;
    table t[ASSAY_ISA_COUNT];
    size_t n = tables(t);
    unsigned cpu = assay__cpu_features();
    (void)cpu;
    for (size_t i = 0; i < n; i++) {
        const char *name = assay_isa_name(t[i].isa);
        const assay_kernels *k = t[i].k, *own = own_table(t[i].isa), *ref = &assay__kernels_scalar;
        set_case("tables[%s]", name);
        CHECK(own != NULL, "dispatch has a %s table, but the %s kernels were not built", name,
              name);
        CHECK(strcmp(k->name, name) == 0, "the %s table is named \"%s\"", name, k->name);
        assay_kernels want = *ref;
#if ASSAY_BUILD_AVX2
        if (t[i].isa == ASSAY_ISA_AVX512) take_entries(&want, &assay__kernels_avx2);
#endif
        take_entries(&want, own);
#if ASSAY_BUILD_AVX512_VNNI
        if (t[i].isa == ASSAY_ISA_AVX512 && (cpu & ASSAY__CPU_AVX512_VNNI))
            take_entries(&want, &assay__kernels_avx512_vnni);
#endif
#define CHECK_ENTRY(op, ret, params, arg)                                                          \
    CHECK(ref->op != NULL, "the scalar table has no " #op);                                        \
    CHECK(k->op == want.op,                                                                        \
          "%s table, entry " #op ": expected %s's kernel (or the one it inherits) and no other",   \
          name, name);
        ASSAY_KERNEL_LIST(CHECK_ENTRY, )
#undef CHECK_ENTRY
    }
}

/* ================================ dispatch ================================ */

/* Under the per-ISA reruns (tests/isa_run.c sets ASSAY_ISA), the library really runs that ISA. */
static void test_kernels_env_isa_is_used(void **state) {
    (void)state;
    const char *env = getenv("ASSAY_ISA");
    if (env == NULL || env[0] == '\0') skip();
    int want = assay__isa_parse(env);
    assert_true(want >= ASSAY_ISA_AUTO);
    if (want == ASSAY_ISA_AUTO || !assay_isa_supported((assay_isa)want)) skip();
    assay_ctx *ctx = tu_ctx(1);
    assert_string_equal(assay_isa_name(assay_ctx_isa(ctx)), assay_isa_name((assay_isa)want));
    assay_ctx_destroy(ctx);
}

/* The emulated ARM runs (CMakePresets.json) name the ISA their CPU model must select
 * (ASSAY_EXPECT_ISA): fails if detection does not honour the emulated CPU. */
static void test_kernels_expected_isa_is_chosen(void **state) {
    (void)state;
    const char *want = getenv("ASSAY_EXPECT_ISA"), *forced = getenv("ASSAY_ISA");
    if (want == NULL || want[0] == '\0' || (forced != NULL && forced[0] != '\0')) skip();
    assay_ctx *ctx = tu_ctx(1);
    assert_string_equal(assay_isa_name(assay_ctx_isa(ctx)), want);
    assay_ctx_destroy(ctx);
}

/* The kernels' tests are listed from the kernel list: a kernel without a test_kernels_<op> does
 * not build. */
#define KERNEL_TEST(op, ret, params, arg) cmocka_unit_test(test_kernels_##op),

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_expected_isa_is_chosen),
        cmocka_unit_test(test_kernels_env_isa_is_used),
        ASSAY_KERNEL_LIST(KERNEL_TEST, ) /* test_kernels_<op>, in the list's order */
        cmocka_unit_test(test_kernels_bf16_model),
        cmocka_unit_test(test_kernels_tables),
    };
    return cmocka_run_group_tests_name("kernels", tests, group_setup, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* One table of kernel pointers per ISA, built once from the scalar table with the optimised
 * entries laid over it (BLIS's "reference first" pattern), chosen honestly from cpuid/xgetbv or
 * getauxval. The tables are immutable after the first call; this is the library's only global
 * state. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/dispatch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#endif

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static unsigned g_features;
static char g_feature_names[128];
static assay_kernels g_tables[ASSAY_ISA_COUNT];
static unsigned g_have; /* bit per usable ISA */

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long read_xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static void append_name(const char *name) {
    size_t len = strlen(g_feature_names), add = strlen(name);
    if (len + add + 2 >= sizeof g_feature_names) return;
    if (len > 0) g_feature_names[len++] = ' ';
    memcpy(g_feature_names + len, name, add + 1);
}

static unsigned detect(void) {
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xE6) == 0xE6;
    unsigned b7 = 0, c7 = 0, d7 = 0, a7 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) __get_cpuid_count(7, 0, &a7, &b7, &c7, &d7);
    int avx2 = (b7 >> 5) & 1, f512 = (b7 >> 16) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
    int vnni = (c7 >> 11) & 1, bf16 = 0;
    if (a7 >= 1) { /* sub-leaf 1 exists */
        unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
        __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71);
        bf16 = (a71 >> 5) & 1;
    }
    if (avx && ymm) append_name("avx");
    if (fma && ymm) append_name("fma");
    if (avx2 && ymm) append_name("avx2");
    if (f512 && zmm) append_name("avx512f");
    if (bw && zmm) append_name("avx512bw");
    if (vl && zmm) append_name("avx512vl");
    if (vnni && zmm) append_name("avx512_vnni");
    if (bf16 && zmm) append_name("avx512_bf16");
    if (avx && avx2 && fma && ymm) f |= ASSAY__CPU_AVX2_FMA;
    if ((f & ASSAY__CPU_AVX2_FMA) && f512 && vl && bw && zmm) f |= ASSAY__CPU_AVX512;
    if ((f & ASSAY__CPU_AVX512) && vnni) f |= ASSAY__CPU_AVX512_VNNI;
    if ((f & ASSAY__CPU_AVX512) && bf16) f |= ASSAY__CPU_AVX512_BF16;
#elif defined(__aarch64__) && defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & HWCAP_ASIMD) {
        f |= ASSAY__CPU_NEON;
        append_name("asimd");
    }
    if (hw & HWCAP_SVE) {
        f |= ASSAY__CPU_SVE;
        append_name("sve");
    }
#endif
    return f;
}

/* Takes every non-NULL entry of `src` into dst: one line per kernel, expanded from the kernel
 * list, so a new kernel is overlaid without an edit here. */
static void overlay(assay_kernels *dst, const assay_kernels *src) {
#define TAKE(op, ret, params, arg)                                                                 \
    if (src->op) dst->op = src->op;
    ASSAY_KERNEL_LIST(TAKE, )
#undef TAKE
}

static unsigned g_built; /* bit per ISA compiled into this library */

/* The table of `isa`: `base` (a lower ISA's finished table, whose kernels every CPU of this ISA
 * runs) with the ISA's own entries laid over it. */
static inline void register_isa(assay_isa isa, const assay_kernels *base,
                                const assay_kernels *table, unsigned needs) {
    g_tables[isa] = *base;
    g_tables[isa].name = table->name;
    overlay(&g_tables[isa], table);
    g_built |= 1u << isa;
    if ((g_features & needs) == needs) g_have |= 1u << isa;
}

/* Kernels of an optional feature of `isa`, laid over its table when this CPU has the feature. */
static inline void add_feature(assay_isa isa, const assay_kernels *table, unsigned needs) {
    if ((g_features & needs) == needs) overlay(&g_tables[isa], table);
}

static void init_once(void) {
    g_features = detect();
    g_tables[ASSAY_ISA_SCALAR] = assay__kernels_scalar;
    const assay_kernels *x86_base = &g_tables[ASSAY_ISA_SCALAR];
    g_have = 1u << ASSAY_ISA_SCALAR;
    g_built = 1u << ASSAY_ISA_SCALAR;
    /* An ISA's table exists when it was built; it is usable when the CPU (and the OS, for the
     * register state) supports it. */
#if ASSAY_BUILD_AVX2
    register_isa(ASSAY_ISA_AVX2, x86_base, &assay__kernels_avx2, ASSAY__CPU_AVX2_FMA);
    x86_base = &g_tables[ASSAY_ISA_AVX2]; /* every AVX-512 CPU runs AVX2 */
#endif
#if ASSAY_BUILD_AVX512
    register_isa(ASSAY_ISA_AVX512, x86_base, &assay__kernels_avx512, ASSAY__CPU_AVX512);
#endif
#if ASSAY_BUILD_AVX512_VNNI
    add_feature(ASSAY_ISA_AVX512, &assay__kernels_avx512_vnni, ASSAY__CPU_AVX512_VNNI);
#endif
    (void)x86_base;
#if ASSAY_BUILD_NEON
    register_isa(ASSAY_ISA_NEON, &g_tables[ASSAY_ISA_SCALAR], &assay__kernels_neon,
                 ASSAY__CPU_NEON);
#endif
#if ASSAY_BUILD_SVE
    register_isa(ASSAY_ISA_SVE, &g_tables[ASSAY_ISA_SCALAR], &assay__kernels_sve, ASSAY__CPU_SVE);
#endif
}

unsigned assay__cpu_features(void) {
    pthread_once(&g_once, init_once);
    return g_features;
}

const char *assay__cpu_feature_names(void) {
    pthread_once(&g_once, init_once);
    return g_feature_names[0] ? g_feature_names : "(none detected)";
}

const assay_kernels *assay__kernels_for(assay_isa isa) {
    pthread_once(&g_once, init_once);
    if (isa < 0 || isa >= ASSAY_ISA_COUNT) return NULL;
    return (g_have & (1u << isa)) ? &g_tables[isa] : NULL;
}

static const char *const k_isa_names[ASSAY_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon", "sve"};

const char *assay_isa_name(assay_isa isa) {
    if (isa == ASSAY_ISA_AUTO) return "auto";
    if (isa < 0 || isa >= ASSAY_ISA_COUNT) return "unknown";
    return k_isa_names[isa];
}

int assay__isa_built(assay_isa isa) {
    pthread_once(&g_once, init_once);
    return isa >= 0 && isa < ASSAY_ISA_COUNT && (g_built & (1u << isa)) != 0;
}

int assay_isa_supported(assay_isa isa) {
    return assay__kernels_for(isa) != NULL;
}

int assay__isa_parse(const char *name) {
    if (name == NULL || name[0] == '\0' || strcasecmp(name, "auto") == 0) return ASSAY_ISA_AUTO;
    for (int i = 0; i < ASSAY_ISA_COUNT; i++)
        if (strcasecmp(name, k_isa_names[i]) == 0) return i;
    return -2;
}

assay_status assay__dispatch_select(assay_isa *isa, const assay_kernels **k) {
    pthread_once(&g_once, init_once);
    assay_isa want = *isa;
    if (want == ASSAY_ISA_AUTO) {
        int best = ASSAY_ISA_SCALAR;
        for (int i = 0; i < ASSAY_ISA_COUNT; i++)
            if (g_have & (1u << i)) best = i;
        int env = assay__isa_parse(getenv("ASSAY_ISA"));
        if (env == -2) return ASSAY_E_INVAL;
        /* The override may lower the choice, never raise it past what the CPU supports. */
        if (env != ASSAY_ISA_AUTO && (g_have & (1u << env))) best = env;
        want = (assay_isa)best;
    }
    const assay_kernels *t = assay__kernels_for(want);
    if (t == NULL) return ASSAY_E_UNSUPPORTED;
    *isa = want;
    *k = t;
    return ASSAY_OK;
}

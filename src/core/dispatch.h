/* SPDX-License-Identifier: Apache-2.0 */
/* CPU feature detection and the one-time choice of kernel tables. */
#ifndef ASSAY_DISPATCH_H
#define ASSAY_DISPATCH_H

#include <stddef.h>
#include "assay/assay_ctx.h"
#include "kernels.h"

enum {
    ASSAY__CPU_AVX2_FMA = 1u << 0,    /* AVX2 + FMA with YMM state enabled by the OS */
    ASSAY__CPU_AVX512 = 1u << 1,      /* AVX-512 F + VL + BW (what the kernels use), ZMM enabled */
    ASSAY__CPU_NEON = 1u << 2,        /* AArch64 Advanced SIMD */
    ASSAY__CPU_SVE = 1u << 3,         /* AArch64 SVE */
    ASSAY__CPU_AVX512_VNNI = 1u << 4, /* AVX-512 (as above) + VNNI (vpdpbusd) */
    ASSAY__CPU_AVX512_BF16 = 1u << 5  /* AVX-512 (as above) + BF16 (vdpbf16ps) */
};

/* Feature bits of the running CPU (detected once). */
unsigned assay__cpu_features(void);

/* Space-separated names of the detected features ("avx2 fma avx512f ..."), static. */
const char *assay__cpu_feature_names(void);

/* The kernel table for `isa`, or NULL if it is not built or not supported by this CPU. */
const assay_kernels *assay__kernels_for(assay_isa isa);

/* 1 if the kernels of `isa` were compiled into this library (whether or not this CPU runs them). */
int assay__isa_built(assay_isa isa);

/* Resolves *isa (AUTO: the best supported, lowered by the ASSAY_ISA environment variable) and
 * returns its table. ASSAY_E_UNSUPPORTED if an explicit ISA is not available, ASSAY_E_INVAL if
 * ASSAY_ISA names no ISA. */
assay_status assay__dispatch_select(assay_isa *isa, const assay_kernels **k);

/* Parses "scalar", "avx2", ... (case-insensitive); ASSAY_ISA_AUTO for "auto"/""; returns -2 for
 * an unknown name. */
int assay__isa_parse(const char *name);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* What we need from the BLAS library besides sgemm: the one owner of its thread count, and a
 * description. */
#include <stdio.h>

#include <string.h>

#include "core/internal.h"

#if ASSAY_HAVE_OPENBLAS
/* OpenBLAS extensions (declared in its cblas.h, repeated here so other BLAS headers work). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif

/* Work in progress that needs BLAS single-threaded, and the count to restore after it. */
static pthread_mutex_t g_single_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_single_holders;
#if ASSAY_HAVE_OPENBLAS
static int g_saved_threads;
#endif

void assay__blas_single_begin(void) {
    pthread_mutex_lock(&g_single_lock);
    if (g_single_holders++ == 0) {
#if ASSAY_HAVE_OPENBLAS
        g_saved_threads = openblas_get_num_threads();
        openblas_set_num_threads(1);
#endif
    }
    pthread_mutex_unlock(&g_single_lock);
}

void assay__blas_single_end(void) {
    pthread_mutex_lock(&g_single_lock);
    if (g_single_holders > 0 && --g_single_holders == 0) {
#if ASSAY_HAVE_OPENBLAS
        openblas_set_num_threads(g_saved_threads);
#endif
    }
    pthread_mutex_unlock(&g_single_lock);
}

int assay__blas_get_threads(void) {
#if ASSAY_HAVE_OPENBLAS
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

int assay_blas_threads(void) {
    return assay__blas_get_threads();
}

static char g_info[256];
static pthread_once_t g_info_once = PTHREAD_ONCE_INIT;

static void fill_info(void) {
#if ASSAY_HAVE_OPENBLAS
    snprintf(g_info, sizeof g_info, "%s; core %s", openblas_get_config(), openblas_get_corename());
#else
    snprintf(g_info, sizeof g_info, "BLAS without OpenBLAS extensions");
#endif
}

const char *assay_blas_info(void) {
    pthread_once(&g_info_once, fill_info);
    return g_info;
}

/* OpenBLAS picks its kernels by CPU model at load time and falls back to a generic pre-AVX core
 * (reported as Prescott, Core2, ...) for a model it does not know: then sgemm runs SSE code, 8x
 * slower than the CPU allows (measured: 9.9 against 77 GMAC/s with OPENBLAS_CORETYPE=SkylakeX,
 * bench/RESULTS.md). Our own reduced-precision kernels are then worth more. */
int assay__blas_generic_core(void) {
#if ASSAY_HAVE_OPENBLAS
    static const char *const generic[] = {"Prescott", "Core2",  "Penryn",     "Dunnington",
                                          "Nehalem",  "Katmai", "Coppermine", "Northwood",
                                          "Banias",   "Atom",   "Athlon",     "Opteron"};
    const char *core = openblas_get_corename();
    for (size_t i = 0; core != NULL && i < sizeof generic / sizeof generic[0]; i++)
        if (strcmp(core, generic[i]) == 0) return 1;
#endif
    return 0;
}

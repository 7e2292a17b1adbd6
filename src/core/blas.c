/* SPDX-License-Identifier: Apache-2.0 */
/* What we need from the BLAS library besides sgemm: its thread count and a description. */
#include <stdio.h>

#include "core/internal.h"

#if ASSAY_HAVE_OPENBLAS
/* OpenBLAS extensions (declared in its cblas.h, repeated here so other BLAS headers work). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif

int assay__blas_set_threads(int n) {
#if ASSAY_HAVE_OPENBLAS
    int old = openblas_get_num_threads();
    openblas_set_num_threads(n);
    return old;
#else
    (void)n;
    return 1;
#endif
}

int assay__blas_get_threads(void) {
#if ASSAY_HAVE_OPENBLAS
    return openblas_get_num_threads();
#else
    return 1;
#endif
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

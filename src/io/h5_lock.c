/* SPDX-License-Identifier: Apache-2.0 */
#include "io/h5_lock.h"

#include <pthread.h>

/* Not recursive: the regions do not nest, and a plain mutex can be re-initialised in a child. */
static pthread_mutex_t g_h5_lock = PTHREAD_MUTEX_INITIALIZER;

void assay__h5_lock(void) {
    pthread_mutex_lock(&g_h5_lock);
}

void assay__h5_unlock(void) {
    pthread_mutex_unlock(&g_h5_lock);
}

void assay__h5_lock_reset_in_child(void) {
    pthread_mutex_init(&g_h5_lock, NULL);
}

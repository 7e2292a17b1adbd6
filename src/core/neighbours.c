/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour lists (core/neighbours.h). */
#include <stdlib.h>
#include <string.h>

#include "core/neighbours.h"

void assay__graph_free(assay__graph *g) {
    if (g == NULL) return;
    free(g->ids);
    free(g->dist);
    memset(g, 0, sizeof *g);
}

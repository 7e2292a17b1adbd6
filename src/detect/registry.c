/* SPDX-License-Identifier: Apache-2.0 */
/* The detector registry: every line of ASSAY_DETECTOR_LIST (include/assay/assay_scan.h) joined
 * to the descriptor its module defines, in run order, and the public names and parsing of
 * detectors. Nothing else lists the detectors. */
#include <string.h>
#include <strings.h>

#include "detect/detector.h"

#define ASSAY__DESC_DECL(id, value, module, name, what)                                            \
    extern const assay__detector_desc assay__detector_##module;
ASSAY_DETECTOR_LIST(ASSAY__DESC_DECL)
#undef ASSAY__DESC_DECL

static const assay__detector k_run_order[] = {
#define ASSAY__ENTRY(id, value, module, name, what)                                                \
    {ASSAY_DET_##id, name, what, #module, &assay__detector_##module},
    ASSAY_DETECTOR_LIST(ASSAY__ENTRY)
#undef ASSAY__ENTRY
};
_Static_assert(sizeof k_run_order / sizeof k_run_order[0] == ASSAY_DET_COUNT,
               "one entry per detector");

/* Every value in [0, ASSAY_DET_COUNT), each once: a value out of range does not compile, and a
 * repeated one is a duplicate initializer (-Woverride-init, an error with -Werror). */
static const unsigned char k_values[ASSAY_DET_COUNT] = {
#define ASSAY__VALUE(id, value, module, name, what) [value] = 1,
    ASSAY_DETECTOR_LIST(ASSAY__VALUE)
#undef ASSAY__VALUE
};

const assay__detector *assay__detector_at(size_t i) {
    return i < ASSAY_DET_COUNT ? &k_run_order[i] : NULL;
}

const assay__detector *assay__detector_get(assay_detector id) {
    if (id < 0 || id >= ASSAY_DET_COUNT || !k_values[id]) return NULL;
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++)
        if (k_run_order[i].id == id) return &k_run_order[i];
    return NULL;
}

const char *assay_detector_name(assay_detector det) {
    const assay__detector *d = assay__detector_get(det);
    return d != NULL ? d->name : "unknown";
}

const char *assay_detector_about(assay_detector det) {
    const assay__detector *d = assay__detector_get(det);
    return d != NULL ? d->what : "";
}

assay_status assay_detector_parse(const char *name, assay_detector *out) {
    for (size_t i = 0; name != NULL && i < ASSAY_DET_COUNT; i++)
        if (strcasecmp(name, k_run_order[i].name) == 0) {
            *out = k_run_order[i].id;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

const char *const assay__kind_names[ASSAY__KIND_COUNT] = {
#define ASSAY__KIND_NAME(id, name) name,
    ASSAY__KINDS(ASSAY__KIND_NAME)
#undef ASSAY__KIND_NAME
};

int assay__kind_parse(const char *name) {
    for (int k = 0; name != NULL && k < ASSAY__KIND_COUNT; k++)
        if (strcmp(assay__kind_names[k], name) == 0) return k;
    return -1;
}

const char *assay__detector_kind_name(assay_detector id) {
    const assay__detector *d = assay__detector_get(id);
    return d != NULL ? assay__kind_names[d->desc->kind] : "unknown";
}

const char *assay__finding_reason(const assay__finding *f) {
    const assay__detector *d = assay__detector_get(f->det);
    if (d == NULL) return "unknown";
    const assay__detector_desc *desc = d->desc;
    if (desc->reason_of != NULL) return desc->reason_of(f);
    size_t n = 0;
    while (desc->reasons[n] != NULL) n++;
    return f->why >= 0 && (size_t)f->why < n ? desc->reasons[f->why] : desc->reasons[0];
}

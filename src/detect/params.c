/* SPDX-License-Identifier: Apache-2.0 */
/* The parameter table (src/scan/params.h) and its public accessors. */
#include <math.h>
#include <string.h>

#include "detect/params.h"

static const assay_param_info k_params[] = {
#define ASSAY__PARAM_INFO(id, name, det, def, lo, hi, integer, help)                               \
    {name, det, help, def, lo, hi, integer},
    ASSAY__PARAMS(ASSAY__PARAM_INFO)
#undef ASSAY__PARAM_INFO
};

_Static_assert(sizeof k_params / sizeof k_params[0] == ASSAY__P_COUNT, "table and ids agree");
_Static_assert(ASSAY__P_COUNT <= 64, "param_set has 64 bits");

size_t assay_param_count(void) {
    return ASSAY__P_COUNT;
}

const assay_param_info *assay_param_info_at(size_t i) {
    return i < ASSAY__P_COUNT ? &k_params[i] : NULL;
}

double assay_param_value(const assay_scan_opts *o, size_t i) {
    if (i >= ASSAY__P_COUNT) return NAN;
    if (o != NULL && (o->param_set >> i & 1u)) return o->param[i];
    return k_params[i].def;
}

double assay__param(const assay_scan_opts *o, assay__param_id id) {
    return assay_param_value(o, (size_t)id);
}

assay_status assay_param_set(assay_scan_opts *o, const char *name, double value) {
    if (o == NULL || name == NULL) return ASSAY_E_INVAL;
    for (size_t i = 0; i < ASSAY__P_COUNT; i++) {
        const assay_param_info *p = &k_params[i];
        if (strcmp(p->name, name) != 0) continue;
        if (!(value >= p->min && value <= p->max)) return ASSAY_E_INVAL;
        if (p->integer && value != floor(value)) return ASSAY_E_INVAL;
        o->param[i] = value;
        o->param_set |= (uint64_t)1 << i;
        return ASSAY_OK;
    }
    return ASSAY_E_INVAL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Names of severities and metrics: one table each, shared by parsing and printing. (Detector
 * names come from the detector list: src/detect/registry.c.) */
#include <strings.h>

#include "core/internal.h"

static const char *const k_severity_names[] = {"none", "low", "medium", "high", "critical"};
static const char *const k_metric_names[] = {"cosine", "l2"};
static const char *const k_graph_method_names[] = {"exact", "approx"};
#define N_SEVERITIES (sizeof k_severity_names / sizeof k_severity_names[0])
#define N_METRICS    (sizeof k_metric_names / sizeof k_metric_names[0])
#define N_METHODS    (sizeof k_graph_method_names / sizeof k_graph_method_names[0])

const char *assay_severity_name(assay_severity sev) {
    return (sev >= 0 && (size_t)sev < N_SEVERITIES) ? k_severity_names[sev] : "unknown";
}

const char *assay_metric_name(assay_metric m) {
    return (m >= 0 && (size_t)m < N_METRICS) ? k_metric_names[m] : "unknown";
}

assay_status assay_severity_parse(const char *name, assay_severity *out) {
    for (size_t i = 0; name != NULL && i < N_SEVERITIES; i++)
        if (strcasecmp(name, k_severity_names[i]) == 0) {
            *out = (assay_severity)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

assay_status assay_metric_parse(const char *name, assay_metric *out) {
    for (size_t i = 0; name != NULL && i < N_METRICS; i++)
        if (strcasecmp(name, k_metric_names[i]) == 0) {
            *out = (assay_metric)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

const char *assay_graph_method_name(assay_graph_method m) {
    return ((int)m >= 0 && (size_t)m < N_METHODS) ? k_graph_method_names[m] : "unknown";
}

assay_status assay_graph_method_parse(const char *name, assay_graph_method *out) {
    for (size_t i = 0; name != NULL && i < N_METHODS; i++)
        if (strcasecmp(name, k_graph_method_names[i]) == 0) {
            *out = (assay_graph_method)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

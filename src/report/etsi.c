/* SPDX-License-Identifier: Apache-2.0 */
/* The ETSI EN 304 223 provision table: data in etsi-en-304-223.json (embedded at build time),
 * parsed per report and checked, so a wrong designator is a one-line data fix. */
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

extern const char assay__etsi_json[];
extern const size_t assay__etsi_json_len;

assay_status assay__etsi_load(assay_ctx *ctx, json_t **out) {
    json_error_t err;
    json_t *root = json_loadb(assay__etsi_json, assay__etsi_json_len, 0, &err);
    if (root == NULL)
        return assay__fail(ctx, ASSAY_E_INTERNAL, "ETSI table: line %d: %s", err.line, err.text);
    json_t *prov = json_object_get(root, "provisions"), *ev = json_object_get(root, "evidence");
    if (!json_is_object(prov) || !json_is_object(ev)) {
        json_decref(root);
        return assay__fail(ctx, ASSAY_E_INTERNAL, "ETSI table: missing provisions or evidence");
    }
    const char *key;
    json_t *val;
    json_object_foreach(ev, key, val) {
        static const char *const roles[] = {"primary", "supporting"};
        for (int r = 0; r < 2; r++) {
            size_t i;
            json_t *id;
            json_array_foreach(json_object_get(val, roles[r]), i, id) {
                if (!json_is_string(id) || !json_object_get(prov, json_string_value(id))) {
                    json_decref(root);
                    return assay__fail(ctx, ASSAY_E_INTERNAL,
                                       "ETSI table: evidence '%s' cites an unknown provision", key);
                }
            }
        }
    }
    *out = root;
    return ASSAY_OK;
}

json_t *assay__etsi_refs(const json_t *etsi, const char *key) {
    json_t *out = json_array();
    const json_t *prov = json_object_get(etsi, "provisions");
    const json_t *ev = json_object_get(json_object_get(etsi, "evidence"), key);
    const char *prefix = json_string_value(json_object_get(etsi, "cite_prefix"));
    static const char *const roles[] = {"primary", "supporting"};
    for (int r = 0; ev != NULL && r < 2; r++) {
        size_t i;
        const json_t *id;
        json_array_foreach(json_object_get(ev, roles[r]), i, id) {
            const char *ids = json_string_value(id);
            const json_t *p = json_object_get(prov, ids);
            char cite[64];
            snprintf(cite, sizeof cite, "%s%s", prefix ? prefix : "", ids);
            json_array_append_new(out, json_pack("{s:s, s:s, s:O, s:s, s:O}", "id", ids, "cite",
                                                 cite, "level", json_object_get(p, "level"), "role",
                                                 roles[r], "title", json_object_get(p, "title")));
        }
    }
    return out;
}

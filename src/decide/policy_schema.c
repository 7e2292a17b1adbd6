/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON Schema of a policy file (schemas/assay-policy-1.schema.json), generated from the
 * tables the policy itself is read with: the option table (every key, its flag, variable, help
 * and default), the key resolver (types and ranges), the detector list and the finding kinds.
 * `assay policy schema` prints it; a test checks the committed schema is this output, so a new
 * detector or parameter reaches the schema without editing it by hand. */
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "decide/policy_internal.h"

static const char k_ref_detector[] = "#/$defs/detector";

/* "help (--flag, ASSAY_FLAG; default X)" */
static json_t *describe(const assay_policy_option *o, const char *help) {
    char buf[1024];
    int u = snprintf(buf, sizeof buf, "%s (--%s, %s", help, o->name, o->env);
    if (u > 0 && (size_t)u < sizeof buf && o->def != NULL)
        u += snprintf(buf + u, sizeof buf - (size_t)u, "; default %s", o->def);
    if (u > 0 && (size_t)u < sizeof buf) snprintf(buf + u, sizeof buf - (size_t)u, ")");
    return json_string(buf);
}

static json_t *enum_of(const char *const *names, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(names[i]));
    return json_pack("{s:o}", "enum", a);
}

/* The schema of one key's value, from its type and range. */
static json_t *value_schema(const char *key) {
    assay__vtype type;
    double lo = 0, hi = 0;
    int lo_open = 0;
    if (assay__policy_key_type(key, &type, &lo, &hi, &lo_open) != 0) return json_object();
    switch (type) {
    case ASSAY__V_INT:
        return json_pack("{s:s, s:I, s:I}", "type", "integer", "minimum", (json_int_t)lo, "maximum",
                         (json_int_t)hi);
    case ASSAY__V_NUM:
        return json_pack("{s:s, s:f, s:f}", "type", "number",
                         lo_open ? "exclusiveMinimum" : "minimum", lo, "maximum", hi);
    case ASSAY__V_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case ASSAY__V_METRIC: {
        const char *names[] = {assay_metric_name(ASSAY_METRIC_COSINE),
                               assay_metric_name(ASSAY_METRIC_L2)};
        return enum_of(names, 2);
    }
    case ASSAY__V_SEV:
        return json_pack("{s:s}", "$ref", "#/$defs/severityOrNone");
    case ASSAY__V_SEV_SOME:
        return json_pack("{s:s}", "$ref", "#/$defs/severity");
    case ASSAY__V_DETLIST:
        return json_pack("{s:s, s:{s:s}, s:b}", "type", "array", "items", "$ref", k_ref_detector,
                         "uniqueItems", 1);
    case ASSAY__V_KINDLIST:
        return json_pack("{s:s, s:o, s:b}", "type", "array", "items",
                         enum_of(assay__kind_names, ASSAY__KIND_COUNT), "uniqueItems", 1);
    case ASSAY__V_SIZE:
        return json_pack("{s:[{s:s, s:I, s:f}, {s:s, s:s}]}", "oneOf", "type", "integer", "minimum",
                         (json_int_t)lo, "maximum", hi, "type", "string", "pattern",
                         "^[0-9]+(\\.[0-9]+)?[KMGTkmgt](i?B)?$");
    default: /* the allowlist: entries (a file only on the command line) */
        return json_pack("{s:s, s:{s:s}}", "type", "array", "items", "$ref", "#/$defs/allowEntry");
    }
}

/* The option whose key is `key` (its dotted form, "%s" standing for a detector or class). */
static const assay_policy_option *option_of(const char *key) {
    for (size_t i = 0; i < assay_policy_option_count(); i++)
        if (strcmp(assay_policy_option_at(i)->key, key) == 0) return assay_policy_option_at(i);
    return NULL;
}

/* One block ("scan", "gate") of the file: every option whose key starts with prefix. */
static json_t *block(const char *prefix, const char *description) {
    json_t *props = json_object();
    size_t lp = strlen(prefix);
    for (size_t i = 0; i < assay_policy_option_count(); i++) {
        const assay_policy_option *o = assay_policy_option_at(i);
        if (strncmp(o->key, prefix, lp) != 0 || strchr(o->key + lp, '%') != NULL) continue;
        json_t *v = value_schema(o->key);
        json_object_set_new(v, "description", describe(o, o->help));
        json_object_set_new(props, o->key + lp, v);
    }
    return json_pack("{s:s, s:b, s:s, s:o}", "type", "object", "additionalProperties", 0,
                     "description", description, "properties", props);
}

static json_t *detector_settings(void) {
    static const char *const fields[] = {"enabled", "threshold", "severity"};
    json_t *props = json_object();
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        char key[64], probe[96];
        snprintf(key, sizeof key, "detectors.%%s.%s", fields[f]);
        snprintf(probe, sizeof probe, "detectors.%s.%s", assay_detector_name((assay_detector)0),
                 fields[f]);
        const assay_policy_option *o = option_of(key);
        json_t *v = value_schema(probe);
        if (o != NULL) json_object_set_new(v, "description", describe(o, o->help));
        json_object_set_new(props, fields[f], v);
    }
    return json_pack("{s:s, s:b, s:o}", "type", "object", "additionalProperties", 0, "properties",
                     props);
}

static json_t *allow_entry(void) {
    return json_pack(
        "{s:s, s:b, s:[s,s,s], s:[{s:[s]},{s:[s]}], s:{s:{s:[s,s], s:s}, s:{s:s, s:s, s:s}, "
        "s:{s:s, s:i}, s:{s:s, s:i}, s:{s:s, s:s, s:s, s:s}}}",
        "type", "object", "additionalProperties", 0, "required", "reason", "owner", "expires",
        "oneOf", "required", "id", "required", "row-sha256", "properties", "id", "type", "string",
        "integer", "description", "the row id", "row-sha256", "type", "string", "pattern",
        "^[0-9a-fA-F]{64}$", "description", "the row digest (report.json findings[].row_sha256)",
        "reason", "type", "string", "minLength", 1, "owner", "type", "string", "minLength", 1,
        "expires", "type", "string", "format", "date", "pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "description", "from this UTC day on the entry no longer counts");
}

json_t *assay__policy_schema(void) {
    json_t *schema = json_object();
    json_object_set_new(schema, "$schema",
                        json_string("https://json-schema.org/draft/2020-12/schema"));
    /* a URN: an identifier no validator tries to download (docs/reports.md) */
    json_object_set_new(schema, "$id", json_string("urn:assay:schema:policy:1"));
    json_object_set_new(schema, "title", json_string("assay policy, version 1"));
    json_object_set_new(
        schema, "description",
        json_string("The gate policy of 'assay scan --policy FILE' (YAML, checked as JSON: "
                    "'assay policy show' prints the effective policy). Every key but version is "
                    "optional; every key is also a flag and an ASSAY_* variable "
                    "(docs/policy.md). Generated by 'assay policy schema' from the option and "
                    "detector tables."));
    json_object_set_new(schema, "type", json_string("object"));
    json_object_set_new(schema, "additionalProperties", json_false());
    json_object_set_new(schema, "required", json_pack("[s]", "version"));

    json_t *props = json_object();
    json_object_set_new(props, "version", json_pack("{s:i}", "const", ASSAY__POLICY_VERSION));
    json_object_set_new(props, "scan",
                        block("scan.", "scan settings and detector parameters, as the flags of "
                                       "'assay scan'"));
    json_t *dets = json_object();
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++)
        json_object_set_new(dets, assay_detector_name((assay_detector)i),
                            json_pack("{s:s}", "$ref", "#/$defs/detectorSettings"));
    json_object_set_new(props, "detectors",
                        json_pack("{s:s, s:b, s:o}", "type", "object", "additionalProperties", 0,
                                  "properties", dets));
    json_t *gate = block("gate.", "the verdict: what fails and what warns");
    const assay_policy_option *cb = option_of("gate.class-budgets.%s");
    json_t *budgets =
        json_pack("{s:s, s:{s:s, s:i, s:i}, s:{s:i}}", "type", "object", "additionalProperties",
                  "type", "number", "minimum", 0, "maximum", 1, "propertyNames", "minLength", 1);
    if (cb != NULL) json_object_set_new(budgets, "description", describe(cb, cb->help));
    json_object_set_new(json_object_get(gate, "properties"), "class-budgets", budgets);
    json_object_set_new(props, "gate", gate);
    const assay_policy_option *al = option_of("allowlist");
    json_t *allow = value_schema("allowlist");
    if (al != NULL)
        json_object_set_new(allow, "description",
                            describe(al, "accepted rows: reported with allowlisted: true, not "
                                         "counted by the gate, until they expire"));
    json_object_set_new(props, "allowlist", allow);
    json_object_set_new(props, "limits",
                        block("limits.", "bounds on every input (docs/limits.md): a larger input "
                                         "is refused with exit 2 naming the limit"));
    json_object_set_new(schema, "properties", props);

    const char *names[ASSAY_DET_COUNT];
    for (int d = 0; d < ASSAY_DET_COUNT; d++) names[d] = assay_detector_name((assay_detector)d);
    const char *sev[5];
    for (int s = ASSAY_SEV_LOW; s <= ASSAY_SEV_CRITICAL; s++)
        sev[s - 1] = assay_severity_name((assay_severity)s);
    sev[4] = assay_severity_name(ASSAY_SEV_NONE);
    json_t *defs = json_object();
    json_object_set_new(defs, "detector", enum_of(names, ASSAY_DET_COUNT));
    json_object_set_new(defs, "severity", enum_of(sev, 4));
    json_object_set_new(defs, "severityOrNone", enum_of(sev, 5));
    json_object_set_new(defs, "detectorSettings", detector_settings());
    json_object_set_new(defs, "allowEntry", allow_entry());
    json_object_set_new(schema, "$defs", defs);
    return schema;
}

assay_status assay_policy_schema_json(assay_ctx *ctx, char **out) {
    if (out == NULL) return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_schema_json: NULL");
    json_t *schema = assay__policy_schema();
    *out = assay__json_dumps(schema, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(schema);
    if (*out == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy schema)");
    return ASSAY_OK;
}

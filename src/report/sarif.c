/* SPDX-License-Identifier: Apache-2.0 */
/* report.sarif: SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab via converters, Azure
 * DevOps, DefectDojo). One rule per finding kind, ETSI EN 304 223 as a taxonomy the rules relate
 * to, one result per flagged row and kind located in the input file (CSV line, .npy byte range,
 * HDF5 logical location), and dataset-level results (significant tests, a failed gate) on the
 * dataset file itself, since GitHub rejects an upload with a location-less result. When more
 * rows are flagged than a dashboard can show, rows are aggregated into one result per kind whose
 * related locations are the most suspicious rows; findings.jsonl keeps the full list. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/outfile.h"
#include "report/render.h"

#define TAXONOMY_NAME "ETSI EN 304 223"
/* GitHub: at most 25,000 results per run and 1,000 locations per result. */
#define MAX_RESULTS      25000
#define MAX_RELATED      1000
#define MAX_TEST_RESULTS 1000

/* One rule per finding kind, then the gate. Ids are stable: dashboards key alerts on them. */
typedef struct rule_text {
    const char *kind, *id, *name, *short_text, *full_text, *help, *default_severity;
} rule_text;

static const rule_text k_rules[] = {
    {"label", "ASSAY-LABEL", "LabelInconsistency",
     "Label inconsistent with the row's neighbourhood (possible label flipping)",
     "The row's label disagrees with the labels of its nearest neighbours in embedding space, or "
     "confident learning or data valuation marks it as mislabelled. Label-flipping poisoning "
     "produces such rows; so does honest annotation noise.",
     "Check the row's label against its source and relabel or remove it before training. "
     "findings.jsonl gives the suggested label and the evidence.",
     "medium"},
    {"outlier", "ASSAY-OUTLIER", "EmbeddingOutlier",
     "Row far from the rest of the data in embedding space",
     "The row lies far from its neighbours, from its class (Mahalanobis distance) or in the tails "
     "of the features (ECOD). Injected or corrupted rows often do; so do rare but valid examples.",
     "Review the row: keep it if it is a valid rare example, remove it if it does not belong to "
     "the data set.",
     "low"},
    {"duplicate", "ASSAY-DUPLICATE", "DuplicateRow",
     "Row duplicated exactly or nearly, possibly with a conflicting label",
     "The row's features repeat another row's (exactly, or within the near-duplicate radius). "
     "Copies with different labels are a strong sign of label poisoning; plain copies bias "
     "training.",
     "Keep one copy with the correct label; findings.jsonl names the other row of the group.",
     "high"},
    {"integrity", "ASSAY-INTEGRITY", "InvalidRow",
     "Row is not valid data (non-finite, overflowing, all-zero or undeclared label)",
     "The row has non-finite or overflowing values, is an all-zero vector, or carries a label "
     "outside the declared label set. Such rows are left out of the neighbour graph.",
     "Fix or remove the row at its source; a pipeline bug usually produces many at once.",
     "medium"},
    {"backdoor", "ASSAY-BACKDOOR", "BackdoorSignature",
     "Row in a separated sub-population inside its class (backdoor signature)",
     "Spectral signatures, SPECTRE or activation clustering found a small sub-population inside "
     "the row's class, separated from the rest: the footprint of a backdoor (trigger) attack.",
     "Inspect the rows of the sub-population together (a shared trigger pattern); remove them "
     "and re-scan.",
     "high"},
    {"distribution", "ASSAY-DISTRIBUTION", "DistributionAnomaly",
     "Data-set level distribution anomaly (row order, class balance)",
     "The rows are not in random order (a block of appended rows) or a class is under-represented "
     "against the declared or baseline distribution.",
     "Find where the rows came from (an appended batch, a filtered class) before training.",
     "medium"},
    {"tampering", "ASSAY-TAMPERING", "RowTampered",
     "Row changed since the baseline (same id, different content)",
     "Compared with the baseline manifest, the row keeps its id but its features or label "
     "changed: silent tampering of accepted training data.",
     "Confirm the change with the data's owner; restore the baseline row if it was not intended.",
     "high"},
    {"drift", "ASSAY-DRIFT", "DistributionDrift", "Class distribution drifted from the baseline",
     "Against the baseline, a class's centroid or score distribution moved, or the class counts "
     "shifted beyond chance.",
     "Check whether the new data is expected to differ from the baseline; re-baseline if so.",
     "medium"},
    {"gate", "ASSAY-GATE", "GateFailed", "The data set failed assay's gate",
     "The scan's gate failed: a significant test against \"no poison\", findings at or above the "
     "fail-on severity, or more flagged rows than the budget allows.",
     "Read the gate's reason in report.json and the findings; fix the data or record accepted "
     "rows in the policy's allowlist.",
     "high"},
};
enum { N_RULES = sizeof k_rules / sizeof k_rules[0], GATE_RULE = N_RULES - 1 };

/* SARIF level and GitHub's security-severity ("0.0".."10.0": >= 9 critical, >= 7 high, >= 4
 * medium, else low) of a severity. */
static const char *level_of(int rank) {
    return rank >= 3 ? "error" : rank == 2 ? "warning" : "note";
}
static const char *security_severity_of(int rank) {
    static const char *const v[] = {"0.0", "2.5", "5.0", "7.5", "9.5"};
    return v[rank < 0 ? 0 : rank > 4 ? 4 : rank];
}

static const char *severity_name(int rank) {
    static const char *const names[] = {"none", "low", "medium", "high", "critical"};
    return names[rank < 0 ? 0 : rank > 4 ? 4 : rank];
}

static int rule_of_kind(const char *kind) {
    for (int i = 0; kind != NULL && i < GATE_RULE; i++)
        if (strcmp(k_rules[i].kind, kind) == 0) return i;
    return -1;
}

static const char *str(const json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

static assay_status check_doc(assay_ctx *ctx, const json_t *doc, const char *path) {
    assay_status s = ASSAY_OK;
    const json_t *input = json_object_get(doc, "input");
    assay__doc_need(ctx, &s, path, doc, "top level", "input", JSON_OBJECT);
    assay__doc_need(ctx, &s, path, doc, "top level", "findings", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "detectors", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "tests", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "gate", JSON_OBJECT);
    assay__doc_need(ctx, &s, path, doc, "top level", "tool", JSON_OBJECT);
    assay__doc_need(ctx, &s, path, input, "input", "path", JSON_STRING);
    assay__doc_need(ctx, &s, path, input, "input", "files", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, json_object_get(doc, "gate"), "gate", "verdict", JSON_STRING);
    size_t i;
    const json_t *f;
    char where[64];
    json_array_foreach(json_object_get(doc, "tests"), i, f) {
        snprintf(where, sizeof where, "tests[%zu]", i);
        assay__doc_need(ctx, &s, path, f, where, "detector", JSON_STRING);
        if (s != ASSAY_OK) break;
    }
    return s;
}

/* ---- small text helpers ---- */

/* A URI reference for a file path as given: percent-encoded; relative paths stay relative (the
 * caller adds uriBaseId %SRCROOT%), absolute ones become file:// URIs. */
static json_t *uri_of(const char *p, int *relative) {
    size_t n = strlen(p);
    *relative = p[0] != '/';
    char *buf = malloc(3 * n + 8);
    if (buf == NULL) return NULL;
    size_t o = 0;
    if (!*relative) {
        memcpy(buf, "file://", 7);
        o = 7;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~/", *c) != NULL) {
            buf[o++] = (char)*c;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*c >> 4];
            buf[o++] = hex[*c & 15];
        }
    }
    buf[o] = '\0';
    json_t *j = json_string(buf);
    free(buf);
    return j;
}

/* Shell-quoted command line from the argument list (for the invocation). */
static json_t *command_line(const json_t *args) {
    size_t cap = 64, len = 0, i;
    const json_t *a;
    json_array_foreach(args, i, a) cap +=
        4 * strlen(json_string_value(a) ? json_string_value(a) : "") + 3;
    char *buf = malloc(cap);
    if (buf == NULL) return NULL;
    json_array_foreach(args, i, a) {
        const char *s = json_string_value(a) ? json_string_value(a) : "";
        if (i > 0) buf[len++] = ' ';
        int plain = s[0] != '\0';
        for (const char *c = s; *c; c++)
            plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || strchr("-_./=:,+@%", *c) != NULL;
        if (plain) {
            memcpy(buf + len, s, strlen(s));
            len += strlen(s);
            continue;
        }
        buf[len++] = '\'';
        for (const char *c = s; *c; c++) {
            if (*c == '\'') {
                memcpy(buf + len, "'\\''", 4);
                len += 4;
            } else {
                buf[len++] = *c;
            }
        }
        buf[len++] = '\'';
    }
    buf[len] = '\0';
    json_t *j = json_string(buf);
    free(buf);
    return j;
}

/* ---- the pieces of the log ---- */

typedef struct sarif_ctx {
    const json_t *doc;
    assay__findings *fs;
    json_t *taxa;                 /* the taxonomy's taxa, in first-cited order */
    json_t *file_loc;             /* artifactLocation of the input file */
    int rule_sev[N_RULES];        /* highest severity seen per rule (-1: none) */
    size_t n_rows, n_row_results; /* flagged rows, and (row, kind) pairs */
    /* per rule, the findings' distinct "etsi" lists in first-seen order: what the rule's
     * relationships are made of, without holding every finding */
    json_t *finding_refs[N_RULES];
} sarif_ctx;

/* Index of provision `ref` in the taxa (added when new). */
static size_t taxon_index(sarif_ctx *sc, const json_t *ref) {
    const char *id = str(ref, "id");
    size_t i;
    const json_t *t;
    json_array_foreach(sc->taxa, i, t) if (strcmp(str(t, "id"), id) == 0) return i;
    const char *title = str(ref, "title") ? str(ref, "title") : id;
    json_t *taxon = json_pack("{s:s, s:s, s:{s:s}, s:{s:s*, s:s*}}", "id", id, "name", title,
                              "shortDescription", "text", title, "properties", "level",
                              str(ref, "level"), "cite", str(ref, "cite"));
    json_array_append_new(sc->taxa, taxon);
    return json_array_size(sc->taxa) - 1;
}

/* Relationship list of a rule: the provisions in `refs` lists (deduplicated, primary wins). */
static void add_relationships(sarif_ctx *sc, json_t *rels, const json_t *refs) {
    size_t i, j;
    const json_t *r;
    json_array_foreach(refs, i, r) {
        const char *id = str(r, "id");
        if (id == NULL) continue;
        size_t ti = taxon_index(sc, r);
        int primary = str(r, "role") != NULL && strcmp(str(r, "role"), "primary") == 0;
        json_t *have = NULL, *e;
        json_array_foreach(rels, j, e) {
            if (strcmp(str(json_object_get(e, "target"), "id"), id) == 0) have = e;
        }
        if (have != NULL) {
            if (primary)
                json_object_set_new(json_object_get(have, "properties"), "role",
                                    json_string("primary"));
            continue;
        }
        json_array_append_new(
            rels, json_pack("{s:{s:s, s:I, s:{s:s, s:i}}, s:[s], s:{s:s, s:s*}}", "target", "id",
                            id, "index", (json_int_t)ti, "toolComponent", "name", TAXONOMY_NAME,
                            "index", 0, "kinds", "relevant", "properties", "role",
                            primary ? "primary" : "supporting", "level", str(r, "level")));
    }
}

static json_t *rules_json(sarif_ctx *sc) {
    const json_t *doc = sc->doc;
    json_t *rules = json_array();
    for (int k = 0; k < N_RULES; k++) {
        const rule_text *t = &k_rules[k];
        json_t *rels = json_array();
        size_t i;
        const json_t *d;
        if (k == GATE_RULE) {
            add_relationships(sc, rels, json_object_get(json_object_get(doc, "gate"), "etsi"));
        } else {
            json_array_foreach(json_object_get(doc, "detectors"), i, d) {
                if (str(d, "kind") && strcmp(str(d, "kind"), t->kind) == 0)
                    add_relationships(sc, rels, json_object_get(d, "etsi"));
            }
            json_array_foreach(sc->finding_refs[k], i, d) add_relationships(sc, rels, d);
        }
        int sev = sc->rule_sev[k] >= 0 ? sc->rule_sev[k] : assay__doc_severity(t->default_severity);
        char help[1024];
        snprintf(help, sizeof help, "%s Full list of flagged rows with evidence: findings.jsonl.",
                 t->help);
        json_t *r = json_pack(
            "{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:[s, s, s]}}", "id", t->id,
            "name", t->name, "shortDescription", "text", t->short_text, "fullDescription", "text",
            t->full_text, "help", "text", help, "defaultConfiguration", "level", level_of(sev),
            "properties", "security-severity", security_severity_of(sev), "tags", "security",
            "data-poisoning", t->kind);
        if (json_array_size(rels) > 0)
            json_object_set_new(r, "relationships", rels);
        else
            json_decref(rels);
        json_array_append_new(rules, r);
    }
    return rules;
}

/* physicalLocation (+ logical location) of a finding's "location"; with_region 0 for the file. */
static json_t *row_location(const sarif_ctx *sc, const json_t *loc, int with_region) {
    json_t *phys = json_pack("{s:O}", "artifactLocation", sc->file_loc);
    json_t *region = json_object();
    if (with_region) {
        const json_t *line = json_object_get(loc, "line");
        const json_t *off = json_object_get(loc, "byte_offset");
        const json_t *len = json_object_get(loc, "byte_length");
        if (json_is_integer(line)) json_object_set(region, "startLine", (json_t *)line);
        if (json_is_integer(off) && json_is_integer(len)) {
            json_object_set(region, "byteOffset", (json_t *)off);
            json_object_set(region, "byteLength", (json_t *)len);
        }
    }
    if (json_object_size(region) > 0)
        json_object_set_new(phys, "region", region);
    else
        json_decref(region);
    json_t *l = json_pack("{s:o}", "physicalLocation", phys);
    const char *logical = str(loc, "logical");
    if (logical != NULL)
        json_object_set_new(
            l, "logicalLocations",
            json_pack("[{s:s, s:s}]", "fullyQualifiedName", logical, "kind", "element"));
    return l;
}

/* The dataset file itself, for dataset-level results. */
static json_t *file_location(const sarif_ctx *sc) {
    return json_pack("{s:{s:O}}", "physicalLocation", "artifactLocation", sc->file_loc);
}

/* One row's findings of one kind: findings[first..end) of that row, filtered by kind. */
typedef struct row_kind {
    size_t first, end; /* the row's findings */
    const char *kind;
    int sev; /* highest severity among the row's findings of this kind */
} row_kind;

static json_t *row_result(const sarif_ctx *sc, assay__findings *findings, const row_kind *rk,
                          int rule) {
    const json_t *f0 = assay__findings_at(findings, rk->first);
    char idb[64], lab[64], head[512];
    json_int_t row = json_integer_value(json_object_get(f0, "index"));
    snprintf(head, sizeof head, "Row %lld (id %s, label %s): ", (long long)row,
             assay__doc_scalar_text(json_object_get(f0, "id"), idb, sizeof idb),
             assay__doc_scalar_text(json_object_get(f0, "label"), lab, sizeof lab));
    size_t cap = strlen(head) + 16;
    for (size_t i = rk->first; i < rk->end; i++)
        cap += strlen(str(assay__findings_at(findings, i), "explanation")) + 64;
    char *text = malloc(cap);
    if (text == NULL) return NULL;
    size_t len = (size_t)snprintf(text, cap, "%s", head);
    json_t *dets = json_array();
    int n = 0;
    for (size_t i = rk->first; i < rk->end; i++) {
        const json_t *f = assay__findings_at(findings, i);
        if (strcmp(str(f, "kind"), rk->kind) != 0) continue;
        len += (size_t)snprintf(text + len, cap - len, "%s%s (%s)", n++ ? "; " : "",
                                str(f, "explanation"), str(f, "detector"));
        json_array_append_new(dets, json_string(str(f, "detector")));
    }
    snprintf(text + len, cap - len, ".");
    char fp[80];
    snprintf(fp, sizeof fp, "%.32s:%s", str(f0, "row_sha256"), rk->kind);
    const json_t *score = json_object_get(f0, "score");
    json_t *res = json_pack(
        "{s:s, s:i, s:s, s:{s:s}, s:[o], s:{s:s}, s:{s:I, s:O, s:O, s:O*, s:O*, s:s, s:o, "
        "s:O*, s:s}}",
        "ruleId", k_rules[rule].id, "ruleIndex", rule, "level", level_of(rk->sev), "message",
        "text", text, "locations", row_location(sc, json_object_get(f0, "location"), 1),
        "partialFingerprints", "assayRowHash/v1", fp, "properties", "row", row, "id",
        json_object_get(f0, "id"), "label", json_object_get(f0, "label"), "class",
        json_object_get(f0, "class"), "score", score, "severity", severity_name(rk->sev),
        "detectors", dets, "suggested_label", json_object_get(f0, "suggested_label"), "row_sha256",
        str(f0, "row_sha256"));
    free(text);
    if (res != NULL && json_is_number(score)) {
        double rank = json_number_value(score) * 100.0;
        json_object_set_new(res, "rank", json_real(rank < 0 ? 0 : rank > 100 ? 100 : rank));
    }
    const json_t *al = json_object_get(f0, "allowlisted");
    if (res != NULL && json_is_boolean(al))
        json_object_set(json_object_get(res, "properties"), "allowlisted", (json_t *)al);
    return res;
}

/* Per row and kind, in rank order: calls back for each; the row groups are found by "index". */
typedef int (*row_kind_fn)(void *user, const row_kind *rk);

static int for_each_row_kind(assay__findings *findings, row_kind_fn fn, void *user) {
    size_t n = assay__findings_count(findings);
    for (size_t first = 0, end; first < n; first = end) {
        end = assay__doc_row_end(findings, first);
        for (size_t i = first; i < end; i++) {
            const char *kind = str(assay__findings_at(findings, i), "kind");
            int earlier = 0;
            for (size_t j = first; j < i; j++)
                earlier |= strcmp(str(assay__findings_at(findings, j), "kind"), kind) == 0;
            if (earlier) continue;
            row_kind rk = {first, end, kind, 0};
            for (size_t j = i; j < end; j++) {
                const json_t *f = assay__findings_at(findings, j);
                int s = assay__doc_severity(str(f, "severity"));
                if (strcmp(str(f, "kind"), kind) == 0 && s > rk.sev) rk.sev = s;
            }
            if (!fn(user, &rk)) return 0;
        }
    }
    return 1;
}

typedef struct emit_state {
    sarif_ctx *sc;
    assay__findings *findings;
    json_t *results;
    int ok;
} emit_state;

static int emit_cb(void *user, const row_kind *rk) {
    emit_state *e = user;
    int rule = rule_of_kind(rk->kind);
    if (rule < 0) return 1; /* a kind this version has no rule for: findings.jsonl has it */
    json_t *r = row_result(e->sc, e->findings, rk, rule);
    if (r == NULL) return e->ok = 0;
    json_array_append_new(e->results, r);
    return 1;
}

/* Aggregated mode: per kind, the rows (in rank order) and their count per severity. */
typedef struct agg_state {
    sarif_ctx *sc;
    assay__findings *findings;
    size_t rows[N_RULES];
    size_t by_sev[N_RULES][5];
    json_t *related[N_RULES];
} agg_state;

static int agg_cb(void *user, const row_kind *rk) {
    agg_state *a = user;
    int rule = rule_of_kind(rk->kind);
    if (rule < 0) return 1;
    a->rows[rule]++;
    a->by_sev[rule][rk->sev]++;
    if (json_array_size(a->related[rule]) < MAX_RELATED) {
        const json_t *f0 = assay__findings_at(a->findings, rk->first);
        json_t *l = row_location(a->sc, json_object_get(f0, "location"), 1);
        char idb[64], text[160];
        snprintf(text, sizeof text, "row %lld (id %s), score %.3g, severity %s",
                 (long long)json_integer_value(json_object_get(f0, "index")),
                 assay__doc_scalar_text(json_object_get(f0, "id"), idb, sizeof idb),
                 json_number_value(json_object_get(f0, "score")), severity_name(rk->sev));
        json_object_set_new(l, "id", json_integer((json_int_t)json_array_size(a->related[rule])));
        json_object_set_new(l, "message", json_pack("{s:s}", "text", text));
        json_array_append_new(a->related[rule], l);
    }
    return 1;
}

static void aggregate_results(sarif_ctx *sc, assay__findings *findings, json_t *results,
                              size_t aggregate_above) {
    agg_state a;
    memset(&a, 0, sizeof a);
    a.sc = sc;
    a.findings = findings;
    for (int k = 0; k < N_RULES; k++) a.related[k] = json_array();
    for_each_row_kind(findings, agg_cb, &a);
    for (int k = 0; k < N_RULES; k++) {
        if (a.rows[k] == 0) {
            json_decref(a.related[k]);
            continue;
        }
        int top = 0;
        char counts[160] = "";
        size_t len = 0;
        for (int s = 4; s >= 1; s--) {
            if (a.by_sev[k][s] == 0) continue;
            if (top == 0) top = s;
            len += (size_t)snprintf(counts + len, sizeof counts - len, "%s%zu %s", len ? ", " : "",
                                    a.by_sev[k][s], severity_name(s));
        }
        char text[768];
        snprintf(text, sizeof text,
                 "%zu rows flagged as %s (%s). More than %zu rows are flagged in all, so they are "
                 "reported as one result per rule: the %zu most suspicious are the related "
                 "locations, and the full list with evidence is in findings.jsonl.",
                 a.rows[k], k_rules[k].kind, counts, aggregate_above,
                 json_array_size(a.related[k]));
        json_t *by_sev = json_object();
        for (int s = 1; s <= 4; s++)
            json_object_set_new(by_sev, severity_name(s), json_integer((json_int_t)a.by_sev[k][s]));
        json_array_append_new(
            results,
            json_pack("{s:s, s:i, s:s, s:{s:s}, s:[o], s:o, s:{s:s}, s:{s:I, s:b, s:o}}", "ruleId",
                      k_rules[k].id, "ruleIndex", k, "level", level_of(top), "message", "text",
                      text, "locations", file_location(sc), "relatedLocations", a.related[k],
                      "partialFingerprints", "assayAggregate/v1", k_rules[k].kind, "properties",
                      "rows", (json_int_t)a.rows[k], "aggregated", 1, "by_severity", by_sev));
    }
}

/* Kind of a detector by name, from the report's detector list. */
static const char *detector_kind(const json_t *doc, const char *name) {
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(doc, "detectors"), i, d) {
        if (str(d, "name") && strcmp(str(d, "name"), name) == 0) return str(d, "kind");
    }
    return NULL;
}

/* Significant tests against "no poison", on the dataset as a whole: an error where the test
 * fails the gate, a warning where it only warns (an observation, or below fail-on). */
static size_t test_results(sarif_ctx *sc, json_t *results) {
    size_t i, emitted = 0, omitted = 0;
    const json_t *t;
    json_array_foreach(json_object_get(sc->doc, "tests"), i, t) {
        if (!json_is_true(json_object_get(t, "significant"))) continue;
        int rule = rule_of_kind(detector_kind(sc->doc, str(t, "detector")));
        if (rule < 0) rule = rule_of_kind("distribution");
        if (emitted >= MAX_TEST_RESULTS) {
            omitted++;
            continue;
        }
        char cls[64], text[1024], fp[160];
        const json_t *c = json_object_get(t, "class");
        const char *where = json_is_null(c) || c == NULL ? "the whole data set" : NULL;
        if (where == NULL) {
            char b[48];
            snprintf(cls, sizeof cls, "class %s", assay__doc_scalar_text(c, b, sizeof b));
            where = cls;
        }
        const char *gate = str(t, "gate");
        const int fails = gate == NULL || strcmp(gate, "fail") == 0;
        snprintf(text, sizeof text,
                 "Test of %s on %s is significant (q = %.3g, at or below the scan's FDR): %s. %s",
                 str(t, "detector"), where, json_number_value(json_object_get(t, "q_value")),
                 str(t, "detail") ? str(t, "detail") : "",
                 fails ? "It fails the gate."
                 : strcmp(gate, "accepted") == 0
                     ? "Every row it flags is allowlisted: it does not count."
                     : "It only warns (its severity is below the gate's fail-on, or its kind "
                       "does not fail).");
        char b2[48];
        snprintf(fp, sizeof fp, "%s:%s:%s", str(t, "detector"),
                 str(t, "statistic") ? str(t, "statistic") : "",
                 c == NULL || json_is_null(c) ? "*" : assay__doc_scalar_text(c, b2, sizeof b2));
        json_array_append_new(
            results,
            json_pack("{s:s, s:i, s:s, s:{s:s}, s:[o], s:{s:s}, s:{s:I, s:s, s:O*, s:O*, s:O*, "
                      "s:O*, s:O*}}",
                      "ruleId", k_rules[rule].id, "ruleIndex", rule, "level",
                      fails ? "error" : "warning", "message", "text", text, "locations",
                      file_location(sc), "partialFingerprints", "assayTest/v1", fp, "properties",
                      "test", (json_int_t)i, "detector", str(t, "detector"), "class", c,
                      "statistic", json_object_get(t, "statistic"), "value",
                      json_object_get(t, "value"), "p_value", json_object_get(t, "p_value"),
                      "q_value", json_object_get(t, "q_value")));
        if (sc->rule_sev[rule] < 3) sc->rule_sev[rule] = 3;
        emitted++;
    }
    return omitted;
}

/* The class distribution against the baseline, when it shifted at the scan's FDR (the gate
 * warns): one dataset-level result of the drift rule, a warning as the gate's verdict is. */
static void drift_result(sarif_ctx *sc, json_t *results) {
    const json_t *shift = json_object_get(json_object_get(sc->doc, "baseline"), "class_shift");
    const json_t *p = json_object_get(shift, "p_value");
    const json_t *fdr = json_object_get(json_object_get(sc->doc, "parameters"), "fdr");
    if (!json_is_number(p) || !json_is_number(fdr) || json_number_value(p) > json_number_value(fdr))
        return;
    int rule = rule_of_kind("drift");
    char text[512];
    snprintf(text, sizeof text,
             "The class distribution changed against the baseline: chi-square %.4g on %lld "
             "degrees of freedom, p = %.3g (at or below the scan's FDR %s). The per-class counts "
             "and each class's centroid drift are in report.json \"baseline\".",
             json_number_value(json_object_get(shift, "chi2")),
             (long long)json_integer_value(json_object_get(shift, "df")), json_number_value(p),
             assay__num(json_number_value(fdr)).s);
    json_array_append_new(
        results,
        json_pack("{s:s, s:i, s:s, s:{s:s}, s:[o], s:{s:s}, s:{s:O, s:O, s:O}}", "ruleId",
                  k_rules[rule].id, "ruleIndex", rule, "level", "warning", "message", "text", text,
                  "locations", file_location(sc), "partialFingerprints", "assayDrift/v1",
                  "class-distribution", "properties", "chi2", json_object_get(shift, "chi2"), "df",
                  json_object_get(shift, "df"), "p_value", p));
    if (sc->rule_sev[rule] < 2) sc->rule_sev[rule] = 2;
}

/* One pass over the findings: each one's fields checked, the highest severity per rule, the
 * distinct provision lists per rule, and how many rows and row results (one per row and kind:
 * a row's findings are adjacent) there are. */
static assay_status scan_findings(assay_ctx *ctx, sarif_ctx *sc, const char *path) {
    assay_status s = ASSAY_OK;
    for (int k = 0; k < N_RULES; k++) sc->rule_sev[k] = -1;
    size_t i;
    const json_t *f;
    char where[64];
    json_int_t row = 0;
    json_t *row_kinds = json_array(); /* the kinds of the current row's findings */
    if (row_kinds == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    assay__findings_foreach(sc->fs, i, f) {
        snprintf(where, sizeof where, "findings[%zu]", i);
        assay__doc_need(ctx, &s, path, f, where, "index", JSON_INTEGER);
        assay__doc_need(ctx, &s, path, f, where, "kind", JSON_STRING);
        assay__doc_need(ctx, &s, path, f, where, "severity", JSON_STRING);
        assay__doc_need(ctx, &s, path, f, where, "detector", JSON_STRING);
        assay__doc_need(ctx, &s, path, f, where, "explanation", JSON_STRING);
        assay__doc_need(ctx, &s, path, f, where, "row_sha256", JSON_STRING);
        assay__doc_need(ctx, &s, path, f, where, "location", JSON_OBJECT);
        assay__doc_need(ctx, &s, path, f, where, "etsi", JSON_ARRAY);
        if (s != ASSAY_OK) break;
        const json_t *kind = json_object_get(f, "kind");
        if (i == 0 || json_integer_value(json_object_get(f, "index")) != row) {
            row = json_integer_value(json_object_get(f, "index"));
            sc->n_rows++;
            json_array_clear(row_kinds);
        }
        size_t j;
        const json_t *have;
        int seen = 0;
        json_array_foreach(row_kinds, j, have) seen |= json_equal(have, kind);
        if (!seen) {
            sc->n_row_results++;
            if (json_array_append(row_kinds, (json_t *)kind) != 0) {
                s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
                break;
            }
        }
        int k = rule_of_kind(str(f, "kind")), sev = assay__doc_severity(str(f, "severity"));
        if (k < 0) continue;
        if (sev > sc->rule_sev[k]) sc->rule_sev[k] = sev;
        const json_t *refs = json_object_get(f, "etsi");
        seen = 0;
        json_array_foreach(sc->finding_refs[k], j, have) seen |= json_equal(have, refs);
        if (!seen && json_array_append(sc->finding_refs[k], (json_t *)refs) != 0) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
            break;
        }
    }
    json_decref(row_kinds);
    return s == ASSAY_OK ? assay__findings_status(ctx, sc->fs, path) : s;
}

static json_t *artifacts_json(sarif_ctx *sc, const char *input_path) {
    json_t *arts = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(json_object_get(sc->doc, "input"), "files"), i, f) {
        const char *p = str(f, "path");
        if (p == NULL) continue;
        int rel;
        json_t *loc = json_pack("{s:o}", "uri", uri_of(p, &rel));
        if (rel) json_object_set_new(loc, "uriBaseId", json_string("%SRCROOT%"));
        json_t *a = json_pack("{s:o, s:[s], s:{s:s*}}", "location", loc, "roles", "analysisTarget",
                              "description", "text", str(f, "role"));
        if (json_is_integer(json_object_get(f, "bytes")))
            json_object_set(a, "length", json_object_get(f, "bytes"));
        if (str(f, "sha256"))
            json_object_set_new(a, "hashes", json_pack("{s:s}", "sha-256", str(f, "sha256")));
        if (strcmp(p, input_path) == 0)
            json_object_set_new(sc->file_loc, "index", json_integer((json_int_t)i));
        json_array_append_new(arts, a);
    }
    return arts;
}

static json_t *invocation_json(const json_t *doc) {
    const json_t *gate = json_object_get(doc, "gate");
    const json_t *cmd = json_object_get(doc, "command");
    json_t *inv = json_pack("{s:b}", "executionSuccessful", 1);
    if (json_is_integer(json_object_get(gate, "exit_code")))
        json_object_set(inv, "exitCode", json_object_get(gate, "exit_code"));
    if (json_is_array(cmd) && json_array_size(cmd) > 0) {
        json_object_set_new(inv, "commandLine", command_line(cmd));
        json_object_set(inv, "arguments", (json_t *)cmd);
    }
    const char *started = str(doc, "started"), *finished = str(doc, "finished");
    if (started && started[0]) json_object_set_new(inv, "startTimeUtc", json_string(started));
    if (finished && finished[0]) json_object_set_new(inv, "endTimeUtc", json_string(finished));
    json_t *notes = json_array();
    size_t i;
    const json_t *w;
    json_array_foreach(json_object_get(doc, "warnings"), i, w) {
        if (json_is_string(w))
            json_array_append_new(
                notes, json_pack("{s:s, s:{s:O}}", "level", "warning", "message", "text", w));
    }
    if (json_array_size(notes) > 0)
        json_object_set_new(inv, "toolExecutionNotifications", notes);
    else
        json_decref(notes);
    return inv;
}

static void sarif_ctx_clear(sarif_ctx *sc) {
    json_decref(sc->file_loc);
    for (int k = 0; k < N_RULES; k++) json_decref(sc->finding_refs[k]);
}

assay_status assay__render_sarif_limited(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                         FILE *fp, const char *path, size_t aggregate_above) {
    assay_status s = check_doc(ctx, doc, path);
    if (s != ASSAY_OK) return s;
    const json_t *input = json_object_get(doc, "input");
    assay__findings *findings = fs;
    const json_t *gate = json_object_get(doc, "gate");
    const char *input_path = str(input, "path");
    sarif_ctx sc = {doc, fs, NULL, NULL, {0}, 0, 0, {NULL}};
    for (int k = 0; k < N_RULES; k++)
        if ((sc.finding_refs[k] = json_array()) == NULL) s = ASSAY_E_NOMEM;
    if (s == ASSAY_OK) s = scan_findings(ctx, &sc, path);
    if (s != ASSAY_OK) {
        sarif_ctx_clear(&sc);
        return s == ASSAY_E_NOMEM ? assay__fail(ctx, s, "%s: out of memory", path) : s;
    }
    sc.taxa = json_array();
    int rel;
    sc.file_loc = json_pack("{s:o}", "uri", uri_of(input_path, &rel));
    if (rel) json_object_set_new(sc.file_loc, "uriBaseId", json_string("%SRCROOT%"));
    json_t *artifacts = artifacts_json(&sc, input_path);

    /* How many rows and row results: aggregate above the limit, or when per-row results would
     * pass GitHub's 25,000 per run. */
    size_t n_rows = sc.n_rows, n_row_results = sc.n_row_results;
    int aggregated = n_rows > aggregate_above || n_row_results > MAX_RESULTS - MAX_TEST_RESULTS - 1;

    json_t *results = json_array();
    size_t tests_omitted = test_results(&sc, results);
    drift_result(&sc, results);
    if (aggregated) {
        aggregate_results(&sc, findings, results, aggregate_above);
    } else {
        emit_state e = {&sc, findings, results, 1};
        for_each_row_kind(findings, emit_cb, &e);
        if (!e.ok) s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    }
    /* A failed gate must show as an error even when no finding or test is one (a flagged-row
     * budget exceeded by low-severity rows). */
    if (strcmp(str(gate, "verdict"), "fail") == 0) {
        int has_error = 0;
        size_t i;
        const json_t *r;
        json_array_foreach(results, i, r) has_error |= strcmp(str(r, "level"), "error") == 0;
        if (!has_error) {
            char text[700];
            snprintf(text, sizeof text, "The data set failed the gate: %s.",
                     str(gate, "reason") ? str(gate, "reason") : "see report.json");
            json_array_append_new(
                results, json_pack("{s:s, s:i, s:s, s:{s:s}, s:[o], s:{s:s}}", "ruleId",
                                   k_rules[GATE_RULE].id, "ruleIndex", GATE_RULE, "level", "error",
                                   "message", "text", text, "locations", file_location(&sc),
                                   "partialFingerprints", "assayGate/v1", "gate"));
            sc.rule_sev[GATE_RULE] = 3;
        }
    }

    const json_t *tool = json_object_get(doc, "tool");
    const json_t *etsi = json_object_get(doc, "etsi");
    json_t *rules = rules_json(&sc);
    /* every provision the report cites is a taxon, also those no rule relates to (the manifest's
     * and the report's own) */
    const char *key;
    const json_t *ev;
    json_object_foreach((json_t *)json_object_get(etsi, "evidence"), key, ev) {
        size_t i;
        const json_t *ref;
        json_array_foreach(json_object_get(ev, "provisions"), i, ref) {
            if (str(ref, "id") != NULL) taxon_index(&sc, ref);
        }
    }
    json_t *driver = json_pack("{s:s, s:O*, s:O*, s:o, s:[{s:s, s:i}]}", "name", "assay", "version",
                               json_object_get(tool, "version"), "semanticVersion",
                               json_object_get(tool, "version"), "rules", rules,
                               "supportedTaxonomies", "name", TAXONOMY_NAME, "index", 0);
    json_t *taxonomy = json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", TAXONOMY_NAME, "version",
                                 str(etsi, "version") ? str(etsi, "version") : "2.1.1",
                                 "organization", "ETSI", "isComprehensive", 0, "taxa", sc.taxa);
    if (str(etsi, "disclaimer"))
        json_object_set_new(taxonomy, "shortDescription",
                            json_pack("{s:s}", "text", str(etsi, "disclaimer")));
    json_t *props = json_pack(
        "{s:O*, s:O*, s:{s:O*, s:O*, s:O*}, s:I, s:b, s:I}", "datasetSha256",
        json_object_get(input, "dataset_sha256"), "reportSchema", json_object_get(doc, "schema"),
        "gate", "verdict", json_object_get(gate, "verdict"), "reason",
        json_object_get(gate, "reason"), "exit_code", json_object_get(gate, "exit_code"),
        "flaggedRows", (json_int_t)n_rows, "aggregated", aggregated, "aggregateAbove",
        (json_int_t)aggregate_above);
    if (tests_omitted > 0)
        json_object_set_new(props, "significantTestsNotListed",
                            json_integer((json_int_t)tests_omitted));
    json_t *run = json_pack("{s:{s:o}, s:[o], s:o, s:[o], s:o, s:o}", "tool", "driver", driver,
                            "taxonomies", taxonomy, "artifacts", artifacts, "invocations",
                            invocation_json(doc), "results", results, "properties", props);
    json_t *log =
        json_pack("{s:s, s:s, s:[o]}", "$schema", "https://json.schemastore.org/sarif-2.1.0.json",
                  "version", "2.1.0", "runs", run);
    sarif_ctx_clear(&sc);
    if (s == ASSAY_OK && log == NULL)
        s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    if (s == ASSAY_OK && (assay__json_dumpf(log, fp, JSON_INDENT(1) | JSON_ENSURE_ASCII) != 0 ||
                          fputc('\n', fp) == EOF))
        s = assay__write_failed(ctx, fp, path);
    json_decref(log);
    return s == ASSAY_OK ? assay__findings_status(ctx, fs, path) : s;
}

assay_status assay__render_sarif(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                 const char *path) {
    return assay__render_sarif_limited(ctx, doc, fs, fp, path, ASSAY__SARIF_AGGREGATE_ABOVE);
}

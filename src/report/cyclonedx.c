/* SPDX-License-Identifier: Apache-2.0 */
/* bom.cdx.json: a CycloneDX 1.6 BOM of the scanned dataset, rendered from the report document.
 * The dataset is a `data` component carrying its SHA-256 (and each input file as a `file`
 * sub-component with the file's own SHA-256); ETSI EN 304 223 is a standard under
 * `definitions.standards`, with a requirement for every provision the report cites; and
 * `declarations` map each provision this scan gives evidence for to a claim about the dataset,
 * the evidence (what the scan did and found) and an attestation. The attestation is honest about
 * what a scan is: evidence toward a provision, never compliance. Its conformance score follows
 * the gate (1 pass, 0.5 warn, 0 fail) for the provisions the content checks evidence, and its
 * confidence stays well below 1 because an automated screen sees only the patterns it tests. */
#include <openssl/evp.h>
#include <string.h>

#include "report/render.h"
#include "report/report_internal.h"

/* Name-based UUID namespace of assay BOMs (RFC 4122 section 4.3; chosen once at random). */
static const unsigned char k_uuid_namespace[16] = {0x76, 0x2d, 0xe1, 0xc8, 0x41, 0x95, 0x4c, 0xf9,
                                                   0xac, 0xd6, 0xdb, 0x34, 0xbd, 0xc7, 0x5f, 0x6c};

/* Evidence keys backed by the manifest and the report itself rather than by content checks:
 * they hold whatever the gate says. */
static int is_record_key(const char *key) {
    return strcmp(key, "manifest") == 0 || strcmp(key, "report") == 0;
}

/* urn:uuid of a version-5 (SHA-1, name-based) UUID of "<dataset sha256>/<started>": the same
 * scan of the same data always gets the same serial number, another scan another one. */
static int serial_number(const char *sha, const char *started, char *out, size_t len) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha1(), NULL) &&
             EVP_DigestUpdate(c, k_uuid_namespace, sizeof k_uuid_namespace) &&
             EVP_DigestUpdate(c, sha, strlen(sha)) && EVP_DigestUpdate(c, "/", 1) &&
             EVP_DigestUpdate(c, started, strlen(started)) && EVP_DigestFinal_ex(c, md, &md_len);
    EVP_MD_CTX_free(c);
    if (!ok || md_len < 16) return 0;
    md[6] = (unsigned char)((md[6] & 0x0F) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    char *p = out;
    p += snprintf(p, len, "urn:uuid:");
    for (int i = 0; i < 16; i++) {
        p += snprintf(p, len - (size_t)(p - out), "%02x", md[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9) *p++ = '-';
    }
    *p = '\0';
    return 1;
}

static json_t *prop(const char *name, const char *value) {
    return json_pack("{s:s, s:o}", "name", name, "value", assay__json_str(value ? value : ""));
}

static json_t *prop_num(const char *name, const json_t *v) {
    char buf[64];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_number(v))
        assay__fmt_double(buf, json_number_value(v));
    else
        snprintf(buf, sizeof buf, "n/a");
    return prop(name, buf);
}

static const char *basename_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *gate_verdict(const json_t *gate) {
    const char *v = json_string_value(json_object_get(gate, "verdict"));
    return v ? v : json_is_true(json_object_get(gate, "passed")) ? "pass" : "fail";
}

/* Names of the detectors of a finding kind that ran, comma-separated, into buf ("" if none);
 * returns how many detectors of that kind the report lists (run or not). */
static size_t detectors_of_kind(const json_t *doc, const char *kind, char *buf, size_t len) {
    size_t i, used = 0, of_kind = 0;
    const json_t *d;
    buf[0] = '\0';
    json_array_foreach(json_object_get(doc, "detectors"), i, d) {
        const char *k = json_string_value(json_object_get(d, "kind"));
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!k || !name || strcmp(k, kind) != 0) continue;
        of_kind++;
        if (!json_is_true(json_object_get(d, "ran"))) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
    }
    return of_kind;
}

/* One evidence item per evidence key of the report's ETSI block; NULL for a content kind no
 * detector of this scan checked (it is evidence of nothing here). */
static json_t *evidence_item(const json_t *doc, const char *key, const json_t *item,
                             const char *created) {
    char dets[512], desc[2048], ref[96];
    const char *what = json_string_value(json_object_get(item, "what"));
    const json_t *sum = json_object_get(doc, "summary"), *gate = json_object_get(doc, "gate");
    const json_t *count = json_object_get(json_object_get(sum, "findings_by_kind"), key);
    const json_t *in = json_object_get(doc, "input");
    if (strcmp(key, "manifest") == 0) {
        snprintf(desc, sizeof desc,
                 "%s: dataset SHA-256 %s over %" JSON_INTEGER_FORMAT
                 " rows (per-row digests and input file hashes in manifest.json)",
                 what ? what : key, json_string_value(json_object_get(in, "dataset_sha256")),
                 json_integer_value(json_object_get(in, "rows")));
    } else if (strcmp(key, "report") == 0) {
        snprintf(desc, sizeof desc,
                 "%s: report.json of this scan (tool version, command, effective parameters, "
                 "per-detector results, tests and decisions)",
                 what ? what : key);
    } else if (strcmp(key, "gate") == 0) {
        const char *reason = json_string_value(json_object_get(gate, "reason"));
        snprintf(desc, sizeof desc, "%s: gate %s, exit code %" JSON_INTEGER_FORMAT " (%s)",
                 what ? what : key, gate_verdict(gate),
                 json_integer_value(json_object_get(gate, "exit_code")), reason ? reason : "");
    } else {
        /* a kind no detector covers (drift) comes from the comparison with a baseline */
        if (detectors_of_kind(doc, key, dets, sizeof dets) == 0 &&
            json_is_object(json_object_get(doc, "baseline")))
            snprintf(dets, sizeof dets, "the comparison with the baseline");
        if (dets[0] == '\0') return NULL;
        snprintf(desc, sizeof desc,
                 "%s: checked by %s; %" JSON_INTEGER_FORMAT " finding(s) of this kind in this scan",
                 what ? what : key, dets, json_integer_value(count));
    }
    snprintf(ref, sizeof ref, "evidence:%s", key);
    char prop_name[96];
    snprintf(prop_name, sizeof prop_name, "assay:%s", key);
    return json_pack("{s:s, s:s, s:o, s:s}", "bom-ref", ref, "propertyName", prop_name,
                     "description", assay__json_str(desc), "created", created);
}

static json_t *data_component(const json_t *doc, const char *ref) {
    const json_t *in = json_object_get(doc, "input"), *sum = json_object_get(doc, "summary");
    const char *path = json_string_value(json_object_get(in, "path"));
    const char *sha = json_string_value(json_object_get(in, "dataset_sha256"));
    char shape[64];
    snprintf(shape, sizeof shape, "%" JSON_INTEGER_FORMAT "x%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(in, "rows")),
             json_integer_value(json_object_get(in, "dims")));
    json_t *files = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(in, "files"), i, f) {
        char fref[64];
        snprintf(fref, sizeof fref, "file:%zu", i);
        const char *fsha = json_string_value(json_object_get(f, "sha256"));
        json_t *c =
            json_pack("{s:s, s:s, s:o, s:[o, o]}", "type", "file", "bom-ref", fref, "name",
                      assay__json_str(json_string_value(json_object_get(f, "path"))), "properties",
                      prop("assay:role", json_string_value(json_object_get(f, "role"))),
                      prop_num("assay:bytes", json_object_get(f, "bytes")));
        if (fsha)
            json_object_set_new(c, "hashes",
                                json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", fsha));
        json_array_append_new(files, c);
    }
    char n_classes[32];
    snprintf(n_classes, sizeof n_classes, "%zu", json_array_size(json_object_get(in, "classes")));
    json_t *contents = json_pack(
        "[o, o, o, o, o, o]",
        prop("assay:format", json_string_value(json_object_get(in, "format"))),
        prop("assay:shape", shape), prop_num("assay:rows", json_object_get(in, "rows")),
        prop_num("assay:dims", json_object_get(in, "dims")), prop("assay:classes", n_classes),
        prop("assay:row_hash", json_string_value(json_object_get(in, "row_hash"))));
    const json_t *gate = json_object_get(doc, "gate");
    json_t *props = json_pack(
        "[o, o, o, o, o, o, o]", prop_num("assay:flagged_rows", json_object_get(sum, "flagged")),
        prop_num("assay:flagged_fraction", json_object_get(sum, "flagged_fraction")),
        prop_num("assay:findings", json_object_get(sum, "findings")),
        prop("assay:gate_verdict", gate_verdict(gate)),
        prop_num("assay:exit_code", json_object_get(gate, "exit_code")),
        prop("assay:report", "report.json"),
        prop("assay:scan_started", json_string_value(json_object_get(doc, "started"))));
    return json_pack(
        "{s:s, s:s, s:o, s:s, s:[{s:s, s:s}], s:[{s:s, s:o, s:{s:o}, s:s}], s:o, s:o}", "type",
        "data", "bom-ref", ref, "name", assay__json_str(basename_of(path)), "description",
        "Training data screened by assay. The SHA-256 is the dataset digest (assay-row/v1: over "
        "the per-row digests in order), so it names the rows, not one file; each input file's "
        "own SHA-256 is on its sub-component.",
        "hashes", "alg", "SHA-256", "content", sha, "data", "type", "dataset", "name",
        assay__json_str(path), "contents", "properties", contents, "description",
        "the rows as assay read them", "components", files, "properties", props);
}

/* Requirement descriptions: the level, and the evidence items that cite the provision. */
static json_t *requirement(const json_t *ev, const char *id, const json_t *p) {
    char buf[512], ref[64];
    json_t *desc = json_array();
    snprintf(buf, sizeof buf, "Level: %s", json_string_value(json_object_get(p, "level")));
    json_array_append_new(desc, json_string(buf));
    const char *key;
    const json_t *item;
    json_object_foreach((json_t *)ev, key, item) {
        size_t i;
        const json_t *q;
        json_array_foreach(json_object_get(item, "provisions"), i, q) {
            if (strcmp(assay__doc_str(q, "id"), id) != 0) continue;
            snprintf(buf, sizeof buf, "assay evidence (%s): %s",
                     json_string_value(json_object_get(q, "role")),
                     json_string_value(json_object_get(item, "what")));
            json_array_append_new(desc, assay__json_str(buf));
        }
    }
    snprintf(ref, sizeof ref, "requirement:%s", id);
    return json_pack("{s:s, s:s, s:O, s:o}", "bom-ref", ref, "identifier", id, "title",
                     json_object_get(p, "title"), "descriptions", desc);
}

static assay_status need(assay_ctx *ctx, const void *v, const char *key, const char *path) {
    if (v == NULL)
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: the report document has no \"%s\" (a report.json from another "
                           "version?)",
                           path, key);
    return ASSAY_OK;
}

assay_status assay__render_cyclonedx(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                     FILE *fp, const char *path) {
    (void)fs; /* the findings' counts are in the summary */
    const json_t *in = json_object_get(doc, "input"), *etsi = json_object_get(doc, "etsi");
    const json_t *ev = json_object_get(etsi, "evidence"), *gate = json_object_get(doc, "gate");
    const char *sha = json_string_value(json_object_get(in, "dataset_sha256"));
    const char *started = json_string_value(json_object_get(doc, "started"));
    const char *finished = json_string_value(json_object_get(doc, "finished"));
    const char *version =
        json_string_value(json_object_get(json_object_get(doc, "tool"), "version"));
    ASSAY_TRY(need(ctx, sha, "input.dataset_sha256", path));
    ASSAY_TRY(need(ctx, json_object_get(in, "path"), "input.path", path));
    ASSAY_TRY(need(ctx, started, "started", path));
    ASSAY_TRY(need(ctx, version, "tool.version", path));
    ASSAY_TRY(need(ctx, ev, "etsi.evidence", path));
    ASSAY_TRY(need(ctx, gate, "gate", path));
    if (finished == NULL) finished = started;
    char serial[64], data_ref[32];
    if (!serial_number(sha, started, serial, sizeof serial))
        return assay__fail(ctx, ASSAY_E_INTERNAL, "%s: SHA-1 for the serial number failed", path);
    snprintf(data_ref, sizeof data_ref, "data:%.16s", sha);
    const char *verdict = gate_verdict(gate);
    double gate_score = strcmp(verdict, "pass") == 0   ? 1.0
                        : strcmp(verdict, "warn") == 0 ? 0.5
                                                       : 0.0;

    /* evidence items, and the provisions with at least one of them */
    json_t *evidence = json_array(), *requirements = json_array(), *claims = json_array();
    json_t *map = json_array();
    const char *key;
    const json_t *item;
    json_object_foreach((json_t *)ev, key, item) {
        json_t *e = evidence_item(doc, key, item, finished);
        if (e) json_array_append_new(evidence, e);
    }
    /* distinct provisions in the order of first citation */
    json_t *seen = json_object();
    json_object_foreach((json_t *)ev, key, item) {
        size_t i;
        const json_t *p;
        json_array_foreach(json_object_get(item, "provisions"), i, p) {
            const char *id = json_string_value(json_object_get(p, "id"));
            if (id == NULL || json_object_get(seen, id)) continue;
            json_object_set_new(seen, id, json_true());
            json_array_append_new(requirements, requirement(ev, id, p));
            /* the evidence items citing it that this scan produced; is any a content check? */
            json_t *refs = json_array();
            int content = 0, primary = 0;
            const char *k2;
            const json_t *it2;
            json_object_foreach((json_t *)ev, k2, it2) {
                size_t j;
                const json_t *q;
                json_array_foreach(json_object_get(it2, "provisions"), j, q) {
                    if (strcmp(assay__doc_str(q, "id"), id) != 0) continue;
                    char ref[96];
                    snprintf(ref, sizeof ref, "evidence:%s", k2);
                    size_t e;
                    const json_t *x;
                    int produced = 0;
                    json_array_foreach(evidence, e, x) produced |=
                        strcmp(assay__doc_str(x, "bom-ref"), ref) == 0;
                    if (!produced) continue;
                    json_array_append_new(refs, json_string(ref));
                    content |= !is_record_key(k2);
                    const char *role = json_string_value(json_object_get(q, "role"));
                    primary |= role && strcmp(role, "primary") == 0;
                }
            }
            if (json_array_size(refs) == 0) {
                json_decref(refs);
                continue;
            }
            char cref[64], rref[64], pred[512], rationale[768];
            snprintf(cref, sizeof cref, "claim:%s", id);
            snprintf(rref, sizeof rref, "requirement:%s", id);
            const char *cite = json_string_value(json_object_get(p, "cite"));
            snprintf(pred, sizeof pred,
                     "assay %s scanned this dataset; its results are evidence toward %s (%s)",
                     version, cite ? cite : id, json_string_value(json_object_get(p, "title")));
            json_array_append_new(
                claims, json_pack("{s:s, s:s, s:o, s:o, s:s}", "bom-ref", cref, "target", data_ref,
                                  "predicate", assay__json_str(pred), "evidence", refs, "reasoning",
                                  "The listed evidence comes from one automated scan of this "
                                  "dataset. It is evidence toward the provision, never proof of "
                                  "compliance: the provision also covers processes and controls "
                                  "that a data scan cannot see."));
            if (content)
                snprintf(rationale, sizeof rationale,
                         "Score follows the scan's gate, which was '%s' (exit code "
                         "%" JSON_INTEGER_FORMAT "): %s. It says whether the checks this "
                         "provision asks for ran and passed on this dataset, not that the "
                         "organisation complies with the provision.",
                         verdict, json_integer_value(json_object_get(gate, "exit_code")),
                         json_string_value(json_object_get(gate, "reason"))
                             ? json_string_value(json_object_get(gate, "reason"))
                             : "see report.json");
            else
                snprintf(rationale, sizeof rationale,
                         "The dataset fingerprint and the scan report were recorded, whatever the "
                         "gate decided; that record is evidence toward the provision, not "
                         "compliance with it.");
            json_array_append_new(
                map, json_pack("{s:s, s:[s], s:{s:f, s:o}, s:{s:f, s:s}}", "requirement", rref,
                               "claims", cref, "conformance", "score", content ? gate_score : 1.0,
                               "rationale", assay__json_str(rationale), "confidence", "score",
                               primary ? 0.5 : 0.25, "rationale",
                               primary ? "The scan is a primary means of evidence for this "
                                         "provision, but an automated statistical screen finds "
                                         "only the poisoning and data-quality patterns it tests "
                                         "for, at its false-discovery rate."
                                       : "The scan only supports this provision; most of what it "
                                         "requires lies outside a data scan."));
        }
    }
    json_decref(seen);

    /* what the scan cannot evidence, said in the attestation so nobody over-claims */
    char summary[2048];
    size_t used =
        (size_t)snprintf(summary, sizeof summary,
                         "Pre-training poisoning scan of %s by assay %s, gate %s. Not "
                         "evidenced by this scan:",
                         json_string_value(json_object_get(in, "path")), version, verdict);
    size_t i;
    json_array_foreach(json_object_get(etsi, "not_evidenced"), i, item) {
        if (used >= sizeof summary) break;
        used += (size_t)snprintf(summary + used, sizeof summary - used, "%s %s (%s)", i ? ";" : "",
                                 json_string_value(json_object_get(item, "provisions")),
                                 json_string_value(json_object_get(item, "what")));
    }
    if (used < sizeof summary) snprintf(summary + used, sizeof summary - used, ".");

    char tool_org[96];
    snprintf(tool_org, sizeof tool_org, "assay %s (automated scan)", version);
    json_t *bom = json_pack(
        "{s:s, s:s, s:s, s:i, s:{s:s, s:{s:[{s:s, s:s, s:s, s:s, s:s}]}}, s:[o],"
        " s:{s:[{s:s, s:O, s:O, s:s, s:s, s:o}]},"
        " s:{s:[{s:s, s:b, s:{s:s}}], s:o, s:o, s:[{s:o, s:s, s:o}]}}",
        "bomFormat", "CycloneDX", "specVersion", "1.6", "serialNumber", serial, "version", 1,
        "metadata", "timestamp", finished, "tools", "components", "type", "application", "bom-ref",
        "tool:assay", "name", "assay", "version", version, "description",
        "training-data poisoning detector", "components", data_component(doc, data_ref),
        "definitions", "standards", "bom-ref", "standard:etsi-en-304-223", "name",
        json_object_get(etsi, "document"), "version", json_object_get(etsi, "version"), "owner",
        "ETSI", "description",
        "Securing Artificial Intelligence (SAI); Baseline Cyber Security Requirements for AI "
        "Models and Systems. Only the provisions assay cites are listed; titles are paraphrased.",
        "requirements", requirements, "declarations", "assessors", "bom-ref", "assessor:assay",
        "thirdParty", 0, "organization", "name", tool_org, "claims", claims, "evidence", evidence,
        "attestations", "summary", assay__json_str(summary), "assessor", "assessor:assay", "map",
        map);
    if (bom == NULL)
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: the report document is incomplete (ETSI block)", path);
    assay_status s = assay__dump_json(ctx, bom, fp, 1, path);
    json_decref(bom);
    return s;
}

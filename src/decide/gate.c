/* SPDX-License-Identifier: Apache-2.0 */
/* The gate: applies a policy to a finished scan result. Per-detector thresholds and severities
 * first (they change which rows are flagged), then the allowlist (accepted rows stay in the
 * report but do not count), then the verdict with one sentence per reason. A scan without a
 * policy runs the same gate with the policy its options imply, so both agree by construction. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json_text.h"
#include "core/numfmt.h"
#include "core/stats.h"
#include "decide/policy_internal.h"

const char *assay_verdict_name(assay_verdict v) {
    switch (v) {
    case ASSAY_VERDICT_PASS:
        return "pass";
    case ASSAY_VERDICT_WARN:
        return "warn";
    default:
        return "fail";
    }
}

assay_verdict assay_result_verdict(const assay_result *res) {
    return res ? (assay_verdict)res->verdict : ASSAY_VERDICT_FAIL;
}

int assay_result_exit_code(const assay_result *res) {
    return res ? res->exit_code : 1;
}

void assay__gate_clear(assay_result *res) {
    for (size_t i = 0; i < res->n_gate_reasons; i++) free(res->gate_reasons[i]);
    free(res->gate_reasons);
    res->gate_reasons = NULL;
    res->n_gate_reasons = 0;
    free(res->allowlisted);
    res->allowlisted = NULL;
    json_decref(res->policy_doc);
    res->policy_doc = NULL;
}

/* ---- reasons ---- */

typedef struct reasons {
    char **v;
    size_t n, cap;
    int oom;
} reasons;

static void add(reasons *r, const char *fmt, ...) ASSAY_PRINTF(2, 3);
static void add(reasons *r, const char *fmt, ...) {
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        char **nv = realloc(r->v, cap * sizeof *nv);
        if (nv == NULL) {
            r->oom = 1;
            return;
        }
        r->v = nv;
        r->cap = cap;
    }
    char *s = strdup(buf);
    if (s == NULL) {
        r->oom = 1;
        return;
    }
    r->v[r->n++] = s;
}

/* "knn-label: 2, duplicate: 1" for per-detector counts. */
static void per_detector(const size_t *count, char *buf, size_t len) {
    size_t u = 0;
    buf[0] = '\0';
    for (int d = 0; d < ASSAY_DET_COUNT && u < len; d++)
        if (count[d] > 0)
            u += (size_t)snprintf(buf + u, len - u, "%s%s: %zu", u ? ", " : "",
                                  assay_detector_name((assay_detector)d), count[d]);
}

static const char *plural(size_t n) {
    return n == 1 ? "" : "s";
}

/* ---- per-detector thresholds and severities ---- */

static int detector_settings_change(const assay_policy *p) {
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        if (p->det_threshold[d] > 0.5 || p->det_severity[d] != ASSAY_SEV_NONE) return 1;
    return 0;
}

/* Raises detectors' flag lines to their thresholds (evidence remapped so 0.5 is the new line),
 * drops the findings below them, overrides severities, and ranks the rows again. */
static assay_status apply_detector_settings(assay_ctx *ctx, const assay_dataset *ds,
                                            assay_result *res, const assay_policy *p) {
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        float t = (float)p->det_threshold[d];
        if (!(t > 0.5f)) continue;
        for (size_t r = 0; r < res->n; r++) {
            float *e = &res->det[d].evidence[r];
            if (!isnan(*e)) *e = assay__evidence_from_threshold(*e, t);
        }
    }
    size_t kept = 0;
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        res->det[d].flagged = 0;
        memset(res->det[d].by_sev, 0, sizeof res->det[d].by_sev);
    }
    for (size_t i = 0; i < res->n_findings; i++) {
        assay__finding f = res->findings[i];
        if (p->det_threshold[f.det] > 0.5 && !(res->det[f.det].evidence[f.row] >= 0.5f)) continue;
        if (p->det_severity[f.det] != ASSAY_SEV_NONE)
            f.sev = (assay_severity)p->det_severity[f.det];
        res->findings[kept++] = f;
        res->det[f.det].flagged++;
        res->det[f.det].by_sev[f.sev]++;
    }
    res->n_findings = kept;
    ASSAY_TRY(assay__combine_index(ctx, res));
    return assay__combine_rank(ctx, ds, res);
}

/* ---- the allowlist ---- */

typedef struct allow_state {
    int expired;
    size_t *rows; /* matched rows, ascending */
    size_t n_rows, cap;
} allow_state;

static void today_utc(char out[11]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Allowlist entries sorted by their key (the id text, or the digest), so each row finds its
 * entries by binary search: O(N log m) for N rows and m entries, not N x m string compares (a
 * team's accepted list can hold thousands of rows). */
typedef struct allow_key {
    const assay__allow_entry *e;
    size_t index; /* into p->allow: ties keep file order */
} allow_key;

/* Orders entries of one kind by key: digests bytewise, ids as text. */
static int cmp_entry(const assay__allow_entry *x, const assay__allow_entry *y) {
    return x->by_digest ? memcmp(x->digest, y->digest, 32) : strcmp(x->id, y->id);
}

static int cmp_allow_key(const void *a, const void *b) {
    const allow_key *x = a, *y = b;
    int c = cmp_entry(x->e, y->e);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* The first of keys[0..n) whose entry has probe's key, or where it would be (keys of one kind,
 * sorted). */
static size_t first_match(const allow_key *keys, size_t n, const assay__allow_entry *probe) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_entry(keys[mid].e, probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Records row r under entry e (rows arrive ascending); marks it when the entry is active. */
static assay_status allow_row(assay_ctx *ctx, assay_result *res, allow_state *s, size_t r) {
    if (s->n_rows == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        size_t *nr = realloc(s->rows, cap * sizeof *nr);
        if (nr == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (allowlist)");
        s->rows = nr;
        s->cap = cap;
    }
    s->rows[s->n_rows++] = r;
    if (!s->expired) res->allowlisted[r] = 1;
    return ASSAY_OK;
}

/* Matches the entries against the rows (ids as text, or row digests) and marks the rows of
 * active entries in res->allowlisted: one pass over the rows, a binary search per row in each
 * of the two sorted key lists. */
static assay_status match_allowlist(assay_ctx *ctx, const assay_dataset *ds, assay_result *res,
                                    const assay_policy *p, allow_state *st) {
    char today[11];
    today_utc(today);
    for (size_t e = 0; e < p->n_allow; e++) st[e].expired = strcmp(today, p->allow[e].expires) >= 0;
    if (p->n_allow == 0) return ASSAY_OK;
    res->allowlisted = calloc(res->n ? res->n : 1, 1);
    allow_key *by_id = malloc(p->n_allow * sizeof *by_id);
    allow_key *by_digest = malloc(p->n_allow * sizeof *by_digest);
    assay_status s = ASSAY_OK;
    if (res->allowlisted == NULL || by_id == NULL || by_digest == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (allowlist)");
        goto done;
    }
    size_t n_id = 0, n_digest = 0;
    for (size_t e = 0; e < p->n_allow; e++) {
        if (p->allow[e].by_digest)
            by_digest[n_digest++] = (allow_key){&p->allow[e], e};
        else
            by_id[n_id++] = (allow_key){&p->allow[e], e};
    }
    qsort(by_id, n_id, sizeof *by_id, cmp_allow_key);
    qsort(by_digest, n_digest, sizeof *by_digest, cmp_allow_key);
    const int have_ids = ds->ids.type != ASSAY__COL_NONE;
    char buf[64];
    for (size_t r = 0; r < res->n && s == ASSAY_OK; r++) {
        if (have_ids && n_id > 0) {
            assay__allow_entry probe = {0};
            probe.id = (char *)assay__id_text(ds, r, buf, sizeof buf);
            for (size_t k = first_match(by_id, n_id, &probe);
                 k < n_id && cmp_entry(by_id[k].e, &probe) == 0 && s == ASSAY_OK; k++)
                s = allow_row(ctx, res, &st[by_id[k].index], r);
        }
        if (ds->row_digest != NULL && n_digest > 0) {
            assay__allow_entry probe = {0};
            probe.by_digest = 1;
            memcpy(probe.digest, ds->row_digest[r], 32);
            for (size_t k = first_match(by_digest, n_digest, &probe);
                 k < n_digest && cmp_entry(by_digest[k].e, &probe) == 0 && s == ASSAY_OK; k++)
                s = allow_row(ctx, res, &st[by_digest[k].index], r);
        }
    }
done:
    free(by_id);
    free(by_digest);
    return s;
}

static const char *entry_name(const assay__allow_entry *a, char *buf, size_t len) {
    if (a->by_digest) {
        char hex[65];
        assay__hex32(a->digest, hex);
        snprintf(buf, len, "row-sha256 %.12s...", hex);
    } else {
        snprintf(buf, len, "id '%s'", a->id);
    }
    return buf;
}

/* ---- the verdict ---- */

/* The budget of class c: its own (by name or label), else "*", else none (-1). */
static double class_budget(const assay_policy *p, const assay_dataset *ds, size_t c) {
    double star = -1.0;
    for (size_t i = 0; i < p->n_budgets; i++) {
        const char *k = p->budgets[i].cls;
        if (strcmp(k, ds->class_name[c]) == 0 || strcmp(k, ds->class_label[c]) == 0)
            return p->budgets[i].budget;
        if (strcmp(k, "*") == 0) star = p->budgets[i].budget;
    }
    return star;
}

static int fails_kind(const assay_policy *p, assay_detector d) {
    return (int)(p->fail_kinds >> assay__detector_kind_id(d) & 1u);
}

/* A significant test fails the gate when its severity (the policy's for its detector, else the
 * test's own: evidence of poisoning is high, an observation about the data low or medium) is at
 * or above fail-on and its detector's kind is one that fails. */
static int test_fails(const assay_policy *p, const assay__test *t) {
    int sev = p->det_severity[t->det] != ASSAY_SEV_NONE ? p->det_severity[t->det] : (int)t->sev;
    return fails_kind(p, t->det) && p->scan.fail_on != ASSAY_SEV_NONE &&
           sev >= (int)p->scan.fail_on;
}

static const char *test_where(const assay_dataset *ds, const assay__test *t, char *buf,
                              size_t len) {
    if (t->cls >= 0)
        snprintf(buf, len, "%s in class %s", assay_detector_name(t->det), ds->class_name[t->cls]);
    else
        snprintf(buf, len, "%s", assay_detector_name(t->det));
    return buf;
}

static assay_status evaluate(assay_ctx *ctx, const assay_dataset *ds, assay_result *res,
                             const assay_policy *p, const allow_state *st) {
    const size_t n = res->n;
    const assay_severity fail_on = p->scan.fail_on, warn_on = p->warn_on;
    const double fdr = assay__param(&res->opts, ASSAY__P_FDR);
    const uint8_t *allow = res->allowlisted;
    size_t nf[ASSAY_DET_COUNT] = {0}, nw[ASSAY_DET_COUNT] = {0};
    size_t n_fail = 0, n_warn = 0;
    for (size_t i = 0; i < res->n_findings; i++) {
        const assay__finding *f = &res->findings[i];
        if (allow != NULL && allow[f->row]) continue;
        int at_fail = fail_on != ASSAY_SEV_NONE && f->sev >= fail_on;
        int at_warn = warn_on != ASSAY_SEV_NONE && f->sev >= warn_on;
        if (at_fail && fails_kind(p, f->det))
            nf[f->det]++, n_fail++;
        else if (at_fail || at_warn)
            nw[f->det]++, n_warn++;
    }
    /* tests: failing, warning (kind or severity not failing), or accepted (all rows allowlisted) */
    int tfail[ASSAY_DET_COUNT] = {0}, twarn[ASSAY_DET_COUNT] = {0};
    size_t n_tfail = 0, n_twarn = 0, n_sig = 0;
    const assay__test *best_fail = NULL, *best_warn = NULL;
    reasons info = {0};
    char where[300], list[600];
    for (size_t i = 0; i < res->n_tests; i++) {
        assay__test *t = &res->tests[i];
        t->effect = ASSAY__EFFECT_NONE;
        if (!t->significant) continue;
        n_sig++;
        size_t rows = 0, accepted = 0;
        for (size_t j = 0; j < res->n_findings; j++)
            if (assay__result_test_of(res, &res->findings[j]) == (int32_t)i) {
                rows++;
                accepted += allow != NULL && allow[res->findings[j].row];
            }
        if (rows > 0 && accepted == rows) {
            t->effect = ASSAY__EFFECT_ACCEPTED;
            add(&info, "significant test of %s (q = %.3g): all %zu row%s it flags are allowlisted",
                test_where(ds, t, where, sizeof where), t->q, rows, plural(rows));
        } else if (test_fails(p, t)) {
            t->effect = ASSAY__EFFECT_FAIL;
            tfail[t->det] = 1;
            n_tfail++;
            if (best_fail == NULL || t->q < best_fail->q) best_fail = t;
        } else {
            t->effect = ASSAY__EFFECT_WARN;
            twarn[t->det] = 1;
            n_twarn++;
            if (best_warn == NULL || t->q < best_warn->q) best_warn = t;
        }
    }
    /* each detector's own copy of its tests carries the verdict too, as q does */
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        for (size_t i = 0; i < res->det[d].n_tests; i++) {
            int32_t g = res->det[d].test_global[i];
            res->det[d].tests[i].effect = g >= 0 ? res->tests[g].effect : ASSAY__EFFECT_NONE;
        }
    /* budgets: rows flagged and not allowlisted */
    size_t counted = 0;
    res->allowlisted_flagged = 0;
    for (size_t r = 0; r < n; r++) {
        if (!res->flagged[r]) continue;
        if (allow != NULL && allow[r])
            res->allowlisted_flagged++;
        else
            counted++;
    }
    const double frac = n ? (double)counted / (double)n : 0.0;
    const int too_many = frac > p->scan.max_flagged_fraction;

    reasons fail = {0}, warn = {0}, pass = {0};
    if (n_tfail > 0)
        add(&fail, "%zu significant test%s at FDR %s (strongest: %s, q = %.3g)", n_tfail,
            plural(n_tfail), assay__num(fdr).s, test_where(ds, best_fail, where, sizeof where),
            best_fail->q);
    if (n_fail > 0) {
        per_detector(nf, list, sizeof list);
        add(&fail, "%zu finding%s at or above severity %s (%s)", n_fail, plural(n_fail),
            assay_severity_name(fail_on), list);
    }
    if (too_many)
        add(&fail, "flagged fraction %.4f exceeds the maximum %s (%zu of %zu rows%s)", frac,
            assay__num(p->scan.max_flagged_fraction).s, counted, n,
            res->allowlisted_flagged ? ", allowlisted rows not counted" : "");
    if (p->n_budgets > 0) {
        size_t *per_class = calloc(ds->n_classes ? ds->n_classes : 1, sizeof *per_class);
        if (per_class == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (budgets)");
        for (size_t r = 0; r < n; r++)
            if (res->flagged[r] && !(allow != NULL && allow[r]) && ds->y[r] >= 0)
                per_class[ds->y[r]]++;
        for (size_t c = 0; c < ds->n_classes; c++) {
            double b = class_budget(p, ds, c);
            double cf = ds->class_count[c] ? (double)per_class[c] / (double)ds->class_count[c] : 0;
            if (b >= 0.0 && cf > b)
                add(&fail,
                    "class '%s': flagged fraction %.4f (%zu of %zu rows) exceeds its budget %s",
                    ds->class_name[c], cf, per_class[c], ds->class_count[c], assay__num(b).s);
        }
        free(per_class);
        for (size_t i = 0; i < p->n_budgets; i++) {
            const char *k = p->budgets[i].cls;
            int found = strcmp(k, "*") == 0;
            for (size_t c = 0; c < ds->n_classes && !found; c++)
                found = strcmp(k, ds->class_name[c]) == 0 || strcmp(k, ds->class_label[c]) == 0;
            if (!found)
                add(&warn, "gate.class-budgets names class '%s', which the dataset does not have",
                    k);
        }
    }
    if (n_warn > 0) {
        per_detector(nw, list, sizeof list);
        assay_severity lo = fail_on == ASSAY_SEV_NONE                        ? warn_on
                            : warn_on == ASSAY_SEV_NONE || fail_on < warn_on ? fail_on
                                                                             : warn_on;
        add(&warn, "%zu finding%s at or above severity %s that do not fail the gate (%s)", n_warn,
            plural(n_warn), assay_severity_name(lo), list);
    }
    if (n_twarn > 0)
        add(&warn,
            "%zu significant test%s at FDR %s that only warn: observations about the data, or "
            "below fail-on (strongest: %s, q = %.3g)",
            n_twarn, plural(n_twarn), assay__num(fdr).s,
            test_where(ds, best_warn, where, sizeof where), best_warn->q);
    /* A class-distribution shift against the baseline is drift (EN 304 223 5.4.2-2, a
     * "should"): worth a reviewer's look, never a failure on its own. */
    if (isfinite(res->class_shift_p) && res->class_shift_p <= fdr)
        add(&warn,
            "the class distribution changed against the baseline (chi-square p = %.3g <= FDR %s; "
            "see baseline.class_shift)",
            res->class_shift_p, assay__num(fdr).s);
    for (size_t e = 0; e < p->n_allow; e++)
        if (st[e].expired) {
            char name[100];
            add(&warn, "allowlist entry %s (%s, owner %s) expired on %s: its %zu row%s count again",
                entry_name(&p->allow[e], name, sizeof name), p->allow[e].where, p->allow[e].owner,
                p->allow[e].expires, st[e].n_rows, plural(st[e].n_rows));
        }
    if (res->allowlisted_flagged > 0)
        add(&info, "%zu flagged row%s allowlisted, not counted", res->allowlisted_flagged,
            plural(res->allowlisted_flagged));
    if (fail.n == 0) {
        if (n_sig == 0)
            add(&pass, "no significant test at FDR %s", assay__num(fdr).s);
        else if (n_tfail == 0)
            add(&pass, "no significant test of a failing detector at FDR %s", assay__num(fdr).s);
        if (fail_on == ASSAY_SEV_NONE)
            add(&pass, "severities do not fail the gate (--fail-on none)");
        else
            add(&pass, "no finding at or above severity %s", assay_severity_name(fail_on));
        add(&pass, "flagged fraction %.4f <= %.4f", frac, p->scan.max_flagged_fraction);
    }

    res->verdict = fail.n ? ASSAY_VERDICT_FAIL : warn.n ? ASSAY_VERDICT_WARN : ASSAY_VERDICT_PASS;
    res->gate_passed = res->verdict != ASSAY_VERDICT_FAIL;
    res->exit_zero = p->exit_zero;
    res->exit_code = res->verdict == ASSAY_VERDICT_FAIL && !p->exit_zero ? 1 : 0;
    res->warn_on = warn_on;
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        res->det_verdict[d] = !res->det[d].ran        ? ASSAY__DV_NOT_RUN
                              : nf[d] > 0 || tfail[d] ? ASSAY__DV_FAIL
                              : nw[d] > 0 || twarn[d] ? ASSAY__DV_WARN
                                                      : ASSAY__DV_PASS;
    /* the reasons in order: failures, warnings, accepted, what passed */
    for (size_t i = 0; i < res->n_gate_reasons; i++) free(res->gate_reasons[i]);
    free(res->gate_reasons);
    res->gate_reasons = NULL;
    res->n_gate_reasons = 0;
    reasons *groups[] = {&fail, &warn, &info, &pass};
    size_t total = fail.n + warn.n + info.n + pass.n;
    int oom = fail.oom || warn.oom || info.oom || pass.oom;
    res->gate_reasons = oom ? NULL : malloc((total ? total : 1) * sizeof *res->gate_reasons);
    res->gate_reason[0] = '\0';
    for (size_t g = 0; g < 4; g++) {
        for (size_t i = 0; i < groups[g]->n; i++) {
            if (res->gate_reasons != NULL) {
                res->gate_reasons[res->n_gate_reasons++] = groups[g]->v[i];
                size_t used = strlen(res->gate_reason);
                snprintf(res->gate_reason + used, sizeof res->gate_reason - used, "%s%s",
                         used ? "; " : "", groups[g]->v[i]);
            } else {
                free(groups[g]->v[i]);
            }
        }
        free(groups[g]->v);
    }
    if (res->gate_reasons == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (gate)");
    return ASSAY_OK;
}

/* The gate for a policy: the allowlist, the verdict, and (for a user's policy) the report's
 * "policy" block. */
static assay_status run_gate(assay_ctx *ctx, const assay_dataset *ds, assay_result *res,
                             const assay_policy *p, int record) {
    allow_state *st = calloc(p->n_allow ? p->n_allow : 1, sizeof *st);
    if (st == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (allowlist)");
    free(res->allowlisted);
    res->allowlisted = NULL;
    assay_status s = match_allowlist(ctx, ds, res, p, st);
    if (s == ASSAY_OK) s = evaluate(ctx, ds, res, p, st);
    if (s == ASSAY_OK && record) {
        char sha[65], fsha[65];
        json_t *allow = json_array();
        json_t *eff = assay__policy_effective(p);
        json_t *entries = json_object_get(eff, "allowlist");
        for (size_t e = 0; e < p->n_allow; e++) {
            json_t *o = json_deep_copy(json_array_get(entries, e));
            json_t *rows = json_array();
            for (size_t i = 0; i < st[e].n_rows; i++)
                json_array_append_new(rows, json_integer((json_int_t)st[e].rows[i]));
            json_object_set_new(o, "status",
                                json_string(st[e].expired  ? "expired"
                                            : st[e].n_rows ? "active"
                                                           : "unused"));
            json_object_set_new(o, "where", json_string(p->allow[e].where));
            json_object_set_new(o, "rows", rows);
            json_array_append_new(allow, o);
        }
        if (p->file) assay__hex32(p->file_sha256, fsha);
        if (assay__policy_sha256(p, sha) != 0) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        json_decref(res->policy_doc);
        res->policy_doc =
            json_pack("{s:o, s:o, s:s, s:o, s:o, s:o}", "file",
                      p->file ? assay__json_str(p->file) : json_null(), "file_sha256",
                      p->file ? json_string(fsha) : json_null(), "sha256", sha, "effective", eff,
                      "sources", assay__policy_sources(p), "allowlist", allow);
        if (res->policy_doc == NULL && s == ASSAY_OK)
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy block)");
    }
    for (size_t e = 0; e < p->n_allow; e++) free(st[e].rows);
    free(st);
    return s;
}

assay_status assay__gate_default(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    assay_policy *p = NULL;
    ASSAY_TRY(assay_policy_create(ctx, &p));
    p->scan = res->opts;
    assay_status s = run_gate(ctx, ds, res, p, 0);
    assay_policy_destroy(p);
    return s;
}

assay_status assay_policy_apply(assay_ctx *ctx, const assay_dataset *ds, assay_result *res,
                                const assay_policy *p, assay_verdict *verdict) {
    if (ds == NULL || res == NULL || p == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_apply: NULL argument");
    if (res->policy_applied)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "assay_policy_apply: a policy was already applied "
                           "to this result");
    if (detector_settings_change(p)) ASSAY_TRY(apply_detector_settings(ctx, ds, res, p));
    /* the report's gate parameters are the policy's */
    res->opts.fail_on = p->scan.fail_on;
    res->opts.max_flagged_fraction = p->scan.max_flagged_fraction;
    ASSAY_TRY(run_gate(ctx, ds, res, p, 1));
    res->policy_applied = 1;
    if (verdict != NULL) *verdict = (assay_verdict)res->verdict;
    return ASSAY_OK;
}

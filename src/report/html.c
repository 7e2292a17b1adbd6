/* SPDX-License-Identifier: Apache-2.0 */
/* report.html: one self-contained page a reviewer opens in a browser, rendered from the report
 * document alone. No scripts, no external resources (styles inline, plots inline SVG), so it
 * works offline, from an archive or a CI artifact, and prints. Everything taken from the
 * document is escaped: labels, ids and paths come from user files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/outfile.h"
#include "report/render.h"
#include "report/svg.h"

#define TOP_ROWS   50 /* flagged rows listed with their evidence */
#define MAX_BARS   30 /* classes in the per-class bar charts */
#define MAX_LEGEND 12 /* classes named in the scatter's legend */

/* Colours of classes in the scatter (cycled), of severities, and of the flag side of a
 * histogram. Colour-blind-safe qualitative palette (Okabe and Ito 2008, plus greys). */
static const char *const k_class_colours[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                              "#56b4e9", "#d55e00", "#f0e442", "#6a3d9a",
                                              "#999999", "#8c564b"};
#define N_CLASS_COLOURS (sizeof k_class_colours / sizeof k_class_colours[0])
static const char *const k_sev_names[] = {"low", "medium", "high", "critical"};
static const char *const k_sev_colours[] = {"#f2c14e", "#f08a24", "#d1495b", "#7b1e3a"};

static const char k_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2329;"
    "margin:0;background:#fff}\n"
    "main{max-width:1220px;margin:0 auto;padding:18px 24px 40px}\n"
    "h1{font-size:22px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 8px;"
    "border-bottom:1px solid #d5dbe1;padding-bottom:4px}h3{font-size:15px;margin:14px 0 4px}\n"
    ".meta{color:#57606a;font-size:13px}code,.mono{font-family:ui-monospace,Menlo,Consolas,"
    "monospace;font-size:12.5px;word-break:break-all}\n"
    ".verdict{border-radius:6px;padding:12px 16px;margin:14px 0;border:2px solid}\n"
    ".verdict b.big{font-size:22px;letter-spacing:.04em;margin-right:10px}\n"
    ".v-pass{background:#e8f5e9;border-color:#2e7d32}.v-pass b.big{color:#1b5e20}\n"
    ".v-warn{background:#fff8e1;border-color:#f9a825}.v-warn b.big{color:#8d6e00}\n"
    ".v-fail{background:#fdecea;border-color:#c62828}.v-fail b.big{color:#b71c1c}\n"
    ".verdict ul{margin:6px 0 0 18px;padding:0}\n"
    "table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}\n"
    "th,td{border:1px solid #d5dbe1;padding:4px 7px;text-align:left;vertical-align:top}\n"
    "th{background:#f3f5f7;font-weight:600}td.n{text-align:right;font-variant-numeric:"
    "tabular-nums;white-space:nowrap}\n"
    "table.kv th{width:210px}\n"
    ".sev{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;color:#fff}\n"
    ".sev-low{background:#b38600}.sev-medium{background:#d46b08}.sev-high{background:#c62828}"
    ".sev-critical{background:#7b1e3a}\n"
    ".yes{color:#b71c1c;font-weight:600}.no{color:#57606a}.muted{color:#57606a}\n"
    ".grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:10px 18px}"
    "\n"
    "figure{margin:8px 0}figcaption{font-size:12.5px;color:#57606a;margin-top:2px}\n"
    "svg{max-width:100%;height:auto;font-family:inherit}\n"
    "svg .grid{stroke:#e6e9ed}svg .axis{stroke:#57606a}svg .tick{font-size:11px;fill:#57606a}\n"
    "svg .axis-title{font-size:12px;fill:#1d2329}svg .lbl{font-size:11px;fill:#1d2329}\n"
    "svg .cut{stroke:#c62828;stroke-width:1.5;stroke-dasharray:5 3}\n"
    ".note{background:#f3f5f7;border-left:4px solid #8c959f;padding:8px 12px;margin:8px 0}\n"
    "@media print{main{max-width:none;padding:0}h2{break-after:avoid}figure,tr,.verdict{"
    "break-inside:avoid}a{color:inherit;text-decoration:none}}\n";

/* ---- reading the document ---- */

static const char *str_of(const json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

static double num_of(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void esc(FILE *fp, const char *s) {
    assay__xml_put(fp, s, 1);
}

/* A number from the document as text: integers exactly, reals to 4 significant digits for the
 * reader with the exact value (its shortest round-trip text) as the tooltip when that differs,
 * strings as they are, null as "n/a". */
static void put_value(FILE *fp, const json_t *v) {
    char buf[64], exact[ASSAY__NUM_BUF];
    if (json_is_integer(v)) {
        fprintf(fp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        assay__svg_num(buf, sizeof buf, json_real_value(v));
        assay__fmt_double(exact, json_real_value(v));
        if (strcmp(buf, exact) != 0)
            fprintf(fp, "<span title=\"%s\">%s</span>", exact, buf);
        else
            fputs(buf, fp);
    } else if (json_is_string(v)) {
        esc(fp, json_string_value(v));
    } else if (json_is_boolean(v)) {
        fputs(json_is_true(v) ? "yes" : "no", fp);
    } else {
        fputs("<span class=\"muted\">n/a</span>", fp);
    }
}

static void td_num(FILE *fp, const json_t *v) {
    fputs("<td class=\"n\">", fp);
    put_value(fp, v);
    fputs("</td>", fp);
}

static void td_text(FILE *fp, const char *s) {
    fputs("<td>", fp);
    esc(fp, s);
    fputs("</td>", fp);
}

static void sev_badge(FILE *fp, const char *sev) {
    if (sev == NULL || strcmp(sev, "none") == 0) return;
    fputs("<span class=\"sev sev-", fp);
    esc(fp, sev);
    fputs("\">", fp);
    esc(fp, sev);
    fputs("</span>", fp);
}

static const char *class_colour(json_int_t c) {
    return c < 0 ? "#444" : k_class_colours[(size_t)c % N_CLASS_COLOURS];
}

/* Display name of class index c from input.classes ("?" when unknown). */
static const char *class_name(const json_t *doc, json_int_t c) {
    const json_t *cl = json_array_get(json_object_get(json_object_get(doc, "input"), "classes"),
                                      c < 0 ? (size_t)-1 : (size_t)c);
    const char *s = str_of(cl, "name");
    return s ? s : "?";
}

/* ---- sections ---- */

static void header(FILE *fp, const json_t *doc) {
    const json_t *in = json_object_get(doc, "input"), *tool = json_object_get(doc, "tool");
    fputs("<header><h1>assay scan report: ", fp);
    esc(fp, str_of(in, "path"));
    fputs("</h1>\n<div class=\"meta\">", fp);
    esc(fp, str_of(tool, "name"));
    fputc(' ', fp);
    esc(fp, str_of(tool, "version"));
    fputs(" &middot; started ", fp);
    esc(fp, str_of(doc, "started"));
    fputs(" &middot; finished ", fp);
    esc(fp, str_of(doc, "finished"));
    fputs(" &middot; report schema ", fp);
    esc(fp, str_of(doc, "schema"));
    fputs("<br>command: <code>", fp);
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(doc, "command"), i, a) {
        if (i) fputc(' ', fp);
        esc(fp, json_string_value(a));
    }
    fputs("</code></div></header>\n", fp);
}

static void gate_section(FILE *fp, const json_t *doc) {
    const json_t *g = json_object_get(doc, "gate"), *sum = json_object_get(doc, "summary");
    const char *verdict = str_of(g, "verdict");
    if (verdict == NULL) verdict = json_is_true(json_object_get(g, "passed")) ? "pass" : "fail";
    const char *cls = strcmp(verdict, "pass") == 0   ? "v-pass"
                      : strcmp(verdict, "warn") == 0 ? "v-warn"
                                                     : "v-fail";
    fprintf(fp, "<section id=\"gate\" class=\"verdict %s\"><b class=\"big\" id=\"verdict\">GATE ",
            cls);
    for (const char *p = verdict; *p; p++) fputc(*p >= 'a' && *p <= 'z' ? *p - 32 : *p, fp);
    fputs("</b>exit code ", fp);
    put_value(fp, json_object_get(g, "exit_code"));
    fputs(" &middot; fail on severity ", fp);
    put_value(fp, json_object_get(g, "fail_on"));
    fputs(" &middot; flagged-fraction budget ", fp);
    put_value(fp, json_object_get(g, "max_flagged_fraction"));
    const json_t *reasons = json_object_get(g, "reasons");
    fputs("<ul>", fp);
    if (json_array_size(reasons) > 0) {
        size_t i;
        const json_t *r;
        json_array_foreach(reasons, i, r) {
            fputs("<li>", fp);
            esc(fp, json_string_value(r));
            fputs("</li>", fp);
        }
    } else {
        fputs("<li>", fp);
        esc(fp, str_of(g, "reason"));
        fputs("</li>", fp);
    }
    fputs("</ul>\n<div>", fp);
    put_value(fp, json_object_get(sum, "flagged"));
    fputs(" of ", fp);
    put_value(fp, json_object_get(sum, "rows"));
    fprintf(fp, " rows flagged (%.2f%%); flagged rows by highest severity: ",
            100.0 * num_of(sum, "flagged_fraction"));
    const json_t *by = json_object_get(sum, "rows_by_severity");
    for (int s = 0; s < 4; s++) {
        if (s) fputs(", ", fp);
        put_value(fp, json_object_get(by, k_sev_names[s]));
        fprintf(fp, " %s", k_sev_names[s]);
    }
    fputs(". A pass means the checks ran and found nothing at or above the gate's levels; it is "
          "not proof that the data is clean.</div></section>\n",
          fp);
}

static void fingerprint_section(FILE *fp, const json_t *doc) {
    const json_t *in = json_object_get(doc, "input");
    fputs("<section id=\"fingerprint\"><h2>Dataset fingerprint</h2>\n<table class=\"kv\">", fp);
    static const char *const keys[][2] = {{"path", "Input"},
                                          {"format", "Format"},
                                          {"rows", "Rows"},
                                          {"dims", "Dimensions"},
                                          {"dataset_sha256", "Dataset SHA-256"},
                                          {"row_hash", "Row hash"},
                                          {"rows_in_graph", "Rows in the neighbour graph"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fprintf(fp, "<tr><th>%s</th><td%s>", keys[i][1],
                strcmp(keys[i][0], "dataset_sha256") == 0 ? " class=\"mono\"" : "");
        put_value(fp, json_object_get(in, keys[i][0]));
        fputs("</td></tr>", fp);
    }
    fputs("<tr><th>Classes</th><td>", fp);
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(in, "classes"), i, c) {
        if (i) fputs(", ", fp);
        esc(fp, str_of(c, "name"));
        fputs(" (", fp);
        put_value(fp, json_object_get(c, "count"));
        fputc(')', fp);
    }
    fputs("</td></tr></table>\n<h3>Input files</h3><table><tr><th>Role</th><th>Path</th>"
          "<th>Bytes</th><th>SHA-256</th></tr>",
          fp);
    json_array_foreach(json_object_get(in, "files"), i, c) {
        fputs("<tr>", fp);
        td_text(fp, str_of(c, "role"));
        td_text(fp, str_of(c, "path"));
        td_num(fp, json_object_get(c, "bytes"));
        fputs("<td class=\"mono\">", fp);
        esc(fp, str_of(c, "sha256"));
        fputs("</td></tr>\n", fp);
    }
    fputs("</table></section>\n", fp);
}

static void detectors_section(FILE *fp, const json_t *doc) {
    const json_t *dets = json_object_get(doc, "detectors");
    int has_verdict = 0;
    size_t i;
    const json_t *d;
    json_array_foreach(dets, i, d) has_verdict |= json_object_get(d, "verdict") != NULL;
    fputs("<section id=\"detectors\"><h2>Detectors</h2>\n<table><tr><th>Detector</th>"
          "<th>Kind</th><th>Ran</th><th>Flag rule</th><th>Threshold</th><th>Statistics</th>"
          "<th>Flagged</th>",
          fp);
    if (has_verdict) fputs("<th>Verdict</th>", fp);
    fputs("</tr>\n", fp);
    json_array_foreach(dets, i, d) {
        int ran = json_is_true(json_object_get(d, "ran"));
        fputs("<tr>", fp);
        td_text(fp, str_of(d, "name"));
        td_text(fp, str_of(d, "kind"));
        fputs(ran ? "<td>yes</td><td>" : "<td class=\"muted\">no</td><td>", fp);
        if (!ran && str_of(d, "note")) {
            fputs("<span class=\"muted\">not run: ", fp);
            esc(fp, str_of(d, "note"));
            fputs("</span>", fp);
        } else {
            esc(fp, str_of(d, "rule"));
        }
        fputs("</td>", fp);
        td_num(fp, json_object_get(d, "threshold"));
        fputs("<td>", fp);
        const char *k;
        const json_t *v;
        int first = 1;
        json_object_foreach((json_t *)json_object_get(d, "stats"), k, v) {
            if (!first) fputs("; ", fp);
            first = 0;
            esc(fp, k);
            fputs(" = ", fp);
            put_value(fp, v);
        }
        fputs("</td>", fp);
        td_num(fp, json_object_get(d, "flagged"));
        if (has_verdict) td_text(fp, str_of(d, "verdict"));
        fputs("</tr>\n", fp);
    }
    fputs("</table></section>\n", fp);
}

/* Order of the tests table: significant first, then by q-value (missing last), then as listed. */
typedef struct test_ref {
    const json_t *t;
    size_t i;
} test_ref;

static int cmp_tests(const void *pa, const void *pb) {
    const test_ref *a = pa, *b = pb;
    int sa = json_is_true(json_object_get(a->t, "significant"));
    int sb = json_is_true(json_object_get(b->t, "significant"));
    if (sa != sb) return sb - sa;
    double qa = num_of(a->t, "q_value"), qb = num_of(b->t, "q_value");
    if (isnan(qa)) qa = INFINITY;
    if (isnan(qb)) qb = INFINITY;
    if (qa != qb) return qa < qb ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static assay_status tests_section(assay_ctx *ctx, FILE *fp, const json_t *doc, const char *path) {
    const json_t *tests = json_object_get(doc, "tests");
    size_t n = json_array_size(tests);
    test_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (refs == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) refs[i] = (test_ref){json_array_get(tests, i), i};
    qsort(refs, n, sizeof *refs, cmp_tests);
    fputs("<section id=\"tests\"><h2>Tests against &ldquo;no poison&rdquo;</h2>\n<p "
          "class=\"meta\">Per-class and per-dataset hypothesis tests, Benjamini-Hochberg adjusted "
          "together (q-value). A significant test fails the gate when it is evidence of "
          "poisoning at the gate's severity; an observation about the data only warns. "
          "Significant tests first.</p>\n<table><tr><th>Detector</th><th>Class</th>"
          "<th>Statistic</th><th>Value</th><th>p</th><th>q</th><th>Significant</th>"
          "<th>Gate</th><th>What was seen</th></tr>\n",
          fp);
    for (size_t i = 0; i < n; i++) {
        const json_t *t = refs[i].t;
        int sig = json_is_true(json_object_get(t, "significant"));
        fputs("<tr>", fp);
        td_text(fp, str_of(t, "detector"));
        td_text(fp, str_of(t, "class") ? str_of(t, "class") : "(dataset)");
        td_text(fp, str_of(t, "statistic"));
        td_num(fp, json_object_get(t, "value"));
        td_num(fp, json_object_get(t, "p_value"));
        td_num(fp, json_object_get(t, "q_value"));
        fputs(sig ? "<td class=\"yes\">yes</td>" : "<td class=\"no\">no</td>", fp);
        td_text(fp, str_of(t, "gate") ? str_of(t, "gate") : sig ? "fail" : "");
        td_text(fp, str_of(t, "detail"));
        fputs("</tr>\n", fp);
    }
    if (n == 0) fputs("<tr><td colspan=\"9\" class=\"muted\">no tests ran</td></tr>", fp);
    fputs("</table></section>\n", fp);
    free(refs);
    return ASSAY_OK;
}

/* ---- plots ---- */

static void histogram_svg(FILE *fp, const json_t *h) {
    const json_t *edges = json_object_get(h, "edges"), *counts = json_object_get(h, "counts");
    size_t nb = json_array_size(counts);
    if (nb == 0 || json_array_size(edges) != nb + 1) return;
    double max = 1.0;
    for (size_t b = 0; b < nb; b++) {
        double c = json_number_value(json_array_get(counts, b));
        if (c > max) max = c;
    }
    double cut = num_of(h, "cut");
    const char *name = str_of(h, "detector");
    char label[160];
    snprintf(label, sizeof label, "%s: rows by calibrated evidence (log scale), flag at >= 0.5",
             name ? name : "?");
    fputs("<figure>", fp);
    assay__svg_begin(fp, 400, 230, label);
    assay__svg_frame f = {52,
                          24,
                          330,
                          150,
                          json_number_value(json_array_get(edges, 0)),
                          json_number_value(json_array_get(edges, nb)),
                          0,
                          max,
                          1};
    assay__svg_text(fp, f.left, 14, "start", "axis-title", 0, name);
    assay__svg_axes(fp, &f, 1, "calibrated evidence (detector flags at >= 0.5)", "rows");
    for (size_t b = 0; b < nb; b++) {
        double c = json_number_value(json_array_get(counts, b));
        if (c <= 0) continue;
        double lo = json_number_value(json_array_get(edges, b));
        double hi = json_number_value(json_array_get(edges, b + 1));
        double x0 = assay__svg_x(&f, lo), x1 = assay__svg_x(&f, hi), y = assay__svg_y(&f, c);
        fprintf(fp,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                "<title>%.0f rows with evidence in [%g, %g)</title></rect>\n",
                x0 + 0.5, y, x1 - x0 - 1.0 > 0.5 ? x1 - x0 - 1.0 : 0.5, f.top + f.height - y,
                lo >= cut ? "#c62828" : "#5b7fa6", c, lo, hi);
    }
    if (isfinite(cut)) {
        double x = assay__svg_x(&f, cut);
        fprintf(fp, "<line class=\"cut\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
                f.top - 4, x, f.top + f.height);
    }
    assay__svg_end(fp);
    fputs("<figcaption>", fp);
    put_value(fp, json_object_get(h, "rows"));
    fputs(" rows scored, ", fp);
    put_value(fp, json_object_get(h, "rows_at_or_above_cut"));
    fputs(" at or above the cut. Threshold in the detector's own units: ", fp);
    put_value(fp, json_object_get(h, "threshold"));
    fputs(".</figcaption></figure>\n", fp);
}

/* Stacked bars per class: flagged rows by severity (the classes with the most flags when there
 * are many). */
static int cmp_flagged_desc(const void *pa, const void *pb) {
    const json_t *a = *(const json_t *const *)pa, *b = *(const json_t *const *)pb;
    double fa = num_of(a, "flagged"), fb = num_of(b, "flagged");
    if (fa != fb) return fa > fb ? -1 : 1;
    double ia = num_of(a, "index"), ib = num_of(b, "index");
    if (ia < 0) ia = INFINITY; /* the "outside the set" entry last among equals */
    if (ib < 0) ib = INFINITY;
    return (ia > ib) - (ia < ib);
}

static assay_status class_bars_svg(assay_ctx *ctx, FILE *fp, const json_t *classes,
                                   const char *path) {
    size_t n = json_array_size(classes);
    if (n == 0) return ASSAY_OK;
    const json_t **sel = malloc(n * sizeof *sel);
    if (sel == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) sel[i] = json_array_get(classes, i);
    size_t shown = n;
    if (n > MAX_BARS) {
        qsort(sel, n, sizeof *sel, cmp_flagged_desc);
        shown = MAX_BARS;
    }
    double max = 1.0;
    for (size_t i = 0; i < shown; i++)
        if (num_of(sel[i], "flagged") > max) max = num_of(sel[i], "flagged");
    int w = 760, h = 300;
    assay__svg_begin(fp, w, h, "Flagged rows per class, by severity");
    assay__svg_frame f = {60, 30, (double)w - 80, 170, 0, (double)shown, 0, max, 0};
    assay__svg_axes(fp, &f, 0, NULL, "flagged rows");
    double slot = f.width / (double)shown, bw = slot * 0.7 > 40 ? 40 : slot * 0.7;
    for (size_t i = 0; i < shown; i++) {
        const json_t *c = sel[i], *by = json_object_get(c, "by_severity");
        double x = f.left + slot * ((double)i + 0.5), acc = 0.0;
        for (int s = 0; s < 4; s++) {
            double v = num_of(by, k_sev_names[s]);
            if (!(v > 0)) continue;
            double y0 = assay__svg_y(&f, acc), y1 = assay__svg_y(&f, acc + v);
            fprintf(fp,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>",
                    x - bw / 2, y1, bw, y0 - y1, k_sev_colours[s]);
            esc(fp, str_of(c, "name"));
            fprintf(fp, ": %.0f %s</title></rect>\n", v, k_sev_names[s]);
            acc += v;
        }
        char buf[64];
        snprintf(buf, sizeof buf, "%.0f/%.0f", num_of(c, "flagged"), num_of(c, "rows"));
        if (shown <= 16)
            assay__svg_text(fp, x, assay__svg_y(&f, acc) - 4, "middle", "tick", 0, buf);
        assay__svg_text(fp, x + 3, f.top + f.height + 12, "end", "lbl", -40, str_of(c, "name"));
    }
    /* legend */
    for (int s = 0; s < 4; s++) {
        double x = f.left + 10 + s * 95;
        fprintf(fp, "<rect x=\"%.1f\" y=\"6\" width=\"11\" height=\"11\" fill=\"%s\"/>\n", x,
                k_sev_colours[s]);
        assay__svg_text(fp, x + 15, 16, "start", "lbl", 0, k_sev_names[s]);
    }
    assay__svg_end(fp);
    fputs("<figcaption>Flagged rows per class, stacked by each row's highest severity "
          "(labels: flagged/rows).",
          fp);
    if (shown < n)
        fprintf(fp, " The %zu classes with the most flagged rows of %zu are shown.", shown, n);
    fputs("</figcaption>\n", fp);
    free(sel);
    return ASSAY_OK;
}

static void pca_svg(FILE *fp, const json_t *doc, const json_t *pca) {
    if (!json_is_true(json_object_get(pca, "available"))) {
        fputs("<p class=\"note\">No embedding scatter: ", fp);
        esc(fp, str_of(pca, "reason"));
        fputs(".</p>\n", fp);
        return;
    }
    const json_t *pts = json_object_get(pca, "points");
    size_t n = json_array_size(pts);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    json_int_t max_class = -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(pts, i);
        double x = json_number_value(json_array_get(p, 0)),
               y = json_number_value(json_array_get(p, 1));
        json_int_t c = json_integer_value(json_array_get(p, 2));
        if (x < xlo) xlo = x;
        if (x > xhi) xhi = x;
        if (y < ylo) ylo = y;
        if (y > yhi) yhi = y;
        if (c > max_class) max_class = c;
    }
    if (n == 0) xlo = ylo = -1, xhi = yhi = 1;
    double px = (xhi - xlo) * 0.04 + 1e-12, py = (yhi - ylo) * 0.04 + 1e-12;
    int w = 900, h = 600;
    const json_t *ev = json_object_get(pca, "explained_variance");
    char xt[96], yt[96];
    snprintf(xt, sizeof xt, "PC 1 (%.1f%% of the variance)",
             100.0 * json_number_value(json_array_get(ev, 0)));
    snprintf(yt, sizeof yt, "PC 2 (%.1f%% of the variance)",
             100.0 * json_number_value(json_array_get(ev, 1)));
    assay__svg_begin(fp, w, h,
                     "Embeddings on their top two principal directions, flagged rows "
                     "ringed in red");
    assay__svg_frame f = {70, 20, 640, 520, xlo - px, xhi + px, ylo - py, yhi + py, 0};
    assay__svg_axes(fp, &f, 1, xt, yt);
    /* unflagged rows first, flagged rows on top */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const json_t *p = json_array_get(pts, i);
            int flagged = (int)json_integer_value(json_array_get(p, 3));
            if (flagged != pass) continue;
            double x = assay__svg_x(&f, json_number_value(json_array_get(p, 0)));
            double y = assay__svg_y(&f, json_number_value(json_array_get(p, 1)));
            json_int_t c = json_integer_value(json_array_get(p, 2));
            if (!flagged) {
                fprintf(fp,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\" "
                        "fill-opacity=\"0.55\"/>\n",
                        x, y, class_colour(c));
            } else {
                fprintf(fp,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#c62828\" "
                        "stroke-width=\"2\"><title>row %" JSON_INTEGER_FORMAT " (",
                        x, y, class_colour(c), json_integer_value(json_array_get(p, 4)));
                esc(fp, class_name(doc, c));
                fputs(")</title></circle>\n", fp);
            }
        }
    }
    /* legend: the first classes, then the flagged marker */
    double lx = f.left + f.width + 20, ly = f.top + 10;
    json_int_t shown = max_class + 1 < MAX_LEGEND ? max_class + 1 : MAX_LEGEND;
    for (json_int_t c = 0; c < shown; c++, ly += 18) {
        fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", lx, ly - 4,
                class_colour(c));
        assay__svg_text(fp, lx + 10, ly, "start", "lbl", 0, class_name(doc, c));
    }
    if (max_class + 1 > shown) {
        char buf[64];
        snprintf(buf, sizeof buf, "... %" JSON_INTEGER_FORMAT " classes in all (colours repeat)",
                 max_class + 1);
        assay__svg_text(fp, lx, ly, "start", "tick", 0, buf);
        ly += 18;
    }
    ly += 8;
    fprintf(fp,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#fff\" stroke=\"#c62828\" "
            "stroke-width=\"2\"/>\n",
            lx, ly - 4);
    assay__svg_text(fp, lx + 10, ly, "start", "lbl", 0, "flagged row");
    assay__svg_end(fp);
    fputs("<figcaption>", fp);
    put_value(fp, json_object_get(pca, "points_shown"));
    fputs(" of ", fp);
    put_value(fp, json_object_get(pca, "rows_in_graph"));
    fputs(" rows in the graph shown, ", fp);
    put_value(fp, json_object_get(pca, "flagged_shown"));
    fputs(" of the ", fp);
    put_value(fp, json_object_get(pca, "flagged_in_graph"));
    fputs(" flagged rows among them. ", fp);
    esc(fp, str_of(pca, "method"));
    fputs(". Hover a ringed point for its row index.</figcaption>\n", fp);
}

static void class_shift_svg(FILE *fp, const json_t *shift) {
    const json_t *classes = json_object_get(shift, "classes");
    size_t n = json_array_size(classes), shown = n < MAX_BARS ? n : MAX_BARS;
    double max = 1.0;
    for (size_t i = 0; i < shown; i++) {
        const json_t *c = json_array_get(classes, i);
        if (num_of(c, "old") > max) max = num_of(c, "old");
        if (num_of(c, "new") > max) max = num_of(c, "new");
    }
    int w = 760, h = 300;
    assay__svg_begin(fp, w, h, "Rows per class: baseline against this scan");
    assay__svg_frame f = {60, 30, (double)w - 80, 170, 0, (double)(shown ? shown : 1), 0, max, 0};
    assay__svg_axes(fp, &f, 0, NULL, "rows");
    double slot = f.width / (double)(shown ? shown : 1), bw = slot * 0.35 > 22 ? 22 : slot * 0.35;
    static const char *const colours[2] = {"#9aa5b1", "#0072b2"};
    static const char *const keys[2] = {"old", "new"};
    for (size_t i = 0; i < shown; i++) {
        const json_t *c = json_array_get(classes, i);
        double x = f.left + slot * ((double)i + 0.5);
        const char *name = str_of(c, "name") ? str_of(c, "name") : str_of(c, "label");
        for (int k = 0; k < 2; k++) {
            double v = num_of(c, keys[k]);
            if (!(v > 0)) continue;
            double y = assay__svg_y(&f, v);
            fprintf(fp,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>",
                    x - bw + k * bw, y, bw, f.top + f.height - y, colours[k]);
            esc(fp, name);
            fprintf(fp, ": %.0f rows (%s)</title></rect>\n", v, k ? "this scan" : "baseline");
        }
        assay__svg_text(fp, x + 3, f.top + f.height + 12, "end", "lbl", -40, name);
    }
    for (int k = 0; k < 2; k++) {
        double x = f.left + 10 + k * 110;
        fprintf(fp, "<rect x=\"%.1f\" y=\"6\" width=\"11\" height=\"11\" fill=\"%s\"/>\n", x,
                colours[k]);
        assay__svg_text(fp, x + 15, 16, "start", "lbl", 0, k ? "this scan" : "baseline");
    }
    assay__svg_end(fp);
    fputs("<figcaption>Chi-square ", fp);
    put_value(fp, json_object_get(shift, "chi2"));
    fputs(" on ", fp);
    put_value(fp, json_object_get(shift, "df"));
    fputs(" degrees of freedom, p = ", fp);
    put_value(fp, json_object_get(shift, "p_value"));
    fputs(" (the class counts of this scan against the baseline's).", fp);
    if (shown < n) fprintf(fp, " The first %zu of %zu classes are shown.", shown, n);
    if (str_of(shift, "note")) {
        fputc(' ', fp);
        esc(fp, str_of(shift, "note"));
    }
    fputs("</figcaption>\n", fp);
}

static assay_status plots_section(assay_ctx *ctx, FILE *fp, const json_t *doc, const char *path) {
    const json_t *plots = json_object_get(doc, "plots");
    fputs("<section id=\"plots\"><h2>Plots</h2>\n", fp);
    if (!json_is_object(plots)) {
        fputs("<p class=\"note\">This report.json has no plot data (\"plots\").</p></section>\n",
              fp);
        return ASSAY_OK;
    }
    fputs("<h3>Flagged rows per class</h3>\n<figure>", fp);
    ASSAY_TRY(class_bars_svg(ctx, fp, json_object_get(plots, "flagged_by_class"), path));
    fputs("</figure>\n<h3>Embeddings (principal components)</h3>\n<figure>", fp);
    pca_svg(fp, doc, json_object_get(plots, "pca"));
    fputs("</figure>\n<h3>Class distribution against the baseline</h3>\n", fp);
    const json_t *shift = json_object_get(json_object_get(doc, "baseline"), "class_shift");
    if (json_is_object(shift)) {
        fputs("<figure>", fp);
        class_shift_svg(fp, shift);
        fputs("</figure>\n", fp);
    } else {
        fputs("<p class=\"note\">No baseline given: run <code>assay scan NEW --baseline "
              "OLD/manifest.json</code> to compare the class distribution with an accepted "
              "dataset.</p>\n",
              fp);
    }
    fputs("<h3>Detector evidence per row</h3>\n<p class=\"meta\">Each detector's per-row evidence "
          "is calibrated so that the detector flags a row exactly when it reaches 0.5 (dashed "
          "line); bars at or above it are red. Counts on a log scale.</p>\n<div class=\"grid2\">",
          fp);
    size_t i;
    const json_t *h;
    json_array_foreach(json_object_get(plots, "score_histograms"), i, h) histogram_svg(fp, h);
    fputs("</div></section>\n", fp);
    return ASSAY_OK;
}

/* The top flagged rows: findings are listed per finding, grouped by row in rank order. */
static void flagged_section(FILE *fp, const json_t *doc, assay__findings *findings) {
    size_t n = assay__findings_count(findings), rows = 0;
    fputs("<section id=\"flagged\"><h2>Top flagged rows</h2>\n", fp);
    if (n == 0) {
        fputs("<p>No rows were flagged.</p></section>\n", fp);
        return;
    }
    fputs("<table><tr><th>Rank</th><th>Row</th><th>Id</th><th>Label</th><th>Score</th>"
          "<th>Findings (detector, severity: evidence)</th><th>Suggested label</th></tr>\n",
          fp);
    for (size_t i = 0; i < n && rows < TOP_ROWS;) {
        const json_t *f = assay__findings_at(findings, i);
        size_t j = assay__doc_row_end(findings, i);
        fputs("<tr>", fp);
        td_num(fp, json_object_get(f, "rank"));
        fputs("<td class=\"n row\">", fp);
        put_value(fp, json_object_get(f, "index"));
        const json_t *line = json_object_get(json_object_get(f, "location"), "line");
        if (json_is_integer(line)) {
            fputs("<br><span class=\"muted\">line ", fp);
            put_value(fp, line);
            fputs("</span>", fp);
        }
        fputs("</td><td>", fp);
        put_value(fp, json_object_get(f, "id"));
        fputs("</td><td>", fp);
        put_value(fp, json_object_get(f, "class"));
        fputs("</td>", fp);
        td_num(fp, json_object_get(f, "score"));
        fputs("<td>", fp);
        for (size_t k = i; k < j; k++) {
            const json_t *g = assay__findings_at(findings, k);
            if (k > i) fputs("<br>", fp);
            fputs("<b>", fp);
            esc(fp, str_of(g, "detector"));
            fputs("</b> ", fp);
            sev_badge(fp, str_of(g, "severity"));
            fputs(": ", fp);
            esc(fp, str_of(g, "explanation"));
        }
        fputs("</td><td>", fp);
        put_value(fp, json_object_get(f, "suggested_label"));
        fputs("</td></tr>\n", fp);
        rows++;
        i = j;
    }
    fputs("</table>\n<p class=\"meta\">", fp);
    put_value(fp, json_object_get(json_object_get(doc, "summary"), "flagged"));
    fprintf(fp,
            " rows flagged in all; the first %zu are listed. The full list is in "
            "flagged.csv and findings.jsonl.</p></section>\n",
            rows);
}

/* The ETSI EN 304 223 table: every provision this scan's artefacts are evidence toward, with
 * the evidence items (and what this scan found for them), then what the scan cannot evidence. */
typedef struct prov_ref {
    const char *id;
    const json_t *prov;
} prov_ref;

static int cmp_prov(const void *pa, const void *pb) {
    return strcmp(((const prov_ref *)pa)->id, ((const prov_ref *)pb)->id);
}

static void evidence_count(FILE *fp, const json_t *doc, const char *key) {
    const json_t *kinds = json_object_get(json_object_get(doc, "summary"), "findings_by_kind");
    const json_t *c = json_object_get(kinds, key);
    /* a kind is checked when one of its detectors ran; kinds without a detector (drift) come
     * from the baseline comparison */
    size_t i, of_kind = 0, ran = 0;
    const json_t *d;
    json_array_foreach(json_object_get(doc, "detectors"), i, d) {
        const char *k = str_of(d, "kind");
        if (k == NULL || strcmp(k, key) != 0) continue;
        of_kind++;
        ran += json_is_true(json_object_get(d, "ran"));
    }
    int baseline = json_is_object(json_object_get(doc, "baseline"));
    if (json_is_integer(c) && of_kind > 0 && ran == 0) {
        fputs(" &mdash; <span class=\"muted\">not checked in this scan (", fp);
        fputs(baseline ? "its detectors did not run" : "no baseline given", fp);
        fputs(")</span>", fp);
    } else if (json_is_integer(c) && of_kind == 0 && !baseline) {
        fputs(" &mdash; <span class=\"muted\">not checked in this scan (no baseline given)</span>",
              fp);
    } else if (json_is_integer(c)) {
        fputs(" &mdash; this scan: ", fp);
        put_value(fp, c);
        fputs(json_integer_value(c) == 1 ? " finding" : " findings", fp);
    } else if (strcmp(key, "gate") == 0) {
        fputs(" &mdash; this scan: gate ", fp);
        const json_t *g = json_object_get(doc, "gate");
        esc(fp, str_of(g, "verdict")                         ? str_of(g, "verdict")
                : json_is_true(json_object_get(g, "passed")) ? "pass"
                                                             : "fail");
    } else if (strcmp(key, "manifest") == 0) {
        fputs(" &mdash; this scan: manifest.json and the dataset SHA-256 recorded", fp);
    } else if (strcmp(key, "report") == 0) {
        fputs(" &mdash; this scan: this report (report.json)", fp);
    }
}

static assay_status etsi_section(assay_ctx *ctx, FILE *fp, const json_t *doc, const char *path) {
    const json_t *etsi = json_object_get(doc, "etsi"), *ev = json_object_get(etsi, "evidence");
    fputs("<section id=\"etsi\"><h2>", fp);
    esc(fp, str_of(etsi, "document"));
    fputs(" V", fp);
    esc(fp, str_of(etsi, "version"));
    fputs(": provisions this scan gives evidence toward</h2>\n<p class=\"note\">", fp);
    esc(fp, str_of(etsi, "disclaimer"));
    fputs("</p>\n", fp);
    /* distinct provisions over all evidence items */
    size_t cap = 0, n = 0;
    const char *key;
    const json_t *item;
    json_object_foreach((json_t *)ev, key, item) cap +=
        json_array_size(json_object_get(item, "provisions"));
    prov_ref *provs = malloc((cap ? cap : 1) * sizeof *provs);
    if (provs == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    json_object_foreach((json_t *)ev, key, item) {
        size_t i;
        const json_t *p;
        json_array_foreach(json_object_get(item, "provisions"), i, p) {
            const char *id = str_of(p, "id");
            size_t k = 0;
            while (k < n && strcmp(provs[k].id, id) != 0) k++;
            if (id && k == n) provs[n++] = (prov_ref){id, p};
        }
    }
    qsort(provs, n, sizeof *provs, cmp_prov);
    fputs("<table><tr><th>Provision</th><th>Level</th><th>Title (paraphrased)</th><th>Role"
          "</th><th>Evidence in this scan</th></tr>\n",
          fp);
    for (size_t k = 0; k < n; k++) {
        int primary = 0;
        json_object_foreach((json_t *)ev, key, item) {
            size_t i;
            const json_t *p;
            json_array_foreach(json_object_get(item, "provisions"), i,
                               p) if (strcmp(str_of(p, "id"), provs[k].id) == 0 &&
                                      str_of(p, "role") &&
                                      strcmp(str_of(p, "role"), "primary") == 0) primary = 1;
        }
        fputs("<tr><td style=\"white-space:nowrap\">", fp);
        esc(fp, str_of(provs[k].prov, "cite"));
        fputs("</td>", fp);
        td_text(fp, str_of(provs[k].prov, "level"));
        td_text(fp, str_of(provs[k].prov, "title"));
        td_text(fp, primary ? "primary" : "supporting");
        fputs("<td><ul style=\"margin:0;padding-left:16px\">", fp);
        json_object_foreach((json_t *)ev, key, item) {
            size_t i;
            const json_t *p;
            json_array_foreach(json_object_get(item, "provisions"), i, p) {
                if (strcmp(str_of(p, "id"), provs[k].id) != 0) continue;
                fputs("<li>", fp);
                esc(fp, str_of(item, "what"));
                fputs(" <span class=\"muted\">(", fp);
                esc(fp, str_of(p, "role"));
                fputs(")</span>", fp);
                evidence_count(fp, doc, key);
                fputs("</li>", fp);
            }
        }
        fputs("</ul></td></tr>\n", fp);
    }
    free(provs);
    fputs("</table>\n<h3>What this scan cannot evidence</h3>\n<ul>", fp);
    size_t i;
    json_array_foreach(json_object_get(etsi, "not_evidenced"), i, item) {
        fputs("<li><b>", fp);
        esc(fp, str_of(item, "provisions"));
        fputs("</b>: ", fp);
        esc(fp, str_of(item, "what"));
        fputs("</li>", fp);
    }
    fputs("</ul></section>\n", fp);
    return ASSAY_OK;
}

static void warnings_section(FILE *fp, const json_t *doc) {
    const json_t *w = json_object_get(doc, "warnings");
    if (json_array_size(w) == 0) return;
    fputs("<section id=\"warnings\"><h2>Warnings</h2><ul>", fp);
    size_t i;
    const json_t *s;
    json_array_foreach(w, i, s) {
        fputs("<li>", fp);
        esc(fp, json_string_value(s));
        fputs("</li>", fp);
    }
    fputs("</ul></section>\n", fp);
}

assay_status assay__render_html(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                const char *path) {
    assay_status s = ASSAY_OK;
    static const char *const objects[] = {"input", "gate", "summary", "etsi"};
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        assay__doc_need(ctx, &s, path, doc, "top level", objects[i], JSON_OBJECT);
    assay__doc_need(ctx, &s, path, doc, "top level", "detectors", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "findings", JSON_ARRAY);
    if (s != ASSAY_OK) return s;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta "
          "name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>assay "
          "report: ",
          fp);
    esc(fp, str_of(json_object_get(doc, "input"), "path"));
    fprintf(fp, "</title>\n<style>\n%s</style></head>\n<body><main>\n", k_css);
    header(fp, doc);
    gate_section(fp, doc);
    fingerprint_section(fp, doc);
    detectors_section(fp, doc);
    ASSAY_TRY(plots_section(ctx, fp, doc, path));
    flagged_section(fp, doc, fs);
    ASSAY_TRY(tests_section(ctx, fp, doc, path));
    ASSAY_TRY(etsi_section(ctx, fp, doc, path));
    warnings_section(fp, doc);
    fputs("<footer class=\"meta\"><p>Generated by assay from report.json; every figure and "
          "table here is drawn from that file (<code>assay report render report.json "
          "--html</code> redraws it).</p></footer>\n</main></body></html>\n",
          fp);
    if (ferror(fp)) return assay__write_failed(ctx, fp, path);
    return assay__findings_status(ctx, fs, path);
}

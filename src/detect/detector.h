/* SPDX-License-Identifier: Apache-2.0 */
/* The detector contract.
 *
 * A detector reads a view of the scan's inputs (assay__det_input: the dataset, the neighbour
 * graph, the scan options with its parameters, the context's threads, and for the tampering
 * detector what changed since a baseline) and writes only into its own output (assay__det_out)
 * through the sink functions below: a score and a calibrated evidence per row, the per-class or
 * per-dataset tests it made against "no poison", its findings (one per flagged row and reason)
 * and a summary. It never sees another detector's output, the scan's result, the policy or the
 * reports. The decision step (src/decide/) reads every output: it adjusts all tests together,
 * combines the evidence and runs the gate.
 *
 * Each detector describes itself once, in an assay__detector_desc defined in its own file
 * src/detect/<module>.c under the name assay__detector_<module>: how it runs, the kind of its
 * findings, its default severity, its method family, the names and meanings of its evidence
 * fields and how a finding is explained. registry.c lists them in the order of
 * ASSAY_DETECTOR_LIST (include/assay/assay_scan.h), which is the order a scan runs them. */
#ifndef ASSAY_DETECTOR_H
#define ASSAY_DETECTOR_H

#include "core/internal.h"
#include "core/neighbours.h"
#include "io/dataset_internal.h"

#define ASSAY__SEV_COUNT 5

/* The kinds of finding: report.json's "kind", the ETSI EN 304 223 evidence key of
 * src/report/etsi-en-304-223.json, and the policy's fail-kinds. "drift" is the baseline
 * comparison's class shift, not a detector's. */
#define ASSAY__KINDS(X)                                                                            \
    X(LABEL, "label")                                                                              \
    X(OUTLIER, "outlier")                                                                          \
    X(DUPLICATE, "duplicate")                                                                      \
    X(INTEGRITY, "integrity")                                                                      \
    X(BACKDOOR, "backdoor")                                                                        \
    X(DISTRIBUTION, "distribution")                                                                \
    X(TAMPERING, "tampering")                                                                      \
    X(DRIFT, "drift")
typedef enum assay__kind {
#define ASSAY__KIND_ENUM(id, name) ASSAY__KIND_##id,
    ASSAY__KINDS(ASSAY__KIND_ENUM)
#undef ASSAY__KIND_ENUM
        ASSAY__KIND_COUNT
} assay__kind;
extern const char *const assay__kind_names[ASSAY__KIND_COUNT];
/* Kind index of a name, -1 if unknown. */
int assay__kind_parse(const char *name);

/* One row flagged by one detector for one reason. What `why`, a, b, c and ref mean is the
 * detector's own: its descriptor names them (reasons, fields). */
typedef struct assay__finding {
    size_t row;
    assay_detector det; /* set by assay__out_finding */
    assay_severity sev;
    int why;     /* reason code, index into the descriptor's reasons */
    float score; /* the detector's score for the row */
    double a, b, c;
    int64_t ref;
    int32_t test; /* the test this flag depends on (index into its detector's tests), -1 none */
} assay__finding;

/* A per-class or per-dataset hypothesis test of one detector against a null of "no poison".
 * The decision step adjusts all tests of a scan together (Benjamini-Hochberg at the `fdr`
 * parameter) and writes q and significant back; the gate fails or warns on a significant test
 * by its severity (sev), and rows a detector flagged in a class whose test is not significant
 * are not flagged. An entry whose det
 * is another detector is a reference to that detector's dataset-level test
 * (assay__out_test_of), not a test of its own. */
typedef struct assay__test {
    assay_detector det;
    int32_t cls;           /* class index, -1 = the whole dataset */
    const char *stat_name; /* static: what `stat` is */
    double stat;
    double p;         /* p-value under the null; NaN = test not applicable */
    const char *null; /* static: how p was obtained ("permutation, 199 shuffles", ...) */
    char detail[200]; /* one sentence for a reviewer: what was seen */
    double q;         /* BH-adjusted p (decision step) */
    int significant;  /* q <= fdr (decision step) */
    /* What a significant verdict of this test weighs at the gate: ASSAY_SEV_NONE (as a zeroed
     * initializer leaves it) takes the detector's default severity. Evidence of poisoning is
     * high (fails a default scan); an observation about the data (row order, density) is low
     * or medium and only warns. */
    assay_severity sev;
    int effect; /* the gate's use of it: ASSAY__EFFECT_* (gate) */
} assay__test;

/* Evidence of rows whose flags describe the data, not a poison (a natural sub-style of a class,
 * an uncorroborated row-order block, a detector flagging more than flag-cap of the rows) is
 * scaled by this: the rows keep their order, far below the flag line, where the sub-threshold
 * evidence of the other detectors ranks the unflagged rows (kept just below the line, a sorted
 * file's block and the digits' serif ones outranked every unflagged flipped label). */
#define ASSAY__OBSERVATION_SCALE 0.1f

/* What the gate did with a test. */
enum {
    ASSAY__EFFECT_NONE = 0, /* not significant */
    ASSAY__EFFECT_FAIL,     /* significant, at or above fail-on, of a failing kind */
    ASSAY__EFFECT_WARN,     /* significant, below fail-on or of a kind that does not fail */
    ASSAY__EFFECT_ACCEPTED  /* significant, but every row it flags is allowlisted */
};

/* ---- inputs ---- */

/* A row whose id is in the baseline with a different row digest, as the tampering detector sees
 * it (src/baseline/ builds these before that detector runs). Pointers are into the baseline
 * comparison, which lives as long as the scan's result. */
typedef struct assay__changed_row {
    size_t old_index, new_index;
    int relabelled;
    const char *id; /* the row's id as text */
    const char *old_label, *new_label;
    int old_label_int, new_label_int; /* the label column was an integer column */
    const unsigned char *old_digest, *new_digest;
} assay__changed_row;

typedef struct assay__row_changes {
    int matched; /* rows matched by id or by their features' digest, so changed rows are known
                  * (else by the whole-row digest: none can be) */
    const uint8_t *added; /* per current row: 1 if not in the baseline */
    size_t n_added, n_removed, n_changed, n_relabelled, n_unchanged;
    const assay__changed_row *changed; /* n_changed */
} assay__row_changes;

/* Rows known to be clean (--trusted-ids, --trusted-data), for the detectors that can fit their
 * reference model on them instead of on the data under test (subgroup's global model, gram's
 * class statistics). Trusted data rows are appended to no detector's output: they only shape
 * the reference. */
typedef struct assay__trusted {
    const uint8_t *row;        /* per dataset row: 1 if its id was listed as trusted (NULL: none) */
    size_t n_rows;             /* rows marked */
    const assay_dataset *data; /* a separate clean dataset (NULL: none) */
    const int32_t *data_class; /* per row of data: the scanned dataset's class, -1 unknown */
    size_t n_data;             /* rows of data with a known class and finite features */
} assay__trusted;

/* What a detector may read (all of it read-only). The same view is handed to the descriptor's
 * explain and evidence functions when reports are written (ctx NULL then). */
typedef struct assay__class_covs assay__class_covs; /* detect/class_cov.h */

typedef struct assay__det_input {
    assay_ctx *ctx; /* threads (assay__parallel_for with ctx->n_threads) and error messages */
    const assay_dataset *ds;
    const assay__graph *graph;         /* rows out of the graph have ids -1 */
    const assay_scan_opts *opts;       /* the scan options; parameters through assay__param */
    const assay__row_changes *changes; /* NULL without a baseline comparison */
    const assay__trusted *trusted;     /* NULL when the scan has no trusted rows */
    assay__class_covs *class_covs;     /* shared class covariances; NULL: each computes its own */
} assay__det_input;

/* ---- output ---- */

#define ASSAY__DET_STATS 6 /* named statistics per detector at most */

/* Everything one detector produced. The sink functions below add to it; the summary fields and
 * the per-row arrays are written directly. */
typedef struct assay__det_out {
    assay_detector id;
    size_t n; /* rows */
    assay_ctx *ctx;

    /* summary */
    int ran;             /* 0 when the detector could not apply (reason in `note`) */
    int capped;          /* the decision step took its flags back: it flagged too many rows */
    const char *note;    /* static text, or note_text, or NULL */
    char note_text[256]; /* a note the detector formats (out->note = out->note_text) */
    const char *rule;    /* static: the flag rule in words */
    double threshold;    /* in the detector's units (see rule) */
    size_t rows_scored;  /* rows with a score */
    size_t flagged;      /* rows this detector flagged (recounted by the decision step) */
    size_t by_sev[ASSAY__SEV_COUNT];
    double stat[ASSAY__DET_STATS]; /* detector statistics, named by stat_name (NULL: unused) */
    const char *stat_name[ASSAY__DET_STATS];
    double seconds;
    /* A class-by-class matrix the detector estimated (knn-label: the label-noise transition,
     * rows = true class, columns = given label), or NULL; owned. */
    double *matrix;
    size_t matrix_k;
    const char *matrix_name; /* static: its report.json key */

    /* per row */
    float *score;       /* NaN where the detector does not apply (preset) */
    float *evidence;    /* calibrated: >= 0.5 iff the detector flags the row (preset 0) */
    int32_t *row_test;  /* NULL, or per row the test its evidence depends on, -1 none */
    int32_t *suggested; /* NULL, or per row the class the evidence suggests instead, -1 none */

    assay__test *tests;
    size_t n_tests, cap_tests;
    assay__finding *findings;
    size_t n_findings, cap_findings;
    /* per test, its index in the scan's list of all tests (the decision step fills it; a
     * reference gets the index of the test it refers to, -1 when there is none) */
    int32_t *test_global;
} assay__det_out;

/* The largest off-diagonal cell of the output's class-by-class matrix (the first in row order
 * on ties): its value, *row and *col; -1 when there is no matrix of at least 2 classes. A
 * targeted flip shows as one such cell of knn-label's label-noise transition. */
double assay__out_matrix_peak(const assay__det_out *out, size_t *row, size_t *col);

/* Prepares an empty output for n rows (scores NaN, evidence 0). ASSAY_E_NOMEM. */
assay_status assay__out_init(assay_ctx *ctx, assay__det_out *out, assay_detector id, size_t n);
/* Frees what the output owns and zeroes it. */
void assay__out_free(assay__det_out *out);

/* ---- the sink ---- */

/* Adds a finding (its det is set to the output's detector). ASSAY_E_NOMEM. */
assay_status assay__out_finding(assay__det_out *out, const assay__finding *f);
/* Adds a test (q NaN, not significant until decided); *index (may be NULL) receives its index,
 * for findings' and row_test's references. ASSAY_E_NOMEM. */
assay_status assay__out_test(assay__det_out *out, const assay__test *t, int32_t *index);
/* Adds a reference to the dataset-level test (the first test with cls -1) that detector `other`
 * makes, for flags that rest on a test another detector makes anyway (valuation's on
 * knn-label's label-noise test); use it only when `other` runs. The decision step resolves it,
 * and the reference reads as that test's q and verdict. ASSAY_E_NOMEM. */
assay_status assay__out_test_of(assay__det_out *out, assay_detector other, int32_t *index);
/* out->row_test, allocated filled with -1 on first use; NULL when out of memory. */
int32_t *assay__out_row_tests(assay__det_out *out);
/* out->suggested, allocated filled with -1 on first use; NULL when out of memory. */
int32_t *assay__out_suggested(assay__det_out *out);

/* The verdict of the test a finding rests on, for explanations: "significant (q = 1.2e-05)",
 * "not significant (q = 0.3)", or "not available" when it rests on none. Returns buf. */
const char *assay__finding_test_verdict(const assay__det_out *out, const assay__finding *f,
                                        char *buf, size_t len);

/* Rows of class c in input order, for every class at once: rows of class c are
 * rows[start[c] .. start[c+1]); only rows in the graph with a declared label. rows holds n
 * entries, start n_classes + 2 (start[c + 1] is the end of class c). Both are the caller's to
 * free. ASSAY_E_NOMEM. */
assay_status assay__class_rows(assay_ctx *ctx, const assay_dataset *ds, const assay__graph *g,
                               size_t **rows, size_t **start);

/* ---- the descriptor ---- */

/* How an evidence field is written to report.json: a number (null when not finite), an integer,
 * a boolean, a string, or a label/id kept as text that is written as an integer when its column
 * was an integer column. */
typedef enum assay__ev_type {
    ASSAY__EV_NUMBER,
    ASSAY__EV_INTEGER,
    ASSAY__EV_BOOL,
    ASSAY__EV_TEXT,
    ASSAY__EV_TYPED
} assay__ev_type;

/* Where a field's value comes from: a finding's a, b, c or ref, or the descriptor's evidence
 * function (ASSAY__FROM_FN). */
typedef enum assay__ev_from {
    ASSAY__FROM_A,
    ASSAY__FROM_B,
    ASSAY__FROM_C,
    ASSAY__FROM_REF,
    ASSAY__FROM_FN
} assay__ev_from;

/* One evidence field of a finding: its key in report.json's "evidence" object, its type, where
 * its value comes from and what it means (docs/detectors.md). A list ends with a NULL key. */
typedef struct assay__ev_field {
    const char *key;
    assay__ev_type type;
    assay__ev_from from;
    const char *meaning;
} assay__ev_field;

/* The fields of a detector whose report.json evidence keeps its generic keys "a", "b", "c"
 * (numbers) and "ref" (an integer) -- those of the detectors added before fields had names --
 * with what each means for that detector. */
#define ASSAY__EV_ABC(a_means, b_means, c_means, ref_means)                                        \
    {                                                                                              \
        {"a", ASSAY__EV_NUMBER, ASSAY__FROM_A, a_means},                                           \
            {"b", ASSAY__EV_NUMBER, ASSAY__FROM_B, b_means},                                       \
            {"c", ASSAY__EV_NUMBER, ASSAY__FROM_C, c_means},                                       \
            {"ref", ASSAY__EV_INTEGER, ASSAY__FROM_REF, ref_means}, {                              \
            NULL, 0, 0, NULL                                                                       \
        }                                                                                          \
    }

/* A field's value from an evidence function. */
typedef struct assay__ev_value {
    double num;       /* NUMBER, INTEGER (as a whole number), BOOL (nonzero = true) */
    const char *text; /* TEXT, TYPED: may point into `buf` */
    int is_int;       /* TYPED: the column was an integer column */
    char buf[72];     /* room for a text the function formats (a hex digest) */
} assay__ev_value;

#define ASSAY__EV_MAX 8 /* fields per finding at most */

typedef assay_status (*assay__run_fn)(const assay__det_input *in, assay__det_out *out);
/* One sentence a reviewer understands, e.g. "label 'Coat' is carried by 0 of its 10 nearest
 * neighbours; 9 of them are labelled 'Pullover'". */
typedef void (*assay__explain_fn)(const assay__det_input *in, const assay__det_out *out,
                                  const assay__finding *f, char *buf, size_t len);
/* Fills v[i] for the descriptor's fields[i]; returns how many leading fields the finding has
 * (fewer when some do not apply to its reason). */
typedef size_t (*assay__evidence_fn)(const assay__det_input *in, const assay__det_out *out,
                                     const assay__finding *f, assay__ev_value *v);

/* The scan compares the data with the baseline before running a detector that needs it. */
#define ASSAY__NEEDS_BASELINE 1u
/* It starts each class from the class's covariance (assay__class_cov): when two such detectors
 * run, the scan keeps the covariances from the first for the next. */
#define ASSAY__NEEDS_CLASS_COV 2u

typedef struct assay__detector_desc {
    assay__kind kind;        /* of its findings */
    assay_severity severity; /* its default severity: what its significant tests weigh at the
                              * gate (unless a test sets its own), and the highest severity
                              * it gives a finding; the default gate fails on high */
    const char *family;      /* detectors of one family look at the same signal ("class
                              * subspace", ...): their evidence is correlated */
    /* what of it only warns under the default policy although its severity is high (a test
     * that sets a lower severity), or why it never fails: "always (observation)"; NULL = it
     * fails whenever it is significant */
    const char *warns;
    const char *on_clean; /* what to do when it fires on data you trust (docs, README) */
    const char *inputs;   /* what it needs, in words ("labels, the graph") */
    unsigned needs;       /* ASSAY__NEEDS_* */
    assay__run_fn run;
    assay__explain_fn explain;
    /* reason codes (report.json "reason") indexed by finding.why; a why beyond the list (a mode,
     * not a reason, as confident's filter) gives reasons[0]. NULL-terminated. reason_of, when
     * set, decides instead. */
    const char *const *reasons;
    const char *(*reason_of)(const assay__finding *f);
    /* the evidence fields, NULL-key-terminated; values from the finding unless `evidence` is
     * set, which then fills every field */
    const assay__ev_field *fields;
    assay__evidence_fn evidence;
} assay__detector_desc;

/* One detector as the registry knows it: its line of ASSAY_DETECTOR_LIST and its descriptor. */
typedef struct assay__detector {
    assay_detector id;
    const char *name, *what, *module;
    const assay__detector_desc *desc;
} assay__detector;

/* The i-th detector in run order (i < ASSAY_DET_COUNT), and a detector by its enum value (NULL
 * when out of range). */
const assay__detector *assay__detector_at(size_t i);
const assay__detector *assay__detector_get(assay_detector id);

/* The reason code of a finding and its kind's name ("label", ...). */
const char *assay__finding_reason(const assay__finding *f);
const char *assay__detector_kind_name(assay_detector id);

#endif

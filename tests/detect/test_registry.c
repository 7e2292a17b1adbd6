/* SPDX-License-Identifier: Apache-2.0 */
/* The detector table (src/detect/registry.c): every line of ASSAY_DETECTOR_LIST has a complete
 * descriptor, the enum values are exactly 0 .. ASSAY_DET_COUNT - 1, names round-trip, every
 * finding kind has ETSI EN 304 223 evidence, and in a real scan no detector gives a finding a
 * severity above the one its descriptor declares. */
#include <jansson.h>

#include "test_data.h"

#include "assay/assay.h"
#include "decide/result.h"
#include "detect/detector.h"
#include "report/report_internal.h"

static void test_registry_every_detector_is_complete(void **state) {
    (void)state;
    unsigned seen[ASSAY_DET_COUNT] = {0};
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++) {
        const assay__detector *d = assay__detector_at(i);
        assert_non_null(d);
        assert_true(d->id >= 0 && d->id < ASSAY_DET_COUNT);
        seen[d->id]++;
        assert_ptr_equal(assay__detector_get(d->id), d);
        assert_true(d->name[0] != '\0' && d->what[0] != '\0' && d->module[0] != '\0');
        assert_string_equal(assay_detector_name(d->id), d->name);
        assay_detector parsed;
        assert_int_equal(assay_detector_parse(d->name, &parsed), ASSAY_OK);
        assert_int_equal(parsed, d->id);

        const assay__detector_desc *desc = d->desc;
        assert_non_null(desc);
        assert_non_null(desc->run);
        assert_non_null(desc->explain);
        assert_true(desc->kind >= 0 && desc->kind < ASSAY__KIND_COUNT);
        assert_int_not_equal(desc->kind, ASSAY__KIND_DRIFT); /* the baseline's, no detector's */
        assert_true(desc->severity >= ASSAY_SEV_LOW && desc->severity <= ASSAY_SEV_CRITICAL);
        assert_true(desc->family != NULL && desc->family[0] != '\0');
        assert_true(desc->inputs != NULL && desc->inputs[0] != '\0');
        assert_non_null(desc->reasons);
        assert_non_null(desc->reasons[0]);
        assert_non_null(desc->fields);
        size_t nf = 0;
        for (; desc->fields[nf].key != NULL; nf++) {
            assert_true(desc->fields[nf].meaning != NULL && desc->fields[nf].meaning[0] != '\0');
            /* values come from the evidence function exactly when the detector has one */
            assert_int_equal(desc->fields[nf].from == ASSAY__FROM_FN, desc->evidence != NULL);
        }
        assert_true(nf <= ASSAY__EV_MAX);
    }
    for (int id = 0; id < ASSAY_DET_COUNT; id++) assert_int_equal(seen[id], 1);
    assert_null(assay__detector_at(ASSAY_DET_COUNT));
    assert_null(assay__detector_get(ASSAY_DET_COUNT));
    assert_string_equal(assay_detector_name(ASSAY_DET_COUNT), "unknown");
    /* tampering summarises the others' scores in its class statistics: it runs last */
    assert_int_equal(assay__detector_at(ASSAY_DET_COUNT - 1)->id, ASSAY_DET_TAMPERING);
    assert_true(assay__detector_get(ASSAY_DET_TAMPERING)->desc->needs & ASSAY__NEEDS_BASELINE);
}

static void test_registry_kinds_have_etsi_evidence(void **state) {
    (void)state;
    json_t *etsi = NULL;
    assert_int_equal(assay__etsi_load(NULL, &etsi), ASSAY_OK);
    for (int k = 0; k < ASSAY__KIND_COUNT; k++) {
        json_t *refs = assay__etsi_refs(etsi, assay__kind_names[k]);
        assert_true(json_array_size(refs) > 0);
        json_decref(refs);
        assert_int_equal(assay__kind_parse(assay__kind_names[k]), k);
    }
    assert_int_equal(assay__kind_parse("no-such-kind"), -1);
    json_decref(etsi);
}

/* A scan with planted flips, conflicting duplicates and broken rows: every finding's severity is
 * at most its detector's declared default, and its reason is one its descriptor lists. */
static void test_registry_findings_keep_declared_severity(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "registry_poisoned.h5");
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 2000;
    o.d = 16;
    o.classes = 4;
    o.seed = 5;
    o.plant.random_flip = 0.1;
    o.plant.duplicates = 0.01;
    o.plant.nonfinite = 0.005;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, path, NULL, NULL);
    assay_ctx *ctx = tu_ctx(0);
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_OK);
    size_t by_det[ASSAY_DET_COUNT] = {0};
    for (size_t i = 0; i < res->n_findings; i++) {
        const assay__finding *f = &res->findings[i];
        const assay__detector_desc *desc = assay__detector_get(f->det)->desc;
        assert_true(f->sev <= desc->severity);
        const char *reason = assay__finding_reason(f);
        int listed = desc->reason_of != NULL;
        for (size_t r = 0; !listed && desc->reasons[r] != NULL; r++)
            listed = strcmp(desc->reasons[r], reason) == 0;
        assert_true(listed);
        by_det[f->det]++;
    }
    /* the planted kinds were found, so the check above saw them */
    assert_true(by_det[ASSAY_DET_DUPLICATE] > 0);
    assert_true(by_det[ASSAY_DET_INTEGRITY] > 0);
    assert_true(by_det[ASSAY_DET_KNN_LABEL] > 0);
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_every_detector_is_complete),
        cmocka_unit_test(test_registry_kinds_have_etsi_evidence),
        cmocka_unit_test(test_registry_findings_keep_declared_severity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Prints a table of the detectors from their descriptors, as the documentation shows it:
 *   describe_detectors          docs/detectors.md (between its "descriptors" markers): every
 *                               detector's line of ASSAY_DETECTOR_LIST and its descriptor --
 *                               kind, default severity, family, inputs, reason codes and
 *                               evidence fields with their meaning;
 *   describe_detectors gate     README.md and docs/policy.md ("gate" markers): kind, default
 *                               severity, whether it can fail a default scan, and what to do
 *                               when it fires on clean data.
 * `cmake --build BUILD --target regenerate` writes them into the pages; the tests
 * detectors_reference_current and gate_table_current fail when a page and the table disagree. */
#include <stdio.h>
#include <string.h>

#include "assay/assay_scan.h"
#include "detect/detector.h"

/* Markdown table cell text: pipes escaped. */
static void cell(const char *s) {
    for (; s != NULL && *s; s++) {
        if (*s == '|') putchar('\\');
        putchar(*s);
    }
}

static void descriptors(void) {
    puts("| # | detector | kind | default severity | family | needs | reasons | evidence fields "
         "(report.json `evidence`) |");
    puts("|---|---|---|---|---|---|---|---|");
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++) {
        const assay__detector *d = assay__detector_at(i);
        const assay__detector_desc *desc = d->desc;
        printf("| %zu | `%s` | %s | %s | %s | ", i + 1, d->name, assay__kind_names[desc->kind],
               assay_severity_name(desc->severity), desc->family);
        cell(desc->inputs);
        fputs(" | ", stdout);
        for (size_t r = 0; desc->reasons[r] != NULL; r++)
            printf("%s`%s`", r ? ", " : "", desc->reasons[r]);
        fputs(" | ", stdout);
        for (size_t f = 0; desc->fields[f].key != NULL; f++) {
            printf("%s`%s`: ", f ? "; " : "", desc->fields[f].key);
            cell(desc->fields[f].meaning);
        }
        puts(" |");
    }
}

/* Whether the default gate fails on a significant test or a finding of this detector: its
 * severity reaches the default fail-on (every kind fails by default); `warns` names what of it
 * only warns. */
static void gate(void) {
    const assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    puts("| detector | finding kind | default severity | fails a default scan | when it fires on "
         "clean data |");
    puts("|---|---|---|---|---|");
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++) {
        const assay__detector *d = assay__detector_at(i);
        const assay__detector_desc *desc = d->desc;
        int can = o.fail_on != ASSAY_SEV_NONE && desc->severity >= o.fail_on;
        printf("| `%s` | %s | %s | ", d->name, assay__kind_names[desc->kind],
               assay_severity_name(desc->severity));
        if (!can)
            fputs("no: warns", stdout);
        else if (desc->warns != NULL)
            printf("yes, except %s, which warns", desc->warns);
        else
            fputs("yes", stdout);
        fputs(" | ", stdout);
        cell(desc->on_clean);
        puts(" |");
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "gate") == 0)
        gate();
    else
        descriptors();
    return 0;
}

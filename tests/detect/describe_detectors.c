/* SPDX-License-Identifier: Apache-2.0 */
/* Prints the detector table as docs/detectors.md shows it (between its "descriptors" markers):
 * every detector's line of ASSAY_DETECTOR_LIST and its descriptor -- kind, default severity,
 * family, inputs, reason codes and evidence fields with their meaning. `cmake --build BUILD
 * --target regenerate` writes it into the page; the test detectors_reference_current fails when
 * the page and the table disagree. */
#include <stdio.h>

#include "detect/detector.h"

/* Markdown table cell text: pipes escaped. */
static void cell(const char *s) {
    for (; s != NULL && *s; s++) {
        if (*s == '|') putchar('\\');
        putchar(*s);
    }
}

int main(void) {
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
    return 0;
}

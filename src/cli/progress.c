/* SPDX-License-Identifier: Apache-2.0 */
/* Progress on stderr: an updating bar when stderr is a terminal; nothing otherwise (log
 * collectors in CI and orchestrators keep every byte, and a scheduled job's log should hold its
 * errors, not percentages) unless --progress asks for a few plain lines per stage; nothing with
 * --quiet. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, int quiet, int force) {
    memset(p, 0, sizeof *p);
    p->tty = isatty(fileno(stderr));
    p->enabled = !quiet && (p->tty || force);
    p->last_step = -1;
}

void cli_progress_end(cli_progress *p) {
    if (!p->enabled || p->stage == NULL) return;
    double secs = now() - p->stage_start;
    if (p->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "assay: %-11s done in %.2f s\n", p->stage, secs);
    p->ended = p->stage;
    p->stage = NULL;
    p->last_step = -1;
}

void cli_progress_cb(void *user, const char *stage, uint64_t done, uint64_t total) {
    cli_progress *p = user;
    if (!p->enabled) return;
    /* A stage may report its end twice (a loader, then the dataset step); say it once. */
    if (p->stage == NULL && p->ended != NULL && strcmp(p->ended, stage) == 0 && done >= total)
        return;
    if (p->stage == NULL || strcmp(p->stage, stage) != 0) {
        cli_progress_end(p);
        p->stage = stage;
        p->stage_start = now();
        if (!p->tty) fprintf(stderr, "assay: %-11s started\n", stage);
    }
    if (done >= total) {
        cli_progress_end(p);
        return;
    }
    int pct = total ? (int)(100 * done / total) : 100;
    if (p->tty) {
        if (pct == p->last_step) return;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '-';
        bar[30] = '\0';
        fprintf(stderr, "\rassay: %-11s [%s] %3d%%", stage, bar, pct);
        fflush(stderr);
        p->last_step = pct;
        return;
    }
    /* Plain lines at every quarter of stages long enough to have quarters. */
    int step = pct / 25;
    if (total >= 8 && step > 0 && step != p->last_step)
        fprintf(stderr, "assay: %-11s %d%%\n", stage, step * 25);
    p->last_step = step;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Inline SVG for report.html: a plot frame mapping data to pixels, axes with round ticks, and
 * escaped text. Static drawings only (no scripts): hover titles use SVG <title> elements. */
#ifndef ASSAY_REPORT_SVG_H
#define ASSAY_REPORT_SVG_H

#include <stdio.h>

/* A plot area: data ranges [x_lo, x_hi] x [y_lo, y_hi] drawn into the pixel rectangle at
 * (left, top) of size width x height, y growing upward. With y_log the y axis shows counts on a
 * log scale (log10(1 + v)), so a handful of flagged rows stays visible next to thousands. */
typedef struct assay__svg_frame {
    double left, top, width, height;
    double x_lo, x_hi, y_lo, y_hi;
    int y_log;
} assay__svg_frame;

double assay__svg_x(const assay__svg_frame *f, double v);
double assay__svg_y(const assay__svg_frame *f, double v);

/* Opens an <svg> of w x h pixels that scales to its container; `label` (escaped) is its
 * accessible name and <title>. */
void assay__svg_begin(FILE *fp, int w, int h, const char *label);
void assay__svg_end(FILE *fp);

/* Text at (x, y); anchor "start", "middle" or "end"; cls a CSS class or NULL; rotate in degrees
 * around the anchor point (0 for none). The text is escaped. */
void assay__svg_text(FILE *fp, double x, double y, const char *anchor, const char *cls,
                     double rotate, const char *text);

/* The frame's axes: x and y axis lines, round ticks with labels, gridlines, and axis titles.
 * x_ticks 0 leaves the x axis unlabelled (a categorical axis the caller labels itself). */
void assay__svg_axes(FILE *fp, const assay__svg_frame *f, int x_ticks, const char *x_title,
                     const char *y_title);

/* Up to max_ticks round values (1, 2 or 5 times a power of ten) covering [lo, hi]; returns the
 * count written to out. */
int assay__svg_ticks(double lo, double hi, int max_ticks, double *out);

/* Shortest readable form of a number for tick labels and tables ("0.05", "1200", "3.2e-05"). */
void assay__svg_num(char *buf, size_t len, double v);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Inline SVG helpers for report.html (svg.h). */
#include "report/svg.h"

#include <math.h>
#include <string.h>

#include "report/render.h"

static double y_value(const assay__svg_frame *f, double v) {
    return f->y_log ? log10(1.0 + (v > 0.0 ? v : 0.0)) : v;
}

double assay__svg_x(const assay__svg_frame *f, double v) {
    double span = f->x_hi - f->x_lo;
    return f->left + (span > 0.0 ? (v - f->x_lo) / span : 0.5) * f->width;
}

double assay__svg_y(const assay__svg_frame *f, double v) {
    double lo = y_value(f, f->y_lo), hi = y_value(f, f->y_hi), span = hi - lo;
    return f->top + f->height - (span > 0.0 ? (y_value(f, v) - lo) / span : 0.0) * f->height;
}

/* No xmlns: inside HTML the parser puts <svg> in the SVG namespace, and the page keeps no URL. */
void assay__svg_begin(FILE *fp, int w, int h, const char *label) {
    fprintf(fp,
            "<svg viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\" role=\"img\" aria-label=\"",
            w, h, w, h);
    assay__xml_put(fp, label, 1);
    fputs("\"><title>", fp);
    assay__xml_put(fp, label, 1);
    fputs("</title>\n", fp);
}

void assay__svg_end(FILE *fp) {
    fputs("</svg>\n", fp);
}

void assay__svg_text(FILE *fp, double x, double y, const char *anchor, const char *cls,
                     double rotate, const char *text) {
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"", x, y, anchor);
    if (cls) fprintf(fp, " class=\"%s\"", cls);
    if (rotate != 0.0) fprintf(fp, " transform=\"rotate(%g %.1f %.1f)\"", rotate, x, y);
    fputc('>', fp);
    assay__xml_put(fp, text, 1);
    fputs("</text>\n", fp);
}

void assay__svg_num(char *buf, size_t len, double v) {
    if (!isfinite(v)) {
        snprintf(buf, len, "n/a");
        return;
    }
    double a = fabs(v);
    if (v == 0.0)
        snprintf(buf, len, "0");
    else if (a >= 1e6 || a < 1e-3)
        snprintf(buf, len, "%.3g", v);
    else if (a == floor(a))
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.4g", v);
}

int assay__svg_ticks(double lo, double hi, int max_ticks, double *out) {
    if (!(hi > lo) || max_ticks < 2) {
        out[0] = lo;
        return 1;
    }
    double raw = (hi - lo) / (max_ticks - 1), mag = pow(10.0, floor(log10(raw)));
    double step = mag;
    static const double mult[] = {1.0, 2.0, 5.0, 10.0};
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++) {
        step = mult[i] * mag;
        if ((hi - lo) / step <= max_ticks - 1) break;
    }
    int n = 0;
    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9 && n < max_ticks;
         t += step)
        out[n++] = fabs(t) < step * 1e-9 ? 0.0 : t;
    return n;
}

/* Count ticks of a log axis: 0, 1, 10, 100, ... up to hi. */
static int log_ticks(double hi, double *out, int max_ticks) {
    int n = 0;
    out[n++] = 0.0;
    for (double t = 1.0; t <= hi * 1.0001 && n < max_ticks; t *= 10.0) out[n++] = t;
    return n;
}

void assay__svg_axes(FILE *fp, const assay__svg_frame *f, int x_ticks, const char *x_title,
                     const char *y_title) {
    double t[16];
    char buf[32];
    double x0 = f->left, x1 = f->left + f->width, y0 = f->top + f->height, y1 = f->top;
    int n = f->y_log ? log_ticks(f->y_hi, t, 16) : assay__svg_ticks(f->y_lo, f->y_hi, 6, t);
    for (int i = 0; i < n; i++) {
        double y = assay__svg_y(f, t[i]);
        fprintf(fp, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0,
                y, x1, y);
        if (f->y_log && t[i] == 0.0) continue; /* 0 and 1 would overlap: the axis line is 0 */
        assay__svg_num(buf, sizeof buf, t[i]);
        assay__svg_text(fp, x0 - 5, y + 4, "end", "tick", 0, buf);
    }
    if (x_ticks) {
        n = assay__svg_ticks(f->x_lo, f->x_hi, 7, t);
        for (int i = 0; i < n; i++) {
            double x = assay__svg_x(f, t[i]);
            fprintf(fp, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    x, y0, x, y0 + 4);
            assay__svg_num(buf, sizeof buf, t[i]);
            assay__svg_text(fp, x, y0 + 16, "middle", "tick", 0, buf);
        }
    }
    fprintf(fp, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, y0,
            x1, y0);
    fprintf(fp, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, y0,
            x0, y1);
    if (x_title) assay__svg_text(fp, (x0 + x1) / 2, y0 + 34, "middle", "axis-title", 0, x_title);
    if (y_title) assay__svg_text(fp, x0 - 40, (y0 + y1) / 2, "middle", "axis-title", -90, y_title);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Shortest round-trip decimal text of doubles and floats (core/numfmt.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assay/assay_report.h"
#include "core/numfmt.h"

/* Lays out sign, significant digits (no trailing zeros) and decimal exponent like %g at
 * precision 17, the exponent as jansson has always written JSON's (no '+', no leading 0). */
static size_t layout(char *buf, int neg, const char *dig, int nd, int e) {
    char *o = buf;
    if (neg) *o++ = '-';
    if (e < -4 || e >= 17) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        o += sprintf(o, "e%d", e);
    } else if (e < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > e; i--) *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else {
        for (int i = 0; i <= e || i < nd; i++) {
            if (i == e + 1) *o++ = '.';
            *o++ = i < nd ? dig[i] : '0';
        }
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* Splits %.*e text ("-d.ddde+XX") into sign, digits without trailing zeros, and exponent. */
static size_t from_exp_text(char *buf, const char *t) {
    char dig[24];
    int nd = 0, neg = *t == '-';
    const char *p = t + neg;
    for (; *p != 'e'; p++)
        if (*p != '.') dig[nd++] = *p;
    int e = atoi(p + 1);
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    return layout(buf, neg, dig, nd, e);
}

/* Not finite: the names %g gives. */
static size_t non_finite(char *buf, double v) {
    return (size_t)sprintf(buf, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
}

/* v rounded to p significant digits reads back to v (as a float when is_float). */
static int reads_back(char *t, double v, int p, int is_float) {
    snprintf(t, ASSAY__NUM_BUF, "%.*e", p - 1, v);
    return is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v;
}

/* The rounding to `guaranteed` digits (DBL_DIG 15, FLT_DIG 6) is the shortest text, trailing
 * zeros dropped, whenever any text that short reads back; past that, the first longer length
 * that reads back is used. A subnormal has fewer bits than that guarantee assumes: its
 * shortest length is searched (reading back only gets likelier with more digits). */
static size_t shortest(char *buf, double v, int subnormal, int guaranteed, int most,
                       int is_float) {
    char t[ASSAY__NUM_BUF];
    int lo = subnormal ? 1 : guaranteed;
    if (subnormal) {
        int hi = most;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (reads_back(t, v, mid, is_float))
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    while (lo < most && !reads_back(t, v, lo, is_float)) lo++;
    if (lo == most) reads_back(t, v, most, is_float);
    return from_exp_text(buf, t);
}

size_t assay__fmt_double(char buf[ASSAY__NUM_BUF], double v) {
    if (!isfinite(v)) return non_finite(buf, v);
    return shortest(buf, v, v != 0.0 && fabs(v) < DBL_MIN, 15, 17, 0);
}

size_t assay__fmt_float(char buf[ASSAY__NUM_BUF], float v) {
    if (!isfinite(v)) return non_finite(buf, v);
    return shortest(buf, v, v != 0.0f && fabsf(v) < FLT_MIN, 6, 9, 1);
}

assay__num_text assay__num(double v) {
    assay__num_text t;
    assay__fmt_double(t.s, v);
    return t;
}

double assay__float_as_double(float v) {
    if (!isfinite(v)) return v;
    char t[ASSAY__NUM_BUF];
    assay__fmt_float(t, v);
    return strtod(t, NULL);
}

char *assay_json_shortest_reals(char *json_text) {
    return json_text ? assay__json_shortest_reals(json_text) : NULL;
}

char *assay__json_shortest_reals(char *text) {
    char *in = text, *o = text;
    while (*in) {
        if (*in == '"') { /* a string: copied as is, escapes included */
            *o++ = *in++;
            while (*in && *in != '"') {
                if (*in == '\\' && in[1]) *o++ = *in++;
                *o++ = *in++;
            }
            if (*in) *o++ = *in++;
            continue;
        }
        if (*in != '-' && (*in < '0' || *in > '9')) {
            *o++ = *in++;
            continue;
        }
        size_t n = strspn(in, "+-0123456789.eE");
        if (strcspn(in, ".eE") >= n) { /* an integer */
            memmove(o, in, n);
            o += n;
            in += n;
            continue;
        }
        char num[ASSAY__NUM_BUF + 2];
        size_t m = assay__fmt_double(num, strtod(in, NULL));
        if (strpbrk(num, ".e") == NULL) {
            memcpy(num + m, ".0", 3);
            m += 2;
        }
        if (m <= n) { /* never longer than the token (always so; kept as is otherwise) */
            memcpy(o, num, m);
            o += m;
        } else {
            memmove(o, in, n);
            o += n;
        }
        in += n;
    }
    *o = '\0';
    return text;
}

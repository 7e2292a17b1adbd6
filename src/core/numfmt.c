/* SPDX-License-Identifier: Apache-2.0 */
/* Shortest round-trip decimal text of doubles and floats (core/numfmt.h). */
#include <float.h>
#include <math.h>
#include <stdint.h>
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

/* Not finite: the names %g gives. */
static size_t non_finite(char *buf, double v) {
    return (size_t)sprintf(buf, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
}

/* A value's decimal digits: sign, significant digits d[0..n) and the exponent of d[0]. */
typedef struct digits {
    int neg, n, e;
    char d[24];
} digits;

/* Reads %.*e text ("-d.ddde+XX"). */
static void parse_exp_text(digits *x, const char *t) {
    x->neg = *t == '-';
    x->n = 0;
    const char *p = t + x->neg;
    for (; *p != 'e'; p++)
        if (*p != '.') x->d[x->n++] = *p;
    x->e = atoi(p + 1);
}

/* v correctly rounded to p digits, from its digits at more than p (`all`, themselves correctly
 * rounded). Rounding those again is right unless what is dropped reads exactly 5000...: then
 * the exact value decides, and printf is asked. */
static void round_to(digits *x, const digits *all, int p, double v) {
    int tie = all->d[p] == '5';
    for (int i = p + 1; i < all->n && tie; i++) tie = all->d[i] == '0';
    if (tie) {
        char t[ASSAY__NUM_BUF];
        snprintf(t, sizeof t, "%.*e", p - 1, v);
        parse_exp_text(x, t);
        return;
    }
    *x = *all;
    x->n = p;
    if (all->d[p] < '5') return;
    int i = p - 1;
    while (i >= 0 && x->d[i] == '9') x->d[i--] = '0';
    if (i >= 0) {
        x->d[i]++;
    } else { /* 99.. rounded up to 100..: one digit more in front */
        memmove(x->d + 1, x->d, (size_t)p - 1);
        x->d[0] = '1';
        x->e++;
    }
}

static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x as a double when one rounding makes it exact (Clinger's fast path): digits D < 2^53 (at most
 * 15) times 10^q, |q| <= 22, both exact doubles, so D * 10^q or D / 10^-q is x correctly
 * rounded, what strtod gives. 0 when x is outside that. */
static int fast_value(const digits *x, double *c) {
    int q = x->e - x->n + 1;
    if (x->n > 15 || q < -22 || q > 22) return 0;
    double dv = 0.0;
    for (int i = 0; i < x->n; i++) dv = dv * 10.0 + (x->d[i] - '0');
    *c = q >= 0 ? dv * k_pow10[q] : dv / k_pow10[-q];
    if (x->neg) *c = -*c;
    return 1;
}

/* ---- fast paths: printf's digits and strtod's reading without printf or strtod, where
 * one rounded multiplication by an exact power of ten decides them; printf/strtod otherwise ---- */

/* 10^k for 0 <= k <= 27: exact in long double (5^27 < 2^64), the first 23 also in double. */
static const long double k_pow10l[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,
                                         1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
                                         1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
                                         1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};

/* The long double paths need a 64-bit significand (x86's extended format): with it a product
 * t < 10^17 is within 2^-7 of the exact one. Elsewhere printf and strtod decide. */
#if LDBL_MANT_DIG == 64
#define FAST_LD 1
#else
#define FAST_LD 0
#endif

/* The digits %.*e prints for v at `most` significant digits (9 or 17), when a single rounded
 * product t = |v| 10^k in [10^(most-1), 10^most) cannot round to another integer than the exact
 * one does: its fraction is not within the product's error of one half (exact ties included,
 * where printf's rounding mode decides). 0 (the caller asks printf) when that is not certain. */
static int fast_exp_digits(digits *x, double v, int most) {
    if (!(v != 0.0) || (most == 17 && !FAST_LD) || (most != 9 && most != 17)) return 0;
    const long double lo = k_pow10l[most - 1], hi = k_pow10l[most];
    /* the product's error bound, with a factor 2 to spare: 9 digits in double (|t| < 2^30,
     * half an ulp <= 2^-24), 17 in long double (|t| < 2^57, half an ulp <= 2^-8) */
    const long double margin = most == 9 ? 1e-6L : 1.0L / 64.0L;
    double a = fabs(v);
    int e = (int)floor(log10(a));
    long double t = 0.0L;
    for (int tries = 0; tries < 2; tries++) {
        int k = most - 1 - e;
        if (k > 27 || k < -27 || (most == 9 && (k > 22 || k < -22))) return 0;
        if (most == 9) /* one double rounding, exactly what the double operation gives */
            t = k >= 0 ? (long double)(a * (double)k_pow10l[k])
                       : (long double)(a / (double)k_pow10l[-k]);
        else
            t = k >= 0 ? (long double)a * k_pow10l[k] : (long double)a / k_pow10l[-k];
        if (t < lo)
            e--;
        else if (t >= hi)
            e++;
        else
            break;
    }
    if (!(t >= lo + 1.0L && t < hi - 1.0L)) return 0; /* too near a power of ten */
    long double ip = floorl(t), f = t - ip;           /* both exact */
    if (fabsl(f - 0.5L) < margin) return 0;
    uint64_t dg = (uint64_t)ip + (f > 0.5L);
    if (dg == (uint64_t)hi) { /* 99..9.5 rounded up: 10..0 with the next exponent */
        dg /= 10;
        e++;
    }
    x->neg = signbit(v) != 0;
    x->n = most;
    x->e = e;
    for (int i = most - 1; i >= 0; i--, dg /= 10) x->d[i] = (char)('0' + dg % 10);
    return 1;
}

/* v at `most` significant digits as printf's %.*e would give them. */
static void exp_digits(digits *x, double v, int most) {
    if (fast_exp_digits(x, v, most)) return;
    char t[ASSAY__NUM_BUF];
    snprintf(t, sizeof t, "%.*e", most - 1, v);
    parse_exp_text(x, t);
}

/* strtod's double for x when one long double rounding of D * 10^q (D < 2^64, |q| <= 27, both
 * exact) decides it: unless that product lies exactly halfway between two doubles, no double
 * midpoint can lie between it and the exact value (it would be nearer), so rounding it to a
 * double rounds the exact value. 0 when that is not so. */
static int fast_value_ld(const digits *x, double *c) {
    int q = x->e - x->n + 1;
    if (!FAST_LD || x->n > 19 || q < -27 || q > 27) return 0;
    uint64_t dv = 0;
    for (int i = 0; i < x->n; i++) dv = dv * 10u + (uint64_t)(x->d[i] - '0');
    long double r = q >= 0 ? (long double)dv * k_pow10l[q] : (long double)dv / k_pow10l[-q];
    double d = (double)r;
    if (!isfinite(d) || fabs(d) < DBL_MIN) return 0; /* overflow, or subnormal: fewer bits */
    long double rest = r - (long double)d;           /* exact */
    if (rest != 0.0L) {
        double g = nextafter(d, rest > 0.0L ? INFINITY : -INFINITY);
        if (2.0L * rest == (long double)g - (long double)d) return 0; /* a midpoint */
    }
    *c = x->neg ? -d : d;
    return 1;
}

/* x reads back to v (as a float when is_float), without strtod/strtof where doubles decide it
 * exactly (every score of scores.csv comes through here). For a float: x's double c rounds to
 * the float x itself rounds to unless c lies exactly halfway between two floats (no such
 * midpoint can lie between x and c, c being the double nearest to x). */
static int reads_back(const digits *x, double v, int is_float) {
    double c;
    if (fast_value(x, &c)) {
        if (!is_float) return c == v && !signbit(c) == !signbit(v);
        float f = (float)c, fv = (float)v;
        double d = c - (double)f; /* exact: c and f are that close */
        int midpoint = 0;
        if (d != 0.0 && !isinf(f)) {
            float g = nextafterf(f, d > 0.0 ? INFINITY : -INFINITY);
            midpoint = 2.0 * d == (double)g - (double)f;
        }
        if (!midpoint) return f == fv && !signbit(f) == !signbit(fv);
    }
    if (!is_float && fast_value_ld(x, &c)) return c == v && !signbit(c) == !signbit(v);
    char t[ASSAY__NUM_BUF];
    snprintf(t, sizeof t, "%s%.*se%d", x->neg ? "-" : "", x->n, x->d, x->e - x->n + 1);
    return is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v;
}

/* v is printed once at `most` digits (always reads back) and rounded to fewer from there. The
 * rounding to `guaranteed` digits (DBL_DIG 15, FLT_DIG 6) is the shortest text, trailing zeros
 * dropped, whenever any text that short reads back; past that, the first longer length that
 * reads back is used. A subnormal has fewer bits than that guarantee assumes: its shortest
 * length is searched (reading back only gets likelier with more digits). */
static size_t shortest(char *buf, double v, int subnormal, int guaranteed, int most, int is_float) {
    digits all, x;
    exp_digits(&all, v, most);
    int lo = subnormal ? 1 : guaranteed, found = 0;
    if (subnormal) {
        int hi = most;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            round_to(&x, &all, mid, v);
            if (reads_back(&x, v, is_float))
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    for (; lo < most && !found; lo++) {
        round_to(&x, &all, lo, v);
        found = reads_back(&x, v, is_float);
    }
    if (!found) x = all;
    while (x.n > 1 && x.d[x.n - 1] == '0') x.n--;
    return layout(buf, x.neg, x.d, x.n, x.e);
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

/* ---- the real-number rewriter as a stream: chunks in, rewritten text out ---- */

static int is_num_char(char c) {
    return c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9');
}

static void reals_emit(assay__reals_filter *f, const char *s, size_t n) {
    if (n > 0 && f->err == 0 && f->emit(s, n, f->user) != 0) f->err = -1;
}

/* The number token held in f->tok is complete: its shortest text, or itself. */
static void reals_token_end(assay__reals_filter *f) {
    size_t n = f->n_tok;
    f->n_tok = 0;
    if (f->long_tok) { /* too long for a number we write: already passed through */
        f->long_tok = 0;
        return;
    }
    int real = 0;
    for (size_t k = 0; k < n; k++) real |= f->tok[k] == '.' || f->tok[k] == 'e' || f->tok[k] == 'E';
    if (!real) { /* an integer: as is */
        reals_emit(f, f->tok, n);
        return;
    }
    f->tok[n] = '\0';
    char num[ASSAY__NUM_BUF + 2];
    size_t m = assay__fmt_double(num, strtod(f->tok, NULL));
    if (strpbrk(num, ".e") == NULL) {
        memcpy(num + m, ".0", 3);
        m += 2;
    }
    /* never longer than the token (always so; kept as is otherwise) */
    if (m <= n)
        reals_emit(f, num, m);
    else
        reals_emit(f, f->tok, n);
}

void assay__reals_filter_feed(assay__reals_filter *f, const char *s, size_t n) {
    size_t span = 0; /* start of the run passed through unchanged */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (f->in_str) {
            if (f->esc)
                f->esc = 0;
            else if (c == '\\')
                f->esc = 1;
            else if (c == '"')
                f->in_str = 0;
            continue;
        }
        if (f->n_tok > 0 || f->long_tok) {
            if (is_num_char(c)) {
                if (f->long_tok) continue; /* passed through with the span */
                if (f->n_tok < sizeof f->tok - 1) {
                    f->tok[f->n_tok++] = c;
                    span = i + 1;
                    continue;
                }
                /* 64 characters and more: not a number we write, passed through as is */
                reals_emit(f, f->tok, f->n_tok);
                f->long_tok = 1;
                span = i;
                continue;
            }
            if (f->long_tok) reals_emit(f, s + span, i - span);
            reals_token_end(f);
            span = i;
        }
        if (c == '"') {
            f->in_str = 1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            reals_emit(f, s + span, i - span);
            f->tok[f->n_tok++] = c;
            span = i + 1;
        }
    }
    reals_emit(f, s + span, n - span); /* empty when a token is being read */
}

int assay__reals_filter_end(assay__reals_filter *f) {
    if (f->n_tok > 0 || f->long_tok) reals_token_end(f);
    return f->err;
}

/* In place: the output never runs ahead of the input (a token is written once it is read, and
 * its rewrite is never longer). */
typedef struct inplace_out {
    char *o;
} inplace_out;

static int inplace_emit(const char *s, size_t n, void *user) {
    inplace_out *w = user;
    memmove(w->o, s, n);
    w->o += n;
    return 0;
}

char *assay__json_shortest_reals(char *text) {
    inplace_out w = {text};
    assay__reals_filter f = {.emit = inplace_emit, .user = &w};
    assay__reals_filter_feed(&f, text, strlen(text));
    assay__reals_filter_end(&f);
    *w.o = '\0';
    return text;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Numbers as text: the shortest decimal that reads back to exactly the same double or float32,
 * used by every report, JSON document and message that writes a value (docs/reports.md). */
#ifndef ASSAY_NUMFMT_H
#define ASSAY_NUMFMT_H

#include <stddef.h>

/* Room for any value's text, sign, exponent and terminator included. */
#define ASSAY__NUM_BUF 32

/* Writes the shortest decimal text that strtod reads back to exactly v (at most 17 significant
 * digits) and returns its length. Laid out as printf's %g would lay out those digits at
 * precision 17: plain notation for decimal exponents -4..16 ("0.7", "1", "123456", "-0",
 * "0.0001"), else with an exponent written as jansson writes JSON's, without '+' or leading
 * zeros ("1e-5", "1.7976931348623157e308").
 * Not finite: "nan", "inf", "-inf" (JSON writers write null instead, see assay__json_num). */
size_t assay__fmt_double(char buf[ASSAY__NUM_BUF], double v);

/* The same for a float32 value: the shortest text that strtof reads back to exactly v (at most
 * 9 significant digits), so 0.1f is "0.1", not the double 0.10000000149011612. */
size_t assay__fmt_float(char buf[ASSAY__NUM_BUF], float v);

/* assay__fmt_double's text by value, for a printf argument in a message that echoes a value:
 * printf("got %s", assay__num(v).s) (the array lives until the end of the full expression). */
typedef struct assay__num_text {
    char s[ASSAY__NUM_BUF];
} assay__num_text;
assay__num_text assay__num(double v);

/* The double nearest to v's shortest float text: what a JSON document stores for a float32
 * value so that its shortest double text is the float's text (0.1f -> 0.1). v when not
 * finite. */
double assay__float_as_double(float v);

/* Rewrites, in place, every real number token of JSON text outside strings (one with a '.', 'e'
 * or 'E', as jansson writes them at its default 17 digits) to assay__fmt_double's text, with
 * ".0" appended when that has neither a point nor an exponent, so a real stays a real. Integer
 * tokens and strings are left alone. The text never grows. Returns text. */
char *assay__json_shortest_reals(char *text);

/* The same rewrite over JSON text arriving in chunks (json_dump_callback's), so a document is
 * written without ever being held as one string. Zero-initialise, set emit and user, feed every
 * chunk in order, then end: 0, or -1 once an emit failed (later output is dropped). */
typedef struct assay__reals_filter {
    int (*emit)(const char *s, size_t n, void *user);
    void *user;
    int in_str, esc, long_tok; /* inside a string, after its backslash; a token of 64+ chars */
    size_t n_tok;
    char tok[64]; /* the number token being read */
    int err;
} assay__reals_filter;
void assay__reals_filter_feed(assay__reals_filter *f, const char *s, size_t n);
int assay__reals_filter_end(assay__reals_filter *f);

#endif

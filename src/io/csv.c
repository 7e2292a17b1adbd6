/* SPDX-License-Identifier: Apache-2.0 */
/* CSV input through libcsv: one streaming reader that knows the physical line where each record
 * starts, feeding two consumers, the feature table and a single column of a labels/ids file. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>
#include <openssl/evp.h>

#include "io/dataset_internal.h"
#include "io/input.h"

/* fread block: large enough that per-read overhead vanishes, small enough to be cheap to hold. */
#define CSV_BLOCK (1u << 20)
/* Columns listed in a "no column 'x'" message before "...". */
#define CSV_LIST_MAX 10
/* libcsv is fed at most this many bytes at a time, so a field or line over its limit is caught
 * within this many bytes of the limit, whatever the block size. */
#define CSV_PIECE (64u * 1024)

/* ---- reader ---- */

typedef struct csv_reader csv_reader;

/* What a consumer sees: the header once (after the reader has checked the names), then every
 * field of each data record whose index is below the header's column count, then the end of the
 * record. Field text is libcsv's entry buffer, NUL-terminated (CSV_APPEND_NULL) and valid only
 * during the call, so consumers copy what they keep. */
typedef struct csv_consumer {
    assay_status (*header)(csv_reader *r, void *user);
    assay_status (*field)(csv_reader *r, void *user, size_t col, const char *s, size_t len);
    assay_status (*record)(csv_reader *r, void *user, uint64_t line);
    void *user;
} csv_consumer;

typedef struct hdr_entry {
    const char *name;
    size_t col;
} hdr_entry;

struct csv_reader {
    assay_ctx *ctx;
    const char *path;
    csv_consumer c;
    struct csv_parser p;
    /* libcsv callbacks cannot return an error: the first failure is kept here, later callbacks
     * do nothing, and the feeding loop stops after the current line. */
    assay_status st;
    /* A bad cell is reported only once its record turns out to have the right field count: a
     * missing field shifts the text of later columns, and "expected 786 fields, got 785" is then
     * the useful message, not "expected a number, got 'cat'". */
    assay_status pending;
    uint64_t line;     /* physical line (1-based) of the bytes being fed */
    size_t line_col;   /* bytes of that line fed by earlier csv_parse calls */
    uint64_t rec_line; /* start line of the current record, once its first field has ended */
    size_t nf;         /* fields of the current record seen so far */
    int have_header;
    uint64_t header_line;
    uint64_t n_records; /* data records */
    char **names;       /* header, in file order (strings in `pool`) */
    size_t ncols, names_cap;
    hdr_entry *sorted; /* header sorted by name, for duplicate checks and look-ups */
    assay__strpool pool;
    const assay_limits *lim;
    uint64_t bytes; /* bytes given to reader_input so far (the file size limit) */
};

static size_t count_newlines(const char *s, size_t len) {
    size_t n = 0;
    const char *end = s + len;
    while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        n++;
        s++;
    }
    return n;
}

/* Physical line where the current record starts, valid once its first field has ended. */
static uint64_t record_line(const csv_reader *r) {
    return r->rec_line;
}

static const char *col_name(const csv_reader *r, size_t col) {
    return col < r->ncols ? r->names[col] : "?";
}

/* Copies at most ~40 bytes of cell text for a message, escaping control bytes so a quoted
 * multi-line cell stays on one line. */
static void quote_excerpt(char *dst, size_t cap, const char *s, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o + 8 >= cap || i == 40) {
            memcpy(dst + o, "...", 4);
            return;
        }
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (ch == '\r')
            o += (size_t)snprintf(dst + o, cap - o, "\\r");
        else if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", ch);
        else
            dst[o++] = (char)ch;
    }
    dst[o] = '\0';
}

/* Records a cell error against the current record (first one wins); see `pending`. */
static void reader_defer(csv_reader *r, const char *what, size_t col, const char *s, size_t len) {
    if (r->pending != ASSAY_OK) return;
    char got[72] = "an empty field";
    if (len > 0) {
        char ex[64];
        quote_excerpt(ex, sizeof ex, s, len);
        snprintf(got, sizeof got, "'%s'", ex);
    }
    r->pending = assay__fail(r->ctx, ASSAY_E_FORMAT,
                             "%s:%" PRIu64 ": column '%.100s' (field %zu): expected %s, got %s",
                             r->path, record_line(r), col_name(r, col), col + 1, what, got);
}

static int cmp_hdr(const void *a, const void *b) {
    const hdr_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0) return c;
    return (x->col > y->col) - (x->col < y->col);
}

/* Header column index of `name`, or SIZE_MAX. */
static size_t reader_find(const csv_reader *r, const char *name) {
    size_t lo = 0, hi = r->ncols;
    while (lo < hi) { /* lower bound, so duplicates (rejected anyway) resolve to the first */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(r->sorted[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < r->ncols && strcmp(r->sorted[lo].name, name) == 0) ? r->sorted[lo].col : SIZE_MAX;
}

/* "(columns: a, b, c, ... 786 in all)" */
static void format_columns(const csv_reader *r, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "(columns: ");
    for (size_t i = 0; i < r->ncols && i < CSV_LIST_MAX && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%.40s", i ? ", " : "", r->names[i]);
    if (o < cap && r->ncols > CSV_LIST_MAX)
        o += (size_t)snprintf(buf + o, cap - o, ", ... %zu in all", r->ncols);
    if (o < cap) snprintf(buf + o, cap - o, ")");
}

/* Names the header's columns and, for a likely typo, the nearest one. */
static assay_status missing_column(csv_reader *r, const char *what, const char *name) {
    char cols[640];
    format_columns(r, cols, sizeof cols);
    assay__suggest sg;
    assay__suggest_init(&sg, name);
    for (size_t j = 0; j < r->ncols; j++) assay__suggest_offer(&sg, r->names[j]);
    return assay__fail(r->ctx, ASSAY_E_NOTFOUND,
                       "%s: no %scolumn '%.200s' in the header %s%s%.200s%s", r->path, what, name,
                       cols, sg.best ? "; did you mean '" : "", sg.best ? sg.best : "",
                       sg.best ? "'?" : "");
}

static assay_status header_add(csv_reader *r, const char *s, size_t len) {
    /* The header may hold max_dims features plus a label and an id column. */
    if (r->ncols >= r->lim->max_dims + 2)
        return assay__fail(r->ctx, ASSAY_E_LIMIT,
                           "%s: line %" PRIu64 ": the header has more than %" PRIu64
                           " columns, exceeds --max-dims (%" PRIu64
                           ") plus a label and an id column",
                           r->path, r->line, r->lim->max_dims + 2, r->lim->max_dims);
    if (len > r->lim->max_label_bytes)
        return assay__fail(r->ctx, ASSAY_E_LIMIT,
                           "%s: line %" PRIu64 ": column name %zu of %zu bytes exceeds "
                           "--max-label-bytes (%" PRIu64 ")",
                           r->path, r->line, r->ncols + 1, len, r->lim->max_label_bytes);
    if (r->ncols == r->names_cap) {
        size_t cap = r->names_cap ? 2 * r->names_cap : 64;
        char **p = realloc(r->names, cap * sizeof *p);
        if (p == NULL) return assay__fail(r->ctx, ASSAY_E_NOMEM, "out of memory");
        r->names = p;
        r->names_cap = cap;
    }
    char *name = assay__strpool_add(&r->pool, s, len);
    if (name == NULL) return assay__fail(r->ctx, ASSAY_E_NOMEM, "out of memory");
    r->names[r->ncols++] = name;
    return ASSAY_OK;
}

static assay_status header_finish(csv_reader *r, uint64_t line) {
    r->header_line = line;
    for (size_t j = 0; j < r->ncols; j++) {
        size_t len = strlen(r->names[j]), at = assay__utf8_bad_at(r->names[j], len);
        if (at < len)
            return assay__fail(r->ctx, ASSAY_E_FORMAT,
                               "%s: line %" PRIu64
                               ": column %zu of the header: byte %zu is 0x%02x, "
                               "not valid UTF-8; save the file as UTF-8",
                               r->path, line, j + 1, at + 1, (unsigned char)r->names[j][at]);
    }
    for (size_t j = 0; j < r->ncols; j++)
        if (r->names[j][0] == '\0')
            return assay__fail(r->ctx, ASSAY_E_FORMAT,
                               "%s:%" PRIu64 ": column %zu of the header has an empty name%s",
                               r->path, line, j + 1,
                               j == 0 && r->ncols > 1
                                   ? " (a pandas index saved without a name? write the file "
                                     "with index=False)"
                                   : "");
    r->sorted = malloc(r->ncols * sizeof *r->sorted);
    if (r->sorted == NULL) return assay__fail(r->ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t j = 0; j < r->ncols; j++) r->sorted[j] = (hdr_entry){r->names[j], j};
    qsort(r->sorted, r->ncols, sizeof *r->sorted, cmp_hdr);
    for (size_t j = 1; j < r->ncols; j++)
        if (strcmp(r->sorted[j].name, r->sorted[j - 1].name) == 0)
            return assay__fail(r->ctx, ASSAY_E_FORMAT,
                               "%s:%" PRIu64 ": duplicate column name '%.100s' in the header "
                               "(fields %zu and %zu)",
                               r->path, line, r->sorted[j].name, r->sorted[j - 1].col + 1,
                               r->sorted[j].col + 1);
    r->have_header = 1;
    return r->c.header(r, r->c.user);
}

/* libcsv field callback. */
static void on_field(void *s, size_t len, void *data) {
    csv_reader *r = data;
    if (r->st != ASSAY_OK) return;
    const char *f = s;
    size_t col = r->nf++;
    /* The record starts where its first field starts: on the line being fed, minus the newlines
     * inside that (quoted) field. Blank lines and spaces before it never reach a field, and an
     * unquoted newline would have ended the record, so nothing else can lie in between. Only the
     * first field is scanned, which keeps memchr off the per-field path. */
    if (col == 0) r->rec_line = r->line - (len > 0 ? count_newlines(f, len) : 0);
    if (len > r->lim->max_field_bytes) {
        int named = r->have_header && col < r->ncols;
        r->st = assay__fail(r->ctx, ASSAY_E_LIMIT,
                            "%s: line %" PRIu64 ": field %zu%s%.100s%s of %zu bytes exceeds "
                            "--max-field-bytes (%" PRIu64 ")",
                            r->path, record_line(r), col + 1,
                            named            ? " (column '"
                            : r->have_header ? ""
                                             : " of the header",
                            named ? r->names[col] : "", named ? "')" : "", len,
                            r->lim->max_field_bytes);
        return;
    }
    if (!r->have_header)
        r->st = header_add(r, f, len);
    else if (col < r->ncols)
        r->st = r->c.field(r, r->c.user, col, f, len);
}

/* libcsv record callback. */
static void on_record(int term, void *data) {
    (void)term;
    csv_reader *r = data;
    if (r->st == ASSAY_OK) {
        uint64_t line = record_line(r);
        if (!r->have_header) {
            r->st = header_finish(r, line);
        } else if (r->nf != r->ncols) {
            r->st = assay__fail(r->ctx, ASSAY_E_FORMAT,
                                "%s:%" PRIu64 ": expected %zu fields as in the header, got %zu",
                                r->path, line, r->ncols, r->nf);
        } else if (r->pending != ASSAY_OK) {
            r->st = r->pending;
        } else if (r->n_records >= r->lim->max_rows) {
            r->st = assay__fail(r->ctx, ASSAY_E_LIMIT,
                                "%s: line %" PRIu64 ": more than %" PRIu64
                                " data rows, exceeds --max-rows (%" PRIu64 ")",
                                r->path, line, r->lim->max_rows, r->lim->max_rows);
        } else {
            r->st = r->c.record(r, r->c.user, line);
            r->n_records++;
        }
    }
    r->nf = 0;
}

/* Start line of a record whose first field libcsv is still collecting (an open quote), found
 * from the newlines in the parser's buffer, which csv.h declares as public fields. */
static uint64_t open_record_line(const csv_reader *r) {
    if (r->nf > 0) return r->rec_line;
    if (r->p.entry_buf == NULL || r->p.entry_pos == 0) return r->line;
    return r->line - count_newlines((const char *)r->p.entry_buf, r->p.entry_pos);
}

static assay_status libcsv_error(csv_reader *r, int at_eof, size_t col) {
    int e = csv_error(&r->p);
    if (e == CSV_ENOMEM || e == CSV_ETOOBIG)
        return assay__fail(r->ctx, ASSAY_E_NOMEM, "%s:%" PRIu64 ": %s", r->path, r->line,
                           csv_strerror(e));
    uint64_t start = open_record_line(r);
    if (at_eof)
        return assay__fail(r->ctx, ASSAY_E_FORMAT,
                           "%s:%" PRIu64 ": a quoted field opened in the record starting on this "
                           "line is never closed (libcsv: %s)",
                           r->path, start, csv_strerror(e));
    char rec[64] = "";
    if (start != r->line)
        snprintf(rec, sizeof rec, " (record starting on line %" PRIu64 ")", start);
    return assay__fail(r->ctx, ASSAY_E_FORMAT,
                       "%s:%" PRIu64 ":%zu: malformed CSV%s: a quote inside an unquoted field or "
                       "text after a closing quote; quote the whole field and double the quotes "
                       "inside it (libcsv: %s)",
                       r->path, r->line, col, rec, csv_strerror(e));
}

/* A field libcsv is still collecting has outgrown the limit (its full length is unknown). */
static assay_status field_too_long(csv_reader *r) {
    return assay__fail(r->ctx, ASSAY_E_LIMIT,
                       "%s: line %" PRIu64 ": field %zu%s%.100s%s of more than %" PRIu64
                       " bytes exceeds --max-field-bytes (%" PRIu64 ")",
                       r->path, open_record_line(r), r->nf + 1,
                       r->have_header && r->nf < r->ncols ? " (column '" : "",
                       r->have_header && r->nf < r->ncols ? r->names[r->nf] : "",
                       r->have_header && r->nf < r->ncols ? "')" : "", r->lim->max_field_bytes,
                       r->lim->max_field_bytes);
}

/* Gives libcsv buf[0..len) (part of one physical line) in pieces of at most CSV_PIECE bytes,
 * checking after each that the field being collected is within the limit. */
static assay_status parse_pieces(csv_reader *r, const char *buf, size_t len) {
    while (len > 0) {
        size_t piece = len < CSV_PIECE ? len : CSV_PIECE;
        size_t done = csv_parse(&r->p, buf, piece, on_field, on_record, r);
        if (r->st != ASSAY_OK) return r->st;
        if (done < piece) return libcsv_error(r, 0, r->line_col + done + 1);
        if (r->p.entry_pos > r->lim->max_field_bytes) return field_too_long(r);
        r->line_col += piece;
        buf += piece;
        len -= piece;
    }
    return ASSAY_OK;
}

/* Feeds bytes to libcsv a physical line at a time, so that the line number is exact when a
 * callback fires. A line cut by the block end is fed as is: libcsv keeps its own state across
 * calls, and the line number only advances once the '\n' has been fed. A NUL byte is refused
 * (text files hold none; libcsv would keep it and the label would end there), and so is a line
 * longer than the limit, before it is fed. */
static assay_status reader_feed(csv_reader *r, const char *buf, size_t len) {
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t chunk = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        size_t text = nl ? chunk - 1 : chunk;
        if (r->line_col + text > r->lim->max_line_bytes) {
            if (nl != NULL)
                return assay__fail(r->ctx, ASSAY_E_LIMIT,
                                   "%s: line %" PRIu64 ": line of %" PRIu64
                                   " bytes exceeds --max-line-bytes (%" PRIu64 ")",
                                   r->path, r->line, (uint64_t)(r->line_col + text),
                                   r->lim->max_line_bytes);
            return assay__fail(r->ctx, ASSAY_E_LIMIT,
                               "%s: line %" PRIu64 ": line of more than %" PRIu64
                               " bytes exceeds --max-line-bytes (%" PRIu64 ")",
                               r->path, r->line, r->lim->max_line_bytes, r->lim->max_line_bytes);
        }
        const char *nul = memchr(p, '\0', chunk);
        if (nul != NULL) {
            /* Parse up to the NUL so the message can say which field holds it. */
            ASSAY_TRY(parse_pieces(r, p, (size_t)(nul - p)));
            int named = r->have_header && r->nf < r->ncols;
            return assay__fail(r->ctx, ASSAY_E_FORMAT,
                               "%s: line %" PRIu64 ", byte %zu: a NUL byte in field %zu%s%.100s%s; "
                               "a CSV file is text (the file is damaged or not CSV)",
                               r->path, r->line, r->line_col + 1, r->nf + 1,
                               named            ? " (column '"
                               : r->have_header ? ""
                                                : " of the header",
                               named ? r->names[r->nf] : "", named ? "')" : "");
        }
        ASSAY_TRY(parse_pieces(r, p, chunk));
        p += chunk;
        if (nl != NULL) {
            r->line++;
            r->line_col = 0;
        }
    }
    return ASSAY_OK;
}

/* Bytes of the input in order, in blocks of any size; the first block holds the first three
 * bytes of the file (or all of it) so the byte order mark can be seen. */
static assay_status reader_input(csv_reader *r, const char *buf, size_t len) {
    const char *p = buf;
    if (r->bytes == 0 && len > 0) {
        const unsigned char *u = (const unsigned char *)buf;
        if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
            p += 3; /* UTF-8 byte order mark (Excel, PowerShell) */
        } else if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
            return assay__fail(r->ctx, ASSAY_E_FORMAT,
                               "%s: the file is UTF-16 encoded; save it as UTF-8", r->path);
    }
    r->bytes += len;
    ASSAY_TRY(assay__check_file_bytes(r->ctx, r->path, r->bytes, 1));
    return reader_feed(r, p, len - (size_t)(p - buf));
}

/* The end of the input: the last record and the checks that need all of it. */
static assay_status reader_finish(csv_reader *r) {
    if (csv_fini(&r->p, on_field, on_record, r) != 0) return libcsv_error(r, 1, 0);
    if (r->st != ASSAY_OK) return r->st;
    if (r->p.entry_pos > r->lim->max_field_bytes) return field_too_long(r);
    if (!r->have_header)
        return assay__fail(r->ctx, ASSAY_E_FORMAT, "%s: the file is empty, expected a header row",
                           r->path);
    if (r->n_records == 0)
        return assay__fail(r->ctx, ASSAY_E_FORMAT,
                           "%s: the header (line %" PRIu64 ") is not followed by any data rows",
                           r->path, r->header_line);
    return ASSAY_OK;
}

/* Reads an open input to its end in blocks; `md` (may be NULL) hashes every byte read. */
static assay_status reader_stream(csv_reader *r, const assay__input *in, char *buf,
                                  EVP_MD_CTX *md) {
    size_t have = 0;
    for (;;) {
        ssize_t got = read(in->fd, buf + have, CSV_BLOCK - have);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            return assay__fail(r->ctx, assay__errno_status(e), "%s: read error: %s", r->path,
                               strerror(e));
        }
        have += (size_t)got;
        int eof = got == 0;
        if (!eof && r->bytes == 0 && have < 3) continue; /* a pipe may give 1 byte at a time */
        if (have > 0) {
            if (md != NULL && !EVP_DigestUpdate(md, buf, have))
                return assay__fail(r->ctx, ASSAY_E_INTERNAL, "SHA-256 (OpenSSL) failed");
            ASSAY_TRY(reader_input(r, buf, have));
            have = 0;
        }
        if (eof) return reader_finish(r);
    }
}

/* Where the bytes come from: a file (or "-" where allowed), or a buffer. */
typedef struct csv_source {
    const char *buf; /* non-NULL: parse buf[0..len) */
    size_t len;
    int allow_stdin;
    assay__file_info *stdin_file; /* "-": receives the size and SHA-256 of what was read */
} csv_source;

/* Parses the source into the consumer. Everything the reader allocates is released before
 * return. */
static assay_status reader_run(assay_ctx *ctx, const char *path, const csv_source *src,
                               const csv_consumer *c) {
    csv_reader r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.path = path;
    r.c = *c;
    r.line = 1;
    r.lim = assay__limits(ctx);

    assay__input in = {-1, 0, 0, 0};
    char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    if (src->buf == NULL) {
        ASSAY_TRY(assay__input_open(ctx, path, "a CSV file", src->allow_stdin, &in));
        buf = malloc(CSV_BLOCK);
        if (in.is_stdin && src->stdin_file != NULL) {
            md = EVP_MD_CTX_new();
            if (md != NULL && !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                md = NULL;
            }
            if (md == NULL) {
                free(buf);
                assay__input_close(&in);
                return assay__fail(ctx, ASSAY_E_INTERNAL, "SHA-256 (OpenSSL) failed");
            }
        }
        if (buf == NULL) {
            EVP_MD_CTX_free(md);
            assay__input_close(&in);
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        }
    }
    /* STRICT: a stray quote is an error, not data. STRICT_FINI: an unclosed quote at the end of
     * the file is an error, not a field that silently swallowed the rest of the file. */
    csv_init(&r.p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    /* libcsv grows its field buffer by this many bytes at a time (default 128, which turns a
     * long quoted field into quadratic copying). */
    csv_set_blk_size(&r.p, 64 * 1024);

    /* Numbers are read with strtof, which follows LC_NUMERIC: a program that called
     * setlocale(LC_ALL, "") in a locale with decimal commas would misread "0.5". Parse under
     * the C locale on this thread only; if that fails, the process locale is used. */
    locale_t cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = cloc != (locale_t)0 ? uselocale(cloc) : (locale_t)0;

    assay_status s;
    if (src->buf != NULL) {
        s = reader_input(&r, src->buf, src->len);
        if (s == ASSAY_OK) s = reader_finish(&r);
    } else {
        s = reader_stream(&r, &in, buf, md);
    }
    if (s == ASSAY_OK && md != NULL) {
        unsigned int hl = 0;
        if (!EVP_DigestFinal_ex(md, src->stdin_file->sha256, &hl))
            s = assay__fail(ctx, ASSAY_E_INTERNAL, "SHA-256 (OpenSSL) failed");
        src->stdin_file->bytes = r.bytes;
        src->stdin_file->hashed = 1;
    }

    if (cloc != (locale_t)0) {
        uselocale(old);
        freelocale(cloc);
    }
    csv_free(&r.p);
    EVP_MD_CTX_free(md);
    free(buf);
    assay__input_close(&in);
    free(r.names);
    free(r.sorted);
    assay__strpool_free(&r.pool);
    return s;
}

/* ---- shared value storage ---- */

/* Grows an array of string pointers to `cap` entries. */
static assay_status grow_ptrs(assay_ctx *ctx, char ***arr, size_t cap) {
    char **p = realloc(*arr, cap * sizeof *p);
    if (p == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    *arr = p;
    return ASSAY_OK;
}

/* Labels, ids and column names must be UTF-8, the encoding of every report: invalid bytes used
 * to reach report.json as U+FFFD, so two different labels could show as one. (Control bytes are
 * kept: the reports escape them.) Reported as a pending cell error. */
static void check_text(csv_reader *r, size_t col, const char *s, size_t len, const char *what) {
    size_t at = assay__utf8_bad_at(s, len);
    if (at == len || r->pending != ASSAY_OK) return;
    r->pending = assay__fail(r->ctx, ASSAY_E_FORMAT,
                             "%s: line %" PRIu64 ": column '%.100s' (field %zu): byte %zu of the "
                             "%s is 0x%02x, not valid UTF-8; save the file as UTF-8",
                             r->path, record_line(r), col_name(r, col), col + 1, at + 1, what,
                             (unsigned char)s[at]);
}

/* An empty label or id cell (how pandas writes a missing value), reported like a bad cell. */
static void reader_defer_empty(csv_reader *r, const char *what, const char *noun, size_t col) {
    if (r->pending != ASSAY_OK) return;
    r->pending = assay__fail(r->ctx, ASSAY_E_FORMAT,
                             "%s:%" PRIu64 ": column '%.100s' (field %zu): empty %s; expected "
                             "%s in every row (a missing value written as an empty cell?)",
                             r->path, record_line(r), col_name(r, col), col + 1, noun, what);
}

/* Copies a label/id cell into column `c` at row `row` (capacity already ensured). Empty values
 * are errors: an empty label would silently become a class of its own, and an empty id would
 * make rows unmatchable against a baseline. */
static assay_status store_value(csv_reader *r, assay__column *c, size_t row, size_t col,
                                const char *s, size_t len, const char *what) {
    const char *noun = what + (strncmp(what, "an ", 3) == 0 ? 3 : 2); /* "a label" -> "label" */
    if (len == 0) {
        reader_defer_empty(r, what, noun, col);
        return ASSAY_OK;
    }
    if (len > r->lim->max_label_bytes)
        return assay__fail(r->ctx, ASSAY_E_LIMIT,
                           "%s: line %" PRIu64 ": column '%.100s' (field %zu): %s of %zu bytes "
                           "exceeds --max-label-bytes (%" PRIu64 ")",
                           r->path, record_line(r), col_name(r, col), col + 1, noun, len,
                           r->lim->max_label_bytes);
    check_text(r, col, s, len, noun);
    char *v = assay__strpool_add(&c->pool, s, len);
    if (v == NULL) return assay__fail(r->ctx, ASSAY_E_NOMEM, "out of memory");
    c->s[row] = v;
    return ASSAY_OK;
}

/* ---- consumer 1: the feature table ---- */

enum { SLOT_SKIP = -1, SLOT_LABEL = -2, SLOT_ID = -3 };

typedef struct table_load {
    assay_dataset *ds;
    const assay_load_opts *opts;
    int32_t *slot; /* per header column: feature index >= 0, or a SLOT_* role */
    size_t cap;    /* rows allocated in ds->x, ds->csv_line and the label/id pointer arrays */
    int store_label, store_id;
} table_load;

static const char *or_default(const char *s, const char *def) {
    return (s != NULL && s[0] != '\0') ? s : def;
}

/* Makes room for row ds->n. realloc, not a fresh aligned block, because N is unknown and
 * glibc grows large blocks with mremap, without copying. */
static assay_status table_reserve(assay_ctx *ctx, table_load *t) {
    assay_dataset *ds = t->ds;
    if (ds->n < t->cap) return ASSAY_OK;
    size_t cap = t->cap ? 2 * t->cap : 16, bytes;
    if (assay__mul_overflows(cap, ds->ld * sizeof(float), &bytes))
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%zu rows of %zu floats)", cap,
                           ds->ld);
    float *x = realloc(ds->x, bytes);
    if (x == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ds->x = x;
    uint64_t *lines = realloc(ds->csv_line, cap * sizeof *lines);
    if (lines == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ds->csv_line = lines;
    if (t->store_label) ASSAY_TRY(grow_ptrs(ctx, &ds->labels.s, cap));
    if (t->store_id) ASSAY_TRY(grow_ptrs(ctx, &ds->ids.s, cap));
    t->cap = cap;
    return ASSAY_OK;
}

/* Maps opts->feature_columns (comma-separated, spaces around names dropped) to slots 0..d-1. */
static assay_status table_pick_features(csv_reader *r, table_load *t, const char *list, size_t *d) {
    const char *cursor = list, *a, *b;
    while (assay__list_next(&cursor, &a, &b)) {
        if (a == b)
            return assay__fail(r->ctx, ASSAY_E_INVAL, "feature columns: empty name in '%s'", list);
        char name[256];
        if ((size_t)(b - a) >= sizeof name)
            return assay__fail(r->ctx, ASSAY_E_NOTFOUND, "%s: no feature column '%.*s...'", r->path,
                               40, a);
        memcpy(name, a, (size_t)(b - a));
        name[b - a] = '\0';
        size_t j = reader_find(r, name);
        if (j == SIZE_MAX) return missing_column(r, "feature ", name);
        if (t->slot[j] == SLOT_LABEL || t->slot[j] == SLOT_ID)
            return assay__fail(r->ctx, ASSAY_E_INVAL,
                               "%s: column '%s' is the %s column and cannot also be a feature",
                               r->path, name, t->slot[j] == SLOT_LABEL ? "label" : "id");
        if (t->slot[j] >= 0)
            return assay__fail(r->ctx, ASSAY_E_INVAL, "feature columns: '%s' is listed twice",
                               name);
        if (*d >= INT32_MAX) return assay__fail(r->ctx, ASSAY_E_FORMAT, "too many columns");
        t->slot[j] = (int32_t)(*d)++;
    }
    return ASSAY_OK;
}

static assay_status table_header(csv_reader *r, void *user) {
    table_load *t = user;
    assay_dataset *ds = t->ds;
    const assay_load_opts *o = t->opts;
    t->slot = malloc(r->ncols * sizeof *t->slot);
    if (t->slot == NULL) return assay__fail(r->ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t j = 0; j < r->ncols; j++) t->slot[j] = SLOT_SKIP;

    /* Label: required unless a labels file replaces it; a label column in the table is never a
     * feature, even when the labels come from elsewhere. */
    const char *label_name = or_default(o->label_column, ASSAY_DEFAULT_LABEL_COLUMN);
    size_t li = reader_find(r, label_name);
    if (li == SIZE_MAX && o->labels_file == NULL) return missing_column(r, "", label_name);
    /* Id: an explicit name must exist; the default "id" is used when present. With an ids file
     * the table's id column is only kept out of the features. */
    const char *id_name = or_default(o->id_column, ASSAY_DEFAULT_ID_COLUMN);
    size_t ii = reader_find(r, id_name);
    if (ii == SIZE_MAX && o->id_column != NULL && o->id_column[0] != '\0' && o->ids_file == NULL)
        return missing_column(r, "id ", id_name);
    if (li != SIZE_MAX && li == ii)
        return assay__fail(r->ctx, ASSAY_E_INVAL,
                           "%s: column '%s' cannot be both the label and the id column", r->path,
                           label_name);
    if (li != SIZE_MAX) t->slot[li] = SLOT_LABEL;
    if (ii != SIZE_MAX) t->slot[ii] = SLOT_ID;

    size_t d = 0;
    if (o->feature_columns != NULL && o->feature_columns[0] != '\0') {
        ASSAY_TRY(table_pick_features(r, t, o->feature_columns, &d));
    } else {
        for (size_t j = 0; j < r->ncols; j++) {
            if (t->slot[j] != SLOT_SKIP) continue;
            if (d >= INT32_MAX) return assay__fail(r->ctx, ASSAY_E_FORMAT, "too many columns");
            t->slot[j] = (int32_t)d++;
        }
    }
    if (d > r->lim->max_dims)
        return assay__fail(r->ctx, ASSAY_E_LIMIT,
                           "%s: line %" PRIu64 ": %zu feature columns exceed --max-dims (%" PRIu64
                           ")",
                           r->path, r->header_line, d, r->lim->max_dims);
    if (d == 0) {
        char cols[640];
        format_columns(r, cols, sizeof cols);
        return assay__fail(r->ctx, ASSAY_E_FORMAT,
                           "%s: no feature columns besides the label and id columns %s", r->path,
                           cols);
    }
    if (li != SIZE_MAX && o->labels_file != NULL) t->slot[li] = SLOT_SKIP;
    if (ii != SIZE_MAX && o->ids_file != NULL) t->slot[ii] = SLOT_SKIP;
    t->store_label = li != SIZE_MAX && t->slot[li] == SLOT_LABEL;
    t->store_id = ii != SIZE_MAX && t->slot[ii] == SLOT_ID;

    ds->d = d;
    ds->ld = assay__row_stride(d);
    ds->n = 0;
    if (t->store_label) {
        ds->labels.type = ASSAY__COL_STR;
        ASSAY_TRY(
            assay__column_set_source(r->ctx, &ds->labels, "%s (column '%s')", r->path, label_name));
    }
    if (t->store_id) {
        ds->ids.type = ASSAY__COL_STR;
        ASSAY_TRY(assay__column_set_source(r->ctx, &ds->ids, "%s (column '%s')", r->path, id_name));
    }
    return table_reserve(r->ctx, t);
}

/* Short decimals ("0", "255", "-0.4273", "1.5e-3") are most of a feature table, and glibc's
 * strtof takes ~60 ns each, three times libcsv's own cost per field. Clinger's fast path gives the
 * same float without it: when the decimal significand w fits in 24 bits and |exponent| <= 10,
 * both w and 10^k are exact floats, so one IEEE float multiply or divide rounds the exact value
 * once, correctly, as strtof does. Anything else (more digits, big exponents, nan, inf, hex)
 * returns 0 and goes to strtof, which stays the specification. Needs float arithmetic evaluated
 * in float (FLT_EVAL_METHOD 0; not x87). */
static int fast_float(const char *s, const char *end, float *out) {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    static const float pow10[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) neg = *s++ == '-';
    uint64_t w = 0;
    int e10 = 0, digits = 0;
    for (; s < end && (unsigned)(*s - '0') < 10; s++, digits++) {
        if (w > UINT64_MAX / 16) return 0;
        w = w * 10 + (unsigned)(*s - '0');
    }
    if (s < end && *s == '.')
        for (s++; s < end && (unsigned)(*s - '0') < 10; s++, digits++, e10--) {
            if (w > UINT64_MAX / 16 || e10 < -1000) return 0; /* (leading zeros keep w at 0) */
            w = w * 10 + (unsigned)(*s - '0');
        }
    if (digits == 0) return 0;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        int eneg = 0, ed = 0, ev = 0;
        if (s < end && (*s == '-' || *s == '+')) eneg = *s++ == '-';
        for (; s < end && (unsigned)(*s - '0') < 10; s++, ed++)
            if (ev < 1000) ev = ev * 10 + (*s - '0');
        if (ed == 0) return 0;
        e10 += eneg ? -ev : ev;
    }
    if (s != end) return 0;
    if (w == 0) {
        *out = neg ? -0.0f : 0.0f;
        return 1;
    }
    while (w % 10 == 0) { /* "0.5000" is 5e-1 */
        w /= 10;
        e10++;
    }
    if (w > (1u << 24) || e10 < -10 || e10 > 10) return 0;
    float v = e10 < 0 ? (float)w / pow10[-e10] : (float)w * pow10[e10];
    *out = neg ? -v : v;
    return 1;
#else
    (void)s;
    (void)end;
    (void)out;
    return 0;
#endif
}

/* A number filling the whole cell, as strtof reads it. libcsv already drops spaces around
 * unquoted fields; a quoted cell may still carry them. "nan", "inf", "-inf" and overflow to
 * infinity are accepted: such rows are integrity findings of the scan, not load errors. */
static int parse_float(const char *s, size_t len, float *out) {
    const char *end = s + len;
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if (s == end) return 0;
    if (fast_float(s, end, out)) return 1;
    char *stop = NULL;
    float v = strtof(s, &stop); /* the cell is NUL-terminated (CSV_APPEND_NULL) */
    if (stop != end) return 0;
    *out = v;
    return 1;
}

static int is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

static assay_status table_field(csv_reader *r, void *user, size_t col, const char *s, size_t len) {
    table_load *t = user;
    assay_dataset *ds = t->ds;
    int32_t slot = t->slot[col];
    if (slot >= 0) {
        float v = 0.0f;
        /* An empty cell is a missing value (pandas writes NaN so): NaN, so the row becomes an
         * integrity finding like the text "nan", not a load error. */
        if (is_blank(s, len))
            v = NAN;
        else if (!parse_float(s, len, &v))
            reader_defer(r, "a number", col, s, len);
        ds->x[ds->n * ds->ld + (size_t)slot] = v;
    } else if (slot == SLOT_LABEL) {
        return store_value(r, &ds->labels, ds->n, col, s, len, "a label");
    } else if (slot == SLOT_ID) {
        return store_value(r, &ds->ids, ds->n, col, s, len, "an id");
    }
    return ASSAY_OK;
}

static assay_status table_record(csv_reader *r, void *user, uint64_t line) {
    table_load *t = user;
    assay_dataset *ds = t->ds;
    float *row = ds->x + ds->n * ds->ld;
    if (ds->ld > ds->d) memset(row + ds->d, 0, (ds->ld - ds->d) * sizeof *row);
    ds->csv_line[ds->n] = line;
    ds->n++;
    if (t->store_label) ds->labels.n = ds->n;
    if (t->store_id) ds->ids.n = ds->n;
    return table_reserve(r->ctx, t);
}

static assay_status load_table(assay_ctx *ctx, assay_dataset *ds, const char *path,
                               const csv_source *src, const assay_load_opts *opts) {
    if (ds == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__csv_load: NULL argument");
    assay_load_opts defaults = ASSAY_LOAD_OPTS_INIT;
    table_load t;
    memset(&t, 0, sizeof t);
    t.ds = ds;
    t.opts = opts != NULL ? opts : &defaults;
    const csv_consumer c = {table_header, table_field, table_record, &t};
    /* On failure the partly filled ds->x, csv_line, labels and ids stay owned by ds and are
     * released by assay_dataset_destroy, like every other loader's. */
    assay_status s = reader_run(ctx, path, src, &c);
    free(t.slot);
    if (s != ASSAY_OK) return s;
    if (ds->n < t.cap) { /* give back the unused tail of the last doubling */
        float *x = realloc(ds->x, ds->n * ds->ld * sizeof *x);
        if (x != NULL) ds->x = x;
    }
    if (t.store_label) ASSAY_TRY(assay__column_maybe_to_int(ctx, &ds->labels));
    if (t.store_id) ASSAY_TRY(assay__column_maybe_to_int(ctx, &ds->ids));
    return ASSAY_OK;
}

assay_status assay__csv_load(assay_ctx *ctx, assay_dataset *ds, const char *path,
                             const assay_load_opts *opts) {
    if (!assay__is_stdin_path(path)) {
        const csv_source src = {NULL, 0, 0, NULL};
        return load_table(ctx, ds, path, &src, opts);
    }
    /* Standard input cannot be read twice: its size and SHA-256 are taken while parsing. */
    assay__file_info f;
    memset(&f, 0, sizeof f);
    const csv_source src = {NULL, 0, 1, &f};
    ASSAY_TRY(load_table(ctx, ds, path, &src, opts));
    ASSAY_TRY(assay__dataset_add_file(ctx, ds, "table", path));
    assay__file_info *added = &ds->files[ds->n_files - 1];
    added->bytes = f.bytes;
    memcpy(added->sha256, f.sha256, sizeof f.sha256);
    added->hashed = 1;
    return ASSAY_OK;
}

assay_status assay__csv_load_buf(assay_ctx *ctx, assay_dataset *ds, const char *name,
                                 const char *buf, size_t len, const assay_load_opts *opts) {
    if (buf == NULL && len > 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__csv_load_buf: NULL buffer");
    const csv_source src = {buf != NULL ? buf : "", len, 0, NULL};
    return load_table(ctx, ds, name, &src, opts);
}

/* ---- consumer 2: one column of a labels/ids file ---- */

typedef struct column_load {
    const char *want;
    size_t col;
    size_t cap;
    assay__column *out;
} column_load;

static assay_status column_header(csv_reader *r, void *user) {
    column_load *cl = user;
    /* A one-column file is taken whatever its header says ("y", "target", "0"). */
    cl->col = r->ncols == 1 ? 0 : reader_find(r, cl->want);
    if (cl->col == SIZE_MAX) return missing_column(r, "", cl->want);
    cl->out->type = ASSAY__COL_STR;
    return assay__column_set_source(r->ctx, cl->out, "%s (column '%s')", r->path,
                                    r->names[cl->col]);
}

static assay_status column_field(csv_reader *r, void *user, size_t col, const char *s, size_t len) {
    column_load *cl = user;
    if (col != cl->col) return ASSAY_OK;
    if (cl->out->n == cl->cap) {
        size_t cap = cl->cap ? 2 * cl->cap : 1024;
        ASSAY_TRY(grow_ptrs(r->ctx, &cl->out->s, cap));
        cl->cap = cap;
    }
    return store_value(r, cl->out, cl->out->n, col, s, len, "a value");
}

static assay_status column_record(csv_reader *r, void *user, uint64_t line) {
    (void)r;
    (void)line;
    column_load *cl = user;
    cl->out->n++;
    return ASSAY_OK;
}

static assay_status load_column(assay_ctx *ctx, const char *path, const csv_source *src,
                                const char *column, int want_int_if_possible, assay__column *out) {
    if (path == NULL || out == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__csv_load_column: NULL argument");
    assay__column_free(out);
    column_load cl = {or_default(column, ASSAY_DEFAULT_LABEL_COLUMN), 0, 0, out};
    const csv_consumer c = {column_header, column_field, column_record, &cl};
    assay_status s = reader_run(ctx, path, src, &c);
    if (s == ASSAY_OK && want_int_if_possible) s = assay__column_maybe_to_int(ctx, out);
    if (s != ASSAY_OK) assay__column_free(out);
    return s;
}

assay_status assay__csv_load_column(assay_ctx *ctx, const char *path, const char *column,
                                    int want_int_if_possible, assay__column *out) {
    const csv_source src = {NULL, 0, 0, NULL};
    return load_column(ctx, path, &src, column, want_int_if_possible, out);
}

assay_status assay__csv_load_column_buf(assay_ctx *ctx, const char *name, const char *buf,
                                        size_t len, const char *column, int want_int_if_possible,
                                        assay__column *out) {
    if (buf == NULL && len > 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__csv_load_column_buf: NULL buffer");
    const csv_source src = {buf != NULL ? buf : "", len, 0, NULL};
    return load_column(ctx, name, &src, column, want_int_if_possible, out);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* assay._assay: the CPython binding of libassay's in-memory API (docs/python.md).
 *
 * Arrays come in through the buffer protocol (strides and format), so a float32 array is scanned
 * where it lies. The long calls (loading, the scan) run on a worker thread while the calling
 * thread waits without the GIL in short slices, taking it back only to run Python's signal
 * handlers: Ctrl-C cancels the scan through assay_ctx_cancel and raises KeyboardInterrupt. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assay/assay.h"

/* The exception classes of assay/_errors.py, looked up at import. */
static PyObject *g_errors_mod;

static const char *status_name(assay_status s) {
    switch (s) {
#define ASSAY_X_(name, value, text, input)                                                         \
    case ASSAY_##name:                                                                             \
        return #name;
        ASSAY_STATUS_MAP(ASSAY_X_)
#undef ASSAY_X_
    }
    return "E_INTERNAL";
}

/* Raises the exception for status s with the context's message (the one the CLI prints). */
static PyObject *raise_status(assay_ctx *ctx, assay_status s, const char *fallback) {
    const char *msg = ctx != NULL ? assay_ctx_errmsg(ctx) : "";
    if (msg == NULL || msg[0] == '\0') msg = fallback != NULL ? fallback : assay_status_str(s);
    PyObject *fn = PyObject_GetAttrString(g_errors_mod, "_raise");
    if (fn == NULL) return NULL;
    PyObject *exc =
        PyObject_CallFunction(fn, "ssi", msg, status_name(s), assay_status_is_input_error(s));
    Py_DECREF(fn);
    if (exc == NULL) return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- running a long call off the GIL, interruptibly ---- */

typedef struct job {
    void (*fn)(struct job *);
    assay_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    assay_status status;
    void *arg;
} job;

static void *job_main(void *p) {
    job *j = p;
    j->fn(j);
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Runs j->fn on a new thread. Returns 0 when it finished (j->status says how), -1 with a Python
 * exception set when a signal handler raised one (Ctrl-C): the work was cancelled and joined. */
static int run_job(job *j) {
    pthread_t th;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->done = 0;
    /* The worker and the library threads it starts block the asynchronous signals, so they go to
     * this thread's handlers (Python's) and never interrupt a system call of the library. */
    sigset_t all, old;
    sigfillset(&all);
    int sync_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    for (size_t i = 0; i < sizeof sync_sigs / sizeof sync_sigs[0]; i++)
        sigdelset(&all, sync_sigs[i]);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&th, NULL, job_main, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        PyErr_Format(PyExc_RuntimeError, "assay: could not start the scan thread: %s",
                     strerror(rc));
        return -1;
    }
    int failed = 0;
    for (;;) {
        int done;
        Py_BEGIN_ALLOW_THREADS;
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 50 * 1000 * 1000; /* 50 ms slices */
        if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&j->mu);
        if (!j->done) pthread_cond_timedwait(&j->cv, &j->mu, &t);
        done = j->done;
        pthread_mutex_unlock(&j->mu);
        Py_END_ALLOW_THREADS;
        if (done) break;
        if (PyErr_CheckSignals() < 0) {
            assay_ctx_cancel(j->ctx);
            failed = 1;
            break;
        }
    }
    Py_BEGIN_ALLOW_THREADS;
    pthread_join(th, NULL);
    Py_END_ALLOW_THREADS;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    return failed ? -1 : 0;
}

static assay_ctx *new_ctx(int threads, assay_precision precision) {
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = threads;
    o.precision = precision;
    assay_ctx *ctx = NULL;
    assay_status s = assay_ctx_create(&ctx, &o);
    if (s != ASSAY_OK) {
        raise_status(NULL, s,
                     s == ASSAY_E_UNSUPPORTED ? "instruction set not supported (check ASSAY_ISA)"
                                              : NULL);
        return NULL;
    }
    return ctx;
}

/* ---- Dataset ---- */

typedef struct {
    PyObject_HEAD assay_dataset *ds;
    Py_buffer xbuf; /* the caller's embeddings, held while the dataset may borrow them */
    int has_xbuf;
    int exports; /* buffer views of .X handed out */
} DatasetObject;

static PyTypeObject DatasetType;

static void Dataset_dealloc(DatasetObject *self) {
    assay_dataset_destroy(self->ds);
    if (self->has_xbuf) PyBuffer_Release(&self->xbuf);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static DatasetObject *dataset_wrap(assay_dataset *ds, Py_buffer *xbuf) {
    DatasetObject *d = PyObject_New(DatasetObject, &DatasetType);
    if (d == NULL) {
        assay_dataset_destroy(ds);
        if (xbuf != NULL) PyBuffer_Release(xbuf);
        return NULL;
    }
    d->ds = ds;
    d->exports = 0;
    d->has_xbuf = 0;
    if (xbuf != NULL) {
        /* only the buffers the dataset reads in place need to stay held */
        if (assay_dataset_borrowed(ds)) {
            d->xbuf = *xbuf;
            d->has_xbuf = 1;
        } else {
            PyBuffer_Release(xbuf);
        }
    }
    return d;
}

static PyObject *Dataset_get_n(DatasetObject *self, void *c) {
    (void)c;
    return PyLong_FromSize_t(assay_dataset_rows(self->ds));
}
static PyObject *Dataset_get_d(DatasetObject *self, void *c) {
    (void)c;
    return PyLong_FromSize_t(assay_dataset_dims(self->ds));
}
static PyObject *Dataset_get_borrowed(DatasetObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(assay_dataset_borrowed(self->ds));
}
static PyObject *Dataset_get_format(DatasetObject *self, void *c) {
    (void)c;
    return PyUnicode_FromString(assay_format_name(assay_dataset_format(self->ds)));
}
static PyObject *Dataset_get_digest(DatasetObject *self, void *c) {
    (void)c;
    char hex[65];
    assay_dataset_digest_hex(self->ds, hex, sizeof hex);
    return PyUnicode_FromString(hex);
}
static PyObject *Dataset_get_classes(DatasetObject *self, void *c) {
    (void)c;
    size_t n = assay_dataset_classes(self->ds);
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (l == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(assay_dataset_class_label(self->ds, i));
        if (s == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

/* Row labels (which == 0) or ids (which == 1) as a list of str. */
static PyObject *row_texts(const assay_dataset *ds, int which) {
    size_t n = assay_dataset_rows(ds);
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (l == NULL) return NULL;
    size_t cap = 256;
    char *buf = malloc(cap);
    if (buf == NULL) {
        Py_DECREF(l);
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < n; i++) {
        assay_status s;
        while ((s = which == 0 ? assay_dataset_row_label(ds, i, buf, cap)
                               : assay_dataset_row_id(ds, i, buf, cap)) != ASSAY_OK &&
               cap < ((size_t)1 << 24)) {
            char *nb = realloc(buf, cap * 4);
            if (nb == NULL) break;
            buf = nb, cap *= 4;
        }
        PyObject *o = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
        if (s != ASSAY_OK || o == NULL) {
            Py_XDECREF(o);
            free(buf);
            Py_DECREF(l);
            return o == NULL ? NULL : PyErr_NoMemory();
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, o);
    }
    free(buf);
    return l;
}

static PyObject *Dataset_row_labels(DatasetObject *self, PyObject *u) {
    (void)u;
    return row_texts(self->ds, 0);
}
static PyObject *Dataset_row_ids(DatasetObject *self, PyObject *u) {
    (void)u;
    return row_texts(self->ds, 1);
}
/* Class index per row (int32, -1 = undeclared label) as bytes. */
static PyObject *Dataset_row_classes(DatasetObject *self, PyObject *u) {
    (void)u;
    size_t n = assay_dataset_rows(self->ds);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(int32_t)));
    if (b == NULL) return NULL;
    int32_t *c = (int32_t *)PyBytes_AS_STRING(b);
    for (size_t i = 0; i < n; i++) c[i] = assay_dataset_row_class(self->ds, i);
    return b;
}

/* The working matrix as a read-only 2-D float32 buffer (rows may be padded). */
static int Dataset_getbuffer(DatasetObject *self, Py_buffer *view, int flags) {
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "assay.Dataset.X is read-only");
        return -1;
    }
    size_t n = assay_dataset_rows(self->ds), d = assay_dataset_dims(self->ds);
    const float *r0 = assay_dataset_row(self->ds, 0);
    Py_ssize_t rs = (Py_ssize_t)(d * sizeof(float));
    if (n > 1) rs = (Py_ssize_t)((const char *)assay_dataset_row(self->ds, 1) - (const char *)r0);
    if (rs != (Py_ssize_t)(d * sizeof(float)) && !(flags & PyBUF_STRIDES)) {
        PyErr_SetString(PyExc_BufferError, "assay.Dataset.X has padded rows: ask for strides");
        return -1;
    }
    Py_ssize_t *shape = PyMem_Malloc(4 * sizeof(Py_ssize_t));
    if (shape == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    shape[0] = (Py_ssize_t)n, shape[1] = (Py_ssize_t)d;
    shape[2] = rs, shape[3] = (Py_ssize_t)sizeof(float);
    view->buf = (void *)r0;
    view->obj = (PyObject *)self;
    Py_INCREF(self);
    view->len = (Py_ssize_t)(n * d * sizeof(float));
    view->readonly = 1;
    view->itemsize = sizeof(float);
    view->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
    view->ndim = 2;
    view->shape = shape;
    view->strides = (flags & PyBUF_STRIDES) ? shape + 2 : NULL;
    view->suboffsets = NULL;
    view->internal = shape;
    self->exports++;
    return 0;
}

static void Dataset_releasebuffer(DatasetObject *self, Py_buffer *view) {
    PyMem_Free(view->internal);
    self->exports--;
}

static PyBufferProcs Dataset_as_buffer = {(getbufferproc)Dataset_getbuffer,
                                          (releasebufferproc)Dataset_releasebuffer};

static PyGetSetDef Dataset_getset[] = {
    {"n", (getter)Dataset_get_n, NULL, "rows", NULL},
    {"d", (getter)Dataset_get_d, NULL, "feature columns", NULL},
    {"borrowed", (getter)Dataset_get_borrowed, NULL, "1 if the caller's array is read in place",
     NULL},
    {"format", (getter)Dataset_get_format, NULL, "hdf5, csv, npy or memory", NULL},
    {"digest", (getter)Dataset_get_digest, NULL, "SHA-256 of the dataset (hex)", NULL},
    {"classes", (getter)Dataset_get_classes, NULL, "class labels as text", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef Dataset_methods[] = {
    {"row_labels", (PyCFunction)Dataset_row_labels, METH_NOARGS, "labels as text"},
    {"row_ids", (PyCFunction)Dataset_row_ids, METH_NOARGS, "ids as text"},
    {"row_classes", (PyCFunction)Dataset_row_classes, METH_NOARGS, "int32 class per row"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject DatasetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "assay._assay.Dataset",
    .tp_basicsize = sizeof(DatasetObject),
    .tp_dealloc = (destructor)Dataset_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A loaded dataset (low level; see assay.Dataset).",
    .tp_getset = Dataset_getset,
    .tp_methods = Dataset_methods,
    .tp_as_buffer = &Dataset_as_buffer,
};

/* ---- Result ---- */

typedef struct {
    PyObject_HEAD assay_ctx *ctx;
    DatasetObject *data;
    assay_result *res;
} ResultObject;

static PyTypeObject ResultType;

static void Result_dealloc(ResultObject *self) {
    assay_result_destroy(self->res); /* before the dataset it reads */
    Py_XDECREF(self->data);
    assay_ctx_destroy(self->ctx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Result_get_dataset(ResultObject *self, void *c) {
    (void)c;
    Py_INCREF(self->data);
    return (PyObject *)self->data;
}

static PyObject *Result_verdict(ResultObject *self, PyObject *u) {
    (void)u;
    return PyUnicode_FromString(assay_verdict_name(assay_result_verdict(self->res)));
}
static PyObject *Result_exit_code(ResultObject *self, PyObject *u) {
    (void)u;
    return PyLong_FromLong(assay_result_exit_code(self->res));
}
static PyObject *Result_rows(ResultObject *self, PyObject *u) {
    (void)u;
    return PyLong_FromSize_t(assay_result_rows(self->res));
}
static PyObject *Result_finding_count(ResultObject *self, PyObject *u) {
    (void)u;
    return PyLong_FromSize_t(assay_result_finding_count(self->res));
}
static PyObject *Result_reasons(ResultObject *self, PyObject *u) {
    (void)u;
    size_t n = assay_result_reason_count(self->res);
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (l == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(assay_result_reason(self->res, i));
        if (s == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

static PyObject *take_text(ResultObject *self, assay_status s, char *text, size_t len) {
    if (s != ASSAY_OK) return raise_status(self->ctx, s, NULL);
    PyObject *o = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    free(text);
    return o;
}

static PyObject *Result_policy_json(ResultObject *self, PyObject *u) {
    (void)u;
    char *t = NULL;
    assay_status s = assay_result_policy_json(self->ctx, self->res, 0, &t);
    return take_text(self, s, t, t ? strlen(t) : 0);
}

static PyObject *Result_report_text(ResultObject *self, PyObject *args) {
    const char *fmt;
    if (!PyArg_ParseTuple(args, "s", &fmt)) return NULL;
    char *t = NULL;
    size_t len = 0;
    assay_status s = assay_report_text(self->ctx, self->data->ds, self->res, fmt, NULL, &t, &len);
    return take_text(self, s, t, len);
}

static PyObject *Result_summary(ResultObject *self, PyObject *args) {
    const char *dir = NULL;
    if (!PyArg_ParseTuple(args, "|z", &dir)) return NULL;
    char *t = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&t, &len);
    if (fp == NULL) return PyErr_NoMemory();
    assay_report_summary(self->data->ds, self->res, dir, fp);
    if (fclose(fp) != 0) {
        free(t);
        return PyErr_NoMemory();
    }
    return take_text(self, ASSAY_OK, t, len);
}

static PyObject *Result_write(ResultObject *self, PyObject *args) {
    const char *dir;
    PyObject *formats = Py_None;
    if (!PyArg_ParseTuple(args, "s|O", &dir, &formats)) return NULL;
    assay_report_opts ro = ASSAY_REPORT_OPTS_INIT;
    const char **names = NULL;
    PyObject *seq = NULL;
    if (formats != Py_None) {
        seq = PySequence_Fast(formats, "formats must be a list of str");
        if (seq == NULL) return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        names = calloc((size_t)n + 1, sizeof *names);
        if (names == NULL) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            names[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
            if (names[i] == NULL) {
                free(names);
                Py_DECREF(seq);
                return NULL;
            }
        }
        ro.formats = names;
        ro.n_formats = (size_t)n;
    }
    assay_status s;
    Py_BEGIN_ALLOW_THREADS;
    s = assay_report_write(self->ctx, self->data->ds, self->res, dir, &ro);
    Py_END_ALLOW_THREADS;
    free(names);
    Py_XDECREF(seq);
    if (s != ASSAY_OK) return raise_status(self->ctx, s, NULL);
    Py_RETURN_NONE;
}

/* Per-row arrays as bytes: "scores" float32, "flags" uint8, "severities" uint8, "suggested"
 * int32, "ranking" uint64 (the flagged rows, most suspicious first). */
static PyObject *Result_array(ResultObject *self, PyObject *args) {
    const char *what;
    if (!PyArg_ParseTuple(args, "s", &what)) return NULL;
    size_t n = assay_result_rows(self->res);
    const void *p;
    size_t bytes;
    if (strcmp(what, "scores") == 0)
        p = assay_result_scores(self->res), bytes = n * sizeof(float);
    else if (strcmp(what, "flags") == 0)
        p = assay_result_flags(self->res), bytes = n;
    else if (strcmp(what, "severities") == 0)
        p = assay_result_severities(self->res), bytes = n;
    else if (strcmp(what, "suggested") == 0)
        p = assay_result_suggested_classes(self->res), bytes = n * sizeof(int32_t);
    else if (strcmp(what, "ranking") == 0) {
        size_t m = assay_result_flagged_count(self->res);
        const size_t *r = assay_result_ranking(self->res);
        PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(m * sizeof(uint64_t)));
        if (b == NULL) return NULL;
        uint64_t *o = (uint64_t *)PyBytes_AS_STRING(b);
        for (size_t i = 0; i < m; i++) o[i] = (uint64_t)r[i];
        return b;
    } else
        return PyErr_Format(PyExc_ValueError, "unknown result array '%s'", what);
    return PyBytes_FromStringAndSize(p, (Py_ssize_t)bytes);
}

static PyObject *Result_detector_scores(ResultObject *self, PyObject *args) {
    int det;
    if (!PyArg_ParseTuple(args, "i", &det)) return NULL;
    const float *p = assay_result_detector_scores(self->res, (assay_detector)det);
    if (p == NULL) return PyErr_Format(PyExc_ValueError, "unknown detector %d", det);
    return PyBytes_FromStringAndSize((const char *)p,
                                     (Py_ssize_t)(assay_result_rows(self->res) * sizeof(float)));
}

static PyObject *Result_detector_ran(ResultObject *self, PyObject *args) {
    int det;
    if (!PyArg_ParseTuple(args, "i", &det)) return NULL;
    return PyBool_FromLong(assay_result_detector_ran(self->res, (assay_detector)det));
}

static PyObject *opt_str(const char *s) {
    if (s == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(s);
}

/* Every finding: (row, detector, severity, score, kind, reason, test, explanation, evidence). */
static PyObject *Result_findings(ResultObject *self, PyObject *u) {
    (void)u;
    size_t n = assay_result_finding_count(self->res);
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (l == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        assay_finding_info f;
        char why[1024];
        char *ev = NULL;
        assay_status s = assay_result_finding(self->res, i, &f);
        if (s == ASSAY_OK) s = assay_report_explain(self->data->ds, self->res, i, why, sizeof why);
        if (s == ASSAY_OK)
            s = assay_report_evidence_json(self->ctx, self->data->ds, self->res, i, &ev);
        if (s != ASSAY_OK) {
            Py_DECREF(l);
            return raise_status(self->ctx, s, NULL);
        }
        PyObject *t =
            Py_BuildValue("(nssdssLss)", (Py_ssize_t)f.row, assay_detector_name(f.detector),
                          assay_severity_name(f.severity), (double)f.score, f.kind ? f.kind : "",
                          f.reason ? f.reason : "", (long long)f.test, why, ev);
        free(ev);
        if (t == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

/* Every test: (detector, class index, statistic, value, p, q, significant, severity, gate, null,
 * detail). */
static PyObject *Result_tests(ResultObject *self, PyObject *u) {
    (void)u;
    size_t n = assay_result_test_count(self->res);
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (l == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        assay_test_info t;
        assay_status s = assay_result_test(self->res, i, &t);
        if (s != ASSAY_OK) {
            Py_DECREF(l);
            return raise_status(self->ctx, s, NULL);
        }
        PyObject *o = Py_BuildValue(
            "(siNdddOsNNN)", assay_detector_name(t.detector), (int)t.cls, opt_str(t.statistic),
            t.value, t.p, t.q, t.significant ? Py_True : Py_False, assay_severity_name(t.severity),
            opt_str(t.gate), opt_str(t.null), opt_str(t.detail));
        if (o == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, o);
    }
    return l;
}

/* The neighbour graph: (ids int64 [N*k] bytes, dists float32 [N*k] bytes, k). */
static PyObject *Result_neighbours(ResultObject *self, PyObject *u) {
    (void)u;
    size_t n = assay_result_rows(self->res), k = 0;
    const int64_t *ids;
    const float *dist;
    if (n == 0 || assay_result_neighbours(self->res, 0, &ids, &dist, &k) != ASSAY_OK)
        return Py_BuildValue("(y#y#n)", "", (Py_ssize_t)0, "", (Py_ssize_t)0, (Py_ssize_t)0);
    PyObject *bi = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * k * sizeof(int64_t)));
    PyObject *bd = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * k * sizeof(float)));
    if (bi == NULL || bd == NULL) {
        Py_XDECREF(bi);
        Py_XDECREF(bd);
        return NULL;
    }
    int64_t *oi = (int64_t *)PyBytes_AS_STRING(bi);
    float *od = (float *)PyBytes_AS_STRING(bd);
    for (size_t r = 0; r < n; r++) {
        size_t kr = 0;
        if (assay_result_neighbours(self->res, r, &ids, &dist, &kr) != ASSAY_OK || kr != k) {
            Py_DECREF(bi);
            Py_DECREF(bd);
            return PyErr_Format(PyExc_RuntimeError, "assay: row %zu has %zu neighbours, not %zu", r,
                                kr, k);
        }
        memcpy(oi + r * k, ids, k * sizeof(int64_t));
        memcpy(od + r * k, dist, k * sizeof(float));
    }
    return Py_BuildValue("(NNn)", bi, bd, (Py_ssize_t)k);
}

static PyGetSetDef Result_getset[] = {
    {"dataset", (getter)Result_get_dataset, NULL, "the scanned dataset", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef Result_methods[] = {
    {"verdict", (PyCFunction)Result_verdict, METH_NOARGS, NULL},
    {"exit_code", (PyCFunction)Result_exit_code, METH_NOARGS, NULL},
    {"rows", (PyCFunction)Result_rows, METH_NOARGS, NULL},
    {"finding_count", (PyCFunction)Result_finding_count, METH_NOARGS, NULL},
    {"reasons", (PyCFunction)Result_reasons, METH_NOARGS, NULL},
    {"policy_json", (PyCFunction)Result_policy_json, METH_NOARGS, NULL},
    {"report_text", (PyCFunction)Result_report_text, METH_VARARGS, NULL},
    {"summary", (PyCFunction)Result_summary, METH_VARARGS, NULL},
    {"write", (PyCFunction)Result_write, METH_VARARGS, NULL},
    {"array", (PyCFunction)Result_array, METH_VARARGS, NULL},
    {"detector_scores", (PyCFunction)Result_detector_scores, METH_VARARGS, NULL},
    {"detector_ran", (PyCFunction)Result_detector_ran, METH_VARARGS, NULL},
    {"findings", (PyCFunction)Result_findings, METH_NOARGS, NULL},
    {"tests", (PyCFunction)Result_tests, METH_NOARGS, NULL},
    {"neighbours", (PyCFunction)Result_neighbours, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ResultType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "assay._assay.Result",
    .tp_basicsize = sizeof(ResultObject),
    .tp_dealloc = (destructor)Result_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A scan result (low level; see assay.Result).",
    .tp_getset = Result_getset,
    .tp_methods = Result_methods,
};

/* ---- converting the caller's arrays ---- */

/* The dtype of a buffer's struct format ("<f", "=d", "B", "q"...); -1 if unsupported. */
static int format_dtype(const char *fmt, Py_ssize_t itemsize) {
    if (fmt == NULL) return ASSAY_DTYPE_U8;
    if (*fmt == '@' || *fmt == '=' || *fmt == '<')
        fmt++;
    else if (*fmt == '>' || *fmt == '!')
        return -1; /* big-endian */
    if (fmt[0] == '\0' || fmt[1] != '\0') return -1;
    switch (fmt[0]) {
    case 'f':
        return ASSAY_DTYPE_F32;
    case 'd':
        return ASSAY_DTYPE_F64;
    case 'e':
        return ASSAY_DTYPE_F16;
    case '?':
    case 'B':
    case 'H':
    case 'I':
    case 'L':
    case 'Q':
    case 'N':
        switch (itemsize) {
        case 1:
            return ASSAY_DTYPE_U8;
        case 2:
            return ASSAY_DTYPE_U16;
        case 4:
            return ASSAY_DTYPE_U32;
        case 8:
            return ASSAY_DTYPE_U64;
        }
        return -1;
    case 'b':
    case 'h':
    case 'i':
    case 'l':
    case 'q':
    case 'n':
        switch (itemsize) {
        case 1:
            return ASSAY_DTYPE_I8;
        case 2:
            return ASSAY_DTYPE_I16;
        case 4:
            return ASSAY_DTYPE_I32;
        case 8:
            return ASSAY_DTYPE_I64;
        }
        return -1;
    }
    return -1;
}

/* Fills *a from a 1-D or 2-D buffer held in *b. Returns -1 with a TypeError/ValueError set. */
static int array_from_buffer(const char *what, PyObject *obj, Py_buffer *b, int want_2d,
                             assay_array *a) {
    if (PyObject_GetBuffer(obj, b, PyBUF_RECORDS_RO) < 0) return -1;
    int dt = format_dtype(b->format, b->itemsize);
    if (dt < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s: unsupported element type '%s' (expected a float or "
                     "integer array in native byte order)",
                     what, b->format ? b->format : "?");
        PyBuffer_Release(b);
        return -1;
    }
    if (want_2d ? b->ndim != 2 : (b->ndim != 1 && !(b->ndim == 2 && b->shape[1] == 1))) {
        PyErr_Format(PyExc_ValueError, "%s: expected a %s array, got %d dimension%s", what,
                     want_2d ? "2-D [rows, columns]" : "1-D", b->ndim, b->ndim == 1 ? "" : "s");
        PyBuffer_Release(b);
        return -1;
    }
    a->data = b->buf;
    a->dtype = (assay_dtype)dt;
    a->rows = (size_t)b->shape[0];
    a->cols = b->ndim == 2 ? (size_t)b->shape[1] : 1;
    a->row_stride = b->strides[0];
    a->col_stride = b->ndim == 2 ? b->strides[1] : (ptrdiff_t)b->itemsize;
    /* 0 means C order to the library: a zero (broadcast) stride is spelled out as such */
    if (a->row_stride == 0 && a->rows > 1) {
        PyErr_Format(PyExc_ValueError, "%s: rows with a zero stride (a broadcast array)", what);
        PyBuffer_Release(b);
        return -1;
    }
    if (a->row_stride == 0) a->row_stride = (ptrdiff_t)(a->cols * (size_t)b->itemsize);
    if (a->col_stride == 0) a->col_stride = (ptrdiff_t)b->itemsize;
    if (a->data == NULL) a->data = ""; /* an empty array is still "given" */
    return 0;
}

/* A list of str (None not allowed) as UTF-8 pointers borrowed from the str objects in `seq`. */
static const char **strings_from_seq(const char *what, PyObject *seq, Py_ssize_t *n) {
    *n = PySequence_Fast_GET_SIZE(seq);
    const char **out = PyMem_Calloc((size_t)*n + 1, sizeof *out);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        if (PyUnicode_Check(it))
            out[i] = PyUnicode_AsUTF8(it);
        else if (PyBytes_Check(it))
            out[i] = PyBytes_AS_STRING(it);
        else {
            PyErr_Format(PyExc_TypeError, "%s: row %zd is %s, not str", what, i,
                         Py_TYPE(it)->tp_name);
            PyMem_Free(out);
            return NULL;
        }
        if (out[i] == NULL) {
            PyMem_Free(out);
            return NULL;
        }
    }
    return out;
}

/* Labels or ids from Python: a list or tuple of str (UTF-8 strings for the C API), or any array
 * with the buffer protocol (integers, or numpy's fixed-width text, converted by the caller). */
typedef struct py_column {
    PyObject *seq;        /* the list as a fast sequence, kept while its strings are used */
    const char **strings; /* PyMem */
    int have_buffer;
    Py_buffer buf;
} py_column;

static void py_column_release(py_column *c) {
    if (c->have_buffer) PyBuffer_Release(&c->buf);
    PyMem_Free(c->strings);
    Py_XDECREF(c->seq);
}

static int column_from_py(const char *what, PyObject *obj, size_t rows, py_column *c,
                          assay_array *arr, const char *const **strings) {
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        Py_ssize_t n;
        c->seq = PySequence_Fast(obj, what);
        if (c->seq == NULL || (c->strings = strings_from_seq(what, c->seq, &n)) == NULL) return -1;
        if ((size_t)n != rows) {
            PyErr_Format(PyExc_ValueError, "%s have %zd rows, but the embeddings have %zu", what, n,
                         rows);
            return -1;
        }
        *strings = c->strings;
        return 0;
    }
    if (array_from_buffer(what, obj, &c->buf, 0, arr) < 0) return -1;
    c->have_buffer = 1;
    return 0;
}

/* ---- the policy, resolved as the CLI resolves it (src/cli/policy_cli.c) ---- */

static int is_limit_option(const char *name) {
    for (size_t i = 0; i < assay_policy_option_count(); i++) {
        const assay_policy_option *opt = assay_policy_option_at(i);
        if (strcmp(opt->name, name) == 0) return strncmp(opt->key, "limits.", 7) == 0;
    }
    return 0;
}

/* options: list of (name, text) flag options; keys: list of (dotted key, text). */
static assay_status resolve_policy(assay_ctx *ctx, PyObject *options, PyObject *keys,
                                   assay_policy **out, assay_scan_opts *scan) {
    assay_policy *p = NULL;
    assay_status s = assay_policy_create(ctx, &p);
    Py_ssize_t no = PyList_GET_SIZE(options), nk = PyList_GET_SIZE(keys);
#define OPT_(i, part) PyUnicode_AsUTF8(PyTuple_GET_ITEM(PyList_GET_ITEM(options, i), part))
    for (Py_ssize_t i = 0; s == ASSAY_OK && i < no; i++)
        if (is_limit_option(OPT_(i, 0)))
            s = assay_policy_set_option(ctx, p, OPT_(i, 0), OPT_(i, 1), ASSAY_SRC_FLAG);
    if (s == ASSAY_OK) s = assay_policy_apply_limits(ctx, p);
    for (Py_ssize_t i = 0; s == ASSAY_OK && i < no; i++)
        if (strcmp(OPT_(i, 0), "policy") == 0)
            s = assay_policy_set_option(ctx, p, "policy", OPT_(i, 1), ASSAY_SRC_FLAG);
    /* the dict's keys weigh like flags (they are the caller's explicit choice) */
    for (Py_ssize_t i = 0; s == ASSAY_OK && i < nk; i++) {
        PyObject *t = PyList_GET_ITEM(keys, i);
        const char *key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 0));
        const char *val = PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 1));
        char where[300];
        snprintf(where, sizeof where, "policy['%s']", key);
        s = assay_policy_set(ctx, p, key, val, ASSAY_SRC_FLAG, where);
    }
    for (Py_ssize_t i = 0; s == ASSAY_OK && i < no; i++)
        if (strcmp(OPT_(i, 0), "policy") != 0 && !is_limit_option(OPT_(i, 0)))
            s = assay_policy_set_option(ctx, p, OPT_(i, 0), OPT_(i, 1), ASSAY_SRC_FLAG);
#undef OPT_
    if (s == ASSAY_OK) {
        assay_policy_scan_opts(p, scan);
        s = assay_policy_apply_limits(ctx, p);
    }
    if (s != ASSAY_OK) {
        assay_policy_destroy(p);
        return s;
    }
    *out = p;
    return ASSAY_OK;
}

/* ---- scan ---- */

typedef struct scan_work {
    /* in */
    assay_arrays arrays;
    int use_arrays;
    const char *path;
    assay_load_opts load;
    int use_path;
    const assay_dataset *given; /* an already loaded dataset */
    assay_scan_opts scan;
    const assay_policy *policy;
    int do_scan;
    const char *shard_path; /* instead of the scan: shard shard_index of shard_count, written */
    size_t shard_index, shard_count;
    /* out */
    assay_dataset *ds;
    assay_result *res;
    const char *failed_step;
} scan_work;

static void scan_job(job *j) {
    scan_work *w = j->arg;
    assay_status s = ASSAY_OK;
    const assay_dataset *ds = w->given;
    if (w->use_arrays) {
        w->failed_step = "cannot load the dataset";
        s = assay_dataset_from_arrays(j->ctx, &w->arrays, &w->ds);
        ds = w->ds;
    } else if (w->use_path) {
        w->failed_step = "cannot load the dataset";
        s = assay_dataset_load(j->ctx, w->path, &w->load, &w->ds);
        ds = w->ds;
    }
    if (s == ASSAY_OK && w->shard_path != NULL) {
        w->failed_step = "cannot write the shard";
        s = assay_graph_write_shard(j->ctx, ds, &w->scan, w->shard_index, w->shard_count,
                                    w->shard_path);
    } else if (s == ASSAY_OK && w->do_scan) {
        w->failed_step = "scan failed";
        s = assay_scan(j->ctx, ds, &w->scan, &w->res);
        if (s == ASSAY_OK) {
            w->failed_step = "cannot apply the policy";
            s = assay_policy_apply(j->ctx, ds, w->res, w->policy, NULL);
        }
    }
    j->status = s;
}

static PyObject *get_opt(PyObject *kw, const char *name) {
    PyObject *o = kw != NULL ? PyDict_GetItemString(kw, name) : NULL; /* borrowed */
    return o == Py_None ? NULL : o;
}

/* _assay.scan(X=None, labels=None, ids=None, pred_probs=None, dataset=None, options=[],
 *             keys=[], threads=0, name=None, copy=False, classes=None, skip=0,
 *             precision="auto", graph_method="exact", approx_recall=None, graph_parts=None,
 *             shard=None, shard_path=None)
 * With shard=(i, n) and shard_path, writes that shard of the graph (assay_graph_write_shard)
 * and returns shard_path instead of a result.
 * Every argument by keyword; the Python layer has normalised them (docs in assay/__init__.py). */
static PyObject *mod_scan(PyObject *m, PyObject *args, PyObject *kw) {
    (void)m;
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "_assay.scan takes keywords only");
        return NULL;
    }
    PyObject *X = get_opt(kw, "X"), *labels = get_opt(kw, "labels"), *ids = get_opt(kw, "ids");
    PyObject *probs = get_opt(kw, "pred_probs"), *dataset = get_opt(kw, "dataset");
    PyObject *options = get_opt(kw, "options"), *keys = get_opt(kw, "keys");
    PyObject *threads_o = get_opt(kw, "threads"), *name_o = get_opt(kw, "name");
    PyObject *copy_o = get_opt(kw, "copy"), *classes_o = get_opt(kw, "classes");
    PyObject *skip_o = get_opt(kw, "skip"), *precision_o = get_opt(kw, "precision");
    PyObject *method_o = get_opt(kw, "graph_method"), *recall_o = get_opt(kw, "approx_recall");
    PyObject *parts_o = get_opt(kw, "graph_parts"), *shard_o = get_opt(kw, "shard");
    PyObject *shard_path_o = get_opt(kw, "shard_path");
    unsigned long long shard_i = 0, shard_n = 0;
    if (shard_o != NULL &&
        (!PyArg_ParseTuple(shard_o, "KK;shard: expected (index, count)", &shard_i, &shard_n) ||
         shard_path_o == NULL || !PyUnicode_Check(shard_path_o))) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "shard needs shard_path, a str");
        return NULL;
    }
    if (parts_o != NULL && !PyList_Check(parts_o)) {
        PyErr_SetString(PyExc_TypeError, "graph_parts must be a list of str");
        return NULL;
    }
    int threads = threads_o ? (int)PyLong_AsLong(threads_o) : 0;
    assay_graph_method method = ASSAY_GRAPH_EXACT;
    if (method_o != NULL) {
        const char *mn = PyUnicode_Check(method_o) ? PyUnicode_AsUTF8(method_o) : NULL;
        if (mn == NULL || assay_graph_method_parse(mn, &method) != ASSAY_OK) {
            if (!PyErr_Occurred())
                raise_status(NULL, ASSAY_E_INVAL, "graph_method: expected exact or approx");
            return NULL;
        }
    }
    double approx_recall = recall_o ? PyFloat_AsDouble(recall_o) : 0.0;
    if (PyErr_Occurred()) return NULL;
    if (recall_o != NULL && !(approx_recall > 0.0 && approx_recall <= 1.0)) {
        raise_status(NULL, ASSAY_E_INVAL, "approx_recall: expected a number in (0, 1]");
        return NULL;
    }
    assay_precision precision = ASSAY_PRECISION_AUTO;
    if (precision_o != NULL) {
        const char *pn = PyUnicode_Check(precision_o) ? PyUnicode_AsUTF8(precision_o) : NULL;
        if (pn == NULL || assay_precision_parse(pn, &precision) != ASSAY_OK) {
            if (!PyErr_Occurred())
                raise_status(NULL, ASSAY_E_INVAL, "precision: expected auto, fp32, bf16 or int8");
            return NULL;
        }
    }
    unsigned long skip = skip_o ? PyLong_AsUnsignedLong(skip_o) : 0;
    if (PyErr_Occurred()) return NULL;
    PyObject *empty = PyList_New(0);
    if (empty == NULL) return NULL;
    if (options == NULL) options = empty;
    if (keys == NULL) keys = empty;
    if (!PyList_Check(options) || !PyList_Check(keys)) {
        Py_DECREF(empty);
        PyErr_SetString(PyExc_TypeError, "options and keys must be lists of (str, str)");
        return NULL;
    }
    for (int which = 0; which < 2; which++) {
        PyObject *l = which ? keys : options;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
            PyObject *t = PyList_GET_ITEM(l, i);
            if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2 ||
                !PyUnicode_Check(PyTuple_GET_ITEM(t, 0)) ||
                !PyUnicode_Check(PyTuple_GET_ITEM(t, 1))) {
                Py_DECREF(empty);
                PyErr_SetString(PyExc_TypeError, "options and keys must be lists of (str, str)");
                return NULL;
            }
        }
    }
    if (dataset != NULL && !PyObject_TypeCheck(dataset, &DatasetType)) {
        Py_DECREF(empty);
        PyErr_SetString(PyExc_TypeError, "dataset must be an assay._assay.Dataset");
        return NULL;
    }

    PyObject *ret = NULL;
    const char **parts = NULL;
    Py_ssize_t n_parts = 0;
    assay_ctx *ctx = new_ctx(threads, precision);
    assay_policy *policy = NULL;
    Py_buffer xb, pb;
    int have_x = 0, have_p = 0;
    py_column lab, idc;
    memset(&lab, 0, sizeof lab);
    memset(&idc, 0, sizeof idc);
    scan_work w;
    memset(&w, 0, sizeof w);
    if (ctx == NULL) goto out;

    w.scan = (assay_scan_opts)ASSAY_SCAN_OPTS_INIT;
    assay_status s = resolve_policy(ctx, options, keys, &policy, &w.scan);
    if (s != ASSAY_OK) {
        if (!PyErr_Occurred()) raise_status(ctx, s, NULL);
        goto out;
    }
    w.scan.skip |= (uint32_t)skip;
    w.scan.graph_method = method;
    w.scan.approx_recall = approx_recall;
    w.policy = policy;
    w.do_scan = 1;
    if (parts_o != NULL) { /* the strings stay alive in the caller's list during the call */
        if ((parts = strings_from_seq("graph_parts", parts_o, &n_parts)) == NULL) goto out;
        w.scan.graph_parts = parts;
        w.scan.n_graph_parts = (size_t)n_parts;
    }
    if (shard_o != NULL) {
        if ((w.shard_path = PyUnicode_AsUTF8(shard_path_o)) == NULL) goto out;
        w.shard_index = (size_t)shard_i;
        w.shard_count = (size_t)shard_n;
    }

    if (dataset != NULL) {
        w.given = ((DatasetObject *)dataset)->ds;
    } else {
        w.arrays = (assay_arrays)ASSAY_ARRAYS_INIT;
        if (X == NULL) {
            PyErr_SetString(PyExc_TypeError, "scan: X (the embeddings) is required");
            goto out;
        }
        if (array_from_buffer("X", X, &xb, 1, &w.arrays.embeddings) < 0) goto out;
        have_x = 1;
        if (labels == NULL) {
            PyErr_SetString(PyExc_TypeError, "scan: labels are required");
            goto out;
        }
        if (column_from_py("labels", labels, w.arrays.embeddings.rows, &lab, &w.arrays.labels,
                           &w.arrays.label_strings) < 0)
            goto out;
        if (ids != NULL && column_from_py("ids", ids, w.arrays.embeddings.rows, &idc, &w.arrays.ids,
                                          &w.arrays.id_strings) < 0)
            goto out;
        if (probs != NULL) {
            if (array_from_buffer("pred_probs", probs, &pb, 1, &w.arrays.pred_probs) < 0) goto out;
            have_p = 1;
        }
        if (name_o != NULL && (w.arrays.name = PyUnicode_AsUTF8(name_o)) == NULL) goto out;
        if (classes_o != NULL && (w.arrays.classes = PyUnicode_AsUTF8(classes_o)) == NULL) goto out;
        w.arrays.copy = copy_o != NULL && PyObject_IsTrue(copy_o);
        w.use_arrays = 1;
    }

    job j;
    j.fn = scan_job;
    j.ctx = ctx;
    j.arg = &w;
    j.status = ASSAY_OK;
    if (run_job(&j) < 0) goto out; /* KeyboardInterrupt (or a handler's exception) */
    if (j.status != ASSAY_OK) {
        raise_status(ctx, j.status, w.failed_step);
        goto out;
    }
    if (w.shard_path != NULL) {
        ret = PyUnicode_FromString(w.shard_path);
        goto out;
    }
    DatasetObject *dobj;
    if (dataset != NULL) {
        dobj = (DatasetObject *)dataset;
        Py_INCREF(dobj);
    } else {
        dobj = dataset_wrap(w.ds, &xb); /* keeps X held when borrowed */
        w.ds = NULL;
        have_x = 0;
        if (dobj == NULL) goto out;
    }
    ResultObject *r = PyObject_New(ResultObject, &ResultType);
    if (r == NULL) {
        Py_DECREF(dobj);
        goto out;
    }
    r->ctx = ctx;
    r->data = dobj;
    r->res = w.res;
    ctx = NULL;
    w.res = NULL;
    ret = (PyObject *)r;
out:
    PyMem_Free(parts);
    assay_result_destroy(w.res);
    assay_dataset_destroy(w.ds);
    assay_policy_destroy(policy);
    assay_ctx_destroy(ctx);
    if (have_x) PyBuffer_Release(&xb);
    py_column_release(&lab);
    py_column_release(&idc);
    if (have_p) PyBuffer_Release(&pb);
    Py_DECREF(empty);
    return ret;
}

/* _assay.load(path, format=None, labels_file=None, ...): assay_dataset_load. */
static PyObject *mod_load(PyObject *m, PyObject *args, PyObject *kw) {
    (void)m;
    static char *kwlist[] = {
        "path",          "format",          "h5_embeddings", "h5_labels",       "h5_ids",
        "h5_pred_probs", "label_column",    "id_column",     "feature_columns", "labels_file",
        "ids_file",      "pred_probs_file", "classes",       "threads",         NULL};
    const char *path, *format = NULL;
    assay_load_opts lo = ASSAY_LOAD_OPTS_INIT;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(
            args, kw, "s|zzzzzzzzzzzzi", kwlist, &path, &format, &lo.h5_embeddings, &lo.h5_labels,
            &lo.h5_ids, &lo.h5_pred_probs, &lo.label_column, &lo.id_column, &lo.feature_columns,
            &lo.labels_file, &lo.ids_file, &lo.pred_probs_file, &lo.classes, &threads))
        return NULL;
    if (format != NULL && strcmp(format, "auto") != 0) {
        if (strcmp(format, "hdf5") == 0 || strcmp(format, "h5") == 0)
            lo.format = ASSAY_FORMAT_HDF5;
        else if (strcmp(format, "csv") == 0)
            lo.format = ASSAY_FORMAT_CSV;
        else if (strcmp(format, "npy") == 0)
            lo.format = ASSAY_FORMAT_NPY;
        else
            return PyErr_Format(PyExc_ValueError,
                                "format: expected one of auto, hdf5, csv, npy, got '%s'", format);
    }
    assay_ctx *ctx = new_ctx(threads, ASSAY_PRECISION_AUTO);
    if (ctx == NULL) return NULL;
    scan_work w;
    memset(&w, 0, sizeof w);
    w.path = path;
    w.load = lo;
    w.use_path = 1;
    job j;
    j.fn = scan_job;
    j.ctx = ctx;
    j.arg = &w;
    j.status = ASSAY_OK;
    PyObject *ret = NULL;
    if (run_job(&j) == 0) {
        if (j.status != ASSAY_OK)
            raise_status(ctx, j.status, w.failed_step);
        else {
            ret = (PyObject *)dataset_wrap(w.ds, NULL);
            w.ds = NULL;
        }
    }
    assay_dataset_destroy(w.ds);
    assay_ctx_destroy(ctx);
    return ret;
}

/* ---- tables and information ---- */

static PyObject *mod_version(PyObject *m, PyObject *u) {
    (void)m, (void)u;
    return PyUnicode_FromString(assay_version());
}

static PyObject *mod_info(PyObject *m, PyObject *u) {
    (void)m, (void)u;
    assay_ctx *ctx = new_ctx(0, ASSAY_PRECISION_AUTO);
    if (ctx == NULL) return NULL;
    PyObject *built = PyList_New(0), *runs = PyList_New(0);
    for (int i = 0; built && runs && i < ASSAY_ISA_COUNT; i++) {
        PyObject *s = PyUnicode_FromString(assay_isa_name((assay_isa)i));
        if (assay_isa_built((assay_isa)i)) PyList_Append(built, s);
        if (assay_isa_supported((assay_isa)i)) PyList_Append(runs, s);
        Py_XDECREF(s);
    }
    PyObject *d =
        Py_BuildValue("{s:s,s:s,s:N,s:N,s:s,s:s,s:i,s:i}", "version", assay_version(), "isa",
                      assay_isa_name(assay_ctx_isa(ctx)), "isa_built", built, "isa_supported", runs,
                      "cpu_features", assay_cpu_features(), "blas", assay_blas_info(), "threads",
                      assay_ctx_threads(ctx), "blas_threads", assay_blas_threads());
    assay_ctx_destroy(ctx);
    return d;
}

static PyObject *mod_detectors(PyObject *m, PyObject *u) {
    (void)m, (void)u;
    PyObject *l = PyList_New(0);
    if (l == NULL) return NULL;
#define ASSAY_DET_TUPLE_(id, value, module, name, what)                                            \
    {                                                                                              \
        PyObject *t = Py_BuildValue("(iss)", value, name, what);                                   \
        if (t == NULL || PyList_Append(l, t) < 0) {                                                \
            Py_XDECREF(t);                                                                         \
            Py_DECREF(l);                                                                          \
            return NULL;                                                                           \
        }                                                                                          \
        Py_DECREF(t);                                                                              \
    }
    ASSAY_DETECTOR_LIST(ASSAY_DET_TUPLE_)
#undef ASSAY_DET_TUPLE_
    return l;
}

/* The policy option table: (name, key, takes_value, arg, help, default). */
static PyObject *mod_policy_options(PyObject *m, PyObject *u) {
    (void)m, (void)u;
    size_t n = assay_policy_option_count();
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (l == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        const assay_policy_option *o = assay_policy_option_at(i);
        PyObject *t = Py_BuildValue("(ssiNsN)", o->name, o->key, o->takes_value, opt_str(o->arg),
                                    o->help ? o->help : "", opt_str(o->def));
        if (t == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static PyMethodDef module_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))mod_scan, METH_VARARGS | METH_KEYWORDS,
     "Low-level scan; use assay.scan."},
    {"load", (PyCFunction)(void (*)(void))mod_load, METH_VARARGS | METH_KEYWORDS,
     "Low-level load; use assay.load."},
    {"version", mod_version, METH_NOARGS, "assay_version()"},
    {"info", mod_info, METH_NOARGS, "build and machine information"},
    {"detectors", mod_detectors, METH_NOARGS, "(value, name, about) per detector, in run order"},
    {"policy_options", mod_policy_options, METH_NOARGS, "the policy option table"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                                        "_assay",
                                        "CPython binding of libassay",
                                        -1,
                                        module_methods,
                                        NULL,
                                        NULL,
                                        NULL,
                                        NULL};

PyMODINIT_FUNC PyInit__assay(void) {
    if (PyType_Ready(&DatasetType) < 0 || PyType_Ready(&ResultType) < 0) return NULL;
    g_errors_mod = PyImport_ImportModule("assay._errors");
    if (g_errors_mod == NULL) return NULL;
    PyObject *mod = PyModule_Create(&module_def);
    if (mod == NULL) return NULL;
    Py_INCREF(&DatasetType);
    PyModule_AddObject(mod, "Dataset", (PyObject *)&DatasetType);
    Py_INCREF(&ResultType);
    PyModule_AddObject(mod, "Result", (PyObject *)&ResultType);
    return mod;
}

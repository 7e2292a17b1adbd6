/* SPDX-License-Identifier: Apache-2.0 */
/* Declared sizes against stored bytes (see h5_check.h). */
#include <stdio.h>
#include <string.h>

#include "io/h5_check.h"

static void shape_text(hid_t dset, char *buf, size_t len) {
    hsize_t dims[H5S_MAX_RANK] = {0};
    hid_t space = H5Dget_space(dset);
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    if (space >= 0) H5Sclose(space);
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

/* Chunks needed to cover the dataspace; 0 when it cannot be computed. */
static hsize_t chunks_needed(hid_t dset, hid_t dcpl) {
    hsize_t dims[H5S_MAX_RANK] = {0}, cdims[H5S_MAX_RANK] = {0};
    hid_t space = H5Dget_space(dset);
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    if (space >= 0) H5Sclose(space);
    if (rank <= 0 || H5Pget_chunk(dcpl, rank, cdims) != rank) return 0;
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (cdims[i] == 0) return 0;
        hsize_t c = dims[i] / cdims[i] + (dims[i] % cdims[i] != 0);
        if (c != 0 && total > (hsize_t)-1 / c) return 0;
        total *= c;
    }
    return total;
}

assay_status assay__h5_check_storage(assay_ctx *ctx, const char *path, hid_t file, hid_t dset,
                                     const char *name, size_t count, size_t elem) {
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0)
        return assay__fail(ctx, ASSAY_E_HDF5, "%s:%s: cannot read the storage layout", path, name);
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int external = H5Pget_external_count(dcpl);
    int filters = H5Pget_nfilters(dcpl);
    hsize_t total_chunks = layout == H5D_CHUNKED ? chunks_needed(dset, dcpl) : 0;
    H5Pclose(dcpl);
    char shape[160];
    shape_text(dset, shape, sizeof shape);
    if (layout == H5D_VIRTUAL)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                           "%s:%s: a virtual dataset (its data lives in other files) is not read",
                           path, name);
    if (external != 0)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                           "%s:%s: the data is kept in external files, which are not read", path,
                           name);
    size_t need;
    if (assay__mul_overflows(count, elem, &need))
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s:%s: shape %s is too large", path, name, shape);
    if (need == 0) return ASSAY_OK;
    hsize_t fsize = 0;
    if (H5Fget_filesize(file, &fsize) < 0)
        return assay__fail(ctx, ASSAY_E_HDF5, "%s: cannot read the file size", path);
    if (layout == H5D_CONTIGUOUS) {
        haddr_t addr = H5Dget_offset(dset); /* undefined when never written */
        if (addr == HADDR_UNDEF)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s:%s: shape %s declares %zu bytes of data, but none is stored "
                               "in the file (%llu bytes): damaged or hostile",
                               path, name, shape, need, (unsigned long long)fsize);
        if ((hsize_t)addr > fsize || (hsize_t)need > fsize - (hsize_t)addr)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s:%s: shape %s needs %zu x %zu bytes from offset %llu, but the "
                               "file has %llu bytes (truncated or damaged)",
                               path, name, shape, count, elem, (unsigned long long)addr,
                               (unsigned long long)fsize);
        return ASSAY_OK;
    }
    hsize_t stored = H5Dget_storage_size(dset);
    if (layout == H5D_COMPACT) {
        if (stored < (hsize_t)need)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s:%s: shape %s declares %zu bytes of data, but only %llu are "
                               "stored (damaged or hostile)",
                               path, name, shape, need, (unsigned long long)stored);
        return ASSAY_OK;
    }
    if (layout != H5D_CHUNKED)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED, "%s:%s: unknown storage layout %d", path, name,
                           (int)layout);
    hsize_t have = 0;
    /* With no chunk written there is no chunk index to count. */
    /* (1.10.8 fails with H5S_ALL: the dataset's own dataspace is passed.) */
    hid_t fspace = stored > 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
    herr_t counted = stored > 0 && fspace >= 0 ? H5Dget_num_chunks(dset, fspace, &have) : 0;
    if (fspace >= 0) H5Sclose(fspace);
    if (stored > 0 && (fspace < 0 || counted < 0))
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s:%s: cannot count the stored chunks (damaged index?)", path, name);
    /* Every chunk must be stored: a missing one would read as fill values, which is how a
     * 1.6 KB file declares two million rows. Unfiltered chunks hold the raw bytes, so together
     * they hold at least the declared data; stored bytes can never exceed the file. */
    if (total_chunks == 0 || have < total_chunks || stored > fsize ||
        (filters == 0 && stored < (hsize_t)need))
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s:%s: shape %s declares %zu bytes of data in %llu chunks, but the "
                           "file (%llu bytes) stores %llu chunks holding %llu bytes: damaged or "
                           "hostile",
                           path, name, shape, need, (unsigned long long)total_chunks,
                           (unsigned long long)fsize, (unsigned long long)have,
                           (unsigned long long)stored);
    return ASSAY_OK;
}

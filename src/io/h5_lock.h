/* SPDX-License-Identifier: Apache-2.0 */
/* The one lock around every region of HDF5 calls in libassay. HDF5 keeps process-wide state
 * (the automatic error report that H5E_BEGIN_TRY switches off, its free lists, the table of open
 * objects). Debian's serial build serialises calls with a lock of its own; the MPI build
 * (libhdf5-openmpi) has none, and a program may be linked with either, so two scans in two
 * threads (a thread pool writing shards) corrupted its free lists. */
#ifndef ASSAY_H5_LOCK_H
#define ASSAY_H5_LOCK_H

void assay__h5_lock(void);
void assay__h5_unlock(void);

/* For fork(): held across it so that no thread of this library is inside HDF5 (holding HDF5's
 * own lock or half-way through its lists) when the child is copied; the child, which has one
 * thread, makes the copy of the lock usable again with assay__h5_lock_reset_in_child. */
void assay__h5_lock_reset_in_child(void);

#endif

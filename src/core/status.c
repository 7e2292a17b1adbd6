/* SPDX-License-Identifier: Apache-2.0 */
/* Status strings and the input-error classification, generated from ASSAY_STATUS_MAP. */
#include "assay/assay_status.h"

const char *assay_status_str(assay_status s) {
    switch (s) {
#define ASSAY_X_(name, value, text, input)                                                         \
    case ASSAY_##name:                                                                             \
        return text;
        ASSAY_STATUS_MAP(ASSAY_X_)
#undef ASSAY_X_
    }
    return "unknown status";
}

int assay_status_is_input_error(assay_status s) {
    switch (s) {
#define ASSAY_X_(name, value, text, input)                                                         \
    case ASSAY_##name:                                                                             \
        return input;
        ASSAY_STATUS_MAP(ASSAY_X_)
#undef ASSAY_X_
    }
    return 0;
}

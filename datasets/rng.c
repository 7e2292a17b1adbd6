/* SPDX-License-Identifier: Apache-2.0 */
/* Seeded random numbers for the data generators: splitmix64 gives the same stream on every
 * platform and compiler, which is what makes "same seed, byte-identical files" hold. */
#include <math.h>

#include "datagen.h"

static uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

datagen_rng datagen_rng_stream(uint64_t seed, uint64_t stream) {
    /* Mixing (not adding) the stream number keeps nearby seeds and streams uncorrelated. */
    datagen_rng r = {splitmix64_mix(seed ^ splitmix64_mix(stream + 0x632BE59BD9B4E019ull))};
    return r;
}

uint64_t datagen_rng_next(datagen_rng *rng) {
    rng->state += 0x9E3779B97F4A7C15ull;
    return splitmix64_mix(rng->state);
}

uint64_t datagen_rng_below(datagen_rng *rng, uint64_t bound) {
    /* Rejecting the top partial bucket removes the modulo bias (which would favour low classes). */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do v = datagen_rng_next(rng);
    while (v >= limit);
    return v % bound;
}

double datagen_rng_uniform(datagen_rng *rng) {
    return (double)(datagen_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double datagen_rng_normal(datagen_rng *rng) {
    double u = 1.0 - datagen_rng_uniform(rng); /* (0, 1]: log(u) stays finite */
    double v = datagen_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

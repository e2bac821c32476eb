/* store.h — the store directory of a chaos sweep: one directory per
 * failing seed with its reproducers, trace, history, report and timeline
 * (store.c says what each file is).  Internal to sim/chaos.
 */
#ifndef AU_CHAOS_STORE_H
#define AU_CHAOS_STORE_H

#include <stdbool.h>
#include <stdint.h>

struct runner;

/* STORE/SCENARIO/seed-N (caller frees). */
char *au_chaos_store_seed_dir(const char *store, const char *scenario, uint64_t seed);

/* Fill the directory of failing `seed` from its reproducer files in the
 * sweep's --out (repro-N.ini, and repro-N.min.ini when `shrunk`).
 * Returns 0 with everything made, 1 if the trace could not be made (the
 * reproducers are there; README.txt says what is missing), -1 if the
 * directory or the reproducer could not be written (said on stderr).
 * *dir_out (may be NULL) gets the directory (caller frees). */
int au_chaos_store_seed(const struct runner *R, const char *store, uint64_t seed, bool shrunk,
			char **dir_out);

#endif

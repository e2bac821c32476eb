/* scenario_runs.h — what the scenario-driven tests share: loading a
 * scenario (a file, or text) with the loader's message as the failure,
 * running one to its end with every check on, its trace hash, and the
 * same hash from the -O0 build.  One copy, so every suite reports a
 * failing run the same way: "PATH seed S: CHECK at t=T on nN: DETAIL".
 */
#ifndef AU_TESTS_SCENARIO_RUNS_H
#define AU_TESTS_SCENARIO_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/engine/sim.h"
#include "sim/scenario/scenario.h"

/* Load a scenario file; the test fails with the loader's message. */
struct au_scenario *au_test_load(const char *path);
/* Load scenario text, named `name` in messages; the test fails with the
 * loader's message. */
struct au_scenario *au_test_load_text(const char *name, const char *text);

/* Run `sc` with `seed` to its end (au_sim_finish); the test fails with the
 * violation if a check failed.  `what` names the run in the message;
 * `dump` (may be NULL) gets the text records; `hash` (may be NULL) the
 * trace hash.  `keep` (may be NULL) gets the simulation instead of its
 * being freed, for a look at what the run left (caller au_sim_frees). */
void au_test_run_passes(const struct au_scenario *sc, uint64_t seed, const char *what, FILE *dump,
			char hash[65], struct au_sim **keep);
/* Load `path` and au_test_run_passes it. */
void au_test_scenario_passes(const char *path, uint64_t seed);
/* The trace hash of `path` at `seed` run to its end, checks or not. */
void au_test_run_hash(const char *path, uint64_t seed, char out[65]);
/* `aureon-sim run PATH --json` gives the same trace hash from the -O2
 * build ($AU_BIN) and the -O0 one ($AU_BIN_O0; skipped when it is not
 * set), for every n-th of `paths`; with `must_pass`, the runs must pass. */
void au_test_same_hash_at_O0(const char *const *paths, size_t n, size_t step, bool must_pass);

/* One trace event fed to a run by hand (checker tests on forged traces). */
struct au_test_forged {
	au_node_id node;
	uint16_t kind;
	int64_t a, b, c;
};

/* Run `sc` (seed 1) through its duration, then trace `ev` as service
 * `svc` of each event's node would, and return the violation as "check:
 * detail" (": " if none; g_free it).  Frees `sc`. */
char *au_test_forged_verdict(struct au_scenario *sc, uint32_t svc, const struct au_test_forged *ev,
			     size_t n);

#endif

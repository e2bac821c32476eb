/* tests.h — the Check suites of aureon-tests, one per module, and helpers
 * they share. */
#ifndef AU_TESTS_H
#define AU_TESTS_H

#include <check.h>

Suite *pcg32_suite(void);
Suite *evq_suite(void);
Suite *wire_suite(void);
Suite *shim_suite(void);
Suite *shim_ops_suite(void);
Suite *shim_peers_suite(void);
Suite *shim_batch_suite(void);
Suite *shim_ident_suite(void);
Suite *shim_e2e_suite(void);
Suite *identity_suite(void);
Suite *scenario_suite(void);
Suite *sim_suite(void);
Suite *cli_suite(void);
Suite *trace_suite(void);
Suite *analysis_suite(void);
Suite *linearize_suite(void);
Suite *raft_suite(void);
Suite *chaos_suite(void);
Suite *chaos_cli_suite(void);
Suite *store_suite(void);
Suite *exec_suite(void);
Suite *jobs_suite(void);
Suite *shim_jobs_suite(void);
Suite *kernels_suite(void);
Suite *one_suite(void);
Suite *results_suite(void);
Suite *rqml_suite(void);
Suite *rqml_fail_suite(void);
Suite *swim_suite(void);
Suite *verdict_suite(void);
Suite *replicas_suite(void);
Suite *readme_suite(void);
Suite *fixture_suite(void);
Suite *speed_suite(void);
Suite *replay_suite(void);
Suite *speed_raft_suite(void);
Suite *disk_suite(void);
Suite *raft_chain_suite(void);
Suite *taskq_snap_suite(void);
Suite *taskq_map_suite(void);

/* Run a shell command, capture stdout into *out (caller frees), return the
 * exit status (or -1 if it did not exit normally). */
int au_test_run(const char *cmd, char **out);
/* Directory of the binaries under test ($AU_BIN, default "build"). */
const char *au_test_bin(void);
/* Hash printed by `aureon-sim run ... --json`, or NULL; caller frees. */
char *au_test_json_hash(const char *json);

#endif

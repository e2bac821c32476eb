/* test_main.c — runs every Check suite; CK_EXCLUDE_TAGS=slow skips the
 * slow ones (make test), make test-all runs everything. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sim/cli/cli.h"
#include "tests.h"

const char *au_test_bin(void)
{
	const char *b = getenv("AU_BIN");
	return b && *b ? b : "build";
}

int au_test_run(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	GString *s = g_string_new(NULL);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		g_string_append_len(s, buf, (gssize)n);
	int st = pclose(p);
	if (out)
		*out = g_string_free(s, FALSE);
	else
		g_string_free(s, TRUE);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *au_test_json_hash(const char *json)
{
	const char *k = strstr(json, "\"trace_hash\": \"");
	if (!k)
		return NULL;
	k += strlen("\"trace_hash\": \"");
	return g_strndup(k, 64);
}

int main(void)
{
	au_cli_register();
	SRunner *sr = srunner_create(pcg32_suite());
	srunner_add_suite(sr, evq_suite());
	srunner_add_suite(sr, wire_suite());
	srunner_add_suite(sr, fixture_suite());
	srunner_add_suite(sr, shim_suite());
	srunner_add_suite(sr, replay_suite());
	srunner_add_suite(sr, shim_ops_suite());
	srunner_add_suite(sr, shim_jobs_suite());
	srunner_add_suite(sr, shim_peers_suite());
	srunner_add_suite(sr, shim_batch_suite());
	srunner_add_suite(sr, identity_suite());
	srunner_add_suite(sr, shim_ident_suite());
	srunner_add_suite(sr, shim_e2e_suite());
	srunner_add_suite(sr, scenario_suite());
	srunner_add_suite(sr, sim_suite());
	srunner_add_suite(sr, cli_suite());
	srunner_add_suite(sr, linearize_suite());
	srunner_add_suite(sr, raft_suite());
	srunner_add_suite(sr, exec_suite());
	srunner_add_suite(sr, jobs_suite());
	srunner_add_suite(sr, swim_suite());
	srunner_add_suite(sr, verdict_suite());
	srunner_add_suite(sr, trace_suite());
	srunner_add_suite(sr, analysis_suite());
	srunner_add_suite(sr, kernels_suite());
	srunner_add_suite(sr, one_suite());
	srunner_add_suite(sr, results_suite());
	srunner_add_suite(sr, replicas_suite());
	srunner_add_suite(sr, taskq_snap_suite());
	srunner_add_suite(sr, taskq_map_suite());
	srunner_add_suite(sr, rqml_suite());
	srunner_add_suite(sr, rqml_fail_suite());
	srunner_add_suite(sr, speed_suite());
	srunner_add_suite(sr, speed_raft_suite());
	srunner_add_suite(sr, disk_suite());
	srunner_add_suite(sr, raft_chain_suite());
	srunner_add_suite(sr, chaos_suite());
	srunner_add_suite(sr, chaos_cli_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, readme_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* store.c — a directory per failing seed of a chaos sweep, as Jepsen keeps
 * one per test: everything needed to understand the failure in one place.
 *
 *   STORE/SCENARIO/seed-N/
 *     reproducer.ini   the seed's reproducer (pinned to this build, pin.h)
 *     shrunk.ini       the shrunk reproducer, when the seed was shrunk
 *     run.txt          `aureon-sim run reproducer.ini` of this very build
 *     trace.h5         its HDF5 trace (root attributes: result, violation,
 *                      violation_json)
 *     history.edn      the KV history for Knossos (analysis/history; its
 *     history.json     header says what the values are), and for Porcupine
 *     report/          analysis/report: summary.md (verdict and violation
 *                      first) and the plots
 *     timeline.html    analysis/timeline: operations per client, faults
 *                      per node, the violating window highlighted; one
 *                      self-contained file (inline SVG, no scripts)
 *     README.txt       what each file is, and any step that did not work
 *
 * The trace comes from re-running the reproducer in a child process (this
 * same binary, `run --trace`); the Python tools come from the analysis/
 * directory of the source tree the binary was built from
 * (AU_ANALYSIS_DIR, overridden by the environment variable of that name).
 * A tool that fails leaves a note in README.txt and a warning on stderr;
 * it does not change the sweep's verdict.
 */
#include "chaos_internal.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "store.h"

#ifndef AU_ANALYSIS_DIR
#define AU_ANALYSIS_DIR "analysis"
#endif

/* Where the Python tools are. */
static const char *analysis_dir(void)
{
	const char *env = getenv("AU_ANALYSIS_DIR");
	return env && *env ? env : AU_ANALYSIS_DIR;
}

char *au_chaos_store_seed_dir(const char *store, const char *scenario, uint64_t seed)
{
	g_assert(store && scenario);
	return g_strdup_printf("%s/%s/seed-%" G_GUINT64_FORMAT, store, scenario, seed);
}

/* Copy file `from` to `to`; false with a note if it cannot. */
static bool copy_file(const char *from, const char *to, GString *notes)
{
	gchar *data = NULL;
	gsize len = 0;
	GError *err = NULL;
	if (!g_file_get_contents(from, &data, &len, &err) ||
	    !g_file_set_contents(to, data, (gssize)len, &err)) {
		g_string_append_printf(notes, "- %s: %s\n", to, err->message);
		g_error_free(err);
		g_free(data);
		return false;
	}
	g_free(data);
	return true;
}

/* Run argv with stdout to `out_file` (NULL: dropped); true if it exited 0
 * (or, with ok_fail, 1: a run whose check failed).  Notes what failed. */
static bool run_tool(char **argv, const char *out_file, bool ok_fail, const char *what,
		     GString *notes)
{
	gchar *out = NULL, *err_text = NULL;
	gint status = 0;
	GError *err = NULL;
	bool ok = g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err_text, &status,
			       &err);
	if (!ok) {
		g_string_append_printf(notes, "- %s: could not start %s: %s\n", what, argv[0], err->message);
		g_error_free(err);
		return false;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	ok = code == 0 || (ok_fail && code == 1);
	if (out_file && out)
		g_file_set_contents(out_file, out, -1, NULL);
	if (!ok) {
		g_strchomp(err_text);
		g_string_append_printf(notes, "- %s: %s exited with %d: %s\n", what, argv[0], code,
				       err_text && *err_text ? err_text : "(no message)");
	}
	g_free(out);
	g_free(err_text);
	return ok;
}

int au_chaos_store_seed(const struct runner *R, const char *store, uint64_t seed, bool shrunk,
			char **dir_out)
{
	g_assert(R && store);
	g_autofree char *dir = au_chaos_store_seed_dir(store, R->sc->name, seed);
	if (g_mkdir_with_parents(dir, 0755) != 0) {
		fprintf(stderr, "aureon-sim chaos: --store %s: cannot create: %s\n", dir, strerror(errno));
		return -1;
	}
	GString *notes = g_string_new(NULL); /* what failed */
	GString *info = g_string_new(NULL);  /* what is absent by design */
	g_autofree char *repro = au_chaos_repro_path(R, seed, ".ini");
	g_autofree char *min = au_chaos_repro_path(R, seed, ".min.ini");
	g_autofree char *d_repro = g_build_filename(dir, "reproducer.ini", NULL);
	g_autofree char *d_min = g_build_filename(dir, "shrunk.ini", NULL);
	g_autofree char *d_trace = g_build_filename(dir, "trace.h5", NULL);
	g_autofree char *d_run = g_build_filename(dir, "run.txt", NULL);
	g_autofree char *d_edn = g_build_filename(dir, "history.edn", NULL);
	g_autofree char *d_json = g_build_filename(dir, "history.json", NULL);
	g_autofree char *d_report = g_build_filename(dir, "report", NULL);
	g_autofree char *d_timeline = g_build_filename(dir, "timeline.html", NULL);
	if (!copy_file(repro, d_repro, notes)) {
		fprintf(stderr, "aureon-sim chaos: --store: %s", notes->str);
		g_string_free(notes, TRUE);
		g_string_free(info, TRUE);
		return -1;
	}
	if (shrunk)
		copy_file(min, d_min, notes);
	else
		g_string_append(info, "- shrunk.ini: this seed was not shrunk (--shrink N shrinks the "
				      "first N failures)\n");
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	char *run_argv[] = {self ? self : "aureon-sim", "run", d_repro, "--trace", d_trace, "--force",
			    NULL};
	bool traced = run_tool(run_argv, d_run, true, "trace.h5", notes) &&
		      g_file_test(d_trace, G_FILE_TEST_EXISTS);
	if (traced) {
		const char *ad = analysis_dir();
		g_autofree char *history = g_build_filename(ad, "history", NULL);
		g_autofree char *report = g_build_filename(ad, "report", NULL);
		g_autofree char *timeline = g_build_filename(ad, "timeline", NULL);
		char *edn_argv[] = {history, d_trace, "--format", "edn", "--out", d_edn, NULL};
		char *json_argv[] = {history, d_trace, "--format", "porcupine", "--out", d_json, NULL};
		char *report_argv[] = {report, d_trace, "--out", d_report, NULL};
		char *tl_argv[] = {timeline, d_trace, "--out", d_timeline, NULL};
		if (au_cluster_spec_runs(&R->sc->cluster, "kv")) {
			run_tool(edn_argv, NULL, false, "history.edn", notes);
			run_tool(json_argv, NULL, false, "history.json", notes);
		} else {
			g_string_append(info, "- history: the scenario runs no KV clients, so there is no "
					       "history to export\n");
		}
		run_tool(report_argv, NULL, false, "report/", notes);
		run_tool(tl_argv, NULL, false, "timeline.html", notes);
	}
	g_autofree char *readme = g_strdup_printf(
		"Chaos failure of scenario %s (%s), seed %" G_GUINT64_FORMAT ".\n\n"
		"reproducer.ini  the seed's reproducer: aureon-sim run reproducer.ini\n"
		"shrunk.ini      the shrunk reproducer (fewest faults, shortest run that still fails)\n"
		"run.txt         what `aureon-sim run reproducer.ini --trace trace.h5` printed\n"
		"trace.h5        the HDF5 trace of that run (docs/traces-and-analysis.md)\n"
		"history.edn     the KV client history for Knossos (analysis/history; header explains values)\n"
		"history.json    the same for Porcupine\n"
		"report/         analysis/report: summary.md (verdict and violation first) and plots\n"
		"timeline.html   operations per client, faults per node, the violating window highlighted\n"
		"%s%s%s%s",
		R->sc->name, R->path, seed, info->len ? "\nNot here:\n" : "", info->str,
		notes->len ? "\nWhat did not work:\n" : "", notes->str);
	g_autofree char *d_readme = g_build_filename(dir, "README.txt", NULL);
	g_file_set_contents(d_readme, readme, -1, NULL);
	if (notes->len)
		fprintf(stderr, "aureon-sim chaos: --store %s: not everything was made:\n%s", dir,
			notes->str);
	int rc = traced ? 0 : 1;
	g_string_free(notes, TRUE);
	g_string_free(info, TRUE);
	if (dir_out)
		*dir_out = g_strdup(dir);
	return rc;
}

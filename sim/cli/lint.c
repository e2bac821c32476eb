/* lint.c — `aureon-sim list` and `aureon-sim lint` (see cli.h): what this
 * build offers, read from the registries (checkers, chaos kinds, models),
 * and a scenario checked without running it. */
#include "cli.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/registry.h"
#include "kv.h"
#include "orchestrator/orchestrator.h"
#include "sim/chaos/chaos.h"
#include "sim/check/check.h"
#include "sim/report/report.h"
#include "sim/scenario/scenario.h"

enum { LINT_CLEAN = 0, LINT_WARNINGS = 1, LINT_ERROR = 2 };

static const char *const usage_list =
	"usage: aureon-sim list checks|kinds|services\n"
	"\n"
	"  checks     the checkers: name, the service it runs with, what it judges\n"
	"  kinds      the fault kinds of chaos plans ([chaos] kinds)\n"
	"  services   the models a scenario can list in [cluster] services, with\n"
	"             the services each needs listed before it\n";

static const char *const usage_lint =
	"usage: aureon-sim lint SCENARIO\n"
	"\n"
	"Loads SCENARIO and validates every group and key as `run` would, without\n"
	"running it, then warns where it would judge less than it seems to: a\n"
	"checker with nothing to judge (no KV clients, no tasks), no checker at all.\n"
	"(A check listed for a service that does not run, a liveness window past\n"
	"the end, no room for chaos faults are load errors already.)\n"
	"\n"
	"Exit: 0 clean, 1 warnings, 2 the scenario does not load (the error names\n"
	"file, group and key) or a usage error.\n";

int au_cli_list(int argc, char **argv)
{
	if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		fputs(usage_list, stdout);
		return 0;
	}
	if (argc != 1)
		return au_report_usage_error(usage_list, "list needs one of: checks, kinds, services");
	if (strcmp(argv[0], "checks") == 0) {
		for (size_t i = 0; i < au_check_count(); i++) {
			const char *name, *service, *about;
			au_check_info(i, &name, &service, &about);
			printf("%-24s %-8s %s\n", name, service, about);
		}
	} else if (strcmp(argv[0], "kinds") == 0) {
		for (int k = 0; k < AU_CK_COUNT_; k++)
			printf("%-18s %s\n", au_chaos_kind_name((enum au_chaos_kind)k),
			       au_chaos_kind_about((enum au_chaos_kind)k));
	} else if (strcmp(argv[0], "services") == 0) {
		size_t n;
		const struct au_model *const *all = au_registry_all(&n);
		for (size_t i = 0; i < n; i++) {
			GString *needs = g_string_new(NULL);
			for (const char *const *m = all[i]->needs; m && *m; m++)
				g_string_append_printf(needs, "%s%s", needs->len ? "," : "needs ", *m);
			printf("%-8s %-22s %s\n", all[i]->name, needs->str, all[i]->about ? all[i]->about : "");
			g_string_free(needs, TRUE);
		}
	} else {
		static const char *const what[] = {"checks", "kinds", "services"};
		const char *near = au_report_nearest(argv[0], what, G_N_ELEMENTS(what));
		return au_report_usage_error(usage_list, "list: unknown '%s'%s%s%s (checks, kinds or services)",
					     argv[0], near ? " (did you mean " : "", near ? near : "",
					     near ? "?)" : "");
	}
	return 0;
}

/* The config of service `name` in this scenario, or NULL if it does not run. */
static const void *service_config(const struct au_scenario *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, name) == 0)
			return sc->cluster.service_config[i];
	return NULL;
}

static void warn(const struct au_scenario *sc, uint32_t *n, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void warn(const struct au_scenario *sc, uint32_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	printf("%s: warning: %s\n", sc->path, msg);
	(*n)++;
}

/* The warnings of a loaded scenario, printed; how many. */
static uint32_t lint_scenario(const struct au_scenario *sc)
{
	uint32_t n = 0;
	/* Checkers that run but have nothing to judge. */
	bool any_check = false;
	for (size_t i = 0; i < au_check_count(); i++) {
		const char *name, *service, *about;
		au_check_info(i, &name, &service, &about);
		any_check = any_check || au_cluster_spec_runs(&sc->cluster, service);
	}
	if (!any_check)
		warn(sc, &n, "[cluster] services: no checker runs with these services, so every run "
			     "passes (`aureon-sim list checks` says which service each needs)");
	const struct au_kv_config *kv = service_config(sc, "kv");
	if (kv && (kv->clients == 0 || kv->rate_per_s == 0))
		warn(sc, &n, "[workload] %s: no KV operation is ever issued, so linearizable_kv judges "
			     "nothing", kv->clients == 0 ? "kv_clients = 0" : "kv_rate = 0");
	const struct au_orch_config *oc = service_config(sc, "aureon");
	if (oc && oc->tasks == 0 && !service_config(sc, "rqml"))
		warn(sc, &n, "[workload] tasks = 0 (and no rqml jobs): no task is ever enqueued, so "
			     "no_task_lost, exactly_once and lease_placement judge nothing");
	return n;
}

int au_cli_lint(int argc, char **argv)
{
	if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		fputs(usage_lint, stdout);
		return 0;
	}
	if (argc != 1 || argv[0][0] == '-')
		return au_report_usage_error(usage_lint, "lint needs one scenario file");
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(argv[0], &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: %s\n", err);
		g_free(err);
		return LINT_ERROR;
	}
	uint32_t n = lint_scenario(sc);
	if (n)
		printf("%s: %u warning%s\n", sc->path, n, n > 1 ? "s" : "");
	else
		printf("%s: clean (%u nodes, %u services, %u faults)\n", sc->path, sc->cluster.nodes,
		       sc->cluster.n_services, sc->n_faults);
	au_scenario_free(sc);
	return n ? LINT_WARNINGS : LINT_CLEAN;
}

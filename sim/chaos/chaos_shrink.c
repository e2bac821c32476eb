/* chaos_shrink.c — make a failing scenario small (delta debugging).
 *
 * The input is a complete scenario text (a reproducer: every fault spelled
 * out, seed fixed).  Passes, repeated while any of them makes progress:
 *   duration  cut the run just after a mid-run violation, then bisect the
 *             length (end-of-run checks fail only at the end; not for
 *             no_task_lost, which any run cut short fails);
 *   faults    Zeller and Hildebrandt's ddmin (TSE 2002) over the [fault.*]
 *             groups: try subsets and complements at growing granularity;
 *   nodes     one node fewer at a time (faults that name a removed node go);
 *   workload  client counts to their minimum or halved, rates halved.
 * A change is kept only if the candidate still fails the same check.  The
 * seed stays fixed, so every candidate is itself deterministic; the result
 * replays exactly like the reproducer did.
 *
 * Each candidate runs in a forked child: a candidate may crash (a planted
 * bug's assert) or loop, and the shrinker must survive both.
 */
#include "chaos_internal.h"
#include "pin.h"

#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "sim/report/report.h"

struct shrinker {
	const char *path;
	char want[48];
	double t0, budget_s, cand_timeout_s;
	uint32_t runs;
	bool budget_hit;
	struct au_ini *best;
	struct au_chaos_outcome best_out;
};

/* Run a scenario text here, in this process. */
static void run_text(const char *path, const char *text, struct au_chaos_outcome *out)
{
	memset(out, 0, sizeof(*out));
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(path, text, &err);
	if (!sc) {
		out->rc = 2;
		g_strlcpy(out->detail, err, sizeof(out->detail));
		g_free(err);
		return;
	}
	struct au_sim *sim = au_sim_new(sc, sc->seed ? sc->seed : 1);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	out->rc = rc;
	const struct au_violation *v = au_sim_violation(sim);
	if (v) {
		g_strlcpy(out->check, v->check, sizeof(out->check));
		out->t_ns = v->t_ns;
		out->node = v->node;
		out->record = v->record;
		g_strlcpy(out->detail, v->detail, sizeof(out->detail));
		out->viol = *v;
	}
	au_sim_trace_hash(sim, out->hash);
	out->events = au_sim_stats(sim)->events;
	out->sim_ns = au_sim_stats(sim)->sim_time_ns;
	au_sim_free(sim);
	au_scenario_free(sc);
}

bool au_chaos_probe(const char *path, const char *text, double timeout_s,
		    struct au_chaos_outcome *out)
{
	memset(out, 0, sizeof(*out));
	int fds[2];
	if (pipe(fds) != 0)
		return false;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0) {
		close(fds[0]);
		/* Checkers explain failures on stderr; the shrinker only needs
		 * the verdict. */
		FILE *null = freopen("/dev/null", "w", stderr);
		(void)null;
		struct au_chaos_outcome o;
		run_text(path, text, &o);
		ssize_t w = write(fds[1], &o, sizeof(o));
		_exit(w == (ssize_t)sizeof(o) ? 0 : 3);
	}
	close(fds[1]);
	size_t got = 0;
	bool ok = true;
	double deadline = au_report_wall_seconds() + timeout_s;
	while (got < sizeof(*out)) {
		int wait_ms = (int)((deadline - au_report_wall_seconds()) * 1000);
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		if (wait_ms <= 0 || poll(&p, 1, wait_ms) == 0) {
			kill(pid, SIGKILL);
			ok = false;
			break;
		}
		ssize_t n = read(fds[0], (char *)out + got, sizeof(*out) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!ok)
		return false;
	if (WIFSIGNALED(status)) {
		memset(out, 0, sizeof(*out));
		out->rc = 1;
		g_snprintf(out->check, sizeof(out->check), "signal %d", WTERMSIG(status));
		return true;
	}
	return got == sizeof(*out);
}

static bool run_forked(struct shrinker *S, const char *text, struct au_chaos_outcome *out)
{
	S->runs++;
	return au_chaos_probe(S->path, text, S->cand_timeout_s, out);
}

static bool over_budget(struct shrinker *S)
{
	if (au_report_wall_seconds() - S->t0 > S->budget_s)
		S->budget_hit = true;
	return S->budget_hit;
}

/* Does the candidate load, and does it still fail the same check?  If so
 * it becomes the best. */
static bool try_candidate(struct shrinker *S, struct au_ini *cand)
{
	if (over_budget(S))
		return false;
	g_autofree char *text = au_ini_to_text(cand);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(S->path, text, &err);
	if (!sc) { /* e.g. a restart left without its crash */
		g_free(err);
		return false;
	}
	au_scenario_free(sc);
	struct au_chaos_outcome o;
	if (!run_forked(S, text, &o) || o.rc != 1 || strcmp(o.check, S->want) != 0)
		return false;
	au_ini_free(S->best);
	S->best = au_ini_copy(cand);
	S->best_out = o;
	return true;
}

/* ---- what a scenario holds ---------------------------------------------- */

static char **fault_groups(const struct au_ini *ini)
{
	g_auto(GStrv) all = au_ini_groups(ini);
	GPtrArray *out = g_ptr_array_new();
	for (gsize i = 0; all[i]; i++)
		if (g_str_has_prefix(all[i], "fault."))
			g_ptr_array_add(out, g_strdup(all[i]));
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

static au_time get_time(const struct au_ini *ini, const char *g, const char *k)
{
	g_autofree char *v = au_ini_get(ini, g, k);
	au_time t = -1;
	if (!v || !au_parse_duration(v, &t))
		return -1;
	return t;
}

static uint32_t get_nodes(const struct au_ini *ini)
{
	g_autofree char *v = au_ini_get(ini, "cluster", "nodes");
	return v ? (uint32_t)g_ascii_strtoull(v, NULL, 10) : 0;
}

static void set_time(struct au_ini *ini, const char *g, const char *k, au_time t)
{
	char buf[40];
	au_format_duration(t, buf, sizeof(buf));
	au_ini_set(ini, g, k, buf);
}

/* Workload knobs: every service key of type rate, and unsigned keys whose
 * name says they count clients. */
struct knob {
	const char *group;
	const struct au_config_key *key;
};

static uint32_t knobs_of(const struct au_ini *ini, const char *path, struct knob *out,
			 uint32_t max)
{
	g_autofree char *text = au_ini_to_text(ini);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(path, text, &err);
	g_free(err);
	if (!sc)
		return 0;
	uint32_t n = 0;
	for (uint32_t s = 0; s < sc->cluster.n_services; s++) {
		const struct au_model *m = sc->cluster.services[s];
		for (const struct au_config_key *k = m->config_keys; k && k->name && n < max; k++)
			if (k->type == AU_CFG_RATE || (k->type == AU_CFG_UINT && strstr(k->name, "clients")))
				out[n++] = (struct knob){m->config_group, k};
	}
	au_scenario_free(sc);
	return n;
}

static uint64_t knob_value(const struct au_ini *ini, const struct knob *kb)
{
	g_autofree char *v = au_ini_get(ini, kb->group, kb->key->name);
	const char *text = v ? v : kb->key->default_text;
	return g_ascii_strtoull(text, NULL, 10); /* "50/s" reads as 50 */
}

static void set_knob(struct au_ini *ini, const struct knob *kb, uint64_t v)
{
	char buf[40];
	g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT "%s", v,
		   kb->key->type == AU_CFG_RATE ? "/s" : "");
	au_ini_set(ini, kb->group, kb->key->name, buf);
}

static void knob_sums(const struct au_ini *ini, const char *path, uint32_t *clients,
		      uint32_t *rate)
{
	struct knob kb[16];
	uint32_t n = knobs_of(ini, path, kb, 16);
	*clients = *rate = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (kb[i].key->type == AU_CFG_RATE)
			*rate += (uint32_t)knob_value(ini, &kb[i]);
		else
			*clients += (uint32_t)knob_value(ini, &kb[i]);
	}
}

/* ---- passes -------------------------------------------------------------- */

/* The scenario cut to `d`: faults that would fire after it go; if the
 * liveness window no longer fits and liveness is not what fails, it goes
 * too. */
static struct au_ini *with_duration(struct shrinker *S, const struct au_ini *base, au_time d)
{
	struct au_ini *c = au_ini_copy(base);
	set_time(c, "run", "duration", d);
	g_auto(GStrv) faults = fault_groups(c);
	for (gsize i = 0; faults[i]; i++)
		if (get_time(c, faults[i], "at") > d)
			au_ini_remove_group(c, faults[i]);
	g_autofree char *text = au_ini_to_text(c);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(S->path, text, &err);
	if (!sc && err && strstr(err, "liveness") && strcmp(S->want, "leader_within") != 0)
		au_ini_set(c, "check", "liveness", "# (shrinking: the run is too short for the window now)");
	g_free(err);
	au_scenario_free(sc);
	return c;
}

static bool shrink_duration(struct shrinker *S)
{
	bool changed = false;
	au_time d = get_time(S->best, "run", "duration");
	au_time t = S->best_out.t_ns;
	/* A check that everything finished by the end fails in any run cut
	 * short: a shorter run would "reproduce" it without the bug. */
	if (strcmp(S->want, "no_task_lost") == 0)
		return false;
	/* A violation before the end: nothing after it matters. */
	au_time cut = (t / AU_NS_PER_MS + 1) * AU_NS_PER_MS;
	if (t > 0 && cut < d) {
		struct au_ini *c = with_duration(S, S->best, cut);
		if (try_candidate(S, c)) {
			changed = true;
			d = cut;
		}
		au_ini_free(c);
	}
	/* Bisect for the shortest run that still fails. */
	au_time lo = 0, hi = d;
	for (int probe = 0; probe < 8 && hi - lo > hi / 16 && hi - lo > 10 * AU_NS_PER_MS; probe++) {
		au_time mid = ((lo + hi) / 2 / AU_NS_PER_MS) * AU_NS_PER_MS;
		if (mid <= lo)
			break;
		struct au_ini *c = with_duration(S, S->best, mid);
		if (try_candidate(S, c)) {
			hi = mid;
			changed = true;
		} else {
			lo = mid;
		}
		au_ini_free(c);
	}
	return changed;
}

/* `base` keeping only the fault groups in keep[0..n). */
static struct au_ini *with_faults(const struct au_ini *base, char **all, char **keep, guint n)
{
	struct au_ini *c = au_ini_copy(base);
	for (gsize i = 0; all[i]; i++) {
		bool kept = false;
		for (guint j = 0; j < n && !kept; j++)
			kept = strcmp(all[i], keep[j]) == 0;
		if (!kept)
			au_ini_remove_group(c, all[i]);
	}
	return c;
}

static bool test_faults(struct shrinker *S, char **all, char **subset, guint n)
{
	struct au_ini *c = with_faults(S->best, all, subset, n);
	bool fails = try_candidate(S, c);
	au_ini_free(c);
	return fails;
}

static bool ddmin_faults(struct shrinker *S)
{
	char **all = fault_groups(S->best);
	guint len = g_strv_length(all);
	if (len == 0) {
		g_strfreev(all);
		return false;
	}
	/* The current configuration, as names (owned by `all`). */
	char **cur = g_new(char *, len);
	for (guint i = 0; i < len; i++)
		cur[i] = all[i];
	guint n_cur = len;
	bool changed = false;
	if (test_faults(S, all, cur, 0)) { /* fails with no faults at all */
		n_cur = 0;
		changed = true;
	}
	guint gran = 2;
	char **sub = g_new(char *, len);
	while (n_cur >= 2 && !over_budget(S)) {
		if (gran > n_cur)
			gran = n_cur;
		bool reduced = false;
		/* Subsets first, then complements. */
		for (guint pass = 0; pass < 2 && !reduced; pass++) {
			for (guint c = 0; c < gran && !reduced; c++) {
				guint from = n_cur * c / gran, to = n_cur * (c + 1) / gran, m = 0;
				for (guint i = 0; i < n_cur; i++)
					if ((i >= from && i < to) == (pass == 0))
						sub[m++] = cur[i];
				if (m == 0 || m == n_cur)
					continue;
				if (test_faults(S, all, sub, m)) {
					memcpy(cur, sub, m * sizeof(*cur));
					n_cur = m;
					gran = pass == 0 ? 2 : (gran > 2 ? gran - 1 : 2);
					reduced = true;
					changed = true;
				}
			}
		}
		if (!reduced) {
			if (gran >= n_cur)
				break;
			gran = gran * 2 < n_cur ? gran * 2 : n_cur;
		}
	}
	/* One fault left: is it needed? (ddmin stops at one element.) */
	if (n_cur == 1 && !over_budget(S) && test_faults(S, all, cur, 0))
		changed = true;
	g_free(sub);
	g_free(cur);
	g_strfreev(all);
	return changed;
}

/* Does a node list ("n1,n2" or a single "n3") name a node above k? */
static bool names_node_above(const char *v, uint32_t k)
{
	for (const char *p = v; (p = strchr(p, 'n')) != NULL; p++) {
		if (p > v && g_ascii_isalpha(p[-1]))
			continue;
		if (g_ascii_isdigit(p[1]) && g_ascii_strtoull(p + 1, NULL, 10) > k)
			return true;
	}
	return false;
}

/* Partition groups without nodes above k; NULL if fewer than two groups
 * would be left. */
static char *groups_without(const char *v, uint32_t k)
{
	g_auto(GStrv) groups = g_strsplit(v, "|", -1);
	GString *out = g_string_new(NULL);
	guint kept_groups = 0;
	for (gsize i = 0; groups[i]; i++) {
		g_auto(GStrv) names = g_strsplit(groups[i], ",", -1);
		GString *g = g_string_new(NULL);
		for (gsize j = 0; names[j]; j++) {
			char *n = g_strstrip(names[j]);
			if (!*n || names_node_above(n, k))
				continue;
			g_string_append_printf(g, "%s%s", g->len ? "," : "", n);
		}
		if (g->len) {
			g_string_append_printf(out, "%s%s", kept_groups ? " | " : "", g->str);
			kept_groups++;
		}
		g_string_free(g, TRUE);
	}
	if (kept_groups < 2) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

static struct au_ini *with_nodes(const struct au_ini *base, uint32_t k)
{
	struct au_ini *c = au_ini_copy(base);
	char buf[16];
	g_snprintf(buf, sizeof(buf), "%u", k);
	au_ini_set(c, "cluster", "nodes", buf);
	uint32_t n = get_nodes(base);
	for (uint32_t j = k + 1; j <= n; j++) {
		g_snprintf(buf, sizeof(buf), "n%u", j);
		au_ini_remove_key(c, "cluster", buf);
	}
	g_auto(GStrv) faults = fault_groups(c);
	for (gsize i = 0; faults[i]; i++) {
		g_autofree char *target = au_ini_get(c, faults[i], "target");
		g_autofree char *link = au_ini_get(c, faults[i], "link");
		g_autofree char *groups = au_ini_get(c, faults[i], "groups");
		if ((target && names_node_above(target, k)) || (link && names_node_above(link, k))) {
			au_ini_remove_group(c, faults[i]);
		} else if (groups) {
			g_autofree char *g = groups_without(groups, k);
			if (g)
				au_ini_set(c, faults[i], "groups", g);
			else
				au_ini_remove_group(c, faults[i]);
		}
	}
	return c;
}

static bool shrink_nodes(struct shrinker *S)
{
	bool changed = false;
	for (uint32_t n = get_nodes(S->best); n > 1 && !over_budget(S); n--) {
		struct au_ini *c = with_nodes(S->best, n - 1);
		bool ok = try_candidate(S, c);
		au_ini_free(c);
		if (!ok)
			break;
		changed = true;
	}
	return changed;
}

static bool set_and_try(struct shrinker *S, const struct knob *kb, uint64_t v)
{
	struct au_ini *c = au_ini_copy(S->best);
	set_knob(c, kb, v);
	bool ok = try_candidate(S, c);
	au_ini_free(c);
	return ok;
}

static bool shrink_workload(struct shrinker *S)
{
	struct knob kb[16];
	uint32_t n = knobs_of(S->best, S->path, kb, 16);
	bool changed = false;
	for (uint32_t i = 0; i < n && !over_budget(S); i++) {
		uint64_t v = knob_value(S->best, &kb[i]);
		/* Never down to no clients at all: a run without workload fails
		 * liveness and history checks for reasons of its own. */
		uint64_t floor = kb[i].key->min > 0 ? kb[i].key->min : 1;
		if (v <= floor)
			continue;
		/* Straight to the minimum; else halve while it keeps failing. */
		if (set_and_try(S, &kb[i], floor)) {
			changed = true;
			continue;
		}
		while (v / 2 > floor && !over_budget(S) && set_and_try(S, &kb[i], v / 2)) {
			v /= 2;
			changed = true;
		}
	}
	return changed;
}

int au_chaos_shrink(const char *path, const char *text, const char *check, double budget_s,
		    char **min_text, struct au_shrink_stats *st)
{
	memset(st, 0, sizeof(*st));
	*min_text = NULL;
	struct shrinker S = {.path = path, .t0 = au_report_wall_seconds(), .budget_s = budget_s};
	g_strlcpy(S.want, check, sizeof(S.want));
	S.best = au_ini_parse(text);
	/* The original: does it fail as reported, and how long does it take? */
	S.cand_timeout_s = budget_s > 10 ? budget_s : 10;
	struct au_chaos_outcome first;
	double t_run = au_report_wall_seconds();
	bool ran = run_forked(&S, text, &first);
	t_run = au_report_wall_seconds() - t_run;
	g_auto(GStrv) faults0 = fault_groups(S.best);
	st->faults_before = g_strv_length(faults0);
	st->duration_before = get_time(S.best, "run", "duration");
	st->nodes_before = get_nodes(S.best);
	knob_sums(S.best, path, &st->clients_before, &st->rate_before);
	if (!ran || first.rc != 1 || strcmp(first.check, S.want) != 0) {
		st->timed_out = !ran;
		g_strlcpy(st->check, ran ? first.check : "", sizeof(st->check));
		st->runs = S.runs;
		st->wall_s = au_report_wall_seconds() - S.t0;
		au_ini_free(S.best);
		return -1;
	}
	st->reproduced = true;
	S.best_out = first;
	/* A candidate that takes far longer than the original is hung. */
	S.cand_timeout_s = 20 * t_run + 5;
	for (int round = 0; round < 4 && !over_budget(&S); round++) {
		bool changed = shrink_duration(&S);
		changed |= ddmin_faults(&S);
		changed |= shrink_nodes(&S);
		changed |= shrink_workload(&S);
		if (!changed)
			break;
	}
	g_auto(GStrv) faults1 = fault_groups(S.best);
	st->faults_after = g_strv_length(faults1);
	st->duration_after = get_time(S.best, "run", "duration");
	st->nodes_after = get_nodes(S.best);
	knob_sums(S.best, path, &st->clients_after, &st->rate_after);
	st->runs = S.runs;
	st->budget_hit = S.budget_hit;
	st->wall_s = au_report_wall_seconds() - S.t0;
	g_strlcpy(st->check, S.best_out.check, sizeof(st->check));
	st->t_ns = S.best_out.t_ns;
	memcpy(st->hash, S.best_out.hash, sizeof(st->hash));
	*min_text = au_ini_to_text(S.best);
	au_ini_free(S.best);
	return 0;
}

/* ---- aureon-sim shrink ------------------------------------------------------ */

static const char *const usage_shrink =
	"usage: aureon-sim shrink FILE [--out OUT] [--time S] [--check NAME]\n"
	"\n"
	"Shrinks a scenario file that fails a check (for instance a reproducer that\n"
	"chaos could not shrink in its budget): drops faults, shortens the run,\n"
	"removes nodes and lowers client counts and rates, keeping each change only\n"
	"if the run still fails the same check.  Writes OUT (default FILE with\n"
	".min.ini in place of .ini).\n"
	"\n"
	"  --out OUT     where to write the shrunk scenario; an existing OUT is an\n"
	"                error unless --force\n"
	"  --force       overwrite an existing OUT\n"
	"  --time S      wall-time budget in seconds (default 60)\n"
	"  --check NAME  the check to keep failing (default: whichever FILE fails;\n"
	"                \"signal N\" for a run that crashes, \"timeout\" for one\n"
	"                that overran; `aureon-sim list checks` lists the names)\n"
	"\n"
	"Exit: 0 shrunk and written, 1 FILE does not fail (that check), 2 usage or I/O.\n";

/* Is `check` a name a run can fail with: a checker of this build,
 * "signal N" (the run crashed) or "timeout"?  If not, say so on stderr,
 * with the nearest known name, and return false. */
static bool known_check(const char *check)
{
	if (strcmp(check, "timeout") == 0)
		return true;
	if (g_str_has_prefix(check, "signal ")) {
		uint64_t sig;
		if (au_parse_u64(check + strlen("signal "), &sig) && sig >= 1 && sig <= 64)
			return true;
	}
	size_t n = au_check_count();
	const char **names = g_new0(const char *, n + 1);
	GString *known = g_string_new(NULL);
	for (size_t i = 0; i < n; i++) {
		const char *service, *about;
		au_check_info(i, &names[i], &service, &about);
		g_string_append_printf(known, "%s%s", i ? ", " : "", names[i]);
	}
	const char *near = au_report_nearest(check, names, n);
	fprintf(stderr, "aureon-sim shrink: --check '%s': unknown check%s%s%s; this build has: %s; "
		"also \"signal N\" (the run crashed) and \"timeout\"\n",
		check, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "", known->str);
	g_string_free(known, TRUE);
	g_free(names);
	return false;
}

int au_shrink_main(int argc, char **argv)
{
	const char *path = NULL, *out = NULL, *check = NULL;
	bool force = false;
	double budget = 60;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_shrink, stdout);
			return EXIT_PASS;
		} else if (strcmp(a, "--out") == 0 && val && *val) {
			out = val;
			i++;
		} else if (strcmp(a, "--check") == 0 && val && *val) {
			check = val;
			i++;
		} else if (strcmp(a, "--force") == 0) {
			force = true;
		} else if (strcmp(a, "--time") == 0 && val) {
			char *end;
			budget = g_ascii_strtod(val, &end);
			if (!*val || *end || !(budget > 0 && budget <= 86400)) {
				fprintf(stderr, "aureon-sim shrink: --time needs seconds in (0, 86400]\n\n%s",
					usage_shrink);
				return EXIT_USAGE;
			}
			i++;
		} else if (a[0] == '-') {
			fprintf(stderr, "aureon-sim shrink: unknown option or missing value: %s\n\n%s", a,
				usage_shrink);
			return EXIT_USAGE;
		} else if (!path) {
			path = a;
		} else {
			fprintf(stderr, "aureon-sim shrink: more than one file given\n\n%s", usage_shrink);
			return EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "aureon-sim shrink: needs a scenario file\n\n%s", usage_shrink);
		return EXIT_USAGE;
	}
	if (check && !known_check(check))
		return EXIT_USAGE;
	g_autofree char *out_path = out ? g_strdup(out)
				  : g_str_has_suffix(path, ".ini")
				      ? g_strdup_printf("%.*s.min.ini", (int)strlen(path) - 4, path)
				      : g_strdup_printf("%s.min.ini", path);
	/* Found before minutes of shrinking, not after. */
	if (!force && g_file_test(out_path, G_FILE_TEST_EXISTS)) {
		fprintf(stderr, "aureon-sim shrink: %s exists; pass --force to overwrite it (or --out "
			"another file)\n", out_path);
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(path, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	g_autofree char *text = g_strdup(sc->text);
	au_scenario_free(sc);
	g_autofree char *want = NULL;
	if (check) {
		want = g_strdup(check);
	} else {
		/* Which check does it fail?  Run it once, in a child (it may crash). */
		struct au_chaos_outcome o;
		if (!au_chaos_probe(path, text, budget, &o)) {
			printf("aureon-sim shrink: %s did not finish within --time %.0f s\n", path, budget);
			return EXIT_FAIL;
		}
		if (o.rc == 2) {
			fprintf(stderr, "aureon-sim: %s\n", o.detail);
			return EXIT_USAGE;
		}
		if (o.rc != 1) {
			printf("aureon-sim shrink: %s passes every check: nothing to shrink\n", path);
			return EXIT_FAIL;
		}
		want = g_strdup(o.check);
	}
	char *min = NULL;
	struct au_shrink_stats st;
	if (au_chaos_shrink(path, text, want, budget, &min, &st) != 0) {
		if (st.timed_out)
			printf("aureon-sim shrink: %s did not finish within --time %.0f s\n", path, budget);
		else
			printf("aureon-sim shrink: %s does not fail %s (it %s)\n", path, want,
			       st.check[0] ? st.check : "passes");
		return EXIT_FAIL;
	}
	char t[40], d0[32], d1[32];
	au_report_seconds(st.t_ns, t, sizeof(t));
	au_format_duration(st.duration_before, d0, sizeof(d0));
	au_format_duration(st.duration_after, d1, sizeof(d1));
	g_autofree char *base = g_path_get_basename(out_path);
	g_autofree char *pin = au_pin_header();
	g_autofree char *header = g_strdup_printf(
		"Shrunk by aureon-sim shrink from %s\n"
		"Fails %s at t=%s; trace hash %s\n"
		"Replay: aureon-sim run %s\n"
		"Shrunk from %u to %u faults, %s to %s, %u to %u nodes (%u candidate runs, %.1f s%s).\n%s",
		path, st.check, t, st.hash, base, st.faults_before, st.faults_after, d0, d1,
		st.nodes_before, st.nodes_after, st.runs, st.wall_s,
		st.budget_hit ? ", stopped by the time budget" : "", pin);
	g_autofree char *fixed = au_pin_shrunk_text(min, st.faults_after);
	g_free(min);
	struct au_ini *ini = au_ini_parse(fixed);
	au_ini_prepend_comment(ini, header);
	g_autofree char *body = au_ini_to_text(ini);
	au_ini_free(ini);
	GError *gerr = NULL;
	if (!g_file_set_contents(out_path, body, -1, &gerr)) {
		fprintf(stderr, "aureon-sim shrink: %s\n", gerr->message);
		g_error_free(gerr);
		return EXIT_USAGE;
	}
	printf("shrunk %s -> %s: fails %s at t=%s; %u -> %u faults, %s -> %s, %u -> %u nodes, "
	       "clients %u -> %u, rate %u/s -> %u/s; %u runs, %.1f s%s\n",
	       path, out_path, st.check, t, st.faults_before, st.faults_after, d0, d1, st.nodes_before,
	       st.nodes_after, st.clients_before, st.clients_after, st.rate_before, st.rate_after,
	       st.runs, st.wall_s, st.budget_hit ? " (time budget reached)" : "");
	return EXIT_PASS;
}

/* report.c — what a chaos sweep says at the end: the summary (as text or
 * one JSON object), the coverage table (fault kinds enabled, planned and
 * applied; situations reached; each check's verdicts), and JUnit XML.
 */
#include "chaos_internal.h"

#include <stdio.h>
#include <string.h>

#include "sim/report/report.h"
#include "sim/report/violation.h"

static void xml_str(GString *o, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '<': g_string_append(o, "&lt;"); break;
		case '>': g_string_append(o, "&gt;"); break;
		case '&': g_string_append(o, "&amp;"); break;
		case '"': g_string_append(o, "&quot;"); break;
		default:
			if (*p < 0x20 && *p != '\n' && *p != '\t')
				g_string_append_c(o, ' ');
			else
				g_string_append_c(o, (char)*p);
		}
	}
}

struct totals {
	uint32_t enabled[AU_CK_COUNT_], planned[AU_CK_COUNT_], applied[AU_CK_COUNT_];
	uint32_t combos[CB_COUNT_];
	uint32_t chains_planned, chains_applied;
	uint32_t ran[16], verdicts[V_COUNT_][16]; /* runs a check was on in; per verdict */
	uint32_t order[16]; /* check names sorted */
};

static gint name_cmp(gconstpointer a, gconstpointer b, gpointer names)
{
	char **n = names;
	return strcmp(n[*(const uint32_t *)a], n[*(const uint32_t *)b]);
}

static void tally(const struct sweep *S, struct totals *T)
{
	memset(T, 0, sizeof(*T));
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		for (int k = 0; k < AU_CK_COUNT_; k++) {
			T->enabled[k] += (r->enabled >> k) & 1u;
			T->planned[k] += (r->planned >> k) & 1u;
			T->applied[k] += (r->applied >> k) & 1u;
		}
		for (int c = 0; c < CB_COUNT_; c++)
			T->combos[c] += (r->combos >> c) & 1u;
		T->chains_planned += r->chains_planned;
		T->chains_applied += r->chains_applied;
		for (uint32_t c = 0; c < S->R->n_check_names; c++)
			for (int v = 0; v < V_COUNT_; v++) {
				T->ran[c] += (r->checks[v] >> c) & 1u;
				T->verdicts[v][c] += (r->checks[v] >> c) & 1u;
			}
	}
	for (uint32_t c = 0; c < 16; c++)
		T->order[c] = c;
	g_qsort_with_data(T->order, (gint)S->R->n_check_names, sizeof(uint32_t), name_cmp,
			  S->R->check_names);
}

static void print_coverage(const struct sweep *S, const struct totals *T, uint32_t kinds_allowed)
{
	printf("coverage over %u runs (blind spots marked <-- never)\n", S->n);
	printf("  %-18s %8s %8s %8s\n", "fault kind", "enabled", "planned", "applied");
	for (int k = 0; k < AU_CK_COUNT_; k++) {
		if (!(kinds_allowed & (1u << k)))
			continue;
		printf("  %-18s %8u %8u %8u%s\n", au_chaos_kind_name((enum au_chaos_kind)k), T->enabled[k],
		       T->planned[k], T->applied[k], T->applied[k] ? "" : "  <-- never");
	}
	/* Correlated chains ([chaos] correlated): on in every run where the
	 * chance is above 0, planned where a plan holds one, applied where one
	 * of its follow-up crashes was. */
	if (S->R->sc->chaos->correlated > 0)
		printf("  %-18s %8u %8u %8u%s\n", "correlated", S->n, T->chains_planned,
		       T->chains_applied, T->chains_applied ? "" : "  <-- never");
	printf("  %-48s %8s\n", "situation", "runs");
	for (int c = 0; c < CB_COUNT_; c++)
		if (au_chaos_combo_listed(S->R->sc, c))
			printf("  %-48s %8u%s\n", au_chaos_combo_names[c], T->combos[c],
			       T->combos[c] ? "" : "  <-- never");
	/* ran: runs the check was on in; not run: its judgement never came
	 * (mostly: another check stopped the run first); unknown: it could not
	 * decide (linearizable_kv's search budget). */
	if (S->R->n_check_names == 0)
		printf("  (no checker runs for these services)\n");
	else
		printf("  %-24s %8s %8s %8s %8s\n", "check", "ran", "failed", "not run", "unknown");
	for (uint32_t i = 0; i < S->R->n_check_names; i++) {
		uint32_t c = T->order[i];
		printf("  %-24s %8u %8u %8u %8u\n", S->R->check_names[c], T->ran[c],
		       T->verdicts[V_FAIL][c], T->verdicts[V_NOT_RUN][c], T->verdicts[V_UNKNOWN][c]);
	}
}

/* Skipped test cases "seed N: CHECK", one per check of the run that reached
 * no verdict, so CI tools show what a run did not judge; returns how many. */
static uint32_t junit_no_verdict(const struct sweep *S, const struct seed_rec *r, GString *o)
{
	uint32_t n = 0;
	const struct result *res = r->full;
	for (uint32_t i = 0; res && i < res->n_checks && i < MAX_CHECKS; i++) {
		if (res->check_verdict[i] != V_NOT_RUN && res->check_verdict[i] != V_UNKNOWN)
			continue;
		n++;
		if (!o)
			continue;
		g_string_append(o, "    <testcase classname=\"chaos.");
		xml_str(o, S->R->sc->name);
		g_string_append_printf(o, "\" name=\"seed %" G_GUINT64_FORMAT ": ", r->seed);
		xml_str(o, res->check_names[i]);
		g_autofree char *msg = g_strdup_printf("%s: %s", au_chaos_verdict_names[res->check_verdict[i]],
						       res->check_reason[i]);
		g_string_append(o, "\">\n      <skipped message=\"");
		xml_str(o, msg);
		g_string_append(o, "\"/>\n    </testcase>\n");
	}
	return n;
}

/* `"checks": {name: verdict}, "check_reasons": {name: why}` of one run, as
 * `aureon-sim run --json` prints them. */
static void json_checks(GString *o, const struct result *res)
{
	g_string_append(o, "\"checks\": {");
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		g_string_append(o, i ? ", " : "");
		au_report_json_string(o, res->check_names[i]);
		g_string_append_printf(o, ": \"%s\"", au_chaos_verdict_names[res->check_verdict[i]]);
	}
	g_string_append(o, "}, \"check_reasons\": {");
	bool first = true;
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		if (res->check_verdict[i] != V_NOT_RUN && res->check_verdict[i] != V_UNKNOWN)
			continue;
		g_string_append(o, first ? "" : ", ");
		au_report_json_string(o, res->check_names[i]);
		g_string_append(o, ": ");
		au_report_json_string(o, res->check_reason[i]);
		first = false;
	}
	g_string_append(o, "}");
}

/* "chaos NAME", and " shard K/N" when the list is split, so each shard's
 * suite has its own name in CI (caller frees). */
static char *suite_name(const struct sweep *S)
{
	if (S->shard_n > 1)
		return g_strdup_printf("chaos %s shard %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
				       S->R->sc->name, S->shard_k, S->shard_n);
	return g_strdup_printf("chaos %s", S->R->sc->name);
}

/* The text of `o` into `path`; false after saying why on stderr. */
static bool write_report(const char *flag, const char *path, const GString *o)
{
	GError *err = NULL;
	bool ok = g_file_set_contents(path, o->str, (gssize)o->len, &err);
	if (!ok) {
		fprintf(stderr, "aureon-sim chaos: %s %s\n", flag, err->message);
		g_error_free(err);
	}
	return ok;
}

bool au_chaos_write_tap(const struct sweep *S, const char *path)
{
	g_autofree char *suite = suite_name(S);
	GString *o = g_string_new("TAP version 13\n");
	if (S->n == 0)
		g_string_append_printf(o, "1..0 # SKIP %s: no seeds in this shard\n", suite);
	else
		g_string_append_printf(o, "1..%u\n# %s\n", S->n, suite);
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		const struct result *res = r->full;
		if (r->rc == 0 || !res) {
			g_string_append_printf(o, "ok %u - seed %" G_GUINT64_FORMAT "\n", i + 1, r->seed);
		} else {
			char t[40];
			au_report_seconds(res->out.t_ns, t, sizeof(t));
			g_autofree char *file = au_chaos_repro_path(S->R, r->seed, ".ini");
			/* YAML block: single-quoted scalars, quotes doubled */
			g_autofree char *detail = g_strdup(res->out.detail);
			g_strdelimit(detail, "\n\r", ' ');
			GString *q = g_string_new(NULL);
			for (const char *p = detail; *p; p++)
				g_string_append(q, *p == '\'' ? "''" : (char[]){*p, 0});
			g_string_append_printf(o, "not ok %u - seed %" G_GUINT64_FORMAT ": %s at t=%s\n"
					       "  ---\n  check: '%s'\n  t_ns: %" G_GINT64_FORMAT "\n"
					       "  node: %u\n  message: '%s'\n  reproducer: '%s'\n  ...\n",
					       i + 1, r->seed, res->out.check, t, res->out.check,
					       res->out.t_ns, res->out.node, q->str, file);
			g_string_free(q, TRUE);
		}
		for (uint32_t c = 0; res && c < res->n_checks && c < MAX_CHECKS; c++)
			if (res->check_verdict[c] == V_NOT_RUN || res->check_verdict[c] == V_UNKNOWN)
				g_string_append_printf(o, "# seed %" G_GUINT64_FORMAT ": %s %s (%s)\n", r->seed,
						       res->check_names[c],
						       au_chaos_verdict_names[res->check_verdict[c]],
						       res->check_reason[c]);
	}
	bool ok = write_report("--tap", path, o);
	g_string_free(o, TRUE);
	return ok;
}

bool au_chaos_write_junit(const struct sweep *S, const char *path, double wall)
{
	uint32_t skipped = 0;
	for (uint32_t i = 0; i < S->n; i++)
		skipped += junit_no_verdict(S, &S->recs[i], NULL);
	GString *o = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	g_autofree char *suite = suite_name(S);
	g_string_append(o, "  <testsuite name=\"");
	xml_str(o, suite);
	g_string_append_printf(o, "\" tests=\"%u\" failures=\"%u\" errors=\"0\" skipped=\"%u\" "
			       "time=\"%.3f\">\n", S->n + skipped, S->failed, skipped, wall);
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		g_string_append(o, "    <testcase classname=\"chaos.");
		xml_str(o, S->R->sc->name);
		g_string_append_printf(o, "\" name=\"seed %" G_GUINT64_FORMAT "\"", r->seed);
		if (r->rc == 0 || !r->full) {
			g_string_append(o, "/>\n");
			junit_no_verdict(S, r, o);
			continue;
		}
		const struct result *res = r->full;
		char t[40];
		au_report_seconds(res->out.t_ns, t, sizeof(t));
		g_autofree char *file = au_chaos_repro_path(S->R, r->seed, ".ini");
		g_autofree char *msg = g_strdup_printf("%s at t=%s", res->out.check, t);
		g_string_append(o, ">\n      <failure message=\"");
		xml_str(o, msg);
		g_string_append(o, "\">");
		g_autofree char *body = g_strdup_printf("%s\nreproducer: %s (aureon-sim run %s)\n",
							res->out.detail, file, file);
		xml_str(o, body);
		g_string_append(o, "</failure>\n    </testcase>\n");
		junit_no_verdict(S, r, o);
	}
	g_string_append(o, "  </testsuite>\n</testsuites>\n");
	bool ok = write_report("--junit", path, o);
	g_string_free(o, TRUE);
	return ok;
}

/* The fault kinds a sweep could plan: every supported one unrestricted,
 * else [chaos] kinds. */
static uint32_t kinds_swept(const struct au_scenario *sc)
{
	return sc->chaos->mode == AU_CHAOS_UNRESTRICTED ? au_chaos_supported_kinds(sc)
							: sc->chaos->kinds;
}

void au_chaos_report_json(const struct sweep *S)
{
	const struct runner *R = S->R;
	const struct au_scenario *sc = R->sc;
	struct totals T;
	tally(S, &T);
	uint32_t kinds_allowed = kinds_swept(sc);
	double per_min = S->wall_s > 0 ? S->n / S->wall_s * 60.0 : 0;
	GString *o = g_string_new("{\"scenario\": ");
	au_report_json_string(o, sc->name);
	g_string_append(o, ", \"path\": ");
	au_report_json_string(o, R->path);
	g_string_append_printf(o, ", \"mode\": \"%s\", \"seeds_run\": %u, \"failed\": %u, \"jobs\": %u"
			       ", \"shard\": \"%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "\""
			       ", \"wall_s\": %.3f, \"seeds_per_minute\": %.1f"
			       ", \"cpu_s\": %.3f, \"cpu_ms_per_seed\": %.2f",
			       sc->chaos->mode == AU_CHAOS_UNRESTRICTED ? "unrestricted" : "swarm",
			       S->n, S->failed, S->jobs, S->shard_k, S->shard_n, S->wall_s, per_min,
			       S->cpu_s, S->n ? S->cpu_s * 1000.0 / S->n : 0.0);
	/* the seeds this run ran, in order (after dropping repeats, this
	 * shard's share) */
	g_string_append(o, ", \"seeds\": [");
	for (uint32_t i = 0; i < S->n; i++)
		g_string_append_printf(o, "%s%" G_GUINT64_FORMAT, i ? ", " : "", S->recs[i].seed);
	g_string_append(o, "]");
	g_string_append(o, ", \"failures_per_check\": {");
	GHashTable *per = g_hash_table_new(g_str_hash, g_str_equal);
	GPtrArray *order = g_ptr_array_new();
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		if (!r->full || r->rc == 0)
			continue;
		const char *c = r->full->out.check[0] ? r->full->out.check : "load_error";
		gpointer old = g_hash_table_lookup(per, c);
		if (!old)
			g_ptr_array_add(order, (gpointer)c);
		g_hash_table_insert(per, (gpointer)c, GUINT_TO_POINTER(GPOINTER_TO_UINT(old) + 1));
	}
	for (guint i = 0; i < order->len; i++) {
		const char *c = g_ptr_array_index(order, i);
		g_string_append(o, i ? ", " : "");
		au_report_json_string(o, c);
		g_string_append_printf(o, ": %u", GPOINTER_TO_UINT(g_hash_table_lookup(per, c)));
	}
	g_ptr_array_free(order, TRUE);
	g_hash_table_destroy(per);
	g_string_append(o, "}, \"failing_seeds\": [");
	bool first = true;
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		if (!r->full || r->rc == 0)
			continue;
		const struct result *res = r->full;
		g_autofree char *file = au_chaos_repro_path(R, r->seed, ".ini");
		g_string_append_printf(o, "%s{\"seed\": %" G_GUINT64_FORMAT ", \"check\": ",
				       first ? "" : ", ", r->seed);
		au_report_json_string(o, res->out.check);
		g_string_append_printf(o, ", \"t_ns\": %" G_GINT64_FORMAT ", \"node\": %u, \"record\": %"
				       G_GUINT64_FORMAT ", \"detail\": ", res->out.t_ns, res->out.node,
				       res->out.record);
		au_report_json_string(o, res->out.detail);
		g_string_append(o, ", \"violation\": ");
		if (res->out.viol.check[0])
			au_violation_json(o, &res->out.viol);
		else
			g_string_append(o, "null");
		g_string_append(o, ", \"trace_hash\": ");
		au_report_json_string(o, res->rc == 1 ? res->out.hash : "");
		g_string_append(o, ", \"reproducer\": ");
		au_report_json_string(o, file);
		g_string_append(o, ", ");
		json_checks(o, res);
		for (uint32_t s = 0; s < S->n_shrink; s++) {
			if (S->shrink_idx[s] != i)
				continue;
			const struct au_shrink_stats *st = &S->shrunk[s].shrink;
			g_string_append(o, ", \"shrunk\": ");
			if (S->shrunk[s].shrink_rc == 0) {
				g_string_append(o, "{\"file\": ");
				au_report_json_string(o, S->shrunk[s].message);
				g_string_append_printf(o, ", \"faults_before\": %u, \"faults_after\": %u, "
						       "\"duration_before_ns\": %" G_GINT64_FORMAT
						       ", \"duration_after_ns\": %" G_GINT64_FORMAT
						       ", \"nodes_before\": %u, \"nodes_after\": %u, "
						       "\"runs\": %u, \"wall_s\": %.3f, \"budget_hit\": %s, "
						       "\"t_ns\": %" G_GINT64_FORMAT ", \"trace_hash\": \"%s\"}",
						       st->faults_before, st->faults_after, st->duration_before,
						       st->duration_after, st->nodes_before, st->nodes_after,
						       st->runs, st->wall_s, st->budget_hit ? "true" : "false",
						       st->t_ns, st->hash);
			} else {
				g_string_append(o, "{\"error\": ");
				au_report_json_string(o, S->shrunk[s].message);
				g_string_append(o, "}");
			}
		}
		g_string_append(o, "}");
		first = false;
	}
	/* passing runs in which a check reached no verdict */
	g_string_append(o, "], \"no_verdict_seeds\": [");
	first = true;
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		if (!r->full || r->rc != 0)
			continue;
		g_string_append_printf(o, "%s{\"seed\": %" G_GUINT64_FORMAT ", ", first ? "" : ", ",
				       r->seed);
		json_checks(o, r->full);
		g_string_append(o, "}");
		first = false;
	}
	g_string_append(o, "], \"coverage\": {\"kinds\": {");
	first = true;
	for (int k = 0; k < AU_CK_COUNT_; k++) {
		if (!(kinds_allowed & (1u << k)))
			continue;
		g_string_append_printf(o, "%s\"%s\": {\"enabled\": %u, \"planned\": %u, \"applied\": %u}",
				       first ? "" : ", ", au_chaos_kind_name((enum au_chaos_kind)k),
				       T.enabled[k], T.planned[k], T.applied[k]);
		first = false;
	}
	g_string_append_printf(o, "}, \"correlated\": {\"chance\": %g, \"planned\": %u, "
			       "\"applied\": %u}", sc->chaos->correlated, T.chains_planned,
			       T.chains_applied);
	g_string_append(o, ", \"situations\": {");
	first = true;
	for (int c = 0; c < CB_COUNT_; c++) {
		if (!au_chaos_combo_listed(sc, c))
			continue;
		g_string_append(o, first ? "" : ", ");
		au_report_json_string(o, au_chaos_combo_names[c]);
		g_string_append_printf(o, ": %u", T.combos[c]);
		first = false;
	}
	g_string_append(o, "}, \"checks\": {");
	for (uint32_t i = 0; i < R->n_check_names; i++) {
		uint32_t c = T.order[i];
		g_string_append_printf(o, "%s\"%s\": {\"ran\": %u, \"failed\": %u, \"not_run\": %u, "
				       "\"unknown\": %u}", i ? ", " : "", R->check_names[c], T.ran[c],
				       T.verdicts[V_FAIL][c], T.verdicts[V_NOT_RUN][c],
				       T.verdicts[V_UNKNOWN][c]);
	}
	g_string_append_printf(o, "}}, \"determinism\": {\"sampled\": %u, \"mismatches\": %u, "
			       "\"report\": ", S->n_det, S->det_mismatch);
	au_report_json_string(o, S->det_report->str);
	g_string_append(o, "}}\n");
	fputs(o->str, stdout);
	g_string_free(o, TRUE);
}

void au_chaos_report_text(const struct sweep *S)
{
	const struct runner *R = S->R;
	const struct au_scenario *sc = R->sc;
	struct totals T;
	tally(S, &T);
	uint32_t kinds_allowed = kinds_swept(sc);
	double per_min = S->wall_s > 0 ? S->n / S->wall_s * 60.0 : 0;
	printf("chaos: %s: %u seeds in %.1f s (%u workers, %.0f seeds/min, %.1f ms CPU per seed): "
	       "%u passed, %u failed",
	       sc->name, S->n, S->wall_s, S->jobs, per_min, S->n ? S->cpu_s * 1000.0 / S->n : 0.0,
	       S->n - S->failed, S->failed);
	if (S->failed) {
		printf(" (");
		bool first = true;
		for (uint32_t i = 0; i < R->n_check_names; i++) {
			uint32_t c = T.order[i];
			if (T.verdicts[V_FAIL][c]) {
				printf("%s%s %u", first ? "" : ", ", R->check_names[c],
				       T.verdicts[V_FAIL][c]);
				first = false;
			}
		}
		uint32_t other = 0;
		for (uint32_t i = 0; i < S->n; i++)
			other += S->recs[i].rc >= 2;
		if (other)
			printf("%scrashed, timed out or did not load %u", first ? "" : ", ", other);
		printf(")");
	}
	uint32_t undecided = 0;
	for (uint32_t i = 0; i < S->n; i++)
		undecided += S->recs[i].rc == 0 && S->recs[i].full;
	if (undecided)
		printf("; %u passing run%s with a check that reached no verdict (NO VERDICT above)",
		       undecided, undecided > 1 ? "s" : "");
	printf("\n");
	if (S->det_pct > 0) {
		if (S->det_mismatch)
			printf("determinism: %u of %u re-run seeds gave a different trace hash:\n%s",
			       S->det_mismatch, S->n_det, S->det_report->str);
		else
			printf("determinism: %u seeds re-run (%.3g %%), every trace hash identical\n",
			       S->n_det, S->det_pct);
	}
	for (uint32_t s = 0; s < S->n_shrink; s++) {
		const struct au_shrink_stats *st = &S->shrunk[s].shrink;
		uint64_t seed = S->recs[S->shrink_idx[s]].seed;
		if (S->shrunk[s].shrink_rc != 0) {
			printf("shrink of seed %" G_GUINT64_FORMAT ": not done: %s\n", seed,
			       S->shrunk[s].message[0] ? S->shrunk[s].message : "the shrinking worker died");
			continue;
		}
		char d0[32], d1[32];
		au_format_duration(st->duration_before, d0, sizeof(d0));
		au_format_duration(st->duration_after, d1, sizeof(d1));
		printf("shrunk seed %" G_GUINT64_FORMAT ": %s — %u -> %u faults, %s -> %s, %u -> %u "
		       "nodes, clients %u -> %u, rate %u/s -> %u/s; %u runs, %.1f s%s\n",
		       seed, S->shrunk[s].message, st->faults_before, st->faults_after, d0, d1,
		       st->nodes_before, st->nodes_after, st->clients_before, st->clients_after,
		       st->rate_before, st->rate_after, st->runs, st->wall_s,
		       st->budget_hit ? " (time budget reached)" : "");
	}
	if (S->n)
		print_coverage(S, &T, kinds_allowed);
}

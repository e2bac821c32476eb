/* check.c — invariant checkers, driven by trace records.
 *
 * A checker sees every event record in order and may declare a violation,
 * which stops the run; some also judge at the end of the run (`end`).
 * Every checker whose service is running is on in every run (they are
 * cheap); [check] invariants names the ones a scenario relies on, and
 * naming one that does not exist or cannot run is an error at load time.
 *
 * This file holds the table of every checker (the families live in
 * check_raft.c, check_replicas.c, check_swim.c, check_rqml.c and
 * check_exec.c), ping_integrity and linearizable_kv, the engine's judge
 * that runs them, and the verdicts.
 *
 * Verdicts (check.h AU_VERDICT_*) never claim more than was checked: a
 * checker with an end-of-run judgement that did not run — a violation
 * stopped the run first — is "not run", with the reason; an end-of-run
 * judgement that cannot be made (a liveness window still open when the run
 * ended) is "not run", one that could not decide "unknown".  A checker
 * that judges each record as it comes keeps "pass" in a stopped run: it
 * held on every record it was given, up to the stop.
 *
 * ping_integrity: every pong the ping model accepts answers a ping that
 * node really sent, to that peer, and is accepted at most once — so the
 * model's handling of duplicated, corrupted and stale messages is checked,
 * not assumed.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check_exec.h"
#include "check_jobs.h"
#include "check_internal.h"
#include "check_raft.h"
#include "check_replicas.h"
#include "check_results.h"
#include "check_rqml.h"
#include "check_swim.h"
#include "kv.h"
#include "linearize.h"
#include "sim/engine/trace_h5.h"
#include "sim/report/report.h"
#include "sim/report/violation.h"

struct au_checker_ops {
	const char *name;
	const char *service; /* runs only when this service runs */
	void *(*create)(struct au_sim *sim);
	void (*event)(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		      int64_t b, int64_t c);
	/* The end-of-run judgement, or NULL for a checker that judges every
	 * record as it comes and has nothing left to say at the end. */
	void (*end)(void *st, struct au_sim *sim);
	void (*destroy)(void *st);
	/* Optional: rows of model trace tables, and one line of findings for
	 * the run summary. */
	void (*row)(void *st, struct au_sim *sim, au_node_id node, uint32_t service,
		    uint32_t table, const void *row);
	void (*note)(void *st, struct au_sim *sim, char *buf, size_t len);
	const char *about; /* one line for `aureon-sim list checks` */
	/* The kinds `event` reacts to (check_internal.h); NULL: every one. */
	const struct au_check_kinds *kinds;
};

/* ---- ping_integrity --------------------------------------------------- */

struct ping_integrity {
	GHashTable **sent; /* per node: seq -> peer, while unanswered */
	uint32_t nodes;
};

static void *pi_create(struct au_sim *sim)
{
	struct ping_integrity *pi = g_new0(struct ping_integrity, 1);
	pi->nodes = sim->nodes;
	pi->sent = g_new0(GHashTable *, (gsize)sim->nodes + 1);
	return pi;
}

static const struct au_check_kinds pi_kinds[] = {
	AU_CHECK_KIND(AU_TR_NODE_CRASH),
	{AU_TR_PING_SENT, AU_TR_PING_TIMEOUT},
	AU_CHECK_KINDS_END,
};

static void pi_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		     int64_t b, int64_t c)
{
	struct ping_integrity *pi = st;
	(void)c;
	if (node == 0 || node > pi->nodes)
		return;
	GHashTable **t = &pi->sent[node];
	switch (kind) {
	case AU_TR_PING_SENT:
		if (!*t)
			*t = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
		if (g_hash_table_contains(*t, &b)) {
			au_sim_violate(sim, "ping_integrity", node,
				       "n%u reused ping sequence %" G_GINT64_FORMAT, node, b);
			return;
		}
		g_hash_table_insert(*t, g_memdup2(&b, sizeof(b)), GINT_TO_POINTER((gint)a));
		break;
	case AU_TR_PING_RTT: {
		gpointer peer;
		if (!*t || !g_hash_table_lookup_extended(*t, &b, NULL, &peer)) {
			au_sim_violate(sim, "ping_integrity", node,
				       "n%u accepted a pong for ping %" G_GINT64_FORMAT
				       " that it never sent or already answered", node, b);
			return;
		}
		if (GPOINTER_TO_INT(peer) != a) {
			au_sim_violate(sim, "ping_integrity", node,
				       "n%u accepted a pong from n%" G_GINT64_FORMAT
				       " for ping %" G_GINT64_FORMAT " sent to n%d", node, a, b,
				       GPOINTER_TO_INT(peer));
			return;
		}
		g_hash_table_remove(*t, &b);
		break;
	}
	case AU_TR_PING_TIMEOUT:
		if (*t)
			g_hash_table_remove(*t, &b);
		break;
	case AU_TR_NODE_CRASH:
		/* The node's memory is gone; so is what it was waiting for. */
		if (*t)
			g_hash_table_remove_all(*t);
		break;
	default:
		break;
	}
}

static void pi_destroy(void *st)
{
	struct ping_integrity *pi = st;
	for (uint32_t n = 0; n <= pi->nodes; n++)
		if (pi->sent[n])
			g_hash_table_destroy(pi->sent[n]);
	g_free(pi->sent);
	g_free(pi);
}

/* ---- linearizable_kv --------------------------------------------------------
 * The KV clients' /history rows, checked in segments as the run goes and
 * the rest at its end (check_lin.c). */

static void *lin_create(struct au_sim *sim)
{
	return au_lin_check_new(sim, sim->sc->clients);
}

/* Nothing from events: rows (lin_row); its address marks the checker. */
static const struct au_check_kinds lin_kinds[] = {AU_CHECK_KINDS_END};

static void lin_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		      int64_t b, int64_t c)
{
	(void)st; (void)sim; (void)node; (void)kind; (void)a; (void)b; (void)c;
}

static void lin_row(void *st, const struct au_kv_history_row *row, uint64_t record,
		    au_node_id server)
{
	au_lin_check_row(st, row, record, server);
}

bool au_check_lin_window(const struct au_lin_result *res, struct au_violation *w)
{
	g_assert(res && w);
	memset(w, 0, sizeof(*w));
	const struct au_lin_entry *last = NULL;
	w->window_lo_ns = INT64_MAX;
	w->window_first_record = UINT64_MAX;
	for (size_t i = 0; i < res->n_window; i++) {
		const struct au_lin_entry *e = &res->window[i];
		if (e->id == UINT64_MAX)
			continue; /* the write a released segment left its successor */
		au_time end = e->outcome == AU_LIN_UNKNOWN ? e->call_ns : e->return_ns;
		if (e->call_ns < w->window_lo_ns)
			w->window_lo_ns = e->call_ns;
		if (!last || end > w->window_hi_ns || (end == w->window_hi_ns && e->id > last->id)) {
			w->window_hi_ns = end;
			last = e;
		}
		w->window_first_record = MIN(w->window_first_record, e->id);
		w->window_last_record = MAX(w->window_last_record, e->id);
	}
	if (!last)
		return false;
	w->has_window = true;
	w->window_ops = (uint32_t)res->n_window;
	w->t_ns = w->window_hi_ns;
	w->node = last->server;
	w->record = last->id;
	char window[2048];
	au_lin_format_window(res, window, sizeof(window));
	const char *lines = strchr(window, '\n'); /* the operation lines, not the headline */
	g_strlcpy(w->window_text, lines ? lines + 1 : "", sizeof(w->window_text));
	g_strchomp(w->window_text);
	return true;
}

/* A window of operations with no legal order, reported where it
 * happened (au_check_lin_window), also on stderr as before. */
void au_check_lin_report(struct au_sim *sim, const struct au_lin_result *res)
{
	struct au_violation w;
	bool placed = au_check_lin_window(res, &w);
	char window[2048];
	au_lin_format_window(res, window, sizeof(window));
	fprintf(stderr, "aureon-sim: linearizable_kv: %s\n", window);
	char lo[40], hi[40];
	au_report_seconds(placed ? w.window_lo_ns : 0, lo, sizeof(lo));
	au_report_seconds(placed ? w.window_hi_ns : 0, hi, sizeof(hi));
	au_sim_violate(sim, "linearizable_kv", w.node,
		       "key %" G_GINT64_FORMAT ": %zu operations with no legal order, called and "
		       "returned within [%s, %s] (records %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")",
		       res->key, res->n_window, lo, hi, placed ? w.window_first_record : 0,
		       w.window_last_record);
	if (placed)
		au_sim_violation_place(sim, w.t_ns, w.node, w.record, &w);
}

static void lin_end(void *st, struct au_sim *sim)
{
	(void)sim;
	au_lin_check_end(st);
}

static void lin_destroy(void *st)
{
	au_lin_check_free(st);
}

static const struct au_checker_ops all_checkers[] = {
	{"ping_integrity", "ping", pi_create, pi_event, NULL, pi_destroy, NULL, NULL,
	 "every ping reply answers a ping that was sent and is still unanswered",
	 pi_kinds},
	{"raft_safety", "raft", au_check_rs_create, au_check_rs_event, NULL, au_check_rs_destroy, NULL, au_check_rs_note,
	 "Raft's safety: one leader per term, logs match, committed entries never change",
	 au_check_rs_kinds},
	{"leader_within", "raft", au_check_lw_create, au_check_lw_event, au_check_lw_end, au_check_lw_destroy, NULL, NULL,
	 "liveness (leader_within:T): a Raft leader within T after the faults are over",
	 au_check_lw_kinds},
	{"replicas_caught_up", "raft", au_check_cu_create, au_check_cu_event, au_check_cu_end, au_check_cu_destroy, NULL, NULL,
	 "liveness (replicas_caught_up:T): every voter that is up applied, by the end, what was committed T before it",
	 au_check_cu_kinds},
	/* judged at every digest report: nothing left to judge at the end */
	{"replicas_agree", "raft", au_check_replicas_create, au_check_replicas_event,
	 NULL, au_check_replicas_destroy, NULL, au_check_replicas_note,
	 "replicas' state machine digests are equal at each 64th applied index",
	 au_check_replicas_kinds},
	{"linearizable_kv", "kv", lin_create, lin_event, lin_end, lin_destroy, NULL, au_lin_check_note,
	 "the KV clients' history is linearizable (Wing & Gong search per key, in released segments)",
	 lin_kinds},
	{"exactly_once_one", "one", au_eo_create, au_eo_event, NULL, au_eo_destroy, NULL, NULL,
	 "ONE stores each job's result once, every replica the same",
	 au_eo_kinds},
	{"results_match_reference", "rqml", au_rqml_ref_create, au_rqml_check_event, NULL,
	 au_rqml_check_destroy, NULL, NULL,
	 "every finished RQML job equals its sequential reference, bit for bit",
	 au_rqml_check_kinds},
	{"rounds_monotone", "rqml", au_rqml_mono_create, au_rqml_check_event, NULL,
	 au_rqml_check_destroy, NULL, NULL,
	 "RQML rounds of a job only move forward",
	 au_rqml_check_kinds},
	{"shards_once", "rqml", au_rqml_shards_create, au_rqml_check_event, NULL,
	 au_rqml_check_destroy, NULL, NULL,
	 "each shard of an RQML round is counted once",
	 au_rqml_check_kinds},
	{"jobs_recorded", "rqml", au_jr_create, au_jr_event, au_jr_end, au_jr_destroy, NULL, NULL,
	 "every finished RQML job has exactly one ONE record, saying what it did",
	 au_jr_kinds},
	{"results_retrievable", "blob", au_rr_create, au_rr_event, au_rr_end, au_rr_destroy, NULL, au_rr_note,
	 "every recorded job's result bytes are fetchable from a live holder with ONE's digest",
	 au_rr_kinds},
	{"swim_completeness", "swim", au_cswim_complete_create, au_cswim_event, au_cswim_end,
	 au_cswim_destroy, au_cswim_row, au_cswim_note,
	 "SWIM: every live member declares a crashed one dead within the bound",
	 NULL /* polls its deadlines on every record */},
	/* accuracy only counts (its note): nothing to judge at the end */
	{"swim_accuracy", "swim", au_cswim_accuracy_create, au_cswim_event, NULL,
	 au_cswim_destroy, au_cswim_row, au_cswim_note,
	 "SWIM: live members declared dead outside fault windows, at most swim_false_deaths_max",
	 au_cswim_accuracy_kinds},
	{"membership_converged", "swim", au_cswim_converge_create, au_cswim_event, au_cswim_end,
	 au_cswim_destroy, au_cswim_row, au_cswim_note,
	 "liveness (membership_converged:T): every live view matches the truth T after the faults",
	 NULL},
	/* the execution layer (check_exec.c) */
	{"no_task_lost", "aureon", au_check_ntl_create, au_check_exec_event, au_check_ntl_end,
	 au_check_exec_destroy, NULL, NULL,
	 "at the end every task enqueued is done or dead-lettered",
	 au_check_exec_kinds},
	{"exactly_once", "aureon", au_check_eo_create, au_check_exec_event, NULL,
	 au_check_exec_destroy, NULL, NULL,
	 "a task's result is accepted at most once, under its current lease's fencing token",
	 au_check_exec_kinds},
	{"lease_placement", "aureon", au_check_lp_create, au_check_exec_event, NULL,
	 au_check_exec_destroy, NULL, NULL,
	 "no lease granted to a node the queue knows dead or draining",
	 au_check_exec_kinds},
	{"lock_safety", "aureon", au_check_ls_create, au_check_exec_event, NULL,
	 au_check_exec_destroy, NULL, NULL,
	 "no lock key has two valid holders; writes only from the current holder",
	 au_check_exec_kinds},
	{"lease_expiry", "aureon", au_check_le_create, au_check_le_event, au_check_le_end,
	 au_check_le_destroy, NULL, au_check_le_note,
	 "leases and locks time out neither early nor (beyond a scan) late on the leader's clock",
	 au_check_le_kinds},
	{"job_lifecycle", "aureon", au_check_jobs_create, au_check_jobs_event, au_check_jobs_end,
	 au_check_jobs_destroy, NULL, au_check_jobs_note,
	 "a cancelled job never changes again, a failed one has a reason, done means every task acked",
	 au_check_jobs_kinds},
};

const char *const au_check_names[] = {"ping_integrity", "raft_safety", "replicas_agree",
				      "linearizable_kv",
				      "exactly_once_one", "results_match_reference", "rounds_monotone",
				      "shards_once", "jobs_recorded", "results_retrievable", "swim_completeness", "swim_accuracy",
				      "no_task_lost", "exactly_once", "lease_placement", "lock_safety",
				      "lease_expiry", "job_lifecycle", NULL};

size_t au_check_count(void)
{
	return G_N_ELEMENTS(all_checkers);
}

bool au_check_info(size_t i, const char **name, const char **service, const char **about)
{
	if (i >= G_N_ELEMENTS(all_checkers))
		return false;
	*name = all_checkers[i].name;
	*service = all_checkers[i].service;
	*about = all_checkers[i].about;
	return true;
}

void *au_check_state(struct au_sim *sim, const char *name)
{
	struct au_checks *cs = au_checks_of(sim);
	for (size_t i = 0; cs && i < cs->n_checkers; i++)
		if (strcmp(cs->checkers[i].ops->name, name) == 0)
			return cs->checkers[i].state;
	return NULL;
}

const char *au_check_service(const char *check)
{
	for (size_t i = 0; i < G_N_ELEMENTS(all_checkers); i++)
		if (strcmp(all_checkers[i].name, check) == 0)
			return all_checkers[i].service;
	return NULL;
}

static bool service_runs(const struct au_sim *sim, const char *name)
{
	return au_cluster_spec_runs(&sim->sc->cluster, name);
}

static bool wants_liveness(const struct au_sim *sim, const char *prefix)
{
	for (char **l = sim->sc->liveness; l && *l; l++)
		if (g_str_has_prefix(*l, prefix))
			return true;
	return false;
}

/* ---- the judge: the checkers of one run ---------------------------------- */

/* Kinds below this have their own slot in the dispatch table; every kind
 * at or above it shares the last one (only checkers of every kind). */
#define AU_CHECK_KIND_SLOTS 1024u
#define AU_X(name, num) _Static_assert((num) < AU_CHECK_KIND_SLOTS, "trace kind " #name);
AU_TRACE_KINDS(AU_X)
#undef AU_X

static bool dispatch_every;

void au_check_dispatch_every(bool on)
{
	dispatch_every = on;
}

static bool checker_wants(const struct au_checker_ops *ops, unsigned slot)
{
	if (!ops->kinds || dispatch_every)
		return true;
	if (slot >= AU_CHECK_KIND_SLOTS)
		return false;
	for (const struct au_check_kinds *r = ops->kinds; r->lo || r->hi; r++)
		if (slot >= r->lo && slot <= r->hi)
			return true;
	return false;
}

/* (Re)build the dispatch table for the run's checkers, in their order. */
static void build_dispatch(struct au_checks *cs)
{
	g_free(cs->by_kind);
	g_free(cs->by_kind_calls);
	size_t slots = AU_CHECK_KIND_SLOTS + 1, n = 0;
	cs->by_kind = g_new(uint16_t, slots + 1);
	uint8_t *which = g_new(uint8_t, slots * cs->n_checkers + 1);
	g_assert(cs->n_checkers <= UINT8_MAX && slots * cs->n_checkers <= UINT16_MAX);
	for (unsigned k = 0; k < slots; k++) {
		cs->by_kind[k] = (uint16_t)n;
		for (size_t i = 0; i < cs->n_checkers; i++)
			if (checker_wants(cs->checkers[i].ops, k))
				which[n++] = (uint8_t)i;
	}
	cs->by_kind[slots] = (uint16_t)n;
	cs->by_kind_calls = g_new(struct au_check_call, n + 1);
	for (size_t j = 0; j < n; j++)
		cs->by_kind_calls[j] = (struct au_check_call){cs->checkers[which[j]].ops->event,
							      cs->checkers[which[j]].state, which[j]};
	g_free(which);
}

static void *checks_start(struct au_sim *sim)
{
	struct au_checks *cs = g_new0(struct au_checks, 1);
	cs->checkers = g_new0(struct au_checker, G_N_ELEMENTS(all_checkers));
	for (size_t i = 0; i < G_N_ELEMENTS(all_checkers); i++) {
		const struct au_checker_ops *ops = &all_checkers[i];
		if (ops->service && !service_runs(sim, ops->service))
			continue;
		if (strcmp(ops->name, "leader_within") == 0 && !wants_liveness(sim, "leader_within:"))
			continue;
		if (strcmp(ops->name, "replicas_caught_up") == 0 &&
		    !wants_liveness(sim, "replicas_caught_up:"))
			continue;
		if (strcmp(ops->name, "membership_converged") == 0 &&
		    !wants_liveness(sim, "membership_converged:"))
			continue;
		struct au_checker *c = &cs->checkers[cs->n_checkers++];
		c->ops = ops;
		c->state = ops->create(sim);
		c->result = AU_VERDICT_PASS;
	}
	if (cs->n_checkers == 0) { /* nothing to judge: the engine skips the calls */
		g_free(cs->checkers);
		g_free(cs);
		return NULL;
	}
	/* The execution layer's checkers share one view of the queue. */
	void *exec[4];
	size_t n_exec = 0;
	for (size_t i = 0; i < cs->n_checkers; i++)
		if (cs->checkers[i].ops->event == au_check_exec_event) {
			g_assert(n_exec < G_N_ELEMENTS(exec));
			exec[n_exec++] = cs->checkers[i].state;
		}
	if (n_exec)
		au_check_exec_link(sim, exec, n_exec);
	build_dispatch(cs);
	return cs;
}

static void checks_event(void *st, struct au_sim *sim, uint64_t record, au_node_id node,
			 uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct au_checks *cs = st;
	unsigned slot = kind < AU_CHECK_KIND_SLOTS ? kind : AU_CHECK_KIND_SLOTS;
	const struct au_check_call *call = &cs->by_kind_calls[cs->by_kind[slot]];
	const struct au_check_call *end = &cs->by_kind_calls[cs->by_kind[slot + 1]];
	if (sim->violated)
		return;
	for (; call < end; call++) {
		call->event(call->state, sim, node, kind, a, b, c);
		if (G_UNLIKELY(sim->violated)) {
			cs->checkers[call->checker].result = AU_VERDICT_FAIL;
			sim->violation.record = record;
			return;
		}
	}
}

/* A model table row, for checkers that read tables (the KV history). */
static void checks_row(void *st, struct au_sim *sim, uint64_t record, au_node_id node,
		       uint32_t service, uint32_t table, const void *row)
{
	struct au_checks *cs = st;
	for (size_t i = 0; i < cs->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &cs->checkers[i];
		if (!ck->ops->row)
			continue;
		ck->ops->row(ck->state, sim, node, service, table, row);
		if (sim->violated) {
			ck->result = AU_VERDICT_FAIL;
			sim->violation.record = record;
		}
	}
	if (sim->sc->cluster.services[service] != &au_kv_model || table != 0)
		return;
	for (size_t i = 0; i < cs->n_checkers; i++)
		if (cs->checkers[i].ops->event == lin_event)
			lin_row(cs->checkers[i].state, row, record, au_sim_delivering_from(sim));
}

static void checks_end(void *st, struct au_sim *sim)
{
	struct au_checks *cs = st;
	/* After a violation no end-of-run judgement is made (the run stopped
	 * there, or an earlier checker's end judgement failed): those checkers
	 * stay "not run", and au_check_reason says why. */
	cs->ending = true;
	for (size_t i = 0; i < cs->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &cs->checkers[i];
		if (!ck->ops->end)
			continue;
		cs->judging = ck;
		ck->ops->end(ck->state, sim);
		cs->judging = NULL;
		ck->ended = true;
		if (sim->violated) {
			ck->result = AU_VERDICT_FAIL;
			cs->violated_at_end = true;
		}
	}
	cs->ending = false;
}

static void checks_free(void *st)
{
	struct au_checks *cs = st;
	for (size_t i = 0; i < cs->n_checkers; i++)
		cs->checkers[i].ops->destroy(cs->checkers[i].state);
	g_free(cs->checkers);
	g_free(cs->by_kind);
	g_free(cs->by_kind_calls);
	g_free(cs);
}

const struct au_sim_judge au_check_judge = {checks_start, checks_event, checks_row, checks_end,
					     checks_free};

void au_check_no_verdict(struct au_sim *sim, const char *verdict, const char *fmt, ...)
{
	struct au_checks *cs = au_checks_of(sim);
	struct au_checker *ck = cs ? cs->judging : NULL;
	g_assert(ck && cs->ending);
	g_assert(strcmp(verdict, AU_VERDICT_NOT_RUN) == 0 || strcmp(verdict, AU_VERDICT_UNKNOWN) == 0);
	if (!ck || sim->violated)
		return;
	ck->result = strcmp(verdict, AU_VERDICT_NOT_RUN) == 0 ? AU_VERDICT_NOT_RUN : AU_VERDICT_UNKNOWN;
	va_list ap;
	va_start(ap, fmt);
	g_vsnprintf(ck->reason, sizeof(ck->reason), fmt, ap);
	va_end(ap);
}

void au_check_format_time(au_time t, char *buf, size_t len)
{
	/* Seconds with the fraction's trailing zeros dropped: 1.86s, 30s. */
	char frac[16];
	g_snprintf(frac, sizeof(frac), "%09" G_GINT64_FORMAT, t % AU_NS_PER_S);
	size_t n = strlen(frac);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	g_snprintf(buf, len, "%" G_GINT64_FORMAT "%s%ss", t / AU_NS_PER_S, n ? "." : "", frac);
}

void au_check_set_lin_budget(struct au_sim *sim, uint64_t configurations)
{
	struct au_checks *cs = au_checks_of(sim);
	if (cs)
		cs->lin_budget = configurations;
}

bool au_check_leave_out(struct au_sim *sim, const char *name)
{
	struct au_checks *cs = au_checks_of(sim);
	for (size_t i = 0; cs && i < cs->n_checkers; i++) {
		if (strcmp(cs->checkers[i].ops->name, name) != 0)
			continue;
		assert(au_sim_stats(sim)->records == 0); /* before the run's first record */
		cs->checkers[i].ops->destroy(cs->checkers[i].state);
		memmove(&cs->checkers[i], &cs->checkers[i + 1], (cs->n_checkers - i - 1) * sizeof(cs->checkers[0]));
		cs->n_checkers--;
		build_dispatch(cs);
		return true;
	}
	return false;
}

/* ---- verdicts ------------------------------------------------------------ */

/* The checkers of a run: none when nothing judged it. */
static size_t n_checkers(const struct au_sim *sim)
{
	const struct au_checks *cs = au_checks_of(sim);
	return cs ? cs->n_checkers : 0;
}

static const struct au_checker *checker(const struct au_sim *sim, size_t i)
{
	return &au_checks_of(sim)->checkers[i];
}

bool au_check_note(struct au_sim *sim, size_t i, char *buf, size_t len)
{
	if (i >= n_checkers(sim) || !checker(sim, i)->ops->note || len == 0)
		return false;
	buf[0] = '\0';
	checker(sim, i)->ops->note(checker(sim, i)->state, sim, buf, len);
	return buf[0] != '\0';
}

/* A check's verdict: what it was judged, else "not run" if it has an
 * end-of-run judgement that never ran. */
static const char *verdict_of(const struct au_checker *ck)
{
	if (strcmp(ck->result, AU_VERDICT_PASS) != 0)
		return ck->result;
	return ck->ops->end && !ck->ended ? AU_VERDICT_NOT_RUN : AU_VERDICT_PASS;
}

size_t au_check_results(const struct au_sim *sim, const char **names, const char **results,
			size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < n_checkers(sim) && n < max; i++, n++) {
		names[n] = checker(sim, i)->ops->name;
		results[n] = verdict_of(checker(sim, i));
	}
	return n;
}

char *au_check_undecided(const char *const *names, const char *const *results, size_t n)
{
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < n; i++)
		if (strcmp(results[i], AU_VERDICT_PASS) != 0 && strcmp(results[i], AU_VERDICT_FAIL) != 0)
			g_string_append_printf(s, "%s%s %s", s->len ? ", " : "", names[i], results[i]);
	return g_string_free(s, s->len == 0);
}

bool au_check_reason(const struct au_sim *sim, size_t i, char *buf, size_t len)
{
	if (i >= n_checkers(sim) || len == 0)
		return false;
	const struct au_checker *ck = checker(sim, i);
	const char *verdict = verdict_of(ck);
	if (strcmp(verdict, AU_VERDICT_PASS) == 0 || strcmp(verdict, AU_VERDICT_FAIL) == 0)
		return false;
	if (ck->reason[0]) { /* its own end-of-run judgement said why */
		g_strlcpy(buf, ck->reason, len);
		return true;
	}
	const struct au_violation *v = au_sim_violation(sim);
	char t[32];
	if (v && au_checks_of(sim)->violated_at_end) {
		g_snprintf(buf, len, "%s failed first at the end of the run", v->check);
	} else if (v) {
		au_check_format_time(v->t_ns, t, sizeof(t));
		g_snprintf(buf, len, "run stopped at t=%s by %s", t, v->check);
	} else {
		au_check_format_time(sim->now, t, sizeof(t));
		g_snprintf(buf, len, "the run was not finished (stopped at t=%s without au_sim_finish)", t);
	}
	return true;
}

char *au_check_text(const struct au_sim *sim)
{
	GString *o = g_string_new(NULL);
	for (size_t i = 0; i < n_checkers(sim); i++) {
		char why[256];
		g_string_append_printf(o, "%s%s %s", i ? ", " : "", checker(sim, i)->ops->name,
				       verdict_of(checker(sim, i)));
		if (au_check_reason(sim, i, why, sizeof(why)))
			g_string_append_printf(o, " (%s)", why);
	}
	return g_string_free(o, FALSE);
}

char *au_check_json(const struct au_sim *sim)
{
	GString *o = g_string_new("\"checks\": {");
	for (size_t i = 0; i < n_checkers(sim); i++) {
		g_string_append(o, i ? ", " : "");
		au_report_json_string(o, checker(sim, i)->ops->name);
		g_string_append(o, ": ");
		au_report_json_string(o, verdict_of(checker(sim, i)));
	}
	g_string_append(o, "}, \"check_reasons\": {");
	bool first = true;
	for (size_t i = 0; i < n_checkers(sim); i++) {
		char why[256];
		if (!au_check_reason(sim, i, why, sizeof(why)))
			continue;
		g_string_append(o, first ? "" : ", ");
		au_report_json_string(o, checker(sim, i)->ops->name);
		g_string_append(o, ": ");
		au_report_json_string(o, why);
		first = false;
	}
	g_string_append(o, "}");
	return g_string_free(o, FALSE);
}

void au_check_h5_verdict(struct au_h5 *h5, struct au_sim *sim)
{
	const struct au_violation *v = au_sim_violation(sim);
	g_autofree char *checks = au_check_json(sim);
	g_autofree char *obj = g_strdup_printf("{%s}", checks);
	g_autofree char *line = v ? au_violation_line(v) : g_strdup("");
	au_h5_set_verdict(h5, v ? "fail" : "pass", obj, line);
	if (v) {
		GString *vj = g_string_new(NULL);
		au_violation_json(vj, v);
		au_h5_set_violation_json(h5, vj->str);
		g_string_free(vj, TRUE);
	}
}

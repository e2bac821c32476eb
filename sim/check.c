/* check.c — invariant checkers, driven by trace records.
 *
 * A checker sees every event record in order and may declare a violation,
 * which stops the run; some also judge at the end of the run (`end`).
 * Every checker whose service is running is on in every run (they are
 * cheap); [check] invariants names the ones a scenario relies on, and
 * naming one that does not exist or cannot run is an error at load time.
 *
 * Verdicts (sim.h AU_VERDICT_*) never claim more than was checked: a
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
#include <stdarg.h>
#include <string.h>

#include "sim_internal.h"

#include <stdio.h>

#include "kv.h"
#include "check_exec.h"
#include "check_replicas.h"
#include "check_rqml.h"
#include "check_swim.h"
#include "cli.h"
#include "linearize.h"

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

/* ---- raft_safety --------------------------------------------------------
 *
 * Driven by Raft's traces, each carrying the "chain" (a hash of the log
 * prefix ending at an entry), so logs can be compared without copying them:
 *   Election Safety   at most one leader per term, ever;
 *   Log Matching      one chain per (index, term) across all nodes;
 *   Leader Append-Only a leader never truncates its log;
 *   Leader Completeness a new leader holds every committed entry;
 *   State Machine Safety every node applies, at each index, the committed
 *                     entry — and only committed ones;
 *   committed never lost: no node truncates below its commit index, a
 *                     follower never commits past what a leader committed,
 *                     and a restarted node recovers only entries it had.
 */

struct node_view {
	GArray *chain;        /* uint64 per index (0: unknown, e.g. inside a snapshot) */
	uint64_t commit;
	int role;
	int64_t term;
};

struct raft_safety {
	uint32_t nodes;
	struct node_view *v;  /* [nodes+1] */
	GHashTable *leaders;  /* term -> node */
	GArray *first_seen;   /* struct index_term per index: the first (term, chain) seen there */
	GHashTable *terms;    /* (index, term) -> chain for every other term seen at an index */
	GArray *committed;    /* uint64 chain per committed index; [0] unused */
	GArray *commit_term;  /* uint64 per committed index: term of the leader that committed it */
};

struct index_term {
	uint64_t term; /* 0: no entry seen at this index yet */
	uint64_t chain;
};

/* Log Matching bookkeeping: the chain of entry (index, term), or NULL if
 * no node has had that entry yet.  Most indexes only ever see one term, so
 * it lives in a flat array; other terms go to a hash table. */
static uint64_t *rs_known_chain(struct raft_safety *rs, uint64_t idx, uint64_t term, uint64_t chain,
				bool *inserted)
{
	*inserted = false;
	if (rs->first_seen->len <= idx)
		g_array_set_size(rs->first_seen, (guint)idx + 1);
	struct index_term *f = &g_array_index(rs->first_seen, struct index_term, idx);
	if (f->term == 0) {
		f->term = term;
		f->chain = chain;
		*inserted = true;
		return &f->chain;
	}
	if (f->term == term)
		return &f->chain;
	uint64_t key[2] = {idx, term};
	GBytes *k = g_bytes_new(key, sizeof(key));
	uint64_t *known = g_hash_table_lookup(rs->terms, k);
	if (known) {
		g_bytes_unref(k);
		return known;
	}
	known = g_memdup2(&chain, sizeof(chain));
	g_hash_table_insert(rs->terms, k, known);
	*inserted = true;
	return known;
}

static void *rs_create(struct au_sim *sim)
{
	struct raft_safety *rs = g_new0(struct raft_safety, 1);
	rs->nodes = sim->nodes;
	rs->v = g_new0(struct node_view, (gsize)sim->nodes + 1);
	for (uint32_t n = 0; n <= sim->nodes; n++) {
		rs->v[n].chain = g_array_new(FALSE, TRUE, sizeof(uint64_t));
		g_array_set_size(rs->v[n].chain, 1);
	}
	rs->leaders = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	rs->terms = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
					  g_free);
	rs->first_seen = g_array_new(FALSE, TRUE, sizeof(struct index_term));
	rs->committed = g_array_new(FALSE, TRUE, sizeof(uint64_t));
	g_array_set_size(rs->committed, 1);
	rs->commit_term = g_array_new(FALSE, TRUE, sizeof(uint64_t));
	g_array_set_size(rs->commit_term, 1);
	return rs;
}

static uint64_t view_at(const struct node_view *v, uint64_t i)
{
	return i < v->chain->len ? g_array_index(v->chain, uint64_t, i) : 0;
}

static uint64_t committed_at(const struct raft_safety *rs, uint64_t i)
{
	return i < rs->committed->len ? g_array_index(rs->committed, uint64_t, i) : 0;
}

static void view_set(struct node_view *v, uint64_t i, uint64_t chain)
{
	if (v->chain->len <= i)
		g_array_set_size(v->chain, (guint)i + 1);
	g_array_index(v->chain, uint64_t, i) = chain;
}

static void rs_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		     int64_t b, int64_t c)
{
	struct raft_safety *rs = st;
	if (node == 0 || node > rs->nodes)
		return;
	struct node_view *v = &rs->v[node];
	uint64_t C = rs->committed->len - 1;
	switch (kind) {
	case AU_TR_RAFT_ROLE:
		v->role = (int)b;
		v->term = a;
		if (b != 3)
			break;
		{
			gpointer prev;
			if (g_hash_table_lookup_extended(rs->leaders, &a, NULL, &prev) &&
			    GPOINTER_TO_UINT(prev) != node) {
				au_sim_violate(sim, "raft_safety", node,
					       "election safety: n%u and n%u both led term %" G_GINT64_FORMAT,
					       GPOINTER_TO_UINT(prev), node, a);
				return;
			}
			g_hash_table_insert(rs->leaders, g_memdup2(&a, sizeof(a)), GUINT_TO_POINTER(node));
		}
		/* Leader Completeness: an entry committed by a leader of an earlier
		 * term is in the new leader's log.  Entries committed in this term
		 * or later need not be: a candidate paused after winning its votes
		 * may become leader of term T after a leader of T+1 committed more
		 * (its voters' logs were judged when they voted).  The newest
		 * such index suffices: the log below it matches by chain. */
		{
			uint64_t K = C;
			while (K > 0 && g_array_index(rs->commit_term, uint64_t, K) >= (uint64_t)a)
				K--;
			if (K > 0 && view_at(v, K) != 0 && view_at(v, K) != committed_at(rs, K))
				au_sim_violate(sim, "raft_safety", node,
					       "leader completeness: new leader of term %" G_GINT64_FORMAT
					       " lacks committed entry %" G_GUINT64_FORMAT, a, K);
			else if (K > 0 && v->chain->len <= K)
				au_sim_violate(sim, "raft_safety", node,
					       "leader completeness: new leader of term %" G_GINT64_FORMAT
					       " has %u entries, %" G_GUINT64_FORMAT " were committed in "
					       "earlier terms", a, v->chain->len - 1, K);
		}
		break;
	case AU_TR_RAFT_APPEND: {
		uint64_t idx = (uint64_t)a;
		if (v->chain->len > idx + 1)
			g_array_set_size(v->chain, (guint)idx + 1);
		view_set(v, idx, (uint64_t)c);
		bool inserted;
		uint64_t *known = rs_known_chain(rs, idx, (uint64_t)b, (uint64_t)c, &inserted);
		if (!inserted && *known != (uint64_t)c) {
			au_sim_violate(sim, "raft_safety", node,
				       "log matching: entry %" G_GINT64_FORMAT " of term %" G_GINT64_FORMAT
				       " differs from another node's, or follows a different prefix", a, b);
			return;
		}
		break;
	}
	case AU_TR_RAFT_TRUNCATE:
		if (v->role == 3)
			au_sim_violate(sim, "raft_safety", node,
				       "leader append-only: the leader truncated its log at %" G_GINT64_FORMAT, a);
		else if ((uint64_t)a <= v->commit)
			au_sim_violate(sim, "raft_safety", node,
				       "committed entry lost: truncation at %" G_GINT64_FORMAT
				       " below commit index %" G_GUINT64_FORMAT, a, v->commit);
		else if (v->chain->len > (uint64_t)a)
			g_array_set_size(v->chain, (guint)a);
		break;
	case AU_TR_RAFT_COMMIT: {
		uint64_t idx = (uint64_t)a;
		if (view_at(v, idx) && view_at(v, idx) != (uint64_t)c) {
			au_sim_violate(sim, "raft_safety", node, "commit of an entry not in its log");
			return;
		}
		if (v->role == 3) {
			if (C > 0 && C < idx && view_at(v, C) && view_at(v, C) != committed_at(rs, C)) {
				au_sim_violate(sim, "raft_safety", node,
					       "leader commits %" G_GUINT64_FORMAT " over a log that "
					       "differs at committed index %" G_GUINT64_FORMAT, idx, C);
				return;
			}
			for (uint64_t i = C + 1; i <= idx; i++) {
				uint64_t h = view_at(v, i);
				g_array_append_val(rs->committed, h);
				uint64_t t = (uint64_t)v->term;
				g_array_append_val(rs->commit_term, t);
			}
			if (idx > C)
				g_array_index(rs->committed, uint64_t, idx) = (uint64_t)c;
			else if (committed_at(rs, idx) && committed_at(rs, idx) != (uint64_t)c)
				au_sim_violate(sim, "raft_safety", node,
					       "state machine safety: index %" G_GUINT64_FORMAT
					       " committed twice with different entries", idx);
		} else if (idx > C) {
			au_sim_violate(sim, "raft_safety", node,
				       "follower commit index %" G_GUINT64_FORMAT " beyond any leader's "
				       "(%" G_GUINT64_FORMAT ")", idx, C);
			return;
		} else if (committed_at(rs, idx) && committed_at(rs, idx) != (uint64_t)c) {
			au_sim_violate(sim, "raft_safety", node,
				       "state machine safety: n%u committed a different entry at %"
				       G_GUINT64_FORMAT, node, idx);
			return;
		}
		v->commit = idx;
		break;
	}
	case AU_TR_RAFT_APPLY: {
		uint64_t idx = (uint64_t)a;
		if (idx > C)
			au_sim_violate(sim, "raft_safety", node,
				       "applied entry %" G_GUINT64_FORMAT " before it was committed", idx);
		else if (committed_at(rs, idx) && committed_at(rs, idx) != (uint64_t)c)
			au_sim_violate(sim, "raft_safety", node,
				       "state machine safety: applied a different entry at %" G_GUINT64_FORMAT,
				       idx);
		break;
	}
	case AU_TR_RAFT_INSTALL: {
		uint64_t idx = (uint64_t)a;
		if (idx > C || (committed_at(rs, idx) && committed_at(rs, idx) != (uint64_t)c)) {
			au_sim_violate(sim, "raft_safety", node,
				       "installed a snapshot at %" G_GUINT64_FORMAT " that is not the committed prefix",
				       idx);
			return;
		}
		if (view_at(v, idx) != (uint64_t)c) {
			g_array_set_size(v->chain, (guint)idx + 1);
			for (uint64_t i = 1; i < idx; i++)
				g_array_index(v->chain, uint64_t, i) = 0;
			view_set(v, idx, (uint64_t)c);
		}
		if (v->commit < idx)
			v->commit = idx;
		break;
	}
	case AU_TR_RAFT_RECOVER: {
		uint64_t last = (uint64_t)a;
		if (last > 0 && view_at(v, last) && view_at(v, last) != (uint64_t)c) {
			au_sim_violate(sim, "raft_safety", node,
				       "recovered a log ending at %" G_GUINT64_FORMAT " that it never had", last);
			return;
		}
		if (v->chain->len > last + 1)
			g_array_set_size(v->chain, (guint)last + 1);
		v->commit = (uint64_t)b;
		v->role = 0;
		break;
	}
	case AU_TR_NODE_CRASH:
		v->role = 0;
		break;
	default:
		break;
	}
}

static void rs_destroy(void *st)
{
	struct raft_safety *rs = st;
	for (uint32_t n = 0; n <= rs->nodes; n++)
		g_array_free(rs->v[n].chain, TRUE);
	g_free(rs->v);
	g_hash_table_destroy(rs->leaders);
	g_hash_table_destroy(rs->terms);
	g_array_free(rs->first_seen, TRUE);
	g_array_free(rs->committed, TRUE);
	g_array_free(rs->commit_term, TRUE);
	g_free(rs);
}

/* ---- leader_within (liveness) -------------------------------------------- */

struct liveness {
	au_time heal_ns, within_ns;
	bool met;
};

static void *lw_create(struct au_sim *sim)
{
	struct liveness *lw = g_new0(struct liveness, 1);
	lw->heal_ns = au_scenario_faults_over(sim->sc);
	for (char **l = sim->sc->liveness; l && *l; l++)
		if (g_str_has_prefix(*l, "leader_within:"))
			au_parse_duration(*l + strlen("leader_within:"), &lw->within_ns);
	return lw;
}

static void lw_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		     int64_t b, int64_t c)
{
	struct liveness *lw = st;
	(void)node;
	(void)a;
	(void)b;
	(void)c;
	/* A leader's commit after the faults are over: a leader exists and
	 * commands commit. */
	if (kind == AU_TR_RAFT_COMMIT && sim->leader == node && sim->now >= lw->heal_ns &&
	    sim->now <= lw->heal_ns + lw->within_ns)
		lw->met = true;
}

static void lw_end(void *st, struct au_sim *sim)
{
	struct liveness *lw = st;
	if (lw->met)
		return;
	if (sim->now < lw->heal_ns + lw->within_ns) {
		char now[32], closes[32];
		au_check_format_time(sim->now, now, sizeof(now));
		au_check_format_time(lw->heal_ns + lw->within_ns, closes, sizeof(closes));
		au_sim_no_verdict(sim, AU_VERDICT_NOT_RUN,
				  "the run ended at t=%s, before its window closed at t=%s", now, closes);
		return;
	}
	au_sim_violate(sim, "leader_within", 0,
		       "no leader committed anything within %" G_GINT64_FORMAT
		       " ns after the faults ended at %" G_GINT64_FORMAT " ns",
		       lw->within_ns, lw->heal_ns);
}

static void lw_destroy(void *st) { g_free(st); }

/* ---- replicas_caught_up (liveness) ------------------------------------------
 * A replica can stop making progress while the cluster works on without
 * it (a snapshot install that never completes, a repair that never ends,
 * a follower whose rejections are ignored): no safety check sees it, and
 * leader_within is met by the others.  replicas_caught_up:T asks that at
 * the end every voter that is up has applied at least what was committed
 * T before the end — judged only when the faults were over by then. */

struct caught_up {
	au_time heal_ns, within_ns, mark_ns; /* mark: end of the run minus T */
	uint64_t committed_at_mark;          /* highest commit index traced by mark */
	uint64_t *applied;                   /* [nodes + 1] */
	bool *out_of_service;                /* [nodes + 1]: RAFT_DISK_FAILED, no OK since */
	uint64_t *voters;                    /* [nodes + 1]: the configuration each node has in effect */
};

static void *cu_create(struct au_sim *sim)
{
	struct caught_up *cu = g_new0(struct caught_up, 1);
	cu->heal_ns = au_scenario_faults_over(sim->sc);
	for (char **l = sim->sc->liveness; l && *l; l++)
		if (g_str_has_prefix(*l, "replicas_caught_up:"))
			au_parse_duration(*l + strlen("replicas_caught_up:"), &cu->within_ns);
	cu->mark_ns = sim->sc->duration - cu->within_ns;
	cu->applied = g_new0(uint64_t, (gsize)sim->nodes + 1);
	cu->out_of_service = g_new0(bool, (gsize)sim->nodes + 1);
	cu->voters = g_new0(uint64_t, (gsize)sim->nodes + 1);
	return cu;
}

static void cu_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		     int64_t b, int64_t c)
{
	struct caught_up *cu = st;
	(void)c;
	if (node == 0 || node > sim->nodes)
		return;
	switch (kind) {
	case AU_TR_RAFT_COMMIT:
		if (sim->now <= cu->mark_ns && (uint64_t)a > cu->committed_at_mark)
			cu->committed_at_mark = (uint64_t)a;
		break;
	case AU_TR_RAFT_APPLY:
	case AU_TR_RAFT_INSTALL:
		cu->applied[node] = (uint64_t)a;
		break;
	case AU_TR_RAFT_RECOVER:
		cu->applied[node] = (uint64_t)b; /* the snapshot it boots from */
		cu->out_of_service[node] = false;
		break;
	case AU_TR_RAFT_DISK_FAILED:
		cu->out_of_service[node] = true;
		break;
	case AU_TR_RAFT_DISK_OK:
		cu->out_of_service[node] = false;
		break;
	case AU_TR_RAFT_CONFIG:
		/* in effect from now on (a truncation can bring an older one back) */
		cu->voters[node] = (uint64_t)b;
		break;
	default:
		break;
	}
}

static void cu_end(void *st, struct au_sim *sim)
{
	struct caught_up *cu = st;
	char mark[32], heal[32];
	au_check_format_time(cu->mark_ns, mark, sizeof(mark));
	au_check_format_time(cu->heal_ns, heal, sizeof(heal));
	if (sim->now < sim->sc->duration || cu->mark_ns < cu->heal_ns) {
		au_sim_no_verdict(sim, AU_VERDICT_NOT_RUN,
				  "the faults ended at t=%s, less than the window before the end of the run",
				  heal);
		return;
	}
	/* The voters are those of the configuration the leader has in effect. */
	if (sim->leader == 0 || sim->leader > sim->nodes) {
		au_sim_no_verdict(sim, AU_VERDICT_NOT_RUN, "no leader at the end to say who the voters are");
		return;
	}
	uint64_t voters = cu->voters[sim->leader];
	for (au_node_id n = 1; n <= sim->servers && n < 64; n++) {
		if (!(voters & (UINT64_C(1) << n)) || !sim->node[n].up || cu->out_of_service[n])
			continue;
		if (cu->applied[n] < cu->committed_at_mark) {
			au_sim_violate(sim, "replicas_caught_up", n,
				       "n%u applied index %" G_GUINT64_FORMAT " at the end, but index %"
				       G_GUINT64_FORMAT " was committed by t=%s (faults over at t=%s): "
				       "a replica that stopped catching up",
				       n, cu->applied[n], cu->committed_at_mark, mark, heal);
			return;
		}
	}
}

static void cu_destroy(void *st)
{
	struct caught_up *cu = st;
	g_free(cu->applied);
	g_free(cu->out_of_service);
	g_free(cu->voters);
	g_free(cu);
}

/* ---- linearizable_kv --------------------------------------------------------
 * The KV clients' /history rows, checked at the end of the run with the
 * Wing-Gong/Lowe search of linearize.c (unknown outcomes may or may not
 * have taken effect). */

#define LIN_BUDGET (UINT64_C(1) << 22) /* configurations per key; past it: gave up */

struct lin_state {
	struct au_lin_history *h;
	uint64_t ops;
};

static void *lin_create(struct au_sim *sim)
{
	(void)sim;
	struct lin_state *ls = g_new0(struct lin_state, 1);
	ls->h = au_lin_new();
	return ls;
}

static void lin_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		      int64_t b, int64_t c)
{
	(void)st; (void)sim; (void)node; (void)kind; (void)a; (void)b; (void)c;
}

static void lin_row(void *st, const struct au_kv_history_row *row, uint64_t record)
{
	struct lin_state *ls = st;
	struct au_lin_entry e = {0};
	e.client = row->client;
	e.op = row->op == AU_KV_GET ? AU_LIN_GET : row->op == AU_KV_PUT ? AU_LIN_PUT : AU_LIN_CAS;
	e.key = row->key;
	e.value = row->value;
	e.expected = row->expected;
	e.cas_ok = row->cas_ok;
	e.call_ns = row->call_ns;
	e.return_ns = row->outcome == AU_KV_UNKNOWN ? row->call_ns : row->return_ns;
	e.outcome = row->outcome == AU_KV_OK ? AU_LIN_OK
		    : row->outcome == AU_KV_FAIL ? AU_LIN_FAIL : AU_LIN_UNKNOWN;
	e.id = record;
	au_lin_add(ls->h, &e);
	ls->ops++;
}

static void lin_end(void *st, struct au_sim *sim)
{
	struct lin_state *ls = st;
	struct au_lin_result res;
	uint64_t budget = sim->lin_budget ? sim->lin_budget : LIN_BUDGET;
	au_lin_check(ls->h, budget, &res);
	if (res.gave_up && !res.linearizable) {
		/* Neither a proof nor a counterexample: saying pass would claim a
		 * search that did not finish. */
		fprintf(stderr, "aureon-sim: linearizable_kv: search budget exhausted on key %" G_GINT64_FORMAT
				"; no verdict\n", res.key);
		au_sim_no_verdict(sim, AU_VERDICT_UNKNOWN,
				  "search budget of %" G_GUINT64_FORMAT " configurations exhausted on key %"
				  G_GINT64_FORMAT " (history of %" G_GUINT64_FORMAT " operations)",
				  budget, res.key, ls->ops);
	} else if (!res.linearizable) {
		char window[2048];
		au_lin_format_window(&res, window, sizeof(window));
		fprintf(stderr, "aureon-sim: linearizable_kv: %s\n", window);
		au_sim_violate(sim, "linearizable_kv", 0,
			       "key %" G_GINT64_FORMAT ": %zu operations with no legal order (first "
			       "record %" G_GUINT64_FORMAT "); the window is printed on stderr",
			       res.key, res.n_window, res.n_window ? res.window[0].id : 0);
	}
	au_lin_result_free(&res);
}

static void lin_destroy(void *st)
{
	struct lin_state *ls = st;
	au_lin_free(ls->h);
	g_free(ls);
}

static const struct au_checker_ops all_checkers[] = {
	{"ping_integrity", "ping", pi_create, pi_event, NULL, pi_destroy, NULL, NULL},
	{"raft_safety", "raft", rs_create, rs_event, NULL, rs_destroy, NULL, NULL},
	{"leader_within", "raft", lw_create, lw_event, lw_end, lw_destroy, NULL, NULL},
	{"replicas_caught_up", "raft", cu_create, cu_event, cu_end, cu_destroy, NULL, NULL},
	/* judged at every digest report: nothing left to judge at the end */
	{"replicas_agree", "raft", au_check_replicas_create, au_check_replicas_event,
	 NULL, au_check_replicas_destroy, NULL, au_check_replicas_note},
	{"linearizable_kv", "kv", lin_create, lin_event, lin_end, lin_destroy, NULL, NULL},
	{"exactly_once_one", "one", au_eo_create, au_eo_event, NULL, au_eo_destroy, NULL, NULL},
	{"results_match_reference", "rqml", au_rqml_ref_create, au_rqml_check_event, NULL,
	 au_rqml_check_destroy, NULL, NULL},
	{"rounds_monotone", "rqml", au_rqml_mono_create, au_rqml_check_event, NULL,
	 au_rqml_check_destroy, NULL, NULL},
	{"shards_once", "rqml", au_rqml_shards_create, au_rqml_check_event, NULL,
	 au_rqml_check_destroy, NULL, NULL},
	{"jobs_recorded", "rqml", au_jr_create, au_jr_event, au_jr_end, au_jr_destroy, NULL, NULL},
	{"swim_completeness", "swim", au_cswim_complete_create, au_cswim_event, au_cswim_end,
	 au_cswim_destroy, au_cswim_row, au_cswim_note},
	/* accuracy only counts (its note): nothing to judge at the end */
	{"swim_accuracy", "swim", au_cswim_accuracy_create, au_cswim_event, NULL,
	 au_cswim_destroy, au_cswim_row, au_cswim_note},
	{"membership_converged", "swim", au_cswim_converge_create, au_cswim_event, au_cswim_end,
	 au_cswim_destroy, au_cswim_row, au_cswim_note},
	/* the execution layer (check_exec.c) */
	{"no_task_lost", "aureon", au_check_ntl_create, au_check_exec_event, au_check_ntl_end,
	 au_check_exec_destroy, NULL, NULL},
	{"exactly_once", "aureon", au_check_eo_create, au_check_exec_event, NULL,
	 au_check_exec_destroy, NULL, NULL},
	{"lease_placement", "aureon", au_check_lp_create, au_check_exec_event, NULL,
	 au_check_exec_destroy, NULL, NULL},
	{"lock_safety", "aureon", au_check_ls_create, au_check_exec_event, NULL,
	 au_check_exec_destroy, NULL, NULL},
	{"lease_expiry", "aureon", au_check_le_create, au_check_le_event, au_check_le_end,
	 au_check_le_destroy, NULL, au_check_le_note},
};

const char *const au_check_names[] = {"ping_integrity", "raft_safety", "replicas_agree",
				      "linearizable_kv",
				      "exactly_once_one", "results_match_reference", "rounds_monotone",
				      "shards_once", "jobs_recorded", "swim_completeness", "swim_accuracy",
				      "no_task_lost", "exactly_once", "lease_placement", "lock_safety",
				      "lease_expiry", NULL};

void au_check_row(struct au_sim *sim, au_node_id node, uint32_t service, uint32_t table,
		  const void *row, uint64_t record)
{
	for (size_t i = 0; i < sim->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &sim->checkers[i];
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
	for (size_t i = 0; i < sim->n_checkers; i++)
		if (sim->checkers[i].ops->event == lin_event)
			lin_row(sim->checkers[i].state, row, record);
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
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		if (strcmp(sim->sc->cluster.services[i]->name, name) == 0)
			return true;
	return false;
}

static bool wants_liveness(const struct au_sim *sim, const char *prefix)
{
	for (char **l = sim->sc->liveness; l && *l; l++)
		if (g_str_has_prefix(*l, prefix))
			return true;
	return false;
}

void au_check_init(struct au_sim *sim)
{
	sim->checkers = g_new0(struct au_checker, G_N_ELEMENTS(all_checkers));
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
		struct au_checker *c = &sim->checkers[sim->n_checkers++];
		c->ops = ops;
		c->state = ops->create(sim);
		c->result = AU_VERDICT_PASS;
	}
}

void au_check_event(struct au_sim *sim, uint64_t record, au_node_id node, uint16_t kind,
		    int64_t a, int64_t b, int64_t c)
{
	(void)record;
	for (size_t i = 0; i < sim->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &sim->checkers[i];
		ck->ops->event(ck->state, sim, node, kind, a, b, c);
		if (sim->violated) {
			ck->result = AU_VERDICT_FAIL;
			sim->violation.record = record;
		}
	}
}

void au_check_end(struct au_sim *sim)
{
	/* After a violation no end-of-run judgement is made (the run stopped
	 * there, or an earlier checker's end judgement failed): those checkers
	 * stay "not run", and au_sim_checks says why. */
	sim->ending = true;
	for (size_t i = 0; i < sim->n_checkers && !sim->violated; i++) {
		struct au_checker *ck = &sim->checkers[i];
		if (!ck->ops->end)
			continue;
		sim->judging = ck;
		ck->ops->end(ck->state, sim);
		sim->judging = NULL;
		ck->ended = true;
		if (sim->violated)
			ck->result = AU_VERDICT_FAIL;
	}
	sim->ending = false;
}

void au_sim_no_verdict(struct au_sim *sim, const char *verdict, const char *fmt, ...)
{
	struct au_checker *ck = sim->judging;
	g_assert(ck && sim->ending);
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

void au_check_free(struct au_sim *sim)
{
	for (size_t i = 0; i < sim->n_checkers; i++)
		sim->checkers[i].ops->destroy(sim->checkers[i].state);
	g_free(sim->checkers);
	sim->checkers = NULL;
	sim->n_checkers = 0;
}

void au_sim_set_lin_budget(struct au_sim *sim, uint64_t configurations)
{
	sim->lin_budget = configurations;
}

bool au_sim_check_note(struct au_sim *sim, size_t i, char *buf, size_t len)
{
	if (i >= sim->n_checkers || !sim->checkers[i].ops->note || len == 0)
		return false;
	buf[0] = '\0';
	sim->checkers[i].ops->note(sim->checkers[i].state, sim, buf, len);
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

size_t au_sim_checks(const struct au_sim *sim, const char **names, const char **results,
		     size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < sim->n_checkers && n < max; i++, n++) {
		names[n] = sim->checkers[i].ops->name;
		results[n] = verdict_of(&sim->checkers[i]);
	}
	return n;
}

bool au_sim_check_reason(const struct au_sim *sim, size_t i, char *buf, size_t len)
{
	if (i >= sim->n_checkers || len == 0)
		return false;
	const struct au_checker *ck = &sim->checkers[i];
	const char *verdict = verdict_of(ck);
	if (strcmp(verdict, AU_VERDICT_PASS) == 0 || strcmp(verdict, AU_VERDICT_FAIL) == 0)
		return false;
	if (ck->reason[0]) { /* its own end-of-run judgement said why */
		g_strlcpy(buf, ck->reason, len);
		return true;
	}
	const struct au_violation *v = au_sim_violation(sim);
	char t[32];
	if (v && sim->violated_at_end) {
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

char *au_sim_checks_text(const struct au_sim *sim)
{
	GString *o = g_string_new(NULL);
	for (size_t i = 0; i < sim->n_checkers; i++) {
		char why[256];
		g_string_append_printf(o, "%s%s %s", i ? ", " : "", sim->checkers[i].ops->name,
				       verdict_of(&sim->checkers[i]));
		if (au_sim_check_reason(sim, i, why, sizeof(why)))
			g_string_append_printf(o, " (%s)", why);
	}
	return g_string_free(o, FALSE);
}

char *au_sim_checks_json(const struct au_sim *sim)
{
	GString *o = g_string_new("\"checks\": {");
	for (size_t i = 0; i < sim->n_checkers; i++) {
		g_string_append(o, i ? ", " : "");
		au_cli_json_string(o, sim->checkers[i].ops->name);
		g_string_append(o, ": ");
		au_cli_json_string(o, verdict_of(&sim->checkers[i]));
	}
	g_string_append(o, "}, \"check_reasons\": {");
	bool first = true;
	for (size_t i = 0; i < sim->n_checkers; i++) {
		char why[256];
		if (!au_sim_check_reason(sim, i, why, sizeof(why)))
			continue;
		g_string_append(o, first ? "" : ", ");
		au_cli_json_string(o, sim->checkers[i].ops->name);
		g_string_append(o, ": ");
		au_cli_json_string(o, why);
		first = false;
	}
	g_string_append(o, "}");
	return g_string_free(o, FALSE);
}

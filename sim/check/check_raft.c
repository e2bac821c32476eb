/* check_raft.c — the Raft checkers: raft_safety (the safety properties of
 * the Raft paper, from the chains Raft traces) and the two liveness
 * windows leader_within and replicas_caught_up.  Registered in check.c's
 * table (check_raft.h).
 */
#include "check_raft.h"

#include <string.h>

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

void *au_check_rs_create(struct au_sim *sim)
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

void au_check_rs_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
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

void au_check_rs_destroy(void *st)
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

void *au_check_lw_create(struct au_sim *sim)
{
	struct liveness *lw = g_new0(struct liveness, 1);
	lw->heal_ns = au_scenario_faults_over(sim->sc);
	for (char **l = sim->sc->liveness; l && *l; l++)
		if (g_str_has_prefix(*l, "leader_within:"))
			au_parse_duration(*l + strlen("leader_within:"), &lw->within_ns);
	return lw;
}

void au_check_lw_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
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

void au_check_lw_end(void *st, struct au_sim *sim)
{
	struct liveness *lw = st;
	if (lw->met)
		return;
	if (sim->now < lw->heal_ns + lw->within_ns) {
		char now[32], closes[32];
		au_check_format_time(sim->now, now, sizeof(now));
		au_check_format_time(lw->heal_ns + lw->within_ns, closes, sizeof(closes));
		au_check_no_verdict(sim, AU_VERDICT_NOT_RUN,
				  "the run ended at t=%s, before its window closed at t=%s", now, closes);
		return;
	}
	au_sim_violate(sim, "leader_within", 0,
		       "no leader committed anything within %" G_GINT64_FORMAT
		       " ns after the faults ended at %" G_GINT64_FORMAT " ns",
		       lw->within_ns, lw->heal_ns);
}

void au_check_lw_destroy(void *st) { g_free(st); }

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

void *au_check_cu_create(struct au_sim *sim)
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

void au_check_cu_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
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

void au_check_cu_end(void *st, struct au_sim *sim)
{
	struct caught_up *cu = st;
	char mark[32], heal[32];
	au_check_format_time(cu->mark_ns, mark, sizeof(mark));
	au_check_format_time(cu->heal_ns, heal, sizeof(heal));
	if (sim->now < sim->sc->duration || cu->mark_ns < cu->heal_ns) {
		au_check_no_verdict(sim, AU_VERDICT_NOT_RUN,
				  "the faults ended at t=%s, less than the window before the end of the run",
				  heal);
		return;
	}
	/* The voters are those of the configuration the leader has in effect. */
	if (sim->leader == 0 || sim->leader > sim->nodes) {
		au_check_no_verdict(sim, AU_VERDICT_NOT_RUN, "no leader at the end to say who the voters are");
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

void au_check_cu_destroy(void *st)
{
	struct caught_up *cu = st;
	g_free(cu->applied);
	g_free(cu->out_of_service);
	g_free(cu->voters);
	g_free(cu);
}

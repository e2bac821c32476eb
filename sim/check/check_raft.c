/* check_raft.c — the Raft checkers: raft_safety (the safety properties of
 * the Raft paper, from the chains Raft traces) and the two liveness
 * windows leader_within and replicas_caught_up.  Registered in check.c's
 * table (check_raft.h).
 */
#include "check_raft.h"

#include <stdio.h>
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

/* Memory stays flat over long runs: every per-index array is a window
 * [off, len) of the log (struct warr), and the indexes below the window's
 * floor are released.  The floor is the lowest of the older of the last
 * two durable snapshots (RAFT_SNAPSHOT, RAFT_INSTALL) of every node that
 * has traced anything from Raft: a node recovers from one of its two snapshot slots
 * (the newer, or the older if the newer is unreadable) and from then on
 * only appends, commits, applies or recovers above it; a leader sends only
 * entries above its own snapshot, or that snapshot.  A node that never
 * took two snapshots holds the floor at 0 (nothing is released, as before).
 * An index below the floor reads as unknown (0), as an index inside an
 * installed snapshot always did: the checks there are skipped, and since
 * every chain covers its whole prefix, a difference below the floor still
 * shows in the first chain compared above it. */

struct warr {
	GArray *a;    /* uint64 for indexes [off, off + a->len) */
	uint64_t off; /* the first index kept */
	uint64_t len; /* the logical length: indexes [0, len) exist */
};

static void warr_init(struct warr *w, uint64_t len)
{
	w->a = g_array_new(FALSE, TRUE, sizeof(uint64_t));
	w->off = 0;
	w->len = 0;
	if (len) {
		w->len = len;
		g_array_set_size(w->a, (guint)len);
	}
}

/* Cut or extend (with zeros) to logical length n. */
static void warr_set_len(struct warr *w, uint64_t n)
{
	w->len = n;
	g_array_set_size(w->a, n > w->off ? (guint)(n - w->off) : 0);
}

static uint64_t warr_get(const struct warr *w, uint64_t i)
{
	return i >= w->off && i < w->len ? g_array_index(w->a, uint64_t, i - w->off) : 0;
}

static void warr_put(struct warr *w, uint64_t i, uint64_t x)
{
	if (i >= w->len)
		warr_set_len(w, i + 1);
	if (i >= w->off)
		g_array_index(w->a, uint64_t, i - w->off) = x;
}

/* Forget the indexes below floor (never moves the floor down). */
static void warr_release(struct warr *w, uint64_t floor)
{
	if (floor <= w->off)
		return;
	guint stored = w->a->len;
	uint64_t drop = floor - w->off;
	if (drop >= stored)
		g_array_set_size(w->a, 0);
	else
		g_array_remove_range(w->a, 0, (guint)drop);
	w->off = floor;
}

struct node_view {
	struct warr chain;    /* chain per index (0: unknown, e.g. inside a snapshot) */
	uint64_t commit;
	int role;
	int64_t term;
	bool seen;            /* traced anything from Raft yet */
	uint64_t snap[2];     /* the newest two durable snapshot indexes, newest first */
};

struct commit_run {
	uint64_t first; /* first committed index of the run */
	uint64_t term;  /* the term of the leader that committed it */
};

struct raft_safety {
	uint32_t nodes;
	struct node_view *v;  /* [nodes+1] */
	GHashTable *leaders;  /* term -> node */
	struct warr first_term, first_chain; /* per index: the first (term, chain) seen there (term 0: none) */
	GHashTable *terms;    /* (index, term) -> chain for every other term seen at an index */
	struct warr committed; /* chain per committed index; len - 1 is the highest committed */
	GArray *commit_runs;  /* struct commit_run: the committing leader's term, run-length */
	uint64_t floor;       /* indexes below it are released */
};

/* How far the floor must move before the windows are cut (amortizes the
 * moves of the kept part). */
#define RS_RELEASE_STEP 4096

/* Log Matching bookkeeping: whether another node had entry (index, term)
 * already, and then its chain in *known; if not, this chain is recorded
 * (nothing is, below the floor: released).  Most indexes only ever see one
 * term, so it lives in a flat window; other terms go to a hash table. */
static bool rs_known_chain(struct raft_safety *rs, uint64_t idx, uint64_t term, uint64_t chain,
			   uint64_t *known)
{
	if (idx < rs->floor)
		return false;
	uint64_t ft = warr_get(&rs->first_term, idx);
	if (ft == 0) {
		warr_put(&rs->first_term, idx, term);
		warr_put(&rs->first_chain, idx, chain);
		return false;
	}
	if (ft == term) {
		*known = warr_get(&rs->first_chain, idx);
		return true;
	}
	uint64_t key[2] = {idx, term};
	GBytes *k = g_bytes_new(key, sizeof(key));
	const uint64_t *other = g_hash_table_lookup(rs->terms, k);
	if (other) {
		g_bytes_unref(k);
		*known = *other;
		return true;
	}
	g_hash_table_insert(rs->terms, k, g_memdup2(&chain, sizeof(chain)));
	return false;
}

static gboolean rs_term_below(gpointer key, gpointer value, gpointer floor)
{
	(void)value;
	const uint64_t *k = g_bytes_get_data(key, NULL);
	return k[0] < *(const uint64_t *)floor;
}

/* Move the floor up to what every Raft node that traced anything is done
 * with (see above), and cut the windows when it moved far enough. */
static void rs_maybe_release(struct raft_safety *rs)
{
	uint64_t floor = UINT64_MAX;
	for (uint32_t n = 1; n <= rs->nodes; n++)
		if (rs->v[n].seen && rs->v[n].snap[1] < floor)
			floor = rs->v[n].snap[1];
	if (floor == UINT64_MAX || floor < rs->floor + RS_RELEASE_STEP)
		return;
	rs->floor = floor;
	for (uint32_t n = 1; n <= rs->nodes; n++)
		warr_release(&rs->v[n].chain, floor);
	warr_release(&rs->first_term, floor);
	warr_release(&rs->first_chain, floor);
	warr_release(&rs->committed, floor);
	g_hash_table_foreach_remove(rs->terms, rs_term_below, &rs->floor);
}

static void rs_snapshot_at(struct raft_safety *rs, struct node_view *v, uint64_t idx)
{
	if (idx <= v->snap[0])
		return;
	v->snap[1] = v->snap[0];
	v->snap[0] = idx;
	rs_maybe_release(rs);
}

void *au_check_rs_create(struct au_sim *sim)
{
	struct raft_safety *rs = g_new0(struct raft_safety, 1);
	rs->nodes = sim->nodes;
	rs->v = g_new0(struct node_view, (gsize)sim->nodes + 1);
	for (uint32_t n = 0; n <= sim->nodes; n++)
		warr_init(&rs->v[n].chain, 1);
	rs->leaders = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	rs->terms = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
					  g_free);
	warr_init(&rs->first_term, 0);
	warr_init(&rs->first_chain, 0);
	warr_init(&rs->committed, 1);
	rs->commit_runs = g_array_new(FALSE, FALSE, sizeof(struct commit_run));
	return rs;
}

static uint64_t view_at(const struct node_view *v, uint64_t i)
{
	return warr_get(&v->chain, i);
}

static uint64_t committed_at(const struct raft_safety *rs, uint64_t i)
{
	return warr_get(&rs->committed, i);
}

/* The highest committed index up to C committed by a leader of a term
 * before `term`, or 0. */
static uint64_t committed_before_term(const struct raft_safety *rs, uint64_t C, uint64_t term)
{
	for (guint r = rs->commit_runs->len; r-- > 0;) {
		const struct commit_run *run = &g_array_index(rs->commit_runs, struct commit_run, r);
		if (run->term < term)
			return r + 1 < rs->commit_runs->len
				       ? g_array_index(rs->commit_runs, struct commit_run, r + 1).first - 1
				       : C;
	}
	return 0;
}

const struct au_check_kinds au_check_rs_kinds[] = {
	{AU_TR_RAFT_ROLE, AU_TR_RAFT_DIGEST}, /* `seen` for all of them */
	AU_CHECK_KIND(AU_TR_NODE_CRASH),
	AU_CHECK_KINDS_END,
};

void au_check_rs_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c)
{
	struct raft_safety *rs = st;
	if (node == 0 || node > rs->nodes)
		return;
	struct node_view *v = &rs->v[node];
	if (kind >= AU_TR_RAFT_ROLE && kind <= AU_TR_RAFT_DIGEST)
		v->seen = true; /* a Raft node (clients trace other kinds) */
	uint64_t C = rs->committed.len - 1;
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
			uint64_t K = committed_before_term(rs, C, (uint64_t)a);
			if (K > 0 && view_at(v, K) != 0 && view_at(v, K) != committed_at(rs, K))
				au_sim_violate(sim, "raft_safety", node,
					       "leader completeness: new leader of term %" G_GINT64_FORMAT
					       " lacks committed entry %" G_GUINT64_FORMAT, a, K);
			else if (K > 0 && v->chain.len <= K)
				au_sim_violate(sim, "raft_safety", node,
					       "leader completeness: new leader of term %" G_GINT64_FORMAT
					       " has %" G_GUINT64_FORMAT " entries, %" G_GUINT64_FORMAT
					       " were committed in earlier terms", a, v->chain.len - 1, K);
		}
		break;
	case AU_TR_RAFT_APPEND: {
		uint64_t idx = (uint64_t)a;
		if (v->chain.len > idx + 1)
			warr_set_len(&v->chain, idx + 1);
		warr_put(&v->chain, idx, (uint64_t)c);
		uint64_t known;
		if (rs_known_chain(rs, idx, (uint64_t)b, (uint64_t)c, &known) && known != (uint64_t)c) {
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
		else if (v->chain.len > (uint64_t)a)
			warr_set_len(&v->chain, (uint64_t)a);
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
			if (idx > C) {
				for (uint64_t i = C + 1; i < idx; i++)
					warr_put(&rs->committed, i, view_at(v, i));
				warr_put(&rs->committed, idx, (uint64_t)c);
				uint64_t t = (uint64_t)v->term;
				guint nr = rs->commit_runs->len;
				if (nr == 0 || g_array_index(rs->commit_runs, struct commit_run, nr - 1).term != t) {
					struct commit_run run = {C + 1, t};
					g_array_append_val(rs->commit_runs, run);
				}
			} else if (committed_at(rs, idx) && committed_at(rs, idx) != (uint64_t)c)
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
	case AU_TR_RAFT_SNAPSHOT:
		rs_snapshot_at(rs, v, (uint64_t)a);
		break;
	case AU_TR_RAFT_INSTALL: {
		uint64_t idx = (uint64_t)a;
		if (idx > C || (committed_at(rs, idx) && committed_at(rs, idx) != (uint64_t)c)) {
			au_sim_violate(sim, "raft_safety", node,
				       "installed a snapshot at %" G_GUINT64_FORMAT " that is not the committed prefix",
				       idx);
			return;
		}
		if (view_at(v, idx) != (uint64_t)c) {
			warr_set_len(&v->chain, 0);
			warr_put(&v->chain, idx, (uint64_t)c);
		}
		if (v->commit < idx)
			v->commit = idx;
		rs_snapshot_at(rs, v, idx);
		break;
	}
	case AU_TR_RAFT_RECOVER: {
		uint64_t last = (uint64_t)a;
		if (last > 0 && view_at(v, last) && view_at(v, last) != (uint64_t)c) {
			au_sim_violate(sim, "raft_safety", node,
				       "recovered a log ending at %" G_GUINT64_FORMAT " that it never had", last);
			return;
		}
		if (v->chain.len > last + 1)
			warr_set_len(&v->chain, last + 1);
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
		g_array_free(rs->v[n].chain.a, TRUE);
	g_free(rs->v);
	g_hash_table_destroy(rs->leaders);
	g_hash_table_destroy(rs->terms);
	g_array_free(rs->first_term.a, TRUE);
	g_array_free(rs->first_chain.a, TRUE);
	g_array_free(rs->committed.a, TRUE);
	g_array_free(rs->commit_runs, TRUE);
	g_free(rs);
}

void au_check_rs_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	const struct raft_safety *rs = st;
	(void)sim;
	if (rs->floor == 0)
		return; /* nothing released: no note */
	uint64_t kept = rs->first_term.len > rs->floor ? rs->first_term.len - rs->floor : 0;
	snprintf(buf, len, "log indexes below %" G_GUINT64_FORMAT " released (every Raft node "
		 "has two durable snapshots above), %" G_GUINT64_FORMAT " kept", rs->floor, kept);
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

const struct au_check_kinds au_check_lw_kinds[] = {
	AU_CHECK_KIND(AU_TR_RAFT_COMMIT),
	AU_CHECK_KINDS_END,
};

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

const struct au_check_kinds au_check_cu_kinds[] = {
	{AU_TR_RAFT_COMMIT, AU_TR_RAFT_APPLY},
	{AU_TR_RAFT_INSTALL, AU_TR_RAFT_CONFIG},
	{AU_TR_RAFT_DISK_FAILED, AU_TR_RAFT_DISK_OK},
	AU_CHECK_KINDS_END,
};

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

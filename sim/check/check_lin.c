/* check_lin.c — linearizable_kv: the KV clients' /history rows judged by
 * the Wing-Gong/Lowe search of linearize.c, in segments released as the
 * run goes (issue 17), so memory follows the operations still open, not
 * the whole history (raft-hour: 3.3 million operations).
 *
 * Per key, a finished prefix of the history is checked on its own and
 * dropped once nothing can reorder with it.  A prefix P of key k's
 * operations (those called before the cut C) may go when
 *  (1) every operation in P returned before C (the cut is moved back
 *      before any operation open at it), and the key has no UNKNOWN
 *      write (it could take effect at any later instant);
 *  (2) no operation not yet reported can be called before C: every KV
 *      client has reported, and C is the least over the clients of the
 *      latest instant each reported (return, or call for an UNKNOWN) —
 *      a client runs one operation at a time on a clock that only moves
 *      forward, so its next call comes after.  Runs with clock skew
 *      faults (clocks that jump) never cut;
 *  (3) P's final value is one value: P has no write, or one write whose
 *      call follows every other write's return (so it is last in every
 *      order of P).
 * Then every linearization of the whole history orders P first and ends P
 * with that value, so the history is linearizable iff P is and the rest,
 * started by a PUT of that value (a synthetic operation, id UINT64_MAX,
 * call = return = C - 1), is.  FAIL operations and UNKNOWN GETs
 * constrain nothing (linearize.h) and are not kept.
 *
 * Verdicts come at the end of the run, as before: the smallest key proven
 * bad (by a segment or by the final check of what remains) is reported;
 * otherwise a search that gave up is "no verdict".  A bad segment's window
 * comes from that segment (it may contain the synthetic PUT).
 */
#include <stdio.h>
#include <string.h>

#include "check_internal.h"
#include "kv.h"
#include "linearize.h"

#define LIN_BUDGET (UINT64_C(1) << 22) /* configurations per key; past it: gave up */
#define CUT_EVERY 64u                  /* try a cut each time a key gains this many ops */

struct lin_key {
	int64_t key;
	GArray *ops;       /* struct au_lin_entry, arrival order */
	guint next_try;    /* ops->len at which to try a cut again */
	bool carried;      /* ops[0] is the synthetic PUT of the value carried in */
	bool stuck;        /* an UNKNOWN write: no more cuts on this key */
};

struct au_lin_check {
	struct au_sim *sim;
	GHashTable *keys;   /* int64 key -> struct lin_key* (lookup only) */
	GHashTable *clients; /* client -> int64 watermark (boxed in the value) */
	uint32_t n_clients; /* KV clients in the run (0: do not cut) */
	int64_t watermark;  /* min over clients, once all have reported */
	uint64_t ops, released, segments;
	struct au_lin_history *seg; /* the segment being checked (try_cut), reused */
	/* the first key proven bad, and the first that gave up */
	bool bad, gave_up;
	int64_t bad_key, gave_up_key;
	struct au_lin_result bad_res;
};

static void key_free(gpointer p)
{
	struct lin_key *k = p;
	g_array_free(k->ops, TRUE);
	g_free(k);
}

struct au_lin_check *au_lin_check_new(struct au_sim *sim, uint32_t kv_clients)
{
	struct au_lin_check *L = g_new0(struct au_lin_check, 1);
	L->sim = sim;
	L->keys = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, key_free);
	L->clients = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	L->n_clients = kv_clients;
	L->watermark = INT64_MIN;
	for (uint32_t i = 0; i < sim->sc->n_faults; i++)
		if (sim->sc->faults[i].action == AU_FAULT_SKEW)
			L->n_clients = 0; /* clocks that jump: never cut */
	return L;
}

void au_lin_check_free(struct au_lin_check *L)
{
	if (!L)
		return;
	g_hash_table_destroy(L->keys);
	g_hash_table_destroy(L->clients);
	au_lin_free(L->seg);
	au_lin_result_free(&L->bad_res);
	g_free(L);
}

static uint64_t budget(const struct au_lin_check *L)
{
	uint64_t b = au_checks_of(L->sim)->lin_budget;
	return b ? b : LIN_BUDGET;
}

/* Note what the search of `key` found: keep the smallest bad key (with its
 * window) and the smallest key that gave up. */
static void note_result(struct au_lin_check *L, int64_t key, struct au_lin_result *res)
{
	if (!res->linearizable && !res->gave_up) {
		if (!L->bad || res->key < L->bad_key) {
			au_lin_result_free(&L->bad_res);
			L->bad_res = *res;
			L->bad = true;
			L->bad_key = res->key;
			return;
		}
	} else if (res->gave_up && !res->linearizable) {
		if (!L->gave_up || key < L->gave_up_key) {
			L->gave_up = true;
			L->gave_up_key = key;
		}
	}
	au_lin_result_free(res);
}

/* Try to release a finished prefix of k's operations (see the top). */
static void try_cut(struct au_lin_check *L, struct lin_key *k)
{
	k->next_try = k->ops->len + CUT_EVERY;
	int64_t C = L->watermark;
	if (k->stuck || C == INT64_MIN)
		return;
	guint n = 0, writes = 0, last = 0;
	int64_t last_call = INT64_MIN;
	guint first = k->carried ? 1 : 0;
	/* (1): move the cut back before every operation still open at it */
	for (bool moved = true; moved;) {
		moved = false;
		for (guint i = first; i < k->ops->len; i++) {
			const struct au_lin_entry *e = &g_array_index(k->ops, struct au_lin_entry, i);
			if (e->call_ns < C && e->return_ns >= C) {
				C = e->call_ns;
				moved = true;
			}
		}
	}
	for (guint i = first; i < k->ops->len; i++) {
		const struct au_lin_entry *e = &g_array_index(k->ops, struct au_lin_entry, i);
		if (e->call_ns >= C)
			continue;
		n++;
		if (e->op == AU_LIN_PUT || (e->op == AU_LIN_CAS && e->cas_ok)) {
			writes++;
			if (e->call_ns > last_call) {
				last_call = e->call_ns;
				last = i;
			}
		}
	}
	if (n == 0)
		return;
	const struct au_lin_entry *lw = writes ? &g_array_index(k->ops, struct au_lin_entry, last)
					       : NULL;
	for (guint i = first; writes > 1 && i < k->ops->len; i++) {
		const struct au_lin_entry *e = &g_array_index(k->ops, struct au_lin_entry, i);
		if (i != last && e->call_ns < C &&
		    (e->op == AU_LIN_PUT || (e->op == AU_LIN_CAS && e->cas_ok)) &&
		    e->return_ns >= lw->call_ns)
			return; /* (3): the last write is not last in every order */
	}
	int64_t carried = lw ? lw->value
			     : (k->carried ? g_array_index(k->ops, struct au_lin_entry, 0).value : 0);
	/* Check the prefix (with the value carried into it); what stays
	 * moves down in k->ops, in order, after the synthetic PUT of the
	 * carried value (in place: the array keeps its memory). */
	if (!L->seg)
		L->seg = au_lin_new();
	struct au_lin_history *h = L->seg;
	au_lin_clear(h);
	struct au_lin_entry put = {0};
	put.op = AU_LIN_PUT;
	put.key = k->key;
	put.value = carried;
	put.call_ns = put.return_ns = C - 1;
	put.outcome = AU_LIN_OK;
	put.id = UINT64_MAX;
	struct au_lin_entry *ops = &g_array_index(k->ops, struct au_lin_entry, 0);
	guint kept = k->carried ? 1 : 0; /* carried: ops[0] leaves, so the PUT goes there */
	for (guint i = 0; i < k->ops->len; i++) {
		if ((k->carried && i == 0) || ops[i].call_ns < C)
			au_lin_add(h, &ops[i]);
		else
			ops[kept++] = ops[i]; /* kept <= i */
	}
	if (k->carried) {
		ops[0] = put;
		g_array_set_size(k->ops, kept);
	} else {
		g_array_set_size(k->ops, kept);
		g_array_prepend_val(k->ops, put);
	}
	struct au_lin_result res;
	au_lin_check(h, budget(L), &res);
	note_result(L, k->key, &res);
	L->released += n;
	L->segments++;
	k->carried = true;
	k->next_try = k->ops->len + CUT_EVERY;
}

void au_lin_check_row(struct au_lin_check *L, const struct au_kv_history_row *row,
		      uint64_t record, au_node_id server)
{
	struct au_lin_entry e = {0};
	e.client = row->client;
	e.op = row->op == AU_KV_GET   ? AU_LIN_GET
	       : row->op == AU_KV_PUT ? AU_LIN_PUT
	       : row->op == AU_KV_DEL ? AU_LIN_DEL
				      : AU_LIN_CAS;
	e.key = row->key;
	e.value = row->value;
	e.expected = row->expected;
	e.cas_ok = row->cas_ok;
	e.call_ns = row->call_ns;
	e.return_ns = row->outcome == AU_KV_UNKNOWN ? row->call_ns : row->return_ns;
	e.outcome = row->outcome == AU_KV_OK ? AU_LIN_OK
		    : row->outcome == AU_KV_FAIL ? AU_LIN_FAIL : AU_LIN_UNKNOWN;
	e.id = record;
	e.server = server;
	L->ops++;
	/* The client's watermark: its next call comes after this. */
	if (L->n_clients) {
		int64_t *w = g_hash_table_lookup(L->clients, GUINT_TO_POINTER(row->client));
		bool fresh = !w;
		if (fresh) {
			w = g_new(int64_t, 1);
			*w = INT64_MIN;
			g_hash_table_insert(L->clients, GUINT_TO_POINTER(row->client), w);
		}
		int64_t seen = row->outcome == AU_KV_UNKNOWN ? row->call_ns : row->return_ns;
		bool was_min = *w == L->watermark;
		if (seen > *w)
			*w = seen;
		if (g_hash_table_size(L->clients) >= L->n_clients && (fresh || was_min)) {
			/* recompute the least watermark (order-free: a min) */
			GHashTableIter it;
			gpointer kk, v;
			int64_t m = INT64_MAX;
			g_hash_table_iter_init(&it, L->clients);
			while (g_hash_table_iter_next(&it, &kk, &v))
				if (*(int64_t *)v < m)
					m = *(int64_t *)v;
			L->watermark = m;
		}
	}
	if (e.outcome == AU_LIN_FAIL || (e.outcome == AU_LIN_UNKNOWN && e.op == AU_LIN_GET))
		return; /* constrains nothing */
	struct lin_key *k = g_hash_table_lookup(L->keys, &e.key);
	if (!k) {
		k = g_new0(struct lin_key, 1);
		k->key = e.key;
		k->ops = g_array_sized_new(FALSE, FALSE, sizeof(struct au_lin_entry), 2 * CUT_EVERY);
		k->next_try = CUT_EVERY;
		g_hash_table_insert(L->keys, &k->key, k);
	}
	g_array_append_val(k->ops, e);
	if (e.outcome == AU_LIN_UNKNOWN)
		k->stuck = true;
	if (L->n_clients && k->ops->len >= k->next_try)
		try_cut(L, k);
}

void au_lin_check_end(struct au_lin_check *L)
{
	struct au_sim *sim = L->sim;
	/* What remains of every key, in one history (keys in increasing
	 * order inside au_lin_check). */
	struct au_lin_history *h = au_lin_new();
	GHashTableIter it;
	gpointer kk, v;
	g_hash_table_iter_init(&it, L->keys);
	while (g_hash_table_iter_next(&it, &kk, &v)) {
		const struct lin_key *k = v;
		for (guint i = 0; i < k->ops->len; i++)
			au_lin_add(h, &g_array_index(k->ops, struct au_lin_entry, i));
	}
	struct au_lin_result res;
	au_lin_check(h, budget(L), &res);
	au_lin_free(h);
	note_result(L, res.key, &res);
	if (!L->bad && L->gave_up) {
		/* Neither a proof nor a counterexample: saying pass would claim a
		 * search that did not finish. */
		fprintf(stderr, "aureon-sim: linearizable_kv: search budget exhausted on key %" G_GINT64_FORMAT
				"; no verdict\n", L->gave_up_key);
		au_check_no_verdict(sim, AU_VERDICT_UNKNOWN,
				    "search budget of %" G_GUINT64_FORMAT " configurations exhausted on key %"
				    G_GINT64_FORMAT " (history of %" G_GUINT64_FORMAT " operations)",
				    budget(L), L->gave_up_key, L->ops);
	} else if (L->bad) {
		au_check_lin_report(sim, &L->bad_res);
	}
}

void au_lin_check_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	(void)sim;
	const struct au_lin_check *L = st;
	g_snprintf(buf, len,
		   "%" G_GUINT64_FORMAT " operations; %" G_GUINT64_FORMAT " checked and released "
		   "during the run in %" G_GUINT64_FORMAT " segments%s",
		   L->ops, L->released, L->segments,
		   L->n_clients ? "" : " (no cuts: clock skew faults or no KV clients)");
}

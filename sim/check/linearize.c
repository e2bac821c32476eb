/* linearize.c — linearizability checker for key-value histories.
 *
 * (Over 1,000 lines on purpose: one search and the pruning rules that keep
 * it tractable, each rule's proof beside the code that relies on it; split
 * up, the proofs and the code would drift apart.)
 *
 * Algorithm.  Per key, a depth-first search for a legal sequential order,
 * after Wing & Gong ("Testing and verifying concurrent objects", JPDC 17,
 * 1993) with the improvements of Lowe ("Testing for linearizability",
 * Concurrency and Computation: Practice and Experience 29(4), 2017), as in
 * Porcupine:
 *
 *  - A configuration is (set of operations linearized so far, register
 *    value).  Every configuration reached is remembered; reaching one again
 *    cannot lead anywhere new, so that branch is cut.  This turns the
 *    exponential search of plain Wing–Gong into one bounded by the number
 *    of distinct configurations, which for a register with modest
 *    concurrency is small.
 *  - Just-in-time candidates: an operation may be linearized next only if
 *    it was called no later than the earliest return among the required
 *    operations still pending (an operation that returned strictly before
 *    another was called must come first; equal instants are concurrent).
 *    Pending operations sit in a doubly linked list in call order, removed
 *    and restored in O(1) as the search goes down and back up ("dancing
 *    links"), so candidates are found by walking the list's head.
 *
 * Operations with unknown outcome (client timeouts) are optional: they may
 * take effect at any point after their call, or never.  Left alone they
 * multiply the search (each stays a candidate forever), so three rules,
 * each of which provably loses no solution, keep them cheap:
 *
 *  1. An unknown write is only worth linearizing if the very next operation
 *     observes it.  From any valid order, an unknown write that does not
 *     change the value, or that is followed by a PUT (which overwrites it)
 *     or by nothing, can be deleted; one followed by a failed CAS whose
 *     `expected` differs from the value before the write can be swapped
 *     after that CAS.  Repeating this gives a valid order in which every
 *     unknown write changes the value and is immediately followed by a GET
 *     of the new value, a CAS expecting the new value, or a failed CAS
 *     expecting the old one (or another unknown CAS, and so on).  The
 *     search only builds such orders: after an unknown write it remembers
 *     the old value and admits only those followers; and it tries an
 *     unknown write only when such a follower is among the current
 *     candidates, finding those writes through indexes by value rather
 *     than by walking every pending unknown op.  An unknown op nothing can
 *     follow any more (all its possible followers are linearized) is taken
 *     out of the pending list altogether.
 *  2. Dominance instead of equality in the memo: having linearized fewer
 *     optional operations is never worse (the extra ones could simply never
 *     happen), so a configuration is cut when one with the same required
 *     set and value and a subset of its optional operations was visited.
 *  3. Symmetry: two unknown operations with the same effect whose calls are
 *     both past are interchangeable, so of such a group only the earliest
 *     not yet used is tried.
 *
 * Reads do not branch: a read (GET, or CAS that failed) legal in the
 * current configuration is linearized at once and nothing else is tried
 * from there — it leaves the value alone, and any solution from here can
 * be reordered to take it first, since everything that must precede it is
 * already linearized (it is a candidate).  Reads are a large share of a
 * history, and this divides the search by the orders of concurrent reads.
 *
 * When a key is not linearizable, the search names the required operation
 * it could never get past (the earliest return it could not reach).  The
 * window is grown around that operation until it is bad on its own, then
 * shrunk by delta debugging (drop chunks, then single operations, while
 * the rest stays non-linearizable), with two guards that keep it an honest
 * explanation rather than an artefact of shrinking: the stuck operation and
 * the write it most plausibly read from stay, and no operation is dropped
 * while a kept one read from it in a linearization of the history without
 * the stuck operation (otherwise dropping a PUT would turn some other read
 * into a "read of a value never written", and the window would be about
 * that instead).
 *
 * Limits.  The search is exponential in the number of mutually concurrent
 * operations in the worst case (refuting a history must rule out every
 * order); hence the budget.  Memory is one memo entry per configuration,
 * about 100 bytes.  Values are compared exactly; "absent" is 0.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "linearize.h"

#include "hash.h"

/* Budget for each search made while shrinking a window when the caller set
 * none: shrinking must terminate even on a pathological history. */
#define LIN_SHRINK_BUDGET (UINT64_C(1) << 20)
/* At most this many searches while shrinking one window. */
#define LIN_SHRINK_MAX_CHECKS 20000u

#define LIN_NONE UINT32_MAX

struct au_lin_history {
	GArray *entries; /* struct au_lin_entry, in the order added */
};

/* An operation as the search sees it.  FAIL operations and UNKNOWN GETs
 * never get here: they constrain nothing. */
enum lin_kind {
	K_GET,      /* required: value read == value */
	K_PUT,      /* required: writes value */
	K_CAS_OK,   /* required: current == expected, writes value */
	K_CAS_FAIL, /* required: current != expected, writes nothing */
	K_OPT_PUT,  /* optional (unknown outcome): writes value */
	K_OPT_CAS,  /* optional: if it happens, it succeeded (a failed CAS has no
		     * effect, the same as never happening) */
};

struct lin_op {
	int64_t call, ret; /* ret = INT64_MAX for optional ops */
	int64_t value, expected;
	uint32_t kind;
	uint32_t src; /* index of the entry in the history */
};

static bool kind_reads(uint32_t k)
{
	return k == K_GET || k == K_CAS_OK || k == K_CAS_FAIL || k == K_OPT_CAS;
}

static bool kind_writes(uint32_t k)
{
	return k == K_PUT || k == K_CAS_OK || k == K_OPT_PUT || k == K_OPT_CAS;
}

/* ---- a bump allocator for the memo --------------------------------------
 * Configurations are only ever added during one search and all dropped at
 * its end, so one allocation per block beats one per configuration. */

/* Blocks double from the first size to the last: most searches are small
 * (and many are made while shrinking a window), a few are huge. */
#define LIN_ARENA_FIRST 4096u
#define LIN_ARENA_LAST (1024u * 1024u)

struct lin_arena {
	GPtrArray *blocks;
	uint8_t *cur;
	size_t left, next;
};

static void *lin_arena_alloc(struct lin_arena *a, size_t size)
{
	size = (size + 7u) & ~(size_t)7u;
	if (size > a->left) {
		if (a->next < LIN_ARENA_FIRST)
			a->next = LIN_ARENA_FIRST;
		size_t bs = size > a->next ? size : a->next;
		if (a->next < LIN_ARENA_LAST)
			a->next *= 2;
		a->cur = g_malloc(bs);
		g_ptr_array_add(a->blocks, a->cur);
		a->left = bs;
	}
	void *p = a->cur;
	a->cur += size;
	a->left -= size;
	return p;
}

/* ---- the memo -----------------------------------------------------------
 * Configurations are grouped by everything but the optional set: (value,
 * pending-follower state, required set).  Each group lists the optional
 * sets visited with it, none a superset of another (rule 2). */

struct lin_uset {
	struct lin_uset *next;
	uint32_t n; /* words; trailing zero words trimmed */
	uint64_t w[];
};

struct lin_group {
	guint hash;
	uint32_t need;
	int64_t value, v0;
	uint32_t r_lo, r_n; /* the required set's bitset words [r_lo, r_lo + r_n) */
	struct lin_uset *usets;
	uint64_t r[];
};

static bool lin_group_equal(const struct lin_group *a, const struct lin_group *b)
{
	return a->hash == b->hash && a->value == b->value && a->v0 == b->v0 &&
	       a->need == b->need && a->r_lo == b->r_lo && a->r_n == b->r_n &&
	       memcmp(a->r, b->r, a->r_n * sizeof(uint64_t)) == 0;
}

/* The groups visited: open addressing over their hashes (a GHashTable
 * cost a third of a whole search on the short, straight searches of the
 * released segments, mostly in growing).  Sized from the history at the
 * start, so most searches never grow it. */
struct lin_memo {
	struct lin_group **slot; /* cap entries, NULL: empty */
	uint32_t cap, len;       /* cap a power of two */
};

static void lin_memo_init(struct lin_memo *m, uint32_t n)
{
	uint32_t cap = 16;
	while (cap < 2u * n + 2u && cap < (1u << 30))
		cap *= 2;
	m->cap = cap;
	m->len = 0;
	m->slot = g_new0(struct lin_group *, cap);
}

static struct lin_group *lin_memo_find(const struct lin_memo *m, const struct lin_group *g)
{
	for (uint32_t i = g->hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct lin_group *e = m->slot[i];
		if (!e || lin_group_equal(e, g))
			return e;
	}
}

static void lin_memo_put(struct lin_memo *m, struct lin_group *g)
{
	if ((m->len + 1) * 2 > m->cap) {
		struct lin_memo old = *m;
		m->cap *= 2;
		m->slot = g_new0(struct lin_group *, m->cap);
		for (uint32_t s = 0; s < old.cap; s++) {
			if (!old.slot[s])
				continue;
			uint32_t i = old.slot[s]->hash & (m->cap - 1);
			while (m->slot[i])
				i = (i + 1) & (m->cap - 1);
			m->slot[i] = old.slot[s];
		}
		g_free(old.slot);
	}
	uint32_t i = g->hash & (m->cap - 1);
	while (m->slot[i])
		i = (i + 1) & (m->cap - 1);
	m->slot[i] = g;
	m->len++;
}

static inline uint64_t lin_mix(uint64_t h, uint64_t x)
{
	/* splitmix64's finaliser over h ^ x: cheap and well spread. */
	return au_hash_fin64(h ^ (x + AU_HASH_GOLDEN));
}

/* ---- the search --------------------------------------------------------- */

enum lin_verdict { LIN_OK, LIN_BAD, LIN_GAVE_UP };

/* What one attempt to linearize a candidate did. */
enum lin_try { TRY_NO, TRY_MOVED, TRY_DONE, TRY_BUDGET };

/* A value and a second number (a return instant or a slot), sortable. */
struct lin_vr {
	int64_t v, r;
};

/* Undo record for one linearized operation. */
struct lin_frame {
	uint32_t slot; /* index into req[] or opt[] */
	bool optional;
	bool forced; /* the only move tried from its configuration (a read) */
	bool need;
	int64_t value, v0;
	uint32_t prefix, ret_ptr, dead_ptr;
};

struct lin_search {
	const struct lin_op *ops;
	uint32_t n;
	uint64_t budget; /* 0 = none */

	/* Required and optional operations, each in call order ("slots"). */
	uint32_t nr, no;
	uint32_t *req, *opt;  /* slot -> ops index */
	int64_t *req_call;    /* required slot -> call, for binary search */
	uint32_t *ret_order;  /* required slots by (return, slot) */
	uint32_t *rnext, *rprev; /* pending required slots; sentinel nr */
	uint32_t *onext, *oprev; /* pending optional slots; sentinel no */
	uint32_t *same_prev;  /* optional slot -> earlier slot with the same effect */
	int64_t *opt_until;   /* optional slot -> latest return of an op that could
			       * observe it (rule 1), INT64_MIN if none */
	uint32_t *dead_order; /* optional slots by (opt_until, slot) */
	/* Indexes of optional ops, so that the ones worth trying can be found
	 * without walking all pending ones (which grow with the history). */
	struct lin_vr *writers; /* (value written, slot), sorted */
	struct lin_vr *cas_exp; /* (expected, slot) of unknown CAS ops, sorted */
	uint32_t nwriters, ncas_exp;
	uint32_t *cands;        /* scratch: candidate slots */
	int64_t *vals;          /* scratch: values worth writing */
	uint32_t *seen, stamp;  /* scratch: unknown CAS already expanded */
	uint64_t *rbits, *obits; /* linearized sets */
	uint32_t rwords, owords;

	/* The current configuration.  need: the last operation was an unknown
	 * write, so the next must observe it (rule 1); v0 is the value before
	 * it.  prefix: required slots [0, prefix) are all linearized.
	 * ret_ptr: ret_order[0, ret_ptr) are all linearized.  dead_ptr:
	 * dead_order[0, dead_ptr) are dead — whatever could observe them is
	 * linearized, so by rule 1 they never will be — and those of them not
	 * linearized are out of the pending list, which would otherwise grow
	 * with every unknown op of the history and be walked at every step. */
	int64_t value, v0;
	bool need;
	uint32_t prefix, ret_ptr, dead_ptr;

	struct lin_memo memo;
	struct lin_arena arena;
	struct lin_group *scratch;

	int64_t *want; /* values some current required candidate could observe */
	uint32_t nwant;
	bool want_any; /* a failed CAS would observe any change */

	uint64_t explored;
	uint32_t max_ret_ptr;
};

/* Sort n indexes by a total order (every comparator here breaks ties by
 * index or content, so any correct sort gives the same result).  The
 * arrays sorted per search are short and nearly in order already (a key's
 * operations arrive in return order, and are searched in call order), so
 * an insertion sort does them in about n steps; past a few shifts per
 * element it hands the rest to g_qsort_with_data. */
static inline void lin_sort_idx(uint32_t *a, uint32_t n, GCompareDataFunc cmp, void *ud)
{
	size_t shifts = 0, limit = 4u * (size_t)n + 16u;
	for (uint32_t i = 1; i < n; i++) {
		uint32_t x = a[i], j = i;
		while (j > 0 && cmp(&a[j - 1], &x, ud) > 0) {
			a[j] = a[j - 1];
			j--;
			shifts++;
		}
		a[j] = x;
		if (shifts > limit) {
			g_qsort_with_data(a, (gint)n, sizeof(uint32_t), cmp, ud);
			return;
		}
	}
}

static int lin_cmp_ret(const void *pa, const void *pb, void *ud)
{
	const struct lin_search *s = ud;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int64_t ra = s->ops[s->req[a]].ret, rb = s->ops[s->req[b]].ret;
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int lin_cmp_effect(const void *pa, const void *pb, void *ud)
{
	const struct lin_search *s = ud;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const struct lin_op *x = &s->ops[s->opt[a]], *y = &s->ops[s->opt[b]];
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	int64_t ex = x->kind == K_OPT_CAS ? x->expected : 0;
	int64_t ey = y->kind == K_OPT_CAS ? y->expected : 0;
	if (ex != ey)
		return ex < ey ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int lin_cmp_until(const void *pa, const void *pb, void *ud)
{
	const struct lin_search *s = ud;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	if (s->opt_until[a] != s->opt_until[b])
		return s->opt_until[a] < s->opt_until[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int lin_cmp_vr(const void *pa, const void *pb)
{
	const struct lin_vr *a = pa, *b = pb;
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return a->r < b->r ? -1 : a->r > b->r;
}

/* Index of the last pair with value v, or -1. */
static ptrdiff_t lin_vr_last(const struct lin_vr *p, size_t n, int64_t v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p[mid].v <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && p[lo - 1].v == v ? (ptrdiff_t)lo - 1 : -1;
}

/* opt_until and dead_order.  An unknown write u of w can only be followed
 * (rule 1) by a GET of w, a successful CAS expecting w, a failed CAS
 * expecting something else, or an unknown CAS expecting w, and only by one
 * that has not returned before u was called.  Unknown CAS followers make u
 * live forever: cheap to be conservative there, they are rare. */
static void lin_compute_until(struct lin_search *s)
{
	const struct lin_op *ops = s->ops;
	struct lin_vr *obs = g_new(struct lin_vr, s->nr + 1);
	struct lin_vr *ocas = g_new(struct lin_vr, s->no + 1); /* (expected, slot) */
	size_t nobs = 0, nocas = 0;
	/* The latest-returning failed CAS, and the latest among those with
	 * another expected value. */
	int64_t f1 = INT64_MIN, f2 = INT64_MIN, e1 = 0;
	for (uint32_t j = 0; j < s->nr; j++) {
		const struct lin_op *op = &ops[s->req[j]];
		if (op->kind == K_GET)
			obs[nobs++] = (struct lin_vr){op->value, op->ret};
		else if (op->kind == K_CAS_OK)
			obs[nobs++] = (struct lin_vr){op->expected, op->ret};
		else if (op->kind == K_CAS_FAIL && op->ret > f1) {
			if (f1 != INT64_MIN && op->expected != e1)
				f2 = f1;
			f1 = op->ret;
			e1 = op->expected;
		} else if (op->kind == K_CAS_FAIL && op->expected != e1 && op->ret > f2) {
			f2 = op->ret;
		}
	}
	for (uint32_t j = 0; j < s->no; j++)
		if (ops[s->opt[j]].kind == K_OPT_CAS)
			ocas[nocas++] = (struct lin_vr){ops[s->opt[j]].expected, j};
	qsort(obs, nobs, sizeof(*obs), lin_cmp_vr);
	qsort(ocas, nocas, sizeof(*ocas), lin_cmp_vr);

	s->opt_until = g_new(int64_t, s->no + 1);
	s->dead_order = g_new(uint32_t, s->no + 1);
	for (uint32_t j = 0; j < s->no; j++) {
		const struct lin_op *u = &ops[s->opt[j]];
		int64_t until = INT64_MIN;
		ptrdiff_t k = lin_vr_last(obs, nobs, u->value);
		if (k >= 0 && obs[k].r >= u->call)
			until = obs[k].r;
		int64_t f = e1 != u->value ? f1 : f2;
		if (f >= u->call && f > until)
			until = f;
		k = lin_vr_last(ocas, nocas, u->value);
		if (k >= 0 && (ocas[k].r != j || (k > 0 && ocas[k - 1].v == u->value)))
			until = INT64_MAX; /* an unknown CAS may follow */
		s->opt_until[j] = until;
		s->dead_order[j] = j;
	}
	g_qsort_with_data(s->dead_order, (gint)s->no, sizeof(uint32_t), lin_cmp_until, s);

	s->writers = g_new(struct lin_vr, s->no + 1);
	s->cands = g_new(uint32_t, s->no + 1);
	s->vals = g_new(int64_t, s->n + s->no + 1);
	s->seen = g_new0(uint32_t, s->no + 1);
	for (uint32_t j = 0; j < s->no; j++)
		s->writers[j] = (struct lin_vr){ops[s->opt[j]].value, j};
	s->nwriters = s->no;
	qsort(s->writers, s->nwriters, sizeof(*s->writers), lin_cmp_vr);
	s->cas_exp = ocas;
	s->ncas_exp = (uint32_t)nocas;
	g_free(obs);
}

static void lin_list_init(uint32_t *next, uint32_t *prev, uint32_t n)
{
	/* Circular list over 0..n-1 in order, with sentinel n. */
	for (uint32_t i = 0; i < n; i++) {
		next[i] = i + 1;
		prev[i] = i == 0 ? n : i - 1;
	}
	next[n] = n == 0 ? n : 0;
	prev[n] = n == 0 ? n : n - 1;
}

static inline void lin_lift(uint32_t *next, uint32_t *prev, uint32_t i)
{
	next[prev[i]] = next[i];
	prev[next[i]] = prev[i];
}

/* Undoes lin_lift; valid because lifts are undone in reverse order. */
static inline void lin_unlift(uint32_t *next, uint32_t *prev, uint32_t i)
{
	next[prev[i]] = i;
	prev[next[i]] = i;
}

static inline bool lin_bit(const uint64_t *b, uint32_t i)
{
	return (b[i >> 6] >> (i & 63u)) & 1u;
}

/* ops must be in call order.  Sets everything up for lin_run. */
static void lin_search_init(struct lin_search *s, const struct lin_op *ops, uint32_t n,
			    uint64_t budget)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->n = n;
	s->budget = budget;
	for (uint32_t i = 0; i < n; i++) {
		g_assert(i == 0 || ops[i - 1].call <= ops[i].call);
		if (ops[i].kind >= K_OPT_PUT)
			s->no++;
		else
			s->nr++;
	}
	s->req = g_new(uint32_t, s->nr + 1);
	s->opt = g_new(uint32_t, s->no + 1);
	s->req_call = g_new(int64_t, s->nr + 1);
	for (uint32_t i = 0, r = 0, o = 0; i < n; i++) {
		if (ops[i].kind >= K_OPT_PUT) {
			s->opt[o++] = i;
		} else {
			s->req_call[r] = ops[i].call;
			s->req[r++] = i;
		}
	}
	s->ret_order = g_new(uint32_t, s->nr + 1);
	for (uint32_t i = 0; i < s->nr; i++)
		s->ret_order[i] = i;
	lin_sort_idx(s->ret_order, s->nr, lin_cmp_ret, s);

	s->same_prev = g_new(uint32_t, s->no + 1);
	{
		uint32_t *by_effect = g_new(uint32_t, s->no + 1);
		for (uint32_t i = 0; i < s->no; i++) {
			by_effect[i] = i;
			s->same_prev[i] = LIN_NONE;
		}
		g_qsort_with_data(by_effect, (gint)s->no, sizeof(uint32_t), lin_cmp_effect, s);
		for (uint32_t i = 1; i < s->no; i++) {
			const struct lin_op *x = &ops[s->opt[by_effect[i - 1]]];
			const struct lin_op *y = &ops[s->opt[by_effect[i]]];
			if (x->kind == y->kind && x->value == y->value &&
			    (x->kind != K_OPT_CAS || x->expected == y->expected))
				s->same_prev[by_effect[i]] = by_effect[i - 1];
		}
		g_free(by_effect);
	}
	lin_compute_until(s);

	s->rnext = g_new(uint32_t, s->nr + 1);
	s->rprev = g_new(uint32_t, s->nr + 1);
	s->onext = g_new(uint32_t, s->no + 1);
	s->oprev = g_new(uint32_t, s->no + 1);
	lin_list_init(s->rnext, s->rprev, s->nr);
	lin_list_init(s->onext, s->oprev, s->no);
	s->rwords = (s->nr + 63u) / 64u;
	s->owords = (s->no + 63u) / 64u;
	s->rbits = g_new0(uint64_t, s->rwords + 1);
	s->obits = g_new0(uint64_t, s->owords + 1);

	lin_memo_init(&s->memo, n);
	s->arena.blocks = g_ptr_array_new_with_free_func(g_free);
	s->scratch = g_malloc(sizeof(struct lin_group) + (s->rwords + 1) * sizeof(uint64_t));
	s->want = g_new(int64_t, n + 1);
}

static void lin_search_free(struct lin_search *s)
{
	g_free(s->req);
	g_free(s->opt);
	g_free(s->req_call);
	g_free(s->ret_order);
	g_free(s->same_prev);
	g_free(s->rnext);
	g_free(s->rprev);
	g_free(s->onext);
	g_free(s->oprev);
	g_free(s->rbits);
	g_free(s->obits);
	g_free(s->memo.slot);
	g_ptr_array_free(s->arena.blocks, TRUE);
	g_free(s->scratch);
	g_free(s->opt_until);
	g_free(s->dead_order);
	g_free(s->writers);
	g_free(s->cas_exp);
	g_free(s->cands);
	g_free(s->vals);
	g_free(s->seen);
	g_free(s->want);
}

/* Earliest return among pending required operations; ret_ptr < nr. */
static inline int64_t lin_minret(const struct lin_search *s)
{
	return s->ops[s->req[s->ret_order[s->ret_ptr]]].ret;
}

/* Records the current configuration.  Returns TRY_MOVED if it is new (not
 * dominated by one visited), TRY_NO if not, TRY_BUDGET if the budget is
 * spent.  ret_ptr < nr. */
static enum lin_try lin_memo_visit(struct lin_search *s)
{
	struct lin_group *g = s->scratch;
	/* Every linearized required op was called by the current minret (minret
	 * only grows along a path), so the set lives in slots [prefix, hi). */
	int64_t minret = lin_minret(s);
	uint32_t lo = 0, hi = s->nr;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->req_call[mid] <= minret)
			lo = mid + 1;
		else
			hi = mid;
	}
	g_assert(lo > s->prefix);
	uint32_t w_lo = s->prefix / 64u, w_hi = (lo + 63u) / 64u;
	while (w_hi > w_lo && s->rbits[w_hi - 1] == 0)
		w_hi--;
	g->need = s->need;
	g->value = s->value;
	g->v0 = s->need ? s->v0 : 0;
	g->r_lo = w_lo;
	g->r_n = w_hi - w_lo;
	uint64_t h = lin_mix((uint64_t)g->value, (uint64_t)g->v0 * 2u + g->need);
	h = lin_mix(h, g->r_lo);
	for (uint32_t i = 0; i < g->r_n; i++) {
		g->r[i] = s->rbits[w_lo + i];
		h = lin_mix(h, g->r[i]);
	}
	g->hash = (guint)(h ^ (h >> 32));

	uint32_t un = s->owords;
	while (un > 0 && s->obits[un - 1] == 0)
		un--;
	const uint64_t *u = s->obits;

	struct lin_group *found = lin_memo_find(&s->memo, g);
	if (found) {
		/* Cut if some visited optional set is a subset of ours. */
		for (struct lin_uset *v = found->usets; v; v = v->next) {
			if (v->n > un)
				continue;
			bool subset = true;
			for (uint32_t i = 0; i < v->n && subset; i++)
				subset = (v->w[i] & ~u[i]) == 0;
			if (subset)
				return TRY_NO;
		}
	}
	if (s->budget && s->explored >= s->budget)
		return TRY_BUDGET;
	s->explored++;
	if (!found) {
		found = lin_arena_alloc(&s->arena, sizeof(*g) + g->r_n * sizeof(uint64_t));
		memcpy(found, g, sizeof(*g) + g->r_n * sizeof(uint64_t));
		found->usets = NULL;
		lin_memo_put(&s->memo, found);
	} else {
		/* Visited sets that are supersets of ours are now dominated. */
		struct lin_uset **pp = &found->usets;
		while (*pp) {
			struct lin_uset *v = *pp;
			bool superset = v->n >= un;
			for (uint32_t i = 0; i < un && superset; i++)
				superset = (u[i] & ~v->w[i]) == 0;
			if (superset)
				*pp = v->next;
			else
				pp = &v->next;
		}
	}
	struct lin_uset *nu = lin_arena_alloc(&s->arena, sizeof(*nu) + un * sizeof(uint64_t));
	nu->n = un;
	memcpy(nu->w, u, un * sizeof(uint64_t));
	nu->next = found->usets;
	found->usets = nu;
	return TRY_MOVED;
}

/* Take newly dead unknown ops out of the pending list (minret grew). */
static void lin_bury(struct lin_search *s)
{
	int64_t minret = lin_minret(s);
	while (s->dead_ptr < s->no && s->opt_until[s->dead_order[s->dead_ptr]] < minret) {
		uint32_t j = s->dead_order[s->dead_ptr++];
		if (!lin_bit(s->obits, j)) /* a linearized one is out already */
			lin_lift(s->onext, s->oprev, j);
	}
}

/* Undo lin_bury back to dead_ptr == to.  An op's linearized bit is the same
 * now as when it was buried (a buried op cannot be linearized, and later
 * steps are undone first), so it says which ones were lifted. */
static void lin_unbury(struct lin_search *s, uint32_t to)
{
	while (s->dead_ptr > to) {
		uint32_t j = s->dead_order[--s->dead_ptr];
		if (!lin_bit(s->obits, j))
			lin_unlift(s->onext, s->oprev, j);
	}
}

static void lin_undo(struct lin_search *s, const struct lin_frame *f)
{
	lin_unbury(s, f->dead_ptr);
	if (f->optional) {
		s->obits[f->slot >> 6] &= ~(UINT64_C(1) << (f->slot & 63u));
		lin_unlift(s->onext, s->oprev, f->slot);
	} else {
		s->rbits[f->slot >> 6] &= ~(UINT64_C(1) << (f->slot & 63u));
		lin_unlift(s->rnext, s->rprev, f->slot);
	}
	s->value = f->value;
	s->v0 = f->v0;
	s->need = f->need;
	s->prefix = f->prefix;
	s->ret_ptr = f->ret_ptr;
}

static void lin_save(const struct lin_search *s, struct lin_frame *f, uint32_t slot,
		     bool optional)
{
	f->slot = slot;
	f->optional = optional;
	f->forced = false;
	f->need = s->need;
	f->value = s->value;
	f->v0 = s->v0;
	f->prefix = s->prefix;
	f->ret_ptr = s->ret_ptr;
	f->dead_ptr = s->dead_ptr;
}

/* Try to linearize required slot j next; on TRY_MOVED/TRY_DONE *f holds the
 * undo record and the configuration has changed. */
static enum lin_try lin_try_req(struct lin_search *s, uint32_t j, struct lin_frame *f)
{
	const struct lin_op *op = &s->ops[s->req[j]];
	int64_t nv = s->value;
	switch (op->kind) {
	case K_GET:
		if (op->value != s->value)
			return TRY_NO;
		break;
	case K_PUT:
		if (s->need) /* would overwrite an unobserved unknown write */
			return TRY_NO;
		nv = op->value;
		break;
	case K_CAS_OK:
		if (op->expected != s->value)
			return TRY_NO;
		nv = op->value;
		break;
	case K_CAS_FAIL:
		if (op->expected == s->value)
			return TRY_NO;
		/* After an unknown write, a failed CAS only observes it if it
		 * would have succeeded before it (otherwise swap, rule 1). */
		if (s->need && op->expected != s->v0)
			return TRY_NO;
		break;
	default:
		g_assert_not_reached();
	}
	lin_save(s, f, j, false);
	s->value = nv;
	s->need = false;
	s->v0 = 0;
	s->rbits[j >> 6] |= UINT64_C(1) << (j & 63u);
	lin_lift(s->rnext, s->rprev, j);
	if (j == s->prefix)
		while (s->prefix < s->nr && lin_bit(s->rbits, s->prefix))
			s->prefix++;
	while (s->ret_ptr < s->nr && lin_bit(s->rbits, s->ret_order[s->ret_ptr]))
		s->ret_ptr++;
	if (s->ret_ptr > s->max_ret_ptr)
		s->max_ret_ptr = s->ret_ptr;
	if (s->ret_ptr == s->nr)
		return TRY_DONE;
	lin_bury(s);
	enum lin_try t = lin_memo_visit(s);
	if (t != TRY_MOVED)
		lin_undo(s, f);
	return t;
}

/* Fill s->want with what the current required candidates could observe
 * right after an unknown write (rule 1).  minret is the window's end. */
static void lin_compute_want(struct lin_search *s, int64_t minret)
{
	s->nwant = 0;
	s->want_any = false;
	for (uint32_t j = s->rnext[s->nr]; j != s->nr && s->req_call[j] <= minret;
	     j = s->rnext[j]) {
		const struct lin_op *op = &s->ops[s->req[j]];
		if (op->kind == K_GET && op->value != s->value)
			s->want[s->nwant++] = op->value;
		else if (op->kind == K_CAS_OK && op->expected != s->value)
			s->want[s->nwant++] = op->expected;
		else if (op->kind == K_CAS_FAIL && op->expected == s->value)
			s->want_any = true;
	}
	g_assert(s->nwant <= s->n);
}

/* Is an unknown op still pending (not linearized, not buried)? */
static inline bool lin_opt_pending(const struct lin_search *s, uint32_t j)
{
	return !lin_bit(s->obits, j) && s->opt_until[j] >= lin_minret(s);
}

static int lin_cmp_u32(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return a < b ? -1 : a > b;
}

static enum lin_try lin_try_opt(struct lin_search *s, uint32_t j, struct lin_frame *f);

/* Try the unknown ops after slot `after` (LIN_NONE: from the first), in
 * slot order.  When a failed CAS could observe any change, every pending
 * one is a candidate; otherwise only those writing a wanted value or
 * starting a chain of unknown CAS ops to one, found through the indexes
 * (pending unknown ops grow with the history; walking them all at every
 * step made long histories quadratic). */
static enum lin_try lin_try_opts(struct lin_search *s, uint32_t after, struct lin_frame *f)
{
	int64_t minret = lin_minret(s);
	lin_compute_want(s, minret);
	enum lin_try t = TRY_NO;
	if (s->want_any) {
		for (uint32_t j = after == LIN_NONE ? s->onext[s->no] : s->onext[after];
		     j != s->no && s->ops[s->opt[j]].call <= minret; j = s->onext[j])
			if ((t = lin_try_opt(s, j, f)) != TRY_NO)
				break;
		return t;
	}
	/* Values worth writing: the wanted ones, and (transitively) what a
	 * pending unknown CAS writing one of them expects.  Candidates: the
	 * unknown ops writing any of them. */
	uint32_t nc = 0, nv = s->nwant;
	memcpy(s->vals, s->want, s->nwant * sizeof(int64_t));
	if (++s->stamp == 0) { /* wrapped: forget old stamps */
		memset(s->seen, 0, s->no * sizeof(uint32_t));
		s->stamp = 1;
	}
	for (uint32_t i = 0; i < nv; i++) {
		ptrdiff_t k = lin_vr_last(s->writers, s->nwriters, s->vals[i]);
		for (; k >= 0 && s->writers[k].v == s->vals[i]; k--) {
			uint32_t j = (uint32_t)s->writers[k].r;
			if (s->seen[j] == s->stamp || s->ops[s->opt[j]].call > minret ||
			    !lin_opt_pending(s, j))
				continue;
			s->seen[j] = s->stamp;
			s->cands[nc++] = j;
			if (s->ops[s->opt[j]].kind == K_OPT_CAS)
				s->vals[nv++] = s->ops[s->opt[j]].expected;
		}
	}
	g_assert(nc <= s->no && nv <= s->n + s->no);
	qsort(s->cands, nc, sizeof(uint32_t), lin_cmp_u32);
	for (uint32_t i = 0; i < nc; i++) {
		if (after != LIN_NONE && s->cands[i] <= after)
			continue;
		if ((t = lin_try_opt(s, s->cands[i], f)) != TRY_NO)
			break;
	}
	return t;
}

/* Try to linearize unknown op slot j next; lin_try_opts has checked that
 * something could observe it. */
static enum lin_try lin_try_opt(struct lin_search *s, uint32_t j, struct lin_frame *f)
{
	/* Rule 3: an earlier identical op is still unused: use that one. */
	if (s->same_prev[j] != LIN_NONE && !lin_bit(s->obits, s->same_prev[j]))
		return TRY_NO;
	const struct lin_op *op = &s->ops[s->opt[j]];
	int64_t nv;
	if (op->kind == K_OPT_PUT) {
		if (s->need)
			return TRY_NO;
		nv = op->value;
	} else {
		g_assert(op->kind == K_OPT_CAS);
		if (op->expected != s->value)
			return TRY_NO;
		nv = op->value;
	}
	if (nv == s->value) /* no change: deletable (rule 1) */
		return TRY_NO;
	lin_save(s, f, j, true);
	s->v0 = s->value;
	s->value = nv;
	s->need = true;
	s->obits[j >> 6] |= UINT64_C(1) << (j & 63u);
	lin_lift(s->onext, s->oprev, j);
	enum lin_try t = lin_memo_visit(s);
	if (t != TRY_MOVED)
		lin_undo(s, f);
	return t;
}

/* A candidate read (GET, failed CAS) legal right now, or LIN_NONE.  When
 * there is one it is the only move tried from this configuration: see
 * "Reads do not branch" at the top. */
static uint32_t lin_find_read(const struct lin_search *s, int64_t minret)
{
	for (uint32_t j = s->rnext[s->nr]; j != s->nr && s->req_call[j] <= minret;
	     j = s->rnext[j]) {
		const struct lin_op *op = &s->ops[s->req[j]];
		if (op->kind == K_GET && op->value == s->value)
			return j;
		if (op->kind == K_CAS_FAIL && op->expected != s->value &&
		    (!s->need || op->expected == s->v0))
			return j;
	}
	return LIN_NONE;
}

/* The search.  On LIN_OK, if path is given, it receives the ops indices in
 * the order linearized (required ops and the optional ones used). */
static enum lin_verdict lin_run(struct lin_search *s, GArray *path)
{
	if (s->nr == 0)
		return LIN_OK; /* the empty order: every optional op never happened */
	struct lin_frame *stack = g_new(struct lin_frame, s->n + 1);
	uint32_t depth = 0;
	/* Where the search is among the moves from the current configuration:
	 * required candidates from slot `cur` on, then unknown ops after slot
	 * `after`, then none left. */
	enum { PH_REQ, PH_OPT, PH_NONE } phase = PH_REQ;
	bool fresh = true; /* first time at this configuration */
	lin_bury(s);
	uint32_t cur = s->rnext[s->nr], after = LIN_NONE;
	enum lin_verdict verdict;
	for (;;) {
		int64_t minret = lin_minret(s);
		enum lin_try t = TRY_NO;
		if (fresh) {
			fresh = false;
			uint32_t rd = lin_find_read(s, minret);
			if (rd != LIN_NONE) {
				/* The only move; TRY_NO means its successor was
				 * seen, so this configuration is a dead end. */
				t = lin_try_req(s, rd, &stack[depth]);
				stack[depth].forced = true;
				phase = PH_NONE;
			}
		}
		if (phase == PH_REQ) {
			for (uint32_t j = cur; j != s->nr && s->req_call[j] <= minret;
			     j = s->rnext[j])
				if ((t = lin_try_req(s, j, &stack[depth])) != TRY_NO)
					break;
			if (t == TRY_NO) {
				phase = PH_OPT;
				after = LIN_NONE;
			}
		}
		if (phase == PH_OPT && t == TRY_NO && s->no > 0)
			t = lin_try_opts(s, after, &stack[depth]);
		if (t == TRY_DONE) {
			depth++;
			verdict = LIN_OK;
			break;
		}
		if (t == TRY_BUDGET) {
			verdict = LIN_GAVE_UP;
			break;
		}
		if (t == TRY_MOVED) {
			depth++;
			phase = PH_REQ;
			fresh = true;
			cur = s->rnext[s->nr];
			continue;
		}
		if (depth == 0) {
			verdict = LIN_BAD;
			break;
		}
		/* Dead end: undo the last step and try its next sibling. */
		const struct lin_frame *f = &stack[--depth];
		lin_undo(s, f);
		if (f->forced) {
			phase = PH_NONE; /* no siblings: back up further */
		} else if (f->optional) {
			phase = PH_OPT;
			after = f->slot;
		} else {
			phase = PH_REQ;
			cur = s->rnext[f->slot];
		}
	}
	if (verdict == LIN_OK && path) {
		for (uint32_t d = 0; d < depth; d++) {
			uint32_t o = stack[d].optional ? s->opt[stack[d].slot]
						       : s->req[stack[d].slot];
			g_array_append_val(path, o);
		}
	}
	/* Leave the lists and bitsets as they were (the search may be rerun). */
	while (depth > 0)
		lin_undo(s, &stack[--depth]);
	lin_unbury(s, 0);
	g_free(stack);
	return verdict;
}

/* Search ops (in call order).  *stuck receives the ops index of the
 * required op whose return the search could never get past (LIN_BAD). */
static enum lin_verdict lin_search_ops(const struct lin_op *ops, uint32_t n, uint64_t budget,
				       uint64_t *explored, uint32_t *stuck, GArray *path)
{
	struct lin_search s;
	lin_search_init(&s, ops, n, budget);
	enum lin_verdict v = lin_run(&s, path);
	if (explored)
		*explored += s.explored;
	if (stuck)
		*stuck = v == LIN_BAD ? s.req[s.ret_order[s.max_ret_ptr]] : LIN_NONE;
	lin_search_free(&s);
	return v;
}

/* ---- shrinking the window ----------------------------------------------- */

struct lin_shrink {
	const struct lin_op *ops;
	uint32_t n;
	uint64_t budget;
	uint32_t checks;
	uint32_t stuck, source; /* kept no matter what (source may be LIN_NONE) */
	bool have_rf;
	uint32_t *rf;     /* ops index -> the write it read from in L, or LIN_NONE */
	GArray *lorder;   /* L: a linearization of everything but `stuck` */
	bool *mark;
	struct lin_op *sub;
};

/* Is the sub-history W (ops indices, ascending) not linearizable? */
static bool lin_shrink_bad(struct lin_shrink *k, const uint32_t *w, uint32_t wn)
{
	if (k->checks >= LIN_SHRINK_MAX_CHECKS)
		return false;
	k->checks++;
	for (uint32_t i = 0; i < wn; i++)
		k->sub[i] = k->ops[w[i]];
	return lin_search_ops(k->sub, wn, k->budget, NULL, NULL, NULL) == LIN_BAD;
}

/* Try dropping the ops of W flagged in drop[], less whatever the guards
 * keep; if what remains is still not linearizable, W becomes it and true
 * is returned. */
static bool lin_shrink_try(struct lin_shrink *k, GArray *W, const bool *drop)
{
	uint32_t *w = (uint32_t *)(void *)W->data;
	uint32_t wn = W->len;
	for (uint32_t i = 0; i < wn; i++)
		k->mark[w[i]] = !drop[i];
	k->mark[k->stuck] = true;
	if (k->source != LIN_NONE)
		k->mark[k->source] = true;
	if (k->have_rf) {
		/* Keep what kept ops read from, transitively: rf precedes in L,
		 * so one backwards pass suffices. */
		const uint32_t *l = (const uint32_t *)(void *)k->lorder->data;
		for (uint32_t i = k->lorder->len; i-- > 0;) {
			uint32_t o = l[i];
			if (k->mark[o] && k->rf[o] != LIN_NONE)
				k->mark[k->rf[o]] = true;
		}
	}
	GArray *cand = g_array_sized_new(FALSE, FALSE, sizeof(uint32_t), wn);
	for (uint32_t i = 0; i < wn; i++)
		if (k->mark[w[i]])
			g_array_append_val(cand, w[i]);
	bool ok = false;
	if (cand->len < wn && lin_shrink_bad(k, (uint32_t *)(void *)cand->data, cand->len)) {
		g_array_set_size(W, 0);
		g_array_append_vals(W, cand->data, cand->len);
		ok = true;
	}
	for (uint32_t i = 0; i < k->n; i++)
		k->mark[i] = false;
	g_array_free(cand, TRUE);
	return ok;
}

/* Shrink a non-linearizable ops array (call order) whose search got stuck
 * at `stuck`; returns the kept ops indices, ascending. */
static GArray *lin_shrink(const struct lin_op *ops, uint32_t n, uint32_t stuck, uint64_t budget)
{
	struct lin_shrink k = {
		.ops = ops,
		.n = n,
		.budget = budget ? budget : LIN_SHRINK_BUDGET,
		.stuck = stuck,
		.source = LIN_NONE,
	};
	k.rf = g_new(uint32_t, n);
	k.mark = g_new0(bool, n);
	k.sub = g_new(struct lin_op, n);
	k.lorder = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		k.rf[i] = LIN_NONE;

	/* The write the stuck op most plausibly read from: the latest-called
	 * write of the value it observed that was called before it returned. */
	const struct lin_op *b = &ops[stuck];
	if (b->kind == K_GET || b->kind == K_CAS_OK) {
		int64_t x = b->kind == K_GET ? b->value : b->expected;
		for (uint32_t i = 0; i < n && ops[i].call <= b->ret; i++)
			if (i != stuck && kind_writes(ops[i].kind) && ops[i].value == x)
				k.source = i;
	}

	/* Reads-from in a linearization L of everything but the stuck op.  Kept
	 * closed under rf, W minus the stuck op stays linearizable (L restricted
	 * to W is valid), so W's failure is about the stuck op. */
	{
		uint32_t *map = g_new(uint32_t, n);
		uint32_t m = 0;
		for (uint32_t i = 0; i < n; i++)
			if (i != stuck) {
				map[m] = i;
				k.sub[m++] = ops[i];
			}
		GArray *path = g_array_new(FALSE, FALSE, sizeof(uint32_t));
		if (lin_search_ops(k.sub, m, k.budget, NULL, NULL, path) == LIN_OK) {
			k.have_rf = true;
			uint32_t last = LIN_NONE;
			for (guint i = 0; i < path->len; i++) {
				uint32_t o = map[g_array_index(path, uint32_t, i)];
				g_array_append_val(k.lorder, o);
				if (kind_reads(ops[o].kind))
					k.rf[o] = last;
				if (kind_writes(ops[o].kind))
					last = o;
			}
		}
		g_array_free(path, TRUE);
		g_free(map);
	}

	GArray *W = g_array_sized_new(FALSE, FALSE, sizeof(uint32_t), n);
	for (uint32_t i = 0; i < n; i++)
		g_array_append_val(W, i);
	bool *drop = g_new0(bool, n);

	/* Grow a window around the stuck op (in call order, never past its
	 * return) until it is bad on its own: checks of small windows are
	 * cheap, whereas delta debugging from the whole history would re-refute
	 * most of it many times over.  The last step is the whole history up
	 * to the stuck op's return. */
	for (uint64_t radius = 0;; radius = radius ? radius * 2 : 1) {
		bool all = true;
		for (uint32_t i = 0; i < n; i++) {
			bool near = (uint64_t)(i <= stuck ? stuck - i : i - stuck) <= radius;
			drop[i] = !near || ops[i].call > b->ret;
			all &= near;
		}
		if (lin_shrink_try(&k, W, drop) || all)
			break;
	}

	/* Delta debugging: drop chunks of halving size; at size one, repeat
	 * until a whole pass drops nothing (no single op can go). */
	uint32_t chunk = W->len / 2 ? W->len / 2 : 1;
	for (;;) {
		bool progress = false;
		for (uint32_t start = 0; start < W->len;) {
			memset(drop, 0, W->len * sizeof(bool));
			for (uint32_t i = start; i < start + chunk && i < W->len; i++)
				drop[i] = true;
			if (lin_shrink_try(&k, W, drop))
				progress = true; /* W[start..] moved up: retry here */
			else
				start += chunk;
		}
		if (chunk == 1 && !progress)
			break;
		if (chunk > 1)
			chunk /= 2;
		if (chunk > W->len / 2 && W->len > 1)
			chunk = W->len / 2;
	}

	g_free(drop);
	g_free(k.rf);
	g_free(k.mark);
	g_free(k.sub);
	g_array_free(k.lorder, TRUE);
	return W;
}

/* ---- public API --------------------------------------------------------- */

struct au_lin_history *au_lin_new(void)
{
	struct au_lin_history *h = g_new0(struct au_lin_history, 1);
	h->entries = g_array_new(FALSE, FALSE, sizeof(struct au_lin_entry));
	return h;
}

void au_lin_free(struct au_lin_history *h)
{
	if (!h)
		return;
	g_array_free(h->entries, TRUE);
	g_free(h);
}

void au_lin_clear(struct au_lin_history *h)
{
	g_assert(h);
	g_array_set_size(h->entries, 0);
}

void au_lin_add(struct au_lin_history *h, const struct au_lin_entry *e)
{
	g_assert(h && e);
	g_assert(e->op == AU_LIN_GET || e->op == AU_LIN_PUT || e->op == AU_LIN_CAS ||
		 e->op == AU_LIN_DEL);
	g_assert(e->outcome == AU_LIN_OK || e->outcome == AU_LIN_FAIL ||
		 e->outcome == AU_LIN_UNKNOWN);
	/* A completed operation cannot return before it was called. */
	g_assert(e->outcome != AU_LIN_OK || e->call_ns <= e->return_ns);
	g_array_append_val(h->entries, *e);
}

static int64_t lin_entry_ret(const struct au_lin_entry *e)
{
	return e->outcome == AU_LIN_UNKNOWN ? INT64_MAX : e->return_ns;
}

static int lin_cmp_entries(const void *pa, const void *pb, void *ud)
{
	const struct au_lin_entry *E = ud;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const struct au_lin_entry *x = &E[a], *y = &E[b];
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->call_ns != y->call_ns)
		return x->call_ns < y->call_ns ? -1 : 1;
	int64_t rx = lin_entry_ret(x), ry = lin_entry_ret(y);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	/* Exact ties: order by content, so the search (and so the count of
	 * configurations and the window) does not depend on the order entries
	 * were added in; only entries identical in every field fall back to
	 * insertion order, and those are interchangeable. */
#define LIN_CMP_FIELD(f)                                                                   \
	if (x->f != y->f)                                                                  \
		return x->f < y->f ? -1 : 1;
	LIN_CMP_FIELD(op)
	LIN_CMP_FIELD(outcome)
	LIN_CMP_FIELD(value)
	LIN_CMP_FIELD(expected)
	LIN_CMP_FIELD(cas_ok)
	LIN_CMP_FIELD(client)
	LIN_CMP_FIELD(id)
#undef LIN_CMP_FIELD
	return a < b ? -1 : a > b;
}

/* The search's view of an entry; false if it constrains nothing. */
static bool lin_op_of(const struct au_lin_entry *e, uint32_t src, struct lin_op *op)
{
	if (e->outcome == AU_LIN_FAIL)
		return false;
	bool unknown = e->outcome == AU_LIN_UNKNOWN;
	op->call = e->call_ns;
	op->ret = unknown ? INT64_MAX : e->return_ns;
	op->value = e->value;
	op->expected = e->op == AU_LIN_CAS ? e->expected : 0;
	op->src = src;
	switch (e->op) {
	case AU_LIN_GET:
		if (unknown)
			return false;
		op->kind = K_GET;
		break;
	case AU_LIN_PUT:
		op->kind = unknown ? K_OPT_PUT : K_PUT;
		break;
	case AU_LIN_CAS:
		op->kind = unknown ? K_OPT_CAS : e->cas_ok ? K_CAS_OK : K_CAS_FAIL;
		break;
	case AU_LIN_DEL:
		/* "Absent" reads as 0, so a delete is a write of 0. */
		op->kind = unknown ? K_OPT_PUT : K_PUT;
		op->value = 0;
		break;
	}
	return true;
}

void au_lin_check(struct au_lin_history *h, uint64_t max_configurations,
		  struct au_lin_result *out)
{
	g_assert(h && out);
	memset(out, 0, sizeof(*out));
	out->linearizable = true;
	const struct au_lin_entry *E = (const struct au_lin_entry *)(void *)h->entries->data;
	g_assert(h->entries->len < LIN_NONE);
	uint32_t n = h->entries->len;
	if (n == 0)
		return;
	uint32_t *order = g_new(uint32_t, n);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	lin_sort_idx(order, n, lin_cmp_entries, (gpointer)E);

	struct lin_op *ops = g_new(struct lin_op, n);
	bool gave_up = false, bad = false;
	int64_t gave_up_key = 0;
	for (uint32_t a = 0; a < n && !bad;) {
		int64_t key = E[order[a]].key;
		uint32_t b = a, m = 0;
		for (; b < n && E[order[b]].key == key; b++)
			if (lin_op_of(&E[order[b]], order[b], &ops[m]))
				m++;
		a = b;
		uint32_t stuck;
		enum lin_verdict v = lin_search_ops(ops, m, max_configurations,
						    &out->configurations_explored, &stuck, NULL);
		if (v == LIN_GAVE_UP && !gave_up) {
			gave_up = true;
			gave_up_key = key;
		} else if (v == LIN_BAD) {
			bad = true;
			out->key = key;
			GArray *W = lin_shrink(ops, m, stuck, max_configurations);
			out->n_window = W->len;
			out->window = g_new(struct au_lin_entry, W->len);
			for (guint i = 0; i < W->len; i++)
				out->window[i] = E[ops[g_array_index(W, uint32_t, i)].src];
			g_array_free(W, TRUE);
		}
	}
	if (bad) {
		out->linearizable = false;
	} else if (gave_up) {
		out->linearizable = false;
		out->gave_up = true;
		out->key = gave_up_key;
	}
	g_free(ops);
	g_free(order);
}

void au_lin_result_free(struct au_lin_result *r)
{
	if (!r)
		return;
	g_free(r->window);
	r->window = NULL;
	r->n_window = 0;
}

/* Appends to buf[*pos..len), cutting what does not fit; buf stays
 * NUL-terminated. */
G_GNUC_PRINTF(4, 5)
static void lin_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	if (*pos + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	*pos += (size_t)w < len - *pos ? (size_t)w : len - *pos - 1;
}

void au_lin_format_window(const struct au_lin_result *r, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	buf[0] = '\0';
	size_t pos = 0;
	if (r->linearizable) {
		lin_appendf(buf, len, &pos, "linearizable (%" PRIu64 " configurations)\n",
			    r->configurations_explored);
		return;
	}
	if (r->gave_up) {
		lin_appendf(buf, len, &pos,
			    "unknown: search budget exhausted on key %" PRId64
			    " after %" PRIu64 " configurations\n",
			    r->key, r->configurations_explored);
		return;
	}
	lin_appendf(buf, len, &pos,
		    "not linearizable: key %" PRId64 ", %zu operations with no legal order:\n",
		    r->key, r->n_window);
	for (size_t i = 0; i < r->n_window; i++) {
		const struct au_lin_entry *e = &r->window[i];
		char what[96];
		const char *res = e->outcome == AU_LIN_FAIL ? " -> fail"
				  : e->outcome == AU_LIN_UNKNOWN ? " -> ?"
								 : "";
		switch (e->op) {
		case AU_LIN_GET:
			if (e->outcome == AU_LIN_OK)
				snprintf(what, sizeof(what), "GET -> %" PRId64, e->value);
			else
				snprintf(what, sizeof(what), "GET%s", res);
			break;
		case AU_LIN_PUT:
			snprintf(what, sizeof(what), "PUT %" PRId64 "%s", e->value, res);
			break;
		case AU_LIN_DEL:
			snprintf(what, sizeof(what), "DEL%s", res);
			break;
		case AU_LIN_CAS:
			snprintf(what, sizeof(what), "CAS %" PRId64 " -> %" PRId64 "%s", e->expected,
				 e->value,
				 e->outcome == AU_LIN_OK ? (e->cas_ok ? " -> ok" : " -> failed") : res);
			break;
		}
		char ret[32];
		if (e->outcome == AU_LIN_UNKNOWN)
			snprintf(ret, sizeof(ret), "?");
		else
			snprintf(ret, sizeof(ret), "%" PRId64, e->return_ns);
		char by[24] = "";
		if (e->server)
			snprintf(by, sizeof(by), "  by n%" PRIu32, e->server);
		lin_appendf(buf, len, &pos, "  client %-4" PRIu32 " %-32s [%" PRId64 ", %s]  id %" PRIu64 "%s\n",
			    e->client, what, e->call_ns, ret, e->id, by);
	}
}

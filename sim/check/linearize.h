/* linearize.h — linearizability checking of key-value client histories.
 *
 * Given what clients saw (each operation's call and return instants and its
 * result), decide whether some total order of the operations (a) respects
 * real time — an operation that returned before another was called comes
 * first — and (b) is a legal sequential history of the model (Herlihy &
 * Wing 1990).  This is what Jepsen's Knossos and Porcupine do; Aureon uses
 * it to judge the histories its KV workloads record.
 *
 * The model is a map of independent int64 registers, all initially 0 (an
 * absent key reads 0), with GET, PUT, compare-and-set and DEL (a PUT of
 * "absent", that is of 0).  Keys are checked
 * one at a time (P-compositionality: a history of independent objects is
 * linearizable iff each object's sub-history is), in increasing key order.
 *
 * The search is Wing & Gong's (1993), with Lowe's improvements ("Testing
 * for linearizability", Concurrency and Computation 29(4), 2017): visited
 * (linearized set, model state) configurations are memoised, and only
 * operations called before the earliest return among pending operations
 * are candidates.  Operations with unknown outcome are optional; see
 * linearize.c for how their cost is contained.
 *
 * Deterministic: results depend only on the entries added (not on
 * addresses, hash-table order, or the order entries with distinct
 * timestamps were added in).  No global state; all memory is owned here.
 */
#ifndef AU_LINEARIZE_H
#define AU_LINEARIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum au_lin_op {
	AU_LIN_GET, /* read the register; `value` is what was read */
	AU_LIN_PUT, /* write `value` */
	AU_LIN_CAS, /* if current == `expected` write `value`; `cas_ok` says which */
	AU_LIN_DEL, /* remove the key: a write of "absent", which reads as 0 */
};

enum au_lin_outcome {
	AU_LIN_OK,      /* completed; the result fields are known */
	AU_LIN_FAIL,    /* definitely did not take effect: ignored entirely */
	AU_LIN_UNKNOWN, /* timed out: may take effect at any instant after call_ns,
			 * or never; return_ns is ignored (treated as +infinity) */
};

/* One client operation.  For GET the result is `value`; for CAS it is
 * `cas_ok`.  Results of FAIL and UNKNOWN operations are not looked at (an
 * UNKNOWN CAS may have succeeded or not; an UNKNOWN GET constrains
 * nothing). */
struct au_lin_entry {
	uint32_t client;
	enum au_lin_op op;
	int64_t key;
	int64_t value;    /* PUT value, CAS new value, GET result */
	int64_t expected; /* CAS */
	bool cas_ok;      /* CAS result when OK */
	int64_t call_ns, return_ns; /* return ignored when UNKNOWN; call <= return */
	enum au_lin_outcome outcome;
	uint64_t id; /* the caller's id, e.g. a trace record index; copied, not used */
	uint32_t server; /* the node that answered (0: not known); copied, not used */
};

/* A history: a bag of entries in any order. */
struct au_lin_history;

/* What au_lin_check found.
 *
 * linearizable is true only when every key was searched to the end and
 * found linearizable.  When it is false, look at gave_up first:
 *  - gave_up false: `key` is the first key (in increasing order) proven
 *    not linearizable, and window[0..n_window) is a small set of that key's
 *    operations that is not linearizable by itself (see au_lin_check).
 *  - gave_up true: no key was proven bad, but the search of `key` (the
 *    first such) ran out of budget; nothing is claimed either way.
 * A key whose search gave up does not stop the check: a later key proven
 * bad is still reported (with gave_up false), since one bad key settles
 * the verdict for the whole history. */
struct au_lin_result {
	bool linearizable;
	bool gave_up;
	int64_t key;
	size_t n_window;
	struct au_lin_entry *window; /* in call order; owned by the result */
	uint64_t configurations_explored; /* by the searches of all keys checked
					   * (not those made to shrink the window) */
};

/* A new, empty history. */
struct au_lin_history *au_lin_new(void);

/* Free a history and everything it owns. NULL is allowed. */
void au_lin_free(struct au_lin_history *h);

/* Empty a history, keeping its memory for the entries added next (a
 * caller that checks many small histories reuses one). */
void au_lin_clear(struct au_lin_history *h);

/* Record one operation (copied). */
void au_lin_add(struct au_lin_history *h, const struct au_lin_entry *e);

/* Check the history.  max_configurations bounds each key's search (the
 * number of distinct configurations it may visit; 0 = no bound); when it
 * is reached the result says gave_up instead of a verdict.  The history is
 * not changed and may be checked again.  Free *out with
 * au_lin_result_free.
 *
 * The window of a bad key is a subset of its operations (never FAIL ones
 * or UNKNOWN GETs, which constrain nothing) that is not linearizable by
 * itself.  It contains the operation the search could not get past (for a
 * read of an impossible value, that read), and it is shrunk one operation
 * at a time while it stays non-linearizable — except that a write some
 * kept operation read from is not dropped, so that the window is not
 * linearizable because of that operation, not because shrinking left
 * another read unexplained.  Typically 1 to 5 operations. */
void au_lin_check(struct au_lin_history *h, uint64_t max_configurations,
		  struct au_lin_result *out);

/* Release what a result owns (the window); the struct itself is the
 * caller's.  Safe on a zeroed result. */
void au_lin_result_free(struct au_lin_result *r);

/* Describe a result for people: a headline, then one line per window
 * operation: client, op, arguments and result, [call, return], id, and
 * the node that answered when known ("by nK").
 * Always NUL-terminates when len > 0; output that does not fit is cut. */
void au_lin_format_window(const struct au_lin_result *r, char *buf, size_t len);

#endif

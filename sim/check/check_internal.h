/* check_internal.h — what the checkers share among themselves (check.c and
 * the check_*.c families): a run's checker state, and the helpers an
 * end-of-run judgement uses to say it reached no verdict.  They read the
 * engine's state through sim/engine/sim_internal.h and stop a run with
 * au_sim_violate.
 */
#ifndef AU_CHECK_INTERNAL_H
#define AU_CHECK_INTERNAL_H

#include "check.h"
#include "sim/engine/sim_internal.h"

struct au_checker_ops; /* check.c */

/* The trace kinds a checker's event function reacts to: ranges lo..hi
 * (inclusive), the list ended by {0, 0}.  The judge hands an event record
 * only to the checkers that list its kind (a table by kind, built when the
 * run starts: most records concern one or two checkers of a dozen), so a
 * checker that starts reading a kind adds it to its list.  A checker that
 * looks at every record (say, to poll a deadline on the clock) gives NULL
 * in check.c's table instead of a list. */
struct au_check_kinds {
	uint16_t lo, hi;
};
#define AU_CHECK_KIND(k) {(k), (k)}
#define AU_CHECK_KINDS_END {0, 0}

/* One checker that is on in a run. */
struct au_checker {
	const struct au_checker_ops *ops;
	void *state;
	const char *result; /* AU_VERDICT_*: pass until judged otherwise */
	bool ended;         /* its end-of-run judgement ran */
	char reason[160];   /* why, when result is not run or unknown */
};

/* The checkers of one run: the engine's judge state (au_sim_judge_state). */
struct au_checks {
	struct au_checker *checkers;
	size_t n_checkers;
	bool ending;          /* the end-of-run judgements are running */
	bool violated_at_end; /* the violation came from an end-of-run judgement */
	struct au_checker *judging; /* the checker whose end-of-run judgement runs */
	uint64_t lin_budget;  /* linearizable_kv's search budget per key; 0: the default */
	/* Set on a replay that replicas_agree runs to see a replica's state at
	 * an index it has since left (check_replicas.c); NULL otherwise. */
	struct au_replica_capture *replica_capture;
	/* The event dispatch (check.c): the calls for kind k are
	 * by_kind_calls[j] for j in [by_kind[k], by_kind[k + 1]), in table
	 * order; k = AU_CHECK_KIND_SLOTS stands for every kind beyond. */
	uint16_t *by_kind;
	struct au_check_call *by_kind_calls;
};

/* One entry of the event dispatch: a checker's event function and state,
 * copied out of it so that a record's calls read one flat array. */
struct au_check_call {
	void (*event)(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		      int64_t b, int64_t c);
	void *state;
	size_t checker; /* index in checkers[] */
};

/* The checkers of `sim`, or NULL if none is on. */
static inline struct au_checks *au_checks_of(const struct au_sim *sim)
{
	return au_sim_judge_state(sim);
}

/* For a checker's end-of-run judgement: it reaches no verdict.  `verdict`
 * is AU_VERDICT_NOT_RUN (the judgement could not be made, e.g. the run
 * ended before a liveness window closed) or AU_VERDICT_UNKNOWN (it was
 * attempted and could not decide, e.g. a search budget ran out); the
 * reason is shown beside it.  A verdict never claims more than was
 * checked. */
void au_check_no_verdict(struct au_sim *sim, const char *verdict, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
/* A simulated time as seconds for reasons and messages: "1.86s", "30s". */
void au_check_format_time(au_time t, char *buf, size_t len);
/* The checkers as the engine's judge (check.c). */
extern const struct au_sim_judge au_check_judge;
/* Known check names for scenario validation; NULL-terminated. */
extern const char *const au_check_names[];
/* The service a check needs, or NULL. */
const char *au_check_service(const char *check);

/* The state of the checker called `name` in this run, or NULL (tests). */
void *au_check_state(struct au_sim *sim, const char *name);

/* linearizable_kv (check_lin.c): the KV history checked in segments
 * released as the run goes; `kv_clients` is how many clients report (0: keep
 * the whole history to the end). */
struct au_lin_check;
struct au_kv_history_row;
struct au_lin_check *au_lin_check_new(struct au_sim *sim, uint32_t kv_clients);
void au_lin_check_row(struct au_lin_check *L, const struct au_kv_history_row *row,
		      uint64_t record, au_node_id server);
void au_lin_check_end(struct au_lin_check *L);
/* Report a window of operations with no legal order as the run's violation,
 * placed at its operations (check.c; also printed on stderr). */
struct au_lin_result;
void au_check_lin_report(struct au_sim *sim, const struct au_lin_result *res);
void au_lin_check_note(void *st, struct au_sim *sim, char *buf, size_t len);
void au_lin_check_free(struct au_lin_check *L);

#endif

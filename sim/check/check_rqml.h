/* check_rqml.h — the checkers of RQML and ONE (check_rqml.c), as entry
 * points check.c lists in its checker table.
 *
 *   exactly_once_one         every job has at most one ONE record: every
 *                            replica stores a job at the same log index with
 *                            the same digest (replays after a restart store
 *                            it again at that index; a second write would
 *                            carry another).
 *   results_match_reference  the checker runs every job itself with the
 *                            sequential reference runner (kernels.h) and the
 *                            job's policy: each aggregated round's residual,
 *                            the final round count, verdict and digest, and
 *                            the digest stored in ONE must equal the
 *                            reference's bit for bit.
 *   rounds_monotone          on every replica a job's rounds are aggregated
 *                            1, 2, 3, ... (a restart starts over from what the
 *                            node recovers), and replicas agree on each
 *                            round's residual.
 *   shards_once              every aggregated round used each of its shards
 *                            exactly once, and each with the fencing token of
 *                            the result the task queue accepted for it.
 *   jobs_recorded            every job that finished (converged, or ended by
 *                            max_rounds or the stall policy) has exactly one
 *                            ONE record, stored only after the job finished,
 *                            whose digest, rounds, verdict, kind and parent
 *                            are the job's; a job still unrecorded at the end
 *                            fails only if it finished, and the faults were
 *                            over, at least max(5 s, 3 enqueue_retry) before.
 */
#ifndef AU_CHECK_RQML_H
#define AU_CHECK_RQML_H

#include "check_internal.h"

void *au_eo_create(struct au_sim *sim);
void au_eo_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c);
void au_eo_destroy(void *st);
extern const struct au_check_kinds au_eo_kinds[];

/* The three RQML checkers share one implementation; `create` picks which. */
void *au_rqml_ref_create(struct au_sim *sim);
void *au_rqml_mono_create(struct au_sim *sim);
void *au_rqml_shards_create(struct au_sim *sim);
void au_rqml_check_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c);
void au_rqml_check_destroy(void *st);
/* What any of the three reads (the union of their kinds). */
extern const struct au_check_kinds au_rqml_check_kinds[];

void *au_jr_create(struct au_sim *sim);
void au_jr_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c);
void au_jr_end(void *st, struct au_sim *sim);
void au_jr_destroy(void *st);
extern const struct au_check_kinds au_jr_kinds[];

#endif

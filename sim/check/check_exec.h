/* check_exec.h — the execution layer's checkers (check_exec.c), as the
 * entry points check.c's table lists: no_task_lost, exactly_once,
 * lease_placement, lock_safety, lease_expiry. */
#ifndef AU_CHECK_EXEC_H
#define AU_CHECK_EXEC_H

#include "check_internal.h"

void *au_check_ntl_create(struct au_sim *sim);
void *au_check_eo_create(struct au_sim *sim);
void *au_check_lp_create(struct au_sim *sim);
void *au_check_ls_create(struct au_sim *sim);
/* One event function for all four (each instance knows its role). */
void au_check_exec_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c);
/* no_task_lost's end-of-run verdict; the others judge every record as it
 * comes and have none. */
void au_check_ntl_end(void *st, struct au_sim *sim);
/* The four share one view of the queue and locks: checks_start hands this
 * the states of those on in the run (1 to 4), in table order, once they
 * are all created and before the first record. */
void au_check_exec_link(struct au_sim *sim, void *const *states, size_t n);
void au_check_exec_destroy(void *st);
extern const struct au_check_kinds au_check_exec_kinds[];

/* lease_expiry: leases end by timeout neither before nor (beyond one
 * expiry scan) after a lease on the leader's own clock. */
void *au_check_le_create(struct au_sim *sim);
void au_check_le_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c);
void au_check_le_end(void *st, struct au_sim *sim);
/* What it judged: expiries proposed, how long after the lease ran out. */
void au_check_le_note(void *st, struct au_sim *sim, char *buf, size_t len);
void au_check_le_destroy(void *st);
extern const struct au_check_kinds au_check_le_kinds[];

#endif

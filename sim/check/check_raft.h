/* check_raft.h — the Raft checkers (check_raft.c), registered in check.c's
 * table:
 *
 *   raft_safety          Election Safety, Log Matching, Leader Append-Only,
 *                        Leader Completeness and State Machine Safety, and
 *                        that no committed entry is ever lost, judged from
 *                        the chain (a hash of the log prefix) Raft traces
 *                        with every entry;
 *   leader_within        ([check] liveness = leader_within:T) once the
 *                        faults are over, a leader within T;
 *   replicas_caught_up   ([check] liveness = replicas_caught_up:T) at the
 *                        end, every voter that is up has applied what was
 *                        committed T before the end.
 */
#ifndef AU_CHECK_RAFT_H
#define AU_CHECK_RAFT_H

#include "check_internal.h"

void *au_check_rs_create(struct au_sim *sim);
void au_check_rs_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c);
void au_check_rs_destroy(void *st);
extern const struct au_check_kinds au_check_rs_kinds[];
/* "log indexes below F released ..., N kept" once the window moved. */
void au_check_rs_note(void *st, struct au_sim *sim, char *buf, size_t len);

void *au_check_lw_create(struct au_sim *sim);
void au_check_lw_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c);
void au_check_lw_end(void *st, struct au_sim *sim);
void au_check_lw_destroy(void *st);
extern const struct au_check_kinds au_check_lw_kinds[];

void *au_check_cu_create(struct au_sim *sim);
void au_check_cu_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		       int64_t b, int64_t c);
void au_check_cu_end(void *st, struct au_sim *sim);
void au_check_cu_destroy(void *st);
extern const struct au_check_kinds au_check_cu_kinds[];

#endif

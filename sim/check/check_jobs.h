/* check_jobs.h — job_lifecycle (check_jobs.c): the task queue's jobs keep
 * their lifecycle (cancelled jobs never finish, failed jobs have a reason,
 * requeued dead letters run again), as the entry points check.c lists. */
#ifndef AU_CHECK_JOBS_H
#define AU_CHECK_JOBS_H

#include "check_internal.h"

void *au_check_jobs_create(struct au_sim *sim);
void au_check_jobs_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c);
/* Requeued dead letters that never ran again. */
void au_check_jobs_end(void *st, struct au_sim *sim);
/* How many jobs, cancels, failures, requeues and refused acks it saw. */
void au_check_jobs_note(void *st, struct au_sim *sim, char *buf, size_t len);
void au_check_jobs_destroy(void *st);
extern const struct au_check_kinds au_check_jobs_kinds[];

#endif

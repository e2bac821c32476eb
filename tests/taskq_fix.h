/* taskq_fix.h — a task queue machine driven by hand in tests (test_exec.c,
 * test_jobs.c): batches built with the au_taskq_batch encoders, applied as
 * consecutive log entries, the events of the last entry kept. */
#ifndef AU_TEST_TASKQ_FIX_H
#define AU_TEST_TASKQ_FIX_H

#include <glib.h>
#include <stdint.h>

#include "taskq.h"

struct qfix {
	struct au_taskq *q;
	uint64_t index;          /* the last log index applied */
	struct au_taskq_batch b; /* the next entry being built */
	GArray *events;          /* struct au_taskq_event of the last entry (task pointers dropped) */
};

void qfix_init(struct qfix *f);
void qfix_free(struct qfix *f);
/* Apply the batch built so far as the next log entry (every op must apply). */
void qfix_commit(struct qfix *f);

#endif

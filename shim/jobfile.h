/* jobfile.h — the job files of `aureon-ctl submit` (shim/README.md
 * "JOB.ini"): one [job] group describing an RQML job (pagerank, jacobi,
 * kmeans: the fields of rqml.h's job spec, defaulting to the cluster's
 * [workload] KIND_* keys) or plain tasks for the task queue's synthetic
 * executor.  Read strictly with config/keys.h: every error names the file,
 * the group and the key.
 */
#ifndef AU_SHIM_JOBFILE_H
#define AU_SHIM_JOBFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "ctlproto.h"

struct au_jobfile {
	bool rqml;
	uint64_t job;
	struct au_ctl_submit_req q; /* plain tasks */
	struct au_ctl_job_req r;    /* an RQML job */
};

/* The job of a task `aureon-ctl submit` enqueued (its ids are
 * 1 << 62 | job << 20 | i, see jobfile.c); 0 for any other id. */
static inline uint64_t au_jobfile_job_of(uint64_t task_id)
{
	return (task_id >> 62) == 1 ? (task_id >> 20) & ((UINT64_C(1) << 30) - 1) : 0;
}

/* Read job file `path` for cluster `c`; `random64` draws the job number
 * (when the file gives none) and the request nonces.  On error false and
 * *err = "FILE: [group] key: what" (caller frees). */
bool au_jobfile_load(const char *path, const struct au_cluster *c, uint64_t (*random64)(void),
		     struct au_jobfile *j, char **err);

#endif

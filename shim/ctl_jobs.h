/* ctl_jobs.h — aureon-ctl's `job` and `dead` commands (ctl_jobs.c): the
 * task queue's jobs and dead letters, through the control protocol's
 * jobctl.h requests.  ctl_main.c parses the command line and hands over
 * with au_ctl_jobs_run, passing how to reach the leader. */
#ifndef AU_SHIM_CTL_JOBS_H
#define AU_SHIM_CTL_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

/* How ctl_jobs.c reaches the leader: `call` sends req to the leader's
 * control service until it answers DONE, `decode` recognising its reply
 * (ctl_main.c's leader_call); returns an exit code. */
struct au_ctl_jobs_env {
	void *ctx;
	int (*call)(void *ctx, const uint8_t *req, size_t len,
		    bool (*decode)(void *dctx, const uint8_t *p, size_t len, uint8_t *answer,
				   au_node_id *hint),
		    void *dctx, const char *what, int64_t timeout_ns);
	int64_t timeout_ns;
};

/* The usage lines of the commands. */
extern const char *const au_ctl_jobs_usage;

/* Check `cmd` ("job" or "dead") and its arguments; false with *err (a
 * usage message, caller frees).  *id: the JOB or TASK argument (0: none). */
bool au_ctl_jobs_parse(const char *cmd, int nargs, char **args, uint64_t *id, char **err);

/* Run it; prints results on stdout (`json`: one JSON object per line) and
 * returns an exit code. */
int au_ctl_jobs_run(const struct au_ctl_jobs_env *env, const char *cmd, int nargs, char **args,
		    bool json);

#endif

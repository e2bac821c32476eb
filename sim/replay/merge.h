/* merge.h — `aureon-sim replay DIR --check`: the recorded boots of every
 * node replayed together, in one driven run of the engine, with every
 * checker on.
 *
 * Each boot is replayed as `aureon-sim replay` replays it alone (its
 * recorded inputs and answers, checkpoints compared), but all of them on
 * one timeline: each input at its boot's clock anchor plus the node's time
 * of it, the earliest first (ties: node, then boot).  The models' trace
 * events and table rows go to the engine's trace hash, trace file and
 * checkers; a boot ends with its stop record, or, killed, after its last
 * input when the node boots again; a datagram fed to a model is matched
 * with its replayed send (message fate and delay).  See docs/replay.md.
 */
#ifndef AU_SIM_REPLAY_MERGE_H
#define AU_SIM_REPLAY_MERGE_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

#include "env.h"
#include "sim/replay/reclog_read.h"

struct au_merge_opts {
	const char *dir;        /* for messages */
	const char *trace_path; /* HDF5 trace of the replayed run, or NULL */
	bool force;             /* overwrite trace_path */
	FILE *dump;             /* one text line per trace record, or NULL */
	const char *version;    /* aureon-sim's, for the trace file */
	char **skip;            /* checks left out (NULL-terminated), or NULL */
	const char *scenario_out; /* --to-scenario FILE, or NULL */
	bool partial;           /* replay even if some nodes have no log */
};

/* Replay `boots` (au_rl_load_dir's, sorted by node then epoch) in one
 * driven run and print what happened to `out`.  Returns 0 every boot exact
 * and every check held, 1 a boot diverged or a check failed, 2 the logs
 * cannot be merged (version 1, several cluster files, a node without a
 * log unless `partial`) or a file cannot be written (message on stderr). */
int au_merge_run(GPtrArray *boots, const struct au_merge_opts *o, FILE *out);

/* The scenario text a merged replay runs under: [run] (name, duration),
 * and the recorded cluster file's [cluster] and service groups.
 * g_malloc'd, or NULL with *err. */
char *au_merge_scenario_text(const struct au_rl_boot *b, const char *name, au_time duration, char **err);

#endif

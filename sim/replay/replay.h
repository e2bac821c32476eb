/* replay.h — `aureon-sim replay DIR`: feed one node's recorded inputs
 * (`aureon-node --record`, core/reclog.h) to the same models, built from
 * the same cluster text and seeded with the same seed, through an env that
 * answers every call as the real node did, and compare the checkpoints the
 * node logged (raft's state digest, term and commit index; the digest of
 * everything the models did through env.h) with the replayed ones.
 *
 * Each boot (node, epoch) is replayed on its own: its reads at boot are in
 * the log, so no earlier boot is needed.  See docs/replay.md for what a
 * replay does not do yet (several nodes in one simulated schedule,
 * checkers, --to-scenario).
 */
#ifndef AU_SIM_REPLAY_H
#define AU_SIM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/replay/reclog_read.h"

enum au_replay_outcome {
	AU_REPLAY_EXACT = 0,      /* every input replayed, every checkpoint equal */
	AU_REPLAY_DIVERGED = 1,   /* a model asked for something else, or a checkpoint differs */
	AU_REPLAY_UNSUPPORTED = 2,/* an input this replay cannot feed (a control command, a stray op) */
	AU_REPLAY_BAD_CONFIG = 3, /* the recorded cluster text does not load here */
};

struct au_replay_result {
	enum au_replay_outcome outcome;
	uint64_t inputs;       /* input records replayed */
	uint64_t checkpoints;  /* checkpoints compared (all equal unless diverged) */
	bool stopped;          /* the log ends with a clean stop */
	uint64_t at_record;    /* DIVERGED / UNSUPPORTED: the record */
	uint32_t at_seg;
	uint64_t at_off;
	char what[512];        /* what differed, or why it stopped */
	uint64_t raft_digest, raft_term, raft_commit; /* at the last checkpoint */
};

/* Replay one boot. */
void au_replay_boot(const struct au_rl_boot *b, struct au_replay_result *res);

/* The subcommand: `aureon-sim replay DIR [--node nK]`.  Exit 0 every boot
 * exact, 1 one diverged or could not be replayed, 2 usage or a truncated,
 * corrupt or unreadable log. */
int au_replay_main(int argc, char **argv);

#endif

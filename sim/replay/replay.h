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

#include "env.h"
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

/* Print a replayed boot's outcome (not AU_REPLAY_BAD_CONFIG) as the rest
 * of its line: "exact: N inputs, C checkpoints equal (last: raft ...)"
 * then ", clean stop" or `unstopped` (with its newline), or "DIVERGED at
 * record ..." / "not replayable at record ...".  True if the boot counts
 * as replayed exactly: exact with a checkpoint compared, or with no input
 * at all (a note line, after `indent`, says so). */
bool au_replay_print_outcome(FILE *out, const struct au_rl_boot *b, const struct au_replay_result *r,
			     const char *unstopped, const char *indent);

/* ---- one boot's replay, stepped (merged replays, merge.c) --------------- */

struct au_rb;

/* Who listens to the replayed models of a merged replay: their trace
 * events and table rows, their sends, and the datagrams fed to them.
 * Any callback may be NULL. */
struct au_rb_sink {
	void *ctx;
	void (*trace)(void *ctx, au_node_id node, uint16_t kind, int64_t a, int64_t b, int64_t c);
	void (*row)(void *ctx, au_node_id node, uint32_t service, uint32_t table, const void *row);
	void (*send)(void *ctx, au_node_id node, uint32_t service, au_node_id to, const void *msg, size_t len);
	void (*recv)(void *ctx, au_node_id node, uint32_t service, au_node_id from, const void *msg, size_t len);
};

/* Build the boot's services from its recorded cluster text (not started
 * yet); NULL with res->outcome AU_REPLAY_BAD_CONFIG and the reason.  `res`
 * is filled as the replay goes and must outlive it. */
struct au_rb *au_rb_open(const struct au_rl_boot *b, const struct au_rb_sink *sink, struct au_replay_result *res);
/* The next input: true with the node's local time of it and its record
 * type (checkpoints on the way are compared; a STOP is returned once, with
 * its time, and ends the replay).  False at the end of the log, or when
 * the replay stopped (res says why: diverged, or not replayable). */
bool au_rb_next(struct au_rb *rb, au_time *t, unsigned *type);
/* Feed the input au_rb_next announced to the models; false if they
 * diverged (res says where and how). */
bool au_rb_feed(struct au_rb *rb);
/* A service's state (NULL before the boot record). */
void *au_rb_state(struct au_rb *rb, uint32_t service);
/* The log has ended: env calls from now on (a model's run_end) are
 * answered without being checked against it. */
void au_rb_detach(struct au_rb *rb);
/* Destroy the services and the replay. */
void au_rb_free(struct au_rb *rb);

/* The subcommand: `aureon-sim replay DIR [--node nK]`, or `--check` for
 * every node in one run with the checkers on (merge.h).  Exit 0 every boot
 * exact (and every check held), 1 one diverged, could not be replayed or
 * failed a check, 2 usage or a truncated, corrupt or unreadable log.
 * `version` is aureon-sim's (for trace files). */
int au_replay_main(int argc, char **argv, const char *version);

#endif

/* sim.h — the engine: runs a scenario's virtual nodes over the simulated
 * network and disks, applies its faults, feeds every trace record to the
 * trace hash, the trace file and the judge (the checkers, sim/check), and
 * reports what happened.
 */
#ifndef AU_SIM_H
#define AU_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/scenario/scenario.h"

struct au_sim;

/* Message fates, as recorded in /messages. */
enum au_fate {
	AU_FATE_DELIVERED,
	AU_FATE_DROPPED,     /* random loss */
	AU_FATE_PARTITIONED, /* cut by a partition */
	AU_FATE_DUPLICATED,  /* the extra copy of a duplicated message, delivered */
	AU_FATE_CORRUPTED,   /* delivered with a flipped bit */
	AU_FATE_DST_DOWN,    /* arrived at a crashed node */
	AU_FATE_COUNT_
};

const char *au_fate_name(enum au_fate f);

/* Counters a run accumulates; read after au_sim_run. */
struct au_sim_stats {
	uint64_t events;          /* events processed by the engine */
	uint64_t records;         /* trace records hashed */
	uint64_t messages_sent;
	uint64_t fates[AU_FATE_COUNT_];
	uint64_t faults_applied;
	uint64_t faults_skipped;  /* e.g. crash of a random node when none is up */
	uint64_t timers_fired;
	uint64_t syncs_completed;
	uint64_t torn_writes, lost_writes, kept_writes; /* unsynced writes at crashes */
	uint64_t storage_errors[AU_STORAGE_OPS_]; /* operations the disk failed, by op */
	au_time sim_time_ns;
	uint64_t peak_pending;
	uint64_t shared_builds, shared_hits; /* shared inputs built, and handed out again */
};

/* A check that failed: which, when, where, and the trace record index.
 * When and where are those of the offending operation(s), not of the
 * moment the checker judged: a check that judges as events happen reports
 * the event (t_ns == judged_ns); one that judges a window of operations at
 * the end (linearizable_kv) reports the operation that closed the window
 * (the last to return) and the node that served it, with the window. */
struct au_violation {
	char check[64];
	au_time t_ns;        /* simulated time of the offending operation(s) */
	au_node_id node;     /* the node that served them (0: none known) */
	uint64_t record;     /* trace record of the offending operation */
	char detail[256];
	au_time judged_ns;   /* when the checker ran */
	/* A window of operations judged together (has_window): from the first
	 * call to the last return, its operation count and trace records, and
	 * one line per operation (au_lin_format_window's lines). */
	bool has_window;
	au_time window_lo_ns, window_hi_ns;
	uint32_t window_ops;
	uint64_t window_first_record, window_last_record;
	char window_text[1024];
};

/* What judges a run: the checkers register one (sim/check,
 * au_check_register).  The engine gives it every event record and every
 * model table row right after the record is hashed, and asks for its
 * end-of-run judgement when the run ends; the judge stops a run with
 * au_sim_violate (sim_internal.h).  Without one, runs are not judged. */
struct au_sim_judge {
	/* Its state for a new run; NULL: nothing to judge in this one. */
	void *(*start)(struct au_sim *sim);
	void (*event)(void *st, struct au_sim *sim, uint64_t record, au_node_id node,
		      uint16_t kind, int64_t a, int64_t b, int64_t c);
	void (*row)(void *st, struct au_sim *sim, uint64_t record, au_node_id node,
		    uint32_t service, uint32_t table, const void *row);
	void (*end)(void *st, struct au_sim *sim);
	void (*free)(void *st);
};
/* The judge of every simulation made from now on. */
void au_sim_register_judge(const struct au_sim_judge *judge);
/* The judge's state for this run, or NULL. */
void *au_sim_judge_state(const struct au_sim *sim);

/* Build a simulation of scenario `sc` (which must outlive it) with `seed`.
 * Models are not started until au_sim_run. */
struct au_sim *au_sim_new(const struct au_scenario *sc, uint64_t seed);
void au_sim_free(struct au_sim *sim);

/* Write one text line per trace record to `f` (index, time, node, kind,
 * fields) for divergence hunting; NULL turns it off. */
void au_sim_set_record_dump(struct au_sim *sim, FILE *f);
struct au_h5;
/* Write every trace record into an HDF5 trace file (see trace_h5.h); the
 * caller creates and closes it. */
void au_sim_set_trace_file(struct au_sim *sim, struct au_h5 *h5);
/* Stop after this many processed events (0: no limit); used by benches. */
void au_sim_set_max_events(struct au_sim *sim, uint64_t max_events);

/* Run until simulated time `until` (inclusive), the event budget, or a
 * violation.  Returns 0 if every check held, 1 on a violation.  A
 * violation ends the run at once, as au_sim_finish does (models record
 * what is in flight, e.g. a KV client's operation as unknown, then
 * RUN_END) except that no end-of-run judgement is made: those checks are
 * "not run". */
int au_sim_run(struct au_sim *sim, au_time until);

/* End the run: models record what is still in flight (a KV client's
 * operation, as unknown), RUN_END is recorded, and the checkers give their
 * end-of-run verdicts.  Call after the last au_sim_run, whatever it
 * returned; idempotent (a run a violation stopped has already ended).
 * Returns 0 if every check held, 1 otherwise.  Running in slices and then
 * finishing gives the same trace as one run to the same time. */
int au_sim_finish(struct au_sim *sim);

const struct au_sim_stats *au_sim_stats(const struct au_sim *sim);
/* Hex SHA-256 of every trace record so far, in order (65 bytes). */
void au_sim_trace_hash(struct au_sim *sim, char out[65]);
/* The violation, or NULL if none. */
const struct au_violation *au_sim_violation(const struct au_sim *sim);
/* One summary line per model on node `node` (empty if the node is down). */
void au_sim_model_summary(struct au_sim *sim, au_node_id node, uint32_t service, char *buf,
			  size_t len);

/* What became of a scenario fault (by its index in sc->faults). */
enum au_fault_outcome {
	AU_FAULT_PENDING,     /* has not fired (yet) */
	AU_FAULT_WAS_APPLIED, /* fired and acted */
	AU_FAULT_WAS_SKIPPED, /* fired with no eligible target */
};
enum au_fault_outcome au_sim_fault_outcome(const struct au_sim *sim, uint32_t idx);

/* Called for every event record after it is hashed (the chaos sweep's
 * coverage counters); NULL turns it off.  Observers only watch: they must
 * not change the simulation. */
typedef void (*au_sim_observer)(void *ctx, au_time t, au_node_id node, uint16_t kind,
				int64_t a, int64_t b, int64_t c);
void au_sim_set_observer(struct au_sim *sim, au_sim_observer fn, void *ctx);

/* The model's end-of-run report over all server nodes (model.h `report`),
 * g_malloc'd, or NULL if it has none.  The caller g_frees it. */
char *au_sim_model_report(struct au_sim *sim, uint32_t service);

/* Test hooks: the env a service instance sees, and a stream's next output.*/
const struct au_env *au_sim_env(struct au_sim *sim, au_node_id node, uint32_t service);

/* The run's shared read-only input under `key` (env.h, shared_input: the
 * SHA-256 of the `spec` bytes), built with build() on first use and freed
 * with destroy() by au_sim_free; NULL if the key does not match the bytes
 * or build fails.  Checkers use it too, to share the nodes' copy. */
const void *au_sim_shared_input(struct au_sim *sim, const uint8_t key[32], const void *spec,
				size_t spec_len, void *(*build)(const void *spec, size_t len),
				void (*destroy)(void *obj));
bool au_sim_node_up(const struct au_sim *sim, au_node_id node);
/* The node fault `idx` (index into the scenario's faults) acted on when it
 * fired: 0 if it has not fired, was skipped, or acts on no single node. */
au_node_id au_sim_fault_node(const struct au_sim *sim, uint32_t idx);
/* Read a node's durable (synced) bytes of a file, for disk-model tests. */
int64_t au_sim_durable_read(struct au_sim *sim, au_node_id node, const char *file,
			    uint64_t off, void *buf, size_t len);

/* ---- driven runs (drive.c) ----------------------------------------------
 * A run in which the engine does not run the models: the caller
 * (`aureon-sim replay --check`, sim/replay/merge.c) runs them itself, from
 * recorded inputs, and hands the engine what happened, in time order.
 * Everything downstream is the ordinary run's: the trace hash, the text
 * dump, the HDF5 trace, the checkers (which read each node's model states
 * through the states given here) and au_sim_finish's end-of-run verdicts.
 * No event queue, network, disk or fault of the scenario is used. */

/* Start a driven run of `sim` (instead of au_sim_run): nothing boots. */
void au_sim_drive_begin(struct au_sim *sim);
/* Move the run's clock to t (never backwards: an earlier t keeps the
 * current time) and count one processed event. */
void au_sim_drive_time(struct au_sim *sim, au_time t);
/* Node n starts (traced NODE_BOOT, a=epoch, or NODE_RESTART, b=-1: not a
 * scenario fault); its services' states follow with au_sim_drive_states
 * once the caller has built them (their boot traces come in between, as
 * in an ordinary run). */
void au_sim_drive_boot(struct au_sim *sim, au_node_id n, bool restart);
/* Node n's service states, one per scenario service (NULL: it does not
 * run that one); the checkers read them as an ordinary run's. */
void au_sim_drive_states(struct au_sim *sim, au_node_id n, void *const *states);
/* Node n goes down (traced NODE_CRASH, b=-1: not a scenario fault); the
 * engine forgets its states without destroying them (the caller owns
 * them). */
void au_sim_drive_down(struct au_sim *sim, au_node_id n);
/* A model's trace event, or table row, on node n, as if it had made the
 * env call itself.  These and au_sim_drive_message record nothing once a
 * check has stopped the run. */
void au_sim_drive_event(struct au_sim *sim, au_node_id n, uint16_t kind, int64_t a, int64_t b,
			int64_t c);
void au_sim_drive_row(struct au_sim *sim, au_node_id n, uint32_t service, uint32_t table, const void *row);
/* A message's fate (recorded when [trace] record_messages is on). */
void au_sim_drive_message(struct au_sim *sim, au_time send_ns, au_time recv_ns, au_node_id src,
			  au_node_id dst, uint8_t service, uint32_t bytes, enum au_fate fate);
/* After au_sim_finish: the engine forgets every node's states without
 * tracing anything (the caller destroys them), so au_sim_free leaves them. */
void au_sim_drive_end(struct au_sim *sim);
/* Whether a check stopped the run (the caller stops feeding it). */
bool au_sim_drive_stopped(const struct au_sim *sim);

#endif

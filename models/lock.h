/* lock.h — replicated locks with fencing tokens: a Raft state machine
 * (machine id AU_LOCK_MACHINE) beside the task queue.
 *
 * lock(key, owner, deadline) grants the key if it is free (an owner asking
 * again for a key it holds renews it) and returns a fencing token; unlock
 * releases it; expire is proposed by the leader when, on its own clock, the
 * lock has gone its ttl without a grant or renewal (followers never judge
 * time, and stored deadlines are informational, as in taskq.h).  Each
 * key also guards a value: write(key, token, value) is accepted only while
 * `token` is the key's current holder's token, so a holder that was paused
 * past its expiry and wakes up believing it still holds the lock has its
 * writes rejected — the fencing that makes locks safe whatever clocks and
 * pauses do.  Tokens are (log index << 16 | k), unique and increasing.
 *
 * Pure and deterministic like taskq.c; commands are batches built with
 * au_lock_add_* and submitted by the leader's orchestrator.
 */
#ifndef AU_LOCK_H
#define AU_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "taskq.h" /* struct au_taskq_batch */

#define AU_LOCK_MACHINE 4u       /* Raft machine id (kv 1, task queue 2, ONE 3) */

enum au_lock_event_type {
	AU_LOCK_EV_GRANTED,   /* key, owner, token */
	AU_LOCK_EV_BUSY,      /* key, owner: held by someone else */
	AU_LOCK_EV_RELEASED,  /* key, owner, token, reason: 0 unlock, 1 expired */
	AU_LOCK_EV_WRITE,     /* key, owner, token, value, accepted */
};

/* An owner is a node and its incarnation: owner = node << 32 | incarnation,
 * so a node that restarted is a new owner. */
#define AU_LOCK_OWNER(node, inc) ((uint64_t)(node) << 32 | (uint32_t)(inc))

struct au_lock_event {
	enum au_lock_event_type type;
	uint64_t index;
	uint64_t key, token;
	uint64_t owner;
	int64_t value;
	bool accepted;
	uint32_t reason;
};

typedef void (*au_lock_observer)(void *ctx, const struct au_lock_event *ev);

struct au_locks;
struct au_raft;

struct au_locks *au_locks_new(const struct au_env *env); /* env: traces only */
void au_locks_attach(struct au_locks *l, struct au_raft *raft);
void au_locks_free(struct au_locks *l);
/* Subscribe to apply effects (at most 4); 0 or -AU_ENOMEM. */
int au_locks_observe(struct au_locks *l, au_lock_observer fn, void *ctx);

/* The holder (owner) of `key` (0: free), its token and deadline. */
uint64_t au_locks_holder(const struct au_locks *l, uint64_t key, uint64_t *token,
			   au_time *deadline_ns);
/* The value written to `key` by accepted writes (0 if never). */
int64_t au_locks_value(const struct au_locks *l, uint64_t key);
/* Call fn for every held lock in key order. */
void au_locks_each(const struct au_locks *l,
		   void (*fn)(void *ctx, uint64_t key, uint64_t owner, uint64_t token,
			      au_time deadline_ns),
		   void *ctx);

/* Replica comparison (raft.h, struct au_raft_machine): the state digest,
 * and the state as text, one line per key (g_free it). */
uint64_t au_locks_digest(const struct au_locks *l);
char *au_locks_describe(const struct au_locks *l);

int au_lock_add_lock(struct au_taskq_batch *b, uint64_t key, uint64_t owner, au_time deadline_ns);
int au_lock_add_unlock(struct au_taskq_batch *b, uint64_t key, uint64_t token);
int au_lock_add_expire(struct au_taskq_batch *b, uint64_t key, uint64_t token);
int au_lock_add_write(struct au_taskq_batch *b, uint64_t key, uint64_t owner, uint64_t token,
		      int64_t value);

/* Apply one command (tests; Raft calls it through the machine): the
 * number of operations, or -AU_ECORRUPT (nothing applied). */
int au_locks_apply(struct au_locks *l, uint64_t index, const uint8_t *cmd, size_t len);
size_t au_locks_snapshot(struct au_locks *l, uint8_t **out);
bool au_locks_restore(struct au_locks *l, const uint8_t *data, size_t len);

#endif

/* fixture.h — one node of any model on a fake env, driven by hand: a unit
 * test boots it, hands it messages, fires its timers, completes its syncs
 * (or fails them), crashes and reboots it, and reads back what it did —
 * the messages it sent, the timers it armed, the bytes it wrote, the
 * traces it recorded — without a simulator, a network or a scenario.
 *
 * Time moves only when the test moves it.  Files keep every write; a sync
 * that completes makes the file's current bytes durable, and a crash puts
 * every file back to what was durable (no torn writes: the simulator's
 * disk model tests those).  Random words come from a PCG32 stream of the
 * fixture's seed.
 */
#ifndef AU_TESTS_FIXTURE_H
#define AU_TESTS_FIXTURE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pcg32.h"

/* A message the node sent. */
struct au_fx_send {
	au_node_id to;
	uint8_t *msg;
	size_t len;
};

/* A timer the node armed (live until it fires or is cancelled). */
struct au_fx_timer {
	uint64_t handle;
	au_time due;
	uint32_t kind;
	uint64_t arg;
	bool live;
};

/* A sync the node asked for, not yet completed. */
struct au_fx_sync {
	char *file;
	uint64_t token;
};

/* A trace record. */
struct au_fx_trace {
	au_time t;
	uint16_t kind;
	int64_t a, b, c;
};

struct au_fixture {
	const struct au_model *model;
	void *config;     /* the model's config struct: its key table's defaults, or a copy */
	struct au_env env;
	void *state;      /* NULL while the node is down */
	au_time now;
	struct au_pcg32 rng;
	uint64_t seed;
	GArray *sent;     /* struct au_fx_send, in order */
	GArray *timers;   /* struct au_fx_timer, in arming order */
	GArray *syncs;    /* struct au_fx_sync, pending, in issue order */
	GArray *traces;   /* struct au_fx_trace, in order */
	uint64_t rows;    /* table rows recorded */
	GHashTable *files;   /* name -> GByteArray: what reads see */
	GHashTable *durable; /* name -> GByteArray: what survives a crash */
	int fail_writes;     /* 0, or the negative AU_E* code every write returns */
	uint64_t next_handle;
};

/* Node `self` of `nodes`, not yet booted.  `config` (may be NULL: the
 * defaults of the model's key table) is copied. */
struct au_fixture *au_fx_new(const struct au_model *m, const void *config, au_node_id self,
			     uint32_t nodes, uint64_t seed);
void au_fx_free(struct au_fixture *fx);

/* Boot the node (the model's init). */
void au_fx_boot(struct au_fixture *fx);
/* Crash it: its state is freed without env calls, pending syncs and
 * timers are lost, files go back to their durable bytes. */
void au_fx_crash(struct au_fixture *fx);

/* Hand the node a message from `from`. */
void au_fx_recv(struct au_fixture *fx, au_node_id from, const void *msg, size_t len);
/* Move the clock forward by `dt`, firing every timer that falls due on the
 * way, in (due time, arming order). */
void au_fx_advance(struct au_fixture *fx, au_time dt);
/* Move the clock to the earliest live timer and fire it; false if none. */
bool au_fx_fire_next(struct au_fixture *fx);
/* Complete every pending sync with `status` (0, or a negative AU_E*),
 * in issue order; returns how many. */
uint32_t au_fx_persist_all(struct au_fixture *fx, int status);

/* Live timers of `kind`. */
uint32_t au_fx_timers(const struct au_fixture *fx, uint32_t kind);
/* Traces of `kind` so far; the last one in *last (may be NULL). */
uint32_t au_fx_traced(const struct au_fixture *fx, uint16_t kind, struct au_fx_trace *last);
/* The bytes a file holds now (NULL: no such file). */
const GByteArray *au_fx_file(const struct au_fixture *fx, const char *name);

#endif

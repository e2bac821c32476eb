/* model.h — how a model describes itself to whatever hosts it.
 *
 * Each model exports one `struct au_model`: its service name, its entry
 * points, and a table of the configuration keys it reads from its scenario
 * group (e.g. [ping]).  The simulator's scenario loader and the shim's
 * config loader both parse that table, so a key is declared once, with its
 * type, default and help text, and unknown keys are errors everywhere.
 */
#ifndef AU_MODEL_H
#define AU_MODEL_H

#include <stdbool.h>

#include "env.h"

enum au_config_type {
	AU_CFG_DURATION, /* int64 ns, written with a unit: 150ms */
	AU_CFG_UINT,     /* uint32 */
	AU_CFG_BOOL,     /* bool stored as int */
	AU_CFG_DURATION_RANGE, /* two int64 ns: 150ms..300ms */
	AU_CFG_RATE,     /* uint32 events per second, written 50/s */
	AU_CFG_WEIGHTS,  /* uint32 per name in `choices`: get:50,put:40,cas:10; they must
			    not all be 0 unless max = AU_CFG_WEIGHTS_NONE_OK, which also
			    accepts "none" (every weight 0) */
	AU_CFG_DIST,     /* struct au_dist (dist.h): lognormal(50ms,20ms), uniform(a,b), ... */
	AU_CFG_CAPS,     /* uint32_t[AU_MAX_CAPS], a percentage per capability bit:
			    gpu:10,ssd:50 ("none" = all zero); every name must be a
			    capability some node has in [cluster] */
	AU_CFG_NODE_LIST, /* struct au_node_list: "all" or n1,n4,... (nodes of the cluster) */
	AU_CFG_DOUBLE,   /* double, finite and >= 0: 1e-6, 0.85 */
	AU_CFG_STRING,   /* char[max + 1], at most `max` bytes, checked by the model's validate */
};

/* AU_CFG_NODE_LIST values: every node of the cluster, or up to
 * AU_NODE_LIST_MAX named ones (distinct, in the order written). */
#define AU_NODE_LIST_MAX 32u
struct au_node_list {
	int all;
	uint32_t n;
	au_node_id id[AU_NODE_LIST_MAX];
};

/* AU_CFG_WEIGHTS keys whose weights may all be 0 set `max` to this. */
#define AU_CFG_WEIGHTS_NONE_OK 1u

/* Capabilities a scenario may name in [cluster] (bits of a uint32). */
#define AU_MAX_CAPS 32u

/* One configuration key: where it lands in the model's config struct. */
struct au_config_key {
	const char *name;
	enum au_config_type type;
	size_t offset;            /* into the model's config struct */
	const char *default_text; /* parsed like user input */
	uint64_t min, max;        /* inclusive bounds (ns for durations) */
	const char *help;
	const char *const *choices; /* AU_CFG_WEIGHTS: the names, NULL-terminated */
};

/* Column types of model trace tables. */
enum au_col_type {
	AU_COL_I64,   /* int64_t */
	AU_COL_U32,   /* uint32_t */
	AU_COL_F64,   /* double */
	AU_COL_ENUM8, /* uint8_t with names: an HDF5 enum in trace files */
};

struct au_table_col {
	const char *name;
	enum au_col_type type;
	size_t offset;                 /* into the model's row struct */
	const char *const *enum_names; /* AU_COL_ENUM8: names of 0..n_enum-1 */
	uint32_t n_enum;
};

/* A table a model writes rows into (env record()); the trace file gets a
 * dataset of that name whose columns are record (u64, the trace record
 * index), t_ns (i64, simulated time), node (u32), then these. */
struct au_table_desc {
	const char *name; /* dataset name without '/', e.g. "ping" */
	const char *help; /* one line: what a row is */
	const struct au_table_col *cols;
	uint32_t n_cols;
	size_t row_size;  /* sizeof the model's row struct */
};

/* A model: a node-local state machine behind env.h. */
struct au_model {
	const char *name;         /* service name in scenarios: "ping" */
	const char *config_group; /* scenario group it reads, or NULL */
	const struct au_config_key *config_keys; /* NULL-name terminated */
	size_t config_size;
	/* Optional second group the model reads (e.g. [workload], which
	 * several models share), with its keys landing in the same config
	 * struct.  A group shared by several running models accepts the union
	 * of their keys. */
	const char *extra_group;
	const struct au_config_key *extra_keys;
	/* Boot a node: allocate state, recover from durable storage.  The
	 * config pointer stays valid for the state's lifetime. */
	void *(*init)(const struct au_env *env, const void *config);
	void (*recv)(void *state, au_node_id from, const void *msg, size_t len);
	void (*timer)(void *state, uint32_t kind, uint64_t arg);
	/* A sync issued with `token` completed: status 0, or a negative
	 * AU_E* code when it failed (env.h says what a failed sync leaves). */
	void (*persisted)(void *state, uint64_t token, int status);
	/* Free the state: on crash (without any env calls) or at run end. */
	void (*destroy)(void *state);
	/* Optional cross-check at the end of a run: print one summary line
	 * into buf.  NULL if the model has nothing to say. */
	void (*summary)(void *state, char *buf, size_t len);
	/* Trace tables this model writes (may be none). */
	const struct au_table_desc *tables;
	uint32_t n_tables;
	/* Names of message types (the first byte of a message), indexed by
	 * type; NULL entries and types past the end are unnamed. */
	const char *const *message_names;
	uint32_t n_message_names;
	/* Optional operator commands from scenario faults (transfer_leader,
	 * add_voter, remove_voter): 0 or a negative AU_E* code. */
	int (*admin)(void *state, const char *action, au_node_id target);
	/* Client-side models also run on the extra client nodes a scenario
	 * asks for; `client_nodes` says how many (from the model's config). */
	bool client_side;
	uint32_t (*client_nodes)(const void *config);
	/* Optional: the run is ending (not a crash); record what is still in
	 * flight (e.g. a client's unfinished operation, as unknown). */
	void (*run_end)(void *state);
	/* Optional: services this one finds through local_service() in its
	 * init, which must therefore be listed before it (NULL-terminated). */
	const char *const *needs;
	/* Optional: check the parsed configuration as a whole (keys that
	 * depend on each other, AU_CFG_STRING syntax).  `nodes` is the cluster
	 * size.  Returns false with "key: what is wrong" in err. */
	bool (*validate)(const void *config, uint32_t nodes, char *err, size_t errlen);
	/* Optional: a multi-line report for the end-of-run summary, built from
	 * every server node's state (states[1..nodes]; NULL for a node that is
	 * down).  Returns g_malloc'd text (the caller g_frees it) or NULL. */
	char *(*report)(void *const *states, uint32_t nodes);
	/* One line saying what the service is (`aureon-sim list services`). */
	const char *about;
};

#endif

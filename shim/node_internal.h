/* node_internal.h — what the files of aureon-node's runtime share (node.c,
 * node_timers.c, node_storage.c, node_net.c, node_metrics.c): the node's
 * state and the functions one part calls in another.  Only those files
 * include it; everything else goes through node.h.  Internal functions are
 * prefixed au_node__ (double underscore), as libuv marks its internals.
 */
#ifndef AU_SHIM_NODE_INTERNAL_H
#define AU_SHIM_NODE_INTERNAL_H

#include "node.h"


#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>

#include "pcg32.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "wire.h"
#include "ctlproto.h"
#include "identity.h"
#include "execctl.h"
#include "opsctl.h"
#include "record.h"

#define CLIENTS_MAX 1024u    /* aureon-ctl clients remembered (address, replay window) */
#define FDS_OPEN_MAX 256u    /* storage files kept open at once */
#define TIMERS_PER_WAKE 10000u
#define RX_PER_WAKE 256u
#define TRACE_KINDS_MAX 2048u
#define SOCKET_BUFFER_BYTES (4 * 1024 * 1024)

_Static_assert(sizeof(void *) == 8, "timer handles are kept as pointer-sized hash keys");

/* ---- state ------------------------------------------------------------ */

struct svc_file {
	char *name;
	int fd;            /* -1 while closed */
	bool dir_dirty;    /* created since the directory was last synced */
	uint64_t last_use; /* for closing the least recently used when too many are open */
};

struct svc {
	struct au_node *node;
	uint32_t index;
	const struct au_model *model;
	const void *config;
	void *state;
	struct au_env env;
	struct au_pcg32 rng;
	uint32_t tag;
	int dirfd;
	char *dir;
	GHashTable *files; /* name -> struct svc_file */
	uint64_t *table_rows; /* per model table */
};

struct tmr {
	au_time due;
	uint64_t handle; /* also the arming order: ties fire in that order */
	uint32_t svc;
	uint32_t kind;
	uint64_t arg;
};

/* A sync handed to the worker thread. */
struct sync_job {
	uint32_t svc;     /* UINT32_MAX: the node's own peers file */
	uint64_t token;
	int fd, dirfd;    /* private dups; -1: nothing to sync */
	char *what;       /* for the error message */
	int64_t issued_ns;
	int err;          /* errno of a failed sync */
	uint64_t errors_at_issue; /* the node's storage error count when issued */
};

struct client {
	au_node_id id;
	GSocketAddress *addr;
	struct au_replay win;
	int64_t last_ns;
};

struct au_node {
	struct au_node_opts o;
	const struct au_cluster *c;
	au_node_id self;
	uint64_t epoch, seq;
	uint64_t seed;     /* of the services' PCG32 streams */
	struct au_rec *rec; /* --record; NULL: off */
	/* With --record, sealed datagrams wait here until the records of the
	 * inputs that made them are written (au_node__rec_flush): a node
	 * killed in between never shows its peers an effect whose cause is
	 * not in its log.  struct au_held_pkt. */
	GArray *held_tx;
	GByteArray *held_bytes;
	struct timespec t0;
	int datafd, lockfd;
	char *data_dir;
	struct au_ident *ident; /* keys and the quarantine records (identity.h) */
	/* services */
	struct svc svcs[AU_MAX_SERVICES];
	uint32_t n_svcs;
	uint32_t control_tag;
	struct au_execctl *exec; /* drain/resume/submit requests (execctl.h) */
	struct au_opsctl *ops;   /* membership and lock requests (opsctl.h) */
	bool running;
	/* network */
	GSocket *sock;
	GSource *sock_src;
	uint8_t *rxbuf, *txbuf;
	struct au_replay *peer_win; /* [nodes + 1] */
	uint32_t *peer_floor;       /* [nodes + 1]: lowest epoch still accepted from each peer */
	bool floors_dirty;
	guint floors_src;
	GHashTable *clients;        /* id -> struct client */
	/* timers */
	int tfd;
	guint tfd_src;
	GArray *heap;      /* struct tmr, min-heap on (due, handle) */
	GHashTable *live;  /* handles armed and not cancelled or fired */
	uint64_t next_handle;
	au_time armed_due; /* what the timerfd is set to; INT64_MAX: disarmed */
	/* storage */
	GThreadPool *pool;
	GAsyncQueue *done;
	int efd;
	guint efd_src;
	uint64_t use_clock;
	unsigned open_fds;
	/* Cannot persist: a write, truncate or sync failed and no sync issued
	 * since has succeeded (/ready answers 503 meanwhile). */
	bool storage_failing;
	uint64_t persist_failures; /* opens, writes, truncates and syncs that failed */
	int64_t storage_failing_since_ns;
	char storage_last_error[160];
	/* raft, as its traces tell */
	bool raft_out_of_service; /* RAFT_DISK_FAILED until RAFT_DISK_OK */
	int raft_role;
	uint64_t raft_term, raft_last, raft_applied;
	au_node_id raft_leader;
	uint64_t raft_voters;
	bool raft_voters_known;
	uint64_t raft_config_index; /* log index of the configuration in effect */
	/* observability */
	struct au_node_counters m;
	uint64_t trace_counts[TRACE_KINDS_MAX + 1]; /* the last slot: kinds beyond the table */
};

/* node.c: log a line (informational ones are silenced by --quiet). */
void au_node__log(struct au_node *n, bool always, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* node.c: CLOCK_MONOTONIC, ns since the node started. */
au_time au_node__now(const struct au_node *n);
/* node.c: a trace kind's name, or NULL if unknown. */
const char *au_node__kind_name(uint16_t kind);

/* node.c: a checkpoint into the record log (--record), if one is open. */
void au_node__rec_checkpoint(struct au_node *n);
/* node.c: close an input record; a checkpoint follows when one is due. */
void au_node__rec_end(struct au_node *n);
/* End of a main-loop wake-up with --record: write the records buffered,
 * then send the datagrams they caused (no-op without --record). */
void au_node__rec_flush(struct au_node *n);

/* A datagram sealed while recording, not sent yet: its bytes are at
 * `off` in held_bytes. */
struct au_held_pkt {
	GSocketAddress *addr; /* a reference */
	size_t off, len;
};

/* node_timers.c */
void au_node__heap_push(GArray *h, const struct tmr *t);
void au_node__rearm(struct au_node *n);
gboolean au_node__on_timerfd(gint fd, GIOCondition cond, gpointer data);

/* node_storage.c: env.h storage, the sync worker's completions, and the
 * node's own small files (identity, epoch, peer floors). */
int au_node__storage_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len);
int64_t au_node__storage_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len);
int64_t au_node__storage_size(void *ctx, const char *file);
int au_node__storage_truncate(void *ctx, const char *file, uint64_t len);
void au_node__storage_sync(void *ctx, const char *file, uint64_t token);
/* The worker thread's job: sync one file (runs off the main thread). */
void au_node__sync_worker(gpointer data, gpointer user);
gboolean au_node__on_eventfd(gint fd, GIOCondition cond, gpointer data);
bool au_node__check_identity(struct au_node *n, char **err);
bool au_node__next_epoch(struct au_node *n, char **err);
uint64_t au_node__next_counter(struct au_node *n);
void au_node__load_floors(struct au_node *n);
gboolean au_node__save_floors(gpointer data);

/* node_net.c */
int au_node__send(void *ctx, au_node_id to, const void *msg, size_t len);
void au_node__free_client(gpointer p);
gboolean au_node__on_socket(GSocket *sock, GIOCondition cond, gpointer data);

#endif

/* ping.c — the first model: every node pings a random peer each interval
 * and records round-trip times and losses.  It exists so the engine —
 * network faults, crashes, restarts, disks, determinism — can be tested
 * before Raft.
 *
 * On boot a node reads its boot counter from the file "boot", writes the
 * next value and starts pinging only once that write is durable: ping
 * sequence numbers are (boot << 32 | counter), so waiting for the sync is
 * what keeps them unique across crashes (the reply-after-persist rule in
 * miniature).  Messages are checksummed; corrupted or malformed ones are
 * counted and dropped.
 *
 * Every answered ping is also appended to the file "log" as a checksummed
 * 24-byte record, written in batches and synced, so crashes leave torn and
 * lost writes behind; on boot the node keeps the longest valid prefix of
 * the log and truncates the rest.  Results go to the /ping trace table.
 *
 * Storage errors: the boot counter must be durable before any ping goes
 * out, so a failed write or sync of it is retried (written again, synced
 * again) every interval, and the node stays silent until one succeeds.
 * The result log is a record, not a promise: a failed write or sync of it
 * is counted and traced, and what it lost is cut at the next boot like a
 * torn tail.
 */
#include "ping.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_kinds.h"
#include "wire.h"

enum { MSG_PING = 1, MSG_PONG = 2 };
enum { TIMER_TICK = 1, TIMER_TIMEOUT = 2, TIMER_BOOT_RETRY = 3 };
enum { SYNC_BOOT = 1, SYNC_LOG = 2 };

#define BOOT_MAGIC 0x50494e47u /* "PING" */
#define OUTSTANDING_MAX 16
#define LOG_RECORD 24u      /* seq u64, rtt i64, peer u32, crc u32 */
#define LOG_BATCH 8u        /* records per write + sync */
#define LOG_MAX_BYTES (1u << 20) /* start over when the log reaches 1 MiB */

/* Rows of the /ping trace table. */
enum { OUTCOME_ANSWERED, OUTCOME_TIMEOUT, OUTCOME_UNMATCHED };
struct ping_row {
	uint32_t peer;
	int64_t seq;
	int64_t rtt_ns; /* -1 unless answered */
	uint8_t outcome;
};

struct outstanding {
	uint64_t seq; /* 0: free */
	au_node_id peer;
	au_time sent_ns;
	uint64_t timer;
};

struct ping_node {
	const struct au_env *env;
	const struct au_ping_config *cfg;
	uint64_t boot;
	bool ready; /* boot counter durable: may send pings */
	uint32_t counter;
	struct outstanding out[OUTSTANDING_MAX];
	uint64_t sent, answered, timeouts, unmatched, bad, skipped;
	au_time rtt_sum_ns, rtt_max_ns;
	uint64_t log_end;          /* bytes of the log written so far */
	uint8_t batch[LOG_BATCH * LOG_RECORD];
	uint32_t batch_len;        /* records in batch */
	uint64_t log_kept;         /* valid records found at boot */
	uint64_t disk_errors;      /* storage operations that failed */
};

static void table_row(struct ping_node *p, au_node_id peer, uint64_t seq, au_time rtt,
		      uint8_t outcome)
{
	struct ping_row row = {peer, (int64_t)seq, rtt, outcome};
	p->env->ops->record(p->env->ctx, 0, &row);
}

/* Keep the longest prefix of whole, valid records; cut the rest (a torn or
 * lost write at the last crash). */
static void recover_log(struct ping_node *p)
{
	const struct au_env *env = p->env;
	int64_t size = env->ops->storage_size(env->ctx, "log");
	if (size < 0)
		return;
	uint8_t rec[LOG_RECORD];
	uint64_t off = 0;
	while (off + LOG_RECORD <= (uint64_t)size) {
		struct au_rbuf r;
		if (env->ops->storage_read(env->ctx, "log", off, rec, LOG_RECORD) != LOG_RECORD ||
		    !au_rbuf_unseal(&r, rec, LOG_RECORD))
			break;
		off += LOG_RECORD;
	}
	p->log_kept = off / LOG_RECORD;
	p->log_end = off;
	if (off < (uint64_t)size)
		(void)env->ops->storage_truncate(env->ctx, "log", off);
}

static void log_result(struct ping_node *p, au_node_id peer, uint64_t seq, au_time rtt)
{
	struct au_wbuf w;
	au_wbuf_init(&w, p->batch + p->batch_len * LOG_RECORD, LOG_RECORD);
	au_put_u64(&w, seq);
	au_put_u64(&w, (uint64_t)rtt);
	au_put_u32(&w, peer);
	au_wbuf_seal(&w);
	assert(!w.overflow && w.len == LOG_RECORD);
	if (++p->batch_len < LOG_BATCH)
		return;
	const struct au_env *env = p->env;
	if (p->log_end >= LOG_MAX_BYTES) {
		(void)env->ops->storage_truncate(env->ctx, "log", 0);
		p->log_end = 0;
	}
	int rc = env->ops->storage_write(env->ctx, "log", p->log_end, p->batch,
					 p->batch_len * LOG_RECORD);
	if (rc == 0) {
		p->log_end += p->batch_len * LOG_RECORD;
		env->ops->storage_sync(env->ctx, "log", SYNC_LOG);
	} else {
		/* The batch is lost; the next one overwrites whatever part
		 * of it reached the file. */
		p->disk_errors++;
		au_trace_storage(env, AU_STORAGE_WRITE, rc, AU_STORAGE_IGNORED);
	}
	p->batch_len = 0;
}

static void send_msg(struct ping_node *p, au_node_id to, uint8_t type, uint64_t seq)
{
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, type);
	au_put_u64(&w, seq);
	au_wbuf_seal(&w);
	assert(!w.overflow);
	(void)au_send(p->env, to, buf, w.len);
}

static void arm_tick(struct ping_node *p, au_time delay)
{
	(void)au_timer_set(p->env, delay, TIMER_TICK, 0);
}

/* Write the boot counter and sync it; pings start once it is durable. */
static void write_boot(struct ping_node *p)
{
	const struct au_env *env = p->env;
	uint8_t rec[16];
	struct au_wbuf w;
	au_wbuf_init(&w, rec, sizeof(rec));
	au_put_u32(&w, BOOT_MAGIC);
	au_put_u64(&w, p->boot);
	au_wbuf_seal(&w);
	int rc = env->ops->storage_write(env->ctx, "boot", 0, rec, w.len);
	if (rc == 0) {
		env->ops->storage_sync(env->ctx, "boot", SYNC_BOOT);
		return;
	}
	p->disk_errors++;
	au_trace_storage(env, AU_STORAGE_WRITE, rc, AU_STORAGE_RETRY);
	(void)au_timer_set(env, p->cfg->interval_ns, TIMER_BOOT_RETRY, 0);
}

static void *ping_init(const struct au_env *env, const void *config)
{
	struct ping_node *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->env = env;
	p->cfg = config;
	uint8_t rec[16];
	int64_t n = env->ops->storage_read(env->ctx, "boot", 0, rec, sizeof(rec));
	struct au_rbuf r;
	if (n == 16 && au_rbuf_unseal(&r, rec, 16) && au_get_u32(&r) == BOOT_MAGIC)
		p->boot = au_get_u64(&r);
	else if (n != -AU_ENOENT)
		au_trace(env, AU_TR_MODEL_BAD_MESSAGE, 0, n, 0); /* unreadable record */
	recover_log(p);
	au_trace(env, AU_TR_PING_BOOT, (int64_t)p->boot, (int64_t)p->log_kept, 0);
	p->boot++;
	write_boot(p);
	return p;
}

static void ping_persisted(void *state, uint64_t token, int status)
{
	struct ping_node *p = state;
	if (status < 0) {
		p->disk_errors++;
		bool boot = token == SYNC_BOOT && !p->ready;
		au_trace_storage(p->env, AU_STORAGE_SYNC, status,
				 boot ? AU_STORAGE_RETRY : AU_STORAGE_IGNORED);
		if (boot)
			(void)au_timer_set(p->env, p->cfg->interval_ns, TIMER_BOOT_RETRY, 0);
		return;
	}
	if (token != SYNC_BOOT || p->ready)
		return;
	p->ready = true;
	au_trace(p->env, AU_TR_PING_BOOT_SYNCED, (int64_t)p->boot, 0, 0);
	/* Spread the first pings over one interval so nodes do not beat in
	 * lockstep. */
	arm_tick(p, au_random_between(p->env, 0, p->cfg->interval_ns));
}

static void tick(struct ping_node *p)
{
	const struct au_env *env = p->env;
	arm_tick(p, p->cfg->interval_ns);
	if (env->nodes < 2)
		return;
	au_node_id peer = 1 + au_random_below(env, env->nodes - 1);
	if (peer >= env->self)
		peer++;
	struct outstanding *slot = NULL;
	for (int i = 0; i < OUTSTANDING_MAX && !slot; i++)
		if (p->out[i].seq == 0)
			slot = &p->out[i];
	if (!slot) {
		p->skipped++;
		return;
	}
	uint64_t seq = (p->boot << 32) | ++p->counter;
	slot->seq = seq;
	slot->peer = peer;
	slot->sent_ns = au_now(env);
	slot->timer = au_timer_set(env, p->cfg->timeout_ns, TIMER_TIMEOUT, seq);
	p->sent++;
	au_trace(env, AU_TR_PING_SENT, peer, (int64_t)seq, 0);
	send_msg(p, peer, MSG_PING, seq);
}

static struct outstanding *find(struct ping_node *p, uint64_t seq)
{
	for (int i = 0; i < OUTSTANDING_MAX; i++)
		if (p->out[i].seq == seq && seq != 0)
			return &p->out[i];
	return NULL;
}

static void ping_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct ping_node *p = state;
	if (kind == TIMER_TICK) {
		tick(p);
		return;
	}
	if (kind == TIMER_BOOT_RETRY) {
		if (!p->ready)
			write_boot(p);
		return;
	}
	struct outstanding *o = find(p, arg);
	if (!o)
		return;
	p->timeouts++;
	au_trace(p->env, AU_TR_PING_TIMEOUT, o->peer, (int64_t)o->seq, 0);
	table_row(p, o->peer, o->seq, -1, OUTCOME_TIMEOUT);
	memset(o, 0, sizeof(*o));
}

static void ping_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct ping_node *p = state;
	struct au_rbuf r;
	if (!au_rbuf_unseal(&r, msg, len)) {
		p->bad++;
		au_trace(p->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	uint8_t type = au_get_u8(&r);
	uint64_t seq = au_get_u64(&r);
	if (r.short_read || r.pos != r.len || (type != MSG_PING && type != MSG_PONG)) {
		p->bad++;
		au_trace(p->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 1);
		return;
	}
	if (type == MSG_PING) {
		send_msg(p, from, MSG_PONG, seq);
		return;
	}
	struct outstanding *o = find(p, seq);
	if (!o || o->peer != from) {
		/* Duplicated, late (after its timeout), or from before a crash. */
		p->unmatched++;
		au_trace(p->env, AU_TR_PING_DUP_PONG, from, (int64_t)seq, 0);
		table_row(p, from, seq, -1, OUTCOME_UNMATCHED);
		return;
	}
	au_time rtt = au_now(p->env) - o->sent_ns;
	p->answered++;
	p->rtt_sum_ns += rtt;
	if (rtt > p->rtt_max_ns)
		p->rtt_max_ns = rtt;
	au_trace(p->env, AU_TR_PING_RTT, from, (int64_t)seq, rtt);
	table_row(p, from, seq, rtt, OUTCOME_ANSWERED);
	log_result(p, from, seq, rtt);
	au_timer_cancel(p->env, o->timer);
	memset(o, 0, sizeof(*o));
}

static void ping_destroy(void *state)
{
	free(state);
}

static void ping_summary(void *state, char *buf, size_t len)
{
	struct ping_node *p = state;
	double mean_ms = p->answered ? (double)p->rtt_sum_ns / (double)p->answered / 1e6 : 0.0;
	snprintf(buf, len,
		 "boot=%llu log=%llu sent=%llu answered=%llu timeouts=%llu unmatched=%llu bad=%llu "
		 "rtt_mean=%.3fms rtt_max=%.3fms",
		 (unsigned long long)p->boot, (unsigned long long)(p->log_end / LOG_RECORD),
		 (unsigned long long)p->sent,
		 (unsigned long long)p->answered, (unsigned long long)p->timeouts,
		 (unsigned long long)p->unmatched, (unsigned long long)p->bad, mean_ms,
		 (double)p->rtt_max_ns / 1e6);
	size_t used = strlen(buf);
	if (p->disk_errors && used < len)
		snprintf(buf + used, len - used, " disk_errors=%llu%s",
			 (unsigned long long)p->disk_errors, p->ready ? "" : " (boot not durable: silent)");
}

static const struct au_config_key ping_keys[] = {
	{"interval", AU_CFG_DURATION, offsetof(struct au_ping_config, interval_ns), "1s",
	 AU_NS_PER_US, UINT64_C(3600) * AU_NS_PER_S, "time between a node's pings", NULL},
	{"timeout", AU_CFG_DURATION, offsetof(struct au_ping_config, timeout_ns), "500ms",
	 AU_NS_PER_US, UINT64_C(3600) * AU_NS_PER_S, "a ping unanswered this long is lost", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const outcome_names[] = {"answered", "timeout", "unmatched"};

static const struct au_table_col ping_cols[] = {
	{"peer", AU_COL_U32, offsetof(struct ping_row, peer), NULL, 0},
	{"seq", AU_COL_I64, offsetof(struct ping_row, seq), NULL, 0},
	{"rtt_ns", AU_COL_I64, offsetof(struct ping_row, rtt_ns), NULL, 0},
	{"outcome", AU_COL_ENUM8, offsetof(struct ping_row, outcome), outcome_names, 3},
};

static const struct au_table_desc ping_tables[] = {
	{"ping", "one row per ping result: answered (with its round-trip time), timed out, "
		 "or an unmatched pong (duplicate, late, or from before a crash)",
	 ping_cols, 4, sizeof(struct ping_row)},
};

static const char *const ping_message_names[] = {NULL, "PING", "PONG"};

const struct au_model au_ping_model = {
	.name = "ping",
	.config_group = "ping",
	.config_keys = ping_keys,
	.config_size = sizeof(struct au_ping_config),
	.init = ping_init,
	.recv = ping_recv,
	.timer = ping_timer,
	.persisted = ping_persisted,
	.destroy = ping_destroy,
	.summary = ping_summary,
	.tables = ping_tables,
	.n_tables = 1,
	.message_names = ping_message_names,
	.n_message_names = 3,
	.about = "nodes ping each other with checked payloads (the smallest model)",
};

/* replay.c — one node's recorded inputs fed back to its models (see replay.h). */
#include "sim/replay/replay.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "config/cluster_spec.h"
#include "config/values.h"
#include "pcg32.h"
#include "raft/raft.h"
#include "sim/replay/merge.h"
#include "wire.h"

struct rsvc {
	struct au_rb *rp;
	uint32_t index;
	const struct au_model *model;
	void *state;
	struct au_env env;
	struct au_pcg32 rng;
};

/* The replay env's state: one boot's models and the answers of the input
 * being handled. */
struct au_rb {
	const struct au_rl_boot *b;
	struct au_replay_result *res;
	struct au_rb_sink sink;   /* a merged replay's listener, or zeroed */
	guint next;               /* the next frame */
	au_time t;                /* the node's time of the last input record */
	bool booted, done;
	bool detached;            /* the log has ended: calls are answered, not checked */
	struct au_cluster_spec spec;
	struct rsvc svcs[AU_MAX_SERVICES];
	uint32_t n_svcs;
	struct au_reclog_cur ans; /* the open input record's remaining answers */
	bool in_input;
	au_time last_now;
	uint64_t input_ops;       /* env operations with effects in the input being fed */
	uint64_t next_handle;
	struct au_reclog_digest digest;
	bool diverged;
	char why[400];
};

static void diverge(struct au_rb *rp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void diverge(struct au_rb *rp, const char *fmt, ...)
{
	if (rp->diverged)
		return;
	rp->diverged = true;
	va_list ap;
	va_start(ap, fmt);
	g_vsnprintf(rp->why, sizeof(rp->why), fmt, ap);
	va_end(ap);
}

static unsigned peek(const struct au_rb *rp)
{
	return rp->ans.pos < rp->ans.len ? rp->ans.p[rp->ans.pos] : AU_ANS_END;
}

/* Take the next answer, which must be `tag`, for `what` (an env call). */
static bool take(struct au_rb *rp, unsigned tag, const char *what)
{
	if (rp->diverged || rp->detached)
		return false;
	if (!rp->in_input) {
		diverge(rp, "a model called %s outside any input", what);
		return false;
	}
	unsigned got = peek(rp);
	if (got != tag) {
		diverge(rp, "a model called %s where the real node's models next had the answer of %s", what,
			got == AU_ANS_END ? "no further call" : au_reclog_answer_name(got));
		return false;
	}
	rp->ans.pos++;
	return true;
}

static int64_t take_sv(struct au_rb *rp)
{
	int64_t v = au_reclog_get_sv(&rp->ans);
	if (rp->ans.bad)
		diverge(rp, "malformed answer");
	return v;
}

/* Results recorded only when nonzero (writes, truncates, sends): from
 * version 3 each names the operation it answers (its number within the
 * input), so it is taken only by that call. */
static int64_t optional(struct au_rb *rp, unsigned tag)
{
	if (rp->diverged || peek(rp) != tag)
		return 0;
	if (rp->b->version >= 3) {
		struct au_reclog_cur c = rp->ans;
		c.pos++;
		int64_t v = au_reclog_get_sv(&c);
		uint64_t idx = au_reclog_get_uv(&c);
		if (c.bad) {
			diverge(rp, "malformed answer");
			return 0;
		}
		if (idx != rp->input_ops)
			return 0; /* a later operation's */
		rp->ans = c;
		return v;
	}
	rp->ans.pos++;
	return take_sv(rp);
}

static void op(struct au_rb *rp, uint8_t o, uint32_t svc, uint64_t a, uint64_t b, uint64_t c, const void *p,
	       size_t n)
{
	au_reclog_digest_op(&rp->digest, o, svc, a, b, c, p, n);
	if (rp->in_input)
		rp->input_ops++;
}

static uint32_t name_crc(const char *file) { return file ? au_crc32c(0, file, strlen(file)) : 0; }

/* ---- the replay env ----------------------------------------------------- */

static au_time r_now(void *ctx)
{
	struct rsvc *s = ctx;
	struct au_rb *rp = s->rp;
	if (!take(rp, AU_ANS_NOW, "now()"))
		return rp->last_now;
	rp->last_now += take_sv(rp);
	return rp->last_now;
}

static int r_send(void *ctx, au_node_id to, const void *msg, size_t len)
{
	struct rsvc *s = ctx;
	op(s->rp, AU_OP_SEND, s->index, to, len, 0, msg, msg ? len : 0);
	int rc = (int)optional(s->rp, AU_ANS_SEND);
	if (rc == 0 && s->rp->sink.send && !s->rp->detached)
		s->rp->sink.send(s->rp->sink.ctx, s->rp->b->node, s->index, to, msg, len);
	return rc;
}

static uint64_t r_timer_set(void *ctx, au_time delay, uint32_t kind, uint64_t arg)
{
	struct rsvc *s = ctx;
	if (delay < 0)
		delay = 0;
	op(s->rp, AU_OP_TIMER_SET, s->index, (uint64_t)delay, kind, arg, NULL, 0);
	return ++s->rp->next_handle; /* the node numbers handles the same way */
}

static void r_timer_cancel(void *ctx, uint64_t timer)
{
	struct rsvc *s = ctx;
	op(s->rp, AU_OP_TIMER_CANCEL, s->index, timer, 0, 0, NULL, 0);
}

static uint32_t r_random(void *ctx)
{
	struct rsvc *s = ctx;
	uint32_t v = au_pcg32_next(&s->rng);
	op(s->rp, AU_OP_RANDOM, s->index, v, 0, 0, NULL, 0);
	return v;
}

static int r_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len)
{
	struct rsvc *s = ctx;
	op(s->rp, AU_OP_WRITE, s->index, off, len, name_crc(file), buf, buf ? len : 0);
	return (int)optional(s->rp, AU_ANS_WRITE);
}

static int64_t r_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len)
{
	struct rsvc *s = ctx;
	struct au_rb *rp = s->rp;
	(void)off;
	if (!take(rp, AU_ANS_READ, "storage_read()"))
		return -AU_EIO;
	int64_t r = take_sv(rp);
	if (r > 0) {
		if ((uint64_t)r > len || (uint64_t)r > rp->ans.len - rp->ans.pos) {
			diverge(rp, "storage_read(%s, %zu bytes) got a recorded answer of %" G_GINT64_FORMAT " bytes",
				file ? file : "(null)", len, r);
			return -AU_EIO;
		}
		memcpy(buf, rp->ans.p + rp->ans.pos, (size_t)r);
		rp->ans.pos += (size_t)r;
	}
	return r;
}

static int64_t r_size(void *ctx, const char *file)
{
	struct rsvc *s = ctx;
	(void)file;
	if (!take(s->rp, AU_ANS_SIZE, "storage_size()"))
		return -AU_EIO;
	return take_sv(s->rp);
}

static int r_truncate(void *ctx, const char *file, uint64_t len)
{
	struct rsvc *s = ctx;
	op(s->rp, AU_OP_TRUNC, s->index, len, name_crc(file), 0, NULL, 0);
	return (int)optional(s->rp, AU_ANS_TRUNC);
}

static void r_sync(void *ctx, const char *file, uint64_t token)
{
	struct rsvc *s = ctx;
	op(s->rp, AU_OP_SYNC, s->index, token, name_crc(file), 0, NULL, 0);
}

static void r_trace(void *ctx, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct rsvc *s = ctx;
	op(s->rp, AU_OP_TRACE, s->index << 16 | kind, (uint64_t)a, (uint64_t)b, (uint64_t)c, NULL, 0);
	if (s->rp->sink.trace && !s->rp->detached)
		s->rp->sink.trace(s->rp->sink.ctx, s->rp->b->node, kind, a, b, c);
}

static void r_record(void *ctx, uint32_t table, const void *row)
{
	struct rsvc *s = ctx;
	if (s->rp->sink.row && !s->rp->detached)
		s->rp->sink.row(s->rp->sink.ctx, s->rp->b->node, s->index, table, row);
}

static void *r_local_service(void *ctx, const char *name)
{
	struct rsvc *s = ctx;
	for (uint32_t i = 0; i < s->rp->n_svcs; i++)
		if (strcmp(s->rp->svcs[i].model->name, name) == 0)
			return s->rp->svcs[i].state;
	return NULL;
}

static void r_msg_counts(void *ctx, uint64_t *in, uint64_t *out)
{
	struct rsvc *s = ctx;
	*in = *out = 0;
	if (!take(s->rp, AU_ANS_COUNTS, "msg_counts()"))
		return;
	*in = au_reclog_get_uv(&s->rp->ans);
	*out = au_reclog_get_uv(&s->rp->ans);
}

static const struct au_env_ops replay_ops = {
	.now = r_now,
	.send = r_send,
	.timer_set = r_timer_set,
	.timer_cancel = r_timer_cancel,
	.random = r_random,
	.storage_write = r_write,
	.storage_read = r_read,
	.storage_size = r_size,
	.storage_truncate = r_truncate,
	.storage_sync = r_sync,
	.trace = r_trace,
	.record = r_record,
	.local_service = r_local_service,
	.msg_counts = r_msg_counts,
};

/* ---- the boot's models ------------------------------------------------------ */

static bool load_config(struct au_rb *rp, char *err, size_t errlen)
{
	const struct au_rl_boot *b = rp->b;
	struct au_keys K = {.path = "(the recorded cluster file)", .kf = g_key_file_new()};
	bool ok = au_keys_load_text(&K, b->cluster_text) && au_cluster_spec_load(&K, &rp->spec);
	for (uint32_t i = 0; ok && i < rp->spec.n_services; i++)
		ok = au_cluster_spec_load_service(&K, &rp->spec, i);
	if (!ok)
		g_snprintf(err, errlen, "%s", K.err ? K.err : "cannot load the recorded cluster file");
	g_free(K.err);
	g_key_file_free(K.kf);
	if (!ok)
		return false;
	if (rp->spec.n_services != b->n_services) {
		g_snprintf(err, errlen, "the header lists %u services, the cluster text %u", b->n_services,
			   rp->spec.n_services);
		return false;
	}
	if (b->node < 1 || b->node > rp->spec.nodes) {
		g_snprintf(err, errlen, "node n%u is not in the recorded cluster (n1..n%u)", b->node, rp->spec.nodes);
		return false;
	}
	rp->n_svcs = rp->spec.n_services;
	for (uint32_t i = 0; i < rp->n_svcs; i++) {
		struct rsvc *s = &rp->svcs[i];
		s->rp = rp;
		s->index = i;
		s->model = rp->spec.services[i];
		if (strcmp(s->model->name, b->services[i]) != 0) {
			g_snprintf(err, errlen, "service %u is %s in the header, %s in the cluster text", i,
				   b->services[i], s->model->name);
			return false;
		}
		/* As aureon-node seeds and describes them (shim/node.c). */
		au_pcg32_stream(&s->rng, b->seed, AU_STREAM_SERVICE + i, b->node);
		s->env = (struct au_env){
			.ops = &replay_ops,
			.ctx = s,
			.self = b->node,
			.nodes = rp->spec.nodes,
			.caps = rp->spec.node_caps ? rp->spec.node_caps[b->node] : 0,
			.cpu_gflops = rp->spec.cpu_gflops ? rp->spec.cpu_gflops[b->node] : 0.0,
			.metrics_period_ns = AU_NS_PER_S,
		};
	}
	return true;
}

static void at(struct au_replay_result *res, const struct au_rl_frame *f)
{
	res->at_record = f->index;
	res->at_seg = f->seg;
	res->at_off = f->off;
}

/* Compare a checkpoint record with the replayed state; false on a difference. */
static bool checkpoint(struct au_rb *rp, struct au_reclog_cur *c, struct au_replay_result *res)
{
	uint64_t inputs = au_reclog_get_uv(c), digest = au_reclog_get_uv(c);
	bool has_raft = au_reclog_get_u8(c) != 0;
	uint64_t rd = au_reclog_get_uv(c), term = au_reclog_get_uv(c), commit = au_reclog_get_uv(c);
	struct au_raft *r = r_local_service(&rp->svcs[0], "raft");
	uint64_t slots[AU_RAFT_MAX_MACHINES];
	uint64_t my_rd = r ? au_raft_state_digest(r, slots) : 0, my_term = r ? au_raft_term(r) : 0,
		 my_commit = r ? au_raft_commit_index(r) : 0, my_digest = au_reclog_digest_value(&rp->digest);
	if (inputs != res->inputs)
		diverge(rp, "checkpoint after %" G_GUINT64_FORMAT " inputs, the replay is at %" G_GUINT64_FORMAT,
			inputs, res->inputs);
	else if (has_raft != (r != NULL))
		diverge(rp, "checkpoint %s raft, the replay %s", has_raft ? "has" : "has no", r ? "does" : "does not");
	else if (rd != my_rd || term != my_term || commit != my_commit)
		diverge(rp, "raft state differs: node digest %016" G_GINT64_MODIFIER "x term %" G_GUINT64_FORMAT
			    " commit %" G_GUINT64_FORMAT ", replay digest %016" G_GINT64_MODIFIER "x term %"
			    G_GUINT64_FORMAT " commit %" G_GUINT64_FORMAT,
			rd, term, commit, my_rd, my_term, my_commit);
	else if (digest != my_digest)
		diverge(rp, "the models' actions differ (output digest %016" G_GINT64_MODIFIER "x on the node, %016"
			    G_GINT64_MODIFIER "x in the replay): sends, timers, writes or traces changed since the "
			    "previous checkpoint", digest, my_digest);
	if (rp->diverged)
		return false;
	res->checkpoints++;
	res->raft_digest = rd;
	res->raft_term = term;
	res->raft_commit = commit;
	return true;
}

struct au_rb *au_rb_open(const struct au_rl_boot *b, const struct au_rb_sink *sink, struct au_replay_result *res)
{
	memset(res, 0, sizeof(*res));
	struct au_rb *rp = g_new0(struct au_rb, 1);
	rp->b = b;
	rp->res = res;
	if (sink)
		rp->sink = *sink;
	if (!load_config(rp, res->what, sizeof(res->what))) {
		res->outcome = AU_REPLAY_BAD_CONFIG;
		au_rb_free(rp);
		return NULL;
	}
	return rp;
}

/* Stop the replay at frame f with `outcome`; `what` is printf-style. */
static bool stop_at(struct au_rb *rp, const struct au_rl_frame *f, enum au_replay_outcome outcome, const char *what)
{
	rp->done = true;
	rp->res->outcome = outcome;
	at(rp->res, f);
	g_strlcpy(rp->res->what, what, sizeof(rp->res->what));
	return false;
}

bool au_rb_next(struct au_rb *rp, au_time *t, unsigned *type)
{
	struct au_replay_result *res = rp->res;
	while (!rp->done && rp->next < rp->b->frames->len) {
		const struct au_rl_frame *f = &g_array_index(rp->b->frames, struct au_rl_frame, rp->next);
		struct au_reclog_cur c = {f->p, f->len, 0, false};
		unsigned ty = au_reclog_get_u8(&c);
		if (ty == AU_REC_HEADER) {
			rp->next++;
			continue;
		}
		if (ty == AU_REC_CHECKPOINT) {
			rp->next++;
			if (!checkpoint(rp, &c, res)) {
				char what[sizeof(res->what)];
				g_snprintf(what, sizeof(what), "checkpoint: %s (the first input that differs is after the "
					   "previous checkpoint)", rp->why);
				return stop_at(rp, f, AU_REPLAY_DIVERGED, what);
			}
			continue;
		}
		if (ty == AU_REC_STOP) {
			rp->t += au_reclog_get_sv(&c);
			res->stopped = true;
			rp->done = true;
			rp->res->outcome = AU_REPLAY_EXACT;
			*t = rp->t;
			*type = ty;
			return true; /* the caller sees the stop's time */
		}
		if (ty == AU_REC_CONTROL || ty == AU_REC_STRAY || ty >= AU_REC_TYPES_)
			return stop_at(rp, f, AU_REPLAY_UNSUPPORTED,
				       ty == AU_REC_CONTROL ? "an aureon-ctl control command (admin, submit, job or ops "
							      "request) acted on the models here; replaying those is not "
							      "done yet (docs/replay.md)"
				       : ty == AU_REC_STRAY ? "a model acted outside any recorded input (an observer "
							      "changed model state); the replay cannot follow"
							    : "a record type this aureon-sim does not know");
		*t = rp->t + au_reclog_get_sv(&c);
		*type = ty;
		return true;
	}
	if (!rp->done) {
		rp->done = true;
		rp->res->outcome = AU_REPLAY_EXACT;
	}
	return false;
}

bool au_rb_feed(struct au_rb *rp)
{
	struct au_replay_result *res = rp->res;
	const struct au_rl_frame *f = &g_array_index(rp->b->frames, struct au_rl_frame, rp->next);
	struct au_reclog_cur c = {f->p, f->len, 0, false};
	unsigned type = au_reclog_get_u8(&c);
	rp->t += au_reclog_get_sv(&c); /* the models see now() answers; merges place the input by it */
	rp->next++;
	uint64_t svc = 0, a = 0, a2 = 0;
	int64_t st = 0;
	const uint8_t *bytes = NULL;
	size_t blen = 0;
	if (type == AU_REC_RECV) {
		svc = au_reclog_get_uv(&c);
		a = au_reclog_get_uv(&c);
		bytes = au_reclog_get_blob(&c, &blen);
	} else if (type == AU_REC_TIMER) {
		svc = au_reclog_get_uv(&c);
		a = au_reclog_get_uv(&c);
		a2 = au_reclog_get_uv(&c);
	} else if (type == AU_REC_PERSISTED) {
		svc = au_reclog_get_uv(&c);
		a = au_reclog_get_uv(&c);
		st = au_reclog_get_sv(&c);
	}
	if (c.bad || svc >= rp->n_svcs || (type == AU_REC_BOOT) == rp->booted) {
		char what[sizeof(res->what)];
		g_snprintf(what, sizeof(what), "malformed %s record%s", au_reclog_type_name(type),
			   (type == AU_REC_BOOT) == rp->booted ? (rp->booted ? " (a second boot)" : " (an input before the boot)")
							      : "");
		return stop_at(rp, f, AU_REPLAY_DIVERGED, what);
	}
	rp->ans = (struct au_reclog_cur){c.p + c.pos, c.len - c.pos, 0, false};
	rp->in_input = true;
	rp->input_ops = 0;
	struct rsvc *s = &rp->svcs[svc];
	if (type == AU_REC_BOOT) {
		rp->booted = true;
		for (uint32_t k = 0; k < rp->n_svcs && !rp->diverged; k++)
			rp->svcs[k].state = rp->svcs[k].model->init(&rp->svcs[k].env, rp->spec.service_config[k]);
	} else if (type == AU_REC_RECV) {
		if (rp->sink.recv)
			rp->sink.recv(rp->sink.ctx, rp->b->node, (uint32_t)svc, (au_node_id)a, bytes, blen);
		s->model->recv(s->state, (au_node_id)a, bytes, blen);
	} else if (type == AU_REC_TIMER) {
		s->model->timer(s->state, (uint32_t)a, a2);
	} else {
		s->model->persisted(s->state, a, (int)st);
	}
	rp->in_input = false;
	res->inputs++;
	if (!rp->diverged && rp->ans.pos != rp->ans.len)
		diverge(rp, "the real node's models asked the environment more (next: %s) than the replayed "
			    "ones did", au_reclog_answer_name(peek(rp)));
	if (rp->diverged) {
		char what[sizeof(res->what)];
		g_snprintf(what, sizeof(what), "%s record: %s", au_reclog_type_name(type), rp->why);
		return stop_at(rp, f, AU_REPLAY_DIVERGED, what);
	}
	return true;
}

void *au_rb_state(struct au_rb *rp, uint32_t service)
{
	return service < rp->n_svcs ? rp->svcs[service].state : NULL;
}

void au_rb_detach(struct au_rb *rp)
{
	rp->detached = true;
}

void au_rb_free(struct au_rb *rp)
{
	if (!rp)
		return;
	rp->detached = true; /* destroy() may trace; nobody listens now */
	for (uint32_t k = rp->n_svcs; k-- > 0;)
		if (rp->svcs[k].state)
			rp->svcs[k].model->destroy(rp->svcs[k].state);
	au_cluster_spec_clear(&rp->spec);
	g_free(rp);
}

void au_replay_boot(const struct au_rl_boot *b, struct au_replay_result *res)
{
	struct au_rb *rb = au_rb_open(b, NULL, res);
	if (!rb)
		return;
	au_time t;
	unsigned type;
	while (au_rb_next(rb, &t, &type) && type != AU_REC_STOP && au_rb_feed(rb))
		;
	au_rb_free(rb);
}

bool au_replay_print_outcome(FILE *out, const struct au_rl_boot *b, const struct au_replay_result *r,
			     const char *unstopped, const char *indent)
{
	if (r->outcome != AU_REPLAY_EXACT) {
		const struct au_rl_frame *f = &g_array_index(b->frames, struct au_rl_frame, r->at_record);
		fprintf(out, "%s at record %" G_GUINT64_FORMAT " (%s, %s offset %" G_GUINT64_FORMAT ") after %"
			     G_GUINT64_FORMAT " inputs and %" G_GUINT64_FORMAT " equal checkpoints: %s\n",
			r->outcome == AU_REPLAY_DIVERGED ? "DIVERGED" : "not replayable", r->at_record,
			au_reclog_type_name(f->p[0]), (const char *)b->paths->pdata[r->at_seg], r->at_off, r->inputs,
			r->checkpoints, r->what);
		return false;
	}
	fprintf(out, "exact: %" G_GUINT64_FORMAT " inputs, %" G_GUINT64_FORMAT " checkpoints equal", r->inputs,
		r->checkpoints);
	if (r->raft_term || r->raft_commit || r->raft_digest)
		fprintf(out, " (last: raft term %" G_GUINT64_FORMAT " commit %" G_GUINT64_FORMAT " state digest %016"
			     G_GINT64_MODIFIER "x)", r->raft_term, r->raft_commit, r->raft_digest);
	fputs(r->stopped ? ", clean stop\n" : unstopped, out);
	if (r->inputs == 0) {
		fprintf(out, "%s(no input: the node ended before starting its services; nothing to compare)\n", indent);
		return true;
	}
	return r->checkpoints > 0; /* nothing compared is not exact */
}

/* ---- the subcommand ---------------------------------------------------------- */

static const char *const usage =
	"usage: aureon-sim replay DIR [--node nK]\n"
	"       aureon-sim replay DIR --check [--skip CHECK]... [--trace FILE.h5] [--records FILE]\n"
	"                                [--to-scenario FILE.ini] [--partial] [--force]\n"
	"\n"
	"Replays the record log that `aureon-node --record DIR` wrote: for every boot\n"
	"of every node in DIR (or only node nK), the same services are built from the\n"
	"recorded cluster file and seed, fed the recorded inputs in order, and their\n"
	"state compared with the checkpoints the node logged.  Prints, per boot,\n"
	"\"exact\" or the first record at which the replay diverged.\n"
	"\n"
	"--check replays every node's boots together, in one simulated run, on one\n"
	"timeline (the logs' clock anchors), with every checker of the recorded\n"
	"services on; each datagram is matched with its send.  --trace writes that\n"
	"run's HDF5 trace (as `aureon-sim run --trace`), --records its text dump.\n"
	"--skip CHECK leaves a check out (to see what the others say after it failed).\n"
	"--partial replays even when some node of the cluster has no log in DIR (its\n"
	"inputs missing, checks may fail on effects without causes: the result says so).\n"
	"--to-scenario writes a scenario file of the recorded run (its cluster, the\n"
	"faults as they happened, the measured network, a KV load like it) for the\n"
	"ordinary tools: run, shrink, chaos seeds.  --force overwrites FILEs.\n"
	"\n"
	"Exit codes: 0 every boot exact; 1 a boot diverged or holds an input the replay\n"
	"cannot feed (control commands); 2 usage, or a truncated, corrupt or\n"
	"unreadable log (named with file and byte offset; nothing is replayed).\n";

int au_replay_main(int argc, char **argv, const char *version)
{
	const char *dir = NULL, *trace = NULL, *records = NULL, *to_scenario = NULL;
	uint32_t only = 0;
	bool check = false, force = false, partial = false;
	g_autoptr(GPtrArray) skip = g_ptr_array_new();
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
			i++;
			if (argv[i][0] != 'n' || !au_parse_node(argv[i], AU_MAX_NODES, &only)) {
				fprintf(stderr, "aureon-sim replay: --node needs a node name like n2, not '%s'\n\n%s",
					argv[i], usage);
				return 2;
			}
		} else if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (strcmp(argv[i], "--to-scenario") == 0 && i + 1 < argc) {
			to_scenario = argv[++i];
			check = true; /* made from the merged replay */
		} else if (strcmp(argv[i], "--skip") == 0 && i + 1 < argc) {
			g_ptr_array_add(skip, argv[++i]);
		} else if (strcmp(argv[i], "--partial") == 0) {
			partial = true;
		} else if (strcmp(argv[i], "--force") == 0) {
			force = true;
		} else if ((strcmp(argv[i], "--trace") == 0 || strcmp(argv[i], "--records") == 0) && i + 1 < argc) {
			*(argv[i][2] == 't' ? &trace : &records) = argv[i + 1];
			i++;
		} else if (argv[i][0] == '-' || dir) {
			fprintf(stderr, "aureon-sim replay: unexpected argument '%s'\n\n%s", argv[i], usage);
			return 2;
		} else {
			dir = argv[i];
		}
	}
	if (!dir) {
		fprintf(stderr, "aureon-sim replay: give the record directory\n\n%s", usage);
		return 2;
	}
	if (!check && (trace || records || force || partial || skip->len)) {
		fprintf(stderr, "aureon-sim replay: --trace, --records, --skip, --partial and --force go with "
				"--check\n\n%s", usage);
		return 2;
	}
	if (check && only) {
		fprintf(stderr, "aureon-sim replay: --check replays every node together; --node is for one node "
				"alone\n\n%s", usage);
		return 2;
	}
	char *err = NULL;
	GPtrArray *boots = au_rl_load_dir(dir, &err);
	if (!boots) {
		fprintf(stderr, "aureon-sim replay: %s: nothing replayed\n", err);
		g_free(err);
		return 2;
	}
	if (check) {
		FILE *dump = NULL;
		if (records && !(dump = fopen(records, "w"))) {
			fprintf(stderr, "aureon-sim replay: --records %s: cannot write: %s\n", records, g_strerror(errno));
			g_ptr_array_free(boots, TRUE);
			return 2;
		}
		g_ptr_array_add(skip, NULL);
		struct au_merge_opts mo = {dir, trace, force, dump, version, (char **)skip->pdata, to_scenario,
					   partial};
		int mrc = au_merge_run(boots, &mo, stdout);
		if (dump && fclose(dump) != 0 && mrc != 2) {
			fprintf(stderr, "aureon-sim replay: --records %s: write failed: %s\n", records, g_strerror(errno));
			mrc = 2;
		}
		g_ptr_array_free(boots, TRUE);
		return mrc;
	}
	int rc = 0;
	unsigned done = 0;
	for (guint i = 0; i < boots->len; i++) {
		const struct au_rl_boot *b = boots->pdata[i];
		if (only && b->node != only)
			continue;
		done++;
		struct au_replay_result r;
		au_replay_boot(b, &r);
		printf("n%u boot %" G_GUINT64_FORMAT " (%u segment%s, %u records, seed %" G_GUINT64_FORMAT "): ", b->node,
		       b->epoch, b->paths->len, b->paths->len == 1 ? "" : "s", b->frames->len, b->seed);
		if (r.outcome == AU_REPLAY_BAD_CONFIG) {
			printf("cannot rebuild the services: %s\n", r.what);
			rc = 2;
		} else if (!au_replay_print_outcome(stdout, b, &r,
						    "; the log ends without a stop record (node killed or still running): "
						    "compared up to its last checkpoint\n", "  ") && rc == 0) {
			rc = 1;
		}
	}
	g_ptr_array_free(boots, TRUE);
	if (!done) {
		fprintf(stderr, "aureon-sim replay: %s holds no log of n%u\n", dir, only);
		return 2;
	}
	return rc;
}

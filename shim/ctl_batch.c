/* ctl_batch.c — aureon-ctl batch and load (see ctl_batch.h): a pipeline of
 * KV operations over the kv model's REQ/RESP protocol, one client node. */
#include "ctl_batch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/values.h"
#include "ctl_client.h"
#include "wire.h"

const char ctl_batch_usage[] =
	"  batch                  read commands from stdin, one per line (put K V, get K,\n"
	"                         del K, cas K EXPECTED NEW; # comments), run them over one\n"
	"                         session with --window W (64) in flight, print one result\n"
	"                         line each in input order (errors: 'error line N: ...')\n"
	"  load --writes N        N puts over --keys K (1000) keys with --concurrency C (64)\n"
	"                         in flight; prints acknowledged writes/s and latency\n"
	"                         p50/p90/p99/max (--json: one object)\n";

static struct {
	uint32_t window;  /* 0: default */
	uint64_t writes;  /* load: 0 = not given */
	uint64_t keys;
} opt;

static bool parse_count(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t x;
	if (!v || !au_parse_u64(v, &x) || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

int ctl_batch_option(int argc, char **argv, int i)
{
	const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
	uint64_t x;
	if (strcmp(a, "--window") == 0 || strcmp(a, "--concurrency") == 0) {
		if (!parse_count(v, 1, CTL_WINDOW_MAX, &x)) {
			fprintf(stderr, "aureon-ctl: %s needs a count of requests in flight, 1..%u\n", a,
				CTL_WINDOW_MAX);
			return -1;
		}
		opt.window = (uint32_t)x;
		return 2;
	}
	if (strcmp(a, "--writes") == 0) {
		if (!parse_count(v, 1, CTL_BATCH_LINES_MAX, &opt.writes)) {
			fprintf(stderr, "aureon-ctl: --writes needs a count, 1..%u\n", CTL_BATCH_LINES_MAX);
			return -1;
		}
		return 2;
	}
	if (strcmp(a, "--keys") == 0) {
		if (!parse_count(v, 1, UINT32_MAX, &opt.keys)) {
			fprintf(stderr, "aureon-ctl: --keys needs a count, 1..%u\n", UINT32_MAX);
			return -1;
		}
		return 2;
	}
	return 0;
}

bool ctl_batch_handles(const char *cmd)
{
	return strcmp(cmd, "batch") == 0 || strcmp(cmd, "load") == 0;
}

/* ---- the pipeline ------------------------------------------------------------------- */

enum op_state { OP_WAITING = 0, OP_FLYING, OP_DONE };
enum op_outcome { OUT_OK = 0, OUT_CAS_FAILED, OUT_BAD_LINE, OUT_UNAVAILABLE };

struct op {
	uint8_t kind;        /* KV_GET, KV_PUT, KV_CAS, KV_DEL */
	int64_t key, value, expected;
	uint64_t line;       /* input line number (batch); 0 for load */
	uint8_t state;       /* enum op_state */
	uint8_t outcome;     /* enum op_outcome, once done */
	int64_t result;      /* the value the leader answered */
	char *error;         /* bad line or unavailable: the message */
	int64_t start_ns, end_ns;
};

/* A window slot: one Raft client session, at most one request in flight. */
struct slot {
	uint64_t client, seq;
	int64_t op;          /* index into ops, -1 while free */
	uint32_t attempt;
	au_node_id target;
	bool awaiting;       /* sent and waiting for an answer (else: backing off) */
	int64_t next_ns;     /* awaiting: the attempt's end; else when to send */
	int64_t deadline_ns; /* the operation gives up then */
	int64_t backoff_ns;
	bool maybe_applied;
	char last[160];
};

struct pipe {
	struct ctl *t;
	struct op *ops;
	uint64_t n_ops, next_op, next_print, done;
	struct slot *slots;
	uint32_t window, flying;
	GHashTable *by_client;  /* client session -> struct slot * */
	GHashTable *key_busy;   /* batch: key -> ops in flight on it (NULL for load) */
	au_node_id leader;      /* where new requests go */
	int64_t timeout_ns;
	bool print;             /* batch: print result lines in order */
};

static void send_attempt(struct pipe *p, struct slot *s)
{
	const struct op *o = &p->ops[s->op];
	uint8_t msg[64];
	struct au_wbuf w;
	au_wbuf_init(&w, msg, sizeof(msg));
	au_put_u8(&w, KV_REQ);
	au_put_u64(&w, s->client);
	au_put_u64(&w, s->seq);
	au_put_u32(&w, ++s->attempt);
	au_put_u8(&w, o->kind);
	au_put_u64(&w, (uint64_t)o->key);
	au_put_u64(&w, (uint64_t)o->value);
	au_put_u64(&w, (uint64_t)o->expected);
	au_wbuf_seal(&w);
	ctl_send(p->t, s->target, p->t->kv_tag, msg, w.len);
	s->awaiting = true;
	int64_t end = mono_ns() + ATTEMPT_NS;
	s->next_ns = end < s->deadline_ns ? end : s->deadline_ns;
}

static void print_ready(struct pipe *p)
{
	while (p->print && p->next_print < p->n_ops && p->ops[p->next_print].state == OP_DONE) {
		struct op *o = &p->ops[p->next_print++];
		switch (o->outcome) {
		case OUT_OK:
			if (o->kind == KV_GET)
				printf("%" G_GINT64_FORMAT "\n", o->result);
			else
				printf("ok\n");
			break;
		case OUT_CAS_FAILED:
			printf("failed: %" G_GINT64_FORMAT " holds %" G_GINT64_FORMAT "\n", o->key, o->result);
			break;
		default:
			printf("error line %" G_GUINT64_FORMAT ": %s\n", o->line, o->error);
			fprintf(stderr, "aureon-ctl: batch line %" G_GUINT64_FORMAT ": %s\n", o->line, o->error);
			break;
		}
	}
}

static void finish(struct pipe *p, struct slot *s, uint8_t outcome, int64_t result, char *error)
{
	struct op *o = &p->ops[s->op];
	g_assert(o->state == OP_FLYING);
	o->state = OP_DONE;
	o->outcome = outcome;
	o->result = result;
	o->error = error;
	o->end_ns = mono_ns();
	if (p->key_busy) {
		gint64 key = o->key;
		gboolean had = g_hash_table_remove(p->key_busy, &key);
		g_assert(had);
	}
	s->op = -1;
	p->flying--;
	p->done++;
	print_ready(p);
}

/* Start waiting operations in input order while slots are free (batch:
 * and while the next one's key has nothing in flight). */
static void dispatch(struct pipe *p)
{
	uint32_t free_from = 0;
	while (p->next_op < p->n_ops) {
		struct op *o = &p->ops[p->next_op];
		if (o->state == OP_DONE) { /* a bad line: nothing to send */
			p->next_op++;
			continue;
		}
		while (free_from < p->window && p->slots[free_from].op >= 0)
			free_from++;
		if (free_from == p->window)
			return; /* the window is full */
		if (p->key_busy) {
			gint64 key = o->key;
			if (g_hash_table_contains(p->key_busy, &key))
				return; /* an earlier command on this key is in flight */
			g_hash_table_add(p->key_busy, g_memdup2(&key, sizeof(key)));
		}
		struct slot *s = &p->slots[free_from];
		s->op = (int64_t)p->next_op++;
		s->seq++;
		s->attempt = 0;
		s->target = p->leader;
		s->maybe_applied = false;
		s->backoff_ns = 20 * AU_NS_PER_MS;
		s->last[0] = '\0';
		o->state = OP_FLYING;
		o->start_ns = mono_ns();
		s->deadline_ns = o->start_ns + p->timeout_ns;
		p->flying++;
		send_attempt(p, s);
	}
}

/* The attempt of slot s ended without an answer, or its backoff is over. */
static void on_slot_timer(struct pipe *p, struct slot *s, int64_t now)
{
	const uint32_t nodes = p->t->c->nodes;
	struct op *o = &p->ops[s->op];
	if (now >= s->deadline_ns) {
		g_autofree char *why = s->maybe_applied
			? g_strdup_printf("no acknowledgement within the timeout; the write may or may not have "
					  "been applied (at most once); last: %s", s->last)
			: g_strdup_printf("no leader answered within the timeout: the cluster has no quorum or its "
					  "nodes are down or unreachable; last: %s", s->last);
		finish(p, s, OUT_UNAVAILABLE, 0, g_strdup(why));
		return;
	}
	if (s->awaiting) {
		/* No answer: the request may have reached a leader that went silent. */
		if (o->kind != KV_GET)
			s->maybe_applied = true;
		g_snprintf(s->last, sizeof(s->last), "n%u did not answer", s->target);
		if (p->leader == s->target)
			p->leader = s->target % nodes + 1;
		s->target = p->leader;
	}
	send_attempt(p, s);
}

static void on_reply(struct pipe *p, au_node_id from, const uint8_t *msg, size_t len)
{
	const uint32_t nodes = p->t->c->nodes;
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, msg, len))
		return;
	uint8_t type = au_get_u8(&rb);
	uint64_t rc = au_get_u64(&rb), rs = au_get_u64(&rb);
	uint32_t ra = au_get_u32(&rb);
	uint8_t status = au_get_u8(&rb);
	au_node_id hint = au_get_u32(&rb);
	int64_t v = (int64_t)au_get_u64(&rb);
	uint8_t flag = au_get_u8(&rb);
	if (rb.short_read || type != KV_RESP)
		return;
	struct slot *s = g_hash_table_lookup(p->by_client, &rc);
	if (!s || s->op < 0 || rs != s->seq)
		return; /* an answer to an operation already finished */
	struct op *o = &p->ops[s->op];
	if (status == KV_ST_OK) {
		p->leader = from;
		finish(p, s, o->kind == KV_CAS && !flag ? OUT_CAS_FAILED : OUT_OK, v, NULL);
		return;
	}
	/* Only a refusal of the latest attempt redirects. */
	if (ra != s->attempt || from != s->target)
		return;
	if (status == KV_ST_RETRY)
		s->maybe_applied = true;
	if (hint && hint <= nodes && hint != from) {
		g_snprintf(s->last, sizeof(s->last), "n%u named n%u as leader", from, hint);
		p->leader = s->target = hint;
		s->backoff_ns = 20 * AU_NS_PER_MS;
		send_attempt(p, s);
	} else {
		/* Nobody leads right now: try the next node after a backoff. */
		g_snprintf(s->last, sizeof(s->last), "n%u knows no leader", from);
		if (p->leader == from)
			p->leader = from % nodes + 1;
		s->target = p->leader;
		s->awaiting = false;
		int64_t at = mono_ns() + s->backoff_ns;
		s->next_ns = at < s->deadline_ns ? at : s->deadline_ns;
		if (s->backoff_ns < 200 * AU_NS_PER_MS)
			s->backoff_ns *= 2;
	}
}

/* Run every operation to completion (acknowledged, refused or timed out). */
static void run_pipe(struct pipe *p)
{
	p->by_client = g_hash_table_new(g_int64_hash, g_int64_equal);
	p->slots = g_new0(struct slot, p->window);
	for (uint32_t i = 0; i < p->window; i++) {
		struct slot *s = &p->slots[i];
		s->op = -1;
		do
			s->client = os_random64() | 1; /* never 0: 0 is "no session" */
		while (g_hash_table_contains(p->by_client, &s->client));
		g_hash_table_insert(p->by_client, &s->client, s);
	}
	p->leader = 1 + (au_node_id)(os_random64() % p->t->c->nodes);
	dispatch(p);
	while (p->done < p->n_ops) {
		int64_t next = INT64_MAX;
		for (uint32_t i = 0; i < p->window; i++)
			if (p->slots[i].op >= 0 && p->slots[i].next_ns < next)
				next = p->slots[i].next_ns;
		g_assert(next != INT64_MAX); /* something is in flight while ops remain */
		au_node_id from;
		const uint8_t *msg;
		size_t len = ctl_recv(p->t, next, p->t->kv_tag, &from, &msg);
		if (len)
			on_reply(p, from, msg, len);
		int64_t now = mono_ns();
		for (uint32_t i = 0; i < p->window; i++)
			if (p->slots[i].op >= 0 && p->slots[i].next_ns <= now)
				on_slot_timer(p, &p->slots[i], now);
		dispatch(p);
	}
	print_ready(p);
	g_hash_table_destroy(p->by_client);
	g_free(p->slots);
}

/* ---- batch ------------------------------------------------------------------------- */

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s)
		return false;
	gint64 v = g_ascii_strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Parse one input line into *o; false with o->error set.  Blank lines and
 * comments never reach here. */
static bool parse_line(char **tok, int ntok, struct op *o)
{
	static const struct {
		const char *name;
		uint8_t kind;
		int nargs;
		const char *syntax;
	} cmds[] = {{"put", KV_PUT, 2, "put KEY VALUE"}, {"get", KV_GET, 1, "get KEY"},
		    {"del", KV_DEL, 1, "del KEY"}, {"cas", KV_CAS, 3, "cas KEY EXPECTED NEW"}};
	for (size_t k = 0; k < G_N_ELEMENTS(cmds); k++) {
		if (strcmp(tok[0], cmds[k].name) != 0)
			continue;
		if (ntok - 1 != cmds[k].nargs) {
			o->error = g_strdup_printf("%s takes %d argument%s (%s)", cmds[k].name, cmds[k].nargs,
						   cmds[k].nargs == 1 ? "" : "s", cmds[k].syntax);
			return false;
		}
		o->kind = cmds[k].kind;
		int64_t a[3] = {0};
		for (int i = 0; i < cmds[k].nargs; i++)
			if (!parse_i64(tok[1 + i], &a[i])) {
				o->error = g_strdup_printf("'%s' is not a signed 64-bit integer (%s)", tok[1 + i],
							   cmds[k].syntax);
				return false;
			}
		o->key = a[0];
		if (o->kind == KV_PUT)
			o->value = a[1];
		else if (o->kind == KV_CAS) {
			o->expected = a[1];
			o->value = a[2];
		}
		return true;
	}
	o->error = g_strdup_printf("unknown command '%s' (batch takes put, get, del, cas)", tok[0]);
	return false;
}

/* Read stdin into ops (comments and blank lines skipped).  false: an I/O
 * error or too many lines (message printed). */
static bool read_batch(GArray *ops)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (lineno > CTL_BATCH_LINES_MAX) {
			fprintf(stderr, "aureon-ctl: batch: more than %u lines; split the input\n", CTL_BATCH_LINES_MAX);
			free(line);
			return false;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		g_strstrip(line);
		if (!*line)
			continue;
		g_auto(GStrv) raw = g_strsplit_set(line, " \t", -1);
		char *tok[8];
		int ntok = 0;
		for (char **r = raw; *r; r++)
			if (**r && ntok < (int)G_N_ELEMENTS(tok))
				tok[ntok++] = *r;
			else if (**r)
				ntok++; /* counted, too many anyway */
		struct op o = {.line = lineno};
		if (ntok > (int)G_N_ELEMENTS(tok)) {
			o.error = g_strdup_printf("too many words (%d)", ntok);
		} else if (!parse_line(tok, ntok, &o)) {
			/* o.error set */
		}
		if (o.error) {
			o.state = OP_DONE;
			o.outcome = OUT_BAD_LINE;
		}
		g_array_append_val(ops, o);
	}
	bool ok = !ferror(stdin);
	if (!ok)
		fprintf(stderr, "aureon-ctl: batch: reading stdin: %s\n", g_strerror(errno));
	free(line);
	return ok;
}

/* The exit code of a run: 3 if any operation's outcome is unknown or no
 * leader answered, else 2 if any line was bad, else 1 if any cas failed. */
static int outcome_exit(const struct op *ops, uint64_t n, uint64_t counts[4])
{
	memset(counts, 0, 4 * sizeof(uint64_t));
	for (uint64_t i = 0; i < n; i++)
		counts[ops[i].outcome]++;
	return counts[OUT_UNAVAILABLE] ? EXIT_UNAVAILABLE
	       : counts[OUT_BAD_LINE]  ? EXIT_USAGE
	       : counts[OUT_CAS_FAILED] ? EXIT_FAILED
					: EXIT_OK;
}

static int cmd_batch(struct ctl *t, int64_t timeout_ns)
{
	g_autoptr(GArray) ops = g_array_new(FALSE, TRUE, sizeof(struct op));
	if (!read_batch(ops))
		return EXIT_USAGE;
	struct pipe p = {.t = t, .ops = (struct op *)(void *)ops->data, .n_ops = ops->len,
			 .window = opt.window ? opt.window : CTL_WINDOW_DEFAULT, .timeout_ns = timeout_ns,
			 .print = true};
	for (uint64_t i = 0; i < p.n_ops; i++)
		p.done += p.ops[i].state == OP_DONE; /* bad lines */
	p.key_busy = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	int64_t t0 = mono_ns();
	run_pipe(&p);
	double secs = (double)(mono_ns() - t0) / 1e9;
	g_hash_table_destroy(p.key_busy);
	fflush(stdout);
	uint64_t c[4];
	int rc = outcome_exit(p.ops, p.n_ops, c);
	fprintf(stderr, "aureon-ctl: batch: %" G_GUINT64_FORMAT " commands in %.3f s (%.0f/s, window %u): %"
			G_GUINT64_FORMAT " ok, %" G_GUINT64_FORMAT " cas failed, %" G_GUINT64_FORMAT " bad lines, %"
			G_GUINT64_FORMAT " unavailable\n",
		p.n_ops, secs, secs > 0 ? (double)p.n_ops / secs : 0.0, p.window, c[OUT_OK], c[OUT_CAS_FAILED],
		c[OUT_BAD_LINE], c[OUT_UNAVAILABLE]);
	for (uint64_t i = 0; i < p.n_ops; i++)
		g_free(p.ops[i].error);
	return rc;
}

/* ---- load -------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile q (0..1] of sorted v[0..n). */
static int64_t percentile(const int64_t *v, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)n);
	return v[rank ? rank - 1 : 0];
}

static int cmd_load(struct ctl *t, int64_t timeout_ns, bool json)
{
	uint64_t n = opt.writes, keys = opt.keys ? opt.keys : 1000;
	struct op *ops = g_new0(struct op, n);
	/* Value: a per-run nonce and the write's number, so repeated runs write
	 * new values. */
	int64_t base = (int64_t)((os_random64() >> 25) << 24); /* >= 0, room for 2^24 writes */
	for (uint64_t i = 0; i < n; i++)
		ops[i] = (struct op){.kind = KV_PUT, .key = (int64_t)(i % keys), .value = base + (int64_t)i};
	uint32_t window = opt.window ? opt.window : CTL_WINDOW_DEFAULT;
	struct pipe p = {.t = t, .ops = ops, .n_ops = n, .window = window, .timeout_ns = timeout_ns};
	int64_t t0 = mono_ns();
	run_pipe(&p);
	int64_t elapsed = mono_ns() - t0;
	uint64_t c[4];
	int rc = outcome_exit(ops, n, c);
	int64_t *lat = g_new(int64_t, n ? n : 1);
	uint64_t acked = 0;
	for (uint64_t i = 0; i < n; i++)
		if (ops[i].outcome == OUT_OK)
			lat[acked++] = ops[i].end_ns - ops[i].start_ns;
	qsort(lat, acked, sizeof(*lat), cmp_i64);
	double secs = (double)elapsed / 1e9, rate = secs > 0 ? (double)acked / secs : 0;
	double ms[4] = {0};
	if (acked) {
		ms[0] = (double)percentile(lat, acked, 0.50) / 1e6;
		ms[1] = (double)percentile(lat, acked, 0.90) / 1e6;
		ms[2] = (double)percentile(lat, acked, 0.99) / 1e6;
		ms[3] = (double)lat[acked - 1] / 1e6;
	}
	if (json)
		printf("{\"writes\": %" G_GUINT64_FORMAT ", \"acknowledged\": %" G_GUINT64_FORMAT
		       ", \"unavailable\": %" G_GUINT64_FORMAT ", \"keys\": %" G_GUINT64_FORMAT
		       ", \"concurrency\": %u, \"seconds\": %.6f, \"writes_per_second\": %.1f, "
		       "\"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}}\n",
		       n, acked, c[OUT_UNAVAILABLE], keys, window, secs, rate, ms[0], ms[1], ms[2], ms[3]);
	else
		printf("load: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " writes acknowledged in %.3f s over %"
		       G_GUINT64_FORMAT " keys, concurrency %u: %.0f writes/s; latency p50 %.2f ms, p90 %.2f ms, "
		       "p99 %.2f ms, max %.2f ms\n",
		       acked, n, secs, keys, window, rate, ms[0], ms[1], ms[2], ms[3]);
	if (c[OUT_UNAVAILABLE]) {
		const char *why = NULL;
		for (uint64_t i = 0; i < n && !why; i++)
			why = ops[i].error;
		fprintf(stderr, "aureon-ctl: load: %" G_GUINT64_FORMAT " writes not acknowledged; first: %s\n",
			c[OUT_UNAVAILABLE], why ? why : "?");
	}
	for (uint64_t i = 0; i < n; i++)
		g_free(ops[i].error);
	g_free(ops);
	g_free(lat);
	return rc;
}

/* ---- entry ------------------------------------------------------------------------- */

int ctl_batch_main(const char *config, const char *cmd, int nargs, char **args, int64_t timeout_ns,
		   bool json)
{
	bool load = strcmp(cmd, "load") == 0;
	if (nargs) {
		fprintf(stderr, "aureon-ctl: %s takes no arguments (%s); unexpected '%s'\n", cmd,
			load ? "--writes N [--concurrency C] [--keys K]" : "commands come on stdin", args[0]);
		return EXIT_USAGE;
	}
	if (load && !opt.writes) {
		fprintf(stderr, "aureon-ctl: load needs --writes N\n");
		return EXIT_USAGE;
	}
	if (!load && (opt.writes || opt.keys)) {
		fprintf(stderr, "aureon-ctl: --writes and --keys are options of load, not batch\n");
		return EXIT_USAGE;
	}
	if (!config) {
		fprintf(stderr, "aureon-ctl: --config CLUSTER.ini is required for %s\n", cmd);
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(config, &err);
	if (!c) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	bool has_kv = false;
	for (uint32_t s = 0; s < c->spec.n_services; s++)
		has_kv = has_kv || strcmp(c->spec.services[s]->name, "kv") == 0;
	int rc;
	struct ctl t;
	if (!has_kv) {
		fprintf(stderr, "aureon-ctl: %s: the cluster does not run the kv service ([cluster] services)\n",
			config);
		rc = EXIT_USAGE;
	} else if (!ctl_open(&t, c, &err)) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		ctl_close(&t);
		rc = EXIT_USAGE;
	} else {
		rc = load ? cmd_load(&t, timeout_ns, json) : cmd_batch(&t, timeout_ns);
		ctl_close(&t);
	}
	au_cluster_free(c);
	return rc;
}

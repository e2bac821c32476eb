/* ctl_results.c — aureon-ctl result make / result get: run a synthetic job
 * and fetch a job's result bytes from the blob store (models/blob.h; design
 * in docs/one.md, "Results").
 *
 *   result make JOB SIZE [--seed S]   ask the leader's blob service to
 *       propose synthetic job JOB of SIZE bytes; returns once ONE has its
 *       record (NOT_LEADER answers are followed, PENDING asked again)
 *   result get JOB --out FILE [--force]   fetch the bytes of JOB's result:
 *       the digest comes from the first node whose ONE replica has the
 *       record; chunks (32 KiB, AU_CHUNK_WINDOW in flight) from the holders
 *       in rendezvous order, moving to the next one when a chunk times out
 *       or a node lacks the blob; the bytes go to FILE.part-PID, are read
 *       back and hashed, and only a file whose SHA-256 is ONE's digest is
 *       renamed to FILE.  An existing FILE is refused without --force.
 *
 * This client keeps its own socket (the same authenticated datagrams as
 * ctl_main.c's) so that it touches no other command's code.
 */
#include "ctl_client.h"
#include "ctl_results.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "cluster.h"
#include "config/values.h"
#include "node.h"
#include "packet.h"
#include "raft/raft.h"

#define AU_CHUNK_WINDOW 4u               /* chunks in flight (socket buffers are ~200 KB) */
#define CHUNK_TIMEOUT_NS (300 * AU_NS_PER_MS)

/* The blob service's packet tag (au_pkt_service_tag("blob")). */
static uint32_t blob_tag(void)
{
	static uint32_t tag;
	if (!tag)
		tag = au_pkt_service_tag("blob");
	return tag;
}

/* ---- result make ---------------------------------------------------------------- */

static int cmd_make(struct ctl *t, uint64_t job, uint32_t size, uint64_t seed, int64_t timeout_ns)
{
	int64_t deadline = mono_ns() + timeout_ns;
	au_node_id to = 1;
	uint64_t req = 0;
	while (mono_ns() < deadline) {
		uint8_t msg[64];
		size_t n = au_blob_encode_synth(++req, job, size, seed, msg, sizeof(msg));
		ctl_send(t, to, blob_tag(), msg, n);
		int64_t until = mono_ns() + CHUNK_TIMEOUT_NS;
		if (until > deadline)
			until = deadline;
		au_node_id from;
		const uint8_t *p;
		bool answered = false;
		size_t len;
		while ((len = ctl_recv(t, until, blob_tag(), &from, &p)) > 0) {
			uint64_t r;
			uint8_t st;
			au_node_id leader;
			if (!au_blob_decode_synth_ack(p, len, &r, &st, &leader) || r != req)
				continue;
			answered = true;
			if (st == AU_BLOB_SYNTH_DONE) {
				printf("job %" G_GUINT64_FORMAT ": synthetic result of %u bytes recorded in ONE\n",
				       job, size);
				return EXIT_OK;
			}
			if (st == AU_BLOB_SYNTH_REFUSED) {
				fprintf(stderr, "aureon-ctl: result make: n%u refused job %" G_GUINT64_FORMAT
					" (size must be 1..%u bytes; the node must run raft and one)\n",
					from, job, AU_BLOB_SYNTH_MAX);
				return EXIT_FAILED;
			}
			if (st == AU_BLOB_SYNTH_NOT_LEADER)
				to = leader ? leader : to % t->c->nodes + 1;
			else
				g_usleep(50000); /* pending: ask again */
			break;
		}
		if (!answered)
			to = to % t->c->nodes + 1;
	}
	fprintf(stderr, "aureon-ctl: result make: job %" G_GUINT64_FORMAT " not recorded within the timeout\n",
		job);
	return EXIT_UNAVAILABLE;
}

/* ---- result get ----------------------------------------------------------------- */

struct getter {
	struct ctl *t;
	uint64_t job, total, nchunks, done_chunks;
	uint8_t digest[32];
	bool known;
	au_node_id order[AU_RAFT_MAX_NODES + 1]; /* every node, holders first */
	uint32_t n_order, at;
	uint8_t *done;        /* [nchunks] */
	int64_t *sent_at;     /* [nchunks]: 0 = not in flight */
	au_node_id *sent_to;  /* [nchunks] */
	uint64_t *req_of;     /* [nchunks] */
	uint64_t next_req;
	uint64_t served_mask;
	int fd;
};

static void rotate(struct getter *g, au_node_id from_node)
{
	if (g->order[g->at] != from_node)
		return; /* already moved on */
	g->at = (g->at + 1) % g->n_order;
	for (uint64_t i = 0; i < g->nchunks; i++)
		if (g->sent_at[i] && g->sent_to[i] == from_node)
			g->sent_at[i] = 0; /* ask the next node for it */
}

static void ask(struct getter *g, uint64_t i, au_node_id to)
{
	uint8_t msg[64];
	size_t n = au_blob_encode_get(++g->next_req, g->job, i * AU_BLOB_CHUNK, msg, sizeof(msg));
	ctl_send(g->t, to, blob_tag(), msg, n);
	g->sent_at[i] = mono_ns();
	g->sent_to[i] = to;
	g->req_of[i] = g->next_req;
}

/* Learn the digest and size from the first node whose ONE replica has the
 * record and which keeps the blob (the chunk at offset 0 carries both). */
static bool discover(struct getter *g, int64_t deadline)
{
	uint32_t n = g->t->c->nodes;
	for (uint32_t round = 0; mono_ns() < deadline; round++) {
		au_node_id to = round % n + 1;
		uint8_t msg[64];
		size_t len = au_blob_encode_get(++g->next_req, g->job, 0, msg, sizeof(msg));
		ctl_send(g->t, to, blob_tag(), msg, len);
		int64_t until = mono_ns() + CHUNK_TIMEOUT_NS;
		au_node_id from;
		const uint8_t *p;
		size_t plen;
		while ((plen = ctl_recv(g->t, until < deadline ? until : deadline, blob_tag(), &from, &p)) > 0) {
			struct au_blob_chunk c;
			if (!au_blob_decode_chunk(p, plen, &c) || c.req != g->next_req)
				continue;
			if (c.status == AU_BLOB_OK || c.status == AU_BLOB_NOT_HERE) {
				/* NOT_HERE still names the digest: the holders follow */
				memcpy(g->digest, c.digest, 32);
				g->known = true;
				return true;
			}
			break;
		}
	}
	return false;
}

static int finish(struct getter *g, const char *tmp, const char *out, bool force)
{
	if (fsync(g->fd) != 0) {
		fprintf(stderr, "aureon-ctl: result get: %s: %s\n", tmp, g_strerror(errno));
		return EXIT_USAGE;
	}
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	uint8_t *buf = g_malloc(1 << 20);
	ssize_t r;
	uint64_t seen = 0;
	if (lseek(g->fd, 0, SEEK_SET) == 0)
		while ((r = read(g->fd, buf, 1 << 20)) > 0) {
			g_checksum_update(ck, buf, (gsize)r);
			seen += (uint64_t)r;
		}
	g_free(buf);
	uint8_t d[32];
	gsize dl = sizeof(d);
	g_checksum_get_digest(ck, d, &dl);
	g_checksum_free(ck);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", g->digest[i]);
	if (seen != g->total || memcmp(d, g->digest, 32) != 0) {
		fprintf(stderr, "aureon-ctl: result get: job %" G_GUINT64_FORMAT ": the bytes fetched do not "
			"hash to the digest ONE recorded (%s); nothing written\n", g->job, hex);
		unlink(tmp);
		return EXIT_FAILED;
	}
	if (!force && access(out, F_OK) == 0) {
		fprintf(stderr, "aureon-ctl: result get: %s appeared meanwhile; not replaced (--force)\n", out);
		unlink(tmp);
		return EXIT_USAGE;
	}
	if (rename(tmp, out) != 0) {
		fprintf(stderr, "aureon-ctl: result get: cannot rename %s to %s: %s\n", tmp, out,
			g_strerror(errno));
		unlink(tmp);
		return EXIT_USAGE;
	}
	GString *who = g_string_new(NULL);
	for (uint32_t n = 1; n < 64; n++)
		if (g->served_mask >> n & 1)
			g_string_append_printf(who, "%sn%u", who->len ? "," : "", n);
	printf("job %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " bytes, sha256 %s, from %s -> %s\n", g->job,
	       g->total, hex, who->str, out);
	g_string_free(who, TRUE);
	return EXIT_OK;
}

static int cmd_get(struct ctl *t, uint64_t job, const char *out, bool force, int64_t timeout_ns)
{
	if (!force && access(out, F_OK) == 0) {
		fprintf(stderr, "aureon-ctl: result get: %s exists; use --force to replace it\n", out);
		return EXIT_USAGE;
	}
	int64_t deadline = mono_ns() + timeout_ns;
	struct getter g = {.t = t, .job = job, .fd = -1};
	if (!discover(&g, deadline)) {
		fprintf(stderr, "aureon-ctl: result get: no node answered with a ONE record of job %" G_GUINT64_FORMAT
			" within the timeout\n", job);
		return EXIT_UNAVAILABLE;
	}
	g.n_order = au_blob_holders(g.digest, t->c->nodes, t->c->nodes, g.order);
	char *tmp = g_strdup_printf("%s.part-%d", out, (int)getpid());
	g.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (g.fd < 0) {
		fprintf(stderr, "aureon-ctl: result get: cannot create %s: %s\n", tmp, g_strerror(errno));
		g_free(tmp);
		return EXIT_USAGE;
	}
	/* The first chunk from the first holder tells the size. */
	int rc = EXIT_UNAVAILABLE;
	g.nchunks = 1;
	g.done = g_new0(uint8_t, 1);
	g.sent_at = g_new0(int64_t, 1);
	g.sent_to = g_new0(au_node_id, 1);
	g.req_of = g_new0(uint64_t, 1);
	bool sized = false;
	while (mono_ns() < deadline) {
		/* fill the window from the current node */
		uint32_t inflight = 0;
		for (uint64_t i = 0; i < g.nchunks; i++)
			inflight += g.sent_at[i] != 0;
		for (uint64_t i = 0; i < g.nchunks && inflight < (sized ? AU_CHUNK_WINDOW : 1); i++)
			if (!g.done[i] && !g.sent_at[i]) {
				ask(&g, i, g.order[g.at]);
				inflight++;
			}
		int64_t oldest = 0;
		for (uint64_t i = 0; i < g.nchunks; i++)
			if (g.sent_at[i] && (!oldest || g.sent_at[i] < oldest))
				oldest = g.sent_at[i];
		int64_t until = oldest + CHUNK_TIMEOUT_NS;
		au_node_id from;
		const uint8_t *p;
		size_t plen = ctl_recv(t, until < deadline ? until : deadline, blob_tag(), &from, &p);
		if (plen == 0) {
			for (uint64_t i = 0; i < g.nchunks; i++)
				if (g.sent_at[i] && mono_ns() - g.sent_at[i] >= CHUNK_TIMEOUT_NS)
					rotate(&g, g.sent_to[i]);
			continue;
		}
		struct au_blob_chunk c;
		if (!au_blob_decode_chunk(p, plen, &c) || c.job != job || c.offset % AU_BLOB_CHUNK)
			continue;
		uint64_t i = c.offset / AU_BLOB_CHUNK;
		if (i >= g.nchunks || g.done[i] || g.req_of[i] != c.req)
			continue;
		if (c.status != AU_BLOB_OK || memcmp(c.digest, g.digest, 32) != 0 ||
		    (sized && c.total != g.total) || c.total > AU_BLOB_MAX) {
			g.sent_at[i] = 0;
			rotate(&g, from);
			continue;
		}
		if (!sized) {
			g.total = c.total;
			g.nchunks = c.total ? (c.total + AU_BLOB_CHUNK - 1) / AU_BLOB_CHUNK : 1;
			g.done = g_renew(uint8_t, g.done, g.nchunks);
			g.sent_at = g_renew(int64_t, g.sent_at, g.nchunks);
			g.sent_to = g_renew(au_node_id, g.sent_to, g.nchunks);
			g.req_of = g_renew(uint64_t, g.req_of, g.nchunks);
			memset(g.done + 1, 0, g.nchunks - 1);
			memset(g.sent_at + 1, 0, (g.nchunks - 1) * sizeof(int64_t));
			memset(g.req_of + 1, 0, (g.nchunks - 1) * sizeof(uint64_t));
			sized = true;
		}
		if (c.n != (c.offset + AU_BLOB_CHUNK <= g.total ? AU_BLOB_CHUNK : g.total - c.offset) ||
		    pwrite(g.fd, c.data, c.n, (off_t)c.offset) != (ssize_t)c.n) {
			g.sent_at[i] = 0;
			continue;
		}
		g.done[i] = 1;
		g.sent_at[i] = 0;
		g.done_chunks++;
		g.served_mask |= from < 64 ? UINT64_C(1) << from : 0;
		if (g.done_chunks == g.nchunks) {
			rc = finish(&g, tmp, out, force);
			break;
		}
	}
	if (rc == EXIT_UNAVAILABLE) {
		fprintf(stderr, "aureon-ctl: result get: job %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " of %"
			G_GUINT64_FORMAT " chunks within the timeout; no holder answered for the rest\n",
			job, g.done_chunks, g.nchunks);
		unlink(tmp);
	}
	close(g.fd);
	g_free(tmp);
	g_free(g.done);
	g_free(g.sent_at);
	g_free(g.sent_to);
	g_free(g.req_of);
	return rc;
}

/* ---- the command line ----------------------------------------------------------- */

bool au_ctl_results_is_cmd(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--timeout") == 0) {
			i++;
			continue;
		}
		if (g_str_has_prefix(argv[i], "--"))
			continue;
		return strcmp(argv[i], "result") == 0;
	}
	return false;
}

static int rusage(const char *what)
{
	fprintf(stderr, "aureon-ctl: %s\n\nusage: aureon-ctl --config CLUSTER.ini [--timeout T] result get JOB "
		"--out FILE [--force]\n       aureon-ctl --config CLUSTER.ini [--timeout T] result make JOB "
		"SIZE [--seed S]\n", what);
	return EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return false;
	*v = x;
	return true;
}

int au_ctl_results_main(int argc, char **argv)
{
	const char *config = NULL, *out = NULL;
	bool force = false;
	int64_t timeout_ns = 5 * AU_NS_PER_S;
	uint64_t seed = 1;
	const char *pos[8];
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (strcmp(a, "--config") == 0 && has_val)
			config = argv[++i];
		else if (strcmp(a, "--out") == 0 && has_val)
			out = argv[++i];
		else if (strcmp(a, "--force") == 0)
			force = true;
		else if (strcmp(a, "--timeout") == 0 && has_val) {
			if (!au_parse_duration(argv[++i], &timeout_ns) || timeout_ns <= 0)
				return rusage("--timeout needs a duration with a unit, e.g. 5s");
		} else if (strcmp(a, "--seed") == 0 && has_val) {
			if (!parse_u64(argv[++i], &seed))
				return rusage("--seed needs an unsigned integer");
		} else if (g_str_has_prefix(a, "--")) {
			g_autofree char *why = g_strdup_printf("result: unknown option or missing value '%s'", a);
			return rusage(why);
		} else if (npos < 8)
			pos[npos++] = a;
		else
			return rusage("result: too many arguments");
	}
	/* pos[0] is "result" */
	if (npos < 2 || (strcmp(pos[1], "get") != 0 && strcmp(pos[1], "make") != 0))
		return rusage("result needs get or make");
	bool get = strcmp(pos[1], "get") == 0;
	uint64_t job = 0, size = 0;
	if (npos != (get ? 3 : 4) || !parse_u64(pos[2], &job) || job == 0)
		return rusage(get ? "result get takes JOB (a positive integer)"
				  : "result make takes JOB SIZE (positive integers)");
	if (!get && (!parse_u64(pos[3], &size) || size == 0 || size > AU_BLOB_SYNTH_MAX)) {
		g_autofree char *why = g_strdup_printf("result make: SIZE must be 1..%u bytes", AU_BLOB_SYNTH_MAX);
		return rusage(why);
	}
	if (get && !out)
		return rusage("result get needs --out FILE");
	if (!config)
		return rusage("--config CLUSTER.ini is required for result");
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(config, &err);
	if (!c) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	if (!au_cluster_spec_runs(&c->spec, "blob") || !au_cluster_spec_runs(&c->spec, "one")) {
		fprintf(stderr, "aureon-ctl: %s: the cluster does not run the blob and one services "
			"([cluster] services)\n", config);
		au_cluster_free(c);
		return EXIT_USAGE;
	}
	struct ctl t;
	int rc;
	if (!ctl_open(&t, c, &err)) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		rc = EXIT_USAGE;
	} else {
		rc = get ? cmd_get(&t, job, out, force, timeout_ns) : cmd_make(&t, job, (uint32_t)size, seed, timeout_ns);
	}
	ctl_close(&t);
	au_cluster_free(c);
	return rc;
}

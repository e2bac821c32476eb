/* record.c — aureon-node's input recorder (see record.h, core/reclog.h). */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

#define FLUSH_AT (64u << 10) /* write early when this much is buffered */

struct au_rec {
	char *dir;
	uint64_t max_bytes;
	struct au_rec_info info;
	char *cluster_text;
	char **services;
	char *host_id;
	int fd;
	uint32_t segment;
	uint64_t seg_bytes, total_bytes;
	struct au_reclog_buf out; /* framed records not yet written */
	struct au_reclog_buf cur; /* the open record's payload */
	bool in_input, failed;
	au_time last_now;         /* previous now() answer (delta base) */
	au_time last_t;           /* previous record time (delta base) */
	uint64_t inputs;
	uint64_t input_ops;       /* env operations with effects in the open input */
	struct au_reclog_digest digest;
};

static void fail(struct au_rec *r, const char *what)
{
	if (!r->failed)
		fprintf(stderr, "aureon-node n%u: --record %s: %s: recording stops here (the log ends "
				"without a stop record)\n", r->info.self, r->dir, what);
	r->failed = true;
}

static bool write_all(struct au_rec *r, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(r->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fail(r, g_strerror(errno));
			return false;
		}
		p += w;
		n -= (size_t)w;
		r->seg_bytes += (uint64_t)w;
		r->total_bytes += (uint64_t)w;
	}
	return true;
}

/* Open segment r->segment and write its prefix and HEADER frame. */
static bool open_segment(struct au_rec *r, char **err)
{
	g_autofree char *name = g_strdup_printf("n%u-e%06" G_GUINT64_FORMAT "-%04u.aurec", r->info.self,
						r->info.epoch, r->segment);
	g_autofree char *path = g_build_filename(r->dir, name, NULL);
	r->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		*err = g_strdup_printf("%s: %s", path, g_strerror(errno));
		return false;
	}
	r->seg_bytes = 0;
	uint8_t prefix[AU_RECLOG_PREFIX_LEN];
	memcpy(prefix, AU_RECLOG_MAGIC, AU_RECLOG_MAGIC_LEN);
	prefix[8] = (uint8_t)(AU_RECLOG_VERSION & 0xff);
	prefix[9] = (uint8_t)(AU_RECLOG_VERSION >> 8);
	struct au_reclog_buf h = {0};
	au_reclog_put_u8(&h, AU_REC_HEADER);
	au_reclog_put_uv(&h, r->info.self);
	au_reclog_put_uv(&h, r->info.epoch);
	au_reclog_put_uv(&h, r->segment);
	au_reclog_put_uv(&h, r->info.seed);
	size_t tlen = strlen(r->cluster_text);
	au_reclog_put_uv(&h, au_hash_fnv1a(r->cluster_text, tlen));
	au_reclog_put_uv(&h, r->info.n_services);
	for (uint32_t i = 0; i < r->info.n_services; i++)
		au_reclog_put_blob(&h, r->services[i], strlen(r->services[i]));
	au_reclog_put_blob(&h, r->cluster_text, tlen);
	au_reclog_put_sv(&h, r->info.t0_mono_ns);
	au_reclog_put_sv(&h, r->info.t0_real_ns);
	au_reclog_put_blob(&h, r->host_id, strlen(r->host_id));
	struct au_reclog_buf f = {0};
	au_reclog_put_bytes(&f, prefix, sizeof(prefix));
	au_reclog_frame(&f, h.p, h.len);
	bool ok = write_all(r, f.p, f.len);
	au_reclog_buf_free(&h);
	au_reclog_buf_free(&f);
	if (!ok)
		*err = g_strdup_printf("%s: %s", path, g_strerror(errno));
	return ok;
}

struct au_rec *au_rec_open(const char *dir, uint64_t max_bytes, const struct au_rec_info *info,
			   char **err)
{
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		*err = g_strdup_printf("cannot create %s: %s", dir, g_strerror(errno));
		return NULL;
	}
	struct au_rec *r = g_new0(struct au_rec, 1);
	r->dir = g_strdup(dir);
	r->max_bytes = max_bytes ? max_bytes : AU_REC_MAX_BYTES_DEFAULT;
	r->info = *info;
	r->cluster_text = g_strdup(info->cluster_text);
	r->services = g_new0(char *, info->n_services + 1);
	for (uint32_t i = 0; i < info->n_services; i++)
		r->services[i] = g_strdup(info->services[i]);
	r->host_id = g_strdup(info->host_id ? info->host_id : "");
	r->info.cluster_text = NULL;
	r->info.services = NULL;
	r->info.host_id = NULL;
	if (!open_segment(r, err)) {
		if (r->fd >= 0)
			close(r->fd);
		g_free(r->dir);
		g_free(r->cluster_text);
		g_strfreev(r->services);
		g_free(r->host_id);
		g_free(r);
		return NULL;
	}
	return r;
}

void au_rec_flush(struct au_rec *r)
{
	if (!r || r->failed || !r->out.len)
		return;
	bool ok = write_all(r, r->out.p, r->out.len);
	r->out.len = 0;
	if (!ok || r->seg_bytes < r->max_bytes || r->in_input)
		return;
	/* Rotate: the full segment is made durable, the next one opened. */
	if (fdatasync(r->fd) != 0)
		fail(r, g_strerror(errno));
	close(r->fd);
	r->fd = -1;
	r->segment++;
	char *err = NULL;
	if (!open_segment(r, &err)) {
		fail(r, err);
		g_free(err);
	}
}

static void put_record(struct au_rec *r)
{
	au_reclog_frame(&r->out, r->cur.p, r->cur.len);
	r->cur.len = 0;
	if (r->out.len >= FLUSH_AT)
		au_rec_flush(r);
}

void au_rec_begin(struct au_rec *r, enum au_reclog_type type, au_time t)
{
	r->cur.len = 0;
	au_reclog_put_u8(&r->cur, (uint8_t)type);
	au_reclog_put_sv(&r->cur, t - r->last_t);
	r->last_t = t;
	r->in_input = true;
	r->input_ops = 0;
}

void au_rec_uv(struct au_rec *r, uint64_t v) { au_reclog_put_uv(&r->cur, v); }
void au_rec_sv(struct au_rec *r, int64_t v) { au_reclog_put_sv(&r->cur, v); }
void au_rec_blob(struct au_rec *r, const void *p, size_t n) { au_reclog_put_blob(&r->cur, p, n); }
bool au_rec_in_input(const struct au_rec *r) { return r && r->in_input; }

bool au_rec_end(struct au_rec *r)
{
	r->in_input = false;
	put_record(r);
	r->inputs++;
	return r->inputs % AU_REC_CHECKPOINT_EVERY == 0;
}

void au_rec_now(struct au_rec *r, au_time t)
{
	if (!r->in_input)
		return;
	au_reclog_put_u8(&r->cur, AU_ANS_NOW);
	au_reclog_put_sv(&r->cur, t - r->last_now);
	r->last_now = t;
}

void au_rec_answer(struct au_rec *r, enum au_reclog_answer tag, int64_t v)
{
	if (!r->in_input)
		return;
	au_reclog_put_u8(&r->cur, (uint8_t)tag);
	au_reclog_put_sv(&r->cur, v);
	if (tag == AU_ANS_WRITE || tag == AU_ANS_TRUNC || tag == AU_ANS_SEND)
		au_reclog_put_uv(&r->cur, r->input_ops); /* the operation just counted */
}

void au_rec_read(struct au_rec *r, int64_t result, const void *buf)
{
	if (!r->in_input)
		return;
	au_reclog_put_u8(&r->cur, AU_ANS_READ);
	au_reclog_put_sv(&r->cur, result);
	if (result > 0)
		au_reclog_put_bytes(&r->cur, buf, (size_t)result);
}

void au_rec_counts(struct au_rec *r, uint64_t in, uint64_t out)
{
	if (!r->in_input)
		return;
	au_reclog_put_u8(&r->cur, AU_ANS_COUNTS);
	au_reclog_put_uv(&r->cur, in);
	au_reclog_put_uv(&r->cur, out);
}

void au_rec_op(struct au_rec *r, uint8_t op, uint32_t svc, uint64_t a, uint64_t b, uint64_t c,
	       const void *bytes, size_t n)
{
	au_reclog_digest_op(&r->digest, op, svc, a, b, c, bytes, n);
	if (r->in_input) {
		r->input_ops++;
		return;
	}
	/* A model acted outside any input the log holds (e.g. an observer
	 * that drew a random number): the replay stops here, saying so. */
	struct au_reclog_buf s = {0};
	au_reclog_put_u8(&s, AU_REC_STRAY);
	au_reclog_put_uv(&s, op);
	au_reclog_put_uv(&s, svc);
	au_reclog_frame(&r->out, s.p, s.len);
	au_reclog_buf_free(&s);
}

void au_rec_checkpoint(struct au_rec *r, bool has_raft, uint64_t raft_digest, uint64_t term,
		       uint64_t commit)
{
	r->cur.len = 0;
	au_reclog_put_u8(&r->cur, AU_REC_CHECKPOINT);
	au_reclog_put_uv(&r->cur, r->inputs);
	au_reclog_put_uv(&r->cur, au_reclog_digest_value(&r->digest));
	au_reclog_put_u8(&r->cur, has_raft ? 1 : 0);
	au_reclog_put_uv(&r->cur, raft_digest);
	au_reclog_put_uv(&r->cur, term);
	au_reclog_put_uv(&r->cur, commit);
	put_record(r);
}

void au_rec_close(struct au_rec *r, au_time t)
{
	if (!r)
		return;
	au_rec_begin(r, AU_REC_STOP, t);
	r->in_input = false;
	put_record(r);
	au_rec_flush(r);
	if (r->fd >= 0 && !r->failed && fsync(r->fd) != 0)
		fail(r, g_strerror(errno));
	if (r->fd >= 0)
		close(r->fd);
	au_reclog_buf_free(&r->out);
	au_reclog_buf_free(&r->cur);
	g_free(r->dir);
	g_free(r->cluster_text);
	g_strfreev(r->services);
	g_free(r->host_id);
	g_free(r);
}

uint64_t au_rec_bytes(const struct au_rec *r) { return r ? r->total_bytes + r->out.len : 0; }
uint64_t au_rec_inputs(const struct au_rec *r) { return r ? r->inputs : 0; }

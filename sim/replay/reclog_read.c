/* reclog_read.c — reading and checking record logs (see reclog_read.h). */
#include "sim/replay/reclog_read.h"

#include <stdio.h>
#include <string.h>

#include "hash.h"

void au_rl_boot_free(struct au_rl_boot *b)
{
	if (!b)
		return;
	g_free(b->cluster_text);
	g_strfreev(b->services);
	g_free(b->host_id);
	if (b->paths)
		g_ptr_array_free(b->paths, TRUE);
	if (b->maps) {
		for (guint i = 0; i < b->maps->len; i++)
			g_mapped_file_unref(b->maps->pdata[i]);
		g_ptr_array_free(b->maps, TRUE);
	}
	if (b->frames)
		g_array_free(b->frames, TRUE);
	g_free(b);
}

/* Parse a HEADER payload; false with *why on a malformed one. */
static bool parse_header(const uint8_t *p, size_t len, struct au_rl_boot *h, uint32_t *seg, const char **why)
{
	struct au_reclog_cur c = {p, len, 0, false};
	if (au_reclog_get_u8(&c) != AU_REC_HEADER) {
		*why = "first record is not a header";
		return false;
	}
	h->node = (uint32_t)au_reclog_get_uv(&c);
	h->epoch = au_reclog_get_uv(&c);
	*seg = (uint32_t)au_reclog_get_uv(&c);
	h->seed = au_reclog_get_uv(&c);
	h->config_digest = au_reclog_get_uv(&c);
	uint64_t ns = au_reclog_get_uv(&c);
	if (c.bad || ns == 0 || ns > 64) {
		*why = "malformed header (service count)";
		return false;
	}
	h->n_services = (uint32_t)ns;
	h->services = g_new0(char *, ns + 1);
	for (uint64_t i = 0; i < ns; i++) {
		size_t n;
		const uint8_t *s = au_reclog_get_blob(&c, &n);
		h->services[i] = g_strndup((const char *)s, s ? n : 0);
	}
	size_t tn;
	const uint8_t *t = au_reclog_get_blob(&c, &tn);
	if (c.bad) {
		*why = "malformed header";
		return false;
	}
	h->cluster_text = g_strndup((const char *)t, tn);
	if (h->version >= 2) {
		h->t0_mono_ns = au_reclog_get_sv(&c);
		h->t0_real_ns = au_reclog_get_sv(&c);
		size_t hn;
		const uint8_t *hid = au_reclog_get_blob(&c, &hn);
		if (c.bad) {
			*why = "malformed header (clock anchor)";
			return false;
		}
		g_free(h->host_id);
		h->host_id = g_strndup((const char *)hid, hn);
		h->has_anchor = true;
	}
	if (c.pos != c.len) {
		*why = "malformed header (trailing bytes)";
		return false;
	}
	if (au_hash_fnv1a(h->cluster_text, strlen(h->cluster_text)) != h->config_digest) {
		*why = "header's cluster text does not match its config digest";
		return false;
	}
	return true;
}

struct au_rl_boot *au_rl_load_boot(char *const *paths, uint32_t n, char **err)
{
	struct au_rl_boot *b = g_new0(struct au_rl_boot, 1);
	b->paths = g_ptr_array_new_with_free_func(g_free);
	b->maps = g_ptr_array_new();
	b->frames = g_array_new(FALSE, FALSE, sizeof(struct au_rl_frame));
	for (uint32_t s = 0; s < n; s++) {
		const char *path = paths[s];
		g_ptr_array_add(b->paths, g_strdup(path));
		GError *gerr = NULL;
		GMappedFile *m = g_mapped_file_new(path, FALSE, &gerr);
		if (!m) {
			*err = g_strdup_printf("%s: %s", path, gerr->message);
			g_error_free(gerr);
			goto fail;
		}
		g_ptr_array_add(b->maps, m);
		const uint8_t *img = (const uint8_t *)g_mapped_file_get_contents(m);
		size_t len = g_mapped_file_get_length(m);
		if (len < AU_RECLOG_PREFIX_LEN || memcmp(img, AU_RECLOG_MAGIC, AU_RECLOG_MAGIC_LEN) != 0) {
			*err = g_strdup_printf("%s: offset 0: not a record log (bad magic%s)", path,
					       len < AU_RECLOG_PREFIX_LEN ? ", file too short" : "");
			goto fail;
		}
		unsigned version = (unsigned)img[8] | (unsigned)img[9] << 8;
		if (version < AU_RECLOG_VERSION_MIN || version > AU_RECLOG_VERSION) {
			*err = g_strdup_printf("%s: offset 8: log format version %u; this aureon-sim reads versions "
					       "%u to %u", path, version, AU_RECLOG_VERSION_MIN, AU_RECLOG_VERSION);
			goto fail;
		}
		if (s > 0 && version != b->version) {
			*err = g_strdup_printf("%s: offset 8: log format version %u, segment 0 has %u", path, version,
					       b->version);
			goto fail;
		}
		b->version = version;
		size_t off = AU_RECLOG_PREFIX_LEN;
		bool first = true;
		for (;;) {
			const uint8_t *p;
			size_t plen;
			char why[160];
			int r = au_reclog_next_frame(img, len, off, &p, &plen, why, sizeof(why));
			if (r == 0)
				break;
			if (r < 0) {
				*err = g_strdup_printf("%s: offset %zu: %s", path, off, why);
				goto fail;
			}
			if (first) {
				struct au_rl_boot h = {.version = version};
				uint32_t seg = 0;
				const char *bad = NULL;
				bool ok = parse_header(p, plen, &h, &seg, &bad);
				if (ok && s == 0) {
					b->node = h.node;
					b->epoch = h.epoch;
					b->seed = h.seed;
					b->config_digest = h.config_digest;
					b->cluster_text = h.cluster_text;
					b->services = h.services;
					b->n_services = h.n_services;
					b->has_anchor = h.has_anchor;
					b->t0_mono_ns = h.t0_mono_ns;
					b->t0_real_ns = h.t0_real_ns;
					b->host_id = h.host_id;
					h.cluster_text = NULL;
					h.services = NULL;
					h.host_id = NULL;
				} else if (ok && (h.node != b->node || h.epoch != b->epoch || h.seed != b->seed ||
						  h.config_digest != b->config_digest)) {
					bad = "header names another node, boot, seed or configuration than segment 0";
					ok = false;
				}
				if (ok && seg != s) {
					bad = "header's segment number is not the file's place in the sequence";
					ok = false;
				}
				g_free(h.cluster_text);
				g_strfreev(h.services);
				g_free(h.host_id);
				if (!ok) {
					*err = g_strdup_printf("%s: offset %zu: %s", path, off, bad);
					goto fail;
				}
				first = false;
			}
			struct au_rl_frame f = {p, plen, s, off, b->frames->len};
			g_array_append_val(b->frames, f);
			off += AU_RECLOG_FRAME_HDR + plen;
		}
		if (first) {
			*err = g_strdup_printf("%s: offset %zu: no header record (file cut after its prefix)", path, off);
			goto fail;
		}
	}
	return b;
fail:
	au_rl_boot_free(b);
	return NULL;
}

struct seg_name {
	char *path;
	uint32_t node, seg;
	uint64_t epoch;
};

static gint seg_cmp(gconstpointer a, gconstpointer b)
{
	const struct seg_name *x = *(struct seg_name *const *)a, *y = *(struct seg_name *const *)b;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	return x->seg < y->seg ? -1 : x->seg > y->seg;
}

static void seg_free(gpointer p)
{
	struct seg_name *s = p;
	g_free(s->path);
	g_free(s);
}

GPtrArray *au_rl_load_dir(const char *dir, char **err)
{
	GError *gerr = NULL;
	GDir *d = g_dir_open(dir, 0, &gerr);
	if (!d) {
		*err = g_strdup_printf("%s: %s", dir, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	GPtrArray *names = g_ptr_array_new_with_free_func(seg_free);
	const char *e;
	while ((e = g_dir_read_name(d))) {
		if (!g_str_has_suffix(e, ".aurec"))
			continue;
		unsigned node, seg;
		unsigned long long epoch;
		int used = 0;
		if (sscanf(e, "n%u-e%llu-%u.aurec%n", &node, &epoch, &seg, &used) != 3 || (size_t)used != strlen(e)) {
			*err = g_strdup_printf("%s/%s: not a segment name (nK-eEPOCH-SEG.aurec)", dir, e);
			g_dir_close(d);
			g_ptr_array_free(names, TRUE);
			return NULL;
		}
		struct seg_name *s = g_new0(struct seg_name, 1);
		s->path = g_build_filename(dir, e, NULL);
		s->node = node;
		s->epoch = epoch;
		s->seg = seg;
		g_ptr_array_add(names, s);
	}
	g_dir_close(d);
	if (!names->len) {
		*err = g_strdup_printf("%s: no record log segments (*.aurec) here", dir);
		g_ptr_array_free(names, TRUE);
		return NULL;
	}
	g_ptr_array_sort(names, seg_cmp);
	GPtrArray *boots = g_ptr_array_new_with_free_func((GDestroyNotify)au_rl_boot_free);
	for (guint i = 0; i < names->len;) {
		struct seg_name *s0 = names->pdata[i];
		guint j = i;
		GPtrArray *paths = g_ptr_array_new();
		while (j < names->len) {
			struct seg_name *sj = names->pdata[j];
			if (sj->node != s0->node || sj->epoch != s0->epoch)
				break;
			if (sj->seg != j - i) {
				*err = g_strdup_printf("%s: segment %u of n%u's boot %llu is missing (found %u next)",
						       sj->path, j - i, s0->node, (unsigned long long)s0->epoch, sj->seg);
				g_ptr_array_free(paths, TRUE);
				goto fail;
			}
			g_ptr_array_add(paths, sj->path);
			j++;
		}
		struct au_rl_boot *b = au_rl_load_boot((char *const *)paths->pdata, paths->len, err);
		g_ptr_array_free(paths, TRUE);
		if (!b)
			goto fail;
		if (b->node != s0->node || b->epoch != s0->epoch) {
			*err = g_strdup_printf("%s: offset %u: header says n%u boot %llu, the file name n%u boot %llu",
					       s0->path, AU_RECLOG_PREFIX_LEN, b->node, (unsigned long long)b->epoch,
					       s0->node, (unsigned long long)s0->epoch);
			au_rl_boot_free(b);
			goto fail;
		}
		g_ptr_array_add(boots, b);
		i = j;
	}
	g_ptr_array_free(names, TRUE);
	return boots;
fail:
	g_ptr_array_free(names, TRUE);
	g_ptr_array_free(boots, TRUE);
	return NULL;
}

/* trace_h5.c — the HDF5 trace writer (see trace_h5.h). */
#include "trace_h5.h"

#include <errno.h>
#include <glib.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "trace_kinds.h"
#include "sim.h"

#define BATCH_ROWS 16384u /* rows buffered per dataset: one whole chunk per write */
#define CHUNK_ROWS 16384u /* HDF5 chunk size in rows */
#define DEFLATE_LEVEL 1
#define MIN_FREE_BYTES (UINT64_C(16) << 20)
#define MAX_INFLIGHT 8    /* batches queued for the writer thread */

/* One dataset being appended to: a packed row buffer and its types. */
struct table {
	char *name;
	hid_t dset, type; /* packed compound type, used in memory and on file */
	size_t row_size;
	uint8_t *buf;
	size_t rows;       /* buffered */
	uint64_t written;  /* already in the file */
	bool enabled;
	/* model tables only */
	const struct au_table_desc *desc;
	size_t *col_off;   /* packed offset of each model column */
};

struct au_h5 {
	char *path;
	hid_t file;
	bool failed;
	char *err;
	struct table events, messages;
	struct table *model_tables; /* [service][table] flattened */
	uint32_t *first_table;      /* per service index into model_tables */
	uint32_t n_model_tables;
	uint32_t message_sample;
	uint64_t message_count;
	hid_t kind_enum, fate_enum, type_enum;
	GThread *writer;
	GAsyncQueue *jobs, *done;
	int inflight;
	gint failed_flag; /* set by the writer thread */
	char *result, *checks, *violation; /* au_h5_set_verdict, written at close */
	char *violation_json; /* au_h5_set_violation_json, written at close */
};

/* Remove a failed trace, but only if it is a regular file we made: never
 * a device or a symlink someone pointed --trace --force at. */
static void remove_partial(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		unlink(path);
}

static void set_error(struct au_h5 *h, const char *what)
{
	if (h->failed)
		return;
	h->failed = true;
	h->err = g_strdup_printf("%s: %s failed (disk full or file removed?)", h->path, what);
}

static hid_t make_enum8(const char *const *names, uint32_t n)
{
	hid_t t = H5Tenum_create(H5T_NATIVE_UINT8);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t v = (uint8_t)i;
		if (names[i])
			H5Tenum_insert(t, names[i], &v);
	}
	return t;
}

static hid_t make_kind_enum(void)
{
	hid_t t = H5Tenum_create(H5T_NATIVE_UINT16);
	uint16_t v;
#define AU_X(name, num)                                                                \
	v = num;                                                                       \
	H5Tenum_insert(t, #name, &v);
	AU_TRACE_KINDS(AU_X)
#undef AU_X
	return t;
}

/* Message types: service << 8 | first byte, named "service.TYPE". */
static hid_t make_type_enum(const struct au_scenario *sc)
{
	hid_t t = H5Tenum_create(H5T_NATIVE_UINT16);
	bool any = false;
	for (uint32_t s = 0; s < sc->cluster.n_services; s++) {
		const struct au_model *m = sc->cluster.services[s];
		for (uint32_t i = 0; i < m->n_message_names && i < 256; i++) {
			if (!m->message_names[i])
				continue;
			g_autofree char *name = g_strdup_printf("%s.%s", m->name, m->message_names[i]);
			uint16_t v = (uint16_t)(s << 8 | i);
			H5Tenum_insert(t, name, &v);
			any = true;
		}
	}
	if (!any) { /* an enum needs at least one member */
		uint16_t v = 0xffff;
		H5Tenum_insert(t, "unnamed", &v);
	}
	return t;
}

static bool table_create(struct au_h5 *h, struct table *tb, const char *name, hid_t type)
{
	tb->name = g_strdup(name);
	tb->type = type;
	tb->row_size = H5Tget_size(type);
	tb->buf = g_malloc(tb->row_size * BATCH_ROWS);
	if (!tb->enabled)
		return true;
	hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = CHUNK_ROWS;
	hid_t space = H5Screate_simple(1, &dims, &maxdims);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 1, &chunk);
	H5Pset_shuffle(dcpl);
	H5Pset_deflate(dcpl, DEFLATE_LEVEL);
	H5Pset_obj_track_times(dcpl, 0); /* identical runs, identical bytes */
	tb->dset = H5Dcreate2(h->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	H5Pclose(dcpl);
	H5Sclose(space);
	return tb->dset >= 0;
}

/* A full batch on its way to the writer thread. */
struct job {
	struct table *tb;
	uint8_t *buf;
	hsize_t start, rows;
};

/* The writer thread: the only user of HDF5 between au_h5_create and
 * au_h5_close, so compression runs beside the simulation, never in it.
 * Jobs arrive in the order the simulation filled them, so the file's bytes
 * are the same as if they were written inline. */
static gpointer writer_main(gpointer data)
{
	struct au_h5 *h = data;
	for (;;) {
		struct job *j = g_async_queue_pop(h->jobs);
		if (!j->tb) {
			g_free(j);
			return NULL;
		}
		if (!g_atomic_int_get(&h->failed_flag)) {
			hsize_t total = j->start + j->rows;
			hid_t fspace = -1, mspace = -1;
			bool ok = H5Dset_extent(j->tb->dset, &total) >= 0;
			if (ok) {
				fspace = H5Dget_space(j->tb->dset);
				mspace = H5Screate_simple(1, &j->rows, NULL);
				H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &j->start, NULL, &j->rows, NULL);
				ok = H5Dwrite(j->tb->dset, j->tb->type, mspace, fspace, H5P_DEFAULT, j->buf) >= 0;
				H5Sclose(mspace);
				H5Sclose(fspace);
			}
			if (!ok)
				g_atomic_int_set(&h->failed_flag, 1);
		}
		g_free(j->buf);
		g_free(j);
		g_async_queue_push(h->done, GINT_TO_POINTER(1));
	}
}

/* Hand the table's batch to the writer.  At most MAX_INFLIGHT batches wait
 * at a time, so memory stays bounded when the disk is slower than the
 * simulation. */
static void table_flush(struct au_h5 *h, struct table *tb)
{
	if (!tb->enabled || tb->rows == 0)
		return;
	if (g_atomic_int_get(&h->failed_flag)) {
		tb->rows = 0;
		return;
	}
	while (h->inflight >= MAX_INFLIGHT) {
		(void)g_async_queue_pop(h->done);
		h->inflight--;
	}
	struct job *j = g_new(struct job, 1);
	j->tb = tb;
	j->buf = tb->buf;
	j->start = tb->written;
	j->rows = tb->rows;
	tb->written += tb->rows;
	tb->rows = 0;
	tb->buf = g_malloc(tb->row_size * BATCH_ROWS);
	h->inflight++;
	g_async_queue_push(h->jobs, j);
}

/* Wait for the writer to finish everything and stop. */
static void writer_stop(struct au_h5 *h)
{
	if (!h->writer)
		return;
	g_async_queue_push(h->jobs, g_new0(struct job, 1));
	g_thread_join(h->writer);
	h->writer = NULL;
	while (g_async_queue_try_pop(h->done))
		;
	h->inflight = 0;
	if (g_atomic_int_get(&h->failed_flag))
		set_error(h, "writing a dataset");
}

static uint8_t *table_slot(struct au_h5 *h, struct table *tb)
{
	if (tb->rows == BATCH_ROWS)
		table_flush(h, tb);
	return tb->buf + tb->rows++ * tb->row_size;
}

static void table_close(struct table *tb)
{
	if (tb->enabled && tb->dset > 0)
		H5Dclose(tb->dset);
	if (tb->type > 0)
		H5Tclose(tb->type);
	g_free(tb->buf);
	g_free(tb->name);
	g_free(tb->col_off);
}

/* Packed row layouts.  Offsets are explicit so the HDF5 type and the
 * buffer agree byte for byte. */
enum { EV_T = 0, EV_NODE = 8, EV_KIND = 12, EV_A = 14, EV_B = 22, EV_C = 30, EV_SIZE = 38 };
enum {
	MS_RECORD = 0, MS_SEND = 8, MS_RECV = 16, MS_SRC = 24, MS_DST = 28, MS_TYPE = 32,
	MS_BYTES = 34, MS_FATE = 38, MS_SIZE = 39
};

static hid_t events_type(struct au_h5 *h)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, EV_SIZE);
	H5Tinsert(t, "t_ns", EV_T, H5T_NATIVE_INT64);
	H5Tinsert(t, "node", EV_NODE, H5T_NATIVE_UINT32);
	H5Tinsert(t, "kind", EV_KIND, h->kind_enum);
	H5Tinsert(t, "a", EV_A, H5T_NATIVE_INT64);
	H5Tinsert(t, "b", EV_B, H5T_NATIVE_INT64);
	H5Tinsert(t, "c", EV_C, H5T_NATIVE_INT64);
	return t;
}

static hid_t messages_type(struct au_h5 *h)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, MS_SIZE);
	H5Tinsert(t, "record", MS_RECORD, H5T_NATIVE_UINT64);
	H5Tinsert(t, "send_ns", MS_SEND, H5T_NATIVE_INT64);
	H5Tinsert(t, "recv_ns", MS_RECV, H5T_NATIVE_INT64);
	H5Tinsert(t, "src", MS_SRC, H5T_NATIVE_UINT32);
	H5Tinsert(t, "dst", MS_DST, H5T_NATIVE_UINT32);
	H5Tinsert(t, "type", MS_TYPE, h->type_enum);
	H5Tinsert(t, "bytes", MS_BYTES, H5T_NATIVE_UINT32);
	H5Tinsert(t, "fate", MS_FATE, h->fate_enum);
	return t;
}

static size_t col_size(enum au_col_type t)
{
	return t == AU_COL_U32 ? 4 : t == AU_COL_ENUM8 ? 1 : 8;
}

static hid_t model_table_type(struct table *tb, const struct au_table_desc *d)
{
	size_t size = 8 + 8 + 4;
	tb->col_off = g_new(size_t, d->n_cols ? d->n_cols : 1);
	for (uint32_t i = 0; i < d->n_cols; i++) {
		tb->col_off[i] = size;
		size += col_size(d->cols[i].type);
	}
	hid_t t = H5Tcreate(H5T_COMPOUND, size);
	H5Tinsert(t, "record", 0, H5T_NATIVE_UINT64);
	H5Tinsert(t, "t_ns", 8, H5T_NATIVE_INT64);
	H5Tinsert(t, "node", 16, H5T_NATIVE_UINT32);
	for (uint32_t i = 0; i < d->n_cols; i++) {
		const struct au_table_col *c = &d->cols[i];
		hid_t ct = c->type == AU_COL_I64   ? H5Tcopy(H5T_NATIVE_INT64)
			   : c->type == AU_COL_U32 ? H5Tcopy(H5T_NATIVE_UINT32)
			   : c->type == AU_COL_F64 ? H5Tcopy(H5T_NATIVE_DOUBLE)
						   : make_enum8(c->enum_names, c->n_enum);
		H5Tinsert(t, c->name, tb->col_off[i], ct);
		H5Tclose(ct);
	}
	return t;
}

static bool wanted(const struct au_scenario *sc, const char *name)
{
	if (!sc->trace_tables)
		return true;
	for (char **t = sc->trace_tables; *t; t++)
		if (strcmp(*t, name) == 0)
			return true;
	return false;
}

bool au_h5_table_known(const struct au_scenario *sc, const char *name)
{
	if (strcmp(name, "events") == 0 || strcmp(name, "messages") == 0)
		return true;
	for (uint32_t s = 0; s < sc->cluster.n_services; s++)
		for (uint32_t i = 0; i < sc->cluster.services[s]->n_tables; i++)
			if (strcmp(sc->cluster.services[s]->tables[i].name, name) == 0)
				return true;
	return false;
}

/* [trace]: which message records are kept (all, none or 1 in K), which
 * datasets the trace file gets, and the period of models' metrics rows. */
static bool load_trace(struct au_keys *K, struct au_scenario *sc)
{
	static const char *const keys[] = {"messages", "tables", "metrics_period", NULL};
	sc->record_messages = true;
	sc->message_sample = 1;
	sc->metrics_period = AU_NS_PER_S;
	if (!g_key_file_has_group(K->kf, "trace"))
		return true;
	if (!au_keys_only(K, "trace", keys, NULL))
		return false;
	g_autofree char *v = au_keys_value(K, "trace", "messages");
	if (v && strcmp(v, "none") == 0) {
		sc->record_messages = false;
		sc->message_sample = 0;
	} else if (v && g_str_has_prefix(v, "1/")) {
		uint64_t k;
		if (!au_parse_u64(v + 2, &k) || k < 1 || k > UINT32_MAX)
			return au_keys_fail(K, "trace", "messages", "'%s': a sample is 1/K with K a positive integer", v);
		sc->message_sample = (uint32_t)k;
	} else if (v && strcmp(v, "all") != 0) {
		return au_keys_fail(K, "trace", "messages", "'%s' is not all, none or 1/K", v);
	}
	g_autofree char *tables = au_keys_value(K, "trace", "tables");
	if (tables) {
		sc->trace_tables = g_strsplit(tables, ",", -1);
		for (char **t = sc->trace_tables; *t; t++) {
			g_strstrip(*t);
			if (!au_h5_table_known(sc, *t))
				return au_keys_fail(K, "trace", "tables",
					    "no table '%s' in this scenario (events, messages, or a table "
					    "of a running service)", *t);
		}
	}
	if (au_keys_has(K, "trace", "metrics_period")) {
		if (!au_keys_duration(K, "trace", "metrics_period", &sc->metrics_period, true))
			return false;
		if (sc->metrics_period <= 0)
			return au_keys_fail(K, "trace", "metrics_period", "must be longer than 0");
	}
	return true;
}

static const struct au_scenario_hook trace_hook = {"trace", load_trace, NULL};

void au_h5_register(void)
{
	au_scenario_register(&trace_hook);
}

static void attr_string(hid_t loc, const char *name, const char *value)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, strlen(value) + 1);
	H5Tset_strpad(t, H5T_STR_NULLTERM);
	hid_t space = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, t, value);
	H5Aclose(a);
	H5Sclose(space);
	H5Tclose(t);
}

static void attr_u64(hid_t loc, const char *name, uint64_t v)
{
	hid_t space = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(loc, name, H5T_NATIVE_UINT64, space, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_UINT64, &v);
	H5Aclose(a);
	H5Sclose(space);
}

static void attr_i64(hid_t loc, const char *name, int64_t v)
{
	hid_t space = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(loc, name, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_INT64, &v);
	H5Aclose(a);
	H5Sclose(space);
}

static bool check_path(const char *path, bool force, char **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		*err = g_strdup_printf("%s: directory %s does not exist", path, dir);
		return false;
	}
	if (access(dir, W_OK) != 0) {
		*err = g_strdup_printf("%s: directory %s is not writable", path, dir);
		return false;
	}
	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		*err = g_strdup_printf("%s: is a directory", path);
		return false;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		*err = g_strdup_printf("%s: exists and is not a regular file; refusing to overwrite it",
				       path);
		return false;
	}
	if (g_file_test(path, G_FILE_TEST_EXISTS) && !force) {
		*err = g_strdup_printf("%s: exists (pass --force to overwrite)", path);
		return false;
	}
	struct statvfs vfs;
	if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < MIN_FREE_BYTES) {
		*err = g_strdup_printf("%s: less than %llu MiB free on that disk", path,
				       (unsigned long long)(MIN_FREE_BYTES >> 20));
		return false;
	}
	return true;
}

struct au_h5 *au_h5_create(const char *path, bool force, const struct au_scenario *sc,
			   uint64_t seed, const char *version, char **err)
{
	/* HDF5's exit-time cleanup crashes on a file whose close failed (a full
	 * disk); the OS reclaims everything at exit anyway.  Must precede every
	 * other HDF5 call. */
	H5dont_atexit();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */
	if (!check_path(path, force, err))
		return NULL;
	struct au_h5 *h = g_new0(struct au_h5, 1);
	h->path = g_strdup(path);
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
	H5Pset_obj_track_times(fcpl, 0);
	h->file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
	H5Pclose(fcpl);
	if (h->file < 0) {
		*err = g_strdup_printf("%s: cannot create HDF5 file", path);
		g_free(h->path);
		g_free(h);
		return NULL;
	}
	h->message_sample = sc->message_sample;
	h->kind_enum = make_kind_enum();
	static const char *const fates[] = {"delivered", "dropped", "partitioned", "duplicated",
					    "corrupted", "dst_down"};
	h->fate_enum = make_enum8(fates, G_N_ELEMENTS(fates));
	h->type_enum = make_type_enum(sc);
	/* Named types make the enums visible as such in h5dump and HDFView. */
	H5Tcommit2(h->file, "kind_t", h->kind_enum, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Tcommit2(h->file, "fate_t", h->fate_enum, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Tcommit2(h->file, "message_type_t", h->type_enum, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	h->events.enabled = wanted(sc, "events");
	h->messages.enabled = sc->message_sample > 0 && wanted(sc, "messages");
	bool ok = table_create(h, &h->events, "events", events_type(h)) &&
		  table_create(h, &h->messages, "messages", messages_type(h));
	h->first_table = g_new0(uint32_t, sc->cluster.n_services + 1);
	for (uint32_t s = 0; s < sc->cluster.n_services; s++) {
		h->first_table[s] = h->n_model_tables;
		h->n_model_tables += sc->cluster.services[s]->n_tables;
	}
	h->first_table[sc->cluster.n_services] = h->n_model_tables;
	h->model_tables = g_new0(struct table, h->n_model_tables ? h->n_model_tables : 1);
	for (uint32_t s = 0; ok && s < sc->cluster.n_services; s++) {
		for (uint32_t i = 0; ok && i < sc->cluster.services[s]->n_tables; i++) {
			const struct au_table_desc *d = &sc->cluster.services[s]->tables[i];
			struct table *tb = &h->model_tables[h->first_table[s] + i];
			tb->desc = d;
			tb->enabled = wanted(sc, d->name);
			ok = table_create(h, tb, d->name, model_table_type(tb, d));
			if (ok && tb->enabled) {
				attr_string(tb->dset, "help", d->help);
				attr_u64(tb->dset, "service_index", s);
				attr_u64(tb->dset, "table_index", i);
			}
		}
	}
	attr_u64(h->file, "seed", seed);
	attr_string(h->file, "scenario", sc->text);
	attr_string(h->file, "scenario_name", sc->name);
	attr_string(h->file, "aureon_version", version);
	attr_u64(h->file, "nodes", sc->cluster.nodes);
	GString *svc = g_string_new(NULL);
	for (uint32_t s = 0; s < sc->cluster.n_services; s++)
		g_string_append_printf(svc, "%s%s", s ? "," : "", sc->cluster.services[s]->name);
	attr_string(h->file, "services", svc->str);
	g_string_free(svc, TRUE);
	attr_u64(h->file, "message_sample", sc->message_sample);
	h->jobs = g_async_queue_new();
	h->done = g_async_queue_new();
	if (!ok) {
		*err = g_strdup_printf("%s: cannot create the trace datasets", path);
		au_h5_abort(h);
		return NULL;
	}
	h->writer = g_thread_new("aureon-h5", writer_main, h);
	return h;
}

static void put(uint8_t *row, size_t off, const void *v, size_t n)
{
	memcpy(row + off, v, n);
}

void au_h5_event(struct au_h5 *h, au_time t, uint32_t node, uint16_t kind, int64_t a,
		 int64_t b, int64_t c)
{
	if (!h->events.enabled)
		return;
	uint8_t *row = table_slot(h, &h->events);
	put(row, EV_T, &t, 8);
	put(row, EV_NODE, &node, 4);
	put(row, EV_KIND, &kind, 2);
	put(row, EV_A, &a, 8);
	put(row, EV_B, &b, 8);
	put(row, EV_C, &c, 8);
}

void au_h5_message(struct au_h5 *h, uint64_t record, au_time send_ns, au_time recv_ns,
		   uint32_t src, uint32_t dst, uint16_t type, uint32_t bytes, uint8_t fate)
{
	if (!h->messages.enabled)
		return;
	/* 1 in k by message count: deterministic, and spread over the run. */
	if (h->message_count++ % h->message_sample != 0)
		return;
	uint8_t *row = table_slot(h, &h->messages);
	put(row, MS_RECORD, &record, 8);
	put(row, MS_SEND, &send_ns, 8);
	put(row, MS_RECV, &recv_ns, 8);
	put(row, MS_SRC, &src, 4);
	put(row, MS_DST, &dst, 4);
	put(row, MS_TYPE, &type, 2);
	put(row, MS_BYTES, &bytes, 4);
	put(row, MS_FATE, &fate, 1);
}

void au_h5_row(struct au_h5 *h, uint32_t service, uint32_t table, uint64_t record,
	       au_time t, uint32_t node, const void *src)
{
	struct table *tb = &h->model_tables[h->first_table[service] + table];
	if (!tb->enabled)
		return;
	uint8_t *row = table_slot(h, tb);
	put(row, 0, &record, 8);
	put(row, 8, &t, 8);
	put(row, 16, &node, 4);
	const struct au_table_desc *d = tb->desc;
	for (uint32_t i = 0; i < d->n_cols; i++)
		put(row, tb->col_off[i], (const uint8_t *)src + d->cols[i].offset,
		    col_size(d->cols[i].type));
}

bool au_h5_failed(const struct au_h5 *h, char **err)
{
	bool failed = h->failed || g_atomic_int_get(&h->failed_flag);
	if (failed && err)
		*err = g_strdup(h->err ? h->err : "a dataset write failed");
	return failed;
}

static void close_all(struct au_h5 *h)
{
	writer_stop(h);
	g_async_queue_unref(h->jobs);
	g_async_queue_unref(h->done);
	table_close(&h->events);
	table_close(&h->messages);
	for (uint32_t i = 0; i < h->n_model_tables; i++)
		table_close(&h->model_tables[i]);
	g_free(h->model_tables);
	g_free(h->first_table);
	H5Tclose(h->kind_enum);
	H5Tclose(h->fate_enum);
	H5Tclose(h->type_enum);
	if (H5Fclose(h->file) < 0)
		set_error(h, "closing the file");
}

static void free_verdict(struct au_h5 *h)
{
	g_free(h->result);
	g_free(h->checks);
	g_free(h->violation);
	g_clear_pointer(&h->violation_json, g_free);
}

void au_h5_set_verdict(struct au_h5 *h, const char *result, const char *checks,
		       const char *violation)
{
	g_assert(result && checks && violation);
	free_verdict(h);
	h->result = g_strdup(result);
	h->checks = g_strdup(checks);
	h->violation = g_strdup(violation);
}

void au_h5_set_violation_json(struct au_h5 *h, const char *json)
{
	g_assert(json);
	g_free(h->violation_json);
	h->violation_json = g_strdup(json);
}

int au_h5_close(struct au_h5 *h, const char *trace_hash, au_time sim_end_ns, uint64_t events,
		uint64_t records, char **err)
{
	table_flush(h, &h->events);
	table_flush(h, &h->messages);
	for (uint32_t i = 0; i < h->n_model_tables; i++)
		table_flush(h, &h->model_tables[i]);
	writer_stop(h); /* HDF5 is ours again from here */
	attr_string(h->file, "trace_hash", trace_hash);
	attr_i64(h->file, "sim_end_ns", sim_end_ns);
	attr_u64(h->file, "events", events);
	attr_u64(h->file, "records", records);
	if (h->result) {
		attr_string(h->file, "result", h->result);
		attr_string(h->file, "checks", h->checks);
		attr_string(h->file, "violation", h->violation);
	}
	if (h->violation_json)
		attr_string(h->file, "violation_json", h->violation_json);
	close_all(h);
	int rc = 0;
	if (h->failed) {
		*err = g_strdup(h->err);
		remove_partial(h->path);
		rc = -1;
	}
	free_verdict(h);
	g_free(h->err);
	g_free(h->path);
	g_free(h);
	return rc;
}

void au_h5_abort(struct au_h5 *h)
{
	close_all(h);
	remove_partial(h->path);
	free_verdict(h);
	g_free(h->err);
	g_free(h->path);
	g_free(h);
}

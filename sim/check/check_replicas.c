/* check_replicas.c — replicas_agree (see check_replicas.h). */
#include "check_replicas.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "trace_kinds.h"

#define WINDOW 8192u        /* indexes kept: 8192 * digest_every log entries */
#define EXPLAIN_RECORDS 8u  /* differing records printed per machine on stderr */

/* ---- the digest table --------------------------------------------------------- */

struct au_replica_table {
	uint64_t every;
	uint32_t window;
	struct au_replica_report *ring; /* slot (index / every) % window; index 0: empty */
};

struct au_replica_table *au_replica_table_new(uint64_t every, uint32_t window)
{
	g_assert(every > 0 && window > 0);
	struct au_replica_table *t = g_new0(struct au_replica_table, 1);
	t->every = every;
	t->window = window;
	t->ring = g_new0(struct au_replica_report, window);
	return t;
}

void au_replica_table_free(struct au_replica_table *t)
{
	if (!t)
		return;
	g_free(t->ring);
	g_free(t);
}

enum au_replica_verdict au_replica_table_report(struct au_replica_table *t,
						const struct au_replica_report *r,
						struct au_replica_report *first)
{
	struct au_replica_report *s = &t->ring[(r->index / t->every) % t->window];
	if (s->index == r->index && r->index != 0) {
		if (s->digest == r->digest)
			return AU_REPLICA_AGREE;
		*first = *s;
		return AU_REPLICA_DIFFER;
	}
	if (s->index > r->index)
		return AU_REPLICA_TOO_OLD; /* its slot holds a newer index now */
	*s = *r;
	return AU_REPLICA_FIRST;
}

/* ---- diffing descriptions ------------------------------------------------------- */

/* A description's lines, split at the first ": " into id and fields. */
struct record_line {
	char *id, *fields;
};

static GArray *split_records(char *text)
{
	GArray *lines = g_array_new(FALSE, FALSE, sizeof(struct record_line));
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		struct record_line r = {line, (char *)""};
		char *sep = strstr(line, ": ");
		if (sep) {
			*sep = '\0';
			r.fields = sep + 2;
		}
		g_array_append_val(lines, r);
		line = nl ? nl + 1 : NULL;
	}
	return lines;
}

static GHashTable *index_records(GArray *lines)
{
	GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < lines->len; i++) {
		struct record_line *r = &g_array_index(lines, struct record_line, i);
		if (!g_hash_table_contains(h, r->id))
			g_hash_table_insert(h, r->id, r->fields);
	}
	return h;
}

size_t au_replica_diff(const char *a, au_node_id na, const char *b, au_node_id nb,
		       size_t max_records, char *out, size_t out_len)
{
	g_autofree char *ca = g_strdup(a ? a : "");
	g_autofree char *cb = g_strdup(b ? b : "");
	GArray *la = split_records(ca), *lb = split_records(cb);
	GHashTable *ha = index_records(la), *hb = index_records(lb);
	GString *s = g_string_new(NULL);
	size_t n = 0;
	/* In a's order (lookups only: the tables are never iterated). */
	for (guint i = 0; i < la->len; i++) {
		const struct record_line *r = &g_array_index(la, struct record_line, i);
		const char *other = g_hash_table_lookup(hb, r->id);
		if (other && strcmp(other, r->fields) == 0)
			continue;
		if (n++ < max_records) {
			if (other)
				g_string_append_printf(s, "%s: n%u has %s, n%u has %s\n", r->id, na,
						       r->fields, nb, other);
			else
				g_string_append_printf(s, "%s: only n%u has %s\n", r->id, na, r->fields);
		}
	}
	for (guint i = 0; i < lb->len; i++) {
		const struct record_line *r = &g_array_index(lb, struct record_line, i);
		if (g_hash_table_contains(ha, r->id))
			continue;
		if (n++ < max_records)
			g_string_append_printf(s, "%s: only n%u has %s\n", r->id, nb, r->fields);
	}
	if (out_len) {
		g_strlcpy(out, s->str, out_len);
	}
	g_string_free(s, TRUE);
	g_hash_table_destroy(ha);
	g_hash_table_destroy(hb);
	g_array_free(la, TRUE);
	g_array_free(lb, TRUE);
	return n;
}

/* ---- the checker ------------------------------------------------------------------ */

struct replicas {
	struct au_replica_table *table;
	uint64_t every;
	uint32_t raft_svc;   /* index of the raft service */
	uint64_t reports, compared, too_old;
};

void *au_check_replicas_create(struct au_sim *sim)
{
	struct replicas *x = g_new0(struct replicas, 1);
	x->every = 0;
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		if (sim->sc->cluster.services[i] == &au_raft_model) {
			x->raft_svc = i;
			x->every = ((const struct au_raft_config *)sim->sc->cluster.service_config[i])->digest_every;
		}
	if (x->every)
		x->table = au_replica_table_new(x->every, WINDOW);
	return x;
}

void au_check_replicas_destroy(void *st)
{
	struct replicas *x = st;
	au_replica_table_free(x->table);
	g_free(x);
}

void au_check_replicas_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	struct replicas *x = st;
	(void)sim;
	if (!x->table)
		return;
	snprintf(buf, len, "%" G_GUINT64_FORMAT " state digests (every %" G_GUINT64_FORMAT
		 " applied entries), %" G_GUINT64_FORMAT " compared with another replica's%s",
		 x->reports, x->every, x->compared,
		 x->too_old ? ", some too far behind to compare" : "");
}

static struct au_raft *raft_of(struct au_sim *sim, const struct replicas *x, au_node_id n)
{
	if (n == 0 || n > sim->nodes || !sim->node[n].svc)
		return NULL;
	return sim->node[n].svc[x->raft_svc].state;
}

/* What a replay keeps of one replica's state at one report. */
struct au_replica_capture {
	uint64_t index;
	au_node_id node;
	au_time t_ns;
	uint64_t digest;  /* what the replica reported then */
	bool done;        /* captured, and its digest is the one reported */
	char *text[AU_RAFT_MAX_MACHINES]; /* au_raft_describe per slot, or NULL */
};

/* Every slot's description of node n's state now. */
static void describe_all(struct au_raft *r, char *text[AU_RAFT_MAX_MACHINES])
{
	for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++)
		text[id] = au_raft_slot_name(r, id) ? au_raft_describe(r, id) : NULL;
}

/* The run is deterministic, so the replay reaches exactly the state whose
 * digest was reported — which is checked: it fails if the run was changed
 * from outside (as tests do). */
bool au_replica_replay(struct au_sim *sim, au_node_id node, uint64_t index, au_time t_ns,
		       uint64_t digest, char *text[AU_RAFT_MAX_MACHINES])
{
	struct au_replica_capture cap = {index, node, t_ns, digest, false, {NULL}};
	struct au_sim *re = au_sim_new(sim->sc, sim->seed);
	struct au_checks *cs = au_checks_of(re);
	if (cs)
		cs->replica_capture = &cap;
	au_sim_run(re, t_ns);
	au_sim_free(re);
	memcpy(text, cap.text, sizeof(cap.text));
	return cap.done;
}

/* Where replica `bad` (at `index` now) and the first report differ:
 * which machines (from the fingerprints), and which records (from both
 * replicas' descriptions at that index — of a replica at that index now,
 * or, if none is, of the first reporter as a replay shows it then).  The
 * details go to stderr, a summary into `why`. */
static void explain(struct au_sim *sim, struct replicas *x, au_node_id bad, uint64_t index,
		    uint64_t bad_digest, const struct au_replica_report *first, char *why,
		    size_t why_len)
{
	struct au_raft *rb = raft_of(sim, x, bad);
	if (!rb) { /* not from a running Raft (a forged record): nothing to look at */
		snprintf(why, why_len, "n%u runs no Raft now", bad);
		return;
	}
	uint64_t slots_b[AU_RAFT_MAX_MACHINES];
	au_raft_state_digest(rb, slots_b);
	au_node_id ref = 0, same_as_bad = 0;
	for (au_node_id n = 1; n <= sim->servers; n++) {
		struct au_raft *r = n == bad ? NULL : raft_of(sim, x, n);
		uint64_t slots[AU_RAFT_MAX_MACHINES];
		if (!r || au_raft_applied_index(r) != index)
			continue;
		uint64_t d = au_raft_state_digest(r, slots);
		if (d == first->digest && !ref)
			ref = n;
		else if (d == bad_digest && !same_as_bad)
			same_as_bad = n;
	}
	/* Which machines: by the fingerprints of the two reports. */
	GString *machines = g_string_new(NULL);
	bool which[AU_RAFT_MAX_MACHINES] = {false};
	for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++) {
		uint64_t fa = (first->fingerprints >> (8 * id)) & 0xff;
		uint64_t fb = slots_b[id] & 0xff;
		const char *name = au_raft_slot_name(rb, id);
		if (fa != fb && name) {
			which[id] = true;
			g_string_append_printf(machines, "%s%s", machines->len ? ", " : "", name);
		}
	}
	if (!machines->len) {
		/* Every byte agrees (a 1-in-256 chance per machine): look at all. */
		g_string_append(machines, "machine unknown");
		for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++)
			which[id] = au_raft_slot_name(rb, id) != NULL;
	}
	fprintf(stderr, "aureon-sim: replicas_agree: at applied index %" G_GUINT64_FORMAT
		": n%u (t=%" G_GINT64_FORMAT " ns) had state digest %016" G_GINT64_MODIFIER "x, n%u "
		"(t=%" G_GINT64_FORMAT " ns) has %016" G_GINT64_MODIFIER "x; differing: %s\n", index,
		first->node, first->t_ns, first->digest, bad, sim->now, bad_digest, machines->str);
	if (same_as_bad)
		fprintf(stderr, "aureon-sim: replicas_agree: n%u, also at index %" G_GUINT64_FORMAT
			" now, agrees with n%u\n", same_as_bad, index, bad);
	char *ref_text[AU_RAFT_MAX_MACHINES] = {NULL};
	bool have_ref = false;
	if (ref) {
		describe_all(raft_of(sim, x, ref), ref_text);
		have_ref = true;
	} else {
		ref = first->node;
		have_ref = au_replica_replay(sim, first->node, first->index, first->t_ns,
					     first->digest, ref_text);
		fprintf(stderr, "aureon-sim: replicas_agree: no replica is at index %" G_GUINT64_FORMAT
			" with n%u's state now; %s\n", index, ref,
			have_ref ? "replayed the run up to then to see it"
				 : "a replay did not reproduce that report, so records cannot be shown");
	}
	char first_diff[160] = "";
	for (uint8_t id = 0; have_ref && id < AU_RAFT_MAX_MACHINES; id++) {
		if (!which[id])
			continue;
		g_autofree char *db = au_raft_describe(rb, id);
		if (!ref_text[id] || !db) {
			fprintf(stderr, "aureon-sim: replicas_agree: %s cannot describe its state\n",
				au_raft_slot_name(rb, id));
			continue;
		}
		char text[4096];
		size_t n = au_replica_diff(ref_text[id], ref, db, bad, EXPLAIN_RECORDS, text,
					   sizeof(text));
		fprintf(stderr, "aureon-sim: replicas_agree: %s: %zu records differ between n%u and "
			"n%u at index %" G_GUINT64_FORMAT "%s\n", au_raft_slot_name(rb, id), n, ref,
			bad, index, n > EXPLAIN_RECORDS ? "; the first ones:" : ":");
		for (char *line = text; *line;) {
			char *nl = strchr(line, '\n');
			fprintf(stderr, "    %.*s\n", (int)(nl ? nl - line : (ptrdiff_t)strlen(line)), line);
			line = nl ? nl + 1 : line + strlen(line);
		}
		if (n && !first_diff[0]) {
			char *nl = strchr(text, '\n');
			if (nl)
				*nl = '\0';
			g_autofree char *d = g_strdup_printf(": %s", text);
			g_strlcpy(first_diff, d, sizeof(first_diff));
		}
	}
	for (uint8_t id = 0; id < AU_RAFT_MAX_MACHINES; id++)
		g_free(ref_text[id]);
	snprintf(why, why_len, "%s%s", machines->str, first_diff);
	g_string_free(machines, TRUE);
}

/* On a replay: keep the state of the replica being looked for, then stop. */
static void capture_event(struct au_sim *sim, struct replicas *x, au_node_id node,
			  uint64_t index)
{
	struct au_replica_capture *cap = au_checks_of(sim)->replica_capture;
	if (cap->done || node != cap->node || index != cap->index || sim->now != cap->t_ns)
		return;
	struct au_raft *r = raft_of(sim, x, node);
	if (!r)
		return;
	uint64_t slots[AU_RAFT_MAX_MACHINES];
	if (au_raft_state_digest(r, slots) == cap->digest) {
		describe_all(r, cap->text);
		cap->done = true;
	}
	sim->stop = true;
}

const struct au_check_kinds au_check_replicas_kinds[] = {
	AU_CHECK_KIND(AU_TR_RAFT_DIGEST),
	AU_CHECK_KINDS_END,
};

void au_check_replicas_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind,
			     int64_t a, int64_t b, int64_t c)
{
	struct replicas *x = st;
	if (kind != AU_TR_RAFT_DIGEST || !x->table)
		return;
	if (au_checks_of(sim)->replica_capture) {
		capture_event(sim, x, node, (uint64_t)a);
		return;
	}
	struct au_replica_report r = {(uint64_t)a, (uint64_t)b, (uint64_t)c, node, sim->now};
	struct au_replica_report first;
	x->reports++;
	switch (au_replica_table_report(x->table, &r, &first)) {
	case AU_REPLICA_FIRST:
		break;
	case AU_REPLICA_AGREE:
		x->compared++;
		break;
	case AU_REPLICA_TOO_OLD:
		x->too_old++;
		break;
	case AU_REPLICA_DIFFER: {
		char why[200];
		explain(sim, x, node, r.index, r.digest, &first, why, sizeof(why));
		au_sim_violate(sim, "replicas_agree", node,
			       "n%u and n%u differ at applied index %" G_GINT64_FORMAT " (%s); details "
			       "on stderr", first.node, node, a, why);
		break;
	}
	}
}

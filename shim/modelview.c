/* modelview.c — /peers and the SWIM, RQML, ONE and queue series of
 * /metrics (see modelview.h). */
#include "modelview.h"

#include <string.h>

#include "one.h"
#include "orchestrator/orchestrator.h"
#include "rqml.h"
#include "swim.h"
#include "taskq.h"

const char *au_peer_state_name(int state)
{
	static const char *const names[] = {"alive", "suspect", "dead", "left", "unknown"};
	return state >= 0 && state <= AU_SWIM_UNKNOWN ? names[state] : "unknown";
}

void au_peer_view_get(struct au_node *n, au_node_id id, struct au_peer_view *out)
{
	const struct au_cluster *c = au_node_cluster(n);
	g_assert(id >= 1 && id <= c->nodes);
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->address = c->host_text[id];
	out->self = id == au_node_id_of(n);
	const struct au_swim *sw = au_node_service_state(n, "swim");
	out->has_swim = sw != NULL;
	out->state = sw ? (int)au_swim_member_state(sw, id) : AU_SWIM_UNKNOWN;
	out->incarnation = sw ? au_swim_member_incarnation(sw, id) : 0;
	if (!out->self)
		out->trust_known = au_node_peer_trust(n, id, &out->quarantined, &out->quarantine_left_ns,
						      &out->invalid_proofs, &out->wrong_key);
}

/* Append `text` as a JSON string. */
static void json_str(GString *o, const char *text)
{
	g_string_append_c(o, '"');
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(o, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(o, "\\u%04x", *p);
		else
			g_string_append_c(o, (char)*p);
	}
	g_string_append_c(o, '"');
}

void au_modelview_peers_json(struct au_node *n, GString *o)
{
	const struct au_cluster *c = au_node_cluster(n);
	const struct au_swim *sw = au_node_service_state(n, "swim");
	g_string_append_printf(o, "{\"node\": \"n%u\", \"swim\": %s", au_node_id_of(n), sw ? "true" : "false");
	if (sw)
		g_string_append_printf(o, ", \"alive\": %u", au_swim_alive_count(sw));
	else
		g_string_append(o, ", \"reason\": \"no swim service on this node: add swim (after raft) to "
				   "[cluster] services for the membership view\"");
	g_string_append(o, ", \"members\": [");
	for (au_node_id id = 1; id <= c->nodes; id++) {
		struct au_peer_view v;
		au_peer_view_get(n, id, &v);
		g_string_append_printf(o, "%s{\"id\": \"n%u\", \"address\": ", id > 1 ? ", " : "", id);
		json_str(o, v.address);
		g_string_append_printf(o, ", \"self\": %s", v.self ? "true" : "false");
		if (v.has_swim)
			g_string_append_printf(o, ", \"state\": \"%s\", \"incarnation\": %u",
					       au_peer_state_name(v.state), v.incarnation);
		else
			g_string_append(o, ", \"state\": null, \"incarnation\": null");
		g_string_append_printf(o, ", \"quarantined\": %s", v.quarantined ? "true" : "false");
		if (v.trust_known) {
			g_string_append_printf(o, ", \"invalid_proofs\": %" G_GUINT64_FORMAT ", \"wrong_key\": %s",
					       v.invalid_proofs, v.wrong_key ? "true" : "false");
			if (v.quarantined)
				g_string_append_printf(o, ", \"quarantine_left_ns\": %" G_GINT64_FORMAT,
						       v.quarantine_left_ns);
		}
		g_string_append(o, "}");
	}
	g_string_append(o, "]}\n");
}

/* ---- /metrics ------------------------------------------------------------------ */

static void head(GString *o, const char *name, const char *type, const char *help)
{
	g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one_u64(GString *o, const char *name, const char *type, const char *help, uint64_t v)
{
	head(o, name, type, help);
	g_string_append_printf(o, "%s %" G_GUINT64_FORMAT "\n", name, v);
}

static void swim_metrics(struct au_node *n, const struct au_swim *sw, GString *o)
{
	const struct au_cluster *c = au_node_cluster(n);
	uint64_t by_state[AU_SWIM_UNKNOWN + 1] = {0};
	for (au_node_id id = 1; id <= c->nodes; id++) {
		enum au_swim_state s = au_swim_member_state(sw, id);
		by_state[s <= AU_SWIM_UNKNOWN ? s : AU_SWIM_UNKNOWN]++;
	}
	head(o, "aureon_swim_members", "gauge",
	     "Members of [hosts] by state in this node's SWIM view (itself included; unknown: never heard of).");
	for (int s = 0; s <= AU_SWIM_UNKNOWN; s++)
		g_string_append_printf(o, "aureon_swim_members{state=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       au_peer_state_name(s), by_state[s]);
	one_u64(o, "aureon_swim_incarnation", "gauge", "This node's own SWIM incarnation (raised to refute suspicion).",
		au_swim_member_incarnation(sw, au_node_id_of(n)));
	struct au_swim_counters k;
	au_swim_get_counters(sw, &k);
	one_u64(o, "aureon_swim_messages_sent_total", "counter", "SWIM messages sent.", k.msgs_out);
	one_u64(o, "aureon_swim_messages_received_total", "counter", "SWIM messages received.", k.msgs_in);
	one_u64(o, "aureon_swim_sent_bytes_total", "counter", "Bytes of SWIM messages sent.", k.bytes_out);
	one_u64(o, "aureon_swim_received_bytes_total", "counter", "Bytes of SWIM messages received.", k.bytes_in);
	one_u64(o, "aureon_swim_probes_total", "counter", "Direct probes this node started.", k.probes);
	one_u64(o, "aureon_swim_probe_failures_total", "counter",
		"Probes that ended without any ack, direct or indirect.", k.probe_fails);
	one_u64(o, "aureon_swim_refutations_total", "counter",
		"Times this node raised its incarnation to refute a suspicion of itself.", k.refutes);
	one_u64(o, "aureon_swim_declared_dead_total", "counter",
		"Members this node declared dead (a suspicion expired).", k.declared_dead);
	one_u64(o, "aureon_swim_gossip_dropped_total", "counter", "Updates dropped from a full gossip queue.",
		k.queue_drops);
	one_u64(o, "aureon_swim_malformed_messages_total", "counter", "Malformed SWIM messages dropped.", k.bad);
}

static void rqml_metrics(const struct au_rqml *rq, GString *o)
{
	struct au_rqml_stats s;
	au_rqml_get_stats(rq, &s);
	head(o, "aureon_rqml_jobs", "gauge", "RQML jobs in this node's replica, by state.");
	for (int v = 0; v < (int)AU_KERNEL_VERDICTS; v++)
		g_string_append_printf(o, "aureon_rqml_jobs{state=\"%s\"} %u\n",
				       au_kernel_verdict_name((enum au_kernel_verdict)v), s.jobs[v]);
	one_u64(o, "aureon_rqml_rounds_total", "counter", "Rounds aggregated, over every job (replicated state).",
		s.rounds);
	head(o, "aureon_rqml_outputs_refused_total", "counter",
	     "Shard outputs the replicated machine did not take, by reason (replicated state).");
	g_string_append_printf(o, "aureon_rqml_outputs_refused_total{reason=\"stale\"} %" G_GUINT64_FORMAT "\n",
			       s.stale_outputs);
	g_string_append_printf(o, "aureon_rqml_outputs_refused_total{reason=\"duplicate\"} %" G_GUINT64_FORMAT "\n",
			       s.duplicate_outputs);
	one_u64(o, "aureon_rqml_round_closes_refused_total", "counter",
		"Round closes the replicated machine refused (replicated state).", s.rejected_closes);
	one_u64(o, "aureon_rqml_shards_computed_total", "counter", "Shards this node's executor computed.",
		s.shards_computed);
	one_u64(o, "aureon_rqml_outputs_sent_total", "counter",
		"Shard output messages this node sent to the leader (resends included).", s.outputs_sent);
	one_u64(o, "aureon_rqml_proposals_total", "counter",
		"Log entries this node's supervisor proposed while it led.", s.proposals);
	one_u64(o, "aureon_rqml_applied_index", "gauge", "Raft log index of the last RQML command this replica applied (0: none yet).",
		s.applied_index);
}

static void one_metrics(const struct au_one *one, GString *o)
{
	one_u64(o, "aureon_one_records", "gauge", "Job records in this node's ONE replica.", au_one_count(one));
	head(o, "aureon_one_puts_rejected_total", "counter", "Record writes ONE rejected, by reason.");
	g_string_append_printf(o, "aureon_one_puts_rejected_total{reason=\"duplicate\"} %" G_GUINT64_FORMAT "\n",
			       au_one_duplicates(one));
	g_string_append_printf(o, "aureon_one_puts_rejected_total{reason=\"malformed\"} %" G_GUINT64_FORMAT "\n",
			       au_one_malformed(one));
	one_u64(o, "aureon_one_applied_index", "gauge", "Raft log index of the last ONE command this replica applied (0: none yet).",
		au_one_applied_index(one));
}

/* The task queue across the cluster, as this replica has it (execctl.c
 * has the series about this node alone). */
static void queue_metrics(struct au_node *n, void *orch, GString *o)
{
	const struct au_cluster *c = au_node_cluster(n);
	const struct au_taskq *q = au_orch_queue(orch);
	head(o, "aureon_queue_leases", "gauge", "Leases each member holds, per this node's replica.");
	for (au_node_id id = 1; id <= c->nodes; id++)
		g_string_append_printf(o, "aureon_queue_leases{node=\"n%u\"} %u\n", id, au_taskq_node_leases(q, id));
	uint64_t draining = 0, dead = 0;
	for (au_node_id id = 1; id <= c->nodes; id++) {
		draining += au_taskq_node_draining(q, id);
		dead += au_taskq_node_dead(q, id);
	}
	head(o, "aureon_queue_nodes_marked", "gauge",
	     "Members the task queue marks, by mark (draining: takes no new leases; dead: SWIM declared it dead, its leases were reclaimed).");
	g_string_append_printf(o, "aureon_queue_nodes_marked{mark=\"draining\"} %" G_GUINT64_FORMAT "\n", draining);
	g_string_append_printf(o, "aureon_queue_nodes_marked{mark=\"dead\"} %" G_GUINT64_FORMAT "\n", dead);
}

void au_modelview_metrics(struct au_node *n, GString *o)
{
	const struct au_swim *sw = au_node_service_state(n, "swim");
	if (sw)
		swim_metrics(n, sw, o);
	const struct au_rqml *rq = au_node_service_state(n, "rqml");
	if (rq)
		rqml_metrics(rq, o);
	const struct au_one *one = au_node_service_state(n, "one");
	if (one)
		one_metrics(one, o);
	void *orch = au_node_service_state(n, "aureon");
	if (orch)
		queue_metrics(n, orch, o);
}

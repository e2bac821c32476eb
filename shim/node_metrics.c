/* node_metrics.c — aureon-node's /metrics: the Prometheus text exposition
 * (see node.h). */
#include "node_internal.h"
#include "modelview.h"

/* ---- /metrics ------------------------------------------------------------------ */

static void metric_head(GString *o, const char *name, const char *type, const char *help)
{
	g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_u64(GString *o, const char *name, const char *type, const char *help, uint64_t v)
{
	metric_head(o, name, type, help);
	g_string_append_printf(o, "%s %" G_GUINT64_FORMAT "\n", name, v);
}

void au_node_render_metrics(struct au_node *n, GString *o)
{
	const struct au_node_counters *m = &n->m;
	struct au_node_status st;
	au_node_get_status(n, &st);
	metric_head(o, "aureon_node_info", "gauge", "Constant 1, labelled with this node's identity.");
	GString *svcs = g_string_new(NULL);
	for (uint32_t i = 0; i < n->n_svcs; i++)
		g_string_append_printf(svcs, "%s%s", i ? "," : "", n->svcs[i].model->name);
	g_string_append_printf(o, "aureon_node_info{node=\"n%u\",services=\"%s\",version=\"0.1.0\"} 1\n",
			       n->self, svcs->str);
	g_string_free(svcs, TRUE);
	metric_u64(o, "aureon_boot_epoch", "gauge", "Boot epoch (bumped and made durable at every start).", n->epoch);
	metric_head(o, "aureon_uptime_seconds", "gauge", "Seconds since this process started.");
	g_string_append_printf(o, "aureon_uptime_seconds %.3f\n", (double)st.uptime_ns / 1e9);
	metric_u64(o, "aureon_datagrams_received_total", "counter", "UDP datagrams received, valid or not.", m->rx_datagrams);
	metric_u64(o, "aureon_received_bytes_total", "counter", "Bytes of UDP datagrams received.", m->rx_bytes);
	metric_u64(o, "aureon_datagrams_accepted_total", "counter",
		   "Datagrams that passed authentication and replay checks and were delivered.", m->rx_delivered);
	metric_head(o, "aureon_datagrams_dropped_total", "counter",
		    "Datagrams dropped before any service saw them, by reason.");
	for (int i = 0; i < AU_DROP_COUNT_; i++)
		g_string_append_printf(o, "aureon_datagrams_dropped_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       au_pkt_drop_names[i], m->drops[i]);
	metric_u64(o, "aureon_datagrams_sent_total", "counter", "UDP datagrams sent.", m->tx_datagrams);
	metric_u64(o, "aureon_sent_bytes_total", "counter", "Bytes of UDP datagrams sent.", m->tx_bytes);
	metric_u64(o, "aureon_send_failures_total", "counter",
		   "Sends the socket refused (e.g. buffer full); the models treat them as loss.", m->tx_failed);
	metric_u64(o, "aureon_send_rejected_total", "counter",
		   "Sends refused because of a bad destination or size.", m->tx_rejected);
	metric_u64(o, "aureon_send_revoked_total", "counter",
		   "Datagrams not sent because [identities] revokes the destination's key.", n->ident->tx_revoked);
	au_ident_render_metrics(n->ident, au_node__now(n), o);
	metric_u64(o, "aureon_control_requests_total", "counter", "Requests to the control service.", m->control_requests);
	metric_u64(o, "aureon_clients", "gauge", "aureon-ctl clients remembered (address and replay window).",
		   g_hash_table_size(n->clients));
	metric_u64(o, "aureon_clients_evicted_total", "counter", "Clients forgotten to stay within the limit.",
		   m->clients_evicted);
	metric_u64(o, "aureon_timers_fired_total", "counter", "Model timers that fired.", m->timers_fired);
	metric_u64(o, "aureon_timers_armed_total", "counter", "Model timers armed.", m->timers_armed);
	metric_head(o, "aureon_storage_sync_seconds", "summary", "Time from a sync request to its completion.");
	g_string_append_printf(o, "aureon_storage_sync_seconds_sum %.9f\naureon_storage_sync_seconds_count %" G_GUINT64_FORMAT "\n",
			       (double)m->sync_ns_total / 1e9, m->syncs);
	metric_u64(o, "aureon_storage_errors_total", "counter", "Storage reads, writes, truncates, syncs or opens that failed.",
		   m->storage_errors);
	metric_u64(o, "aureon_storage_write_errors_total", "counter", "Storage writes and truncates that failed (disk full, I/O error).",
		   m->storage_write_errors);
	metric_u64(o, "aureon_storage_sync_errors_total", "counter", "Syncs (fdatasync) that failed; the models rewrite what they covered.",
		   m->storage_sync_errors);
	metric_u64(o, "aureon_storage_failing", "gauge", "1 while the node cannot persist: a write or sync failed and no sync issued since has succeeded.",
		   n->storage_failing ? 1 : 0);
	metric_u64(o, "aureon_raft_out_of_service", "gauge", "1 while Raft refuses to vote, acknowledge or lead because its storage failed.",
		   n->raft_out_of_service ? 1 : 0);
	metric_head(o, "aureon_trace_events_total", "counter", "Trace events the models recorded, by kind.");
	for (unsigned k = 0; k <= TRACE_KINDS_MAX; k++) {
		if (!n->trace_counts[k])
			continue;
		const char *name = k < TRACE_KINDS_MAX ? au_node__kind_name((uint16_t)k) : NULL;
		g_autofree char *lower = name ? g_ascii_strdown(name, -1) : g_strdup_printf("kind_%u", k);
		g_string_append_printf(o, "aureon_trace_events_total{kind=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       k < TRACE_KINDS_MAX ? lower : "other", n->trace_counts[k]);
	}
	metric_head(o, "aureon_table_rows_total", "counter", "Rows the models appended to their trace tables.");
	for (uint32_t i = 0; i < n->n_svcs; i++)
		for (uint32_t t = 0; t < n->svcs[i].model->n_tables; t++)
			g_string_append_printf(o, "aureon_table_rows_total{service=\"%s\",table=\"%s\"} %" G_GUINT64_FORMAT "\n",
					       n->svcs[i].model->name, n->svcs[i].model->tables[t].name,
					       n->svcs[i].table_rows[t]);
	if (st.has_raft) {
		metric_u64(o, "aureon_raft_term", "gauge", "Current Raft term.", st.term);
		metric_u64(o, "aureon_raft_is_leader", "gauge", "1 if this node is the Raft leader.",
			   st.role == AU_RAFT_LEADER);
		metric_u64(o, "aureon_raft_leader", "gauge", "Node id of the known leader (0: none).", st.leader);
		metric_u64(o, "aureon_raft_commit_index", "gauge", "Highest log index known committed.", st.commit);
		metric_u64(o, "aureon_raft_last_index", "gauge", "Index of the last entry in the log.", st.last_index);
		metric_u64(o, "aureon_raft_voters", "gauge", "Voters in the configuration in effect.",
			   (uint64_t)__builtin_popcountll(st.voters));
	}
	au_execctl_metrics(n, o);
	au_modelview_metrics(n, o);
}

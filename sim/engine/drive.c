/* drive.c — driven runs (see sim.h): the caller runs the models and feeds
 * the engine's trace, hash and checkers with what they did. */
#include "sim_internal.h"

void au_sim_drive_begin(struct au_sim *sim)
{
	sim->booted = true; /* au_sim_run must not boot the scenario's own models */
}

void au_sim_drive_time(struct au_sim *sim, au_time t)
{
	if (t > sim->now)
		sim->now = t;
	sim->stats.sim_time_ns = sim->now;
	sim->stats.events++;
}

void au_sim_drive_boot(struct au_sim *sim, au_node_id n, bool restart)
{
	struct au_sim_node *nd = &sim->node[n];
	if (nd->up)
		au_sim_drive_down(sim, n);
	if (restart)
		au_sim_record_event(sim, n, AU_TR_NODE_RESTART, nd->epoch, -1, 0);
	else
		au_sim_record_event(sim, n, AU_TR_NODE_BOOT, nd->epoch, 0, 0);
	nd->up = true;
}

void au_sim_drive_states(struct au_sim *sim, au_node_id n, void *const *states)
{
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		sim->node[n].svc[i].state = states[i];
}

void au_sim_drive_down(struct au_sim *sim, au_node_id n)
{
	struct au_sim_node *nd = &sim->node[n];
	if (!nd->up)
		return;
	au_sim_record_event(sim, n, AU_TR_NODE_CRASH, nd->epoch, -1, 0);
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		nd->svc[i].state = NULL;
	nd->up = false;
	nd->epoch++;
	if (sim->leader == n)
		sim->leader = 0;
}

/* After a violation nothing more is recorded, as an ordinary run stops
 * at it: what the caller's models still do in the same input is dropped. */
void au_sim_drive_event(struct au_sim *sim, au_node_id n, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	if (!sim->stop)
		au_sim_record_event(sim, n, kind, a, b, c);
}

void au_sim_drive_row(struct au_sim *sim, au_node_id n, uint32_t service, uint32_t table, const void *row)
{
	if (!sim->stop)
		au_sim_record_row(sim, &sim->node[n].svc[service], table, row);
}

void au_sim_drive_message(struct au_sim *sim, au_time send_ns, au_time recv_ns, au_node_id src, au_node_id dst,
			  uint8_t service, uint32_t bytes, enum au_fate fate)
{
	if (sim->stop)
		return;
	sim->stats.messages_sent++;
	au_sim_record_message(sim, send_ns, recv_ns, src, dst, service, 0, bytes, fate);
}

bool au_sim_drive_stopped(const struct au_sim *sim)
{
	return sim->stop;
}

void au_sim_drive_end(struct au_sim *sim)
{
	for (au_node_id n = 1; n <= sim->nodes; n++)
		for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
			sim->node[n].svc[i].state = NULL;
}

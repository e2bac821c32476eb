/* http.h — aureon-node's HTTP endpoints (libsoup-3.0), on the node's own
 * main loop:
 *
 *   /metrics           Prometheus text format 0.0.4
 *   /health            200 while the process runs its loop
 *   /ready             200 when this node is a voter and knows a leader, else 503
 *   /status            the node's view as JSON (role, term, leader, indexes)
 *   /peers             the SWIM membership view as JSON (modelview.h)
 *   /queue_stats       JSON from the execution layer (service "aureon"): the
 *                      replicated task queue, node marks, this node's worker
 *   /checkpoint_state  JSON: unfinished tasks and the round they can resume from
 *                      (both say "available": false without that service)
 */
#ifndef AU_SHIM_HTTP_H
#define AU_SHIM_HTTP_H

#include <gio/gio.h>

#include "node.h"

struct au_http;

/* Listen on `addr` and serve node `n`; NULL with *err on failure. */
struct au_http *au_http_start(struct au_node *n, GInetSocketAddress *addr, char **err);
void au_http_stop(struct au_http *h);

/* The JSON bodies, also used by tests: append to `out`. */
void au_http_status_json(struct au_node *n, GString *out);
/* Whether the node is ready, with the reason when not. */
gboolean au_http_ready(struct au_node *n, const char **why);

#endif

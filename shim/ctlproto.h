/* ctlproto.h — the control protocol between aureon-ctl and a node's
 * built-in control service (AU_NODE_CONTROL_SERVICE).
 *
 * Messages are model-style payloads (first byte = type, little-endian
 * fields, CRC-32C seal) carried in the same authenticated datagrams as
 * model traffic.  KV operations do not go through here: aureon-ctl speaks
 * the kv model's own REQ/RESP protocol to the "kv" service, exactly like
 * the simulated clients.
 */
#ifndef AU_SHIM_CTLPROTO_H
#define AU_SHIM_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

enum { AU_CTL_STATUS_REQ = 1, AU_CTL_STATUS_RESP = 2 };

#define AU_CTL_SERVICES_MAX 200u /* bytes of the services list in a reply */

struct au_ctl_status {
	uint64_t nonce;
	struct au_node_status st;
	uint64_t rx_delivered, rx_dropped;
	char services[AU_CTL_SERVICES_MAX + 1]; /* "raft,kv" */
};

/* Encode into buf (cap bytes); return the length (0 if it does not fit). */
size_t au_ctl_encode_status_req(uint64_t nonce, uint8_t *buf, size_t cap);
size_t au_ctl_encode_status_resp(const struct au_ctl_status *s, uint8_t *buf, size_t cap);
/* Decode a reply; false if malformed (checksum, length, fields). */
bool au_ctl_decode_status_resp(const uint8_t *buf, size_t len, struct au_ctl_status *s);
/* Decode a request; false if malformed. */
bool au_ctl_decode_status_req(const uint8_t *buf, size_t len, uint64_t *nonce);

#endif

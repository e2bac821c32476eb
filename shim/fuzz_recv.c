/* fuzz_recv.c — libFuzzer target for aureon-node's receive path.
 *
 * One node (n1 of a 3-node raft,kv,swim,aureon cluster) runs in-process
 * without a socket or fsync; every input is one datagram, in one of four
 * modes chosen by its first byte:
 *
 *   0  raw bytes, as an attacker without the key sends them: must be
 *      dropped by the length/MAC checks, never parsed further;
 *   1  an authentic datagram (sealed here with the cluster key, fresh
 *      counter) carrying raw payload bytes to a member's or a client's
 *      service: exercises the node's dispatch and the models' checksum
 *      rejection;
 *   2  an authentic datagram to the control service whose payload has a
 *      valid CRC-32C seal, so the control decoders (status, drain/resume,
 *      submit: ctlproto.c, execctl.c) see the bytes;
 *   3  (only with AU_FUZZ_MODELS=1 in the environment) the same for any
 *      service, so the models' own decoders (raft, kv, swim, aureon) see
 *      the bytes: what a
 *      compromised or buggy key holder could send.  Off by default because
 *      Raft tolerates crashes, not lies: a key holder that claims to lead
 *      with a conflicting log trips Raft's invariant assertions (by
 *      design: the cluster key is the trust boundary), and those stop the
 *      fuzzer before it explores anything else.
 *
 * n1 is the cluster's only voter ([raft] voters = 1), so it elects itself
 * and leads: drain/resume/submit requests reach the execution layer's
 * leader paths (proposals, enqueues, ReadIndex confirmations).
 *
 * After each input, completed syncs are delivered and due timers run, so
 * what a message triggers (appends, votes, persisted callbacks) runs too.
 * Every 4096 inputs the node is torn down and rebooted from its files, so
 * recovery from fuzz-written state is exercised as well.
 */
#include <ftw.h>
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"
#include "cluster.h"
#include "node.h"
#include "packet.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dir;
static struct au_cluster *cluster;
static struct au_node *node;
static struct au_pkt_key *key;
static uint64_t counter;
static unsigned inputs;
static uint32_t tags[AU_MAX_SERVICES + 1];
static unsigned n_tags;
static unsigned n_modes = 3;

static void boot(void)
{
	char *err = NULL;
	g_autofree char *data = g_build_filename(dir, "data", NULL);
	struct au_node_opts o = {.cluster = cluster, .id = 1, .data_dir = data, .have_seed = true,
				 .seed = 1, .no_fsync = true, .no_socket = true, .quiet = true};
	node = au_node_new(&o, &err);
	if (!node) {
		fprintf(stderr, "fuzz_recv: %s\n", err);
		abort();
	}
	au_node_start(node);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* libFuzzer exits through exit(): take the scratch directory with us. */
static void cleanup(void)
{
	if (dir)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char tmpl[] = "/tmp/aureon-fuzz-XXXXXX";
	if (!mkdtemp(tmpl))
		abort();
	dir = g_strdup(tmpl);
	atexit(cleanup);
	g_autofree char *kpath = g_build_filename(dir, "cluster.key", NULL);
	g_autofree char *ipath = g_build_filename(dir, "cluster.ini", NULL);
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	const char *ini = "[cluster]\nnodes = 3\nservices = raft,kv,swim,aureon\n"
			  /* n1 is the only voter, so it leads: the control
			   * service's leader paths (proposals, ReadIndex) run. */
			  "[raft]\nsnapshot_every = 50\nvoters = 1\n"
			  "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n"
			  "[auth]\nkey_file = cluster.key\n";
	if (!g_file_set_contents(kpath, hex, -1, NULL) || chmod(kpath, 0600) != 0 ||
	    !g_file_set_contents(ipath, ini, -1, NULL))
		abort();
	char *err = NULL;
	cluster = au_cluster_load(ipath, &err);
	if (!cluster) {
		fprintf(stderr, "fuzz_recv: %s\n", err);
		abort();
	}
	key = au_pkt_key_new(cluster->key, cluster->key_len);
	const char *models = getenv("AU_FUZZ_MODELS");
	if (models && strcmp(models, "1") == 0)
		n_modes = 4;
	for (uint32_t i = 0; i < cluster->spec.n_services; i++)
		tags[n_tags++] = au_pkt_service_tag(cluster->spec.services[i]->name);
	tags[n_tags++] = au_pkt_service_tag(AU_NODE_CONTROL_SERVICE);
	boot();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static uint8_t pkt[AU_PKT_MAX + 1], payload[AU_MSG_MAX + 4];
	uint8_t mode = data[0] % n_modes;
	if (mode == 0 || size < 4) {
		au_node_input(node, data + 1, size - 1, NULL);
	} else {
		/* Senders: the two peers, this node itself, or a client. */
		static const uint32_t senders[] = {2, 3, 1, AU_CLIENT_ID_MIN + 1};
		uint32_t sender = senders[data[1] % 4];
		/* The control service's tag is the last one. */
		uint32_t tag = mode == 2 ? tags[n_tags - 1] : tags[data[2] % n_tags];
		size_t plen = size - 3;
		if (plen > AU_MSG_MAX - 4)
			plen = AU_MSG_MAX - 4;
		memcpy(payload, data + 3, plen);
		if (mode >= 2) {
			struct au_wbuf w;
			au_wbuf_init(&w, payload, sizeof(payload));
			w.len = plen;
			au_wbuf_seal(&w);
			plen = w.len;
		}
		if (plen == 0)
			return 0;
		struct au_pkt_hdr h = {sender, 1, ++counter, tag};
		size_t len = au_pkt_seal(key, &h, payload, plen, pkt);
		au_node_input(node, pkt, len, NULL);
	}
	au_node_run_syncs(node);
	au_node_run_timers(node);
	if (++inputs % 4096 == 0) {
		/* Reboot from the files the fuzzed messages made it write. */
		au_node_free(node);
		boot();
	}
	return 0;
}

/* ctl_ops.c — aureon-ctl's operator commands (see ctl_ops.h): membership
 * and locks through the leader's control service (opsctl.h), wait-leader
 * through status requests, del through the kv protocol. */
#include "ctl_ops.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/values.h"
#include "ctl_client.h"
#include "ctlproto.h"
#include "node.h"
#include "opsctl.h"

const char ctl_ops_usage[] =
	"  del KEY                remove KEY (it then reads as 0)\n"
	"  member add NODE        make NODE (n4) a Raft voter; it must be in [hosts]\n"
	"  member remove NODE     stop NODE being a voter (never the last one)\n"
	"  member transfer NODE   hand leadership to NODE (a voter)\n"
	"  lock acquire NAME      take the lock NAME (a lease of [workload] lock_ttl;\n"
	"                         --hold T keeps renewing it for T, then releases it);\n"
	"                         prints its fencing token; exit 1 if someone holds it\n"
	"  lock release NAME      release NAME whoever holds it (--token T: only that grant)\n"
	"  wait-leader            wait until a node leads (mind --timeout); print it\n";

static struct {
	int64_t hold_ns;
	uint64_t token;
} opt;

int ctl_ops_option(int argc, char **argv, int i)
{
	const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
	if (strcmp(a, "--hold") == 0) {
		if (!v || !au_parse_duration(v, &opt.hold_ns) || opt.hold_ns <= 0) {
			fprintf(stderr, "aureon-ctl: --hold needs a duration with a unit, e.g. 10s\n");
			return -1;
		}
		return 2;
	}
	if (strcmp(a, "--token") == 0) {
		if (!v || !au_parse_u64(v, &opt.token) || opt.token == 0) {
			fprintf(stderr, "aureon-ctl: --token needs a lock token (a positive integer)\n");
			return -1;
		}
		return 2;
	}
	return 0;
}

bool ctl_ops_handles(const char *cmd)
{
	static const char *const cmds[] = {"del", "member", "lock", "wait-leader", NULL};
	for (const char *const *c = cmds; *c; c++)
		if (strcmp(*c, cmd) == 0)
			return true;
	return false;
}

/* ---- member / lock: requests the leader serves ------------------------------------ */

static bool decode_ops(void *ctx, const uint8_t *p, size_t len, uint8_t *answer, au_node_id *hint)
{
	struct au_ctl_ops_resp *want = ctx, a;
	if (!au_ctl_decode_ops_resp(p, len, &a) || a.nonce != want->nonce)
		return false;
	*want = a;
	*answer = a.answer;
	*hint = a.leader;
	return true;
}

static int ops_call(struct ctl *t, struct au_ctl_ops_req *q, const char *what, const char *service,
		    int64_t timeout_ns, struct au_ctl_ops_resp *a)
{
	uint8_t req[64];
	q->nonce = os_random64();
	memset(a, 0, sizeof(*a));
	a->nonce = q->nonce;
	size_t rl = au_ctl_encode_ops_req(q, req, sizeof(req));
	struct leader_call c = {req, rl, decode_ops, a, what, service};
	return leader_call(t, &c, timeout_ns);
}

static void print_members(uint64_t voters)
{
	printf("members:");
	for (unsigned v = 1; v < 64; v++)
		if (voters & (UINT64_C(1) << v))
			printf(" n%u", v);
	printf("\n");
}

static int cmd_member(struct ctl *t, const char *sub, au_node_id node, int64_t timeout_ns)
{
	struct au_ctl_ops_req q = {.target = node};
	q.op = strcmp(sub, "add") == 0      ? AU_OPS_MEMBER_ADD
	       : strcmp(sub, "remove") == 0 ? AU_OPS_MEMBER_REMOVE
					    : AU_OPS_TRANSFER;
	g_autofree char *what = g_strdup_printf("member %s n%u", sub, node);
	struct au_ctl_ops_resp a;
	int rc = ops_call(t, &q, what, "raft", timeout_ns, &a);
	if (rc != EXIT_OK)
		return rc;
	if (q.op == AU_OPS_TRANSFER)
		printf("leader: n%u\n", a.leader);
	else
		printf("%s n%u: committed\n", q.op == AU_OPS_MEMBER_ADD ? "added" : "removed", node);
	print_members(a.voters);
	return EXIT_OK;
}

/* A lock name's key: FNV-1a, 64 bits (any name; the same name, the same lock). */
static uint64_t lock_key(const char *name)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * UINT64_C(0x100000001b3);
	return h;
}

static void describe_holder(const char *name, uint64_t holder, uint64_t token)
{
	uint32_t who = (uint32_t)(holder >> 32);
	if (who >= 1 && who < AU_CLIENT_ID_MIN)
		printf("busy: %s is held by node n%u (token %" G_GUINT64_FORMAT ")\n", name, who, token);
	else
		printf("busy: %s is held by client %u (token %" G_GUINT64_FORMAT ")\n", name, who, token);
}

static int cmd_lock(struct ctl *t, const char *sub, const char *name, int64_t timeout_ns)
{
	bool acquire = strcmp(sub, "acquire") == 0;
	struct au_ctl_ops_req q = {.op = acquire ? AU_OPS_LOCK_ACQUIRE : AU_OPS_LOCK_RELEASE,
				   .key = lock_key(name), .token = acquire ? 0 : opt.token};
	g_autofree char *what = g_strdup_printf("lock %s %s", sub, name);
	struct au_ctl_ops_resp a;
	int rc = ops_call(t, &q, what, "aureon", timeout_ns, &a);
	if (rc != EXIT_OK)
		return rc;
	uint64_t me = (uint64_t)t->self << 32;
	if (!acquire) {
		printf("released: %s\n", name);
		return EXIT_OK;
	}
	if (a.holder != me) {
		describe_holder(name, a.holder, a.token);
		return EXIT_FAILED;
	}
	printf("locked: %s token %" G_GUINT64_FORMAT "\n", name, a.token);
	fflush(stdout);
	if (opt.hold_ns <= 0)
		return EXIT_OK;
	/* Hold: renew (acquire again, the same owner) twice a second, then release. */
	uint64_t token = a.token;
	int64_t end = mono_ns() + opt.hold_ns;
	while (mono_ns() < end) {
		g_usleep(500000);
		rc = ops_call(t, &q, what, "aureon", timeout_ns, &a);
		if (rc != EXIT_OK)
			return rc;
		if (a.holder != me || a.token != token) {
			fprintf(stderr, "aureon-ctl: lock %s: lost (expired before a renewal committed)\n", name);
			return EXIT_FAILED;
		}
	}
	q.op = AU_OPS_LOCK_RELEASE;
	q.token = token;
	rc = ops_call(t, &q, what, "aureon", timeout_ns, &a);
	if (rc == EXIT_OK)
		printf("released: %s\n", name);
	return rc;
}

/* ---- wait-leader ------------------------------------------------------------------- */

static int cmd_wait_leader(struct ctl *t, int64_t timeout_ns, bool json)
{
	const uint32_t nodes = t->c->nodes;
	int64_t end = mono_ns() + timeout_ns;
	uint64_t nonce = os_random64();
	while (mono_ns() < end) {
		uint8_t req[32];
		size_t rl = au_ctl_encode_status_req(nonce, req, sizeof(req));
		for (au_node_id n = 1; n <= nodes; n++)
			ctl_send(t, n, t->control_tag, req, rl);
		int64_t round_end = mono_ns() + 200 * AU_NS_PER_MS;
		if (round_end > end)
			round_end = end;
		for (;;) {
			au_node_id from;
			const uint8_t *p;
			size_t len = ctl_recv(t, round_end, t->control_tag, &from, &p);
			if (len == 0)
				break;
			struct au_ctl_status s;
			if (!au_ctl_decode_status_resp(p, len, &s) || s.nonce != nonce || s.st.id != from)
				continue;
			if (s.st.has_raft && s.st.role == 3) {
				if (json)
					printf("{\"leader\": \"n%u\", \"term\": %" G_GUINT64_FORMAT "}\n", from,
					       s.st.term);
				else
					printf("leader: n%u (term %" G_GUINT64_FORMAT ")\n", from, s.st.term);
				return EXIT_OK;
			}
		}
		nonce = os_random64();
		g_usleep(50000);
	}
	fprintf(stderr, "aureon-ctl: wait-leader: no node led within the timeout (no quorum, or the "
			"nodes are down or unreachable)\n");
	return EXIT_UNAVAILABLE;
}

/* ---- main ------------------------------------------------------------------------- */

static int usage_err(const char *msg)
{
	fprintf(stderr, "aureon-ctl: %s (see aureon-ctl --help)\n", msg);
	return EXIT_USAGE;
}

int ctl_ops_main(const char *config, const char *cmd, int nargs, char **args, int64_t timeout_ns,
		 bool json)
{
	bool member = strcmp(cmd, "member") == 0, lock = strcmp(cmd, "lock") == 0;
	bool del = strcmp(cmd, "del") == 0;
	int want = member || lock ? 2 : del ? 1 : 0;
	if (nargs != want)
		return usage_err(member ? "member takes add|remove|transfer NODE"
				 : lock ? "lock takes acquire|release NAME"
				 : del  ? "del takes KEY"
					: "wait-leader takes no argument");
	if (member && strcmp(args[0], "add") != 0 && strcmp(args[0], "remove") != 0 &&
	    strcmp(args[0], "transfer") != 0)
		return usage_err("member takes add, remove or transfer");
	if (lock && strcmp(args[0], "acquire") != 0 && strcmp(args[0], "release") != 0)
		return usage_err("lock takes acquire or release");
	if (lock && !*args[1])
		return usage_err("a lock needs a name");
	int64_t key = 0;
	if (del) {
		char *end;
		errno = 0;
		key = g_ascii_strtoll(args[0], &end, 10);
		if (errno || *end || !*args[0])
			return usage_err("keys are signed 64-bit integers (the kv service stores integers)");
	}
	if (!config)
		return usage_err("--config CLUSTER.ini is required");
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(config, &err);
	if (!c) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	const char *need = del ? "kv" : lock ? "aureon" : "raft";
	bool has = false;
	for (uint32_t s = 0; s < c->spec.n_services; s++)
		has = has || strcmp(c->spec.services[s]->name, need) == 0;
	au_node_id node = 0;
	int rc;
	struct ctl t;
	if (!has) {
		fprintf(stderr, "aureon-ctl: %s: the cluster does not run the %s service ([cluster] services)\n",
			config, need);
		rc = EXIT_USAGE;
	} else if (member && !au_parse_node(args[1], c->nodes, &node)) {
		fprintf(stderr, "aureon-ctl: member %s %s: unknown node: %s has nodes n1..n%u in [hosts]\n",
			args[0], args[1], config, c->nodes);
		rc = EXIT_USAGE;
	} else if (!ctl_open(&t, c, &err)) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		rc = EXIT_USAGE;
	} else {
		if (member) {
			rc = cmd_member(&t, args[0], node, timeout_ns);
		} else if (lock) {
			rc = cmd_lock(&t, args[0], args[1], timeout_ns);
		} else if (del) {
			struct kv_result res = {0};
			rc = kv_op(&t, KV_DEL, key, 0, 0, timeout_ns, &res);
			if (rc == EXIT_OK)
				printf("ok\n");
		} else {
			rc = cmd_wait_leader(&t, timeout_ns, json);
		}
		ctl_close(&t);
	}
	au_cluster_free(c);
	return rc;
}

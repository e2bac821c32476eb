/* reclog_read.h — reading `aureon-node --record` logs (core/reclog.h) for
 * `aureon-sim replay`: find a directory's segments, group them by node and
 * boot epoch, and check every frame before anything is replayed.  A
 * missing segment, a bad magic or version, a truncated frame or a CRC
 * mismatch is an error naming the file, the byte offset and what is wrong.
 */
#ifndef AU_SIM_REPLAY_RECLOG_READ_H
#define AU_SIM_REPLAY_RECLOG_READ_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "reclog.h"

/* One checked frame of a boot's log. */
struct au_rl_frame {
	const uint8_t *p; /* payload (type byte first), inside a mapped segment */
	size_t len;
	uint32_t seg;     /* segment index */
	uint64_t off;     /* byte offset of the frame in that segment's file */
	uint64_t index;   /* record number within the boot, from 0 (the first header) */
};

/* One boot of one node: its segments in order, every frame checked. */
struct au_rl_boot {
	uint32_t node;
	uint64_t epoch;
	uint64_t seed;
	uint64_t config_digest;
	char *cluster_text;
	uint32_t n_services;
	char **services;   /* NULL-terminated */
	unsigned version;  /* of segment 0's format */
	/* The clock anchor (version 2; has_anchor false in version 1 logs):
	 * this boot's time 0 on the host's CLOCK_MONOTONIC and CLOCK_REALTIME,
	 * and the host's boot id. */
	bool has_anchor;
	int64_t t0_mono_ns, t0_real_ns;
	char *host_id;
	GPtrArray *paths;  /* char *: segment files, in order */
	GPtrArray *maps;   /* GMappedFile * */
	GArray *frames;    /* struct au_rl_frame (headers of later segments included) */
};

/* Every boot found in DIR (sorted by node, then epoch), each fully
 * checked.  NULL with *err ("FILE: offset N: what") on the first problem;
 * an empty array if DIR holds no *.aurec file is an error too. */
GPtrArray *au_rl_load_dir(const char *dir, char **err);
/* Check and load one boot from its segment paths (in order).  NULL with
 * *err on failure. */
struct au_rl_boot *au_rl_load_boot(char *const *paths, uint32_t n, char **err);
void au_rl_boot_free(struct au_rl_boot *b);

#endif

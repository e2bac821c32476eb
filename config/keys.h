/* keys.h — reading a configuration file (a GLib key file) strictly, group
 * by group: values with their inline " # comments" removed, unknown keys
 * rejected, and the first error kept as "FILE: [group] key: what is wrong".
 *
 * It also parses a model's own key table (model.h struct au_config_key)
 * from the model's group into its config struct, so a key is declared once
 * and read the same way by aureon-sim's scenario loader and aureon-node's
 * cluster loader.
 */
#ifndef AU_CONFIG_KEYS_H
#define AU_CONFIG_KEYS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "env.h"
#include "model.h"

/* A file being read.  `err` holds the first error (g_malloc'd; the reader
 * takes it over), after which every further au_keys_fail is ignored. */
struct au_keys {
	const char *path; /* names the file in messages */
	GKeyFile *kf;
	char *err;
};

/* Load `text` into K->kf: false (the error recorded) if it is not a key
 * file, or if a key is set twice in one group — GKeyFile would silently
 * keep the last, so the error names both lines. */
bool au_keys_load_text(struct au_keys *K, const char *text);

/* Record an error about `group` (may be NULL) and `key` (may be NULL) unless
 * one is recorded already; returns false, for `return au_keys_fail(...)`. */
bool au_keys_fail(struct au_keys *K, const char *group, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
/* The value with any inline " # comment" removed and blanks stripped;
 * NULL if absent.  Caller frees. */
char *au_keys_value(struct au_keys *K, const char *group, const char *key);
bool au_keys_has(struct au_keys *K, const char *group, const char *key);
/* Typed values; an absent optional key leaves *out as it was. */
bool au_keys_duration(struct au_keys *K, const char *group, const char *key, au_time *out,
		      bool required);
bool au_keys_prob(struct au_keys *K, const char *group, const char *key, double *out,
		  bool required);
bool au_keys_bool(struct au_keys *K, const char *group, const char *key, bool *out);
/* Reject keys of `group` not in `allowed` (NULL-terminated); the message
 * lists the known ones.  `also_ok` (may be NULL) admits more keys by
 * pattern (e.g. [cluster]'s per-node nK keys). */
bool au_keys_only(struct au_keys *K, const char *group, const char *const *allowed,
		  bool (*also_ok)(const char *key));

/* What a model's values are checked against: node lists name nodes of the
 * cluster, capability percentages name its capabilities. */
struct au_keys_cluster {
	uint32_t nodes;
	char *const *cap_names; /* NULL-terminated, or NULL: none */
};

/* Parse every key of the table `keys` from `group` (its default where the
 * group does not give it) into the config struct `cfg`.  Which keys the
 * group may hold is the caller's to check (cluster_spec.h). */
bool au_keys_model(struct au_keys *K, const char *group, const struct au_config_key *keys,
		   void *cfg, const struct au_keys_cluster *cl);

#endif

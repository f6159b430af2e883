/* SPDX-License-Identifier: MIT */
/*
 * mesh_examples.h - example mesh policies (mesh_examples.c): allow and
 * deny between node groups, rate limits, a quarantine.  The demo node
 * loads them, the tests check them, and `logkeep policy example` prints
 * them as a starting point.
 */
#ifndef LK_MESH_EXAMPLES_H
#define LK_MESH_EXAMPLES_H

#include <stddef.h>

struct mesh_example_policy {
	const char *id;
	const char *yaml;
	unsigned rules; /* what lk_mesh_policy_check must count */
};

extern const struct mesh_example_policy mesh_example_policies[];
extern const size_t mesh_example_policy_count;

#endif /* LK_MESH_EXAMPLES_H */

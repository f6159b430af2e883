/* SPDX-License-Identifier: MIT */
/*
 * mesh_examples.c - the example policies of mesh_examples.h.
 */
#include "mesh_examples.h"

const struct mesh_example_policy mesh_example_policies[] = {
	{ "allow-backbone",
	  "# Backbone routers talk to each other and to the edge on the\n"
	  "# routing protocols; everything else between groups is decided\n"
	  "# by later policies.\n"
	  "name: allow-backbone\n"
	  "priority: 100\n"
	  "groups:\n"
	  "  backbone: [node-00, node-01, node-02, node-03]\n"
	  "  edge: [node-04, node-05, node-06, node-07, node-08]\n"
	  "rules:\n"
	  "  - action: allow\n"
	  "    from: backbone\n"
	  "    to: backbone\n"
	  "    protocols: [batman-adv, babel, ospf]\n"
	  "  - action: allow\n"
	  "    from: backbone\n"
	  "    to: edge\n"
	  "    protocols: [batman-adv, babel]\n"
	  "  - action: allow\n"
	  "    from: edge\n"
	  "    to: backbone\n"
	  "    protocols: [batman-adv, babel]\n",
	  3 },
	{ "deny-guest-to-management",
	  "name: deny-guest-to-management\n"
	  "priority: 200\n"
	  "rules:\n"
	  "  - action: deny\n"
	  "    from: guest\n"
	  "    to: management\n"
	  "    ports: [22, 443, 8443]\n"
	  "    log: true\n"
	  "  - action: deny\n"
	  "    from: guest\n"
	  "    to: backbone\n"
	  "    log: true\n",
	  2 },
	{ "rate-limit-iot",
	  "name: rate-limit-iot\n"
	  "priority: 50\n"
	  "rules:\n"
	  "  - action: rate-limit\n"
	  "    from: iot\n"
	  "    to: any\n"
	  "    rate: 256kbit\n"
	  "    burst: 32kb\n"
	  "  - action: rate-limit\n"
	  "    from: guest\n"
	  "    to: uplink\n"
	  "    rate: 5mbit\n"
	  "    burst: 512kb\n"
	  "  - action: allow\n"
	  "    from: iot\n"
	  "    to: telemetry-collector\n"
	  "    ports: [4317]\n",
	  3 },
	{ "quarantine",
	  "name: quarantine\n"
	  "priority: 1000\n"
	  "match:\n"
	  "  node_status: quarantined\n"
	  "rules:\n"
	  "  - {action: allow, from: quarantined, to: remediation}\n"
	  "  - {action: deny, from: quarantined, to: any, log: true}\n",
	  2 },
};

const size_t mesh_example_policy_count =
	sizeof mesh_example_policies / sizeof mesh_example_policies[0];

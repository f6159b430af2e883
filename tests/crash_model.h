/* SPDX-License-Identifier: MIT */
/*
 * crash_model.h - workloads as scripts of operations on the public API, a
 * model of the store after every prefix of their commits, and the check
 * that a recovered store is one of those prefixes.  Shared by the crash
 * explorer (tests/crash_explorer.c) and the operation-sequence fuzzer
 * (fuzz/fuzz_ops.c).
 *
 * Time.  Under LK_SYNC_INTERVAL a script moves the fault layer's
 * simulated monotonic clock (OP_ADVANCE), and the outcome keeps the time
 * each commit was acknowledged and the time of the first failure (a cut or
 * an injected fault).  The promise checked: every commit acknowledged
 * more than the interval plus one sync before the first failure survives.
 * A sync takes no simulated time on the fault layer, so that bound is
 * ack + interval < failure.  Besides, when the clock's advance made the
 * syncer complete a sync before any failure, every commit acknowledged
 * before it is durable.
 *
 * A script's keys come from a small key space (KEYS per namespace, in two
 * namespaces), so that a state is a small table: for each key, the op
 * whose value it holds.  Values are derived from their op, so a value
 * read back names the op that wrote it, or none (a phantom).
 */
#ifndef LK_CRASH_MODEL_H
#define LK_CRASH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "io_fault.h"
#include "logkeep.h"

#define KEYS 48             /* key space per namespace: k000 .. k047 */
#define NSS 2               /* "default" and "other" */
#define OPS_MAX 512
#define VALUE_BYTES_MAX 4096
#define CLOCK_START_MS UINT64_C(1800000000000)

enum op_kind {
	OP_PUT,    /* one durable-or-not put (a commit) */
	OP_DEL,    /* one delete (a commit) */
	OP_BATCH,  /* the next `len` OP_PUT/OP_DEL ops form one commit */
	OP_SYNC,   /* lk_sync */
	OP_REOPEN, /* lk_close, lk_open */
	OP_NS,     /* lk_ns_open("other") (a commit: the catalog record) */
	OP_COMPACT, /* lk_compact: changes no state */
	OP_SNAPSHOT, /* lk_snapshot: changes no state; it syncs the log
			first, so on LK_OK every commit so far is durable.
			On a failure that left the log writable (lk_sync
			succeeds) the script goes on; first_error keeps it */
	OP_ADVANCE, /* the simulated clock moves value_seed microseconds
		       on (fault_advance_us); changes no state */
	OP_PUT_IF_ABSENT,  /* a put with LK_IF_ABSENT on its key (a commit,
			      LK_CONFLICT writing nothing when it is there) */
	OP_PUT_IF_PRESENT, /* a put with LK_IF_PRESENT on its key */
	OP_READ,  /* reads every key back on the running handle (gets and an
		     iterator, through mappings where segments are sealed):
		     it must show exactly the commits so far; changes no
		     state */
};

struct op {
	enum op_kind kind;
	uint8_t ns;          /* 0: default, 1: other */
	uint8_t key;         /* index in the key space */
	uint16_t len;        /* OP_BATCH: members; OP_PUT: value length */
	uint32_t value_seed; /* the value's bytes are made from this */
	uint64_t expire_at_ms;
};

struct script {
	struct op ops[OPS_MAX];
	size_t n;
};

/* The options a script runs with. */
struct cm_config {
	lk_sync_mode sync;
	uint64_t segment_size_bytes;
};

/* The sync_interval_ms of every script under LK_SYNC_INTERVAL. */
#define CM_SYNC_INTERVAL_MS 100u

/* The options every open of a workload uses: no background thread, so
 * that the calls of a run are the same each time. */
lk_options cm_options(const struct cm_config *cfg, const struct lk_io *io);

/* A commit is a run of ops applied atomically; commit_start[i] is the
 * index of the op that starts commit i. */
struct plan {
	size_t commit_start[OPS_MAX + 1];
	size_t ncommits;
};

struct outcome {
	size_t attempted;  /* commits started (the last may have failed) */
	size_t durable;    /* commits acknowledged as durable */
	lk_status first_error; /* of the first op that failed */
	/* mono_us when commit i was acknowledged (LK_OK), 0 if it was not */
	uint64_t ack_us[OPS_MAX + 1];
	uint64_t failed_us; /* the first failure's mono_us, or the end's */
	/* 1 when commit i (a conditional put) returned LK_CONFLICT */
	uint8_t conflict[OPS_MAX + 1];
	/* OP_READs whose state was not the model's after the commits so
	 * far (a read that failed stops the script instead) */
	size_t live_mismatches;
};

enum cm_verdict {
	CM_OK,
	CM_REFUSED,        /* strict open refused the state */
	CM_READ_FAILED,    /* reading the state back failed */
	CM_PHANTOM,        /* a value no put wrote */
	CM_LOST,           /* an earlier prefix than the acknowledged one */
	CM_NOT_PREFIX,     /* no prefix at all: resurrected, partial batch */
	CM_ITER_MISMATCH,  /* iteration and get disagree */
	CM_NOT_IDEMPOTENT, /* a second open found another state or a cut */
	CM_LIVE_MISMATCH,  /* an OP_READ before the cut saw another state */
};

uint64_t cm_mix(uint64_t x);

/* Fills buf (VALUE_BYTES_MAX) with the value of put o; returns its length. */
size_t cm_value(uint8_t *buf, const struct op *o);

void cm_plan(struct plan *p, const struct script *s);

/* Runs the script on fs at "/db" until the first failure, then closes. */
void cm_run(struct outcome *out, const struct script *s,
	    const struct cm_config *cfg, struct fault_fs *fs);

/* Opens "/db" on io strictly, reads every key back, and checks that the
 * state is the model's after k commits for some k in [durable, attempted]
 * (records expire by CLOCK_START_MS), durable raised to the commits
 * acknowledged more than CM_SYNC_INTERVAL_MS before the first failure under
 * LK_SYNC_INTERVAL, then that a second open agrees.
 * On a verdict other than CM_OK, detail says more. */
enum cm_verdict cm_check(const struct script *s, const struct plan *p,
			 const struct cm_config *cfg, const struct lk_io *io,
			 const struct outcome *oc, char *detail, size_t cap);

const char *cm_verdict_name(enum cm_verdict v);

#endif /* LK_CRASH_MODEL_H */

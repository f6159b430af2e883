/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ops.c - an operation sequence, a power cut and the fault choices,
 * all drawn from the input, checked against the model (SPEC §9).
 *
 * The input is read as:
 *
 *   byte 0        options: bit 0 sync none (else always), bit 2 small
 *                 segments (4 KiB) or 1 MiB, bit 3 sync interval
 *                 (CM_SYNC_INTERVAL_MS; over bit 0), bit 4 conditional
 *                 puts (op kind 2 is a put with LK_IF_ABSENT on its key,
 *                 or LK_IF_PRESENT when its value seed byte is odd)
 *   bytes 1-2     the I/O call to cut the power at (little-endian; 0: no
 *                 cut, the run ends with a clean close)
 *   bytes 3-4     the I/O call to fail instead, and byte 5 how (bit 0:
 *                 ENOSPC not EIO, bit 1: from then on)
 *   bytes 6-13    the reboot's seed; byte 14 its mode (random, keep all,
 *                 drop all)
 *   then ops, 4 bytes each: kind, namespace and key, value length and
 *                 seed, expiry class (kind 8 is lk_compact, or
 *                 lk_snapshot when the value length byte is odd; under
 *                 sync interval, kind 5 (lk_sync) with that byte odd
 *                 moves the simulated clock on by 1 to 8 quarters of the
 *                 interval, by the last byte, which runs the syncer)
 *
 * The script runs on the fault-injecting layer (engine/io_fault.h), whose
 * monotonic clock is simulated: the interval syncer runs only inside the
 * clock's advances, at its deadlines, so a run replays exactly; then
 * the machine reboots and crash_model.c checks that a strict reopen finds
 * the model's state after some prefix of the commits no shorter than the
 * acknowledged one (under sync interval: and every commit acknowledged
 * more than the interval before the first failure), and that a second
 * open agrees.  Any other verdict aborts with the model's words.
 */
#include <string.h>

#include "crash_model.h"
#include "fuzz.h"
#include "io_fault.h"

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Turns the op bytes into a script the model can follow; interval: the
 * run is under LK_SYNC_INTERVAL. */
static void parse_ops(struct script *s, const uint8_t *p, size_t n,
		      int interval, int conditional)
{
	s->n = 0;
	for (size_t i = 0; i + 4 <= n && s->n < OPS_MAX - 16; i += 4) {
		struct op o = { 0 };
		uint8_t kind = p[i] % 9;

		o.ns = (uint8_t)((p[i + 1] >> 7) & 1);
		o.key = (uint8_t)((p[i + 1] & 0x7f) % KEYS);
		o.len = (uint16_t)(10 + (p[i + 2] % 64) * (p[i + 2] & 0x80 ? 60 : 1));
		if (o.len > VALUE_BYTES_MAX)
			o.len = VALUE_BYTES_MAX;
		o.value_seed = (uint32_t)(s->n * 2 + (p[i + 3] & 1));
		o.expire_at_ms = p[i + 3] % 3 == 1   ? CLOCK_START_MS - 1000
				 : p[i + 3] % 3 == 2 ? CLOCK_START_MS + 3600000
						     : 0;
		switch (kind) {
		case 0: case 1: case 2:
			o.kind = OP_PUT;
			if (kind == 2 && conditional)
				o.kind = p[i + 3] & 1 ? OP_PUT_IF_PRESENT
						      : OP_PUT_IF_ABSENT;
			break;
		case 3:
			o.kind = OP_DEL;
			o.len = 0;
			o.expire_at_ms = 0;
			break;
		case 4: {
			/* a batch of the next few ops, puts and deletes only */
			struct op b = { 0 };
			size_t members = 1 + p[i + 1] % 6;

			b.kind = OP_BATCH;
			b.len = (uint16_t)members;
			s->ops[s->n++] = b;
			for (size_t m = 0; m < members; m++) {
				struct op x = o;

				x.key = (uint8_t)((o.key + m * 7) % KEYS);
				x.value_seed = (uint32_t)(s->n * 2);
				x.kind = (p[i + 2] >> m) & 1 ? OP_DEL : OP_PUT;
				if (x.kind == OP_DEL)
					x.len = 0, x.expire_at_ms = 0;
				s->ops[s->n++] = x;
			}
			continue;
		}
		case 5:
			o.kind = OP_SYNC;
			if (interval && (p[i + 2] & 1)) {
				o.kind = OP_ADVANCE;
				o.value_seed = (1u + p[i + 3] % 8u) *
					       CM_SYNC_INTERVAL_MS * 250u;
			}
			break;
		case 6:
			o.kind = OP_REOPEN;
			break;
		case 7:
			o.kind = OP_NS;
			break;
		case 8:
			/* the value length byte, unused by both, picks */
			o.kind = p[i + 2] & 1 ? OP_SNAPSHOT : OP_COMPACT;
			break;
		}
		s->ops[s->n++] = o;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	static struct plan p;
	struct cm_config cfg;
	struct fault_fs *fs;
	struct outcome oc;
	enum fault_mode mode;
	enum cm_verdict v;
	char detail[320];
	uint64_t seed = 0;
	uint16_t cut, fail;

	if (size < 15)
		return 0;
	cfg.sync = data[0] & 8   ? LK_SYNC_INTERVAL
		   : data[0] & 1 ? LK_SYNC_NONE
				 : LK_SYNC_ALWAYS;
	cfg.segment_size_bytes = data[0] & 4 ? 4096 : 1u << 20;
	cut = u16(data + 1);
	fail = u16(data + 3);
	for (int i = 0; i < 8; i++)
		seed |= (uint64_t)data[6 + i] << (8 * i);
	mode = data[14] % 3 == 0   ? FAULT_RANDOM
	       : data[14] % 3 == 1 ? FAULT_KEEP_ALL
				   : FAULT_DROP_ALL;
	parse_ops(&s, data + 15, size - 15, cfg.sync == LK_SYNC_INTERVAL,
		  (data[0] & 16) != 0);
	cm_plan(&p, &s);

	FUZZ_CHECK(fault_new(&fs, seed) == LK_OK);
	fault_set_time_ms(fs, CLOCK_START_MS);
	if (cut)
		fault_cut_at(fs, cut);
	else if (fail)
		fault_fail(fs, FK_ANY, fail,
			   data[5] & 1 ? LK_NOSPACE : LK_IO, (data[5] >> 1) & 1);
	cm_run(&oc, &s, &cfg, fs);
	fault_reboot(fs, mode, seed, NULL);
	v = cm_check(&s, &p, &cfg, fault_io(fs), &oc, detail, sizeof detail);
	if (v != CM_OK) {
		fprintf(stderr, "verdict: %s: %s\n", cm_verdict_name(v), detail);
		FUZZ_CHECK(v == CM_OK);
	}
	fault_free(fs);
	return 0;
}

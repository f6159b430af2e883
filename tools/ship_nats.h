/* SPDX-License-Identifier: MIT */
/*
 * ship_nats.h - what the shipper (ship.c) and `fleet verify`
 * (cli_fleet.c) ask of NATS JetStream, implemented by ship_nats.c, the
 * one file that includes libnats: a connection (which, once lost, stays
 * closed: the caller opens another), the stream, asynchronous publishes whose acks come back
 * through a callback, the last message of a subject, the ids of a
 * subject's messages in a range, and a read of a whole stream in order.
 *
 * Every call returns 0 or -1 with a sentence in err[0..SNATS_ERR_BYTES)
 * (snats_scan_ids also 1 and -2: see there).
 */
#ifndef LK_SHIP_NATS_H
#define LK_SHIP_NATS_H

#include <stddef.h>
#include <stdint.h>

#define SNATS_ERR_BYTES 160

struct snats;

/* An ack or a failure of an asynchronous publish, on libnats' thread:
 * msg_id is the message's Nats-Msg-Id; ok 0 with err set on a refusal or
 * a timeout; duplicate 1 when the stream already had that id;
 * stream_seq the message's number in the stream (ok 1: the stored
 * copy's, also for a duplicate). */
typedef void (*snats_ack_fn)(void *arg, const char *msg_id, int ok,
			     int duplicate, uint64_t stream_seq,
			     const char *err);

/* Connects to url (one, or a comma-separated list) within timeout_ms.
 * A lost connection is closed for good: snats_connected says 0, a
 * publish fails at once, and the caller closes it and opens another
 * (after dropping what was in flight: nothing sent on the lost
 * connection can come after what is sent on the new one).  ack_fn may
 * be NULL: no publishes. */
int snats_open(struct snats **sn, const char *url, int64_t timeout_ms,
	       snats_ack_fn ack_fn, void *arg, char *err);

/* 1 while connected; 0 once the connection is lost (for good). */
int snats_connected(struct snats *sn);

/* Checks that stream exists; with create, adds it when it does not
 * (subjects: subject, e.g. "logkeep.>", file storage, limits retention, duplicate window
 * duplicates_ms) when it does not exist. */
int snats_stream(struct snats *sn, const char *stream, const char *subject,
		 int create, uint64_t duplicates_ms, char *err);

/* The Nats-Msg-Id of the last message of subject in stream into
 * id[0..cap) ("" when it has none), and its number in the stream into
 * *stream_seq (0 when none). */
int snats_last_id(struct snats *sn, const char *stream, const char *subject,
		  char *id, size_t cap, uint64_t *stream_seq, char *err);

/* The Nats-Msg-Ids of subject's messages in stream from number from_seq
 * through to_seq (or the last there is), in stream order, read without
 * their payloads: fn gets each id (valid during the call) and stream
 * number, and returns only 0 to go on, 1 to stop (returned), or -1 for
 * out of memory.  At most max messages are read: more is -2 with err
 * set; a failure (a fetch that times out too) is -1. */
typedef int (*snats_id_fn)(void *arg, const char *msg_id,
			   uint64_t stream_seq);
int snats_scan_ids(struct snats *sn, const char *stream, const char *subject,
		   uint64_t from_seq, uint64_t to_seq, uint64_t max,
		   snats_id_fn fn, void *arg, char *err);

/* Publishes data asynchronously with header Nats-Msg-Id msg_id; its ack
 * or failure comes to ack_fn within ack_timeout_ms. */
int snats_publish(struct snats *sn, const char *subject, const char *msg_id,
		  const void *data, size_t len, int64_t ack_timeout_ms,
		  char *err);

/* Waits at most timeout_ms for every ack in flight, then forgets those
 * still missing (their callbacks never come). */
void snats_settle(struct snats *sn, int64_t timeout_ms);

/* The stream's messages in order: fn gets each one's stream sequence
 * number, subject and payload, valid during the call; fn returns 0 to go
 * on.  *last is the stream's last sequence number when the read began
 * (messages stored after it are not read). */
typedef int (*snats_msg_fn)(void *arg, uint64_t stream_seq,
			    const char *subject, const char *data,
			    size_t len);
int snats_read(struct snats *sn, const char *stream, uint64_t *last,
	       snats_msg_fn fn, void *arg, char *err);

/* Deletes message stream_seq of stream, and publishes data to subject
 * without a message id (tests: a tampered copy). */
int snats_replace(struct snats *sn, const char *stream, uint64_t stream_seq,
		  const char *subject, const void *data, size_t len,
		  char *err);

/* Makes stream refuse messages over max_msg_size bytes (-1: no limit),
 * adding it (subjects: subject, file storage) when it does not exist
 * (tests: a stream that refuses one message of a window and stores the
 * later ones).  The rest of its configuration is set anew, but for its
 * duplicate window. */
int snats_stream_limit(struct snats *sn, const char *stream,
		       const char *subject, int32_t max_msg_size, char *err);

/* NULL is a no-op. */
void snats_close(struct snats *sn);

#endif /* LK_SHIP_NATS_H */

/* SPDX-License-Identifier: MIT */
/*
 * ship_nats.c - NATS JetStream for the shipper and `fleet verify`
 * (ship_nats.h): the one file that includes libnats.
 *
 * A connection never reconnects by itself: once lost it stays closed,
 * and the shipper opens a new one after it has dropped what was in
 * flight (the shipper decides what to publish again, not libnats).
 * Publishes are libnats' asynchronous ones, each with its own ack
 * timeout (jsPubOptions.MaxWait) and the message id header; every ack
 * and every failure comes to one handler, which passes the message id to
 * the shipper's callback and frees the message.  A stream is read through an ephemeral pull
 * consumer that acknowledges nothing, in batches.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "ship_nats.h"

#define SNATS_READ_BATCH 256
#define SNATS_REQUEST_MS 5000

struct snats {
	natsConnection *nc;
	jsCtx *js;
	snats_ack_fn ack_fn;
	void *arg;
};

static int fail(char *err, const char *what, natsStatus s, jsErrCode jerr)
{
	const char *last = nats_GetLastError(NULL);

	snprintf(err, SNATS_ERR_BYTES, "%s: %s%s%s (%d)", what,
		 natsStatus_GetText(s), last && *last ? ": " : "",
		 last ? last : "", (int)jerr);
	return -1;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
		   void *closure)
{
	struct snats *sn = closure;
	const char *id = NULL;

	(void)js;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	if (id && sn->ack_fn) {
		if (pa)
			sn->ack_fn(sn->arg, id, 1, pa->Duplicate,
				   pa->Sequence, NULL);
		else
			sn->ack_fn(sn->arg, id, 0, 0, 0,
				   pae && pae->ErrText ? pae->ErrText
				   : pae ? natsStatus_GetText(pae->Err)
					 : "no ack");
	}
	natsMsg_Destroy(msg);
}

int snats_open(struct snats **out, const char *url, int64_t timeout_ms,
	       snats_ack_fn ack_fn, void *arg, char *err)
{
	struct snats *sn = calloc(1, sizeof *sn);
	natsOptions *o = NULL;
	jsOptions jo;
	natsStatus s;

	*out = NULL;
	if (!sn) {
		snprintf(err, SNATS_ERR_BYTES, "out of memory");
		return -1;
	}
	sn->ack_fn = ack_fn;
	sn->arg = arg;
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, timeout_ms);
	/* No reconnect of libnats' own: a connection it found again would
	 * carry the shipper's next publishes while those sent on the lost
	 * one still wait for their ack timeout; when those are published
	 * again they land after the newer ones, out of order.  (A reconnect
	 * buffer does not help: libnats takes one message into an empty
	 * buffer whatever its size, and sends it first on the new
	 * connection.)  Publishes on a closed connection fail at once. */
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, false);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "logkeep");
	if (s == NATS_OK)
		s = natsConnection_Connect(&sn->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		fail(err, url, s, 0);
		free(sn);
		return -1;
	}
	jsOptions_Init(&jo);
	jo.Wait = SNATS_REQUEST_MS;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = sn;
	jo.PublishAsync.MaxPending = 1 << 16; /* the shipper keeps its own */
	s = natsConnection_JetStream(&sn->js, sn->nc, &jo);
	if (s != NATS_OK) {
		fail(err, "JetStream", s, 0);
		snats_close(sn);
		return -1;
	}
	*out = sn;
	return 0;
}

int snats_connected(struct snats *sn)
{
	return natsConnection_Status(sn->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* A stream of one subject (pattern), file storage, limits retention. */
static void stream_config(jsStreamConfig *cfg, const char *stream,
			  const char **subjects)
{
	jsStreamConfig_Init(cfg);
	cfg->Name = stream;
	cfg->Subjects = subjects;
	cfg->SubjectsLen = 1;
	cfg->Storage = js_FileStorage;
	cfg->Retention = js_LimitsPolicy;
}

int snats_stream(struct snats *sn, const char *stream, const char *subject,
		 int create, uint64_t duplicates_ms, char *err)
{
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, sn->js, stream, NULL, &jerr);
	const char *subjects[1] = { subject };

	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (!create || jerr != JSStreamNotFoundErr)
		return fail(err, stream, s, jerr);
	stream_config(&cfg, stream, subjects);
	cfg.Duplicates = (int64_t)duplicates_ms * 1000000; /* ns */
	s = js_AddStream(&si, sn->js, &cfg, NULL, &jerr);
	if (s != NATS_OK)
		return fail(err, "creating the stream", s, jerr);
	jsStreamInfo_Destroy(si);
	return 0;
}

int snats_last_id(struct snats *sn, const char *stream, const char *subject,
		  char *id, size_t cap, uint64_t *stream_seq, char *err)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	const char *v = NULL;
	natsStatus s = js_GetLastMsg(&m, sn->js, stream, subject, NULL, &jerr);

	id[0] = '\0';
	*stream_seq = 0;
	if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
		return 0;
	if (s != NATS_OK)
		return fail(err, "reading the stream's last message", s, jerr);
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v)
		snprintf(id, cap, "%s", v);
	*stream_seq = natsMsg_GetSequence(m);
	natsMsg_Destroy(m);
	return 0;
}

/* One message of a pull (fn's stream number, the message); 0 to go on,
 * 1 to stop, -1 for out of memory. */
typedef int (*pull_fn)(void *arg, uint64_t stream_seq, natsMsg *m);

/* Reads subject's messages in stream from number from_seq through
 * to_seq, in order, through an ephemeral pull consumer that acknowledges
 * nothing (headers_only: without their payloads), calling fn for each.
 * quiet_ends: a message with none pending after it also ends the read
 * (to_seq may have gone: a limit, a delete).  A fetch that times out
 * fails it.  Returns 0, fn's positive value, or -1 (err). */
static int pull(struct snats *sn, const char *stream, const char *subject,
		uint64_t from_seq, uint64_t to_seq, int headers_only,
		int quiet_ends, pull_fn fn, void *arg, char *err)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	uint64_t seen = 0, pending = 1;
	int rc = 0;
	natsStatus s;

	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.AckPolicy = js_AckNone;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = from_seq;
	so.Config.HeadersOnly = headers_only != 0;
	s = js_PullSubscribe(&sub, sn->js, subject, NULL, NULL, &so, &jerr);
	if (s != NATS_OK)
		return fail(err, "reading the stream", s, jerr);
	while (rc == 0 && seen < to_seq && (pending || !quiet_ends)) {
		natsMsgList list = { NULL, 0 };

		s = natsSubscription_Fetch(&list, sub, SNATS_READ_BATCH,
					   SNATS_REQUEST_MS, &jerr);
		if (s != NATS_OK) {
			rc = fail(err, "reading the stream", s, jerr);
			break;
		}
		for (int i = 0; i < list.Count && rc == 0; i++) {
			jsMsgMetaData *meta = NULL;

			if (natsMsg_GetMetaData(&meta, list.Msgs[i]) != NATS_OK)
				continue;
			seen = meta->Sequence.Stream;
			pending = meta->NumPending;
			jsMsgMetaData_Destroy(meta);
			if (seen > to_seq)
				break;
			rc = fn(arg, seen, list.Msgs[i]);
			if (rc < 0)
				snprintf(err, SNATS_ERR_BYTES, "reading the "
					 "stream: out of memory");
		}
		natsMsgList_Destroy(&list);
	}
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	return rc;
}

struct scan {
	snats_id_fn fn;
	void *arg;
	uint64_t n, max;
	char *err;
};

static int scan_one(void *arg, uint64_t stream_seq, natsMsg *m)
{
	struct scan *sc = arg;
	const char *id = NULL;

	if (++sc->n > sc->max) {
		snprintf(sc->err, SNATS_ERR_BYTES, "more than %" PRIu64
			 " messages to read", sc->max);
		return 2;
	}
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || !id)
		return 0;
	return sc->fn(sc->arg, id, stream_seq);
}

int snats_scan_ids(struct snats *sn, const char *stream, const char *subject,
		   uint64_t from_seq, uint64_t to_seq, uint64_t max,
		   snats_id_fn fn, void *arg, char *err)
{
	struct scan sc = { fn, arg, 0, max, err };
	int rc;

	if (from_seq > to_seq)
		return 0;
	rc = pull(sn, stream, subject, from_seq, to_seq, 1, 1, scan_one, &sc,
		  err);
	return rc == 2 ? -2 : rc;
}

int snats_publish(struct snats *sn, const char *subject, const char *msg_id,
		  const void *data, size_t len, int64_t ack_timeout_ms,
		  char *err)
{
	natsMsg *m = NULL;
	jsPubOptions po;
	natsStatus s;

	if (!snats_connected(sn)) {
		snprintf(err, SNATS_ERR_BYTES, "publish: not connected");
		return -1;
	}
	s = natsMsg_Create(&m, subject, NULL, data, (int)len);

	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
	jsPubOptions_Init(&po);
	po.MaxWait = ack_timeout_ms;
	if (s == NATS_OK)
		s = js_PublishMsgAsync(sn->js, &m, &po);
	natsMsg_Destroy(m); /* NULL once libnats took it */
	return s == NATS_OK ? 0 : fail(err, "publish", s, 0);
}

void snats_settle(struct snats *sn, int64_t timeout_ms)
{
	jsPubOptions po;
	natsMsgList pending;

	jsPubOptions_Init(&po);
	po.MaxWait = timeout_ms;
	if (js_PublishAsyncComplete(sn->js, &po) == NATS_OK)
		return;
	if (js_PublishAsyncGetPendingList(&pending, sn->js) == NATS_OK)
		natsMsgList_Destroy(&pending);
}

struct read {
	snats_msg_fn fn;
	void *arg;
};

static int read_one(void *arg, uint64_t stream_seq, natsMsg *m)
{
	struct read *r = arg;

	return r->fn(r->arg, stream_seq, natsMsg_GetSubject(m),
		     natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
}

int snats_read(struct snats *sn, const char *stream, uint64_t *last,
	       snats_msg_fn fn, void *arg, char *err)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	struct read r = { fn, arg };
	char subject[256];
	natsStatus s = js_GetStreamInfo(&si, sn->js, stream, NULL, &jerr);

	if (s != NATS_OK)
		return fail(err, stream, s, jerr);
	*last = si->State.LastSeq;
	snprintf(subject, sizeof subject, "%s",
		 si->Config->SubjectsLen == 1 ? si->Config->Subjects[0] : ">");
	jsStreamInfo_Destroy(si);
	if (*last == 0)
		return 0;
	return pull(sn, stream, subject, 1, *last, 0, 0, read_one, &r, err) < 0
		       ? -1
		       : 0;
}

int snats_replace(struct snats *sn, const char *stream, uint64_t stream_seq,
		  const char *subject, const void *data, size_t len,
		  char *err)
{
	jsErrCode jerr = 0;
	jsPubAck *pa = NULL;
	natsStatus s = js_DeleteMsg(sn->js, stream, stream_seq, NULL, &jerr);

	if (s != NATS_OK)
		return fail(err, "deleting the message", s, jerr);
	s = js_Publish(&pa, sn->js, subject, data, (int)len, NULL, &jerr);
	jsPubAck_Destroy(pa);
	return s == NATS_OK ? 0 : fail(err, "publishing the copy", s, jerr);
}

int snats_stream_limit(struct snats *sn, const char *stream,
		       const char *subject, int32_t max_msg_size, char *err)
{
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	const char *subjects[1] = { subject };
	natsStatus s = js_GetStreamInfo(&si, sn->js, stream, NULL, &jerr);

	if (s != NATS_OK && jerr != JSStreamNotFoundErr)
		return fail(err, stream, s, jerr);
	stream_config(&cfg, stream, subjects);
	cfg.MaxMsgSize = max_msg_size;
	if (si) {
		cfg.Duplicates = si->Config->Duplicates;
		jsStreamInfo_Destroy(si);
		si = NULL;
		s = js_UpdateStream(&si, sn->js, &cfg, NULL, &jerr);
	} else {
		s = js_AddStream(&si, sn->js, &cfg, NULL, &jerr);
	}
	if (s != NATS_OK)
		return fail(err, "setting the stream's message size limit", s,
			    jerr);
	jsStreamInfo_Destroy(si);
	return 0;
}

void snats_close(struct snats *sn)
{
	if (!sn)
		return;
	if (sn->js) {
		snats_settle(sn, 1);
		jsCtx_Destroy(sn->js);
	}
	natsConnection_Destroy(sn->nc);
	free(sn);
}

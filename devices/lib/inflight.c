/* inflight.c: inflight I/O tracking in the shared region of PROTOCOL_F_INFLIGHT_SHMFD (split rings), and a successor's recovery from it. */
#include "inflight.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virtqueue.h"

/* The region is shared with the frontend (and outlives us): every access is one load or store,
 * and what is loaded is checked before use. */
#define LOAD(x)      __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v)  __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

void inflight_format(void *base, unsigned num_queues, uint16_t queue_size)
{
	for (unsigned q = 0; q < num_queues; q++) {
		struct inflight_queue *r =
			(void *)((uint8_t *)base + (size_t)q * inflight_queue_bytes(queue_size));

		r->desc_num = queue_size;
		r->version = INFLIGHT_VERSION;
	}
}

/* ---- tracking: the spec's steps, on pop and on publication ---- */

void inflight_popped(struct virtq *vq, uint16_t head)
{
	struct inflight_queue *r = vq->ifl.r;

	if (!r)
		return;
	STORE(r->desc[head].counter, vq->ifl.counter++);
	/* Marked before the request is used: a successor sees it with its counter. */
	__atomic_store_n(&r->desc[head].inflight, 1, __ATOMIC_RELEASE);
}

void inflight_unpopped(struct virtq *vq, uint16_t head)
{
	if (!vq->ifl.r)
		return;
	__atomic_store_n(&vq->ifl.r->desc[head].inflight, 0, __ATOMIC_RELEASE);
	vq->ifl.counter--;
}

void inflight_filled(struct virtq *vq, uint16_t head)
{
	struct inflight_queue *r = vq->ifl.r;

	if (!r)
		return;
	STORE(r->desc[head].next, LOAD(r->last_batch_head));
	__atomic_store_n(&r->last_batch_head, head, __ATOMIC_RELEASE);
	vq->ifl.nbatch++;
}

void inflight_published(struct virtq *vq)
{
	struct inflight_queue *r = vq->ifl.r;
	uint16_t head;

	if (!r)
		return;
	head = LOAD(r->last_batch_head);
	/* The frontend may have written the links: indices are checked, never trusted. */
	for (unsigned k = 0; k < vq->ifl.nbatch && head < vq->num; k++) {
		STORE(r->desc[head].inflight, 0);
		head = LOAD(r->desc[head].next);
	}
	__atomic_store_n(&r->used_idx, vq->used_idx, __ATOMIC_RELEASE);
	vq->ifl.nbatch = 0;
}

/* ---- recovery, when a queue starts ---- */

struct pending {
	uint64_t counter;
	uint16_t head;
};

static int refuse(struct virtq *vq, const char *why, unsigned long long v)
{
	virtq_mark_broken(vq, why, v);
	vq->ifl.r = NULL;
	return -EIO;
}

static uint16_t used_idx(const struct virtq *vq)
{
	return __atomic_load_n((const uint16_t *)(vq->used + 2), __ATOMIC_ACQUIRE);
}

/* Version 0 (a region the frontend zeroed) is made valid here; other versions are refused. */
static int check_header(struct virtq *vq, struct inflight_queue *r, uint16_t desc_num)
{
	uint16_t version = LOAD(r->version);
	uint64_t features = LOAD(r->features);

	if (version == 0) {
		memset(r->desc, 0, sizeof(r->desc[0]) * desc_num);
		STORE(r->features, 0);
		STORE(r->desc_num, desc_num);
		STORE(r->last_batch_head, 0);
		STORE(r->used_idx, used_idx(vq));
		__atomic_store_n(&r->version, INFLIGHT_VERSION, __ATOMIC_RELEASE);
		return 0;
	}
	if (version != INFLIGHT_VERSION)
		return refuse(vq, "inflight region of unknown version", version);
	if (features)
		return refuse(vq, "inflight region with unknown features", features);
	if (LOAD(r->desc_num) != desc_num)
		return refuse(vq, "inflight region's desc_num is not its queue size", LOAD(r->desc_num));
	return 0;
}

/* The spec's reconnect step 1: a batch published to the used ring whose flags the predecessor
 * had not cleared yet (it died between the two). */
static int close_last_batch(struct virtq *vq, struct inflight_queue *r)
{
	uint16_t used = used_idx(vq);
	uint16_t n = (uint16_t)(used - LOAD(r->used_idx)), head = LOAD(r->last_batch_head);

	if (n > vq->num)
		return refuse(vq, "inflight region's used idx is behind the ring by", n);
	for (unsigned k = 0; k < n; k++) {
		if (head >= vq->num)
			return refuse(vq, "inflight region's last batch lists head", head);
		STORE(r->desc[head].inflight, 0);
		head = LOAD(r->desc[head].next);
	}
	STORE(r->used_idx, used);
	return 0;
}

/* The heads still flagged, each copied once and checked. */
static int collect(struct virtq *vq, struct inflight_queue *r, uint16_t desc_num,
		   struct pending *p, unsigned *n)
{
	*n = 0;
	for (unsigned i = 0; i < desc_num; i++) {
		uint8_t flag = LOAD(r->desc[i].inflight);

		if (flag == 0)
			continue;
		if (flag != 1)
			return refuse(vq, "inflight region flag is neither 0 nor 1, head", i);
		if (i >= vq->num)
			return refuse(vq, "inflight region head beyond the queue size", i);
		p[(*n)++] = (struct pending){ LOAD(r->desc[i].counter), (uint16_t)i };
	}
	return 0;
}

static int by_counter(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* Resubmission in counter order; equal counters leave no order to follow. */
static int queue_resubmit(struct virtq *vq, struct pending *p, unsigned n)
{
	qsort(p, n, sizeof(*p), by_counter);
	for (unsigned k = 0; k < n; k++) {
		if (k && p[k].counter == p[k - 1].counter)
			return refuse(vq, "two inflight heads share the counter", p[k].counter);
		vq->ifl.resubmit[k] = p[k].head;
		vq->inflight[p[k].head / 64] |= 1ULL << (p[k].head % 64);
	}
	if (n && p[n - 1].counter == UINT64_MAX)
		return refuse(vq, "inflight counter at its limit", p[n - 1].counter);
	vq->ifl.counter = n ? p[n - 1].counter + 1 : 0;
	vq->ifl.nresubmit = (uint16_t)n;
	return 0;
}

int virtq_inflight_start(struct virtq *vq, struct inflight_queue *r, uint16_t desc_num)
{
	struct pending p[VIRTQ_MAX_SIZE];
	unsigned n;

	vq->ifl = (struct virtq_ifl){ .r = NULL };
	if (!r || !vq->used)
		return 0;
	if (vq->num > desc_num)
		return refuse(vq, "queue larger than its inflight region, size", vq->num);
	memset(vq->inflight, 0, sizeof(vq->inflight));
	vq->ninflight = 0;
	if (check_header(vq, r, desc_num) || close_last_batch(vq, r) ||
	    collect(vq, r, desc_num, p, &n) || queue_resubmit(vq, p, n))
		return -EIO;
	vq->ifl.r = r;
	if (n) {
		/* Everything before them in the avail ring was popped: new entries follow. */
		vq->used_idx = used_idx(vq);
		vq->last_avail = (uint16_t)(vq->used_idx + n);
		if ((uint16_t)(__atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE) - vq->last_avail) >
		    vq->num)
			return refuse(vq, "inflight region holds more heads than were posted", n);
		log_warn("queue %u: resubmitting %u requests left in flight by the previous backend",
			 vq->index, n);
	}
	return 0;
}

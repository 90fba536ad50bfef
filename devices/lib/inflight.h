/* inflight.h: vhost-user's inflight region (PROTOCOL_F_INFLIGHT_SHMFD, split rings): which heads a backend popped and has not pushed, so that its successor resubmits them. */
#ifndef CELLVM_INFLIGHT_H
#define CELLVM_INFLIGHT_H

#include <stdint.h>

#define INFLIGHT_VERSION 1
#define INFLIGHT_ALIGN   64

/* The layout of QEMU's docs/interop/vhost-user.rst, "Inflight I/O tracking" (split). */
struct inflight_desc {
	uint8_t inflight;          /* 1: popped (head descriptors only) */
	uint8_t padding[5];
	uint16_t next;             /* the last published batch, as a list */
	uint64_t counter;          /* pop order */
};

struct inflight_queue {
	uint64_t features;         /* 0 */
	uint16_t version;          /* 1; 0: not initialised */
	uint16_t desc_num;         /* entries in desc[]: the queue size of GET_INFLIGHT_FD */
	uint16_t last_batch_head;
	uint16_t used_idx;         /* the used idx once the last batch was cleared */
	struct inflight_desc desc[];
};

_Static_assert(sizeof(struct inflight_desc) == 16, "DescStateSplit is 16 bytes");
_Static_assert(sizeof(struct inflight_queue) == 16, "QueueRegionSplit's header is 16 bytes");

/* Bytes one queue's part takes (its header and queue_size entries, 64-byte aligned). */
static inline uint64_t inflight_queue_bytes(uint16_t queue_size)
{
	return (sizeof(struct inflight_queue) + sizeof(struct inflight_desc) * (uint64_t)queue_size +
		INFLIGHT_ALIGN - 1) & ~(uint64_t)(INFLIGHT_ALIGN - 1);
}

/* Makes a region of num_queues parts (already zero) valid: version 1, desc_num set. */
void inflight_format(void *base, unsigned num_queues, uint16_t queue_size);

struct virtq;

/* Starts tracking a queue in its part r of a region (NULL: no tracking), as the queue starts
 * (its rings set). A region with entries is a predecessor's: the heads it left in flight are
 * queued for resubmission, in pop order, ahead of new avail entries, and the avail index goes
 * past them. Everything read from r is checked: -EIO, the queue is broken (logged). */
int virtq_inflight_start(struct virtq *vq, struct inflight_queue *r, uint16_t desc_num)
	__attribute__((warn_unused_result));

/* virtqueue.c's hooks; each does nothing while the queue is not tracked. */
void inflight_popped(struct virtq *vq, uint16_t head);     /* marked before use */
void inflight_unpopped(struct virtq *vq, uint16_t head);
void inflight_filled(struct virtq *vq, uint16_t head);     /* joins the batch being published */
void inflight_published(struct virtq *vq);                 /* after the used idx store */

#endif

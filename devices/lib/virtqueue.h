/* virtqueue.h: split virtqueues over guest memory shared by a vhost-user frontend. */
#ifndef CELLVM_VIRTQUEUE_H
#define CELLVM_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define GUEST_MEM_MAX_REGIONS 8
#define VIRTQ_MAX_SIZE        1024
/* Buffers one request may carry (header + data segments + status). */
#define VIRTQ_IOV_MAX         256
/* Entries one indirect table may hold: the same bound as the iovec. */
#define VIRTQ_INDIRECT_MAX    VIRTQ_IOV_MAX

struct guest_region {
	uint64_t gpa;         /* guest-physical start */
	uint64_t size;
	uint64_t uaddr;       /* the frontend's virtual address of the region */
	uint8_t *hva;         /* our mapping of the region's first byte */
	void *map_base;       /* what mmap returned (hva - mmap_offset) */
	size_t map_len;
};

struct guest_mem {
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* The one checked translation for guest-physical addresses: NULL unless
 * [gpa, gpa + len) lies inside one region (len 0 is checked as 1 byte). */
void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* The same for the frontend's user addresses (ring addresses in SET_VRING_ADDR). */
void *uva_to_hva(const struct guest_mem *mem, uint64_t uva, uint64_t len);

struct virtq_desc_raw {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Inflight tracking (inflight.h) of one queue: off while r is NULL. */
struct virtq_ifl {
	struct inflight_queue *r;     /* this queue's part of the shared region */
	uint64_t counter;             /* the next pop's counter */
	uint16_t nbatch;              /* heads filled since the last publication (listed in r) */
	uint16_t nresubmit, next;     /* resubmit[next..nresubmit): a predecessor's, not yet popped */
	bool last_resubmitted;        /* the last pop came from resubmit[] (for virtq_unpop) */
	uint16_t resubmit[VIRTQ_MAX_SIZE];
};

struct virtq {
	unsigned index;
	uint16_t num;                 /* queue size, a power of 2; 0 = not set */
	struct virtq_desc_raw *desc;
	uint16_t *avail;              /* flags, idx, ring[num], used_event */
	uint8_t *used;                /* flags, idx, ring[num] {id, len}, avail_event */
	uint16_t last_avail;          /* next avail entry to pop */
	uint16_t used_idx;            /* our shadow of used->idx, filled elements included */
	bool unpublished;             /* used_idx is ahead of used->idx (virtq_fill) */
	uint16_t last_head;           /* the head pushed last: the driver's likely next one */
	uint16_t signalled_used;      /* used idx at the last notification */
	bool signalled_valid;
	bool event_idx;               /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;                /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool broken;                  /* latched: a bad ring or chain was seen */
	uint64_t inflight[VIRTQ_MAX_SIZE / 64]; /* heads popped, not yet pushed */
	unsigned ninflight;           /* popped heads in inflight (a count, no popcount per call);
				       * heads waiting in ifl.resubmit are in the bitmap, not here */
	struct virtq_ifl ifl;
};

/* One popped chain: out (device-readable) buffers first, then in (device-writable). */
struct virtq_elem {
	uint16_t head;
	unsigned out_num, in_num;
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_IOV_MAX];
};

/* Points the queue at rings already translated; resets indices to base. Heads waiting for
 * resubmission (inflight.h) stay queued. */
void virtq_setup(struct virtq *vq, uint16_t num, void *desc, void *avail, void *used,
		 uint16_t base);
/* 1: popped into elem (a predecessor's in-flight head first, see inflight.h); 0: nothing
 * available; -EIO: queue broken (latched, logged once). */
int virtq_pop(struct virtq *vq, const struct guest_mem *mem, struct virtq_elem *elem)
	__attribute__((warn_unused_result));
/* Returns a chain to the driver with len bytes written; -EIO if head is not in flight. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
	__attribute__((warn_unused_result));
/* Writes a used element without publishing it: the driver sees it at the next virtq_flush()
 * (or virtq_push(), virtq_should_notify()), with every element filled before it, through
 * one used idx store. -EIO if head is not in flight or the queue is broken. */
int virtq_fill(struct virtq *vq, uint16_t head, uint32_t len) __attribute__((warn_unused_result));
/* Publishes the used elements filled since the last publication (release ordering). */
void virtq_flush(struct virtq *vq);
/* Returns n chains at once, published by one used idx update (a merged rx frame must
 * appear whole). -EIO, nothing pushed, if a head is not in flight or listed twice, or the
 * queue is broken. */
int virtq_push_n(struct virtq *vq, const uint16_t *heads, const uint32_t *lens, unsigned n)
	__attribute__((warn_unused_result));
/* Gives back the chain the last virtq_pop() returned, unused: the next pop returns it again. */
void virtq_unpop(struct virtq *vq, uint16_t head);
/* True when the driver wants an interrupt for what was pushed since the last one. */
bool virtq_should_notify(struct virtq *vq);
/* Publishes avail_event so the driver kicks for the next buffer (EVENT_IDX). */
void virtq_arm_kick(struct virtq *vq);
/* Asks the driver not to kick for the next buffers (EVENT_IDX: avail_event behind). */
void virtq_suppress_kick(struct virtq *vq);
/* Starts loading, in parallel, the cache lines the next pop and push will touch (the next
 * avail entry, the descriptor a driver reusing its last freed chain posts, used_event, the
 * next used element): each would otherwise be a serial miss on a line the driver's CPU
 * wrote. Only hints; touches nothing. */
void virtq_prefetch(const struct virtq *vq);
/* Latches the broken flag; logs the reason the first time only. */
void virtq_mark_broken(struct virtq *vq, const char *why, unsigned long long detail);
/* True when the driver has posted chains not yet popped. */
bool virtq_avail_pending(const struct virtq *vq);
/* Number of popped chains not yet pushed. */
unsigned virtq_inflight(const struct virtq *vq);
/* out[] = the len bytes of iov[0..n) after skip (out has room for n); returns the count. */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t len,
		   struct iovec *out);

#endif

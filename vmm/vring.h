/* vring.h: a split virtqueue the VMM serves itself (virtio-net's control queue), every guest value checked. */
#ifndef CELLVM_VRING_H
#define CELLVM_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

#define VRING_IN_MAX   4096 /* device-readable bytes copied out of one chain */
#define VRING_SEGS_MAX 16   /* device-writable descriptors kept for one chain */
#define VRING_F_INDIRECT_DESC (1ULL << 28)
#define VRING_F_EVENT_IDX     (1ULL << 29)

struct vring {
	const struct guest_mem *mem;
	uint16_t num;                    /* 0: not set up */
	const volatile uint8_t *desc;    /* 16-byte descriptors */
	volatile uint8_t *avail, *used;
	uint16_t last_avail, used_idx;
	bool indirect, event_idx, broken;
};

/* One chain: the device-readable bytes (copied once, so the guest cannot change them under
 * us) and the device-writable segments. */
struct vring_chain {
	uint16_t head;
	uint64_t in_total;               /* readable bytes in the chain */
	size_t in_len;                   /* of which copied into in[] */
	uint64_t out_cap;                /* writable bytes in the chain */
	unsigned int nseg;
	struct { uint8_t *hva; uint32_t len; } seg[VRING_SEGS_MAX];
	uint8_t in[VRING_IN_MAX];
};

/* Translates and checks the three rings; -EFAULT if one is outside guest RAM, -EINVAL for a
 * size that is not a power of two up to 32768. features: the negotiated ring features. */
int vring_setup(struct vring *r, const struct guest_mem *mem, uint16_t num, uint64_t desc,
		uint64_t avail, uint64_t used, uint64_t features) __attribute__((warn_unused_result));
void vring_reset(struct vring *r);
/* 1: a chain popped into c; 0: none available; -EIO: the ring is broken (reason in why). */
int vring_pop(struct vring *r, struct vring_chain *c, const char **why) __attribute__((warn_unused_result));
/* Writes len reply bytes into the chain's writable segments and returns it as used. */
void vring_push(struct vring *r, const struct vring_chain *c, const uint8_t *reply, uint32_t len);
/* With EVENT_IDX: publishes avail_event so the driver kicks for its next chain. */
void vring_arm(struct vring *r);

#endif

/* vhost_user_internal.h: the vhost-user message layout and the handlers shared by vhost_user.c and vhost_user_inflight.c. */
#ifndef CELLVM_VHOST_USER_INTERNAL_H
#define CELLVM_VHOST_USER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"

struct vu_state { uint32_t index, num; };
struct vu_addr { uint32_t index, flags; uint64_t desc, used, avail, log; };
struct vu_region { uint64_t gpa, size, uaddr, mmap_offset; };
struct vu_mem { uint32_t nregions, padding; struct vu_region regions[GUEST_MEM_MAX_REGIONS]; };
struct vu_config { uint32_t offset, size, flags; uint8_t data[VU_CONFIG_MAX]; };
struct vu_inflight { uint64_t mmap_size, mmap_offset; uint16_t num_queues, queue_size; };

_Static_assert(sizeof(struct vu_inflight) == 24, "QEMU's VhostUserInflight, padding included");

struct vu_msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct vu_state state;
		struct vu_addr addr;
		struct vu_mem mem;
		struct vu_config config;
		struct vu_inflight inflight;
		uint8_t raw[sizeof(struct vu_config)];
	} p;
	int fds[VU_MAX_FDS];
	unsigned nfds;
	bool has_reply;      /* the handler filled p with a reply of reply_size bytes */
	uint32_t reply_size;
	int reply_fd;        /* sent with the reply (then closed), or -1 */
};

/* vhost_user_inflight.c: GET_INFLIGHT_FD and SET_INFLIGHT_FD (0 done, other -errno refused),
 * the region's unmapping (a reset, a new region, cleanup) and a queue's start on it. */
int vu_get_inflight_fd(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_inflight_fd(struct vu_dev *dev, struct vu_msg *msg);
void vu_inflight_unmap(struct vu_dev *dev);
void vu_inflight_start(struct vu_dev *dev, unsigned q);

#endif

/* vfront.h: a test vhost-user frontend that also plays the virtio-blk driver. */
#ifndef CELLVM_VFRONT_H
#define CELLVM_VFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VF_MAX_QUEUES 8
#define VF_MEM_SIZE   (64ull << 20)
/* Two regions, so guest-physical, frontend and mmap offsets all differ. */
#define VF_R0_GPA     0x0ull
#define VF_R1_GPA     0x100000000ull
#define VF_R_SIZE     (VF_MEM_SIZE / 2)
#define VF_HOLE_GPA   0x80000000ull   /* inside no region */

#define VF_DESC_NEXT 1
#define VF_DESC_WRITE 2
#define VF_DESC_INDIRECT 4

struct vf_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };

struct vf_queue {
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vf_desc *desc;
	uint16_t *avail;            /* flags, idx, ring[num], used_event */
	uint8_t *used;
	uint16_t avail_idx, last_used, next_desc;
	int kick, call;
};

struct vf {
	int sock;
	int memfd;
	uint8_t *mem;
	uint64_t features, protocol;
	uint64_t want;              /* features the driver takes if offered; 0: the blk set */
	unsigned nq;
	struct vf_queue q[VF_MAX_QUEUES];
	uint64_t bump;              /* next free guest-physical byte in region 1 */
	uint8_t cfg[64];
	uint64_t capacity;
	uint32_t seg_max, size_max;
	uint16_t cfg_num_queues;
	/* PROTOCOL_F_INFLIGHT_SHMFD: with inflight set before vf_start, the region is asked for
	 * (GET_INFLIGHT_FD, ifl_qsize entries per queue, or the ring size) and handed back
	 * (SET_INFLIGHT_FD); ifl_hook then runs, before the rings are set. */
	bool inflight;
	bool inflight_if_offered;   /* a backend without it: carry on without (as cellvm does) */
	uint16_t ifl_qsize;
	void (*ifl_hook)(struct vf *f);
	int ifl_fd;                 /* -1: none */
	uint8_t *ifl;               /* our mapping of it */
	uint64_t ifl_size;
};

/* Guest-physical to our pointer (tests use valid addresses only). */
void *vf_ptr(struct vf *f, uint64_t gpa);
uint64_t vf_alloc(struct vf *f, uint64_t len);   /* in region 1, 4 KiB aligned */

int vf_connect(struct vf *f, const char *path);
/* A new backend at path takes over (the old one is gone): negotiation, memory, the inflight
 * region kept, and each ring resumed at its used idx, its contents kept. */
int vf_resume(struct vf *f, const char *path);
/* GET_INFLIGHT_FD for nq queues of qsize: 0 with ifl_fd/ifl/ifl_size set, -ENOENT when the
 * backend answered "no region" (mmap_size 0), other -errno. */
int vf_get_inflight(struct vf *f, uint16_t nq, uint16_t qsize);
/* SET_INFLIGHT_FD with fd (mmap_size bytes at offset 0); the REPLY_ACK result. */
int vf_set_inflight(struct vf *f, int fd, uint64_t mmap_size, uint16_t nq, uint16_t qsize);
/* The whole frontend start-up; nq queues of qsize entries. */
int vf_start(struct vf *f, unsigned nq, uint16_t qsize);
int vf_msg(struct vf *f, uint32_t req, const void *p, uint32_t size, const int *fds,
	   unsigned nfds, void *reply, uint32_t reply_size);
/* A raw message, no reply awaited (for malformed-message tests). */
int vf_send_raw(struct vf *f, const void *buf, size_t len);

/* Writes a chain of n descriptors starting at the queue's next free slot; posts it. */
struct vf_buf { uint64_t gpa; uint32_t len; bool write; };
int vf_post(struct vf *f, unsigned q, const struct vf_buf *b, unsigned n, bool indirect);
/* Posts an arbitrary head with descriptors written by the caller. */
void vf_post_head(struct vf *f, unsigned q, uint16_t head);
void vf_kick(struct vf *f, unsigned q);
/* Waits for one used element; 0 with id/len, -ETIMEDOUT. */
int vf_wait_used(struct vf *f, unsigned q, int timeout_ms, uint32_t *id, uint32_t *len);

/* One virtio-blk request: header, optional data (n segments of seg bytes), status.
 * Returns the status byte or a negative errno. */
int vf_blk(struct vf *f, unsigned q, uint32_t type, uint64_t sector, uint64_t data_gpa,
	   uint32_t len, unsigned nseg, bool indirect);
/* Posts without waiting; *status_gpa gets where the status byte will land. */
int vf_blk_post(struct vf *f, unsigned q, uint32_t type, uint64_t sector, uint64_t data_gpa,
		uint32_t len, unsigned nseg, bool indirect, uint64_t *status_gpa);

/* 1 if the file at path holds want's len bytes at off (read back with pread). */
int vf_file_has(const char *path, uint64_t off, const void *want, uint32_t len);

#endif

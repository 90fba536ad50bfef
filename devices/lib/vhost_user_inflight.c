/* vhost_user_inflight.c: the backend's side of vhost-user's inflight region (PROTOCOL_F_INFLIGHT_SHMFD): the GET/SET_INFLIGHT_FD messages and a queue's start on the region. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inflight.h"
#include "log.h"
#include "vhost_user_internal.h"

void vu_inflight_unmap(struct vu_dev *dev)
{
	if (dev->inflight.map)
		munmap(dev->inflight.map, dev->inflight.map_len);
	dev->inflight = (struct vu_inflight_map){ .map = NULL };
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		dev->queues[i].vq.ifl.r = NULL;
}

static bool inflight_negotiated(const struct vu_dev *dev)
{
	return dev->protocol_acked & (1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD);
}

static bool inflight_sizes_ok(const struct vu_inflight *in)
{
	return in->num_queues >= 1 && in->num_queues <= VU_MAX_QUEUES && in->queue_size >= 1 &&
	       in->queue_size <= VIRTQ_MAX_SIZE && !(in->queue_size & (in->queue_size - 1));
}

/* A zeroed memfd, formatted (version 1), sealed against resizing: a successor maps it safely. */
static int inflight_create(uint64_t size, unsigned num_queues, uint16_t queue_size)
{
	int fd = memfd_create("cellvm-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p = MAP_FAILED;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		inflight_format(p, num_queues, queue_size);
		munmap(p, size);
	}
	if (p == MAP_FAILED || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* Bytes of a region holding every queue's part. */
static uint64_t region_bytes(const struct vu_inflight *in)
{
	return inflight_queue_bytes(in->queue_size) * in->num_queues;
}

/* The reply is owed whatever happens: mmap_size 0 and no fd is the spec's "no region". */
int vu_get_inflight_fd(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_inflight *in = &msg->p.inflight;
	uint64_t size = region_bytes(in);
	int fd = -EINVAL;

	if (inflight_negotiated(dev) && inflight_sizes_ok(in))
		fd = inflight_create(size, in->num_queues, in->queue_size);
	if (fd < 0)
		log_warn("vhost-user: no inflight region for %u queues of %u: %s", in->num_queues,
			 in->queue_size, strerror(-fd));
	msg->reply_fd = fd < 0 ? -1 : fd;
	*in = (struct vu_inflight){ .mmap_size = fd < 0 ? 0 : size, .num_queues = in->num_queues,
				    .queue_size = in->queue_size };
	msg->reply_size = sizeof(*in);
	msg->has_reply = true;
	return 0;
}

/* The region must hold every queue's part and must not be able to shrink under us (SIGBUS). */
static int inflight_check_fd(const struct vu_inflight *in, int fd, uint64_t *end)
{
	uint64_t need = region_bytes(in);
	struct stat st;
	int seals;

	if (in->mmap_size < need || in->mmap_offset % 8 ||
	    __builtin_add_overflow(in->mmap_offset, need, end) || *end > SIZE_MAX)
		return -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < *end)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_SHRINK) ? 0 : -EPERM;
}

int vu_set_inflight_fd(struct vu_dev *dev, struct vu_msg *msg)
{
	const struct vu_inflight *in = &msg->p.inflight;
	uint64_t end;
	void *p;
	int rc;

	if (msg->nfds != 1)
		return -EPROTO;
	if (!inflight_negotiated(dev) || !inflight_sizes_ok(in))
		return -EINVAL;
	for (unsigned i = 0; i < dev->num_queues; i++)
		if (dev->queues[i].started)
			return -EBUSY; /* the spec: before the rings */
	rc = inflight_check_fd(in, msg->fds[0], &end);
	if (rc) {
		log_warn("vhost-user: inflight region refused (size, offset or seals): %s",
			 strerror(-rc));
		return rc;
	}
	p = mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE, MAP_SHARED, msg->fds[0], 0);
	if (p == MAP_FAILED)
		return -errno;
	vu_inflight_unmap(dev);
	dev->inflight = (struct vu_inflight_map){ .map = p, .map_len = (size_t)end,
						  .base = (uint8_t *)p + in->mmap_offset,
						  .num_queues = in->num_queues,
						  .queue_size = in->queue_size };
	return 0;
}

/* A queue starts: its part of the region (if any) is checked, and what it left in flight
 * queued for resubmission; a bad part breaks the queue (logged by virtqueue.c). */
void vu_inflight_start(struct vu_dev *dev, unsigned q)
{
	struct virtq *vq = &dev->queues[q].vq;
	struct inflight_queue *r = NULL;

	if (dev->inflight.map && q < dev->inflight.num_queues)
		r = (void *)(dev->inflight.base +
			     (size_t)q * inflight_queue_bytes(dev->inflight.queue_size));
	if (r && !vq->desc) {
		log_warn("queue %u: started before its rings were set; no inflight tracking", q);
		r = NULL;
	}
	if (virtq_inflight_start(vq, r, dev->inflight.queue_size))
		log_error("queue %u: its inflight region is unusable", q);
}

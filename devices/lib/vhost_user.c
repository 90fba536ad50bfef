/* vhost_user.c: vhost-user backend message parsing, checks and handlers (no loop, no exit). */
#define _GNU_SOURCE
#include "vhost_user.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user_internal.h"

#define VU_VERSION        0x1
#define VU_FLAG_REPLY     (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)
#define VU_HDR_SIZE       12
#define VU_VRING_NOFD     (1ull << 8)
#define VU_CONFIG_HDR     12
#define VU_PROTOCOL_FEATURES ((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) | \
			      (1ull << VU_PROTOCOL_F_CONFIG))
#define VU_PROTOCOL_OPTIONAL (1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD)

#define VU_MAX_PAYLOAD sizeof(((struct vu_msg *)0)->p)

static const char *const names[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = "GET_FEATURES", [VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER", [VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE", [VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD", [VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR", [VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE", [VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL", [VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM", [VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_GET_CONFIG] = "GET_CONFIG", [VU_SET_CONFIG] = "SET_CONFIG",
	[VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD", [VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
};

const char *vu_request_name(uint32_t req)
{
	return req < VU_REQUEST_MAX && names[req] ? names[req] : "unknown";
}

int vu_dev_init(struct vu_dev *dev, const struct vu_dev_params *p)
{
	if (p->num_queues == 0 || p->num_queues > VU_MAX_QUEUES || !p->ops ||
	    p->config_len > VU_CONFIG_MAX || (p->protocol_features & ~VU_PROTOCOL_OPTIONAL))
		return -EINVAL;
	*dev = (struct vu_dev){
		.sock = p->sock, .num_queues = p->num_queues, .config_len = p->config_len,
		.features = p->features | (1ull << VU_F_PROTOCOL_FEATURES),
		.protocol_features = VU_PROTOCOL_FEATURES | p->protocol_features,
		.ops = p->ops, .opaque = p->opaque,
	};
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vu_queue *q = &dev->queues[i];

		q->vq.index = i;
		q->kick_fd = q->call_fd = q->err_fd = -1;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void unmap_all(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nregions; i++)
		munmap(mem->regions[i].map_base, mem->regions[i].map_len);
	mem->nregions = 0;
}

static void set_kick(struct vu_dev *dev, unsigned q, int fd)
{
	struct vu_queue *vq = &dev->queues[q];

	if (dev->ops->kick_changed)
		dev->ops->kick_changed(dev->opaque, q, vq->kick_fd, fd);
	close_fd(&vq->kick_fd);
	vq->kick_fd = fd;
}

void vu_dev_cleanup(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		set_kick(dev, i, -1);
		close_fd(&dev->queues[i].call_fd);
		close_fd(&dev->queues[i].err_fd);
	}
	unmap_all(&dev->mem);
	vu_inflight_unmap(dev);
}

bool vu_queue_ready(const struct vu_dev *dev, unsigned q)
{
	const struct vu_queue *vq = &dev->queues[q];
	bool enabled = vq->enabled || !(dev->acked & (1ull << VU_F_PROTOCOL_FEATURES));

	return q < dev->num_queues && vq->started && enabled && vq->addr_set &&
	       vq->vq.desc && !vq->vq.broken;
}

void vu_queue_notify(struct vu_dev *dev, unsigned q)
{
	struct vu_queue *vq = &dev->queues[q];
	uint64_t one = 1;

	if (vq->call_fd < 0 || !virtq_should_notify(&vq->vq))
		return;
	if (write(vq->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("queue %u: call eventfd write failed: %m", q);
}

/* ---- the wire: one header with fds in its ancillary data, then the payload ---- */

static int take_fds(struct vu_msg *msg, struct msghdr *mh)
{
	int bad = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (msg->nfds < VU_MAX_FDS)
				msg->fds[msg->nfds++] = fd;
			else
				close(fd), bad = 1;
		}
	}
	return (bad || (mh->msg_flags & MSG_CTRUNC)) ? -EPROTO : 0;
}

static int read_full(int sock, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(sock, (uint8_t *)buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return done ? -EPROTO : -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

static int recv_msg(struct vu_dev *dev, struct vu_msg *msg)
{
	uint32_t hdr[3];
	char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	struct iovec iov = { hdr, VU_HDR_SIZE };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n;
	int rc;

	do
		n = recvmsg(dev->sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	rc = take_fds(msg, &mh);
	if (rc == 0 && n < VU_HDR_SIZE)
		rc = read_full(dev->sock, (uint8_t *)hdr + n, VU_HDR_SIZE - (size_t)n);
	if (rc)
		return rc == -ECONNRESET ? -EPROTO : rc;
	msg->request = hdr[0];
	msg->flags = hdr[1];
	msg->size = hdr[2];
	if ((msg->flags & 0x3) != VU_VERSION || msg->size > VU_MAX_PAYLOAD) {
		log_error("vhost-user: malformed header (request %u, flags 0x%x, size %u)",
			  msg->request, msg->flags, msg->size);
		return -EPROTO;
	}
	rc = read_full(dev->sock, msg->p.raw, msg->size);
	return rc == -ECONNRESET ? -EPROTO : rc;
}

static int send_reply(struct vu_dev *dev, const struct vu_msg *msg, const void *p, uint32_t size)
{
	uint32_t hdr[3] = { msg->request, VU_VERSION | VU_FLAG_REPLY, size };
	struct iovec iov[2] = { { hdr, VU_HDR_SIZE }, { (void *)p, size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
	ssize_t n;

	if (msg->reply_fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		cm = CMSG_FIRSTHDR(&mh);
		*cm = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(int)), .cmsg_level = SOL_SOCKET,
					.cmsg_type = SCM_RIGHTS };
		memcpy(CMSG_DATA(cm), &msg->reply_fd, sizeof(int));
	}

	do
		n = sendmsg(dev->sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == VU_HDR_SIZE + size ? 0 : -EPROTO;
}

/* ---- handlers: 0 done, -EPROTO malformed, other -errno refused (nack) ---- */

static int queue_index(const struct vu_dev *dev, uint64_t idx)
{
	return idx < dev->num_queues ? (int)idx : -EPROTO;
}

static int h_get_features(struct vu_dev *dev, struct vu_msg *msg)
{
	msg->p.u64 = dev->features;
	msg->reply_size = sizeof(uint64_t);
	msg->has_reply = true;
	return 0;
}

static int h_set_features(struct vu_dev *dev, struct vu_msg *msg)
{
	if (msg->p.u64 & ~dev->features) {
		log_warn("vhost-user: frontend acked features never offered: 0x%llx",
			 (unsigned long long)(msg->p.u64 & ~dev->features));
		return -EINVAL;
	}
	dev->acked = msg->p.u64;
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		dev->queues[i].vq.event_idx = dev->acked & (1ull << VU_F_RING_EVENT_IDX);
		dev->queues[i].vq.indirect = dev->acked & (1ull << VU_F_RING_INDIRECT_DESC);
	}
	return 0;
}

static int h_set_owner(struct vu_dev *dev, struct vu_msg *msg)
{
	dev->owner = true;
	return 0;
}

static void stop_queue(struct vu_dev *dev, unsigned q)
{
	if (dev->ops->quiesce)
		dev->ops->quiesce(dev->opaque, (int)q);
	dev->queues[q].started = false;
	set_kick(dev, q, -1);
}

static int h_reset_owner(struct vu_dev *dev, struct vu_msg *msg)
{
	/* Deprecated; the spec recommends treating it as "disable all rings". */
	for (unsigned i = 0; i < dev->num_queues; i++)
		stop_queue(dev, i);
	return 0;
}

static int h_get_protocol_features(struct vu_dev *dev, struct vu_msg *msg)
{
	msg->p.u64 = dev->protocol_features;
	msg->reply_size = sizeof(uint64_t);
	msg->has_reply = true;
	return 0;
}

static int h_set_protocol_features(struct vu_dev *dev, struct vu_msg *msg)
{
	if (msg->p.u64 & ~dev->protocol_features)
		return -EINVAL;
	dev->protocol_acked = msg->p.u64;
	return 0;
}

static int h_get_queue_num(struct vu_dev *dev, struct vu_msg *msg)
{
	msg->p.u64 = dev->num_queues;
	msg->reply_size = sizeof(uint64_t);
	msg->has_reply = true;
	return 0;
}

static int check_region(const struct vu_region *r, int fd)
{
	uint64_t end;
	struct stat st;

	if (r->size == 0 || __builtin_add_overflow(r->gpa, r->size - 1, &end) ||
	    __builtin_add_overflow(r->uaddr, r->size - 1, &end) ||
	    __builtin_add_overflow(r->mmap_offset, r->size, &end) || end > SIZE_MAX)
		return -EINVAL;
	/* Mapping past the end of a file would turn guest accesses into SIGBUS. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < end)
		return -EINVAL;
	return 0;
}

static bool regions_overlap(const struct vu_region *a, const struct vu_region *b)
{
	return a->gpa <= b->gpa + (b->size - 1) && b->gpa <= a->gpa + (a->size - 1);
}

static int map_region(struct guest_region *g, const struct vu_region *r, int fd)
{
	size_t len = (size_t)(r->mmap_offset + r->size);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*g = (struct guest_region){ .gpa = r->gpa, .size = r->size, .uaddr = r->uaddr,
				    .hva = (uint8_t *)p + r->mmap_offset, .map_base = p,
				    .map_len = len };
	return 0;
}

static int translate_rings(struct vu_dev *dev, unsigned q);

static int h_set_mem_table(struct vu_dev *dev, struct vu_msg *msg)
{
	const struct vu_mem *m = &msg->p.mem;
	struct guest_mem mem = { 0 };
	int rc = 0;

	if (msg->size < 8 || m->nregions == 0 || m->nregions > GUEST_MEM_MAX_REGIONS ||
	    msg->size < 8 + m->nregions * sizeof(struct vu_region) || msg->nfds != m->nregions)
		return -EPROTO;
	for (unsigned i = 0; i < m->nregions && rc == 0; i++) {
		rc = check_region(&m->regions[i], msg->fds[i]);
		for (unsigned j = 0; j < i && rc == 0; j++)
			if (regions_overlap(&m->regions[i], &m->regions[j]))
				rc = -EINVAL;
		if (rc == 0)
			rc = map_region(&mem.regions[i], &m->regions[i], msg->fds[i]);
		if (rc == 0)
			mem.nregions = i + 1;
	}
	if (rc) {
		log_warn("vhost-user: memory table refused: %s", strerror(-rc));
		unmap_all(&mem);
		return rc;
	}
	/* Nothing may still be reading or writing the old mappings. */
	if (dev->ops->quiesce)
		dev->ops->quiesce(dev->opaque, -1);
	unmap_all(&dev->mem);
	dev->mem = mem;
	for (unsigned i = 0; i < dev->num_queues; i++)
		if (dev->queues[i].addr_set && translate_rings(dev, i))
			virtq_mark_broken(&dev->queues[i].vq, "rings outside the new memory table", i);
	return 0;
}

static int h_set_vring_num(struct vu_dev *dev, struct vu_msg *msg)
{
	int q = queue_index(dev, msg->p.state.index);
	uint32_t num = msg->p.state.num;

	if (q < 0)
		return -EINVAL;
	if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if (dev->queues[q].started)
		return -EBUSY;
	dev->queues[q].vq.num = (uint16_t)num;
	dev->queues[q].addr_set = false;
	dev->queues[q].vq.desc = NULL;
	return 0;
}

static int translate_rings(struct vu_dev *dev, unsigned q)
{
	struct vu_queue *vq = &dev->queues[q];
	uint64_t num = vq->vq.num;
	void *desc, *avail, *used;

	if (num == 0 || vq->desc_uaddr % 16 || vq->avail_uaddr % 2 || vq->used_uaddr % 4)
		return -EINVAL;
	desc = uva_to_hva(&dev->mem, vq->desc_uaddr, 16 * num);
	avail = uva_to_hva(&dev->mem, vq->avail_uaddr, 6 + 2 * num);
	used = uva_to_hva(&dev->mem, vq->used_uaddr, 6 + 8 * num);
	if (!desc || !avail || !used)
		return -EFAULT;
	virtq_setup(&vq->vq, (uint16_t)num, desc, avail, used, vq->vq.last_avail);
	return 0;
}

static int h_set_vring_addr(struct vu_dev *dev, struct vu_msg *msg)
{
	int q = queue_index(dev, msg->p.addr.index);
	struct vu_queue *vq;
	int rc;

	if (q < 0)
		return -EINVAL;
	vq = &dev->queues[q];
	if (vq->started)
		return -EBUSY;
	vq->desc_uaddr = msg->p.addr.desc;
	vq->avail_uaddr = msg->p.addr.avail;
	vq->used_uaddr = msg->p.addr.used;
	rc = translate_rings(dev, (unsigned)q);
	vq->addr_set = rc == 0;
	if (rc)
		log_warn("queue %d: ring addresses refused (misaligned or outside memory)", q);
	return rc;
}

static int h_set_vring_base(struct vu_dev *dev, struct vu_msg *msg)
{
	int q = queue_index(dev, msg->p.state.index);

	if (q < 0 || msg->p.state.num > UINT16_MAX)
		return -EINVAL;
	if (dev->queues[q].started)
		return -EBUSY;
	dev->queues[q].vq.last_avail = (uint16_t)msg->p.state.num;
	return 0;
}

static int h_get_vring_base(struct vu_dev *dev, struct vu_msg *msg)
{
	int q = queue_index(dev, msg->p.state.index);

	if (q < 0)
		return -EPROTO; /* a reply is owed and there is no way to say "no" */
	stop_queue(dev, (unsigned)q);
	msg->p.state.num = dev->queues[q].vq.last_avail;
	msg->reply_size = sizeof(struct vu_state);
	msg->has_reply = true;
	return 0;
}

/* KICK/CALL/ERR: u64 = queue index (bits 0-7) | no-fd flag (bit 8); one fd unless flagged. */
static int vring_fd(struct vu_dev *dev, struct vu_msg *msg, int *q, int *fd)
{
	bool nofd = msg->p.u64 & VU_VRING_NOFD;

	*q = queue_index(dev, msg->p.u64 & 0xff);
	if (*q < 0 || (msg->p.u64 & ~(VU_VRING_NOFD | 0xffull)))
		return -EPROTO;
	if (nofd ? msg->nfds != 0 : msg->nfds != 1)
		return -EPROTO;
	*fd = nofd ? -1 : msg->fds[0];
	if (!nofd)
		msg->fds[0] = -1; /* ownership moves to the queue */
	return 0;
}

static int h_set_vring_kick(struct vu_dev *dev, struct vu_msg *msg)
{
	int q, fd, rc = vring_fd(dev, msg, &q, &fd);
	bool was_started;

	if (rc)
		return rc;
	was_started = dev->queues[q].started;
	set_kick(dev, (unsigned)q, fd);
	if (fd < 0) {
		log_warn("queue %d: polling mode (no kick fd) is not supported", q);
		return -ENOTSUP;
	}
	dev->queues[q].started = true;
	if (!was_started) /* a new kick fd for a running queue changes nothing in flight */
		vu_inflight_start(dev, (unsigned)q);
	return 0;
}

static int h_set_vring_call(struct vu_dev *dev, struct vu_msg *msg)
{
	int q, fd, rc = vring_fd(dev, msg, &q, &fd);

	if (rc)
		return rc;
	close_fd(&dev->queues[q].call_fd);
	dev->queues[q].call_fd = fd;
	return 0;
}

static int h_set_vring_err(struct vu_dev *dev, struct vu_msg *msg)
{
	int q, fd, rc = vring_fd(dev, msg, &q, &fd);

	if (rc)
		return rc;
	close_fd(&dev->queues[q].err_fd);
	dev->queues[q].err_fd = fd;
	return 0;
}

static int h_set_vring_enable(struct vu_dev *dev, struct vu_msg *msg)
{
	int q = queue_index(dev, msg->p.state.index);

	if (q < 0 || msg->p.state.num > 1)
		return -EINVAL;
	dev->queues[q].enabled = msg->p.state.num;
	return 0;
}

static int config_range(const struct vu_msg *msg, uint32_t limit)
{
	const struct vu_config *c = &msg->p.config;

	if (msg->size < VU_CONFIG_HDR || c->size > VU_CONFIG_MAX ||
	    msg->size != VU_CONFIG_HDR + c->size)
		return -EPROTO;
	if (c->offset > limit || c->size > limit - c->offset)
		return -EINVAL;
	return 0;
}

static int h_get_config(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_config *c = &msg->p.config;
	/* Fields past the device's own layout (newer spec versions) read as zero. */
	int rc = config_range(msg, VU_CONFIG_MAX);

	if (rc == -EPROTO)
		return rc;
	msg->has_reply = true;
	if (rc) {
		msg->reply_size = 0; /* the spec's way of saying "error" */
		return 0;
	}
	memset(c->data, 0, c->size);
	if (c->offset < dev->config_len && dev->ops->get_config) {
		uint32_t n = dev->config_len - c->offset;

		dev->ops->get_config(dev->opaque, c->offset, c->data, n < c->size ? n : c->size);
	}
	msg->reply_size = VU_CONFIG_HDR + c->size;
	return 0;
}

static int h_set_config(struct vu_dev *dev, struct vu_msg *msg)
{
	const struct vu_config *c = &msg->p.config;
	int rc = config_range(msg, dev->config_len);

	if (rc == 0)
		rc = dev->ops->set_config ? dev->ops->set_config(dev->opaque, c->offset, c->data,
								   c->size, c->flags)
					  : -EPERM;
	if (rc)
		log_warn("vhost-user: config write of %u bytes at offset %u refused: %s",
			 c->size, c->offset, strerror(-rc));
	return rc;
}

/* ---- dispatch ---- */

#define VAR_SIZE UINT32_MAX

struct vu_handler {
	int (*fn)(struct vu_dev *dev, struct vu_msg *msg);
	uint32_t size;       /* exact payload size, or VAR_SIZE (the handler checks) */
	bool takes_fds;
};

static const struct vu_handler handlers[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = { h_get_features, 0, false },
	[VU_SET_FEATURES] = { h_set_features, sizeof(uint64_t), false },
	[VU_SET_OWNER] = { h_set_owner, 0, false },
	[VU_RESET_OWNER] = { h_reset_owner, 0, false },
	[VU_SET_MEM_TABLE] = { h_set_mem_table, VAR_SIZE, true },
	[VU_SET_VRING_NUM] = { h_set_vring_num, sizeof(struct vu_state), false },
	[VU_SET_VRING_ADDR] = { h_set_vring_addr, sizeof(struct vu_addr), false },
	[VU_SET_VRING_BASE] = { h_set_vring_base, sizeof(struct vu_state), false },
	[VU_GET_VRING_BASE] = { h_get_vring_base, sizeof(struct vu_state), false },
	[VU_SET_VRING_KICK] = { h_set_vring_kick, sizeof(uint64_t), true },
	[VU_SET_VRING_CALL] = { h_set_vring_call, sizeof(uint64_t), true },
	[VU_SET_VRING_ERR] = { h_set_vring_err, sizeof(uint64_t), true },
	[VU_GET_PROTOCOL_FEATURES] = { h_get_protocol_features, 0, false },
	[VU_SET_PROTOCOL_FEATURES] = { h_set_protocol_features, sizeof(uint64_t), false },
	[VU_GET_QUEUE_NUM] = { h_get_queue_num, 0, false },
	[VU_SET_VRING_ENABLE] = { h_set_vring_enable, sizeof(struct vu_state), false },
	[VU_GET_CONFIG] = { h_get_config, VAR_SIZE, false },
	[VU_SET_CONFIG] = { h_set_config, VAR_SIZE, false },
	[VU_GET_INFLIGHT_FD] = { vu_get_inflight_fd, sizeof(struct vu_inflight), false },
	[VU_SET_INFLIGHT_FD] = { vu_set_inflight_fd, sizeof(struct vu_inflight), true },
};

static int run_handler(struct vu_dev *dev, struct vu_msg *msg)
{
	const struct vu_handler *h = msg->request < VU_REQUEST_MAX ? &handlers[msg->request] : NULL;
	const char *name = vu_request_name(msg->request);

	if (!h || !h->fn) {
		log_warn("vhost-user: unsupported request %u (%s) ignored", msg->request, name);
		return -ENOSYS;
	}
	if ((h->size != VAR_SIZE && msg->size != h->size) || (!h->takes_fds && msg->nfds)) {
		log_error("vhost-user: malformed %s: payload %u bytes, %u fds", name, msg->size,
			  msg->nfds);
		return -EPROTO;
	}
	return h->fn(dev, msg);
}

static int answer(struct vu_dev *dev, struct vu_msg *msg, int rc)
{
	bool ack = (dev->protocol_acked & (1ull << VU_PROTOCOL_F_REPLY_ACK)) &&
		   (msg->flags & VU_FLAG_NEED_REPLY);

	if (msg->has_reply)
		return send_reply(dev, msg, &msg->p, msg->reply_size);
	if (ack) {
		uint64_t status = rc ? 1 : 0;

		return send_reply(dev, msg, &status, sizeof(status));
	}
	if (rc)
		log_warn("vhost-user: %s failed: %s", vu_request_name(msg->request), strerror(-rc));
	return 0;
}

int vu_dispatch(struct vu_dev *dev)
{
	struct vu_msg msg = { .nfds = 0, .reply_fd = -1 };
	int rc;

	if (dev->broken)
		return -EPROTO;
	rc = recv_msg(dev, &msg);
	if (rc == 0) {
		rc = run_handler(dev, &msg);
		if (rc != -EPROTO) {
			int src = answer(dev, &msg, rc);

			rc = src ? src : 0;
		}
	}
	for (unsigned i = 0; i < msg.nfds; i++)
		if (msg.fds[i] >= 0)
			close(msg.fds[i]);
	if (msg.reply_fd >= 0)
		close(msg.reply_fd);
	if (rc == -EPROTO && !dev->broken) {
		dev->broken = true;
		log_error("vhost-user: connection broken by a malformed %s message",
			  vu_request_name(msg.request));
	}
	return rc;
}

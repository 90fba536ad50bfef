/* vhost_user.c: vhost-user frontend messages over a Unix socket, with fds passed by SCM_RIGHTS. */
#include "vhost_user.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"

#define VHU_VERSION     0x1
#define VHU_FLAG_REPLY  (1U << 2)
#define VHU_FLAG_NEED_REPLY (1U << 3)
#define VHU_REPLY_TIMEOUT_MS 5000
#define VHU_VRING_NOFD  (1ULL << 8)

struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vhu_vring_state { uint32_t index, num; } __attribute__((packed));
struct vhu_vring_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
} __attribute__((packed));
struct vhu_region { uint64_t gpa, size, uaddr, mmap_offset; } __attribute__((packed));
struct vhu_memory {
	uint32_t nregions, padding;
	struct vhu_region regions[VHU_MAX_REGIONS];
} __attribute__((packed));
struct vhu_config {
	uint32_t offset, size, flags;
	uint8_t payload[VHU_CONFIG_MAX];
} __attribute__((packed));

/* Not packed: QEMU's VhostUserInflight, 4 bytes of padding at the end. */
struct vhu_inflight_msg { uint64_t mmap_size, mmap_offset; uint16_t num_queues, queue_size; };

_Static_assert(sizeof(struct vhu_hdr) == 12, "vhost-user header is 12 bytes");
_Static_assert(sizeof(struct vhu_inflight_msg) == 24, "inflight description is 24 bytes");
_Static_assert(sizeof(struct vhu_vring_addr) == 40, "vring address payload is 40 bytes");

static int send_msg(struct vhost_user *v, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size, const int *fds, int nfds)
{
	struct vhu_hdr h = { req, VHU_VERSION | flags, size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, size } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_REGIONS)];
		struct cmsghdr align;
	} c;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (nfds > 0) {
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	ssize_t n = sendmsg(v->fd, &m, MSG_NOSIGNAL);
	return n == (ssize_t)(sizeof(h) + size) ? 0 : -(n < 0 ? errno : EPIPE);
}

static int read_full(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		if (poll(&p, 1, VHU_REPLY_TIMEOUT_MS) != 1)
			return -ETIMEDOUT;
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		got += (size_t)n;
	}
	return 0;
}

/* Reads a reply to req of exactly size bytes (the backend is not trusted: checked). */
static int recv_reply(struct vhost_user *v, uint32_t req, void *payload, uint32_t size)
{
	struct vhu_hdr h;
	int rc = read_full(v->fd, &h, sizeof(h));

	if (rc == 0 && (h.request != req || !(h.flags & VHU_FLAG_REPLY) || h.size != size))
		rc = -EPROTO;
	if (rc == 0)
		rc = read_full(v->fd, payload, size);
	if (rc < 0)
		log_error("%s: vhost-user reply to request %u: %s", v->name, req, strerror(-rc));
	return rc;
}

/* Sends a request; with REPLY_ACK negotiated, waits for the backend's status. */
static int request(struct vhost_user *v, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, int nfds)
{
	bool ack = v->protocol_features & VHU_PF_REPLY_ACK;
	uint64_t status = 0;
	int rc = send_msg(v, req, ack ? VHU_FLAG_NEED_REPLY : 0, payload, size, fds, nfds);

	if (rc == 0 && ack)
		rc = recv_reply(v, req, &status, sizeof(status));
	if (rc == 0 && status != 0)
		rc = -EIO;
	if (rc < 0)
		log_error("%s: vhost-user request %u failed: %s", v->name, req, strerror(-rc));
	return rc;
}

static int get_u64(struct vhost_user *v, uint32_t req, uint64_t *out)
{
	int rc = send_msg(v, req, 0, NULL, 0, NULL, 0);

	return rc ? rc : recv_reply(v, req, out, sizeof(*out));
}

static int set_u64(struct vhost_user *v, uint32_t req, uint64_t val, const int *fds, int nfds)
{
	return request(v, req, &val, sizeof(val), fds, nfds);
}

static int negotiate(struct vhost_user *v)
{
	const uint64_t wanted = VHU_PF_MQ | VHU_PF_REPLY_ACK | VHU_PF_CONFIG | VHU_PF_INFLIGHT_SHMFD;
	uint64_t pf = 0, nq = 1;
	int rc = get_u64(v, VHU_GET_FEATURES, &v->features);

	if (rc == 0 && (v->features & VHU_F_PROTOCOL_FEATURES)) {
		rc = get_u64(v, VHU_GET_PROTOCOL_FEATURES, &pf);
		if (rc == 0)
			rc = set_u64(v, VHU_SET_PROTOCOL_FEATURES, pf & wanted, NULL, 0);
		if (rc == 0)
			v->protocol_features = pf & wanted; /* REPLY_ACK applies from here on */
		if (rc == 0 && (pf & VHU_PF_MQ))
			rc = get_u64(v, VHU_GET_QUEUE_NUM, &nq);
	}
	if (rc == 0)
		rc = request(v, VHU_SET_OWNER, NULL, 0, NULL, 0);
	/* DPDK answers VHOST_MAX_QUEUE_PAIRS (128): more than cellvm uses is as good as 64 */
	v->max_queues = nq == 0 ? 1 : nq > 64 ? 64 : (unsigned int)nq;
	return rc;
}

/* Connects or adopts fd, then negotiates; quiet: no log line when nobody listens at path. */
static int attach(struct vhost_user *v, const char *path, int fd, bool quiet)
{
	int rc;

	v->protocol_features = 0;
	v->fd = fd >= 0 ? fd : broker_connect(path);
	if (v->fd < 0) {
		rc = v->fd;
		v->fd = -1;
		if (!quiet)
			log_error("%s: cannot connect to vhost-user socket %s: %s", v->name, path,
				  strerror(-rc));
		return rc;
	}
	rc = negotiate(v);
	if (rc < 0)
		vhu_close(v);
	return rc;
}

int vhu_connect(struct vhost_user *v, const char *path, int fd)
{
	return attach(v, path, fd, false);
}

int vhu_reconnect(struct vhost_user *v, const char *path)
{
	return attach(v, path, -1, true);
}

void vhu_close(struct vhost_user *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

void vhu_drop_inflight(struct vhost_user *v)
{
	if (v->inflight.size && v->inflight.fd >= 0)
		close(v->inflight.fd);
	v->inflight = (struct vhu_inflight){ .fd = -1 };
}

/* A reply header with at most one fd in its ancillary data (*fd -1 when none). */
static int recv_header_fd(struct vhost_user *v, struct vhu_hdr *h, int *fd)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
	struct iovec iov = { h, sizeof(*h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct pollfd p = { .fd = v->fd, .events = POLLIN };
	ssize_t n;

	*fd = -1;
	if (poll(&p, 1, VHU_REPLY_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	n = recvmsg(v->fd, &m, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		/* The first fd is kept; any more (two fit in the buffer) are closed, not leaked. */
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int x;

			memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = x;
			else
				close(x);
		}
	}
	if (m.msg_flags & MSG_CTRUNC)
		return -EPROTO; /* more fds than one: the kernel dropped the rest */
	return (size_t)n < sizeof(*h) ? read_full(v->fd, (char *)h + n, sizeof(*h) - (size_t)n) : 0;
}

int vhu_get_inflight(struct vhost_user *v, uint16_t nq, uint16_t qsize)
{
	struct vhu_inflight_msg in = { .num_queues = nq, .queue_size = qsize }, r = { 0 };
	struct vhu_hdr h;
	int fd = -1, rc = send_msg(v, VHU_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);

	if (rc == 0)
		rc = recv_header_fd(v, &h, &fd);
	if (rc == 0 && (h.request != VHU_GET_INFLIGHT_FD || !(h.flags & VHU_FLAG_REPLY) ||
			h.size != sizeof(r)))
		rc = -EPROTO;
	if (rc == 0)
		rc = read_full(v->fd, &r, sizeof(r));
	if (rc == 0 && (r.mmap_size == 0 || fd < 0))
		rc = -ENOTSUP; /* the spec's "no region" */
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		if (rc == -ENOTSUP)
			log_info("%s: the backend keeps no inflight region", v->name);
		else
			log_error("%s: vhost-user GET_INFLIGHT_FD: %s", v->name, strerror(-rc));
		return rc;
	}
	vhu_drop_inflight(v);
	v->inflight = (struct vhu_inflight){ .fd = fd, .size = r.mmap_size, .offset = r.mmap_offset,
					     .num_queues = nq, .queue_size = qsize };
	return 0;
}

int vhu_set_inflight(struct vhost_user *v)
{
	struct vhu_inflight_msg in = { v->inflight.size, v->inflight.offset, v->inflight.num_queues,
				       v->inflight.queue_size };

	return request(v, VHU_SET_INFLIGHT_FD, &in, sizeof(in), &v->inflight.fd, 1);
}

int vhu_set_features(struct vhost_user *v, uint64_t features)
{
	return set_u64(v, VHU_SET_FEATURES, features | (v->features & VHU_F_PROTOCOL_FEATURES),
		       NULL, 0);
}

int vhu_set_mem_table(struct vhost_user *v, const struct guest_mem *mem)
{
	struct vhu_memory m = { .nregions = mem->nr_regions };
	int fds[VHU_MAX_REGIONS];

	for (unsigned int i = 0; i < mem->nr_regions && i < VHU_MAX_REGIONS; i++) {
		const struct guest_region *r = &mem->regions[i];
		m.regions[i] = (struct vhu_region){ r->gpa, r->size, (uint64_t)(uintptr_t)r->hva,
						    r->fd_offset };
		fds[i] = mem->fd;
	}
	return request(v, VHU_SET_MEM_TABLE, &m, (uint32_t)(8 + m.nregions * sizeof(m.regions[0])),
		       fds, (int)m.nregions);
}

int vhu_set_vring(struct vhost_user *v, unsigned int index, unsigned int num, uint64_t desc,
		  uint64_t avail, uint64_t used, uint16_t base_idx, int kick_fd, int call_fd)
{
	struct vhu_vring_state s = { index, num }, base = { index, base_idx };
	struct vhu_vring_addr a = { .index = index, .desc = desc, .used = used, .avail = avail };
	int rc = request(v, VHU_SET_VRING_NUM, &s, sizeof(s), NULL, 0);

	if (rc == 0)
		rc = request(v, VHU_SET_VRING_BASE, &base, sizeof(base), NULL, 0);
	if (rc == 0)
		rc = request(v, VHU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (rc == 0)
		rc = set_u64(v, VHU_SET_VRING_CALL, index, &call_fd, 1);
	if (rc == 0)
		rc = set_u64(v, VHU_SET_VRING_KICK, index, &kick_fd, 1);
	return rc;
}

int vhu_enable_vring(struct vhost_user *v, unsigned int index, bool on)
{
	struct vhu_vring_state s = { index, on };

	if (!(v->features & VHU_F_PROTOCOL_FEATURES))
		return 0; /* rings start enabled when the kick fd arrives */
	return request(v, VHU_SET_VRING_ENABLE, &s, sizeof(s), NULL, 0);
}

int vhu_get_vring_base(struct vhost_user *v, unsigned int index)
{
	struct vhu_vring_state s = { index, 0 }, r;
	int rc = send_msg(v, VHU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);

	if (rc == 0)
		rc = recv_reply(v, VHU_GET_VRING_BASE, &r, sizeof(r));
	return rc < 0 ? rc : (int)(r.num & 0xffff);
}

int vhu_get_config(struct vhost_user *v, uint32_t size, uint8_t *out)
{
	struct vhu_config c = { .offset = 0, .size = size }, r;
	uint32_t len = (uint32_t)offsetof(struct vhu_config, payload) + size;
	int rc;

	if (size > VHU_CONFIG_MAX || !(v->protocol_features & VHU_PF_CONFIG))
		return -ENOTSUP;
	rc = send_msg(v, VHU_GET_CONFIG, 0, &c, len, NULL, 0);
	if (rc == 0)
		rc = recv_reply(v, VHU_GET_CONFIG, &r, len);
	if (rc == 0)
		memcpy(out, r.payload, size);
	return rc;
}

/* ---- struct vhost_ops ---- */

static int o_features(void *b, uint64_t f) { return vhu_set_features(b, f); }
static int o_mem(void *b, const struct guest_mem *m) { return vhu_set_mem_table(b, m); }
static int o_enable(void *b, unsigned int i, bool on) { return vhu_enable_vring(b, i, on); }
static int o_start(void *b) { return 0; }
static int o_base(void *b, unsigned int i) { return vhu_get_vring_base(b, i); }

/* Fresh rings get a fresh region; resumed rings the kept one, or none (untracked, as a
 * backend without the feature: what was popped and not completed is popped again). */
static int o_inflight(void *b, unsigned int nq, uint16_t qsize, bool fresh)
{
	struct vhost_user *v = b;
	int rc = 0;

	if (!(v->protocol_features & VHU_PF_INFLIGHT_SHMFD))
		return 0;
	if (fresh)
		rc = vhu_get_inflight(v, (uint16_t)nq, qsize);
	if (rc == -ENOTSUP)
		return 0;
	if (rc == 0 && !fresh && v->inflight.size)
		log_info("%s: the inflight region goes to the new backend (requests in flight are "
			 "resubmitted)", v->name);
	return rc ? rc : v->inflight.size ? vhu_set_inflight(v) : 0;
}

static int o_vring(void *b, unsigned int i, unsigned int num, uint64_t desc, uint64_t avail,
		   uint64_t used, uint16_t base, int kick, int call)
{
	return vhu_set_vring(b, i, num, desc, avail, used, base, kick, call);
}

const struct vhost_ops vhu_ops = {
	.kind = "vhost-user", .set_features = o_features, .set_mem_table = o_mem,
	.set_inflight = o_inflight,
	.set_vring = o_vring, .enable_vring = o_enable, .start = o_start, .get_vring_base = o_base,
};

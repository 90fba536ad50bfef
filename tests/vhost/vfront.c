/* vfront.c: test vhost-user frontend and virtio-blk driver, written from the specs. */
#define _GNU_SOURCE
#include "vfront.h"
#include "../../devices/lib/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { GET_FEATURES = 1, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 5, SET_VRING_NUM = 8,
       SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL,
       GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
       SET_VRING_ENABLE, GET_CONFIG = 24, GET_INFLIGHT_FD = 31, SET_INFLIGHT_FD };
#define F_PROTOCOL_FEATURES 30
#define F_EVENT_IDX 29
#define F_INDIRECT 28
#define F_VERSION_1 32
#define PF_MQ 0
#define PF_REPLY_ACK 3
#define PF_CONFIG 9
#define PF_INFLIGHT 12
#define NEED_REPLY (1u << 3)
#define RING_SPAN 0x10000

void *vf_ptr(struct vf *f, uint64_t gpa)
{
	if (gpa >= VF_R1_GPA)
		return f->mem + VF_R_SIZE + (gpa - VF_R1_GPA);
	return f->mem + gpa;
}

uint64_t vf_alloc(struct vf *f, uint64_t len)
{
	uint64_t at = f->bump;

	f->bump += (len + 4095) & ~4095ull;
	if (f->bump > VF_R1_GPA + VF_R_SIZE)
		f->bump = VF_R1_GPA, at = f->bump, f->bump += (len + 4095) & ~4095ull;
	return at;
}

static int connect_sock(struct vf *f, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	for (int i = 0; i < 100; i++) {
		if (connect(f->sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		usleep(50 * 1000);
	}
	return -errno;
}

int vf_connect(struct vf *f, const char *path)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->ifl_fd = -1;
	if ((rc = connect_sock(f, path)))
		return rc;
	f->memfd = memfd_create("vfront-guest", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, (off_t)VF_MEM_SIZE) < 0)
		return -errno;
	f->mem = mmap(NULL, VF_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED)
		return -errno;
	f->bump = VF_R1_GPA;
	return 0;
}

int vf_send_raw(struct vf *f, const void *buf, size_t len)
{
	return send(f->sock, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

static int send_msg(struct vf *f, const uint32_t hdr[3], const void *p, const int *fds,
		    unsigned nfds)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))] = { 0 };
	struct iovec iov[2] = { { (void *)hdr, 12 }, { (void *)p, hdr[2] } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = hdr[2] ? 2 : 1 };

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(f->sock, &mh, MSG_NOSIGNAL) == (ssize_t)(12 + hdr[2]) ? 0 : -EIO;
}

static int recv_reply(struct vf *f, uint32_t req, void *reply, uint32_t size)
{
	uint32_t hdr[3];

	if (recv(f->sock, hdr, 12, MSG_WAITALL) != 12)
		return -ECONNRESET;
	if (hdr[0] != req || !(hdr[1] & 4) || hdr[2] > size)
		return -EPROTO;
	if (hdr[2] && recv(f->sock, reply, hdr[2], MSG_WAITALL) != (ssize_t)hdr[2])
		return -ECONNRESET;
	return (int)hdr[2];
}

/* Sends one message; reads its reply, or the REPLY_ACK when negotiated. Returns the reply
 * size, 0, or -errno (-EREMOTEIO when the backend nacked). */
int vf_msg(struct vf *f, uint32_t req, const void *p, uint32_t size, const int *fds,
	   unsigned nfds, void *reply, uint32_t reply_size)
{
	bool ack = !reply && (f->protocol & (1ull << PF_REPLY_ACK));
	uint32_t hdr[3] = { req, 1u | (ack ? NEED_REPLY : 0), size };
	uint64_t status;
	int rc = send_msg(f, hdr, p, fds, nfds);

	if (rc)
		return rc;
	if (reply)
		return recv_reply(f, req, reply, reply_size);
	if (!ack)
		return 0;
	rc = recv_reply(f, req, &status, sizeof(status));
	if (rc < 0)
		return rc;
	return rc == 8 && status == 0 ? 0 : -EREMOTEIO;
}

static int negotiate(struct vf *f)
{
	uint64_t feat, want, pf;
	int rc;

	if ((rc = vf_msg(f, SET_OWNER, NULL, 0, NULL, 0, NULL, 0)) < 0 ||
	    (rc = vf_msg(f, GET_FEATURES, NULL, 0, NULL, 0, &feat, 8)) != 8)
		return rc < 0 ? rc : -EPROTO;
	if (!(feat & (1ull << F_PROTOCOL_FEATURES)) || !(feat & (1ull << F_VERSION_1)))
		return -ENOTSUP;
	if ((rc = vf_msg(f, GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &pf, 8)) != 8)
		return rc < 0 ? rc : -EPROTO;
	pf &= (1ull << PF_MQ) | (1ull << PF_REPLY_ACK) | (1ull << PF_CONFIG) |
	      (f->inflight ? 1ull << PF_INFLIGHT : 0);
	if ((rc = vf_msg(f, SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0, NULL, 0)) < 0)
		return rc;
	f->protocol = pf;
	/* The driver's view: everything this harness understands, if offered. */
	want = (1ull << F_VERSION_1) | (1ull << F_EVENT_IDX) | (1ull << F_INDIRECT) |
	       (1ull << F_PROTOCOL_FEATURES) | (1ull << 1) | (1ull << 2) | (1ull << 5) |
	       (1ull << 6) | (1ull << 9) | (1ull << 12) | (1ull << 13) | (1ull << 14);
	if (f->want)
		want = f->want;
	f->features = feat & want;
	return vf_msg(f, SET_FEATURES, &f->features, 8, NULL, 0, NULL, 0);
}

static int read_config(struct vf *f)
{
	struct { uint32_t off, size, flags; uint8_t data[60]; } c = { 0, 60, 0, { 0 } };
	int rc = vf_msg(f, GET_CONFIG, &c, sizeof(c), NULL, 0, &c, sizeof(c));

	if (rc != (int)sizeof(c))
		return rc < 0 ? rc : -EPROTO;
	memcpy(f->cfg, c.data, 60);
	memcpy(&f->capacity, c.data, 8);
	memcpy(&f->size_max, c.data + 8, 4);
	memcpy(&f->seg_max, c.data + 12, 4);
	memcpy(&f->cfg_num_queues, c.data + 34, 2);
	return 0;
}

static int send_mem_table(struct vf *f)
{
	struct { uint32_t n, pad; uint64_t r[2][4]; } m = {
		2, 0, { { VF_R0_GPA, VF_R_SIZE, (uint64_t)f->mem, 0 },
			{ VF_R1_GPA, VF_R_SIZE, (uint64_t)(f->mem + VF_R_SIZE), VF_R_SIZE } } };
	int fds[2] = { f->memfd, f->memfd };

	return vf_msg(f, SET_MEM_TABLE, &m, sizeof(m), fds, 2, NULL, 0);
}

static void init_queue(struct vf *f, unsigned i, uint16_t qsize)
{
	struct vf_queue *q = &f->q[i];

	q->num = qsize;
	q->desc_gpa = RING_SPAN * (i + 1);
	q->avail_gpa = q->desc_gpa + 16 * 1024;
	q->used_gpa = q->desc_gpa + 32 * 1024;
	memset(vf_ptr(f, q->desc_gpa), 0, RING_SPAN);
	q->desc = vf_ptr(f, q->desc_gpa);
	q->avail = vf_ptr(f, q->avail_gpa);
	q->used = vf_ptr(f, q->used_gpa);
	q->kick = eventfd(0, EFD_CLOEXEC);
	q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* The ring's messages; a resumed ring starts at its used idx (what the old backend popped
 * and never completed is popped again, unless the inflight region says otherwise). */
static int setup_queue(struct vf *f, unsigned i, bool resume)
{
	struct vf_queue *q = &f->q[i];
	struct { uint32_t index, flags; uint64_t desc, used, avail, log; } a;
	uint32_t st[2] = { i, q->num };
	uint64_t u = i;
	int rc;

	a = (typeof(a)){ i, 0, (uint64_t)q->desc, (uint64_t)q->used, (uint64_t)q->avail, 0 };
	if ((rc = vf_msg(f, SET_VRING_NUM, st, 8, NULL, 0, NULL, 0)) < 0)
		return rc;
	st[1] = resume ? __atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE) : 0;
	if ((rc = vf_msg(f, SET_VRING_BASE, st, 8, NULL, 0, NULL, 0)) < 0 ||
	    (rc = vf_msg(f, SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0)) < 0 ||
	    (rc = vf_msg(f, SET_VRING_KICK, &u, 8, &q->kick, 1, NULL, 0)) < 0 ||
	    (rc = vf_msg(f, SET_VRING_CALL, &u, 8, &q->call, 1, NULL, 0)) < 0)
		return rc;
	st[1] = 1;
	return vf_msg(f, SET_VRING_ENABLE, st, 8, NULL, 0, NULL, 0);
}

/* Negotiation, queue count, config space, memory table. */
static int handshake(struct vf *f, unsigned nq)
{
	uint64_t qn = 1;
	int rc = negotiate(f);

	if (rc)
		return rc;
	if ((f->protocol & (1ull << PF_MQ)) &&
	    vf_msg(f, GET_QUEUE_NUM, NULL, 0, NULL, 0, &qn, 8) != 8)
		return -EPROTO;
	if (nq > qn || nq > VF_MAX_QUEUES)
		return -ENOTSUP;
	if ((f->protocol & (1ull << PF_CONFIG)) && (rc = read_config(f)))
		return rc;
	return send_mem_table(f);
}

int vf_start(struct vf *f, unsigned nq, uint16_t qsize)
{
	uint16_t isize = f->ifl_qsize ? f->ifl_qsize : qsize;
	int rc = handshake(f, nq);

	if (rc)
		return rc;
	if (f->inflight && !(f->protocol & (1ull << PF_INFLIGHT))) {
		if (!f->inflight_if_offered)
			return -ENOTSUP;
		f->inflight = false;
	}
	if (f->inflight && nq && ((rc = vf_get_inflight(f, (uint16_t)nq, isize)) ||
			    (rc = vf_set_inflight(f, f->ifl_fd, f->ifl_size, (uint16_t)nq, isize))))
		return rc;
	if (f->ifl_hook)
		f->ifl_hook(f);
	f->nq = nq;
	for (unsigned i = 0; i < nq; i++) {
		init_queue(f, i, qsize);
		if ((rc = setup_queue(f, i, false)))
			return rc;
	}
	return 0;
}

int vf_resume(struct vf *f, const char *path)
{
	uint16_t isize = f->ifl_qsize ? f->ifl_qsize : f->q[0].num;
	int rc;

	close(f->sock);
	f->protocol = 0; /* REPLY_ACK is the new backend's to negotiate */
	if ((rc = connect_sock(f, path)) || (rc = handshake(f, f->nq)))
		return rc;
	if (f->ifl_fd >= 0 &&
	    (rc = vf_set_inflight(f, f->ifl_fd, f->ifl_size, (uint16_t)f->nq, isize)))
		return rc;
	for (unsigned i = 0; i < f->nq; i++)
		if ((rc = setup_queue(f, i, true)))
			return rc;
	return 0;
}

struct vf_inflight { uint64_t mmap_size, mmap_offset; uint16_t num_queues, queue_size; };

/* The reply of GET_INFLIGHT_FD carries an fd: read with recvmsg. */
static int recv_fd_reply(struct vf *f, struct vf_inflight *in, int *fd)
{
	uint32_t hdr[3];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { in, sizeof(*in) } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	*fd = -1;
	if (recvmsg(f->sock, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != 12 + (ssize_t)sizeof(*in))
		return -ECONNRESET;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (hdr[0] != GET_INFLIGHT_FD || !(hdr[1] & 4) || hdr[2] != sizeof(*in))
		return -EPROTO;
	return 0;
}

int vf_get_inflight(struct vf *f, uint16_t nq, uint16_t qsize)
{
	struct vf_inflight in = { .num_queues = nq, .queue_size = qsize };
	uint32_t hdr[3] = { GET_INFLIGHT_FD, 1, sizeof(in) };
	int fd, rc = send_msg(f, hdr, &in, NULL, 0);

	if (rc || (rc = recv_fd_reply(f, &in, &fd)))
		return rc;
	if (in.mmap_size == 0 || fd < 0)
		return fd >= 0 ? close(fd), -EPROTO : -ENOENT;
	f->ifl = mmap(NULL, in.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f->ifl == MAP_FAILED)
		return -errno;
	f->ifl_fd = fd;
	f->ifl_size = in.mmap_size;
	return 0;
}

int vf_set_inflight(struct vf *f, int fd, uint64_t mmap_size, uint16_t nq, uint16_t qsize)
{
	struct vf_inflight in = { .mmap_size = mmap_size, .num_queues = nq, .queue_size = qsize };

	return vf_msg(f, SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1, NULL, 0);
}

void vf_post_head(struct vf *f, unsigned qi, uint16_t head)
{
	struct vf_queue *q = &f->q[qi];

	q->avail[2 + (q->avail_idx % q->num)] = head;
	q->avail[2 + q->num] = q->last_used; /* used_event: interrupt me for the next one */
	q->avail_idx++;
	__atomic_store_n(&q->avail[1], q->avail_idx, __ATOMIC_RELEASE);
}

void vf_kick(struct vf *f, unsigned qi)
{
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(f->q[qi].kick, &one, 8) != 8)
		perror("kick");
}

int vf_post(struct vf *f, unsigned qi, const struct vf_buf *b, unsigned n, bool indirect)
{
	struct vf_queue *q = &f->q[qi];
	uint16_t head = q->next_desc;
	struct vf_desc *table = q->desc;
	uint16_t base = head;

	if (indirect) {
		uint64_t t = vf_alloc(f, n * sizeof(struct vf_desc));

		table = vf_ptr(f, t);
		base = 0;
		q->desc[head] = (struct vf_desc){ t, n * sizeof(struct vf_desc), VF_DESC_INDIRECT, 0 };
		q->next_desc = (uint16_t)((head + 1) % q->num);
	} else {
		q->next_desc = (uint16_t)((head + n) % q->num);
	}
	for (unsigned i = 0; i < n; i++) {
		uint16_t at = indirect ? (uint16_t)i : (uint16_t)((base + i) % q->num);
		uint16_t next = indirect ? (uint16_t)(i + 1) : (uint16_t)((base + i + 1) % q->num);

		table[at] = (struct vf_desc){ b[i].gpa, b[i].len,
					      (uint16_t)((b[i].write ? VF_DESC_WRITE : 0) |
							 (i + 1 < n ? VF_DESC_NEXT : 0)),
					      i + 1 < n ? next : 0 };
	}
	vf_post_head(f, qi, head);
	return head;
}

int vf_wait_used(struct vf *f, unsigned qi, int timeout_ms, uint32_t *id, uint32_t *len)
{
	struct vf_queue *q = &f->q[qi];
	struct pollfd p = { .fd = q->call, .events = POLLIN };
	uint64_t v;

	for (;;) {
		uint16_t idx = __atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE);

		if (idx != q->last_used) {
			uint8_t *e = q->used + 4 + (size_t)(q->last_used % q->num) * 8;

			memcpy(id, e, 4);
			memcpy(len, e + 4, 4);
			q->last_used++;
			q->avail[2 + q->num] = q->last_used;
			return 0;
		}
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		if (read(q->call, &v, 8) < 0 && errno != EAGAIN)
			return -errno;
	}
}

int vf_blk_post(struct vf *f, unsigned q, uint32_t type, uint64_t sector, uint64_t data_gpa,
		uint32_t len, unsigned nseg, bool indirect, uint64_t *status_gpa)
{
	struct vf_buf b[260];
	uint64_t hdr = vf_alloc(f, 16 + 1);
	struct virtio_blk_hdr h = { .type = type, .sector = sector };
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	unsigned n = 0;

	if (nseg > 256)
		return -EINVAL;
	memcpy(vf_ptr(f, hdr), &h, 16);
	*status_gpa = hdr + 16;
	*(uint8_t *)vf_ptr(f, *status_gpa) = 0xff;
	b[n++] = (struct vf_buf){ hdr, 16, false };
	for (unsigned i = 0; len && i < nseg; i++) {
		uint32_t seg = len / nseg;

		b[n++] = (struct vf_buf){ data_gpa + (uint64_t)i * seg,
					  i + 1 == nseg ? len - seg * i : seg, dev_writes };
	}
	b[n++] = (struct vf_buf){ *status_gpa, 1, true };
	return vf_post(f, q, b, n, indirect);
}

int vf_blk(struct vf *f, unsigned q, uint32_t type, uint64_t sector, uint64_t data_gpa,
	   uint32_t len, unsigned nseg, bool indirect)
{
	uint64_t st;
	uint32_t id, ulen;
	int rc = vf_blk_post(f, q, type, sector, data_gpa, len, nseg, indirect, &st);

	if (rc < 0)
		return rc;
	vf_kick(f, q);
	rc = vf_wait_used(f, q, 5000, &id, &ulen);
	if (rc)
		return rc;
	return *(volatile uint8_t *)vf_ptr(f, st);
}

int vf_file_has(const char *path, uint64_t off, const void *want, uint32_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(path, O_RDONLY), ok;

	ok = fd >= 0 && buf && pread(fd, buf, len, (off_t)off) == (ssize_t)len &&
	     memcmp(buf, want, len) == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/* vnet.c: virtio-net driver helpers over the test frontend, and an AF_PACKET peer on the tap. */
#define _GNU_SOURCE
#include "vnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define F_VERSION_1 32
#define F_EVENT_IDX 29
#define F_INDIRECT 28
#define F_PROTOCOL_FEATURES 30

bool vn_has(const struct vn *n, unsigned bit)
{
	return n->f.features & (1ull << bit);
}

int vn_start(struct vn *n, const char *sock, uint64_t features, unsigned pairs, uint16_t qsize)
{
	int rc;

	memset(n, 0, sizeof(*n));
	rc = vf_connect(&n->f, sock);
	if (rc)
		return rc;
	n->f.want = features | (1ull << F_VERSION_1) | (1ull << F_EVENT_IDX) |
		    (1ull << F_INDIRECT) | (1ull << F_PROTOCOL_FEATURES);
	rc = vf_start(&n->f, 2 * pairs, qsize);
	if (rc)
		return rc;
	n->pairs = pairs;
	memcpy(n->mac, n->f.cfg, 6);
	memcpy(&n->status, n->f.cfg + 6, 2);
	memcpy(&n->max_pairs, n->f.cfg + 8, 2);
	return 0;
}

int vn_tx_post(struct vn *n, unsigned pair, const struct vn_hdr *h, const void *frame,
	       size_t len, unsigned nseg, bool indirect)
{
	struct vf_buf b[64];
	uint64_t at = vf_alloc(&n->f, VN_HDR_LEN + len);
	uint8_t *p = vf_ptr(&n->f, at);
	unsigned nb = 0;

	if (nseg >= 63)
		return -EINVAL;
	memcpy(p, h, VN_HDR_LEN);
	memcpy(p + VN_HDR_LEN, frame, len);
	if (nseg == 0) {
		b[nb++] = (struct vf_buf){ at, (uint32_t)(VN_HDR_LEN + len), false };
	} else {
		size_t seg = len / nseg, off = 0;

		b[nb++] = (struct vf_buf){ at, VN_HDR_LEN, false };
		for (unsigned i = 0; i < nseg; i++, off += seg)
			b[nb++] = (struct vf_buf){ at + VN_HDR_LEN + off,
						   (uint32_t)(i + 1 == nseg ? len - off : seg), false };
	}
	return vf_post(&n->f, 2 * pair + 1, b, nb, indirect);
}

int vn_tx(struct vn *n, unsigned pair, const struct vn_hdr *h, const void *frame, size_t len,
	  unsigned nseg, bool indirect)
{
	uint32_t id, ulen;
	int head = vn_tx_post(n, pair, h, frame, len, nseg, indirect);

	if (head < 0)
		return head;
	vf_kick(&n->f, 2 * pair + 1);
	if (vf_wait_used(&n->f, 2 * pair + 1, 3000, &id, &ulen))
		return -ETIMEDOUT;
	return id == (uint32_t)head ? 0 : -EPROTO;
}

int vn_rx_post(struct vn *n, unsigned pair, unsigned count, uint32_t size, unsigned ndesc)
{
	struct vf_buf b[16];

	if (ndesc == 0 || ndesc > 16 || (ndesc > 1 && size <= VN_HDR_LEN + ndesc))
		return -EINVAL;
	for (unsigned c = 0; c < count; c++) {
		uint64_t at = vf_alloc(&n->f, size);
		uint32_t first = ndesc > 1 ? VN_HDR_LEN : size;
		uint32_t rest = size - first, off = first;

		memset(vf_ptr(&n->f, at), 0xee, size);
		b[0] = (struct vf_buf){ at, first, true };
		for (unsigned i = 1; i < ndesc; i++) {
			uint32_t l = i + 1 == ndesc ? size - off : rest / (ndesc - 1);

			b[i] = (struct vf_buf){ at + off, l, true };
			off += l;
		}
		vf_post(&n->f, 2 * pair, b, ndesc, false);
	}
	vf_kick(&n->f, 2 * pair);
	return 0;
}

/* Copies len bytes the device wrote into chain head (our own descriptors, not indirect). */
static size_t chain_read(struct vn *n, unsigned q, uint16_t head, uint32_t len, uint8_t *dst,
			 size_t cap)
{
	struct vf_queue *vq = &n->f.q[q];
	size_t done = 0;
	uint16_t i = head;

	for (unsigned ttl = 0; ttl < vq->num && done < len; ttl++) {
		struct vf_desc *d = &vq->desc[i];
		size_t c = d->len < len - done ? d->len : len - done;

		if (done + c > cap)
			c = cap - done;
		memcpy(dst + done, vf_ptr(&n->f, d->addr), c);
		done += c;
		if (!(d->flags & VF_DESC_NEXT))
			break;
		i = d->next;
	}
	return done;
}

int vn_rx(struct vn *n, unsigned pair, int timeout_ms, struct vn_hdr *h, uint8_t *frame,
	  size_t cap)
{
	static uint8_t buf[VN_HDR_LEN + VN_MAX_FRAME + 4096];
	unsigned q = 2 * pair, nbufs = 1;
	size_t got = 0;

	for (unsigned i = 0; i < nbufs; i++) {
		uint32_t id, len;

		if (vf_wait_used(&n->f, q, i ? 1000 : timeout_ms, &id, &len))
			return i ? -EPROTO : -ETIMEDOUT;
		got += chain_read(n, q, (uint16_t)id, len, buf + got, sizeof(buf) - got);
		if (i == 0 && got < VN_HDR_LEN)
			return -EPROTO;
		if (i == 0) {
			memcpy(h, buf, VN_HDR_LEN);
			if (vn_has(n, VN_F_MRG_RXBUF))
				nbufs = h->num_buffers;
			if (nbufs == 0)
				return -EPROTO;
		}
	}
	if (got - VN_HDR_LEN > cap)
		return -E2BIG;
	memcpy(frame, buf + VN_HDR_LEN, got - VN_HDR_LEN);
	return (int)(got - VN_HDR_LEN);
}

/* ---- the peer ---- */

int peer_open(const char *ifname)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	int one = 1, buf = 8 << 20;

	if (fd < 0)
		return -errno;
	sa.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sa.sll_ifindex || setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno ? errno : ENODEV;

		close(fd);
		return -err;
	}
	return fd;
}

int peer_send(int fd, const struct vn_hdr *h, const void *frame, size_t len)
{
	struct iovec iov[2] = { { (void *)h, 10 }, { (void *)frame, len } };
	ssize_t w = writev(fd, iov, 2);

	return w == (ssize_t)(10 + len) ? 0 : w < 0 ? -errno : -EIO;
}

int peer_recv(int fd, int timeout_ms, struct vn_hdr *h, uint8_t *frame, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		struct sockaddr_ll sa;
		struct iovec iov[2] = { { h, 10 }, { frame, cap } };
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
				     .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t r;
		uint16_t type;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		r = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r < 0)
			return -errno;
		if (sa.sll_pkttype == PACKET_OUTGOING || r < 10 + 14)
			continue;
		memcpy(&type, frame + 12, 2);
		if (ntohs(type) != VN_ETHERTYPE && ntohs(type) != ETH_P_IP)
			continue;
		h->num_buffers = 0;
		return (int)(r - 10);
	}
}

void vn_frame(uint8_t *buf, size_t len, const uint8_t dst[6], uint32_t seq)
{
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint16_t type = htons(VN_ETHERTYPE);

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	memcpy(buf + 12, &type, 2);
	for (size_t i = 14; i < len; i++)
		buf[i] = (uint8_t)(seq * 7 + i * 13 + (i >> 8));
	if (len >= 18)
		memcpy(buf + 14, &seq, 4);
}

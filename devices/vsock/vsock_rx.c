/* vsock_rx.c: cellvm-vsock's rx queue: control packets, RSTs and stream data to the guest. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "log.h"
#include "vsock.h"
#include "vsock_internal.h"

/* ---- the rx queue: packets to the guest ---- */

static bool has_rx_work(const struct vsock_conn *c)
{
	if (c->state != VC_CONNECTING && c->state != VC_OPEN)
		return false;
	/* A guest that closed takes no more data (it would answer with RST). */
	return c->pending || (c->state == VC_OPEN && c->readable && !c->host_eof &&
			      !c->guest_closed && peer_credit(c) > 0);
}

static int next_work(struct vsock_dev *dev)
{
	for (unsigned n = 0; n < dev->hi; n++) {
		unsigned i = (dev->cursor + n) % dev->hi;

		if (has_rx_work(&dev->conns[i])) {
			dev->cursor = i + 1;
			return (int)i;
		}
	}
	return -1;
}

/* recvmsg gave no data (r <= 0): the socket is drained, failed, or at its end. */
static unsigned fill_none(struct vsock_dev *dev, struct vsock_conn *c, ssize_t r)
{
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = false;
	} else if (r < 0) {
		conn_reset(dev, c);
	} else { /* the host shut its side: SHUTDOWN(SEND) to the guest */
		c->host_eof = true;
		c->shut_flags = VSOCK_SHUTDOWN_SEND;
		c->pending |= PEND_SHUTDOWN;
	}
	return 0;
}

/* Pops one rx buffer into e; false when none (or the queue broke on it). */
static bool rx_pop(struct vsock_dev *dev, struct virtq_elem *e, bool arm)
{
	struct virtq *vq = &dev->vu.queues[VSOCK_Q_RX].vq;
	int rc = virtq_pop(vq, &dev->vu.mem, e);

	if (rc == 0 && arm) {
		virtq_arm_kick(vq);
		rc = virtq_pop(vq, &dev->vu.mem, e);
	}
	if (rc != 1)
		return false;
	/* No room past the header would stall the stream it was picked for: refused. */
	if (e->out_num || e->in_len <= HDR_LEN) {
		virtq_mark_broken(vq, "rx buffer not device-writable or without room past a header",
				  e->in_len);
		return false;
	}
	return true;
}

/* An rx buffer in dev->rx_elem[0]: true if one is held. */
static bool rx_buffer(struct vsock_dev *dev)
{
	if (!dev->rx_held)
		dev->rx_held = rx_pop(dev, &dev->rx_elem[0], true);
	return dev->rx_held;
}

static uint32_t put_hdr(struct virtq_elem *e, const struct vsock_hdr *h)
{
	iov_copy(e->iov, e->in_num, 0, (void *)h, HDR_LEN, true);
	return HDR_LEN;
}

static uint32_t fill_control(struct vsock_dev *dev, struct vsock_conn *c)
{
	struct vsock_hdr h;
	unsigned bit = c->pending & -c->pending; /* lowest first: REQUEST, RESPONSE, ... */
	static const uint16_t op_of[] = { [PEND_REQUEST] = VSOCK_OP_REQUEST,
		[PEND_RESPONSE] = VSOCK_OP_RESPONSE, [PEND_CREDIT] = VSOCK_OP_CREDIT_UPDATE,
		[PEND_SHUTDOWN] = VSOCK_OP_SHUTDOWN };

	c->pending &= ~bit;
	hdr_for(dev, c, &h, op_of[bit]);
	if (bit == PEND_SHUTDOWN)
		h.flags = c->shut_flags;
	return put_hdr(&dev->rx_elem[0], &h);
}

/* Payload areas of the held buffer and of more popped ones, up to cap bytes in all:
 * the iovec for one recvmsg in s (*k entries), each buffer's share in room[]. Returns the
 * number of buffers (1 to VSOCK_RX_BATCH). */
static unsigned rx_gather(struct vsock_dev *dev, uint32_t cap, struct iovec *s, unsigned *k,
			  uint32_t *room)
{
	unsigned nb = 0;
	uint32_t total = 0;

	*k = 0;
	for (;;) {
		struct virtq_elem *e = &dev->rx_elem[nb];
		uint64_t r = e->in_len - HDR_LEN;

		if (nb && *k + e->in_num > VIRTQ_IOV_MAX) { /* no room in s: give it back */
			virtq_unpop(&dev->vu.queues[VSOCK_Q_RX].vq, e->head);
			break;
		}
		room[nb] = r < cap - total ? (uint32_t)r : cap - total;
		*k += iov_slice(e->iov, e->in_num, HDR_LEN, room[nb], s + *k);
		total += room[nb++];
		if (total == cap || nb == VSOCK_RX_BATCH || !rx_pop(dev, &dev->rx_elem[nb], false))
			break;
	}
	return nb;
}

/* Gives back the buffers popped for a recvmsg but not filled (newest first). */
static void rx_unpop(struct vsock_dev *dev, unsigned from, unsigned nb)
{
	while (nb-- > from)
		virtq_unpop(&dev->vu.queues[VSOCK_Q_RX].vq, dev->rx_elem[nb].head);
}

/* Host bytes into as many rx buffers as one recvmsg fills (within the guest's credit and
 * VSOCK_MAX_PAYLOAD); each gets its RW header; all are published with one used idx update.
 * Returns the buffers used (the held one among them), 0 if there was no data. */
static unsigned fill_data(struct vsock_dev *dev, struct vsock_conn *c)
{
	struct iovec s[VIRTQ_IOV_MAX];
	uint32_t room[VSOCK_RX_BATCH], cap = peer_credit(c), left;
	uint16_t heads[VSOCK_RX_BATCH];
	unsigned k, nb, used = 0;
	ssize_t r;

	if (cap > VSOCK_MAX_PAYLOAD)
		cap = VSOCK_MAX_PAYLOAD;
	nb = rx_gather(dev, cap, s, &k, room);
	r = recvmsg(c->fd, &(struct msghdr){ .msg_iov = s, .msg_iovlen = k }, MSG_DONTWAIT);
	if (r <= 0) {
		rx_unpop(dev, 1, nb); /* the held buffer stays held */
		return fill_none(dev, c, r);
	}
	for (left = (uint32_t)r; left; used++) {
		struct vsock_hdr h;

		hdr_for(dev, c, &h, VSOCK_OP_RW);
		h.len = left < room[used] ? left : room[used];
		left -= h.len;
		c->tx_cnt += h.len;
		room[used] = put_hdr(&dev->rx_elem[used], &h) + h.len; /* now the used length */
		heads[used] = dev->rx_elem[used].head;
	}
	rx_unpop(dev, used, nb);
	dev->rx_held = false;
	if (virtq_push_n(&dev->vu.queues[VSOCK_Q_RX].vq, heads, room, used))
		return 0; /* the queue broke: nothing more goes to the guest */
	return used;
}

static uint32_t fill_rst(struct vsock_dev *dev)
{
	struct vsock_hdr h = {
		.src_cid = VSOCK_HOST_CID, .dst_cid = dev->cid,
		.src_port = dev->rst[dev->rst_head].host_port,
		.dst_port = dev->rst[dev->rst_head].guest_port,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST,
	};

	dev->rst_head = (dev->rst_head + 1) % dev->rst_cap;
	dev->rst_len--;
	return put_hdr(&dev->rx_elem[0], &h);
}

/* An RST (i < 0) or stream i's next control packet in the held buffer, pushed. */
static bool rx_control(struct vsock_dev *dev, int i)
{
	uint32_t n = i < 0 ? fill_rst(dev) : fill_control(dev, &dev->conns[i]);

	dev->rx_held = false;
	return virtq_push(&dev->vu.queues[VSOCK_Q_RX].vq, dev->rx_elem[0].head, n) == 0;
}

/* Fills rx buffers while streams have something for the guest; one interrupt at the end. */
void rx_pump(struct vsock_dev *dev)
{
	bool pushed = false;

	if (!vu_queue_ready(&dev->vu, VSOCK_Q_RX))
		return;
	for (;;) {
		int i = dev->rst_len ? -1 : next_work(dev);

		if (!dev->rst_len && i < 0)
			break;
		if (!rx_buffer(dev))
			break;
		if (i < 0 || dev->conns[i].pending)
			pushed |= rx_control(dev, i);
		else if (fill_data(dev, &dev->conns[i]))
			pushed = true;
		else
			continue;
		if (i >= 0)
			conn_maybe_finish(dev, &dev->conns[i]);
	}
	if (pushed)
		vu_queue_notify(&dev->vu, VSOCK_Q_RX);
}

/* The tx completions are signalled after the rx pass: a guest waiting for credit then
 * wakes once, with its credit update and its tx buffers both there. */

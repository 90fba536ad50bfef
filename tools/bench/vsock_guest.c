/* vsock_guest.c: a benchmark guest driver for one vsock stream that behaves like Linux 6.1's virtio-vsock driver. */
#define _GNU_SOURCE
#include "vsock_guest.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define HDR        sizeof(struct gd_hdr)
#define HDR_STRIDE 64u                   /* header slots, cache-line apart */
#define IND        (2 * sizeof(struct vf_desc))
#define Q_RX       0
#define Q_TX       1
#define F_VERSION_1  (1ull << 32)
#define F_PROTOCOL   (1ull << 30)
#define F_EVENT_IDX  (1ull << 29)
#define F_INDIRECT   (1ull << 28)

_Static_assert(sizeof(struct gd_hdr) == 44, "virtio-vsock header layout");

/* Puts head on the avail ring; published by publish(). */
static void post(struct gd *g, unsigned qi, uint16_t head)
{
	struct vf_queue *q = &g->f.q[qi];

	q->avail[2 + (q->avail_idx % q->num)] = head;
	q->avail_idx++;
}

static void publish(struct gd *g, unsigned qi)
{
	struct vf_queue *q = &g->f.q[qi];

	__atomic_store_n(&q->avail[1], q->avail_idx, __ATOMIC_RELEASE);
}

/* virtqueue_kick_prepare with EVENT_IDX: kick only when the device's avail_event lies among
 * the entries added since the last kick. */
static void kick(struct gd *g, unsigned qi)
{
	struct vf_queue *q = &g->f.q[qi];
	uint16_t now = q->avail_idx, old = g->kicked[qi], event;
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = __atomic_load_n((uint16_t *)(q->used + 4 + (size_t)q->num * 8), __ATOMIC_RELAXED);
	g->kicked[qi] = now;
	if ((uint16_t)(now - event - 1) < (uint16_t)(now - old)) {
		g->kicks++;
		if (write(q->kick, &one, 8) != 8)
			g->bad = true;
	}
}

static void rx_setup(struct gd *g)
{
	struct vf_queue *q = &g->f.q[Q_RX];

	g->rx_hdr = vf_alloc(&g->f, (uint64_t)GD_QSIZE * HDR_STRIDE);
	g->rx_buf = vf_alloc(&g->f, (uint64_t)GD_QSIZE * GD_RXBUF);
	g->rx_ind = vf_alloc(&g->f, (uint64_t)GD_QSIZE * IND);
	for (uint16_t i = 0; i < GD_QSIZE; i++) {
		struct vf_desc *t = vf_ptr(&g->f, g->rx_ind + (uint64_t)i * IND);

		t[0] = (struct vf_desc){ g->rx_hdr + (uint64_t)i * HDR_STRIDE, HDR,
					 VF_DESC_WRITE | VF_DESC_NEXT, 1 };
		t[1] = (struct vf_desc){ g->rx_buf + (uint64_t)i * GD_RXBUF, GD_RXBUF, VF_DESC_WRITE, 0 };
		q->desc[i] = (struct vf_desc){ g->rx_ind + (uint64_t)i * IND, IND, VF_DESC_INDIRECT, 0 };
		g->rx_free[g->n_rx_free++] = i;
	}
	g->rx_max = GD_QSIZE;
}

/* virtio_vsock_rx_fill: every free buffer goes back, one kick. */
static void rx_fill(struct gd *g)
{
	while (g->n_rx_free)
		post(g, Q_RX, g->rx_free[--g->n_rx_free]);
	publish(g, Q_RX);
	kick(g, Q_RX);
}

int gd_start(struct gd *g, const char *sock)
{
	int rc = vf_connect(&g->f, sock);

	if (rc)
		return rc;
	g->f.want = F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT;
	rc = vf_start(&g->f, 3, GD_QSIZE);
	if (rc)
		return rc;
	if ((g->f.features & (F_EVENT_IDX | F_INDIRECT)) != (F_EVENT_IDX | F_INDIRECT))
		return -ENOTSUP;
	memcpy(&g->cid, g->f.cfg, 8);
	if (!g->buf_alloc)
		g->buf_alloc = GD_BUF_ALLOC;
	g->tx_hdr = vf_alloc(&g->f, (uint64_t)GD_TX_SLOTS * HDR_STRIDE);
	g->tx_buf = vf_alloc(&g->f, (uint64_t)GD_TX_SLOTS * GD_PKT_MAX);
	g->tx_ind = vf_alloc(&g->f, (uint64_t)GD_TX_SLOTS * IND);
	for (uint16_t i = 0; i < GD_TX_SLOTS; i++)
		g->tx_free[g->n_tx_free++] = i;
	rx_setup(g);
	rx_fill(g);
	return 0;
}

static void tx_reclaim(struct gd *g)
{
	struct vf_queue *q = &g->f.q[Q_TX];

	while (__atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE) != q->last_used) {
		uint32_t id;

		memcpy(&id, q->used + 4 + (size_t)(q->last_used % q->num) * 8, 4);
		q->last_used++;
		if (id >= GD_TX_SLOTS || g->n_tx_free == GD_TX_SLOTS) {
			g->bad = true;
			continue;
		}
		g->tx_free[g->n_tx_free++] = (uint16_t)id;
	}
}

/* One packet on the tx ring (not yet published): a header, then len bytes from src.
 * Like virtio_transport_send_pkt_info, every packet tells our fwd_cnt (fwd). */
static int send_pkt(struct gd *g, uint16_t op, const uint8_t *src, uint32_t len, uint32_t fwd)
{
	struct vf_queue *q = &g->f.q[Q_TX];
	uint16_t s;
	uint64_t hg, bg;
	struct gd_hdr h = { .src_cid = g->cid, .dst_cid = 2, .src_port = g->lport,
			    .dst_port = g->rport, .len = len, .type = 1, .op = op,
			    .buf_alloc = g->buf_alloc, .fwd_cnt = fwd };

	if (!g->n_tx_free)
		tx_reclaim(g);
	if (!g->n_tx_free)
		return -EAGAIN;
	s = g->tx_free[--g->n_tx_free];
	hg = g->tx_hdr + (uint64_t)s * HDR_STRIDE;
	bg = g->tx_buf + (uint64_t)s * GD_PKT_MAX;
	memcpy(vf_ptr(&g->f, hg), &h, HDR);
	g->last_fwd = fwd;
	if (!len) { /* one buffer: a plain descriptor, as virtio_ring does for one sg */
		q->desc[s] = (struct vf_desc){ hg, HDR, 0, 0 };
	} else {
		struct vf_desc *t = vf_ptr(&g->f, g->tx_ind + (uint64_t)s * IND);

		memcpy(vf_ptr(&g->f, bg), src, len); /* the application's bytes into the packet */
		t[0] = (struct vf_desc){ hg, HDR, VF_DESC_NEXT, 1 };
		t[1] = (struct vf_desc){ bg, len, 0, 0 };
		q->desc[s] = (struct vf_desc){ g->tx_ind + (uint64_t)s * IND, IND, VF_DESC_INDIRECT, 0 };
	}
	post(g, Q_TX, s);
	return 0;
}

static void send_ctrl(struct gd *g, uint16_t op, uint32_t fwd)
{
	if (send_pkt(g, op, NULL, 0, fwd)) {
		g->bad = true; /* 32 tx slots and a stalled device: not expected here */
		return;
	}
	publish(g, Q_TX);
	kick(g, Q_TX);
}

/* The application reads the payload at once (virtio_transport_stream_do_dequeue), then
 * the credit rule of Linux 6.1: update when the peer's view of our free space < 64 KiB. */
static void take_rw(struct gd *g, const uint8_t *payload, uint32_t len)
{
	memcpy(g->app, payload, len);
	g->fwd_cnt += len;
	g->rx_bytes += len;
	if (g->fwd_cnt - g->last_fwd > g->buf_alloc)
		g->bad = true; /* the device sent past our credit */
	if (g->buf_alloc - (g->fwd_cnt - g->last_fwd) < GD_PKT_MAX) {
		g->credit_updates++;
		send_ctrl(g, GD_OP_CREDIT_UPDATE, g->fwd_cnt);
	}
}

/* The answer to a CREDIT_REQUEST: virtio_transport_recv_connected replies from the rx work,
 * before the application has read the packets queued in that same pass, so its fwd_cnt is
 * the one of when the pass began (or a later one this pass already told). */
static uint32_t request_fwd(const struct gd *g)
{
	return g->fwd_cnt - g->last_fwd < g->fwd_cnt - g->pass_fwd ? g->last_fwd : g->pass_fwd;
}

static void on_packet(struct gd *g, const struct gd_hdr *h, const uint8_t *payload, uint32_t len)
{
	if (h->src_cid != 2 || h->dst_cid != g->cid || h->type != 1 || h->len != len) {
		g->bad = true;
		return;
	}
	if (!g->open && h->op == GD_OP_REQUEST) {
		g->lport = h->dst_port;
		g->rport = h->src_port;
		g->open = true;
	} else if (!g->open || h->dst_port != g->lport || h->src_port != g->rport) {
		g->bad = true;
		return;
	}
	g->peer_alloc = h->buf_alloc; /* virtio_transport_space_update */
	g->peer_fwd = h->fwd_cnt;
	if (h->op == GD_OP_REQUEST)
		send_ctrl(g, GD_OP_RESPONSE, g->fwd_cnt);
	else if (h->op == GD_OP_RW)
		take_rw(g, payload, len);
	else if (h->op == GD_OP_CREDIT_REQUEST)
		send_ctrl(g, GD_OP_CREDIT_UPDATE, request_fwd(g));
	else if (h->op != GD_OP_CREDIT_UPDATE)
		g->bad = true; /* RST or SHUTDOWN: the benchmark's stream never ends early */
}

/* virtio_transport_rx_work, one pass: used buffers in order, then refill at half. */
unsigned gd_rx(struct gd *g)
{
	struct vf_queue *q = &g->f.q[Q_RX];
	unsigned n = 0;

	g->pass_fwd = g->fwd_cnt;
	while (__atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE) != q->last_used) {
		uint32_t id, len;
		struct gd_hdr h;

		memcpy(&id, q->used + 4 + (size_t)(q->last_used % q->num) * 8, 4);
		memcpy(&len, q->used + 8 + (size_t)(q->last_used % q->num) * 8, 4);
		q->last_used++;
		n++;
		if (id >= GD_QSIZE || len < HDR || len > HDR + GD_RXBUF) {
			g->bad = true;
			continue;
		}
		memcpy(&h, vf_ptr(&g->f, g->rx_hdr + id * HDR_STRIDE), HDR);
		on_packet(g, &h, vf_ptr(&g->f, g->rx_buf + (uint64_t)id * GD_RXBUF),
			  len - (uint32_t)HDR);
		g->rx_free[g->n_rx_free++] = (uint16_t)id;
	}
	if (g->rx_max - g->n_rx_free < g->rx_max / 2)
		rx_fill(g);
	return n;
}

static uint32_t peer_credit(const struct gd *g)
{
	uint32_t in_flight = g->tx_cnt - g->peer_fwd;

	return in_flight > g->peer_alloc ? 0 : g->peer_alloc - in_flight;
}

uint64_t gd_tx(struct gd *g, const uint8_t *src, uint64_t want)
{
	uint64_t done = 0;

	tx_reclaim(g);
	while (done < want) {
		uint32_t n = peer_credit(g);

		if (n > GD_PKT_MAX)
			n = GD_PKT_MAX;
		if (n > want - done)
			n = (uint32_t)(want - done);
		if (!n || send_pkt(g, GD_OP_RW, src, n, g->fwd_cnt))
			break;
		g->tx_cnt += n;
		done += n;
	}
	if (done) {
		publish(g, Q_TX);
		kick(g, Q_TX);
	}
	return done;
}

static bool used_pending(struct gd *g, unsigned qi)
{
	struct vf_queue *q = &g->f.q[qi];

	return __atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE) != q->last_used;
}

int gd_wait(struct gd *g, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = g->f.q[Q_RX].call, .events = POLLIN },
			       { .fd = g->f.q[Q_TX].call, .events = POLLIN } };
	uint64_t v;

	tx_reclaim(g); /* virtio_transport_tx_work: completions first */
	for (unsigned qi = 0; qi < 2; qi++) { /* virtqueue_enable_cb: used_event = last used */
		struct vf_queue *q = &g->f.q[qi];

		__atomic_store_n(&q->avail[2 + q->num], q->last_used, __ATOMIC_RELAXED);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (used_pending(g, Q_RX) || used_pending(g, Q_TX))
		return 0;
	if (poll(p, 2, timeout_ms) <= 0)
		return -ETIMEDOUT;
	g->irqs++;
	for (unsigned i = 0; i < 2; i++)
		if ((p[i].revents & POLLIN) && read(p[i].fd, &v, 8) < 0 && errno != EAGAIN)
			return -errno;
	return 0;
}

int gd_accept(struct gd *g, int timeout_ms)
{
	while (!g->open && !g->bad) {
		if (!gd_rx(g) && gd_wait(g, timeout_ms))
			return -ETIMEDOUT;
	}
	return g->bad ? -EPROTO : 0;
}

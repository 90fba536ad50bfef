/* net.c: virtio-net over a tap: tx chains written to the tap, tap frames read into rx chains. */
#define _GNU_SOURCE
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

#define HDR_F_NEEDS_CSUM  1
#define HDR_F_DATA_VALID  2
#define GSO_NONE   0
#define GSO_TCPV4  1
#define GSO_TCPV6  4
#define GSO_ECN    0x80
#define STATUS_LINK_UP 1
#define RX_BUDGET  64        /* frames per tap wake-up, so tx and the socket get their turn */
#define WARN_MAX   8         /* per-frame warnings per pair before going quiet */

struct vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

static bool acked(const struct net_dev *dev, unsigned bit)
{
	return dev->vu.acked & (1ull << bit);
}

static void frame_warn(struct net_pair *pp, unsigned p, const char *why, unsigned long long v)
{
	if (pp->warned++ < WARN_MAX)
		log_warn("pair %u: %s %llu; frame dropped%s", p, why, v,
			 pp->warned == WARN_MAX ? " (further drops are only counted)" : "");
}

/* ---- iovec helpers: guest buffers are only touched through the popped iovec ---- */

static size_t iov_to_buf(const struct iovec *iov, unsigned n, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t c = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy((uint8_t *)dst + done, iov[i].iov_base, c);
		done += c;
	}
	return done;
}

static size_t buf_to_iov(const struct iovec *iov, unsigned n, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t c = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, (const uint8_t *)src + done, c);
		done += c;
	}
	return done;
}

/* The address of byte off of an iovec (the caller checked the total length). */
static uint8_t *iov_byte(const struct iovec *iov, unsigned n, size_t off)
{
	for (unsigned i = 0; i < n; i++) {
		if (off < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + off;
		off -= iov[i].iov_len;
	}
	return NULL;
}

/* ---- vhost-user hooks ---- */

static void net_get_config(void *opaque, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct net_dev *dev = opaque;

	memcpy(buf, (const uint8_t *)&dev->cfg + off, len);
}

static int net_set_config(void *opaque, uint32_t off, const uint8_t *buf, uint32_t len,
			  uint32_t flags)
{
	return -EPERM; /* mac, status and max_virtqueue_pairs are read-only for a 1.x driver */
}

static void net_kick_changed(void *opaque, unsigned q, int old_fd, int new_fd)
{
	struct net_dev *dev = opaque;

	if (dev->loop_ops)
		dev->loop_ops->kick_changed(dev->loop, q, old_fd, new_fd);
}

/* A frame half spread over rx chains is dropped; its chains go back empty. */
static void drop_frame(struct net_dev *dev, unsigned p)
{
	struct net_pair *pp = &dev->pair[p];
	struct net_rx_frame *f = &pp->frame;

	if (!f->active)
		return;
	memset(f->lens, 0, f->nheads * sizeof(f->lens[0]));
	if (virtq_push_n(&dev->vu.queues[2 * p].vq, f->heads, f->lens, f->nheads) == 0)
		pp->notify_rx = true;
	f->active = false;
	pp->stats.rx_dropped++;
}

static void notify(struct net_dev *dev, unsigned p)
{
	struct net_pair *pp = &dev->pair[p];

	if (pp->notify_rx)
		vu_queue_notify(&dev->vu, 2 * p);
	if (pp->notify_tx)
		vu_queue_notify(&dev->vu, 2 * p + 1);
	pp->notify_rx = pp->notify_tx = false;
}

static void net_quiesce(void *opaque, int q)
{
	struct net_dev *dev = opaque;

	/* tx completes synchronously; only a merged rx frame can hold chains. */
	for (unsigned p = 0; p < dev->pairs; p++) {
		if (q >= 0 && (unsigned)q != 2 * p)
			continue;
		drop_frame(dev, p);
		notify(dev, p);
	}
}

static const struct vu_device_ops net_ops = {
	.get_config = net_get_config,
	.set_config = net_set_config,
	.kick_changed = net_kick_changed,
	.quiesce = net_quiesce,
};

/* ---- set-up ---- */

int net_open(struct net_dev *dev, const struct net_opts *o, const char **what)
{
	int fds[NET_MAX_PAIRS];
	int rc;

	*dev = (struct net_dev){ .pairs = o->pairs };
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		dev->pair[p].tap = -1;
	*what = o->tap_name ? "opening the tap" : "not a tap queue with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR";
	if (o->tap_name) {
		rc = tap_open(o->tap_name, o->pairs, fds);
	} else {
		rc = o->ntap_fds == o->pairs ? 0 : -EINVAL;
		for (unsigned p = 0; p < o->pairs && !rc; p++)
			rc = tap_adopt(fds[p] = o->tap_fds[p]);
	}
	if (rc)
		return rc;
	for (unsigned p = 0; p < o->pairs; p++)
		dev->pair[p].tap = fds[p];
	*what = "setting the vnet header size";
	for (unsigned p = 0; p < o->pairs && !rc; p++)
		rc = tap_setup(fds[p], NET_HDR_LEN);
	*what = "allocating rx buffers";
	for (unsigned p = 0; p < o->pairs && !rc; p++)
		if (!(dev->pair[p].bounce = malloc(NET_RX_BUF)))
			rc = -ENOMEM;
	memcpy(dev->cfg.mac, o->mac, 6);
	dev->cfg.status = STATUS_LINK_UP;
	dev->cfg.max_virtqueue_pairs = (uint16_t)o->pairs;
	return rc;
}

int net_attach(struct net_dev *dev, int sock, const struct net_loop_ops *ops, void *loop)
{
	static const unsigned bits[] = {
		VU_F_VERSION_1, VU_F_RING_EVENT_IDX, VU_F_RING_INDIRECT_DESC, NET_F_CSUM,
		NET_F_GUEST_CSUM, NET_F_MAC, NET_F_GUEST_TSO4, NET_F_GUEST_TSO6, NET_F_GUEST_ECN,
		NET_F_HOST_TSO4, NET_F_HOST_TSO6, NET_F_HOST_ECN, NET_F_MRG_RXBUF, NET_F_STATUS,
		NET_F_MQ,
	};
	struct vu_dev_params p = {
		.sock = sock, .num_queues = 2 * dev->pairs, .config_len = sizeof(dev->cfg),
		.ops = &net_ops, .opaque = dev,
	};

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		p.features |= 1ull << bits[i];
	dev->loop_ops = ops;
	dev->loop = loop;
	return vu_dev_init(&dev->vu, &p);
}

void net_close(struct net_dev *dev)
{
	if (dev->vu.ops) /* attached */
		vu_dev_cleanup(&dev->vu);
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++) {
		if (dev->pair[p].tap >= 0)
			close(dev->pair[p].tap);
		dev->pair[p].tap = -1;
		free(dev->pair[p].bounce);
		dev->pair[p].bounce = NULL;
	}
}

/* ---- tx: one chain is one frame, header first ---- */

#define NET_TX_BATCH 32
#define NET_TX_SMALL 2048

/* The header's offload requests must be ones the driver negotiated. */
static bool tx_hdr_ok(const struct net_dev *dev, const struct vnet_hdr *h)
{
	unsigned gso = h->gso_type & ~GSO_ECN;

	if (h->flags & ~HDR_F_NEEDS_CSUM)
		return false;
	if ((h->flags & HDR_F_NEEDS_CSUM) && !acked(dev, NET_F_CSUM))
		return false;
	if ((h->gso_type & GSO_ECN) && (gso == GSO_NONE || !acked(dev, NET_F_HOST_ECN)))
		return false;
	return gso == GSO_NONE || (gso == GSO_TCPV4 && acked(dev, NET_F_HOST_TSO4)) ||
	       (gso == GSO_TCPV6 && acked(dev, NET_F_HOST_TSO6));
}

/* Checks the chain; -EIO when it breaks the queue. */
static int tx_check(struct virtq *vq, const struct virtq_elem *e)
{
	if (e->in_num) {
		virtq_mark_broken(vq, "tx chain with device-writable buffers, head", e->head);
		return -EIO;
	}
	if (e->out_len < NET_HDR_LEN) {
		virtq_mark_broken(vq, "tx chain shorter than the 12-byte vnet header, len", e->out_len);
		return -EIO;
	}
	if (e->out_len - NET_HDR_LEN > NET_MAX_FRAME) {
		virtq_mark_broken(vq, "tx frame larger than 65550 bytes, len", e->out_len);
		return -EIO;
	}
	return 0;
}

/* A frame of up to NET_TX_SMALL bytes is copied whole behind our header copy and written with
 * one write(2), which the seccomp filter allows without an argument check (its verdict is
 * cached), where writev(2) on the tap runs the filter's fd check on every frame: measured
 * (docs/benchmarks.md), the copy costs less, at 1500 bytes too. Larger (TSO) frames: writev. */
static ssize_t tx_write_small(struct net_pair *pp, const struct virtq_elem *e,
			      const struct vnet_hdr *h)
{
	uint8_t buf[NET_HDR_LEN + NET_TX_SMALL];
	size_t len = iov_to_buf(e->iov, e->out_num, buf, e->out_len);

	memcpy(buf, h, NET_HDR_LEN); /* the header as validated, not as the guest may have moved it */
	return write(pp->tap, buf, len);
}

/* A bigger frame: our copy of the header, then the guest's buffers past it, in one writev. */
static ssize_t tx_writev(struct net_pair *pp, const struct virtq_elem *e, struct vnet_hdr *h)
{
	struct iovec iov[VIRTQ_IOV_MAX + 1];
	unsigned n = 1;
	size_t skip = NET_HDR_LEN;

	iov[0] = (struct iovec){ h, NET_HDR_LEN };
	for (unsigned i = 0; i < e->out_num; i++) {
		if (skip >= e->iov[i].iov_len) {
			skip -= e->iov[i].iov_len;
			continue;
		}
		iov[n++] = (struct iovec){ (uint8_t *)e->iov[i].iov_base + skip,
					   e->iov[i].iov_len - skip };
		skip = 0;
	}
	return writev(pp->tap, iov, (int)n);
}

/* Writes the frame into the tap and counts it. */
static void tx_write(struct net_dev *dev, unsigned p, const struct virtq_elem *e,
		     struct vnet_hdr *h)
{
	struct net_pair *pp = &dev->pair[p];
	ssize_t w = e->out_len - NET_HDR_LEN <= NET_TX_SMALL ? tx_write_small(pp, e, h)
							      : tx_writev(pp, e, h);

	if (w < 0) {
		pp->stats.tx_dropped++;
		if (errno != EAGAIN && errno != ENOBUFS)
			frame_warn(pp, p, "tap write failed, errno", (unsigned long long)errno);
		return;
	}
	pp->stats.tx_frames++;
}

/* 1: a chain was handled; 0: none available; -EIO: the queue is broken. */
static int tx_one(struct net_dev *dev, unsigned p)
{
	struct virtq *vq = &dev->vu.queues[2 * p + 1].vq;
	struct virtq_elem *e = &dev->elem;
	struct net_pair *pp = &dev->pair[p];
	struct vnet_hdr h;
	int rc = virtq_pop(vq, &dev->vu.mem, e);

	if (rc <= 0)
		return rc;
	if (tx_check(vq, e))
		return -EIO;
	iov_to_buf(e->iov, e->out_num, &h, sizeof(h)); /* copied once, then validated */
	if (tx_hdr_ok(dev, &h)) {
		tx_write(dev, p, e, &h);
	} else {
		pp->stats.tx_dropped++;
		frame_warn(pp, p, "tx header asks for an offload not negotiated, gso_type",
			   h.gso_type);
	}
	if (virtq_fill(vq, e->head, 0) == 0) /* published by net_tx, a batch at a time */
		pp->notify_tx = true;
	return 1;
}

static void net_tx(struct net_dev *dev, unsigned p)
{
	struct virtq *vq = &dev->vu.queues[2 * p + 1].vq;
	int rc;

	if (!vu_queue_ready(&dev->vu, 2 * p + 1))
		return;
	for (;;) {
		unsigned n = 0;

		/* Used elements are published NET_TX_BATCH at a time: one used idx store (and one
		 * cache line handed back to the driver's CPU) per batch, while a driver that
		 * reclaims as it sends still gets its chains back during a long pass. */
		while ((rc = tx_one(dev, p)) == 1)
			if (++n % NET_TX_BATCH == 0)
				virtq_flush(vq);
		virtq_flush(vq);
		if (rc < 0)
			break;
		virtq_arm_kick(vq);
		if (!virtq_avail_pending(vq))
			break;
	}
	notify(dev, p);
}

/* ---- rx: tap frames into the driver's chains ---- */

/* The header as the driver may see it: no checksum flags it did not negotiate. */
static void rx_fix_hdr(const struct net_dev *dev, struct vnet_hdr *h, uint16_t nbufs)
{
	if (!acked(dev, NET_F_GUEST_CSUM))
		h->flags = 0;
	h->num_buffers = nbufs;
}

/* Checks an rx chain; -EIO when it breaks the queue. */
static int rx_check(struct virtq *vq, const struct virtq_elem *e, bool first)
{
	if (e->out_num) {
		virtq_mark_broken(vq, "rx chain with device-readable buffers, head", e->head);
		return -EIO;
	}
	if (first && e->in_len < NET_HDR_LEN) {
		virtq_mark_broken(vq, "rx chain shorter than the 12-byte vnet header, len", e->in_len);
		return -EIO;
	}
	return 0;
}

/* Without MRG_RXBUF: one frame into one chain, read straight from the tap.
 * 1: a frame was handled; 0: no chain; -EAGAIN: the tap is empty; -EIO: broken. */
static int rx_direct(struct net_dev *dev, unsigned p)
{
	struct virtq *vq = &dev->vu.queues[2 * p].vq;
	struct virtq_elem *e = &dev->elem;
	struct net_pair *pp = &dev->pair[p];
	struct vnet_hdr h;
	ssize_t n;
	int rc = virtq_pop(vq, &dev->vu.mem, e);

	if (rc <= 0)
		return rc;
	if (rx_check(vq, e, true))
		return -EIO;
	n = readv(pp->tap, e->iov, (int)e->in_num);
	if (n < 0 || n < NET_HDR_LEN || (uint64_t)n > e->in_len) {
		virtq_unpop(vq, e->head); /* the chain stays for the next frame */
		if (n < 0 && errno == EAGAIN)
			return -EAGAIN;
		if (n < 0)
			return frame_warn(pp, p, "tap read failed, errno", (unsigned long long)errno),
			       -EAGAIN;
		pp->stats.rx_dropped++;
		frame_warn(pp, p, "frame larger than the rx chain (no MRG_RXBUF), bytes",
			   (unsigned long long)n);
		return 1;
	}
	iov_to_buf(e->iov, e->in_num, &h, sizeof(h));
	rx_fix_hdr(dev, &h, 1);
	buf_to_iov(e->iov, e->in_num, &h, sizeof(h));
	if (virtq_push(vq, e->head, (uint32_t)n) == 0)
		pp->notify_rx = true;
	pp->stats.rx_frames++;
	return 1;
}

/* Reads the next frame into the bounce buffer. 1: a frame; -EAGAIN: the tap is empty. */
static int rx_read(struct net_dev *dev, unsigned p)
{
	struct net_pair *pp = &dev->pair[p];
	struct net_rx_frame *f = &pp->frame;
	ssize_t n = read(pp->tap, pp->bounce, NET_RX_BUF);

	if (n < 0) {
		if (errno != EAGAIN)
			frame_warn(pp, p, "tap read failed, errno", (unsigned long long)errno);
		return -EAGAIN;
	}
	if (n < NET_HDR_LEN) {
		pp->stats.rx_dropped++;
		return 1;
	}
	rx_fix_hdr(dev, (struct vnet_hdr *)pp->bounce, 1); /* num_buffers: set when known */
	*f = (struct net_rx_frame){ .active = true, .len = (uint32_t)n };
	return 1;
}

/* Copies the rest of the frame into the next chain. 1: done; 0: no chain; -EIO. */
static int rx_fill_one(struct net_dev *dev, unsigned p)
{
	struct virtq *vq = &dev->vu.queues[2 * p].vq;
	struct virtq_elem *e = &dev->elem;
	struct net_rx_frame *f = &dev->pair[p].frame;
	size_t c;
	int rc = virtq_pop(vq, &dev->vu.mem, e);

	if (rc <= 0)
		return rc;
	if (rx_check(vq, e, f->nheads == 0))
		return -EIO;
	if (f->nheads == 0) {
		f->num_buffers[0] = iov_byte(e->iov, e->in_num, 10);
		f->num_buffers[1] = iov_byte(e->iov, e->in_num, 11);
	}
	c = buf_to_iov(e->iov, e->in_num, dev->pair[p].bounce + f->done, f->len - f->done);
	f->heads[f->nheads] = e->head;
	f->lens[f->nheads++] = (uint32_t)c;
	f->done += (uint32_t)c;
	return 1;
}

/* With MRG_RXBUF: a frame spread over as many chains as it needs (num_buffers).
 * 1: a frame was handled; 0: out of chains (the frame waits); -EAGAIN; -EIO. */
static int rx_merge(struct net_dev *dev, unsigned p)
{
	struct virtq *vq = &dev->vu.queues[2 * p].vq;
	struct net_pair *pp = &dev->pair[p];
	struct net_rx_frame *f = &pp->frame;
	int rc;

	if (!f->active) {
		if (!virtq_avail_pending(vq))
			return 0; /* no chain: leave the frame in the tap */
		rc = rx_read(dev, p);
		if (rc != 1 || !f->active)
			return rc;
	}
	while (f->done < f->len) {
		if (f->nheads == vq->num) { /* the whole ring cannot hold it */
			frame_warn(pp, p, "frame larger than the whole rx ring, bytes", f->len);
			drop_frame(dev, p);
			return 1;
		}
		rc = rx_fill_one(dev, p);
		if (rc <= 0)
			return rc;
	}
	*f->num_buffers[0] = (uint8_t)f->nheads;
	*f->num_buffers[1] = (uint8_t)(f->nheads >> 8);
	if (virtq_push_n(vq, f->heads, f->lens, f->nheads) == 0)
		pp->notify_rx = true;
	f->active = false;
	pp->stats.rx_frames++;
	return 1;
}

static void tap_poll(struct net_dev *dev, unsigned p, bool on)
{
	struct net_pair *pp = &dev->pair[p];

	if (pp->polling == on || !dev->loop_ops)
		return;
	pp->polling = on;
	dev->loop_ops->tap_poll(dev->loop, p, pp->tap, on);
}

/* Moves frames while there are chains; the tap is watched only while there are
 * (back-pressure: frames wait in the tap's queue until the driver posts buffers). */
static void net_rx(struct net_dev *dev, unsigned p)
{
	struct virtq *vq = &dev->vu.queues[2 * p].vq;
	bool mrg = acked(dev, NET_F_MRG_RXBUF);
	int budget = RX_BUDGET, rc = 1;

	if (!vu_queue_ready(&dev->vu, 2 * p)) {
		tap_poll(dev, p, false);
		return;
	}
	while (budget-- > 0) {
		rc = mrg ? rx_merge(dev, p) : rx_direct(dev, p);
		if (rc == 0) {
			virtq_arm_kick(vq);
			if (virtq_avail_pending(vq))
				continue;
		}
		if (rc != 1)
			break;
	}
	tap_poll(dev, p, rc == 1 || rc == -EAGAIN);
	notify(dev, p);
}

void net_kick(struct net_dev *dev, unsigned q)
{
	if (q >= 2 * dev->pairs)
		return;
	if (q % 2)
		net_tx(dev, q / 2);
	else
		net_rx(dev, q / 2);
}

void net_tap_ready(struct net_dev *dev, unsigned pair)
{
	if (pair < dev->pairs)
		net_rx(dev, pair);
}

/* A pair whose rx ring the driver does not use (the frontend disabled it: VQ_PAIRS_SET below
 * it, or not started yet) leaves the tap's flow steering, so no flow hashes to a tap queue that
 * nobody reads; it rejoins when the ring is enabled. Pair 0 stays: a tap needs one queue. */
static void net_steer(struct net_dev *dev)
{
	for (unsigned p = 1; p < dev->pairs; p++) {
		bool want = vu_queue_ready(&dev->vu, 2 * p);

		if (want != dev->pair[p].detached)
			continue;
		if (tap_set_queue(dev->pair[p].tap, want))
			log_warn("pair %u: TUNSETQUEUE %s failed: %m", p, want ? "attach" : "detach");
		else
			dev->pair[p].detached = !want;
	}
}

void net_after_message(struct net_dev *dev)
{
	net_steer(dev);
	if (!dev->offloads_valid || dev->offloads_acked != dev->vu.acked) {
		for (unsigned p = 0; p < dev->pairs; p++)
			if (tap_set_offloads(dev->pair[p].tap, dev->vu.acked))
				log_warn("pair %u: TUNSETOFFLOAD 0x%x failed: %m", p,
					 tap_offloads_for(dev->vu.acked));
		dev->offloads_acked = dev->vu.acked;
		dev->offloads_valid = true;
	}
	for (unsigned p = 0; p < dev->pairs; p++) {
		net_tx(dev, p);
		net_rx(dev, p);
	}
}

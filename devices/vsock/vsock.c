/* vsock.c: virtio-vsock streams over vhost-user, bridged to Unix sockets the hybrid-vsock way. */
#define _GNU_SOURCE
#include "vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vsock_internal.h"

#define FIRST_EPHEMERAL (1u << 30)
#define STREAM_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET) /* EPOLLOUT: conn_watch_out */
#define WARN_MAX 10  /* bad-packet lines logged before going quiet (counted in the stats) */

_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio-vsock header layout");

/* ---- vhost-user hooks ---- */

static void vs_get_config(void *opaque, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct vsock_dev *dev = opaque;

	memcpy(buf, (const uint8_t *)&dev->cfg_cid + off, len);
}

static int vs_set_config(void *opaque, uint32_t off, const uint8_t *buf, uint32_t len,
			 uint32_t flags)
{
	return -EPERM; /* guest_cid is read-only */
}

static void vs_kick_changed(void *opaque, unsigned q, int old_fd, int new_fd)
{
	struct vsock_dev *dev = opaque;

	if (dev->watch)
		dev->watch(dev->loop, q, old_fd, new_fd);
}

static void conn_drop(struct vsock_dev *dev, struct vsock_conn *c);

/* A ring stops or memory goes: the one rx buffer held back is returned empty (a driver
 * drops a used buffer shorter than a header). The tx ring stopping is a device reset (the
 * guest's driver starts over, or the VM resets): every stream is gone for the guest, so the
 * host sides are closed too. */
static void vs_quiesce(void *opaque, int q)
{
	struct vsock_dev *dev = opaque;
	unsigned n = 0;

	if (dev->rx_held && (q < 0 || q == VSOCK_Q_RX)) {
		dev->rx_held = false;
		if (virtq_push(&dev->vu.queues[VSOCK_Q_RX].vq, dev->rx_elem[0].head, 0) == 0)
			vu_queue_notify(&dev->vu, VSOCK_Q_RX);
	}
	if (q != VSOCK_Q_TX)
		return;
	for (unsigned i = 0; i < dev->hi; i++)
		if (dev->conns[i].state > VC_HOST_LINE)
			conn_drop(dev, &dev->conns[i]), n++;
	dev->rst_len = 0;
	if (n)
		log_info("the tx ring stopped (a device reset): %u stream(s) closed", n);
}

static const struct vu_device_ops vsock_ops = {
	.get_config = vs_get_config,
	.set_config = vs_set_config,
	.kick_changed = vs_kick_changed,
	.quiesce = vs_quiesce,
};

/* ---- set-up ---- */

static int listen_hybrid(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path); /* a stale socket from an earlier run */
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int vsock_open(struct vsock_dev *dev, const struct vsock_opts *o, const char **what)
{
	dev->listen_fd = dev->timer_fd = -1;
	dev->cid = dev->cfg_cid = o->cid;
	dev->max_conns = o->max_conns;
	dev->next_port = FIRST_EPHEMERAL;
	*what = "--uds-path";
	if (strlen(o->uds_path) + sizeof("_4294967295") > sizeof(dev->uds_path))
		return -ENAMETOOLONG;
	snprintf(dev->uds_path, sizeof(dev->uds_path), "%s", o->uds_path);
	snprintf(dev->connect_base, sizeof(dev->connect_base), "%s", o->uds_path);
	*what = "timerfd";
	dev->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (dev->timer_fd < 0)
		return -errno;
	*what = "stream table";
	dev->conns = calloc(dev->max_conns, sizeof(*dev->conns));
	dev->rst = calloc(dev->max_conns + VSOCK_RST_RING, sizeof(*dev->rst));
	if (!dev->conns || !dev->rst)
		return -ENOMEM;
	dev->rst_cap = dev->max_conns + VSOCK_RST_RING;
	*what = "--uds-path";
	dev->listen_fd = listen_hybrid(o->uds_path);
	return dev->listen_fd < 0 ? dev->listen_fd : 0;
}

int vsock_attach(struct vsock_dev *dev, int sock, int epfd, uint64_t tag_conn,
		 void (*watch)(void *, unsigned, int, int), void *loop)
{
	struct vu_dev_params p = {
		.sock = sock, .num_queues = VSOCK_NUM_QUEUES, .config_len = sizeof(dev->cfg_cid),
		.ops = &vsock_ops, .opaque = dev,
		.features = (1ull << VU_F_VERSION_1) | (1ull << VU_F_RING_EVENT_IDX) |
			    (1ull << VU_F_RING_INDIRECT_DESC),
	};

	dev->epfd = epfd;
	dev->tag_conn = tag_conn;
	dev->watch = watch;
	dev->loop = loop;
	return vu_dev_init(&dev->vu, &p);
}

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A stream starts waiting (for its CONNECT line or the guest's RESPONSE). */
static void wait_deadline(struct vsock_dev *dev, struct vsock_conn *c)
{
	struct itimerspec its = { .it_interval = { 0, 250 * 1000000 }, .it_value = { 0, 250 * 1000000 } };

	c->deadline_ms = now_ms() + VSOCK_CONNECT_TIMEOUT_MS;
	if (!dev->timer_armed && timerfd_settime(dev->timer_fd, 0, &its, NULL) == 0)
		dev->timer_armed = true;
}

static void bad(struct vsock_dev *dev, uint64_t *counter, const char *why, unsigned long long v)
{
	if (++*counter <= WARN_MAX)
		log_warn("bad packet from the guest: %s (%llu)%s", why, v,
			 *counter == WARN_MAX ? "; not logging more of these" : "");
}

size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len,
		bool to_iov)
{
	struct iovec s[VIRTQ_IOV_MAX];
	unsigned k = iov_slice(iov, n, skip, len, s);
	size_t done = 0;

	for (unsigned i = 0; i < k; i++) {
		if (to_iov)
			memcpy(s[i].iov_base, (uint8_t *)buf + done, s[i].iov_len);
		else
			memcpy((uint8_t *)buf + done, s[i].iov_base, s[i].iov_len);
		done += s[i].iov_len;
	}
	return done;
}

uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* The guest's counters are untrusted: a fwd_cnt "ahead" of what we sent gives nothing. */
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static int conn_find(const struct vsock_dev *dev, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < dev->hi; i++) {
		const struct vsock_conn *c = &dev->conns[i];

		if (c->state > VC_HOST_LINE && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return (int)i;
	}
	return -1;
}

/* The socket itself should hold about a credit window of guest bytes, so that they rarely
 * wait (copied) in c->buf: the kernel doubles the value (its overhead), which makes
 * VSOCK_BUF_ALLOC; it caps it at net.core.wmem_max. Best effort: a smaller buffer only
 * costs copies. A stream thus holds at most about 2 x VSOCK_BUF_ALLOC of guest bytes. */
static void conn_sndbuf(int fd)
{
	int v = VSOCK_BUF_ALLOC / 2;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/* A free slot watching fd, or NULL when the table is full (fd is then closed). */
static struct vsock_conn *conn_new(struct vsock_dev *dev, int fd, enum vsock_state st)
{
	struct epoll_event ev = { .events = STREAM_EVENTS };

	for (unsigned i = 0; i < dev->max_conns; i++) {
		struct vsock_conn *c = &dev->conns[i];

		if (c->state != VC_FREE)
			continue;
		ev.data.u64 = dev->tag_conn + i;
		if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			break;
		conn_sndbuf(fd);
		*c = (struct vsock_conn){ .state = st, .fd = fd, .readable = true };
		dev->nconns++;
		if (i >= dev->hi)
			dev->hi = i + 1;
		return c;
	}
	dev->stats.table_full++;
	close(fd);
	return NULL;
}

/* Writability matters only while bytes wait in c->buf: a stream asks for EPOLLOUT then
 * alone (otherwise every read by the host peer would wake the loop). */
static void conn_watch_out(struct vsock_dev *dev, struct vsock_conn *c, bool on)
{
	struct epoll_event ev = { .events = STREAM_EVENTS | (on ? EPOLLOUT : 0),
				  .data.u64 = dev->tag_conn + (uint64_t)(c - dev->conns) };

	if (c->out_watched != on && epoll_ctl(dev->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out_watched = on;
}

/* Forgets a stream without telling the guest. */
static void conn_drop(struct vsock_dev *dev, struct vsock_conn *c)
{
	epoll_ctl(dev->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	*c = (struct vsock_conn){ .state = VC_FREE, .fd = -1 };
	dev->nconns--;
	while (dev->hi && dev->conns[dev->hi - 1].state == VC_FREE)
		dev->hi--;
}

static void rst_queue(struct vsock_dev *dev, uint32_t host_port, uint32_t guest_port)
{
	if (dev->rst_len == dev->rst_cap) {
		dev->stats.rst_dropped++;
		return;
	}
	dev->rst[(dev->rst_head + dev->rst_len++) % dev->rst_cap] =
		(typeof(*dev->rst)){ host_port, guest_port };
}

/* Closes the host side and sends RST to the guest (if the guest knows the stream). */
void conn_reset(struct vsock_dev *dev, struct vsock_conn *c)
{
	bool known = c->state == VC_OPEN || (c->state == VC_CONNECTING && !(c->pending & PEND_REQUEST));

	if (known)
		rst_queue(dev, c->host_port, c->guest_port);
	conn_drop(dev, c);
}

/* Both directions finished and nothing owed, or the guest closed and its bytes are all written:
 * the stream ends with RST. */
void conn_maybe_finish(struct vsock_dev *dev, struct vsock_conn *c)
{
	if (c->state != VC_OPEN || c->buf_len)
		return;
	if (c->guest_gone)
		conn_drop(dev, c); /* the guest already reset it: nothing to tell */
	else if (c->guest_closed || (c->host_eof && c->guest_no_send && !c->pending))
		conn_reset(dev, c);
}

/* The guest's RST. A stream it closed whose bytes still wait for the host socket keeps
 * draining: they were sent before the close, and Linux resets a closed stream after its close
 * timeout (8 s) whether or not the peer read them. Anything else ends now. */
static void on_guest_rst(struct vsock_dev *dev, struct vsock_conn *c)
{
	if (c->state == VC_OPEN && c->guest_closed && c->buf_len) {
		c->guest_gone = true;
		c->pending = 0; /* no packet goes to a guest that forgot the stream */
		return;
	}
	conn_drop(dev, c);
}

void hdr_for(const struct vsock_dev *dev, struct vsock_conn *c, struct vsock_hdr *h, uint16_t op)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID, .dst_cid = dev->cid, .src_port = c->host_port,
		.dst_port = c->guest_port, .type = VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = VSOCK_BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
	};
	c->fwd_told = c->fwd_cnt;
}

/* ---- guest -> host data ---- */

static void credit_check(struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_told >= VSOCK_BUF_ALLOC / 4)
		c->pending |= PEND_CREDIT;
}

/* Writes buffered bytes to the socket; then the half-close the guest asked for. */
static void conn_flush(struct vsock_dev *dev, struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t chunk = VSOCK_BUF_ALLOC - c->buf_head;
		ssize_t w;

		if (chunk > c->buf_len)
			chunk = c->buf_len;
		w = send(c->fd, c->buf + c->buf_head, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return conn_watch_out(dev, c, true);
		if (w <= 0) {
			conn_reset(dev, c);
			return;
		}
		c->buf_head = (c->buf_head + (uint32_t)w) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	conn_watch_out(dev, c, false);
	credit_check(c);
	if (c->guest_no_send && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	conn_maybe_finish(dev, c);
}

static void conn_rx_data(struct vsock_dev *dev, struct vsock_conn *c,
			 const struct virtq_elem *e, uint32_t len)
{
	struct iovec s[VIRTQ_IOV_MAX];
	unsigned k = iov_slice(e->iov, e->out_num, HDR_LEN, len, s);
	size_t done = 0;

	if (c->buf_len + (uint64_t)len > VSOCK_BUF_ALLOC) {
		bad(dev, &dev->stats.credit_overflows, "more data than the credit allows", len);
		conn_reset(dev, c);
		return;
	}
	c->rx_cnt += len;
	if (!c->buf_len && len) {
		ssize_t w = sendmsg(c->fd, &(struct msghdr){ .msg_iov = s, .msg_iovlen = k },
				    MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return conn_reset(dev, c);
		done = w > 0 ? (size_t)w : 0;
		c->fwd_cnt += (uint32_t)done;
	}
	if (done < len && !c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC)))
		return conn_reset(dev, c);
	while (done < len) { /* the rest into the ring buffer, at most two pieces */
		uint32_t at = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
		uint32_t room = VSOCK_BUF_ALLOC - at, n = len - (uint32_t)done;

		if (n > room)
			n = room;
		iov_copy(e->iov, e->out_num, HDR_LEN + done, c->buf + at, n, false);
		c->buf_len += n;
		done += n;
		dev->stats.buffered += n;
		conn_watch_out(dev, c, true);
	}
	credit_check(c);
}

/* ---- the tx queue: packets from the guest ---- */

static void guest_connect(struct vsock_dev *dev, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd;

	if (dev->nconns >= dev->max_conns) {
		dev->stats.table_full++;
		return rst_queue(dev, h->dst_port, h->src_port);
	}
	/* connect_base leaves room for "_4294967295" (checked in vsock_open). */
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", dev->connect_base, h->dst_port) >=
	    (int)sizeof(sa.sun_path))
		return rst_queue(dev, h->dst_port, h->src_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_info("guest port %u -> host port %u: %s: %m", h->src_port, h->dst_port,
			 sa.sun_path);
		dev->stats.refused++;
		if (fd >= 0)
			close(fd);
		return rst_queue(dev, h->dst_port, h->src_port);
	}
	c = conn_new(dev, fd, VC_OPEN);
	if (!c)
		return rst_queue(dev, h->dst_port, h->src_port);
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending |= PEND_RESPONSE;
}

static void on_response(struct vsock_dev *dev, struct vsock_conn *c)
{
	char line[VSOCK_LINE_MAX];
	int n = snprintf(line, sizeof(line), "OK %u\n", c->host_port);

	if (c->state != VC_CONNECTING || (c->pending & PEND_REQUEST))
		return conn_reset(dev, c);
	if (send(c->fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		return conn_reset(dev, c);
	c->state = VC_OPEN;
	c->readable = true;
}

static void on_shutdown(struct vsock_dev *dev, struct vsock_conn *c, uint32_t flags)
{
	if (flags & ~(VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND))
		bad(dev, &dev->stats.bad_packets, "unknown SHUTDOWN flags", flags);
	if ((flags & 3) == 3) { /* the guest closed: what it sent is written (now or as the host
				 * socket drains: conn_flush), then RST */
		c->guest_no_send = true;
		c->guest_closed = true;
		conn_flush(dev, c);
		if (c->state != VC_FREE && c->state != VC_OPEN)
			conn_reset(dev, c);
		return;
	}
	if (flags & VSOCK_SHUTDOWN_SEND) {
		c->guest_no_send = true;
		conn_flush(dev, c);
	}
}

static void conn_packet(struct vsock_dev *dev, struct vsock_conn *c, const struct vsock_hdr *h,
			const struct virtq_elem *e)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		return on_response(dev, c);
	case VSOCK_OP_RW:
		if (c->state != VC_OPEN || c->guest_no_send)
			return conn_reset(dev, c);
		return conn_rx_data(dev, c, e, h->len);
	case VSOCK_OP_CREDIT_UPDATE:
		return;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= PEND_CREDIT;
		return;
	case VSOCK_OP_SHUTDOWN:
		return on_shutdown(dev, c, h->flags);
	default:
		bad(dev, &dev->stats.bad_packets, "unknown op", h->op);
		return conn_reset(dev, c);
	}
}

/* Checks what every packet must satisfy; false: dropped or answered with RST. */
static bool packet_ok(struct vsock_dev *dev, const struct vsock_hdr *h, const struct virtq_elem *e)
{
	int i = conn_find(dev, h->dst_port, h->src_port);
	const char *why = NULL;

	if (h->src_cid != dev->cid) { /* no RST: the addresses are not the guest's */
		bad(dev, &dev->stats.spoofed, "source CID is not the guest's", h->src_cid);
		return false;
	}
	if (h->dst_cid != VSOCK_HOST_CID)
		why = "destination CID is not the host";
	else if (h->type != VSOCK_TYPE_STREAM)
		why = "type is not stream";
	else if (h->len > e->out_len - HDR_LEN || h->len > VSOCK_MAX_PAYLOAD)
		why = "length past the buffer or the payload limit";
	else if (h->len && h->op != VSOCK_OP_RW)
		why = "payload on a control packet";
	if (!why)
		return true;
	bad(dev, &dev->stats.bad_packets, why, h->len);
	if (i >= 0)
		conn_reset(dev, &dev->conns[i]);
	else if (h->op != VSOCK_OP_RST)
		rst_queue(dev, h->dst_port, h->src_port);
	return false;
}

static void tx_packet(struct vsock_dev *dev, const struct virtq_elem *e)
{
	struct vsock_hdr h;
	int i;

	if (e->out_len < HDR_LEN || iov_copy(e->iov, e->out_num, 0, &h, HDR_LEN, false) != HDR_LEN)
		return bad(dev, &dev->stats.bad_packets, "tx buffer shorter than a header",
			   e->out_len);
	if (!packet_ok(dev, &h, e))
		return;
	i = conn_find(dev, h.dst_port, h.src_port);
	if (h.op == VSOCK_OP_RST) {
		if (i >= 0)
			on_guest_rst(dev, &dev->conns[i]);
		return;
	}
	if (i >= 0 && dev->conns[i].guest_gone) {
		/* A stream the guest reset is only draining to the host. A REQUEST on its ports is
		 * a new stream, to which it gives way (its host end sees the end); anything else
		 * belongs to no stream the guest knows and is ignored. */
		if (h.op != VSOCK_OP_REQUEST)
			return;
		conn_drop(dev, &dev->conns[i]);
		i = -1;
	}
	if (h.op == VSOCK_OP_REQUEST) {
		if (i >= 0) /* a second REQUEST for a live stream: both ends start over */
			return conn_reset(dev, &dev->conns[i]);
		return guest_connect(dev, &h);
	}
	if (i < 0)
		return rst_queue(dev, h.dst_port, h.src_port);
	conn_packet(dev, &dev->conns[i], &h, e);
}

/* Takes every packet the guest queued; true if any was returned to it (to be notified). */
static bool tx_pump(struct vsock_dev *dev)
{
	struct virtq *vq = &dev->vu.queues[VSOCK_Q_TX].vq;
	bool pushed = false;

	if (!vu_queue_ready(&dev->vu, VSOCK_Q_TX))
		return false;
	for (;;) {
		int rc = virtq_pop(vq, &dev->vu.mem, &dev->tx_elem);

		if (rc < 0)
			break;
		if (rc == 0) {
			virtq_arm_kick(vq);
			if (!virtq_avail_pending(vq))
				break;
			continue;
		}
		tx_packet(dev, &dev->tx_elem);
		if (virtq_push(vq, dev->tx_elem.head, 0) == 0)
			pushed = true;
	}
	return pushed;
}

void vsock_process(struct vsock_dev *dev)
{
	bool tx_done = tx_pump(dev);

	rx_pump(dev);
	if (tx_done)
		vu_queue_notify(&dev->vu, VSOCK_Q_TX);
}

/* ---- the hybrid socket: host-initiated streams ---- */

void vsock_accept(struct vsock_dev *dev)
{
	for (;;) {
		int fd = accept4(dev->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("accept on %s: %m", dev->uds_path);
			return;
		}
		if (dev->nconns >= dev->max_conns) {
			dev->stats.table_full++;
			close(fd); /* the host sees EOF before OK */
			continue;
		}
		struct vsock_conn *c = conn_new(dev, fd, VC_HOST_LINE);

		if (c)
			wait_deadline(dev, c);
	}
}

static uint32_t ephemeral_port(struct vsock_dev *dev)
{
	for (;;) {
		uint32_t p = dev->next_port++;
		bool used = false;

		if (dev->next_port == UINT32_MAX)
			dev->next_port = FIRST_EPHEMERAL;
		for (unsigned i = 0; i < dev->hi && !used; i++)
			used = dev->conns[i].state > VC_HOST_LINE && dev->conns[i].host_port == p;
		if (!used)
			return p;
	}
}

/* "CONNECT <port>\n", decimal, nothing else; true with *port set. */
static bool parse_connect(const char *line, uint32_t *port)
{
	char *end;
	unsigned long v;

	if (strncmp(line, "CONNECT ", 8) || line[8] < '0' || line[8] > '9')
		return false;
	errno = 0;
	v = strtoul(line + 8, &end, 10);
	if (errno || v > UINT32_MAX || strcmp(end, "\n"))
		return false;
	*port = (uint32_t)v;
	return true;
}

static void read_line(struct vsock_dev *dev, struct vsock_conn *c)
{
	char line[VSOCK_LINE_MAX + 1];
	ssize_t n = recv(c->fd, line, VSOCK_LINE_MAX, MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	uint32_t port;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return conn_drop(dev, c);
	nl = memchr(line, '\n', (size_t)n);
	if (!nl && n < VSOCK_LINE_MAX)
		return; /* more to come */
	if (!nl || recv(c->fd, line, (size_t)(nl - line + 1), MSG_DONTWAIT) != nl - line + 1)
		return conn_drop(dev, c);
	nl[1] = 0;
	if (!parse_connect(line, &port)) {
		log_info("hybrid socket: not a CONNECT line; closing");
		return conn_drop(dev, c);
	}
	c->guest_port = port;
	c->host_port = ephemeral_port(dev);
	c->state = VC_CONNECTING;
	c->pending |= PEND_REQUEST;
	wait_deadline(dev, c);
	c->peer_buf_alloc = 0; /* no credit until the guest's RESPONSE says how much */
}

void vsock_timer(struct vsock_dev *dev)
{
	uint64_t ticks, now = now_ms();
	bool waiting = false;

	if (read(dev->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warn("timerfd read: %m");
	for (unsigned i = 0; i < dev->hi; i++) {
		struct vsock_conn *c = &dev->conns[i];

		if (c->state != VC_HOST_LINE && c->state != VC_CONNECTING)
			continue;
		if (now < c->deadline_ms) {
			waiting = true;
			continue;
		}
		dev->stats.timeouts++;
		log_info("%s timed out; closing", c->state == VC_HOST_LINE ? "a CONNECT line" :
			 "the guest's RESPONSE");
		conn_reset(dev, c); /* RST if the guest saw the REQUEST */
	}
	if (!waiting && timerfd_settime(dev->timer_fd, 0, &(struct itimerspec){ 0 }, NULL) == 0)
		dev->timer_armed = false;
	rx_pump(dev);
}

void vsock_conn_event(struct vsock_dev *dev, unsigned i, uint32_t events)
{
	struct vsock_conn *c;

	if (i >= dev->hi || dev->conns[i].state == VC_FREE)
		return;
	c = &dev->conns[i];
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (c->state == VC_HOST_LINE && c->readable)
		read_line(dev, c);
	else if ((events & EPOLLOUT) && c->buf_len)
		conn_flush(dev, c);
	rx_pump(dev);
}

void vsock_close(struct vsock_dev *dev)
{
	const struct vsock_stats *st = &dev->stats;

	log_info("bad packets %llu, spoofed %llu, credit overflows %llu, refused %llu, "
		 "table full %llu, connect timeouts %llu, RSTs dropped %llu; bytes buffered %llu",
		 (unsigned long long)st->bad_packets, (unsigned long long)st->spoofed,
		 (unsigned long long)st->credit_overflows, (unsigned long long)st->refused,
		 (unsigned long long)st->table_full, (unsigned long long)st->timeouts,
		 (unsigned long long)st->rst_dropped, (unsigned long long)st->buffered);
	for (unsigned i = 0; i < dev->hi; i++)
		if (dev->conns[i].state != VC_FREE)
			conn_reset(dev, &dev->conns[i]);
	if (dev->vu.ops) { /* attached: tell the guest, as far as rx buffers allow */
		rx_pump(dev);
		vs_quiesce(dev, -1);
		vu_dev_cleanup(&dev->vu);
	}
	free(dev->conns);
	free(dev->rst);
	dev->conns = NULL;
	dev->rst = NULL;
	if (dev->listen_fd >= 0)
		close(dev->listen_fd);
	if (dev->timer_fd >= 0)
		close(dev->timer_fd);
	dev->listen_fd = dev->timer_fd = -1;
}

/* blk.c: virtio-blk request handling over vhost-user queues, asynchronous through io_uring. */
#define _GNU_SOURCE
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define SIZE_MAX_BYTES (1u << 20)
#define SEG_MAX        (VIRTQ_IOV_MAX - 2)
#define MAX_RANGE_SEGS 32
#define MAX_RANGE_SECTORS (1u << 22)
#define URING_ENTRIES  1024

struct blk_req {
	struct blk_dev *dev;
	struct blk_req *next_free;
	unsigned q;
	int pending;             /* io_uring operations not yet completed */
	uint8_t status;
	bool discard;
	uint8_t *status_hva;
	uint64_t expect;         /* bytes a read or write must transfer */
	uint32_t used_len;
	struct virtq_elem elem;
	struct iovec data[VIRTQ_IOV_MAX];
	unsigned ndata;
};

static void blk_get_config(void *opaque, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct blk_dev *dev = opaque;

	memcpy(buf, (const uint8_t *)&dev->cfg + off, len);
}

static int blk_set_config(void *opaque, uint32_t off, const uint8_t *buf, uint32_t len,
			  uint32_t flags)
{
	/* writeback is writable only with VIRTIO_BLK_F_CONFIG_WCE, which is not offered. */
	return -EPERM;
}

static void blk_quiesce(void *opaque, int q);

static void blk_kick_changed(void *opaque, unsigned q, int old_fd, int new_fd)
{
	struct blk_dev *dev = opaque;

	if (dev->watch)
		dev->watch(dev->loop, q, old_fd, new_fd);
}

static const struct vu_device_ops blk_ops = {
	.get_config = blk_get_config,
	.set_config = blk_set_config,
	.kick_changed = blk_kick_changed,
	.quiesce = blk_quiesce,
};

static int disk_size(int fd, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, bytes) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*bytes = (uint64_t)st.st_size;
	return 0;
}

static void fill_config(struct blk_dev *dev, unsigned num_queues)
{
	dev->cfg = (struct virtio_blk_config){
		.capacity = dev->sectors, .size_max = SIZE_MAX_BYTES, .seg_max = SEG_MAX,
		.blk_size = VIRTIO_BLK_SECTOR, .num_queues = (uint16_t)num_queues,
		.max_discard_sectors = MAX_RANGE_SECTORS, .max_discard_seg = MAX_RANGE_SEGS,
		.discard_sector_alignment = 8,
		.max_write_zeroes_sectors = MAX_RANGE_SECTORS, .max_write_zeroes_seg = MAX_RANGE_SEGS,
		.write_zeroes_may_unmap = 1,
	};
}

/*
 * io_uring operations bypass seccomp, so the ring is created disabled, told which opcodes it
 * may ever run (the four the device uses, no SQE flags, no register call once enabled), then
 * enabled by blk_enable_ring(). An openat, socket or connect submitted from a compromised
 * process gets -EACCES.
 *
 * DEFER_TASKRUN (with SINGLE_ISSUER, Linux 6.1): completions of work handed to io_uring's
 * workers (buffered writes on ext4) wait as task work until the loop asks for them
 * (ring_events()), instead of interrupting and waking it once each; the eventfd fires for
 * the first. The issuer is the task that enables the ring: the jailed worker.
 */
static int ring_init(struct blk_dev *dev)
{
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = 0 },
	};
	unsigned defer = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 IORING_SETUP_TASKRUN_FLAG;
	int rc = io_uring_queue_init(URING_ENTRIES, &dev->ring, IORING_SETUP_R_DISABLED | defer);

	if (rc == -EINVAL) /* an older kernel */
		rc = io_uring_queue_init(URING_ENTRIES, &dev->ring, IORING_SETUP_R_DISABLED);
	if (rc)
		return rc;
	dev->ring_ok = true;
	dev->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->ring_efd < 0)
		return -errno;
	rc = io_uring_register_eventfd(&dev->ring, dev->ring_efd);
	if (rc)
		return rc;
	/* Raw calls: Debian's liburing 2.3 declares the helpers but does not export them. */
	if (syscall(__NR_io_uring_register, dev->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res,
		    sizeof(res) / sizeof(res[0])) < 0)
		return -errno;
	return 0;
}

int blk_enable_ring(struct blk_dev *dev)
{
	if (syscall(__NR_io_uring_register, dev->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* True when deferred completions wait to be collected (TASKRUN_FLAG: no system call). */
static bool ring_deferred(const struct blk_dev *dev)
{
	return (dev->ring.flags & IORING_SETUP_DEFER_TASKRUN) &&
	       (IO_URING_READ_ONCE(*dev->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

/* Runs deferred completions (DEFER_TASKRUN), posting their CQEs, if there are any. */
static void ring_events(struct blk_dev *dev)
{
	if (ring_deferred(dev) &&
	    syscall(__NR_io_uring_enter, dev->ring.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		log_warn("io_uring: collecting completions: %m");
}

int blk_open(struct blk_dev *dev, const struct blk_opts *o, const char **what)
{
	uint64_t bytes = 0;
	int rc;

	*dev = (struct blk_dev){ .fd = -1, .ring_efd = -1, .readonly = o->readonly };
	*what = "open";
	dev->fd = open(o->path, (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
				(o->direct ? O_DIRECT : 0));
	if (dev->fd < 0)
		return -errno;
	*what = "size";
	rc = disk_size(dev->fd, &bytes);
	if (rc)
		return rc;
	if (bytes % VIRTIO_BLK_SECTOR)
		log_warn("%s: size %llu is not a multiple of 512; the tail is not visible",
			 o->path, (unsigned long long)bytes);
	dev->sectors = bytes / VIRTIO_BLK_SECTOR;
	strncpy(dev->serial, o->serial ? o->serial : "", BLK_SERIAL_LEN); /* NUL-padded, not terminated */
	fill_config(dev, o->num_queues);
	/* Buffered I/O tries the page cache inline first; O_DIRECT always goes through io_uring
	 * (a synchronous direct read would wait for the device in the loop). */
	dev->inl[0].on = !o->direct;
	dev->inl[1].on = !o->direct && !o->readonly;
	dev->sync_alone = !o->direct && !o->readonly;
	*what = "io_uring";
	return ring_init(dev);
}

int blk_attach(struct blk_dev *dev, int sock, blk_watch_fn *watch, void *loop)
{
	uint64_t f = (1ull << VU_F_VERSION_1) | (1ull << VU_F_RING_EVENT_IDX) |
		     (1ull << VU_F_RING_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		     (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		     (1ull << VIRTIO_BLK_F_MQ) | (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	struct vu_dev_params p = {
		.sock = sock, .num_queues = dev->cfg.num_queues, .config_len = sizeof(dev->cfg),
		.ops = &blk_ops, .opaque = dev,
		.features = f | (dev->readonly ? 1ull << VIRTIO_BLK_F_RO : 0),
		/* Requests complete out of order (io_uring): a successor must know which were
		 * in flight. */
		.protocol_features = 1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD,
	};

	dev->watch = watch;
	dev->loop = loop;
	return vu_dev_init(&dev->vu, &p);
}

/* ---- request pool and helpers ---- */

static int queue_pool(struct blk_dev *dev, unsigned q)
{
	struct blk_queue *bq = &dev->queues[q];
	unsigned num = dev->vu.queues[q].vq.num;

	if (bq->nreqs == num)
		return 0;
	if (virtq_inflight(&dev->vu.queues[q].vq) && bq->reqs)
		return -EBUSY; /* resized under our feet: wait until the old requests finish */
	free(bq->reqs);
	bq->free = NULL;
	bq->nreqs = 0;
	bq->reqs = calloc(num, sizeof(*bq->reqs));
	if (!bq->reqs)
		return -ENOMEM;
	bq->nreqs = num;
	for (unsigned i = 0; i < num; i++) {
		bq->reqs[i] = (struct blk_req){ .dev = dev, .q = q, .next_free = bq->free };
		bq->free = &bq->reqs[i];
	}
	return 0;
}

/* Copies len bytes starting skip bytes into the iovec; returns how many were copied. */
static size_t iov_read(const struct iovec *iov, unsigned n, size_t skip, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = l - skip < len - done ? l - skip : len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)iov[i].iov_base + skip, take);
		done += take;
		skip = 0;
	}
	return done;
}

static void bad_request(struct blk_dev *dev, unsigned q, const char *why, unsigned long long v)
{
	uint64_t n = ++dev->queues[q].bad_requests;

	/* Guest-triggered: log the 1st, 2nd, 4th, 8th... so a flood cannot fill the log. */
	if ((n & (n - 1)) == 0)
		log_warn("queue %u: bad request (%s: %llu); %llu so far", q, why, v,
			 (unsigned long long)n);
}

static void req_finish(struct blk_req *r, uint8_t status)
{
	struct blk_dev *dev = r->dev;
	struct blk_queue *bq = &dev->queues[r->q];

	if (r->status_hva)
		__atomic_store_n(r->status_hva, status, __ATOMIC_RELAXED);
	/* Published by notify_all(), which ends every pass: one used idx store per batch. */
	if (virtq_fill(&dev->vu.queues[r->q].vq, r->elem.head, status ? 1 : r->used_len) == 0)
		bq->notify = true;
	r->next_free = bq->free;
	bq->free = r;
}

static struct io_uring_sqe *get_sqe(struct blk_dev *dev)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&dev->ring);

	if (!sqe && io_uring_submit(&dev->ring) >= 0)
		sqe = io_uring_get_sqe(&dev->ring);
	return sqe;
}

/* ---- request types ---- */

static bool range_ok(const struct blk_dev *dev, uint64_t sector, uint64_t count)
{
	return sector <= dev->sectors && count <= dev->sectors - sector;
}

/*
 * The fast path: one preadv2/pwritev2 with RWF_NOWAIT, in the loop. It succeeds only when
 * the kernel can do it without blocking (pages cached, nothing to wait for); true if the
 * whole request is done. EAGAIN, a short transfer or an error: the request goes to io_uring
 * whole (repeating a partial read or write is harmless), so a slow request still never
 * stalls the queue. EOPNOTSUPP (ext4 refuses buffered RWF_NOWAIT writes): off for good.
 */
static bool rw_inline(struct blk_dev *dev, struct blk_req *r, uint64_t off, uint64_t len,
		      bool write)
{
	struct blk_inline *in = &dev->inl[write];
	ssize_t n;

	if (!in->on)
		return false;
	n = write ? pwritev2(dev->fd, r->data, (int)r->ndata, (off_t)off, RWF_NOWAIT)
		  : preadv2(dev->fd, r->data, (int)r->ndata, (off_t)off, RWF_NOWAIT);
	if (n >= 0 && (uint64_t)n == len) {
		in->done++;
		return true;
	}
	if (n < 0 && errno == EOPNOTSUPP) {
		in->on = false;
		log_info("inline %ss off: RWF_NOWAIT refused (%m); io_uring only",
			 write ? "write" : "read");
	}
	in->fallback++;
	return false;
}

static unsigned busy(struct blk_dev *dev, int q);

/* True when r is the only request the device holds: none other in flight on any queue and
 * none posted behind it. */
static bool req_alone(struct blk_dev *dev)
{
	if (busy(dev, -1) != 1)
		return false;
	for (unsigned q = 0; q < dev->vu.num_queues; q++)
		if (virtq_avail_pending(&dev->vu.queues[q].vq))
			return false;
	return true;
}

/*
 * A lone buffered write, done in the loop with a plain pwritev2 as a synchronous driver
 * would (fio psync): the driver waits for it anyway, and io_uring would hand it to a worker
 * thread (ext4 refuses RWF_NOWAIT writes), a wake-up and a completion hand-off per request.
 * Nothing else can wait behind it: no other request is in flight or posted (io_uring's
 * workers run buffered writes to one file one at a time anyway). Whatever is posted while it
 * runs is popped right after. A short write or an error: to io_uring whole, as above.
 */
static bool write_alone(struct blk_dev *dev, struct blk_req *r, uint64_t off, uint64_t len)
{
	ssize_t n;

	if (!dev->sync_alone || !req_alone(dev))
		return false;
	n = pwritev2(dev->fd, r->data, (int)r->ndata, (off_t)off, 0);
	if (n < 0 || (uint64_t)n != len)
		return false;
	dev->sync_writes++;
	return true;
}

/*
 * A batch: more requests are posted behind this one, or earlier ones of this pass wait in the
 * submission queue. They all go to io_uring, one io_uring_enter for the lot, which tries each
 * buffered read in the page cache at submission (as RWF_NOWAIT does) and posts its completion
 * at once; blk_process() reaps them right after. One system call per batch instead of one
 * preadv2 per request.
 */
static bool batch(struct blk_dev *dev, unsigned q)
{
	return io_uring_sq_ready(&dev->ring) > 0 || virtq_avail_pending(&dev->vu.queues[q].vq);
}

static int do_rw(struct blk_dev *dev, struct blk_req *r, const struct virtio_blk_hdr *h, bool write)
{
	const struct virtq_elem *e = &r->elem;
	uint64_t len = write ? e->out_len - sizeof(*h) : e->in_len - 1;
	struct io_uring_sqe *sqe;

	if (write && dev->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % VIRTIO_BLK_SECTOR || len > (uint64_t)SEG_MAX * SIZE_MAX_BYTES ||
	    !range_ok(dev, h->sector, len / VIRTIO_BLK_SECTOR)) {
		bad_request(dev, r->q, "bad sector range or length, sector", h->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	if (write)
		r->ndata = iov_slice(e->iov, e->out_num, sizeof(*h), len, r->data);
	else
		r->ndata = iov_slice(e->iov + e->out_num, e->in_num, 0, len, r->data);
	r->used_len = (uint32_t)((write ? 0 : len) + 1);
	if ((!batch(dev, r->q) && rw_inline(dev, r, h->sector * VIRTIO_BLK_SECTOR, len, write)) ||
	    (write && write_alone(dev, r, h->sector * VIRTIO_BLK_SECTOR, len)))
		return VIRTIO_BLK_S_OK;
	sqe = get_sqe(dev);
	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	if (write)
		io_uring_prep_writev(sqe, dev->fd, r->data, r->ndata, h->sector * VIRTIO_BLK_SECTOR);
	else
		io_uring_prep_readv(sqe, dev->fd, r->data, r->ndata, h->sector * VIRTIO_BLK_SECTOR);
	io_uring_sqe_set_data(sqe, r);
	r->expect = len;
	r->pending = 1;
	return -1;
}

static int do_flush(struct blk_dev *dev, struct blk_req *r)
{
	struct io_uring_sqe *sqe = get_sqe(dev);

	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	io_uring_prep_fsync(sqe, dev->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, r);
	r->expect = 0;
	r->pending = 1;
	return -1;
}

static int do_get_id(struct blk_dev *dev, struct blk_req *r)
{
	uint64_t len = r->elem.in_len - 1;
	size_t n = len < BLK_SERIAL_LEN ? (size_t)len : BLK_SERIAL_LEN;

	r->ndata = iov_slice(r->elem.iov + r->elem.out_num, r->elem.in_num, 0, n, r->data);
	for (unsigned i = 0, off = 0; i < r->ndata; off += r->data[i].iov_len, i++)
		memcpy(r->data[i].iov_base, dev->serial + off, r->data[i].iov_len);
	r->used_len = (uint32_t)n + 1;
	return VIRTIO_BLK_S_OK;
}

static int check_ranges(struct blk_dev *dev, struct blk_req *r, const struct virtio_blk_range *s,
			unsigned n, bool discard)
{
	for (unsigned i = 0; i < n; i++) {
		if (s[i].flags & ~1u)
			return VIRTIO_BLK_S_UNSUPP; /* reserved flags */
		if (discard && s[i].flags)
			return VIRTIO_BLK_S_UNSUPP; /* the spec: unmap is not a discard flag */
		if (s[i].num_sectors > MAX_RANGE_SECTORS ||
		    !range_ok(dev, s[i].sector, s[i].num_sectors)) {
			bad_request(dev, r->q, "discard/write-zeroes range, sector", s[i].sector);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	return VIRTIO_BLK_S_OK;
}

static int do_ranges(struct blk_dev *dev, struct blk_req *r, bool discard)
{
	struct virtio_blk_range segs[MAX_RANGE_SEGS];
	uint64_t len = r->elem.out_len - sizeof(struct virtio_blk_hdr);
	unsigned n = (unsigned)(len / sizeof(segs[0]));
	int st;

	if (dev->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len == 0 || len % sizeof(segs[0]) || len > sizeof(segs)) {
		bad_request(dev, r->q, "discard/write-zeroes payload bytes", len);
		return VIRTIO_BLK_S_IOERR;
	}
	iov_read(r->elem.iov, r->elem.out_num, sizeof(struct virtio_blk_hdr), segs, len); /* copied once */
	st = check_ranges(dev, r, segs, n, discard);
	if (st != VIRTIO_BLK_S_OK)
		return st;
	r->discard = discard;
	r->expect = 0;
	for (unsigned i = 0; i < n; i++) {
		int mode = FALLOC_FL_KEEP_SIZE |
			   (discard || segs[i].flags ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
		struct io_uring_sqe *sqe = get_sqe(dev);

		if (!sqe)
			return r->pending ? (r->status = VIRTIO_BLK_S_IOERR, -1) : VIRTIO_BLK_S_IOERR;
		io_uring_prep_fallocate(sqe, dev->fd, mode, (off_t)(segs[i].sector * VIRTIO_BLK_SECTOR),
					(off_t)((uint64_t)segs[i].num_sectors * VIRTIO_BLK_SECTOR));
		io_uring_sqe_set_data(sqe, r);
		r->pending++;
	}
	return r->pending ? -1 : VIRTIO_BLK_S_OK;
}

static int req_dispatch(struct blk_dev *dev, struct blk_req *r, const struct virtio_blk_hdr *h)
{
	switch (h->type) {
	case VIRTIO_BLK_T_IN:
		return do_rw(dev, r, h, false);
	case VIRTIO_BLK_T_OUT:
		return do_rw(dev, r, h, true);
	case VIRTIO_BLK_T_FLUSH:
		return do_flush(dev, r);
	case VIRTIO_BLK_T_GET_ID:
		return do_get_id(dev, r);
	case VIRTIO_BLK_T_DISCARD:
		return do_ranges(dev, r, true);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return do_ranges(dev, r, false);
	default:
		bad_request(dev, r->q, "unknown request type", h->type);
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Starts one popped request; it completes now or when its io_uring operations do. */
static void req_start(struct blk_dev *dev, struct blk_req *r)
{
	const struct virtq_elem *e = &r->elem;
	const struct iovec *last = &e->iov[e->out_num + e->in_num - 1];
	struct virtio_blk_hdr h;
	int st;

	r->pending = 0;
	r->status = VIRTIO_BLK_S_OK;
	r->status_hva = NULL;
	r->discard = false;
	r->used_len = 1;
	if (e->in_num == 0) {
		/* Nowhere to put a status: the chain is not a request at all. */
		virtq_mark_broken(&dev->vu.queues[r->q].vq, "request without a status byte, head",
				  e->head);
		req_finish(r, VIRTIO_BLK_S_IOERR); /* no status written; the push is refused */
		return;
	}
	r->status_hva = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (e->out_len < sizeof(h)) {
		bad_request(dev, r->q, "request header bytes (need 16)", e->out_len);
		req_finish(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	dev->queues[r->q].hint = e->iov[0].iov_base;
	iov_read(e->iov, e->out_num, 0, &h, sizeof(h)); /* copied once, then validated */
	st = req_dispatch(dev, r, &h);
	if (st >= 0)
		req_finish(r, (uint8_t)st);
}

static void reap(struct blk_dev *dev);
static void notify_all(struct blk_dev *dev);

/* Submits what a pass prepared, collects what completed at once, publishes and signals. */
static void pass_flush(struct blk_dev *dev, struct virtq *vq)
{
	virtq_flush(vq); /* what completed inline, before a submission's system call */
	if (io_uring_submit(&dev->ring) < 0)
		log_error("io_uring submit failed");
	else if (io_uring_cq_ready(&dev->ring))
		reap(dev); /* what completed at submission (page-cache hits) */
	notify_all(dev);
}

/*
 * A long pass is published (and, if the driver asked, signalled) every BLK_PART requests,
 * so a driver that sleeps until a completion wakes while the rest of the pass is still being
 * done and refills the ring in parallel, instead of the two sides taking turns once per ring.
 * EVENT_IDX keeps it to one signal per sleep of the driver. QD32 randread A/B, interleaved
 * (docs/benchmarks.md): 444k IOPS for one publication per pass, 592k every 4, 637k every 8.
 */
#define BLK_PART 8

void blk_process(struct blk_dev *dev, unsigned q)
{
	struct blk_queue *bq = &dev->queues[q];
	struct virtq *vq = &dev->vu.queues[q].vq;
	unsigned started = 0;
	int rc = 0;

	if (!vu_queue_ready(&dev->vu, q) || queue_pool(dev, q))
		return;
	virtq_prefetch(vq);
	if (bq->hint)
		__builtin_prefetch(bq->hint, 1); /* the header, and a status byte beside it */
	for (;;) {
		while (bq->free && (rc = virtq_pop(vq, &dev->vu.mem, &bq->free->elem)) == 1) {
			struct blk_req *r = bq->free;

			bq->free = r->next_free;
			req_start(dev, r);
			if (++started % BLK_PART == 0)
				pass_flush(dev, vq);
		}
		if (!bq->free || rc < 0 || dev->polling)
			break; /* resumes when a request completes, or at the next poll */
		virtq_arm_kick(vq);
		if (!virtq_avail_pending(vq))
			break;
	}
	pass_flush(dev, vq);
}

static void reap(struct blk_dev *dev)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&dev->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&dev->ring, cqe);
		if (!r)
			continue;
		if (r->expect ? (uint64_t)res != r->expect : res < 0) {
			/* A discard is a hint: a file system without hole punching still succeeds. */
			if (!(r->discard && res == -EOPNOTSUPP)) {
				r->status = VIRTIO_BLK_S_IOERR;
				if (res < 0)
					bad_request(dev, r->q, "I/O failed, errno", (unsigned long long)-res);
				else /* a read past the end of an image that shrank */
					bad_request(dev, r->q, "short transfer, bytes", (unsigned long long)res);
			}
		}
		if (--r->pending == 0)
			req_finish(r, r->status);
	}
}

static void notify_all(struct blk_dev *dev)
{
	for (unsigned q = 0; q < dev->vu.num_queues; q++) {
		if (dev->queues[q].notify) {
			dev->queues[q].notify = false;
			virtq_flush(&dev->vu.queues[q].vq);
			vu_queue_notify(&dev->vu, q);
		}
	}
}

void blk_complete(struct blk_dev *dev)
{
	uint64_t v;

	/* Collecting posts CQEs, which signal the eventfd once more: collect, then clear it,
	 * then collect what came in between (its signal may have been cleared with ours).
	 * liburing's peek in reap() would collect too (it enters on TASKRUN), but only after
	 * the read, leaving a signal that wakes the loop once more for nothing. */
	ring_events(dev);
	if (read(dev->ring_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("io_uring eventfd read: %m");
	ring_events(dev);
	reap(dev);
	notify_all(dev);
	for (unsigned q = 0; q < dev->vu.num_queues; q++)
		blk_process(dev, q);
}

void blk_set_polling(struct blk_dev *dev, bool on)
{
	dev->polling = on;
	if (!dev->ring_ok)
		return;
	io_uring_cq_eventfd_toggle(&dev->ring, !on);
	/* Task work queued while the eventfd was off signalled nothing: collect it now. */
	if (!on)
		ring_events(dev);
	for (unsigned q = 0; q < dev->vu.num_queues; q++) {
		struct virtq *vq = &dev->vu.queues[q].vq;

		if (!vu_queue_ready(&dev->vu, q))
			continue;
		if (on)
			virtq_suppress_kick(vq);
		else
			virtq_arm_kick(vq);
	}
}

bool blk_poll(struct blk_dev *dev)
{
	bool found;

	if (dev->ring_ok)
		ring_events(dev);
	found = dev->ring_ok && io_uring_cq_ready(&dev->ring) > 0;

	if (found) {
		reap(dev);
		notify_all(dev);
	}
	for (unsigned q = 0; q < dev->vu.num_queues; q++) {
		if (virtq_avail_pending(&dev->vu.queues[q].vq) && vu_queue_ready(&dev->vu, q)) {
			found = true;
			blk_process(dev, q);
		}
	}
	return found;
}

static unsigned busy(struct blk_dev *dev, int q)
{
	unsigned n = 0;

	for (unsigned i = 0; i < dev->vu.num_queues; i++)
		if (q < 0 || (unsigned)q == i)
			n += virtq_inflight(&dev->vu.queues[i].vq);
	return n;
}

static void blk_quiesce(void *opaque, int q)
{
	struct blk_dev *dev = opaque;

	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		dev->queues[i].hint = NULL; /* the memory table may change next */
	while (busy(dev, q)) {
		if (io_uring_submit_and_wait(&dev->ring, 1) < 0) {
			log_error("io_uring wait failed while draining queue %d", q);
			break;
		}
		reap(dev);
	}
	notify_all(dev);
}

bool blk_io_pending(struct blk_dev *dev)
{
	return dev->ring_ok && io_uring_cq_ready(&dev->ring) == 0 && !ring_deferred(dev) &&
	       busy(dev, -1) > 0;
}

void blk_log_stats(const struct blk_dev *dev)
{
	log_info("inline reads %llu (to io_uring after a try: %llu), inline writes %llu (%llu)%s; "
		 "lone writes done in the loop %llu",
		 (unsigned long long)dev->inl[0].done, (unsigned long long)dev->inl[0].fallback,
		 (unsigned long long)dev->inl[1].done, (unsigned long long)dev->inl[1].fallback,
		 dev->inl[0].on || dev->inl[1].on ? "" : "; inline path off",
		 (unsigned long long)dev->sync_writes);
}

void blk_close(struct blk_dev *dev)
{
	if (dev->ring_ok) {
		blk_quiesce(dev, -1);
		io_uring_queue_exit(&dev->ring);
	}
	if (dev->vu.ops) /* attached */
		vu_dev_cleanup(&dev->vu);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++)
		free(dev->queues[q].reqs);
	if (dev->ring_efd >= 0)
		close(dev->ring_efd);
	if (dev->fd >= 0)
		close(dev->fd);
}

/* blk.h: the virtio-blk device behind cellvm-blk: requests, config space, io_uring. */
#ifndef CELLVM_BLK_H
#define CELLVM_BLK_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/vhost_user.h"
#include "../lib/virtio_blk.h"

#define BLK_SERIAL_LEN VIRTIO_BLK_ID_BYTES

struct blk_opts {
	const char *path;
	const char *serial;
	bool readonly;
	bool direct;
	unsigned num_queues;
};

struct blk_req;

struct blk_queue {
	struct blk_req *reqs;     /* one per ring slot, allocated when the queue first runs */
	struct blk_req *free;
	unsigned nreqs;
	bool notify;              /* something was pushed since the last call signal */
	uint8_t *hint;            /* the last request's header: a driver often reuses it */
	uint64_t bad_requests;
};

/* The inline fast path of one direction (0 read, 1 write): RWF_NOWAIT in the loop first. */
struct blk_inline {
	bool on;                  /* off with --direct, or once the file refused RWF_NOWAIT */
	uint64_t done;            /* requests completed inline */
	uint64_t fallback;        /* tried, then handed to io_uring (EAGAIN, short, error) */
};

/* How the owner of the event loop hears that a queue's kick fd changed. */
typedef void blk_watch_fn(void *loop, unsigned q, int old_fd, int new_fd);

struct blk_dev {
	int fd;
	bool readonly;
	uint64_t sectors;
	char serial[BLK_SERIAL_LEN];
	struct virtio_blk_config cfg;
	struct io_uring ring;
	bool ring_ok;
	int ring_efd;             /* signalled by io_uring on completions */
	struct vu_dev vu;
	struct blk_queue queues[VU_MAX_QUEUES];
	blk_watch_fn *watch;
	void *loop;
	bool polling;             /* busy-poll mode: kicks and the completion eventfd are off */
	struct blk_inline inl[2]; /* [0] reads, [1] writes */
	bool sync_alone;          /* a lone buffered write runs in the loop (not --direct) */
	uint64_t sync_writes;     /* writes done that way */
};

/* Opens the disk, sets up io_uring and the config space. -errno; *what names the step. */
int blk_open(struct blk_dev *dev, const struct blk_opts *o, const char **what)
	__attribute__((warn_unused_result));
/* Enables the ring set up by blk_open(); the calling task becomes its only issuer. Call it
 * in the task that serves requests (after the jail's fork), before any I/O. */
int blk_enable_ring(struct blk_dev *dev) __attribute__((warn_unused_result));
/* Starts serving the vhost-user connection on sock. */
int blk_attach(struct blk_dev *dev, int sock, blk_watch_fn *watch, void *loop)
	__attribute__((warn_unused_result));
/* Pops and submits everything available on queue q (if it is ready). */
void blk_process(struct blk_dev *dev, unsigned q);
/* Reaps io_uring completions, pushes finished requests, signals queues. */
void blk_complete(struct blk_dev *dev);
/* Busy-poll mode on: the driver is asked not to kick (EVENT_IDX) and io_uring not to signal
 * its eventfd. Off: both re-armed; then call blk_poll() once more before sleeping. */
void blk_set_polling(struct blk_dev *dev, bool on);
/* One pass without waiting: reaps posted completions and pops posted requests. True if it
 * found either. */
bool blk_poll(struct blk_dev *dev);
/* True while requests are in flight with none of their completions posted yet: I/O that
 * runs elsewhere (io_uring's workers), which a spinning loop would only slow down. */
bool blk_io_pending(struct blk_dev *dev);
/* Logs the inline path's counts (info level). */
void blk_log_stats(const struct blk_dev *dev);
void blk_close(struct blk_dev *dev);

#endif

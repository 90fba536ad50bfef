/* main.c: cellvm-blk, a vhost-user-blk backend process: its options and the epoll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <x86intrin.h>

#include "../lib/backend.h"
#include "blk.h"
#include "log.h"
#include "policy.h"
#include "selftest.h"

enum tag { TAG_URING = BACKEND_TAG_DEVICE, TAG_KICK };

struct loop {
	struct backend be;        /* first: the kick callback's argument */
	bool poll;                /* busy-poll after work (--poll) */
	struct blk_dev dev;
	struct blk_policy policy;
};

struct config {
	struct blk_opts blk;
	bool no_poll;
};

static const struct option blk_opts_table[] = {
	{ "path", required_argument, NULL, 'p' }, { "readonly", no_argument, NULL, 'r' },
	{ "direct", no_argument, NULL, 'd' }, { "num-queues", required_argument, NULL, 'q' },
	{ "serial", required_argument, NULL, 'S' }, { "no-poll", no_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

static int parse_opt(void *cfg, int opt, const char *arg)
{
	struct config *c = cfg;
	long v;

	switch (opt) {
	case 'p': c->blk.path = arg; return 0;
	case 'r': c->blk.readonly = true; return 0;
	case 'd': c->blk.direct = true; return 0;
	case 'P': c->no_poll = true; return 0;
	case 'S':
		if (strlen(arg) > BLK_SERIAL_LEN)
			return log_error("--serial: at most %d bytes", BLK_SERIAL_LEN), -EINVAL;
		c->blk.serial = arg;
		return 0;
	case 'q':
		if (backend_parse_uint(arg, 1, VU_MAX_QUEUES, &v))
			return log_error("--num-queues: 1 to %d, not %s", VU_MAX_QUEUES, arg), -EINVAL;
		c->blk.num_queues = (unsigned)v;
		return 0;
	default:
		return -EINVAL;
	}
}

static int check_args(const void *cfg, const struct backend_opts *o)
{
	const struct config *c = cfg;

	if (!c->blk.path)
		return log_error("--path FILE is required"), -EINVAL;
	return 0;
}

static const struct backend_cli cli = {
	.name = "blk",
	.usage = "usage: cellvm-blk (--socket PATH | --socket-fd N) --path FILE [options]\n",
	.help = "  --path FILE         disk image or block device\n"
		"  --readonly          refuse writes, discard and write-zeroes (VIRTIO_BLK_F_RO)\n"
		"  --direct            open the disk with O_DIRECT\n"
		"  --num-queues N      request queues, 1 to 16 (default 1)\n"
		"  --serial STR        GET_ID serial, at most 20 bytes\n"
		"  --no-poll           never busy-poll the rings after I/O (default: up to ~40 us,\n"
		"                      adaptive, never while idle)\n",
	.exit_device = "the disk cannot be opened or sized",
	.opts = blk_opts_table, .parse = parse_opt, .check = check_args,
	.selftest_known = blk_selftest_known,
};

static void after_message(void *loopp)
{
	struct loop *l = loopp;

	for (unsigned q = 0; q < l->dev.vu.num_queues; q++)
		blk_process(&l->dev, q);
}

/* -1: keep going; otherwise the exit status. */
static int on_event(struct loop *l, uint64_t tag)
{
	if (tag < BACKEND_TAG_DEVICE)
		return backend_event(&l->be, tag, &l->dev.vu, after_message, l);
	if (tag == TAG_URING) {
		blk_complete(&l->dev);
		return -1;
	}
	if (tag >= TAG_KICK && tag < TAG_KICK + l->dev.vu.num_queues) {
		unsigned q = (unsigned)(tag - TAG_KICK);

		backend_drain_kick(l->dev.vu.queues[q].kick_fd, q);
		blk_process(&l->dev, q);
	}
	return -1;
}

/* Busy-polling after work, bounded in TSC cycles (no clock syscall: seccomp allows none):
 * a window of idle spinning, grown back to the full size when a kick or completion came
 * soon after the loop went to sleep (polling would have caught it), halved when it came
 * late; at 0 the loop only sleeps. It never spins while nothing happens. */
#define POLL_WINDOW_CYCLES (100u * 1000u)  /* ~40 us at 2.5 GHz */
#define POLL_MIN_CYCLES    (10u * 1000u)
#define POLL_SLICE_CYCLES  (5u * 1000u * 1000u) /* then epoll once: socket, signals */

struct poller {
	uint64_t window;
	uint64_t slept_at;
	bool worker_io;           /* the last spin ended on I/O handed to io_uring's workers */
};

/* Spins while work keeps coming; true if it stopped only at the slice end (still busy). I/O
 * that did not complete at submission (buffered writes go to io_uring's workers, then the
 * flusher) ends the spin and skips the next one: measured, spinning beside those threads
 * halved QD1 write IOPS on a 2-core host, while reads served from the page cache gain. */
static bool busy_poll(struct loop *l, struct poller *p)
{
	uint64_t start = __rdtsc(), last_work = start, now = start;
	bool busy = false;

	blk_set_polling(&l->dev, true);
	while (now - last_work < p->window) {
		if (blk_poll(&l->dev))
			last_work = now;
		if (blk_io_pending(&l->dev)) {
			p->worker_io = true;
			break;
		}
		if (now - start > POLL_SLICE_CYCLES) {
			busy = true;
			break;
		}
		__builtin_ia32_pause();
		now = __rdtsc();
	}
	blk_set_polling(&l->dev, false);
	return blk_poll(&l->dev) || busy; /* what came in while re-arming */
}

static void adapt(struct poller *p)
{
	if (__rdtsc() - p->slept_at <= POLL_WINDOW_CYCLES)
		p->window = POLL_WINDOW_CYCLES;
	else
		p->window = p->window / 2 < POLL_MIN_CYCLES ? 0 : p->window / 2;
}

static int run(struct loop *l)
{
	struct epoll_event ev[32];
	struct poller p = { .window = l->poll ? POLL_WINDOW_CYCLES : 0 };
	bool again = false;

	if (backend_watch(&l->be, l->be.sock, BACKEND_TAG_SOCK) ||
	    backend_watch(&l->be, l->dev.ring_efd, TAG_URING))
		return log_error("epoll: %m"), BACKEND_EXIT_RUNTIME;
	for (;;) {
		p.slept_at = __rdtsc();
		int n = epoll_wait(l->be.epfd, ev, 32, again ? 0 : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error("epoll_wait: %m"), BACKEND_EXIT_RUNTIME;
		for (int i = 0; i < n; i++) {
			int st = on_event(l, ev[i].data.u64);

			if (st >= 0)
				return st;
		}
		if (l->poll && n > 0 && !again)
			adapt(&p);
		if ((n > 0 || again) && p.worker_io)
			p.worker_io = again = false;
		else
			again = (n > 0 || again) && p.window && busy_poll(l, &p);
	}
}

static int jail_spec(void *loopp, struct jail_spec *s)
{
	struct loop *l = loopp;

	return blk_jail_spec(s, &l->policy, &l->dev, l->be.epfd, l->be.sigfd, l->be.sock);
}

static int selftest(void *loopp, const char *act, pid_t parent)
{
	struct loop *l = loopp;

	if (blk_enable_ring(&l->dev))
		return log_error("io_uring: enabling the ring: %m"), BACKEND_EXIT_RUNTIME;
	return blk_selftest_run(act, &l->dev, parent);
}

int main(int argc, char **argv)
{
	static struct loop l = { .be = BACKEND_INIT, .be.kick_tag = TAG_KICK };
	struct backend_opts o;
	struct config c = { .blk.num_queues = 1 };
	const char *what;
	int rc, st;

	log_init(cli.name, LOG_WARN, NULL);
	rc = backend_parse_args(&cli, &o, &c, argc, argv);
	if (rc)
		return rc > 0 ? 0 : (backend_usage(&cli, stderr), BACKEND_EXIT_USAGE);
	if (o.verbose)
		log_init(cli.name, LOG_INFO, NULL);
	rc = blk_open(&l.dev, &c.blk, &what);
	if (rc) {
		log_error("%s: %s: %s", c.blk.path, what, strerror(-rc));
		blk_close(&l.dev);
		return strcmp(what, "io_uring") ? BACKEND_EXIT_DEVICE : BACKEND_EXIT_RUNTIME;
	}
	if (backend_setup_loop(&l.be))
		return log_error("event loop setup: %m"), BACKEND_EXIT_RUNTIME;
	st = backend_connect_and_jail(&l.be, &o, jail_spec, selftest, &l);
	if (st >= 0)
		return st; /* a selftest's or a failure's status: exiting closes the rest */
	/* The ring is enabled by the jailed task that will issue on it (DEFER_TASKRUN). */
	rc = blk_enable_ring(&l.dev);
	if (rc)
		return log_error("io_uring: enabling the ring: %s", strerror(-rc)), BACKEND_EXIT_RUNTIME;
	if (blk_attach(&l.dev, l.be.sock, backend_kick_changed, &l.be))
		return log_error("vhost-user setup failed"), BACKEND_EXIT_RUNTIME;
	log_info("serving %s (%llu sectors%s) with %u queue(s)", c.blk.path,
		 (unsigned long long)l.dev.sectors, c.blk.readonly ? ", read-only" : "",
		 c.blk.num_queues);
	l.poll = !c.no_poll;
	st = run(&l);
	blk_log_stats(&l.dev);
	blk_close(&l.dev);
	close(l.be.sock);
	return st;
}

/* loop.c: a fixed-size epoll dispatcher with a stop flag checked after each batch. */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct loop_entry {
	int fd;
	loop_handler_fn fn;
	void *opaque;
};

struct event_loop {
	int epfd;
	bool stop;
	struct loop_entry entries[LOOP_MAX_HANDLERS];
};

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	for (int i = 0; i < LOOP_MAX_HANDLERS; i++)
		loop->entries[i].fd = -1;
	return loop;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

int event_loop_add(struct event_loop *loop, int fd, uint32_t events, loop_handler_fn fn,
		   void *opaque)
{
	for (int i = 0; i < LOOP_MAX_HANDLERS; i++) {
		struct loop_entry *e = &loop->entries[i];
		struct epoll_event ev = { .events = events, .data.ptr = e };

		if (e->fd != -1)
			continue;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*e = (struct loop_entry){ fd, fn, opaque };
		return 0;
	}
	return -ENOSPC;
}

void event_loop_del(struct event_loop *loop, int fd)
{
	for (int i = 0; i < LOOP_MAX_HANDLERS; i++) {
		if (loop->entries[i].fd != fd)
			continue;
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		loop->entries[i].fd = -1;
	}
}

int event_loop_run(struct event_loop *loop)
{
	struct epoll_event evs[8];

	loop->stop = false;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct loop_entry *e = evs[i].data.ptr;
			if (e->fd != -1)
				e->fn(e->opaque, evs[i].events);
		}
	}
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stop = true;
}

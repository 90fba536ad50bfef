/* loop.h: the VMM's epoll event loop; the owner (main) runs it until a handler stops it. */
#ifndef CELLVM_LOOP_H
#define CELLVM_LOOP_H

#include <stdint.h>

#define LOOP_MAX_HANDLERS 32

typedef void (*loop_handler_fn)(void *opaque, uint32_t events);

struct event_loop;

struct event_loop *event_loop_create(void);
void event_loop_destroy(struct event_loop *loop);
/* Watches fd for events (EPOLLIN...). Returns 0 or -errno. */
int event_loop_add(struct event_loop *loop, int fd, uint32_t events, loop_handler_fn fn,
		   void *opaque) __attribute__((warn_unused_result));
void event_loop_del(struct event_loop *loop, int fd);
/* Dispatches events until event_loop_stop(); returns 0 or -errno on epoll failure. */
int event_loop_run(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);

#endif

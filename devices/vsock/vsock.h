/* vsock.h: the virtio-vsock device behind cellvm-vsock: streams between the guest and Unix sockets (hybrid vsock). */
#ifndef CELLVM_VSOCK_H
#define CELLVM_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "../lib/vhost_user.h"

#define VSOCK_HOST_CID      2
#define VSOCK_NUM_QUEUES    3           /* rx 0, tx 1, event 2 */
#define VSOCK_Q_RX          0
#define VSOCK_Q_TX          1
/* The credit a stream gives the guest (buf_alloc): 4 x Linux's 256 KiB default, so that a
 * guest sending 64 KiB packets keeps 16 in flight instead of 4 (a quarter of the wake-ups). */
#define VSOCK_BUF_ALLOC     (1024u << 10)
#define VSOCK_MAX_PAYLOAD   (64u << 10) /* the largest RW payload either way */
#define VSOCK_RX_BATCH      16          /* rx buffers one recvmsg fills (16 x Linux's 4 KiB) */
#define VSOCK_MAX_CONNS     4096
#define VSOCK_RST_RING      64          /* RSTs for packets that match no stream */
#define VSOCK_LINE_MAX      32          /* "CONNECT 4294967295\n" fits */
/* A host connection must send its line, and the guest answer the REQUEST, within this
 * (Firecracker's value): idle connections cannot hold the table. */
#define VSOCK_CONNECT_TIMEOUT_MS 2000

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum vsock_op {
	VSOCK_OP_INVALID = 0, VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE, VSOCK_OP_RST,
	VSOCK_OP_SHUTDOWN, VSOCK_OP_RW, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST,
};
#define VSOCK_TYPE_STREAM     1
#define VSOCK_SHUTDOWN_RCV    1u
#define VSOCK_SHUTDOWN_SEND   2u

enum vsock_state {
	VC_FREE = 0,
	VC_HOST_LINE,     /* accepted on the hybrid socket: reading "CONNECT <port>\n" */
	VC_CONNECTING,    /* REQUEST queued or sent to the guest, waiting for RESPONSE */
	VC_OPEN,
};

/* Control packets a stream owes the guest, sent as rx buffers allow. */
#define PEND_REQUEST   1u
#define PEND_RESPONSE  2u
#define PEND_CREDIT    4u
#define PEND_SHUTDOWN  8u

struct vsock_conn {
	enum vsock_state state;
	int fd;
	uint32_t host_port, guest_port;
	unsigned pending;
	uint64_t deadline_ms;      /* VC_HOST_LINE, VC_CONNECTING: dropped after this */
	uint32_t shut_flags;       /* SHUTDOWN flags owed to the guest */
	/* Host -> guest: the guest's credit. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* Guest -> host: bytes taken from the guest, bytes written to fd, last fwd_cnt told. */
	uint32_t rx_cnt, fwd_cnt, fwd_told;
	uint8_t *buf;              /* VSOCK_BUF_ALLOC bytes the socket would not take yet */
	uint32_t buf_head, buf_len;
	bool readable;             /* the socket may have data (edge-triggered epoll) */
	bool host_eof;             /* the host shut its sending side */
	bool guest_no_send;        /* the guest will send no more */
	bool guest_closed;         /* the guest shut both sides: RST once its bytes are written */
	bool guest_gone;           /* ...and then reset it (Linux does after its close timeout):
				    * its bytes are still written, then the stream ends, no RST */
	bool wr_shut;              /* shutdown(SHUT_WR) done on fd */
	bool out_watched;          /* EPOLLOUT is asked for: only while buf holds bytes */
};

struct vsock_opts {
	uint64_t cid;
	const char *uds_path;
	unsigned max_conns;
};

struct vsock_stats {
	uint64_t bad_packets, spoofed, credit_overflows, refused, rst_dropped, table_full, timeouts;
	uint64_t buffered;         /* guest bytes the host socket did not take at once (copied) */
};

struct vsock_dev {
	uint64_t cid;
	uint64_t cfg_cid;          /* the config space: le64 guest_cid */
	char uds_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* Where guest-initiated streams connect, "<base>_<port>": uds_path, or its name under
	 * the directory the jail bind-mounts (set by main.c after jail_enter()). */
	char connect_base[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;             /* the hybrid socket */
	int timer_fd;              /* ticks while a stream waits for its line or RESPONSE */
	bool timer_armed;
	int epfd;                  /* the owner's loop; streams are watched with TAG_CONN + i */
	uint64_t tag_conn;
	unsigned max_conns, nconns;
	unsigned hi;               /* slots at or above hi are free */
	struct vsock_conn *conns;
	unsigned cursor;           /* round robin over streams for rx buffers */
	uint32_t next_port;        /* ephemeral host ports for host-initiated streams */
	struct { uint32_t host_port, guest_port; } *rst; /* a ring of max_conns + VSOCK_RST_RING */
	unsigned rst_head, rst_len, rst_cap;
	bool rx_held;              /* rx_elem[0] popped, not used yet */
	/* One recvmsg fills up to VSOCK_RX_BATCH rx buffers: [0] is the held one, the others
	 * are popped for that call and given back (unpopped) when the data ran short. */
	struct virtq_elem rx_elem[VSOCK_RX_BATCH];
	struct virtq_elem tx_elem;
	struct vsock_stats stats;
	struct vu_dev vu;
	void (*watch)(void *loop, unsigned q, int old_fd, int new_fd);
	void *loop;
};

/* Allocates the stream table and binds + listens on the hybrid socket. *what names the step. */
int vsock_open(struct vsock_dev *dev, const struct vsock_opts *o, const char **what)
	__attribute__((warn_unused_result));
int vsock_attach(struct vsock_dev *dev, int sock, int epfd, uint64_t tag_conn,
		 void (*watch)(void *, unsigned, int, int), void *loop)
	__attribute__((warn_unused_result));
/* A queue was kicked, or a vhost-user message may have started one. */
void vsock_process(struct vsock_dev *dev);
/* The hybrid socket is readable: accept host connections. */
void vsock_accept(struct vsock_dev *dev);
/* The timer fd is readable: streams past their connect deadline go. */
void vsock_timer(struct vsock_dev *dev);
/* epoll reported events on stream i. */
void vsock_conn_event(struct vsock_dev *dev, unsigned i, uint32_t events);
/* Closes every stream (RST to the guest where a ring is still there) and frees everything. */
void vsock_close(struct vsock_dev *dev);

#endif

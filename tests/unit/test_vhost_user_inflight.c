/* test_vhost_user_inflight.c: the VMM's side of PROTOCOL_F_INFLIGHT_SHMFD: GET at a fresh set-up, SET on every (re)connect, the fd held, never mapped, dropped at reset. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost_user.h"

struct inflight_msg { uint64_t mmap_size, mmap_offset; uint16_t num_queues, queue_size; };

static int peer; /* the backend's end of the socketpair */
static struct vhost_user v;

static void setup(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	v = (struct vhost_user){ .fd = sv[0], .name = "t", .inflight.fd = -1,
				 .protocol_features = VHU_PF_INFLIGHT_SHMFD };
	peer = sv[1];
}

static void teardown(void)
{
	vhu_drop_inflight(&v);
	vhu_close(&v);
	close(peer);
}

/* Queues the backend's answer to GET_INFLIGHT_FD (request id req), with fd unless -1. */
static void answer(uint32_t req, uint64_t size, int fd)
{
	struct { uint32_t hdr[3]; } h = { { req, 1 | 4, sizeof(struct inflight_msg) } };
	struct inflight_msg m = { .mmap_size = size, .num_queues = 2, .queue_size = 256 };
	struct iovec iov[2] = { { &h, 12 }, { &m, sizeof(m) } };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	cr_assert_eq(sendmsg(peer, &mh, 0), 12 + (ssize_t)sizeof(m));
}

/* Reads one request the VMM sent: its id, payload and fd (-1 if none). */
static uint32_t request(struct inflight_msg *m, int *fd)
{
	uint32_t hdr[3];
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
	struct iovec iov[2] = { { hdr, 12 }, { m, sizeof(*m) } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *cm;

	*fd = -1;
	cr_assert_eq(recvmsg(peer, &mh, MSG_DONTWAIT), 12 + (ssize_t)sizeof(*m));
	cr_assert_eq(hdr[2], sizeof(*m));
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return hdr[0];
}

static bool nothing_sent(void)
{
	char b;

	return recv(peer, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static ino_t inode(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

static int region(void)
{
	int fd = memfd_create("t-inflight", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	return fd;
}

TestSuite(vhu_inflight, .init = setup, .fini = teardown);

Test(vhu_inflight, get_asks_for_the_queues_and_keeps_the_fd)
{
	struct inflight_msg m;
	int mfd = region(), fd;

	answer(VHU_GET_INFLIGHT_FD, 8192, mfd);
	cr_assert_eq(vhu_get_inflight(&v, 2, 256), 0);
	cr_assert_eq(request(&m, &fd), VHU_GET_INFLIGHT_FD);
	cr_assert(m.num_queues == 2 && m.queue_size == 256 && fd == -1);
	cr_assert(v.inflight.size == 8192 && inode(v.inflight.fd) == inode(mfd));
	close(mfd);
}

Test(vhu_inflight, fresh_setup_gets_then_sets_the_same_region)
{
	struct inflight_msg m;
	int mfd = region(), fd;

	answer(VHU_GET_INFLIGHT_FD, 8192, mfd);
	cr_assert_eq(vhu_ops.set_inflight(&v, 2, 256, true), 0);
	cr_assert_eq(request(&m, &fd), VHU_GET_INFLIGHT_FD);
	cr_assert_eq(request(&m, &fd), VHU_SET_INFLIGHT_FD);
	cr_assert(m.mmap_size == 8192 && m.num_queues == 2 && m.queue_size == 256);
	cr_assert_eq(inode(fd), inode(mfd));
	close(fd);
	close(mfd);
}

Test(vhu_inflight, reconnect_sets_the_kept_region_without_asking)
{
	struct inflight_msg m;
	int mfd = region(), fd;

	answer(VHU_GET_INFLIGHT_FD, 8192, mfd);
	cr_assert_eq(vhu_get_inflight(&v, 2, 256), 0);
	request(&m, &fd);
	cr_assert_eq(vhu_ops.set_inflight(&v, 2, 256, false), 0);
	cr_assert_eq(request(&m, &fd), VHU_SET_INFLIGHT_FD);
	cr_assert_eq(inode(fd), inode(mfd));
	cr_assert(nothing_sent());
	close(fd);
	close(mfd);
}

Test(vhu_inflight, reconnect_without_a_region_sends_nothing)
{
	cr_assert_eq(vhu_ops.set_inflight(&v, 2, 256, false), 0);
	cr_assert(nothing_sent());
}

Test(vhu_inflight, backend_without_the_feature_is_left_alone)
{
	v.protocol_features = 0;
	cr_assert_eq(vhu_ops.set_inflight(&v, 2, 256, true), 0);
	cr_assert(nothing_sent());
}

Test(vhu_inflight, no_region_answer_means_untracked)
{
	struct inflight_msg m;
	int fd;

	answer(VHU_GET_INFLIGHT_FD, 0, -1);
	cr_assert_eq(vhu_ops.set_inflight(&v, 2, 256, true), 0);
	cr_assert_eq(request(&m, &fd), VHU_GET_INFLIGHT_FD);
	cr_assert(nothing_sent()); /* no SET */
	cr_assert_eq(v.inflight.size, 0);
}

static unsigned open_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

Test(vhu_inflight, wrong_reply_is_refused_and_its_fd_closed)
{
	int mfd = region();
	unsigned before;

	answer(VHU_GET_CONFIG, 8192, mfd);
	before = open_fds();
	cr_assert_eq(vhu_get_inflight(&v, 2, 256), -EPROTO);
	cr_assert_eq(v.inflight.size, 0);
	cr_assert_eq(open_fds(), before, "the received fd was not closed");
	close(mfd);
}

Test(vhu_inflight, a_new_region_replaces_and_reset_drops)
{
	struct inflight_msg m;
	int a = region(), b = region(), fd, held;

	answer(VHU_GET_INFLIGHT_FD, 8192, a);
	cr_assert_eq(vhu_get_inflight(&v, 2, 256), 0);
	held = v.inflight.fd;
	answer(VHU_GET_INFLIGHT_FD, 8192, b);
	cr_assert_eq(vhu_get_inflight(&v, 2, 256), 0);
	cr_assert_eq(fcntl(held, F_GETFD) == -1 || inode(held) != inode(a), 1,
		     "the old region's fd is still open");
	cr_assert_eq(inode(v.inflight.fd), inode(b));
	held = v.inflight.fd;
	vhu_drop_inflight(&v);
	cr_assert(v.inflight.size == 0 && v.inflight.fd == -1);
	cr_assert_eq(fcntl(held, F_GETFD), -1);
	request(&m, &fd);
	close(a);
	close(b);
}

/* test_vhost_kernel.c: the kernel-vhost frontend's ring mapping, parked rings and error paths (no /dev/vhost-* needed). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vhost_kernel.h"

/* An fd that is no vhost device: every vhost ioctl on it fails with ENOTTY. */
static int not_vhost(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	return fd;
}

Test(vhost_kernel, init_fails_cleanly_on_a_non_vhost_fd)
{
	struct vhost_kernel k;
	int fd = not_vhost();

	cr_assert_eq(vhk_init(&k, "t", VHK_VSOCK, &fd, NULL, 1), -ENOTTY);
	vhk_close(&k);
	cr_assert_eq(k.nfds, 0);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "vhk_close closes the fds it took");
}

Test(vhost_kernel, init_refuses_bad_counts)
{
	struct vhost_kernel k;
	int fds[VHK_MAX_FDS + 1] = { 0 };

	cr_assert_eq(vhk_init(&k, "t", VHK_NET, fds, NULL, 0), -EINVAL);
	cr_assert_eq(vhk_init(&k, "t", VHK_NET, fds, NULL, VHK_MAX_FDS + 1), -EINVAL);
}

/* Rings past nfds * 2 are parked (vhost-vsock's event queue): no ioctl, success; rings
 * served by an fd reach the kernel (here: ENOTTY from /dev/null). */
Test(vhost_kernel, parked_rings_and_served_rings)
{
	struct vhost_kernel k = { .kind = VHK_VSOCK, .nfds = 1, .name = "t", .err_fd = -1 };

	k.fds[0] = not_vhost();
	k.taps[0] = -1;
	cr_assert_eq(vhk_set_vring(&k, 2, 256, 0x1000, 0x2000, 0x3000, 0, -1, -1), 0);
	cr_assert_eq(vhk_enable_vring(&k, 2, true), 0);
	cr_assert_eq(vhk_get_vring_base(&k, 2), 0);
	cr_assert_eq(vhk_set_vring(&k, 1, 256, 0x1000, 0x2000, 0x3000, 0, -1, -1), -ENOTTY);
	cr_assert_eq(vhk_enable_vring(&k, 0, true), 0, "vsock rings start with SET_RUNNING");
	cr_assert_eq(vhk_start(&k), -ENOTTY);
	cr_assert_not(k.running);
	vhk_close(&k);
}

/* Net: ring i belongs to pair i / 2 and enabling it sets that pair's tap as its backend. */
Test(vhost_kernel, net_enable_reaches_the_pairs_fd)
{
	struct vhost_kernel k = { .kind = VHK_NET, .nfds = 2, .name = "t", .err_fd = -1 };

	for (int i = 0; i < 2; i++) {
		k.fds[i] = not_vhost();
		k.taps[i] = -1;
	}
	cr_assert_eq(vhk_enable_vring(&k, 3, true), -ENOTTY);
	cr_assert_eq(vhk_enable_vring(&k, 4, true), 0, "ring 4 is past two pairs: parked");
	cr_assert_eq(vhk_start(&k), 0, "net has nothing to start");
	vhk_close(&k);
}

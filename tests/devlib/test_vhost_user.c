/* test_vhost_user.c: devices/lib/vhost_user.c: region, config-range and index checks; dispatch over a socketpair. */
#define _GNU_SOURCE /* vhost_user.c, included below, needs memfd_create */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/socket.h>

/* The checks under test are static: the file is compiled into this test, not linked. */
#include "../../devices/lib/vhost_user.c"

static struct vu_region region(uint64_t gpa, uint64_t size, uint64_t uaddr, uint64_t off)
{
	return (struct vu_region){ .gpa = gpa, .size = size, .uaddr = uaddr, .mmap_offset = off };
}

Test(check_region, sizes_and_wraps)
{
	struct vu_region r = region(0x1000, 0x1000, 0x7f0000000000, 0);

	cr_assert_eq(check_region(&r, -1), 0);
	r.size = 0;
	cr_assert_eq(check_region(&r, -1), -EINVAL);
	r = region(UINT64_MAX - 0xfff, 0x1000, 0, 0); /* ends exactly at the top */
	cr_assert_eq(check_region(&r, -1), 0);
	r = region(UINT64_MAX - 0xfff, 0x1001, 0, 0);
	cr_assert_eq(check_region(&r, -1), -EINVAL);
	r = region(0, 0x1000, UINT64_MAX - 0xffe, 0);
	cr_assert_eq(check_region(&r, -1), -EINVAL);
	r = region(0, 0x1000, 0, UINT64_MAX - 0xffe);
	cr_assert_eq(check_region(&r, -1), -EINVAL);
	r = region(0, 0x1000, 0, UINT64_MAX - 0x1000); /* offset + size == UINT64_MAX: no wrap */
	cr_assert_eq(check_region(&r, -1), SIZE_MAX >= UINT64_MAX ? 0 : -EINVAL);
}

Test(check_region, a_file_must_hold_offset_plus_size)
{
	FILE *f = tmpfile();
	struct vu_region r = region(0, 0x1000, 0, 0x1000);

	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), 0x1fff), 0);
	cr_assert_eq(check_region(&r, fileno(f)), -EINVAL);
	cr_assert_eq(ftruncate(fileno(f), 0x2000), 0);
	cr_assert_eq(check_region(&r, fileno(f)), 0);
	fclose(f);
}

Test(regions_overlap, edges)
{
	struct vu_region a = region(0x1000, 0x1000, 0, 0), b = region(0x2000, 0x1000, 0, 0);

	cr_assert_not(regions_overlap(&a, &b));
	cr_assert_not(regions_overlap(&b, &a));
	b.gpa = 0x1fff;
	cr_assert(regions_overlap(&a, &b));
	cr_assert(regions_overlap(&b, &a));
	b = region(0x1800, 0x10, 0, 0); /* contained */
	cr_assert(regions_overlap(&a, &b));
	cr_assert(regions_overlap(&b, &a));
	a = region(UINT64_MAX - 0xfff, 0x1000, 0, 0);
	b = region(UINT64_MAX - 0x1fff, 0x1000, 0, 0);
	cr_assert_not(regions_overlap(&a, &b));
	b.size = 0x1001;
	cr_assert(regions_overlap(&a, &b));
}

static int cfg(uint32_t msg_size, uint32_t off, uint32_t size, uint32_t limit)
{
	struct vu_msg m = { .size = msg_size };

	m.p.config = (struct vu_config){ .offset = off, .size = size };
	return config_range(&m, limit);
}

Test(config_range, header_and_payload_sizes)
{
	cr_assert_eq(cfg(VU_CONFIG_HDR + 8, 0, 8, 60), 0);
	cr_assert_eq(cfg(VU_CONFIG_HDR - 1, 0, 0, 60), -EPROTO);
	cr_assert_eq(cfg(VU_CONFIG_HDR + 7, 0, 8, 60), -EPROTO);
	cr_assert_eq(cfg(VU_CONFIG_HDR + 9, 0, 8, 60), -EPROTO);
	cr_assert_eq(cfg(VU_CONFIG_HDR + VU_CONFIG_MAX + 1, 0, VU_CONFIG_MAX + 1, 1000), -EPROTO);
}

Test(config_range, offset_and_size_against_the_limit)
{
	cr_assert_eq(cfg(VU_CONFIG_HDR + 4, 56, 4, 60), 0);
	cr_assert_eq(cfg(VU_CONFIG_HDR + 4, 57, 4, 60), -EINVAL);
	cr_assert_eq(cfg(VU_CONFIG_HDR, 60, 0, 60), 0);
	cr_assert_eq(cfg(VU_CONFIG_HDR, 61, 0, 60), -EINVAL);
	cr_assert_eq(cfg(VU_CONFIG_HDR + 8, UINT32_MAX - 3, 8, 60), -EINVAL); /* would wrap */
}

Test(queue_index, bounds)
{
	struct vu_dev d = { .num_queues = 2 };

	cr_assert_eq(queue_index(&d, 0), 0);
	cr_assert_eq(queue_index(&d, 1), 1);
	cr_assert_eq(queue_index(&d, 2), -EPROTO);
	cr_assert_eq(queue_index(&d, 1ull << 32), -EPROTO);
}

Test(request_name, known_and_unknown)
{
	cr_assert_str_eq(vu_request_name(VU_SET_MEM_TABLE), "SET_MEM_TABLE");
	cr_assert_str_eq(vu_request_name(VU_SET_CONFIG), "SET_CONFIG");
	cr_assert_str_eq(vu_request_name(0), "unknown");
	cr_assert_str_eq(vu_request_name(VU_REQUEST_MAX), "unknown");
	cr_assert_str_eq(vu_request_name(UINT32_MAX), "unknown");
}

/* A vu_dev on one end of a socketpair; the test speaks the frontend on the other. */
static struct vu_dev dev;
static int peer;
static const struct vu_device_ops no_ops;
static FILE *devnull;

static void dev_setup(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	peer = sv[1];
	cr_assert_eq(vu_dev_init(&dev, &(struct vu_dev_params){ .sock = sv[0], .num_queues = 2,
		.features = 1ull << VU_F_VERSION_1, .config_len = 8, .ops = &no_ops }), 0);
	devnull = fopen("/dev/null", "w");
	cr_assert_not_null(devnull);
	log_init("devlib", LOG_ERROR, devnull);
}

static void dev_teardown(void)
{
	vu_dev_cleanup(&dev);
	close(dev.sock);
	close(peer);
	log_init("devlib", LOG_ERROR, NULL);
	fclose(devnull);
}

static void send_hdr(uint32_t req, uint32_t flags, const void *p, uint32_t size)
{
	uint32_t hdr[3] = { req, flags, size };

	cr_assert_eq(write(peer, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	if (size)
		cr_assert_eq(write(peer, p, size), (ssize_t)size);
}

TestSuite(dispatch, .init = dev_setup, .fini = dev_teardown);

Test(dispatch, get_features_replies)
{
	uint32_t hdr[3];
	uint64_t f;

	send_hdr(VU_GET_FEATURES, VU_VERSION, NULL, 0);
	cr_assert_eq(vu_dispatch(&dev), 0);
	cr_assert_eq(read(peer, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	cr_assert_eq(hdr[0], VU_GET_FEATURES);
	cr_assert_eq(hdr[1], VU_VERSION | VU_FLAG_REPLY);
	cr_assert_eq(hdr[2], 8);
	cr_assert_eq(read(peer, &f, 8), 8);
	cr_assert_eq(f, (1ull << VU_F_VERSION_1) | (1ull << VU_F_PROTOCOL_FEATURES));
}

Test(dispatch, bad_version_breaks_the_connection)
{
	send_hdr(VU_GET_FEATURES, 2, NULL, 0);
	cr_assert_eq(vu_dispatch(&dev), -EPROTO);
	cr_assert(dev.broken);
	send_hdr(VU_GET_FEATURES, VU_VERSION, NULL, 0);
	cr_assert_eq(vu_dispatch(&dev), -EPROTO);
}

Test(dispatch, oversized_payload_breaks_the_connection)
{
	uint32_t hdr[3] = { VU_SET_CONFIG, VU_VERSION, (uint32_t)VU_MAX_PAYLOAD + 1 };

	cr_assert_eq(write(peer, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	cr_assert_eq(vu_dispatch(&dev), -EPROTO);
	cr_assert(dev.broken);
}

Test(dispatch, wrong_payload_size_breaks)
{
	send_hdr(VU_SET_FEATURES, VU_VERSION, "1234", 4);
	cr_assert_eq(vu_dispatch(&dev), -EPROTO);
	cr_assert(dev.broken);
}

/* Sends SET_VRING_NUM; a refusal is a nack, not a broken connection. */
static int vring_num(uint32_t index, uint32_t num)
{
	struct vu_state st = { .index = index, .num = num };

	send_hdr(VU_SET_VRING_NUM, VU_VERSION, &st, sizeof(st));
	return vu_dispatch(&dev);
}

Test(dispatch, set_vring_num_checks)
{
	cr_assert_eq(vring_num(1, 8), 0);
	cr_assert_eq(dev.queues[1].vq.num, 8);
	cr_assert_eq(vring_num(2, 16), 0);           /* past num_queues: refused */
	cr_assert_eq(vring_num(1, 12), 0);           /* not a power of 2 */
	cr_assert_eq(vring_num(1, VIRTQ_MAX_SIZE * 2), 0);
	cr_assert_eq(vring_num(1, 0), 0);
	cr_assert_eq(dev.queues[1].vq.num, 8);
	cr_assert_eq(vring_num(0, VIRTQ_MAX_SIZE), 0);
	cr_assert_eq(dev.queues[0].vq.num, VIRTQ_MAX_SIZE);
	cr_assert_not(dev.broken);
}

Test(dispatch, hangup_is_connreset)
{
	close(peer);
	peer = -1;
	cr_assert_eq(vu_dispatch(&dev), -ECONNRESET);
	cr_assert_not(dev.broken);
}

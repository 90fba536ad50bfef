/* test_bus.c: address-range registration and dispatch on the I/O buses. */
#include <criterion/criterion.h>
#include <errno.h>

#include "bus.h"

struct probe_dev {
	uint64_t last_offset;
	uint8_t last_byte;
};

static void dev_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct probe_dev *p = opaque;

	p->last_offset = off;
	p->last_byte = d[0];
}

static void dev_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	d[0] = (uint8_t)(0x40 + off);
}

static const struct bus_ops dev_ops = { .read = dev_read, .write = dev_write };

Test(bus, write_reaches_device_with_relative_offset)
{
	struct bus bus = { 0 };
	struct probe_dev dev = { 0 };
	uint8_t v = 0x5a;

	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &dev_ops, &dev, "uart"), 0);
	cr_assert_eq(bus_write(&bus, 0x3fb, &v, 1), 0);

	cr_assert_eq(dev.last_offset, 3);
	cr_assert_eq(dev.last_byte, 0x5a);
}

Test(bus, read_returns_device_data)
{
	struct bus bus = { 0 };
	struct probe_dev dev = { 0 };
	uint8_t v = 0;

	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &dev_ops, &dev, "uart"), 0);
	bus_read(&bus, 0x3fd, &v, 1);

	cr_assert_eq(v, 0x45);
}

Test(bus, unclaimed_read_is_all_ones_and_enoent)
{
	struct bus bus = { 0 };
	uint8_t v[4] = { 0 };

	int rc = bus_read(&bus, 0x80, v, 4);

	cr_assert_eq(rc, -ENOENT);
	cr_assert_eq(v[0] & v[1] & v[2] & v[3], 0xff);
}

Test(bus, overlapping_range_rejected)
{
	struct bus bus = { 0 };
	struct probe_dev dev = { 0 };

	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &dev_ops, &dev, "a"), 0);

	cr_assert_eq(bus_register(&bus, 0x3ff, 2, &dev_ops, &dev, "b"), -EEXIST);
}

Test(bus, access_straddling_range_end_not_dispatched)
{
	struct bus bus = { 0 };
	struct probe_dev dev = { 0 };
	uint8_t v[4] = { 1, 2, 3, 4 };

	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &dev_ops, &dev, "uart"), 0);

	cr_assert_eq(bus_write(&bus, 0x3fe, v, 4), -ENOENT);
}

Test(bus, empty_and_wrapping_ranges_rejected)
{
	struct bus bus = { 0 };

	cr_assert_eq(bus_register(&bus, 0x10, 0, &dev_ops, NULL, "z"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX, 2, &dev_ops, NULL, "w"), -EINVAL);
}

/* Hotplug: a removed range no longer decodes, its slot is reused, the others keep their index. */
Test(bus, unregister_frees_the_slot_for_reuse)
{
	struct bus bus = { 0 };
	struct probe_dev a = { 0 }, b = { 0 };
	uint8_t v = 0x11;
	int ia = bus_register_movable(&bus, 0x1000, &dev_ops, &a, "a");
	int ib = bus_register_movable(&bus, 0x1000, &dev_ops, &b, "b");

	cr_assert(ia >= 0 && ib == ia + 1);
	bus_move(&bus, ia, 0x10000, true);
	bus_move(&bus, ib, 0x20000, true);
	bus_unregister(&bus, ia);
	cr_assert_eq(bus_write(&bus, 0x10004, &v, 1), -ENOENT);
	cr_assert_eq(bus_write(&bus, 0x20004, &v, 1), 0);
	cr_assert_eq(b.last_offset, 4);
	cr_assert_eq(bus_register_movable(&bus, 0x1000, &dev_ops, &a, "c"), ia);
	cr_assert_eq(bus.nr, 2);
	cr_assert_eq(bus_write(&bus, 0x10004, &v, 1), -ENOENT); /* disabled until moved */
}

Test(bus, fixed_range_reuses_a_freed_slot)
{
	struct bus bus = { 0 };
	struct probe_dev a = { 0 };
	int i;

	for (i = 0; i < BUS_MAX_RANGES; i++)
		cr_assert_eq(bus_register(&bus, 0x100 * (uint64_t)i, 8, &dev_ops, &a, "x"), 0);
	cr_assert_eq(bus_register(&bus, 0x10000, 8, &dev_ops, &a, "full"), -ENOSPC);
	bus_unregister(&bus, 3);
	cr_assert_eq(bus_register(&bus, 0x300, 8, &dev_ops, &a, "again"), 0);
	cr_assert_str_eq(bus.ranges[3].name, "again");
}

/* bus.h: port-I/O and MMIO address buses that route vCPU exits to device handlers. */
#ifndef CELLVM_BUS_H
#define CELLVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 32

struct bus_ops {
	/* data is len bytes (1, 2, 4 or 8), little-endian; offset is relative to the range base. */
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;           /* atomic for movable ranges */
	bool disabled;           /* atomic; movable ranges only */
	uint64_t len;
	const struct bus_ops *ops;   /* NULL: a free slot (bus_unregister) */
	void *opaque;
	const char *name;
};

/*
 * Filled during set-up by one thread. Once vCPUs run, readers (the vCPU threads) take no lock:
 * a range is only added or removed (device hotplug, vm_hotplug.c) by the main thread with
 * every vCPU paused (vm_pause), so no vCPU is inside bus_read/bus_write or holds a range's
 * opaque when the table changes; bus_move alone may run while vCPUs dispatch (see below).
 */
struct bus {
	const char *name;
	unsigned int nr;
	struct bus_range ranges[BUS_MAX_RANGES];
};

/* Returns 0, -EEXIST if it overlaps an existing range, -ENOSPC if full, -EINVAL if empty. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name) __attribute__((warn_unused_result));

/* A range whose base the guest moves (a PCI BAR): registered disabled, returns its index or
 * -ENOSPC. bus_move() may run while vCPUs dispatch: readers load base and enabled
 * atomically, and a device must bounds-check offsets anyway. */
int bus_register_movable(struct bus *bus, uint64_t len, const struct bus_ops *ops, void *opaque,
			 const char *name) __attribute__((warn_unused_result));
void bus_move(struct bus *bus, int index, uint64_t base, bool enabled);

/* Frees the range at index (from either register call): its slot is reused by the next
 * registration. Only with no vCPU dispatching (set-up, teardown, or vm_pause). */
void bus_unregister(struct bus *bus, int index);

/* Dispatches an access; returns 0, or -ENOENT if no device claims addr (reads then
 * return all ones, as on real hardware with nothing decoding the address). */
int bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
int bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);

#endif

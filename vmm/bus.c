/* bus.c: a small range table mapping guest addresses to device handlers. */
#include "bus.h"

#include <errno.h>
#include <string.h>

/* Fills a free slot (one bus_unregister left, else the next) and publishes it: the entry is
 * complete before nr (release) makes a new slot visible. Returns its index or -ENOSPC. */
static int bus_insert(struct bus *bus, const struct bus_range *r)
{
	for (unsigned int i = 0; i < bus->nr; i++)
		if (!bus->ranges[i].ops) {
			bus->ranges[i] = *r;
			return (int)i;
		}
	if (bus->nr >= BUS_MAX_RANGES)
		return -ENOSPC;
	bus->ranges[bus->nr] = *r;
	__atomic_store_n(&bus->nr, bus->nr + 1, __ATOMIC_RELEASE);
	return (int)bus->nr - 1;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name)
{
	if (len == 0 || base + len < base || !ops)
		return -EINVAL;
	for (unsigned int i = 0; i < bus->nr; i++) {
		const struct bus_range *r = &bus->ranges[i];
		if (r->ops && !r->disabled && base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	int rc = bus_insert(bus, &(struct bus_range){ base, false, len, ops, opaque, name });
	return rc < 0 ? rc : 0;
}

int bus_register_movable(struct bus *bus, uint64_t len, const struct bus_ops *ops, void *opaque,
			 const char *name)
{
	if (len == 0 || !ops)
		return -EINVAL;
	return bus_insert(bus, &(struct bus_range){ 0, true, len, ops, opaque, name });
}

void bus_unregister(struct bus *bus, int index)
{
	if (index < 0 || (unsigned int)index >= bus->nr)
		return;
	bus->ranges[index] = (struct bus_range){ .disabled = true };
}

void bus_move(struct bus *bus, int index, uint64_t base, bool enabled)
{
	struct bus_range *r = &bus->ranges[index];

	__atomic_store_n(&r->disabled, true, __ATOMIC_RELEASE);
	__atomic_store_n(&r->base, base, __ATOMIC_RELEASE);
	if (enabled && base + r->len > base)
		__atomic_store_n(&r->disabled, false, __ATOMIC_RELEASE);
}

static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len)
{
	unsigned int nr = __atomic_load_n(&bus->nr, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < nr; i++) {
		const struct bus_range *r = &bus->ranges[i];
		uint64_t base = __atomic_load_n(&r->base, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&r->disabled, __ATOMIC_ACQUIRE) || !r->ops)
			continue;
		if (addr >= base && addr - base < r->len && len <= r->len - (addr - base))
			return r;
	}
	return NULL;
}

int bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r ? 0 : -ENOENT;
	}
	r->ops->read(r->opaque, addr - r->base, data, len);
	return 0;
}

int bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r)
		return -ENOENT;
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	return 0;
}


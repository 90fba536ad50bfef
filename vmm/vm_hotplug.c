/* vm_hotplug.c: adds and removes a running VM's virtio-pci devices; guest ejects reach the main loop through an eventfd. */
#include "vm_hotplug.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "disk.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pci_hotplug.h"
#include "virtio_pci.h"
#include "vm.h"
#include "vsock.h"

static const char *const kind_names[] = { "disk", "net", "vsock" };

static struct virtio_pci *device_at(const struct vm *vm, enum vm_dev_kind kind, unsigned int index)
{
	if (kind == VM_DEV_DISK)
		return index < vm->nr_disks ? vm->disks[index] : NULL;
	if (kind == VM_DEV_NET)
		return index < vm->nr_nets && vm->nets[index] ? net_virtio(vm->nets[index]) : NULL;
	return index == 0 ? vm->vsock : NULL;
}

/* Creates the device; NULL when it could not be (logged by the device code). */
static struct virtio_pci *create(struct vm *vm, enum vm_dev_kind kind)
{
	const struct vm_config *cfg = vm->cfg;

	if (kind == VM_DEV_DISK && vm->nr_disks < CONFIG_MAX_DISKS) {
		vm->disks[vm->nr_disks] = disk_create(vm, &cfg->disks[vm->nr_disks], vm->nr_disks);
		return vm->disks[vm->nr_disks] ? vm->disks[vm->nr_disks++] : NULL;
	}
	if (kind == VM_DEV_NET && vm->nr_nets < CONFIG_MAX_NETS) {
		vm->nets[vm->nr_nets] = net_create(vm, &cfg->nets[vm->nr_nets], vm->nr_nets);
		return vm->nets[vm->nr_nets] ? net_virtio(vm->nets[vm->nr_nets++]) : NULL;
	}
	if (kind == VM_DEV_VSOCK && !vm->vsock)
		return vm->vsock = vsock_create(vm, &cfg->vsock);
	return NULL;
}

int vm_hotplug_add(struct vm *vm, enum vm_dev_kind kind)
{
	struct virtio_pci *vp;

	if (pci_bus_free_slot(&vm->pci) < 0) {
		log_error("hotplug %s: the PCI bus is full", kind_names[kind]);
		return -ENOSPC;
	}
	vp = create(vm, kind);
	if (!vp)
		return -EIO;
	log_info("hotplug: %s added in slot %u", vp->name, vp->pci.slot);
	pci_hotplug_inserted(vm, vp->pci.slot);
	return (int)vp->pci.slot;
}

int vm_hotplug_slot(const struct vm *vm, enum vm_dev_kind kind, unsigned int index)
{
	const struct virtio_pci *vp = device_at(vm, kind, index);

	return vp && vp->pci.slot ? (int)vp->pci.slot : -ENOENT;
}

int vm_hotplug_find(const struct vm *vm, unsigned int slot, enum vm_dev_kind *kind,
		    unsigned int *index)
{
	static const unsigned int max[] = { CONFIG_MAX_DISKS, CONFIG_MAX_NETS, 1 };

	for (unsigned int k = VM_DEV_DISK; k <= VM_DEV_VSOCK; k++)
		for (unsigned int i = 0; i < max[k]; i++)
			if (vm_hotplug_slot(vm, (enum vm_dev_kind)k, i) == (int)slot && slot) {
				*kind = (enum vm_dev_kind)k;
				*index = i;
				return 0;
			}
	return -ENOENT;
}

void vm_hotplug_remove(struct vm *vm, enum vm_dev_kind kind, unsigned int index)
{
	if (kind == VM_DEV_DISK && index < vm->nr_disks) {
		disk_destroy(vm->disks[index]);
		memmove(&vm->disks[index], &vm->disks[index + 1],
			(vm->nr_disks - index - 1) * sizeof(vm->disks[0]));
		vm->disks[--vm->nr_disks] = NULL;
	} else if (kind == VM_DEV_NET && index < vm->nr_nets) {
		net_destroy(vm->nets[index]);
		memmove(&vm->nets[index], &vm->nets[index + 1],
			(vm->nr_nets - index - 1) * sizeof(vm->nets[0]));
		vm->nets[--vm->nr_nets] = NULL;
	} else if (kind == VM_DEV_VSOCK) {
		vsock_destroy(vm->vsock);
		vm->vsock = NULL;
	}
	log_info("hotplug: %s %u removed", kind_names[kind], index);
}

/* ---- ejects: a vCPU thread marks, the main loop removes ---- */

/* The guest's _EJ0 (ACPI code, on a vCPU thread): nothing here may pause, free or block. */
static void on_pci_ejected(struct vm *vm, unsigned int slot)
{
	uint64_t one = 1;

	if (slot == 0 || slot >= PCI_MAX_DEVICES)
		return;
	__atomic_fetch_or(&vm->eject_pending, 1u << slot, __ATOMIC_ACQ_REL);
	if (write(vm->eject_fd, &one, sizeof(one)) < 0)
		log_debug("eject eventfd: %s", strerror(errno));
}

static void on_eject_event(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t n;
	uint32_t pending;

	if (read(vm->eject_fd, &n, sizeof(n)) < 0)
		return;
	pending = __atomic_exchange_n(&vm->eject_pending, 0, __ATOMIC_ACQ_REL);
	for (unsigned int slot = 1; slot < PCI_MAX_DEVICES; slot++)
		if (pending & (1u << slot))
			vm->on_eject(vm->on_eject_opaque, vm, slot);
}

int vm_hotplug_init(struct vm *vm, void (*on_eject)(void *opaque, struct vm *vm, unsigned int slot),
		    void *opaque)
{
	int rc;

	vm->eject_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->eject_fd < 0)
		return -errno;
	rc = event_loop_add(vm->loop, vm->eject_fd, EPOLLIN, on_eject_event, vm);
	if (rc < 0) {
		close(vm->eject_fd);
		vm->eject_fd = -1;
		return rc;
	}
	vm->on_eject = on_eject;
	vm->on_eject_opaque = opaque;
	__atomic_store_n(&vm->pci_ejected, on_pci_ejected, __ATOMIC_RELEASE);
	return 0;
}

void vm_hotplug_fini(struct vm *vm)
{
	__atomic_store_n(&vm->pci_ejected, NULL, __ATOMIC_RELEASE);
	if (vm->eject_fd < 0)
		return;
	event_loop_del(vm->loop, vm->eject_fd);
	close(vm->eject_fd);
	vm->eject_fd = -1;
}

/* vm_hotplug.h: virtio-pci devices added to and removed from a VM whose vCPUs run (or are paused). */
#ifndef CELLVM_VM_HOTPLUG_H
#define CELLVM_VM_HOTPLUG_H

struct vm;

enum vm_dev_kind { VM_DEV_DISK, VM_DEV_NET, VM_DEV_VSOCK };

/*
 * The VM keeps vm->disks[i] for vm->cfg->disks[i] (nets, vsock alike) at every moment: an add
 * appends the device for the config entry at index vm->nr_disks (the caller writes that entry
 * first and counts it after), a removal closes the gap in both (the caller moves its config).
 * Everything here runs in the main thread; the vCPUs are paused only while the buses and PCI
 * slots change (vm_devices_lock, in virtio_pci.c), not while a backend starts or is reaped.
 */

/* Creates the device for the config entry kind at the next index (disk: vm->nr_disks) exactly
 * as at boot (backend spawned through the broker, virtio-pci, BAR, MSI-X, ioeventfds), tells
 * the guest (pci_hotplug_inserted) and returns its slot, or -errno (logged). */
int vm_hotplug_add(struct vm *vm, enum vm_dev_kind kind);
/* The slot of the device for config entry kind/index, or -ENOENT. */
int vm_hotplug_slot(const struct vm *vm, enum vm_dev_kind kind, unsigned int index);
/* Which device sits in slot: 0 with *kind and *index, or -ENOENT. */
int vm_hotplug_find(const struct vm *vm, unsigned int slot, enum vm_dev_kind *kind,
		    unsigned int *index);
/* Takes the device off the buses (vCPUs paused meanwhile), stops and reaps its backend, frees
 * it, and closes the gap in the VM's array. */
void vm_hotplug_remove(struct vm *vm, enum vm_dev_kind kind, unsigned int index);

/* Sets vm->pci_ejected: an eject from the guest (a vCPU thread) only marks the slot and wakes
 * the main loop, which calls on_eject(opaque, vm, slot) for each marked slot. 0 or -errno. */
int vm_hotplug_init(struct vm *vm, void (*on_eject)(void *opaque, struct vm *vm, unsigned int slot),
		    void *opaque);
void vm_hotplug_fini(struct vm *vm);

#endif

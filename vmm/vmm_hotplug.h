/* vmm_hotplug.h: vm.add-disk/-net/-vsock and vm.remove-device: the VM's config side (ids, what hot-added entries own). */
#ifndef CELLVM_VMM_HOTPLUG_H
#define CELLVM_VMM_HOTPLUG_H

#include <stddef.h>

#include "vm_hotplug.h"
#include "vmm.h"

/* Gives every device of vmm->cfg without an id one, as Cloud Hypervisor does: "_disk0",
 * "_net1", "_vsock2" (one counter for all kinds). */
void vmm_assign_ids(struct vmm *vmm);
/* Whether a device of vmm->cfg has this id. */
bool vmm_id_used(const struct vmm *vmm, const char *id);

/*
 * Adds the device described by entry (a struct disk_config, net_config or vsock_config whose
 * strings the caller keeps only for this call; a net's fds become the config's on success).
 * A created or shut-down VM gets it in its config (cold: out->slot = 0); a running or paused
 * one gets it now (out->slot = its PCI slot); out->id is the device's id either way.
 * Returns 0 or -errno with a reason in err: -ENOENT no VM, -EEXIST the id is taken, -EINVAL
 * a bad or one too many device, -EACCES a path outside --jail hotplug-dir=, -EPERM hotplug is
 * off, -ENOSPC the PCI bus is full, -EIO the device could not be created.
 */
struct vmm_added {
	unsigned int slot;          /* its PCI slot; 0: a cold add */
	char id[CONFIG_ID_MAX];     /* its id, given or made up */
};
int vmm_add_device(struct vmm *vmm, enum vm_dev_kind kind, const void *entry,
		   struct vmm_added *out, char *err, size_t errlen);
/* vm.remove-device: a cold device leaves the config; a running VM's guest is asked to eject
 * it (pci_hotplug_request_eject), or with --hotplug-surprise it goes at once. -ENOENT: no VM
 * or no such id. */
int vmm_remove_device(struct vmm *vmm, const char *id, char *err, size_t errlen);
/* vm->on_eject (main loop): the guest let the device in slot go; it is removed. */
void vmm_on_eject(void *opaque, struct vm *vm, unsigned int slot);
/* Frees what hot-added entries own (strings, a net's fds): at vm.delete. */
void vmm_release_owned(struct vm_config *cfg);

#endif

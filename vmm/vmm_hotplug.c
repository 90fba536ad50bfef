/* vmm_hotplug.c: vm.add-disk/-net/-vsock and vm.remove-device: ids, the config entries and what hot-added ones own. */
#include "vmm_hotplug.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "pci_hotplug.h"

static const char *const kind_names[] = { "disk", "net", "vsock" };

bool vmm_id_used(const struct vmm *vmm, const char *id)
{
	const struct vm_config *c = &vmm->cfg;

	for (unsigned int i = 0; i < c->nr_disks; i++)
		if (!strcmp(c->disks[i].id, id))
			return true;
	for (unsigned int i = 0; i < c->nr_nets; i++)
		if (!strcmp(c->nets[i].id, id))
			return true;
	return c->vsock.enabled && !strcmp(c->vsock.id, id);
}

/* Into out (the entry's own id, still ""), so the check below cannot match the entry. */
static void make_id(struct vmm *vmm, const char *kind, char *out)
{
	char id[CONFIG_ID_MAX];

	do
		snprintf(id, sizeof(id), "_%s%u", kind, vmm->next_dev_id++);
	while (vmm_id_used(vmm, id));
	memcpy(out, id, sizeof(id));
}

void vmm_assign_ids(struct vmm *vmm)
{
	struct vm_config *c = &vmm->cfg;

	for (unsigned int i = 0; i < c->nr_disks; i++)
		if (!c->disks[i].id[0])
			make_id(vmm, "disk", c->disks[i].id);
	for (unsigned int i = 0; i < c->nr_nets; i++)
		if (!c->nets[i].id[0])
			make_id(vmm, "net", c->nets[i].id);
	if (c->vsock.enabled && !c->vsock.id[0])
		make_id(vmm, "vsock", c->vsock.id);
}

/* Copies the n strings *s[i] (NULL stays NULL) into one allocation and points them there.
 * Returns it, or NULL when out of memory. */
static char *own_strings(const char **s[], unsigned int n)
{
	size_t len = 1, off = 0;
	char *buf;

	for (unsigned int i = 0; i < n; i++)
		len += *s[i] ? strlen(*s[i]) + 1 : 0;
	buf = malloc(len);
	for (unsigned int i = 0; buf && i < n; i++) {
		if (!*s[i])
			continue;
		size_t l = strlen(*s[i]) + 1;
		memcpy(buf + off, *s[i], l);
		*s[i] = buf + off;
		off += l;
	}
	return buf;
}

/* ---- the config entries ---- */

static void release_net(struct net_config *n)
{
	if (!n->owned)
		return;
	for (unsigned int q = 0; q < n->nr_fds; q++)
		if (n->fds[q] >= 0)
			close(n->fds[q]);
	free(n->owned);
	n->owned = NULL;
}

void vmm_release_owned(struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].owned);
		cfg->disks[i].owned = NULL;
	}
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		release_net(&cfg->nets[i]);
	free(cfg->vsock.owned);
	cfg->vsock.owned = NULL;
}

/* Writes entry at the config's next index (not counted yet) with its own copy of the strings. */
static int stage_entry(struct vm_config *c, enum vm_dev_kind kind, const void *entry)
{
	if (kind == VM_DEV_DISK) {
		struct disk_config *d = &c->disks[c->nr_disks];
		*d = *(const struct disk_config *)entry;
		d->owned = own_strings((const char **[]){ &d->path, &d->socket, &d->serial }, 3);
		return d->owned ? 0 : -ENOMEM;
	}
	if (kind == VM_DEV_NET) {
		struct net_config *n = &c->nets[c->nr_nets];
		*n = *(const struct net_config *)entry;
		n->owned = own_strings((const char **[]){ &n->tap, &n->socket, &n->mac }, 3);
		return n->owned ? 0 : -ENOMEM;
	}
	c->vsock = *(const struct vsock_config *)entry;
	c->vsock.enabled = true;
	c->vsock.owned = own_strings((const char **[]){ &c->vsock.socket }, 1);
	return c->vsock.owned ? 0 : -ENOMEM;
}

static void count_entry(struct vm_config *c, enum vm_dev_kind kind)
{
	if (kind == VM_DEV_DISK)
		c->nr_disks++;
	else if (kind == VM_DEV_NET)
		c->nr_nets++;
}

/* Undoes stage_entry; the caller keeps a net's fds (they were its until now). */
static void unstage_entry(struct vm_config *c, enum vm_dev_kind kind)
{
	if (kind == VM_DEV_DISK) {
		free(c->disks[c->nr_disks].owned);
		c->disks[c->nr_disks] = (struct disk_config){ 0 };
	} else if (kind == VM_DEV_NET) {
		free(c->nets[c->nr_nets].owned);
		c->nets[c->nr_nets] = (struct net_config){ 0 };
	} else {
		free(c->vsock.owned);
		c->vsock = (struct vsock_config){ 0 };
	}
}

/* Drops entry index of kind from the config (what it owns too) and closes the gap. */
static void remove_entry(struct vm_config *c, enum vm_dev_kind kind, unsigned int index)
{
	if (kind == VM_DEV_DISK && index < c->nr_disks) {
		free(c->disks[index].owned);
		memmove(&c->disks[index], &c->disks[index + 1],
			(c->nr_disks - index - 1) * sizeof(c->disks[0]));
		c->disks[--c->nr_disks] = (struct disk_config){ 0 };
	} else if (kind == VM_DEV_NET && index < c->nr_nets) {
		release_net(&c->nets[index]);
		memmove(&c->nets[index], &c->nets[index + 1],
			(c->nr_nets - index - 1) * sizeof(c->nets[0]));
		c->nets[--c->nr_nets] = (struct net_config){ 0 };
	} else if (kind == VM_DEV_VSOCK) {
		free(c->vsock.owned);
		c->vsock = (struct vsock_config){ 0 };
	}
}

static int find_id(const struct vm_config *c, const char *id, enum vm_dev_kind *kind,
		   unsigned int *index)
{
	for (unsigned int i = 0; i < c->nr_disks; i++)
		if (!strcmp(c->disks[i].id, id))
			return *kind = VM_DEV_DISK, *index = i, 0;
	for (unsigned int i = 0; i < c->nr_nets; i++)
		if (!strcmp(c->nets[i].id, id))
			return *kind = VM_DEV_NET, *index = i, 0;
	if (c->vsock.enabled && !strcmp(c->vsock.id, id))
		return *kind = VM_DEV_VSOCK, *index = 0, 0;
	return -ENOENT;
}

/* ---- adding ---- */

static char *entry_id(enum vm_dev_kind kind, const void *entry)
{
	if (kind == VM_DEV_DISK)
		return ((struct disk_config *)entry)->id;
	if (kind == VM_DEV_NET)
		return ((struct net_config *)entry)->id;
	return ((struct vsock_config *)entry)->id;
}

/* Room in the config for one more of kind; -EINVAL with a reason when there is none. */
static int check_room(const struct vm_config *c, enum vm_dev_kind kind, char *err, size_t errlen)
{
	if (kind == VM_DEV_DISK && c->nr_disks == CONFIG_MAX_DISKS)
		snprintf(err, errlen, "too many disks (at most %d)", CONFIG_MAX_DISKS);
	else if (kind == VM_DEV_NET && c->nr_nets == CONFIG_MAX_NETS)
		snprintf(err, errlen, "too many network devices (at most %d)", CONFIG_MAX_NETS);
	else if (kind == VM_DEV_VSOCK && c->vsock.enabled)
		snprintf(err, errlen, "the VM has a vsock device already (at most one)");
	else
		return 0;
	return -EINVAL;
}

/* A path the broker will serve after the seal: under --jail hotplug-dir= (the broker checks it
 * again on the resolved path; this is for a clear answer). */
static int check_path(const struct vmm *vmm, const char *what, const char *path, char *err,
		      size_t errlen)
{
	size_t n = vmm->hotplug_dir ? strlen(vmm->hotplug_dir) : 0;

	if (!path || !broker_running())
		return 0;
	if (n && !strncmp(path, vmm->hotplug_dir, n) && (path[n] == '/' || vmm->hotplug_dir[n - 1] == '/'))
		return 0;
	snprintf(err, errlen, "%s %s: a device added to a running VM may only use paths under "
		 "--jail hotplug-dir=DIR (%s)", what, path, n ? vmm->hotplug_dir : "not given");
	return -EACCES;
}

static int check_hot(const struct vmm *vmm, enum vm_dev_kind kind, const void *entry, char *err,
		     size_t errlen)
{
	if (vmm->hotplug_off) {
		snprintf(err, errlen, "device hotplug is off (--jail hotplug=off or --jail strict keep "
			 "the broker sealed once the guest runs)");
		return -EPERM;
	}
	if (kind == VM_DEV_DISK) {
		const struct disk_config *d = entry;
		return check_path(vmm, "disk", d->vhost_user ? d->socket : d->path, err, errlen);
	}
	if (kind == VM_DEV_NET)
		return check_path(vmm, "net vhost_socket", ((const struct net_config *)entry)->socket,
				  err, errlen);
	return check_path(vmm, "vsock socket", ((const struct vsock_config *)entry)->socket, err,
			  errlen);
}

static int add_hot(struct vmm *vmm, enum vm_dev_kind kind, unsigned int *slot, char *err,
		   size_t errlen)
{
	int rc = vm_hotplug_add(&vmm->vm, kind);

	if (rc == -ENOSPC)
		snprintf(err, errlen, "the PCI bus is full (%d slots)", PCI_MAX_DEVICES - 1);
	else if (rc < 0)
		snprintf(err, errlen, "the %s device could not be created (the VMM's log says why)",
			 kind_names[kind]);
	else
		*slot = (unsigned int)rc;
	return rc < 0 ? rc : 0;
}

int vmm_add_device(struct vmm *vmm, enum vm_dev_kind kind, const void *entry,
		   struct vmm_added *out, char *err, size_t errlen)
{
	bool hot = vmm->state == VMM_VM_RUNNING || vmm->state == VMM_VM_PAUSED;
	const char *want = entry_id(kind, entry);
	int rc;

	*out = (struct vmm_added){ 0 };
	if (vmm->state == VMM_VM_NONE)
		return snprintf(err, errlen, "the VM is not created"), -ENOENT;
	if (want[0] && vmm_id_used(vmm, want))
		return snprintf(err, errlen, "a device with id %s exists already", want), -EEXIST;
	if ((rc = check_room(&vmm->cfg, kind, err, errlen)) < 0 ||
	    (hot && (rc = check_hot(vmm, kind, entry, err, errlen)) < 0))
		return rc;
	if (stage_entry(&vmm->cfg, kind, entry) < 0)
		return snprintf(err, errlen, "out of memory"), -EIO;
	if (hot && (rc = add_hot(vmm, kind, &out->slot, err, errlen)) < 0) {
		unstage_entry(&vmm->cfg, kind);
		return rc == -ENOSPC ? rc : -EIO;
	}
	count_entry(&vmm->cfg, kind);
	vmm_assign_ids(vmm);
	snprintf(out->id, sizeof(out->id), "%s", kind == VM_DEV_DISK ? vmm->cfg.disks[vmm->cfg.nr_disks - 1].id :
		 kind == VM_DEV_NET ? vmm->cfg.nets[vmm->cfg.nr_nets - 1].id : vmm->cfg.vsock.id);
	return 0;
}

/* ---- removing ---- */

static void remove_now(struct vmm *vmm, enum vm_dev_kind kind, unsigned int index)
{
	vm_hotplug_remove(&vmm->vm, kind, index);
	remove_entry(&vmm->cfg, kind, index);
}

int vmm_remove_device(struct vmm *vmm, const char *id, char *err, size_t errlen)
{
	enum vm_dev_kind kind;
	unsigned int index;
	int slot;

	if (vmm->state == VMM_VM_NONE)
		return snprintf(err, errlen, "the VM is not created"), -ENOENT;
	if (find_id(&vmm->cfg, id, &kind, &index) < 0)
		return snprintf(err, errlen, "no device with id %s", id), -ENOENT;
	if (vmm->state != VMM_VM_RUNNING && vmm->state != VMM_VM_PAUSED) {
		remove_entry(&vmm->cfg, kind, index); /* cold: the next boot goes without it */
		return 0;
	}
	slot = vm_hotplug_slot(&vmm->vm, kind, index);
	if (slot < 0)
		return snprintf(err, errlen, "device %s is not on the bus", id), -ENOENT;
	if (vmm->hotplug_surprise) {
		log_info("hotplug: %s (slot %d) removed without asking the guest (--hotplug-surprise)",
			 id, slot);
		remove_now(vmm, kind, index);
	} else {
		log_info("hotplug: asking the guest to eject %s (slot %d)", id, slot);
		pci_hotplug_request_eject(&vmm->vm, (unsigned int)slot);
	}
	return 0;
}

void vmm_on_eject(void *opaque, struct vm *vm, unsigned int slot)
{
	struct vmm *vmm = opaque;
	enum vm_dev_kind kind;
	unsigned int index;

	if (vm_hotplug_find(vm, slot, &kind, &index) < 0) {
		log_warn("hotplug: the guest ejected slot %u, which holds no device", slot);
		return;
	}
	log_info("hotplug: the guest ejected slot %u", slot);
	remove_now(vmm, kind, index);
}

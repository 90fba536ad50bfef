/* vm.h: the VM object that owns KVM fds, guest memory, buses, devices and vCPU threads. */
#ifndef CELLVM_VM_H
#define CELLVM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bus.h"
#include "config.h"
#include "guest_mem.h"
#include "irq.h"
#include "pci.h"

struct virtio_pci;

struct vm;
struct event_loop;
struct net_dev;

/* Why the VM stopped: set once by whoever stops it first (see vm_request_stop). */
struct vm_stop {
	int exit_status;       /* process exit status for cellvm */
	const char *reason;    /* static string, for the log */
};

enum vcpu_state { VCPU_CREATED, VCPU_RUNNING, VCPU_PAUSED, VCPU_STOPPED };

struct vcpu {
	struct vm *vm;
	unsigned int index;    /* also the APIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	_Atomic int state;     /* enum vcpu_state */
};

/* A platform device built into the VMM (serial, power, debug exit); declares itself. */
struct platform_device {
	const char *name;
	/* Allocates state, registers bus ranges; returns 0 or -errno. */
	int (*create)(struct vm *vm, void **state);
	void (*destroy)(void *state);
};

#define PLATFORM_DEVICE_DECLARE(dev)                                                    \
	static const struct platform_device *const platform_device_ptr_##dev             \
		__attribute__((used, section("cellvm_platform_devices"), aligned(8))) = &dev

#define VM_MAX_PLATFORM_DEVICES 16

struct acpi_pm;

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct kvm_cpuid2 *supported_cpuid;
	struct kvm_msr_list *msr_list;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	unsigned int nr_vcpus;        /* vCPUs created (boot ones, then hotplugged ones) */
	unsigned int max_vcpus;       /* the size of vcpus[]: the MADT's possible CPUs */
	struct vcpu *vcpus;
	struct event_loop *loop;
	int stop_fd;           /* eventfd: a vCPU or device asks the main loop to stop */
	pthread_mutex_t stop_lock;
	bool stop_requested;
	bool halting;          /* set by vm_halt: vCPU threads leave their loop */
	struct vm_stop stop;
	void (*on_stop)(void *opaque, struct vm *vm); /* runs in the loop's thread */
	void *on_stop_opaque;
	bool stop_watched;
	/* Pause: the owner sets paused and kicks; each vCPU counts itself in and waits. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;
	unsigned int nr_paused;
	struct irq_routing irq;
	bool irq_ready;
	struct pci_bus pci;
	unsigned int nr_disks;
	struct virtio_pci *disks[CONFIG_MAX_DISKS];
	struct virtio_pci *vsock;     /* --vsock, or NULL */
	unsigned int nr_nets;
	struct net_dev *nets[CONFIG_MAX_NETS];
	unsigned int nr_devices;
	const struct platform_device *devices[VM_MAX_PLATFORM_DEVICES];
	void *device_state[VM_MAX_PLATFORM_DEVICES];
	/* The guest ejected slot's device (ACPI _EJ0, pci_hotplug.h); vCPU thread; may be NULL. */
	void (*pci_ejected)(struct vm *vm, unsigned int slot);
	struct acpi_pm *acpi_pm;      /* ACPI PM1/GPE registers and the SCI (acpi_pm.c), or NULL */
	/* vm_hotplug.c: slots the guest ejected (bit per slot, set by vCPUs), and the eventfd
	 * that wakes the main loop to remove them through on_eject. */
	uint32_t eject_pending;
	int eject_fd;
	void (*on_eject)(void *opaque, struct vm *vm, unsigned int slot);
	void *on_eject_opaque;
};

/* Records why the VM stops (first caller wins) and wakes the main loop. Thread-safe. */
void vm_request_stop(struct vm *vm, int exit_status, const char *reason);
bool vm_stopping(struct vm *vm);

/* power.c: reset control register (0xCF9) writes, forwarded by the PCI host bridge. */
void power_reset_control(void *opaque, uint8_t value);

/* vm.resize: n vCPUs present. More: the lowest absent ones are created (or reused) and the
 * guest is told; fewer: the guest is asked to give the highest back (ACPI eject). Main thread.
 * Returns 0, -EINVAL (n out of 1..max_vcpus) or another -errno, with err set. */
int vm_resize_vcpus(struct vm *vm, unsigned int n, char *err, size_t errlen);

/* Sends an NMI to every vCPU (vm.nmi). Returns 0 or -errno. */
int vm_inject_nmi(struct vm *vm);

/* Asserts (level 1) or deasserts (0) an interrupt line of the in-kernel irqchip. */
int vm_set_irq_line(struct vm *vm, unsigned int gsi, int level);


/* Builds the whole VM from cfg, registering device fds on loop. Returns 0 or an exit code
 * (exit_codes.h) with a one-line reason in err; vm_destroy() must be called either way. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct event_loop *loop, char *err,
	      size_t errlen);
/* Starts the vCPUs. When the guest or a device stops the VM (vm_request_stop), on_stop runs
 * in the event loop's thread; vm->stop says why. Returns 0 or an exit code. */
int vm_start(struct vm *vm, void (*on_stop)(void *opaque, struct vm *vm), void *opaque,
	     char *err, size_t errlen);
/* Every vCPU out of KVM_RUN and waiting (returns once all are), or running again. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* Brackets a change to what vCPU threads read without a lock (the PIO/MMIO buses, PCI slots,
 * bus.h): pauses the vCPUs when they run and are not paused already; returns whether it did,
 * for vm_devices_unlock. Main thread only (the only one that pauses). */
bool vm_devices_lock(struct vm *vm);
void vm_devices_unlock(struct vm *vm, bool paused);
/* Stops and joins the vCPU threads; the VM can then only be destroyed. Idempotent. */
void vm_halt(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif

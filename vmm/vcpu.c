/* vcpu.c: vCPU set-up, threads, the KVM_RUN loop and the one exit switch. */
#define _GNU_SOURCE
#include "vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_boot.h"
#include "cpuid.h"
#include "exit_codes.h"
#include "log.h"
#include "policy.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static void dump_regs_at(enum log_level level, const struct vcpu *v, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_msg(level, "vcpu %u: %s (registers unavailable: %s)", v->index, what,
			strerror(errno));
		return;
	}
	log_msg(level, "vcpu %u: %s: rip=%#llx rsp=%#llx rflags=%#llx cs=%#x cr0=%#llx cr3=%#llx "
		"cr4=%#llx efer=%#llx", v->index, what, r.rip, r.rsp, r.rflags, s.cs.selector,
		  s.cr0, s.cr3, s.cr4, s.efer);
}

static void dump_regs(const struct vcpu *v, const char *what)
{
	dump_regs_at(LOG_ERROR, v, what);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t size = run->io.size;
	uint64_t span = (uint64_t)size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (size == 0 || size > 4 || run->io.data_offset + span > (uint64_t)v->vm->vcpu_mmap_size)
		return; /* KVM never does this; refuse rather than trust it */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&v->vm->pio, run->io.port, data, size);
		else
			bus_read(&v->vm->pio, run->io.port, data, size);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write) {
		if (bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len) < 0)
			log_debug("vcpu %u: unclaimed MMIO write at %#llx", v->index,
				  run->mmio.phys_addr);
	} else if (bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len) < 0) {
		log_debug("vcpu %u: unclaimed MMIO read at %#llx", v->index, run->mmio.phys_addr);
	}
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(v->vm, EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(v->vm, EXIT_REBOOT, "guest requested a reboot");
		break;
	default:
		dump_regs(v, "guest crashed (system event)");
		vm_request_stop(v->vm, EXIT_GUEST_ERROR, "guest crashed");
		break;
	}
}

static void handle_internal_error(struct vcpu *v)
{
	char what[96];

	snprintf(what, sizeof(what), "KVM internal error, suberror %u%s",
		 v->run->internal.suberror,
		 v->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "");
	dump_regs(v, what);
	vm_request_stop(v->vm, EXIT_GUEST_ERROR, "KVM could not run the guest");
}

/* The one exit switch: every KVM exit reason is handled or reported here. */
static void vcpu_handle_exit(struct vcpu *v)
{
	char what[96];

	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_SHUTDOWN:
		dump_regs(v, "guest triple fault (KVM_EXIT_SHUTDOWN)");
		vm_request_stop(v->vm, EXIT_TRIPLE_FAULT, "guest triple-faulted");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		handle_internal_error(v);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed, reason %#llx",
			 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
		dump_regs(v, what);
		vm_request_stop(v->vm, EXIT_GUEST_ERROR, "KVM could not enter the guest");
		break;
	default:
		snprintf(what, sizeof(what), "unexpected KVM exit reason %u", v->run->exit_reason);
		dump_regs(v, what);
		vm_request_stop(v->vm, EXIT_GUEST_ERROR, "unexpected KVM exit");
		break;
	}
}

/* If the VM is being paused: count this vCPU in and wait for resume (or stop). */
static bool vcpu_pause_point(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	atomic_store(&v->state, VCPU_PAUSED);
	vm->nr_paused++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->paused && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nr_paused--;
	atomic_store(&v->state, VCPU_RUNNING);
	pthread_mutex_unlock(&vm->pause_lock);
	return true;
}

static void vcpu_kick_all(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		/* immediate_exit covers a vCPU about to enter KVM_RUN; the signal one inside it. */
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
}

static unsigned int vcpus_running(const struct vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		n += atomic_load(&vm->vcpus[i].state) != VCPU_STOPPED && vm->vcpus[i].thread_started;
	return n;
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->paused, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->pause_lock);
	vcpu_kick_all(vm);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nr_paused < vcpus_running(vm) && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->paused, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_devices_lock(struct vm *vm)
{
	bool live = false;

	if (!vm->vcpus || __atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE))
		return false; /* not started yet, or paused by vm.pause: no vCPU dispatches */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		live |= vm->vcpus[i].thread_started;
	if (live)
		vm_pause(vm);
	return live;
}

void vm_devices_unlock(struct vm *vm, bool paused)
{
	if (paused)
		vm_resume(vm);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Kata finds vCPU threads by this name. Set by the thread itself (prctl): naming
	 * another thread goes through /proc, which the jail does not have. */
	snprintf(name, sizeof(name), "vcpu %u", v->index);
	pthread_setname_np(pthread_self(), name);
	atomic_store(&v->state, VCPU_RUNNING);
	if (vmm_policy_thread(VMM_THREAD_VCPU) < 0) {
		log_error("vcpu %u: cannot load the vCPU seccomp filter", v->index);
		vm_request_stop(v->vm, EXIT_VMM_ERROR, "vCPU seccomp filter failed");
	}
	while (!vm_stopping(v->vm)) {
		if (vcpu_pause_point(v))
			continue;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("vcpu %u: KVM_RUN: %s", v->index, strerror(errno));
			vm_request_stop(v->vm, EXIT_VMM_ERROR, "KVM_RUN failed");
			break;
		}
		vcpu_handle_exit(v);
	}
	pthread_mutex_lock(&v->vm->pause_lock);
	atomic_store(&v->state, VCPU_STOPPED);
	pthread_cond_broadcast(&v->vm->pause_cond); /* a pending vm_pause stops waiting for us */
	pthread_mutex_unlock(&v->vm->pause_lock);
	if (log_get_level() >= LOG_DEBUG)
		dump_regs_at(LOG_DEBUG, v, "stopped");
	return NULL;
}

static int vcpu_setup(struct vm *vm, struct vcpu *v, struct kvm_cpuid2 *cpuid)
{
	int rc;

	/* The topology counts every possible vCPU, so hotplugged ones fit the same package. */
	if (cpuid_build(vm->supported_cpuid, v->index, vm->max_vcpus, cpuid) < 0)
		return -EINVAL;
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		return -errno;
	rc = cpu_init_msrs(v->fd, vm->msr_list);
	if (rc == 0)
		rc = cpu_init_fpu(v->fd);
	if (rc == 0)
		rc = cpu_init_lapic(v->fd);
	return rc;
}

static int vcpu_create_one(struct vm *vm, unsigned int i, struct kvm_cpuid2 *cpuid,
			   char *err, size_t errlen)
{
	struct vcpu *v = &vm->vcpus[i];
	int rc;

	v->vm = vm;
	v->index = i;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
	if (v->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", i, strerror(errno));
		return EXIT_VMM_ERROR;
	}
	v->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		snprintf(err, errlen, "vcpu %u: mmap kvm_run: %s", i, strerror(errno));
		return EXIT_VMM_ERROR;
	}
	rc = vcpu_setup(vm, v, cpuid);
	if (rc < 0) {
		snprintf(err, errlen, "vcpu %u: CPUID/MSR/FPU/LAPIC set-up: %s", i, strerror(-rc));
		return EXIT_VMM_ERROR;
	}
	return 0;
}

static struct kvm_cpuid2 *cpuid_alloc(const struct vm *vm)
{
	return calloc(1, sizeof(struct kvm_cpuid2) +
			 vm->supported_cpuid->nent * sizeof(struct kvm_cpuid_entry2));
}

int vcpu_create_all(struct vm *vm, const struct boot_result *br, char *err, size_t errlen)
{
	struct kvm_cpuid2 *cpuid;
	int rc = 0;

	vm->vcpus = calloc(vm->max_vcpus, sizeof(*vm->vcpus));
	cpuid = cpuid_alloc(vm);
	if (!vm->vcpus || !cpuid) {
		free(cpuid);
		snprintf(err, errlen, "out of memory creating vCPUs");
		return EXIT_VMM_ERROR;
	}
	for (unsigned int i = 0; i < vm->max_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned int i = 0; i < vm->nr_vcpus && rc == 0; i++)
		rc = vcpu_create_one(vm, i, cpuid, err, errlen);
	free(cpuid);
	if (rc == 0 && cpu_set_boot_state(vm->vcpus[0].fd, br) < 0) {
		snprintf(err, errlen, "vcpu 0: setting boot registers: %s", strerror(errno));
		rc = EXIT_VMM_ERROR;
	}
	return rc;
}

static int vcpu_start_one(struct vcpu *v, char *err, size_t errlen)
{
	int rc = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (rc != 0) {
		snprintf(err, errlen, "vcpu %u: pthread_create: %s", v->index, strerror(rc));
		return EXIT_VMM_ERROR;
	}
	v->thread_started = true;
	return 0;
}

int vcpu_hotadd(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int i = vm->nr_vcpus;
	int rc;

	if (i >= vm->max_vcpus) {
		snprintf(err, errlen, "all %u vCPUs exist", vm->max_vcpus);
		return -ENOSPC;
	}
	if (!(cpuid = cpuid_alloc(vm))) {
		snprintf(err, errlen, "out of memory adding a vCPU");
		return -ENOMEM;
	}
	rc = vcpu_create_one(vm, i, cpuid, err, errlen);
	free(cpuid);
	if (rc == 0)
		rc = vcpu_start_one(&vm->vcpus[i], err, errlen);
	/* Counted even if its thread failed: destroy closes what vcpu_create_one opened. */
	vm->nr_vcpus = i + 1;
	return rc ? -EIO : 0;
}

int vcpu_start_all(struct vm *vm, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART: KVM_RUN gets EINTR */

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		return EXIT_VMM_ERROR;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		int rc = vcpu_start_one(&vm->vcpus[i], err, errlen);

		if (rc)
			return rc;
	}
	return 0;
}

void vcpu_stop_all(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	__atomic_store_n(&vm->halting, true, __ATOMIC_RELEASE);
	vcpu_kick_all(vm);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond); /* paused vCPUs wake and see halting */
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void vcpu_destroy_all(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	vcpu_stop_all(vm);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, vm->vcpu_mmap_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
}

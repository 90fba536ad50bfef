/* vmm.c: the VMM's main thread: signals, calls from the API thread, and the VM's life cycle. */
#include "vmm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "broker.h"
#include "exit_codes.h"
#include "log.h"
#include "loop.h"
#include "vmm_hotplug.h"

const char *vmm_state_name(enum vmm_vm_state state)
{
	static const char *const names[] = { "NotCreated", "Created", "Running", "Paused",
					     "Shutdown" };
	return names[state];
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vmm *vmm = opaque;
	struct signalfd_siginfo si;

	if (read(vmm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("received signal %u, stopping", si.ssi_signo);
	if (vmm->vm_built)
		vm_request_stop(&vmm->vm, EXIT_SIGNAL, "stopped by a signal");
	else
		vmm_exit(vmm, EXIT_SIGNAL);
}

static void on_call(void *opaque, uint32_t events)
{
	struct vmm *vmm = opaque;
	uint64_t v;

	if (read(vmm->call_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&vmm->call_lock);
	struct vmm_call *c = vmm->call;
	pthread_mutex_unlock(&vmm->call_lock);
	if (!c)
		return;
	c->fn(vmm, c->arg); /* outside the lock: it may take long (boot) */
	pthread_mutex_lock(&vmm->call_lock);
	c->done = true;
	vmm->call = NULL;
	pthread_cond_broadcast(&vmm->call_cond);
	pthread_mutex_unlock(&vmm->call_lock);
}

int vmm_call(struct vmm *vmm, void (*fn)(struct vmm *vmm, void *arg), void *arg)
{
	struct vmm_call c = { fn, arg, false };
	uint64_t one = 1;

	pthread_mutex_lock(&vmm->call_lock);
	while (vmm->call && !vmm->exiting)
		pthread_cond_wait(&vmm->call_cond, &vmm->call_lock);
	if (!vmm->exiting) {
		vmm->call = &c;
		if (write(vmm->call_fd, &one, sizeof(one)) < 0)
			log_error("call eventfd: %s", strerror(errno));
	}
	while (!c.done && !vmm->exiting)
		pthread_cond_wait(&vmm->call_cond, &vmm->call_lock);
	if (vmm->call == &c)
		vmm->call = NULL; /* the main loop ended before running it */
	pthread_mutex_unlock(&vmm->call_lock);
	return c.done ? 0 : -ESHUTDOWN;
}

void vmm_stop_calls(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->call_lock);
	vmm->exiting = true;
	pthread_cond_broadcast(&vmm->call_cond);
	pthread_mutex_unlock(&vmm->call_lock);
}

int vmm_init(struct vmm *vmm, char *err, size_t errlen)
{
	sigset_t set;

	*vmm = (struct vmm){ .signal_fd = -1, .call_fd = -1, .exit_status = EXIT_POWEROFF };
	pthread_mutex_init(&vmm->call_lock, NULL);
	pthread_cond_init(&vmm->call_cond, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread exists so all inherit the mask; only signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	vmm->loop = event_loop_create();
	vmm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	vmm->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!vmm->loop || vmm->signal_fd < 0 || vmm->call_fd < 0 ||
	    event_loop_add(vmm->loop, vmm->signal_fd, EPOLLIN, on_signal, vmm) < 0 ||
	    event_loop_add(vmm->loop, vmm->call_fd, EPOLLIN, on_call, vmm) < 0) {
		snprintf(err, errlen, "event loop set-up: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void release_config(struct vmm *vmm)
{
	vmm_release_owned(&vmm->cfg);
	if (vmm->cfg_release)
		vmm->cfg_release(vmm->cfg_owner);
	vmm->cfg_release = NULL;
	vmm->cfg_owner = NULL;
	memset(&vmm->cfg, 0, sizeof(vmm->cfg));
}

void vmm_destroy(struct vmm *vmm)
{
	if (vmm->vm_built)
		vm_destroy(&vmm->vm);
	vmm->vm_built = false;
	release_config(vmm);
	if (vmm->signal_fd >= 0)
		close(vmm->signal_fd);
	if (vmm->call_fd >= 0)
		close(vmm->call_fd);
	event_loop_destroy(vmm->loop);
	pthread_mutex_destroy(&vmm->call_lock);
	pthread_cond_destroy(&vmm->call_cond);
	vmm->signal_fd = vmm->call_fd = -1;
	vmm->loop = NULL;
}

void vmm_exit(struct vmm *vmm, int status)
{
	vmm->exit_status = status;
	event_loop_stop(vmm->loop);
}

int vmm_run(struct vmm *vmm)
{
	int rc = event_loop_run(vmm->loop);

	if (rc < 0) {
		log_error("event loop: %s", strerror(-rc));
		return EXIT_VMM_ERROR;
	}
	return vmm->exit_status;
}

/* The guest (or a signal) stopped the VM: as Cloud Hypervisor does, the VMM ends with it. */
static void on_vm_stop(void *opaque, struct vm *vm)
{
	struct vmm *vmm = opaque;
	int status = vm->stop.exit_status;

	log_info("VM stopped: %s (exit status %d)", vm->stop.reason, status);
	vm_destroy(vm);
	vmm->vm_built = false;
	vmm->state = VMM_VM_SHUTDOWN;
	vmm_exit(vmm, status);
}

int vmm_vm_create(struct vmm *vmm, const struct vm_config *cfg, void (*release)(void *),
		  void *owner)
{
	if (vmm->state != VMM_VM_NONE)
		return -EEXIST;
	vmm->cfg = *cfg;
	vmm->cfg_release = release;
	vmm->cfg_owner = owner;
	vmm->state = VMM_VM_CREATED;
	vmm_assign_ids(vmm);
	return 0;
}

int vmm_vm_boot(struct vmm *vmm, int *status, char *err, size_t errlen)
{
	int rc;

	if (vmm->state == VMM_VM_NONE)
		return -ENOENT;
	if (vmm->state != VMM_VM_CREATED && vmm->state != VMM_VM_SHUTDOWN)
		return -EBUSY;
	vmm->vm_built = true;
	rc = vm_create(&vmm->vm, &vmm->cfg, vmm->loop, err, errlen);
	if (rc == 0 && vm_hotplug_init(&vmm->vm, vmm_on_eject, vmm) < 0) {
		snprintf(err, errlen, "hotplug: eventfd or event loop full");
		rc = EXIT_VMM_ERROR;
	}
	if (rc == 0) {
		broker_seal(); /* the guest runs next: the broker serves only repeats from now on */
		rc = vm_start(&vmm->vm, on_vm_stop, vmm, err, errlen);
	}
	if (rc != 0) {
		vm_destroy(&vmm->vm);
		vmm->vm_built = false;
		*status = rc;
		return -EIO;
	}
	vmm->state = VMM_VM_RUNNING;
	return 0;
}

int vmm_vm_pause(struct vmm *vmm)
{
	if (vmm->state == VMM_VM_NONE)
		return -ENOENT;
	if (vmm->state != VMM_VM_RUNNING)
		return -EBUSY;
	vm_pause(&vmm->vm);
	vmm->state = VMM_VM_PAUSED;
	return 0;
}

int vmm_vm_resume(struct vmm *vmm)
{
	if (vmm->state == VMM_VM_NONE)
		return -ENOENT;
	if (vmm->state != VMM_VM_PAUSED)
		return -EBUSY;
	vm_resume(&vmm->vm);
	vmm->state = VMM_VM_RUNNING;
	return 0;
}

int vmm_vm_shutdown(struct vmm *vmm)
{
	if (vmm->state == VMM_VM_NONE)
		return -ENOENT;
	if (vmm->state != VMM_VM_RUNNING && vmm->state != VMM_VM_PAUSED)
		return -EBUSY;
	vm_destroy(&vmm->vm);
	vmm->vm_built = false;
	vmm->state = VMM_VM_SHUTDOWN;
	return 0;
}

int vmm_vm_delete(struct vmm *vmm)
{
	if (vmm->vm_built)
		vm_destroy(&vmm->vm);
	vmm->vm_built = false;
	release_config(vmm);
	vmm->state = VMM_VM_NONE;
	return 0;
}

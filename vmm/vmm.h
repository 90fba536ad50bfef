/* vmm.h: the VMM process: one event loop, at most one VM, and its life cycle as the API sees it. */
#ifndef CELLVM_VMM_H
#define CELLVM_VMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "vm.h"

/* Cloud Hypervisor's VmState, plus "not created". */
enum vmm_vm_state { VMM_VM_NONE, VMM_VM_CREATED, VMM_VM_RUNNING, VMM_VM_PAUSED, VMM_VM_SHUTDOWN };

struct api_server;
struct vmm;

/* A function the API thread asks the main thread to run (vmm_call). */
struct vmm_call {
	void (*fn)(struct vmm *vmm, void *arg);
	void *arg;
	bool done;
};

struct vmm {
	struct event_loop *loop;
	int signal_fd;
	int call_fd;                   /* eventfd: a vmm_call is waiting */
	pthread_mutex_t call_lock;
	pthread_cond_t call_cond;
	struct vmm_call *call;         /* the one pending call, or NULL */
	bool exiting;                  /* vmm_stop_calls: no more calls are run */
	struct vm_config cfg;
	void (*cfg_release)(void *);   /* frees what cfg's strings point into */
	void *cfg_owner;
	struct vm vm;
	bool vm_built;
	enum vmm_vm_state state;
	int exit_status;
	struct api_server *api;
	/* Hotplug (vmm_hotplug.c), set by main from the command line. */
	unsigned int next_dev_id;      /* Cloud Hypervisor's generated ids: "_disk<n>", ... */
	bool hotplug_off;              /* --jail hotplug=off or strict: the broker stays sealed */
	bool hotplug_surprise;         /* --hotplug-surprise: no eject request to the guest */
	const char *hotplug_dir;       /* --jail hotplug-dir=, or NULL */
};

/* Each returns 0 or -1 with a one-line reason in err; exit codes in *status when given. */
int vmm_init(struct vmm *vmm, char *err, size_t errlen);
void vmm_destroy(struct vmm *vmm);

/* Life cycle, called in the main thread. 0 on success; -ENOENT no VM, -EEXIST already
 * created, -EBUSY wrong state (the API maps these to 404/400/405); other -errno with err. */
int vmm_vm_create(struct vmm *vmm, const struct vm_config *cfg, void (*release)(void *),
		  void *owner);
int vmm_vm_boot(struct vmm *vmm, int *status, char *err, size_t errlen);
int vmm_vm_pause(struct vmm *vmm);
int vmm_vm_resume(struct vmm *vmm);
int vmm_vm_shutdown(struct vmm *vmm);
int vmm_vm_delete(struct vmm *vmm);
const char *vmm_state_name(enum vmm_vm_state state);

/* Runs the event loop until the VMM exits; returns the process exit status. */
int vmm_run(struct vmm *vmm);
/* Ends vmm_run with status (main thread). */
void vmm_exit(struct vmm *vmm, int status);
/* From any other thread: runs fn(vmm, arg) in the main thread and waits for it. Returns 0,
 * or -ESHUTDOWN if the VMM stopped serving calls (vmm_stop_calls) before running it. */
int vmm_call(struct vmm *vmm, void (*fn)(struct vmm *vmm, void *arg), void *arg);
/* Main thread, after vmm_run: pending and future vmm_call()s return -ESHUTDOWN. */
void vmm_stop_calls(struct vmm *vmm);

#endif

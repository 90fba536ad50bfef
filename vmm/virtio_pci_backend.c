/* virtio_pci_backend.c: a virtio-pci device's backend process: its hang-up, why it ended, and reconnecting an external one. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "virtio_pci_internal.h"
#include "vm.h"

/* The socket closes a moment before the process is gone: wait up to 0.5 s to say why. */
static bool reap_briefly(pid_t pid, int *status)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; pid > 0 && i < 500; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

static void describe_exit(pid_t pid, char *out, size_t len)
{
	int status;

	if (!reap_briefly(pid, &status))
		snprintf(out, len, "closed its socket");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(out, len, "pid %d was killed by signal %d (SIGSYS: a system call outside its "
			 "seccomp policy)", (int)pid, SIGSYS);
	else if (WIFSIGNALED(status))
		snprintf(out, len, "pid %d was killed by signal %d (%s)", (int)pid, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "pid %d exited with status %d", (int)pid, WEXITSTATUS(status));
}

static void begin_reconnect(struct virtio_pci *vp);

/* The main loop saw the backend's socket hang up. A backend cellvm spawned is not restarted
 * (it may have been killed for what it did): the device fails, the VM goes on. An external
 * one (--disk vhost_user=true,socket=PATH) gets a grace period to come back. */
static void on_backend_hangup(void *opaque, uint32_t events)
{
	struct virtio_pci *vp = opaque;
	char why[128];

	event_loop_del(vp->vm->loop, vp->vhu.fd);
	vp->watched = false;
	if (vp->backend_pid == 0 && vp->socket_path[0]) {
		begin_reconnect(vp);
		return;
	}
	describe_exit(vp->backend_pid, why, sizeof(why));
	if (vp->backend_pid > 0 && strncmp(why, "pid", 3) == 0)
		vp->backend_pid = 0; /* reaped */
	log_error("%s: device backend %s; the device is marked as needing reset, the VM continues",
		  vp->name, why);
	vpci_mark_broken(vp);
}

/* Only hang-ups are watched: replies are read synchronously by the thread that asked. */
int vpci_watch_backend(struct virtio_pci *vp)
{
	int rc = event_loop_add(vp->vm->loop, vp->vhu.fd, EPOLLRDHUP, on_backend_hangup, vp);

	vp->watched = rc == 0;
	return rc;
}

/* ---- reconnecting an external backend ---- */

#define RECONNECT_GRACE_MS 10000u
#define RECONNECT_FIRST_MS 50u
#define RECONNECT_MAX_MS   1000u

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static int arm_retry(struct virtio_pci *vp, unsigned int ms)
{
	struct itimerspec t = { .it_value = { ms / 1000u, (long)(ms % 1000u) * 1000000L } };

	return timerfd_settime(vp->retry_fd, 0, &t, NULL) < 0 ? -errno : 0;
}

void vpci_stop_retry(struct virtio_pci *vp)
{
	if (vp->retry_fd < 0)
		return;
	event_loop_del(vp->vm->loop, vp->retry_fd);
	close(vp->retry_fd);
	vp->retry_fd = -1;
}

/* The backend queues a backend answering GET_QUEUE_NUM with max_queues can serve. */
unsigned int vpci_backend_queue_room(const struct virtio_pci *vp, unsigned int max_queues)
{
	return max_queues * (vp->local && vp->local->queue_num_pairs ? 2 : 1);
}

/* Whether the VMM fills the config space itself (the backend has no F_CONFIG, the device allows it). */
bool vpci_own_config(const struct virtio_pci *vp, const struct vhost_user *v)
{
	return vp->local && vp->local->own_config_features && !(v->protocol_features & VHU_PF_CONFIG);
}

/* The new backend must offer all the old one did: the driver may rely on any of it. */
static int check_new_backend(struct virtio_pci *vp, const struct vhost_user *nv)
{
	uint64_t offered = (nv->features & ~VHU_F_PROTOCOL_FEATURES) | VIRTIO_F_VERSION_1;

	if ((vp->device_features & ~vp->vmm_features & ~offered) == 0 &&
	    vp->nr_backend_queues <= vpci_backend_queue_room(vp, nv->max_queues) &&
	    vpci_own_config(vp, nv) == vpci_own_config(vp, &vp->vhu) &&
	    (!vp->config_len || vpci_own_config(vp, nv) || (nv->protocol_features & VHU_PF_CONFIG)))
		return 0;
	log_error("%s: the backend at %s came back offering less (features %#llx, %u queues)",
		  vp->name, vp->socket_path, (unsigned long long)offered, nv->max_queues);
	return -ENOTSUP;
}

/* Kicks every ring (buffers posted during the outage) and raises its interrupt (a
 * completion the old backend pushed but did not signal); both are harmless if spurious. */
static void resume_queues(struct virtio_pci *vp)
{
	uint64_t one = 1;

	for (unsigned int i = 0; i < vp->nr_queues && vp->active; i++) {
		struct vpci_queue *q = &vp->q[i];
		int call = q->msix_vector < vp->nr_vectors ? vp->vec[q->msix_vector].fd : -1;

		if (q->enabled && write(q->kick_fd, &one, sizeof(one)) < 0)
			log_debug("%s: kick: %s", vp->name, strerror(errno));
		if (q->enabled && call >= 0 && write(call, &one, sizeof(one)) < 0)
			log_debug("%s: call: %s", vp->name, strerror(errno));
	}
}

/* One attempt: connect outside the lock, then redo the device set-up under it. 0: done. */
static int try_reconnect(struct virtio_pci *vp)
{
	struct vhost_user nv = { .fd = -1, .name = vp->name, .inflight.fd = -1 };
	int rc = vhu_reconnect(&nv, vp->socket_path);

	if (rc < 0)
		return rc;
	rc = check_new_backend(vp, &nv);
	pthread_mutex_lock(&vp->lock);
	nv.inflight = vp->vhu.inflight; /* what the old backend left in flight */
	vp->vhu = nv;
	if (rc == 0 && (vp->status & STATUS_DRIVER_OK) && !(vp->status & STATUS_NEEDS_RESET))
		rc = vpci_activate(vp, true);
	if (rc == 0)
		rc = vpci_watch_backend(vp);
	if (rc == 0)
		resume_queues(vp);
	else
		vhu_close(&vp->vhu);
	pthread_mutex_unlock(&vp->lock);
	return rc;
}

static void give_up(struct virtio_pci *vp, const char *why)
{
	vpci_stop_retry(vp);
	log_error("%s: vhost-user backend at %s did not come back within %u s (%s); the device is "
		  "marked as needing reset, the VM continues", vp->name, vp->socket_path,
		  RECONNECT_GRACE_MS / 1000u, why);
	vpci_mark_broken(vp);
}

static void on_retry(void *opaque, uint32_t events)
{
	struct virtio_pci *vp = opaque;
	uint64_t expirations, now;
	int rc;

	if (read(vp->retry_fd, &expirations, sizeof(expirations)) < 0)
		return; /* EAGAIN: not due yet */
	rc = try_reconnect(vp);
	now = now_ms();
	if (rc == 0) {
		log_warn("%s: vhost-user backend at %s is back after %llu ms; requests resumed",
			 vp->name, vp->socket_path,
			 (unsigned long long)(now + RECONNECT_GRACE_MS - vp->retry_deadline_ms));
		vpci_stop_retry(vp);
		return;
	}
	if (rc == -ENOTSUP || now >= vp->retry_deadline_ms) {
		give_up(vp, strerror(-rc));
		return;
	}
	vp->retry_ms = vp->retry_ms * 2 < RECONNECT_MAX_MS ? vp->retry_ms * 2 : RECONNECT_MAX_MS;
	if (arm_retry(vp, (unsigned int)(vp->retry_deadline_ms - now < vp->retry_ms ?
					 vp->retry_deadline_ms - now + 1 : vp->retry_ms)) < 0)
		give_up(vp, "timerfd");
}

/* Drops the dead socket (the device keeps its state) and starts the retry timer. */
static void begin_reconnect(struct virtio_pci *vp)
{
	int rc;

	pthread_mutex_lock(&vp->lock);
	vhu_close(&vp->vhu);
	vp->active = false;
	pthread_mutex_unlock(&vp->lock);
	log_warn("%s: vhost-user backend at %s hung up; reconnecting for up to %u s, requests wait",
		 vp->name, vp->socket_path, RECONNECT_GRACE_MS / 1000u);
	vp->retry_ms = RECONNECT_FIRST_MS;
	vp->retry_deadline_ms = now_ms() + RECONNECT_GRACE_MS;
	vp->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	rc = vp->retry_fd < 0 ? -errno : event_loop_add(vp->vm->loop, vp->retry_fd, EPOLLIN, on_retry, vp);
	if (rc == 0)
		rc = arm_retry(vp, vp->retry_ms);
	if (rc < 0)
		give_up(vp, strerror(-rc));
}

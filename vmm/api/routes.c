/* routes.c: the /api/v1 endpoints, each run in the VMM's main thread through vmm_call. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi_pm.h"
#include "api/api.h"
#include "api/vmconfig.h"
#include "exit_codes.h"
#include "log.h"
#include "net.h"
#include "vmm_hotplug.h"

#define API_PREFIX "/api/v1/"
#define JSON_MAX_DEPTH 16

typedef void (*handler_fn)(struct vmm *vmm, struct api_request *req, struct api_response *resp);

struct route {
	const char *name;
	enum http_method method;
	handler_fn fn;
};

void api_error(struct api_response *resp, int status, const char *fmt, ...)
{
	char msg[512];
	struct json_object *o = json_object_new_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(msg));
	resp->status = status;
	free(resp->body);
	resp->body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void reply_json(struct api_response *resp, struct json_object *o)
{
	resp->status = 200;
	resp->body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* Maps a life-cycle result: -ENOENT no VM (404), -EBUSY wrong state (405). */
static void reply_lifecycle(struct api_response *resp, int rc, const char *what, struct vmm *vmm)
{
	if (rc == 0)
		resp->status = 204;
	else if (rc == -ENOENT)
		api_error(resp, 404, "%s: the VM is not created", what);
	else
		api_error(resp, 405, "%s: not possible while the VM is %s", what,
			  vmm_state_name(vmm->state));
}

static void h_ping(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "build_version", json_object_new_string(CELLVM_VERSION));
	json_object_object_add(o, "version", json_object_new_string(CELLVM_VERSION));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "features", json_object_new_array());
	reply_json(resp, o);
}

static void h_vmm_shutdown(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	vmm_vm_delete(vmm);
	vmm_exit(vmm, EXIT_POWEROFF);
	resp->status = 204;
}

static struct json_object *parse_body(struct api_request *req, struct api_response *resp)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	struct json_object *o;
	enum json_tokener_error e;

	if (!tok) {
		api_error(resp, 500, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
	e = json_tokener_get_error(tok);
	if (!o || e != json_tokener_success || json_tokener_get_parse_end(tok) != req->body_len) {
		api_error(resp, 400, "malformed JSON body: %s", req->body_len == 0 ?
			  "the body is empty" : o && e == json_tokener_success ?
			  "trailing data after the JSON value" : e == json_tokener_continue ?
			  "the JSON value is incomplete" : json_tokener_error_desc(e));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* What an API-created VM's config points into: the JSON bodies (vm.create's, then one per
 * vm.add-net) and the tap fds received with them, all released at vm.delete. */
struct api_vm_owner {
	struct json_object *json[1 + CONFIG_MAX_NETS];
	unsigned int nr_json;
	int fds[CONFIG_MAX_NETS * CONFIG_NET_MAX_PAIRS];
	unsigned int nr_fds;
};

static void release_owner(void *arg)
{
	struct api_vm_owner *own = arg;

	for (unsigned int i = 0; i < own->nr_json; i++)
		json_object_put(own->json[i]);
	for (unsigned int i = 0; i < own->nr_fds; i++)
		close(own->fds[i]);
	free(own);
}

/* Gives cfg->nets[first..]'s fds the request's SCM_RIGHTS fds, in order, moving them to own
 * (the request no longer closes them), then checks each is a tap queue as --net fd=N is. */
static int attach_fds(struct vm_config *cfg, unsigned int first, struct api_request *req,
		      struct api_vm_owner *own, char *err, size_t errlen)
{
	unsigned int want = 0;
	int k = 0;

	for (unsigned int i = first; i < cfg->nr_nets; i++)
		want += cfg->nets[i].nr_fds;
	if (want != (unsigned int)req->nr_fds) {
		snprintf(err, errlen, "net fds: the body lists %u tap fds, the request carried %d "
			 "(SCM_RIGHTS)", want, req->nr_fds);
		return -1;
	}
	for (unsigned int i = first; i < cfg->nr_nets; i++)
		for (unsigned int q = 0; q < cfg->nets[i].nr_fds; q++) {
			cfg->nets[i].fds[q] = own->fds[own->nr_fds++] = req->fds[k];
			req->fds[k++] = -1;
		}
	for (unsigned int i = first; i < cfg->nr_nets; i++)
		for (unsigned int q = 0; q < cfg->nets[i].nr_fds; q++) {
			char why[128];

			if (net_check_tap_fd(cfg->nets[i].fds[q], why, sizeof(why)) < 0) {
				snprintf(err, errlen, "net[%u].fds[%u]: the %s", i, q, why);
				while (k-- > 0) /* this request's fds: closed now, not at vm.delete */
					close(own->fds[--own->nr_fds]);
				return -1;
			}
		}
	return 0;
}

static void h_create(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	struct api_vm_owner *own = calloc(1, sizeof(*own));
	struct vm_config cfg;
	char err[256];

	if (!own) {
		api_error(resp, 500, "out of memory");
		return;
	}
	own->json[0] = parse_body(req, resp);
	if (!own->json[0]) {
		free(own);
		return;
	}
	own->nr_json = 1;
	if (vmconfig_from_json(own->json[0], &cfg, err, sizeof(err)) < 0 ||
	    attach_fds(&cfg, 0, req, own, err, sizeof(err)) < 0 ||
	    config_validate(&cfg, err, sizeof(err)) < 0) {
		api_error(resp, 400, "%s", err);
		release_owner(own);
		return;
	}
	if (vmm_vm_create(vmm, &cfg, release_owner, own) < 0) {
		api_error(resp, 400, "vm.create: a VM is already created (vm.delete it first)");
		release_owner(own);
		return;
	}
	resp->status = 204;
}

/* The answer to a device add: 200 with PciDeviceInfo (hot), 204 (cold), or an error. */
static void reply_added(struct api_response *resp, const char *what, int rc,
			const struct vmm_added *added, const char *err)
{
	static const struct { int rc, status; } map[] = {
		{ -ENOENT, 404 }, { -EEXIST, 409 }, { -EINVAL, 400 }, { -EACCES, 400 },
	};
	struct json_object *o;
	char bdf[24];

	if (rc < 0) {
		int status = 500; /* hotplug off, a full bus, a device that could not be made */
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (map[i].rc == rc)
				status = map[i].status;
		return api_error(resp, status, "%s: %s", what, err);
	}
	if (!added->slot) {
		resp->status = 204;
		return;
	}
	snprintf(bdf, sizeof(bdf), "0000:00:%02x.0", added->slot & 0x1f);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(added->id));
	json_object_object_add(o, "bdf", json_object_new_string(bdf));
	reply_json(resp, o);
}

/* vm.add-net to a running (or paused) VM: the tap fds sent with the request (SCM_RIGHTS) become
 * the device's, checked as --net fd=N is; closed again if the add fails. */
static void hot_add_net(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	struct vm_config tmp = { 0 };
	struct net_config *n = &tmp.nets[0];
	struct json_object *o = parse_body(req, resp);
	char err[512] = "";
	struct vmm_added added = { 0 };
	unsigned int q = 0;
	int rc = -EINVAL;

	if (!o)
		return;
	if (vmconfig_parse_net(o, &tmp, "NetConfig", req->nr_fds, err, sizeof(err)) == 0) {
		for (q = 0; q < n->nr_fds; q++) {
			n->fds[q] = req->fds[q];
			req->fds[q] = -1;
		}
		for (rc = 0, q = 0; q < n->nr_fds && rc == 0; q++)
			rc = net_check_tap_fd(n->fds[q], err, sizeof(err)) < 0 ? -EINVAL : 0;
		if (rc == 0)
			rc = vmm_add_device(vmm, VM_DEV_NET, n, &added, err, sizeof(err));
		for (q = 0; rc < 0 && q < n->nr_fds; q++)
			close(n->fds[q]);
	}
	json_object_put(o);
	reply_added(resp, "vm.add-net", rc, &added, err);
}

/* vm.add-disk, vm.add-vsock: cold (into the config) or hot, vmm_hotplug.c decides. */
static void add_device(struct vmm *vmm, struct api_request *req, struct api_response *resp,
		       enum vm_dev_kind kind)
{
	struct vm_config tmp = { 0 };
	struct json_object *o = parse_body(req, resp);
	bool disk = kind == VM_DEV_DISK;
	char err[512] = "";
	struct vmm_added added = { 0 };
	int rc = -EINVAL;

	if (!o)
		return;
	if ((disk ? vmconfig_parse_disk(o, &tmp, "DiskConfig", err, sizeof(err)) :
		    vmconfig_parse_vsock(o, &tmp, "VsockConfig", err, sizeof(err))) == 0)
		rc = vmm_add_device(vmm, kind, disk ? (void *)&tmp.disks[0] : (void *)&tmp.vsock, &added,
				    err, sizeof(err));
	json_object_put(o);
	reply_added(resp, disk ? "vm.add-disk" : "vm.add-vsock", rc, &added, err);
}

static void h_add_disk(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	add_device(vmm, req, resp, VM_DEV_DISK);
}

static void h_add_vsock(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	add_device(vmm, req, resp, VM_DEV_VSOCK);
}

/* vm.remove-device {"id": ...}: 204 once the removal is under way (the guest ejects a running
 * VM's device, as in Cloud Hypervisor); 404 for an unknown id. */
static void h_remove_device(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	struct json_object *o = parse_body(req, resp), *v;
	char err[256];

	if (!o)
		return;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "id", &v) ||
	    !json_object_is_type(v, json_type_string) || json_object_object_length(o) != 1)
		api_error(resp, 400, "vm.remove-device: the body must be {\"id\": \"...\"} (VmRemoveDevice)");
	else if (vmm_remove_device(vmm, json_object_get_string(v), err, sizeof(err)) < 0)
		api_error(resp, 404, "vm.remove-device: %s", err);
	else
		resp->status = 204;
	json_object_put(o);
}

/* With no VM running (created, or shut down) the device joins the config: a cold add, as Kata
 * does it (vm.create, vm.add-net with the tap fds, vm.boot). The body's fds are ignored: every
 * fd the request carried is the device's, as in Cloud Hypervisor. A running VM needs hotplug. */
static void h_add_net(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	struct api_vm_owner *own = vmm->cfg_owner;
	struct json_object *o;
	struct vm_config cfg = vmm->cfg;
	char err[256];

	if (vmm->state == VMM_VM_NONE)
		return api_error(resp, 404, "vm.add-net: the VM is not created");
	if (vmm->state == VMM_VM_RUNNING || vmm->state == VMM_VM_PAUSED || vmm->cfg_release != release_owner)
		return hot_add_net(vmm, req, resp); /* also a VM from the command line */
	if (!(o = parse_body(req, resp)))
		return;
	if (vmconfig_parse_net(o, &cfg, "NetConfig", req->nr_fds, err, sizeof(err)) < 0 ||
	    attach_fds(&cfg, cfg.nr_nets - 1, req, own, err, sizeof(err)) < 0) {
		api_error(resp, 400, "vm.add-net: %s", err);
		json_object_put(o);
		return;
	}
	if (cfg.nets[cfg.nr_nets - 1].id[0] && vmm_id_used(vmm, cfg.nets[cfg.nr_nets - 1].id)) {
		api_error(resp, 409, "vm.add-net: a device with id %s exists already",
			  cfg.nets[cfg.nr_nets - 1].id);
		while (cfg.nets[cfg.nr_nets - 1].nr_fds--) /* this request's: closed now */
			close(own->fds[--own->nr_fds]);
		json_object_put(o);
		return;
	}
	own->json[own->nr_json++] = o;
	vmm->cfg.nets[vmm->cfg.nr_nets++] = cfg.nets[cfg.nr_nets - 1];
	vmm_assign_ids(vmm);
	resp->status = 204;
}

static void h_boot(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	char err[512];
	int status = 0;
	int rc = vmm_vm_boot(vmm, &status, err, sizeof(err));

	if (rc == -EIO)
		api_error(resp, 500, "vm.boot: %s", err);
	else
		reply_lifecycle(resp, rc, "vm.boot", vmm);
}

static void h_info(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	struct json_object *o;

	if (vmm->state == VMM_VM_NONE) {
		api_error(resp, 404, "vm.info: the VM is not created");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "config", vmconfig_to_json(&vmm->cfg));
	json_object_object_add(o, "state", json_object_new_string(vmm_state_name(vmm->state)));
	json_object_object_add(o, "memory_actual_size",
			       json_object_new_int64((int64_t)vmm->cfg.mem_size));
	reply_json(resp, o);
}

static void h_counters(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	if (vmm->state == VMM_VM_NONE)
		api_error(resp, 404, "vm.counters: the VM is not created");
	else
		reply_json(resp, json_object_new_object()); /* no device keeps counters yet */
}

static void h_shutdown(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	reply_lifecycle(resp, vmm_vm_shutdown(vmm), "vm.shutdown", vmm);
}

static void h_delete(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	reply_lifecycle(resp, vmm_vm_delete(vmm), "vm.delete", vmm);
}

static void h_pause(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	reply_lifecycle(resp, vmm_vm_pause(vmm), "vm.pause", vmm);
}

static void h_resume(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	reply_lifecycle(resp, vmm_vm_resume(vmm), "vm.resume", vmm);
}

static void h_reboot(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	int rc = vmm_vm_shutdown(vmm);

	if (rc == 0) {
		h_boot(vmm, req, resp);
		return;
	}
	reply_lifecycle(resp, rc, "vm.reboot", vmm);
}

static void h_power_button(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	if (vmm->state != VMM_VM_RUNNING)
		reply_lifecycle(resp, vmm->state == VMM_VM_NONE ? -ENOENT : -EBUSY, "vm.power-button",
				vmm);
	else {
		/* As on hardware, a press the guest has not enabled (no ACPI driver yet) stays
		 * latched in PWRBTN_STS; Cloud Hypervisor answers 204 either way too. */
		if (!acpi_pm_power_button(&vmm->vm))
			log_info("vm.power-button: the guest has not enabled the power button event yet; "
				 "the press is latched");
		resp->status = 204;
	}
}

/* VmResize.desired_vcpus as n (0: absent); desired_ram and desired_balloon need memory
 * hotplug and a balloon, which cellvm does not have. Returns 0 or an HTTP status with resp. */
static int resize_target(struct json_object *o, unsigned int max, unsigned int *n,
			 struct api_response *resp)
{
	*n = 0;
	json_object_object_foreach(o, key, val) {
		int64_t v;

		if (!strcmp(key, "desired_ram") || !strcmp(key, "desired_balloon")) {
			api_error(resp, 500, "vm.resize: %s needs memory hotplug or a balloon, which "
				  "cellvm does not have yet", key);
			return 500;
		}
		if (strcmp(key, "desired_vcpus")) {
			api_error(resp, 400, "vm.resize: %s is not a VmResize field", key);
			return 400;
		}
		if (!json_object_is_type(val, json_type_int) || (v = json_object_get_int64(val)) < 1) {
			api_error(resp, 400, "vm.resize: desired_vcpus must be an integer of at least 1");
			return 400;
		}
		if (v > max) {
			api_error(resp, 400, "vm.resize: desired_vcpus %lld is more than max_vcpus %u",
				  (long long)v, max);
			return 400;
		}
		*n = (unsigned int)v;
	}
	return 0;
}

/* vm.resize: vCPU hotplug through ACPI (vm_resize_vcpus); before boot it sets boot_vcpus. */
static void h_resize(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	unsigned int n, max = CONFIG_CPUS_MAX(&vmm->cfg);
	struct json_object *o;
	char err[256];
	bool live = vmm->state == VMM_VM_RUNNING || vmm->state == VMM_VM_PAUSED;

	if (vmm->state == VMM_VM_NONE)
		return api_error(resp, 404, "vm.resize: the VM is not created");
	if (!(o = parse_body(req, resp)))
		return;
	if (resize_target(o, max, &n, resp) == 0 && n) {
		if (live && acpi_pm_cpu_removal_pending(&vmm->vm))
			api_error(resp, 429, "vm.resize: the guest has not given back a vCPU it was asked for yet");
		else if (live && vm_resize_vcpus(&vmm->vm, n, err, sizeof(err)) < 0)
			api_error(resp, 500, "vm.resize: %s", err);
		else
			resp->status = 204;
	} else if (resp->status == 0) {
		resp->status = 204;       /* an empty VmResize changes nothing */
	}
	if (resp->status == 204 && n) {
		vmm->cfg.max_cpus = max;  /* keeps max_vcpus when boot_vcpus goes down */
		vmm->cfg.nr_cpus = n;     /* vm.info, and the next boot */
	}
	json_object_put(o);
}

/* vm.nmi: an NMI to every vCPU (a guest set up for it takes a crash dump). */
static void h_nmi(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	if (vmm->state != VMM_VM_RUNNING)
		reply_lifecycle(resp, vmm->state == VMM_VM_NONE ? -ENOENT : -EBUSY, "vm.nmi", vmm);
	else if (vm_inject_nmi(&vmm->vm) < 0)
		api_error(resp, 500, "vm.nmi: the NMI could not be delivered (see the VMM's log)");
	else
		resp->status = 204;
}

/* Endpoints of the spec whose feature has not landed: a clear 500, never a fake success. */
static void h_not_yet(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	api_error(resp, 500, "%s: not supported by cellvm yet", req->path + strlen(API_PREFIX));
}

static const struct route routes[] = {
	{ "vmm.ping", HTTP_GET, h_ping },
	{ "vmm.shutdown", HTTP_PUT, h_vmm_shutdown },
	{ "vm.create", HTTP_PUT, h_create },
	{ "vm.boot", HTTP_PUT, h_boot },
	{ "vm.info", HTTP_GET, h_info },
	{ "vm.counters", HTTP_GET, h_counters },
	{ "vm.shutdown", HTTP_PUT, h_shutdown },
	{ "vm.delete", HTTP_PUT, h_delete },
	{ "vm.reboot", HTTP_PUT, h_reboot },
	{ "vm.pause", HTTP_PUT, h_pause },
	{ "vm.resume", HTTP_PUT, h_resume },
	{ "vm.power-button", HTTP_PUT, h_power_button },
	{ "vm.resize", HTTP_PUT, h_resize },
	{ "vm.resize-disk", HTTP_PUT, h_not_yet },
	{ "vm.resize-zone", HTTP_PUT, h_not_yet },
	{ "vm.add-device", HTTP_PUT, h_not_yet },
	{ "vm.remove-device", HTTP_PUT, h_remove_device },
	{ "vm.add-disk", HTTP_PUT, h_add_disk },
	{ "vm.add-fs", HTTP_PUT, h_not_yet },
	{ "vm.add-generic-vhost-user", HTTP_PUT, h_not_yet },
	{ "vm.add-pmem", HTTP_PUT, h_not_yet },
	{ "vm.add-net", HTTP_PUT, h_add_net },
	{ "vm.add-vsock", HTTP_PUT, h_add_vsock },
	{ "vm.add-vdpa", HTTP_PUT, h_not_yet },
	{ "vm.add-user-device", HTTP_PUT, h_not_yet },
	{ "vm.snapshot", HTTP_PUT, h_not_yet },
	{ "vm.coredump", HTTP_PUT, h_not_yet },
	{ "vm.nmi", HTTP_PUT, h_nmi },
	{ "vm.restore", HTTP_PUT, h_not_yet },
	{ "vm.receive-migration", HTTP_PUT, h_not_yet },
	{ "vm.send-migration", HTTP_PUT, h_not_yet },
};

struct routed_call {
	handler_fn fn;
	struct api_request *req;
	struct api_response *resp;
};

static void run_in_main(struct vmm *vmm, void *arg)
{
	struct routed_call *c = arg;

	c->fn(vmm, c->req, c->resp);
}

void api_dispatch(struct vmm *vmm, struct api_request *req, struct api_response *resp)
{
	const char *name = req->path + strlen(API_PREFIX);
	const struct route *r = NULL;

	if (strncmp(req->path, API_PREFIX, strlen(API_PREFIX))) {
		api_error(resp, 404, "unknown endpoint %s (the API lives under %s)", req->path, API_PREFIX);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !r; i++)
		if (!strcmp(routes[i].name, name))
			r = &routes[i];
	if (!r) {
		api_error(resp, 404, "unknown endpoint %s", req->path);
	} else if (r->method != req->method) {
		api_error(resp, 405, "%s takes %s, not %s", name, http_method_str(r->method),
			  http_method_str(req->method));
	} else {
		struct routed_call c = { r->fn, req, resp };
		if (vmm_call(vmm, run_in_main, &c) < 0)
			api_error(resp, 503, "%s: the VMM is shutting down", name);
	}
}

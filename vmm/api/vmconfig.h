/* vmconfig.h: Cloud Hypervisor's VmConfig JSON to and from struct vm_config. */
#ifndef CELLVM_API_VMCONFIG_H
#define CELLVM_API_VMCONFIG_H

#include <json-c/json.h>
#include <stddef.h>

#include "config.h"

/* Fills cfg from a VmConfig object. cfg's strings point into obj, which the caller keeps
 * alive. Returns 0, or -1 with a one-line reason naming the field in err. */
int vmconfig_from_json(struct json_object *obj, struct vm_config *cfg, char *err, size_t errlen);

/* Parses one NetConfig at path into cfg->nets[cfg->nr_nets] and counts it. socket_fds >= 0:
 * the fds come from the socket, that many (vm.add-net: the body's fds are ignored); -1: as
 * many as the body's fds lists. The fds are left -1 for the caller to fill in order. */
int vmconfig_parse_net(struct json_object *obj, struct vm_config *cfg, const char *path,
		       int socket_fds, char *err, size_t errlen);

/* One DiskConfig at path into cfg->disks[cfg->nr_disks], counted (vm.add-disk). */
int vmconfig_parse_disk(struct json_object *obj, struct vm_config *cfg, const char *path,
			char *err, size_t errlen);
/* One VsockConfig at path into cfg->vsock, enabled (vm.add-vsock). */
int vmconfig_parse_vsock(struct json_object *obj, struct vm_config *cfg, const char *path,
			 char *err, size_t errlen);

/* A new VmConfig object describing cfg (caller puts it). */
struct json_object *vmconfig_to_json(const struct vm_config *cfg);

#endif

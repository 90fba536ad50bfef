/* test_vmconfig.c: VmConfig JSON to struct vm_config: accepted values and named rejections. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/vmconfig.h"

static int parse(const char *json, struct vm_config *cfg, char *err, struct json_object **keep)
{
	*keep = json_tokener_parse(json);
	cr_assert_not_null(*keep, "test JSON must parse");
	return vmconfig_from_json(*keep, cfg, err, 256);
}

Test(vmconfig, full_config_fills_struct)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"c\",\"initramfs\":\"/i\"},"
		       "\"cpus\":{\"boot_vcpus\":4,\"max_vcpus\":4},\"memory\":{\"size\":1073741824,"
		       "\"hugepages\":true,\"shared\":true},\"serial\":{\"mode\":\"File\",\"file\":\"/s\"},"
		       "\"console\":{\"mode\":\"Off\"}}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(cfg.kernel, "/k");
	cr_assert_str_eq(cfg.cmdline, "c");
	cr_assert_str_eq(cfg.initramfs, "/i");
	cr_assert_eq(cfg.nr_cpus, 4);
	cr_assert_eq(cfg.mem_size, 1ULL << 30);
	cr_assert(cfg.mem_hugepages);
	cr_assert_eq(cfg.serial, SERIAL_FILE);
	cr_assert_str_eq(cfg.serial_path, "/s");
	json_object_put(o);
}

Test(vmconfig, kernel_is_required)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{}}", &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "VmConfig.payload.kernel"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, unknown_field_named)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":4096,\"bogus\":1}}",
		       &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err, "VmConfig.memory.bogus: unknown field");
	json_object_put(o);
}

Test(vmconfig, net_fills_net_configs)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256] = "";

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"tap\":\"t\",\"mac\":"
		       "\"52:54:00:00:00:07\",\"num_queues\":4,\"offload_tso\":true},"
		       "{\"vhost_user\":true,\"vhost_socket\":\"/s\"}]}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(cfg.nr_nets, 2);
	cr_assert_str_eq(cfg.nets[0].tap, "t");
	cr_assert_eq(cfg.nets[0].num_queues, 4);
	cr_assert_str_eq(cfg.nets[1].socket, "/s");
	cr_assert_eq(cfg.nets[1].num_queues, 2);
	json_object_put(o);
}

Test(vmconfig, net_host_side_and_bad_values_rejected_by_name)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	cr_assert_eq(parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"tap\":\"t\",\"ip\":\"1.2.3.4\"}]}",
			   &cfg, err, &o), -1);
	cr_assert(strstr(err, "VmConfig.net[0].ip: not supported"), "%s", err);
	json_object_put(o);
	cr_assert_eq(parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"tap\":\"t\",\"num_queues\":3}]}",
			   &cfg, err, &o), -1);
	cr_assert(strstr(err, "VmConfig.net[0]: num_queues counts"), "%s", err);
	json_object_put(o);
	cr_assert_eq(parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"mac\":\"52:54:00:00:00:07\"}]}",
			   &cfg, err, &o), -1);
	cr_assert(strstr(err, "VmConfig.net[0]: give exactly one of"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, net_fds_are_placeholders)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256] = "";

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"fds\":[5,-1],\"ip\":"
		       "\"192.168.249.1\",\"mask\":\"255.255.255.0\"}]}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(cfg.nets[0].nr_fds, 2);
	cr_assert_eq(cfg.nets[0].num_queues, 4);
	cr_assert_eq(cfg.nets[0].fds[0], -1, "a number in the body is never used as an fd");
	cr_assert_eq(cfg.nets[0].fds[1], -1);
	json_object_put(o);
	cr_assert_eq(parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"fds\":[1,2,3,4,5,6,7,8]}]}",
			   &cfg, err, &o), -1);
	cr_assert(strstr(err, "VmConfig.net[0].fds: at most 7"), "%s", err);
	json_object_put(o);
	cr_assert_eq(parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"fds\":[\"3\"]}]}",
			   &cfg, err, &o), -1);
	cr_assert(strstr(err, "VmConfig.net[0].fds: must be an array of integers"), "%s", err);
	json_object_put(o);
	cr_assert_eq(parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"fds\":[3],\"mtu\":1400}]}",
			   &cfg, err, &o), -1);
	cr_assert(strstr(err, "VmConfig.net[0].mtu: not supported"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, add_net_takes_the_socket_fd_count)
{
	struct vm_config cfg = { 0 };
	struct json_object *o = json_tokener_parse("{\"mac\":\"52:54:00:00:00:07\",\"fds\":[9,9,9],"
						   "\"num_queues\":2}");
	char err[256] = "";

	cr_assert_eq(vmconfig_parse_net(o, &cfg, "NetConfig", 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nr_nets, 1);
	cr_assert_eq(cfg.nets[0].nr_fds, 1, "the body's fds are ignored");
	cr_assert_eq(cfg.nets[0].fds[0], -1);
	cr_assert_eq(vmconfig_parse_net(o, &cfg, "NetConfig", 2, err, sizeof(err)), -1);
	cr_assert(strstr(err, "NetConfig: 2 fd= given for num_queues=2"), "%s", err);
	cr_assert_eq(cfg.nr_nets, 1);
	cr_assert_eq(vmconfig_parse_net(o, &cfg, "NetConfig", 8, err, sizeof(err)), -1);
	cr_assert(strstr(err, "at most 7 tap fds"), "%s", err);
	cfg.nr_nets = CONFIG_MAX_NETS;
	cr_assert_eq(vmconfig_parse_net(o, &cfg, "NetConfig", 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "too many network devices"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, disks_fill_disk_configs)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"readonly\":true,"
		       "\"num_queues\":2},{\"vhost_user\":true,\"vhost_socket\":\"/s\"}]}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(cfg.nr_disks, 2);
	cr_assert_str_eq(cfg.disks[0].path, "/d");
	cr_assert(cfg.disks[0].readonly);
	cr_assert_eq(cfg.disks[0].num_queues, 2);
	cr_assert(cfg.disks[1].vhost_user);
	cr_assert_str_eq(cfg.disks[1].socket, "/s");
	json_object_put(o);
}

Test(vmconfig, disk_rate_limiter_rejected_by_name)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"rate_limit_group\":\"g\"}]}",
		       &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err, "VmConfig.disks[0].rate_limit_group: not supported by cellvm yet");
	json_object_put(o);
}

Test(vmconfig, defaults_accepted)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[],\"iommu\":false,"
		       "\"memory\":{\"size\":4096,\"mergeable\":false,\"thp\":true}}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	json_object_put(o);
}

Test(vmconfig, wrong_type_named)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":\"2\",\"max_vcpus\":2}}",
		       &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err, "VmConfig.cpus.boot_vcpus: must be a number");
	json_object_put(o);
}

Test(vmconfig, max_vcpus_above_boot_accepted_below_rejected)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":4}}",
		       &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(cfg.max_cpus, 4);
	json_object_put(o);
	rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":1}}",
		   &cfg, err, &o);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "max_vcpus"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, negative_size_rejected)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":-1}}", &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "VmConfig.memory.size: -1 is out of range"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, console_tty_rejected)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"console\":{\"mode\":\"Tty\"}}", &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "VmConfig.console"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, round_trip_to_json)
{
	struct vm_config cfg = { .kernel = "/k", .cmdline = "c", .nr_cpus = 2, .mem_size = 1 << 20,
				 .serial = SERIAL_OFF };
	struct json_object *o = vmconfig_to_json(&cfg), *v;

	cr_assert(json_object_object_get_ex(o, "cpus", &v));
	cr_assert_eq(json_object_get_int(json_object_object_get(v, "boot_vcpus")), 2);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(
		json_object_object_get(o, "serial"), "mode")), "Off");
	json_object_put(o);
}

Test(vmconfig, vsock_fills_vsock_config)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":3,\"socket\":\"/v.sock\","
		       "\"id\":\"vsock0\"}}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(cfg.vsock.enabled);
	cr_assert_eq(cfg.vsock.cid, 3);
	cr_assert_str_eq(cfg.vsock.socket, "/v.sock");
	cr_assert_str_eq(cfg.vsock.id, "vsock0");
	json_object_put(o);
}

/* Device ids: kept (hotplug finds devices by them), echoed by vm.info, checked. */
Test(vmconfig, device_ids_kept_and_checked)
{
	struct vm_config cfg;
	struct json_object *o, *out, *d;
	char err[256];
	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\",\"id\":\"d0\"},"
		       "{\"path\":\"/b\"}]}", &cfg, err, &o);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(cfg.disks[0].id, "d0");
	cr_assert_str_eq(cfg.disks[1].id, "");
	out = vmconfig_to_json(&cfg);
	d = json_object_array_get_idx(json_object_object_get(out, "disks"), 0);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(d, "id")), "d0");
	json_object_put(out);
	json_object_put(o);
	rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\",\"id\":\"a b\"}]}",
		   &cfg, err, &o);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "disks[0].id"), "%s", err);
	json_object_put(o);
	rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"tap\":\"t0\",\"id\":\"\"}]}", &cfg, err, &o);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "net[0].id"), "%s", err);
	json_object_put(o);
}

Test(vmconfig, vsock_without_socket_rejected)
{
	struct vm_config cfg;
	struct json_object *o;
	char err[256];

	int rc = parse("{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":3}}", &cfg, err, &o);

	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "VmConfig.vsock"), "%s", err);
	json_object_put(o);
}

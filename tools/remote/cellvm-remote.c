/* cellvm-remote.c: a small client for cellvm's REST API, like Cloud Hypervisor's ch-remote. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Exit statuses: 0 the request succeeded (2xx), 1 the VMM answered an error, 2 bad usage,
 * 3 cannot reach the VMM. */
enum { RC_OK = 0, RC_HTTP = 1, RC_USAGE = 2, RC_CONNECT = 3 };

struct command {
	const char *name;
	const char *method;
	const char *endpoint;
	int (*body)(int argc, char **argv, char *out, size_t outlen); /* NULL: no body */
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "cellvm-remote: %s (see --help)\n", msg);
	return -1;
}

/* A key=value option of an add-* command and its JSON field: a string, a number, or a
 * boolean written on/off (a string is never quoted: " and \\ are refused). */
enum kv_type { KV_STRING, KV_NUMBER, KV_BOOL };
struct kv_field {
	const char *key, *json;
	enum kv_type type;
};

static int kv_value(const struct kv_field *f, const char *v, char *out, size_t outlen)
{
	char *end;

	if (f->type == KV_BOOL && (!strcmp(v, "on") || !strcmp(v, "off")))
		return snprintf(out, outlen, "\"%s\":%s", f->json, strcmp(v, "on") ? "false" : "true");
	if (f->type == KV_NUMBER && *v && (strtoull(v, &end, 10), !*end))
		return snprintf(out, outlen, "\"%s\":%s", f->json, v);
	if (f->type == KV_STRING && *v && strlen(v) < 1024 && !strpbrk(v, "\"\\"))
		return snprintf(out, outlen, "\"%s\":\"%s\"", f->json, v);
	return -1;
}

/* "k=v,k=v" into a JSON object of the known fields; the first must be given (required). */
static int kv_body(const char *cmd, const struct kv_field *fields, int argc, char **argv, char *out,
		   size_t outlen)
{
	size_t off = 1;
	bool seen_first = false;
	char msg[160];

	snprintf(msg, sizeof(msg), "%s: expected %s=...[,KEY=VALUE]", cmd, fields[0].key);
	if (argc < 1 || outlen < 3)
		return usage_error(msg);
	out[0] = '{';
	for (char *tok = strtok(argv[0], ","); tok; tok = strtok(NULL, ",")) {
		char *eq = strchr(tok, '=');
		const struct kv_field *f = NULL;
		int n;

		for (unsigned int i = 0; eq && fields[i].key; i++)
			if (strlen(fields[i].key) == (size_t)(eq - tok) && !strncmp(tok, fields[i].key, eq - tok))
				f = &fields[i];
		if (!f || (n = kv_value(f, eq + 1, out + off + (off > 1), outlen - off - 2)) < 0 ||
		    (size_t)n >= outlen - off - 2)
			return usage_error(msg);
		if (off > 1)
			out[off++] = ',';
		off += (size_t)n;
		seen_first |= f == &fields[0];
	}
	out[off++] = '}';
	out[off] = '\0';
	return seen_first ? 0 : usage_error(msg);
}

/* add-disk path=FILE[,readonly=on][,id=ID]: DiskConfig. */
static int body_add_disk(int argc, char **argv, char *out, size_t outlen)
{
	static const struct kv_field f[] = {
		{ "path", "path", KV_STRING }, { "readonly", "readonly", KV_BOOL },
		{ "direct", "direct", KV_BOOL }, { "num_queues", "num_queues", KV_NUMBER },
		{ "serial", "serial", KV_STRING }, { "id", "id", KV_STRING }, { NULL, NULL, 0 },
	};
	return kv_body("add-disk", f, argc, argv, out, outlen);
}

/* add-net tap=NAME[,mac=..][,num_queues=N][,id=ID]: NetConfig. */
static int body_add_net(int argc, char **argv, char *out, size_t outlen)
{
	static const struct kv_field f[] = {
		{ "tap", "tap", KV_STRING }, { "mac", "mac", KV_STRING },
		{ "num_queues", "num_queues", KV_NUMBER }, { "id", "id", KV_STRING }, { NULL, NULL, 0 },
	};
	return kv_body("add-net", f, argc, argv, out, outlen);
}

/* add-vsock cid=N,socket=PATH[,id=ID]: VsockConfig. */
static int body_add_vsock(int argc, char **argv, char *out, size_t outlen)
{
	static const struct kv_field f[] = {
		{ "cid", "cid", KV_NUMBER }, { "socket", "socket", KV_STRING },
		{ "id", "id", KV_STRING }, { NULL, NULL, 0 },
	};
	return kv_body("add-vsock", f, argc, argv, out, outlen);
}

/* remove-device ID: VmRemoveDevice. */
static int body_remove_device(int argc, char **argv, char *out, size_t outlen)
{
	if (argc < 1 || !*argv[0] || strlen(argv[0]) > 63 || strpbrk(argv[0], "\"\\"))
		return usage_error("remove-device needs the device's id");
	snprintf(out, outlen, "{\"id\":\"%s\"}", argv[0]);
	return 0;
}

/* resize cpus=N or memory=BYTES: VmResize. */
static int body_resize(int argc, char **argv, char *out, size_t outlen)
{
	char *end;
	unsigned long long n;

	if (argc < 1 || (strncmp(argv[0], "cpus=", 5) && strncmp(argv[0], "memory=", 7)))
		return usage_error("resize needs cpus=N or memory=BYTES");
	n = strtoull(strchr(argv[0], '=') + 1, &end, 10);
	if (*end || end == strchr(argv[0], '=') + 1)
		return usage_error("resize: not a number");
	snprintf(out, outlen, "{\"%s\":%llu}", argv[0][0] == 'c' ? "desired_vcpus" : "desired_ram", n);
	return 0;
}

/* create FILE: a VmConfig JSON file, sent as is. */
static int body_file(int argc, char **argv, char *out, size_t outlen)
{
	FILE *f;
	size_t n;

	if (argc < 1)
		return usage_error("create needs a VmConfig JSON file");
	f = fopen(argv[0], "re");
	if (!f) {
		fprintf(stderr, "cellvm-remote: %s: %s\n", argv[0], strerror(errno));
		return -1;
	}
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	return n == outlen - 1 ? usage_error("create: file too large") : 0;
}

static const struct command commands[] = {
	{ "ping", "GET", "vmm.ping", NULL },
	{ "info", "GET", "vm.info", NULL },
	{ "counters", "GET", "vm.counters", NULL },
	{ "create", "PUT", "vm.create", body_file },
	{ "boot", "PUT", "vm.boot", NULL },
	{ "pause", "PUT", "vm.pause", NULL },
	{ "resume", "PUT", "vm.resume", NULL },
	{ "reboot", "PUT", "vm.reboot", NULL },
	{ "shutdown", "PUT", "vm.shutdown", NULL },
	{ "delete", "PUT", "vm.delete", NULL },
	{ "power-button", "PUT", "vm.power-button", NULL },
	{ "nmi", "PUT", "vm.nmi", NULL },
	{ "shutdown-vmm", "PUT", "vmm.shutdown", NULL },
	{ "add-disk", "PUT", "vm.add-disk", body_add_disk },
	{ "add-net", "PUT", "vm.add-net", body_add_net },
	{ "add-vsock", "PUT", "vm.add-vsock", body_add_vsock },
	{ "remove-device", "PUT", "vm.remove-device", body_remove_device },
	{ "resize", "PUT", "vm.resize", body_resize },
};

static int connect_api(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Sends one request (Connection: close) and reads the whole answer into resp. */
static int exchange(int fd, const struct command *c, const char *body, char *resp, size_t resplen)
{
	char head[512];
	size_t blen = body ? strlen(body) : 0, got = 0;
	int n = snprintf(head, sizeof(head), "%s /api/v1/%s HTTP/1.1\r\nHost: localhost\r\n"
			 "Connection: close\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 c->method, c->endpoint, blen);
	ssize_t r;

	if (write(fd, head, (size_t)n) != n || (blen && write(fd, body, blen) != (ssize_t)blen))
		return -1;
	while (got < resplen - 1 && (r = read(fd, resp + got, resplen - 1 - got)) > 0)
		got += (size_t)r;
	resp[got] = '\0';
	return got ? 0 : -1;
}

static void print_help(void)
{
	printf("Usage: cellvm-remote --api-socket PATH COMMAND [ARG]\n"
	       "Commands: ping, info, counters, create VMCONFIG.json, boot, pause, resume, reboot,\n"
	       "          shutdown, delete, power-button, nmi, shutdown-vmm, resize cpus=N|memory=BYTES,\n"
	       "          add-disk path=FILE[,readonly=on|off][,direct=on|off][,num_queues=N]\n"
	       "                   [,serial=S][,id=ID]\n"
	       "          add-net tap=NAME[,mac=MAC][,num_queues=N][,id=ID]\n"
	       "          add-vsock cid=N,socket=PATH[,id=ID]\n"
	       "          remove-device ID\n"
	       "add-* print {\"id\",\"bdf\"} for a running VM (nothing for a cold add).\n"
	       "Prints the response body. Exit status: 0 success, 1 the VMM answered an error,\n"
	       "2 bad usage, 3 cannot reach the VMM.\n");
}

int main(int argc, char **argv)
{
	static char body[64 * 1024], resp[256 * 1024];
	const struct command *c = NULL;
	int fd, status;
	char *payload;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		print_help();
		return RC_OK;
	}
	if (argc < 4 || strcmp(argv[1], "--api-socket"))
		return usage_error("expected --api-socket PATH COMMAND"), RC_USAGE;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, argv[3]))
			c = &commands[i];
	if (!c) {
		fprintf(stderr, "cellvm-remote: unknown command '%s' (see --help)\n", argv[3]);
		return RC_USAGE;
	}
	if (c->body && c->body(argc - 4, argv + 4, body, sizeof(body)) < 0)
		return RC_USAGE;
	fd = connect_api(argv[2]);
	if (fd < 0 || exchange(fd, c, c->body ? body : NULL, resp, sizeof(resp)) < 0 ||
	    sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		fprintf(stderr, "cellvm-remote: cannot reach cellvm at %s: %s\n", argv[2], strerror(errno));
		if (fd >= 0)
			close(fd);
		return RC_CONNECT;
	}
	close(fd);
	payload = strstr(resp, "\r\n\r\n");
	if (payload && payload[4])
		printf("%s\n", payload + 4);
	return status >= 200 && status < 300 ? RC_OK : RC_HTTP;
}

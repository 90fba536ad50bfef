/* log.c: role- and pid-prefixed log lines to stderr or a log file. */
#include "log.h"

#include <stdarg.h>
#include <unistd.h>

/* Owned by the process's main(): written once by log_init() before threads start. */
static struct {
	const char *role;
	enum log_level level;
	FILE *sink;
} log_state = { "cellvm", LOG_WARN, NULL };

void log_init(const char *role, enum log_level level, FILE *sink)
{
	log_state.role = role;
	log_state.level = level;
	log_state.sink = sink;
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	FILE *out = log_state.sink ? log_state.sink : stderr;
	char line[1024];
	va_list ap;

	if (level > log_state.level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so lines from different threads do not interleave. */
	fprintf(out, "%s[%d]: %s: %s\n", log_state.role, (int)getpid(), names[level], line);
	fflush(out);
	/* Errors always reach stderr too, even when the log goes to a file. */
	if (level == LOG_ERROR && out != stderr)
		fprintf(stderr, "%s[%d]: error: %s\n", log_state.role, (int)getpid(), line);
}

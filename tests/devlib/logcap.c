/* logcap.c: the log captured in a temporary file for the devlib tests (logcap.h). */
#include "logcap.h"

#include "log.h"

FILE *logcap_start(void)
{
	FILE *f = tmpfile();

	if (f)
		log_init("devlib", LOG_ERROR, f);
	return f;
}

void logcap_stop(FILE *f)
{
	log_init("devlib", LOG_ERROR, NULL);
	if (f)
		fclose(f);
}

const char *logcap_text(FILE *f)
{
	static char buf[4096];
	size_t n;

	fflush(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	return buf;
}

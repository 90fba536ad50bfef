/* logcap.h: devlib tests capture the log in a temporary file to check why a queue broke. */
#ifndef CELLVM_TEST_LOGCAP_H
#define CELLVM_TEST_LOGCAP_H

#include <stdio.h>

/* Sends the log (errors and up) to a new temporary file; NULL if none could be made. */
FILE *logcap_start(void);
/* Back to the default log; closes f. */
void logcap_stop(FILE *f);
/* Everything logged into f so far (at most 4 KiB; a static buffer). */
const char *logcap_text(FILE *f);

#endif

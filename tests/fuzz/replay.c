/* Replay a fuzz target's seed corpus (and any files or directories given
 * as arguments) through LLVMFuzzerTestOneInput, for make check. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define REPLAY_MAX_INPUT (1024 * 1024)

static int
replay_file(const char *path, unsigned *count)
{
	FILE *f;
	uint8_t *d;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((d = malloc(REPLAY_MAX_INPUT)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(d, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	/* Exact-size copy so ASan sees reads past the input's end. */
	{
		uint8_t *exact = malloc(n ? n : 1);

		if (exact == NULL) {
			free(d);
			return -1;
		}
		memcpy(exact, d, n);
		free(d);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	(*count)++;
	return 0;
}

static int
replay_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent **ents = NULL;
	int i, n, rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		char *p;

		if (ents[i]->d_name[0] != '.' &&
		    asprintf(&p, "%s/%s", path, ents[i]->d_name) >= 0) {
			if (replay_path(p, count) != 0)
				rc = -1;
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned count = 0;
	int i, rc = 0;

	if (argc < 2) {
		rc = replay_path(FUZZ_CORPUS, &count);
	} else {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], &count) != 0)
				rc = -1;
	}
	printf("replayed %u input(s)\n", count);
	if (rc != 0)
		return 1;
	/* An empty corpus proves nothing: fail rather than pass silently. */
	return count == 0 ? 1 : 0;
}

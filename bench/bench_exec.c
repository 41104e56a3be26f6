/*
 * make bench helper: the wall time of running a command N times
 * (posix_spawn + wait, output to /dev/null), so the cost of one exec of
 * a program is measured without a shell's own forks in it.
 * usage: bench_exec N COMMAND [ARGS...]; prints "per_call_us X".
 */
#include "config.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct timespec t0, t1;
	long i, n;
	int st, failed = 0;
	pid_t pid;

	if (argc < 3 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench_exec N COMMAND [ARGS...]\n");
		return 2;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if (posix_spawn(&pid, argv[2], &fa, NULL, argv + 2, environ) != 0 ||
		    waitpid(pid, &st, 0) != pid)
			return 1;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	posix_spawn_file_actions_destroy(&fa);
	printf("per_call_us %.1f\n",
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
	        (double)n);
	printf("failed_calls %d\n", failed);
	return 0;
}

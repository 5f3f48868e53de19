/*
 * fuzz_seed.h
 *		The seed writer of the fuzz harnesses' seed generators (built with
 *		TA_FUZZ_SEED_MAIN): write_seed() stores one input as
 *		<seed_dir>/seed-NNN, numbered in order; main() sets seed_dir.
 */
#ifndef TASK_API_FUZZ_SEED_H
#define TASK_API_FUZZ_SEED_H

#include <stdio.h>
#include <stdlib.h>

static const char *seed_dir;
static int	seed_no;

static void
write_seed(const void *p, size_t n)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/seed-%03d", seed_dir, seed_no++);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

#endif							/* TASK_API_FUZZ_SEED_H */

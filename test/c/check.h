/*
 * check.h
 *		The checks of the unit tests in test/c: every CHECK counts as one
 *		check, a failure is printed with its place; check_summary() prints
 *		exactly one line "N passed, N failed" and gives the exit status.
 *
 * Included by one test program each (the counters are that program's).
 */
#ifndef TASK_API_TEST_CHECK_H
#define TASK_API_TEST_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int	n_passed;
static int	n_failed;

static void
check_impl(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	fprintf(stderr, "FAIL %s:%d: %s", file, line, expr);
	if (fmt != NULL && fmt[0] != '\0')
	{
		va_list		ap;

		fputs(" -- ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

#define CHECK(cond) check_impl((cond), __FILE__, __LINE__, #cond, NULL)

static int
check_summary(void)
{
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}

#endif							/* TASK_API_TEST_CHECK_H */

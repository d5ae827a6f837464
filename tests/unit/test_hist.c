/*
 * The buckets of a history series (hist_plan_make, db_ops_hist.c): never
 * more than asked for, covering the whole span, aligned, round, never
 * finer than the samples.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"
#include "util.h"

static const int64_t NOW = 1763800000;	/* 2025-11-22, not round */

static void
check_plan(int64_t now, int64_t span, int64_t sample, int max)
{
	struct hist_plan	 p;
	char			*cause = NULL;

	assert_int_equal(hist_plan_make(now, span, sample, max, &p, &cause),
	    0);
	assert_null(cause);
	assert_true(p.bucket_s >= sample);
	assert_true(p.n >= 1);
	assert_true(p.n <= max);
	assert_true(p.from <= now - span);
	assert_true(p.to > now);
	assert_true(p.to - p.bucket_s <= now);
	assert_int_equal(p.from % p.bucket_s, 0);
	assert_int_equal(p.to - p.from, (int64_t)p.n * p.bucket_s);
	/* Round: a divisor of an hour, or whole hours. */
	assert_true(3600 % p.bucket_s == 0 || p.bucket_s % 3600 == 0);
}

static void
test_day_of_minutes(void **state)
{
	struct hist_plan	p;

	(void)state;
	assert_int_equal(hist_plan_make(NOW, 86400, 60, 300, &p, NULL), 0);
	assert_int_equal(p.bucket_s, 300);
	assert_int_equal(p.n, 289);	/* 288 whole buckets, widened by one */
	check_plan(NOW, 86400, 60, 300);
}

static void
test_round_buckets(void **state)
{
	struct hist_plan	p;
	static const struct {
		int64_t	span, sample, bucket;
	} cases[] = {
		{ 3600, 1, 15 },		/* 3600 / 299 = 12.04 -> 15 */
		{ 3600, 60, 60 },		/* the samples are coarser */
		{ 3600, 600, 600 },
		{ 3600, 3600, 3600 },
		{ 600, 1, 5 },			/* 600 / 299 = 2.01 -> 5 */
		{ 299, 1, 1 },
		{ 168 * 3600, 60, 3600 },	/* 2023 -> an hour */
		{ 30 * 86400, 60, 3 * 3600 },	/* 8669 -> whole hours */
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		assert_int_equal(hist_plan_make(NOW, cases[i].span,
		    cases[i].sample, 300, &p, NULL), 0);
		assert_int_equal(p.bucket_s, cases[i].bucket);
		check_plan(NOW, cases[i].span, cases[i].sample, 300);
	}
}

/* Every span and sample interval, at every phase of the clock. */
static void
test_bounds_everywhere(void **state)
{
	static const int64_t samples[] = { 1, 7, 60, 90, 3600 };
	static const int maxes[] = { 2, 3, 10, 300 };
	int64_t	span, now;
	size_t	i, j;

	(void)state;
	for (i = 0; i < nitems(samples); i++)
		for (j = 0; j < nitems(maxes); j++)
			for (span = 1; span <= 7 * 86400; span = span * 3 + 1)
				for (now = NOW; now < NOW + 61; now += 13)
					check_plan(now, span, samples[i],
					    maxes[j]);
	/* Early in the epoch the window starts before it. */
	check_plan(100, 86400, 60, 300);
}

static void
test_refusals(void **state)
{
	struct hist_plan	 p;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(hist_plan_make(NOW, 0, 60, 300, &p, &cause), -1);
	assert_non_null(strstr(cause, "at least 1 s"));
	free(cause);
	cause = NULL;
	assert_int_equal(hist_plan_make(NOW, 3600, 0, 300, &p, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(hist_plan_make(NOW, 3600, 60, 1, &p, &cause), -1);
	assert_non_null(strstr(cause, "2 points"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_day_of_minutes),
		cmocka_unit_test(test_round_buckets),
		cmocka_unit_test(test_bounds_everywhere),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

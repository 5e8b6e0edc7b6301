/* clock.h: the one clock of every timing decision, and Go-style durations.
 *
 * clock_now() is the wall clock plus an offset that tests (and the
 * operator's --clock-offset flag) set, so certificate rotation is tested in
 * seconds instead of days. Code that decides "is it time yet" reads
 * clock_now()/clock_now_ms(); code that measures elapsed time reads the
 * monotonic clock_mono_ms(), which the offset does not move. Every function
 * here is thread-safe (the offset is an atomic) and none allocates. */
#ifndef MZ_CLOCK_H
#define MZ_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* clock_now: CLOCK_REALTIME seconds + the offset. Cannot fail. */
time_t clock_now(void);
/* clock_now_ms: the same in milliseconds since the epoch. */
int64_t clock_now_ms(void);
/* clock_mono_ms: CLOCK_MONOTONIC in milliseconds; not moved by the offset. */
int64_t clock_mono_ms(void);
/* clock_mono_ns: the same in nanoseconds (durations of requests). */
int64_t clock_mono_ns(void);
/* clock_mono_deadline sets *ts to CLOCK_MONOTONIC now + ms (a negative ms
 * counts as 0): the absolute time for pthread_cond_timedwait on a
 * condition variable whose clock is CLOCK_MONOTONIC. */
void clock_mono_deadline(struct timespec *ts, int64_t ms);

/* clock_set_offset: from now on clock_now() is realtime + seconds (may be
 * negative). clock_get_offset returns the current offset. */
void clock_set_offset(int64_t seconds);
int64_t clock_get_offset(void);

/* clock_parse_duration_ms parses a subset of Go's time.ParseDuration:
 * an optional sign, then one or more <decimal number><unit> with units
 * "h", "m", "s", "ms" (e.g. "2160h", "1h30m", "1.5h", "-10m", "500ms"); a
 * bare "0" is zero. No spaces, no empty input. Fractions are allowed and
 * truncated to whole milliseconds. On success *out is the value in ms; on
 * failure (RC_INVAL: garbage, missing unit, unknown unit, out of range;
 * message says why) *out is untouched. */
int clock_parse_duration_ms(int64_t *out, const char *s);

/* clock_parse_duration: the same in whole seconds; a value that is not a
 * whole number of seconds ("1500ms") is RC_INVAL. */
int clock_parse_duration(int64_t *out, const char *s);

/* clock_format_duration writes seconds in Go's style ("2160h0m0s", "10m0s",
 * "0s", "-1h30m0s") into buf (truncated to n - 1 bytes); returns buf. */
char *clock_format_duration(char *buf, size_t n, int64_t seconds);

#endif

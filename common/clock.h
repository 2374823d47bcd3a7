/*
 * clock.h - the two clocks triad uses.
 *
 * clock_mono_us() never goes backwards and is for timeouts and latency;
 * clock_wall_us() is the real time for timestamps that leave the process
 * (log entries, lag in seconds) and may step in either direction.
 */
#ifndef TRIAD_CLOCK_H
#define TRIAD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t clock_mono_ms(void)
{
	return clock_mono_us() / 1000u;
}

static inline uint64_t clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif

// Does this machine run the same work slower when it comes in short bursts between idle gaps?
// bench/cold_cache.sh builds and runs it; see bench/README.md ("Why the CPU per record grows with L").
//
// cold_cache ITERATIONS GAP_US FOOTPRINT_KB BURSTS: BURSTS times, ITERATIONS random 8-byte reads from a
// FOOTPRINT_KB buffer (a xorshift index, so no prefetcher helps), then GAP_US of sleep. Prints the CPU
// (user + system, getrusage) per read. With GAP_US = 0 the buffer stays in the caches between bursts;
// with a gap, whatever the idle core did meanwhile decides how much of it is still there.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s ITERATIONS GAP_US FOOTPRINT_KB BURSTS\n", argv[0]);
        return 2;
    }
    long iterations = atol(argv[1]), gap_us = atol(argv[2]), footprint_kb = atol(argv[3]);
    int bursts = atoi(argv[4]);
    size_t n = (size_t)footprint_kb * 1024 / 8;
    uint64_t *buf = malloc(n * 8);
    if (!buf || n == 0) return 2;
    for (size_t i = 0; i < n; i++) buf[i] = i * 2654435761u;
    uint64_t x = 1, sum = 0;
    struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};
    double start = cpu_seconds();
    for (int b = 0; b < bursts; b++) {
        for (long i = 0; i < iterations; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sum += buf[(x >> 3) % n];
        }
        if (gap_us) nanosleep(&gap, NULL);
    }
    double cpu = cpu_seconds() - start;
    // The checksum goes to stderr so that the reads cannot be optimised away.
    fprintf(stderr, "checksum %llu\n", (unsigned long long)sum);
    printf("%.3f\n", cpu * 1e9 / ((double)iterations * bursts));
    return 0;
}

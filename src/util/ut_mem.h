/*
 * Large start-up arrays (flow table, export rings) on transparent huge pages.
 *
 * These arrays are read and written at random, one line per packet or record: with 4 KiB
 * pages nearly every access also misses the TLB, and the first touch of each page is a
 * fault, which costs several microseconds under virtualisation. Memory comes from an
 * anonymous mapping aligned to 2 MiB with MADV_HUGEPAGE asked for; it stays unmapped until
 * touched, so an array sized for the worst case costs only what is used, and reads as
 * zero like calloc's.
 */
#ifndef OC_UT_MEM_H
#define OC_UT_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define UT_HUGE_PAGE ((size_t)2 << 20)

static inline size_t ut_align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Zeroed memory for @len bytes (rounded up to 2 MiB); free with ut_big_free(p, len).
 * Aborts when out of memory: these are start-up allocations, as g_new0 would. */
static inline void *ut_big_alloc(size_t len)
{
    len = ut_align_up(len > 0 ? len : 1, UT_HUGE_PAGE);
    uint8_t *raw = mmap(NULL, len + UT_HUGE_PAGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        abort();
    uint8_t *base = (uint8_t *)ut_align_up((uintptr_t)raw, UT_HUGE_PAGE);
    if (base > raw)
        munmap(raw, (size_t)(base - raw));
    uint8_t *end = raw + len + UT_HUGE_PAGE;
    if (base + len < end)
        munmap(base + len, (size_t)(end - (base + len)));
#ifdef MADV_HUGEPAGE
    (void)madvise(base, len, MADV_HUGEPAGE); /* a hint: 4 KiB pages still work */
#endif
    return base;
}

static inline void ut_big_free(void *p, size_t len)
{
    if (p != NULL)
        munmap(p, ut_align_up(len > 0 ? len : 1, UT_HUGE_PAGE));
}

/* Zeroed memory on ordinary pages for a sparse pool: resident only where touched, 4 KiB at a
 * time. Aborts when out of memory. Free with ut_lazy_free(p, len). */
static inline void *ut_lazy_alloc(size_t len)
{
    void *p = mmap(NULL, len > 0 ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        abort();
    return p;
}

static inline void ut_lazy_free(void *p, size_t len)
{
    if (p != NULL)
        munmap(p, len > 0 ? len : 1);
}

#endif /* OC_UT_MEM_H */

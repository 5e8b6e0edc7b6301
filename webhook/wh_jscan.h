/* wh_jscan.h: the word-at-a-time test shared by the webhook's JSON parser
 * (wh_json.c) and writer (wh_jwrite.c). Private to webhook/. */
#ifndef MZ_WH_JSCAN_H
#define MZ_WH_JSCAN_H

#include <stdint.h>

/* special8: non-zero when the 8 bytes in x hold a byte below 0x20, a '"'
 * or a '\\' (the three classic "has a zero byte" tests; a byte above one
 * that fires may fire too, never one below it: callers look at the bytes
 * one by one from the first word that is not clean). */
static inline uint64_t
special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = ones << 7;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) &
           high;
}

#endif

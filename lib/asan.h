/* asan.h: MZ_ASAN is defined when the build runs under AddressSanitizer
 * (gcc's __SANITIZE_ADDRESS__, clang's feature test), for code that adds
 * checks or red zones in such builds only. */
#ifndef MZ_ASAN_H
#define MZ_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define MZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MZ_ASAN 1
#endif
#endif

#endif

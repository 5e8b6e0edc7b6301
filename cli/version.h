/* version.h: the version of mizzen's programs, defined once. */
#ifndef MZ_VERSION_H
#define MZ_VERSION_H

#define MZ_VERSION "0.1.0"

#endif

/* test_ag_envoy.c: the pure parts of Envoy's supervision: backoff, exit
 * codes, the gRPC health messages of the probes. */
#include "tests/unit/harness.h"
#include "agent/ag_envoy.h"
#include "agent/ag_probe.h"

#include <sys/wait.h>

TEST(ag_backoff_doubles_caps_and_resets)
{
    struct ag_backoff b;

    ag_backoff_init(&b, 1000, 30000, 60000);
    CHECK_INT(ag_backoff_next(&b, 10), 1000);
    CHECK_INT(ag_backoff_next(&b, 10), 2000);
    CHECK_INT(ag_backoff_next(&b, 10), 4000);
    CHECK_INT(ag_backoff_next(&b, 10), 8000);
    CHECK_INT(ag_backoff_next(&b, 10), 16000);
    CHECK_INT(ag_backoff_next(&b, 10), 30000);
    CHECK_INT(ag_backoff_next(&b, 59999), 30000);
    /* it ran for the reset period: a fresh start */
    CHECK_INT(ag_backoff_next(&b, 60000), 1000);
    CHECK_INT(ag_backoff_next(&b, 0), 2000);
    /* odd values: never beyond max, never 0 */
    ag_backoff_init(&b, 0, -5, 0);
    CHECK_INT(ag_backoff_next(&b, 0), 1);
    CHECK_INT(ag_backoff_next(&b, 99999999), 1);
    ag_backoff_init(&b, 700, 1000, 0);
    CHECK_INT(ag_backoff_next(&b, 0), 700);
    CHECK_INT(ag_backoff_next(&b, 0), 1000);
}

TEST(ag_wstatus_codes)
{
    CHECK_INT(ag_wstatus_code(0), 0);
    CHECK_INT(ag_wstatus_code(7 << 8), 7);
    CHECK_INT(ag_wstatus_code(9), 137);  /* killed by SIGKILL */
    CHECK_INT(ag_wstatus_code(15), 143); /* SIGTERM */
}

TEST(ag_grpc_health_messages)
{
    unsigned char buf[64];
    size_t n;
    /* status SERVING, and an unknown field 2 (varint) before it */
    const unsigned char serving[] = {0, 0, 0, 0, 4, 0x10, 0x05, 0x08, 0x01};
    const unsigned char empty[] = {0, 0, 0, 0, 0};
    const unsigned char notserving[] = {0, 0, 0, 0, 2, 0x08, 0x02};
    const unsigned char trunc[] = {0, 0, 0, 0, 9, 0x08};
    const unsigned char compressed[] = {1, 0, 0, 0, 2, 0x08, 0x01};
    const unsigned char badwire[] = {0, 0, 0, 0, 2, 0x0b, 0x01};

    n = ag_grpc_health_request("", buf, sizeof buf);
    CHECK_INT(n, 5);
    CHECK(memcmp(buf, "\0\0\0\0\0", 5) == 0);
    n = ag_grpc_health_request("svc.v1", buf, sizeof buf);
    CHECK_INT(n, 13);
    CHECK(memcmp(buf, "\0\0\0\0\x08\x0a\x06svc.v1", 13) == 0);
    CHECK_INT(ag_grpc_health_request("svc.v1", buf, 12), 0);
    CHECK_INT(ag_grpc_health_status(serving, sizeof serving), 1);
    CHECK_INT(ag_grpc_health_status(empty, sizeof empty), 0);
    CHECK_INT(ag_grpc_health_status(notserving, sizeof notserving), 2);
    CHECK_INT(ag_grpc_health_status(trunc, sizeof trunc), -1);
    CHECK_INT(ag_grpc_health_status(compressed, sizeof compressed), -1);
    CHECK_INT(ag_grpc_health_status(badwire, sizeof badwire), -1);
    CHECK_INT(ag_grpc_health_status(NULL, 0), -1);
}

TEST(ag_grpc_health_long_service_name)
{
    char svc[300];
    unsigned char buf[400];
    size_t n;

    memset(svc, 'a', sizeof svc - 1);
    svc[sizeof svc - 1] = '\0';
    n = ag_grpc_health_request(svc, buf, sizeof buf);
    CHECK_INT(n, 5 + 1 + 2 + 299);         /* tag, 2-byte varint, bytes */
    CHECK_INT(buf[3] * 256 + buf[4], 302); /* message length, big endian */
    CHECK_INT(buf[5], 0x0a);
    CHECK_INT(buf[6], (299 & 0x7f) | 0x80);
    CHECK_INT(buf[7], 299 >> 7);
}

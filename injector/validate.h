/* validate.h: validators for injection annotation values, as Istio's
 * pkg/kube/inject/validate.go checks them.
 *
 * Each returns 0 or RC_INVAL with an errmsg describing the problem in the
 * value (without the annotation name: the caller prefixes it). Pure. */
#ifndef MZ_INJ_VALIDATE_H
#define MZ_INJ_VALIDATE_H

#include <stdint.h>

/* Comma list of ports 0..65535 (elements trimmed; "" is allowed and means
 * none). allow_star: "*" alone is accepted (include lists), else refused. */
int inj_val_ports(const char *s, int allow_star);

/* Comma list of CIDRs (IPv4 or IPv6 prefix; a bare IP without /len is
 * refused; "" allowed). allow_star as above. */
int inj_val_cidrs(const char *s, int allow_star);

/* One port 0..65535 (status port): *out set on success. */
int inj_val_port(const char *s, int *out);

/* An unsigned 32-bit decimal integer (readiness probe numbers). */
int inj_val_uint32(const char *s, uint32_t *out);

/* A Kubernetes resource quantity ("100m", "1Gi", "0.5", "1e3"); control
 * characters refused. */
int inj_val_quantity(const char *s);

/* REDIRECT | TPROXY | NONE (exact case). */
int inj_val_interception_mode(const char *s);

/* Comma list of network interface names (1..15 chars, no '/', whitespace
 * or ':'); "" allowed. */
int inj_val_interfaces(const char *s);

#endif

// Bounds of Certificate fields that the CRD schema and the webhook's rules both hold.

/** The X.509 upper bound of a common name (ub-common-name). */
export const MAX_COMMON_NAME = 64;
/** The longest DNS name in text form (RFC 1035's 255 octets on the wire). */
export const MAX_DNS_NAME = 253;

// The Ready=False reasons the operator gives before it asks an issuer for anything: what it
// refuses itself. One list for the controller and for tools that explain it (kubectl-chousei).

/** The spec breaks a rule of the webhook's (checked by the controller too). */
export const INVALID_SPEC_REASON = 'InvalidSpec';

/** An older Certificate names the same Secret and keeps it. */
export const SECRET_IN_USE_REASON = 'SecretInUse';

/** The reasons a refusal that came from reading the Secret itself gives. */
export const SECRET_READ_REFUSALS = ['SecretNotOwned', 'SecretTypeMismatch'] as const;

/** A ClusterIssuer's Certificate asks for a name no DomainPolicy gives its namespace. */
export const DOMAIN_NOT_ALLOWED = 'DomainNotAllowed';

/** Every reason above: the Certificate is not issued until its cause is mended. */
export const NOT_ISSUED_REASONS: readonly string[] = [
  INVALID_SPEC_REASON,
  SECRET_IN_USE_REASON,
  ...SECRET_READ_REFUSALS,
  DOMAIN_NOT_ALLOWED,
];

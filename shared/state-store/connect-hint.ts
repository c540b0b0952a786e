/**
 * What to check when a store cannot be reached: one clause appended to the "cannot connect" line, from the driver's
 * error code (Node's socket errors, PostgreSQL SQLSTATEs, MySQL error names, Redis replies), or "" when the error
 * says nothing an operator could act on.
 */
const CHECKS: Array<[RegExp, string]> = [
  [/^(?:ECONNREFUSED)$/, "check the host and port, and that {store} is running and listening there"],
  [/^(?:ENOTFOUND|EAI_AGAIN|EAI_NONAME)$/, "check the host name (it does not resolve from here)"],
  [
    /^(?:ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET)$/,
    "check that {store} is reachable from here (security groups, firewall, VPC routes) or raise --connect-timeout",
  ],
  // PostgreSQL invalid_password / invalid_authorization_specification; MySQL access denied; Redis AUTH replies.
  [/^(?:28P01|28000|ER_ACCESS_DENIED_ERROR|ER_DBACCESS_DENIED_ERROR|WRONGPASS|NOAUTH)$/, "check the user and password"],
  [/^(?:3D000|ER_BAD_DB_ERROR)$/, "check the database name"],
  [
    /^(?:DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/,
    "check the TLS settings (sslmode / tls, and the CA the server's certificate chains to)",
  ],
];

/** `; check …` for `error`, naming `store`; "" when there is nothing to add. */
export function whatToCheck(error: unknown, store: string): string {
  for (const code of codesOf(error)) {
    for (const [pattern, check] of CHECKS) {
      if (pattern.test(code)) return `; ${check.replaceAll("{store}", store)}`;
    }
  }
  if (error instanceof Error && /\btime(?:d)? ?out\b/i.test(error.message)) {
    return `; check that ${store} is reachable from here (security groups, firewall, VPC routes) or raise --connect-timeout`;
  }
  return "";
}

/** The error's code, its first word when that is a Redis error reply, and the same for its causes and members. */
function codesOf(error: unknown, depth = 0): string[] {
  if (depth > 3 || typeof error !== "object" || error === null) return [];
  const codes: string[] = [];
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === "string") codes.push(code);
  if (typeof message === "string") codes.push(message.split(/[\s:]/, 1)[0] ?? "");
  codes.push(...codesOf(cause, depth + 1));
  if (Array.isArray(errors)) for (const inner of errors) codes.push(...codesOf(inner, depth + 1));
  return codes;
}

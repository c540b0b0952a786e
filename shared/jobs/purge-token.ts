/**
 * The retention purge's continuation tokens.
 */
import { HousekeeperError } from "../errors.ts";
import type { AppRef } from "../state-store/keys.ts";
import { formatShard, type Shard } from "../workflow/shard.ts";

/**
 * Continuation tokens are opaque to callers: the store cursor, bound to the app and the shard it belongs to (a
 * sharded listing's cursor means nothing to another shard or shard count). Unsharded tokens carry no shard.
 */
export function encodeToken(cursor: string | undefined, app: AppRef, shard: Shard | undefined): string {
  const token: Record<string, unknown> = { v: 1, app: app.appId, ns: app.namespace, cursor: cursor ?? null };
  if (shard) token.shard = formatShard(shard);
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

export function decodeToken(token: string | undefined, app: AppRef, shard: Shard | undefined): string | undefined {
  if (token === undefined || token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      v?: number;
      app?: string;
      ns?: string;
      cursor?: string | null;
      shard?: unknown;
    };
    if (parsed.v !== 1 || typeof parsed.app !== "string") throw new Error("unknown token version");
    if (parsed.app !== app.appId || parsed.ns !== app.namespace) {
      throw new HousekeeperError(
        "bad-input",
        `continuation token belongs to app "${parsed.app}" in namespace "${parsed.ns}", not "${app.appId}" in "${app.namespace}"`,
      );
    }
    const expected = shard ? formatShard(shard) : undefined;
    if ((parsed.shard ?? undefined) !== expected) {
      const was = typeof parsed.shard === "string" ? `shard ${parsed.shard}` : "an unsharded run";
      throw new HousekeeperError(
        "bad-input",
        `continuation token belongs to ${was}, not ${expected ? `shard ${expected}` : "an unsharded run"}`,
      );
    }
    return parsed.cursor ?? undefined;
  } catch (error) {
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("bad-input", "continuation token is not one this tool issued");
  }
}

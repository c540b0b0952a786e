/**
 * Which idempotency store keeps the webhook's delivery IDs, from the settings (no client loaded here: the webhook's
 * settings module, which the CDK app imports, uses it). Opening it: shared/webhook/open-idempotency.ts.
 */
import { HousekeeperError } from "../errors.ts";

export type IdempotencyBackend =
  | { kind: "memory" }
  | { kind: "redis"; url: string }
  | { kind: "dynamodb"; tableName: string };

/** The backend the settings name; both at once is a configuration error. */
export function idempotencyBackend(settings: { redisUrl?: string; tableName?: string }): IdempotencyBackend {
  const redisUrl = settings.redisUrl?.trim() || undefined;
  const tableName = settings.tableName?.trim() || undefined;
  if (redisUrl && tableName) {
    throw new HousekeeperError(
      "bad-input",
      "the delivery IDs go to one store: set either the DynamoDB table or the Redis URL, not both",
    );
  }
  if (tableName) {
    // DynamoDB's own rule for table names.
    if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
      throw new HousekeeperError(
        "bad-input",
        `"${tableName}" is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)`,
      );
    }
    return { kind: "dynamodb", tableName };
  }
  if (redisUrl) return { kind: "redis", url: redisUrl };
  return { kind: "memory" };
}

/** For logs and status lines. */
export function describeIdempotencyBackend(backend: IdempotencyBackend): string {
  switch (backend.kind) {
    case "memory":
      return "memory (this process only)";
    case "redis":
      return "Redis";
    case "dynamodb":
      return `DynamoDB table ${backend.tableName}`;
  }
}

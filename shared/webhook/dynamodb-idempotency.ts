/**
 * The idempotency store on a DynamoDB table (the stack's default in AWS: shared by every execution environment, no
 * server to run). One item per key:
 *
 *   id          (S, partition key)  the job's key, after keyPrefix
 *   state       (S)                 `inflight:<token>` or `done:<instanceId>` (idempotency.ts)
 *   expiresAtMs (N)                 when the record stops counting, in ms: the claim's condition reads it
 *   expiresAt   (N)                 the same in epoch seconds: the table's TTL attribute, so DynamoDB deletes old items
 *
 * DynamoDB's TTL deletes expired items only eventually (often within days), so expiry is decided by `expiresAtMs`, not
 * by the item's presence: a claim is one conditional PutItem that succeeds when the key is absent or expired (atomic,
 * so of two concurrent deliveries exactly one acts). When the condition fails, the holder is read from the exception
 * (ReturnValuesOnConditionCheckFailure) or, where an implementation does not return it, with a consistent GetItem.
 * release is a conditional DeleteItem on the claim's own token; complete is an unconditional PutItem, as on Redis.
 */
import { randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { HousekeeperError } from "../errors.ts";
import {
  type ClaimResult,
  claimFromValue,
  DONE_PREFIX,
  type IdempotencyStore,
  IN_FLIGHT_PREFIX,
} from "./idempotency.ts";

/** The attribute DynamoDB's time-to-live reads (the stack sets it on the table). */
export const DYNAMODB_TTL_ATTRIBUTE = "expiresAt";
export const DYNAMODB_PARTITION_KEY = "id";

export interface DynamoDbIdempotencyStoreOptions {
  tableName: string;
  /** Prepended to every key (default none: the job already prefixes its keys). */
  keyPrefix?: string;
  /** Destroy the client on close() (default true: the store owns it). */
  ownsClient?: boolean;
  now?: () => number;
}

/** A claim that lost its race to an item that then vanished or expired is retried this many times. */
const CLAIM_ATTEMPTS = 3;

export class DynamoDbIdempotencyStore implements IdempotencyStore {
  private readonly table: string;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    options: DynamoDbIdempotencyStoreOptions,
  ) {
    this.table = options.tableName;
    this.prefix = options.keyPrefix ?? "";
    this.ownsClient = options.ownsClient ?? true;
    this.now = options.now ?? Date.now;
  }

  async claim(key: string, inFlightMs: number): Promise<ClaimResult> {
    const id = this.prefix + key;
    for (let attempt = 1; ; attempt++) {
      const token = randomUUID();
      const now = this.now();
      try {
        await this.run(() =>
          this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: this.item(id, IN_FLIGHT_PREFIX + token, now + ttl(inFlightMs)),
              ConditionExpression: "attribute_not_exists(#id) OR #exp <= :now",
              ExpressionAttributeNames: { "#id": DYNAMODB_PARTITION_KEY, "#exp": "expiresAtMs" },
              ExpressionAttributeValues: { ":now": { N: String(now) } },
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            }),
          ),
        );
        return { status: "claimed", token };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const holder = error.Item ?? (await this.read(id));
        const held = holder && Number(holder.expiresAtMs?.N) > now ? claimFromValue(holder.state?.S) : undefined;
        if (held) return held;
        // The holder expired or was released between our write and our read: try again (bounded).
        if (attempt >= CLAIM_ATTEMPTS) return { status: "in-flight" };
      }
    }
  }

  async complete(key: string, _token: string, instanceId: string, ttlMs: number): Promise<void> {
    await this.run(() =>
      this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: this.item(this.prefix + key, DONE_PREFIX + instanceId, this.now() + ttl(ttlMs)),
        }),
      ),
    );
  }

  async release(key: string, token: string): Promise<void> {
    try {
      await this.run(() =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: { [DYNAMODB_PARTITION_KEY]: { S: this.prefix + key } },
            ConditionExpression: "#state = :mine",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: { ":mine": { S: IN_FLIGHT_PREFIX + token } },
          }),
        ),
      );
    } catch (error) {
      // Not ours any more (done, or expired and claimed by another delivery): leave it.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Checks that the table exists and is reachable with these credentials. */
  async ready(): Promise<void> {
    await this.run(() => this.client.send(new DescribeTableCommand({ TableName: this.table })));
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private item(id: string, state: string, expiresAtMs: number) {
    return {
      [DYNAMODB_PARTITION_KEY]: { S: id },
      state: { S: state },
      expiresAtMs: { N: String(expiresAtMs) },
      [DYNAMODB_TTL_ATTRIBUTE]: { N: String(Math.ceil(expiresAtMs / 1000)) },
    };
  }

  private async read(id: string) {
    const { Item } = await this.run(() =>
      this.client.send(
        new GetItemCommand({
          TableName: this.table,
          Key: { [DYNAMODB_PARTITION_KEY]: { S: id } },
          ConsistentRead: true,
        }),
      ),
    );
    return Item;
  }

  /** Runs one call; a failed condition passes through (the caller acts on it), anything else is "unavailable". */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new HousekeeperError(
        "unavailable",
        `the idempotency store (DynamoDB table ${this.table}) failed: ${reason}`,
        {
          cause: error,
        },
      );
    }
  }
}

function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

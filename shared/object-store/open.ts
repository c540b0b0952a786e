/**
 * Opens the configured object store: S3 when a bucket is named, otherwise the local filesystem (the embedded
 * default, `./.housekeeper/backups/`).
 */
import { FilesystemObjectStore } from "./filesystem.ts";
import type {
  GetObjectResult,
  ListObjectsOptions,
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  ObjectSummary,
  PutObjectOptions,
  PutObjectResult,
} from "./object-store.ts";
import { checkBucketName } from "./object-store.ts";
import type { S3ObjectStoreOptions } from "./s3.ts";

export type ObjectStoreConfig =
  | ({ kind: "s3" } & S3ObjectStoreOptions)
  | {
      kind: "filesystem";
      /** Default `./.housekeeper/backups/`. */
      root?: string;
    };

export function openObjectStore(config: ObjectStoreConfig): ObjectStore {
  if (config.kind === "s3") {
    const { kind: _, ...options } = config;
    return new LazyS3ObjectStore(options);
  }
  return new FilesystemObjectStore(config.root === undefined ? {} : { root: config.root });
}

/**
 * The S3 store, its module (the AWS SDK's S3 client, ~0.4 MB) imported at the first call: a Lambda function whose
 * run writes no report never loads it, and none loads it at init. The bucket name is checked at once, as S3ObjectStore
 * does.
 */
class LazyS3ObjectStore implements ObjectStore {
  readonly location: string;
  private opened: Promise<ObjectStore> | undefined;

  constructor(private readonly options: S3ObjectStoreOptions) {
    this.location = `s3://${checkBucketName(options.bucket)}`;
  }

  private store(): Promise<ObjectStore> {
    this.opened ??= import("./s3.ts").then(({ S3ObjectStore }) => new S3ObjectStore(this.options));
    return this.opened;
  }

  async put(key: string, body: ObjectBody, options?: PutObjectOptions): Promise<PutObjectResult> {
    return (await this.store()).put(key, body, options);
  }

  async get(key: string): Promise<GetObjectResult> {
    return (await this.store()).get(key);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    return (await this.store()).head(key);
  }

  async *list(prefix: string, options?: ListObjectsOptions): AsyncIterable<ObjectSummary> {
    yield* (await this.store()).list(prefix, options);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    return (await this.store()).deleteMany(keys);
  }

  async close(): Promise<void> {
    if (this.opened) await (await this.opened).close();
  }
}

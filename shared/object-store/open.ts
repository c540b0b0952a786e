/**
 * Opens the configured object store: S3 when a bucket is named, otherwise the local filesystem (the embedded
 * default, `./.housekeeper/backups/`).
 */
import { FilesystemObjectStore } from "./filesystem.ts";
import type { ObjectStore } from "./object-store.ts";
import { S3ObjectStore, type S3ObjectStoreOptions } from "./s3.ts";

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
    return new S3ObjectStore(options);
  }
  return new FilesystemObjectStore(config.root === undefined ? {} : { root: config.root });
}

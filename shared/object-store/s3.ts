/**
 * ObjectStore on Amazon S3 (AWS SDK v3), or on any S3-compatible server given a custom endpoint.
 *
 * Uploads go through `@aws-sdk/lib-storage`'s Upload: a body smaller than one part is a single PutObject, a larger one
 * becomes a multipart upload fed from the stream, so memory stays at about `queueSize × partSize` whatever the size
 * of the object. A failed multipart upload is aborted, so no half-written object ever appears under the key.
 */
import { Readable } from "node:stream";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { awsRequestHandler } from "../util/timeouts.ts";
import {
  checkBucketName,
  checkListPrefix,
  checkMetadata,
  checkObjectKey,
  DEFAULT_CONTENT_TYPE,
  DEFAULT_LIST_PAGE_SIZE,
  type GetObjectResult,
  type ListObjectsOptions,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type ObjectSummary,
  type PutObjectOptions,
  type PutObjectResult,
  toReadable,
} from "./object-store.ts";

/** S3's minimum part size; also lib-storage's default. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 4;
/** DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000;

export interface S3ClientOptions {
  /** AWS region (default: the SDK's resolution: AWS_REGION, profile, ...). */
  region?: string;
  /** A custom endpoint for an S3-compatible server (MinIO, Ceph, R2, s3rver, ...), e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default true when `endpoint` is set, false otherwise. */
  forcePathStyle?: boolean;
  /** Static credentials (default: the SDK's credential chain, e.g. the Lambda role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface S3ObjectStoreOptions extends S3ClientOptions {
  bucket: string;
  /** An existing client to share (then the region/endpoint/credentials options are ignored and close() keeps it). */
  client?: S3Client;
  /** Multipart part size in bytes (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded in parallel (default 4). */
  queueSize?: number;
}

/** An S3 client configured for AWS or for an S3-compatible server. */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const config: S3ClientConfig = {
    // The SDK's defaults wait forever: a frozen endpoint would hold a backup until the Lambda's own timeout, with no
    // failure logged or counted. requestTimeout bounds the wait for an answer, socketTimeout a stalled body.
    requestHandler: awsRequestHandler(),
  };
  if (options.region) config.region = options.region;
  if (options.credentials) config.credentials = options.credentials;
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    config.forcePathStyle = options.forcePathStyle ?? true;
    // Since SDK 3.729 the default is WHEN_SUPPORTED: every upload gets a CRC32 checksum and a streamed body is sent
    // with `aws-chunked` encoding and a trailing checksum header. Many S3-compatible servers (older MinIO, Ceph RGW,
    // s3rver, some gateways) reject that framing or store it as part of the object, and some answer GETs with
    // checksums they compute differently. Against a custom endpoint we therefore send checksums only where the S3 API
    // demands them (DeleteObjects) and validate them only when asked. On AWS itself the defaults stay: integrity
    // checks on every transfer.
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  } else if (options.forcePathStyle !== undefined) {
    config.forcePathStyle = options.forcePathStyle;
  }
  return new S3Client(config);
}

function errorName(error: unknown): string {
  if (error instanceof S3ServiceException) return error.name;
  if (error instanceof Error) return error.name;
  return "";
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  return name === "NoSuchKey" || name === "NotFound" || (httpStatus(error) === 404 && name !== "NoSuchBucket");
}

/** Maps SDK errors onto the one error hierarchy; the message names the bucket and what was being done. */
export function s3Error(error: unknown, location: string, doing: string): HousekeeperError {
  if (error instanceof HousekeeperError) return error;
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const detail = `${location}: ${doing}: ${name && !message.includes(name) ? `${name}: ` : ""}${message}`;
  if (name === "NoSuchBucket") return new HousekeeperError("not-found", `no such bucket ${detail}`, { cause: error });
  if (isNotFound(error)) return new HousekeeperError("not-found", detail, { cause: error });
  const status = httpStatus(error);
  if (
    status === 401 ||
    status === 403 ||
    /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|CredentialsProviderError/.test(name)
  ) {
    return new HousekeeperError("unauthorized", `access denied to ${detail}`, { cause: error });
  }
  if (
    (status !== undefined && status >= 500) ||
    /TimeoutError|NetworkingError|RequestTimeout|SlowDown/.test(name) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up/.test(message)
  ) {
    return new HousekeeperError("unavailable", `cannot reach ${detail}`, { cause: error });
  }
  return new HousekeeperError("store-error", detail, { cause: error });
}

export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly bucket: string;
  readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = checkBucketName(options.bucket);
    this.location = `s3://${options.bucket}`;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? createS3Client(options);
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = Math.max(1, options.queueSize ?? DEFAULT_QUEUE_SIZE);
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions = {}): Promise<PutObjectResult> {
    checkObjectKey(key);
    const metadata = checkMetadata(options.metadata);
    const source = toReadable(body);
    let size = 0;
    let sourceError: { error: unknown } | undefined;
    async function* counted(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of source) {
          const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
          size += bytes.byteLength;
          yield bytes;
        }
      } catch (error) {
        sourceError = { error };
        throw error;
      }
    }
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: Readable.from(counted(), { objectMode: false }),
        ContentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
        Metadata: metadata,
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      source.destroy();
      // When the body broke, that is the news, not whatever the cleanup (AbortMultipartUpload) said afterwards.
      const cause = sourceError?.error ?? error;
      if (cause instanceof HousekeeperError) throw cause;
      if (sourceError) {
        throw new HousekeeperError("store-error", `${this.location}: uploading ${key}: ${errorMessage(cause)}`, {
          cause,
        });
      }
      throw s3Error(error, this.location, `uploading ${key}`);
    }
    return { key, size };
  }

  async get(key: string): Promise<GetObjectResult> {
    checkObjectKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = response.Body as Readable | undefined;
      if (!body) throw new HousekeeperError("store-error", `${this.location}: GetObject ${key} returned no body`);
      return {
        body,
        info: {
          key,
          size: response.ContentLength ?? 0,
          lastModified: response.LastModified ?? new Date(0),
          contentType: response.ContentType ?? DEFAULT_CONTENT_TYPE,
          metadata: response.Metadata ?? {},
        },
      };
    } catch (error) {
      if (isNotFound(error)) {
        throw new HousekeeperError("not-found", `no object ${key} in ${this.location}`, { cause: error });
      }
      throw s3Error(error, this.location, `reading ${key}`);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkObjectKey(key);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: response.ContentLength ?? 0,
        lastModified: response.LastModified ?? new Date(0),
        contentType: response.ContentType ?? DEFAULT_CONTENT_TYPE,
        metadata: response.Metadata ?? {},
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw s3Error(error, this.location, `reading ${key}`);
    }
  }

  async *list(prefix: string, options: ListObjectsOptions = {}): AsyncGenerator<ObjectSummary> {
    checkListPrefix(prefix);
    const pageSize = Math.min(1000, Math.max(1, options.pageSize ?? DEFAULT_LIST_PAGE_SIZE));
    let token: string | undefined;
    do {
      let response: ListObjectsV2CommandOutput;
      try {
        response = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix === "" ? undefined : prefix,
            MaxKeys: pageSize,
            ContinuationToken: token,
          }),
        );
      } catch (error) {
        throw s3Error(error, this.location, `listing ${prefix === "" ? "all objects" : `${prefix}*`}`);
      }
      for (const object of response.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
      }
      token = response.IsTruncated ? response.NextContinuationToken : undefined;
    } while (token);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkObjectKey(key);
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += DELETE_BATCH) {
      const batch = unique.slice(i, i + DELETE_BATCH);
      let errors: { Key?: string; Code?: string; Message?: string }[] | undefined;
      try {
        const response = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        errors = response.Errors;
      } catch (error) {
        throw s3Error(error, this.location, `deleting ${batch.length} object(s)`);
      }
      const failed = (errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new HousekeeperError(
          first.Code === "AccessDenied" ? "unauthorized" : "store-error",
          `${this.location}: could not delete ${failed.length} object(s), first ${first.Key}: ${first.Code} ${first.Message ?? ""}`.trim(),
        );
      }
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}

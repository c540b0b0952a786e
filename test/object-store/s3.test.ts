import { randomBytes } from "node:crypto";
import { CreateBucketCommand, DeleteBucketCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, MIN_PART_SIZE, S3ObjectStore } from "../../shared/object-store/s3.ts";
import { describeObjectStoreConformance } from "./conformance.ts";

// The real AWS SDK against s3rver (started by the harness), path-style, with the client the adapter builds for a
// custom endpoint (checksums only where required).
const s3 = () => inject("s3");
const credentials = () => ({ accessKeyId: s3().accessKeyId, secretAccessKey: s3().secretAccessKey });
const admin = () => createS3Client({ endpoint: s3().endpoint, region: s3().region, credentials: credentials() });

const buckets: string[] = [];
async function freshBucket(): Promise<string> {
  const bucket = `os-test-${randomBytes(5).toString("hex")}`;
  const client = admin();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  buckets.push(bucket);
  return bucket;
}

function openStore(bucket: string, extra: { client?: S3Client } = {}): S3ObjectStore {
  return new S3ObjectStore({
    bucket,
    endpoint: s3().endpoint,
    region: s3().region,
    credentials: credentials(),
    partSize: MIN_PART_SIZE,
    queueSize: 2,
    ...extra,
  });
}

afterAll(async () => {
  const client = admin();
  for (const Bucket of buckets) {
    const listed = await client.send(new ListObjectsV2Command({ Bucket }));
    if ((listed.KeyCount ?? 0) === 0) await client.send(new DeleteBucketCommand({ Bucket })).catch(() => {});
  }
  client.destroy();
});

describeObjectStoreConformance("S3 (s3rver)", async () => openStore(await freshBucket()), {
  // Three 5 MiB parts and a bit: exercises the multipart path of lib-storage's Upload.
  largeSize: 3 * MIN_PART_SIZE + 12345,
  quirks: { folderOrderedListing: true },
});

describe("S3ObjectStore specifics", () => {
  it("uploads a body larger than one part as a multipart upload, a small one as one PutObject", async () => {
    const client = admin();
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: "initialize", name: "recordCommands" },
    );
    const store = openStore(await freshBucket(), { client });
    try {
      await store.put("multi.bin", Buffer.alloc(MIN_PART_SIZE + 1, 7));
      expect(commands).toEqual([
        "CreateMultipartUploadCommand",
        "UploadPartCommand",
        "UploadPartCommand",
        "CompleteMultipartUploadCommand",
      ]);
      commands.length = 0;
      await store.put("single.bin", Buffer.alloc(1000, 7));
      expect(commands).toEqual(["PutObjectCommand"]);
      expect((await store.head("multi.bin"))?.size).toBe(MIN_PART_SIZE + 1);
    } finally {
      await store.close();
      client.destroy();
    }
  });

  it("names the bucket when it does not exist", async () => {
    const store = openStore(`missing-${randomBytes(4).toString("hex")}`);
    try {
      const error = await store.put("x", "x").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as HousekeeperError).code).toBe("not-found");
      expect((error as Error).message).toContain("s3://missing-");
    } finally {
      await store.close();
    }
  });

  // s3rver checks the access key ID but not V4 signatures, so an unknown key ID stands in for bad credentials.
  it("maps bad credentials to unauthorized", async () => {
    const bucket = await freshBucket();
    const store = new S3ObjectStore({
      bucket,
      endpoint: s3().endpoint,
      region: s3().region,
      credentials: { accessKeyId: "NOBODY", secretAccessKey: "wrong" },
    });
    try {
      await expect(store.head("x")).rejects.toMatchObject({ code: "unauthorized" });
    } finally {
      await store.close();
    }
  });

  it("shares a given client and leaves it open on close", async () => {
    const bucket = await freshBucket();
    const client = admin();
    const a = openStore(bucket, { client });
    await a.put("k", "v");
    await a.close();
    const b = openStore(bucket, { client });
    expect((await readAll((await b.get("k")).body)).toString()).toBe("v");
    await b.close();
    client.destroy();
  });

  it("refuses an invalid bucket name up front", () => {
    expect(() => new S3ObjectStore({ bucket: "Not_A_Bucket" })).toThrow(/invalid S3 bucket name/);
  });
});

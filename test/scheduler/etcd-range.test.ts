/**
 * The hand codec for etcd's KV.Range (shared/scheduler/etcd-range.ts), cross-checked against protobufjs reading
 * etcd's own rpc.proto / kv.proto (the copies the etcd3 package ships), and shown in use against the real etcd.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, inject, it } from "vitest";
import { decodeRangeResponse, encodeRangeRequest } from "../../shared/scheduler/etcd-range.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";

const protoDir = join(dirname(createRequire(import.meta.url).resolve("etcd3")), "..", "proto");
const root = new protobuf.Root().loadSync(join(protoDir, "rpc.proto"), { keepCase: true });
const RangeRequest = root.lookupType("etcdserverpb.RangeRequest");
const RangeResponse = root.lookupType("etcdserverpb.RangeResponse");

describe("KV.Range codec", () => {
  it("encodes RangeRequest as etcd's proto reads it (int64 revision beyond 2^53 included)", () => {
    for (const revision of ["0", "1", "150001", "9007199254740993"]) {
      const bytes = encodeRangeRequest({
        key: Buffer.from("dapr/jobs/"),
        rangeEnd: Buffer.from("dapr/jobs0"),
        limit: 5000,
        revision,
      });
      const read = RangeRequest.toObject(RangeRequest.decode(bytes), { longs: String, bytes: String });
      expect(read).toMatchObject({
        key: Buffer.from("dapr/jobs/").toString("base64"),
        range_end: Buffer.from("dapr/jobs0").toString("base64"),
        limit: "5000",
      });
      expect(read.revision ?? "0").toBe(revision);
    }
  });

  it("decodes every key and value of a RangeResponse written by etcd's proto, and `more`", () => {
    const kvs = [
      { key: Buffer.from("dapr/jobs/app||ns||a"), value: Buffer.from([0, 1, 2, 255]), create_revision: 7 },
      { key: Buffer.from("dapr/jobs/é"), value: Buffer.alloc(70_000, 7), mod_revision: "9007199254740993" },
      { key: Buffer.from("dapr/counters/x"), value: Buffer.alloc(0), version: 3, lease: "-1" },
    ];
    for (const more of [true, false]) {
      const message = RangeResponse.fromObject({
        header: { cluster_id: "123", member_id: "456", revision: "150001", raft_term: "2" },
        kvs,
        more,
        count: "150000",
      });
      const decoded = decodeRangeResponse(Buffer.from(RangeResponse.encode(message).finish()));
      expect(decoded.more).toBe(more);
      expect(decoded.kvs.map((kv) => [kv.key.toString("hex"), kv.value.toString("hex")])).toEqual(
        kvs.map((kv) => [kv.key.toString("hex"), kv.value.toString("hex")]),
      );
    }
  });

  it("refuses a truncated response instead of returning part of it", () => {
    const message = RangeResponse.fromObject({ kvs: [{ key: Buffer.from("k"), value: Buffer.from("value") }] });
    const bytes = Buffer.from(RangeResponse.encode(message).finish());
    expect(() => decodeRangeResponse(bytes.subarray(0, bytes.length - 2))).toThrow(/etcd Range response/);
  });

  it("is what scans use against the real etcd", async () => {
    const store = new EtcdSchedulerStore({ endpoints: [inject("etcdEndpoint") as string] });
    try {
      const pool = (store as unknown as { client: { kv: { client: { withConnection?: unknown } } } }).client.kv.client;
      expect(typeof pool.withConnection).toBe("function");
      const key = `dapr/jobs/range-test-${Date.now()}`;
      await store.put([{ key, value: new Uint8Array([1, 2, 3]) }]);
      const snapshot = await store.snapshot();
      const seen: Array<[string, string]> = [];
      for await (const page of snapshot.scan("dapr/jobs/range-test-", { pageSize: 1 })) {
        for (const e of page) seen.push([e.key, Buffer.from(e.value).toString("hex")]);
      }
      expect(seen).toEqual([[key, "010203"]]);
      await store.deleteKeys([key]);
    } finally {
      await store.close();
    }
  });
});

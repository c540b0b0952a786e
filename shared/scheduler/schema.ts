/**
 * The protobuf messages the Dapr Scheduler stores in its etcd, written from the field tables of
 *  - diagridio/go-etcd-cron proto/stored/job.proto (`stored.Job`, the value under `dapr/jobs/…`),
 *    proto/stored/counter.proto (`stored.Counter`, under `dapr/counters/…`), proto/api/job.proto (`api.Job`, the job
 *    spec inside a stored job) and proto/api/failurepolicy.proto;
 *  - dapr/dapr dapr/proto/scheduler/v1/scheduler.proto (`JobMetadata`, packed in `api.Job.metadata` as an Any).
 * (The Dapr CLI vendors the same stored messages as pkg/scheduler/stored.) protobufjs builds the codecs from this
 * text at load time; unknown fields from newer versions are skipped, as Go's proto.Unmarshal does.
 */
import protobuf from "protobufjs";
import { HousekeeperError } from "../errors.ts";

const SCHEDULER_PROTO = `
syntax = "proto3";

message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message Any { string type_url = 1; bytes value = 2; }

message FailurePolicyDrop {}
message FailurePolicyConstant { Duration interval = 1; optional uint32 max_retries = 2; }
message FailurePolicy {
  oneof policy {
    FailurePolicyDrop drop = 1;
    FailurePolicyConstant constant = 2;
  }
}

// go-etcd-cron api.Job
message JobSpec {
  optional string schedule = 1;
  optional string due_time = 2;
  optional string ttl = 3;
  optional uint32 repeats = 4;
  Any metadata = 5;
  Any payload = 6;
  optional FailurePolicy failure_policy = 7;
}

// go-etcd-cron stored.Job
message StoredJob {
  uint64 partition_id = 1;
  oneof begin {
    Timestamp start = 2;
    Timestamp due_time = 3;
  }
  optional Timestamp expiration = 4;
  JobSpec job = 5;
}

// go-etcd-cron stored.Counter
message StoredCounter {
  uint64 job_partition_id = 1;
  uint32 count = 2;
  Timestamp last_trigger = 3;
  uint32 attempts = 4;
}

// dapr.proto.scheduler.v1
message TargetJob {}
message TargetActorReminder { string id = 1; string type = 2; }
message JobTargetMetadata {
  oneof type {
    TargetJob job = 1;
    TargetActorReminder actor = 2;
  }
}
message JobMetadata {
  string app_id = 1;
  string namespace = 2;
  JobTargetMetadata target = 3;
  optional string concurrency_key = 4;
}
`;

const root = protobuf.parse(SCHEDULER_PROTO, { keepCase: false }).root;
const StoredJobType = root.lookupType("StoredJob");
const StoredCounterType = root.lookupType("StoredCounter");
const JobMetadataType = root.lookupType("JobMetadata");

/** The full protobuf name Dapr packs into `api.Job.metadata` (anypb.New(JobMetadata)). */
export const JOB_METADATA_FULL_NAME = "dapr.proto.scheduler.v1.JobMetadata";
export const JOB_METADATA_TYPE_URL = `type.googleapis.com/${JOB_METADATA_FULL_NAME}`;

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface ProtoDuration {
  seconds: number;
  nanos: number;
}

export interface AnyValue {
  typeUrl: string;
  value: Uint8Array;
}

export interface FailurePolicy {
  drop?: Record<string, never>;
  constant?: { interval?: ProtoDuration; maxRetries?: number };
}

/** go-etcd-cron api.Job: the job as it was submitted (schedule strings as given). */
export interface JobSpec {
  schedule?: string;
  dueTime?: string;
  ttl?: string;
  repeats?: number;
  metadata?: AnyValue;
  payload?: AnyValue;
  failurePolicy?: FailurePolicy;
}

/** go-etcd-cron stored.Job: the value under `dapr/jobs/<name>`. */
export interface StoredJob {
  /** uint64, as a decimal string. */
  partitionId: string;
  /** `start`: the clock starts here and the job does not fire at it; `dueTime`: the job fires at it. */
  begin?: { kind: "start" | "dueTime"; time: Timestamp };
  expiration?: Timestamp;
  job?: JobSpec;
}

/** go-etcd-cron stored.Counter: the value under `dapr/counters/<name>`. */
export interface StoredCounter {
  /** uint64, as a decimal string. */
  jobPartitionId: string;
  count: number;
  lastTrigger?: Timestamp;
  attempts: number;
}

/** dapr.proto.scheduler.v1.JobMetadata: who the job belongs to. */
export interface JobMetadata {
  appId: string;
  namespace: string;
  target?: { job: Record<string, never> } | { actor: { id: string; type: string } };
  concurrencyKey?: string;
}

const TO_OBJECT = { longs: String, enums: Number, oneofs: true, defaults: false } as const;

interface RawTimestamp {
  seconds?: string;
  nanos?: number;
}

function timestamp(raw: RawTimestamp | undefined): Timestamp | undefined {
  if (raw === undefined || raw === null) return undefined;
  return { seconds: Number(raw.seconds ?? 0), nanos: raw.nanos ?? 0 };
}

function anyValue(raw: { typeUrl?: string; value?: Uint8Array } | undefined): AnyValue | undefined {
  if (raw === undefined || raw === null) return undefined;
  return { typeUrl: raw.typeUrl ?? "", value: raw.value ?? new Uint8Array(0) };
}

function protoError(what: string, error: unknown): HousekeeperError {
  const reason = error instanceof Error ? error.message : String(error);
  return new HousekeeperError("corrupt-data", `not a valid ${what}: ${reason}`, { cause: error });
}

/** Decodes a `dapr/jobs/…` value; throws HousekeeperError("corrupt-data") when the bytes are not a stored job. */
export function decodeStoredJob(bytes: Uint8Array): StoredJob {
  let o: Record<string, unknown>;
  try {
    o = StoredJobType.toObject(StoredJobType.decode(bytes), TO_OBJECT);
  } catch (error) {
    throw protoError("stored job (go-etcd-cron stored.Job)", error);
  }
  const job: StoredJob = { partitionId: String(o.partitionId ?? "0") };
  if (o.begin === "start" || o.begin === "dueTime") {
    const time = timestamp(o[o.begin] as RawTimestamp);
    if (time) job.begin = { kind: o.begin, time };
  }
  const expiration = timestamp(o.expiration as RawTimestamp | undefined);
  if (expiration) job.expiration = expiration;
  const spec = o.job as Record<string, unknown> | undefined;
  if (spec) {
    const s: JobSpec = {};
    if (typeof spec.schedule === "string") s.schedule = spec.schedule;
    if (typeof spec.dueTime === "string") s.dueTime = spec.dueTime;
    if (typeof spec.ttl === "string") s.ttl = spec.ttl;
    if (typeof spec.repeats === "number") s.repeats = spec.repeats;
    const metadata = anyValue(spec.metadata as AnyValue | undefined);
    if (metadata) s.metadata = metadata;
    const payload = anyValue(spec.payload as AnyValue | undefined);
    if (payload) s.payload = payload;
    const policy = spec.failurePolicy as Record<string, unknown> | undefined;
    if (policy) {
      const p: FailurePolicy = {};
      if (policy.drop) p.drop = {};
      const constant = policy.constant as { interval?: RawTimestamp; maxRetries?: number } | undefined;
      if (constant) {
        p.constant = {};
        const interval = timestamp(constant.interval);
        if (interval) p.constant.interval = interval;
        if (typeof constant.maxRetries === "number") p.constant.maxRetries = constant.maxRetries;
      }
      s.failurePolicy = p;
    }
    job.job = s;
  }
  return job;
}

/** Decodes a `dapr/counters/…` value; throws HousekeeperError("corrupt-data") when the bytes are not a counter. */
export function decodeStoredCounter(bytes: Uint8Array): StoredCounter {
  let o: Record<string, unknown>;
  try {
    o = StoredCounterType.toObject(StoredCounterType.decode(bytes), TO_OBJECT);
  } catch (error) {
    throw protoError("job counter (go-etcd-cron stored.Counter)", error);
  }
  const counter: StoredCounter = {
    jobPartitionId: String(o.jobPartitionId ?? "0"),
    count: (o.count as number | undefined) ?? 0,
    attempts: (o.attempts as number | undefined) ?? 0,
  };
  const lastTrigger = timestamp(o.lastTrigger as RawTimestamp | undefined);
  if (lastTrigger) counter.lastTrigger = lastTrigger;
  return counter;
}

/**
 * Unpacks the job's metadata Any like Go's anypb.UnmarshalTo: the type URL's last path segment must be
 * `dapr.proto.scheduler.v1.JobMetadata` (a missing Any fails too, as it does in the Dapr CLI).
 */
export function decodeJobMetadata(any: AnyValue | undefined): JobMetadata {
  const typeUrl = any?.typeUrl ?? "";
  const fullName = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  if (any === undefined || fullName !== JOB_METADATA_FULL_NAME) {
    throw new HousekeeperError(
      "corrupt-data",
      any === undefined
        ? "job has no metadata"
        : `job metadata has type "${typeUrl}", expected "${JOB_METADATA_TYPE_URL}"`,
    );
  }
  let o: Record<string, unknown>;
  try {
    o = JobMetadataType.toObject(JobMetadataType.decode(any.value), TO_OBJECT);
  } catch (error) {
    throw protoError("job metadata (dapr.proto.scheduler.v1.JobMetadata)", error);
  }
  const meta: JobMetadata = { appId: (o.appId as string | undefined) ?? "", namespace: (o.namespace as string) ?? "" };
  const target = o.target as Record<string, unknown> | undefined;
  if (target?.type === "job") meta.target = { job: {} };
  else if (target?.type === "actor") {
    const actor = target.actor as { id?: string; type?: string };
    meta.target = { actor: { id: actor.id ?? "", type: actor.type ?? "" } };
  }
  if (typeof o.concurrencyKey === "string") meta.concurrencyKey = o.concurrencyKey;
  return meta;
}

/** Proto3 leaves zero-valued scalars off the wire (Go does); protobufjs writes whatever is set, so drop them. */
function nonZero(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== 0 && v !== "0" && v !== ""));
}

function rawTimestamp(t: Timestamp | undefined): Record<string, unknown> | undefined {
  return t === undefined ? undefined : nonZero({ seconds: t.seconds, nanos: t.nanos });
}

function rawSpec(spec: JobSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { ...spec };
  const interval = spec.failurePolicy?.constant?.interval;
  if (spec.failurePolicy?.constant) {
    o.failurePolicy = { constant: { ...spec.failurePolicy.constant, interval: rawTimestamp(interval) } };
  }
  return o;
}

/** Encodes a stored job as Go would (seed data, tests, benchmarks). */
export function encodeStoredJob(job: StoredJob): Uint8Array {
  const o: Record<string, unknown> = nonZero({ partitionId: job.partitionId });
  if (job.begin) o[job.begin.kind] = rawTimestamp(job.begin.time);
  if (job.expiration) o.expiration = rawTimestamp(job.expiration);
  if (job.job) o.job = rawSpec(job.job);
  return StoredJobType.encode(StoredJobType.fromObject(o)).finish();
}

/** Encodes a job counter as Go would (seed data, tests, benchmarks). */
export function encodeStoredCounter(counter: StoredCounter): Uint8Array {
  const o = nonZero({ jobPartitionId: counter.jobPartitionId, count: counter.count, attempts: counter.attempts });
  if (counter.lastTrigger) o.lastTrigger = rawTimestamp(counter.lastTrigger);
  return StoredCounterType.encode(StoredCounterType.fromObject(o)).finish();
}

/** Packs JobMetadata into the Any Dapr stores in `api.Job.metadata`. */
export function encodeJobMetadata(meta: JobMetadata): AnyValue {
  const o = nonZero({ appId: meta.appId, namespace: meta.namespace, concurrencyKey: meta.concurrencyKey });
  if (meta.concurrencyKey !== undefined) o.concurrencyKey = meta.concurrencyKey;
  if (meta.target) o.target = meta.target;
  const value = JobMetadataType.encode(JobMetadataType.fromObject(o)).finish();
  return { typeUrl: JOB_METADATA_TYPE_URL, value };
}

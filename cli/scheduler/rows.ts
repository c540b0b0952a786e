/**
 * `dapr scheduler list|get` output (dapr/cli pkg/scheduler/list.go ListOutput / ListOutputWide):
 *  - short table and records: NAME, BEGIN, COUNT, LAST TRIGGER, where BEGIN is `+<d>` (starts in d) or `-<d>` (began d
 *    ago) and LAST TRIGGER `-<d>` (d ago) or empty, d in utils.HumanizeDuration (`1.5h`, `3.2m`, `12.00s`);
 *  - wide table and records: NAMESPACE, NAME, BEGIN, EXPIRATION, SCHEDULE, DUE TIME, TTL, REPEATS, COUNT, LAST TRIGGER
 *    with times as RFC 3339 truncated to the second (Go's zero time when the job has no begin);
 *  - `-o json|yaml` print the wide records (the CLI uses ListWide for every format but short): JSON with Go's json
 *    tags (nil pointers as null, `lastTrigger` omitted when unset), YAML with yaml.v2's omitempty (zero time, nil
 *    pointers and a zero count left out).
 * Order: namespace, then begin, then name (Go string order).
 */
import type { JobRecord } from "../../shared/scheduler/jobs.ts";
import { compareUtf8 } from "../../shared/util/compare-utf8.ts";
import { GO_ZERO_TIME, humanizeDuration, rfc3339FromSeconds } from "../output/go-format.ts";

/** Go's zero time (0001-01-01T00:00:00Z) in Unix seconds. */
const GO_ZERO_SECONDS = -62_135_596_800;
/** time.Duration saturates at math.MaxInt64 nanoseconds. */
const MAX_DURATION_NS = 2 ** 63 - 1; // rounds to 2^63 as a double; the printed hours are the same

/** One listed job, reduced to what the output needs (JSON-serializable, for the external sort's spill files). */
export interface ListedJob {
  namespace: string;
  name: string;
  /** Unix seconds (already truncated), or null for Go's zero time. */
  begin: number | null;
  expiration: number | null;
  schedule: string | null;
  dueTime: string | null;
  ttl: string | null;
  repeats: number | null;
  count: number;
  lastTrigger: number | null;
}

export function toListedJob(record: JobRecord): ListedJob {
  const spec = record.job.job;
  return {
    namespace: record.namespace,
    name: record.name,
    begin: record.job.begin ? record.job.begin.time.seconds : null,
    expiration: record.job.expiration ? record.job.expiration.seconds : null,
    schedule: spec?.schedule ?? null,
    dueTime: spec?.dueTime ?? null,
    ttl: spec?.ttl ?? null,
    repeats: spec?.repeats ?? null,
    count: record.counter?.count ?? 0,
    lastTrigger: record.counter?.lastTrigger ? record.counter.lastTrigger.seconds : null,
  };
}

export function compareListed(a: ListedJob, b: ListedJob): number {
  if (a.namespace !== b.namespace) return compareUtf8(a.namespace, b.namespace);
  const ab = a.begin ?? GO_ZERO_SECONDS;
  const bb = b.begin ?? GO_ZERO_SECONDS;
  if (ab !== bb) return ab - bb;
  return compareUtf8(a.name, b.name);
}

function durationNs(ms: number): number {
  return Math.min(Math.abs(ms) * 1e6, MAX_DURATION_NS);
}

export interface ShortRecord {
  name: string;
  begin: string;
  count: number;
  lastTrigger: string;
}

export function shortRecord(job: ListedJob, nowMs: number): ShortRecord {
  const beginMs = (job.begin ?? GO_ZERO_SECONDS) * 1000;
  const begin =
    beginMs > nowMs
      ? `+${humanizeDuration(durationNs(beginMs - nowMs))}`
      : `-${humanizeDuration(durationNs(nowMs - beginMs))}`;
  const lastTrigger =
    job.lastTrigger === null ? "" : `-${humanizeDuration(durationNs(nowMs - job.lastTrigger * 1000))}`;
  return { name: job.name, begin, count: job.count, lastTrigger };
}

export const SHORT_HEADERS = ["NAME", "BEGIN", "COUNT", "LAST TRIGGER"] as const;
export const WIDE_HEADERS = [
  "NAMESPACE",
  "NAME",
  "BEGIN",
  "EXPIRATION",
  "SCHEDULE",
  "DUE TIME",
  "TTL",
  "REPEATS",
  "COUNT",
  "LAST TRIGGER",
] as const;

export function shortCells(job: ListedJob, nowMs: number): string[] {
  const r = shortRecord(job, nowMs);
  return [r.name, r.begin, String(r.count), r.lastTrigger];
}

/** ListOutputWide as Go's encoding/json writes it. */
export interface WideJson {
  namespace: string;
  name: string;
  begin: string;
  expiration: string | null;
  schedule: string | null;
  dueTime: string | null;
  ttl: string | null;
  repeats: number | null;
  count: number;
  lastTrigger?: string;
}

const time = (seconds: number | null): string | null => (seconds === null ? null : rfc3339FromSeconds(seconds));

export function wideJson(job: ListedJob): WideJson {
  const out: WideJson = {
    namespace: job.namespace,
    name: job.name,
    begin: time(job.begin) ?? GO_ZERO_TIME,
    expiration: time(job.expiration),
    schedule: job.schedule,
    dueTime: job.dueTime,
    ttl: job.ttl,
    repeats: job.repeats,
    count: job.count,
  };
  if (job.lastTrigger !== null) out.lastTrigger = rfc3339FromSeconds(job.lastTrigger);
  return out;
}

export function wideCells(job: ListedJob): string[] {
  const w = wideJson(job);
  return [
    w.namespace,
    w.name,
    w.begin,
    w.expiration ?? "",
    w.schedule ?? "",
    w.dueTime ?? "",
    w.ttl ?? "",
    w.repeats === null ? "" : String(w.repeats),
    String(w.count),
    w.lastTrigger ?? "",
  ];
}

/** ListOutputWide as gopkg.in/yaml.v2 writes it: omitempty drops the zero time, nil pointers and a zero count. */
/** ListOutputWide's Go `time.Time` fields (cli pkg/scheduler/list.go): yaml.v2 writes them plain. */
export const WIDE_TIME_FIELDS = ["begin", "expiration", "lastTrigger"] as const;

export function wideYaml(job: ListedJob): Record<string, unknown> {
  const w = wideJson(job);
  const out: Record<string, unknown> = { namespace: w.namespace, name: w.name };
  if (job.begin !== null) out.begin = w.begin;
  if (w.expiration !== null) out.expiration = w.expiration;
  if (w.schedule !== null) out.schedule = w.schedule;
  if (w.dueTime !== null) out.dueTime = w.dueTime;
  if (w.ttl !== null) out.ttl = w.ttl;
  if (w.repeats !== null) out.repeats = w.repeats;
  if (w.count !== 0) out.count = w.count;
  if (w.lastTrigger !== undefined) out.lastTrigger = w.lastTrigger;
  return out;
}

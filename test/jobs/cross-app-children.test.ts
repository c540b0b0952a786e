/**
 * Cross-app child workflows in a direct purge, as Dapr's recursive purge treats them (dapr
 * pkg/actors/targets/workflow/orchestrator/recursivepurge.go): the child is looked for in the app its
 * ChildWorkflowInstanceCreated event's router names; a finished one goes with its parent, an unfinished one stops
 * the parent's purge, and one whose app keeps no state in this store cannot be checked, so the parent is skipped.
 *
 * The history is encoded independently of our codec: the jspb classes generated from durabletask's .proto
 * (@dapr/durabletask-js), plus google-protobuf's BinaryWriter for the fields that build lacks (HistoryEvent.router =
 * 30, TaskRouter.sourceAppID = 1 / targetAppID = 2, from dapr/durabletask-protobuf orchestrator_service.proto) and for
 * Dapr's BackendWorkflowStateMetadata (inboxLength = 1, historyLength = 2, generation = 3).
 */
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { dumpStore, storeFactories } from "../support/stores.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const jspb: any = require("google-protobuf");

const PARENT_APP: AppRef = { appId: "orders", namespace: "default" };
const CHILD_APP: AppRef = { appId: "payments", namespace: "default" };
const DAY = 86_400_000;
const NOW = new Date();
const FINISHED_AT = Math.floor((NOW.getTime() - 60 * DAY) / 1000);

function event(eventId: number, seconds: number) {
  return new pb.HistoryEvent().setEventid(eventId).setTimestamp(new tspb.Timestamp().setSeconds(seconds));
}

function started(name: string, instanceId: string): Uint8Array {
  const start = new pb.ExecutionStartedEvent()
    .setName(name)
    .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid(instanceId));
  return event(-1, FINISHED_AT - 10)
    .setExecutionstarted(start)
    .serializeBinary();
}

function completed(): Uint8Array {
  const done = new pb.ExecutionCompletedEvent().setOrchestrationstatus(
    pb.OrchestrationStatus.ORCHESTRATION_STATUS_COMPLETED,
  );
  return event(2, FINISHED_AT).setExecutioncompleted(done).serializeBinary();
}

/** ChildWorkflowInstanceCreated whose router targets `targetAppId` (field 30, appended: protobuf merges fields). */
function childCreated(childId: string, targetAppId: string): Uint8Array {
  const created = new pb.SubOrchestrationInstanceCreatedEvent().setInstanceid(childId).setName("Charge");
  const base = event(1, FINISHED_AT - 5)
    .setSuborchestrationinstancecreated(created)
    .serializeBinary();
  const router = new jspb.BinaryWriter();
  router.writeString(1, PARENT_APP.appId);
  router.writeString(2, targetAppId);
  const outer = new jspb.BinaryWriter();
  outer.writeBytes(30, router.getResultBuffer());
  return Buffer.concat([base, outer.getResultBuffer()]);
}

function metadata(historyLength: number): Uint8Array {
  const writer = new jspb.BinaryWriter();
  writer.writeUint64(2, historyLength);
  writer.writeUint64(3, 1);
  return writer.getResultBuffer();
}

function instanceEntries(app: AppRef, instanceId: string, history: Uint8Array[]): Array<[string, Uint8Array]> {
  const prefix = instanceKeyPrefix(app, instanceId);
  return [
    [`${prefix}metadata`, metadata(history.length)],
    ...history.map((bytes, i): [string, Uint8Array] => [`${prefix}history-${String(i).padStart(6, "0")}`, bytes]),
  ];
}

describe("direct purge follows cross-app child workflows to their app", () => {
  let backend: StateBackend;

  beforeAll(async () => {
    backend = await storeFactories(14)[1]!.open(); // PostgreSQL (v2 table)
    await backend.setMany([
      // finished parent with a finished child in another app of the same store
      ...instanceEntries(PARENT_APP, "p-done", [
        started("Order", "p-done"),
        childCreated("c-done", CHILD_APP.appId),
        completed(),
      ]),
      ...instanceEntries(CHILD_APP, "c-done", [started("Charge", "c-done"), completed()]),
      // finished parent whose cross-app child still runs
      ...instanceEntries(PARENT_APP, "p-waiting", [
        started("Order", "p-waiting"),
        childCreated("c-running", CHILD_APP.appId),
        completed(),
      ]),
      ...instanceEntries(CHILD_APP, "c-running", [started("Charge", "c-running")]),
      // finished parent whose child lives in an app with no state here (another state store)
      ...instanceEntries(PARENT_APP, "p-elsewhere", [
        started("Order", "p-elsewhere"),
        childCreated("c-far", "shipping"),
        completed(),
      ]),
    ]);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("purges a finished cross-app child with its parent and skips parents whose child runs or cannot be checked", async () => {
    const before = await dumpStore(backend);
    const result = await runRetentionPurge(
      { store: new WorkflowStateStore(backend, PARENT_APP) },
      { retention: { COMPLETED: 30 * DAY }, mode: "direct", now: NOW, onDecision: () => {} },
    );

    expect(result.failed).toEqual([]);
    expect(result.purged).toBe(1);
    expect(result.childrenPurged).toBe(1);
    expect(result.skipped).toEqual([
      {
        instanceID: "p-elsewhere",
        reason: "child workflow c-far runs in app shipping, whose state is not in this store",
      },
      { instanceID: "p-waiting", reason: "child workflow c-running (app payments) is RUNNING" },
    ]);
    const after = await dumpStore(backend);
    const gone = [...before.keys()].filter((k) => !after.has(k)).sort();
    expect(gone).toEqual(
      [
        ...instanceEntries(PARENT_APP, "p-done", [new Uint8Array(), new Uint8Array(), new Uint8Array()]),
        ...instanceEntries(CHILD_APP, "c-done", [new Uint8Array(), new Uint8Array()]),
      ]
        .map(([k]) => k)
        .sort(),
    );
  });
});

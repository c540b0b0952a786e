/**
 * The Scheduler's reminders straight over etcd3, batched: the key prefixes of many instances are read as the range operations of
 * one etcd transaction (up to 128 per transaction, etcd's default --max-txn-ops), every transaction of a batch at
 * the first one's revision. With the etcd3 client a Range call costs about a millisecond of client time whatever
 * the concurrency, so one call per prefix (SchedulerReminderIndex over the scheduler module's port) reads ~1,000
 * instances a second; this reads ~15,000. Same keys, same parsing, same answers.
 *
 * It opens its own client from the scheduler module's store options (endpoints, TLS, key root), because the
 * SchedulerStore port has no multi-prefix read.
 */
import { rootCertificates } from "node:tls";
import type { IOptions } from "etcd3";
import { Etcd3 } from "etcd3";
import { HousekeeperError } from "../../errors.ts";
import type { EtcdStoreOptions } from "../../scheduler/etcd-store.ts";
import { DEFAULT_ETCD_ENDPOINT, etcdError, parseEndpoints } from "../../scheduler/etcd-store.ts";
import { DAPR_ROOT, instanceReminderSelection } from "../../scheduler/keys.ts";
import { MAX_TXN_OPS } from "../../scheduler/store.ts";
import type { AppRef } from "../../state-store/keys.ts";
import { workflowActorType } from "../../state-store/keys.ts";
import type { InstanceReminder, ReminderIndex, ReminderQuery, ReminderSource } from "./reminders.ts";
import { toReminder } from "./reminders.ts";

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

const toBuffer = (v: Buffer | string | undefined) => (v === undefined ? undefined : Buffer.from(v));

/** One etcd client; `forApp` gives each app's ReminderIndex over it. */
export class EtcdReminders implements ReminderSource {
  private readonly client: Etcd3;
  private readonly root: string;
  private readonly hosts: string[];

  constructor(options: EtcdStoreOptions = {}) {
    const endpoints = parseEndpoints(options.endpoints ?? [DEFAULT_ETCD_ENDPOINT]);
    this.hosts = endpoints.hosts;
    this.root = options.root ?? DAPR_ROOT;
    if (!this.root.endsWith("/")) throw new HousekeeperError("bad-input", `etcd key root must end in "/"`);
    const timeoutMs = options.timeoutMs ?? 60_000;
    const etcdOptions: IOptions = {
      hosts: endpoints.hosts,
      grpcOptions: { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 },
      defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
    };
    const tls = options.tls;
    if (endpoints.tls || tls?.ca !== undefined || tls?.cert !== undefined || tls?.key !== undefined) {
      if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
        throw new HousekeeperError("bad-input", "an etcd client certificate needs its key, and a key its certificate");
      }
      etcdOptions.credentials = {
        rootCertificate: toBuffer(tls?.ca) ?? Buffer.from(rootCertificates.join("\n")),
        ...(tls?.key !== undefined ? { privateKey: toBuffer(tls.key)! } : {}),
        ...(tls?.cert !== undefined ? { certChain: toBuffer(tls.cert)! } : {}),
      };
    }
    this.client = new Etcd3(etcdOptions);
  }

  private physical(key: string): Buffer {
    return Buffer.concat([Buffer.from(this.root, "utf8"), Buffer.from(key.slice(DAPR_ROOT.length), "utf8")]);
  }

  forApp(app: AppRef): ReminderIndex {
    return { remindersOf: (queries) => this.remindersOf(app, queries) };
  }

  async remindersOf(app: AppRef, queries: readonly ReminderQuery[]): Promise<Map<string, InstanceReminder[]>> {
    const out = new Map<string, InstanceReminder[]>();
    const ranges: Array<{ instanceId: string; key: Buffer }> = [];
    for (const query of queries) {
      out.set(query.instanceId, []);
      const prefixes = [...instanceReminderSelection(app, query.instanceId).jobs];
      for (const other of query.activityApps ?? []) {
        if (other.appId === app.appId && other.namespace === app.namespace) continue;
        prefixes.push(...instanceReminderSelection(other, query.instanceId).jobs.slice(1));
      }
      for (const prefix of new Set(prefixes)) ranges.push({ instanceId: query.instanceId, key: this.physical(prefix) });
    }
    const workflowType = workflowActorType(app);
    const rootLength = Buffer.byteLength(this.root, "utf8");
    let revision: string | undefined;
    for (let i = 0; i < ranges.length; i += MAX_TXN_OPS) {
      const chunk = ranges.slice(i, i + MAX_TXN_OPS);
      let response: Awaited<ReturnType<Etcd3["kv"]["txn"]>>;
      try {
        response = await this.client.kv.txn({
          success: chunk.map((r) => ({
            request_range: { key: r.key, range_end: prefixEnd(r.key), ...(revision ? { revision } : {}) },
          })),
        });
      } catch (error) {
        throw etcdError(error, this.hosts, "reading workflow reminders");
      }
      revision ??= response.header.revision;
      response.responses.forEach((r, j) => {
        const { instanceId } = chunk[j]!;
        for (const kv of r.response_range?.kvs ?? []) {
          const key = DAPR_ROOT + kv.key.subarray(rootLength).toString("utf8");
          const reminder = toReminder(key, kv.value, instanceId, workflowType);
          if (reminder) out.get(instanceId)!.push(reminder);
        }
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

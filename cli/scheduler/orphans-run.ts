/** What `housekeeper scheduler orphans` runs (cli/scheduler/orphans.ts defines the command and its guards). */
import type { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import type { OrphanReminder } from "../../shared/jobs/orphan-reminders.ts";
import {
  countOrphanReminders,
  deleteOrphanReminders,
  orphanDeleteRefusal,
  scanOrphanReminders,
} from "../../shared/jobs/orphan-reminders.ts";
import { compareUtf8 } from "../../shared/util/compare-utf8.ts";
import { count } from "../../shared/util/count.ts";
import { DEFAULT_RUN_SIZE, externalSort } from "../../shared/util/external-sort.ts";
import { etcdFlags, withSchedulerStore } from "../flags/etcd.ts";
import { shardFlag } from "../flags/shard-parse.ts";
import { connectionFlags, withWorkflowStore } from "../flags/state-store.ts";
import { Progress } from "../output/progress-line.ts";
import { JsonArrayWriter, OutputSink, YamlListWriter } from "../output/sink.ts";
import { TableLayout } from "../output/table.ts";
import type { FORMATS, OrphansIo } from "./orphans.ts";

const HEADERS = ["NAME", "REASON", "INSTANCE_STATUS", "COUNT"] as const;

function record(orphan: OrphanReminder) {
  return {
    name: orphan.name,
    instanceID: orphan.instanceId,
    reason: orphan.reason,
    ...(orphan.runtimeStatus ? { runtimeStatus: orphan.runtimeStatus } : {}),
    count: orphan.count,
  };
}

const cells = (o: OrphanReminder) => [o.name, o.reason, o.runtimeStatus ?? "", count(o.count)];

export async function orphansAction(io: OrphansIo, cmd: Command): Promise<void> {
  const opts = cmd.opts<{ output: (typeof FORMATS)[number]; delete?: boolean; force?: boolean }>();
  const flags = connectionFlags(cmd);
  if (flags.connectionString === undefined) {
    throw new HousekeeperError(
      "bad-input",
      "scheduler orphans needs the app's state store: give --connection-string (or HOUSEKEEPER_CONNECTION_STRING)",
    );
  }
  const shard = shardFlag(cmd);
  if (opts.force && !opts.delete) throw new HousekeeperError("bad-input", "--force only goes with --delete");
  if (opts.delete && cmd.getOptionValueSource("output") === "cli") {
    throw new HousekeeperError("bad-input", "--output is for the listing; --delete prints a line per deleted reminder");
  }
  const etcd = etcdFlags(cmd);
  const where = `app ${flags.appId} (namespace ${flags.namespace})`;
  await withWorkflowStore(flags, (store) =>
    withSchedulerStore(
      etcd,
      async (scheduler) => {
        const ports = { scheduler, store };
        const sink = new OutputSink(io.stdout);
        let scanned = 0;
        let found = 0;
        let deleted = 0;
        const byReason = new Map<string, number>();
        let progress: Progress | undefined;
        const startProgress = () => {
          progress = Progress.start(
            "scheduler orphans",
            () => ({ scanned, selected: found, ...(opts.delete ? { done: deleted } : {}) }),
            { noun: "jobs", selectedWord: "orphaned", doneWord: "deleted" },
          );
        };
        const warn = (line: string) => (progress ? progress.print(io.stderr, line) : io.stderr.write(line));
        async function* orphans(): AsyncGenerator<OrphanReminder[]> {
          for await (const page of scanOrphanReminders(ports, { shard })) {
            scanned += page.scanned;
            for (const bad of page.unreadable) warn(`warning: skipped ${bad.key}: ${bad.reason}\n`);
            for (const o of page.orphans) byReason.set(o.reason, (byReason.get(o.reason) ?? 0) + 1);
            found += page.orphans.length;
            yield page.orphans;
          }
        }
        const reasons = () => [...byReason].map(([reason, n]) => `${reason} ${count(n)}`).join(", ");
        // --delete first counts (a whole pass over the reminders) to decide whether deleting is safe: show it too.
        const countFirst = async () => {
          const counted = { scanned: 0, selected: 0 };
          const counting = Progress.start("scheduler orphans (counting)", () => counted, {
            noun: "jobs",
            selectedWord: "orphaned",
          });
          try {
            return await countOrphanReminders(ports, {
              shard,
              onPage: (c) => {
                counted.scanned = c.scanned;
                counted.selected = c.total;
              },
            });
          } finally {
            counting.stop();
          }
        };

        if (opts.delete) {
          const refusal = opts.force ? undefined : await orphanDeleteRefusal(store, await countFirst());
          if (refusal) {
            throw new HousekeeperError(
              "bad-input",
              `${refusal} (${where}), as when the wrong store is given: check --connection-string, --table-name ` +
                "and --namespace; if the app's state really is lost, add --force",
            );
          }
          let kept = 0;
          startProgress();
          try {
            for await (const page of orphans()) {
              const result = await deleteOrphanReminders(ports, page);
              // Printed at once: a deletion cannot be undone, so its record must not wait in a buffer.
              for (const o of result.deleted) progress?.print(io.stdout, `Deleted ${o.name} (${o.reason}).\n`);
              deleted += result.deleted.length;
              kept += result.kept.length;
            }
          } finally {
            progress?.stop();
            io.stderr.write(
              `Deleted ${count(deleted)} orphan reminder(s) of ${where}${found > 0 ? ` (found: ${reasons()})` : ""}; ` +
                `scanned ${count(scanned)}.${kept > 0 ? ` ${count(kept)} kept: changed since the scan, or already gone.` : ""}\n`,
            );
          }
          return;
        }

        // Listing: sorted by name (spilling to disk past a run), table widths measured on the way in.
        const layout = opts.output === "short" ? new TableLayout(HEADERS) : undefined;
        async function* flat(): AsyncGenerator<OrphanReminder> {
          startProgress();
          try {
            for await (const page of orphans()) {
              for (const o of page) {
                layout?.observe(cells(o));
                yield { ...o, value: new Uint8Array() }; // the value is for deleting; the sort need not carry it
              }
            }
          } finally {
            // The sort has every record before it gives the first: the line is gone before any output.
            progress?.stop();
          }
        }
        const json = opts.output === "json" ? new JsonArrayWriter(sink) : undefined;
        const yaml = opts.output === "yaml" ? new YamlListWriter(sink) : undefined;
        let listed = 0;
        for await (const o of externalSort(flat(), {
          compare: (a, b) => compareUtf8(a.name, b.name),
          runSize: DEFAULT_RUN_SIZE,
        })) {
          if (listed++ === 0 && layout) await sink.write(`${layout.header()}\n`);
          if (layout) await sink.write(`${layout.line(cells(o))}\n`);
          else if (json) await json.item(record(o));
          else await yaml?.item(record(o));
        }
        await json?.end();
        await yaml?.end();
        await sink.flush();
        io.stderr.write(
          found === 0
            ? `No orphan reminders in ${where}; scanned ${count(scanned)}.\n`
            : `${count(found)} orphan reminder(s) in ${where} (${reasons()}); scanned ${count(scanned)}. --delete deletes them.\n`,
        );
      },
      io.open,
    ),
  );
}

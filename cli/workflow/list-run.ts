/**
 * What `housekeeper workflow list` runs (cli/workflow/list.ts defines the command; this module is imported only when
 * it runs). How it keeps memory bounded: see list.ts.
 */
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { KEY_SEPARATOR, METADATA_KEY, parseWorkflowKey, workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import { DEFAULT_RUN_SIZE, externalSort } from "../../shared/util/external-sort.ts";
import type { InstanceFilter } from "../../shared/workflow/instance-filter.ts";
import { buildInstanceFilter } from "../../shared/workflow/instance-filter.ts";
import { inShard, type Shard } from "../../shared/workflow/shard.ts";
import type { OutputFormat } from "../flags/output.ts";
import { shardFlag } from "../flags/shard-parse.ts";
import type { ConnectionFlags } from "../flags/state-store.ts";
import { appRef, connectionFlags, withWorkflowStore } from "../flags/state-store.ts";
import { writeAppHint } from "../output/app-hint.ts";
import { Progress } from "../output/progress-line.ts";
import { JsonArrayWriter, OutputSink, YamlListWriter } from "../output/sink.ts";
import { statusLine } from "../output/status.ts";
import { TableLayout } from "../output/table.ts";
import type { ListOutputFormat } from "./list.ts";
import type { ListContext, ListedInstance } from "./list-rows.ts";
import {
  compareListed,
  SHORT_HEADERS,
  shortCells,
  toListedInstance,
  WIDE_HEADERS,
  WIDE_TIME_FIELDS,
  wideCells,
  wideRecord,
} from "./list-rows.ts";

/** Test hook: a smaller sort run forces the spill-and-merge path on small data. */
const RUN_SIZE_ENV = "HOUSEKEEPER_LIST_SORT_RUN_SIZE";

export async function listAction(cmd: Command): Promise<void> {
  const opts = cmd.opts<{
    output: ListOutputFormat;
    filterName?: string;
    filterStatus?: string;
    filterMaxAge?: string;
  }>();
  const now = new Date();
  const shard = shardFlag(cmd);
  if (opts.output === "ids") {
    // As the Dapr CLI: IDs come straight from the metadata keys, so no filter applies.
    if (opts.filterName !== undefined || opts.filterStatus !== undefined || opts.filterMaxAge !== undefined) {
      throw new HousekeeperError(
        "bad-input",
        "filters cannot be combined with --output=ids; rerun without filters or use a different output format",
      );
    }
    await runListIds({ flags: connectionFlags(cmd), shard });
    return;
  }
  // Validate every flag before touching the store.
  const filter = buildInstanceFilter(
    { name: opts.filterName, status: opts.filterStatus, maxAge: opts.filterMaxAge },
    now,
  );
  const flags = connectionFlags(cmd);
  await runList({ flags, filter, output: opts.output, now, shard });
}

/**
 * `-o ids`: every instance ID with a `metadata` key, in the store's key order, one per line, readable or not (dapr/cli
 * pkg/workflow/dclient/dclient.go InstanceIDs: the runtime's ListInstanceIDs, or the metadata keys of the store).
 */
export async function runListIds(run: {
  flags: ConnectionFlags;
  shard?: Shard | undefined;
  stdout?: Writable;
  stderr?: Writable;
}): Promise<number> {
  const stdout = run.stdout ?? process.stdout;
  const stderr = run.stderr ?? process.stderr;
  const app = appRef(run.flags);
  return withWorkflowStore(run.flags, async (store) => {
    let scanned = 0;
    let listed = 0;
    // IDs are printed as they are read (no sort), so the line is redrawn below each chunk of them.
    const progress = Progress.start("workflow list", () => ({ scanned, selected: listed }), {
      noun: "instances",
      selectedWord: "listed",
    });
    try {
      const sink = new OutputSink(stdout, (chunk) => progress.print(stdout, chunk));
      let cursor: string | undefined;
      do {
        const page = await store.backend.scanKeys({
          prefix: workflowKeyPrefix(app),
          suffix: `${KEY_SEPARATOR}${METADATA_KEY}`,
          pageSize: 1000,
          cursor,
        });
        for (const key of page.keys) {
          const parsed = parseWorkflowKey(app, key);
          if (parsed?.stateKey !== METADATA_KEY) continue;
          scanned++;
          if (!inShard(parsed.instanceId, run.shard)) continue;
          listed++;
          await sink.write(`${parsed.instanceId}\n`);
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
      await sink.flush();
    } finally {
      progress.stop();
    }
    if (listed === 0) {
      stderr.write(
        statusLine("failure", `No workflow found in namespace "${app.namespace}" for app ID "${app.appId}"`),
      );
      if (!run.shard) await writeAppHint(store.backend, app, stderr); // an empty shard says nothing about the app
    }
    return listed;
  });
}

export interface ListRun {
  flags: ConnectionFlags;
  filter: InstanceFilter;
  output: OutputFormat;
  now: Date;
  /** Only this shard of the app's instances. */
  shard?: Shard | undefined;
  stdout?: Writable;
  stderr?: Writable;
  /** Records per in-memory sort run (default 20,000, or HOUSEKEEPER_LIST_SORT_RUN_SIZE). */
  runSize?: number;
}

export interface ListResult {
  listed: number;
  skipped: number;
}

export async function runList(run: ListRun): Promise<ListResult> {
  const stdout = run.stdout ?? process.stdout;
  const stderr = run.stderr ?? process.stderr;
  const context: ListContext = { namespace: run.flags.namespace, appId: run.flags.appId };
  const nowMs = run.now.getTime();
  const runSize = run.runSize ?? (Number(process.env[RUN_SIZE_ENV]) || DEFAULT_RUN_SIZE);

  const table =
    run.output === "short"
      ? { layout: new TableLayout(SHORT_HEADERS), cells: (r: ListedInstance) => shortCells(r, nowMs) }
      : run.output === "wide"
        ? { layout: new TableLayout(WIDE_HEADERS), cells: (r: ListedInstance) => wideCells(r, context) }
        : undefined;

  return withWorkflowStore(run.flags, async (store) => {
    let skipped = 0;
    const counts = { scanned: 0, selected: 0 };
    // Shown while the store is read; the sort has every record before the first row is printed, so the line is
    // gone before any output.
    const progress = Progress.start("workflow list", () => counts, { noun: "instances", selectedWord: "listed" });
    async function* matching(): AsyncGenerator<ListedInstance> {
      try {
        for await (const page of store.listInstances({ shard: run.shard })) {
          counts.scanned += page.instances.length + page.unreadable.length;
          for (const bad of page.unreadable) {
            skipped++;
            progress.print(stderr, `warning: skipped instance ${bad.instanceId}: ${bad.reason} (key ${bad.key})\n`);
          }
          for (const summary of page.instances) {
            if (!run.filter.matches(summary)) continue;
            counts.selected++;
            const record = toListedInstance(summary);
            table?.layout.observe(table.cells(record));
            yield record;
          }
        }
      } finally {
        progress.stop();
      }
    }

    const sink = new OutputSink(stdout);
    const json = run.output === "json" ? new JsonArrayWriter(sink) : undefined;
    const yaml = run.output === "yaml" ? new YamlListWriter(sink, { times: WIDE_TIME_FIELDS }) : undefined;
    let listed = 0;
    for await (const record of externalSort(matching(), { compare: compareListed, runSize })) {
      if (listed === 0 && table) await sink.write(`${table.layout.header()}\n`);
      listed++;
      if (table) await sink.write(`${table.layout.line(table.cells(record))}\n`);
      else if (json) await json.item(wideRecord(record, context));
      else if (yaml) await yaml.item(wideRecord(record, context));
    }
    if (listed > 0) {
      await json?.end();
      await yaml?.end();
    }
    await sink.flush();

    if (listed === 0) {
      stderr.write(
        statusLine("failure", `No workflow found in namespace "${context.namespace}" for app ID "${context.appId}"`),
      );
      // Nothing of the app at all (not merely filtered out): perhaps a mistyped -a or -n.
      if (counts.scanned === 0 && !run.shard) await writeAppHint(store.backend, store.app, stderr);
    }
    if (skipped > 0) {
      stderr.write(
        `warning: ${skipped} instance${skipped === 1 ? "" : "s"} could not be read and ${skipped === 1 ? "was" : "were"} skipped\n`,
      );
    }
    return { listed, skipped };
  });
}

/**
 * `housekeeper scheduler …` end to end against the harness's real etcd (each test under its own root via the hidden
 * --etcd-root flag): the Dapr CLI's columns, records and messages, and one-line errors for bad input.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { renderTable } from "../../cli/output/table.ts";
import { schedulerCommand } from "../../cli/scheduler/index.ts";
import { SHORT_HEADERS } from "../../cli/scheduler/rows.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { encodeExportFile } from "../../shared/scheduler/gob-encode.ts";
import { Capture } from "../support/capture.ts";
import { dumpStore, SEED_ENTRIES, TestStores } from "./support.ts";

const NOW = new Date("2026-01-01T12:00:00Z");

let stores: TestStores;
let endpoint: string;
let dir: string;

beforeAll(async () => {
  endpoint = inject("etcdEndpoint");
  stores = new TestStores(endpoint);
  dir = await mkdtemp(join(tmpdir(), "housekeeper-sched-cli-"));
});

afterAll(async () => {
  await stores.cleanUp();
  await rm(dir, { recursive: true, force: true });
});

async function cli(store: EtcdSchedulerStore | undefined, ...args: string[]): Promise<{ out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command("housekeeper");
  program.addCommand(schedulerCommand({ stdout, stderr, now: () => NOW }));
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({
      writeOut: (t) => stdout.write(t),
      writeErr: (t) => stderr.write(t),
    });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  const connection = store ? ["--etcd-endpoints", endpoint, "--etcd-root", store.root] : [];
  await program.parseAsync(["node", "housekeeper", "scheduler", ...args, ...connection]);
  return { out: stdout.text, err: stderr.text };
}

describe("scheduler list / get", () => {
  let store: EtcdSchedulerStore;
  beforeAll(async () => {
    store = await stores.create(SEED_ENTRIES);
  });

  it("list: NAME, BEGIN, COUNT, LAST TRIGGER, ordered by begin then name", async () => {
    const { out, err } = await cli(store, "list");
    expect(err).toBe("");
    expect(out).toBe(
      renderTable(SHORT_HEADERS, [
        ["actor/Cart/c1/flush", "-12.0h", "7", "-1.0m"],
        ["actor/Cart/c2/flush", "-12.0h", "0", ""],
        ["app/billing/report", "-4.0h", "0", ""],
        ["activity/my-app2/inst-1::0::1", "-3.0h", "0", ""],
        ["workflow/my-app2/inst-1/new-event-c", "-3.0h", "0", ""],
        ["activity/my-app/inst-10::2::1", "-2.0h", "0", ""],
        ["workflow/my-app/inst-10/new-event-b", "-2.0h", "0", ""],
        ["workflow/my-app/inst-1/new-event-aaa", "-1.0h", "1", "-30.0m"],
        ["activity/my-app/inst-1::0::1", "-10.00s", "3", "-3.00s"],
        ["workflow/my-app/inst-1/timer-0", "+1.5h", "0", ""],
        ["app/my-app/nightly", "+15.0h", "0", ""],
      ]),
    );
    expect(out.split("\n")[0]).toBe(`NAME${" ".repeat(34)}BEGIN    COUNT  LAST TRIGGER`);
  });

  it("list --filter and -n", async () => {
    const names = (out: string) =>
      out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]);
    expect(names((await cli(store, "list", "--filter", "activity")).out)).toEqual([
      "activity/my-app2/inst-1::0::1",
      "activity/my-app/inst-10::2::1",
      "activity/my-app/inst-1::0::1",
    ]);
    expect(names((await cli(store, "list", "--filter", "workflow", "-n", "prod")).out)).toEqual([
      "workflow/my-app/inst-1/new-event-p",
    ]);
    expect(await cli(store, "list", "-n", "nope")).toEqual({
      out: "",
      err: '\u274c  No jobs found in namespace "nope"\n',
    });
  });

  it("list --filter: a job without a target passes every filter, wherever its key is (cli pkg/scheduler)", async () => {
    // Hand-encoded from the field numbers of dapr/cli pkg/scheduler/stored/job.pb.go and dapr's JobMetadata:
    // StoredJob{due_time(3): Timestamp{seconds(1)}, job(5): Job{metadata(5): Any{type_url(1), value(2):
    // JobMetadata{app_id(1), namespace(2)}}}} — no target (field 3 of JobMetadata).
    const len = (field: number, bytes: Uint8Array) =>
      Buffer.concat([Uint8Array.of((field << 3) | 2, bytes.length), bytes]);
    const text = (s: string) => Buffer.from(s);
    const metadata = Buffer.concat([len(1, text("billing")), len(2, text("default"))]);
    const any = Buffer.concat([
      len(1, text("type.googleapis.com/dapr.proto.scheduler.v1.JobMetadata")),
      len(2, metadata),
    ]);
    const seconds = Math.floor(NOW.getTime() / 1000) + 3600; // varint of 1767272400
    const varint: number[] = [];
    for (let n = seconds; ; n = Math.floor(n / 128)) {
      if (n < 128) {
        varint.push(n);
        break;
      }
      varint.push((n % 128) | 128);
    }
    const stored = Buffer.concat([len(3, Uint8Array.of(0x08, ...varint)), len(5, len(5, any))]);
    const targetless = await stores.create([
      { key: "dapr/jobs/app||default||billing||no-target", value: stored },
      ...SEED_ENTRIES,
    ]);
    for (const filter of ["all", "app", "actor", "workflow", "activity"]) {
      const listed = JSON.parse((await cli(targetless, "list", "--filter", filter, "-n", "default", "-o", "json")).out);
      expect(listed.map((j: { name: string }) => j.name)).toContain("no-target");
    }
  });

  it("list -o wide|json|yaml print the wide records (Go json / yaml.v2 shapes)", async () => {
    const wide = (await cli(store, "list", "-o", "wide", "--filter", "actor")).out.split("\n");
    expect(wide[0]).toMatch(
      /^NAMESPACE\s+NAME\s+BEGIN\s+EXPIRATION\s+SCHEDULE\s+DUE TIME\s+TTL\s+REPEATS\s+COUNT\s+LAST TRIGGER$/,
    );
    expect(wide[1]).toMatch(
      /^default\s+actor\/Cart\/c1\/flush\s+2026-01-01T00:00:00Z\s+2026-01-02T00:00:00Z\s+@every 1m\s+2026-01-01T00:00:00.000Z\s+24h\s+10\s+7\s+2026-01-01T11:59:00Z$/,
    );

    const json = JSON.parse((await cli(store, "list", "-o", "json", "--filter", "actor")).out);
    expect(json).toEqual([
      {
        namespace: "default",
        name: "actor/Cart/c1/flush",
        begin: "2026-01-01T00:00:00Z",
        expiration: "2026-01-02T00:00:00Z",
        schedule: "@every 1m",
        dueTime: "2026-01-01T00:00:00.000Z",
        ttl: "24h",
        repeats: 10,
        count: 7,
        lastTrigger: "2026-01-01T11:59:00Z",
      },
      {
        namespace: "default",
        name: "actor/Cart/c2/flush",
        begin: "2026-01-01T00:00:00Z",
        expiration: null,
        schedule: null,
        dueTime: "2026-01-01T00:00:00.000Z",
        ttl: null,
        repeats: null,
        count: 0,
      },
    ]);
    expect(Object.keys(json[0])).toEqual([
      "namespace",
      "name",
      "begin",
      "expiration",
      "schedule",
      "dueTime",
      "ttl",
      "repeats",
      "count",
      "lastTrigger",
    ]);

    const yaml = parse((await cli(store, "list", "-o", "yaml", "--filter", "actor")).out);
    expect(yaml[1]).toEqual({
      namespace: "default",
      name: "actor/Cart/c2/flush",
      begin: "2026-01-01T00:00:00Z",
      dueTime: "2026-01-01T00:00:00.000Z",
    });
  });

  it("get: names in, records out; unknown names fail with the CLI's message", async () => {
    const { out } = await cli(
      store,
      "get",
      "workflow/my-app/inst-1/new-event-aaa",
      "activity/my-app/inst-1::0::1",
      "-o",
      "json",
    );
    const records = JSON.parse(out);
    expect(out.endsWith("\n]")).toBe(true); // utils.PrintDetail: no newline after the JSON
    expect(records.map((r: { name: string }) => r.name)).toEqual([
      "workflow/my-app/inst-1/new-event-aaa",
      "activity/my-app/inst-1::0::1",
    ]);
    expect(records[1]).toMatchObject({ count: 3, lastTrigger: "2026-01-01T11:59:57Z", begin: "2026-01-01T11:59:50Z" });
    const short = (await cli(store, "get", "app/my-app/nightly")).out;
    expect(short).toBe(renderTable(SHORT_HEADERS, [["app/my-app/nightly", "+15.0h", "0", ""]]));
    await expect(cli(store, "get", "app/my-app/missing")).rejects.toThrow("job 'app/my-app/missing' not found");
    await expect(cli(store, "get", "workflow/x")).rejects.toThrow(/expecting workflow key to be in format/);
  });
});

describe("scheduler delete / delete-all", () => {
  it("delete prints one line per job; delete-all the keys and a count", async () => {
    const store = await stores.create(SEED_ENTRIES);
    expect((await cli(store, "delete", "actor/Cart/c2/flush", "app/billing/report")).out).toBe(
      // dapr/cli pkg/print InfoStatusEvent: "ℹ️  " before each line.
      "\u2139\ufe0f  Deleted actor/Cart/c2/flush in namespace 'default'.\n" +
        "\u2139\ufe0f  Deleted app/billing/report in namespace 'default'.\n",
    );
    await expect(cli(store, "delete", "actor/Cart/c2/flush")).rejects.toThrow(
      "no job with key 'actor/Cart/c2/flush' found in namespace 'default'",
    );
    const { out } = await cli(store, "delete-all", "workflow/my-app/inst-1");
    const wf = "dapr/jobs/actorreminder||default||dapr.internal.default.my-app";
    expect(out).toBe(
      [
        `\u2139\ufe0f  Deleted job '${wf}.workflow||inst-1||new-event-aaa'.`,
        `\u2139\ufe0f  Deleted job '${wf}.workflow||inst-1||timer-0'.`,
        `\u2139\ufe0f  Deleted job '${wf}.activity||inst-1::0::1||run-activity'.`,
        "\u2139\ufe0f  Deleted 3 jobs in namespace 'default'.",
        "",
      ].join("\n"),
    );
    expect((await cli(store, "delete-all", "workflow/my-app/inst-1")).out).toBe(
      "\u2139\ufe0f  Deleted 0 jobs in namespace 'default'.\n",
    );
    await expect(cli(store, "delete-all", "activity")).rejects.toThrow("unknown key prefix: activity");
  });
});

describe("scheduler export / import", () => {
  it("export then import into an empty root reproduces every key and value", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const file = join(dir, "backup.bin");
    const jobs = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/")).length;
    expect((await cli(source, "export", "-o", file)).out).toBe(
      `Exported ${jobs} jobs and ${SEED_ENTRIES.length - jobs} counters.\nExport to '${file}' complete.\n`,
    );
    await expect(cli(source, "export", "-o", file)).rejects.toThrow(`file '${file}' already exists`);

    const target = await stores.create();
    expect((await cli(target, "import", "-f", file)).out).toBe(
      `Imported ${SEED_ENTRIES.length} items.\nImport from '${file}' complete.\n`,
    );
    expect(await dumpStore(target)).toEqual(await dumpStore(source));
  });

  it("import refuses a truncated file and writes nothing", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const file = join(dir, "truncated.bin");
    await cli(source, "export", "-o", file);
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 100));
    const target = await stores.create();
    const error = await cli(target, "import", "-f", file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("corrupt-data");
    expect((error as Error).message).toMatch(
      /^corrupt export file at byte \d+: the file ends inside Counters entry \d+/,
    );
    expect((await dumpStore(target)).size).toBe(0);
    await expect(cli(target, "import", "-f", join(dir, "missing.bin"))).rejects.toThrow(/cannot read .*missing\.bin/);
    await expect(cli(target, "import", "-f", dir)).rejects.toThrow(/^cannot read .*: EISDIR/);
  });

  it("import streams an out-of-order file (not an export's), and still finds a duplicate key hidden in it", async () => {
    const value = SEED_ENTRIES.find((e) => e.key.startsWith("dapr/jobs/"))!.value;
    const keys = [
      "dapr/jobs/app||default||x||b-job",
      "dapr/jobs/app||default||x||a-job",
      "dapr/jobs/app||default||x||b-jox",
    ];
    const bytes = Buffer.from(
      encodeExportFile({ jobs: keys.map((k) => [k, value] as const), counters: [] }, { sortKeys: false }),
    );
    const file = join(dir, "unsorted.bin");
    await writeFile(file, bytes);
    const target = await stores.create();
    expect((await cli(target, "import", "-f", file)).out).toBe(`Imported 3 items.\nImport from '${file}' complete.\n`);
    expect([...(await dumpStore(target)).keys()].sort()).toEqual([...keys].sort());

    bytes.write("b-job", bytes.lastIndexOf(Buffer.from("b-jox")));
    await writeFile(file, bytes);
    const empty = await stores.create();
    await expect(cli(empty, "import", "-f", file)).rejects.toThrow(
      /duplicate Jobs key "dapr\/jobs\/app\|\|default\|\|x\|\|b-job"/,
    );
    expect((await dumpStore(empty)).size).toBe(0);
  });
});

describe("bad input", () => {
  it("is refused with one clear error before anything is read", async () => {
    await expect(cli(undefined, "list", "--etcd-endpoints", "nope")).rejects.toThrow(
      'invalid etcd endpoint "nope": expected host:port',
    );
    await expect(cli(undefined, "list", "--etcd-endpoints", "http://a:1,https://b:2")).rejects.toThrow(
      "mix http:// and https://",
    );
    await expect(cli(undefined, "list", "--etcd-cert", "/x.pem")).rejects.toThrow(
      "--etcd-cert and --etcd-key must be given together",
    );
    await expect(cli(undefined, "list", "--filter", "jobs")).rejects.toBeInstanceOf(CommanderError);
    await expect(cli(undefined, "export")).rejects.toBeInstanceOf(CommanderError);
    await expect(cli(undefined, "list", "-n", " ")).rejects.toThrow("--namespace must not be empty");
  });

  it("an unreachable etcd is `unavailable`, naming the endpoint", async () => {
    const error = await cli(undefined, "list", "--etcd-endpoints", "127.0.0.1:1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("unavailable");
    expect((error as Error).message).toMatch(/^cannot reach etcd at 127\.0\.0\.1:1 while reading the current revision/);
  });
});

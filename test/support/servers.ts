// Real throwaway database servers for the test suite, started from Debian packages.
//
// Every server listens on 127.0.0.1 only, on a port the OS picked as free, with all of its files in a fresh
// mkdtemp directory. stop() kills the process and removes that directory; a process 'exit' handler does the same
// as a safety net, so no server outlives the test run.
//
// Debian packages: postgresql, mariadb-server, redis-server, etcd-server (see .ci/run). The S3-compatible server is
// s3rver (an npm dev dependency), run with the current Node as a child process like the others.

import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";

const START_DEADLINE_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface StartedServer {
  /** Kills the server process and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The one server process a helper started, for fault tests (kill -9 mid-run, then start it again on the same port
 * and data). Signals go to that PID only, never to a process found by name.
 */
export interface ProcessControl {
  /** The PID of the server process running now (undefined before it was spawned). */
  pid(): number | undefined;
  /** Sends `signal` to that PID and, for a fatal one, waits until the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port, arguments and data dir (after kill), and waits until it answers. */
  restart(): Promise<void>;
}

export interface PostgresServer extends StartedServer {
  /** Kill -9 and restart, for fault tests. */
  control: ProcessControl;
  /** e.g. postgres://postgres@127.0.0.1:PORT/postgres (trust auth, no password). */
  url: string;
  host: string;
  port: number;
  version: string;
}

/** Plain, serialisable MySQL/MariaDB connection info (it is passed through vitest's provide/inject). */
export interface MysqlConnectionInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Database name, or "" for none. */
  database: string;
  /** Go-style DSN as Dapr's MySQL state store expects it: user:pass@tcp(127.0.0.1:PORT)/db */
  dsn: string;
  /** mysql://user:pass@127.0.0.1:PORT/db */
  url: string;
}

export interface MysqlServer extends MysqlConnectionInfo, StartedServer {
  /** Kill -9 and restart, for fault tests. */
  control: ProcessControl;
  version: string;
}

export interface RedisServer extends StartedServer {
  /** Kill -9 and restart, for fault tests. */
  control: ProcessControl;
  /** redis://127.0.0.1:PORT */
  url: string;
  host: string;
  port: number;
}

export interface EtcdServer extends StartedServer {
  /** Kill -9 and restart, for fault tests. */
  control: ProcessControl;
  /** 127.0.0.1:PORT (the form Dapr's etcd component takes in `endpoints`). */
  endpoint: string;
  /** http://127.0.0.1:PORT */
  url: string;
  host: string;
  port: number;
}

/** Plain, serialisable coordinates of an S3-compatible server (passed through vitest's provide/inject). */
export interface S3ConnectionInfo {
  /** http://127.0.0.1:PORT (path-style addressing: use forcePathStyle). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Server extends S3ConnectionInfo, StartedServer {
  host: string;
  port: number;
}

const HOST = "127.0.0.1";

// ---------------------------------------------------------------------------------------------------------------
// Generic helpers

/** Thrown when a server binary is not installed; the message is one line naming the Debian package. */
export class MissingBinaryError extends Error {
  constructor(what: string, debianPackage: string) {
    super(`${what} not found: install the Debian package ${debianPackage} (apt-get install ${debianPackage})`);
    this.name = "MissingBinaryError";
  }
}

const handedOutPorts = new Set<number>();

/** Asks the OS for a free TCP port on 127.0.0.1 (listen on port 0, read it, close). Never returns a port twice. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.on("error", reject);
      server.listen(0, HOST, () => {
        const address = server.address();
        const p = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
  throw new Error("could not obtain a free TCP port from the OS");
}

/** Finds an executable on PATH (plus the sbin dirs, which a non-root PATH often lacks). */
function findExecutable(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"].filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

function tailOfFile(path: string, lines = 40): string {
  try {
    const text = readFileSync(path, "utf8").trimEnd();
    const all = text.split("\n");
    return all.slice(-lines).join("\n");
  } catch (error) {
    return `(could not read ${path}: ${(error as Error).message})`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ManagedProcess {
  child: ChildProcess;
  /** Set once the process has exited. */
  exited: Promise<void>;
  hasExited(): boolean;
  exitDescription(): string;
}

function launch(
  command: string,
  args: string[],
  logFile: string,
  options: { uid?: number; gid?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ManagedProcess {
  const logFd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ["ignore", logFd, logFd],
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
    });
  } finally {
    closeSync(logFd);
  }
  let done = false;
  let description = "";
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      description = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
    child.once("error", (error) => {
      done = true;
      description = `failed to spawn: ${error.message}`;
      resolve();
    });
  });
  return { child, exited, hasExited: () => done, exitDescription: () => description };
}

/** Live servers, so the process 'exit' safety net can kill them and remove their dirs. */
const live = new Set<{ kill(): void }>();
let exitHandlerInstalled = false;

function registerForExit(entry: { kill(): void }): void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on("exit", () => {
      for (const e of live) {
        try {
          e.kill();
        } catch {
          // best effort
        }
      }
    });
  }
  live.add(entry);
}

interface Stopper {
  /** Hands the running server process to the stopper (before waiting for readiness). */
  attach(proc: ManagedProcess): void;
  stop(): Promise<void>;
}

/**
 * Owns a temp dir and (once attached) a server process, with an idempotent stop(): `shutdownSignal` is sent first and
 * SIGKILL follows if the process has not exited within STOP_GRACE_MS; then the dir is removed. Registered with the
 * process 'exit' safety net until stopped.
 */
function makeStopper(dir: string, shutdownSignal: NodeJS.Signals): Stopper {
  let proc: ManagedProcess | undefined;
  const entry = {
    kill() {
      if (proc && !proc.hasExited()) proc.child.kill(shutdownSignal === "SIGQUIT" ? "SIGQUIT" : "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  registerForExit(entry);
  let stopping: Promise<void> | undefined;
  return {
    attach(p) {
      proc = p;
    },
    stop() {
      stopping ??= (async () => {
        if (proc && !proc.hasExited()) {
          proc.child.kill(shutdownSignal);
          let timer: NodeJS.Timeout | undefined;
          const grace = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, STOP_GRACE_MS);
          });
          await Promise.race([proc.exited, grace]);
          clearTimeout(timer);
          if (!proc.hasExited()) {
            proc.child.kill("SIGKILL");
            await proc.exited;
          }
        }
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      })();
      return stopping;
    },
  };
}

/**
 * Spawns the server with `spawnServer`, hands it to the stopper and waits until `probe` answers; returns the control
 * that can kill it and start it again the same way. A restart right after a kill -9 may find the old process's
 * leftovers still in use (PostgreSQL's backends outlive their postmaster for a moment and keep its shared memory):
 * a start that exits early is tried again until START_DEADLINE_MS.
 */
async function launchControlled(
  name: string,
  stopper: Stopper,
  logFile: string,
  spawnServer: () => ManagedProcess,
  probe: () => Promise<void>,
): Promise<ProcessControl> {
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = spawnServer();
    stopper.attach(proc);
    await waitUntilReady(name, proc, logFile, probe);
  };
  await start();
  const kill = async (signal: NodeJS.Signals) => {
    const current = proc;
    if (!current || current.hasExited()) return;
    current.child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGQUIT") await current.exited;
  };
  return {
    pid: () => proc?.child.pid,
    kill,
    async restart() {
      await kill("SIGKILL");
      const deadline = Date.now() + START_DEADLINE_MS;
      for (;;) {
        try {
          await start();
          return;
        } catch (error) {
          if (Date.now() > deadline || !proc?.hasExited()) throw error;
          await sleep(500);
        }
      }
    },
  };
}

/**
 * Polls `probe` until it succeeds, the process dies, or the deadline passes. On failure throws an error carrying the
 * last lines of the server log.
 */
async function waitUntilReady(
  name: string,
  proc: ManagedProcess,
  logFile: string,
  probe: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (proc.hasExited()) {
      throw new Error(
        `${name} ${proc.exitDescription()} before accepting connections. Last lines of ${logFile}:\n${tailOfFile(logFile)}`,
      );
    }
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
    }
    await sleep(150);
  }
  throw new Error(
    `${name} did not accept connections within ${START_DEADLINE_MS / 1000}s (last error: ${
      (lastError as Error | undefined)?.message ?? "none"
    }). Last lines of ${logFile}:\n${tailOfFile(logFile)}`,
  );
}

/** Runs a setup command (initdb, mariadb-install-db) to completion without blocking the event loop. */
async function runToCompletion(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  options: { uid?: number; gid?: number; cwd?: string } = {},
): Promise<void> {
  const proc = launch(command, args, logFile, options);
  await proc.exited;
  if (proc.child.exitCode !== 0) {
    throw new Error(
      `${name} (${command}) ${proc.exitDescription()}. Last lines of ${logFile}:\n${tailOfFile(logFile)}`,
    );
  }
}

/** Runs `start`; if it throws, cleans up via `cleanup` and rethrows. */
async function startOrCleanUp<T>(start: () => Promise<T>, cleanup: () => Promise<void>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

function findPostgresBinDir(): { binDir: string; version: string } {
  const root = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter(
      (v) => existsSync(join(root, v, "bin", "postgres")) && existsSync(join(root, v, "bin", "initdb")),
    );
  } catch {
    // no postgresql installed
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  const version = versions[0];
  if (!version) throw new MissingBinaryError("PostgreSQL (/usr/lib/postgresql/<version>/bin/postgres)", "postgresql");
  return { binDir: join(root, version, "bin"), version };
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields[0] === name && fields[2] && fields[3]) return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  } catch {
    // no /etc/passwd
  }
  return undefined;
}

/** True when every ancestor of `dir` is traversable by "other" (so the postgres user can reach a child of it). */
function traversableByOthers(dir: string): boolean {
  let current = dir;
  for (;;) {
    try {
      if ((statSync(current).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const parent = dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Starts a PostgreSQL server (highest installed version) as the `postgres` OS user when running as root. Commits are
 * acknowledged before their WAL is written (fast; a kill -9 may lose the last of them) unless `durable`.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<PostgresServer> {
  const { binDir, version } = findPostgresBinDir();
  let owner: { uid: number; gid: number } | undefined;
  if (isRoot()) {
    owner = lookupUser("postgres");
    if (!owner)
      throw new Error(
        "PostgreSQL refuses to run as root and there is no `postgres` OS user (it comes with the Debian package postgresql-common)",
      );
  }
  const base = !owner || traversableByOthers(tmpdir()) ? tmpdir() : "/tmp";
  const dir = await mkdtemp(join(base, "housekeeper-pg-"));
  const stopper = makeStopper(dir, "SIGQUIT");
  return startOrCleanUp(
    async () => {
      const dataDir = join(dir, "data");
      const logFile = join(dir, "postgres.log");
      await writeFile(logFile, "");
      if (owner) {
        chownSync(dir, owner.uid, owner.gid);
        chownSync(logFile, owner.uid, owner.gid);
      }
      chmodSync(dir, 0o700);
      await runToCompletion(
        "initdb",
        join(binDir, "initdb"),
        [
          "-D",
          dataDir,
          "-U",
          "postgres",
          "--auth=trust",
          "--encoding=UTF8",
          "--locale=C",
          "--no-sync",
          "--no-instructions",
        ],
        logFile,
        { uid: owner?.uid, gid: owner?.gid, cwd: dir },
      );
      const port = await freePort();
      const spawnServer = () =>
        launch(
          join(binDir, "postgres"),
          [
            "-D",
            dataDir,
            "-p",
            String(port),
            "-c",
            `listen_addresses=${HOST}`,
            "-c",
            `unix_socket_directories=${dir}`,
            "-c",
            "fsync=off",
            "-c",
            // Durable: a commit's WAL is written before it is acknowledged, so it survives a kill -9 (fault tests).
            `synchronous_commit=${options.durable ? "on" : "off"}`,
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=64MB",
            "-c",
            "logging_collector=off",
          ],
          logFile,
          { uid: owner?.uid, gid: owner?.gid, cwd: dir },
        );
      const url = `postgres://postgres@${HOST}:${port}/postgres`;
      const control = await launchControlled(`PostgreSQL ${version}`, stopper, logFile, spawnServer, async () => {
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
        try {
          await client.connect();
          await client.query("SELECT 1");
        } finally {
          await client.end().catch(() => {});
        }
      });
      return { url, host: HOST, port, version, control, stop: () => stopper.stop() };
    },
    () => stopper.stop(),
  );
}

function checkIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`invalid database name ${JSON.stringify(name)}: use letters, digits and _ (max 63 chars)`);
  }
  return name.toLowerCase();
}

/** A database name with a random suffix, e.g. uniqueDatabaseName("wf_store") -> "wf_store_k3j9x2". */
export function uniqueDatabaseName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 50);
  return `${/^[a-z_]/.test(clean) ? clean : `db_${clean}`}_${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Creates (dropping first if it exists) database `name` on the server at `serverUrl` and returns a URL for it.
 * Use one database per test file so files running in parallel don't collide.
 */
export async function createPostgresDatabase(serverUrl: string, name: string): Promise<string> {
  const db = checkIdentifier(name);
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${db}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${db}`;
  return url.toString();
}

// ---------------------------------------------------------------------------------------------------------------
// MariaDB

const MYSQL_USER = "dapr";
const MYSQL_PASSWORD = "dapr-test-password";

/** Builds the full MysqlConnectionInfo (dsn + url) from its parts. */
export function mysqlConnectionInfo(parts: {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}): MysqlConnectionInfo {
  const database = parts.database ?? "";
  const { host, port, user, password } = parts;
  return {
    host,
    port,
    user,
    password,
    database,
    dsn: `${user}:${password}@tcp(${host}:${port})/${database}`,
    url: `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
  };
}

/** Parses mysql://user:pass@host:port/db into MysqlConnectionInfo. */
export function parseMysqlUrl(url: string): MysqlConnectionInfo {
  const u = new URL(url);
  return mysqlConnectionInfo({
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")),
  });
}

/**
 * Starts MariaDB (mariadbd) with user `dapr` (ALL PRIVILEGES, password auth) reachable over TCP on 127.0.0.1. Fast and
 * not crash-safe (a kill -9 loses the last second of commits) unless `durable`.
 */
export async function startMariadb(options: { durable?: boolean } = {}): Promise<MysqlServer> {
  const server = findExecutable(["mariadbd", "mysqld"]);
  const installDb = findExecutable(["mariadb-install-db", "mysql_install_db"]);
  if (!server || !installDb) throw new MissingBinaryError("MariaDB (mariadbd / mariadb-install-db)", "mariadb-server");
  const dir = await mkdtemp(join(tmpdir(), "housekeeper-mariadb-"));
  const stopper = makeStopper(dir, "SIGTERM");
  return startOrCleanUp(
    async () => {
      const dataDir = join(dir, "data");
      const tmp = join(dir, "tmp");
      const logFile = join(dir, "mariadb.log");
      const initFile = join(dir, "init.sql");
      await mkdir(tmp);
      await writeFile(logFile, "");
      await writeFile(
        initFile,
        [
          // Anonymous users would shadow 'dapr'@'%' for some hosts; nothing here needs them.
          "DELETE FROM mysql.global_priv WHERE User = '';",
          "FLUSH PRIVILEGES;",
          `CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}';`,
          `GRANT ALL PRIVILEGES ON *.* TO '${MYSQL_USER}'@'%' WITH GRANT OPTION;`,
          "",
        ].join("\n"),
      );
      const userArgs = isRoot() ? ["--user=root"] : [];
      await runToCompletion(
        "mariadb-install-db",
        installDb,
        [
          "--no-defaults",
          `--datadir=${dataDir}`,
          ...userArgs,
          "--auth-root-authentication-method=socket",
          "--skip-test-db",
          "--skip-name-resolve",
          `--tmpdir=${tmp}`,
        ],
        logFile,
        { cwd: dir },
      );
      const port = await freePort();
      const socket = join(dir, "mysqld.sock");
      const spawnServer = () =>
        launch(
          server,
          [
            "--no-defaults",
            `--datadir=${dataDir}`,
            `--tmpdir=${tmp}`,
            `--socket=${socket}`,
            `--pid-file=${join(dir, "mysqld.pid")}`,
            `--log-error=${logFile}`,
            `--bind-address=${HOST}`,
            `--port=${port}`,
            ...userArgs,
            `--init-file=${initFile}`,
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=32M",
            // Durable: a commit is on disk before it is acknowledged, so it survives a kill -9 (fault tests).
            `--innodb-flush-log-at-trx-commit=${options.durable ? 1 : 0}`,
            "--innodb-doublewrite=0",
            "--innodb-use-native-aio=0",
            "--max-connections=200",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
          ],
          logFile,
          { cwd: dir },
        );
      const info = mysqlConnectionInfo({ host: HOST, port, user: MYSQL_USER, password: MYSQL_PASSWORD });
      let version = "";
      const control = await launchControlled("MariaDB", stopper, logFile, spawnServer, async () => {
        const conn = await mysql.createConnection({
          host: HOST,
          port,
          user: MYSQL_USER,
          password: MYSQL_PASSWORD,
          connectTimeout: 2_000,
        });
        try {
          const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v");
          version = String(rows[0]?.v ?? "");
        } finally {
          await conn.end().catch(() => {});
        }
      });
      return { ...info, version, control, stop: () => stopper.stop() };
    },
    () => stopper.stop(),
  );
}

/**
 * Creates (dropping first if it exists) database `name` on the MySQL/MariaDB server described by `info` and returns
 * connection info (dsn/url) pointing at it.
 */
export async function createMysqlDatabase(info: MysqlConnectionInfo, name: string): Promise<MysqlConnectionInfo> {
  const db = checkIdentifier(name);
  const conn = await mysql.createConnection({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
  });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await conn.query(`CREATE DATABASE \`${db}\``);
  } finally {
    await conn.end();
  }
  return mysqlConnectionInfo({ ...info, database: db });
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

/**
 * Starts redis-server, with no persistence unless `durable` (an append-only file synced on every write, so that the
 * data outlives a kill -9 and a restart).
 */
export async function startRedis(options: { durable?: boolean } = {}): Promise<RedisServer> {
  const persistence = options.durable ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const binary = findExecutable(["redis-server"]);
  if (!binary) throw new MissingBinaryError("redis-server", "redis-server");
  const dir = await mkdtemp(join(tmpdir(), "housekeeper-redis-"));
  const stopper = makeStopper(dir, "SIGTERM");
  return startOrCleanUp(
    async () => {
      const logFile = join(dir, "redis.log");
      const port = await freePort();
      const spawnServer = () =>
        launch(
          binary,
          ["--port", String(port), "--bind", HOST, "--save", "", ...persistence, "--dir", dir, "--daemonize", "no"],
          logFile,
          { cwd: dir },
        );
      const url = `redis://${HOST}:${port}`;
      const control = await launchControlled("redis-server", stopper, logFile, spawnServer, async () => {
        const client = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          connectTimeout: 2_000,
        });
        client.on("error", () => {});
        try {
          await client.connect();
          const pong = await client.ping();
          if (pong !== "PONG") throw new Error(`unexpected PING reply ${pong}`);
        } finally {
          client.disconnect();
        }
      });
      return { url, host: HOST, port, control, stop: () => stopper.stop() };
    },
    () => stopper.stop(),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// etcd

/** Starts a single-member etcd cluster. */
export async function startEtcd(): Promise<EtcdServer> {
  const binary = findExecutable(["etcd"]);
  if (!binary) throw new MissingBinaryError("etcd", "etcd-server");
  const dir = await mkdtemp(join(tmpdir(), "housekeeper-etcd-"));
  const stopper = makeStopper(dir, "SIGTERM");
  return startOrCleanUp(
    async () => {
      const logFile = join(dir, "etcd.log");
      const port = await freePort();
      const peerPort = await freePort();
      const clientUrl = `http://${HOST}:${port}`;
      const peerUrl = `http://${HOST}:${peerPort}`;
      const spawnServer = () =>
        launch(
          binary,
          [
            "--name",
            "default",
            "--data-dir",
            join(dir, "data"),
            "--listen-client-urls",
            clientUrl,
            "--advertise-client-urls",
            clientUrl,
            "--listen-peer-urls",
            peerUrl,
            "--initial-advertise-peer-urls",
            peerUrl,
            "--initial-cluster",
            `default=${peerUrl}`,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            `housekeeper-test-${port}`,
          ],
          logFile,
          // etcd reads ETCD_* env vars as flags; don't let the caller's environment leak in.
          { cwd: dir, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ETCD_"))) },
        );
      const control = await launchControlled("etcd", stopper, logFile, spawnServer, async () => {
        const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = (await response.json()) as { health?: unknown };
        if (body.health !== "true" && body.health !== true) throw new Error(`etcd /health: ${JSON.stringify(body)}`);
      });
      return { endpoint: `${HOST}:${port}`, url: clientUrl, host: HOST, port, control, stop: () => stopper.stop() };
    },
    () => stopper.stop(),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// S3 (s3rver)

/** s3rver's built-in account: it accepts requests signed with exactly these credentials. */
const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** Starts s3rver (path-style buckets only, no buckets yet: tests create their own). */
export async function startS3(): Promise<S3Server> {
  let binary: string;
  try {
    binary = createRequire(import.meta.url).resolve("s3rver/bin/s3rver.js");
  } catch {
    throw new Error("s3rver not found: run npm install (it is a dev dependency)");
  }
  const dir = await mkdtemp(join(tmpdir(), "housekeeper-s3-"));
  const stopper = makeStopper(dir, "SIGTERM");
  return startOrCleanUp(
    async () => {
      const logFile = join(dir, "s3rver.log");
      const dataDir = join(dir, "data");
      await mkdir(dataDir);
      const port = await freePort();
      const proc = launch(
        process.execPath,
        // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) only offers
        // through its legacy provider; without it every truncated listing is a 500.
        [
          "--openssl-legacy-provider",
          binary,
          "--directory",
          dataDir,
          "--address",
          HOST,
          "--port",
          String(port),
          "--silent",
          "--no-vhost-buckets",
        ],
        logFile,
        { cwd: dir },
      );
      stopper.attach(proc);
      const endpoint = `http://${HOST}:${port}`;
      await waitUntilReady("s3rver", proc, logFile, async () => {
        // Any HTTP answer (an unauthenticated ListBuckets gets an XML error) means it is listening.
        await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.arrayBuffer());
      });
      return {
        endpoint,
        region: "us-east-1",
        ...S3RVER_CREDENTIALS,
        host: HOST,
        port,
        stop: () => stopper.stop(),
      };
    },
    () => stopper.stop(),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// DynamoDB (dynalite)

export interface DynamoDbConnectionInfo {
  /** http://127.0.0.1:PORT; tests create their own tables. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface DynamoDbServer extends DynamoDbConnectionInfo, StartedServer {
  host: string;
  port: number;
}

/**
 * Starts dynalite (an npm dev dependency: DynamoDB's JSON API over LevelDB, here on disk in a temp dir), run with the
 * current Node as a child process like the others. Tables become ACTIVE at once. Any credentials are accepted.
 */
export async function startDynamoDb(): Promise<DynamoDbServer> {
  let binary: string;
  try {
    binary = createRequire(import.meta.url).resolve("dynalite/cli.js");
  } catch {
    throw new Error("dynalite not found: run npm install (it is a dev dependency)");
  }
  const dir = await mkdtemp(join(tmpdir(), "housekeeper-dynamodb-"));
  const stopper = makeStopper(dir, "SIGTERM");
  return startOrCleanUp(
    async () => {
      const logFile = join(dir, "dynalite.log");
      const dataDir = join(dir, "data");
      await mkdir(dataDir);
      const port = await freePort();
      const proc = launch(
        process.execPath,
        [
          binary,
          "--host",
          HOST,
          "--port",
          String(port),
          "--path",
          dataDir,
          "--createTableMs",
          "0",
          "--deleteTableMs",
          "0",
        ],
        logFile,
        { cwd: dir },
      );
      stopper.attach(proc);
      const endpoint = `http://${HOST}:${port}`;
      await waitUntilReady("dynalite", proc, logFile, async () => {
        // Any HTTP answer (an unsigned request gets a JSON error) means it is listening.
        await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.arrayBuffer());
      });
      return {
        endpoint,
        region: "us-east-1",
        accessKeyId: "dynalite",
        secretAccessKey: "dynalite",
        host: HOST,
        port,
        stop: () => stopper.stop(),
      };
    },
    () => stopper.stop(),
  );
}

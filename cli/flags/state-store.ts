/**
 * The connection flags every store-reading command shares (`-a -n -c -t`, as `dapr workflow` spells them) and the one
 * place that opens the state store and always closes it again.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import type { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";

export const CONNECTION_STRING_ENV = "HOUSEKEEPER_CONNECTION_STRING";
/** `-c embedded`: the sample store, named on purpose (destructive commands accept it only so). */
export const EMBEDDED_STORE = "embedded";

export interface ConnectionFlags {
  appId: string;
  namespace: string;
  connectionString?: string | undefined;
  tableName?: string | undefined;
  databaseName?: string | undefined;
}

export interface ConnectionOptionsConfig {
  /** `--app-id` must be given (default true). */
  requireAppId?: boolean;
  /** The command refuses to run without -c: its help must not offer the sample store as the default. */
  requireConnectionString?: boolean;
}

/**
 * Adds `-a/--app-id`, `-n/--namespace`, `-c/--connection-string` (env default), `-t/--table-name` and
 * `--database-name`.
 */
export function addConnectionOptions<C extends Command>(command: C, config: ConnectionOptionsConfig = {}): C {
  command.addOption(
    new Option("-a, --app-id <id>", "the app ID owning the workflow instances").makeOptionMandatory(
      config.requireAppId ?? true,
    ),
  );
  command.addOption(new Option("-n, --namespace <ns>", "the app's namespace").default("default"));
  command.addOption(
    new Option(
      "-c, --connection-string <str>",
      "connection string of the actor state store (PostgreSQL, MySQL, SQL Server, MongoDB, Redis, SQLite file); " +
        (config.requireConnectionString
          ? `required here, no default (the embedded sample store only when named: -c ${EMBEDDED_STORE})`
          : `default: the embedded sample store under ./.housekeeper/ ("${EMBEDDED_STORE}" names it; purges need it named)`),
    ).env(CONNECTION_STRING_ENV),
  );
  command.addOption(
    new Option("-t, --table-name <name>", "the state store's table (or collection) name, if not Dapr's default"),
  );
  command.addOption(
    new Option("--database-name <name>", "MongoDB: the component's databaseName, if not Dapr's default daprStore"),
  );
  return command;
}

/** Reads the connection flags from a command's parsed options, validating what commander cannot. */
export function connectionFlags(command: Command): ConnectionFlags {
  const opts = command.opts<{
    appId?: string;
    namespace: string;
    connectionString?: string;
    tableName?: string;
    databaseName?: string;
  }>();
  const appId = opts.appId ?? "";
  if (appId.trim() === "") throw new HousekeeperError("bad-input", "--app-id must not be empty");
  if (opts.namespace.trim() === "") throw new HousekeeperError("bad-input", "--namespace must not be empty");
  let connectionString = opts.connectionString;
  if (connectionString !== undefined && connectionString.trim() === "") {
    // An empty HOUSEKEEPER_CONNECTION_STRING means "unset"; an explicit empty -c is a mistake worth reporting.
    if (command.getOptionValueSource("connectionString") === "env") connectionString = undefined;
    else throw new HousekeeperError("bad-connection-string", "--connection-string must not be empty");
  }
  if (opts.tableName !== undefined && opts.tableName.trim() === "") {
    throw new HousekeeperError("bad-input", "--table-name must not be empty");
  }
  if (opts.databaseName !== undefined && opts.databaseName.trim() === "") {
    throw new HousekeeperError("bad-input", "--database-name must not be empty");
  }
  return {
    appId,
    namespace: opts.namespace,
    connectionString,
    tableName: opts.tableName,
    databaseName: opts.databaseName,
  };
}

export function appRef(flags: ConnectionFlags): AppRef {
  return { appId: flags.appId, namespace: flags.namespace };
}

/**
 * Refuses a destructive command on the sample store unless it was named (`-c embedded`): a forgotten `-c` must never
 * purge anything, nor send the sample's instance IDs to whatever sidecar answers.
 */
export function requireNamedStore(flags: ConnectionFlags, what: string): void {
  if (flags.connectionString === undefined) {
    throw new HousekeeperError(
      "bad-input",
      `${what} needs the state store named: give -c <connection string> (or ${CONNECTION_STRING_ENV}); -c ${EMBEDDED_STORE} for the sample store`,
    );
  }
}

/** Opens the store the flags name: the connection string's store, else the embedded default. */
export async function openBackend(flags: ConnectionFlags): Promise<StateBackend> {
  if (flags.connectionString !== undefined && flags.connectionString !== EMBEDDED_STORE) {
    // Imported lazily: each door pulls in only the drivers it uses, and `--help` stays fast.
    const { openStateBackend } = await import("../../shared/state-store/open.ts");
    return openStateBackend(flags.connectionString, { tableName: flags.tableName, databaseName: flags.databaseName });
  }
  const { openEmbeddedBackend } = await import("../../shared/state-store/embedded.ts");
  // Said on every run, on stderr (stdout stays clean): results from the sample are never mistaken for a real store's.
  process.stderr.write(
    `using the embedded sample store in ./.housekeeper/ (app orderprocessing); -c or ${CONNECTION_STRING_ENV} names a real store\n`,
  );
  // The first run creates the embedded database (a few seconds): say so too.
  return openEmbeddedBackend({ onCreate: (message) => process.stderr.write(`${message}\n`) });
}

/** Runs `fn` with a WorkflowStateStore for the flags' app; the backend is closed afterwards, whatever happens. */
export async function withWorkflowStore<T>(
  flags: ConnectionFlags,
  fn: (store: WorkflowStateStore) => Promise<T>,
): Promise<T> {
  // Imported here, not at the top: the command tree (and `--help`) must not load the store code.
  const { WorkflowStateStore } = await import("../../shared/state-store/workflow-store.ts");
  const backend = await openBackend(flags);
  if (backend.advice) process.stderr.write(`note: ${backend.advice}\n`);
  try {
    return await fn(new WorkflowStateStore(backend, appRef(flags)));
  } finally {
    await backend.close().catch(() => {
      // Closing is best effort: the command's own result or error is what the user needs to see.
    });
  }
}

/**
 * One door to every state store: parse the connection string, then load ONLY the adapter (and so the driver) it
 * needs. The adapters are imported dynamically so a Lambda bundle or CLI run against PostgreSQL never loads mssql,
 * mongodb, mysql2, ioredis or node-sqlite3-wasm.
 */
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { StateBackend } from "./backend.ts";
import { type ConnectionTarget, describeTarget, parseConnectionString } from "./connection-string.ts";

export interface OpenStateBackendOptions {
  /** The component's `tableName` (MongoDB: `collectionName`); `schema.table` for SQL stores. */
  tableName?: string | undefined;
  /** MongoDB: the component's `databaseName` (default `daprStore`). */
  databaseName?: string | undefined;
}

export async function openStateBackend(
  connectionString: string,
  options: OpenStateBackendOptions = {},
): Promise<StateBackend> {
  const target = parseConnectionString(connectionString, {
    tableName: options.tableName,
    databaseName: options.databaseName,
  });
  return openTarget(target);
}

/** Opens an already parsed target. */
export async function openTarget(target: ConnectionTarget): Promise<StateBackend> {
  const location = describeTarget(target);
  switch (target.kind) {
    case "postgresql": {
      const { openPostgresBackend } = await load(target.kind, () => import("./postgresql.ts"));
      return openPostgresBackend({ ...target.config, tableName: target.tableName });
    }
    case "mysql": {
      const { openMysqlBackend } = await load(target.kind, () => import("./mysql.ts"));
      const { database: _ignored, ...connection } = target.connection;
      return openMysqlBackend({ ...connection, database: target.database, tableName: target.tableName });
    }
    case "sqlserver": {
      const { openSqlServerBackend } = await load(target.kind, () => import("./sqlserver.ts"));
      return openSqlServerBackend({
        config: target.config,
        schema: target.schema,
        tableName: target.tableName,
        location,
      });
    }
    case "mongodb": {
      const { openMongoBackend } = await load(target.kind, () => import("./mongodb.ts"));
      return openMongoBackend({
        url: target.url,
        database: target.database,
        collection: target.collection,
        location,
      });
    }
    case "redis": {
      const { openRedisBackend } = await load(target.kind, () => import("./redis.ts"));
      return openRedisBackend({ url: target.url });
    }
    case "sqlite": {
      const { openSqliteBackend } = await load(target.kind, () => import("./sqlite.ts"));
      return openSqliteBackend({
        path: target.path,
        tableName: target.tableName,
        readOnly: target.readOnly,
        location,
      });
    }
  }
}

const DRIVERS: Record<ConnectionTarget["kind"], string> = {
  postgresql: "pg",
  mysql: "mysql2",
  sqlserver: "mssql",
  mongodb: "mongodb",
  redis: "ioredis",
  sqlite: "node-sqlite3-wasm",
};

async function load<T>(kind: ConnectionTarget["kind"], importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new HousekeeperError(
        "missing-dependency",
        `the ${kind} adapter cannot be loaded (is the "${DRIVERS[kind]}" package installed?): ${errorMessage(error)}`,
        { cause: error },
      );
    }
    throw error;
  }
}

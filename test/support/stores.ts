/**
 * One factory per real state store the harness runs, each giving a fresh, isolated backend in Dapr's layout.
 * Tests that must hold for every store loop over STORE_FACTORIES.
 */
import pg from "pg";
import { inject } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { PostgresLayout } from "../../shared/state-store/postgresql.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "./servers.ts";

export interface StoreFactory {
  name: string;
  open(): Promise<StateBackend>;
}

function postgres(layout: PostgresLayout): StoreFactory {
  return {
    name: `PostgreSQL (${layout} table)`,
    async open() {
      const url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName(`wf_${layout}`));
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await createPostgresDaprTable(admin, "state", layout);
      await admin.end();
      return openPostgresBackend({ connectionString: url, tableName: "state" });
    },
  };
}

export const STORE_FACTORIES: StoreFactory[] = [postgres("v1"), postgres("v2")];

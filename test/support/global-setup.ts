// vitest globalSetup: starts one real PostgreSQL, MariaDB, Redis, etcd, S3-compatible server (s3rver) and
// DynamoDB-compatible server (dynalite) for the whole
// run (in parallel, on 127.0.0.1, free ports, temp dirs) and hands their coordinates to test files through
// provide/inject:
//
//   import { inject } from "vitest";
//   const url = await createPostgresDatabase(inject("postgresUrl"), "my_test_file");
//   const db = await createMysqlDatabase(inject("mysql"), "my_test_file");
//   inject("redisUrl");      // redis://127.0.0.1:PORT
//   inject("etcdEndpoint");  // 127.0.0.1:PORT
//   inject("s3");            // { endpoint: "http://127.0.0.1:PORT", region, accessKeyId, secretAccessKey } (s3rver)
//   inject("dynamodb");      // the same shape, for dynalite
//
// Escape hatches: to use an already-running server instead of starting one, set
//   HOUSEKEEPER_TEST_POSTGRES_URL  postgres://user[:pass]@host:port/db   (user must be allowed to CREATE DATABASE)
//   HOUSEKEEPER_TEST_MYSQL_URL     mysql://user:pass@host:port/          (user must be allowed to CREATE DATABASE)
//   HOUSEKEEPER_TEST_REDIS_URL     redis://host:port
//   HOUSEKEEPER_TEST_ETCD_ENDPOINT host:port   (an http:// prefix is accepted and stripped)
//   HOUSEKEEPER_TEST_S3_ENDPOINT   http://host:port  (S3-compatible, path-style; credentials and region from
//                                  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
//   HOUSEKEEPER_TEST_DYNAMODB_ENDPOINT  http://host:port  (DynamoDB-compatible, e.g. DynamoDB Local; credentials
//                                  and region as for S3)
// Servers given this way are used as-is and never stopped.

import type { TestProject } from "vitest/node";
import { buildCli } from "../../scripts/build-cli.ts";
import {
  type DynamoDbConnectionInfo,
  type MysqlConnectionInfo,
  parseMysqlUrl,
  type S3ConnectionInfo,
  type StartedServer,
  startDynamoDb,
  startEtcd,
  startMariadb,
  startPostgres,
  startRedis,
  startS3,
} from "./servers.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** postgres://postgres@127.0.0.1:PORT/postgres — pass to createPostgresDatabase() for a per-file database. */
    postgresUrl: string;
    /** MariaDB server (no database selected) — pass to createMysqlDatabase() for a per-file database. */
    mysql: MysqlConnectionInfo;
    /** redis://127.0.0.1:PORT */
    redisUrl: string;
    /** 127.0.0.1:PORT (no scheme) */
    etcdEndpoint: string;
    /** An S3-compatible server (s3rver): path-style endpoint, region and credentials; tests create their own buckets. */
    s3: S3ConnectionInfo;
    /** A DynamoDB-compatible server (dynalite): endpoint, region and credentials; tests create their own tables. */
    dynamodb: DynamoDbConnectionInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const started: StartedServer[] = [];
  const track = <T extends StartedServer>(server: T): T => {
    started.push(server);
    return server;
  };
  const teardown = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };

  // The CLI tests run bin/housekeeper.mjs as users do, which runs dist/cli when it matches the sources: build it
  // from the sources as they are, so the tests exercise the built CLI (and never print the stale-build note).
  await buildCli();

  const t0 = Date.now();
  const results = await Promise.allSettled([
    env.HOUSEKEEPER_TEST_POSTGRES_URL
      ? Promise.resolve(env.HOUSEKEEPER_TEST_POSTGRES_URL)
      : startPostgres().then((s) => track(s).url),
    env.HOUSEKEEPER_TEST_MYSQL_URL
      ? Promise.resolve(parseMysqlUrl(env.HOUSEKEEPER_TEST_MYSQL_URL))
      : startMariadb().then((s) => {
          track(s);
          const { host, port, user, password, database, dsn, url } = s;
          return { host, port, user, password, database, dsn, url } satisfies MysqlConnectionInfo;
        }),
    env.HOUSEKEEPER_TEST_REDIS_URL
      ? Promise.resolve(env.HOUSEKEEPER_TEST_REDIS_URL)
      : startRedis().then((s) => track(s).url),
    env.HOUSEKEEPER_TEST_ETCD_ENDPOINT
      ? Promise.resolve(env.HOUSEKEEPER_TEST_ETCD_ENDPOINT.replace(/^https?:\/\//, "").replace(/\/+$/, ""))
      : startEtcd().then((s) => track(s).endpoint),
    env.HOUSEKEEPER_TEST_S3_ENDPOINT
      ? Promise.resolve({
          endpoint: env.HOUSEKEEPER_TEST_S3_ENDPOINT.replace(/\/+$/, ""),
          region: env.AWS_REGION ?? "us-east-1",
          accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
        } satisfies S3ConnectionInfo)
      : startS3().then((s) => {
          track(s);
          const { endpoint, region, accessKeyId, secretAccessKey } = s;
          return { endpoint, region, accessKeyId, secretAccessKey } satisfies S3ConnectionInfo;
        }),
    env.HOUSEKEEPER_TEST_DYNAMODB_ENDPOINT
      ? Promise.resolve({
          endpoint: env.HOUSEKEEPER_TEST_DYNAMODB_ENDPOINT.replace(/\/+$/, ""),
          region: env.AWS_REGION ?? "us-east-1",
          accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
        } satisfies DynamoDbConnectionInfo)
      : startDynamoDb().then((s) => {
          track(s);
          const { endpoint, region, accessKeyId, secretAccessKey } = s;
          return { endpoint, region, accessKeyId, secretAccessKey } satisfies DynamoDbConnectionInfo;
        }),
  ] as const);

  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length > 0) {
    await teardown();
    const messages = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason)));
    throw new Error(`test servers failed to start:\n\n${messages.join("\n\n")}`);
  }
  const [postgres, mysql, redis, etcd, s3, dynamodb] = results as unknown as [
    PromiseFulfilledResult<string>,
    PromiseFulfilledResult<MysqlConnectionInfo>,
    PromiseFulfilledResult<string>,
    PromiseFulfilledResult<string>,
    PromiseFulfilledResult<S3ConnectionInfo>,
    PromiseFulfilledResult<DynamoDbConnectionInfo>,
  ];

  project.provide("postgresUrl", postgres.value);
  project.provide("mysql", mysql.value);
  project.provide("redisUrl", redis.value);
  project.provide("etcdEndpoint", etcd.value);
  project.provide("s3", s3.value);
  project.provide("dynamodb", dynamodb.value);
  if (started.length > 0) {
    console.log(`[test servers] ${started.length} started in ${Date.now() - t0} ms`);
  }

  return teardown;
}

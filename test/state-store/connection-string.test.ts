import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  type ConnectionTarget,
  describeTarget,
  parseConnectionString,
  parseLibpqKeyValue,
} from "../../shared/state-store/connection-string.ts";
import { createMysqlDaprTable } from "../../shared/state-store/mysql-table.ts";
import { openStateBackend } from "../../shared/state-store/open.ts";
import { createPostgresDaprTable } from "../../shared/state-store/postgresql.ts";
import { createMysqlDatabase, createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

function parse<K extends ConnectionTarget["kind"]>(
  kind: K,
  input: string,
  tableName?: string,
): Extract<ConnectionTarget, { kind: K }> {
  const target = parseConnectionString(input, { tableName });
  expect(target.kind).toBe(kind);
  return target as Extract<ConnectionTarget, { kind: K }>;
}

describe("parseConnectionString: PostgreSQL", () => {
  it("reads the Dapr docs' key=value form (state.postgresql metadata.yaml)", () => {
    const t = parse(
      "postgresql",
      "host=localhost user=postgres password=example port=5432 connect_timeout=10 database=dapr_test",
    );
    expect(t.config).toEqual({
      host: "localhost",
      port: 5432,
      user: "postgres",
      password: "example",
      database: "dapr_test",
      ssl: false,
      connectionTimeoutMillis: 10_000,
    });
    expect(t.tableName).toBe("state");
    expect(t.sslMode).toBe("prefer");
  });

  it("reads the brief's form with database=dapr", () => {
    const t = parse(
      "postgresql",
      "host=localhost user=postgres password=example port=5432 connect_timeout=10 database=dapr",
    );
    expect(t.config.database).toBe("dapr");
  });

  it("reads the Azure AD and AWS IAM docs forms (database= / dbname=, sslmode=require)", () => {
    const azure = parse(
      "postgresql",
      "host=mydb.postgres.database.azure.com user=myapplication port=5432 database=dapr_test sslmode=require",
    );
    expect(azure.config).toMatchObject({
      host: "mydb.postgres.database.azure.com",
      user: "myapplication",
      database: "dapr_test",
      ssl: { rejectUnauthorized: false },
    });
    expect(azure.config.password).toBeUndefined();
    const aws = parse(
      "postgresql",
      "host=mydb.postgres.database.aws.com user=myapplication port=5432 dbname=dapr_test sslmode=require",
    );
    expect(aws.config).toMatchObject({ database: "dapr_test", ssl: { rejectUnauthorized: false } });
  });

  it("reads the CockroachDB docs form", () => {
    const t = parse(
      "postgresql",
      "host=localhost user=root password=example port=5432 connect_timeout=10 database=dapr_test",
    );
    expect(t.config).toMatchObject({ user: "root", password: "example", port: 5432 });
  });

  it("follows libpq quoting: '…' values, backslash escapes, spaces around '='", () => {
    expect(
      Object.fromEntries(parseLibpqKeyValue(String.raw`password='a b\' c\\d' user = me host=x\ y dbname=''`)),
    ).toEqual({ password: "a b' c\\d", user: "me", host: "x y", dbname: "" });
  });

  it("maps sslmode to node-pg ssl settings", () => {
    const ssl = (mode: string) => parse("postgresql", `host=h sslmode=${mode}`).config.ssl;
    expect(ssl("disable")).toBe(false);
    expect(ssl("allow")).toBe(false);
    expect(ssl("prefer")).toBe(false);
    expect(ssl("require")).toEqual({ rejectUnauthorized: false });
    expect(ssl("verify-full")).toEqual({ rejectUnauthorized: true });
    const verifyCa = ssl("verify-ca");
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true });
    expect(verifyCa && typeof verifyCa.checkServerIdentity).toBe("function");
  });

  it("reads sslrootcert, and like libpq treats require + root certificate as verify-ca", () => {
    const dir = mkdtempSync(join(tmpdir(), "hk-cs-"));
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const t = parse("postgresql", `host=h sslmode=require sslrootcert=${ca}`);
    expect(t.sslMode).toBe("verify-ca");
    expect(t.config.ssl).toMatchObject({ rejectUnauthorized: true, ca: expect.stringContaining("BEGIN CERTIFICATE") });
  });

  it("reads postgres:// and postgresql:// URLs with escapes, IPv6 and query parameters", () => {
    const t = parse(
      "postgresql",
      "postgres://user:p%40ss%3Aw@db.example.com:6543/my%20db?sslmode=verify-full&connect_timeout=5",
    );
    expect(t.config).toEqual({
      host: "db.example.com",
      port: 6543,
      user: "user",
      password: "p@ss:w",
      database: "my db",
      ssl: { rejectUnauthorized: true },
      connectionTimeoutMillis: 5000,
    });
    const v6 = parse("postgresql", "postgresql://[::1]/db");
    expect(v6.config).toMatchObject({ host: "::1", port: 5432, database: "db", ssl: false });
    const socket = parse("postgresql", "postgresql:///db?host=/var/run/postgresql");
    expect(socket.config.host).toBe("/var/run/postgresql");
  });

  it("takes the table name option, schema.table included", () => {
    expect(parse("postgresql", "host=h", "public.state").tableName).toBe("public.state");
  });
});

describe("parseConnectionString: MySQL", () => {
  it("reads the Dapr docs' DSN verbatim (placeholders included) without a database, using dapr_state_store", () => {
    const t = parse("mysql", "<user>:<password>@tcp(<server>:3306)/?allowNativePasswords=true&tls=custom");
    expect(t.connection).toEqual({
      host: "<server>",
      port: 3306,
      user: "<user>",
      password: "<password>",
      database: "dapr_state_store",
      ssl: { rejectUnauthorized: true },
    });
    expect(t.database).toBe("dapr_state_store");
    expect(t.tableName).toBe("state");
  });

  it("reads user:pass@tcp(host:port)/db?parseTime=true", () => {
    const t = parse("mysql", "root:my/p@ss@tcp(mysql.local:3307)/wf?parseTime=true&tls=skip-verify");
    expect(t.connection).toEqual({
      host: "mysql.local",
      port: 3307,
      user: "root",
      password: "my/p@ss",
      database: "wf",
      ssl: { rejectUnauthorized: false },
    });
  });

  it("defaults like go-sql-driver: user@tcp(host)/, '/', unix(/path)", () => {
    expect(parse("mysql", "user@tcp(host)/").connection).toEqual({
      host: "host",
      port: 3306,
      user: "user",
      database: "dapr_state_store",
    });
    expect(parse("mysql", "/").connection).toEqual({ host: "127.0.0.1", port: 3306, database: "dapr_state_store" });
    expect(parse("mysql", "u:p@unix(/var/run/mysqld/mysqld.sock)/mydb").connection).toEqual({
      socketPath: "/var/run/mysqld/mysqld.sock",
      user: "u",
      password: "p",
      database: "mydb",
    });
    expect(parse("mysql", "u@tcp([::1]:3306)/").connection).toMatchObject({ host: "::1", port: 3306 });
    expect(parse("mysql", "u:p@tcp(h:3306)/?tls=preferred").connection.ssl).toBeUndefined();
  });

  it("reads mysql:// URLs", () => {
    expect(parse("mysql", "mysql://u:p%23w@h:3310/db?tls=true").connection).toEqual({
      host: "h",
      port: 3310,
      user: "u",
      password: "p#w",
      database: "db",
      ssl: { rejectUnauthorized: true },
    });
  });

  it("uses schema.table from the table option as database and table", () => {
    const t = parse("mysql", "u:p@tcp(h:3306)/", "custom_schema.my_state");
    expect(t.database).toBe("custom_schema");
    expect(t.connection.database).toBe("custom_schema");
    expect(t.tableName).toBe("my_state");
  });
});

describe("parseConnectionString: SQL Server", () => {
  it("reads the Dapr docs' ADO form verbatim (instance name)", () => {
    const t = parse(
      "sqlserver",
      String.raw`Server=myServerName\myInstanceName;Database=myDataBase;User Id=myUsername;Password=myPassword;`,
    );
    expect(t.config).toEqual({
      server: "myServerName",
      user: "myUsername",
      password: "myPassword",
      database: "myDataBase",
      options: { encrypt: true, trustServerCertificate: true, instanceName: "myInstanceName" },
    });
    expect(t.schema).toBe("dbo");
    expect(t.tableName).toBe("state");
  });

  it("reads the Dapr docs' sqlserver:// URL verbatim", () => {
    const t = parse("sqlserver", "sqlserver://myServerName.database.windows.net:1433?database=myDataBase");
    expect(t.config).toMatchObject({ server: "myServerName.database.windows.net", port: 1433, database: "myDataBase" });
  });

  it("reads Server=host,port and synonyms, and defaults the database to dapr", () => {
    const t = parse("sqlserver", 'Server=tcp:sql.local,14330;User Id=sa;Password="pa;ss""word";Encrypt=true');
    expect(t.config).toEqual({
      server: "sql.local",
      port: 14330,
      user: "sa",
      password: 'pa;ss"word',
      database: "dapr",
      options: { encrypt: true, trustServerCertificate: false },
    });
    const lower = parse("sqlserver", "server=localhost;user id=sa;password=your-password;port=1433;");
    expect(lower.config).toMatchObject({ server: "localhost", port: 1433, user: "sa", database: "dapr" });
    const synonyms = parse("sqlserver", "Data Source=.;Initial Catalog=wf;UID=u;PWD=p;TrustServerCertificate=false");
    expect(synonyms.config).toMatchObject({ server: "localhost", database: "wf", user: "u", password: "p" });
    expect(synonyms.config.options.trustServerCertificate).toBe(false);
  });

  it("reads sqlserver://user:pass@host:port?database=db and /instance", () => {
    const t = parse("sqlserver", "sqlserver://sa:p%40ss@host:1433?database=db&encrypt=disable");
    expect(t.config).toMatchObject({ server: "host", port: 1433, user: "sa", password: "p@ss", database: "db" });
    expect(t.config.options.encrypt).toBe(false);
    expect(parse("sqlserver", "sqlserver://sa:x@host/SQLEXPRESS").config.options.instanceName).toBe("SQLEXPRESS");
  });

  it("splits schema.table from the table option", () => {
    const t = parse("sqlserver", "sqlserver://sa:x@host", "wf.state_v2");
    expect([t.schema, t.tableName]).toEqual(["wf", "state_v2"]);
  });
});

describe("parseConnectionString: MongoDB and Redis", () => {
  it("passes mongodb:// on with Dapr's defaults daprStore/daprCollection", () => {
    const t = parse("mongodb", "mongodb://localhost:27017");
    expect(t).toEqual({
      kind: "mongodb",
      url: "mongodb://localhost:27017",
      srv: false,
      hosts: ["localhost:27017"],
      database: "daprStore",
      collection: "daprCollection",
    });
  });

  it("reads Dapr's databaseName (default daprStore), never the URL path, which only names the auth database", () => {
    // components-contrib state/mongodb/mongodb.go and dapr/cli dclient.go: client.Database(databaseName|"daprStore").
    const t = parse("mongodb", "mongodb://u:p%40w@h1:27017,h2:27018/wfdb?replicaSet=rs0&authSource=admin", "states");
    expect(t).toMatchObject({ hosts: ["h1:27017", "h2:27018"], database: "daprStore", collection: "states" });
    expect(parse("mongodb", "mongodb://u:p@h/admin?authSource=admin").database).toBe("daprStore");
    const named = parseConnectionString("mongodb://u:p@h/admin", { databaseName: "wfdb" });
    expect(named).toMatchObject({ database: "wfdb", url: "mongodb://u:p@h/admin" });
    expect(() => parseConnectionString("redis://h:6379", { databaseName: "wfdb" })).toThrow(/MongoDB only/);
    const srv = parse("mongodb", "mongodb+srv://u:p@cluster0.example.net/?retryWrites=true");
    expect(srv).toMatchObject({ srv: true, hosts: ["cluster0.example.net"], database: "daprStore" });
    expect(parse("mongodb", "mongodb://h/?authSource=daprStore&ssl=true").database).toBe("daprStore");
  });

  it("reads redis:// (the CLI e2e form) and rediss:// URLs", () => {
    expect(parse("redis", "redis://127.0.0.1:6379")).toEqual({
      kind: "redis",
      url: "redis://127.0.0.1:6379",
      host: "127.0.0.1",
      port: 6379,
      db: 0,
      tls: false,
    });
    expect(parse("redis", "rediss://:pw@cache.example.com/3")).toMatchObject({ port: 6379, db: 3, tls: true });
  });
});

describe("parseConnectionString: SQLite (state.sqlite: a file path or a file: URI, as Dapr's metadata.go takes it)", () => {
  const cwd = process.cwd();

  it("reads paths: absolute, ./relative, ../relative and bare names ending in .db/.sqlite/.sqlite3/.db3", () => {
    expect(parse("sqlite", "/var/lib/dapr/state.db")).toEqual({
      kind: "sqlite",
      path: "/var/lib/dapr/state.db",
      readOnly: false,
      tableName: "state",
    });
    expect(parse("sqlite", "./data/state").path).toBe(join(cwd, "data/state"));
    expect(parse("sqlite", "../x.sqlite").path).toBe(join(cwd, "../x.sqlite"));
    for (const name of ["data.db", "data.sqlite", "data.SQLITE3", "data.db3"]) {
      expect(parse("sqlite", name).path).toBe(join(cwd, name));
    }
    expect(parse("sqlite", "/state.db").path).toBe("/state.db");
    // go-sql-driver's address-less DSNs stay MySQL: a MySQL database name holds no '.' or '/'.
    expect(parse("mysql", "/").database).toBe("dapr_state_store");
    expect(parse("mysql", "/mydb").database).toBe("mydb");
  });

  it("reads file: URIs (relative, absolute, file:///, %-escapes) and mode=ro / immutable=1 as read-only", () => {
    expect(parse("sqlite", "file:data.db").path).toBe(join(cwd, "data.db"));
    expect(parse("sqlite", "file:/srv/state.db?_txlock=immediate&_pragma=busy_timeout(2000)")).toMatchObject({
      path: "/srv/state.db",
      readOnly: false,
    });
    expect(parse("sqlite", "file:///srv/my%20state.db?mode=ro")).toMatchObject({
      path: "/srv/my state.db",
      readOnly: true,
    });
    expect(parse("sqlite", "file://localhost/srv/state.db?immutable=1").readOnly).toBe(true);
    expect(parse("sqlite", "data.db", "actors").tableName).toBe("actors");
  });

  it.each([
    [":memory:", /in-memory SQLite database/],
    ["file::memory:?cache=shared", /in-memory SQLite database/],
    ["file:data.db?mode=memory", /mode=memory/],
    ["file://otherhost/srv/state.db", /names host "otherhost"/],
    ["file:bad%zz.db", /invalid %-escape/],
  ])("refuses %s in one line naming the accepted SQLite forms", (input, message) => {
    let caught: unknown;
    try {
      parseConnectionString(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "bad-connection-string", message: expect.stringMatching(message) });
    expect((caught as Error).message).toContain("SQLite: a database file path");
    expect((caught as Error).message).not.toContain("\n");
  });

  it("refuses a table name Dapr would refuse (letters, digits and _ only)", () => {
    expect(() => parseConnectionString("data.db", { tableName: "main.state" })).toThrow(/tableName: use letters/);
  });

  it("is described with its path and table", () => {
    expect(describeTarget(parseConnectionString("file:/srv/state.db?mode=ro"))).toBe(
      "sqlite /srv/state.db table state (read-only)",
    );
  });
});

describe("describeTarget", () => {
  it("names store, host and table without the password", () => {
    const cases: Array<[string, string]> = [
      [
        "host=localhost user=postgres password=S3cr3t-pw port=5432 database=dapr",
        "postgresql postgres@localhost:5432/dapr table state (sslmode prefer)",
      ],
      ["root:S3cr3t-pw@tcp(db:3306)/", "mysql root@db:3306/dapr_state_store table state (no tls)"],
      ["Server=sql,1433;User Id=sa;Password=S3cr3t-pw;", "sqlserver sa@sql:1433/dapr table [dbo].[state]"],
      ["mongodb://u:S3cr3t-pw@m1:27017/", "mongodb m1:27017/daprStore collection daprCollection"],
      ["rediss://u:S3cr3t-pw@r:6380/1", "redis (tls) r:6380/1"],
    ];
    for (const [input, expected] of cases) {
      const text = describeTarget(parseConnectionString(input));
      expect(text).toBe(expected);
      expect(text).not.toContain("S3cr3t");
    }
  });
});

describe("parseConnectionString: malformed strings", () => {
  const SECRET = "S3cr3t-pw";
  const cases: Array<[string, string, RegExp]> = [
    ["empty", "   ", /empty/],
    [
      "unknown form",
      `just some text with ${SECRET}`,
      /none of the accepted forms.*PostgreSQL.*MySQL.*SQL Server.*MongoDB.*Redis/,
    ],
    ["unknown scheme", `http://u:${SECRET}@h/`, /unknown scheme "http:\/\/"/],
    ["pg unterminated quote", `host=h user=u password='${SECRET}`, /unterminated quoted value for "password"/],
    ["pg missing '='", `host=h password ${SECRET}`, /missing "=" after "password"/],
    ["pg bad port", `host=h port=54x32 password=${SECRET}`, /port "54x32" is not a number/],
    ["pg URL port out of range", `postgres://u:${SECRET}@h:99999/db`, /port 99999 is out of range/],
    ["pg bad sslmode", `host=h password=${SECRET} sslmode=always`, /sslmode "always" is not one of/],
    ["pg several hosts", `postgres://u:${SECRET}@h1,h2/db`, /several hosts/],
    ["pg bad connect_timeout", `host=h connect_timeout=soon password=${SECRET}`, /connect_timeout "soon"/],
    ["pg bad %-escape", "postgres://u:%zz@h/db", /password contains an invalid %-escape/],
    [
      "pg unreadable sslrootcert",
      `host=h sslmode=verify-full sslrootcert=/nonexistent/ca.pem password=${SECRET}`,
      /sslrootcert file/,
    ],
    ["mysql bad port", `u:${SECRET}@tcp(h:abc)/`, /port "abc" is not a number/],
    ["mysql missing ')'", `u:${SECRET}@tcp(h:3306/db`, /missing its closing '\)'/],
    ["mysql unknown network", `u:${SECRET}@udp(h)/`, /network "udp" is not supported/],
    ["mysql URL missing host", `mysql://u:${SECRET}@:3306/db`, /host is missing/],
    ["mysql empty tcp host", `u:${SECRET}@tcp(:3306)/`, /host in tcp\(host:port\) is empty/],
    [
      "sqlserver missing server",
      `Database=x;User Id=sa;Password=${SECRET};`,
      /Server \(or Data Source\) key is missing/,
    ],
    ["sqlserver bad port", `Server=h,14x;Password=${SECRET};`, /port "14x" is not a number/],
    ["sqlserver bad encrypt", `Server=h;Encrypt=maybe;Password=${SECRET};`, /encrypt "maybe"/],
    ["sqlserver unterminated quote", `Server=h;Password="${SECRET};`, /"quoted" value is not terminated/],
    ["sqlserver URL missing host", `sqlserver://sa:${SECRET}@:1433?database=x`, /host is missing/],
    ["mongodb missing host", `mongodb://u:${SECRET}@/db`, /host is missing/],
    ["mongodb bad port", `mongodb://u:${SECRET}@h:27o17/`, /port "27o17" is not a number/],
    ["mongodb+srv with port", `mongodb+srv://u:${SECRET}@h:27017/`, /without a port/],
    ["mongodb+srv with two hosts", `mongodb+srv://u:${SECRET}@h1,h2/`, /exactly one host/],
    ["redis missing host", `redis://:${SECRET}@/0`, /host is missing/],
    ["redis bad db", `redis://:${SECRET}@h:6379/zero`, /database "zero" is not a number/],
    ["redis bad port", `redis://:${SECRET}@h:0`, /port 0 is out of range/],
  ];

  for (const [name, input, message] of cases) {
    it(`${name}: names the problem and the accepted forms, never the password`, () => {
      let caught: unknown;
      try {
        parseConnectionString(input);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(HousekeeperError);
      const error = caught as HousekeeperError;
      expect(error.code).toBe("bad-connection-string");
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/PostgreSQL|MySQL|SQL Server|MongoDB|Redis/);
      expect(error.message).not.toContain(SECRET);
      if (input.trim() !== "") expect(error.message).not.toContain(input.trim());
    });
  }
});

describe("openStateBackend (real PostgreSQL, MariaDB and Redis from the test harness)", () => {
  async function roundTrip(connectionString: string, tableName?: string): Promise<string> {
    const backend = await openStateBackend(connectionString, { tableName });
    try {
      const key = `open-test||${Math.random().toString(36).slice(2)}`;
      await backend.setMany([[key, Uint8Array.of(0xff, 0x00, 0x01)]]);
      expect([...(await backend.getMany([key])).get(key)!]).toEqual([0xff, 0x00, 0x01]);
      expect(await backend.deleteMany([key])).toBe(1);
      expect(backend.location).not.toContain("dapr-test-password");
      return backend.kind;
    } finally {
      await backend.close();
    }
  }

  it("opens PostgreSQL from the libpq key=value form", async () => {
    const url = new URL(await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("open_pg")));
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v2");
    await admin.end();
    const db = url.pathname.slice(1);
    const kv = `host=${url.hostname} port=${url.port} user=${decodeURIComponent(url.username)} dbname=${db} connect_timeout=10`;
    expect(await roundTrip(kv)).toBe("postgresql");
  });

  it("opens MySQL/MariaDB from the Go DSN form", async () => {
    const info = await createMysqlDatabase(inject("mysql"), uniqueDatabaseName("open_mysql"));
    await createMysqlDaprTable(
      { host: info.host, port: info.port, user: info.user, password: info.password },
      info.database,
    );
    expect(
      await roundTrip(
        `${info.user}:${info.password}@tcp(${info.host}:${info.port})/?allowNativePasswords=true`,
        `${info.database}.state`,
      ),
    ).toBe("mysql");
  });

  it("opens Redis from a redis:// URL", async () => {
    expect(await roundTrip(inject("redisUrl"))).toBe("redis");
  });

  it("loads the MongoDB and SQL Server adapters and reports an unreachable server as unavailable", async () => {
    await expect(openStateBackend("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300")).rejects.toMatchObject({
      code: "unavailable",
    });
    await expect(
      openStateBackend("sqlserver://sa:S3cr3t-pw@127.0.0.1:1?database=dapr&connection+timeout=2"),
    ).rejects.toSatisfy(
      (e: unknown) => e instanceof HousekeeperError && e.code === "unavailable" && !e.message.includes("S3cr3t"),
    );
  });
});

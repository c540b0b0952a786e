/**
 * shared/tracing.ts with the real Powertools Tracer and X-Ray SDK, as in Lambda (LAMBDA_TASK_ROOT, _X_AMZN_TRACE_ID):
 * the segment documents the SDK sends to the X-Ray daemon address (a UDP socket here) carry the `## handler`
 * subsegment and one subsegment per port call, errors included. Without those variables nothing is loaded.
 */
import { createSocket, type Socket } from "node:dgram";
import middy from "@middy/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeTracer, loadTracer, traced, traceHandler, tracingWanted } from "../../shared/tracing.ts";
import { lambdaContext } from "../support/lambda.ts";

describe("tracing", () => {
  let daemon: Socket;
  const documents: Array<Record<string, unknown>> = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    daemon = createSocket("udp4");
    daemon.on("message", (message) => {
      // Each datagram: a JSON header line, then the segment document.
      const body = message.toString("utf8").split("\n").slice(1).join("\n");
      documents.push(JSON.parse(body));
    });
    await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
    const { port } = daemon.address();
    expect(tracingWanted()).toBe(false);
    expect(await loadTracer("test")).toBeUndefined();
    Object.assign(process.env, {
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
      AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
      LAMBDA_TASK_ROOT: "/var/task",
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
      AWS_LAMBDA_FUNCTION_NAME: "tracing-test",
      _HANDLER: "lib/index.handler",
      POWERTOOLS_TRACE_ENABLED: "true",
      _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    });
  });
  afterAll(() => {
    process.env = saved;
    daemon?.close();
  });

  it("a subsegment per port call inside the handler's, errors recorded", async () => {
    const store = {
      kind: "fake",
      async getMany(keys: string[]) {
        return keys.length;
      },
      async deleteMany(): Promise<number> {
        throw new Error("store down");
      },
    };
    const port = traced("store", store);
    const handler = middy(async () => {
      expect(await port.getMany(["a", "b"])).toBe(2);
      await expect(port.deleteMany()).rejects.toThrow("store down");
      expect(port.kind).toBe("fake");
      return "ok";
    }).use(traceHandler("tracing-test"));
    expect(await handler({}, lambdaContext("tracing-test"))).toBe("ok");
    expect(activeTracer()).toBeDefined();

    const deadline = Date.now() + 5000;
    const names = () => JSON.stringify(documents);
    while (!names().includes("store.deleteMany") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const all = documents.flatMap(function flat(d: Record<string, unknown>): Array<Record<string, unknown>> {
      return [d, ...((d.subsegments as Array<Record<string, unknown>> | undefined) ?? []).flatMap(flat)];
    });
    const byName = Object.fromEntries(all.map((d) => [d.name, d]));
    expect(byName["## lib/index.handler"]).toBeDefined();
    expect(byName["store.getMany"]).toMatchObject({ trace_id: "1-5759e988-bd862e3fe1be46a994272793" });
    expect(byName["store.getMany"]?.fault).toBeUndefined();
    expect(byName["store.deleteMany"]).toMatchObject({ fault: true });
  });
});

/**
 * X-Ray tracing (Powertools Tracer) that costs nothing until it is on. aws-xray-sdk-core is large (it would more than
 * double the code a cold start loads), so the Tracer is imported on the first invocation that runs with tracing on:
 * in Lambda (`_X_AMZN_TRACE_ID` set per invocation) with `POWERTOOLS_TRACE_ENABLED=true`, which the stack sets with
 * active tracing. Elsewhere (the CLI, tests, `webhook serve`) nothing is loaded and the wrappers pass calls through.
 *
 * Subsegments go around the calls to the outside — state store, sidecar, Scheduler etcd, S3 — where the functions
 * wire their ports (`traced()`), not deep in the adapters.
 */

import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { MiddlewareObj } from "@middy/core";

type Subsegment = ReturnType<NonNullable<ReturnType<Tracer["getSegment"]>>["addNewSubsegment"]>;

let tracer: Tracer | undefined;
let loading: Promise<Tracer | undefined> | undefined;

export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    env.POWERTOOLS_TRACE_ENABLED === "true" && Boolean(env._X_AMZN_TRACE_ID) && Boolean(env.AWS_LAMBDA_FUNCTION_NAME)
  );
}

/** The Tracer, loaded once, when tracing is wanted; undefined otherwise. */
export async function loadTracer(serviceName: string): Promise<Tracer | undefined> {
  if (tracer || !tracingWanted()) return tracer;
  loading ??= import("@aws-lambda-powertools/tracer").then(({ Tracer }) => {
    tracer = new Tracer({ serviceName });
    return tracer;
  });
  return loading;
}

/** The tracer when loaded (tests: undefined). */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/**
 * middy middleware: Powertools' captureLambdaHandler (a `## handler` subsegment, cold-start and service annotations,
 * errors recorded), loaded with the Tracer on the first traced invocation.
 */
export function traceHandler(serviceName: string): MiddlewareObj {
  let inner: MiddlewareObj | undefined;
  return {
    before: async (request) => {
      const t = await loadTracer(serviceName);
      if (!t) return;
      if (!inner) {
        const { captureLambdaHandler } = await import("@aws-lambda-powertools/tracer/middleware");
        inner = captureLambdaHandler(t, { captureResponse: false }) as MiddlewareObj;
      }
      await inner.before?.(request);
    },
    after: async (request) => {
      await inner?.after?.(request);
    },
    onError: async (request) => {
      await inner?.onError?.(request);
    },
  };
}

function open(name: string): Subsegment | undefined {
  const segment = tracer?.getSegment();
  if (!segment) return undefined;
  try {
    return segment.addNewSubsegment(name);
  } catch {
    return undefined;
  }
}

function settle<T>(sub: Subsegment | undefined, result: Promise<T>): Promise<T> {
  if (!sub) return result;
  return result.then(
    (value) => {
      sub.close();
      return value;
    },
    (error: unknown) => {
      sub.addError(error as Error);
      sub.close();
      throw error;
    },
  );
}

function tracedIterator<T>(name: string, iterable: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = iterable[Symbol.asyncIterator]();
      return {
        next: () => settle(open(name), it.next()),
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      } as AsyncIterator<T>;
    },
  };
}

/**
 * The port with each of its async methods in an X-Ray subsegment `<name>.<method>` (an async iterable's pages each in
 * one). Subsegments are added to the current segment and never made current, so concurrent calls do not nest in
 * each other. Whether to trace is decided per call: ports opened at init (before the Tracer loads) are traced too,
 * and without a tracer (CLI, tests) each call goes straight through.
 */
export function traced<T extends object>(name: string, port: T): T {
  return new Proxy(port, {
    get(target, property) {
      // Read on the target itself: getters and methods that use private fields need it as `this`.
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string" || property === "constructor") return value;
      return (...args: unknown[]) => {
        if (!tracer) return (value as (...a: unknown[]) => unknown).apply(target, args);
        const label = `${name}.${property}`;
        const sub = open(label);
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (error) {
          sub?.addError(error as Error);
          sub?.close();
          throw error;
        }
        if (result instanceof Promise) return settle(sub, result);
        sub?.close();
        if (result && typeof result === "object" && Symbol.asyncIterator in result) {
          return tracedIterator(`${label}.page`, result as AsyncIterable<unknown>);
        }
        return result;
      };
    },
  });
}

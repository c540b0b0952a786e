/** A Lambda invocation context for calling handlers directly in tests. */
import { randomBytes } from "node:crypto";
import type { Context } from "aws-lambda";

export function lambdaContext(functionName: string, remainingMs: () => number = () => 60_000): Context {
  return {
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomBytes(8).toString("hex"),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "2026/01/01/[$LATEST]0",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

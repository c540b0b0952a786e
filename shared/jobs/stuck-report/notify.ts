/**
 * Telling someone when too many instances are stuck: a port, and its Amazon SNS adapter (AWS SDK v3 PublishCommand).
 * The job decides *whether* to notify (count ≥ threshold); the port only delivers.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { errorMessage, HousekeeperError } from "../../errors.ts";
import { awsRequestHandler } from "../../util/timeouts.ts";
import type { StuckSummary } from "./model.ts";

export interface StuckNotification {
  /** One line (SNS: ≤ 100 printable ASCII characters; adapters shorten it as needed). */
  subject: string;
  message: string;
  summary: StuckSummary;
}

export interface StuckNotifier {
  notify(notification: StuckNotification): Promise<{ messageId?: string }>;
}

export interface SnsNotifierOptions {
  topicArn: string;
  region?: string;
  /** A custom endpoint (an SNS-compatible service, or a local stand-in in tests). */
  endpoint?: string;
  /** Use this client instead of creating one (its region/endpoint win). */
  client?: SNSClient;
}

const SUBJECT_MAX = 100;
const MESSAGE_MAX_BYTES = 250 * 1024; // SNS allows 256 KiB in all

/** SNS subject rules: ASCII letters, numbers, punctuation and spaces; no line breaks; at most 100 characters. */
export function snsSubject(subject: string): string {
  const ascii = subject
    .normalize("NFKD")
    .replace(/\s+/g, " ")
    .replace(/[^\x20-\x7e]/g, "")
    .replace(/ {2,}/g, " ")
    .trim();
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 3)}...`;
}

function clip(message: string): string {
  const bytes = Buffer.from(message, "utf8");
  if (bytes.length <= MESSAGE_MAX_BYTES) return message;
  return `${bytes
    .subarray(0, MESSAGE_MAX_BYTES)
    .toString("utf8")
    .replace(/\uFFFD$/, "")}\n[…]`;
}

export class SnsNotifier implements StuckNotifier {
  private readonly client: SNSClient;
  private readonly topicArn: string;

  constructor(options: SnsNotifierOptions) {
    if (!/^arn:[^:]+:sns:[^:]*:[^:]*:[^:]+$/.test(options.topicArn)) {
      throw new HousekeeperError("bad-input", `not an SNS topic ARN: "${options.topicArn}"`);
    }
    this.topicArn = options.topicArn;
    this.client =
      options.client ??
      new SNSClient({
        requestHandler: awsRequestHandler(),
        ...(options.region ? { region: options.region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
  }

  async notify(notification: StuckNotification): Promise<{ messageId?: string }> {
    const { summary } = notification;
    try {
      const out = await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: snsSubject(notification.subject),
          Message: clip(notification.message),
          MessageAttributes: {
            appId: { DataType: "String", StringValue: summary.app.appId },
            namespace: { DataType: "String", StringValue: summary.app.namespace },
            stuck: { DataType: "Number", StringValue: String(summary.stuck) },
          },
        }),
      );
      return out.MessageId ? { messageId: out.MessageId } : {};
    } catch (error) {
      const name = (error as { name?: string }).name ?? "";
      const code = /AuthorizationError|AccessDenied|InvalidClientTokenId|SignatureDoesNotMatch/.test(name)
        ? "unauthorized"
        : /NotFound|InvalidParameter/.test(name)
          ? "bad-input"
          : "unavailable";
      throw new HousekeeperError(code, `SNS publish to ${this.topicArn} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * A local stand-in for Amazon SNS's Query API (the protocol AWS SDK v3's SNSClient speaks: form-encoded POST, XML
 * answers; https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), enough for Publish: it records each request
 * (action, topic, subject, message, message attributes, whether it was SigV4-signed) and answers like SNS, including
 * SNS's XML error document when a failure is queued. Point the SDK at it with `endpoint`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface PublishedMessage {
  action: string;
  topicArn: string | undefined;
  subject: string | undefined;
  message: string | undefined;
  attributes: Record<string, { dataType: string; value: string }>;
  signed: boolean;
  messageId: string;
}

export interface QueuedFailure {
  status: number;
  code: string;
  message: string;
  type?: "Sender" | "Receiver";
}

const NS = "http://sns.amazonaws.com/doc/2010-03-31/";

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export class SnsStandIn {
  readonly published: PublishedMessage[] = [];
  private readonly failures: QueuedFailure[] = [];
  private server: Server | undefined;
  /** Topics that exist; publishing to another answers NotFound, as SNS does. */
  readonly topics = new Set<string>();

  get endpoint(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error("the SNS stand-in is not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  /** The next request fails with this SNS error. */
  failNext(failure: QueuedFailure): void {
    this.failures.push(failure);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
    const requestId = randomUUID();
    const failure = this.failures.shift();
    if (failure) return this.error(res, failure, requestId);
    const action = form.get("Action") ?? "";
    if (req.method !== "POST" || form.get("Version") !== "2010-03-31") {
      return this.error(res, { status: 400, code: "InvalidAction", message: "not a Query API request" }, requestId);
    }
    if (action !== "Publish") {
      return this.error(res, { status: 400, code: "InvalidAction", message: `${action} is not supported` }, requestId);
    }
    const topicArn = form.get("TopicArn") ?? undefined;
    if (!topicArn || !this.topics.has(topicArn)) {
      return this.error(
        res,
        { status: 404, code: "NotFound", message: "Topic does not exist", type: "Sender" },
        requestId,
      );
    }
    const attributes: PublishedMessage["attributes"] = {};
    for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) {
      attributes[form.get(`MessageAttributes.entry.${i}.Name`)!] = {
        dataType: form.get(`MessageAttributes.entry.${i}.Value.DataType`) ?? "",
        value: form.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? "",
      };
    }
    const messageId = randomUUID();
    this.published.push({
      action,
      topicArn,
      subject: form.get("Subject") ?? undefined,
      message: form.get("Message") ?? undefined,
      attributes,
      signed: /^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? ""),
      messageId,
    });
    res.writeHead(200, { "content-type": "text/xml", "x-amzn-requestid": requestId });
    res.end(
      `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }

  private error(res: ServerResponse, failure: QueuedFailure, requestId: string): void {
    res.writeHead(failure.status, { "content-type": "text/xml", "x-amzn-requestid": requestId });
    res.end(
      `<ErrorResponse xmlns="${NS}"><Error><Type>${failure.type ?? "Sender"}</Type><Code>${xml(failure.code)}</Code>` +
        `<Message>${xml(failure.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  }
}

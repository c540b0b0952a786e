/**
 * The DynamoDB table that keeps the webhook's delivery IDs (shared/webhook/dynamodb-idempotency.ts), so a redelivery
 * is recognised whichever execution environment it lands on. On demand (a webhook's traffic is bursty and small),
 * items expire through DynamoDB's TTL on `expiresAt` (the store decides expiry by `expiresAtMs` itself, since TTL
 * deletion lags), encrypted with the stack's key when there is one, point-in-time recovery on.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type { IGrantable } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import { DYNAMODB_PARTITION_KEY, DYNAMODB_TTL_ATTRIBUTE } from "../../shared/webhook/dynamodb-idempotency.ts";

export interface WebhookIdempotencyTableProps {
  key?: IKey | undefined;
  removalPolicy: RemovalPolicy;
}

export class WebhookIdempotencyTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: WebhookIdempotencyTableProps) {
    super(scope, id);
    this.table = new TableV2(this, "Table", {
      partitionKey: { name: DYNAMODB_PARTITION_KEY, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: DYNAMODB_TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.key ? TableEncryptionV2.customerManagedKey(props.key) : TableEncryptionV2.awsManagedKey(),
      removalPolicy: props.removalPolicy,
    });
  }

  /** What the store does: conditional put, consistent get, conditional delete. Nothing else. */
  grantUse(grantee: IGrantable): void {
    this.table.grant(grantee, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem");
  }
}

/**
 * Secrets Manager secrets the functions read at runtime (connection strings, the Dapr API token, webhook signing
 * secrets). The stack never creates nor reads them: it references them by complete ARN and grants
 * GetSecretValue/DescribeSecret on exactly the ARNs a function's configuration names, plus kms:Decrypt through
 * Secrets Manager on the customer-managed keys that encrypt them.
 */
import { createHash } from "node:crypto";
import { Stack } from "aws-cdk-lib";
import type { IGrantable } from "aws-cdk-lib/aws-iam";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { type ISecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { SECRET_ARN_PATTERN } from "../config.ts";

/** Every complete Secrets Manager ARN among the strings of a JSON value (a policy, the webhook routes), sorted. */
export function secretArnsIn(value: unknown): string[] {
  const found = new Set<string>();
  const visit = (v: unknown): void => {
    if (typeof v === "string") {
      if (SECRET_ARN_PATTERN.test(v)) found.add(v);
    } else if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (v && typeof v === "object") {
      Object.values(v).forEach(visit);
    }
  };
  visit(value);
  return [...found].sort();
}

export class SecretReferences extends Construct {
  private readonly secrets = new Map<string, ISecret>();
  private readonly kmsKeyArns: string[];

  constructor(scope: Construct, id: string, props: { kmsKeyArns: string[] }) {
    super(scope, id);
    this.kmsKeyArns = props.kmsKeyArns;
  }

  secret(arn: string): ISecret {
    let secret = this.secrets.get(arn);
    if (!secret) {
      const id = `Secret${createHash("sha256").update(arn).digest("hex").slice(0, 8)}`;
      secret = Secret.fromSecretCompleteArn(this, id, arn);
      this.secrets.set(arn, secret);
    }
    return secret;
  }

  /** Read access to exactly these secrets. */
  grantRead(grantee: IGrantable, arns: readonly string[]): void {
    const unique = [...new Set(arns)].sort();
    if (unique.length === 0) return;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        resources: unique.map((arn) => this.secret(arn).secretArn),
      }),
    );
    if (this.kmsKeyArns.length > 0) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["kms:Decrypt"],
          resources: this.kmsKeyArns,
          conditions: {
            StringEquals: { "kms:ViaService": `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      );
    }
  }
}

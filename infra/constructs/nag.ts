/**
 * cdk-nag v3 findings are acknowledged through CDK's `Validations.of(scope).acknowledge()`, one exact finding ID at
 * a time (`AwsSolutions-IAM5[Resource::<Logical.Arn>:*]`); an acknowledgment covers the scope and its children.
 * These helpers keep every acknowledgment next to the code that causes it, each with its reason.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** A token (an ARN attribute, a Join) as cdk-nag spells it in finding IDs: `<Logical.Arn>`, `<Logical>`. */
export function nagReference(scope: IConstruct, value: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === "string") return node;
    if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (Array.isArray(o["Fn::GetAtt"])) {
        const [resource, attribute] = o["Fn::GetAtt"] as unknown[];
        return `<${flatten(resource)}.${flatten(attribute)}>`;
      }
      if ("Ref" in o) return `<${flatten(o.Ref)}>`;
      if (Array.isArray(o["Fn::Join"])) {
        const [separator, parts] = o["Fn::Join"] as [string, unknown[]];
        return parts.map(flatten).join(separator);
      }
    }
    return JSON.stringify(node);
  };
  return flatten(Stack.of(scope).resolve(value));
}

/** `AwsSolutions-IAM5[Resource::<fn>:*]`: the `<arn>:*` that lambda grantInvoke adds for versions and aliases. */
export function acknowledgeInvokeVersions(scope: IConstruct, functionArn: string, reason: string): void {
  acknowledge(scope, `AwsSolutions-IAM5[Resource::${nagReference(scope, functionArn)}:*]`, reason);
}

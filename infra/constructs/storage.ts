/**
 * The bucket for reminder backups and run reports: encrypted (the stack's KMS key, or S3-managed), versioned, no
 * public access, TLS only, object ownership enforced, and lifecycle rules per prefix that match the retention of
 * what lives there. Access is granted per key prefix with exact actions, never bucket-wide object access.
 */
import { Duration, type RemovalPolicy, Stack } from "aws-cdk-lib";
import type { IGrantable } from "aws-cdk-lib/aws-iam";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  type LifecycleRule,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { Construct, type IConstruct } from "constructs";
import { acknowledge, nagReference } from "./nag.ts";

export interface StorageProps {
  bucketName?: string | undefined;
  key?: IKey | undefined;
  removalPolicy: RemovalPolicy;
  prefixes: { backups: string; purgeReports: string; stuckReports: string };
  backupExpirationDays?: number | undefined;
  reportExpirationDays: number;
  noncurrentVersionExpirationDays: number;
  accessLogsBucketName?: string | undefined;
}

export interface PrefixAccess {
  read?: boolean;
  write?: boolean;
  delete?: boolean;
  list?: boolean;
}

export class Storage extends Construct {
  readonly bucket: Bucket;
  readonly key: IKey | undefined;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    this.key = props.key;
    const noncurrent = Duration.days(props.noncurrentVersionExpirationDays);
    const rules: LifecycleRule[] = [
      { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      {
        id: "backups",
        prefix: `${props.prefixes.backups}/`,
        noncurrentVersionExpiration: noncurrent,
        ...(props.backupExpirationDays !== undefined
          ? { expiration: Duration.days(props.backupExpirationDays) }
          : { expiredObjectDeleteMarker: true }),
      },
      {
        id: "purge-reports",
        prefix: `${props.prefixes.purgeReports}/`,
        expiration: Duration.days(props.reportExpirationDays),
        noncurrentVersionExpiration: noncurrent,
      },
      {
        id: "stuck-reports",
        prefix: `${props.prefixes.stuckReports}/`,
        expiration: Duration.days(props.reportExpirationDays),
        noncurrentVersionExpiration: noncurrent,
      },
    ];
    const accessLogs: IBucket | undefined = props.accessLogsBucketName
      ? Bucket.fromBucketName(this, "AccessLogs", props.accessLogsBucketName)
      : undefined;
    this.bucket = new Bucket(this, "Bucket", {
      ...(props.bucketName ? { bucketName: props.bucketName } : {}),
      ...(props.key
        ? { encryption: BucketEncryption.KMS, encryptionKey: props.key, bucketKeyEnabled: true }
        : { encryption: BucketEncryption.S3_MANAGED }),
      versioned: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: rules,
      removalPolicy: props.removalPolicy,
      ...(accessLogs ? { serverAccessLogsBucket: accessLogs, serverAccessLogsPrefix: "dapr-housekeeper/" } : {}),
    });
    if (accessLogs) {
      acknowledge(
        this.bucket,
        "Annotation::@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
        "The access-log bucket is an existing one: its own bucket policy must allow logging.s3.amazonaws.com to write under dapr-housekeeper/ (docs/deploy.md).",
      );
    } else {
      acknowledge(
        this.bucket,
        "AwsSolutions-S1",
        "Server access logging is opt-in (storage.accessLogsBucketName): the bucket holds backups and reports written by this stack's own roles only, which CloudTrail data events audit better than access logs.",
      );
    }
  }

  /** Exact S3 actions on `<prefix>/*` (and a prefix-scoped ListBucket), plus the KMS use they need. */
  grantPrefix(grantee: IGrantable & IConstruct, prefix: string, access: PrefixAccess): void {
    const objects = this.bucket.arnForObjects(`${prefix}/*`);
    const objectActions = [
      ...(access.read ? ["s3:GetObject"] : []),
      ...(access.write ? ["s3:PutObject", "s3:AbortMultipartUpload"] : []),
      ...(access.delete ? ["s3:DeleteObject"] : []),
    ];
    if (objectActions.length > 0) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ actions: objectActions, resources: [objects] }),
      );
      acknowledge(
        grantee,
        `AwsSolutions-IAM5[Resource::${nagReference(this, this.bucket.bucketArn)}/${prefix}/*]`,
        `Object access is limited to the keys under ${prefix}/, the only objects this function reads or writes; the keys are dated, so they cannot be listed in advance.`,
      );
    }
    if (access.list) {
      // IfExists: HeadObject of a missing key needs ListBucket to answer 404 instead of 403, and carries no prefix.
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["s3:ListBucket"],
          resources: [this.bucket.bucketArn],
          conditions: { StringLikeIfExists: { "s3:prefix": [prefix, `${prefix}/*`] } },
        }),
      );
    }
    if (this.key) {
      const kmsActions = [
        ...(access.read || access.write ? ["kms:Decrypt"] : []),
        ...(access.write ? ["kms:GenerateDataKey"] : []),
      ];
      if (kmsActions.length > 0) {
        grantee.grantPrincipal.addToPrincipalPolicy(
          new PolicyStatement({
            actions: kmsActions,
            resources: [this.key.keyArn],
            conditions: { StringEquals: { "kms:ViaService": `s3.${Stack.of(this).region}.amazonaws.com` } },
          }),
        );
      }
    }
  }
}

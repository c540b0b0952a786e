/**
 * The VPC placement of the functions that reach the state store, the Dapr sidecar and the Scheduler's etcd. Nothing
 * is looked up (synth stays offline): the VPC, its AZs and subnets come from the configuration, and the security
 * group is either given or created with exactly the egress the configuration lists (no ingress at all).
 */
import { Peer, Port, SecurityGroup, Vpc } from "aws-cdk-lib/aws-ec2";
import { Construct } from "constructs";
import type { NetworkPlacement } from "./housekeeper-function.ts";
import { acknowledge } from "./nag.ts";

export interface NetworkProps {
  vpcId: string;
  availabilityZones: string[];
  subnetIds: string[];
  securityGroupIds: string[];
  egress: Array<{ cidr: string; port: number; description: string }>;
  awsApiCidr: string;
}

export class Network extends Construct {
  readonly placement: NetworkPlacement;
  readonly securityGroup: SecurityGroup | undefined;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const vpc = Vpc.fromVpcAttributes(this, "Vpc", {
      vpcId: props.vpcId,
      availabilityZones: props.availabilityZones,
      privateSubnetIds: props.subnetIds,
    });
    acknowledge(
      vpc,
      "Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId",
      "The imported subnets only place Lambda network interfaces; nothing in the stack reads or adds routes, so their route tables are not needed.",
    );
    // Subnet i is in availabilityZones[i % availabilityZones.length], as Vpc.fromVpcAttributes assigns them.
    const subnets = vpc.privateSubnets;
    if (props.securityGroupIds.length > 0) {
      this.placement = {
        vpc,
        subnets: { subnets },
        securityGroups: props.securityGroupIds.map((sg, i) =>
          SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sg, { mutable: false }),
        ),
      };
      return;
    }
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      vpc,
      description: "dapr-housekeeper functions: egress to the state stores, sidecars, etcd and AWS APIs only",
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(Peer.ipv4(props.awsApiCidr), Port.tcp(443), "HTTPS to AWS APIs");
    for (const rule of props.egress) {
      this.securityGroup.addEgressRule(Peer.ipv4(rule.cidr), Port.tcp(rule.port), rule.description);
    }
    this.placement = { vpc, subnets: { subnets }, securityGroups: [this.securityGroup] };
  }
}

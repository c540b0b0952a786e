/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` (cdk.json runs this with tsx). The configuration comes from
 * HOUSEKEEPER_CONFIG, or the `housekeeper:config` / `housekeeper:configFile` context (infra/config.ts).
 *
 * cdk-nag's AwsSolutions pack runs on every synth: a finding that is neither fixed nor acknowledged (with its reason,
 * next to the code that causes it) stops the synth. `-c housekeeper:nag=false` turns it off for a quick look.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { loadConfig } from "./config.ts";
import { HousekeeperStack } from "./housekeeper-stack.ts";

const app = new App();
const config = loadConfig((key) => app.node.tryGetContext(key));
new HousekeeperStack(app, config.stackName, {
  config,
  ...(config.env.account || config.env.region
    ? { env: { account: config.env.account, region: config.env.region } }
    : {}),
});
const nag = app.node.tryGetContext("housekeeper:nag");
if (nag !== false && nag !== "false") Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();

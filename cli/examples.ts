/**
 * The `Examples:` section of every command's help, kept in one table so the command modules stay about their
 * options (and a test can parse every example against the real command tree: test/cli/help-examples.test.ts).
 * Store-reading examples use the embedded sample store's app (`orderprocessing`), so they run on a fresh clone;
 * the others say in a comment what they need.
 */
import type { Command } from "commander";

const PG = '"postgres://dapr:secret@db.internal:5432/dapr"';

/** Command path (names joined by spaces; "" is the root) → example lines, each `housekeeper …` [# comment]. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  "": [
    "housekeeper workflow list -a orderprocessing",
    "housekeeper report stuck -a orderprocessing --older-than 24h",
    `housekeeper --connect-timeout 5s workflow list -a orderprocessing -c ${PG}`,
    "housekeeper completion bash > ~/.local/share/bash-completion/completions/housekeeper",
  ],
  workflow: ["housekeeper workflow list -a orderprocessing", "housekeeper wf history -a orderprocessing order-1000"],
  "workflow list": [
    "housekeeper workflow list -a orderprocessing",
    "housekeeper workflow list -a orderprocessing -o wide --filter-status FAILED",
    "housekeeper workflow list -a orderprocessing -m 24h -o json",
    "housekeeper workflow list -a orderprocessing -o ids",
    "housekeeper workflow list -a orderprocessing --shard 2/4   # one quarter of the instances",
    `housekeeper workflow list -a orders -n prod -c ${PG} -t state`,
  ],
  "workflow history": [
    "housekeeper workflow history -a orderprocessing order-1000",
    "housekeeper workflow history -a orderprocessing order-1000 -o json",
  ],
  "workflow run": [
    "housekeeper workflow run OrderProcessingWorkflow -i order-42 -x '{\"orderId\": 42}'   # needs a Dapr sidecar",
    "housekeeper workflow run Nightly -s 2030-01-01T00:00:00Z --sidecar-url http://127.0.0.1:3501",
  ],
  "workflow raise-event": [
    "housekeeper workflow raise-event order-42/PaymentReceived -x '{\"amount\": 10}'   # needs a Dapr sidecar",
    "housekeeper workflow raise-event -a orders order-42/ManagerApproval",
  ],
  "workflow suspend": ['housekeeper workflow suspend order-42 -r "waiting for stock"   # needs a Dapr sidecar'],
  "workflow resume": ['housekeeper workflow resume order-42 -r "stock arrived"   # needs a Dapr sidecar'],
  "workflow terminate": [
    "housekeeper workflow terminate order-42   # needs a Dapr sidecar",
    'housekeeper workflow terminate -a orders order-42 -o \'{"reason": "cancelled"}\'',
  ],
  "workflow rerun": [
    "housekeeper workflow rerun order-42   # needs a Dapr sidecar (gRPC API)",
    "housekeeper workflow rerun order-42 -e 3 --new-instance-id order-42-retry",
  ],
  "workflow purge": [
    "housekeeper workflow purge -a orderprocessing --all-older-than 720h --dry-run",
    "housekeeper workflow purge -a orderprocessing -c embedded --all-older-than 720h --all-filter-status COMPLETED",
    `housekeeper workflow purge -a orders -c ${PG} order-17 order-18   # needs the app's sidecar`,
    `housekeeper workflow purge -a orders -c ${PG} --all-older-than 2160h --mode direct --etcd-endpoints 10.0.0.5:2379`,
    "housekeeper workflow purge -a orderprocessing --all-older-than 720h --shard 1/4 --dry-run   # 1/4 … 4/4 may run at once",
  ],
  retention: ["housekeeper retention run --policy examples/retention-policy.json --dry-run"],
  "retention run": [
    "housekeeper retention run --policy examples/retention-policy.json --dry-run   # needs the policy's stores",
    "housekeeper retention run --policy policy.json -o json",
  ],
  report: ["housekeeper report stuck -a orderprocessing"],
  "report stuck": [
    "housekeeper report stuck -a orderprocessing",
    "housekeeper report stuck -a orderprocessing --older-than 7d -o html --output-file stuck.html",
    "housekeeper report stuck -a orderprocessing --retention COMPLETED=30d -o json",
    "housekeeper report stuck -a orderprocessing --shard 3/8 -o json   # shard 3 of 8; merge the 8 reports",
    `housekeeper report stuck -a orders -c ${PG} --etcd-endpoints 10.0.0.5:2379 --fail-on-stuck   # exit 3 if any`,
  ],
  webhook: ["housekeeper webhook serve --config examples/webhook-routes.json --port 8080"],
  "webhook serve": [
    "housekeeper webhook serve --config examples/webhook-routes.json --port 8080   # see README: secrets in env",
    "housekeeper webhook serve --config routes.json --idempotency-redis-url redis://127.0.0.1:6379/0",
  ],
  scheduler: ["housekeeper scheduler list --etcd-endpoints 127.0.0.1:2379"],
  "scheduler list": [
    "housekeeper scheduler list   # the Scheduler's etcd on 127.0.0.1:2379",
    "housekeeper scheduler list --filter workflow -n prod -o wide --etcd-endpoints 10.0.0.5:2379",
  ],
  "scheduler get": [
    "housekeeper scheduler get workflow/orders/order-42/new-event-0 -o yaml",
    "housekeeper scheduler get app/orders/nightly-report",
  ],
  "scheduler delete": ["housekeeper scheduler delete app/orders/nightly-report"],
  "scheduler delete-all": [
    "housekeeper scheduler delete-all workflow/orders/order-42",
    "housekeeper scheduler delete-all app/orders -n prod",
  ],
  "scheduler export": ["housekeeper scheduler export -o scheduler-backup.bin --etcd-endpoints 10.0.0.5:2379"],
  "scheduler import": ["housekeeper scheduler import -f scheduler-backup.bin --etcd-endpoints 10.0.0.5:2379"],
  "scheduler orphans": [
    `housekeeper scheduler orphans -a orders -c ${PG} --etcd-endpoints 10.0.0.5:2379`,
    `housekeeper scheduler orphans -a orders -c ${PG} --etcd-endpoints 10.0.0.5:2379 --delete`,
    `housekeeper scheduler orphans -a orders -c ${PG} --etcd-endpoints 10.0.0.5:2379 --shard 2/4`,
  ],
  version: ["housekeeper version", "housekeeper version -o json"],
  completion: [
    "source <(housekeeper completion bash)   # bash, this shell",
    "housekeeper completion bash > ~/.local/share/bash-completion/completions/housekeeper",
    "housekeeper completion zsh > ~/.zfunc/_housekeeper   # with fpath+=(~/.zfunc) before compinit",
    "housekeeper completion fish > ~/.config/fish/completions/housekeeper.fish",
  ],
};

/** A command's path from the root: names joined by spaces ("" for the root). */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Adds the Examples section to every command of the tree; a command without examples is a mistake, refused. */
export function addExamples(root: Command): void {
  const visit = (command: Command) => {
    const path = commandPath(command);
    const lines = EXAMPLES[path];
    if (!lines || lines.length === 0) throw new Error(`no help examples for "housekeeper ${path}" (cli/examples.ts)`);
    command.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`); // commander adds the final newline
    for (const sub of command.commands) visit(sub);
  };
  visit(root);
}

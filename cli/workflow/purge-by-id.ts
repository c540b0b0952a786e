/** `workflow purge <id>...` through the sidecar: the Dapr CLI's purge exactly (run by cli/workflow/purge-run.ts). */
import type { DualSidecarClient } from "../../shared/sidecar/dual-client.ts";
import type { StatusPrinter } from "../output/status.ts";

/** dapr/cli pkg/workflow/purge.go: one call per ID, in order, stopping at the first failure. */
export async function purgeInstances(
  sidecar: Pick<DualSidecarClient, "purge">,
  instanceIds: string[],
  options: { force: boolean },
  print: StatusPrinter,
): Promise<void> {
  print.info(`Purging ${instanceIds.length} workflow instance(s)`);
  for (const id of instanceIds) {
    try {
      await sidecar.purge(id, { force: options.force || undefined });
    } catch (error) {
      if (error instanceof Error) error.message = `${id}: ${error.message}`;
      throw error;
    }
    print.success(`Purged workflow instance ${JSON.stringify(id)}`);
  }
}

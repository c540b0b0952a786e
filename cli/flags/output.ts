/**
 * `-o/--output short|wide|json|yaml`, as the Dapr CLI's `workflow` and `scheduler` commands spell it
 * (dapr/cli cmd/workflow/list.go, cmd/scheduler/list.go). Commands with other formats (`list -o ids`, `report stuck`,
 * `scheduler orphans`) declare their own choices next to the command.
 */
import { Option } from "commander";

export const OUTPUT_FORMATS = ["short", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("short");
}

// Its own module so that the CLI's command tree can reach it (through the stuck report's model) without the purge.
/** `36h`, `30d`, `30d4h`: short, human ages for reports. */
export function formatAge(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  if (hours < 1) return `${Math.max(0, Math.floor(ms / 60_000))}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest === 0 ? `${days}d` : `${days}d${rest}h`;
}

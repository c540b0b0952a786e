/** Default of `receiveTimeoutMs`: GitHub itself gives up on a delivery after 10 s. Apart so `--help` loads no server. */
export const DEFAULT_RECEIVE_TIMEOUT_MS = 10_000;

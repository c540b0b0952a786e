/** The Dapr sidecar client: a public, typed API of the package (see types.ts for the port). */
export { dateFromProtoJson, metadataFromHttpBody, payloadText } from "./codec.ts";
export { DualSidecarClient, type DualSidecarClientOptions } from "./dual-client.ts";
export {
  GRPC_CODE_NAMES,
  grpcErrorKind,
  httpErrorKind,
  isSidecarError,
  SidecarError,
  type SidecarErrorDetails,
  type SidecarErrorKind,
  type SidecarOperation,
} from "./errors.ts";
export { DEFAULT_SIDECAR_GRPC_ADDRESS, GrpcSidecarClient, type GrpcSidecarClientOptions } from "./grpc-client.ts";
export {
  API_TOKEN_HEADER,
  DEFAULT_SIDECAR_URL,
  type HttpApiVersion,
  HttpSidecarClient,
  type HttpSidecarClientOptions,
} from "./http-client.ts";
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  NO_RETRY,
  parseRetryAfter,
  type RetryPolicy,
  retryPolicy,
  withRetries,
} from "./retry.ts";
export type {
  CallOptions,
  InstanceIdPage,
  ListInstanceIdsOptions,
  PayloadOptions,
  PurgeOptions,
  ReasonOptions,
  RerunOptions,
  SidecarRuntimeStatus,
  StartOptions,
  TerminateOptions,
  WorkflowFailure,
  WorkflowInstanceMetadata,
  WorkflowSidecar,
  WorkflowSidecarAdmin,
} from "./types.ts";
export { defaultUserAgent } from "./user-agent.ts";
export {
  type InstanceIdProblem,
  instanceIdProblem,
  isValidAppId,
  MAX_INSTANCE_ID_BYTES,
  validateInstanceId,
} from "./validation.ts";

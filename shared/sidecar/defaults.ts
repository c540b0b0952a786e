/**
 * Where the sidecar listens by default (Dapr's default ports: HTTP 3500, gRPC 50001). Apart from the clients so that
 * the CLI's command tree can show them in its help without loading undici or @grpc/grpc-js.
 */
export const DEFAULT_SIDECAR_URL = "http://127.0.0.1:3500";
export const DEFAULT_SIDECAR_GRPC_ADDRESS = "127.0.0.1:50001";

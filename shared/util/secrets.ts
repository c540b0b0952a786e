/**
 * Secret references in configuration: `arn:aws:secretsmanager:…` or `secretsmanager:<name>` are fetched from AWS
 * Secrets Manager (Powertools parameters, cached with a finite expiry so rotation is picked up), `env:<NAME>` is read
 * from the environment (local runs). Anything else is used as the literal value.
 */
import type { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import { errorMessage, HousekeeperError } from "../errors.ts";

export interface SecretResolver {
  resolve(reference: string): Promise<string>;
}

export interface SecretResolverOptions {
  /** Seconds a fetched secret is cached (default 300). */
  maxAgeSeconds?: number;
  /** For tests and non-default endpoints. */
  clientConfig?: SecretsManagerClientConfig;
  env?: NodeJS.ProcessEnv;
}

/** Whether a configured value names a secret (rather than being the value itself). */
export function isSecretReference(value: string): boolean {
  return value.startsWith("env:") || value.startsWith("arn:aws:secretsmanager:") || value.startsWith("secretsmanager:");
}

export function createSecretResolver(options: SecretResolverOptions = {}): SecretResolver {
  let provider: SecretsProvider | undefined;
  const env = options.env ?? process.env;
  const maxAge = options.maxAgeSeconds ?? 300;
  return {
    async resolve(reference: string): Promise<string> {
      if (reference.startsWith("env:")) {
        const name = reference.slice(4);
        const value = env[name];
        if (value === undefined || value === "") {
          throw new HousekeeperError(
            "bad-input",
            `secret reference ${reference}: environment variable ${name} is not set`,
          );
        }
        return value;
      }
      const secretId = reference.startsWith("arn:aws:secretsmanager:")
        ? reference
        : reference.startsWith("secretsmanager:")
          ? reference.slice("secretsmanager:".length)
          : undefined;
      if (secretId === undefined) return reference;
      try {
        // Imported at the first secret fetched: a run that names none never loads the Secrets Manager client.
        if (provider === undefined) {
          const { SecretsProvider } = await import("@aws-lambda-powertools/parameters/secrets");
          provider = new SecretsProvider(options.clientConfig ? { clientConfig: options.clientConfig } : {});
        }
        const value = await provider.get(secretId, { maxAge });
        if (typeof value !== "string" || value === "") throw new Error("the secret has no string value");
        return value;
      } catch (error) {
        // The secret's name is fine to show; its value never is (and is never part of these messages).
        throw new HousekeeperError("unavailable", `cannot read secret ${secretId}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
    },
  };
}

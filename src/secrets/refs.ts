// Secret references in env layers: an env value is either a plain string, or a reference
// to where the secret lives, read when the gateway starts (never at manifest load, so a
// rotated file is picked up by the next start):
//   { file: "/etc/fleetd/secrets/anthropic" }   a file on the host (absolute path)
//   { credential: "anthropic" }                 a systemd credential: $CREDENTIALS_DIRECTORY/anthropic
//                                               of fleetd's unit (LoadCredential=, SetCredentialEncrypted=)
// Pure: shapes, schema, splitting a merged env into plain values and references.
import { isAbsolute, join, normalize } from 'node:path';
import { z } from 'zod';

/** systemd credential names: no "/" and not "." or ".." (systemd's own rule), printable ASCII. */
export const CREDENTIAL_NAME_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9_.@:+-]{1,255}$/;

/** A reference to a secret held in a file. */
export type SecretRef = { file: string } | { credential: string };

/** One env value of a manifest layer. */
export type EnvValue = string | SecretRef;

/** A secret reference as written in a manifest or sent by fleetctl. */
export const secretRefSchema = z.union(
  [
    z.strictObject({
      file: z
        .string()
        .min(1)
        .refine((p) => isAbsolute(p) && !p.includes('\0'), { message: 'must be an absolute path' }),
    }),
    z.strictObject({
      credential: z.string().regex(CREDENTIAL_NAME_PATTERN, { message: 'must be a systemd credential name (letters, digits, "_.@:+-", no "/")' }),
    }),
  ],
  { error: 'expected { file: "/absolute/path" } or { credential: "name" }' },
);

/** An env value: a string, or a secret reference. */
export const envValueSchema = z.union([z.string(), secretRefSchema], {
  error: 'expected a string, { file: "/absolute/path" } or { credential: "name" }',
});

/** True when `value` is a secret reference (not a plain string). */
export function isSecretRef(value: EnvValue): value is SecretRef {
  return typeof value === 'object' && value !== null;
}

/** A merged env split into plain values and secret references. */
export interface SplitEnv {
  plain: Record<string, string>;
  secrets: Record<string, SecretRef>;
}

/** Splits an env map into plain values and references (pure). */
export function splitEnv(env: Readonly<Record<string, EnvValue>>): SplitEnv {
  const plain: Record<string, string> = {};
  const secrets: Record<string, SecretRef> = {};
  for (const [name, value] of Object.entries(env)) {
    if (isSecretRef(value)) secrets[name] = 'file' in value ? { file: value.file } : { credential: value.credential };
    else plain[name] = value;
  }
  return { plain, secrets };
}

/** The file a reference names: the path itself, or `<credentialsDir>/<name>`; undefined when a credential has no directory. */
export function secretPath(ref: SecretRef, credentialsDir: string | undefined): string | undefined {
  if ('file' in ref) return normalize(ref.file);
  if (!credentialsDir) return undefined;
  return join(credentialsDir, ref.credential);
}

/** The reference for people: `file /etc/x` or `systemd credential "x"`. */
export function describeRef(ref: SecretRef): string {
  return 'file' in ref ? `file ${ref.file}` : `systemd credential ${JSON.stringify(ref.credential)}`;
}

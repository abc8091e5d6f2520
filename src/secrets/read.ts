// Reading the secrets an agent's env refers to, right before its gateway starts (and by
// `fleetctl exec`, as the caller). A secret file must be a regular file that neither its
// group nor others can read; it is opened once and checked through that descriptor (no
// window between the check and the read), non-blocking so a FIFO in its place cannot hang
// fleetd. The value is the file's content without ONE trailing newline (`echo key > file`).
// Values never appear in an error: the error names the variable, the agent, the file and
// where the reference was declared.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FleetError } from '../errors.js';
import { describeRef, secretPath, type SecretRef } from './refs.js';

/** Largest secret file read (bytes): env values beyond this are not plausible keys. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Whose secrets are read, for the error messages, and where credentials live. */
export interface SecretContext {
  /** The agent's address. */
  address: string;
  /** `$CREDENTIALS_DIRECTORY` of the process that reads (fleetd's, under systemd). */
  credentialsDir: string | undefined;
  /** Where each variable was declared (`/etc/fleetd/fleets.json5: fleets.acme.agents.korax.env.X`). */
  origin?: Readonly<Record<string, string>>;
  /** Who reads, for permission errors ("fleetd (uid 998)"). */
  reader?: string;
}

/** Resolved secrets: the env entries, and the values (for the redaction set). */
export interface ResolvedSecrets {
  env: Record<string, string>;
  values: string[];
}

/** Reads every referenced secret; one error listing every variable that could not be read. */
export async function readSecretEnv(secrets: Readonly<Record<string, SecretRef>>, ctx: SecretContext): Promise<ResolvedSecrets> {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, ref] of Object.entries(secrets)) {
    try {
      env[name] = await readSecret(name, ref, ctx);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new FleetError('SECRET_UNAVAILABLE', problems.join('\n'), { details: { address: ctx.address, variables: Object.keys(secrets).filter((n) => !(n in env)) } });
  }
  return { env, values: Object.values(env).filter((v) => v.length > 0) };
}

/** Reads one secret; throws an Error whose message says what is wrong and what to do. */
export async function readSecret(name: string, ref: SecretRef, ctx: SecretContext): Promise<string> {
  const where = ctx.origin?.[name];
  const subject = `env ${name} of ${ctx.address} (${describeRef(ref)}${where ? `, declared at ${where}` : ''})`;
  const path = secretPath(ref, ctx.credentialsDir);
  if (path === undefined) {
    throw new Error(`${subject}: $CREDENTIALS_DIRECTORY is not set; give fleetd's unit LoadCredential=${'credential' in ref ? ref.credential : ''}:/path/to/file (systemd credentials exist only inside the unit)`);
  }
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${subject}: ${path} does not exist; create it (mode 0600) or fix the reference`);
    if (code === 'EACCES') throw new Error(`${subject}: ${ctx.reader ?? 'this process'} may not read ${path}; make it readable by that user only (chown, chmod 600)`);
    throw new Error(`${subject}: cannot open ${path}: ${code ?? (err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${subject}: ${path} is not a regular file (a secret must be a plain file)`);
    const mode = st.mode & 0o777;
    if ((mode & 0o044) !== 0) {
      throw new Error(`${subject}: ${path} is readable by its group or by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod go-rwx ${path}`);
    }
    if (st.size > MAX_SECRET_BYTES) throw new Error(`${subject}: ${path} holds ${st.size} bytes, more than the ${MAX_SECRET_BYTES} a secret may have`);
    const buf = Buffer.alloc(MAX_SECRET_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_SECRET_BYTES) throw new Error(`${subject}: ${path} is larger than the ${MAX_SECRET_BYTES} bytes a secret may have`);
    }
    const value = buf.subarray(0, length).toString('utf8').replace(/\r?\n$/, '');
    buf.fill(0);
    if (value.includes('\0')) throw new Error(`${subject}: ${path} contains a NUL byte, which an environment value cannot hold`);
    return value;
  } finally {
    await handle.close();
  }
}

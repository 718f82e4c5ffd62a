import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ReplayableBody } from '@lever-connect/connections';
import { AppError } from '@lever-connect/errors';

/** Bodies up to this size are kept in memory; larger ones (resumes) go to a private temp file. */
const IN_MEMORY_BYTES = 1024 * 1024;

export class PayloadTooLargeError extends AppError {
  constructor(limit: number) {
    super('payload_too_large', `The request body is larger than LEVER_PROXY_MAX_BODY_BYTES (${limit} bytes)`, 413, { limit });
  }
}

/** Writes with backpressure: waits for 'drain' when the file stream's buffer is full. */
async function write(out: ReturnType<typeof createWriteStream>, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

export type DisposableBody = ReplayableBody & { dispose(): Promise<void> };

/**
 * Reads a request body once so the proxy can send it again: Lever's 429 means "not processed", and such a
 * call is retried whatever its method. Small bodies stay in memory; a large one (a resume upload) is
 * written to a temp file only this process can read (0600, its own directory) and removed by `dispose`.
 * Over `maxBytes` it stops reading and fails with 413.
 */
export async function readReplayableBody(stream: Readable, maxBytes: number): Promise<DisposableBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  let file: { dir: string; path: string; out: ReturnType<typeof createWriteStream> } | undefined;
  const dispose = async () => {
    if (file) await rm(file.dir, { recursive: true, force: true });
  };
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > maxBytes) throw new PayloadTooLargeError(maxBytes);
      if (!file && size <= IN_MEMORY_BYTES) {
        chunks.push(buffer);
        continue;
      }
      if (!file) {
        const dir = await mkdtemp(path.join(tmpdir(), 'lc-proxy-'));
        const filePath = path.join(dir, 'body');
        file = { dir, path: filePath, out: createWriteStream(filePath, { mode: 0o600 }) };
        for (const earlier of chunks.splice(0)) await write(file.out, earlier);
      }
      await write(file.out, buffer);
    }
    if (file) {
      file.out.end();
      await finished(file.out);
    }
  } catch (error) {
    file?.out.destroy();
    stream.destroy();
    await dispose();
    throw error;
  }
  const bytes = file ? undefined : Buffer.concat(chunks);
  const filePath = file?.path;
  return { size, open: () => bytes ?? createReadStream(filePath!), dispose };
}

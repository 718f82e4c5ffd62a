import type {} from '@fastify/multipart';
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { LeverResume } from './data.js';

/** Lever refuses files above 50 MiB. */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

export type UploadOutcome = { ok: true; file: LeverResume['file'] } | { ok: false; status: 400 | 413; message: string };

async function drain(stream: Readable): Promise<void> {
  for await (const _chunk of stream) {
    // discarded: busboy hands out the next part only once this one was read
  }
}

/**
 * Reads the multipart part named `fieldName` as a stream, hashing it on the way, so a 50 MiB upload is never
 * held in memory and a test can compare size and sha256 with what its client sent (a proxy must pass the
 * bytes through unchanged). Other parts are read and discarded.
 */
export async function readUpload(request: FastifyRequest, fieldName: string, limitBytes = MAX_UPLOAD_BYTES): Promise<UploadOutcome> {
  if (!request.isMultipart()) return { ok: false, status: 400, message: `Expected multipart/form-data with a "${fieldName}" part` };
  let file: LeverResume['file'] | undefined;
  let tooLarge = false;
  try {
    // The plugin is registered with throwFileSizeLimit off (api.ts): busboy truncates at the limit and keeps
    // reading the body, so the 413 is answered once the request is consumed, `truncated` telling us it happened.
    for await (const part of request.parts({ limits: { fileSize: limitBytes } })) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== fieldName || file) {
        await drain(part.file);
        continue;
      }
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of part.file as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
      }
      if (part.file.truncated) tooLarge = true;
      file = { name: part.filename, ext: extname(part.filename), size, sha256: hash.digest('hex') };
    }
  } catch {
    // A malformed or cut-off body; the client is told so, as Lever would.
    return { ok: false, status: 400, message: 'Malformed multipart body' };
  }
  if (tooLarge) return { ok: false, status: 413, message: `File larger than ${limitBytes} bytes` };
  if (!file) return { ok: false, status: 400, message: `Missing "${fieldName}" part` };
  return { ok: true, file };
}

import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

/**
 * Unknown fields are an error, not silently dropped (removeAdditional off); defaults fill what is omitted;
 * the first error is enough to answer (allErrors on lets a large body make ajv work for every error).
 */
const AJV_OPTIONS = { removeAdditional: false, useDefaults: true, allErrors: false } as const;

type Validate = ReturnType<FastifySchemaCompiler<unknown>> & { schemaEnv?: unknown };

/**
 * The JSON pointer of the first string (value or key) holding a NUL, walked without recursion (a 64 KiB
 * body can nest deep). `skip`: a top-level key not to look into.
 */
function nulPointer(root: unknown, skip?: string): string | undefined {
  const pending: Array<[value: unknown, pointer: string]> = [[root, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, pointer] = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return pointer;
    } else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (pointer === '' && key === skip) continue;
        const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (key.includes('\u0000')) return at;
        pending.push([child, at]);
      }
    }
  }
  return undefined;
}

/**
 * No request string carries a NUL past validation: Postgres text and jsonb cannot store one, and the
 * driver's refusal used to surface as a 500. Checked on every part a route has a schema for, before the
 * schema, so the answer is the usual validation_failed naming the field. Not in a wildcard route's path
 * remainder (params['*']): it is never stored, only forwarded, and the route that forwards it refuses
 * control characters itself with its own code (the Lever proxy's proxy_path_invalid).
 */
function refusingNul(validate: Validate, httpPart: string | undefined): Validate {
  const skip = httpPart === 'params' ? '*' : undefined;
  const checked = ((data: unknown, context?: unknown) => {
    const pointer = nulPointer(data, skip);
    if (pointer !== undefined) {
      const error: FastifySchemaValidationError = { keyword: 'nul', instancePath: pointer, schemaPath: '#', params: {}, message: 'must not contain U+0000 (NUL)' };
      checked.errors = [error];
      return false;
    }
    const valid = (validate as (data: unknown, context?: unknown) => ReturnType<Validate>)(data, context);
    checked.errors = validate.errors ?? null;
    return valid;
  }) as Validate;
  // Fastify hands ajv's functions their parent (so a root value can be coerced or defaulted) when this is set.
  if (validate.schemaEnv) checked.schemaEnv = validate.schemaEnv;
  return checked;
}

/**
 * Fastify's validator factory, with one ajv per coercion rule. Query strings, path parameters and headers
 * are text on the wire, so `?limit=5` is coerced to the integer its schema asks for (and a lone `?tag=a`
 * to an array). A JSON body already carries its types: coercing them only hides a caller's bug, and
 * changes what it meant (`{"externalId": 42}` stored as "42", `{"enabled": "false"}` read as false,
 * `{"name": null}` as ""), so a body is validated as sent. Both keep the shared schemas and formats.
 */
export function buildRequestValidator(): BuildCompilerFromPool {
  const pool = AjvCompiler();
  return (externalSchemas) => {
    const withOptions = (coerceTypes: 'array' | false) =>
      pool(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes } }) as unknown as FastifySchemaCompiler<unknown>;
    const coercing = withOptions('array');
    const strict = withOptions(false);
    const compile = (route: Parameters<FastifySchemaCompiler<unknown>>[0]) => {
      const validate = route.httpPart === 'body' ? strict(route) : coercing(route);
      return route.httpPart === 'headers' ? validate : refusingNul(validate, route.httpPart);
    };
    // @fastify/ajv-compiler's types describe its compiler as ajv's compile(schema); Fastify calls it with the route.
    return compile as unknown as ReturnType<BuildCompilerFromPool>;
  };
}

import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Unknown fields are an error, not silently dropped (removeAdditional off); defaults fill what is omitted;
 * the first error is enough to answer (allErrors on lets a large body make ajv work for every error).
 */
const AJV_OPTIONS = { removeAdditional: false, useDefaults: true, allErrors: false } as const;

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
    const compile = (route: Parameters<FastifySchemaCompiler<unknown>>[0]) => (route.httpPart === 'body' ? strict(route) : coercing(route));
    // @fastify/ajv-compiler's types describe its compiler as ajv's compile(schema); Fastify calls it with the route.
    return compile as unknown as ReturnType<BuildCompilerFromPool>;
  };
}

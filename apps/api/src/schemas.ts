import { Type, type SchemaOptions, type TSchema } from '@sinclair/typebox';

/** The one error shape, declared on every route so OpenAPI documents it. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
    requestId: Type.String(),
  },
  { $id: 'ErrorResponse', title: 'Error' },
);

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorResponse')])) as Record<number, TSchema>;

export const LeverEnvironmentSchema = Type.Union([Type.Literal('sandbox'), Type.Literal('production')]);
// ajv's `uuid` format also accepts the `urn:uuid:` form, which Postgres' uuid type refuses: pin the
// canonical 8-4-4-4-12 hex form so a malformed id is a 400, never a driver error.
export const Uuid = Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const DateTime = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T, options?: SchemaOptions) => Type.Union([schema, Type.Null()], options);

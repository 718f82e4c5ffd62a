/** Prisma error codes we translate into domain outcomes, so driver errors never reach a handler. */
export function prismaErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

export const isUniqueViolation = (error: unknown) => prismaErrorCode(error) === 'P2002';
export const isNotFound = (error: unknown) => prismaErrorCode(error) === 'P2025';

import { isLeverEvent, type Config, type LeverEnvironment } from '@lever-connect/config';
import { randomSecret, sha256Hex } from '@lever-connect/crypto';
import type { ConnectSession, PrismaClient } from '@lever-connect/db';
import { AppError, ForbiddenError, NotFoundError, ValidationError } from '@lever-connect/errors';
import { storedTenantExternalId, upsertTenant } from '../access/tenants.js';
import { ConnectFlowError } from './errors.js';

/** The body's names for the tenant's id and name, for a 400. */
const TENANT_FIELDS = { externalId: 'tenant.externalId', name: 'tenant.name' };

export interface CreateConnectSessionInput {
  tenant: { externalId: string; name?: string | undefined };
  environment?: LeverEnvironment | undefined;
  connectionId?: string | undefined;
  returnUrl?: string | undefined;
  /** Lever events this connection's Lever webhooks deliver, instead of LEVER_WEBHOOK_EVENTS ([] = none). */
  leverWebhookEvents?: string[] | undefined;
}

export interface ConnectResult {
  status: 'pending' | 'success' | 'error';
  connectionId?: string;
  error?: string;
}

export interface SessionsDeps {
  prisma: PrismaClient;
  config: Pick<Config, 'connect' | 'lever' | 'publicBaseUrl'>;
  now: () => Date;
}

/** A used or expired session cannot start or finish a flow (410: the customer starts again from the app). */
export function assertOpen(session: ConnectSession, now: Date) {
  if (session.usedAt) throw new ConnectFlowError('connect_session_used', 'This connect link was already used', 410);
  if (session.expiresAt.getTime() <= now.getTime()) {
    throw new ConnectFlowError('connect_session_expired', 'This connect link has expired; start again from the app', 410);
  }
}

function assertReturnUrlAllowed(returnUrl: string, allowedOrigins: readonly string[]) {
  let origin: string;
  try {
    origin = new URL(returnUrl).origin;
  } catch {
    throw new ValidationError('returnUrl is not a valid URL', { field: 'returnUrl' });
  }
  if (!allowedOrigins.includes(origin)) {
    throw new AppError('return_url_not_allowed', `returnUrl origin ${origin} is not in CONNECT_ALLOWED_ORIGINS`, 400, { field: 'returnUrl' });
  }
}

/**
 * Connect sessions: one per "Connect Lever" click the operator prepares for a tenant. The token is a bearer
 * secret shown once (stored as SHA-256); a session ends used (success) or expired, and records the outcome
 * the button polls for.
 */
export function createConnectSessions(deps: SessionsDeps) {
  const sessionNotFound = () => new ConnectFlowError('connect_session_not_found', 'This connect link is not valid', 404);

  async function find(token: string): Promise<ConnectSession> {
    const session = await deps.prisma.connectSession.findUnique({ where: { tokenHash: sha256Hex(token) } });
    if (!session) throw sessionNotFound();
    return session;
  }

  /** The environment of a new session: a reconnect's own, checked against what the caller asked. */
  async function environmentFor(input: CreateConnectSessionInput, tenantId: string): Promise<LeverEnvironment> {
    if (!input.connectionId) return input.environment ?? 'production';
    const connection = await deps.prisma.connection.findUnique({ where: { id: input.connectionId } });
    if (!connection || connection.tenantId !== tenantId || connection.status === 'disconnected') {
      throw new NotFoundError('Connection', { field: 'connectionId' });
    }
    if (input.environment && input.environment !== connection.environment) {
      throw new ValidationError(`connection ${connection.id} belongs to the ${connection.environment} environment`, { field: 'environment' });
    }
    return connection.environment;
  }

  return {
    async create(input: CreateConnectSessionInput, scope: { tenantExternalId?: string | null } = {}) {
      // Checked (400) before the scope (403), against the tenant the id resolves to: a scoped key's tenant is
      // the same whichever Unicode form names it, and never a twin stored under another form.
      const externalId = await storedTenantExternalId(deps.prisma, input.tenant.externalId, TENANT_FIELDS.externalId);
      if (scope.tenantExternalId && scope.tenantExternalId !== externalId) {
        throw new ForbiddenError('A tenant-scoped API key can create connect sessions only for its own tenant');
      }
      if (input.returnUrl !== undefined) assertReturnUrlAllowed(input.returnUrl, deps.config.connect.allowedOrigins);
      const unknownEvent = input.leverWebhookEvents?.find((e) => !isLeverEvent(e));
      if (unknownEvent !== undefined) throw new ValidationError(`leverWebhookEvents: "${unknownEvent}" is not a Lever webhook event`, { field: 'leverWebhookEvents' });
      const tenant = await upsertTenant(deps.prisma, { ...input.tenant, externalId }, TENANT_FIELDS);
      const environment = await environmentFor(input, tenant.id);
      if (!deps.config.lever.environments[environment].clientId) {
        throw new AppError(
          'environment_not_configured',
          `The ${environment} Lever environment has no OAuth client configured (LEVER_${environment.toUpperCase()}_CLIENT_ID)`,
          400,
          { field: 'environment' },
        );
      }
      const token = randomSecret('cs');
      const expiresAt = new Date(deps.now().getTime() + deps.config.connect.sessionTtlSeconds * 1000);
      const session = await deps.prisma.connectSession.create({
        data: {
          tokenHash: sha256Hex(token),
          tenantId: tenant.id,
          environment,
          connectionId: input.connectionId ?? null,
          returnUrl: input.returnUrl ?? null,
          leverWebhookEvents: [...new Set(input.leverWebhookEvents ?? [])],
          leverWebhookEventsChosen: input.leverWebhookEvents !== undefined,
          expiresAt,
        },
      });
      return {
        id: session.id,
        token,
        connectUrl: `${deps.config.publicBaseUrl}/connect/${token}`,
        expiresAt,
        environment,
        tenant: { externalId: tenant.externalId },
      };
    },

    /** Resolves an open session from its token (404 unknown, 410 used or expired). */
    async open(token: string): Promise<ConnectSession> {
      const session = await find(token);
      assertOpen(session, deps.now());
      return session;
    },

    /**
     * The outcome for the button's polling (no secrets). Unknown tokens are 404, and so is a session that
     * finished (used, or expired) more than CONNECT_RESULT_TTL_SECONDS ago: the button has long had its
     * answer by then, and a token that leaked later (a log, a browser history) must not keep telling who
     * connected which connection. An error recorded on an open session does not finish it (the customer may
     * try again until it expires).
     */
    async result(token: string): Promise<ConnectResult & { returnUrl: string | null }> {
      const session = await find(token);
      const finishedAt = session.usedAt ?? session.expiresAt;
      if (deps.now().getTime() >= finishedAt.getTime() + deps.config.connect.resultTtlSeconds * 1000) throw sessionNotFound();
      const status = (session.resultStatus as ConnectResult['status'] | null) ?? 'pending';
      return {
        status,
        ...(session.resultConnectionId ? { connectionId: session.resultConnectionId } : {}),
        ...(session.resultError ? { error: session.resultError } : {}),
        returnUrl: session.returnUrl,
      };
    },

    byId(id: string): Promise<ConnectSession | null> {
      return deps.prisma.connectSession.findUnique({ where: { id } });
    },

    /**
     * A new attempt (retry after a denial or a closed popup) makes the outcome pending again, so the button's
     * polling never reads the previous attempt's error as this one's.
     */
    async markPending(session: ConnectSession): Promise<void> {
      if (!session.resultStatus) return;
      await deps.prisma.connectSession.updateMany({ where: { id: session.id, usedAt: null }, data: { resultStatus: null, resultError: null } });
    },

    /** Records a failed outcome (denied, Lever error) without consuming the session: the customer may retry. */
    async recordError(sessionId: string, code: string): Promise<void> {
      await deps.prisma.connectSession.updateMany({ where: { id: sessionId, usedAt: null }, data: { resultStatus: 'error', resultError: code } });
    },

    /** A reconnect whose connection is gone cannot complete: found out before a grant is created for it. */
    async assertReconnectable(session: ConnectSession): Promise<void> {
      if (!session.connectionId) return;
      const connection = await deps.prisma.connection.findUnique({ where: { id: session.connectionId }, select: { status: true } });
      if (!connection || connection.status === 'disconnected') {
        throw new ConnectFlowError('connection_not_found', 'The connection to re-authorize no longer exists', 404);
      }
    },
  };
}

export type ConnectSessions = ReturnType<typeof createConnectSessions>;

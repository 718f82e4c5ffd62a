import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConnectFlowError, type ConnectService } from '@lever-connect/connections';
import type { ConnectSession } from '@lever-connect/db';
import { AppError } from '@lever-connect/errors';
import { parseTokenResponse } from '@lever-connect/lever';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectResultPage, type ConnectOutcome } from '../pages/connect-result.js';
import { sendError, toErrorResponse } from '../plugins/errors.js';
import { DateTime, errorResponses, LeverEnvironmentSchema, Uuid } from '../schemas.js';

const ConnectSessionBody = Type.Object(
  {
    tenant: Type.Object(
      {
        externalId: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s].*$' }),
        name: Type.Optional(Type.String({ maxLength: 200 })),
      },
      { additionalProperties: false },
    ),
    environment: Type.Optional(LeverEnvironmentSchema),
    connectionId: Type.Optional(Uuid),
    returnUrl: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

const ConnectSessionResponse = Type.Object({
  token: Type.String({ description: 'Single-use connect token; shown once' }),
  connectUrl: Type.String({ description: 'Open this URL (popup or redirect) to run the Lever authorization' }),
  expiresAt: DateTime,
  environment: LeverEnvironmentSchema,
});

const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });

const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 2000 })),
  state: Type.Optional(Type.String({ maxLength: 200 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
  error_description: Type.Optional(Type.String({ maxLength: 2000 })),
});

const ResultResponse = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('success'), Type.Literal('error')]),
  connectionId: Type.Optional(Uuid),
  error: Type.Optional(Type.String()),
});

const wantsHtml = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/html');

function sendPage(reply: FastifyReply, status: number, html: string, nonce: string) {
  return reply
    .code(status)
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'`)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/**
 * Answers a browser-facing failure: an HTML page for people (with the code), the JSON error shape for
 * programs. Never a 500 for bad input.
 */
function sendFlowError(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, error: unknown) {
  if (!wantsHtml(request)) return sendError(reply, request, error);
  const { status, body } = toErrorResponse(error, request.id);
  if (status >= 500) request.log.error({ err: error }, 'connect flow failed');
  const nonce = randomBytes(16).toString('base64');
  return sendPage(
    reply,
    status,
    connectResultPage({ status: 'error', error: body.error.code }, app.core.config.connect.allowedOrigins, nonce),
    nonce,
  );
}

/** Where a full-redirect flow sends the browser back, with the outcome in the query. */
function returnLocation(returnUrl: string, outcome: ConnectOutcome): string {
  const url = new URL(returnUrl);
  url.searchParams.set('status', outcome.status);
  if (outcome.connectionId) url.searchParams.set('connection_id', outcome.connectionId);
  if (outcome.error) url.searchParams.set('error', outcome.error);
  return url.toString();
}

function finish(app: FastifyInstance, reply: FastifyReply, session: ConnectSession, mode: 'popup' | 'redirect', outcome: ConnectOutcome) {
  if (mode === 'redirect' && session.returnUrl) return reply.redirect(returnLocation(session.returnUrl, outcome), 303);
  const nonce = randomBytes(16).toString('base64');
  return sendPage(reply, 200, connectResultPage(outcome, app.core.config.connect.allowedOrigins, nonce), nonce);
}

async function exchangeFailure(connect: ConnectService, sessionId: string, error: unknown): Promise<AppError> {
  // simple-oauth2 raises Boom errors carrying Lever's OAuth JSON; the code is the customer's to retry.
  const payload = (error as { data?: { payload?: { error?: string } } }).data?.payload;
  const code = payload?.error === 'invalid_grant' ? 'code_exchange_failed' : 'lever_token_endpoint_error';
  await connect.recordError(sessionId, code);
  return new AppError(code, 'Lever did not accept the authorization code', 502);
}

export default async function connectRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { connect } = app.core;

  r.post(
    '/v1/connect-sessions',
    {
      schema: {
        tags: ['connect'],
        summary: 'Create a connect session for one tenant (its token opens the "Connect Lever" flow)',
        body: ConnectSessionBody,
        response: { 201: ConnectSessionResponse, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const session = await connect.createSession(request.body, { tenantExternalId: request.principal?.tenantExternalId });
      return reply.code(201).send({ ...session, expiresAt: session.expiresAt.toISOString() });
    },
  );

  r.get(
    '/connect/:token',
    {
      schema: {
        tags: ['connect'],
        summary: 'Start the Lever authorization for a connect session (302 to Lever)',
        params: TokenParams,
        querystring: Type.Object({ mode: Type.Optional(Type.Union([Type.Literal('popup'), Type.Literal('redirect')])) }),
        response: { 302: Type.Null(), ...errorResponses(400, 404, 410) },
      },
    },
    async (request, reply) => {
      try {
        const session = await connect.openSession(request.params.token);
        const oauth = app.leverOAuth[session.environment];
        if (!oauth) throw new AppError('environment_not_configured', `The ${session.environment} environment is not configured`, 400);
        request.connectSession = session;
        request.connectMode = request.query.mode ?? 'redirect';
        const location = await oauth.generateAuthorizationUri(request, reply);
        return reply.header('cache-control', 'no-store').redirect(location, 302);
      } catch (error) {
        return sendFlowError(app, request, reply, error);
      }
    },
  );

  r.get(
    '/connect/:token/result',
    {
      schema: {
        tags: ['connect'],
        summary: "The connect flow's outcome, polled by the button while the popup is open (no secrets)",
        params: TokenParams,
        response: { 200: ResultResponse, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { returnUrl: _returnUrl, ...result } = await connect.sessionResult(request.params.token);
      // The button polls this from the operator's page, which may live on another allowed origin.
      const origin = request.headers.origin;
      if (origin && app.core.config.connect.allowedOrigins.includes(origin)) {
        void reply.header('access-control-allow-origin', origin).header('vary', 'origin');
      }
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  r.get(
    '/oauth/callback',
    {
      schema: {
        tags: ['connect'],
        summary: "Lever's redirect back after consent (shared by both environments)",
        querystring: CallbackQuery,
        response: { 200: Type.String(), 303: Type.Null(), ...errorResponses(400, 404, 409, 410, 502) },
      },
    },
    async (request, reply) => {
      const { code, state, error } = request.query;
      try {
        if (!state) throw new ConnectFlowError('state_missing', 'The callback has no state parameter', 400);
        const stored = await connect.peekState(state);
        if (!stored) throw new ConnectFlowError('state_invalid', 'The state is unknown, expired or already used', 400);
        const session = await connect.sessionById(stored.sessionId);
        if (!session) throw new ConnectFlowError('state_invalid', 'The state is unknown, expired or already used', 400);
        request.connectSession = session;
        if (error || !code) {
          // Lever's error wins over a code sent alongside it; the state is spent either way.
          await connect.consumeState(state);
          const reason = error === 'access_denied' ? 'access_denied' : error ? 'lever_authorization_error' : 'code_missing';
          await connect.recordError(session.id, reason);
          return finish(app, reply, session, stored.mode, { status: 'error', error: reason });
        }
        const oauth = app.leverOAuth[stored.environment];
        let token;
        try {
          token = (await oauth.getAccessTokenFromAuthorizationCodeFlow(request, reply)).token;
        } catch (exchangeError) {
          if ((exchangeError as Error).message === 'Invalid state') {
            throw new ConnectFlowError('state_invalid', 'The state is unknown, expired, already used or from another browser', 400);
          }
          throw await exchangeFailure(connect, session.id, exchangeError);
        }
        let result;
        try {
          result = await connect.completeAuthorization(session.id, parseTokenResponse(token, new Date()));
        } catch (completeError) {
          if (completeError instanceof AppError) await connect.recordError(session.id, completeError.code);
          throw completeError;
        }
        request.log.info({ connectionId: result.connection.id, created: result.created }, 'connect completed');
        await app.core.scheduler.schedule(result.connection).catch((err: unknown) => {
          // The reconciler re-creates it from Postgres within a minute.
          request.log.warn({ err, connectionId: result.connection.id }, 'scheduling the first refresh failed');
        });
        return finish(app, reply, session, stored.mode, { status: 'success', connectionId: result.connection.id });
      } catch (flowError) {
        return sendFlowError(app, request, reply, flowError);
      }
    },
  );
}

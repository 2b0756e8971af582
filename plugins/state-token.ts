import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import fp from 'fastify-plugin'
import { csvList } from './config.js'
import { randomText } from './random.js'

export const TOKEN_KINDS = ['connect', 'facebook', 'shopify'] as const
export type TokenKind = typeof TOKEN_KINDS[number]

export const WORKSPACE_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$'
const MAX_TOKEN_LENGTH = 1024
const MAX_FUTURE_SKEW_SECONDS = 30
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{1,960}\.[A-Za-z0-9_-]{43}$/
const SIGNING_DOMAIN = 'state-token/v1.'
const CANONICAL_LAST = /[AEIMQUYcgkosw048]$/

const ClaimsSchema = Type.Object({
  v: Type.Literal(1),
  kind: Type.Union(TOKEN_KINDS.map(kind => Type.Literal(kind))),
  workspace: Type.String({ pattern: WORKSPACE_PATTERN }),
  iat: Type.Integer({ minimum: 0 }),
  exp: Type.Integer({ minimum: 0 }),
  nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }),
  binding: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
  linkExp: Type.Optional(Type.Integer({ minimum: 0 }))
}, { additionalProperties: false })
const checkClaims = TypeCompiler.Compile(ClaimsSchema)

export type Claims = Static<typeof ClaimsSchema>
export interface IssueOptions {
  ttlSeconds?: number
  /** an absolute expiry in seconds since the epoch, instead of ttlSeconds */
  expiresAt?: number
  /** base64url SHA-256 of a value only the browser holds (its cookie), binding the token to that browser */
  binding?: string
  /** expiry of the connect link the flow started from, so the flow can return to it */
  linkExp?: number
}

export type StateTokenFailure = 'malformed' | 'signature' | 'expired' | 'future' | 'kind'
export class StateTokenError extends Error {
  override name = 'StateTokenError'
  constructor (readonly reason: StateTokenFailure) {
    super(`state token refused: ${reason}`)
  }
}

const sign = (secret: KeyObject, payload: string) =>
  createHmac('sha256', secret).update(SIGNING_DOMAIN).update(payload).digest()

/** Secrets as key objects, made once: an HMAC keyed by a KeyObject skips re-importing the key on every call. */
export const signingKeys = (secrets: string[]): KeyObject[] => secrets.map(secret => createSecretKey(Buffer.from(secret)))

export function issueToken (secrets: KeyObject[], kind: TokenKind, workspace: string, options: IssueOptions, nowSeconds: number): string {
  const claims: Claims = {
    v: 1,
    kind,
    workspace,
    iat: nowSeconds,
    exp: options.expiresAt ?? nowSeconds + (options.ttlSeconds ?? 0),
    nonce: randomText(16),
    ...(options.binding === undefined ? {} : { binding: options.binding }),
    ...(options.linkExp === undefined ? {} : { linkExp: options.linkExp })
  }
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${payload}.${sign(secrets[0]!, payload).toString('base64url')}`
}

/** Shape and length are checked before any crypto; the signature before the payload is parsed. */
export function verifyToken (secrets: KeyObject[], token: unknown, kind: TokenKind, nowSeconds: number): Claims {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) {
    throw new StateTokenError('malformed')
  }
  const dot = token.indexOf('.')
  const payload = token.slice(0, dot)
  // 43 base64url characters carry 258 bits: the last one's 2 spare bits must be zero, or several spellings
  // of one signature would verify.
  if (!CANONICAL_LAST.test(token)) throw new StateTokenError('malformed')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  if (!secrets.some(secret => timingSafeEqual(signature, sign(secret, payload)))) throw new StateTokenError('signature')

  let claims: unknown
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    throw new StateTokenError('malformed')
  }
  if (!checkClaims.Check(claims)) throw new StateTokenError('malformed')
  if (claims.kind !== kind) throw new StateTokenError('kind')
  if (claims.iat > nowSeconds + MAX_FUTURE_SKEW_SECONDS) throw new StateTokenError('future')
  if (claims.exp <= nowSeconds) throw new StateTokenError('expired')
  return claims
}

export interface StateTokens {
  issue (kind: TokenKind, workspace: string, options: IssueOptions): string
  verify (token: unknown, kind: TokenKind): Claims
}

declare module 'fastify' {
  interface FastifyInstance {
    stateToken: StateTokens
  }
}

export default fp<{ clock?: () => number }>(async (fastify, { clock = Date.now }) => {
  const secrets = signingKeys(csvList(fastify.config.STATE_TOKEN_SECRET))
  const now = () => Math.floor(clock() / 1000)
  fastify.decorate('stateToken', {
    issue: (kind, workspace, options) => issueToken(secrets, kind, workspace, options, now()),
    verify: (token, kind) => verifyToken(secrets, token, kind, now())
  } satisfies StateTokens)
}, { name: 'state-token', dependencies: ['config'], fastify: '5.x' })

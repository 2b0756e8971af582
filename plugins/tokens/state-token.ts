import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import { csvList } from '../core/config.js'
import { randomText } from './random.js'
import { type Claims, decodeClaims, encodeClaims, type TokenKind } from './state-token-codec.js'

export { type Claims, TOKEN_KINDS, type TokenKind, WORKSPACE_PATTERN } from './state-token-codec.js'

const MAX_TOKEN_LENGTH = 512
const MAX_FUTURE_SKEW_SECONDS = 30
// A 38-300 character payload, then 43 characters of signature: 258 bits for 256, so the last character's two
// spare bits must be zero, or several spellings of one signature would verify.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{38,300}\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/
const SIGNING_DOMAIN = 'state-token/v1.'
const REMEMBERED_LINKS = 1024

export interface IssueOptions {
  ttlSeconds?: number
  /** an absolute expiry in seconds since the epoch, instead of ttlSeconds */
  expiresAt?: number
  /** base64url SHA-256 of a value only the browser holds (its cookie), binding the token to that browser */
  binding?: string
  /** expiry of the connect link the flow started from, so the flow can return to it */
  linkExp?: number
  /** the Shopify shop the flow is for */
  shop?: string
}

export type StateTokenFailure = 'malformed' | 'signature' | 'expired' | 'future' | 'kind'
export class StateTokenError extends Error {
  override name = 'StateTokenError'
  constructor (readonly reason: StateTokenFailure) {
    super(`state token refused: ${reason}`)
  }
}

const signer = (secret: KeyObject, payload: string) => createHmac('sha256', secret).update(SIGNING_DOMAIN).update(payload)

/** Secrets as key objects, made once: an HMAC keyed by a KeyObject skips re-importing the key on every call. */
export const signingKeys = (secrets: string[]): KeyObject[] => secrets.map(secret => createSecretKey(Buffer.from(secret)))

export function issueToken (secrets: KeyObject[], kind: TokenKind, workspace: string, options: IssueOptions, nowSeconds: number): string {
  const claims: Claims = {
    kind,
    workspace,
    iat: nowSeconds,
    exp: options.expiresAt ?? nowSeconds + (options.ttlSeconds ?? 0),
    nonce: randomText(16),
    ...(options.binding === undefined ? {} : { binding: options.binding }),
    ...(options.linkExp === undefined ? {} : { linkExp: options.linkExp }),
    ...(options.shop === undefined ? {} : { shop: options.shop })
  }
  const payload = encodeClaims(claims).toString('base64url')
  return `${payload}.${signer(secrets[0]!, payload).digest('base64url')}`
}

/** Shape and length are checked before any crypto; the signature before the payload is parsed. */
export function verifyToken (secrets: KeyObject[], token: unknown, kind: TokenKind, nowSeconds: number): Claims {
  return checkClaims(signedClaims(secrets, token), kind, nowSeconds)
}

/** The claims of a well-formed token signed with one of `secrets`; their kind and times are not checked. */
function signedClaims (secrets: KeyObject[], token: unknown): Claims {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) {
    throw new StateTokenError('malformed')
  }
  const dot = token.indexOf('.')
  const payload = token.slice(0, dot)
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  if (!secrets.some(secret => timingSafeEqual(signature, signer(secret, payload).digest()))) throw new StateTokenError('signature')

  const claims = decodeClaims(Buffer.from(payload, 'base64url'))
  if (claims === undefined) throw new StateTokenError('malformed')
  return claims
}

function checkClaims (claims: Claims, kind: TokenKind, nowSeconds: number): Claims {
  if (claims.kind !== kind) throw new StateTokenError('kind')
  if (claims.iat > nowSeconds + MAX_FUTURE_SKEW_SECONDS) throw new StateTokenError('future')
  if (claims.exp <= nowSeconds) throw new StateTokenError('expired')
  return claims
}

/**
 * `signed`, remembering the claims of the last `max` tokens it accepted: a token's signature and payload never
 * change their verdict, so a remembered token costs a lookup. A refused token is checked again each time.
 */
export function rememberSigned (signed: (token: string) => Claims, max: number): (token: string) => Claims {
  const remembered = new Map<string, Claims>()
  return token => {
    let claims = remembered.get(token)
    if (claims === undefined) {
      claims = Object.freeze(signed(token))
      if (remembered.size >= max) remembered.delete(remembered.keys().next().value!)
      remembered.set(token, claims)
    }
    return claims
  }
}

export interface StateTokens {
  issue (kind: TokenKind, workspace: string, options: IssueOptions): string
  verify (token: unknown, kind: TokenKind): Claims
}

/**
 * A callback's state claims, or undefined when the state does not verify: the callback first clears the browser
 * binding and then decides which refusal the person sees.
 */
export function callbackClaims (tokens: StateTokens, state: string | undefined, kind: 'facebook' | 'shopify'): Claims | undefined {
  try {
    return tokens.verify(state, kind)
  } catch (err) {
    if (err instanceof StateTokenError) return undefined
    throw err
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    stateToken: StateTokens
  }
}

export default fp<{ clock?: () => number }>(async (fastify, { clock = Date.now }) => {
  const secrets = signingKeys(csvList(fastify.config.STATE_TOKEN_SECRET))
  const now = () => Math.floor(clock() / 1000)
  // A connect link is verified on each view of the connect page and at each login it starts, as long as it
  // lives; a state token once, at its callback.
  const signedLink = rememberSigned(token => signedClaims(secrets, token), REMEMBERED_LINKS)
  fastify.decorate('stateToken', {
    issue: (kind, workspace, options) => issueToken(secrets, kind, workspace, options, now()),
    verify: (token, kind) => kind === 'connect' && typeof token === 'string'
      ? checkClaims(signedLink(token), kind, now())
      : verifyToken(secrets, token, kind, now())
  } satisfies StateTokens)
}, { name: 'state-token', dependencies: ['config'], fastify: '5.x' })

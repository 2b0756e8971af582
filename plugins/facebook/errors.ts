import createError from '@fastify/error'
import { upstreamErrors } from '../core/errors.js'

export const InvalidStateError = createError('MSB_INVALID_STATE',
  'This sign-in attempt is invalid or has expired. Start again from your connect link.', 400)
export const BrowserMismatchError = createError('MSB_BROWSER_MISMATCH',
  'This sign-in was started in another browser or has already been used. Start again from your connect link.', 403)
export const LoginCancelledError = createError('MSB_LOGIN_CANCELLED',
  'Facebook Login was cancelled, so nothing was connected. Start again from your connect link when you are ready.', 403)
export const CodeRejectedError = createError('MSB_CODE_REJECTED',
  'Facebook did not accept this sign-in: it expired or was already used. Start again from your connect link.', 400)
export const { Failed: FacebookFailedError, TimedOut: FacebookTimeoutError } = upstreamErrors('FACEBOOK', 'Facebook')

import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { type Dispatcher, errors as undiciErrors } from 'undici'

/** Shared by the upstream clients (Graph, Shopify): capped bodies, compiled answer schemas, timeout detection. */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError'
}

export async function readCapped (body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > maxBytes) {
      body.destroy()
      throw new ResponseTooLargeError(`the response exceeds ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()
export function checkerFor (schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema)
  if (check === undefined) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  return check
}

/** The call's own timeout or the caller's deadline passed, or undici gave up waiting. */
export const isTimeout = (err: unknown, signal: AbortSignal) => signal.aborted || err instanceof undiciErrors.HeadersTimeoutError ||
  err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError

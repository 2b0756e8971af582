import { createHmac } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import t from 'tap'
import { createGraphClient, GraphBadAnswerError, GraphError, GraphTimeoutError, GraphUnavailableError } from '../../../plugins/facebook/graph.js'
import { APP_SECRET, GRAPH, mockGraph } from '../../helper.js'

const Me = Type.Object({ id: Type.String(), name: Type.String() })

function client (t: Parameters<typeof mockGraph>[0], timeoutMs = 1000) {
  const agent = mockGraph(t)
  const graph = createGraphClient({ baseUrl: GRAPH, version: 'v26.0', appSecret: APP_SECRET, timeoutMs, dispatcher: agent })
  t.teardown(() => agent.assertNoPendingInterceptors())
  return { graph, pool: agent.get(GRAPH) }
}

t.test('calls carry the version and, with a token, its appsecret_proof', async t => {
  const { graph, pool } = client(t)
  const proof = createHmac('sha256', APP_SECRET).update('user-token').digest('hex')
  pool.intercept({ path: '/v26.0/me', method: 'GET', query: { fields: 'id,name', access_token: 'user-token', appsecret_proof: proof } })
    .reply(200, { id: '1', name: 'Ada' })
  t.same(await graph.get('/me', { params: { fields: 'id,name' }, token: 'user-token', schema: Me }), { id: '1', name: 'Ada' })
})

t.test('calls without a token carry no appsecret_proof', async t => {
  const { graph, pool } = client(t)
  let seen = ''
  pool.intercept({ path: p => { seen = p; return p.startsWith('/v26.0/oauth/access_token') } }).reply(200, { access_token: 'x' })
  await graph.get('/oauth/access_token', { params: { code: 'c' }, schema: Type.Object({ access_token: Type.String() }) })
  t.notMatch(seen, 'appsecret_proof')
})

t.test("Graph's error object becomes a typed GraphError", async t => {
  const { graph, pool } = client(t)
  pool.intercept({ path: /^\/v26\.0\/me/ }).reply(400, {
    error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: 'AbC' }
  })
  const error = await graph.get('/me', { token: 't', schema: Me }).catch(err => err)
  t.type(error, GraphError)
  t.match(error, { status: 400, code: 190, subcode: 463, type: 'OAuthException', fbtraceId: 'AbC' })
})

t.test('answers that cannot be used become GraphBadAnswerError, a GraphUnavailableError that says Graph did answer', async t => {
  const cases: Array<[string, number, string | object]> = [
    ['a 5xx without an error object', 503, 'Service Unavailable'],
    ['a body that is not JSON', 200, '<html>'],
    ['an answer missing expected fields', 200, { id: '1' }],
    ['a 4xx without an error object', 404, { nope: true }]
  ]
  for (const [name, status, body] of cases) {
    const { graph, pool } = client(t)
    pool.intercept({ path: /^\/v26\.0\/me/ }).reply(status, typeof body === 'string' ? body : JSON.stringify(body))
    const error = await graph.get('/me', { token: 't', schema: Me }).catch(err => err)
    t.type(error, GraphBadAnswerError, name)
    t.type(error, GraphUnavailableError, name)
  }
})

t.test('a 5xx with an error object keeps Graph\'s fields', async t => {
  const { graph, pool } = client(t)
  pool.intercept({ path: /^\/v26\.0\/me/ }).reply(500, { error: { message: 'An unknown error occurred', type: 'OAuthException', code: 1 } })
  await t.rejects(graph.get('/me', { token: 't', schema: Me }), { name: 'GraphError', status: 500, code: 1 })
})

t.test('a network failure is GraphUnavailableError', async t => {
  const { graph, pool } = client(t)
  pool.intercept({ path: /^\/v26\.0\/me/ }).replyWithError(new Error('socket hang up'))
  await t.rejects(graph.get('/me', { token: 't', schema: Me }), GraphUnavailableError)
})

t.test('an answer over the size cap is refused', async t => {
  const { graph, pool } = client(t)
  pool.intercept({ path: /^\/v26\.0\/me/ }).reply(200, JSON.stringify({ id: '1', name: 'x'.repeat(1024 * 1024) }))
  await t.rejects(graph.get('/me', { token: 't', schema: Me }), { name: 'GraphUnavailableError', message: /size cap/ })
})

t.test('a call slower than the timeout is GraphTimeoutError', async t => {
  const { graph, pool } = client(t, 50)
  pool.intercept({ path: /^\/v26\.0\/me/ }).reply(200, { id: '1', name: 'Ada' }).delay(500)
  await t.rejects(graph.get('/me', { token: 't', schema: Me }), GraphTimeoutError)
})

t.test("the caller's signal sets an overall deadline", async t => {
  const { graph, pool } = client(t, 5000)
  pool.intercept({ path: /^\/v26\.0\/me/ }).reply(200, { id: '1', name: 'Ada' }).delay(500)
  const started = Date.now()
  await t.rejects(graph.get('/me', { token: 't', schema: Me, signal: AbortSignal.timeout(50) }), GraphTimeoutError)
  t.ok(Date.now() - started < 450, 'gave up at the deadline, not at the call timeout')
})

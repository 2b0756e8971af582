import t from 'tap'
import { createGraphClient, regainAccessSeconds } from '../../../plugins/facebook/graph.js'
import { createSendApi } from '../../../plugins/facebook/send-api.js'
import { APP_SECRET, GRAPH, mockGraph } from '../../helper.js'

const request = { pageId: '42', psid: '7', messagingType: 'RESPONSE' as const, message: { text: 'hi' } }

function sendApi (t: Parameters<typeof mockGraph>[0], timeoutMs = 500) {
  const agent = mockGraph(t)
  const graph = createGraphClient({ baseUrl: GRAPH, version: 'v26.0', appSecret: APP_SECRET, timeoutMs, dispatcher: agent })
  return { send: createSendApi(graph, async pageId => pageId === '42' ? 'EAApage-42' : undefined), pool: agent.get(GRAPH) }
}
const messages = (p: string) => p.startsWith('/v26.0/42/messages?')

t.test('a definite answer: sent with Meta\'s id, or Meta\'s refusal classified', async t => {
  const { send, pool } = sendApi(t)
  pool.intercept({ path: messages, method: 'POST' }).reply(200, { recipient_id: '7', message_id: 'm_1' })
  t.same(await send(request), { kind: 'sent', messageId: 'm_1' })
  pool.intercept({ path: messages, method: 'POST' }).reply(400, { error: { message: 'outside window', code: 10, error_subcode: 2018278 } })
  t.same(await send(request), { kind: 'failed', reason: 'window_closed' })
  pool.intercept({ path: messages, method: 'POST' }).reply(500, '<html>busy</html>')
  t.same(await send(request), { kind: 'retry' }, 'an answer that is not JSON: Graph answered, so it may be tried again')
})

t.test('no answer after the request may have reached Meta is unknown; a connection never made is a retry', async t => {
  const { send, pool } = sendApi(t, 100)
  pool.intercept({ path: messages, method: 'POST' }).reply(200, { message_id: 'late' }).delay(400)
  t.same(await send(request), { kind: 'unknown', reason: 'no_answer' }, 'a timeout')
  pool.intercept({ path: messages, method: 'POST' }).replyWithError(Object.assign(new Error('socket hang up'), { code: 'UND_ERR_SOCKET' }))
  t.same(await send(request), { kind: 'unknown', reason: 'no_answer' }, 'the connection lost mid-call')
  pool.intercept({ path: messages, method: 'POST' }).replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
  t.same(await send(request), { kind: 'retry' }, 'refused before anything was sent')
})

t.test('a Page without a token is not called', async t => {
  const { send } = sendApi(t)
  t.same(await send({ ...request, pageId: '43' }), { kind: 'reconnect', reason: 'page_token_missing' })
})

t.test('X-Business-Use-Case-Usage: a throttled Page pauses for the longest estimate, in minutes', async t => {
  const { send, pool } = sendApi(t)
  const usage = JSON.stringify({ 42: [{ type: 'messenger', call_count: 100, estimated_time_to_regain_access: 3 }, { type: 'pages' }] })
  pool.intercept({ path: messages, method: 'POST' })
    .reply(400, { error: { message: 'rate', code: 32 } }, { headers: { 'x-business-use-case-usage': usage } })
  t.same(await send(request), { kind: 'pause', reason: 'rate_limited', seconds: 180 })
  t.equal(regainAccessSeconds('not json'), 0)
  t.equal(regainAccessSeconds(JSON.stringify({ 1: [{ estimated_time_to_regain_access: 'soon' }] })), 0)
  t.equal(regainAccessSeconds(undefined), 0)
})

import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { childLoggerFactory, loggerOptions, RequestLogController } from '../src/logger.js'
import { logCapture } from './helper.js'

async function server (t: Test) {
  const logs = logCapture()
  const fastify = Fastify({ logger: loggerOptions('info', logs.stream), logController: new RequestLogController(), childLoggerFactory })
  t.teardown(() => fastify.close())
  fastify.get('/work', async request => {
    request.log.child({ pageId: '42' }).info({ code: 'E_OURS', answer: { access_token: 'SECRET-1', paging: { next: 'SECRET-2' } } }, 'worked')
    return request.id
  })
  fastify.log.info('not a request')
  return { fastify, lines: () => logs.lines.map(line => JSON.parse(line) as Record<string, unknown>) }
}

t.test('lines logged during a request carry its id, from a child of its logger too', async t => {
  const { fastify, lines } = await server(t)
  const first = await fastify.inject('/work?link=SECRET-3')
  const second = await fastify.inject('/work')
  const byMessage = (msg: string) => lines().filter(line => line.msg === msg)
  const ids = [first.body, second.body]
  t.not(ids[0], ids[1])
  t.same(byMessage('worked').map(line => line.requestId), ids)
  t.equal(byMessage('worked')[0]!.pageId, '42')
  t.same(byMessage('request completed').map(line => line.requestId), ids)
  t.has(byMessage('request completed')[0], { path: '/work', statusCode: 200 }, 'the path, not the query')
  t.notOk('requestId' in byMessage('not a request')[0]!, 'no id outside a request')
})

t.test('a secret nested in a logged object is redacted; our own top-level code is kept', async t => {
  const { fastify, lines } = await server(t)
  await fastify.inject('/work?link=SECRET-3')
  const worked = lines().find(line => line.msg === 'worked')!
  t.same(worked.answer, { access_token: '[redacted]', paging: { next: '[redacted]' } })
  t.equal(worked.code, 'E_OURS')
  t.notOk(JSON.stringify(lines()).includes('SECRET-'))
})

t.test('errors are logged with their code and message, never a database error\'s statement, parameters or values', async t => {
  const logs = logCapture()
  const fastify = Fastify({ logger: loggerOptions('info', logs.stream), logController: new RequestLogController(), childLoggerFactory })
  t.teardown(() => fastify.close())
  const failing = Object.assign(new Error('insert failed'), {
    code: '22P02',
    query: 'INSERT INTO messages (text) VALUES ($1)',
    params: ['my home address is CUSTOMER-WORDS'],
    detail: 'Key (psid)=(CUSTOMER-PSID) already exists.',
    where: 'CUSTOMER-CONTEXT'
  })
  fastify.log.warn({ err: failing }, 'inbox item failed')
  fastify.log.error({ err: Object.assign(new Error('listen EADDRINUSE: address already in use'), { code: 'EADDRINUSE' }) }, 'cannot listen')
  const [db, port] = logs.lines.map(line => JSON.parse(line) as { err: Record<string, unknown> })
  t.match(db!.err, { type: 'Error', message: 'insert failed', code: '22P02' })
  t.notOk(logs.lines.join('\n').includes('CUSTOMER-'), 'no parameter, detail or context')
  t.notOk('query' in db!.err, 'no statement')
  t.equal(port!.err.code, 'EADDRINUSE', 'an error\'s code is not redacted')
})

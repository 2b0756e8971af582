import t from 'tap'
import { classifySendError } from '../../../plugins/facebook/send-errors.js'

// One row per line of the table in the issue (Meta's Send API errors, 2026).
const rows: Array<[string, number, number | undefined, number | undefined, ReturnType<typeof classifySendError>]> = [
  ['1: unknown error', 400, 1, undefined, { kind: 'retry' }],
  ['2: service temporarily unavailable', 503, 2, undefined, { kind: 'retry' }],
  ['4: application rate limit', 400, 4, undefined, { kind: 'retry' }],
  ['17: user rate limit', 400, 17, undefined, { kind: 'retry' }],
  ['32: Page rate limit', 400, 32, undefined, { kind: 'retry' }],
  ['613: calls exceeded', 400, 613, undefined, { kind: 'retry' }],
  ['5xx with a Graph error body', 500, 9999, undefined, { kind: 'retry' }],
  ['10/2018278: outside the window', 400, 10, 2018278, { kind: 'failed', reason: 'window_closed' }],
  ['551: person unavailable', 400, 551, undefined, { kind: 'unreachable', reason: 'unreachable' }],
  ['200/1545041: person unavailable', 400, 200, 1545041, { kind: 'unreachable', reason: 'unreachable' }],
  ['190: Page token invalid', 400, 190, undefined, { kind: 'reconnect', reason: 'page_token_invalid' }],
  ['10/1893063: Page restricted', 400, 10, 1893063, { kind: 'pause', reason: 'page_restricted', seconds: 3600 }],
  ['100: invalid parameter (a retired tag)', 400, 100, undefined, { kind: 'failed', reason: 'meta_error_100' }],
  ['10 without a known subcode', 403, 10, 7, { kind: 'failed', reason: 'meta_error_10' }],
  ['another 4xx without a code', 404, undefined, undefined, { kind: 'failed', reason: 'refused_404' }]
]

for (const [name, status, code, subcode, expected] of rows) {
  t.test(name, async t => { t.same(classifySendError(status, code, subcode), expected) })
}

t.test('a retryable refusal with Meta\'s estimate of when access returns pauses the Page that long', async t => {
  t.same(classifySendError(400, 613, undefined, 300), { kind: 'pause', reason: 'rate_limited', seconds: 300 })
  t.same(classifySendError(503, 2, undefined, 60), { kind: 'pause', reason: 'rate_limited', seconds: 60 })
  t.same(classifySendError(400, 100, undefined, 300), { kind: 'failed', reason: 'meta_error_100' }, 'a final error stays final')
  t.same(classifySendError(400, 613, undefined, 0), { kind: 'retry' }, 'no estimate: an ordinary retry')
})

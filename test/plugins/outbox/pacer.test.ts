import t from 'tap'
import { createPacer } from '../../../plugins/outbox/pacer.js'

t.test('a Page\'s calls go one spacing apart, each Page on its own', async t => {
  const pacer = createPacer(20)
  const started = Date.now()
  const times: number[] = []
  const order: string[] = []
  await Promise.all([
    ...[1, 2, 3, 4].map(n => pacer.turn('a', false).then(() => { times.push(Date.now() - started); order.push(`a${n}`) })),
    ...[1, 2].map(n => pacer.turn('b', false).then(() => order.push(`b${n}`)))
  ])
  const gaps = times.slice(1).map((at, i) => at - times[i]!)
  t.ok(gaps.every(gap => gap >= 19), `Page a: ${gaps.join(', ')} ms apart`)
  t.ok(order.indexOf('b1') < order.indexOf('a2'), `Page b does not wait for Page a (${order.join(' ')})`)
  t.ok(order.indexOf('b2') < order.indexOf('a3'), 'nor does its second call')
})

t.test('an urgent call (a reply) goes before every campaign call still waiting, after the urgent ones before it', async t => {
  const pacer = createPacer(15)
  const order: string[] = []
  const waits = ['c1', 'c2', 'c3', 'c4'].map(name => pacer.turn('p', false).then(() => order.push(name)))
  await pacer.turn('p', false).then(() => order.push('c5'))
  t.same(order, ['c1', 'c2', 'c3', 'c4', 'c5'], 'campaign calls in the order they came')
  order.length = 0
  const later = ['c6', 'c7', 'c8'].map(name => pacer.turn('p', false).then(() => order.push(name)))
  const replies = ['r1', 'r2'].map(name => pacer.turn('p', true).then(() => order.push(name)))
  await Promise.all([...waits, ...later, ...replies])
  t.same(order, ['r1', 'r2', 'c6', 'c7', 'c8'], 'the replies overtook the campaign calls waiting')
  t.ok(pacer.aheadMs('p') <= 15, 'nothing left waiting')
  t.equal(pacer.aheadMs('unknown'), 0)
})

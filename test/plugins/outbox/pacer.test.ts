import t from 'tap'
import { createPacer } from '../../../plugins/outbox/pacer.js'

// The spacing itself is asserted on an injected clock below; real timers under load only show the order.
t.test('each Page has its own line', async t => {
  const pacer = createPacer(20)
  const order: string[] = []
  await Promise.all([
    ...[1, 2, 3, 4].map(n => pacer.turn('a', false).then(() => order.push(`a${n}`))),
    ...[1, 2].map(n => pacer.turn('b', false).then(() => order.push(`b${n}`)))
  ])
  t.ok(order.indexOf('b1') < order.indexOf('a2'), `Page b does not wait for Page a (${order.join(' ')})`)
  t.ok(order.indexOf('b2') < order.indexOf('a3'), 'nor does its second call')
})

t.test('what a Page has waiting is counted in slots', async t => {
  let frozen: number | undefined = 1000
  const pacer = createPacer(20, () => frozen ?? Date.now())
  const turns = [1, 2, 3, 4].map(() => pacer.turn('a', false))
  await turns[0]
  t.equal(pacer.aheadMs('a'), 20 + 2 * 20, 'the second turn\'s slot 20 ms away, then two more')
  frozen = undefined
  await Promise.all(turns)
  t.equal(pacer.aheadMs('a'), 0, 'none waiting')
})

t.test('a timer that fires before its slot (Node times it from the start of a busy loop turn) waits for the slot', async t => {
  let clock = 1000
  const pacer = createPacer(20, () => clock)
  await pacer.turn('p', false)
  let released = false
  const second = pacer.turn('p', false).then(() => { released = true })
  clock += 5 // the second turn's timer fires with its slot still 15 ms away
  await new Promise(resolve => setTimeout(resolve, 40))
  t.notOk(released, 'not released before its slot')
  clock += 15
  await second
  t.ok(released, 'released at its slot')
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
  t.equal(pacer.aheadMs('p'), 0, 'nothing left waiting')
  t.equal(pacer.aheadMs('unknown'), 0)
})

t.test('a turn given late keeps its slot, so the next ones make the lateness up; past CATCH_UP_MS the slots start again from now', async t => {
  for (const [lateMs, caughtUp] of [[15, true], [35, false]] as const) {
    let clock = 1000
    const pacer = createPacer(10, () => clock)
    await pacer.turn('p', false)
    const released: string[] = []
    const second = pacer.turn('p', false).then(() => released.push('second'))
    const third = pacer.turn('p', false).then(() => released.push('third'))
    clock += 10 + lateMs // the clock says the second turn's timer fired lateMs after its slot
    await second
    await new Promise(resolve => setImmediate(resolve))
    t.equal(released.includes('third'), caughtUp, `late by ${lateMs} ms: the third turn ${caughtUp ? 'follows at once' : 'waits its spacing'}`)
    clock += 10
    await third
  }
})

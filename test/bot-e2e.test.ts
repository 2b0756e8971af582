import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { SentMessage } from '../tools/emulator/facebook.js'
import { testDb, untrackedLinks } from './helper.js'
import { eventually, SHOP, startSalesStack } from './sales-stack.js'

/** The bot over real HTTP: both emulators, a connected Page and shop, customers writing through the emulator. */
const db = await testDb(t)
const stack = await startSalesStack(t, db, 'e2e-bot')
const { facebook, admin } = stack
const PAGE = '104000000000001'

interface Card { title: string, subtitle: string, image_url?: string, buttons: Array<Record<string, string>> }
type Template = { attachment: { payload: { template_type: string, elements: Card[] } } }
const to = (psid: string) => facebook.sentMessages.filter(sent => sent.psid === psid)
const texts = (psid: string) => to(psid).map(sent => sent.message.text).filter(text => typeof text === 'string') as string[]
const cardsOf = (sent: SentMessage | undefined) => (sent?.message as Template | undefined)?.attachment?.payload?.elements
async function messagesTo (psid: string, count: number) {
  return eventually(() => to(psid).length >= count ? to(psid) : undefined)
}

t.test('connecting set each messaging Page\'s welcome screen; a new greeting in the bot\'s settings follows', async t => {
  const profile = await eventually(() => facebook.profiles.get(PAGE))
  t.match(profile, { get_started: { payload: 'GET_STARTED' }, greeting: [{ locale: 'default', text: "Welcome! Ask us about our products and we'll show you what we have." }] },
    'connected before the shop: a greeting without its name')
  t.notOk(facebook.profiles.has('104000000000003'), 'not the Page without the Messaging task')
  t.equal((await admin('/bot', { method: 'PUT', body: { enabled: true, greeting: null, maxProducts: 5 } })).status, 200)
  await eventually(() => String((facebook.profiles.get(PAGE)!.greeting as Array<{ text: string }>)[0]!.text).includes(SHOP) || undefined)
  t.pass('the settings saved: the greeting names the shop')
})

t.test('a customer\'s question is answered with a carousel of the shop\'s matching products: right prices, working links', async t => {
  const psid = '2400000000000101'
  t.equal(await facebook.deliverEvents([{ pageId: PAGE, psid, event: { postback: { title: 'Get Started', payload: 'GET_STARTED' } } }]), 200)
  const [greeting] = await messagesTo(psid, 1)
  t.match(greeting!.message.text, /^You're chatting with an automated assistant\..*\n\nHi! Welcome to corner-store\.myshopify\.com/s)
  const choices = (greeting!.message.quick_replies as Array<{ title: string, payload: string }>).map(choice => choice.title)
  t.equal(choices.at(-1), 'Talk to a person')
  t.ok(choices.length >= 2, `the shop's product types first (${choices.join(', ')})`)

  await facebook.deliverMessage(PAGE, psid, 'do you have a wool scarf under 80?')
  const [, intro, carousel] = await messagesTo(psid, 3)
  t.match(intro!.message.text, /^Here (are \d+ products|is 1 product) for "wool scarf" under €80\.00:$/)
  const cards = untrackedLinks(cardsOf(carousel)!)
  t.match(cards[0], {
    title: 'Wool Scarf 27',
    subtitle: '€72.50 · Corner Store',
    image_url: `${stack.shopify.url}/images/27.svg`,
    buttons: [
      { type: 'web_url', title: 'View', url: 'https://store.example/products/27' },
      { type: 'web_url', title: 'Buy now', url: `https://${SHOP}/cart/270:1` },
      { type: 'postback', title: 'More like this', payload: 'MORE:27' }
    ]
  }, 'the best match first, with the catalog\'s price, page and cart permalink')
  t.ok(cards.every(card => Number(/€(\d+\.\d\d)/.exec(card.subtitle)![1]) <= 80), 'every product within the price')
  t.same(intro!.messagingType, 'RESPONSE')
  const actions = facebook.senderActions.filter(action => action.psid === psid).map(action => action.action)
  t.same(actions.slice(0, 2), ['mark_seen', 'typing_on'], 'seen, then typing, before the answers')

  await facebook.deliverEvents([{ pageId: PAGE, psid, event: { postback: { title: 'More like this', payload: 'MORE:27' } } }])
  const [, , , likeIt, similar] = await messagesTo(psid, 5)
  t.equal(likeIt!.message.text, 'Here are some like it:')
  t.ok(cardsOf(similar)!.length > 0)
  t.notOk(cardsOf(similar)!.some(card => card.title === 'Wool Scarf 27'), 'never the product itself')
})

t.test('"Talk to a person" hands the conversation to the Page Inbox; a person answers; handed back, the bot answers again', async t => {
  const psid = '2400000000000102'
  await facebook.deliverMessage(PAGE, psid, 'hello')
  await messagesTo(psid, 1)
  await facebook.deliverEvents([{ pageId: PAGE, psid, event: { text: 'Talk to a person', quickReply: 'HUMAN' } }])
  const [, notice] = await messagesTo(psid, 2)
  t.equal(notice!.message.text, 'A person from the shop will answer you here as soon as they can.')
  await eventually(() => facebook.withPageInbox(PAGE, psid) || undefined)
  t.match(facebook.threadControl.filter(call => call.psid === psid), [{ action: 'pass', targetAppId: 263902037430900 }])

  await facebook.deliverMessage(PAGE, psid, 'do you have wool socks?')
  const conversation = await eventually(async () => {
    const { body } = await admin(`/pages/${PAGE}/conversations`)
    type Listed = { psid: string, withHuman: boolean, messages: Array<{ text: string }> }
    const found = (body.conversations as Listed[]).find(c => c.psid === psid)
    return found?.messages.some(message => message.text === 'do you have wool socks?') === true ? found : undefined
  })
  t.equal(conversation.withHuman, true, 'the conversation shows a person has it')
  await sleep(300)
  t.equal(to(psid).length, 2, 'the standby message is kept, never answered by the bot')

  const reply = await admin(`/pages/${PAGE}/conversations/${psid}/messages`, { method: 'POST', body: { text: 'Yes! Grey and blue, size 38-46.' } })
  t.equal(reply.status, 202)
  const [, , person] = await messagesTo(psid, 3)
  t.match(person, { messagingType: 'RESPONSE', message: { text: 'Yes! Grey and blue, size 38-46.' } })
  t.notOk('tag' in person!, 'inside the window: no tag')

  t.equal(await facebook.handBack(PAGE, psid), 200)
  await eventually(async () => {
    const { body } = await admin(`/pages/${PAGE}/conversations`)
    const found = (body.conversations as Array<{ psid: string, withHuman: boolean }>).find(c => c.psid === psid)
    return found?.withHuman === false ? true : undefined
  })
  await facebook.deliverMessage(PAGE, psid, 'wool socks')
  const [, , , again] = await messagesTo(psid, 4)
  t.match(again!.message.text, /^You're chatting with an automated assistant\./, 'handed back, the bot says again that it is one')
})

t.test('the outbox shows what was sent with Meta\'s ids; nothing went out twice', async t => {
  const { body } = await admin('/outbox?limit=100')
  const items = body.items as Array<{ status: string, messageId: string | null, source: string }>
  const sentIds = new Set(facebook.sentMessages.map(sent => sent.messageId))
  t.equal(sentIds.size, facebook.sentMessages.length, 'every message Meta accepted is a different one')
  const fromOutbox = items.filter(item => item.status === 'sent').map(item => item.messageId)
  t.same(new Set(fromOutbox), sentIds, 'each sent row is one message Meta accepted, and each accepted message one row')
  t.ok(items.some(item => item.source === 'human'))
  t.notOk(JSON.stringify(body).includes('EAA'), 'never a token')
  t.same(texts('2400000000000101').filter(text => text.startsWith('Here are some like it')).length, 1)
})

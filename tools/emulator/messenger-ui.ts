/**
 * A small Messenger for the demo and the browser tests: a person types as a customer of a Page and sees what the
 * Page's bot sends, rendered as Messenger shows it (text, the generic template's cards with images, prices and
 * buttons, quick replies to tap). Served by the Facebook emulator; scripts and styles are files, nothing inline.
 */
const escape = (value: string) => value.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

export function messengerPage (pages: Array<{ id: string, name: string }>, psid: string, selected?: string): string {
  const options = pages.map(page =>
    `<option value="${escape(page.id)}"${page.id === selected ? ' selected' : ''}>${escape(page.name)}</option>`).join('')
  return '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>Messenger (emulator)</title><link rel="stylesheet" href="/emulator/messenger.css">' +
    '<script src="/emulator/messenger.js" defer></script></head><body>' +
    '<header><label>Page <select id="page">' + options + '</select></label> ' +
    `<label>Customer id <input id="psid" value="${escape(psid)}" inputmode="numeric" size="18"></label>` +
    '<span id="owner" class="owner" role="status"></span></header>' +
    '<main id="thread" aria-live="polite" aria-label="Conversation"></main>' +
    '<p id="typing" class="typing" hidden>typing…</p>' +
    '<div id="quick-replies" class="quick-replies" aria-label="Quick replies"></div>' +
    '<footer><button id="get-started" type="button">Get Started</button>' +
    '<form id="composer"><label for="text">Message</label><input id="text" name="text" autocomplete="off" required>' +
    '<button type="submit">Send</button></form>' +
    '<button id="hand-back" type="button" hidden>Page Inbox: hand back to the bot</button></footer>' +
    '</body></html>'
}

export const MESSENGER_CSS = `
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #fff; color: #050505; display: flex; flex-direction: column; height: 100vh; }
header, footer { padding: 8px 12px; background: #f0f2f5; display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
main { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; }
.bubble { max-width: 75%; padding: 8px 12px; border-radius: 18px; white-space: pre-wrap; overflow-wrap: anywhere; }
.customer { align-self: flex-end; background: #0084ff; color: #fff; }
.page { align-self: flex-start; background: #e4e6eb; }
.cards { align-self: stretch; display: flex; gap: 8px; overflow-x: auto; padding-bottom: 4px; }
.card { flex: 0 0 220px; border: 1px solid #ced0d4; border-radius: 14px; overflow: hidden; background: #fff; }
.card img { width: 100%; height: 115px; object-fit: cover; display: block; background: #e4e6eb; }
.card h3 { font-size: 15px; margin: 8px 10px 2px; }
.card p { margin: 0 10px 8px; color: #65676b; font-size: 13px; }
.card .action { display: block; width: 100%; border: 0; border-top: 1px solid #ced0d4; padding: 8px; background: #fff;
  color: #0064d1; font: inherit; text-align: center; text-decoration: none; cursor: pointer; }
.quick-replies { display: flex; gap: 6px; flex-wrap: wrap; padding: 0 12px 8px; }
.quick-replies button { border: 1px solid #0084ff; color: #0064d1; background: #fff; border-radius: 16px; padding: 4px 12px; font: inherit; cursor: pointer; }
.typing, .owner { color: #65676b; font-size: 13px; margin: 0 12px; }
form { display: flex; gap: 6px; flex: 1; min-width: 240px; }
form label { position: absolute; left: -9999px; }
form input { flex: 1; border-radius: 18px; border: 1px solid #ced0d4; padding: 6px 12px; font: inherit; }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #1b74e4; outline-offset: 2px; }
`

/** The browser side: polls the emulator for the conversation and renders it; sends what the customer does. */
export const MESSENGER_JS = `
'use strict'
const $ = id => document.getElementById(id)
let shown = ''

function el (tag, props, children) {
  const node = document.createElement(tag)
  Object.assign(node, props || {})
  for (const child of children || []) node.append(child)
  return node
}

async function act (event) {
  const body = JSON.stringify({ page: $('page').value, psid: $('psid').value, ...event })
  await fetch('/emulator/messenger/say', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  refresh()
}

function button (spec) {
  if (spec.type === 'web_url') return el('a', { className: 'action', href: spec.url, target: '_blank', rel: 'noopener', textContent: spec.title })
  const tap = el('button', { className: 'action', type: 'button', textContent: spec.title })
  tap.addEventListener('click', () => act({ postback: { title: spec.title, payload: spec.payload } }))
  return tap
}

function card (element) {
  const parts = []
  if (element.image_url) parts.push(el('img', { src: element.image_url, alt: element.title }))
  parts.push(el('h3', { textContent: element.title }))
  if (element.subtitle) parts.push(el('p', { textContent: element.subtitle }))
  for (const spec of element.buttons || []) parts.push(button(spec))
  return el('article', { className: 'card' }, parts)
}

function render (items) {
  const thread = $('thread')
  thread.replaceChildren()
  let quickReplies = []
  let typing = false
  for (const item of items) {
    if (item.from === 'customer') {
      thread.append(el('p', { className: 'bubble customer', textContent: item.text }))
      quickReplies = []
      typing = false
      continue
    }
    if (item.senderAction) { typing = item.senderAction === 'typing_on'; continue }
    typing = false
    const message = item.message
    if (typeof message.text === 'string') thread.append(el('p', { className: 'bubble page', textContent: message.text }))
    const payload = message.attachment && message.attachment.payload
    if (payload && payload.template_type === 'generic') {
      thread.append(el('section', { className: 'cards', ariaLabel: 'Products' }, payload.elements.map(card)))
    }
    quickReplies = message.quick_replies || []
  }
  $('typing').hidden = !typing
  $('quick-replies').replaceChildren(...quickReplies.map(reply => {
    const tap = el('button', { type: 'button', textContent: reply.title })
    tap.addEventListener('click', () => act({ text: reply.title, quickReply: reply.payload }))
    return tap
  }))
  thread.scrollTop = thread.scrollHeight
}

async function refresh () {
  const query = new URLSearchParams({ page: $('page').value, psid: $('psid').value })
  const answer = await fetch('/emulator/messenger/conversation?' + query).then(res => res.json())
  const key = JSON.stringify(answer)
  if (key === shown) return
  shown = key
  render(answer.items)
  $('owner').textContent = answer.withPageInbox ? 'A person has this conversation (Page Inbox)' : ''
  $('hand-back').hidden = !answer.withPageInbox
  $('get-started').hidden = answer.items.length > 0
}

$('composer').addEventListener('submit', event => {
  event.preventDefault()
  const text = $('text').value.trim()
  if (text === '') return
  $('text').value = ''
  act({ text })
})
$('get-started').addEventListener('click', () => act({ postback: { title: 'Get Started', payload: 'GET_STARTED' } }))
$('hand-back').addEventListener('click', async () => {
  await fetch('/emulator/messenger/hand-back', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ page: $('page').value, psid: $('psid').value }) })
  refresh()
})
$('page').addEventListener('change', () => { shown = ''; refresh() })
$('psid').addEventListener('change', () => { shown = ''; refresh() })
refresh()
setInterval(refresh, 400)
`

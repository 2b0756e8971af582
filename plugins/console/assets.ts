import { createHash } from 'node:crypto'

/**
 * The console's stylesheet and script, served as files (the CSP allows scripts and styles from this origin only,
 * nothing inline). Kept as strings so the image needs no extra build step to carry them.
 */
const STYLE = `
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1c1e21;background:#f0f2f5}
header{background:#fff;border-bottom:1px solid #dadde1;padding:.5rem 1rem}
header nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;max-width:60rem;margin:0 auto}
header a{color:#1c1e21;text-decoration:none;padding:.5rem .25rem;border-bottom:3px solid transparent}
header a[aria-current=page]{border-color:#1877f2;font-weight:600}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
section,.card{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.1)}
a{color:#0a58ca}a:focus,button:focus,input:focus,textarea:focus,select:focus{outline:3px solid #1877f2;outline-offset:2px}
button,.button{display:inline-block;background:#1877f2;color:#fff;padding:.55rem 1.1rem;border-radius:6px;border:0;font:inherit;
cursor:pointer;text-decoration:none;margin:.25rem .25rem .25rem 0}
button.secondary{background:#e4e6eb;color:#1c1e21}button.danger{background:#c62828}
label{display:block;margin:.5rem 0 .2rem;font-weight:600}
input,textarea,select{font:inherit;padding:.5rem;width:100%;max-width:36rem;border:1px solid #8a8d91;border-radius:6px}
input[type=checkbox]{width:auto;margin-right:.4rem}.check{font-weight:400;display:flex;align-items:center}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #dadde1}
td.n,th.n{text-align:right}
.muted{color:#4b4f56}.notice{background:#e7f3ff;padding:.6rem 1rem;border-radius:6px}
.problem{background:#fdecea;padding:.6rem 1rem;border-radius:6px}
.badge{display:inline-block;font-size:.8rem;padding:0 .5rem;border-radius:1rem;margin:0 .25rem .25rem 0;background:#e4e6eb}
.badge.open{background:#d8f3dc;color:#14532d}.badge.human{background:#fff3cd;color:#5c4400}
.badge.out{background:#fdecea;color:#7f1d1d}
ul.list{list-style:none;padding:0;margin:0}ul.list li{padding:.6rem 0;border-bottom:1px solid #dadde1}
ol.messages{list-style:none;padding:0;margin:0;display:flex;flex-direction:column;gap:.4rem}
ol.messages li{max-width:85%;padding:.5rem .8rem;border-radius:1rem;background:#e4e6eb;white-space:pre-wrap;overflow-wrap:anywhere}
ol.messages li.out{align-self:flex-end;background:#1877f2;color:#fff}
ol.messages li.cards{background:none;padding:0;display:flex;flex-wrap:wrap;align-items:flex-start;gap:.4rem;white-space:normal}
ol.messages li.cards time{flex-basis:100%}form.inline{display:inline-block}
.product{background:#fff;border:1px solid #dadde1;border-radius:8px;padding:.5rem;width:9.5rem;color:#1c1e21}
.product strong{display:block}
ol.messages time{font-size:.75rem;opacity:.8;display:block}
progress{width:100%;height:1.2rem}
svg{width:100%;max-width:36rem;height:auto;font-size:15px}svg text{fill:#1c1e21}svg line{stroke:#8a8d91}
svg .series-0 rect{fill:#1877f2}svg .series-1 rect{fill:#2e7d32}svg .series-2 rect{fill:#b45309}svg .series-3 rect{fill:#7b1fa2}
@media (max-width:40rem){main{padding:.5rem}ol.messages li{max-width:95%}}
`.trim()

const SCRIPT = `
'use strict'
;(function () {
  function el (tag, className, text) {
    var node = document.createElement(tag)
    if (className) node.className = className
    if (text !== undefined) node.textContent = text
    return node
  }
  // A carousel is stored as its cards, one per line after a first line: the same small cards the page draws.
  function messageItem (message) {
    var lines = message.text.split('\\n')
    var item
    if (message.direction === 'out' && lines[0] === '${'[carousel]'}') {
      item = el('li', 'cards')
      lines.slice(1).forEach(function (line) {
        var parts = line.split(' \\u2014 ')
        var card = el('div', 'product')
        card.appendChild(el('strong', '', parts[0]))
        if (parts[1]) card.appendChild(el('span', '', parts[1]))
        item.appendChild(card)
      })
    } else {
      item = el('li', message.direction, message.text)
    }
    var time = el('time', '', new Date(message.at).toLocaleString())
    time.setAttribute('datetime', message.at)
    item.appendChild(time)
    return item
  }

  var messages = document.querySelector('ol.messages[data-events]')
  if (messages && window.EventSource) {
    var stream = new EventSource(messages.getAttribute('data-events'))
    stream.addEventListener('messages', function (event) {
      JSON.parse(event.data).forEach(function (message) { messages.appendChild(messageItem(message)) })
      messages.lastChild.scrollIntoView({ block: 'nearest' })
    })
  }

  var progress = document.querySelector('[role=progressbar][data-events]')
  if (progress && window.EventSource) {
    var campaign = new EventSource(progress.getAttribute('data-events'))
    campaign.addEventListener('progress', function (event) {
      var p = JSON.parse(event.data)
      var done = p.sent + p.failed + p.skipped.windowClosed + p.skipped.optedOut + p.skipped.unreachable + p.skipped.withHuman
      progress.setAttribute('aria-valuemax', String(p.total))
      progress.setAttribute('aria-valuenow', String(done))
      progress.max = Math.max(1, p.total)
      progress.value = done
      var values = { status: p.status, total: p.total, sent: p.sent, failed: p.failed, queued: p.queued,
        windowClosed: p.skipped.windowClosed, optedOut: p.skipped.optedOut, unreachable: p.skipped.unreachable,
        withHuman: p.skipped.withHuman, clicks: p.clicks, orders: p.orders,
        revenue: p.revenue.currency ? p.revenue.amount + ' ' + p.revenue.currency : '0' }
      Object.keys(values).forEach(function (key) {
        document.querySelectorAll('[data-field=' + key + ']').forEach(function (node) { node.textContent = String(values[key]) })
      })
      // Ended: the page again, with what can still be done (nothing) and the final figures.
      if (p.status === 'finished' || p.status === 'cancelled') { campaign.close(); window.location.reload() }
    })
  }
})()
`.trim()

const asset = (body: string, type: string) =>
  ({ body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` })

export const ASSETS: Record<string, { body: string, type: string, etag: string }> = {
  'console.css': asset(STYLE, 'text/css; charset=utf-8'),
  'console.js': asset(SCRIPT, 'text/javascript; charset=utf-8')
}

import { createHash } from 'node:crypto'

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1c1e21}' +
  '.button{display:inline-block;background:#1877f2;color:#fff;padding:.6rem 1.2rem;border-radius:6px;text-decoration:none;' +
  'border:0;font:inherit;cursor:pointer}input{font:inherit;padding:.5rem;margin:.3rem 0}' +
  'li{margin:.3rem 0}.muted{color:#65676b}.notice{background:#e7f3ff;padding:.6rem 1rem;border-radius:6px}'

/** The pages' only stylesheet, allowed by hash so the CSP needs no 'unsafe-inline'. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, char => ENTITIES[char]!)
}

/** `body` must already be escaped HTML; the title is escaped here. */
export function renderPage (title: string, body: string): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`
}

export function wantsHtml (accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('text/html')
}

/** The first line of a carousel as it is kept in the conversation; each card follows on a line of its own. */
export const CAROUSEL_LINE = '[carousel]'
const CARD_SEPARATOR = ' \u2014 '

interface Element { title?: unknown, subtitle?: unknown }

/** What a sent message adds to the conversation: its text, or a carousel's cards (title and subtitle), or its kind. */
export function describeSent (message: Record<string, unknown>): string {
  if (typeof message.text === 'string') return message.text
  const payload = (message.attachment as { payload?: { template_type?: unknown, elements?: unknown } } | undefined)?.payload
  if (payload?.template_type === 'generic' && Array.isArray(payload.elements)) {
    const cards = (payload.elements as Element[]).map(({ title, subtitle }) => {
      const name = String(title ?? '')
      const card = typeof subtitle === 'string' && subtitle !== '' ? `${name}${CARD_SEPARATOR}${subtitle}` : name
      return card.replaceAll('\n', ' ')
    })
    return [CAROUSEL_LINE, ...cards].join('\n')
  }
  return typeof payload?.template_type === 'string' ? `[${payload.template_type} template]` : '[message]'
}

/** The cards of a kept carousel, or undefined when the text is not one. */
export function carouselCards (text: string): Array<{ title: string, subtitle: string }> | undefined {
  const [first, ...cards] = text.split('\n')
  if (first !== CAROUSEL_LINE) return undefined
  return cards.map(card => {
    const at = card.indexOf(CARD_SEPARATOR)
    return at === -1 ? { title: card, subtitle: '' } : { title: card.slice(0, at), subtitle: card.slice(at + CARD_SEPARATOR.length) }
  })
}

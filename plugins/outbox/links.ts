import { ORDER_REF_ATTRIBUTE } from '../tokens/click-token.js'

/**
 * The message with each web_url of its template (buttons and the card's default action) given to `wrap`: every
 * link the service sends is counted on the way to the shop (plugins/clicks/).
 */
export function withTrackedLinks (message: Record<string, unknown>, wrap: (url: string) => string): Record<string, unknown> {
  const attachment = message.attachment as { payload?: { elements?: unknown } } | undefined
  const elements = attachment?.payload?.elements
  if (!Array.isArray(elements)) return message
  const link = (target: unknown) => {
    const action = target as { type?: unknown, url?: unknown }
    return action?.type === 'web_url' && typeof action.url === 'string' ? { ...action, url: wrap(action.url) } : target
  }
  const tracked = elements.map((element: Record<string, unknown>) => ({
    ...element,
    ...(element.default_action === undefined ? {} : { default_action: link(element.default_action) }),
    ...(Array.isArray(element.buttons) ? { buttons: element.buttons.map(link) } : {})
  }))
  return { ...message, attachment: { ...attachment, payload: { ...attachment!.payload, elements: tracked } } }
}

/**
 * A cart permalink (`/cart/...`, or a discount link redirecting to one) carrying `ref` as a cart attribute; any other
 * link as it was.
 */
export function withOrderRef (url: string, ref: string): string {
  if (!URL.canParse(url)) return url
  const link = new URL(url)
  const attribute = `attributes[${ORDER_REF_ATTRIBUTE}]`
  if (link.pathname.startsWith('/cart/')) {
    link.searchParams.set(attribute, ref)
    return link.toString()
  }
  const redirect = link.searchParams.get('redirect')
  if (link.pathname.startsWith('/discount/') && redirect?.startsWith('/cart/') === true) {
    link.searchParams.set('redirect', `${redirect}${redirect.includes('?') ? '&' : '?'}${new URLSearchParams({ [attribute]: ref })}`)
    return link.toString()
  }
  return url
}

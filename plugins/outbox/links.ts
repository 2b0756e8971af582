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

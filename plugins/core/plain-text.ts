// C0 and C1 controls, and the bidirectional controls that can make a name read other than it is (U+202E, ...).
// Matching control characters is what these are for.
/* eslint-disable no-control-regex */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
const CONTROLS_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
/* eslint-enable no-control-regex */

/**
 * Text from an upstream (Graph, Shopify) as the service stores and shows it: no control or bidi characters, no lone
 * surrogates. A NUL or half a surrogate pair makes PostgreSQL refuse the whole statement; the rest deceive a reader.
 */
export function plainText (value: string, { keepLines = false } = {}): string {
  return value.toWellFormed().replace(keepLines ? CONTROLS_BUT_LINES : CONTROLS, '')
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' })

/** At most `max` characters as a person counts them: never half an emoji or a letter without its accent. */
export function truncate (text: string, max: number): string {
  const parts = [...graphemes.segment(text)].map(part => part.segment)
  if (parts.length <= max) return text
  return parts.slice(0, max - 1).join('').trimEnd() + '…'
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * Only a time as `toISOString` writes it, as cursors give it out: the database would parse anything else its own
 * way, so a cursor could not be trusted to mean what it was given out for.
 */
export const isIsoTime = (value: unknown): value is string =>
  typeof value === 'string' && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value

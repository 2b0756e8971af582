/**
 * A customer's words as a catalog question: the meaningful words to look for, and the price bounds they state
 * ("under $50", "between 20 and 50", "at least 20"), which are taken out of the words.
 */
export interface Question {
  words: string[]
  min?: number
  max?: number
}

const AMOUNT = String.raw`[$€£]?\s*(\d+(?:[.,]\d{1,2})?)\s*(?:\$|€|£|dollars?|euros?|pounds?|usd|eur|gbp)?`
const CEILING = new RegExp(String.raw`(?:under|below|less than|cheaper than|max(?:imum)?|up to|at most|<=?)\s*${AMOUNT}`, 'iu')
const FLOOR = new RegExp(String.raw`(?:over|above|more than|at least|min(?:imum)?|from|>=?)\s*${AMOUNT}`, 'iu')
const BETWEEN = new RegExp(String.raw`between\s*${AMOUNT}\s*(?:and|-|to)\s*${AMOUNT}`, 'iu')

// Words that carry no product meaning in a shopping question.
const STOP_WORDS = new Set(('a an and any anything are can could do does for from get give got have i im i\'m in is it me my need ' +
  'of on or please show some something tell that the there this to want we what which with would you your looking find ' +
  'hi hello hey thanks thank price prices cost costs cheap buy sell selling sale store shop').split(' '))

const amount = (text: string) => Number(text.replace(',', '.'))

export function understand (text: string): Question {
  let rest = text
  const question: Question = { words: [] }
  const between = BETWEEN.exec(rest)
  if (between !== null) {
    const [low, high] = [amount(between[1]!), amount(between[2]!)].sort((a, b) => a - b) as [number, number]
    question.min = low
    question.max = high
    rest = rest.replace(between[0], ' ')
  }
  const ceiling = CEILING.exec(rest)
  if (ceiling !== null) {
    question.max = amount(ceiling[1]!)
    rest = rest.replace(ceiling[0], ' ')
  }
  const floor = FLOOR.exec(rest)
  if (floor !== null) {
    question.min = amount(floor[1]!)
    rest = rest.replace(floor[0], ' ')
  }
  const words = rest.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? []
  question.words = [...new Set(words.filter(word => !STOP_WORDS.has(word) && !/^\d+$/.test(word) && word.length > 1))].slice(0, 12)
  return question
}

import t from 'tap'
import { plainText } from '../../../plugins/core/plain-text.js'

t.test('controls, bidi controls and lone surrogates go; letters, emoji and (when asked) line breaks stay', async t => {
  t.equal(plainText('a\u0000b\u0007c\u001bd\u007fe\u0085f'), 'abcdef', 'C0 and C1 controls')
  t.equal(plainText('invoice\u202Efdp.exe \u2066x\u2069 \u200Fy\u200E \u061Cz'), 'invoicefdp.exe x y z', 'bidi controls')
  t.equal(plainText('half \ud83d pair'), 'half \ufffd pair', 'a lone surrogate becomes U+FFFD')
  t.equal(plainText('Café 🍞 naïve'), 'Café 🍞 naïve')
  t.equal(plainText('line one\nline two\ttab\r'), 'line oneline twotab')
  t.equal(plainText('line one\nline two\ttab\r', { keepLines: true }), 'line one\nline two\ttab')
})

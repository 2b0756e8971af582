import { ESLint } from 'eslint'
import t from 'tap'

/**
 * The direction of imports (docs/architecture.md) is an ESLint rule per folder of plugins/; these cases check the
 * rule itself, so a config edit that drops it fails here and not only in review.
 */
const eslint = new ESLint()

async function refusal (file: string, specifier: string): Promise<string | undefined> {
  const [result] = await eslint.lintText(`import { x } from '${specifier}'\n\nexport const y = x\n`, { filePath: file })
  return result!.messages.find(message => message.ruleId === 'no-restricted-imports')?.message
}

const refused: Array<[string, string]> = [
  ['plugins/store/pages.ts', '../facebook/graph.js'],
  ['plugins/store/conversations.ts', '../messenger/events.js'],
  ['plugins/store/db.ts', '../inbox/worker.js'],
  ['plugins/core/config.ts', '../store/cipher.js'],
  ['plugins/tokens/state-token.ts', '../shopify/shop-name.js'],
  ['plugins/facebook/login.ts', '../shopify/client.js'],
  ['plugins/messenger/webhook.ts', '../facebook/graph.js'],
  ['plugins/shopify/webhooks.ts', '../messenger/events.js'],
  ['plugins/connect/index.ts', '../admin/index.js'],
  ['plugins/admin/index.ts', '../connect/index.js'],
  ['plugins/shopify/index.ts', '../../tools/emulator/shopify.js'],
  ['plugins/outbox/sender.ts', '../shopify/client.js'],
  ['plugins/facebook/send-api.ts', '../outbox/policy.js'],
  ['plugins/store/outbox.ts', '../outbox/policy.js'],
  ['src/app.ts', '../tools/emulator/facebook.js'],
  ['plugins/llm/turn.ts', '../facebook/send-api.js'],
  ['plugins/llm/turn.ts', '../bot/answer.js']
]

for (const [file, specifier] of refused) {
  t.test(`${file} may not import ${specifier}`, async t => {
    t.match(await refusal(file, specifier), /may import only|import neither|ships without/)
  })
}

const allowed: Array<[string, string]> = [
  ['plugins/store/pages.ts', '../core/errors.js'],
  ['plugins/inbox/worker.ts', '../store/inbox.js'],
  ['plugins/shopify/catalog-sync.ts', '../store/index.js'],
  ['plugins/facebook/login.ts', '../tokens/state-token.js'],
  ['plugins/admin/index.ts', '../facebook/page-subscriptions.js'],
  ['plugins/outbox/index.ts', '../facebook/send-api.js'],
  ['plugins/admin/outbox.ts', '../outbox/policy.js'],
  ['src/app.ts', '../plugins/shopify/index.js'],
  ['plugins/bot/index.ts', '../llm/turn.js']
]

for (const [file, specifier] of allowed) {
  t.test(`${file} may import ${specifier}`, async t => {
    t.equal(await refusal(file, specifier), undefined)
  })
}

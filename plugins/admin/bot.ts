import { type FastifyPluginAsyncTypebox, type Static, Type } from '@fastify/type-provider-typebox'
import { updateMessengerProfiles } from '../facebook/messenger-profile.js'
import { handOverConversation } from '../facebook/thread-control.js'
import { DEFAULT_SETTINGS } from '../store/bot.js'
import { NoConversationError } from './errors.js'
import { ConversationParams, WorkspaceParams } from './params.js'

const Editable = {
  enabled: Type.Boolean(),
  greeting: Type.Union([Type.String({ minLength: 1, maxLength: 640 }), Type.Null()]),
  maxProducts: Type.Integer({ minimum: 1, maximum: 10 }),
  llm: Type.Boolean(),
  instructions: Type.String({ maxLength: 2000 }),
  // One schema with both types (not a union): coercion would otherwise turn a refused 0 into null.
  dailyTokenBudget: Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1 })
}
const Usage = Type.Object({ date: Type.String(), promptTokens: Type.Integer(), completionTokens: Type.Integer() })
// What GET answered may come back as it was: its usage is read-only and ignored.
const SettingsChange = Type.Partial(Type.Object({ ...Editable, usage: Type.Unknown() }), { additionalProperties: false })
const SettingsView = Type.Object({
  enabled: Editable.enabled,
  greeting: Editable.greeting,
  maxProducts: Editable.maxProducts,
  llm: Type.Optional(Editable.llm),
  instructions: Type.Optional(Editable.instructions),
  dailyTokenBudget: Type.Optional(Editable.dailyTokenBudget),
  usage: Type.Optional(Usage)
})

/** The bot's settings per workspace, and handing a conversation to a person or back to the bot. */
const adminBot: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, graph, config } = fastify

  /** The settings as the API shows them: the LLM's own only when the service has an LLM. */
  async function view (workspace: string): Promise<Static<typeof SettingsView>> {
    const settings = await store.bot.settings(workspace) ?? DEFAULT_SETTINGS
    const { enabled, greeting, maxProducts } = settings
    if (!config.features.llm) return { enabled, greeting, maxProducts }
    const { instructions, dailyTokenBudget } = settings
    const usage = await store.bot.llmUsage(workspace, new Date())
    return { enabled, greeting, maxProducts, llm: settings.llm ?? true, instructions, dailyTokenBudget, usage }
  }

  fastify.get('/workspaces/:workspace/bot', { schema: { params: WorkspaceParams, response: { 200: SettingsView } } }, async (request) => {
    return await view(request.params.workspace)
  })

  const putSchema = { params: WorkspaceParams, body: SettingsChange, response: { 200: SettingsView } }
  fastify.put('/workspaces/:workspace/bot', { schema: putSchema }, async (request) => {
    const { workspace } = request.params
    const { usage, ...change } = request.body
    const current = await store.bot.settings(workspace) ?? DEFAULT_SETTINGS
    // A field left out keeps its value.
    await store.bot.saveSettings(workspace, { ...current, ...change })
    // The welcome screen follows the greeting; not awaited, a slow Graph is no reason to hold the answer.
    updateMessengerProfiles(graph, store, request.log, workspace).catch(err => request.log.warn({ err }, 'Messenger Profiles not set'))
    return await view(workspace)
  })

  fastify.post('/workspaces/:workspace/pages/:pageId/conversations/:psid/handover', {
    schema: {
      params: ConversationParams,
      body: Type.Object({ to: Type.Union([Type.Literal('bot'), Type.Literal('human')]) }),
      response: { 200: Type.Object({ withHuman: Type.Boolean() }) }
    }
  }, async (request) => {
    const { workspace, pageId, psid } = request.params
    const toHuman = request.body.to === 'human'
    const note = 'Taken over from the admin API.'
    if (!await handOverConversation(graph, store, request.log, { workspace, pageId, psid, toHuman, note })) throw new NoConversationError()
    return { withHuman: toHuman }
  })
}

export default adminBot

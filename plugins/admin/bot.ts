import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { updateMessengerProfiles } from '../facebook/messenger-profile.js'
import { takeThreadControl, passThreadControl } from '../facebook/thread-control.js'
import { NoConversationError } from './errors.js'
import { ConversationParams, WorkspaceParams } from './params.js'

const Settings = Type.Object({
  enabled: Type.Boolean(),
  greeting: Type.Union([Type.String({ minLength: 1, maxLength: 640 }), Type.Null()]),
  maxProducts: Type.Integer({ minimum: 1, maximum: 10 })
}, { additionalProperties: false })

/** The bot's settings per workspace, and handing a conversation to a person or back to the bot. */
const adminBot: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, graph } = fastify

  fastify.get('/workspaces/:workspace/bot', { schema: { params: WorkspaceParams, response: { 200: Settings } } }, async (request) => {
    return await store.bot.settings(request.params.workspace) ?? { enabled: true, greeting: null, maxProducts: 5 }
  })

  const putSchema = { params: WorkspaceParams, body: Settings, response: { 200: Settings } }
  fastify.put('/workspaces/:workspace/bot', { schema: putSchema }, async (request) => {
    const { workspace } = request.params
    await store.bot.saveSettings(workspace, request.body)
    // The welcome screen follows the greeting; not awaited, a slow Graph is no reason to hold the answer.
    updateMessengerProfiles(graph, store, request.log, workspace).catch(err => request.log.warn({ err }, 'Messenger Profiles not set'))
    return request.body
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
    const found = await store.pages.inWorkspace(workspace, pageId) && await store.bot.setWithHuman(pageId, psid, toHuman)
    if (!found) throw new NoConversationError()
    const token = await store.pages.tokenOf(pageId)
    // Conversation Routing: the thread follows; a failure is logged, the conversation's state is what the bot obeys.
    if (token !== undefined) {
      const move = toHuman
        ? passThreadControl(graph, token, pageId, psid, 'Taken over from the admin API.')
        : takeThreadControl(graph, token, pageId, psid)
      await move.catch(err => request.log.warn({ err, pageId }, 'thread control not moved'))
    }
    request.log.info({ pageId, to: request.body.to }, 'conversation handed over')
    return { withHuman: toHuman }
  })
}

export default adminBot

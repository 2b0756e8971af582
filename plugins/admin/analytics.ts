import createError from '@fastify/error'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { totalOf } from '../store/analytics.js'
import { WorkspaceParams } from './params.js'

const DAY = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
const MAX_DAYS = 366
const DEFAULT_DAYS = 30
const Revenue = Type.Array(Type.Object({ amount: Type.String(), currency: Type.String() }))
const figures = {
  conversations: Type.Integer(),
  customerMessages: Type.Integer(),
  botReplies: Type.Integer(),
  handovers: Type.Integer(),
  clicks: Type.Integer(),
  orders: Type.Integer(),
  revenue: Revenue
}
const Analytics = Type.Object({
  days: Type.Array(Type.Object({ date: Type.String(), ...figures })),
  totals: Type.Object(figures)
})
const BadRangeError = createError('MSB_BAD_RANGE', 'from and to are UTC days (YYYY-MM-DD), from not after to, at most %s days apart.', 400)

const dayOf = (at: Date) => at.toISOString().slice(0, 10)
const isDay = (text: string) => new RegExp(DAY).test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) &&
  dayOf(new Date(`${text}T00:00:00Z`)) === text

/** What the bot and the campaigns did, per UTC day, and in total. */
const adminAnalytics: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/workspaces/:workspace/analytics', {
    schema: {
      params: WorkspaceParams,
      querystring: Type.Object({ from: Type.Optional(Type.String({ maxLength: 10 })), to: Type.Optional(Type.String({ maxLength: 10 })) }),
      response: { 200: Analytics }
    }
  }, async (request) => {
    const to = request.query.to ?? dayOf(new Date())
    if (!isDay(to)) throw new BadRangeError(MAX_DAYS)
    const from = request.query.from ?? dayOf(new Date(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_DAYS - 1) * 86_400_000))
    if (!isDay(from) || !isDay(to)) throw new BadRangeError(MAX_DAYS)
    const span = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1
    if (span < 1 || span > MAX_DAYS) throw new BadRangeError(MAX_DAYS)
    const days = await fastify.store.analytics.days(request.params.workspace, from, to)
    return { days, totals: totalOf(days) }
  })
}

export default adminAnalytics

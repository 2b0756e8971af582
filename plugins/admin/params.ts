import { Type } from '@fastify/type-provider-typebox'
import { WORKSPACE_PATTERN } from '../tokens/state-token.js'

/** The admin API's path parameters, checked the same way on every route. */
const workspace = Type.String({ pattern: WORKSPACE_PATTERN })
export const GraphId = Type.String({ pattern: '^[0-9]{1,32}$' })
const graphId = GraphId

export const WorkspaceParams = Type.Object({ workspace })
export const PageParams = Type.Object({ workspace, pageId: graphId })
export const ConversationParams = Type.Object({ workspace, pageId: graphId, psid: graphId })

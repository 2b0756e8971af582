import type { EventPoll } from '../core/event-stream.js'
import type { CampaignStatus } from '../store/campaigns.js'
import type { Campaigns } from './index.js'

const ENDED: CampaignStatus[] = ['finished', 'cancelled']

/** A campaign's progress now, and a poll that gives it again whenever it changes, ending with the campaign. */
export async function progressEvents (campaigns: Campaigns, workspace: string, id: string): Promise<{ first: unknown, poll: EventPoll }> {
  const read = async () => campaigns.progress(await campaigns.found(workspace, id))
  const first = await read()
  let last = JSON.stringify(first)
  let over = ENDED.includes(first.status)
  return {
    first,
    poll: async () => {
      if (over) return { end: true }
      const progress = await read()
      over = ENDED.includes(progress.status)
      const next = JSON.stringify(progress)
      if (next === last) return { end: over }
      last = next
      return { data: progress, end: over }
    }
  }
}

/**
 * Story args that configure the mock backend (so they show up as controls), and the argTypes that
 * describe them.
 */
import type { MockBackendOptions } from '../mocks/backend'

export interface BackendArgs {
  /** Lifetime of the tokens the mock token endpoint mints, seconds. */
  tokenLifetime?: number
  /** Milliseconds between the mock stream's clock ticks. */
  eventInterval?: number
  /** Events per tick. */
  burstSize?: number
}

export function backendOptionsFromArgs(args: Record<string, unknown>): Partial<MockBackendOptions> {
  const options: Partial<MockBackendOptions> = {}
  if (typeof args.tokenLifetime === 'number' && args.tokenLifetime > 0) options.tokenLifetime = args.tokenLifetime
  if (typeof args.eventInterval === 'number' && args.eventInterval > 0) options.eventInterval = args.eventInterval
  if (typeof args.burstSize === 'number' && args.burstSize > 0) options.burstSize = Math.floor(args.burstSize)
  return options
}

export const backendArgTypes = {
  tokenLifetime: { control: { type: 'range', min: 4, max: 120, step: 1 }, description: 'Token lifetime (s) minted by the mock token endpoint' },
  eventInterval: { control: { type: 'range', min: 20, max: 2000, step: 10 }, description: 'Milliseconds between events on the mock stream' },
  burstSize: { control: { type: 'range', min: 1, max: 200, step: 1 }, description: 'Events per tick' },
} as const

export const transportArgType = {
  control: { type: 'inline-radio' },
  options: ['auto', 'eventsource', 'fetch'],
  description: "`'eventsource'`: native EventSource, token in `?token=`; `'fetch'`: `Authorization: Bearer`",
} as const

export const rotationArgType = {
  control: { type: 'inline-radio' },
  options: ['overlap', 'reconnect', 'none'],
  description: 'What the stream does when the token is refreshed',
} as const

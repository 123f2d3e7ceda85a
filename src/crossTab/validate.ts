import type { Message } from './protocol'

// Any script of the origin can post on the group's channel: nothing read from it is taken on trust.

type Fields = Record<string, unknown>
const STATUSES = new Set(['idle', 'connecting', 'open', 'reconnecting', 'paused', 'closed', 'failed'])
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const isString = (v: unknown): v is string => typeof v === 'string'
const maybeString = (v: unknown) => v === undefined || isString(v)
const maybeNumber = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v))
const isPoint = (v: unknown) => isObject(v) && maybeString(v.id) && isCount(v.since)
const isEvent = (v: unknown) => isObject(v) && isString(v.type) && isString(v.data) && maybeString(v.id) && (v.own === undefined || typeof v.own === 'boolean')
const isStep = (v: unknown) => isObject(v) && (v.t === 'event' ? isEvent(v) : v.t === 'id' && isString(v.id))
const isError = (v: unknown) => isObject(v) && isString(v.id) && isString(v.kind) && isString(v.message) && maybeNumber(v.status) && maybeNumber(v.retryAfter)
const isState = (v: unknown) =>
  isObject(v) &&
  STATUSES.has(v.status as string) &&
  (v.error === undefined || isError(v.error)) &&
  isCount(v.attempt) &&
  maybeNumber(v.retryAt) &&
  isString(v.transport) &&
  isCount(v.openCount) &&
  maybeString(v.lastEventId)

/**
 * True when `value` is a well-formed message of group `g`: every field of its kind has its type,
 * terms and sequence numbers are safe integers (terms from 1), a replay holds at most what a
 * leader keeps (`maxSteps`).
 */
export function isMessage(value: unknown, g: string, maxSteps: number): value is Message {
  if (!isObject(value) || value.g !== g || !isString(value.from)) return false
  switch (value.t) {
    case 'hello':
    case 'vis':
      return typeof value.hidden === 'boolean'
    case 'bye':
    case 'reconnect':
      return true
    case 'resend':
      return isPoint(value.at)
  }
  if (!isCount(value.e) || value.e < 1 || !isCount(value.seq)) return false
  switch (value.t) {
    case 'welcome':
      return maybeString(value.to) && isState(value.state) && (value.latest === undefined || isEvent(value.latest)) && isPoint(value.at)
    case 'state':
      return isState(value.state)
    case 'event':
      return isEvent(value)
    case 'id':
      return isString(value.id)
    case 'replay':
      return isString(value.to) && isPoint(value.at) && Array.isArray(value.steps) && value.steps.length <= maxSteps && value.steps.every(isStep) && typeof value.gap === 'boolean'
    case 'error':
      return isError(value.error)
    case 'beat':
      return true
  }
  return false
}
